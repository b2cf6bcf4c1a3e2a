/* stream_internal.h - core-only hooks on p2p_stream. */
#ifndef P2P_STREAM_INTERNAL_H
#define P2P_STREAM_INTERNAL_H

#include "p2p/stream.h"

/* Called once when the stream is released (after ops->close), so the core
 * can count substreams of a connection. */
void p2p_stream_set_release_hook(p2p_stream *s, void (*fn)(void *arg), void *arg);

/* Called when a stream's keepalive flag changes (delta +1: now counts as
 * activity, -1: no longer). */
void p2p_conn_keepalive_changed(p2p_conn *c, int delta);

/* Count the bytes delivered (rx) and written (tx) on s in these counters
 * (either may be NULL): raw transport streams, for p2p_transport_bytes_total. */
struct p2p_metric_series;
void p2p_stream_count_bytes(p2p_stream *s, struct p2p_metric_series *rx, struct p2p_metric_series *tx);

/* Lazy (optimistic) multistream-select as dialer of exactly one protocol:
 * append the header and the proposal to out (the caller writes them) and
 * treat the protocol as agreed; the owner may write its data at once. The
 * listener's header and echo, when they come, are consumed from the front
 * of the delivered bytes; "na" or anything else fails the stream
 * (P2P_ENEGOTIATE, P2P_EPROTO) through the owner's on_error. */
struct p2p_buf;
int p2p_stream_mss_lazy(p2p_stream *s, const char *protocol, struct p2p_buf *out);

/* The addresses of a raw stream, shared (reference-counted) by the
 * streams layered on it and by the connection made of them. */
struct p2p_addr_pair {
    unsigned refs;
    p2p_multiaddr local, remote;
};
/* s's address pair with one more reference, or NULL when s has none. */
struct p2p_addr_pair *p2p_stream_addrs_ref(const p2p_stream *s);
/* Drop a reference (NULL is fine). */
void p2p_addr_pair_unref(struct p2p_addr_pair *a);
/* The pair's addresses, or an empty address for NULL. */
const p2p_multiaddr *p2p_addr_pair_local(const struct p2p_addr_pair *a);
const p2p_multiaddr *p2p_addr_pair_remote(const struct p2p_addr_pair *a);

#endif
