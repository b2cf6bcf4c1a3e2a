/* test_dcutr_msg.c - unit.dcutr_msg: the HolePunch codec and framing
 * (dcutr_msg.c), without I/O: wire vectors, leniency, bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcutr_msg.h"
#include "p2p/p2p.h"
#include "testutil.h"

static p2p_multiaddr ma(const char *text)
{
    p2p_multiaddr m;
    char err[256];
    int rc = p2p_maddr_parse(&m, text, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", text, err);
    return m;
}

static struct dcutr_msg d;
static uint8_t buf[DCUTR_FRAME_MAX * 2];

/* Frame check + decode of a whole encoded frame. */
static void decode_frame(const uint8_t *f, size_t n)
{
    size_t hdr, body;
    ck_assert_int_eq(dcutr_frame(f, n, &hdr, &body), 0);
    ck_assert_uint_eq(hdr + body, n);
    ck_assert_int_eq(dcutr_msg_decode(&d, f + hdr, body), 0);
}

START_TEST(wire_vectors)
{
    /* CONNECT [/ip4/1.2.3.4/tcp/4001]: 08 64 (type 100), 12 08 <addr>. */
    p2p_multiaddr a = ma("/ip4/1.2.3.4/tcp/4001");
    static const uint8_t connect[] = { 0x0c, 0x08, 0x64, 0x12, 0x08, 0x04, 0x01, 0x02,
                                       0x03, 0x04, 0x06, 0x0f, 0xa1 };
    int n = dcutr_msg_encode(DCUTR_CONNECT, &a, 1, buf, sizeof buf, NULL);
    ck_assert_int_eq(n, (int)sizeof connect);
    ck_assert_mem_eq(buf, connect, sizeof connect);
    decode_frame(connect, sizeof connect);
    ck_assert_uint_eq(d.type, DCUTR_CONNECT);
    ck_assert_uint_eq(d.naddrs, 1);
    ck_assert(p2p_maddr_equal(&d.addrs[0], &a));

    /* SYNC: 08 ac 02 (type 300), no addresses (as go-libp2p sends it). */
    static const uint8_t sync[] = { 0x03, 0x08, 0xac, 0x02 };
    n = dcutr_msg_encode(DCUTR_SYNC, NULL, 0, buf, sizeof buf, NULL);
    ck_assert_int_eq(n, (int)sizeof sync);
    ck_assert_mem_eq(buf, sync, sizeof sync);
    decode_frame(sync, sizeof sync);
    ck_assert_uint_eq(d.type, DCUTR_SYNC);
    ck_assert_uint_eq(d.naddrs, 0);
    ck_assert_str_eq(dcutr_type_name(DCUTR_SYNC), "SYNC");
    ck_assert_str_eq(dcutr_type_name(DCUTR_CONNECT), "CONNECT");
    ck_assert_str_eq(dcutr_type_name(7), "unknown");
}
END_TEST

START_TEST(roundtrip_ip6_and_order)
{
    p2p_multiaddr a[3] = { ma("/ip6/2001:db8::1/tcp/4001"), ma("/ip4/198.18.0.2/tcp/5000"),
                           ma("/ip4/1.2.3.4/udp/4001/quic-v1") };
    int n = dcutr_msg_encode(DCUTR_CONNECT, a, 3, buf, sizeof buf, NULL);
    ck_assert_int_gt(n, 0);
    decode_frame(buf, (size_t)n);
    ck_assert_uint_eq(d.naddrs, 3);
    for (int i = 0; i < 3; i++) ck_assert(p2p_maddr_equal(&d.addrs[i], &a[i]));
}
END_TEST

START_TEST(leniency_and_errors)
{
    /* Unknown field 3 (varint) skipped; an invalid address dropped and
     * counted; a valid one kept. */
    static const uint8_t body[] = { 0x08, 0x64, 0x18, 0x05, 0x12, 0x02, 0xff, 0xff,
                                    0x12, 0x08, 0x04, 0x01, 0x02, 0x03, 0x04, 0x06, 0x0f, 0xa1 };
    ck_assert_int_eq(dcutr_msg_decode(&d, body, sizeof body), 0);
    ck_assert_uint_eq(d.naddrs, 1);
    ck_assert_uint_eq(d.nskipped, 1);
    /* An empty address is not an address. */
    static const uint8_t empty[] = { 0x08, 0x64, 0x12, 0x00 };
    ck_assert_int_eq(dcutr_msg_decode(&d, empty, sizeof empty), 0);
    ck_assert_uint_eq(d.naddrs, 0);
    ck_assert_uint_eq(d.nskipped, 1);
    /* No type, an unknown type, not a protobuf. */
    static const uint8_t notype[] = { 0x12, 0x08, 0x04, 0x01, 0x02, 0x03, 0x04, 0x06, 0x0f, 0xa1 };
    ck_assert_int_eq(dcutr_msg_decode(&d, notype, sizeof notype), P2P_EINVAL);
    static const uint8_t badtype[] = { 0x08, 0xc8, 0x01 };   /* 200 */
    ck_assert_int_eq(dcutr_msg_decode(&d, badtype, sizeof badtype), P2P_EINVAL);
    ck_assert_uint_eq(d.type, 0);
    static const uint8_t junk[] = { 0xff, 0xff, 0xff };
    ck_assert_int_eq(dcutr_msg_decode(&d, junk, sizeof junk), P2P_EINVAL);
    /* The empty message has no type. */
    ck_assert_int_eq(dcutr_msg_decode(&d, junk, 0), P2P_EINVAL);
    /* Over the limit. */
    static uint8_t big[DCUTR_MSG_MAX + 1];
    ck_assert_int_eq(dcutr_msg_decode(&d, big, sizeof big), P2P_ERANGE);
    /* Encoding an unknown type. */
    ck_assert_int_eq(dcutr_msg_encode(5, NULL, 0, buf, sizeof buf, NULL), P2P_EINVAL);
    /* Too small an output buffer. */
    p2p_multiaddr a = ma("/ip4/1.2.3.4/tcp/4001");
    ck_assert_int_eq(dcutr_msg_encode(DCUTR_CONNECT, &a, 1, buf, 5, NULL), P2P_ERANGE);
}
END_TEST

START_TEST(addresses_bounded)
{
    /* More than DCUTR_MAX_ADDRS on the wire: the first 16 kept. */
    p2p_buf b;
    p2p_buf_init(&b, 0);
    p2p_buf_append(&b, "\x08\x64", 2);
    for (int i = 0; i < DCUTR_MAX_ADDRS + 4; i++) {
        char t[64];
        snprintf(t, sizeof t, "/ip4/10.0.0.%d/tcp/4001", i + 1);
        p2p_multiaddr a = ma(t);
        p2p_buf_append_byte(&b, 0x12);
        p2p_buf_append_varint(&b, a.len);
        p2p_buf_append(&b, a.bytes, a.len);
    }
    ck_assert_int_eq(dcutr_msg_decode(&d, p2p_buf_head(&b), b.len), 0);
    ck_assert_uint_eq(d.naddrs, DCUTR_MAX_ADDRS);
    ck_assert_uint_eq(d.nskipped, 4);
    p2p_multiaddr last = ma("/ip4/10.0.0.16/tcp/4001");
    ck_assert(p2p_maddr_equal(&d.addrs[15], &last));
    p2p_buf_free(&b);

    /* Encoding keeps what fits in 4 KiB: long addresses are dropped. */
    static p2p_multiaddr many[DCUTR_MAX_ADDRS];
    char t[600];
    /* 250-byte names: 16 of them do not fit in 4 KiB. */
    for (int i = 0; i < DCUTR_MAX_ADDRS; i++) {
        char name[300];
        memset(name, 'a' + i, 250);
        name[250] = 0;
        snprintf(t, sizeof t, "/dns4/%s/tcp/4001", name);
        many[i] = ma(t);
    }
    size_t dropped = 0;
    int n = dcutr_msg_encode(DCUTR_CONNECT, many, DCUTR_MAX_ADDRS, buf, sizeof buf, &dropped);
    ck_assert_int_gt(n, 0);
    ck_assert_uint_gt(dropped, 0);
    size_t hdr, body;
    ck_assert_int_eq(dcutr_frame(buf, (size_t)n, &hdr, &body), 0);
    ck_assert_uint_le(body, DCUTR_MSG_MAX);
    ck_assert_int_eq(dcutr_msg_decode(&d, buf + hdr, body), 0);
    ck_assert_uint_eq(d.naddrs + dropped, DCUTR_MAX_ADDRS);
    for (size_t i = 0; i < d.naddrs; i++) ck_assert(p2p_maddr_equal(&d.addrs[i], &many[i]));
}
END_TEST

START_TEST(framing)
{
    size_t hdr, body;
    static const uint8_t two[] = { 0x03, 0x08, 0xac, 0x02, 0x03, 0x08, 0xac };
    ck_assert_int_eq(dcutr_frame(two, sizeof two, &hdr, &body), 0);
    ck_assert_uint_eq(hdr, 1);
    ck_assert_uint_eq(body, 3);
    ck_assert_int_eq(dcutr_frame(two + 4, 3, &hdr, &body), P2P_ETRUNC);
    ck_assert_int_eq(dcutr_frame(two, 0, &hdr, &body), P2P_ETRUNC);
    /* 4096 is allowed, 4097 is not (known from the 2-byte varint). */
    static const uint8_t max[] = { 0x80, 0x20 };
    ck_assert_int_eq(dcutr_frame(max, 2, &hdr, &body), P2P_ETRUNC);
    static const uint8_t over[] = { 0x81, 0x20 };
    ck_assert_int_eq(dcutr_frame(over, 2, &hdr, &body), P2P_ERANGE);
    /* A varint that never ends is refused after 2 bytes (more than
     * 4096 whatever follows). */
    static const uint8_t endless[] = { 0x80, 0x80, 0x80 };
    ck_assert_int_eq(dcutr_frame(endless, 3, &hdr, &body), P2P_ERANGE);
    ck_assert_int_eq(dcutr_frame(endless, 2, &hdr, &body), P2P_ERANGE);
    ck_assert_int_eq(dcutr_frame(endless, 1, &hdr, &body), P2P_ETRUNC);
    /* Non-minimal varint. */
    static const uint8_t nonmin[] = { 0x83, 0x00, 0x08 };
    ck_assert_int_eq(dcutr_frame(nonmin, 3, &hdr, &body), P2P_EPROTO);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dcutr_msg");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, wire_vectors);
    tcase_add_test(tc, roundtrip_ip6_and_order);
    tcase_add_test(tc, leniency_and_errors);
    tcase_add_test(tc, addresses_bounded);
    tcase_add_test(tc, framing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
