// js-libp2p test peer for the p2pchat interop tests (not part of the product).
//
// Usage: node pubsub.mjs --topic T [--port P] [--seed N] [--connect MADDR]...
//                        [--publish-every MS] [--count N] [--expect K]
//                        [--timeout S] [--start-file PATH]
//
// Gossipsub (@libp2p/gossipsub, StrictSign): listens on
// /ip4/127.0.0.1/tcp/P, dials every --connect address, joins T, waits until
// a peer is in its mesh for T (and PATH exists, with --start-file),
// publishes N (default 5) messages "js-<last 6 characters of the
// PeerId>-<i>" every MS (default 200) milliseconds, prints RECV <author> <text> for every message received and
// DONE once all are published and K (default 0) distinct messages from
// others arrived. After DONE it keeps serving until killed or the timeout
// (default 30 s; exit 0); at the timeout before DONE it prints TIMEOUT and
// exits 2. See tests/interop/README.md.

import './polyfill.mjs'
import { existsSync } from 'node:fs'

const { createNode, dialAll, out, parseArgs, rssMaxKiB, usage, watchConnections } = await import('./common.mjs')
const { gossipsub } = await import('@libp2p/gossipsub')
const { multiaddr } = await import('@multiformats/multiaddr')

const PROG = 'pubsub'
const TEXT = 'node pubsub.mjs --topic T [--port P] [--seed N] [--connect MADDR]... [--publish-every MS] [--count N] [--expect K] [--timeout S] [--start-file PATH]'

const { opts, positional } = parseArgs(process.argv.slice(2), {
  topic: 'string',
  port: 'int',
  seed: 'seed',
  connect: 'list',
  'publish-every': 'int',
  count: 'int',
  expect: 'int',
  timeout: 'float',
  'start-file': 'string'
}, PROG, TEXT)
const topic = opts.topic
const connects = opts.connect ?? []
if (positional.length !== 0) usage(PROG, TEXT, 'no positional arguments expected')
if (topic == null || topic === '') usage(PROG, TEXT, '--topic is required')
const port = opts.port ?? 0
if (port > 65535) usage(PROG, TEXT, `bad port ${port}`)
const every = opts['publish-every'] ?? 200
const count = opts.count ?? 5
const expect = opts.expect ?? 0
const timeoutS = opts.timeout ?? 30
let targets
try {
  targets = connects.map(a => {
    const ma = multiaddr(a)
    if (!/\/p2p\/[^/]+$/.test(ma.toString())) throw new Error(`${a}: the multiaddr must end with /p2p/<peer id>`)
    return ma
  })
} catch (err) {
  usage(PROG, TEXT, `bad --connect: ${err.message}`)
}

let published = 0
let done = false
const seen = new Set()
function pending () {
  if (published < count) return published === 0 ? 'mesh peer or start file' : `publish (${published}/${count} done)`
  return `receive (${seen.size}/${expect})`
}
function checkDone () {
  if (!done && published >= count && seen.size >= expect) {
    done = true
    out('DONE')
  }
}
setTimeout(() => {
  if (done) process.exit(0)
  out(`TIMEOUT ${pending()}`)
  process.exit(2)
}, timeoutS * 1000)

const node = await createNode({
  seed: opts.seed,
  listen: [`/ip4/127.0.0.1/tcp/${port}`],
  // library defaults but for the explicit signature policy (the default
  // is StrictSign too); our own messages are not delivered to us
  services: { pubsub: gossipsub({ globalSignaturePolicy: 'StrictSign', emitSelf: false }) }
})
const ps = node.services.pubsub
const self = node.peerId.toString()
const suffix = self.slice(-6)
watchConnections(node)

/** Message data as one token: bytes outside '!'..'~' become '?'. */
function printable (data) {
  let s = ''
  for (const b of data) s += (b >= 0x21 && b <= 0x7e) ? String.fromCharCode(b) : '?'
  return s
}

ps.addEventListener('message', (evt) => {
  const m = evt.detail
  if (m.topic !== topic) return
  const author = m.type === 'signed' ? m.from.toString() : 'anonymous'
  if (author === self) return
  const text = printable(m.data)
  out(`RECV ${author} ${text}`)
  if (m.type === 'signed') {
    seen.add(`${author} ${text}`)
    checkDone()
  }
})
ps.addEventListener('subscription-change', (evt) => {
  for (const s of evt.detail.subscriptions) {
    if (s.topic === topic) out(`${s.subscribe ? 'SUBSCRIBED' : 'UNSUBSCRIBED'} ${evt.detail.peerId}`)
  }
})
ps.subscribe(topic)

out(`PEERID ${self}`)
for (const ma of node.getMultiaddrs()) out(`LISTEN ${ma}`)

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    out(`RSS_MAX_KIB ${rssMaxKiB()}`)
    process.exit(0)
  })
}

await dialAll(node, targets)

const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))
// MESH for every peer that entered our mesh since the last look
let mesh = new Set()
setInterval(() => {
  const now = new Set(ps.getMeshPeers(topic))
  for (const p of now) if (!mesh.has(p)) out(`MESH ${p}`)
  mesh = now
}, 20)
while (mesh.size === 0 || (opts['start-file'] != null && !existsSync(opts['start-file']))) await sleep(20)
for (let i = 1; i <= count;) {
  const text = `js-${suffix}-${i}`
  try {
    await ps.publish(topic, new TextEncoder().encode(text))
    out(`PUBLISHED ${text}`)
    published = i++
    checkDone()
  } catch (err) {
    out(`PUBLISH_RETRY ${text} ${err.message ?? err}`)
  }
  await sleep(every)
}
checkDone()
