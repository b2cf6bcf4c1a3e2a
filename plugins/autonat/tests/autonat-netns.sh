#!/usr/bin/env bash
# autonat-netns.sh P2PCHAT - AutoNAT across a NAT router, in network
# namespaces (the lab of shared/netns/README.md), with p2pchat's built-in
# configurations: `p2pchat relay` (relay, AutoNAT server, DHT server) and
# `p2pchat peer --relay R` (AutoNAT client, kad mode = auto, relay
# reserve = auto).
#
# Topology: the lab of tests/netns/lib.sh (test-only addresses; nothing
# links to the machine's namespace) plus a peer on the internet bridge:
#
#   P 198.18.0.5 ---------------------------------+
#   S (relay) 198.18.0.1 -------------------------+-- bridge "internet" 198.18.0.0/24
#   N 198.19.1.2 --lan-- NAT 1 198.18.0.2 --------+
#
# The router masquerades its LAN (`snat to 198.18.0.2`: cone) and drops
# unsolicited inbound packets. The relay's AutoNAT server is told that the
# lab's reserved range may be dialed (allow = 198.18.0.0/15; the default,
# public addresses only, refuses it) and gives up a dial-back after 5 s.
#
#  - P, on the internet segment, must be reported public (at
#    198.18.0.5:4001), become a DHT server (kad mode = auto) and make no
#    relay reservation (reserve = auto);
#  - N, behind the NAT, must be reported private (the dial-back to the
#    router's address fails), stay a DHT client and reserve a slot on the
#    relay;
#  - everything shuts down cleanly.
#
# AUTONAT_NETNS_KEEP=1 keeps the outputs and logs (the directory is printed).
# Exit: 0 pass, 1 fail, 77 skipped (not root, no `ip netns` or no `nft`).
set -u
p2pchat=${1:?usage: autonat-netns.sh P2PCHAT}
source "$(cd "$(dirname "$0")" && pwd)/../../../tests/netns/lib.sh"

netns_init "AutoNAT lab" autonat-netns AUTONAT_NETNS_KEEP
netns_need nft "install nftables; scripts/setup.sh --test does"
netns_lab_names an
NP=anp-$$
work=$NETNS_WORK
declare -A pid_of=()
fail() { netns_fail "$@"; }

# The hole-punch lab (relay R, A behind NAT 1; B behind NAT 2 is not
# used) and a public peer P on the internet bridge.
topology() {
  netns_lab cone drop || return 1
  netns_new "$NP" || return 1
  netns_veth "$NI" ppublic "$NP" eth0 || return 1
  ip -n "$NI" link set ppublic master br0 || return 1
  ip -n "$NP" addr add 198.18.0.5/24 dev eth0 || return 1
  netns_wait_reach "$NP" 198.18.0.1 || return 1
  # Nothing from the internet reaches A or its router unsolicited.
  netns_reaches "$NR" 198.19.1.2 && return 1
  netns_reaches "$NR" 198.18.0.2 && return 1
  return 0
}

wait_for() {   # FILE PATTERN SECONDS
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

start_peer() {   # NS NAME: a chat peer with stdin from a FIFO kept open here
  local ns=$1 name=$2 fd
  mkfifo "$work/$name.in"
  exec {fd}<>"$work/$name.in"   # never closed: the peer must not see EOF
  ip netns exec "$ns" env HOME="$work/home-$name" XDG_DATA_HOME="$work/data-$name" \
    P2P_LOG="${AUTONAT_NETNS_LOG:-info,autonat=debug}" \
    "$p2pchat" --without mdns peer --listen /ip4/0.0.0.0/tcp/4001 --relay "$raddr" --room "autonat-$$" \
    <"$work/$name.in" >"$work/$name.out" 2>"$work/$name.log" &
  pid_of[$name]=$!
}

topology || fail "setting up the topology"
mkdir -p "$work"/home-{s,p,n} "$work"/data-{s,p,n}

ip netns exec "$NR" env HOME="$work/home-s" XDG_DATA_HOME="$work/data-s" P2P_LOG="${AUTONAT_NETNS_LOG:-info,autonat=debug}" \
  "$p2pchat" --set plugin.autonat.allow=198.18.0.0/15 --set plugin.autonat.dial_timeout=5s relay --port 4001 \
  >"$work/s.out" 2>"$work/s.log" </dev/null &
pid_of[s]=$!
wait_for "$work/s.out" '/p2p/' 10 || fail "the relay did not start"
sid=$(grep -m1 -oE '/p2p/[A-Za-z0-9]+' "$work/s.out" | head -1)
raddr="/ip4/198.18.0.1/tcp/4001$sid"

t0=$SECONDS
start_peer "$NP" p
start_peer "$NA" n

# P: public, at its own address; a DHT server; no reservation.
wait_for "$work/p.log" 'autonat: reachability: public at /ip4/198\.18\.0\.5/tcp/4001' 20 ||
  fail "the peer on the internet segment was not reported public"
echo "P: public after $((SECONDS - t0)) s"
wait_for "$work/p.log" 'kad: server mode' 10 || fail "kad (mode = auto) did not become a server on the public peer"
# N: private (the dial-back to the router's address times out); reserves.
wait_for "$work/n.log" 'autonat: reachability: private' 30 ||
  fail "the peer behind the NAT was not reported private"
echo "N: private after $((SECONDS - t0)) s"
wait_for "$work/n.log" 'reserved a slot on relay' 20 || fail "the private peer made no relay reservation"
grep -q 'kad: server mode' "$work/n.log" && fail "the private peer's kad became a server"
grep -qE 'autonat: reachability: public' "$work/n.log" && fail "the private peer was reported public at some point"
grep -q 'reserved a slot on relay' "$work/p.log" && fail "the public peer reserved a relay slot"
grep -q 'no relay reservations (reserve = auto: we are publicly reachable)' "$work/p.log" ||
  fail "the public peer did not decide against reserving"
# The relay's server saw one dial-back succeed and one fail.
grep -qE "dial-back to .* at /ip4/198\.18\.0\.5/tcp/4001 succeeded" "$work/s.log" || fail "the relay did not dial P back"
grep -qE "dialing .* back at /ip4/198\.18\.0\.2/tcp/4001$" "$work/s.log" ||
  fail "the relay did not dial N back at its router's address (only)"
grep -qE "answering .*: E_DIAL_ERROR" "$work/s.log" || fail "the relay did not answer E_DIAL_ERROR to N"
grep -qE "dialing .* back at.*/ip4/198\.19\." "$work/s.log" && fail "the relay dialed a LAN address"

# Clean shutdown, no sanitizer report.
bad=""
for n in p n s; do kill -TERM "${pid_of[$n]}" 2>/dev/null; done
for n in p n s; do
  wait "${pid_of[$n]}" 2>/dev/null
  rc=$?
  ((rc == 0)) || bad="$bad $n:$rc"
done
pid_of=()
[[ -z $bad ]] || fail "peers did not exit cleanly:$bad"
if grep -lE "AddressSanitizer|LeakSanitizer|runtime error" "$work"/*.log 2>/dev/null; then
  fail "sanitizer report"
fi
echo "PASS: AutoNAT across a NAT router (internet peer public, NATed peer private; kad and relay followed)"
exit 0
