// js-libp2p test peer for the p2pchat interop tests (not part of the product).
//
// Usage: node listen.mjs [--seed N] [--port P] [--ip6]
//
// Listens on /ip4/127.0.0.1/tcp/P (default 0; /ip6/::1/tcp/P with --ip6)
// with TCP + Noise + Yamux and
// serves identify, ping and /p2pchat/echo/1.0.0 until killed. Prints
// PEERID, LISTEN, then CONNECTED / IDENTIFIED / DISCONNECTED events (see
// tests/interop/README.md).

import './polyfill.mjs'

const {
  createNode, handleEcho, identifiedLine, out, parseArgs, rssMaxKiB, usage,
  watchConnections
} = await import('./common.mjs')

const PROG = 'listen'
const TEXT = 'node listen.mjs [--seed N] [--port P] [--ip6]'

const { opts, positional } = parseArgs(process.argv.slice(2), { seed: 'seed', port: 'int', ip6: 'flag' }, PROG, TEXT)
if (positional.length !== 0) usage(PROG, TEXT, 'no positional arguments expected')
const port = opts.port ?? 0
if (port > 65535) usage(PROG, TEXT, `bad port ${port}`)

const ip = opts.ip6 ? '/ip6/::1' : '/ip4/127.0.0.1'
const node = await createNode({ seed: opts.seed, listen: [`${ip}/tcp/${port}`] })

node.addEventListener('peer:identify', (evt) => out(identifiedLine(evt.detail)))
watchConnections(node)

await handleEcho(node, PROG)

out(`PEERID ${node.peerId}`)
for (const ma of node.getMultiaddrs()) {
  out(`LISTEN ${ma}`)
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    // do not wait for a graceful stop: the tests just want the peer gone
    out(`RSS_MAX_KIB ${rssMaxKiB()}`)
    process.exit(0)
  })
}
