#!/usr/bin/env bash
# The long hostile-peer runs (CI runs the short variants: ctest -L hostile,
# 48 relay identities and 64 kad identities, ~14 s together).
#
#   scripts/hostile.sh [--no-build] [IDENTITIES]
#
# Builds the release flavour, then runs unit.relay_hostile (a reservation
# and circuit flood against a relay) and unit.kad_hostile (a provider-record
# flood and a value-record flood against a DHT server) with IDENTITIES
# hostile identities each (default 400), printing each test's figures
# (reservations held and refused by reason, circuits, the honest client's
# latencies; provider and value records stored, per attacker, refused and
# evicted, honest operations' latencies; RSS). Exits 1 when a check
# failed. The figures in docs/SECURITY.md come from it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=1
if [[ "${1:-}" == "--no-build" ]]; then build=0; shift; fi
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
n="${1:-400}"
[[ "$n" =~ ^[0-9]+$ ]] || { echo "hostile.sh: IDENTITIES must be a number" >&2; exit 64; }
[[ $build == 1 ]] && "$root/scripts/build.sh" release
ulimit -n 65536 2>/dev/null || true   # every identity's connection, both ends in one process
cd "$root/build/release"
rc=0
HOSTILE_RELAY_IDENTITIES="$n" CK_FORK=no nice ./bin/test_relay_hostile || rc=1
HOSTILE_KAD_IDENTITIES="$n" CK_FORK=no nice ./bin/test_kad_hostile || rc=1
exit $rc
