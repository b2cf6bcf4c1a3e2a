/* p2p_stream over the in-memory pipe: delivery, half-close, reset, unread
 * ordering, closing inside callbacks, back-pressure and drain. */
#include <string.h>

#include "p2p/p2p.h"
#include "p2p/stream.h"
#include "testutil.h"

struct sink {
    char data[8192];
    size_t len;
    int eof, errors, drains, err;
    bool close_on_read;
    size_t unread_from;      /* give back bytes past this offset, once */
    p2p_stream *handoff;     /* after unread: stop and let test re-own */
};

static void s_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    struct sink *k = arg;
    if (k->unread_from && n > k->unread_from) {
        memcpy(k->data + k->len, d, k->unread_from);
        k->len += k->unread_from;
        ck_assert_int_eq(p2p_stream_unread(s, d + k->unread_from, n - k->unread_from), 0);
        k->unread_from = 0;
        p2p_stream_read_stop(s);
        k->handoff = s;
        return;
    }
    ck_assert_uint_lt(k->len + n, sizeof k->data);
    memcpy(k->data + k->len, d, n);
    k->len += n;
    if (k->close_on_read) p2p_stream_close(s);
}
static void s_eof(p2p_stream *s, void *arg) { (void)s; ((struct sink *)arg)->eof++; }
static void s_err(p2p_stream *s, int err, void *arg)
{
    (void)s;
    struct sink *k = arg;
    k->errors++;
    k->err = err;
}
static void s_drain(p2p_stream *s, void *arg) { (void)s; ((struct sink *)arg)->drains++; }
static const struct p2p_stream_handlers H = { s_read, s_eof, s_err, s_drain };

static p2p_host *new_host(void)
{
    char err[256];
    p2p_host *h;
    p2p_conf *cf = p2p_conf_load_string("[host]\nephemeral_identity = true\nlog = warn\n", "t", err, sizeof err);
    ck_assert_int_eq(p2p_host_new(&h, cf, NULL, err, sizeof err), 0);
    return h;
}

static void run(p2p_host *h) { uv_run(p2p_host_loop(h), UV_RUN_NOWAIT); uv_run(p2p_host_loop(h), UV_RUN_NOWAIT); }

START_TEST(pipe_basic)
{
    p2p_host *h = new_host();
    p2p_stream *a, *b;
    ck_assert_int_eq(p2p_stream_pipe(h, 0, &a, &b), 0);
    struct sink ka = { 0 }, kb = { 0 };
    p2p_stream_set_handlers(a, &H, &ka);
    p2p_stream_set_handlers(b, &H, &kb);
    ck_assert_int_eq(p2p_stream_write(a, (const uint8_t *)"hello ", 6), 0);
    ck_assert_int_eq(p2p_stream_write(a, (const uint8_t *)"world", 5), 0);
    ck_assert_uint_eq(p2p_stream_write_queued(a), 11);
    run(h);
    ck_assert_uint_eq(kb.len, 0);   /* b is not reading yet */
    p2p_stream_read_start(b);
    run(h);
    ck_assert_uint_eq(kb.len, 11);
    ck_assert_int_eq(memcmp(kb.data, "hello world", 11), 0);
    ck_assert_uint_eq(p2p_stream_write_queued(a), 0);
    ck_assert_int_eq(ka.drains, 1);
    /* half-close: b sees EOF, can still write back */
    ck_assert_int_eq(p2p_stream_shutdown(a), 0);
    ck_assert_int_eq(p2p_stream_write(a, (const uint8_t *)"x", 1), P2P_ECLOSED);
    run(h);
    ck_assert_int_eq(kb.eof, 1);
    p2p_stream_read_start(a);
    ck_assert_int_eq(p2p_stream_write(b, (const uint8_t *)"back", 4), 0);
    run(h);
    ck_assert_uint_eq(ka.len, 4);
    p2p_stream_close(a);
    run(h);
    ck_assert_int_eq(kb.errors, 0);   /* a had half-closed cleanly */
    p2p_stream_close(b);
    p2p_host_free(h);
}
END_TEST

START_TEST(reset_and_close_in_callback)
{
    p2p_host *h = new_host();
    p2p_stream *a, *b;
    ck_assert_int_eq(p2p_stream_pipe(h, 0, &a, &b), 0);
    struct sink ka = { 0 }, kb = { .close_on_read = true };
    p2p_stream_set_handlers(a, &H, &ka);
    p2p_stream_set_handlers(b, &H, &kb);
    p2p_stream_read_start(a);
    p2p_stream_read_start(b);
    p2p_stream_write(a, (const uint8_t *)"bye", 3);
    run(h);
    ck_assert_uint_eq(kb.len, 3);     /* b closed itself inside on_read */
    run(h);
    ck_assert_int_eq(ka.errors, 1);   /* ...which a sees as a reset */
    ck_assert_int_eq(ka.err, P2P_ERESET);
    ck_assert_int_eq(p2p_stream_write(a, (const uint8_t *)"x", 1), P2P_ECLOSED);
    p2p_stream_close(a);
    p2p_host_free(h);
}
END_TEST

START_TEST(unread_order)
{
    p2p_host *h = new_host();
    p2p_stream *a, *b;
    ck_assert_int_eq(p2p_stream_pipe(h, 0, &a, &b), 0);
    struct sink kb = { .unread_from = 4 }, next = { 0 };
    p2p_stream_set_handlers(b, &H, &kb);
    p2p_stream_read_start(b);
    p2p_stream_write(a, (const uint8_t *)"HEADpayload-1", 13);
    run(h);
    ck_assert_ptr_eq(kb.handoff, b);
    ck_assert_uint_eq(kb.len, 4);
    /* More data arrives before the new owner starts reading. */
    p2p_stream_write(a, (const uint8_t *)"|payload-2", 10);
    run(h);
    p2p_stream_set_handlers(b, &H, &next);
    p2p_stream_read_start(b);
    run(h);
    run(h);
    ck_assert_uint_eq(next.len, 19);
    ck_assert_int_eq(memcmp(next.data, "payload-1|payload-2", 19), 0);
    p2p_stream_close(a);
    p2p_stream_close(b);
    p2p_host_free(h);
}
END_TEST

/* The memory budget's count: bytes held for a stream (its unread
 * buffer, what a provider charges) are counted host-wide (a pipe has no
 * connection), uncharged as they leave, and whatever is left is
 * uncharged when the stream is released. */
START_TEST(charged_bytes)
{
    p2p_host *h = new_host();
    struct p2p_mem_stats st;
    p2p_host_mem_stats(h, &st);
    ck_assert_uint_eq(st.budget, 256u << 20);   /* [host] max_buffered_bytes default */
    ck_assert_uint_eq(st.used, 0);
    p2p_stream *a, *b;
    ck_assert_int_eq(p2p_stream_pipe(h, 0, &a, &b), 0);
    struct sink kb = { .unread_from = 4 }, next = { 0 };
    p2p_stream_set_handlers(b, &H, &kb);
    p2p_stream_read_start(b);
    p2p_stream_write(a, (const uint8_t *)"HEADpayload-1", 13);
    run(h);
    /* 9 bytes given back and held while reading is stopped */
    ck_assert_uint_eq(p2p_stream_charged(b), 9);
    p2p_host_mem_stats(h, &st);
    ck_assert_uint_eq(st.used, 9);
    /* a provider's (or owner's) own queue */
    p2p_stream_charge(a, 1000);
    p2p_stream_charge(a, -400);
    ck_assert_uint_eq(p2p_stream_charged(a), 600);
    p2p_stream_charge(a, -100000);   /* never below zero */
    ck_assert_uint_eq(p2p_stream_charged(a), 0);
    p2p_stream_charge(a, 50);
    p2p_host_mem_stats(h, &st);
    ck_assert_uint_eq(st.used, 59);
    ck_assert_uint_eq(st.peak, 1009);
    /* delivered: no longer held */
    p2p_stream_set_handlers(b, &H, &next);
    p2p_stream_read_start(b);
    run(h);
    ck_assert_uint_eq(next.len, 9);
    ck_assert_uint_eq(p2p_stream_charged(b), 0);
    /* released with bytes still charged: uncharged */
    p2p_stream_close(a);
    p2p_stream_close(b);
    p2p_host_mem_stats(h, &st);
    ck_assert_uint_eq(st.used, 0);
    ck_assert_uint_eq(st.conns_closed, 0);
    p2p_host_free(h);
}
END_TEST

START_TEST(backpressure)
{
    p2p_host *h = new_host();
    p2p_stream *a, *b;
    ck_assert_int_eq(p2p_stream_pipe(h, 100, &a, &b), 0);
    struct sink ka = { 0 }, kb = { 0 };
    p2p_stream_set_handlers(a, &H, &ka);
    p2p_stream_set_handlers(b, &H, &kb);
    uint8_t buf[60] = { 0 };
    ck_assert_int_eq(p2p_stream_write(a, buf, 60), 0);
    ck_assert_int_eq(p2p_stream_write(a, buf, 60), P2P_EAGAIN);
    ck_assert_int_eq(p2p_stream_write(a, buf, 40), 0);
    run(h);
    ck_assert_int_eq(ka.drains, 0);   /* nobody read */
    p2p_stream_read_start(b);
    run(h);
    ck_assert_uint_eq(kb.len, 100);
    ck_assert_int_eq(ka.drains, 1);
    p2p_stream_close(a);
    p2p_stream_close(b);
    p2p_host_free(h);
}
END_TEST

/* Addresses: empty until set; shared without a copy between a stream and
 * the ones layered on it; a later set_addrs gives that stream its own copy
 * and leaves the others alone; either may be freed first (ASan checks). */
START_TEST(addrs_shared)
{
    p2p_host *h = new_host();
    p2p_stream *raw, *peer, *sec, *sub;
    ck_assert_int_eq(p2p_stream_pipe(h, 0, &raw, &peer), 0);
    ck_assert_int_eq(p2p_stream_pipe(h, 0, &sec, &sub), 0);
    ck_assert_uint_eq(p2p_stream_local_addr(raw)->len, 0);
    ck_assert_uint_eq(p2p_stream_remote_addr(sub)->len, 0);
    p2p_multiaddr l, r, r2;
    char err[128];
    ck_assert_int_eq(p2p_maddr_parse(&l, "/ip4/127.0.0.1/tcp/1", err, sizeof err), 0);
    ck_assert_int_eq(p2p_maddr_parse(&r, "/ip4/127.0.0.1/tcp/2", err, sizeof err), 0);
    ck_assert_int_eq(p2p_maddr_parse(&r2, "/ip4/127.0.0.1/tcp/3", err, sizeof err), 0);
    p2p_stream_set_addrs(raw, &l, &r);
    p2p_stream_share_addrs(sec, raw);
    p2p_stream_share_addrs(sub, sec);
    ck_assert_ptr_eq(p2p_stream_remote_addr(sub), p2p_stream_remote_addr(raw));   /* no copy */
    ck_assert(p2p_maddr_equal(p2p_stream_local_addr(sub), &l));
    /* only the remote address changes, in sec's own copy */
    p2p_stream_set_addrs(sec, NULL, &r2);
    ck_assert(p2p_maddr_equal(p2p_stream_remote_addr(sec), &r2));
    ck_assert(p2p_maddr_equal(p2p_stream_local_addr(sec), &l));
    ck_assert(p2p_maddr_equal(p2p_stream_remote_addr(raw), &r));
    ck_assert(p2p_maddr_equal(p2p_stream_remote_addr(sub), &r));
    /* the first owner goes; the sharer keeps the addresses */
    p2p_stream_close(raw);
    run(h);
    ck_assert(p2p_maddr_equal(p2p_stream_remote_addr(sub), &r));
    p2p_stream_share_addrs(sub, sub);   /* no-op */
    ck_assert(p2p_maddr_equal(p2p_stream_local_addr(sub), &l));
    p2p_stream_share_addrs(peer, sub);
    p2p_stream_close(sub);
    run(h);
    ck_assert(p2p_maddr_equal(p2p_stream_remote_addr(peer), &r));
    p2p_stream_close(peer);
    p2p_stream_close(sec);
    p2p_host_free(h);
}
END_TEST

/* ---- zero-copy extensions (ABI 1.4) over a test provider ---------------------- */

struct prov {
    uint8_t out[64];         /* the provider's output memory */
    size_t committed, reserved;
    int reserves;
    bool refuse;
};
static int pv_write(void *impl, const uint8_t *d, size_t n)
{
    struct prov *p = impl;
    ck_assert_uint_le(p->committed + n, sizeof p->out);
    memcpy(p->out + p->committed, d, n);
    p->committed += n;
    return 0;
}
static void pv_nop(void *impl) { (void)impl; }
static void pv_close(void *impl) { (void)impl; }
static uint8_t *pv_reserve(void *impl, size_t n)
{
    struct prov *p = impl;
    p->reserves++;
    if (p->refuse || p->committed + n > sizeof p->out) return NULL;
    p->reserved = n;
    return p->out + p->committed;
}
static int pv_commit(void *impl, size_t n)
{
    struct prov *p = impl;
    ck_assert_uint_le(n, p->reserved);
    p->committed += n;
    p->reserved = 0;
    return 0;
}
static const struct p2p_stream_ops PV = { pv_write, pv_nop, pv_nop, NULL, pv_nop, NULL, pv_close };
static const struct p2p_stream_wbuf_ops PVW = { pv_reserve, pv_commit };

struct owner {
    uint8_t buf[16];
    size_t asked;
    int allocs;
    bool decline;
    struct sink k;
};
static uint8_t *ow_alloc(p2p_stream *s, size_t *len, void *arg)
{
    (void)s;
    struct owner *o = arg;
    o->allocs++;
    o->asked = *len;
    if (o->decline) return NULL;
    if (*len > sizeof o->buf) *len = sizeof o->buf;
    return o->buf;
}
static void ow_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    struct owner *o = arg;
    s_read(s, d, n, &o->k);
}
static const struct p2p_stream_handlers OH = { ow_read, NULL, NULL, NULL };

START_TEST(zero_copy_ext)
{
    p2p_host *h = new_host();
    struct prov pv = { 0 };
    p2p_stream *s = p2p_stream_new(h, &PV, &pv);
    ck_assert_ptr_nonnull(s);
    /* without write buffers: reserve says no, commit is refused */
    ck_assert_ptr_null(p2p_stream_write_reserve(s, 4));
    ck_assert_int_eq(p2p_stream_write_commit(s, 0), P2P_ECLOSED);
    p2p_stream_set_wbuf_ops(s, &PVW);
    ck_assert_ptr_null(p2p_stream_write_reserve(s, 0));
    uint8_t *w = p2p_stream_write_reserve(s, 8);
    ck_assert_ptr_eq(w, pv.out);
    memcpy(w, "in place", 8);
    ck_assert_int_eq(p2p_stream_write_commit(s, 8), 0);
    ck_assert_int_eq(p2p_stream_write(s, (const uint8_t *)"+copy", 5), 0);
    ck_assert_uint_eq(pv.committed, 13);
    ck_assert_mem_eq(pv.out, "in place+copy", 13);
    pv.refuse = true;   /* a provider may refuse: the owner falls back to write */
    ck_assert_ptr_null(p2p_stream_write_reserve(s, 4));
    pv.refuse = false;

    /* read buffers: only while the owner reads and nothing is held */
    struct owner o = { 0 };
    size_t len = 100;
    ck_assert_ptr_null(p2p_stream_read_alloc(s, &len));   /* no allocator */
    p2p_stream_set_handlers(s, &OH, &o);
    p2p_stream_set_read_alloc(s, ow_alloc);
    ck_assert_ptr_null(p2p_stream_read_alloc(s, &len));   /* not reading */
    ck_assert_int_eq(o.allocs, 0);
    p2p_stream_read_start(s);
    len = 100;
    uint8_t *r = p2p_stream_read_alloc(s, &len);
    ck_assert_ptr_eq(r, o.buf);
    ck_assert_uint_eq(o.asked, 100);
    ck_assert_uint_eq(len, sizeof o.buf);
    memcpy(r, "read here", 9);   /* the provider's read(2) */
    ck_assert(p2p_stream_deliver_data(s, r, 9));
    ck_assert_uint_eq(o.k.len, 9);
    ck_assert_mem_eq(o.k.data, "read here", 9);
    o.decline = true;
    len = 100;
    ck_assert_ptr_null(p2p_stream_read_alloc(s, &len));   /* declined: provider's own buffer */
    ck_assert_uint_eq(len, 100);
    /* new handlers: the allocator belonged to the previous owner */
    o.decline = false;
    p2p_stream_set_handlers(s, &OH, &o);
    int before = o.allocs;
    ck_assert_ptr_null(p2p_stream_read_alloc(s, &len));
    ck_assert_int_eq(o.allocs, before);

    /* after shutdown nothing can be reserved or committed */
    p2p_stream_reset(s);
    ck_assert_ptr_null(p2p_stream_write_reserve(s, 4));
    ck_assert_int_eq(p2p_stream_write_commit(s, 0), P2P_ECLOSED);
    p2p_stream_close(s);
    p2p_host_free(h);
}
END_TEST

/* ---- gather writes (ABI 1.5) --------------------------------------------------- */

struct vprov {
    struct prov pv;
    int writevs, pieces;
};
static int pv_writev(void *impl, const struct p2p_iovec *iov, size_t n)
{
    struct vprov *v = impl;
    v->writevs++;
    for (size_t i = 0; i < n; i++) {
        v->pieces++;
        if (iov[i].len) pv_write(&v->pv, iov[i].base, iov[i].len);   /* empty pieces may be NULL */
    }
    return 0;
}

START_TEST(gather_writes)
{
    p2p_host *h = new_host();
    static const struct p2p_iovec iov[] = {
        { (const uint8_t *)"hdr:", 4 }, { NULL, 0 }, { (const uint8_t *)"body", 4 }, { (const uint8_t *)"!", 1 },
    };
    /* A native gather op takes the pieces as they are, in order. */
    struct vprov v = { 0 };
    p2p_stream *s = p2p_stream_new(h, &PV, &v);
    p2p_stream_set_writev(s, pv_writev);
    ck_assert_int_eq(p2p_stream_writev(s, iov, 4), 0);
    ck_assert_int_eq(v.writevs, 1);
    ck_assert_int_eq(v.pieces, 4);
    ck_assert_uint_eq(v.pv.committed, 9);
    ck_assert_mem_eq(v.pv.out, "hdr:body!", 9);
    ck_assert_int_eq(p2p_stream_writev(s, iov + 1, 1), 0);   /* nothing to write: no call */
    ck_assert_int_eq(v.writevs, 1);
    p2p_stream_close(s);

    /* Without it, into the provider's write buffer: one reservation. */
    struct prov pv = { 0 };
    s = p2p_stream_new(h, &PV, &pv);
    p2p_stream_set_wbuf_ops(s, &PVW);
    ck_assert_int_eq(p2p_stream_writev(s, iov, 4), 0);
    ck_assert_int_eq(pv.reserves, 1);
    ck_assert_uint_eq(pv.committed, 9);
    ck_assert_mem_eq(pv.out, "hdr:body!", 9);
    /* ... and when it refuses, joined and written once. */
    pv.refuse = true;
    ck_assert_int_eq(p2p_stream_writev(s, iov, 4), 0);
    ck_assert_uint_eq(pv.committed, 18);
    ck_assert_mem_eq(pv.out, "hdr:body!hdr:body!", 18);
    p2p_stream_close(s);

    /* Plain write only, pieces beyond the stack buffer: same bytes. */
    static uint8_t big[3000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 7);
    struct p2p_iovec bi[] = { { big, 1000 }, { big + 1000, 2000 } };
    p2p_stream *a, *b;
    ck_assert_int_eq(p2p_stream_pipe(h, 0, &a, &b), 0);
    struct sink k = { 0 };
    p2p_stream_set_handlers(b, &H, &k);
    p2p_stream_read_start(b);
    ck_assert_int_eq(p2p_stream_writev(a, bi, 2), 0);
    ck_assert_int_eq(p2p_stream_writev(a, iov, 4), 0);
    run(h);
    ck_assert_uint_eq(k.len, sizeof big + 9);
    ck_assert_mem_eq(k.data, big, sizeof big);
    ck_assert_mem_eq(k.data + sizeof big, "hdr:body!", 9);
    /* after shutdown: refused like write */
    ck_assert_int_eq(p2p_stream_shutdown(a), 0);
    ck_assert_int_eq(p2p_stream_writev(a, iov, 4), P2P_ECLOSED);
    p2p_stream_close(a);
    p2p_stream_close(b);
    p2p_host_free(h);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stream");
    TCase *tc = tcase_create("pipe");
    tcase_add_test(tc, pipe_basic);
    tcase_add_test(tc, reset_and_close_in_callback);
    tcase_add_test(tc, unread_order);
    tcase_add_test(tc, backpressure);
    tcase_add_test(tc, charged_bytes);
    tcase_add_test(tc, addrs_shared);
    tcase_add_test(tc, zero_copy_ext);
    tcase_add_test(tc, gather_writes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
