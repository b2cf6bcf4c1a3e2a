/* itest_gossipsub_relay.c - unit.gossipsub_relayed: pubsub over a relayed
 * (limited) connection and its move to a direct one, as after a hole
 * punch. Hosts on one loop over loopback TCP with the real transport-tcp,
 * noise, yamux, identify, relay and gossipsub plugins: a relay R; B
 * reserves on R; A dials B through R.
 *
 *  - with use_limited_connections = true, A and B join each other's room
 *    over the relayed connection and messages flow both ways;
 *  - A then connects to B directly: the swarm keeps the direct connection
 *    and closes the relayed one gracefully. Both ends move their outbound
 *    pubsub stream to the direct connection: the relayed connection is
 *    gone long before the host's close_timeout (10 s here: no pubsub
 *    stream holds it), nobody "left" the room, the mesh is intact and
 *    messages flow both ways on the direct connection;
 *  - with the default (use_limited_connections = false), a relayed
 *    connection carries no pubsub: C, dialing B through R, never joins
 *    B's room. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ihost.h"
#include "p2p/pubsub.h"
#include "testutil.h"

#define ROOM "room"

struct node {
    p2p_host *h;
    const struct p2p_pubsub_api_v1 *ps;
    void *st;
    p2p_pubsub_sub *sub;
    void *listener;
    int joined, left, got;
    char last[64];
    unsigned limited_gone, direct_up;
};

static uv_loop_t loop;

static void on_msg(const struct p2p_pubsub_msg *m, void *arg)
{
    struct node *n = arg;
    size_t len = m->len < sizeof n->last - 1 ? m->len : sizeof n->last - 1;
    memcpy(n->last, m->data, len);
    n->last[len] = 0;
    n->got++;
}

static void on_peer(const char *topic, const p2p_peerid *peer, bool subscribed, void *arg)
{
    (void)topic;
    (void)peer;
    struct node *n = arg;
    if (subscribed) n->joined++;
    else n->left++;
}

static void on_ev(const struct p2p_event *ev, void *arg)
{
    struct node *n = arg;
    if (!ev->conn) return;
    if (ev->type == P2P_EV_DISCONNECTED && p2p_conn_limited(ev->conn)) n->limited_gone++;
    if (ev->type == P2P_EV_CONNECTED && !p2p_conn_limited(ev->conn)) n->direct_up++;
}

static void node_up(struct node *n, const char *sections, const char *listen)
{
    n->h = ihost_new_listen(&loop, listen ? listen : "/ip4/127.0.0.1/tcp/0", "close_timeout = 10s", sections);
    ihost_start(n->h);
    n->ps = p2p_service_get(n->h, P2P_PUBSUB_SERVICE, 1, &n->st);
    ck_assert_ptr_nonnull(n->ps);
    ck_assert_int_eq(n->ps->subscribe(n->st, ROOM, on_msg, n, &n->sub), 0);
    n->listener = n->ps->add_peer_listener(n->st, on_peer, n);
    ck_assert_ptr_nonnull(p2p_host_subscribe(n->h, P2P_EV_CONNECTED | P2P_EV_DISCONNECTED, on_ev, n));
}

static bool reserved(void *arg)
{
    return ihost_circuit_count(arg) > 0;
}

/* from dials to through r (a /p2p-circuit address): a limited connection. */
static void dial_relayed(struct node *from, p2p_host *r, struct node *to)
{
    p2p_multiaddr ca = ihost_circuit_addr(r, to->h);
    p2p_conn *c = NULL;
    int rc = ihost_connect(&loop, from->h, to->h, &ca, &c, 15000);
    ck_assert_msg(rc == 0, "relayed dial: %s", p2p_strerror(rc));
    ck_assert(p2p_conn_limited(c));
}

struct two {
    struct node *a, *b;
};

static bool in_each_others_mesh(void *arg)
{
    struct two *t = arg;
    p2p_peerid v[4];
    return t->a->ps->mesh_peers(t->a->st, ROOM, v, 4) == 1 && t->b->ps->mesh_peers(t->b->st, ROOM, v, 4) == 1;
}

static bool relayed_gone(void *arg)
{
    struct two *t = arg;
    return t->a->limited_gone >= 1 && t->b->limited_gone >= 1;
}

struct got_wait {
    struct node *n;
    int want;
};

static bool got_n(void *arg)
{
    struct got_wait *g = arg;
    return g->n->got >= g->want;
}

/* from publishes text; to must deliver it. */
static void chat(struct node *from, struct node *to, const char *text)
{
    struct got_wait g = { to, to->got + 1 };
    int rc = from->ps->publish(from->st, ROOM, (const uint8_t *)text, strlen(text));
    ck_assert_msg(rc == 0, "publish %s: %s", text, p2p_strerror(rc));
    ck_assert_msg(ihost_run_cond(&loop, got_n, &g, 10000), "'%s' did not arrive", text);
    ck_assert_str_eq(to->last, text);
}

static size_t conns_to(struct node *n, struct node *peer, bool limited)
{
    p2p_conn *cs[16];
    size_t k = p2p_host_conns(n->h, cs, 16), c = 0;
    for (size_t i = 0; i < k && i < 16; i++)
        if (p2p_peerid_equal(p2p_conn_peer(cs[i]), p2p_host_peerid(peer->h)) && p2p_conn_limited(cs[i]) == limited)
            c++;
    return c;
}

START_TEST(moves_to_direct)
{
    uv_loop_init(&loop);
    static struct node a, b, c;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    p2p_host *r = ihost_new(&loop, NULL, "[plugin identify]\n[plugin relay]\nserver = true\nclient = false\n");
    ihost_start(r);
    char ra[1024], sec[4096];
    ihost_peer_addr(r, ra, sizeof ra);
    const char *gs = "[plugin gossipsub]\nheartbeat_interval = 100ms\nheartbeat_initial_delay = 50ms\n"
                     "use_limited_connections = true\n";
    snprintf(sec, sizeof sec, "[plugin identify]\npush_delay = 50ms\n[plugin relay]\nrelays = %s\n%s", ra, gs);
    node_up(&b, sec, "/ip4/127.0.0.1/tcp/0, /p2p-circuit");
    ck_assert(ihost_run_cond(&loop, reserved, b.h, 15000));
    snprintf(sec, sizeof sec, "[plugin identify]\npush_delay = 50ms\n[plugin relay]\n%s", gs);
    node_up(&a, sec, NULL);

    /* Over the relayed connection. */
    dial_relayed(&a, r, &b);
    struct two t = { &a, &b };
    ck_assert_msg(ihost_run_cond(&loop, in_each_others_mesh, &t, 10000), "no mesh over the relayed connection");
    ck_assert_int_eq(a.joined, 1);
    ck_assert_int_eq(b.joined, 1);
    chat(&a, &b, "relayed a");
    chat(&b, &a, "relayed b");
    ck_assert_uint_eq(conns_to(&a, &b, true), 1);
    ck_assert_uint_eq(conns_to(&a, &b, false), 0);

    /* A direct connection replaces it. */
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    p2p_multiaddr bl = ihost_addr(b.h);
    struct p2p_connect_opts o = P2P_CONNECT_OPTS_INIT;
    o.direct = true;
    p2p_conn *direct = NULL;
    int rc = ihost_connect_opts(&loop, a.h, b.h, &bl, &o, &direct, 10000);
    ck_assert_msg(rc == 0, "direct dial: %s", p2p_strerror(rc));
    ck_assert(!p2p_conn_limited(direct));
    /* The relayed connection goes once its streams moved away: well
     * before close_timeout (10 s), when it would be aborted. */
    ck_assert_msg(ihost_run_cond(&loop, relayed_gone, &t, 5000), "the relayed connection is still there");
    uv_update_time(&loop);
    fprintf(stderr, "gossipsub_relayed: relayed connection gone %llu ms after the direct one came up\n",
            (unsigned long long)(uv_now(&loop) - t0));
    ck_assert_uint_lt(uv_now(&loop) - t0, 5000);
    ck_assert_uint_eq(conns_to(&a, &b, true), 0);
    ck_assert_uint_eq(conns_to(&a, &b, false), 1);
    ck_assert_uint_eq(conns_to(&b, &a, true), 0);
    ihost_run_for(&loop, 300);   /* a few heartbeats */
    ck_assert_int_eq(a.left, 0);
    ck_assert_int_eq(b.left, 0);
    ck_assert(in_each_others_mesh(&t));
    chat(&a, &b, "direct a");
    chat(&b, &a, "direct b");
    ck_assert_int_eq(a.joined, 1);
    ck_assert_int_eq(b.joined, 1);

    /* Default configuration: no pubsub over a relayed connection. */
    node_up(&c, "[plugin identify]\npush_delay = 50ms\n[plugin relay]\n[plugin gossipsub]\n"
                "heartbeat_interval = 100ms\nheartbeat_initial_delay = 50ms\n", NULL);
    dial_relayed(&c, r, &b);
    ihost_run_for(&loop, 1000);
    p2p_peerid v[4];
    ck_assert_uint_eq(c.ps->topic_peers(c.st, ROOM, v, 4), 0);
    ck_assert_int_eq(c.joined, 0);
    ck_assert_int_eq(b.joined, 1);

    p2p_host_free(a.h);
    p2p_host_free(b.h);
    p2p_host_free(c.h);
    p2p_host_free(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gossipsub_relayed");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, moves_to_direct);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return p2p_test_run(suite());
}
