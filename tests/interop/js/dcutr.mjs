// js-libp2p test peer for the p2pchat interop tests (not part of the product).
//
// Usage: node dcutr.mjs --mode listen|dial --relay-address MADDR
//                       [--remote-peer-id ID] [--seed N] [--port P]
//                       [--ip IP] [--timeout S]
//
// @libp2p/dcutr (its defaults) with identify, ping and the circuit relay
// transport, like rust-libp2p's examples/dcutr: listening on
// /ip4/IP/tcp/P (default 0.0.0.0, any port), it connects to the relay
// MADDR (ending with /p2p/<relay id>), then either listens through it
// (listen: a reservation, RESERVED) or dials ID through it (dial). Prints
// CONNECTED <peer> <addr> <inbound|outbound> <limited|direct>,
// DISCONNECTED <peer> <limited|direct>, IDENTIFIED, and DIRECT <peer>
// <addr> <ms> once a peer that had a relayed connection has only direct
// ones. Runs until killed, or TIMEOUT (exit 2) after S s (default 60).
// See tests/interop/README.md, "DCUtR" (js punches public addresses only).

import './polyfill.mjs'

const { createNode, identifiedLine, out, parseArgs, rssMaxKiB, usage, withoutP2P } = await import('./common.mjs')
const { exitOnSignal, printListen, tcpListenAddr, watchReservation } = await import('./relay-common.mjs')
const { circuitRelayTransport } = await import('@libp2p/circuit-relay-v2')
const { dcutr } = await import('@libp2p/dcutr')
const { multiaddr } = await import('@multiformats/multiaddr')

const PROG = 'dcutr'
const TEXT = 'node dcutr.mjs --mode listen|dial --relay-address MADDR [--remote-peer-id ID] [--seed N] [--port P] [--ip IP] [--timeout S]'

const { opts, positional } = parseArgs(process.argv.slice(2), {
  mode: 'string', 'relay-address': 'string', 'remote-peer-id': 'string', seed: 'seed', port: 'int', ip: 'string', timeout: 'float'
}, PROG, TEXT)
const relay = opts['relay-address']
const remote = opts['remote-peer-id']
if (positional.length !== 0) usage(PROG, TEXT, 'no positional arguments expected')
if (relay == null || !/\/p2p\/[^/]+$/.test(relay)) usage(PROG, TEXT, '--relay-address MADDR/p2p/<relay id> is required')
if (!(opts.mode === 'listen' && remote == null) && !(opts.mode === 'dial' && remote != null)) {
  usage(PROG, TEXT, '--mode listen, or --mode dial with --remote-peer-id')
}
const listen = [tcpListenAddr(opts.ip ?? '0.0.0.0', opts.port ?? 0, PROG, TEXT)]
if (opts.mode === 'listen') listen.push(`${relay}/p2p-circuit`)

setTimeout(() => {
  out('TIMEOUT')
  out(`RSS_MAX_KIB ${rssMaxKiB()}`)
  process.exit(2)
}, (opts.timeout ?? 60) * 1000)

const node = await createNode({
  seed: opts.seed,
  listen,
  transports: [circuitRelayTransport()],
  services: { dcutr: dcutr() }
})
node.addEventListener('peer:identify', (evt) => out(identifiedLine(evt.detail)))

// DIRECT: peers that had a relayed connection, until they have only direct ones.
const since = new Map()
const kind = (c) => c.limits != null ? 'limited' : 'direct'
function checkDirect (peer) {
  const key = peer.toString()
  if (!since.has(key)) return
  const conns = node.getConnections(peer).filter(c => c.status === 'open')
  if (conns.length === 0 || conns.some(c => c.limits != null)) return
  out(`DIRECT ${key} ${withoutP2P(conns[0].remoteAddr)} ${Date.now() - since.get(key)}`)
  since.delete(key)
}
node.addEventListener('connection:open', (evt) => {
  const c = evt.detail
  out(`CONNECTED ${c.remotePeer} ${withoutP2P(c.remoteAddr)} ${c.direction} ${kind(c)}`)
  if (c.limits != null && !since.has(c.remotePeer.toString())) since.set(c.remotePeer.toString(), Date.now())
  checkDirect(c.remotePeer)
})
node.addEventListener('connection:close', (evt) => {
  const c = evt.detail
  out(`DISCONNECTED ${c.remotePeer} ${kind(c)}`)
  checkDirect(c.remotePeer)
})

out(`PEERID ${node.peerId}`)
printListen(node)
watchReservation(node)
exitOnSignal()

if (opts.mode === 'dial') {
  try {
    await node.dial(multiaddr(relay))
    await node.dial(multiaddr(`${relay}/p2p-circuit/p2p/${remote}`))
  } catch (err) {
    out(`ERROR dial failed: ${err.message ?? err}`)
    process.exit(1)
  }
}
