#!/usr/bin/env bash
# Every command-line example of README.md, run as written: the lines of
# the ```sh block after the "<!-- cli-examples" marker, with `p2pchat`
# being the built binary and the source tree as working directory. Each
# one that runs a node must start (print its PeerId and, for a relay,
# full listen addresses with /p2p/) and exit 0 on SIGTERM; the others
# must exit 0 with output. Peers given the seed-0 relay at
# 127.0.0.1:4001 (which the test runs meanwhile) must reserve a slot on
# it or connect to it. Any other `p2pchat` line in the README's code
# blocks must be a synopsis (with [ ] or an upper-case or <lower-case>
# placeholder), so
# no example escapes the test.
#
# The examples use fixed ports and mDNS, so the test runs in a network
# namespace of its own (needs root: exit 77 otherwise).
if [[ -z ${P2P_README_NETNS:-} ]]; then
  unshare --net true 2>/dev/null || { echo "needs root for a network namespace (unshare --net): skipped"; exit 77; }
  exec unshare --net env P2P_README_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/lib.sh"
bin=$1 src=$2
cd "$src"

awk '/^<!-- cli-examples/ { m = 1; next }
     m && /^```sh$/ { inb = 1; next }
     inb && /^```$/ { exit }
     inb { sub(/[ \t]+#.*$/, ""); if ($0 != "") print }' README.md >"$TMP/examples.txt"
n=$(wc -l <"$TMP/examples.txt")
((n >= 10)) && ok "$n examples in README.md" || { fail "examples not found in README.md ($n)"; finish; }
grep -qv '^p2pchat ' "$TMP/examples.txt" && fail "an example does not start with 'p2pchat '"

# No concrete p2pchat command elsewhere in the README's code blocks.
awk '/^```/ { inb = !inb; next } inb && /^p2pchat / { print }' README.md | sed 's/[ \t]*#.*$//' |
  grep -vxFf "$TMP/examples.txt" | grep -vE '\[|[A-Z]{3,}|<[a-z-]+>' >"$TMP/stray.txt" || true
[[ -s $TMP/stray.txt ]] && { fail "README examples outside the tested block:"; cat "$TMP/stray.txt"; } \
  || ok "every concrete p2pchat line of the README is in the tested block"

relay_id=12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN
bg_relay=
i=0
while read -r line; do
  i=$((i + 1))
  read -ra words <<<"$line"
  words[0]=$bin
  name="ex$i"
  if [[ " $line " =~ \ (--help|--help-config|--version|-h|-V)\  ]]; then
    if timeout 20 "${words[@]}" >"$TMP/$name.out" 2>"$TMP/$name.err" && [[ -s $TMP/$name.out ]]; then
      ok "$line"
    else fail "$line"; cat "$TMP/$name.err"; fi
    continue
  fi
  # The peers' relay (seed 0, port 4001) runs while the peer examples do,
  # once the relay examples (which want that port themselves) are done.
  if [[ $line == "p2pchat peer"* || $line == "p2pchat -c config/peer.ini"* || $line == *" peer"* ]] && [[ -z $bg_relay ]]; then
    P2P_LOG=warn "$bin" relay --port 4001 --secret-key-seed 0 >"$TMP/bgrelay.out" 2>"$TMP/bgrelay.err" &
    bg_relay=$!; pids+=("$bg_relay")
    wait_for "$TMP/bgrelay.out" "/p2p/$relay_id" 10 || fail "the test's relay did not start"
  fi
  mkfifo "$TMP/$name.in"
  exec {fd}<>"$TMP/$name.in"
  "${words[@]}" <"$TMP/$name.in" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  pid=$!; pids+=("$pid")
  if ! wait_for "$TMP/$name.out" "PeerId:" 15; then
    fail "$line: did not start"; sed 's/^/    /' "$TMP/$name.err"; kill -9 "$pid" 2>/dev/null; exec {fd}>&-; continue
  fi
  wait_for "$TMP/$name.out" "Plugins:" 5 || true
  good=1
  grep -qE '^  /ip[46]/.*/tcp/[0-9]+/p2p/12D3KooW' "$TMP/$name.out" || { good=0; echo "    no full listen address"; }
  [[ $line == *relay* && $line != *peer* ]] && ! grep -q "^Mode: relay" "$TMP/$name.out" && { good=0; echo "    not a relay"; }
  [[ $line == *"secret-key-seed 0"* || $line == "p2pchat relay" ]] && ! grep -q "^PeerId: $relay_id" "$TMP/$name.out" \
    && { good=0; echo "    not the seed-0 PeerId"; }
  if [[ $line == *"--metrics 127.0.0.1:9090"* ]]; then
    wait_for "$TMP/$name.err" "serving metrics at http://127.0.0.1:9090/metrics" 5 || { good=0; echo "    no metrics"; }
  fi
  if [[ $line =~ (--relay|-r)\ /ip4/127.0.0.1/tcp/4001/ ]]; then
    wait_for "$TMP/$name.err" "reserved a slot on relay $relay_id" 15 || { good=0; echo "    no reservation"; }
  elif [[ $line =~ (--bootstrap|-b)\ /ip4/127.0.0.1/tcp/4001/ ]]; then
    wait_for "$TMP/$name.err" "connected to bootstrap peer /ip4/127.0.0.1/tcp/4001/p2p/$relay_id" 15 \
      || { good=0; echo "    did not reach the bootstrap peer"; }
  fi
  if [[ $line =~ (--room|-c)\ ([a-z-]+)$ ]] || [[ $line =~ (--room|-c)\ ([a-z-]+)\  ]]; then
    room=${BASH_REMATCH[2]}
    wait_for "$TMP/$name.out" "joined room $room" 5 || { good=0; echo "    not in room $room"; }
  elif [[ $line == *peer* || $line == "p2pchat -c config/peer.ini" ]]; then
    wait_for "$TMP/$name.out" "joined room libp2p-chat" 5 || { good=0; echo "    not in the default room"; }
  fi
  kill -TERM "$pid"
  wait_exit "$pid" 10
  exec {fd}>&-
  if [[ $good == 1 && $status == 0 ]]; then ok "$line"
  else fail "$line (exit $status)"; sed 's/^/    out: /' "$TMP/$name.out"; tail -n 5 "$TMP/$name.err" | sed 's/^/    err: /'; fi
done <"$TMP/examples.txt"
if [[ -n $bg_relay ]]; then
  kill -TERM "$bg_relay"; wait_exit "$bg_relay" 10
  [[ $status == 0 ]] && ok "the test's relay exits cleanly" || fail "the test's relay: exit $status"
fi
finish
