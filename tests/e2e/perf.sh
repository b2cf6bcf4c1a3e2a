#!/usr/bin/env bash
# p2pchat perf mode against `p2pchat ... peer --perf`: exact byte counts in
# the final JSON line, intermediary lines, refusal by a node without the
# perf server, usage errors. (Plain nodes from a config file: no chat, no
# mDNS.)
source "$(dirname "$0")/lib.sh"
bin=$1

cat >"$TMP/node.ini" <<INI
[host]
listen = /ip4/127.0.0.1/tcp/0
ephemeral_identity = true
log = warn
[plugin transport-tcp]
[plugin noise]
[plugin yamux]
[plugin identify]
[plugin ping]
INI

# --perf adds [plugin perf] server = true to a file that has no perf section.
start_bg srv "$bin" -c "$TMP/node.ini" peer --perf
srv_pid=$last_pid
wait_for "$TMP/srv.out" "/p2p/" 10 || fail "perf server did not start"
addr=$(grep -o '/ip4/127\.0\.0\.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*' "$TMP/srv.out" | head -1)
expect_in "$TMP/srv.out" " perf" "--perf loads the perf plugin"

expect_exit 0 "perf 10 MiB up, 20 MB down" -- "$bin" perf "$addr" --upload 10MiB --download 20MB --interval 0.001
expect_in "$TMP/out" '"type":"final"' "final JSON line"
expect_in "$TMP/out" '"uploadBytes":10485760,"downloadBytes":20000000' "exact byte counts"
expect_in "$TMP/err" "perf: uploaded 10.00 MiB" "human summary on stderr"
grep -q '"type":"intermediary"' "$TMP/out" && ok "intermediary lines" || fail "no intermediary line"

# Without /p2p/: whoever answers.
expect_exit 0 "perf to an address without /p2p/" -- "$bin" perf "${addr%/p2p/*}" --download 1000 --interval 0
expect_in "$TMP/out" '"uploadBytes":0,"downloadBytes":1000' "download only"

# A node without the perf server refuses the protocol.
start_bg plain "$bin" -c "$TMP/node.ini"
plain_pid=$last_pid
wait_for "$TMP/plain.out" "/p2p/" 10 || fail "plain node did not start"
paddr=$(grep -o '/ip4/127\.0\.0\.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*' "$TMP/plain.out" | head -1)
expect_exit 1 "perf against a node without the server" -- "$bin" perf "$paddr" --upload 1000 --interval 0
expect_in "$TMP/err" "runs no perf server" "the refusal is explained"

# A stop signal cancels the measurement (status 1, said so); repeated until
# the process is gone (timeout(1) signals the command and then its process
# group), it still is not a kill (143) at any point of the shutdown.
# (The window it guards is short: several rounds.)
for round in 1 2 3 4 5; do
  # A file per round: the last round's lines must not start the storm
  # before this process has its handlers.
  start_bg "long$round" "$bin" perf "$addr" --download 1TiB --interval 0.05
  long_pid=$last_pid
  wait_for "$TMP/long$round.out" '"type":"intermediary"' 10 || fail "long perf run did not report"
  signal_storm "$long_pid"
  wait_exit "$long_pid" 10
  [[ $status -eq 1 ]] || break
done
[[ $status -eq 1 ]] && ok "perf stopped by repeated SIGTERM exits 1 (5 rounds)" || fail "perf exit $status after repeated SIGTERM (round $round)"
expect_in "$TMP/long$round.err" "cancel" "the cancellation is reported"

expect_exit 64 "perf without an address" -- "$bin" perf --upload 1
expect_exit 64 "perf with a bad byte count" -- "$bin" perf "$addr" --upload 12XB
expect_in "$TMP/err" "is not a byte count" "bad byte count explained"
expect_exit 64 "perf with a bad address" -- "$bin" perf /ip4/1.2.3/tcp/1
expect_exit 0 "perf --help" -- "$bin" perf --help
expect_in "$TMP/out" "--download BYTES" "perf help lists --download"

kill -TERM "$srv_pid" "$plain_pid"
wait_exit "$plain_pid" 10
wait_exit "$srv_pid" 10
[[ $status -eq 0 ]] && ok "perf server stops cleanly on SIGTERM" || fail "perf server exit $status"
finish
