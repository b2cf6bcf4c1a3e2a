// js-libp2p test peer for the p2pchat interop tests (not part of the product).
//
// Usage: node relay.mjs [--seed N] [--port P] [--ip IP] [--unlimited]
//
// A circuit relay v2 server: @libp2p/circuit-relay-v2's circuitRelayServer()
// with its defaults (15 reservations of 2 h; circuits of 2 min and 128 KiB,
// the duration sent in milliseconds), with identify and ping, listening on
// /ip4/IP/tcp/P (default 127.0.0.1, any port). Prints PEERID, LISTEN,
// CONNECTED / IDENTIFIED / DISCONNECTED and, per reservation, RESERVATION
// <peer> limit duration=<as sent: ms> data=<bytes>, until killed. See tests/interop/README.md, "Circuit relay".
// --unlimited (bench/run.sh's relayed throughput): no default limits on
// reservations (applyDefaultLimit false: circuits without duration or data
// limit).

import './polyfill.mjs'

const { createNode, identifiedLine, out, parseArgs, usage, watchConnections } = await import('./common.mjs')
const { exitOnSignal, printListen, tcpListenAddr } = await import('./relay-common.mjs')
const { circuitRelayServer } = await import('@libp2p/circuit-relay-v2')

const PROG = 'relay'
const TEXT = 'node relay.mjs [--seed N] [--port P] [--ip IP] [--unlimited]'

const { opts, positional } = parseArgs(process.argv.slice(2), { seed: 'seed', port: 'int', ip: 'string', unlimited: 'flag' }, PROG, TEXT)
if (positional.length !== 0) usage(PROG, TEXT, 'no positional arguments expected')
const listen = tcpListenAddr(opts.ip ?? '127.0.0.1', opts.port ?? 0, PROG, TEXT)

const node = await createNode({ seed: opts.seed, listen: [listen], services: { relay: circuitRelayServer(opts.unlimited ? { reservations: { applyDefaultLimit: false } } : {}) } })
node.addEventListener('peer:identify', (evt) => out(identifiedLine(evt.detail)))
watchConnections(node)
// The server dispatches no event per reservation: its table is polled.
const seen = new Set()
setInterval(() => {
  for (const [peer, r] of node.services.relay.reservations.entries()) {
    if (seen.has(peer.toString())) continue
    seen.add(peer.toString())
    out(`RESERVATION ${peer} limit duration=${r.limit?.duration ?? 'none'} data=${r.limit?.data ?? 'none'}`)
  }
}, 50)
out(`PEERID ${node.peerId}`)
printListen(node)
exitOnSignal()
