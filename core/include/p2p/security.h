/* p2p/security.h - security protocols (Noise): turn a raw stream into an
 * authenticated, encrypted one. Registered in init with
 * p2p_security_add(); the upgrader negotiates one with
 * multistream-select, in registration order. */
#ifndef P2P_SECURITY_H
#define P2P_SECURITY_H

#include <stdbool.h>

#include "api.h"
#include "crypto.h"
#include "peerid.h"
#include "stream.h"

P2P_BEGIN_DECLS

/* status 0: secured is the encrypted stream (owned by the callee), and
 * remote_key / remote_id identify the authenticated peer (valid during the
 * call). Otherwise secured is NULL and status a P2P_E* code (P2P_EPEERID
 * when the remote is not the expected peer). Called exactly once, never
 * from inside secure(), unless aborted. */
typedef void (*p2p_secure_cb)(int status, p2p_stream *secured, const p2p_pubkey *remote_key,
                              const p2p_peerid *remote_id, void *arg);

struct p2p_security_ops {
    const char *protocol_id;            /* "/noise" */
    /* Run the handshake on raw, which it takes ownership of in every case
     * (closed on failure). expected may be NULL (inbound). */
    int (*secure)(void *state, p2p_stream *raw, bool initiator, const p2p_peerid *expected,
                  p2p_secure_cb cb, void *arg, void **op);
    /* Abort a handshake whose callback has not run (closes raw). */
    void (*abort)(void *state, void *op);
};

P2P_API int p2p_security_add(p2p_host *h, const struct p2p_security_ops *ops, void *state);
/* Registered security protocols in order: returns the count, fills at most max. */
P2P_API size_t p2p_security_list(const p2p_host *h, const struct p2p_security_ops **ops, void **states, size_t max);

P2P_END_DECLS
#endif
