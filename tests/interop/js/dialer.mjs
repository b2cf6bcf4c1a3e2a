// The dial subcommand of the js-libp2p test peer (not part of the product),
// shared by dial.mjs and relay-dial.mjs; see tests/interop/README.md.

import './polyfill.mjs'

const {
  CHUNK, ECHO_PROTOCOL, SLOW_EVERY, SLOW_PAUSE_MS, STREAM_LIMITS, createNode,
  identifiedLine, out, parseArgs, readStream, rssMaxKiB, usage, waitWritable,
  watchConnections
} = await import('./common.mjs')
const { multiaddr } = await import('@multiformats/multiaddr')
const { peerIdFromString } = await import('@libp2p/peer-id')
const { circuitRelayTransport } = await import('@libp2p/circuit-relay-v2')

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

/** One /ipfs/ping/1.0.0 round trip (32 random bytes echoed back) on the
 * connection `conn`, limited or not; resolves to the RTT in ms. */
async function pingOn (conn) {
  const data = crypto.getRandomValues(new Uint8Array(32))
  const stream = await conn.newStream('/ipfs/ping/1.0.0', { runOnLimitedConnection: true })
  const start = Date.now()
  let rtt
  const got = []
  let n = 0
  // read until the responder closes: it does once we close our side after
  // the pong
  const reading = readStream(stream, (b) => {
    got.push(b)
    n += b.length
    if (n >= 32 && rtt == null) {
      rtt = Date.now() - start
      stream.close().catch(() => {})
    }
  })
  stream.send(data)
  try {
    await reading
  } catch (err) {
    if (rtt == null) throw err
  }
  const pong = Buffer.concat(got)
  if (pong.length !== 32 || Buffer.compare(pong, data) !== 0) throw new Error(`wrong pong (${pong.length} bytes)`)
  return rtt
}

/**
 * Run dial with the command line `args` (usage: `prog`, `text`). With
 * `relayed` (relay-dial), the node has the circuit relay transport and
 * the echo streams may run on the limited (relayed) connection.
 */
export async function dialMain ({ prog, text, args, relayed = false }) {
  const { opts, positional } = parseArgs(args, {
    streams: 'int', bytes: 'int', pings: 'int', seed: 'seed', timeout: 'float', slow: 'flag'
  }, prog, text)
  if (positional.length !== 1) usage(prog, text, 'exactly one multiaddr expected')
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
    usage(prog, text, `bad multiaddr ${JSON.stringify(positional[0])}: ${err.message}`)
  }

  // Global timeout: report what was pending and exit 2.
  let pending = 'connect'
  setTimeout(() => {
    out(`TIMEOUT ${pending}`)
    process.exit(2)
  }, timeoutS * 1000)

  const node = await createNode({ seed: opts.seed, transports: relayed ? [circuitRelayTransport()] : [] })
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
      // js dials a new (direct) connection for ping(peer) when the only
      // one is limited: through a relay, ping on the relayed connection.
      ms = relayed ? await pingOn(conn) : await node.services.ping.ping(target)
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
        stream = await conn.newStream(ECHO_PROTOCOL, { ...STREAM_LIMITS, runOnLimitedConnection: relayed })
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
}
