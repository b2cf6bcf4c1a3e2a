#!/usr/bin/env bash
# valgrind.sh P2PCHAT SCRIPT: run an end-to-end script (e.g. chat.sh) with
# every p2pchat process under valgrind memcheck, then fail on any invalid
# access, use of uninitialised memory or leak reported by any of them.
# A process killed before it could exit writes no leak summary: that is
# reported too, since the scripts end every peer cleanly.
set -euo pipefail
bin=$(readlink -f "${1:?usage: valgrind.sh P2PCHAT SCRIPT}")
script=${2:?usage: valgrind.sh P2PCHAT SCRIPT}
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v valgrind >/dev/null; then
  echo "SKIP: valgrind is not installed (scripts/setup.sh --test installs it)"
  exit 77
fi
work=$(mktemp -d /tmp/p2pvg.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/logs"
cat >"$work/p2pchat" <<WRAP
#!/bin/sh
# Plugins stay mapped so valgrind can name their frames.
P2P_NO_DLCLOSE=1 exec valgrind --quiet --error-exitcode=99 --leak-check=full \
  --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
  --track-origins=yes --suppressions="$here/valgrind.supp" --log-file="$work/logs/vg.%p.log" "$bin" "\$@"
WRAP
chmod +x "$work/p2pchat"

rc=0
# Timeouts in the scripts are generous enough for valgrind's ~20x slow-down
# of the start-up; the message exchange itself is light.
bash "$script" "$work/p2pchat" || rc=$?

n=0 bad=0
for log in "$work"/logs/vg.*.log; do
  [[ -e "$log" ]] || continue
  n=$((n + 1))
  if [[ -s "$log" ]]; then
    bad=$((bad + 1))
    echo "FAIL - valgrind reported problems ($(basename "$log")):"
    sed 's/^/    /' "$log" | head -80
  fi
done
echo "valgrind: $n process(es) checked, $bad with reports"
[[ $n -gt 0 ]] || { echo "FAIL - no process ran under valgrind"; exit 1; }
[[ $rc -eq 0 && $bad -eq 0 ]]
