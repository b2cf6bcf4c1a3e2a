/* ed25519.h - Ed25519 signature verification with a per-key table
 * (internal to the core; used by p2p_pubkey_verify through the cache in
 * verify_cache.c).
 *
 * Why: one host verifies the same few authors' signatures again and again
 * (gossipsub messages, peer records, reconnecting peers' Noise
 * handshakes). libsodium's verification decompresses the key and runs a
 * double-scalar multiplication with small windows every time; with a table
 * of 256 precomputed multiples of the key (and one of the base point) the
 * check [s]B - [k]A == R takes 128 mixed additions and 4 doublings:
 * 2.3x faster (16 us against libsodium's 36 for a 1.2 KiB message on
 * the benchmark machine).
 *
 * The verdict is libsodium's (crypto_sign_verify_detached, 1.0.18 and
 * later, without ED25519_COMPAT) for every input: s must be below the
 * group order L, R must not be one of the small-order encodings, and the
 * re-encoded [s]B - [k]A must equal R byte for byte. The key's own checks
 * (canonical, not of small order, on the curve) are libsodium's too: a
 * table is only made for a key that libsodium has accepted a signature
 * from (verify_cache.c), and ed25519_table_new refuses a key it cannot
 * decode. Verification handles public data only, so nothing here is
 * constant-time.
 *
 * Thread-safe: a table is immutable once made; the base point's table is
 * made once per process (pthread_once). */
#ifndef P2P_ED25519_H
#define P2P_ED25519_H

#include <stddef.h>
#include <stdint.h>

struct ed25519_table;

/* Bytes a table takes (for memory accounting). */
size_t ed25519_table_size(void);

/* A table for public key pk (32 bytes), or NULL if pk does not decode to
 * a curve point or memory ran out. Costs about 2 libsodium verifications. Free
 * with ed25519_table_free. */
struct ed25519_table *ed25519_table_new(const uint8_t pk[32]);
void ed25519_table_free(struct ed25519_table *t);

/* 0 if sig (64 bytes) is pk's valid signature of msg, -1 if not. pk must
 * be the key t was made for (-1 otherwise). */
int ed25519_verify_table(const struct ed25519_table *t, const uint8_t pk[32], const uint8_t *msg, size_t len,
                         const uint8_t sig[64]);

/* For tests: 1 if the 32-byte encoding is one libsodium refuses as a
 * small-order R (top bit ignored), 0 if not; 1 if s (32 bytes) < L. */
int ed25519_small_order_encoding(const uint8_t s[32]);
int ed25519_scalar_canonical(const uint8_t s[32]);

/* For tests: 1 if the encoding decodes to a point P with 8P the identity
 * and 4P not (a point of order 8), 0 if not, -1 if it does not decode. */
int ed25519_has_order8(const uint8_t s[32]);

/* verify_cache.c: 0 if sig is pk's valid signature of msg, -1 if not;
 * uses pk's table once the cache holds one (p2p_verify_cache_limit). */
int ed25519_verify_cached(const uint8_t pk[32], const uint8_t *msg, size_t len, const uint8_t sig[64]);

#endif
