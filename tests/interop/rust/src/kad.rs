//! The `kad` subcommand: rust-libp2p's Kademlia (libp2p-kad) as a DHT
//! server on /ipfs/kad/1.0.0 (contract in tests/interop/README.md):
//!
//!   kad [--seed N] [--port P] [--bootstrap MADDR]... [--table K] [--put]
//!       [--provide] [--closest K] [--find-peer ID]... [--get-pk ID]...
//!       [--get-record ID]... [--find-providers ID]... [--timeout S]
//!
//! libp2p-kad validates no record: records that peers put (and that lookups
//! return) are checked here, and only /pk/ and /p2pchat/ ones are kept
//! (`StoreInserts::FilterBoth`). /p2pchat/<id>/<name> is the p2pchat record:
//! a signed envelope (domain "p2pchat-kad-record", payload type
//! "/p2pchat/kad-record/1", payload seq (8 bytes BE) || uvarint(len key) ||
//! key || data), sealed and opened with libp2p-core's `SignedEnvelope`.
//! Peers whose identify lists the kad protocol enter the routing table with
//! their listen addresses (libp2p-kad adds a peer by itself only when it
//! dialed it).

use std::{collections::HashSet, io::Write as _, process::ExitCode, time::Duration};

use futures::StreamExt as _;
use libp2p::{
    core::SignedEnvelope,
    identify,
    kad::{
        self, store::RecordStore as _, GetProvidersOk, GetRecordOk, QueryId, QueryResult, Quorum,
        Record,
    },
    multiaddr::Protocol,
    ping,
    swarm::{NetworkBehaviour, SwarmEvent},
    Multiaddr, PeerId, StreamProtocol,
};
use libp2p_identity::{Keypair, PublicKey};

use crate::{
    exit_on_signal, parse_seed, printable, strip_p2p,
    tcp_swarm::{identity, tcp_swarm},
    usage_error, Error, IDENTIFY_PROTOCOL_VERSION,
};

const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/ipfs/kad/1.0.0");
const RECORD_NAME: &str = "interop";
const PROVIDER_PREFIX: &str = "p2pchat-interop/";
const CHAT_DOMAIN: &str = "p2pchat-kad-record";
const CHAT_PAYLOAD_TYPE: &[u8] = b"/p2pchat/kad-record/1";
const RETRY: Duration = Duration::from_secs(1);

#[derive(NetworkBehaviour)]
struct KadBehaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
}

struct KadOpts {
    seed: Option<u8>,
    port: u16,
    bootstrap: Vec<Multiaddr>,
    table: Option<usize>,
    put: bool,
    provide: bool,
    closest: usize,
    find: Vec<PeerId>,
    get_pk: Vec<PeerId>,
    get_record: Vec<PeerId>,
    providers: Vec<PeerId>,
    timeout: Duration,
}

fn parse_kad_opts(args: &[String]) -> Result<KadOpts, Error> {
    let mut o = KadOpts {
        seed: None,
        port: 0,
        bootstrap: Vec::new(),
        table: None,
        put: false,
        provide: false,
        closest: 0,
        find: Vec::new(),
        get_pk: Vec::new(),
        get_record: Vec::new(),
        providers: Vec::new(),
        timeout: Duration::from_secs(60),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--put" => o.put = true,
            "--provide" => o.provide = true,
            _ => {
                let v = it
                    .next()
                    .ok_or_else(|| usage_error(&format!("{a} needs a value")))?;
                let bad = || usage_error(&format!("bad value for {a}: {v:?}"));
                let id = || v.parse::<PeerId>().map_err(|_| bad());
                match a.as_str() {
                    "--seed" => o.seed = Some(parse_seed(Some(v))?),
                    "--port" => o.port = v.parse().map_err(|_| bad())?,
                    "--bootstrap" => {
                        let m: Multiaddr = v.parse().map_err(|_| bad())?;
                        if !matches!(m.iter().last(), Some(Protocol::P2p(_))) {
                            return Err(bad());
                        }
                        o.bootstrap.push(m);
                    }
                    "--table" => o.table = Some(v.parse().map_err(|_| bad())?),
                    "--closest" => o.closest = v.parse().map_err(|_| bad())?,
                    "--find-peer" => o.find.push(id()?),
                    "--get-pk" => o.get_pk.push(id()?),
                    "--get-record" => o.get_record.push(id()?),
                    "--find-providers" => o.providers.push(id()?),
                    "--timeout" => {
                        let s: f64 = v.parse().map_err(|_| bad())?;
                        if !(s > 0.0 && s < 1e6) {
                            return Err(bad());
                        }
                        o.timeout = Duration::from_secs_f64(s);
                    }
                    _ => return Err(usage_error(&format!("unknown option {a}"))),
                }
            }
        }
    }
    Ok(o)
}

fn pk_key(id: &PeerId) -> kad::RecordKey {
    let mut k = b"/pk/".to_vec();
    k.extend_from_slice(&id.to_bytes());
    kad::RecordKey::new(&k)
}

fn chat_key(id: &PeerId) -> kad::RecordKey {
    let mut k = b"/p2pchat/".to_vec();
    k.extend_from_slice(&id.to_bytes());
    k.push(b'/');
    k.extend_from_slice(RECORD_NAME.as_bytes());
    kad::RecordKey::new(&k)
}

/// The provider key of a PeerId: the sha2-256 multihash (0x12, 0x20,
/// digest) of "p2pchat-interop/<id>".
fn provider_key(id: &PeerId) -> kad::RecordKey {
    use sha2::Digest as _;
    let mut mh = vec![0x12, 0x20];
    mh.extend_from_slice(&sha2::Sha256::digest(
        format!("{PROVIDER_PREFIX}{id}").as_bytes(),
    ));
    kad::RecordKey::new(&mh)
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn get_uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &x) in b.iter().enumerate().take(9) {
        v |= u64::from(x & 0x7f) << (7 * i);
        if x & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// A /p2pchat/ record of ours for `key`, signed by `keypair`.
fn seal_chat_record(
    keypair: &Keypair,
    key: &kad::RecordKey,
    seq: u64,
    data: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut payload = seq.to_be_bytes().to_vec();
    put_uvarint(&mut payload, key.as_ref().len() as u64);
    payload.extend_from_slice(key.as_ref());
    payload.extend_from_slice(data);
    let env = SignedEnvelope::new(
        keypair,
        CHAT_DOMAIN.to_string(),
        CHAT_PAYLOAD_TYPE.to_vec(),
        payload,
    )?;
    Ok(env.into_protobuf_encoding())
}

/// Check a /p2pchat/ value: signed by the peer the key names, over a
/// payload that holds the key. Returns (seq, data).
fn open_chat_record(key: &[u8], value: &[u8]) -> Option<(u64, Vec<u8>)> {
    let rest = key.strip_prefix(b"/p2pchat/")?;
    let env = SignedEnvelope::from_protobuf_encoding(value).ok()?;
    let (payload, signer) = env
        .payload_and_signing_key(CHAT_DOMAIN.to_string(), CHAT_PAYLOAD_TYPE)
        .ok()?;
    let signer_id = signer.to_peer_id().to_bytes();
    let tail = rest.strip_prefix(signer_id.as_slice())?;
    if !tail.is_empty()
        && (tail[0] != b'/' || tail.len() < 2 || tail.len() > 65 || tail[1..].contains(&b'/'))
    {
        return None;
    }
    let seq = u64::from_be_bytes(payload.get(..8)?.try_into().ok()?);
    let (klen, used) = get_uvarint(&payload[8..])?;
    let start = 8 + used;
    let end = start.checked_add(usize::try_from(klen).ok()?)?;
    if payload.get(start..end)? != key {
        return None;
    }
    Some((seq, payload[end..].to_vec()))
}

/// Whether a record may be stored or used: /pk/ (the key of the peer it
/// names) or a valid /p2pchat/ record; any other namespace is refused.
fn record_valid(r: &Record) -> bool {
    let key = r.key.as_ref();
    if let Some(id) = key.strip_prefix(b"/pk/") {
        return match (
            PeerId::from_bytes(id),
            PublicKey::try_decode_protobuf(&r.value),
        ) {
            (Ok(id), Ok(pk)) => pk.to_peer_id() == id,
            _ => false,
        };
    }
    open_chat_record(key, &r.value).is_some()
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Step {
    PutPk,
    PutRecord,
    Provide,
    Closest,
    FindPeer,
    GetPk,
    GetRecord,
    Providers,
    Done,
}

impl Step {
    fn next(self) -> Step {
        match self {
            Step::PutPk => Step::PutRecord,
            Step::PutRecord => Step::Provide,
            Step::Provide => Step::Closest,
            Step::Closest => Step::FindPeer,
            Step::FindPeer => Step::GetPk,
            Step::GetPk => Step::GetRecord,
            Step::GetRecord => Step::Providers,
            Step::Providers | Step::Done => Step::Done,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Step::PutPk => "put pk",
            Step::PutRecord => "put record",
            Step::Provide => "provide",
            Step::Closest => "closest",
            Step::FindPeer => "find-peer",
            Step::GetPk => "get-pk",
            Step::GetRecord => "get-record",
            Step::Providers => "find-providers",
            Step::Done => "done",
        }
    }
}

/// The steps, run one after the other; a failed one is retried.
struct Steps {
    o: KadOpts,
    keypair: Keypair,
    local: PeerId,
    step: Step,
    index: usize,
    query: Option<QueryId>,
    retry_at: Option<tokio::time::Instant>,
}

impl Steps {
    fn list(&self) -> &[PeerId] {
        match self.step {
            Step::FindPeer => &self.o.find,
            Step::GetPk => &self.o.get_pk,
            Step::GetRecord => &self.o.get_record,
            Step::Providers => &self.o.providers,
            _ => &[],
        }
    }

    fn target(&self) -> PeerId {
        self.list()[self.index]
    }

    /// Start the current step (skipping the ones with nothing to do).
    fn start(&mut self, kad: &mut kad::Behaviour<kad::store::MemoryStore>) -> Result<(), Error> {
        loop {
            let wants = match self.step {
                Step::PutPk | Step::PutRecord => self.o.put,
                Step::Provide => self.o.provide,
                Step::Closest => self.o.closest > 0,
                Step::Done => {
                    out!("DONE");
                    return Ok(());
                }
                _ => self.index < self.list().len(),
            };
            if wants {
                break;
            }
            self.step = self.step.next();
            self.index = 0;
        }
        let id = match self.step {
            Step::PutPk => {
                let r = Record::new(pk_key(&self.local), self.keypair.public().encode_protobuf());
                kad.put_record(r, Quorum::One)?
            }
            Step::PutRecord => {
                let key = chat_key(&self.local);
                let s = self.local.to_string();
                let data = format!("rust-{}", &s[s.len() - 6..]);
                let seq = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1);
                let value = seal_chat_record(&self.keypair, &key, seq, data.as_bytes())?;
                kad.put_record(Record::new(key, value), Quorum::One)?
            }
            Step::Provide => kad.start_providing(provider_key(&self.local))?,
            Step::Closest => kad.get_closest_peers(self.local),
            Step::FindPeer => kad.get_closest_peers(self.target()),
            Step::GetPk => kad.get_record(pk_key(&self.target())),
            Step::GetRecord => kad.get_record(chat_key(&self.target())),
            Step::Providers => kad.get_providers(provider_key(&self.target())),
            Step::Done => unreachable!(),
        };
        self.query = Some(id);
        Ok(())
    }

    /// The current query succeeded: on to the next one.
    fn advance(&mut self, kad: &mut kad::Behaviour<kad::store::MemoryStore>) -> Result<(), Error> {
        if let Some(q) = self.query.take() {
            if let Some(mut q) = kad.query_mut(&q) {
                q.finish();
            }
        }
        self.index += 1;
        if self.index >= self.list().len() {
            self.step = self.step.next();
            self.index = 0;
        }
        self.start(kad)
    }

    /// It failed: again in a while.
    fn retry_later(&mut self, why: &str) {
        eprintln!("interop-peer: {}: {why} (retrying)", self.step.name());
        self.query = None;
        self.retry_at = Some(tokio::time::Instant::now() + RETRY);
    }

    /// A query result: true when it was ours.
    fn on_result(
        &mut self,
        kad: &mut kad::Behaviour<kad::store::MemoryStore>,
        id: QueryId,
        result: QueryResult,
        last: bool,
    ) -> Result<(), Error> {
        if self.query != Some(id) {
            return Ok(());
        }
        match result {
            QueryResult::PutRecord(Ok(_)) => {
                out!(
                    "PUT {} ok",
                    if self.step == Step::PutPk {
                        "pk"
                    } else {
                        "record"
                    }
                );
                return self.advance(kad);
            }
            QueryResult::StartProviding(Ok(_)) => {
                out!("PROVIDED ok");
                return self.advance(kad);
            }
            QueryResult::GetClosestPeers(Ok(ok)) if self.step == Step::Closest => {
                if ok.peers.len() >= self.o.closest {
                    let ids: Vec<String> = ok.peers.iter().map(|p| p.peer_id.to_string()).collect();
                    out!("CLOSEST {} {}", ids.len(), ids.join(","));
                    return self.advance(kad);
                }
            }
            QueryResult::GetClosestPeers(Ok(ok)) => {
                let t = self.target();
                if let Some(p) = ok
                    .peers
                    .iter()
                    .find(|p| p.peer_id == t && !p.addrs.is_empty())
                {
                    let addrs: Vec<String> =
                        p.addrs.iter().map(|a| strip_p2p(a).to_string()).collect();
                    out!("FOUND_PEER {t} {}", addrs.join(","));
                    return self.advance(kad);
                }
            }
            QueryResult::GetRecord(Ok(GetRecordOk::FoundRecord(pr))) => {
                let t = self.target();
                if record_valid(&pr.record) {
                    if self.step == Step::GetPk {
                        out!("GOT_PK {t}");
                    } else if let Some((seq, data)) =
                        open_chat_record(pr.record.key.as_ref(), &pr.record.value)
                    {
                        out!("GOT_RECORD {t} seq={seq} data={}", printable(&data));
                    }
                    return self.advance(kad);
                }
                if !last {
                    return Ok(()); // an invalid one: wait for others
                }
            }
            QueryResult::GetProviders(Ok(GetProvidersOk::FoundProviders { providers, .. })) => {
                let t = self.target();
                if providers.contains(&t) {
                    let ids: Vec<String> = providers.iter().map(|p| p.to_string()).collect();
                    out!("PROVIDERS {t} {}", ids.join(","));
                    return self.advance(kad);
                }
                if !last {
                    return Ok(());
                }
            }
            _ if !last => return Ok(()),
            _ => {}
        }
        if last {
            self.retry_later("not found");
        }
        Ok(())
    }
}

pub fn cmd_kad(args: &[String]) -> Result<ExitCode, Error> {
    let o = parse_kad_opts(args)?;
    exit_on_signal()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let keypair = identity(o.seed)?;
        let local = keypair.public().to_peer_id();
        let mut cfg = kad::Config::new(KAD_PROTOCOL);
        cfg.set_record_filtering(kad::StoreInserts::FilterBoth);
        let mut kad = kad::Behaviour::with_config(local, kad::store::MemoryStore::new(local), cfg);
        // Server on loopback: rust decides from confirmed external
        // addresses otherwise, which loopback never gets.
        kad.set_mode(Some(kad::Mode::Server));
        let behaviour = KadBehaviour {
            identify: identify::Behaviour::new(identify::Config::new(
                IDENTIFY_PROTOCOL_VERSION.to_string(),
                keypair.public(),
            )),
            ping: ping::Behaviour::new(ping::Config::new()),
            kad,
        };
        let mut swarm = tcp_swarm(keypair.clone(), behaviour)?;
        let local = *swarm.local_peer_id();
        out!("PEERID {local}");
        swarm.listen_on(format!("/ip4/127.0.0.1/tcp/{}", o.port).parse()?)?;
        for b in &o.bootstrap {
            let Some(Protocol::P2p(id)) = b.iter().last() else { unreachable!() };
            swarm.behaviour_mut().kad.add_address(&id, strip_p2p(b));
            swarm.dial(b.clone())?;
        }
        let table_min = o.table.unwrap_or(o.bootstrap.len().min(1));
        let timeout = o.timeout;
        let mut steps = Steps {
            o,
            keypair,
            local,
            step: Step::PutPk,
            index: 0,
            query: None,
            retry_at: None,
        };
        let mut started = false;
        let mut in_table: HashSet<PeerId> = HashSet::new();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = &mut deadline => {
                    if steps.step == Step::Done {
                        return Ok(ExitCode::SUCCESS);
                    }
                    if started {
                        let n = steps.list().len();
                        if n > 0 {
                            out!("TIMEOUT {} ({}/{n} done)", steps.step.name(), steps.index);
                        } else {
                            out!("TIMEOUT {}", steps.step.name());
                        }
                    } else {
                        out!("TIMEOUT routing table ({}/{table_min} peers)", in_table.len());
                    }
                    return Ok(ExitCode::from(2));
                }
                _ = tick.tick() => {
                    let kad = &mut swarm.behaviour_mut().kad;
                    if !started && in_table.len() >= table_min {
                        started = true;
                        steps.start(kad)?;
                    }
                    if steps.retry_at.is_some_and(|t| tokio::time::Instant::now() >= t) {
                        steps.retry_at = None;
                        steps.start(kad)?;
                    }
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
                    SwarmEvent::Behaviour(KadBehaviourEvent::Identify(identify::Event::Received {
                        peer_id, info, ..
                    })) => {
                        if info.protocols.contains(&KAD_PROTOCOL) {
                            for a in info.listen_addrs {
                                swarm.behaviour_mut().kad.add_address(&peer_id, a);
                            }
                        }
                    }
                    SwarmEvent::Behaviour(KadBehaviourEvent::Kad(ev)) => match ev {
                        kad::Event::RoutingUpdated { peer, is_new_peer: true, .. } => {
                            if in_table.insert(peer) {
                                out!("ROUTING {peer}");
                            }
                        }
                        kad::Event::InboundRequest { request } => match request {
                            kad::InboundRequest::PutRecord { record: Some(r), source, .. } => {
                                if record_valid(&r) {
                                    if let Err(e) = swarm.behaviour_mut().kad.store_mut().put(r) {
                                        eprintln!("interop-peer: cannot store a record from {source}: {e}");
                                    }
                                } else {
                                    eprintln!("interop-peer: refused an invalid record from {source}");
                                }
                            }
                            kad::InboundRequest::AddProvider { record: Some(r) } => {
                                if let Err(e) = swarm.behaviour_mut().kad.store_mut().add_provider(r) {
                                    eprintln!("interop-peer: cannot store a provider record: {e}");
                                }
                            }
                            _ => {}
                        },
                        kad::Event::OutboundQueryProgressed { id, result, step, .. } => {
                            steps.on_result(&mut swarm.behaviour_mut().kad, id, result, step.last)?;
                        }
                        _ => {}
                    },
                    _ => {}
                },
            }
        }
    })
}
