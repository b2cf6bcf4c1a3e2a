#!/usr/bin/env bash
# mdns-netns.sh MDNS_PEER - mDNS discovery between network namespaces.
#
# Topology (test-only addresses, no link to the machine's namespace):
#   mdnsbr-<id>: a Linux bridge (multicast snooping off)
#   mdnsa-<id>:  eth0 198.18.0.11/24, 2001:db8::11/64 on the bridge
#   mdnsb-<id>:  eth0 198.18.0.12/24, 2001:db8::12/64 on the bridge
# Each host namespace has lo up, eth0 up and a route for 224.0.0.0/4.
# MDNS_PEER (tests/mdns_peer.c) runs with transport-tcp, noise, yamux,
# identify and mdns (query_interval 2s, rescan_interval 1s).
#
# 1. IPv4 (/ip4/0.0.0.0/tcp/0). b's eth0 is down when both start and comes
#    up later: b must pick the interface up at a rescan. Then, within
#    bounded times: each peer discovers the other (source "mdns") and is
#    connected to it over 198.18.0.0/24; no loopback address is announced;
#    b's eth0 going down and up again is followed (interface gone, then
#    used again); when b stops, a receives its goodbye; both exit cleanly.
# 2. IPv6 only (ipv4 = false, ipv6 = true, interfaces = eth0,
#    /ip6/::/tcp/0): the same discovery and connection over [ff02::fb]
#    and 2001:db8::/64.
# 3. Optional, other libp2p implementations' mDNS, during phase 1, each in
#    turn in a third namespace (198.18.0.13): it and both of ours must
#    discover each other, and it and a must connect:
#    - MDNS_JS_DIR: a directory whose node_modules has libp2p 3.3.11 and
#      @libp2p/mdns 12.0.32 (js-libp2p, see js-mdns-peer.mjs);
#    - MDNS_RUST_PEER, MDNS_GO_PEER: the rust-libp2p and go-libp2p interop
#      peers (tests/interop/{rust,go}), run as `interop-peer mdns`.
#
# MDNS_NETNS_KEEP=1 keeps the peers' outputs and logs (the directory is
# printed). Exit: 0 pass, 1 fail, 77 skipped (not root, or no `ip netns`).
set -u
peer=${1:?usage: mdns-netns.sh MDNS_PEER}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../../tests/netns/lib.sh"

netns_init "mdns netns test" mdns-netns MDNS_NETNS_KEEP
id=$$
BR=mdnsbr-$id A=mdnsa-$id B=mdnsb-$id C=mdnsc-$id
work=$NETNS_WORK
declare -A pid_of=()

fail() {
  pid_of=()
  netns_fail "$@"
}

# ---- set-up (tear-down first: idempotent) ----------------------------------
netns_teardown
netns_new "$BR" ipv6 || fail "ip netns add"
netns_bridge "$BR" || fail "bridge"

add_host() {   # NS IPV4 IPV6
  local ns=$1 port=p${1##*-}${1:4:1}
  # No duplicate address detection (netns_new ipv6: addresses are usable
  # at once); keep IPv6 addresses while a link is down (phase 1 takes one
  # down and up).
  netns_new "$ns" ipv6 || return 1
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.keep_addr_on_down=1 net.ipv6.conf.default.keep_addr_on_down=1 2>/dev/null
  ip -n "$BR" link add "$port" type veth peer name eth0 netns "$ns" || return 1
  ip -n "$BR" link set "$port" master br0 up || return 1
  ip -n "$ns" addr add "$2/24" dev eth0 || return 1
  ip -n "$ns" addr add "$3/64" dev eth0 nodad || return 1
  ip -n "$ns" link set eth0 multicast on up || return 1
  ip -n "$ns" route add 224.0.0.0/4 dev eth0 || return 1
  return 0
}
add_host "$A" 198.18.0.11 2001:db8::11 || fail "namespace $A"
add_host "$B" 198.18.0.12 2001:db8::12 || fail "namespace $B"
ip -n "$B" link set eth0 down

wait_link() {   # NS
  for _ in $(seq 1 50); do
    [[ $(ip netns exec "$1" cat /sys/class/net/eth0/operstate 2>/dev/null) == up ]] && return 0
    sleep 0.1
  done
  return 1
}
wait_link "$A" || fail "eth0 of $A did not come up"

write_ini() {   # FILE LISTEN MDNS-KEYS...
  local f=$1 listen=$2
  shift 2
  {
    printf '[host]\nephemeral_identity = true\nlisten = %s\n' "$listen"
    printf '[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin identify]\n'
    printf '[plugin mdns]\nquery_interval = 2s\nrescan_interval = 1s\n'
    for k in "$@"; do printf '%s\n' "$k"; done
  } >"$f"
}
write_ini "$work/v4.ini" /ip4/0.0.0.0/tcp/0
write_ini "$work/v6.ini" /ip6/::/tcp/0 "ipv4 = false" "ipv6 = true" "interfaces = eth0"

start_peer() {   # NS NAME INI
  ip netns exec "$1" env P2P_LOG=info,mdns=debug,swarm=debug \
    "$peer" -c "$3" --timeout 100 >"$work/$2.out" 2>"$work/$2.log" &
  pid_of[$2]=$!
}

peerid_of() {   # NAME
  for _ in $(seq 1 100); do
    local l
    l=$(grep -m1 '^PEERID ' "$work/$1.out" 2>/dev/null) && { echo "${l#PEERID }"; return 0; }
    sleep 0.1
  done
  return 1
}

# wait_for NAME PATTERN SECONDS [FILE-SUFFIX]
wait_for() {
  local deadline=$((SECONDS + $3)) f="$work/$1.${4:-out}"
  while ((SECONDS < deadline)); do
    grep -qE "$2" "$f" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# count NAME PATTERN: matching lines of NAME's log
count() { grep -cE "$2" "$work/$1.log" 2>/dev/null; }

stop_peer() {   # NAME
  local p=${pid_of[$1]} rc
  kill -TERM "$p"
  wait "$p"
  rc=$?
  unset "pid_of[$1]"
  ((rc == 0)) || fail "$1 exited with status $rc after SIGTERM"
}

# ---- 1. IPv4 ------------------------------------------------------------------
start_peer "$A" a "$work/v4.ini"
start_peer "$B" b "$work/v4.ini"
ida=$(peerid_of a) || fail "peer a did not start"
idb=$(peerid_of b) || fail "peer b did not start"
echo "peer a: $ida (198.18.0.11)"
echo "peer b: $idb (198.18.0.12, eth0 down at start)"
sleep 1
(($(count b "using interface eth0") == 0)) || fail "b used eth0 while it was down"
ip -n "$B" link set eth0 up
wait_link "$B" || fail "eth0 of $B did not come up"

t0=$SECONDS
wait_for b "using interface eth0 \(198\.18\.0\.12\)" 10 log || fail "b did not pick up eth0 when it came up"
wait_for a "^DISCOVERED $idb mdns" 20 || fail "a did not discover b"
wait_for b "^DISCOVERED $ida mdns" 20 || fail "b did not discover a"
wait_for a "^CONNECTED $idb /ip4/198\.18\.0\.12/tcp/" 20 || fail "a is not connected to b"
wait_for b "^CONNECTED $ida /ip4/198\.18\.0\.11/tcp/" 20 || fail "b is not connected to a"
echo "IPv4: b's interface picked up, discovered and connected both ways in $((SECONDS - t0)) s"
grep -q "discovered peer $idb" "$work/a.log" || fail "a's log does not name b"
grep -A3 "discovered peer" "$work/a.log" "$work/b.log" | grep -qE "127\.0\.0\.1" &&
  fail "a loopback address was announced"

ip -n "$B" link set eth0 down
wait_for b "interface eth0 \(198\.18\.0\.12\) is gone" 10 log || fail "b did not notice eth0 going down"
ip -n "$B" link set eth0 up
for _ in $(seq 1 50); do
  (($(count b "using interface eth0 \(198\.18\.0\.12\)") >= 2)) && break
  sleep 0.2
done
(($(count b "using interface eth0 \(198\.18\.0\.12\)") >= 2)) || fail "b did not use eth0 again"
echo "IPv4: b followed eth0 going down and up"

# foreign_run NAME CMD...: the peer CMD (an `mdns`-style peer of another
# libp2p: PEERID, DISCOVERED and CONNECTED lines) in namespace C
# (198.18.0.13) during phase 1: it and both of ours must discover each
# other, and it and a must connect, over 198.18.0.0/24.
foreign_run() {
  local name=$1 idc
  shift
  if ! ip netns list | grep -qw "$C"; then
    add_host "$C" 198.18.0.13 2001:db8::13 || fail "namespace $C"
    wait_link "$C" || fail "eth0 of $C did not come up"
  fi
  ip netns exec "$C" "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pid_of[$name]=$!
  idc=$(peerid_of "$name") || fail "the $name peer did not start"
  echo "$name peer: $idc (198.18.0.13)"
  wait_for "$name" "^DISCOVERED $ida " 30 || fail "$name did not discover a"
  wait_for "$name" "^DISCOVERED $idb " 30 || fail "$name did not discover b"
  wait_for a "^DISCOVERED $idc mdns" 30 || fail "a did not discover the $name peer"
  wait_for b "^DISCOVERED $idc mdns" 30 || fail "b did not discover the $name peer"
  wait_for a "^CONNECTED $idc /ip4/198\.18\.0\.13/tcp/" 30 || fail "a is not connected to the $name peer"
  wait_for "$name" "^CONNECTED $ida /ip4/198\.18\.0\.11/tcp/" 30 || fail "the $name peer is not connected to a"
  echo "$name mdns interop: discovered both ways and connected"
  kill -TERM "${pid_of[$name]}"
  wait "${pid_of[$name]}" 2>/dev/null
  unset "pid_of[$name]"
}

if [[ -n "${MDNS_JS_DIR:-}" ]]; then
  [[ -d "$MDNS_JS_DIR/node_modules/@libp2p/mdns" ]] || fail "MDNS_JS_DIR=$MDNS_JS_DIR has no node_modules/@libp2p/mdns"
  mkdir -p "$work/js"
  ln -s "$(cd "$MDNS_JS_DIR" && pwd)/node_modules" "$work/js/node_modules"
  cp "$here/js-mdns-peer.mjs" "$work/js/"
  foreign_run js node "$work/js/js-mdns-peer.mjs" 60
fi
if [[ -n "${MDNS_RUST_PEER:-}" ]]; then
  [[ -x "$MDNS_RUST_PEER" ]] || fail "MDNS_RUST_PEER=$MDNS_RUST_PEER is not an executable"
  foreign_run rust "$MDNS_RUST_PEER" mdns --timeout 60
fi
if [[ -n "${MDNS_GO_PEER:-}" ]]; then
  [[ -x "$MDNS_GO_PEER" ]] || fail "MDNS_GO_PEER=$MDNS_GO_PEER is not an executable"
  foreign_run go "$MDNS_GO_PEER" mdns --timeout 60
fi

stop_peer b
wait_for a "peer $idb said goodbye" 5 log || fail "a did not receive b's goodbye"
echo "IPv4: a received b's goodbye"
stop_peer a

# ---- 2. IPv6 only ---------------------------------------------------------------
start_peer "$A" a6 "$work/v6.ini"
start_peer "$B" b6 "$work/v6.ini"
ida=$(peerid_of a6) || fail "peer a6 did not start"
idb=$(peerid_of b6) || fail "peer b6 did not start"
t0=$SECONDS
wait_for a6 "^DISCOVERED $idb mdns" 20 || fail "a6 did not discover b6"
wait_for b6 "^DISCOVERED $ida mdns" 20 || fail "b6 did not discover a6"
wait_for a6 "^CONNECTED $idb /ip6/2001:db8::1[12]/tcp/" 20 || fail "a6 is not connected to b6"
wait_for b6 "^CONNECTED $ida /ip6/2001:db8::1[12]/tcp/" 20 || fail "b6 is not connected to a6"
grep -q "using interface eth0 (fe80:" "$work/a6.log" || fail "a6 did not use eth0 over IPv6"
grep -q "198\.18\." "$work/a6.log" && fail "a6 used IPv4"
echo "IPv6: discovered and connected both ways in $((SECONDS - t0)) s"
stop_peer b6
stop_peer a6

if grep -lE "AddressSanitizer|LeakSanitizer|runtime error" "$work"/*.log >/dev/null 2>&1; then
  fail "sanitizer reports in the peers' logs"
fi
echo "PASS: mdns between network namespaces"
exit 0
