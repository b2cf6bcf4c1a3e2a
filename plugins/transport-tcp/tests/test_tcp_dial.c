/* test_tcp_dial.c - dialing: refused, timeouts, DNS, reuse_port across two
 * hosts sharing one loop, cancel, stop/fini with work in flight, accept
 * errors (EMFILE). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp_harness.h"

/* A loopback port with nothing listening (bound once, then released). */
static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A listener whose accept queue is full: further SYNs are dropped, so a
 * connect to it hangs like one to a black hole. Returns its port; the
 * sockets are left in fds[0..n) for the caller to close. */
static uint16_t full_listener(int *fds, int n)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(l, 0), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
    fds[0] = l;
    for (int i = 1; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)connect(fds[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(100 * 1000);   /* let the handshakes that can complete complete */
    return ntohs(a.sin_port);
}

static int dial_and_wait(p2p_host *h, const char *text, const struct p2p_dial_opts *opts,
                         struct th_dial *d, uint64_t max_ms, uint64_t *elapsed)
{
    void *st, *op = NULL;
    const struct p2p_transport_ops *t = th_tcp(h, &st);
    p2p_multiaddr ma = th_ma(text);
    uint64_t t0 = th_now_ms();
    memset(d, 0, sizeof *d);
    ck_assert_int_eq(t->dial(st, &ma, opts, th_dial_cb, d, &op), 0);
    ck_assert_int_eq(d->calls, 0);
    ck_assert_msg(TH_WAIT(p2p_host_loop(h), d->calls, max_ms), "dial %s did not finish in %llu ms", text,
                  (unsigned long long)max_ms);
    if (elapsed) *elapsed = th_now_ms() - t0;
    for (int i = 0; i < 3; i++) th_step(p2p_host_loop(h));
    ck_assert_int_eq(d->calls, 1);
    return d->status;
}

START_TEST(refused_is_quick)
{
    p2p_host *h = th_host(NULL, NULL);
    char text[64];
    snprintf(text, sizeof text, "/ip4/127.0.0.1/tcp/%u", free_port());
    struct th_dial d;
    uint64_t ms;
    ck_assert_int_eq(dial_and_wait(h, text, NULL, &d, 3000, &ms), P2P_EREFUSED);
    ck_assert_uint_lt(ms, 1000);
    p2p_host_free(h);
}
END_TEST

START_TEST(connect_timeout)
{
    /* The configured default, and the per-dial override. */
    p2p_host *h = th_host(NULL, "connect_timeout = 300ms\n");
    int fds[4];
    char text[64];
    snprintf(text, sizeof text, "/ip4/127.0.0.1/tcp/%u", full_listener(fds, 4));
    struct th_dial d;
    uint64_t ms;
    ck_assert_int_eq(dial_and_wait(h, text, NULL, &d, 3000, &ms), P2P_ETIMEDOUT);
    ck_assert_uint_ge(ms, 250);
    ck_assert_uint_lt(ms, 1500);
    struct p2p_dial_opts o = { .timeout_ms = 700 };
    ck_assert_int_eq(dial_and_wait(h, text, &o, &d, 3000, &ms), P2P_ETIMEDOUT);
    ck_assert_uint_ge(ms, 650);
    ck_assert_uint_lt(ms, 2000);
    /* A benchmarking address (198.18.0.0/15), normally unroutable; some
     * sandboxes answer for any address. Whatever happens, it is bounded. */
    o.timeout_ms = 500;
    if (dial_and_wait(h, "/ip4/198.18.0.1/tcp/4001", &o, &d, 3000, &ms) == 0) p2p_stream_close(d.raw);
    ck_assert_uint_lt(ms, 1500);
    for (int i = 0; i < 4; i++) close(fds[i]);
    p2p_host_free(h);
}
END_TEST

START_TEST(dns_dialing)
{
    p2p_host *h = th_host(NULL, NULL);
    struct th_accept acc = { 0 };
    p2p_multiaddr addr;
    th_listen(h, "/ip4/127.0.0.1/tcp/0", &acc, &addr);
    uint16_t port = th_port(&addr);
    char text[128];
    p2p_stream *c, *s;
    static const char *const names[] = { "dns4", "dns" };
    for (size_t i = 0; i < 2; i++) {
        snprintf(text, sizeof text, "/%s/localhost/tcp/%u", names[i], port);
        p2p_multiaddr ma = th_ma(text);
        th_connect(h, &ma, NULL, &acc, &c, &s);
        /* The stream names the address actually used, not the name. */
        ck_assert_str_eq(th_str(p2p_stream_remote_addr(c)), th_str(&addr));
        p2p_stream_close(c);
        p2p_stream_close(s);
    }
    /* dns6 never falls back to IPv4: the listener is IPv4-only. */
    struct th_dial d;
    snprintf(text, sizeof text, "/dns6/localhost/tcp/%u", port);
    ck_assert_int_ne(dial_and_wait(h, text, NULL, &d, 12000, NULL), 0);
    /* A name that does not exist. */
    struct p2p_dial_opts o = { .timeout_ms = 5000 };
    int rc = dial_and_wait(h, "/dns4/no-such-host.invalid/tcp/1", &o, &d, 8000, NULL);
    ck_assert_msg(rc == P2P_ENOTFOUND || rc == P2P_ETIMEDOUT, "%s", p2p_strerror(rc));
    p2p_host_free(h);
}
END_TEST

/* Two hosts (two instances of the plugin) on one loop. A dials B with
 * reuse_port: B sees A's listening port as the source port. */
START_TEST(reuse_port_dial)
{
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    p2p_host *a = th_host(&loop, NULL), *b = th_host(&loop, NULL);
    void *sta, *stb;
    th_tcp(a, &sta);
    th_tcp(b, &stb);
    ck_assert_ptr_ne(sta, stb);
    struct th_accept acca = { 0 }, accb = { 0 };
    p2p_multiaddr la, lb;
    th_listen(a, "/ip4/127.0.0.1/tcp/0", &acca, &la);
    th_listen(b, "/ip4/127.0.0.1/tcp/0", &accb, &lb);
    p2p_stream *c, *s;
    struct p2p_dial_opts reuse = { .reuse_port = true };
    th_connect(a, &lb, &reuse, &accb, &c, &s);
    ck_assert_uint_eq(th_port(p2p_stream_remote_addr(s)), th_port(&la));
    ck_assert_str_eq(th_str(p2p_stream_local_addr(c)), th_str(&la));
    /* Data flows, and A's listener still accepts on the shared port. */
    struct th_sink ks = { 0 };
    th_sink_attach(&ks, s, 16);
    ck_assert_int_eq(p2p_stream_write(c, (const uint8_t *)"hi", 2), 0);
    ck_assert(TH_WAIT(&loop, ks.len == 2, 3000));
    p2p_stream *c2, *s2;
    th_connect(b, &la, NULL, &acca, &c2, &s2);
    ck_assert_uint_ne(th_port(p2p_stream_local_addr(c2)), th_port(&lb));   /* no reuse asked */
    p2p_stream_close(c2);
    p2p_stream_close(s2);
    /* A loopback listener cannot dial out: to an interface address the
     * dial goes from an ephemeral port instead of failing. */
    p2p_multiaddr bw[16];
    void *stb_l;
    const struct p2p_transport_ops *tb = th_tcp(b, &stb_l);
    void *lbw = th_listen(b, "/ip4/0.0.0.0/tcp/0", &accb, NULL);
    size_t nbw = tb->listen_addrs(stb_l, lbw, bw, 16);
    for (size_t i = 0; i < nbw && i < 16; i++) {
        if (!strncmp(th_str(&bw[i]), "/ip4/127.", 9)) continue;
        th_connect(a, &bw[i], &reuse, &accb, &c2, &s2);
        ck_assert_uint_ne(th_port(p2p_stream_remote_addr(s2)), th_port(&la));
        p2p_stream_close(c2);
        p2p_stream_close(s2);
        break;
    }
    /* A wildcard listener is preferred: it works for any destination. */
    p2p_multiaddr lw;
    th_listen(a, "/ip4/0.0.0.0/tcp/0", &acca, &lw);
    th_connect(a, &lb, &reuse, &accb, &c2, &s2);
    ck_assert_uint_eq(th_port(p2p_stream_remote_addr(s2)), th_port(&lw));
    p2p_stream_close(c2);
    p2p_stream_close(s2);
    /* No IPv6 listener: an IPv6 dial with reuse_port still works. */
    if (th_have_ipv6()) {
        p2p_multiaddr l6;
        th_listen(b, "/ip6/::1/tcp/0", &accb, &l6);
        th_connect(a, &l6, &reuse, &accb, &c2, &s2);
        p2p_stream_close(c2);
        p2p_stream_close(s2);
    }
    p2p_stream_close(c);
    th_sink_done(&ks);
    th_log_reset();
    p2p_host_free(a);
    p2p_host_free(b);
    for (int i = 0; i < 100 && uv_loop_alive(&loop); i++) uv_run(&loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);   /* every handle closed */
    ck_assert_int_eq(th_warnings(), 0);
}
END_TEST

START_TEST(cancel_never_calls_back)
{
    p2p_host *h = th_host(NULL, NULL);
    uv_loop_t *loop = p2p_host_loop(h);
    void *st, *op1 = NULL, *op2 = NULL, *op3 = NULL;
    const struct p2p_transport_ops *t = th_tcp(h, &st);
    struct th_accept acc = { 0 };
    p2p_multiaddr addr;
    th_listen(h, "/ip4/127.0.0.1/tcp/0", &acc, &addr);
    char text[64];
    snprintf(text, sizeof text, "/dns4/localhost/tcp/%u", th_port(&addr));
    p2p_multiaddr byname = th_ma(text);
    int fds[4];
    snprintf(text, sizeof text, "/ip4/127.0.0.1/tcp/%u", full_listener(fds, 4));
    p2p_multiaddr hole = th_ma(text);
    struct th_dial d1 = { 0 }, d2 = { 0 }, d3 = { 0 };
    /* Before the first attempt, during resolution, during connect. */
    ck_assert_int_eq(t->dial(st, &addr, NULL, th_dial_cb, &d1, &op1), 0);
    ck_assert_int_eq(t->dial(st, &byname, NULL, th_dial_cb, &d2, &op2), 0);
    ck_assert_int_eq(t->dial(st, &hole, NULL, th_dial_cb, &d3, &op3), 0);
    t->dial_cancel(st, op1);
    t->dial_cancel(st, op2);
    for (int i = 0; i < 10; i++) th_step(loop);
    t->dial_cancel(st, op3);
    uint64_t t0 = th_now_ms();
    while (th_now_ms() - t0 < 300) th_step(loop);
    ck_assert_int_eq(d1.calls + d2.calls + d3.calls, 0);
    for (int i = 0; i < 4; i++) close(fds[i]);
    p2p_host_free(h);
}
END_TEST

/* stop() with listeners, connections (one with queued bytes) and dials in
 * flight: dial callbacks run once, with P2P_ECANCELED, before stop
 * returns; nothing runs after; everything is freed (ASan checks). */
START_TEST(stop_with_work_in_flight)
{
    p2p_host *h = th_host(NULL, "linger = 1s\n");
    uv_loop_t *loop = p2p_host_loop(h);
    void *st, *op = NULL;
    const struct p2p_transport_ops *t = th_tcp(h, &st);
    struct th_accept acc = { 0 };
    p2p_multiaddr addr;
    th_listen(h, "/ip4/127.0.0.1/tcp/0", &acc, &addr);
    p2p_stream *c, *s, *c2, *s2;
    th_connect(h, &addr, NULL, &acc, &c, &s);
    th_connect(h, &addr, NULL, &acc, &c2, &s2);
    /* c has bytes queued that s does not read. */
    static uint8_t big[4 << 20];
    ck_assert_int_eq(p2p_stream_write(c, big, sizeof big), 0);
    ck_assert_uint_gt(p2p_stream_write_queued(c), 0);
    int fds[4];
    char text[64];
    snprintf(text, sizeof text, "/ip4/127.0.0.1/tcp/%u", full_listener(fds, 4));
    p2p_multiaddr hole = th_ma(text);
    snprintf(text, sizeof text, "/dns4/localhost/tcp/%u", th_port(&addr));
    p2p_multiaddr byname = th_ma(text);
    struct th_dial d[4] = { { 0 } };
    ck_assert_int_eq(t->dial(st, &hole, NULL, th_dial_cb, &d[0], &op), 0);
    ck_assert_int_eq(t->dial(st, &byname, NULL, th_dial_cb, &d[1], &op), 0);
    ck_assert_int_eq(t->dial(st, &addr, NULL, th_dial_cb, &d[2], &op), 0);
    for (int i = 0; i < 3; i++) th_step(loop);
    ck_assert_int_eq(t->dial(st, &byname, NULL, th_dial_cb, &d[3], &op), 0);
    size_t done_before = 0;
    for (int i = 0; i < 4; i++) done_before += (size_t)d[i].calls;
    p2p_host_stop(h);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(d[i].calls, 1);
        if (d[i].status == 0) p2p_stream_close(d[i].raw);   /* finished before stop */
        else ck_assert_int_eq(d[i].status, P2P_ECANCELED);
    }
    ck_assert_int_eq(d[0].status, P2P_ECANCELED);
    (void)done_before;
    /* Stopped: no new dials or listeners. */
    struct th_dial late = { 0 };
    ck_assert_int_eq(t->dial(st, &addr, NULL, th_dial_cb, &late, &op), P2P_ESTATE);
    /* Owners close their streams (a swarm does in its own stop): a
     * graceful one (lingers past fini), a reset, and plain closes. */
    ck_assert_int_eq(p2p_stream_shutdown(c), 0);
    p2p_stream_close(c);
    p2p_stream_reset(c2);
    p2p_stream_close(c2);
    p2p_stream_close(s2);
    p2p_stream_close(s);
    for (size_t i = 2; i < acc.n; i++) p2p_stream_close(acc.s[i]);
    th_log_reset();
    p2p_host_free(h);   /* fini with handles still closing and lingering */
    for (int i = 0; i < 4; i++) ck_assert_int_eq(d[i].calls, 1);
    ck_assert_int_eq(late.calls, 0);
    ck_assert_msg(th_warnings() == 0, "unexpected warnings");
    for (int i = 0; i < 4; i++) close(fds[i]);
}
END_TEST

/* p2p_host_free without an explicit stop, on a shared loop, with a dial
 * in flight and a connection whose owner closes it right before. */
START_TEST(free_without_stop)
{
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    p2p_host *h = th_host(&loop, NULL);
    void *st, *op = NULL;
    const struct p2p_transport_ops *t = th_tcp(h, &st);
    struct th_accept acc = { 0 };
    p2p_multiaddr addr;
    th_listen(h, "/ip4/127.0.0.1/tcp/0", &acc, &addr);
    p2p_stream *c, *s;
    th_connect(h, &addr, NULL, &acc, &c, &s);
    int fds[4];
    char text[64];
    snprintf(text, sizeof text, "/ip4/127.0.0.1/tcp/%u", full_listener(fds, 4));
    p2p_multiaddr hole = th_ma(text);
    struct th_dial d = { 0 };
    ck_assert_int_eq(t->dial(st, &hole, NULL, th_dial_cb, &d, &op), 0);
    th_step(&loop);
    p2p_stream_close(c);
    p2p_stream_close(s);
    th_log_reset();
    p2p_host_free(h);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.status, P2P_ECANCELED);
    for (int i = 0; i < 100 && uv_loop_alive(&loop); i++) uv_run(&loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(th_warnings(), 0);
    for (int i = 0; i < 4; i++) close(fds[i]);
}
END_TEST

/* An owner that still holds streams when the host goes away: fini resets
 * the sockets and says so; the memory of a connection (and the plugin
 * state) lives until the owner's late close. That late close is a bug of
 * the owner, survived here only because the plugin stays mapped
 * (P2P_NO_DLCLOSE) and p2p_stream_close needs no host for an idle stream. */
START_TEST(streams_held_past_fini)
{
    setenv("P2P_NO_DLCLOSE", "1", 1);
    p2p_host *h = th_host(NULL, NULL);
    struct th_accept acc = { 0 };
    p2p_multiaddr addr;
    th_listen(h, "/ip4/127.0.0.1/tcp/0", &acc, &addr);
    p2p_stream *c, *s;
    th_connect(h, &addr, NULL, &acc, &c, &s);
    th_log_reset();
    p2p_host_free(h);
    ck_assert(th_warned("2 connection(s) still held by their owners"));
    ck_assert_int_eq(p2p_stream_write(c, (const uint8_t *)"x", 1), P2P_ECLOSED);
    p2p_stream_close(c);
    p2p_stream_close(s);   /* frees the plugin state (ASan: no leak) */
}
END_TEST

/* Out of descriptors: accept fails; the listener logs (rate-limited),
 * pauses instead of spinning, and accepts the connections that waited in
 * the kernel's backlog once descriptors are free again. */
START_TEST(accept_emfile)
{
    p2p_host *h = th_host(NULL, NULL);
    uv_loop_t *loop = p2p_host_loop(h);
    struct th_accept acc = { 0 };
    p2p_multiaddr addr;
    th_listen(h, "/ip4/127.0.0.1/tcp/0", &acc, &addr);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons(th_port(&addr)) };
    int clients[8];
    for (int i = 0; i < 8; i++) clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    /* The lowest free descriptor becomes the limit: nothing new opens. */
    struct rlimit old, low;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    int top = socket(AF_INET, SOCK_DGRAM, 0);
    close(top);
    low = old;
    low.rlim_cur = (rlim_t)top;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    th_log_reset();
    for (int i = 0; i < 8; i++) (void)connect(clients[i], (struct sockaddr *)&sa, sizeof sa);
    uint64_t t0 = th_now_ms();
    unsigned steps = 0;
    while (th_now_ms() - t0 < 500) {
        th_step(loop);
        steps++;
    }
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    ck_assert_uint_eq(acc.n, 0);
    ck_assert(th_warned("accept failed"));
    ck_assert_int_le(th_warnings(), 1);       /* rate-limited */
    ck_assert_uint_lt(steps, 500 / 5);        /* ~10 ms per step: not spinning */
    ck_assert(TH_WAIT(loop, acc.n == 8, 5000));
    for (int i = 0; i < 8; i++) close(clients[i]);
    for (size_t i = 0; i < acc.n; i++) p2p_stream_close(acc.s[i]);
    acc.n = 0;
    p2p_stream *c, *s;
    th_connect(h, &addr, NULL, &acc, &c, &s);
    p2p_stream_close(c);
    p2p_stream_close(s);
    p2p_host_free(h);
}
END_TEST

void th_add_dial_tests(Suite *s)
{
    TCase *tc = tcase_create("dial");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, refused_is_quick);
    tcase_add_test(tc, connect_timeout);
    tcase_add_test(tc, dns_dialing);
    tcase_add_test(tc, reuse_port_dial);
    tcase_add_test(tc, cancel_never_calls_back);
    tcase_add_test(tc, stop_with_work_in_flight);
    tcase_add_test(tc, free_without_stop);
    tcase_add_test(tc, streams_held_past_fini);
    tcase_add_test(tc, accept_emfile);
    suite_add_tcase(s, tc);
}
