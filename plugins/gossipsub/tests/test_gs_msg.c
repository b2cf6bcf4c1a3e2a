/* unit.gossipsub_msg: pubsub message signing, verification, policies and ids
 * (gs_msg.c), with a vector computed independently (Python's
 * cryptography Ed25519 over the bytes go-libp2p-pubsub signs). */
#include <stdio.h>
#include <string.h>

#include "gs_msg.h"
#include "gs_rpc.h"
#include "p2p/error.h"
#include "p2p/varint.h"
#include "testutil.h"

/* Secret key [1, 0, ..., 0]; topic "test", data "hello", seqno 1. */
static const char *VEC_PEERID = "002408011220cecc1507dc1ddd7295951c290888f095adb9044d1b73d696e6df065d683bd4fc";
static const char *VEC_FULL =
    "0a26002408011220cecc1507dc1ddd7295951c290888f095adb9044d1b73d696e6df065d683bd4fc120568656c6c6f1a0800000000"
    "000000012204746573742a40ed0376d9345053a90181db113d6f36bc6b37dffda43489fc22c7344f885f2e71e9f927720aed7a3f556e"
    "f26c07194c11da4d9fe054a94ee990ec94d3dae36009";

static void keys(p2p_keypair *kp, p2p_peerid *id, uint8_t n)
{
    p2p_keypair_from_seed_byte(kp, n);
    p2p_pubkey pub;
    p2p_keypair_public(kp, &pub);
    ck_assert_int_eq(p2p_peerid_from_pubkey(id, &pub), 0);
}

/* Decode a Message protobuf with protobuf-c (through an RPC wrapper). */
static Gspb__Message *decode_msg(const uint8_t *enc, size_t len, struct gs_rpc *rpc)
{
    uint8_t buf[4096];
    ck_assert_uint_lt(len + 4, sizeof buf);
    size_t n = 0;
    buf[n++] = 0x12;
    uint8_t v[9];
    int k = p2p_varint_encode(len, v);
    memcpy(buf + n, v, (size_t)k);
    n += (size_t)k;
    memcpy(buf + n, enc, len);
    n += len;
    struct gs_rpc_limits lim = { 1 << 20, 256, 128, 100, 100, 100, 16 };
    ck_assert_int_eq(gs_rpc_decode(rpc, buf, n, &lim), 0);
    ck_assert_uint_eq(rpc->pb->n_publish, 1);
    return rpc->pb->publish[0];
}

START_TEST(vector_matches)
{
    p2p_keypair kp;
    p2p_peerid id;
    keys(&kp, &id, 1);
    uint8_t want_id[64], want[512];
    int idl = p2p_test_unhex(VEC_PEERID, want_id, sizeof want_id);
    ck_assert_int_eq(idl, id.len);
    ck_assert_mem_eq(want_id, id.bytes, id.len);
    struct gs_msg *m;
    ck_assert_int_eq(gs_msg_publish(&m, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, &kp, &id, 1, "test",
                                    (const uint8_t *)"hello", 5), 0);
    int n = p2p_test_unhex(VEC_FULL, want, sizeof want);
    ck_assert_int_eq(n, (int)m->enc_len);
    ck_assert_mem_eq(want, m->enc, m->enc_len);
    ck_assert_ptr_null(m->key);   /* Ed25519: the key is inlined in the PeerId */
    /* id = from || seqno */
    ck_assert_uint_eq(m->id_len, id.len + 8u);
    ck_assert_mem_eq(m->id, id.bytes, id.len);
    ck_assert_int_eq(m->id[m->id_len - 1], 1);
    ck_assert_int_eq(gs_msg_verify(m, GS_SIGN_STRICT), GS_VALID);
    gs_msg_unref(m);
}
END_TEST

START_TEST(round_trip_and_tamper)
{
    p2p_keypair kp;
    p2p_peerid id;
    keys(&kp, &id, 7);
    struct gs_msg *m;
    ck_assert_int_eq(gs_msg_publish(&m, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, &kp, &id, 0x0102030405060708ull, "room",
                                    (const uint8_t *)"payload", 7), 0);
    struct gs_rpc rpc;
    Gspb__Message *pb = decode_msg(m->enc, m->enc_len, &rpc);
    struct gs_msg *r;
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, 65536, 256), GS_VALID);
    ck_assert_int_eq(gs_msg_verify(r, GS_SIGN_STRICT), GS_VALID);
    ck_assert_str_eq(r->topic, "room");
    ck_assert_uint_eq(r->len, 7);
    ck_assert_mem_eq(r->data, "payload", 7);
    ck_assert(p2p_peerid_equal(&r->from, &id));
    ck_assert_uint_eq(r->id_len, m->id_len);
    ck_assert_mem_eq(r->id, m->id, m->id_len);
    ck_assert_uint_eq(r->enc_len, m->enc_len);
    ck_assert_mem_eq(r->enc, m->enc, m->enc_len);
    gs_msg_unref(r);

    /* Tampered data, topic, seqno, signature: invalid. */
    uint8_t save = pb->data.data[0];
    pb->data.data[0] ^= 1;
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, 65536, 256), GS_VALID);
    ck_assert_int_eq(gs_msg_verify(r, GS_SIGN_STRICT), GS_INVALID_SIGNATURE);
    gs_msg_unref(r);
    pb->data.data[0] = save;
    pb->topic.data[0] = 'R';
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, 65536, 256), GS_VALID);
    ck_assert_int_eq(gs_msg_verify(r, GS_SIGN_STRICT), GS_INVALID_SIGNATURE);
    gs_msg_unref(r);
    pb->topic.data[0] = 'r';
    pb->seqno.data[7] ^= 0x80;
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, 65536, 256), GS_VALID);
    ck_assert_int_eq(gs_msg_verify(r, GS_SIGN_STRICT), GS_INVALID_SIGNATURE);
    gs_msg_unref(r);
    pb->seqno.data[7] ^= 0x80;
    pb->signature.data[10] ^= 4;
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, 65536, 256), GS_VALID);
    ck_assert_int_eq(gs_msg_verify(r, GS_SIGN_STRICT), GS_INVALID_SIGNATURE);
    gs_msg_unref(r);
    pb->signature.data[10] ^= 4;

    /* Another author's PeerId: the signature does not match its key. */
    p2p_keypair kp2;
    p2p_peerid id2;
    keys(&kp2, &id2, 8);
    ProtobufCBinaryData from = pb->from;
    pb->from.data = id2.bytes;
    pb->from.len = id2.len;
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, 65536, 256), GS_VALID);
    ck_assert_int_eq(gs_msg_verify(r, GS_SIGN_STRICT), GS_INVALID_SIGNATURE);
    gs_msg_unref(r);
    /* A key field that is not the author's. */
    uint8_t kpb[64];
    p2p_pubkey pub2;
    p2p_keypair_public(&kp2, &pub2);
    int kl = p2p_pubkey_encode(&pub2, kpb, sizeof kpb);
    pb->from = from;
    pb->has_key = true;
    pb->key.data = kpb;
    pb->key.len = (size_t)kl;
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, 65536, 256), GS_VALID);
    ck_assert_int_eq(gs_msg_verify(r, GS_SIGN_STRICT), GS_INVALID_BAD_KEY);
    gs_msg_unref(r);
    /* The right key in the key field (as js sends it): valid. */
    p2p_pubkey pub;
    p2p_keypair_public(&kp, &pub);
    kl = p2p_pubkey_encode(&pub, kpb, sizeof kpb);
    pb->key.len = (size_t)kl;
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, 65536, 256), GS_VALID);
    ck_assert_int_eq(gs_msg_verify(r, GS_SIGN_STRICT), GS_VALID);
    gs_msg_unref(r);
    gs_rpc_clear(&rpc);
    gs_msg_unref(m);
}
END_TEST

START_TEST(policies)
{
    p2p_keypair kp;
    p2p_peerid id;
    keys(&kp, &id, 3);
    struct gs_msg *m, *r;
    struct gs_rpc rpc;
    /* strict-no-sign: from and seqno, no signature; strict rejects it. */
    ck_assert_int_eq(gs_msg_publish(&m, GS_SIGN_NONE, GS_ID_FROM_SEQNO, &kp, &id, 5, "t", (const uint8_t *)"x", 1), 0);
    ck_assert_ptr_null(m->sig);
    Gspb__Message *pb = decode_msg(m->enc, m->enc_len, &rpc);
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, 100, 256), GS_INVALID_MISSING_SIG);
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_NONE, GS_ID_FROM_SEQNO, 100, 256), GS_VALID);
    gs_msg_unref(r);
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_ANONYMOUS, GS_ID_CONTENT, 100, 256), GS_INVALID_UNEXPECTED_AUTH);
    gs_rpc_clear(&rpc);
    gs_msg_unref(m);
    /* A signed message under strict-no-sign: unexpected signature. */
    ck_assert_int_eq(gs_msg_publish(&m, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, &kp, &id, 5, "t", (const uint8_t *)"x", 1), 0);
    pb = decode_msg(m->enc, m->enc_len, &rpc);
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_NONE, GS_ID_FROM_SEQNO, 100, 256), GS_INVALID_UNEXPECTED_SIG);
    /* Size and topic limits. */
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, 0, 256), GS_INVALID_TOO_LARGE);
    pb->has_topic = false;
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, 100, 256), GS_INVALID_TOPIC);
    pb->has_topic = true;
    pb->seqno.len = 7;
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, 100, 256), GS_INVALID_BAD_SEQNO);
    pb->seqno.len = 8;
    pb->from.len = 5;
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, 100, 256), GS_INVALID_BAD_FROM);
    gs_rpc_clear(&rpc);
    gs_msg_unref(m);
    /* anonymous: nothing but topic and data; content ids. */
    ck_assert_int_eq(gs_msg_publish(&m, GS_SIGN_ANONYMOUS, GS_ID_CONTENT, &kp, &id, 5, "t", (const uint8_t *)"abc", 3), 0);
    ck_assert(!m->has_from && !m->has_seqno && !m->sig);
    pb = decode_msg(m->enc, m->enc_len, &rpc);
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_ANONYMOUS, GS_ID_CONTENT, 100, 256), GS_VALID);
    ck_assert_uint_eq(r->id_len, 32);
    /* SHA-256("abc") */
    uint8_t want[32];
    p2p_test_unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
    ck_assert_mem_eq(r->id, want, 32);
    gs_msg_unref(r);
    /* from-seqno ids need from and seqno */
    ck_assert_int_eq(gs_msg_from_pb(&r, pb, GS_SIGN_NONE, GS_ID_FROM_SEQNO, 100, 256), GS_INVALID_MISSING_SIG);
    gs_rpc_clear(&rpc);
    gs_msg_unref(m);
}
END_TEST

START_TEST(id_modes)
{
    p2p_keypair kp;
    p2p_peerid id;
    keys(&kp, &id, 1);
    struct gs_msg *m;
    ck_assert_int_eq(gs_msg_publish(&m, GS_SIGN_STRICT, GS_ID_FROM_SEQNO_TEXT, &kp, &id, 258, "t", NULL, 0), 0);
    char peer[P2P_PEERID_STRMAX], want[200];
    p2p_peerid_to_string(&id, peer, sizeof peer);
    snprintf(want, sizeof want, "%s258", peer);   /* rust: base58(from) + decimal seqno */
    ck_assert_uint_eq(m->id_len, strlen(want));
    ck_assert_mem_eq(m->id, want, m->id_len);
    uint8_t out[GS_MSGID_MAX];
    /* js: protobuf public key + seqno bytes */
    size_t n = gs_msg_id(GS_ID_KEY_SEQNO, m, out);
    ck_assert_uint_eq(n, 36 + 8);
    ck_assert_mem_eq(out, id.bytes + 2, 36);
    ck_assert_int_eq(out[n - 2], 1);
    ck_assert_int_eq(out[n - 1], 2);
    /* empty data is still present (as go and rust send it) */
    ck_assert(m->has_data);
    ck_assert_uint_eq(m->len, 0);
    ck_assert_int_eq(gs_msg_verify(m, GS_SIGN_STRICT), GS_VALID);
    gs_msg_unref(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gossipsub_msg");
    TCase *tc = tcase_create("msg");
    tcase_add_test(tc, vector_matches);
    tcase_add_test(tc, round_trip_and_tamper);
    tcase_add_test(tc, policies);
    tcase_add_test(tc, id_modes);
    suite_add_tcase(s, tc);
    return p2p_test_run(s);
}
