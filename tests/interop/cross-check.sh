#!/usr/bin/env bash
# Cross-check the interop test peers against each other (no C involved): a
# tool to validate the peers themselves, not necessarily run in CI.
#
# Usage: tests/interop/cross-check.sh [--streams K] [--bytes B] [--pings N]
#                                     [--timeout S] [IMPL...]
#   IMPL: rust, go, js (default: all three). Every ordered pair
#   (listener, dialer) of the given implementations is run: 9 for all three.
#
# For each pair: start `<listener> listen`, wait (bounded) for its LISTEN
# line, run `<dialer> dial <LISTEN addr> --streams K --bytes B --pings N
# --timeout S` (defaults 8, 65536, 3, 30) and require exit status 0 with a
# DONE line; then require the listener to have printed CONNECTED and
# IDENTIFIED for the dialer's PEERID, and DISCONNECTED once the dialer has
# exited. Prints a PASS/FAIL table and "N passed, N failed"; exits non-zero
# if any pair failed. The peers must have been built (build-peers.sh).
# Set KEEP_LOGS=1 to keep the peers' output (the directory is printed).
set -uo pipefail

# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

readonly LISTEN_WAIT=30    # s, for the listener's LISTEN line (node starts slowly)
readonly DISCONNECT_WAIT=5 # s, for the listener's DISCONNECTED after the dialer exits
readonly STOP_WAIT=3       # s, for a peer to exit after SIGTERM before SIGKILL

usage() {
  sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

streams=8 nbytes=65536 pings=3 dial_timeout=30
impls=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --streams | --bytes | --pings | --timeout)
      [ "$#" -ge 2 ] || { usage >&2; exit 2; }
      case "$1" in
        --streams) streams="$2" ;;
        --bytes) nbytes="$2" ;;
        --pings) pings="$2" ;;
        --timeout) dial_timeout="$2" ;;
      esac
      shift 2
      ;;
    rust | go | js) impls+=("$1"); shift ;;
    -h | --help) usage; exit 0 ;;
    *) printf 'cross-check: unknown argument "%s"\n' "$1" >&2; usage >&2; exit 2 ;;
  esac
done
[ "${#impls[@]}" -gt 0 ] || impls=(rust go js)
# Hard cap on one dialer run (its own --timeout plus start-up slack).
dial_limit=$(awk -v t="$dial_timeout" 'BEGIN { printf "%d", t + 30 }')
# Hard cap on one listener run.
listen_limit=$((LISTEN_WAIT + dial_limit + DISCONNECT_WAIT + 30))

work="$(mktemp -d "${TMPDIR:-/tmp}/interop-cross-check.XXXXXX")"
listener_pid=""
cleanup() {
  if [ -n "$listener_pid" ]; then
    kill -TERM "$listener_pid" 2>/dev/null || true
    wait "$listener_pid" 2>/dev/null || true
  fi
  if [ "${KEEP_LOGS:-0}" = 1 ]; then
    printf 'logs kept in %s\n' "$work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# stop_listener: SIGTERM (timeout(1) forwards it), then SIGKILL if needed.
stop_listener() {
  local i
  [ -n "$listener_pid" ] || return 0
  kill -TERM "$listener_pid" 2>/dev/null || true
  for ((i = 0; i < STOP_WAIT * 10; i++)); do
    kill -0 "$listener_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$listener_pid" 2>/dev/null || true
  wait "$listener_pid" 2>/dev/null || true
  listener_pid=""
}

# show_log LABEL FILE: the first lines of a peer's output, indented.
show_log() {
  printf '    --- %s\n' "$1"
  head -n 15 "$2" | sed 's/^/    | /'
}

# run_pair LISTENER DIALER: run one combination; set `detail`; true on PASS.
run_pair() {
  local l="$1" d="$2" dir="$work/$1-$2" addr dialer_id rc t0 t1
  mkdir -p "$dir"
  detail=""
  if ! peer_check "$l" 2>"$dir/check" || ! peer_check "$d" 2>>"$dir/check"; then
    detail="not built: $(head -n1 "$dir/check")"
    return 1
  fi

  set_peer_cmd "$l" listen
  timeout -k "$STOP_WAIT" "$listen_limit" "${peer_cmd[@]}" --port 0 \
    </dev/null >"$dir/listen.out" 2>"$dir/listen.err" &
  listener_pid=$!
  if ! peer_wait_line "$dir/listen.out" '^LISTEN /' "$LISTEN_WAIT" "$listener_pid"; then
    detail="listener printed no LISTEN line within ${LISTEN_WAIT}s"
    stop_listener
    show_log "$l listen: stdout" "$dir/listen.out"
    show_log "$l listen: stderr" "$dir/listen.err"
    return 1
  fi
  addr="$(peer_listen_addr "$dir/listen.out")"

  set_peer_cmd "$d" dial
  t0=$(date +%s%N)
  rc=0
  timeout -k "$STOP_WAIT" "$dial_limit" "${peer_cmd[@]}" "$addr" \
    --streams "$streams" --bytes "$nbytes" --pings "$pings" --timeout "$dial_timeout" \
    </dev/null >"$dir/dial.out" 2>"$dir/dial.err" || rc=$?
  t1=$(date +%s%N)
  dialer_id="$(grep -m1 '^PEERID ' "$dir/dial.out" | cut -d' ' -f2)"

  local problems=()
  if [ "$rc" -ne 0 ] || ! grep -qx 'DONE' "$dir/dial.out"; then
    local last
    last="$(grep -E '^(TIMEOUT|ECHO FAIL|PING FAIL|ERROR)' "$dir/dial.out" | head -n1)"
    problems+=("dialer exit $rc${last:+: $last}")
  fi
  if [ -z "$dialer_id" ]; then
    problems+=("dialer printed no PEERID")
  else
    grep -q "^CONNECTED $dialer_id /" "$dir/listen.out" ||
      problems+=("listener printed no CONNECTED for the dialer")
    grep -q "^IDENTIFIED $dialer_id agent=" "$dir/listen.out" ||
      problems+=("listener printed no IDENTIFIED for the dialer")
    peer_wait_line "$dir/listen.out" "^DISCONNECTED $dialer_id\$" "$DISCONNECT_WAIT" "$listener_pid" ||
      problems+=("listener printed no DISCONNECTED within ${DISCONNECT_WAIT}s of the dialer's exit")
  fi
  stop_listener

  local ms=$(((t1 - t0) / 1000000))
  if [ "${#problems[@]}" -eq 0 ]; then
    local rtts
    rtts="$(grep -oE '^PING rtt_us=[0-9]+' "$dir/dial.out" | cut -d= -f2 | paste -sd/ -)"
    detail="dial ${ms} ms, ping us ${rtts:-none}"
    return 0
  fi
  detail="$(IFS=';'; printf '%s' "${problems[*]}" | sed 's/;/; /g') (${ms} ms)"
  show_log "$l listen: stdout" "$dir/listen.out"
  show_log "$l listen: stderr" "$dir/listen.err"
  show_log "$d dial: stdout" "$dir/dial.out"
  show_log "$d dial: stderr" "$dir/dial.err"
  return 1
}

printf 'cross-check: --streams %s --bytes %s --pings %s --timeout %s\n' \
  "$streams" "$nbytes" "$pings" "$dial_timeout"
passed=0
failed=0
rows=()
for l in "${impls[@]}"; do
  for d in "${impls[@]}"; do
    printf '== listener %s, dialer %s\n' "$l" "$d"
    if run_pair "$l" "$d"; then
      result=PASS
      passed=$((passed + 1))
    else
      result=FAIL
      failed=$((failed + 1))
    fi
    printf '   %s: %s\n' "$result" "$detail"
    rows+=("$(printf '%-8s %-8s %-6s %s' "$l" "$d" "$result" "$detail")")
  done
done

printf '\n%-8s %-8s %-6s %s\n' listener dialer result detail
printf '%s\n' "${rows[@]}"
printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
