/* test_autonat_msg.c - unit.autonat_msg: the AutoNAT v1 codec against
 * hand-assembled protobuf bytes (the spec's field numbers), leniency,
 * bounds and the sizes we write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autonat_msg.h"
#include "p2p/p2p.h"
#include "autonat_test.h"

/* A tiny protobuf writer for the expected bytes. */
struct w {
    uint8_t b[2048];
    size_t n;
};
static void put(struct w *w, const void *p, size_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void byte(struct w *w, uint8_t v) { w->b[w->n++] = v; }
static void field_bytes(struct w *w, uint8_t tag, const void *p, size_t n)
{
    ck_assert_uint_lt(n, 16384);
    byte(w, tag);
    if (n >= 128) {
        byte(w, (uint8_t)(0x80 | (n & 0x7f)));
        byte(w, (uint8_t)(n >> 7));
    } else {
        byte(w, (uint8_t)n);
    }
    put(w, p, n);
}

START_TEST(dial_wire)
{
    p2p_peerid id = seed_peer(1);
    p2p_multiaddr a[2] = { ma("/ip4/1.2.3.4/tcp/4001"), ma("/ip6/2001:db8::1/tcp/4002") };
    /* PeerInfo { id = 1, addrs = 2 }, Dial { peer = 1 }, Message { type = 1, dial = 2 } */
    struct w info = { .n = 0 }, dial = { .n = 0 }, msg = { .n = 0 };
    field_bytes(&info, 0x0a, id.bytes, id.len);
    field_bytes(&info, 0x12, a[0].bytes, a[0].len);
    field_bytes(&info, 0x12, a[1].bytes, a[1].len);
    field_bytes(&dial, 0x0a, info.b, info.n);
    byte(&msg, 0x08);
    byte(&msg, 0x00);   /* type DIAL */
    field_bytes(&msg, 0x12, dial.b, dial.n);

    uint8_t out[AUTONAT_SEND_FRAME_MAX];
    size_t dropped = 99;
    int n = autonat_encode_dial(&id, a, 2, out, sizeof out, &dropped);
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq(dropped, 0);
    ck_assert_uint_eq(out[0], msg.n);   /* one-byte length prefix */
    ck_assert_uint_eq((size_t)n, msg.n + 1);
    ck_assert_mem_eq(out + 1, msg.b, msg.n);

    struct autonat_msg *m = malloc(sizeof *m);
    ck_assert_int_eq(autonat_msg_decode(m, msg.b, msg.n), 0);
    ck_assert_uint_eq(m->type, AUTONAT_DIAL);
    ck_assert(m->has_type && m->has_dial && m->has_peer && m->has_id && m->id_valid);
    ck_assert(p2p_peerid_equal(&m->id, &id));
    ck_assert_uint_eq(m->naddrs, 2);
    ck_assert(p2p_maddr_equal(&m->addrs[1], &a[1]));
    ck_assert(!m->has_response);
    free(m);
}
END_TEST

START_TEST(response_wire)
{
    p2p_multiaddr a = ma("/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo");
    /* DialResponse { status = 1 (OK = 0), addr = 3 }, Message { type = 1 (1), dialResponse = 3 } */
    struct w resp = { .n = 0 }, msg = { .n = 0 };
    byte(&resp, 0x08);
    byte(&resp, 0x00);
    field_bytes(&resp, 0x1a, a.bytes, a.len);
    byte(&msg, 0x08);
    byte(&msg, 0x01);
    field_bytes(&msg, 0x1a, resp.b, resp.n);
    uint8_t out[AUTONAT_SEND_FRAME_MAX];
    int n = autonat_encode_response(AUTONAT_OK, NULL, &a, out, sizeof out);
    ck_assert_int_eq(n, (int)msg.n + 1);
    ck_assert_mem_eq(out + 1, msg.b, msg.n);

    /* An error: status 100, text, no address. */
    struct w r2 = { .n = 0 }, m2 = { .n = 0 };
    byte(&r2, 0x08);
    byte(&r2, 100);
    field_bytes(&r2, 0x12, "dial failed", 11);
    byte(&m2, 0x08);
    byte(&m2, 0x01);
    field_bytes(&m2, 0x1a, r2.b, r2.n);
    n = autonat_encode_response(AUTONAT_E_DIAL_ERROR, "dial failed", &a, out, sizeof out);
    ck_assert_int_eq(n, (int)m2.n + 1);
    ck_assert_mem_eq(out + 1, m2.b, m2.n);

    struct autonat_msg *m = malloc(sizeof *m);
    ck_assert_int_eq(autonat_msg_decode(m, m2.b, m2.n), 0);
    ck_assert_uint_eq(m->type, AUTONAT_DIAL_RESPONSE);
    ck_assert(m->has_response && m->has_status && !m->has_addr);
    ck_assert_uint_eq(m->status, AUTONAT_E_DIAL_ERROR);
    ck_assert_str_eq(m->text, "dial failed");
    ck_assert_int_eq(autonat_msg_decode(m, msg.b, msg.n), 0);
    ck_assert_uint_eq(m->status, AUTONAT_OK);
    ck_assert(m->has_addr && p2p_maddr_equal(&m->addr, &a));
    free(m);

    /* OK needs an address. */
    ck_assert_int_eq(autonat_encode_response(AUTONAT_OK, NULL, NULL, out, sizeof out), P2P_EINVAL);
    ck_assert_int_eq(autonat_encode_response(AUTONAT_E_BAD_REQUEST, NULL, NULL, out, 3), P2P_ERANGE);
    ck_assert_str_eq(autonat_status_name(AUTONAT_E_DIAL_REFUSED), "E_DIAL_REFUSED");
    ck_assert_str_eq(autonat_status_name(AUTONAT_E_INTERNAL_ERROR), "E_INTERNAL_ERROR");
    ck_assert_str_eq(autonat_status_name(7), "unknown status");
}
END_TEST

START_TEST(leniency)
{
    struct autonat_msg *m = malloc(sizeof *m);
    /* No type at all: proto2's default, DIAL (go reads it so). */
    ck_assert_int_eq(autonat_msg_decode(m, (const uint8_t *)"", 0), 0);
    ck_assert_uint_eq(m->type, AUTONAT_DIAL);
    ck_assert(!m->has_type && !m->has_dial);
    /* Unknown type: malformed. */
    const uint8_t t5[] = { 0x08, 0x05 };
    ck_assert_int_eq(autonat_msg_decode(m, t5, sizeof t5), P2P_EINVAL);
    /* Not a protobuf (a truncated length-delimited field). */
    const uint8_t junk[] = { 0x12, 0x40, 0x01 };
    ck_assert_int_eq(autonat_msg_decode(m, junk, sizeof junk), P2P_EINVAL);
    /* Too long. */
    uint8_t *big = calloc(1, AUTONAT_MSG_MAX + 1);
    ck_assert_int_eq(autonat_msg_decode(m, big, AUTONAT_MSG_MAX + 1), P2P_ERANGE);
    free(big);

    /* A DIAL with an invalid PeerId, invalid and too many addresses, and
     * an unknown field: kept leniently, counted. */
    struct w info = { .n = 0 }, dial = { .n = 0 }, msg = { .n = 0 };
    field_bytes(&info, 0x0a, "\x12\x20\x01", 3);                 /* not a PeerId */
    field_bytes(&info, 0x12, "\xff\xff\xff", 3);                 /* not a multiaddr */
    p2p_multiaddr a = ma("/ip4/10.0.0.1/tcp/1");
    for (int i = 0; i < AUTONAT_MAX_ADDRS + 3; i++) field_bytes(&info, 0x12, a.bytes, a.len);
    field_bytes(&info, 0x3a, "zz", 2);                           /* field 7: unknown */
    ck_assert_uint_lt(info.n, 400);
    field_bytes(&dial, 0x0a, info.b, info.n);
    field_bytes(&msg, 0x12, dial.b, dial.n);
    ck_assert_int_eq(autonat_msg_decode(m, msg.b, msg.n), 0);
    ck_assert(m->has_dial && m->has_peer && m->has_id && !m->id_valid);
    ck_assert_uint_eq(m->naddrs, AUTONAT_MAX_ADDRS);
    ck_assert_uint_eq(m->nskipped, 4);

    /* A response with an unknown status, a bad address and a text with
     * control characters and more than we keep. */
    struct w r = { .n = 0 }, mr = { .n = 0 };
    byte(&r, 0x08);
    byte(&r, 0x07);
    char text[200];
    memset(text, 'x', sizeof text);
    text[3] = '\n';
    text[4] = 0x1b;
    field_bytes(&r, 0x12, text, sizeof text);
    field_bytes(&r, 0x1a, "\x04\x01", 2);
    byte(&mr, 0x08);
    byte(&mr, 0x01);
    field_bytes(&mr, 0x1a, r.b, r.n);
    ck_assert_int_eq(autonat_msg_decode(m, mr.b, mr.n), 0);
    ck_assert_uint_eq(m->status, 7);
    ck_assert(!m->has_addr && m->bad_addr);
    ck_assert_uint_eq(strlen(m->text), AUTONAT_TEXT_MAX - 1);
    ck_assert_int_eq(m->text[3], '?');
    ck_assert_int_eq(m->text[4], '?');
    free(m);
}
END_TEST

START_TEST(sizes)
{
    /* As many addresses as fit in 1 KiB (rust-libp2p's limit) are sent,
     * in order; the rest are counted as dropped. */
    p2p_peerid id = seed_peer(2);
    p2p_multiaddr a[AUTONAT_MAX_ADDRS];
    char text[128];
    for (int i = 0; i < AUTONAT_MAX_ADDRS; i++) {
        snprintf(text, sizeof text, "/dns4/host-%02d.a-rather-long-name.example.com/tcp/%d", i, 4000 + i);
        a[i] = ma(text);
    }
    uint8_t out[AUTONAT_SEND_FRAME_MAX];
    size_t dropped = 0;
    int n = autonat_encode_dial(&id, a, AUTONAT_MAX_ADDRS, out, sizeof out, &dropped);
    ck_assert_int_gt(n, 0);
    ck_assert_uint_gt(dropped, 0);
    size_t hdr, body;
    ck_assert_int_eq(p2p_varint_frame(out, (size_t)n, AUTONAT_SEND_MAX, &hdr, &body), 0);
    ck_assert_uint_le(body, AUTONAT_SEND_MAX);
    struct autonat_msg *m = malloc(sizeof *m);
    ck_assert_int_eq(autonat_msg_decode(m, out + hdr, body), 0);
    ck_assert_uint_eq(m->naddrs + dropped, AUTONAT_MAX_ADDRS);
    for (size_t i = 0; i < m->naddrs; i++) ck_assert(p2p_maddr_equal(&m->addrs[i], &a[i]));
    /* Empty addresses are skipped, not sent. */
    p2p_multiaddr e[2] = { { 0 }, a[0] };
    n = autonat_encode_dial(&id, e, 2, out, sizeof out, &dropped);
    ck_assert_int_eq(p2p_varint_frame(out, (size_t)n, AUTONAT_SEND_MAX, &hdr, &body), 0);
    ck_assert_int_eq(autonat_msg_decode(m, out + hdr, body), 0);
    ck_assert_uint_eq(m->naddrs, 1);
    /* A long text is cut at a character boundary. */
    char t[400];
    memset(t, 'a', sizeof t);
    t[AUTONAT_TEXT_MAX - 2] = (char)0xc3;   /* a two-byte character across the cut */
    t[AUTONAT_TEXT_MAX - 1] = (char)0xa9;
    t[sizeof t - 1] = 0;
    n = autonat_encode_response(AUTONAT_E_DIAL_REFUSED, t, NULL, out, sizeof out);
    ck_assert_int_eq(p2p_varint_frame(out, (size_t)n, AUTONAT_SEND_MAX, &hdr, &body), 0);
    ck_assert_int_eq(autonat_msg_decode(m, out + hdr, body), 0);
    ck_assert_uint_eq(strlen(m->text), AUTONAT_TEXT_MAX - 2);
    free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("autonat_msg");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, dial_wire);
    tcase_add_test(tc, response_wire);
    tcase_add_test(tc, leniency);
    tcase_add_test(tc, sizes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
