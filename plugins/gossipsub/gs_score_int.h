/* gs_score_int.h - internals of the peer scoring module (gs_score.h),
 * shared by gs_score.c (logic), gs_score_params.c (defaults, validation)
 * and gs_score_table.c (hashing, hash indexes, IP counts, delivery
 * records). Not for use outside these files. */
#ifndef GS_SCORE_INT_H
#define GS_SCORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gs_score.h"

#define NONE UINT32_MAX
#define IPKEY 17   /* kind (4, 6 or 64 for an IPv6 /64) + 16 bytes */

enum { ST_UNKNOWN, ST_VALID, ST_INVALID, ST_IGNORED, ST_THROTTLED };

/* Open addressing with linear probing and backward-shift deletion; a slot
 * holds the entry's hash and its index + 1 (0: empty). At most half full. */
struct gss_slot {
    uint32_t h, ix;
};
struct gss_index {
    struct gss_slot *v;
    uint32_t mask, n;
};

struct gss_tstat {
    uint32_t topic;
    bool in_mesh;
    uint64_t graft_ms;
    double first, mesh, failure, invalid;
};

struct gss_peer {
    p2p_peerid id;
    bool used, connected;
    uint8_t nips;
    uint32_t hash, gen, next_free, ntopics, ctopics;
    uint64_t expire_ms;
    double penalty, app;
    struct gss_tstat *topics;
    uint8_t ips[GS_SCORE_PEER_IPS][IPKEY];
};

struct gss_ipent {
    uint8_t key[IPKEY];
    uint32_t count, hash, next_free;
};

struct gss_handle {
    uint32_t ix, gen;
};

struct gss_record {
    uint8_t status, idlen, npeers;
    uint32_t hash;
    uint64_t first_ms, validated_ms;
    struct gss_handle peers[GS_SCORE_RECORD_PEERS];
    uint8_t id[GS_SCORE_MSGID_MAX];
};

struct gss_topic {
    char *name;   /* NULL: free slot */
    uint32_t hash;
    struct gs_topic_score_params p;
};

struct gs_score {
    struct gs_score_params p;
    uint64_t now, last_decay;
    bool clock_set;
    struct gss_topic *topics;
    uint32_t topics_cap, ntopics;
    struct gss_peer *peers;   /* pool: [0, peers_hw) initialised */
    uint32_t peers_cap, peers_hw, npeers, nconnected, peer_free;
    struct gss_index peer_idx;
    struct gss_ipent *ips;
    uint32_t ips_cap, ips_hw, nips, ip_free;
    struct gss_index ip_idx;
    struct gss_record *recs;  /* ring of rcount records from rhead */
    uint32_t rcap, rhead, rcount;
    struct gss_index rec_idx;
};

static inline bool gss_finite(double x)
{
    return x == x && x - x == 0;   /* not NaN, not infinite */
}

/* SipHash-2-4 of data under params.hash_key, folded to 32 bits. */
uint32_t gss_hash(const struct gs_score *s, const void *data, size_t len);
/* Index: insert entry ix with hash h (growing; P2P_ENOMEM), remove it. */
int gss_idx_put(struct gss_index *t, uint32_t h, uint32_t ix);
void gss_idx_del(struct gss_index *t, uint32_t h, uint32_t ix);
/* Grow a pool array by doubling, at most to max entries (P2P_ELIMIT);
 * new entries are zeroed. */
int gss_pool_grow(void **arr, uint32_t *cap, uint32_t max, size_t elsize);
/* Peers currently counted on an IP key. */
uint32_t gss_ip_count(const struct gs_score *s, const uint8_t key[IPKEY]);
/* Give the peer an IP key (counted; ignored beyond GS_SCORE_PEER_IPS or
 * on allocation failure); drop all of its keys. */
void gss_peer_add_key(struct gs_score *s, struct gss_peer *p, const uint8_t key[IPKEY]);
void gss_peer_drop_ips(struct gs_score *s, struct gss_peer *p);
/* The delivery record of message id (created at the clock's time, the
 * oldest record making room at max_deliveries), or NULL and *rc. */
struct gss_record *gss_rec_get(struct gs_score *s, const uint8_t *id, size_t len, int *rc);
/* Drop the oldest delivery record. */
void gss_rec_pop(struct gs_score *s);

#endif
