/* kad_key.h - the Kademlia key space: 256-bit keys (SHA-256 of a PeerId's
 * bytes or of a record/provider key), XOR distance, common prefix length,
 * and random PeerIds that fall into a chosen bucket (for bucket refresh).
 * No I/O, no hidden randomness: random bytes come from the caller. */
#ifndef KAD_KEY_H
#define KAD_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "p2p/peerid.h"

#define KAD_KEY_BITS 256

typedef struct kad_key {
    uint8_t b[32];
} kad_key;

/* SHA-256 of arbitrary bytes (record keys, provider keys, FIND_NODE keys). */
void kad_key_from_bytes(kad_key *k, const uint8_t *in, size_t len);
/* SHA-256 of the PeerId's multihash bytes. */
void kad_key_from_peer(kad_key *k, const p2p_peerid *id);
/* XOR distance. */
void kad_key_distance(const kad_key *a, const kad_key *b, kad_key *out);
/* Compare the distances of a and b to target: <0 when a is closer, 0 when
 * a == b, >0 when b is closer. */
int kad_key_cmp(const kad_key *target, const kad_key *a, const kad_key *b);
/* Common prefix length in bits, 0..256 (256 only for equal keys). */
unsigned kad_key_cpl(const kad_key *a, const kad_key *b);

/* Fill buf with n random bytes (the glue uses the system's generator,
 * tests a deterministic one). */
typedef void (*kad_rand_fn)(void *arg, uint8_t *buf, size_t n);

/* A random sha2-256 PeerId (multihash 0x12 0x20 + 32 random bytes: a
 * valid PeerId for every implementation) whose key has exactly cpl common
 * prefix bits with self. Tries at most max_tries candidates (each 1/2^(cpl+1)
 * likely); when none fits, returns the candidate whose cpl came closest
 * from below (bucket refresh then looks up a key in a nearer-to-far
 * bucket, which is still useful). Returns the cpl the id has. */
unsigned kad_key_random_peer(p2p_peerid *out, const kad_key *self, unsigned cpl, kad_rand_fn rnd, void *arg,
                             unsigned max_tries);

#endif
