// js-libp2p test peer for the p2pchat interop tests (not part of the product).
//
// Usage: node relay-dial.mjs <circuit-multiaddr-with-/p2p/> [dial options]
//
// dial.mjs through a relay: the node has @libp2p/circuit-relay-v2's
// transport, so <relay>/p2p/<relay id>/p2p-circuit/p2p/<peer> addresses
// are dialed through the relay, and the echo streams are opened with
// runOnLimitedConnection (js runs no protocol on a limited connection
// without it). See tests/interop/README.md, "Circuit relay".

import './polyfill.mjs'

const { dialMain } = await import('./dialer.mjs')

await dialMain({
  prog: 'relay-dial',
  text: 'node relay-dial.mjs <circuit-multiaddr-with-/p2p/> [--streams K] [--bytes B] [--pings N] [--seed N] [--timeout S] [--slow]',
  args: process.argv.slice(2),
  relayed: true
})
