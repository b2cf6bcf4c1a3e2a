// Shared by listen.mjs and dial.mjs (js-libp2p test peer for the p2pchat
// interop tests, not part of the product). The subcommand contract is in
// tests/interop/README.md.
//
// Import './polyfill.mjs' before this module: libp2p modules are loaded here
// with dynamic import() so that the polyfill is in place when they evaluate.

import './polyfill.mjs'

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
const CHUNK = 64 * 1024

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
 * listed in `spec` ({ name: 'int' | 'seed' | 'float' }). Exits with a usage
 * message on error.
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
    if (i + 1 >= args.length) usage(prog, text, `${a} needs a value`)
    const v = args[++i]
    if (kind === 'float') {
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

/** Ed25519 key with secret [seed, 0, ..., 0], or a random one. */
async function privateKey (seed) {
  if (seed == null) return generateKeyPair('Ed25519')
  const s = new Uint8Array(32)
  s[0] = seed
  return generateKeyPairFromSeed('Ed25519', s)
}

/** A started libp2p node: TCP + Noise + Yamux, identify and ping. */
export async function createNode ({ seed, listen = [] }) {
  return createLibp2p({
    privateKey: await privateKey(seed),
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      inboundConnectionThreshold: 10000,
      maxIncomingPendingConnections: 1000,
      maxConnections: 10000
    },
    // identify first: js runs other protocols towards a peer only once the
    // peer's identify response lists them
    services: {
      identify: identify(),
      ping: ping()
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
  return `IDENTIFIED ${r.peerId} agent=${r.agentVersion ?? ''} protocols=${protocols.join(',')} listen=${listen.join(',')}`
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

/** Write `data` to `stream` (chunked, honouring back-pressure), then
 * half-close it. */
export async function writeAndClose (stream, data) {
  for (let off = 0; off < data.length; off += CHUNK) {
    if (!stream.send(data.subarray(off, off + CHUNK))) {
      await stream.onDrain()
    }
  }
  await stream.close()
}

/** Read `stream` until the remote half-closes it; resolve to the bytes. */
export async function readAll (stream) {
  const chunks = []
  let len = 0
  for await (const chunk of stream) {
    const b = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    chunks.push(b)
    len += b.length
  }
  const all = new Uint8Array(len)
  let off = 0
  for (const b of chunks) {
    all.set(b, off)
    off += b.length
  }
  return all
}
