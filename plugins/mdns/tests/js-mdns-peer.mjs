// js-mdns-peer.mjs - a js-libp2p node with @libp2p/mdns, for the optional
// interop part of mdns-netns.sh (a test tool, not part of the product).
//
//   node js-mdns-peer.mjs SECONDS
//
// Module resolution: run it from a directory whose node_modules (or a
// parent's) has libp2p 3.3.11, @libp2p/tcp, @libp2p/noise, @libp2p/yamux,
// @libp2p/identify and @libp2p/mdns 12.0.32 (mdns-netns.sh copies it next to
// a symlink to $MDNS_JS_DIR/node_modules). Prints, one line each:
//   PEERID <id> / DISCOVERED <id> / CONNECTED <id> <remote addr>
// Listens on /ip4/0.0.0.0/tcp/0, queries every 2 s, dials what it finds,
// stops on SIGTERM or after SECONDS.

// libp2p 3.x calls Promise.withResolvers(), which Node ships only from 22:
// define it before any libp2p module is evaluated (dynamic imports below).
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve
      let reject
      const promise = new this((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}

const { createLibp2p } = await import('libp2p')
const { tcp } = await import('@libp2p/tcp')
const { noise } = await import('@libp2p/noise')
const { yamux } = await import('@libp2p/yamux')
const { identify } = await import('@libp2p/identify')
const { mdns } = await import('@libp2p/mdns')

const out = (line) => process.stdout.write(line.replace(/\n/g, ' ') + '\n')
const seconds = Number(process.argv[2] ?? '60')

const node = await createLibp2p({
  addresses: { listen: ['/ip4/0.0.0.0/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  peerDiscovery: [mdns({ interval: 2000 })],
  services: { identify: identify() }
})

node.addEventListener('peer:discovery', (evt) => {
  const { id, multiaddrs } = evt.detail
  out(`DISCOVERED ${id.toString()} ${multiaddrs.map(String).join(',')}`)
  node.dial(id).catch((err) => out(`DIAL_FAILED ${id.toString()} ${err.message}`))
})
node.addEventListener('connection:open', (evt) => {
  out(`CONNECTED ${evt.detail.remotePeer.toString()} ${evt.detail.remoteAddr.toString()}`)
})

await node.start()
out(`PEERID ${node.peerId.toString()}`)
for (const ma of node.getMultiaddrs()) out(`LISTEN ${ma.toString()}`)

let stopping = false
async function stop (code) {
  if (stopping) return
  stopping = true
  await node.stop()
  process.exit(code)
}
process.on('SIGTERM', () => { stop(0) })
process.on('SIGINT', () => { stop(0) })
setTimeout(() => { out('TIMEOUT'); stop(2) }, seconds * 1000)
