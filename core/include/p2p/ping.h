/* p2p/ping.h - the service of the ping plugin (/ipfs/ping/1.0.0).
 *
 * The ping plugin answers pings, pings every connection periodically
 * (storing the round-trip time with p2p_peerstore_set_rtt), and offers
 * on-demand pings through the service "ping" version 1:
 *
 *     void *st;
 *     const struct p2p_ping_api_v1 *ping = p2p_service_get(h, P2P_PING_SERVICE, 1, &st);
 *     if (ping) ping->ping(st, &peer, 3, on_pong, ctx);
 *
 * ping() connects to the peer if needed (through the peer store's
 * addresses), then measures `count` round trips one after the other on
 * the connection's ping stream (shared with the periodic pings: libp2p
 * allows one outbound ping stream per peer). cb runs once per round trip
 * with status 0 and the RTT in microseconds (last = true on the count-th),
 * or once with a negative P2P_E* status and last = true: P2P_ETIMEDOUT
 * (no echo within the plugin's timeout), P2P_EPROTO (wrong echo),
 * P2P_ENEGOTIATE (the peer does not support ping), P2P_ECLOSED (the
 * connection closed), P2P_ECANCELED (the host is stopping), or a
 * connection error. cb never runs from inside ping(). */
#ifndef P2P_PING_H
#define P2P_PING_H

#include <stdbool.h>
#include <stdint.h>

#include "api.h"
#include "peerid.h"

P2P_BEGIN_DECLS

#define P2P_PING_SERVICE "ping"
#define P2P_PING_PROTOCOL "/ipfs/ping/1.0.0"
#define P2P_PING_SIZE 32

typedef void (*p2p_ping_cb)(int status, uint64_t rtt_us, bool last, void *arg);

struct p2p_ping_api_v1 {
    /* 0 when started (cb will run), or P2P_EINVAL (count 0 or over 1000,
     * no cb, ourselves), P2P_ENOMEM, P2P_ECLOSED (host stopping). */
    int (*ping)(void *state, const p2p_peerid *peer, unsigned count, p2p_ping_cb cb, void *arg);
};

P2P_END_DECLS
#endif
