/* Signed envelopes and peer records: round trips, tampering, truncation,
 * limits and protobuf rules. The go-libp2p and rust-libp2p vectors are in
 * test_record_vectors.c. */
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/multiaddr.h"
#include "p2p/peerid.h"
#include "p2p/record.h"
#include "testutil.h"


/* Peer records sealed by go-libp2p v0.51.0 (record.Seal) with a secp256k1
 * and an RSA-2048 key: seq 7, one address /ip4/198.18.0.1/tcp/4001. */
#define GO_SECP_RECORD \
    "0a250802122103223e14f3961d54e97928c590327ea6de2f19d88329e8a3e38105534b3f" \
    "87c392120203011a370a2700250802122103223e14f3961d54e97928c590327ea6de2f19" \
    "d88329e8a3e38105534b3f87c39210071a0a0a0804c6120001060fa12a463044022070b4" \
    "21ec02c3538626129cc9853b8cbdd385812cf12e1e1467e435b8fe07ceae022051db8fd9" \
    "abf30ae76666dbb22b83feb07da93e6a3f4d44e078f614e4e72e506d"
#define GO_SECP_RECORD_ID "16Uiu2HAmExf7nh8bHqQK7rGgQ2pZnEmvLfRmzhM3TLPpd7CQCyEy"
#define GO_RSA_RECORD \
    "0aab02080012a60230820122300d06092a864886f70d01010105000382010f003082010a" \
    "0282010100bc35ab75fce9a8d5f2d01d81a5c8152584c14fd75b3bf6f72a7b7ea0084beb" \
    "9886f3ed96988ad137ba6297214503773cbc38a83861eec56db505604f19ca53df2ab793" \
    "2d8315ee74e7d3323f5aedafe96537ea2e57fa30b034a331f1cba17eb6de8b64063dbb7a" \
    "d14d91658e48195d61d9c61a74302fe9d2049826f5765848c0269bc9133875a637fd7c52" \
    "6eb9b0c8d3e0b634502fdb64a766155264eec7a30bfbb82661dd7f0a22c49f575910ee5f" \
    "d61d2df0b8dd3c2ec55aafa6482b94004b31ecdba9b6903f218bd38ec6b91e07762214f2" \
    "6ba5384aa4cf3ca074f97ac8a16426815522997717e59088ce3a78d99db00c34c4744c7b" \
    "fe962b8539b60dc5510203010001120203011a320a221220b9f678198f089c8e1fc44ea6" \
    "47f5f018f5d4b6ac663fd7089f3453112ea6d42e10071a0a0a0804c6120001060fa12a80" \
    "0254a4127c1dc9a526ed4fb8faba7aaa4b9f44f36b13abdfb39687202205763a93767af7" \
    "30babcb3b241c8b31346094092c6547b317b06588350a5cb4f9eb6a0b294ad929f97a94d" \
    "fd10ee7504df79b87942f7929acc389618c6b231051cbfcf3548fdfd4e47341ff5c22ce3" \
    "bd435cab6524e4637ab0baa42b9fb06b1dfcc7cae8ad73b2b291a8817a82c3ef641bd62a" \
    "d851b16c7401b7702d14ffb2c9362076813c0bac887ef043b61a114bfb0e74d797e7a0e9" \
    "a8a8c354ecb8e41971ed90d8de1c2853e71bd1dfb033e04ee84b96b4822047382975f47c" \
    "fd9bfbd433156fba8f9b08ac3c1656e4ac7349064d159517400c026700bd847a6a38f97e" \
    "afc8e0c238"
#define GO_RSA_RECORD_ID "Qmara7TdQtNjyNukCf6smavkPBAZUP2H12DZuw6gCU4qmo"

/* A secp256k1 PublicKey protobuf (libp2p/specs peer-ids vectors). */
static const char SECP_PUB[] =
    "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99";

static const char *V1_ADDRS[] = { "/ip4/192.0.2.1/tcp/4001", "/ip6/2001:db8::1/udp/4001/quic-v1",
                                  "/dns4/example.com/tcp/443/wss" };

/* ---- helpers ----------------------------------------------------------- */

/* Hex into an exactly sized heap buffer (so ASan sees any overread). */
static uint8_t *unhex(const char *hex, size_t *len)
{
    size_t cap = strlen(hex) / 2;
    uint8_t *b = malloc(cap ? cap : 1);
    ck_assert_ptr_nonnull(b);
    int n = p2p_test_unhex(hex, b, cap);
    ck_assert_int_eq(n, (int)cap);
    *len = cap;
    return b;
}

static void key0(p2p_keypair *kp)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++) seed[i] = (uint8_t)i;
    p2p_keypair_from_seed(kp, seed);
}

static void peer_of(const p2p_keypair *kp, p2p_peerid *id)
{
    p2p_pubkey pub;
    p2p_keypair_public(kp, &pub);
    ck_assert_int_eq(p2p_peerid_from_pubkey(id, &pub), 0);
}

static void add_addr(p2p_peer_record *rec, const char *text)
{
    ck_assert_int_lt(rec->naddrs, P2P_PEER_RECORD_MAX_ADDRS);
    ck_assert_int_eq(p2p_maddr_parse(&rec->addrs[rec->naddrs++], text, NULL, 0), 0);
}

static void check_addrs(const p2p_peer_record *rec, const char **want, size_t n)
{
    char s[P2P_MADDR_STRMAX];
    ck_assert_uint_eq(rec->naddrs, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_gt(p2p_maddr_to_string(&rec->addrs[i], s, sizeof s), 0);
        ck_assert_str_eq(s, want[i]);
    }
}

/* A tiny protobuf writer for hand-made inputs. */
typedef struct pbw {
    uint8_t b[70000];
    size_t n;
} pbw;

static void w_varint(pbw *w, uint64_t v)
{
    while (v >= 0x80) {
        w->b[w->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    w->b[w->n++] = (uint8_t)v;
}

static void w_bytes(pbw *w, uint32_t field, const void *p, size_t n)
{
    w_varint(w, (uint64_t)field << 3 | 2);
    w_varint(w, n);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void w_uint(pbw *w, uint32_t field, uint64_t v)
{
    w_varint(w, (uint64_t)field << 3);
    w_varint(w, v);
}

static pbw *pbw_new(void)
{
    pbw *w = calloc(1, sizeof *w);
    ck_assert_ptr_nonnull(w);
    return w;
}

/* ---- envelopes ----------------------------------------------------------- */

START_TEST(envelope_round_trip)
{
    p2p_keypair kp;
    p2p_pubkey pub, signer;
    uint8_t *env;
    size_t len, ptlen, plen;
    const uint8_t *pt, *payload;
    key0(&kp);
    p2p_keypair_public(&kp, &pub);
    ck_assert_int_eq(p2p_envelope_seal(&kp, "p2pchat-test-domain", (const uint8_t *)"/p2pchat/test",
                                       13, (const uint8_t *)"hello envelope", 14, &env, &len), 0);
    ck_assert_int_eq(p2p_envelope_open(env, len, "p2pchat-test-domain", &signer, &pt, &ptlen,
                                       &payload, &plen), 0);
    ck_assert(p2p_pubkey_equal(&pub, &signer));
    ck_assert_uint_eq(ptlen, 13);
    ck_assert_uint_eq(plen, 14);
    ck_assert(pt > env && pt + ptlen <= env + len);          /* points into the input */
    ck_assert(payload > env && payload + plen <= env + len);
    ck_assert(!memcmp(pt, "/p2pchat/test", 13));
    ck_assert(!memcmp(payload, "hello envelope", 14));
    /* Outputs are optional. */
    ck_assert_int_eq(p2p_envelope_open(env, len, "p2pchat-test-domain", NULL, NULL, NULL, NULL, NULL), 0);
    /* Another domain, or a domain that is a prefix: the signature fails. */
    ck_assert_int_eq(p2p_envelope_open(env, len, "p2pchat-test-domaiN", NULL, NULL, NULL, NULL, NULL),
                     P2P_ECRYPTO);
    ck_assert_int_eq(p2p_envelope_open(env, len, "p2pchat-test", NULL, NULL, NULL, NULL, NULL),
                     P2P_ECRYPTO);
    free(env);

    /* Empty payload. */
    ck_assert_int_eq(p2p_envelope_seal(&kp, "d", (const uint8_t *)"t", 1, NULL, 0, &env, &len), 0);
    ck_assert_int_eq(p2p_envelope_open(env, len, "d", NULL, &pt, &ptlen, &payload, &plen), 0);
    ck_assert_uint_eq(plen, 0);
    ck_assert_uint_eq(ptlen, 1);
    free(env);
}
END_TEST

START_TEST(envelope_tampering)
{
    p2p_keypair kp;
    uint8_t *env;
    size_t len, ptlen, plen;
    const uint8_t *pt, *payload;
    key0(&kp);
    ck_assert_int_eq(p2p_envelope_seal(&kp, "dom", (const uint8_t *)"type", 4,
                                       (const uint8_t *)"payload", 7, &env, &len), 0);
    ck_assert_int_eq(p2p_envelope_open(env, len, "dom", NULL, &pt, &ptlen, &payload, &plen), 0);
    size_t pt_off = (size_t)(pt - env), p_off = (size_t)(payload - env);
    size_t offs[] = { pt_off, pt_off + 3, p_off, p_off + 6, len - 64, len - 1, 10 /* in the key */ };
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        env[offs[i]] ^= 0x04;
        int rc = p2p_envelope_open(env, len, "dom", NULL, NULL, NULL, NULL, NULL);
        ck_assert_msg(rc == P2P_ECRYPTO, "offset %zu: %d", offs[i], rc);
        env[offs[i]] ^= 0x04;
    }
    /* Every single-bit change anywhere is refused. */
    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            env[i] ^= (uint8_t)(1u << bit);
            ck_assert_msg(p2p_envelope_open(env, len, "dom", NULL, NULL, NULL, NULL, NULL) < 0,
                          "byte %zu bit %u", i, bit);
            env[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* Truncation at every length; trailing garbage. */
    for (size_t i = 0; i < len; i++) {
        uint8_t *cut = malloc(i ? i : 1);
        memcpy(cut, env, i);
        ck_assert_int_lt(p2p_envelope_open(cut, i, "dom", NULL, NULL, NULL, NULL, NULL), 0);
        free(cut);
    }
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, env, len);
    longer[len] = 0x08;  /* a field key with no value */
    ck_assert_int_eq(p2p_envelope_open(longer, len + 1, "dom", NULL, NULL, NULL, NULL, NULL),
                     P2P_EINVAL);
    free(longer);
    free(env);
}
END_TEST

START_TEST(envelope_arguments_and_limits)
{
    p2p_keypair kp;
    uint8_t *env = (uint8_t *)"x";
    size_t len = 1;
    char dom[P2P_ENVELOPE_DOMAIN_MAX + 2];
    key0(&kp);
    const uint8_t *t = (const uint8_t *)"t";
    ck_assert_int_eq(p2p_envelope_seal(&kp, "", t, 1, t, 1, &env, &len), P2P_EINVAL);
    ck_assert_ptr_null(env);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(p2p_envelope_seal(&kp, NULL, t, 1, t, 1, &env, &len), P2P_EINVAL);
    ck_assert_int_eq(p2p_envelope_seal(&kp, "d", t, 0, t, 1, &env, &len), P2P_EINVAL);
    ck_assert_int_eq(p2p_envelope_seal(&kp, "d", t, 1, NULL, 1, &env, &len), P2P_EINVAL);
    ck_assert_int_eq(p2p_envelope_seal(NULL, "d", t, 1, t, 1, &env, &len), P2P_EINVAL);
    memset(dom, 'a', sizeof dom);
    dom[P2P_ENVELOPE_DOMAIN_MAX + 1] = 0;
    ck_assert_int_eq(p2p_envelope_seal(&kp, dom, t, 1, t, 1, &env, &len), P2P_EINVAL);
    dom[P2P_ENVELOPE_DOMAIN_MAX] = 0;
    ck_assert_int_eq(p2p_envelope_seal(&kp, dom, t, 1, t, 1, &env, &len), 0);
    ck_assert_int_eq(p2p_envelope_open(env, len, dom, NULL, NULL, NULL, NULL, NULL), 0);
    free(env);

    /* The size limit: a payload that just fits, and one byte more. */
    uint8_t *big = calloc(1, P2P_ENVELOPE_MAX + 1);
    size_t fit = P2P_ENVELOPE_MAX - (2 + 36) - (2 + 1) - (1 + 3) - (2 + 64);
    ck_assert_int_eq(p2p_envelope_seal(&kp, "d", t, 1, big, fit, &env, &len), 0);
    ck_assert_uint_eq(len, P2P_ENVELOPE_MAX);
    ck_assert_int_eq(p2p_envelope_open(env, len, "d", NULL, NULL, NULL, NULL, NULL), 0);
    free(env);
    ck_assert_int_eq(p2p_envelope_seal(&kp, "d", t, 1, big, fit + 1, &env, &len), P2P_ERANGE);
    ck_assert_int_eq(p2p_envelope_open(big, P2P_ENVELOPE_MAX + 1, "d", NULL, NULL, NULL, NULL, NULL),
                     P2P_ERANGE);
    free(big);
    ck_assert_int_eq(p2p_envelope_open(NULL, 0, "d", NULL, NULL, NULL, NULL, NULL), P2P_EINVAL);
    ck_assert_int_eq(p2p_envelope_open((const uint8_t *)"", 0, NULL, NULL, NULL, NULL, NULL, NULL),
                     P2P_EINVAL);
}
END_TEST

/* Protobuf rules: unknown fields skipped, field order free, last wins;
 * wrong wire types, groups and a missing key refused; other key types
 * unsupported. */
START_TEST(envelope_protobuf_rules)
{
    p2p_keypair kp;
    p2p_pubkey pub;
    uint8_t keypb[P2P_PUBKEY_PB_MAX];
    uint8_t *env;
    size_t len, ptlen, plen;
    const uint8_t *pt, *payload;
    key0(&kp);
    p2p_keypair_public(&kp, &pub);
    int klen = p2p_pubkey_encode(&pub, keypb, sizeof keypb);
    ck_assert_int_eq(p2p_envelope_seal(&kp, "d", (const uint8_t *)"tt", 2, (const uint8_t *)"pp", 2,
                                       &env, &len), 0);
    const uint8_t *sig = env + len - 64;

    /* Reordered, with unknown fields of every wire type and a duplicate. */
    pbw *w = pbw_new();
    w_uint(w, 4, 300);
    w_bytes(w, 5, "junk", 4);
    w_bytes(w, 5, sig, 64);
    w_bytes(w, 3, "pp", 2);
    w_bytes(w, 9, "ignored", 7);
    w->b[w->n++] = 0x31;  /* field 6, 64-bit */
    memset(w->b + w->n, 7, 8);
    w->n += 8;
    w->b[w->n++] = 0x3d;  /* field 7, 32-bit */
    memset(w->b + w->n, 7, 4);
    w->n += 4;
    w_bytes(w, 2, "tt", 2);
    w_bytes(w, 1, keypb, (size_t)klen);
    ck_assert_int_eq(p2p_envelope_open(w->b, w->n, "d", NULL, &pt, &ptlen, &payload, &plen), 0);
    ck_assert(ptlen == 2 && !memcmp(pt, "tt", 2) && plen == 2 && !memcmp(payload, "pp", 2));

    /* A group (wire type 3) is refused. */
    w->b[w->n++] = 0x5b;
    ck_assert_int_eq(p2p_envelope_open(w->b, w->n, "d", NULL, NULL, NULL, NULL, NULL), P2P_EINVAL);

    /* A known field with the wrong wire type. */
    w->n = 0;
    w_bytes(w, 1, keypb, (size_t)klen);
    w_uint(w, 2, 1);
    ck_assert_int_eq(p2p_envelope_open(w->b, w->n, "d", NULL, NULL, NULL, NULL, NULL), P2P_EINVAL);

    /* Field number 0. */
    w->n = 0;
    w_bytes(w, 0, "x", 1);
    w_bytes(w, 1, keypb, (size_t)klen);
    ck_assert_int_eq(p2p_envelope_open(w->b, w->n, "d", NULL, NULL, NULL, NULL, NULL), P2P_EINVAL);

    /* No key; a malformed key; no signature. */
    w->n = 0;
    w_bytes(w, 2, "tt", 2);
    w_bytes(w, 3, "pp", 2);
    w_bytes(w, 5, sig, 64);
    ck_assert_int_eq(p2p_envelope_open(w->b, w->n, "d", NULL, NULL, NULL, NULL, NULL), P2P_EINVAL);
    w_bytes(w, 1, keypb, (size_t)klen - 1);
    ck_assert_int_eq(p2p_envelope_open(w->b, w->n, "d", NULL, NULL, NULL, NULL, NULL), P2P_EINVAL);
    w->n = 0;
    w_bytes(w, 1, keypb, (size_t)klen);
    w_bytes(w, 2, "tt", 2);
    w_bytes(w, 3, "pp", 2);
    ck_assert_int_eq(p2p_envelope_open(w->b, w->n, "d", NULL, NULL, NULL, NULL, NULL), P2P_ECRYPTO);

    /* A secp256k1 signer, well formed, with an Ed25519-sized signature:
     * invalid (or unsupported, built without libcrypto). */
    size_t slen;
    uint8_t *secp = unhex(SECP_PUB, &slen);
    w->n = 0;
    w_bytes(w, 1, secp, slen);
    w_bytes(w, 2, "tt", 2);
    w_bytes(w, 3, "pp", 2);
    w_bytes(w, 5, sig, 64);
    ck_assert_int_eq(p2p_envelope_open(w->b, w->n, "d", NULL, NULL, NULL, NULL, NULL), OTHER_BAD);
    /* An unknown key type (5). */
    w->n = 0;
    uint8_t odd[] = { 0x08, 0x05, 0x12, 0x01, 0x00 };
    w_bytes(w, 1, odd, sizeof odd);
    w_bytes(w, 5, sig, 64);
    ck_assert_int_eq(p2p_envelope_open(w->b, w->n, "d", NULL, NULL, NULL, NULL, NULL),
                     P2P_EUNSUPPORTED);
    /* An 11-byte varint. */
    w->n = 0;
    w->b[w->n++] = 0x20;
    for (int i = 0; i < 10; i++) w->b[w->n++] = 0x80;
    w->b[w->n++] = 0x01;
    ck_assert_int_eq(p2p_envelope_open(w->b, w->n, "d", NULL, NULL, NULL, NULL, NULL), P2P_EINVAL);
    free(secp);
    free(w);
    free(env);
}
END_TEST

/* ---- peer records ------------------------------------------------------- */

START_TEST(peer_record_round_trip)
{
    p2p_keypair kp;
    p2p_peer_record *rec = calloc(1, sizeof *rec), *got = calloc(1, sizeof *got);
    uint8_t *env;
    size_t len;
    p2p_keypair_from_seed_byte(&kp, 7);
    peer_of(&kp, &rec->id);
    rec->seq = p2p_peer_record_seq_now();
    for (size_t i = 0; i < 3; i++) add_addr(rec, V1_ADDRS[i]);
    ck_assert_int_eq(p2p_peer_record_seal(&kp, rec, &env, &len), 0);
    ck_assert_int_eq(p2p_peer_record_open(env, len, got), 0);
    ck_assert(p2p_peerid_equal(&rec->id, &got->id));
    ck_assert(got->seq == rec->seq);
    check_addrs(got, V1_ADDRS, 3);
    ck_assert_uint_eq(got->nskipped, 0);
    /* It is an ordinary envelope in the peer-record domain. */
    const uint8_t *pt;
    size_t ptlen;
    ck_assert_int_eq(p2p_envelope_open(env, len, P2P_PEER_RECORD_DOMAIN, NULL, &pt, &ptlen, NULL, NULL), 0);
    ck_assert(ptlen == 2 && pt[0] == 0x03 && pt[1] == 0x01);
    /* Truncations never open; every bit flip is refused. */
    for (size_t i = 0; i < len; i++) {
        uint8_t *cut = malloc(i ? i : 1);
        memcpy(cut, env, i);
        ck_assert_int_lt(p2p_peer_record_open(cut, i, got), 0);
        ck_assert_uint_eq(got->naddrs, 0);  /* zeroed on error */
        free(cut);
    }
    for (size_t i = 0; i < len; i++) {
        env[i] ^= 0x10;
        ck_assert_msg(p2p_peer_record_open(env, len, got) < 0, "byte %zu", i);
        env[i] ^= 0x10;
    }
    free(env);

    /* No addresses, seq 0. */
    rec->naddrs = 0;
    rec->seq = 0;
    ck_assert_int_eq(p2p_peer_record_seal(&kp, rec, &env, &len), 0);
    ck_assert_int_eq(p2p_peer_record_open(env, len, got), 0);
    ck_assert(got->seq == 0 && got->naddrs == 0);
    free(env);
    free(rec);
    free(got);
}
END_TEST

START_TEST(peer_record_signer_mismatch)
{
    p2p_keypair a, b;
    p2p_peer_record *rec = calloc(1, sizeof *rec), *got = calloc(1, sizeof *got);
    uint8_t *payload, *env = (uint8_t *)"x";
    size_t plen, len;
    p2p_keypair_from_seed_byte(&a, 1);
    p2p_keypair_from_seed_byte(&b, 2);
    peer_of(&a, &rec->id);
    rec->seq = 5;
    add_addr(rec, "/ip4/10.0.0.1/tcp/1");
    /* Sealing someone else's record is refused. */
    ck_assert_int_eq(p2p_peer_record_seal(&b, rec, &env, &len), P2P_EPEERID);
    ck_assert_ptr_null(env);
    /* Made by hand: A's record signed by B. */
    ck_assert_int_eq(p2p_peer_record_encode(rec, &payload, &plen), 0);
    ck_assert_int_eq(p2p_envelope_seal(&b, P2P_PEER_RECORD_DOMAIN,
                                       (const uint8_t *)P2P_PEER_RECORD_PAYLOAD_TYPE,
                                       P2P_PEER_RECORD_PAYLOAD_TYPE_LEN, payload, plen, &env, &len), 0);
    ck_assert_int_eq(p2p_peer_record_open(env, len, got), P2P_EPEERID);
    ck_assert_uint_eq(got->naddrs, 0);
    free(env);
    /* A's record in the right type but signed in another domain. */
    ck_assert_int_eq(p2p_envelope_seal(&a, "libp2p-other", (const uint8_t *)P2P_PEER_RECORD_PAYLOAD_TYPE,
                                       P2P_PEER_RECORD_PAYLOAD_TYPE_LEN, payload, plen, &env, &len), 0);
    ck_assert_int_eq(p2p_peer_record_open(env, len, got), P2P_ECRYPTO);
    free(env);
    /* The standard domain with the legacy type, and vice versa. */
    ck_assert_int_eq(p2p_envelope_seal(&a, P2P_PEER_RECORD_DOMAIN,
                                       (const uint8_t *)P2P_PEER_RECORD_LEGACY_PAYLOAD_TYPE,
                                       strlen(P2P_PEER_RECORD_LEGACY_PAYLOAD_TYPE), payload, plen,
                                       &env, &len), 0);
    ck_assert_int_eq(p2p_peer_record_open(env, len, got), P2P_ECRYPTO);
    free(env);
    ck_assert_int_eq(p2p_envelope_seal(&a, P2P_PEER_RECORD_LEGACY_DOMAIN,
                                       (const uint8_t *)P2P_PEER_RECORD_PAYLOAD_TYPE,
                                       P2P_PEER_RECORD_PAYLOAD_TYPE_LEN, payload, plen, &env, &len), 0);
    ck_assert_int_eq(p2p_peer_record_open(env, len, got), P2P_ECRYPTO);
    free(env);
    /* Another payload type: not a peer record. The varint form of 0x0301
     * (81 06) is not what anyone sends either. */
    ck_assert_int_eq(p2p_envelope_seal(&a, P2P_PEER_RECORD_DOMAIN, (const uint8_t *)"\x81\x06", 2,
                                       payload, plen, &env, &len), 0);
    ck_assert_int_eq(p2p_peer_record_open(env, len, got), P2P_EPROTO);
    free(env);
    /* Legacy form made by us opens. */
    ck_assert_int_eq(p2p_envelope_seal(&a, P2P_PEER_RECORD_LEGACY_DOMAIN,
                                       (const uint8_t *)P2P_PEER_RECORD_LEGACY_PAYLOAD_TYPE,
                                       strlen(P2P_PEER_RECORD_LEGACY_PAYLOAD_TYPE), payload, plen,
                                       &env, &len), 0);
    ck_assert_int_eq(p2p_peer_record_open(env, len, got), 0);
    ck_assert(got->seq == 5 && got->naddrs == 1);
    free(env);
    /* A garbage payload, correctly signed. */
    ck_assert_int_eq(p2p_envelope_seal(&a, P2P_PEER_RECORD_DOMAIN,
                                       (const uint8_t *)P2P_PEER_RECORD_PAYLOAD_TYPE,
                                       P2P_PEER_RECORD_PAYLOAD_TYPE_LEN, (const uint8_t *)"\x0a\x05", 2,
                                       &env, &len), 0);
    ck_assert_int_eq(p2p_peer_record_open(env, len, got), P2P_EINVAL);
    free(env);
    free(payload);
    free(rec);
    free(got);
}
END_TEST

/* Addresses: invalid and empty ones skipped and counted, the count bounded,
 * unknown fields ignored; the PeerId required. */
/* go-libp2p's records signed with its other key types open (the
 * signature checked, the signer's PeerId matched) and fail when changed. */
START_TEST(peer_record_other_key_types)
{
    static const struct { const char *env, *id; } v[] = {
        { GO_SECP_RECORD, GO_SECP_RECORD_ID },
        { GO_RSA_RECORD, GO_RSA_RECORD_ID },
    };
    p2p_peer_record *got = malloc(sizeof *got);
    for (int i = 0; i < 2; i++) {
        size_t len;
        uint8_t *env = unhex(v[i].env, &len);
        ck_assert_int_eq(p2p_peer_record_open(env, len, got), OTHER_OK);
#ifdef P2P_TEST_OTHER_KEYS
        char s[P2P_PEERID_STRMAX], a[P2P_MADDR_STRMAX];
        ck_assert_int_gt(p2p_peerid_to_string(&got->id, s, sizeof s), 0);
        ck_assert_str_eq(s, v[i].id);
        ck_assert_uint_eq(got->seq, 7);
        ck_assert_uint_eq(got->naddrs, 1);
        ck_assert_int_gt(p2p_maddr_to_string(&got->addrs[0], a, sizeof a), 0);
        ck_assert_str_eq(a, "/ip4/198.18.0.1/tcp/4001");
#endif
        env[len - 3] ^= 1;   /* in the signature */
        ck_assert_int_eq(p2p_peer_record_open(env, len, got), OTHER_BAD);
        free(env);
    }
    free(got);
}
END_TEST

START_TEST(peer_record_decode_rules)
{
    p2p_keypair kp;
    p2p_peerid id;
    p2p_multiaddr ma;
    p2p_peer_record *rec = calloc(1, sizeof *rec);
    pbw *w = pbw_new(), *ai = pbw_new();
    p2p_keypair_from_seed_byte(&kp, 3);
    peer_of(&kp, &id);
    ck_assert_int_eq(p2p_maddr_parse(&ma, "/ip4/1.2.3.4/tcp/5", NULL, 0), 0);

    w_bytes(w, 1, id.bytes, id.len);
    w_uint(w, 2, UINT64_MAX);
    w_bytes(w, 3, "", 0);                      /* AddressInfo without multiaddr */
    ai->n = 0;
    w_bytes(ai, 1, "\x99\x99\x01", 3);         /* not a multiaddr */
    w_bytes(w, 3, ai->b, ai->n);
    ai->n = 0;
    w_bytes(ai, 1, "\x04\x01\x02", 3);         /* truncated ip4 */
    w_bytes(w, 3, ai->b, ai->n);
    ai->n = 0;
    w_uint(ai, 2, 9);                          /* unknown field in AddressInfo */
    w_bytes(ai, 1, "junk", 4);
    w_bytes(ai, 1, ma.bytes, ma.len);          /* the last one wins */
    w_bytes(w, 3, ai->b, ai->n);
    w_bytes(w, 7, "future", 6);                /* unknown field */
    ck_assert_int_eq(p2p_peer_record_decode(rec, w->b, w->n), 0);
    ck_assert(rec->seq == UINT64_MAX);
    ck_assert_uint_eq(rec->naddrs, 1);
    ck_assert(p2p_maddr_equal(&rec->addrs[0], &ma));
    ck_assert_uint_eq(rec->nskipped, 3);
    ck_assert(p2p_peerid_equal(&rec->id, &id));

    /* More addresses than fit. */
    w->n = 0;
    w_bytes(w, 1, id.bytes, id.len);
    for (int i = 0; i < P2P_PEER_RECORD_MAX_ADDRS + 8; i++) {
        ai->n = 0;
        w_bytes(ai, 1, ma.bytes, ma.len);
        w_bytes(w, 3, ai->b, ai->n);
    }
    ck_assert_int_eq(p2p_peer_record_decode(rec, w->b, w->n), 0);
    ck_assert_uint_eq(rec->naddrs, P2P_PEER_RECORD_MAX_ADDRS);
    ck_assert_uint_eq(rec->nskipped, 8);

    /* Structural errors. */
    w->n = 0;
    w_uint(w, 2, 1);
    ck_assert_int_eq(p2p_peer_record_decode(rec, w->b, w->n), P2P_EINVAL);   /* no PeerId */
    w_bytes(w, 1, "\x12\x20", 2);
    ck_assert_int_eq(p2p_peer_record_decode(rec, w->b, w->n), P2P_EINVAL);   /* bad PeerId */
    w->n = 0;
    w_bytes(w, 1, id.bytes, id.len);
    w_bytes(w, 2, "x", 1);
    ck_assert_int_eq(p2p_peer_record_decode(rec, w->b, w->n), P2P_EINVAL);   /* seq not a varint */
    ck_assert_uint_eq(rec->id.len, 0);                                     /* zeroed */
    w->n = 0;
    w_bytes(w, 1, id.bytes, id.len);
    w_uint(w, 3, 1);
    ck_assert_int_eq(p2p_peer_record_decode(rec, w->b, w->n), P2P_EINVAL);   /* address not bytes */
    w->n = 0;
    w_bytes(w, 1, id.bytes, id.len);
    w_bytes(w, 3, "\x0a\x05\x04", 3);
    ck_assert_int_eq(p2p_peer_record_decode(rec, w->b, w->n), P2P_EINVAL);   /* broken AddressInfo */
    ck_assert_int_eq(p2p_peer_record_decode(rec, NULL, 0), P2P_EINVAL);
    ck_assert_int_eq(p2p_peer_record_decode(rec, w->b, P2P_ENVELOPE_MAX + 1), P2P_ERANGE);
    free(ai);
    free(w);
    free(rec);
}
END_TEST

START_TEST(peer_record_encode_rules)
{
    p2p_keypair kp;
    p2p_peer_record *rec = calloc(1, sizeof *rec), *got = calloc(1, sizeof *got);
    uint8_t *out = (uint8_t *)"x";
    size_t len = 1;
    ck_assert_int_eq(p2p_peer_record_encode(rec, &out, &len), P2P_EINVAL);  /* no PeerId */
    ck_assert_ptr_null(out);
    p2p_keypair_from_seed_byte(&kp, 4);
    peer_of(&kp, &rec->id);
    add_addr(rec, "/ip4/1.1.1.1/tcp/1");
    rec->naddrs++;                                   /* an empty one: left out */
    add_addr(rec, "/dns/example.org/udp/1/quic-v1");
    rec->seq = 42;
    ck_assert_int_eq(p2p_peer_record_encode(rec, &out, &len), 0);
    ck_assert_int_eq(p2p_peer_record_decode(got, out, len), 0);
    ck_assert_uint_eq(got->naddrs, 2);
    ck_assert_uint_eq(got->nskipped, 0);
    ck_assert(got->seq == 42);
    free(out);
    rec->addrs[1].len = P2P_MADDR_MAX + 1;           /* damaged */
    ck_assert_int_eq(p2p_peer_record_encode(rec, &out, &len), P2P_EINVAL);
    rec->addrs[1].len = 2;
    rec->addrs[1].bytes[0] = 0x99;                    /* not a multiaddr */
    ck_assert_int_eq(p2p_peer_record_encode(rec, &out, &len), P2P_EINVAL);
    rec->naddrs = P2P_PEER_RECORD_MAX_ADDRS + 1;
    ck_assert_int_eq(p2p_peer_record_encode(rec, &out, &len), P2P_EINVAL);
    free(rec);
    free(got);
}
END_TEST

START_TEST(seq_numbers)
{
    uint64_t now = p2p_peer_record_seq_now();
    ck_assert(now > UINT64_C(1700000000000000000));  /* nanoseconds, after 2023 */
    ck_assert(p2p_peer_record_seq_next(0) >= now);
    uint64_t future = now + UINT64_C(3600000000000);
    ck_assert(p2p_peer_record_seq_next(future) == future + 1);
    uint64_t a = p2p_peer_record_seq_next(now), b = p2p_peer_record_seq_next(a);
    ck_assert(a > now && b > a);
    ck_assert(p2p_peer_record_seq_next(UINT64_MAX) == UINT64_MAX);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("record");
    TCase *tc = tcase_create("record");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, envelope_round_trip);
    tcase_add_test(tc, envelope_tampering);
    tcase_add_test(tc, envelope_arguments_and_limits);
    tcase_add_test(tc, envelope_protobuf_rules);
    tcase_add_test(tc, peer_record_round_trip);
    tcase_add_test(tc, peer_record_signer_mismatch);
    tcase_add_test(tc, peer_record_other_key_types);
    tcase_add_test(tc, peer_record_decode_rules);
    tcase_add_test(tc, peer_record_encode_rules);
    tcase_add_test(tc, seq_numbers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
