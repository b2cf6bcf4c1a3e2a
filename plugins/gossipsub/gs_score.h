/* gs_score.h - GossipSub v1.1 peer scoring (I/O-free).
 *
 * Implements the "Peer Scoring" section of the gossipsub v1.1 spec
 * (libp2p/specs pubsub/gossipsub/gossipsub-v1.1.md), with the behaviour of
 * go-libp2p-pubsub (score.go) and rust-libp2p (gossipsub peer_score):
 *
 *   Score(p) = TopicCap(sum_t w_t * (w1 P1 + w2 P2 + w3 P3 + w3b P3b + w4 P4))
 *              + w5 P5 + w6 P6 + w7 P7
 *
 *   P1  time in mesh: floor(time since GRAFT / quantum), capped.
 *   P2  first message deliveries: +1 per first valid delivery, capped,
 *       decaying.
 *   P3  mesh message delivery deficit: (threshold - counter)^2 when the
 *       counter (first and near-first deliveries while in the mesh, capped,
 *       decaying) is below threshold and the peer has been in the mesh for
 *       longer than the activation time; else 0.
 *   P3b mesh failure penalty: += the P3 deficit^2 when the peer leaves the
 *       mesh (prune or disconnect) with an active deficit; decaying.
 *   P4  invalid messages: counter^2, +1 per invalid message, decaying.
 *   P5  application-specific score (gs_score_set_app_score).
 *   P6  IP colocation: for each of the peer's IPs (an IPv6 address also
 *       counts as its /64), (peers on that IP - threshold)^2 if positive.
 *   P7  behaviour penalty: (counter - threshold)^2 if positive, counter
 *       raised by the router (gs_score_add_penalty), decaying.
 * TopicCap limits the positive sum of topic contributions (0: no cap);
 * topics without parameters (gs_score_set_topic) do not count at all.
 *
 * Time: every call takes now_ms (any monotonic millisecond clock, e.g.
 * uv_now). The module keeps the largest value seen as its clock, so a time
 * going backwards is read as "no time passed". P1 and the P3 activation
 * are computed exactly at the time of the call (go computes them lazily at
 * each decay); counters decay in gs_score_refresh, once per elapsed
 * decay_interval_ms (several at once if calls were late). The first time
 * seen by any call starts the decay clock.
 *
 * Peers: gs_score_add_peer when a peer starts speaking gossipsub with us,
 * gs_score_remove_peer when it is gone. As in go and rust, a peer whose
 * score is > 0 at removal is forgotten at once; a peer with a score <= 0
 * is retained, disconnected, for retain_score_ms (its counters frozen: no
 * decay; its P2 reset to 0; a P3 deficit turned into P3b), so that a
 * misbehaving peer cannot reset its score by reconnecting. A retained
 * peer that reconnects gets its old counters back. Disconnected peers
 * give up their IPs (they do not count for P6), as in rust.
 *
 * Message deliveries are tracked per message id in a delivery record,
 * like go's "deliveries" cache, so that duplicates can be credited (P3,
 * near-first) or penalised (P4) after the first copy was validated:
 *   - gs_score_duplicate_message for every copy after the first (also
 *     while the first is still being validated);
 *   - gs_score_validate_message when the first copy passed validation;
 *   - gs_score_reject_message when it failed (or was not validated).
 * Records expire delivery_ttl_ms after the message was first seen (go and
 * rust: 120 s); when max_deliveries records exist the oldest is dropped.
 * Messages in unscored topics are not tracked.
 *
 * Memory is bounded (see the limits in struct gs_score_params and the
 * GS_SCORE_* constants): peers (connected + retained) <= max_peers, a
 * retained peer with the earliest expiry making room for a new one;
 * scored topics <= max_topics; per peer, stats for at most the scored
 * topics and GS_SCORE_PEER_IPS IP keys; delivery records <=
 * max_deliveries, each remembering at most GS_SCORE_RECORD_PEERS peers.
 * With the defaults the worst case is about 4.5 MiB (8192 records of
 * 280 bytes, 4096 peers of 176 bytes, 16384 IP keys, 256 topic names,
 * hash indexes at most half full), plus 48 bytes for each (peer, topic)
 * pair in which the peer was active (grafted, or sent a message in it):
 * at most max_peers * max_topics pairs.
 *
 * Hash tables are keyed with SipHash-2-4 under params.hash_key: the router
 * should fill it with random bytes so that remote peers cannot choose
 * message ids or PeerIds that collide (the default all-zero key is
 * deterministic, fine for tests).
 *
 * Errors: 0 on success or a negative P2P_E* code (p2p/error.h):
 * P2P_EINVAL for bad arguments, P2P_ENOTFOUND for an unknown peer,
 * P2P_ESTATE for a mesh operation on a disconnected peer, P2P_EEXIST for a
 * message whose fate was already recorded, P2P_ELIMIT when a limit is
 * reached, P2P_ENOMEM. A failing call changes nothing (except that an
 * out-of-memory gs_score_add_peer may already have made room by
 * forgetting a retained peer). No global state;
 * one struct gs_score is used from one thread. */
#ifndef GS_SCORE_H
#define GS_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/peerid.h"

#define GS_SCORE_MSGID_MAX 128     /* longest message id tracked, bytes */
#define GS_SCORE_TOPIC_MAX 1024    /* longest topic name, bytes (NUL excluded) */
#define GS_SCORE_RECORD_PEERS 16   /* peers remembered per delivery record */
#define GS_SCORE_PEER_IPS 4        /* IP keys per peer (IPv6: address + /64) */

/* The scorer (opaque). Not a typedef: gs_score is also the function that
 * computes a score. */
struct gs_score;

/* Per-topic parameters. Weights of P1 and P2 must be >= 0, of P3, P3b and
 * P4 <= 0 (0 disables a component). Decays are factors applied once per
 * decay interval: in (0, 1) when the component's weight is not 0, else in
 * [0, 1). A decay that brings a counter to 0.01 after a duration D with a
 * 1 s interval is 0.01^(1 s / D). */
struct gs_topic_score_params {
    double topic_weight;                     /* >= 0 */
    /* P1: time in mesh */
    double time_in_mesh_weight;
    uint64_t time_in_mesh_quantum_ms;        /* > 0 */
    double time_in_mesh_cap;                 /* > 0 when the weight is not 0 */
    /* P2: first message deliveries */
    double first_message_deliveries_weight;
    double first_message_deliveries_decay;
    double first_message_deliveries_cap;     /* > 0 when the weight is not 0 */
    /* P3: mesh message deliveries */
    double mesh_message_deliveries_weight;
    double mesh_message_deliveries_decay;
    double mesh_message_deliveries_cap;      /* >= threshold */
    double mesh_message_deliveries_threshold;/* > 0 when the weight is not 0 */
    uint64_t mesh_message_deliveries_window_ms;     /* near-first window */
    uint64_t mesh_message_deliveries_activation_ms; /* >= 1000 when enabled */
    /* P3b: mesh failure penalty */
    double mesh_failure_penalty_weight;
    double mesh_failure_penalty_decay;
    /* P4: invalid messages */
    double invalid_message_deliveries_weight;
    double invalid_message_deliveries_decay;
};

struct gs_score_params {
    double topic_score_cap;                  /* >= 0; 0: no cap */
    double app_specific_weight;              /* w5 (any finite value) */
    double ip_colocation_factor_weight;      /* w6 <= 0 */
    double ip_colocation_factor_threshold;   /* >= 1 when w6 is not 0 */
    double behaviour_penalty_weight;         /* w7 <= 0 */
    double behaviour_penalty_threshold;      /* >= 0 */
    double behaviour_penalty_decay;          /* (0, 1) when w7 is not 0 */
    uint64_t decay_interval_ms;              /* >= 1000 */
    double decay_to_zero;                    /* (0, 1): smaller counters become 0 */
    uint64_t retain_score_ms;                /* 0: forget peers at once */
    /* Limits (all >= 1). */
    uint32_t max_peers;                      /* connected + retained, <= 1<<20 */
    uint32_t max_topics;                     /* scored topics, <= 1<<16 */
    uint32_t max_deliveries;                 /* delivery records, <= 1<<22 */
    uint64_t delivery_ttl_ms;                /* delivery record lifetime */
    uint8_t hash_key[16];                    /* SipHash key; see above */
};

/* Score thresholds (spec "Score Thresholds"); the router compares scores
 * against them (gs_score itself does not use them):
 *   score < 0                  prune from the mesh, never graft, no PX
 *                              to or from the peer;
 *   score < gossip             no IHAVE/IWANT to or from the peer;
 *   score < publish            not a target of our own (flood) publishing;
 *   score < graylist           ignore every RPC from the peer;
 *   score >= accept_px         accept PX from the peer's PRUNE;
 *   median mesh score < opportunistic_graft
 *                              graft 2 peers scoring above the median.
 * Constraints (as rust validates): graylist <= publish <= gossip <= 0,
 * accept_px >= 0, opportunistic_graft >= 0. */
struct gs_thresholds {
    double gossip;
    double publish;
    double graylist;
    double accept_px;
    double opportunistic_graft;
};

/* Why a message was rejected (go's Reject* reasons). */
enum gs_reject_reason {
    GS_REJECT_MISSING_SIGNATURE = 0,   /* P4 for the sender; not tracked */
    GS_REJECT_INVALID_SIGNATURE,       /* P4 for the sender; not tracked */
    GS_REJECT_UNEXPECTED_SIGNATURE,    /* P4 for the sender; not tracked */
    GS_REJECT_UNEXPECTED_AUTHINFO,     /* P4 for the sender; not tracked */
    GS_REJECT_SELF_ORIGIN,             /* P4 for the sender; not tracked */
    GS_REJECT_BLACKLISTED_PEER,        /* no effect */
    GS_REJECT_BLACKLISTED_SOURCE,      /* no effect */
    GS_REJECT_QUEUE_FULL,              /* no effect (not validated) */
    GS_REJECT_VALIDATION_THROTTLED,    /* no penalty; later copies ignored */
    GS_REJECT_VALIDATION_IGNORED,      /* validator said IGNORE: no penalty */
    GS_REJECT_VALIDATION_FAILED        /* validator said REJECT: P4 for the
                                          sender, the peers that sent copies
                                          so far, and later copies */
};

/* Current counts, for introspection and tests. */
struct gs_score_counts {
    uint32_t peers;        /* tracked, connected + retained */
    uint32_t connected;
    uint32_t topics;       /* scored topics */
    uint32_t deliveries;   /* delivery records */
    uint32_t ips;          /* distinct IP keys */
};

/* Defaults for a chat network; values and sources are listed in
 * gs_score_params.c (see "Defaults"). */
void gs_score_params_default(struct gs_score_params *p);
void gs_topic_params_default(struct gs_topic_score_params *tp);
void gs_thresholds_default(struct gs_thresholds *t);
/* 0 or P2P_EINVAL (any constraint above violated, or a value not finite). */
int gs_score_params_validate(const struct gs_score_params *p);
int gs_topic_params_validate(const struct gs_topic_score_params *tp);
int gs_thresholds_validate(const struct gs_thresholds *t);

/* params is copied (validated: P2P_EINVAL). */
int gs_score_new(struct gs_score **out, const struct gs_score_params *params);
void gs_score_free(struct gs_score *s);

/* Score topic with tp (copied), or replace its parameters (counters above
 * a lowered cap are clamped). P2P_ELIMIT beyond max_topics. */
int gs_score_set_topic(struct gs_score *s, const char *topic, const struct gs_topic_score_params *tp);
/* Stop scoring topic; every peer's stats for it are dropped.
 * P2P_ENOTFOUND if it was not scored. */
int gs_score_remove_topic(struct gs_score *s, const char *topic);

/* A peer connected (or one more connection of it): tracked from now on
 * (a retained peer resumes its counters). ip: the remote address as text
 * ("192.0.2.1", "2001:db8::1"; an IPv4-mapped IPv6 address counts as
 * IPv4), or NULL when unknown or not an IP connection. Loopback and
 * unspecified addresses are not counted for P6 (as go). More IP keys than
 * GS_SCORE_PEER_IPS are ignored. P2P_EINVAL for a bad PeerId or text,
 * P2P_ELIMIT when max_peers are connected. */
int gs_score_add_peer(struct gs_score *s, const p2p_peerid *peer, const char *ip, uint64_t now_ms);
/* Same with a binary address (4 or 16 bytes, e.g. the value of a
 * multiaddr's ip4/ip6 component), or ip NULL / len 0. */
int gs_score_add_peer_ip(struct gs_score *s, const p2p_peerid *peer, const uint8_t *ip, size_t len,
                         uint64_t now_ms);
/* The peer disconnected: retained or forgotten (see above). */
int gs_score_remove_peer(struct gs_score *s, const p2p_peerid *peer, uint64_t now_ms);

/* Mesh membership changes in topic (both directions: we grafted/pruned it
 * or it grafted/pruned us). Unscored topics: 0, nothing recorded.
 * prune: a P3 deficit becomes P3b. */
int gs_score_graft(struct gs_score *s, const p2p_peerid *peer, const char *topic, uint64_t now_ms);
int gs_score_prune(struct gs_score *s, const p2p_peerid *peer, const char *topic, uint64_t now_ms);

/* The first copy of message msgid (from peer from, in topic) passed
 * validation: P2 and (in the mesh) P3 credit for from, and P3 credit for
 * the mesh peers whose copies arrived while it was being validated.
 * Unknown peers are not credited, but the record is still updated.
 * P2P_EEXIST if this message was already validated or rejected. */
int gs_score_validate_message(struct gs_score *s, const p2p_peerid *from, const char *topic,
                              const uint8_t *msgid, size_t idlen, uint64_t now_ms);
/* A later copy of msgid arrived from peer from. While the first copy is
 * being validated the peer is remembered; after it was validated, a mesh
 * peer gets P3 credit if the copy arrived within
 * mesh_message_deliveries_window_ms of validation; after it was rejected
 * as invalid, the peer gets P4. Each peer counts once per message (the
 * sender of the first copy included). P2P_ENOTFOUND for unknown peers. */
int gs_score_duplicate_message(struct gs_score *s, const p2p_peerid *from, const char *topic,
                               const uint8_t *msgid, size_t idlen, uint64_t now_ms);
/* The first copy of msgid was rejected (see enum gs_reject_reason; the
 * signature/self-origin reasons do not need msgid: it may be NULL).
 * P2P_EEXIST if this message was already validated or rejected. */
int gs_score_reject_message(struct gs_score *s, const p2p_peerid *from, const char *topic,
                            const uint8_t *msgid, size_t idlen, enum gs_reject_reason reason,
                            uint64_t now_ms);

/* P7: raise the peer's behaviour penalty counter by count (>= 0), e.g. 1
 * for a GRAFT during backoff or a broken IWANT promise. */
int gs_score_add_penalty(struct gs_score *s, const p2p_peerid *peer, int count);
/* P5: the application-specific value (finite) for the peer. */
int gs_score_set_app_score(struct gs_score *s, const p2p_peerid *peer, double value);

/* Decay counters (once per elapsed decay_interval_ms), forget retained
 * peers whose time is up and expired delivery records. Call on each
 * heartbeat. */
void gs_score_refresh(struct gs_score *s, uint64_t now_ms);
/* The score of peer now; 0 for an unknown peer (or one whose retention
 * expired). */
double gs_score(struct gs_score *s, const p2p_peerid *peer, uint64_t now_ms);

void gs_score_get_counts(const struct gs_score *s, struct gs_score_counts *c);

#endif
