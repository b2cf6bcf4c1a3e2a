/* test_relay_table.c - unit.relay_table: reservations, circuits and rate
 * limits of the relay server (relay_table.c) with explicit time. */
#include <stdlib.h>
#include <string.h>

#include "p2p/p2p.h"
#include "relay_msg.h"
#include "relay_table.h"
#include "testutil.h"

static p2p_peerid pid(uint8_t seed)
{
    p2p_keypair kp;
    p2p_pubkey pub;
    p2p_peerid id;
    p2p_keypair_from_seed_byte(&kp, seed);
    p2p_keypair_public(&kp, &pub);
    ck_assert_int_eq(p2p_peerid_from_pubkey(&id, &pub), 0);
    return id;
}

static struct relay_ip ip4(uint8_t last)
{
    struct relay_ip ip = { .len = 4, .b = { 10, 0, 0, last } };
    return ip;
}

/* rust-libp2p's defaults without rate limits. */
static struct relay_limits defaults(void)
{
    struct relay_limits l = {
        .max_reservations = 128, .max_reservations_per_peer = 4, .max_reservations_per_ip = 0,
        .reservation_ttl_ms = 3600000, .max_circuits = 16, .max_circuits_per_peer = 4,
    };
    return l;
}

START_TEST(reserve_renew_expire)
{
    struct relay_limits l = defaults();
    l.reservation_ttl_ms = 1000;
    struct relay_table t;
    ck_assert_int_eq(relay_table_init(&t, &l), 0);
    p2p_peerid a = pid(1), b = pid(2);
    struct relay_ip ip = ip4(1);
    uint64_t exp, conn;
    bool renewed;
    ck_assert_int_eq(relay_table_reserve(&t, &a, 7, &ip, 100, &exp, &renewed), RELAY_STATUS_OK);
    ck_assert_uint_eq(exp, 1100);
    ck_assert(!renewed);
    ck_assert(relay_table_lookup(&t, &a, 500, &conn));
    ck_assert_uint_eq(conn, 7);
    ck_assert(relay_table_has(&t, &a, 7, 500));
    ck_assert(!relay_table_has(&t, &a, 8, 500));
    ck_assert(!relay_table_lookup(&t, &b, 500, NULL));
    /* Renewal on the same connection: a new expiry, still one reservation. */
    ck_assert_int_eq(relay_table_reserve(&t, &a, 7, &ip, 900, &exp, &renewed), RELAY_STATUS_OK);
    ck_assert(renewed);
    ck_assert_uint_eq(exp, 1900);
    ck_assert_uint_eq(t.nrsvps, 1);
    /* Expiry: gone at 1900 exactly, not before. */
    uint64_t next;
    ck_assert_uint_eq(relay_table_expire(&t, 1899, &next), 0);
    ck_assert_uint_eq(next, 1900);
    ck_assert(relay_table_lookup(&t, &a, 1899, NULL));
    ck_assert(!relay_table_lookup(&t, &a, 1900, NULL));
    ck_assert_uint_eq(relay_table_expire(&t, 1900, &next), 1);
    ck_assert_uint_eq(next, 0);
    /* The newest reservation of a peer is the one looked up. */
    ck_assert_int_eq(relay_table_reserve(&t, &a, 1, &ip, 2000, NULL, NULL), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_reserve(&t, &a, 2, &ip, 2500, NULL, NULL), RELAY_STATUS_OK);
    ck_assert(relay_table_lookup(&t, &a, 2600, &conn));
    ck_assert_uint_eq(conn, 2);
    /* A closed connection takes its reservations along. */
    ck_assert_uint_eq(relay_table_conn_closed(&t, 2), 1);
    ck_assert(relay_table_lookup(&t, &a, 2600, &conn));
    ck_assert_uint_eq(conn, 1);
    ck_assert_uint_eq(relay_table_conn_closed(&t, 2), 0);
    relay_table_free(&t);
}
END_TEST

START_TEST(reservation_limits)
{
    struct relay_limits l = defaults();
    l.max_reservations = 6;
    l.max_reservations_per_peer = 2;
    l.max_reservations_per_ip = 3;
    struct relay_table t;
    ck_assert_int_eq(relay_table_init(&t, &l), 0);
    p2p_peerid a = pid(1), b = pid(2), c = pid(3), d = pid(4);
    struct relay_ip i1 = ip4(1), i2 = ip4(2), none = { 0 };
    /* Per peer: 2 connections. */
    ck_assert_int_eq(relay_table_reserve(&t, &a, 1, &i1, 0, NULL, NULL), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_reserve(&t, &a, 2, &i1, 0, NULL, NULL), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_reserve(&t, &a, 3, &i2, 0, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    ck_assert_str_eq(relay_refusal_name(t.refusal), "max_reservations_per_peer");
    /* ...but renewals always pass the count limits. */
    ck_assert_int_eq(relay_table_reserve(&t, &a, 2, &i1, 1, NULL, NULL), RELAY_STATUS_OK);
    /* Per IP: 3. */
    ck_assert_int_eq(relay_table_reserve(&t, &b, 4, &i1, 0, NULL, NULL), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_reserve(&t, &c, 5, &i1, 0, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    ck_assert_str_eq(relay_refusal_name(t.refusal), "max_reservations_per_ip");
    ck_assert_int_eq(relay_table_reserve(&t, &c, 5, &i2, 0, NULL, NULL), RELAY_STATUS_OK);
    /* An unknown IP is not limited per IP. */
    ck_assert_int_eq(relay_table_reserve(&t, &d, 6, &none, 0, NULL, NULL), RELAY_STATUS_OK);
    /* In all: 6. */
    ck_assert_int_eq(relay_table_reserve(&t, &d, 7, &none, 0, NULL, NULL), RELAY_STATUS_OK);
    ck_assert_uint_eq(t.nrsvps, 6);
    ck_assert_int_eq(relay_table_reserve(&t, &b, 8, &i2, 0, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    ck_assert_int_eq(t.refusal, RELAY_REFUSED_MAX_RESERVATIONS);
    /* Room again after a connection closes. */
    relay_table_conn_closed(&t, 7);
    ck_assert_int_eq(relay_table_reserve(&t, &b, 8, &i2, 0, NULL, NULL), RELAY_STATUS_OK);
    ck_assert_int_eq(t.refusal, RELAY_REFUSED_NONE);
    relay_table_free(&t);

    /* max_reservations = 0: a relay that refuses every reservation. */
    l.max_reservations = 0;
    ck_assert_int_eq(relay_table_init(&t, &l), 0);
    ck_assert_int_eq(relay_table_reserve(&t, &a, 1, &i1, 0, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    relay_table_free(&t);
}
END_TEST

START_TEST(circuit_limits)
{
    struct relay_limits l = defaults();
    l.max_circuits = 5;
    l.max_circuits_per_peer = 2;
    struct relay_table t;
    ck_assert_int_eq(relay_table_init(&t, &l), 0);
    p2p_peerid p[6];
    for (int i = 0; i < 6; i++) p[i] = pid((uint8_t)(i + 1));
    struct relay_ip ip = ip4(1);
    uint64_t id[8];
    /* p0 -> p1 twice: p0 and p1 are at their per-peer limit. */
    ck_assert_int_eq(relay_table_circuit_open(&t, &p[0], &ip, &p[1], 0, &id[0]), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_circuit_open(&t, &p[0], &ip, &p[1], 0, &id[1]), RELAY_STATUS_OK);
    ck_assert_uint_ne(id[0], id[1]);
    ck_assert_int_eq(relay_table_circuit_open(&t, &p[0], &ip, &p[2], 0, NULL), RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED);
    ck_assert_str_eq(relay_refusal_name(t.refusal), "max_circuits_per_peer");
    ck_assert_int_eq(relay_table_circuit_open(&t, &p[2], &ip, &p[1], 0, NULL), RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED);
    ck_assert_uint_eq(relay_table_peer_circuits(&t, &p[1]), 2);
    /* Total: 5. */
    ck_assert_int_eq(relay_table_circuit_open(&t, &p[2], &ip, &p[3], 0, &id[2]), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_circuit_open(&t, &p[2], &ip, &p[4], 0, &id[3]), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_circuit_open(&t, &p[3], &ip, &p[4], 0, &id[4]), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_circuit_open(&t, &p[5], &ip, &p[4], 0, NULL), RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED);
    ck_assert_str_eq(relay_refusal_name(t.refusal), "max_circuits");
    ck_assert_uint_eq(t.ncircs, 5);
    relay_table_circuit_close(&t, id[0]);
    relay_table_circuit_close(&t, id[0]);   /* twice: ignored */
    relay_table_circuit_close(&t, 12345);
    ck_assert_uint_eq(t.ncircs, 4);
    ck_assert_int_eq(relay_table_circuit_open(&t, &p[0], &ip, &p[5], 0, NULL), RELAY_STATUS_OK);
    relay_table_free(&t);
}
END_TEST

START_TEST(rate_limits)
{
    struct relay_limits l = defaults();
    l.max_reservations_per_peer = 100;
    l.rate_per_peer = 3;
    l.rate_per_peer_interval_ms = 1000;
    l.rate_per_ip = 5;
    l.rate_per_ip_interval_ms = 100;
    struct relay_table t;
    ck_assert_int_eq(relay_table_init(&t, &l), 0);
    p2p_peerid a = pid(1), b = pid(2);
    struct relay_ip i1 = ip4(1), i2 = ip4(2);
    uint64_t conn = 1;
    /* A burst of 3 per peer (renewals count too), then one per second. */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(relay_table_reserve(&t, &a, conn++, &i1, 0, NULL, NULL), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_reserve(&t, &a, 1, &i1, 10, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    ck_assert_str_eq(relay_refusal_name(t.refusal), "rate_limit_per_peer");
    ck_assert_int_eq(relay_table_reserve(&t, &a, conn, &i1, 999, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    ck_assert_int_eq(relay_table_reserve(&t, &a, conn++, &i1, 1000, NULL, NULL), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_reserve(&t, &a, conn, &i1, 1500, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    /* Per IP: a burst of 5, then one each 100 ms. */
    p2p_peerid c[7];
    struct relay_ip i3 = ip4(3);
    for (int i = 0; i < 7; i++) c[i] = pid((uint8_t)(10 + i));
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(relay_table_reserve(&t, &c[i], conn++, &i2, 2000, NULL, NULL), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_reserve(&t, &c[5], conn, &i2, 2000, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    ck_assert_str_eq(relay_refusal_name(t.refusal), "rate_limit_per_ip");
    ck_assert_int_eq(relay_table_reserve(&t, &c[5], conn, &i2, 2099, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    ck_assert_int_eq(relay_table_reserve(&t, &c[5], conn++, &i2, 2100, NULL, NULL), RELAY_STATUS_OK);
    /* Refusals took no token from c[5]'s own bucket: 2 more, then none. */
    ck_assert_int_eq(relay_table_reserve(&t, &c[5], conn++, &i3, 2100, NULL, NULL), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_reserve(&t, &c[5], conn++, &i3, 2100, NULL, NULL), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_reserve(&t, &c[5], conn, &i3, 2100, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    /* Circuits have their own buckets. */
    ck_assert_int_eq(relay_table_circuit_open(&t, &a, &i1, &b, 1100, NULL), RELAY_STATUS_OK);
    /* After a long pause the buckets are full again (no overflow). */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(relay_table_reserve(&t, &a, 100 + (uint64_t)i, &i2, 1000000, NULL, NULL), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_reserve(&t, &a, 200, &i2, 1000000, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    relay_table_free(&t);
}
END_TEST

/* New limits while running (a reload): the arrays grow, what exists
 * stays, lower limits refuse new requests until below them, bucket
 * tokens are capped at the new sizes. */
START_TEST(set_limits)
{
    struct relay_limits l = defaults();
    l.max_reservations = 2;
    l.max_circuits = 1;
    l.max_reservations_per_peer = 10;
    l.max_circuits_per_peer = 10;
    l.rate_per_peer = 10;
    l.rate_per_peer_interval_ms = 1000000;
    struct relay_table t;
    ck_assert_int_eq(relay_table_init(&t, &l), 0);
    p2p_peerid a = pid(1), b = pid(2);
    struct relay_ip ip = { 0 };
    for (uint64_t c = 1; c <= 2; c++) ck_assert_int_eq(relay_table_reserve(&t, &a, c, &ip, 0, NULL, NULL), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_reserve(&t, &a, 3, &ip, 0, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    /* More room: 5 reservations, 3 circuits. */
    l.max_reservations = 5;
    l.max_circuits = 3;
    ck_assert_int_eq(relay_table_set_limits(&t, &l), 0);
    for (uint64_t c = 3; c <= 5; c++) ck_assert_int_eq(relay_table_reserve(&t, &a, c, &ip, 0, NULL, NULL), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_reserve(&t, &a, 6, &ip, 0, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(relay_table_circuit_open(&t, &a, &ip, &b, 0, NULL), RELAY_STATUS_OK);
    ck_assert_int_eq(relay_table_circuit_open(&t, &a, &ip, &b, 0, NULL), RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED);
    /* Less room: existing ones stay (and renew), new ones wait. */
    l.max_reservations = 2;
    l.rate_per_peer = 1;
    ck_assert_int_eq(relay_table_set_limits(&t, &l), 0);
    ck_assert_uint_eq(t.nrsvps, 5);
    ck_assert(relay_table_has(&t, &a, 5, 0));
    ck_assert_int_eq(relay_table_reserve(&t, &b, 9, &ip, 0, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    ck_assert_int_eq(t.refusal, RELAY_REFUSED_MAX_RESERVATIONS);
    /* a's bucket had 5 tokens left of 10; now at most 1. */
    ck_assert_int_eq(relay_table_reserve(&t, &a, 4, &ip, 1, NULL, NULL), RELAY_STATUS_OK);   /* a renewal */
    ck_assert_int_eq(relay_table_reserve(&t, &a, 4, &ip, 2, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    ck_assert_int_eq(t.refusal, RELAY_REFUSED_RATE_PER_PEER);
    for (uint64_t c = 1; c <= 4; c++) relay_table_conn_closed(&t, c);
    ck_assert_int_eq(relay_table_reserve(&t, &b, 9, &ip, 3, NULL, NULL), RELAY_STATUS_OK);
    relay_table_free(&t);
}
END_TEST

/* More keys than buckets: the table stays bounded and keeps working. */
START_TEST(rate_buckets_bounded)
{
    struct relay_limits l = defaults();
    l.max_reservations = 100000;
    l.rate_per_peer = 1;
    l.rate_per_peer_interval_ms = 1000000;
    l.rate_per_ip = 1000000;
    l.rate_per_ip_interval_ms = 1;
    struct relay_table t;
    ck_assert_int_eq(relay_table_init(&t, &l), 0);
    struct relay_ip ip = ip4(1);
    p2p_peerid id = pid(1);
    for (unsigned i = 0; i < 3 * RELAY_RATE_KEYS; i++) {
        /* Distinct fake (identity-hash-shaped) keys: only bytes matter here. */
        p2p_peerid k = id;
        k.bytes[k.len - 1] = (uint8_t)i;
        k.bytes[k.len - 2] = (uint8_t)(i >> 8);
        ck_assert_int_eq(relay_table_reserve(&t, &k, i, &ip, i, NULL, NULL), RELAY_STATUS_OK);
    }
    /* The most recent key is still remembered: no second token. */
    p2p_peerid k = id;
    unsigned last = 3 * RELAY_RATE_KEYS - 1;
    k.bytes[k.len - 1] = (uint8_t)last;
    k.bytes[k.len - 2] = (uint8_t)(last >> 8);
    ck_assert_int_eq(relay_table_reserve(&t, &k, 999999, &ip, last + 1, NULL, NULL), RELAY_STATUS_RESERVATION_REFUSED);
    relay_table_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("relay_table");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, reserve_renew_expire);
    tcase_add_test(tc, reservation_limits);
    tcase_add_test(tc, circuit_limits);
    tcase_add_test(tc, rate_limits);
    tcase_add_test(tc, rate_buckets_bounded);
    tcase_add_test(tc, set_limits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
