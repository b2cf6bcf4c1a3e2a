// The benchmark subcommands of bench/run.sh (the contract, the same for the
// rust, go and C peers, is in bench/README.md), and the /perf/1.0.0 peer of
// the interop.perf tests (/perf/1.0.0: perf.mjs). A perf address with
// /p2p-circuit is dialed through the relay it names.
//
//   node bench.mjs perf-server [--port P]
//   node bench.mjs perf <multiaddr/p2p/ID> [--upload B] [--download B]
//   node bench.mjs handshakes <multiaddr/p2p/ID> [--count N]
//   node bench.mjs gossip-sub [--expect N] [--idle-ms MS] [--unsigned]
//   node bench.mjs gossip-pub --rate R --count N [--size B] [--unsigned] <multiaddr/p2p/ID>...
//
// The node is the interop peer's (common.mjs: TCP + Noise + Yamux,
// identify and ping, connection-rate limits raised). gossip-sub/gossip-pub
// follow cbench_gossip.c (bench/peers/c): each message starts with its
// sequence number and the publisher's CLOCK_MONOTONIC time (8 bytes
// big-endian each; process.hrtime is libuv's uv_hrtime, the C peer's
// clock). Signed messages (js's default StrictSign); --unsigned:
// StrictNoSign. publish() is awaited message by message; a publish that
// throws is counted as "eagain" and retried on the next 1 ms tick.

import './polyfill.mjs'

const { createNode, out, parseArgs, usage } = await import('./common.mjs')
const { handlePerf, perfClient } = await import('./perf.mjs')
const { circuitRelayTransport } = await import('@libp2p/circuit-relay-v2')
const { gossipsub } = await import('@libp2p/gossipsub')
const { multiaddr } = await import('@multiformats/multiaddr')

const PROG = 'bench'
const TEXT = 'node bench.mjs perf-server [--port P] | perf <maddr> [--upload B] [--download B] | ' +
  'handshakes <maddr> [--count N] | gossip-sub [--expect N] [--idle-ms MS] [--unsigned] | ' +
  'gossip-pub --rate R --count N [--size B] [--unsigned] <maddr>...'
const TOPIC = 'bench'

function fail (msg) {
  out(`ERROR ${msg}`)
  process.exit(1)
}

function exitOnSignal () {
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0))
}

async function cmdPerfServer (o) {
  const node = await createNode({ listen: [`/ip4/127.0.0.1/tcp/${o.port ?? 0}`] })
  await handlePerf(node, PROG)
  for (const ma of node.getMultiaddrs()) out(`LISTEN ${ma}`)
  exitOnSignal()
}

function target (pos) {
  if (pos.length !== 1) usage(PROG, TEXT, 'exactly one multiaddr expected')
  return multiaddr(pos[0])
}

async function cmdPerf (o, pos) {
  const addr = target(pos)
  const upload = o.upload ?? 0
  const download = o.download ?? 0
  // through a relay (bench/run.sh's relayed throughput): the relay
  // transport, and streams on limited connections allowed
  const relayed = addr.toString().includes('/p2p-circuit')
  const node = await createNode({ transports: relayed ? [circuitRelayTransport()] : [] })
  const conn = await node.dial(addr)
  const { secs, got } = await perfClient(conn, upload, download, { runOnLimitedConnection: relayed })
  if (got !== download) fail(`downloaded ${got} bytes, asked for ${download}`)
  out(`{"type":"final","timeSeconds":${secs.toFixed(6)},"uploadBytes":${upload},"downloadBytes":${got}}`)
  process.exit(0)
}

async function cmdHandshakes (o, pos) {
  const addr = target(pos)
  const count = o.count ?? 100
  const node = await createNode({})
  // connection ids identified so far (identify may finish before dial()'s
  // caller resumes) and the one waited for
  const identified = new Set()
  let waiting = null
  node.addEventListener('peer:identify', (evt) => {
    const id = evt.detail.connection?.id
    identified.add(id)
    if (waiting != null && id === waiting.id) waiting.resolve()
  })
  const t0 = performance.now()
  for (let i = 0; i < count; i++) {
    const conn = await node.dial(addr)
    if (!identified.has(conn.id)) {
      const { promise, resolve } = Promise.withResolvers()
      waiting = { id: conn.id, resolve }
      const timer = setTimeout(() => fail(`connection ${i}: no identify within 10 s`), 10000)
      await promise
      clearTimeout(timer)
      waiting = null
    }
    identified.delete(conn.id)
    await conn.close()
  }
  const secs = (performance.now() - t0) / 1000
  out(`{"type":"handshakes","count":${count},"timeSeconds":${secs.toFixed(6)}}`)
  process.exit(0)
}

/** A node with gossipsub (js's defaults, or StrictNoSign). */
function gossipNode (o, listen = []) {
  return createNode({
    listen,
    services: { pubsub: gossipsub({ globalSignaturePolicy: o.unsigned ? 'StrictNoSign' : 'StrictSign', emitSelf: false }) }
  })
}

/** CLOCK_MONOTONIC in nanoseconds (uv_hrtime). */
const monotonicNs = () => process.hrtime.bigint()

async function cmdGossipSub (o, pos) {
  if (pos.length !== 0) usage(PROG, TEXT, 'gossip-sub takes no positional arguments')
  const expect = o.expect ?? 10000
  const idleMs = o['idle-ms'] ?? 3000
  if (expect < 1 || expect > 1e8 || idleMs > 600000) usage(PROG, TEXT, 'an option is out of range')
  const node = await gossipNode(o, [`/ip4/127.0.0.1/tcp/${o.port ?? 0}`])
  const ps = node.services.pubsub
  const seen = new Uint8Array(expect)
  const lat = new Uint32Array(expect)
  let received = 0
  let dups = 0
  let firstNs = 0n
  let lastNs = 0n
  // before the first message: 30 s, then idle-ms after the last one
  let deadline = Date.now() + 30000
  const finish = () => {
    const sorted = lat.subarray(0, received).sort()
    const pct = (p) => received === 0 ? 0 : sorted[Math.floor((received - 1) * p / 100 + 0.5)]
    const cdf = []
    for (let p = 0; p <= 100; p++) cdf.push(pct(p))
    out(`{"type":"gossip-sub","received":${received},"duplicates":${dups},"firstNs":${firstNs},"lastNs":${lastNs},` +
      `"p50Us":${pct(50)},"p99Us":${pct(99)},"maxUs":${pct(100)},"cdfUs":[${cdf.join(',')}]}`)
    process.exit(0)
  }
  ps.addEventListener('message', (evt) => {
    const now = monotonicNs()
    const d = evt.detail.data
    if (evt.detail.topic !== TOPIC || d.length < 16) return
    deadline = Date.now() + idleMs
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength)
    const seq = v.getBigUint64(0)
    const t = v.getBigUint64(8)
    if (seq >= BigInt(expect) || seen[Number(seq)]) {
      dups++
      return
    }
    seen[Number(seq)] = 1
    if (firstNs === 0n) firstNs = now
    lastNs = now
    lat[received++] = now > t ? Number((now - t) / 1000n) : 0
    if (received === expect) finish()
  })
  ps.subscribe(TOPIC)
  for (const ma of node.getMultiaddrs()) out(`LISTEN ${ma}`)
  setInterval(() => { if (Date.now() > deadline) finish() }, 100)
  exitOnSignal()
}

async function cmdGossipPub (o, pos) {
  if (pos.length === 0) usage(PROG, TEXT, 'gossip-pub: no subscriber address')
  const count = o.count ?? 1000
  const rate = o.rate ?? 0
  const size = o.size ?? 1024
  if (size < 16 || size > 1 << 20 || count < 1) usage(PROG, TEXT, 'an option is out of range')
  const targets = pos.map(a => multiaddr(a))
  const ids = targets.map(a => /\/p2p\/([^/]+)$/.exec(a.toString())?.[1] ?? usage(PROG, TEXT, `${a}: the multiaddr must end with /p2p/<peer id>`))
  const node = await gossipNode(o)
  const ps = node.services.pubsub
  exitOnSignal()
  ps.subscribe(TOPIC)
  try {
    await Promise.all(targets.map(a => node.dial(a)))
  } catch (err) {
    fail(`connect: ${err.message ?? err}`)
  }
  const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))
  const joinedBy = Date.now() + 30000
  for (;;) {
    const subs = new Set(ps.getSubscribers(TOPIC).map(p => p.toString()))
    if (ids.every(id => subs.has(id))) break
    if (Date.now() > joinedBy) fail('the subscribers did not join within 30 s')
    await sleep(1)
  }
  const buf = new Uint8Array(size)
  const view = new DataView(buf.buffer)
  let sent = 0
  let eagain = 0
  const t0 = performance.now()
  const startNs = monotonicNs()
  while (sent < count) {
    const due = rate > 0 ? Math.min(count, Math.floor((performance.now() - t0) / 1000 * rate) + 1) : count
    while (sent < due) {
      view.setBigUint64(0, BigInt(sent))
      view.setBigUint64(8, monotonicNs())
      try {
        await ps.publish(TOPIC, buf.slice())
      } catch (err) {
        eagain++
        break // retried on the next tick
      }
      sent++
    }
    if (sent < count) await sleep(1)
  }
  const secs = (performance.now() - t0) / 1000
  out(`{"type":"gossip-pub","sent":${sent},"timeSeconds":${secs.toFixed(6)},"eagain":${eagain},"size":${size},"startNs":${startNs}}`)
  // hold the connections until killed, so that the queues drain
}

const [cmd, ...rest] = process.argv.slice(2)
const cmds = {
  'perf-server': cmdPerfServer,
  perf: cmdPerf,
  handshakes: cmdHandshakes,
  'gossip-sub': cmdGossipSub,
  'gossip-pub': cmdGossipPub
}
if (cmds[cmd] == null) usage(PROG, TEXT, `unknown subcommand ${JSON.stringify(cmd)}`)
const { opts, positional } = parseArgs(rest, {
  port: 'int',
  upload: 'int',
  download: 'int',
  count: 'int',
  rate: 'int',
  size: 'int',
  expect: 'int',
  'idle-ms': 'int',
  unsigned: 'flag'
}, PROG, TEXT)
cmds[cmd](opts, positional).catch(err => fail(err.stack ?? err))
