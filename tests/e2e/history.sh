#!/usr/bin/env bash
# The message history (SQLite, $XDG_DATA_HOME/p2pchat/history.db):
#  - it survives a restart: the last history_show messages are shown on
#    join, /history TEXT searches, history_max_rows caps a room
#  - a corrupt file, a database locked by another program, a directory
#    that cannot be created: one clear line, and the chat goes on
source "$(dirname "$0")/lib.sh"
bin=$1
room="hist-$$"
command -v sqlite3 >/dev/null || { echo "sqlite3 is not installed (scripts/setup.sh --test)"; exit 77; }
db="$XDG_DATA_HOME/p2pchat/history.db"

# b: the other user (own data directory), fed through a pipe.
mkfifo "$TMP/b.in"
exec {fd_b}<>"$TMP/b.in"
XDG_DATA_HOME="$TMP/b-data" P2P_LOG=warn "$bin" --without mdns peer --listen /ip4/127.0.0.1/tcp/0 --room "$room" \
  <"$TMP/b.in" >"$TMP/b.out" 2>"$TMP/b.err" &
pids+=($!); pid_b=$!
wait_for "$TMP/b.out" "/p2p/" 10 || { fail "b did not start"; cat "$TMP/b.err"; finish; }
addr_b=$(grep -m1 -o '/ip4/127.0.0.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*' "$TMP/b.out")
id_b=$(sed -n 's/^PeerId: //p' "$TMP/b.out")
short_b="${id_b:0:8}...${id_b: -6}"
bsay() { printf '%s\n' "$1" >&"$fd_b"; }

# run_a NAME [GLOBAL FLAGS...]: a, our user, until stop_a.
run_a() {
  local name=$1; shift
  rm -f "$TMP/a.in"; mkfifo "$TMP/a.in"
  exec {fd_a}<>"$TMP/a.in"
  P2P_LOG=warn "$bin" --without mdns "$@" peer --listen /ip4/127.0.0.1/tcp/0 --room "$room" --bootstrap "$addr_b" \
    <"$TMP/a.in" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  pids+=($!); pid_a=$!
  wait_for "$TMP/$name.out" "joined the room" 20 || { fail "$name: b not seen"; cat "$TMP/$name.out" "$TMP/$name.err"; }
  sleep 1.5
}
asay() { printf '%s\n' "$1" >&"$fd_a"; }
stop_a() {
  asay /quit
  wait_exit "$pid_a" 10
  [[ $status == 0 ]] && ok "$1: exits 0" || { fail "$1: exit status $status"; cat "$TMP/$1.err"; }
  exec {fd_a}>&-
}
# b says TEXT and a (output NAME) shows it
b_to_a() {
  bsay "$2"
  wait_for "$TMP/$1.out" "$short_b: $2" 15 && ok "$1: got '$2'" || fail "$1: did not get '$2'"
}

run_a a1
for m in "first message" "second message" "third message"; do b_to_a a1 "$m"; done
asay "my own line"
wait_for "$TMP/b.out" ": my own line" 15 || fail "b did not get a's line"
stop_a a1
[[ -f $db ]] && ok "history.db created in \$XDG_DATA_HOME/p2pchat" || fail "no $db"
[[ $(stat -c %a "$db") == 600 ]] && ok "history.db is private (0600)" || fail "mode $(stat -c %a "$db")"
[[ $(sqlite3 "$db" "SELECT count(*) FROM messages WHERE room = '$room'") == 4 ]] && ok "4 messages stored" \
  || fail "stored: $(sqlite3 "$db" 'SELECT room, text FROM messages')"

# Restart: the last 2 are shown; /history searches older ones; the cap.
run_a a2 --set app.chat.history_show=2 --set app.chat.history_max_rows=3
expect_in "$TMP/a2.out" "the last 2 message(s) of room $room" "a2: history header on join"
sed -n "/the last 2 message/,\$p" "$TMP/a2.out" >"$TMP/shown"
grep -q "$short_b: third message" "$TMP/shown" && grep -q ": my own line" "$TMP/shown" && ! grep -q "second message" "$TMP/shown" \
  && ok "a2: the last two messages shown, oldest first" || { fail "a2: wrong history"; cat "$TMP/shown"; }
asay "/history FIRST"
wait_for "$TMP/a2.out" "1 message(s) found in room $room" 5 && grep -q "#$room $short_b: first message" "$TMP/a2.out" \
  && ok "a2: /history TEXT finds an older message" || { fail "a2: /history"; cat "$TMP/a2.out"; }
b_to_a a2 "fourth message"
sleep 0.5
stop_a a2
[[ $(sqlite3 "$db" "SELECT count(*) FROM messages WHERE room = '$room'") == 3 ]] \
  && [[ $(sqlite3 "$db" "SELECT text FROM messages WHERE room = '$room' ORDER BY id LIMIT 1") == "third message" ]] \
  && ok "history_max_rows keeps the newest 3" || fail "cap: $(sqlite3 "$db" 'SELECT text FROM messages')"

# A corrupt file: one line, chat goes on, /history says there is none.
head -c 4096 /dev/urandom >"$db"
run_a a3
n=$(grep -c "history" "$TMP/a3.out" || true)
grep -q "history disabled: $db: the file is not a valid history database.*chat goes on without history" "$TMP/a3.out" \
  && [[ $n == 1 ]] && ok "a3: corrupt database: one clear line" || { fail "a3: corrupt database message ($n lines)"; cat "$TMP/a3.out"; }
b_to_a a3 "after corruption"
asay "/history"
wait_for "$TMP/a3.out" "there is no history" 5 && ok "a3: /history explains" || fail "a3: /history"
stop_a a3

# Locked by another program (an exclusive transaction in sqlite3).
rm -f "$db"
mkfifo "$TMP/sql.in"
exec {fd_sql}<>"$TMP/sql.in"
sqlite3 "$db" <"$TMP/sql.in" >/dev/null 2>&1 &
pids+=($!); pid_sql=$!
printf 'CREATE TABLE t(x);\nBEGIN EXCLUSIVE;\nINSERT INTO t VALUES (1);\n' >&"$fd_sql"
sleep 0.5
run_a a4
grep -q "history disabled: $db: the database is locked by another program; chat goes on without history" "$TMP/a4.out" \
  && ok "a4: locked database: one clear line" || { fail "a4: locked message"; cat "$TMP/a4.out"; }
b_to_a a4 "while locked"
stop_a a4
kill "$pid_sql" 2>/dev/null || true

# Two p2pchat of one user: the first keeps the history.
rm -f "$db"
run_a a5
P2P_LOG=warn "$bin" --without mdns peer --listen /ip4/127.0.0.1/tcp/0 --room "$room" </dev/null >"$TMP/a6.out" 2>&1 &
pids+=($!); pid_a6=$!
wait_for "$TMP/a6.out" "is in use by another p2pchat; chat goes on without history" 10 \
  && ok "a second instance runs without history" || { fail "second instance"; cat "$TMP/a6.out"; }
kill -TERM "$pid_a6"; wait_exit "$pid_a6" 10
stop_a a5

# A directory that cannot be created (a file is in the way).
touch "$TMP/afile"
run_a a7 --set app.chat.history_file="$TMP/afile/sub/history.db"
expect_in "$TMP/a7.out" "history: cannot create directory $TMP/afile" "a7: uncreatable directory: clear line"
b_to_a a7 "without a directory"
stop_a a7

kill -TERM "$pid_b"
wait_exit "$pid_b" 10
[[ $status == 0 ]] && ok "b shuts down cleanly" || fail "b exit status $status"
finish
