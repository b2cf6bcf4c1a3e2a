/* p2p/muxer.h - stream multiplexers (Yamux): many streams over one
 * secured stream. Registered in init with p2p_muxer_add(); negotiated by
 * the upgrader with multistream-select. */
#ifndef P2P_MUXER_H
#define P2P_MUXER_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "stream.h"

P2P_BEGIN_DECLS

struct p2p_muxer_events {
    /* A new inbound substream (owned by the callee; reading stopped). */
    void (*on_stream)(void *arg, p2p_stream *s);
    /* The session ended (remote GoAway and no streams left, error, or the
     * secured stream closed). err is 0 for a clean end. After this the
     * session only waits for free(). */
    void (*on_close)(void *arg, int err);
};

struct p2p_muxer_ops {
    const char *protocol_id;            /* "/yamux/1.0.0" */
    /* Start a session on secured (ownership taken in every case). */
    int (*create)(void *state, p2p_stream *secured, bool initiator,
                  const struct p2p_muxer_events *ev, void *ev_arg, void **session);
    /* A new outbound substream (owned by the caller), or a P2P_E* code
     * (P2P_ELIMIT at the stream limit, P2P_ECLOSED after GoAway). */
    int (*open)(void *session, p2p_stream **out);
    /* Graceful: no new streams; on_close when the last one ends. */
    void (*close)(void *session);
    /* Immediate teardown; no callbacks afterwards. Substreams still held
     * by owners fail with P2P_ECLOSED and must still be closed by them. */
    void (*free)(void *session);
    size_t (*stream_count)(void *session);
};

P2P_API int p2p_muxer_add(p2p_host *h, const struct p2p_muxer_ops *ops, void *state);
P2P_API size_t p2p_muxer_list(const p2p_host *h, const struct p2p_muxer_ops **ops, void **states, size_t max);

P2P_END_DECLS
#endif
