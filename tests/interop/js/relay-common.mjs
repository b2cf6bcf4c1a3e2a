// Shared by the relay subcommands of the js-libp2p test peer (relay.mjs,
// relay-listen.mjs, dcutr.mjs; not part of the product).

import './polyfill.mjs'

const { out, rssMaxKiB, usage } = await import('./common.mjs')

/** `/ip4/IP/tcp/PORT` or `/ip6/IP/tcp/PORT`; exits with a usage message
 * on a bad address or port. */
export function tcpListenAddr (ip, port, prog, text) {
  if (port > 65535) usage(prog, text, `bad port ${port}`)
  if (/^[0-9.]+$/.test(ip)) return `/ip4/${ip}/tcp/${port}`
  if (ip.includes(':')) return `/ip6/${ip}/tcp/${port}`
  usage(prog, text, `bad --ip ${JSON.stringify(ip)}`)
}

/** Print LISTEN for every listen address that is not a circuit one. */
export function printListen (node) {
  for (const ma of node.getMultiaddrs()) {
    if (!ma.toString().includes('/p2p-circuit')) out(`LISTEN ${ma}`)
  }
}

/** Print RESERVED (once) when our addresses first include a circuit
 * address: the relay accepted our reservation. */
export function watchReservation (node) {
  let reserved = false
  const check = () => {
    if (reserved) return
    const circuit = node.getMultiaddrs().find(ma => ma.toString().includes('/p2p-circuit'))
    if (circuit == null) return
    reserved = true
    out(`RESERVED ${circuit}`)
  }
  node.addEventListener('self:peer:update', check)
  check()
}

/** On SIGINT/SIGTERM: RSS_MAX_KIB, exit 0. */
export function exitOnSignal () {
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      out(`RSS_MAX_KIB ${rssMaxKiB()}`)
      process.exit(0)
    })
  }
}
