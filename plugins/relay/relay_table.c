/* relay_table.c - reservations, circuits and rate limits of a relay
 * server, with explicit time (see relay_table.h). */
#include "relay_table.h"

#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "relay_msg.h"

/* Bucket kinds: what is limited (reservations or circuits) by what key. */
enum { B_NONE, B_RSVP_PEER, B_RSVP_IP, B_CIRC_PEER, B_CIRC_IP };

const char *relay_refusal_name(enum relay_refusal r)
{
    switch (r) {
    case RELAY_REFUSED_MAX_RESERVATIONS: return "max_reservations";
    case RELAY_REFUSED_RESERVATIONS_PER_PEER: return "max_reservations_per_peer";
    case RELAY_REFUSED_RESERVATIONS_PER_IP: return "max_reservations_per_ip";
    case RELAY_REFUSED_MAX_CIRCUITS: return "max_circuits";
    case RELAY_REFUSED_CIRCUITS_PER_PEER: return "max_circuits_per_peer";
    case RELAY_REFUSED_RATE_PER_PEER: return "rate_limit_per_peer";
    case RELAY_REFUSED_RATE_PER_IP: return "rate_limit_per_ip";
    default: return "none";
    }
}

int relay_table_init(struct relay_table *t, const struct relay_limits *lim)
{
    memset(t, 0, sizeof *t);
    t->lim = *lim;
    t->rsvp_cap = lim->max_reservations ? lim->max_reservations : 1;
    t->circ_cap = lim->max_circuits ? lim->max_circuits : 1;
    t->rsvps = calloc(t->rsvp_cap, sizeof *t->rsvps);
    t->circs = calloc(t->circ_cap, sizeof *t->circs);
    t->nbuckets = lim->rate_keys >= 2 ? lim->rate_keys : RELAY_RATE_KEYS;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    if (!t->rsvps || !t->circs || !t->buckets) {
        relay_table_free(t);
        return P2P_ENOMEM;
    }
    t->next_circ_id = 1;
    return 0;
}

int relay_table_set_limits(struct relay_table *t, const struct relay_limits *lim)
{
    /* Arrays only grow: what is there stays where it is. */
    if (lim->max_reservations > t->rsvp_cap) {
        struct relay_rsvp *r = realloc(t->rsvps, lim->max_reservations * sizeof *r);
        if (!r) return P2P_ENOMEM;
        t->rsvps = r;
        t->rsvp_cap = lim->max_reservations;
    }
    if (lim->max_circuits > t->circ_cap) {
        struct relay_circ *c = realloc(t->circs, lim->max_circuits * sizeof *c);
        if (!c) return P2P_ENOMEM;
        t->circs = c;
        t->circ_cap = lim->max_circuits;
    }
    size_t keys = t->lim.rate_keys;
    t->lim = *lim;
    t->lim.rate_keys = keys;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct relay_bucket *b = &t->buckets[i];
        bool peer = b->kind == B_RSVP_PEER || b->kind == B_CIRC_PEER;
        uint32_t size = peer ? lim->rate_per_peer : lim->rate_per_ip;
        if (b->kind != B_NONE && b->tokens > size) b->tokens = size;
    }
    return 0;
}

void relay_table_free(struct relay_table *t)
{
    free(t->rsvps);
    free(t->circs);
    free(t->buckets);
    memset(t, 0, sizeof *t);
}

/* ---- rate limits --------------------------------------------------------- */

static void refill(struct relay_bucket *b, uint32_t limit, uint64_t interval, uint64_t now)
{
    if (now <= b->last_ms) return;
    uint64_t gained = interval ? (now - b->last_ms) / interval : limit;
    if (gained >= limit - b->tokens) {
        b->tokens = limit;
        b->last_ms = now;
    } else {
        b->tokens += (uint32_t)gained;
        b->last_ms += gained * interval;
    }
}

/* The bucket of (kind, key), refilled to now; created full if absent
 * (evicting one other than `keep` if the table is full). */
static struct relay_bucket *bucket(struct relay_table *t, uint8_t kind, const uint8_t *key, size_t len,
                                   uint32_t limit, uint64_t interval, uint64_t now, const struct relay_bucket *keep)
{
    struct relay_bucket *free_slot = NULL, *lru = NULL;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct relay_bucket *b = &t->buckets[i];
        if (b->kind == kind && b->len == len && !memcmp(b->key, key, len)) {
            refill(b, limit, interval, now);
            return b;
        }
        if (b->kind == B_NONE) {
            if (!free_slot) free_slot = b;
            continue;
        }
        if (b != keep && (!lru || b->used_ms < lru->used_ms)) lru = b;
    }
    if (!free_slot) {
        /* A bucket that has refilled to its size is the same as none. */
        for (size_t i = 0; i < t->nbuckets && !free_slot; i++) {
            struct relay_bucket *b = &t->buckets[i];
            if (b == keep) continue;
            bool peer = b->kind == B_RSVP_PEER || b->kind == B_CIRC_PEER;
            uint32_t lim = peer ? t->lim.rate_per_peer : t->lim.rate_per_ip;
            uint64_t iv = peer ? t->lim.rate_per_peer_interval_ms : t->lim.rate_per_ip_interval_ms;
            refill(b, lim, iv, now);
            if (b->tokens >= lim) free_slot = b;
        }
    }
    if (!free_slot) free_slot = lru;
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->kind = kind;
    free_slot->len = (uint8_t)len;
    memcpy(free_slot->key, key, len);
    free_slot->tokens = limit;
    free_slot->last_ms = now;
    free_slot->used_ms = now;
    return free_slot;
}

/* Take one token from the peer's and the IP's buckets of this use, or
 * none if either is empty (t->refusal says which). Returns whether
 * allowed. */
static bool rate_take(struct relay_table *t, bool circuit, const p2p_peerid *peer,
                      const struct relay_ip *ip, uint64_t now)
{
    const struct relay_limits *l = &t->lim;
    struct relay_bucket *bp = NULL, *bi = NULL;
    if (l->rate_per_peer)
        bp = bucket(t, circuit ? B_CIRC_PEER : B_RSVP_PEER, peer->bytes, peer->len, l->rate_per_peer,
                    l->rate_per_peer_interval_ms, now, NULL);
    if (l->rate_per_ip && ip->len) {
        bi = bucket(t, circuit ? B_CIRC_IP : B_RSVP_IP, ip->b, ip->len, l->rate_per_ip,
                    l->rate_per_ip_interval_ms, now, bp);
    }
    if ((bp && bp->tokens == 0) || (bi && bi->tokens == 0)) {
        t->refusal = bp && bp->tokens == 0 ? RELAY_REFUSED_RATE_PER_PEER : RELAY_REFUSED_RATE_PER_IP;
        return false;
    }
    if (bp) {
        bp->tokens--;
        bp->used_ms = now;
    }
    if (bi) {
        bi->tokens--;
        bi->used_ms = now;
    }
    return true;
}

/* ---- reservations ---------------------------------------------------------- */

static void rsvp_remove(struct relay_table *t, size_t i)
{
    t->rsvps[i] = t->rsvps[--t->nrsvps];
}

size_t relay_table_expire(struct relay_table *t, uint64_t now_ms, uint64_t *next_ms)
{
    size_t removed = 0;
    uint64_t next = 0;
    for (size_t i = 0; i < t->nrsvps;) {
        if (t->rsvps[i].expire_ms <= now_ms) {
            rsvp_remove(t, i);
            removed++;
            continue;
        }
        if (!next || t->rsvps[i].expire_ms < next) next = t->rsvps[i].expire_ms;
        i++;
    }
    if (next_ms) *next_ms = next;
    return removed;
}

int relay_table_reserve(struct relay_table *t, const p2p_peerid *peer, uint64_t conn_id,
                        const struct relay_ip *ip, uint64_t now_ms, uint64_t *expire_ms, bool *renewed)
{
    relay_table_expire(t, now_ms, NULL);
    size_t same = t->nrsvps, per_peer = 0, per_ip = 0;
    for (size_t i = 0; i < t->nrsvps; i++) {
        const struct relay_rsvp *r = &t->rsvps[i];
        if (p2p_peerid_equal(&r->peer, peer)) {
            per_peer++;
            if (r->conn_id == conn_id) same = i;
        }
        if (ip->len && r->ip.len == ip->len && !memcmp(r->ip.b, ip->b, ip->len)) per_ip++;
    }
    bool renewal = same < t->nrsvps;
    t->refusal = RELAY_REFUSED_NONE;
    if (!renewal) {
        if (t->nrsvps >= t->lim.max_reservations) t->refusal = RELAY_REFUSED_MAX_RESERVATIONS;
        else if (per_peer >= t->lim.max_reservations_per_peer) t->refusal = RELAY_REFUSED_RESERVATIONS_PER_PEER;
        else if (t->lim.max_reservations_per_ip && ip->len && per_ip >= t->lim.max_reservations_per_ip)
            t->refusal = RELAY_REFUSED_RESERVATIONS_PER_IP;
        if (t->refusal) return RELAY_STATUS_RESERVATION_REFUSED;
    }
    if (!rate_take(t, false, peer, ip, now_ms)) return RELAY_STATUS_RESERVATION_REFUSED;
    struct relay_rsvp *r = renewal ? &t->rsvps[same] : &t->rsvps[t->nrsvps++];
    r->peer = *peer;
    r->conn_id = conn_id;
    r->ip = *ip;
    r->expire_ms = now_ms + t->lim.reservation_ttl_ms;
    if (expire_ms) *expire_ms = r->expire_ms;
    if (renewed) *renewed = renewal;
    return RELAY_STATUS_OK;
}

bool relay_table_lookup(const struct relay_table *t, const p2p_peerid *peer, uint64_t now_ms, uint64_t *conn_id)
{
    const struct relay_rsvp *best = NULL;
    for (size_t i = 0; i < t->nrsvps; i++) {
        const struct relay_rsvp *r = &t->rsvps[i];
        if (r->expire_ms <= now_ms || !p2p_peerid_equal(&r->peer, peer)) continue;
        if (!best || r->expire_ms > best->expire_ms) best = r;
    }
    if (best && conn_id) *conn_id = best->conn_id;
    return best != NULL;
}

bool relay_table_has(const struct relay_table *t, const p2p_peerid *peer, uint64_t conn_id, uint64_t now_ms)
{
    for (size_t i = 0; i < t->nrsvps; i++) {
        const struct relay_rsvp *r = &t->rsvps[i];
        if (r->conn_id == conn_id && r->expire_ms > now_ms && p2p_peerid_equal(&r->peer, peer)) return true;
    }
    return false;
}

size_t relay_table_conn_closed(struct relay_table *t, uint64_t conn_id)
{
    size_t removed = 0;
    for (size_t i = 0; i < t->nrsvps;) {
        if (t->rsvps[i].conn_id == conn_id) {
            rsvp_remove(t, i);
            removed++;
        } else {
            i++;
        }
    }
    return removed;
}

/* ---- circuits ---------------------------------------------------------------- */

size_t relay_table_peer_circuits(const struct relay_table *t, const p2p_peerid *peer)
{
    size_t n = 0;
    for (size_t i = 0; i < t->ncircs; i++)
        if (p2p_peerid_equal(&t->circs[i].src, peer) || p2p_peerid_equal(&t->circs[i].dst, peer)) n++;
    return n;
}

int relay_table_circuit_open(struct relay_table *t, const p2p_peerid *src, const struct relay_ip *src_ip,
                             const p2p_peerid *dst, uint64_t now_ms, uint64_t *id)
{
    t->refusal = RELAY_REFUSED_NONE;
    if (t->ncircs >= t->lim.max_circuits) t->refusal = RELAY_REFUSED_MAX_CIRCUITS;
    else if (relay_table_peer_circuits(t, src) >= t->lim.max_circuits_per_peer ||
             relay_table_peer_circuits(t, dst) >= t->lim.max_circuits_per_peer)
        t->refusal = RELAY_REFUSED_CIRCUITS_PER_PEER;
    if (t->refusal) return RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED;
    if (!rate_take(t, true, src, src_ip, now_ms)) return RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED;
    struct relay_circ *c = &t->circs[t->ncircs++];
    c->id = t->next_circ_id++;
    c->src = *src;
    c->dst = *dst;
    if (id) *id = c->id;
    return RELAY_STATUS_OK;
}

void relay_table_circuit_close(struct relay_table *t, uint64_t id)
{
    for (size_t i = 0; i < t->ncircs; i++) {
        if (t->circs[i].id != id) continue;
        t->circs[i] = t->circs[--t->ncircs];
        return;
    }
}
