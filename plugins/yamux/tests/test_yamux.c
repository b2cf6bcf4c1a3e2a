/* Yamux frame codec and I/O-free session: two sessions wired in memory. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "testutil.h"
#include "yamux_frame.h"
#include "yamux_session.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
#define MAXS 3100

/* ---- Harness ----------------------------------------------------------- */

struct rstream {
    uint32_t id;
    uint8_t *data;
    size_t len, cap;
    bool fin, reset, opened;
    const uint8_t *tx;   /* queued by qsend(), written in the stream's turns */
    size_t txlen;
};

struct peer {
    yamux_session *s;
    const char *name;
    struct rstream st[MAXS];
    int nst;
    bool auto_accept;
    bool auto_consume;
    bool quiet_data;   /* no "data" entries in the log */
    bool count_only;   /* count received bytes, do not keep them */
    const uint8_t *src; /* on_writable writes from here (SRC_LEN bytes) */
    int writable, goaway, rtt_count, errors, can_open, opened;
    uint32_t goaway_code, last_writable;
    uint64_t last_rtt;
    int last_error;
    int last_feed_rc;
    char log[8192];
    size_t loglen;
    /* re-entrancy probes */
    bool reset_on_data, close_on_fin, reset_on_open, write_on_open;
    bool try_reenter;
    int reenter_rc;
    /* Direct output (peer_init_direct): frames go into `wire` (the layer
     * below), which holds at most droom bytes, or into a simulated link. */
    uint8_t *wire;
    size_t wlen, wcap, droom;
    struct link *dlink;
    size_t dlimit;
    uint64_t dnow, dbytes, obytes;   /* bytes sent direct / from the output */
    int dsends, dfail;
};

struct link;
static void link_push(struct link *l, uint64_t now, const uint8_t *d, size_t n);
static size_t link_queued(const struct link *l);

static void logf_(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct peer *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (p->loglen < sizeof p->log) {
        int n = vsnprintf(p->log + p->loglen, sizeof p->log - p->loglen, fmt, ap);
        if (n > 0) p->loglen += (size_t)n;
        if (p->loglen > sizeof p->log) p->loglen = sizeof p->log;
    }
    va_end(ap);
}

static struct rstream *rs(struct peer *p, uint32_t id)
{
    for (int i = 0; i < p->nst; i++)
        if (p->st[i].id == id) return &p->st[i];
    ck_assert_int_lt(p->nst, MAXS);
    struct rstream *r = &p->st[p->nst++];
    memset(r, 0, sizeof *r);
    r->id = id;
    return r;
}

static void ev_opened(void *u, uint32_t id)
{
    struct peer *p = u;
    rs(p, id)->opened = true;
    p->opened++;
    logf_(p, "open %u;", id);
    if (p->try_reenter) {
        size_t used;
        p->reenter_rc = yamux_session_feed(p->s, 0, (const uint8_t *)"x", 1, &used);
    }
    if (p->reset_on_open) {
        ck_assert_int_eq(yamux_stream_reset(p->s, id), 0);
        return;
    }
    if (p->auto_accept) ck_assert_int_eq(yamux_stream_accept(p->s, id), 0);
    if (p->write_on_open) ck_assert_int_eq(yamux_stream_write(p->s, id, (const uint8_t *)"echo", 4), 4);
}

static void ev_data(void *u, uint32_t id, const uint8_t *d, size_t n)
{
    struct peer *p = u;
    struct rstream *r = rs(p, id);
    if (p->count_only) {
        r->len += n;
        ck_assert_int_eq(yamux_stream_consumed(p->s, id, n), 0);
        return;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        while (cap < r->len + n) cap *= 2;
        r->data = realloc(r->data, cap);
        ck_assert_ptr_nonnull(r->data);
        r->cap = cap;
    }
    memcpy(r->data + r->len, d, n);
    r->len += n;
    if (!p->quiet_data) logf_(p, "data %u %zu;", id, n);
    if (p->auto_consume) {
        int rc = yamux_stream_consumed(p->s, id, n);
        ck_assert(rc == 0 || rc == P2P_ENOTFOUND);
    }
    if (p->reset_on_data) {
        int rc = yamux_stream_reset(p->s, id);
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(yamux_stream_consumed(p->s, id, 0), P2P_ENOTFOUND);
    }
}

static void ev_fin(void *u, uint32_t id)
{
    struct peer *p = u;
    rs(p, id)->fin = true;
    logf_(p, "fin %u;", id);
    if (p->close_on_fin) ck_assert_int_eq(yamux_stream_close(p->s, id), 0);
}

static void ev_reset(void *u, uint32_t id)
{
    struct peer *p = u;
    rs(p, id)->reset = true;
    logf_(p, "rst %u;", id);
}

#define SRC_LEN (64u * 1024u)

/* Write what send() queued (like the plugin's txq). */
static void tx_more(struct peer *p, struct rstream *r)
{
    while (r->txlen) {
        int k = yamux_stream_write(p->s, r->id, r->tx, r->txlen);
        if (k < 0) {   /* reset or closed meanwhile: drop it */
            ck_assert(k == P2P_ENOTFOUND || k == P2P_ESTATE || k == P2P_ECLOSED);
            r->txlen = 0;
            return;
        }
        if (!k) return;
        r->tx += k;
        r->txlen -= (size_t)k;
    }
}

static void ev_writable(void *u, uint32_t id)
{
    struct peer *p = u;
    p->writable++;
    p->last_writable = id;
    if (p->src)
        while (yamux_stream_write(p->s, id, p->src, SRC_LEN) > 0) {}
    tx_more(p, rs(p, id));
}

/* Queue n bytes of buf (which must stay valid) on stream id: written now
 * as far as allowed, the rest in the stream's turns as output drains. */
static void qsend(struct peer *p, uint32_t id, const uint8_t *buf, size_t n)
{
    struct rstream *r = rs(p, id);
    ck_assert_uint_eq(r->txlen, 0);
    r->tx = buf;
    r->txlen = n;
    tx_more(p, r);
}

static void ev_can_open(void *u)
{
    struct peer *p = u;
    p->can_open++;
}

static void ev_goaway(void *u, uint32_t code)
{
    struct peer *p = u;
    p->goaway++;
    p->goaway_code = code;
    logf_(p, "goaway %u;", code);
}

static void ev_rtt(void *u, uint64_t rtt)
{
    struct peer *p = u;
    p->rtt_count++;
    p->last_rtt = rtt;
}

static void ev_error(void *u, int err)
{
    struct peer *p = u;
    p->errors++;
    p->last_error = err;
    logf_(p, "error %d;", err);
}

static const struct yamux_callbacks cbs = {
    .on_stream_opened = ev_opened, .on_data = ev_data, .on_remote_fin = ev_fin,
    .on_reset = ev_reset, .on_writable = ev_writable, .on_can_open = ev_can_open,
    .on_goaway = ev_goaway, .on_ping_rtt = ev_rtt, .on_error = ev_error,
};

static size_t ev_room(void *u)
{
    struct peer *p = u;
    size_t held = p->dlink ? link_queued(p->dlink) : p->wlen, max = p->dlink ? p->dlimit : p->droom;
    return held < max ? max - held : 0;
}

static int ev_send(void *u, const struct p2p_iovec *iov, size_t n)
{
    struct peer *p = u;
    p->dsends++;
    if (p->dfail) return p->dfail;
    for (size_t i = 0; i < n; i++) {
        if (!iov[i].len) continue;
        p->dbytes += iov[i].len;
        if (p->dlink) {
            link_push(p->dlink, p->dnow, iov[i].base, iov[i].len);
            continue;
        }
        if (p->wlen + iov[i].len > p->wcap) {
            p->wcap = 2 * (p->wlen + iov[i].len);
            p->wire = realloc(p->wire, p->wcap);
            ck_assert_ptr_nonnull(p->wire);
        }
        memcpy(p->wire + p->wlen, iov[i].base, iov[i].len);
        p->wlen += iov[i].len;
    }
    return 0;
}

static const struct yamux_callbacks cbs_direct = {
    .on_stream_opened = ev_opened, .on_data = ev_data, .on_remote_fin = ev_fin,
    .on_reset = ev_reset, .on_writable = ev_writable, .on_can_open = ev_can_open,
    .on_goaway = ev_goaway, .on_ping_rtt = ev_rtt, .on_error = ev_error,
    .direct_room = ev_room, .direct_send = ev_send,
};

static void peer_init_cb(struct peer *p, const char *name, bool client, const struct yamux_config *cfg,
                         const struct yamux_callbacks *cb)
{
    memset(p, 0, sizeof *p);
    p->name = name;
    p->auto_accept = true;
    p->auto_consume = true;
    ck_assert_int_eq(yamux_session_new(&p->s, client, cfg, cb, p), 0);
}

static void peer_init(struct peer *p, const char *name, bool client, const struct yamux_config *cfg)
{
    peer_init_cb(p, name, client, cfg, &cbs);
}

/* A peer with direct output into `wire`, which holds at most droom bytes. */
static void peer_init_direct(struct peer *p, const char *name, bool client, const struct yamux_config *cfg,
                             size_t droom)
{
    peer_init_cb(p, name, client, cfg, &cbs_direct);
    p->droom = droom;
}

static void peer_free(struct peer *p)
{
    yamux_session_free(p->s);
    for (int i = 0; i < p->nst; i++) free(p->st[i].data);
    free(p->wire);
}

/* Move up to chunk bytes (0 = all) of from's output into to: first what
 * went down directly (it precedes anything queued now: direct output
 * requires the queues empty), then the session's output. */
static size_t xfer(struct peer *from, struct peer *to, uint64_t now, size_t chunk)
{
    const uint8_t *d;
    size_t n, used = 0;
    if (from->wlen && !yamux_session_failed(to->s)) {
        n = chunk && from->wlen > chunk ? chunk : from->wlen;
        int rc = yamux_session_feed(to->s, now, from->wire, n, &used);
        if (rc) to->last_feed_rc = rc;
        memmove(from->wire, from->wire + used, from->wlen - used);
        from->wlen -= used;
        /* Room below again: turns. */
        ck_assert_int_eq(yamux_session_output_ready(from->s), 0);
        return used;
    }
    yamux_session_output(from->s, &d, &n);
    if (!n || yamux_session_failed(to->s)) return 0;
    if (chunk && n > chunk) n = chunk;
    int rc = yamux_session_feed(to->s, now, d, n, &used);
    if (rc) to->last_feed_rc = rc;
    ck_assert_int_eq(yamux_session_output_consume(from->s, used), 0);
    return used;
}

static void pump_at(struct peer *a, struct peer *b, uint64_t now)
{
    for (int i = 0; i < 1000000; i++) {
        size_t x = xfer(a, b, now, 0);
        size_t y = xfer(b, a, now, 0);
        if (!x && !y) return;
    }
    ck_abort_msg("pump does not settle");
}

static void pump(struct peer *a, struct peer *b) { pump_at(a, b, 0); }

static struct yamux_config quiet_cfg(void)
{
    struct yamux_config c;
    yamux_config_default(&c);
    c.keepalive_ms = 0;
    c.autotune = false;   /* no first ping unless a test wants it */
    return c;
}

static void pair_init(struct peer *c, struct peer *s)
{
    struct yamux_config cfg = quiet_cfg();
    peer_init(c, "client", true, &cfg);
    peer_init(s, "server", false, &cfg);
}

static void fill(uint8_t *b, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (uint8_t)x;
    }
}

/* Write all of buf to stream id, pumping in between. */
static void write_all(struct peer *w, struct peer *r, uint32_t id, const uint8_t *buf, size_t n)
{
    size_t off = 0;
    int spins = 0;
    while (off < n) {
        int k = yamux_stream_write(w->s, id, buf + off, n - off);
        ck_assert_int_ge(k, 0);
        off += (size_t)k;
        pump(w, r);
        if (!k) ck_assert_int_lt(++spins, 100000);
    }
}

/* Raw frame into a buffer. */
static size_t put(uint8_t *b, uint8_t ver, uint8_t type, uint16_t flags, uint32_t id, uint32_t len)
{
    struct yamux_header h = { ver, type, flags, id, len };
    yamux_header_encode(&h, b);
    return YAMUX_HEADER_LEN;
}

/* The last frame in p's output is Go Away(code)? */
static bool output_ends_with_goaway(const struct peer *p, uint32_t code)
{
    const uint8_t *d;
    size_t n;
    yamux_session_output(p->s, &d, &n);
    if (n < YAMUX_HEADER_LEN) return false;
    struct yamux_header h;
    if (yamux_header_decode(&h, d + n - YAMUX_HEADER_LEN, YAMUX_HEADER_LEN) < 0) return false;
    return h.type == YAMUX_TYPE_GO_AWAY && h.length == code && h.stream_id == 0;
}

/* ---- Frame codec ----------------------------------------------------------- */

START_TEST(codec_vectors)
{
    uint8_t b[12], want[12];
    struct yamux_header h = { 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN | YAMUX_FLAG_ACK,
                              0x01020304, 0x00040000 };
    yamux_header_encode(&h, b);
    ck_assert_int_eq(p2p_test_unhex("000100030102030400040000", want, sizeof want), 12);
    ck_assert_mem_eq(b, want, 12);

    yamux_header_put(b, YAMUX_TYPE_GO_AWAY, 0, 0, YAMUX_GOAWAY_PROTOCOL);
    ck_assert_int_eq(p2p_test_unhex("000300000000000000000001", want, sizeof want), 12);
    ck_assert_mem_eq(b, want, 12);

    ck_assert_int_eq(p2p_test_unhex("0000000cfffffffe80000001", want, sizeof want), 12);
    struct yamux_header d;
    ck_assert_int_eq(yamux_header_decode(&d, want, 12), 12);
    ck_assert_uint_eq(d.version, 0);
    ck_assert_uint_eq(d.type, YAMUX_TYPE_DATA);
    ck_assert_uint_eq(d.flags, YAMUX_FLAG_FIN | YAMUX_FLAG_RST);
    ck_assert_uint_eq(d.stream_id, 0xfffffffe);
    ck_assert_uint_eq(d.length, 0x80000001);

    /* Ping SYN with opaque value. */
    ck_assert_int_eq(p2p_test_unhex("000200010000000000abcdef", want, sizeof want), 12);
    ck_assert_int_eq(yamux_header_decode(&d, want, 12), 12);
    ck_assert_uint_eq(d.type, YAMUX_TYPE_PING);
    ck_assert_uint_eq(d.flags, YAMUX_FLAG_SYN);
    ck_assert_uint_eq(d.length, 0xabcdef);

    /* Round trip of every type and flag combination. */
    for (unsigned t = 0; t < 4; t++)
        for (unsigned f = 0; f < 16; f++) {
            struct yamux_header a = { 0, (uint8_t)t, (uint16_t)f, t * 7 + f, f * 65537u }, c;
            yamux_header_encode(&a, b);
            ck_assert_int_eq(yamux_header_decode(&c, b, 12), 12);
            ck_assert_mem_eq(&a, &c, sizeof a);
        }
}
END_TEST

START_TEST(codec_errors)
{
    uint8_t b[12];
    struct yamux_header h;
    put(b, 0, 0, 0, 1, 0);
    for (size_t n = 0; n < 12; n++) ck_assert_int_eq(yamux_header_decode(&h, b, n), P2P_ETRUNC);
    put(b, 1, 0, 0, 1, 0);
    ck_assert_int_eq(yamux_header_decode(&h, b, 12), P2P_EPROTO);
    ck_assert_uint_eq(h.version, 1);
    put(b, 0, 4, 0, 1, 0);
    ck_assert_int_eq(yamux_header_decode(&h, b, 12), P2P_EPROTO);
    put(b, 0, 0xff, 0, 1, 0);
    ck_assert_int_eq(yamux_header_decode(&h, b, 12), P2P_EPROTO);
    ck_assert_str_eq(yamux_type_name(YAMUX_TYPE_PING), "ping");
    ck_assert_str_eq(yamux_type_name(9), "unknown");
}
END_TEST

START_TEST(config_check)
{
    struct yamux_config c;
    char err[160];
    yamux_config_default(&c);
    ck_assert_int_eq(yamux_config_check(&c, err, sizeof err), 0);
    ck_assert_uint_eq(c.initial_window, 256 * KIB);
    c.initial_window = 1000;
    ck_assert_int_eq(yamux_config_check(&c, err, sizeof err), P2P_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "initial window"));
    yamux_config_default(&c);
    c.max_stream_window = 100 * KIB;
    ck_assert_int_eq(yamux_config_check(&c, err, sizeof err), P2P_EINVAL);
    yamux_config_default(&c);
    ck_assert_uint_eq(c.max_session_window, 48 * MIB);
    c.max_session_window = 500 * KIB;
    ck_assert_int_eq(yamux_config_check(&c, err, sizeof err), P2P_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "session window"));
    yamux_session *s;
    ck_assert_int_eq(yamux_session_new(&s, true, &c, NULL, NULL), P2P_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(yamux_session_new(&s, true, NULL, NULL, NULL), 0);
    yamux_session_free(s);
    yamux_session_free(NULL);
}
END_TEST

/* ---- Streams ------------------------------------------------------------------- */

START_TEST(open_accept)
{
    struct peer c, s;
    pair_init(&c, &s);
    s.auto_accept = false;
    uint32_t a, b;
    ck_assert_int_eq(yamux_stream_open(c.s, &a), 0);
    ck_assert_int_eq(yamux_stream_open(c.s, &b), 0);
    ck_assert_uint_eq(a, 1);
    ck_assert_uint_eq(b, 3);
    /* The SYN goes out at once, as a Window Update. */
    const uint8_t *d;
    size_t n;
    yamux_session_output(c.s, &d, &n);
    ck_assert_uint_eq(n, 24);
    struct yamux_header h;
    ck_assert_int_eq(yamux_header_decode(&h, d, n), 12);
    ck_assert_uint_eq(h.type, YAMUX_TYPE_WINDOW_UPDATE);
    ck_assert_uint_eq(h.flags, YAMUX_FLAG_SYN);
    ck_assert_uint_eq(h.stream_id, 1);
    ck_assert_uint_eq(h.length, 0);
    pump(&c, &s);
    ck_assert_int_eq(s.opened, 2);
    ck_assert_str_eq(s.log, "open 1;open 3;");
    struct yamux_stream_info info;
    ck_assert_int_eq(yamux_stream_get_info(c.s, 1, &info), 0);
    ck_assert(info.outbound && !info.acked);
    ck_assert_int_eq(yamux_stream_get_info(s.s, 1, &info), 0);
    ck_assert(!info.outbound && !info.acked);
    ck_assert_int_eq(yamux_stream_accept(s.s, 1), 0);
    ck_assert_int_eq(yamux_stream_accept(s.s, 1), 0);   /* idempotent */
    pump(&c, &s);
    ck_assert_int_eq(yamux_stream_get_info(c.s, 1, &info), 0);
    ck_assert(info.acked);
    ck_assert_int_eq(yamux_stream_get_info(c.s, 3, &info), 0);
    ck_assert(!info.acked);
    /* A write acknowledges implicitly. */
    ck_assert_int_eq(yamux_stream_write(s.s, 3, (const uint8_t *)"hi", 2), 2);
    pump(&c, &s);
    ck_assert_int_eq(yamux_stream_get_info(c.s, 3, &info), 0);
    ck_assert(info.acked);
    ck_assert_uint_eq(rs(&c, 3)->len, 2);
    /* Server streams are even. */
    uint32_t e;
    ck_assert_int_eq(yamux_stream_open(s.s, &e), 0);
    ck_assert_uint_eq(e, 2);
    pump(&c, &s);
    ck_assert(rs(&c, 2)->opened);
    ck_assert_uint_eq(yamux_session_num_streams(c.s), 3);
    ck_assert_uint_eq(yamux_session_num_streams(s.s), 3);
    ck_assert_int_eq(yamux_stream_accept(c.s, 999), P2P_ENOTFOUND);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

START_TEST(data_both_ways)
{
    struct peer c, s;
    pair_init(&c, &s);
    uint32_t id;
    ck_assert_int_eq(yamux_stream_open(c.s, &id), 0);
    ck_assert_int_eq(yamux_stream_write(c.s, id, (const uint8_t *)"hello", 5), 5);
    pump(&c, &s);
    ck_assert_uint_eq(rs(&s, id)->len, 5);
    ck_assert_mem_eq(rs(&s, id)->data, "hello", 5);
    ck_assert_int_eq(yamux_stream_write(s.s, id, (const uint8_t *)"world!", 6), 6);
    pump(&c, &s);
    ck_assert_mem_eq(rs(&c, id)->data, "world!", 6);

    /* 3 MiB each way, several streams interleaved, content intact. */
    size_t N = 3 * MIB;
    uint8_t *buf = malloc(N);
    fill(buf, N, 7);
    uint32_t ids[3];
    for (int i = 0; i < 3; i++) ck_assert_int_eq(yamux_stream_open(c.s, &ids[i]), 0);
    size_t off[3] = { 0 }, back[3] = { 0 };
    for (int spins = 0; spins < 100000; spins++) {
        bool done = true;
        for (int i = 0; i < 3; i++) {
            if (off[i] < N) {
                int k = yamux_stream_write(c.s, ids[i], buf + off[i], N - off[i]);
                ck_assert_int_ge(k, 0);
                off[i] += (size_t)k;
                done = false;
            }
            if (back[i] < N && rs(&s, ids[i])->opened) {
                int k = yamux_stream_write(s.s, ids[i], buf + back[i], N - back[i]);
                ck_assert_int_ge(k, 0);
                back[i] += (size_t)k;
                done = false;
            }
        }
        pump(&c, &s);
        if (done) break;
    }
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(rs(&s, ids[i])->len, N);
        ck_assert_mem_eq(rs(&s, ids[i])->data, buf, N);
        ck_assert_uint_eq(rs(&c, ids[i])->len, N);
        ck_assert_mem_eq(rs(&c, ids[i])->data, buf, N);
    }
    /* Frames are split at max_frame_payload (16 KiB by default); a write
     * is one frame, the rest goes in the stream's turns as output drains. */
    qsend(&c, id, buf, 40 * KIB);
    const uint8_t *d;
    size_t n;
    yamux_session_output(c.s, &d, &n);
    ck_assert_uint_eq(n, 16 * KIB + 12);
    struct yamux_header h;
    ck_assert_int_eq(yamux_header_decode(&h, d, n), 12);
    ck_assert_uint_eq(h.type, YAMUX_TYPE_DATA);
    ck_assert_uint_eq(h.length, 16 * KIB);
    ck_assert_int_eq(yamux_stream_write(c.s, id, buf, 0), 0);
    pump(&c, &s);
    ck_assert_uint_eq(rs(&s, id)->len, 5 + 40 * KIB);
    ck_assert_mem_eq(rs(&s, id)->data + 5, buf, 40 * KIB);
    free(buf);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

START_TEST(half_close)
{
    struct peer c, s;
    pair_init(&c, &s);
    uint32_t id;
    ck_assert_int_eq(yamux_stream_open(c.s, &id), 0);
    ck_assert_int_eq(yamux_stream_write(c.s, id, (const uint8_t *)"req", 3), 3);
    ck_assert_int_eq(yamux_stream_close(c.s, id), 0);
    ck_assert_int_eq(yamux_stream_close(c.s, id), 0);   /* idempotent */
    ck_assert_int_eq(yamux_stream_write(c.s, id, (const uint8_t *)"x", 1), P2P_ESTATE);
    pump(&c, &s);
    ck_assert(rs(&s, id)->fin);
    ck_assert_str_eq(s.log, "open 1;data 1 3;fin 1;");
    /* The other direction still works. */
    ck_assert_int_eq(yamux_stream_write(s.s, id, (const uint8_t *)"response", 8), 8);
    pump(&c, &s);
    ck_assert_mem_eq(rs(&c, id)->data, "response", 8);
    ck_assert_uint_eq(yamux_session_num_streams(c.s), 1);
    ck_assert_uint_eq(yamux_session_num_streams(s.s), 1);
    ck_assert_int_eq(yamux_stream_close(s.s, id), 0);
    /* Both sides closed: freed on both ends. */
    ck_assert_uint_eq(yamux_session_num_streams(s.s), 0);
    pump(&c, &s);
    ck_assert(rs(&c, id)->fin);
    ck_assert_uint_eq(yamux_session_num_streams(c.s), 0);
    ck_assert_int_eq(yamux_stream_write(c.s, id, (const uint8_t *)"x", 1), P2P_ENOTFOUND);
    /* Late frames for the closed stream are ignored, not errors. */
    uint8_t f[24];
    put(f, 0, YAMUX_TYPE_DATA, 0, id, 0);
    put(f + 12, 0, YAMUX_TYPE_WINDOW_UPDATE, 0, id, 100);
    size_t used;
    ck_assert_int_eq(yamux_session_feed(s.s, 0, f, 24, &used), 0);
    ck_assert_uint_eq(used, 24);

    /* FIN riding on a Data frame, and a zero-length Data FIN. */
    ck_assert_int_eq(yamux_stream_open(s.s, &id), 0);
    ck_assert_int_eq(yamux_stream_write(s.s, id, (const uint8_t *)"abc", 3), 3);
    pump(&c, &s);
    uint8_t g[15];
    put(g, 0, YAMUX_TYPE_DATA, YAMUX_FLAG_FIN, id, 3);
    memcpy(g + 12, "xyz", 3);
    ck_assert_int_eq(yamux_session_feed(s.s, 0, g, 15, &used), 0);
    ck_assert(rs(&s, id)->fin);
    ck_assert_mem_eq(rs(&s, id)->data, "xyz", 3);
    /* Data after FIN is a protocol error. */
    put(g, 0, YAMUX_TYPE_DATA, 0, id, 3);
    ck_assert_int_eq(yamux_session_feed(s.s, 0, g, 15, &used), P2P_EPROTO);
    ck_assert(output_ends_with_goaway(&s, YAMUX_GOAWAY_PROTOCOL));
    peer_free(&c);
    peer_free(&s);
}
END_TEST

START_TEST(reset)
{
    struct peer c, s;
    pair_init(&c, &s);
    uint32_t id, id2;
    ck_assert_int_eq(yamux_stream_open(c.s, &id), 0);
    ck_assert_int_eq(yamux_stream_write(c.s, id, (const uint8_t *)"abc", 3), 3);
    pump(&c, &s);
    ck_assert_int_eq(yamux_stream_reset(c.s, id), 0);
    ck_assert_int_eq(yamux_stream_reset(c.s, id), P2P_ENOTFOUND);
    ck_assert_uint_eq(yamux_session_num_streams(c.s), 0);
    /* Data the server sends meanwhile is dropped by the client, silently. */
    ck_assert_int_eq(yamux_stream_write(s.s, id, (const uint8_t *)"late", 4), 4);
    pump(&c, &s);
    ck_assert(rs(&s, id)->reset);
    ck_assert_uint_eq(yamux_session_num_streams(s.s), 0);
    ck_assert_uint_eq(rs(&c, id)->len, 0);
    ck_assert(!yamux_session_failed(c.s) && !yamux_session_failed(s.s));
    /* Server resets an inbound stream in on_stream_opened's wake. */
    ck_assert_int_eq(yamux_stream_open(c.s, &id2), 0);
    pump(&c, &s);
    ck_assert_int_eq(yamux_stream_reset(s.s, id2), 0);
    pump(&c, &s);
    ck_assert(rs(&c, id2)->reset);
    ck_assert_int_eq(yamux_stream_write(c.s, id2, (const uint8_t *)"x", 1), P2P_ENOTFOUND);
    ck_assert_str_eq(c.log, "rst 3;");
    peer_free(&c);
    peer_free(&s);
}
END_TEST

START_TEST(window_backpressure)
{
    struct peer c, s;
    pair_init(&c, &s);
    s.auto_consume = false;
    size_t N = 1 * MIB;
    uint8_t *buf = malloc(N);
    fill(buf, N, 3);
    uint32_t id;
    ck_assert_int_eq(yamux_stream_open(c.s, &id), 0);
    size_t off = 0;
    for (;;) {
        int k = yamux_stream_write(c.s, id, buf + off, N - off);
        ck_assert_int_ge(k, 0);
        pump(&c, &s);
        if (!k) break;
        off += (size_t)k;
    }
    /* Exactly the initial window got through; the writer is blocked. */
    ck_assert_uint_eq(off, 256 * KIB);
    ck_assert_uint_eq(rs(&s, id)->len, 256 * KIB);
    struct yamux_stream_info info;
    ck_assert_int_eq(yamux_stream_get_info(c.s, id, &info), 0);
    ck_assert_uint_eq(info.send_window, 0);
    ck_assert_int_eq(yamux_stream_get_info(s.s, id, &info), 0);
    ck_assert_uint_eq(info.buffered, 256 * KIB);
    ck_assert_uint_eq(info.recv_window, 0);
    /* (turns were offered while it wrote) no wake-up without credit. */
    c.writable = 0;
    pump(&c, &s);
    ck_assert_int_eq(c.writable, 0);
    /* Consuming less than half the window sends nothing. */
    ck_assert_int_eq(yamux_stream_consumed(s.s, id, 100 * KIB), 0);
    ck_assert_uint_eq(yamux_session_output_len(s.s), 0);
    ck_assert_int_eq(yamux_stream_consumed(s.s, id, 200 * KIB), P2P_EINVAL);
    /* Half: one Window Update, the writer wakes up. */
    ck_assert_int_eq(yamux_stream_consumed(s.s, id, 28 * KIB), 0);
    ck_assert_uint_eq(yamux_session_output_len(s.s), 12);
    pump(&c, &s);
    ck_assert_int_eq(c.writable, 1);
    ck_assert_uint_eq(c.last_writable, id);
    ck_assert_int_eq(yamux_stream_get_info(c.s, id, &info), 0);
    ck_assert_uint_eq(info.send_window, 128 * KIB);
    /* Now consume everything as it comes and finish. */
    ck_assert_int_eq(yamux_stream_consumed(s.s, id, 128 * KIB), 0);
    s.auto_consume = true;
    write_all(&c, &s, id, buf + off, N - off);
    ck_assert_uint_eq(rs(&s, id)->len, N);
    ck_assert_mem_eq(rs(&s, id)->data, buf, N);
    /* Without RTT samples the window never grows. */
    ck_assert_int_eq(yamux_stream_get_info(s.s, id, &info), 0);
    ck_assert_uint_eq(info.recv_max, 256 * KIB);
    free(buf);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

START_TEST(data_beyond_window)
{
    struct peer c, s;
    pair_init(&c, &s);
    uint32_t id;
    ck_assert_int_eq(yamux_stream_open(c.s, &id), 0);
    pump(&c, &s);
    s.auto_consume = false;
    /* A hand-made Data frame one byte larger than the credit. */
    size_t n = 12 + 256 * KIB + 1;
    uint8_t *f = calloc(1, n);
    put(f, 0, YAMUX_TYPE_DATA, 0, id, 256 * KIB + 1);
    size_t used;
    ck_assert_int_eq(yamux_session_feed(s.s, 0, f, n, &used), P2P_EPROTO);
    ck_assert(output_ends_with_goaway(&s, YAMUX_GOAWAY_PROTOCOL));
    ck_assert_int_eq(s.errors, 1);
    ck_assert_int_eq(s.last_error, P2P_EPROTO);
    ck_assert_uint_eq(rs(&s, id)->len, 0);
    ck_assert_int_eq(yamux_session_feed(s.s, 0, f, n, &used), P2P_ECLOSED);
    ck_assert_int_eq(yamux_stream_write(s.s, id, f, 1), P2P_ECLOSED);
    /* Same with SYN: the first frame is limited to 256 KiB. */
    struct peer s2;
    struct yamux_config cfg = quiet_cfg();
    peer_init(&s2, "s2", false, &cfg);
    put(f, 0, YAMUX_TYPE_DATA, YAMUX_FLAG_SYN, 1, 256 * KIB + 1);
    ck_assert_int_eq(yamux_session_feed(s2.s, 0, f, n, &used), P2P_EPROTO);
    ck_assert(output_ends_with_goaway(&s2, YAMUX_GOAWAY_PROTOCOL));
    /* A window-sized SYN frame is fine, even cut into pieces. */
    struct peer s3;
    peer_init(&s3, "s3", false, &cfg);
    s3.auto_consume = false;
    put(f, 0, YAMUX_TYPE_DATA, YAMUX_FLAG_SYN, 1, 256 * KIB);
    for (size_t off = 0; off < n - 1;) {
        size_t k = (n - 1 - off) < 1000 ? n - 1 - off : 1000;
        ck_assert_int_eq(yamux_session_feed(s3.s, 0, f + off, k, &used), 0);
        ck_assert_uint_eq(used, k);
        off += k;
    }
    ck_assert_uint_eq(rs(&s3, 1)->len, 256 * KIB);
    free(f);
    peer_free(&c);
    peer_free(&s);
    peer_free(&s2);
    peer_free(&s3);
}
END_TEST

/* Ping exchange at explicit times: client pings at t0, the server answers
 * at once, the pong reaches the client at t0 + rtt. */
static void measure_rtt(struct peer *c, struct peer *s, uint64_t t0, uint64_t rtt)
{
    ck_assert_int_eq(yamux_session_tick(c->s, t0), 0);
    ck_assert_uint_eq(xfer(c, s, t0 + rtt / 2, 0), 12);
    ck_assert_uint_eq(xfer(s, c, t0 + rtt, 0), 12);
}

START_TEST(ping_rtt)
{
    struct peer c, s;
    struct yamux_config cfg;
    yamux_config_default(&cfg);
    peer_init(&c, "client", true, &cfg);
    peer_init(&s, "server", false, &cfg);
    /* First tick sends the RTT ping at once. */
    ck_assert_uint_eq(yamux_session_next_timeout(c.s), 0);
    ck_assert_int_eq(yamux_session_tick(c.s, 1000), 0);
    const uint8_t *d;
    size_t n, used;
    yamux_session_output(c.s, &d, &n);
    ck_assert_uint_eq(n, 12);
    struct yamux_header h;
    ck_assert_int_eq(yamux_header_decode(&h, d, n), 12);
    ck_assert_uint_eq(h.type, YAMUX_TYPE_PING);
    ck_assert_uint_eq(h.flags, YAMUX_FLAG_SYN);
    ck_assert_uint_eq(h.stream_id, 0);
    uint32_t opaque = h.length;
    /* Outstanding: the deadline is the ping timeout. */
    ck_assert_uint_eq(yamux_session_next_timeout(c.s), 1000 + cfg.ping_timeout_ms);
    ck_assert_int_eq(yamux_session_feed(s.s, 1010, d, n, &used), 0);
    ck_assert_int_eq(yamux_session_output_consume(c.s, n), 0);
    yamux_session_output(s.s, &d, &n);
    ck_assert_uint_eq(n, 12);
    ck_assert_int_eq(yamux_header_decode(&h, d, n), 12);
    ck_assert_uint_eq(h.type, YAMUX_TYPE_PING);
    ck_assert_uint_eq(h.flags, YAMUX_FLAG_ACK);
    ck_assert_uint_eq(h.length, opaque);
    ck_assert_int_eq(yamux_session_feed(c.s, 1040, d, n, &used), 0);
    ck_assert_int_eq(yamux_session_output_consume(s.s, n), 0);
    ck_assert_int_eq(c.rtt_count, 1);
    ck_assert_uint_eq(c.last_rtt, 40);
    ck_assert_uint_eq(yamux_session_rtt(c.s), 40);
    /* Next keepalive ping one interval after the pong. */
    ck_assert_uint_eq(yamux_session_next_timeout(c.s), 1040 + cfg.keepalive_ms);
    ck_assert_int_eq(yamux_session_tick(c.s, 1040 + cfg.keepalive_ms - 1), 0);
    ck_assert_uint_eq(yamux_session_output_len(c.s), 0);
    ck_assert_int_eq(yamux_session_tick(c.s, 1040 + cfg.keepalive_ms), 0);
    ck_assert_uint_eq(yamux_session_output_len(c.s), 12);
    /* Second sample 20 ms: smoothed to 30. */
    pump_at(&c, &s, 1040 + cfg.keepalive_ms + 20);
    ck_assert_uint_eq(c.last_rtt, 20);
    ck_assert_uint_eq(yamux_session_rtt(c.s), 30);
    /* A stale or unsolicited pong is ignored. */
    uint8_t f[12];
    put(f, 0, YAMUX_TYPE_PING, YAMUX_FLAG_ACK, 0, 12345);
    ck_assert_int_eq(yamux_session_feed(c.s, 50000, f, 12, &used), 0);
    ck_assert_int_eq(c.rtt_count, 2);
    /* Sub-millisecond RTT reads 1 ms. */
    struct peer c2, s2;
    peer_init(&c2, "c2", true, &cfg);
    peer_init(&s2, "s2", false, &cfg);
    measure_rtt(&c2, &s2, 500, 0);
    ck_assert_uint_eq(yamux_session_rtt(c2.s), 1);
    peer_free(&c);
    peer_free(&s);
    peer_free(&c2);
    peer_free(&s2);
}
END_TEST

START_TEST(keepalive_timeout)
{
    struct yamux_config cfg;
    yamux_config_default(&cfg);
    cfg.keepalive_ms = 10000;
    cfg.ping_timeout_ms = 5000;
    struct peer c;
    peer_init(&c, "client", true, &cfg);
    ck_assert_int_eq(yamux_session_tick(c.s, 100), 0);
    ck_assert_uint_eq(yamux_session_output_len(c.s), 12);
    ck_assert_uint_eq(yamux_session_next_timeout(c.s), 5100);
    ck_assert_int_eq(yamux_session_tick(c.s, 3999), 0);
    /* Traffic from the peer proves it is alive: the deadline moves. */
    uint8_t f[12];
    size_t used;
    put(f, 0, YAMUX_TYPE_PING, YAMUX_FLAG_SYN, 0, 77); /* a ping of theirs */
    ck_assert_int_eq(yamux_session_feed(c.s, 4000, f, 12, &used), 0);
    ck_assert_uint_eq(yamux_session_next_timeout(c.s), 9000);
    ck_assert_int_eq(yamux_session_tick(c.s, 5100), 0);
    ck_assert_int_eq(yamux_session_tick(c.s, 8999), 0);
    ck_assert_int_eq(c.errors, 0);
    ck_assert_int_eq(yamux_session_tick(c.s, 9000), P2P_ETIMEDOUT);
    ck_assert_int_eq(c.errors, 1);
    ck_assert_int_eq(c.last_error, P2P_ETIMEDOUT);
    ck_assert(yamux_session_failed(c.s));
    ck_assert_uint_eq(yamux_session_next_timeout(c.s), UINT64_MAX);
    ck_assert_int_eq(yamux_session_tick(c.s, 9001), P2P_ECLOSED);
    uint32_t id;
    ck_assert_int_eq(yamux_stream_open(c.s, &id), P2P_ECLOSED);
    /* No Go Away is queued for a dead peer: output is ping + pong only. */
    ck_assert_uint_eq(yamux_session_output_len(c.s), 24);
    peer_free(&c);

    /* keepalive 0 and no autotune: no pings at all. */
    cfg.keepalive_ms = 0;
    cfg.autotune = false;
    peer_init(&c, "client", true, &cfg);
    ck_assert_uint_eq(yamux_session_next_timeout(c.s), UINT64_MAX);
    ck_assert_int_eq(yamux_session_tick(c.s, 100000), 0);
    ck_assert_uint_eq(yamux_session_output_len(c.s), 0);
    peer_free(&c);
}
END_TEST

START_TEST(autotune_grows)
{
    struct yamux_config cfg;
    yamux_config_default(&cfg);
    cfg.keepalive_ms = 0;
    cfg.max_stream_window = 2 * MIB;
    struct peer c, s;
    peer_init(&c, "client", true, &cfg);
    peer_init(&s, "server", false, &cfg);
    /* The receiver (server) needs the RTT: it pings. */
    measure_rtt(&s, &c, 0, 50);
    ck_assert_uint_eq(yamux_session_rtt(s.s), 50);
    ck_assert_uint_eq(yamux_session_rtt(c.s), 0);
    ck_assert_uint_eq(yamux_session_output_len(c.s), 0);

    size_t N = 8 * MIB;
    uint8_t *buf = malloc(N);
    fill(buf, N, 11);
    uint32_t id;
    ck_assert_int_eq(yamux_stream_open(c.s, &id), 0);
    /* Everything happens "at once" (well within 2 RTT): the window
     * doubles at each update until the per-stream maximum. */
    uint64_t now = 100;
    size_t off = 0;
    struct yamux_stream_info info;
    uint32_t prev = 256 * KIB;
    int grew = 0;
    while (off < N) {
        int k = yamux_stream_write(c.s, id, buf + off, N - off);
        ck_assert_int_ge(k, 0);
        off += (size_t)k;
        pump_at(&c, &s, now);
        ck_assert_int_eq(yamux_stream_get_info(s.s, id, &info), 0);
        ck_assert_uint_ge(info.recv_max, prev);
        if (info.recv_max > prev) grew++;
        prev = info.recv_max;
    }
    ck_assert_uint_eq(info.recv_max, 2 * MIB);   /* 256K -> 512K -> 1M -> 2M */
    ck_assert_int_ge(grew, 1);
    ck_assert_int_le(grew, 3);
    ck_assert_uint_eq(rs(&s, id)->len, N);
    ck_assert_mem_eq(rs(&s, id)->data, buf, N);
    /* The sender's view: credit up to the grown window. */
    ck_assert_int_eq(yamux_stream_get_info(c.s, id, &info), 0);
    ck_assert_uint_le(info.send_window, 2 * MIB);

    /* A slow consumer (updates far apart in time) does not grow it. */
    uint32_t id2;
    ck_assert_int_eq(yamux_stream_open(c.s, &id2), 0);
    pump_at(&c, &s, now);
    off = 0;
    while (off < 2 * MIB) {
        int k = yamux_stream_write(c.s, id2, buf + off, 2 * MIB - off);
        ck_assert_int_ge(k, 0);
        off += (size_t)k;
        /* Trickle: 32 KiB per second. */
        while (yamux_session_output_len(c.s) || yamux_session_output_len(s.s)) {
            now += 1000;
            xfer(&c, &s, now, 32 * KIB);
            xfer(&s, &c, now, 0);
        }
    }
    ck_assert_int_eq(yamux_stream_get_info(s.s, id2, &info), 0);
    ck_assert_uint_eq(info.recv_max, 256 * KIB);
    free(buf);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

START_TEST(autotune_session_budget)
{
    /* A 2 MiB budget: half of it (1 MiB) for growth. */
    struct yamux_config cfg;
    yamux_config_default(&cfg);
    cfg.keepalive_ms = 0;
    cfg.max_streams = 4;
    cfg.max_session_window = 2 * MIB;
    cfg.max_stream_window = 4 * MIB;
    struct peer c, s;
    peer_init(&c, "client", true, &cfg);
    peer_init(&s, "server", false, &cfg);
    measure_rtt(&s, &c, 0, 50);
    size_t N = 6 * MIB;
    uint8_t *buf = malloc(N);
    fill(buf, N, 5);
    uint32_t a, b;
    ck_assert_int_eq(yamux_stream_open(c.s, &a), 0);
    ck_assert_int_eq(yamux_stream_open(c.s, &b), 0);
    size_t oa = 0, ob = 0;
    while (oa < N || ob < N) {
        int k = yamux_stream_write(c.s, a, buf + oa, N - oa);
        ck_assert_int_ge(k, 0);
        oa += (size_t)k;
        k = yamux_stream_write(c.s, b, buf + ob, N - ob);
        ck_assert_int_ge(k, 0);
        ob += (size_t)k;
        pump_at(&c, &s, 100);
    }
    struct yamux_stream_info ia, ib;
    ck_assert_int_eq(yamux_stream_get_info(s.s, a, &ia), 0);
    ck_assert_int_eq(yamux_stream_get_info(s.s, b, &ib), 0);
    ck_assert_uint_eq((uint64_t)ia.recv_max + ib.recv_max - 2 * 256 * KIB, 1 * MIB);
    /* Growth used its part of the budget; new streams still fit in theirs. */
    uint32_t e, g;
    ck_assert_int_eq(yamux_stream_open(c.s, &e), 0);
    ck_assert_int_eq(yamux_stream_open(c.s, &g), 0);
    pump_at(&c, &s, 100);
    ck_assert(rs(&s, e)->opened && rs(&s, g)->opened);
    ck_assert(!rs(&c, e)->reset && !rs(&c, g)->reset);
    ck_assert_uint_eq(yamux_session_window_total(s.s), 2 * MIB);
    ck_assert_uint_eq(yamux_session_refused(s.s), 0);
    ck_assert_int_eq(yamux_stream_reset(c.s, e), 0);
    ck_assert_int_eq(yamux_stream_reset(c.s, g), 0);
    pump_at(&c, &s, 100);
    /* Freeing a grown stream returns its budget. */
    ck_assert_int_eq(yamux_stream_reset(c.s, a), 0);
    pump_at(&c, &s, 100);
    ck_assert_int_eq(yamux_stream_get_info(s.s, a, &ia), P2P_ENOTFOUND);
    uint32_t d;
    ck_assert_int_eq(yamux_stream_open(c.s, &d), 0);
    write_all(&c, &s, d, buf, N);
    ck_assert_int_eq(yamux_stream_get_info(s.s, d, &ia), 0);
    ck_assert_uint_gt(ia.recv_max, 256 * KIB);
    ck_assert_uint_eq(rs(&s, d)->len, N);
    free(buf);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

START_TEST(initial_window_larger)
{
    struct yamux_config big = quiet_cfg();
    big.initial_window = 1 * MIB;
    big.max_stream_window = 1 * MIB;
    struct yamux_config std = quiet_cfg();
    struct peer c, s;
    peer_init(&c, "client", true, &big);
    peer_init(&s, "server", false, &big);
    s.auto_accept = false;
    s.auto_consume = false;
    c.auto_consume = false;
    uint32_t id;
    ck_assert_int_eq(yamux_stream_open(c.s, &id), 0);
    pump(&c, &s);
    struct yamux_stream_info info;
    /* The SYN advertised 1 MiB to the server. */
    ck_assert_int_eq(yamux_stream_get_info(s.s, id, &info), 0);
    ck_assert_uint_eq(info.send_window, 1 * MIB);
    /* Before the ACK the client may only send 256 KiB. */
    ck_assert_int_eq(yamux_stream_get_info(c.s, id, &info), 0);
    ck_assert_uint_eq(info.send_window, 256 * KIB);
    ck_assert_int_eq(yamux_stream_accept(s.s, id), 0);
    pump(&c, &s);
    ck_assert_int_eq(yamux_stream_get_info(c.s, id, &info), 0);
    ck_assert_uint_eq(info.send_window, 1 * MIB);
    ck_assert(info.acked);
    peer_free(&c);
    peer_free(&s);

    /* Credit consumed before the accept rides on the ACK. */
    peer_init(&c, "client", true, &std);
    peer_init(&s, "server", false, &std);
    s.auto_accept = false;
    s.auto_consume = false;
    ck_assert_int_eq(yamux_stream_open(c.s, &id), 0);
    uint8_t buf[1000];
    fill(buf, sizeof buf, 1);
    ck_assert_int_eq(yamux_stream_write(c.s, id, buf, sizeof buf), 1000);
    pump(&c, &s);
    ck_assert_int_eq(yamux_stream_consumed(s.s, id, 1000), 0);
    ck_assert_uint_eq(yamux_session_output_len(s.s), 0);   /* not before ACK */
    ck_assert_int_eq(yamux_stream_accept(s.s, id), 0);
    pump(&c, &s);
    ck_assert_int_eq(yamux_stream_get_info(c.s, id, &info), 0);
    ck_assert_uint_eq(info.send_window, 256 * KIB);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

START_TEST(max_streams)
{
    struct yamux_config cc = quiet_cfg(), sc = quiet_cfg();
    sc.max_streams = 4;
    cc.max_streams = 6;
    struct peer c, s;
    peer_init(&c, "client", true, &cc);
    peer_init(&s, "server", false, &sc);
    uint32_t ids[7];
    for (int i = 0; i < 6; i++) ck_assert_int_eq(yamux_stream_open(c.s, &ids[i]), 0);
    ck_assert_int_eq(yamux_stream_open(c.s, &ids[6]), P2P_ELIMIT);
    pump(&c, &s);
    ck_assert_int_eq(s.opened, 4);
    ck_assert_uint_eq(yamux_session_num_streams(s.s), 4);
    /* The two beyond the limit were refused with RST; no session error. */
    ck_assert(rs(&c, ids[4])->reset);
    ck_assert(rs(&c, ids[5])->reset);
    ck_assert(!rs(&c, ids[3])->reset);
    ck_assert_uint_eq(yamux_session_num_streams(c.s), 4);
    ck_assert(!yamux_session_failed(s.s) && !yamux_session_failed(c.s));
    /* Closing streams makes room. */
    ck_assert_int_eq(yamux_stream_reset(c.s, ids[0]), 0);
    ck_assert_int_eq(yamux_stream_open(c.s, &ids[6]), 0);
    pump(&c, &s);
    ck_assert(rs(&s, ids[6])->opened);
    ck_assert(!rs(&c, ids[6])->reset);

    /* Open/close churn: the stream table handles many ids. */
    ck_assert_int_eq(yamux_stream_reset(c.s, ids[1]), 0);
    pump(&c, &s);
    for (int i = 0; i < 3000; i++) {
        uint32_t x;
        ck_assert_int_eq(yamux_stream_open(c.s, &x), 0);
        ck_assert_int_eq(yamux_stream_write(c.s, x, (const uint8_t *)"z", 1), 1);
        ck_assert_int_eq(yamux_stream_close(c.s, x), 0);
        pump(&c, &s);
        ck_assert_int_eq(yamux_stream_close(s.s, x), 0);
        pump(&c, &s);
        ck_assert_int_eq(yamux_stream_get_info(c.s, x, &(struct yamux_stream_info){ 0 }),
                         P2P_ENOTFOUND);
    }
    ck_assert_uint_eq(yamux_session_num_streams(c.s), 3);
    ck_assert_uint_eq(yamux_session_num_streams(s.s), 3);
    uint32_t live[3] = { ids[2], ids[3], ids[6] };
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(yamux_stream_get_info(s.s, live[i], &(struct yamux_stream_info){ 0 }), 0);
        ck_assert_int_eq(yamux_stream_get_info(c.s, live[i], &(struct yamux_stream_info){ 0 }), 0);
    }
    peer_free(&c);
    peer_free(&s);
}
END_TEST

/* The window budget: a peer cannot make us hold more than
 * max_session_window, however many streams it opens before sending. */
START_TEST(window_budget)
{
    struct yamux_config cc = quiet_cfg(), sc = quiet_cfg();
    sc.max_session_window = 8 * 256 * KIB;   /* 1 MiB for growth, 4 initial windows */
    struct peer c, s;
    peer_init(&c, "client", true, &cc);
    peer_init(&s, "server", false, &sc);
    s.auto_consume = false;   /* a server whose handlers do not read */
    uint32_t ids[6];
    for (int i = 0; i < 6; i++) ck_assert_int_eq(yamux_stream_open(c.s, &ids[i]), 0);
    pump(&c, &s);
    ck_assert_int_eq(s.opened, 4);
    ck_assert(rs(&c, ids[4])->reset && rs(&c, ids[5])->reset);
    ck_assert_uint_eq(yamux_session_refused(s.s), 2);
    ck_assert_uint_eq(yamux_session_window_total(s.s), 4 * 256 * KIB);
    /* The server's own streams need room too. */
    uint32_t x;
    ck_assert_int_eq(yamux_stream_open(s.s, &x), P2P_ELIMIT);
    /* The client fills every window; nothing is consumed: the server holds
     * exactly the budget, and no credit beyond it is granted. */
    uint8_t *buf = malloc(256 * KIB);
    fill(buf, 256 * KIB, 3);
    for (int i = 0; i < 4; i++) {
        qsend(&c, ids[i], buf, 256 * KIB);
        pump(&c, &s);
        ck_assert_uint_eq(rs(&c, ids[i])->txlen, 0);
    }
    ck_assert_int_eq(yamux_stream_write(c.s, ids[0], buf, 1), 0);   /* no credit */
    size_t held = 0;
    for (int i = 0; i < 4; i++) {
        struct yamux_stream_info info;
        ck_assert_int_eq(yamux_stream_get_info(s.s, ids[i], &info), 0);
        held += info.buffered;
        ck_assert_uint_eq(info.recv_max, 256 * KIB);
    }
    ck_assert_uint_eq(held, 4 * 256 * KIB);
    ck_assert(!yamux_session_failed(s.s) && !yamux_session_failed(c.s));
    /* Consuming gives the credit back (the sum does not change)... */
    ck_assert_int_eq(yamux_stream_consumed(s.s, ids[0], 256 * KIB), 0);
    pump(&c, &s);
    ck_assert_uint_eq(yamux_session_window_total(s.s), 4 * 256 * KIB);
    ck_assert_int_eq(yamux_stream_write(c.s, ids[0], buf, 16), 16);
    /* ...and a stream that ends makes room for a new one. */
    ck_assert_int_eq(yamux_stream_reset(c.s, ids[1]), 0);
    pump(&c, &s);
    ck_assert_uint_eq(yamux_session_window_total(s.s), 3 * 256 * KIB);
    uint32_t y;
    ck_assert_int_eq(yamux_stream_open(c.s, &y), 0);
    pump(&c, &s);
    ck_assert(rs(&s, y)->opened && !rs(&c, y)->reset);
    ck_assert_uint_eq(yamux_session_refused(s.s), 2);
    free(buf);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

START_TEST(unacked_limits)
{
    struct yamux_config cc = quiet_cfg(), sc = quiet_cfg();
    sc.max_unacked_inbound = 2;
    cc.max_unacked_outbound = 3;
    struct peer c, s;
    peer_init(&c, "client", true, &cc);
    peer_init(&s, "server", false, &sc);
    s.auto_accept = false;
    uint32_t id[5];
    for (int i = 0; i < 3; i++) ck_assert_int_eq(yamux_stream_open(c.s, &id[i]), 0);
    ck_assert_int_eq(yamux_stream_open(c.s, &id[3]), P2P_EAGAIN);
    pump(&c, &s);
    /* Server: two pending accepts, the third SYN was refused. */
    ck_assert_int_eq(s.opened, 2);
    ck_assert(rs(&c, id[2])->reset);
    /* The RST freed a backlog slot of the client: on_can_open. */
    ck_assert_int_eq(c.can_open, 1);
    ck_assert_int_eq(yamux_stream_open(c.s, &id[3]), 0);
    ck_assert_int_eq(yamux_stream_open(c.s, &id[4]), P2P_EAGAIN);
    pump(&c, &s);
    ck_assert(rs(&c, id[3])->reset);   /* server backlog still full */
    ck_assert_int_eq(c.can_open, 2);
    /* Accepting drains the server backlog and ACKs the client's. */
    ck_assert_int_eq(yamux_stream_accept(s.s, id[0]), 0);
    pump(&c, &s);
    struct yamux_stream_info info;
    ck_assert_int_eq(yamux_stream_get_info(c.s, id[0], &info), 0);
    ck_assert(info.acked);
    ck_assert_int_eq(yamux_stream_open(c.s, &id[4]), 0);
    pump(&c, &s);
    ck_assert(rs(&s, id[4])->opened);
    ck_assert(!rs(&c, id[4])->reset);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

START_TEST(goaway)
{
    struct peer c, s;
    pair_init(&c, &s);
    uint32_t id, x;
    ck_assert_int_eq(yamux_stream_open(c.s, &id), 0);
    pump(&c, &s);
    ck_assert_int_eq(yamux_session_goaway(c.s, YAMUX_GOAWAY_NORMAL), 0);
    ck_assert_int_eq(yamux_session_goaway(c.s, YAMUX_GOAWAY_NORMAL), 0);   /* once */
    ck_assert_uint_eq(yamux_session_output_len(c.s), 12);
    ck_assert_int_eq(yamux_stream_open(c.s, &x), P2P_ECLOSED);
    pump(&c, &s);
    ck_assert_int_eq(s.goaway, 1);
    ck_assert_uint_eq(s.goaway_code, 0);
    ck_assert_int_eq(s.errors, 0);
    ck_assert_int_eq(yamux_stream_open(s.s, &x), P2P_ECLOSED);
    /* Existing streams carry on. */
    ck_assert_int_eq(yamux_stream_write(s.s, id, (const uint8_t *)"bye", 3), 3);
    ck_assert_int_eq(yamux_stream_write(c.s, id, (const uint8_t *)"ok", 2), 2);
    pump(&c, &s);
    ck_assert_mem_eq(rs(&c, id)->data, "bye", 3);
    ck_assert_mem_eq(rs(&s, id)->data, "ok", 2);
    /* A SYN reaching a side that sent Go Away is refused. */
    uint8_t f[12];
    size_t used;
    put(f, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 2, 0);
    ck_assert_int_eq(yamux_session_feed(c.s, 0, f, 12, &used), 0);
    ck_assert_int_eq(c.opened, 0);
    const uint8_t *d;
    size_t n;
    yamux_session_output(c.s, &d, &n);
    struct yamux_header h;
    ck_assert_int_eq(yamux_header_decode(&h, d + n - 12, 12), 12);
    ck_assert_uint_eq(h.flags, YAMUX_FLAG_RST);
    ck_assert_uint_eq(h.stream_id, 2);
    peer_free(&c);
    peer_free(&s);

    /* Go Away with an error code ends the session on both sides. */
    pair_init(&c, &s);
    ck_assert_int_eq(yamux_session_goaway(s.s, YAMUX_GOAWAY_INTERNAL), 0);
    ck_assert(yamux_session_failed(s.s));
    ck_assert_int_eq(s.errors, 0);   /* local decision: no on_error */
    ck_assert_int_eq(yamux_stream_open(s.s, &x), P2P_ECLOSED);
    ck_assert_int_eq(yamux_session_goaway(s.s, 0), P2P_ECLOSED);
    yamux_session_output(s.s, &d, &n);
    ck_assert_int_eq(yamux_session_feed(c.s, 0, d, n, &used), P2P_ERESET);
    ck_assert_int_eq(c.goaway, 1);
    ck_assert_uint_eq(c.goaway_code, YAMUX_GOAWAY_INTERNAL);
    ck_assert_int_eq(c.errors, 1);
    ck_assert_int_eq(c.last_error, P2P_ERESET);
    ck_assert(yamux_session_failed(c.s));
    ck_assert_int_eq(yamux_session_output_consume(s.s, n), 0);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

/* Feed frames to a fresh session; expect a protocol error and Go Away 1. */
static void expect_proto(bool client, const uint8_t *f, size_t n, size_t ok_prefix)
{
    struct peer p;
    struct yamux_config cfg = quiet_cfg();
    peer_init(&p, "victim", client, &cfg);
    size_t used;
    if (ok_prefix) {
        ck_assert_int_eq(yamux_session_feed(p.s, 0, f, ok_prefix, &used), 0);
        ck_assert_uint_eq(used, ok_prefix);
        f += ok_prefix;
        n -= ok_prefix;
    }
    ck_assert_int_eq(yamux_session_feed(p.s, 0, f, n, &used), P2P_EPROTO);
    ck_assert(output_ends_with_goaway(&p, YAMUX_GOAWAY_PROTOCOL));
    ck_assert_int_eq(p.errors, 1);
    ck_assert_int_eq(p.last_error, P2P_EPROTO);
    ck_assert(yamux_session_failed(p.s));
    peer_free(&p);
}

START_TEST(protocol_errors)
{
    uint8_t f[64];
    size_t n;
    memset(f, 0, sizeof f);
    /* Bad version. */
    put(f, 1, YAMUX_TYPE_PING, YAMUX_FLAG_SYN, 0, 1);
    expect_proto(false, f, 12, 0);
    /* Unknown type. */
    put(f, 0, 4, 0, 1, 0);
    expect_proto(false, f, 12, 0);
    /* Data for a stream that was never opened (server: odd id, no SYN). */
    put(f, 0, YAMUX_TYPE_DATA, 0, 1, 4);
    expect_proto(false, f, 16, 0);
    /* ... or one of our own ids not allocated yet. */
    put(f, 0, YAMUX_TYPE_DATA, 0, 8, 4);
    expect_proto(false, f, 16, 0);
    put(f, 0, YAMUX_TYPE_WINDOW_UPDATE, 0, 7, 4);
    expect_proto(true, f, 12, 0);
    /* SYN reusing a live id. */
    n = put(f, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 5, 0);
    n += put(f + n, 0, YAMUX_TYPE_DATA, YAMUX_FLAG_SYN, 5, 0);
    expect_proto(false, f, n, 12);
    /* SYN reusing a closed id (opened, reset by the peer, reopened). */
    n = put(f, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 5, 0);
    n += put(f + n, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_RST, 5, 0);
    n += put(f + n, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 5, 0);
    expect_proto(false, f, n, 24);
    /* Wrong parity: a server must not see an even SYN, a client an odd one. */
    put(f, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 2, 0);
    expect_proto(false, f, 12, 0);
    put(f, 0, YAMUX_TYPE_DATA, YAMUX_FLAG_SYN, 3, 0);
    expect_proto(true, f, 12, 0);
    /* Stream id 0 for Data / Window Update. */
    put(f, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 0, 0);
    expect_proto(false, f, 12, 0);
    /* Send window overflow. */
    n = put(f, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 1, 0);
    n += put(f + n, 0, YAMUX_TYPE_WINDOW_UPDATE, 0, 1, UINT32_MAX - 1000);
    expect_proto(false, f, n, 12);
    put(f, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 1, UINT32_MAX - 1000);
    expect_proto(false, f, 12, 0);
    /* Data frame larger than any window we could ever grant. */
    put(f, 0, YAMUX_TYPE_DATA, 0, 9, 0x7fffffff);
    expect_proto(false, f, 12, 0);
    /* SYN far below the newest id (reuse cannot be ruled out). */
    n = put(f, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 1001, 0);
    n += put(f + n, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 1, 0);
    expect_proto(false, f, n, 12);
}
END_TEST

START_TEST(tolerated_frames)
{
    struct peer p;
    struct yamux_config cfg = quiet_cfg();
    peer_init(&p, "server", false, &cfg);
    uint8_t f[256];
    size_t n = 0, used;
    /* SYNs out of order (go-yamux can send them so). */
    n += put(f + n, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 5, 0);
    n += put(f + n, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 3, 0);
    n += put(f + n, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 1, 0);
    /* Ping and Go Away on a stream id, unknown flags, pings without flags. */
    n += put(f + n, 0, YAMUX_TYPE_PING, 0x10, 0, 1);
    n += put(f + n, 0, YAMUX_TYPE_PING, 0, 0, 2);
    n += put(f + n, 0, YAMUX_TYPE_WINDOW_UPDATE, 0x30, 3, 0);
    /* Duplicate FIN, FIN on a Window Update. */
    n += put(f + n, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_FIN, 3, 0);
    n += put(f + n, 0, YAMUX_TYPE_DATA, YAMUX_FLAG_FIN, 3, 0);
    /* ACK from the opener of an inbound stream (meaningless). */
    n += put(f + n, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_ACK, 5, 0);
    /* RST on unknown-but-possible ids within the window: ignored. */
    n += put(f + n, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_RST, 1, 0);
    n += put(f + n, 0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_RST, 1, 0);
    n += put(f + n, 0, YAMUX_TYPE_DATA, YAMUX_FLAG_RST, 1, 3);
    memcpy(f + n, "abc", 3);
    n += 3;
    ck_assert_int_eq(yamux_session_feed(p.s, 0, f, n, &used), 0);
    ck_assert_uint_eq(used, n);
    ck_assert_str_eq(p.log, "open 5;open 3;open 1;fin 3;rst 1;");
    ck_assert(!yamux_session_failed(p.s));
    /* Pings without SYN get no answer: the output is the three ACKs. */
    ck_assert_uint_eq(yamux_session_output_len(p.s), 36);
    /* Go Away normal ends nothing. */
    put(f, 0, YAMUX_TYPE_GO_AWAY, 0, 0, 0);
    ck_assert_int_eq(yamux_session_feed(p.s, 0, f, 12, &used), 0);
    ck_assert_int_eq(p.goaway, 1);
    ck_assert(!yamux_session_failed(p.s));
    peer_free(&p);
}
END_TEST

/* Drain p's output into buf (in the order output() shows it: control
 * frames first); draining gives turns, which write what qsend queued. */
static void collect(struct peer *p, uint8_t *buf, size_t *len, size_t cap)
{
    for (;;) {
        const uint8_t *d;
        size_t k;
        yamux_session_output(p->s, &d, &k);
        if (!k) return;
        ck_assert_uint_le(*len + k, cap);
        memcpy(buf + *len, d, k);
        *len += k;
        ck_assert_int_eq(yamux_session_output_consume(p->s, k), 0);
    }
}

/* A transcript from a client: opens, data, FIN, ping, RST, second stream. */
static size_t transcript(uint8_t **out)
{
    struct peer c, s;
    pair_init(&c, &s);
    uint32_t a, b;
    uint8_t data[40000];
    fill(data, sizeof data, 9);
    size_t total = 0, cap = 64 * KIB;
    *out = malloc(cap);
    ck_assert_int_eq(yamux_stream_open(c.s, &a), 0);
    qsend(&c, a, data, 20000);
    ck_assert_int_eq(yamux_stream_open(c.s, &b), 0);
    ck_assert_int_eq(yamux_stream_write(c.s, b, data, 5), 0);   /* a waits for its turn */
    collect(&c, *out, &total, cap);
    ck_assert_int_eq(yamux_stream_write(c.s, b, data, 5), 5);
    qsend(&c, a, data + 20000, 20000);
    collect(&c, *out, &total, cap);
    ck_assert_int_eq(yamux_stream_close(c.s, a), 0);
    ck_assert_int_eq(yamux_session_tick(c.s, 0), 0);
    uint8_t f[12];
    put(f, 0, YAMUX_TYPE_PING, YAMUX_FLAG_SYN, 0, 42);
    size_t used;
    /* Make the client emit a pong too. */
    ck_assert_int_eq(yamux_session_feed(c.s, 0, f, 12, &used), 0);
    ck_assert_int_eq(yamux_stream_reset(c.s, b), 0);
    ck_assert_int_eq(yamux_session_goaway(c.s, 0), 0);
    collect(&c, *out, &total, cap);
    peer_free(&c);
    peer_free(&s);
    return total;
}

static void replay(const uint8_t *t, size_t n, const size_t *cuts, size_t ncuts, char *log,
                   size_t loglen)
{
    struct peer s;
    struct yamux_config cfg = quiet_cfg();
    peer_init(&s, "server", false, &cfg);
    s.quiet_data = true;
    size_t prev = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        size_t used;
        ck_assert_int_eq(yamux_session_feed(s.s, 0, t + prev, end - prev, &used), 0);
        ck_assert_uint_eq(used, end - prev);
        prev = end;
    }
    /* Received data, merged into the log. */
    int k = snprintf(log, loglen, "%s|", s.log);
    for (int i = 0; i < s.nst; i++) {
        uint32_t h = 2166136261u;
        for (size_t j = 0; j < s.st[i].len; j++) h = (h ^ s.st[i].data[j]) * 16777619u;
        k += snprintf(log + k, loglen - (size_t)k, "%u:%zu:%08x;", s.st[i].id, s.st[i].len, h);
    }
    const uint8_t *d;
    size_t on;
    yamux_session_output(s.s, &d, &on);
    snprintf(log + k, loglen - (size_t)k, "out=%zu", on);
    peer_free(&s);
}

/* Before the peer's first frame, only early_streams SYNs go out: the
 * other streams are held (their data and FIN wait, a reset forgets them)
 * and announced, in order, when a frame arrives. */
START_TEST(early_streams_held)
{
    struct yamux_config cc = quiet_cfg(), sc = quiet_cfg();
    cc.early_streams = 2;
    struct peer c, s;
    peer_init(&c, "client", true, &cc);
    peer_init(&s, "server", false, &sc);
    uint32_t id[5];
    for (int i = 0; i < 5; i++) ck_assert_int_eq(yamux_stream_open(c.s, &id[i]), 0);
    static const uint8_t hello[] = "hello";
    qsend(&c, id[2], hello, 5);
    ck_assert_uint_eq(rs(&c, id[2])->txlen, 5);            /* held: no window yet */
    ck_assert_int_eq(yamux_stream_close(c.s, id[3]), 0);   /* SYN, then FIN */
    ck_assert_int_eq(yamux_stream_reset(c.s, id[4]), 0);   /* never announced */
    uint8_t out[256];
    size_t n = 0;
    collect(&c, out, &n, sizeof out);
    /* Two SYNs (streams 1 and 3), then stream 7's SYN and FIN. */
    ck_assert_uint_eq(n, 4 * YAMUX_HEADER_LEN);
    uint32_t want_id[4] = { id[0], id[1], id[3], id[3] };
    uint16_t want_flags[4] = { YAMUX_FLAG_SYN, YAMUX_FLAG_SYN, YAMUX_FLAG_SYN, YAMUX_FLAG_FIN };
    for (int i = 0; i < 4; i++) {
        struct yamux_header h;
        ck_assert_int_eq(yamux_header_decode(&h, out + i * YAMUX_HEADER_LEN, YAMUX_HEADER_LEN), 12);
        ck_assert_uint_eq(h.type, YAMUX_TYPE_WINDOW_UPDATE);
        ck_assert_uint_eq(h.stream_id, want_id[i]);
        ck_assert_uint_eq(h.flags, want_flags[i]);
    }
    size_t used = 0;
    ck_assert_int_eq(yamux_session_feed(s.s, 0, out, n, &used), 0);
    ck_assert_uint_eq(used, n);
    /* The server's ACKs are the client's first frames: stream 5 goes. */
    pump(&c, &s);
    ck_assert(rs(&s, id[0])->opened && rs(&s, id[1])->opened && rs(&s, id[2])->opened);
    ck_assert(rs(&s, id[3])->opened && rs(&s, id[3])->fin);
    ck_assert(!rs(&s, id[4])->opened);
    ck_assert_int_eq(s.opened, 4);
    ck_assert_uint_eq(rs(&s, id[2])->len, 5);
    ck_assert_int_eq(memcmp(rs(&s, id[2])->data, "hello", 5), 0);
    ck_assert_uint_eq(rs(&c, id[2])->txlen, 0);
    /* Heard: later streams go at once, whatever the count. */
    uint32_t more;
    for (int i = 0; i < 3; i++) ck_assert_int_eq(yamux_stream_open(c.s, &more), 0);
    const uint8_t *d;
    yamux_session_output(c.s, &d, &n);
    ck_assert_uint_eq(n, 3 * YAMUX_HEADER_LEN);
    ck_assert_int_eq(c.errors + s.errors, 0);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

START_TEST(every_split)
{
    uint8_t *t;
    size_t n = transcript(&t);
    char ref[4096], got[4096];
    replay(t, n, NULL, 0, ref, sizeof ref);
    ck_assert_ptr_nonnull(strstr(ref, "open 1;"));
    ck_assert_ptr_nonnull(strstr(ref, "fin 1;"));
    ck_assert_ptr_nonnull(strstr(ref, "rst 3;"));
    ck_assert_ptr_nonnull(strstr(ref, "goaway 0;"));
    ck_assert_ptr_nonnull(strstr(ref, "1:40000:"));
    /* Every single cut point. */
    for (size_t i = 0; i <= n; i++) {
        size_t cut = i;
        replay(t, n, &cut, 1, got, sizeof got);
        ck_assert_str_eq(got, ref);
    }
    /* Byte by byte. */
    size_t *cuts = malloc(n * sizeof *cuts);
    for (size_t i = 0; i < n; i++) cuts[i] = i;
    replay(t, n, cuts, n, got, sizeof got);
    ck_assert_str_eq(got, ref);
    /* Random cuts. */
    uint32_t x = 12345;
    for (int round = 0; round < 200; round++) {
        size_t nc = 0, pos = 0;
        while (pos < n) {
            x = x * 1103515245u + 12345u;
            pos += 1 + (x >> 8) % 300;
            if (pos < n) cuts[nc++] = pos;
        }
        replay(t, n, cuts, nc, got, sizeof got);
        ck_assert_str_eq(got, ref);
    }
    free(cuts);
    free(t);
}
END_TEST

START_TEST(output_watermark)
{
    struct yamux_config cfg = quiet_cfg();
    cfg.out_high_watermark = 64 * KIB;
    struct peer c, s;
    peer_init(&c, "client", true, &cfg);
    peer_init(&s, "server", false, &cfg);
    uint32_t id;
    ck_assert_int_eq(yamux_stream_open(c.s, &id), 0);
    pump(&c, &s);
    uint8_t *buf = malloc(200 * KIB);
    fill(buf, 200 * KIB, 2);
    /* One frame now; as the output drains, turns fill it up to the
     * watermark (+ one frame) and no further. */
    qsend(&c, id, buf, 200 * KIB);
    ck_assert_uint_eq(yamux_session_output_len(c.s), 16 * KIB + 12);
    ck_assert_uint_eq(xfer(&c, &s, 0, 0), 16 * KIB + 12);
    ck_assert_uint_ge(yamux_session_output_len(c.s), 64 * KIB);
    ck_assert_uint_le(yamux_session_output_len(c.s), 64 * KIB + 16 * KIB + 12 * 6);
    ck_assert_uint_gt(rs(&c, id)->txlen, 0);
    /* Not its turn: a direct write waits. */
    ck_assert_int_eq(yamux_stream_write(c.s, id, buf, 1), 0);
    /* Draining a little: not yet below half the watermark, no turn. */
    c.writable = 0;
    ck_assert_uint_eq(xfer(&c, &s, 0, 1000), 1000);
    ck_assert_int_eq(c.writable, 0);
    /* Drain the rest: turns again. */
    xfer(&c, &s, 0, 0);
    ck_assert_int_ge(c.writable, 1);
    ck_assert_uint_eq(c.last_writable, id);
    pump(&c, &s);
    ck_assert_uint_eq(rs(&s, id)->len, 200 * KIB);
    ck_assert_mem_eq(rs(&s, id)->data, buf, 200 * KIB);
    /* Control frames are not limited by the watermark. */
    ck_assert_int_eq(yamux_stream_close(c.s, id), 0);
    ck_assert_int_eq(yamux_stream_write(c.s, id, buf, 1), P2P_ESTATE);
    ck_assert_int_eq(yamux_session_output_consume(c.s, 13), P2P_EINVAL);
    free(buf);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

/* Direct output: a lone writer's frames go down as header + the
 * caller's bytes, control frames queued before them first; without room
 * it waits for a turn (output_ready); with another stream waiting, or a
 * FIN queued, it takes the output as before; a failure below fails the
 * session. */
START_TEST(direct_output)
{
    struct yamux_config cfg = quiet_cfg();
    struct peer c, s;
    peer_init_direct(&c, "client", true, &cfg, 1 * MIB);
    peer_init(&s, "server", false, &cfg);
    uint32_t a, b;
    ck_assert_int_eq(yamux_stream_open(c.s, &a), 0);
    pump(&c, &s);
    ck_assert_int_eq(c.dsends, 0);   /* the SYN was queued: no data yet */
    size_t big = 600 * KIB;
    uint8_t *buf = malloc(big);
    fill(buf, big, 7);

    /* 100 KiB: 7 frames in one batch, the SYN of b first, nothing queued. */
    ck_assert_int_eq(yamux_stream_open(c.s, &b), 0);
    ck_assert_uint_eq(yamux_session_output_len(c.s), 12);
    ck_assert_int_eq(yamux_stream_write(c.s, a, buf, 100 * KIB), 100 * KIB);
    ck_assert_uint_eq(yamux_session_output_len(c.s), 0);
    ck_assert_int_eq(c.dsends, 1);
    ck_assert_uint_eq(c.wlen, 12 + 100 * KIB + 7 * 12);
    struct yamux_header h;
    ck_assert_int_gt(yamux_header_decode(&h, c.wire, 12), 0);
    ck_assert(h.type == YAMUX_TYPE_WINDOW_UPDATE && h.stream_id == b && (h.flags & YAMUX_FLAG_SYN));
    ck_assert_int_gt(yamux_header_decode(&h, c.wire + 12, 12), 0);
    ck_assert(h.type == YAMUX_TYPE_DATA && h.stream_id == a && h.length == 16 * KIB && h.flags == 0);
    ck_assert_mem_eq(c.wire + 24, buf, 16 * KIB);
    pump(&c, &s);
    ck_assert_uint_eq(rs(&s, a)->len, 100 * KIB);
    ck_assert_mem_eq(rs(&s, a)->data, buf, 100 * KIB);

    /* Room for two frames: the rest waits for a turn, given when the
     * layer below has room again. */
    c.droom = 2 * (16 * KIB + 12);
    c.writable = 0;
    qsend(&c, a, buf + 100 * KIB, 100 * KIB);
    ck_assert_uint_eq(rs(&c, a)->txlen, 100 * KIB - 32 * KIB);
    ck_assert_int_eq(yamux_stream_write(c.s, a, buf, 1), 0);   /* waiting: not its turn */
    ck_assert_int_eq(yamux_session_output_ready(c.s), 0);      /* no room: no turn */
    ck_assert_int_eq(c.writable, 0);
    xfer(&c, &s, 0, 0);   /* drains the layer below: a turn, two more frames */
    ck_assert_int_eq(c.writable, 1);
    ck_assert_uint_eq(rs(&c, a)->txlen, 100 * KIB - 64 * KIB);
    pump(&c, &s);
    ck_assert_uint_eq(rs(&c, a)->txlen, 0);
    ck_assert_uint_eq(rs(&s, a)->len, 200 * KIB);
    ck_assert_mem_eq(rs(&s, a)->data, buf, 200 * KIB);
    ck_assert_uint_eq(yamux_session_output_len(c.s), 0);

    /* Two writers: a waits for room, b queues behind it; their turns go
     * through the output, one frame each (fairness as without direct
     * output), and no longer direct. */
    int sends = c.dsends;
    qsend(&c, a, buf + 200 * KIB, 100 * KIB);
    ck_assert_int_eq(c.dsends, sends + 1);
    qsend(&c, b, buf, 100 * KIB);
    ck_assert_uint_eq(rs(&c, b)->txlen, 100 * KIB);
    c.droom = 1 * MIB;
    xfer(&c, &s, 0, 0);
    ck_assert_int_eq(c.dsends, sends + 1);
    ck_assert_uint_gt(yamux_session_output_len(c.s), 0);
    const uint8_t *d;
    size_t n;
    yamux_session_output(c.s, &d, &n);
    ck_assert_int_gt(yamux_header_decode(&h, d, 12), 0);
    ck_assert_uint_eq(h.stream_id, a);
    ck_assert_int_gt(yamux_header_decode(&h, d + 12 + h.length, 12), 0);
    ck_assert_uint_eq(h.stream_id, b);
    pump(&c, &s);
    ck_assert_uint_eq(rs(&s, a)->len, 300 * KIB);
    ck_assert_mem_eq(rs(&s, a)->data, buf, 300 * KIB);
    ck_assert_uint_eq(rs(&s, b)->len, 100 * KIB);
    ck_assert_mem_eq(rs(&s, b)->data, buf, 100 * KIB);

    /* Window: the peer stops consuming; the rest waits for its update. */
    s.auto_consume = false;
    sends = c.dsends;
    qsend(&c, a, buf, big);
    pump(&c, &s);
    struct yamux_stream_info info;
    ck_assert_int_eq(yamux_stream_get_info(c.s, a, &info), 0);
    ck_assert_uint_eq(info.send_window, 0);
    ck_assert_uint_gt(rs(&c, a)->txlen, 0);
    ck_assert_int_eq(yamux_stream_consumed(s.s, a, rs(&s, a)->len - 300 * KIB), 0);
    s.auto_consume = true;
    pump(&c, &s);
    ck_assert_uint_eq(rs(&c, a)->txlen, 0);
    ck_assert_uint_eq(rs(&s, a)->len, 300 * KIB + big);
    ck_assert_mem_eq(rs(&s, a)->data + 300 * KIB, buf, big);
    ck_assert_int_gt(c.dsends, sends + 1);
    ck_assert_uint_eq(yamux_session_output_len(c.s), 0);

    /* A FIN queued: the next write takes the output, behind it. */
    ck_assert_int_eq(yamux_stream_close(c.s, b), 0);
    sends = c.dsends;
    ck_assert_int_eq(yamux_stream_write(c.s, a, buf, 10), 10);
    ck_assert_int_eq(c.dsends, sends);
    ck_assert_uint_eq(yamux_session_output_len(c.s), 12 + 12 + 10);
    pump(&c, &s);
    ck_assert(rs(&s, b)->fin);

    /* The layer below fails: so does the session. */
    c.dfail = P2P_ECLOSED;
    ck_assert_int_eq(yamux_stream_write(c.s, a, buf, 10), P2P_ECLOSED);
    ck_assert(yamux_session_failed(c.s));
    ck_assert_int_eq(c.errors, 1);
    ck_assert_int_eq(c.last_error, P2P_ECLOSED);
    free(buf);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

START_TEST(input_stops_when_output_full)
{
    struct yamux_config cfg = quiet_cfg();
    cfg.out_high_watermark = 4 * KIB;
    cfg.max_frame_payload = 1 * KIB;
    struct peer s;
    peer_init(&s, "server", false, &cfg);
    /* A peer floods pings and never reads our pongs. */
    size_t nping = 10000;
    uint8_t *f = malloc(nping * 12);
    for (size_t i = 0; i < nping; i++) put(f + 12 * i, 0, YAMUX_TYPE_PING, YAMUX_FLAG_SYN, 0, (uint32_t)i);
    size_t used;
    ck_assert_int_eq(yamux_session_feed(s.s, 0, f, nping * 12, &used), 0);
    ck_assert_uint_lt(used, nping * 12);
    ck_assert_uint_eq(used % 12, 0);
    size_t stop = 4 * KIB + 1 * KIB + 12 + 64 * KIB;
    ck_assert_uint_ge(yamux_session_output_len(s.s), stop);
    ck_assert_uint_lt(yamux_session_output_len(s.s), stop + 12);
    /* Feeding again without draining makes no progress. */
    size_t used2;
    ck_assert_int_eq(yamux_session_feed(s.s, 0, f + used, 12, &used2), 0);
    ck_assert_uint_eq(used2, 0);
    /* After draining it goes on. */
    ck_assert_int_eq(yamux_session_output_consume(s.s, yamux_session_output_len(s.s)), 0);
    ck_assert_int_eq(yamux_session_feed(s.s, 0, f + used, nping * 12 - used, &used2), 0);
    ck_assert_uint_eq(used2, nping * 12 - used);
    ck_assert_uint_eq(yamux_session_output_len(s.s), (nping * 12 - used));
    free(f);
    peer_free(&s);
}
END_TEST

START_TEST(api_misuse)
{
    struct peer c, s;
    pair_init(&c, &s);
    uint32_t id;
    s.try_reenter = true;
    ck_assert_int_eq(yamux_stream_open(c.s, &id), 0);
    pump(&c, &s);
    ck_assert_int_eq(s.reenter_rc, P2P_EBUSY);
    ck_assert(!yamux_session_failed(s.s));
    ck_assert_int_eq(yamux_stream_consumed(s.s, id, 1), P2P_EINVAL);
    ck_assert_int_eq(yamux_stream_consumed(s.s, 12345, 0), P2P_ENOTFOUND);
    ck_assert_int_eq(yamux_stream_write(s.s, 12345, (const uint8_t *)"a", 1), P2P_ENOTFOUND);
    ck_assert_int_eq(yamux_stream_close(s.s, 12345), P2P_ENOTFOUND);
    ck_assert_int_eq(yamux_stream_reset(s.s, 12345), P2P_ENOTFOUND);
    ck_assert_int_eq(yamux_stream_accept(c.s, id), 0);   /* outbound: no-op */
    struct yamux_stream_info info;
    ck_assert_int_eq(yamux_stream_get_info(c.s, 12345, &info), P2P_ENOTFOUND);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

START_TEST(callbacks_reenter)
{
    struct peer c, s;
    pair_init(&c, &s);
    /* Reset from inside on_data, in the middle of a frame's delivery:
     * the rest of the frame and later frames are dropped. */
    s.reset_on_data = true;
    uint32_t id;
    ck_assert_int_eq(yamux_stream_open(c.s, &id), 0);
    uint8_t buf[40000];
    fill(buf, sizeof buf, 4);
    qsend(&c, id, buf, sizeof buf);
    for (int i = 0; i < 100 && yamux_session_output_len(c.s); i++) xfer(&c, &s, 0, 5000);
    pump(&c, &s);
    ck_assert_uint_eq(rs(&s, id)->len, 5000 - 12);   /* one piece (the SYN went alone, first) */
    ck_assert(!rs(&s, id)->fin);
    ck_assert(rs(&c, id)->reset);
    ck_assert_uint_eq(yamux_session_num_streams(s.s), 0);
    ck_assert_uint_eq(yamux_session_num_streams(c.s), 0);
    ck_assert(!yamux_session_failed(s.s) && !yamux_session_failed(c.s));
    s.reset_on_data = false;

    /* Reset from on_stream_opened, with data and FIN in the SYN frame. */
    s.reset_on_open = true;
    uint8_t f[20];
    size_t used;
    put(f, 0, YAMUX_TYPE_DATA, YAMUX_FLAG_SYN | YAMUX_FLAG_FIN, 101, 8);
    memcpy(f + 12, "dropped!", 8);
    ck_assert_int_eq(yamux_session_feed(s.s, 0, f, 20, &used), 0);
    ck_assert_uint_eq(rs(&s, 101)->len, 0);
    ck_assert(!rs(&s, 101)->fin);
    s.reset_on_open = false;
    /* (the client never opened 101: do not send it the RST) */
    ck_assert_uint_eq(yamux_session_output_len(s.s), 12);
    ck_assert_int_eq(yamux_session_output_consume(s.s, 12), 0);

    /* Close from on_remote_fin frees the stream; write from on_opened. */
    s.close_on_fin = true;
    s.write_on_open = true;
    ck_assert_int_eq(yamux_stream_open(c.s, &id), 0);
    ck_assert_int_eq(yamux_stream_close(c.s, id), 0);
    pump(&c, &s);
    ck_assert(rs(&s, id)->fin);
    ck_assert_mem_eq(rs(&c, id)->data, "echo", 4);
    ck_assert(rs(&c, id)->fin);
    ck_assert_uint_eq(yamux_session_num_streams(s.s), 0);
    ck_assert_uint_eq(yamux_session_num_streams(c.s), 0);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

/* ---- Concurrent streams: fairness over a simulated link -------------------- */

/* One direction of a link: a FIFO of byte chunks stamped with the time
 * they entered it. */
struct lchunk {
    uint64_t t;
    size_t off, len;
    uint8_t *p;
};

struct link {
    struct lchunk *c;
    size_t n, cap, head;
    size_t queued;
};

static void link_free(struct link *l)
{
    for (size_t i = l->head; i < l->n; i++) free(l->c[i].p);
    free(l->c);
}

static size_t link_queued(const struct link *l) { return l->queued; }

static void link_push(struct link *l, uint64_t now, const uint8_t *d, size_t n)
{
    if (l->n == l->cap) {
        if (l->head) {
            memmove(l->c, l->c + l->head, (l->n - l->head) * sizeof *l->c);
            l->n -= l->head;
            l->head = 0;
        } else {
            l->cap = l->cap ? 2 * l->cap : 64;
            l->c = realloc(l->c, l->cap * sizeof *l->c);
            ck_assert_ptr_nonnull(l->c);
        }
    }
    struct lchunk *k = &l->c[l->n++];
    k->t = now;
    k->off = 0;
    k->len = n;
    k->p = malloc(n);
    ck_assert_ptr_nonnull(k->p);
    memcpy(k->p, d, n);
    l->queued += n;
}

/* Move from's output into the queue q while it holds less than limit
 * bytes (the layer below Yamux taking only what it can: back-pressure). */
static void link_load(struct link *q, struct peer *from, uint64_t now, size_t limit)
{
    while (q->queued < limit) {
        const uint8_t *d;
        size_t n;
        yamux_session_output(from->s, &d, &n);
        if (!n) return;
        if (n > limit - q->queued) n = limit - q->queued;
        link_push(q, now, d, n);
        from->obytes += n;
        ck_assert_int_eq(yamux_session_output_consume(from->s, n), 0);
    }
}

/* Take up to budget bytes that entered l at least delay ms ago: into the
 * link wire (when to is NULL) or into the peer to (stops when its output
 * is full). */
static void link_move(struct link *l, struct link *wire, struct peer *to, uint64_t now, uint64_t delay,
                      size_t budget)
{
    while (l->head < l->n && budget) {
        struct lchunk *k = &l->c[l->head];
        if (k->t + delay > now) return;
        size_t n = k->len - k->off, used = n;
        if (n > budget) n = used = budget;
        if (to) ck_assert_int_eq(yamux_session_feed(to->s, now, k->p + k->off, n, &used), 0);
        else link_push(wire, now, k->p + k->off, n);
        k->off += used;
        l->queued -= used;
        budget -= used;
        if (k->off == k->len) {
            free(k->p);
            l->head++;
        }
        if (used < n) return;
    }
}

struct sim {
    uint32_t rate;      /* bytes per ms, client -> server */
    uint32_t delay;     /* ms, each way */
    uint32_t below;     /* bytes the layer below the sender queues */
    int nstreams;
    int ms, warmup_ms;  /* run length; bytes counted after warmup_ms */
    int late_ms;        /* all streams but the first open then */
    bool autotune;
    bool direct;        /* the client's output goes direct into the link when it can */
    /* results */
    uint64_t bytes[64];
    uint64_t total;
    double fairness;    /* slowest / fastest stream after the warm-up */
    uint64_t direct_bytes, output_bytes;   /* client bytes sent direct / through its output */
    uint64_t window_total_max;
};

/* Client streams upload as fast as they are allowed; the server consumes
 * at once. The client's application writes like the plugin does: on
 * on_writable, and in a loop over its streams in a fixed order every ms. */
static void sim_run(struct sim *m, const struct yamux_config *cfg_in)
{
    struct yamux_config cfg = *cfg_in;
    cfg.autotune = m->autotune;
    cfg.keepalive_ms = 100;
    struct peer *c = malloc(sizeof *c), *s = malloc(sizeof *s);
    peer_init_cb(c, "client", true, &cfg, m->direct ? &cbs_direct : &cbs);
    peer_init(s, "server", false, &cfg);
    c->count_only = s->count_only = true;
    static uint8_t src[SRC_LEN];
    c->src = src;
    uint32_t ids[64];
    ck_assert_int_le(m->nstreams, 64);
    int open = 0;
    /* Client -> server: a send queue drained at the link rate, then the
     * wire's delay. Server -> client: the delay only. */
    struct link up = { 0 }, wire = { 0 }, down = { 0 };
    c->dlink = &up;   /* direct output (m->direct): into the send queue */
    c->dlimit = m->below;
    uint64_t at_warmup[64] = { 0 };
    for (int t = 0; t <= m->ms; t++) {
        uint64_t now = 1000 + (uint64_t)t;
        c->dnow = now;
        for (; open < (t >= m->late_ms ? m->nstreams : 1); open++)
            ck_assert_int_eq(yamux_stream_open(c->s, &ids[open]), 0);
        ck_assert_int_eq(yamux_session_tick(c->s, now), 0);
        ck_assert_int_eq(yamux_session_tick(s->s, now), 0);
        for (int i = 0; i < open; i++)
            while (yamux_stream_write(c->s, ids[i], src, SRC_LEN) > 0) {}
        link_load(&up, c, now, m->below);
        if (m->direct) ck_assert_int_eq(yamux_session_output_ready(c->s), 0);
        link_move(&up, &wire, NULL, now, 0, m->rate);
        link_move(&wire, NULL, s, now, m->delay, SIZE_MAX);
        link_load(&down, s, now, SIZE_MAX);
        link_move(&down, NULL, c, now, m->delay, SIZE_MAX);
        ck_assert(!yamux_session_failed(c->s) && !yamux_session_failed(s->s));
        uint64_t wt = yamux_session_window_total(s->s), sum = 0;
        if (wt > m->window_total_max) m->window_total_max = wt;
        for (int i = 0; i < open; i++) {
            struct yamux_stream_info info;
            if (yamux_stream_get_info(s->s, ids[i], &info) == 0) sum += info.recv_max;
        }
        ck_assert_uint_eq(sum, wt);
        if (t == m->warmup_ms)
            for (int i = 0; i < m->nstreams; i++) at_warmup[i] = rs(s, ids[i])->len;
    }
    uint64_t lo = UINT64_MAX, hi = 0;
    m->total = 0;
    for (int i = 0; i < m->nstreams; i++) {
        m->bytes[i] = rs(s, ids[i])->len - at_warmup[i];
        m->total += m->bytes[i];
        if (m->bytes[i] < lo) lo = m->bytes[i];
        if (m->bytes[i] > hi) hi = m->bytes[i];
    }
    m->fairness = hi ? (double)lo / (double)hi : 0;
    m->direct_bytes = c->dbytes;
    m->output_bytes = c->obytes;
    link_free(&up);
    link_free(&wire);
    link_free(&down);
    peer_free(c);
    peer_free(s);
    free(c);
    free(s);
}

static void sim_print(const char *name, const struct sim *m)
{
    fprintf(stderr, "%s%s: fairness %.3f, %.1f MiB/s of %.1f, %.0f %% direct; per stream KiB:", name,
            m->direct ? ", direct output" : "", m->fairness,
            (double)m->total / MIB / ((m->ms - m->warmup_ms) / 1000.0), (double)m->rate * 1000 / MIB,
            100.0 * (double)m->direct_bytes / (double)(m->direct_bytes + m->output_bytes + 1));
    for (int i = 0; i < m->nstreams; i++) fprintf(stderr, " %llu", (unsigned long long)(m->bytes[i] / KIB));
    fprintf(stderr, "\n");
}

/* Round robin among the writers: 16 streams get the same share of the
 * link, with fixed windows and with auto-tuning. Before, the stream the
 * application happened to call first took the output, and with
 * auto-tuning the first streams to grow took the window budget. */
START_TEST(fairness_streams)
{
    struct yamux_config cfg;
    yamux_config_default(&cfg);
    struct sim ms[4];
    for (int i = 0; i < 4; i++) {
        bool at = i & 1;
        struct sim m = { .rate = 256 * KIB, .delay = 1, .below = 256 * KIB, .nstreams = 16,
                         .ms = 400, .warmup_ms = 100, .autotune = at, .direct = i >= 2 };
        sim_run(&m, &cfg);
        sim_print(at ? "16 streams, autotune" : "16 streams, fixed windows", &m);
        ms[i] = m;
    }
    for (int i = 0; i < 4; i++) {
        struct sim m = ms[i];
        ck_assert_uint_le(m.window_total_max, cfg.max_session_window);
        ck_assert_double_ge(m.fairness, 0.8);
        /* No collapse: the link stays busy. */
        ck_assert_uint_ge(m.total, (uint64_t)m.rate * (uint64_t)(m.ms - m.warmup_ms) * 9 / 10);
    }
}
END_TEST

static void expect_frame(struct peer *p, size_t len, uint8_t type, uint16_t flags, uint32_t id,
                         uint32_t length)
{
    const uint8_t *d;
    size_t n;
    struct yamux_header h;
    yamux_session_output(p->s, &d, &n);
    if (len) ck_assert_uint_eq(n, len);   /* 0: at least this frame */
    ck_assert_int_eq(yamux_header_decode(&h, d, n), YAMUX_HEADER_LEN);
    ck_assert_uint_eq(h.type, type);
    ck_assert_uint_eq(h.flags, flags);
    ck_assert_uint_eq(h.stream_id, id);
    ck_assert_uint_eq(h.length, length);
}

/* Window Updates and pongs go before queued Data (at the next frame
 * boundary): behind a watermark's worth of data they would stall the
 * peer's writer and inflate its RTT samples. */
START_TEST(control_first)
{
    struct peer c, s;
    pair_init(&c, &s);
    uint32_t a, b;
    ck_assert_int_eq(yamux_stream_open(c.s, &a), 0);
    ck_assert_int_eq(yamux_stream_open(s.s, &b), 0);
    pump(&c, &s);
    c.auto_consume = false;
    uint8_t *buf = malloc(256 * KIB);
    fill(buf, 256 * KIB, 8);
    qsend(&s, b, buf, 200 * KIB);
    pump(&c, &s);
    ck_assert_uint_eq(rs(&c, b)->len, 200 * KIB);
    /* The client queues data (one frame now, more as output drains)... */
    qsend(&c, a, buf, 256 * KIB);
    /* ...then owes a Window Update and a pong. */
    ck_assert_int_eq(yamux_stream_consumed(c.s, b, 200 * KIB), 0);
    uint8_t f[12];
    size_t used;
    put(f, 0, YAMUX_TYPE_PING, YAMUX_FLAG_SYN, 0, 7);
    ck_assert_int_eq(yamux_session_feed(c.s, 0, f, 12, &used), 0);
    ck_assert_uint_eq(yamux_session_output_len(c.s), 16 * KIB + 12 + 24);
    expect_frame(&c, 24, YAMUX_TYPE_WINDOW_UPDATE, 0, b, 200 * KIB);
    ck_assert_uint_eq(xfer(&c, &s, 0, 12), 12);
    expect_frame(&c, 12, YAMUX_TYPE_PING, YAMUX_FLAG_ACK, 0, 7);
    ck_assert_uint_eq(xfer(&c, &s, 0, 12), 12);
    /* Then the data (turns refilled the output as it drained); a frame
     * once begun is finished first. */
    expect_frame(&c, 0, YAMUX_TYPE_DATA, 0, a, 16 * KIB);
    ck_assert_uint_eq(xfer(&c, &s, 0, 100), 100);
    put(f, 0, YAMUX_TYPE_PING, YAMUX_FLAG_SYN, 0, 8);
    ck_assert_int_eq(yamux_session_feed(c.s, 0, f, 12, &used), 0);
    const uint8_t *d;
    size_t n;
    yamux_session_output(c.s, &d, &n);
    ck_assert_uint_eq(n, 16 * KIB + 12 - 100);
    ck_assert_uint_eq(xfer(&c, &s, 0, n), n);
    expect_frame(&c, 12, YAMUX_TYPE_PING, YAMUX_FLAG_ACK, 0, 8);
    ck_assert_uint_eq(xfer(&c, &s, 0, 12), 12);
    /* Turns refilled the output meanwhile: data frames of a. */
    yamux_session_output(c.s, &d, &n);
    ck_assert_uint_ge(n, 16 * KIB + 12);
    struct yamux_header h;
    ck_assert_int_eq(yamux_header_decode(&h, d, n), 12);
    ck_assert(h.type == YAMUX_TYPE_DATA && h.stream_id == a);
    /* A RST does not wait behind the data... */
    ck_assert_int_eq(yamux_stream_reset(c.s, b), 0);
    expect_frame(&c, 12, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_RST, b, 0);
    ck_assert_uint_eq(xfer(&c, &s, 0, 12), 12);
    /* ...a FIN stays behind the stream's data. */
    pump(&c, &s);
    ck_assert_uint_eq(rs(&c, a)->txlen, 0);
    ck_assert_uint_eq(rs(&s, a)->len, 256 * KIB);
    ck_assert_int_eq(yamux_stream_write(c.s, a, buf, 1), 1);
    ck_assert_int_eq(yamux_stream_close(c.s, a), 0);
    yamux_session_output(c.s, &d, &n);
    ck_assert_uint_eq(n, 12 + 1 + 12);
    ck_assert_int_eq(yamux_header_decode(&h, d + 13, 12), 12);
    ck_assert(h.type == YAMUX_TYPE_WINDOW_UPDATE && h.flags == YAMUX_FLAG_FIN && h.stream_id == a);
    pump(&c, &s);
    ck_assert_uint_eq(rs(&s, a)->len, 256 * KIB + 1);
    ck_assert_mem_eq(rs(&s, a)->data, buf, 256 * KIB);
    ck_assert(rs(&s, a)->fin && rs(&s, b)->reset);
    ck_assert(!yamux_session_failed(s.s) && !yamux_session_failed(c.s));
    free(buf);
    peer_free(&c);
    peer_free(&s);
}
END_TEST

/* A stream that grew alone gives its share of the growth budget back when
 * 15 more streams join: on a 40 ms RTT link the initial 256 KiB carry
 * only 40 % of a stream's share, so the late streams must grow too. */
START_TEST(fairness_late_streams)
{
    struct yamux_config cfg;
    yamux_config_default(&cfg);
    for (int direct = 0; direct < 2; direct++) {
        struct sim m = { .rate = 256 * KIB, .delay = 20, .below = 256 * KIB, .nstreams = 16,
                         .ms = 1200, .warmup_ms = 700, .late_ms = 200, .autotune = true, .direct = direct };
        sim_run(&m, &cfg);
        sim_print("1 stream, then 15 more, 40 ms RTT", &m);
        ck_assert_uint_le(m.window_total_max, cfg.max_session_window);
        ck_assert_double_ge(m.fairness, 0.8);
        ck_assert_uint_ge(m.total, (uint64_t)m.rate * (uint64_t)(m.ms - m.warmup_ms) * 9 / 10);
    }
}
END_TEST

/* A lone stream's data goes down without the output queue (direct
 * output) and keeps the link as busy as the queued path does. */
START_TEST(direct_single_stream)
{
    struct yamux_config cfg;
    yamux_config_default(&cfg);
    for (int direct = 0; direct < 2; direct++) {
        struct sim m = { .rate = 256 * KIB, .delay = 1, .below = 256 * KIB, .nstreams = 1,
                         .ms = 400, .warmup_ms = 100, .autotune = true, .direct = direct };
        sim_run(&m, &cfg);
        sim_print("1 stream", &m);
        ck_assert_uint_ge(m.total, (uint64_t)m.rate * (uint64_t)(m.ms - m.warmup_ms) * 9 / 10);
        if (direct) {
            /* All data direct: the output carried only the SYN and pings. */
            ck_assert_uint_lt(m.output_bytes, 1024);
            ck_assert_uint_ge(m.direct_bytes, m.total);
        } else {
            ck_assert_uint_eq(m.direct_bytes, 0);
        }
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("yamux");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, codec_vectors);
    tcase_add_test(tc, codec_errors);
    tcase_add_test(tc, config_check);
    suite_add_tcase(s, tc);
    tc = tcase_create("session");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, open_accept);
    tcase_add_test(tc, data_both_ways);
    tcase_add_test(tc, half_close);
    tcase_add_test(tc, reset);
    tcase_add_test(tc, window_backpressure);
    tcase_add_test(tc, data_beyond_window);
    tcase_add_test(tc, ping_rtt);
    tcase_add_test(tc, keepalive_timeout);
    tcase_add_test(tc, autotune_grows);
    tcase_add_test(tc, autotune_session_budget);
    tcase_add_test(tc, initial_window_larger);
    tcase_add_test(tc, max_streams);
    tcase_add_test(tc, window_budget);
    tcase_add_test(tc, unacked_limits);
    tcase_add_test(tc, early_streams_held);
    tcase_add_test(tc, goaway);
    tcase_add_test(tc, protocol_errors);
    tcase_add_test(tc, tolerated_frames);
    tcase_add_test(tc, every_split);
    tcase_add_test(tc, output_watermark);
    tcase_add_test(tc, input_stops_when_output_full);
    tcase_add_test(tc, api_misuse);
    tcase_add_test(tc, callbacks_reenter);
    tcase_add_test(tc, control_first);
    tcase_add_test(tc, fairness_streams);
    tcase_add_test(tc, fairness_late_streams);
    tcase_add_test(tc, direct_single_stream);
    tcase_add_test(tc, direct_output);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
