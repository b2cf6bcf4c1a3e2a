#!/usr/bin/env bash
# chat-holepunch.sh P2PCHAT - the seed's cross-network scenario with the
# real p2pchat, in the hole-punch lab of tests/netns/lib.sh:
#
#   R  198.18.0.1  (internet)  p2pchat relay --port 4001
#   A  198.19.1.2  behind NAT router N1 (198.18.0.2)
#   B  198.19.2.2  behind NAT router N2 (198.18.0.3)
#
# A and B each run exactly
#   p2pchat --set plugin.dcutr.allow=public,198.18.0.0/15 peer --relay <R's multiaddr> --room global-chat
# and nothing else tells them about each other. (The --set is the lab's
# only concession: its addresses are the benchmarking range 198.18.0.0/15,
# which the hole-punch policy rightly does not count as public; real
# users' NAT addresses are public.) Each peer reserves a slot on R (also
# its DHT bootstrap node), announces the room in the DHT with its
# /p2p-circuit addresses and looks the room up; they connect through R,
# see each other join and chat through the relay; DCUtR then replaces the
# relayed connection with a direct one between the routers' public
# addresses, the relayed connection closes, and chat goes on directly.
#
# Everything is checked through the program's output (lines, /peers) and
# its log (P2P_LOG), per attempt:
#   - each sees the other join the room (within JOIN_LIMIT);
#   - a line A types right after the join arrives at B; when A's /peers,
#     answered just before the line went out, shows the relayed connection
#     as its only one to B, that line went through the relay (counted:
#     with the lab's delays the punch takes a few seconds, so this is the
#     usual case; the symmetric phase below always chats through R);
#   - the upgrade succeeds (dcutr logs "direct connection with"): then both
#     /peers show exactly one connection to the other, direct, to the other
#     router's public address (198.18.0.3 or .2) and the peer's listening
#     port, no relayed one (closed), the hole-punch counters show it; and a
#     line each way arrives after the upgrade;
#   - or it fails cleanly (logged, counted): chat still works both ways.
# Every attempt is a fresh lab (no NAT state survives) with fresh peers.
#
# Then, unless CHAT_HP_SYMMETRIC=0, symmetric NAT (`fully-random`): A and
# B find each other the same way, DCUtR fails after its 3 attempts (each
# logged and counted, bounded in time), the connection stays relayed and
# lines flow both ways through R.
#
# Environment:
#   CHAT_HP_ATTEMPTS=3      attempts with endpoint-independent (cone) NAT
#   CHAT_HP_MIN_OK=N        successes required (default: every attempt)
#   CHAT_HP_FILTER=reply    routers answer unsolicited packets (RST), as
#                           test-plans' do; "drop" filters them
#   CHAT_HP_DELAY=100       ms per router crossing (test-plans), 0 = none
#   CHAT_HP_RELAY_DELAY=25  ms per packet into the relay (test-plans)
#   CHAT_HP_SYMMETRIC=1     run the symmetric-NAT phase
#   CHAT_HP_KEEP=1          keep the outputs and logs (directory printed)
# The last line says how many attempts succeeded, e.g.
#   PASS: 20 of 20 hole punches succeeded (cone NAT, reply, 100/25 ms); ...
# Exit: 0 pass, 1 fail, 77 skipped (not root, no ip netns, nft, iptables
# or python3).
set -u
chat=${1:?usage: chat-holepunch.sh P2PCHAT}
[[ -x $chat ]] || { echo "FAIL: $chat is not executable"; exit 1; }
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

attempts=${CHAT_HP_ATTEMPTS:-3}
min_ok=${CHAT_HP_MIN_OK:-$attempts}
filter=${CHAT_HP_FILTER:-reply}
delay=${CHAT_HP_DELAY:-100}
relay_delay=${CHAT_HP_RELAY_DELAY:-25}
room=global-chat
JOIN_LIMIT=40       # s: start to "joined the room" (DHT look-ups at 1, 2, 4... s)
CHAT_LIMIT=15       # s: a typed line to the other side
PUNCH_LIMIT=40      # s: join to the upgrade's outcome (3 attempts bounded by dcutr's timeouts)
CLOSE_LIMIT=20      # s: the relayed connection closes after the upgrade (graceful close: 10 s at most)

netns_init "chat hole punch" chat-holepunch CHAT_HP_KEEP
netns_need nft "install nftables; scripts/setup.sh --test does"
if ((delay > 0 || relay_delay > 0)); then
  netns_need iptables "install iptables; scripts/setup.sh --test does"
  netns_need python3 "install python3; scripts/setup.sh --test does"
fi
netns_lab_names ch
NETNS_CHAT=$chat
NETNS_CHAT_LOG=info,dcutr=debug,relay=debug,swarm=debug,chat=debug
NETNS_FAIL_LINES=60
work=$NETNS_WORK
ts='^\[[0-9]{2}:[0-9]{2}:[0-9]{2}\] '

fail() { netns_fail "$@"; }

# Keep an attempt's outputs in a subdirectory (the top level is what
# netns_fail shows: the current attempt).
archive() {   # NAME
  mkdir -p "$work/$1"
  mv "$work"/*.out "$work"/*.log "$work/$1/" 2>/dev/null
  rm -f "$work"/*.in
  rm -rf "$work"/home-*
}

# lab NAT: a fresh lab with the delays; the relay on it.
lab() {
  netns_lab "$1" "$filter" ipv6 || fail "setting up the $1-NAT lab"
  if ((delay > 0 || relay_delay > 0)); then
    netns_lab_delays "$delay" "$relay_delay" || fail "the NFQUEUE delays did not start"
  fi
  chat_start "$NR" relay relay --port 4001
  chat_wait relay "^  /ip4/198\.18\.0\.1/tcp/4001/p2p/" 10 || fail "the relay did not start"
  raddr=$(grep -m1 -oE '/ip4/198\.18\.0\.1/tcp/4001/p2p/[A-Za-z0-9]+' "$work/relay.out")
}

# peers: A and B as a user starts them; sets ida idb sa sb porta portb.
peers() {
  local n
  chat_start "$NA" a --set plugin.dcutr.allow=public,198.18.0.0/15 peer --relay "$raddr" --room "$room"
  chat_start "$NB" b --set plugin.dcutr.allow=public,198.18.0.0/15 peer --relay "$raddr" --room "$room"
  t0=$SECONDS
  ida=$(chat_peerid a) || fail "a did not start"
  idb=$(chat_peerid b) || fail "b did not start"
  sa=$(chat_short "$ida") sb=$(chat_short "$idb")
  for n in a b; do
    chat_wait "$n" "^Plugins:.* relay dcutr" 5 || fail "$n does not run the relay and dcutr plugins"
  done
  porta=$(grep -m1 -oE '^  /ip4/198\.19\.1\.2/tcp/[0-9]+' "$work/a.out" | sed 's/.*tcp.//')
  portb=$(grep -m1 -oE '^  /ip4/198\.19\.2\.2/tcp/[0-9]+' "$work/b.out" | sed 's/.*tcp.//')
  [[ -n $porta && -n $portb ]] || fail "a or b does not listen on its LAN address"
  chat_wait a "$ts\* $sb joined the room$" "$JOIN_LIMIT" || fail "a did not see b join within $JOIN_LIMIT s"
  chat_wait b "$ts\* $sa joined the room$" "$JOIN_LIMIT" || fail "b did not see a join within $JOIN_LIMIT s"
  t_join=$((SECONDS - t0))
  # Found through the DHT (room look-ups naming the other member).
  grep -qE "chat: room $room: [2-9] member\(s\) found in the DHT" "$work/a.log" "$work/b.log" ||
    fail "neither a nor b found the other in the DHT"
}

# Lines of NAME's /peers about PEER (short form).
conns_to() {   # NAME SHORT
  chat_ask "$1" /peers | grep -E "$ts\*   $2 " || true
}

# say FROM TO TEXT: FROM types TEXT, TO must print it.
say_and_check() {
  local from=$1 to=$2 text=$3 who
  [[ $from == a ]] && who=$sa || who=$sb
  chat_say "$from" "$text"
  chat_wait "$to" "$ts$who: $text\$" "$CHAT_LIMIT"
}

ok=0 relayed_chats=0 report=""

# ---- cone NAT: the hole punch works -------------------------------------------------
for ((i = 1; i <= attempts; i++)); do
  lab cone
  peers
  # Chat through the relay: /peers, then a line, right after the join.
  before=$(conns_to a "$sb")
  chat_say a "via relay $i from a"
  chat_wait b "$ts$sa: via relay $i from a\$" "$CHAT_LIMIT" || fail "attempt $i: b did not receive a's first line"
  if [[ $(wc -l <<<"$before") -eq 1 && $before == *" relayed"* ]]; then relayed_chats=$((relayed_chats + 1)); fi
  # The upgrade's outcome (either side logs it; the initiator decides).
  chat_wait a "dcutr: (direct connection with|no direct connection with) $idb" "$PUNCH_LIMIT" log ||
    chat_wait b "dcutr: (direct connection with|no direct connection with) $ida" 1 log ||
    fail "attempt $i: no hole-punch outcome logged within $PUNCH_LIMIT s of the join"
  if grep -qE "dcutr: direct connection with ($idb|$ida)" "$work/a.log" "$work/b.log"; then
    # Exactly one connection each way, direct, to the other router's
    # public address and listening port; the relayed one closed.
    deadline=$((SECONDS + CLOSE_LIMIT))
    while :; do
      ca=$(conns_to a "$sb") cb=$(conns_to b "$sa")
      [[ $(wc -l <<<"$ca") -eq 1 && $(wc -l <<<"$cb") -eq 1 && $ca != *relayed* && $cb != *relayed* ]] && break
      ((SECONDS < deadline)) || fail "attempt $i: the relayed connection did not give way to one direct one: a: $ca; b: $cb"
      sleep 0.5
    done
    [[ $ca =~ \ /ip4/198\.18\.0\.3/tcp/$portb\ direct ]] ||
      fail "attempt $i: a's connection to b is not to B's router 198.18.0.3:$portb: $ca"
    [[ $cb =~ \ /ip4/198\.18\.0\.2/tcp/$porta\ direct ]] ||
      fail "attempt $i: b's connection to a is not to A's router 198.18.0.2:$porta: $cb"
    grep -qE "swarm: disconnected from $idb .*closed" "$work/a.log" ||
      fail "attempt $i: a's log does not show the relayed connection closing"
    say_and_check a b "direct $i from a" || fail "attempt $i: b did not receive a's line after the upgrade"
    say_and_check b a "direct $i from b" || fail "attempt $i: a did not receive b's line after the upgrade"
    hp=$(chat_ask a /peers | grep -E "$ts\* hole punching: " || true)
    hp_b=$(chat_ask b /peers | grep -E "$ts\* hole punching: " || true)
    [[ $hp =~ hole\ punching:\ 1\ succeeded && $hp_b =~ hole\ punching:\ 1\ succeeded ]] ||
      fail "attempt $i: the hole-punch counters do not show the upgrade: a: $hp; b: $hp_b"
    ok=$((ok + 1))
    how=$(grep -hoE "dcutr: direct connection with [^ ]+ \(initiator, attempt [0-9]+, relayed rtt [0-9.]+ ms\)" \
      "$work/a.log" "$work/b.log" | sed -E 's/.*\((initiator, )?//; s/\)$//')
    echo "attempt $i: joined after ${t_join} s; direct between 198.18.0.2:$porta and 198.18.0.3:$portb ($how)"
  else
    why=$(grep -hoE "dcutr: no direct connection with [^:]+: .*" "$work/a.log" "$work/b.log" | head -1)
    # A clean failure: chat stays on the relay.
    say_and_check a b "relayed $i from a" || fail "attempt $i: after a failed punch, b did not receive a's line"
    say_and_check b a "relayed $i from b" || fail "attempt $i: after a failed punch, a did not receive b's line"
    echo "attempt $i: joined after ${t_join} s; hole punch FAILED cleanly (${why#dcutr: }); chat stayed on the relay"
  fi
  chat_stop a b relay || fail "attempt $i: peers did not exit cleanly:$NETNS_BAD"
  if grep -lE "AddressSanitizer|LeakSanitizer|runtime error" "$work"/*.log 2>/dev/null; then
    fail "attempt $i: sanitizer report"
  fi
  archive "attempt-$i"
done
((relayed_chats > 0 || attempts == 0)) || fail "no attempt chatted through the relay before the upgrade"
report="$ok of $attempts hole punches succeeded (cone NAT, routers: $filter, delays $delay/$relay_delay ms); "
report+="$relayed_chats first line(s) went through the relay"
echo "$report"
((ok >= min_ok)) || fail "$report; at least $min_ok required"

# ---- symmetric NAT: the punch fails cleanly, chat stays on the relay -----------------
sym=""
if [[ ${CHAT_HP_SYMMETRIC:-1} != 0 ]]; then
  lab symmetric
  peers
  say_and_check a b "sym from a" || fail "symmetric: b did not receive a's line"
  chat_wait a "dcutr: no direct connection with $idb" "$PUNCH_LIMIT" log ||
    chat_wait b "dcutr: no direct connection with $ida" 1 log ||
    fail "symmetric: no failure of the hole punch logged within $PUNCH_LIMIT s"
  grep -qE "dcutr: direct connection with" "$work/a.log" "$work/b.log" && fail "symmetric: a direct connection appeared"
  ini=$(grep -lE "dcutr: no direct connection with [^ ]+ \(initiator\): every attempt failed" "$work/a.log" "$work/b.log")
  [[ -n $ini ]] || fail "symmetric: the initiator did not give up after its attempts"
  n=$(grep -cE "dcutr: hole punch with [^ ]+: attempt [0-9] of 3 failed" "$ini")
  ((n == 3)) || fail "symmetric: $n failed attempts logged by the initiator instead of 3"
  name=$(basename "$ini" .log)
  hp=$(chat_ask "$name" /peers | grep -E "$ts\* hole punching: " || true)
  [[ $hp =~ 0\ succeeded,\ 1\ failed.*\(3\ attempt\(s\),\ 3\ failed\) ]] ||
    fail "symmetric: $name's hole-punch counters: $hp"
  say_and_check a b "still relayed from a" || fail "symmetric: after the failed punch, b did not receive a's line"
  say_and_check b a "still relayed from b" || fail "symmetric: after the failed punch, a did not receive b's line"
  ca=$(conns_to a "$sb")
  [[ $(wc -l <<<"$ca") -eq 1 && $ca == *" relayed"* ]] || fail "symmetric: a's connection to b is not the relayed one: $ca"
  chat_stop a b relay || fail "symmetric: peers did not exit cleanly:$NETNS_BAD"
  if grep -lE "AddressSanitizer|LeakSanitizer|runtime error" "$work"/*.log 2>/dev/null; then
    fail "symmetric: sanitizer report"
  fi
  sym="; symmetric NAT: the punch failed after 3 attempts, chat stayed on the relay"
  echo "symmetric NAT: joined after ${t_join} s; 3 attempts failed, logged and counted; chat went on through the relay"
  archive symmetric
fi
echo "PASS: $report$sym"
exit 0
