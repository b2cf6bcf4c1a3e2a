/* test_identify_ping.c - unit.identify_ping: the identify and ping plugins
 * between hosts in one process, on one loop, over real loopback TCP with
 * the transport-tcp, noise and yamux plugins, all loaded by the hosts'
 * loader from the build tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identify_msg.h"
#include "p2p/conn.h"
#include "p2p/identify.h"
#include "p2p/p2p.h"
#include "p2p/ping.h"
#include "testutil.h"

/* ---- loop helpers ------------------------------------------------------- */

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static void on_wake(uv_timer_t *t)
{
    (void)t;
}

/* One loop iteration, blocking at most ~10 ms. */
static void step(uv_loop_t *loop)
{
    uv_timer_t wake;
    uv_timer_init(loop, &wake);
    uv_timer_start(&wake, on_wake, 10, 0);
    uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

#define WAIT(loop, cond, ms)                                                   \
    ({                                                                         \
        uint64_t deadline_ = now_ms() + (ms);                                  \
        while (!(cond) && now_ms() < deadline_) step(loop);                    \
        (cond);                                                                \
    })

static p2p_multiaddr ma(const char *text)
{
    p2p_multiaddr m;
    char err[256];
    int rc = p2p_maddr_parse(&m, text, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", text, err);
    return m;
}

static const char *mastr(const p2p_multiaddr *m)
{
    static char buf[4][P2P_MADDR_STRMAX];
    static int i;
    i = (i + 1) % 4;
    if (p2p_maddr_to_string(m, buf[i], sizeof buf[i]) < 0) snprintf(buf[i], sizeof buf[i], "?");
    return buf[i];
}

/* ---- nodes ------------------------------------------------------------------- */

struct node {
    p2p_host *h;
    p2p_subscription *sub;
    int identified, connected, disconnected;
    p2p_conn *identified_conn;
    p2p_peerid identified_peer;
};

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct node *n = arg;
    switch (ev->type) {
    case P2P_EV_IDENTIFIED:
        n->identified++;
        n->identified_conn = ev->conn;
        n->identified_peer = *ev->peer;
        break;
    case P2P_EV_CONNECTED:
        n->connected++;
        break;
    case P2P_EV_DISCONNECTED:
        n->disconnected++;
        break;
    default:
        break;
    }
}

/* A started host listening on loopback with the connection stack, the
 * identify plugin (extra keys id_keys) and, if ping_keys is not NULL, the
 * ping plugin (with those keys). */
#define NO_IDENTIFY ((const char *)1)

static void node_start(struct node *n, uv_loop_t *loop, const char *id_keys, const char *ping_keys)
{
    char text[2048], err[512];
    const char *lvl = getenv("P2P_LOG");
    snprintf(text, sizeof text,
             "[host]\nephemeral_identity = true\nlog = %s\nlisten = /ip4/127.0.0.1/tcp/0\n"
             "[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n"
             "%s%s\n%s%s",
             lvl && *lvl ? lvl : "warn", id_keys == NO_IDENTIFY ? "" : "[plugin identify]\npush_delay = 50ms\n",
             id_keys && id_keys != NO_IDENTIFY ? id_keys : "", ping_keys ? "[plugin ping]\n" : "",
             ping_keys ? ping_keys : "");
    p2p_conf *cf = p2p_conf_load_string(text, "idping-test.ini", err, sizeof err);
    ck_assert_msg(cf != NULL, "%s", err);
    memset(n, 0, sizeof *n);
    struct p2p_host_opts o = { .loop = loop };
    int rc = p2p_host_new(&n->h, cf, &o, err, sizeof err);
    ck_assert_msg(rc == 0, "p2p_host_new: %s (are the transport-tcp, noise, yamux, identify and ping "
                  "plugins built?)", err);
    n->sub = p2p_host_subscribe(n->h, P2P_EV_ALL, on_event, n);
    ck_assert_ptr_nonnull(n->sub);
    rc = p2p_host_start(n->h, err, sizeof err);
    ck_assert_msg(rc == 0, "p2p_host_start: %s", err);
}

static void node_free(struct node *n)
{
    if (!n->h) return;
    p2p_host_unsubscribe(n->h, n->sub);
    p2p_host_free(n->h);
    n->h = NULL;
}

static void loop_close(uv_loop_t *loop)
{
    for (int i = 0; i < 100 && uv_loop_alive(loop); i++) uv_run(loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(uv_loop_close(loop), 0);
}

struct connect_result {
    int calls, status;
    p2p_conn *c;
};

static void on_connect(int status, p2p_conn *c, void *arg)
{
    struct connect_result *r = arg;
    r->calls++;
    r->status = status;
    r->c = c;
}

/* Connect a to b. */
static p2p_conn *dial(uv_loop_t *loop, struct node *a, struct node *b)
{
    p2p_multiaddr addrs[4];
    size_t n = p2p_host_listen_addrs(b->h, addrs, 4);
    ck_assert_uint_ge(n, 1);
    struct connect_result r = { 0 };
    ck_assert_int_eq(p2p_host_connect(a->h, p2p_host_peerid(b->h), addrs, n < 4 ? n : 4, on_connect, &r), 0);
    ck_assert_msg(WAIT(loop, r.calls, 10000), "no connect callback");
    ck_assert_msg(r.status == 0, "connect: %s", p2p_strerror(r.status));
    return r.c;
}

/* Connect a to b and wait until both identified each other. */
static p2p_conn *join(uv_loop_t *loop, struct node *a, struct node *b)
{
    int ia = a->identified, ib = b->identified;
    struct connect_result r = { .c = dial(loop, a, b) };
    ck_assert_msg(WAIT(loop, a->identified > ia && b->identified > ib, 10000),
                  "not identified (A %d, B %d)", a->identified - ia, b->identified - ib);
    return r.c;
}

static bool has_addr(p2p_host *h, const p2p_peerid *peer, const p2p_multiaddr *want)
{
    p2p_multiaddr got[32];
    size_t n = p2p_peerstore_addrs(h, peer, got, 32);
    for (size_t i = 0; i < n && i < 32; i++)
        if (p2p_maddr_equal(&got[i], want)) return true;
    return false;
}

/* The seq of the last signed peer record h verified and used from peer
 * (the plugin's peer store attribute), 0 if none. */
static uint64_t record_seq(p2p_host *h, const p2p_peerid *peer)
{
    const char *v = p2p_peerstore_attr(h, peer, ID_ATTR_PEER_RECORD_SEQ);
    return v ? strtoull(v, NULL, 10) : 0;
}

static const struct p2p_identify_api_v1 *id_api(p2p_host *h, void **st)
{
    const struct p2p_identify_api_v1 *api = p2p_service_get(h, P2P_IDENTIFY_SERVICE, 1, st);
    ck_assert_ptr_nonnull(api);
    return api;
}

/* ---- identify ---------------------------------------------------------------- */

START_TEST(identify_both_ways)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node a, b;
    node_start(&a, &loop, NULL, "periodic = false\n");
    node_start(&b, &loop, "agent_version = test-agent/2.0\nprotocol_version = /test/1.0.0\n", "periodic = false\n");
    const p2p_peerid *ida = p2p_host_peerid(a.h), *idb = p2p_host_peerid(b.h);
    p2p_conn *c = join(&loop, &a, &b);
    p2p_conn *cb = p2p_host_conn_to(b.h, ida);
    ck_assert_ptr_nonnull(cb);

    /* The events name the connection and the peer. */
    ck_assert_int_eq(a.identified, 1);
    ck_assert_ptr_eq(a.identified_conn, c);
    ck_assert(p2p_peerid_equal(&a.identified_peer, idb));
    ck_assert_ptr_eq(b.identified_conn, cb);
    ck_assert(p2p_peerid_equal(&b.identified_peer, ida));

    /* What A learnt about B. */
    const char *want[] = { "/ipfs/id/1.0.0", "/ipfs/id/push/1.0.0", "/ipfs/ping/1.0.0" };
    for (size_t i = 0; i < 3; i++) {
        ck_assert_msg(p2p_peerstore_supports(a.h, idb, want[i]), "A: B lacks %s", want[i]);
        ck_assert_msg(p2p_peerstore_supports(b.h, ida, want[i]), "B: A lacks %s", want[i]);
    }
    ck_assert_str_eq(p2p_peerstore_attr(a.h, idb, P2P_ATTR_AGENT), "test-agent/2.0");
    ck_assert_str_eq(p2p_peerstore_attr(a.h, idb, P2P_ATTR_PROTOCOL_VERSION), "/test/1.0.0");
    char agent[64];
    snprintf(agent, sizeof agent, "p2pchat/%s", p2p_version());
    ck_assert_str_eq(p2p_peerstore_attr(b.h, ida, P2P_ATTR_AGENT), agent);
    ck_assert_str_eq(p2p_peerstore_attr(b.h, ida, P2P_ATTR_PROTOCOL_VERSION), "ipfs/0.1.0");
    p2p_pubkey key;
    ck_assert(p2p_peerstore_key(b.h, ida, &key));
    ck_assert(p2p_peerid_matches(ida, &key));
    /* Each verified the other's signed peer record and took its addresses. */
    uint64_t seq_a = record_seq(b.h, ida), seq_b = record_seq(a.h, idb);
    ck_assert_msg(seq_a > 0, "B did not use a signed peer record of A");
    ck_assert_msg(seq_b > 0, "A did not use a signed peer record of B");

    /* Listen addresses: B only knows A's through identify (A dialed). */
    p2p_multiaddr la[4], lb[4];
    ck_assert_uint_ge(p2p_host_listen_addrs(a.h, la, 4), 1);
    ck_assert_uint_ge(p2p_host_listen_addrs(b.h, lb, 4), 1);
    ck_assert_msg(has_addr(b.h, ida, &la[0]), "B lacks A's listen address %s", mastr(&la[0]));
    ck_assert(has_addr(a.h, idb, &lb[0]));

    /* Observed addresses: each side's view of the other's connection. */
    void *sta, *stb;
    const struct p2p_identify_api_v1 *apia = id_api(a.h, &sta), *apib = id_api(b.h, &stb);
    struct p2p_identify_observed obs[4];
    ck_assert_uint_eq(apia->observed_addrs(sta, obs, 4), 1);
    ck_assert_msg(p2p_maddr_equal(&obs[0].addr, p2p_conn_local_addr(c)), "A observed as %s, local %s",
                  mastr(&obs[0].addr), mastr(p2p_conn_local_addr(c)));
    ck_assert_uint_eq(obs[0].observers, 1);
    ck_assert_uint_eq(obs[0].outbound_observers, 1);
    ck_assert_uint_eq(apib->observed_addrs(stb, obs, 4), 1);
    ck_assert_msg(p2p_maddr_equal(&obs[0].addr, &lb[0]), "B observed as %s, listens on %s",
                  mastr(&obs[0].addr), mastr(&lb[0]));
    ck_assert_uint_eq(obs[0].observers, 1);
    ck_assert_uint_eq(obs[0].outbound_observers, 0);
    ck_assert(apia->identified(sta, c));
    ck_assert(apib->identified(stb, cb));

    /* Closing forgets the connection's observation. */
    p2p_conn_close(c);
    ck_assert(WAIT(&loop, a.disconnected && b.disconnected, 10000));
    ck_assert_uint_eq(apia->observed_addrs(sta, obs, 4), 0);
    ck_assert_uint_eq(apib->observed_addrs(stb, obs, 4), 0);
    /* The identified addresses outlive the connection (addr_ttl). */
    ck_assert(has_addr(b.h, ida, &la[0]));

    /* Connecting again: A's addresses did not change, nor did its record
     * (the cached envelope, same seq). */
    join(&loop, &b, &a);
    ck_assert_uint_eq(record_seq(b.h, ida), seq_a);
    ck_assert_uint_eq(record_seq(a.h, idb), seq_b);

    node_free(&a);
    node_free(&b);
    loop_close(&loop);
}
END_TEST

static void dummy_handler(p2p_stream *s, const char *protocol_id, void *arg)
{
    (void)protocol_id;
    (void)arg;
    p2p_stream_reset(s);
    p2p_stream_close(s);
}

START_TEST(push_updates)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node a, b;
    node_start(&a, &loop, NULL, "periodic = false\n");
    node_start(&b, &loop, NULL, "periodic = false\n");
    const p2p_peerid *idb = p2p_host_peerid(b.h);
    join(&loop, &a, &b);

    /* A new protocol on B reaches A by push. */
    ck_assert(!p2p_peerstore_supports(a.h, idb, "/test/echo/1.0.0"));
    ck_assert_int_eq(p2p_protocol_add(b.h, "/test/echo/1.0.0", dummy_handler, NULL), 0);
    ck_assert_msg(WAIT(&loop, p2p_peerstore_supports(a.h, idb, "/test/echo/1.0.0"), 5000),
                  "the push of a new protocol did not arrive (is P2P_EV_PROTOCOLS_CHANGED emitted?)");
    ck_assert(p2p_peerstore_supports(a.h, idb, "/ipfs/ping/1.0.0"));   /* the whole list, not just the new one */
    /* So does its removal. */
    ck_assert_int_eq(p2p_protocol_remove(b.h, "/test/echo/1.0.0"), 0);
    ck_assert(WAIT(&loop, !p2p_peerstore_supports(a.h, idb, "/test/echo/1.0.0"), 5000));
    /* And a new advertised address. */
    p2p_multiaddr extra = ma("/ip4/127.0.0.1/tcp/9");
    ck_assert(!has_addr(a.h, idb, &extra));
    uint64_t seq = record_seq(a.h, idb);
    ck_assert_uint_gt(seq, 0);
    ck_assert_int_eq(p2p_host_add_advertised_addr(b.h, &extra), 0);
    ck_assert_msg(WAIT(&loop, has_addr(a.h, idb, &extra), 5000), "the push of a new address did not arrive");
    /* It came in a new signed peer record, with a higher seq. */
    ck_assert_uint_gt(record_seq(a.h, idb), seq);
    /* Pushes do not identify again. */
    ck_assert_int_eq(a.identified, 1);

    node_free(&a);
    node_free(&b);
    loop_close(&loop);
}
END_TEST

/* A peer (C, without the identify plugin) answers identify by hand. */
enum evil_mode { EVIL_VALID, EVIL_WRONG_KEY, EVIL_OVERSIZE, EVIL_GARBAGE, EVIL_HANG };

/* The signed peer record C sends: none, its own, or one of another key. */
enum evil_record { REC_NONE, REC_VALID, REC_OTHER_KEY };

struct evil {
    enum evil_mode mode;
    p2p_host *h;
    const char *agent;
    int calls, ended;
    p2p_stream *s;       /* held until the other side ends it */
    const char *listen;  /* a listen address to send, or NULL */
    enum evil_record rec;
    uint64_t rec_seq;
    const char *rec_addr;
};

static void evil_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s; (void)d; (void)n; (void)arg;
}
static void evil_end(struct evil *e)
{
    e->ended++;
    p2p_stream_close(e->s);
    e->s = NULL;
}
static void evil_eof(p2p_stream *s, void *arg) { (void)s; evil_end(arg); }
static void evil_error(p2p_stream *s, int err, void *arg) { (void)s; (void)err; evil_end(arg); }
static const struct p2p_stream_handlers evil_handlers = { evil_read, evil_eof, evil_error, NULL };

/* An Identify message from C to the peer on conn c. */
static void evil_message(struct evil *e, p2p_conn *c, bool wrong_key, const char *agent, bool with_protocols,
                         p2p_buf *b)
{
    p2p_pubkey pub;
    p2p_keypair other;
    if (wrong_key) {
        p2p_keypair_from_seed_byte(&other, 99);
        p2p_keypair_public(&other, &pub);
    } else {
        p2p_keypair_public(p2p_host_keypair(e->h), &pub);
    }
    const char *protos[] = { "/ipfs/id/1.0.0", "/x/1" };
    p2p_multiaddr listen;
    if (e->listen) listen = ma(e->listen);
    uint8_t *env = NULL;
    size_t envlen = 0;
    if (e->rec != REC_NONE) {
        p2p_keypair rk;
        if (e->rec == REC_OTHER_KEY) p2p_keypair_from_seed_byte(&rk, 98);
        const p2p_keypair *kp = e->rec == REC_OTHER_KEY ? &rk : p2p_host_keypair(e->h);
        p2p_peer_record *rec = calloc(1, sizeof *rec);
        ck_assert_ptr_nonnull(rec);
        p2p_pubkey rpub;
        p2p_keypair_public(kp, &rpub);
        ck_assert_int_eq(p2p_peerid_from_pubkey(&rec->id, &rpub), 0);
        rec->seq = e->rec_seq;
        rec->addrs[rec->naddrs++] = ma(e->rec_addr);
        ck_assert_int_eq(p2p_peer_record_seal(kp, rec, &env, &envlen), 0);
        free(rec);
    }
    struct id_out m = {
        .protocol_version = "ipfs/0.1.0",
        .agent_version = agent,
        .public_key = &pub,
        .listen_addrs = e->listen ? &listen : NULL,
        .n_listen_addrs = e->listen ? 1 : 0,
        .observed_addr = p2p_conn_remote_addr(c),
        .protocols = with_protocols ? protos : NULL,
        .n_protocols = with_protocols ? 2 : 0,
        .signed_peer_record = env,
        .signed_peer_record_len = envlen,
    };
    p2p_buf_init(b, 0);
    struct id_encoded enc;
    ck_assert_int_gt(id_msg_encode(&m, ID_OWN_MAX, b, &enc), 0);
    ck_assert_int_eq(enc.record, env ? ID_RECORD_INLINE : ID_RECORD_NONE);
    free(env);
}

static void evil_handler(p2p_stream *s, const char *protocol_id, void *arg)
{
    (void)protocol_id;
    struct evil *e = arg;
    e->calls++;
    e->s = s;
    p2p_stream_set_handlers(s, &evil_handlers, e);
    p2p_stream_read_start(s);
    p2p_buf b;
    p2p_buf_init(&b, 0);
    switch (e->mode) {
    case EVIL_VALID:
    case EVIL_HANG:
        evil_message(e, p2p_stream_conn(s), false, e->agent, true, &b);
        break;
    case EVIL_WRONG_KEY:
        evil_message(e, p2p_stream_conn(s), true, e->agent, true, &b);
        break;
    case EVIL_OVERSIZE:
        ck_assert_int_eq(p2p_buf_append_varint(&b, 9000), 0);
        for (int i = 0; i < 9000; i++) ck_assert_int_eq(p2p_buf_append_byte(&b, 0x2a), 0);
        break;
    case EVIL_GARBAGE:
        ck_assert_int_eq(p2p_buf_append(&b, "\x05\xff\xff\xff\xff\xff", 6), 0);
        break;
    }
    ck_assert_int_eq(p2p_stream_write(s, p2p_buf_head(&b), b.len), 0);
    p2p_buf_free(&b);
    if (e->mode != EVIL_HANG) ck_assert_int_eq(p2p_stream_shutdown(s), 0);
}

struct pusher {
    struct evil *e;
    bool wrong_key;
    const char *agent;
    int opened, ended;
    p2p_stream *s;
};

static void push_eof(p2p_stream *s, void *arg)
{
    struct pusher *p = arg;
    p->ended++;
    p2p_stream_close(s);
    p->s = NULL;
}
static void push_error(p2p_stream *s, int err, void *arg) { (void)err; push_eof(s, arg); }
static const struct p2p_stream_handlers push_handlers = { evil_read, push_eof, push_error, NULL };

static void push_open(int status, p2p_stream *s, void *arg)
{
    struct pusher *p = arg;
    p->opened++;
    ck_assert_msg(status == 0, "push open: %s", p2p_strerror(status));
    p->s = s;
    p2p_stream_set_handlers(s, &push_handlers, p);
    p2p_stream_read_start(s);
    p2p_buf b;
    evil_message(p->e, p2p_stream_conn(s), p->wrong_key, p->agent, false, &b);
    ck_assert_int_eq(p2p_stream_write(s, p2p_buf_head(&b), b.len), 0);
    p2p_buf_free(&b);
    ck_assert_int_eq(p2p_stream_shutdown(s), 0);
}

/* C pushes a message without protocols to A and waits until A is done. */
static void evil_push(uv_loop_t *loop, struct evil *e, p2p_conn *cc, bool wrong_key, const char *agent)
{
    const char *protos[] = { ID_PUSH_PROTOCOL_ID, NULL };
    struct pusher p = { .e = e, .wrong_key = wrong_key, .agent = agent };
    ck_assert_int_eq(p2p_conn_open_stream(cc, protos, push_open, &p), 0);
    ck_assert(WAIT(loop, p.ended, 5000));
}

START_TEST(identify_validation)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node a, c;
    node_start(&a, &loop, "timeout = 1s\n", "periodic = false\n");
    node_start(&c, &loop, NO_IDENTIFY, "periodic = false\n");
    const p2p_peerid *ida = p2p_host_peerid(a.h), *idc = p2p_host_peerid(c.h);
    struct evil e = { .h = c.h, .agent = "evil/1" };
    ck_assert_int_eq(p2p_protocol_add(c.h, ID_PROTOCOL_ID, evil_handler, &e), 0);
    void *sta;
    const struct p2p_identify_api_v1 *apia = id_api(a.h, &sta);
    struct p2p_identify_observed obs[2];

    /* Rejected responses: no P2P_EV_IDENTIFIED, nothing stored. */
    enum evil_mode bad[] = { EVIL_WRONG_KEY, EVIL_OVERSIZE, EVIL_GARBAGE, EVIL_HANG };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        e.mode = bad[i];
        e.calls = e.ended = 0;
        p2p_conn *conn = dial(&loop, &a, &c);
        ck_assert(WAIT(&loop, e.calls == 1, 5000));
        ck_assert_msg(WAIT(&loop, e.ended == 1, 5000), "mode %d: A kept the identify stream", bad[i]);
        for (int k = 0; k < 5; k++) step(&loop);
        ck_assert_msg(a.identified == 0, "mode %d identified", bad[i]);
        ck_assert_ptr_null(p2p_peerstore_attr(a.h, idc, P2P_ATTR_AGENT));
        ck_assert(!p2p_peerstore_supports(a.h, idc, "/x/1"));
        ck_assert_uint_eq(apia->observed_addrs(sta, obs, 2), 0);
        ck_assert(!apia->identified(sta, conn));
        int d = a.disconnected;
        p2p_conn_close(conn);
        ck_assert(WAIT(&loop, a.disconnected > d, 5000));
    }

    /* A valid response with a signed peer record: its addresses are
     * stored, not listenAddrs. */
    e.mode = EVIL_VALID;
    e.agent = "c-agent/1";
    e.calls = e.ended = 0;
    e.listen = "/ip4/127.0.0.1/tcp/1001";
    e.rec = REC_VALID;
    e.rec_seq = 100;
    e.rec_addr = "/ip4/127.0.0.1/tcp/2001";
    dial(&loop, &a, &c);
    ck_assert(WAIT(&loop, a.identified == 1, 5000));
    ck_assert_str_eq(p2p_peerstore_attr(a.h, idc, P2P_ATTR_AGENT), "c-agent/1");
    ck_assert(p2p_peerstore_supports(a.h, idc, "/x/1"));
    ck_assert_uint_eq(apia->observed_addrs(sta, obs, 2), 1);
    p2p_multiaddr l1 = ma("/ip4/127.0.0.1/tcp/1001"), r1 = ma("/ip4/127.0.0.1/tcp/2001");
    ck_assert(has_addr(a.h, idc, &r1));
    ck_assert(!has_addr(a.h, idc, &l1));
    ck_assert_uint_eq(record_seq(a.h, idc), 100);
    p2p_conn *cc = p2p_host_conn_to(c.h, ida);
    ck_assert_ptr_nonnull(cc);

    /* Pushes: partial updates, and a forged one. */
    e.listen = NULL;
    e.rec = REC_NONE;
    evil_push(&loop, &e, cc, false, "c-agent/2");
    ck_assert_str_eq(p2p_peerstore_attr(a.h, idc, P2P_ATTR_AGENT), "c-agent/2");
    ck_assert(p2p_peerstore_supports(a.h, idc, "/x/1"));   /* no protocols in the push: kept */
    evil_push(&loop, &e, cc, true, "forged");
    ck_assert_str_eq(p2p_peerstore_attr(a.h, idc, P2P_ATTR_AGENT), "c-agent/2");
    ck_assert_int_eq(a.identified, 1);

    /* A record signed by another key is ignored, not the message: its
     * listenAddrs are used. */
    e.listen = "/ip4/127.0.0.1/tcp/1002";
    e.rec = REC_OTHER_KEY;
    e.rec_seq = 200;
    e.rec_addr = "/ip4/127.0.0.1/tcp/2002";
    evil_push(&loop, &e, cc, false, "c-agent/3");
    ck_assert_str_eq(p2p_peerstore_attr(a.h, idc, P2P_ATTR_AGENT), "c-agent/3");
    p2p_multiaddr l2 = ma("/ip4/127.0.0.1/tcp/1002"), r2 = ma("/ip4/127.0.0.1/tcp/2002");
    ck_assert(has_addr(a.h, idc, &l2));
    ck_assert(!has_addr(a.h, idc, &r2));
    ck_assert_uint_eq(record_seq(a.h, idc), 100);
    /* So is an older record of C's own. */
    e.listen = "/ip4/127.0.0.1/tcp/1003";
    e.rec = REC_VALID;
    e.rec_seq = 99;
    e.rec_addr = "/ip4/127.0.0.1/tcp/2003";
    evil_push(&loop, &e, cc, false, "c-agent/4");
    ck_assert_str_eq(p2p_peerstore_attr(a.h, idc, P2P_ATTR_AGENT), "c-agent/4");
    p2p_multiaddr l3 = ma("/ip4/127.0.0.1/tcp/1003"), r3 = ma("/ip4/127.0.0.1/tcp/2003");
    ck_assert(has_addr(a.h, idc, &l3));
    ck_assert(!has_addr(a.h, idc, &r3));
    ck_assert_uint_eq(record_seq(a.h, idc), 100);
    /* A newer one is used. */
    e.listen = "/ip4/127.0.0.1/tcp/1004";
    e.rec_seq = 101;
    e.rec_addr = "/ip4/127.0.0.1/tcp/2004";
    evil_push(&loop, &e, cc, false, "c-agent/5");
    p2p_multiaddr l4 = ma("/ip4/127.0.0.1/tcp/1004"), r4 = ma("/ip4/127.0.0.1/tcp/2004");
    ck_assert(has_addr(a.h, idc, &r4));
    ck_assert(!has_addr(a.h, idc, &l4));
    ck_assert_uint_eq(record_seq(a.h, idc), 101);
    ck_assert_int_eq(a.identified, 1);
    if (e.s) p2p_stream_close(e.s);

    node_free(&a);
    node_free(&c);
    loop_close(&loop);
}
END_TEST

/* ---- ping ---------------------------------------------------------------------- */

struct pings {
    int calls, lasts, status;
    uint64_t rtt[8];
};

static void on_pong(int status, uint64_t rtt_us, bool last, void *arg)
{
    struct pings *p = arg;
    if (p->calls < 8) p->rtt[p->calls] = rtt_us;
    p->calls++;
    if (last) p->lasts++;
    if (status) p->status = status;
}

START_TEST(ping_service)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node a, b;
    node_start(&a, &loop, NULL, "periodic = false\n");
    node_start(&b, &loop, NULL, "periodic = false\n");
    const p2p_peerid *ida = p2p_host_peerid(a.h), *idb = p2p_host_peerid(b.h);
    join(&loop, &a, &b);
    void *st;
    const struct p2p_ping_api_v1 *ping = p2p_service_get(a.h, P2P_PING_SERVICE, 1, &st);
    ck_assert_ptr_nonnull(ping);
    struct pings r = { 0 };
    ck_assert_int_eq(ping->ping(st, idb, 0, on_pong, &r), P2P_EINVAL);
    ck_assert_int_eq(ping->ping(st, ida, 1, on_pong, &r), P2P_EINVAL);
    ck_assert_int_eq(ping->ping(st, idb, 3, on_pong, &r), 0);
    ck_assert_int_eq(r.calls, 0);   /* never from inside ping() */
    ck_assert(WAIT(&loop, r.lasts, 10000));
    ck_assert_msg(r.status == 0, "ping: %s", p2p_strerror(r.status));
    ck_assert_int_eq(r.calls, 3);
    ck_assert_int_eq(r.lasts, 1);
    for (int i = 0; i < 3; i++) ck_assert_uint_gt(r.rtt[i], 0);
    ck_assert_uint_gt(p2p_peerstore_rtt(a.h, idb), 0);
    /* Two requests at once share the stream; and the other direction. */
    struct pings r2 = { 0 }, r3 = { 0 }, r4 = { 0 };
    ck_assert_int_eq(ping->ping(st, idb, 2, on_pong, &r2), 0);
    ck_assert_int_eq(ping->ping(st, idb, 1, on_pong, &r3), 0);
    void *stb;
    const struct p2p_ping_api_v1 *pingb = p2p_service_get(b.h, P2P_PING_SERVICE, 1, &stb);
    ck_assert_int_eq(pingb->ping(stb, ida, 1, on_pong, &r4), 0);
    ck_assert(WAIT(&loop, r2.lasts && r3.lasts && r4.lasts, 10000));
    ck_assert_int_eq(r2.calls + r3.calls + r4.calls, 4);
    ck_assert_int_eq(r2.status | r3.status | r4.status, 0);
    ck_assert_uint_gt(p2p_peerstore_rtt(b.h, ida), 0);

    node_free(&a);
    node_free(&b);
    loop_close(&loop);
}
END_TEST

/* Periodic pings store RTTs without being asked. */
START_TEST(ping_periodic)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node a, b;
    /* B resets idle ping streams between A's rounds: A opens a new one
     * each time, which is no failure (one would close the connection). */
    node_start(&a, &loop, NULL, "interval = 400ms\nmax_failures = 1\n");
    node_start(&b, &loop, NULL, "periodic = false\ninbound_timeout = 200ms\n");
    const p2p_peerid *ida = p2p_host_peerid(a.h), *idb = p2p_host_peerid(b.h);
    join(&loop, &a, &b);
    ck_assert(WAIT(&loop, p2p_peerstore_rtt(a.h, idb) > 0, 5000));
    ck_assert_uint_eq(p2p_peerstore_rtt(b.h, ida), 0);   /* B does not ping */
    for (int i = 0; i < 3; i++) {
        p2p_peerstore_set_rtt(a.h, idb, 0);
        ck_assert(WAIT(&loop, p2p_peerstore_rtt(a.h, idb) > 0, 5000));
    }
    ck_assert_int_eq(a.disconnected, 0);
    node_free(&a);
    node_free(&b);
    loop_close(&loop);
}
END_TEST

START_TEST(ping_unsupported)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node a, c;
    node_start(&a, &loop, NULL, "periodic = false\n");
    node_start(&c, &loop, NULL, NULL);   /* no ping plugin */
    const p2p_peerid *idc = p2p_host_peerid(c.h);
    join(&loop, &a, &c);
    ck_assert(p2p_peerstore_supports(a.h, idc, "/ipfs/id/1.0.0"));
    ck_assert(!p2p_peerstore_supports(a.h, idc, "/ipfs/ping/1.0.0"));
    void *st;
    const struct p2p_ping_api_v1 *ping = p2p_service_get(a.h, P2P_PING_SERVICE, 1, &st);
    struct pings r = { 0 };
    ck_assert_int_eq(ping->ping(st, idc, 2, on_pong, &r), 0);
    ck_assert(WAIT(&loop, r.lasts, 10000));
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.status, P2P_ENEGOTIATE);
    node_free(&a);
    node_free(&c);
    loop_close(&loop);
}
END_TEST

/* A peer whose ping handler misbehaves: wrong echoes, then none. */
struct bad_pong {
    bool silent;
    p2p_stream *s[4];
    int n;
};

static void bad_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    struct bad_pong *b = arg;
    if (b->silent) return;
    uint8_t out[64];
    size_t k = n < sizeof out ? n : sizeof out;
    for (size_t i = 0; i < k; i++) out[i] = (uint8_t)(d[i] ^ 0xff);
    p2p_stream_write(s, out, k);
}
static void bad_end(p2p_stream *s, void *arg)
{
    struct bad_pong *b = arg;
    for (int i = 0; i < b->n; i++)
        if (b->s[i] == s) b->s[i] = NULL;
    p2p_stream_close(s);
}
static void bad_error(p2p_stream *s, int err, void *arg) { (void)err; bad_end(s, arg); }
static const struct p2p_stream_handlers bad_handlers = { bad_read, bad_end, bad_error, NULL };

static void bad_ping_handler(p2p_stream *s, const char *protocol_id, void *arg)
{
    (void)protocol_id;
    struct bad_pong *b = arg;
    ck_assert_int_lt(b->n, 4);
    b->s[b->n++] = s;
    p2p_stream_set_handlers(s, &bad_handlers, b);
    p2p_stream_read_start(s);
}

START_TEST(ping_failures)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node a, c;
    node_start(&a, &loop, NULL, "periodic = false\ntimeout = 300ms\nmax_failures = 2\n");
    node_start(&c, &loop, NULL, NULL);   /* no ping plugin: the test answers */
    struct bad_pong bp = { 0 };
    ck_assert_int_eq(p2p_protocol_add(c.h, P2P_PING_PROTOCOL, bad_ping_handler, &bp), 0);
    const p2p_peerid *idc = p2p_host_peerid(c.h);
    join(&loop, &a, &c);
    void *st;
    const struct p2p_ping_api_v1 *ping = p2p_service_get(a.h, P2P_PING_SERVICE, 1, &st);
    /* A wrong echo. */
    struct pings r = { 0 };
    ck_assert_int_eq(ping->ping(st, idc, 3, on_pong, &r), 0);
    ck_assert(WAIT(&loop, r.lasts, 5000));
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.status, P2P_EPROTO);
    ck_assert_int_eq(a.disconnected, 0);   /* one failure: max_failures is 2 */
    /* No echo: a timeout, the second failure in a row, closes the connection. */
    bp.silent = true;
    struct pings r2 = { 0 };
    uint64_t t0 = now_ms();
    ck_assert_int_eq(ping->ping(st, idc, 1, on_pong, &r2), 0);
    ck_assert(WAIT(&loop, r2.lasts, 5000));
    ck_assert_int_eq(r2.status, P2P_ETIMEDOUT);
    ck_assert_uint_ge(now_ms() - t0, 250);
    ck_assert(WAIT(&loop, a.disconnected == 1, 5000));
    ck_assert_uint_eq(p2p_peerstore_rtt(a.h, idc), 0);
    for (int i = 0; i < bp.n; i++)
        if (bp.s[i]) p2p_stream_close(bp.s[i]);
    node_free(&a);
    node_free(&c);
    loop_close(&loop);
}
END_TEST

/* The responder, driven by hand: echoes, and refuses a third stream. */
struct raw {
    int opened, status, errors, eof;
    p2p_stream *s;
    uint8_t got[64];
    size_t len;
};

static void raw_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s;
    struct raw *r = arg;
    size_t k = n < sizeof r->got - r->len ? n : sizeof r->got - r->len;
    memcpy(r->got + r->len, d, k);
    r->len += k;
}
static void raw_eof(p2p_stream *s, void *arg) { (void)s; ((struct raw *)arg)->eof++; }
static void raw_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    (void)err;
    ((struct raw *)arg)->errors++;
}
static const struct p2p_stream_handlers raw_handlers = { raw_read, raw_eof, raw_error, NULL };

static void raw_open(int status, p2p_stream *s, void *arg)
{
    struct raw *r = arg;
    r->opened++;
    r->status = status;
    r->s = s;
    if (s) {
        p2p_stream_set_handlers(s, &raw_handlers, r);
        p2p_stream_read_start(s);
    }
}

START_TEST(ping_responder_limits)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node a, b;
    node_start(&a, &loop, NULL, "periodic = false\n");
    node_start(&b, &loop, NULL, "periodic = false\ninbound_timeout = 1s\n");
    p2p_conn *c = join(&loop, &a, &b);
    const char *protos[] = { P2P_PING_PROTOCOL, NULL };
    struct raw r[3];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(p2p_conn_open_stream(c, protos, raw_open, &r[i]), 0);
        ck_assert(WAIT(&loop, r[i].opened, 5000));
        ck_assert_msg(r[i].status == 0, "open %d: %s", i, p2p_strerror(r[i].status));
    }
    /* The third stream from the same peer is reset by B. */
    ck_assert(WAIT(&loop, r[2].errors, 5000));
    /* The first echoes payloads, split or joined. */
    uint8_t pl[64];
    for (int i = 0; i < 64; i++) pl[i] = (uint8_t)(i * 7 + 1);
    ck_assert_int_eq(p2p_stream_write(r[0].s, pl, 10), 0);
    ck_assert_int_eq(p2p_stream_write(r[0].s, pl + 10, 54), 0);
    ck_assert(WAIT(&loop, r[0].len == 64, 5000));
    ck_assert_mem_eq(r[0].got, pl, 64);
    /* A half-close gets the echo finished and a close back. */
    ck_assert_int_eq(p2p_stream_write(r[1].s, pl, 32), 0);
    ck_assert_int_eq(p2p_stream_shutdown(r[1].s), 0);
    ck_assert(WAIT(&loop, r[1].eof, 5000));
    ck_assert_uint_eq(r[1].len, 32);
    /* An idle stream is reset after inbound_timeout. */
    ck_assert(WAIT(&loop, r[0].errors, 5000));
    for (int i = 0; i < 3; i++)
        if (r[i].s) p2p_stream_close(r[i].s);
    node_free(&a);
    node_free(&b);
    loop_close(&loop);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("identify_ping");
    TCase *tc = tcase_create("two_hosts");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, identify_both_ways);
    tcase_add_test(tc, push_updates);
    tcase_add_test(tc, identify_validation);
    tcase_add_test(tc, ping_service);
    tcase_add_test(tc, ping_periodic);
    tcase_add_test(tc, ping_unsupported);
    tcase_add_test(tc, ping_failures);
    tcase_add_test(tc, ping_responder_limits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
