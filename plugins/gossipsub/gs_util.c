/* gs_util.c - see gs_util.h. */
#include "gs_util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"

/* ---- PRNG ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void gs_rng_seed(struct gs_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t gs_rng_next(struct gs_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

size_t gs_rng_below(struct gs_rng *r, size_t n)
{
    if (n == 0) return 0;
    /* Lemire's multiply-shift; the tiny bias is irrelevant here. */
    return (size_t)(((unsigned __int128)gs_rng_next(r) * n) >> 64);
}

void gs_rng_shuffle(struct gs_rng *r, void **v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = gs_rng_below(r, i);
        void *t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

void gs_rng_bytes(struct gs_rng *r, uint8_t *out, size_t n)
{
    while (n) {
        uint64_t x = gs_rng_next(r);
        size_t k = n < 8 ? n : 8;
        memcpy(out, &x, k);
        out += k;
        n -= k;
    }
}

/* ---- hash ------------------------------------------------------------------ */

uint64_t gs_hash(const uint8_t key[GS_HASHKEY_LEN], const void *data, size_t len)
{
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, data, len, key);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

/* ---- map ------------------------------------------------------------------- */

void gs_map_init(struct gs_map *m, const uint8_t hkey[GS_HASHKEY_LEN])
{
    memset(m, 0, sizeof *m);
    memcpy(m->hkey, hkey, GS_HASHKEY_LEN);
}

void gs_map_free(struct gs_map *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

static size_t map_find(const struct gs_map *m, uint64_t h, const void *k, size_t klen)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct gs_map_slot *s = &m->slots[i];
        if (!s->k) return (size_t)-1;
        if (s->h == h && s->klen == klen && !memcmp(s->k, k, klen)) return i;
    }
}

void *gs_map_get(const struct gs_map *m, const void *k, size_t klen)
{
    if (!m->n) return NULL;
    size_t i = map_find(m, gs_hash(m->hkey, k, klen), k, klen);
    return i == (size_t)-1 ? NULL : m->slots[i].v;
}

static void map_place(struct gs_map_slot *slots, size_t cap, const struct gs_map_slot *e)
{
    size_t mask = cap - 1;
    size_t i = e->h & mask;
    while (slots[i].k) i = (i + 1) & mask;
    slots[i] = *e;
}

static int map_grow(struct gs_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    struct gs_map_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns) return P2P_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].k) map_place(ns, ncap, &m->slots[i]);
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

int gs_map_put(struct gs_map *m, const void *k, size_t klen, void *v)
{
    if ((m->n + 1) * 4 > m->cap * 3) {
        int rc = map_grow(m);
        if (rc < 0) return rc;
    }
    struct gs_map_slot e = { gs_hash(m->hkey, k, klen), k, klen, v };
    map_place(m->slots, m->cap, &e);
    m->n++;
    return 0;
}

void *gs_map_del(struct gs_map *m, const void *k, size_t klen)
{
    if (!m->n) return NULL;
    size_t i = map_find(m, gs_hash(m->hkey, k, klen), k, klen);
    if (i == (size_t)-1) return NULL;
    void *v = m->slots[i].v;
    size_t mask = m->cap - 1;
    /* Backward shift: move later entries of the cluster into the hole when
     * their home slot is not between the hole and themselves. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->slots[j].k; j = (j + 1) & mask) {
        size_t home = m->slots[j].h & mask;
        bool between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!between) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    memset(&m->slots[hole], 0, sizeof m->slots[hole]);
    m->n--;
    return v;
}

/* ---- hash set ---------------------------------------------------------------- */

void gs_hset_init(struct gs_hset *s)
{
    memset(s, 0, sizeof *s);
}

void gs_hset_free(struct gs_hset *s)
{
    free(s->keys);
    free(s->vals);
    memset(s, 0, sizeof *s);
}

static size_t hset_slot(const struct gs_hset *s, uint64_t h)
{
    size_t mask = s->cap - 1;
    size_t i = h & mask;
    while (s->keys[i] && s->keys[i] != h) i = (i + 1) & mask;
    return i;
}

bool gs_hset_has(const struct gs_hset *s, uint64_t h)
{
    if (!s->n) return false;
    if (!h) h = 1;
    return s->keys[hset_slot(s, h)] == h;
}

static int hset_rebuild(struct gs_hset *s, size_t ncap)
{
    uint64_t *nk = calloc(ncap, sizeof *nk);
    uint8_t *nv = calloc(ncap, 1);
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return P2P_ENOMEM;
    }
    uint64_t *ok = s->keys;
    uint8_t *ov = s->vals;
    size_t ocap = s->cap;
    s->keys = nk;
    s->vals = nv;
    s->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        if (!ok[i]) continue;
        size_t j = hset_slot(s, ok[i]);
        nk[j] = ok[i];
        nv[j] = ov[i];
    }
    free(ok);
    free(ov);
    return 0;
}

int gs_hset_put(struct gs_hset *s, uint64_t h, uint8_t val)
{
    if (!h) h = 1;
    if ((s->n + 1) * 4 > s->cap * 3) {
        int rc = hset_rebuild(s, s->cap ? s->cap * 2 : 16);
        if (rc < 0) return rc;
    }
    size_t i = hset_slot(s, h);
    if (!s->keys[i]) {
        s->keys[i] = h;
        s->n++;
    }
    s->vals[i] = val;
    return 0;
}

void gs_hset_tick(struct gs_hset *s)
{
    if (!s->n) return;
    size_t live = 0;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->keys[i]) continue;
        if (s->vals[i] > 1) {
            s->vals[i]--;
            live++;
        } else {
            s->keys[i] = 0;
        }
    }
    s->n = live;
    /* Deleting without tombstones breaks probe chains: rebuild in place
     * (same capacity, or smaller when mostly empty). */
    size_t ncap = s->cap;
    while (ncap > 16 && live * 4 < ncap) ncap /= 2;
    if (!live) {
        gs_hset_free(s);
        return;
    }
    /* Out of memory: forget everything (losing IDONTWANT entries only
     * costs a few unneeded sends). */
    if (hset_rebuild(s, ncap) < 0) gs_hset_free(s);
}

/* ---- arena ------------------------------------------------------------------- */

struct gs_arena_chunk {
    struct gs_arena_chunk *next;
    size_t cap, used;
    _Alignas(16) uint8_t mem[];
};

#define ARENA_CHUNK 16384

void gs_arena_init(struct gs_arena *a, size_t budget)
{
    memset(a, 0, sizeof *a);
    a->budget = budget;
}

void *gs_arena_alloc(struct gs_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if (a->failed || n > a->budget || a->used > a->budget - n) {
        a->failed = true;
        return NULL;
    }
    struct gs_arena_chunk *c = a->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        c = malloc(sizeof *c + cap);
        if (!c) {
            a->failed = true;
            return NULL;
        }
        c->cap = cap;
        c->used = 0;
        c->next = a->chunks;
        a->chunks = c;
    }
    void *p = c->mem + c->used;
    c->used += n;
    a->used += n;
    return p;
}

void gs_arena_free(struct gs_arena *a)
{
    struct gs_arena_chunk *c = a->chunks;
    while (c) {
        struct gs_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->chunks = NULL;
    a->used = 0;
    a->failed = false;
}
