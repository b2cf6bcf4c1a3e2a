# shellcheck shell=bash
# Sourced by the interop test scripts: where the built test peers are and how
# to run them. Build them first with tests/interop/build-peers.sh [js|rust|go].

interop_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly interop_dir

# peer_check IMPL: fail with a clear message when IMPL's peer is not built.
peer_check() {
  local need
  case "$1" in
    js) need="$interop_dir/js/node_modules/.interop-build-stamp" ;;
    rust) need="$interop_dir/rust/target/release/interop-peer" ;;
    go) need="$interop_dir/go/interop-peer" ;;
    *)
      printf 'unknown peer implementation "%s" (expected js, rust or go)\n' "$1" >&2
      return 1
      ;;
  esac
  if [ ! -e "$need" ]; then
    printf 'the %s peer is not built (%s missing): run %s/build-peers.sh %s\n' \
      "$1" "$need" "$interop_dir" "$1" >&2
    return 1
  fi
}

# set_peer_cmd IMPL SUBCOMMAND: set the array peer_cmd to the command line that
# runs SUBCOMMAND of IMPL's peer; append the subcommand's arguments to it.
# (The js peer has one script per subcommand: js/<subcommand>.mjs.)
# shellcheck disable=SC2034 # peer_cmd is read by the sourcing script
set_peer_cmd() {
  case "$1" in
    js) peer_cmd=(node "$interop_dir/js/$2.mjs") ;;
    rust) peer_cmd=("$interop_dir/rust/target/release/interop-peer" "$2") ;;
    go) peer_cmd=("$interop_dir/go/interop-peer" "$2") ;;
    *) return 1 ;;
  esac
}

# The listen, dial and pubsub subcommands of every peer follow one contract
# (see README.md): line-oriented stdout, one event per line, flushed at once.
# Match lines by their first word and ignore lines you do not know.

# peer_wait_line FILE REGEX SECONDS [PID]: wait until FILE has a line matching
# the extended REGEX (true), or SECONDS pass, or process PID (if given) has
# exited (false). Polls every 0.1 s.
peer_wait_line() {
  local file="$1" re="$2" secs="$3" pid="${4:-}" i
  for ((i = 0; i < secs * 10; i++)); do
    grep -qE -- "$re" "$file" 2>/dev/null && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  grep -qE -- "$re" "$file" 2>/dev/null
}

# peer_listen_addr FILE: print the multiaddr of the first LISTEN line of a
# listener's stdout (e.g. /ip4/127.0.0.1/tcp/40961/p2p/12D3KooW...).
peer_listen_addr() {
  grep -m1 -E '^LISTEN /' "$1" | cut -d' ' -f2
}

# peer_id_of_key_type PEERID: true when PEERID is of the identity key type
# INTEROP_KEY_TYPE asks the test peers for (ed25519 when unset): an
# inlined Ed25519 key is 12D3KooW..., an inlined secp256k1 key 16Uiu2...,
# and ECDSA and RSA keys are too long to inline: a SHA-256 multihash, Qm....
# (Each peer makes its fresh identity of that type: go/main.go
# generateKey, rust/src/main.rs generated_keypair, js/common.mjs
# privateKey.)
peer_id_of_key_type() {
  case "${INTEROP_KEY_TYPE:-ed25519}" in
    ed25519) [[ "$1" == 12D3KooW* ]] ;;
    secp256k1) [[ "$1" == 16Uiu2* ]] ;;
    ecdsa | rsa) [[ "$1" == Qm* ]] ;;
    *) return 1 ;;
  esac
}
