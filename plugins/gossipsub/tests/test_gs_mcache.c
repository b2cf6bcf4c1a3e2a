/* unit.gossipsub_mcache: the message cache (history windows, gossip ids, IWANT
 * counts per peer, limits) and the seen cache (TTL, FIFO bound). */
#include <stdio.h>
#include <string.h>

#include "gs_mcache.h"
#include "p2p/error.h"
#include "testutil.h"

static p2p_keypair KP;
static p2p_peerid ID;

static struct gs_msg *msg(uint64_t seqno, const char *topic)
{
    struct gs_msg *m;
    ck_assert_int_eq(gs_msg_publish(&m, GS_SIGN_NONE, GS_ID_FROM_SEQNO, &KP, &ID, seqno, topic,
                                    (const uint8_t *)"d", 1), 0);
    return m;
}

static void setup(void)
{
    p2p_keypair_from_seed_byte(&KP, 9);
    p2p_pubkey pub;
    p2p_keypair_public(&KP, &pub);
    p2p_peerid_from_pubkey(&ID, &pub);
}

static const uint8_t HK[GS_HASHKEY_LEN] = { 9 };

START_TEST(windows_and_gossip)
{
    struct gs_mcache mc;
    gs_mcache_init(&mc, 5, 3, 1000, 1 << 20, HK);
    struct gs_msg *m[10];
    for (int i = 0; i < 10; i++) {
        m[i] = msg((uint64_t)i, i % 2 ? "odd" : "even");
        ck_assert_int_eq(gs_mcache_put(&mc, m[i]), 0);
        if (i % 2) gs_mcache_shift(&mc);   /* windows: {0,1} {2,3} {4,5} {6,7} {8,9} */
    }
    ck_assert_int_eq(gs_mcache_put(&mc, m[3]), P2P_EEXIST);
    struct gs_msg *out[16];
    /* After 5 shifts the newest window is empty; gossip covers 3 windows:
     * empty, {8,9}, {6,7}. */
    size_t n = gs_mcache_gossip(&mc, "even", out, 16);
    ck_assert_uint_eq(n, 2);
    n = gs_mcache_gossip(&mc, "odd", out, 16);
    ck_assert_uint_eq(n, 2);
    /* History 5 windows: empty + 4 windows of the 5 filled: {0,1} is gone. */
    ck_assert_ptr_null(gs_mcache_get(&mc, m[0]->id, m[0]->id_len));
    ck_assert_ptr_null(gs_mcache_get(&mc, m[1]->id, m[1]->id_len));
    ck_assert_ptr_eq(gs_mcache_get(&mc, m[2]->id, m[2]->id_len), m[2]);
    ck_assert_uint_eq(mc.n, 8);
    for (int i = 0; i < 5; i++) gs_mcache_shift(&mc);
    ck_assert_uint_eq(mc.n, 0);
    for (int i = 0; i < 10; i++) {
        ck_assert_uint_eq(m[i]->refs, 1);   /* the cache released its references */
        gs_msg_unref(m[i]);
    }
    gs_mcache_free(&mc);
}
END_TEST

START_TEST(iwant_counts_and_limit)
{
    struct gs_mcache mc;
    gs_mcache_init(&mc, 2, 1, 3, 1 << 20, HK);
    struct gs_msg *m[4];
    for (int i = 0; i < 4; i++) m[i] = msg((uint64_t)i, "t");
    for (int i = 0; i < 3; i++) ck_assert_int_eq(gs_mcache_put(&mc, m[i]), 0);
    ck_assert_int_eq(gs_mcache_put(&mc, m[3]), P2P_ELIMIT);
    unsigned count;
    for (unsigned k = 1; k <= 4; k++) {
        ck_assert_ptr_eq(gs_mcache_get_for_peer(&mc, m[0]->id, m[0]->id_len, 77, &count), m[0]);
        ck_assert_uint_eq(count, k);
    }
    ck_assert_ptr_eq(gs_mcache_get_for_peer(&mc, m[0]->id, m[0]->id_len, 78, &count), m[0]);
    ck_assert_uint_eq(count, 1);
    /* Only GS_MCACHE_MAX_REQUESTERS distinct peers are tracked. */
    for (uint32_t p = 100; p < 100 + GS_MCACHE_MAX_REQUESTERS; p++)
        gs_mcache_get_for_peer(&mc, m[1]->id, m[1]->id_len, p, &count);
    ck_assert_ptr_null(gs_mcache_get_for_peer(&mc, m[1]->id, m[1]->id_len, 5000, &count));
    ck_assert_ptr_null(gs_mcache_get_for_peer(&mc, m[3]->id, m[3]->id_len, 1, &count));
    gs_mcache_free(&mc);
    /* The byte bound. */
    gs_mcache_init(&mc, 2, 1, 100, m[0]->enc_len * 2, HK);
    ck_assert_int_eq(gs_mcache_put(&mc, m[0]), 0);
    ck_assert_int_eq(gs_mcache_put(&mc, m[1]), 0);
    ck_assert_int_eq(gs_mcache_put(&mc, m[2]), P2P_ELIMIT);
    gs_mcache_shift(&mc);
    gs_mcache_shift(&mc);
    ck_assert_uint_eq(mc.bytes, 0);
    ck_assert_int_eq(gs_mcache_put(&mc, m[2]), 0);
    gs_mcache_free(&mc);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(m[i]->refs, 1);
        gs_msg_unref(m[i]);
    }
}
END_TEST

START_TEST(seen_ttl_and_bound)
{
    struct gs_seen s;
    gs_seen_init(&s, 1000, 3, HK);
    ck_assert_int_eq(gs_seen_add(&s, (const uint8_t *)"a", 1, 0), 0);
    ck_assert_int_eq(gs_seen_add(&s, (const uint8_t *)"a", 1, 10), P2P_EEXIST);
    ck_assert_int_eq(gs_seen_add(&s, (const uint8_t *)"b", 1, 500), 0);
    ck_assert(gs_seen_has(&s, (const uint8_t *)"a", 1));
    gs_seen_expire(&s, 999);
    ck_assert(gs_seen_has(&s, (const uint8_t *)"a", 1));
    gs_seen_expire(&s, 1000);   /* first-seen expiry: re-seeing did not extend it */
    ck_assert(!gs_seen_has(&s, (const uint8_t *)"a", 1));
    ck_assert(gs_seen_has(&s, (const uint8_t *)"b", 1));
    ck_assert_int_eq(gs_seen_add(&s, (const uint8_t *)"c", 1, 600), 0);
    ck_assert_int_eq(gs_seen_add(&s, (const uint8_t *)"d", 1, 700), 0);
    ck_assert_int_eq(gs_seen_add(&s, (const uint8_t *)"e", 1, 800), 0);   /* full: "b" goes */
    ck_assert(!gs_seen_has(&s, (const uint8_t *)"b", 1));
    ck_assert_uint_eq(s.n, 3);
    gs_seen_free(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gossipsub_mcache");
    TCase *tc = tcase_create("mcache");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, windows_and_gossip);
    tcase_add_test(tc, iwant_counts_and_limit);
    tcase_add_test(tc, seen_ttl_and_bound);
    suite_add_tcase(s, tc);
    return p2p_test_run(s);
}
