/* p2p/perf.h - the service of the perf plugin (/perf/1.0.0).
 *
 * The libp2p perf protocol (libp2p/specs perf/perf.md) measures throughput:
 * the client opens a stream, writes the number of bytes it wants back as
 * a big-endian uint64, uploads its bytes, half-closes, then reads the
 * download until the server closes. The server reads the size, drains the
 * upload until EOF, then sends the requested bytes and closes.
 *
 * The plugin always provides the client, through the service "perf"
 * version 1; the server (the protocol handler) is registered only with
 * `server = true` in [plugin perf]: the spec says it SHOULD NOT be on by
 * default, since a client asks the server for arbitrary work.
 *
 *     void *st;
 *     const struct p2p_perf_api_v1 *perf = p2p_service_get(h, P2P_PERF_SERVICE, 1, &st);
 *     struct p2p_perf_params pp = { .upload_bytes = 1 << 30, .report_ms = 1000 };
 *     uint64_t id;
 *     if (perf) perf->run(st, NULL, &addr, &pp, on_report, ctx, &id);
 *
 * run() connects (to `peer` through the peer store and `addr`, or to
 * whoever answers at `addr` when peer is NULL and addr has no /p2p/),
 * opens one /perf/1.0.0 stream and runs the exchange with back-pressure on
 * both directions (never more than P2P_STREAM_HIGH_WATER queued). cb runs
 * every report_ms with an intermediary report (last = false), then exactly
 * once with last = true: status 0 when exactly download_bytes came back
 * after the upload, else a negative P2P_E* code: P2P_ENEGOTIATE (the peer
 * runs no perf server), P2P_ETRUNC (fewer bytes than asked), P2P_EPROTO
 * (more), P2P_ERESET, P2P_ECLOSED (connection lost), P2P_ECANCELED
 * (cancel() or the host stopping), or a connection error. cb never runs
 * from inside run(). */
#ifndef P2P_PERF_H
#define P2P_PERF_H

#include <stdbool.h>
#include <stdint.h>

#include "api.h"
#include "multiaddr.h"
#include "peerid.h"

P2P_BEGIN_DECLS

#define P2P_PERF_SERVICE "perf"
#define P2P_PERF_PROTOCOL "/perf/1.0.0"

struct p2p_perf_params {
    uint64_t upload_bytes;     /* bytes to send (0 is valid) */
    uint64_t download_bytes;   /* bytes to ask for (0 is valid; up to UINT64_MAX) */
    uint32_t report_ms;        /* intermediary reports every report_ms (0 = final only) */
};

struct p2p_perf_report {
    bool last;                 /* the final report */
    int status;                /* last: 0 or a P2P_E* code; otherwise 0 */
    /* This interval (intermediary) or the whole run (last): */
    uint64_t upload_bytes;     /* bytes uploaded (taken by the stream) */
    uint64_t download_bytes;   /* bytes downloaded */
    uint64_t elapsed_us;       /* duration */
    double upload_bps;         /* upload_bytes * 8 / duration, bits per second */
    double download_bps;
    /* Totals and latencies, in every report: */
    uint64_t total_upload_bytes, total_download_bytes;
    uint64_t total_us;         /* since the stream was open */
    uint64_t connect_us;       /* run() to the connection (≈0 when one existed) */
    uint64_t open_us;          /* connection to the negotiated stream */
    uint64_t upload_us;        /* stream open to the end of the upload (FIN queued), 0 before */
    uint64_t first_byte_us;    /* FIN queued to the first downloaded byte, 0 before */
};

typedef void (*p2p_perf_cb)(const struct p2p_perf_report *r, void *arg);

struct p2p_perf_api_v1 {
    /* 0 when started (cb will run; *id, if not NULL, names the run), or
     * P2P_EINVAL (no cb, neither peer nor addr, ourselves, addr with a
     * /p2p/ different from peer), P2P_ENOMEM, P2P_ECLOSED (host
     * stopping), or the connection's immediate error. */
    int (*run)(void *state, const p2p_peerid *peer, const p2p_multiaddr *addr,
               const struct p2p_perf_params *params, p2p_perf_cb cb, void *arg, uint64_t *id);
    /* Stop a run: its stream is reset and cb runs once more with last =
     * true and P2P_ECANCELED before cancel returns. P2P_ENOTFOUND when the
     * run has already finished. */
    int (*cancel)(void *state, uint64_t id);
};

P2P_END_DECLS
#endif
