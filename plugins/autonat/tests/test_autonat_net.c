/* test_autonat_net.c - unit.autonat_net: AutoNAT over real loopback
 * sockets, with the real transport-tcp, noise, yamux, identify and
 * autonat plugins on one loop.
 *
 *  - public: a server (allow = loopback) dials a client back at its
 *    listening address; the client becomes PUBLIC through the core
 *    (p2p_host_reachability, P2P_EV_REACHABILITY_CHANGED) and confirms it
 *    with more servers (confidence).
 *  - private: the client's only address is one nobody listens on; the
 *    dial-back fails and the client becomes PRIVATE.
 *  - default policy: a server that dials only public addresses refuses a
 *    loopback client (E_DIAL_REFUSED): UNKNOWN, but probed.
 *  - bad input, sent by a host that speaks the protocol by hand: malformed
 *    messages, wrong PeerIds, oversized frames, silent streams, and request
 *    floods from one peer - refused with the spec's codes, bounded.
 *  - users of the status: kad mode = auto becomes a server when PUBLIC
 *    (identify pushes it, the server's routing table takes it) and a
 *    client again when PRIVATE; the relay client with reserve = auto
 *    reserves when PRIVATE or UNKNOWN after probing, not when PUBLIC, and
 *    always with reserve = always. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "autonat.h"
#include "ihost.h"
#include "p2p/routing.h"
#include "testutil.h"

#define SERVER_SECTION "[plugin autonat]\nserver = true\nclient = false\nallow = loopback\n"
#define CLIENT_SECTION "[plugin autonat]\nboot_delay = 200ms\nretry_interval = 1h\n"

static p2p_host *new_host(uv_loop_t *loop, const char *listen, const char *sections)
{
    char text[8192], err[1024];
    snprintf(text, sizeof text,
             "[host]\nephemeral_identity = true\nlisten = %s\nlog = %s\nclose_timeout = 2s\n"
             "[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin identify]\n%s\n",
             listen, getenv("P2P_LOG") ? getenv("P2P_LOG") : "warn", sections ? sections : "");
    p2p_conf *cf = p2p_conf_load_string(text, "autonat-test.ini", err, sizeof err);
    ck_assert_msg(cf != NULL, "config: %s", err);
    struct p2p_host_opts o = { .loop = loop };
    p2p_host *h = NULL;
    int rc = p2p_host_new(&h, cf, &o, err, sizeof err);
    ck_assert_msg(rc == 0, "host: %s", err);
    ihost_start(h);
    return h;
}

static struct autonat_st *ast(p2p_host *h)
{
    struct autonat_st *st = p2p_host_plugin_state(h, "autonat");
    ck_assert_ptr_nonnull(st);
    return st;
}

struct conn_wait {
    bool done;
    int status;
};

static void on_connected(int status, p2p_conn *c, void *arg)
{
    (void)c;
    struct conn_wait *w = arg;
    w->status = status;
    w->done = true;
}

static void connect_to(uv_loop_t *loop, p2p_host *from, p2p_host *to)
{
    struct conn_wait w = { 0 };
    p2p_multiaddr a = ihost_addr(to);
    ck_assert_int_eq(p2p_host_connect(from, p2p_host_peerid(to), &a, 1, on_connected, &w), 0);
    ck_assert(ihost_run_until(loop, &w.done, 10000));
    ck_assert_msg(w.status == 0, "connect: %s", p2p_strerror(w.status));
}

struct reach_wait {
    p2p_host *h;
    enum p2p_reachability want;
    bool need_probed;
    unsigned min_confidence;
    int events;
};

static void count_events(const struct p2p_event *ev, void *arg)
{
    (void)ev;
    ((struct reach_wait *)arg)->events++;
}

static bool reached(void *arg)
{
    struct reach_wait *w = arg;
    struct p2p_reachability_info ri = P2P_REACHABILITY_INFO_INIT;
    return p2p_host_reachability(w->h, &ri) == w->want && (!w->need_probed || ri.probed) &&
           ri.confidence >= w->min_confidence;
}

static void closed_port_addr(p2p_multiaddr *out)
{
    /* A port that was free a moment ago: nobody listens on it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    char text[64];
    snprintf(text, sizeof text, "/ip4/127.0.0.1/tcp/%u", ntohs(sa.sin_port));
    ck_assert_int_eq(p2p_maddr_parse(out, text, NULL, 0), 0);
}

/* ---- verdicts ------------------------------------------------------------------------ */

START_TEST(becomes_public)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *s[3];
    for (int i = 0; i < 3; i++) s[i] = new_host(&loop, "/ip4/127.0.0.1/tcp/0", SERVER_SECTION);
    p2p_host *c = new_host(&loop, "/ip4/127.0.0.1/tcp/0",
                           "[plugin autonat]\nboot_delay = 200ms\nretry_interval = 500ms\nservers_per_probe = 3\n");
    struct reach_wait w = { .h = c, .want = P2P_REACH_PUBLIC };
    struct p2p_reachability_info ri = P2P_REACHABILITY_INFO_INIT;
    ck_assert_int_eq(p2p_host_reachability(c, &ri), P2P_REACH_UNKNOWN);
    ck_assert(ri.tracked && !ri.probed);
    ck_assert_str_eq(ri.source, "autonat");
    p2p_subscription *sub = p2p_host_subscribe(c, P2P_EV_REACHABILITY_CHANGED, count_events, &w);

    connect_to(&loop, c, s[0]);
    ck_assert_msg(ihost_run_cond(&loop, reached, &w, 15000), "the client did not become public");
    p2p_host_reachability(c, &ri);
    p2p_multiaddr mine = ihost_addr(c);
    ck_assert_msg(p2p_maddr_equal(&ri.addr, &mine), "the OK names the listening address");
    ck_assert_int_ge(w.events, 1);
    ck_assert_uint_eq(ast(s[0])->stats.dialbacks_ok, 1);
    ck_assert_uint_eq(ast(c)->stats.said_public, 1);

    /* More servers confirm it (the next probes, every retry_interval
     * while not confident, ask the servers not asked yet). */
    connect_to(&loop, c, s[1]);
    connect_to(&loop, c, s[2]);
    w.min_confidence = 2;
    ck_assert_msg(ihost_run_cond(&loop, reached, &w, 15000), "confidence did not grow");
    ck_assert_uint_eq(ast(s[1])->stats.dialbacks_ok + ast(s[2])->stats.dialbacks_ok, 2);
    /* The probed server was not asked again (throttled). */
    ck_assert_uint_eq(ast(s[0])->stats.requests, 1);
    /* Dial-backs made second connections; the swarm keeps one per peer. */
    ihost_run_for(&loop, 500);
    for (int i = 0; i < 3; i++) {
        p2p_conn *cs[8];
        size_t n = p2p_host_conns(c, cs, 8), live = 0;
        for (size_t k = 0; k < n && k < 8; k++)
            if (p2p_peerid_equal(p2p_conn_peer(cs[k]), p2p_host_peerid(s[i]))) live++;
        ck_assert_uint_ge(live, 1);
        ck_assert_ptr_nonnull(p2p_host_conn_to(c, p2p_host_peerid(s[i])));
    }
    p2p_host_unsubscribe(c, sub);
    p2p_host_free(c);
    for (int i = 0; i < 3; i++) p2p_host_free(s[i]);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(becomes_private)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *s = new_host(&loop, "/ip4/127.0.0.1/tcp/0", SERVER_SECTION);
    /* The client listens nowhere; the only address it tells is one that
     * nobody listens on. */
    p2p_host *c = new_host(&loop, "", CLIENT_SECTION);
    p2p_multiaddr dead;
    closed_port_addr(&dead);
    ck_assert_int_eq(p2p_host_add_advertised_addr(c, &dead), 0);
    connect_to(&loop, c, s);
    struct reach_wait w = { .h = c, .want = P2P_REACH_PRIVATE };
    ck_assert_msg(ihost_run_cond(&loop, reached, &w, 15000), "the client did not become private");
    ck_assert_uint_eq(ast(s)->stats.dialbacks_failed, 1);
    ck_assert_uint_eq(ast(s)->stats.dialbacks_ok, 0);
    ck_assert_uint_eq(ast(c)->stats.said_private, 1);
    struct p2p_reachability_info ri = P2P_REACHABILITY_INFO_INIT;
    p2p_host_reachability(c, &ri);
    ck_assert(ri.probed);
    ck_assert_uint_eq(ri.addr.len, 0);
    p2p_host_free(c);
    p2p_host_free(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(default_policy_refuses_loopback)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *s = new_host(&loop, "/ip4/127.0.0.1/tcp/0", "[plugin autonat]\nserver = true\nclient = false\n");
    p2p_host *c = new_host(&loop, "/ip4/127.0.0.1/tcp/0", CLIENT_SECTION);
    connect_to(&loop, c, s);
    struct reach_wait w = { .h = c, .want = P2P_REACH_UNKNOWN, .need_probed = true };
    ck_assert_msg(ihost_run_cond(&loop, reached, &w, 15000), "no probe finished");
    ck_assert_uint_eq(ast(s)->stats.refused, 1);
    ck_assert_uint_eq(ast(s)->stats.dialbacks_ok + ast(s)->stats.dialbacks_failed, 0);
    ck_assert_uint_eq(ast(c)->stats.said_nothing, 1);
    p2p_host_free(c);
    p2p_host_free(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- bad input: a peer that speaks the protocol by hand ---------------------------- */

struct raw {
    uv_loop_t *loop;
    bool opened, done;
    int status;
    p2p_stream *s;
    p2p_buf in;
    bool reset;                      /* error or EOF before an answer */
};

static void raw_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s;
    struct raw *r = arg;
    p2p_buf_append(&r->in, d, n);
    size_t hdr, body;
    if (p2p_varint_frame(p2p_buf_head(&r->in), r->in.len, AUTONAT_MSG_MAX, &hdr, &body) == 0) r->done = true;
}

static void raw_eof(p2p_stream *s, void *arg)
{
    (void)s;
    struct raw *r = arg;
    if (!r->done) {
        r->reset = true;
        r->done = true;
    }
}

static void raw_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    (void)err;
    struct raw *r = arg;
    if (!r->done) {
        r->reset = true;
        r->done = true;
    }
}

static const struct p2p_stream_handlers raw_handlers = { raw_read, raw_eof, raw_error, NULL };

static void raw_opened(int status, p2p_stream *s, void *arg)
{
    struct raw *r = arg;
    r->status = status;
    r->s = s;
    r->opened = true;
    if (s) {
        p2p_stream_set_handlers(s, &raw_handlers, r);
        p2p_stream_read_start(s);
    }
}

static void raw_open(uv_loop_t *loop, p2p_host *from, p2p_host *to, struct raw *r)
{
    static const char *const protos[] = { AUTONAT_PROTOCOL, NULL };
    memset(r, 0, sizeof *r);
    r->loop = loop;
    p2p_buf_init(&r->in, 65536);
    ck_assert_int_eq(p2p_host_new_stream(from, p2p_host_peerid(to), protos, raw_opened, r), 0);
    ck_assert(ihost_run_until(loop, &r->opened, 10000));
    ck_assert_msg(r->status == 0, "open: %s", p2p_strerror(r->status));
}

static void raw_close(struct raw *r)
{
    if (r->s) p2p_stream_close(r->s);
    r->s = NULL;
    p2p_buf_free(&r->in);
}

/* Send bytes, wait for the answer; returns its status, or -1 after a reset. */
static int raw_exchange(struct raw *r, const uint8_t *msg, size_t len, char *text, size_t textcap)
{
    ck_assert_int_eq(p2p_stream_write(r->s, msg, len), 0);
    ck_assert(ihost_run_until(r->loop, &r->done, 20000));
    if (r->reset) return -1;
    size_t hdr, body;
    ck_assert_int_eq(p2p_varint_frame(p2p_buf_head(&r->in), r->in.len, AUTONAT_MSG_MAX, &hdr, &body), 0);
    struct autonat_msg *m = malloc(sizeof *m);
    ck_assert_int_eq(autonat_msg_decode(m, p2p_buf_head(&r->in) + hdr, body), 0);
    ck_assert_uint_eq(m->type, AUTONAT_DIAL_RESPONSE);
    ck_assert(m->has_response && m->has_status);
    int st = (int)m->status;
    if (text) snprintf(text, textcap, "%s", m->text);
    /* rust-libp2p's rule: an address with OK only. */
    ck_assert(m->has_addr == (st == AUTONAT_OK));
    free(m);
    return st;
}

static int dial_request(uv_loop_t *loop, p2p_host *from, p2p_host *to, const p2p_peerid *claim,
                        const p2p_multiaddr *addrs, size_t n, char *text, size_t cap)
{
    struct raw r;
    raw_open(loop, from, to, &r);
    uint8_t frame[AUTONAT_SEND_FRAME_MAX];
    int len = autonat_encode_dial(claim, addrs, n, frame, sizeof frame, NULL);
    ck_assert_int_gt(len, 0);
    int st = raw_exchange(&r, frame, (size_t)len, text, cap);
    raw_close(&r);
    return st;
}

START_TEST(bad_requests)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *s = new_host(&loop, "/ip4/127.0.0.1/tcp/0",
                           SERVER_SECTION "rate_per_peer = 3\nmax_streams = 4\nread_timeout = 1s\n");
    p2p_host *x = new_host(&loop, "/ip4/127.0.0.1/tcp/0", NULL);   /* no autonat: speaks it by hand */
    p2p_host *y = new_host(&loop, "/ip4/127.0.0.1/tcp/0", NULL);
    connect_to(&loop, x, s);
    p2p_multiaddr xa = ihost_addr(x);
    char text[AUTONAT_TEXT_MAX];
    struct raw r;

    /* Not a protobuf. */
    raw_open(&loop, x, s, &r);
    ck_assert_int_eq(raw_exchange(&r, (const uint8_t *)"\x03\x12\x40\x01", 4, text, sizeof text), AUTONAT_E_BAD_REQUEST);
    ck_assert_str_eq(text, "malformed message");
    raw_close(&r);
    /* A DIAL_RESPONSE instead of a DIAL. */
    raw_open(&loop, x, s, &r);
    ck_assert_int_eq(raw_exchange(&r, (const uint8_t *)"\x02\x08\x01", 3, text, sizeof text), AUTONAT_E_BAD_REQUEST);
    raw_close(&r);
    /* A DIAL for somebody else (y): never dialed. */
    ck_assert_int_eq(dial_request(&loop, x, s, p2p_host_peerid(y), &xa, 1, text, sizeof text), AUTONAT_E_BAD_REQUEST);
    ck_assert_str_eq(text, "peer id does not match the connection");
    /* A third party's address (another IP): refused, not dialed. */
    p2p_multiaddr third;
    ck_assert_int_eq(p2p_maddr_parse(&third, "/ip4/127.0.0.2/tcp/4001", NULL, 0), 0);
    ck_assert_int_eq(dial_request(&loop, x, s, p2p_host_peerid(x), &third, 1, text, sizeof text),
                     AUTONAT_E_DIAL_REFUSED);
    /* A frame longer than 4 KiB: the stream is reset. */
    raw_open(&loop, x, s, &r);
    static const uint8_t huge[] = { 0x81, 0x40, 0x08 };   /* 8193 bytes announced */
    ck_assert_int_eq(raw_exchange(&r, huge, sizeof huge, NULL, 0), -1);
    raw_close(&r);
    ck_assert_uint_eq(ast(s)->stats.dialbacks_ok + ast(s)->stats.dialbacks_failed, 0);
    ck_assert_uint_eq(ast(s)->stats.bad_requests, 3);

    /* A flood from one peer: rate_per_peer dial-backs per window, the
     * rest refused. */
    int ok = 0, refused = 0;
    for (int i = 0; i < 8; i++) {
        int st = dial_request(&loop, x, s, p2p_host_peerid(x), &xa, 1, text, sizeof text);
        if (st == AUTONAT_OK) {
            ok++;
        } else {
            ck_assert_int_eq(st, AUTONAT_E_DIAL_REFUSED);
            ck_assert_str_eq(text, "too many requests from this peer");
            refused++;
        }
    }
    ck_assert_int_eq(ok, 3);
    ck_assert_int_eq(refused, 5);
    /* Another peer is still served. */
    connect_to(&loop, y, s);
    p2p_multiaddr ya = ihost_addr(y);
    ck_assert_int_eq(dial_request(&loop, y, s, p2p_host_peerid(y), &ya, 1, NULL, 0), AUTONAT_OK);

    /* Silent streams: at most max_streams are held, each for read_timeout. */
    struct raw silent[6];
    for (int i = 0; i < 6; i++) raw_open(&loop, x, s, &silent[i]);
    ihost_run_for(&loop, 200);
    ck_assert_uint_le(ast(s)->nreqs, 4);
    int resets = 0;
    for (int i = 0; i < 6; i++) {
        ck_assert(ihost_run_until(&loop, &silent[i].done, 5000));
        resets += silent[i].reset;
    }
    ck_assert_int_eq(resets, 6);   /* two at once (over the limit), four after the timeout */
    for (int i = 0; i < 6; i++) raw_close(&silent[i]);
    ck_assert_uint_eq(ast(s)->nreqs, 0);
    ck_assert_uint_ge(ast(s)->stats.streams_dropped, 7);

    p2p_host_free(x);
    p2p_host_free(y);
    p2p_host_free(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- users of the status ------------------------------------------------------------ */

#define KAD_PROTO "/ipfs/kad/1.0.0"

struct kad_wait {
    p2p_host *c, *s;
    bool server;
};

static bool kad_mode_is(void *arg)
{
    struct kad_wait *w = arg;
    void *st;
    const struct p2p_routing_api_v1 *rt = p2p_service_get(w->c, P2P_ROUTING_SERVICE, 1, &st);
    bool registered = p2p_protocol_lookup(w->c, KAD_PROTO, NULL, NULL) == 0;
    bool seen = p2p_peerstore_supports(w->s, p2p_host_peerid(w->c), KAD_PROTO);
    bool mode = rt->mode(st) == (w->server ? P2P_ROUTING_SERVER : P2P_ROUTING_CLIENT);
    if (!w->server) return mode && !registered && !seen;
    /* A server: advertised (identify push), and in the server's table. */
    void *sst;
    const struct p2p_routing_api_v1 *srt = p2p_service_get(w->s, P2P_ROUTING_SERVICE, 1, &sst);
    struct p2p_routing_entry e[8];
    size_t n = srt->table(sst, e, 8);
    bool in_table = false;
    for (size_t i = 0; i < n && i < 8; i++) in_table |= p2p_peerid_equal(&e[i].id, p2p_host_peerid(w->c));
    return mode && registered && seen && in_table;
}

START_TEST(kad_auto_mode)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *s = new_host(&loop, "/ip4/127.0.0.1/tcp/0",
                           SERVER_SECTION "[plugin kad]\nmode = server\npersist = false\n");
    p2p_host *c = new_host(&loop, "/ip4/127.0.0.1/tcp/0", CLIENT_SECTION "[plugin kad]\nmode = auto\npersist = false\n");
    struct kad_wait kw = { .c = c, .s = s, .server = false };
    ck_assert(kad_mode_is(&kw));   /* a client until we know */
    connect_to(&loop, c, s);
    struct reach_wait w = { .h = c, .want = P2P_REACH_PUBLIC };
    ck_assert_msg(ihost_run_cond(&loop, reached, &w, 15000), "the client did not become public");
    kw.server = true;
    ck_assert_msg(ihost_run_cond(&loop, kad_mode_is, &kw, 10000), "kad did not become a server");
    /* The verdict flips (as if AutoNAT now found us private): a client
     * again, and the server learns it (identify push). */
    struct p2p_reachability_info ri = P2P_REACHABILITY_INFO_INIT;
    p2p_host_reachability(c, &ri);
    ri.status = P2P_REACH_PRIVATE;
    ck_assert_int_eq(p2p_host_set_reachability(c, &ri), 0);
    kw.server = false;
    ck_assert_msg(ihost_run_cond(&loop, kad_mode_is, &kw, 10000), "kad did not become a client again");
    p2p_host_free(c);
    p2p_host_free(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static size_t circuit_addrs(p2p_host *h)
{
    p2p_multiaddr a[32];
    size_t n = p2p_host_advertised_addrs(h, a, 32), k = 0;
    for (size_t i = 0; i < n && i < 32; i++) k += p2p_maddr_is_relayed(&a[i]);
    return k;
}

static bool has_circuit(void *arg)
{
    return circuit_addrs(arg) > 0;
}

static p2p_host *relay_client(uv_loop_t *loop, p2p_host *r, const char *listen, const char *reserve)
{
    char sec[2048], ra[P2P_MADDR_STRMAX], id[P2P_PEERID_STRMAX];
    p2p_multiaddr a = ihost_addr(r);
    p2p_maddr_to_string(&a, ra, sizeof ra);
    p2p_peerid_to_string(p2p_host_peerid(r), id, sizeof id);
    snprintf(sec, sizeof sec, CLIENT_SECTION "[plugin relay]\nrelays = %s/p2p/%s\nreserve = %s\n", ra, id, reserve);
    return new_host(loop, listen, sec);
}

START_TEST(relay_reserve_auto)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    /* R: a relay and AutoNAT server that dials loopback back; R2: an
     * AutoNAT server with the default policy (refuses loopback); R3: a
     * relay without AutoNAT. */
    p2p_host *r = new_host(&loop, "/ip4/127.0.0.1/tcp/0",
                           SERVER_SECTION "[plugin relay]\nserver = true\nclient = false\n");
    p2p_host *r2 = new_host(&loop, "/ip4/127.0.0.1/tcp/0", "[plugin autonat]\nserver = true\nclient = false\n");
    p2p_host *r3 = new_host(&loop, "/ip4/127.0.0.1/tcp/0", "[plugin relay]\nserver = true\nclient = false\n");
    /* Public: no reservation. */
    p2p_host *pub = relay_client(&loop, r, "/ip4/127.0.0.1/tcp/0, /p2p-circuit", "auto");
    /* Private (its only address has no listener): reserves. */
    p2p_host *priv = relay_client(&loop, r, "/p2p-circuit", "auto");
    p2p_multiaddr dead;
    closed_port_addr(&dead);
    ck_assert_int_eq(p2p_host_add_advertised_addr(priv, &dead), 0);
    /* Public but reserve = always: reserves. */
    p2p_host *always = relay_client(&loop, r, "/ip4/127.0.0.1/tcp/0, /p2p-circuit", "always");
    /* Unknown after probing (its only AutoNAT server refuses): reserves
     * on R3. */
    p2p_host *unk = relay_client(&loop, r3, "/ip4/127.0.0.1/tcp/0, /p2p-circuit", "auto");

    /* Nobody reserves before a verdict, except reserve = always. */
    ihost_run_for(&loop, 100);
    ck_assert_uint_eq(circuit_addrs(pub) + circuit_addrs(priv) + circuit_addrs(unk), 0);
    connect_to(&loop, pub, r);
    connect_to(&loop, priv, r);
    connect_to(&loop, unk, r2);
    struct reach_wait wp = { .h = pub, .want = P2P_REACH_PUBLIC };
    struct reach_wait wv = { .h = priv, .want = P2P_REACH_PRIVATE };
    struct reach_wait wu = { .h = unk, .want = P2P_REACH_UNKNOWN, .need_probed = true };
    ck_assert(ihost_run_cond(&loop, reached, &wp, 15000));
    ck_assert(ihost_run_cond(&loop, reached, &wv, 15000));
    ck_assert(ihost_run_cond(&loop, reached, &wu, 15000));
    ck_assert_msg(ihost_run_cond(&loop, has_circuit, priv, 15000), "a private peer did not reserve");
    ck_assert_msg(ihost_run_cond(&loop, has_circuit, unk, 15000), "an unknown-after-probing peer did not reserve");
    ck_assert_msg(ihost_run_cond(&loop, has_circuit, always, 15000), "reserve = always did not reserve");
    ihost_run_for(&loop, 500);
    ck_assert_uint_eq(circuit_addrs(pub), 0);
    /* The private peer becomes public (as if AutoNAT said so): its
     * reservation is released and its circuit address withdrawn. */
    struct p2p_reachability_info ri = P2P_REACHABILITY_INFO_INIT;
    p2p_host_reachability(priv, &ri);
    ri.status = P2P_REACH_PUBLIC;
    ck_assert_int_eq(p2p_host_set_reachability(priv, &ri), 0);
    ck_assert_uint_eq(circuit_addrs(priv), 0);
    p2p_host *all[] = { pub, priv, always, unk, r, r2, r3 };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) p2p_host_free(all[i]);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* Configuration errors are one sentence naming the key. */
START_TEST(bad_config)
{
    static const struct {
        const char *section, *want;
    } cases[] = {
        { "[plugin autonat]\nserver = true\nallow = public, nonsense\n", "allow: 'nonsense' is neither public" },
        { "[plugin autonat]\nclient = false\n", "neither client nor server" },
        { "[plugin autonat]\nmax_addresses = 33\n", "max_addresses" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024], err[1024];
        snprintf(text, sizeof text,
                 "[host]\nephemeral_identity = true\nlisten =\nlog = error\n[plugin transport-tcp]\n[plugin noise]\n"
                 "[plugin yamux]\n[plugin identify]\n%s", cases[i].section);
        p2p_conf *cf = p2p_conf_load_string(text, "bad.ini", err, sizeof err);
        p2p_host *h = NULL;
        int rc = cf ? p2p_host_new(&h, cf, NULL, err, sizeof err) : P2P_ECONFIG;
        ck_assert_int_lt(rc, 0);
        ck_assert_ptr_null(h);
        ck_assert_msg(strstr(err, cases[i].want), "case %zu: %s", i, err);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("autonat_net");
    TCase *tc = tcase_create("autonat");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, becomes_public);
    tcase_add_test(tc, becomes_private);
    tcase_add_test(tc, default_policy_refuses_loopback);
    tcase_add_test(tc, bad_requests);
    tcase_add_test(tc, kad_auto_mode);
    tcase_add_test(tc, relay_reserve_auto);
    tcase_add_test(tc, bad_config);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
