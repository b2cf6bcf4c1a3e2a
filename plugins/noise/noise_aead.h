/* noise_aead.h - ChaCha20-Poly1305 (RFC 8439, 96-bit nonce) seal and open
 * with detached 16-byte tags: the one primitive of the Noise transport.
 *
 * Two back-ends with identical results: OpenSSL's EVP (assembly for
 * AVX2/AVX-512; about 2.3x libsodium's rate on the benchmark machine, see
 * docs/BENCHMARKS.md) when the build found libcrypto (P2P_HAVE_OPENSSL),
 * libsodium otherwise; with OpenSSL, frames under 1 KiB still go to
 * libsodium, which is faster there (noise_aead.c). The OpenSSL back-end
 * keeps one cipher context per thread and direction, created on first use
 * and never freed (two small allocations per thread that ever encrypts). */
#ifndef NOISE_AEAD_H
#define NOISE_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "p2p/stream.h"

#define NOISE_AEAD_KEYLEN 32
#define NOISE_AEAD_NONCELEN 12
#define NOISE_AEAD_TAGLEN 16

/* Encrypts len bytes of src into dst (dst may equal src; otherwise no
 * overlap) and writes the tag. Returns 0, or P2P_ECRYPTO when the back-end
 * fails (out of memory in OpenSSL). */
int noise_aead_seal(const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
                    const uint8_t *ad, size_t adlen, const uint8_t *src, size_t len,
                    uint8_t *dst, uint8_t tag[NOISE_AEAD_TAGLEN]);

/* A read position in a plaintext gathered from pieces (a muxer's frame
 * headers and the application's bytes): piece i, offset off in it. */
struct noise_gather {
    const struct p2p_iovec *iov;
    size_t n;
    size_t i, off;
};

/* As noise_aead_seal without associated data, the len plaintext bytes
 * taken from g (which advances past them; they must be there) and the
 * ciphertext written contiguously to dst, which overlaps no piece (or is
 * the one piece itself: in place).
 * OpenSSL encrypts each piece where it is (one cipher update per piece);
 * libsodium, which has no incremental AEAD, joins them in dst first. */
int noise_aead_seal_gather(const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
                           struct noise_gather *g, size_t len, uint8_t *dst,
                           uint8_t tag[NOISE_AEAD_TAGLEN]);

/* Verifies and decrypts; dst as above. Returns 0, or P2P_ECRYPTO when the
 * tag does not match (dst is then unspecified and must not be used). */
int noise_aead_open(const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
                    const uint8_t *ad, size_t adlen, const uint8_t *src, size_t len,
                    const uint8_t tag[NOISE_AEAD_TAGLEN], uint8_t *dst);

/* "openssl" or "libsodium", for logs and benchmarks. */
const char *noise_aead_backend(void);

#endif
