/* test_kad_rt.c - unit.kad_rt: the key space (distances, prefixes, random
 * ids per bucket) and the routing table (bucket fill and splits, closest
 * peers, liveness checks and replacements, failures, refresh bookkeeping,
 * diversity limits), all with explicit time. */
#define _GNU_SOURCE   /* qsort_r */
#include <stdlib.h>
#include <string.h>

#include "kad_rt.h"
#include "p2p/p2p.h"
#include "testutil.h"

/* Deterministic "random" bytes: SHA-256 of a counter. */
static void det_rand(void *arg, uint8_t *buf, size_t n)
{
    uint64_t *ctr = arg;
    while (n) {
        uint8_t mh[34];
        uint8_t in[8];
        for (int i = 0; i < 8; i++) in[i] = (uint8_t)(*ctr >> (8 * i));
        (*ctr)++;
        p2p_multihash_sha256(in, sizeof in, mh);
        size_t k = n < 32 ? n : 32;
        memcpy(buf, mh + 2, k);
        buf += k;
        n -= k;
    }
}

static p2p_peerid peer_n(uint64_t n)
{
    p2p_peerid id;
    id.len = 34;
    id.bytes[0] = 0x12;
    id.bytes[1] = 0x20;
    uint64_t c = n * 7919 + 1;
    det_rand(&c, id.bytes + 2, 32);
    return id;
}

/* A peer whose key has exactly cpl prefix bits with self's. */
static p2p_peerid peer_cpl(const p2p_peerid *self, unsigned cpl, uint64_t *ctr)
{
    kad_key sk;
    kad_key_from_peer(&sk, self);
    p2p_peerid id;
    unsigned got = kad_key_random_peer(&id, &sk, cpl, det_rand, ctr, 1u << 20);
    ck_assert_uint_eq(got, cpl);
    return id;
}

static const struct kad_rt_config cfg20 = { 20, 3, 2, 5000, 0, 0 };

START_TEST(key_basics)
{
    kad_key a, b, d;
    memset(&a, 0, sizeof a);
    b = a;
    ck_assert_uint_eq(kad_key_cpl(&a, &b), 256);
    b.b[0] = 0x80;
    ck_assert_uint_eq(kad_key_cpl(&a, &b), 0);
    b.b[0] = 0x01;
    ck_assert_uint_eq(kad_key_cpl(&a, &b), 7);
    b.b[0] = 0;
    b.b[31] = 1;
    ck_assert_uint_eq(kad_key_cpl(&a, &b), 255);
    kad_key_distance(&a, &b, &d);
    ck_assert_uint_eq(d.b[31], 1);
    kad_key c = a;
    c.b[31] = 3;
    ck_assert_int_lt(kad_key_cmp(&a, &b, &c), 0);
    ck_assert_int_gt(kad_key_cmp(&a, &c, &b), 0);
    ck_assert_int_eq(kad_key_cmp(&a, &b, &b), 0);
    /* SHA-256 of the PeerId bytes, as every implementation. */
    p2p_peerid id = peer_n(1);
    kad_key k1, k2;
    kad_key_from_peer(&k1, &id);
    kad_key_from_bytes(&k2, id.bytes, id.len);
    ck_assert_mem_eq(k1.b, k2.b, 32);
    /* sha256("") */
    kad_key_from_bytes(&k1, (const uint8_t *)"", 0);
    ck_assert_uint_eq(k1.b[0], 0xe3);
    ck_assert_uint_eq(k1.b[31], 0x55);
}
END_TEST

START_TEST(random_peer_per_bucket)
{
    p2p_peerid self = peer_n(0);
    kad_key sk;
    kad_key_from_peer(&sk, &self);
    uint64_t ctr = 99;
    for (unsigned cpl = 0; cpl < 12; cpl++) {
        p2p_peerid id;
        ck_assert_uint_eq(kad_key_random_peer(&id, &sk, cpl, det_rand, &ctr, 1u << 16), cpl);
        p2p_peerid check;
        ck_assert_int_eq(p2p_peerid_from_bytes(&check, id.bytes, id.len), 0);   /* a valid PeerId */
    }
    /* Too few tries for a long prefix: the best shorter one. */
    p2p_peerid id;
    unsigned got = kad_key_random_peer(&id, &sk, 40, det_rand, &ctr, 8);
    ck_assert_uint_lt(got, 40);
}
END_TEST

START_TEST(fill_and_split)
{
    p2p_peerid self = peer_n(0), check;
    struct kad_rt rt;
    ck_assert_int_eq(kad_rt_init(&rt, &self, &cfg20, 0), 0);
    uint64_t ctr = 5;
    ck_assert_int_eq(kad_rt_add(&rt, &self, 0, 1, &check), KAD_RT_REJECTED);
    /* 20 peers of cpl 0 fill the single bucket. */
    p2p_peerid far[21];
    for (int i = 0; i < 21; i++) far[i] = peer_cpl(&self, 0, &ctr);
    for (int i = 0; i < 20; i++) ck_assert_int_eq(kad_rt_add(&rt, &far[i], 0, 10 + (uint64_t)i, &check), KAD_RT_ADDED);
    ck_assert_uint_eq(rt.nb, 1);
    ck_assert_uint_eq(rt.size, 20);
    ck_assert_int_eq(kad_rt_add(&rt, &far[3], 0, 50, &check), KAD_RT_UPDATED);
    /* A close peer: the last bucket is full, so it splits (cpl 0 stays). */
    p2p_peerid near = peer_cpl(&self, 3, &ctr);
    ck_assert_int_eq(kad_rt_add(&rt, &near, 0, 60, &check), KAD_RT_ADDED);
    ck_assert_uint_eq(rt.nb, 2);
    ck_assert_uint_eq(rt.b[0].n, 20);
    ck_assert_uint_eq(rt.b[1].n, 1);
    kad_key nk;
    kad_key_from_peer(&nk, &near);
    ck_assert_uint_eq(kad_rt_bucket_of(&rt, &nk), 1);
    /* Fill the last bucket with cpl 1..4 peers; more cpl-3 peers split it. */
    for (int i = 0; i < 19; i++) {
        p2p_peerid p = peer_cpl(&self, 1 + (unsigned)(i % 4), &ctr);
        ck_assert_int_eq(kad_rt_add(&rt, &p, 0, 70, &check), KAD_RT_ADDED);
    }
    ck_assert_uint_eq(rt.b[1].n, 20);
    p2p_peerid deep = peer_cpl(&self, 9, &ctr);
    ck_assert_int_eq(kad_rt_add(&rt, &deep, 0, 80, &check), KAD_RT_ADDED);
    ck_assert_uint_ge(rt.nb, 3);
    size_t total = 0;
    for (size_t i = 0; i < rt.nb; i++) {
        total += rt.b[i].n;
        for (size_t j = 0; j < rt.b[i].n; j++) {
            unsigned c = kad_key_cpl(&rt.b[i].e[j].key, &rt.self);
            if (i + 1 < rt.nb) ck_assert_uint_eq(c, i);
            else ck_assert_uint_ge(c, i);
        }
    }
    ck_assert_uint_eq(total, rt.size);
    ck_assert_uint_eq(rt.size, 41);
    ck_assert(kad_rt_contains(&rt, &deep));
    /* A 21st far peer: bucket 0 is full and not the last: a check. */
    ck_assert_int_eq(kad_rt_add(&rt, &far[20], 0, 90, &check), KAD_RT_CHECK);
    ck_assert(p2p_peerid_equal(&check, &far[0]));   /* least recently seen (added at 10) */
    ck_assert(!kad_rt_contains(&rt, &far[20]));
    kad_rt_free(&rt);
}
END_TEST

START_TEST(eviction_with_time)
{
    p2p_peerid self = peer_n(1), check, c2;
    struct kad_rt_config cfg = { 4, 2, 2, 1000, 0, 0 };
    struct kad_rt rt;
    ck_assert_int_eq(kad_rt_init(&rt, &self, &cfg, 0), 0);
    uint64_t ctr = 11;
    p2p_peerid p[8];
    for (int i = 0; i < 8; i++) p[i] = peer_cpl(&self, 0, &ctr);
    /* Fill bucket 0 and force a split so that bucket 0 is not the last. */
    for (int i = 0; i < 4; i++) ck_assert_int_eq(kad_rt_add(&rt, &p[i], 0, 100 + (uint64_t)i, &check), KAD_RT_ADDED);
    p2p_peerid n1 = peer_cpl(&self, 2, &ctr);
    ck_assert_int_eq(kad_rt_add(&rt, &n1, 0, 105, &check), KAD_RT_ADDED);
    ck_assert_uint_eq(rt.nb, 2);
    /* p[0] answers later: p[1] becomes the least recently seen. */
    kad_rt_seen(&rt, &p[0], 200);
    ck_assert_int_eq(kad_rt_add(&rt, &p[4], 0, 300, &check), KAD_RT_CHECK);
    ck_assert(p2p_peerid_equal(&check, &p[1]));
    /* While the check runs, newcomers only queue. */
    ck_assert_int_eq(kad_rt_add(&rt, &p[5], 0, 310, &c2), KAD_RT_QUEUED);
    /* p[1] is alive: it stays, seen now; the candidates wait. */
    kad_rt_check_done(&rt, &p[1], true, 320);
    ck_assert(kad_rt_contains(&rt, &p[1]));
    ck_assert_uint_eq(kad_rt_find(&rt, &p[1])->seen_ms, 320);
    ck_assert_uint_eq(rt.b[0].nrepl, 2);
    /* Next newcomer: check p[2] (seen 102); it is dead: the newest
     * replacement takes its place. */
    ck_assert_int_eq(kad_rt_add(&rt, &p[6], 0, 400, &check), KAD_RT_CHECK);
    ck_assert(p2p_peerid_equal(&check, &p[2]));
    ck_assert_uint_eq(rt.b[0].nrepl, 2);   /* bounded: p[4] dropped for p[6] */
    kad_rt_check_done(&rt, &p[2], false, 410);
    ck_assert(!kad_rt_contains(&rt, &p[2]));
    ck_assert(kad_rt_contains(&rt, &p[6]));
    ck_assert(!kad_rt_contains(&rt, &p[4]));
    ck_assert_uint_eq(rt.size, 5);
    ck_assert_uint_eq(kad_rt_find(&rt, &p[6])->added_ms, 410);
    /* A check nobody answers expires after check_timeout_ms: the next
     * add removes the checked peer and the bucket has room again. */
    ck_assert_int_eq(kad_rt_add(&rt, &p[7], 0, 500, &check), KAD_RT_CHECK);
    p2p_peerid unanswered = check;
    ck_assert_int_eq(kad_rt_add(&rt, &p[4], 0, 900, &c2), KAD_RT_QUEUED);
    /* p[4] was the newest replacement: it took the place. */
    ck_assert_int_eq(kad_rt_add(&rt, &p[4], 0, 1600, &c2), KAD_RT_UPDATED);
    ck_assert(!kad_rt_contains(&rt, &unanswered));
    ck_assert(kad_rt_contains(&rt, &p[4]));
    ck_assert_uint_eq(rt.size, 5);
    /* Failures: max_failures (2) in a row remove a peer. */
    ck_assert(!kad_rt_failed(&rt, &n1, 2000));
    kad_rt_seen(&rt, &n1, 2001);   /* an answer resets the count */
    ck_assert(!kad_rt_failed(&rt, &n1, 2002));
    ck_assert(kad_rt_failed(&rt, &n1, 2003));
    ck_assert(!kad_rt_contains(&rt, &n1));
    ck_assert(!kad_rt_failed(&rt, &n1, 2004));
    /* Removal (e.g. no longer a server). */
    ck_assert(kad_rt_remove(&rt, &p[0], 3000));
    ck_assert(!kad_rt_remove(&rt, &p[0], 3000));
    kad_rt_free(&rt);
}
END_TEST

static int by_distance(const void *a, const void *b, void *target)
{
    kad_key ka, kb;
    kad_key_from_peer(&ka, a);
    kad_key_from_peer(&kb, b);
    return kad_key_cmp(target, &ka, &kb);
}

START_TEST(closest_matches_brute_force)
{
    p2p_peerid self = peer_n(2), check;
    struct kad_rt_config cfg = { 20, 2, 3, 1000, 0, 0 };
    struct kad_rt rt;
    ck_assert_int_eq(kad_rt_init(&rt, &self, &cfg, 0), 0);
    enum { N = 300 };
    p2p_peerid *in = malloc(N * sizeof *in);
    size_t nin = 0;
    for (int i = 0; i < N; i++) {
        p2p_peerid p = peer_n(1000 + (uint64_t)i);
        int r = kad_rt_add(&rt, &p, 0, 1, &check);
        if (r == KAD_RT_CHECK) kad_rt_check_done(&rt, &check, true, 1);
        if (r == KAD_RT_ADDED) in[nin++] = p;
    }
    ck_assert_uint_eq(nin, rt.size);
    ck_assert_uint_gt(nin, 40);
    kad_key sort_target;
    for (int t = 0; t < 5; t++) {
        p2p_peerid target = peer_n(5000 + (uint64_t)t);
        kad_key_from_peer(&sort_target, &target);
        qsort_r(in, nin, sizeof *in, by_distance, &sort_target);
        p2p_peerid out[20];
        size_t n = kad_rt_closest(&rt, &sort_target, 20, out);
        ck_assert_uint_eq(n, 20);
        for (size_t i = 0; i < n; i++) ck_assert(p2p_peerid_equal(&out[i], &in[i]));
    }
    /* Fewer peers than asked. */
    p2p_peerid big[400];
    ck_assert_uint_eq(kad_rt_closest(&rt, &sort_target, 400, big), nin);
    free(in);
    kad_rt_free(&rt);
}
END_TEST

START_TEST(refresh_bookkeeping)
{
    p2p_peerid self = peer_n(3), check;
    struct kad_rt rt;
    ck_assert_int_eq(kad_rt_init(&rt, &self, &cfg20, 1000), 0);
    unsigned st[8];
    ck_assert_uint_eq(kad_rt_stale_buckets(&rt, 100000, 60000, st, 8), 0);   /* empty buckets never */
    uint64_t ctr = 77;
    p2p_peerid p = peer_cpl(&self, 0, &ctr);
    kad_rt_add(&rt, &p, 0, 1000, &check);
    ck_assert_uint_eq(kad_rt_stale_buckets(&rt, 30000, 60000, st, 8), 0);
    ck_assert_uint_eq(kad_rt_stale_buckets(&rt, 61000, 60000, st, 8), 1);
    ck_assert_uint_eq(st[0], 0);
    kad_key k;
    kad_key_from_peer(&k, &p);
    kad_rt_refreshed(&rt, &k, 61000);
    ck_assert_uint_eq(kad_rt_stale_buckets(&rt, 62000, 60000, st, 8), 0);
    kad_rt_free(&rt);
}
END_TEST

START_TEST(diversity_limits)
{
    p2p_peerid self = peer_n(4), check;
    struct kad_rt_config cfg = { 20, 2, 3, 1000, 2, 3 };
    struct kad_rt rt;
    ck_assert_int_eq(kad_rt_init(&rt, &self, &cfg, 0), 0);
    uint64_t ctr = 123;
    int added = 0;
    for (int i = 0; i < 4; i++) {
        p2p_peerid p = peer_cpl(&self, 0, &ctr);
        added += kad_rt_add(&rt, &p, 0x04000a0b, 1, &check) == KAD_RT_ADDED;
    }
    ck_assert_int_eq(added, 2);   /* per bucket */
    /* Fill bucket 0 with ungrouped peers, then split it. */
    for (int i = 0; i < 18; i++) {
        p2p_peerid p = peer_cpl(&self, 0, &ctr);
        ck_assert_int_eq(kad_rt_add(&rt, &p, 0, 1, &check), KAD_RT_ADDED);
    }
    p2p_peerid p = peer_cpl(&self, 1, &ctr);
    ck_assert_int_eq(kad_rt_add(&rt, &p, 0x04000a0b, 1, &check), KAD_RT_ADDED);
    ck_assert_uint_eq(rt.nb, 2);
    p = peer_cpl(&self, 2, &ctr);
    ck_assert_int_eq(kad_rt_add(&rt, &p, 0x04000a0b, 1, &check), KAD_RT_REJECTED);   /* per table */
    ck_assert_int_eq(kad_rt_add(&rt, &p, 0x04000a0c, 1, &check), KAD_RT_ADDED);     /* another group */
    kad_rt_free(&rt);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kad_rt");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, key_basics);
    tcase_add_test(tc, random_peer_per_bucket);
    tcase_add_test(tc, fill_and_split);
    tcase_add_test(tc, eviction_with_time);
    tcase_add_test(tc, closest_matches_brute_force);
    tcase_add_test(tc, refresh_bookkeeping);
    tcase_add_test(tc, diversity_limits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
