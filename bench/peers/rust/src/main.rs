//! rust-libp2p benchmark peer for bench/run.sh (not part of the product).
//! The contract (the same for the go, js and C bench peers) is in
//! bench/README.md.
//!
//!   bench-peer server [--port P]
//!       listen on /ip4/127.0.0.1/tcp/P; serve /perf/1.0.0, identify and
//!       ping; print `LISTEN <multiaddr>/p2p/<id>`; run until killed.
//!   bench-peer perf <multiaddr/p2p/ID> [--upload B] [--download B]
//!       dial, run one /perf/1.0.0 exchange, print one JSON line
//!       {"type":"final","timeSeconds":..,"uploadBytes":..,"downloadBytes":..}
//!   bench-peer handshakes <multiaddr/p2p/ID> [--count N]
//!       N sequential connections: dial, Noise, Yamux, wait for the
//!       server's identify, close, wait until closed; print
//!       {"type":"handshakes","count":N,"timeSeconds":..}
//!
//! Transport: TCP (nodelay) + Noise + Yamux with library defaults, on the
//! default (multi-threaded) tokio runtime, as rust-libp2p's own perf tool;
//! with BENCH_THREADS=1 on a current-thread runtime.

use std::{
    convert::Infallible,
    io::Write as _,
    process::ExitCode,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::{
    core::{
        transport::PortUse,
        upgrade::{DeniedUpgrade, ReadyUpgrade},
        Endpoint,
    },
    identify,
    multiaddr::Protocol,
    noise, ping,
    swarm::{
        behaviour::toggle::Toggle,
        handler::{ConnectionEvent, FullyNegotiatedInbound},
        ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm,
        NetworkBehaviour, SubstreamProtocol, SwarmEvent, THandler, THandlerInEvent,
        THandlerOutEvent, ToSwarm,
    },
    tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm, SwarmBuilder,
};
use libp2p_identity::Keypair;

const PERF: StreamProtocol = StreamProtocol::new("/perf/1.0.0");
/// Size of the pieces written and read.
const BUF: usize = 64 * 1024;
const USAGE: &str = "usage: bench-peer server [--port P]\n       \
bench-peer perf <multiaddr/p2p/ID> [--upload B] [--download B]\n       \
bench-peer handshakes <multiaddr/p2p/ID> [--count N]";

#[derive(Debug)]
struct Error(String);

impl<E: std::fmt::Display> From<E> for Error {
    fn from(e: E) -> Self {
        Error(e.to_string())
    }
}

macro_rules! out {
    ($($arg:tt)*) => {{
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, $($arg)*);
        let _ = o.flush();
    }};
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    /// Outbound perf streams (client).
    stream: libp2p_stream::Behaviour,
    /// Inbound perf streams (server).
    perf: Toggle<PerfServer>,
}

/// The /perf/1.0.0 server: each inbound stream is served by a task of its
/// own, spawned by the connection handler (libp2p-stream's accept channel
/// has room for one stream only).
#[derive(Default)]
struct PerfServer;

impl NetworkBehaviour for PerfServer {
    type ConnectionHandler = PerfHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(PerfHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(PerfHandler)
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(&mut self, _: PeerId, _: ConnectionId, e: THandlerOutEvent<Self>) {
        match e {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

struct PerfHandler;

impl ConnectionHandler for PerfHandler {
    type FromBehaviour = Infallible;
    type ToBehaviour = Infallible;
    type InboundProtocol = ReadyUpgrade<StreamProtocol>;
    type OutboundProtocol = DeniedUpgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = ();

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol> {
        SubstreamProtocol::new(ReadyUpgrade::new(PERF), ())
    }

    fn poll(
        &mut self,
        _: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<Self::OutboundProtocol, (), Self::ToBehaviour>> {
        Poll::Pending
    }

    fn on_behaviour_event(&mut self, e: Self::FromBehaviour) {
        match e {}
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<Self::InboundProtocol, Self::OutboundProtocol>,
    ) {
        if let ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
            protocol: stream,
            ..
        }) = event
        {
            tokio::spawn(async move {
                if let Err(e) = perf_serve(stream).await {
                    eprintln!("bench-peer: perf stream: {e}");
                }
            });
        }
    }
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

fn new_swarm(server: bool) -> Result<Swarm<Behaviour>, Error> {
    let swarm = SwarmBuilder::with_existing_identity(Keypair::generate_ed25519())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|key| Behaviour {
            identify: identify::Behaviour::new(identify::Config::new(
                "ipfs/0.1.0".to_string(),
                key.public(),
            )),
            ping: ping::Behaviour::new(ping::Config::new()),
            stream: libp2p_stream::Behaviour::new(),
            perf: Toggle::from(server.then(PerfServer::default)),
        })
        .map_err(|e| Error(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    Ok(swarm)
}

struct Opts {
    positional: Vec<String>,
    port: u16,
    upload: u64,
    download: u64,
    count: u64,
}

fn parse_opts(args: &[String]) -> Result<Opts, Error> {
    let mut o = Opts { positional: vec![], port: 0, upload: 0, download: 0, count: 100 };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if !a.starts_with("--") {
            o.positional.push(a.clone());
            continue;
        }
        let v = it.next().ok_or_else(|| Error(format!("{a} needs a value")))?;
        let bad = || Error(format!("bad value for {a}: {v:?}"));
        match a.as_str() {
            "--port" => o.port = v.parse().map_err(|_| bad())?,
            "--upload" => o.upload = v.parse().map_err(|_| bad())?,
            "--download" => o.download = v.parse().map_err(|_| bad())?,
            "--count" => o.count = v.parse().map_err(|_| bad())?,
            _ => return Err(Error(format!("unknown option {a}"))),
        }
    }
    Ok(o)
}

fn target(o: &Opts) -> Result<(Multiaddr, PeerId), Error> {
    let [addr] = o.positional.as_slice() else {
        return Err(Error("exactly one multiaddr expected".into()));
    };
    let addr: Multiaddr = addr.parse()?;
    let Some(Protocol::P2p(peer)) = addr.iter().last() else {
        return Err(Error("the multiaddr must end with /p2p/<peer id>".into()));
    };
    Ok((addr, peer))
}

async fn server(o: Opts) -> Result<ExitCode, Error> {
    let mut swarm = new_swarm(true)?;
    let local = *swarm.local_peer_id();
    swarm.listen_on(format!("/ip4/127.0.0.1/tcp/{}", o.port).parse()?)?;
    loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            out!("LISTEN {}", address.with(Protocol::P2p(local)));
        }
    }
}

async fn wait_connected(swarm: &mut Swarm<Behaviour>, peer: PeerId) -> Result<ConnectionId, Error> {
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::ConnectionEstablished { peer_id, connection_id, .. } if peer_id == peer => {
                return Ok(connection_id)
            }
            SwarmEvent::OutgoingConnectionError { error, .. } => {
                return Err(Error(format!("dial failed: {error}")))
            }
            _ => {}
        }
    }
}

async fn perf(o: Opts) -> Result<ExitCode, Error> {
    let (addr, peer) = target(&o)?;
    let mut swarm = new_swarm(false)?;
    let mut control = swarm.behaviour().stream.new_control();
    swarm.dial(addr)?;
    wait_connected(&mut swarm, peer).await?;
    let (upload, download) = (o.upload, o.download);
    let task = tokio::spawn(async move {
        let t0 = Instant::now();
        let s = control.open_stream(peer, PERF).await.map_err(|e| Error(e.to_string()))?;
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
        return Err(Error(format!("downloaded {got} bytes, asked for {download}")));
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
    let mut swarm = new_swarm(false)?;
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
                SwarmEvent::ConnectionClosed { connection_id, cause, .. } if connection_id == conn => {
                    return Err(Error(format!("connection closed before identify: {cause:?}")))
                }
                _ => {}
            }
        }
        swarm.close_connection(conn);
        loop {
            if let SwarmEvent::ConnectionClosed { connection_id, .. } = swarm.select_next_some().await {
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let o = match parse_opts(rest) {
        Ok(o) => o,
        Err(Error(e)) => {
            eprintln!("bench-peer: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // BENCH_THREADS=1: a current-thread runtime (one thread, like the C
    // peer's one libuv loop); default: tokio's multi-threaded runtime.
    let rt = if std::env::var("BENCH_THREADS").as_deref() == Ok("1") {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    }
    .expect("tokio runtime");
    let r = rt.block_on(async move {
        match cmd.as_str() {
            "server" => server(o).await,
            "perf" => perf(o).await,
            "handshakes" => handshakes(o).await,
            other => Err(Error(format!("unknown subcommand {other:?}\n{USAGE}"))),
        }
    });
    match r {
        Ok(c) => c,
        Err(Error(e)) => {
            eprintln!("bench-peer: {e}");
            ExitCode::from(1)
        }
    }
}
