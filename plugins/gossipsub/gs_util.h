/* gs_util.h - small containers for the gossipsub logic: a hash map keyed
 * by byte strings, a set of 64-bit hashes with a per-entry counter, a
 * deterministic PRNG and an arena allocator for protobuf-c.
 *
 * Hashing is keyed (SipHash-2-4 through libsodium's crypto_shorthash) with
 * a per-instance key, because the keys (message ids, topics) come from
 * the network: an attacker must not be able to make all keys collide. */
#ifndef GS_UTIL_H
#define GS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- PRNG (xoshiro256**), deterministic from a seed ------------------- */

struct gs_rng {
    uint64_t s[4];
};

void gs_rng_seed(struct gs_rng *r, uint64_t seed);
uint64_t gs_rng_next(struct gs_rng *r);
/* Uniform in [0, n); 0 when n == 0. */
size_t gs_rng_below(struct gs_rng *r, size_t n);
/* Fisher-Yates shuffle of an array of pointers. */
void gs_rng_shuffle(struct gs_rng *r, void **v, size_t n);
void gs_rng_bytes(struct gs_rng *r, uint8_t *out, size_t n);

/* ---- keyed hash --------------------------------------------------------- */

#define GS_HASHKEY_LEN 16
uint64_t gs_hash(const uint8_t key[GS_HASHKEY_LEN], const void *data, size_t len);

/* ---- map: byte-string keys -> pointers ---------------------------------- */

/* The map does not copy keys: a key must stay valid (usually it lives
 * inside the value) until it is deleted. Linear probing with backward
 * shift deletion; no tombstones. */
struct gs_map_slot {
    uint64_t h;
    const void *k;         /* NULL: empty */
    size_t klen;
    void *v;
};

struct gs_map {
    struct gs_map_slot *slots;
    size_t cap;            /* power of two, or 0 */
    size_t n;
    uint8_t hkey[GS_HASHKEY_LEN];
};

void gs_map_init(struct gs_map *m, const uint8_t hkey[GS_HASHKEY_LEN]);
void gs_map_free(struct gs_map *m);
void *gs_map_get(const struct gs_map *m, const void *k, size_t klen);
/* Insert (the key must not be present). 0 or P2P_ENOMEM. */
int gs_map_put(struct gs_map *m, const void *k, size_t klen, void *v);
/* Remove; returns the value or NULL. */
void *gs_map_del(struct gs_map *m, const void *k, size_t klen);
/* Iteration: for (size_t i = 0; i < m->cap; i++) if (m->slots[i].k) ...
 * (no insertions or deletions meanwhile). */

/* ---- set of 64-bit hashes with a small counter -------------------------- */

struct gs_hset {
    uint64_t *keys;        /* 0 = empty (a zero hash is stored as 1) */
    uint8_t *vals;
    size_t cap, n;
};

void gs_hset_init(struct gs_hset *s);
void gs_hset_free(struct gs_hset *s);
bool gs_hset_has(const struct gs_hset *s, uint64_t h);
/* Insert or update the counter; 0, P2P_ENOMEM. */
int gs_hset_put(struct gs_hset *s, uint64_t h, uint8_t val);
/* Decrement every counter and drop those reaching 0. */
void gs_hset_tick(struct gs_hset *s);

/* ---- arena (a protobuf-c allocator with a byte budget) ------------------ */

struct gs_arena_chunk;
struct gs_arena {
    struct gs_arena_chunk *chunks;
    size_t used, budget;   /* bytes handed out / allowed */
    bool failed;
};

void gs_arena_init(struct gs_arena *a, size_t budget);
void *gs_arena_alloc(struct gs_arena *a, size_t n);
void gs_arena_free(struct gs_arena *a);

#endif
