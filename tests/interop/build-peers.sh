#!/usr/bin/env bash
# Build the interop test peers (js-libp2p, rust-libp2p, go-libp2p).
#
# Usage: tests/interop/build-peers.sh [js] [rust] [go]    (default: all three)
#
# Idempotent: a peer that is already built and up to date costs well under a
# second. Outputs stay inside tests/interop/ and are git-ignored:
#   js/node_modules/                       (npm ci from js/package-lock.json)
#   rust/target/release/interop-peer       (cargo build --release --locked;
#                                           about 4 min from a cold target/)
#   go/interop-peer                        (go build, go.mod/go.sum as committed)
#
# Needs node+npm, cargo+rustc and go on PATH (and the npm registry, crates.io
# and the Go module proxy reachable on a first build). A missing or too old
# toolchain is reported clearly and the script exits non-zero.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Minimum toolchain versions (from the pinned dependencies):
#   node: js-libp2p 3.x with the Promise.withResolvers polyfill (js/polyfill.mjs)
#   rustc: rust-version of libp2p 0.57.1 and libp2p-stream 0.5.0-alpha
#   go: the go directive of github.com/libp2p/go-libp2p-pubsub v0.19.0 (go-libp2p v0.51.0: 1.26.0)
readonly MIN_NODE=20.0.0
readonly MIN_RUSTC=1.88.0
readonly MIN_GO=1.26.6

log() { printf 'build-peers: %s\n' "$*"; }
die() { printf 'build-peers: ERROR: %s\n' "$*" >&2; exit 1; }

# version_ge A B: true when version A >= version B.
version_ge() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# need_tool TOOL IMPL HINT: fail with a clear message when TOOL is not on PATH.
need_tool() {
  command -v "$1" >/dev/null 2>&1 ||
    die "'$1' not found on PATH: it is needed to build the $2 interop peer ($3)"
}

# need_version IMPL TOOL HAVE MIN
need_version() {
  version_ge "$3" "$4" ||
    die "$2 $3 is too old for the $1 interop peer (need >= $4)"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

build_js() {
  need_tool node js "Node.js >= ${MIN_NODE%%.*}"
  need_tool npm js "npm, shipped with Node.js"
  local v
  v="$(node --version)"
  need_version js node "${v#v}" "$MIN_NODE"

  local dir="$here/js" stamp="$here/js/node_modules/.interop-build-stamp" want
  want="$(sha256_of "$dir/package-lock.json")"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "js: up to date (node $v)"
    return 0
  fi
  log "js: npm ci (node $v, npm $(npm --version))"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$want" >"$stamp"
  log "js: done"
}

build_rust() {
  need_tool cargo rust "Rust >= $MIN_RUSTC, e.g. via rustup"
  need_tool rustc rust "Rust >= $MIN_RUSTC, e.g. via rustup"
  local v
  v="$(rustc --version | cut -d' ' -f2)"
  need_version rust rustc "${v%%-*}" "$MIN_RUSTC"

  log "rust: cargo build --release --locked (rustc $v)"
  # --target-dir overrides any CARGO_TARGET_DIR so the binary is where the
  # tests look for it. cargo itself makes this a no-op when up to date.
  (cd "$here/rust" &&
    cargo build --release --locked --quiet --target-dir "$here/rust/target")
  log "rust: done ($here/rust/target/release/interop-peer)"
}

build_go() {
  need_tool go go "Go >= $MIN_GO"
  local v
  # GOTOOLCHAIN=local: never try to download another Go toolchain.
  v="$(GOTOOLCHAIN=local go env GOVERSION)"
  v="${v#go}"
  need_version go go "${v%%[-+ ]*}" "$MIN_GO"

  log "go: go build (go $v)"
  # go build skips relinking when the binary is already up to date.
  (cd "$here/go" &&
    GOTOOLCHAIN=local go build -mod=readonly -trimpath -buildvcs=false -o interop-peer .)
  log "go: done ($here/go/interop-peer)"
}

main() {
  local impls=("$@")
  if [ "${#impls[@]}" -eq 0 ]; then
    impls=(js rust go)
  fi
  local impl
  for impl in "${impls[@]}"; do
    case "$impl" in
      js) build_js ;;
      rust) build_rust ;;
      go) build_go ;;
      -h | --help)
        sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        return 0
        ;;
      *) die "unknown peer '$impl' (expected js, rust or go)" ;;
    esac
  done
}

main "$@"
