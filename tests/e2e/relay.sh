#!/usr/bin/env bash
# Running a relay the way docs/RELAY.md says: the shipped config/relay.ini
# (with loopback ports), an identity file that survives restarts, SIGHUP
# applying new limits without a restart (and refusing what needs one, or
# a broken file, while running on), and the systemd unit passing
# `systemd-analyze verify` where systemd is installed.
source "$(dirname "$0")/lib.sh"
bin=$1 src=$2
command -v curl >/dev/null || { echo "curl not installed (scripts/setup.sh --test)"; exit 77; }

state="$TMP/state"
mkdir -m 0700 "$state"
cfg="$TMP/relay.ini"
# The shipped file, with loopback ports, the identity in our state
# directory, no reservation allowed yet, and info logs for the checks.
sed -e "s|^identity = .*|identity = $state/identity.key|" \
    -e "s|^listen = /ip4/0.0.0.0/tcp/4001.*|listen = /ip4/127.0.0.1/tcp/0|" \
    -e "s|^listen = 127.0.0.1:9090|listen = 127.0.0.1:0|" \
    -e "s|^max_reservations = 1024|max_reservations = 0|" \
    "$src/config/relay.ini" >"$cfg"
grep -q "max_reservations = 0" "$cfg" && grep -q "identity = $state" "$cfg" || { fail "config/relay.ini changed shape"; finish; }

start_relay() {
  start_bg "$1" "$bin" -c "$cfg"
  wait_for "$TMP/$1.out" "/p2p/" 10 || { fail "relay $1 did not start"; cat "$TMP/$1.err"; return 1; }
  wait_for "$TMP/$1.err" "serving metrics at" 10 || true
  port=$(sed -n 's|.*serving metrics at http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$TMP/$1.err" | head -n1)
}
value() { curl -sS --max-time 5 "http://127.0.0.1:$port/metrics" | awk -v s="$1" '$1 == s { print $2 }'; }
wait_value() {   # SERIES VALUE [SECONDS]
  local i
  for ((i = 0; i < ${3:-15} * 5; i++)); do [[ $(value "$1") == "$2" ]] && return 0; sleep 0.2; done
  return 1
}

# First start: the key file appears, private.
start_relay r1 || finish
pid1=$last_pid
id1=$(sed -n 's/^PeerId: //p' "$TMP/r1.out")
[[ -f $state/identity.key && $(stat -c %a "$state/identity.key") == 600 ]] && ok "identity file created with mode 600" \
  || fail "identity file: $(ls -l "$state" 2>&1)"
expect_in "$TMP/r1.out" "Mode: relay" "-c relay.ini alone runs the relay"
expect_in "$TMP/r1.out" "Plugins: transport-tcp noise yamux identify ping relay autonat kad metrics" "the relay's plugins"
addr=$(grep -m1 -o '/ip4/127.0.0.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*' "$TMP/r1.out")
[[ $addr == */p2p/$id1 ]] && ok "full listen address with /p2p/ printed" || fail "no full address: $(cat "$TMP/r1.out")"

# A peer asks for a reservation: refused (max_reservations = 0).
mkfifo "$TMP/b.in"; exec {fd_b}<>"$TMP/b.in"
P2P_LOG=warn "$bin" --without mdns --set plugin.relay.retry_interval=300ms --set plugin.relay.retry_max=300ms \
  peer --listen /p2p-circuit --relay "$addr" <"$TMP/b.in" >"$TMP/b.out" 2>"$TMP/b.err" &
pids+=($!); pid_b=$!
for ((i = 0; i < 75; i++)); do [[ $(value 'p2p_relay_reservations_refused_total{reason="max_reservations"}') -ge 2 ]] 2>/dev/null && break; sleep 0.2; done
[[ $(value 'p2p_relay_reservations_refused_total{reason="max_reservations"}') -ge 2 ]] && ok "reservations refused while max_reservations = 0" \
  || fail "no refusal counted"
[[ $(value 'p2p_relay_reservations') == 0 ]] && ok "no reservation" || fail "a reservation with max_reservations = 0"

# SIGHUP with a larger limit: the same process (same PeerId, same
# connections) now accepts the peer's next attempt.
sed -i "s|^max_reservations = 0|max_reservations = 8|" "$cfg"
kill -HUP "$pid1"
wait_for "$TMP/r1.err" "configuration reloaded (1 plugin(s) applied changes)" 10 && ok "SIGHUP reloads the relay limits" \
  || { fail "no reload"; cat "$TMP/r1.err"; }
expect_in "$TMP/r1.err" "relay: new limits: 8 reservations" "the relay logs its new limits"
wait_value 'p2p_relay_reservations' 1 && ok "the peer's reservation is accepted after the reload" \
  || fail "reservations after reload: $(value 'p2p_relay_reservations')"
kill -0 "$pid1" && ok "still the same process" || fail "the relay exited"

# What SIGHUP cannot do is refused, and the relay runs on unchanged.
sed -i "s|^client = false|client = true|" "$cfg"
kill -HUP "$pid1"
wait_for "$TMP/r1.err" "reload failed: client changed; restart to apply it" 10 && ok "a role change needs a restart" \
  || fail "role change not refused"
sed -i "s|^client = true|client = false|; s|^listen = /ip4/127.0.0.1/tcp/0|listen = /ip4/127.0.0.1/tcp/0, /ip6/::1/tcp/0|" "$cfg"
kill -HUP "$pid1"
wait_for "$TMP/r1.err" "[host] listen changed; restart to apply it" 10 && ok "a listen change needs a restart" \
  || fail "listen change not refused"
sed -i "s|, /ip6/::1/tcp/0||" "$cfg"
sed -i "s|^max_circuits = 256|max_circuits = many|" "$cfg"
kill -HUP "$pid1"
wait_for "$TMP/r1.err" "max_circuits: 'many'" 10 && ok "a broken file is reported with its line" || fail "broken file not reported"
expect_in "$TMP/r1.err" "configuration not reloaded" "and not applied"
[[ $(value 'p2p_relay_reservations') == 1 ]] && ok "the relay still serves its reservation" || fail "relay state lost"
sed -i "s|^max_circuits = many|max_circuits = 256|" "$cfg"

# Restart (what systemctl restart does): same PeerId from the key file.
kill -TERM "$pid_b" "$pid1"
wait_exit "$pid1" 10; [[ $status == 0 ]] && ok "relay exits 0 on SIGTERM" || fail "relay exit status $status"
wait_exit "$pid_b" 10
start_relay r2 || finish
pid2=$last_pid
id2=$(sed -n 's/^PeerId: //p' "$TMP/r2.out")
[[ -n $id1 && $id1 == "$id2" ]] && ok "the PeerId survives a restart" || fail "PeerId changed: $id1 -> $id2"
grep -q "Note:" "$TMP/r2.out" && fail "restart fell back to an ephemeral identity" || ok "no ephemeral fallback"
# A second relay on the same key file while the first runs: refused the
# key (flock), so it cannot impersonate it; it says so.
start_bg r3 "$bin" -c "$cfg" --set host.listen=/ip4/127.0.0.1/tcp/0 --set plugin.metrics.listen=127.0.0.1:0
wait_for "$TMP/r3.out" "PeerId:" 10 || true
expect_in "$TMP/r3.out" "in use by another process" "a second instance does not share the identity"
kill -TERM "$last_pid"; wait_exit "$last_pid" 10
kill -TERM "$pid2"; wait_exit "$pid2" 10; [[ $status == 0 ]] || fail "restarted relay exit status $status"

# The systemd unit.
if command -v systemd-analyze >/dev/null; then
  sed "s|/usr/local/bin/p2pchat|$bin|" "$src/contrib/systemd/p2pchat-relay.service" >"$TMP/p2pchat-relay.service"
  if MANPATH="$src/docs/man:" SYSTEMD_LOG_LEVEL=warning timeout 60 systemd-analyze verify "$TMP/p2pchat-relay.service" \
       >"$TMP/verify.txt" 2>&1; then
    ok "systemd-analyze verify accepts the unit"
  else fail "systemd-analyze verify"; cat "$TMP/verify.txt"; fi
else
  ok "systemd-analyze not installed: unit not verified (SKIP)"
fi
grep -q "^ExecReload=/bin/kill -HUP \$MAINPID" "$src/contrib/systemd/p2pchat-relay.service" \
  && grep -q "^StateDirectory=p2pchat" "$src/contrib/systemd/p2pchat-relay.service" \
  && grep -q "^identity = /var/lib/p2pchat/identity.key" "$src/config/relay.ini" \
  && ok "unit and relay.ini agree on the state directory and reload" || fail "unit and relay.ini disagree"
finish
