/* itest_kad_ops.c - unit.kad_ops: the "routing" v2 service over loopback
 * TCP with the real plugins (four DHT servers in one process):
 *
 *  - cancel: of an operation that has not sent anything yet, of a lookup
 *    held up by a peer that never answers (its requests are abandoned),
 *    and from inside a discovery event raised while a response is being
 *    processed; each callback runs exactly once, with P2P_ECANCELED,
 *    before cancel returns, and a second cancel is P2P_ENOTFOUND;
 *  - republishing: a value put by a node is put again by it every
 *    republish_interval (the copies at others come back after being
 *    dropped), until stop_publishing; max_published;
 *  - response_addrs = public: a node configured so leaves loopback
 *    addresses out of its answers, so a lookup through it finds nobody
 *    else, while the same lookup through a default node finds everyone;
 *  - an ADD_PROVIDER whose provider record has no address (rust-libp2p
 *    before it knows an external address) is kept and served.
 *
 * The test reaches into the plugin's state (plugin_int.h) for counters and
 * stores, as kad_debug_stats does. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ihost.h"
#include "plugin_int.h"
#include "testutil.h"

enum { N = 4 };

struct node {
    p2p_host *h;
    const struct p2p_routing_api_v2 *rt;
    void *st;
};

static struct kad *kad_of(struct node *n)
{
    return n->st;
}

static void node_make(uv_loop_t *loop, struct node *n, const char *kad_keys)
{
    char sections[4096];
    snprintf(sections, sizeof sections,
             "[plugin identify]\n[plugin ping]\n[plugin kad]\nmode = server\npersist = false\n"
             "request_timeout = 5s\nquery_timeout = 20s\n%s\n",
             kad_keys ? kad_keys : "");
    n->h = ihost_new(loop, "close_timeout = 300ms", sections);
    ihost_start(n->h);
    n->rt = p2p_service_get(n->h, P2P_ROUTING_SERVICE, 2, &n->st);
    ck_assert_ptr_nonnull(n->rt);
    /* v1 is still there, on the same state */
    void *st1;
    ck_assert_ptr_nonnull(p2p_service_get(n->h, P2P_ROUTING_SERVICE, 1, &st1));
    ck_assert_ptr_eq(st1, n->st);
}

static void bootstrap_line(struct node *n, char *out, size_t cap)
{
    p2p_multiaddr a = ihost_addr(n->h);
    char s[P2P_MADDR_STRMAX], id[P2P_PEERID_STRMAX];
    p2p_maddr_to_string(&a, s, sizeof s);
    p2p_peerid_to_string(p2p_host_peerid(n->h), id, sizeof id);
    snprintf(out, cap, "bootstrap = %s/p2p/%s", s, id);
}

/* ---- callbacks that count ---------------------------------------------------- */

struct res {
    int calls;
    int status;
    size_t n;
    p2p_peerid ids[32];
};

static void on_done(int status, size_t count, void *arg)
{
    struct res *r = arg;
    r->calls++;
    r->status = status;
    r->n = count;
}

static void on_peers(int status, const struct p2p_routing_peer *p, size_t n, void *arg)
{
    struct res *r = arg;
    r->calls++;
    r->status = status;
    r->n = n;
    for (size_t i = 0; i < n && i < 32; i++) r->ids[i] = p[i].id;
    ck_assert(status == 0 || n == 0);
}

static void on_value(int status, const uint8_t *v, size_t len, void *arg)
{
    struct res *r = arg;
    r->calls++;
    r->status = status;
    ck_assert(status == 0 || (v == NULL && len == 0));
}

static bool called(void *arg)
{
    return ((struct res *)arg)->calls > 0;
}

static bool has_id(const struct res *r, const p2p_peerid *id)
{
    for (size_t i = 0; i < r->n && i < 32; i++)
        if (p2p_peerid_equal(&r->ids[i], id)) return true;
    return false;
}

/* ---- a peer that accepts TCP connections and never says a word ------------------ */

struct blackhole {
    uv_tcp_t server;
    uv_tcp_t conns[8];
    int nconns;
    int port;
};

static void bh_on_conn(uv_stream_t *s, int status)
{
    struct blackhole *b = s->data;
    if (status < 0 || b->nconns == 8) return;
    uv_tcp_init(s->loop, &b->conns[b->nconns]);
    if (uv_accept(s, (uv_stream_t *)&b->conns[b->nconns]) == 0) b->nconns++;
}

static void blackhole_start(uv_loop_t *loop, struct blackhole *b)
{
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(loop, &b->server);
    b->server.data = b;
    ck_assert_int_eq(uv_tcp_bind(&b->server, (const struct sockaddr *)&sa, 0), 0);
    ck_assert_int_eq(uv_listen((uv_stream_t *)&b->server, 8, bh_on_conn), 0);
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&b->server, (struct sockaddr *)&got, &len);
    b->port = ntohs(got.sin_port);
}

static void blackhole_stop(struct blackhole *b)
{
    for (int i = 0; i < b->nconns; i++) uv_close((uv_handle_t *)&b->conns[i], NULL);
    uv_close((uv_handle_t *)&b->server, NULL);
}

/* Put a made-up DHT server at the black hole's address into n's table. */
static void table_add_blackhole(struct node *n, const struct blackhole *b, p2p_peerid *id)
{
    p2p_keypair kp;
    p2p_pubkey pub;
    ck_assert_int_eq(p2p_keypair_generate(&kp), 0);
    p2p_keypair_public(&kp, &pub);
    ck_assert_int_eq(p2p_peerid_from_pubkey(id, &pub), 0);
    char text[64];
    snprintf(text, sizeof text, "/ip4/127.0.0.1/tcp/%d", b->port);
    p2p_multiaddr a;
    ck_assert_int_eq(p2p_maddr_parse(&a, text, NULL, 0), 0);
    ck_assert_int_eq(p2p_peerstore_add_addrs(n->h, id, &a, 1, 0), 0);
    p2p_peerid check;
    int rc = kad_rt_add(&kad_of(n)->rt, id, 0, p2p_host_now_ms(n->h), &check);
    ck_assert_int_eq(rc, KAD_RT_ADDED);
}

static bool rpc_to_blackhole_pending(void *arg)
{
    struct node *n = arg;
    return kad_of(n)->nrpcs > 0;
}

/* ---- cancel from inside a discovery event ------------------------------------- */

struct evcancel {
    struct node *n;
    uint64_t id;
    int cancels, rc;
    struct res *r;
};

static void on_discovered(const struct p2p_event *ev, void *arg)
{
    struct evcancel *e = arg;
    if (!ev->source || strcmp(ev->source, "kad") || e->cancels) return;
    e->cancels++;
    e->rc = e->n->rt->cancel(e->n->st, e->id);
    /* the callback ran before cancel returned */
    ck_assert_int_eq(e->r->calls, 1);
    ck_assert_int_eq(e->r->status, P2P_ECANCELED);
}

static void run_to(uv_loop_t *loop, struct res *r)
{
    ck_assert(ihost_run_cond(loop, called, r, 30000));
    ck_assert_int_eq(r->calls, 1);
}

/* Run a bootstrap of n to its end: the routing table size. */
static size_t bootstrap_one(uv_loop_t *loop, struct node *n)
{
    struct res r = { 0 };
    ck_assert_int_eq(n->rt->bootstrap(n->st, on_done, &r, NULL), 0);
    run_to(loop, &r);
    ck_assert_int_eq(r.status, 0);
    return r.n;
}

/* count servers, all bootstrapped from node 0, node `special` with the
 * extra kad keys `keys` (NULL: none); each ends with everyone else in its
 * routing table. */
static void network_make(uv_loop_t *loop, struct node *nodes, int count, int special, const char *keys)
{
    char boot[1024], more[2048];
    node_make(loop, &nodes[0], NULL);
    bootstrap_line(&nodes[0], boot, sizeof boot);
    for (int i = 1; i < count; i++) {
        snprintf(more, sizeof more, "%s\n%s", boot, i == special && keys ? keys : "");
        node_make(loop, &nodes[i], more);
    }
    ihost_run_for(loop, 300);
    for (int i = 0; i < count; i++) ck_assert_uint_eq(bootstrap_one(loop, &nodes[i]), (size_t)count - 1);
}

START_TEST(cancel)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node nodes[N];
    network_make(&loop, nodes, N, -1, NULL);
    struct node *n1 = &nodes[1];

    /* 1. Before anything was sent: the callback runs inside cancel. */
    struct res r1 = { 0 };
    uint64_t id1 = 0;
    ck_assert_int_eq(n1->rt->closest_peers(n1->st, (const uint8_t *)"k", 1, on_peers, &r1, &id1), 0);
    ck_assert_uint_gt(id1, 0);
    ck_assert_int_eq(r1.calls, 0);
    ck_assert_int_eq(n1->rt->cancel(n1->st, id1), 0);
    ck_assert_int_eq(r1.calls, 1);
    ck_assert_int_eq(r1.status, P2P_ECANCELED);
    ck_assert_int_eq(n1->rt->cancel(n1->st, id1), P2P_ENOTFOUND);
    ihost_run_for(&loop, 300);
    ck_assert_int_eq(r1.calls, 1);
    ck_assert_uint_eq(kad_of(n1)->nops, 0);

    /* 2. A lookup held up by a silent peer: in flight until cancel. */
    struct blackhole bh = { 0 };
    blackhole_start(&loop, &bh);
    p2p_peerid silent;
    table_add_blackhole(n1, &bh, &silent);
    struct res r2 = { 0 };
    uint64_t id2 = 0;
    ck_assert_int_eq(n1->rt->get_value(n1->st, (const uint8_t *)"/pk/nothing-here", 16, 0, on_value, &r2, &id2), 0);
    ck_assert_uint_ne(id2, id1);
    ck_assert(ihost_run_cond(&loop, rpc_to_blackhole_pending, n1, 5000));
    ihost_run_for(&loop, 500);   /* the others have answered; the silent one holds the lookup */
    ck_assert_int_eq(r2.calls, 0);
    ck_assert_uint_ge(kad_of(n1)->nrpcs, 1);
    ck_assert_int_eq(n1->rt->cancel(n1->st, id2), 0);
    ck_assert_int_eq(r2.calls, 1);
    ck_assert_int_eq(r2.status, P2P_ECANCELED);
    ck_assert_uint_eq(kad_of(n1)->nops, 0);
    ck_assert_uint_eq(kad_of(n1)->nrpcs, 0);   /* its requests were abandoned */
    ck_assert_int_eq(n1->rt->cancel(n1->st, id2), P2P_ENOTFOUND);
    ihost_run_for(&loop, 300);
    ck_assert_int_eq(r2.calls, 1);
    /* The same lookup left alone ends by itself, once the silent peer's
     * request timed out (request_timeout = 5s). */
    struct res r2b = { 0 };
    ck_assert_int_eq(n1->rt->get_value(n1->st, (const uint8_t *)"/pk/nothing-here", 16, 0, on_value, &r2b, NULL), 0);
    ck_assert(ihost_run_cond(&loop, called, &r2b, 15000));
    ck_assert_int_eq(r2b.status, P2P_ENOTFOUND);
    blackhole_stop(&bh);

    /* 3. From an event raised while a response is processed: node 2
     * provides a key, node 1 looks for providers and cancels when the
     * provider is announced as discovered (inside the response). */
    uint8_t pkey[34];
    p2p_multihash_sha256((const uint8_t *)"cancel me", 9, pkey);
    struct res pr = { 0 };
    ck_assert_int_eq(nodes[2].rt->provide(nodes[2].st, pkey, sizeof pkey, on_done, &pr, NULL), 0);
    run_to(&loop, &pr);
    ck_assert_int_eq(pr.status, 0);
    /* node 1 must learn of it from the network, not from its own store */
    kad_providers_remove(&kad_of(n1)->providers, pkey, sizeof pkey, p2p_host_peerid(nodes[2].h));
    struct res r3 = { 0 };
    struct evcancel ec = { n1, 0, 0, 0, &r3 };
    p2p_subscription *sub = p2p_host_subscribe(n1->h, P2P_EV_PEER_DISCOVERED, on_discovered, &ec);
    ck_assert_int_eq(n1->rt->find_providers(n1->st, pkey, sizeof pkey, 0, on_peers, &r3, &ec.id), 0);
    ck_assert(ihost_run_cond(&loop, called, &r3, 15000));
    ck_assert_int_eq(ec.cancels, 1);
    ck_assert_int_eq(ec.rc, 0);
    ck_assert_int_eq(r3.status, P2P_ECANCELED);
    ihost_run_for(&loop, 300);
    ck_assert_int_eq(r3.calls, 1);
    ck_assert_uint_eq(kad_of(n1)->nops, 0);
    p2p_host_unsubscribe(n1->h, sub);
    /* Not canceled, the same search finds the provider. */
    struct res r4 = { 0 };
    ck_assert_int_eq(n1->rt->find_providers(n1->st, pkey, sizeof pkey, 0, on_peers, &r4, NULL), 0);
    run_to(&loop, &r4);
    ck_assert_int_eq(r4.status, 0);
    ck_assert(has_id(&r4, p2p_host_peerid(nodes[2].h)));

    /* 4. Cancel of a put and of a provide while they run; then an id that never existed. */
    struct res r5 = { 0 }, r6 = { 0 };
    uint64_t id5, id6;
    p2p_pubkey pub;
    p2p_keypair_public(p2p_host_keypair(n1->h), &pub);
    uint8_t pkv[P2P_PUBKEY_PB_MAX], *pkk;
    size_t pkkl;
    int pkl = p2p_pubkey_encode(&pub, pkv, sizeof pkv);
    ck_assert_int_eq(kad_pk_key(p2p_host_peerid(n1->h), &pkk, &pkkl), 0);
    ck_assert_int_eq(n1->rt->put_value(n1->st, pkk, pkkl, pkv, (size_t)pkl, on_done, &r5, &id5), 0);
    ck_assert_int_eq(n1->rt->provide(n1->st, pkey, sizeof pkey, on_done, &r6, &id6), 0);
    ck_assert_int_eq(n1->rt->cancel(n1->st, id6), 0);
    ck_assert_int_eq(n1->rt->cancel(n1->st, id5), 0);
    ck_assert(r5.calls == 1 && r5.status == P2P_ECANCELED && r6.calls == 1 && r6.status == P2P_ECANCELED);
    ck_assert_int_eq(n1->rt->cancel(n1->st, 999999), P2P_ENOTFOUND);
    ihost_run_for(&loop, 300);
    ck_assert(r5.calls == 1 && r6.calls == 1);
    free(pkk);

    /* 5. Stopping the host ends what is left, once each. */
    struct res r7 = { 0 };
    ck_assert_int_eq(n1->rt->closest_peers(n1->st, (const uint8_t *)"x", 1, on_peers, &r7, NULL), 0);
    p2p_host_stop(n1->h);
    ck_assert_int_eq(r7.calls, 1);
    ck_assert_int_eq(r7.status, P2P_ECANCELED);
    for (int i = 0; i < N; i++) p2p_host_free(nodes[i].h);
    ihost_run_for(&loop, 100);
    uv_loop_close(&loop);
}
END_TEST

/* ---- republishing ------------------------------------------------------------------ */

struct has_rec {
    struct node *nodes;
    const uint8_t *key;
    size_t klen;
};

static bool others_have(void *arg)
{
    struct has_rec *h = arg;
    for (int i = 2; i < N; i++) {
        struct kad *kd = kad_of(&h->nodes[i]);
        if (!kad_records_get(&kd->records, h->key, h->klen, p2p_host_now_ms(h->nodes[i].h))) return false;
    }
    return true;
}

static void others_forget(struct node *nodes, const uint8_t *key, size_t klen)
{
    for (int i = 2; i < N; i++) ck_assert(kad_records_remove(&kad_of(&nodes[i])->records, key, klen));
}

START_TEST(republish)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node nodes[N];
    network_make(&loop, nodes, N, 1, "republish_interval = 1s\nmax_published = 2");
    struct node *n1 = &nodes[1];
    uint8_t *k1, *v1;
    size_t k1l, v1l;
    ck_assert_int_eq(n1->rt->seal_record(n1->st, "a", (const uint8_t *)"one", 3, &k1, &k1l, &v1, &v1l), 0);
    struct res put = { 0 };
    ck_assert_int_eq(n1->rt->put_value(n1->st, k1, k1l, v1, v1l, on_done, &put, NULL), 0);
    run_to(&loop, &put);
    ck_assert_int_eq(put.status, 0);
    ck_assert_uint_eq(put.n, N - 1);
    struct has_rec hr = { nodes, k1, k1l };
    ck_assert(others_have(&hr));
    ck_assert_uint_eq(kad_of(n1)->npublished, 1);

    /* Dropped by the others: back within a few republish intervals. */
    others_forget(nodes, k1, k1l);
    ck_assert(!others_have(&hr));
    ck_assert(ihost_run_cond(&loop, others_have, &hr, 8000));
    others_forget(nodes, k1, k1l);
    ck_assert(ihost_run_cond(&loop, others_have, &hr, 8000));

    /* A newer value for the key replaces the old one (still one entry). */
    uint8_t *k1b, *v1b;
    size_t k1bl, v1bl;
    ck_assert_int_eq(n1->rt->seal_record(n1->st, "a", (const uint8_t *)"two", 3, &k1b, &k1bl, &v1b, &v1bl), 0);
    struct res put2 = { 0 };
    ck_assert_int_eq(n1->rt->put_value(n1->st, k1b, k1bl, v1b, v1bl, on_done, &put2, NULL), 0);
    run_to(&loop, &put2);
    ck_assert_uint_eq(kad_of(n1)->npublished, 1);
    ck_assert_uint_eq(kad_of(n1)->published->vlen, v1bl);
    ck_assert(memcmp(kad_of(n1)->published->value, v1b, v1bl) == 0);

    /* max_published = 2: a third key is refused, the known ones are not. */
    uint8_t *k2, *v2, *k3, *v3;
    size_t k2l, v2l, k3l, v3l;
    ck_assert_int_eq(n1->rt->seal_record(n1->st, "b", (const uint8_t *)"b", 1, &k2, &k2l, &v2, &v2l), 0);
    ck_assert_int_eq(n1->rt->seal_record(n1->st, "c", (const uint8_t *)"c", 1, &k3, &k3l, &v3, &v3l), 0);
    struct res put3 = { 0 }, put4 = { 0 };
    ck_assert_int_eq(n1->rt->put_value(n1->st, k2, k2l, v2, v2l, on_done, &put3, NULL), 0);
    ck_assert_int_eq(n1->rt->put_value(n1->st, k3, k3l, v3, v3l, on_done, &put4, NULL), P2P_ELIMIT);
    run_to(&loop, &put3);
    ck_assert_int_eq(put4.calls, 0);

    /* stop_publishing: no more copies come back. */
    ck_assert_int_eq(n1->rt->stop_publishing(n1->st, k1, k1l), 0);
    ck_assert_int_eq(n1->rt->stop_publishing(n1->st, k1, k1l), P2P_ENOTFOUND);
    ck_assert_int_eq(n1->rt->stop_publishing(n1->st, k3, k3l), P2P_ENOTFOUND);
    ck_assert_uint_eq(kad_of(n1)->npublished, 1);
    ihost_run_for(&loop, 1500);   /* a republish that was already under way lands */
    others_forget(nodes, k1, k1l);
    ihost_run_for(&loop, 3000);
    for (int i = 2; i < N; i++)
        ck_assert_ptr_null(kad_records_get(&kad_of(&nodes[i])->records, k1, k1l, p2p_host_now_ms(nodes[i].h)));
    /* ... and the key that is still published keeps coming back */
    struct has_rec hr2 = { nodes, k2, k2l };
    others_forget(nodes, k2, k2l);
    ck_assert(ihost_run_cond(&loop, others_have, &hr2, 8000));

    free(k1), free(v1), free(k1b), free(v1b), free(k2), free(v2), free(k3), free(v3);
    for (int i = 0; i < N; i++) p2p_host_free(nodes[i].h);
    ihost_run_for(&loop, 100);
    uv_loop_close(&loop);
}
END_TEST

/* ---- response_addrs ------------------------------------------------------------------ */

START_TEST(response_addrs_public)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node nodes[N + 2];
    network_make(&loop, nodes, N, 1, "response_addrs = public");
    /* A newcomer that only knows node 1 (public addresses only, and we
     * have none): node 1 answers, but names nobody it could reach. */
    char boot1[1024];
    bootstrap_line(&nodes[1], boot1, sizeof boot1);
    node_make(&loop, &nodes[N], boot1);
    ck_assert_uint_eq(bootstrap_one(&loop, &nodes[N]), 1);   /* node 1 alone */
    struct res r = { 0 };
    const p2p_peerid *self = p2p_host_peerid(nodes[N].h);
    ck_assert_int_eq(nodes[N].rt->closest_peers(nodes[N].st, self->bytes, self->len, on_peers, &r, NULL), 0);
    run_to(&loop, &r);
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(r.n, 1);
    ck_assert(p2p_peerid_equal(&r.ids[0], p2p_host_peerid(nodes[1].h)));
    /* A newcomer that only knows node 2 (default: scope; we are on
     * loopback, so everything) finds everyone. */
    char boot2[1024];
    bootstrap_line(&nodes[2], boot2, sizeof boot2);
    node_make(&loop, &nodes[N + 1], boot2);
    bootstrap_one(&loop, &nodes[N + 1]);
    struct res r2 = { 0 };
    self = p2p_host_peerid(nodes[N + 1].h);
    ck_assert_int_eq(nodes[N + 1].rt->closest_peers(nodes[N + 1].st, self->bytes, self->len, on_peers, &r2, NULL), 0);
    run_to(&loop, &r2);
    ck_assert_int_eq(r2.status, 0);
    ck_assert_uint_ge(r2.n, N);   /* the four servers (and maybe the first newcomer) */
    for (int i = 0; i < N; i++) ck_assert(has_id(&r2, p2p_host_peerid(nodes[i].h)));
    for (int i = 0; i < N + 2; i++) p2p_host_free(nodes[i].h);
    ihost_run_for(&loop, 100);
    uv_loop_close(&loop);
}
END_TEST

/* ---- ADD_PROVIDER without addresses ------------------------------------------------ */

struct raw_open {
    bool done;
    int status;
    p2p_stream *s;
};

static void on_raw_open(int status, p2p_stream *s, void *arg)
{
    struct raw_open *r = arg;
    r->done = true;
    r->status = status;
    r->s = s;
}

/* rust-libp2p announces itself as a provider with no address before it
 * has confirmed an external one: the record is kept (the spec), and the
 * provider is served with the addresses the peer store knows. */
START_TEST(provider_without_addresses)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node nodes[3];
    network_make(&loop, nodes, 3, -1, NULL);
    uint8_t pkey[34];
    p2p_multihash_sha256((const uint8_t *)"no addresses", 12, pkey);
    /* node 1 -> node 0: ADD_PROVIDER { key, providerPeers = [node 1, no addrs] } */
    struct raw_open ro = { 0 };
    const char *const kadp[] = { "/ipfs/kad/1.0.0", NULL };
    ck_assert_int_eq(p2p_host_new_stream(nodes[1].h, p2p_host_peerid(nodes[0].h), kadp, on_raw_open, &ro), 0);
    ck_assert(ihost_run_until(&loop, &ro.done, 10000));
    ck_assert_int_eq(ro.status, 0);
    struct kad_msg m;
    kad_msg_init(&m);
    m.type = KAD_ADD_PROVIDER;
    ck_assert_int_eq(kad_msg_set_key(&m, pkey, sizeof pkey), 0);
    ck_assert_int_eq(kad_msg_add_peer(&m, true, p2p_host_peerid(nodes[1].h), NULL, 0, KAD_CONNECTED), 0);
    p2p_buf b;
    p2p_buf_init(&b, 0);
    ck_assert_int_eq(kad_msg_encode(&m, 65536, &b), 0);
    ck_assert_int_eq(p2p_stream_write(ro.s, p2p_buf_head(&b), b.len), 0);
    p2p_stream_shutdown(ro.s);
    kad_msg_clear(&m);
    p2p_buf_free(&b);
    struct kad *k0 = kad_of(&nodes[0]);
    const struct kad_prov *got[4];
    for (int i = 0; i < 100 && !kad_providers_get(&k0->providers, pkey, sizeof pkey, p2p_host_now_ms(nodes[0].h), got, 4);
         i++)
        ihost_run_for(&loop, 20);
    ck_assert_uint_eq(kad_providers_get(&k0->providers, pkey, sizeof pkey, p2p_host_now_ms(nodes[0].h), got, 4), 1);
    ck_assert(p2p_peerid_equal(&got[0]->id, p2p_host_peerid(nodes[1].h)));
    ck_assert_uint_eq(got[0]->naddrs, 0);
    p2p_stream_close(ro.s);
    /* node 2 finds node 1 as a provider, with node 1's address (from node
     * 0's peer store) */
    kad_providers_remove(&kad_of(&nodes[2])->providers, pkey, sizeof pkey, p2p_host_peerid(nodes[1].h));
    struct res r = { 0 };
    ck_assert_int_eq(nodes[2].rt->find_providers(nodes[2].st, pkey, sizeof pkey, 1, on_peers, &r, NULL), 0);
    run_to(&loop, &r);
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(r.n, 1);
    ck_assert(p2p_peerid_equal(&r.ids[0], p2p_host_peerid(nodes[1].h)));
    for (int i = 0; i < 3; i++) p2p_host_free(nodes[i].h);
    ihost_run_for(&loop, 100);
    uv_loop_close(&loop);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kad_ops");
    TCase *tc = tcase_create("net");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, cancel);
    tcase_add_test(tc, republish);
    tcase_add_test(tc, response_addrs_public);
    tcase_add_test(tc, provider_without_addresses);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return p2p_test_run(suite());
}
