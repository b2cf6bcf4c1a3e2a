// /perf/1.0.0 for the js-libp2p test peer (there is no perf package for
// libp2p 3): the server side (bench.mjs perf-server, relay-listen.mjs) and
// the client side (bench.mjs perf). Import './polyfill.mjs' first.

import './polyfill.mjs'

const { CHUNK, STREAM_LIMITS, readStream, waitWritable } = await import('./common.mjs')

export const PERF = '/perf/1.0.0'

/** Write n zero bytes in CHUNK pieces with back-pressure. */
async function sendZeros (stream, n, zeros) {
  while (n > 0) {
    const k = Math.min(n, CHUNK)
    if (!stream.send(k === CHUNK ? zeros : zeros.subarray(0, k))) await waitWritable(stream)
    n -= k
  }
}

/** Server side of one perf stream: the 8-byte size, the upload drained to
 * EOF, then that many bytes and a half-close. */
async function perfServe (stream, zeros) {
  const hdr = new Uint8Array(8)
  let have = 0
  await readStream(stream, (b) => {
    if (have < 8) {
      const k = Math.min(8 - have, b.length)
      hdr.set(b.subarray(0, k), have)
      have += k
    }
  })
  if (have < 8) throw new Error('EOF before the 8-byte size')
  const n = new DataView(hdr.buffer).getBigUint64(0)
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('download size too large for this peer')
  await sendZeros(stream, Number(n), zeros)
  await stream.close()
}

/** Serve /perf/1.0.0 on `node` (errors on stderr prefixed with `prog`);
 * `options` are added to the stream limits (e.g. runOnLimitedConnection). */
export async function handlePerf (node, prog, options = {}) {
  const zeros = new Uint8Array(CHUNK)
  await node.handle(PERF, async (stream) => {
    try {
      await perfServe(stream, zeros)
    } catch (err) {
      process.stderr.write(`${prog}: perf stream: ${err}\n`)
      stream.abort(err)
    }
  }, { ...STREAM_LIMITS, ...options })
}

/** One perf exchange on `conn`: resolves to { secs, got } (seconds from
 * the stream's opening to the server's close, bytes downloaded). */
export async function perfClient (conn, upload, download, options = {}) {
  const zeros = new Uint8Array(CHUNK)
  const t0 = performance.now()
  const stream = await conn.newStream(PERF, { ...STREAM_LIMITS, ...options })
  const hdr = new Uint8Array(8)
  new DataView(hdr.buffer).setBigUint64(0, BigInt(download))
  let got = 0
  const reading = readStream(stream, (b) => { got += b.length })
  stream.send(hdr)
  await sendZeros(stream, upload, zeros)
  await stream.close()
  await reading
  return { secs: (performance.now() - t0) / 1000, got }
}
