// Shared by the subcommand scripts (listen.mjs, dialer.mjs, pubsub.mjs,
// kad.mjs, relay*.mjs, ...) of the js-libp2p test peer for the p2pchat
// interop tests (not part of the product). The subcommand contract is in
// tests/interop/README.md.
//
// Import './polyfill.mjs' before this module: libp2p modules are loaded here
// with dynamic import() so that the polyfill is in place when they evaluate.

import './polyfill.mjs'
import { readFileSync } from 'node:fs'

const { createLibp2p } = await import('libp2p')
const { tcp } = await import('@libp2p/tcp')
const { noise } = await import('@libp2p/noise')
const { yamux } = await import('@libp2p/yamux')
const { identify } = await import('@libp2p/identify')
const { ping } = await import('@libp2p/ping')
const { generateKeyPair, generateKeyPairFromSeed } = await import('@libp2p/crypto/keys')

export const ECHO_PROTOCOL = '/p2pchat/echo/1.0.0'

// Streams above this many bytes are written in chunks of this size, waiting
// for 'drain' when the stream asks for it.
export const CHUNK = 64 * 1024

// With dial --slow, each echo stream stops reading for SLOW_PAUSE_MS after
// every SLOW_EVERY bytes received (the contract's slow reader).
export const SLOW_EVERY = 512 * 1024
export const SLOW_PAUSE_MS = 20

// A paused js-libp2p stream stops sending Yamux window updates, but keeps
// what the remote may still send within the window it was granted (up to
// 16 MiB: @libp2p/yamux grows a stream's window to that) in its read buffer,
// and aborts the stream when that buffer exceeds maxReadBufferLength (4 MiB
// by default). Our readers pause, so they raise it well above the largest
// window (see readStream for why up to two windows may arrive).
const MAX_READ_BUFFER = 64 * 1024 * 1024

// Raised limits so that tests which dial fast or open many streams are never
// refused (js defaults: 5 inbound connections per second per IP, 10 pending,
// 32 inbound / 64 outbound streams per protocol and connection).
const MAX_STREAMS = 1024
export const STREAM_LIMITS = { maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS }

/** Print one line of the stdout protocol (stdout writes to pipes and files
 * are synchronous in Node on Linux, so the line is out at once); newlines
 * inside it (error messages) become spaces. */
export function out (line) {
  process.stdout.write(line.replace(/\n/g, ' ') + '\n')
}

export function usage (prog, text, msg) {
  process.stderr.write(`${prog}: ${msg}\nusage: ${text}\n`)
  process.exit(2)
}

/**
 * Parse `args` into positional arguments and the `--name value` options
 * listed in `spec` ({ name: 'int' | 'seed' | 'float' | 'flag' | 'string' |
 * 'list' }; a 'list' option may be repeated and gives an array). Exits with
 * a usage message on error.
 */
export function parseArgs (args, spec, prog, text) {
  const opts = {}
  const positional = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (!a.startsWith('--')) {
      positional.push(a)
      continue
    }
    const name = a.slice(2)
    const kind = spec[name]
    if (kind == null) usage(prog, text, `unknown option ${a}`)
    if (kind === 'flag') {
      opts[name] = true
      continue
    }
    if (i + 1 >= args.length) usage(prog, text, `${a} needs a value`)
    const v = args[++i]
    if (kind === 'string') {
      opts[name] = v
    } else if (kind === 'list') {
      (opts[name] ??= []).push(v)
    } else if (kind === 'float') {
      const f = Number(v)
      if (!(f > 0) || !Number.isFinite(f)) usage(prog, text, `bad value for ${a}: ${JSON.stringify(v)}`)
      opts[name] = f
    } else {
      if (!/^[0-9]+$/.test(v)) usage(prog, text, `bad value for ${a}: ${JSON.stringify(v)}`)
      const n = Number(v)
      if (kind === 'seed' && n > 255) usage(prog, text, `seed must be an integer 0..255, got ${JSON.stringify(v)}`)
      opts[name] = n
    }
  }
  return { opts, positional }
}

/** Ed25519 key with secret [seed, 0, ..., 0], or a random one of the type
 * INTEROP_KEY_TYPE names (ed25519 when unset; secp256k1, ecdsa for P-256,
 * rsa for 2048 bits), as the go peer does. */
export async function privateKey (seed) {
  if (seed == null) {
    const type = process.env.INTEROP_KEY_TYPE ?? 'ed25519'
    switch (type) {
      case 'ed25519': return generateKeyPair('Ed25519')
      case 'secp256k1': return generateKeyPair('secp256k1')
      case 'ecdsa': return generateKeyPair('ECDSA', 'P-256')
      case 'rsa': return generateKeyPair('RSA', 2048)
      default: throw new Error(`INTEROP_KEY_TYPE "${type}": want ed25519, secp256k1, ecdsa or rsa`)
    }
  }
  const s = new Uint8Array(32)
  s[0] = seed
  return generateKeyPairFromSeed('Ed25519', s)
}

/** A started libp2p node: TCP + Noise + Yamux, identify and ping, plus
 * any other `services` (pubsub.mjs adds gossipsub) and `transports` (the
 * relay subcommands add the circuit relay transport). The identity: `key`,
 * else from `seed` (see privateKey). */
export async function createNode ({ seed, key, listen = [], services = {}, transports = [] }) {
  return createLibp2p({
    privateKey: key ?? await privateKey(seed),
    addresses: { listen },
    transports: [tcp(), ...transports],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      inboundConnectionThreshold: 10000,
      maxIncomingPendingConnections: 1000,
      maxConnections: 10000
    },
    // The connection monitor pings every connection every 10 s and aborts
    // it when a ping fails or takes longer than its adaptive timeout (at
    // least 5 s by default). Under a bulk transfer (100 concurrent 1 MiB
    // echo streams) on a loaded 2-core machine, the ping waits behind
    // megabytes queued in js's own output and in the sockets, and the
    // connection was aborted against every listener (rust and go as well as
    // C). The pings still run and a wrong answer still aborts the
    // connection; only the timeout is raised.
    connectionMonitor: {
      pingTimeout: { minTimeout: 60_000, maxTimeout: 120_000 }
    },
    // identify first: js runs other protocols towards a peer only once the
    // peer's identify response lists them
    services: {
      identify: identify(),
      ping: ping(),
      ...services
    }
  })
}

/** `ma` as a string without a trailing /p2p/<id>. */
export function withoutP2P (ma) {
  return ma.toString().replace(/\/p2p\/[^/]+$/, '')
}

export function identifiedLine (r) {
  const protocols = [...r.protocols].sort()
  const listen = r.listenAddrs.map(a => a.toString())
  const observed = r.observedAddr == null ? '' : r.observedAddr.toString()
  return `IDENTIFIED ${r.peerId} agent=${r.agentVersion ?? ''} protocols=${protocols.join(',')} listen=${listen.join(',')} observed=${observed}`
}

/** The peak resident set size of this process (VmHWM of
 * /proc/self/status) in KiB, 0 when unknown. */
export function rssMaxKiB () {
  try {
    const m = /^VmHWM:\s*(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))
    return m == null ? 0 : Number(m[1])
  } catch {
    return 0
  }
}

/** Dial every multiaddr (with /p2p/) of `addrs` in turn; on a failure
 * print `ERROR dial failed: <reason>` and exit 1. */
export async function dialAll (node, addrs) {
  for (const ma of addrs) {
    try {
      await node.dial(ma)
    } catch (err) {
      out(`ERROR dial failed: ${err.message ?? err}`)
      process.exit(1)
    }
  }
}

/** Print CONNECTED / DISCONNECTED for every connection of `node`. */
export function watchConnections (node) {
  node.addEventListener('connection:open', (evt) => {
    const c = evt.detail
    out(`CONNECTED ${c.remotePeer} ${withoutP2P(c.remoteAddr)}`)
  })
  node.addEventListener('connection:close', (evt) => {
    out(`DISCONNECTED ${evt.detail.remotePeer}`)
  })
}

/**
 * Read `stream` until the remote half-closes it, calling `onChunk(bytes)`
 * for every piece received. `onChunk` may return a promise: the stream is
 * paused (no more Yamux window for the remote) until it settles, which is
 * how a reader applies back-pressure (a js-libp2p stream's async iterator
 * queues whatever arrives, without limit). Resolves at EOF; rejects when
 * `onChunk` throws or the stream fails.
 */
export function readStream (stream, onChunk) {
  stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength ?? 0, MAX_READ_BUFFER)
  return new Promise((resolve, reject) => {
    let paused = false
    let done = false
    const finish = (err) => {
      if (done) return
      done = true
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('remoteCloseWrite', onRemoteCloseWrite)
      stream.removeEventListener('close', onClose)
      if (err != null) reject(err)
      else resolve()
    }
    // EOF: the remote closed its end and everything it sent was handed over
    const maybeEnd = () => {
      if (!paused && stream.remoteWriteStatus === 'closed' && stream.readBufferLength === 0) finish()
    }
    function onMessage (evt) {
      if (done) return
      let wait
      try {
        wait = onChunk(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray())
      } catch (err) {
        finish(err)
        return
      }
      if (wait == null) {
        queueMicrotask(maybeEnd)
        return
      }
      paused = true
      // Not at once: when this message comes from stream.resume(), which
      // hands over the read buffer before it re-enables the Yamux window
      // updates (@libp2p/utils 7.4.1 AbstractMessageStream.resume), a pause
      // from inside the handler is undone at once and the remote may send
      // without limit. From a microtask, at most one more window comes in.
      queueMicrotask(() => {
        try { stream.pause() } catch {}
      })
      wait.then(() => {
        paused = false
        try { stream.resume() } catch {}
        queueMicrotask(maybeEnd)
      }, finish)
    }
    function onRemoteCloseWrite () {
      queueMicrotask(maybeEnd)
    }
    function onClose (evt) {
      if (evt.error != null) {
        finish(evt.error)
        return
      }
      queueMicrotask(() => {
        maybeEnd()
        if (!done && !paused) finish(new Error('stream closed before EOF'))
      })
    }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('remoteCloseWrite', onRemoteCloseWrite)
    stream.addEventListener('close', onClose)
    queueMicrotask(maybeEnd)
  })
}

/**
 * Resolve once `stream` takes more data (after `send()` returned false).
 *
 * Not `stream.onDrain()`: in @libp2p/utils 7 (AbstractMessageStream) the
 * promise it returns is created once and never replaced after it resolved,
 * so from the second wait on it resolves at once and the writer buffers
 * without limit (seen: a 256 MiB echo to a slow reader queued ~200 MiB).
 * This waits for the 'drain' (or 'idle') event itself, and again while the
 * stream still needs draining after the send queue was processed.
 */
export async function waitWritable (stream) {
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
    // let the stream's own 'drain' handler send what is queued first
    await new Promise(resolve => setTimeout(resolve, 0))
  }
}

/** Serve the echo protocol on `node` (echoServe per stream, errors on
 * stderr prefixed with `prog`); `options` are added to the stream limits
 * (e.g. runOnLimitedConnection). */
export async function handleEcho (node, prog, options = {}) {
  await node.handle(ECHO_PROTOCOL, async (stream) => {
    try {
      await echoServe(stream)
    } catch (err) {
      process.stderr.write(`${prog}: echo stream: ${err}\n`)
      stream.abort(err)
    }
  }, { ...STREAM_LIMITS, ...options })
}

/** Echo server for one inbound stream: write back every piece as it
 * arrives, pausing reading while the stream waits for the remote to take
 * what we wrote (so a slow reader slows the writer down instead of making us
 * buffer), and half-close after EOF. */
export async function echoServe (stream) {
  await readStream(stream, (data) => stream.send(data) ? undefined : waitWritable(stream))
  await stream.close()
}
