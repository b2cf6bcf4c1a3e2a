#!/usr/bin/env bash
# holepunch-netns.sh DCUTR_PEER - DCUtR hole punching through two NATs, in
# network namespaces (the lab of shared/netns/README.md).
#
# Topology (test-only addresses; nothing links to the machine's namespace):
#
#   hpa (A) 198.19.1.2 --lan-- hn1 (NAT 1) 198.18.0.2 --+
#                                                        +-- hpi: bridge "internet"
#   hpb (B) 198.19.2.2 --lan-- hn2 (NAT 2) 198.18.0.3 --+      198.18.0.0/24
#                                          hpr (relay) 198.18.0.1 --+
#
# The routers masquerade their LAN (`snat to <wan address>`, which keeps
# source ports: an endpoint-independent mapping) and drop unsolicited
# inbound packets (forwarded or to themselves): only a simultaneous open
# gets through. A and B know no route to each other's LAN.
#
# DCUTR_PEER (tests/dcutr_peer.c) runs everywhere with transport-tcp,
# noise, yamux, identify, ping, relay and (A, B) dcutr with
# `allow = 198.18.0.0/15` (the lab's ranges are not public addresses).
# B reserves on the relay; A reserves too (so that it has an observed
# address from the relay), then dials B through the relay.
#
# 1. cone NAT: the relayed connection (inbound at B) must be replaced by a
#    direct one between the routers' public addresses (A sees B at
#    198.18.0.3:<B's port>), within 20 s. Repeated HOLEPUNCH_ROUNDS times
#    (default 3), each with fresh ports and a fresh topology.
# 2. symmetric NAT (`snat ... fully-random`: a new port per connection):
#    every attempt must fail, gracefully: B gives up after its attempts and
#    A stays on the relayed connection.
# 3. Delays (HOLEPUNCH_DELAY_MS, default 100 as test-plans' routers; 0 =
#    skip; needs iptables and python3): every packet entering a router
#    waits D ms before conntrack sees it (tests/nfqueue_delay.py behind an
#    iptables NFQUEUE rule in the raw table: there is no netem here), and
#    phase 1 runs again. The relayed RTT is then ~4D and the two SYNs
#    must cross thanks to the SYNC timing (RTT/2).
#
# HOLEPUNCH_KEEP=1 keeps the outputs and logs (the directory is printed).
# Exit: 0 pass, 1 fail, 77 skipped (not root, no `ip netns` or no `nft`).
set -u
peer=${1:?usage: holepunch-netns.sh DCUTR_PEER}
here=$(cd "$(dirname "$0")" && pwd)
rounds=${HOLEPUNCH_ROUNDS:-3}

if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: hole-punch lab: needs root to create network namespaces"
  exit 77
fi
if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
  echo "SKIP: hole-punch lab: 'ip netns' is not available (install iproute2)"
  exit 77
fi
if ! command -v nft >/dev/null; then
  echo "SKIP: hole-punch lab: 'nft' is not available (install nftables; scripts/setup.sh --test does)"
  exit 77
fi

id=$$
I=hpi-$id R=hpr-$id N1=hn1-$id N2=hn2-$id A=hpa-$id B=hpb-$id
all_ns=("$A" "$B" "$R" "$N1" "$N2" "$I")
work=$(mktemp -d /tmp/holepunch-netns.XXXXXX)
declare -A pid_of=()
runs=0

teardown() {
  for p in "${pid_of[@]}"; do kill "$p" 2>/dev/null; done
  pid_of=()
  for ns in "${all_ns[@]}"; do
    if ip netns list 2>/dev/null | grep -qw "$ns"; then
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
      ip netns del "$ns" 2>/dev/null
    fi
  done
  wait 2>/dev/null
}

cleanup_work() {
  if [[ -n "${HOLEPUNCH_KEEP:-}" ]]; then echo "outputs kept in $work"; else rm -rf "$work"; fi
}

fail() {
  echo "FAIL: $*"
  for f in "$work"/*.out "$work"/*.log; do
    [[ -f $f ]] || continue
    echo "---- $(basename "$f") (last 30 lines)"
    tail -n 30 "$f"
  done
  teardown
  cleanup_work
  trap - EXIT
  exit 1
}

trap 'teardown; cleanup_work' EXIT
trap 'exit 1' INT TERM

nsx() { ip netns exec "$@"; }

# reaches NS IP: a TCP SYN from NS to IP port 9 gets an answer (a refusal
# counts: the host is reachable; no ping binary needed).
reaches() {
  local out
  out=$(nsx "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1)
  [[ $? -eq 0 || $out == *"refused"* ]]
}

new_ns() {   # NS
  ip netns add "$1" || return 1
  ip -n "$1" link set lo up
  nsx "$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 2>/dev/null
  nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null
  return 0
}

# veth NS1 IF1 NS2 IF2
veth() {
  local a="t$RANDOM$RANDOM" b="u$RANDOM$RANDOM"
  ip -n "$1" link add "$a" type veth peer name "$b" netns "$3" || return 1
  ip -n "$1" link set "$a" name "$2" || return 1
  ip -n "$3" link set "$b" name "$4" || return 1
  ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

# router NS WAN-ADDR LAN-NET(/24 prefix, e.g. 198.19.1) HOST-NS SNAT-FLAGS
router() {
  local ns=$1 wan=$2 net=$3 host=$4 flags=$5
  new_ns "$ns" || return 1
  nsx "$ns" sysctl -qw net.ipv4.ip_forward=1 || return 1
  veth "$I" "p${ns%%-*}" "$ns" wan || return 1
  ip -n "$I" link set "p${ns%%-*}" master br0 || return 1
  ip -n "$ns" addr add "$wan/24" dev wan || return 1
  new_ns "$host" || return 1
  veth "$ns" lan "$host" eth0 || return 1
  ip -n "$ns" addr add "$net.1/24" dev lan || return 1
  ip -n "$host" addr add "$net.2/24" dev eth0 || return 1
  ip -n "$host" route add default via "$net.1" || return 1
  nsx "$ns" nft -f - <<EOF || return 1
table ip nat {
  chain postrouting_nat {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ip saddr $net.0/24 snat to $wan $flags
  }
}
table ip filter {
  chain forward_filter {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" accept
  }
  chain input_filter {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }
}
EOF
}

# topology cone|symmetric
topology() {
  teardown
  local flags=""
  [[ $1 == symmetric ]] && flags="fully-random"
  new_ns "$I" || return 1
  ip -n "$I" link add br0 type bridge || return 1
  ip -n "$I" link set br0 type bridge stp_state 0 2>/dev/null
  ip -n "$I" link set br0 up
  nsx "$I" sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null
  new_ns "$R" || return 1
  veth "$I" prelay "$R" eth0 || return 1
  ip -n "$I" link set prelay master br0 || return 1
  ip -n "$R" addr add 198.18.0.1/24 dev eth0 || return 1
  router "$N1" 198.18.0.2 198.19.1 "$A" "$flags" || return 1
  router "$N2" 198.18.0.3 198.19.2 "$B" "$flags" || return 1
  # Packets can be dropped for a while after links come up.
  local ok=0
  for _ in $(seq 1 50); do
    if reaches "$A" 198.18.0.1 && reaches "$B" 198.18.0.1; then
      ok=1
      break
    fi
    sleep 0.1
  done
  ((ok)) || return 1
  # Sanity: no way from A to B's LAN or router other than a punch.
  reaches "$A" 198.19.2.2 && return 1
  reaches "$A" 198.18.0.3 && return 1
  return 0
}

write_ini() {   # FILE LISTEN SECTIONS...
  local f=$1 listen=$2
  shift 2
  {
    printf '[host]\nephemeral_identity = true\nlisten = %s\n' "$listen"
    printf '[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin identify]\n[plugin ping]\n'
    for k in "$@"; do printf '%s\n' "$k"; done
  } >"$f"
}

start_peer() {   # NS NAME INI ARGS...
  local ns=$1 name=$2 ini=$3
  shift 3
  # Not through nsx: $! must be the peer itself (a function in the
  # background would be a subshell).
  ip netns exec "$ns" env P2P_LOG="${HOLEPUNCH_LOG:-info,dcutr=debug,relay=info}" \
    "$peer" -c "$ini" "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pid_of[$name]=$!
}

wait_for() {   # NAME PATTERN SECONDS
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    grep -qE "$2" "$work/$1.out" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

peerid_of() { wait_for "$1" '^PEERID ' 10 && sed -n 's/^PEERID //p' "$work/$1.out" | head -1; }

# Stop every peer (SIGTERM: exit 0 after a clean shutdown) and check that
# each exited cleanly, with no sanitizer report.
stop_all() {
  local n rc bad=""
  for n in "${!pid_of[@]}"; do kill -TERM "${pid_of[$n]}" 2>/dev/null; done
  for n in "${!pid_of[@]}"; do
    wait "${pid_of[$n]}" 2>/dev/null
    rc=$?
    [[ $n == nfq-* ]] && continue
    ((rc == 0)) || bad="$bad $n:$rc"
  done
  pid_of=()
  [[ -z $bad ]] || fail "peers did not exit cleanly:$bad"
  if grep -lE "AddressSanitizer|LeakSanitizer|runtime error" "$work"/*.log 2>/dev/null; then
    fail "sanitizer report"
  fi
}

# run_lab MODE PORT-A PORT-B: start relay, B, A (A dials B through the relay).
run_lab() {
  local mode=$1 pa=$2 pb=$3 dcutr_keys
  # Keep the previous run's outputs in a subdirectory.
  if compgen -G "$work/*.out" >/dev/null; then
    runs=$((runs + 1))
    mkdir -p "$work/run-$runs" && mv "$work"/*.out "$work"/*.log "$work"/*.ini "$work/run-$runs/" 2>/dev/null
  fi
  dcutr_keys=$'[plugin dcutr]\nallow = 198.18.0.0/15\ndial_timeout = 3s\ntimeout = 5s'
  write_ini "$work/relay.ini" /ip4/198.18.0.1/tcp/4001 $'[plugin relay]\nserver = true\nclient = false'
  start_peer "$R" relay "$work/relay.ini" --timeout 60
  local idr
  idr=$(peerid_of relay) || fail "the relay did not start"
  local raddr="/ip4/198.18.0.1/tcp/4001/p2p/$idr"
  write_ini "$work/b.ini" "/ip4/0.0.0.0/tcp/$pb, /p2p-circuit" "[plugin relay]"$'\n'"relays = $raddr" "$dcutr_keys"
  write_ini "$work/a.ini" "/ip4/0.0.0.0/tcp/$pa, /p2p-circuit" "[plugin relay]"$'\n'"relays = $raddr" "$dcutr_keys"
  start_peer "$B" b "$work/b.ini" --timeout 60
  idb=$(peerid_of b) || fail "B did not start"
  wait_for b '^RESERVED' 15 || fail "B made no reservation on the relay"
  start_peer "$A" a "$work/a.ini" --timeout 30 --dial-delay 1 --dial "$raddr/p2p-circuit/p2p/$idb"
  ida=$(peerid_of a) || fail "A did not start"
}

# ---- 1. cone NAT -----------------------------------------------------------------
ok=0
for round in $(seq 1 "$rounds"); do
  pa=$((4100 + round)) pb=$((4200 + round))
  topology cone || fail "setting up the cone-NAT topology"
  t0=$SECONDS
  run_lab cone "$pa" "$pb"
  wait_for a "^DIRECT $idb " 25 || fail "round $round: no direct connection replaced the relayed one"
  line=$(grep -m1 '^DIRECT ' "$work/a.out")
  [[ $line =~ ^DIRECT\ $idb\ /ip4/198\.18\.0\.3/tcp/$pb\  ]] ||
    fail "round $round: the direct connection is not to B's NAT address 198.18.0.3:$pb: $line"
  grep -q "CONNECTED $idb .* limited" "$work/a.out" || fail "round $round: A never had a relayed connection"
  grep -qE "direct connection with $ida \(initiator" "$work/b.log" || fail "round $round: B did not report the upgrade"
  wait "${pid_of[a]}"
  rc=$?
  unset 'pid_of[a]'
  ((rc == 0)) || fail "round $round: A exited with $rc"
  rtt=$(grep -m1 -oE 'relayed rtt [0-9.]+ ms' "$work/b.log" | head -1)
  echo "cone NAT round $round: direct ${line##* } ms after the dial (${rtt:-rtt ?}); $line"
  stop_all
  ok=$((ok + 1))
done
echo "cone NAT: $ok/$rounds hole punches succeeded"

# ---- 2. symmetric NAT --------------------------------------------------------------
topology symmetric || fail "setting up the symmetric-NAT topology"
run_lab symmetric 4301 4302
deadline=$((SECONDS + 40))
while ((SECONDS < deadline)); do
  grep -qE "no direct connection with $ida \(initiator\)" "$work/b.log" && break
  sleep 0.2
done
grep -qE "no direct connection with $ida \(initiator\): every attempt failed" "$work/b.log" ||
  fail "symmetric NAT: B did not give up after its attempts"
grep -q '^DIRECT ' "$work/a.out" && fail "symmetric NAT: a direct connection appeared"
attempts=$(grep -c "attempt [0-9]: dialing" "$work/b.log")
((attempts == 3)) || fail "symmetric NAT: B made $attempts attempts instead of 3"
grep -q "DISCONNECTED $idb limited" "$work/a.out" && fail "symmetric NAT: the relayed connection was lost"
echo "symmetric NAT: the punch failed gracefully after $attempts attempts; still relayed"
stop_all

# ---- 3. delays (optional) ------------------------------------------------------------
HOLEPUNCH_DELAY_MS=${HOLEPUNCH_DELAY_MS:-100}
if ((HOLEPUNCH_DELAY_MS > 0)); then
  if ! command -v iptables >/dev/null || ! command -v python3 >/dev/null; then
    echo "delays skipped: they need iptables and python3"
  else
    topology cone || fail "setting up the delayed topology"
    for ns in "$N1" "$N2"; do
      # Before conntrack and routing: the raw table.
      nsx "$ns" iptables -t raw -I PREROUTING -j NFQUEUE --queue-num 7 || fail "NFQUEUE rule"
      ip netns exec "$ns" python3 "$here/nfqueue_delay.py" 7 "$HOLEPUNCH_DELAY_MS" >"$work/nfq-$ns.log" 2>&1 &
      pid_of[nfq-$ns]=$!
    done
    for ns in "$N1" "$N2"; do
      for _ in $(seq 1 50); do
        grep -q "^nfqueue_delay: queue" "$work/nfq-$ns.log" 2>/dev/null && break
        sleep 0.1
      done
      grep -q "^nfqueue_delay: queue" "$work/nfq-$ns.log" || fail "the NFQUEUE program did not start in $ns"
    done
    run_lab cone 4401 4402
    wait_for a "^DIRECT $idb " 40 || fail "delayed: no direct connection"
    line=$(grep -m1 '^DIRECT ' "$work/a.out")
    [[ $line =~ ^DIRECT\ $idb\ /ip4/198\.18\.0\.3/tcp/4402\  ]] || fail "delayed: not to B's NAT address: $line"
    grep -q "relayed rtt [0-9.]* ms; dialing in" "$work/b.log" || fail "delayed: B did not time its dial"
    delayed="; delayed ${HOLEPUNCH_DELAY_MS} ms/router: ok"
    rtt=$(grep -m1 -oE 'relayed rtt [0-9.]+ ms' "$work/b.log" | head -1)
    echo "delayed (${HOLEPUNCH_DELAY_MS} ms per router): direct ${line##* } ms after the dial (${rtt:-rtt ?})"
    stop_all
  fi
fi

echo "PASS: hole punching through NATs (cone: $ok/$rounds; symmetric: failed gracefully${delayed:-})"
exit 0
