//! The benchmark subcommands of bench/run.sh (the contract, the same for
//! the go, js and C peers, is in bench/README.md), and the /perf/1.0.0
//! peer of the interop.perf tests:
//!
//!   perf-server [--port P]
//!       listen on /ip4/127.0.0.1/tcp/P; serve /perf/1.0.0, identify and
//!       ping; print `LISTEN <multiaddr>/p2p/<id>`; run until killed.
//!   perf <multiaddr/p2p/ID> [--upload B] [--download B]
//!       dial, run one /perf/1.0.0 exchange, print one JSON line
//!       {"type":"final","timeSeconds":..,"uploadBytes":..,"downloadBytes":..}
//!       (exit 1 when fewer bytes than asked came back); a /p2p-circuit
//!       address is dialed through the relay it names.
//!   handshakes <multiaddr/p2p/ID> [--count N]
//!       N sequential connections: dial, Noise, Yamux, wait for the
//!       server's identify, close, wait until closed; print
//!       {"type":"handshakes","count":N,"timeSeconds":..}
//!   gossip-sub [--expect N] [--idle-ms MS] [--unsigned]
//!   gossip-pub --rate R --count N [--size B] [--unsigned] <multiaddr/p2p/ID>...
//!       gossipsub throughput and latency, the contract of cbench_gossip.c
//!       (bench/peers/c): each message starts with its sequence number and
//!       the publisher's CLOCK_MONOTONIC time (8 bytes big-endian each).
//!       Signed messages (MessageAuthenticity::Signed, ValidationMode::
//!       Strict: rust-libp2p's defaults); --unsigned: anonymous messages
//!       (ValidationMode::Anonymous, message ids from the content).
//!       A publish refused with AllQueuesFull is counted as "eagain" and
//!       retried on the next 1 ms tick.
//!
//! Transport: TCP (nodelay) + Noise + Yamux with library defaults
//! (src/tcp_swarm.rs), on tokio's multi-threaded runtime, as rust-libp2p's
//! own perf tool; with BENCH_THREADS=1 on a current-thread runtime.

use std::{
    collections::HashSet,
    hash::{DefaultHasher, Hash as _, Hasher as _},
    io::Write as _,
    process::ExitCode,
    time::{Duration, Instant},
};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::{
    gossipsub, identify,
    multiaddr::Protocol,
    ping, relay,
    swarm::{behaviour::toggle::Toggle, ConnectionId, NetworkBehaviour, SwarmEvent},
    Multiaddr, PeerId, StreamProtocol, Swarm,
};
use libp2p_identity::Keypair;

use crate::{
    stream_server,
    tcp_swarm::{tcp_relay_swarm, tcp_swarm},
    Error, IDENTIFY_PROTOCOL_VERSION,
};

const PERF: StreamProtocol = StreamProtocol::new("/perf/1.0.0");
/// Size of the pieces written and read.
const BUF: usize = 64 * 1024;
const TOPIC: &str = "bench";

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    /// Outbound perf streams (client).
    stream: libp2p_stream::Behaviour,
    /// Inbound perf streams (server).
    perf: Toggle<stream_server::Behaviour>,
    gossipsub: Toggle<gossipsub::Behaviour>,
    /// The relay client transport's behaviour: `perf` to a /p2p-circuit
    /// address (bench/run.sh's relayed throughput).
    relay_client: Toggle<relay::client::Behaviour>,
}

/// The /perf/1.0.0 server behaviour (also served by `relay-listen`).
pub(crate) fn perf_server() -> stream_server::Behaviour {
    stream_server::Behaviour::new(PERF, |s| Box::pin(perf_serve(s)))
}

/// Server side of one perf stream: read the 8-byte big-endian size, drain
/// the upload to EOF, then send that many bytes and close.
async fn perf_serve(mut s: libp2p::Stream) -> std::io::Result<()> {
    let mut hdr = [0u8; 8];
    s.read_exact(&mut hdr).await?;
    let mut left = u64::from_be_bytes(hdr);
    let mut buf = vec![0u8; BUF];
    while s.read(&mut buf).await? != 0 {}
    while left > 0 {
        let k = left.min(BUF as u64) as usize;
        s.write_all(&buf[..k]).await?;
        left -= k as u64;
    }
    s.close().await
}

/// Client side: returns the bytes downloaded.
async fn perf_client(mut s: libp2p::Stream, upload: u64, download: u64) -> Result<u64, Error> {
    s.write_all(&download.to_be_bytes()).await?;
    let buf = vec![0u8; BUF];
    let mut left = upload;
    while left > 0 {
        let k = left.min(BUF as u64) as usize;
        s.write_all(&buf[..k]).await?;
        left -= k as u64;
    }
    s.close().await?;
    let mut rbuf = vec![0u8; BUF];
    let mut got = 0u64;
    loop {
        let n = s.read(&mut rbuf).await?;
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    Ok(got)
}

/// The gossipsub behaviour of the gossip subcommands.
fn gossipsub_behaviour(key: &Keypair, unsigned: bool) -> Result<gossipsub::Behaviour, Error> {
    let mut cfg = gossipsub::ConfigBuilder::default();
    let auth = if unsigned {
        // no author and no seqno: ids from the content (each payload
        // carries its sequence number)
        cfg.validation_mode(gossipsub::ValidationMode::Anonymous)
            .message_id_fn(|m: &gossipsub::Message| {
                let mut h = DefaultHasher::new();
                m.data.hash(&mut h);
                gossipsub::MessageId::from(h.finish().to_be_bytes().to_vec())
            });
        gossipsub::MessageAuthenticity::Anonymous
    } else {
        gossipsub::MessageAuthenticity::Signed(key.clone())
    };
    let cfg = cfg.build().map_err(|e| Error(e.to_string()))?;
    gossipsub::Behaviour::new(auth, cfg).map_err(|e| Error(e.to_string()))
}

fn behaviour(key: &Keypair, serve_perf: bool, gossip: Option<bool>) -> Result<Behaviour, Error> {
    Ok(Behaviour {
        identify: identify::Behaviour::new(identify::Config::new(
            IDENTIFY_PROTOCOL_VERSION.to_string(),
            key.public(),
        )),
        ping: ping::Behaviour::new(ping::Config::new()),
        stream: libp2p_stream::Behaviour::new(),
        perf: Toggle::from(serve_perf.then(perf_server)),
        gossipsub: Toggle::from(gossip.map(|u| gossipsub_behaviour(key, u)).transpose()?),
        relay_client: Toggle::from(None),
    })
}

fn new_swarm(serve_perf: bool, gossip: Option<bool>) -> Result<Swarm<Behaviour>, Error> {
    let key = Keypair::generate_ed25519();
    let b = behaviour(&key, serve_perf, gossip)?;
    tcp_swarm(key, b)
}

/// A perf client's swarm that can also dial /p2p-circuit addresses.
fn relay_client_swarm() -> Result<Swarm<Behaviour>, Error> {
    let key = Keypair::generate_ed25519();
    let mut b = behaviour(&key, false, None)?;
    tcp_relay_swarm(
        key,
        move |_, relay_client| {
            b.relay_client = Toggle::from(Some(relay_client));
            b
        },
        true,
    )
}

struct Opts {
    positional: Vec<String>,
    port: u16,
    upload: u64,
    download: u64,
    count: u64,
    rate: u64,
    size: usize,
    expect: u64,
    idle_ms: u64,
    unsigned: bool,
}

fn parse_opts(args: &[String]) -> Result<Opts, Error> {
    let mut o = Opts {
        positional: vec![],
        port: 0,
        upload: 0,
        download: 0,
        count: 100,
        rate: 0,
        size: 1024,
        expect: 10000,
        idle_ms: 3000,
        unsigned: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if !a.starts_with("--") {
            o.positional.push(a.clone());
            continue;
        }
        if a == "--unsigned" {
            o.unsigned = true;
            continue;
        }
        let v = it
            .next()
            .ok_or_else(|| Error(format!("{a} needs a value")))?;
        let bad = || Error(format!("bad value for {a}: {v:?}"));
        match a.as_str() {
            "--port" => o.port = v.parse().map_err(|_| bad())?,
            "--upload" => o.upload = v.parse().map_err(|_| bad())?,
            "--download" => o.download = v.parse().map_err(|_| bad())?,
            "--count" => o.count = v.parse().map_err(|_| bad())?,
            "--rate" => o.rate = v.parse().map_err(|_| bad())?,
            "--size" => {
                o.size = v
                    .parse()
                    .ok()
                    .filter(|s| (16..=1 << 20).contains(s))
                    .ok_or_else(bad)?
            }
            "--expect" => {
                o.expect = v
                    .parse()
                    .ok()
                    .filter(|&n| n > 0 && n <= 100_000_000)
                    .ok_or_else(bad)?
            }
            "--idle-ms" => o.idle_ms = v.parse().ok().filter(|&n| n <= 600_000).ok_or_else(bad)?,
            _ => return Err(Error(format!("unknown option {a}"))),
        }
    }
    Ok(o)
}

fn parse_target(a: &str) -> Result<(Multiaddr, PeerId), Error> {
    let addr: Multiaddr = a.parse()?;
    let Some(Protocol::P2p(peer)) = addr.iter().last() else {
        return Err(Error("the multiaddr must end with /p2p/<peer id>".into()));
    };
    Ok((addr, peer))
}

fn target(o: &Opts) -> Result<(Multiaddr, PeerId), Error> {
    let [addr] = o.positional.as_slice() else {
        return Err(Error("exactly one multiaddr expected".into()));
    };
    parse_target(addr)
}

/// Listen on 127.0.0.1 and print `LISTEN <addr>/p2p/<id>` for the first
/// listen address.
async fn listen(swarm: &mut Swarm<Behaviour>, port: u16) -> Result<(), Error> {
    let local = *swarm.local_peer_id();
    swarm.listen_on(format!("/ip4/127.0.0.1/tcp/{port}").parse()?)?;
    loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            out!("LISTEN {}", address.with(Protocol::P2p(local)));
            return Ok(());
        }
    }
}

async fn cmd_perf_server(o: Opts) -> Result<ExitCode, Error> {
    let mut swarm = new_swarm(true, None)?;
    listen(&mut swarm, o.port).await?;
    loop {
        swarm.select_next_some().await;
    }
}

async fn wait_connected(swarm: &mut Swarm<Behaviour>, peer: PeerId) -> Result<ConnectionId, Error> {
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                ..
            } if peer_id == peer => return Ok(connection_id),
            SwarmEvent::OutgoingConnectionError { error, .. } => {
                return Err(Error(format!("dial failed: {error}")))
            }
            _ => {}
        }
    }
}

async fn perf(o: Opts) -> Result<ExitCode, Error> {
    let (addr, peer) = target(&o)?;
    let mut swarm = if addr.iter().any(|p| p == Protocol::P2pCircuit) {
        relay_client_swarm()?
    } else {
        new_swarm(false, None)?
    };
    let mut control = swarm.behaviour().stream.new_control();
    swarm.dial(addr)?;
    wait_connected(&mut swarm, peer).await?;
    let (upload, download) = (o.upload, o.download);
    let task = tokio::spawn(async move {
        let t0 = Instant::now();
        let s = control
            .open_stream(peer, PERF)
            .await
            .map_err(|e| Error(e.to_string()))?;
        let got = perf_client(s, upload, download).await?;
        Ok::<_, Error>((t0.elapsed(), got))
    });
    tokio::pin!(task);
    let (elapsed, got) = loop {
        tokio::select! {
            r = &mut task => break r.map_err(|e| Error(e.to_string()))??,
            ev = swarm.select_next_some() => {
                if let SwarmEvent::ConnectionClosed { cause, .. } = ev {
                    return Err(Error(format!("connection closed: {cause:?}")));
                }
            }
        }
    };
    if got != download {
        return Err(Error(format!(
            "downloaded {got} bytes, asked for {download}"
        )));
    }
    out!(
        "{{\"type\":\"final\",\"timeSeconds\":{:.6},\"uploadBytes\":{},\"downloadBytes\":{}}}",
        elapsed.as_secs_f64(),
        upload,
        got
    );
    Ok(ExitCode::SUCCESS)
}

async fn handshakes(o: Opts) -> Result<ExitCode, Error> {
    let (addr, peer) = target(&o)?;
    let mut swarm = new_swarm(false, None)?;
    let t0 = Instant::now();
    for _ in 0..o.count {
        swarm.dial(addr.clone())?;
        let conn = wait_connected(&mut swarm, peer).await?;
        // Identify (the server's answer) on this connection.
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                    connection_id,
                    ..
                })) if connection_id == conn => break,
                SwarmEvent::ConnectionClosed {
                    connection_id,
                    cause,
                    ..
                } if connection_id == conn => {
                    return Err(Error(format!(
                        "connection closed before identify: {cause:?}"
                    )))
                }
                _ => {}
            }
        }
        swarm.close_connection(conn);
        loop {
            if let SwarmEvent::ConnectionClosed { connection_id, .. } =
                swarm.select_next_some().await
            {
                if connection_id == conn {
                    break;
                }
            }
        }
    }
    out!(
        "{{\"type\":\"handshakes\",\"count\":{},\"timeSeconds\":{:.6}}}",
        o.count,
        t0.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// CLOCK_MONOTONIC in nanoseconds: the clock of every bench process (the C
/// peer's uv_hrtime), so that latencies compare across processes.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The subscriber's result line, as cbench_gossip.c prints it.
fn gossip_sub_report(lat_us: &mut [u32], dups: u64, first_ns: u64, last_ns: u64) {
    lat_us.sort_unstable();
    let n = lat_us.len();
    let pct = |p: f64| {
        if n == 0 {
            0
        } else {
            lat_us[((n - 1) as f64 * p / 100.0 + 0.5) as usize]
        }
    };
    let cdf: Vec<String> = (0..=100).map(|p| pct(p as f64).to_string()).collect();
    out!(
        "{{\"type\":\"gossip-sub\",\"received\":{n},\"duplicates\":{dups},\"firstNs\":{first_ns},\
\"lastNs\":{last_ns},\"p50Us\":{},\"p99Us\":{},\"maxUs\":{},\"cdfUs\":[{}]}}",
        pct(50.0),
        pct(99.0),
        pct(100.0),
        cdf.join(",")
    );
}

/// A swarm with gossipsub, subscribed to the bench topic.
fn gossip_swarm(unsigned: bool) -> Result<(Swarm<Behaviour>, gossipsub::IdentTopic), Error> {
    let mut swarm = new_swarm(false, Some(unsigned))?;
    let topic = gossipsub::IdentTopic::new(TOPIC);
    swarm
        .behaviour_mut()
        .gossipsub
        .as_mut()
        .expect("gossipsub on")
        .subscribe(&topic)
        .map_err(|e| Error(e.to_string()))?;
    Ok((swarm, topic))
}

async fn gossip_sub(o: Opts) -> Result<ExitCode, Error> {
    let (mut swarm, _) = gossip_swarm(o.unsigned)?;
    listen(&mut swarm, o.port).await?;
    let mut seen = vec![false; o.expect as usize];
    let mut lat_us: Vec<u32> = Vec::with_capacity(o.expect as usize);
    let (mut dups, mut first_ns, mut final_ns) = (0u64, 0u64, 0u64);
    // before the first message: 30 s, then idle-ms after the last one
    let mut deadline = Instant::now() + Duration::from_secs(30);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tick.tick() => if Instant::now() > deadline { break },
            ev = swarm.select_next_some() => {
                let SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message { message, .. })) = ev
                else { continue };
                let now = monotonic_ns();
                let d = &message.data;
                if d.len() < 16 {
                    continue;
                }
                deadline = Instant::now() + Duration::from_millis(o.idle_ms);
                let seq = u64::from_be_bytes(d[..8].try_into().expect("8 bytes"));
                let t = u64::from_be_bytes(d[8..16].try_into().expect("8 bytes"));
                if seq >= o.expect || seen[seq as usize] {
                    dups += 1;
                    continue;
                }
                seen[seq as usize] = true;
                if first_ns == 0 {
                    first_ns = now;
                }
                final_ns = now;
                lat_us.push(now.saturating_sub(t).div_euclid(1000) as u32);
                if lat_us.len() as u64 == o.expect {
                    break;
                }
            }
        }
    }
    gossip_sub_report(&mut lat_us, dups, first_ns, final_ns);
    Ok(ExitCode::SUCCESS)
}

async fn gossip_pub(o: Opts) -> Result<ExitCode, Error> {
    if o.positional.is_empty() {
        return Err(Error("no subscriber address".into()));
    }
    let targets = o
        .positional
        .iter()
        .map(|a| parse_target(a))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut swarm, topic) = gossip_swarm(o.unsigned)?;
    let hash = topic.hash();
    for (addr, _) in &targets {
        swarm.dial(addr.clone())?;
    }
    let want: HashSet<PeerId> = targets.iter().map(|(_, p)| *p).collect();
    let mut buf = vec![0u8; o.size];
    let (mut sent, mut eagain) = (0u64, 0u64);
    let mut t0: Option<(Instant, u64)> = None;
    let joined_by = Instant::now() + Duration::from_secs(30);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut done = false;
    loop {
        tokio::select! {
            ev = swarm.select_next_some() => {
                if let SwarmEvent::OutgoingConnectionError { error, .. } = ev {
                    return Err(Error(format!("connect: {error}")));
                }
            }
            _ = tick.tick(), if !done => {
                let gs = swarm.behaviour_mut().gossipsub.as_mut().expect("gossipsub on");
                let Some((start, start_ns)) = t0 else {
                    let joined: HashSet<PeerId> =
                        gs.all_peers().filter(|(_, t)| t.contains(&&hash)).map(|(p, _)| *p).collect();
                    if want.is_subset(&joined) {
                        t0 = Some((Instant::now(), monotonic_ns()));
                    } else if Instant::now() > joined_by {
                        return Err(Error("the subscribers did not join within 30 s".into()));
                    }
                    continue;
                };
                let due = if o.rate == 0 {
                    o.count
                } else {
                    (start.elapsed().as_nanos() as u64 * o.rate / 1_000_000_000 + 1).min(o.count)
                };
                while sent < due {
                    buf[..8].copy_from_slice(&sent.to_be_bytes());
                    buf[8..16].copy_from_slice(&monotonic_ns().to_be_bytes());
                    match gs.publish(topic.clone(), buf.clone()) {
                        Ok(_) => sent += 1,
                        Err(gossipsub::PublishError::AllQueuesFull(_)) => {
                            eagain += 1;
                            break; // back-pressure: retry on the next tick
                        }
                        Err(e) => return Err(Error(format!("publish {sent}: {e}"))),
                    }
                }
                if sent == o.count {
                    out!(
                        "{{\"type\":\"gossip-pub\",\"sent\":{sent},\"timeSeconds\":{:.6},\"eagain\":{eagain},\
        \"size\":{},\"startNs\":{start_ns}}}",
                        start.elapsed().as_secs_f64(),
                        o.size
                    );
                    done = true; // hold the connections until killed
                }
            }
        }
    }
}

/// Runs a bench subcommand: `cmd` is one of perf-server, perf, handshakes,
/// gossip-sub, gossip-pub.
pub fn cmd_bench(cmd: &str, args: &[String]) -> Result<ExitCode, Error> {
    let o = parse_opts(args)?;
    // BENCH_THREADS=1: a current-thread runtime (one thread, like the C
    // peer's one libuv loop); default: tokio's multi-threaded runtime.
    let rt = if std::env::var("BENCH_THREADS").as_deref() == Ok("1") {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    }?;
    let r = rt.block_on(async move {
        match cmd {
            "perf-server" => cmd_perf_server(o).await,
            "perf" => perf(o).await,
            "handshakes" => handshakes(o).await,
            "gossip-sub" => gossip_sub(o).await,
            "gossip-pub" => gossip_pub(o).await,
            other => Err(Error(format!("unknown bench subcommand {other:?}"))),
        }
    });
    // Failures of a run (not of its arguments) exit 1, as the bench
    // contract says.
    r.or_else(|Error(e)| {
        eprintln!("interop-peer: {e}");
        Ok(ExitCode::from(1))
    })
}
