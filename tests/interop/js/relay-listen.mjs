// js-libp2p test peer for the p2pchat interop tests (not part of the product).
//
// Usage: node relay-listen.mjs --relay MADDR [--seed N] [--port P] [--ip IP]
//
// listen.mjs, and reachable through the relay MADDR (ending with
// /p2p/<relay id>): the node has @libp2p/circuit-relay-v2's transport and
// listens on MADDR/p2p-circuit too (a reservation there, made while the
// node starts). Prints RESERVED <circuit address> once our addresses
// include it; serves the echo protocol on relayed (limited) connections
// too. See tests/interop/README.md, "Circuit relay".

import './polyfill.mjs'

const { createNode, handleEcho, identifiedLine, out, parseArgs, usage, watchConnections } = await import('./common.mjs')
const { exitOnSignal, printListen, tcpListenAddr, watchReservation } = await import('./relay-common.mjs')
const { circuitRelayTransport } = await import('@libp2p/circuit-relay-v2')
const { handlePerf } = await import('./perf.mjs')

const PROG = 'relay-listen'
const TEXT = 'node relay-listen.mjs --relay MADDR [--seed N] [--port P] [--ip IP]'

const { opts, positional } = parseArgs(process.argv.slice(2), {
  relay: 'string', seed: 'seed', port: 'int', ip: 'string'
}, PROG, TEXT)
if (positional.length !== 0) usage(PROG, TEXT, 'no positional arguments expected')
if (opts.relay == null || !/\/p2p\/[^/]+$/.test(opts.relay)) usage(PROG, TEXT, '--relay MADDR/p2p/<relay id> is required')
const listen = tcpListenAddr(opts.ip ?? '127.0.0.1', opts.port ?? 0, PROG, TEXT)

const node = await createNode({
  seed: opts.seed,
  listen: [listen, `${opts.relay}/p2p-circuit`],
  transports: [circuitRelayTransport()]
})
node.addEventListener('peer:identify', (evt) => out(identifiedLine(evt.detail)))
watchConnections(node)
await handleEcho(node, PROG, { runOnLimitedConnection: true })
// /perf/1.0.0 too: bench/run.sh's relayed throughput
await handlePerf(node, PROG, { runOnLimitedConnection: true })

out(`PEERID ${node.peerId}`)
printListen(node)
watchReservation(node)
exitOnSignal()
