#!/usr/bin/env bash
# autonat-netns.sh P2PCHAT - AutoNAT across a NAT router, in network
# namespaces (the lab of shared/netns/README.md), with p2pchat's built-in
# configurations: `p2pchat relay` (relay, AutoNAT server, DHT server) and
# `p2pchat peer --relay R` (AutoNAT client, kad mode = auto, relay
# reserve = auto).
#
# Topology (test-only addresses; nothing links to the machine's namespace):
#
#   anp (P) 198.18.0.5 ---------------------------------+
#   ans (S: relay) 198.18.0.1 --------------------------+-- ani: bridge "internet"
#   ann (N) 198.19.1.2 --lan-- anr (NAT) 198.18.0.2 ----+      198.18.0.0/24
#
# The router masquerades its LAN (`snat to 198.18.0.2`) and drops
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

if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: AutoNAT lab: needs root to create network namespaces"
  exit 77
fi
if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
  echo "SKIP: AutoNAT lab: 'ip netns' is not available (install iproute2)"
  exit 77
fi
if ! command -v nft >/dev/null; then
  echo "SKIP: AutoNAT lab: 'nft' is not available (install nftables; scripts/setup.sh --test does)"
  exit 77
fi

id=$$
I=ani-$id S=ans-$id P=anp-$id NAT=anr-$id N=ann-$id
all_ns=("$P" "$N" "$S" "$NAT" "$I")
work=$(mktemp -d /tmp/autonat-netns.XXXXXX)
declare -A pid_of=()

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
  if [[ -n "${AUTONAT_NETNS_KEEP:-}" ]]; then echo "outputs kept in $work"; else rm -rf "$work"; fi
}

fail() {
  echo "FAIL: $*"
  for f in "$work"/*.out "$work"/*.err; do
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

veth() {   # NS1 IF1 NS2 IF2
  local a="t$RANDOM$RANDOM" b="u$RANDOM$RANDOM"
  ip -n "$1" link add "$a" type veth peer name "$b" netns "$3" || return 1
  ip -n "$1" link set "$a" name "$2" || return 1
  ip -n "$3" link set "$b" name "$4" || return 1
  ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

on_internet() {   # NS ADDR BRIDGE-PORT
  new_ns "$1" || return 1
  veth "$I" "$3" "$1" eth0 || return 1
  ip -n "$I" link set "$3" master br0 || return 1
  ip -n "$1" addr add "$2/24" dev eth0
}

topology() {
  teardown
  new_ns "$I" || return 1
  ip -n "$I" link add br0 type bridge || return 1
  ip -n "$I" link set br0 type bridge stp_state 0 2>/dev/null
  ip -n "$I" link set br0 up
  nsx "$I" sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null
  on_internet "$S" 198.18.0.1 pserver || return 1
  on_internet "$P" 198.18.0.5 ppublic || return 1
  # The NAT router and the host behind it.
  new_ns "$NAT" || return 1
  nsx "$NAT" sysctl -qw net.ipv4.ip_forward=1 || return 1
  veth "$I" prouter "$NAT" wan || return 1
  ip -n "$I" link set prouter master br0 || return 1
  ip -n "$NAT" addr add 198.18.0.2/24 dev wan || return 1
  new_ns "$N" || return 1
  veth "$NAT" lan "$N" eth0 || return 1
  ip -n "$NAT" addr add 198.19.1.1/24 dev lan || return 1
  ip -n "$N" addr add 198.19.1.2/24 dev eth0 || return 1
  ip -n "$N" route add default via 198.19.1.1 || return 1
  nsx "$NAT" nft -f - <<EOF || return 1
table ip nat {
  chain postrouting_nat {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ip saddr 198.19.1.0/24 snat to 198.18.0.2
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
  # Packets can be dropped for a while after links come up.
  local ok=0
  for _ in $(seq 1 50); do
    if reaches "$N" 198.18.0.1 && reaches "$P" 198.18.0.1; then
      ok=1
      break
    fi
    sleep 0.1
  done
  ((ok)) || return 1
  # Sanity: nothing from the internet reaches N or its router unsolicited.
  reaches "$S" 198.19.1.2 && return 1
  reaches "$S" 198.18.0.2 && return 1
  reaches "$S" 198.18.0.5 || return 1
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
    "$p2pchat" --without mdns peer --listen /ip4/0.0.0.0/tcp/4001 --relay "$raddr" --room "autonat-$id" \
    <"$work/$name.in" >"$work/$name.out" 2>"$work/$name.err" &
  pid_of[$name]=$!
}

topology || fail "setting up the topology"
mkdir -p "$work"/home-{s,p,n} "$work"/data-{s,p,n}

ip netns exec "$S" env HOME="$work/home-s" XDG_DATA_HOME="$work/data-s" P2P_LOG="${AUTONAT_NETNS_LOG:-info,autonat=debug}" \
  "$p2pchat" --set plugin.autonat.allow=198.18.0.0/15 --set plugin.autonat.dial_timeout=5s relay --port 4001 \
  >"$work/s.out" 2>"$work/s.err" </dev/null &
pid_of[s]=$!
wait_for "$work/s.out" '/p2p/' 10 || fail "the relay did not start"
sid=$(grep -m1 -oE '/p2p/[A-Za-z0-9]+' "$work/s.out" | head -1)
raddr="/ip4/198.18.0.1/tcp/4001$sid"

t0=$SECONDS
start_peer "$P" p
start_peer "$N" n

# P: public, at its own address; a DHT server; no reservation.
wait_for "$work/p.err" 'autonat: reachability: public at /ip4/198\.18\.0\.5/tcp/4001' 20 ||
  fail "the peer on the internet segment was not reported public"
echo "P: public after $((SECONDS - t0)) s"
wait_for "$work/p.err" 'kad: server mode' 10 || fail "kad (mode = auto) did not become a server on the public peer"
# N: private (the dial-back to the router's address times out); reserves.
wait_for "$work/n.err" 'autonat: reachability: private' 30 ||
  fail "the peer behind the NAT was not reported private"
echo "N: private after $((SECONDS - t0)) s"
wait_for "$work/n.err" 'reserved a slot on relay' 20 || fail "the private peer made no relay reservation"
grep -q 'kad: server mode' "$work/n.err" && fail "the private peer's kad became a server"
grep -qE 'autonat: reachability: public' "$work/n.err" && fail "the private peer was reported public at some point"
grep -q 'reserved a slot on relay' "$work/p.err" && fail "the public peer reserved a relay slot"
grep -q 'no relay reservations (reserve = auto: we are publicly reachable)' "$work/p.err" ||
  fail "the public peer did not decide against reserving"
# The relay's server saw one dial-back succeed and one fail.
grep -qE "dial-back to .* at /ip4/198\.18\.0\.5/tcp/4001 succeeded" "$work/s.err" || fail "the relay did not dial P back"
grep -qE "dialing .* back at /ip4/198\.18\.0\.2/tcp/4001$" "$work/s.err" ||
  fail "the relay did not dial N back at its router's address (only)"
grep -qE "answering .*: E_DIAL_ERROR" "$work/s.err" || fail "the relay did not answer E_DIAL_ERROR to N"
grep -qE "dialing .* back at.*/ip4/198\.19\." "$work/s.err" && fail "the relay dialed a LAN address"

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
if grep -lE "AddressSanitizer|LeakSanitizer|runtime error" "$work"/*.err 2>/dev/null; then
  fail "sanitizer report"
fi
echo "PASS: AutoNAT across a NAT router (internet peer public, NATed peer private; kad and relay followed)"
exit 0
