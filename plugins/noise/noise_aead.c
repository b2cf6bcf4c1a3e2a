/* noise_aead.c - see noise_aead.h. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "noise_aead.h"

/* The next piece of at most *len bytes at g (non-empty); advances g. */
static const uint8_t *gather_next(struct noise_gather *g, size_t *len)
{
    while (g->off == g->iov[g->i].len) {
        g->i++;
        g->off = 0;
    }
    const struct p2p_iovec *v = &g->iov[g->i];
    size_t n = v->len - g->off;
    if (n > *len) n = *len;
    const uint8_t *p = v->base + g->off;
    g->off += n;
    *len = n;
    return p;
}

/* ---- libsodium: every frame without OpenSSL, small frames with it ------- */

#include <sodium.h>

static int sodium_seal(const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
                       const uint8_t *ad, size_t adlen, const uint8_t *src, size_t len, uint8_t *dst,
                       uint8_t tag[NOISE_AEAD_TAGLEN])
{
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, tag, NULL, src, len, ad, adlen, NULL, nonce, key);
    return 0;
}

static int sodium_seal_gather(const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
                              struct noise_gather *g, size_t len, uint8_t *dst, uint8_t tag[NOISE_AEAD_TAGLEN])
{
    for (size_t done = 0; done < len;) {
        size_t n = len - done;
        const uint8_t *p = gather_next(g, &n);
        if (p != dst + done) memcpy(dst + done, p, n);
        done += n;
    }
    return sodium_seal(key, nonce, NULL, 0, dst, len, dst, tag);
}

static int sodium_open(const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
                       const uint8_t *ad, size_t adlen, const uint8_t *src, size_t len,
                       const uint8_t tag[NOISE_AEAD_TAGLEN], uint8_t *dst)
{
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, len, tag, ad, adlen, nonce, key) != 0)
        return P2P_ECRYPTO;
    return 0;
}

#ifdef P2P_HAVE_OPENSSL
#include <openssl/evp.h>

/* Below this many bytes libsodium is faster: OpenSSL's per-message set-up
 * (key, nonce, final, tag: ~1.4 us here) outweighs its faster bulk code
 * until ~1 KiB (libsodium 0.5 us for 64 bytes, equal at 1 KiB, 2.4x
 * slower at 64 KiB). Handshakes, multistream, identify, window updates
 * and chat messages are small frames. The two compute the same AEAD
 * (RFC 8439), so which one sealed a frame does not matter to the peer. */
#define SMALL_FRAME 1024

/* One context per direction: re-initialising only key and nonce on a
 * context that already has its cipher costs no lookup and no allocation,
 * so the steady state allocates nothing per frame. Made with the host:
 * OpenSSL's set-up (~2 MiB of RSS) then happens at start, not at some
 * first large frame later, so a process's memory after start-up stays
 * flat (the soak test's leak check saw that step as growth). */
struct noise_aead {
    EVP_CIPHER_CTX *seal, *open;
};

static EVP_CIPHER_CTX *ctx_new(int enc)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx && EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, NULL, NULL, enc) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

noise_aead *noise_aead_new(void)
{
    noise_aead *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->seal = ctx_new(1);
    a->open = ctx_new(0);
    if (!a->seal || !a->open) {
        noise_aead_free(a);
        return NULL;
    }
    return a;
}

void noise_aead_free(noise_aead *a)
{
    if (!a) return;
    EVP_CIPHER_CTX_free(a->seal);
    EVP_CIPHER_CTX_free(a->open);
    free(a);
}

int noise_aead_seal(noise_aead *a, const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
                    const uint8_t *ad, size_t adlen, const uint8_t *src, size_t len,
                    uint8_t *dst, uint8_t tag[NOISE_AEAD_TAGLEN])
{
    if (!a || len + adlen < SMALL_FRAME) return sodium_seal(key, nonce, ad, adlen, src, len, dst, tag);
    EVP_CIPHER_CTX *ctx = a->seal;
    int outl;
    if (len > INT_MAX || adlen > INT_MAX) return P2P_ECRYPTO;   /* both contexts exist (noise_aead_new) */
    if (EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, 1) != 1) return P2P_ECRYPTO;
    if (adlen && EVP_CipherUpdate(ctx, NULL, &outl, ad, (int)adlen) != 1) return P2P_ECRYPTO;
    if (len && EVP_CipherUpdate(ctx, dst, &outl, src, (int)len) != 1) return P2P_ECRYPTO;
    if (EVP_CipherFinal_ex(ctx, dst + len, &outl) != 1) return P2P_ECRYPTO;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, NOISE_AEAD_TAGLEN, tag) != 1) return P2P_ECRYPTO;
    return 0;
}

int noise_aead_seal_gather(noise_aead *a, const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
                           struct noise_gather *g, size_t len, uint8_t *dst,
                           uint8_t tag[NOISE_AEAD_TAGLEN])
{
    if (!a || len < SMALL_FRAME) return sodium_seal_gather(key, nonce, g, len, dst, tag);
    EVP_CIPHER_CTX *ctx = a->seal;
    int outl;
    if (len > INT_MAX) return P2P_ECRYPTO;
    if (EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, 1) != 1) return P2P_ECRYPTO;
    /* The cipher keeps partial ChaCha20 and Poly1305 blocks between
     * updates, so pieces may end anywhere. */
    for (size_t left = len; left;) {
        size_t n = left;
        const uint8_t *p = gather_next(g, &n);
        if (EVP_CipherUpdate(ctx, dst, &outl, p, (int)n) != 1) return P2P_ECRYPTO;
        dst += n;
        left -= n;
    }
    if (EVP_CipherFinal_ex(ctx, dst, &outl) != 1) return P2P_ECRYPTO;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, NOISE_AEAD_TAGLEN, tag) != 1) return P2P_ECRYPTO;
    return 0;
}

int noise_aead_open(noise_aead *a, const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
                    const uint8_t *ad, size_t adlen, const uint8_t *src, size_t len,
                    const uint8_t tag[NOISE_AEAD_TAGLEN], uint8_t *dst)
{
    if (!a || len + adlen < SMALL_FRAME) return sodium_open(key, nonce, ad, adlen, src, len, tag, dst);
    EVP_CIPHER_CTX *ctx = a->open;
    int outl;
    if (len > INT_MAX || adlen > INT_MAX) return P2P_ECRYPTO;   /* both contexts exist (noise_aead_new) */
    if (EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, 0) != 1) return P2P_ECRYPTO;
    if (adlen && EVP_CipherUpdate(ctx, NULL, &outl, ad, (int)adlen) != 1) return P2P_ECRYPTO;
    if (len && EVP_CipherUpdate(ctx, dst, &outl, src, (int)len) != 1) return P2P_ECRYPTO;
    /* The tag is checked by Final, after the body was decrypted into dst:
     * callers discard dst on failure (noise_aead.h). */
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, NOISE_AEAD_TAGLEN, (void *)tag) != 1)
        return P2P_ECRYPTO;
    if (EVP_CipherFinal_ex(ctx, dst + len, &outl) != 1) return P2P_ECRYPTO;
    return 0;
}

const char *noise_aead_backend(void) { return "openssl"; }

#else

noise_aead *noise_aead_new(void) { return NULL; }
void noise_aead_free(noise_aead *a) { (void)a; }

int noise_aead_seal(noise_aead *a, const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
                    const uint8_t *ad, size_t adlen, const uint8_t *src, size_t len,
                    uint8_t *dst, uint8_t tag[NOISE_AEAD_TAGLEN])
{
    (void)a;
    return sodium_seal(key, nonce, ad, adlen, src, len, dst, tag);
}

int noise_aead_seal_gather(noise_aead *a, const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
                           struct noise_gather *g, size_t len, uint8_t *dst,
                           uint8_t tag[NOISE_AEAD_TAGLEN])
{
    (void)a;
    return sodium_seal_gather(key, nonce, g, len, dst, tag);
}

int noise_aead_open(noise_aead *a, const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
                    const uint8_t *ad, size_t adlen, const uint8_t *src, size_t len,
                    const uint8_t tag[NOISE_AEAD_TAGLEN], uint8_t *dst)
{
    (void)a;
    return sodium_open(key, nonce, ad, adlen, src, len, tag, dst);
}

const char *noise_aead_backend(void) { return "libsodium"; }
#endif
