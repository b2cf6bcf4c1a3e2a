/* p2p/identify.h - the service of the identify plugin.
 *
 * The identify plugin runs /ipfs/id/1.0.0 on every new connection, stores
 * what the peer tells (protocols, listen addresses with a TTL, agent and
 * protocol version, public key) in the peer store, and then emits
 * P2P_EV_IDENTIFIED for the connection: protocols that need to know what
 * the peer supports (gossipsub, kad) wait for that event. It answers
 * /ipfs/id/push/1.0.0 updates and pushes our own changes.
 *
 * It also keeps the addresses peers observed us at (the observedAddr of
 * their messages), one observation per open connection, for NAT
 * detection. Other plugins and front-ends reach that through the service
 * "identify" version 1:
 *
 *     void *st;
 *     const struct p2p_identify_api_v1 *id =
 *         p2p_service_get(h, P2P_IDENTIFY_SERVICE, 1, &st);
 *     struct p2p_identify_observed obs[16];
 *     size_t n = id ? id->observed_addrs(st, obs, 16) : 0;
 */
#ifndef P2P_IDENTIFY_H
#define P2P_IDENTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "multiaddr.h"
#include "stream.h"

P2P_BEGIN_DECLS

#define P2P_IDENTIFY_SERVICE "identify"

/* Peer store attributes the identify plugin sets (p2p_peerstore_attr). */
#define P2P_ATTR_AGENT "agent"
#define P2P_ATTR_PROTOCOL_VERSION "protocol_version"

struct p2p_identify_observed {
    p2p_multiaddr addr;          /* our address as the peers saw it */
    unsigned observers;          /* distinct peers reporting it over open connections */
    unsigned outbound_observers; /* of those, peers on connections we dialed */
};

struct p2p_identify_api_v1 {
    /* Our observed addresses, most observed first: returns the total,
     * fills at most max. */
    size_t (*observed_addrs)(void *state, struct p2p_identify_observed *out, size_t max);
    /* Whether identify completed on this connection (P2P_EV_IDENTIFIED
     * was emitted for it), for code that starts after the event. */
    bool (*identified)(void *state, const p2p_conn *c);
};

P2P_END_DECLS
#endif
