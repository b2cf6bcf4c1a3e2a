#!/usr/bin/env bash
# The long churn and soak run (CI runs a 60-second, 10-peer variant:
# ctest -R soak.churn).
#
#   scripts/soak.sh [--no-build] [soak.py options...]
#
# Builds the release flavour, then runs tests/soak/soak.py with 50 peers
# (10 long-lived) for 10 minutes on loopback, unless options say otherwise
# (e.g. --peers 20 --duration 300). Outputs go to build/release/soak/<time>/
# (with the installed copy of p2pchat that ran):
# results.md (the table), results.json, soak.dat, latency.dat and, when
# gnuplot is installed (scripts/setup.sh --plot or --test), soak.png;
# CI's short variant writes the same into build/<flavour>/tests/soak/churn.
# Exits 1 when a check failed. The figures in docs/RELIABILITY.md come
# from this command.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=1
if [[ "${1:-}" == "--no-build" ]]; then build=0; shift; fi
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
[[ $build == 1 ]] && "$root/scripts/build.sh" release
out="$root/build/release/soak/$(date -u +%Y%m%dT%H%M%SZ)"
# Run a private installed copy: rebuilding meanwhile must not change the
# binary under a long run.
cmake --install "$root/build/release" --prefix "$out/install" >/dev/null
command -v gnuplot >/dev/null || echo "soak.sh: gnuplot not found, no plot (scripts/setup.sh --plot)" >&2
exec nice python3 "$root/tests/soak/soak.py" --bin "$out/install/bin/p2pchat" \
  --peers 50 --stable 10 --duration 600 --out "$out" "$@"
