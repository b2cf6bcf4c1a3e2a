/* kad_store.h - what a DHT server stores for others, without I/O and with
 * explicit time (ms): value records and provider records. Both are
 * bounded (entries, sizes, entries per remote peer) and expire.
 *
 * Records: key -> value, with the time received (ms, and the RFC 3339
 * text go-libp2p-kad-dht puts in Record.timeReceived) and an expiry
 * (record_ttl after reception: go's MaxRecordAge is 48 h). Whether a new
 * value may replace an old one is the validator's business (the caller
 * asks kad_select first). A record put by a remote peer (PUT_VALUE) is
 * attributed to it; a put of the key by another peer moves the
 * attribution to that one. Our own records (put with no peer) are
 * attributed to nobody and stay ours when a peer puts the key again
 * (entry correction sends them back to us), so they never count against
 * anyone.
 *
 * Providers: key -> up to max_per_key providers, each with an expiry
 * (provider_ttl after the last ADD_PROVIDER: 48 h in go, "Provider Record
 * Expiration Interval") and the addresses it announced, kept for
 * addr_ttl (go: 24 h; the spec suggests not serving stale addresses).
 * A full key drops its provider expiring first. Each provider entry is
 * its peer's (our own entries count too: they are bounded by
 * max_provided, and we are one peer).
 *
 * Both follow the same per-peer rules (kad_quota.h): a peer holds at most
 * max_per_peer entries (0 = no limit): one more is refused (P2P_ELIMIT;
 * refreshing an entry it has is not). A full store first drops expired
 * entries; then, when the peer holding the most entries holds at least
 * two more than the newcomer's peer (ourselves: none), one of its entries
 * (its first, in store order) makes room. Otherwise a new entry is
 * refused (P2P_ELIMIT). Refusals and evictions are counted in the
 * store's quota. */
#ifndef KAD_STORE_H
#define KAD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kad_quota.h"
#include "p2p/multiaddr.h"
#include "p2p/peerid.h"

struct kad_rec {
    uint8_t *key;
    size_t keylen;
    uint8_t *value;
    size_t vlen;
    uint64_t received_ms;
    uint64_t expires_ms;
    char time_received[40];      /* RFC 3339 (UTC), "" if unknown */
    bool attributed;             /* stored for a remote peer: from */
    p2p_peerid from;
};

struct kad_records {
    struct kad_rec *r;
    size_t n, max;
    uint64_t ttl_ms;
    struct kad_quota quota;      /* records per remote peer */
};

void kad_records_init(struct kad_records *rs, size_t max, uint64_t ttl_ms);
void kad_records_free(struct kad_records *rs);
/* Set max_per_peer (0 = no limit; records beyond a lowered limit stay). */
void kad_records_set_peer_limit(struct kad_records *rs, size_t max_per_peer);
/* Records attributed to peer id. */
size_t kad_records_of_peer(const struct kad_records *rs, const p2p_peerid *id);
/* Store (replacing any value of key) for peer `from` (NULL: our own
 * record). time_received may be NULL. Returns 0, P2P_ELIMIT (from holds
 * max_per_peer records, or the store is full of live records and the
 * fairness rule frees none) or P2P_ENOMEM; a refused put (P2P_ELIMIT)
 * stores and evicts nothing (expired records may have been dropped). */
int kad_records_put(struct kad_records *rs, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                    const char *time_received, const p2p_peerid *from, uint64_t now);
/* The live record of key, or NULL (valid until the store changes). */
const struct kad_rec *kad_records_get(const struct kad_records *rs, const uint8_t *key, size_t klen, uint64_t now);
bool kad_records_remove(struct kad_records *rs, const uint8_t *key, size_t klen);
/* Drop expired records; returns how many. */
size_t kad_records_gc(struct kad_records *rs, uint64_t now);

#define KAD_PROVIDER_KEY_MAX 80  /* go-libp2p-kad-dht refuses longer provider keys */

struct kad_prov {
    p2p_peerid id;
    uint64_t expires_ms;
    uint64_t addrs_expire_ms;
    size_t naddrs;
    p2p_multiaddr *addrs;        /* malloc'ed */
};

struct kad_pkey {
    uint8_t key[KAD_PROVIDER_KEY_MAX];
    size_t keylen;
    struct kad_prov *p;          /* n entries, max_per_key capacity */
    size_t n;
};

struct kad_providers {
    struct kad_pkey *k;
    size_t n;
    size_t max_keys, max_per_key, max_addrs;
    uint64_t ttl_ms, addr_ttl_ms;
    struct kad_quota quota;      /* entries per provider peer */
};

void kad_providers_init(struct kad_providers *ps, size_t max_keys, size_t max_per_key, size_t max_addrs,
                        uint64_t ttl_ms, uint64_t addr_ttl_ms);
void kad_providers_free(struct kad_providers *ps);
/* Set max_per_peer (0 = no limit; entries beyond a lowered limit stay). */
void kad_providers_set_peer_limit(struct kad_providers *ps, size_t max_per_peer);
/* Provider entries held by peer id. */
size_t kad_providers_of_peer(const struct kad_providers *ps, const p2p_peerid *id);
/* Add or refresh a provider of key (addrs: at most max_addrs kept; none
 * keeps the addresses it had). Returns 0, P2P_EINVAL (key empty or over
 * KAD_PROVIDER_KEY_MAX), P2P_ELIMIT (the peer holds max_per_peer entries,
 * or no room for a new key), P2P_ENOMEM. */
int kad_providers_add(struct kad_providers *ps, const uint8_t *key, size_t klen, const p2p_peerid *id,
                      const p2p_multiaddr *addrs, size_t naddrs, uint64_t now);
/* Live providers of key: pointers into the store (valid until it
 * changes), at most max; returns the count. Whether a provider's stored
 * addresses may still be served is kad_prov_addrs_live(). */
size_t kad_providers_get(const struct kad_providers *ps, const uint8_t *key, size_t klen, uint64_t now,
                         const struct kad_prov **out, size_t max);
static inline bool kad_prov_addrs_live(const struct kad_prov *p, uint64_t now)
{
    return p->naddrs && now < p->addrs_expire_ms;
}
bool kad_providers_remove(struct kad_providers *ps, const uint8_t *key, size_t klen, const p2p_peerid *id);
/* Drop expired providers and empty keys; returns the providers dropped. */
size_t kad_providers_gc(struct kad_providers *ps, uint64_t now);

/* RFC 3339 UTC text of a Unix time in ms ("2026-01-02T03:04:05.678Z"). */
void kad_rfc3339(uint64_t unix_ms, char out[40]);

#endif
