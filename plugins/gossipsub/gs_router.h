/* gs_router.h - the gossipsub v1.0/v1.1/v1.2 and floodsub router as an
 * I/O-free state machine with explicit time.
 *
 * Inputs: peers coming and going (gs_router_add_peer/remove_peer), frames
 * received from them (gs_router_handle_rpc), our own subscriptions and
 * publications, and the heartbeat (gs_router_heartbeat, every
 * heartbeat_ms). Outputs:
 *  - bytes to send, per peer: every entry point queues RPC items per peer
 *    and, before returning, seals them into length-prefixed frames in the
 *    peer's output queue (gs_router_outq); peers whose queue grew are
 *    listed by gs_router_next_dirty. gs_router_publish and
 *    gs_router_handle_rpc leave their items unsealed, so that messages
 *    published one after another share frames (fewer frames to write,
 *    decode and wake up for), and so that a copy queued to a peer whose
 *    own copy or IDONTWANT of that message comes in a later RPC, before
 *    the caller took the output, is taken out again (v1.2: not sent to a
 *    peer that has it); gs_router_next_dirty and gs_router_outq seal what
 *    is pending. The caller writes those
 *    bytes to the peer's outbound stream and consumes them from the queue;
 *  - events (gs_router_next_event): messages to deliver to local
 *    subscribers, remote peers joining/leaving topics, PX candidates.
 * The user's validator is a callback (run synchronously, before delivery
 * and forwarding); it must not call back into the router.
 *
 * Back-pressure: a peer's queue (output queue plus unsealed items) holds
 * at most max_queue_bytes of messages. A message that does not fit is not
 * queued for that peer: forwarded messages are then dropped for it
 * (msgs_dropped_full; gossip repairs this). Control items (subscriptions,
 * GRAFT, PRUNE, gossip) may exceed the limit by GS_CONTROL_SLACK bytes,
 * then they are dropped.
 *
 * Slow peers: a peer is slow when a message found its queue full and the
 * caller has then taken no byte of that queue for slow_peer_ms and across
 * two heartbeats (the peer does not read; the heartbeats make sure the
 * caller had a heartbeat interval of I/O in which it could have); it is
 * healthy again once the queue has drained to half
 * of max_queue_bytes. A peer that reads, however slowly, stays healthy
 * and paces publishing. Our own publication is all or
 * nothing over the healthy targets: when one healthy target has no room
 * the message is queued to none and publish returns P2P_EAGAIN (the
 * publisher outruns a peer that reads: wait for it), so no healthy peer
 * silently misses a message. Slow targets are not waited for: the
 * message is dropped for them (msgs_dropped_slow), and when every target
 * is slow publish returns P2P_EAGAIN. The heartbeat prunes slow peers
 * from our meshes (PRUNE with prune_backoff, counted in slow_pruned) and
 * does not graft them; they keep getting IHAVE gossip, so a peer that
 * reads again asks for what it missed (IWANT) while the message cache
 * still holds it.
 *
 * Peers: a peer is added when the first pubsub stream with it exists,
 * with the protocol that stream negotiated (gs_router_set_proto updates
 * it). Floodsub peers only get subscriptions and messages; meshsub/1.0
 * peers no PX or backoff in PRUNE; only meshsub/1.2 peers get IDONTWANT.
 *
 * Scoring (gs_score.h) is optional: without a scorer every score is 0. */
#ifndef GS_ROUTER_H
#define GS_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gs_msg.h"
#include "gs_score.h"
#include "p2p/buf.h"
#include "p2p/crypto.h"
#include "p2p/peerid.h"
#include "p2p/pubsub.h"

#define GS_PROTO_FLOODSUB_ID "/floodsub/1.0.0"
#define GS_PROTO_MESHSUB_10_ID "/meshsub/1.0.0"
#define GS_PROTO_MESHSUB_11_ID "/meshsub/1.1.0"
#define GS_PROTO_MESHSUB_12_ID "/meshsub/1.2.0"

#define GS_CONTROL_SLACK 65536
#define GS_SEND_TARGET 65536      /* RPCs we build are split at this size when possible */

enum gs_proto { GS_FLOODSUB = 0, GS_MESHSUB_10 = 1, GS_MESHSUB_11 = 2, GS_MESHSUB_12 = 3 };

/* The protocol for an id, or -1. */
int gs_proto_parse(const char *id);
const char *gs_proto_name(enum gs_proto p);

struct gs_config {
    /* overlay (v1.0 "Parameters", v1.1 D_score, D_out) */
    unsigned d, d_lo, d_hi, d_lazy, d_score, d_out;
    double gossip_factor;                 /* v1.1 adaptive gossip */
    uint64_t heartbeat_ms;
    uint64_t fanout_ttl_ms;
    unsigned history_length, history_gossip;
    uint64_t seen_ttl_ms;
    /* v1.1 */
    uint64_t prune_backoff_ms, unsubscribe_backoff_ms, graft_flood_ms;
    unsigned backoff_slack;               /* heartbeats added before re-grafting */
    bool flood_publish;
    bool do_px;                           /* send PX in our PRUNEs */
    unsigned prune_peers;                 /* PX entries sent and accepted per PRUNE */
    unsigned opportunistic_graft_ticks, opportunistic_graft_peers;
    unsigned gossip_retransmission;       /* IWANT answers per peer and message */
    unsigned max_ihave_length;            /* ids per IHAVE sent; ids asked per peer and heartbeat */
    unsigned max_ihave_messages;          /* IHAVE RPCs accepted per peer and heartbeat */
    uint64_t iwant_followup_ms;           /* promise deadline */
    /* v1.2 */
    size_t idontwant_threshold;           /* send IDONTWANT for data of at least this size */
    unsigned idontwant_ttl;               /* heartbeats an IDONTWANT is honoured */
    unsigned max_idontwant_messages;      /* IDONTWANT RPCs accepted per peer and heartbeat */
    size_t max_idontwant;                 /* ids remembered per peer */
    /* messages */
    enum gs_sign_policy sign;
    enum gs_id_mode id_mode;
    size_t max_message_size;              /* data bytes */
    size_t max_rpc_size;                  /* received frame bytes */
    /* limits */
    size_t max_queue_bytes;               /* per peer */
    uint64_t slow_peer_ms;                /* a queue full this long marks the peer slow (0: never) */
    size_t max_topics;                    /* our subscriptions */
    size_t max_peer_topics;               /* subscriptions kept per remote peer */
    size_t max_known_topics;              /* topics known at all (ours and peers') */
    size_t max_topic_len;
    size_t max_peers;
    size_t max_mcache;                    /* cached messages */
    size_t max_mcache_bytes;              /* their encoded size */
    size_t max_seen;                      /* seen-cache entries */
    size_t max_backoff;                   /* (peer, topic) backoff entries */
    size_t max_promises;                  /* IWANT promises tracked */
    size_t max_fanout_topics;
    /* score thresholds (used when a scorer is attached) */
    struct gs_thresholds th;
};

void gs_config_default(struct gs_config *c);
/* 0, or P2P_EINVAL with a sentence in err. */
int gs_config_validate(const struct gs_config *c, char *err, size_t errlen);

typedef enum p2p_pubsub_validation (*gs_validate_fn)(void *arg, const struct gs_msg *m, const p2p_peerid *from);

struct gs_router_init {
    const struct gs_config *cfg;          /* copied */
    const p2p_keypair *key;               /* signs our messages (copied) */
    const p2p_peerid *self;
    uint64_t seqno_start;                 /* first seqno we use (e.g. wall-clock ns, as go) */
    uint64_t seed;                        /* randomness (peer selection, hash keys) */
    struct gs_score *score;               /* optional; not owned */
    bool score_joined_topics;             /* score every topic we join with default topic params */
    gs_validate_fn validate;              /* optional: NULL accepts everything */
    void *validate_arg;
};

struct gs_router;

int gs_router_new(struct gs_router **out, const struct gs_router_init *init, uint64_t now_ms);
void gs_router_free(struct gs_router *r);

/* ---- peers ------------------------------------------------------------------ */

/* ip: the binary address of the connection (4 or 16 bytes) or NULL, for
 * the scorer's IP colocation factor. 0, P2P_EEXIST, P2P_ELIMIT (max_peers),
 * P2P_ENOMEM. Queues our subscriptions to the peer. */
int gs_router_add_peer(struct gs_router *r, const p2p_peerid *peer, enum gs_proto proto, bool outbound,
                       const uint8_t *ip, size_t iplen, uint64_t now_ms);
int gs_router_set_proto(struct gs_router *r, const p2p_peerid *peer, enum gs_proto proto);
void gs_router_remove_peer(struct gs_router *r, const p2p_peerid *peer, uint64_t now_ms);
bool gs_router_has_peer(const struct gs_router *r, const p2p_peerid *peer);

/* ---- inputs ------------------------------------------------------------------- */

/* One received frame body from peer. 0, or P2P_ENOTFOUND (unknown peer),
 * P2P_EPROTO/P2P_ERANGE (not an RPC, or too large: the caller should
 * drop the stream). */
int gs_router_handle_rpc(struct gs_router *r, const p2p_peerid *peer, const uint8_t *frame, size_t len,
                         uint64_t now_ms);
/* Join / leave a topic. join: 0, P2P_EEXIST (joined already),
 * P2P_ELIMIT (max_topics or max_known_topics), P2P_EINVAL, P2P_ENOMEM. */
int gs_router_join(struct gs_router *r, const char *topic, uint64_t now_ms);
int gs_router_leave(struct gs_router *r, const char *topic, uint64_t now_ms);
/* Publish (see pubsub.h for the result codes). id/idlen: the message id
 * (may be NULL). */
int gs_router_publish(struct gs_router *r, const char *topic, const uint8_t *data, size_t len, uint64_t now_ms,
                      uint8_t *id, size_t *idlen);
void gs_router_heartbeat(struct gs_router *r, uint64_t now_ms);
/* The peer is reading: bytes already taken from its queue moved on (e.g.
 * the caller's own stream buffer shrank). A caller that takes bytes in
 * bursts (when its stream buffer empties) reports this before each
 * heartbeat, so that a peer reading slowly is not taken for a slow one. */
void gs_router_peer_progress(struct gs_router *r, const p2p_peerid *peer, uint64_t now_ms);

/* ---- outputs ------------------------------------------------------------------ */

/* Pop a peer whose output queue grew; false when none. */
bool gs_router_next_dirty(struct gs_router *r, p2p_peerid *peer);
/* The peer's queue of framed bytes (the caller consumes what it sent),
 * or NULL for an unknown peer. */
p2p_buf *gs_router_outq(struct gs_router *r, const p2p_peerid *peer);

enum gs_event_type {
    GS_EV_MESSAGE = 1,    /* msg: a validated message for local subscribers; peer: who sent it */
    GS_EV_PEER_JOINED,    /* peer subscribed to topic */
    GS_EV_PEER_LEFT,      /* peer unsubscribed from topic (or went away) */
    GS_EV_PX,             /* peer: a PeerId learned through peer exchange */
};

struct gs_event {
    enum gs_event_type type;
    struct gs_msg *msg;   /* MESSAGE: one reference, released by gs_event_clear */
    p2p_peerid peer;
    char *topic;          /* JOINED/LEFT: malloc'ed */
};

bool gs_router_next_event(struct gs_router *r, struct gs_event *ev);
void gs_event_clear(struct gs_event *ev);

/* ---- introspection ------------------------------------------------------------- */

bool gs_router_joined(const struct gs_router *r, const char *topic);
/* Remote peers subscribed to topic / in our mesh (plus floodsub peers in
 * the topic); returns the count, fills at most max. */
size_t gs_router_topic_peers(const struct gs_router *r, const char *topic, p2p_peerid *out, size_t max);
size_t gs_router_mesh_peers(const struct gs_router *r, const char *topic, p2p_peerid *out, size_t max);
size_t gs_router_fanout_peers(const struct gs_router *r, const char *topic, p2p_peerid *out, size_t max);
bool gs_router_backoff(const struct gs_router *r, const char *topic, const p2p_peerid *peer, uint64_t now_ms);
bool gs_router_seen(const struct gs_router *r, const uint8_t *id, size_t len);

struct gs_stats {
    uint64_t rpcs_in, rpcs_bad, rpcs_graylisted;
    uint64_t msgs_in, msgs_delivered, msgs_duplicate, msgs_invalid, msgs_rejected, msgs_ignored, msgs_unsubscribed;
    uint64_t msgs_forwarded, msgs_dropped_full, msgs_dropped_slow, msgs_published;
    uint64_t msgs_cancelled;        /* queued copies taken out unsent: the peer had the message */
    uint64_t slow_pruned;
    uint64_t ihave_in, iwant_in, graft_in, prune_in, idontwant_in;
    uint64_t ihave_out, iwant_out, graft_out, prune_out, idontwant_out;
    uint64_t broken_promises, events_dropped;
};
void gs_router_stats(const struct gs_router *r, struct gs_stats *st);

#endif
