/* itest_gossipsub_slow.c - unit.gossipsub_slow: a subscriber that stops
 * reading, over real loopback TCP (transport-tcp, noise, yamux, identify,
 * gossipsub from the build tree). Node 0 publishes to nodes 1, 2 and 3
 * (a star: each is connected to node 0 only). Node 3 stops reading its
 * pubsub stream from node 0 (white-box: p2p_stream_read_stop on the
 * plugin's inbound stream, so Yamux stops granting window and node 0's
 * queues to it fill). Node 0 publishes as fast as publish accepts,
 * retrying P2P_EAGAIN every millisecond:
 *  - every message is published; publish waits for node 3 at most about
 *    slow_peer_timeout once (then node 3 is slow), not until its
 *    connection dies;
 *  - nodes 1 and 2 get every message exactly once, with bounded latency;
 *  - node 0 dropped messages for node 3 (msgs_dropped_slow) and pruned it
 *    from its mesh (slow_pruned);
 * then node 3 reads again: it gets what was queued, is healthy again once
 * node 0's queue to it has drained to half, and gets every new message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_router_int.h"
#include "ihost.h"
#include "p2p/error.h"
#include "p2p/pubsub.h"
#include "plugin_int.h"
#include "testutil.h"

#define N 4
#define ROOM "room"
#define MSGS 4000
#define SIZE 1024
#define SLOW_MS 200

static const char *GS_SECTIONS =
    "[plugin identify]\npush_delay = 50ms\n"
    "[plugin gossipsub]\nheartbeat_interval = 100ms\nheartbeat_initial_delay = 50ms\n"
    "max_queue = 64KiB\nmax_message_size = 4KiB\nslow_peer_timeout = 200ms\n";

struct node {
    p2p_host *h;
    const struct p2p_pubsub_api_v1 *ps;
    void *st;
    p2p_pubsub_sub *sub;
    unsigned char got[MSGS + 100];
    int total, dups, stray;
    uint64_t max_lat_ms;
};

static struct node nodes[N];
static uv_loop_t loop;
static uint64_t sent_at[MSGS + 100];

static void on_msg(const struct p2p_pubsub_msg *m, void *arg)
{
    struct node *n = arg;
    unsigned k;
    if (m->len != SIZE || sscanf((const char *)m->data, "%u", &k) != 1 || k >= MSGS + 100) {
        n->stray++;
        return;
    }
    if (n->got[k]++) {
        n->dups++;
        return;
    }
    n->total++;
    uint64_t lat = uv_now(&loop) - sent_at[k];
    if (lat > n->max_lat_ms) n->max_lat_ms = lat;
}

static void connect_hosts(int a, int b)
{
    p2p_multiaddr addr = ihost_addr(nodes[b].h);
    ck_assert_int_eq(ihost_connect(&loop, nodes[a].h, nodes[b].h, &addr, NULL, 10000), 0);
}

static bool mesh_ready(void *arg)
{
    (void)arg;
    p2p_peerid v[8];
    return nodes[0].ps->mesh_peers(nodes[0].st, ROOM, v, 8) == N - 1;
}

static struct gs_stats stats0(void)
{
    struct gs_stats st;
    gs_router_stats(((struct gsp *)nodes[0].st)->r, &st);
    return st;
}

static bool in_mesh0(int i)
{
    p2p_peerid v[8];
    size_t n = nodes[0].ps->mesh_peers(nodes[0].st, ROOM, v, 8);
    for (size_t k = 0; k < n && k < 8; k++)
        if (p2p_peerid_equal(&v[k], p2p_host_peerid(nodes[i].h))) return true;
    return false;
}

/* Node i's inbound pubsub streams from node 0: reading on or off. */
static void reading(int i, bool on)
{
    struct gsp *g = nodes[i].st;
    size_t n = 0;
    for (struct gsp_peer *gp = g->peers; gp; gp = gp->next) {
        if (!p2p_peerid_equal(&gp->id, p2p_host_peerid(nodes[0].h))) continue;
        for (struct gsp_in *in = gp->ins; in; in = in->next, n++) {
            if (on) p2p_stream_read_start(in->s);
            else p2p_stream_read_stop(in->s);
        }
    }
    ck_assert_uint_gt(n, 0);
}

/* Publish messages [from, to) as fast as publish accepts; returns the
 * longest run of P2P_EAGAIN, ms. */
static uint64_t publish_range(unsigned from, unsigned to, uint64_t limit_ms)
{
    static uint8_t buf[SIZE];
    uint64_t t0 = uv_now(&loop), stall_from = 0, longest = 0;
    for (unsigned k = from; k < to;) {
        ck_assert_msg(uv_now(&loop) - t0 < limit_ms, "published only %u of %u..%u in %llu ms", k - from, from, to,
                      (unsigned long long)limit_ms);
        memset(buf, 'x', sizeof buf);
        snprintf((char *)buf, 16, "%u", k);
        sent_at[k] = uv_now(&loop);
        int rc = nodes[0].ps->publish(nodes[0].st, ROOM, buf, sizeof buf);
        if (rc == P2P_EAGAIN) {
            if (!stall_from) stall_from = uv_now(&loop);
            ihost_run_for(&loop, 1);
            continue;
        }
        ck_assert_msg(rc == 0, "publish %u: %s", k, p2p_strerror(rc));
        if (stall_from && uv_now(&loop) - stall_from > longest) longest = uv_now(&loop) - stall_from;
        stall_from = 0;
        k++;
        if (k % 64 == 0) uv_run(&loop, UV_RUN_NOWAIT);
    }
    return longest;
}

static int want;
static bool healthy_got_all(void *arg)
{
    (void)arg;
    return nodes[1].total >= want && nodes[2].total >= want;
}

static int reading_before;
static bool node3_reads(void *arg)
{
    (void)arg;
    return nodes[3].total > reading_before;
}

/* Node 0 no longer takes node 3 for slow: its queue drained to half. */
static bool node3_healthy(void *arg)
{
    (void)arg;
    struct gs_router *r = ((struct gsp *)nodes[0].st)->r;
    struct gs_peer *p = gs_peer_get(r, p2p_host_peerid(nodes[3].h));
    return p && (gs_out_slow(r, p), !p->full);
}

START_TEST(slow_subscriber_does_not_block)
{
    uv_loop_init(&loop);
    memset(nodes, 0, sizeof nodes);
    for (int i = 0; i < N; i++) {
        nodes[i].h = ihost_new(&loop, NULL, GS_SECTIONS);
        ihost_start(nodes[i].h);
        nodes[i].ps = p2p_service_get(nodes[i].h, P2P_PUBSUB_SERVICE, 1, &nodes[i].st);
        ck_assert_ptr_nonnull(nodes[i].ps);
        ck_assert_int_eq(nodes[i].ps->subscribe(nodes[i].st, ROOM, on_msg, &nodes[i], &nodes[i].sub), 0);
    }
    for (int i = 1; i < N; i++) connect_hosts(0, i);
    ck_assert_msg(ihost_run_cond(&loop, mesh_ready, NULL, 20000), "node 0's mesh did not form");

    reading(3, false);
    uint64_t stall = publish_range(0, MSGS, 60000);
    want = MSGS;
    ck_assert_msg(ihost_run_cond(&loop, healthy_got_all, NULL, 30000), "the healthy subscribers got %d and %d of %d",
                  nodes[1].total, nodes[2].total, MSGS);
    struct gs_stats st = stats0();
    fprintf(stderr, "slow subscriber: longest publish stall %llu ms, latency max %llu / %llu ms, node 3 got %d, "
            "dropped for it %llu, slow pruned %llu\n", (unsigned long long)stall,
            (unsigned long long)nodes[1].max_lat_ms, (unsigned long long)nodes[2].max_lat_ms, nodes[3].total,
            (unsigned long long)st.msgs_dropped_slow, (unsigned long long)st.slow_pruned);
    /* Publish waited for node 3 about SLOW_MS, not until it read again. */
    ck_assert_uint_lt(stall, 20 * SLOW_MS);
    ck_assert_uint_gt(st.msgs_dropped_slow, 0);
    ck_assert_uint_ge(st.slow_pruned, 1);
    ck_assert(in_mesh0(1) && in_mesh0(2));
    ck_assert(!in_mesh0(3));
    for (int i = 1; i < 3; i++) {
        ck_assert_int_eq(nodes[i].dups, 0);
        ck_assert_int_eq(nodes[i].stray, 0);
        ck_assert_uint_lt(nodes[i].max_lat_ms, 20 * SLOW_MS);
    }
    ck_assert_int_lt(nodes[3].total, MSGS);

    /* Node 3 reads again: what was queued arrives, then new messages. */
    reading(3, true);
    reading_before = nodes[3].total;
    ck_assert_msg(ihost_run_cond(&loop, node3_reads, NULL, 10000), "node 3 got nothing after reading again");
    ck_assert_msg(ihost_run_cond(&loop, node3_healthy, NULL, 20000), "node 3 stays slow at node 0");
    publish_range(MSGS, MSGS + 100, 20000);
    want = MSGS + 100;
    ck_assert(ihost_run_cond(&loop, healthy_got_all, NULL, 10000));
    uint64_t t0 = uv_now(&loop);
    while (!nodes[3].got[MSGS + 99] && uv_now(&loop) - t0 < 10000) ihost_run_for(&loop, 10);
    for (unsigned k = MSGS; k < MSGS + 100; k++) ck_assert_msg(nodes[3].got[k] == 1, "node 3: message %u", k);

    for (int i = 0; i < N; i++) p2p_host_free(nodes[i].h);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gossipsub_slow");
    TCase *tc = tcase_create("slow");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, slow_subscriber_does_not_block);
    suite_add_tcase(s, tc);
    return p2p_test_run(s);
}
