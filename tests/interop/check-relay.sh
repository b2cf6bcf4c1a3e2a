#!/usr/bin/env bash
# Circuit Relay v2 interop over loopback: a relay, a peer that reserves a
# slot on it and listens through it, and a peer that dials the listener
# through it; each role played by our C node (cpeer) or one of the
# reference implementations' test peers.
#
# Usage: tests/interop/check-relay.sh CPEER RELAY LISTENER DIALER [--over-limit | --p2pchat P2PCHAT]
#   CPEER     the cpeer binary (<build>/bin/cpeer)
#   RELAY, LISTENER, DIALER: c, rust, go or js; LISTENER may also be
#             p2pchat (with --p2pchat: the chat program, reserving with
#             `peer --relay <relay>`, mdns and kad left out)
#   --over-limit  also: an echo larger than the relay's data limit must
#             fail (the relay cuts the circuit), cleanly and soon, and the
#             listener must still be reachable afterwards
#
# Steps (every process bounded by timeout(1)): start `relay`, wait for its
# LISTEN; start `relay-listen --relay <relay>`, wait for RESERVED; run
# `relay-dial <RESERVED address> --streams 2 --bytes 16384 --pings 3`
# (64 KiB through the circuit: under every relay's default 128 KiB, which
# rust-libp2p counts for both directions together). Checks (PASS/FAIL
# lines, then `N passed, N failed`; exit 0 only when none failed):
#   - the listener's RESERVED address is <relay LISTEN address>/p2p-circuit
#     /p2p/<listener>;
#   - the limits the relay announced in the reservation (where the
#     listener reports them: C in its log, rust and go in RESERVED) are
#     every library's default: duration=120s data=131072 (js-libp2p sends
#     the duration in milliseconds: read leniently by C);
#   - the dialer exited 0 after DONE and `ECHO ok streams=2 bytes=16384`
#     (p2pchat serves no echo: pings only), with 3 PING lines, its connection to the listener through the relay
#     (CONNECTED <listener> <relay address>/p2p-circuit) and identify
#     across it (IDENTIFIED <listener>);
#   - the listener printed CONNECTED for the dialer through the relay; a C
#     listener (cpeer or p2pchat) logged the accepted circuit with the
#     same limits;
#   - with --over-limit (C listener and dialer): a 256 KiB echo ends with
#     exit 1 and ECHO FAIL (not a timeout); then a small one works again;
#   - the relay and the listener are still running at the end;
#   - a relay of another implementation has an identity of the key type
#     INTEROP_KEY_TYPE names (see README.md: the C listener and dialer
#     then check its Noise signature and the reservation's voucher, a
#     record it signs with that key).
# KEEP_LOGS=1 keeps the outputs (the directory is printed).
set -uo pipefail

# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"
# shellcheck source=checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

readonly START_WAIT=30   # s, for LISTEN / RESERVED (node starts slowly)
readonly DIAL_TIMEOUT=30 # s, the dialer's --timeout
readonly LIMIT_DURATION=120s LIMIT_DATA=131072

usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

if [ "$#" -lt 4 ] || [ "$#" -gt 6 ]; then
  usage >&2
  exit 2
fi
cpeer="$1" relay="$2" listener="$3" dialer="$4" over_limit=0 p2pchat=""
for who in "$relay" "$listener" "$dialer"; do
  case "$who" in c) ;; rust | go | js) peer_check "$who" || exit 1 ;; p2pchat) ;; *) usage >&2; exit 2 ;; esac
done
case "${5:-}/$#" in
  /4) ;;
  --over-limit/5) over_limit=1 ;;
  --p2pchat/6) p2pchat="$6" ;;
  *) usage >&2; exit 2 ;;
esac
# --over-limit: between two C peers (what is checked is their relay).
if [ "$over_limit" = 1 ] && { [ "$listener" != c ] || [ "$dialer" != c ]; }; then
  usage >&2
  exit 2
fi
# p2pchat only as the listener, and then with --p2pchat.
if [ "$relay" = p2pchat ] || [ "$dialer" = p2pchat ] ||
  { [ "$listener" = p2pchat ] && [ -z "$p2pchat" ]; } || { [ "$listener" != p2pchat ] && [ -n "$p2pchat" ]; }; then
  usage >&2
  exit 2
fi

checks_init interop-relay

# set_cmd WHO SUBCOMMAND: peer_cmd for WHO (c or an implementation).
set_cmd() {
  if [ "$1" = c ]; then
    peer_cmd=("$cpeer" "$2")
  else
    set_peer_cmd "$1" "$2"
  fi
}

finish() {
  checks_summary || { show_logs relay listen dial dial2 dial3; exit 1; }
  exit 0
}

# The relay: C's relay mode (the relay plugin's server role) or theirs.
set_cmd "$relay" relay
bg_start relay $((START_WAIT + 4 * DIAL_TIMEOUT)) "${peer_cmd[@]}"
relay_pid=$bg_pid
if ! peer_wait_line "$work/relay.out" '^LISTEN /' "$START_WAIT" "$relay_pid"; then
  fail "$relay relay: no LISTEN line within ${START_WAIT}s"
  finish
fi
relay_addr="$(peer_listen_addr "$work/relay.out")"
relay_id="${relay_addr##*/p2p/}"
pass "$relay relay listening at $relay_addr"
if [ "$relay" != c ]; then
  check "the $relay relay's PeerId is of key type ${INTEROP_KEY_TYPE:-ed25519}" peer_id_of_key_type "$relay_id"
fi

if [ -n "$p2pchat" ]; then
  # The chat program as the seed's README runs it (peer --relay), its
  # input a FIFO that we hold open (fd 3); its events are in its log
  # (stderr) and stdout.
  mkfifo "$work/chat.in"
  exec 3<>"$work/chat.in"
  bg_start listen $((START_WAIT + 3 * DIAL_TIMEOUT)) "$p2pchat" --without mdns --without kad \
    --set host.ephemeral_identity=true --set host.log=info \
    peer --listen /ip4/127.0.0.1/tcp/0 --relay "$relay_addr" <"$work/chat.in"
  listen_pid=$bg_pid
  if ! peer_wait_line "$work/listen.err" "reserved a slot on relay $relay_id" "$START_WAIT" "$listen_pid"; then
    fail "p2pchat: no reservation on the $relay relay within ${START_WAIT}s"
    finish
  fi
  listen_id="$(sed -n 's/^PeerId: //p' "$work/listen.out" | head -n1)"
  circuit="$relay_addr/p2p-circuit/p2p/$listen_id"
else
  set_cmd "$listener" relay-listen
  bg_start listen $((START_WAIT + 3 * DIAL_TIMEOUT)) "${peer_cmd[@]}" --relay "$relay_addr"
  listen_pid=$bg_pid
  if ! peer_wait_line "$work/listen.out" '^RESERVED /' "$START_WAIT" "$listen_pid"; then
    fail "$listener listener: no reservation on the $relay relay within ${START_WAIT}s"
    finish
  fi
  listen_id="$(sed -n 's/^PEERID //p' "$work/listen.out" | head -n1)"
  circuit="$(grep -m1 '^RESERVED /' "$work/listen.out" | cut -d' ' -f2)"
fi
check "$listener listener reserved: $circuit" \
  test "$circuit" = "$relay_addr/p2p-circuit/p2p/$listen_id"

# The limits announced in the reservation, where the listener reports them.
want_limit="duration=$LIMIT_DURATION data=$LIMIT_DATA"
case "$listener" in
  c | p2pchat)
    got="$(grep -m1 -o "reserved a slot on relay $relay_id .*circuit limit [^;]*" "$work/listen.err" |
      sed 's/.*circuit limit //')"
    check "$listener listener: the reservation's circuit limit is '$want_limit' (got '$got')" test "$got" = "$want_limit"
    ;;
  rust | go)
    got="$(grep -m1 '^RESERVED /' "$work/listen.out" | sed -n 's/.* limit //p')"
    check "$listener listener: the reservation's limit is '$want_limit' (got '$got')" test "$got" = "$want_limit"
    ;;
esac

# dial_run NAME ARGS...: relay-dial the listener through the relay.
dial_run() {
  local name="$1"
  shift
  set_cmd "$dialer" relay-dial
  timeout -k 3 $((DIAL_TIMEOUT + 15)) "${peer_cmd[@]}" "$circuit" --timeout "$DIAL_TIMEOUT" "$@" \
    >"$work/$name.out" 2>"$work/$name.err"
}

if [ -n "$p2pchat" ]; then
  dial_run dial --streams 0 --pings 3
else
  dial_run dial --streams 2 --bytes 16384 --pings 3
fi
rc=$?
dial_id="$(sed -n 's/^PEERID //p' "$work/dial.out" | head -n1)"
check "$dialer dialer: exit 0 after DONE (got exit $rc)" \
  test "$rc" = 0 -a -n "$(grep -x DONE "$work/dial.out")"
[ -n "$p2pchat" ] ||
  check "$dialer dialer: ECHO ok streams=2 bytes=16384 through the circuit" \
    grep -qx 'ECHO ok streams=2 bytes=16384' "$work/dial.out"
check "$dialer dialer: 3 pings through the circuit" \
  test "$(grep -c '^PING rtt_us=[0-9]' "$work/dial.out")" = 3
check "$dialer dialer: CONNECTED to the listener through the relay" \
  grep -q "^CONNECTED $listen_id $relay_addr/p2p-circuit\$" "$work/dial.out"
check "$dialer dialer: identify with the listener across the circuit" \
  grep -q "^IDENTIFIED $listen_id " "$work/dial.out"
if [ -n "$p2pchat" ]; then
  check "p2pchat: the relayed connection from the dialer" \
    grep -q "accepted a circuit from $dial_id via $relay_id" "$work/listen.err"
else
  check "$listener listener: CONNECTED from the dialer through the relay" \
    grep -q "^CONNECTED $dial_id .*/p2p/$relay_id/p2p-circuit\$" "$work/listen.out"
fi
if [ "$listener" = c ] || [ -n "$p2pchat" ]; then
  got="$(grep -m1 -o "accepted a circuit from $dial_id via $relay_id (limit [^)]*" "$work/listen.err" |
    sed 's/.*(limit //')"
  check "$listener listener: the circuit's limit is '$want_limit' (got '$got')" test "$got" = "$want_limit"
fi

if [ "$over_limit" = 1 ]; then
  # More than the data limit in one direction: the relay resets the
  # circuit; the dialer reports it (exit 1), it does not hang.
  dial_run dial2 --streams 1 --bytes 262144 --pings 0
  rc=$?
  check "over the data limit: the dialer fails cleanly (exit 1 with ECHO FAIL; got exit $rc)" \
    test "$rc" = 1 -a -n "$(grep -m1 '^ECHO FAIL' "$work/dial2.out")"
  dial_run dial3 --streams 1 --bytes 4096 --pings 1
  rc=$?
  check "after the cut circuit, a new one works (exit $rc)" \
    test "$rc" = 0 -a -n "$(grep -x DONE "$work/dial3.out")"
fi

check "$relay relay still running" kill -0 "$relay_pid"
check "$listener listener still running" kill -0 "$listen_pid"
finish
