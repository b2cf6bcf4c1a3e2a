/* fuzz_ed25519.c - the core's table verifier (core/src/ed25519.c)
 * against libsodium: any input on which the two verdicts differ aborts.
 *
 * Input: a mode byte, then
 *  - even mode: a 64-byte mask and a message. One of four fixed keys
 *    signs the message and the mask is XORed into the signature, so an
 *    all-zero mask is a valid signature and sparse masks explore the
 *    signatures next to it (changed R, s past L, ...);
 *  - odd mode: a key, a signature and a message, all the fuzzer's. Keys
 *    that libsodium refuses outright (non-canonical y, small order) never
 *    get a table (the cache makes tables only for keys libsodium accepted
 *    a signature from), so they are skipped; a key with no table (not on
 *    the curve) must fail libsodium's verification too. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ed25519.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pks[4][32], sks[4][64];
static struct ed25519_table *tabs[4];

static void setup(void)
{
    if (tabs[0]) return;
    if (sodium_init() < 0) abort();
    for (int i = 0; i < 4; i++) {
        uint8_t seed[32];
        memset(seed, 0x41 + i, sizeof seed);
        crypto_sign_seed_keypair(pks[i], sks[i], seed);
        tabs[i] = ed25519_table_new(pks[i]);
        if (!tabs[i]) abort();
    }
}

static void compare(const struct ed25519_table *t, const uint8_t pk[32], const uint8_t *msg, size_t len,
                    const uint8_t sig[64])
{
    int ours = ed25519_verify_table(t, pk, msg, len, sig);
    int lib = crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : -1;
    if (ours != lib) abort();
}

/* libsodium's key checks: y (top bit aside) below p, not of small order. */
static int key_plausible(const uint8_t pk[32])
{
    int all_ones = (pk[31] & 0x7f) == 0x7f && pk[0] >= 0xed;
    for (int i = 1; i < 31 && all_ones; i++) all_ones = pk[i] == 0xff;
    return !all_ones && !ed25519_small_order_encoding(pk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1) return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    if (!(mode & 1)) {
        if (size < 64) return 0;
        int k = (mode >> 1) & 3;
        const uint8_t *msg = data + 64;
        size_t len = size - 64;
        uint8_t sig[64];
        crypto_sign_detached(sig, NULL, msg, len, sks[k]);
        for (int i = 0; i < 64; i++) sig[i] ^= data[i];
        compare(tabs[k], pks[k], msg, len, sig);
        return 0;
    }
    if (size < 96) return 0;
    const uint8_t *pk = data, *sig = data + 32, *msg = data + 96;
    size_t len = size - 96;
    if (!key_plausible(pk)) return 0;
    struct ed25519_table *t = ed25519_table_new(pk);
    if (!t) {
        if (crypto_sign_verify_detached(sig, msg, len, pk) == 0) abort();
        return 0;
    }
    compare(t, pk, msg, len, sig);
    ed25519_table_free(t);
    return 0;
}
