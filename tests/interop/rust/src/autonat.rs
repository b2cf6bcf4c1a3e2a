//! The `autonat` subcommand: rust-libp2p's AutoNAT v1 (libp2p-autonat,
//! client and server at once) for tests/interop/check-autonat.sh:
//!
//!   autonat [--port P] [--seed N] [--connect MADDR]... [--timeout S]
//!
//! Listens on /ip4/127.0.0.1/tcp/P, dials every --connect peer, and prints
//! `PEERID`, `LISTEN`, `CONNECTED`, `DISCONNECTED`, `NAT_STATUS
//! public <addr>|private|unknown` on each status change, `INBOUND_PROBE
//! <peer> ok <addr>|error <e>` per request served and `OUTBOUND_PROBE
//! <peer|-> ok <addr>|error <e>` per own probe. Loopback is allowed
//! (only_global_ips = false); the client probes after 1 s and retries
//! every 2 s. With --connect it prints DONE and exits 0 at the first
//! public or private status; otherwise it serves until SIGTERM/SIGINT.
//! `TIMEOUT` (exit 2) after S seconds (default 30).

use std::{io::Write as _, process::ExitCode, time::Duration};

use futures::StreamExt as _;
use libp2p::{autonat, identify, multiaddr::Protocol, ping, swarm::NetworkBehaviour, swarm::SwarmEvent};

use crate::{
    connect_targets, exit_on_signal, parse_opts, strip_p2p,
    tcp_swarm::{identity, tcp_swarm},
    usage_error, Error, IDENTIFY_PROTOCOL_VERSION,
};

#[derive(NetworkBehaviour)]
struct AutonatBehaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    autonat: autonat::Behaviour,
}

pub fn cmd_autonat(args: &[String]) -> Result<ExitCode, Error> {
    let o = parse_opts(args, &["--port", "--seed", "--connect", "--timeout"])?;
    if !o.positional.is_empty() {
        return Err(usage_error("autonat takes no positional arguments"));
    }
    let targets = connect_targets(&o.connect)?;
    let exit_on_status = !targets.is_empty();
    exit_on_signal()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let keypair = identity(o.seed)?;
        let behaviour = AutonatBehaviour {
            identify: identify::Behaviour::new(identify::Config::new(
                IDENTIFY_PROTOCOL_VERSION.to_string(),
                keypair.public(),
            )),
            ping: ping::Behaviour::new(ping::Config::new()),
            autonat: autonat::Behaviour::new(
                keypair.public().to_peer_id(),
                autonat::Config {
                    boot_delay: Duration::from_secs(1),
                    retry_interval: Duration::from_secs(2),
                    refresh_interval: Duration::from_secs(60),
                    throttle_server_period: Duration::from_millis(500),
                    timeout: Duration::from_secs(20),
                    only_global_ips: false,
                    ..Default::default()
                },
            ),
        };
        let mut swarm = tcp_swarm(keypair, behaviour)?;
        let local = *swarm.local_peer_id();
        out!("PEERID {local}");
        swarm.listen_on(format!("/ip4/127.0.0.1/tcp/{}", o.port).parse()?)?;
        for t in targets {
            swarm.dial(t)?;
        }
        let deadline = tokio::time::sleep(o.timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => {
                    out!("TIMEOUT");
                    return Ok(ExitCode::from(2));
                }
                ev = swarm.select_next_some() => match ev {
                    SwarmEvent::NewListenAddr { address, .. } => {
                        out!("LISTEN {}", address.with(Protocol::P2p(local)));
                    }
                    SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                        out!("CONNECTED {peer_id} {}", strip_p2p(endpoint.get_remote_address()));
                    }
                    SwarmEvent::ConnectionClosed { peer_id, .. } => {
                        out!("DISCONNECTED {peer_id}");
                    }
                    SwarmEvent::Behaviour(AutonatBehaviourEvent::Autonat(ev)) => match ev {
                        autonat::Event::StatusChanged { new, .. } => {
                            match &new {
                                autonat::NatStatus::Public(a) => out!("NAT_STATUS public {a}"),
                                autonat::NatStatus::Private => out!("NAT_STATUS private"),
                                autonat::NatStatus::Unknown => out!("NAT_STATUS unknown"),
                            }
                            if exit_on_status && new != autonat::NatStatus::Unknown {
                                out!("DONE");
                                return Ok(ExitCode::SUCCESS);
                            }
                        }
                        autonat::Event::InboundProbe(autonat::InboundProbeEvent::Response {
                            peer, address, ..
                        }) => out!("INBOUND_PROBE {peer} ok {address}"),
                        autonat::Event::InboundProbe(autonat::InboundProbeEvent::Error {
                            peer, error, ..
                        }) => out!("INBOUND_PROBE {peer} error {error:?}"),
                        autonat::Event::OutboundProbe(autonat::OutboundProbeEvent::Response {
                            peer, address, ..
                        }) => out!("OUTBOUND_PROBE {peer} ok {address}"),
                        autonat::Event::OutboundProbe(autonat::OutboundProbeEvent::Error {
                            peer, error, ..
                        }) => out!(
                            "OUTBOUND_PROBE {} error {error:?}",
                            peer.map(|p| p.to_string()).unwrap_or_else(|| "-".to_string())
                        ),
                        _ => {}
                    },
                    _ => {}
                },
            }
        }
    })
}
