/* Two and three hosts in one process over loopback TCP with the real
 * transport-tcp, noise and yamux plugins: connect, authenticate, many
 * concurrent streams with bulk data and back-pressure, protocol
 * negotiation failures, wrong PeerIds, connection limits, events, and
 * simultaneous dials. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ihost.h"
#include "testutil.h"

#include "echo.h"

struct echo_batch {
    int done, failed;
};

static void on_echo_done(struct echo_client *c)
{
    struct echo_batch *b = c->user;
    b->done++;
    if (!c->ok) b->failed++;
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

struct open_result {
    bool done;
    int status;
    char protocol[64];
    p2p_stream *stream;
};

static void on_open_keep(int status, p2p_stream *s, void *arg)
{
    struct open_result *o = arg;
    o->done = true;
    o->status = status;
    o->stream = s;
}

static void on_open_result(int status, p2p_stream *s, void *arg)
{
    struct open_result *o = arg;
    o->done = true;
    o->status = status;
    if (s) {
        snprintf(o->protocol, sizeof o->protocol, "%s", p2p_stream_protocol(s));
        p2p_stream_close(s);
    }
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
    ck_assert_int_eq(echo_serve(b), 0);
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
    /* b's key, made from its PeerId on request and kept */
    const p2p_pubkey *kb = p2p_conn_peer_key(r.c);
    ck_assert_ptr_nonnull(kb);
    ck_assert(p2p_peerid_matches(p2p_host_peerid(b), kb));
    ck_assert_ptr_eq(p2p_conn_peer_key(r.c), kb);
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
    struct echo_client cl[N];
    struct echo_batch batch = { 0 };
    for (int i = 0; i < N; i++) {
        memset(&cl[i], 0, sizeof cl[i]);
        cl[i].total = SIZE;
        cl[i].seed = (uint32_t)i;
        cl[i].done = on_echo_done;
        cl[i].user = &batch;
        ck_assert_int_eq(echo_start(r.c, &cl[i]), 0);
    }
    struct count_cond cd = { &batch.done, N };
    ck_assert_msg(ihost_run_cond(&loop, count_reached, &cd, 60000), "only %d of %d streams done", batch.done, N);
    for (int i = 0; i < N; i++)
        ck_assert_msg(cl[i].ok, "stream %d failed: %s (recvd %zu)", i, p2p_strerror(cl[i].status), cl[i].recvd);

    /* Unsupported protocol: negotiation fails cleanly. */
    struct open_result nope_r = { 0 };
    static const char *const nope[] = { "/test/nope/1.0.0", NULL };
    ck_assert_int_eq(p2p_conn_open_stream(r.c, nope, on_open_result, &nope_r), 0);
    ck_assert(ihost_run_until(&loop, &nope_r.done, 5000));
    ck_assert_int_eq(nope_r.status, P2P_ENEGOTIATE);

    /* Several proposals: the first one the remote supports is chosen. */
    struct open_result two = { 0 };
    static const char *const protos[] = { "/test/nope/1.0.0", ECHO_PROTOCOL, NULL };
    ck_assert_int_eq(p2p_conn_open_stream(r.c, protos, on_open_result, &two), 0);
    ck_assert(ihost_run_until(&loop, &two.done, 5000));
    ck_assert_int_eq(two.status, 0);
    ck_assert_str_eq(two.protocol, ECHO_PROTOCOL);

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

/* The dialer proposes its only muxer lazily (upgrade.c): its connection
 * is up before the listener answers. A listener without that muxer says
 * "na", which must end the dialer's connection with P2P_ENEGOTIATE (the
 * answer consumed by the stream, not handed to Yamux as frames). */
struct gone {
    bool seen;
    int reason;
};

static void on_gone(const struct p2p_event *ev, void *arg)
{
    struct gone *g = arg;
    g->seen = true;
    g->reason = ev->reason;
}

START_TEST(lazy_muxer_refused)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *a = ihost_new(&loop, NULL, NULL);
    char text[512], err[1024];
    snprintf(text, sizeof text, "[host]\nephemeral_identity = true\nlisten = /ip4/127.0.0.1/tcp/0\nlog = %s\n"
             "[plugin transport-tcp]\n[plugin noise]\n", getenv("P2P_LOG") ? getenv("P2P_LOG") : "warn");
    p2p_conf *cf = p2p_conf_load_string(text, "nomux.ini", err, sizeof err);
    ck_assert_msg(cf != NULL, "config: %s", err);
    struct p2p_host_opts o = { .loop = &loop };
    p2p_host *b = NULL;
    ck_assert_msg(p2p_host_new(&b, cf, &o, err, sizeof err) == 0, "host: %s", err);
    ihost_start(a);
    ihost_start(b);
    struct gone g = { 0 };
    p2p_subscription *sub = p2p_host_subscribe(a, P2P_EV_DISCONNECTED, on_gone, &g);
    p2p_multiaddr baddr = ihost_addr(b);
    struct conn_result r = { 0 };
    ck_assert_int_eq(p2p_host_connect(a, p2p_host_peerid(b), &baddr, 1, on_connected, &r), 0);
    ck_assert(ihost_run_until(&loop, &r.done, 10000));
    if (r.status == 0) {
        ck_assert(ihost_run_until(&loop, &g.seen, 5000));
        ck_assert_msg(g.reason == P2P_ENEGOTIATE, "closed with %s", p2p_strerror(g.reason));
    } else {
        ck_assert_int_eq(r.status, P2P_ENEGOTIATE);
    }
    ck_assert_uint_eq(p2p_host_conns(a, NULL, 0), 0);
    ck_assert_uint_eq(p2p_host_conns(b, NULL, 0), 0);
    p2p_host_unsubscribe(a, sub);
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

/* Connections without streams close after idle_timeout; ping streams do
 * not count as activity, an open protocol stream does. */
START_TEST(idle_close)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *ping = "[plugin identify]\n[plugin ping]\ninterval = 200ms\n";
    p2p_host *a = ihost_new(&loop, "idle_timeout = 1s\n", ping), *b = ihost_new(&loop, NULL, ping);
    ck_assert_int_eq(echo_serve(b), 0);
    struct evlog ea = { 0 };
    p2p_host_subscribe(a, P2P_EV_ALL, on_event, &ea);
    ihost_start(a);
    ihost_start(b);
    p2p_multiaddr baddr = ihost_addr(b);
    struct conn_result r = { 0 };
    ck_assert_int_eq(p2p_host_connect(a, p2p_host_peerid(b), &baddr, 1, on_connected, &r), 0);
    ck_assert(ihost_run_until(&loop, &r.done, 10000));
    ck_assert_int_eq(r.status, 0);
    /* A stream held open keeps the connection. */
    struct open_result held = { 0 };
    static const char *const protos[] = { ECHO_PROTOCOL, NULL };
    ck_assert_int_eq(p2p_conn_open_stream(r.c, protos, on_open_keep, &held), 0);
    ck_assert(ihost_run_until(&loop, &held.done, 5000));
    ihost_run_for(&loop, 2500);
    ck_assert_int_eq(ea.disconnected, 0);
    /* Released: pings go on, yet the connection is closed as idle. */
    p2p_stream_close(held.stream);
    struct count_cond d = { &ea.disconnected, 1 };
    ck_assert(ihost_run_cond(&loop, count_reached, &d, 6000));
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
    tcase_add_test(tc, lazy_muxer_refused);
    tcase_add_test(tc, connection_limit);
    tcase_add_test(tc, simultaneous_dials);
    tcase_add_test(tc, idle_close);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
