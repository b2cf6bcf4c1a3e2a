/* test_tcp.c - the transport-tcp plugin, loaded by a host, over real
 * loopback sockets: address matching, p2p_maddr_from_sockaddr, listening,
 * data both ways, back-pressure, half-close, reset, closing. Dialing
 * (errors, timeouts, DNS, reuse_port, cancel, shutdown) is in
 * test_tcp_dial.c. Every wait is bounded (TH_WAIT). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../tcp.h"
#include "tcp_harness.h"

#define PEER "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"

START_TEST(can_dial_and_listen)
{
    p2p_host *h = th_host(NULL, NULL);
    void *st;
    const struct p2p_transport_ops *t = th_tcp(h, &st);
    static const char *const dial_ok[] = {
        "/ip4/1.2.3.4/tcp/1", "/ip6/::1/tcp/4001", "/dns/example.com/tcp/443",
        "/dns4/localhost/tcp/80", "/dns6/localhost/tcp/80", ("/ip4/1.2.3.4/tcp/1/p2p/" PEER),
        ("/dns/example.com/tcp/443/p2p/" PEER),
    };
    static const char *const dial_bad[] = {
        "/ip4/1.2.3.4/tcp/1/ws", ("/ip4/1.2.3.4/tcp/1/p2p/" PEER "/p2p-circuit"),
        ("/ip4/1.2.3.4/tcp/1/p2p/" PEER "/p2p-circuit/p2p/" PEER), "/ip4/1.2.3.4/udp/1/quic-v1",
        "/ip4/1.2.3.4/tcp/1/tls/ws", "/ip4/1.2.3.4", "/ip4/1.2.3.4/tcp/0", "/dnsaddr/example.com/tcp/1",
        ("/p2p/" PEER), "/ip4/1.2.3.4/udp/1", "/dns/example.com/tcp/443/wss",
    };
    for (size_t i = 0; i < sizeof dial_ok / sizeof *dial_ok; i++) {
        p2p_multiaddr ma = th_ma(dial_ok[i]);
        ck_assert_msg(t->can_dial(st, &ma), "%s", dial_ok[i]);
    }
    for (size_t i = 0; i < sizeof dial_bad / sizeof *dial_bad; i++) {
        p2p_multiaddr ma = th_ma(dial_bad[i]);
        ck_assert_msg(!t->can_dial(st, &ma), "%s", dial_bad[i]);
        ck_assert_msg(!p2p_transport_for(h, &ma, false, NULL), "%s", dial_bad[i]);
    }
    static const char *const listen_ok[] = { "/ip4/0.0.0.0/tcp/0", "/ip6/::/tcp/4001", "/ip4/127.0.0.1/tcp/1" };
    static const char *const listen_bad[] = {
        "/dns/localhost/tcp/1", "/ip4/0.0.0.0/tcp/0/ws", ("/ip4/0.0.0.0/tcp/0/p2p/" PEER), "/ip4/0.0.0.0/udp/0",
    };
    for (size_t i = 0; i < sizeof listen_ok / sizeof *listen_ok; i++) {
        p2p_multiaddr ma = th_ma(listen_ok[i]);
        ck_assert_msg(t->can_listen(st, &ma), "%s", listen_ok[i]);
    }
    for (size_t i = 0; i < sizeof listen_bad / sizeof *listen_bad; i++) {
        p2p_multiaddr ma = th_ma(listen_bad[i]);
        ck_assert_msg(!t->can_listen(st, &ma), "%s", listen_bad[i]);
    }
    /* Refused at the API too, with a sentence. */
    p2p_multiaddr ws = th_ma("/ip4/127.0.0.1/tcp/1/ws");
    void *l = NULL, *op = NULL;
    char err[256] = "";
    struct th_dial d = { 0 };
    ck_assert_int_eq(t->listen(st, &ws, th_accept_cb, NULL, &l, err, sizeof err), P2P_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "/ip4/127.0.0.1/tcp/1/ws"));
    ck_assert_int_eq(t->dial(st, &ws, NULL, th_dial_cb, &d, &op), P2P_EINVAL);
    p2p_host_free(h);
}
END_TEST

START_TEST(sockaddr_helper)
{
    p2p_multiaddr ma;
    struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(4001) };
    inet_pton(AF_INET, "192.0.2.7", &in.sin_addr);
    ck_assert_int_eq(p2p_maddr_from_sockaddr(&ma, (struct sockaddr *)&in, P2P_MA_TCP), 0);
    ck_assert_str_eq(th_str(&ma), "/ip4/192.0.2.7/tcp/4001");
    ck_assert_int_eq(p2p_maddr_from_sockaddr(&ma, (struct sockaddr *)&in, P2P_MA_UDP), 0);
    ck_assert_str_eq(th_str(&ma), "/ip4/192.0.2.7/udp/4001");
    struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(65535) };
    inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
    ck_assert_int_eq(p2p_maddr_from_sockaddr(&ma, (struct sockaddr *)&in6, P2P_MA_TCP), 0);
    ck_assert_str_eq(th_str(&ma), "/ip6/2001:db8::1/tcp/65535");
    inet_pton(AF_INET6, "::ffff:10.1.2.3", &in6.sin6_addr);
    in6.sin6_port = htons(0);
    ck_assert_int_eq(p2p_maddr_from_sockaddr(&ma, (struct sockaddr *)&in6, P2P_MA_TCP), 0);
    ck_assert_str_eq(th_str(&ma), "/ip4/10.1.2.3/tcp/0");
    inet_pton(AF_INET6, "fe80::1", &in6.sin6_addr);
    in6.sin6_scope_id = 1;   /* lo on Linux */
    ck_assert_int_eq(p2p_maddr_from_sockaddr(&ma, (struct sockaddr *)&in6, P2P_MA_TCP), 0);
    ck_assert_ptr_nonnull(strstr(th_str(&ma), "/ip6/fe80::1/tcp/0"));
    ck_assert_int_eq(strncmp(th_str(&ma), "/ip6zone/", 9), 0);
    struct sockaddr un = { .sa_family = AF_UNIX };
    ck_assert_int_eq(p2p_maddr_from_sockaddr(&ma, &un, P2P_MA_TCP), P2P_EUNSUPPORTED);
    ck_assert_int_eq(p2p_maddr_from_sockaddr(&ma, (struct sockaddr *)&in, P2P_MA_IP4), P2P_EINVAL);
}
END_TEST

/* Port 0 is resolved; the streams of both ends carry the right addresses. */
static void check_pair(const char *listen_text, const char *ip_prefix)
{
    p2p_host *h = th_host(NULL, NULL);
    void *st;
    const struct p2p_transport_ops *t = th_tcp(h, &st);
    struct th_accept acc = { 0 };
    p2p_multiaddr addr;
    void *l = th_listen(h, listen_text, &acc, &addr);
    ck_assert_uint_eq(t->listen_addrs(st, l, NULL, 0), 1);
    ck_assert_int_eq(strncmp(th_str(&addr), ip_prefix, strlen(ip_prefix)), 0);
    p2p_stream *c, *s;
    th_connect(h, &addr, NULL, &acc, &c, &s);
    ck_assert(p2p_maddr_equal(p2p_stream_remote_addr(c), &addr));
    ck_assert(p2p_maddr_equal(p2p_stream_local_addr(s), &addr));
    ck_assert(p2p_maddr_equal(p2p_stream_local_addr(c), p2p_stream_remote_addr(s)));
    ck_assert_ptr_null(p2p_stream_conn(c));

    /* Small messages both ways. */
    struct th_sink kc = { 0 }, ks = { 0 };
    th_sink_attach(&kc, c, 64);
    th_sink_attach(&ks, s, 64);
    ck_assert_int_eq(p2p_stream_write(c, (const uint8_t *)"ping", 4), 0);
    ck_assert(TH_WAIT(p2p_host_loop(h), ks.len == 4, 3000));
    ck_assert_int_eq(memcmp(ks.data, "ping", 4), 0);
    ck_assert_int_eq(p2p_stream_write(s, (const uint8_t *)"pong!", 5), 0);
    ck_assert(TH_WAIT(p2p_host_loop(h), kc.len == 5, 3000));
    ck_assert_int_eq(memcmp(kc.data, "pong!", 5), 0);
    ck_assert_int_eq(kc.errors + ks.errors, 0);
    th_sink_done(&kc);
    th_sink_done(&ks);
    t->listen_close(st, l);
    th_log_reset();
    p2p_host_free(h);
    ck_assert_int_eq(th_warnings(), 0);
}

START_TEST(listen_and_exchange_ip4)
{
    check_pair("/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/");
}
END_TEST

START_TEST(listen_and_exchange_ip6)
{
    if (!th_have_ipv6()) {
        fprintf(stderr, "IPv6 loopback unavailable: skipped\n");
        return;
    }
    check_pair("/ip6/::1/tcp/0", "/ip6/::1/tcp/");
}
END_TEST

START_TEST(wildcard_expansion_and_dual_stack)
{
    p2p_host *h = th_host(NULL, NULL);
    void *st;
    const struct p2p_transport_ops *t = th_tcp(h, &st);
    struct th_accept acc = { 0 };
    p2p_multiaddr first;
    void *l4 = th_listen(h, "/ip4/0.0.0.0/tcp/0", &acc, &first);
    uint16_t port = th_port(&first);
    p2p_multiaddr addrs[64];
    size_t n = t->listen_addrs(st, l4, addrs, 64);
    ck_assert_uint_ge(n, 1);
    bool lo = false;
    for (size_t i = 0; i < n && i < 64; i++) {
        const char *s = th_str(&addrs[i]);
        ck_assert_msg(!strncmp(s, "/ip4/", 5) && strncmp(s, "/ip4/0.0.0.0/", 13), "%s", s);
        ck_assert_uint_eq(th_port(&addrs[i]), port);
        if (!strncmp(s, "/ip4/127.0.0.1/tcp/", 19)) lo = true;
    }
    ck_assert(lo);
    ck_assert_uint_eq(t->listen_addrs(st, l4, addrs, 1), n);   /* total, even when truncated */

    /* The expanded loopback address is really served. */
    p2p_stream *c, *s;
    p2p_multiaddr lo_addr;
    char text[64];
    snprintf(text, sizeof text, "/ip4/127.0.0.1/tcp/%u", port);
    lo_addr = th_ma(text);
    th_connect(h, &lo_addr, NULL, &acc, &c, &s);
    p2p_stream_close(c);
    p2p_stream_close(s);

    if (th_have_ipv6()) {
        /* IPV6_V6ONLY: an IPv6 wildcard on the same port coexists. */
        snprintf(text, sizeof text, "/ip6/::/tcp/%u", port);
        p2p_multiaddr ma6 = th_ma(text);
        void *l6 = NULL;
        char err[256] = "";
        ck_assert_msg(t->listen(st, &ma6, th_accept_cb, &acc, &l6, err, sizeof err) == 0, "%s", err);
        n = t->listen_addrs(st, l6, addrs, 64);
        bool lo6 = false;
        for (size_t i = 0; i < n && i < 64; i++) {
            const char *a = th_str(&addrs[i]);
            ck_assert_msg(!strncmp(a, "/ip6/", 5) && strncmp(a, "/ip6/fe80", 9) && strncmp(a, "/ip6/::/", 8), "%s", a);
            if (!strncmp(a, "/ip6/::1/tcp/", 13)) lo6 = true;
        }
        ck_assert(lo6);
        snprintf(text, sizeof text, "/ip6/::1/tcp/%u", port);
        p2p_multiaddr lo6_addr = th_ma(text);
        th_connect(h, &lo6_addr, NULL, &acc, &c, &s);
        ck_assert_int_eq(strncmp(th_str(p2p_stream_remote_addr(s)), "/ip6/::1/", 9), 0);
        p2p_stream_close(c);
        p2p_stream_close(s);
    }
    /* Busy port: a clear error. A second /ip4 wildcard listener on the
     * same port is possible with SO_REUSEPORT, so use a plain socket. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 1), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    snprintf(text, sizeof text, "/ip4/127.0.0.1/tcp/%u", ntohs(a.sin_port));
    p2p_multiaddr busy = th_ma(text);
    void *lb = NULL;
    char err[256] = "";
    ck_assert_int_eq(t->listen(st, &busy, th_accept_cb, &acc, &lb, err, sizeof err), P2P_EBUSY);
    ck_assert_msg(strstr(err, "already in use") && strstr(err, text), "%s", err);
    close(fd);
    p2p_host_free(h);   /* listeners still open: closed by stop */
}
END_TEST

/* ---- bulk transfer with back-pressure -------------------------------- */

#define BULK (8u << 20)
#define CHUNK (64u << 10)

struct writer {
    p2p_stream *s;
    size_t sent, max_queued;
    int drains, errors;
    bool shutdown_at_end;
    bool in_place;           /* build bytes in the transport's blocks */
    unsigned turn;
};

/* Sizes of in-place writes: small ones that gather, odd ones, and one
 * beyond a block (TCP_BLOCK) now and then. */
static size_t in_place_size(unsigned turn)
{
    static const size_t sizes[] = { 1, 17, 4096, CHUNK, 65537, 3, 600 * 1024, 12345 };
    return sizes[turn % (sizeof sizes / sizeof sizes[0])];
}

static void pump(struct writer *w)
{
    static uint8_t buf[CHUNK];
    while (w->sent < BULK && p2p_stream_write_queued(w->s) <= P2P_STREAM_HIGH_WATER) {
        if (w->in_place && w->turn++ % 3 != 2) {   /* mixed with plain writes */
            size_t n = in_place_size(w->turn);
            if (n > BULK - w->sent) n = BULK - w->sent;
            uint8_t *p = p2p_stream_write_reserve(w->s, n);
            ck_assert_ptr_nonnull(p);
            for (size_t i = 0; i < n; i++) p[i] = th_pattern(w->sent + i);
            ck_assert_int_eq(p2p_stream_write_commit(w->s, n), 0);
            w->sent += n;
            size_t q = p2p_stream_write_queued(w->s);
            if (q > w->max_queued) w->max_queued = q;
            continue;
        }
        size_t n = BULK - w->sent < CHUNK ? BULK - w->sent : CHUNK;
        for (size_t i = 0; i < n; i++) buf[i] = th_pattern(w->sent + i);
        ck_assert_int_eq(p2p_stream_write(w->s, buf, n), 0);
        w->sent += n;
        size_t q = p2p_stream_write_queued(w->s);
        if (q > w->max_queued) w->max_queued = q;
    }
    if (w->sent == BULK && w->shutdown_at_end) {
        w->shutdown_at_end = false;
        ck_assert_int_eq(p2p_stream_shutdown(w->s), 0);
    }
}

static void w_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg) { (void)s; (void)d; (void)n; (void)arg; }
static void w_err(p2p_stream *s, int err, void *arg) { (void)s; (void)err; ((struct writer *)arg)->errors++; }
static void w_drain(p2p_stream *s, void *arg)
{
    (void)s;
    struct writer *w = arg;
    w->drains++;
    pump(w);
}
static const struct p2p_stream_handlers writer_handlers = { w_read, NULL, w_err, w_drain };

/* The zero-copy extensions: the writer builds its bytes in the transport's
 * output blocks (reserve/commit, mixed with plain writes, sizes from 1 byte
 * to more than a block), gathered while the reader pauses and sent in
 * batches; the reader has the transport read into its own small buffer
 * (read_alloc). Every byte arrives in order, then the FIN (bytes gathered
 * before a shutdown go out first). */
static uint8_t owner_rbuf[3001];
static int owner_allocs;
static uint8_t *sink_alloc(p2p_stream *s, size_t *len, void *arg)
{
    (void)s;
    (void)arg;
    owner_allocs++;
    if (*len > sizeof owner_rbuf) *len = sizeof owner_rbuf;
    return owner_rbuf;
}

/* _i = 0: plain writes and the transport's own read buffer; _i = 1: the
 * zero-copy extensions (above); _i = 2: those with the smallest
 * notsent_lowat, so that the kernel takes every write only in part and
 * the rest goes out from our blocks when it wakes us. */
START_TEST(bulk_with_backpressure)
{
    bool in_place = _i >= 1;
    p2p_stream *c, *s;
    p2p_host *h = th_pair(_i == 2 ? "notsent_lowat = 16KiB\n" : "notsent_lowat = 0\n", &c, &s);
    uv_loop_t *loop = p2p_host_loop(h);
    struct writer w = { .s = c, .shutdown_at_end = true, .in_place = in_place };
    p2p_stream_set_handlers(c, &writer_handlers, &w);
    struct th_sink k = { .check = true, .stop_after_read = true };
    th_sink_attach(&k, s, 0);
    owner_allocs = 0;
    if (in_place) p2p_stream_set_read_alloc(s, sink_alloc);
    pump(&w);
    /* The reader takes one read and pauses. The sender's kernel buffers
     * fill, then our queue, which the writer keeps just above the
     * high-water mark: it stops writing and waits for on_drain. */
    ck_assert(TH_WAIT(loop, k.len > 0, 5000));
    if (in_place) ck_assert_uint_le(k.len, sizeof owner_rbuf);   /* read into the owner's buffer */
    size_t got = k.len;
    uint64_t t0 = th_now_ms();
    while (th_now_ms() - t0 < 300) th_step(loop);
    /* (The kernel may take some of our queue later, as its buffers grow:
     * the queue stays, not necessarily above the mark.) */
    ck_assert(TH_WAIT(loop, w.max_queued > P2P_STREAM_HIGH_WATER, 10000));
    size_t sent = w.sent;
    for (int i = 0; i < 20; i++) th_step(loop);
    ck_assert_uint_eq(k.len, got);          /* nothing delivered while stopped */
    ck_assert_uint_eq(w.sent, sent);        /* the writer is held back */
    ck_assert_uint_lt(sent, BULK);
    ck_assert_uint_gt(p2p_stream_write_queued(c), 0);
    /* while the writer is held back, reserve still hands out memory up
     * to write_queue_max; what is not committed is dropped */
    if (in_place) ck_assert_ptr_nonnull(p2p_stream_write_reserve(c, 100));
    k.stop_after_read = false;
    p2p_stream_read_start(s);
    ck_assert(TH_WAIT(loop, k.len == BULK && k.eof, 20000));
    ck_assert(!k.bad);
    ck_assert_int_eq(k.errors + w.errors, 0);
    ck_assert_uint_eq(p2p_stream_write_queued(c), 0);
    ck_assert_int_ge(w.drains, 1);
    ck_assert_uint_le(w.max_queued, P2P_STREAM_HIGH_WATER + (in_place ? in_place_size(6) : CHUNK));
    if (in_place) {
        ck_assert_int_ge(owner_allocs, (int)(BULK / sizeof owner_rbuf));
        ck_assert_ptr_null(p2p_stream_write_reserve(c, 1));   /* shut down */
    }
    /* The other direction still works after our half-close. */
    struct th_sink kc = { 0 };
    th_sink_attach(&kc, c, 16);
    ck_assert_int_eq(p2p_stream_write(s, (const uint8_t *)"done", 4), 0);
    ck_assert_int_eq(p2p_stream_shutdown(s), 0);
    ck_assert(TH_WAIT(loop, kc.len == 4 && kc.eof == 1, 3000));
    th_sink_done(&kc);   /* closes c */
    th_sink_done(&k);
    th_log_reset();
    p2p_host_free(h);
    ck_assert_int_eq(th_warnings(), 0);
}
END_TEST

/* The read low-water mark (p2p_stream_read_lowat): bytes below it stay
 * in the kernel and the owner gets them in one read once they are all
 * there; lowering the mark releases what waits at once; end of input is
 * not held back by it. */
START_TEST(read_lowat)
{
    p2p_stream *c, *s;
    p2p_host *h = th_pair(NULL, &c, &s);
    uv_loop_t *loop = p2p_host_loop(h);
    static uint8_t buf[40110];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = th_pattern(i);
    struct th_sink k = { .check = true };
    th_sink_attach(&k, s, 0);
    ck_assert_int_eq(p2p_stream_read_lowat(s, 40000), 0);
    for (size_t off = 0; off < 39999; off += 5000) {
        size_t n = 39999 - off < 5000 ? 39999 - off : 5000;
        ck_assert_int_eq(p2p_stream_write(c, buf + off, n), 0);
        for (int i = 0; i < 3; i++) th_step(loop);
    }
    uint64_t t0 = th_now_ms();
    while (th_now_ms() - t0 < 100) th_step(loop);
    ck_assert_uint_eq(k.len, 0);   /* 39,999 bytes wait in the kernel */
    ck_assert_int_eq(p2p_stream_write(c, buf + 39999, 1), 0);
    ck_assert(TH_WAIT(loop, k.len == 40000, 3000));
    ck_assert_int_eq(k.reads, 1);
    /* lowering the mark delivers what waits below it */
    ck_assert_int_eq(p2p_stream_write(c, buf + 40000, 100), 0);
    t0 = th_now_ms();
    while (th_now_ms() - t0 < 100) th_step(loop);
    ck_assert_uint_eq(k.len, 40000);
    ck_assert_int_eq(p2p_stream_read_lowat(s, 0), 0);
    ck_assert(TH_WAIT(loop, k.len == 40100, 1000));
    /* EOF below the mark: the bytes, then the EOF */
    ck_assert_int_eq(p2p_stream_read_lowat(s, 40000), 0);
    ck_assert_int_eq(p2p_stream_write(c, buf + 40100, 10), 0);
    ck_assert_int_eq(p2p_stream_shutdown(c), 0);
    ck_assert(TH_WAIT(loop, k.len == 40110 && k.eof == 1, 3000));
    ck_assert(!k.bad);
    ck_assert_int_eq(k.errors, 0);
    p2p_stream_close(c);
    th_sink_done(&k);
    th_log_reset();
    p2p_host_free(h);
    ck_assert_int_eq(th_warnings(), 0);
}
END_TEST

START_TEST(half_close_and_clean_close)
{
    p2p_stream *c, *s;
    p2p_host *h = th_pair("keepalive = 30s\n", &c, &s);
    uv_loop_t *loop = p2p_host_loop(h);
    struct th_sink kc = { 0 }, ks = { 0 };
    th_sink_attach(&kc, c, 64);
    th_sink_attach(&ks, s, 64);
    ck_assert_int_eq(p2p_stream_write(c, (const uint8_t *)"request", 7), 0);
    ck_assert_int_eq(p2p_stream_shutdown(c), 0);
    ck_assert_int_eq(p2p_stream_write(c, (const uint8_t *)"x", 1), P2P_ECLOSED);
    ck_assert(TH_WAIT(loop, ks.eof == 1, 3000));
    ck_assert_uint_eq(ks.len, 7);
    /* The server answers after the client's FIN. */
    ck_assert_int_eq(p2p_stream_write(s, (const uint8_t *)"response", 8), 0);
    ck_assert(TH_WAIT(loop, kc.len == 8, 3000));
    ck_assert_int_eq(memcmp(kc.data, "response", 8), 0);
    ck_assert_int_eq(kc.eof, 0);
    ck_assert_int_eq(p2p_stream_shutdown(s), 0);
    ck_assert(TH_WAIT(loop, kc.eof == 1, 3000));
    /* Reading again after EOF delivers nothing more. */
    p2p_stream_read_stop(c);
    p2p_stream_read_start(c);
    for (int i = 0; i < 5; i++) th_step(loop);
    ck_assert_int_eq(kc.eof + kc.errors, 1);
    ck_assert_int_eq(ks.errors, 0);
    th_sink_done(&kc);
    th_sink_done(&ks);
    p2p_host_free(h);
}
END_TEST

START_TEST(reset_is_an_error)
{
    p2p_host *h = th_host(NULL, NULL);
    uv_loop_t *loop = p2p_host_loop(h);
    struct th_accept acc = { 0 };
    p2p_multiaddr addr;
    th_listen(h, "/ip4/127.0.0.1/tcp/0", &acc, &addr);
    /* reset() */
    p2p_stream *c, *s;
    th_connect(h, &addr, NULL, &acc, &c, &s);
    struct th_sink ks = { 0 };
    th_sink_attach(&ks, s, 0);
    p2p_stream_reset(c);
    ck_assert_int_eq(p2p_stream_write(c, (const uint8_t *)"x", 1), P2P_ECLOSED);
    ck_assert(TH_WAIT(loop, ks.errors == 1, 3000));
    ck_assert_int_eq(ks.err, P2P_ERESET);
    ck_assert_int_eq(ks.eof, 0);
    p2p_stream_close(c);
    th_sink_done(&ks);
    /* close() of a stream that was not shut down is a reset too. */
    th_connect(h, &addr, NULL, &acc, &c, &s);
    th_sink_attach(&ks, s, 0);
    p2p_stream_close(c);
    ck_assert(TH_WAIT(loop, ks.errors == 1, 3000));
    ck_assert_int_eq(ks.err, P2P_ERESET);
    /* Writing into the reset connection fails (now or at the latest on
     * the next write), never silently. */
    int rc = 0;
    for (int i = 0; i < 10 && rc == 0; i++) {
        rc = p2p_stream_write(s, (const uint8_t *)"late", 4);
        th_step(loop);
    }
    ck_assert_int_ne(rc, 0);
    th_sink_done(&ks);
    p2p_host_free(h);
}
END_TEST

/* Small writes of one loop turn leave together at its end (one write(2),
 * so the peer reads them at once), are counted as queued until then, and
 * end with a drain; bytes still waiting go out before a close resets. */
START_TEST(small_writes_coalesce)
{
    p2p_stream *c, *s;
    p2p_host *h = th_pair(NULL, &c, &s);
    uv_loop_t *loop = p2p_host_loop(h);
    struct th_sink kc = { 0 }, ks = { 0 };
    th_sink_attach(&kc, c, 0);
    th_sink_attach(&ks, s, 64);
    ck_assert_int_eq(p2p_stream_write(c, (const uint8_t *)"a", 1), 0);
    ck_assert_int_eq(p2p_stream_write(c, (const uint8_t *)"bb", 2), 0);
    uint8_t *p = p2p_stream_write_reserve(c, 3);
    ck_assert_ptr_nonnull(p);
    memcpy(p, "ccc", 3);
    ck_assert_int_eq(p2p_stream_write_commit(c, 3), 0);
    ck_assert_uint_eq(p2p_stream_write_queued(c), 6);   /* waiting for the end of the turn */
    ck_assert(TH_WAIT(loop, ks.len == 6 && kc.drains > 0, 3000));
    ck_assert_int_eq(memcmp(ks.data, "abbccc", 6), 0);
    ck_assert_int_eq(ks.reads, 1);
    ck_assert_uint_eq(p2p_stream_write_queued(c), 0);
    /* Written, then closed in the same turn (a reset): the bytes first. */
    ck_assert_int_eq(p2p_stream_write(c, (const uint8_t *)"bye", 3), 0);
    p2p_stream_close(c);
    kc.s = NULL;
    ck_assert(TH_WAIT(loop, ks.errors == 1, 3000));
    ck_assert_uint_eq(ks.len, 9);
    ck_assert_int_eq(memcmp(ks.data + 6, "bye", 3), 0);
    ck_assert_int_eq(ks.err, P2P_ERESET);
    th_sink_done(&kc);
    th_sink_done(&ks);
    p2p_host_free(h);
}
END_TEST

/* A host writing a little on many connections in every turn (gossip
 * forwarding a message to its peers) takes its output blocks from the
 * caches once they hold a turn's worth: nothing is allocated per turn. */
START_TEST(small_writes_reuse_blocks)
{
    enum { CONNS = 12, ROUNDS = 20, SIZE = 1100 };
    p2p_host *h = th_host(NULL, NULL);
    uv_loop_t *loop = p2p_host_loop(h);
    struct tcp_state *st;
    th_tcp(h, (void **)&st);
    struct th_accept acc = { 0 };
    p2p_multiaddr addr;
    th_listen(h, "/ip4/127.0.0.1/tcp/0", &acc, &addr);
    p2p_stream *c[CONNS], *s[CONNS];
    struct th_sink k[CONNS];
    for (int i = 0; i < CONNS; i++) {
        th_connect(h, &addr, NULL, &acc, &c[i], &s[i]);
        memset(&k[i], 0, sizeof k[i]);
        th_sink_attach(&k[i], s[i], 0);
    }
    uint8_t msg[SIZE];
    memset(msg, 'g', sizeof msg);
    uint64_t warm = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < CONNS; i++) ck_assert_int_eq(p2p_stream_write(c[i], msg, sizeof msg), 0);
        size_t want = (size_t)(r + 1) * SIZE;
        bool all = false;
        uint64_t t0 = th_now_ms();
        while (!all && th_now_ms() - t0 < 3000) {
            th_step(loop);
            all = true;
            for (int i = 0; i < CONNS; i++) all = all && k[i].len == want;
        }
        ck_assert(all);
        if (r == 1) warm = st->blocks_allocated;
    }
    ck_assert_uint_gt(warm, 0);
    ck_assert_uint_eq(st->blocks_allocated, warm);
    for (int i = 0; i < CONNS; i++) {
        ck_assert_int_eq(k[i].errors, 0);
        p2p_stream_close(c[i]);
        th_sink_done(&k[i]);
    }
    p2p_host_free(h);
}
END_TEST

/* close() right after shutdown() lingers: the queued bytes and the FIN
 * still reach a slow reader. */
START_TEST(close_after_shutdown_lingers)
{
    p2p_stream *c, *s;
    p2p_host *h = th_pair("linger = 10s\n", &c, &s);
    uv_loop_t *loop = p2p_host_loop(h);
    struct th_sink ks = { .check = true, .stop_after_read = true };
    th_sink_attach(&ks, s, 0);
    struct writer w = { .s = c };
    p2p_stream_set_handlers(c, &writer_handlers, &w);
    pump(&w);
    ck_assert(TH_WAIT(loop, p2p_stream_write_queued(c) > P2P_STREAM_HIGH_WATER, 10000));
    size_t sent = w.sent;
    ck_assert_int_eq(p2p_stream_shutdown(c), 0);
    p2p_stream_close(c);
    for (int i = 0; i < 10; i++) th_step(loop);
    ks.stop_after_read = false;
    p2p_stream_read_start(s);
    ck_assert(TH_WAIT(loop, ks.eof == 1 || ks.errors, 20000));
    ck_assert_int_eq(ks.errors, 0);
    ck_assert_uint_eq(ks.len, sent);
    ck_assert(!ks.bad);
    th_sink_done(&ks);
    p2p_host_free(h);
}
END_TEST

/* With a short linger, a reader that never reads cannot hold the
 * connection: it is reset when the time is over. */
START_TEST(linger_is_bounded)
{
    p2p_stream *c, *s;
    p2p_host *h = th_pair("linger = 200ms\n", &c, &s);
    uv_loop_t *loop = p2p_host_loop(h);
    struct th_sink ks = { .stop_after_read = true };
    th_sink_attach(&ks, s, 0);
    struct writer w = { .s = c };
    p2p_stream_set_handlers(c, &writer_handlers, &w);
    pump(&w);
    ck_assert(TH_WAIT(loop, p2p_stream_write_queued(c) > P2P_STREAM_HIGH_WATER, 10000));
    ck_assert_int_eq(p2p_stream_shutdown(c), 0);
    p2p_stream_close(c);
    uint64_t t0 = th_now_ms();
    while (th_now_ms() - t0 < 400) th_step(loop);
    ks.stop_after_read = false;
    p2p_stream_read_start(s);
    TH_WAIT(loop, ks.errors == 1, 10000);
    ck_assert_msg(ks.errors == 1, "errors %d eof %d len %zu sent %zu", ks.errors, ks.eof, ks.len, w.sent);
    ck_assert_int_eq(ks.err, P2P_ERESET);
    ck_assert_uint_lt(ks.len, w.sent);
    th_sink_done(&ks);
    p2p_host_free(h);
}
END_TEST

/* A writer that ignores back-pressure hits write_queue_max: P2P_EAGAIN,
 * and the queue stays bounded; after the reader catches up, writes work. */
START_TEST(write_queue_limit)
{
    p2p_stream *c, *s;
    p2p_host *h = th_pair("write_queue_max = 256KiB\n", &c, &s);
    uv_loop_t *loop = p2p_host_loop(h);
    struct th_sink w = { 0 };   /* counts the writer's drains */
    th_sink_attach(&w, c, 0);
    static uint8_t chunk[32 << 10];
    int rc = 0;
    for (int i = 0; i < 4096 && rc == 0; i++) {
        rc = p2p_stream_write(c, chunk, sizeof chunk);
        ck_assert_uint_le(p2p_stream_write_queued(c), 256u << 10);
        if (i % 16 == 0) th_step(loop);
    }
    ck_assert_int_eq(rc, P2P_EAGAIN);
    struct th_sink k = { 0 };
    th_sink_attach(&k, s, 0);
    ck_assert(TH_WAIT(loop, p2p_stream_write_queued(c) == 0 && w.drains == 1, 10000));
    ck_assert_int_eq(p2p_stream_write(c, chunk, sizeof chunk), 0);
    ck_assert_int_eq(w.errors + k.errors, 0);
    th_sink_done(&w);
    th_sink_done(&k);
    p2p_host_free(h);
}
END_TEST

/* TCP_NOTSENT_LOWAT of every connection of h's transport (dialed and
 * accepted); returns how many there are. */
static size_t lowat_of_conns(p2p_host *h, int *vals, size_t max)
{
    void *state;
    th_tcp(h, &state);
    struct tcp_state *st = state;
    size_t n = 0;
    for (struct tcp_link *l = st->conns.next; l != &st->conns && n < max; l = l->next) {
        struct tcp_conn *c = TCP_CONTAINER_OF(l, struct tcp_conn, link);
        uv_os_fd_t fd;
        ck_assert_int_eq(uv_fileno((uv_handle_t *)&c->tcp, &fd), 0);
        socklen_t sl = sizeof vals[n];
        ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &vals[n], &sl), 0);
        n++;
    }
    return n;
}

/* notsent_lowat reaches the socket of both ends (set after connect and
 * after accept); 0 leaves the socket alone (the kernel reports 0: the
 * sysctl net.ipv4.tcp_notsent_lowat applies); the default is 64 KiB.
 * Bytes still flow with the smallest value (bulk_with_backpressure _i=2). */
START_TEST(notsent_lowat_applied)
{
    static const struct { const char *keys; int want; } cases[] = {
        { "notsent_lowat = 32KiB\n", 32 << 10 },
        { "notsent_lowat = 0\n", 0 },
        { NULL, 64 << 10 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        p2p_host *h = th_host(NULL, cases[i].keys);
        uv_loop_t *loop = p2p_host_loop(h);
        struct th_accept acc = { 0 };
        p2p_multiaddr addr;
        th_listen(h, "/ip4/127.0.0.1/tcp/0", &acc, &addr);
        p2p_stream *c, *s;
        th_connect(h, &addr, NULL, &acc, &c, &s);
        int vals[4];
        ck_assert_uint_eq(lowat_of_conns(h, vals, 4), 2);
        ck_assert_int_eq(vals[0], cases[i].want);
        ck_assert_int_eq(vals[1], cases[i].want);
        struct th_sink k = { 0 };
        th_sink_attach(&k, s, 16);
        ck_assert_int_eq(p2p_stream_write(c, (const uint8_t *)"ping", 4), 0);
        ck_assert(TH_WAIT(loop, k.len == 4, 3000));
        p2p_stream_close(c);
        th_sink_done(&k);
        p2p_host_free(h);
    }
}
END_TEST

/* A value the kernel would take but that only costs wake-ups (below
 * 16 KiB), or out of range, or not a size: the host refuses the config
 * with a sentence naming the key. */
START_TEST(notsent_lowat_rejected)
{
    static const char *bad[] = { "1", "16383", "2GiB", "-1", "lots" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256], err[512] = "";
        snprintf(text, sizeof text, "[host]\nephemeral_identity = true\nlisten =\n[plugin transport-tcp]\n"
                 "notsent_lowat = %s\n", bad[i]);
        p2p_conf *cf = p2p_conf_load_string(text, "tcp-test.ini", err, sizeof err);
        ck_assert_msg(cf != NULL, "%s", err);
        p2p_host *h = NULL;
        struct p2p_host_opts o = { 0 };
        int rc = p2p_host_new(&h, cf, &o, err, sizeof err);
        ck_assert_msg(rc == P2P_ECONFIG, "notsent_lowat = %s: %d (%s)", bad[i], rc, err);
        ck_assert_ptr_null(h);
        ck_assert_msg(strstr(err, "notsent_lowat") != NULL, "%s: %s", bad[i], err);
    }
    /* the limits themselves are fine */
    p2p_host_free(th_host(NULL, "notsent_lowat = 16KiB\n"));
    p2p_host_free(th_host(NULL, "notsent_lowat = 1GiB\n"));
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN);   /* as p2pchat does (see plugin.c) */
    th_log_setup();
    Suite *s = suite_create("transport_tcp");
    TCase *tc = tcase_create("stream");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, can_dial_and_listen);
    tcase_add_test(tc, sockaddr_helper);
    tcase_add_test(tc, listen_and_exchange_ip4);
    tcase_add_test(tc, listen_and_exchange_ip6);
    tcase_add_test(tc, wildcard_expansion_and_dual_stack);
    tcase_add_loop_test(tc, bulk_with_backpressure, 0, 3);
    tcase_add_test(tc, read_lowat);
    tcase_add_test(tc, half_close_and_clean_close);
    tcase_add_test(tc, reset_is_an_error);
    tcase_add_test(tc, small_writes_coalesce);
    tcase_add_test(tc, small_writes_reuse_blocks);
    tcase_add_test(tc, close_after_shutdown_lingers);
    tcase_add_test(tc, linger_is_bounded);
    tcase_add_test(tc, write_queue_limit);
    tcase_add_test(tc, notsent_lowat_applied);
    tcase_add_test(tc, notsent_lowat_rejected);
    suite_add_tcase(s, tc);
    th_add_dial_tests(s);
    return p2p_test_run(s);
}
