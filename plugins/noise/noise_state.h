/* noise_state.h - the Noise Protocol Framework (revision 34) objects for
 * Noise_XX_25519_ChaChaPoly_SHA256: CipherState, SymmetricState and a
 * HandshakeState for the XX pattern.
 *
 * Pure logic: bytes in, bytes out, all state in the caller's structs, no
 * allocation, no global state. Randomness is used only to generate an
 * ephemeral key when none was given; with explicit ephemeral keys every
 * output is deterministic (that is how the test vectors are checked).
 *
 * Primitives (libsodium): X25519 (crypto_scalarmult), ChaCha20-Poly1305
 * IETF with the Noise nonce layout (4 zero bytes, then the 64-bit counter
 * little-endian), SHA-256, HMAC-SHA256 for HKDF.
 *
 * Errors: P2P_EPROTO malformed message, P2P_ECRYPTO authentication or DH
 * failure, P2P_ELIMIT nonce space exhausted (n reached 2^64-1, which the
 * spec reserves), P2P_ERANGE output too large or buffer too small,
 * P2P_ESTATE call out of order or after a failure. After any error a
 * noise_handshake is dead: every further call returns P2P_ESTATE. */
#ifndef NOISE_STATE_H
#define NOISE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct noise_gather;
struct noise_aead;

#define NOISE_DHLEN 32
#define NOISE_HASHLEN 32
#define NOISE_KEYLEN 32
#define NOISE_TAGLEN 16
/* Largest Noise message (handshake or transport), from the Noise spec. */
#define NOISE_MSG_MAX 65535
#define NOISE_PROTOCOL_NAME "Noise_XX_25519_ChaChaPoly_SHA256"

/* ---- CipherState ------------------------------------------------------ */

typedef struct noise_cipher {
    uint8_t k[NOISE_KEYLEN];
    uint64_t n;
    bool has_key;
    /* Back-end contexts (noise_aead.h), borrowed; NULL = libsodium. */
    struct noise_aead *aead;
} noise_cipher;

/* InitializeKey(k); k NULL = empty key (encryption is the identity).
 * Sets aead to NULL. */
void noise_cipher_init(noise_cipher *cs, const uint8_t *k);
/* SetNonce(n), for tests and rekey-free resumption. */
void noise_cipher_set_nonce(noise_cipher *cs, uint64_t n);
/* EncryptWithAd: writes len + NOISE_TAGLEN bytes to out (len bytes when the
 * key is empty). out may equal pt (in place); otherwise the ranges must
 * not overlap. */
int noise_cipher_encrypt(noise_cipher *cs, const uint8_t *ad, size_t adlen,
                         const uint8_t *pt, size_t len, uint8_t *out);
/* DecryptWithAd: ct is len bytes including the tag; writes len - TAGLEN
 * plaintext bytes to out (may equal ct). On P2P_ECRYPTO the nonce is not
 * incremented and out is left unspecified. */
int noise_cipher_decrypt(noise_cipher *cs, const uint8_t *ad, size_t adlen,
                         const uint8_t *ct, size_t len, uint8_t *out);
/* The same two with detached tags, for zero-copy framing: the body is
 * transformed in place or from src to dst (same length). */
int noise_cipher_encrypt_detached(noise_cipher *cs, const uint8_t *src, size_t len,
                                  uint8_t *dst, uint8_t tag[NOISE_TAGLEN]);
int noise_cipher_decrypt_detached(noise_cipher *cs, const uint8_t *src, size_t len,
                                  const uint8_t tag[NOISE_TAGLEN], uint8_t *dst);
/* encrypt_detached with the plaintext gathered from pieces: the next len
 * bytes of g (advanced past them), ciphertext to dst (see
 * noise_aead_seal_gather). */
int noise_cipher_encrypt_gather(noise_cipher *cs, struct noise_gather *g, size_t len,
                                uint8_t *dst, uint8_t tag[NOISE_TAGLEN]);
void noise_cipher_wipe(noise_cipher *cs);

/* ---- SymmetricState --------------------------------------------------- */

typedef struct noise_symmetric {
    noise_cipher cs;
    uint8_t ck[NOISE_HASHLEN];
    uint8_t h[NOISE_HASHLEN];
} noise_symmetric;

void noise_symmetric_init(noise_symmetric *ss, const char *protocol_name);
void noise_symmetric_mix_key(noise_symmetric *ss, const uint8_t *ikm, size_t len);
void noise_symmetric_mix_hash(noise_symmetric *ss, const uint8_t *data, size_t len);
/* out: len + TAGLEN bytes when a key is set, else len. */
int noise_symmetric_encrypt_and_hash(noise_symmetric *ss, const uint8_t *pt, size_t len,
                                     uint8_t *out);
/* out: len - TAGLEN bytes when a key is set, else len. */
int noise_symmetric_decrypt_and_hash(noise_symmetric *ss, const uint8_t *ct, size_t len,
                                     uint8_t *out);
/* Split(): c1 is the initiator->responder cipher, c2 the other direction. */
void noise_symmetric_split(const noise_symmetric *ss, noise_cipher *c1, noise_cipher *c2);

/* HKDF with HMAC-SHA256 and two outputs (Noise section 4.3). Exposed for
 * tests. */
void noise_hkdf2(const uint8_t ck[NOISE_HASHLEN], const uint8_t *ikm, size_t ikmlen,
                 uint8_t out1[NOISE_HASHLEN], uint8_t out2[NOISE_HASHLEN]);

/* ---- HandshakeState for XX -------------------------------------------- */

enum noise_role { NOISE_INITIATOR = 0, NOISE_RESPONDER = 1 };

typedef struct noise_handshake {
    noise_symmetric ss;
    uint8_t s[NOISE_DHLEN], s_pub[NOISE_DHLEN];   /* local static */
    uint8_t e[NOISE_DHLEN], e_pub[NOISE_DHLEN];   /* local ephemeral */
    uint8_t rs[NOISE_DHLEN], re[NOISE_DHLEN];     /* remote static, ephemeral */
    bool has_e, has_rs, has_re;
    bool initiator;
    bool failed;
    uint8_t msg;        /* index of the next handshake message, 0..3 */
} noise_handshake;

/* Initialize for XX. prologue may be NULL/0 (libp2p uses an empty one).
 * s: the local static X25519 private key (32 bytes, required). e: the
 * ephemeral private key, or NULL to draw one at random when it is needed
 * (test vectors pass it explicitly). Keys are copied. */
void noise_handshake_init(noise_handshake *hs, enum noise_role role,
                          const uint8_t *prologue, size_t prologue_len,
                          const uint8_t s[NOISE_DHLEN], const uint8_t *e);
/* The same with the static key's public half given (s_pub, 32 bytes), as
 * computed once by a host that proves one static key in every handshake:
 * it saves an X25519 base-point multiplication per handshake. s_pub must
 * be s's public key; NULL computes it. */
void noise_handshake_init_pub(noise_handshake *hs, enum noise_role role,
                              const uint8_t *prologue, size_t prologue_len,
                              const uint8_t s[NOISE_DHLEN], const uint8_t *s_pub, const uint8_t *e);
/* Whether the next message is ours to write. */
bool noise_handshake_wants_write(const noise_handshake *hs);
bool noise_handshake_done(const noise_handshake *hs);
/* Size of the next message we write, for a payload of plen bytes. */
size_t noise_handshake_write_size(const noise_handshake *hs, size_t plen);
/* WriteMessage: writes the next message (at most NOISE_MSG_MAX bytes) to
 * out (cap bytes) and sets *outlen. payload must not overlap out. */
int noise_handshake_write(noise_handshake *hs, const uint8_t *payload, size_t plen,
                          uint8_t *out, size_t cap, size_t *outlen);
/* ReadMessage: processes msg (len <= NOISE_MSG_MAX) and writes the
 * decrypted payload to payload (cap bytes; len bytes always suffice),
 * setting *plen. */
int noise_handshake_read(noise_handshake *hs, const uint8_t *msg, size_t len,
                         uint8_t *payload, size_t cap, size_t *plen);
/* After the last message: tx encrypts what we send, rx decrypts what we
 * receive. Wipes the handshake's secrets. P2P_ESTATE before done. */
int noise_handshake_split(noise_handshake *hs, noise_cipher *tx, noise_cipher *rx);
/* The handshake hash h (channel binding); valid once done. */
const uint8_t *noise_handshake_hash(const noise_handshake *hs);
/* The remote static public key, or NULL when not received yet. */
const uint8_t *noise_handshake_remote_static(const noise_handshake *hs);
void noise_handshake_wipe(noise_handshake *hs);

/* X25519 public key of a private key. */
void noise_dh_public(uint8_t pub[NOISE_DHLEN], const uint8_t priv[NOISE_DHLEN]);

#endif
