#!/usr/bin/env bash
# DCUtR interop in the namespace lab: our C node and a reference
# implementation's peer, each behind its own NAT router, upgrade a relayed
# connection to a direct one by hole punching.
#
# Usage: tests/interop/check-dcutr.sh DCUTR_PEER IMPL [RELAY]
#   DCUTR_PEER  <build>/bin/dcutr_peer (plugins/dcutr/tests/dcutr_peer.c)
#   IMPL        rust, go or js (its `dcutr` subcommand: like rust-libp2p's
#               examples/dcutr)
#   RELAY       c, rust, go or js (default: IMPL): who runs the relay
#
# The lab of tests/netns/lib.sh: relay R 198.18.0.1 on the "internet"
# bridge 198.18.0.0/24; C behind NAT router N1 (LAN 198.19.1.0/24, public
# 198.18.0.2), IMPL behind N2 (LAN 198.19.2.0/24, public 198.18.0.3);
# endpoint-independent NAT (`snat`, ports kept), routers that drop
# unsolicited inbound packets: only a simultaneous open gets through.
# The "internet" 198.18.0.0/16 is what both sides must treat as public:
# C with `[plugin dcutr] allow = 198.18.0.0/16`, go with --public-net
# 198.18.0.0/16 (go-libp2p counts the whole benchmarking range 198.18/15 as
# unroutable and would not even start its hole-punch service); rust needs
# nothing; js cannot be told (see below).
#
# Two directions, each in a fresh lab with fresh ports:
#   c-dials    IMPL listens through the relay (`dcutr --mode listen`: a
#              reservation), C dials it through the relay: IMPL received
#              the relayed connection, so IMPL starts DCUtR (CONNECT, SYNC)
#              and C dials on SYNC;
#   c-listens  C reserves, IMPL dials C through the relay
#              (`dcutr --mode dial`): C starts DCUtR.
# Success (rust, go): both print DIRECT for the other (only direct
# connections left: the relayed one is closed), C's to 198.18.0.3:<IMPL's
# port> and IMPL's to 198.18.0.2:<C's port> (the routers' public
# addresses, ports kept: both dialed from their listening ports), within
# 30 s.
# js (@libp2p/dcutr 3.0.28) punches only addresses that @libp2p/utils'
# isPrivate() calls public, a fixed list with 198.18.0.0/15 in it, and
# dials from ephemeral ports (no SO_REUSEPORT in Node 20), so a punch
# through these NATs cannot succeed. Checked instead: the DCUtR exchange
# happens on the wire (C sent and received CONNECT), js gives up, and the
# relayed connection stays up on both sides (chat would stay on the
# relay).
#
# DCUTR_FILTER=reply: routers that answer unsolicited packets themselves
# (RST), as test-plans' do; DCUTR_DELAY_MS=D: test-plans' delays, D ms per
# router crossing and D/4 into the relay (100 and 25 there). Not in CI.
# DCUTR_KEEP=1 keeps the outputs (the directory is printed).
# Exit: 0 pass, 1 fail, 77 skipped (not root, no `ip netns` or `nft`).
set -u
peer=${1:?usage: check-dcutr.sh DCUTR_PEER IMPL [RELAY]}
impl=${2:?usage: check-dcutr.sh DCUTR_PEER IMPL [RELAY]}
relay_impl=${3:-$impl}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../netns/lib.sh
source "$here/../netns/lib.sh"
# shellcheck source=peers.sh
source "$here/peers.sh"

case "$impl" in rust | go | js) ;; *) echo "usage: check-dcutr.sh DCUTR_PEER rust|go|js [RELAY]" >&2; exit 2 ;; esac
case "$relay_impl" in c | rust | go | js) ;; *) echo "bad RELAY '$relay_impl'" >&2; exit 2 ;; esac
netns_init "dcutr interop ($impl)" dcutr-interop DCUTR_KEEP
netns_need nft "install nftables; scripts/setup.sh --test does"
peer_check "$impl" || exit 1
[[ $relay_impl == c || $relay_impl == "$impl" ]] || peer_check "$relay_impl" || exit 1
netns_lab_names dc
work=$NETNS_WORK
readonly PUBLIC=198.18.0.0/16 RELAY_IP=198.18.0.1 RELAY_PORT=4001 WAIT=30
filter=${DCUTR_FILTER:-drop} delay_ms=${DCUTR_DELAY_MS:-0}
[[ $filter == drop || $filter == reply ]] || { echo "DCUTR_FILTER must be drop or reply" >&2; exit 2; }
if ((delay_ms > 0)); then
  netns_need iptables "the delays need it"
  netns_need python3 "the delays need it"
fi
declare -A pid_of=()
peer_cmd=()
passed=0

fail() {
  local n
  for n in "${!pid_of[@]}"; do kill -TERM "${pid_of[$n]}" 2>/dev/null; done
  pid_of=()
  netns_fail "$@"
}
pass() {
  echo "PASS $*"
  passed=$((passed + 1))
}

# start NS NAME CMD...: CMD in namespace NS, output in NAME.out / NAME.log.
start() {
  local ns=$1 name=$2
  shift 2
  ip netns exec "$ns" env P2P_LOG="${DCUTR_LOG:-info,dcutr=debug,relay=info}" \
    "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pid_of[$name]=$!
}

wait_for() { # NAME REGEX SECONDS
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    grep -qE -- "$2" "$work/$1.out" 2>/dev/null && return 0
    if ! kill -0 "${pid_of[$1]}" 2>/dev/null; then break; fi
    sleep 0.1
  done
  grep -qE -- "$2" "$work/$1.out" 2>/dev/null
}

wait_log() { # NAME REGEX SECONDS: in NAME.log
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    grep -qE -- "$2" "$work/$1.log" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

peerid_of() { wait_for "$1" '^PEERID ' 30 && sed -n 's/^PEERID //p' "$work/$1.out" | head -n1; }

# Stop every process (our C node must exit 0, with no sanitizer report),
# keep this run's outputs in a subdirectory.
stop_all() {
  local n rc bad=""
  for n in "${!pid_of[@]}"; do kill -TERM "${pid_of[$n]}" 2>/dev/null; done
  for n in "${!pid_of[@]}"; do
    wait "${pid_of[$n]}" 2>/dev/null
    rc=$?
    [[ $n == c || ($n == relay && $relay_impl == c) ]] && ((rc != 0)) && bad="$bad $n:$rc"
  done
  pid_of=()
  [[ -z $bad ]] || fail "$1: C exited uncleanly:$bad"
  grep -qE "AddressSanitizer|LeakSanitizer|runtime error" "$work/c.log" && fail "$1: sanitizer report in c.log"
  mkdir -p "$work/$1" && mv "$work"/*.out "$work"/*.log "$work"/*.ini "$work/$1/" 2>/dev/null
  return 0
}

# c_ini FILE PORT: C's configuration (dcutr_peer -c): listening on PORT and
# through the relay (a reservation: it also gives C its observed address).
c_ini() {
  cat >"$1" <<EOF
[host]
ephemeral_identity = true
listen = /ip4/0.0.0.0/tcp/$2, /p2p-circuit
[plugin transport-tcp]
[plugin noise]
[plugin yamux]
[plugin identify]
[plugin ping]
[plugin relay]
relays = $relay_addr
[plugin dcutr]
allow = $PUBLIC
dial_timeout = 3s
timeout = 5s
EOF
}

# impl_dcutr ARGS...: IMPL's dcutr subcommand in B's namespace.
impl_dcutr() {
  set_peer_cmd "$impl" dcutr
  local extra=()
  [[ $impl == go ]] && extra=(--public-net "$PUBLIC")
  start "$NB" impl "${peer_cmd[@]}" --relay-address "$relay_addr" --ip 0.0.0.0 --timeout 90 "${extra[@]}" "$@"
}

# start_relay: the relay in R's namespace; sets relay_addr.
start_relay() {
  if [[ $relay_impl == c ]]; then
    printf '[host]\nephemeral_identity = true\nlisten = /ip4/%s/tcp/%s\n%s\n[plugin relay]\nserver = true\nclient = false\n' \
      "$RELAY_IP" "$RELAY_PORT" $'[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin identify]\n[plugin ping]' \
      >"$work/relay.ini"
    start "$NR" relay "$peer" -c "$work/relay.ini" --timeout 120
  else
    set_peer_cmd "$relay_impl" relay
    start "$NR" relay "${peer_cmd[@]}" --ip "$RELAY_IP" --port "$RELAY_PORT"
  fi
  wait_for relay '^LISTEN /' 30 || fail "the $relay_impl relay did not start"
  relay_addr=$(grep -m1 '^LISTEN /' "$work/relay.out" | cut -d' ' -f2)
}

# check_direct WHO-NAME PEER-ID WANT-ADDR: WHO printed DIRECT for PEER at
# WANT-ADDR within WAIT s.
check_direct() {
  local line
  wait_for "$1" "^DIRECT $2 " "$WAIT" || fail "$dir: $1 has no direct connection to $2 (or still a relayed one)"
  line=$(grep -m1 "^DIRECT $2 " "$work/$1.out")
  [[ $line == "DIRECT $2 $3 "* ]] || fail "$dir: $1's direct connection is not to $3: $line"
  pass "$dir: $1 connected directly to $3, the relayed connection closed (DIRECT after ${line##* } ms)"
}

# check_stays_relayed: js. The DCUtR exchange happens and fails cleanly
# (c-dials: js, the initiator, sends CONNECT with only its listen and
# circuit addresses, none public, and C refuses; c-listens: C sends
# CONNECT and js finds nothing it may dial in it), then the relayed
# connection stays, on both sides.
check_stays_relayed() {
  local what
  wait_for c "^CONNECTED $id_impl .* limited" "$WAIT" || fail "$dir: C has no relayed connection with js"
  if [[ $dir == c-dials ]]; then
    what="$id_impl: received CONNECT"
  else
    what="$id_impl: sent CONNECT"
  fi
  wait_log c "no direct connection with $id_impl" "$WAIT" ||
    fail "$dir: no DCUtR attempt with js ended (C log: no 'no direct connection with $id_impl')"
  grep -q "$what" "$work/c.log" || fail "$dir: C's log has no '$what'"
  sleep 3   # js's remaining attempts, and time for a wrong close
  grep -q "^DIRECT " "$work/c.out" && fail "$dir: a direct connection appeared with js"
  grep -q "^DISCONNECTED $id_impl limited" "$work/c.out" && fail "$dir: C lost the relayed connection with js"
  grep -q "^DISCONNECTED $id_c limited" "$work/impl.out" && fail "$dir: js lost the relayed connection"
  kill -0 "${pid_of[impl]}" 2>/dev/null || fail "$dir: the js peer exited"
  pass "$dir: DCUtR with js on the wire ($what; js offers and dials public addresses only): no punch, relayed connection kept"
}

run() { # DIRECTION PORT-C PORT-IMPL
  dir=$1
  local pc=$2 pi=$3
  netns_lab cone "$filter" || fail "setting up the lab"
  if ((delay_ms > 0)); then
    netns_lab_delays "$delay_ms" $((delay_ms / 4)) || fail "the NFQUEUE delays did not start"
  fi
  start_relay
  c_ini "$work/c.ini" "$pc"
  if [[ $dir == c-dials ]]; then
    impl_dcutr --mode listen --port "$pi"
    id_impl=$(peerid_of impl) || fail "$dir: the $impl peer did not start"
    wait_for impl '^RESERVED ' "$WAIT" || fail "$dir: the $impl peer made no reservation on the relay"
    start "$NA" c "$peer" -c "$work/c.ini" --timeout 90 --stay --dial-delay 1 \
      --dial "$relay_addr/p2p-circuit/p2p/$id_impl"
    id_c=$(peerid_of c) || fail "$dir: C did not start"
  else
    start "$NA" c "$peer" -c "$work/c.ini" --timeout 90
    id_c=$(peerid_of c) || fail "$dir: C did not start"
    wait_for c '^RESERVED' "$WAIT" || fail "$dir: C made no reservation on the relay"
    impl_dcutr --mode dial --remote-peer-id "$id_c" --port "$pi"
    id_impl=$(peerid_of impl) || fail "$dir: the $impl peer did not start"
  fi
  if [[ $impl == js ]]; then
    check_stays_relayed
  else
    check_direct c "$id_impl" "/ip4/198.18.0.3/tcp/$pi"
    check_direct impl "$id_c" "/ip4/198.18.0.2/tcp/$pc"
    grep -q "^CONNECTED $id_impl .* limited" "$work/c.out" || fail "$dir: C never had a relayed connection"
  fi
  stop_all "$dir"
}

run c-dials 4101 4201
run c-listens 4102 4202
echo "PASS: DCUtR with $impl (relay: $relay_impl): $passed checks"
exit 0
