#!/usr/bin/env bash
# Rooms that find their members: a relay (DHT server) R; peers A and B are
# given only R (--bootstrap). Each announces the room in the DHT and looks
# up the others, so A and B connect to each other, see each other join and
# chat - without exchanging addresses. With the default look-up interval
# (30 s): a member alone in its room looks again after 1, 2, 4... s, not
# only every 30 s (A is alone for 4 s: at least 2 look-ups). Then C and D,
# each alone in a room of its own, both /join a third room: they find each
# other through that room's DHT record (discovery works for every joined
# room, and a join restarts the quick look-ups).
source "$(dirname "$0")/lib.sh"
bin=$1
room="rooms-$$"

P2P_LOG=warn "$bin" relay --port 0 --secret-key-seed 3 >"$TMP/r.out" 2>"$TMP/r.err" &
pids+=($!); pid_r=$!
wait_for "$TMP/r.out" "/p2p/" 10 || { fail "relay did not start"; cat "$TMP/r.err"; finish; }
addr_r=$(grep -m1 -o '/ip4/127.0.0.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*' "$TMP/r.out")

start_peer() {  # NAME [ROOM]
  local name=$1 r=${2:-$room}
  mkfifo "$TMP/$name.in"
  exec {fd}<>"$TMP/$name.in"
  eval "fd_$name=$fd"
  P2P_LOG=warn,chat=debug "$bin" --without mdns \
    peer --listen /ip4/127.0.0.1/tcp/0 --room "$r" --bootstrap "$addr_r" \
    <"$TMP/$name.in" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  pids+=($!)
  eval "pid_$name=$!"
}
start_peer a
sleep 4
lookups=$(grep -c "room $room: .* member(s) found in the DHT" "$TMP/a.err")
[[ $lookups -ge 2 ]] && ok "a alone looked the room up $lookups times in 4 s" ||
  fail "a alone looked the room up $lookups times in 4 s (expected the 1, 2, 4 s back-off)"
start_peer b
for p in a b; do wait_for "$TMP/$p.out" "PeerId:" 10 || fail "peer $p did not start"; done
id() { sed -n 's/^PeerId: //p' "$TMP/$1.out"; }
short() { local f; f=$(id "$1"); echo "${f:0:8}...${f: -6}"; }

wait_for "$TMP/a.out" "* $(short b) joined the room" 30 && ok "a found b through the DHT" || fail "a did not find b"
wait_for "$TMP/b.out" "* $(short a) joined the room" 30 && ok "b found a through the DHT" || fail "b did not find a"
sleep 1.5
printf 'found you\n' >&"$fd_a"
wait_for "$TMP/b.out" "$(short a): found you" 15 && ok "b got a's message" || fail "b did not get a's message"

start_peer c "c-alone-$$"
start_peer d "d-alone-$$"
for p in c d; do wait_for "$TMP/$p.out" "PeerId:" 10 || fail "peer $p did not start"; done
printf '/join shared-%s\n' $$ >&"$fd_c"
printf '/join shared-%s\n' $$ >&"$fd_d"
wait_for "$TMP/c.out" "* $(short d) joined #shared-$$" 30 && ok "c found d through the joined room's DHT record" \
  || { fail "c did not find d in the joined room"; cat "$TMP/c.out"; }
wait_for "$TMP/d.out" "* $(short c) joined #shared-$$" 30 && ok "d found c" || fail "d did not find c"
! grep -q "$(short d) joined #c-alone" "$TMP/c.out" && ok "d is not in c's own room" || fail "d in c's room"

kill -TERM "$pid_a" "$pid_b" "$pid_c" "$pid_d" "$pid_r"
st=""
for p in $pid_a $pid_b $pid_c $pid_d $pid_r; do wait_exit "$p" 10; st+="$status "; done
[[ $st == "0 0 0 0 0 " ]] && ok "clean shutdown" || fail "exit statuses $st"
finish
