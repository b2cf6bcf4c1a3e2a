#!/usr/bin/env bash
# A third party's view: install the SDK into a fresh prefix, build the
# example plugin out of tree with only pkg-config and the installed
# headers, and load it with the installed p2pchat.
source "$(dirname "$0")/lib.sh"
build=$1 src=$2
prefix="$TMP/prefix"
cmake --install "$build" --prefix "$prefix" >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log"; fail "cmake --install"; finish; }
pc=$(find "$prefix" -name libp2pcore.pc | head -n1)
[[ -n $pc ]] && ok "pkg-config file installed" || fail "no libp2pcore.pc under $prefix"
export PKG_CONFIG_PATH=$(dirname "$pc")
[[ -f $prefix/include/p2p/plugin.h ]] && ok "headers installed" || fail "no p2p/plugin.h"
[[ -f $prefix/share/man/man1/p2pchat.1 && -f $prefix/share/man/man5/p2pchat.ini.5 ]] && ok "man pages installed" \
  || fail "man pages not installed under $prefix/share/man"
[[ -f $prefix/share/p2pchat/examples/p2pchat-relay.service ]] && ok "systemd unit installed as an example" \
  || fail "no p2pchat-relay.service example"

cp -r "$src/examples/hello-plugin" "$TMP/hello"
if cmake -S "$TMP/hello" -B "$TMP/hello/build" -DCMAKE_C_FLAGS=-Werror >"$TMP/cfg.log" 2>&1 \
   && cmake --build "$TMP/hello/build" >"$TMP/bld.log" 2>&1; then
  ok "example plugin builds out of tree"
else
  fail "example plugin build"; cat "$TMP/cfg.log" "$TMP/bld.log"
fi
# The plugin must see nothing of the build tree: check its include path.
grep -q "$src/core" "$TMP/hello/build/CMakeCache.txt" && fail "example build used the source tree" || ok "example uses installed headers only"

# The installed protocol plugins are found next to the installed core.
printf '[host]\nephemeral_identity = true\nlisten = /ip4/127.0.0.1/tcp/0\nplugin_path = %s\n[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin hello]\ngreeting = Bonjour\nrepeat = 2\n' \
  "$TMP/hello/build" >"$TMP/hello.ini"
start_bg hello "$prefix/bin/p2pchat" -c "$TMP/hello.ini"
wait_for "$TMP/hello.err" "(2/2)" 10 || true
expect_in "$TMP/hello.out" "Plugins: transport-tcp noise yamux hello" "installed p2pchat loads its plugins and the example plugin"
expect_in "$TMP/hello.out" "/ip4/127.0.0.1/tcp/" "installed p2pchat listens through the installed transport"
expect_in "$TMP/hello.err" "hello: Bonjour, 12D3KooW" "the plugin's timer and config work"
kill -TERM "$last_pid"
wait_exit "$last_pid" 10; rc=$status
[[ $rc == 0 ]] && ok "clean shutdown with the plugin" || fail "exit status $rc"
finish
