/* relay_table.h - the relay server's bookkeeping without I/O: the
 * reservations, the circuits, and the rate limits, with time passed in
 * explicitly (milliseconds of any monotonic clock).
 *
 * Reservations are per (peer, connection), as in rust-libp2p: a RESERVE
 * on a connection that already holds one renews it (new expiry); a new
 * connection of the same peer adds one, up to max_reservations_per_peer.
 * A reservation ends at its expiry or when its connection closes
 * (relay_table_conn_closed). Refusals (any limit, rate included) answer
 * RESERVATION_REFUSED, the spec's status for "too many reservations".
 *
 * Circuits count against max_circuits and, for both the source and the
 * destination peer, max_circuits_per_peer; refusals answer
 * RESOURCE_LIMIT_EXCEEDED. The reservation of the destination is looked
 * up separately (relay_table_lookup), so the glue answers NO_RESERVATION
 * only to requests within the limits, as rust-libp2p does.
 *
 * Rate limits are token buckets (rust-libp2p's GenericRateLimiter): a
 * bucket holds up to `limit` tokens and gains one every `interval`; each
 * accepted reservation (and, in separate buckets, each circuit request)
 * takes one from its peer's bucket and one from its IP's. limit 0 turns a
 * limiter off. Buckets are kept for at most rate_keys keys (default
 * RELAY_RATE_KEYS); a full bucket is the same as none, so those are
 * evicted first, then the one least recently used. */
#ifndef RELAY_TABLE_H
#define RELAY_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/peerid.h"

#define RELAY_RATE_KEYS 1024

struct relay_limits {
    size_t max_reservations;           /* in all */
    size_t max_reservations_per_peer;
    size_t max_reservations_per_ip;    /* 0 = no per-IP limit */
    uint64_t reservation_ttl_ms;
    size_t max_circuits;
    size_t max_circuits_per_peer;
    uint32_t rate_per_peer;            /* bucket size; 0 = off */
    uint64_t rate_per_peer_interval_ms;
    uint32_t rate_per_ip;
    uint64_t rate_per_ip_interval_ms;
    size_t rate_keys;                  /* buckets kept (>= 2); 0 = RELAY_RATE_KEYS */
};

/* An IP address (4 or 16 bytes); len 0 = unknown (no per-IP limits). */
struct relay_ip {
    uint8_t len;
    uint8_t b[16];
};

struct relay_rsvp {
    p2p_peerid peer;
    uint64_t conn_id;
    struct relay_ip ip;
    uint64_t expire_ms;
};

struct relay_circ {
    uint64_t id;
    p2p_peerid src, dst;
};

struct relay_bucket {
    uint8_t kind;                      /* 0 unused; see relay_table.c */
    uint8_t len;
    uint8_t key[P2P_PEERID_MAX];
    uint32_t tokens;
    uint64_t last_ms;                  /* last refill */
    uint64_t used_ms;                  /* last use (eviction) */
};

/* Which limit refused the last request (relay_table.refusal), for logs
 * and metrics; relay_refusal_name gives the config key's name. */
enum relay_refusal {
    RELAY_REFUSED_NONE = 0,
    RELAY_REFUSED_MAX_RESERVATIONS,
    RELAY_REFUSED_RESERVATIONS_PER_PEER,
    RELAY_REFUSED_RESERVATIONS_PER_IP,
    RELAY_REFUSED_MAX_CIRCUITS,
    RELAY_REFUSED_CIRCUITS_PER_PEER,
    RELAY_REFUSED_RATE_PER_PEER,
    RELAY_REFUSED_RATE_PER_IP
};
const char *relay_refusal_name(enum relay_refusal r);

struct relay_table {
    struct relay_limits lim;
    enum relay_refusal refusal;        /* why the last reserve/circuit_open refused */
    struct relay_rsvp *rsvps;          /* nrsvps of rsvp_cap (>= max_reservations) */
    size_t nrsvps, rsvp_cap;
    struct relay_circ *circs;          /* ncircs of circ_cap (>= max_circuits) */
    size_t ncircs, circ_cap;
    uint64_t next_circ_id;
    struct relay_bucket *buckets;      /* nbuckets */
    size_t nbuckets;
};

/* Returns 0 or P2P_ENOMEM. Limits are copied. */
int relay_table_init(struct relay_table *t, const struct relay_limits *lim);
void relay_table_free(struct relay_table *t);
/* New limits (a reload): 0 or P2P_ENOMEM (then nothing changed).
 * Reservations and circuits beyond new, lower limits are kept until they
 * end; new requests are refused until below. Rate buckets keep their
 * tokens, capped at the new sizes. rate_keys cannot change. */
int relay_table_set_limits(struct relay_table *t, const struct relay_limits *lim);

/* A RESERVE from peer on connection conn_id (from ip) at now. Returns
 * RELAY_STATUS_OK with *expire_ms (and *renewed: the connection already
 * had one) or RELAY_STATUS_RESERVATION_REFUSED. Expired reservations
 * are dropped first. */
int relay_table_reserve(struct relay_table *t, const p2p_peerid *peer, uint64_t conn_id,
                        const struct relay_ip *ip, uint64_t now_ms, uint64_t *expire_ms, bool *renewed);
/* A live reservation of peer: true and the connection of the one that
 * expires last. */
bool relay_table_lookup(const struct relay_table *t, const p2p_peerid *peer, uint64_t now_ms, uint64_t *conn_id);
/* Whether (peer, conn_id) holds a live reservation. */
bool relay_table_has(const struct relay_table *t, const p2p_peerid *peer, uint64_t conn_id, uint64_t now_ms);
/* Drop expired reservations; returns how many. *next_ms (may be NULL)
 * gets the earliest remaining expiry, 0 if none. */
size_t relay_table_expire(struct relay_table *t, uint64_t now_ms, uint64_t *next_ms);
/* The connection closed: drop its reservations; returns how many. */
size_t relay_table_conn_closed(struct relay_table *t, uint64_t conn_id);

/* A CONNECT from src (from src_ip) to dst at now. Returns RELAY_STATUS_OK
 * with *id or RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED. */
int relay_table_circuit_open(struct relay_table *t, const p2p_peerid *src, const struct relay_ip *src_ip,
                             const p2p_peerid *dst, uint64_t now_ms, uint64_t *id);
/* End a circuit (unknown ids are ignored). */
void relay_table_circuit_close(struct relay_table *t, uint64_t id);
/* Circuits in which peer takes part (as source or destination). */
size_t relay_table_peer_circuits(const struct relay_table *t, const p2p_peerid *peer);

#endif
