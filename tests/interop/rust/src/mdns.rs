//! The `mdns` subcommand: rust-libp2p's mDNS discovery (libp2p-mdns, tokio)
//! for the namespace test plugins/mdns/tests/mdns-netns.sh:
//!
//!   mdns [--seed N] [--timeout S]
//!
//! Listens on /ip4/0.0.0.0/tcp/0, prints `PEERID <id>` and `LISTEN <addr>`
//! lines, then `DISCOVERED <id> <addr,...>` for every peer mDNS reports
//! (and dials it) and `CONNECTED <id> <remote addr>` per connection. The
//! library's defaults but for the query interval: 2 s (default 5 min), as
//! the test's other peers. Exits 0 on SIGTERM/SIGINT, 2 (`TIMEOUT`) after
//! S seconds (default 60).

use std::{collections::HashMap, io::Write as _, process::ExitCode, time::Duration};

use futures::StreamExt as _;
use libp2p::{
    identify, mdns,
    multiaddr::Protocol,
    swarm::{dial_opts::DialOpts, NetworkBehaviour, SwarmEvent},
    Multiaddr, PeerId,
};

use crate::{
    exit_on_signal, parse_seed, strip_p2p,
    tcp_swarm::{identity, tcp_swarm},
    usage_error, Error, IDENTIFY_PROTOCOL_VERSION,
};

#[derive(NetworkBehaviour)]
struct MdnsBehaviour {
    identify: identify::Behaviour,
    mdns: mdns::tokio::Behaviour,
}

pub fn cmd_mdns(args: &[String]) -> Result<ExitCode, Error> {
    let mut seed = None;
    let mut timeout = Duration::from_secs(60);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it
            .next()
            .ok_or_else(|| usage_error(&format!("{a} needs a value")))?;
        match a.as_str() {
            "--seed" => seed = Some(parse_seed(Some(v))?),
            "--timeout" => {
                let s: f64 = v
                    .parse()
                    .map_err(|_| usage_error(&format!("bad value for {a}: {v:?}")))?;
                if !(s > 0.0 && s < 1e6) {
                    return Err(usage_error(&format!("bad value for {a}: {v:?}")));
                }
                timeout = Duration::from_secs_f64(s);
            }
            _ => return Err(usage_error(&format!("unknown option {a}"))),
        }
    }
    exit_on_signal()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let keypair = identity(seed)?;
        let cfg = mdns::Config {
            query_interval: Duration::from_secs(2),
            ..Default::default()
        };
        let behaviour = MdnsBehaviour {
            identify: identify::Behaviour::new(identify::Config::new(
                IDENTIFY_PROTOCOL_VERSION.to_string(),
                keypair.public(),
            )),
            mdns: mdns::tokio::Behaviour::new(cfg, keypair.public().to_peer_id())?,
        };
        let mut swarm = tcp_swarm(keypair, behaviour)?;
        let local = *swarm.local_peer_id();
        out!("PEERID {local}");
        swarm.listen_on("/ip4/0.0.0.0/tcp/0".parse()?)?;
        let deadline = tokio::time::sleep(timeout);
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
                    SwarmEvent::Behaviour(MdnsBehaviourEvent::Mdns(mdns::Event::Discovered(list))) => {
                        // one line per peer, its addresses together
                        let mut found: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
                        for (peer, addr) in list {
                            found.entry(peer).or_default().push(addr);
                        }
                        for (peer, addrs) in found {
                            let text: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
                            out!("DISCOVERED {peer} {}", text.join(","));
                            if !swarm.is_connected(&peer) {
                                let opts = DialOpts::peer_id(peer).addresses(addrs).build();
                                if let Err(e) = swarm.dial(opts) {
                                    out!("DIAL_FAILED {peer} {e}");
                                }
                            }
                        }
                    }
                    _ => {}
                },
            }
        }
    })
}
