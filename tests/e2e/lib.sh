# lib.sh - helpers for the end-to-end scripts (sourced).
set -euo pipefail

fails=0
passes=0
TMP=$(mktemp -d /tmp/p2pe2e.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [[ -n "$p" ]] && kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
# Every test runs with its own empty data directory.
export HOME="$TMP/home" XDG_DATA_HOME="$TMP/data"
mkdir -p "$HOME" "$XDG_DATA_HOME"
unset P2P_LOG P2P_PLUGIN_PATH

ok()   { passes=$((passes + 1)); echo "ok - $*"; }
fail() { fails=$((fails + 1)); echo "FAIL - $*"; }

# expect_exit CODE DESCRIPTION -- CMD...: run CMD (bounded), check its exit code.
expect_exit() {
  local want=$1 what=$2; shift 3
  local rc=0
  timeout 20 "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  if [[ $rc -eq $want ]]; then ok "$what (exit $rc)"; else
    fail "$what: exit $rc, expected $want"; sed 's/^/    out: /' "$TMP/out"; sed 's/^/    err: /' "$TMP/err"; fi
}

# expect_in FILE TEXT DESCRIPTION
expect_in() {
  if grep -qF -- "$2" "$1"; then ok "$3"; else fail "$3: '$2' not in:"; sed 's/^/    /' "$1"; fi
}

# start_bg NAME CMD...: start a process with output to $TMP/NAME.out/.err.
start_bg() {
  local name=$1; shift
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  pids+=($!)
  last_pid=$!
}

# wait_for FILE TEXT [SECONDS]: wait until TEXT appears in FILE.
wait_for() {
  local file=$1 text=$2 secs=${3:-10} i
  for ((i = 0; i < secs * 20; i++)); do
    grep -qF -- "$text" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# wait_exit PID SECONDS: wait for PID (a child of this shell) to exit and
# set $status to its exit status, or 124 after SECONDS (then kill it).
wait_exit() {
  local pid=$1 secs=$2 i
  status=124
  for ((i = 0; i < secs * 20; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      status=0; wait "$pid" || status=$?; return 0
    fi
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
}

finish() {
  echo "$passes passed, $fails failed"
  [[ $fails -eq 0 ]]
}

# signal_storm PID [SIG]: send SIG (TERM) to PID as fast as possible until it
# has exited (a zombie counts as exited), at most ~100,000 times.
signal_storm() {
  local pid=$1 sig=${2:-TERM} st i
  for ((i = 0; i < 100000; i++)); do
    kill -"$sig" "$pid" 2>/dev/null || return 0
    { read -r _ _ st _ <"/proc/$pid/stat"; } 2>/dev/null || return 0
    [[ $st == Z ]] && return 0
  done
}
