#!/usr/bin/env bash
# bench/run.sh - benchmarks of libp2p in C against rust-libp2p, go-libp2p
# and js-libp2p on this machine's loopback, with the ceilings measured in
# the same run. See bench/README.md.
#
#   bench/run.sh [--reps N] [--bytes B] [--handshakes N]
#                [--impls "c rust go js rust1 go1"] [--no-mixed] [--nice N]
#                [--streams N] [--idle N] [--gossip N] [--gossip-others N]
#                [--gossip100 N] [--gossip100-procs P] [--gossip100-hosts H]
#                [--rt] [--gossip-only] [--no-build]
#                [--c-build DIR] [--out FILE] [--no-doc] [--no-plots]
#                [--relay-capacity N] [--relay-circuits C]
#                [--kad N] [--kad-lookups L]
#                [--relay-shaped | --no-relay-shaped] [--shaped-rate MBIT]
#                [--shaped-bytes B]
#   bench/run.sh --smoke [--c-build DIR] [--impls "c go"]
#
# Builds (idempotent; quick once built): the C code with -O2 in
# build/bench (only the core, the plugins it runs, p2pchat, the C bench
# peer and the ceilings) and the interop test peers of tests/interop, whose
# bench subcommands (perf-server, perf, handshakes, gossip-sub, gossip-pub)
# are the other implementations' bench peers: rust (cargo --profile
# bench-peer --locked, i.e. opt-level 3, target dir build/bench/rust-target),
# go and js (tests/interop/build-peers.sh go js). Then measures, one
# process pair at a time:
#   (a) throughput: one Noise+Yamux stream, /perf/1.0.0, B bytes up (default
#       1 GiB), then B bytes down, for each implementation against itself;
#       the same upload between C and each other one;
#   (b) handshake rate: N sequential dial + Noise + Yamux + identify +
#       close;
#   (b2) first contact: the C client (`cbench handshakes --identities N`)
#       against every server, N connections from N identities;
#   (c) ceilings: raw TCP loopback throughput (bench/ceiling/tcp.c),
#       libsodium ChaCha20-Poly1305 on one core (bench/ceiling/aead.c; also
#       OpenSSL's when libcrypto's headers are there) and the CPU cost of
#       one connection's X25519 and Ed25519 operations, both sides of a
#       Noise XX handshake + identify's signed peer record
#       (bench/ceiling/handshake.c);
#   (d) --streams N (16) concurrent /perf/1.0.0 uploads on one connection
#       (the C client `cbench streams` against every server), B bytes in
#       all, against one stream of B bytes by the same client;
#   (e) RSS per idle connection: a fresh server of each of c, rust, go, js
#       and `cbench idle` holding --idle N (1000) connections from N
#       identities; (RSS after - RSS before) / N; first round only;
#   (f) gossipsub, each implementation with itself: 1 KiB messages from
#       one publisher to 4 subscriber processes: --gossip N (20000; the
#       others --gossip-others N, 5000) messages as fast as publish
#       accepts (back-pressure counted), then 1,000 msg/s for 5 s, then
#       unsigned as fast as accepted (C: also unsigned at 1,000 msg/s);
#       every C subscriber must get every message (a C loss fails a smoke
#       run; the others' losses are recorded; --gossip 0 skips them);
#       --rt repeats C's 1,000 msg/s runs with every process under
#       SCHED_FIFO (chrt -f 10, root): what the latency is without the
#       other jobs of a shared machine in the way;
#   (f2) gossipsub with 100 peers (C only): 4 `cbench gossip-net` processes
#       of 25 hosts each (own identities, one loop per process;
#       --gossip100-procs P and --gossip100-hosts H change the layout, e.g.
#       20 x 5 or 100 x 1: on 2 cores more processes cost more CPU per
#       message and did not lower the latency, see docs/BENCHMARKS.md), each host
#       dialling 3 random others plus the next (a connected graph; the mesh
#       forms by GRAFT/PRUNE), one publisher sending --gossip100 N (400)
#       1 KiB messages at 20 msg/s, signed and unsigned (and under --rt);
#       latency to ALL 100 peers per message, and messages some peer
#       never got;
#   (g) relayed throughput: B bytes up from a C client to a C server
#       through each implementation's circuit relay without circuit limits
#       (C: bench/peers/c/relay.ini; the others: `relay --unlimited`), and
#       from each other implementation's client to its server (its
#       `relay-listen`) through the C relay and through its own, against
#       the direct uploads;
#   (h) relay capacity (C only, every round: the busy RSS follows the
#       rate the load generator reaches, which varies from run to run): a fresh C relay
#       (bench/peers/c/relay-capacity.ini) and `cbench relay-capacity`:
#       --relay-capacity N (1000) reservations from N identities, then
#       --relay-circuits C (256) circuits uploading continuously for 10 s;
#       reservations held, circuits busy, bytes/s, the relay's RSS (VmRSS,
#       VmHWM) and CPU; --relay-capacity 0 skips it;
#   (i) kad lookups (C only, first round): `cbench kad-lookup`, --kad N
#       (200) DHT servers in one process bootstrapped through 3 of them,
#       then --kad-lookups L (200) lookups from random nodes, FIND_NODE of
#       random keys (checked against the true 20 closest) and GET_VALUE of
#       stored records: rounds, requests (peers contacted), time p50/p99,
#       success; --kad 0 skips it;
#   (j) relayed vs direct where the network is the limit (root; after the
#       rounds above, in rounds of its own; bench/relay-shaped.sh): network
#       namespaces (tests/netns/lib.sh's netns_star: a relay, A and B on an
#       "internet" bridge, every host's link limited to --shaped-rate MBIT
#       (200) Mbit/s both ways with tbf); --shaped-bytes B (128 MiB) up and
#       down from A to B, directly and through the circuit relay in R, for
#       the same pairs as (g); the relay's CPU, RSS and bytes sent from
#       /proc and its link's counters, every process's CPU time (none may
#       be the limit); skipped with a message without root or namespaces;
#       --relay-shaped runs only (j), --no-relay-shaped skips it; with
#       --rt the C pair runs again with every process under SCHED_FIFO
#       (chrt -f 10), so that the machine's other jobs do not stall the
#       flow control of the relayed path's three processes;
# in --reps rounds (default 3): each round runs every measurement once, the
# implementations one after the other (all servers stay up, idle between
# their turns), so that changes in the machine's other load hit them alike.
# rust1 and go1 are the rust and go peers on one thread (a current-thread
# tokio runtime; GOMAXPROCS=1), like the C peer's one libuv loop.
# --gossip-only: only (f) and (f2) (C only; the tables of the other
# benchmarks stay empty in the report: use with --no-doc, or --out).
# --nice N runs every benchmark process at that niceness (e.g. -10 on a
# shared machine, as root), so that other jobs disturb less. With the
# kernel's autogroups (/proc/sys/kernel/sched_autogroup_enabled = 1) a
# process's nice value only ranks it within its session: run.sh then also
# gives its session's autogroup that nice value for the run
# (/proc/self/autogroup; the old value is restored at the end), so that
# the run competes at N with the other sessions' jobs, as --nice means
# (start it with setsid to leave the rest of your session alone).
# Writes bench/results/<date>.json (every sample, machine description),
# regenerates the tables of docs/BENCHMARKS.md and draws the plots in
# docs/bench/ with gnuplot (bench/report.py; --no-plots, or no gnuplot:
# tables only).
# --c-build DIR uses the C programs of an existing build (DIR/bin/p2pchat,
# DIR/lib) instead of building build/bench; only cbench is compiled.
# --smoke: a check that the suite still works (CI, ctest -L bench): tiny
# sizes, one round, C only unless --impls says otherwise, results in
# smoke.json next to cbench (build/bench/bin, or DIR/bench with --c-build),
# docs untouched; 10-30 s once built.
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
plots=1
out=""
streams=16
idle=1000
gossip=20000
gossip_others=5000
gossip_lat_secs=5
gossip100=400
gossip100_rate=20
gossip100_procs=4
gossip100_hosts=25
gossip100_warmup=5000
gossip100_linger=3000
rt=0
gossip_only=0
relay_cap=1000
relay_circ=256
relay_secs=10
kad_nodes=200
kad_lookups=200
shaped=1
shaped_rate=200
shaped_bytes=$((128 << 20))
hs_iterations=2000
smoke=0
cbuild=""
impls_set=0
cmdline="bench/run.sh $*"

while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps="$2"; shift 2 ;;
    --bytes) bytes="$2"; shift 2 ;;
    --handshakes) handshakes="$2"; shift 2 ;;
    --impls) impls="$2"; impls_set=1; shift 2 ;;
    --streams) streams="$2"; shift 2 ;;
    --idle) idle="$2"; shift 2 ;;
    --gossip) gossip="$2"; shift 2 ;;
    --gossip100) gossip100="$2"; shift 2 ;;
    --gossip100-procs) gossip100_procs="$2"; shift 2 ;;
    --gossip100-hosts) gossip100_hosts="$2"; shift 2 ;;
    --rt) rt=1; shift ;;
    --gossip-only) gossip_only=1; impls="c"; shift ;;
    --relay-capacity) relay_cap="$2"; shift 2 ;;
    --relay-circuits) relay_circ="$2"; shift 2 ;;
    --kad) kad_nodes="$2"; shift 2 ;;
    --kad-lookups) kad_lookups="$2"; shift 2 ;;
    --relay-shaped) shaped=only; shift ;;
    --no-relay-shaped) shaped=0; shift ;;
    --shaped-rate) shaped_rate="$2"; shift 2 ;;
    --shaped-bytes) shaped_bytes="$2"; shift 2 ;;
    --gossip-others) gossip_others="$2"; shift 2 ;;
    --smoke) smoke=1; shift ;;
    --c-build) cbuild="$(cd "$2" && pwd)"; shift 2 ;;
    --no-plots) plots=0; shift ;;
    --no-mixed) mixed=0; shift ;;
    --nice) nice_level="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --no-doc) doc=0; shift ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 64 ;;
  esac
done

if [ "$smoke" = 1 ]; then
  reps=1 bytes=$((8 << 20)) handshakes=10 idle=50 gossip=500 gossip_others=500 gossip_lat_secs=1 hs_iterations=200 mixed=0 doc=0 plots=0
  gossip100=40 gossip100_rate=50 gossip100_procs=2 gossip100_hosts=5 gossip100_warmup=2500 gossip100_linger=500
  relay_cap=40 relay_circ=8 relay_secs=2 kad_nodes=30 kad_lookups=20 shaped_bytes=$((16 << 20))
  [ "$impls_set" = 1 ] || impls="c"
fi

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: ERROR: %s\n' "$*" >&2; exit 1; }

# ---- build ------------------------------------------------------------------

# The C programs: p2pchat and libp2pcore from $cdir (build/bench, or
# --c-build), cbench and the ceilings in $cbin.
cdir="${cbuild:-$bdir}"
cbin="$bdir/bin"
[ -z "$cbuild" ] || cbin="$cbuild/bench"
build_c() {
  if [ -z "$cbuild" ]; then
    log "C: cmake -O2 in build/bench"
    cmake -S "$root" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" \
      -DBUILD_TESTING=OFF >/dev/null
    cmake --build "$bdir" --parallel "$(nproc)" --target p2pchat plugin_transport-tcp plugin_noise plugin_yamux \
      plugin_identify plugin_ping plugin_perf plugin_gossipsub plugin_relay plugin_kad >/dev/null
  fi
  local cflags=(-O2 -Wall -Wextra -Werror -std=gnu11)
  cc "${cflags[@]}" -I"$root/core/include" $(pkg-config --cflags libuv) "$root"/bench/peers/c/cbench*.c \
    -L"$cdir/lib" -lp2pcore $(pkg-config --libs libuv) -lm -Wl,-rpath,"$cdir/lib" -o "$cbin/cbench"
  cc "${cflags[@]}" "$root/bench/ceiling/tcp.c" -o "$cbin/ceiling-tcp"
  local ossl=()
  if pkg-config --exists libcrypto && [ -f "$(pkg-config --variable=includedir libcrypto)/openssl/evp.h" ]; then
    ossl=(-DWITH_OPENSSL $(pkg-config --cflags --libs libcrypto))
  fi
  cc "${cflags[@]}" $(pkg-config --cflags libsodium) "$root/bench/ceiling/aead.c" $(pkg-config --libs libsodium) \
    "${ossl[@]}" -o "$cbin/ceiling-aead"
  cc "${cflags[@]}" $(pkg-config --cflags libsodium) "$root/bench/ceiling/handshake.c" \
    $(pkg-config --libs libsodium) "${ossl[@]}" -o "$cbin/ceiling-handshake"
}

# The other implementations' bench peers are the interop test peers
# (tests/interop/{rust,go,js}, subcommands in src/bench.rs, bench.go,
# bench.mjs). rust: its own opt-level 3 profile and target dir (the interop
# build is opt-level 1 to keep CI short).
rust_peer="$bdir/rust-target/bench-peer/interop-peer"
go_peer="$root/tests/interop/go/interop-peer"
js_peer=(node "$root/tests/interop/js/bench.mjs")
build_rust() {
  log "rust: cargo build --profile bench-peer --locked (a cold build takes ~8 min on 2 cores)"
  (cd "$root/tests/interop/rust" &&
    cargo build --profile bench-peer --locked --quiet --target-dir "$bdir/rust-target")
}

build_go() {
  "$root/tests/interop/build-peers.sh" go >&2
}

build_js() {
  "$root/tests/interop/build-peers.sh" js >&2
}

mkdir -p "$bdir/bin" "$cbin"
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

# Every benchmark process runs as `nice -n $nice_level env ...`; run_prefix
# IMPL NS: in network namespace NS (`ip netns exec NS nice ...`); with
# sched_fifo set, under SCHED_FIFO (`chrt -f 10`).
run_prefix() {
  pre=()
  [ -z "${2:-}" ] || pre=(ip netns exec "$2")
  [ -z "${sched_fifo:-}" ] || pre+=(chrt -f 10)
  pre+=(nice -n "$nice_level" env)
  case "$1" in
    rust1) pre+=(BENCH_THREADS=1) ;;
    go1) pre+=(GOMAXPROCS=1) ;;
  esac
}

# server_cmd IMPL: the command line of IMPL's perf server (array srv)
server_cmd() {
  run_prefix "$1"
  case "$1" in
    c) srv=("${pre[@]}" "$cdir/bin/p2pchat" -c "$root/bench/peers/c/server.ini") ;;
    rust | rust1) srv=("${pre[@]}" "$rust_peer" perf-server) ;;
    go | go1) srv=("${pre[@]}" "$go_peer" perf-server) ;;
    js) srv=("${pre[@]}" "${js_peer[@]}" perf-server) ;;
  esac
}

# client_cmd IMPL MODE: the client command line (array cli); MODE
# perf|handshakes|streams|relayed (the others' relayed client: perf, which
# dials /p2p-circuit addresses through the relay)
client_cmd() {
  local sub="$2"
  [ "$sub" != relayed ] || sub=perf
  run_prefix "$1" "$net_client"
  case "$1/$2" in
    c/perf) cli=("${pre[@]}" "$cdir/bin/p2pchat" perf --interval 0) ;;
    c/handshakes) cli=("${pre[@]}" "$cbin/cbench" handshakes) ;;
    */streams) cli=("${pre[@]}" "$cbin/cbench" streams) ;;
    c/relayed) cli=("${pre[@]}" "$cdir/bin/p2pchat" -c "$root/bench/peers/c/relayed.ini" perf --interval 0) ;;
    rust*/*) cli=("${pre[@]}" "$rust_peer" "$sub") ;;
    go*/*) cli=("${pre[@]}" "$go_peer" "$sub") ;;
    js/*) cli=("${pre[@]}" "${js_peer[@]}" "$sub") ;;
  esac
}

# Where the relay, the relayed servers and the clients run: the machine's
# loopback, or (j) namespaces of the shaped star (bench/relay-shaped.sh
# sets these).
net_relay="" net_server="" net_client="" ip_relay=127.0.0.1 ip_server=127.0.0.1

tmp="$(mktemp -d)"
autogroup_nice=""
declare -A srv_pid=() srv_addr=()
# the shaped star's namespace helpers (netns_star, netns_teardown) and (j)
source "$root/tests/netns/lib.sh"
source "$root/bench/relay-shaped.sh"
cleanup() {
  local p
  for p in "${srv_pid[@]}"; do kill "$p" 2>/dev/null || true; done
  netns_teardown
  rm -rf "$tmp"
  if [ -n "$autogroup_nice" ]; then echo "$autogroup_nice" 2>/dev/null >/proc/self/autogroup || true; fi
}
trap cleanup EXIT

# --nice under autogroups: this session's autogroup gets the nice value
# for the run (see above), the old one is restored at the end (cleanup).
autogroup_nice=""
if [ "$nice_level" != 0 ] && [ -e /proc/self/autogroup ] &&
  [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo 0)" = 1 ]; then
  autogroup_nice="$(sed -n 's/.* nice \(-\{0,1\}[0-9]*\)$/\1/p' /proc/self/autogroup)"
  if ! echo "$nice_level" 2>/dev/null >/proc/self/autogroup; then
    echo "run.sh: cannot set this session's autogroup nice value to $nice_level (not root?): other sessions' jobs compete at ${autogroup_nice:-0}" >&2
    autogroup_nice=""
  fi
fi

# start_named NAME CMD...: start a process that prints a listen address
# (/ip4/$start_ip/tcp/P/p2p/ID, start_ip 127.0.0.1 unless set); sets
# srv_pid[NAME], srv_addr[NAME].
start_named() {
  local name="$1" out="$tmp/server-$1.out" pid addr="" ip="${start_ip:-127.0.0.1}"
  shift
  rm -f "$out"   # names are reused (gossip subscribers): never read an old address
  "$@" >"$out" 2>"$tmp/server-$name.err" &
  pid=$!
  srv_pid[$name]=$pid
  for _ in $(seq 1 300); do
    addr="$(grep -o "/ip4/${ip//./\\.}/tcp/[0-9]*/p2p/[A-Za-z0-9]*" "$out" 2>/dev/null | head -1 || true)"
    if [ -n "$addr" ]; then
      srv_addr[$name]=$addr
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$tmp/server-$name.err" >&2
  die "$name printed no listen address"
}

# stop_named NAME: end a process started by start_named.
stop_named() {
  local pid="${srv_pid[$1]:-}"
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "srv_pid[$1]" "srv_addr[$1]"
}

# start_server IMPL: start IMPL's perf server (srv_pid[IMPL], srv_addr[IMPL]).
# All servers run for the whole benchmark (idle between their turns), so
# that the rounds below can interleave the implementations.
start_server() {
  server_cmd "$1"
  start_named "$1" "${srv[@]}"
}

# CPU seconds (user + system, all threads) of a running process.
proc_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

samples="$tmp/samples.jsonl"
: >"$samples"

# run_client KIND SERVER_IMPL CLIENT_IMPL ARGS...: one client run against
# the running server; appends a sample line {"kind","server","client",
# "result":<client JSON>,"clientCpu","serverCpu","load","round"} (and
# what the command named by $after_client prints after the run, if set:
# more members, each with a leading comma). A failed client ends the
# benchmark, unless client_may_fail is set: then it returns 1.
run_client() {
  local kind="$1" simpl="$2" cimpl="$3"
  shift 3
  local mode=perf
  case "$kind" in handshakes*) mode=handshakes ;; streams*) mode=streams ;; relayed | shaped*) mode=relayed ;; esac
  client_cmd "$cimpl" "$mode"
  local s0 s1 load line ccpu pid="${srv_pid[$simpl]}"
  load="$(cut -d' ' -f1 /proc/loadavg)"
  s0="$(proc_cpu "$pid")"
  # the client's CPU time (user + system, all threads): bash's time keyword
  local TIMEFORMAT='%3U %3S'
  if ! { time timeout -k 5 300 "${cli[@]}" "${srv_addr[$simpl]}" "$@" >"$tmp/client.out" 2>"$tmp/client.err"; } \
    2>"$tmp/client.time"; then
    tail -n 20 "$tmp/client.err" >&2
    # (j) records the other implementations' failures and goes on
    [ -z "${client_may_fail:-}" ] || return 1
    die "$cimpl client against the $simpl server failed ($kind $*)"
  fi
  s1="$(proc_cpu "$pid")"
  line="$(grep -E '^\{"type":"(final|handshakes|streams)"' "$tmp/client.out" | tail -1)"
  [ -n "$line" ] || die "$cimpl client printed no result"
  ccpu="$(awk '{ print $1 + $2 }' "$tmp/client.time")"
  local extra=""
  [ -z "${after_client:-}" ] || extra="$("$after_client")"
  printf '{"kind":"%s","server":"%s","client":"%s","result":%s,"clientCpu":%s,"serverCpu":%s,"load":%s,"round":%s%s}\n' \
    "$kind" "$simpl" "$cimpl" "$line" "$ccpu" "$(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')" "$load" \
    "${round:-0}" "$extra" >>"$samples"
  log "  $kind $cimpl->$simpl: $line"
}

ceilings() {
  local line
  line="$(nice -n "$nice_level" "$cbin/ceiling-tcp" "$bytes")"
  printf '{"kind":"ceiling-tcp","result":%s,"load":%s,"round":%s}\n' "$line" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$round" >>"$samples"
  log "  tcp: $line"
  line="$(nice -n "$nice_level" "$cbin/ceiling-aead" $((bytes / 2)))"
  printf '{"kind":"ceiling-aead","result":%s,"load":%s,"round":%s}\n' "$line" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$round" >>"$samples"
  log "  aead: $line"
  line="$(nice -n "$nice_level" "$cbin/ceiling-handshake" "$hs_iterations")"
  printf '{"kind":"ceiling-handshake","result":%s,"load":%s,"round":%s}\n' "$line" \
    "$(cut -d' ' -f1 /proc/loadavg)" "$round" >>"$samples"
  log "  handshake crypto: $line"
}

# VmRSS of a process, KiB.
proc_rss() {
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# (e) idle_rss IMPL: a fresh IMPL server, `cbench idle` holding $idle
# connections to it; sample {"kind":"idle-rss","server","result":{count,
# rssBeforeKiB, rssAfterKiB, connectSeconds}}.
idle_rss() {
  local impl="$1" name="idle-$1" before after line cpid
  server_cmd "$impl"
  start_named "$name" "${srv[@]}"
  sleep 1
  before="$(proc_rss "${srv_pid[$name]}")"
  run_prefix c
  rm -f "$tmp/idle.out"   # the loop below must not see the previous run's line
  "${pre[@]}" "$cbin/cbench" idle "${srv_addr[$name]}" --count "$idle" >"$tmp/idle.out" 2>"$tmp/idle.err" &
  cpid=$!
  line=""
  for _ in $(seq 1 1800); do
    line="$(grep '^{"type":"idle"' "$tmp/idle.out" 2>/dev/null || true)"
    [ -n "$line" ] && break
    kill -0 "$cpid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$line" ]; then
    kill "$cpid" 2>/dev/null || true
    cat "$tmp/idle.err" >&2
    die "cbench idle against the $impl server failed"
  fi
  sleep 2   # identify pushes, first pings, lazy allocations settle
  after="$(proc_rss "${srv_pid[$name]}")"
  kill -0 "$cpid" 2>/dev/null || die "cbench idle lost its connections to the $impl server"
  kill "$cpid"
  wait "$cpid" || true
  stop_named "$name"
  printf '{"kind":"idle-rss","server":"%s","result":{"count":%s,"rssBeforeKiB":%s,"rssAfterKiB":%s,"connectSeconds":%s},"load":%s,"round":%s}\n' \
    "$impl" "$idle" "$before" "$after" "$(sed 's/.*"timeSeconds":\([0-9.]*\).*/\1/' <<<"$line")" \
    "$(cut -d' ' -f1 /proc/loadavg)" "$round" >>"$samples"
  log "  idle $impl: $idle connections, RSS $before -> $after KiB ($(((after - before) * 1024 / idle)) B each)"
}

gossip_lost=0
# gossip_cmd IMPL: the command of IMPL's gossip peer (array gcmd; the mode,
# gossip-sub or gossip-pub, follows), the contract of cbench_gossip.c.
gossip_cmd() {
  run_prefix "$1"
  case "$1" in
    c) gcmd=("${pre[@]}" "$cbin/cbench") ;;
    rust*) gcmd=("${pre[@]}" "$rust_peer") ;;
    go*) gcmd=("${pre[@]}" "$go_peer") ;;
    js) gcmd=("${pre[@]}" "${js_peer[@]}") ;;
  esac
}

# (f) gossip RATE COUNT [--unsigned] [--impl IMPL]: 4 IMPL (default c)
# gossip-sub processes, one IMPL gossip-pub publishing COUNT 1 KiB messages
# at RATE/s (0: as fast as publish accepts). A subscriber that misses a
# message is recorded as silent loss.
gossip() {
  local rate="$1" count="$2" i subs=() pub pline load signed=true impl=c sched=other
  local flags=()
  shift 2
  while [ $# -gt 0 ]; do
    case "$1" in
      --unsigned) flags=(--unsigned); signed=false; shift ;;
      --impl) impl="$2"; shift 2 ;;
      --rt) sched=fifo; shift ;;
      *) die "gossip: unknown flag $1" ;;
    esac
  done
  load="$(cut -d' ' -f1 /proc/loadavg)"
  gossip_cmd "$impl"
  if [ "$sched" = fifo ]; then gcmd=(chrt -f 10 "${gcmd[@]}"); fi
  # a subscriber gives up after this long without a message: longer for
  # the others, whose publishers stall for seconds under load (js)
  local idle_ms=3000
  [ "$impl" = c ] || idle_ms=10000
  for i in 1 2 3 4; do
    start_named "gsub$i" "${gcmd[@]}" gossip-sub --expect "$count" --idle-ms "$idle_ms" "${flags[@]}"
    subs+=("${srv_addr[gsub$i]}")
  done
  "${gcmd[@]}" gossip-pub --rate "$rate" --count "$count" --size 1024 "${flags[@]}" "${subs[@]}" \
    >"$tmp/gpub.out" 2>"$tmp/gpub.err" &
  pub=$!
  for i in 1 2 3 4; do
    local p="${srv_pid[gsub$i]}"
    if ! timeout 300 tail --pid="$p" -f /dev/null; then die "gossip subscriber $i did not finish"; fi
    wait "$p" || true
    unset "srv_pid[gsub$i]" "srv_addr[gsub$i]"
  done
  kill "$pub" 2>/dev/null || true
  wait "$pub" || true
  pline="$(grep '^{"type":"gossip-pub"' "$tmp/gpub.out" || true)"
  if [ -z "$pline" ] && [ "$impl" != c ]; then
    # the others' publishers may stall until every subscriber gave up
    # (js under load): recorded as a run that did not finish
    log "  WARNING: the $impl gossip publisher did not publish $count messages (rate $rate): no sample"
    printf '{"kind":"gossip-unfinished","impl":"%s","rate":%s,"signed":%s,"load":%s,"round":%s}\n' \
      "$impl" "$rate" "$signed" "$load" "$round" >>"$samples"
    return 0
  fi
  if [ -z "$pline" ]; then
    cat "$tmp/gpub.err" >&2
    die "the gossip publisher did not publish $count messages"
  fi
  local sl="" lost=0 got
  for i in 1 2 3 4; do
    got="$(grep '^{"type":"gossip-sub"' "$tmp/server-gsub$i.out" || true)"
    [ -n "$got" ] || die "gossip subscriber $i printed no result"
    sl="$sl${sl:+,}$got"
    [ "$(sed 's/.*"received":\([0-9]*\).*/\1/' <<<"$got")" = "$count" ] || lost=1
  done
  local pend
  pend="$(grep '^{"type":"gossip-pub-end"' "$tmp/gpub.out" || echo null)"
  printf '{"kind":"gossip","impl":"%s","rate":%s,"signed":%s,"sched":"%s","result":%s,"pubEnd":%s,"subscribers":[%s],"lost":%s,"load":%s,"round":%s}\n' \
    "$impl" "$rate" "$signed" "$sched" "$pline" "$pend" "$sl" "$lost" "$load" "$round" >>"$samples"
  log "  gossip $impl rate $rate${flags[*]:+ unsigned} ($sched): $pline"
  # publish returned 0 for every message it counted as sent: a subscriber
  # without one is silent loss (recorded; a smoke run fails on it for C)
  if [ "$lost" = 1 ] && [ "$impl" != c ]; then
    log "  $impl gossipsub lost messages (rate $rate): recorded"
  elif [ "$lost" = 1 ]; then
    log "  WARNING: gossipsub lost messages without telling the publisher (rate $rate)"
    gossip_lost=1
  fi
}

# (f2) gossip_net [--unsigned] [--rt]: $gossip100_procs `cbench gossip-net`
# processes of $gossip100_hosts hosts, one publisher; the latency of a
# message is its latest delivery over all processes.
gossip_net() {
  local signed=true sched=other a i load pids=() flags=() peers="$tmp/gnet-peers" ok=1
  run_prefix c
  for a in "$@"; do
    case "$a" in
      --unsigned) flags=(--unsigned); signed=false ;;
      --rt) pre=(chrt -f 10 "${pre[@]}"); sched=fifo ;;
    esac
  done
  load="$(cut -d' ' -f1 /proc/loadavg)"
  rm -f "$peers"
  for i in $(seq 1 "$gossip100_procs"); do
    "${pre[@]}" "$cbin/cbench" gossip-net --hosts "$gossip100_hosts" \
      --total $((gossip100_procs * gossip100_hosts)) --peers-file "$peers" --rate "$gossip100_rate" \
      --count "$gossip100" --warmup-ms "$gossip100_warmup" --idle-ms 5000 --linger-ms "$gossip100_linger" \
      "${flags[@]}" \
      >"$tmp/gnet$i.out" 2>"$tmp/gnet$i.err" &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    if ! timeout 600 tail --pid="${pids[$i]}" -f /dev/null; then die "gossip-net process $((i + 1)) did not finish"; fi
    wait "${pids[$i]}" || ok=0
  done
  if [ "$ok" = 0 ]; then
    cat "$tmp"/gnet*.err >&2
    die "a gossip-net process failed"
  fi
  local line
  line="$(python3 - "$tmp" "$gossip100_procs" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
rs = [json.loads(next(l for l in open(f"{d}/gnet{i}.out") if l.startswith("{"))) for i in range(1, n + 1)]
count = rs[0]["count"]
lat, lost = [], 0
for s in range(count):
    v = [r["latUs"][s] for r in rs]
    if min(v) < 0:
        lost += 1
    else:
        lat.append(max(v))
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(round((len(lat) - 1) * p / 100)))] if lat else None
print(json.dumps({"hosts": sum(r["hosts"] for r in rs), "procs": n, "count": count,
                  "sent": sum(r["sent"] for r in rs), "eagain": sum(r["eagain"] for r in rs), "lost": lost,
                  "p50Us": pct(50), "p99Us": pct(99), "maxUs": pct(100),
                  "copies": sum(r["copies"] for r in rs), "cancelled": sum(r["cancelled"] for r in rs),
                  "duplicates": sum(r["duplicates"] for r in rs),
                  "cpuSeconds": round(sum(r["cpuSeconds"] for r in rs), 3),
                  "cpuDeliverySeconds": round(sum(r["cpuDeliverySeconds"] for r in rs), 3),
                  "verifyFast": sum(r.get("verifyFast", 0) for r in rs),
                  "verifySlow": sum(r.get("verifySlow", 0) for r in rs)}))
PY
)" || die "cannot combine the gossip-net results"
  printf '{"kind":"gossip-net","rate":%s,"signed":%s,"sched":"%s","result":%s,"load":%s,"round":%s}\n' \
    "$gossip100_rate" "$signed" "$sched" "$line" "$load" "$round" >>"$samples"
  log "  gossip-net ${flags[*]:+unsigned }($sched): $line"
  if [ "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["lost"])' "$line")" != 0 ]; then
    log "  WARNING: gossip-net: some peer did not get every message"
    gossip_lost=1
  fi
}

# (g) relay: IMPL's circuit relay without circuit limits (C:
# bench/peers/c/relay.ini; rust, go, js: the interop peers' `relay
# --unlimited`) and a C perf server reserved on it (started once);
# relayed_run IMPL: one C upload through that circuit.
relay_cmd() {
  run_prefix "$1" "$net_relay"
  case "$1" in
    c) rcmd=("${pre[@]}" "$cdir/bin/p2pchat" -c "$root/bench/peers/c/relay.ini"
      --set "host.listen=/ip4/$ip_relay/tcp/0") ;;
    rust) rcmd=("${pre[@]}" "$rust_peer" relay --unlimited --ip "$ip_relay") ;;
    go) rcmd=("${pre[@]}" "$go_peer" relay --unlimited --ip "$ip_relay") ;;
    js) rcmd=("${pre[@]}" node "$root/tests/interop/js/relay.mjs" --unlimited --ip "$ip_relay") ;;
  esac
}

start_relay() {
  relay_cmd "$1"
  start_ip="$ip_relay" start_named "relay-$1" "${rcmd[@]}"
}

# start_relayed RELAY IMPL: IMPL's perf server reserved on RELAY's relay
# (C: bench/peers/c/relayed.ini; the others: their `relay-listen`, which
# serves /perf/1.0.0 too); its circuit address is srv_addr[circuit-RELAY]
# (IMPL c) or srv_addr[circuit-RELAY-IMPL]. Waits until one perf run of
# IMPL's client through it succeeds (the reservation is made in the
# background).
start_relayed() {
  local relay="$1" impl="$2" r key ok=0 cmd
  r="${srv_addr[relay-$relay]}"
  key="circuit-$relay"
  [ "$impl" = c ] || key="$key-$impl"
  run_prefix "$impl" "$net_server"
  case "$impl" in
    c) cmd=("${pre[@]}" "$cdir/bin/p2pchat" -c "$root/bench/peers/c/relayed.ini"
      --set "plugin.relay.relays=$r" --set "host.listen=/ip4/$ip_server/tcp/0,$r/p2p-circuit") ;;
    rust) cmd=("${pre[@]}" "$rust_peer" relay-listen --relay "$r" --ip "$ip_server") ;;
    go) cmd=("${pre[@]}" "$go_peer" relay-listen --relay "$r" --ip "$ip_server") ;;
    js) cmd=("${pre[@]}" node "$root/tests/interop/js/relay-listen.mjs" --relay "$r" --ip "$ip_server") ;;
  esac
  start_ip="$ip_server" start_named "relayed-$relay-$impl" "${cmd[@]}"
  srv_addr[$key]="$r/p2p-circuit/p2p/${srv_addr[relayed-$relay-$impl]##*/}"
  srv_pid[$key]="${srv_pid[relayed-$relay-$impl]}"
  client_cmd "$impl" relayed
  for _ in $(seq 1 40); do
    if timeout 30 "${cli[@]}" "${srv_addr[$key]}" --upload "$warm" >/dev/null 2>"$tmp/relay-warm.err"; then
      ok=1
      break
    fi
    sleep 0.25
  done
  [ "$ok" = 1 ] || { cat "$tmp/relay-warm.err" >&2; die "no $impl perf run through the $relay relay succeeded"; }
}

# relayed_run RELAY IMPL ARGS...: one IMPL upload through RELAY's relay.
relayed_run() {
  local relay="$1" impl="$2" r0 key="circuit-$1"
  shift 2
  [ "$impl" = c ] || key="$key-$impl"
  r0="$(proc_cpu "${srv_pid[relay-$relay]}")"
  run_client relayed "$key" "$impl" "$@"
  log "  $relay relay: RSS $(proc_rss "${srv_pid[relay-$relay]}") KiB, CPU $(awk -v a="$r0" \
    -v b="$(proc_cpu "${srv_pid[relay-$relay]}")" 'BEGIN { print b - a }') s"
}

# (h) relay_capacity: a fresh C relay with raised limits, `cbench
# relay-capacity` reserving $relay_cap slots from as many identities, then
# $relay_circ busy circuits for $relay_secs s; the driver reads the relay's
# /proc (RSS, peak RSS, CPU). Sample {"kind":"relay-capacity","result":..}.
relay_capacity() {
  local line
  # the relay holds reservations + 2 x circuits sockets, cbench twice that
  ulimit -n 65536 2>/dev/null || true
  run_prefix c
  start_named relaycap "${pre[@]}" "$cdir/bin/p2pchat" -c "$root/bench/peers/c/relay-capacity.ini"
  rm -f "$tmp/relaycap.out"
  if ! ("${pre[@]}" timeout -k 5 900 "$cbin/cbench" relay-capacity \
    "${srv_addr[relaycap]}" --reservations "$relay_cap" --circuits "$relay_circ" --seconds "$relay_secs" \
    --pid "${srv_pid[relaycap]}" >"$tmp/relaycap.out" 2>"$tmp/relaycap.err"); then
    cat "$tmp/relaycap.out" "$tmp/relaycap.err" >&2
    die "cbench relay-capacity failed"
  fi
  stop_named relaycap
  line="$(grep '^{"type":"relay-capacity"' "$tmp/relaycap.out" || true)"
  [ -n "$line" ] || die "cbench relay-capacity printed no result"
  printf '{"kind":"relay-capacity","result":%s,"load":%s,"round":%s}\n' "$line" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$round" >>"$samples"
  log "  relay capacity: $line"
}

# (i) kad_lookup: $kad_nodes DHT servers in one `cbench kad-lookup`
# process, $kad_lookups lookups. Sample {"kind":"kad-lookup","result":..}.
kad_lookup() {
  local line
  ulimit -n 65536 2>/dev/null || true   # every node's connections, both ends in one process
  run_prefix c
  if ! "${pre[@]}" timeout -k 5 900 "$cbin/cbench" kad-lookup --nodes "$kad_nodes" --lookups "$kad_lookups" \
    >"$tmp/kad.out" 2>"$tmp/kad.err"; then
    cat "$tmp/kad.out" "$tmp/kad.err" >&2
    die "cbench kad-lookup failed"
  fi
  line="$(grep '^{"type":"kad-lookup"' "$tmp/kad.out" || true)"
  [ -n "$line" ] || die "cbench kad-lookup printed no result"
  printf '{"kind":"kad-lookup","result":%s,"load":%s,"round":%s}\n' "$line" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$round" >>"$samples"
  log "  kad lookups: $line"
}

started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# the revision the C programs were built from (at the start, not the end)
revision="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  revision="$revision with uncommitted changes"
fi
t_start=$(date +%s)
load_start="$(cat /proc/loadavg)"

has_c=0
[[ " $impls " == *" c "* ]] && has_c=1
# the implementations measured with the C client's extra modes (one
# thread or not makes no difference to what they measure here)
extra_impls=""
for i in $impls; do
  case "$i" in rust1 | go1) ;; *) extra_impls="$extra_impls $i" ;; esac
done

# (f) and (f2), one round.
gossip_runs() {
  # (f) gossipsub: the highest rate publish accepts, then latency at 1,000/s
  gossip 0 "$gossip"
  gossip 1000 $((1000 * gossip_lat_secs))
  gossip 0 "$gossip" --unsigned   # what the signatures cost
  gossip 1000 $((1000 * gossip_lat_secs)) --unsigned
  if [ "$rt" = 1 ]; then
    gossip 1000 $((1000 * gossip_lat_secs)) --rt
    gossip 1000 $((1000 * gossip_lat_secs)) --unsigned --rt
  fi
  # (f2) 100 peers
  if [ "$gossip100" -gt 0 ]; then
    [ "$smoke" = 1 ] || gossip_net
    gossip_net --unsigned
    if [ "$rt" = 1 ]; then
      gossip_net --rt
      gossip_net --unsigned --rt
    fi
  fi
}

# (a)-(i) on loopback, unless --relay-shaped
if [ "$shaped" != only ]; then
  for i in $impls; do start_server "$i"; done
  # one warm-up exchange per pair (connection set-up, JIT), not counted
  round=0
  warm=$((64 << 20))
  [ "$warm" -le "$bytes" ] || warm="$bytes"
  for i in $impls; do run_client warmup "$i" "$i" --upload "$warm" --download "$warm"; done
  # (g) the relays: C client and server through each implementation's relay;
  # each other implementation's client and server through the C relay and
  # through its own
  relay_impls=""
  if [ "$has_c" = 1 ] && [ "$gossip_only" = 0 ]; then
    relay_impls="$extra_impls"
    for i in $relay_impls; do start_relay "$i"; done
    for i in $relay_impls; do
      start_relayed "$i" c
      [ "$i" = c ] && continue
      start_relayed c "$i"
      start_relayed "$i" "$i"
    done
  fi


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
    if [ "$gossip_only" = 1 ]; then
      gossip_runs
      continue
    fi
    # (a) throughput and (b) handshakes, each implementation against itself
    for i in $impls; do run_client upload "$i" "$i" --upload "$bytes"; done
    for i in $impls; do run_client download "$i" "$i" --download "$bytes"; done
    for i in $impls; do run_client handshakes "$i" "$i" --count "$handshakes"; done
    # (b2) first contact: the C client with as many identities as
    # connections, so that each server meets a new peer every time (the
    # clients above dial with one identity, as every implementation's
    # bench peer does, and servers memoise what they verified of it)
    if [ "$has_c" = 1 ]; then
      for i in $extra_impls; do run_client handshakes-first "$i" c --count "$handshakes" --identities "$handshakes"; done
    fi
    # C against the others (upload), dialing both ways
    for i in $mixed_impls; do
      run_client upload "$i" c --upload "$bytes"
      run_client upload c "$i" --upload "$bytes"
    done
    # (d) concurrent streams on one connection (the C client), against one
    for i in $extra_impls; do
      run_client streams1 "$i" c --streams 1 --upload "$bytes"
      run_client streams "$i" c --streams "$streams" --upload $((bytes / streams))
    done
    # (h) relay capacity: a fresh relay each round (its busy RSS varies
    # with the rate the one load-generating process reaches)
    if [ "$has_c" = 1 ] && [ "$relay_cap" -gt 0 ]; then relay_capacity; fi
    # (e) memory per idle connection: deterministic enough for one round
    if [ "$round" = 1 ]; then
      for i in $extra_impls; do idle_rss "$i"; done
      # (i) kad lookups in an N-node network
      if [ "$has_c" = 1 ] && [ "$kad_nodes" -gt 0 ]; then kad_lookup; fi
    fi
    # (f) gossipsub, each implementation with itself: the highest rate
    # publish accepts, then latency at 1,000/s, then unsigned (what the
    # signatures cost); C also with 100 peers (gossip_runs)
    for i in $extra_impls; do
      [ "$gossip" -gt 0 ] || break   # --gossip 0: no gossipsub runs
      if [ "$i" = c ]; then
        gossip_runs
        continue
      fi
      gossip 0 "$gossip_others" --impl "$i"
      gossip 1000 $((1000 * gossip_lat_secs)) --impl "$i"
      gossip 0 "$gossip_others" --unsigned --impl "$i"
    done
    # (g) one stream through each circuit relay (compare: upload c->c above)
    for i in $relay_impls; do
      relayed_run "$i" c --upload "$bytes"
      [ "$i" = c ] && continue
      relayed_run c "$i" --upload "$bytes"
      relayed_run "$i" "$i" --upload "$bytes"
    done
    # (c) ceilings
    ceilings
  done
fi

# (j) relayed vs direct on shaped links (bench/relay-shaped.sh), with the
# loopback servers and relays gone
if [ "$shaped" != 0 ] && [ "$gossip_only" = 0 ]; then
  for i in "${!srv_pid[@]}"; do stop_named "$i"; done
  relay_shaped
  # --relay-shaped alone: the ceilings too (what a CPU-bound relay could do)
  if [ "$shaped" = only ]; then round=1 ceilings; fi
fi

# ---- results ---------------------------------------------------------------------
t_end=$(date +%s)
date_tag="$(date -u +%Y-%m-%d)"
if [ -z "$out" ] && [ "$smoke" = 1 ]; then out="$cbin/smoke.json"; fi
if [ -z "$out" ]; then
  # one file per run: a later run of the same day gets a letter (b, c, ...)
  out="$root/bench/results/$date_tag.json"
  for suffix in b c d e f g h i j k l m n o p q r s t u v w x y z; do
    [ -e "$out" ] || break
    out="$root/bench/results/$date_tag$suffix.json"
  done
fi
mkdir -p "$(dirname "$out")"
python3 "$root/bench/report.py" collect \
  --samples "$samples" --out "$out" --started "$started" --seconds $((t_end - t_start)) \
  --command "$cmdline" --reps "$reps" --bytes "$bytes" --handshakes "$handshakes" --nice "$nice_level" \
  --streams "$streams" --idle "$idle" --gossip "$gossip" --gossip-others "$gossip_others" --gossip100 "$gossip100" \
  --gossip100-shape "$gossip100_procs x $gossip100_hosts hosts, $gossip100_rate msg/s" --revision "$revision" \
  --relay-capacity "$relay_cap" --relay-circuits "$relay_circ" --kad "$kad_nodes" --kad-lookups "$kad_lookups" \
  --shaped-rate "$shaped_rate" --shaped-bytes "$shaped_bytes" --shaped-skipped "$shaped_skipped" \
  --load-start "$load_start" --load-end "$(cat /proc/loadavg)" \
  --rust-lock "$root/tests/interop/rust/Cargo.lock" --go-mod "$root/tests/interop/go/go.mod" \
  --js-lock "$root/tests/interop/js/package-lock.json"
log "results: $out ($((t_end - t_start)) s)"
if [ "$doc" = 1 ]; then
  plot_args=()
  if [ "$plots" = 1 ]; then
    if command -v gnuplot >/dev/null; then plot_args=(--plots "$root/docs/bench")
    else log "no gnuplot (apt-get install gnuplot-nox, or scripts/setup.sh --bench): tables only"; fi
  fi
  python3 "$root/bench/report.py" doc --results "$out" --doc "$root/docs/BENCHMARKS.md" "${plot_args[@]}"
  log "tables: docs/BENCHMARKS.md"
fi
if [ "$gossip_lost" = 1 ]; then
  log "gossipsub lost messages silently (see the gossip samples)"
  [ "$smoke" = 0 ] || exit 1
fi
