/* test_ed25519.c - the table verifier (core/src/ed25519.c) gives
 * libsodium's verdict: valid signatures, every changed bit, non-canonical
 * s, small-order R, keys with a torsion part, keys that do not decode. */
#include <sodium.h>
#include <string.h>

#include "ed25519.h"
#include "testutil.h"

/* The y of a point of order 8 (the other one is p - y8). */
static const uint8_t y8[32] = { 0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
                                0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
                                0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05 };

/* k = SHA-512(R || A || msg) mod L, the scalar the signer multiplies
 * its secret by. */
static void challenge(uint8_t k[32], const uint8_t R[32], const uint8_t A[32], const uint8_t *msg, size_t len)
{
    uint8_t h[64];
    crypto_hash_sha512_state hs;
    crypto_hash_sha512_init(&hs);
    crypto_hash_sha512_update(&hs, R, 32);
    crypto_hash_sha512_update(&hs, A, 32);
    crypto_hash_sha512_update(&hs, msg, len);
    crypto_hash_sha512_final(&hs, h);
    crypto_core_ed25519_scalar_reduce(k, h);
}

/* Both verdicts, asserting they agree; returns ours (0 valid, -1 not). */
static int both(const struct ed25519_table *t, const uint8_t pk[32], const uint8_t *msg, size_t len,
                const uint8_t sig[64])
{
    int ours = ed25519_verify_table(t, pk, msg, len, sig);
    int lib = crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : -1;
    ck_assert_int_eq(ours, lib);
    return ours;
}

START_TEST(valid_signatures)
{
    ck_assert_int_ge(sodium_init(), 0);
    uint8_t msg[2000];
    for (int k = 0; k < 40; k++) {
        uint8_t pk[32], sk[64], sig[64];
        crypto_sign_keypair(pk, sk);
        struct ed25519_table *t = ed25519_table_new(pk);
        ck_assert_ptr_nonnull(t);
        for (size_t len = 0; len < sizeof msg; len += 97 + (size_t)k) {
            randombytes_buf(msg, len);
            crypto_sign_detached(sig, NULL, msg, len, sk);
            ck_assert_int_eq(both(t, pk, msg, len, sig), 0);
        }
        ed25519_table_free(t);
    }
}
END_TEST

/* Any one changed bit of the signature, the message or the key is
 * refused (all 512 of the signature's bits, every message bit). */
START_TEST(changed_bits)
{
    ck_assert_int_ge(sodium_init(), 0);
    for (int k = 0; k < 4; k++) {
        uint8_t pk[32], sk[64], sig[64], msg[48];
        crypto_sign_keypair(pk, sk);
        randombytes_buf(msg, sizeof msg);
        crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
        struct ed25519_table *t = ed25519_table_new(pk);
        ck_assert_ptr_nonnull(t);
        for (int b = 0; b < 512; b++) {
            sig[b / 8] ^= (uint8_t)(1 << (b % 8));
            ck_assert_int_eq(both(t, pk, msg, sizeof msg, sig), -1);
            sig[b / 8] ^= (uint8_t)(1 << (b % 8));
        }
        for (int b = 0; b < (int)sizeof msg * 8; b++) {
            msg[b / 8] ^= (uint8_t)(1 << (b % 8));
            ck_assert_int_eq(both(t, pk, msg, sizeof msg, sig), -1);
            msg[b / 8] ^= (uint8_t)(1 << (b % 8));
        }
        ck_assert_int_eq(both(t, pk, msg, sizeof msg, sig), 0);
        /* Another key's table, or this table with another key. */
        uint8_t pk2[32], sk2[64];
        crypto_sign_keypair(pk2, sk2);
        struct ed25519_table *t2 = ed25519_table_new(pk2);
        ck_assert_ptr_nonnull(t2);
        ck_assert_int_eq(ed25519_verify_table(t2, pk, msg, sizeof msg, sig), -1);
        ck_assert_int_eq(ed25519_verify_table(t, pk2, msg, sizeof msg, sig), -1);
        ck_assert_int_eq(ed25519_verify_table(NULL, pk, msg, sizeof msg, sig), -1);
        ed25519_table_free(t2);
        ed25519_table_free(t);
    }
}
END_TEST

/* s + L verifies the same equation but is not canonical: refused (the
 * malleability libsodium closes); s = L - 1 and L are the edges. */
START_TEST(scalar_not_canonical)
{
    ck_assert_int_ge(sodium_init(), 0);
    static const uint8_t L[32] = { 0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                   0xa2, 0xde, 0xf9, 0xde, 0x14, [31] = 0x10 };
    uint8_t s[32];
    memcpy(s, L, 32);
    ck_assert_int_eq(ed25519_scalar_canonical(s), 0);
    s[0]--;
    ck_assert_int_eq(ed25519_scalar_canonical(s), 1);
    s[0] += 2;
    ck_assert_int_eq(ed25519_scalar_canonical(s), 0);
    memset(s, 0, 32);
    ck_assert_int_eq(ed25519_scalar_canonical(s), 1);
    s[31] = 0x0f;
    memset(s, 0xff, 31);
    ck_assert_int_eq(ed25519_scalar_canonical(s), 1);

    for (int k = 0; k < 16; k++) {
        uint8_t pk[32], sk[64], sig[64], msg[32];
        crypto_sign_keypair(pk, sk);
        randombytes_buf(msg, sizeof msg);
        crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
        struct ed25519_table *t = ed25519_table_new(pk);
        ck_assert_ptr_nonnull(t);
        /* sig.s + L (fits: s < L < 2^253) */
        unsigned c = 0;
        for (int i = 0; i < 32; i++) {
            c += sig[32 + i] + L[i];
            sig[32 + i] = (uint8_t)c;
            c >>= 8;
        }
        ck_assert_int_eq(both(t, pk, msg, sizeof msg, sig), -1);
        ed25519_table_free(t);
    }
}
END_TEST

/* R of small order (all seven encodings, either sign bit) is refused even
 * where the equation would hold; the list's order-8 ys are of order 8. */
START_TEST(small_order_r)
{
    ck_assert_int_ge(sodium_init(), 0);
    uint8_t p8[32];
    memcpy(p8, y8, 32);
    ck_assert_int_eq(ed25519_has_order8(p8), 1);
    p8[31] |= 0x80;
    ck_assert_int_eq(ed25519_has_order8(p8), 1);
    /* -y8 = p - y8, the other order-8 y */
    static const uint8_t P[32] = { 0xed, [1 ... 30] = 0xff, [31] = 0x7f };
    int borrow = 0;
    for (int i = 0; i < 32; i++) {
        int d = P[i] - y8[i] - borrow;
        borrow = d < 0;
        p8[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
    ck_assert_int_eq(ed25519_has_order8(p8), 1);
    ck_assert_int_eq(ed25519_small_order_encoding(p8), 1);
    ck_assert_int_eq(ed25519_small_order_encoding(y8), 1);
    /* A valid key is not of order 8 and not on the list. */
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    ck_assert_int_eq(ed25519_has_order8(pk), 0);
    ck_assert_int_eq(ed25519_small_order_encoding(pk), 0);

    struct ed25519_table *t = ed25519_table_new(pk);
    ck_assert_ptr_nonnull(t);
    uint8_t msg[16] = "small order R";
    int listed = 0;
    /* Every 255-bit y of the forms 0, 1, p - 1, p, p + 1 and the order-8
     * ones, with either sign bit, as R, with any s. */
    uint8_t cands[7][32] = { { 0 }, { 1 } };
    memcpy(cands[2], y8, 32);
    memcpy(cands[3], p8, 32);
    for (int i = 4; i < 7; i++) {
        memcpy(cands[i], P, 32);
        cands[i][0] = (uint8_t)(0xec + (i - 4));
    }
    for (int i = 0; i < 7; i++) {
        for (int sign = 0; sign < 2; sign++) {
            uint8_t sig[64] = { 0 };
            memcpy(sig, cands[i], 32);
            sig[31] = (uint8_t)((sig[31] & 0x7f) | (sign << 7));
            listed += ed25519_small_order_encoding(sig);
            for (int s = 0; s < 4; s++) {
                sig[32] = (uint8_t)s;
                ck_assert_int_eq(both(t, pk, msg, sizeof msg, sig), -1);
            }
        }
    }
    ck_assert_int_eq(listed, 14);
    ed25519_table_free(t);

    /* R = the identity with s = k a satisfies [s]B - [k]A = R: only the
     * small-order check refuses it. */
    uint8_t a[32], A[32], kk[32], sig[64] = { 1 };
    crypto_core_ed25519_scalar_random(a);
    ck_assert_int_eq(crypto_scalarmult_ed25519_base_noclamp(A, a), 0);
    t = ed25519_table_new(A);
    ck_assert_ptr_nonnull(t);
    challenge(kk, sig, A, msg, sizeof msg);
    crypto_core_ed25519_scalar_mul(sig + 32, kk, a);
    ck_assert_int_eq(both(t, A, msg, sizeof msg, sig), -1);
    ed25519_table_free(t);
}
END_TEST

/* Keys with a torsion part (a B + T8): libsodium checks the plain
 * equation, so a signature made with a verifies when k T8 = 0, i.e. for
 * about 1 in 8 messages; our verdicts must match message for message. */
START_TEST(torsion_keys)
{
    ck_assert_int_ge(sodium_init(), 0);
    int valid = 0, refused = 0;
    for (int k = 0; k < 8; k++) {
        uint8_t a[32], aB[32], pk[32];
        crypto_core_ed25519_scalar_random(a);
        ck_assert_int_eq(crypto_scalarmult_ed25519_base_noclamp(aB, a), 0);
        ck_assert_int_eq(crypto_core_ed25519_add(pk, aB, y8), 0);
        struct ed25519_table *t = ed25519_table_new(pk);
        ck_assert_ptr_nonnull(t);
        for (int m = 0; m < 32; m++) {
            uint8_t msg[8] = { (uint8_t)k, (uint8_t)m }, r[32], R[32], kk[32], sig[64];
            crypto_core_ed25519_scalar_random(r);
            ck_assert_int_eq(crypto_scalarmult_ed25519_base_noclamp(R, r), 0);
            challenge(kk, R, pk, msg, sizeof msg);
            uint8_t ka[32];
            crypto_core_ed25519_scalar_mul(ka, kk, a);
            memcpy(sig, R, 32);
            crypto_core_ed25519_scalar_add(sig + 32, r, ka);
            if (both(t, pk, msg, sizeof msg, sig) == 0) valid++;
            else refused++;
        }
        ed25519_table_free(t);
    }
    /* Both outcomes happened (1 in 8 valid: 256 tries). */
    ck_assert_int_gt(valid, 0);
    ck_assert_int_gt(refused, 0);
}
END_TEST

/* A y with no x on the curve gets no table, and libsodium refuses it. */
START_TEST(keys_that_do_not_decode)
{
    ck_assert_int_ge(sodium_init(), 0);
    int off_curve = 0;
    for (int y = 2; y < 64; y++) {
        uint8_t pk[32] = { (uint8_t)y }, sig[64] = { 0 }, msg[1] = { 0 };
        struct ed25519_table *t = ed25519_table_new(pk);
        if (t) {
            ed25519_table_free(t);
            continue;
        }
        off_curve++;
        ck_assert_int_ne(crypto_sign_verify_detached(sig, msg, 1, pk), 0);
        ck_assert_int_eq(ed25519_has_order8(pk), -1);
    }
    ck_assert_int_gt(off_curve, 10);
}
END_TEST

static Suite *ed25519_suite(void)
{
    Suite *s = suite_create("ed25519");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, valid_signatures);
    tcase_add_test(tc, changed_bits);
    tcase_add_test(tc, scalar_not_canonical);
    tcase_add_test(tc, small_order_r);
    tcase_add_test(tc, torsion_keys);
    tcase_add_test(tc, keys_that_do_not_decode);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(ed25519_suite());
}
