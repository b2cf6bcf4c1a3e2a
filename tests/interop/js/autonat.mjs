// js-libp2p test peer for the p2pchat interop tests (not part of the product).
//
// Usage: node autonat.mjs [--seed N] [--port P]
//
// listen.mjs plus @libp2p/autonat (AutoNAT v1 client and server): listens
// on /ip4/127.0.0.1/tcp/P and answers dial-back requests until killed.
// Prints PEERID, LISTEN, then CONNECTED / IDENTIFIED / DISCONNECTED events.
// js refuses to dial private addresses (loopback included): on loopback
// the interop test checks that it decodes our DIAL and answers
// E_DIAL_REFUSED.

import './polyfill.mjs'

const { createNode, identifiedLine, out, parseArgs, rssMaxKiB, usage, watchConnections } = await import('./common.mjs')
const { autoNAT } = await import('@libp2p/autonat')

const PROG = 'autonat'
const TEXT = 'node autonat.mjs [--seed N] [--port P]'

const { opts, positional } = parseArgs(process.argv.slice(2), { seed: 'seed', port: 'int' }, PROG, TEXT)
if (positional.length !== 0) usage(PROG, TEXT, 'no positional arguments expected')
const port = opts.port ?? 0
if (port > 65535) usage(PROG, TEXT, `bad port ${port}`)

const node = await createNode({
  seed: opts.seed,
  listen: [`/ip4/127.0.0.1/tcp/${port}`],
  services: { autoNAT: autoNAT() }
})
node.addEventListener('peer:identify', (evt) => out(identifiedLine(evt.detail)))
watchConnections(node)

out(`PEERID ${node.peerId}`)
for (const ma of node.getMultiaddrs()) {
  out(`LISTEN ${ma}`)
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    out(`RSS_MAX_KIB ${rssMaxKiB()}`)
    process.exit(0)
  })
}
