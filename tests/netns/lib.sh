# tests/netns/lib.sh - network-namespace labs for the tests (sourced).
#
# What every namespace test needs (shared/netns/README.md has the facts
# behind each choice): the skip checks (exit 77), namespaces that are
# made and removed by the test, idempotently, whatever happens (a trap),
# veth links, a reachability probe that needs no ping binary, and the
# work directory with its outputs dumped on failure. And the hole-punch
# lab of libp2p's test-plans:
#
#   A 198.19.1.2 --lan-- N1 (NAT) 198.18.0.2 --+
#                                               +-- I: bridge br0, 198.18.0.0/24 ("internet")
#   B 198.19.2.2 --lan-- N2 (NAT) 198.18.0.3 --+
#                              R (relay) 198.18.0.1 --+
#
# Test-only addresses only; no namespace has a link or a route to the
# machine's own namespace; A and B know no route to each other's LAN.
#
# Use:
#   source tests/netns/lib.sh
#   netns_init NAME PREFIX KEEP_VAR   # skip checks, $NETNS_WORK, traps
#   netns_need nft "install nftables" # more tools: exit 77 without them
#   netns_lab_names                   # $NI $NR $N1 $N2 $NA $NB (PREFIX + letter + pid)
#   netns_lab cone|symmetric drop|reply [ipv6]
#   netns_delay NS MS                 # every packet entering NS waits MS
#   netns_star MBIT                   # or: relay, A, B on one bridge, links shaped
#   ... the test ...                  # netns_fail MSG on failure
# On exit the trap tears everything down (netns_teardown) and removes the
# work directory unless $KEEP_VAR is set.
#
# Routers: `snat to <wan address>` keeps source ports (an
# endpoint-independent mapping, what test-plans uses: "cone");
# `fully-random` takes a new port per connection (a symmetric NAT, where
# hole punching must fail). Unsolicited inbound packets are either dropped
# by a filter ("drop": forgiving timing) or answered by the router's own
# stack, RST for TCP, as the test-plans router does ("reply": the two
# SYNs must cross within about RTT/4).

NETNS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NETNS_ALL=()          # namespaces this run made (torn down in reverse)
NETNS_NAME=netns
NETNS_KEEP_VAR=NETNS_KEEP
NETNS_WORK=
NETNS_QUEUE=7         # NFQUEUE number used in each namespace (per-namespace)

# netns_skip WHY: the test cannot run here.
netns_skip() {
  echo "SKIP: $NETNS_NAME: $*"
  exit 77
}

# netns_need CMD HINT: skip unless CMD exists.
netns_need() {
  command -v "$1" >/dev/null || netns_skip "'$1' is not available ($2)"
}

# netns_init NAME PREFIX [KEEP_VAR]: NAME for messages, PREFIX for the
# work directory /tmp/PREFIX.XXXXXX; KEEP_VAR names the environment
# variable that keeps the work directory (default NETNS_KEEP).
netns_init() {
  NETNS_NAME=$1
  NETNS_KEEP_VAR=${3:-NETNS_KEEP}
  [[ $(id -u) -eq 0 ]] || netns_skip "needs root to create network namespaces"
  command -v ip >/dev/null && ip netns list >/dev/null 2>&1 ||
    netns_skip "'ip netns' is not available (install iproute2)"
  NETNS_WORK=$(mktemp -d "/tmp/$2.XXXXXX") || { echo "FAIL: mktemp"; exit 1; }
  trap 'netns_teardown; netns_cleanup_work' EXIT
  trap 'exit 1' INT TERM
}

netns_cleanup_work() {
  [[ -n $NETNS_WORK && -d $NETNS_WORK ]] || return 0
  if [[ -n "${!NETNS_KEEP_VAR:-}" ]]; then echo "outputs kept in $NETNS_WORK"; else rm -rf "$NETNS_WORK"; fi
}

# netns_teardown: kill every process left in our namespaces, delete them
# (a namespace with a live process would survive `ip netns del`).
# Idempotent; set-up calls it first. Waits only for the processes it
# killed (a script sourcing this file may have other children running,
# such as bench/run.sh's loopback servers).
netns_teardown() {
  local ns p i killed=()
  for ((i = ${#NETNS_ALL[@]} - 1; i >= 0; i--)); do
    ns=${NETNS_ALL[i]}
    [[ -e /run/netns/$ns ]] || continue
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null && killed+=("$p"); done
  done
  for ((i = ${#NETNS_ALL[@]} - 1; i >= 0; i--)); do
    ns=${NETNS_ALL[i]}
    [[ -e /run/netns/$ns ]] && ip netns del "$ns" 2>/dev/null
  done
  NETNS_ALL=()
  local n fd
  for n in "${!NETNS_FD[@]}"; do
    fd=${NETNS_FD[$n]}
    exec {fd}>&-
  done
  NETNS_FD=() NETNS_PID=()
  for p in "${killed[@]}"; do wait "$p" 2>/dev/null; done
  return 0
}

# netns_fail MSG: print MSG and the tail of every output and log of the
# work directory (top level), tear down, exit 1.
netns_fail() {
  echo "FAIL: $*"
  local f
  for f in "$NETNS_WORK"/*.out "$NETNS_WORK"/*.log; do
    [[ -f $f ]] || continue
    echo "---- $(basename "$f") (last ${NETNS_FAIL_LINES:-40} lines)"
    tail -n "${NETNS_FAIL_LINES:-40}" "$f"
  done
  trap - EXIT
  netns_teardown
  netns_cleanup_work
  exit 1
}

nsx() { ip netns exec "$@"; }

# netns_new NS [ipv6]: a namespace with lo up and rp_filter off (new ones
# inherit the machine's value); IPv6 off unless asked for (then without
# duplicate address detection, so addresses are usable at once).
netns_new() {
  ip netns add "$1" || return 1
  NETNS_ALL+=("$1")
  ip -n "$1" link set lo up
  nsx "$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 2>/dev/null
  if [[ ${2:-} == ipv6 ]]; then
    nsx "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 2>/dev/null
  else
    nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
  fi
  return 0
}

# netns_veth NS1 IF1 NS2 IF2: a veth pair, both ends up.
netns_veth() {
  local a="t$RANDOM$RANDOM" b="u$RANDOM$RANDOM"
  ip -n "$1" link add "$a" type veth peer name "$b" netns "$3" || return 1
  ip -n "$1" link set "$a" name "$2" || return 1
  ip -n "$3" link set "$b" name "$4" || return 1
  ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

# netns_bridge NS: a bridge br0 in NS (STP, multicast snooping and bridge
# netfilter off: br_netfilter is built in, and bridged packets would
# otherwise traverse iptables rules).
netns_bridge() {
  ip -n "$1" link add br0 type bridge || return 1
  ip -n "$1" link set br0 type bridge stp_state 0 mcast_snooping 0 2>/dev/null
  nsx "$1" sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 \
    net.bridge.bridge-nf-call-arptables=0 2>/dev/null
  ip -n "$1" link set br0 up
}

# netns_host BRIDGE-NS NS ADDR [BRIDGE]: a new namespace NS with one link
# eth0, ADDR/24, to BRIDGE (default br0) in BRIDGE-NS (its port there:
# "p" + NS up to the first "-").
netns_host() {
  local port="p${2%%-*}"
  netns_new "$2" || return 1
  netns_veth "$1" "$port" "$2" eth0 || return 1
  ip -n "$1" link set "$port" master "${4:-br0}" || return 1
  ip -n "$2" addr add "$3/24" dev eth0
}

# netns_shape NS DEV MBIT: DEV in NS sends at most MBIT Mbit/s (a token
# bucket: tbf works on veth devices here, netem does not). Burst 64 KiB
# (a GSO packet; above it tbf segments them), at most 20 ms queued.
netns_shape() {
  tc -n "$1" qdisc replace dev "$2" root tbf rate "${3}mbit" burst 64kb latency 20ms
}

# netns_reaches NS ADDR: a TCP SYN from NS to ADDR port 9 gets an answer
# within a second (a refusal counts: the host is reachable).
netns_reaches() {
  local out
  out=$(nsx "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1)
  [[ $? -eq 0 || $out == *"refused"* ]]
}

# netns_wait_reach NS ADDR [TRIES]: links drop packets for a while after
# they come up; wait until ADDR answers (TRIES x 0.1 s, default 50).
netns_wait_reach() {
  local i
  for ((i = 0; i < ${3:-50}; i++)); do
    netns_reaches "$1" "$2" && return 0
    sleep 0.1
  done
  return 1
}

# ---- the hole-punch lab ----------------------------------------------------------------

# netns_lab_names [PREFIX]: the lab's namespace names, unique per run.
netns_lab_names() {
  local p=${1:-hp} id=$$
  NI=${p}i-$id NR=${p}r-$id N1=${p}n1-$id N2=${p}n2-$id NA=${p}a-$id NB=${p}b-$id
}

# netns_router NS WAN-ADDR LAN-NET HOST-NS NAT FILTER [ipv6]: NAT router NS
# on the internet bridge with WAN-ADDR/24, a LAN LAN-NET.0/24 (LAN-NET like
# 198.19.1) with one host HOST-NS at LAN-NET.2. NAT: cone|symmetric;
# FILTER: drop|reply (see the top of this file).
netns_router() {
  local ns=$1 wan=$2 net=$3 host=$4 nat=$5 filter=$6 v6=${7:-} flags=""
  [[ $nat == symmetric ]] && flags="fully-random"
  netns_new "$ns" || return 1
  nsx "$ns" sysctl -qw net.ipv4.ip_forward=1 || return 1
  netns_veth "$NI" "p${ns%%-*}" "$ns" wan || return 1
  ip -n "$NI" link set "p${ns%%-*}" master br0 || return 1
  ip -n "$ns" addr add "$wan/24" dev wan || return 1
  netns_new "$host" "$v6" || return 1
  netns_veth "$ns" lan "$host" eth0 || return 1
  ip -n "$ns" addr add "$net.1/24" dev lan || return 1
  ip -n "$host" addr add "$net.2/24" dev eth0 || return 1
  ip -n "$host" route add default via "$net.1" || return 1
  nsx "$ns" nft -f - <<EOF || return 1
table ip nat {
  chain postrouting_nat {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ip saddr $net.0/24 snat to $wan $flags
  }
}
EOF
  [[ $filter == reply ]] && return 0
  nsx "$ns" nft -f - <<EOF || return 1
table ip filter {
  chain forward_filter {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" accept
  }
  chain input_filter {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }
}
EOF
}

# netns_lab NAT FILTER [ipv6]: tear down, then build the lab (names from
# netns_lab_names) and wait until A and B reach the relay's address. With
# ipv6, A and B (only) keep IPv6 (loopback and link-local addresses: what
# a program listening on /ip6/:: needs). Checks that A has no way to B
# but through the NATs.
netns_lab() {
  local nat=$1 filter=$2 v6=${3:-}
  netns_teardown
  [[ -n ${NI:-} ]] || netns_lab_names
  netns_new "$NI" || return 1
  netns_bridge "$NI" || return 1
  netns_host "$NI" "$NR" 198.18.0.1 || return 1
  netns_router "$N1" 198.18.0.2 198.19.1 "$NA" "$nat" "$filter" "$v6" || return 1
  netns_router "$N2" 198.18.0.3 198.19.2 "$NB" "$nat" "$filter" "$v6" || return 1
  netns_wait_reach "$NA" 198.18.0.1 && netns_wait_reach "$NB" 198.18.0.1 || return 1
  # No way from A to B's LAN; to B's router only when it answers itself.
  netns_reaches "$NA" 198.19.2.2 && return 1
  if [[ $filter == drop ]] && netns_reaches "$NA" 198.18.0.3; then return 1; fi
  return 0
}

# netns_delay NS MS: every packet entering NS waits MS milliseconds before
# conntrack and routing see it (an iptables NFQUEUE rule in the raw table
# and nfqueue_delay.py: there is no netem on these machines). In a router
# this adds MS per crossing, as test-plans' routers do; in the relay's
# namespace, MS per packet it receives. Needs iptables and python3
# (netns_need them first). Output in $NETNS_WORK/nfq-NS.log.
netns_delay() {
  local ns=$1 ms=$2 log="$NETNS_WORK/nfq-$1.log" i
  nsx "$ns" iptables -t raw -I PREROUTING -j NFQUEUE --queue-num "$NETNS_QUEUE" || return 1
  ip netns exec "$ns" python3 "$NETNS_LIB_DIR/nfqueue_delay.py" "$NETNS_QUEUE" "$ms" >"$log" 2>&1 &
  for ((i = 0; i < 50; i++)); do
    grep -q "^nfqueue_delay: queue" "$log" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# netns_lab_delays ROUTER-MS RELAY-MS: test-plans' delays (100 and 25).
netns_lab_delays() {
  local ns
  for ns in "$N1" "$N2"; do netns_delay "$ns" "$1" || return 1; done
  if (($2 > 0)); then netns_delay "$NR" "$2" || return 1; fi
  return 0
}

# ---- p2pchat in namespaces -------------------------------------------------------------
#
# chat_start NS NAME ARGS...   run $NETNS_CHAT (the p2pchat binary) with ARGS in
#                              NS: its own $HOME (so its own identity), stdin a
#                              FIFO kept open (lines and /commands go in with
#                              chat_say), stdout NAME.out, stderr NAME.log, log
#                              levels $NETNS_CHAT_LOG (P2P_LOG).
# chat_say NAME LINE           type LINE into NAME
# chat_peerid NAME             its PeerId (waits for the start-up lines)
# chat_short PEERID            the chat's short form (8 chars...6 chars)
# chat_wait NAME REGEX SECS [log]  wait for REGEX in NAME.out (or NAME.log)
# chat_ask NAME CMD            the lines NAME prints in answer to CMD
# chat_stop NAME...            SIGTERM; fails unless all exit 0 ($NETNS_BAD names
#                              those that did not; not in $(...): wait needs
#                              the processes to be children of this shell)
declare -gA NETNS_PID=() NETNS_FD=()
NETNS_CHAT=
NETNS_CHAT_LOG=info

chat_start() {
  local ns=$1 name=$2 fifo="$NETNS_WORK/$2.in" fd
  shift 2
  rm -f "$fifo"
  mkfifo "$fifo" || return 1
  exec {fd}<>"$fifo"   # read-write: opening never blocks, and stdin never ends
  NETNS_FD[$name]=$fd
  mkdir -p "$NETNS_WORK/home-$name"
  # $! must be p2pchat itself (ip netns exec execs), not a subshell.
  ip netns exec "$ns" env HOME="$NETNS_WORK/home-$name" XDG_DATA_HOME= XDG_CONFIG_HOME= \
    P2P_LOG="$NETNS_CHAT_LOG" "$NETNS_CHAT" "$@" <"$fifo" >"$NETNS_WORK/$name.out" 2>"$NETNS_WORK/$name.log" &
  NETNS_PID[$name]=$!
}

chat_say() {
  printf '%s\n' "$2" >&"${NETNS_FD[$1]}"
}

chat_peerid() {
  local l i
  for ((i = 0; i < 100; i++)); do
    l=$(grep -m1 '^PeerId: ' "$NETNS_WORK/$1.out" 2>/dev/null) && { echo "${l#PeerId: }"; return 0; }
    kill -0 "${NETNS_PID[$1]}" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

chat_short() {
  echo "${1:0:8}...${1: -6}"
}

chat_wait() {
  local f="$NETNS_WORK/$1.${4:-out}" deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    grep -qE -- "$2" "$f" 2>/dev/null && return 0
    sleep 0.1
  done
  grep -qE -- "$2" "$f" 2>/dev/null
}

# An unknown command as an end marker: the chat answers commands in order.
chat_ask() {
  local mark="/mark-$RANDOM$RANDOM" from
  from=$(($(wc -l <"$NETNS_WORK/$1.out") + 1))
  chat_say "$1" "$2"
  chat_say "$1" "$mark"
  chat_wait "$1" "unknown command $mark" 10 || return 1
  tail -n "+$from" "$NETNS_WORK/$1.out" | awk -v m="unknown command $mark" 'index($0, m) { exit } { print }'
}

chat_stop() {
  local n rc bad="" fd i
  for n in "$@"; do kill -TERM "${NETNS_PID[$n]}" 2>/dev/null; done
  for n in "$@"; do
    # A clean shutdown takes well under a second; 15 s, then it is killed.
    for ((i = 0; i < 150; i++)); do
      kill -0 "${NETNS_PID[$n]}" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "${NETNS_PID[$n]}" 2>/dev/null
    wait "${NETNS_PID[$n]}" 2>/dev/null
    rc=$?
    ((rc == 0)) || bad="$bad $n:$rc"
    unset "NETNS_PID[$n]"
    fd=${NETNS_FD[$n]}
    exec {fd}>&-
    unset "NETNS_FD[$n]"
  done
  NETNS_BAD=$bad
  [[ -z $bad ]]
}

# ---- the shaped star: relayed vs direct on rate-limited links --------------------------
#
#   R (relay) 198.18.0.1 --+
#   A         198.18.0.2 --+-- I: bridge br0 ("internet")
#   B         198.18.0.3 --+
#
# No NAT: A and B reach each other directly, or through the relay. Every
# host's link is limited to the same rate in both directions (tbf on the
# egress of both ends of its veth pair), so that a direct A-B path
# crosses two limits at the rate, and a relayed one four, and the relay's
# link carries the stream in and out (full duplex).

# netns_star MBIT: tear down, then build the star (names from
# netns_lab_names; N1, N2 unused) and wait until A reaches B and R, and B
# reaches R.
netns_star() {
  local ns spec ip
  netns_teardown
  [[ -n ${NI:-} ]] || netns_lab_names
  netns_new "$NI" || return 1
  netns_bridge "$NI" || return 1
  for spec in "$NR 198.18.0.1" "$NA 198.18.0.2" "$NB 198.18.0.3"; do
    read -r ns ip <<<"$spec"
    netns_host "$NI" "$ns" "$ip" || return 1
    netns_shape "$ns" eth0 "$1" || return 1
    netns_shape "$NI" "p${ns%%-*}" "$1" || return 1
  done
  netns_wait_reach "$NA" 198.18.0.3 && netns_wait_reach "$NA" 198.18.0.1 && netns_wait_reach "$NB" 198.18.0.1
}
