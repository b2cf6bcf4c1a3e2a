/* test_kad_store.c - unit.kad_store: value records and provider records
 * with explicit time (expiry, limits, replacement, per-peer limits and
 * fair room in a full store), record validation
 * (/pk/, /p2pchat/, unknown namespaces, selection), and the saved
 * routing table's text format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kad_statefile.h"
#include "kad_store.h"
#include "kad_validate.h"
#include "p2p/p2p.h"
#include "p2p/record.h"
#include "testutil.h"

static p2p_peerid seed_peer(uint8_t n, p2p_keypair *kp_out)
{
    p2p_keypair kp;
    p2p_keypair_from_seed_byte(&kp, n);
    if (kp_out) *kp_out = kp;
    p2p_pubkey pub;
    p2p_keypair_public(&kp, &pub);
    p2p_peerid id;
    ck_assert_int_eq(p2p_peerid_from_pubkey(&id, &pub), 0);
    return id;
}

static p2p_multiaddr ma(const char *s)
{
    p2p_multiaddr m;
    ck_assert_int_eq(p2p_maddr_parse(&m, s, NULL, 0), 0);
    return m;
}

START_TEST(records_expire_and_bound)
{
    struct kad_records rs;
    kad_records_init(&rs, 2, 1000);
    const uint8_t *k1 = (const uint8_t *)"/a/1", *k2 = (const uint8_t *)"/a/2", *k3 = (const uint8_t *)"/a/3";
    ck_assert_int_eq(kad_records_put(&rs, k1, 4, (const uint8_t *)"x", 1, "2024-01-01T00:00:00Z", NULL, 100), 0);
    const struct kad_rec *r = kad_records_get(&rs, k1, 4, 500);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->time_received, "2024-01-01T00:00:00Z");
    ck_assert_uint_eq(r->expires_ms, 1100);
    /* Replace: the value and the expiry change. */
    ck_assert_int_eq(kad_records_put(&rs, k1, 4, (const uint8_t *)"yy", 2, NULL, NULL, 600), 0);
    r = kad_records_get(&rs, k1, 4, 1500);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->vlen, 2);
    ck_assert_int_eq(kad_records_put(&rs, k2, 4, NULL, 0, NULL, NULL, 700), 0);   /* empty value */
    ck_assert_int_eq(kad_records_put(&rs, k3, 4, (const uint8_t *)"z", 1, NULL, NULL, 800), P2P_ELIMIT);
    ck_assert_ptr_null(kad_records_get(&rs, k1, 4, 1600));   /* expired */
    /* A full store drops expired records for a new one. */
    ck_assert_int_eq(kad_records_put(&rs, k3, 4, (const uint8_t *)"z", 1, NULL, NULL, 1650), 0);
    ck_assert_ptr_nonnull(kad_records_get(&rs, k3, 4, 1700));
    ck_assert(kad_records_remove(&rs, k3, 4));
    ck_assert(!kad_records_remove(&rs, k3, 4));
    ck_assert_uint_eq(kad_records_gc(&rs, 10000), 1);
    ck_assert_uint_eq(rs.n, 0);
    kad_records_free(&rs);
}
END_TEST

START_TEST(providers_expire_and_bound)
{
    struct kad_providers ps;
    kad_providers_init(&ps, 2, 3, 2, 10000, 4000);
    const uint8_t key[] = { 0x12, 0x20, 1, 2, 3 };
    p2p_peerid a = seed_peer(1, NULL), b = seed_peer(2, NULL), c = seed_peer(3, NULL), d = seed_peer(4, NULL);
    p2p_multiaddr addrs[3] = { ma("/ip4/1.1.1.1/tcp/1"), ma("/ip4/1.1.1.1/tcp/2"), ma("/ip4/1.1.1.1/tcp/3") };
    ck_assert_int_eq(kad_providers_add(&ps, key, sizeof key, &a, addrs, 3, 0), 0);
    ck_assert_int_eq(kad_providers_add(&ps, key, sizeof key, &b, NULL, 0, 100), 0);
    ck_assert_int_eq(kad_providers_add(&ps, key, sizeof key, &c, addrs, 1, 200), 0);
    const struct kad_prov *out[8];
    ck_assert_uint_eq(kad_providers_get(&ps, key, sizeof key, 300, out, 8), 3);
    ck_assert_uint_eq(out[0]->naddrs, 2);   /* max_addrs */
    ck_assert(kad_prov_addrs_live(out[0], 300));
    ck_assert(!kad_prov_addrs_live(out[0], 4000));   /* addresses age out first */
    ck_assert(!kad_prov_addrs_live(out[1], 300));    /* none given */
    /* A fourth provider replaces the one expiring first (a). */
    ck_assert_int_eq(kad_providers_add(&ps, key, sizeof key, &d, NULL, 0, 400), 0);
    size_t n = kad_providers_get(&ps, key, sizeof key, 500, out, 8);
    ck_assert_uint_eq(n, 3);
    for (size_t i = 0; i < n; i++) ck_assert(!p2p_peerid_equal(&out[i]->id, &a));
    /* A refresh extends the expiry. */
    ck_assert_int_eq(kad_providers_add(&ps, key, sizeof key, &b, NULL, 0, 9000), 0);
    n = kad_providers_get(&ps, key, sizeof key, 10300, out, 8);
    ck_assert_uint_eq(n, 2);   /* b (refreshed) and d (400 + 10000) */
    /* Keys: at most 2; key size at most 80. */
    const uint8_t k2[] = { 9 }, k3[] = { 8 };
    uint8_t k81[81] = { 0 };
    ck_assert_int_eq(kad_providers_add(&ps, k2, 1, &a, NULL, 0, 10200), 0);
    ck_assert_int_eq(kad_providers_add(&ps, k3, 1, &a, NULL, 0, 10200), P2P_ELIMIT);
    ck_assert_int_eq(kad_providers_add(&ps, k81, sizeof k81, &a, NULL, 0, 10200), P2P_EINVAL);
    ck_assert_int_eq(kad_providers_add(&ps, k81, 0, &a, NULL, 0, 10200), P2P_EINVAL);
    /* gc drops expired providers and empty keys; then there is room. */
    ck_assert_uint_ge(kad_providers_gc(&ps, 19500), 2);
    ck_assert_uint_eq(ps.n, 1);
    ck_assert_int_eq(kad_providers_add(&ps, k3, 1, &a, NULL, 0, 19500), 0);
    ck_assert(kad_providers_remove(&ps, k3, 1, &a));
    ck_assert(!kad_providers_remove(&ps, k3, 1, &a));
    kad_providers_free(&ps);
    char t[40];
    kad_rfc3339(1700000000123ull, t);
    ck_assert_str_eq(t, "2023-11-14T22:13:20.123Z");
}
END_TEST

/* kad_records_put with a string key and value, for peer `from` (NULL: ours). */
static int rput(struct kad_records *rs, const char *key, const char *val, const p2p_peerid *from, uint64_t now)
{
    return kad_records_put(rs, (const uint8_t *)key, strlen(key), (const uint8_t *)val, strlen(val), NULL, from,
                           now);
}

static const struct kad_rec *rget(const struct kad_records *rs, const char *key, uint64_t now)
{
    return kad_records_get(rs, (const uint8_t *)key, strlen(key), now);
}

/* Value records: the per-peer limit, attribution (moving with a re-put,
 * never to our own records), fair room in a full store, counters. */
START_TEST(records_per_peer_and_fair_room)
{
    struct kad_records rs;
    kad_records_init(&rs, 6, 1000);
    kad_records_set_peer_limit(&rs, 4);
    p2p_peerid a = seed_peer(1, NULL), b = seed_peer(2, NULL), h = seed_peer(3, NULL), c = seed_peer(4, NULL);
    p2p_peerid d = seed_peer(5, NULL), e = seed_peer(6, NULL);
    /* a: 4 records, the fifth is over its limit; a re-put is not */
    ck_assert_int_eq(rput(&rs, "/v/a0", "1", &a, 0), 0);
    ck_assert_int_eq(rput(&rs, "/v/a1", "1", &a, 0), 0);
    ck_assert_int_eq(rput(&rs, "/v/a2", "1", &a, 0), 0);
    ck_assert_int_eq(rput(&rs, "/v/a3", "1", &a, 0), 0);
    ck_assert_int_eq(rput(&rs, "/v/a4", "1", &a, 0), P2P_ELIMIT);
    ck_assert_ptr_null(rget(&rs, "/v/a4", 1));
    ck_assert_uint_eq(rs.quota.refused_limit, 1);
    ck_assert_int_eq(rput(&rs, "/v/a0", "2", &a, 10), 0);
    ck_assert_uint_eq(kad_records_of_peer(&rs, &a), 4);
    /* our own record counts against nobody; b fills the store */
    ck_assert_int_eq(rput(&rs, "/v/me", "1", NULL, 10), 0);
    ck_assert_int_eq(rput(&rs, "/v/b0", "1", &b, 10), 0);
    ck_assert_uint_eq(rs.n, 6);
    ck_assert_uint_eq(kad_records_of_peer(&rs, &a) + kad_records_of_peer(&rs, &b), 5);
    /* h's new record: a (4) holds two more than h (0): a's first goes */
    ck_assert_int_eq(rput(&rs, "/v/h0", "1", &h, 20), 0);
    ck_assert_uint_eq(rs.n, 6);
    ck_assert_ptr_null(rget(&rs, "/v/a0", 30));
    ck_assert_ptr_nonnull(rget(&rs, "/v/me", 30));
    ck_assert_uint_eq(kad_records_of_peer(&rs, &a), 3);
    ck_assert_uint_eq(kad_records_of_peer(&rs, &h), 1);
    ck_assert_uint_eq(rs.quota.evicted, 1);
    /* a re-put by another peer moves the attribution */
    ck_assert_int_eq(rput(&rs, "/v/h0", "2", &b, 30), 0);
    ck_assert_uint_eq(kad_records_of_peer(&rs, &h), 0);
    ck_assert_uint_eq(kad_records_of_peer(&rs, &b), 2);
    /* ... but never takes our own record */
    ck_assert_int_eq(rput(&rs, "/v/me", "2", &h, 30), 0);
    const struct kad_rec *r = rget(&rs, "/v/me", 30);
    ck_assert(r && !r->attributed && r->vlen == 1 && r->value[0] == '2');
    ck_assert_uint_eq(kad_records_of_peer(&rs, &h), 0);
    /* a (3) takes b0 over: a 4, b 1; then a is at its limit for h0 too,
     * which stays b's with its value */
    ck_assert_int_eq(rput(&rs, "/v/b0", "2", &a, 40), 0);
    ck_assert_uint_eq(kad_records_of_peer(&rs, &a), 4);
    ck_assert_uint_eq(kad_records_of_peer(&rs, &b), 1);
    ck_assert_int_eq(rput(&rs, "/v/h0", "3", &a, 40), P2P_ELIMIT);
    ck_assert_uint_eq(rs.quota.refused_limit, 2);
    r = rget(&rs, "/v/h0", 40);
    ck_assert(r && r->attributed && p2p_peerid_equal(&r->from, &b) && r->value[0] == '2');
    /* c's two records come out of a's share (4 -> 2); c's third is
     * refused: a holds only as many as c */
    ck_assert_int_eq(rput(&rs, "/v/c0", "1", &c, 50), 0);
    ck_assert_int_eq(rput(&rs, "/v/c1", "1", &c, 50), 0);
    ck_assert_uint_eq(kad_records_of_peer(&rs, &a), 2);
    ck_assert_uint_eq(kad_records_of_peer(&rs, &c), 2);
    ck_assert_int_eq(rput(&rs, "/v/c2", "1", &c, 50), P2P_ELIMIT);
    ck_assert_uint_eq(rs.quota.refused_full, 1);
    ck_assert_uint_eq(rs.quota.evicted, 3);
    /* our own new record makes room like a newcomer holding none: a or c
     * (2 each) gives one up */
    ck_assert_int_eq(rput(&rs, "/v/me2", "1", NULL, 60), 0);
    ck_assert_uint_eq(kad_records_of_peer(&rs, &a) + kad_records_of_peer(&rs, &c), 3);
    /* d takes one from the remaining holder of two; then everyone holds
     * one and e is refused: equal shares are stable */
    ck_assert_int_eq(rput(&rs, "/v/d0", "1", &d, 70), 0);
    ck_assert_uint_eq(rs.quota.evicted, 5);
    ck_assert_uint_eq(kad_records_of_peer(&rs, &a), 1);
    ck_assert_uint_eq(kad_records_of_peer(&rs, &b), 1);
    ck_assert_uint_eq(kad_records_of_peer(&rs, &c), 1);
    ck_assert_uint_eq(kad_records_of_peer(&rs, &d), 1);
    ck_assert_int_eq(rput(&rs, "/v/e0", "1", &e, 80), P2P_ELIMIT);
    ck_assert_uint_eq(rs.quota.refused_full, 2);
    ck_assert_ptr_nonnull(rget(&rs, "/v/me", 80));
    ck_assert_ptr_nonnull(rget(&rs, "/v/me2", 80));
    /* expired records make room before anyone loses one; the counts
     * follow expiry and removal */
    ck_assert_int_eq(rput(&rs, "/v/e0", "1", &e, 1055), 0);   /* a..d's records from <= 50 expired */
    ck_assert_uint_eq(kad_records_of_peer(&rs, &e), 1);
    ck_assert_uint_eq(rs.quota.evicted, 5);
    ck_assert(kad_records_remove(&rs, (const uint8_t *)"/v/e0", 5));
    ck_assert_uint_eq(kad_records_of_peer(&rs, &e), 0);
    kad_records_gc(&rs, 100000);
    ck_assert_uint_eq(rs.n, 0);
    ck_assert_uint_eq(rs.quota.npc, 0);
    /* 0 = no limit */
    kad_records_set_peer_limit(&rs, 0);
    char key[16];
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof key, "/v/x%d", i);
        ck_assert_int_eq(rput(&rs, key, "1", &a, 200000), 0);
    }
    ck_assert_uint_eq(kad_records_of_peer(&rs, &a), 6);
    kad_records_free(&rs);
}
END_TEST

/* Random puts (by 10 peers and ourselves), removals and expiry against
 * the per-peer counts: after each, every peer's count equals its records,
 * none exceeds the limit, the store never exceeds max, and a peer's put
 * never costs us a live record of our own. */
START_TEST(records_counts_random)
{
    enum { PEERS = 10, MAX = 30, LIMIT = 5 };
    struct kad_records rs;
    kad_records_init(&rs, MAX, 400);
    kad_records_set_peer_limit(&rs, LIMIT);
    p2p_peerid peers[PEERS];
    for (int i = 0; i < PEERS; i++) peers[i] = seed_peer((uint8_t)(30 + i), NULL);
    uint64_t rng = 777, now = 0;
    for (int op = 0; op < 6000; op++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(rng >> 33);
        unsigned who = r % (PEERS + 1);   /* PEERS: ourselves */
        const p2p_peerid *from = who < PEERS ? &peers[who] : NULL;
        char key[16];
        snprintf(key, sizeof key, "/v/%u", (r >> 8) % 70);
        now += (r >> 16) % 5;
        size_t own_before = 0;
        for (size_t i = 0; i < rs.n; i++) own_before += !rs.r[i].attributed && now < rs.r[i].expires_ms;
        switch ((r >> 20) % 10) {
        case 0: kad_records_remove(&rs, (const uint8_t *)key, strlen(key)); break;
        case 1: kad_records_gc(&rs, now); break;
        default: {
            int rc = rput(&rs, key, "v", from, now);
            ck_assert(rc == 0 || rc == P2P_ELIMIT);
            size_t own_after = 0;
            for (size_t i = 0; i < rs.n; i++) own_after += !rs.r[i].attributed && now < rs.r[i].expires_ms;
            if (from) ck_assert_uint_ge(own_after, own_before);
            break;
        }
        }
        ck_assert_uint_le(rs.n, MAX);
        size_t holders = 0;
        for (int p = 0; p < PEERS; p++) {
            size_t c = 0;
            for (size_t i = 0; i < rs.n; i++) c += rs.r[i].attributed && p2p_peerid_equal(&rs.r[i].from, &peers[p]);
            ck_assert_uint_eq(kad_records_of_peer(&rs, &peers[p]), c);
            ck_assert_uint_le(c, LIMIT);
            holders += c > 0;
        }
        ck_assert_uint_eq(rs.quota.npc, holders);
    }
    ck_assert_uint_gt(rs.quota.refused_limit, 0);
    ck_assert_uint_gt(rs.quota.evicted, 0);
    kad_records_free(&rs);
}
END_TEST

/* Per-peer limit; a full store makes room from the peer holding the most. */
START_TEST(providers_per_peer_and_fair_room)
{
    struct kad_providers ps;
    kad_providers_init(&ps, 6, 20, 2, 10000, 4000);
    kad_providers_set_peer_limit(&ps, 4);
    p2p_peerid a = seed_peer(1, NULL), b = seed_peer(2, NULL), h = seed_peer(3, NULL);
    uint8_t key[2] = { 0x12, 0 };
    /* a: 4 keys, the fifth is over its limit; a refresh is not */
    for (uint8_t i = 0; i < 4; i++) {
        key[1] = i;
        ck_assert_int_eq(kad_providers_add(&ps, key, 2, &a, NULL, 0, 0), 0);
    }
    key[1] = 4;
    ck_assert_int_eq(kad_providers_add(&ps, key, 2, &a, NULL, 0, 0), P2P_ELIMIT);
    ck_assert_uint_eq(ps.quota.refused_limit, 1);
    key[1] = 0;
    ck_assert_int_eq(kad_providers_add(&ps, key, 2, &a, NULL, 0, 10), 0);
    ck_assert_uint_eq(kad_providers_of_peer(&ps, &a), 4);
    /* b fills the store (6 keys: 4 of a, 2 of b) */
    for (uint8_t i = 10; i < 12; i++) {
        key[1] = i;
        ck_assert_int_eq(kad_providers_add(&ps, key, 2, &b, NULL, 0, 0), 0);
    }
    ck_assert_uint_eq(ps.n, 6);
    /* h's new key: a (4) holds more than h (0): one of a's goes */
    key[1] = 20;
    ck_assert_int_eq(kad_providers_add(&ps, key, 2, &h, NULL, 0, 20), 0);
    ck_assert_uint_eq(ps.n, 6);
    ck_assert_uint_eq(kad_providers_of_peer(&ps, &a), 3);
    ck_assert_uint_eq(kad_providers_of_peer(&ps, &h), 1);
    const struct kad_prov *out[4];
    ck_assert_uint_eq(kad_providers_get(&ps, key, 2, 30, out, 4), 1);
    /* providers of an existing key need no room */
    key[1] = 10;
    ck_assert_int_eq(kad_providers_add(&ps, key, 2, &h, NULL, 0, 20), 0);
    ck_assert_uint_eq(kad_providers_of_peer(&ps, &h), 2);
    /* a 3, b 2, h 2: b's new key is refused (a holds only one more) */
    key[1] = 12;
    ck_assert_int_eq(kad_providers_add(&ps, key, 2, &b, NULL, 0, 20), P2P_ELIMIT);
    ck_assert_uint_eq(ps.quota.refused_full, 1);
    /* c (0) makes a (3) give up one; then a, b, h hold 2 each, c 1: c's
     * next key is refused (nobody holds two more than c) */
    p2p_peerid c = seed_peer(4, NULL);
    ck_assert_int_eq(kad_providers_add(&ps, key, 2, &c, NULL, 0, 20), 0);
    ck_assert_uint_eq(kad_providers_of_peer(&ps, &a), 2);
    key[1] = 13;
    ck_assert_int_eq(kad_providers_add(&ps, key, 2, &c, NULL, 0, 20), P2P_ELIMIT);
    ck_assert_uint_eq(ps.quota.refused_full, 2);
    ck_assert_uint_eq(ps.quota.evicted, 2);
    ck_assert_uint_eq(ps.quota.refused_limit, 1);
    /* counts follow removal and expiry */
    key[1] = 12;
    ck_assert(kad_providers_remove(&ps, key, 2, &c));
    ck_assert_uint_eq(kad_providers_of_peer(&ps, &c), 0);
    ck_assert_uint_ge(kad_providers_gc(&ps, 100000), 1);
    ck_assert_uint_eq(ps.n, 0);
    ck_assert_uint_eq(ps.quota.npc, 0);
    ck_assert_uint_eq(kad_providers_of_peer(&ps, &a), 0);
    kad_providers_free(&ps);
}
END_TEST

/* Random operations against the per-peer counts: after each, every
 * peer's count equals its entries in the store, no peer exceeds the
 * limit, the store never exceeds max_keys. */
START_TEST(providers_counts_random)
{
    struct kad_providers ps;
    kad_providers_init(&ps, 40, 5, 2, 1000, 500);
    kad_providers_set_peer_limit(&ps, 6);
    enum { PEERS = 12 };
    p2p_peerid peers[PEERS];
    for (int i = 0; i < PEERS; i++) peers[i] = seed_peer((uint8_t)(10 + i), NULL);
    uint64_t rng = 12345, now = 0;
    for (int op = 0; op < 5000; op++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(rng >> 33);
        const p2p_peerid *id = &peers[r % PEERS];
        uint8_t key[2] = { 0x12, (uint8_t)((r >> 8) % 60) };
        now += (r >> 16) % 7;
        switch ((r >> 20) % 8) {
        case 0: kad_providers_remove(&ps, key, 2, id); break;
        case 1: kad_providers_gc(&ps, now); break;
        default: kad_providers_add(&ps, key, 2, id, NULL, 0, now); break;
        }
        ck_assert_uint_le(ps.n, 40);
        size_t total = 0;
        for (int p = 0; p < PEERS; p++) {
            size_t c = 0;
            for (size_t k = 0; k < ps.n; k++)
                for (size_t j = 0; j < ps.k[k].n; j++) c += p2p_peerid_equal(&ps.k[k].p[j].id, &peers[p]);
            ck_assert_uint_eq(kad_providers_of_peer(&ps, &peers[p]), c);
            ck_assert_uint_le(c, 6);
            total += c > 0;
        }
        ck_assert_uint_eq(ps.quota.npc, total);
        for (size_t k = 0; k < ps.n; k++) ck_assert_uint_ge(ps.k[k].n, 1);
    }
    kad_providers_free(&ps);
}
END_TEST

START_TEST(pk_validation)
{
    struct kad_validators vs;
    kad_validators_init(&vs);
    p2p_keypair kp;
    p2p_peerid id = seed_peer(7, &kp), other = seed_peer(8, NULL);
    p2p_pubkey pub;
    p2p_keypair_public(&kp, &pub);
    uint8_t pb[P2P_PUBKEY_PB_MAX];
    int pblen = p2p_pubkey_encode(&pub, pb, sizeof pb);
    ck_assert_int_gt(pblen, 0);
    uint8_t *key;
    size_t klen;
    ck_assert_int_eq(kad_pk_key(&id, &key, &klen), 0);
    ck_assert_uint_eq(klen, 4 + id.len);
    ck_assert_mem_eq(key, "/pk/", 4);
    ck_assert_int_eq(kad_validate(&vs, key, klen, pb, (size_t)pblen), 0);
    ck_assert_int_eq(kad_select(&vs, key, klen, pb, (size_t)pblen, pb, (size_t)pblen), 0);
    /* Another peer's key, junk, a bad PeerId. */
    uint8_t *okey;
    size_t oklen;
    kad_pk_key(&other, &okey, &oklen);
    ck_assert_int_eq(kad_validate(&vs, okey, oklen, pb, (size_t)pblen), P2P_EPEERID);
    ck_assert_int_eq(kad_validate(&vs, key, klen, (const uint8_t *)"junk", 4), P2P_EINVAL);
    ck_assert_int_eq(kad_validate(&vs, (const uint8_t *)"/pk/xx", 6, pb, (size_t)pblen), P2P_EINVAL);
    /* Unknown namespaces and keys without one. */
    ck_assert_int_eq(kad_validate(&vs, (const uint8_t *)"/ipns/x", 7, pb, 1), P2P_ENOTFOUND);
    ck_assert_int_eq(kad_validate(&vs, (const uint8_t *)"pk/x", 4, pb, 1), P2P_ENOTFOUND);
    ck_assert_int_eq(kad_validate(&vs, (const uint8_t *)"//x", 3, pb, 1), P2P_ENOTFOUND);
    const uint8_t *ns, *rest;
    size_t nsl, rl;
    ck_assert_int_eq(kad_key_split((const uint8_t *)"/ab/cd", 6, &ns, &nsl, &rest, &rl), 0);
    ck_assert(nsl == 2 && rl == 2 && memcmp(ns, "ab", 2) == 0 && memcmp(rest, "cd", 2) == 0);
    ck_assert_int_eq(kad_key_split((const uint8_t *)"/abcd", 5, &ns, &nsl, &rest, &rl), P2P_EINVAL);
    /* Pluggable: register and remove a namespace. */
    ck_assert_int_eq(kad_validators_set(&vs, "bad/ns", kad_pk_validate, NULL, NULL), P2P_EINVAL);
    ck_assert(kad_validators_remove(&vs, KAD_PK_NS));
    ck_assert_int_eq(kad_validate(&vs, key, klen, pb, (size_t)pblen), P2P_ENOTFOUND);
    free(key);
    free(okey);
}
END_TEST

START_TEST(chat_records)
{
    struct kad_validators vs;
    kad_validators_init(&vs);
    p2p_keypair kp, kp2;
    p2p_peerid id = seed_peer(9, &kp);
    seed_peer(10, &kp2);
    uint8_t *k1, *v1, *k2, *v2, *k3, *v3;
    size_t k1l, v1l, k2l, v2l, k3l, v3l;
    ck_assert_int_eq(kad_chat_seal(&kp, "nick", 5, (const uint8_t *)"alice", 5, &k1, &k1l, &v1, &v1l), 0);
    ck_assert_int_eq(kad_validate(&vs, k1, k1l, v1, v1l), 0);
    uint64_t seq;
    const uint8_t *data;
    size_t dlen;
    ck_assert_int_eq(kad_chat_open(k1, k1l, v1, v1l, &seq, &data, &dlen), 0);
    ck_assert_uint_eq(seq, 5);
    ck_assert(dlen == 5 && memcmp(data, "alice", 5) == 0);
    uint8_t *want;
    size_t wl;
    ck_assert_int_eq(kad_chat_key(&id, "nick", &want, &wl), 0);
    ck_assert(wl == k1l && memcmp(want, k1, wl) == 0);
    free(want);
    /* A newer record wins; equal seqs are ordered by bytes both ways. */
    ck_assert_int_eq(kad_chat_seal(&kp, "nick", 6, (const uint8_t *)"alicia", 6, &k2, &k2l, &v2, &v2l), 0);
    ck_assert_int_eq(kad_select(&vs, k1, k1l, v1, v1l, v2, v2l), 1);
    ck_assert_int_eq(kad_select(&vs, k1, k1l, v2, v2l, v1, v1l), 0);
    ck_assert_int_eq(kad_chat_seal(&kp, "nick", 6, (const uint8_t *)"bob", 3, &k3, &k3l, &v3, &v3l), 0);
    ck_assert_int_ne(kad_select(&vs, k1, k1l, v2, v2l, v3, v3l), kad_select(&vs, k1, k1l, v3, v3l, v2, v2l));
    /* Replayed under another name: the key is in the signature. */
    uint8_t *other;
    size_t ol;
    ck_assert_int_eq(kad_chat_key(&id, "status", &other, &ol), 0);
    ck_assert_int_eq(kad_validate(&vs, other, ol, v1, v1l), P2P_EINVAL);
    free(other);
    /* Another peer cannot write under our PeerId. */
    uint8_t *k4, *v4;
    size_t k4l, v4l;
    ck_assert_int_eq(kad_chat_seal(&kp2, "nick", 7, (const uint8_t *)"evil", 4, &k4, &k4l, &v4, &v4l), 0);
    ck_assert_int_ne(kad_validate(&vs, k1, k1l, v4, v4l), 0);
    /* Tampering breaks the signature. */
    v1[v1l - 70] ^= 1;
    ck_assert_int_ne(kad_validate(&vs, k1, k1l, v1, v1l), 0);
    /* Names: none, or 1..64 printable without '/'. */
    uint8_t *k5, *v5;
    size_t k5l, v5l;
    ck_assert_int_eq(kad_chat_seal(&kp, NULL, 1, NULL, 0, &k5, &k5l, &v5, &v5l), 0);
    ck_assert_uint_eq(k5l, strlen("/p2pchat/") + id.len);
    ck_assert_int_eq(kad_validate(&vs, k5, k5l, v5, v5l), 0);
    ck_assert_int_eq(kad_chat_key(&id, "a/b", &want, &wl), P2P_EINVAL);
    char longname[70];
    memset(longname, 'n', 65);
    longname[65] = 0;
    ck_assert_int_eq(kad_chat_key(&id, longname, &want, &wl), P2P_EINVAL);
    ck_assert_int_eq(kad_validate(&vs, (const uint8_t *)"/p2pchat/zz", 11, v5, v5l), P2P_EINVAL);
    free(k1); free(v1); free(k2); free(v2); free(k3); free(v3); free(k4); free(v4); free(k5); free(v5);
}
END_TEST

START_TEST(state_file_format)
{
    p2p_peerid a = seed_peer(1, NULL), b = seed_peer(2, NULL);
    p2p_multiaddr addrs[2] = { ma("/ip4/10.0.0.1/tcp/4001"), ma("/ip6/::1/tcp/4002") };
    p2p_buf out;
    p2p_buf_init(&out, 0);
    ck_assert_int_eq(kad_state_format_peer(&out, &a, addrs, 2), 0);
    ck_assert_int_eq(kad_state_format_peer(&out, &b, addrs, 1), 0);
    ck_assert_uint_eq(memcmp(p2p_buf_head(&out), KAD_STATE_HEADER "\n", strlen(KAD_STATE_HEADER) + 1), 0);
    /* Add damage: junk lines, a bad address, a duplicate, a peer without
     * addresses, a /p2p/ address, a NUL, no final newline. */
    char pa[P2P_PEERID_STRMAX], pc[P2P_PEERID_STRMAX];
    p2p_peerid_to_string(&a, pa, sizeof pa);
    p2p_peerid c = seed_peer(3, NULL);
    p2p_peerid_to_string(&c, pc, sizeof pc);
    char extra[1024];
    snprintf(extra, sizeof extra,
             "garbage line\n\n   \n%s /ip4/1.2.3.4/tcp/1\n%s\n%s /ip4/300.0.0.1/tcp/1 /ip4/1.1.1.1/tcp/1/p2p/%s",
             pa, "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", pc, pc);
    p2p_buf_append(&out, extra, strlen(extra));
    p2p_buf_append(&out, "\nx\0y\n", 5);
    struct kad_state st;
    ck_assert_int_eq(kad_state_parse(&st, (const char *)p2p_buf_head(&out), out.len, 100, 8), 0);
    ck_assert_uint_eq(st.n, 2);
    ck_assert(p2p_peerid_equal(&st.p[0].id, &a));
    ck_assert_uint_eq(st.p[0].naddrs, 2);
    ck_assert(p2p_maddr_equal(&st.p[0].addrs[1], &addrs[1]));
    ck_assert(p2p_peerid_equal(&st.p[1].id, &b));
    ck_assert_uint_eq(st.p[1].naddrs, 1);
    ck_assert_uint_ge(st.bad_lines, 4);
    ck_assert_uint_eq(st.bad_addrs, 2);
    kad_state_free(&st);
    /* Bounded: max_peers and max_addrs. */
    ck_assert_int_eq(kad_state_parse(&st, (const char *)p2p_buf_head(&out), out.len, 1, 1), 0);
    ck_assert_uint_eq(st.n, 1);
    ck_assert_uint_eq(st.p[0].naddrs, 1);
    kad_state_free(&st);
    ck_assert_int_eq(kad_state_parse(&st, "", 0, 10, 2), 0);
    ck_assert_uint_eq(st.n, 0);
    kad_state_free(&st);
    p2p_buf_free(&out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kad_store");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, records_expire_and_bound);
    tcase_add_test(tc, records_per_peer_and_fair_room);
    tcase_add_test(tc, records_counts_random);
    tcase_add_test(tc, providers_expire_and_bound);
    tcase_add_test(tc, providers_per_peer_and_fair_room);
    tcase_add_test(tc, providers_counts_random);
    tcase_add_test(tc, pk_validation);
    tcase_add_test(tc, chat_records);
    tcase_add_test(tc, state_file_format);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
