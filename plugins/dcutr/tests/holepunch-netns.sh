#!/usr/bin/env bash
# holepunch-netns.sh DCUTR_PEER - DCUtR hole punching through two NATs, in
# network namespaces (the lab of shared/netns/README.md).
#
# The lab of tests/netns/lib.sh (netns_lab): relay R 198.18.0.1 on the
# "internet" bridge 198.18.0.0/24, A 198.19.1.2 behind NAT router N1
# (198.18.0.2), B 198.19.2.2 behind N2 (198.18.0.3). Here the routers
# drop unsolicited inbound packets (forwarded or to themselves): only a
# simultaneous open gets through. tests/netns/chat-holepunch.sh runs the
# same lab with replying routers and the real p2pchat.
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
#    waits D ms before conntrack sees it (netns_delay: tests/netns/
#    nfqueue_delay.py behind an iptables NFQUEUE rule; no netem here), and
#    phase 1 runs again. The relayed RTT is then ~4D and the two SYNs
#    must cross thanks to the SYNC timing (RTT/2).
#
# HOLEPUNCH_KEEP=1 keeps the outputs and logs (the directory is printed).
# Exit: 0 pass, 1 fail, 77 skipped (not root, no `ip netns` or no `nft`).
set -u
peer=${1:?usage: holepunch-netns.sh DCUTR_PEER}
rounds=${HOLEPUNCH_ROUNDS:-3}
source "$(cd "$(dirname "$0")" && pwd)/../../../tests/netns/lib.sh"

netns_init "hole-punch lab" holepunch-netns HOLEPUNCH_KEEP
netns_need nft "install nftables; scripts/setup.sh --test does"
netns_lab_names hp
work=$NETNS_WORK
declare -A pid_of=()
runs=0

fail() {
  pid_of=()
  netns_fail "$@"
}

# topology cone|symmetric: the lab with routers that drop unsolicited
# inbound packets (a fresh one: no NAT state of an earlier round).
topology() {
  pid_of=()
  netns_lab "$1" drop
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
  # $! must be the peer itself (a function in the background would be a
  # subshell).
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
  start_peer "$NR" relay "$work/relay.ini" --timeout 60
  local idr
  idr=$(peerid_of relay) || fail "the relay did not start"
  local raddr="/ip4/198.18.0.1/tcp/4001/p2p/$idr"
  write_ini "$work/b.ini" "/ip4/0.0.0.0/tcp/$pb, /p2p-circuit" "[plugin relay]"$'\n'"relays = $raddr" "$dcutr_keys"
  write_ini "$work/a.ini" "/ip4/0.0.0.0/tcp/$pa, /p2p-circuit" "[plugin relay]"$'\n'"relays = $raddr" "$dcutr_keys"
  start_peer "$NB" b "$work/b.ini" --timeout 60
  idb=$(peerid_of b) || fail "B did not start"
  wait_for b '^RESERVED' 15 || fail "B made no reservation on the relay"
  start_peer "$NA" a "$work/a.ini" --timeout 30 --dial-delay 1 --dial "$raddr/p2p-circuit/p2p/$idb"
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
    netns_lab_delays "$HOLEPUNCH_DELAY_MS" 0 || fail "the NFQUEUE delay did not start"
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
