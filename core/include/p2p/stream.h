/* p2p/stream.h - the one byte-stream interface of every layer.
 *
 * A raw TCP connection, a Noise session on top of it, a Yamux substream and
 * a relayed circuit are all p2p_streams, so security and multiplexing
 * stack on anything (which is what makes relay-as-transport work).
 *
 * Two sides:
 *  - the provider (a transport, security or muxer plugin) creates the
 *    stream with p2p_stream_new() and a table of operations, and reports
 *    what happens with p2p_stream_deliver_*();
 *  - the owner (whoever holds the stream: the upgrader, a protocol
 *    handler) sets handlers, reads, writes and finally calls
 *    p2p_stream_close(), exactly once.
 *
 * Reading: after p2p_stream_read_start() the owner's on_read receives
 * bytes, which it borrows for the duration of the call only. Reading stays
 * on until p2p_stream_read_stop(); a provider delivers nothing while
 * stopped and applies back-pressure below (Yamux withholds window
 * updates, TCP stops reading the socket). End of input (the remote's
 * half-close) is on_eof; failure or remote reset is on_error (after which
 * the stream can only be closed).
 *
 * Writing: p2p_stream_write() takes all the bytes or fails; it never keeps
 * the caller's pointer. Bytes not yet passed on by the provider count in
 * p2p_stream_write_queued(). A writer that must not grow memory stops when
 * that exceeds its own limit (P2P_STREAM_HIGH_WATER is a good default) and
 * resumes on on_drain, which the provider calls when its queue empties.
 * p2p_stream_shutdown() half-closes (FIN) after queued bytes; reading goes
 * on. p2p_stream_reset() aborts both directions.
 *
 * Handlers may call any function on the stream, including
 * p2p_stream_close() (no handler runs after it returns).
 *
 * Rules for providers: never call p2p_stream_deliver_*() from inside one
 * of your ops (report a write failure through the return value; report
 * drain from the loop). Every deliver_* returns false when the owner
 * closed the stream during the call: ops->close(impl) has then already
 * run, and the provider must not touch impl or the stream again.
 *
 * Unread bytes: a negotiation layer that read past its own messages gives
 * the extra bytes back with p2p_stream_unread(); they are delivered first,
 * from the loop, after the next p2p_stream_read_start().
 *
 * Zero-copy extensions (ABI 1.4), both optional on either side, for the
 * bulk data path (a security layer over a transport):
 *  - write buffers: a provider that keeps its own output memory offers it
 *    with p2p_stream_set_wbuf_ops(); an owner then builds its bytes in
 *    place with p2p_stream_write_reserve() + p2p_stream_write_commit()
 *    instead of p2p_stream_write() (which copies whatever the provider
 *    cannot pass on at once);
 *  - read buffers: an owner that wants the bytes in its own memory sets
 *    p2p_stream_set_read_alloc(); a provider that reads into a buffer asks
 *    it with p2p_stream_read_alloc() before each read and delivers with
 *    on_read pointing into that memory.
 * Layers that do not use them behave as before. A third (ABI 1.7), the
 * read low-water mark, lets such an owner leave a partial frame in the
 * kernel instead of its own memory (p2p_stream_read_lowat). */
#ifndef P2P_STREAM_H
#define P2P_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "multiaddr.h"
#include "peerid.h"

P2P_BEGIN_DECLS

typedef struct p2p_host p2p_host;
typedef struct p2p_stream p2p_stream;
typedef struct p2p_conn p2p_conn;

#define P2P_STREAM_HIGH_WATER (1u << 20)

/* Provider operations; impl is the pointer given to p2p_stream_new. */
struct p2p_stream_ops {
    int (*write)(void *impl, const uint8_t *data, size_t len);
    void (*read_start)(void *impl);
    void (*read_stop)(void *impl);
    int (*shutdown)(void *impl);          /* may be NULL: not supported (P2P_EUNSUPPORTED) */
    void (*reset)(void *impl);
    size_t (*write_queued)(void *impl);   /* may be NULL: always 0 */
    /* The owner closed the stream: release everything. No deliver_* call
     * is allowed after this returns. Called exactly once. */
    void (*close)(void *impl);
};

struct p2p_stream_handlers {
    void (*on_read)(p2p_stream *s, const uint8_t *data, size_t len, void *arg);
    void (*on_eof)(p2p_stream *s, void *arg);          /* may be NULL */
    void (*on_error)(p2p_stream *s, int err, void *arg);
    void (*on_drain)(p2p_stream *s, void *arg);        /* may be NULL */
};

/* ---- provider side -------------------------------------------------- */

/* Returns NULL when out of memory. The stream starts with reading stopped. */
P2P_API p2p_stream *p2p_stream_new(p2p_host *h, const struct p2p_stream_ops *ops, void *impl);
P2P_API bool p2p_stream_deliver_data(p2p_stream *s, const uint8_t *data, size_t len);
P2P_API bool p2p_stream_deliver_eof(p2p_stream *s);
P2P_API bool p2p_stream_deliver_error(p2p_stream *s, int err);
P2P_API bool p2p_stream_deliver_drain(p2p_stream *s);
/* Whether the owner wants data now (reading started, not closed). */
P2P_API bool p2p_stream_reading(const p2p_stream *s);

/* Memory accounting (see p2p_host_mem_stats in p2p/host.h): a layer or
 * plugin that holds bytes for s (a queue it reads into or writes from)
 * charges them with a positive delta and uncharges them with a negative
 * one as they leave. The charge goes to s's connection (substreams and
 * the secured stream under a muxer; other streams count host-wide only)
 * and whatever is left charged is uncharged when s is released, so a
 * provider may skip uncharging in its ops->close. Cheap: two additions. */
P2P_API void p2p_stream_charge(p2p_stream *s, int64_t delta);
/* Bytes charged to s now (its own unread buffer included). */
P2P_API uint64_t p2p_stream_charged(const p2p_stream *s);

/* ---- owner side ----------------------------------------------------- */

P2P_API void p2p_stream_set_handlers(p2p_stream *s, const struct p2p_stream_handlers *hd, void *arg);
P2P_API void p2p_stream_read_start(p2p_stream *s);
P2P_API void p2p_stream_read_stop(p2p_stream *s);
/* 0, or P2P_ECLOSED after shutdown/reset/error, or the provider's error. */
P2P_API int p2p_stream_write(p2p_stream *s, const uint8_t *data, size_t len);
P2P_API size_t p2p_stream_write_queued(const p2p_stream *s);
P2P_API int p2p_stream_shutdown(p2p_stream *s);
P2P_API void p2p_stream_reset(p2p_stream *s);
/* Release the stream (resetting it if still open). Exactly once. */
P2P_API void p2p_stream_close(p2p_stream *s);
/* Give back bytes read too far (see above). Returns 0 or P2P_ENOMEM. */
P2P_API int p2p_stream_unread(p2p_stream *s, const uint8_t *data, size_t len);

/* ---- zero-copy extensions (ABI 1.4) ------------------------------------- */

/* Provider: output memory of its own. reserve returns at least n writable
 * bytes at the end of the provider's output (valid until the next call of
 * any op on the stream), or NULL when it cannot (over its queue limit,
 * out of memory, closed): the owner then uses write. commit(n) queues the
 * first n reserved bytes for sending exactly as write would have (same
 * return values); n may be less than reserved, the rest is dropped. */
struct p2p_stream_wbuf_ops {
    uint8_t *(*reserve)(void *impl, size_t n);
    int (*commit)(void *impl, size_t n);
};
/* Provider side: offer write buffers (ops must outlive the stream; NULL
 * withdraws them). */
P2P_API void p2p_stream_set_wbuf_ops(p2p_stream *s, const struct p2p_stream_wbuf_ops *ops);
/* Owner side: n writable bytes in the provider's output, or NULL (no
 * write buffers, closed, or the provider refused: use p2p_stream_write).
 * Nothing is sent until p2p_stream_write_commit; a reservation not
 * committed before the next call on the stream is dropped. */
P2P_API uint8_t *p2p_stream_write_reserve(p2p_stream *s, size_t n);
/* Send the first n bytes of the last reservation (n <= reserved): 0,
 * P2P_ECLOSED or the provider's error, as p2p_stream_write. */
P2P_API int p2p_stream_write_commit(p2p_stream *s, size_t n);

/* Owner: supply memory for the next read. Called by the provider (through
 * p2p_stream_read_alloc) right before it reads; returns a buffer of *len
 * bytes (set *len) that stays valid until the on_read of that read
 * returns, or NULL for "use your own buffer". arg is the handlers' arg. */
typedef uint8_t *(*p2p_stream_alloc_fn)(p2p_stream *s, size_t *len, void *arg);
/* Owner side: install (NULL removes) the allocator. p2p_stream_set_handlers
 * removes it, so set it after the handlers. */
P2P_API void p2p_stream_set_read_alloc(p2p_stream *s, p2p_stream_alloc_fn fn);
/* Provider side: the owner's buffer for the next read (at most `*len`
 * bytes, which is updated), or NULL (no allocator, not reading, or the
 * owner declined): read into the provider's own buffer. Bytes read into it
 * must be delivered with p2p_stream_deliver_data(s, buffer, n) before the
 * next call of p2p_stream_read_alloc. */
P2P_API uint8_t *p2p_stream_read_alloc(p2p_stream *s, size_t *len);

/* ---- gather writes (ABI 1.5) --------------------------------------------- */

/* One piece of a gather write. */
struct p2p_iovec {
    const uint8_t *base;
    size_t len;
};
/* Provider: write iov[0..n) in order, as one write would (same contract:
 * all or an error, no pointer kept after return). Pieces may be empty
 * (base then may be NULL); the total is not 0. */
typedef int (*p2p_stream_writev_fn)(void *impl, const struct p2p_iovec *iov, size_t n);
/* Provider side: take gather writes natively (NULL withdraws). */
P2P_API void p2p_stream_set_writev(p2p_stream *s, p2p_stream_writev_fn fn);
/* Owner side: p2p_stream_write of the concatenation of iov[0..n) (empty
 * pieces allowed): takes all the bytes or fails, and never keeps a
 * pointer, so the caller may reuse every piece on return. Without a
 * native gather op the core joins the pieces in the provider's write
 * buffer (p2p_stream_write_reserve) or in one temporary copy and writes
 * that. Returns as p2p_stream_write (P2P_ENOMEM: the copy failed). */
P2P_API int p2p_stream_writev(p2p_stream *s, const struct p2p_iovec *iov, size_t n);

/* ---- read low-water mark (ABI 1.7) ------------------------------------ */

/* An owner that cannot use fewer than n bytes (a security layer waiting
 * for the rest of a frame) asks its provider to hold them below until n
 * can be delivered at once: a TCP transport leaves them in the kernel's
 * socket buffer (SO_RCVLOWAT), where they cost the process no memory and
 * TCP's flow control applies. It is a hint: the provider may still
 * deliver fewer bytes (the kernel under memory pressure, end of input),
 * and the owner must take whatever comes, as always. n <= 1 asks for
 * every byte as soon as it is there (the default); it takes effect at
 * once, a larger n from the provider's next read on. */
typedef void (*p2p_stream_lowat_fn)(void *impl, size_t n);
/* Provider side: support the low-water mark (NULL withdraws). */
P2P_API void p2p_stream_set_lowat_op(p2p_stream *s, p2p_stream_lowat_fn fn);
/* Owner side: 0, or P2P_EUNSUPPORTED when the provider holds nothing
 * back (it delivers as before; nothing else changes). */
P2P_API int p2p_stream_read_lowat(p2p_stream *s, size_t n);

/* ---- metadata ------------------------------------------------------- */

P2P_API p2p_host *p2p_stream_host(const p2p_stream *s);
/* The muxed connection a substream belongs to (NULL for raw streams). */
P2P_API p2p_conn *p2p_stream_conn(const p2p_stream *s);
P2P_API void p2p_stream_set_conn(p2p_stream *s, p2p_conn *c);
/* Negotiated protocol id ("" until negotiated); copied. */
P2P_API const char *p2p_stream_protocol(const p2p_stream *s);
P2P_API int p2p_stream_set_protocol(p2p_stream *s, const char *protocol_id);
/* Addresses of a raw stream (set by transports; copied; NULL keeps that
 * one). Empty (len 0) until set. The pointers the getters return are valid
 * until the stream is released or its addresses are set again. */
P2P_API void p2p_stream_set_addrs(p2p_stream *s, const p2p_multiaddr *local, const p2p_multiaddr *remote);
/* Give s the addresses of from (a secured stream those of its raw stream,
 * a substream those of its session's), without a copy: they are shared,
 * reference-counted, for as long as either stream lives. A later
 * p2p_stream_set_addrs on either gives that one its own copy. */
P2P_API void p2p_stream_share_addrs(p2p_stream *s, const p2p_stream *from);
P2P_API const p2p_multiaddr *p2p_stream_local_addr(const p2p_stream *s);
P2P_API const p2p_multiaddr *p2p_stream_remote_addr(const p2p_stream *s);
/* Whether the stream keeps its connection from being closed as idle
 * (default true). Protocols whose streams live for the whole connection
 * without being "activity" (ping, identify push) set it to false, so the
 * host's idle_timeout still applies. */
P2P_API void p2p_stream_set_keepalive(p2p_stream *s, bool keepalive);
P2P_API bool p2p_stream_keepalive(const p2p_stream *s);
/* An opaque value for the stream's owner (not used by the core). */
P2P_API void p2p_stream_set_user(p2p_stream *s, void *user);
P2P_API void *p2p_stream_user(const p2p_stream *s);

/* ---- in-memory pipe ------------------------------------------------ */

/* Two connected streams: bytes written to one are read from the other,
 * delivered from the loop. Each direction has a back-pressure like a
 * socket's: bytes not yet read by the other side count in
 * p2p_stream_write_queued(); a write beyond `capacity` queued bytes fails
 * with P2P_EAGAIN (0 = unlimited). For tests and in-process links. */
P2P_API int p2p_stream_pipe(p2p_host *h, size_t capacity, p2p_stream **a, p2p_stream **b);

P2P_END_DECLS
#endif
