// js-libp2p test peer for the p2pchat interop tests (not part of the product).
//
// Usage: node kad.mjs [--seed N] [--port P] [--bootstrap MADDR]... [--table K]
//                     [--put] [--provide] [--closest K] [--find-peer ID]...
//                     [--get-pk ID]... [--get-record ID]... [--find-providers ID]...
//                     [--timeout S]
//
// @libp2p/kad-dht as a DHT server on /ipfs/kad/1.0.0 (contract in
// tests/interop/README.md). js defaults that the test changes: client mode
// (js turns to server only when it thinks it has a public address, never
// on loopback) and the address mapper that drops loopback and private
// addresses from what it stores and sends (passthroughMapper keeps them).
// Records: /pk/<id> (js's built-in validator) and /p2pchat/<id>/<name>, the
// p2pchat record (a signed envelope, domain "p2pchat-kad-record", payload
// type "/p2pchat/kad-record/1", payload seq (8 bytes BE) || uvarint(len key)
// || key || data), sealed and checked with @libp2p/peer-record's envelopes.

import './polyfill.mjs'

const { createNode, dialAll, out, parseArgs, privateKey, rssMaxKiB, usage, watchConnections } = await import('./common.mjs')
const { kadDHT, passthroughMapper } = await import('@libp2p/kad-dht')
const { RecordEnvelope } = await import('@libp2p/peer-record')
const { peerIdFromString, peerIdFromPublicKey } = await import('@libp2p/peer-id')
const { publicKeyFromProtobuf, publicKeyToProtobuf } = await import('@libp2p/crypto/keys')
const { multiaddr } = await import('@multiformats/multiaddr')
const { CID } = await import('multiformats/cid')
const { sha256 } = await import('multiformats/hashes/sha2')

const PROG = 'kad'
const TEXT = 'node kad.mjs [--seed N] [--port P] [--bootstrap MADDR]... [--table K] [--put] [--provide] [--closest K] [--find-peer ID]... [--get-pk ID]... [--get-record ID]... [--find-providers ID]... [--timeout S]'
const RECORD_NAME = 'interop'
const PROVIDER_PREFIX = 'p2pchat-interop/'
const CHAT_DOMAIN = 'p2pchat-kad-record'
const CHAT_CODEC = new TextEncoder().encode('/p2pchat/kad-record/1')
const RETRY_MS = 1000
const ATTEMPT_MS = 10000

const { opts, positional } = parseArgs(process.argv.slice(2), {
  seed: 'seed',
  port: 'int',
  bootstrap: 'list',
  table: 'int',
  put: 'flag',
  provide: 'flag',
  closest: 'int',
  'find-peer': 'list',
  'get-pk': 'list',
  'get-record': 'list',
  'find-providers': 'list',
  timeout: 'float'
}, PROG, TEXT)
if (positional.length !== 0) usage(PROG, TEXT, 'no positional arguments expected')
const port = opts.port ?? 0
if (port > 65535) usage(PROG, TEXT, `bad port ${port}`)
let boots, find, getPk, getRecord, providers
try {
  boots = (opts.bootstrap ?? []).map(a => {
    const ma = multiaddr(a)
    if (!/\/p2p\/[^/]+$/.test(ma.toString())) throw new Error(`${a}: the multiaddr must end with /p2p/<peer id>`)
    return ma
  })
  const ids = (name) => (opts[name] ?? []).map(s => peerIdFromString(s))
  find = ids('find-peer')
  getPk = ids('get-pk')
  getRecord = ids('get-record')
  providers = ids('find-providers')
} catch (err) {
  usage(PROG, TEXT, err.message)
}
const tableMin = opts.table ?? Math.min(boots.length, 1)
const timeoutS = opts.timeout ?? 60

const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let off = 0
  for (const p of parts) { out.set(p, off); off += p.length }
  return out
}
const utf8 = (s) => new TextEncoder().encode(s)
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i])

function uvarint (n) {
  const out = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return Uint8Array.from(out)
}

function readUvarint (b, off) {
  let v = 0
  for (let i = 0; i < 9 && off + i < b.length; i++) {
    v += (b[off + i] & 0x7f) * 2 ** (7 * i)
    if ((b[off + i] & 0x80) === 0) return [v, i + 1]
  }
  throw new Error('bad uvarint')
}

const pkKey = (id) => concat(utf8('/pk/'), id.toMultihash().bytes)
const chatKey = (id) => concat(utf8('/p2pchat/'), id.toMultihash().bytes, utf8('/' + RECORD_NAME))

/** The CID (raw, v1) of sha256("p2pchat-interop/<id>"): its multihash is
 * the provider key on the wire. */
async function providerCid (id) {
  return CID.createV1(0x55, await sha256.digest(utf8(PROVIDER_PREFIX + id.toString())))
}

/** Check a /p2pchat/ value: signed by the peer the key names, over a
 * payload that holds the key. Returns { seq, data }; throws if invalid. */
async function openChatRecord (key, value) {
  const prefix = utf8('/p2pchat/')
  if (!equal(key.subarray(0, prefix.length), prefix)) throw new Error('not a /p2pchat/ key')
  const env = await RecordEnvelope.openAndCertify(value, CHAT_DOMAIN)
  if (!equal(env.payloadType, CHAT_CODEC)) throw new Error('wrong payload type')
  const signer = peerIdFromPublicKey(env.publicKey).toMultihash().bytes
  const rest = key.subarray(prefix.length)
  if (!equal(rest.subarray(0, signer.length), signer)) throw new Error('not signed by the key\'s peer')
  const tail = rest.subarray(signer.length)
  if (tail.length > 0 && (tail[0] !== 0x2f || tail.length < 2 || tail.length > 65 || tail.subarray(1).includes(0x2f))) {
    throw new Error('bad name')
  }
  const p = env.payload instanceof Uint8Array ? env.payload : env.payload.subarray()
  if (p.length < 8) throw new Error('short payload')
  const seq = new DataView(p.buffer, p.byteOffset, 8).getBigUint64(0)
  const [klen, used] = readUvarint(p, 8)
  const end = 8 + used + klen
  if (end > p.length || !equal(p.subarray(8 + used, end), key)) throw new Error('signed for another key')
  return { seq, data: p.subarray(end) }
}

/** The newest seq wins, ties go to the larger value bytes (as the C plugin). */
async function selectChatRecord (key, values) {
  let best = -1
  let bestSeq = 0n
  for (let i = 0; i < values.length; i++) {
    let r
    try { r = await openChatRecord(key, values[i]) } catch { continue }
    if (best < 0 || r.seq > bestSeq || (r.seq === bestSeq && Buffer.compare(values[i], values[best]) > 0)) {
      best = i
      bestSeq = r.seq
    }
  }
  return Math.max(best, 0)
}

function printable (data) {
  let s = ''
  for (const b of data) s += (b >= 0x21 && b <= 0x7e) ? String.fromCharCode(b) : '?'
  return s
}

const key = await privateKey(opts.seed)
const node = await createNode({
  key,
  listen: [`/ip4/127.0.0.1/tcp/${port}`],
  services: {
    dht: kadDHT({
      protocol: '/ipfs/kad/1.0.0',
      clientMode: false,
      peerInfoMapper: passthroughMapper,
      validators: { p2pchat: async (k, v) => { await openChatRecord(k, v) } },
      selectors: { p2pchat: selectChatRecord }
    })
  }
})
const dht = node.services.dht
const self = node.peerId
watchConnections(node)

let pending = 'routing table'
let done = false
setTimeout(() => {
  if (done) process.exit(0)
  out(`TIMEOUT ${pending}`)
  process.exit(2)
}, timeoutS * 1000)
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    out(`RSS_MAX_KIB ${rssMaxKiB()}`)
    process.exit(0)
  })
}

out(`PEERID ${self}`)
for (const ma of node.getMultiaddrs()) out(`LISTEN ${ma}`)
const inTable = new Set()
dht.routingTable.addEventListener('peer:add', (evt) => {
  const id = evt.detail.toString()
  if (!inTable.has(id)) {
    inTable.add(id)
    out(`ROUTING ${id}`)
  }
})

await dialAll(node, boots)

const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))

/** Run f until it returns true (each attempt bounded by ATTEMPT_MS). */
async function retry (what, f) {
  pending = what
  for (;;) {
    try {
      if (await f(AbortSignal.timeout(ATTEMPT_MS))) return
    } catch (err) {
      process.stderr.write(`kad: ${what}: ${err.message ?? err} (retrying)\n`)
    }
    await sleep(RETRY_MS)
  }
}

/** The events of a DHT query, collected. */
async function events (iterable) {
  const all = []
  for await (const ev of iterable) all.push(ev)
  return all
}

/** How many peers echoed our PUT_VALUE. */
async function putValue (k, v, signal) {
  const evs = await events(dht.put(k, v, { signal }))
  const ok = new Set(evs.filter(e => e.name === 'PEER_RESPONSE' && e.record != null && equal(e.record.value, v))
    .map(e => e.from.toString()))
  if (ok.size === 0) throw new Error('no peer took it')
  return ok.size
}

while (inTable.size < tableMin) await sleep(100)

if (opts.put) {
  await retry('put pk', async (signal) => {
    out(`PUT pk ok peers=${await putValue(pkKey(self), publicKeyToProtobuf(key.publicKey), signal)}`)
    return true
  })
  const rk = chatKey(self)
  const s = self.toString()
  const seq = new Uint8Array(8)
  new DataView(seq.buffer).setBigUint64(0, BigInt(Date.now()) * 1000000n)
  const payload = concat(seq, uvarint(rk.length), rk, utf8(`js-${s.slice(-6)}`))
  const env = await RecordEnvelope.seal({ domain: CHAT_DOMAIN, codec: CHAT_CODEC, marshal: () => payload }, key)
  await retry('put record', async (signal) => {
    out(`PUT record ok peers=${await putValue(rk, env.marshal(), signal)}`)
    return true
  })
}
if (opts.provide) {
  const cid = await providerCid(self)
  await retry('provide', async (signal) => {
    await events(dht.provide(cid, { signal }))
    out('PROVIDED ok')
    return true
  })
}
if ((opts.closest ?? 0) > 0) {
  await retry('closest', async (signal) => {
    const evs = await events(dht.getClosestPeers(self.toMultihash().bytes, { signal }))
    const ids = [...new Set(evs.filter(e => e.name === 'FINAL_PEER').map(e => e.peer.id.toString()))]
    if (ids.length < opts.closest) return false
    out(`CLOSEST ${ids.length} ${ids.join(',')}`)
    return true
  })
}
for (const [i, id] of find.entries()) {
  await retry(`find-peer (${i}/${find.length} done)`, async (signal) => {
    const evs = await events(dht.findPeer(id, { signal }))
    const p = evs.find(e => e.name === 'FINAL_PEER' && e.peer.id.equals(id) && e.peer.multiaddrs.length > 0)
    if (p == null) return false
    out(`FOUND_PEER ${id} ${p.peer.multiaddrs.map(a => a.toString()).join(',')}`)
    return true
  })
}
for (const [i, id] of getPk.entries()) {
  await retry(`get-pk (${i}/${getPk.length} done)`, async (signal) => {
    const v = (await events(dht.get(pkKey(id), { signal }))).filter(e => e.name === 'VALUE').pop()
    if (v == null) return false
    if (!peerIdFromPublicKey(publicKeyFromProtobuf(v.value)).equals(id)) throw new Error('not its public key')
    out(`GOT_PK ${id}`)
    return true
  })
}
for (const [i, id] of getRecord.entries()) {
  await retry(`get-record (${i}/${getRecord.length} done)`, async (signal) => {
    const v = (await events(dht.get(chatKey(id), { signal }))).filter(e => e.name === 'VALUE').pop()
    if (v == null) return false
    const r = await openChatRecord(chatKey(id), v.value)
    out(`GOT_RECORD ${id} seq=${r.seq} data=${printable(r.data)}`)
    return true
  })
}
for (const [i, id] of providers.entries()) {
  const cid = await providerCid(id)
  await retry(`find-providers (${i}/${providers.length} done)`, async (signal) => {
    const evs = await events(dht.findProviders(cid, { signal }))
    const ids = [...new Set(evs.filter(e => e.name === 'PROVIDER').flatMap(e => e.providers.map(p => p.id.toString())))]
    if (!ids.includes(id.toString())) return false
    out(`PROVIDERS ${id} ${ids.join(',')}`)
    return true
  })
}
done = true
pending = 'done'
out('DONE')
