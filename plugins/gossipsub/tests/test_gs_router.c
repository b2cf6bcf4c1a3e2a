/* unit.gossipsub_router: the router against fake peers with explicit
 * time: hello and subscriptions, mesh maintenance to D, GRAFT/PRUNE and
 * backoff, leaving, IHAVE/IWANT and promises, fanout expiry and flood
 * publishing, IDONTWANT. More in test_gs_router_peers.c (validation and
 * scoring, publish results, floodsub peers, PX, limits); networks of
 * routers in test_gs_router_net.c. */
#include <stdio.h>
#include <string.h>

#include "gs_testlib.h"
#include "p2p/error.h"
#include "testutil.h"

#define T "room"

START_TEST(hello_and_subscriptions)
{
    struct fx f;
    fx_init(&f, 3, false, NULL);
    ck_assert_int_eq(gs_router_join(f.r, T, f.now), 0);
    ck_assert_int_eq(gs_router_join(f.r, T, f.now), P2P_EEXIST);
    fx_add(&f, 0, 2, GS_MESHSUB_12, true);
    struct gst_seen s[3], sum;
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[0].nsub, 1);   /* hello: our subscription */
    ck_assert_str_eq(s[0].sub[0], T);
    ck_assert_int_eq(gs_router_join(f.r, "second", f.now), 0);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[0].nsub, 1);
    ck_assert_uint_eq(s[1].nsub, 1);
    /* Peers' subscriptions: events and topic peers. */
    fx_sub(&f, 0, T, true);
    fx_sub(&f, 1, T, true);
    fx_sub(&f, 1, T, true);   /* repeated: no second event */
    gst_events(f.r, &f.ev);
    ck_assert_uint_eq(f.ev.joined, 2);
    p2p_peerid v[4];
    ck_assert_uint_eq(gs_router_topic_peers(f.r, T, v, 4), 2);
    fx_sub(&f, 1, T, false);
    gst_events(f.r, &f.ev);
    ck_assert_uint_eq(f.ev.left, 1);
    ck_assert_uint_eq(gs_router_topic_peers(f.r, T, v, 4), 1);
    /* A peer going away leaves its topics. */
    gs_router_remove_peer(f.r, &f.peer[0].id, f.now);
    gst_events(f.r, &f.ev);
    ck_assert_uint_eq(f.ev.left, 2);
    ck_assert_uint_eq(gs_router_topic_peers(f.r, T, v, 4), 0);
    /* Leaving announces the unsubscription. */
    ck_assert_int_eq(gs_router_leave(f.r, "second", f.now), 0);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[1].nunsub, 1);
    ck_assert_int_eq(gs_router_leave(f.r, "second", f.now), P2P_ENOTFOUND);
    fx_free(&f);
}
END_TEST

START_TEST(mesh_maintenance)
{
    struct fx f;
    fx_init(&f, 30, false, NULL);
    fx_add(&f, 0, 20, GS_MESHSUB_11, true);
    for (size_t i = 0; i < 20; i++) fx_sub(&f, i, T, true);
    ck_assert_int_eq(gs_router_join(f.r, T, f.now), 0);
    struct gst_seen s[30], sum;
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(fx_mesh_n(&f, T), 6);   /* D */
    ck_assert_uint_eq(sum.ngraft, 6);
    for (size_t i = 0; i < 20; i++) ck_assert_uint_eq(s[i].ngraft, fx_in_mesh(&f, i, T) ? 1 : 0);
    fx_beat(&f, 1000);
    ck_assert_uint_eq(fx_mesh_n(&f, T), 6);
    /* Three mesh peers leave: 3 < D_lo, the heartbeat grafts back to D. */
    size_t gone = 0;
    for (size_t i = 0; i < 20 && gone < 3; i++) {
        if (!fx_in_mesh(&f, i, T)) continue;
        gs_router_remove_peer(f.r, &f.peer[i].id, f.now);
        gone++;
    }
    ck_assert_uint_eq(fx_mesh_n(&f, T), 3);
    fx_drain_all(&f, NULL, &sum);
    fx_beat(&f, 1000);
    ck_assert_uint_eq(fx_mesh_n(&f, T), 6);
    fx_drain_all(&f, NULL, &sum);
    ck_assert_uint_eq(sum.ngraft, 3);
    /* Inbound GRAFTs are accepted up to D_hi; then only outbound ones. */
    fx_add(&f, 20, 30, GS_MESHSUB_11, false);
    for (size_t i = 20; i < 30; i++) {
        fx_sub(&f, i, T, true);
        fx_graft(&f, i, T);
    }
    ck_assert_uint_eq(fx_mesh_n(&f, T), 12);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(sum.nprune, 4);   /* 16 asked, 6 accepted to reach 12 */
    /* Over D_hi: an outbound peer's GRAFT is accepted, the heartbeat
     * prunes back to D, keeping at least D_out outbound peers. */
    size_t outsider = 30;
    for (size_t i = 0; i < 20; i++) {
        p2p_peerid v[64];
        if (gs_router_has_peer(f.r, &f.peer[i].id) && !fx_in_mesh(&f, i, T)) {
            outsider = i;
            break;
        }
        (void)v;
    }
    ck_assert_uint_lt(outsider, 30);
    fx_graft(&f, outsider, T);
    ck_assert_uint_eq(fx_mesh_n(&f, T), 13);
    fx_drain_all(&f, NULL, &sum);
    fx_beat(&f, 1000);
    ck_assert_uint_eq(fx_mesh_n(&f, T), 6);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(sum.nprune, 7);
    for (size_t i = 0; i < 30; i++) {
        if (!s[i].nprune) continue;
        ck_assert(s[i].prune_has_backoff[0]);
        ck_assert_uint_eq(s[i].prune_backoff[0], 60);
        ck_assert(gs_router_backoff(f.r, T, &f.peer[i].id, f.now));
    }
    size_t outbound = 0;
    for (size_t i = 0; i < 20; i++) outbound += fx_in_mesh(&f, i, T);
    ck_assert_uint_ge(outbound, 2);   /* D_out: peers 0..19 are outbound */
    fx_free(&f);
}
END_TEST

START_TEST(prune_backoff)
{
    struct fx f;
    fx_init(&f, 3, true, NULL);
    fx_add(&f, 0, 3, GS_MESHSUB_12, true);
    for (size_t i = 0; i < 3; i++) fx_sub(&f, i, T, true);
    ck_assert_int_eq(gs_router_join(f.r, T, f.now), 0);
    ck_assert_uint_eq(fx_mesh_n(&f, T), 3);
    struct gst_seen s[3], sum;
    fx_drain_all(&f, s, &sum);
    /* Peer 0 prunes us with a 30 s backoff. */
    fx_prune(&f, 0, T, 30, NULL, 0);
    ck_assert(!fx_in_mesh(&f, 0, T));
    ck_assert(gs_router_backoff(f.r, T, &f.peer[0].id, f.now));
    /* Below D_lo, but no re-graft of peer 0 during the backoff (+ slack). */
    for (int i = 0; i < 30; i++) {
        fx_beat(&f, 1000);
        ck_assert(!fx_in_mesh(&f, 0, T));
    }
    fx_beat(&f, 1000);   /* 31 s: backoff and one heartbeat of slack are over */
    ck_assert(fx_in_mesh(&f, 0, T));
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[0].ngraft, 1);
    /* We prune peer 1 by leaving; it GRAFTs back at once: PRUNE again, and
     * a behavioural penalty (twice: within the flood threshold). */
    double before = gs_score(f.score, &f.peer[1].id, f.now);
    ck_assert_int_eq(gs_router_leave(f.r, T, f.now), 0);
    ck_assert_int_eq(gs_router_join(f.r, T, f.now), 0);
    ck_assert(!fx_in_mesh(&f, 1, T));   /* unsubscribe backoff: not re-grafted */
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[1].nprune, 1);
    ck_assert_uint_eq(s[1].prune_backoff[0], 10);   /* unsubscribe backoff */
    for (int i = 0; i < 8; i++) fx_graft(&f, 1, T);
    ck_assert(!fx_in_mesh(&f, 1, T));
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[1].nprune, 8);
    double after = gs_score(f.score, &f.peer[1].id, f.now);
    ck_assert_msg(after < before, "penalty: %f -> %f", before, after);
    fx_free(&f);
}
END_TEST

START_TEST(graft_unknown_topic_and_negative)
{
    struct fx f;
    fx_init(&f, 2, false, NULL);
    fx_add(&f, 0, 2, GS_MESHSUB_11, false);
    fx_graft(&f, 0, "unknown");
    struct gst_seen s[2], sum;
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(sum.nprune, 0);   /* v1.1: ignored, no PRUNE */
    ck_assert_int_eq(gs_router_join(f.r, T, f.now), 0);
    fx_graft(&f, 0, T);
    ck_assert(fx_in_mesh(&f, 0, T));
    fx_graft(&f, 0, T);   /* already in: nothing */
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(sum.nprune, 0);
    /* A PRUNE for a topic we are not in changes nothing. */
    fx_prune(&f, 1, "unknown", 0, NULL, 0);
    ck_assert(!gs_router_backoff(f.r, "unknown", &f.peer[1].id, f.now));
    fx_free(&f);
}
END_TEST

START_TEST(ihave_iwant)
{
    struct fx f;
    fx_init(&f, 12, true, NULL);
    fx_add(&f, 0, 12, GS_MESHSUB_11, true);
    for (size_t i = 0; i < 12; i++) fx_sub(&f, i, T, true);
    ck_assert_int_eq(gs_router_join(f.r, T, f.now), 0);
    struct gst_seen s[12], sum;
    fx_drain_all(&f, s, &sum);
    uint8_t id[GS_MSGID_MAX];
    size_t idlen;
    ck_assert_int_eq(gs_router_publish(f.r, T, (const uint8_t *)"hi", 2, f.now, id, &idlen), 0);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(sum.nmsg, 12);   /* flood publish: every topic peer */
    /* Gossip: IHAVE to non-mesh peers (6 of them, at least D_lazy). */
    fx_beat(&f, 1000);
    fx_drain_all(&f, s, &sum);
    size_t gossiped = 0;
    for (size_t i = 0; i < 12; i++) {
        if (!s[i].nihave) continue;
        ck_assert(!fx_in_mesh(&f, i, T));
        ck_assert_uint_eq(s[i].ihave_id_len[0], idlen);
        ck_assert_mem_eq(s[i].ihave_id[0], id, idlen);
        gossiped++;
    }
    ck_assert_uint_eq(gossiped, 6);
    /* IWANT: served up to gossip_retransmission (3) times per peer. */
    for (int k = 0; k < 5; k++) {
        struct gs_pending p;
        gs_pending_init(&p);
        const uint8_t *ids[1] = { id };
        gs_pending_iwant(&p, ids, &idlen, 1);
        gst_feed(f.r, &f.peer[0].id, &p, f.now);
        gs_pending_free(&p);
    }
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[0].nmsg, 3);
    /* IHAVE of an unseen id: we ask with IWANT; of a seen one: nothing. */
    struct gs_msg *m = gst_msg(&f.peer[5], 1, T, "from five");
    struct gs_pending p;
    gs_pending_init(&p);
    const uint8_t *ids[2] = { m->id, id };
    size_t lens[2] = { m->id_len, idlen };
    gs_pending_ihave(&p, T, strlen(T), ids, lens, 2);
    gst_feed(f.r, &f.peer[5].id, &p, f.now);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[5].niwant_ids, 1);
    ck_assert_mem_eq(s[5].iwant_id[0], m->id, m->id_len);
    /* The promise is kept: no penalty. */
    fx_send_msg(&f, 5, m);
    gst_events(f.r, &f.ev);
    ck_assert_uint_eq(f.ev.msgs, 1);
    /* A broken promise: peer 6 advertises, never delivers; after the
     * follow-up time its score drops. */
    struct gs_msg *m2 = gst_msg(&f.peer[6], 1, T, "never sent");
    gs_pending_ihave(&p, T, strlen(T), (const uint8_t *const[]){ m2->id }, &m2->id_len, 1);
    gst_feed(f.r, &f.peer[6].id, &p, f.now);
    /* Peer 7 advertises an unknown id too but answers with another
     * message (a peer computing ids differently): not broken. */
    struct gs_msg *m3 = gst_msg(&f.peer[7], 50, T, "other id");
    gs_pending_ihave(&p, T, strlen(T), (const uint8_t *const[]){ m3->id }, &m3->id_len, 1);
    gst_feed(f.r, &f.peer[7].id, &p, f.now);
    struct gs_msg *m4 = gst_msg(&f.peer[7], 51, T, "the answer");
    fx_send_msg(&f, 7, m4);
    for (int k = 0; k < 4; k++) fx_beat(&f, 1000);
    struct gs_stats st;
    gs_router_stats(f.r, &st);
    ck_assert_uint_eq(st.broken_promises, 1);
    ck_assert_uint_eq(st.iwant_out, 3);
    gs_msg_unref(m3);
    gs_msg_unref(m4);
    /* IHAVE flood protection: at most max_ihave_messages per heartbeat. */
    fx_drain_all(&f, s, &sum);
    for (int k = 0; k < 15; k++) {
        struct gs_msg *mx = gst_msg(&f.peer[7], (uint64_t)(100 + k), T, "x");
        gs_pending_ihave(&p, T, strlen(T), (const uint8_t *const[]){ mx->id }, &mx->id_len, 1);
        gst_feed(f.r, &f.peer[7].id, &p, f.now);
        gs_msg_unref(mx);
    }
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[7].niwant_ids, 10);
    gs_pending_free(&p);
    gs_msg_unref(m);
    gs_msg_unref(m2);
    fx_free(&f);
}
END_TEST

static void no_flood(struct gs_config *c)
{
    c->flood_publish = false;
}

START_TEST(fanout_and_flood_publish)
{
    struct fx f;
    fx_init(&f, 10, false, no_flood);
    fx_add(&f, 0, 10, GS_MESHSUB_12, true);
    for (size_t i = 0; i < 10; i++) fx_sub(&f, i, "f", true);
    struct gst_seen s[10], sum;
    fx_drain_all(&f, s, &sum);
    /* Not joined, no flood publishing: a fanout of D peers. */
    ck_assert_int_eq(gs_router_publish(f.r, "f", (const uint8_t *)"1", 1, f.now, NULL, NULL), 0);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(sum.nmsg, 6);
    p2p_peerid v[16];
    ck_assert_uint_eq(gs_router_fanout_peers(f.r, "f", v, 16), 6);
    /* The same fanout for the next message. */
    ck_assert_int_eq(gs_router_publish(f.r, "f", (const uint8_t *)"2", 1, f.now, NULL, NULL), 0);
    struct gst_seen s2[10];
    fx_drain_all(&f, s2, &sum);
    for (size_t i = 0; i < 10; i++) ck_assert_uint_eq(s[i].nmsg, s2[i].nmsg);
    /* Expires fanout_ttl (60 s) after the last publication. */
    for (int i = 0; i < 59; i++) fx_beat(&f, 1000);
    ck_assert_uint_eq(gs_router_fanout_peers(f.r, "f", v, 16), 6);
    fx_beat(&f, 1000);
    fx_beat(&f, 1000);
    ck_assert_uint_eq(gs_router_fanout_peers(f.r, "f", v, 16), 0);
    /* Joining a topic with a fanout moves it into the mesh. */
    ck_assert_int_eq(gs_router_publish(f.r, "f", (const uint8_t *)"3", 1, f.now, NULL, NULL), 0);
    ck_assert_int_eq(gs_router_join(f.r, "f", f.now), 0);
    ck_assert_uint_eq(gs_router_fanout_peers(f.r, "f", v, 16), 0);
    ck_assert_uint_eq(fx_mesh_n(&f, "f"), 6);
    /* Joined, no flood publishing: the mesh only. */
    fx_drain_all(&f, s, &sum);
    ck_assert_int_eq(gs_router_publish(f.r, "f", (const uint8_t *)"4", 1, f.now, NULL, NULL), 0);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(sum.nmsg, 6);
    for (size_t i = 0; i < 10; i++) ck_assert_uint_eq(s[i].nmsg, fx_in_mesh(&f, i, "f") ? 1 : 0);
    fx_free(&f);

    /* Flood publishing (the default): every topic peer. */
    fx_init(&f, 10, false, NULL);
    fx_add(&f, 0, 10, GS_MESHSUB_12, true);
    for (size_t i = 0; i < 10; i++) fx_sub(&f, i, "f", true);
    ck_assert_int_eq(gs_router_join(f.r, "f", f.now), 0);
    fx_drain_all(&f, s, &sum);
    ck_assert_int_eq(gs_router_publish(f.r, "f", (const uint8_t *)"5", 1, f.now, NULL, NULL), 0);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(sum.nmsg, 10);
    fx_free(&f);
}
END_TEST

START_TEST(idontwant)
{
    struct fx f;
    fx_init(&f, 4, false, NULL);
    fx_add(&f, 0, 3, GS_MESHSUB_12, true);
    fx_add(&f, 3, 4, GS_MESHSUB_11, true);
    for (size_t i = 0; i < 4; i++) fx_sub(&f, i, T, true);
    ck_assert_int_eq(gs_router_join(f.r, T, f.now), 0);
    ck_assert_uint_eq(fx_mesh_n(&f, T), 4);
    struct gst_seen s[4], sum;
    fx_drain_all(&f, s, &sum);
    char big[2000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = 0;
    struct gs_msg *m = gst_msg(&f.peer[2], 1, T, big);
    /* Peer 1 does not want it. */
    struct gs_pending p;
    gs_pending_init(&p);
    gs_pending_idontwant(&p, (const uint8_t *const[]){ m->id }, &m->id_len, 1);
    gst_feed(f.r, &f.peer[1].id, &p, f.now);
    gs_pending_free(&p);
    /* Peer 0 sends it: forwarded to peer 3 only (1 declined it, 2 is the
     * author); IDONTWANT to v1.2 mesh peers but the source (1, 2; not 3). */
    fx_send_msg(&f, 0, m);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[1].nmsg, 0);
    ck_assert_uint_eq(s[2].nmsg, 0);
    ck_assert_uint_eq(s[3].nmsg, 1);
    ck_assert_uint_eq(s[0].nidontwant_ids, 0);
    ck_assert_uint_eq(s[1].nidontwant_ids, 1);
    ck_assert_uint_eq(s[2].nidontwant_ids, 0);   /* the author */
    ck_assert_uint_eq(s[3].nidontwant_ids, 0);   /* meshsub/1.1 */
    /* The IDONTWANT expires after idontwant_ttl heartbeats: IWANT of
     * peer 1 is refused before, served after. */
    gs_pending_init(&p);
    gs_pending_iwant(&p, (const uint8_t *const[]){ m->id }, &m->id_len, 1);
    gst_feed(f.r, &f.peer[1].id, &p, f.now);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[1].nmsg, 0);
    for (int i = 0; i < 3; i++) fx_beat(&f, 1000);
    gs_pending_iwant(&p, (const uint8_t *const[]){ m->id }, &m->id_len, 1);
    gst_feed(f.r, &f.peer[1].id, &p, f.now);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[1].nmsg, 1);
    gs_pending_free(&p);
    /* Small messages: no IDONTWANT. */
    struct gs_msg *small = gst_msg(&f.peer[2], 2, T, "small");
    fx_send_msg(&f, 0, small);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(sum.nidontwant_ids, 0);
    gs_msg_unref(small);
    gs_msg_unref(m);
    fx_free(&f);
}
END_TEST

/* A copy queued to a peer and not sealed yet is not sent once the peer
 * shows it has the message: its IDONTWANT (the copy; our IDONTWANT to it
 * stays) or its own copy (both). What was sealed before goes out. */
START_TEST(idontwant_cancels_queued)
{
    struct fx f;
    fx_init(&f, 5, false, NULL);
    fx_add(&f, 0, 4, GS_MESHSUB_12, true);
    for (size_t i = 0; i < 4; i++) fx_sub(&f, i, T, true);
    ck_assert_int_eq(gs_router_join(f.r, T, f.now), 0);
    ck_assert_uint_eq(fx_mesh_n(&f, T), 4);
    struct gst_seen s[5], sum;
    fx_drain_all(&f, s, &sum);
    char big[2000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = 0;
    struct gs_msg *small = gst_msg(&f.peer[4], 1, T, "small");
    struct gs_msg *m = gst_msg(&f.peer[4], 2, T, big);
    struct gs_stats st;
    /* Peer 0 sends both (author 4 is not connected): copies to 1, 2, 3,
     * IDONTWANT for the big one, all queued, none sealed. */
    fx_send_msg(&f, 0, small);
    fx_send_msg(&f, 0, m);
    /* Peer 1's IDONTWANT and peer 2's own copy arrive before we write. */
    struct gs_pending p;
    gs_pending_init(&p);
    gs_pending_idontwant(&p, (const uint8_t *const[]){ m->id }, &m->id_len, 1);
    gst_feed(f.r, &f.peer[1].id, &p, f.now);
    gs_pending_free(&p);
    fx_send_msg(&f, 2, m);
    gs_router_stats(f.r, &st);
    ck_assert_uint_eq(st.msgs_forwarded, 6);
    ck_assert_uint_eq(st.msgs_cancelled, 2);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[0].nmsg, 0);
    ck_assert_uint_eq(s[1].nmsg, 1);   /* the small one only */
    ck_assert_uint_eq(s[1].msg_len[0], 5);
    ck_assert_uint_eq(s[1].nidontwant_ids, 1);
    ck_assert_uint_eq(s[2].nmsg, 1);
    ck_assert_uint_eq(s[2].msg_len[0], 5);
    ck_assert_uint_eq(s[2].nidontwant_ids, 0);
    ck_assert_uint_eq(s[3].nmsg, 2);
    ck_assert_uint_eq(s[3].nidontwant_ids, 1);
    /* Sealed and taken: a late IDONTWANT or copy changes nothing. */
    fx_send_msg(&f, 3, m);
    gs_router_stats(f.r, &st);
    ck_assert_uint_eq(st.msgs_cancelled, 2);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(sum.nmsg, 0);
    /* An IWANT answer queued to a peer that then sends IDONTWANT for it
     * (v1.2 "Cancelling IWANT") is not sent either. */
    for (int i = 0; i < 3; i++) fx_beat(&f, 1000);   /* peer 1's IDONTWANT expired */
    fx_drain_all(&f, s, &sum);
    gs_pending_init(&p);
    gs_pending_iwant(&p, (const uint8_t *const[]){ m->id }, &m->id_len, 1);
    gst_feed(f.r, &f.peer[1].id, &p, f.now);
    gs_pending_free(&p);
    gs_pending_init(&p);
    gs_pending_idontwant(&p, (const uint8_t *const[]){ m->id }, &m->id_len, 1);
    gst_feed(f.r, &f.peer[1].id, &p, f.now);
    gs_pending_free(&p);
    fx_drain_all(&f, s, &sum);
    ck_assert_uint_eq(s[1].nmsg, 0);
    gs_router_stats(f.r, &st);
    ck_assert_uint_eq(st.msgs_cancelled, 3);
    gs_msg_unref(small);
    gs_msg_unref(m);
    fx_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gossipsub_router");
    TCase *tc = tcase_create("router");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, hello_and_subscriptions);
    tcase_add_test(tc, mesh_maintenance);
    tcase_add_test(tc, prune_backoff);
    tcase_add_test(tc, graft_unknown_topic_and_negative);
    tcase_add_test(tc, ihave_iwant);
    tcase_add_test(tc, fanout_and_flood_publish);
    tcase_add_test(tc, idontwant);
    tcase_add_test(tc, idontwant_cancels_queued);
    suite_add_tcase(s, tc);
    return p2p_test_run(s);
}
