/* test_relay_msg.c - unit.relay_msg: hop/stop message codec and framing,
 * vouchers, circuit addresses (relay_msg.c), without I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/p2p.h"
#include "p2p/record.h"
#include "relay_msg.h"
#include "testutil.h"

static p2p_multiaddr ma(const char *text)
{
    p2p_multiaddr m;
    char err[256];
    int rc = p2p_maddr_parse(&m, text, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", text, err);
    return m;
}

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

static char *pidstr(uint8_t seed)
{
    static char buf[4][P2P_PEERID_STRMAX];
    static int k;
    p2p_peerid id = pid(seed);
    char *out = buf[k++ % 4];
    p2p_peerid_to_string(&id, out, P2P_PEERID_STRMAX);
    return out;
}

/* Encode, check the frame, decode again. */
static void roundtrip(const struct relay_msg *in, struct relay_msg *out)
{
    uint8_t buf[RELAY_FRAME_MAX];
    int n = relay_msg_encode(in, buf, sizeof buf);
    ck_assert_int_gt(n, 0);
    size_t hdr, body;
    ck_assert_int_eq(relay_frame(buf, (size_t)n, &hdr, &body), 0);
    ck_assert_uint_eq(hdr + body, (size_t)n);
    ck_assert_int_eq(relay_msg_decode(out, in->kind, buf + hdr, body), 0);
}

START_TEST(hop_roundtrip)
{
    static struct relay_msg m, d;
    relay_msg_init(&m, RELAY_HOP, RELAY_HOP_STATUS);
    m.has_status = true;
    m.status = RELAY_STATUS_OK;
    m.has_reservation = true;
    m.rsvp.has_expire = true;
    m.rsvp.expire = 1700000000;
    m.rsvp.naddrs = 2;
    m.rsvp.addrs[0] = ma("/ip4/127.0.0.1/tcp/4001");
    m.rsvp.addrs[1] = ma("/ip6/::1/tcp/4001");
    m.rsvp.voucher_len = 3;
    memcpy(m.rsvp.voucher, "abc", 3);
    m.has_limit = true;
    m.limit.has_duration = true;
    m.limit.duration = 120;
    m.limit.has_data = true;
    m.limit.data = 131072;
    roundtrip(&m, &d);
    ck_assert_uint_eq(d.type, RELAY_HOP_STATUS);
    ck_assert(d.has_status && d.status == RELAY_STATUS_OK);
    ck_assert(d.has_reservation && d.rsvp.has_expire && d.rsvp.expire == 1700000000);
    ck_assert_uint_eq(d.rsvp.naddrs, 2);
    ck_assert(p2p_maddr_equal(&d.rsvp.addrs[1], &m.rsvp.addrs[1]));
    ck_assert_uint_eq(d.rsvp.voucher_len, 3);
    ck_assert(d.has_limit && d.limit.duration == 120 && d.limit.data == 131072);
    ck_assert(!d.has_peer);

    relay_msg_init(&m, RELAY_HOP, RELAY_HOP_CONNECT);
    m.has_peer = true;
    m.peer.id = pid(2);
    m.peer.naddrs = 1;
    m.peer.addrs[0] = ma("/ip4/10.0.0.1/tcp/1");
    roundtrip(&m, &d);
    ck_assert_uint_eq(d.type, RELAY_HOP_CONNECT);
    ck_assert(d.has_peer && p2p_peerid_equal(&d.peer.id, &m.peer.id));
    ck_assert_uint_eq(d.peer.naddrs, 1);
    ck_assert(!d.has_status && !d.has_limit && !d.has_reservation);

    /* RESERVE is type 0: still written (the spec's field is required). */
    relay_msg_init(&m, RELAY_HOP, RELAY_HOP_RESERVE);
    uint8_t buf[16];
    ck_assert_int_eq(relay_msg_encode(&m, buf, sizeof buf), 3);
    ck_assert_mem_eq(buf, "\x02\x08\x00", 3);
}
END_TEST

START_TEST(stop_roundtrip)
{
    static struct relay_msg m, d;
    relay_msg_init(&m, RELAY_STOP, RELAY_STOP_CONNECT);
    m.has_peer = true;
    m.peer.id = pid(3);
    m.has_limit = true;
    m.limit.has_data = true;
    m.limit.data = 7;
    roundtrip(&m, &d);
    ck_assert_uint_eq(d.kind, RELAY_STOP);
    ck_assert_uint_eq(d.type, RELAY_STOP_CONNECT);
    ck_assert(d.has_peer && p2p_peerid_equal(&d.peer.id, &m.peer.id));
    ck_assert(d.has_limit && !d.limit.has_duration && d.limit.data == 7);

    /* A stop message has no reservation. */
    m.has_reservation = true;
    uint8_t buf[RELAY_FRAME_MAX];
    ck_assert_int_eq(relay_msg_encode(&m, buf, sizeof buf), P2P_EINVAL);
}
END_TEST

/* Bytes as go-libp2p, rust-libp2p and js-libp2p write them. */
START_TEST(wire_vectors)
{
    static struct relay_msg d;
    /* HopMessage { type: STATUS, status: OK } */
    ck_assert_int_eq(relay_msg_decode(&d, RELAY_HOP, (const uint8_t *)"\x08\x02\x28\x64", 4), 0);
    ck_assert(d.type == RELAY_HOP_STATUS && d.has_status && d.status == RELAY_STATUS_OK);
    /* StopMessage { type: STATUS, status: CONNECTION_FAILED (203 = cb 01) } */
    ck_assert_int_eq(relay_msg_decode(&d, RELAY_STOP, (const uint8_t *)"\x08\x01\x20\xcb\x01", 5), 0);
    ck_assert(d.type == RELAY_STOP_STATUS && d.status == RELAY_STATUS_CONNECTION_FAILED);
    /* Limit { duration: 120000 (js: ms), data: 131072 } in a StopMessage CONNECT
     * with a peer: 08 00 | 12 len (0a 26 <id>) | 1a 07 (08 c0 a9 07 10 80 80 08) */
    p2p_peerid id = pid(9);
    uint8_t buf[128];
    size_t n = 0;
    buf[n++] = 0x08; buf[n++] = 0x00;
    buf[n++] = 0x12; buf[n++] = (uint8_t)(id.len + 2);
    buf[n++] = 0x0a; buf[n++] = id.len;
    memcpy(buf + n, id.bytes, id.len);
    n += id.len;
    static const uint8_t lim[] = { 0x1a, 0x08, 0x08, 0xc0, 0xa9, 0x07, 0x10, 0x80, 0x80, 0x08 };
    memcpy(buf + n, lim, sizeof lim);
    n += sizeof lim;
    ck_assert_int_eq(relay_msg_decode(&d, RELAY_STOP, buf, n), 0);
    ck_assert(d.has_peer && p2p_peerid_equal(&d.peer.id, &id));
    ck_assert(d.has_limit && d.limit.duration == 120000 && d.limit.data == 131072);
    ck_assert_uint_eq(relay_limit_duration_ms(&d.limit), 120000);   /* read as ms */
    /* Our own encoding of the same message is byte-identical. */
    static struct relay_msg m;
    relay_msg_init(&m, RELAY_STOP, RELAY_STOP_CONNECT);
    m.has_peer = true;
    m.peer.id = id;
    m.has_limit = true;
    m.limit = d.limit;
    uint8_t enc[256];
    int e = relay_msg_encode(&m, enc, sizeof enc);
    ck_assert_int_eq(e, (int)n + 1);
    ck_assert_uint_eq(enc[0], n);
    ck_assert_mem_eq(enc + 1, buf, n);
}
END_TEST

START_TEST(leniency_and_errors)
{
    static struct relay_msg d;
    /* Empty message: type missing reads as 0. */
    ck_assert_int_eq(relay_msg_decode(&d, RELAY_HOP, (const uint8_t *)"", 0), 0);
    ck_assert_uint_eq(d.type, RELAY_HOP_RESERVE);
    /* Unknown fields are skipped. */
    ck_assert_int_eq(relay_msg_decode(&d, RELAY_HOP, (const uint8_t *)"\x08\x01\x78\x05", 4), 0);
    ck_assert_uint_eq(d.type, RELAY_HOP_CONNECT);
    /* Unknown type: malformed. */
    ck_assert_int_eq(relay_msg_decode(&d, RELAY_HOP, (const uint8_t *)"\x08\x03", 2), P2P_EINVAL);
    ck_assert_int_eq(relay_msg_decode(&d, RELAY_STOP, (const uint8_t *)"\x08\x02", 2), P2P_EINVAL);
    /* Unknown status: kept as received. */
    ck_assert_int_eq(relay_msg_decode(&d, RELAY_HOP, (const uint8_t *)"\x08\x02\x28\xe7\x07", 5), 0);
    ck_assert_uint_eq(d.status, 999);
    ck_assert_str_eq(relay_status_name(d.status), "unknown status");
    ck_assert_int_eq(relay_status_error(d.status), P2P_EPROTO);
    /* Peer without id, and with a bad id: malformed. */
    ck_assert_int_eq(relay_msg_decode(&d, RELAY_HOP, (const uint8_t *)"\x08\x01\x12\x00", 4), P2P_EINVAL);
    ck_assert_int_eq(relay_msg_decode(&d, RELAY_HOP, (const uint8_t *)"\x08\x01\x12\x03\x0a\x01\x00", 7), P2P_EINVAL);
    ck_assert(!d.has_peer);   /* reset on error */
    /* Not a protobuf. */
    ck_assert_int_eq(relay_msg_decode(&d, RELAY_HOP, (const uint8_t *)"\xff\xff\xff", 3), P2P_EINVAL);
    /* Too long. */
    static uint8_t big[RELAY_MSG_MAX + 1];
    ck_assert_int_eq(relay_msg_decode(&d, RELAY_HOP, big, sizeof big), P2P_ERANGE);
}
END_TEST

START_TEST(addresses_bounded)
{
    static struct relay_msg m, d;
    relay_msg_init(&m, RELAY_HOP, RELAY_HOP_STATUS);
    m.has_reservation = true;
    m.rsvp.naddrs = RELAY_MAX_ADDRS;
    for (size_t i = 0; i < RELAY_MAX_ADDRS; i++) {
        char t[64];
        snprintf(t, sizeof t, "/ip4/10.0.0.%zu/tcp/1", i + 1);
        m.rsvp.addrs[i] = ma(t);
    }
    uint8_t buf[RELAY_FRAME_MAX];
    int n = relay_msg_encode(&m, buf, sizeof buf);
    ck_assert_int_gt(n, 0);
    /* Append one more valid and one invalid address (field 3 of the message,
     * then field 2 inside it): rebuild by hand around the encoded body. */
    size_t hdr, body;
    ck_assert_int_eq(relay_frame(buf, (size_t)n, &hdr, &body), 0);
    /* Reservation is field 3: find it and extend it. */
    uint8_t raw[RELAY_MSG_MAX];
    size_t k = 0;
    memcpy(raw, buf + hdr, body);
    k = body;
    ck_assert_int_eq(relay_msg_decode(&d, RELAY_HOP, raw, k), 0);
    ck_assert_uint_eq(d.rsvp.naddrs, RELAY_MAX_ADDRS);
    /* A second Reservation field merges (protobuf rules): two addresses more. */
    static const uint8_t extra[] = { 0x1a, 0x0c, 0x12, 0x08, 0x04, 10, 0, 0, 99, 0x06, 0x00, 0x01, 0x12, 0x00 };
    memcpy(raw + k, extra, sizeof extra);
    k += sizeof extra;
    ck_assert_int_eq(relay_msg_decode(&d, RELAY_HOP, raw, k), 0);
    ck_assert_uint_eq(d.rsvp.naddrs, RELAY_MAX_ADDRS);
    ck_assert_uint_eq(d.rsvp.nskipped, 2);   /* one over the cap, one empty (invalid) */
}
END_TEST

START_TEST(framing)
{
    size_t hdr, body;
    ck_assert_int_eq(relay_frame((const uint8_t *)"", 0, &hdr, &body), P2P_ETRUNC);
    ck_assert_int_eq(relay_frame((const uint8_t *)"\x03\x08", 2, &hdr, &body), P2P_ETRUNC);
    ck_assert_int_eq(relay_frame((const uint8_t *)"\x02\x08\x00\xaa", 4, &hdr, &body), 0);
    ck_assert_uint_eq(hdr, 1);
    ck_assert_uint_eq(body, 2);
    ck_assert_int_eq(relay_frame((const uint8_t *)"\x00", 1, &hdr, &body), 0);
    ck_assert_uint_eq(body, 0);
    /* 4096 is allowed, 4097 is not. */
    ck_assert_int_eq(relay_frame((const uint8_t *)"\x80\x20", 2, &hdr, &body), P2P_ETRUNC);
    ck_assert_int_eq(relay_frame((const uint8_t *)"\x81\x20", 2, &hdr, &body), P2P_ERANGE);
    ck_assert_int_eq(relay_frame((const uint8_t *)"\xff\xff\xff", 3, &hdr, &body), P2P_ERANGE);
    ck_assert_int_eq(relay_frame((const uint8_t *)"\xff", 1, &hdr, &body), P2P_ETRUNC);
    /* Non-minimal varint. */
    ck_assert_int_eq(relay_frame((const uint8_t *)"\x80\x00", 2, &hdr, &body), P2P_EPROTO);
    /* Encoding refuses what would not fit. */
    static struct relay_msg m;
    relay_msg_init(&m, RELAY_HOP, RELAY_HOP_RESERVE);
    uint8_t small[2];
    ck_assert_int_eq(relay_msg_encode(&m, small, sizeof small), P2P_ERANGE);
}
END_TEST

START_TEST(vouchers)
{
    struct relay_voucher v = { .relay = pid(1), .peer = pid(2), .expiration = 1700000000 }, w;
    uint8_t buf[256];
    int n = relay_voucher_encode(&v, buf, sizeof buf);
    ck_assert_int_gt(n, 0);
    /* Canonical: relay, peer, expiration in field order. */
    ck_assert_uint_eq(buf[0], 0x0a);
    ck_assert_uint_eq(buf[1], v.relay.len);
    ck_assert_mem_eq(buf + 2, v.relay.bytes, v.relay.len);
    ck_assert_uint_eq(buf[2 + v.relay.len], 0x12);
    ck_assert_uint_eq(buf[4 + v.relay.len + v.peer.len], 0x18);
    ck_assert_int_eq(relay_voucher_decode(&w, buf, (size_t)n), 0);
    ck_assert(p2p_peerid_equal(&w.relay, &v.relay) && p2p_peerid_equal(&w.peer, &v.peer));
    ck_assert(w.expiration == v.expiration);
    /* Missing expiration (a required field): invalid. */
    ck_assert_int_eq(relay_voucher_decode(&w, buf, (size_t)n - 6), P2P_EINVAL);

    /* Sealed as go-libp2p and js-libp2p do, and opened again. */
    p2p_keypair kp;
    p2p_keypair_from_seed_byte(&kp, 1);
    uint8_t *env;
    size_t elen;
    ck_assert_int_eq(p2p_envelope_seal(&kp, RELAY_VOUCHER_DOMAIN, (const uint8_t *)RELAY_VOUCHER_PAYLOAD_TYPE,
                                       RELAY_VOUCHER_PAYLOAD_TYPE_LEN, buf, (size_t)n, &env, &elen), 0);
    p2p_pubkey signer;
    const uint8_t *pt, *pl;
    size_t ptlen, plen;
    ck_assert_int_eq(p2p_envelope_open(env, elen, RELAY_VOUCHER_DOMAIN, &signer, &pt, &ptlen, &pl, &plen), 0);
    ck_assert_uint_eq(ptlen, 2);
    ck_assert_mem_eq(pt, "\x03\x02", 2);
    ck_assert(p2p_peerid_matches(&v.relay, &signer));
    ck_assert_int_eq(p2p_envelope_open(env, elen, P2P_PEER_RECORD_DOMAIN, NULL, NULL, NULL, NULL, NULL), P2P_ECRYPTO);
    ck_assert_uint_le(elen, RELAY_VOUCHER_MAX);
    free(env);
}
END_TEST

START_TEST(limits_and_status)
{
    struct relay_limit l = { 0 };
    ck_assert_uint_eq(relay_limit_duration_ms(&l), 0);
    l.has_duration = true;
    l.duration = 120;
    ck_assert_uint_eq(relay_limit_duration_ms(&l), 120000);
    l.duration = RELAY_DURATION_MS_ABOVE;
    ck_assert_uint_eq(relay_limit_duration_ms(&l), (uint64_t)RELAY_DURATION_MS_ABOVE * 1000);
    l.duration = RELAY_DURATION_MS_ABOVE + 1;
    ck_assert_uint_eq(relay_limit_duration_ms(&l), RELAY_DURATION_MS_ABOVE + 1);
    /* The log form: seconds (a js value in ms read as such), "none" for a
     * field that is missing or zero, never more than the buffer. */
    char t[RELAY_LIMIT_STRMAX];
    ck_assert_str_eq(relay_limit_str(NULL, t, sizeof t), "duration=none data=none");
    l.duration = 120;
    l.has_data = true;
    l.data = 131072;
    ck_assert_str_eq(relay_limit_str(&l, t, sizeof t), "duration=120s data=131072");
    l.duration = 120000;
    ck_assert_str_eq(relay_limit_str(&l, t, sizeof t), "duration=120s data=131072");
    l.duration = 90500;
    l.data = 0;
    ck_assert_str_eq(relay_limit_str(&l, t, sizeof t), "duration=90.500s data=none");
    l.has_duration = false;
    l.data = UINT64_MAX;
    ck_assert_str_eq(relay_limit_str(&l, t, sizeof t), "duration=none data=18446744073709551615");
    l.has_duration = true;
    l.duration = UINT32_MAX;
    ck_assert_str_eq(relay_limit_str(&l, t, 12), "duration=42");
    ck_assert_str_eq(relay_status_name(RELAY_STATUS_NO_RESERVATION), "NO_RESERVATION");
    ck_assert_int_eq(relay_status_error(RELAY_STATUS_OK), 0);
    ck_assert_int_eq(relay_status_error(RELAY_STATUS_NO_RESERVATION), P2P_EUNREACH);
    ck_assert_int_eq(relay_status_error(RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED), P2P_ELIMIT);
    ck_assert_int_eq(relay_status_error(RELAY_STATUS_PERMISSION_DENIED), P2P_EREFUSED);
    ck_assert_str_eq(relay_type_name(RELAY_HOP, RELAY_HOP_RESERVE), "RESERVE");
    ck_assert_str_eq(relay_type_name(RELAY_STOP, 7), "unknown");
}
END_TEST

START_TEST(circuit_addresses)
{
    char t[512];
    struct relay_caddr ca;
    snprintf(t, sizeof t, "/ip4/127.0.0.1/tcp/4001/p2p/%s/p2p-circuit/p2p/%s", pidstr(1), pidstr(2));
    p2p_multiaddr a = ma(t);
    ck_assert_int_eq(relay_caddr_parse(&a, &ca), 0);
    ck_assert(ca.has_transport && p2p_maddr_equal(&ca.transport, &(p2p_multiaddr){ 0 }) == false);
    p2p_multiaddr tr = ma("/ip4/127.0.0.1/tcp/4001");
    ck_assert(p2p_maddr_equal(&ca.transport, &tr));
    p2p_peerid r = pid(1), b = pid(2);
    ck_assert(p2p_peerid_equal(&ca.relay, &r) && ca.has_target && p2p_peerid_equal(&ca.target, &b));

    snprintf(t, sizeof t, "/p2p/%s/p2p-circuit", pidstr(1));
    a = ma(t);
    ck_assert_int_eq(relay_caddr_parse(&a, &ca), 0);
    ck_assert(!ca.has_transport && !ca.has_target);

    a = ma("/p2p-circuit");
    ck_assert_int_eq(relay_caddr_parse(&a, &ca), P2P_EINVAL);
    ck_assert(relay_caddr_is_bare(&a));
    ck_assert(!relay_caddr_is_bare(&tr));

    static const char *const bad[] = {
        "/ip4/1.2.3.4/tcp/1/p2p-circuit",
        "/ip4/1.2.3.4/tcp/1/p2p/%1$s/p2p-circuit/p2p/%2$s/p2p-circuit",
        "/p2p/%1$s/p2p-circuit/p2p/%1$s",
        "/p2p/%1$s/p2p-circuit/ip4/1.2.3.4",
        "/p2p/%1$s/p2p-circuit/p2p/%2$s/tcp/1",
        "/ip4/1.2.3.4/tcp/1/p2p/%1$s",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(t, sizeof t, bad[i], pidstr(1), pidstr(2));
        a = ma(t);
        ck_assert_msg(relay_caddr_parse(&a, &ca) == P2P_EINVAL, "%s", t);
    }

    /* Making: from a transport address, from one ending in the relay's id,
     * from nothing; not from one ending in another id. */
    p2p_multiaddr out;
    ck_assert_int_eq(relay_caddr_make(&tr, &r, &out), 0);
    snprintf(t, sizeof t, "/ip4/127.0.0.1/tcp/4001/p2p/%s/p2p-circuit", pidstr(1));
    p2p_multiaddr want = ma(t);
    ck_assert(p2p_maddr_equal(&out, &want));
    snprintf(t, sizeof t, "/ip4/127.0.0.1/tcp/4001/p2p/%s", pidstr(1));
    a = ma(t);
    ck_assert_int_eq(relay_caddr_make(&a, &r, &out), 0);
    ck_assert(p2p_maddr_equal(&out, &want));
    ck_assert_int_eq(relay_caddr_make(&a, &b, &out), P2P_EINVAL);
    ck_assert_int_eq(relay_caddr_make(NULL, &r, &out), 0);
    snprintf(t, sizeof t, "/p2p/%s/p2p-circuit", pidstr(1));
    want = ma(t);
    ck_assert(p2p_maddr_equal(&out, &want));

    /* relays = entries. */
    p2p_peerid id;
    snprintf(t, sizeof t, "/ip4/127.0.0.1/tcp/4001/p2p/%s", pidstr(1));
    a = ma(t);
    ck_assert_int_eq(relay_split_peer_addr(&a, &out, &id), 0);
    ck_assert(p2p_maddr_equal(&out, &tr) && p2p_peerid_equal(&id, &r));
    snprintf(t, sizeof t, "/p2p/%s", pidstr(1));
    a = ma(t);
    ck_assert_int_eq(relay_split_peer_addr(&a, &out, &id), 0);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_int_eq(relay_split_peer_addr(&tr, &out, &id), P2P_EINVAL);
    snprintf(t, sizeof t, "/p2p/%s/p2p-circuit", pidstr(1));
    a = ma(t);
    ck_assert_int_eq(relay_split_peer_addr(&a, &out, &id), P2P_EINVAL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("relay_msg");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, hop_roundtrip);
    tcase_add_test(tc, stop_roundtrip);
    tcase_add_test(tc, wire_vectors);
    tcase_add_test(tc, leniency_and_errors);
    tcase_add_test(tc, addresses_bounded);
    tcase_add_test(tc, framing);
    suite_add_tcase(s, tc);
    tc = tcase_create("misc");
    tcase_add_test(tc, vouchers);
    tcase_add_test(tc, limits_and_status);
    tcase_add_test(tc, circuit_addresses);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
