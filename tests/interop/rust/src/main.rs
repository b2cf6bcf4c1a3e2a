//! rust-libp2p test peer for the p2pchat interop tests (not part of the
//! product). The subcommand contract is in tests/interop/README.md.
//!
//! Usage: interop-peer <subcommand> [args...]
//!
//! Subcommands:
//!   peerid-from-seed N   print the PeerId of the Ed25519 key whose 32-byte
//!                        secret is [N, 0, 0, ..., 0] (the convention of the
//!                        relay-server example's --secret-key-seed).
//!   listen [--seed N] [--port P] [--ip6]
//!                        serve identify, ping and /p2pchat/echo/1.0.0 on
//!                        /ip4/127.0.0.1/tcp/P (/ip6/::1/tcp/P with --ip6)
//!                        until killed, printing events.
//!   dial <multiaddr/p2p/ID> [--streams K] [--bytes B] [--pings N]
//!        [--seed N] [--timeout S] [--slow]
//!                        dial, wait for identify, ping N times, run K
//!                        concurrent echo streams of B bytes (reading
//!                        slowly with --slow); print DONE.
//!   pubsub --topic T [--port P] [--seed N] [--connect MADDR]...
//!          [--publish-every MS] [--count N] [--expect K] [--chat-example]
//!          [--timeout S] [--start-file PATH]
//!                        gossipsub: listen, dial, join T, publish N signed
//!                        messages once a peer is in the mesh, print RECV
//!                        for each message received and DONE after K from
//!                        others (--chat-example: configured like
//!                        rust-libp2p's examples/chat).
//!   autonat ...          AutoNAT v1 (src/autonat.rs).
//!   perf-server, perf, handshakes, gossip-sub, gossip-pub
//!                        /perf/1.0.0 server and client, handshake rate,
//!                        gossipsub throughput/latency: the bench peer of
//!                        bench/run.sh and interop.perf (src/bench.rs).
//!
//! Transport: TCP (nodelay) + Noise + Yamux, all with library defaults.

use std::{
    collections::{HashMap, HashSet},
    io::Write as _,
    pin::Pin,
    process::ExitCode,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    task::Poll,
    time::Duration,
};

use futures::{
    future, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, Future as _,
    StreamExt as _,
};
use libp2p::{
    gossipsub, identify,
    multiaddr::Protocol,
    noise, ping,
    swarm::{behaviour::toggle::Toggle, NetworkBehaviour, SwarmEvent},
    tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm, SwarmBuilder,
};
use libp2p_identity::Keypair;

const USAGE: &str = "usage: interop-peer <subcommand> [args...]\n\
subcommands:\n  \
peerid-from-seed N   print the PeerId of the Ed25519 key with secret [N,0,...,0]\n  \
listen [--seed N] [--port P] [--ip6]\n  \
dial <multiaddr-with-/p2p/> [--streams K] [--bytes B] [--pings N] [--seed N] [--timeout S] [--slow]\n  \
pubsub --topic T [--port P] [--seed N] [--connect MADDR]... [--publish-every MS] [--count N] [--expect K] \
[--chat-example] [--timeout S] [--start-file PATH]\n  \
kad ... (see src/kad.rs)\n  \
mdns [--seed N] [--timeout S] (see src/mdns.rs)\n  \
relay, relay-listen, relay-dial, dcutr: circuit relay v2 and DCUtR (see src/relay.rs)\n  \
autonat [--port P] [--seed N] [--connect MADDR]... [--timeout S] (see src/autonat.rs)\n  \
perf-server, perf, handshakes, gossip-sub, gossip-pub: bench/run.sh and interop.perf (see src/bench.rs)";

const ECHO_PROTOCOL: StreamProtocol = StreamProtocol::new("/p2pchat/echo/1.0.0");
/// The identify "protocolVersion" field (go-libp2p and js-libp2p send this
/// value by default; rust-libp2p has no default).
const IDENTIFY_PROTOCOL_VERSION: &str = "ipfs/0.1.0";
/// With `dial --slow`, each echo stream stops reading for SLOW_PAUSE after
/// every SLOW_EVERY bytes received (the contract's slow reader).
const SLOW_EVERY: usize = 512 * 1024;
const SLOW_PAUSE: Duration = Duration::from_millis(20);
/// Size of the chunks the echo streams are written and checked in.
const CHUNK: usize = 64 * 1024;

/// An error that ends the program with a message and a non-zero exit code.
#[derive(Debug)]
struct Error(String);

impl<E: std::fmt::Display> From<E> for Error {
    fn from(e: E) -> Self {
        Error(e.to_string())
    }
}

fn usage_error(msg: &str) -> Error {
    Error(format!("{msg}\n{USAGE}"))
}

/// Print one line of the stdout protocol and flush it at once (newlines
/// inside it, from error messages, become spaces).
macro_rules! out {
    ($($arg:tt)*) => {{
        let line = format!($($arg)*).replace('\n', " ");
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{line}");
        let _ = o.flush();
    }};
}

// Circuit relay v2 and DCUtR subcommands (after `out!`, which they use).
mod relay;

/// A fresh identity of the type INTEROP_KEY_TYPE names: ed25519 (also when
/// unset), secp256k1 or ecdsa (P-256), as the go and js peers do
/// (libp2p-identity cannot generate RSA keys).
fn generated_keypair() -> Result<Keypair, Error> {
    match std::env::var("INTEROP_KEY_TYPE").as_deref() {
        Err(_) | Ok("ed25519") => Ok(Keypair::generate_ed25519()),
        Ok("secp256k1") => Ok(Keypair::generate_secp256k1()),
        Ok("ecdsa") => Ok(Keypair::generate_ecdsa()),
        Ok(other) => {
            Err(format!("INTEROP_KEY_TYPE \"{other}\": want ed25519, secp256k1 or ecdsa").into())
        }
    }
}

/// Ed25519 keypair whose secret key is [seed, 0, 0, ..., 0].
fn keypair_from_seed(seed: u8) -> Result<Keypair, Error> {
    let mut bytes = [0u8; 32];
    bytes[0] = seed;
    Ok(Keypair::ed25519_from_bytes(bytes)?)
}

fn parse_seed(arg: Option<&String>) -> Result<u8, Error> {
    let s = arg.ok_or_else(|| usage_error("missing seed"))?;
    s.parse::<u8>()
        .map_err(|_| usage_error(&format!("seed must be an integer 0..255, got {s:?}")))
}

fn cmd_peerid_from_seed(args: &[String]) -> Result<(), Error> {
    if args.len() > 1 {
        return Err(usage_error("too many arguments"));
    }
    let seed = parse_seed(args.first())?;
    let keypair = keypair_from_seed(seed)?;
    println!("{}", keypair.public().to_peer_id());
    Ok(())
}

/// Options of listen and dial (each subcommand accepts its own subset).
struct Opts {
    positional: Vec<String>,
    seed: Option<u8>,
    port: u16,
    streams: usize,
    bytes: usize,
    pings: usize,
    timeout: Duration,
    ip6: bool,
    slow: bool,
    // pubsub
    topic: Option<String>,
    connect: Vec<String>,
    publish_every: Duration,
    count: usize,
    expect: usize,
    chat_example: bool,
    start_file: Option<String>,
}

fn parse_opts(args: &[String], allowed: &[&str]) -> Result<Opts, Error> {
    let mut o = Opts {
        positional: Vec::new(),
        seed: None,
        port: 0,
        streams: 8,
        bytes: 65536,
        pings: 3,
        timeout: Duration::from_secs(30),
        ip6: false,
        slow: false,
        topic: None,
        connect: Vec::new(),
        publish_every: Duration::from_millis(200),
        count: 5,
        expect: 0,
        chat_example: false,
        start_file: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if !a.starts_with("--") {
            o.positional.push(a.clone());
            continue;
        }
        if !allowed.contains(&a.as_str()) {
            return Err(usage_error(&format!("unknown option {a}")));
        }
        // flags (no value)
        match a.as_str() {
            "--ip6" => {
                o.ip6 = true;
                continue;
            }
            "--slow" => {
                o.slow = true;
                continue;
            }
            "--chat-example" => {
                o.chat_example = true;
                continue;
            }
            _ => {}
        }
        let v = it
            .next()
            .ok_or_else(|| usage_error(&format!("{a} needs a value")))?;
        let bad = || usage_error(&format!("bad value for {a}: {v:?}"));
        match a.as_str() {
            "--seed" => o.seed = Some(parse_seed(Some(v))?),
            "--port" => o.port = v.parse().map_err(|_| bad())?,
            "--streams" => o.streams = v.parse().map_err(|_| bad())?,
            "--bytes" => o.bytes = v.parse().map_err(|_| bad())?,
            "--pings" => o.pings = v.parse().map_err(|_| bad())?,
            "--topic" => o.topic = Some(v.clone()),
            "--connect" => o.connect.push(v.clone()),
            "--start-file" => o.start_file = Some(v.clone()),
            "--publish-every" => {
                o.publish_every = Duration::from_millis(v.parse().map_err(|_| bad())?)
            }
            "--count" => o.count = v.parse().map_err(|_| bad())?,
            "--expect" => o.expect = v.parse().map_err(|_| bad())?,
            "--timeout" => {
                let s: f64 = v.parse().map_err(|_| bad())?;
                if !(s > 0.0 && s < 1e6) {
                    return Err(bad());
                }
                o.timeout = Duration::from_secs_f64(s);
            }
            _ => unreachable!(),
        }
    }
    Ok(o)
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    /// Outbound echo streams (dial).
    stream: libp2p_stream::Behaviour,
    /// Inbound echo streams (listen), when enabled.
    echo: Toggle<stream_server::Behaviour>,
}

/// The /p2pchat/echo/1.0.0 server behaviour (src/stream_server.rs).
fn echo_server() -> stream_server::Behaviour {
    stream_server::Behaviour::new(ECHO_PROTOCOL, |s| Box::pin(echo_serve(s)))
}

fn new_swarm(
    seed: Option<u8>,
    ping_interval: Option<Duration>,
    echo_server: bool,
) -> Result<Swarm<Behaviour>, Error> {
    let keypair = tcp_swarm::identity(seed)?;
    let mut ping_cfg = ping::Config::new();
    if let Some(i) = ping_interval {
        ping_cfg = ping_cfg.with_interval(i);
    }
    let behaviour = Behaviour {
        identify: identify::Behaviour::new(identify::Config::new(
            IDENTIFY_PROTOCOL_VERSION.to_string(),
            keypair.public(),
        )),
        ping: ping::Behaviour::new(ping_cfg),
        stream: libp2p_stream::Behaviour::new(),
        echo: Toggle::from(echo_server.then(self::echo_server)),
    };
    // Never close a connection for being idle while a test runs.
    tcp_swarm::tcp_swarm(keypair, behaviour)
}

/// `addr` without a trailing /p2p/<id>.
/// The --connect multiaddrs, each ending with /p2p/<peer id>.
fn connect_targets(connect: &[String]) -> Result<Vec<Multiaddr>, Error> {
    let mut targets = Vec::new();
    for a in connect {
        let addr: Multiaddr = a
            .parse()
            .map_err(|e| usage_error(&format!("bad multiaddr {a:?}: {e}")))?;
        if !matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
            return Err(usage_error("--connect needs a multiaddr ending with /p2p/<peer id>"));
        }
        targets.push(addr);
    }
    Ok(targets)
}

fn strip_p2p(addr: &Multiaddr) -> Multiaddr {
    let mut a = addr.clone();
    if matches!(a.iter().last(), Some(Protocol::P2p(_))) {
        a.pop();
    }
    a
}

fn print_identified(peer: &PeerId, info: &identify::Info) {
    let mut protocols: Vec<String> = info.protocols.iter().map(|p| p.to_string()).collect();
    protocols.sort();
    let listen: Vec<String> = info.listen_addrs.iter().map(|a| a.to_string()).collect();
    out!(
        "IDENTIFIED {peer} agent={} protocols={} listen={} observed={}",
        info.agent_version,
        protocols.join(","),
        listen.join(","),
        info.observed_addr
    );
}

/// The peak resident set size of this process (VmHWM of /proc/self/status),
/// in KiB; 0 when unknown.
fn rss_max_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Block SIGTERM and SIGINT in this (the only) thread, so that every thread
/// started later inherits the mask, and start a thread that waits for them:
/// it prints `RSS_MAX_KIB` and ends the process (the listener's exit).
fn exit_on_signal() -> Result<(), Error> {
    // SAFETY: plain libc calls on a local, initialised signal set; this runs
    // before any other thread exists.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(Error("pthread_sigmask failed".to_string()));
        }
        std::thread::spawn(move || {
            let mut sig: libc::c_int = 0;
            libc::sigwait(&set, &mut sig);
            out!("RSS_MAX_KIB {}", rss_max_kib());
            std::process::exit(0);
        });
    }
    Ok(())
}

/// Echo server for one inbound stream: write back every chunk as it
/// arrives (waiting for the remote to take it before reading more, so a
/// slow reader slows the writer down through the Yamux windows instead of
/// making us buffer), and close after EOF.
async fn echo_serve(mut stream: libp2p::Stream) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match stream.read(&mut buf).await? {
            0 => break,
            n => stream.write_all(&buf[..n]).await?,
        }
    }
    stream.close().await
}

fn cmd_listen(args: &[String]) -> Result<ExitCode, Error> {
    let o = parse_opts(args, &["--seed", "--port", "--ip6"])?;
    if !o.positional.is_empty() {
        return Err(usage_error("listen takes no positional arguments"));
    }
    exit_on_signal()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut swarm = new_swarm(o.seed, None, true)?;
        let local = *swarm.local_peer_id();
        out!("PEERID {local}");
        let ip = if o.ip6 { "/ip6/::1" } else { "/ip4/127.0.0.1" };
        swarm.listen_on(format!("{ip}/tcp/{}", o.port).parse()?)?;
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => {
                    out!("LISTEN {}", address.with(Protocol::P2p(local)));
                }
                SwarmEvent::ConnectionEstablished {
                    peer_id, endpoint, ..
                } => {
                    out!(
                        "CONNECTED {peer_id} {}",
                        strip_p2p(endpoint.get_remote_address())
                    );
                }
                SwarmEvent::ConnectionClosed { peer_id, .. } => {
                    out!("DISCONNECTED {peer_id}");
                }
                SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                    peer_id,
                    info,
                    ..
                })) => print_identified(&peer_id, &info),
                SwarmEvent::ListenerClosed { reason, .. } => {
                    return Err(Error(format!("listener closed: {reason:?}")));
                }
                _ => {}
            }
        }
    })
}

/// Deterministic pseudo-random bytes (xorshift64*, each output word in
/// little-endian order), different per stream: the echo data, generated
/// and checked chunk by chunk so that no stream is ever held in memory.
struct Prng {
    x: u64,
    word: [u8; 8],
    used: usize,
}

impl Prng {
    fn new(stream_index: usize) -> Self {
        Prng {
            x: 0x9E37_79B9_7F4A_7C15 ^ ((stream_index as u64 + 1) << 32),
            word: [0; 8],
            used: 8,
        }
    }

    fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            if self.used == 8 {
                self.x ^= self.x >> 12;
                self.x ^= self.x << 25;
                self.x ^= self.x >> 27;
                self.word = self.x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
                self.used = 0;
            }
            *b = self.word[self.used];
            self.used += 1;
        }
    }
}

/// Write `len` pseudo-random bytes to `stream`, half-close it and read the
/// echo to EOF, checking every byte as it arrives; reading runs
/// concurrently with writing (so that an echo server that streams the data
/// back cannot dead-lock with us). With `slow`, reading pauses for
/// SLOW_PAUSE after every SLOW_EVERY bytes. One task polls both directions
/// of the same stream: no lock, no extra task. Returns the bytes received.
async fn write_close_read(
    mut stream: libp2p::Stream,
    index: usize,
    len: usize,
    slow: bool,
) -> Result<usize, String> {
    let mut sender = Prng::new(index);
    let mut checker = Prng::new(index);
    let mut wbuf = vec![0u8; CHUNK];
    let (mut wpos, mut wlen) = (0usize, 0usize);
    let mut sent = 0usize;
    let mut closed = false;
    let mut eof = false;
    let mut got = 0usize;
    let mut rbuf = vec![0u8; CHUNK];
    let mut expect = vec![0u8; CHUNK];
    let mut since_pause = 0usize;
    let mut pause: Option<Pin<Box<tokio::time::Sleep>>> = None;
    future::poll_fn(|cx| {
        while !closed {
            let mut s = Pin::new(&mut stream);
            if wpos == wlen && sent < len {
                wlen = CHUNK.min(len - sent);
                wpos = 0;
                sender.fill(&mut wbuf[..wlen]);
            }
            if wpos < wlen {
                match s.as_mut().poll_write(cx, &wbuf[wpos..wlen]) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err("write: wrote 0 bytes".to_string()))
                    }
                    Poll::Ready(Ok(n)) => {
                        wpos += n;
                        sent += n;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(format!("write: {e}"))),
                    Poll::Pending => break,
                }
            } else {
                match s.as_mut().poll_close(cx) {
                    Poll::Ready(Ok(())) => closed = true,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(format!("close: {e}"))),
                    Poll::Pending => break,
                }
            }
        }
        while !eof {
            if let Some(p) = pause.as_mut() {
                if p.as_mut().poll(cx).is_pending() {
                    break;
                }
                pause = None;
            }
            match Pin::new(&mut stream).poll_read(cx, &mut rbuf) {
                Poll::Ready(Ok(0)) => eof = true,
                Poll::Ready(Ok(n)) => {
                    if got + n > len {
                        return Poll::Ready(Err(format!("echoed more than the {len} bytes sent")));
                    }
                    checker.fill(&mut expect[..n]);
                    if let Some(at) = rbuf[..n].iter().zip(&expect[..n]).position(|(a, b)| a != b) {
                        return Poll::Ready(Err(format!("echo differs at byte {}", got + at)));
                    }
                    got += n;
                    since_pause += n;
                    if slow && since_pause >= SLOW_EVERY {
                        since_pause = 0;
                        pause = Some(Box::pin(tokio::time::sleep(SLOW_PAUSE)));
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(format!("read: {e}"))),
                Poll::Pending => break,
            }
        }
        if closed && eof {
            Poll::Ready(Ok(got))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// One echo stream: write `len` bytes, half-close, read the echo to EOF
/// (concurrently with writing) and compare.
async fn echo_one(
    mut control: libp2p_stream::Control,
    peer: PeerId,
    index: usize,
    len: usize,
    slow: bool,
) -> Result<(), String> {
    let stream = control
        .open_stream(peer, ECHO_PROTOCOL)
        .await
        .map_err(|e| format!("stream {index}: open: {e}"))?;
    let got = write_close_read(stream, index, len, slow)
        .await
        .map_err(|e| format!("stream {index}: {e}"))?;
    if got != len {
        return Err(format!("stream {index}: echoed {got} bytes, sent {len}"));
    }
    Ok(())
}

async fn echo_all(
    control: libp2p_stream::Control,
    peer: PeerId,
    streams: usize,
    len: usize,
    slow: bool,
    done: Arc<AtomicUsize>,
) -> Result<(), String> {
    let tasks = (0..streams).map(|i| {
        let control = control.clone();
        let done = done.clone();
        async move {
            let r = echo_one(control, peer, i, len, slow).await;
            done.fetch_add(1, Ordering::Relaxed);
            r
        }
    });
    let errs: Vec<String> = future::join_all(tasks)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    match errs.first() {
        None => Ok(()),
        Some(first) => Err(format!(
            "{} of {streams} streams failed; {first}",
            errs.len()
        )),
    }
}

enum Phase {
    Connect,
    Identify,
    Ping,
    Echo,
}

/// The options and target of `dial` (and `relay-dial`): the multiaddr,
/// which must end with /p2p/<peer id>, and that peer id.
fn parse_dial_args(args: &[String]) -> Result<(Opts, Multiaddr, PeerId), Error> {
    let o = parse_opts(
        args,
        &[
            "--seed",
            "--streams",
            "--bytes",
            "--pings",
            "--timeout",
            "--slow",
        ],
    )?;
    let [addr] = o.positional.as_slice() else {
        return Err(usage_error("dial takes exactly one multiaddr"));
    };
    let addr: Multiaddr = addr
        .parse()
        .map_err(|e| usage_error(&format!("bad multiaddr {addr:?}: {e}")))?;
    let Some(Protocol::P2p(target)) = addr.iter().last() else {
        return Err(usage_error("the multiaddr must end with /p2p/<peer id>"));
    };
    Ok((o, addr, target))
}

/// What a dial session needs from its behaviour's events (so that `dial`
/// and `relay-dial`, whose behaviours differ, share one session).
enum DialEvent {
    Identify(identify::Event),
    Ping(ping::Event),
    Other,
}

trait IntoDialEvent {
    fn into_dial_event(self) -> DialEvent;
}

impl IntoDialEvent for BehaviourEvent {
    fn into_dial_event(self) -> DialEvent {
        match self {
            BehaviourEvent::Identify(e) => DialEvent::Identify(e),
            BehaviourEvent::Ping(e) => DialEvent::Ping(e),
            _ => DialEvent::Other,
        }
    }
}

fn cmd_dial(args: &[String]) -> Result<ExitCode, Error> {
    let (o, addr, target) = parse_dial_args(args)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        // Ping often so that N pings after identify take little time.
        let swarm = new_swarm(o.seed, Some(Duration::from_millis(100)), false)?;
        let control = swarm.behaviour().stream.new_control();
        dial_session(swarm, control, addr, target, &o).await
    })
}

/// The dial steps of the contract on `swarm` (whose behaviour pings every
/// connection often): print PEERID, dial `addr`, wait for identify with
/// `target`, count N pings, run the echo streams through `control`.
async fn dial_session<B>(
    mut swarm: Swarm<B>,
    control: libp2p_stream::Control,
    addr: Multiaddr,
    target: PeerId,
    o: &Opts,
) -> Result<ExitCode, Error>
where
    B: NetworkBehaviour,
    B::ToSwarm: IntoDialEvent,
{
    {
        out!("PEERID {}", swarm.local_peer_id());
        swarm.dial(addr)?;

        let deadline = tokio::time::sleep(o.timeout);
        tokio::pin!(deadline);
        let mut phase = Phase::Connect;
        let mut pings_done = 0usize;
        // A ping failure before identify completed (e.g. ping unsupported:
        // rust-libp2p then stops pinging that connection), reported when the
        // ping phase starts.
        let mut early_ping_failure: Option<String> = None;
        let echo_done = Arc::new(AtomicUsize::new(0));
        let (echo_tx, mut echo_rx) = tokio::sync::mpsc::channel::<Result<(), String>>(1);
        // connections to the target, by id, to tell a closed one
        let mut conns = HashMap::new();

        let (streams, bytes, slow) = (o.streams, o.bytes, o.slow);
        let start_echo = |phase: &mut Phase| {
            *phase = Phase::Echo;
            let (control, done, tx) = (control.clone(), echo_done.clone(), echo_tx.clone());
            tokio::spawn(async move {
                let r = echo_all(control, target, streams, bytes, slow, done).await;
                let _ = tx.send(r).await;
            });
        };

        loop {
            tokio::select! {
                _ = &mut deadline => {
                    let what = match phase {
                        Phase::Connect => "connect".to_string(),
                        Phase::Identify => "identify".to_string(),
                        Phase::Ping => format!("ping ({pings_done}/{} done)", o.pings),
                        Phase::Echo => format!(
                            "echo ({}/{} streams done)",
                            echo_done.load(Ordering::Relaxed),
                            o.streams
                        ),
                    };
                    out!("TIMEOUT {what}");
                    return Ok(ExitCode::from(2));
                }
                Some(r) = echo_rx.recv() => {
                    match r {
                        Ok(()) => {
                            out!("ECHO ok streams={} bytes={}", o.streams, o.bytes);
                            out!("RSS_MAX_KIB {}", rss_max_kib());
                            out!("DONE");
                            return Ok(ExitCode::SUCCESS);
                        }
                        Err(e) => {
                            out!("ECHO FAIL {e}");
                            return Ok(ExitCode::from(1));
                        }
                    }
                }
                ev = swarm.select_next_some() => match ev {
                    SwarmEvent::ConnectionEstablished { peer_id, connection_id, endpoint, .. } => {
                        out!("CONNECTED {peer_id} {}", strip_p2p(endpoint.get_remote_address()));
                        if peer_id == target {
                            conns.insert(connection_id, ());
                            if matches!(phase, Phase::Connect) {
                                phase = Phase::Identify;
                            }
                        }
                    }
                    SwarmEvent::OutgoingConnectionError { error, .. } => {
                        out!("ERROR dial failed: {error}");
                        return Ok(ExitCode::from(1));
                    }
                    SwarmEvent::ConnectionClosed { peer_id, connection_id, cause, .. } => {
                        out!("DISCONNECTED {peer_id}");
                        if conns.remove(&connection_id).is_some() && conns.is_empty() {
                            let cause = cause.map(|c| c.to_string())
                                .unwrap_or_else(|| "closed".to_string());
                            out!("ERROR connection to {peer_id} lost: {cause}");
                            return Ok(ExitCode::from(1));
                        }
                    }
                    SwarmEvent::Behaviour(ev) => match ev.into_dial_event() {
                        DialEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                            print_identified(&peer_id, &info);
                            if peer_id == target && matches!(phase, Phase::Identify | Phase::Connect) {
                                phase = Phase::Ping;
                                if let (Some(e), true) = (&early_ping_failure, o.pings > 0) {
                                    out!("PING FAIL {e}");
                                    return Ok(ExitCode::from(1));
                                }
                                if o.pings == 0 {
                                    start_echo(&mut phase);
                                }
                            }
                        }
                        DialEvent::Identify(identify::Event::Error { peer_id, error, .. }) if peer_id == target => {
                            out!("ERROR identify failed: {error}");
                            return Ok(ExitCode::from(1));
                        }
                        // The ping behaviour pings every connection right away and
                        // then every 100 ms: count the results after identify.
                        DialEvent::Ping(ping::Event { peer, result, .. })
                            if peer == target && matches!(phase, Phase::Ping) =>
                        {
                            match result {
                                Ok(rtt) => {
                                    out!("PING rtt_us={}", rtt.as_micros());
                                    pings_done += 1;
                                    if pings_done == o.pings {
                                        start_echo(&mut phase);
                                    }
                                }
                                Err(e) => {
                                    out!("PING FAIL {e}");
                                    return Ok(ExitCode::from(1));
                                }
                            }
                        }
                        DialEvent::Ping(ping::Event { peer, result: Err(e), .. })
                            if peer == target && matches!(phase, Phase::Connect | Phase::Identify) =>
                        {
                            early_ping_failure = Some(e.to_string());
                        }
                        _ => {}
                    },
                    _ => {}
                },
            }
        }
    }
}

#[derive(NetworkBehaviour)]
struct PubsubBehaviour {
    /// Off with --chat-example (the example has no identify and no ping).
    identify: Toggle<identify::Behaviour>,
    ping: Toggle<ping::Behaviour>,
    gossipsub: gossipsub::Behaviour,
}

/// The gossipsub configuration of rust-libp2p's examples/chat (its
/// main.rs, verbatim but for the error type): heartbeat 10 s, strict
/// validation, message id = DefaultHasher hash of the data.
fn chat_example_gossipsub_config() -> Result<gossipsub::Config, Error> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    // To content-address message, we can take the hash of message and use it as an ID.
    let message_id_fn = |message: &gossipsub::Message| {
        let mut s = DefaultHasher::new();
        message.data.hash(&mut s);
        gossipsub::MessageId::from(s.finish().to_string())
    };
    gossipsub::ConfigBuilder::default()
        .heartbeat_interval(Duration::from_secs(10))
        .validation_mode(gossipsub::ValidationMode::Strict)
        .message_id_fn(message_id_fn)
        .build()
        .map_err(|e| Error(e.to_string()))
}

/// Message data as one printable token: bytes outside '!'..'~' become '?'.
fn printable(data: &[u8]) -> String {
    data.iter()
        .map(|&b| {
            if (0x21..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

fn cmd_pubsub(args: &[String]) -> Result<ExitCode, Error> {
    let o = parse_opts(
        args,
        &[
            "--topic",
            "--port",
            "--seed",
            "--connect",
            "--publish-every",
            "--count",
            "--expect",
            "--chat-example",
            "--timeout",
            "--start-file",
        ],
    )?;
    if !o.positional.is_empty() {
        return Err(usage_error("pubsub takes no positional arguments"));
    }
    let topic_name = o
        .topic
        .clone()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| usage_error("pubsub needs --topic"))?;
    let targets = connect_targets(&o.connect)?;
    exit_on_signal()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let keypair = match o.seed {
            Some(s) => keypair_from_seed(s)?,
            None => generated_keypair()?,
        };
        let chat = o.chat_example;
        let builder = SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_behaviour(|key| {
                let config = if chat {
                    chat_example_gossipsub_config().map_err(|e| e.0)?
                } else {
                    // library defaults: ValidationMode::Strict
                    gossipsub::Config::default()
                };
                let gossipsub = gossipsub::Behaviour::new(
                    gossipsub::MessageAuthenticity::Signed(key.clone()),
                    config,
                )?;
                Ok(PubsubBehaviour {
                    identify: Toggle::from((!chat).then(|| {
                        identify::Behaviour::new(identify::Config::new(
                            IDENTIFY_PROTOCOL_VERSION.to_string(),
                            key.public(),
                        ))
                    })),
                    ping: Toggle::from((!chat).then(|| ping::Behaviour::new(ping::Config::new()))),
                    gossipsub,
                })
            })
            .map_err(|e| Error(e.to_string()))?;
        // The chat example keeps the swarm's default idle-connection
        // timeout (its gossipsub streams keep connections open).
        let mut swarm = if chat {
            builder.build()
        } else {
            builder
                .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
                .build()
        };
        let local = *swarm.local_peer_id();
        let id_text = local.to_string();
        let suffix = &id_text[id_text.len() - 6..];
        out!("PEERID {local}");

        let topic = gossipsub::IdentTopic::new(topic_name);
        let hash = topic.hash();
        swarm.behaviour_mut().gossipsub.subscribe(&topic)?;
        swarm.listen_on(format!("/ip4/127.0.0.1/tcp/{}", o.port).parse()?)?;
        for t in targets {
            swarm.dial(t)?;
        }

        let deadline = tokio::time::sleep(o.timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut published = 0usize;
        let mut next_publish = tokio::time::Instant::now();
        let mut seen: HashSet<(PeerId, Vec<u8>)> = HashSet::new();
        let mut mesh: HashSet<PeerId> = HashSet::new();
        let mut done = false;
        let check_done = |published: usize, received: usize, done: &mut bool| {
            if !*done && published >= o.count && received >= o.expect {
                *done = true;
                out!("DONE");
            }
        };
        check_done(published, 0, &mut done);
        loop {
            tokio::select! {
                _ = &mut deadline => {
                    if done {
                        return Ok(ExitCode::SUCCESS);
                    }
                    let what = if published < o.count {
                        if published == 0 { "mesh peer or start file".to_string() }
                        else { format!("publish ({published}/{} done)", o.count) }
                    } else {
                        format!("receive ({}/{})", seen.len(), o.expect)
                    };
                    out!("TIMEOUT {what}");
                    return Ok(ExitCode::from(2));
                }
                _ = tick.tick() => {
                    // MESH for every peer that entered our mesh since the last look
                    let now: HashSet<PeerId> =
                        swarm.behaviour().gossipsub.mesh_peers(&hash).copied().collect();
                    for p in now.difference(&mesh) {
                        out!("MESH {p}");
                    }
                    mesh = now;
                    if published >= o.count || tokio::time::Instant::now() < next_publish {
                        continue;
                    }
                    if published == 0 {
                        if let Some(f) = &o.start_file {
                            if !std::path::Path::new(f).exists() {
                                continue;
                            }
                        }
                    }
                    let gs = &swarm.behaviour().gossipsub;
                    // The example's peers are explicit peers, never in
                    // the mesh: wait for one subscribed to the topic.
                    let ready = published > 0 || if chat {
                        gs.all_peers().any(|(_, topics)| topics.contains(&&hash))
                    } else {
                        !mesh.is_empty()
                    };
                    if !ready {
                        continue;
                    }
                    let text = format!("rust-{suffix}-{}", published + 1);
                    match swarm.behaviour_mut().gossipsub.publish(topic.clone(), text.as_bytes()) {
                        Ok(_) => {
                            out!("PUBLISHED {text}");
                            published += 1;
                            check_done(published, seen.len(), &mut done);
                        }
                        Err(e @ (gossipsub::PublishError::NoPeersSubscribedToTopic
                            | gossipsub::PublishError::AllQueuesFull(_))) => {
                            out!("PUBLISH_RETRY {text} {e}");
                        }
                        Err(e) => {
                            out!("ERROR publish {text}: {e}");
                            return Ok(ExitCode::from(1));
                        }
                    }
                    next_publish = tokio::time::Instant::now() + o.publish_every;
                }
                ev = swarm.select_next_some() => match ev {
                    SwarmEvent::NewListenAddr { address, .. } => {
                        out!("LISTEN {}", address.with(Protocol::P2p(local)));
                    }
                    SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                        out!("CONNECTED {peer_id} {}", strip_p2p(endpoint.get_remote_address()));
                        if chat {
                            // examples/chat: every (mDNS-)discovered peer
                            // becomes an explicit gossipsub peer.
                            swarm.behaviour_mut().gossipsub.add_explicit_peer(&peer_id);
                        }
                    }
                    SwarmEvent::ConnectionClosed { peer_id, .. } => {
                        out!("DISCONNECTED {peer_id}");
                    }
                    SwarmEvent::OutgoingConnectionError { error, .. } => {
                        out!("ERROR dial failed: {error}");
                        return Ok(ExitCode::from(1));
                    }
                    SwarmEvent::Behaviour(PubsubBehaviourEvent::Gossipsub(ev)) => match ev {
                        gossipsub::Event::Message { message, .. } => {
                            let author = message.source.map(|p| p.to_string())
                                .unwrap_or_else(|| "anonymous".to_string());
                            out!("RECV {author} {}", printable(&message.data));
                            if let Some(src) = message.source {
                                if src != local {
                                    seen.insert((src, message.data));
                                    check_done(published, seen.len(), &mut done);
                                }
                            }
                        }
                        gossipsub::Event::Subscribed { peer_id, topic: t } if t == hash => {
                            out!("SUBSCRIBED {peer_id}");
                        }
                        gossipsub::Event::Unsubscribed { peer_id, topic: t } if t == hash => {
                            out!("UNSUBSCRIBED {peer_id}");
                        }
                        _ => {}
                    },
                    _ => {}
                },
            }
        }
    })
}

mod autonat;
mod bench;
mod kad;
mod mdns;
mod stream_server;
mod tcp_swarm;

fn run(args: &[String]) -> Result<ExitCode, Error> {
    let (cmd, rest) = args
        .split_first()
        .ok_or_else(|| usage_error("missing subcommand"))?;
    match cmd.as_str() {
        "peerid-from-seed" => cmd_peerid_from_seed(rest).map(|()| ExitCode::SUCCESS),
        "listen" => cmd_listen(rest),
        "dial" => cmd_dial(rest),
        "pubsub" => cmd_pubsub(rest),
        "kad" => kad::cmd_kad(rest),
        "mdns" => mdns::cmd_mdns(rest),
        "relay" => relay::cmd_relay(rest),
        "relay-listen" => relay::cmd_relay_listen(rest),
        "relay-dial" => relay::cmd_relay_dial(rest),
        "dcutr" => relay::cmd_dcutr(rest),
        "autonat" => autonat::cmd_autonat(rest),
        "perf-server" | "perf" | "handshakes" | "gossip-sub" | "gossip-pub" => bench::cmd_bench(cmd, rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(usage_error(&format!("unknown subcommand {other:?}"))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(Error(msg)) => {
            eprintln!("interop-peer: {msg}");
            ExitCode::from(2)
        }
    }
}
