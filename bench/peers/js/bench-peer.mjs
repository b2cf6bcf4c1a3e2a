// js-libp2p benchmark peer of bench/run.sh (not part of the product). The
// contract, the same for the rust, go and C bench peers, is in
// bench/README.md. There is no perf package for libp2p 3: /perf/1.0.0 is
// written here.
//
//   node bench-peer.mjs server [--port P]
//   node bench-peer.mjs perf <multiaddr/p2p/ID> [--upload B] [--download B]
//   node bench-peer.mjs handshakes <multiaddr/p2p/ID> [--count N]
//
// TCP + Noise + Yamux, identify and ping, with the connection manager's
// rate limits raised (js accepts 5 inbound connections per second per IP
// by default).

import './polyfill.mjs'

const { createLibp2p } = await import('libp2p')
const { tcp } = await import('@libp2p/tcp')
const { noise } = await import('@libp2p/noise')
const { yamux } = await import('@libp2p/yamux')
const { identify } = await import('@libp2p/identify')
const { ping } = await import('@libp2p/ping')
const { multiaddr } = await import('@multiformats/multiaddr')

const PERF = '/perf/1.0.0'
const CHUNK = 64 * 1024
const LIMITS = { maxInboundStreams: 1024, maxOutboundStreams: 1024 }
// Our readers never pause, but a stream's read buffer may still hold up to
// a window (16 MiB) when the loop is busy: keep js from aborting it.
const MAX_READ_BUFFER = 64 * 1024 * 1024
const USAGE = 'usage: node bench-peer.mjs server [--port P] | perf <maddr> [--upload B] [--download B] | handshakes <maddr> [--count N]'

function die (msg) {
  process.stderr.write(`bench-peer: ${msg}\n`)
  process.exit(1)
}

function parse (args) {
  const o = { pos: [], port: 0, upload: 0, download: 0, count: 100 }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (!a.startsWith('--')) { o.pos.push(a); continue }
    const k = a.slice(2)
    if (!(k in o) || k === 'pos' || i + 1 >= args.length || !/^[0-9]+$/.test(args[i + 1])) die(`bad option ${a}\n${USAGE}`)
    o[k] = Number(args[++i])
  }
  return o
}

async function createNode (listen) {
  return createLibp2p({
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      inboundConnectionThreshold: 100000,
      maxIncomingPendingConnections: 1000,
      maxConnections: 10000
    },
    connectionMonitor: { pingTimeout: { minTimeout: 60_000, maxTimeout: 120_000 } },
    services: { identify: identify(), ping: ping() }
  })
}

/** Resolve once the stream takes more data after send() returned false
 * (waits for the 'drain' event itself: in @libp2p/utils 7 the promise of
 * stream.onDrain() resolves at once after its first use). */
async function waitWritable (stream) {
  while (stream.writableNeedsDrain === true) {
    await new Promise((resolve, reject) => {
      const done = (err) => {
        stream.removeEventListener('drain', ok)
        stream.removeEventListener('idle', ok)
        stream.removeEventListener('close', closed)
        if (err != null) reject(err)
        else resolve()
      }
      const ok = () => done()
      const closed = (evt) => done(evt.error ?? new Error('stream closed'))
      stream.addEventListener('drain', ok)
      stream.addEventListener('idle', ok)
      stream.addEventListener('close', closed)
    })
    await new Promise(resolve => setTimeout(resolve, 0))
  }
}

/** Write n zero bytes in CHUNK pieces with back-pressure. */
async function sendZeros (stream, n, zeros) {
  while (n > 0) {
    const k = Math.min(n, CHUNK)
    if (!stream.send(k === CHUNK ? zeros : zeros.subarray(0, k))) await waitWritable(stream)
    n -= k
  }
}

/** Call onData(bytes) for everything the stream delivers until the remote
 * half-closes; resolves at EOF. */
function readAll (stream, onData) {
  stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength ?? 0, MAX_READ_BUFFER)
  return new Promise((resolve, reject) => {
    let done = false
    const finish = (err) => {
      if (done) return
      done = true
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('remoteCloseWrite', onEnd)
      stream.removeEventListener('close', onClose)
      if (err != null) reject(err)
      else resolve()
    }
    const maybeEnd = () => {
      if (stream.remoteWriteStatus === 'closed' && stream.readBufferLength === 0) finish()
    }
    function onMessage (evt) {
      try {
        onData(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray())
      } catch (err) {
        finish(err)
        return
      }
      queueMicrotask(maybeEnd)
    }
    function onEnd () { queueMicrotask(maybeEnd) }
    function onClose (evt) {
      if (evt.error != null) { finish(evt.error); return }
      queueMicrotask(() => {
        maybeEnd()
        finish(new Error('stream closed before EOF'))
      })
    }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('remoteCloseWrite', onEnd)
    stream.addEventListener('close', onClose)
    queueMicrotask(maybeEnd)
  })
}

/** Server side of one perf stream. */
async function perfServe (stream, zeros) {
  const hdr = new Uint8Array(8)
  let have = 0
  let received = 0
  await readAll(stream, (b) => {
    if (have < 8) {
      const k = Math.min(8 - have, b.length)
      hdr.set(b.subarray(0, k), have)
      have += k
      b = b.subarray(k)
    }
    received += b.length
  })
  if (have < 8) throw new Error('EOF before the 8-byte size')
  const n = new DataView(hdr.buffer).getBigUint64(0)
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('download size too large for this peer')
  await sendZeros(stream, Number(n), zeros)
  await stream.close()
}

async function cmdServer (o) {
  const zeros = new Uint8Array(CHUNK)
  const node = await createNode([`/ip4/127.0.0.1/tcp/${o.port}`])
  await node.handle(PERF, async (stream) => {
    try {
      await perfServe(stream, zeros)
    } catch (err) {
      process.stderr.write(`bench-peer: perf stream: ${err}\n`)
      stream.abort(err)
    }
  }, LIMITS)
  for (const ma of node.getMultiaddrs()) process.stdout.write(`LISTEN ${ma}\n`)
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0))
}

function target (o) {
  if (o.pos.length !== 1) die(`exactly one multiaddr expected\n${USAGE}`)
  return multiaddr(o.pos[0])
}

async function cmdPerf (o) {
  const addr = target(o)
  const node = await createNode([])
  const conn = await node.dial(addr)
  const zeros = new Uint8Array(CHUNK)
  const t0 = performance.now()
  const stream = await conn.newStream(PERF, LIMITS)
  const hdr = new Uint8Array(8)
  new DataView(hdr.buffer).setBigUint64(0, BigInt(o.download))
  let got = 0
  const reading = readAll(stream, (b) => { got += b.length })
  stream.send(hdr)
  await sendZeros(stream, o.upload, zeros)
  await stream.close()
  await reading
  const secs = (performance.now() - t0) / 1000
  if (got !== o.download) die(`downloaded ${got} bytes, asked for ${o.download}`)
  process.stdout.write(`{"type":"final","timeSeconds":${secs.toFixed(6)},"uploadBytes":${o.upload},"downloadBytes":${got}}\n`)
  process.exit(0)
}

async function cmdHandshakes (o) {
  const addr = target(o)
  const node = await createNode([])
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
  for (let i = 0; i < o.count; i++) {
    const conn = await node.dial(addr)
    if (!identified.has(conn.id)) {
      const { promise, resolve } = Promise.withResolvers()
      waiting = { id: conn.id, resolve }
      const timer = setTimeout(() => die(`connection ${i}: no identify within 10 s`), 10000)
      await promise
      clearTimeout(timer)
      waiting = null
    }
    identified.delete(conn.id)
    await conn.close()
  }
  const secs = (performance.now() - t0) / 1000
  process.stdout.write(`{"type":"handshakes","count":${o.count},"timeSeconds":${secs.toFixed(6)}}\n`)
  process.exit(0)
}

const [cmd, ...rest] = process.argv.slice(2)
const o = parse(rest)
const cmds = { server: cmdServer, perf: cmdPerf, handshakes: cmdHandshakes }
if (cmds[cmd] == null) die(USAGE)
cmds[cmd](o).catch(err => die(err.stack ?? err))
