# shellcheck shell=bash
# Sourced by check scripts (check-relay.sh, check-connect.sh; harness.sh
# for check-pubsub.sh and check-kad.sh): PASS/FAIL bookkeeping, a work
# directory, and background processes that are stopped on exit.
#
#   checks_init PREFIX          work directory $work (/tmp/PREFIX.XXXXXX),
#                               removed on exit unless KEEP_LOGS=1
#   pass MSG / fail MSG         one PASS/FAIL line, counted
#   check MSG CMD...            PASS when CMD succeeds, else FAIL
#   bg_start NAME SECS CMD...   CMD in the background, bounded by
#                               timeout(1), output in $work/NAME.out and
#                               NAME.err (stdin: /dev/null or what the
#                               caller redirected); its pid in $bg_pid
#   checks_summary              "N passed, N failed"; true when none failed

passed=0
failed=0
work=""
bg_pids=()
bg_pid=""

pass() {
  printf 'PASS %s\n' "$*"
  passed=$((passed + 1))
}
fail() {
  printf 'FAIL %s\n' "$*"
  failed=$((failed + 1))
}
check() {
  local what="$1"
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

checks_summary() {
  printf '%d passed, %d failed\n' "$passed" "$failed"
  [ "$failed" = 0 ]
}

# Stop what bg_start started (SIGTERM, then SIGKILL), remove $work.
checks_cleanup() {
  local p
  for p in "${bg_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  [ "${#bg_pids[@]}" = 0 ] || sleep 0.2
  for p in "${bg_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  [ "${#bg_pids[@]}" = 0 ] || wait "${bg_pids[@]}" 2>/dev/null || true
  if [ -n "$work" ]; then
    if [ "${KEEP_LOGS:-0}" = 1 ]; then printf 'logs kept in %s\n' "$work"; else rm -rf "$work"; fi
  fi
}

checks_init() {
  work="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")" || exit 1
  trap checks_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# bg_start NAME SECS CMD...: CMD in the background (pid in bg_pid), output
# in $work/NAME.{out,err}, ended after SECS. A SIGTERM sent to bg_pid
# reaches CMD through timeout(1), which kills it 10 s later: p2pchat may
# take its transport's linger (5 s) to let queued bytes out when it stops.
# --foreground: timeout passes the signal to CMD alone. Without it, it
# also signals its process group and then sends SIGCONT; a late SIGCONT
# (timeout descheduled on a loaded machine) can land while an ASan build
# runs LeakSanitizer at exit, whose PTRACE_ATTACH stop it cancels: the
# leak checker then waits forever and CMD is killed (exit 137).
bg_start() {
  local name="$1" secs="$2"
  shift 2
  timeout --foreground -k 10 "$secs" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  bg_pid=$!
  bg_pids+=("$bg_pid")
}

# show_logs NAME...: the first lines of those outputs, indented.
show_logs() {
  local n f
  for n in "$@"; do
    for f in "$work/$n.out" "$work/$n.err"; do
      [ -s "$f" ] || continue
      printf '    --- %s\n' "$(basename "$f")"
      head -n 25 "$f" | cut -c1-400 | sed 's/^/    | /'
    done
  done
}
