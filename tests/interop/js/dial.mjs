// js-libp2p test peer for the p2pchat interop tests (not part of the product).
//
// Usage: node dial.mjs <multiaddr-with-/p2p/> [--streams K] [--bytes B]
//                      [--pings N] [--seed N] [--timeout S]
//
// Dials, waits until identify with the remote completed, pings N times
// (default 3), then opens K (default 8) concurrent /p2pchat/echo/1.0.0
// streams, each writing B (default 65536) pseudo-random bytes, half-closing
// and checking the echo. Prints DONE and exits 0 on full success; exits 2
// with TIMEOUT after --timeout seconds (default 30). See
// tests/interop/README.md.

import './polyfill.mjs'

const {
  ECHO_PROTOCOL, STREAM_LIMITS, createNode, identifiedLine, out, parseArgs,
  readAll, usage, watchConnections, writeAndClose
} = await import('./common.mjs')
const { multiaddr } = await import('@multiformats/multiaddr')
const { peerIdFromString } = await import('@libp2p/peer-id')

const PROG = 'dial'
const TEXT = 'node dial.mjs <multiaddr-with-/p2p/> [--streams K] [--bytes B] [--pings N] [--seed N] [--timeout S]'

const { opts, positional } = parseArgs(process.argv.slice(2), {
  streams: 'int', bytes: 'int', pings: 'int', seed: 'seed', timeout: 'float'
}, PROG, TEXT)
if (positional.length !== 1) usage(PROG, TEXT, 'exactly one multiaddr expected')
const streams = opts.streams ?? 8
const nbytes = opts.bytes ?? 65536
const pings = opts.pings ?? 3
const timeoutS = opts.timeout ?? 30

let addr, target
try {
  addr = multiaddr(positional[0])
  const m = /\/p2p\/([^/]+)$/.exec(addr.toString())
  if (m == null) throw new Error('the multiaddr must end with /p2p/<peer id>')
  target = peerIdFromString(m[1])
} catch (err) {
  usage(PROG, TEXT, `bad multiaddr ${JSON.stringify(positional[0])}: ${err.message}`)
}

// Global timeout: report what was pending and exit 2.
let pending = 'connect'
setTimeout(() => {
  out(`TIMEOUT ${pending}`)
  process.exit(2)
}, timeoutS * 1000)

function fail (line) {
  out(line)
  process.exit(1)
}

/** Deterministic pseudo-random bytes (xorshift32), different per stream. */
function pseudoRandomBytes (index, len) {
  const b = new Uint8Array(len)
  let x = (0x9e3779b9 ^ (index + 1) * 0x85ebca6b) >>> 0 || 1
  for (let i = 0; i < len; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    b[i] = x & 0xff
  }
  return b
}

const node = await createNode({ seed: opts.seed })
out(`PEERID ${node.peerId}`)
watchConnections(node)

const identified = Promise.withResolvers()
node.addEventListener('peer:identify', (evt) => {
  out(identifiedLine(evt.detail))
  if (evt.detail.peerId.equals(target)) identified.resolve()
})

let conn
try {
  conn = await node.dial(addr)
} catch (err) {
  fail(`ERROR dial failed: ${err.message ?? err}`)
}
conn.addEventListener?.('close', () => fail(`ERROR connection to ${target} lost`))

pending = 'identify'
await identified.promise

for (let i = 0; i < pings; i++) {
  pending = `ping (${i}/${pings} done)`
  let ms
  try {
    ms = await node.services.ping.ping(target)
  } catch (err) {
    fail(`PING FAIL ${err.message ?? err}`)
  }
  // js-libp2p measures whole milliseconds
  out(`PING rtt_us=${Math.round(ms * 1000)}`)
}

let done = 0
pending = `echo (0/${streams} streams done)`
async function echoOne (i) {
  try {
    const data = pseudoRandomBytes(i, nbytes)
    let stream
    try {
      stream = await conn.newStream(ECHO_PROTOCOL, STREAM_LIMITS)
    } catch (err) {
      throw new Error(`stream ${i}: open: ${err.message ?? err}`)
    }
    const [, got] = await Promise.all([
      writeAndClose(stream, data).catch(err => { throw new Error(`stream ${i}: write: ${err.message ?? err}`) }),
      readAll(stream).catch(err => { throw new Error(`stream ${i}: read: ${err.message ?? err}`) })
    ])
    if (got.length !== data.length) throw new Error(`stream ${i}: echoed ${got.length} bytes, sent ${data.length}`)
    for (let j = 0; j < got.length; j++) {
      if (got[j] !== data[j]) throw new Error(`stream ${i}: echo differs at byte ${j}`)
    }
  } finally {
    done++
    pending = `echo (${done}/${streams} streams done)`
  }
}
const results = await Promise.allSettled(Array.from({ length: streams }, (_, i) => echoOne(i)))
const failed = results.filter(r => r.status === 'rejected')
if (failed.length > 0) {
  fail(`ECHO FAIL ${failed.length} of ${streams} streams failed; ${failed[0].reason?.message ?? failed[0].reason}`)
}
out(`ECHO ok streams=${streams} bytes=${nbytes}`)
out('DONE')
process.exit(0)
