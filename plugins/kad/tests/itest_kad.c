/* itest_kad.c - unit.kad_hosts: ten DHT servers and a client in one
 * process over loopback TCP with the real transport-tcp, noise, yamux,
 * identify, ping and kad plugins: bootstrap everyone from one node, then
 * every node finds every other node by PeerId, /pk/ and /p2pchat/ records
 * are put and got (and a newer record wins), a key is provided and its
 * provider found (and announced again when the provider's addresses
 * change), a client stays out of the routing tables and refuses
 * kad streams, and a restarted node reuses its saved routing table. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ihost.h"
#include "kad_fixture.h"
#include "kad_msg.h"
#include "p2p/routing.h"
#include "testutil.h"

enum { N = 10 };

/* ---- callbacks ----------------------------------------------------------------- */

struct peers_res {
    bool done;
    int status;
    size_t n;
    struct p2p_routing_peer peers[32];
};

static void on_peers(int status, const struct p2p_routing_peer *p, size_t n, void *arg)
{
    struct peers_res *r = arg;
    ck_assert(!r->done);
    r->done = true;
    r->status = status;
    r->n = n < 32 ? n : 32;
    if (n) memcpy(r->peers, p, r->n * sizeof *p);
}

struct open_res {
    bool done;
    int status;
};

static void on_open(int status, p2p_stream *s, void *arg)
{
    struct open_res *r = arg;
    r->done = true;
    r->status = status;
    if (s) p2p_stream_close(s);
}

/* A raw kad stream: responses collected with the plugin's own reader. */
struct raw {
    p2p_stream *s;
    bool opened, failed;
    int status;
    struct kad_reader rd;
    int types[8];
    size_t ncloser[8];
    int n;
};

static void raw_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    struct raw *r = arg;
    ck_assert_int_eq(kad_reader_feed(&r->rd, data, len), (int)len);
    const uint8_t *body;
    size_t blen;
    while (kad_reader_next(&r->rd, &body, &blen) == 1 && r->n < 8) {
        struct kad_msg m;
        kad_msg_init(&m);
        const struct kad_limits lim = { 1024, 65536, 64, 16 };
        ck_assert_int_eq(kad_msg_decode(&m, body, blen, &lim), 0);
        r->types[r->n] = m.type;
        r->ncloser[r->n++] = m.ncloser;
        kad_msg_clear(&m);
    }
}

static void raw_eof(p2p_stream *s, void *arg)
{
    (void)s;
    ((struct raw *)arg)->failed = true;
}

static void raw_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    struct raw *r = arg;
    r->failed = true;
    r->status = err;
}

static const struct p2p_stream_handlers raw_handlers = { raw_read, raw_eof, raw_error, NULL };

static void raw_open(int status, p2p_stream *s, void *arg)
{
    struct raw *r = arg;
    r->opened = true;
    r->status = status;
    r->s = s;
    if (s) {
        p2p_stream_set_handlers(s, &raw_handlers, r);
        p2p_stream_read_start(s);
    }
}

static bool raw_got(void *arg)
{
    struct raw *r = arg;
    return r->n >= 2 || r->failed;
}

static bool raw_failed(void *arg)
{
    return ((struct raw *)arg)->failed;
}

struct conn_gone {
    p2p_host *h;
    const p2p_peerid *peer;
};

static bool not_connected(void *arg)
{
    struct conn_gone *g = arg;
    return p2p_host_conn_to(g->h, g->peer) == NULL;
}

struct disc {
    int kad;
};

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct disc *d = arg;
    if (ev->type == P2P_EV_PEER_DISCOVERED && ev->source && strcmp(ev->source, "kad") == 0) d->kad++;
}

static bool table_has(struct node *n, const p2p_peerid *id)
{
    struct p2p_routing_entry e[64];
    size_t c = n->rt->table(n->st, e, 64);
    for (size_t i = 0; i < c && i < 64; i++)
        if (p2p_peerid_equal(&e[i].id, id)) return true;
    return false;
}

static void bootstrap_all(uv_loop_t *loop, struct node *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct done_res r = { 0 };
        ck_assert_int_eq(nodes[i].rt->bootstrap(nodes[i].st, on_done, &r), 0);
        ck_assert(!r.done);
        ck_assert(ihost_run_until(loop, &r.done, 30000));
        ck_assert_int_eq(r.status, 0);
    }
}

START_TEST(ten_nodes)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node nodes[N];
    memset(nodes, 0, sizeof nodes);
    const char *dir = p2p_test_tmpdir();
    char state[512], seedkeys[64], bootstrap_line[1024];
    snprintf(state, sizeof state, "%s/kad-state.txt", dir);

    /* Node 0 first: everyone bootstraps from it. */
    node_make(&loop, &nodes[0], NULL, "mode = server\npersist = false");
    p2p_multiaddr a0 = ihost_addr(nodes[0].h);
    char s0[P2P_MADDR_STRMAX], id0[P2P_PEERID_STRMAX];
    p2p_maddr_to_string(&a0, s0, sizeof s0);
    p2p_peerid_to_string(p2p_host_peerid(nodes[0].h), id0, sizeof id0);
    snprintf(bootstrap_line, sizeof bootstrap_line, "bootstrap = %s/p2p/%s", s0, id0);
    for (int i = 1; i < N; i++) {
        char keys[2048];
        if (i == N - 1) {
            /* The node that restarts: a fixed identity and a state file. */
            snprintf(seedkeys, sizeof seedkeys, "secret_key_seed = 99");
            snprintf(keys, sizeof keys, "mode = server\n%s\nstate_file = %s", bootstrap_line, state);
            node_make(&loop, &nodes[i], seedkeys, keys);
        } else {
            /* Half of the nodes look up over S/Kademlia disjoint paths. */
            snprintf(keys, sizeof keys, "mode = server\npersist = false\ndisjoint_paths = %d\n%s", i % 2 ? 2 : 1,
                     bootstrap_line);
            node_make(&loop, &nodes[i], NULL, keys);
        }
    }
    ck_assert_int_eq(nodes[0].rt->mode(nodes[0].st), P2P_ROUTING_SERVER);
    /* Let the start-up bootstraps run, then one more round each. */
    ihost_run_for(&loop, 500);
    bootstrap_all(&loop, nodes, N);
    for (int i = 0; i < N; i++) ck_assert_uint_ge(table_size(&nodes[i]), N / 2);

    /* Every node finds every other node by PeerId. */
    struct disc dsc = { 0 };
    for (int i = 0; i < N; i++) p2p_host_subscribe(nodes[i].h, P2P_EV_PEER_DISCOVERED, on_event, &dsc);
    int looked_up = 0;
    for (int i = 0; i < N; i++) {
        close_all(&loop, nodes, N);
        for (int j = 0; j < N; j++) {
            if (i == j) continue;
            struct peer_res r = { 0 };
            bool connected = p2p_host_conn_to(nodes[i].h, p2p_host_peerid(nodes[j].h)) != NULL;
            ck_assert_int_eq(nodes[i].rt->find_peer(nodes[i].st, p2p_host_peerid(nodes[j].h), on_peer, &r), 0);
            ck_assert(!r.done);
            ck_assert(ihost_run_until(&loop, &r.done, 30000));
            ck_assert_msg(r.status == 0, "node %d cannot find node %d: %s", i, j, p2p_strerror(r.status));
            ck_assert(p2p_peerid_equal(&r.peer.id, p2p_host_peerid(nodes[j].h)));
            p2p_multiaddr aj = ihost_addr(nodes[j].h);
            ck_assert_msg(has_addr(&r.peer, &aj), "node %d found node %d without its address", i, j);
            looked_up += !connected;
        }
    }
    ck_assert_int_ge(dsc.kad, looked_up);
    ck_assert_int_ge(looked_up, N);
    fprintf(stderr, "kad_hosts: %d of %d find_peer calls went through a DHT lookup\n", looked_up, N * (N - 1));

    /* Several requests on one inbound stream are answered in order; a
     * request that is not a dht message resets the stream. */
    struct raw raw = { 0 };
    kad_reader_init(&raw.rd, 65536);
    const char *const kadp1[] = { "/ipfs/kad/1.0.0", NULL };
    ck_assert_int_eq(p2p_host_new_stream(nodes[1].h, p2p_host_peerid(nodes[0].h), kadp1, raw_open, &raw), 0);
    ck_assert(ihost_run_until(&loop, &raw.opened, 10000));
    ck_assert_int_eq(raw.status, 0);
    p2p_buf req;
    p2p_buf_init(&req, 0);
    struct kad_msg m;
    kad_msg_init(&m);
    m.type = KAD_FIND_NODE;
    kad_msg_set_key(&m, p2p_host_peerid(nodes[5].h)->bytes, p2p_host_peerid(nodes[5].h)->len);
    ck_assert_int_eq(kad_msg_encode(&m, 65536, &req), 0);
    kad_msg_clear(&m);
    m.type = KAD_PING;
    ck_assert_int_eq(kad_msg_encode(&m, 65536, &req), 0);
    kad_msg_clear(&m);
    ck_assert_int_eq(p2p_stream_write(raw.s, p2p_buf_head(&req), req.len), 0);
    ck_assert(ihost_run_cond(&loop, raw_got, &raw, 10000));
    ck_assert_int_eq(raw.n, 2);
    ck_assert_int_eq(raw.types[0], KAD_FIND_NODE);
    ck_assert_uint_ge(raw.ncloser[0], N / 2);
    ck_assert_int_eq(raw.types[1], KAD_PING);
    const uint8_t junk[] = { 3, 0xff, 0xff, 0xff };
    ck_assert_int_eq(p2p_stream_write(raw.s, junk, sizeof junk), 0);
    ck_assert(ihost_run_cond(&loop, raw_failed, &raw, 10000));
    p2p_stream_close(raw.s);
    kad_reader_free(&raw.rd);
    p2p_buf_free(&req);

    /* Bad arguments fail at once. */
    struct peer_res bad = { 0 };
    ck_assert_int_eq(nodes[1].rt->find_peer(nodes[1].st, p2p_host_peerid(nodes[1].h), on_peer, &bad), P2P_EINVAL);

    /* /pk/ record: put by node 1, got by node 7 with a quorum of 3. */
    p2p_pubkey pub1;
    p2p_keypair_public(p2p_host_keypair(nodes[1].h), &pub1);
    uint8_t pkv[P2P_PUBKEY_PB_MAX];
    int pkl = p2p_pubkey_encode(&pub1, pkv, sizeof pkv);
    const p2p_peerid *id1 = p2p_host_peerid(nodes[1].h);
    uint8_t pkkey[4 + P2P_PEERID_MAX];
    memcpy(pkkey, "/pk/", 4);
    memcpy(pkkey + 4, id1->bytes, id1->len);
    size_t pkkl = 4 + id1->len;
    struct done_res put = { 0 };
    ck_assert_int_eq(nodes[1].rt->put_value(nodes[1].st, pkkey, pkkl, pkv, (size_t)pkl, on_done, &put), 0);
    ck_assert(ihost_run_until(&loop, &put.done, 30000));
    ck_assert_int_eq(put.status, 0);
    ck_assert_uint_ge(put.count, N - 2);
    struct value_res got = { 0 };
    ck_assert_int_eq(nodes[7].rt->get_value(nodes[7].st, pkkey, pkkl, 3, on_value, &got), 0);
    ck_assert(ihost_run_until(&loop, &got.done, 30000));
    ck_assert_int_eq(got.status, 0);
    ck_assert(got.len == (size_t)pkl && memcmp(got.value, pkv, got.len) == 0);
    /* Invalid values and unknown namespaces are refused before anything is sent. */
    ck_assert_int_eq(nodes[1].rt->put_value(nodes[1].st, pkkey, pkkl, (const uint8_t *)"x", 1, on_done, &put),
                     P2P_EINVAL);
    ck_assert_int_eq(nodes[1].rt->put_value(nodes[1].st, (const uint8_t *)"/nope/x", 7, (const uint8_t *)"x", 1,
                                            on_done, &put), P2P_ENOTFOUND);
    struct value_res none = { 0 };
    ck_assert_int_eq(nodes[4].rt->get_value(nodes[4].st, (const uint8_t *)"/pk/none", 8, 0, on_value, &none), 0);
    ck_assert(ihost_run_until(&loop, &none.done, 30000));
    ck_assert_int_eq(none.status, P2P_ENOTFOUND);

    /* /p2pchat/ record: signed by node 2, read by node 8; a newer one wins. */
    uint8_t *ck, *cv;
    size_t ckl, cvl;
    ck_assert_int_eq(nodes[2].rt->seal_record(nodes[2].st, "nick", (const uint8_t *)"alice", 5, &ck, &ckl, &cv, &cvl), 0);
    struct done_res put2 = { 0 };
    ck_assert_int_eq(nodes[2].rt->put_value(nodes[2].st, ck, ckl, cv, cvl, on_done, &put2), 0);
    ck_assert(ihost_run_until(&loop, &put2.done, 30000));
    ck_assert_int_eq(put2.status, 0);
    free(cv);
    struct value_res got2 = { 0 };
    ck_assert_int_eq(nodes[8].rt->get_value(nodes[8].st, ck, ckl, 4, on_value, &got2), 0);
    ck_assert(ihost_run_until(&loop, &got2.done, 30000));
    ck_assert_int_eq(got2.status, 0);
    const uint8_t *data;
    size_t dlen;
    uint64_t seq1, seq2;
    ck_assert_int_eq(nodes[8].rt->open_record(nodes[8].st, ck, ckl, got2.value, got2.len, &seq1, &data, &dlen), 0);
    ck_assert(dlen == 5 && memcmp(data, "alice", 5) == 0);
    uint8_t *ck2, *cv2;
    size_t ck2l, cv2l;
    ck_assert_int_eq(nodes[2].rt->seal_record(nodes[2].st, "nick", (const uint8_t *)"alicia", 6, &ck2, &ck2l, &cv2, &cv2l), 0);
    struct done_res put3 = { 0 };
    ck_assert_int_eq(nodes[2].rt->put_value(nodes[2].st, ck2, ck2l, cv2, cv2l, on_done, &put3), 0);
    ck_assert(ihost_run_until(&loop, &put3.done, 30000));
    ck_assert_int_eq(put3.status, 0);
    free(cv2);
    struct value_res got3 = { 0 };
    ck_assert_int_eq(nodes[5].rt->get_value(nodes[5].st, ck, ckl, N, on_value, &got3), 0);
    ck_assert(ihost_run_until(&loop, &got3.done, 30000));
    ck_assert_int_eq(got3.status, 0);
    ck_assert_int_eq(nodes[5].rt->open_record(nodes[5].st, ck, ckl, got3.value, got3.len, &seq2, &data, &dlen), 0);
    ck_assert(dlen == 6 && memcmp(data, "alicia", 6) == 0);
    ck_assert_uint_gt(seq2, seq1);
    free(ck);
    free(ck2);

    /* Provide and find providers. */
    uint8_t pkey[34];
    p2p_multihash_sha256((const uint8_t *)"hello world", 11, pkey);
    struct done_res prov = { 0 };
    ck_assert_int_eq(nodes[3].rt->provide(nodes[3].st, pkey, sizeof pkey, on_done, &prov), 0);
    ck_assert(ihost_run_until(&loop, &prov.done, 30000));
    ck_assert_int_eq(prov.status, 0);
    ck_assert_uint_ge(prov.count, N - 2);
    struct peers_res fp = { 0 };
    ck_assert_int_eq(nodes[6].rt->find_providers(nodes[6].st, pkey, sizeof pkey, 0, on_peers, &fp), 0);
    ck_assert(ihost_run_until(&loop, &fp.done, 30000));
    ck_assert_int_eq(fp.status, 0);
    ck_assert_uint_ge(fp.n, 1);
    ck_assert(p2p_peerid_equal(&fp.peers[0].id, p2p_host_peerid(nodes[3].h)));
    p2p_multiaddr a3 = ihost_addr(nodes[3].h);
    ck_assert(has_addr(&fp.peers[0], &a3));
    /* A new advertised address (as a relay reservation brings): the record
     * is announced again, and lookups return the new address. Node 6
     * holds a copy of the record itself, which only a new announcement
     * updates. */
    p2p_multiaddr extra;
    ck_assert_int_eq(p2p_maddr_parse(&extra, "/ip4/198.51.100.3/tcp/4001", NULL, 0), 0);
    ck_assert_int_eq(p2p_host_add_advertised_addr(nodes[3].h, &extra), 0);
    bool reannounced = false;
    for (int tries = 0; tries < 20 && !reannounced; tries++) {
        ihost_run_for(&loop, 500);
        struct peers_res f2 = { 0 };
        ck_assert_int_eq(nodes[6].rt->find_providers(nodes[6].st, pkey, sizeof pkey, 0, on_peers, &f2), 0);
        ck_assert(ihost_run_until(&loop, &f2.done, 30000));
        reannounced = f2.status == 0 && f2.n >= 1 && has_addr(&f2.peers[0], &extra);
    }
    ck_assert_msg(reannounced, "the provider record was not announced again with the new address");
    struct peers_res cl = { 0 };
    ck_assert_int_eq(nodes[4].rt->closest_peers(nodes[4].st, pkey, sizeof pkey, on_peers, &cl), 0);
    ck_assert(ihost_run_until(&loop, &cl.done, 30000));
    ck_assert_int_eq(cl.status, 0);
    ck_assert_uint_eq(cl.n, N - 1);   /* everyone but the asker */
    ck_assert_int_eq(nodes[3].rt->stop_providing(nodes[3].st, pkey, sizeof pkey), 0);
    ck_assert_int_eq(nodes[3].rt->stop_providing(nodes[3].st, pkey, sizeof pkey), P2P_ENOTFOUND);

    /* A client: uses the DHT, stays out of routing tables, refuses kad streams. */
    struct node client;
    char ckeys[2048];
    snprintf(ckeys, sizeof ckeys, "mode = client\npersist = false\n%s", bootstrap_line);
    node_make(&loop, &client, NULL, ckeys);
    ck_assert_int_eq(client.rt->mode(client.st), P2P_ROUTING_CLIENT);
    struct done_res cb = { 0 };
    ck_assert_int_eq(client.rt->bootstrap(client.st, on_done, &cb), 0);
    ck_assert(ihost_run_until(&loop, &cb.done, 30000));
    ck_assert_uint_ge(cb.count, N / 2);
    struct peer_res cf = { 0 };
    ck_assert_int_eq(client.rt->find_peer(client.st, p2p_host_peerid(nodes[5].h), on_peer, &cf), 0);
    ck_assert(ihost_run_until(&loop, &cf.done, 30000));
    ck_assert_int_eq(cf.status, 0);
    for (int i = 0; i < N; i++) ck_assert(!table_has(&nodes[i], p2p_host_peerid(client.h)));
    /* Servers still find the client: FIND_NODE answers name a known
     * target first, routing table or not (as go-libp2p-kad-dht). */
    p2p_conn *cc = p2p_host_conn_to(nodes[3].h, p2p_host_peerid(client.h));
    if (cc) p2p_conn_close(cc);
    struct conn_gone g = { nodes[3].h, p2p_host_peerid(client.h) };
    ck_assert(ihost_run_cond(&loop, not_connected, &g, 10000));
    struct peer_res fc = { 0 };
    ck_assert_int_eq(nodes[3].rt->find_peer(nodes[3].st, p2p_host_peerid(client.h), on_peer, &fc), 0);
    ck_assert(ihost_run_until(&loop, &fc.done, 30000));
    ck_assert_int_eq(fc.status, 0);
    p2p_multiaddr ac = ihost_addr(client.h);
    ck_assert(has_addr(&fc.peer, &ac));
    const char *const kadp[] = { "/ipfs/kad/1.0.0", NULL };
    struct open_res op = { 0 };
    ck_assert_int_eq(p2p_host_new_stream(nodes[0].h, p2p_host_peerid(client.h), kadp, on_open, &op), 0);
    ck_assert(ihost_run_until(&loop, &op.done, 10000));
    ck_assert_int_eq(op.status, P2P_ENEGOTIATE);
    p2p_host_stop(client.h);
    p2p_host_free(client.h);

    /* Restart node N-1: its saved routing table is reused. */
    size_t before = table_size(&nodes[N - 1]);
    ck_assert_uint_gt(before, 0);
    p2p_host_free(nodes[N - 1].h);
    size_t flen = 0;
    char *saved = p2p_test_read_file(state, &flen);
    ck_assert_ptr_nonnull(saved);
    ck_assert_ptr_nonnull(strstr(saved, "# p2pchat kad routing table v1\n"));
    free(saved);
    char keys[2048];
    snprintf(keys, sizeof keys, "mode = server\nstate_file = %s", state);   /* no bootstrap peers */
    node_make(&loop, &nodes[N - 1], seedkeys, keys);
    ck_assert_uint_ge(table_size(&nodes[N - 1]), before);
    struct peer_res rr = { 0 };
    ck_assert_int_eq(nodes[N - 1].rt->find_peer(nodes[N - 1].st, p2p_host_peerid(nodes[4].h), on_peer, &rr), 0);
    ck_assert(ihost_run_until(&loop, &rr.done, 30000));
    ck_assert_int_eq(rr.status, 0);
    struct done_res rb = { 0 };
    ck_assert_int_eq(nodes[N - 1].rt->bootstrap(nodes[N - 1].st, on_done, &rb), 0);
    ck_assert(ihost_run_until(&loop, &rb.done, 30000));
    ck_assert_uint_ge(rb.count, N - 2);

    /* Stopping with an operation under way: its callback gets ECANCELED. */
    struct peer_res late = { 0 };
    p2p_peerid nobody = *p2p_host_peerid(nodes[0].h);
    nobody.bytes[nobody.len - 1] ^= 1;
    if (nodes[2].rt->find_peer(nodes[2].st, &nobody, on_peer, &late) == 0) {
        for (int i = 0; i < N; i++) p2p_host_stop(nodes[i].h);
        ck_assert(late.done);
    }
    for (int i = 0; i < N; i++) p2p_host_free(nodes[i].h);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* Configuration mistakes are one sentence naming the plugin. */
START_TEST(config_errors)
{
    static const char *const bad[][2] = {
        { "bootstrap = /ip4/127.0.0.1/tcp/1", "does not end in /p2p/" },
        { "max_value_size = 64KiB\nmax_message_size = 64KiB", "max_value_size" },
        { "mode = sever", "mode" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024], err[1024];
        snprintf(text, sizeof text,
                 "[host]\nephemeral_identity = true\nlog = off\n[plugin transport-tcp]\n[plugin noise]\n"
                 "[plugin yamux]\n[plugin identify]\n[plugin kad]\n%s\n", bad[i][0]);
        p2p_conf *cf = p2p_conf_load_string(text, "bad.ini", err, sizeof err);
        ck_assert_ptr_nonnull(cf);
        uv_loop_t loop;
        uv_loop_init(&loop);
        struct p2p_host_opts o = { .loop = &loop };
        p2p_host *h = NULL;
        ck_assert_int_ne(p2p_host_new(&h, cf, &o, err, sizeof err), 0);
        ck_assert_msg(strstr(err, bad[i][1]) != NULL, "unexpected message: %s", err);
        ck_assert_ptr_null(h);
        uv_run(&loop, UV_RUN_DEFAULT);
        ck_assert_int_eq(uv_loop_close(&loop), 0);
    }
    /* A persistent identity: the table is saved next to it by default. */
    const char *dir = p2p_test_tmpdir();
    char text[2048], err[1024], path[1024], ps[P2P_PEERID_STRMAX];
    snprintf(text, sizeof text,
             "[host]\nidentity = %s/id/identity.key\nlog = off\nlisten = /ip4/127.0.0.1/tcp/0\n"
             "[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin identify]\n[plugin kad]\n", dir);
    p2p_conf *cf = p2p_conf_load_string(text, "id.ini", err, sizeof err);
    ck_assert_ptr_nonnull(cf);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct p2p_host_opts o = { .loop = &loop };
    p2p_host *h = NULL;
    ck_assert_msg(p2p_host_new(&h, cf, &o, err, sizeof err) == 0, "%s", err);
    ihost_start(h);
    p2p_peerid_to_string(p2p_host_peerid(h), ps, sizeof ps);
    p2p_host_free(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    snprintf(path, sizeof path, "%s/id/kad-%s.txt", dir, ps);
    size_t len;
    char *saved = p2p_test_read_file(path, &len);
    ck_assert_msg(saved != NULL, "no %s", path);
    ck_assert_str_eq(saved, "# p2pchat kad routing table v1\n");
    free(saved);

    /* An identity without a key file (given by the application): no
     * state file, not even in the default data directory. */
    char xdg[1024], data[1100];
    snprintf(xdg, sizeof xdg, "%s/xdg", dir);
    snprintf(data, sizeof data, "%s/p2pchat", xdg);   /* where the default key file would be */
    ck_assert_int_eq(mkdir(xdg, 0700), 0);
    ck_assert_int_eq(mkdir(data, 0700), 0);
    setenv("XDG_DATA_HOME", xdg, 1);
    snprintf(text, sizeof text,
             "[host]\nlog = off\nlisten = /ip4/127.0.0.1/tcp/0\n"
             "[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin identify]\n[plugin kad]\n");
    cf = p2p_conf_load_string(text, "key.ini", err, sizeof err);
    ck_assert_ptr_nonnull(cf);
    uv_loop_init(&loop);
    p2p_keypair key;
    p2p_keypair_generate(&key);
    struct p2p_host_opts ko = { .loop = &loop, .key = &key };
    ck_assert_msg(p2p_host_new(&h, cf, &ko, err, sizeof err) == 0, "%s", err);
    ck_assert_ptr_null(p2p_host_identity_file(h));
    ihost_start(h);
    p2p_host_free(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    unsetenv("XDG_DATA_HOME");
    DIR *d = opendir(data);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)))
        ck_assert_msg(e->d_name[0] == '.', "%s/%s written for an identity without a key file", data, e->d_name);
    closedir(d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kad_hosts");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, config_errors);
    tcase_add_test(tc, ten_nodes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);   /* as p2pchat does (see transport-tcp) */
    return p2p_test_run(suite());
}
