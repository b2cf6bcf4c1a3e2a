# shellcheck shell=bash
# Sourced by the interop check scripts that run several peers of one
# subcommand (check-pubsub.sh, check-kad.sh) after peers.sh: results,
# a work directory cleaned up on exit, and starting, waiting for and
# stopping peers. The sourcing script sets, before calling these:
#   cpeer       the cpeer binary (the C peer)
#   subcommand  the peers' subcommand (pubsub, kad, ...)
#   PEER_LIMIT  every peer's --timeout in seconds (hard cap: + 10)
#   LISTEN_WAIT seconds to wait for a peer's LISTEN line
# and calls harness_init NAME once.

# ---- results: pass, fail, check, checks_summary ---------------------------

# shellcheck source=checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# ---- the work directory and the peers ---------------------------------------

declare -A pid=() impl_of=()
names=()
# Extra clean-up of the sourcing script (run first), e.g. closing a FIFO.
harness_cleanup_hook=:

# harness_init NAME: $work (a new temporary directory) and the traps that
# kill every peer left and remove $work (KEEP_LOGS=1 keeps it) on exit.
harness_init() {
  checks_init "interop-$1"
  trap harness_cleanup EXIT
}

harness_cleanup() {
  local n
  "$harness_cleanup_hook"
  for n in "${!pid[@]}"; do
    kill -KILL "${pid[$n]}" 2>/dev/null || true
    wait "${pid[$n]}" 2>/dev/null || true
  done
  checks_cleanup
}

# show_logs NAME...: the first lines of the peers' output, indented.
show_logs() {
  local n f
  for n in "$@"; do
    for f in "$work/$n.out" "$work/$n.err"; do
      [ -s "$f" ] || continue
      printf '    --- %s (%s) %s\n' "$n" "${impl_of[$n]:-p2pchat}" "${f##*.}"
      head -n 60 "$f" | cut -c1-300 | sed 's/^/    | /'
    done
  done
}

# start NAME IMPL ARGS...: run IMPL's $subcommand (IMPL c: cpeer) in the
# background, stdout to $work/NAME.out, stderr to $work/NAME.err, its
# command line in $work/NAME.cmd.
start() {
  local name="$1" impl="$2"
  shift 2
  if [ "$impl" = c ]; then
    peer_cmd=("$cpeer" "$subcommand")
  else
    set_peer_cmd "$impl" "$subcommand"
  fi
  printf '%q ' "${peer_cmd[@]}" --timeout "$PEER_LIMIT" "$@" >"$work/$name.cmd"
  # truncated here: the background job's own redirection happens later, and
  # a reader could still see the output of an earlier peer of that name
  : >"$work/$name.out"
  : >"$work/$name.err"
  # --foreground: a SIGTERM from stop reaches the peer alone (see bg_start
  # in checks.sh: timeout's group SIGCONT can hang LeakSanitizer at exit)
  timeout --foreground -k 3 $((PEER_LIMIT + 10)) "${peer_cmd[@]}" --timeout "$PEER_LIMIT" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  pid[$name]=$!
  impl_of[$name]="$impl"
  names+=("$name")
}

# addr_of NAME: wait for NAME's LISTEN line and print its address (with
# /p2p/); false when it does not come.
addr_of() {
  peer_wait_line "$work/$1.out" '^LISTEN /' "$LISTEN_WAIT" "${pid[$1]}" || return 1
  peer_listen_addr "$work/$1.out"
}

# id_of NAME: NAME's PeerId (PEERID line).
id_of() {
  grep -m1 '^PEERID ' "$work/$1.out" | cut -d' ' -f2
}

# stop NAME...: SIGTERM, then wait (bounded by the peers' timeout(1)).
stop() {
  local n
  for n in "$@"; do
    [ -n "${pid[$n]:-}" ] || continue
    kill -TERM "${pid[$n]}" 2>/dev/null || true
  done
  for n in "$@"; do
    [ -n "${pid[$n]:-}" ] || continue
    wait "${pid[$n]}" 2>/dev/null || true
    unset "pid[$n]"
  done
}

# wait_done SECS NAME...: wait until every NAME printed DONE; false if one
# did not (its exit or the time limit).
wait_done() {
  local n ok=0 end=$((SECONDS + $1))
  shift
  for n in "$@"; do
    local left=$((end - SECONDS))
    [ "$left" -gt 0 ] || left=1
    peer_wait_line "$work/$n.out" '^DONE$' "$left" "${pid[$n]}" || ok=1
  done
  return "$ok"
}
