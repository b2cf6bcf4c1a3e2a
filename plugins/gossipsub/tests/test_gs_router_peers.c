/* unit.gossipsub_router_peers: the router against fake peers with
 * explicit time (continued from test_gs_router.c): validation and
 * scoring, publish results, slow peers, floodsub and v1.0 peers, peer exchange,
 * limits. */
#include <stdio.h>
#include <string.h>

#include "gs_testlib.h"
#include "p2p/error.h"
#include "testutil.h"

#define T "room"

START_TEST(validation_and_scoring)
{
    struct fx f;
    fx_init(&f, 4, true, NULL);
    fx_add(&f, 0, 4, GS_MESHSUB_12, true);
    for (size_t i = 0; i < 4; i++) fx_sub(&f, i, T, true);
    ck_assert_int_eq(gs_router_join(f.r, T, f.now), 0);
    struct gst_seen s[4], sum;
    fx_drain_all(&f, s, &sum);
    /* Rejected by the validator: not delivered, not forwarded, penalised. */
    f.verdict = P2P_PUBSUB_REJECT;
    struct gs_msg *m = gst_msg(&f.peer[3], 1, T, "bad");
    fx_send_msg(&f, 0, m);
    gst_events(f.r, &f.ev);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(f.ev.msgs, 0);
    ck_assert_uint_eq(sum.nmsg, 0);
    ck_assert_double_lt(gs_score(f.score, &f.peer[0].id, f.now), 0);
    /* Ignored: dropped without penalty. */
    f.verdict = P2P_PUBSUB_IGNORE;
    struct gs_msg *m2 = gst_msg(&f.peer[3], 2, T, "meh");
    fx_send_msg(&f, 1, m2);
    gst_events(f.r, &f.ev);
    ck_assert_uint_eq(f.ev.msgs, 0);
    ck_assert_double_eq(gs_score(f.score, &f.peer[1].id, f.now), 0);
    /* A forged signature: rejected before validation, penalised, and it
     * does not hide the genuine message with the same id. */
    f.verdict = P2P_PUBSUB_ACCEPT;
    size_t validated = f.validated;
    struct gs_msg *good = gst_msg(&f.peer[3], 3, T, "good");
    struct gs_pending p;
    gs_pending_init(&p);
    uint8_t forged[512];
    memcpy(forged, good->enc, good->enc_len);
    forged[good->enc_len - 1] ^= 1;   /* last signature byte */
    gs_pending_msg(&p, forged, good->enc_len);
    gst_feed(f.r, &f.peer[2].id, &p, f.now);
    gs_pending_free(&p);
    ck_assert_uint_eq(f.validated, validated);
    ck_assert_double_lt(gs_score(f.score, &f.peer[2].id, f.now), 0);
    fx_send_msg(&f, 1, good);
    gst_events(f.r, &f.ev);
    ck_assert_uint_eq(f.ev.msgs, 1);
    ck_assert_str_eq(f.ev.last_data, "good");
    ck_assert(p2p_peerid_equal(&f.ev.last_from, &f.peer[1].id));
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[0].nmsg, 1);   /* forwarded to the mesh but the source and the author */
    ck_assert_uint_eq(s[1].nmsg, 0);
    ck_assert_uint_eq(s[2].nmsg, 1);
    ck_assert_uint_eq(s[3].nmsg, 0);
    /* A duplicate is neither delivered nor forwarded again. */
    fx_send_msg(&f, 2, good);
    gst_events(f.r, &f.ev);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(f.ev.msgs, 1);
    ck_assert_uint_eq(sum.nmsg, 0);
    /* Messages for topics we are not in are dropped. */
    struct gs_msg *other = gst_msg(&f.peer[3], 4, "elsewhere", "x");
    fx_send_msg(&f, 1, other);
    gst_events(f.r, &f.ev);
    ck_assert_uint_eq(f.ev.msgs, 1);
    /* Repeated invalid messages graylist the peer: its RPCs are ignored. */
    f.verdict = P2P_PUBSUB_REJECT;
    for (uint64_t k = 10; k < 20; k++) {
        struct gs_msg *x = gst_msg(&f.peer[3], k, T, "spam");
        fx_send_msg(&f, 0, x);
        gs_msg_unref(x);
    }
    ck_assert_double_lt(gs_score(f.score, &f.peer[0].id, f.now), f.cfg.th.graylist);
    struct gs_stats st;
    gs_router_stats(f.r, &st);
    ck_assert_uint_gt(st.rpcs_graylisted, 0);
    /* Negative score: pruned at the next heartbeat, GRAFT refused. */
    fx_beat(&f, 1000);
    ck_assert(!fx_in_mesh(&f, 0, T));
    gs_msg_unref(m);
    gs_msg_unref(m2);
    gs_msg_unref(good);
    gs_msg_unref(other);
    fx_free(&f);
}
END_TEST

static void content_ids(struct gs_config *c)
{
    c->id_mode = GS_ID_CONTENT;
    c->max_queue_bytes = 70 * 1024;
}

START_TEST(publish_results)
{
    struct fx f;
    fx_init(&f, 2, false, content_ids);
    ck_assert_int_eq(gs_router_publish(f.r, T, (const uint8_t *)"x", 1, f.now, NULL, NULL), P2P_ENOTFOUND);
    fx_add(&f, 0, 2, GS_MESHSUB_12, true);
    ck_assert_int_eq(gs_router_publish(f.r, T, (const uint8_t *)"x", 1, f.now, NULL, NULL), P2P_ENOTFOUND);
    fx_sub(&f, 0, T, true);
    ck_assert_int_eq(gs_router_publish(f.r, T, (const uint8_t *)"x", 1, f.now, NULL, NULL), 0);
    ck_assert_int_eq(gs_router_publish(f.r, T, (const uint8_t *)"x", 1, f.now, NULL, NULL), P2P_EEXIST);
    static uint8_t big[65537];
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), P2P_ERANGE);
    ck_assert_int_eq(gs_router_publish(f.r, "", big, 1, f.now, NULL, NULL), P2P_EINVAL);
    /* Back-pressure: the queue holds one big message; the next waits. */
    big[0] = 1;
    ck_assert_int_eq(gs_router_publish(f.r, T, big, 65536, f.now, NULL, NULL), 0);
    big[0] = 2;
    ck_assert_int_eq(gs_router_publish(f.r, T, big, 65536, f.now, NULL, NULL), P2P_EAGAIN);
    gst_discard(f.r);   /* sent */
    ck_assert_int_eq(gs_router_publish(f.r, T, big, 65536, f.now, NULL, NULL), 0);
    fx_free(&f);
}
END_TEST

/* With several targets, a full queue at one of them refuses the message
 * for all (P2P_EAGAIN, nothing queued anywhere): never delivered to some
 * subscribers and silently not to the others. */
START_TEST(publish_all_or_nothing)
{
    struct fx f;
    fx_init(&f, 2, false, content_ids);
    fx_add(&f, 0, 2, GS_MESHSUB_12, true);
    fx_sub(&f, 0, T, true);
    fx_sub(&f, 1, T, true);
    static uint8_t big[65536];
    big[0] = 1;
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), 0);
    struct gst_seen s;
    gst_drain(f.r, &f.peer[0].id, &s);   /* peer 0 took it; peer 1's queue stays full */
    ck_assert_uint_eq(s.nmsg, 1);
    big[0] = 2;
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), P2P_EAGAIN);
    gst_drain(f.r, &f.peer[0].id, &s);
    ck_assert_uint_eq(s.nmsg, 0);        /* not queued to the peer that had room */
    gst_drain(f.r, &f.peer[1].id, &s);
    ck_assert_uint_eq(s.nmsg, 1);        /* only the first message */
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), 0);
    gst_drain(f.r, &f.peer[0].id, &s);
    ck_assert_uint_eq(s.nmsg, 1);
    gst_drain(f.r, &f.peer[1].id, &s);
    ck_assert_uint_eq(s.nmsg, 1);
    fx_free(&f);
}
END_TEST

/* A peer whose full queue takes no byte for slow_peer_ms (and across two
 * heartbeats) is slow: publish
 * stops waiting for it (the healthy peers get every message), the
 * heartbeat prunes it from the mesh (with a backoff: not grafted again)
 * and keeps gossiping to it; once it has read its queue it is healthy
 * again, gets new messages and the IHAVE of those it missed. A peer that
 * takes bytes, however few, is not slow: it paces publishing. */
START_TEST(slow_peer)
{
    struct fx f;
    fx_init(&f, 3, false, content_ids);
    ck_assert_uint_eq(f.cfg.slow_peer_ms, 500);
    fx_add(&f, 0, 3, GS_MESHSUB_12, true);
    for (size_t i = 0; i < 3; i++) fx_sub(&f, i, T, true);
    ck_assert_int_eq(gs_router_join(f.r, T, f.now), 0);
    fx_beat(&f, 1000);
    ck_assert_uint_eq(fx_mesh_n(&f, T), 3);
    struct gst_seen s[3], sum;
    fx_drain_all(&f, s, &sum);
    static uint8_t big[40000];   /* the 70 KiB queue holds one */
    big[0] = 1;
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), 0);
    gst_drain(f.r, &f.peer[0].id, &s[0]);
    gst_drain(f.r, &f.peer[2].id, &s[2]);   /* peer 1 does not read */
    big[0] = 2;
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), P2P_EAGAIN);
    fx_beat(&f, 300);
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), P2P_EAGAIN);
    /* It takes a few bytes: the stall starts again. */
    p2p_buf *q1 = gs_router_outq(f.r, &f.peer[1].id);
    p2p_buf_consume(q1, 100);
    fx_beat(&f, 300);
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), P2P_EAGAIN);
    /* Two heartbeats saw the stall, but it is 300 ms old: still healthy. */
    fx_beat(&f, 300);
    ck_assert(fx_in_mesh(&f, 1, T));
    f.now += 199;
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), P2P_EAGAIN);
    f.now += 1;   /* 500 ms and two heartbeats without a byte taken: slow */
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), 0);
    struct gs_stats st;
    gs_router_stats(f.r, &st);
    ck_assert_uint_eq(st.msgs_dropped_slow, 1);
    for (size_t i = 0; i < 3; i += 2) {
        gst_drain(f.r, &f.peer[i].id, &s[i]);
        ck_assert_uint_eq(s[i].nmsg, 1);
    }
    /* The heartbeat prunes it; the others stay. */
    fx_beat(&f, 10);
    ck_assert(!fx_in_mesh(&f, 1, T));
    ck_assert(fx_in_mesh(&f, 0, T) && fx_in_mesh(&f, 2, T));
    gs_router_stats(f.r, &st);
    ck_assert_uint_eq(st.slow_pruned, 1);
    for (uint8_t k = 3; k < 6; k++) {
        big[0] = k;
        ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), 0);
        gst_drain(f.r, &f.peer[0].id, &s[0]);
        gst_drain(f.r, &f.peer[2].id, &s[2]);
        ck_assert_uint_eq(s[0].nmsg + s[2].nmsg, 2);
    }
    gs_router_stats(f.r, &st);
    ck_assert_uint_eq(st.msgs_dropped_slow, 4);
    /* It reads everything (the rest of message 1, the PRUNE): healthy. */
    p2p_buf_consume(q1, q1->len);
    big[0] = 6;
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), 0);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[1].nmsg, 1);
    ck_assert_uint_eq(sum.nmsg, 3);
    /* Gossip offers it what it missed; the backoff keeps it out of the mesh. */
    fx_beat(&f, 1000);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_ge(s[1].nihave_ids, 4);
    ck_assert(!fx_in_mesh(&f, 1, T));
    gs_router_stats(f.r, &st);
    ck_assert_uint_eq(st.msgs_dropped_slow, 4);
    fx_free(&f);
}
END_TEST

/* Every target slow: nobody can take the message, publish says so. */
START_TEST(slow_peer_alone)
{
    struct fx f;
    fx_init(&f, 1, false, content_ids);
    fx_add(&f, 0, 1, GS_MESHSUB_12, true);
    fx_sub(&f, 0, T, true);
    static uint8_t big[40000];
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), 0);
    big[0] = 1;
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), P2P_EAGAIN);
    fx_beat(&f, 1000);
    fx_beat(&f, 1000);
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), P2P_EAGAIN);
    struct gs_stats st;
    gs_router_stats(f.r, &st);
    ck_assert_uint_eq(st.msgs_dropped_slow, 0);
    fx_free(&f);
}
END_TEST

/* A caller that takes queued bytes in bursts reports that the peer reads
 * (gs_router_peer_progress): the peer stays healthy while it does. */
START_TEST(slow_peer_progress)
{
    struct fx f;
    fx_init(&f, 2, false, content_ids);
    fx_add(&f, 0, 2, GS_MESHSUB_12, true);
    fx_sub(&f, 0, T, true);
    fx_sub(&f, 1, T, true);
    static uint8_t big[40000];
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), 0);
    struct gst_seen s;
    gst_drain(f.r, &f.peer[0].id, &s);
    big[0] = 1;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), P2P_EAGAIN);
        f.now += 600;
        gs_router_peer_progress(f.r, &f.peer[1].id, f.now);
        gs_router_heartbeat(f.r, f.now);
        gst_drain(f.r, &f.peer[0].id, &s);
    }
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), P2P_EAGAIN);
    /* No more progress: slow after two heartbeats and 500 ms. */
    fx_beat(&f, 300);
    fx_beat(&f, 300);
    ck_assert_int_eq(gs_router_publish(f.r, T, big, sizeof big, f.now, NULL, NULL), 0);
    fx_free(&f);
}
END_TEST

START_TEST(floodsub_peer)
{
    struct fx f;
    fx_init(&f, 3, false, NULL);
    fx_add(&f, 0, 1, GS_FLOODSUB, true);
    fx_add(&f, 1, 3, GS_MESHSUB_10, true);
    for (size_t i = 0; i < 3; i++) fx_sub(&f, i, T, true);
    ck_assert_int_eq(gs_router_join(f.r, T, f.now), 0);
    struct gst_seen s[3], sum;
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[0].ngraft, 0);   /* no control for floodsub */
    ck_assert_uint_eq(s[1].ngraft, 1);
    ck_assert_uint_eq(fx_mesh_n(&f, T), 3);   /* 2 mesh + the floodsub peer */
    /* From the floodsub peer: delivered, forwarded to the mesh. */
    struct gs_msg *m = gst_msg(&f.peer[0], 1, T, "flood");
    fx_send_msg(&f, 0, m);
    gst_events(f.r, &f.ev);
    ck_assert_uint_eq(f.ev.msgs, 1);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[1].nmsg + s[2].nmsg, 2);
    /* From a mesh peer: forwarded to the floodsub peer too. */
    struct gs_msg *m2 = gst_msg(&f.peer[1], 1, T, "mesh");
    fx_send_msg(&f, 1, m2);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[0].nmsg, 1);
    ck_assert_uint_eq(s[2].nmsg, 1);
    /* A v1.0 peer's PRUNE carries no backoff. */
    ck_assert_int_eq(gs_router_leave(f.r, T, f.now), 0);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[1].nprune, 1);
    ck_assert(!s[1].prune_has_backoff[0]);
    ck_assert_uint_eq(s[0].nprune, 0);
    gs_msg_unref(m);
    gs_msg_unref(m2);
    fx_free(&f);
}
END_TEST

static void px_on(struct gs_config *c)
{
    c->do_px = true;
    c->th.accept_px = 0;
}

START_TEST(peer_exchange)
{
    struct fx f;
    fx_init(&f, 20, false, px_on);
    fx_add(&f, 0, 20, GS_MESHSUB_11, true);
    for (size_t i = 0; i < 20; i++) fx_sub(&f, i, T, true);
    ck_assert_int_eq(gs_router_join(f.r, T, f.now), 0);
    struct gst_seen s[20], sum;
    fx_drain_all(&f, s, &sum);
    /* Leaving: PRUNEs carry PX (other topic peers). */
    ck_assert_int_eq(gs_router_leave(f.r, T, f.now), 0);
    fx_drain_all(&f, s, &sum);
    size_t with_px = 0;
    for (size_t i = 0; i < 20; i++)
        if (s[i].nprune) with_px += s[i].npx > 0;
    ck_assert_uint_eq(with_px, 6);
    /* Receiving PX (score 0 >= accept_px 0): PeerIds become events; known
     * peers and ourselves are skipped. */
    ck_assert_int_eq(gs_router_join(f.r, "px", f.now), 0);
    struct gst_id a, b;
    gst_id(&a, 150);
    gst_id(&b, 151);
    p2p_peerid px[4] = { a.id, b.id, f.peer[3].id, f.self.id };
    fx_prune(&f, 0, "px", 5, px, 4);
    gst_events(f.r, &f.ev);
    ck_assert_uint_eq(f.ev.px, 2);
    ck_assert(gs_router_backoff(f.r, "px", &f.peer[0].id, f.now));
    fx_free(&f);
}
END_TEST

static void small_limits(struct gs_config *c)
{
    c->max_peer_topics = 3;
    c->max_topics = 2;
    c->max_peers = 2;
}

START_TEST(limits)
{
    struct fx f;
    fx_init(&f, 3, false, small_limits);
    fx_add(&f, 0, 2, GS_MESHSUB_12, true);
    ck_assert_int_eq(gs_router_add_peer(f.r, &f.peer[2].id, GS_MESHSUB_12, true, NULL, 0, f.now), P2P_ELIMIT);
    ck_assert_int_eq(gs_router_add_peer(f.r, &f.peer[0].id, GS_MESHSUB_12, true, NULL, 0, f.now), P2P_EEXIST);
    for (int i = 0; i < 6; i++) {
        char t[8];
        snprintf(t, sizeof t, "t%d", i);
        fx_sub(&f, 0, t, true);
    }
    gst_events(f.r, &f.ev);
    ck_assert_uint_eq(f.ev.joined, 3);
    ck_assert_int_eq(gs_router_join(f.r, "a", f.now), 0);
    ck_assert_int_eq(gs_router_join(f.r, "b", f.now), 0);
    ck_assert_int_eq(gs_router_join(f.r, "c", f.now), P2P_ELIMIT);
    /* Garbage frames are refused as a whole. */
    const uint8_t junk[] = { 0xff, 0xff, 0xff };
    ck_assert_int_eq(gs_router_handle_rpc(f.r, &f.peer[0].id, junk, sizeof junk, f.now), P2P_EPROTO);
    ck_assert_int_eq(gs_router_handle_rpc(f.r, &f.peer[2].id, junk, 0, f.now), P2P_ENOTFOUND);
    fx_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gossipsub_router_peers");
    TCase *tc = tcase_create("peers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, validation_and_scoring);
    tcase_add_test(tc, publish_results);
    tcase_add_test(tc, publish_all_or_nothing);
    tcase_add_test(tc, slow_peer);
    tcase_add_test(tc, slow_peer_alone);
    tcase_add_test(tc, slow_peer_progress);
    tcase_add_test(tc, floodsub_peer);
    tcase_add_test(tc, peer_exchange);
    tcase_add_test(tc, limits);
    suite_add_tcase(s, tc);
    return p2p_test_run(s);
}
