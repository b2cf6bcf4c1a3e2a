/* p2p/conn.h - connections, dialing, events and the peer store.
 *
 * A connection (p2p_conn) is a secured, multiplexed link to one
 * authenticated peer, made by the swarm from a raw transport stream:
 * transport -> multistream-select -> security -> multistream-select ->
 * muxer. Protocol streams are opened on it with multistream-select and
 * inbound ones are dispatched to the handlers registered with
 * p2p_protocol_add() (p2p/host.h).
 *
 * Lifetimes: a p2p_conn pointer is valid until the P2P_EV_DISCONNECTED
 * event for it has been delivered; do not keep it longer. Callbacks given
 * to p2p_host_connect / p2p_conn_open_stream run exactly once (with
 * P2P_ECANCELED if the host shuts down first), never from inside the call
 * that registered them. */
#ifndef P2P_CONN_H
#define P2P_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "crypto.h"
#include "multiaddr.h"
#include "peerid.h"
#include "stream.h"

P2P_BEGIN_DECLS

enum p2p_direction { P2P_INBOUND = 0, P2P_OUTBOUND = 1 };

P2P_API uint64_t p2p_conn_id(const p2p_conn *c);
P2P_API const p2p_peerid *p2p_conn_peer(const p2p_conn *c);
/* The peer's public key, owned by the connection and valid while it
 * lives. NULL only when out of memory (for an Ed25519 peer the key is
 * made from its PeerId on the first call). */
P2P_API const p2p_pubkey *p2p_conn_peer_key(const p2p_conn *c);
P2P_API const p2p_multiaddr *p2p_conn_local_addr(const p2p_conn *c);
P2P_API const p2p_multiaddr *p2p_conn_remote_addr(const p2p_conn *c);
P2P_API enum p2p_direction p2p_conn_direction(const p2p_conn *c);
/* Limited (relayed) connections: protocols decide whether to use them. */
P2P_API bool p2p_conn_limited(const p2p_conn *c);
P2P_API const char *p2p_conn_security(const p2p_conn *c);
P2P_API const char *p2p_conn_muxer(const p2p_conn *c);
P2P_API size_t p2p_conn_stream_count(const p2p_conn *c);
/* Bytes its streams hold in queues now, charged to the host's memory
 * budget (p2p_host_mem_stats in p2p/host.h). */
P2P_API uint64_t p2p_conn_buffered_bytes(const p2p_conn *c);
/* Graceful close: no new streams; closes when open streams end (bounded
 * by the host's close timeout). */
P2P_API void p2p_conn_close(p2p_conn *c);

/* status 0: s is a new stream whose protocol (p2p_stream_protocol) is the
 * one the remote accepted; owned by the callee, reading stopped.
 * P2P_ENEGOTIATE when the remote supports none of the protocols. */
typedef void (*p2p_open_cb)(int status, p2p_stream *s, void *arg);
/* Open a stream proposing protocols in order (NULL-terminated; copied). */
P2P_API int p2p_conn_open_stream(p2p_conn *c, const char *const *protocols, p2p_open_cb cb, void *arg);

/* status 0: c is the (possibly already existing) connection to the peer. */
typedef void (*p2p_connect_cb)(int status, p2p_conn *c, void *arg);
/* Connect to peer, reusing a connection if there is one. addrs (may be
 * NULL) are added to the peer store first; the swarm dials the peer
 * store's addresses for the peer. peer may be NULL when exactly one
 * address with no /p2p/ part is given: the connection then accepts
 * whoever answers (for tools such as ping or perf clients). */
P2P_API int p2p_host_connect(p2p_host *h, const p2p_peerid *peer, const p2p_multiaddr *addrs,
                             size_t naddrs, p2p_connect_cb cb, void *arg);
/* ---- dialing with options (hole punching) ---------------------------- */

/* The side a connection takes in the security and muxer handshakes
 * (multistream-select dialer, Noise initiator, Yamux client: INITIATOR). */
enum p2p_upgrade_role {
    P2P_ROLE_AUTO = 0,         /* from the socket: whoever dialed initiates */
    P2P_ROLE_INITIATOR = 1,
    P2P_ROLE_RESPONDER = 2
};

struct p2p_connect_opts {
    /* sizeof(struct p2p_connect_opts) as the caller knows it (use
     * P2P_CONNECT_OPTS_INIT): lets the struct grow at its end. */
    size_t size;
    /* Want a direct (unlimited) connection: a limited (relayed) one does
     * not satisfy the request, addresses of limited transports are
     * skipped, and the request is never merged with other dials. */
    bool direct;
    /* Dial from the listening port (struct p2p_dial_opts.reuse_port). */
    bool reuse_port;
    /* Role in the upgrade, for coordinated simultaneous opens (DCUtR):
     * when both ends dial each other from their listening ports, TCP may
     * join the two attempts into one connection whose both ends "dialed",
     * or hand one end's SYN to the other end's listener. With a role other
     * than AUTO (peer required), the role applies to a connection this
     * request makes from a listening port, and to a connection our
     * listeners accept from one of addrs until timeout_ms after the call;
     * a dial that fell back to an ephemeral port keeps AUTO. The
     * connection's p2p_conn_direction follows the role. */
    enum p2p_upgrade_role role;
    /* Per-address transport dial timeout; 0 = [host] dial_timeout. */
    uint64_t timeout_ms;
    /* (ABI 1.3) Make a new connection even when one to the peer exists,
     * for AutoNAT dial-backs: the request is satisfied only by a
     * connection it dials itself, never by an existing or concurrent one.
     * The swarm's rule for two connections to one peer then keeps one of
     * them (both ends agree which), so the callback may get the older
     * connection: status 0 means that this dial reached the peer and
     * authenticated it. */
    bool fresh;
};
#define P2P_CONNECT_OPTS_INIT { .size = sizeof(struct p2p_connect_opts) }

/* p2p_host_connect with options (peer required). With addrs (naddrs > 0)
 * exactly those are dialed, one after the other, and not added to the
 * peer store; without, the peer store's. With o->direct an existing
 * unlimited connection is returned at once, and the request also succeeds
 * when an unlimited connection to the peer is made meanwhile by any path
 * (e.g. the peer's simultaneous dial); a pending transport dial is then
 * canceled. P2P_EINVAL for a bad size or role. */
P2P_API int p2p_host_connect_opts(p2p_host *h, const p2p_peerid *peer, const p2p_multiaddr *addrs,
                                  size_t naddrs, const struct p2p_connect_opts *o,
                                  p2p_connect_cb cb, void *arg);
/* Connect if needed, then open a stream. */
P2P_API int p2p_host_new_stream(p2p_host *h, const p2p_peerid *peer, const char *const *protocols,
                                p2p_open_cb cb, void *arg);
/* A connection to peer (the best: unlimited before limited), or NULL. */
P2P_API p2p_conn *p2p_host_conn_to(const p2p_host *h, const p2p_peerid *peer);
/* All connections: returns the count, fills at most max. */
P2P_API size_t p2p_host_conns(const p2p_host *h, p2p_conn **out, size_t max);
/* Addresses we listen on (resolved, without /p2p/); count as above. */
P2P_API size_t p2p_host_listen_addrs(const p2p_host *h, p2p_multiaddr *out, size_t max);
/* Addresses we tell others (listen addresses plus observed/relay ones
 * added by plugins), without /p2p/. */
P2P_API size_t p2p_host_advertised_addrs(const p2p_host *h, p2p_multiaddr *out, size_t max);
/* Add or remove an extra advertised address (e.g. a relay circuit address
 * or a confirmed observed address); emits P2P_EV_ADDRS_CHANGED. */
P2P_API int p2p_host_add_advertised_addr(p2p_host *h, const p2p_multiaddr *ma);
P2P_API int p2p_host_remove_advertised_addr(p2p_host *h, const p2p_multiaddr *ma);

/* ---- reachability (NAT status), ABI 1.3 ------------------------------ */

/* Whether other peers can dial us. The core only stores and publishes it:
 * the plugin that finds it out (autonat) calls p2p_host_set_reachability;
 * users (kad's mode = auto, the relay client's reserve = auto, front-ends)
 * read it with p2p_host_reachability and subscribe to
 * P2P_EV_REACHABILITY_CHANGED. */
enum p2p_reachability {
    P2P_REACH_UNKNOWN = 0,
    P2P_REACH_PUBLIC = 1,        /* peers reached us at an address of ours */
    P2P_REACH_PRIVATE = 2        /* their dials to our addresses fail: NAT or firewall */
};

/* A value type (no pointers). */
struct p2p_reachability_info {
    /* sizeof(struct p2p_reachability_info) as the caller knows it (use
     * P2P_REACHABILITY_INFO_INIT): lets the struct grow at its end. */
    size_t size;
    enum p2p_reachability status;
    /* A plugin determines reachability (it called p2p_host_set_reachability).
     * false: nobody does, and status stays UNKNOWN for ever. */
    bool tracked;
    /* At least one probe finished. UNKNOWN with probed: the peers asked
     * could not tell (none was available, none answered, all refused). */
    bool probed;
    unsigned confidence;         /* agreeing answers since the status last changed */
    p2p_multiaddr addr;          /* PUBLIC: an address of ours a peer reached; else len 0 */
    char source[16];             /* who determines it ("autonat"), NUL-terminated */
    uint64_t changed_ms;         /* p2p_host_now_ms() when status last changed (set by the core) */
};
#define P2P_REACHABILITY_INFO_INIT { .size = sizeof(struct p2p_reachability_info) }

/* The current status. Fills *info (may be NULL) up to info->size bytes. */
P2P_API enum p2p_reachability p2p_host_reachability(const p2p_host *h, struct p2p_reachability_info *info);
/* For the plugin that determines reachability (call it from init to
 * announce that reachability is tracked, then on every change): copies
 * *info (tracked is implied, changed_ms is set by the core) and emits
 * P2P_EV_REACHABILITY_CHANGED when status, probed or tracked changed.
 * P2P_EINVAL for a bad size or status. */
P2P_API int p2p_host_set_reachability(p2p_host *h, const struct p2p_reachability_info *info);

/* ---- events --------------------------------------------------------- */

enum p2p_event_type {
    P2P_EV_CONNECTED = 1 << 0,      /* conn established (secured and muxed) */
    P2P_EV_DISCONNECTED = 1 << 1,   /* conn gone; last event for conn */
    P2P_EV_IDENTIFIED = 1 << 2,     /* identify finished for conn (emitted by the identify plugin) */
    P2P_EV_ADDRS_CHANGED = 1 << 3,  /* our advertised addresses changed */
    P2P_EV_PROTOCOLS_CHANGED = 1 << 4, /* our protocol list changed */
    P2P_EV_PEER_UPDATED = 1 << 5,   /* peer store data of a peer changed */
    P2P_EV_PEER_DISCOVERED = 1 << 6, /* a discovery mechanism found a peer (source says which) */
    P2P_EV_REACHABILITY_CHANGED = 1 << 7, /* p2p_host_reachability changed (ABI 1.3) */
    P2P_EV_ALL = 0xff
};

struct p2p_event {
    enum p2p_event_type type;
    p2p_conn *conn;                 /* CONNECTED, DISCONNECTED, IDENTIFIED */
    const p2p_peerid *peer;         /* the remote peer, when there is one */
    int reason;                     /* DISCONNECTED: 0 or a P2P_E* code */
    const char *source;             /* PEER_DISCOVERED: "mdns", "kad", ... */
};

typedef void (*p2p_event_cb)(const struct p2p_event *ev, void *arg);
typedef struct p2p_subscription p2p_subscription;
/* Subscribe to the events in mask. Subscribers run in subscription order.
 * A subscriber may unsubscribe itself from inside its callback. */
P2P_API p2p_subscription *p2p_host_subscribe(p2p_host *h, unsigned mask, p2p_event_cb cb, void *arg);
P2P_API void p2p_host_unsubscribe(p2p_host *h, p2p_subscription *sub);
/* For plugins that produce events (identify emits P2P_EV_IDENTIFIED). */
P2P_API void p2p_host_emit(p2p_host *h, const struct p2p_event *ev);

/* ---- discovery ------------------------------------------------------ */

/* For discovery plugins (mdns, kad, rendezvous...): a peer was found at
 * these addresses. Adds them to the peer store with ttl_ms and emits
 * P2P_EV_PEER_DISCOVERED; when the host's [host] auto_dial is on and the
 * peer is not connected, the host dials it (within its connection
 * limits). Front-ends subscribe to the event to show discoveries. */
P2P_API int p2p_host_peer_discovered(p2p_host *h, const p2p_peerid *peer, const p2p_multiaddr *addrs,
                                     size_t n, uint64_t ttl_ms, const char *source);

/* ---- peer store ----------------------------------------------------- */

/* Addresses: stored without the /p2p/ suffix, with an expiry (ttl_ms 0 =
 * permanent). Bounded per peer (oldest expiring first out). */
P2P_API int p2p_peerstore_add_addrs(p2p_host *h, const p2p_peerid *peer, const p2p_multiaddr *addrs,
                                    size_t n, uint64_t ttl_ms);
P2P_API size_t p2p_peerstore_addrs(const p2p_host *h, const p2p_peerid *peer, p2p_multiaddr *out, size_t max);
P2P_API int p2p_peerstore_remove_peer(p2p_host *h, const p2p_peerid *peer);
/* Protocols the peer said it supports (identify). Replaces the list. */
P2P_API int p2p_peerstore_set_protocols(p2p_host *h, const p2p_peerid *peer, const char *const *protocols, size_t n);
P2P_API bool p2p_peerstore_supports(const p2p_host *h, const p2p_peerid *peer, const char *protocol);
P2P_API size_t p2p_peerstore_protocols(const p2p_host *h, const p2p_peerid *peer, const char **out, size_t max);
P2P_API int p2p_peerstore_set_key(p2p_host *h, const p2p_peerid *peer, const p2p_pubkey *key);
P2P_API bool p2p_peerstore_key(const p2p_host *h, const p2p_peerid *peer, p2p_pubkey *out);
/* Free-form string attributes ("agent", "protocol_version"). */
P2P_API int p2p_peerstore_set_attr(p2p_host *h, const p2p_peerid *peer, const char *name, const char *value);
P2P_API const char *p2p_peerstore_attr(const p2p_host *h, const p2p_peerid *peer, const char *name);
/* Last measured round-trip time in microseconds (ping), 0 if unknown. */
P2P_API void p2p_peerstore_set_rtt(p2p_host *h, const p2p_peerid *peer, uint64_t rtt_us);
P2P_API uint64_t p2p_peerstore_rtt(const p2p_host *h, const p2p_peerid *peer);
/* Known peers: returns the count, fills at most max. */
P2P_API size_t p2p_peerstore_peers(const p2p_host *h, p2p_peerid *out, size_t max);

P2P_END_DECLS
#endif
