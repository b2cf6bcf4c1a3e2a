#!/usr/bin/env bash
# Long fuzzing runs (the CI runs every target for a few seconds only).
#
#   scripts/fuzz.sh [--seconds N] [--jobs J] [--merge] [--no-build] [TARGET...]
#
# Builds the fuzz flavour (clang, libFuzzer, ASan+UBSan) into build/fuzz,
# then runs each target (default: all; names as in fuzz/corpus/, e.g.
# yamux kad_msg) for N seconds (default 600), J at a time (default: the
# number of cores), starting from its committed seed corpus. New inputs go
# to build/fuzz/fuzz-work/TARGET; crashes to build/fuzz/artifacts/TARGET/.
# --merge folds the new coverage back into fuzz/corpus/TARGET (minimised)
# so it can be committed.
#
# Prints a table (target, seconds, executions, exec/s, corpus, crashes) and
# writes it to build/fuzz/fuzz-report.md. Exits 1 when any target crashed.
# Also available as `cmake --build build/fuzz --target fuzz-long`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=600 jobs=$(nproc) merge=0 build=1
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a value}; shift 2 ;;
    --jobs) jobs=${2:?--jobs needs a value}; shift 2 ;;
    --merge) merge=1; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1' (try --help)" >&2; exit 64 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || { echo "fuzz.sh: --seconds must be a positive integer" >&2; exit 64; }
[[ $jobs =~ ^[0-9]+$ && $jobs -gt 0 ]] || { echo "fuzz.sh: --jobs must be a positive integer" >&2; exit 64; }

out=${P2P_FUZZ_BUILD_DIR:-$root/build/fuzz}
if [[ $build == 1 ]]; then
  "$root/scripts/build.sh" fuzz -DBUILD_TESTING=OFF
fi
if [[ ${#targets[@]} -eq 0 ]]; then
  for f in "$out"/bin/fuzz_*; do [[ -x $f ]] && targets+=("${f##*/fuzz_}"); done
fi
[[ ${#targets[@]} -gt 0 ]] || { echo "fuzz.sh: no fuzz targets in $out/bin (build with scripts/build.sh fuzz)" >&2; exit 1; }
for t in "${targets[@]}"; do
  [[ -x $out/bin/fuzz_$t ]] || { echo "fuzz.sh: no target '$t' (have: $(ls "$out/bin" | sed -n 's/^fuzz_//p' | tr '\n' ' '))" >&2; exit 64; }
done

run_one() {  # TARGET: one libFuzzer run; its log in $out/fuzz-logs/TARGET.log
  local t=$1 work=$out/fuzz-work/$1 art=$out/artifacts/$1/
  mkdir -p "$work" "$art" "$root/fuzz/corpus/$t" "$out/fuzz-logs"
  "$out/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$art" "$work" "$root/fuzz/corpus/$t" \
    >"$out/fuzz-logs/$t.log" 2>&1 || true
  if [[ $merge == 1 ]]; then
    "$out/bin/fuzz_$t" -merge=1 "$root/fuzz/corpus/$t" "$work" >>"$out/fuzz-logs/$t.log" 2>&1 || true
  fi
}
export -f run_one
export out root seconds merge
echo "fuzz.sh: ${#targets[@]} target(s), ${seconds} s each, $jobs at a time"
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}

report=$out/fuzz-report.md
crashed=0 total=0
{
  echo "Fuzzing report, $(date -u '+%Y-%m-%d %H:%M UTC'), ${seconds} s per target, commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo
  echo "| target | executions | exec/s | corpus | crashes |"
  echo "|---|---:|---:|---:|---:|"
  for t in "${targets[@]}"; do
    log=$out/fuzz-logs/$t.log
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corpus=$(find "$out/fuzz-work/$t" "$root/fuzz/corpus/$t" -type f 2>/dev/null | wc -l)
    crashes=$(find "$out/artifacts/$t" -type f 2>/dev/null | wc -l)
    [[ $crashes -gt 0 ]] && crashed=1
    total=$((total + ${execs:-0}))
    echo "| $t | ${execs:-?} | ${rate:-?} | $corpus | $crashes |"
  done
  echo
  echo "Total executions: $total"
} | tee "$report"
if [[ $crashed == 1 ]]; then
  echo "fuzz.sh: crashes found; inputs in $out/artifacts/ (reproduce: $out/bin/fuzz_TARGET FILE)" >&2
  exit 1
fi
