#!/usr/bin/env bash
# chat-netns.sh P2PCHAT - the real p2pchat finds its LAN neighbours with
# mDNS and no flags, and only them.
#
# Topology (test-only addresses, no link to the machine's namespace):
#   chbr-<id>  a Linux bridge br0 (198.18.0.0/24; STP, multicast snooping
#              and bridge netfilter off)
#   cha-<id>   eth0 198.18.0.11/24 on the bridge, default via 198.18.0.1
#   chb-<id>   eth0 198.18.0.12/24 on the bridge, default via 198.18.0.1
#   chr-<id>   a router: eth0 198.18.0.1/24 on the bridge, eth1 198.19.1.1/24
#              (a point-to-point segment to chc), IPv4 forwarding on
#   chc-<id>   eth0 198.19.1.11/24, default via 198.19.1.1: reachable by
#              unicast (routed), but 224.0.0.251 is link-local multicast,
#              which no router forwards.
# Every namespace: lo up, rp_filter 0, no IPv6 DAD.
#
# Each of a, b and c runs `p2pchat peer --room <room>` with the built-in
# configuration (which loads mdns; a $HOME of its own, so each has its own
# identity file), stdin a FIFO the script keeps open. a and b must see each
# other join the room and exchange a line each way; c, started at the same
# time, must see nobody join within the time a and b needed (plus a margin),
# must not know a's or b's PeerId in its log, and /peers must show it has
# no connection; a's /peers must not show c. Peers listen on the built-in
# /ip4/0.0.0.0/tcp/0 and /ip6/::/tcp/0 when the namespace has IPv6, else
# on IPv4 only (--listen).
#
# CHAT_NETNS_KEEP=1 keeps the peers' outputs and logs (the directory is
# printed). Exit: 0 pass, 1 fail, 77 skipped (not root, or no `ip netns`).
set -u
chat=${1:?usage: chat-netns.sh P2PCHAT}
[[ -x $chat ]] || { echo "FAIL: $chat is not executable"; exit 1; }
source "$(cd "$(dirname "$0")" && pwd)/../../../tests/netns/lib.sh"

netns_init "chat netns test" chat-netns CHAT_NETNS_KEEP
id=$$
BR=chbr-$id A=cha-$id B=chb-$id R=chr-$id C=chc-$id
room=netns-room-$id
work=$NETNS_WORK
NETNS_CHAT=$chat
NETNS_CHAT_LOG=info,mdns=debug,swarm=debug
JOIN_LIMIT=30     # seconds a and b get to see each other join
CHAT_LIMIT=15     # seconds a line gets to reach the other side

fail() { netns_fail "$@"; }

# ---- set-up (tear-down first: idempotent) ------------------------------------
netns_teardown
for ns in "$BR" "$A" "$B" "$R" "$C"; do
  netns_new "$ns" ipv6 || fail "ip netns add $ns"
done
netns_bridge "$BR" || fail "bridge"

# on_bridge NS PORT IFNAME ADDR: a veth from NS's IFNAME to the bridge
on_bridge() {
  ip -n "$BR" link add "$2" type veth peer name "$3" netns "$1" || return 1
  ip -n "$BR" link set "$2" master br0 up || return 1
  ip -n "$1" addr add "$4" dev "$3" || return 1
  ip -n "$1" link set "$3" multicast on up
}
on_bridge "$A" pa eth0 198.18.0.11/24 || fail "namespace $A"
on_bridge "$B" pb eth0 198.18.0.12/24 || fail "namespace $B"
on_bridge "$R" pr eth0 198.18.0.1/24 || fail "router $R"
ip -n "$R" link add eth1 type veth peer name eth0 netns "$C" || fail "router $R to $C"
ip -n "$R" addr add 198.19.1.1/24 dev eth1 || fail "router address"
ip -n "$R" link set eth1 multicast on up
ip -n "$C" addr add 198.19.1.11/24 dev eth0 || fail "namespace $C"
ip -n "$C" link set eth0 multicast on up
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1 || fail "forwarding on $R"
ip -n "$A" route add default via 198.18.0.1 || fail "route on $A"
ip -n "$B" route add default via 198.18.0.1 || fail "route on $B"
ip -n "$C" route add default via 198.19.1.1 || fail "route on $C"

# Links come up asynchronously and drop packets for a moment: wait until
# both segments carry traffic end to end (unicast through the router too).
netns_wait_reach "$A" 198.18.0.12 || fail "$A cannot reach $B"
netns_wait_reach "$C" 198.18.0.11 || fail "$C cannot reach $A through the router (unicast must be routed)"
netns_wait_reach "$C" 198.18.0.12 || fail "$C cannot reach $B through the router"

# IPv6 in the namespaces: the built-in listen addresses need it (:: with lo up).
listen_args=()
if [[ $(ip netns exec "$A" cat /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null) != 0 ]] ||
  ! netns_wait_reach "$A" ::1; then
  listen_args=(--listen /ip4/0.0.0.0/tcp/0)
  echo "note: no IPv6 in the namespaces; peers listen on IPv4 only"
fi

# ---- peers -----------------------------------------------------------------------
start_peer() {   # NS NAME
  chat_start "$1" "$2" peer --room "$room" "${listen_args[@]}"
}

# wait_for NAME PATTERN SECONDS [log]
wait_for() { chat_wait "$@"; }

now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }   # bash >= 5

start_peer "$A" a || fail "cannot start a"
start_peer "$B" b || fail "cannot start b"
start_peer "$C" c || fail "cannot start c"
t0=$(now_ms)
ida=$(chat_peerid a) || fail "a did not start"
idb=$(chat_peerid b) || fail "b did not start"
idc=$(chat_peerid c) || fail "c did not start"
sa=$(chat_short "$ida") sb=$(chat_short "$idb") sc=$(chat_short "$idc")
echo "a: $ida (198.18.0.11)"
echo "b: $idb (198.18.0.12)"
echo "c: $idc (198.19.1.11, behind the router)"
for n in a b c; do
  wait_for "$n" "^Plugins:" 5 || fail "$n did not print its start-up summary"
  grep -qE "^Plugins:.* mdns" "$work/$n.out" || fail "$n runs without the mdns plugin"
  if ((${#listen_args[@]} == 0)); then
    grep -qE "^  /ip6/" "$work/$n.out" || fail "$n does not listen on IPv6 (the built-in /ip6/::/tcp/0)"
  fi
  grep -qE "^  /ip4/198\.1[89]\." "$work/$n.out" || fail "$n does not listen on its namespace's IPv4 address"
done
wait_for c "using interface eth0 \(198\.19\.1\.11\)" 10 log || fail "c's mdns did not use its eth0"

# ---- a and b: discovery with no flags, then chat ----
wait_for a "\] \* $sb joined the room$" "$JOIN_LIMIT" || fail "a did not see b join within $JOIN_LIMIT s"
wait_for b "\] \* $sa joined the room$" "$JOIN_LIMIT" || fail "b did not see a join within $JOIN_LIMIT s"
t_join=$(($(now_ms) - t0))
echo "a and b saw each other join room $room within $t_join ms of starting"
# Whoever discovers first dials; the other must still find the dialer
# through mDNS (its own query burst gets answered).
wait_for a "mdns: discovered peer $idb" "$JOIN_LIMIT" log || fail "a's log does not show b found by mdns"
wait_for b "mdns: discovered peer $ida" "$JOIN_LIMIT" log || fail "b's log does not show a found by mdns"
t_disc=$(($(now_ms) - t0))
echo "a and b both discovered each other with mDNS within $t_disc ms"

msg_a="hello from a $id $RANDOM"
msg_b="hello from b $id $RANDOM"
ts='^\[[0-9]{2}:[0-9]{2}:[0-9]{2}\] '
chat_say a "$msg_a"
wait_for b "$ts$sa: $msg_a\$" "$CHAT_LIMIT" || fail "b did not receive a's line"
chat_say b "$msg_b"
wait_for a "$ts$sb: $msg_b\$" "$CHAT_LIMIT" || fail "a did not receive b's line"
grep -q "$msg_a" "$work/c.out" && fail "c received a's line"
grep -q "$msg_b" "$work/c.out" && fail "c received b's line"
echo "a line typed in a appeared in b, and one typed in b in a"

# ---- c: nobody joins, nothing known of a and b ----
# c started with a and b: give it at least twice the time they needed
# (and 10 s) before judging.
need=$((2 * t_disc > 10000 ? 2 * t_disc : 10000))
while (($(now_ms) - t0 < need)); do sleep 0.2; done
grep -q "joined the room" "$work/c.out" && fail "c saw someone join: $(grep 'joined the room' "$work/c.out")"
grep -qE "$ida|$idb" "$work/c.log" && fail "c's log names a or b: $(grep -E "$ida|$idb" "$work/c.log" | head -3)"
grep -qE "$idc" "$work/a.log" "$work/b.log" && fail "a's or b's log names c"
peers_c=$(chat_ask c /peers) || fail "c did not answer /peers"
grep -qE "$ts\* 0 connection\(s\)$" <<<"$peers_c" || fail "c has connections: $peers_c"
grep -qE "$ts\* 0 peer\(s\) in room $room$" <<<"$peers_c" || fail "c sees peers in the room: $peers_c"
peers_a=$(chat_ask a /peers) || fail "a did not answer /peers"
grep -q "$sb " <<<"$peers_a" || fail "a's /peers does not list b: $peers_a"
grep -q "$sc" <<<"$peers_a" && fail "a's /peers lists c: $peers_a"
grep -qE "$ts\*   $sb /ip[46]/[^ ]+/tcp/[0-9]+ direct" <<<"$peers_a" || fail "a's connection to b is not direct: $peers_a"
echo "c (routed, not bridged) saw nobody join in $(($(now_ms) - t0)) ms and has no connection; a's peers do not include c"

# ---- stop: clean exits ----
chat_stop a b c || fail "peers did not exit cleanly after SIGTERM:$NETNS_BAD"
if grep -lE "AddressSanitizer|LeakSanitizer|runtime error" "$work"/*.log >/dev/null 2>&1; then
  fail "sanitizer reports in the peers' logs"
fi
echo "PASS: p2pchat peers find each other with mDNS on their LAN only, and chat"
exit 0
