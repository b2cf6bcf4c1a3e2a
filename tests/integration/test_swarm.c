/* Two and three hosts in one process over loopback TCP with the real
 * transport-tcp, noise and yamux plugins: connect, authenticate, many
 * concurrent streams with bulk data and back-pressure, protocol
 * negotiation failures, wrong PeerIds, connection limits, events, and
 * simultaneous dials. */
#include <stdlib.h>
#include <string.h>

#include "ihost.h"
#include "testutil.h"

#define ECHO_PROTO "/test/echo/1.0.0"

/* ---- echo server: read until EOF, write everything back, close -------- */

struct echo_srv {
    p2p_stream *s;
    bool eof;
};

static void es_flush_or_finish(struct echo_srv *e)
{
    if (e->eof && p2p_stream_write_queued(e->s) == 0) {
        p2p_stream_shutdown(e->s);
        p2p_stream_close(e->s);
        free(e);
    }
}

static void es_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    ck_assert_int_eq(p2p_stream_write(s, d, n), 0);
    /* Back-pressure: stop reading while our writes are queued. */
    if (p2p_stream_write_queued(s) > P2P_STREAM_HIGH_WATER) p2p_stream_read_stop(s);
    (void)arg;
}

static void es_eof(p2p_stream *s, void *arg)
{
    (void)s;
    struct echo_srv *e = arg;
    e->eof = true;
    es_flush_or_finish(e);
}

static void es_error(p2p_stream *s, int err, void *arg)
{
    (void)err;
    p2p_stream_close(s);
    free(arg);
}

static void es_drain(p2p_stream *s, void *arg)
{
    struct echo_srv *e = arg;
    if (e->eof) es_flush_or_finish(e);
    else p2p_stream_read_start(s);
}

static const struct p2p_stream_handlers echo_handlers = { es_read, es_eof, es_error, es_drain };

static void on_echo(p2p_stream *s, const char *proto, void *arg)
{
    (void)proto; (void)arg;
    struct echo_srv *e = calloc(1, sizeof *e);
    e->s = s;
    p2p_stream_set_handlers(s, &echo_handlers, e);
    p2p_stream_read_start(s);
}

/* ---- echo client: write `total` bytes, half-close, read them back ------- */

struct echo_cli {
    p2p_stream *s;
    uint8_t *data;
    size_t total, sent, recvd;
    bool done, failed;
    int status;
    int *ndone;
};

static void ec_pump(struct echo_cli *c)
{
    while (c->sent < c->total && p2p_stream_write_queued(c->s) < P2P_STREAM_HIGH_WATER) {
        size_t n = c->total - c->sent > 32768 ? 32768 : c->total - c->sent;
        ck_assert_int_eq(p2p_stream_write(c->s, c->data + c->sent, n), 0);
        c->sent += n;
    }
    if (c->sent == c->total) ck_assert_int_eq(p2p_stream_shutdown(c->s), 0);
}

static void ec_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s;
    struct echo_cli *c = arg;
    ck_assert_uint_le(c->recvd + n, c->total);
    ck_assert_int_eq(memcmp(c->data + c->recvd, d, n), 0);
    c->recvd += n;
}

static void ec_finish(struct echo_cli *c, bool ok)
{
    c->done = true;
    c->failed = !ok;
    (*c->ndone)++;
    p2p_stream_close(c->s);
    c->s = NULL;
}

static void ec_eof(p2p_stream *s, void *arg)
{
    (void)s;
    struct echo_cli *c = arg;
    ec_finish(c, c->recvd == c->total);
}

static void ec_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    struct echo_cli *c = arg;
    c->status = err;
    ec_finish(c, false);
}

static void ec_drain(p2p_stream *s, void *arg)
{
    (void)s;
    struct echo_cli *c = arg;
    if (c->sent < c->total) ec_pump(c);
}

static const struct p2p_stream_handlers ec_handlers = { ec_read, ec_eof, ec_error, ec_drain };

static void ec_opened(int status, p2p_stream *s, void *arg)
{
    struct echo_cli *c = arg;
    c->status = status;
    if (status) {
        c->done = true;
        c->failed = true;
        (*c->ndone)++;
        return;
    }
    ck_assert_str_eq(p2p_stream_protocol(s), ECHO_PROTO);
    c->s = s;
    p2p_stream_set_handlers(s, &ec_handlers, c);
    p2p_stream_read_start(s);
    ec_pump(c);
}

/* ---- events ------------------------------------------------------------- */

struct evlog {
    int connected, disconnected;
    p2p_conn *last;
};

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct evlog *l = arg;
    if (ev->type == P2P_EV_CONNECTED) {
        l->connected++;
        l->last = ev->conn;
    }
    if (ev->type == P2P_EV_DISCONNECTED) l->disconnected++;
}

struct conn_result {
    bool done;
    int status;
    p2p_conn *c;
};

static void on_connected(int status, p2p_conn *c, void *arg)
{
    struct conn_result *r = arg;
    r->done = true;
    r->status = status;
    r->c = c;
}

struct count_cond { int *n; int want; };
static bool count_reached(void *arg)
{
    struct count_cond *c = arg;
    return *c->n >= c->want;
}

START_TEST(connect_and_streams)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *a = ihost_new(&loop, NULL, NULL), *b = ihost_new(&loop, NULL, NULL);
    ck_assert_int_eq(p2p_protocol_add(b, ECHO_PROTO, on_echo, NULL), 0);
    struct evlog ea = { 0 }, eb = { 0 };
    p2p_host_subscribe(a, P2P_EV_ALL, on_event, &ea);
    p2p_host_subscribe(b, P2P_EV_ALL, on_event, &eb);
    ihost_start(a);
    ihost_start(b);

    p2p_multiaddr baddr = ihost_addr(b);
    struct conn_result r = { 0 };
    ck_assert_int_eq(p2p_host_connect(a, p2p_host_peerid(b), &baddr, 1, on_connected, &r), 0);
    ck_assert(!r.done);   /* never called back from inside the call */
    ck_assert(ihost_run_until(&loop, &r.done, 10000));
    ck_assert_msg(r.status == 0, "connect: %s", p2p_strerror(r.status));
    ck_assert(p2p_peerid_equal(p2p_conn_peer(r.c), p2p_host_peerid(b)));
    ck_assert_int_eq(p2p_conn_direction(r.c), P2P_OUTBOUND);
    ck_assert_str_eq(p2p_conn_security(r.c), "/noise");
    ck_assert_str_eq(p2p_conn_muxer(r.c), "/yamux/1.0.0");
    ck_assert(!p2p_conn_limited(r.c));
    ck_assert_int_eq(ea.connected, 1);
    struct count_cond cb_conn = { &eb.connected, 1 };
    ck_assert(ihost_run_cond(&loop, count_reached, &cb_conn, 5000));
    ck_assert(p2p_peerid_equal(p2p_conn_peer(eb.last), p2p_host_peerid(a)));
    ck_assert_int_eq(p2p_conn_direction(eb.last), P2P_INBOUND);

    /* 16 concurrent echo streams of 1 MiB each. */
    enum { N = 16, SIZE = 1 << 20 };
    struct echo_cli cl[N];
    int ndone = 0;
    static const char *const protos[] = { "/test/nope/1.0.0", ECHO_PROTO, NULL };
    for (int i = 0; i < N; i++) {
        memset(&cl[i], 0, sizeof cl[i]);
        cl[i].total = SIZE;
        cl[i].data = malloc(SIZE);
        for (size_t k = 0; k < SIZE; k++) cl[i].data[k] = (uint8_t)(k * 31 + i * 7 + (k >> 9));
        cl[i].ndone = &ndone;
        ck_assert_int_eq(p2p_conn_open_stream(r.c, protos, ec_opened, &cl[i]), 0);
    }
    struct count_cond cd = { &ndone, N };
    ck_assert_msg(ihost_run_cond(&loop, count_reached, &cd, 60000), "only %d of %d streams done", ndone, N);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(!cl[i].failed, "stream %d failed: %s (recvd %zu)", i, p2p_strerror(cl[i].status), cl[i].recvd);
        free(cl[i].data);
    }

    /* Unsupported protocol. */
    struct echo_cli bad = { .total = 1, .ndone = &ndone };
    static const char *const nope[] = { "/test/nope/1.0.0", NULL };
    ck_assert_int_eq(p2p_conn_open_stream(r.c, nope, ec_opened, &bad), 0);
    ck_assert(ihost_run_until(&loop, &bad.done, 5000));
    ck_assert_int_eq(bad.status, P2P_ENEGOTIATE);

    /* A second connect reuses the connection. */
    struct conn_result r2 = { 0 };
    ck_assert_int_eq(p2p_host_connect(a, p2p_host_peerid(b), NULL, 0, on_connected, &r2), 0);
    ck_assert(ihost_run_until(&loop, &r2.done, 5000));
    ck_assert_ptr_eq(r2.c, r.c);
    ck_assert_int_eq(ea.connected, 1);

    /* Graceful close: both sides see DISCONNECTED. */
    p2p_conn_close(r.c);
    struct count_cond da = { &ea.disconnected, 1 }, db = { &eb.disconnected, 1 };
    ck_assert(ihost_run_cond(&loop, count_reached, &da, 5000));
    ck_assert(ihost_run_cond(&loop, count_reached, &db, 5000));
    ck_assert_uint_eq(p2p_host_conns(a, NULL, 0), 0);

    p2p_host_free(a);
    p2p_host_free(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(wrong_peer_id)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *a = ihost_new(&loop, NULL, NULL), *b = ihost_new(&loop, NULL, NULL);
    ihost_start(a);
    ihost_start(b);
    p2p_keypair other;
    p2p_keypair_from_seed_byte(&other, 42);
    p2p_pubkey pub;
    p2p_keypair_public(&other, &pub);
    p2p_peerid wrong;
    p2p_peerid_from_pubkey(&wrong, &pub);
    p2p_multiaddr baddr = ihost_addr(b);
    struct conn_result r = { 0 };
    ck_assert_int_eq(p2p_host_connect(a, &wrong, &baddr, 1, on_connected, &r), 0);
    ck_assert(ihost_run_until(&loop, &r.done, 10000));
    ck_assert_int_eq(r.status, P2P_EPEERID);
    ck_assert_uint_eq(p2p_host_conns(a, NULL, 0), 0);
    ihost_run_for(&loop, 100);
    ck_assert_uint_eq(p2p_host_conns(b, NULL, 0), 0);

    /* Nothing listening: a clear failure, quickly. */
    p2p_multiaddr dead;
    ck_assert_int_eq(p2p_maddr_parse(&dead, "/ip4/127.0.0.1/tcp/1", NULL, 0), 0);
    struct conn_result r2 = { 0 };
    ck_assert_int_eq(p2p_host_connect(a, p2p_host_peerid(b), &dead, 1, on_connected, &r2), 0);
    ck_assert(ihost_run_until(&loop, &r2.done, 10000));
    ck_assert_int_ne(r2.status, 0);
    /* The peer store also had b's real address: the dial went on to it. */

    p2p_host_free(a);
    p2p_host_free(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(connection_limit)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *a = ihost_new(&loop, NULL, NULL), *c = ihost_new(&loop, NULL, NULL);
    p2p_host *b = ihost_new(&loop, "max_connections = 1\n", NULL);
    ihost_start(a);
    ihost_start(b);
    ihost_start(c);
    p2p_multiaddr baddr = ihost_addr(b);
    struct conn_result r1 = { 0 }, r2 = { 0 };
    ck_assert_int_eq(p2p_host_connect(a, p2p_host_peerid(b), &baddr, 1, on_connected, &r1), 0);
    ck_assert(ihost_run_until(&loop, &r1.done, 10000));
    ck_assert_int_eq(r1.status, 0);
    ck_assert_int_eq(p2p_host_connect(c, p2p_host_peerid(b), &baddr, 1, on_connected, &r2), 0);
    ck_assert(ihost_run_until(&loop, &r2.done, 10000));
    /* c may complete its side of the handshake; b refuses and closes. */
    ihost_run_for(&loop, 300);
    ck_assert_uint_eq(p2p_host_conns(b, NULL, 0), 1);
    ck_assert_uint_eq(p2p_host_conns(c, NULL, 0), 0);
    p2p_host_free(a);
    p2p_host_free(b);
    p2p_host_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(simultaneous_dials)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *a = ihost_new(&loop, NULL, NULL), *b = ihost_new(&loop, NULL, NULL);
    ihost_start(a);
    ihost_start(b);
    p2p_multiaddr aaddr = ihost_addr(a), baddr = ihost_addr(b);
    struct conn_result ra = { 0 }, rb = { 0 };
    ck_assert_int_eq(p2p_host_connect(a, p2p_host_peerid(b), &baddr, 1, on_connected, &ra), 0);
    ck_assert_int_eq(p2p_host_connect(b, p2p_host_peerid(a), &aaddr, 1, on_connected, &rb), 0);
    ck_assert(ihost_run_until(&loop, &ra.done, 10000));
    ck_assert(ihost_run_until(&loop, &rb.done, 10000));
    ck_assert_int_eq(ra.status, 0);
    ck_assert_int_eq(rb.status, 0);
    ihost_run_for(&loop, 500);
    /* Both ends agree on one connection. */
    ck_assert_uint_eq(p2p_host_conns(a, NULL, 0), 1);
    ck_assert_uint_eq(p2p_host_conns(b, NULL, 0), 1);
    p2p_conn *ca, *cb;
    p2p_host_conns(a, &ca, 1);
    p2p_host_conns(b, &cb, 1);
    ck_assert_int_ne(p2p_conn_direction(ca), p2p_conn_direction(cb));
    p2p_host_free(a);
    p2p_host_free(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("swarm");
    TCase *tc = tcase_create("swarm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, connect_and_streams);
    tcase_add_test(tc, wrong_peer_id);
    tcase_add_test(tc, connection_limit);
    tcase_add_test(tc, simultaneous_dials);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
