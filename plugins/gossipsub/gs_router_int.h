/* gs_router_int.h - the router's internal state, shared by gs_router.c
 * (peers, topics, output, events, publish), gs_handle.c (received RPCs)
 * and gs_heartbeat.c (mesh, fanout and gossip maintenance). */
#ifndef GS_ROUTER_INT_H
#define GS_ROUTER_INT_H

#include "gs_mcache.h"
#include "gs_router.h"
#include "gs_rpc.h"
#include "gs_util.h"

struct gs_topic;

/* A growable array of peers (sets are small: meshes, fanouts, subscriber
 * lists; membership is a linear scan). */
struct gs_pset {
    struct gs_peer **v;
    size_t n, cap;
};

struct gs_peer {
    p2p_peerid id;
    uint32_t serial;                /* distinguishes connections of a peer over time */
    enum gs_proto proto;
    bool outbound;                  /* the connection was dialled by us (D_out) */
    struct gs_topic **topics;       /* topics it is subscribed to */
    size_t ntopics, captopics;
    struct gs_pending pend;         /* items not yet sealed into frames */
    p2p_buf outq;                   /* framed bytes for the caller to send */
    bool dirty;
    uint64_t sealed;                /* bytes ever sealed into outq (sealed - outq.len: taken) */
    bool full;                      /* a message found no room; until the queue drains to half */
    uint64_t stalled_since;         /* while full: since when the caller took no byte ... */
    uint64_t taken_at_stall;        /* ... of the queue (taken() then), */
    unsigned stall_beats;           /* ... and how many heartbeats saw it so (at most 2) */
    unsigned ihave_msgs, iasked, idontwant_msgs;   /* per heartbeat */
    uint64_t last_msg;              /* when it last sent us a well-formed message */
    struct gs_hset dont_send;       /* IDONTWANT ids (hashed), with a heartbeat TTL */
    double score;                   /* cached while score_gen == the router's gen */
    uint64_t score_gen;
};

struct gs_topic {
    char *name;                     /* NUL-terminated */
    size_t len;
    bool joined;
    struct gs_pset subs;            /* remote peers subscribed */
    struct gs_pset mesh;            /* joined topics */
    struct gs_pset fanout;          /* not joined, published to */
    bool fanout_active;
    uint64_t lastpub;
};

/* A (peer, topic) backoff: key = peer bytes followed by the topic. */
struct gs_backoff {
    uint64_t expires;
    size_t klen;
    uint8_t key[];
};

/* An IWANT promise: peer must deliver message id before expires. It is
 * also kept when the peer delivers any message after our IWANT: peers
 * whose message ids differ from ours (other id functions: rust's and js's
 * defaults) answer with the message, whose id we compute differently;
 * they must not be penalised for that. */
struct gs_promise {
    p2p_peerid peer;
    uint64_t created, expires;
    size_t len;
    uint8_t id[];
};

#define GS_EVENTS_MAX 65536

struct gs_router {
    struct gs_config cfg;
    p2p_keypair key;
    p2p_peerid self;
    uint64_t seqno;
    struct gs_rng rng;
    uint8_t hkey[GS_HASHKEY_LEN];
    struct gs_score *score;
    bool score_joined_topics;
    gs_validate_fn validate;
    void *validate_arg;
    uint64_t now;
    uint64_t gen;                   /* bumped by every entry point (score cache) */
    uint64_t ticks;
    uint32_t next_serial;

    struct gs_map peers;            /* id bytes -> gs_peer */
    struct gs_map topics;           /* name -> gs_topic */
    size_t njoined, nfanout;
    struct gs_map backoffs;         /* key -> gs_backoff */
    struct gs_map promises;         /* id -> gs_promise */
    struct gs_mcache mcache;
    struct gs_seen seen;

    struct gs_peer **dirty;         /* peers with sealed output to report */
    size_t ndirty, capdirty;
    struct gs_event *events;        /* ring */
    size_t ev_head, ev_n, ev_cap;

    struct gs_rpc_limits lim;
    struct gs_stats st;
};

/* gs_router.c */
int gs_pset_add(struct gs_pset *s, struct gs_peer *p);
bool gs_pset_del(struct gs_pset *s, struct gs_peer *p);
bool gs_pset_has(const struct gs_pset *s, const struct gs_peer *p);
void gs_pset_free(struct gs_pset *s);

struct gs_peer *gs_peer_get(const struct gs_router *r, const p2p_peerid *id);
struct gs_topic *gs_topic_get(const struct gs_router *r, const char *name, size_t len);
struct gs_topic *gs_topic_get_or_new(struct gs_router *r, const char *name, size_t len);
/* Free the topic if nothing refers to it any more. */
void gs_topic_gc(struct gs_router *r, struct gs_topic *t);
bool gs_peer_in_topic(const struct gs_peer *p, const struct gs_topic *t);
bool gs_is_mesh_proto(const struct gs_peer *p);

double gs_score_of(struct gs_router *r, struct gs_peer *p);
/* Every entry point starts with this: sets the time, drops cached scores. */
void gs_router_enter(struct gs_router *r, uint64_t now_ms);

/* Output: queue items for a peer (marks it dirty). Messages respect the
 * queue limit (false: not queued); control items the slack. */
bool gs_out_msg(struct gs_router *r, struct gs_peer *p, const struct gs_msg *m);
/* Whether m fits in p's queue now (what gs_out_msg checks). */
/* The peer showed that it has the message whose id hashes to h (its
 * copy or its IDONTWANT arrived): take the items of mask (GS_PEND_*)
 * queued to it for that message and not sealed yet out again (v1.2: a
 * peer that sent IDONTWANT is skipped; IDONTWANT is optional for the
 * sender). Counted in msgs_cancelled. */
void gs_out_cancel(struct gs_router *r, struct gs_peer *p, uint64_t h, unsigned mask);
bool gs_out_room(const struct gs_router *r, const struct gs_peer *p, const struct gs_msg *m);
void gs_out_graft(struct gs_router *r, struct gs_peer *p, const struct gs_topic *t);
/* A PRUNE for topic t; PX when do_px (peers of t with score >= 0, other
 * than p); backoff_ms as announced. */
void gs_out_prune(struct gs_router *r, struct gs_peer *p, struct gs_topic *t, bool do_px, uint64_t backoff_ms);
/* Whether p is slow: a message found its queue full, it has not drained
 * to half of max_queue_bytes since, and the caller took no byte of it for
 * slow_peer_ms and across two heartbeats (the peer does not read; two
 * heartbeats: the caller had a whole heartbeat interval of I/O to take
 * bytes, so a caller whose own process was descheduled does not mistake
 * its peers for slow ones). gs_out_full: the same, after noting that a
 * message found no room. gs_out_stall_beat: the heartbeat's count. */
bool gs_out_slow(struct gs_router *r, struct gs_peer *p);
bool gs_out_full(struct gs_router *r, struct gs_peer *p);
void gs_out_stall_beat(struct gs_router *r, struct gs_peer *p);
/* The peer read something (gs_router_peer_progress): the stall restarts. */
void gs_out_progress(struct gs_peer *p, uint64_t now);
bool gs_out_has_room_ctl(const struct gs_router *r, const struct gs_peer *p);
void gs_out_mark(struct gs_router *r, struct gs_peer *p);
/* Seal every dirty peer's items (one peer's) into its output queue. */
void gs_out_seal_all(struct gs_router *r);
void gs_out_seal(struct gs_peer *p);

void gs_event_push(struct gs_router *r, const struct gs_event *ev);

/* Backoffs (slack: also count the slack heartbeats after expiry). */
void gs_backoff_add(struct gs_router *r, const struct gs_peer *p, const struct gs_topic *t, uint64_t ms);
bool gs_backoff_active(const struct gs_router *r, const p2p_peerid *peer, const struct gs_topic *t, bool slack);
uint64_t gs_backoff_expiry(const struct gs_router *r, const p2p_peerid *peer, const struct gs_topic *t);
void gs_backoff_expire(struct gs_router *r);

/* Mesh changes with the scorer informed. */
int gs_mesh_add(struct gs_router *r, struct gs_topic *t, struct gs_peer *p);
bool gs_mesh_del(struct gs_router *r, struct gs_topic *t, struct gs_peer *p);

/* Random selection: up to count peers subscribed to t, speaking meshsub,
 * accepted by filter. Returns how many were written to out (which must
 * hold t->subs.n entries). */
typedef bool (*gs_peer_filter)(struct gs_router *r, struct gs_topic *t, struct gs_peer *p, void *arg);
size_t gs_select_peers(struct gs_router *r, struct gs_topic *t, size_t count, gs_peer_filter f, void *arg,
                       struct gs_peer **out);

/* gs_handle.c */
void gs_handle_rpc(struct gs_router *r, struct gs_peer *p, Gspb__RPC *rpc);

/* gs_heartbeat.c */
void gs_heartbeat_run(struct gs_router *r);
void gs_emit_gossip(struct gs_router *r, struct gs_topic *t, const struct gs_pset *exclude);

#endif
