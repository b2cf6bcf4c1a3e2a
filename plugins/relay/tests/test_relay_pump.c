/* test_relay_pump.c - unit.relay_pump: the circuit byte pump (relay_pump.c)
 * between in-memory pipes: back-pressure keeps the relay's queue bounded
 * with a slow reader, data arrives intact, half-closes pass through, the
 * per-direction byte limit and errors end the pump. */
#include <stdlib.h>
#include <string.h>

#include "relay.h"
#include "testutil.h"

#define WRITER_LIMIT (128u * 1024)
#define WATERMARK (64u * 1024)

static uint8_t byte_at(size_t i)
{
    return (uint8_t)(i * 131u + (i >> 9));
}

struct writer {
    p2p_stream *s;
    size_t total, sent;
    bool reset_at_end;
};

static void w_pump(struct writer *w)
{
    uint8_t buf[16384];
    while (w->sent < w->total && p2p_stream_write_queued(w->s) < WRITER_LIMIT) {
        size_t n = w->total - w->sent < sizeof buf ? w->total - w->sent : sizeof buf;
        for (size_t i = 0; i < n; i++) buf[i] = byte_at(w->sent + i);
        if (p2p_stream_write(w->s, buf, n) < 0) return;
        w->sent += n;
    }
    if (w->sent == w->total) {
        if (w->reset_at_end) p2p_stream_reset(w->s);
        else p2p_stream_shutdown(w->s);
    }
}

static void w_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg) { (void)s; (void)d; (void)n; (void)arg; }
static void w_eof(p2p_stream *s, void *arg) { (void)s; (void)arg; }
static void w_error(p2p_stream *s, int err, void *arg) { (void)s; (void)err; (void)arg; }
static void w_drain(p2p_stream *s, void *arg) { (void)s; w_pump(arg); }
static const struct p2p_stream_handlers w_handlers = { w_read, w_eof, w_error, w_drain };

struct sink {
    p2p_stream *s;
    p2p_timer *t;
    size_t got;
    bool eof, bad;
    int err;
};

static void k_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    struct sink *k = arg;
    for (size_t i = 0; i < n; i++)
        if (d[i] != byte_at(k->got + i)) k->bad = true;
    k->got += n;
    /* A slow reader: one delivery per millisecond. */
    p2p_stream_read_stop(s);
    p2p_timer_start(k->t, 1, 0);
}

static void k_eof(p2p_stream *s, void *arg)
{
    struct sink *k = arg;
    k->eof = true;
    p2p_stream_shutdown(s);
}

static void k_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    ((struct sink *)arg)->err = err;
}

static const struct p2p_stream_handlers k_handlers = { k_read, k_eof, k_error, NULL };

static void k_tick(p2p_timer *t, void *arg)
{
    (void)t;
    struct sink *k = arg;
    if (!k->eof && !k->err) p2p_stream_read_start(k->s);
}

struct ended {
    bool done;
    int reason;
};

/* The pump and its result. */
struct pump_box {
    struct relay_pump pump;
    struct ended end;
};

static void on_end(struct relay_pump *p, int reason)
{
    struct pump_box *b = RLIST_OF(p, struct pump_box, pump);
    b->end.done = true;
    b->end.reason = reason;
}

static p2p_host *host_new(uv_loop_t *loop)
{
    char err[256];
    p2p_conf *cf = p2p_conf_load_string("[host]\nephemeral_identity = true\nlog = warn\n", "t.ini", err, sizeof err);
    ck_assert(cf);
    struct p2p_host_opts o = { .loop = loop };
    p2p_host *h;
    ck_assert_int_eq(p2p_host_new(&h, cf, &o, err, sizeof err), 0);
    return h;
}

struct world {
    uv_loop_t loop;
    p2p_host *h;
    p2p_stream *a1, *a2, *b1, *b2;
    struct writer w;
    struct sink k;
    struct pump_box box;
    size_t peak;
};

static void world_start(struct world *x, size_t total, uint64_t max_bytes)
{
    uv_loop_init(&x->loop);
    x->h = host_new(&x->loop);
    ck_assert_int_eq(p2p_stream_pipe(x->h, 0, &x->a1, &x->a2), 0);
    ck_assert_int_eq(p2p_stream_pipe(x->h, 0, &x->b1, &x->b2), 0);
    x->w = (struct writer){ .s = x->a1, .total = total };
    p2p_stream_set_handlers(x->a1, &w_handlers, &x->w);
    p2p_stream_read_start(x->a1);
    x->k.s = x->b2;
    x->k.t = p2p_timer_new(x->h, k_tick, &x->k);
    p2p_stream_set_handlers(x->b2, &k_handlers, &x->k);
    p2p_stream_read_start(x->b2);
    relay_pump_start(&x->box.pump, x->a2, x->b1, max_bytes, WATERMARK, &x->peak, on_end);
}

static void world_run(struct world *x, uint64_t ms)
{
    w_pump(&x->w);
    uint64_t until = uv_now(&x->loop) + ms;
    while (!x->box.end.done && uv_now(&x->loop) < until) uv_run(&x->loop, UV_RUN_ONCE);
    /* Let the last deliveries reach the ends. */
    for (int i = 0; i < 50; i++) uv_run(&x->loop, UV_RUN_NOWAIT);
}

static void world_free(struct world *x)
{
    p2p_timer_free(x->k.t);
    p2p_stream_close(x->a1);
    p2p_stream_close(x->b2);
    p2p_host_free(x->h);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    uv_loop_close(&x->loop);
}

START_TEST(back_pressure_bounded)
{
    static struct world x;
    memset(&x, 0, sizeof x);
    size_t total = 4u << 20;
    world_start(&x, total, 0);
    world_run(&x, 60000);
    ck_assert(x.box.end.done);
    ck_assert_int_eq(x.box.end.reason, 0);
    ck_assert_uint_eq(x.k.got, total);
    ck_assert(!x.k.bad && x.k.eof);
    ck_assert_uint_eq(x.box.pump.side[0].fwd, total);
    /* The relay never held more than the watermark plus one delivery. */
    ck_assert_uint_gt(x.peak, 0);
    ck_assert_msg(x.peak <= WATERMARK + WRITER_LIMIT + 16384, "peak queue %zu", x.peak);
    world_free(&x);
}
END_TEST

START_TEST(byte_limit)
{
    static struct world x;
    memset(&x, 0, sizeof x);
    world_start(&x, 1u << 20, 100000);
    world_run(&x, 30000);
    ck_assert(x.box.end.done);
    ck_assert_int_eq(x.box.end.reason, P2P_ELIMIT);
    ck_assert_uint_eq(x.box.pump.side[0].fwd, 100000);
    ck_assert_uint_eq(x.k.got, 100000);   /* exactly the limit, then a reset */
    ck_assert(!x.k.bad);
    ck_assert_int_eq(x.k.err, P2P_ERESET);
    world_free(&x);
}
END_TEST

START_TEST(error_propagates)
{
    static struct world x;
    memset(&x, 0, sizeof x);
    world_start(&x, 50000, 0);
    x.w.reset_at_end = true;
    world_run(&x, 30000);
    ck_assert(x.box.end.done);
    ck_assert_int_eq(x.box.end.reason, P2P_ERESET);
    ck_assert_int_eq(x.k.err, P2P_ERESET);
    ck_assert(!x.k.eof);
    world_free(&x);
}
END_TEST

START_TEST(abort_resets_both)
{
    static struct world x;
    memset(&x, 0, sizeof x);
    world_start(&x, 0, 0);
    relay_pump_abort(&x.box.pump, P2P_ETIMEDOUT);
    ck_assert(x.box.end.done);
    ck_assert_int_eq(x.box.end.reason, P2P_ETIMEDOUT);
    for (int i = 0; i < 50; i++) uv_run(&x.loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(x.k.err, P2P_ERESET);
    world_free(&x);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("relay_pump");
    TCase *tc = tcase_create("pump");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, back_pressure_bounded);
    tcase_add_test(tc, byte_limit);
    tcase_add_test(tc, error_propagates);
    tcase_add_test(tc, abort_resets_both);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
