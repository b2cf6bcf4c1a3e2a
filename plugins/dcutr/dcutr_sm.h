/* dcutr_sm.h - the DCUtR exchange as I/O-free state machines with
 * explicit time (microseconds of a monotonic clock).
 *
 * Roles (libp2p/specs relay/DCUtR.md): A dialed B through a relay; B, the
 * side that received the relayed connection, is the *initiator*:
 *
 *   B (initiator)                              A (responder)
 *   [optional unilateral direct dial]
 *   CONNECT(B's addrs)  t0 ------------------>
 *                       t1 <------------------ CONNECT(A's addrs)
 *   rtt = t1 - t0; SYNC ---------------------> on SYNC: dial B at once
 *   at t1 + rtt/2: dial A
 *   on failure: CONNECT again (attempts <= max_attempts, 3 by the spec)
 *
 * The caller feeds events (start, a decoded message with the addresses it
 * may dial, timer expiry, the result of the attempt's dials, a direct
 * connection appearing by any path) and performs the returned action.
 * After every call it (re)arms one timer at dcutr_sm_next_timer(). */
#ifndef DCUTR_SM_H
#define DCUTR_SM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dcutr_msg.h"

enum dcutr_action {
    DCUTR_ACT_NONE = 0,
    DCUTR_ACT_DIAL_DIRECT,      /* initiator: unilateral dial to the peer's public addresses */
    DCUTR_ACT_SEND_CONNECT,     /* send CONNECT with our addresses */
    DCUTR_ACT_SEND_SYNC,        /* initiator: send SYNC (the dial follows on the timer) */
    DCUTR_ACT_DIAL,             /* dial the peer's addresses (dcutr_sm.remote) now */
    DCUTR_ACT_SUCCESS,          /* a direct connection exists: finish */
    DCUTR_ACT_FAIL              /* give up: why says why */
};

enum dcutr_state {
    DCUTR_ST_IDLE = 0,
    DCUTR_ST_DIRECT,            /* initiator: unilateral dial in progress */
    DCUTR_ST_CONNECT_SENT,      /* initiator: waiting for the CONNECT answer */
    DCUTR_ST_SYNC_WAIT,         /* initiator: SYNC sent, waiting rtt/2 */
    DCUTR_ST_DIALING,           /* initiator: punch dials in progress */
    DCUTR_ST_WAIT_CONNECT,      /* responder: waiting for (another) CONNECT */
    DCUTR_ST_WAIT_SYNC,         /* responder: CONNECT answered, waiting for SYNC */
    DCUTR_ST_DONE,
    DCUTR_ST_FAILED
};

struct dcutr_sm {
    bool initiator;
    enum dcutr_state st;
    unsigned attempt;            /* current attempt, 1-based; 0 before the first */
    unsigned max_attempts;
    uint64_t msg_timeout;        /* waiting for one message */
    uint64_t sent_at;            /* initiator: when the attempt's CONNECT went out */
    uint64_t rtt;                /* initiator: last measured round trip */
    uint64_t dial_at;            /* initiator: when to dial (SYNC_WAIT) */
    uint64_t deadline;           /* message wait limit; 0 = none */
    size_t nremote;
    p2p_multiaddr remote[DCUTR_MAX_ADDRS];   /* the peer's addresses of this attempt */
    const char *why;             /* FAIL: a phrase for logs */
};

void dcutr_sm_init(struct dcutr_sm *m, bool initiator, unsigned max_attempts, uint64_t msg_timeout);
/* Initiator: DIAL_DIRECT when direct (the peer has public addresses and
 * unilateral dials are on), else SEND_CONNECT. Responder: NONE (waits for
 * CONNECT until now + msg_timeout). */
enum dcutr_action dcutr_sm_start(struct dcutr_sm *m, uint64_t now, bool direct);
/* A message arrived; addrs are the peer's addresses the caller may dial
 * (CONNECT, already filtered by the policy). A CONNECT without usable
 * addresses, an unexpected message or one out of order fails. */
enum dcutr_action dcutr_sm_on_msg(struct dcutr_sm *m, uint64_t now, uint32_t type, const p2p_multiaddr *addrs,
                                  size_t naddrs);
/* Initiator: the CONNECT asked for actually left now (after a new stream
 * was opened and negotiated): the round trip is measured from here. */
void dcutr_sm_connect_sent(struct dcutr_sm *m, uint64_t now);
/* The timer armed at dcutr_sm_next_timer() fired (early calls are NONE). */
enum dcutr_action dcutr_sm_on_timer(struct dcutr_sm *m, uint64_t now);
/* The dials of the current attempt (or the unilateral one) ended: ok if
 * one of them connected. */
enum dcutr_action dcutr_sm_on_dial(struct dcutr_sm *m, uint64_t now, bool ok);
/* A direct connection to the peer appeared (either side's dial). */
enum dcutr_action dcutr_sm_on_direct(struct dcutr_sm *m);
/* The stream ended (EOF) or failed. For the initiator between attempts
 * (dialing) this is what go-libp2p and rust-libp2p responders do after
 * one round: NONE, and the next CONNECT goes on a new stream. Otherwise
 * FAIL (initiator) or the end of the responder's work (FAIL, quietly). */
enum dcutr_action dcutr_sm_on_stream_end(struct dcutr_sm *m);
/* Responder: a new stream from the peer replaces the old one (peers that
 * open one stream per attempt): wait for its CONNECT, attempts go on. */
void dcutr_sm_restart_wait(struct dcutr_sm *m, uint64_t now);
/* When dcutr_sm_on_timer() wants to run next (absolute), 0 = no timer. */
uint64_t dcutr_sm_next_timer(const struct dcutr_sm *m);
bool dcutr_sm_finished(const struct dcutr_sm *m);
const char *dcutr_state_name(enum dcutr_state st);

#endif
