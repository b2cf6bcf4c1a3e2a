#!/usr/bin/env bash
# Interop check: /perf/1.0.0 between p2pchat and IMPL's perf peer (the
# interop peer's bench subcommands perf-server and perf).
#
# Usage: tests/interop/check-perf.sh <js|rust|go> <path-to-p2pchat>
#
#   c-dials:   `p2pchat perf <IMPL perf-server> --upload 4MiB --download
#              4MiB`: exit 0, and its final JSON line reports exactly
#              those byte counts (the C client counts what came back);
#              the IMPL server is still up afterwards.
#   c-listens: `p2pchat peer --perf` serves IMPL's `perf` client, the
#              same sizes: exit 0 (IMPL's client exits 1 unless exactly
#              the download size came back before the server's close) and
#              the counts in its final line; then p2pchat stops cleanly on
#              SIGTERM (exit 0).
set -euo pipefail

here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=peers.sh
. "$here/peers.sh"
# shellcheck source=checks.sh
. "$here/checks.sh"

readonly SIZE=$((4 << 20))
readonly LISTEN_WAIT=30 # s, for a server's listen address (js starts slowly)
readonly RUN_LIMIT=60   # s, one perf exchange (4 MiB each way takes < 1 s)

if [ "$#" -ne 2 ]; then
  printf 'usage: %s <js|rust|go> <path-to-p2pchat>\n' "$0" >&2
  exit 2
fi
impl="$1"
p2pchat="$2"
peer_check "$impl"
[ -x "$p2pchat" ] || { printf 'p2pchat not found: %s\n' "$p2pchat" >&2; exit 1; }

# bench_cmd SUB: peer_cmd for IMPL's bench subcommand SUB (js: bench.mjs)
bench_cmd() {
  if [ "$impl" = js ]; then
    set_peer_cmd js bench
    peer_cmd+=("$1")
  else
    set_peer_cmd "$impl" "$1"
  fi
}

# listen_addr NAME: wait for NAME's /ip4/127.0.0.1 listen address (IMPL's
# LISTEN line, p2pchat's "Listening on:" block) and print it.
listen_addr() {
  local re='/ip4/127\.0\.0\.1/tcp/[0-9]+/p2p/[A-Za-z0-9]+'
  peer_wait_line "$work/$1.out" "$re" "$LISTEN_WAIT" "$2" || return 1
  grep -m1 -oE "$re" "$work/$1.out"
}

counts="\"uploadBytes\":$SIZE,\"downloadBytes\":$SIZE"
checks_init "interop-perf-$impl"

# ---- c-dials: our client, their server ---------------------------------------
bench_cmd perf-server
bg_start srv 200 "${peer_cmd[@]}"
srv=$bg_pid
if addr="$(listen_addr srv "$srv")"; then
  if timeout -k 3 "$RUN_LIMIT" "$p2pchat" perf "$addr" --upload "$SIZE" --download "$SIZE" --interval 0 \
    >"$work/cperf.out" 2>"$work/cperf.err"; then
    pass "c-dials: p2pchat perf against the $impl server exits 0"
  else
    fail "c-dials: p2pchat perf against the $impl server failed"
    show_logs cperf srv
  fi
  check "c-dials: exact byte counts in the final line" grep -q "\"type\":\"final\".*$counts" "$work/cperf.out"
  check "c-dials: the $impl server is still up" kill -0 "$srv"
else
  fail "c-dials: the $impl perf server printed no listen address"
  show_logs srv
fi

# ---- c-listens: their client, our server -------------------------------------
cat >"$work/node.ini" <<INI
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
bg_start csrv 200 "$p2pchat" -c "$work/node.ini" peer --perf
csrv=$bg_pid
if addr="$(listen_addr csrv "$csrv")"; then
  bench_cmd perf
  if timeout -k 3 "$RUN_LIMIT" "${peer_cmd[@]}" "$addr" --upload "$SIZE" --download "$SIZE" \
    >"$work/iperf.out" 2>"$work/iperf.err"; then
    pass "c-listens: the $impl perf client against p2pchat exits 0"
  else
    fail "c-listens: the $impl perf client against p2pchat failed"
    show_logs iperf csrv
  fi
  check "c-listens: exact byte counts in the $impl client's final line" \
    grep -q "\"type\":\"final\".*$counts" "$work/iperf.out"
  status=0
  kill -TERM "$csrv" 2>/dev/null || true
  wait "$csrv" 2>/dev/null || status=$?
  if [ "$status" = 0 ]; then
    pass "c-listens: p2pchat stops cleanly after serving"
  else
    fail "c-listens: p2pchat exit $status after SIGTERM"
    show_logs csrv
  fi
else
  fail "c-listens: p2pchat peer --perf printed no listen address"
  show_logs csrv
fi

checks_summary
