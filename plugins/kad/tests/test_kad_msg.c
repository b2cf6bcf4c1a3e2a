/* test_kad_msg.c - unit.kad_msg: the dht.proto codec (round trips, bytes
 * as go-libp2p-kad-dht and rust-libp2p write them, peer and address
 * validation, limits) and the length-prefixed framing. */
#include <stdlib.h>
#include <string.h>

#include "kad_msg.h"
#include "p2p/p2p.h"
#include "testutil.h"

static const struct kad_limits lim = { 256, 1024, 8, 4 };

static p2p_peerid seed_peer(uint8_t n)
{
    p2p_keypair kp;
    p2p_keypair_from_seed_byte(&kp, n);
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

/* Decode one framed message from b. */
static int decode_framed(const p2p_buf *b, struct kad_msg *m)
{
    uint64_t n;
    size_t used;
    ck_assert_int_eq(p2p_varint_decode(p2p_buf_head(b), b->len, &n, &used), 0);
    ck_assert_uint_eq(used + n, b->len);
    return kad_msg_decode(m, p2p_buf_head(b) + used, (size_t)n, &lim);
}

START_TEST(round_trip)
{
    struct kad_msg m, d;
    kad_msg_init(&m);
    kad_msg_init(&d);
    m.type = KAD_GET_PROVIDERS;
    m.cluster_level = 10;
    ck_assert_int_eq(kad_msg_set_key(&m, (const uint8_t *)"\x12\x20key", 5), 0);
    p2p_peerid a = seed_peer(1), b = seed_peer(2);
    p2p_multiaddr addrs[2] = { ma("/ip4/127.0.0.1/tcp/4001"), ma("/ip6/::1/tcp/4002") };
    ck_assert_int_eq(kad_msg_add_peer(&m, false, &a, addrs, 2, KAD_CONNECTED), 0);
    ck_assert_int_eq(kad_msg_add_peer(&m, true, &b, addrs + 1, 1, KAD_NOT_CONNECTED), 0);
    ck_assert_int_eq(kad_msg_set_record(&m, (const uint8_t *)"/pk/x", 5, (const uint8_t *)"val", 3,
                                        "2024-01-01T00:00:00Z"), 0);
    p2p_buf buf;
    p2p_buf_init(&buf, 0);
    ck_assert_int_eq(kad_msg_encode(&m, 4096, &buf), 0);
    ck_assert_int_eq(decode_framed(&buf, &d), 0);
    ck_assert_int_eq(d.type, KAD_GET_PROVIDERS);
    ck_assert_int_eq(d.cluster_level, 10);
    ck_assert_uint_eq(d.keylen, 5);
    ck_assert_mem_eq(d.key, "\x12\x20key", 5);
    ck_assert(d.has_record);
    ck_assert_mem_eq(d.record.key, "/pk/x", 5);
    ck_assert_uint_eq(d.record.vlen, 3);
    ck_assert_str_eq(d.record.time_received, "2024-01-01T00:00:00Z");
    ck_assert_uint_eq(d.ncloser, 1);
    ck_assert(p2p_peerid_equal(&d.closer[0].id, &a));
    ck_assert_int_eq(d.closer[0].connection, KAD_CONNECTED);
    ck_assert_uint_eq(d.closer[0].naddrs, 2);
    ck_assert(p2p_maddr_equal(&d.closer[0].addrs[1], &addrs[1]));
    ck_assert_uint_eq(d.nproviders, 1);
    ck_assert(p2p_peerid_equal(&d.providers[0].id, &b));
    kad_msg_clear(&d);
    ck_assert_ptr_null(d.key);
    /* Too small a body limit: peers are dropped until it fits. */
    p2p_buf small;
    p2p_buf_init(&small, 0);
    ck_assert_int_eq(kad_msg_encode(&m, 60, &small), 0);
    ck_assert_int_eq(decode_framed(&small, &d), 0);
    ck_assert_uint_eq(d.ncloser + d.nproviders, 0);
    ck_assert(d.has_record);
    p2p_buf_reset(&small);
    ck_assert_int_eq(kad_msg_encode(&m, 10, &small), P2P_ERANGE);
    kad_msg_clear(&d);
    p2p_buf_free(&small);
    p2p_buf_free(&buf);
    kad_msg_clear(&m);
}
END_TEST

START_TEST(known_bytes)
{
    /* A FIND_NODE request as rust-libp2p writes it: type 4, key, cluster
     * level 10. */
    const uint8_t req[] = { 0x08, 0x04, 0x12, 0x03, 'a', 'b', 'c', 0x50, 0x0a };
    struct kad_msg m;
    kad_msg_init(&m);
    ck_assert_int_eq(kad_msg_decode(&m, req, sizeof req, &lim), 0);
    ck_assert_int_eq(m.type, KAD_FIND_NODE);
    ck_assert_int_eq(m.cluster_level, 10);
    ck_assert_mem_eq(m.key, "abc", 3);
    /* We write the same bytes. */
    p2p_buf b;
    p2p_buf_init(&b, 0);
    ck_assert_int_eq(kad_msg_encode(&m, 100, &b), 0);
    ck_assert_uint_eq(b.len, sizeof req + 1);
    ck_assert_uint_eq(p2p_buf_head(&b)[0], sizeof req);
    ck_assert_mem_eq(p2p_buf_head(&b) + 1, req, sizeof req);
    p2p_buf_free(&b);
    /* proto3 omits type 0 (PUT_VALUE): an absent type is PUT_VALUE. */
    const uint8_t put[] = { 0x12, 0x01, 'k' };
    ck_assert_int_eq(kad_msg_decode(&m, put, sizeof put, &lim), 0);
    ck_assert_int_eq(m.type, KAD_PUT_VALUE);
    /* rust-libp2p's extra Record fields (publisher = 666, ttl = 777) are skipped. */
    const uint8_t rec[] = { 0x08, 0x01, 0x1a, 0x0d, 0x0a, 0x01, 'k', 0x12, 0x01, 'v',
                            0xd2, 0x29, 0x01, 'p', 0xc8, 0x30, 0x05 };
    ck_assert_int_eq(kad_msg_decode(&m, rec, sizeof rec, &lim), 0);
    ck_assert(m.has_record);
    ck_assert_mem_eq(m.record.value, "v", 1);
    /* Bad type, not a protobuf. */
    const uint8_t bad_type[] = { 0x08, 0x06 };
    ck_assert_int_eq(kad_msg_decode(&m, bad_type, sizeof bad_type, &lim), P2P_EPROTO);
    const uint8_t neg_type[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
    ck_assert_int_eq(kad_msg_decode(&m, neg_type, sizeof neg_type, &lim), P2P_EPROTO);
    const uint8_t junk[] = { 0xff, 0xff, 0xff };
    ck_assert_int_eq(kad_msg_decode(&m, junk, sizeof junk, &lim), P2P_EPROTO);
    ck_assert_ptr_null(m.key);
    kad_msg_clear(&m);
}
END_TEST

START_TEST(peer_validation_and_limits)
{
    struct kad_msg m, d;
    kad_msg_init(&m);
    kad_msg_init(&d);
    m.type = KAD_FIND_NODE;
    p2p_peerid a = seed_peer(3), other = seed_peer(4);
    /* /p2p/<itself> is stripped, /p2p/<other> dropped, duplicates merged,
     * at most 4 kept. */
    p2p_multiaddr addrs[7];
    addrs[0] = ma("/ip4/1.2.3.4/tcp/1");
    addrs[1] = addrs[0];
    char s[400], ps[P2P_PEERID_STRMAX];
    p2p_peerid_to_string(&a, ps, sizeof ps);
    snprintf(s, sizeof s, "/ip4/1.2.3.4/tcp/2/p2p/%s", ps);
    addrs[2] = ma(s);
    p2p_peerid_to_string(&other, ps, sizeof ps);
    snprintf(s, sizeof s, "/ip4/1.2.3.4/tcp/3/p2p/%s", ps);
    addrs[3] = ma(s);
    addrs[4] = ma("/ip4/1.2.3.4/tcp/4");
    addrs[5] = ma("/ip4/1.2.3.4/tcp/5");
    addrs[6] = ma("/ip4/1.2.3.4/tcp/6");
    ck_assert_int_eq(kad_msg_add_peer(&m, false, &a, addrs, 7, 0), 0);
    /* 12 more peers: 8 kept. */
    for (uint8_t i = 10; i < 22; i++) {
        p2p_peerid x = seed_peer(i);
        ck_assert_int_eq(kad_msg_add_peer(&m, false, &x, addrs, 1, 0), 0);
    }
    /* a peer with a bad id */
    p2p_peerid bad = a;
    bad.bytes[0] = 0x55;
    ck_assert_int_eq(kad_msg_add_peer(&m, true, &bad, addrs, 1, 0), 0);
    p2p_buf b;
    p2p_buf_init(&b, 0);
    ck_assert_int_eq(kad_msg_encode(&m, 1 << 16, &b), 0);
    ck_assert_int_eq(decode_framed(&b, &d), 0);
    ck_assert_uint_eq(d.ncloser, 8);
    ck_assert_uint_eq(d.extra_peers, 5);
    ck_assert_uint_eq(d.nproviders, 0);
    ck_assert_uint_eq(d.bad_peers, 1);
    ck_assert_uint_eq(d.closer[0].naddrs, 4);
    p2p_multiaddr want2 = ma("/ip4/1.2.3.4/tcp/2"), want4 = ma("/ip4/1.2.3.4/tcp/4");
    ck_assert(p2p_maddr_equal(&d.closer[0].addrs[1], &want2));
    ck_assert(p2p_maddr_equal(&d.closer[0].addrs[2], &want4));
    ck_assert_uint_eq(d.bad_addrs, 1);
    ck_assert_uint_eq(d.extra_addrs, 1);
    kad_msg_clear(&d);
    kad_msg_clear(&m);

    /* Relayed addresses: /p2p/<relay>/p2p-circuit is kept (a trailing
     * /p2p/<itself> stripped); /p2p/<relay> not followed by /p2p-circuit,
     * or a circuit ending in another peer, is dropped. */
    char rs[P2P_PEERID_STRMAX], as[P2P_PEERID_STRMAX];
    p2p_peerid relay = seed_peer(5);
    p2p_peerid_to_string(&relay, rs, sizeof rs);
    p2p_peerid_to_string(&a, as, sizeof as);
    m.type = KAD_GET_PROVIDERS;
    snprintf(s, sizeof s, "/ip4/1.2.3.4/tcp/7/p2p/%s/p2p-circuit", rs);
    addrs[0] = ma(s);
    snprintf(s, sizeof s, "/ip4/1.2.3.4/tcp/8/p2p/%s/p2p-circuit/p2p/%s", rs, as);
    addrs[1] = ma(s);
    snprintf(s, sizeof s, "/ip4/1.2.3.4/tcp/9/p2p/%s/tcp/1", rs);
    addrs[2] = ma(s);
    snprintf(s, sizeof s, "/ip4/1.2.3.4/tcp/9/p2p/%s/p2p-circuit/p2p/%s", rs, ps);
    addrs[3] = ma(s);
    ck_assert_int_eq(kad_msg_add_peer(&m, true, &a, addrs, 4, 0), 0);
    p2p_buf_reset(&b);
    ck_assert_int_eq(kad_msg_encode(&m, 1 << 16, &b), 0);
    ck_assert_int_eq(decode_framed(&b, &d), 0);
    ck_assert_uint_eq(d.nproviders, 1);
    ck_assert_uint_eq(d.providers[0].naddrs, 2);
    snprintf(s, sizeof s, "/ip4/1.2.3.4/tcp/7/p2p/%s/p2p-circuit", rs);
    p2p_multiaddr want7 = ma(s);
    snprintf(s, sizeof s, "/ip4/1.2.3.4/tcp/8/p2p/%s/p2p-circuit", rs);
    p2p_multiaddr want8 = ma(s);
    ck_assert(p2p_maddr_equal(&d.providers[0].addrs[0], &want7));
    ck_assert(p2p_maddr_equal(&d.providers[0].addrs[1], &want8));
    ck_assert_uint_eq(d.bad_addrs, 2);
    kad_msg_clear(&d);
    /* Key and value limits refuse the whole message. */
    uint8_t big[2000];
    memset(big, 'x', sizeof big);
    p2p_buf_reset(&b);
    kad_msg_clear(&m);
    m.type = KAD_PUT_VALUE;
    kad_msg_set_key(&m, big, 300);
    ck_assert_int_eq(kad_msg_encode(&m, 1 << 16, &b), 0);
    ck_assert_int_eq(decode_framed(&b, &d), P2P_ERANGE);
    p2p_buf_reset(&b);
    kad_msg_set_key(&m, big, 10);
    kad_msg_set_record(&m, big, 10, big, 1500, NULL);
    ck_assert_int_eq(kad_msg_encode(&m, 1 << 16, &b), 0);
    ck_assert_int_eq(decode_framed(&b, &d), P2P_ERANGE);
    p2p_buf_free(&b);
    kad_msg_clear(&m);
}
END_TEST

START_TEST(framing)
{
    struct kad_reader r;
    kad_reader_init(&r, 100);
    const uint8_t *body;
    size_t len;
    ck_assert_int_eq(kad_reader_next(&r, &body, &len), 0);
    /* Two frames and a partial third, fed byte by byte. */
    const uint8_t in[] = { 3, 'a', 'b', 'c', 0, 2, 'x' };
    int frames = 0;
    for (size_t i = 0; i < sizeof in; i++) {
        ck_assert_int_eq(kad_reader_feed(&r, &in[i], 1), 1);
        int rc;
        while ((rc = kad_reader_next(&r, &body, &len)) == 1) {
            if (frames == 0) ck_assert(len == 3 && memcmp(body, "abc", 3) == 0);
            if (frames == 1) ck_assert_uint_eq(len, 0);
            frames++;
        }
        ck_assert_int_eq(rc, 0);
    }
    ck_assert_int_eq(frames, 2);
    ck_assert(kad_reader_partial(&r));
    kad_reader_free(&r);
    /* Over the maximum: refused before the body arrives. */
    kad_reader_init(&r, 100);
    const uint8_t big[] = { 0xc8, 0x01 };   /* 200 */
    kad_reader_feed(&r, big, sizeof big);
    ck_assert_int_eq(kad_reader_next(&r, &body, &len), P2P_ERANGE);
    kad_reader_free(&r);
    /* Non-minimal varint. */
    kad_reader_init(&r, 100);
    const uint8_t nm[] = { 0x81, 0x00 };
    kad_reader_feed(&r, nm, sizeof nm);
    ck_assert_int_eq(kad_reader_next(&r, &body, &len), P2P_EPROTO);
    kad_reader_free(&r);
    /* The reader takes at most one maximal frame at a time. */
    kad_reader_init(&r, 100);
    uint8_t many[1000];
    memset(many, 0, sizeof many);   /* 1000 empty frames */
    size_t off = 0, got = 0;
    while (off < sizeof many) {
        int took = kad_reader_feed(&r, many + off, sizeof many - off);
        ck_assert_int_gt(took, 0);
        ck_assert_int_le(took, 100 + 9 + 64);
        off += (size_t)took;
        while (kad_reader_next(&r, &body, &len) == 1) got++;
    }
    ck_assert_uint_eq(got, 1000);
    kad_reader_free(&r);
    ck_assert_str_eq(kad_type_name(KAD_FIND_NODE), "FIND_NODE");
    ck_assert_str_eq(kad_type_name(9), "?");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kad_msg");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, known_bytes);
    tcase_add_test(tc, peer_validation_and_limits);
    tcase_add_test(tc, framing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
