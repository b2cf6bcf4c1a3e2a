#!/usr/bin/env bash
# Configure and build one flavour into build/<flavour>.
#   scripts/build.sh [release|asan|fuzz] [extra cmake args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-release}
shift || true
args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo)
case "$flavour" in
  release) ;;
  asan) args+=(-DP2P_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
  fuzz) args+=(-DP2P_FUZZ=ON -DP2P_SANITIZE=ON -DCMAKE_C_COMPILER=clang) ;;
  *) echo "build.sh: unknown flavour '$flavour'; expected release, asan or fuzz" >&2; exit 64 ;;
esac
cmake -S "$root" -B "$root/build/$flavour" "${args[@]}" "$@" >/dev/null
cmake --build "$root/build/$flavour" --parallel "$(nproc)"
