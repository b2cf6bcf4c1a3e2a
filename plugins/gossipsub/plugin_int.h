/* plugin_int.h - the gossipsub plugin's glue state, shared by plugin.c
 * (streams, peers, events, timers) and plugin_service.c (the pubsub
 * service, configuration and lifecycle). */
#ifndef GS_PLUGIN_INT_H
#define GS_PLUGIN_INT_H

#include "gs_router.h"
#include "gs_rpc.h"
#include "gs_score.h"
#include "p2p/conn.h"
#include "p2p/p2p.h"
#include "p2p/pubsub.h"

#define MOD "gossipsub"

struct gsp;
struct gsp_peer;

/* A local topic (one or more subscriptions). */
struct gsp_topic {
    char *name;
    unsigned nsubs;
    struct gsp_topic *next;
};

struct p2p_pubsub_sub {
    struct gsp *g;
    struct gsp_topic *t;
    p2p_pubsub_msg_cb cb;
    void *arg;
    bool dead;                 /* unsubscribed; freed by the sweep */
    struct p2p_pubsub_sub *next;
};

struct gsp_validator {
    char *topic;
    p2p_pubsub_validator fn;
    void *arg;
    struct gsp_validator *next;
};

struct gsp_listener {
    p2p_pubsub_peer_cb cb;
    void *arg;
    bool dead;
    struct gsp_listener *next;
};

/* An inbound stream (the peer sends RPCs on it). */
struct gsp_in {
    struct gsp_peer *gp;
    p2p_stream *s;
    uint64_t conn_id;
    struct gs_framer fr;
    struct gsp_in *next;
};

/* Ticket of an outbound stream being opened: gp is NULL once abandoned. */
struct gsp_open {
    struct gsp_peer *gp;       /* NULL once the peer no longer wants it */
    bool move;                 /* the stream to move to (gsp_peer.move), not the first one */
};

struct gsp_peer {
    struct gsp *g;
    p2p_peerid id;
    p2p_stream *out;           /* our one outbound stream (we send on it) */
    size_t charged;            /* of the router's queue, charged to out (p2p_stream_charge) */
    uint64_t out_conn_id;
    struct gsp_open *open;     /* outbound stream being opened */
    uint64_t open_conn_id;
    bool out_limited;          /* out runs over a limited (relayed) connection */
    /* Moving to a better connection (a direct one after a hole punch, while
     * out runs over the relayed one): the new outbound stream being opened
     * (move), then open (moved) until out has passed on its queued bytes
     * and is closed (swap_out in plugin.c). */
    struct gsp_open *move;
    uint64_t move_conn_id;
    p2p_stream *moved;
    uint64_t moved_conn_id;
    struct gsp_in *ins;
    size_t nins;
    bool routed;               /* known to the router */
    size_t out_queued;         /* out's queued bytes at the last heartbeat (progress, on_heartbeat) */
    struct gsp_peer *next, *prev;
};

/* Metrics (plugin_metrics.c). */
#define GSP_METRIC_EVENTS 7
struct gsp_metrics {
    p2p_metric_series *topics, *peers, *msgs[GSP_METRIC_EVENTS];
    uint64_t seen[GSP_METRIC_EVENTS];   /* router counters at the last scrape */
};

struct gsp {
    p2p_host *host;
    struct gs_config cfg;
    struct gs_router *r;
    struct gs_score *score;
    bool started;
    p2p_subscription *evsub;
    p2p_timer *hb;
    uint64_t hb_initial_ms;
    bool use_limited, floodsub, px_connect;
    size_t max_inbound, stream_hw;
    const char *protos[5];     /* what we propose, NULL-terminated */
    struct gsp_peer *peers;
    struct gsp_topic *topics;
    size_t ntopics;
    struct p2p_pubsub_sub *subs;
    struct gsp_validator *validators;
    size_t nvalidators;
    struct gsp_listener *listeners;
    int in_validator;          /* > 0 while a validator runs */
    bool pumping;              /* events are being dispatched */
    struct p2p_defer sweep;    /* deferred leaves and frees */
    struct p2p_defer flush;    /* deferred writes of publications (gsp_flush) */
    uint64_t broken_promises_seen;   /* the router's count at the last heartbeat (for the log) */
    uint64_t dropped_slow_seen, slow_pruned_seen;   /* the same for slow peers */
    struct gsp_metrics m;
};

/* plugin_metrics.c: registered at start, collector removed at stop. */
void gsp_metrics_start(struct gsp *g);
void gsp_metrics_stop(struct gsp *g);

/* plugin.c */
void gsp_pump(struct gsp *g);
int gsp_start_io(struct gsp *g);
void gsp_stop_io(struct gsp *g);
void gsp_sweep(void *arg);
/* The flush defer: gsp_pump. */
void gsp_flush(void *arg);
/* The inbound handler of our protocols. */
void gsp_on_stream(p2p_stream *s, const char *protocol_id, void *arg);
enum p2p_pubsub_validation gsp_validate(void *arg, const struct gs_msg *m, const p2p_peerid *from);

#endif
