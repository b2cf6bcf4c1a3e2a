/* unit.gossipsub_router_net: networks of routers exchanging real frames in
 * memory with explicit time: random topologies with every message
 * delivered exactly once, meshes within bounds, gossip repairing lost
 * messages, mixed protocol versions, leaving a topic. */
#include <stdio.h>
#include <string.h>

#include "gs_testlib.h"
#include "p2p/error.h"
#include "testutil.h"

#define T "room"

static void join_all(struct gst_net *net, const char *topic)
{
    for (size_t i = 0; i < net->n; i++) ck_assert_int_eq(gs_router_join(net->node[i].r, topic, net->now), 0);
    gst_deliver(net);
}

static size_t mesh_size(struct gst_net *net, size_t i, const char *topic)
{
    p2p_peerid v[GST_NODES];
    return gs_router_mesh_peers(net->node[i].r, topic, v, GST_NODES);
}

static void publish_each(struct gst_net *net, const char *topic)
{
    for (size_t i = 0; i < net->n; i++) {
        char data[32];
        snprintf(data, sizeof data, "from %zu", i);
        ck_assert_int_eq(gs_router_publish(net->node[i].r, topic, (const uint8_t *)data, strlen(data), net->now,
                                           NULL, NULL), 0);
        gst_deliver(net);
    }
}

START_TEST(random_network)
{
    struct gst_net net;
    gst_net_init(&net, 20, NULL, true);
    /* A ring plus deterministic chords: connected, degrees 4..8. */
    for (size_t i = 0; i < net.n; i++) gst_link(&net, i, (i + 1) % net.n, GS_MESHSUB_12);
    for (size_t i = 0; i < net.n; i++) {
        size_t j = (i * 7 + 3) % net.n;
        if (j != i && !net.link[i][j]) gst_link(&net, i, j, GS_MESHSUB_12);
        j = (i * 11 + 5) % net.n;
        if (j != i && !net.link[i][j]) gst_link(&net, i, j, GS_MESHSUB_11);
    }
    join_all(&net, T);
    gst_run(&net, 5000);
    for (size_t i = 0; i < net.n; i++) {
        size_t deg = 0;
        for (size_t j = 0; j < net.n; j++) deg += net.link[i][j];
        size_t m = mesh_size(&net, i, T);
        ck_assert_uint_le(m, 12);
        ck_assert_uint_ge(m, deg < 5 ? deg : 4);
    }
    publish_each(&net, T);
    gst_run(&net, 3000);
    for (size_t i = 0; i < net.n; i++)
        ck_assert_msg(net.node[i].ev.msgs == net.n - 1, "node %zu got %zu messages", i, net.node[i].ev.msgs);
    /* Mesh links are symmetric once settled. */
    for (size_t i = 0; i < net.n; i++) {
        p2p_peerid v[GST_NODES];
        size_t m = gs_router_mesh_peers(net.node[i].r, T, v, GST_NODES);
        for (size_t k = 0; k < m; k++) {
            int j = gst_index(&net, &v[k]);
            p2p_peerid w[GST_NODES];
            size_t mj = gs_router_mesh_peers(net.node[j].r, T, w, GST_NODES);
            bool back = false;
            for (size_t x = 0; x < mj; x++) back |= p2p_peerid_equal(&w[x], &net.node[i].id.id);
            ck_assert_msg(back, "mesh %zu -> %d not reciprocated", i, j);
        }
    }
    gst_net_free(&net);
}
END_TEST

static void small_mesh(struct gs_config *c)
{
    c->d = 2;
    c->d_lo = 1;
    c->d_hi = 3;
    c->d_score = 1;
    c->d_out = 0;
    c->d_lazy = 6;
    c->flood_publish = false;
}

START_TEST(gossip_repairs_loss)
{
    struct gs_config cfg;
    gs_config_default(&cfg);
    small_mesh(&cfg);
    struct gst_net net;
    gst_net_init(&net, 8, &cfg, false);
    for (size_t i = 0; i < net.n; i++)
        for (size_t j = i + 1; j < net.n; j++) gst_link(&net, i, j, GS_MESHSUB_11);
    join_all(&net, T);
    gst_run(&net, 3000);
    /* Node 7 misses the message's first wave entirely. */
    net.drop_to[7] = true;
    ck_assert_int_eq(gs_router_publish(net.node[0].r, T, (const uint8_t *)"late", 4, net.now, NULL, NULL), 0);
    gst_deliver(&net);
    net.drop_to[7] = false;
    ck_assert_uint_eq(net.node[7].ev.msgs, 0);
    for (size_t i = 1; i < 7; i++) ck_assert_uint_eq(net.node[i].ev.msgs, 1);
    /* IHAVE from non-mesh neighbours, IWANT, and the message. */
    gst_run(&net, 3000);
    ck_assert_uint_eq(net.node[7].ev.msgs, 1);
    ck_assert_str_eq(net.node[7].ev.last_data, "late");
    struct gs_stats st;
    gs_router_stats(net.node[7].r, &st);
    ck_assert_uint_ge(st.iwant_out, 1);
    gst_net_free(&net);
}
END_TEST

START_TEST(mixed_versions)
{
    struct gst_net net;
    gst_net_init(&net, 8, NULL, false);
    static const enum gs_proto protos[] = { GS_FLOODSUB, GS_MESHSUB_10, GS_MESHSUB_11, GS_MESHSUB_12 };
    /* A star around node 0 with every protocol, and a line 4-5-6-7. */
    for (size_t i = 1; i < 5; i++) gst_link(&net, 0, i, protos[(i - 1) % 4]);
    gst_link(&net, 4, 5, GS_FLOODSUB);
    gst_link(&net, 5, 6, GS_MESHSUB_10);
    gst_link(&net, 6, 7, GS_MESHSUB_12);
    join_all(&net, T);
    gst_run(&net, 3000);
    publish_each(&net, T);
    gst_run(&net, 2000);
    for (size_t i = 0; i < net.n; i++)
        ck_assert_msg(net.node[i].ev.msgs == net.n - 1, "node %zu got %zu messages", i, net.node[i].ev.msgs);
    gst_net_free(&net);
}
END_TEST

START_TEST(leave_stops_delivery)
{
    struct gst_net net;
    gst_net_init(&net, 5, NULL, false);
    for (size_t i = 1; i < 5; i++) gst_link(&net, 0, i, GS_MESHSUB_12);   /* star */
    join_all(&net, T);
    gst_run(&net, 2000);
    ck_assert_int_eq(gs_router_leave(net.node[3].r, T, net.now), 0);
    gst_deliver(&net);
    p2p_peerid v[8];
    ck_assert_uint_eq(gs_router_topic_peers(net.node[0].r, T, v, 8), 3);
    /* Everyone publishes, node 3 too: it can publish to a topic it is
     * not in (flood publishing), but receives nothing. */
    publish_each(&net, T);
    gst_run(&net, 3000);
    ck_assert_uint_eq(net.node[3].ev.msgs, 0);
    for (size_t i = 0; i < 5; i++)
        if (i != 3) ck_assert_uint_eq(net.node[i].ev.msgs, 4);
    gst_net_free(&net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gossipsub_router_net");
    TCase *tc = tcase_create("net");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, random_network);
    tcase_add_test(tc, gossip_repairs_loss);
    tcase_add_test(tc, mixed_versions);
    tcase_add_test(tc, leave_stops_delivery);
    suite_add_tcase(s, tc);
    return p2p_test_run(s);
}
