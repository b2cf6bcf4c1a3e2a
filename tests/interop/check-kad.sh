#!/usr/bin/env bash
# Kademlia DHT interop tests: OUR C node (cpeer kad: the kad plugin through
# the routing service) with the rust-libp2p, go-libp2p and js-libp2p test
# peers' `kad` subcommand (see README.md), over loopback, on /ipfs/kad/1.0.0.
#
# Usage: tests/interop/check-kad.sh CPEER pair IMPL
#        tests/interop/check-kad.sh CPEER mesh
#   CPEER  the cpeer binary (<build>/bin/cpeer)
#   pair   IMPL (rust, go or js) with C nodes, in two phases:
#          A  IMPL alone; C1 joins it, puts its /pk/ and /p2pchat/ records,
#             provides its key, looks up its closest peers and IMPL, and
#             leaves; C2 joins IMPL and must get C1's two records and find
#             C1 as provider of its key and C1's address: only IMPL can
#             have them (our PUT_VALUE and ADD_PROVIDER stored by IMPL,
#             IMPL's GET_VALUE, GET_PROVIDERS and FIND_NODE answers read
#             by us).
#          B  C3 alone, with its records and provider record stored only
#             locally; IMPL joins it, puts and provides its own, looks up
#             C3 and must get C3's records and find C3 as provider (only
#             C3 can answer: our answers read by IMPL), and leaves; C4
#             joins C3 and must get IMPL's records and provider record
#             (IMPL's PUT_VALUE and ADD_PROVIDER stored by us).
#          In both, each side must have put the other in its routing table
#          (IMPL accepts our node as a DHT server, and we accept IMPL).
#          INTEROP_KEY_TYPE=secp256k1|ecdsa|rsa gives IMPL such an
#          identity (as check-pubsub.sh): C4 then checks IMPL's /pk/
#          record (an RSA or ECDSA key is not in its PeerId) and its
#          records signed with that key.
#   mesh   one DHT of C1, rust, go, js and C2: rust, go and js know only
#          C1 (they find each other through C1's answers), C2 knows only
#          go; every node puts and provides, then must find every other
#          node among its closest peers and by FIND_NODE, and get every
#          other node's /pk/ and /p2pchat/ records and provider record.
#
# Records: /pk/<PeerId> (the public key) and /p2pchat/<PeerId>/interop, the
# p2pchat record (a signed envelope whose data is "<impl>-<last 6 characters
# of the PeerId>"), which rust, go and js seal and check with their own
# envelope code. The provider key of a node is the sha2-256 multihash of
# "p2pchat-interop/<PeerId>".
#
# Prints one PASS/FAIL line per check, then `N passed, N failed`; exits 0
# only when none failed (2 on a usage error). Every process is bounded by
# timeout(1) and stopped on exit; KEEP_LOGS=1 keeps the peers' output.
set -uo pipefail

# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

readonly LISTEN_WAIT=30 # s, for a peer's LISTEN line (node starts slowly)
readonly DONE_WAIT=60   # s, for a node's DONE (its lookups retry until then)
readonly PEER_LIMIT=100 # s, every node's --timeout (hard cap: + 10)

usage() {
  sed -n '6,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

[ "$#" -ge 2 ] || { usage >&2; exit 2; }
cpeer="$1" what="$2"
shift 2
case "$what" in
  pair)
    if [ "$#" -ne 1 ]; then usage >&2; exit 2; fi
    case "$1" in rust | go | js) ;; *) usage >&2; exit 2 ;; esac
    ;;
  mesh) [ "$#" -eq 0 ] || { usage >&2; exit 2; } ;;
  *) usage >&2; exit 2 ;;
esac
[ -x "$cpeer" ] || { printf 'cpeer not found: %s\n' "$cpeer" >&2; exit 2; }

subcommand=kad
# shellcheck source=harness.sh
. "$interop_dir/harness.sh"
harness_init kad

# ---- checks on one node's output ----------------------------------------------

# expect NAME REGEX WHAT: NAME printed a line matching REGEX.
expect() {
  if grep -qE -- "$2" "$work/$1.out"; then
    pass "$label: $1 (${impl_of[$1]}) $3"
  else
    fail "$label: $1 (${impl_of[$1]}) $3: no line /$2/$(grep -m1 -E '^(TIMEOUT|ERROR)' "$work/$1.out" | sed 's/^/; /')"
  fi
}

# data_of NAME: what NAME's /p2pchat/ record carries, <impl>-<id suffix>.
data_of() {
  local id
  id="$(id_of "$1")"
  printf '%s-%s\n' "${impl_of[$1]}" "${id: -6}"
}

# addr_re NAME: NAME's listen address (no /p2p/) as a regex fragment.
addr_re() {
  peer_listen_addr "$work/$1.out" | sed -e 's|/p2p/.*||' -e 's|\.|\\.|g'
}

# check_fetched GETTER OWNER: GETTER got OWNER's two records (checked
# against OWNER's PeerId and data) and found OWNER as a provider of its key.
check_fetched() {
  local g="$1" o="$2" oid
  oid="$(id_of "$o")"
  expect "$g" "^GOT_PK $oid\$" "got $o's /pk/ record"
  expect "$g" "^GOT_RECORD $oid seq=[0-9]+ data=$(data_of "$o")\$" "got $o's /p2pchat/ record"
  expect "$g" "^PROVIDERS $oid (.*,)?$oid(,|\$)" "found $o as a provider of its key"
}

# check_found FINDER TARGET: FINDER found TARGET with TARGET's address.
check_found() {
  expect "$1" "^FOUND_PEER $(id_of "$2") (.*,)?$(addr_re "$2")(/p2p/[^,]*)?(,|\$)" \
    "found $2 (FIND_NODE) with its listen address"
}

# check_published NAME: NAME's puts and its provide were taken by a peer.
check_published() {
  if [ "${impl_of[$1]}" = c ]; then
    expect "$1" '^PUT pk ok peers=[1-9]' "put its /pk/ record to a peer"
    expect "$1" '^PUT record ok peers=[1-9]' "put its /p2pchat/ record to a peer"
    expect "$1" '^PROVIDED ok peers=[1-9]' "provided its key to a peer"
  else
    expect "$1" '^PUT pk ok' "put its /pk/ record"
    expect "$1" '^PUT record ok' "put its /p2pchat/ record"
    expect "$1" '^PROVIDED ok' "provided its key"
  fi
}

# check_routing A B: A put B in its routing table.
check_routing() {
  expect "$1" "^ROUTING $(id_of "$2")\$" "has $2 in its routing table"
}

# check_done NAME...: each printed DONE.
check_done() {
  local n
  for n in "$@"; do
    expect "$n" '^DONE$' "did everything it was asked (DONE)"
  done
}

# listener NAME: wait for NAME's address; false (and a FAIL) if none.
listener() {
  local a
  if ! a="$(addr_of "$1")"; then
    fail "$label: $1 (${impl_of[$1]}) printed no LISTEN"
    show_logs "$1"
    return 1
  fi
  printf '%s\n' "$a"
}

# no_listener NAME...: listener runs in a command substitution (a subshell),
# so its fail() is not counted here: count it, then stop the peers.
no_listener() {
  failed=$((failed + 1))
  stop "$@"
}

# ---- pair -------------------------------------------------------------------

pair_run() {
  local impl="$1" a
  label="pair $impl A (C dials)"
  names=()
  start "$impl" "$impl" --table 0
  a="$(listener "$impl")" || { no_listener "$impl"; return; }
  start c1 c --bootstrap "$a" --put --provide --closest 1 --find-peer "$(id_of "$impl")"
  wait_done "$DONE_WAIT" c1
  stop c1
  start c2 c --bootstrap "$a" --closest 1 --find-peer "$(id_of c1)" --get-pk "$(id_of c1)" \
    --get-record "$(id_of c1)" --find-providers "$(id_of c1)"
  wait_done "$DONE_WAIT" c2
  check_done c1 c2
  check_published c1
  check_routing c1 "$impl"
  check_routing "$impl" c1
  check_routing "$impl" c2
  expect c1 "^CLOSEST [0-9]+ (.*,)?$(id_of "$impl")(,|\$)" "has $impl among its closest peers"
  check_found c1 "$impl"
  check_fetched c2 c1
  check_found c2 c1
  [ "$failed" -eq 0 ] || show_logs "$impl" c1 c2
  stop "$impl" c2

  label="pair $impl B ($impl dials)"
  names=()
  start c3 c --table 0 --put --provide
  a="$(listener c3)" || { no_listener c3; return; }
  local c3id
  c3id="$(id_of c3)"
  start "$impl" "$impl" --bootstrap "$a" --put --provide --closest 1 --find-peer "$c3id" --get-pk "$c3id" \
    --get-record "$c3id" --find-providers "$c3id"
  wait_done "$DONE_WAIT" "$impl"
  stop "$impl"
  start c4 c --bootstrap "$a" --find-peer "$(id_of "$impl")" --get-pk "$(id_of "$impl")" \
    --get-record "$(id_of "$impl")" --find-providers "$(id_of "$impl")"
  wait_done "$DONE_WAIT" c4
  check_done "$impl" c4
  expect c3 '^PUT record ok peers=0$' "published before anyone joined (its records only at itself)"
  check_published "$impl"
  check_routing "$impl" c3
  check_routing c3 "$impl"
  expect "$impl" "^CLOSEST [0-9]+ (.*,)?${c3id}(,|\$)" "has c3 among its closest peers"
  check_found "$impl" c3
  check_fetched "$impl" c3
  check_fetched c4 "$impl"
  check_found c4 "$impl"
  if peer_id_of_key_type "$(id_of "$impl")"; then
    pass "$label: the $impl peer's PeerId is of key type ${INTEROP_KEY_TYPE:-ed25519}"
  else
    fail "$label: the $impl peer's PeerId $(id_of "$impl") is not of key type ${INTEROP_KEY_TYPE:-ed25519}"
  fi
  [ "$failed" -eq 0 ] || show_logs c3 "$impl" c4
  stop c3 c4
}

# ---- mesh -------------------------------------------------------------------

mesh_run() {
  label="mesh"
  names=()
  # Fixed identities, so that every node can be told the others' PeerIds
  # before they start.
  local -A seed=([c1]=41 [rust]=42 [go]=43 [js]=44 [c2]=45) id=()
  local n o
  for n in c1 rust go js c2; do
    id[$n]="$("$interop_dir/go/interop-peer" peerid-from-seed "${seed[$n]}")"
  done
  # all_but NAME: the options that ask NAME to look up every other node.
  all_but() {
    local x
    printf -- '--closest 4'
    for x in c1 rust go js c2; do
      [ "$x" = "$1" ] && continue
      printf -- ' --find-peer %s --get-pk %s --get-record %s --find-providers %s' \
        "${id[$x]}" "${id[$x]}" "${id[$x]}" "${id[$x]}"
    done
  }
  local a ago
  # shellcheck disable=SC2046 # all_but's words are meant to split
  start c1 c --seed "${seed[c1]}" --table 0 --put --provide $(all_but c1)
  a="$(listener c1)" || { no_listener c1; return; }
  for n in rust go js; do
    # shellcheck disable=SC2046
    start "$n" "$n" --seed "${seed[$n]}" --bootstrap "$a" --put --provide $(all_but "$n")
  done
  ago="$(listener go)" || { no_listener "${names[@]}"; return; }
  # shellcheck disable=SC2046
  start c2 c --seed "${seed[c2]}" --bootstrap "$ago" --put --provide $(all_but c2)
  for n in rust js c2; do addr_of "$n" >/dev/null || true; done
  wait_done $((DONE_WAIT + 30)) c1 rust go js c2
  for n in c1 rust go js c2; do
    [ "$(id_of "$n")" = "${id[$n]}" ] || fail "$label: $n's PeerId is not the one of seed ${seed[$n]}"
  done
  check_done c1 rust go js c2
  for n in c1 rust go js c2; do
    for o in c1 rust go js c2; do
      [ "$n" = "$o" ] && continue
      expect "$n" "^CLOSEST [0-9]+ (.*,)?${id[$o]}(,|\$)" "has $o among its closest peers"
      check_found "$n" "$o"
      check_fetched "$n" "$o"
    done
  done
  [ "$failed" -eq 0 ] || show_logs c1 rust go js c2
  stop c1 rust go js c2
}

case "$what" in
  pair)
    peer_check "$1" || exit 1
    pair_run "$1"
    ;;
  mesh)
    for i in rust go js; do peer_check "$i" || exit 1; done
    mesh_run
    ;;
esac
checks_summary
