/* kad_quota.h - what each remote peer holds in a DHT server's store, and
 * the fairness rule a full store follows, without I/O. Shared by the
 * value records and the provider records (kad_store.h).
 *
 * A quota counts entries per peer (a sorted array, binary search) against
 * max_per_peer (0 = no limit) and keeps the refusal and eviction counters
 * the plugin's metrics report. The store it belongs to calls
 * kad_quota_inc/dec whenever an attributed entry comes or goes, so a
 * count always equals the peer's entries in the store.
 *
 * Fair room: a full store asks kad_quota_victim for the peer to lose one
 * entry to a newcomer holding `than` entries: the peer holding the most,
 * when it holds at least two more than the newcomer (so the newcomer does
 * not end up holding more than it). Identities that filled the store thus
 * leave room to each newcomer with fewer entries (fair shares, not first
 * come first served), and equal shares are stable: more identities than
 * room cannot churn out peers holding one entry. */
#ifndef KAD_QUOTA_H
#define KAD_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/peerid.h"

/* Entries held by one peer. */
struct kad_pcount {
    p2p_peerid id;
    size_t n;
};

struct kad_quota {
    struct kad_pcount *pc;       /* npc peers with entries, sorted (id length, bytes); malloc'ed */
    size_t npc, pc_cap;
    size_t max_per_peer;         /* 0 = no limit */
    uint64_t refused_limit;      /* new entries refused: the peer held max_per_peer */
    uint64_t refused_full;       /* new entries refused: store full, nobody held two more */
    uint64_t evicted;            /* entries dropped to make room for another peer's */
};

/* Zeroed; kad_quota_free releases the counts (the struct can be reused). */
void kad_quota_free(struct kad_quota *q);
/* Entries held by id. */
size_t kad_quota_of(const struct kad_quota *q, const p2p_peerid *id);
/* true when id may not have one more entry (it holds max_per_peer). */
bool kad_quota_at_limit(const struct kad_quota *q, const p2p_peerid *id);
/* One more / one less entry of id: 0 or P2P_ENOMEM (inc only). */
int kad_quota_inc(struct kad_quota *q, const p2p_peerid *id);
void kad_quota_dec(struct kad_quota *q, const p2p_peerid *id);
/* The fairness rule: true with *victim the peer that should lose one
 * entry so that a newcomer holding `than` entries gets one. */
bool kad_quota_victim(const struct kad_quota *q, size_t than, p2p_peerid *victim);

#endif
