#!/usr/bin/env bash
# bench/run.sh - benchmarks of libp2p in C against rust-libp2p, go-libp2p
# and js-libp2p on this machine's loopback, with the ceilings measured in
# the same run. See bench/README.md.
#
#   bench/run.sh [--reps N] [--bytes B] [--handshakes N]
#                [--impls "c rust go js rust1 go1"] [--no-mixed] [--nice N]
#                [--no-build] [--out FILE] [--no-doc]
#
# Builds (idempotent; quick once built): the C code with -O2 in
# build/bench (only the core, the plugins it runs, p2pchat, the C bench
# peer and the ceilings), the rust peer (cargo --release --locked, target
# dir build/bench/rust-target), the go peer (build/bench/bin/go-bench-peer)
# and the js peer (npm ci in bench/peers/js). Then measures, one process
# pair at a time:
#   (a) throughput: one Noise+Yamux stream, /perf/1.0.0, B bytes up (default
#       1 GiB), then B bytes down, for each implementation against itself;
#       the same upload between C and each other one;
#   (b) handshake rate: N sequential dial + Noise + Yamux + identify +
#       close;
#   (c) ceilings: raw TCP loopback throughput (bench/ceiling/tcp.c) and
#       libsodium ChaCha20-Poly1305 on one core (bench/ceiling/aead.c; also
#       OpenSSL's when libcrypto's headers are there);
# in --reps rounds (default 3): each round runs every measurement once, the
# implementations one after the other (all servers stay up, idle between
# their turns), so that changes in the machine's other load hit them alike.
# rust1 and go1 are the rust and go peers on one thread (a current-thread
# tokio runtime; GOMAXPROCS=1), like the C peer's one libuv loop.
# --nice N runs every benchmark process at that niceness (e.g. -10 on a
# shared machine, as root), so that other jobs disturb less.
# Writes bench/results/<date>.json (every sample, machine description) and
# regenerates the tables of docs/BENCHMARKS.md (bench/report.py).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bdir="$root/build/bench"
reps=3
bytes=$((1 << 30))
handshakes=200
impls="c rust go js rust1 go1"
nice_level=0
mixed=1
build=1
doc=1
out=""
cmdline="bench/run.sh $*"

while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps="$2"; shift 2 ;;
    --bytes) bytes="$2"; shift 2 ;;
    --handshakes) handshakes="$2"; shift 2 ;;
    --impls) impls="$2"; shift 2 ;;
    --no-mixed) mixed=0; shift ;;
    --nice) nice_level="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --no-doc) doc=0; shift ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,32p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 64 ;;
  esac
done

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: ERROR: %s\n' "$*" >&2; exit 1; }

# ---- build ------------------------------------------------------------------

build_c() {
  log "C: cmake -O2 in build/bench"
  cmake -S "$root" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" \
    -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$bdir" --parallel "$(nproc)" --target p2pchat plugin_transport-tcp plugin_noise plugin_yamux \
    plugin_identify plugin_ping plugin_perf >/dev/null
  local cflags=(-O2 -Wall -Wextra -Werror -std=gnu11)
  cc "${cflags[@]}" -I"$root/core/include" $(pkg-config --cflags libuv) "$root/bench/peers/c/cbench.c" \
    -L"$bdir/lib" -lp2pcore $(pkg-config --libs libuv) -Wl,-rpath,'$ORIGIN/../lib' -o "$bdir/bin/cbench"
  cc "${cflags[@]}" "$root/bench/ceiling/tcp.c" -o "$bdir/bin/ceiling-tcp"
  local ossl=()
  if pkg-config --exists libcrypto && [ -f "$(pkg-config --variable=includedir libcrypto)/openssl/evp.h" ]; then
    ossl=(-DWITH_OPENSSL $(pkg-config --cflags --libs libcrypto))
  fi
  cc "${cflags[@]}" $(pkg-config --cflags libsodium) "$root/bench/ceiling/aead.c" $(pkg-config --libs libsodium) \
    "${ossl[@]}" -o "$bdir/bin/ceiling-aead"
}

build_rust() {
  log "rust: cargo build --release --locked (a cold build takes ~7 min on 2 cores)"
  (cd "$root/bench/peers/rust" && cargo build --release --locked --quiet --target-dir "$bdir/rust-target")
}

build_go() {
  log "go: go build"
  (cd "$root/bench/peers/go" &&
    GOTOOLCHAIN=local go build -mod=readonly -trimpath -buildvcs=false -o "$bdir/bin/go-bench-peer" .)
}

build_js() {
  local dir="$root/bench/peers/js" stamp="$root/bench/peers/js/node_modules/.bench-stamp" want
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  log "js: npm ci"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$want" >"$stamp"
}

mkdir -p "$bdir/bin"
if [ "$build" = 1 ]; then
  build_c
  for i in $impls; do
    case "$i" in
      c) ;;
      rust | rust1) build_rust ;;
      go | go1) build_go ;;
      js) build_js ;;
      *) die "unknown implementation $i" ;;
    esac
  done
fi

# ---- peers --------------------------------------------------------------------

# Every benchmark process runs as `nice -n $nice_level env ...`.
run_prefix() {
  pre=(nice -n "$nice_level" env)
  case "$1" in
    rust1) pre+=(BENCH_THREADS=1) ;;
    go1) pre+=(GOMAXPROCS=1) ;;
  esac
}

# server_cmd IMPL: the command line of IMPL's perf server (array srv)
server_cmd() {
  run_prefix "$1"
  case "$1" in
    c) srv=("${pre[@]}" "$bdir/bin/p2pchat" -c "$root/bench/peers/c/server.ini") ;;
    rust | rust1) srv=("${pre[@]}" "$bdir/rust-target/release/bench-peer" server) ;;
    go | go1) srv=("${pre[@]}" "$bdir/bin/go-bench-peer" server) ;;
    js) srv=("${pre[@]}" node "$root/bench/peers/js/bench-peer.mjs" server) ;;
  esac
}

# client_cmd IMPL MODE: the client command line (array cli); MODE perf|handshakes
client_cmd() {
  run_prefix "$1"
  case "$1/$2" in
    c/perf) cli=("${pre[@]}" "$bdir/bin/p2pchat" perf --interval 0) ;;
    c/handshakes) cli=("${pre[@]}" "$bdir/bin/cbench" handshakes) ;;
    rust*/*) cli=("${pre[@]}" "$bdir/rust-target/release/bench-peer" "$2") ;;
    go*/*) cli=("${pre[@]}" "$bdir/bin/go-bench-peer" "$2") ;;
    js/*) cli=("${pre[@]}" node "$root/bench/peers/js/bench-peer.mjs" "$2") ;;
  esac
}

tmp="$(mktemp -d)"
declare -A srv_pid=() srv_addr=()
cleanup() {
  local p
  for p in "${srv_pid[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_server IMPL: start IMPL's server; sets srv_pid[IMPL], srv_addr[IMPL].
# All servers run for the whole benchmark (idle between their turns), so
# that the rounds below can interleave the implementations.
start_server() {
  local out="$tmp/server-$1.out" pid addr=""
  server_cmd "$1"
  "${srv[@]}" >"$out" 2>"$tmp/server-$1.err" &
  pid=$!
  srv_pid[$1]=$pid
  for _ in $(seq 1 300); do
    addr="$(grep -o '/ip4/127\.0\.0\.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*' "$out" 2>/dev/null | head -1 || true)"
    if [ -n "$addr" ]; then
      srv_addr[$1]=$addr
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$tmp/server-$1.err" >&2
  die "the $1 server printed no listen address"
}

# CPU seconds (user + system, all threads) of a running process.
proc_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

samples="$tmp/samples.jsonl"
: >"$samples"

# run_client KIND SERVER_IMPL CLIENT_IMPL ARGS...: one client run against
# the running server; appends a sample line {"kind","server","client",
# "result":<client JSON>,"clientCpu","serverCpu","load","round"}.
run_client() {
  local kind="$1" simpl="$2" cimpl="$3"
  shift 3
  local mode=perf
  [ "$kind" = handshakes ] && mode=handshakes
  client_cmd "$cimpl" "$mode"
  local s0 s1 load line ccpu pid="${srv_pid[$simpl]}"
  load="$(cut -d' ' -f1 /proc/loadavg)"
  s0="$(proc_cpu "$pid")"
  # the client's CPU time (user + system, all threads): bash's time keyword
  local TIMEFORMAT='%3U %3S'
  if ! { time timeout -k 5 300 "${cli[@]}" "${srv_addr[$simpl]}" "$@" >"$tmp/client.out" 2>"$tmp/client.err"; } \
    2>"$tmp/client.time"; then
    cat "$tmp/client.err" >&2
    die "$cimpl client against the $simpl server failed ($kind $*)"
  fi
  s1="$(proc_cpu "$pid")"
  line="$(grep -E '^\{"type":"(final|handshakes)"' "$tmp/client.out" | tail -1)"
  [ -n "$line" ] || die "$cimpl client printed no result"
  ccpu="$(awk '{ print $1 + $2 }' "$tmp/client.time")"
  printf '{"kind":"%s","server":"%s","client":"%s","result":%s,"clientCpu":%s,"serverCpu":%s,"load":%s,"round":%s}\n' \
    "$kind" "$simpl" "$cimpl" "$line" "$ccpu" "$(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')" "$load" \
    "${round:-0}" >>"$samples"
  log "  $kind $cimpl->$simpl: $line"
}

ceilings() {
  local line
  line="$(nice -n "$nice_level" "$bdir/bin/ceiling-tcp" "$bytes")"
  printf '{"kind":"ceiling-tcp","result":%s,"load":%s,"round":%s}\n' "$line" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$round" >>"$samples"
  log "  tcp: $line"
  line="$(nice -n "$nice_level" "$bdir/bin/ceiling-aead" $((bytes / 2)))"
  printf '{"kind":"ceiling-aead","result":%s,"load":%s,"round":%s}\n' "$line" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$round" >>"$samples"
  log "  aead: $line"
}

started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
t_start=$(date +%s)
load_start="$(cat /proc/loadavg)"

for i in $impls; do start_server "$i"; done
# one warm-up exchange per pair (connection set-up, JIT), not counted
round=0
for i in $impls; do run_client warmup "$i" "$i" --upload $((64 << 20)) --download $((64 << 20)); done

# Rounds: every measurement once per round, the implementations one after
# the other, so that a change in the machine's other load hits them all.
mixed_impls=""
if [ "$mixed" = 1 ] && [[ " $impls " == *" c "* ]]; then
  for i in $impls; do
    case "$i" in c | rust1 | go1) ;; *) mixed_impls="$mixed_impls $i" ;; esac
  done
fi
for round in $(seq 1 "$reps"); do
  log "round $round of $reps"
  # (a) throughput and (b) handshakes, each implementation against itself
  for i in $impls; do run_client upload "$i" "$i" --upload "$bytes"; done
  for i in $impls; do run_client download "$i" "$i" --download "$bytes"; done
  for i in $impls; do run_client handshakes "$i" "$i" --count "$handshakes"; done
  # C against the others (upload), dialing both ways
  for i in $mixed_impls; do
    run_client upload "$i" c --upload "$bytes"
    run_client upload c "$i" --upload "$bytes"
  done
  # (c) ceilings
  ceilings
done

# ---- results ---------------------------------------------------------------------
t_end=$(date +%s)
date_tag="$(date -u +%Y-%m-%d)"
[ -n "$out" ] || out="$root/bench/results/$date_tag.json"
mkdir -p "$(dirname "$out")"
python3 "$root/bench/report.py" collect \
  --samples "$samples" --out "$out" --started "$started" --seconds $((t_end - t_start)) \
  --command "$cmdline" --reps "$reps" --bytes "$bytes" --handshakes "$handshakes" --nice "$nice_level" \
  --load-start "$load_start" --load-end "$(cat /proc/loadavg)" \
  --rust-lock "$root/bench/peers/rust/Cargo.lock" --go-mod "$root/bench/peers/go/go.mod" \
  --js-lock "$root/bench/peers/js/package-lock.json"
log "results: $out ($((t_end - t_start)) s)"
if [ "$doc" = 1 ]; then
  python3 "$root/bench/report.py" doc --results "$out" --doc "$root/docs/BENCHMARKS.md"
  log "tables: docs/BENCHMARKS.md"
fi
