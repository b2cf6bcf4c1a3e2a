#!/usr/bin/env bash
# Three p2pchat peers in one room over loopback: a line typed (written to
# stdin) in each arrives at the other two, exactly once; joins and leaves
# are shown; /peers and /quit work.
source "$(dirname "$0")/lib.sh"
bin=$1
room="e2e-room-$$"

start_peer() {  # NAME [FLAGS...]: stdin from a FIFO kept open by this shell
  local name=$1; shift
  mkfifo "$TMP/$name.in"
  exec {fd}<>"$TMP/$name.in"
  eval "fd_$name=$fd"
  P2P_LOG=warn "$bin" --without mdns peer --listen /ip4/127.0.0.1/tcp/0 --room "$room" "$@" \
    <"$TMP/$name.in" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  pids+=($!)
  eval "pid_$name=$!"
}
say() {  # NAME TEXT: type a line into NAME
  local fd_var="fd_$1"
  printf '%s\n' "$2" >&"${!fd_var}"
}

# a first; b bootstraps from a; c from both (pubsub reports the members of
# a room among connected peers, so everyone is connected to everyone).
start_peer a
wait_for "$TMP/a.out" "/p2p/" 10 || { fail "peer a did not start"; cat "$TMP/a.err"; finish; }
addr_of() { grep -m1 -o '/ip4/127.0.0.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*' "$TMP/$1.out"; }
start_peer b --bootstrap "$(addr_of a)"
wait_for "$TMP/b.out" "/p2p/" 10 || { fail "peer b did not start"; cat "$TMP/b.err"; finish; }
start_peer c --bootstrap "$(addr_of a)" --bootstrap "$(addr_of b)"
for p in a b c; do wait_for "$TMP/$p.out" "PeerId:" 10 || fail "peer $p did not start"; done
id() { sed -n 's/^PeerId: //p' "$TMP/$1.out"; }
short() { local f; f=$(id "$1"); echo "${f:0:8}...${f: -6}"; }

# Everyone sees the two others join (room membership through gossipsub).
for p in a b c; do
  n=0
  for q in a b c; do
    [[ $p == "$q" ]] && continue
    if wait_for "$TMP/$p.out" "* $(short "$q") joined the room" 20; then n=$((n + 1)); fi
  done
  [[ $n == 2 ]] && ok "$p sees both others in the room" || fail "$p sees $n of 2 others join"
done
sleep 1.5   # let the meshes form (heartbeat)

say a "hello from a"
say b "hello from b"
say c "hello from c"
for p in a b c; do
  for q in a b c; do
    [[ $p == "$q" ]] && continue
    if wait_for "$TMP/$p.out" "$(short "$q"): hello from $q" 15; then ok "$p got $q's message"
    else fail "$p did not get $q's message"; fi
  done
  # exactly once, and never our own message echoed back
  for q in a b c; do
    c=$(grep -c "hello from $q" "$TMP/$p.out" || true)
    want=1; [[ $p == "$q" ]] && want=0
    [[ $c == "$want" ]] && ok "$p shows $q's message $want time(s)" || fail "$p shows $q's message $c times"
  done
done

# /peers and /quit work from the input.
say b "/peers"
wait_for "$TMP/b.out" "peer(s) in room" 5 && ok "/peers answers" || fail "/peers"
say c "/quit"
wait_exit "$pid_c" 10
[[ $status == 0 ]] && ok "/quit exits 0" || fail "/quit exit status $status"
wait_for "$TMP/a.out" "* $(short c) left the room" 15 && ok "a sees c leave" || fail "a does not see c leave"

kill -TERM "$pid_a" "$pid_b"
wait_exit "$pid_a" 10; sa=$status
wait_exit "$pid_b" 10; sb=$status
[[ $sa == 0 && $sb == 0 ]] && ok "clean shutdown" || fail "exit statuses $sa $sb"
finish
