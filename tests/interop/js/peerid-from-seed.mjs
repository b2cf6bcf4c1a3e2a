// js-libp2p test peer for the p2pchat interop tests (not part of the product).
//
// Usage: node peerid-from-seed.mjs N
//
// Prints the base58 PeerId of the Ed25519 key whose 32-byte secret (seed) is
// [N, 0, 0, ..., 0], the convention of rust-libp2p's relay-server example
// (--secret-key-seed N).

import './polyfill.mjs'

const { generateKeyPairFromSeed } = await import('@libp2p/crypto/keys')
const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')

function usage (msg) {
  process.stderr.write(`peerid-from-seed: ${msg}\nusage: node peerid-from-seed.mjs N   (0 <= N <= 255)\n`)
  process.exit(2)
}

const args = process.argv.slice(2)
if (args.length !== 1) usage('expected exactly one argument')
if (!/^[0-9]+$/.test(args[0]) || Number(args[0]) > 255) usage(`seed must be an integer 0..255, got ${JSON.stringify(args[0])}`)

const seed = new Uint8Array(32)
seed[0] = Number(args[0])
const key = await generateKeyPairFromSeed('Ed25519', seed)
console.log(peerIdFromPrivateKey(key).toString())
