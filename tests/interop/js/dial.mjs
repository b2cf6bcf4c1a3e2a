// js-libp2p test peer for the p2pchat interop tests (not part of the product).
//
// Usage: node dial.mjs <multiaddr-with-/p2p/> [--streams K] [--bytes B]
//                      [--pings N] [--seed N] [--timeout S] [--slow]
//
// Dials, waits until identify with the remote completed, pings N times
// (default 3), then opens K (default 8) concurrent /p2pchat/echo/1.0.0
// streams, each writing B (default 65536) pseudo-random bytes, half-closing
// and checking the echo as it arrives (reading slowly with --slow). Prints
// DONE and exits 0 on full success; exits 2
// with TIMEOUT after --timeout seconds (default 30). See
// tests/interop/README.md.

import './polyfill.mjs'

const {
  CHUNK, ECHO_PROTOCOL, SLOW_EVERY, SLOW_PAUSE_MS, STREAM_LIMITS, createNode,
  identifiedLine, out, parseArgs, readStream, rssMaxKiB, usage, waitWritable,
  watchConnections
} = await import('./common.mjs')
const { multiaddr } = await import('@multiformats/multiaddr')
const { peerIdFromString } = await import('@libp2p/peer-id')

const PROG = 'dial'
const TEXT = 'node dial.mjs <multiaddr-with-/p2p/> [--streams K] [--bytes B] [--pings N] [--seed N] [--timeout S] [--slow]'

const { opts, positional } = parseArgs(process.argv.slice(2), {
  streams: 'int', bytes: 'int', pings: 'int', seed: 'seed', timeout: 'float', slow: 'flag'
}, PROG, TEXT)
if (positional.length !== 1) usage(PROG, TEXT, 'exactly one multiaddr expected')
const streams = opts.streams ?? 8
const nbytes = opts.bytes ?? 65536
const pings = opts.pings ?? 3
const timeoutS = opts.timeout ?? 30
const slow = opts.slow === true

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

/** Deterministic pseudo-random bytes (xorshift32), different per stream,
 * generated piece by piece (no stream is ever held in memory whole). The
 * state stays a local int32 in the loop: about 4x faster than a per-byte
 * method on a uint32 field, which V8 boxes. */
class Prng {
  constructor (index) {
    this.x = (0x9e3779b9 ^ (index + 1) * 0x85ebca6b) | 0 || 1
  }

  fill (b) {
    let x = this.x
    for (let i = 0; i < b.length; i++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      b[i] = x & 0xff
    }
    this.x = x
    return b
  }
}

const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))

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
    let stream
    try {
      stream = await conn.newStream(ECHO_PROTOCOL, STREAM_LIMITS)
    } catch (err) {
      throw new Error(`stream ${i}: open: ${err.message ?? err}`)
    }
    const write = async () => {
      const src = new Prng(i)
      for (let sent = 0; sent < nbytes; sent += CHUNK) {
        // a new buffer per piece: the stream may hold on to it
        if (!stream.send(src.fill(new Uint8Array(Math.min(CHUNK, nbytes - sent))))) {
          await waitWritable(stream)
        }
      }
      await stream.close()
    }
    const check = new Prng(i)
    let expect = new Uint8Array(CHUNK)
    let got = 0
    let sincePause = 0
    const onChunk = (b) => {
      if (got + b.length > nbytes) throw new Error(`echoed more than the ${nbytes} bytes sent`)
      if (expect.length < b.length) expect = new Uint8Array(b.length)
      const want = check.fill(expect.subarray(0, b.length))
      if (Buffer.compare(b, want) !== 0) {
        const j = want.findIndex((v, k) => v !== b[k])
        throw new Error(`echo differs at byte ${got + j}`)
      }
      got += b.length
      sincePause += b.length
      if (slow && sincePause >= SLOW_EVERY) {
        sincePause = 0
        return sleep(SLOW_PAUSE_MS)
      }
    }
    await Promise.all([
      write().catch(err => { throw new Error(`stream ${i}: write: ${err.message ?? err}`) }),
      readStream(stream, onChunk).catch(err => { throw new Error(`stream ${i}: read: ${err.message ?? err}`) })
    ])
    if (got !== nbytes) throw new Error(`stream ${i}: echoed ${got} bytes, sent ${nbytes}`)
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
out(`RSS_MAX_KIB ${rssMaxKiB()}`)
out('DONE')
process.exit(0)
