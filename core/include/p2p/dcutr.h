/* p2p/dcutr.h - the service of the dcutr plugin (hole punching, libp2p
 * DCUtR): what became of the upgrades of relayed connections to direct
 * ones, for front-ends (p2pchat's /peers) and metrics exporters.
 *
 *     void *st;
 *     const struct p2p_dcutr_api_v1 *d = p2p_service_get(h, P2P_DCUTR_SERVICE, 1, &st);
 *     struct p2p_dcutr_stats s;
 *     if (d) d->stats(st, &s);
 *
 * Every upgrade ends exactly once, in succeeded, failed or superseded, and
 * is logged (module "dcutr", info) with its reason; every attempt (one
 * CONNECT/SYNC round and its dials) too. The counters only grow, from the
 * plugin's start. */
#ifndef P2P_DCUTR_H
#define P2P_DCUTR_H

#include <stdint.h>

#include "api.h"

P2P_BEGIN_DECLS

#define P2P_DCUTR_SERVICE "dcutr"

struct p2p_dcutr_stats {
    uint64_t started_initiator;   /* upgrades we started (we received the relayed connection) */
    uint64_t started_responder;   /* upgrades the peer started with us */
    uint64_t succeeded;           /* a direct connection to the peer replaced the relayed one */
    uint64_t failed;              /* given up: every attempt failed, no address to offer, timeouts... */
    uint64_t superseded;          /* not tried: both sides had dialed, the relayed connection kept is
                                     the one the peer upgrades */
    uint64_t attempts;            /* CONNECT/SYNC rounds (sent as initiator, answered as responder) */
    uint64_t attempts_failed;     /* rounds whose punch dials all failed */
    uint64_t dials;               /* punch dials started */
    uint64_t unilateral_ok;       /* direct dials to public addresses that made a punch unnecessary */
    uint64_t refused;             /* /libp2p/dcutr streams refused (not over a relayed connection we
                                     dialed, or too many punches at once) */
    uint64_t last_rtt_us;         /* initiator: the last relayed round trip measured */
};

struct p2p_dcutr_api_v1 {
    /* Copy the counters to out. */
    void (*stats)(void *state, struct p2p_dcutr_stats *out);
};

P2P_END_DECLS
#endif
