#!/usr/bin/env bash
# The SDK's exported symbols must match core/abi/exported-symbols.txt, so
# that an accidental change of the plugin ABI fails the tests. After a
# deliberate change, regenerate the list with:
#   tests/e2e/abi.sh build/release/lib/libp2pcore.so core/abi/exported-symbols.txt --update
set -euo pipefail
lib=$1 list=$2
actual=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^_' | sort)
if [[ "${3:-}" == --update ]]; then echo "$actual" >"$list"; exit 0; fi
if diff -u "$list" <(echo "$actual"); then
  echo "1 passed, 0 failed"
else
  echo "exported symbols of $lib differ from $list (+ = new, - = gone)."
  echo "If the change is deliberate, update the list and bump P2P_ABI_MINOR (additions) or P2P_ABI_MAJOR (removals)."
  echo "0 passed, 1 failed"
  exit 1
fi
