// js-libp2p test peer for the p2pchat interop tests (not part of the product).
//
// Usage: node dial.mjs <multiaddr-with-/p2p/> [--streams K] [--bytes B]
//                      [--pings N] [--seed N] [--timeout S] [--slow]
//
// Dials, waits until identify with the remote completed, pings N times
// (default 3), then opens K (default 8) concurrent /p2pchat/echo/1.0.0
// streams, each writing B (default 65536) pseudo-random bytes, half-closing
// and checking the echo as it arrives (reading slowly with --slow). Prints
// DONE and exits 0 on full success; exits 2
// with TIMEOUT after --timeout seconds (default 30). See
// tests/interop/README.md.

import './polyfill.mjs'

const { dialMain } = await import('./dialer.mjs')

await dialMain({
  prog: 'dial',
  text: 'node dial.mjs <multiaddr-with-/p2p/> [--streams K] [--bytes B] [--pings N] [--seed N] [--timeout S] [--slow]',
  args: process.argv.slice(2)
})
