/* noise_aead.h - ChaCha20-Poly1305 (RFC 8439, 96-bit nonce) seal and open
 * with detached 16-byte tags: the one primitive of the Noise transport.
 *
 * Two back-ends with identical results: OpenSSL's EVP (assembly for
 * AVX2/AVX-512; about 2.3x libsodium's rate on the benchmark machine, see
 * docs/BENCHMARKS.md) when the build found libcrypto (P2P_HAVE_OPENSSL),
 * libsodium otherwise; with OpenSSL, frames under 1 KiB still go to
 * libsodium, which is faster there (noise_aead.c).
 *
 * OpenSSL needs cipher contexts, which a noise_aead holds: one per host
 * (the noise plugin's instance), used only by the thread that runs the
 * host, created once and freed with it. Every function takes one; NULL
 * means libsodium for every frame (handshake logic, tests, fuzzers). Not
 * thread-local storage: _Thread_local in a dlopen'ed plugin is dynamic
 * TLS, which LeakSanitizer's exit-time scan mis-tracks (its tracer faulted
 * on a bogus DTLS range in about one p2pchat exit in three), and whose
 * contexts no one frees when a thread ends. */
#ifndef NOISE_AEAD_H
#define NOISE_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "p2p/stream.h"

#define NOISE_AEAD_KEYLEN 32
#define NOISE_AEAD_NONCELEN 12
#define NOISE_AEAD_TAGLEN 16

typedef struct noise_aead noise_aead;

/* A back-end context for one thread's use: with OpenSSL two cipher
 * contexts, made here (OpenSSL's set-up, ~2 MiB of RSS, happens now and
 * not at a first large frame later); NULL when out of memory (callers
 * then use libsodium, which is correct and slower) and always without
 * OpenSSL. */
noise_aead *noise_aead_new(void);
void noise_aead_free(noise_aead *a);

/* Encrypts len bytes of src into dst (dst may equal src; otherwise no
 * overlap) and writes the tag. Returns 0, or P2P_ECRYPTO when the back-end
 * fails (out of memory in OpenSSL). */
int noise_aead_seal(noise_aead *a, const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
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
int noise_aead_seal_gather(noise_aead *a, const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
                           struct noise_gather *g, size_t len, uint8_t *dst,
                           uint8_t tag[NOISE_AEAD_TAGLEN]);

/* Verifies and decrypts; dst as above. Returns 0, or P2P_ECRYPTO when the
 * tag does not match (dst is then unspecified and must not be used). */
int noise_aead_open(noise_aead *a, const uint8_t key[NOISE_AEAD_KEYLEN], const uint8_t nonce[NOISE_AEAD_NONCELEN],
                    const uint8_t *ad, size_t adlen, const uint8_t *src, size_t len,
                    const uint8_t tag[NOISE_AEAD_TAGLEN], uint8_t *dst);

/* "openssl" or "libsodium": the back-end of frames of 1 KiB and more
 * sealed with a non-NULL context, for logs and benchmarks. */
const char *noise_aead_backend(void);

#endif
