/* test_crypto.c - keys: spec test vectors, strict decoding, Ed25519. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/crypto.h"
#include "p2p/error.h"
#include "p2p/peerid.h"
#include "testutil.h"

/* libp2p/specs peer-ids/peer-ids.md, "Test vectors". */
#define ED25519_PRIV                                                          \
    "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d" \
    "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
#define ED25519_PUB "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
#define SECP256K1_PRIV "0802122053DADF1D5A164D6B4ACDB15E24AA4C5B1D3461BDBD42ABEDB0A4404D56CED8FB"
#define SECP256K1_PUB "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99"
#define ECDSA_PRIV                                                             \
    "08031279307702010104203E5B1FE9712E6C314942A750BD67485DE3C1EFE85B1BFB520A" \
    "E8F9AE3DFA4A4CA00A06082A8648CE3D030107A14403420004DE3D300FA36AE0E8F5D530" \
    "899D83ABAB44ABF3161F162A4BC901D8E6ECDA020E8B6D5F8DA30525E71D6851510C098E" \
    "5C47C646A597FB4DCEC034E9F77C409E62"
#define ECDSA_PUB                                                              \
    "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa3" \
    "6ae0e8f5d530899d83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d" \
    "6851510c098e5c47c646a597fb4dcec034e9f77c409e62"
#define RSA_PUB                                                                \
    "080012a60430820222300d06092a864886f70d01010105000382020f003082020a028202" \
    "0100e1beab071d08200bde24eef00d049449b07770ff9910257b2d7d5dda242ce8f0e2f1" \
    "2e1af4b32d9efd2c090f66b0f29986dbb645dae9880089704a94e5066d594162ae6ee889" \
    "2e6ec70701db0a6c445c04778eb3de1293aa1a23c3825b85c6620a2bc3f82f9b0c309bc0" \
    "ab3aeb1873282bebd3da03c33e76c21e9beb172fd44c9e43be32e2c99827033cf8d0f0c6" \
    "06f4579326c930eb4e854395ad941256542c793902185153c474bed109d6ff5141ebf9cd" \
    "256cf58893a37f83729f97e7cb435ec679d2e33901d27bb35aa0d7e20561da08885ef0ab" \
    "bf8e2fb48d6a5487047a9ecb1ad41fa7ed84f6e3e8ecd5d98b3982d2a901b4454991766d" \
    "a295ab78822add5612a2df83bcee814cf50973e80d7ef38111b1bd87da2ae92438a2c8cb" \
    "cc70b31ee319939a3b9c761dbc13b5c086d6b64bf7ae7dacc14622375d92a8ff9af7eb96" \
    "2162bbddebf90acb32adb5e4e4029f1c96019949ecfbfeffd7ac1e3fbcc6b6168c34be3d" \
    "5a2e5999fcbb39bba7adbca78eab09b9bc39f7fa4b93411f4cc175e70c0a083e96bfaefb" \
    "04a9580b4753c1738a6a760ae1afd851a1a4bdad231cf56e9284d832483df215a46c1c21" \
    "bdf0c6cfe951c18f1ee4078c79c13d63edb6e14feaeffabc90ad317e4875fe648101b086" \
    "4097e998f0ca3025ef9638cd2b0caecd3770ab54a1d9c6ca959b0f5dcbc90caeefc4135b" \
    "aca6fd475224269bbe1b0203010001"
/* The head of the spec's RSA private key: its type and Data framing are
 * all privkey_decode looks at before refusing a non-Ed25519 key. */
#define RSA_PRIV_HEAD "080012ae123082092a0201000282020100e1beab071d08"

/* Signed by go-libp2p v0.51.0 (core/crypto: GenerateKeyPair, Sign) over
 * GO_MSG: marshalled public key, signature, PeerId. */
#define GO_MSG "libp2p key type test vector"
#define GO_SECP_PUB \
    "0802122103effa0785408f491a1d82e13cd0071dca95a0ee396ea8f055f129f42bea7c0d" \
    "82"
#define GO_SECP_SIG \
    "304402200998236bed79d80565be6d4155a57287be1f6bea997bbde0c97556615dd92d4b" \
    "022001c627ca09af298591d46a9f2c7bcd8ac6d6859af3cb5ac526ec8858c2e3bdcc"
#define GO_SECP_ID "16Uiu2HAmUokvBCXdGhk53Bq9bfoSU2t72PuTst8PF8rTEpBypszy"
#define GO_ECDSA_PUB \
    "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004aa874bac5e" \
    "4a02c1fa5e52034a2c8eeba43cc6bad685a14e924b61b7b920d4950e25e3c6d32d18cf0c" \
    "66a634485d06df2ca2f18db73d364a470a1e51349363cb"
#define GO_ECDSA_SIG \
    "304502201ea46e4767099381c31f67b86db74241a985f28064fee4c95c90cca1e05dd196" \
    "022100ebc2e64f540119e4c43579661c2e57784138ee73afeff64c0457d724f5b91fcb"
#define GO_ECDSA_ID "QmQBCLW9ACZycfNeBkLvV8w7oMXhN9hCu8DeXZhkLDNYTH"
#define GO_RSA_PUB \
    "080012a60230820122300d06092a864886f70d01010105000382010f003082010a028201" \
    "0100c0ede9f9a0add637226d213bbc44b681276b236f63b756adc91da3dccaf7314f0c44" \
    "b26cc6bff15e1fef4989fbf9f0ec527f77acc3baf39e6a46c363549d2708a8fa6f95ca99" \
    "b30234f6772097b11449ddfa65486feb0751d3c589ae0ca88bc274176ac025c5d2985001" \
    "8716e7047e677e3b16aa764da0ae924ca63d76f87f10b64bdba792a18d54ad4e0abc69e6" \
    "f4264fa2aebbd560a52366a1a4bcfa3172a8dcf2b964d9197b0853f0fecd3ab60df6635e" \
    "fcd8e2c8e6de54f4efa3f98891f1604902995d7ef6b8093ecc319eaf31b3588d66191108" \
    "34ace8062a3100da18baf84a9d5ff34205dfda0ab11327df2be28a280fa52f5b62c3138f" \
    "78308c7e2d870203010001"
#define GO_RSA_SIG \
    "2ad1192c67191c25619af516fd6fc39a8fa72343e9cfd18e891354778779b48010412a30" \
    "3052e81de14cf76097804f930daecbb53512ef2e81b0849d379d2916b38bf802bc5eb461" \
    "f8bcc79d64b65422c3f8fd1c85881a6a8419b2910e2a28050773086ed21c425e9f601a36" \
    "c4673bdafea0a7be935de3843b431de9dd6ea72851eb4558abbcc616418126225a6c17d1" \
    "76b7728422600887ac95496a340b39e3670bfaf0a1ed3544a2d4e8d28f304626caa02446" \
    "2c1bbeee6c96e8c2be0a8e3944df20f3c36ecb8ede52e20aed7fe289edd0114af04adc5a" \
    "ebf823c0b6af0ecb24d1cd53aefac7668d66dde9346dea2952d764864e386030e93a3512" \
    "21d8a705"
#define GO_RSA_ID "QmNqiMzdfxW3K2tEYDmL81subLafGquXZcfBHvp4BitDwA"

/* Generated with openssl (SubjectPublicKeyInfo, DER). */
#define P384_SPKI                                                              \
    "3076301006072a8648ce3d020106052b810400220362000493a37bfe342b41de0b468a06" \
    "b7239ec18885d0aaeb720be3d6a18777c33f2df6d455f7e4b61c0982cd874980f4195ddf" \
    "f28d32960c68db6e913b519fedc0907eecd78aba48178d619aa95f080b4c7bfaa77794b2" \
    "38dcb57d2e4de70f4ad2f13b"
#define P521_SPKI                                                              \
    "30819b301006072a8648ce3d020106052b81040023038186000401fa4950eb6f39289a50" \
    "61c31694e76b1cc6f1de65d20157e43bc537eb0215832694d16436d49e0ff2a0c82ddcdf" \
    "ef9ffa5876bd6e983d6957c6a42eaeb3ebe95d53000c7cd9205538e8677f6197ed3c36d6" \
    "cd9828261dc319bf136f37983744a9c4d636b37004e621ae9eec6efbb9cd03b44ded0085" \
    "53be1ca0491e56e5dc2a081a50cb"
#define P256_COMPRESSED_SPKI                                                   \
    "3039301306072a8648ce3d020106082a8648ce3d03010703220002b655d7899806a87593" \
    "715a0dc882e2d32e9857baefc69ff1b0a85086133c3337"

static uint8_t *unhex(const char *hex, size_t *len)
{
    size_t cap = strlen(hex) / 2 + 1;
    uint8_t *b = malloc(cap);
    ck_assert_ptr_nonnull(b);
    int n = p2p_test_unhex(hex, b, cap);
    ck_assert_int_ge(n, 0);
    *len = (size_t)n;
    return b;
}

static int decode_hex(p2p_pubkey *pub, const char *hex)
{
    size_t len;
    uint8_t *b = unhex(hex, &len);
    int rc = p2p_pubkey_decode(pub, b, len);
    free(b);
    return rc;
}

/* Wrap DER key Data in a PublicKey protobuf of the given type. */
static size_t wrap(uint8_t *out, int type, const uint8_t *data, size_t len)
{
    size_t n = 0;
    out[n++] = 0x08;
    out[n++] = (uint8_t)type;
    out[n++] = 0x12;
    if (len >= 128) {
        out[n++] = (uint8_t)(len | 0x80);
        out[n++] = (uint8_t)(len >> 7);
    } else {
        out[n++] = (uint8_t)len;
    }
    memcpy(out + n, data, len);
    return n + len;
}

static int decode_wrapped(int type, const char *hex)
{
    size_t len;
    uint8_t *der = unhex(hex, &len);
    uint8_t pb[P2P_PUBKEY_PB_MAX + 16];
    p2p_pubkey pub;
    ck_assert_uint_le(len, P2P_PUBKEY_DATA_MAX + 16);
    int rc = p2p_pubkey_decode(&pub, pb, wrap(pb, type, der, len));
    free(der);
    return rc;
}

/* Decode, check the type, and check encode gives back the same bytes. */
static void check_roundtrip(const char *hex, enum p2p_key_type type)
{
    size_t len;
    uint8_t *in = unhex(hex, &len);
    uint8_t out[P2P_PUBKEY_PB_MAX];
    p2p_pubkey pub;
    ck_assert_int_eq(p2p_pubkey_decode(&pub, in, len), 0);
    ck_assert_int_eq(pub.type, type);
    ck_assert_int_eq(p2p_pubkey_encode(&pub, out, sizeof out), (int)len);
    ck_assert_mem_eq(out, in, len);
    /* Every strict prefix is malformed. */
    for (size_t i = 0; i < len; i++) ck_assert_int_lt(p2p_pubkey_decode(&pub, in, i), 0);
    free(in);
}

START_TEST(spec_vectors_public)
{
    check_roundtrip(ED25519_PUB, P2P_KEY_ED25519);
    check_roundtrip(SECP256K1_PUB, P2P_KEY_SECP256K1);
    check_roundtrip(ECDSA_PUB, P2P_KEY_ECDSA);
    check_roundtrip(RSA_PUB, P2P_KEY_RSA);
}
END_TEST

START_TEST(spec_vector_ed25519_private)
{
    size_t len, plen;
    uint8_t *priv = unhex(ED25519_PRIV, &len);
    uint8_t *pubpb = unhex(ED25519_PUB, &plen);
    p2p_keypair kp;
    p2p_pubkey pub;
    uint8_t out[P2P_PRIVKEY_PB_LEN], pout[P2P_PUBKEY_PB_MAX];
    ck_assert_int_eq(len, P2P_PRIVKEY_PB_LEN);
    ck_assert_int_eq(p2p_privkey_decode(&kp, priv, len), 0);
    /* The public key derived from the private one is the spec's. */
    p2p_keypair_public(&kp, &pub);
    ck_assert_int_eq(p2p_pubkey_encode(&pub, pout, sizeof pout), (int)plen);
    ck_assert_mem_eq(pout, pubpb, plen);
    ck_assert_int_eq(p2p_privkey_encode(&kp, out), P2P_PRIVKEY_PB_LEN);
    ck_assert_mem_eq(out, priv, len);
    for (size_t i = 0; i < len; i++) ck_assert_int_lt(p2p_privkey_decode(&kp, priv, i), 0);
    free(priv);
    free(pubpb);
}
END_TEST

START_TEST(other_private_keys_unsupported)
{
    const char *v[] = {SECP256K1_PRIV, ECDSA_PRIV};
    p2p_keypair kp;
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        uint8_t *b = unhex(v[i], &len);
        ck_assert_int_eq(p2p_privkey_decode(&kp, b, len), P2P_EUNSUPPORTED);
        free(b);
    }
    /* An RSA PrivateKey: type RSA, 2350 bytes of Data. */
    uint8_t big[5 + 2350] = {0};
    size_t hl;
    uint8_t *head = unhex(RSA_PRIV_HEAD, &hl);
    memcpy(big, head, hl);
    free(head);
    ck_assert_int_eq(p2p_privkey_decode(&kp, big, sizeof big), P2P_EUNSUPPORTED);
}
END_TEST

START_TEST(seed_zero_peerid)
{
    /* rust-libp2p examples with --secret-key-seed 0. */
    p2p_keypair kp;
    p2p_pubkey pub;
    p2p_peerid id;
    char s[P2P_PEERID_STRMAX];
    p2p_keypair_from_seed_byte(&kp, 0);
    p2p_keypair_public(&kp, &pub);
    ck_assert_int_eq(p2p_peerid_from_pubkey(&id, &pub), 0);
    ck_assert_int_ge(p2p_peerid_to_string(&id, s, sizeof s), 0);
    ck_assert_str_eq(s, "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN");

    /* The seed is [n, 0, ..., 0]: other bytes give other keys. */
    p2p_keypair kp1, kp1b;
    uint8_t seed[32] = {1};
    p2p_keypair_from_seed_byte(&kp1, 1);
    p2p_keypair_from_seed(&kp1b, seed);
    ck_assert_mem_eq(kp1.sk, kp1b.sk, 64);
    ck_assert_mem_eq(kp1.pk, kp1b.pk, 32);
    ck_assert(memcmp(kp1.pk, kp.pk, 32) != 0);
    ck_assert_mem_eq(kp.sk + 32, kp.pk, 32);  /* sk = seed || pk */
}
END_TEST

static int verify_str(const p2p_pubkey *pub, const char *msg, const uint8_t *sig, size_t siglen)
{
    return p2p_pubkey_verify(pub, (const uint8_t *)msg, strlen(msg), sig, siglen);
}

/* go-libp2p's signatures for its three other key types: valid as made,
 * invalid after any change, and each key's PeerId as go computes it. */
START_TEST(other_key_signatures)
{
    static const struct { const char *pub, *sig, *id; } v[] = {
        { GO_SECP_PUB, GO_SECP_SIG, GO_SECP_ID },
        { GO_ECDSA_PUB, GO_ECDSA_SIG, GO_ECDSA_ID },
        { GO_RSA_PUB, GO_RSA_SIG, GO_RSA_ID },
    };
    p2p_pubkey pub[3];
    for (int i = 0; i < 3; i++) ck_assert_int_eq(decode_hex(&pub[i], v[i].pub), 0);
    for (int i = 0; i < 3; i++) {
        size_t n;
        uint8_t *sig = unhex(v[i].sig, &n);
        p2p_peerid id;
        char s[P2P_PEERID_STRMAX];
        ck_assert_int_eq(p2p_peerid_from_pubkey(&id, &pub[i]), 0);
        ck_assert_int_gt(p2p_peerid_to_string(&id, s, sizeof s), 0);
        ck_assert_str_eq(s, v[i].id);

        ck_assert_int_eq(verify_str(&pub[i], GO_MSG, sig, n), OTHER_OK);
        ck_assert_int_eq(verify_str(&pub[i], GO_MSG "!", sig, n), OTHER_BAD);
        ck_assert_int_eq(verify_str(&pub[(i + 1) % 3], GO_MSG, sig, n), OTHER_BAD);
        ck_assert_int_eq(verify_str(&pub[i], GO_MSG, sig, n - 1), OTHER_BAD);
        ck_assert_int_eq(verify_str(&pub[i], GO_MSG, sig, 0), OTHER_BAD);
        ck_assert_int_eq(verify_str(&pub[i], GO_MSG, NULL, 0), OTHER_BAD);
        for (size_t k = 0; k < n; k += 7) {   /* a bit flipped in every 7th byte */
            sig[k] ^= 0x10;
            ck_assert_int_eq(verify_str(&pub[i], GO_MSG, sig, n), OTHER_BAD);
            sig[k] ^= 0x10;
        }
        /* One byte more: not DER (ECDSA), not the modulus' size (RSA). */
        uint8_t *longer = malloc(n + 1);
        memcpy(longer, sig, n);
        longer[n] = 0;
        ck_assert_int_eq(verify_str(&pub[i], GO_MSG, longer, n + 1), OTHER_BAD);
        free(longer);
        free(sig);
    }
    /* A compressed secp256k1 "point" whose x is not below the field prime:
     * well-formed for the structure check, refused when verifying. */
    p2p_pubkey off = pub[0];
    memset(off.data + 1, 0xff, 32);
    size_t n;
    uint8_t *sig = unhex(GO_SECP_SIG, &n);
    ck_assert_int_eq(verify_str(&off, GO_MSG, sig, n), OTHER_BAD);
    free(sig);
    /* A key type out of range is refused whatever the build. */
    off.type = (enum p2p_key_type)9;
    ck_assert_int_lt(verify_str(&off, GO_MSG, (const uint8_t *)"x", 1), 0);
}
END_TEST

/* The Ed25519 cache: a key earns a table with its third accepted
 * signature, then verifies with it (same verdicts); refused signatures
 * earn nothing; the limit evicts the least recently used table and 0
 * turns the cache off. */
static struct p2p_verify_cache_stats cache_stats(void)
{
    struct p2p_verify_cache_stats st;
    p2p_verify_cache_stats(&st);
    return st;
}

static void sign_and_check(const p2p_keypair *kp, int n, int want)
{
    p2p_pubkey pub;
    p2p_keypair_public(kp, &pub);
    for (int i = 0; i < n; i++) {
        uint8_t msg[40] = "cache", sig[P2P_ED25519_SIG_LEN];
        msg[6] = (uint8_t)i;
        p2p_keypair_sign(kp, msg, sizeof msg, sig);
        if (want) sig[i % 64] ^= 0x10;
        ck_assert_int_eq(p2p_pubkey_verify(&pub, msg, sizeof msg, sig, sizeof sig), want);
    }
}

START_TEST(verify_cache)
{
    p2p_keypair a, b, c;
    ck_assert_int_eq(p2p_keypair_generate(&a), 0);
    ck_assert_int_eq(p2p_keypair_generate(&b), 0);
    ck_assert_int_eq(p2p_keypair_generate(&c), 0);
    struct p2p_verify_cache_stats s0 = cache_stats(), s;
    ck_assert_uint_eq(s0.limit, 32);
    sign_and_check(&a, 2, 0);
    s = cache_stats();
    ck_assert_uint_eq(s.slow - s0.slow, 2);
    ck_assert_uint_eq(s.tables_made, s0.tables_made);
    sign_and_check(&a, 1, 0);
    s = cache_stats();
    ck_assert_uint_eq(s.tables_made - s0.tables_made, 1);
    ck_assert_uint_eq(s.tables, s0.tables + 1);
    ck_assert_uint_gt(s.bytes, 30000);
    /* With the table: valid ones pass, changed ones fail. */
    sign_and_check(&a, 20, 0);
    sign_and_check(&a, 64, P2P_ECRYPTO);
    s = cache_stats();
    ck_assert_uint_eq(s.fast - s0.fast, 84);
    ck_assert_uint_eq(s.slow - s0.slow, 3);
    /* Refused signatures earn no table. */
    sign_and_check(&b, 10, P2P_ECRYPTO);
    ck_assert_uint_eq(cache_stats().tables_made - s0.tables_made, 1);
    /* One table at most: c's evicts a's. */
    p2p_verify_cache_limit(1);
    sign_and_check(&c, 3, 0);
    s = cache_stats();
    ck_assert_uint_eq(s.tables, 1);
    ck_assert_uint_eq(s.tables_made - s0.tables_made, 2);
    uint64_t slow = s.slow;
    sign_and_check(&a, 1, 0);
    ck_assert_uint_eq(cache_stats().slow, slow + 1);
    /* Off: no tables, none made. */
    p2p_verify_cache_limit(0);
    ck_assert_uint_eq(cache_stats().tables, 0);
    ck_assert_uint_eq(cache_stats().bytes, 0);
    sign_and_check(&c, 5, 0);
    s = cache_stats();
    ck_assert_uint_eq(s.tables, 0);
    ck_assert_uint_eq(s.tables_made - s0.tables_made, 2);
    p2p_verify_cache_limit(32);
    ck_assert_uint_eq(cache_stats().limit, 32);
}
END_TEST

/* Threads verifying three keys' signatures with room for one table:
 * tables are made, evicted while another thread uses them and freed by
 * their last user (ASan would see a use after free), and every verdict
 * stays right. */
struct cache_thread {
    const p2p_keypair *keys;
    int errors;
};

static void *cache_thread_main(void *arg)
{
    struct cache_thread *t = arg;
    for (int i = 0; i < 300; i++) {
        const p2p_keypair *kp = &t->keys[i % 3];
        p2p_pubkey pub;
        p2p_keypair_public(kp, &pub);
        uint8_t msg[16] = "threads", sig[P2P_ED25519_SIG_LEN];
        msg[8] = (uint8_t)i;
        p2p_keypair_sign(kp, msg, sizeof msg, sig);
        if (p2p_pubkey_verify(&pub, msg, sizeof msg, sig, sizeof sig) != 0) t->errors++;
        sig[5] ^= 4;
        if (p2p_pubkey_verify(&pub, msg, sizeof msg, sig, sizeof sig) != P2P_ECRYPTO) t->errors++;
    }
    return NULL;
}

START_TEST(verify_cache_threads)
{
    p2p_keypair keys[3];
    for (int i = 0; i < 3; i++) ck_assert_int_eq(p2p_keypair_generate(&keys[i]), 0);
    p2p_verify_cache_limit(1);
    pthread_t th[4];
    struct cache_thread ct[4];
    for (int i = 0; i < 4; i++) {
        ct[i] = (struct cache_thread){ keys, 0 };
        ck_assert_int_eq(pthread_create(&th[i], NULL, cache_thread_main, &ct[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(ct[i].errors, 0);
    }
    struct p2p_verify_cache_stats st = cache_stats();
    ck_assert_uint_gt(st.fast, 0);
    ck_assert_uint_gt(st.tables_made, 1);
    ck_assert_uint_le(st.tables, 1);
    p2p_verify_cache_limit(32);
}
END_TEST

START_TEST(sign_verify)
{
    p2p_keypair kp;
    p2p_pubkey pub, other;
    uint8_t sig[P2P_ED25519_SIG_LEN];
    const uint8_t msg[] = "libp2p signed message";
    ck_assert_int_eq(p2p_keypair_generate(&kp), 0);
    p2p_keypair_public(&kp, &pub);
    p2p_keypair_sign(&kp, msg, sizeof msg, sig);
    ck_assert_int_eq(p2p_pubkey_verify(&pub, msg, sizeof msg, sig, sizeof sig), 0);
    ck_assert_int_eq(p2p_pubkey_verify(&pub, msg, sizeof msg - 1, sig, sizeof sig), P2P_ECRYPTO);
    ck_assert_int_eq(p2p_pubkey_verify(&pub, msg, sizeof msg, sig, sizeof sig - 1), P2P_ECRYPTO);
    ck_assert_int_eq(p2p_pubkey_verify(&pub, msg, sizeof msg, NULL, 0), P2P_ECRYPTO);
    sig[10] ^= 1;
    ck_assert_int_eq(p2p_pubkey_verify(&pub, msg, sizeof msg, sig, sizeof sig), P2P_ECRYPTO);
    sig[10] ^= 1;
    /* Empty messages can be signed too. */
    p2p_keypair_sign(&kp, NULL, 0, sig);
    ck_assert_int_eq(p2p_pubkey_verify(&pub, NULL, 0, sig, sizeof sig), 0);

    /* An Ed25519 signature is no signature of another key type. */
    ck_assert_int_eq(decode_hex(&other, SECP256K1_PUB), 0);
    ck_assert_int_eq(p2p_pubkey_verify(&other, msg, sizeof msg, sig, sizeof sig), OTHER_BAD);
    ck_assert_int_eq(decode_hex(&other, RSA_PUB), 0);
    ck_assert_int_eq(p2p_pubkey_verify(&other, msg, sizeof msg, sig, sizeof sig), OTHER_BAD);

    /* Two generated keys differ; wipe clears everything. */
    p2p_keypair kp2;
    ck_assert_int_eq(p2p_keypair_generate(&kp2), 0);
    ck_assert(memcmp(kp.pk, kp2.pk, 32) != 0);
    p2p_keypair_wipe(&kp2);
    static const p2p_keypair zero;
    ck_assert_mem_eq(&kp2, &zero, sizeof zero);
}
END_TEST

START_TEST(pubkey_equal_and_names)
{
    p2p_pubkey a, b;
    ck_assert_int_eq(decode_hex(&a, ED25519_PUB), 0);
    ck_assert_int_eq(decode_hex(&b, ED25519_PUB), 0);
    ck_assert(p2p_pubkey_equal(&a, &b));
    b.data[31] ^= 1;
    ck_assert(!p2p_pubkey_equal(&a, &b));
    ck_assert_int_eq(decode_hex(&b, SECP256K1_PUB), 0);
    ck_assert(!p2p_pubkey_equal(&a, &b));
    ck_assert_str_eq(p2p_key_type_name(P2P_KEY_RSA), "RSA");
    ck_assert_str_eq(p2p_key_type_name(P2P_KEY_ED25519), "Ed25519");
    ck_assert_str_eq(p2p_key_type_name(P2P_KEY_SECP256K1), "Secp256k1");
    ck_assert_str_eq(p2p_key_type_name(P2P_KEY_ECDSA), "ECDSA");
    ck_assert_str_eq(p2p_key_type_name((enum p2p_key_type)7), "unknown");
}
END_TEST

START_TEST(pubkey_encode_errors)
{
    p2p_pubkey pub;
    uint8_t out[P2P_PUBKEY_PB_MAX];
    ck_assert_int_eq(decode_hex(&pub, ED25519_PUB), 0);
    ck_assert_int_eq(p2p_pubkey_encode(&pub, out, 35), P2P_ERANGE);
    ck_assert_int_eq(p2p_pubkey_encode(&pub, out, 36), 36);
    ck_assert_int_eq(decode_hex(&pub, RSA_PUB), 0);
    ck_assert_int_eq(p2p_pubkey_encode(&pub, out, 40), P2P_ERANGE);
    pub.len = P2P_PUBKEY_DATA_MAX + 1;
    ck_assert_int_eq(p2p_pubkey_encode(&pub, out, sizeof out), P2P_EINVAL);
    pub.len = 32;
    pub.type = (enum p2p_key_type)4;
    ck_assert_int_eq(p2p_pubkey_encode(&pub, out, sizeof out), P2P_EINVAL);
}
END_TEST

/* The protobuf framing must be the canonical one. */
START_TEST(pubkey_protobuf_strict)
{
    p2p_pubkey pub;
    const char *k = "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    char hex[256];
    ck_assert_int_eq(p2p_pubkey_decode(&pub, NULL, 0), P2P_EINVAL);
    /* Trailing garbage, an extra field, a repeated field. */
    ck_assert_int_eq(decode_hex(&pub, ED25519_PUB "00"), P2P_EINVAL);
    ck_assert_int_eq(decode_hex(&pub, ED25519_PUB "1801"), P2P_EINVAL);
    ck_assert_int_eq(decode_hex(&pub, ED25519_PUB "0801"), P2P_EINVAL);
    /* Missing Type, missing Data, fields in the wrong order. */
    snprintf(hex, sizeof hex, "1220%s", k);
    ck_assert_int_eq(decode_hex(&pub, hex), P2P_EINVAL);
    ck_assert_int_eq(decode_hex(&pub, "0801"), P2P_EINVAL);
    snprintf(hex, sizeof hex, "1220%s0801", k);
    ck_assert_int_eq(decode_hex(&pub, hex), P2P_EINVAL);
    /* Non-minimal varints for the type and the length. */
    snprintf(hex, sizeof hex, "08810012%s", "20");
    strcat(hex, k);
    ck_assert_int_eq(decode_hex(&pub, hex), P2P_EINVAL);
    snprintf(hex, sizeof hex, "080112a000%s", k);
    ck_assert_int_eq(decode_hex(&pub, hex), P2P_EINVAL);
    /* Wrong wire type for Type (length-delimited). */
    snprintf(hex, sizeof hex, "0a0112%s", "20");
    strcat(hex, k);
    ck_assert_int_eq(decode_hex(&pub, hex), P2P_EINVAL);
    /* Unknown key types, small and huge. */
    snprintf(hex, sizeof hex, "080412%s", "20");
    strcat(hex, k);
    ck_assert_int_eq(decode_hex(&pub, hex), P2P_EUNSUPPORTED);
    snprintf(hex, sizeof hex, "08ffffffffffffffffff0112%s", "20");
    strcat(hex, k);
    ck_assert_int_eq(decode_hex(&pub, hex), P2P_EUNSUPPORTED);
    /* An 11-byte varint is not a varint. */
    snprintf(hex, sizeof hex, "08ffffffffffffffffffff0112%s", "20");
    strcat(hex, k);
    ck_assert_int_eq(decode_hex(&pub, hex), P2P_EINVAL);
    /* Data longer than any key we accept. */
    static const uint8_t zeros[P2P_PUBKEY_DATA_MAX + 1];
    uint8_t big[P2P_PUBKEY_DATA_MAX + 16];
    ck_assert_int_eq(p2p_pubkey_decode(&pub, big, wrap(big, 0, zeros, sizeof zeros)),
                     P2P_ERANGE);
}
END_TEST

START_TEST(pubkey_ed25519_secp_structure)
{
    p2p_pubkey pub;
    /* Ed25519: exactly 32 bytes. */
    ck_assert_int_eq(decode_hex(&pub, "0801121f" "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce2"),
                     P2P_EINVAL);
    ck_assert_int_eq(decode_hex(&pub, "08011221" "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e00"),
                     P2P_EINVAL);
    ck_assert_int_eq(decode_hex(&pub, "08011200"), P2P_EINVAL);
    /* Secp256k1: 33 bytes, compressed prefix. */
    ck_assert_int_eq(decode_hex(&pub, "08021221" "027777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99"), 0);
    ck_assert_int_eq(decode_hex(&pub, "08021221" "047777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99"),
                     P2P_EINVAL);
    ck_assert_int_eq(decode_hex(&pub, "08021220" "7777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99"),
                     P2P_EINVAL);
    /* An uncompressed (65-byte) secp256k1 key is not the libp2p encoding. */
    char hex[300] = "08021241" "04";
    for (int i = 0; i < 64; i++) strcat(hex, "11");
    ck_assert_int_eq(decode_hex(&pub, hex), P2P_EINVAL);
}
END_TEST

START_TEST(pubkey_ecdsa_structure)
{
    ck_assert_int_eq(decode_wrapped(P2P_KEY_ECDSA, P384_SPKI), 0);
    ck_assert_int_eq(decode_wrapped(P2P_KEY_ECDSA, P521_SPKI), 0);
    ck_assert_int_eq(decode_wrapped(P2P_KEY_ECDSA, P256_COMPRESSED_SPKI), 0);
    /* The right key under the wrong type. */
    ck_assert_int_eq(decode_wrapped(P2P_KEY_RSA, P384_SPKI), P2P_EINVAL);
    ck_assert_int_eq(decode_wrapped(P2P_KEY_SECP256K1, P384_SPKI), P2P_EINVAL);
    /* P-256 point in a P-384 key (length mismatch): the 0x62 BIT STRING
     * of P384_SPKI shortened by 32 bytes. */
    ck_assert_int_eq(decode_wrapped(P2P_KEY_ECDSA,
        "3056301006072a8648ce3d020106052b81040022034200"
        "04de3d300fa36ae0e8f5d530899d83abab44abf3161f162a4bc901d8e6ecda020e"
        "8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec034e9f77c409e62"),
        P2P_EINVAL);
    /* Unknown curve (secp224r1 1.3.132.0.33). */
    ck_assert_int_eq(decode_wrapped(P2P_KEY_ECDSA,
        "304e301006072a8648ce3d020106052b81040021033a0004"
        "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c"
        "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c"),
        P2P_EINVAL);
    /* Unused bits in the BIT STRING, wrong point prefix. */
    ck_assert_int_eq(decode_wrapped(P2P_KEY_ECDSA,
        "3039301306072a8648ce3d020106082a8648ce3d03010703220102b655d7899806a87593"
        "715a0dc882e2d32e9857baefc69ff1b0a85086133c3337"), P2P_EINVAL);
    ck_assert_int_eq(decode_wrapped(P2P_KEY_ECDSA,
        "3039301306072a8648ce3d020106082a8648ce3d03010703220005b655d7899806a87593"
        "715a0dc882e2d32e9857baefc69ff1b0a85086133c3337"), P2P_EINVAL);
    /* Something after the curve OID in the AlgorithmIdentifier. */
    ck_assert_int_eq(decode_wrapped(P2P_KEY_ECDSA,
        "303b301506072a8648ce3d020106082a8648ce3d0301070500"
        "03220002b655d7899806a87593715a0dc882e2d32e9857baefc69ff1b0a85086133c3337"),
        P2P_EINVAL);
    /* Something after the BIT STRING inside the SPKI. */
    ck_assert_int_eq(decode_wrapped(P2P_KEY_ECDSA,
        "303b301306072a8648ce3d020106082a8648ce3d030107"
        "03220002b655d7899806a87593715a0dc882e2d32e9857baefc69ff1b0a85086133c33370500"),
        P2P_EINVAL);
    /* Missing curve parameter; trailing byte after the SPKI. */
    ck_assert_int_eq(decode_wrapped(P2P_KEY_ECDSA,
        "302f300906072a8648ce3d020103220002b655d7899806a87593"
        "715a0dc882e2d32e9857baefc69ff1b0a85086133c3337"), P2P_EINVAL);
    ck_assert_int_eq(decode_wrapped(P2P_KEY_ECDSA, P256_COMPRESSED_SPKI "00"), P2P_EINVAL);
    /* Non-minimal long-form length on the outer SEQUENCE. */
    ck_assert_int_eq(decode_wrapped(P2P_KEY_ECDSA,
        "308139301306072a8648ce3d020106082a8648ce3d03010703220002b655d7899806a87593"
        "715a0dc882e2d32e9857baefc69ff1b0a85086133c3337"), P2P_EINVAL);
    /* Indefinite length. */
    ck_assert_int_eq(decode_wrapped(P2P_KEY_ECDSA,
        "3080301306072a8648ce3d020106082a8648ce3d03010703220002b655d7899806a87593"
        "715a0dc882e2d32e9857baefc69ff1b0a85086133c33370000"), P2P_EINVAL);
}
END_TEST

/* Build an RSA SubjectPublicKeyInfo with a modulus of `bits` bits (odd,
 * top bit set) and the given exponent bytes; returns its length. */
static size_t rsa_spki(uint8_t *out, size_t bits, const uint8_t *e, size_t elen, int null_params)
{
    size_t mlen = (bits + 7) / 8, pad = (bits % 8 == 0) ? 1 : 0;
    size_t ilen = mlen + pad;
    uint8_t body[1100];
    size_t n = 0;
    /* RSAPublicKey SEQUENCE contents: INTEGER n, INTEGER e. */
    body[n++] = 0x02;
    if (ilen >= 256) { body[n++] = 0x82; body[n++] = (uint8_t)(ilen >> 8); body[n++] = (uint8_t)ilen; }
    else if (ilen >= 128) { body[n++] = 0x81; body[n++] = (uint8_t)ilen; }
    else body[n++] = (uint8_t)ilen;
    if (pad) body[n++] = 0;
    memset(body + n, 0xa5, mlen);
    body[n] = (uint8_t)(0x80 >> ((8 - bits % 8) % 8)) | 0x01;
    if (bits % 8 == 0) body[n] = 0xc5;
    n += mlen;
    body[n - 1] |= 1;
    body[n++] = 0x02;
    body[n++] = (uint8_t)elen;
    memcpy(body + n, e, elen);
    n += elen;

    /* Nest: SEQUENCE(body) in BIT STRING(0 || seq) in SPKI. */
    uint8_t tmp[1100];
    size_t t = 0;
#define PUT_LEN(buf, i, l) do { \
        if ((l) >= 256) { buf[i++] = 0x82; buf[i++] = (uint8_t)((l) >> 8); buf[i++] = (uint8_t)(l); } \
        else if ((l) >= 128) { buf[i++] = 0x81; buf[i++] = (uint8_t)(l); } \
        else buf[i++] = (uint8_t)(l); } while (0)
    tmp[t++] = 0x30;
    PUT_LEN(tmp, t, n);
    memcpy(tmp + t, body, n);
    t += n;
    static const uint8_t alg_null[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                       0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
    static const uint8_t alg_none[] = {0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                       0x0d, 0x01, 0x01, 0x01};
    const uint8_t *alg = null_params ? alg_null : alg_none;
    size_t alen = null_params ? sizeof alg_null : sizeof alg_none;
    size_t inner = alen + 1 + (t + 1 >= 256 ? 3 : t + 1 >= 128 ? 2 : 1) + t + 1;
    size_t o = 0;
    out[o++] = 0x30;
    PUT_LEN(out, o, inner);
    memcpy(out + o, alg, alen);
    o += alen;
    out[o++] = 0x03;
    PUT_LEN(out, o, t + 1);
    out[o++] = 0;
    memcpy(out + o, tmp, t);
#undef PUT_LEN
    return o + t;
}

static int decode_rsa(size_t bits, const uint8_t *e, size_t elen, int null_params)
{
    uint8_t der[1200], pb[1220];
    p2p_pubkey pub;
    size_t n = rsa_spki(der, bits, e, elen, null_params);
    ck_assert_uint_le(n, sizeof der);
    return p2p_pubkey_decode(&pub, pb, wrap(pb, P2P_KEY_RSA, der, n));
}

START_TEST(pubkey_rsa_structure)
{
    static const uint8_t f4[] = {0x01, 0x00, 0x01}, three[] = {3}, one[] = {1},
                         even[] = {0x01, 0x00, 0x00}, neg[] = {0x81},
                         padded[] = {0x00, 0x01, 0x00, 0x01}, big[] = {1, 0, 0, 0, 1};
    /* Size bounds: 2048..8192 bits, like go-libp2p. */
    ck_assert_int_eq(decode_rsa(2048, f4, 3, 1), 0);
    ck_assert_int_eq(decode_rsa(3072, f4, 3, 1), 0);
    ck_assert_int_eq(decode_rsa(2049, f4, 3, 1), 0);
    ck_assert_int_eq(decode_rsa(8192, f4, 3, 1), 0);
    ck_assert_int_eq(decode_rsa(2047, f4, 3, 1), P2P_EINVAL);
    ck_assert_int_eq(decode_rsa(1024, f4, 3, 1), P2P_EINVAL);
    ck_assert_int_eq(decode_rsa(8193, f4, 3, 1), P2P_EINVAL);
    /* Exponent: odd, >= 3, minimal, positive, at most 32 bits. */
    ck_assert_int_eq(decode_rsa(2048, three, 1, 1), 0);
    ck_assert_int_eq(decode_rsa(2048, one, 1, 1), P2P_EINVAL);
    ck_assert_int_eq(decode_rsa(2048, even, 3, 1), P2P_EINVAL);
    ck_assert_int_eq(decode_rsa(2048, neg, 1, 1), P2P_EINVAL);
    ck_assert_int_eq(decode_rsa(2048, padded, 4, 1), P2P_EINVAL);
    ck_assert_int_eq(decode_rsa(2048, big, 5, 1), P2P_EINVAL);
    /* rsaEncryption parameters must be NULL. */
    ck_assert_int_eq(decode_rsa(2048, f4, 3, 0), P2P_EINVAL);
    /* The spec's RSA key as ECDSA. */
    size_t len;
    uint8_t *b = unhex(RSA_PUB, &len);
    p2p_pubkey pub;
    b[1] = P2P_KEY_ECDSA;
    ck_assert_int_eq(p2p_pubkey_decode(&pub, b, len), P2P_EINVAL);
    /* An even modulus. */
    b[1] = P2P_KEY_RSA;
    ck_assert_int_eq(p2p_pubkey_decode(&pub, b, len), 0);
    b[len - 6] ^= 1;
    ck_assert_int_eq(p2p_pubkey_decode(&pub, b, len), P2P_EINVAL);
    free(b);
}
END_TEST

START_TEST(privkey_forms)
{
    size_t len;
    uint8_t *priv = unhex(ED25519_PRIV, &len);
    p2p_keypair ref, kp;
    ck_assert_int_eq(p2p_privkey_decode(&ref, priv, len), 0);

    /* Seed only (32 bytes). */
    uint8_t b[4 + 96];
    b[0] = 0x08; b[1] = 0x01; b[2] = 0x12; b[3] = 32;
    memcpy(b + 4, priv + 4, 32);
    ck_assert_int_eq(p2p_privkey_decode(&kp, b, 36), 0);
    ck_assert_mem_eq(kp.sk, ref.sk, 64);
    ck_assert_mem_eq(kp.pk, ref.pk, 32);

    /* Legacy seed || pk || pk (96 bytes), and a mismatching copy. */
    b[3] = 96;
    memcpy(b + 4, priv + 4, 64);
    memcpy(b + 68, priv + 36, 32);
    ck_assert_int_eq(p2p_privkey_decode(&kp, b, sizeof b), 0);
    ck_assert_mem_eq(kp.sk, ref.sk, 64);
    b[99] ^= 1;
    ck_assert_int_eq(p2p_privkey_decode(&kp, b, sizeof b), P2P_EINVAL);

    /* 64 bytes whose public half is not the seed's. */
    priv[len - 1] ^= 1;
    ck_assert_int_eq(p2p_privkey_decode(&kp, priv, len), P2P_EINVAL);
    priv[len - 1] ^= 1;
    /* Other lengths, trailing bytes. */
    b[3] = 33;
    ck_assert_int_eq(p2p_privkey_decode(&kp, b, 37), P2P_EINVAL);
    uint8_t longer[P2P_PRIVKEY_PB_LEN + 1];
    memcpy(longer, priv, len);
    longer[len] = 0;
    ck_assert_int_eq(p2p_privkey_decode(&kp, longer, sizeof longer), P2P_EINVAL);
    /* Unknown type. */
    priv[1] = 9;
    ck_assert_int_eq(p2p_privkey_decode(&kp, priv, len), P2P_EUNSUPPORTED);
    free(priv);

    /* Generated keys round-trip through the protobuf. */
    uint8_t out[P2P_PRIVKEY_PB_LEN];
    ck_assert_int_eq(p2p_keypair_generate(&ref), 0);
    ck_assert_int_eq(p2p_privkey_encode(&ref, out), P2P_PRIVKEY_PB_LEN);
    ck_assert_int_eq(p2p_privkey_decode(&kp, out, sizeof out), 0);
    ck_assert_mem_eq(&kp, &ref, sizeof kp);
}
END_TEST

static Suite *crypto_suite(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc = tcase_create("keys");
    tcase_add_test(tc, spec_vectors_public);
    tcase_add_test(tc, spec_vector_ed25519_private);
    tcase_add_test(tc, other_private_keys_unsupported);
    tcase_add_test(tc, seed_zero_peerid);
    tcase_add_test(tc, sign_verify);
    tcase_add_test(tc, verify_cache);
    tcase_add_test(tc, verify_cache_threads);
    tcase_add_test(tc, other_key_signatures);
    tcase_add_test(tc, pubkey_equal_and_names);
    tcase_add_test(tc, pubkey_encode_errors);
    tcase_add_test(tc, pubkey_protobuf_strict);
    tcase_add_test(tc, pubkey_ed25519_secp_structure);
    tcase_add_test(tc, pubkey_ecdsa_structure);
    tcase_add_test(tc, pubkey_rsa_structure);
    tcase_add_test(tc, privkey_forms);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(crypto_suite());
}
