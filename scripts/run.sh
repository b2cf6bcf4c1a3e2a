#!/usr/bin/env bash
# Quick start: install what is missing, build, and run p2pchat.
# Without arguments it runs `p2pchat peer` on the built-in configuration;
# any arguments are passed to p2pchat (e.g. scripts/run.sh relay --port 4001).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" release >/dev/null
if (($# == 0)); then set -- peer; fi
exec "$root/build/release/bin/p2pchat" "$@"
