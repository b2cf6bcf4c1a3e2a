# bench/relay-shaped.sh - part (j) of bench/run.sh, sourced by it: relayed
# against direct throughput where the links, not the CPUs, are the limit.
#
# On loopback every run is CPU-bound: a relayed byte costs 6 AEAD passes
# (the client's inner and outer Noise, the relay's decrypt and encrypt,
# the server's two decrypts) against 2 for a direct one, on the same 2
# cores. Here the star of tests/netns/lib.sh (netns_star: relay R
# 198.18.0.1, A 198.18.0.2, B 198.18.0.3 on one bridge, every host's link
# limited to $shaped_rate Mbit/s both ways) makes the network the limit,
# as on a real path. In R each relay implementation (relay_cmd); in B, per
# pair of endpoints and relay, the endpoints' perf server reserved on that
# relay (start_relayed; the same process serves the direct runs at its own
# address); in A the clients. Per round, per endpoint implementation:
# $shaped_bytes up and down directly, then up and down through each relay
# paired with it (the pairs of (g)). Each sample adds the relay's CPU
# seconds, RSS and peak RSS and the bytes R's link sent during the run:
# a relayed run must have sent the payload through R, a direct one almost
# nothing, and a direct run faster than the link means no shaping; any of
# these stops the benchmark. Every process's CPU time is in the sample
# (client: bash's time, from its start; server and relay: /proc), so that
# the report can show that none of them was the limit.
#
# Uses run.sh's globals and helpers (start_relay, start_relayed,
# run_client, stop_named, proc_cpu, proc_rss, log, die, $extra_impls,
# $reps, $samples) and tests/netns/lib.sh (sourced by run.sh).

shaped_skipped=""

# shaped_probe: can this machine make namespaces and shape a link? (prints
# why not)
shaped_probe() {
  local ns="rsprobe-$$" why=""
  if [ "$(id -u)" != 0 ]; then
    echo "needs root (network namespaces)"
    return 1
  fi
  command -v ip >/dev/null && command -v tc >/dev/null || { echo "needs ip and tc (iproute2)"; return 1; }
  if ! ip netns add "$ns" 2>/dev/null; then
    echo "cannot create a network namespace"
    return 1
  fi
  tc -n "$ns" qdisc add dev lo root tbf rate 100mbit burst 64kb latency 20ms 2>/dev/null ||
    why="no tbf qdisc (tc ... tbf) in a namespace"
  ip netns del "$ns"
  [ -z "$why" ] || { echo "$why"; return 1; }
}

# The bytes R's link has sent.
shaped_tx() {
  ip netns exec "$NR" cat /sys/class/net/eth0/statistics/tx_bytes
}

# after_client hook of run_client: the relay's side of the run just ended
# (reads sh_* of shaped_run).
shaped_extra() {
  local cpu=null rss=null hwm=null sched=other
  [ -z "${sched_fifo:-}" ] || sched=fifo
  if [ -n "$sh_relay" ]; then
    cpu="$(awk -v a="$sh_r0" -v b="$(proc_cpu "$sh_rpid")" 'BEGIN { print b - a }')"
    rss="$(proc_rss "$sh_rpid")"
    hwm="$(awk '/^VmHWM:/ { print $2 }' "/proc/$sh_rpid/status")"
  fi
  printf ',"path":"%s","relay":"%s","direction":"%s","rateMbit":%s,"relayCpu":%s,"relayRssKiB":%s,"relayHwmKiB":%s,"relayLinkTxBytes":%s,"sched":"%s"' \
    "$sh_path" "$sh_relay" "$sh_dir" "$shaped_rate" "$cpu" "$rss" "$hwm" $(($(shaped_tx) - sh_tx0)) "$sched"
}

# shaped_run direct|relayed ENDS RELAY upload|download: one run from A to
# B (RELAY: the relay whose circuit it takes; "" for direct).
shaped_run() {
  local sh_path="$1" ends="$2" sh_relay="$3" sh_dir="$4" key sh_rpid="" sh_r0=0 sh_tx0 tx line
  key="direct-$ends"
  if [ "$sh_path" = relayed ]; then
    key="circuit-$sh_relay"
    [ "$ends" = c ] || key="$key-$ends"
    sh_rpid="${srv_pid[relay-$sh_relay]}"
    sh_r0="$(proc_cpu "$sh_rpid")"
  fi
  sh_tx0="$(shaped_tx)"
  # a failed run of the others' peers (js's relay, once in a full run) is
  # recorded and the benchmark goes on; a C failure ends it
  local may_fail=""
  [ "$ends/${sh_relay:-c}" = c/c ] || may_fail=1
  if ! client_may_fail="$may_fail" after_client=shaped_extra run_client "shaped-$sh_path" "$key" "$ends" \
    "--$sh_dir" "$shaped_bytes"; then
    log "  WARNING: $ends $sh_path $sh_dir${sh_relay:+ through the $sh_relay relay} failed: recorded"
    printf '{"kind":"shaped-failed","client":"%s","path":"%s","relay":"%s","direction":"%s","load":%s,"round":%s}\n' \
      "$ends" "$sh_path" "$sh_relay" "$sh_dir" "$(cut -d' ' -f1 /proc/loadavg)" "$round" >>"$samples"
    return 0
  fi
  tx=$(($(shaped_tx) - sh_tx0))
  if [ "$sh_path" = relayed ] && [ "$tx" -lt "$shaped_bytes" ]; then
    die "$ends $sh_dir through the $sh_relay relay: the relay's link sent only $tx bytes (not relayed?)"
  fi
  if [ "$sh_path" = direct ] && [ "$tx" -gt $((shaped_bytes / 8)) ]; then
    die "$ends direct $sh_dir: the relay's link sent $tx bytes (not direct?)"
  fi
  line="$(tail -1 "$samples")"
  python3 - "$line" "$shaped_rate" <<'PY' || die "$ends $sh_path $sh_dir ran faster than the link: no shaping?"
import json, sys
x, rate = json.loads(sys.argv[1]), float(sys.argv[2])
r = x["result"]
mbit = (r["uploadBytes"] + r["downloadBytes"]) * 8 / 1e6 / r["timeSeconds"]
print(f"bench:   {mbit:.0f} Mbit/s of payload on {rate:g} Mbit/s links; CPU s: client {x['clientCpu']}, "
      f"server {x['serverCpu']}, relay {x['relayCpu']}; relay RSS {x['relayRssKiB']} KiB", file=sys.stderr)
sys.exit(0 if mbit <= 1.1 * rate else 1)
PY
}

# shaped_rounds PAIRS: start the relays and servers of PAIRS
# (ENDS@RELAY ...) in the namespaces, run $reps rounds, stop them.
shaped_rounds() {
  local pairs="$1" p e x ends="" round n warm=$((4 << 20))
  [ "$warm" -le "$shaped_bytes" ] || warm="$shaped_bytes"
  for x in $extra_impls; do
    [[ "$pairs " == *"@$x "* ]] && start_relay "$x"
  done
  for p in $pairs; do
    e="${p%@*}" x="${p#*@}"
    start_relayed "$x" "$e"
    # the first server of each endpoint implementation serves its direct runs
    if [ -z "${srv_pid[direct-$e]:-}" ]; then
      srv_pid[direct-$e]="${srv_pid[relayed-$x-$e]}" srv_addr[direct-$e]="${srv_addr[relayed-$x-$e]}"
      ends="$ends $e"
    fi
  done
  for round in $(seq 1 "$reps"); do
    log "(j) ${sched_fifo:+SCHED_FIFO }round $round of $reps"
    for e in $ends; do
      shaped_run direct "$e" "" upload
      shaped_run direct "$e" "" download
      for p in $pairs; do
        [ "${p%@*}" = "$e" ] || continue
        shaped_run relayed "$e" "${p#*@}" upload
        shaped_run relayed "$e" "${p#*@}" download
      done
    done
  done
  for n in "${!srv_pid[@]}"; do stop_named "$n"; done
}

# relay_shaped: part (j), all of it; skipped with a message when the
# machine cannot make the namespaces. With --rt, the C pair (C endpoints,
# C relay) again with every process under SCHED_FIFO: one libuv thread
# each. Not the others: their runtimes' threads spin waiting for each
# other, and at one FIFO priority a spinning thread starves its siblings
# for good (js's relayed runs stalled; a killed node could not exit).
relay_shaped() {
  local why pairs="" x sched_fifo=""
  if ! why="$(shaped_probe)"; then
    shaped_skipped="$why"
    log "(j) relayed vs direct on shaped links: SKIPPED: $why"
    return 0
  fi
  # the pairs ENDS@RELAY of (g); without C, each implementation with itself
  for x in $extra_impls; do
    if [ "$has_c" = 0 ]; then
      pairs="$pairs $x@$x"
      continue
    fi
    pairs="$pairs c@$x"
    [ "$x" = c ] || pairs="$pairs $x@c $x@$x"
  done
  log "(j) relayed vs direct, links of $shaped_rate Mbit/s (network namespaces):$pairs"
  netns_lab_names rs
  netns_star "$shaped_rate" || die "cannot build the shaped namespaces"
  net_relay="$NR" net_server="$NB" net_client="$NA" ip_relay=198.18.0.1 ip_server=198.18.0.3
  shaped_rounds "$pairs"
  if [ "$rt" = 1 ] && [ "$has_c" = 1 ]; then sched_fifo=1 shaped_rounds c@c; fi
  netns_teardown
  net_relay="" net_server="" net_client="" ip_relay=127.0.0.1 ip_server=127.0.0.1
}
