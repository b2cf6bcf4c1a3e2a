#!/usr/bin/env bash
# A third party's view: install the SDK into a fresh prefix, build the
# example plugins (examples/*-plugin) out of tree with only pkg-config and
# the installed headers, and run them with the installed p2pchat over real
# sockets: hello (a service and a timer), upper (a stream protocol between
# two nodes) and announce (the pubsub service, in a chat room).
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

for ex in hello upper announce; do
  cp -r "$src/examples/$ex-plugin" "$TMP/$ex"
  if cmake -S "$TMP/$ex" -B "$TMP/$ex/build" -DCMAKE_C_FLAGS=-Werror >"$TMP/cfg.log" 2>&1 \
     && cmake --build "$TMP/$ex/build" >"$TMP/bld.log" 2>&1; then
    ok "example plugin $ex builds out of tree"
  else
    fail "example plugin $ex build"; cat "$TMP/cfg.log" "$TMP/bld.log"
  fi
  grep -q "$src/core" "$TMP/$ex/build/CMakeCache.txt" && fail "example $ex used the source tree" || ok "example $ex uses installed headers only"
done

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

# The example's own tests (docs/PLUGINS.md, "Testing"), built against the SDK.
if (cd "$TMP/upper/build" && ctest --output-on-failure >"$TMP/ctest.log" 2>&1); then
  ok "upper's own tests pass (two hosts over loopback, a malformed request)"
else fail "upper's tests"; cat "$TMP/ctest.log"; fi

# upper (a stream protocol): node U serves it; node Q asks U at start.
printf '[host]\nsecret_key_seed = 9\nlisten = /ip4/127.0.0.1/tcp/0\nplugin_path = %s\n[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin upper]\n' \
  "$TMP/upper/build" >"$TMP/u.ini"
start_bg u "$prefix/bin/p2pchat" -c "$TMP/u.ini"; pid_u=$last_pid
wait_for "$TMP/u.out" "/p2p/" 10 || fail "upper server did not start"
addr_u=$(grep -m1 -o '/ip4/127.0.0.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*' "$TMP/u.out")
printf '[host]\nephemeral_identity = true\nlisten =\nplugin_path = %s\n[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin upper]\nask = %s\ntext = shout, please\n' \
  "$TMP/upper/build" "$addr_u" >"$TMP/q.ini"
start_bg q "$prefix/bin/p2pchat" -c "$TMP/q.ini"; pid_q=$last_pid
wait_for "$TMP/q.err" "answered" 10 || true
expect_in "$TMP/q.err" "upper: ${addr_u##*/} answered \"SHOUT, PLEASE\"" "upper: a request over a real connection, answered"
kill -TERM "$pid_u" "$pid_q"
wait_exit "$pid_u" 10; su=$status; wait_exit "$pid_q" 10; sq=$status
[[ $su == 0 && $sq == 0 ]] && ok "upper nodes exit cleanly" || fail "upper nodes: exit $su $sq"

# announce (uses the pubsub service): a chat peer A with the plugin
# announces into its room and logs it; a plain chat peer B sees the
# announcement like any message, and A's plugin logs what B says.
room="sdk-$$"
mkfifo "$TMP/a.in" "$TMP/b.in"; exec {fa}<>"$TMP/a.in" {fb}<>"$TMP/b.in"
"$prefix/bin/p2pchat" --without mdns --set "host.plugin_path=$TMP/announce/build" --set "plugin.announce.topics=$room" \
  --set "plugin.announce.message=the bot is here" --set plugin.announce.interval=1s \
  peer --room "$room" --listen /ip4/127.0.0.1/tcp/0 <"$TMP/a.in" >"$TMP/pa.out" 2>"$TMP/pa.err" &
pids+=($!); pid_a=$!
wait_for "$TMP/pa.out" "/p2p/" 10 || fail "announce peer did not start"
addr_a=$(grep -m1 -o '/ip4/127.0.0.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*' "$TMP/pa.out")
"$prefix/bin/p2pchat" --without mdns peer --room "$room" --listen /ip4/127.0.0.1/tcp/0 --bootstrap "$addr_a" \
  <"$TMP/b.in" >"$TMP/pb.out" 2>"$TMP/pb.err" &
pids+=($!); pid_b=$!
wait_for "$TMP/pb.out" ": the bot is here" 15 && ok "announce: the plugin's message reaches a chat peer" \
  || { fail "no announcement seen"; cat "$TMP/pa.err"; }
printf 'hello bot\n' >&"$fb"
wait_for "$TMP/pa.err" ": hello bot" 10 && ok "announce: the plugin logs the room's messages" || fail "message not logged"
expect_in "$TMP/pa.err" "joined" "announce: the plugin logs joins"
expect_in "$TMP/pa.out" "Plugins: transport-tcp noise yamux identify ping gossipsub autonat kad relay dcutr announce" \
  "the plugin loads after the service it requires"
kill -TERM "$pid_a" "$pid_b"
wait_exit "$pid_a" 10; sa=$status; wait_exit "$pid_b" 10; sb=$status
[[ $sa == 0 && $sb == 0 ]] && ok "announce peers exit cleanly" || fail "announce peers: exit $sa $sb"
finish
