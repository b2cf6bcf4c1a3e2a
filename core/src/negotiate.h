/* negotiate.h - multistream-select over a p2p_stream (internal). */
#ifndef P2P_NEGOTIATE_H
#define P2P_NEGOTIATE_H

#include "p2p/host.h"
#include "p2p/multistream.h"
#include "p2p/stream.h"

struct negotiation;

/* status 0: s (given back, reading stopped, extra bytes unread) speaks
 * protocol (valid during the call). Otherwise s was closed and is NULL.
 * Never called from inside p2p_negotiate_*(). */
typedef void (*negotiate_cb)(int status, p2p_stream *s, const char *protocol, void *arg);

/* Take s and negotiate as dialer proposing protocols (NULL-terminated,
 * copied) or as listener accepting what supports() says. timeout_ms 0 = no
 * timeout. *out (may be NULL) allows p2p_negotiate_abort until cb runs. */
int p2p_negotiate_dial(p2p_host *h, p2p_stream *s, const char *const *protocols, uint64_t timeout_ms,
                       negotiate_cb cb, void *arg, struct negotiation **out);
/* Lazy dialing of exactly one protocol (as rust-libp2p's V1Lazy): the
 * header and proposal are written and cb reports success from the loop
 * without waiting for the answer, so the caller's first message follows
 * in the same flight. The answer is consumed by the stream when it comes
 * (p2p_stream_mss_lazy); a refusal fails the stream then. */
int p2p_negotiate_dial_lazy(p2p_host *h, p2p_stream *s, const char *protocol, negotiate_cb cb, void *arg,
                            struct negotiation **out);
int p2p_negotiate_listen(p2p_host *h, p2p_stream *s, p2p_mss_supports_fn supports, void *sarg,
                         uint64_t timeout_ms, negotiate_cb cb, void *arg, struct negotiation **out);
/* Stop: closes the stream; cb never runs. */
void p2p_negotiate_abort(struct negotiation *n);

#endif
