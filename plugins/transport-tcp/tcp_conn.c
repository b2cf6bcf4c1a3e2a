/* tcp_conn.c - the raw stream over a uv_tcp_t (struct p2p_stream_ops).
 *
 * Reading: uv_read_start exactly while the owner reads, into the owner's
 * buffer when it supplies one (p2p_stream_read_alloc: the noise layer
 * reads each frame where it will decrypt it) or else into the state's
 * shared buffer (tcp.h). EOF -> deliver_eof (and reading ends for good);
 * an error -> deliver_error with a P2P_E* code. An owner may set a read
 * low-water mark (p2p_stream_read_lowat): bytes below it stay in the
 * kernel (see "read low-water mark" below).
 *
 * Writing: output lives in blocks (struct tcp_block). A connection
 * gathers committed bytes in its current block `cur`; with no uv_write in
 * flight they go out (uv_try_write) at the end of the loop turn, or at
 * once when TCP_COALESCE_MAX bytes are waiting, and only what the kernel
 * did not take is submitted as a uv_write of that block (no copy). The
 * wait coalesces the small messages one turn produces (a handshake
 * message and the next protocol's proposal, a Yamux window update and a
 * stream's first frame) into one write(2), one segment and one wake-up of
 * the peer, instead of one each; a flush ends with on_drain. While
 * writes are in flight, new bytes gather in `cur` and are submitted
 * together when the last write completes (or when `cur` is full), so a
 * busy connection makes one large write per round instead of one per
 * frame. The owner fills blocks in place through the write-buffer ops
 * (reserve/commit: the noise layer encrypts straight into them); write()
 * first tries the caller's bytes directly and copies only the remainder.
 * Blocks come from and return to a small per-instance cache, so the
 * steady state allocates nothing, and an idle connection holds none.
 * write_queued is the committed bytes the kernel has not taken; when it
 * falls back to zero, on_drain is delivered from the write callback. A
 * write fails with P2P_EAGAIN (a reserve returns NULL) when bytes are
 * already queued and the new ones would exceed write_queue_max (a writer
 * that honours the high-water mark never sees that).
 *
 * Closing: the owner's close stops reading and closes the socket. After a
 * completed shutdown (our FIN is out) that is a normal close; after a
 * shutdown still in progress we linger (queued bytes and FIN still go out,
 * at most `linger` long); otherwise the connection is still open and is
 * reset, as p2p_stream_close promises. reset() sets SO_LINGER 0 so that
 * close(2) sends a RST. Memory is freed in the last close callback, and
 * only once the owner has released the stream. */
#include <errno.h>
#include <netinet/in.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "tcp.h"

int tcp_err(int e)
{
    switch (e) {
    case 0: return 0;
    case UV_ECONNREFUSED: return P2P_EREFUSED;
    case UV_ECONNRESET:
    case UV_ECONNABORTED:
    case UV_EPIPE: return P2P_ERESET;
    case UV_ETIMEDOUT: return P2P_ETIMEDOUT;
    case UV_ENETUNREACH:
    case UV_EHOSTUNREACH:
    case UV_ENETDOWN:
    case UV_EHOSTDOWN:
    case UV_EADDRNOTAVAIL: return P2P_EUNREACH;
    case UV_ECANCELED: return P2P_ECANCELED;
    case UV_ENOMEM:
    case UV_ENOBUFS: return P2P_ENOMEM;
    case UV_EADDRINUSE: return P2P_EBUSY;
    case UV_EACCES:
    case UV_EPERM: return P2P_EPERM;
    case UV_EMFILE:
    case UV_ENFILE: return P2P_ELIMIT;
    case UV_EINVAL:
    case UV_EAFNOSUPPORT: return P2P_EINVAL;
    case UV_ENOTCONN:
    case UV_EBADF: return P2P_ECLOSED;
    default: return P2P_EIO;
    }
}

/* ---- output blocks ---------------------------------------------------- */

/* A cache of free blocks of one size. */
static struct tcp_block *cache_take(struct tcp_block **head, unsigned *n)
{
    struct tcp_block *b = *head;
    if (b) {
        *head = b->next;
        (*n)--;
    }
    return b;
}

static void cache_free(struct tcp_block **head, unsigned *n)
{
    struct tcp_block *b;
    while ((b = cache_take(head, n))) free(b);
}

/* A block with room for n: a spare TCP_BLOCK, else a small one when n is
 * small, else a new block of at least TCP_BLOCK. */
static struct tcp_block *block_get(struct tcp_state *st, size_t n)
{
    struct tcp_block *b = NULL;
    if (n <= TCP_BLOCK) b = cache_take(&st->spare, &st->nspare);
    if (!b && n <= TCP_SMALL_BLOCK) b = cache_take(&st->spare_small, &st->nspare_small);
    if (!b) {
        size_t cap = n <= TCP_SMALL_BLOCK ? TCP_SMALL_BLOCK : n > TCP_BLOCK ? n : TCP_BLOCK;
        if (cap > SIZE_MAX - sizeof *b) return NULL;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->cap = cap;
        st->blocks_allocated++;
    }
    b->next = NULL;
    b->off = b->len = 0;
    return b;
}

static bool cache_put(struct tcp_block **head, unsigned *n, unsigned max, struct tcp_block *b)
{
    if (*n >= max) return false;
    b->next = *head;
    *head = b;
    (*n)++;
    return true;
}

static void block_put(struct tcp_state *st, struct tcp_block *b)
{
    if (b->cap == TCP_BLOCK && cache_put(&st->spare, &st->nspare, TCP_BLOCK_CACHE, b)) return;
    if (b->cap == TCP_SMALL_BLOCK && cache_put(&st->spare_small, &st->nspare_small, TCP_SMALL_CACHE, b)) return;
    free(b);
}

void tcp_blocks_free(struct tcp_state *st)
{
    cache_free(&st->spare, &st->nspare);
    cache_free(&st->spare_small, &st->nspare_small);
}

/* Forget bytes gathered but not submitted (the connection is closing). */
static void drop_cur(struct tcp_conn *c)
{
    if (!c->cur) return;
    c->queued -= c->cur->len;
    block_put(c->st, c->cur);
    c->cur = NULL;
}

static void conn_maybe_free(struct tcp_conn *c)
{
    if (c->handles || c->owned) return;
    struct tcp_state *st = c->st;
    tcp_list_del(&c->flink);
    drop_cur(c);
    tcp_list_del(&c->link);
    free(c);
    tcp_state_unref(st);
}

static void on_handle_closed(uv_handle_t *hd)
{
    struct tcp_conn *c = hd->data;
    c->handles--;
    conn_maybe_free(c);
}

struct tcp_conn *tcp_conn_new(struct tcp_state *st)
{
    struct tcp_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (uv_tcp_init(st->loop, &c->tcp) != 0) {
        free(c);
        return NULL;
    }
    c->st = st;
    c->tcp.data = c;
    c->connect_req.data = c;
    c->shutdown_req.data = c;
    c->handles = 1;
    tcp_list_add(&st->conns, &c->link);
    tcp_state_ref(st);
    return c;
}

void tcp_conn_close_handle(struct tcp_conn *c, bool rst)
{
    if (c->lingering && !uv_is_closing((uv_handle_t *)&c->linger))
        uv_close((uv_handle_t *)&c->linger, on_handle_closed);
    if (uv_is_closing((uv_handle_t *)&c->tcp)) return;
    c->reading = false;
    if (rst) {
        uv_os_fd_t fd;
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    /* Pending write/connect/shutdown callbacks run with UV_ECANCELED
     * before on_handle_closed; they check c->stream and c->dial. */
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

void tcp_conn_close_all(struct tcp_state *st)
{
    size_t owned = 0;
    for (struct tcp_link *l = st->conns.next; l != &st->conns; l = l->next) {
        struct tcp_conn *c = TCP_CONTAINER_OF(l, struct tcp_conn, link);
        if (c->owned) owned++;
        /* No callback may reach an owner any more: it may be gone. A
         * connection still open or still sending its tail is reset, so
         * that the peer cannot take a truncated stream for a complete one. */
        c->stream = NULL;
        tcp_conn_close_handle(c, c->owned || c->lingering);
    }
    if (owned)
        p2p_log_warn(TCP_MOD, "%zu connection(s) still held by their owners at shutdown; "
                     "sockets reset, memory released when the owners close them", owned);
}

/* A failure the owner must hear of; returns false when the stream is gone. */
static bool conn_fail(struct tcp_conn *c, int err)
{
    c->dead = true;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    if (!c->stream) return false;
    return p2p_stream_deliver_error(c->stream, err);
}

/* ---- read low-water mark ------------------------------------------- */

/* The owner (Noise, waiting for the rest of a frame) wants nothing until
 * `lowat` bytes are there, so that a partial frame waits in the socket's
 * receive buffer (kernel memory, under TCP's flow control) instead of the
 * owner's. Two parts: SO_RCVLOWAT makes epoll report the socket readable
 * only once that many bytes are queued; but libuv also reads again after
 * every full read, and a non-blocking read returns what there is whatever
 * the mark, so on_alloc looks first (FIONREAD) and, with too little
 * there, declines the read (an empty buffer: libuv reports UV_ENOBUFS and
 * goes back to epoll). It declines once only: the kernel also reports the
 * socket readable below the mark when it must make room (memory pressure,
 * a closed receive window) and at end of input, and the bytes are then
 * read as they are. The mark goes up on the socket only when a read is
 * declined, and comes down at once, so a smaller want is never missed. */
static void sock_lowat(struct tcp_conn *c, size_t n)
{
    int v = n > 1 ? (n > INT_MAX ? INT_MAX : (int)n) : 1;
    uv_os_fd_t fd;
    if (v == c->sock_lowat || uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0) return;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v) == 0) c->sock_lowat = v;
}

static void conn_lowat(void *impl, size_t n)
{
    struct tcp_conn *c = impl;
    c->lowat = n > 1 ? n : 0;
    if ((size_t)c->sock_lowat > n) sock_lowat(c, n);   /* down at once; up when a read is declined */
}

/* Whether to decline this read: fewer than the mark's bytes are queued
 * (and none was declined since the last read). */
static bool below_lowat(struct tcp_conn *c)
{
    if (!c->lowat || c->lowat_declined) return false;
    uv_os_fd_t fd;
    int avail = 0;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0 || ioctl(fd, FIONREAD, &avail) != 0) return false;
    if (avail < 0 || (size_t)avail >= c->lowat) return false;
    sock_lowat(c, c->lowat);
    return true;
}

/* ---- reading -------------------------------------------------------- */

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct tcp_conn *c = hd->data;
    if (below_lowat(c)) {
        c->lowat_declined = true;
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    c->lowat_declined = false;
    /* The owner's buffer may take more than ours: a Noise frame is 65537
     * bytes, one more than the shared buffer (a smaller offer would cost
     * a 1-byte read per frame). */
    size_t len = TCP_OWNER_READ_MAX;
    uint8_t *own = c->stream ? p2p_stream_read_alloc(c->stream, &len) : NULL;
    if (own && len) {
        buf->base = (char *)own;
        buf->len = len > UINT32_MAX ? UINT32_MAX : len;
        return;
    }
    buf->base = (char *)c->st->rbuf;
    buf->len = sizeof c->st->rbuf;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct tcp_conn *c = s->data;
    if (n == 0 || !c->stream) return;   /* EAGAIN; or nobody to tell */
    if (n == UV_ENOBUFS && c->lowat_declined) return;   /* below the low-water mark */
    if (n > 0) {
        p2p_stream_deliver_data(c->stream, (const uint8_t *)buf->base, (size_t)n);
        return;
    }
    if (n == UV_EOF) {
        /* libuv reports EOF without another read(2) when epoll says
         * POLLHUP after a short read, which is also what a RST looks
         * like: the pending socket error tells the two apart. */
        uv_os_fd_t fd;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (uv_fileno((uv_handle_t *)s, &fd) == 0 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr) {
            p2p_log_debug(TCP_MOD, "read failed: %s", strerror(soerr));
            conn_fail(c, tcp_err(-soerr));
            return;
        }
        c->eof_in = true;
        uv_read_stop(s);
        c->reading = false;
        p2p_stream_deliver_eof(c->stream);
        return;
    }
    p2p_log_debug(TCP_MOD, "read failed: %s", uv_strerror((int)n));
    conn_fail(c, tcp_err((int)n));
}

static void conn_read_start(void *impl)
{
    struct tcp_conn *c = impl;
    if (c->reading || c->eof_in || c->dead || uv_is_closing((uv_handle_t *)&c->tcp)) return;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc == 0) c->reading = true;
    else p2p_log_warn(TCP_MOD, "cannot start reading: %s", uv_strerror(rc));
}

static void conn_read_stop(void *impl)
{
    struct tcp_conn *c = impl;
    if (!c->reading) return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

/* ---- writing -------------------------------------------------------- */

static void on_write(uv_write_t *req, int status);

/* Hand `cur` to libuv as one write; it stays untouched until on_write. */
static int submit_cur(struct tcp_conn *c)
{
    struct tcp_block *b = c->cur;
    c->cur = NULL;
    b->c = c;
    uv_buf_t buf = uv_buf_init((char *)b->data + b->off, (unsigned)b->len);
    int rc = b->len > UINT32_MAX ? UV_E2BIG : uv_write(&b->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
    if (rc < 0) {
        c->queued -= b->len;
        block_put(c->st, b);
        /* Earlier bytes may be gone already: the stream is broken. */
        c->dead = true;
        p2p_log_debug(TCP_MOD, "write failed: %s", uv_strerror(rc));
        return tcp_err(rc);
    }
    c->inflight++;
    c->write_blocked = true;
    return 0;
}

/* Send what `cur` gathered; called only with no write in flight (order).
 * What the kernel does not take now is submitted. */
static int flush_cur(struct tcp_conn *c)
{
    struct tcp_block *b = c->cur;
    if (!b || !b->len) return 0;
    uv_buf_t buf = uv_buf_init((char *)b->data + b->off, (unsigned)(b->len > UINT32_MAX ? UINT32_MAX : b->len));
    int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    if (n < 0 && n != UV_EAGAIN) {
        p2p_log_debug(TCP_MOD, "write failed: %s", uv_strerror(n));
        drop_cur(c);
        c->dead = true;
        return tcp_err(n);
    }
    if (n > 0) {
        b->off += (size_t)n;
        b->len -= (size_t)n;
        c->queued -= (size_t)n;
    }
    if (!b->len) {
        /* All out: give the block back, an idle connection holds none. */
        block_put(c->st, b);
        c->cur = NULL;
        return 0;
    }
    return submit_cur(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct tcp_block *b = TCP_CONTAINER_OF(req, struct tcp_block, req);
    struct tcp_conn *c = b->c;
    c->queued -= b->len;
    c->inflight--;
    block_put(c->st, b);
    if (!c->stream || c->dead || status == UV_ECANCELED) return;
    if (status < 0) {
        p2p_log_debug(TCP_MOD, "write failed: %s", uv_strerror(status));
        conn_fail(c, tcp_err(status));
        return;
    }
    if (!c->inflight && c->cur) {
        /* What gathered meanwhile goes out as one batch. */
        int rc = flush_cur(c);
        if (rc < 0) {
            conn_fail(c, rc);
            return;
        }
    }
    if (c->queued == 0 && c->write_blocked) {
        c->write_blocked = false;
        p2p_stream_deliver_drain(c->stream);
    }
}

static bool can_write(const struct tcp_conn *c)
{
    return !c->dead && !c->shut_req && !uv_is_closing((const uv_handle_t *)&c->tcp);
}

/* n bytes of room at the end of `cur` (a new block when it is full). */
static uint8_t *cur_room(struct tcp_conn *c, size_t n)
{
    struct tcp_block *b = c->cur;
    if (b && b->cap - b->off - b->len < n) {
        if (!b->len) {
            block_put(c->st, b);
        } else if (submit_cur(c) < 0) {
            return NULL;
        }
        b = c->cur = NULL;
    }
    if (!b) {
        b = block_get(c->st, n);
        if (!b) return NULL;
        c->cur = b;
    }
    return b->data + b->off + b->len;
}

/* ---- end-of-turn flush ------------------------------------------------ */

static void on_flush_prep(uv_prepare_t *h);

static void on_flush_idle(uv_idle_t *h)
{
    (void)h;   /* active only so that the loop does not block before on_flush_prep */
}

/* c's small writes go out at the end of this loop turn. */
static void flush_later(struct tcp_conn *c)
{
    struct tcp_state *st = c->st;
    c->write_blocked = true;   /* on_drain once they are out */
    if (!c->flink.next) tcp_list_add(&st->flushq, &c->flink);
    if (!st->flush_armed) {
        uv_prepare_start(&st->flush_prep, on_flush_prep);
        uv_idle_start(&st->flush_idle, on_flush_idle);
        st->flush_armed = true;
    }
}

/* Send one waiting connection's bytes; c may be gone afterwards. */
static void flush_one(struct tcp_conn *c, bool last_round)
{
    if (c->inflight || !c->cur || !c->cur->len || !can_write(c)) return;
    /* After a few rounds of drain handlers writing again, libuv takes
     * over (a uv_write always completes) so this turn ends. */
    int rc = last_round ? submit_cur(c) : flush_cur(c);
    if (rc < 0) {
        conn_fail(c, rc);
        return;
    }
    if (c->queued == 0 && c->write_blocked && c->stream) {
        c->write_blocked = false;
        p2p_stream_deliver_drain(c->stream);
    }
}

static void on_flush_prep(uv_prepare_t *h)
{
    struct tcp_state *st = h->data;
    uv_idle_stop(&st->flush_idle);
    for (int round = 0; round < 4 && !tcp_list_empty(&st->flushq); round++) {
        /* This round's connections; drain handlers may queue more. */
        struct tcp_link q;
        q.next = st->flushq.next;
        q.prev = st->flushq.prev;
        q.next->prev = &q;
        q.prev->next = &q;
        tcp_list_init(&st->flushq);
        while (!tcp_list_empty(&q)) {
            struct tcp_conn *c = TCP_CONTAINER_OF(q.next, struct tcp_conn, flink);
            tcp_list_del(&c->flink);
            flush_one(c, round == 3);
        }
    }
    if (tcp_list_empty(&st->flushq)) {
        uv_prepare_stop(&st->flush_prep);
        st->flush_armed = false;
    } else {
        uv_idle_start(&st->flush_idle, on_flush_idle);
    }
}

void tcp_flush_init(struct tcp_state *st)
{
    tcp_list_init(&st->flushq);
    uv_prepare_init(st->loop, &st->flush_prep);
    uv_idle_init(st->loop, &st->flush_idle);
    st->flush_prep.data = st->flush_idle.data = st;
    st->refs += 2;   /* dropped by the close callbacks */
}

static void on_flush_closed(uv_handle_t *h)
{
    tcp_state_unref(h->data);
}

void tcp_flush_close(struct tcp_state *st)
{
    while (!tcp_list_empty(&st->flushq)) tcp_list_del(st->flushq.next);
    uv_close((uv_handle_t *)&st->flush_prep, on_flush_closed);
    uv_close((uv_handle_t *)&st->flush_idle, on_flush_closed);
}

/* The first n bytes after cur's end are written: queue them. */
static int cur_commit(struct tcp_conn *c, size_t n)
{
    if (!n) return 0;
    c->cur->len += n;
    c->queued += n;
    if (c->inflight) {
        c->write_blocked = true;
        return 0;   /* sent with the batch when the writes in flight are done */
    }
    if (c->cur->len < TCP_COALESCE_MAX) {
        flush_later(c);
        return 0;
    }
    tcp_list_del(&c->flink);
    return flush_cur(c);
}

static uint8_t *conn_reserve(void *impl, size_t n)
{
    struct tcp_conn *c = impl;
    if (!can_write(c)) return NULL;
    if (c->queued && c->queued + n > c->st->write_queue_max) return NULL;
    return cur_room(c, n);
}

static int conn_commit(void *impl, size_t n)
{
    struct tcp_conn *c = impl;
    if (!can_write(c)) return P2P_ECLOSED;
    if (!c->cur || n > c->cur->cap - c->cur->off - c->cur->len) return P2P_EINVAL;
    return cur_commit(c, n);
}

static int conn_write(void *impl, const uint8_t *data, size_t len)
{
    struct tcp_conn *c = impl;
    if (!can_write(c)) return P2P_ECLOSED;
    if (c->queued && c->queued + len > c->st->write_queue_max) return P2P_EAGAIN;
    if (c->queued == 0 && len >= TCP_COALESCE_MAX) {
        /* Nothing waiting: straight from the caller's bytes. */
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)(len > UINT32_MAX ? UINT32_MAX : len));
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n < 0 && n != UV_EAGAIN) {
            p2p_log_debug(TCP_MOD, "write failed: %s", uv_strerror(n));
            return tcp_err(n);
        }
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        }
        if (!len) return 0;
    }
    uint8_t *p = cur_room(c, len);
    if (!p) {
        /* Part of the bytes may be gone already: the stream is broken. */
        c->dead = true;
        return P2P_ENOMEM;
    }
    memcpy(p, data, len);
    return cur_commit(c, len);
}

static size_t conn_write_queued(void *impl)
{
    return ((struct tcp_conn *)impl)->queued;
}

static void on_linger_timeout(uv_timer_t *t)
{
    struct tcp_conn *c = t->data;
    p2p_log_debug(TCP_MOD, "linger time over with %zu bytes unsent; resetting", c->queued);
    tcp_conn_close_handle(c, true);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct tcp_conn *c = req->data;
    if (status == 0) c->shut_done = true;
    if (c->lingering) {
        tcp_conn_close_handle(c, status != 0);
        return;
    }
    if (status < 0 && status != UV_ECANCELED && c->stream && !c->dead) {
        p2p_log_debug(TCP_MOD, "shutdown failed: %s", uv_strerror(status));
        conn_fail(c, tcp_err(status));
    }
}

static int conn_shutdown(void *impl)
{
    struct tcp_conn *c = impl;
    if (c->dead || uv_is_closing((uv_handle_t *)&c->tcp)) return P2P_ECLOSED;
    if (c->shut_req) return 0;
    /* Gathered bytes go before the FIN. */
    if (c->cur && c->cur->len) {
        int w = submit_cur(c);
        if (w < 0) return w;
    }
    int rc = uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown);
    if (rc < 0) return tcp_err(rc);
    c->shut_req = true;
    return 0;
}

/* Small writes still waiting for the end of the turn go out before the
 * socket is closed or reset, as they would have without the wait (a
 * GoAway written right before a reset, say). */
static void flush_now(struct tcp_conn *c)
{
    tcp_list_del(&c->flink);
    if (c->dead || c->inflight || !c->cur || uv_is_closing((uv_handle_t *)&c->tcp)) return;
    uv_buf_t buf = uv_buf_init((char *)c->cur->data + c->cur->off, (unsigned)c->cur->len);
    (void)uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);   /* best effort, as before */
    drop_cur(c);
}

static void conn_reset(void *impl)
{
    struct tcp_conn *c = impl;
    flush_now(c);
    c->dead = true;
    tcp_conn_close_handle(c, true);
}

static void conn_close(void *impl)
{
    struct tcp_conn *c = impl;
    c->stream = NULL;
    c->owned = false;
    if (!c->shut_req) flush_now(c);   /* after a shutdown they went with it */
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) {
        conn_read_stop(c);
        if (c->shut_req && !c->shut_done && !c->dead && c->st->linger_ms && !c->st->finied &&
            uv_timer_init(c->st->loop, &c->linger) == 0) {
            /* Let the queued bytes and our FIN go out; on_shutdown closes. */
            c->linger.data = c;
            c->handles++;
            c->lingering = true;
            uv_timer_start(&c->linger, on_linger_timeout, c->st->linger_ms, 0);
            return;
        }
        tcp_conn_close_handle(c, !(c->shut_done || c->dead));
    }
    conn_maybe_free(c);
}

static const struct p2p_stream_wbuf_ops conn_wbuf_ops = {
    .reserve = conn_reserve,
    .commit = conn_commit,
};

static const struct p2p_stream_ops conn_ops = {
    .write = conn_write,
    .read_start = conn_read_start,
    .read_stop = conn_read_stop,
    .shutdown = conn_shutdown,
    .reset = conn_reset,
    .write_queued = conn_write_queued,
    .close = conn_close,
};

static int sockname(struct tcp_conn *c, bool peer, p2p_multiaddr *ma)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    int rc = peer ? uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len)
                  : uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len);
    if (rc < 0) return tcp_err(rc);
    return p2p_maddr_from_sockaddr(ma, (const struct sockaddr *)&ss, P2P_MA_TCP);
}

/* Keep at most notsent_lowat bytes in the kernel that it has not sent
 * yet; the rest waits in our blocks and, above all, in Yamux, where
 * streams take turns. With the system's default (no limit) several MiB of
 * one order of frames sit in the socket buffer, so the turns reach the
 * receiver late and a first-come receiver (rust-yamux, go-yamux) grows
 * the windows of the streams it sees first (docs/BENCHMARKS.md, fairness
 * of concurrent streams); control frames and small messages wait behind
 * that queue too. Bytes sent but not acknowledged are not limited, so
 * the congestion window stays full. Failure only costs that: logged. */
static void set_notsent_lowat(struct tcp_conn *c)
{
#ifdef TCP_NOTSENT_LOWAT
    uv_os_fd_t fd;
    int v = (int)c->st->notsent_lowat;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 &&
        setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof v) == 0)
        return;
    p2p_log_debug(TCP_MOD, "TCP_NOTSENT_LOWAT: %s", strerror(errno));
#else
    (void)c;
#endif
}

int tcp_conn_setup(struct tcp_conn *c)
{
    struct tcp_state *st = c->st;
    p2p_multiaddr local, remote;
    int rc = uv_tcp_nodelay(&c->tcp, 1);
    if (rc < 0) {
        /* E.g. the peer already reset the connection. */
        p2p_log_debug(TCP_MOD, "TCP_NODELAY: %s", uv_strerror(rc));
        rc = tcp_err(rc);
    }
    if (rc == 0 && st->notsent_lowat) set_notsent_lowat(c);
    if (rc == 0 && st->keepalive_ms) {
        unsigned secs = (unsigned)((st->keepalive_ms + 999) / 1000);
        int k = uv_tcp_keepalive(&c->tcp, 1, secs);
        if (k < 0) p2p_log_debug(TCP_MOD, "keepalive: %s", uv_strerror(k));
    }
    if (rc == 0) rc = sockname(c, false, &local);
    if (rc == 0) rc = sockname(c, true, &remote);
    if (rc == 0) {
        c->stream = p2p_stream_new(st->host, &conn_ops, c);
        if (!c->stream) rc = P2P_ENOMEM;
    }
    if (rc < 0) {
        tcp_conn_close_handle(c, true);
        return rc;
    }
    p2p_stream_set_addrs(c->stream, &local, &remote);
    p2p_stream_set_wbuf_ops(c->stream, &conn_wbuf_ops);
    p2p_stream_set_lowat_op(c->stream, conn_lowat);
    c->sock_lowat = 1;
    c->owned = true;
    return 0;
}
