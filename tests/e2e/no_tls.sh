#!/usr/bin/env bash
# No plugin may have thread-local storage (docs/PLUGINS.md, "No global
# mutable state"): in a dlopen'ed module it is dynamic TLS, which nothing
# frees when a thread ends and which LeakSanitizer's exit-time scan
# mis-tracks (p2pchat aborted at exit under ASan in about one run in three
# while the noise plugin had it). A module has TLS exactly when it has a
# PT_TLS program header.
set -euo pipefail
dir=$1
n=0 bad=0
for so in "$dir"/*.so; do
  [[ -e $so ]] || continue
  n=$((n + 1))
  if readelf -lW "$so" | grep -q '^ *TLS '; then
    echo "FAIL - $(basename "$so") has thread-local storage (readelf -lW: a TLS segment)"
    bad=$((bad + 1))
  fi
done
if [[ $n -lt 10 ]]; then echo "FAIL - only $n plugins found in $dir"; echo "0 passed, 1 failed"; exit 1; fi
echo "$((n - bad)) passed, $bad failed"
[[ $bad -eq 0 ]]
