#!/usr/bin/env bash
# Interop check: deterministic PeerId derivation.
#
# Usage: tests/interop/check-peerid-seed.sh <js|rust|go> <path-to-p2pchat>
#
# For each seed N in 0 1 7 255, asks the test peer for the PeerId of the
# Ed25519 key whose secret is [N,0,...,0] (rust-libp2p relay-server's
# --secret-key-seed convention), then starts
#   p2pchat relay --secret-key-seed N --port 0
# waits (bounded) for its stdout line "PeerId: <base58>", stops it with
# SIGTERM and compares. The peer must have been built (build-peers.sh).
set -euo pipefail

# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

readonly SEEDS=(0 1 7 255)
readonly PEER_TIMEOUT=60 # s, one test-peer run
readonly PEERID_WAIT=10  # s, for p2pchat's "PeerId:" line
readonly STOP_WAIT=5     # s, for p2pchat to exit after SIGTERM before SIGKILL
# Hard cap on one p2pchat run, enforced by timeout(1) even if this script is
# killed; timeout also forwards our SIGTERM and escalates to SIGKILL after
# STOP_WAIT seconds.
readonly RELAY_LIMIT=$((PEERID_WAIT + STOP_WAIT + 15))

if [ "$#" -ne 2 ]; then
  printf 'usage: %s <js|rust|go> <path-to-p2pchat>\n' "$0" >&2
  exit 2
fi
impl="$1"
p2pchat="$2"
peer_check "$impl"
if [ ! -x "$p2pchat" ]; then
  printf 'p2pchat binary not found or not executable: %s\n' "$p2pchat" >&2
  exit 1
fi

work="$(mktemp -d)"
relay_pid=""
relay_status=0
relay_early=0
cleanup() {
  if [ -n "$relay_pid" ]; then
    kill -TERM "$relay_pid" 2>/dev/null || true
    wait "$relay_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

is_peerid() { [[ "$1" =~ ^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$ ]]; }

# stop_relay: unless it has exited already, send SIGTERM (timeout(1) forwards
# it and sends SIGKILL after STOP_WAIT s); wait for it, bounded, and set the
# global relay_status to its exit status and relay_early to 1 if it had exited
# before the SIGTERM. (Loops' stderr is discarded: bash would report there a
# background job that died of a signal; relay_status reports it instead.)
stop_relay() {
  local i
  relay_status=0
  relay_early=0
  [ -n "$relay_pid" ] || return 0
  if kill -0 "$relay_pid" 2>/dev/null; then
    kill -TERM "$relay_pid" 2>/dev/null || true
    for ((i = 0; i < (STOP_WAIT + 5) * 10; i++)); do
      kill -0 "$relay_pid" 2>/dev/null || break
      sleep 0.1
    done 2>/dev/null
    kill -KILL "$relay_pid" 2>/dev/null || true # last resort; normally gone
  else
    relay_early=1
  fi
  { wait "$relay_pid"; } 2>/dev/null || relay_status=$?
  relay_pid=""
  if [ "$relay_early" -eq 0 ] && [ "$relay_status" -eq 137 ]; then
    printf '  note: p2pchat did not exit within %ss of SIGTERM and was killed\n' "$STOP_WAIT"
  fi
}

# describe_status N: "exit status N" or "signal S" for a shell status N.
describe_status() {
  if [ "$1" -gt 128 ]; then
    printf 'signal %s (%s)' "$(($1 - 128))" "$(kill -l "$(($1 - 128))" 2>/dev/null || echo '?')"
  else
    printf 'exit status %s' "$1"
  fi
}

# c_peerid N: run "p2pchat relay" with seed N and set the global `got` to the
# PeerId of its "PeerId: " line; fail if there is none within PEERID_WAIT s.
c_peerid() {
  local seed="$1" out="$work/relay-$1.out" err="$work/relay-$1.err" line="" i
  got=""
  : >"$out"
  timeout --foreground -k "$STOP_WAIT" "$RELAY_LIMIT" \
    "$p2pchat" relay --secret-key-seed "$seed" --port 0 </dev/null >"$out" 2>"$err" &
  relay_pid=$!
  for ((i = 0; i < PEERID_WAIT * 10; i++)); do
    line="$(grep -m1 -E '^PeerId: ' "$out" || true)"
    [ -n "$line" ] && break
    kill -0 "$relay_pid" 2>/dev/null || break # exited early
    sleep 0.1
  done 2>/dev/null
  [ -n "$line" ] || line="$(grep -m1 -E '^PeerId: ' "$out" || true)"
  stop_relay
  if [ -z "$line" ]; then
    if [ "$relay_early" -eq 1 ]; then
      printf '  p2pchat exited (%s) without printing a "PeerId: " line\n' \
        "$(describe_status "$relay_status")"
    else
      printf '  p2pchat printed no "PeerId: " line within %ss (stdout not flushed?)\n' "$PEERID_WAIT"
    fi
    printf '  --- p2pchat relay --secret-key-seed %s --port 0: stdout:\n' "$seed"
    head -n 20 "$out" || true
    printf '  --- stderr:\n'
    head -n 20 "$err" || true
    return 1
  fi
  if [ "$relay_early" -eq 1 ]; then
    printf '  note: p2pchat exited (%s) before it was stopped\n' "$(describe_status "$relay_status")"
  fi
  line="${line#PeerId: }"
  got="${line%$'\r'}"
}

passed=0
failed=0
set_peer_cmd "$impl" peerid-from-seed
for seed in "${SEEDS[@]}"; do
  if ! want="$(timeout -k 2 "$PEER_TIMEOUT" "${peer_cmd[@]}" "$seed")"; then
    printf 'FAIL seed %s: the %s peer failed\n' "$seed" "$impl"
    failed=$((failed + 1))
    continue
  fi
  if ! is_peerid "$want"; then
    printf 'FAIL seed %s: the %s peer printed "%s", not an Ed25519 PeerId\n' "$seed" "$impl" "$want"
    failed=$((failed + 1))
    continue
  fi
  # (stderr: bash reports a crashed background job there; we report it ourselves)
  if ! c_peerid "$seed" 2>/dev/null; then
    printf 'FAIL seed %s: no PeerId from p2pchat (%s expects %s)\n' "$seed" "$impl" "$want"
    failed=$((failed + 1))
    continue
  fi
  if [ "$got" = "$want" ]; then
    printf 'ok   seed %s: %s (%s agrees)\n' "$seed" "$got" "$impl"
    passed=$((passed + 1))
  else
    printf 'FAIL seed %s: p2pchat says %s, %s says %s\n' "$seed" "$got" "$impl" "$want"
    failed=$((failed + 1))
  fi
done

printf 'peerid_seed.%s: %d passed, %d failed\n' "$impl" "$passed" "$failed"
[ "$failed" -eq 0 ]
