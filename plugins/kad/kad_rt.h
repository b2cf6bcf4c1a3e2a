/* kad_rt.h - the Kademlia routing table: k-buckets over the XOR distance
 * of SHA-256(PeerId), without I/O and with explicit time (milliseconds of
 * any monotonic clock the caller uses consistently).
 *
 * Buckets are indexed by the common prefix length (cpl) with our own key.
 * The table unfolds lazily, as the spec describes: it starts with one
 * bucket holding every cpl; the last bucket holds every cpl >= its index
 * and, when it is full and a peer for it arrives, it is split (its peers
 * with a longer cpl move to a new last bucket), up to 256 buckets.
 *
 * Replacement (Kademlia's "ping the least-recently seen"): a peer for a
 * full bucket goes to the bucket's bounded replacement cache (newest kept)
 * and kad_rt_add asks the caller to check the bucket's least-recently-seen
 * peer (KAD_RT_CHECK). The caller reports with kad_rt_check_done: a dead
 * peer is removed and the newest replacement takes its place; a live one
 * becomes the most recently seen. A check not reported within
 * check_timeout_ms counts as failed the next time the bucket is touched.
 * Queries that fail count too (kad_rt_failed): after max_failures in a
 * row a peer is removed and replaced the same way.
 *
 * Diversity (optional, S/Kademlia-style protection against one operator
 * filling the table): every peer may carry an address group (e.g. its
 * IPv4 /16), 0 meaning "no group"; at most max_per_group_bucket peers of a
 * group per bucket and max_per_group peers of a group in the table (0 =
 * unlimited). */
#ifndef KAD_RT_H
#define KAD_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kad_key.h"
#include "p2p/peerid.h"

struct kad_rt_config {
    size_t k;                     /* bucket size (20) */
    size_t replacements;          /* replacement cache per bucket */
    unsigned max_failures;        /* failed queries in a row before removal */
    uint64_t check_timeout_ms;    /* liveness check that got no answer */
    size_t max_per_group_bucket;  /* 0 = unlimited */
    size_t max_per_group;         /* 0 = unlimited */
};

struct kad_rt_entry {
    p2p_peerid id;
    kad_key key;
    uint32_t group;
    uint64_t added_ms;
    uint64_t seen_ms;             /* last sign of life (added, answered, checked) */
    unsigned failures;
};

struct kad_rt_bucket {
    struct kad_rt_entry *e;       /* n entries, config.k capacity */
    size_t n;
    struct kad_rt_entry *repl;    /* nrepl entries, oldest first */
    size_t nrepl;
    uint64_t refreshed_ms;        /* last lookup of a key in this bucket */
    bool checking;                /* a liveness check is under way */
    p2p_peerid check_id;
    uint64_t check_started_ms;
};

struct kad_rt {
    struct kad_rt_config cfg;
    p2p_peerid self_id;
    kad_key self;
    struct kad_rt_bucket *b;      /* nb buckets (1..256) */
    size_t nb;
    size_t size;                  /* peers in all buckets */
};

enum kad_rt_result {
    KAD_RT_ADDED = 1,      /* new peer in the table */
    KAD_RT_UPDATED,        /* already there: marked seen */
    KAD_RT_CHECK,          /* bucket full: queued as replacement; check *check */
    KAD_RT_QUEUED,         /* bucket full: queued as replacement (a check is under way) */
    KAD_RT_REJECTED        /* ourselves, or over a diversity limit */
};

/* 0 or P2P_ENOMEM / P2P_EINVAL (k or replacements 0). */
int kad_rt_init(struct kad_rt *rt, const p2p_peerid *self, const struct kad_rt_config *cfg, uint64_t now);
void kad_rt_free(struct kad_rt *rt);

/* A peer that speaks the protocol as a server was seen. Returns an enum
 * kad_rt_result (check filled for KAD_RT_CHECK: ask that peer whether it
 * is alive, then call kad_rt_check_done) or P2P_ENOMEM. */
int kad_rt_add(struct kad_rt *rt, const p2p_peerid *id, uint32_t group, uint64_t now, p2p_peerid *check);
/* The peer answered a query: seen now, failures reset (no-op if absent). */
void kad_rt_seen(struct kad_rt *rt, const p2p_peerid *id, uint64_t now);
/* A query to the peer failed; returns true when that removed it. */
bool kad_rt_failed(struct kad_rt *rt, const p2p_peerid *id, uint64_t now);
/* Result of a liveness check asked by KAD_RT_CHECK. */
void kad_rt_check_done(struct kad_rt *rt, const p2p_peerid *id, bool alive, uint64_t now);
/* Remove a peer (e.g. it stopped advertising the protocol); the newest
 * replacement takes its place. Returns true when it was in the table. */
bool kad_rt_remove(struct kad_rt *rt, const p2p_peerid *id, uint64_t now);

bool kad_rt_contains(const struct kad_rt *rt, const p2p_peerid *id);
const struct kad_rt_entry *kad_rt_find(const struct kad_rt *rt, const p2p_peerid *id);
/* Bucket index of a key (min(cpl, nb - 1)). */
size_t kad_rt_bucket_of(const struct kad_rt *rt, const kad_key *key);

/* The n closest peers to target, closest first; returns the count. */
size_t kad_rt_closest(const struct kad_rt *rt, const kad_key *target, size_t n, p2p_peerid *out);

/* Non-empty buckets not refreshed for interval_ms (their indexes, at most
 * max); returns the count. */
size_t kad_rt_stale_buckets(const struct kad_rt *rt, uint64_t now, uint64_t interval_ms, unsigned *out, size_t max);
/* A lookup of key finished: its bucket counts as refreshed. */
void kad_rt_refreshed(struct kad_rt *rt, const kad_key *key, uint64_t now);

/* Every peer, bucket by bucket (for listings and the state file): call
 * fn for each; stops when fn returns false. */
void kad_rt_each(const struct kad_rt *rt, bool (*fn)(const struct kad_rt_entry *e, size_t bucket, void *arg),
                 void *arg);

#endif
