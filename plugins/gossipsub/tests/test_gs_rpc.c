/* unit.gossipsub_rpc: the RPC encoder, framing, bounded decoding and cleaning
 * (gs_rpc.c), plus the containers of gs_util.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_rpc.h"
#include "gs_util.h"
#include "p2p/error.h"
#include "testutil.h"

static const struct gs_rpc_limits LIM = { 1 << 20, 16, 64, 8, 10, 4, 3 };

static p2p_peerid pid(uint8_t n)
{
    p2p_keypair kp;
    p2p_keypair_from_seed_byte(&kp, n);
    p2p_pubkey pub;
    p2p_keypair_public(&kp, &pub);
    p2p_peerid id;
    ck_assert_int_eq(p2p_peerid_from_pubkey(&id, &pub), 0);
    return id;
}

/* Seal p into frames and decode the (single) frame. */
static void one_frame(struct gs_pending *p, struct gs_rpc *rpc, const struct gs_rpc_limits *lim)
{
    p2p_buf out;
    p2p_buf_init(&out, 0);
    ck_assert_int_eq(gs_pending_seal(p, &out, 1 << 20), 0);
    ck_assert(gs_pending_empty(p));
    struct gs_framer fr;
    gs_framer_init(&fr, 1 << 20);
    ck_assert_int_eq(gs_framer_push(&fr, p2p_buf_head(&out), out.len), 0);
    const uint8_t *f;
    size_t len;
    ck_assert_int_eq(gs_framer_next(&fr, &f, &len), 1);
    ck_assert_int_eq(gs_rpc_decode(rpc, f, len, lim), 0);
    ck_assert_int_eq(gs_framer_next(&fr, &f, &len), 0);
    gs_framer_free(&fr);
    p2p_buf_free(&out);
}

START_TEST(encode_decode_everything)
{
    struct gs_pending p;
    gs_pending_init(&p);
    const uint8_t *ids[3] = { (const uint8_t *)"id-1", (const uint8_t *)"id-22", (const uint8_t *)"id-333" };
    size_t lens[3] = { 4, 5, 6 };
    p2p_peerid px[2] = { pid(1), pid(2) };
    ck_assert_int_eq(gs_pending_sub(&p, "room", 4, true), 0);
    ck_assert_int_eq(gs_pending_sub(&p, "old", 3, false), 0);
    ck_assert_int_eq(gs_pending_msg(&p, (const uint8_t *)"\x22\x01t", 3), 0);   /* Message{topic:"t"} */
    ck_assert_int_eq(gs_pending_ihave(&p, "room", 4, ids, lens, 3), 0);
    ck_assert_int_eq(gs_pending_iwant(&p, ids, lens, 2), 0);
    ck_assert_int_eq(gs_pending_graft(&p, "room", 4), 0);
    ck_assert_int_eq(gs_pending_prune(&p, "room", 4, 60, true, px, 2), 0);
    ck_assert_int_eq(gs_pending_prune(&p, "v10", 3, 0, false, NULL, 0), 0);
    ck_assert_int_eq(gs_pending_idontwant(&p, ids + 2, lens + 2, 1), 0);
    struct gs_rpc rpc;
    one_frame(&p, &rpc, &LIM);
    Gspb__RPC *pb = rpc.pb;
    ck_assert_uint_eq(pb->n_subscriptions, 2);
    ck_assert(pb->subscriptions[0]->subscribe);
    ck_assert_mem_eq(pb->subscriptions[0]->topic_id.data, "room", 4);
    ck_assert(pb->subscriptions[1]->has_subscribe && !pb->subscriptions[1]->subscribe);
    ck_assert_uint_eq(pb->n_publish, 1);
    ck_assert_mem_eq(pb->publish[0]->topic.data, "t", 1);
    Gspb__ControlMessage *c = pb->control;
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c->n_ihave, 1);
    ck_assert_uint_eq(c->ihave[0]->n_message_ids, 3);
    ck_assert_mem_eq(c->ihave[0]->message_ids[2].data, "id-333", 6);
    ck_assert_uint_eq(c->n_iwant, 1);
    ck_assert_uint_eq(c->iwant[0]->n_message_ids, 2);
    ck_assert_uint_eq(c->n_graft, 1);
    ck_assert_uint_eq(c->n_prune, 2);
    ck_assert(c->prune[0]->has_backoff);
    ck_assert_uint_eq(c->prune[0]->backoff, 60);
    ck_assert_uint_eq(c->prune[0]->n_peers, 2);
    ck_assert_mem_eq(c->prune[0]->peers[1]->peer_id.data, px[1].bytes, px[1].len);
    ck_assert(!c->prune[1]->has_backoff);
    ck_assert_uint_eq(c->prune[1]->n_peers, 0);
    ck_assert_uint_eq(c->n_idontwant, 1);
    ck_assert_uint_eq(c->idontwant[0]->n_message_ids, 1);
    gs_rpc_clear(&rpc);
    gs_pending_free(&p);
}
END_TEST

START_TEST(cleaning_and_limits)
{
    struct gs_pending p;
    gs_pending_init(&p);
    /* Subscriptions: 10 valid, the limit keeps 8; bad topics dropped. */
    for (int i = 0; i < 10; i++) ck_assert_int_eq(gs_pending_sub(&p, "topic", 5, true), 0);
    ck_assert_int_eq(gs_pending_sub(&p, "", 0, true), 0);
    ck_assert_int_eq(gs_pending_sub(&p, "nul\0x", 5, true), 0);
    ck_assert_int_eq(gs_pending_sub(&p, "a-topic-longer-than-16", 22, true), 0);
    /* 12 ids: 10 kept in all (RPC-wide per kind); empty and long ids dropped. */
    const uint8_t *ids[14];
    size_t lens[14];
    uint8_t longid[100];
    memset(longid, 'x', sizeof longid);
    for (int i = 0; i < 12; i++) {
        ids[i] = (const uint8_t *)"abcdef";
        lens[i] = 6;
    }
    ids[12] = longid;
    lens[12] = sizeof longid;
    ids[13] = (const uint8_t *)"";
    lens[13] = 0;
    ck_assert_int_eq(gs_pending_ihave(&p, "t", 1, ids + 6, lens + 6, 8), 0);
    ck_assert_int_eq(gs_pending_ihave(&p, "t", 1, ids, lens, 6), 0);
    ck_assert_int_eq(gs_pending_iwant(&p, ids + 12, lens + 12, 2), 0);
    ck_assert_int_eq(gs_pending_ihave(&p, "", 0, ids, lens, 2), 0);
    /* GRAFTs: 4 kept of 6; PRUNE peers: 3 kept, bad PeerIds dropped. */
    for (int i = 0; i < 6; i++) ck_assert_int_eq(gs_pending_graft(&p, "g", 1), 0);
    p2p_peerid px[5] = { pid(1), pid(2), pid(3), pid(4), pid(5) };
    px[0].len = 3;   /* not a multihash */
    ck_assert_int_eq(gs_pending_prune(&p, "g", 1, 10, true, px, 5), 0);
    struct gs_rpc rpc;
    one_frame(&p, &rpc, &LIM);
    Gspb__RPC *pb = rpc.pb;
    ck_assert_uint_eq(pb->n_subscriptions, 8);
    ck_assert_uint_eq(rpc.drops.subs, 5);
    Gspb__ControlMessage *c = pb->control;
    ck_assert_uint_eq(c->n_ihave, 2);
    ck_assert_uint_eq(c->ihave[0]->n_message_ids + c->ihave[1]->n_message_ids, 10);
    ck_assert_uint_eq(c->n_iwant, 0);
    ck_assert_uint_eq(c->n_graft, 4);
    ck_assert_uint_eq(c->n_prune, 1);
    ck_assert_uint_eq(c->prune[0]->n_peers, 3);
    ck_assert_uint_eq(rpc.drops.px, 2);
    gs_rpc_clear(&rpc);
    gs_pending_free(&p);
}
END_TEST

START_TEST(bad_input)
{
    struct gs_rpc rpc;
    /* not protobuf */
    const uint8_t junk[] = { 0x0a, 0x05, 0x01 };
    ck_assert_int_eq(gs_rpc_decode(&rpc, junk, sizeof junk, &LIM), P2P_EPROTO);
    gs_rpc_clear(&rpc);
    /* over the size limit */
    struct gs_rpc_limits small = LIM;
    small.max_rpc_size = 2;
    ck_assert_int_eq(gs_rpc_decode(&rpc, junk, sizeof junk, &small), P2P_ERANGE);
    gs_rpc_clear(&rpc);
    /* an empty RPC is fine */
    ck_assert_int_eq(gs_rpc_decode(&rpc, junk, 0, &LIM), 0);
    ck_assert_uint_eq(rpc.pb->n_publish, 0);
    gs_rpc_clear(&rpc);
    /* allocation budget: 60000 empty IWANT entries in one frame */
    size_t n = 60000 * 2 + 8;
    uint8_t *big = malloc(n);
    size_t k = 0;
    big[k++] = 0x1a;   /* control */
    big[k++] = 0x80 | (uint8_t)((60000 * 2) & 0x7f);
    big[k++] = 0x80 | (uint8_t)(((60000 * 2) >> 7) & 0x7f);
    big[k++] = (uint8_t)((60000 * 2) >> 14);
    for (int i = 0; i < 60000; i++) {
        big[k++] = 0x12;
        big[k++] = 0x00;
    }
    ck_assert_int_eq(gs_rpc_decode(&rpc, big, k, &LIM), P2P_EPROTO);
    gs_rpc_clear(&rpc);
    free(big);
}
END_TEST

START_TEST(framing)
{
    struct gs_framer fr;
    gs_framer_init(&fr, 100);
    const uint8_t *f;
    size_t len;
    /* byte by byte: two frames of 3 and 0 bytes */
    const uint8_t in[] = { 3, 'a', 'b', 'c', 0 };
    int got = 0;
    for (size_t i = 0; i < sizeof in; i++) {
        ck_assert_int_eq(gs_framer_push(&fr, in + i, 1), 0);
        int rc;
        while ((rc = gs_framer_next(&fr, &f, &len)) == 1) {
            if (got == 0) {
                ck_assert_uint_eq(len, 3);
                ck_assert_mem_eq(f, "abc", 3);
            } else {
                ck_assert_uint_eq(len, 0);
            }
            got++;
        }
        ck_assert_int_eq(rc, 0);
    }
    ck_assert_int_eq(got, 2);
    /* a non-minimal length prefix */
    const uint8_t big[] = { 0xe5, 0x00 };
    ck_assert_int_eq(gs_framer_push(&fr, big, sizeof big), 0);
    ck_assert_int_eq(gs_framer_next(&fr, &f, &len), P2P_EPROTO);
    gs_framer_free(&fr);
    gs_framer_init(&fr, 100);
    const uint8_t over[] = { 101 };
    ck_assert_int_eq(gs_framer_push(&fr, over, 1), 0);
    ck_assert_int_eq(gs_framer_next(&fr, &f, &len), P2P_ERANGE);
    gs_framer_free(&fr);
}
END_TEST

START_TEST(splitting)
{
    struct gs_pending p;
    gs_pending_init(&p);
    uint8_t body[1000];
    memset(body, 0x22, 2);   /* a Message whose body is junk: only sizes matter here */
    for (int i = 0; i < 50; i++) ck_assert_int_eq(gs_pending_msg(&p, body, sizeof body), 0);
    for (int i = 0; i < 300; i++) ck_assert_int_eq(gs_pending_graft(&p, "some-topic", 10), 0);
    uint8_t huge[5000];
    memset(huge, 0, sizeof huge);
    ck_assert_int_eq(gs_pending_msg(&p, huge, sizeof huge), 0);
    p2p_buf out;
    p2p_buf_init(&out, 0);
    ck_assert_int_eq(gs_pending_seal(&p, &out, 4096), 0);
    struct gs_framer fr;
    gs_framer_init(&fr, 1 << 20);
    gs_framer_push(&fr, p2p_buf_head(&out), out.len);
    const uint8_t *f;
    size_t len, frames = 0, over = 0, total = 0;
    while (gs_framer_next(&fr, &f, &len) == 1) {
        frames++;
        total += len;
        if (len > 4096) over++;
    }
    ck_assert_uint_ge(frames, 50000 / 4096 + 1);
    ck_assert_uint_eq(over, 1);   /* only the 5000-byte item, alone */
    ck_assert_uint_gt(total, 50 * 1000 + 300 * 12 + 5000);
    gs_framer_free(&fr);
    p2p_buf_free(&out);
    /* An output limit: nothing appended, pending emptied. */
    p2p_buf lim;
    p2p_buf_init(&lim, 10);
    ck_assert_int_eq(gs_pending_graft(&p, "some-topic", 10), 0);
    ck_assert_int_eq(gs_pending_msg(&p, body, sizeof body), 0);
    ck_assert_int_eq(gs_pending_seal(&p, &lim, 4096), P2P_ELIMIT);
    ck_assert_uint_eq(lim.len, 0);
    ck_assert(gs_pending_empty(&p));
    p2p_buf_free(&lim);
    gs_pending_free(&p);
}
END_TEST

/* Seal p, the bytes appended to out. */
static void seal_to(struct gs_pending *p, p2p_buf *out)
{
    p2p_buf_init(out, 0);
    ck_assert_int_eq(gs_pending_seal(p, out, 1 << 20), 0);
}

/* Cancelled items leave exactly the frames the other items alone make. */
START_TEST(cancel_items)
{
    const uint8_t *ids[2] = { (const uint8_t *)"id-1", (const uint8_t *)"id-22" };
    size_t lens[2] = { 4, 5 };
    const uint8_t m1[] = "\x22\x01t\x12\x01" "a", m2[] = "\x22\x01t\x12\x02" "bb";   /* Message{topic, data} */
    struct gs_pending p, want;
    gs_pending_init(&p);
    gs_pending_init(&want);
    ck_assert_int_eq(gs_pending_sub(&p, "room", 4, true), 0);
    ck_assert_int_eq(gs_pending_msg_keyed(&p, m1, sizeof m1 - 1, 1), 0);
    ck_assert_int_eq(gs_pending_idontwant_keyed(&p, ids[0], lens[0], 1), 0);
    ck_assert_int_eq(gs_pending_msg_keyed(&p, m2, sizeof m2 - 1, 2), 0);
    ck_assert_int_eq(gs_pending_graft(&p, "room", 4), 0);
    ck_assert_int_eq(gs_pending_msg_keyed(&p, m1, sizeof m1 - 1, 1), 0);
    ck_assert_int_eq(gs_pending_idontwant_keyed(&p, ids[1], lens[1], 2), 0);
    ck_assert_int_eq(gs_pending_msg(&p, m1, sizeof m1 - 1), 0);   /* not keyed: stays */
    /* Nothing under key 3; key 1's two messages, then its IDONTWANT. */
    ck_assert_uint_eq(gs_pending_cancel(&p, 3, GS_PEND_MSG | GS_PEND_IDONTWANT), 0);
    ck_assert_uint_eq(gs_pending_cancel(&p, 1, GS_PEND_MSG), 2);
    ck_assert_uint_eq(gs_pending_cancel(&p, 1, GS_PEND_MSG), 0);
    ck_assert_uint_eq(gs_pending_cancel(&p, 1, GS_PEND_IDONTWANT), 0);   /* counts messages only */
    ck_assert_int_eq(gs_pending_sub(&want, "room", 4, true), 0);
    ck_assert_int_eq(gs_pending_msg(&want, m2, sizeof m2 - 1), 0);
    ck_assert_int_eq(gs_pending_graft(&want, "room", 4), 0);
    ck_assert_int_eq(gs_pending_idontwant(&want, ids + 1, lens + 1, 1), 0);
    ck_assert_int_eq(gs_pending_msg(&want, m1, sizeof m1 - 1), 0);
    p2p_buf a, b;
    seal_to(&p, &a);
    seal_to(&want, &b);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert_mem_eq(p2p_buf_head(&a), p2p_buf_head(&b), a.len);
    p2p_buf_free(&a);
    p2p_buf_free(&b);
    /* Sealed items cannot be cancelled; a cancelled IDONTWANT empties ctl. */
    ck_assert_int_eq(gs_pending_msg_keyed(&p, m2, sizeof m2 - 1, 2), 0);
    seal_to(&p, &a);
    p2p_buf_free(&a);
    ck_assert_uint_eq(gs_pending_cancel(&p, 2, GS_PEND_MSG), 0);
    ck_assert_int_eq(gs_pending_idontwant_keyed(&p, ids[1], lens[1], 2), 0);
    ck_assert_uint_eq(gs_pending_cancel(&p, 2, GS_PEND_IDONTWANT | GS_PEND_MSG), 0);
    ck_assert(gs_pending_empty(&p));
    /* At most GS_PEND_MARKS_MAX items are remembered; later ones are sent. */
    for (int i = 0; i < GS_PEND_MARKS_MAX + 10; i++) ck_assert_int_eq(gs_pending_msg_keyed(&p, m1, sizeof m1 - 1, 7), 0);
    ck_assert_uint_eq(gs_pending_cancel(&p, 7, GS_PEND_MSG), GS_PEND_MARKS_MAX);
    ck_assert_uint_eq(gs_pending_size(&p), 10 * (sizeof m1 - 1 + 2));
    gs_pending_free(&p);
    gs_pending_free(&want);
}
END_TEST

START_TEST(containers)
{
    uint8_t key[GS_HASHKEY_LEN] = { 1, 2, 3 };
    struct gs_map m;
    gs_map_init(&m, key);
    static char keys[5000][8];
    for (int i = 0; i < 5000; i++) {
        snprintf(keys[i], 8, "k%d", i);
        ck_assert_int_eq(gs_map_put(&m, keys[i], strlen(keys[i]), keys[i]), 0);
    }
    ck_assert_uint_eq(m.n, 5000);
    for (int i = 0; i < 5000; i += 2) ck_assert_ptr_eq(gs_map_del(&m, keys[i], strlen(keys[i])), keys[i]);
    for (int i = 0; i < 5000; i++) {
        void *v = gs_map_get(&m, keys[i], strlen(keys[i]));
        if (i % 2) ck_assert_ptr_eq(v, keys[i]);
        else ck_assert_ptr_null(v);
    }
    ck_assert_ptr_null(gs_map_del(&m, "nope", 4));
    gs_map_free(&m);

    struct gs_hset s;
    gs_hset_init(&s);
    for (uint64_t i = 0; i < 1000; i++) ck_assert_int_eq(gs_hset_put(&s, i * 7919, (uint8_t)(1 + i % 3)), 0);
    ck_assert(gs_hset_has(&s, 0));   /* 0 is stored as 1... */
    ck_assert(gs_hset_has(&s, 7919 * 999));
    gs_hset_tick(&s);   /* counters 1 expire */
    ck_assert_uint_eq(s.n, 666);
    ck_assert(gs_hset_has(&s, 7919 * 1));   /* 1 + 1 % 3 = 2 */
    gs_hset_tick(&s);
    gs_hset_tick(&s);
    ck_assert_uint_eq(s.n, 0);
    gs_hset_free(&s);

    struct gs_rng r1, r2;
    gs_rng_seed(&r1, 42);
    gs_rng_seed(&r2, 42);
    for (int i = 0; i < 100; i++) ck_assert_uint_eq(gs_rng_next(&r1), gs_rng_next(&r2));
    for (int i = 0; i < 1000; i++) ck_assert_uint_lt(gs_rng_below(&r1, 7), 7);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gossipsub_rpc");
    TCase *tc = tcase_create("rpc");
    tcase_add_test(tc, encode_decode_everything);
    tcase_add_test(tc, cleaning_and_limits);
    tcase_add_test(tc, bad_input);
    tcase_add_test(tc, framing);
    tcase_add_test(tc, splitting);
    tcase_add_test(tc, cancel_items);
    tcase_add_test(tc, containers);
    suite_add_tcase(s, tc);
    return p2p_test_run(s);
}
