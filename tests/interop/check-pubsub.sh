#!/usr/bin/env bash
# Gossipsub interop tests: OUR C node (cpeer pubsub, the gossipsub plugin
# through the pubsub service) with the rust-libp2p, go-libp2p and js-libp2p
# test peers' `pubsub` subcommand (see README.md), over loopback.
#
# Usage: tests/interop/check-pubsub.sh CPEER pair IMPL
#        tests/interop/check-pubsub.sh CPEER mesh
#        tests/interop/check-pubsub.sh CPEER chat-example [P2PCHAT]
#        tests/interop/check-pubsub.sh CPEER bad-signature
#   CPEER    the cpeer binary (<build>/bin/cpeer)
#   pair     IMPL (rust, go or js) and one C peer in one topic, both ways
#            round: C listens and IMPL connects, then IMPL listens and C
#            connects; each publishes 5 signed messages and must receive
#            all 5 of the other's, with the other's PeerId as author (the
#            signature checked by the receiving library), exactly once.
#            INTEROP_KEY_TYPE=secp256k1|ecdsa|rsa gives the IMPL
#            peer such an identity (the types its library can make; see
#            CMakeLists.txt): its messages carry that key's signatures
#            (RSA and ECDSA authors also their key field).
#   mesh     five peers (C1, C2, rust, go, js) in one topic, first as a star
#            around C1, then as the line js - C1 - rust - go - C2; every
#            peer publishes 5 and must receive the other four peers' 20,
#            exactly once (messages cross up to 4 hops: forwarding by C,
#            rust and go, and signatures checked by every receiver).
#   chat-example  the rust peer built like rust-libp2p's examples/chat
#            (--chat-example: its gossipsub config and message-id function,
#            no identify, connected peers made explicit peers, topic
#            test-net) with a C peer, and, with P2PCHAT, with p2pchat itself
#            (`p2pchat peer --room test-net --bootstrap <rust>` fed through
#            a FIFO): rust and C exchange 5 messages each, p2pchat sends 2
#            lines, and everyone must see everyone else's messages (C and
#            p2pchat through the rust peer, which forwards to its explicit
#            peers).
#   bad-signature  a forger (cpeer pubsub --bad-signature: raw
#            /meshsub/1.1.0, see c/cpeer.c) connects to a C victim and to a
#            go peer and sends one genuine message plus 8 forged ones (bad,
#            foreign or missing signatures, tampered data, a foreign key
#            field, a forged twin with the genuine message's id, an
#            anonymous message). The C victim must deliver the genuine one
#            and none of the forged, must not forward any of them (the go
#            peer, also in the victim's mesh, reports every message it
#            rejects with the peer it came from), and still receives the go
#            peer's 5 messages afterwards. The go peer rejecting all 8
#            forged messages that came to it directly shows they are invalid
#            by a reference implementation's judgement.
#
# Prints one PASS/FAIL line per check, then `N passed, N failed`; exits 0
# only when none failed (2 on a usage error). Every process is bounded by
# timeout(1) and stopped on exit; KEEP_LOGS=1 keeps the peers' output (the
# directory is printed).
set -uo pipefail

# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

readonly LISTEN_WAIT=30 # s, for a peer's LISTEN line (node starts slowly)
readonly MESH_WAIT=30   # s, for the mesh of a topology to form
readonly DONE_WAIT=45   # s, for every peer's DONE once publishing started
readonly PEER_LIMIT=120 # s, every peer's --timeout (hard cap: + 10)
readonly COUNT=5        # messages published per peer

usage() {
  sed -n '6,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

[ "$#" -ge 2 ] || { usage >&2; exit 2; }
cpeer="$1" what="$2"
shift 2
case "$what" in
  pair)
    if [ "$#" -ne 1 ]; then usage >&2; exit 2; fi
    case "$1" in rust | go | js) ;; *) usage >&2; exit 2 ;; esac
    ;;
  mesh | bad-signature) [ "$#" -eq 0 ] || { usage >&2; exit 2; } ;;
  chat-example) [ "$#" -le 1 ] || { usage >&2; exit 2; } ;;
  *) usage >&2; exit 2 ;;
esac
[ -x "$cpeer" ] || { printf 'cpeer not found: %s\n' "$cpeer" >&2; exit 2; }

subcommand=pubsub
# shellcheck source=harness.sh
. "$interop_dir/harness.sh"
fifo_fd=""
close_fifo() {
  if [ -n "$fifo_fd" ]; then exec {fifo_fd}>&-; fi
}
harness_cleanup_hook=close_fifo
harness_init pubsub

# prefix_of IMPL: how IMPL's message texts start.
prefix_of() {
  echo "$1"
}
# text_of NAME I: the I-th message NAME publishes, <impl>-<id suffix>-<I>.
text_of() {
  local id
  id="$(id_of "$1")"
  printf '%s-%s-%s\n' "$(prefix_of "${impl_of[$1]}")" "${id: -6}" "$2"
}

# wait_mesh A B: wait until A printed MESH for B's PeerId.
wait_mesh() {
  peer_wait_line "$work/$1.out" "^MESH $(id_of "$2")\$" "$MESH_WAIT" "${pid[$1]}"
}

# check_received R S [N]: R printed RECV with S's PeerId as author for each
# of S's N (default COUNT) messages.
check_received() {
  local r="$1" s="$2" n="${3:-$COUNT}" i sid missing=()
  sid="$(id_of "$s")"
  for ((i = 1; i <= n; i++)); do
    grep -qxF "RECV $sid $(text_of "$s" "$i")" "$work/$r.out" || missing+=("$(text_of "$s" "$i")")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    pass "$label: $r (${impl_of[$r]}) received $s's (${impl_of[$s]}) $n messages, author = $s's PeerId"
  else
    fail "$label: $r (${impl_of[$r]}) did not receive from $s (${impl_of[$s]}): ${missing[*]}"
  fi
}

# check_exact R N: R printed exactly N RECV lines, all different (no
# duplicate delivery, nothing unexpected).
check_exact() {
  local r="$1" n="$2" total distinct
  total="$(grep -c '^RECV ' "$work/$r.out")"
  distinct="$(grep '^RECV ' "$work/$r.out" | sort -u | wc -l)"
  if [ "$total" -eq "$n" ] && [ "$distinct" -eq "$n" ]; then
    pass "$label: $r (${impl_of[$r]}) received exactly $n messages, each once"
  else
    fail "$label: $r (${impl_of[$r]}) printed $total RECV lines ($distinct different), expected $n"
  fi
}

# check_no_rejected NAME: a go peer reported no rejected message (REJECTED:
# invalid signature, self-origin, ...).
check_no_rejected() {
  [ "${impl_of[$1]}" = go ] || return 0
  if grep -q '^REJECTED ' "$work/$1.out"; then
    fail "$label: $1 (go) rejected messages: $(grep '^REJECTED ' "$work/$1.out" | head -3 | tr '\n' ';')"
  else
    pass "$label: $1 (go) rejected no message"
  fi
}

# check_done NAME...: each printed DONE.
check_done() {
  local n
  for n in "$@"; do
    if grep -qx DONE "$work/$n.out"; then
      pass "$label: $n (${impl_of[$n]}) published $COUNT and printed DONE"
    else
      fail "$label: $n (${impl_of[$n]}) did not finish: $(grep -E '^(TIMEOUT|ERROR)' "$work/$n.out" | head -1)"
    fi
  done
}

# ---- pair: C and IMPL, both directions -------------------------------------

# pair_run IMPL c-listens|c-dials
pair_run() {
  local impl="$1" mode="$2" a b addr
  local topic="interop-pubsub-$impl-$mode-$$"
  label="pair $impl $mode"
  names=()
  if [ "$mode" = c-listens ]; then a=c1 b=$impl; else a=$impl b=c1; fi
  start "$a" "$( [ "$a" = c1 ] && echo c || echo "$impl")" --topic "$topic" --count "$COUNT" --expect "$COUNT"
  if ! addr="$(addr_of "$a")"; then
    fail "$label: $a printed no LISTEN"
    show_logs "$a"
    stop "$a"
    return
  fi
  start "$b" "$( [ "$b" = c1 ] && echo c || echo "$impl")" --topic "$topic" --connect "$addr" \
    --count "$COUNT" --expect "$COUNT"
  addr_of "$b" >/dev/null
  wait_done "$DONE_WAIT" "$a" "$b"
  check_done "$a" "$b"
  check_received c1 "$impl"
  check_received "$impl" c1
  if peer_id_of_key_type "$(id_of "$impl")"; then
    pass "$label: the $impl peer's PeerId is of key type ${INTEROP_KEY_TYPE:-ed25519}"
  else
    fail "$label: the $impl peer's PeerId $(id_of "$impl") is not of key type ${INTEROP_KEY_TYPE:-ed25519}"
  fi
  check_exact c1 "$COUNT"
  check_exact "$impl" "$COUNT"
  check_no_rejected "$impl"
  [ "$failed" -eq 0 ] || show_logs "$a" "$b"
  stop "$a" "$b"
}

# ---- mesh: star and line of five -------------------------------------------

# topology_run star|line: start the five peers (connections given by
# link pairs), wait for the meshes, open the gate, check everything.
topology_run() {
  local shape="$1" expect=$((4 * COUNT))
  local topic="interop-pubsub-mesh-$shape-$$" gate="$work/$shape.start"
  label="mesh $shape"
  names=()
  local -a links
  if [ "$shape" = star ]; then
    # leaf:hub
    links=(rust:c1 go:c1 js:c1 c2:c1)
  else
    # js - c1 - rust - go - c2
    links=(js:c1 rust:c1 go:rust c2:go)
  fi
  local common=(--topic "$topic" --count "$COUNT" --expect "$expect" --start-file "$gate")
  start c1 c "${common[@]}"
  local -A addr=()
  if ! addr[c1]="$(addr_of c1)"; then
    fail "$label: c1 printed no LISTEN"
    show_logs c1
    stop c1
    return
  fi
  local l from to impl
  for l in "${links[@]}"; do
    from="${l%%:*}" to="${l##*:}"
    impl="$from"
    case "$from" in c*) impl=c ;; esac
    if [ -z "${addr[$to]:-}" ]; then
      fail "$label: $to has no address for $from to connect to"
      continue
    fi
    start "$from" "$impl" "${common[@]}" --connect "${addr[$to]}"
    addr[$from]="$(addr_of "$from")" || fail "$label: $from printed no LISTEN"
  done
  local mesh_ok=1
  for l in "${links[@]}"; do
    from="${l%%:*}" to="${l##*:}"
    if ! wait_mesh "$from" "$to" || ! wait_mesh "$to" "$from"; then
      mesh_ok=0
      fail "$label: no mesh between $from and $to within ${MESH_WAIT}s"
    fi
  done
  [ "$mesh_ok" = 1 ] && pass "$label: every link is in both peers' meshes (${links[*]})"
  : >"$gate"
  wait_done "$DONE_WAIT" "${names[@]}"
  check_done "${names[@]}"
  local r s
  for r in "${names[@]}"; do
    for s in "${names[@]}"; do
      [ "$r" = "$s" ] || check_received "$r" "$s"
    done
    check_exact "$r" "$expect"
    check_no_rejected "$r"
  done
  [ "$failed" -eq 0 ] || show_logs "${names[@]}"
  stop "${names[@]}"
}

# ---- chat-example: rust's examples/chat, C and p2pchat ---------------------

chat_run() {
  local p2pchat="${1:-}" topic=test-net gate="$work/chat.start" nlines=2 rust_addr
  label="chat-example"
  names=()
  # rust and C each receive the other's COUNT plus p2pchat's lines
  local expect=$COUNT
  [ -n "$p2pchat" ] && expect=$((COUNT + nlines))
  start rust rust --chat-example --topic "$topic" --count "$COUNT" --expect "$expect" --start-file "$gate"
  if ! rust_addr="$(addr_of rust)"; then
    fail "$label: rust printed no LISTEN"
    show_logs rust
    return
  fi
  start c1 c --topic "$topic" --connect "$rust_addr" --count "$COUNT" --expect "$expect" --start-file "$gate"
  addr_of c1 >/dev/null || fail "$label: c1 printed no LISTEN"
  local chat_id=""
  if [ -n "$p2pchat" ]; then
    # p2pchat's built-in peer configuration without mdns (it would
    # multicast on the machine's network) and kad (it would keep a routing
    # table in $HOME), with a throw-away identity, on loopback.
    mkfifo "$work/p2pchat.in"
    timeout --foreground -k 3 $((PEER_LIMIT + 10)) "$p2pchat" --without mdns --without kad \
      --set host.ephemeral_identity=true --set host.log=info \
      peer --listen /ip4/127.0.0.1/tcp/0 --room "$topic" --bootstrap "$rust_addr" \
      <"$work/p2pchat.in" >"$work/p2pchat.out" 2>"$work/p2pchat.err" &
    pid[p2pchat]=$!
    exec {fifo_fd}>"$work/p2pchat.in"
    if peer_wait_line "$work/p2pchat.out" '^PeerId: ' "$LISTEN_WAIT" "${pid[p2pchat]}"; then
      chat_id="$(grep -m1 '^PeerId: ' "$work/p2pchat.out" | cut -d' ' -f2)"
    else
      fail "$label: p2pchat printed no PeerId"
    fi
  fi
  # rust (explicit peers, never in its mesh) needs its peers' subscriptions;
  # C needs rust in its mesh (rust ignores the GRAFT of an explicit peer but
  # C keeps rust in its mesh).
  peer_wait_line "$work/rust.out" "^SUBSCRIBED $(id_of c1)\$" "$MESH_WAIT" "${pid[rust]}" ||
    fail "$label: rust saw no subscription from c1"
  wait_mesh c1 rust || fail "$label: c1 has no mesh peer"
  local rust_short
  rust_short="$(id_of rust)"
  rust_short="${rust_short:0:8}...${rust_short: -6}"
  if [ -n "$chat_id" ]; then
    peer_wait_line "$work/rust.out" "^SUBSCRIBED $chat_id\$" "$MESH_WAIT" "${pid[rust]}" ||
      fail "$label: rust saw no subscription from p2pchat"
    peer_wait_line "$work/p2pchat.out" "\\* $rust_short joined the room" "$MESH_WAIT" "${pid[p2pchat]}" ||
      fail "$label: p2pchat did not see rust join the room"
  fi
  : >"$gate"
  local i
  if [ -n "$chat_id" ]; then
    for ((i = 1; i <= nlines; i++)); do
      printf 'p2pchat-%s-%d\n' "${chat_id: -6}" "$i" >&"$fifo_fd"
      sleep 0.2
    done
  fi
  wait_done "$DONE_WAIT" rust c1
  check_done rust c1
  check_received c1 rust
  check_received rust c1
  if [ -n "$chat_id" ]; then
    impl_of[p2pchat]=p2pchat
    local missing=() t
    for ((i = 1; i <= nlines; i++)); do
      t="p2pchat-${chat_id: -6}-$i"
      grep -qxF "RECV $chat_id $t" "$work/rust.out" || missing+=("rust:$t")
      grep -qxF "RECV $chat_id $t" "$work/c1.out" || missing+=("c1:$t")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
      pass "$label: rust and c1 (through rust) received p2pchat's $nlines lines, author = p2pchat's PeerId"
    else
      fail "$label: p2pchat's lines missing at ${missing[*]}"
    fi
    # p2pchat prints "[HH:MM:SS] <short id>: <text>"
    local s short
    for s in rust c1; do
      missing=()
      short="$(id_of "$s")"
      short="${short:0:8}...${short: -6}"
      for ((i = 1; i <= COUNT; i++)); do
        grep -qE "^\[[0-9:]{8}\] $(printf '%s' "$short" | sed 's/\./\\./g'): $(text_of "$s" "$i")\$" \
          "$work/p2pchat.out" || missing+=("$(text_of "$s" "$i")")
      done
      if [ "${#missing[@]}" -eq 0 ]; then
        pass "$label: p2pchat showed $s's ($([ "$s" = rust ] && echo 'directly' || echo 'through rust')) $COUNT messages as $short"
      else
        fail "$label: p2pchat did not show $s's ${missing[*]}"
      fi
    done
  fi
  check_exact c1 "$expect"
  check_exact rust "$expect"
  [ "$failed" -eq 0 ] || show_logs rust c1 p2pchat
  stop rust c1 p2pchat
}

# ---- bad-signature: a forger against a C victim ----------------------------

bad_run() {
  local topic="interop-pubsub-bad-$$" gate="$work/bad.start" vaddr gaddr
  label="bad-signature"
  names=()
  # victim: the forger's genuine message and go's COUNT
  start victim c --topic "$topic" --count 0 --expect $((1 + COUNT))
  if ! vaddr="$(addr_of victim)"; then
    fail "$label: victim printed no LISTEN"
    show_logs victim
    return
  fi
  # go: publishes only after the forgery (gate); expects the genuine one
  start go go --topic "$topic" --connect "$vaddr" --count "$COUNT" --expect 1 --start-file "$gate"
  gaddr="$(addr_of go)" || fail "$label: go printed no LISTEN"
  if wait_mesh victim go && wait_mesh go victim; then
    pass "$label: victim and go are in each other's mesh"
  else
    fail "$label: no mesh between victim and go"
  fi
  start forger c --bad-signature --topic "$topic" --connect "$vaddr" --connect "$gaddr" --count 1
  if wait_done 30 forger; then
    pass "$label: the forger sent its genuine and forged messages to the victim and to go"
  else
    fail "$label: the forger did not finish: $(grep -E '^(TIMEOUT|ERROR)' "$work/forger.out" | head -1)"
  fi
  # let the victim process them before go publishes
  sleep 1
  : >"$gate"
  wait_done "$DONE_WAIT" victim go
  local fid vid genuine
  fid="$(id_of forger)"
  vid="$(id_of victim)"
  genuine="$(text_of forger 1)"
  if grep -qxF "RECV $fid $genuine" "$work/victim.out"; then
    pass "$label: the victim delivered the genuine message $genuine (after its forged twin with the same id)"
  else
    fail "$label: the victim did not deliver the genuine message $genuine"
  fi
  local leaked
  leaked="$(grep '^RECV ' "$work/victim.out" | grep ' bad-' | cut -d' ' -f3 | tr '\n' ' ')"
  if [ -z "$leaked" ]; then
    pass "$label: the victim delivered none of the $(grep -c '^FORGED ' "$work/forger.out") forged messages"
  else
    fail "$label: the victim delivered forged messages: $leaked"
  fi
  check_received victim go
  check_exact victim $((1 + COUNT))
  if grep -qxF "RECV $fid $genuine" "$work/go.out"; then
    pass "$label: go received the genuine message"
  else
    fail "$label: go did not receive the genuine message"
  fi
  leaked="$(grep '^RECV ' "$work/go.out" | grep ' bad-' | cut -d' ' -f3 | tr '\n' ' ')"
  if [ -z "$leaked" ]; then
    pass "$label: go delivered no forged message"
  else
    fail "$label: go delivered forged messages: $leaked"
  fi
  # REJECTED <author> <reason> <received from> <text>
  local via_victim direct kinds k
  via_victim="$(grep -c "^REJECTED [^ ]* [^ ]* $vid " "$work/go.out")"
  if [ "$via_victim" -eq 0 ]; then
    pass "$label: the victim forwarded no invalid message (go rejected none that came from it)"
  else
    fail "$label: the victim forwarded $via_victim invalid messages to go: $(grep "^REJECTED [^ ]* [^ ]* $vid " "$work/go.out" | head -3 | tr '\n' ';')"
  fi
  # (samesid is left out: when the genuine message, forwarded by the
  # victim, reaches go first, go drops the twin unverified as a duplicate)
  kinds="$(grep '^FORGED ' "$work/forger.out" | cut -d' ' -f2 | grep -vx samesid | sort -u)"
  direct=()
  for k in $kinds; do
    grep -qE "^REJECTED [^ ]+ [^ ]+ $fid bad-$k-" "$work/go.out" || direct+=("$k")
  done
  if [ -n "$kinds" ] && [ "${#direct[@]}" -eq 0 ]; then
    pass "$label: go (reference) rejected every forged kind sent to it directly: $(tr '\n' ' ' <<<"$kinds")"
  else
    fail "$label: go did not reject the forged kinds: ${direct[*]:-none forged}"
  fi
  # the victim is still alive and answers SIGTERM
  stop victim
  if grep -q '^RSS_MAX_KIB ' "$work/victim.out"; then
    pass "$label: the victim was still running at the end"
  else
    fail "$label: the victim was not running at the end"
  fi
  [ "$failed" -eq 0 ] || show_logs victim go forger
  stop go forger
}

case "$what" in
  pair)
    peer_check "$1" || exit 1
    pair_run "$1" c-listens
    pair_run "$1" c-dials
    ;;
  mesh)
    for i in rust go js; do peer_check "$i" || exit 1; done
    topology_run star
    topology_run line
    ;;
  chat-example)
    peer_check rust || exit 1
    chat_run "${1:-}"
    ;;
  bad-signature)
    peer_check go || exit 1
    bad_run
    ;;
esac
checks_summary
