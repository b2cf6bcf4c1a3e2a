#!/usr/bin/env bash
# partition-netns.sh P2PCHAT - network partition and heal (faults.partition).
#
# Topology (test-only addresses, no link to the machine's namespace), one
# /24 split over two bridges joined by one link:
#
#   pr-<id>  relay 198.18.0.1 --+                         +-- pb0-<id> 198.18.0.21
#   pa0-<id> 198.18.0.11 -------+-- br0 =trunk0=trunk1= br1 +-- pb1-<id> 198.18.0.22
#   pa1-<id> 198.18.0.12 -------+        (in pi-<id>)
#
# The relay (DHT server, every peer's bootstrap node) is on side a. Peers
# run `p2pchat peer --json` with short yamux keep-alives (2 s, 3 s
# timeout). faults.py: every peer sees every other in the room, a message
# reaches all; trunk0 goes down; connections across time out, each side
# still chats inside and nothing crosses; trunk0 comes back up; side b's
# peers redial the bootstrap node, the room look-ups find side a, the mesh
# heals, and messages from either side reach every peer.
#
# NETNS_KEEP=1 keeps the work directory. Exit 0 pass, 1 fail, 77 skipped.
set -u
bin=${1:?usage: partition-netns.sh P2PCHAT}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../netns/lib.sh"
netns_init "faults.partition" p2ppartition
netns_need python3 "apt-get install python3"
[[ -x $bin ]] || netns_fail "$bin is not executable"

id=$$
NI=pi-$id NR=pr-$id A0=pa0-$id A1=pa1-$id B0=pb0-$id B1=pb1-$id

setup() {
  netns_new "$NI" || return 1
  netns_bridge "$NI" || return 1
  # The second bridge, as netns_bridge makes br0.
  ip -n "$NI" link add br1 type bridge || return 1
  ip -n "$NI" link set br1 type bridge stp_state 0 mcast_snooping 0 2>/dev/null
  ip -n "$NI" link set br1 up || return 1
  netns_veth "$NI" trunk0 "$NI" trunk1 || return 1
  ip -n "$NI" link set trunk0 master br0 && ip -n "$NI" link set trunk1 master br1 || return 1
  local ns ip br port
  for spec in "$NR 198.18.0.1 br0" "$A0 198.18.0.11 br0" "$A1 198.18.0.12 br0" \
              "$B0 198.18.0.21 br1" "$B1 198.18.0.22 br1"; do
    read -r ns ip br <<<"$spec"
    port="p${ns%%-*}"
    netns_new "$ns" || return 1
    netns_veth "$NI" "$port" "$ns" eth0 || return 1
    ip -n "$NI" link set "$port" master "$br" || return 1
    ip -n "$ns" addr add "$ip/24" dev eth0 || return 1
  done
  netns_wait_reach "$B1" 198.18.0.1 && netns_wait_reach "$A0" 198.18.0.22
}
setup || netns_fail "cannot build the topology"

FAULTS_KEEP=${NETNS_KEEP:-} python3 "$here/faults.py" partition "$bin" "$NI" "$NR" 198.18.0.1 \
  "$A0=198.18.0.11,$A1=198.18.0.12" "$B0=198.18.0.21,$B1=198.18.0.22" 2>&1 | tee "$NETNS_WORK/faults.log"
rc=${PIPESTATUS[0]}
[[ $rc -eq 0 ]] || netns_fail "faults.py partition: exit $rc"
echo "PASS: faults.partition"
