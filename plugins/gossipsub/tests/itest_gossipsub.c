/* itest_gossipsub.c - unit.gossipsub_hosts: five hosts in one process on
 * one loop over real loopback TCP with the transport-tcp, noise, yamux,
 * identify, ping and gossipsub plugins (loaded from the build tree):
 * every host subscribes to "room" and publishes, every other host
 * receives every message exactly once; unsubscribing stops delivery; a
 * validator's REJECT stops a message; a message with a broken signature,
 * written on a raw pubsub stream, is rejected while a well-signed one on
 * the same stream is delivered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_msg.h"
#include "gs_rpc.h"
#include "ihost.h"
#include "p2p/pubsub.h"
#include "testutil.h"

#define N 5
#define ROOM "room"

static const char *GS_SECTIONS =
    "[plugin identify]\npush_delay = 50ms\n[plugin ping]\n"
    "[plugin gossipsub]\nheartbeat_interval = 100ms\nheartbeat_initial_delay = 50ms\n";

struct node {
    p2p_host *h;
    const struct p2p_pubsub_api_v1 *ps;
    void *st;
    p2p_pubsub_sub *sub;
    int got[N + 2];           /* messages received per sender index (N: the raw test author) */
    int total;
    char last[128];
};

static struct node nodes[N];

static void on_msg(const struct p2p_pubsub_msg *m, void *arg)
{
    struct node *n = arg;
    ck_assert_str_eq(m->topic, ROOM);
    ck_assert_ptr_nonnull(m->received_from);
    ck_assert_uint_gt(m->id_len, 0);
    char buf[128];
    size_t len = m->len < sizeof buf - 1 ? m->len : sizeof buf - 1;
    memcpy(buf, m->data, len);
    buf[len] = 0;
    snprintf(n->last, sizeof n->last, "%s", buf);
    int from = -1;
    if (sscanf(buf, "msg from %d", &from) == 1 && from >= 0 && from < N) n->got[from]++;
    else if (!strncmp(buf, "raw", 3)) n->got[N]++;
    else n->got[N + 1]++;
    n->total++;
    /* The author is the publisher (strict signing). */
    if (from >= 0 && from < N) ck_assert(p2p_peerid_equal(m->author, p2p_host_peerid(nodes[from].h)));
}

struct conn_result {
    bool done;
    int status;
};

static void on_connected(int status, p2p_conn *c, void *arg)
{
    (void)c;
    struct conn_result *r = arg;
    r->done = true;
    r->status = status;
}

static uv_loop_t loop;

static void connect_hosts(int a, int b)
{
    p2p_multiaddr addr = ihost_addr(nodes[b].h);
    struct conn_result r = { 0 };
    ck_assert_int_eq(p2p_host_connect(nodes[a].h, p2p_host_peerid(nodes[b].h), &addr, 1, on_connected, &r), 0);
    ck_assert(ihost_run_until(&loop, &r.done, 10000));
    ck_assert_msg(r.status == 0, "connect %d->%d: %s", a, b, p2p_strerror(r.status));
}

static int degree(int i)
{
    return (i == 0 || i == N - 1) ? 1 : 2;   /* a line */
}

static bool meshes_ready(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++) {
        p2p_peerid v[8];
        if ((int)nodes[i].ps->topic_peers(nodes[i].st, ROOM, v, 8) != degree(i)) return false;
        if ((int)nodes[i].ps->mesh_peers(nodes[i].st, ROOM, v, 8) != degree(i)) return false;
    }
    return true;
}

static int want_total;
static bool all_got(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++)
        if (nodes[i].total < want_total) return false;
    return true;
}

static void setup(void)
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
    for (int i = 0; i + 1 < N; i++) connect_hosts(i, i + 1);
    ck_assert_msg(ihost_run_cond(&loop, meshes_ready, NULL, 20000), "meshes did not form");
}

static void teardown(void)
{
    for (int i = 0; i < N; i++) p2p_host_free(nodes[i].h);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
}

static void publish_all(void)
{
    for (int i = 0; i < N; i++) {
        char data[32];
        snprintf(data, sizeof data, "msg from %d", i);
        int rc = nodes[i].ps->publish(nodes[i].st, ROOM, (const uint8_t *)data, strlen(data));
        ck_assert_msg(rc == 0, "publish %d: %s", i, p2p_strerror(rc));
    }
}

START_TEST(everyone_gets_everything_once)
{
    publish_all();
    want_total = N - 1;
    ck_assert_msg(ihost_run_cond(&loop, all_got, NULL, 20000), "not every message arrived");
    ihost_run_for(&loop, 700);   /* heartbeats and gossip: no duplicates either */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) ck_assert_msg(nodes[i].got[j] == (i == j ? 0 : 1), "node %d got %d of %d's", i,
                                                  nodes[i].got[j], j);
    const char *topics[4];
    ck_assert_uint_eq(nodes[2].ps->topics(nodes[2].st, topics, 4), 1);
    ck_assert_str_eq(topics[0], ROOM);
}
END_TEST

static bool unsub_seen(void *arg)
{
    (void)arg;
    p2p_peerid v[8];
    return nodes[3].ps->topic_peers(nodes[3].st, ROOM, v, 8) == 1;
}

START_TEST(unsubscribe_stops_delivery)
{
    nodes[4].ps->unsubscribe(nodes[4].st, nodes[4].sub);
    ck_assert_msg(ihost_run_cond(&loop, unsub_seen, NULL, 10000), "unsubscription not seen");
    const char *topics[4];
    ck_assert_uint_eq(nodes[4].ps->topics(nodes[4].st, topics, 4), 0);
    const char *data = "msg from 0";
    ck_assert_int_eq(nodes[0].ps->publish(nodes[0].st, ROOM, (const uint8_t *)data, strlen(data)), 0);
    want_total = 0;
    for (int i = 1; i < 4; i++) {
        uint64_t t0 = uv_now(&loop);
        while (nodes[i].got[0] < 1 && uv_now(&loop) - t0 < 10000) ihost_run_for(&loop, 20);
        ck_assert_int_eq(nodes[i].got[0], 1);
    }
    ihost_run_for(&loop, 500);
    ck_assert_int_eq(nodes[4].total, 0);
    /* Node 4 can still publish into the room. */
    data = "msg from 4";
    ck_assert_int_eq(nodes[4].ps->publish(nodes[4].st, ROOM, (const uint8_t *)data, strlen(data)), 0);
    uint64_t t0 = uv_now(&loop);
    while (nodes[0].got[4] < 1 && uv_now(&loop) - t0 < 10000) ihost_run_for(&loop, 20);
    ck_assert_int_eq(nodes[0].got[4], 1);
}
END_TEST

static enum p2p_pubsub_validation no_bad(const struct p2p_pubsub_msg *m, void *arg)
{
    (void)arg;
    return m->len >= 3 && !memcmp(m->data, "bad", 3) ? P2P_PUBSUB_REJECT : P2P_PUBSUB_ACCEPT;
}

START_TEST(validator_rejects)
{
    ck_assert_int_eq(nodes[2].ps->set_validator(nodes[2].st, ROOM, no_bad, NULL), 0);
    const char *bad = "bad message";
    ck_assert_int_eq(nodes[0].ps->publish(nodes[0].st, ROOM, (const uint8_t *)bad, strlen(bad)), 0);
    uint64_t t0 = uv_now(&loop);
    while (nodes[1].got[N + 1] < 1 && uv_now(&loop) - t0 < 10000) ihost_run_for(&loop, 20);
    ck_assert_int_eq(nodes[1].got[N + 1], 1);   /* node 1 has no validator */
    ihost_run_for(&loop, 500);
    for (int i = 2; i < N; i++) ck_assert_int_eq(nodes[i].got[N + 1], 0);   /* stopped at node 2 */
    ck_assert_int_eq(nodes[2].ps->set_validator(nodes[2].st, ROOM, NULL, NULL), 0);
}
END_TEST

/* ---- a raw pubsub stream ----------------------------------------------------------------- */

struct raw {
    bool done;
    int status;
    p2p_stream *s;
};

static void on_raw_open(int status, p2p_stream *s, void *arg)
{
    struct raw *r = arg;
    r->done = true;
    r->status = status;
    r->s = s;
}

static void write_msg(p2p_stream *s, const struct gs_msg *m, const uint8_t *enc)
{
    struct gs_pending p;
    gs_pending_init(&p);
    ck_assert_int_eq(gs_pending_msg(&p, enc, m->enc_len), 0);
    p2p_buf out;
    p2p_buf_init(&out, 0);
    ck_assert_int_eq(gs_pending_seal(&p, &out, 65536), 0);
    ck_assert_int_eq(p2p_stream_write(s, p2p_buf_head(&out), out.len), 0);
    p2p_buf_free(&out);
    gs_pending_free(&p);
}

static bool raw_spread(void *arg)
{
    (void)arg;
    for (int i = 1; i < N; i++)
        if (nodes[i].got[N] < 1) return false;
    return true;
}

START_TEST(bad_signature_rejected)
{
    /* Node 0 opens a stream of its own to node 1, outside its plugin,
     * and writes RPCs by hand (as an attacker would). */
    static const char *const protos[] = { "/meshsub/1.1.0", NULL };
    struct raw r = { 0 };
    ck_assert_int_eq(p2p_host_new_stream(nodes[0].h, p2p_host_peerid(nodes[1].h), protos, on_raw_open, &r), 0);
    ck_assert(ihost_run_until(&loop, &r.done, 10000));
    ck_assert_int_eq(r.status, 0);
    /* A message by another author (seed 77), with one bit of its data
     * flipped after signing. */
    p2p_keypair kp;
    p2p_keypair_from_seed_byte(&kp, 77);
    p2p_pubkey pub;
    p2p_keypair_public(&kp, &pub);
    p2p_peerid author;
    p2p_peerid_from_pubkey(&author, &pub);
    struct gs_msg *m;
    ck_assert_int_eq(gs_msg_publish(&m, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, &kp, &author, 42, ROOM,
                                    (const uint8_t *)"raw forged", 10), 0);
    uint8_t forged[512];
    memcpy(forged, m->enc, m->enc_len);
    size_t off = (size_t)(m->data - m->enc);
    forged[off] ^= 0x20;   /* "Raw forged" */
    write_msg(r.s, m, forged);
    ihost_run_for(&loop, 500);
    for (int i = 0; i < N; i++) ck_assert_int_eq(nodes[i].got[N], 0);
    /* Node 0 is penalised (P4): its score is negative, so node 1 pruned it
     * from its mesh at the next heartbeat. */
    p2p_peerid v[8];
    size_t nm = nodes[1].ps->mesh_peers(nodes[1].st, ROOM, v, 8);
    ck_assert_uint_eq(nm, 1);
    ck_assert(p2p_peerid_equal(&v[0], p2p_host_peerid(nodes[2].h)));
    /* The genuine message (same id) on the same stream: the forgery did
     * not make it "seen"; delivered to node 1 and forwarded down the line
     * (node 0, no longer in node 1's mesh, may get it through gossip). */
    write_msg(r.s, m, m->enc);
    ck_assert_msg(ihost_run_cond(&loop, raw_spread, NULL, 10000), "the genuine message did not spread");
    ihost_run_for(&loop, 300);
    ck_assert_int_le(nodes[0].got[N], 1);
    for (int i = 1; i < N; i++) {
        ck_assert_int_eq(nodes[i].got[N], 1);
        ck_assert_str_eq(nodes[i].last, "raw forged");
    }
    gs_msg_unref(m);
    p2p_stream_close(r.s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gossipsub_hosts");
    TCase *tc = tcase_create("hosts");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, everyone_gets_everything_once);
    tcase_add_test(tc, unsubscribe_stops_delivery);
    tcase_add_test(tc, validator_rejects);
    tcase_add_test(tc, bad_signature_rejected);
    suite_add_tcase(s, tc);
    return p2p_test_run(s);
}
