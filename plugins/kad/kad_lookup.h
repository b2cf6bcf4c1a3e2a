/* kad_lookup.h - the iterative Kademlia lookup as a state machine without
 * I/O, driven with explicit time (ms).
 *
 * The candidates are kept sorted by XOR distance to the target (bounded:
 * max_candidates; a closer newcomer pushes out the farthest candidate not
 * yet asked). The driver loops:
 *
 *     while ((act = kad_lookup_next(l, now, &peer)) == KAD_LK_SEND)
 *         send a request to peer;
 *     if (act == KAD_LK_DONE) take kad_lookup_result();
 *     else wait for a response, a failure or kad_lookup_deadline();
 *
 * and reports every answer with kad_lookup_response (the closer peers it
 * carried) or kad_lookup_failure (error, refusal). Requests time out on
 * their own after request_timeout_ms (kad_lookup_next notices).
 *
 * Rules (libp2p kad-dht "peer routing"):
 *  - at most alpha requests in flight;
 *  - only the k closest peers not known to have failed are asked;
 *  - the lookup is done when those k closest have all answered, or when
 *    nobody is left to ask and nothing is in flight (fewer than k peers
 *    reachable), or when max_requests requests were sent and nothing is in
 *    flight, or when the driver calls kad_lookup_stop (quorum reached,
 *    target found, overall timeout).
 * Responses to peers we did not ask (or asked and already gave up on)
 * are ignored, so arbitrary input cannot corrupt the state.
 *
 * Disjoint paths (S/Kademlia, as rust-libp2p's disjoint_query_paths):
 * with paths = d > 1 the seeds are dealt round-robin to d paths, a peer
 * learned from a response becomes known to the responder's path, the
 * first path to ask a peer owns it (no peer is asked by two paths, and
 * its answer feeds only its owner), each path runs the rules above on the
 * peers it knows and does not leave to another owner (alpha requests
 * each), and the lookup is done when every path is. Peers an adversary
 * feeds into one path cannot take over the others. The result is still
 * the closest peers that answered, over all paths. */
#ifndef KAD_LOOKUP_H
#define KAD_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kad_key.h"
#include "p2p/peerid.h"

#define KAD_LK_MAX_PATHS 8

struct kad_lookup_config {
    size_t k;                    /* result size and termination set (20) */
    size_t alpha;                /* requests in flight (3), per path */
    size_t max_candidates;       /* candidates kept (>= k) */
    size_t max_requests;         /* requests sent in all (0 = unlimited) */
    uint64_t request_timeout_ms; /* one request */
    size_t paths;                /* disjoint paths (S/Kademlia); 0 or 1: one path */
};

enum kad_lk_state { KAD_LK_NEW = 0, KAD_LK_WAITING, KAD_LK_OK, KAD_LK_FAILED };

struct kad_lk_peer {
    p2p_peerid id;
    kad_key key;
    uint8_t state;               /* enum kad_lk_state */
    uint8_t path;                /* the path that asked it (once asked) */
    uint8_t paths;               /* bit mask: the paths that know it */
    uint8_t hop;                 /* responses between a seed and this peer (0: seed; saturates) */
    uint64_t sent_ms;
};

struct kad_lookup {
    struct kad_lookup_config cfg;
    kad_key target;
    p2p_peerid self;             /* never a candidate */
    struct kad_lk_peer *p;       /* n candidates, closest first */
    size_t n;
    size_t inflight;
    size_t inflight_path[KAD_LK_MAX_PATHS];
    size_t next_path;            /* seeds are dealt round-robin */
    size_t requests;
    size_t answers;              /* successful responses */
    size_t rounds;               /* 1 + the largest hop of a peer asked (0: nobody asked) */
    bool done;
};

enum kad_lk_action { KAD_LK_SEND = 1, KAD_LK_WAIT, KAD_LK_DONE };

/* 0, P2P_EINVAL (k, alpha or max_candidates < k is 0) or P2P_ENOMEM. */
int kad_lookup_init(struct kad_lookup *l, const kad_key *target, const p2p_peerid *self,
                    const struct kad_lookup_config *cfg);
void kad_lookup_free(struct kad_lookup *l);

/* Add a candidate (seed or learned); returns true when it is new and kept. */
bool kad_lookup_add(struct kad_lookup *l, const p2p_peerid *id);
/* What to do now (see above). For KAD_LK_SEND, *peer is the peer to ask
 * (marked as waiting). */
int kad_lookup_next(struct kad_lookup *l, uint64_t now, p2p_peerid *peer);
/* The peer answered with these closer peers. Returns false (and changes
 * nothing) when no request to it was waiting. */
bool kad_lookup_response(struct kad_lookup *l, const p2p_peerid *peer, const p2p_peerid *closer, size_t n,
                         uint64_t now);
/* The request to the peer failed (false if none was waiting). */
bool kad_lookup_failure(struct kad_lookup *l, const p2p_peerid *peer, uint64_t now);
/* Finish now: kad_lookup_next returns KAD_LK_DONE from then on. */
void kad_lookup_stop(struct kad_lookup *l);
/* Earliest time at which a waiting request times out (UINT64_MAX: none). */
uint64_t kad_lookup_deadline(const struct kad_lookup *l);
/* The closest peers that answered, closest first, at most max (k is what
 * the spec returns); returns the count. */
size_t kad_lookup_result(const struct kad_lookup *l, p2p_peerid *out, size_t max);
/* The state of a peer, or -1 when it is not a candidate. */
int kad_lookup_state(const struct kad_lookup *l, const p2p_peerid *id);

#endif
