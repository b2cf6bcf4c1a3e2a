/* p2p/transport.h - transports: how raw byte streams to a multiaddr are
 * made (TCP; later relay circuits). A transport plugin registers its ops
 * in init with p2p_transport_add(); the swarm picks the first transport
 * whose can_dial/can_listen accepts an address.
 *
 * Every raw stream a transport hands out has its local and remote
 * multiaddrs set (p2p_stream_set_addrs) and belongs to the receiver of the
 * callback, who must eventually p2p_stream_close() it. */
#ifndef P2P_TRANSPORT_H
#define P2P_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "multiaddr.h"
#include "peerid.h"
#include "stream.h"

P2P_BEGIN_DECLS

struct p2p_dial_opts {
    uint64_t timeout_ms;         /* 0 = the transport's default */
    bool reuse_port;             /* dial from the listening port (hole punching) */
    const p2p_peerid *peer;      /* the peer being dialed, when known */
};

/* status 0: raw is the new stream (owned by the callee of the callback);
 * otherwise raw is NULL and status a P2P_E* code. Called exactly once,
 * never from inside dial(), unless the dial was canceled. */
typedef void (*p2p_dial_cb)(int status, p2p_stream *raw, void *arg);
/* A new inbound raw stream, owned by the callee. */
typedef void (*p2p_accept_cb)(p2p_stream *raw, void *arg);

struct p2p_transport_ops {
    const char *name;                   /* "tcp", for logs */
    bool limited;                       /* connections over it are limited (relays) */
    bool (*can_dial)(void *state, const p2p_multiaddr *ma);
    bool (*can_listen)(void *state, const p2p_multiaddr *ma);
    /* Start dialing; *op identifies the attempt for dial_cancel. */
    int (*dial)(void *state, const p2p_multiaddr *ma, const struct p2p_dial_opts *opts,
                p2p_dial_cb cb, void *arg, void **op);
    /* Abort a dial whose callback has not run; the callback never runs. */
    void (*dial_cancel)(void *state, void *op);
    /* Start listening. err gets a sentence on failure. */
    int (*listen)(void *state, const p2p_multiaddr *ma, p2p_accept_cb cb, void *arg,
                  void **listener, char *err, size_t errlen);
    /* The addresses a listener is reachable at (port 0 resolved); returns
     * the total count, writes at most max. */
    size_t (*listen_addrs)(void *state, void *listener, p2p_multiaddr *out, size_t max);
    void (*listen_close)(void *state, void *listener);
};

/* Register a transport (ops must outlive the host). */
P2P_API int p2p_transport_add(p2p_host *h, const struct p2p_transport_ops *ops, void *state);
P2P_API int p2p_transport_remove(p2p_host *h, const struct p2p_transport_ops *ops);
/* The first registered transport that can dial (listen = false) or listen
 * on ma, and its state; NULL if none. */
P2P_API const struct p2p_transport_ops *p2p_transport_for(const p2p_host *h, const p2p_multiaddr *ma,
                                                          bool listen, void **state);

/* Address helpers for transports. */
/* "/ip4/A/tcp/P" or "/ip6/A/tcp/P" from a sockaddr (AF_INET/AF_INET6). */
struct sockaddr;
P2P_API int p2p_maddr_from_sockaddr(p2p_multiaddr *ma, const struct sockaddr *sa, uint32_t proto_code);

P2P_END_DECLS
#endif
