/* autonat_policy.h - the AutoNAT server's decisions, without I/O: which
 * addresses of a DIAL request it dials back, and how many requests it
 * serves (explicit time in milliseconds of any monotonic clock).
 *
 * Dial-back addresses (autonat_dialback_addrs): the spec forbids dialing
 * anything but the IP address the request came from, so that a server
 * cannot be made to attack a third party (RFC 3489 12.1.1), and forbids
 * serving requests over relayed connections (the IP is the relay's). We
 * keep, in the request's order, the addresses whose first component is
 * the observed IP exactly (same family), that are not relayed, whose /p2p
 * part (if any) is the requester, and that the address policy (`allow`,
 * default "public": no private, loopback or reserved ranges) accepts; at
 * most max of them, deduplicated. The observed IP itself must be allowed
 * by the policy. Refusals carry the spec's status and a reason:
 *
 *   E_BAD_REQUEST    not a DIAL, no peer info, a missing or invalid
 *                    PeerId, or a PeerId other than the connection's
 *   E_DIAL_REFUSED   a relayed connection, an observed address that is not
 *                    IP or not allowed, no address left to dial
 *
 * Limits (struct autonat_limiter): one dial-back per peer at a time (as
 * rust-libp2p), at most max_inflight at once, at most per_peer requests
 * of one peer and global requests of everyone per interval (fixed windows,
 * as go-libp2p's throttles). Only admitted requests count, so the peer
 * table never holds more than `global` entries. Refusals: E_DIAL_REFUSED. */
#ifndef AUTONAT_POLICY_H
#define AUTONAT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "autonat_msg.h"
#include "p2p/netaddr.h"

/* Returns AUTONAT_OK with out[0..*n) (n >= 1), or a refusal status with
 * *why (a static sentence). observed is the remote address of the
 * connection the request came on; relayed whether that connection is
 * limited (relayed). */
uint32_t autonat_dialback_addrs(const struct p2p_addr_policy *policy, size_t max, const p2p_peerid *requester,
                                const p2p_multiaddr *observed, bool relayed, const struct autonat_msg *req,
                                p2p_multiaddr *out, size_t *n, const char **why);

struct autonat_limits {
    unsigned max_inflight;             /* dial-backs at once, everyone */
    unsigned per_peer;                 /* requests of one peer per interval */
    unsigned global;                   /* requests of everyone per interval */
    uint64_t interval_ms;
};

struct autonat_peer_count {
    p2p_peerid peer;
    unsigned used;                     /* admitted in this window */
    bool busy;                         /* a dial-back in flight */
};

struct autonat_limiter {
    struct autonat_limits lim;
    uint64_t window_start;
    unsigned used;                     /* admitted in this window, everyone */
    unsigned inflight;
    struct autonat_peer_count *peers;  /* npeers of `global` (+ busy ones from the last window) */
    size_t npeers, cap;
};

/* 0 or P2P_ENOMEM. */
int autonat_limiter_init(struct autonat_limiter *l, const struct autonat_limits *lim, uint64_t now_ms);
void autonat_limiter_free(struct autonat_limiter *l);
/* Admit a request of peer at now: 0 (a dial-back is now in flight for
 * it: call autonat_limiter_done when it ends), or P2P_ELIMIT with *why. */
int autonat_limiter_admit(struct autonat_limiter *l, const p2p_peerid *peer, uint64_t now_ms, const char **why);
void autonat_limiter_done(struct autonat_limiter *l, const p2p_peerid *peer);

#endif
