/* swarm.h - connections, upgrades and dials (internal to the core). */
#ifndef P2P_SWARM_H
#define P2P_SWARM_H

#include "host_internal.h"
#include "negotiate.h"
#include "p2p/conn.h"
#include "p2p/metrics.h"
#include "p2p/muxer.h"
#include "p2p/security.h"
#include "p2p/transport.h"

struct p2p_conn {
    p2p_host *host;
    uint64_t id;
    p2p_peerid peer;
    /* The peer's key, owned: set only when its PeerId does not hold it
     * (RSA, ECDSA, secp256k1) or once p2p_conn_peer_key was asked for
     * it; 1.1 KiB per connection otherwise (p2p_conn_set_key). */
    p2p_pubkey *key;
    struct p2p_addr_pair *addrs; /* shared with its raw stream (stream_internal.h) */
    enum p2p_direction dir;
    bool limited;
    bool closing;              /* graceful close requested */
    bool gone;                 /* DISCONNECTED emitted; waiting for free */
    const struct p2p_muxer_ops *mux;
    void *session;
    char security[64], muxer[64];
    uint64_t idle_since;       /* loop ms when the last stream ended; 0 = busy */
    size_t streams;            /* our count of live substreams */
    size_t idle_streams;       /* of which marked keepalive = false */
    size_t negotiating;        /* inbound streams in protocol negotiation */
    uint64_t buffered;         /* bytes its substreams hold (membudget.c) */
    struct p2p_list link;      /* in swarm.conns */
    struct p2p_list opens;     /* pending p2p_conn_open_stream requests */
    struct p2p_defer reap;
    p2p_timer *close_timer;    /* bounds a graceful close */
    p2p_metric_series *m_open; /* the p2p_connections gauge it counts in */
};

/* One upgrade of a raw stream into a connection. */
struct upgrade;

struct swarm_listener {
    p2p_host *host;
    const struct p2p_transport_ops *t;
    void *tstate;
    void *l;
    p2p_multiaddr requested;
};

struct dial_job;

/* The core's metrics (swarm_metrics.c). */
struct swarm_metrics {
    p2p_metric *conns_opened, *conns, *conns_refused, *bytes;
    p2p_metric_series *streams_in, *streams_out, *streams;
};

struct p2p_swarm {
    p2p_host *host;
    struct p2p_list conns;
    struct p2p_list upgrades;    /* in progress, both directions */
    struct p2p_list dials;       /* dial jobs */
    struct p2p_list role_hints;  /* roles for accepted hole-punch connections */
    size_t nrole_hints;
    struct swarm_listener *listeners;
    size_t nlisteners;
    p2p_multiaddr *extra_addrs;  /* advertised beyond listen addresses */
    size_t nextra;
    uint64_t next_conn_id;
    size_t pending_in, pending_out;
    p2p_timer *idle_timer;
    bool stopping;
    bool auto_dial;              /* dial discovered peers */
    /* limits and timeouts from [host] */
    size_t max_conns, max_conns_per_peer, max_pending_in, max_pending_out;
    size_t max_in_per_ip;        /* 0 = no limit */
    size_t max_negotiating;      /* inbound streams in negotiation, per connection */
    bool limit_loopback;
    uint64_t dial_timeout, upgrade_timeout, negotiate_timeout, idle_timeout, close_timeout;
    struct swarm_metrics metrics;
};

/* swarm.c */
/* The per-IP limit's key of an address: its IPv4 address (4 bytes) or its
 * IPv6 /64 prefix (8 bytes: one host is usually given a whole /64).
 * Returns the key length, or 0 for addresses without an IP (circuits). */
size_t p2p_swarm_ip_key(const p2p_multiaddr *a, uint8_t key[8], bool *loopback);
int p2p_swarm_init(p2p_host *h, char *err, size_t errlen);
int p2p_swarm_start(p2p_host *h, char *err, size_t errlen);
void p2p_swarm_stop(p2p_host *h);
void p2p_swarm_start_idle(p2p_host *h);
void p2p_swarm_free(p2p_host *h);
/* A connection finished its upgrade: register it (or refuse it). */
/* Returns the connection to use (c, or an existing one kept instead, c
 * then being closed), or NULL when refused (c killed). */
p2p_conn *p2p_swarm_add_conn(p2p_host *h, p2p_conn *c);
void p2p_swarm_conn_closed(p2p_conn *c, int reason);
/* The upgrade of a connection accepted during a hole punch with peer
 * failed: requests waiting for it may fail now. */
void p2p_swarm_punch_inbound_failed(p2p_host *h, const p2p_peerid *peer);
/* Close at once: DISCONNECTED now, session torn down from the loop. */
void p2p_swarm_conn_abort(p2p_conn *c, int reason);

/* upgrade.c: take ownership of raw. done(status, conn, arg) exactly once. */
typedef void (*upgrade_cb)(int status, p2p_conn *c, void *arg);
int p2p_upgrade_outbound(p2p_host *h, p2p_stream *raw, const p2p_peerid *expected, bool limited,
                         upgrade_cb cb, void *arg, struct upgrade **out);
int p2p_upgrade_inbound(p2p_host *h, p2p_stream *raw, bool limited, struct upgrade **out);
/* Either direction with an explicit role: outbound says which pending
 * count the upgrade is in, initiator the side in the handshakes. */
int p2p_upgrade_start(p2p_host *h, p2p_stream *raw, bool outbound, bool initiator, const p2p_peerid *expected,
                      bool limited, upgrade_cb cb, void *arg, struct upgrade **out);
void p2p_upgrade_abort(struct upgrade *u);
/* Inbound upgrades in progress whose remote address has this IP key. */
size_t p2p_upgrade_inbound_from(p2p_host *h, const uint8_t *key, size_t keylen);
/* Whether a connection accepted during a hole punch with peer (an inbound
 * upgrade expecting that peer) is being upgraded. */
bool p2p_upgrade_inbound_pending(p2p_host *h, const p2p_peerid *peer);
void p2p_upgrades_abort_all(p2p_host *h);

/* swarm_metrics.c */
void p2p_swarm_metrics_init(p2p_host *h);
void p2p_swarm_metrics_conn_open(p2p_conn *c);     /* registered */
void p2p_swarm_metrics_conn_close(p2p_conn *c);    /* removed */
void p2p_swarm_metrics_refused(p2p_host *h, const char *reason);
void p2p_swarm_metrics_raw(p2p_host *h, p2p_stream *raw, bool limited);   /* count its bytes */
void p2p_swarm_metrics_stream(p2p_host *h, bool inbound, int delta);     /* +1 adopted, -1 released */

/* conn.c */
extern const struct p2p_muxer_events p2p_conn_muxer_events;
p2p_conn *p2p_conn_new(p2p_host *h);
void p2p_conn_start(p2p_conn *c);       /* after registration: accept inbound streams */
void p2p_conn_kill(p2p_conn *c, int reason); /* immediate: free the session, fail opens */
void p2p_conn_free(p2p_conn *c);
/* The peer's verified key, given once after c->peer is set: kept only
 * when the PeerId does not hold it. 0 or P2P_ENOMEM. */
int p2p_conn_set_key(p2p_conn *c, const p2p_pubkey *key);
/* Copies the peer's key (kept or derived from the PeerId) to out. */
int p2p_conn_key_copy(const p2p_conn *c, p2p_pubkey *out);

#endif
