#!/usr/bin/env bash
# The persistent identity: created 0600 on first run and reused; a second
# instance at the same time gets an ephemeral identity and says so; a key
# file readable by others is refused. (mDNS stays off: tests never
# multicast on the machine's own network.)
source "$(dirname "$0")/lib.sh"
bin=$1
key="$XDG_DATA_HOME/p2pchat/identity.key"

peer_id() { sed -n 's/^PeerId: //p' "$1"; }

start_bg a "$bin" --without mdns peer
wait_for "$TMP/a.out" "PeerId:" 10 || fail "first peer did not start"
a_pid=$last_pid
[[ -f $key ]] && ok "identity file created" || fail "no identity file at $key"
mode=$(stat -c %a "$key" 2>/dev/null || echo none)
[[ $mode == 600 ]] && ok "identity file mode 0600" || fail "identity file mode $mode"

start_bg b "$bin" --without mdns peer
wait_for "$TMP/b.out" "PeerId:" 10 || fail "second peer did not start"
b_pid=$last_pid
ida=$(peer_id "$TMP/a.out"); idb=$(peer_id "$TMP/b.out")
[[ -n $ida && -n $idb && $ida != "$idb" ]] && ok "two instances have different PeerIds" \
  || fail "PeerIds: '$ida' and '$idb'"
expect_in "$TMP/b.out" "ephemeral identity" "second instance says it is ephemeral"
kill -TERM "$a_pid" "$b_pid"
wait_exit "$a_pid" 10; wait_exit "$b_pid" 10

start_bg c "$bin" --without mdns peer
wait_for "$TMP/c.out" "PeerId:" 10 || fail "third peer did not start"
[[ $(peer_id "$TMP/c.out") == "$ida" ]] && ok "identity reused after restart" || fail "identity changed after restart"
kill -TERM "$last_pid"; wait_exit "$last_pid" 10

chmod 644 "$key"
expect_exit 1 "key file readable by others" -- "$bin" --without mdns peer
expect_in "$TMP/err" "$key" "refusal names the key file"
expect_in "$TMP/err" "chmod 600" "refusal says how to fix it"
finish
