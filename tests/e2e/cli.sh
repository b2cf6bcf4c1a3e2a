#!/usr/bin/env bash
# p2pchat's command line: help, version, modes, exit codes, config errors,
# the seed's relay identity, clean shutdown on SIGINT and SIGTERM.
source "$(dirname "$0")/lib.sh"
bin=$1

expect_exit 0 "--help" -- "$bin" --help
expect_in "$TMP/out" "Usage: p2pchat" "--help prints usage"
expect_exit 0 "peer --help" -- "$bin" peer --help
expect_in "$TMP/out" "--room" "peer --help lists --room"
expect_exit 0 "relay --help" -- "$bin" relay --help
expect_in "$TMP/out" "--secret-key-seed" "relay --help lists --secret-key-seed"
expect_exit 0 "--version" -- "$bin" --version
expect_in "$TMP/out" "p2pchat " "--version prints the version"

expect_exit 64 "unknown mode" -- "$bin" chat
expect_in "$TMP/err" "unknown mode 'chat'" "unknown mode is named"
expect_exit 64 "unknown option" -- "$bin" --frobnicate
expect_exit 64 "bad port" -- "$bin" relay --port 70000
expect_in "$TMP/err" "0 to 65535" "bad port says what to type"
expect_exit 64 "bad seed" -- "$bin" relay --secret-key-seed 256
expect_exit 64 "bad listen multiaddr" -- "$bin" peer --listen /ip4/1.2.3/tcp/1
expect_in "$TMP/err" "is not a multiaddr" "bad --listen is explained"
expect_exit 64 "bad --set" -- "$bin" --set nonsense peer

expect_exit 78 "missing config file" -- "$bin" -c "$TMP/nope.ini"
expect_in "$TMP/err" "$TMP/nope.ini" "missing config file is named"
printf '[host]\nlisten = /ip4/0.0.0.0/tcp/0\nlistn = x\n' >"$TMP/bad.ini"
expect_exit 78 "unknown key" -- "$bin" -c "$TMP/bad.ini"
expect_in "$TMP/err" "bad.ini:3" "unknown key error has file:line"
printf '[host]\n[plugin nosuchplugin]\n' >"$TMP/np.ini"
expect_exit 1 "missing plugin" -- "$bin" -c "$TMP/np.ini"
expect_in "$TMP/err" "plugin 'nosuchplugin'" "missing plugin is named"
printf '[host]\n[app nosuch]\n' >"$TMP/app.ini"
expect_exit 78 "unknown app section" -- "$bin" -c "$TMP/app.ini"

# The relay's deterministic identity equals rust-libp2p's relay-server example.
start_bg relay "$bin" relay --secret-key-seed 0 --port 0
if wait_for "$TMP/relay.out" "PeerId:" 10; then
  expect_in "$TMP/relay.out" "PeerId: 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN" "relay seed 0 PeerId"
else fail "relay did not print its PeerId"; fi
kill -INT "$last_pid"
wait_exit "$last_pid" 10; rc=$status
[[ $rc == 0 ]] && ok "relay exits 0 on SIGINT" || fail "relay exit status $rc after SIGINT"

start_bg peer "$bin" --without mdns peer
wait_for "$TMP/peer.out" "PeerId:" 10 || fail "peer did not start"
kill -TERM "$last_pid"
wait_exit "$last_pid" 10; rc=$status
[[ $rc == 0 ]] && ok "peer exits 0 on SIGTERM" || fail "peer exit status $rc after SIGTERM"

# timeout(1) signals the command and then its process group: the same stop
# again during the shutdown (within 1 s) is not a kill.
start_bg peer2 "$bin" --without mdns peer
wait_for "$TMP/peer2.out" "PeerId:" 10 || fail "peer did not start"
signal_storm "$last_pid"
wait_exit "$last_pid" 10; rc=$status
[[ $rc == 0 ]] && ok "peer exits 0 on repeated SIGTERM" || fail "peer exit status $rc after repeated SIGTERM"

# -c with a mode: flags override the file.
printf '[host]\nsecret_key_seed = 5\n[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[app relay]\nport = 0\n' >"$TMP/relay.ini"
start_bg relay2 "$bin" -c "$TMP/relay.ini" relay --secret-key-seed 0
wait_for "$TMP/relay2.out" "PeerId:" 10 || true
expect_in "$TMP/relay2.out" "PeerId: 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN" "flag overrides the config file"
expect_in "$TMP/relay2.out" "Mode: relay" "-c FILE with [app relay] runs the relay"
kill -TERM "$last_pid"; wait_exit "$last_pid" 10

# The shipped example configurations load and run.
src=$(cd "$(dirname "$0")/../.." && pwd)
for f in peer relay; do
  nomdns=(); [[ $f == peer ]] && nomdns=(--without mdns)   # never multicast on the host's network
  # The relay's fixed ports (4001, metrics 9090) become any free loopback ones.
  [[ $f == relay ]] && nomdns=(--set host.listen=/ip4/127.0.0.1/tcp/0 --set plugin.metrics.listen=127.0.0.1:0)
  start_bg "ex$f" "$bin" -c "$src/config/$f.ini" "${nomdns[@]}" --set app.relay.port=0 --set host.ephemeral_identity=true
  if wait_for "$TMP/ex$f.out" "PeerId:" 10; then ok "config/$f.ini runs"; else fail "config/$f.ini"; cat "$TMP/ex$f.err"; fi
  kill -TERM "$last_pid"; wait_exit "$last_pid" 10
done

expect_exit 64 "--without an unknown plugin" -- "$bin" --without nosuch peer
expect_in "$TMP/err" "no [plugin nosuch]" "--without names the missing plugin"

expect_exit 0 "--help-config" -- "$bin" --help-config
expect_in "$TMP/out" "secret_key_seed" "--help-config lists host keys"
finish
