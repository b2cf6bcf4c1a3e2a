//! Circuit Relay v2 and DCUtR subcommands of the rust-libp2p test peer
//! (tests/interop/README.md, "Circuit relay" and "DCUtR"):
//!
//!   relay [--seed N] [--port P] [--ip IP] [--unlimited]
//!       a relay server configured like rust-libp2p's examples/relay-server:
//!       behaviours relay (default limits), ping and identify (protocol
//!       version "/TODO/0.0.1"), and every observed address that identify
//!       reports becomes an external address (which is what makes the relay
//!       behaviour serve the hop protocol at all); --unlimited (bench/run.sh's
//!       relayed throughput): circuits of up to u64::MAX bytes and 1 day,
//!       no circuit rate limits;
//!   relay-listen --relay MADDR [--seed N] [--port P] [--ip IP]
//!       `listen`, and reachable through the relay MADDR (/p2p/ included):
//!       connect to it, wait for identify both ways, then listen on
//!       MADDR/p2p-circuit (a reservation); RESERVED once accepted; serves
//!       /perf/1.0.0 too (src/bench.rs);
//!   relay-dial CIRCUIT-MADDR [dial options]
//!       `dial` with the relay client transport;
//!   dcutr --mode listen|dial --relay-address MADDR [--remote-peer-id ID]
//!         [--seed N] [--port P] [--ip IP] [--timeout S]
//!       like rust-libp2p's examples/dcutr: relay client, ping, identify
//!       ("/TODO/0.0.1") and dcutr, listening on IP (default 0.0.0.0); it
//!       dials the relay, waits for identify both ways, makes the observed
//!       address an external one, then listens through the relay or dials
//!       the remote peer through it. Prints the connections (limited or
//!       direct), the DCUtR results and DIRECT once only direct
//!       connections to a peer that had a relayed one are left.

use std::{collections::HashMap, io::Write as _, process::ExitCode, time::Duration};

use futures::StreamExt as _;
use libp2p::{
    core::ConnectedPoint,
    dcutr, identify,
    multiaddr::Protocol,
    noise, ping, relay,
    swarm::{behaviour::toggle::Toggle, ConnectionId, NetworkBehaviour, SwarmEvent},
    tcp, yamux, Multiaddr, PeerId, Swarm, SwarmBuilder,
};
use libp2p_identity::Keypair;

use super::{
    dial_session, echo_server, exit_on_signal, generated_keypair, keypair_from_seed,
    parse_dial_args, parse_opts, print_identified, rss_max_kib, strip_p2p, usage_error, DialEvent,
    Error, IntoDialEvent, IDENTIFY_PROTOCOL_VERSION,
};

/// The identify protocol version of rust-libp2p's relay-server and dcutr
/// examples.
const EXAMPLE_PROTOCOL_VERSION: &str = "/TODO/0.0.1";

/// Remove `--name VALUE` from args and return VALUE (the options that
/// `parse_opts` does not know).
fn take_opt(args: &mut Vec<String>, name: &str) -> Result<Option<String>, Error> {
    let Some(i) = args.iter().position(|a| a == name) else {
        return Ok(None);
    };
    if i + 1 >= args.len() {
        return Err(usage_error(&format!("{name} needs a value")));
    }
    let v = args.remove(i + 1);
    args.remove(i);
    Ok(Some(v))
}

/// Remove the flag `name` from args; whether it was there.
fn take_flag(args: &mut Vec<String>, name: &str) -> bool {
    let before = args.len();
    args.retain(|a| a != name);
    args.len() != before
}

fn keypair(seed: Option<u8>) -> Result<Keypair, Error> {
    match seed {
        Some(s) => keypair_from_seed(s),
        None => generated_keypair(),
    }
}

/// `/ip4/IP/tcp/PORT` or `/ip6/IP/tcp/PORT`.
fn tcp_listen_addr(ip: &str, port: u16) -> Result<Multiaddr, Error> {
    let ip: std::net::IpAddr = ip
        .parse()
        .map_err(|_| usage_error(&format!("bad --ip {ip:?}")))?;
    Ok(Multiaddr::empty().with(ip.into()).with(Protocol::Tcp(port)))
}

/// A relay address: a multiaddr that ends with /p2p/<relay id>.
fn parse_relay(a: &str) -> Result<(Multiaddr, PeerId), Error> {
    let addr: Multiaddr = a
        .parse()
        .map_err(|e| usage_error(&format!("bad relay multiaddr {a:?}: {e}")))?;
    let Some(Protocol::P2p(id)) = addr.iter().last() else {
        return Err(usage_error(
            "the relay multiaddr must end with /p2p/<peer id>",
        ));
    };
    Ok((addr, id))
}

fn is_relayed(a: &Multiaddr) -> bool {
    a.iter().any(|p| p == Protocol::P2pCircuit)
}

/// The address of a connection's remote end for CONNECTED: for a relayed
/// connection, the circuit through the relay (a listener's remote address
/// is only /p2p/<peer>), without the trailing /p2p/<peer>.
fn conn_addr(endpoint: &ConnectedPoint) -> Multiaddr {
    match endpoint {
        ConnectedPoint::Listener { local_addr, .. } if is_relayed(local_addr) => {
            strip_p2p(local_addr)
        }
        e => strip_p2p(e.get_remote_address()),
    }
}

/// A relay limit as "duration=120s data=131072" ("none": not given).
fn limit_str(duration: Option<Duration>, data: Option<u64>) -> String {
    let d = duration.map_or("none".to_string(), |d| format!("{}s", d.as_secs()));
    let b = data.map_or("none".to_string(), |b| b.to_string());
    format!("duration={d} data={b}")
}

/// The LISTEN (not for circuit addresses), CONNECTED and DISCONNECTED
/// lines of relay and relay-listen; false for other events.
fn print_conn_event<T>(ev: &SwarmEvent<T>, local: PeerId) -> bool {
    match ev {
        SwarmEvent::NewListenAddr { address, .. } => {
            if !is_relayed(address) {
                out!("LISTEN {}", address.clone().with(Protocol::P2p(local)));
            }
        }
        SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
            out!("CONNECTED {peer_id} {}", conn_addr(endpoint));
        }
        SwarmEvent::ConnectionClosed { peer_id, .. } => out!("DISCONNECTED {peer_id}"),
        _ => return false,
    }
    true
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

#[derive(NetworkBehaviour)]
struct RelayServer {
    relay: relay::Behaviour,
    ping: ping::Behaviour,
    identify: identify::Behaviour,
}

pub fn cmd_relay(args: &[String]) -> Result<ExitCode, Error> {
    let mut args = args.to_vec();
    let ip = take_opt(&mut args, "--ip")?.unwrap_or_else(|| "127.0.0.1".to_string());
    let unlimited = take_flag(&mut args, "--unlimited");
    let o = parse_opts(&args, &["--seed", "--port"])?;
    if !o.positional.is_empty() {
        return Err(usage_error("relay takes no positional arguments"));
    }
    let mut config = relay::Config::default();
    if unlimited {
        config.max_circuit_bytes = u64::MAX;
        config.max_circuit_duration = Duration::from_secs(24 * 3600);
        config.circuit_src_rate_limiters.clear();
    }
    let listen = tcp_listen_addr(&ip, o.port)?;
    exit_on_signal()?;
    runtime()?.block_on(async move {
        // The example's swarm: TCP, Noise, Yamux with the library's
        // defaults and the default idle-connection timeout.
        let mut swarm = SwarmBuilder::with_existing_identity(keypair(o.seed)?)
            .with_tokio()
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_behaviour(|key| RelayServer {
                relay: relay::Behaviour::new(key.public().to_peer_id(), config),
                ping: ping::Behaviour::new(ping::Config::new()),
                identify: identify::Behaviour::new(identify::Config::new(
                    EXAMPLE_PROTOCOL_VERSION.to_string(),
                    key.public(),
                )),
            })
            .map_err(|e| Error(e.to_string()))?
            .build();
        let local = *swarm.local_peer_id();
        out!("PEERID {local}");
        swarm.listen_on(listen)?;
        loop {
            let ev = swarm.select_next_some().await;
            if print_conn_event(&ev, local) {
                continue;
            }
            match ev {
                SwarmEvent::Behaviour(RelayServerEvent::Identify(identify::Event::Received {
                    peer_id,
                    info,
                    ..
                })) => {
                    print_identified(&peer_id, &info);
                    // As the example: the address a peer sees us at is
                    // taken as our external address.
                    swarm.add_external_address(info.observed_addr);
                }
                SwarmEvent::Behaviour(RelayServerEvent::Relay(ev)) => relay_server_event(ev),
                SwarmEvent::ListenerClosed { reason, .. } => {
                    return Err(Error(format!("listener closed: {reason:?}")));
                }
                _ => {}
            }
        }
    })
}

fn relay_server_event(ev: relay::Event) {
    use relay::Event as E;
    match ev {
        E::ReservationReqAccepted {
            src_peer_id,
            renewed,
        } => {
            out!(
                "RESERVATION {src_peer_id}{}",
                if renewed { " renewed" } else { "" }
            );
        }
        E::ReservationReqDenied {
            src_peer_id,
            status,
        } => {
            out!("RESERVATION_DENIED {src_peer_id} {status:?}");
        }
        E::ReservationTimedOut { src_peer_id } => out!("RESERVATION_EXPIRED {src_peer_id}"),
        E::CircuitReqAccepted {
            src_peer_id,
            dst_peer_id,
        } => {
            out!("CIRCUIT {src_peer_id} {dst_peer_id}");
        }
        E::CircuitReqDenied {
            src_peer_id,
            dst_peer_id,
            status,
        } => {
            out!("CIRCUIT_DENIED {src_peer_id} {dst_peer_id} {status:?}");
        }
        E::CircuitClosed {
            src_peer_id,
            dst_peer_id,
            error,
        } => match error {
            Some(e) => out!("CIRCUIT_CLOSED {src_peer_id} {dst_peer_id} {e}"),
            None => out!("CIRCUIT_CLOSED {src_peer_id} {dst_peer_id}"),
        },
        _ => {}
    }
}

/// The relay client peers: relay-listen and relay-dial (with the echo
/// protocol) and dcutr (as the example: no echo, no stream behaviour).
#[derive(NetworkBehaviour)]
struct Client {
    relay_client: relay::client::Behaviour,
    ping: ping::Behaviour,
    identify: identify::Behaviour,
    dcutr: Toggle<dcutr::Behaviour>,
    stream: Toggle<libp2p_stream::Behaviour>,
    echo: Toggle<crate::stream_server::Behaviour>,
    /// relay-listen serves /perf/1.0.0 too (bench/run.sh's relayed
    /// throughput).
    perf: Toggle<crate::stream_server::Behaviour>,
}

impl IntoDialEvent for ClientEvent {
    fn into_dial_event(self) -> DialEvent {
        match self {
            ClientEvent::Identify(e) => DialEvent::Identify(e),
            ClientEvent::Ping(e) => DialEvent::Ping(e),
            _ => DialEvent::Other,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum ClientKind {
    /// relay-listen: serves echo.
    Listen,
    /// relay-dial: opens echo streams, pings every 100 ms.
    Dial,
    /// dcutr: the example's behaviours and swarm configuration.
    Dcutr,
}

fn client_swarm(seed: Option<u8>, kind: ClientKind) -> Result<Swarm<Client>, Error> {
    let example = kind == ClientKind::Dcutr;
    // Never close a connection for being idle while a test runs (dcutr:
    // the example's default).
    crate::tcp_swarm::tcp_relay_swarm(
        keypair(seed)?,
        |key, relay_client| {
            let mut ping_cfg = ping::Config::new();
            if kind == ClientKind::Dial {
                ping_cfg = ping_cfg.with_interval(Duration::from_millis(100));
            }
            let version = if example {
                EXAMPLE_PROTOCOL_VERSION
            } else {
                IDENTIFY_PROTOCOL_VERSION
            };
            Client {
                relay_client,
                ping: ping::Behaviour::new(ping_cfg),
                identify: identify::Behaviour::new(identify::Config::new(
                    version.to_string(),
                    key.public(),
                )),
                dcutr: Toggle::from(
                    example.then(|| dcutr::Behaviour::new(key.public().to_peer_id())),
                ),
                stream: Toggle::from((!example).then(libp2p_stream::Behaviour::new)),
                echo: Toggle::from((kind == ClientKind::Listen).then(echo_server)),
                perf: Toggle::from((kind == ClientKind::Listen).then(crate::bench::perf_server)),
            }
        },
        !example,
    )
}

/// Connecting to the relay the way the dcutr example does before it uses
/// it: identify in both directions with the relay (so that the relay
/// learned its external address from us, and we ours from it).
#[derive(Default)]
struct RelayIdentify {
    sent: bool,
    received: bool,
    /// The relay's last identify lists hop. rust-libp2p's relay serves hop
    /// only once it has a confirmed external address (from identify), and
    /// then pushes identify again: a reservation sent before that is
    /// refused as "Unsupported".
    hop: bool,
}

impl RelayIdentify {
    fn done(&self) -> bool {
        self.sent && self.received && self.hop
    }

    fn update(&mut self, info: &identify::Info) {
        self.hop = info
            .protocols
            .iter()
            .any(|p| p.as_ref() == "/libp2p/circuit/relay/0.2.0/hop");
    }
}

pub fn cmd_relay_listen(args: &[String]) -> Result<ExitCode, Error> {
    let mut args = args.to_vec();
    let relay =
        take_opt(&mut args, "--relay")?.ok_or_else(|| usage_error("relay-listen needs --relay"))?;
    let ip = take_opt(&mut args, "--ip")?.unwrap_or_else(|| "127.0.0.1".to_string());
    let (relay_addr, relay_id) = parse_relay(&relay)?;
    let o = parse_opts(&args, &["--seed", "--port"])?;
    if !o.positional.is_empty() {
        return Err(usage_error("relay-listen takes no positional arguments"));
    }
    let listen = tcp_listen_addr(&ip, o.port)?;
    exit_on_signal()?;
    runtime()?.block_on(async move {
        let mut swarm = client_swarm(o.seed, ClientKind::Listen)?;
        let local = *swarm.local_peer_id();
        out!("PEERID {local}");
        swarm.listen_on(listen)?;
        swarm.dial(relay_addr.clone())?;
        let circuit = relay_addr.clone().with(Protocol::P2pCircuit);
        let mut with_relay = RelayIdentify::default();
        let mut listening = false;
        loop {
            let ev = swarm.select_next_some().await;
            if print_conn_event(&ev, local) {
                continue;
            }
            match ev {
                SwarmEvent::OutgoingConnectionError {
                    peer_id: Some(p),
                    error,
                    ..
                } if p == relay_id => {
                    out!("ERROR dial failed: {error}");
                    return Ok(ExitCode::from(1));
                }
                SwarmEvent::ListenerClosed {
                    addresses, reason, ..
                } if addresses.iter().any(is_relayed) || listening => {
                    out!("ERROR reservation: {reason:?}");
                    return Ok(ExitCode::from(1));
                }
                SwarmEvent::Behaviour(ClientEvent::Identify(ev)) => match ev {
                    identify::Event::Received { peer_id, info, .. } => {
                        print_identified(&peer_id, &info);
                        if peer_id == relay_id {
                            with_relay.received = true;
                            with_relay.update(&info);
                        }
                    }
                    identify::Event::Sent { peer_id, .. } => with_relay.sent |= peer_id == relay_id,
                    _ => {}
                },
                SwarmEvent::Behaviour(ClientEvent::RelayClient(ev)) => match ev {
                    relay::client::Event::ReservationReqAccepted { renewal, limit, .. } => {
                        if !renewal {
                            let (d, b) =
                                limit.map_or((None, None), |l| (l.duration(), l.data_in_bytes()));
                            out!(
                                "RESERVED {} limit {}",
                                circuit.clone().with(Protocol::P2p(local)),
                                limit_str(d, b)
                            );
                        }
                    }
                    relay::client::Event::InboundCircuitEstablished { src_peer_id, limit } => {
                        let (d, b) =
                            limit.map_or((None, None), |l| (l.duration(), l.data_in_bytes()));
                        out!("CIRCUIT_IN {src_peer_id} limit {}", limit_str(d, b));
                    }
                    _ => {}
                },
                _ => {}
            }
            if with_relay.done() && !listening {
                listening = true;
                swarm.listen_on(circuit.clone())?;
            }
        }
    })
}

pub fn cmd_relay_dial(args: &[String]) -> Result<ExitCode, Error> {
    let (o, addr, target) = parse_dial_args(args)?;
    if !is_relayed(&addr) {
        return Err(usage_error("relay-dial needs a /p2p-circuit/ multiaddr"));
    }
    runtime()?.block_on(async move {
        let mut swarm = client_swarm(o.seed, ClientKind::Dial)?;
        let control = match swarm.behaviour_mut().stream.as_mut() {
            Some(s) => s.new_control(),
            None => return Err(Error("no stream behaviour".to_string())),
        };
        dial_session(swarm, control, addr, target, &o).await
    })
}

/// dcutr: which connections each peer has, to print DIRECT once a peer that
/// had a relayed connection has only direct ones.
#[derive(Default)]
struct Conns {
    /// peer, relayed, remote address
    by_id: HashMap<ConnectionId, (PeerId, bool, Multiaddr)>,
    had_relayed: HashMap<PeerId, std::time::Instant>,
}

impl Conns {
    /// For a peer that had a relayed connection and now has only direct
    /// ones: the address of one of them.
    fn direct_now(&self, peer: &PeerId) -> Option<Multiaddr> {
        let mut direct = None;
        for (p, relayed, addr) in self.by_id.values() {
            if p == peer {
                if *relayed {
                    return None;
                }
                direct = Some(addr.clone());
            }
        }
        direct.filter(|_| self.had_relayed.contains_key(peer))
    }
}

fn limited(relayed: bool) -> &'static str {
    if relayed {
        "limited"
    } else {
        "direct"
    }
}

pub fn cmd_dcutr(args: &[String]) -> Result<ExitCode, Error> {
    let mut args = args.to_vec();
    let mode = take_opt(&mut args, "--mode")?
        .ok_or_else(|| usage_error("dcutr needs --mode listen|dial"))?;
    let relay = take_opt(&mut args, "--relay-address")?
        .ok_or_else(|| usage_error("dcutr needs --relay-address"))?;
    let remote = take_opt(&mut args, "--remote-peer-id")?;
    let ip = take_opt(&mut args, "--ip")?.unwrap_or_else(|| "0.0.0.0".to_string());
    let (relay_addr, relay_id) = parse_relay(&relay)?;
    let mut o = parse_opts(&args, &["--seed", "--port", "--timeout"])?;
    if !o.positional.is_empty() {
        return Err(usage_error("dcutr takes no positional arguments"));
    }
    if !args.iter().any(|a| a == "--timeout") {
        o.timeout = Duration::from_secs(60); // dcutr's default (dial's is 30 s)
    }
    let remote: Option<PeerId> = match (mode.as_str(), remote) {
        ("listen", None) => None,
        ("dial", Some(r)) => Some(
            r.parse()
                .map_err(|_| usage_error(&format!("bad --remote-peer-id {r:?}")))?,
        ),
        _ => {
            return Err(usage_error(
                "--mode listen, or --mode dial with --remote-peer-id",
            ))
        }
    };
    let listen = tcp_listen_addr(&ip, o.port)?;
    exit_on_signal()?;
    runtime()?.block_on(async move {
        let mut swarm = client_swarm(o.seed, ClientKind::Dcutr)?;
        let local = *swarm.local_peer_id();
        out!("PEERID {local}");
        swarm.listen_on(listen)?;
        let deadline = tokio::time::sleep(o.timeout);
        tokio::pin!(deadline);
        let mut with_relay = RelayIdentify::default();
        let mut started = false;
        let mut conns = Conns::default();
        let t0 = std::time::Instant::now();
        let mut dialed_relay = false;
        loop {
            let ev = tokio::select! {
                _ = &mut deadline => {
                    out!("TIMEOUT");
                    out!("RSS_MAX_KIB {}", rss_max_kib());
                    return Ok(ExitCode::from(2));
                }
                ev = swarm.select_next_some() => ev,
            };
            match ev {
                SwarmEvent::NewListenAddr { address, .. } => {
                    if !is_relayed(&address) {
                        out!("LISTEN {}", address.with(Protocol::P2p(local)));
                    }
                    // The example dials the relay once it listens.
                    if !dialed_relay {
                        dialed_relay = true;
                        swarm.dial(relay_addr.clone())?;
                    }
                }
                SwarmEvent::ConnectionEstablished {
                    peer_id,
                    connection_id,
                    endpoint,
                    ..
                } => {
                    let relayed = endpoint.is_relayed();
                    out!(
                        "CONNECTED {peer_id} {} {} {}",
                        conn_addr(&endpoint),
                        if endpoint.is_dialer() {
                            "outbound"
                        } else {
                            "inbound"
                        },
                        limited(relayed)
                    );
                    conns
                        .by_id
                        .insert(connection_id, (peer_id, relayed, conn_addr(&endpoint)));
                    if relayed {
                        conns
                            .had_relayed
                            .entry(peer_id)
                            .or_insert_with(std::time::Instant::now);
                    }
                }
                SwarmEvent::ConnectionClosed {
                    peer_id,
                    connection_id,
                    endpoint,
                    ..
                } => {
                    out!("DISCONNECTED {peer_id} {}", limited(endpoint.is_relayed()));
                    conns.by_id.remove(&connection_id);
                }
                SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                    out!(
                        "DIAL_FAILED {} {error}",
                        peer_id.map_or("?".to_string(), |p| p.to_string())
                    );
                    if peer_id == Some(relay_id) && !started {
                        return Ok(ExitCode::from(1));
                    }
                }
                SwarmEvent::Behaviour(ClientEvent::Identify(ev)) => match ev {
                    identify::Event::Received { peer_id, info, .. } => {
                        print_identified(&peer_id, &info);
                        if peer_id == relay_id {
                            with_relay.update(&info);
                        }
                        if peer_id == relay_id && !with_relay.received {
                            with_relay.received = true;
                            // As the example: the relay told us our public address.
                            swarm.add_external_address(info.observed_addr);
                        }
                    }
                    identify::Event::Sent { peer_id, .. } => with_relay.sent |= peer_id == relay_id,
                    _ => {}
                },
                SwarmEvent::Behaviour(ClientEvent::RelayClient(
                    relay::client::Event::ReservationReqAccepted { renewal: false, .. },
                )) => {
                    out!(
                        "RESERVED {}",
                        relay_addr
                            .clone()
                            .with(Protocol::P2pCircuit)
                            .with(Protocol::P2p(local))
                    );
                }
                SwarmEvent::Behaviour(ClientEvent::Dcutr(dcutr::Event {
                    remote_peer_id,
                    result,
                })) => match result {
                    Ok(_) => out!("DCUTR ok {remote_peer_id}"),
                    Err(e) => out!("DCUTR FAIL {remote_peer_id} {e}"),
                },
                _ => {}
            }
            if with_relay.done() && !started {
                started = true;
                match &remote {
                    None => {
                        swarm.listen_on(relay_addr.clone().with(Protocol::P2pCircuit))?;
                    }
                    Some(r) => {
                        swarm.dial(
                            relay_addr
                                .clone()
                                .with(Protocol::P2pCircuit)
                                .with(Protocol::P2p(*r)),
                        )?;
                    }
                }
            }
            let peers: Vec<PeerId> = conns.had_relayed.keys().copied().collect();
            for p in peers {
                if let Some(addr) = conns.direct_now(&p) {
                    let since = conns.had_relayed.remove(&p).unwrap_or(t0);
                    out!("DIRECT {p} {addr} {}", since.elapsed().as_millis());
                }
            }
        }
    })
}
