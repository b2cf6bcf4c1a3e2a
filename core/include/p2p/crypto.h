/* p2p/crypto.h - libp2p keys (peer-ids spec).
 *
 * We sign with Ed25519 only. Public keys of every libp2p key type (RSA,
 * Ed25519, Secp256k1, ECDSA) can be decoded, checked for structure,
 * turned into PeerIds and used to verify signatures: Ed25519 with
 * libsodium, the other three with OpenSSL's libcrypto (a core built
 * without it, -DP2P_OPENSSL=OFF or no libssl-dev, returns
 * P2P_EUNSUPPORTED for them). All types are plain values. */
#ifndef P2P_CRYPTO_H
#define P2P_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "api.h"

P2P_BEGIN_DECLS

enum p2p_key_type {
    P2P_KEY_RSA = 0,
    P2P_KEY_ED25519 = 1,
    P2P_KEY_SECP256K1 = 2,
    P2P_KEY_ECDSA = 3
};

/* Largest public key Data we accept: an 8192-bit RSA key in DER
 * (SubjectPublicKeyInfo) is about 1060 bytes. */
#define P2P_PUBKEY_DATA_MAX 1100
/* Largest protobuf-encoded public key. */
#define P2P_PUBKEY_PB_MAX (P2P_PUBKEY_DATA_MAX + 8)

typedef struct p2p_pubkey {
    enum p2p_key_type type;
    uint16_t len;
    uint8_t data[P2P_PUBKEY_DATA_MAX];  /* the protobuf's Data field */
} p2p_pubkey;

/* An Ed25519 key pair. sk is libsodium's 64-byte secret key (seed || pk). */
typedef struct p2p_keypair {
    uint8_t sk[64];
    uint8_t pk[32];
} p2p_keypair;

#define P2P_ED25519_SIG_LEN 64
/* Encoded PrivateKey protobuf: 2 + 2 + 64 bytes. */
#define P2P_PRIVKEY_PB_LEN 68

P2P_API int p2p_keypair_generate(p2p_keypair *kp);
P2P_API void p2p_keypair_from_seed(p2p_keypair *kp, const uint8_t seed[32]);
/* rust-libp2p's examples' --secret-key-seed: the 32-byte secret is
 * [n, 0, 0, ..., 0]. */
P2P_API void p2p_keypair_from_seed_byte(p2p_keypair *kp, uint8_t n);
P2P_API void p2p_keypair_public(const p2p_keypair *kp, p2p_pubkey *pub);
P2P_API void p2p_keypair_sign(const p2p_keypair *kp, const uint8_t *msg, size_t len,
                              uint8_t sig[P2P_ED25519_SIG_LEN]);
/* Wipe secret material. */
P2P_API void p2p_keypair_wipe(p2p_keypair *kp);

/* PrivateKey protobuf (Type=Ed25519, Data = 64 bytes: secret seed
 * followed by the public key, as rust-libp2p and go-libp2p write it).
 * Decoding also accepts a 32-byte Data (seed only); a 64-byte Data whose
 * public half does not match the seed is rejected. */
P2P_API int p2p_privkey_encode(const p2p_keypair *kp, uint8_t out[P2P_PRIVKEY_PB_LEN]);
P2P_API int p2p_privkey_decode(p2p_keypair *kp, const uint8_t *in, size_t len);

/* PublicKey protobuf, deterministic encoding (Type then Data). Returns the
 * length written or P2P_ERANGE. */
P2P_API int p2p_pubkey_encode(const p2p_pubkey *pub, uint8_t *out, size_t cap);
/* Decode and check the key's structure for its type: Ed25519 32 bytes;
 * Secp256k1 33-byte compressed point (0x02/0x03 prefix); ECDSA and RSA a
 * DER SubjectPublicKeyInfo with the matching algorithm OID. Errors:
 * P2P_EINVAL, P2P_EUNSUPPORTED (unknown key type), P2P_ERANGE. */
P2P_API int p2p_pubkey_decode(p2p_pubkey *pub, const uint8_t *in, size_t len);
P2P_API bool p2p_pubkey_equal(const p2p_pubkey *a, const p2p_pubkey *b);
/* Verify a signature as the peer-ids spec defines it: Ed25519 over msg;
 * RSA PKCS#1 v1.5 with SHA-256; ECDSA (P-256, P-384, P-521) and secp256k1
 * a DER-encoded (r, s) over SHA-256 of msg (either S half, as go-libp2p
 * accepts). 0 if valid, P2P_ECRYPTO if not (also for a key that is
 * well-formed but not a point of its curve), P2P_EINVAL for a key that
 * fails p2p_pubkey_decode's checks, P2P_EUNSUPPORTED for RSA, ECDSA and
 * secp256k1 in a core built without libcrypto. Thread-safe. An Ed25519
 * key that keeps signing (gossipsub authors, reconnecting peers) gets a
 * precomputed table after a few signatures and then verifies ~2.3x
 * faster; the verdicts are libsodium's either way (see below). */
P2P_API int p2p_pubkey_verify(const p2p_pubkey *pub, const uint8_t *msg, size_t len,
                              const uint8_t *sig, size_t siglen);

/* The Ed25519 verification cache (process-wide, thread-safe): a key
 * gets a table (~30 KiB) once libsodium has accepted 3 of its
 * signatures; at most `tables` are held (default 32, at most 65536; 0
 * turns the cache off and frees the tables), the least recently used
 * goes first. */
P2P_API void p2p_verify_cache_limit(size_t tables);
struct p2p_verify_cache_stats {
    uint64_t fast;          /* verifications with a key's table */
    uint64_t slow;          /* verifications by libsodium (no table yet) */
    uint64_t tables_made;
    size_t tables;          /* tables held now */
    size_t bytes;           /* their memory */
    size_t limit;           /* p2p_verify_cache_limit */
};
P2P_API void p2p_verify_cache_stats(struct p2p_verify_cache_stats *st);
P2P_API const char *p2p_key_type_name(enum p2p_key_type t);

P2P_END_DECLS
#endif
