#!/usr/bin/env bash
# The interactive terminal interface, driven through tmux: peer A runs in
# a tmux pane (a real terminal), peer B is fed through a pipe.
#  - a half-typed line survives a message arriving meanwhile, which is
#    printed above the prompt; the line is then sent whole
#  - /rooms, /join, /leave, /peers, /ping, /nick, /history, /help, /quit
#  - a colour per sender on a terminal, none with NO_COLOR
#  - the history shown again after a restart
source "$(dirname "$0")/lib.sh"
bin=$1
room="tui-$$"
command -v tmux >/dev/null || { echo "tmux is not installed (scripts/setup.sh --test)"; exit 77; }
sock="$TMP/tmux.sock"
tm() { tmux -S "$sock" "$@"; }
trap 'tm kill-server 2>/dev/null || true; cleanup' EXIT

mkfifo "$TMP/b.in"
exec {fd_b}<>"$TMP/b.in"
# b has its own data directory (identity, history), like another user.
XDG_DATA_HOME="$TMP/b-data" P2P_LOG=warn "$bin" --without mdns peer --listen /ip4/127.0.0.1/tcp/0 --room "$room" --nick bob \
  <"$TMP/b.in" >"$TMP/b.out" 2>"$TMP/b.err" &
pids+=($!); pid_b=$!
wait_for "$TMP/b.out" "/p2p/" 10 || { fail "peer b did not start"; cat "$TMP/b.err"; finish; }
addr_b=$(grep -m1 -o '/ip4/127.0.0.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*' "$TMP/b.out")
id_b=$(sed -n 's/^PeerId: //p' "$TMP/b.out")
short_b="${id_b:0:8}...${id_b: -6}"
bsay() { printf '%s\n' "$1" >&"$fd_b"; }

# start_a NAME [ENV...]: p2pchat in a new tmux window (200 columns, so no
# line wraps); its exit status goes to $TMP/NAME.rc.
start_a() {
  local name=$1; shift
  local cmd="env $* P2P_LOG=warn '$bin' --without mdns peer --listen /ip4/127.0.0.1/tcp/0 --room '$room'"
  cmd+=" --nick alice --bootstrap '$addr_b' 2>'$TMP/$name.err'; echo \$? >'$TMP/$name.rc'; sleep 600"
  if tm has-session -t t 2>/dev/null; then tm new-window -t t -n "$name" "$cmd"
  else tm new-session -d -s t -n "$name" -x 200 -y 50 "$cmd"; fi
}
pane() { tm capture-pane -p -J -t "t:$1" ${2:+-e} >"$TMP/pane" 2>/dev/null || true; }
# wait_pane WINDOW TEXT [SECONDS]
wait_pane() {
  local i
  for ((i = 0; i < ${3:-10} * 10; i++)); do
    pane "$1"
    grep -qF -- "$2" "$TMP/pane" && return 0
    sleep 0.1
  done
  echo "    pane $1 has:"; sed 's/^/    | /' "$TMP/pane"
  return 1
}
last_line() { pane "$1"; grep -v '^$' "$TMP/pane" | tail -1; }
keys() { tm send-keys -t "t:$1" -l "$2"; }
enter() { tm send-keys -t "t:$1" Enter; }

start_a a1
wait_pane a1 "joined the room" 20 && ok "a sees b join" || fail "a does not see b"
sleep 1.5   # mesh

# A half line, then a message arrives: printed above, the half line kept.
keys a1 "half a li"
wait_pane a1 "$room> half a li" 5 && ok "prompt shows the room and the typed text" || fail "typed text not shown"
bsay "incoming while typing"
wait_pane a1 "bob ($short_b): incoming while typing" 15 && ok "message shown while typing" || fail "message not shown"
[[ "$(last_line a1)" == "$room> half a li" ]] && ok "the half-typed line is intact below the message" \
  || fail "last line is '$(last_line a1)'"
grep -n "incoming while typing" "$TMP/pane" | grep -q "half a li" && fail "message and typed text on one line" || true
pane a1 e
grep -F "bob ($short_b)" "$TMP/pane" | grep -q $'\e\\[[0-9;]*3[1-6]m\\|\e\\[[0-9;]*9[1-6]m' \
  && ok "sender shown in colour on a terminal" || { fail "no colour"; cat -v "$TMP/pane" | tail -5; }
keys a1 "ne"
enter a1
wait_for "$TMP/b.out" ": half a line" 15 && ok "the line typed around the message arrives whole" \
  || { fail "b did not get the line"; cat "$TMP/b.out"; }
grep -q "alice (.*): half a line" "$TMP/b.out" && ok "b shows a's nickname on the message" || fail "no nickname on b"

keys a1 "/rooms"; enter a1
wait_pane a1 "*$room (1 other member(s))" 5 && ok "/rooms" || fail "/rooms"
keys a1 "/join second-$$"; enter a1
wait_pane a1 "second-$$> " 5 && ok "/join switches the prompt to the new room" || fail "/join"
bsay "/join second-$$"
wait_pane a1 "bob ($short_b) joined #second-$$" 15 && ok "members of the second room shown" || fail "no join in second room"
sleep 1.5
bsay "/send is not a command here"
bsay "//slash line"
wait_pane a1 "#second-$$ bob ($short_b): /slash line" 15 && ok "//text sends /text to the current room" || fail "//text"
keys a1 "to the second room"; enter a1
wait_for "$TMP/b.out" "#second-$$ alice (" 15 && grep -q "#second-$$ alice (.*): to the second room" "$TMP/b.out" \
  && ok "plain lines go to the current room" || fail "message to the second room not seen by b"
keys a1 "/leave"; enter a1
wait_pane a1 "left room second-$$; now talking in room $room" 5 && ok "/leave" || fail "/leave"
keys a1 "/peers"; enter a1
wait_pane a1 "bob ($short_b) /ip4/127.0.0.1/tcp/" 5 && grep -q "direct rtt=" "$TMP/pane" \
  && ok "/peers: direct and rtt" || fail "/peers"
keys a1 "/ping bob"; enter a1
wait_pane a1 "pong from $short_b" 10 && ok "/ping by nickname" || fail "/ping"
keys a1 "/nick carol"; enter a1
wait_pane a1 "other p2pchat users now see you as carol" 5 && ok "/nick" || fail "/nick"
wait_for "$TMP/b.out" "is now carol (" 15 && ok "b sees the new nickname" || fail "b does not see the new nickname"
keys a1 "/history incoming"; enter a1
wait_pane a1 "1 message(s) found in room $room" 5 && ok "/history TEXT" || fail "/history TEXT"
keys a1 "/help"; enter a1
wait_pane a1 "/join ROOM" 5 && ok "/help" || fail "/help"
keys a1 "/frobnicate"; enter a1
wait_pane a1 "unknown command /frobnicate" 5 && ok "unknown commands are reported" || fail "unknown command"
keys a1 "/quit"; enter a1
wait_for "$TMP/a1.rc" "" 15 && [[ "$(cat "$TMP/a1.rc")" == 0 ]] && ok "/quit exits 0" \
  || { fail "/quit: status $(cat "$TMP/a1.rc" 2>/dev/null)"; cat "$TMP/a1.err"; }
wait_for "$TMP/b.out" "carol (" 1 && wait_for "$TMP/b.out" "left #$room" 15 && ok "b sees a leave" || fail "b does not see a leave"

# Restart with NO_COLOR: the history is shown, and no colour anywhere.
start_a a2 NO_COLOR=1
wait_pane a2 "the last 2 message(s) of room $room" 20 && ok "history shown after a restart" || fail "no history after restart"
grep -q "#$room bob ($short_b): incoming while typing" "$TMP/pane" && ok "history has the earlier message" \
  || fail "earlier message missing from the history"
wait_pane a2 "joined the room" 20 || fail "a2 does not see b"
sleep 1.5
bsay "/join $room"   # back to the first room
bsay "colourless"
wait_pane a2 "bob ($short_b): colourless" 15 || fail "a2 did not get the message"
pane a2 e
grep -F "colourless" "$TMP/pane" | grep -q $'\e' && fail "colour despite NO_COLOR" || ok "no colour with NO_COLOR"
tm send-keys -t t:a2 C-d
wait_for "$TMP/a2.rc" "" 15 && [[ "$(cat "$TMP/a2.rc")" == 0 ]] && ok "Ctrl-D exits 0" \
  || { fail "Ctrl-D: status $(cat "$TMP/a2.rc" 2>/dev/null)"; cat "$TMP/a2.err"; }
for f in a1 a2; do
  grep -q "ERROR: \|runtime error" "$TMP/$f.err" && { fail "sanitizer report in $f"; cat "$TMP/$f.err"; }
done

kill -TERM "$pid_b"
wait_exit "$pid_b" 10
[[ $status == 0 ]] && ok "b shuts down cleanly" || fail "b exit status $status"
finish
