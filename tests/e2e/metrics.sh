#!/usr/bin/env bash
# The metrics endpoint of a running relay, scraped with curl: a relay R
# (max_reservations = 1, --metrics); a peer B reachable only through R (a
# reservation) that serves /perf/1.0.0; a perf client A that measures B
# through R (a circuit: bytes both ways, then closed); and a peer C whose
# reservation R refuses. R's /metrics must show all of it; B's shows its
# reservation and the relayed connection. Then malformed and wrong
# requests get 400/404/405, and everything exits cleanly.
source "$(dirname "$0")/lib.sh"
bin=$1
command -v curl >/dev/null || { echo "curl not installed (scripts/setup.sh --test)"; exit 77; }
room="metrics-$$"

# metrics_port NAME: the port a process's metrics plugin logged.
metrics_port() {
  wait_for "$TMP/$1.err" "serving metrics at http://127.0.0.1:" 10 || return 1
  sed -n 's|.*serving metrics at http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$TMP/$1.err" | head -n1
}
scrape() { curl -sS --max-time 5 "http://127.0.0.1:$1/metrics"; }
# value PORT 'SERIES': the value of one series (exact name and labels), or empty.
value() { scrape "$1" | awk -v s="$2" '$1 == s { print $2 }'; }
# wait_value PORT 'SERIES' MIN [SECONDS]: until the value is >= MIN.
wait_value() {
  local i v
  for ((i = 0; i < ${4:-20} * 5; i++)); do
    v=$(value "$1" "$2"); [[ -n $v && $v -ge $3 ]] && return 0
    sleep 0.2
  done
  return 1
}

P2P_LOG=warn,metrics=info "$bin" --set plugin.relay.max_reservations=1 \
  relay --port 0 --secret-key-seed 7 --metrics 127.0.0.1:0 >"$TMP/r.out" 2>"$TMP/r.err" &
pids+=($!); pid_r=$!
wait_for "$TMP/r.out" "/p2p/" 10 || { fail "relay did not start"; cat "$TMP/r.err"; finish; }
addr_r=$(grep -m1 -o '/ip4/127.0.0.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*' "$TMP/r.out")
port_r=$(metrics_port r) && ok "relay serves metrics (port $port_r)" || { fail "no metrics endpoint"; cat "$TMP/r.err"; finish; }

# Before anything: the format, the content type, zeros.
curl -sS --max-time 5 -i "http://127.0.0.1:$port_r/metrics" >"$TMP/first.txt"
expect_in "$TMP/first.txt" "Content-Type: text/plain; version=0.0.4; charset=utf-8" "Prometheus content type"
expect_in "$TMP/first.txt" "# TYPE p2p_relay_reservations gauge" "relay gauge typed"
expect_in "$TMP/first.txt" "# HELP p2p_relay_circuits_refused_total " "relay counter documented"
expect_in "$TMP/first.txt" "p2p_relay_reservations 0" "no reservation yet"

start_peer() {
  local name=$1; shift
  mkfifo "$TMP/$name.in"
  exec {fd}<>"$TMP/$name.in"
  eval "fd_$name=$fd"
  P2P_LOG=warn,metrics=info "$bin" --without mdns --set app.chat.room_lookup_interval=1s "$@" \
    <"$TMP/$name.in" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  pids+=($!)
  eval "pid_$name=$!"
}

# B reserves a slot on R and is reachable only through it; it serves
# perf and its own metrics.
start_peer b --set plugin.metrics.listen=127.0.0.1:0 peer --perf --listen /p2p-circuit --room "$room" --relay "$addr_r"
wait_for "$TMP/b.out" "PeerId:" 10 || fail "peer b did not start"
id_b=$(sed -n 's/^PeerId: //p' "$TMP/b.out")
port_b=$(metrics_port b) || fail "peer b serves no metrics"
wait_value "$port_r" 'p2p_relay_reservations' 1 && ok "relay: 1 active reservation" || fail "relay: no reservation"
[[ $(value "$port_r" 'p2p_relay_reservations_accepted_total{kind="new"}') == 1 ]] && ok "relay: 1 reservation accepted" \
  || fail "relay: reservations accepted: $(value "$port_r" 'p2p_relay_reservations_accepted_total{kind="new"}')"
wait_value "$port_b" 'p2p_relay_client_reservations' 1 && ok "b: reserved on 1 relay" || fail "b: no reservation"
[[ $(value "$port_b" 'p2p_gossipsub_topics') == 2 ]] && ok "b: 2 gossipsub topics (the room and p2pchat/nick/1)" || fail "b: gossipsub topics: $(value "$port_b" 'p2p_gossipsub_topics')"

# A measures B through R: a circuit carrying 20 kB each way.
if timeout 20 "$bin" --set plugin.relay.client=true perf "$addr_r/p2p-circuit/p2p/$id_b" \
     --upload 20000 --download 20000 --interval 0 >"$TMP/perf.out" 2>"$TMP/perf.err"; then
  ok "perf through the relay"
else fail "perf through the relay"; cat "$TMP/perf.out" "$TMP/perf.err"; fi
wait_value "$port_r" 'p2p_relay_circuits_accepted_total' 1 && ok "relay: circuit accepted" || fail "relay: no circuit"
wait_value "$port_r" 'p2p_relay_circuit_bytes_total' 40000 && ok "relay: bytes relayed" \
  || fail "relay: circuit bytes $(value "$port_r" 'p2p_relay_circuit_bytes_total')"
closed() { local r n=0 v; for r in closed error shutdown; do v=$(value "$port_r" "p2p_relay_circuits_closed_total{reason=\"$r\"}"); n=$((n + ${v:-0})); done; echo $n; }
for ((i = 0; i < 50 && $(closed) < 1; i++)); do sleep 0.2; done
[[ $(closed) == 1 && $(value "$port_r" 'p2p_relay_circuits') == 0 ]] && ok "relay: circuit closed, none active" \
  || fail "relay: circuits closed $(closed), active $(value "$port_r" 'p2p_relay_circuits')"
[[ $(value "$port_b" 'p2p_connections_opened_total{direction="inbound",transport="p2p-circuit"}') == 1 ]] \
  && ok "b: a relayed inbound connection" || fail "b: no relayed connection"
wait_value "$port_b" 'p2p_transport_bytes_total{direction="in",transport="p2p-circuit"}' 20000 \
  && ok "b: bytes over the circuit" || fail "b: bytes over the circuit"
# R's own connections: B, A and later C come in over TCP.
wait_value "$port_r" 'p2p_connections_opened_total{direction="inbound",transport="tcp"}' 2 \
  && ok "relay: inbound tcp connections counted" || fail "relay: connections"

# C wants a slot too: max_reservations = 1 refuses it.
start_peer c peer --listen /ip4/127.0.0.1/tcp/0 --room "$room" --relay "$addr_r"
wait_value "$port_r" 'p2p_relay_reservations_refused_total{reason="max_reservations"}' 1 \
  && ok "relay: refusal counted by reason" || fail "relay: refusal not counted"
[[ $(value "$port_r" 'p2p_relay_reservations') == 1 ]] && ok "relay: still 1 reservation" || fail "relay: reservations"
wait_value "$port_r" 'p2p_kad_provider_keys' 1 && ok "relay: the room's provider record (kad)" \
  || fail "relay: no provider record"

# The endpoint itself: wrong method, path, malformed request, HEAD.
code() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$@"; }
[[ $(code -X POST "http://127.0.0.1:$port_r/metrics") == 405 ]] && ok "POST answered 405" || fail "POST not 405"
[[ $(code "http://127.0.0.1:$port_r/other") == 404 ]] && ok "other path answered 404" || fail "other path not 404"
[[ $(code -I "http://127.0.0.1:$port_r/metrics") == 200 ]] && ok "HEAD answered 200" || fail "HEAD not 200"
exec {h}<>"/dev/tcp/127.0.0.1/$port_r"
printf 'NOT HTTP AT ALL\r\n\r\n' >&$h
timeout 5 head -n1 <&$h >"$TMP/bad.txt" || true
exec {h}>&-
expect_in "$TMP/bad.txt" "HTTP/1.1 400 Bad Request" "malformed request answered 400"
[[ $(value "$port_r" 'p2p_metrics_http_requests_total{code="400"}') == 1 ]] && ok "the 400 is counted" \
  || fail "400 not counted"

# --bootstrap with a circuit address (/.../p2p/R/p2p-circuit/p2p/B) dials
# B through R: the target's PeerId, not the relay's.
start_peer d peer --json --room "bootstrap-$$" --bootstrap "$addr_r/p2p-circuit/p2p/$id_b"
wait_for "$TMP/d.out" "\"event\":\"connected\",\"peer\":\"$id_b\"" 15 \
  && ok "--bootstrap through a circuit reaches the target" \
  || { fail "--bootstrap through a circuit"; cat "$TMP/d.out" "$TMP/d.err"; }
grep -q "\"event\":\"connected\",\"peer\":\"$id_b\".*\"connection\":\"relayed\"" "$TMP/d.out" \
  && ok "the bootstrap connection is relayed" || fail "bootstrap connection not relayed"
! grep -qi "error\|cannot" "$TMP/d.err" && ok "no bootstrap error" || { fail "bootstrap errors"; cat "$TMP/d.err"; }

# The memory budget's gauges.
[[ $(value "$port_r" 'p2p_buffered_bytes_limit') == 268435456 ]] && ok "memory budget exported (256 MiB)" \
  || fail "p2p_buffered_bytes_limit missing or wrong"
[[ -n $(value "$port_r" 'p2p_buffered_bytes') ]] && ok "buffered bytes exported" || fail "p2p_buffered_bytes missing"

# A malformed --metrics address is a configuration error: exit 78 (EX_CONFIG).
st=0; "$bin" relay --port 0 --metrics 1.2.3:99 </dev/null >"$TMP/badm.out" 2>"$TMP/badm.err" || st=$?
[[ $st == 78 ]] && ok "bad --metrics address exits 78" || fail "bad --metrics address exited $st"
expect_in "$TMP/badm.err" "'1.2.3:99' is not IP:PORT" "bad --metrics address named"

kill -TERM "$pid_b" "$pid_c" "$pid_d" "$pid_r"
for p in b c d r; do eval "wait_exit \$pid_$p 10"; eval "s_$p=\$status"; done
if [[ $s_b == 0 && $s_c == 0 && $s_d == 0 && $s_r == 0 ]]; then ok "clean shutdown"; else
  fail "exit statuses $s_b $s_c $s_d $s_r"
  for p in b c d r; do eval "[[ \$s_$p == 0 ]]" || { echo "    $p's stderr:"; tail -n 40 "$TMP/$p.err" | sed 's/^/    /'; }; done
fi
finish
