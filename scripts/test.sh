#!/usr/bin/env bash
# Install what is missing, build, and run every test:
#   1. fuzz targets, short runs (clang, libFuzzer, ASan+UBSan)
#   2. unit, integration, end-to-end and interop suites (the C side
#      against rust-libp2p, go-libp2p and js-libp2p) under
#      AddressSanitizer + UBSan
#   3. everything (unit, e2e, SDK install, interop, benchmarks' smoke run,
#      soak, faults) on the normal build - its CTest summary is the last
#      thing printed.
# Environment: P2P_FUZZ_SECONDS (default 10 per target), P2P_SKIP_INTEROP=1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)
scripts/setup.sh --test

echo "== fuzz: short runs =="
scripts/build.sh fuzz -DBUILD_TESTING=OFF -DP2P_FUZZ_SECONDS="${P2P_FUZZ_SECONDS:-10}"
(cd build/fuzz && ctest -L fuzz --output-on-failure -j "$jobs")

interop=ON
if [[ "${P2P_SKIP_INTEROP:-0}" == 1 ]]; then
  interop=OFF
else
  echo "== building the rust-libp2p, go-libp2p and js-libp2p test peers =="
  tests/interop/build-peers.sh
fi

echo "== AddressSanitizer + UndefinedBehaviorSanitizer =="
scripts/build.sh asan -DP2P_INTEROP="$interop"
(cd build/asan && CK_TIMEOUT_MULTIPLIER=5 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   P2P_NO_DLCLOSE=1 ctest -L 'unit|integration|e2e|interop' --output-on-failure -j "$jobs")

echo "== all tests =="
scripts/build.sh release -DP2P_INTEROP="$interop"
cd build/release
CK_TIMEOUT_MULTIPLIER=2 ctest --output-on-failure -j "$jobs"
