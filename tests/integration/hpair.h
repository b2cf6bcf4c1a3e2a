/* hpair.h - an honest pair chatting through a node under attack, for the
 * hostile-peer tests: "honest peers keep chatting with bounded latency".
 *
 * Host A (the caller's, already connected to the node) sends a small
 * message every interval on a stream of HPAIR_PROTOCOL to the node; the
 * node forwards it to host B (a host made here, which the node dials:
 * an outbound connection of the node, so it takes nothing from per-IP
 * or pending-inbound limits a test sets); B sends it back the same way;
 * A measures each round trip A -> node -> B -> node -> A. At the end every
 * message must have come back, the worst round trip must be under the
 * bound, and p50/max are printed. Everything runs on the caller's loop. */
#ifndef P2P_HPAIR_H
#define P2P_HPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "p2p/p2p.h"

#define HPAIR_PROTOCOL "/hostile/chat/1.0.0"

struct hpair;

/* Start the pair on loop: registers HPAIR_PROTOCOL on node (its handler
 * forwards between the two streams), makes host B, has node dial it, and
 * opens both streams (asserting each step). a_conn is A's connection to
 * node. Messages go every interval_ms from then on. */
struct hpair *hpair_start(uv_loop_t *loop, p2p_host *node, p2p_conn *a_conn, unsigned interval_ms);

struct hpair_stats {
    size_t sent, returned;
    double p50_ms, max_ms;
};

/* Stop sending, wait (up to 10 s) for the messages in flight, and check:
 * every message came back, none failed, the worst round trip is under
 * bound_ms (multiplied by CK_TIMEOUT_MULTIPLIER when set: sanitizers).
 * Prints "honest pair through the node: ...". */
void hpair_stop(struct hpair *hp, uint64_t bound_ms, struct hpair_stats *out);
/* Host B (e.g. to leave it out of connection counts). */
p2p_host *hpair_partner(const struct hpair *hp);
/* Free B and everything else (after hpair_stop, before closing the loop). */
void hpair_free(struct hpair *hp);

#endif
