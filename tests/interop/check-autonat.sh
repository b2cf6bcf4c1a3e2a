#!/usr/bin/env bash
# Interop check: AutoNAT v1 (/libp2p/autonat/1.0.0) between our C node
# (cpeer autonat: the autonat plugin) and one test peer, over loopback.
#
# Usage: tests/interop/check-autonat.sh <rust|go|js> <path-to-cpeer>
#
# rust (rust-libp2p's autonat::Behaviour, configured to allow loopback):
#   1. their server, our client: `interop-peer autonat` listens, `cpeer
#      autonat --connect` asks it; rust dials us back and our plugin reports
#      NAT_STATUS public at our listening address;
#   2. our server, their client: `cpeer autonat --server` listens (allow =
#      loopback), `interop-peer autonat --connect` asks it; we dial rust back
#      and rust reports NAT_STATUS public;
#   3. a request by hand (`cpeer autonat --ask`): ANSWER OK with our
#      address.
# go and js (go-libp2p's NAT service, @libp2p/autonat): both refuse to dial
# loopback clients and their clients skip loopback servers, so on loopback
# we check what can be checked: a request by hand is answered
# E_DIAL_REFUSED (not E_BAD_REQUEST: they decoded our DIAL and accepted our
# PeerId), and our plugin's client finds their server through identify,
# asks it and ends UNKNOWN after probing.
set -euo pipefail

# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

if [ "$#" -ne 2 ]; then
  printf 'usage: %s <rust|go|js> <path-to-cpeer>\n' "$0" >&2
  exit 2
fi
impl="$1"
cpeer="$2"
peer_check "$impl"

work="$(mktemp -d)"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  local f
  printf 'FAIL %s: %s\n' "$impl" "$*"
  for f in "$work"/*; do
    printf -- '---- %s\n' "$(basename "$f")"
    tail -n 20 "$f"
  done
  exit 1
}

# start NAME CMD...: a listener in the background; sets $addr to its first
# LISTEN address.
start() {
  local name=$1
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  peer_wait_line "$work/$name.out" '^LISTEN /' 30 $! || fail "$name did not start"
  addr=$(peer_listen_addr "$work/$name.out")
}

# run NAME CMD...: a bounded foreground run; its exit status in $rc.
run() {
  local name=$1
  shift
  rc=0
  timeout -k 5 60 "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
}

set_peer_cmd "$impl" autonat
case "$impl" in
  rust)
    # 1. their server, our client.
    start them-server "${peer_cmd[@]}" --timeout 120
    them=$addr
    run c-client "$cpeer" autonat --connect "$them" --timeout 40
    ((rc == 0)) || fail "our client: exit $rc"
    own=$(peer_listen_addr "$work/c-client.out")
    grep -qE "^NAT_STATUS public ${own%/p2p/*}(/p2p/|$)" "$work/c-client.out" ||
      fail "our client was not reported public at its listening address ${own%/p2p/*}"
    grep -qE '^INBOUND_PROBE .* ok ' "$work/them-server.out" || fail "the rust server did not report its dial-back"
    echo "ok - rust's server dialed our client back: public"
    # 3. a request by hand.
    run c-ask "$cpeer" autonat --ask "$them" --timeout 40
    ((rc == 0)) || fail "ask: exit $rc"
    own=$(peer_listen_addr "$work/c-ask.out")
    grep -qE "^ANSWER OK text=.* addr=${own%/p2p/*}(/p2p/|$)" "$work/c-ask.out" ||
      fail "the rust server's answer to a request by hand is not OK with our address"
    echo "ok - rust answered our DIAL with OK and our address"
    # 2. our server, their client.
    start c-server "$cpeer" autonat --server --timeout 120
    ours=$addr
    run them-client "${peer_cmd[@]}" --connect "$ours" --timeout 40
    ((rc == 0)) || fail "the rust client: exit $rc"
    grep -qE '^NAT_STATUS public /ip4/127\.0\.0\.1/tcp/' "$work/them-client.out" ||
      fail "our server did not make the rust client public"
    grep -qE '^OUTBOUND_PROBE .* ok ' "$work/them-client.out" || fail "the rust client saw no OK"
    echo "ok - our server dialed the rust client back: public"
    ;;
  go|js)
    start them-server "${peer_cmd[@]}"
    them=$addr
    run c-ask "$cpeer" autonat --ask "$them" --timeout 40
    ((rc == 0)) || fail "ask: exit $rc"
    grep -qE '^ANSWER E_DIAL_REFUSED ' "$work/c-ask.out" ||
      fail "expected E_DIAL_REFUSED (loopback client) from $impl, got: $(grep '^ANSWER' "$work/c-ask.out" || echo none)"
    echo "ok - $impl decoded our DIAL and refused loopback: $(grep -m1 '^ANSWER' "$work/c-ask.out")"
    # An answer comes at once; a probe without one would end only after the
    # plugin's probe_timeout (30 s).
    t0=$SECONDS
    run c-client "$cpeer" autonat --connect "$them" --until-probed --timeout 40
    ((rc == 0)) || fail "our client: exit $rc"
    ((SECONDS - t0 < 20)) || fail "our client's probe ended by its timeout, not by an answer"
    grep -qE '^PROBES sent=[1-9][0-9]* public=0 private=0 none=[1-9]' "$work/c-client.out" ||
      fail "our client did not ask the $impl server (or got a verdict)"
    grep -qE '^NAT_STATUS unknown probed$' "$work/c-client.out" || fail "our client did not end unknown after probing"
    grep -qE '^NAT_STATUS (public|private)' "$work/c-client.out" && fail "a refusal changed our status"
    echo "ok - our client asked the $impl server (found through identify) and stayed unknown"
    ;;
  *)
    fail "unknown implementation"
    ;;
esac
echo "PASS autonat $impl"
