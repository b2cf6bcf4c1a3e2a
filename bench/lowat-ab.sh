#!/usr/bin/env bash
# bench/lowat-ab.sh - A/B of transport-tcp's notsent_lowat (TCP_NOTSENT_LOWAT)
# in the same minutes: for each of ROUNDS rounds and each value (the order
# rotates every round), the C client (cbench streams, --ping-ms 10: ping
# round trips on the same connection during the upload) against a C
# server with the same value and the rust, go and js perf servers:
# one-stream upload (C: 1 GiB, rust/go 512 MiB, js 256 MiB), 16 streams
# with the same total (js: 16 x 16 MiB), and a 1 GiB download from the C
# server (p2pchat perf). One JSON line per run into OUT (the client's line
# plus round, value, load, wall time, client and server CPU seconds).
# Needs bench/run.sh's builds (build/bench, the rust/go/js peers); run as
# root (nice -n -10). The analysis: docs/BENCHMARKS.md, "Fairness of
# concurrent streams".
#
#   bench/lowat-ab.sh ROUNDS "V1 V2 ..." OUT.jsonl     e.g. 6 "0 32768 131072"
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds=$1; vals=($2); out=$3
B=$root/build/bench
P2PCHAT=$B/bin/p2pchat; CBENCH=$B/bin/cbench
RUST=$B/rust-target/bench-peer/interop-peer
GO=$root/tests/interop/go/interop-peer
JS=(node $root/tests/interop/js/bench.mjs)
N=(nice -n -10)
tmp=$(mktemp -d)
declare -A pid addr
start() { # name cmd...
  local name=$1; shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" & pid[$name]=$!
  for _ in $(seq 1 300); do
    a=$(grep -o '/ip4/127\.0\.0\.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*' "$tmp/$name.out" | head -1)
    [ -n "$a" ] && { addr[$name]=$a; return 0; }
    sleep 0.1
  done
  echo "no addr for $name" >&2; cat "$tmp/$name.err" >&2; exit 1
}
cleanup() { for p in "${pid[@]}"; do kill $p 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
for v in "${vals[@]}"; do start c$v "${N[@]}" $P2PCHAT -c $root/bench/peers/c/server.ini --set plugin.transport-tcp.notsent_lowat=$v; done
start rust "${N[@]}" $RUST perf-server
start go "${N[@]}" $GO perf-server
start js "${N[@]}" "${JS[@]}" perf-server
cpu() { awk -v hz=$(getconf CLK_TCK) '{print ($14+$15)/hz}' /proc/$1/stat; }
# run ROUND V TEST SERVERNAME CMD...
run() {
  local r=$1 v=$2 t=$3 s=$4; shift 4
  local s0=$(cpu ${pid[$s]}) l0=$(cut -d' ' -f1 /proc/loadavg)
  local tf=$tmp/time
  TIMEFORMAT='%3R %3U %3S'
  { time "$@" >"$tmp/cl.out" 2>"$tmp/cl.err"; } 2>$tf
  local rc=$?
  local s1=$(cpu ${pid[$s]})
  local line=$(grep -E '^\{"type":"(final|streams)"' "$tmp/cl.out" | tail -1)
  [ -n "$line" ] || line='null'
  read wall cu cs < $tf
  echo "{\"round\":$r,\"lowat\":$v,\"test\":\"$t\",\"server\":\"$s\",\"rc\":$rc,\"load\":$l0,\"wall\":$wall,\"clientCpu\":$(awk "BEGIN{print $cu + $cs}"),\"serverCpu\":$(awk "BEGIN{print $s1 - $s0}"),\"result\":$line}" >> "$out"
  [ $rc = 0 ] || { echo "FAIL r$r v$v $t $s" >&2; tail -3 $tmp/cl.err >&2; }
}
set_=(--set plugin.transport-tcp.notsent_lowat)
for r in $(seq 1 $rounds); do
  # rotate the order of the values each round
  n=${#vals[@]}; order=()
  for i in $(seq 0 $((n-1))); do order+=(${vals[$(( (i + r) % n ))]}); done
  for v in "${order[@]}"; do
    S=(--set plugin.transport-tcp.notsent_lowat=$v)
    run $r $v up1 c$v "${N[@]}" $CBENCH streams ${addr[c$v]} --streams 1 --upload 1GiB --ping-ms 10 "${S[@]}"
    run $r $v down1 c$v "${N[@]}" $P2PCHAT "${S[@]}" perf --interval 0 ${addr[c$v]} --download 1073741824
    run $r $v up16 c$v "${N[@]}" $CBENCH streams ${addr[c$v]} --streams 16 --upload 64MiB --ping-ms 10 "${S[@]}"
    for x in rust go js; do
      b=512MiB; [ $x = js ] && b=256MiB
      b16=32MiB; [ $x = js ] && b16=16MiB
      run $r $v up1 $x "${N[@]}" $CBENCH streams ${addr[$x]} --streams 1 --upload $b --ping-ms 10 "${S[@]}"
      run $r $v up16 $x "${N[@]}" $CBENCH streams ${addr[$x]} --streams 16 --upload $b16 --ping-ms 10 "${S[@]}"
    done
  done
  echo "round $r done $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
