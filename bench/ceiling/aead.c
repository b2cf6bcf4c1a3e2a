/* aead.c - ceiling: libsodium ChaCha20-Poly1305 (IETF, detached, as the
 * noise plugin uses it) on one core at the Noise frame size (65519
 * plaintext bytes + 16-byte tag = one 65535-byte Noise transport frame).
 *
 *   aead [BYTES]     (default 1 GiB)
 *
 * Prints one JSON line with three rates, each over BYTES of plaintext:
 * encrypt only (what a sending peer does), decrypt+verify only (a
 * receiving peer), and encrypt then decrypt of every frame on the same
 * core (both ends of a connection in one thread). Rates are per second
 * of this process's CPU time (a shared machine steals wall time); the
 * wall-clock time of the whole run is printed as wallSeconds.
 *
 * Built with -DWITH_OPENSSL (and -lcrypto), it also measures OpenSSL's
 * EVP ChaCha20-Poly1305 (assembly for AVX2/AVX-512) on the same frames:
 * what another AEAD implementation would give the noise plugin. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef WITH_OPENSSL
#include <openssl/evp.h>
#endif

#define FRAME 65519u

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of this process: the rate per core-second, whatever else the
 * machine runs (wall time is printed too). */
static double now(void)
{
    return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static void nonce_of(uint64_t n, unsigned char out[12])
{
    for (int i = 0; i < 4; i++) out[i] = 0;
    for (int i = 0; i < 8; i++) out[4 + i] = (unsigned char)(n >> (8 * i));
}

int main(int argc, char **argv)
{
    uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : (1ull << 30);
    if (sodium_init() < 0) return 1;
    unsigned char key[32], nonce[12], tag[16];
    randombytes_buf(key, sizeof key);
    unsigned char *pt = malloc(FRAME), *ct = malloc(FRAME);
    if (!pt || !ct) return 1;
    randombytes_buf(pt, FRAME);
    uint64_t frames = (total + FRAME - 1) / FRAME;

    double w0 = clock_s(CLOCK_MONOTONIC);
    /* Encrypt only. */
    double t0 = now();
    for (uint64_t i = 0; i < frames; i++) {
        nonce_of(i, nonce);
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(ct, tag, NULL, pt, FRAME, NULL, 0, NULL, nonce, key);
    }
    double enc = now() - t0;

    /* Decrypt only: the same frame again and again (nonce 0). */
    nonce_of(0, nonce);
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(ct, tag, NULL, pt, FRAME, NULL, 0, NULL, nonce, key);
    t0 = now();
    for (uint64_t i = 0; i < frames; i++) {
        if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(pt, NULL, ct, FRAME, tag, NULL, 0, nonce, key) != 0)
            return 1;
    }
    double dec = now() - t0;

    /* Both on one core. */
    t0 = now();
    for (uint64_t i = 0; i < frames; i++) {
        nonce_of(i, nonce);
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(ct, tag, NULL, pt, FRAME, NULL, 0, NULL, nonce, key);
        if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(pt, NULL, ct, FRAME, tag, NULL, 0, nonce, key) != 0)
            return 1;
    }
    double both = now() - t0;
    double wall = clock_s(CLOCK_MONOTONIC) - w0;

    double bytes = (double)frames * FRAME, mib = 1024.0 * 1024.0;
#ifdef WITH_OPENSSL
    /* OpenSSL EVP: encrypt only, then decrypt only (tag checked). */
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    const EVP_CIPHER *aead = EVP_chacha20_poly1305();
    int outl;
    t0 = now();
    for (uint64_t i = 0; i < frames; i++) {
        nonce_of(i, nonce);
        if (!EVP_EncryptInit_ex(ctx, aead, NULL, key, nonce) || !EVP_EncryptUpdate(ctx, ct, &outl, pt, FRAME) ||
            !EVP_EncryptFinal_ex(ctx, ct + outl, &outl) ||
            !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag))
            return 1;
    }
    double oenc = now() - t0;
    t0 = now();
    for (uint64_t i = 0; i < frames; i++) {
        if (!EVP_DecryptInit_ex(ctx, aead, NULL, key, nonce) || !EVP_DecryptUpdate(ctx, pt, &outl, ct, FRAME) ||
            !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) || EVP_DecryptFinal_ex(ctx, pt + outl, &outl) <= 0)
            return 1;
    }
    double odec = now() - t0;
    EVP_CIPHER_CTX_free(ctx);
    printf("{\"type\":\"aead\",\"frameBytes\":%u,\"bytes\":%.0f,\"encryptMiBs\":%.1f,\"decryptMiBs\":%.1f,"
           "\"encryptDecryptMiBs\":%.1f,\"opensslEncryptMiBs\":%.1f,\"opensslDecryptMiBs\":%.1f,"
           "\"cpuSeconds\":%.3f,\"wallSeconds\":%.3f}\n",
           FRAME, bytes, bytes / mib / enc, bytes / mib / dec, bytes / mib / both, bytes / mib / oenc,
           bytes / mib / odec, enc + dec + both + oenc + odec, clock_s(CLOCK_MONOTONIC) - w0);
    (void)wall;
#else
    printf("{\"type\":\"aead\",\"frameBytes\":%u,\"bytes\":%.0f,\"encryptMiBs\":%.1f,\"decryptMiBs\":%.1f,"
           "\"encryptDecryptMiBs\":%.1f,\"cpuSeconds\":%.3f,\"wallSeconds\":%.3f}\n",
           FRAME, bytes, bytes / mib / enc, bytes / mib / dec, bytes / mib / both, enc + dec + both, wall);
#endif
    free(pt);
    free(ct);
    return 0;
}
