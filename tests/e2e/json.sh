#!/usr/bin/env bash
# The --json script mode: two peers on loopback. Every stdout line is one
# JSON object (checked with jq); events (ready, connected, join, message,
# leave, nick, history) and command results/errors with their "id";
# untrusted text (quotes, controls, invalid UTF-8) escaped correctly.
source "$(dirname "$0")/lib.sh"
bin=$1
room="json-$$"
command -v jq >/dev/null || { echo "jq is not installed (scripts/setup.sh --test)"; exit 77; }

start_peer() {  # NAME [FLAGS...]
  local name=$1; shift
  mkfifo "$TMP/$name.in"
  exec {fd}<>"$TMP/$name.in"
  eval "fd_$name=$fd"
  XDG_DATA_HOME="$TMP/$name-data" P2P_LOG=warn "$bin" --without mdns peer --listen /ip4/127.0.0.1/tcp/0 \
    --room "$room" --json "$@" <"$TMP/$name.in" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  pids+=($!)
  eval "pid_$name=$!"
}
to() { local v="fd_$1"; printf '%s\n' "$2" >&"${!v}"; }
# jwait NAME JQ-FILTER [SECONDS]: wait for an output line matching the filter.
jwait() {
  local i
  for ((i = 0; i < ${3:-10} * 20; i++)); do
    [[ -n "$(jq -c "select($2)" "$TMP/$1.out" 2>/dev/null)" ]] && return 0
    sleep 0.05
  done
  echo "    no line of $1 matches $2:"; sed 's/^/    | /' "$TMP/$1.out"
  return 1
}
jget() { jq -r "select($2) | $3" "$TMP/$1.out" | head -1; }

start_peer a --nick alice
jwait a '.event == "ready"' 10 || { fail "a did not start"; cat "$TMP/a.err"; finish; }
id_a=$(jget a '.event == "ready"' .peer_id)
addr_a=$(jget a '.event == "ready"' '.addrs[0]')
[[ $addr_a == /ip4/127.0.0.1/tcp/*/p2p/$id_a ]] && ok "ready event: PeerId and full address" || fail "ready: $addr_a"
start_peer b --bootstrap "$addr_a"
jwait b '.event == "ready"' 10 || fail "b did not start"
id_b=$(jget b '.event == "ready"' .peer_id)

jwait a ".event == \"connected\" and .peer == \"$id_b\" and .connection == \"direct\" and .direction == \"inbound\"" 10 \
  && ok "connected event (direct, inbound)" || fail "no connected event on a"
jwait b ".event == \"join\" and .room == \"$room\" and .peer == \"$id_a\"" 20 && ok "join event" || fail "no join event"
jwait b ".event == \"nick\" and .peer == \"$id_a\" and .nick == \"alice\"" 20 && ok "nick event" || fail "no nick event"
sleep 1.5

# Untrusted text: quotes, backslash, controls, non-ASCII, astral; then
# raw invalid UTF-8 as a plain line.
text='q" b\ t	c'$'\x01'' é 😀'
to a "$(jq -cn --arg t "$text" '{cmd: "send", text: $t, id: 7}')"
jwait a '.event == "result" and .cmd == "send" and .id == 7' 10 && ok "send result with numeric id" || fail "no send result"
jwait b '.event == "message" and .nick == "alice"' 15 || fail "b got no message"
[[ "$(jget b '.event == "message"' .text)" == "$text" ]] && ok "text with quotes, controls and UTF-8 round-trips" \
  || fail "text differs: $(jget b '.event == "message"' .text | od -c | head -3)"
[[ "$(jget b '.event == "message"' .from)" == "$id_a" ]] && ok "message carries the author" || fail "from"
printf 'raw \xff\xfe\xc0 bytes\n' >&"$fd_a"
jwait b '.event == "message" and (.text | startswith("raw"))' 15 || fail "no raw message"
[[ "$(jget b '.event == "message" and (.text | startswith("raw"))' .text)" == $'raw \uFFFD\uFFFD\uFFFD bytes' ]] \
  && ok "invalid UTF-8 becomes U+FFFD" || fail "invalid UTF-8: $(jget b '(.text // "" | startswith("raw"))' .text | od -c)"

# Commands and their results.
to b '{"cmd":"peers","id":"p1"}'
jwait b ".event == \"result\" and .id == \"p1\" and (.peers[] | select(.peer == \"$id_a\" and .connection == \"direct\" and .nick == \"alice\"))" 10 \
  && ok "peers result: direct, nickname" || fail "peers result"
to b '{"cmd":"ping","peer":"alice","id":"pg"}'
jwait b '.event == "result" and .id == "pg" and .rtt_ms > 0' 10 && ok "ping result with rtt" || fail "ping"
to a '{"cmd":"join","room":"second","id":"j"}'
to b '{"cmd":"join","room":"second"}'
jwait a '.event == "result" and .id == "j" and .room == "second" and .already == false' 5 && ok "join result" || fail "join"
to a '{"cmd":"rooms","id":"r"}'
jwait a ".event == \"result\" and .id == \"r\" and ([.rooms[].room] | sort) == ([\"$room\", \"second\"] | sort) and ([.rooms[] | select(.current)][0].room == \"second\")" 5 \
  && ok "rooms result: both, second is current" || fail "rooms"
jwait a ".event == \"join\" and .room == \"second\" and .peer == \"$id_b\"" 15 || fail "b not seen in second"
sleep 1.5
to a '{"cmd":"send","room":"'"$room"'","text":"to the first"}'
to a 'to the current'
jwait b '.event == "message" and .room == "'"$room"'" and .text == "to the first"' 15 && ok "send with an explicit room" \
  || fail "explicit room"
jwait b '.event == "message" and .room == "second" and .text == "to the current"' 15 && ok "plain line to the current room" \
  || fail "current room"
to a '{"cmd":"leave","id":"l"}'
jwait a ".event == \"result\" and .id == \"l\" and .room == \"second\" and .current == \"$room\"" 5 && ok "leave result" || fail "leave"
jwait b ".event == \"leave\" and .room == \"second\" and .peer == \"$id_a\"" 15 && ok "leave event" || fail "no leave event"
to b '{"cmd":"history","room":"'"$room"'","text":"FIRST","id":"h"}'
jwait b '.event == "history" and .text == "to the first" and .outgoing == false' 5 && jwait b '.event == "result" and .id == "h" and .count == 1' 5 \
  && ok "history search: event and count" || fail "history"
to a '{"cmd":"addrs","id":"ad"}'
jwait a ".event == \"result\" and .id == \"ad\" and (.addrs[0] | endswith(\"/p2p/$id_a\"))" 5 && ok "addrs result" || fail "addrs"
to a '{"cmd":"nick","name":"al2"}'
jwait b ".event == \"nick\" and .peer == \"$id_a\" and .nick == \"al2\"" 15 && ok "nick change seen by b" || fail "nick change"

# Errors: bad JSON, unknown command, bad field, a command the room
# refuses; each is one error object, the id echoed when it was read.
to a '{"cmd":"send","text":"x"'
to a '{"cmd":"dance","id":"e1"}'
to a '{"cmd":"send","text":"x","colour":"red","id":"e2"}'
to a '{"cmd":"leave","room":"nowhere","id":"e3"}'
to a '/nosuch'
jwait a '.event == "error" and .message == "expected '"','"' or '"'}'"'" and .cmd == null' 5 && ok "bad JSON: error" || fail "bad JSON"
jwait a '.event == "error" and .id == "e1" and (.message | test("unknown cmd"))' 5 && ok "unknown cmd: error with id" || fail "e1"
jwait a '.event == "error" and .id == "e2" and (.message | test("colour"))' 5 && ok "unknown field: error" || fail "e2"
jwait a '.event == "error" and .id == "e3" and .cmd == "leave"' 5 && ok "leave of a room not joined: error" || fail "e3"
jwait a '.event == "error" and (.message | test("unknown command /nosuch"))' 5 && ok "plain /command error" || fail "/nosuch"

# Every line of both outputs is exactly one JSON object with an event.
for p in a b; do
  bad=$(jq -c 'select((type != "object") or (.event | type) != "string")' "$TMP/$p.out" 2>&1 | head -3)
  n=$(grep -c . "$TMP/$p.out"); m=$(jq -c . "$TMP/$p.out" | grep -c .)
  [[ -z $bad && $n == "$m" ]] && ok "$p: $n lines, each one JSON object" || fail "$p output not JSON lines: $bad ($n vs $m)"
done

to a '{"cmd":"quit","id":"q"}'
wait_exit "$pid_a" 10
[[ $status == 0 ]] && ok "quit exits 0" || fail "quit: exit $status"
jwait a '.event == "result" and .id == "q"' 1 || fail "no quit result"
jwait b ".event == \"disconnected\" and .peer == \"$id_a\"" 15 && ok "disconnected event" || fail "no disconnected event"
kill -TERM "$pid_b"
wait_exit "$pid_b" 10
[[ $status == 0 ]] && ok "b shuts down cleanly" || fail "b exit status $status"
finish
