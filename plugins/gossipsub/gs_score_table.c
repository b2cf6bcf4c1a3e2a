/* gs_score_table.c - hashing, hash indexes, IP colocation counts and
 * delivery records for the peer scoring module (gs_score_int.h). */
#include <stdlib.h>
#include <string.h>

#include "gs_score_int.h"
#include "p2p/error.h"

/* ---- SipHash-2-4 ------------------------------------------------------------ */

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void sipround(uint64_t v[4], int n)
{
    while (n--) {
        v[0] += v[1]; v[1] = rotl(v[1], 13); v[1] ^= v[0]; v[0] = rotl(v[0], 32);
        v[2] += v[3]; v[3] = rotl(v[3], 16); v[3] ^= v[2];
        v[0] += v[3]; v[3] = rotl(v[3], 21); v[3] ^= v[0];
        v[2] += v[1]; v[1] = rotl(v[1], 17); v[1] ^= v[2]; v[2] = rotl(v[2], 32);
    }
}

uint32_t gss_hash(const struct gs_score *s, const void *data, size_t len)
{
    const uint8_t *in = data;
    uint64_t k0 = rd64(s->p.hash_key), k1 = rd64(s->p.hash_key + 8);
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                     k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t m = rd64(in + i);
        v[3] ^= m;
        sipround(v, 2);
        v[0] ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t j = 0; i + j < len; j++) b |= (uint64_t)in[i + j] << (8 * j);
    v[3] ^= b;
    sipround(v, 2);
    v[0] ^= b;
    v[2] ^= 0xff;
    sipround(v, 4);
    uint64_t r = v[0] ^ v[1] ^ v[2] ^ v[3];
    return (uint32_t)(r ^ (r >> 32));
}

/* ---- Index -------------------------------------------------------------------- */

int gss_idx_put(struct gss_index *t, uint32_t h, uint32_t ix)
{
    if (!t->v || (t->n + 1) * 2 > t->mask + 1) {
        uint32_t ncap = t->v ? (t->mask + 1) * 2 : 16;
        struct gss_slot *nv = calloc(ncap, sizeof *nv);
        if (!nv) return P2P_ENOMEM;
        for (uint32_t i = 0; t->v && i <= t->mask; i++) {
            if (!t->v[i].ix) continue;
            uint32_t j = t->v[i].h & (ncap - 1);
            while (nv[j].ix) j = (j + 1) & (ncap - 1);
            nv[j] = t->v[i];
        }
        free(t->v);
        t->v = nv;
        t->mask = ncap - 1;
    }
    uint32_t i = h & t->mask;
    while (t->v[i].ix) i = (i + 1) & t->mask;
    t->v[i].h = h;
    t->v[i].ix = ix + 1;
    t->n++;
    return 0;
}

void gss_idx_del(struct gss_index *t, uint32_t h, uint32_t ix)
{
    if (!t->v) return;
    uint32_t i = h & t->mask;
    while (t->v[i].ix && t->v[i].ix != ix + 1) i = (i + 1) & t->mask;
    if (!t->v[i].ix) return;
    for (uint32_t j = i;;) {
        j = (j + 1) & t->mask;
        if (!t->v[j].ix) break;
        uint32_t home = t->v[j].h & t->mask;
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->v[i] = t->v[j];
            i = j;
        }
    }
    t->v[i].ix = 0;
    t->n--;
}

/* Pools grow by doubling up to max; new entries are zeroed. */
int gss_pool_grow(void **arr, uint32_t *cap, uint32_t max, size_t elsize)
{
    if (*cap >= max) return P2P_ELIMIT;
    uint32_t nc = *cap ? *cap * 2 : 8;
    if (nc > max) nc = max;
    char *n = realloc(*arr, (size_t)nc * elsize);
    if (!n) return P2P_ENOMEM;
    memset(n + (size_t)*cap * elsize, 0, (size_t)(nc - *cap) * elsize);
    *arr = n;
    *cap = nc;
    return 0;
}

/* ---- IP colocation ------------------------------------------------------------- */

static uint32_t ip_find(const struct gs_score *s, const uint8_t key[IPKEY], uint32_t h)
{
    if (!s->ip_idx.v) return NONE;
    for (uint32_t i = h & s->ip_idx.mask; s->ip_idx.v[i].ix; i = (i + 1) & s->ip_idx.mask) {
        uint32_t ix = s->ip_idx.v[i].ix - 1;
        if (s->ip_idx.v[i].h == h && !memcmp(s->ips[ix].key, key, IPKEY)) return ix;
    }
    return NONE;
}

uint32_t gss_ip_count(const struct gs_score *s, const uint8_t key[IPKEY])
{
    uint32_t ix = ip_find(s, key, gss_hash(s, key, IPKEY));
    return ix == NONE ? 0 : s->ips[ix].count;
}

static int ip_inc(struct gs_score *s, const uint8_t key[IPKEY])
{
    uint32_t h = gss_hash(s, key, IPKEY), ix = ip_find(s, key, h);
    if (ix != NONE) {
        s->ips[ix].count++;
        return 0;
    }
    if (s->ip_free != NONE) {
        ix = s->ip_free;
    } else {
        if (s->ips_hw == s->ips_cap) {
            int rc = gss_pool_grow((void **)&s->ips, &s->ips_cap, s->p.max_peers * GS_SCORE_PEER_IPS,
                               sizeof *s->ips);
            if (rc) return rc;
        }
        ix = s->ips_hw;
    }
    int rc = gss_idx_put(&s->ip_idx, h, ix);
    if (rc) return rc;
    if (ix == s->ip_free) s->ip_free = s->ips[ix].next_free;
    else s->ips_hw++;
    memcpy(s->ips[ix].key, key, IPKEY);
    s->ips[ix].hash = h;
    s->ips[ix].count = 1;
    s->nips++;
    return 0;
}

static void ip_dec(struct gs_score *s, const uint8_t key[IPKEY])
{
    uint32_t h = gss_hash(s, key, IPKEY), ix = ip_find(s, key, h);
    if (ix == NONE || --s->ips[ix].count) return;
    gss_idx_del(&s->ip_idx, h, ix);
    s->ips[ix].next_free = s->ip_free;
    s->ip_free = ix;
    s->nips--;
}

void gss_peer_drop_ips(struct gs_score *s, struct gss_peer *p)
{
    for (uint8_t i = 0; i < p->nips; i++) ip_dec(s, p->ips[i]);
    p->nips = 0;
}

void gss_peer_add_key(struct gs_score *s, struct gss_peer *p, const uint8_t key[IPKEY])
{
    for (uint8_t i = 0; i < p->nips; i++)
        if (!memcmp(p->ips[i], key, IPKEY)) return;
    if (p->nips == GS_SCORE_PEER_IPS || ip_inc(s, key)) return;
    memcpy(p->ips[p->nips++], key, IPKEY);
}

/* ---- Delivery records ----------------------------------------------------------- */

void gss_rec_pop(struct gs_score *s)
{
    gss_idx_del(&s->rec_idx, s->recs[s->rhead].hash, s->rhead);
    s->rhead = (s->rhead + 1) % s->rcap;
    s->rcount--;
}

/* Grow the ring (re-linearised, index rebuilt). */
static int rec_grow(struct gs_score *s)
{
    uint32_t nc = s->rcap ? s->rcap * 2 : 16;
    if (nc > s->p.max_deliveries) nc = s->p.max_deliveries;
    struct gss_record *n = malloc((size_t)nc * sizeof *n);
    struct gss_slot *nv = calloc((size_t)(s->rec_idx.mask + 1), sizeof *nv);
    if (!n || !nv) {
        free(n);
        free(nv);
        return P2P_ENOMEM;
    }
    for (uint32_t k = 0; k < s->rcount; k++) n[k] = s->recs[(s->rhead + k) % s->rcap];
    free(s->recs);
    s->recs = n;
    s->rcap = nc;
    s->rhead = 0;
    if (s->rec_idx.v) {   /* same capacity, new positions: cannot fail */
        free(s->rec_idx.v);
        s->rec_idx.v = nv;
        s->rec_idx.n = 0;
        for (uint32_t k = 0; k < s->rcount; k++) (void)gss_idx_put(&s->rec_idx, n[k].hash, k);
    } else {
        free(nv);
    }
    return 0;
}

struct gss_record *gss_rec_get(struct gs_score *s, const uint8_t *id, size_t len, int *rc)
{
    uint32_t h = gss_hash(s, id, len);
    for (uint32_t i = h & s->rec_idx.mask; s->rec_idx.v && s->rec_idx.v[i].ix;
         i = (i + 1) & s->rec_idx.mask) {
        struct gss_record *r = &s->recs[s->rec_idx.v[i].ix - 1];
        if (s->rec_idx.v[i].h == h && r->idlen == len && !memcmp(r->id, id, len)) return r;
    }
    if (s->rcount == s->rcap) {
        if (s->rcap < s->p.max_deliveries) {
            if ((*rc = rec_grow(s))) return NULL;
        } else {
            gss_rec_pop(s);
        }
    }
    uint32_t pos = (s->rhead + s->rcount) % s->rcap;
    if ((*rc = gss_idx_put(&s->rec_idx, h, pos))) return NULL;
    s->rcount++;
    struct gss_record *r = &s->recs[pos];
    memset(r, 0, offsetof(struct gss_record, id));
    r->idlen = (uint8_t)len;
    r->hash = h;
    r->first_ms = s->now;
    memcpy(r->id, id, len);
    return r;
}

