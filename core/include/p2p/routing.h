/* p2p/routing.h - the service "routing" (versions 1 and 2): peer, value
 * and content routing over the Kademlia DHT (the kad plugin, libp2p
 * kad-dht).
 *
 *     void *st;
 *     const struct p2p_routing_api_v2 *rt =
 *         p2p_service_get(h, P2P_ROUTING_SERVICE, 2, &st);
 *     uint64_t id;
 *     if (rt && rt->find_peer(st, &peer, on_found, ctx, &id) == 0) ...
 *     ... rt->cancel(st, id);   // on_found runs now with P2P_ECANCELED
 *
 * Rules for every asynchronous call:
 *  - It returns 0 when the operation started; its callback then runs
 *    exactly once, from the loop, never from inside the call. A negative
 *    return (P2P_EINVAL bad argument, P2P_ENOMEM, P2P_ELIMIT too many
 *    operations under way, P2P_ECLOSED the plugin is stopped) means the
 *    callback will never run.
 *  - Inputs (keys, values, PeerIds) are copied before the call returns.
 *  - Everything a callback receives (peers, addresses, values) is
 *    borrowed for the duration of the callback only: copy what you keep.
 *  - When the host stops first, the callback runs with P2P_ECANCELED.
 *
 * Keys are byte strings. Values are stored under "/namespace/..." keys
 * and must pass the namespace's validator at every node (unknown
 * namespaces are refused): "/pk/<binary PeerId>" holds a peer's public
 * key (PublicKey protobuf), "/p2pchat/<binary PeerId>[/<name>]" holds a
 * record signed by that peer (see seal_record). Provider keys are any
 * 1..80 bytes (by convention a multihash, as IPFS uses CIDs' multihashes).
 *
 * Peers found by find_peer and find_providers are added to the peer store
 * and announced with p2p_host_peer_discovered(..., "kad"). */
#ifndef P2P_ROUTING_H
#define P2P_ROUTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "multiaddr.h"
#include "peerid.h"

P2P_BEGIN_DECLS

#define P2P_ROUTING_SERVICE "routing"
/* Addresses a p2p_routing_peer carries at most. */
#define P2P_ROUTING_MAX_ADDRS 8
/* Longest provider key (go-libp2p-kad-dht refuses longer ones). */
#define P2P_ROUTING_PROVIDER_KEY_MAX 80

struct p2p_routing_peer {
    p2p_peerid id;
    size_t naddrs;
    p2p_multiaddr addrs[P2P_ROUTING_MAX_ADDRS];
};

/* One routing table entry (table()). */
struct p2p_routing_entry {
    p2p_peerid id;
    unsigned bucket;            /* common prefix length with our key (the last bucket holds the longer ones) */
    uint64_t added_ms_ago;
    uint64_t seen_ms_ago;       /* since the last sign of life */
    bool connected;
};

/* status 0: peer found (peer != NULL, with its known addresses);
 * P2P_ENOTFOUND: the lookup ended without it; P2P_ETIMEDOUT; ... */
typedef void (*p2p_routing_peer_cb)(int status, const struct p2p_routing_peer *peer, void *arg);
/* status 0: n peers (closest first for closest_peers); n may be 0. */
typedef void (*p2p_routing_peers_cb)(int status, const struct p2p_routing_peer *peers, size_t n, void *arg);
/* status 0: the best valid value found (value, len); P2P_ENOTFOUND. */
typedef void (*p2p_routing_value_cb)(int status, const uint8_t *value, size_t len, void *arg);
/* status 0 with count = how many peers accepted (put_value, provide) or
 * the routing table size (bootstrap); P2P_ENOTFOUND when no peer did. */
typedef void (*p2p_routing_done_cb)(int status, size_t count, void *arg);

enum p2p_routing_mode { P2P_ROUTING_CLIENT = 0, P2P_ROUTING_SERVER = 1 };

struct p2p_routing_api_v1 {
    /* Find a peer's addresses: answered at once (from the loop) when we
     * are connected to it, else by an iterative FIND_NODE lookup that
     * stops as soon as a response carries the peer with addresses. */
    int (*find_peer)(void *st, const p2p_peerid *peer, p2p_routing_peer_cb cb, void *arg);
    /* The k closest DHT servers to key (a FIND_NODE lookup). */
    int (*closest_peers)(void *st, const uint8_t *key, size_t klen, p2p_routing_peers_cb cb, void *arg);
    /* Get the value of key: a GET_VALUE lookup that collects valid values
     * until quorum of them were received (ours counts as one; 0 = the
     * plugin's `quorum`), picks the best with the namespace's selector,
     * and sends the best value to the peers that returned an older one.
     * P2P_ENOTFOUND when no valid value was found. */
    int (*get_value)(void *st, const uint8_t *key, size_t klen, unsigned quorum, p2p_routing_value_cb cb,
                     void *arg);
    /* Store a value: validated locally (P2P_EINVAL / P2P_ENOTFOUND for an
     * invalid value or unknown namespace, returned by the call itself),
     * stored locally, then PUT_VALUE to the k closest peers. */
    int (*put_value)(void *st, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                     p2p_routing_done_cb cb, void *arg);
    /* Announce that we provide key: stored locally, ADD_PROVIDER to the k
     * closest peers, and re-announced every `provide_interval` while the
     * plugin runs (until stop_providing). count = peers announced to. */
    int (*provide)(void *st, const uint8_t *key, size_t klen, p2p_routing_done_cb cb, void *arg);
    /* Stop re-announcing key (records already stored at others expire). */
    int (*stop_providing)(void *st, const uint8_t *key, size_t klen);
    /* Find up to max providers of key (0 = 20): our store, then a
     * GET_PROVIDERS lookup that ends when max were found. */
    int (*find_providers)(void *st, const uint8_t *key, size_t klen, size_t max, p2p_routing_peers_cb cb,
                          void *arg);
    /* Run the bootstrap now: connect to the configured bootstrap peers,
     * look up our own PeerId, refresh stale buckets. cb gets the routing
     * table size. */
    int (*bootstrap)(void *st, p2p_routing_done_cb cb, void *arg);
    /* The routing table: returns the number of entries, fills at most max
     * (synchronous). */
    size_t (*table)(void *st, struct p2p_routing_entry *out, size_t max);
    /* Client or server mode (servers answer DHT requests and enter other
     * peers' routing tables; clients only ask). */
    enum p2p_routing_mode (*mode)(void *st);
    /* A "/p2pchat/<our PeerId>[/<name>]" record signed with the host's
     * key: *key and *value are malloc'ed (release with free()). name may
     * be NULL or "" (no name part) or 1..64 printable ASCII bytes without
     * '/'. The sequence number grows with every call (and with time), so
     * a newer record always wins over an older one. */
    int (*seal_record)(void *st, const char *name, const uint8_t *data, size_t len, uint8_t **key, size_t *klen,
                       uint8_t **value, size_t *vlen);
    /* Check a "/p2pchat/" value (signature by the key's peer, key bound
     * in the signature) and read it: *data points into value. 0,
     * P2P_EINVAL, P2P_EPEERID or P2P_ECRYPTO. */
    int (*open_record)(void *st, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                       uint64_t *seq, const uint8_t **data, size_t *dlen);
};

/* Version 2: version 1 plus operation handles and cancel, and an end to
 * the republishing of a value. The plugin provides both versions; v1's
 * functions behave like v2's with id = NULL.
 *
 * Every asynchronous call takes `uint64_t *id` (may be NULL): when the
 * call returns 0, *id names the operation until its callback has run.
 * cancel(st, id) ends it at once: its callback runs exactly once, with
 * P2P_ECANCELED (and no result), before cancel returns; requests still
 * under way are abandoned (a put or provide may already have reached
 * some peers). cancel returns P2P_ENOTFOUND when the operation already
 * ended (its callback ran or is running), so calling it from inside the
 * operation's own callback is harmless. Ids are never reused by a
 * plugin instance.
 *
 * put_value stores the value locally and at the k closest peers, then
 * puts it again every `republish_interval` ([plugin kad]) while the plugin
 * runs, until stop_publishing or a put of another value for the key. */
struct p2p_routing_api_v2 {
    int (*find_peer)(void *st, const p2p_peerid *peer, p2p_routing_peer_cb cb, void *arg, uint64_t *id);
    int (*closest_peers)(void *st, const uint8_t *key, size_t klen, p2p_routing_peers_cb cb, void *arg,
                         uint64_t *id);
    int (*get_value)(void *st, const uint8_t *key, size_t klen, unsigned quorum, p2p_routing_value_cb cb,
                     void *arg, uint64_t *id);
    int (*put_value)(void *st, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                     p2p_routing_done_cb cb, void *arg, uint64_t *id);
    int (*provide)(void *st, const uint8_t *key, size_t klen, p2p_routing_done_cb cb, void *arg, uint64_t *id);
    int (*stop_providing)(void *st, const uint8_t *key, size_t klen);
    int (*find_providers)(void *st, const uint8_t *key, size_t klen, size_t max, p2p_routing_peers_cb cb,
                          void *arg, uint64_t *id);
    int (*bootstrap)(void *st, p2p_routing_done_cb cb, void *arg, uint64_t *id);
    size_t (*table)(void *st, struct p2p_routing_entry *out, size_t max);
    enum p2p_routing_mode (*mode)(void *st);
    int (*seal_record)(void *st, const char *name, const uint8_t *data, size_t len, uint8_t **key, size_t *klen,
                       uint8_t **value, size_t *vlen);
    int (*open_record)(void *st, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                       uint64_t *seq, const uint8_t **data, size_t *dlen);
    /* End an operation (see above): 0, or P2P_ENOTFOUND. */
    int (*cancel)(void *st, uint64_t id);
    /* Stop republishing key (the local copy and the copies at others
     * expire after record_ttl): 0, or P2P_ENOTFOUND when we did not
     * publish it. */
    int (*stop_publishing)(void *st, const uint8_t *key, size_t klen);
};


/* What one operation cost (routing v3's stats()): the iterative lookups
 * it ran and their requests. A request goes to one peer, and a lookup
 * asks each peer at most once, so `requests` is also the number of peers
 * contacted. */
struct p2p_routing_stats {
    size_t lookups;             /* iterative lookups run (0: answered at once; bootstrap: several) */
    size_t requests;            /* lookup requests sent (FIND_NODE, GET_VALUE, GET_PROVIDERS) */
    size_t answers;             /* of which answered successfully */
    size_t rounds;              /* the longest chain of responses that led to a peer asked, plus one
                                 * (1: only the seeds from our table were asked); the largest over
                                 * the operation's lookups */
    uint64_t elapsed_ms;        /* since the operation started */
};

/* Version 3: version 2 plus stats(st, id, out), the cost of operation id
 * so far: while it runs, and from inside its own callback (the place to
 * read the final figures: the callback runs last). 0, or P2P_ENOTFOUND
 * once the callback has returned (or for an unknown id). The store phase
 * of put_value and provide (PUT_VALUE, ADD_PROVIDER) is not counted. */
struct p2p_routing_api_v3 {
    int (*find_peer)(void *st, const p2p_peerid *peer, p2p_routing_peer_cb cb, void *arg, uint64_t *id);
    int (*closest_peers)(void *st, const uint8_t *key, size_t klen, p2p_routing_peers_cb cb, void *arg,
                         uint64_t *id);
    int (*get_value)(void *st, const uint8_t *key, size_t klen, unsigned quorum, p2p_routing_value_cb cb,
                     void *arg, uint64_t *id);
    int (*put_value)(void *st, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                     p2p_routing_done_cb cb, void *arg, uint64_t *id);
    int (*provide)(void *st, const uint8_t *key, size_t klen, p2p_routing_done_cb cb, void *arg, uint64_t *id);
    int (*stop_providing)(void *st, const uint8_t *key, size_t klen);
    int (*find_providers)(void *st, const uint8_t *key, size_t klen, size_t max, p2p_routing_peers_cb cb,
                          void *arg, uint64_t *id);
    int (*bootstrap)(void *st, p2p_routing_done_cb cb, void *arg, uint64_t *id);
    size_t (*table)(void *st, struct p2p_routing_entry *out, size_t max);
    enum p2p_routing_mode (*mode)(void *st);
    int (*seal_record)(void *st, const char *name, const uint8_t *data, size_t len, uint8_t **key, size_t *klen,
                       uint8_t **value, size_t *vlen);
    int (*open_record)(void *st, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                       uint64_t *seq, const uint8_t **data, size_t *dlen);
    /* End an operation (see above): 0, or P2P_ENOTFOUND. */
    int (*cancel)(void *st, uint64_t id);
    /* Stop republishing key (the local copy and the copies at others
     * expire after record_ttl): 0, or P2P_ENOTFOUND when we did not
     * publish it. */
    int (*stop_publishing)(void *st, const uint8_t *key, size_t klen);
    int (*stats)(void *st, uint64_t id, struct p2p_routing_stats *out);
};

P2P_END_DECLS
#endif
