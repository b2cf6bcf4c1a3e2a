#!/usr/bin/env bash
# One interop connection test between OUR C node (the cpeer test program)
# and a reference implementation's test peer, over loopback.
#
# Usage: tests/interop/check-connect.sh IMPL CPEER c-dials|c-listens 4|6 [--big]
#   IMPL   rust, go or js (its peer built with build-peers.sh)
#   CPEER  the cpeer binary (<build>/bin/cpeer)
#   c-dials: IMPL listens, cpeer dials; c-listens: cpeer listens, IMPL dials
#   4|6    listen on /ip4/127.0.0.1 or /ip6/::1 (listen --ip6)
#   --big  one 256 MiB echo stream read slowly by the dialer (dial --slow)
#          and memory bounds, instead of 100 concurrent 1 MiB streams
#
# Starts the listener, waits (bounded) for its LISTEN line, runs the dialer
# with `--streams 100 --bytes 1048576 --pings 3` (--big: `--streams 1
# --bytes 268435456 --slow --pings 1`), waits for the listener's
# DISCONNECTED, SIGTERMs the listener, then checks (one PASS/FAIL line each):
#   - the dialer exited 0 after DONE and `ECHO ok streams=K bytes=B`;
#   - N `PING rtt_us=` lines, each > 0 (a js dialer measures whole
#     milliseconds: 0 is allowed there);
#   - CONNECTED on both sides: the dialer's to the LISTEN address, the
#     listener's from the dialer's PEERID;
#   - IDENTIFIED on both sides (the first line for the other's PEERID): the
#     agent is the other implementation's (p2pchat-interop/, rust-libp2p/,
#     go-libp2p/, js-libp2p/), its protocols include /ipfs/id/1.0.0 and
#     /ipfs/ping/1.0.0 (and /p2pchat/echo/1.0.0 for the listener), the
#     dialer learned the LISTEN address among the listener's listen
#     addresses, and the observed address each side reports (observed=)
#     has the ip and port the other side printed in CONNECTED (all four
#     implementations send one);
#   - c-dials (not --big): a second C dialer with `--at-once --streams 16
#     --bytes 65536 --pings 0` (its streams opened the moment it is
#     connected) gets every echo back;
#   - the listener was still running after the dialer finished, printed
#     DISCONNECTED for the dialer, and RSS_MAX_KIB when stopped;
#   - with --big: both sides' RSS_MAX_KIB (peak RSS) under the bound of
#     their implementation (rss_bound_kib below).
#   - the IMPL peer's PeerId is of the key type INTEROP_KEY_TYPE asks for
#     (secp256k1, ecdsa or rsa, as far as IMPL's library makes them;
#     ed25519 when unset), so the C side checked that key type's Noise
#     signature and signed peer record.
# Prints `N passed, N failed`; exits 0 only when all passed (2 on a usage
# error). Every process is bounded by timeout(1) and cleaned up on exit;
# KEEP_LOGS=1 keeps the peers' output (the directory is printed).
set -uo pipefail

# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"
# shellcheck source=checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

readonly LISTEN_WAIT=30    # s, for the listener's LISTEN line (node starts slowly)
readonly DISCONNECT_WAIT=5 # s, for the listener's DISCONNECTED after the dialer exits
readonly STOP_WAIT=5       # s, for the listener's exit (and RSS_MAX_KIB) after SIGTERM

# Peak RSS bounds for --big, KiB, per implementation. A 256 MiB stream that
# one side buffered whole (or even a quarter of) would exceed them.
# Measured on this 2-core machine (VmHWM, KiB; idle = after one small
# exchange; big = 256 MiB slow echo, as dialer / as listener):
#   c     idle  ~3,800   big ~5,300-10,400 / ~5,300-7,300
#   rust  idle  ~5,000   big ~5,300-7,300 / ~5,900-20,300
#   go    idle ~20,000   big ~25,000-68,000 / ~24,000-56,000
#   js    idle ~95,000   big ~138,000 / ~169,000-188,000 (node itself is
#         ~95 MiB; a paused js stream may still hold up to two 16 MiB Yamux
#         windows of data, read and write side: see js/common.mjs)
# Bound = idle + an allowance well under the stream's size: 48 MiB for C
# (ours: the one that matters; its per-stream write queue is 1 MiB and its
# Yamux window 256 KiB...16 MiB), 96 MiB for rust, 128 MiB for go (its GC
# lets the heap grow to twice the live data) and 160 MiB for js (V8 frees
# buffers late).
rss_bound_kib() {
  case "$1" in
    c) echo $(((4 + 48) * 1024)) ;;
    rust) echo $(((5 + 96) * 1024)) ;;
    go) echo $(((20 + 128) * 1024)) ;;
    js) echo $(((96 + 160) * 1024)) ;;
  esac
}

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

if [ "$#" -lt 4 ] || [ "$#" -gt 5 ]; then
  usage >&2
  exit 2
fi
impl="$1" cpeer="$2" mode="$3" family="$4" big=0
case "$impl" in rust | go | js) ;; *) usage >&2; exit 2 ;; esac
case "$mode" in c-dials | c-listens) ;; *) usage >&2; exit 2 ;; esac
case "$family" in 4 | 6) ;; *) usage >&2; exit 2 ;; esac
if [ "$#" -eq 5 ]; then
  [ "$5" = --big ] || { usage >&2; exit 2; }
  big=1
fi

if [ "$big" = 1 ]; then
  streams=1 nbytes=268435456 pings=1 dial_timeout=150 slow=(--slow)
else
  streams=100 nbytes=1048576 pings=3 dial_timeout=60 slow=()
fi
# Hard caps: the dialer's own --timeout plus start-up slack; the listener
# for the whole run.
dial_limit=$((dial_timeout + 30))
listen_limit=$((LISTEN_WAIT + dial_limit + DISCONNECT_WAIT + 30))

name="$impl $mode ip$family$([ "$big" = 1 ] && printf ' big')"
checks_init interop-connect
listener_pid=""

# set_cmd WHO SUBCOMMAND: peer_cmd for WHO (c or an implementation).
set_cmd() {
  if [ "$1" = c ]; then
    peer_cmd=("$cpeer" "$2")
  else
    set_peer_cmd "$1" "$2"
  fi
}

# agent_prefix WHO: the start of WHO's identify agentVersion.
agent_prefix() {
  case "$1" in
    c) echo p2pchat-interop/ ;;
    rust) echo rust-libp2p/ ;;
    go) echo go-libp2p/ ;;
    js) echo js-libp2p/ ;;
  esac
}

# ip_port MULTIADDR: "IP PORT" of /ip4|ip6/IP/tcp/PORT[/...], or nothing.
ip_port() {
  if [[ "$1" =~ ^/ip[46]/([^/]+)/tcp/([0-9]+)(/|$) ]]; then
    printf '%s %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
  fi
}

# parse_identified FILE PEERID: set id_agent, id_protocols, id_listen,
# id_observed from the first IDENTIFIED line for PEERID; false if none.
parse_identified() {
  local line re='^IDENTIFIED ([^ ]+) agent=(.*) protocols=([^ ]*) listen=([^ ]*) observed=([^ ]*)$'
  id_agent="" id_protocols="" id_listen="" id_observed=""
  line="$(grep -m1 "^IDENTIFIED $2 " "$1")" || return 1
  [[ "$line" =~ $re ]] || return 1
  id_agent="${BASH_REMATCH[2]}"
  id_protocols="${BASH_REMATCH[3]}"
  id_listen="${BASH_REMATCH[4]}"
  id_observed="${BASH_REMATCH[5]}"
}

# in_list ITEM COMMA-LIST
in_list() {
  [[ ",$2," == *",$1,"* ]]
}

# check_identified SIDE FILE PEER_ID PEER_WHO PEER_CONNECTED_ADDR NEED_ECHO
# [LISTEN_ADDR]: the IDENTIFIED checks of SIDE (listener|dialer), which
# identified PEER_WHO; PEER_CONNECTED_ADDR is the address the peer printed in
# CONNECTED for SIDE (what SIDE's observed address must match).
check_identified() {
  local side="$1" file="$2" pid="$3" who="$4" seen="$5" need_echo="$6" laddr="${7:-}"
  local p
  if ! parse_identified "$file" "$pid"; then
    fail "$side: IDENTIFIED for the $who peer $pid"
    return
  fi
  pass "$side: IDENTIFIED for the $who peer"
  check "$side: agent of the $who peer is $(agent_prefix "$who")* (got '$id_agent')" \
    test "${id_agent#"$(agent_prefix "$who")"}" != "$id_agent"
  local protos=(/ipfs/id/1.0.0 /ipfs/ping/1.0.0)
  [ "$need_echo" = 1 ] && protos+=(/p2pchat/echo/1.0.0)
  for p in "${protos[@]}"; do
    check "$side: protocols of the $who peer include $p (got '$id_protocols')" in_list "$p" "$id_protocols"
  done
  if [ -n "$laddr" ]; then
    check "$side: listen addresses of the $who peer include $laddr (got '$id_listen')" \
      in_list "$laddr" "$id_listen"
  fi
  local want got
  want="$(ip_port "$seen")"
  got="$(ip_port "$id_observed")"
  if [ -z "$id_observed" ]; then
    fail "$side: the $who peer reported no observed address (want ip/port of '$seen')"
  elif [ -n "$want" ] && [ "$want" = "$got" ]; then
    pass "$side: observed address $id_observed matches the $who peer's CONNECTED $seen"
  else
    fail "$side: observed address '$id_observed' does not match the $who peer's CONNECTED '$seen'"
  fi
}

if [ "$mode" = c-dials ]; then
  listener="$impl" dialer=c
else
  listener=c dialer="$impl"
fi
printf 'check-connect: %s: %s listens on IPv%s, %s dials: --streams %s --bytes %s --pings %s%s\n' \
  "$name" "$listener" "$family" "$dialer" "$streams" "$nbytes" "$pings" "${slow:+ ${slow[*]}}"

if ! peer_check "$impl"; then
  fail "the $impl peer is built"
  checks_summary
  exit 1
fi
if [ ! -x "$cpeer" ]; then
  fail "cpeer binary $cpeer is executable"
  checks_summary
  exit 1
fi

# ---- listener --------------------------------------------------------------
listen_args=(--port 0)
[ "$family" = 6 ] && listen_args+=(--ip6)
set_cmd "$listener" listen
bg_start listen "$listen_limit" "${peer_cmd[@]}" "${listen_args[@]}" </dev/null
listener_pid=$bg_pid
if ! peer_wait_line "$work/listen.out" '^LISTEN /' "$LISTEN_WAIT" "$listener_pid"; then
  fail "listener printed LISTEN within ${LISTEN_WAIT}s"
  show_logs listen dial
  checks_summary
  exit 1
fi
listener_id="$(grep -m1 '^PEERID ' "$work/listen.out" | cut -d' ' -f2)"
full_addr="$(peer_listen_addr "$work/listen.out")"
listen_addr="${full_addr%/p2p/*}"
if [ "$family" = 6 ]; then want_ip=/ip6/::1/tcp/; else want_ip=/ip4/127.0.0.1/tcp/; fi
check "listener: LISTEN $full_addr is on ${want_ip%/tcp/} and ends with /p2p/<its PEERID>" \
  test "${listen_addr#"$want_ip"}" != "$listen_addr" -a "$full_addr" = "$listen_addr/p2p/$listener_id"

# ---- dialer ----------------------------------------------------------------
set_cmd "$dialer" dial
t0=$(date +%s%N)
rc=0
timeout -k 3 "$dial_limit" "${peer_cmd[@]}" "$full_addr" --streams "$streams" --bytes "$nbytes" \
  --pings "$pings" --timeout "$dial_timeout" "${slow[@]}" \
  </dev/null >"$work/dial.out" 2>"$work/dial.err" || rc=$?
t1=$(date +%s%N)
dial_ms=$(((t1 - t0) / 1000000))
dialer_id="$(grep -m1 '^PEERID ' "$work/dial.out" | cut -d' ' -f2)"

listener_alive=0
kill -0 "$listener_pid" 2>/dev/null && listener_alive=1
if [ -n "$dialer_id" ] && [ "$listener_alive" = 1 ]; then
  peer_wait_line "$work/listen.out" "^DISCONNECTED $dialer_id\$" "$DISCONNECT_WAIT" "$listener_pid" || true
fi
# c-dials: a second C dialer opens 16 echo streams the moment it is
# connected, before anything came back from the listener (our muxer holds
# the streams beyond its early_streams until the listener's first frame:
# js aborts a connection on which more than 10 streams arrive before its
# side of the upgrade is done).
early_rc=""
if [ "$dialer" = c ] && [ "$big" = 0 ] && [ "$listener_alive" = 1 ]; then
  set_cmd c dial
  early_rc=0
  timeout -k 3 "$dial_limit" "${peer_cmd[@]}" "$full_addr" --at-once --streams 16 --bytes 65536 --pings 0 \
    --timeout "$dial_timeout" </dev/null >"$work/early.out" 2>"$work/early.err" || early_rc=$?
fi

# Stop the listener: SIGTERM (timeout(1) forwards it), then SIGKILL.
kill -TERM "$listener_pid" 2>/dev/null || true
for ((i = 0; i < STOP_WAIT * 10; i++)); do
  kill -0 "$listener_pid" 2>/dev/null || break
  sleep 0.1
done
kill -KILL "$listener_pid" 2>/dev/null || true
wait "$listener_pid" 2>/dev/null || true
listener_pid=""

# ---- checks ----------------------------------------------------------------
last="$(grep -m1 -E '^(TIMEOUT|ECHO FAIL|PING FAIL|ERROR|FAIL)' "$work/dial.out")"
check "dialer: exit 0 after DONE in ${dial_ms} ms (exit $rc${last:+; $last})" \
  test "$rc" -eq 0 -a -n "$(grep -x DONE "$work/dial.out")"
check "dialer: ECHO ok streams=$streams bytes=$nbytes" \
  grep -qx "ECHO ok streams=$streams bytes=$nbytes" "$work/dial.out"

mapfile -t rtts < <(grep -E '^PING rtt_us=' "$work/dial.out" | cut -d= -f2)
rtt_ok=1
[ "${#rtts[@]}" -eq "$pings" ] || rtt_ok=0
for r in "${rtts[@]}"; do
  [[ "$r" =~ ^[0-9]+$ ]] || { rtt_ok=0; continue; }
  if [ "$dialer" != js ] && [ "$r" -le 0 ]; then rtt_ok=0; fi
done
check "dialer: $pings PING lines with rtt_us $([ "$dialer" = js ] && echo '>= 0 (js: whole ms)' || echo '> 0') (got ${rtts[*]:-none})" \
  test "$rtt_ok" = 1

if [ -z "$dialer_id" ] || [ -z "$listener_id" ]; then
  fail "both sides printed PEERID (listener '$listener_id', dialer '$dialer_id')"
else
  impl_id="$listener_id"
  [ "$dialer" = "$impl" ] && impl_id="$dialer_id"
  check "the $impl peer's PeerId $impl_id is of key type ${INTEROP_KEY_TYPE:-ed25519}" peer_id_of_key_type "$impl_id"
  # CONNECTED: the dialer's to the listen address, the listener's from the dialer.
  d_conn="$(grep -m1 "^CONNECTED $listener_id " "$work/dial.out" | cut -d' ' -f3)"
  l_conn="$(grep -m1 "^CONNECTED $dialer_id " "$work/listen.out" | cut -d' ' -f3)"
  check "dialer: CONNECTED to the listener at $listen_addr (got '$d_conn')" test "$d_conn" = "$listen_addr"
  check "listener: CONNECTED from the dialer (got '$l_conn')" test -n "$(ip_port "$l_conn")"
  # IDENTIFIED: what each side learned of the other.
  check_identified dialer "$work/dial.out" "$listener_id" "$listener" "$l_conn" 1 "$listen_addr"
  check_identified listener "$work/listen.out" "$dialer_id" "$dialer" "$d_conn" 0
  check "listener: still running after the dialer finished" test "$listener_alive" = 1
  check "listener: DISCONNECTED for the dialer within ${DISCONNECT_WAIT}s" \
    grep -qx "DISCONNECTED $dialer_id" "$work/listen.out"
fi

if [ -n "$early_rc" ]; then
  check "dialer --at-once: 16 streams opened with the connection echo (exit $early_rc)" \
    test "$early_rc" -eq 0 -a -n "$(grep -x 'ECHO ok streams=16 bytes=65536' "$work/early.out")"
fi

l_rss="$(grep -m1 '^RSS_MAX_KIB ' "$work/listen.out" | cut -d' ' -f2)"
d_rss="$(grep -m1 '^RSS_MAX_KIB ' "$work/dial.out" | cut -d' ' -f2)"
check "listener: RSS_MAX_KIB on SIGTERM (${l_rss:-none})" test -n "$l_rss"
check "dialer: RSS_MAX_KIB before DONE (${d_rss:-none})" test -n "$d_rss"
if [ "$big" = 1 ]; then
  for side in listener dialer; do
    if [ "$side" = listener ]; then who="$listener" rss="$l_rss"; else who="$dialer" rss="$d_rss"; fi
    bound="$(rss_bound_kib "$who")"
    if [ "$who" = c ] && [ "${P2P_SANITIZED:-OFF}" = ON ]; then
      # ASan's shadow memory and quarantine are most of a sanitized
      # build's RSS: the bound is checked in the normal build
      echo "NOTE $side ($who): peak RSS ${rss:-?} KiB not checked (sanitizer build)"
      continue
    fi
    check "$side ($who): peak RSS ${rss:-?} KiB < $bound KiB" test -n "$rss" -a "${rss:-0}" -lt "$bound"
  done
fi

if [ "$failed" -gt 0 ]; then
  show_logs listen dial early
fi
printf 'check-connect: %s: dial %d ms, RSS KiB listener %s dialer %s\n' \
  "$name" "$dial_ms" "${l_rss:-?}" "${d_rss:-?}"
checks_summary
