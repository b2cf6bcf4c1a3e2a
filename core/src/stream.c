/* stream.c - the generic half of p2p_stream (see p2p/stream.h): owner
 * callbacks, unread bytes, and safe closing from inside callbacks. */
#include <stdlib.h>
#include <string.h>

#include "host_internal.h"
#include "membudget.h"
#include "p2p/buf.h"
#include "p2p/error.h"
#include "p2p/log.h"
#include "p2p/metrics.h"
#include "p2p/multistream.h"
#include "p2p/stream.h"
#include "stream_internal.h"

/* Bytes a provider delivered while reading was stopped, or given back with
 * p2p_stream_unread, are held here; beyond this the stream fails. */
#define UNREAD_LIMIT (1u << 20)

struct p2p_stream {
    p2p_host *host;
    const struct p2p_stream_ops *ops;
    void *impl;
    struct p2p_stream_handlers hd;
    void *arg;
    bool reading;          /* owner wants data */
    bool provider_reading; /* ops->read_start called and not stopped */
    bool closed;           /* owner called p2p_stream_close */
    bool released;         /* ops->close ran */
    bool dead;             /* error seen or reset: only close is left */
    bool wr_shut;
    bool eof_pending;      /* EOF arrived while unread bytes were waiting */
    int in_callback;       /* depth of owner callbacks on the stack */
    p2p_buf unread;
    struct p2p_defer flush;
    p2p_conn *conn;
    char *protocol;
    /* NULL until set; shared (reference-counted) between a raw stream,
     * its secured stream and its substreams (p2p_stream_share_addrs): two
     * inline multiaddrs were 1 KiB per stream, a fifth of an idle
     * connection's memory. */
    struct p2p_addr_pair *addrs;
    void *user;
    bool no_keepalive;
    void (*release_hook)(void *arg);
    void *release_arg;
    p2p_metric_series *rx, *tx;   /* byte counters (raw streams) */
    uint64_t charged;      /* bytes charged to the memory budget for s (membudget.c) */
    p2p_conn *charged_to;  /* the connection they are charged to, or NULL */
    const struct p2p_stream_wbuf_ops *wbuf;   /* provider's write buffers */
    p2p_stream_alloc_fn read_alloc;           /* owner's read buffers */
    struct mss_confirm *confirm;              /* lazy multistream-select: the answer to come */
    p2p_stream_writev_fn writev;              /* provider's gather writes */
    p2p_stream_lowat_fn lowat;                /* provider's read low-water mark */
};

/* A lazy dialer's negotiation still open on the stream: the protocol was
 * proposed (p2p_stream_mss_lazy) and the listener's header and echo are
 * the first bytes to come, ahead of the owner's data. */
struct mss_confirm {
    p2p_mss mss;
    const char *protos[1];
    char id[];
};

void p2p_addr_pair_unref(struct p2p_addr_pair *a)
{
    if (a && --a->refs == 0) free(a);
}

struct p2p_addr_pair *p2p_stream_addrs_ref(const p2p_stream *s)
{
    if (s->addrs) s->addrs->refs++;
    return s->addrs;
}

static void flush_unread(void *arg);

P2P_API p2p_stream *p2p_stream_new(p2p_host *h, const struct p2p_stream_ops *ops, void *impl)
{
    p2p_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->host = h;
    s->ops = ops;
    s->impl = impl;
    p2p_buf_init(&s->unread, UNREAD_LIMIT);
    p2p_defer_init(&s->flush, flush_unread, s);
    return s;
}

static void release(p2p_stream *s)
{
    if (s->released) return;
    s->released = true;
    p2p_defer_cancel(s->host, &s->flush);
    s->ops->close(s->impl);
    p2p_buf_free(&s->unread);
    if (s->charged) p2p_mem_charge(s->host, s->charged_to, -(int64_t)s->charged);
    free(s->protocol);
    free(s->confirm);
    p2p_addr_pair_unref(s->addrs);
    void (*hook)(void *) = s->release_hook;
    void *harg = s->release_arg;
    if (s->no_keepalive && s->conn) p2p_conn_keepalive_changed(s->conn, 1);
    free(s);
    if (hook) hook(harg);
}

void p2p_stream_count_bytes(p2p_stream *s, p2p_metric_series *rx, p2p_metric_series *tx)
{
    s->rx = rx;
    s->tx = tx;
}

void p2p_stream_set_release_hook(p2p_stream *s, void (*fn)(void *arg), void *arg)
{
    s->release_hook = fn;
    s->release_arg = arg;
}

/* After an owner callback: if the owner closed the stream meanwhile, the
 * outermost callback frame releases it. Returns whether it is alive. */
static bool leave(p2p_stream *s)
{
    if (--s->in_callback > 0) return !s->closed;
    if (s->closed) {
        release(s);
        return false;
    }
    return true;
}

static void provider_read(p2p_stream *s, bool on)
{
    if (on == s->provider_reading || s->released) return;
    s->provider_reading = on;
    if (on) s->ops->read_start(s->impl);
    else s->ops->read_stop(s->impl);
}

static bool call_error(p2p_stream *s, int err)
{
    s->dead = true;
    s->reading = false;
    provider_read(s, false);
    if (s->closed || !s->hd.on_error) return !s->closed;
    s->in_callback++;
    s->hd.on_error(s, err, s->arg);
    return leave(s);
}

static bool call_eof(p2p_stream *s)
{
    if (s->closed) return false;
    if (!s->hd.on_eof) return true;
    s->in_callback++;
    s->hd.on_eof(s, s->arg);
    return leave(s);
}

int p2p_stream_mss_lazy(p2p_stream *s, const char *protocol, p2p_buf *out)
{
    size_t n = strlen(protocol);
    if (s->confirm) return P2P_ESTATE;
    struct mss_confirm *c = malloc(sizeof *c + n + 1);
    if (!c) return P2P_ENOMEM;
    memcpy(c->id, protocol, n + 1);
    c->protos[0] = c->id;
    int rc = p2p_mss_dialer_init(&c->mss, c->protos, 1);
    if (rc == 0) rc = p2p_mss_start(&c->mss, out);
    if (rc < 0) {
        free(c);
        return rc;
    }
    s->confirm = c;
    return 0;
}

/* Consume the lazy negotiation's answer from the front of data. Returns
 * the bytes used, or a P2P_E* code: "na" (P2P_ENEGOTIATE) or anything but
 * the header and the echo (P2P_EPROTO). */
static int confirm_feed(p2p_stream *s, const uint8_t *data, size_t len)
{
    p2p_buf none;   /* a one-protocol dialer never answers */
    p2p_buf_init(&none, 0);
    size_t used = 0;
    int rc = p2p_mss_feed(&s->confirm->mss, data, len, &used, &none);
    p2p_buf_free(&none);
    if (rc == P2P_MSS_AGAIN) return (int)used;
    free(s->confirm);
    s->confirm = NULL;
    if (rc < 0) {
        p2p_log_debug("mss", "lazy negotiation failed: %s", p2p_strerror(rc));
        return rc;
    }
    return (int)used;
}

P2P_API bool p2p_stream_deliver_data(p2p_stream *s, const uint8_t *data, size_t len)
{
    if (s->closed || s->dead) return !s->closed;
    p2p_counter_add(s->rx, len);
    if (s->confirm) {
        /* Not the owner's: consumed whether or not it reads. */
        int used = confirm_feed(s, data, len);
        if (used < 0) return call_error(s, used);
        data += used;
        len -= (size_t)used;
        if (!len) return true;
    }
    if (!s->reading || s->unread.len) {
        /* Out of turn: keep the bytes (bounded) to keep the order. */
        if (p2p_buf_append(&s->unread, data, len) != 0) {
            p2p_log_warn("stream", "unread buffer over %u bytes; failing the stream", UNREAD_LIMIT);
            return call_error(s, P2P_ELIMIT);
        }
        p2p_stream_charge(s, (int64_t)len);
        provider_read(s, false);
        if (s->reading) p2p_defer_schedule(s->host, &s->flush);
        return true;
    }
    if (!len) return true;
    s->in_callback++;
    s->hd.on_read(s, data, len, s->arg);
    return leave(s);
}

P2P_API bool p2p_stream_deliver_eof(p2p_stream *s)
{
    if (s->closed || s->dead) return !s->closed;
    if (!s->reading || s->unread.len) {
        s->eof_pending = true;   /* delivered after the held bytes, when reading */
        return true;
    }
    return call_eof(s);
}

P2P_API bool p2p_stream_deliver_error(p2p_stream *s, int err)
{
    if (s->closed || s->dead) return !s->closed;
    return call_error(s, err);
}

P2P_API bool p2p_stream_deliver_drain(p2p_stream *s)
{
    if (s->closed || s->dead || !s->hd.on_drain) return !s->closed;
    s->in_callback++;
    s->hd.on_drain(s, s->arg);
    return leave(s);
}

P2P_API bool p2p_stream_reading(const p2p_stream *s)
{
    return s->reading && !s->closed && !s->dead;
}

/* Deliver unread bytes from the loop, then hand reading to the provider. */
static void flush_unread(void *arg)
{
    p2p_stream *s = arg;
    if (s->reading && s->unread.len && !s->dead) {
        /* Hand over everything held; what the owner gives back during the
         * call lands in a fresh s->unread and is delivered next. */
        p2p_buf chunk = s->unread;
        p2p_buf_init(&s->unread, UNREAD_LIMIT);
        p2p_stream_charge(s, -(int64_t)chunk.len);   /* the owner's from here */
        s->in_callback++;
        s->hd.on_read(s, p2p_buf_head(&chunk), chunk.len, s->arg);
        p2p_buf_free(&chunk);
        if (!leave(s)) return;
        if (s->unread.len) {
            /* Given back again: next loop turn, never a tight loop here. */
            if (s->reading && !s->dead) p2p_defer_schedule(s->host, &s->flush);
            return;
        }
    }
    if (!s->reading || s->dead) return;
    if (s->eof_pending) {
        s->eof_pending = false;
        if (!call_eof(s)) return;
    }
    if (s->reading) provider_read(s, true);
}

P2P_API void p2p_stream_set_handlers(p2p_stream *s, const struct p2p_stream_handlers *hd, void *arg)
{
    s->hd = *hd;
    s->arg = arg;
    s->read_alloc = NULL;   /* belonged to the previous owner */
}

P2P_API void p2p_stream_set_wbuf_ops(p2p_stream *s, const struct p2p_stream_wbuf_ops *ops)
{
    s->wbuf = ops;
}

P2P_API uint8_t *p2p_stream_write_reserve(p2p_stream *s, size_t n)
{
    if (!s->wbuf || s->closed || s->dead || s->wr_shut || s->released || !n) return NULL;
    return s->wbuf->reserve(s->impl, n);
}

P2P_API int p2p_stream_write_commit(p2p_stream *s, size_t n)
{
    if (!s->wbuf || s->closed || s->dead || s->wr_shut || s->released) return P2P_ECLOSED;
    int rc = s->wbuf->commit(s->impl, n);
    if (rc >= 0) p2p_counter_add(s->tx, n);
    return rc;
}

P2P_API void p2p_stream_set_read_alloc(p2p_stream *s, p2p_stream_alloc_fn fn)
{
    s->read_alloc = fn;
}

P2P_API uint8_t *p2p_stream_read_alloc(p2p_stream *s, size_t *len)
{
    /* Only when the bytes would go straight to on_read: held bytes are
     * copied into `unread` anyway. */
    if (!s->read_alloc || !s->reading || s->unread.len || s->closed || s->dead || s->confirm) return NULL;
    return s->read_alloc(s, len, s->arg);
}

P2P_API void p2p_stream_read_start(p2p_stream *s)
{
    if (s->closed || s->dead || s->reading) return;
    s->reading = true;
    if (s->unread.len || s->eof_pending) p2p_defer_schedule(s->host, &s->flush);
    else provider_read(s, true);
}

P2P_API void p2p_stream_read_stop(p2p_stream *s)
{
    if (!s->reading) return;
    s->reading = false;
    p2p_defer_cancel(s->host, &s->flush);
    provider_read(s, false);
}

P2P_API int p2p_stream_write(p2p_stream *s, const uint8_t *data, size_t len)
{
    if (s->closed || s->dead || s->wr_shut) return P2P_ECLOSED;
    if (!len) return 0;
    int rc = s->ops->write(s->impl, data, len);
    if (rc >= 0) p2p_counter_add(s->tx, len);
    return rc;
}

P2P_API void p2p_stream_set_lowat_op(p2p_stream *s, p2p_stream_lowat_fn fn)
{
    s->lowat = fn;
}

P2P_API int p2p_stream_read_lowat(p2p_stream *s, size_t n)
{
    if (!s->lowat) return P2P_EUNSUPPORTED;
    if (!s->closed && !s->released) s->lowat(s->impl, n);
    return 0;
}

P2P_API void p2p_stream_set_writev(p2p_stream *s, p2p_stream_writev_fn fn)
{
    s->writev = fn;
}

static void gather(uint8_t *dst, const struct p2p_iovec *iov, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (iov[i].len) memcpy(dst, iov[i].base, iov[i].len);
        dst += iov[i].len;
    }
}

P2P_API int p2p_stream_writev(p2p_stream *s, const struct p2p_iovec *iov, size_t n)
{
    if (s->closed || s->dead || s->wr_shut) return P2P_ECLOSED;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (iov[i].len > SIZE_MAX - total) return P2P_ERANGE;
        total += iov[i].len;
    }
    if (!total) return 0;
    int rc;
    if (s->writev) {
        rc = s->writev(s->impl, iov, n);
    } else if (n == 1) {
        rc = s->ops->write(s->impl, iov[0].base, total);
    } else {
        /* Join the pieces: in the provider's output when it offers it
         * (what write would have copied there anyway), else in one
         * temporary buffer. */
        uint8_t *dst = p2p_stream_write_reserve(s, total);
        if (dst) {
            gather(dst, iov, n);
            return p2p_stream_write_commit(s, total);
        }
        uint8_t small[1024];
        uint8_t *tmp = total <= sizeof small ? small : malloc(total);
        if (!tmp) return P2P_ENOMEM;
        gather(tmp, iov, n);
        rc = s->ops->write(s->impl, tmp, total);
        if (tmp != small) free(tmp);
    }
    if (rc >= 0) p2p_counter_add(s->tx, total);
    return rc;
}

P2P_API size_t p2p_stream_write_queued(const p2p_stream *s)
{
    return s->ops->write_queued && !s->released ? s->ops->write_queued(s->impl) : 0;
}

P2P_API int p2p_stream_shutdown(p2p_stream *s)
{
    if (s->closed || s->dead) return P2P_ECLOSED;
    if (s->wr_shut) return 0;
    if (!s->ops->shutdown) return P2P_EUNSUPPORTED;
    s->wr_shut = true;
    return s->ops->shutdown(s->impl);
}

P2P_API void p2p_stream_reset(p2p_stream *s)
{
    if (s->closed || s->dead) return;
    s->dead = true;
    s->reading = false;
    s->ops->reset(s->impl);
}

P2P_API void p2p_stream_close(p2p_stream *s)
{
    if (s->closed) return;
    s->closed = true;
    s->reading = false;
    p2p_defer_cancel(s->host, &s->flush);
    if (s->in_callback) return;   /* released when the callback returns */
    release(s);
}

P2P_API int p2p_stream_unread(p2p_stream *s, const uint8_t *data, size_t len)
{
    if (!len) return 0;
    /* Given-back bytes go before anything already held. */
    p2p_buf nb;
    p2p_buf_init(&nb, UNREAD_LIMIT);
    int rc = p2p_buf_append(&nb, data, len);
    if (rc == 0 && s->unread.len) rc = p2p_buf_append(&nb, p2p_buf_head(&s->unread), s->unread.len);
    if (rc) {
        p2p_buf_free(&nb);
        return rc;
    }
    p2p_buf_free(&s->unread);
    s->unread = nb;
    p2p_stream_charge(s, (int64_t)len);
    if (s->reading) {
        provider_read(s, false);
        p2p_defer_schedule(s->host, &s->flush);
    }
    return 0;
}

P2P_API p2p_host *p2p_stream_host(const p2p_stream *s) { return s->host; }
P2P_API p2p_conn *p2p_stream_conn(const p2p_stream *s) { return s->conn; }
P2P_API void p2p_stream_set_conn(p2p_stream *s, p2p_conn *c)
{
    s->conn = c;
    if (s->charged && s->charged_to != c) {
        p2p_mem_charge(s->host, s->charged_to, -(int64_t)s->charged);
        p2p_mem_charge(s->host, c, (int64_t)s->charged);
    }
    s->charged_to = c;
}

P2P_API void p2p_stream_charge(p2p_stream *s, int64_t delta)
{
    if (!delta || s->released) return;
    if (delta < 0 && (uint64_t)-delta > s->charged) delta = -(int64_t)s->charged;   /* never below 0 */
    s->charged += (uint64_t)delta;
    s->charged_to = s->conn;
    p2p_mem_charge(s->host, s->conn, delta);
}

P2P_API uint64_t p2p_stream_charged(const p2p_stream *s) { return s->charged; }
P2P_API const char *p2p_stream_protocol(const p2p_stream *s) { return s->protocol ? s->protocol : ""; }

P2P_API int p2p_stream_set_protocol(p2p_stream *s, const char *protocol_id)
{
    char *p = strdup(protocol_id);
    if (!p) return P2P_ENOMEM;
    free(s->protocol);
    s->protocol = p;
    return 0;
}

P2P_API void p2p_stream_set_addrs(p2p_stream *s, const p2p_multiaddr *local, const p2p_multiaddr *remote)
{
    if (!local && !remote) return;
    /* copy on write: the pair may be shared with other streams */
    struct p2p_addr_pair *a = malloc(sizeof *a);
    if (!a) {
        p2p_log_warn("stream", "out of memory: the stream's addresses are not updated");
        return;
    }
    a->refs = 1;
    a->local = local ? *local : *p2p_stream_local_addr(s);
    a->remote = remote ? *remote : *p2p_stream_remote_addr(s);
    p2p_addr_pair_unref(s->addrs);
    s->addrs = a;
}

P2P_API void p2p_stream_share_addrs(p2p_stream *s, const p2p_stream *from)
{
    if (s == from || s->addrs == from->addrs) return;
    p2p_addr_pair_unref(s->addrs);
    s->addrs = from->addrs;
    if (s->addrs) s->addrs->refs++;
}

static const p2p_multiaddr no_addr;

const p2p_multiaddr *p2p_addr_pair_local(const struct p2p_addr_pair *a)
{
    return a ? &a->local : &no_addr;
}

const p2p_multiaddr *p2p_addr_pair_remote(const struct p2p_addr_pair *a)
{
    return a ? &a->remote : &no_addr;
}

P2P_API const p2p_multiaddr *p2p_stream_local_addr(const p2p_stream *s)
{
    return p2p_addr_pair_local(s->addrs);
}

P2P_API const p2p_multiaddr *p2p_stream_remote_addr(const p2p_stream *s)
{
    return p2p_addr_pair_remote(s->addrs);
}

P2P_API void p2p_stream_set_keepalive(p2p_stream *s, bool keepalive)
{
    if (s->no_keepalive == !keepalive) return;
    s->no_keepalive = !keepalive;
    if (s->conn) p2p_conn_keepalive_changed(s->conn, keepalive ? 1 : -1);
}

P2P_API bool p2p_stream_keepalive(const p2p_stream *s) { return !s->no_keepalive; }
P2P_API void p2p_stream_set_user(p2p_stream *s, void *user) { s->user = user; }
P2P_API void *p2p_stream_user(const p2p_stream *s) { return s->user; }
