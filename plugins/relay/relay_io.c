/* relay_io.c - reading and writing relay messages over streams, finishing
 * streams gracefully, tickets for late results, small helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relay.h"

/* ---- tickets ------------------------------------------------------------------ */

struct relay_ticket *relay_ticket_new(struct relay_st *st, void *owner)
{
    struct relay_ticket *t = malloc(sizeof *t);
    if (!t) return NULL;
    t->st = st;
    t->owner = owner;
    relay_st_ref(st);
    return t;
}

void *relay_ticket_take(struct relay_ticket *t)
{
    void *owner = t->owner;
    struct relay_st *st = t->st;
    free(t);
    relay_st_unref(st);
    return owner;
}

/* ---- reading one message ---------------------------------------------------------- */

static void rd_release(struct relay_reader *r)
{
    if (r->timer) p2p_timer_free(r->timer);
    r->timer = NULL;
    p2p_buf_free(&r->buf);
}

static void parked_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s; (void)d; (void)n; (void)arg;   /* reading is stopped: not called */
}

static void parked_quiet(p2p_stream *s, void *arg)
{
    (void)s; (void)arg;
}

static void parked_error(p2p_stream *s, int err, void *arg)
{
    (void)s; (void)err; (void)arg;   /* the owner sees it when it writes or reads */
}

static const struct p2p_stream_handlers parked_handlers = { parked_read, parked_quiet, parked_error, NULL };

void relay_reader_cancel(struct relay_reader *r)
{
    if (r->done && r->s) p2p_stream_set_handlers(r->s, &parked_handlers, NULL);
    rd_release(r);
    r->done = NULL;
}

/* End the read: stop reading, give back the bytes after the frame (those
 * buffered past `used`, then `extra`, which was never buffered), report. */
static void rd_finish(struct relay_reader *r, int status, const struct relay_msg *m, size_t used,
                      const uint8_t *extra, size_t extra_len)
{
    p2p_stream *s = r->s;
    relay_read_cb done = r->done;
    p2p_stream_read_stop(s);
    if (status == 0) {
        /* unread() puts bytes in front of those already held: last first. */
        if (extra_len && p2p_stream_unread(s, extra, extra_len) < 0) status = P2P_ENOMEM;
        if (status == 0 && r->buf.len > used &&
            p2p_stream_unread(s, p2p_buf_head(&r->buf) + used, r->buf.len - used) < 0)
            status = P2P_ENOMEM;
        if (status) m = NULL;
    }
    rd_release(r);
    r->done = NULL;
    /* Until the owner sets its own handlers, nothing points at r. */
    p2p_stream_set_handlers(s, &parked_handlers, NULL);
    if (done) done(r, status, m);
}

static void rd_fail(struct relay_reader *r, int status)
{
    rd_finish(r, status, NULL, 0, NULL, 0);
}

static void rd_on_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    struct relay_reader *r = arg;
    /* Buffer at most one frame; what follows it stays in `data`. */
    size_t room = r->buf.limit - r->buf.len;
    size_t take = len < room ? len : room;
    if (p2p_buf_append(&r->buf, data, take) < 0) return rd_fail(r, P2P_ENOMEM);
    size_t hdr, body;
    int rc = relay_frame(p2p_buf_head(&r->buf), r->buf.len, &hdr, &body);
    if (rc == P2P_ETRUNC) {
        if (take < len) rd_fail(r, P2P_ERANGE);   /* cannot happen: a frame fits the buffer */
        return;
    }
    if (rc < 0) return rd_fail(r, rc == P2P_ERANGE ? P2P_ERANGE : P2P_EINVAL);
    struct relay_msg *m = malloc(sizeof *m);
    if (!m) return rd_fail(r, P2P_ENOMEM);
    rc = relay_msg_decode(m, r->kind, p2p_buf_head(&r->buf) + hdr, body);
    if (rc < 0) rd_fail(r, rc);
    else rd_finish(r, 0, m, hdr + body, data + take, len - take);
    free(m);
}

static void rd_on_eof(p2p_stream *s, void *arg)
{
    (void)s;
    rd_fail(arg, P2P_ETRUNC);
}

static void rd_on_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    rd_fail(arg, err ? err : P2P_ERESET);
}

static void rd_on_timeout(p2p_timer *t, void *arg)
{
    (void)t;
    rd_fail(arg, P2P_ETIMEDOUT);
}

static const struct p2p_stream_handlers rd_handlers = { rd_on_read, rd_on_eof, rd_on_error, NULL };

int relay_reader_start(struct relay_reader *r, struct relay_st *st, p2p_stream *s, enum relay_kind kind,
                       uint64_t timeout_ms, relay_read_cb done, void *owner)
{
    r->st = st;
    r->s = s;
    r->kind = kind;
    r->done = done;
    r->owner = owner;
    p2p_buf_init(&r->buf, RELAY_FRAME_MAX);
    r->timer = p2p_timer_new(st->host, rd_on_timeout, r);
    if (!r->timer) return P2P_ENOMEM;
    p2p_timer_start(r->timer, timeout_ms, 0);
    p2p_stream_set_handlers(s, &rd_handlers, r);
    p2p_stream_read_start(s);
    return 0;
}

/* ---- writing ------------------------------------------------------------------ */

int relay_send(p2p_stream *s, const struct relay_msg *m)
{
    uint8_t *buf = malloc(RELAY_FRAME_MAX);
    if (!buf) return P2P_ENOMEM;
    int n = relay_msg_encode(m, buf, RELAY_FRAME_MAX);
    int rc = n < 0 ? n : p2p_stream_write(s, buf, (size_t)n);
    free(buf);
    return rc;
}

void relay_respond(struct relay_st *st, p2p_stream *s, enum relay_kind kind, uint32_t status)
{
    struct relay_msg m;
    relay_msg_init(&m, kind, kind == RELAY_HOP ? RELAY_HOP_STATUS : RELAY_STOP_STATUS);
    m.has_status = true;
    m.status = status;
    if (relay_send(s, &m) < 0) {
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    relay_finish(st, s);
}

/* ---- finishing streams ------------------------------------------------------------ */

struct closing {
    struct rlist link;
    struct relay_st *st;
    p2p_stream *s;
    p2p_timer *timer;
};

static void closing_done(struct closing *c)
{
    rlist_del(&c->link);
    if (c->timer) p2p_timer_free(c->timer);
    p2p_stream_close(c->s);   /* resets it if bytes are still queued */
    free(c);
}

static void cl_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s; (void)d; (void)n; (void)arg;   /* whatever the remote still sends is dropped */
}

static void cl_eof(p2p_stream *s, void *arg)
{
    struct closing *c = arg;
    if (p2p_stream_write_queued(s) == 0) closing_done(c);
}

static void cl_error(p2p_stream *s, int err, void *arg)
{
    (void)s; (void)err;
    closing_done(arg);
}

static void cl_drain(p2p_stream *s, void *arg)
{
    if (p2p_stream_write_queued(s) == 0) closing_done(arg);
}

static void cl_timeout(p2p_timer *t, void *arg)
{
    (void)t;
    closing_done(arg);
}

static const struct p2p_stream_handlers closing_handlers = { cl_read, cl_eof, cl_error, cl_drain };

void relay_finish(struct relay_st *st, p2p_stream *s)
{
    if (p2p_stream_shutdown(s) < 0 || p2p_stream_write_queued(s) == 0 || st->stopped) {
        p2p_stream_close(s);
        return;
    }
    struct closing *c = calloc(1, sizeof *c);
    if (c) c->timer = p2p_timer_new(st->host, cl_timeout, c);
    if (!c || !c->timer) {
        free(c);
        p2p_stream_close(s);
        return;
    }
    c->st = st;
    c->s = s;
    rlist_add(&st->closing, &c->link);
    p2p_timer_start(c->timer, st->handshake_ms, 0);
    p2p_stream_set_handlers(s, &closing_handlers, c);
    p2p_stream_read_start(s);
}

void relay_finish_all(struct relay_st *st)
{
    while (!rlist_empty(&st->closing)) closing_done(RLIST_OF(st->closing.next, struct closing, link));
}

/* ---- helpers ---------------------------------------------------------------------- */

const char *relay_peer_str(const p2p_peerid *id, char buf[P2P_PEERID_STRMAX])
{
    if (p2p_peerid_to_string(id, buf, P2P_PEERID_STRMAX) < 0) snprintf(buf, P2P_PEERID_STRMAX, "?");
    return buf;
}

void relay_ip_of(const p2p_multiaddr *ma, struct relay_ip *ip)
{
    struct p2p_maddr_component c;
    memset(ip, 0, sizeof *ip);
    if (p2p_maddr_find(ma, P2P_MA_IP4, &c) && c.value_len == 4) {
        ip->len = 4;
        memcpy(ip->b, c.value, 4);
    } else if (p2p_maddr_find(ma, P2P_MA_IP6, &c) && c.value_len == 16) {
        ip->len = 16;
        memcpy(ip->b, c.value, 16);
    }
}

uint64_t relay_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

p2p_conn *relay_conn_by_id(p2p_host *h, uint64_t id)
{
    p2p_conn *conns[64];
    size_t n = p2p_host_conns(h, conns, 64);
    if (n > 64) {
        p2p_conn **all = calloc(n, sizeof *all);
        if (!all) return NULL;
        size_t m = p2p_host_conns(h, all, n);
        p2p_conn *found = NULL;
        for (size_t i = 0; i < m && i < n && !found; i++)
            if (p2p_conn_id(all[i]) == id) found = all[i];
        free(all);
        return found;
    }
    for (size_t i = 0; i < n; i++)
        if (p2p_conn_id(conns[i]) == id) return conns[i];
    return NULL;
}
