/* test_identify.c - unit.identify: the Identify message codec, validation,
 * signed peer records, stream framing, address scopes and the
 * observed-address table (identify_msg.c), without I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identify.pb-c.h"
#include "identify_msg.h"
#include "p2p/p2p.h"
#include "testutil.h"

static const struct id_limits LIM = { 8192, 10, 64, 128 };

static p2p_multiaddr ma(const char *text)
{
    p2p_multiaddr m;
    char err[256];
    int rc = p2p_maddr_parse(&m, text, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", text, err);
    return m;
}

static void keypair(uint8_t seed, p2p_keypair *kp, p2p_pubkey *pub, p2p_peerid *id)
{
    p2p_keypair_from_seed_byte(kp, seed);
    p2p_keypair_public(kp, pub);
    ck_assert_int_eq(p2p_peerid_from_pubkey(id, pub), 0);
}

/* Encode m (one part) into b; returns the body length. */
static int encode(const struct id_out *m, p2p_buf *b)
{
    p2p_buf_init(b, 0);
    return id_msg_encode(m, ID_OWN_MAX, b, NULL);
}

/* Feed a whole stream, optionally one byte at a time, then EOF. */
static int read_all(const uint8_t *data, size_t len, bool bytewise, struct id_info *info,
                    const struct id_limits *lim)
{
    struct id_reader r;
    id_reader_init(&r, info, lim);
    int rc = 0;
    if (bytewise) {
        for (size_t i = 0; i < len && rc == 0; i++) rc = id_reader_feed(&r, data + i, 1);
    } else {
        rc = id_reader_feed(&r, data, len);
    }
    if (rc == 0) rc = id_reader_finish(&r);
    id_reader_free(&r);
    return rc;
}

/* Pack a protobuf Identify built by the caller as one length-prefixed part. */
static void pack_part(const Identify *m, p2p_buf *b)
{
    size_t n = identify__get_packed_size(m);
    ck_assert_int_eq(p2p_buf_append_varint(b, n), 0);
    ck_assert_int_eq(p2p_buf_reserve(b, n), 0);
    identify__pack(m, p2p_buf_tail(b));
    p2p_buf_commit(b, n);
}

/* ---- codec ------------------------------------------------------------ */

START_TEST(roundtrip)
{
    p2p_keypair kp;
    p2p_pubkey pub;
    p2p_peerid id;
    keypair(7, &kp, &pub, &id);
    p2p_multiaddr addrs[2] = { ma("/ip4/127.0.0.1/tcp/4001"), ma("/ip6/::1/tcp/4001") };
    p2p_multiaddr obs = ma("/ip4/1.2.3.4/tcp/5555");
    const char *protos[] = { "/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/meshsub/1.1.0" };
    struct id_out m = { "ipfs/0.1.0", "p2pchat/0.1.0", &pub, addrs, 2, &obs, protos, 3, NULL, 0 };
    p2p_buf b;
    int body = encode(&m, &b);
    ck_assert_int_gt(body, 0);
    ck_assert_uint_eq(b.len, (size_t)body + p2p_varint_size((uint64_t)body));
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        struct id_info in;
        id_info_init(&in);
        ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len, bytewise, &in, &LIM), 0);
        ck_assert(in.has_public_key);
        ck_assert(p2p_pubkey_equal(&in.public_key, &pub));
        ck_assert_int_eq(id_info_check_peer(&in, &id), 0);
        ck_assert(in.has_protocol_version);
        ck_assert_str_eq(in.protocol_version, "ipfs/0.1.0");
        ck_assert_str_eq(in.agent_version, "p2pchat/0.1.0");
        ck_assert_uint_eq(in.n_listen_addrs, 2);
        ck_assert(p2p_maddr_equal(&in.listen_addrs[0], &addrs[0]));
        ck_assert(p2p_maddr_equal(&in.listen_addrs[1], &addrs[1]));
        ck_assert(in.has_observed_addr);
        ck_assert(p2p_maddr_equal(&in.observed_addr, &obs));
        ck_assert_uint_eq(in.n_protocols, 3);
        ck_assert_str_eq(in.protocols[2], "/meshsub/1.1.0");
        ck_assert(!in.has_signed_peer_record);
        ck_assert_uint_eq(in.bad_addrs + in.extra_addrs + in.bad_protocols + in.extra_protocols, 0);
        id_info_clear(&in);
        ck_assert_uint_eq(in.n_protocols, 0);
    }
    p2p_buf_free(&b);
}
END_TEST

/* Bytes written by hand as go-libp2p and rust-libp2p put them on the wire,
 * with an unknown field (7) that must be skipped. */
START_TEST(wire_vector)
{
    uint8_t pk[36] = { 0x08, 0x01, 0x12, 0x20 };
    for (int i = 0; i < 32; i++) pk[4 + i] = (uint8_t)(0xa0 + i);
    p2p_buf body;
    p2p_buf_init(&body, 0);
    const uint8_t pv[] = { 0x2a, 10, 'i', 'p', 'f', 's', '/', '0', '.', '1', '.', '0' };
    const uint8_t av[] = { 0x32, 4, 'g', 'o', '/', '1' };
    const uint8_t la[] = { 0x12, 8, 0x04, 127, 0, 0, 1, 0x06, 0x0f, 0xa1 };          /* /ip4/127.0.0.1/tcp/4001 */
    const uint8_t oa[] = { 0x22, 8, 0x04, 10, 0, 0, 7, 0x06, 0x04, 0xd2 };           /* /ip4/10.0.0.7/tcp/1234 */
    const uint8_t pr[] = { 0x1a, 16, '/', 'i', 'p', 'f', 's', '/', 'p', 'i', 'n', 'g', '/', '1', '.', '0', '.', '0' };
    const uint8_t unknown[] = { 0x38, 0x2a };                                          /* field 7, varint 42 */
    ck_assert_int_eq(p2p_buf_append_byte(&body, 0x0a), 0);
    ck_assert_int_eq(p2p_buf_append_byte(&body, sizeof pk), 0);
    ck_assert_int_eq(p2p_buf_append(&body, pk, sizeof pk), 0);
    ck_assert_int_eq(p2p_buf_append(&body, pv, sizeof pv), 0);
    ck_assert_int_eq(p2p_buf_append(&body, unknown, sizeof unknown), 0);
    ck_assert_int_eq(p2p_buf_append(&body, av, sizeof av), 0);
    ck_assert_int_eq(p2p_buf_append(&body, la, sizeof la), 0);
    ck_assert_int_eq(p2p_buf_append(&body, oa, sizeof oa), 0);
    ck_assert_int_eq(p2p_buf_append(&body, pr, sizeof pr), 0);
    struct id_info in;
    id_info_init(&in);
    ck_assert_int_eq(id_msg_decode(&in, p2p_buf_head(&body), body.len, &LIM), 0);
    ck_assert(in.has_public_key);
    ck_assert_int_eq(in.public_key.type, P2P_KEY_ED25519);
    ck_assert_uint_eq(in.public_key.data[0], 0xa0);
    ck_assert_str_eq(in.protocol_version, "ipfs/0.1.0");
    ck_assert_str_eq(in.agent_version, "go/1");
    ck_assert_uint_eq(in.n_listen_addrs, 1);
    p2p_multiaddr want = ma("/ip4/127.0.0.1/tcp/4001");
    ck_assert(p2p_maddr_equal(&in.listen_addrs[0], &want));
    want = ma("/ip4/10.0.0.7/tcp/1234");
    ck_assert(p2p_maddr_equal(&in.observed_addr, &want));
    ck_assert_uint_eq(in.n_protocols, 1);
    ck_assert_str_eq(in.protocols[0], "/ipfs/ping/1.0.0");
    id_info_clear(&in);
    p2p_buf_free(&body);
}
END_TEST

START_TEST(empty_message)
{
    const uint8_t zero = 0;   /* one part of length 0: an empty Identify */
    struct id_info in;
    id_info_init(&in);
    ck_assert_int_eq(read_all(&zero, 1, false, &in, &LIM), 0);
    ck_assert(!in.has_public_key && !in.has_agent_version && !in.has_observed_addr);
    ck_assert_uint_eq(in.n_listen_addrs + in.n_protocols, 0);
    id_info_clear(&in);
}
END_TEST

/* go-libp2p sends a large signedPeerRecord as a second part: parts merge. */
START_TEST(parts_merge)
{
    p2p_buf b;
    p2p_buf_init(&b, 0);
    Identify m1 = IDENTIFY__INIT;
    char *p1[] = { "/a/1", "/b/1" };
    m1.protocols = p1;
    m1.n_protocols = 2;
    m1.agentversion = "first";
    pack_part(&m1, &b);
    Identify m2 = IDENTIFY__INIT;
    char *p2[] = { "/b/1", "/c/1" };
    uint8_t rec[600];
    memset(rec, 0x55, sizeof rec);
    m2.protocols = p2;
    m2.n_protocols = 2;
    m2.agentversion = "second";
    m2.has_signedpeerrecord = 1;
    m2.signedpeerrecord.data = rec;
    m2.signedpeerrecord.len = sizeof rec;
    pack_part(&m2, &b);
    struct id_info in;
    id_info_init(&in);
    ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len, true, &in, &LIM), 0);
    ck_assert_uint_eq(in.n_protocols, 3);   /* appended, deduplicated */
    ck_assert_str_eq(in.protocols[0], "/a/1");
    ck_assert_str_eq(in.protocols[2], "/c/1");
    ck_assert_str_eq(in.agent_version, "second");   /* overwritten */
    ck_assert(in.has_signed_peer_record);
    id_info_clear(&in);
    p2p_buf_free(&b);
}
END_TEST

START_TEST(framing_errors)
{
    struct id_info in;
    struct id_limits lim = LIM;
    lim.max_message_size = 1024;
    lim.max_messages = 3;
    /* A part announced over the limit fails at once, before its body. */
    uint8_t big[P2P_VARINT_MAX_BYTES];
    int n = p2p_varint_encode(1025, big);
    struct id_reader r;
    id_info_init(&in);
    id_reader_init(&r, &in, &lim);
    ck_assert_int_eq(id_reader_feed(&r, big, (size_t)n), P2P_ELIMIT);
    ck_assert_int_eq(id_reader_feed(&r, big, 1), P2P_ELIMIT);   /* sticky */
    ck_assert_int_eq(id_reader_finish(&r), P2P_ELIMIT);
    id_reader_free(&r);
    id_info_clear(&in);
    /* Exactly at the limit is fine. */
    p2p_buf b;
    p2p_buf_init(&b, 0);
    Identify m = IDENTIFY__INIT;
    uint8_t rec[1020];
    memset(rec, 1, sizeof rec);
    m.has_signedpeerrecord = 1;
    m.signedpeerrecord.data = rec;
    m.signedpeerrecord.len = sizeof rec - 3;   /* 1 tag + 2 length bytes + 1017 = 1020 */
    ck_assert_uint_le(identify__get_packed_size(&m), 1024);
    pack_part(&m, &b);
    id_info_init(&in);
    ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len, false, &in, &lim), 0);
    id_info_clear(&in);
    /* Too many parts. */
    p2p_buf_reset(&b);
    const uint8_t four[] = { 0, 0, 0, 0 };
    id_info_init(&in);
    ck_assert_int_eq(read_all(four, 3, false, &in, &lim), 0);
    ck_assert_int_eq(read_all(four, 4, true, &in, &lim), P2P_ELIMIT);
    id_info_clear(&in);
    /* End of stream inside a part, or before any part. */
    Identify m2 = IDENTIFY__INIT;
    m2.agentversion = "x";
    pack_part(&m2, &b);
    id_info_init(&in);
    ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len - 1, false, &in, &lim), P2P_ETRUNC);
    ck_assert_int_eq(read_all(p2p_buf_head(&b), 0, false, &in, &lim), P2P_ETRUNC);
    const uint8_t half_varint[] = { 0x80 };
    ck_assert_int_eq(read_all(half_varint, 1, false, &in, &lim), P2P_ETRUNC);
    id_info_clear(&in);
    /* Non-minimal varint, bad protobuf. */
    const uint8_t nonmin[] = { 0x80, 0x00 };
    id_info_init(&in);
    ck_assert_int_eq(read_all(nonmin, 2, false, &in, &lim), P2P_EPROTO);
    const uint8_t badpb[] = { 3, 0x12, 0x05, 0x01 };   /* bytes field longer than the message */
    ck_assert_int_eq(read_all(badpb, 4, false, &in, &lim), P2P_EPROTO);
    const uint8_t wrongtype[] = { 2, 0x2d, 0x00 };      /* field 5 with wire type 5 */
    ck_assert_int_eq(read_all(wrongtype, 3, false, &in, &lim), P2P_EPROTO);
    id_info_clear(&in);
    p2p_buf_free(&b);
}
END_TEST

/* ---- validation ------------------------------------------------------------- */

START_TEST(validation)
{
    Identify m = IDENTIFY__INIT;
    p2p_multiaddr good = ma("/ip4/1.2.3.4/tcp/1"), good2 = ma("/dns4/example.com/tcp/443/wss");
    uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    ProtobufCBinaryData addrs[5] = {
        { good.len, good.bytes }, { sizeof garbage, garbage }, { good.len, good.bytes },
        { 0, NULL }, { good2.len, good2.bytes },
    };
    m.listenaddrs = addrs;
    m.n_listenaddrs = 5;
    char longp[ID_PROTOCOL_MAX + 2];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = 0;
    char *protos[] = { "/ok/1", "", "/bad\nline", "/sp ace", longp, "/ok/1", "/ok/2" };
    m.protocols = protos;
    m.n_protocols = 7;
    char agent[400];
    memset(agent, 'x', sizeof agent - 1);
    agent[sizeof agent - 1] = 0;
    agent[2] = '\t';
    m.agentversion = agent;
    m.has_observedaddr = 1;
    m.observedaddr.data = garbage;
    m.observedaddr.len = 3;
    p2p_buf b;
    p2p_buf_init(&b, 0);
    pack_part(&m, &b);
    struct id_info in;
    id_info_init(&in);
    ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len, false, &in, &LIM), 0);
    ck_assert_uint_eq(in.n_listen_addrs, 2);
    ck_assert(p2p_maddr_equal(&in.listen_addrs[1], &good2));
    ck_assert_uint_eq(in.bad_addrs, 2);
    ck_assert_uint_eq(in.n_protocols, 2);
    ck_assert_str_eq(in.protocols[1], "/ok/2");
    ck_assert_uint_eq(in.bad_protocols, 4);
    ck_assert_uint_eq(strlen(in.agent_version), ID_STR_MAX);
    ck_assert_int_eq(in.agent_version[2], '?');
    ck_assert(!in.has_observed_addr);
    ck_assert(in.bad_observed_addr);
    id_info_clear(&in);
    /* Limits on counts. */
    struct id_limits lim = LIM;
    lim.max_addrs = 1;
    lim.max_protocols = 1;
    id_info_init(&in);
    ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len, false, &in, &lim), 0);
    ck_assert_uint_eq(in.n_listen_addrs, 1);
    ck_assert_uint_eq(in.extra_addrs, 1);
    ck_assert_uint_eq(in.n_protocols, 1);
    ck_assert_uint_eq(in.extra_protocols, 1);
    id_info_clear(&in);
    p2p_buf_free(&b);
}
END_TEST

START_TEST(public_key_checks)
{
    p2p_keypair kp;
    p2p_pubkey pub, other;
    p2p_peerid id, other_id;
    keypair(1, &kp, &pub, &id);
    keypair(2, &kp, &other, &other_id);
    struct id_out m = { .public_key = &pub };
    p2p_buf b;
    encode(&m, &b);
    struct id_info in;
    id_info_init(&in);
    ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len, false, &in, &LIM), 0);
    ck_assert_int_eq(id_info_check_peer(&in, &id), 0);
    ck_assert_int_eq(id_info_check_peer(&in, &other_id), P2P_EPEERID);
    id_info_clear(&in);
    /* No key: nothing to contradict the connection's peer. */
    ck_assert_int_eq(id_info_check_peer(&in, &id), 0);
    /* A key that does not decode rejects the message. */
    Identify bad = IDENTIFY__INIT;
    uint8_t junk[] = { 0x08, 0x01, 0x12, 0x03, 1, 2, 3 };   /* Ed25519 of 3 bytes */
    bad.has_publickey = 1;
    bad.publickey.data = junk;
    bad.publickey.len = sizeof junk;
    p2p_buf_reset(&b);
    pack_part(&bad, &b);
    ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len, false, &in, &LIM), P2P_EINVAL);
    id_info_clear(&in);
    p2p_buf_free(&b);
}
END_TEST

START_TEST(encode_trims_to_limit)
{
    p2p_keypair kp;
    p2p_pubkey pub;
    p2p_peerid id;
    keypair(3, &kp, &pub, &id);
    enum { N = 500 };
    p2p_multiaddr *addrs = calloc(N, sizeof *addrs);
    ck_assert_ptr_nonnull(addrs);
    for (int i = 0; i < N; i++) {
        char t[64];
        snprintf(t, sizeof t, "/ip4/10.0.%d.%d/tcp/4001", i / 250, i % 250);
        addrs[i] = ma(t);
    }
    const char *protos[] = { "/ipfs/id/1.0.0" };
    struct id_out m = { "ipfs/0.1.0", "agent", &pub, addrs, N, NULL, protos, 1, NULL, 0 };
    p2p_buf b;
    p2p_buf_init(&b, 0);
    struct id_encoded enc;
    int body = id_msg_encode(&m, ID_OWN_MAX, &b, &enc);
    size_t dropped = enc.dropped;
    ck_assert_int_eq(enc.record, ID_RECORD_NONE);
    ck_assert_int_gt(body, 3000);
    ck_assert_int_le(body, ID_OWN_MAX);
    ck_assert_uint_gt(dropped, 0);
    struct id_info in;
    id_info_init(&in);
    struct id_limits lim = LIM;
    lim.max_addrs = N;
    ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len, false, &in, &lim), 0);
    ck_assert_uint_eq(in.n_listen_addrs, N - dropped);
    ck_assert_uint_eq(in.n_protocols, 1);   /* addresses go first */
    id_info_clear(&in);
    /* A limit even the bare message exceeds. */
    p2p_buf_reset(&b);
    ck_assert_int_eq(id_msg_encode(&m, 10, &b, NULL), P2P_ERANGE);
    ck_assert_uint_eq(b.len, 0);
    p2p_buf_free(&b);
    free(addrs);
}
END_TEST

/* ---- signed peer records ------------------------------------------------------ */

/* A heap record of kp's peer with the given addresses, sealed into *env. */
static p2p_peer_record *make_record(const p2p_keypair *kp, uint64_t seq, const char *const *addrs, size_t n,
                                    uint8_t **env, size_t *envlen)
{
    p2p_peer_record *rec = calloc(1, sizeof *rec);
    ck_assert_ptr_nonnull(rec);
    p2p_pubkey pub;
    p2p_keypair_public(kp, &pub);
    ck_assert_int_eq(p2p_peerid_from_pubkey(&rec->id, &pub), 0);
    rec->seq = seq;
    for (size_t i = 0; i < n; i++) rec->addrs[rec->naddrs++] = ma(addrs[i]);
    ck_assert_int_eq(p2p_peer_record_seal(kp, rec, env, envlen), 0);
    return rec;
}

/* A message carrying only env as signedPeerRecord, decoded. */
static void decode_with_record(const uint8_t *env, size_t len, struct id_info *in)
{
    p2p_buf b;
    p2p_buf_init(&b, 0);
    Identify m = IDENTIFY__INIT;
    m.has_signedpeerrecord = 1;
    m.signedpeerrecord.data = (uint8_t *)env;
    m.signedpeerrecord.len = len;
    pack_part(&m, &b);
    id_info_init(in);
    ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len, false, in, &LIM), 0);
    ck_assert(in->has_signed_peer_record);
    p2p_buf_free(&b);
}

START_TEST(record_roundtrip)
{
    p2p_keypair kp;
    p2p_pubkey pub;
    p2p_peerid id, other_id;
    keypair(7, &kp, &pub, &id);
    {
        p2p_keypair k2;
        p2p_pubkey p2;
        keypair(8, &k2, &p2, &other_id);
    }
    const char *raddrs[] = { "/ip4/192.0.2.1/tcp/4001", "/ip6/2001:db8::1/tcp/4001" };
    uint8_t *env;
    size_t envlen;
    p2p_peer_record *sent = make_record(&kp, 42, raddrs, 2, &env, &envlen);
    p2p_multiaddr la = ma("/ip4/127.0.0.1/tcp/4001");
    const char *protos[] = { "/ipfs/id/1.0.0" };
    struct id_out m = { "ipfs/0.1.0", "a", &pub, &la, 1, NULL, protos, 1, env, envlen };
    p2p_buf b;
    p2p_buf_init(&b, 0);
    struct id_encoded enc;
    int body = id_msg_encode(&m, ID_OWN_MAX, &b, &enc);
    ck_assert_int_gt(body, (int)envlen);
    ck_assert_int_eq(enc.record, ID_RECORD_INLINE);
    ck_assert_uint_eq(enc.dropped, 0);
    ck_assert_uint_eq(b.len, (size_t)body + p2p_varint_size((uint64_t)body));   /* one part */
    struct id_info in;
    id_info_init(&in);
    ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len, true, &in, &LIM), 0);
    ck_assert(in.has_signed_peer_record);
    ck_assert_uint_eq(in.signed_peer_record_len, envlen);
    ck_assert_mem_eq(in.signed_peer_record, env, envlen);
    ck_assert_uint_eq(in.n_listen_addrs, 1);   /* listenAddrs are still decoded */
    p2p_peer_record *rec = malloc(sizeof *rec);
    ck_assert_ptr_nonnull(rec);
    ck_assert_int_eq(id_info_open_record(&in, &id, NULL, rec), 0);
    ck_assert(p2p_peerid_equal(&rec->id, &id));
    ck_assert_uint_eq(rec->seq, 42);
    ck_assert_uint_eq(rec->naddrs, 2);
    ck_assert(p2p_maddr_equal(&rec->addrs[0], &sent->addrs[0]));
    ck_assert(p2p_maddr_equal(&rec->addrs[1], &sent->addrs[1]));
    /* Valid, but not the record of the peer on the connection. */
    ck_assert_int_eq(id_info_open_record(&in, &other_id, NULL, rec), P2P_EPEERID);
    ck_assert_uint_eq(rec->naddrs, 0);
    id_info_clear(&in);
    ck_assert_ptr_null(in.signed_peer_record);
    /* No record at all. */
    ck_assert_int_eq(id_info_open_record(&in, &id, NULL, rec), P2P_ENOTFOUND);
    /* Parts merge: the last record wins. */
    p2p_buf_reset(&b);
    Identify m1 = IDENTIFY__INIT, m2 = IDENTIFY__INIT;
    uint8_t junk[3] = { 1, 2, 3 };
    m1.has_signedpeerrecord = 1;
    m1.signedpeerrecord.data = junk;
    m1.signedpeerrecord.len = sizeof junk;
    m2.has_signedpeerrecord = 1;
    m2.signedpeerrecord.data = env;
    m2.signedpeerrecord.len = envlen;
    pack_part(&m1, &b);
    pack_part(&m2, &b);
    ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len, false, &in, &LIM), 0);
    ck_assert_int_eq(id_info_open_record(&in, &id, NULL, rec), 0);
    id_info_clear(&in);
    p2p_buf_free(&b);
    free(rec);
    free(sent);
    free(env);
}
END_TEST

/* Records that must be ignored; the message itself still decodes. */
START_TEST(record_invalid)
{
    p2p_keypair kp, other;
    p2p_pubkey pub, opub;
    p2p_peerid id, oid;
    keypair(20, &kp, &pub, &id);
    keypair(21, &other, &opub, &oid);
    const char *raddrs[] = { "/ip4/192.0.2.7/tcp/1" };
    p2p_peer_record *rec = malloc(sizeof *rec);
    ck_assert_ptr_nonnull(rec);
    struct id_info in;

    /* Not an envelope. */
    const uint8_t garbage[] = { 0xff, 0x01, 0x02, 0x03 };
    decode_with_record(garbage, sizeof garbage, &in);
    int rc = id_info_open_record(&in, &id, NULL, rec);
    ck_assert_int_lt(rc, 0);
    ck_assert_int_ne(rc, P2P_ENOTFOUND);
    id_info_clear(&in);
    /* Empty. */
    decode_with_record(NULL, 0, &in);
    ck_assert_int_lt(id_info_open_record(&in, &id, NULL, rec), 0);
    id_info_clear(&in);

    /* A bad signature. */
    uint8_t *env;
    size_t envlen;
    free(make_record(&kp, 1, raddrs, 1, &env, &envlen));
    env[envlen - 1] ^= 0x01;   /* the signature is the last field */
    decode_with_record(env, envlen, &in);
    ck_assert_int_eq(id_info_open_record(&in, &id, NULL, rec), P2P_ECRYPTO);
    id_info_clear(&in);
    free(env);

    /* A valid record signed by another key, for the other peer. */
    free(make_record(&other, 1, raddrs, 1, &env, &envlen));
    decode_with_record(env, envlen, &in);
    ck_assert_int_eq(id_info_open_record(&in, &id, NULL, rec), P2P_EPEERID);
    ck_assert_int_eq(id_info_open_record(&in, &oid, NULL, rec), 0);
    id_info_clear(&in);
    free(env);

    /* Another key signing a record that names our peer. */
    p2p_peer_record *forged = calloc(1, sizeof *forged);
    ck_assert_ptr_nonnull(forged);
    forged->id = id;
    forged->naddrs = 1;
    forged->addrs[0] = ma(raddrs[0]);
    uint8_t *payload;
    size_t plen;
    ck_assert_int_eq(p2p_peer_record_encode(forged, &payload, &plen), 0);
    ck_assert_int_eq(p2p_envelope_seal(&other, P2P_PEER_RECORD_DOMAIN, (const uint8_t *)P2P_PEER_RECORD_PAYLOAD_TYPE,
                                       P2P_PEER_RECORD_PAYLOAD_TYPE_LEN, payload, plen, &env, &envlen), 0);
    decode_with_record(env, envlen, &in);
    ck_assert_int_eq(id_info_open_record(&in, &id, NULL, rec), P2P_EPEERID);
    id_info_clear(&in);
    free(env);
    /* The right key, the wrong domain. */
    ck_assert_int_eq(p2p_envelope_seal(&kp, "libp2p-other", (const uint8_t *)P2P_PEER_RECORD_PAYLOAD_TYPE,
                                       P2P_PEER_RECORD_PAYLOAD_TYPE_LEN, payload, plen, &env, &envlen), 0);
    decode_with_record(env, envlen, &in);
    ck_assert_int_eq(id_info_open_record(&in, &id, NULL, rec), P2P_ECRYPTO);
    id_info_clear(&in);
    free(env);
    /* rust-libp2p's legacy form is accepted. */
    ck_assert_int_eq(p2p_envelope_seal(&kp, P2P_PEER_RECORD_LEGACY_DOMAIN,
                                       (const uint8_t *)P2P_PEER_RECORD_LEGACY_PAYLOAD_TYPE,
                                       strlen(P2P_PEER_RECORD_LEGACY_PAYLOAD_TYPE), payload, plen, &env, &envlen), 0);
    decode_with_record(env, envlen, &in);
    ck_assert_int_eq(id_info_open_record(&in, &id, NULL, rec), 0);
    ck_assert_uint_eq(rec->naddrs, 1);
    id_info_clear(&in);
    free(env);
    free(payload);
    free(forged);
    free(rec);
}
END_TEST

/* The memo: the same envelope again opens without a second signature
 * check; another envelope, another peer's or a bad one is checked (and
 * does not replace the memo). */
START_TEST(record_memo)
{
    p2p_keypair kp, other;
    p2p_pubkey pub, opub;
    p2p_peerid id, oid;
    keypair(30, &kp, &pub, &id);
    keypair(31, &other, &opub, &oid);
    const char *raddrs[] = { "/ip4/192.0.2.9/tcp/9" };
    p2p_peer_record *rec = malloc(sizeof *rec);
    ck_assert_ptr_nonnull(rec);
    uint8_t memo[P2P_RECORD_MEMO_LEN] = { 0 }, zero[P2P_RECORD_MEMO_LEN] = { 0 }, first[P2P_RECORD_MEMO_LEN];
    uint8_t *env;
    size_t envlen;
    free(make_record(&kp, 5, raddrs, 1, &env, &envlen));
    ck_assert_int_eq(p2p_peer_record_open_memo(env, envlen, memo, rec), 0);      /* verified */
    ck_assert_mem_ne(memo, zero, sizeof memo);
    memcpy(first, memo, sizeof memo);
    ck_assert_int_eq(p2p_peer_record_open_memo(env, envlen, memo, rec), 1);      /* known bytes */
    ck_assert_uint_eq(rec->seq, 5);
    ck_assert_uint_eq(rec->naddrs, 1);
    ck_assert(p2p_peerid_equal(&rec->id, &id));
    ck_assert_mem_eq(memo, first, sizeof memo);
    /* One bit of the signature off: other bytes, checked, refused. */
    env[envlen - 1] ^= 0x01;
    ck_assert_int_eq(p2p_peer_record_open_memo(env, envlen, memo, rec), P2P_ECRYPTO);
    ck_assert_mem_eq(memo, first, sizeof memo);
    ck_assert_uint_eq(rec->naddrs, 0);
    env[envlen - 1] ^= 0x01;
    /* Through identify: another peer's valid record is not remembered. */
    struct id_info in;
    uint8_t *oenv;
    size_t oenvlen;
    free(make_record(&other, 1, raddrs, 1, &oenv, &oenvlen));
    decode_with_record(oenv, oenvlen, &in);
    ck_assert_int_eq(id_info_open_record(&in, &id, memo, rec), P2P_EPEERID);
    ck_assert_mem_eq(memo, first, sizeof memo);
    id_info_clear(&in);
    decode_with_record(env, envlen, &in);
    ck_assert_int_eq(id_info_open_record(&in, &id, memo, rec), 0);
    ck_assert_uint_eq(rec->seq, 5);
    id_info_clear(&in);
    /* A newer record of the same peer: verified, then remembered. */
    free(env);
    free(make_record(&kp, 6, raddrs, 1, &env, &envlen));
    decode_with_record(env, envlen, &in);
    ck_assert_int_eq(id_info_open_record(&in, &id, memo, rec), 0);
    ck_assert_uint_eq(rec->seq, 6);
    ck_assert_mem_ne(memo, first, sizeof memo);
    id_info_clear(&in);
    free(oenv);
    free(env);
    free(rec);
}
END_TEST

/* Parse a stream into its parts' bodies (at most 4). */
static size_t split_parts(const p2p_buf *b, const uint8_t *body[4], size_t len[4])
{
    size_t off = 0, n = 0;
    while (off < b->len) {
        uint64_t l;
        size_t used;
        ck_assert_int_eq(p2p_varint_decode(p2p_buf_head(b) + off, b->len - off, &l, &used), 0);
        ck_assert_uint_lt(n, 4);
        ck_assert_uint_le(off + used + l, b->len);
        body[n] = p2p_buf_head(b) + off + used;
        len[n++] = (size_t)l;
        off += used + (size_t)l;
    }
    return n;
}

START_TEST(record_size_cap)
{
    p2p_keypair kp;
    p2p_pubkey pub;
    p2p_peerid id;
    keypair(30, &kp, &pub, &id);
    /* A record of 32 addresses (~600 bytes) and 350 listen addresses
     * (~3.6 KB): each fits alone, not together. */
    char text[P2P_PEER_RECORD_MAX_ADDRS][64];
    const char *raddrs[P2P_PEER_RECORD_MAX_ADDRS];
    for (int i = 0; i < P2P_PEER_RECORD_MAX_ADDRS; i++) {
        snprintf(text[i], sizeof text[i], "/ip4/192.0.2.%d/tcp/%d", i + 1, 4000 + i);
        raddrs[i] = text[i];
    }
    uint8_t *env;
    size_t envlen;
    free(make_record(&kp, 5, raddrs, P2P_PEER_RECORD_MAX_ADDRS, &env, &envlen));
    enum { N = 350 };
    p2p_multiaddr *addrs = calloc(N, sizeof *addrs);
    ck_assert_ptr_nonnull(addrs);
    for (int i = 0; i < N; i++) {
        char t[64];
        snprintf(t, sizeof t, "/ip4/10.0.%d.%d/tcp/4001", i / 250, i % 250);
        addrs[i] = ma(t);
    }
    const char *protos[] = { "/ipfs/id/1.0.0" };
    struct id_out m = { "ipfs/0.1.0", "agent", &pub, addrs, N, NULL, protos, 1, NULL, 0 };
    p2p_buf b;
    p2p_buf_init(&b, 0);
    struct id_encoded enc;
    int rest = id_msg_encode(&m, ID_OWN_MAX, &b, &enc);
    ck_assert_int_gt(rest, 0);
    ck_assert_uint_eq(enc.dropped, 0);
    ck_assert_int_gt(rest + (int)envlen, ID_OWN_MAX);   /* the premise */

    /* Two parts: everything else, then the record alone. */
    p2p_buf_reset(&b);
    m.signed_peer_record = env;
    m.signed_peer_record_len = envlen;
    int body = id_msg_encode(&m, ID_OWN_MAX, &b, &enc);
    ck_assert_int_eq(body, rest);
    ck_assert_int_eq(enc.record, ID_RECORD_SEPARATE);
    ck_assert_uint_eq(enc.dropped, 0);
    const uint8_t *parts[4];
    size_t plen[4];
    ck_assert_uint_eq(split_parts(&b, parts, plen), 2);
    ck_assert_uint_le(plen[0], ID_OWN_MAX);
    ck_assert_uint_le(plen[1], ID_OWN_MAX);
    Identify *p0 = identify__unpack(NULL, plen[0], parts[0]), *p1 = identify__unpack(NULL, plen[1], parts[1]);
    ck_assert_ptr_nonnull(p0);
    ck_assert_ptr_nonnull(p1);
    ck_assert(!p0->has_signedpeerrecord);
    ck_assert_uint_eq(p0->n_listenaddrs, N);
    ck_assert(p1->has_signedpeerrecord);
    ck_assert(!p1->has_publickey && !p1->agentversion && !p1->protocolversion && !p1->has_observedaddr);
    ck_assert_uint_eq(p1->n_listenaddrs + p1->n_protocols, 0);
    identify__free_unpacked(p0, NULL);
    identify__free_unpacked(p1, NULL);
    /* The reader merges them back. */
    struct id_limits lim = LIM;
    lim.max_addrs = N;
    struct id_info in;
    id_info_init(&in);
    ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len, true, &in, &lim), 0);
    ck_assert_uint_eq(in.n_listen_addrs, N);
    p2p_peer_record *rec = malloc(sizeof *rec);
    ck_assert_ptr_nonnull(rec);
    ck_assert_int_eq(id_info_open_record(&in, &id, NULL, rec), 0);
    ck_assert_uint_eq(rec->naddrs, P2P_PEER_RECORD_MAX_ADDRS);
    id_info_clear(&in);

    /* With few listen addresses, one part. */
    p2p_buf_reset(&b);
    m.n_listen_addrs = 10;
    ck_assert_int_gt(id_msg_encode(&m, ID_OWN_MAX, &b, &enc), (int)envlen);
    ck_assert_int_eq(enc.record, ID_RECORD_INLINE);
    ck_assert_uint_eq(split_parts(&b, parts, plen), 1);

    /* Too much even without the record: the record goes apart, and
     * addresses are left out of the first part. */
    enum { BIG = 500 };
    p2p_multiaddr *many = calloc(BIG, sizeof *many);
    ck_assert_ptr_nonnull(many);
    for (int i = 0; i < BIG; i++) {
        char t[64];
        snprintf(t, sizeof t, "/ip4/10.1.%d.%d/tcp/4001", i / 250, i % 250);
        many[i] = ma(t);
    }
    p2p_buf_reset(&b);
    m.listen_addrs = many;
    m.n_listen_addrs = BIG;
    body = id_msg_encode(&m, ID_OWN_MAX, &b, &enc);
    ck_assert_int_le(body, ID_OWN_MAX);
    ck_assert_int_eq(enc.record, ID_RECORD_SEPARATE);
    ck_assert_uint_gt(enc.dropped, 0);
    ck_assert_uint_eq(split_parts(&b, parts, plen), 2);
    lim.max_addrs = BIG;
    id_info_init(&in);
    ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len, false, &in, &lim), 0);
    ck_assert_uint_eq(in.n_listen_addrs, BIG - enc.dropped);
    ck_assert_int_eq(id_info_open_record(&in, &id, NULL, rec), 0);
    id_info_clear(&in);

    /* A record that fits in no part is dropped; the rest is sent. */
    p2p_buf_reset(&b);
    m.n_listen_addrs = 0;
    m.n_protocols = 0;
    body = id_msg_encode(&m, envlen, &b, &enc);   /* the field's tag and length push it over */
    ck_assert_int_gt(body, 0);
    ck_assert_int_eq(enc.record, ID_RECORD_DROPPED);
    ck_assert_uint_eq(split_parts(&b, parts, plen), 1);
    id_info_init(&in);
    ck_assert_int_eq(read_all(p2p_buf_head(&b), b.len, false, &in, &LIM), 0);
    ck_assert(!in.has_signed_peer_record);
    ck_assert(in.has_public_key);
    id_info_clear(&in);
    /* ... also at our real limit: 32 long DNS names make a >4 KiB record. */
    p2p_peer_record *big = calloc(1, sizeof *big);
    ck_assert_ptr_nonnull(big);
    big->id = id;
    for (int i = 0; i < P2P_PEER_RECORD_MAX_ADDRS; i++) {
        char name[130], t[200];
        memset(name, 'a' + i % 26, 125);
        name[125] = 0;
        snprintf(t, sizeof t, "/dns4/%s.example/tcp/%d", name, 1000 + i);
        big->addrs[big->naddrs++] = ma(t);
    }
    uint8_t *bigenv;
    size_t biglen;
    ck_assert_int_eq(p2p_peer_record_seal(&kp, big, &bigenv, &biglen), 0);
    ck_assert_uint_gt(biglen, ID_OWN_MAX);
    m.signed_peer_record = bigenv;
    m.signed_peer_record_len = biglen;
    m.n_protocols = 1;
    p2p_buf_reset(&b);
    ck_assert_int_gt(id_msg_encode(&m, ID_OWN_MAX, &b, &enc), 0);
    ck_assert_int_eq(enc.record, ID_RECORD_DROPPED);
    ck_assert_uint_eq(split_parts(&b, parts, plen), 1);
    /* And a limit nothing fits in leaves out nothing appended. */
    p2p_buf_reset(&b);
    ck_assert_int_eq(id_msg_encode(&m, 10, &b, &enc), P2P_ERANGE);
    ck_assert_uint_eq(b.len, 0);

    free(bigenv);
    free(big);
    free(rec);
    free(many);
    free(addrs);
    free(env);
    p2p_buf_free(&b);
}
END_TEST

/* ---- scopes ------------------------------------------------------------------ */

START_TEST(scopes)
{
    struct {
        const char *a;
        enum id_scope s;
    } cases[] = {
        { "/ip4/0.0.0.0/tcp/1", ID_SCOPE_UNSPECIFIED },
        { "/ip4/127.0.0.1/tcp/1", ID_SCOPE_LOOPBACK },
        { "/ip4/127.9.9.9/udp/1/quic-v1", ID_SCOPE_LOOPBACK },
        { "/ip4/10.1.2.3/tcp/1", ID_SCOPE_PRIVATE },
        { "/ip4/172.16.0.1/tcp/1", ID_SCOPE_PRIVATE },
        { "/ip4/172.31.255.1/tcp/1", ID_SCOPE_PRIVATE },
        { "/ip4/172.32.0.1/tcp/1", ID_SCOPE_PUBLIC },
        { "/ip4/192.168.1.1/tcp/1", ID_SCOPE_PRIVATE },
        { "/ip4/100.64.0.1/tcp/1", ID_SCOPE_PRIVATE },
        { "/ip4/100.128.0.1/tcp/1", ID_SCOPE_PUBLIC },
        { "/ip4/169.254.1.1/tcp/1", ID_SCOPE_PRIVATE },
        { "/ip4/8.8.8.8/tcp/1", ID_SCOPE_PUBLIC },
        { "/ip6/::/tcp/1", ID_SCOPE_UNSPECIFIED },
        { "/ip6/::1/tcp/1", ID_SCOPE_LOOPBACK },
        { "/ip6/fd00::1/tcp/1", ID_SCOPE_PRIVATE },
        { "/ip6/fe80::1/tcp/1", ID_SCOPE_PRIVATE },
        { "/ip6/::ffff:192.168.0.1/tcp/1", ID_SCOPE_PRIVATE },
        { "/ip6/2001:db8::1/tcp/1", ID_SCOPE_PUBLIC },
        { "/ip6/fec0::1/tcp/1", ID_SCOPE_PRIVATE },
        { "/ip6/64:ff9b::10.0.0.1/tcp/1", ID_SCOPE_PRIVATE },
        { "/ip4/198.18.0.1/tcp/1", ID_SCOPE_PUBLIC },
        { "/ip6zone/eth0/ip6/fe80::1/tcp/1", ID_SCOPE_PRIVATE },
        { "/dns4/localhost/tcp/1", ID_SCOPE_LOOPBACK },
        { "/dns/foo.localhost./tcp/1", ID_SCOPE_LOOPBACK },
        { "/dns/notlocalhost/tcp/1", ID_SCOPE_PUBLIC },
        { "/dnsaddr/bootstrap.libp2p.io", ID_SCOPE_PUBLIC },
        { "/p2p-circuit", ID_SCOPE_UNSPECIFIED },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        p2p_multiaddr m = ma(cases[i].a);
        ck_assert_msg(id_addr_scope(&m) == cases[i].s, "%s: scope %d, want %d", cases[i].a,
                      id_addr_scope(&m), cases[i].s);
    }
    /* A relayed address has the scope of the relay's. */
    p2p_keypair kp;
    p2p_pubkey pub;
    p2p_peerid relay;
    keypair(5, &kp, &pub, &relay);
    char ids[P2P_PEERID_STRMAX], text[256];
    ck_assert_int_gt(p2p_peerid_to_string(&relay, ids, sizeof ids), 0);
    snprintf(text, sizeof text, "/ip4/8.8.8.8/tcp/1/p2p/%s/p2p-circuit", ids);
    p2p_multiaddr m = ma(text);
    ck_assert_int_eq(id_addr_scope(&m), ID_SCOPE_PUBLIC);
    snprintf(text, sizeof text, "/p2p/%s/p2p-circuit", ids);
    m = ma(text);
    ck_assert_int_eq(id_addr_scope(&m), ID_SCOPE_UNSPECIFIED);
}
END_TEST

START_TEST(filters)
{
    p2p_multiaddr all[] = {
        ma("/ip4/0.0.0.0/tcp/1"), ma("/ip4/127.0.0.1/tcp/1"), ma("/ip4/192.168.1.2/tcp/1"),
        ma("/ip4/8.8.8.8/tcp/1"), ma("/dns4/example.com/tcp/1"),
    };
    p2p_multiaddr v[5];
    p2p_multiaddr lo = ma("/ip4/127.0.0.1/tcp/9"), priv = ma("/ip4/10.0.0.1/tcp/9"), pub = ma("/ip4/9.9.9.9/tcp/9");
    memcpy(v, all, sizeof v);
    ck_assert_uint_eq(id_filter_received(v, 5, &lo), 4);
    ck_assert(p2p_maddr_equal(&v[0], &all[1]));
    memcpy(v, all, sizeof v);
    ck_assert_uint_eq(id_filter_received(v, 5, &priv), 3);
    ck_assert(p2p_maddr_equal(&v[0], &all[2]));
    memcpy(v, all, sizeof v);
    ck_assert_uint_eq(id_filter_received(v, 5, &pub), 2);
    ck_assert(p2p_maddr_equal(&v[0], &all[3]));
    ck_assert(p2p_maddr_equal(&v[1], &all[4]));
    /* What we tell others. */
    ck_assert(!id_addr_shareable(&all[0], &lo, &lo));
    ck_assert(id_addr_shareable(&all[1], &lo, &lo));
    ck_assert(!id_addr_shareable(&all[1], &priv, &pub));
    ck_assert(id_addr_shareable(&all[2], &priv, &pub));
    ck_assert(id_addr_shareable(&all[3], &priv, &priv));
}
END_TEST

/* ---- observed addresses ---------------------------------------------------------- */

START_TEST(observations)
{
    p2p_keypair kp;
    p2p_pubkey pub;
    p2p_peerid a, b, c;
    keypair(10, &kp, &pub, &a);
    keypair(11, &kp, &pub, &b);
    keypair(12, &kp, &pub, &c);
    p2p_multiaddr x = ma("/ip4/1.1.1.1/tcp/1000"), y = ma("/ip4/1.1.1.1/tcp/2000");
    struct id_obs_table t;
    id_obs_init(&t, 2);
    struct p2p_identify_observed out[4];
    ck_assert_uint_eq(id_obs_list(&t, out, 4), 0);
    ck_assert_int_eq(id_obs_record(&t, &x, &a, 1, true, 100), 0);
    ck_assert_int_eq(id_obs_record(&t, &x, &a, 2, false, 101), 0);   /* same peer, 2nd conn */
    ck_assert_int_eq(id_obs_record(&t, &x, &b, 3, true, 102), 0);
    ck_assert_int_eq(id_obs_record(&t, &y, &c, 4, false, 103), 0);
    ck_assert_uint_eq(id_obs_list(&t, out, 4), 2);
    ck_assert(p2p_maddr_equal(&out[0].addr, &x));
    ck_assert_uint_eq(out[0].observers, 2);
    ck_assert_uint_eq(out[0].outbound_observers, 2);
    ck_assert_uint_eq(out[1].observers, 1);
    ck_assert_uint_eq(out[1].outbound_observers, 0);
    /* max 1: the best one. */
    ck_assert_uint_eq(id_obs_list(&t, out, 1), 2);
    ck_assert(p2p_maddr_equal(&out[0].addr, &x));
    /* A new report on a connection replaces its previous one. */
    ck_assert_int_eq(id_obs_record(&t, &y, &b, 3, true, 104), 0);
    id_obs_list(&t, out, 4);
    ck_assert_uint_eq(out[0].observers, 2);   /* y: b, c */
    ck_assert(p2p_maddr_equal(&out[0].addr, &y));
    ck_assert_uint_eq(out[1].observers, 1);   /* x: a (twice) */
    /* Closed connections are forgotten; empty addresses go. */
    id_obs_forget_conn(&t, 1);
    id_obs_forget_conn(&t, 2);
    ck_assert_uint_eq(id_obs_list(&t, out, 4), 1);
    /* Full table: the least observed address is replaced. */
    ck_assert_int_eq(id_obs_record(&t, &x, &a, 5, true, 105), 0);
    p2p_multiaddr z = ma("/ip4/2.2.2.2/tcp/1");
    ck_assert_int_eq(id_obs_record(&t, &z, &c, 6, true, 106), 0);
    ck_assert_uint_eq(id_obs_list(&t, out, 4), 2);
    ck_assert(p2p_maddr_equal(&out[0].addr, &y));
    ck_assert(p2p_maddr_equal(&out[1].addr, &z));
    /* Observers per address are bounded. */
    for (uint64_t i = 0; i < 2 * ID_OBS_MAX_OBSERVERS; i++) id_obs_record(&t, &z, &a, 100 + i, true, 200);
    ck_assert_uint_le(t.e[0].n, ID_OBS_MAX_OBSERVERS);
    ck_assert_uint_le(t.e[1].n, ID_OBS_MAX_OBSERVERS);
    id_obs_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("identify");
    TCase *tc = tcase_create("msg");
    tcase_add_test(tc, roundtrip);
    tcase_add_test(tc, wire_vector);
    tcase_add_test(tc, empty_message);
    tcase_add_test(tc, parts_merge);
    tcase_add_test(tc, framing_errors);
    tcase_add_test(tc, validation);
    tcase_add_test(tc, public_key_checks);
    tcase_add_test(tc, encode_trims_to_limit);
    suite_add_tcase(s, tc);
    tc = tcase_create("record");
    tcase_add_test(tc, record_roundtrip);
    tcase_add_test(tc, record_invalid);
    tcase_add_test(tc, record_memo);
    tcase_add_test(tc, record_size_cap);
    suite_add_tcase(s, tc);
    tc = tcase_create("addrs");
    tcase_add_test(tc, scopes);
    tcase_add_test(tc, filters);
    tcase_add_test(tc, observations);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
