/* p2p/pubsub.h - the publish/subscribe service ("pubsub", version 1),
 * provided by the gossipsub plugin (or any other plugin that implements
 * it). Front-ends and plugins find it with
 *
 *     void *st;
 *     const struct p2p_pubsub_api_v1 *ps = p2p_service_get(h, P2P_PUBSUB_SERVICE, 1, &st);
 *
 * Messages are delivered to subscribers after validation (signature,
 * size, the topic's validator). A message we publish ourselves is not
 * delivered back to us. All callbacks run on the loop thread; every
 * pointer in a struct p2p_pubsub_msg is valid during the callback only. */
#ifndef P2P_PUBSUB_H
#define P2P_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "peerid.h"

P2P_BEGIN_DECLS

#define P2P_PUBSUB_SERVICE "pubsub"

enum p2p_pubsub_validation {
    P2P_PUBSUB_ACCEPT = 0,   /* deliver and forward */
    P2P_PUBSUB_REJECT = 1,   /* invalid: drop and penalise the sender */
    P2P_PUBSUB_IGNORE = 2    /* drop without penalty */
};

struct p2p_pubsub_msg {
    const char *topic;
    const uint8_t *data;
    size_t len;
    const p2p_peerid *author;        /* "from"; NULL for anonymous messages */
    const uint8_t *seqno;            /* NULL when absent */
    size_t seqno_len;
    const p2p_peerid *received_from; /* the peer that sent it to us (NULL: published locally) */
    const uint8_t *id;               /* message id */
    size_t id_len;
};

typedef void (*p2p_pubsub_msg_cb)(const struct p2p_pubsub_msg *m, void *arg);
typedef enum p2p_pubsub_validation (*p2p_pubsub_validator)(const struct p2p_pubsub_msg *m, void *arg);
/* A remote peer joined (subscribed = true) or left a topic. */
typedef void (*p2p_pubsub_peer_cb)(const char *topic, const p2p_peerid *peer, bool subscribed, void *arg);

typedef struct p2p_pubsub_sub p2p_pubsub_sub;

struct p2p_pubsub_api_v1 {
    /* Subscribe to topic (announced to every peer that speaks pubsub).
     * Several subscriptions to one topic are allowed; each gets every
     * message. Returns 0 and *out, or P2P_EINVAL, P2P_ELIMIT (too many
     * topics), P2P_ENOMEM. */
    int (*subscribe)(void *state, const char *topic, p2p_pubsub_msg_cb cb, void *arg, p2p_pubsub_sub **out);
    /* End a subscription; the topic is left when its last one ends. */
    void (*unsubscribe)(void *state, p2p_pubsub_sub *sub);
    /* Publish data to topic (we need not be subscribed). The message is
     * signed per the plugin's signing policy. Returns 0 when the message
     * was queued to every healthy peer it goes to, or: P2P_ERANGE (larger
     * than the maximum message size), P2P_ENOTFOUND (no peer to send it
     * to: nobody in the topic is connected), P2P_EAGAIN (a healthy target
     * peer's send queue is full, or every target is slow: back-pressure;
     * the message was queued to none, try again after a moment),
     * P2P_EEXIST (an identical message was published already),
     * P2P_EINVAL, P2P_ENOMEM. All healthy targets or none: never dropped
     * silently for a peer that reads. A slow peer (its full queue took
     * nothing for the provider's slow-peer timeout: it does not read) is
     * not waited for; gossipsub drops its copy, prunes it from the mesh
     * and lets it catch up by gossip (docs/reference/pubsub.md). */
    int (*publish)(void *state, const char *topic, const uint8_t *data, size_t len);
    /* Validator for a topic (NULL removes it); runs before delivery and
     * forwarding. One per topic. */
    int (*set_validator)(void *state, const char *topic, p2p_pubsub_validator fn, void *arg);
    /* Topics we are subscribed to; returns the count, fills at most max
     * (pointers valid until the next subscribe/unsubscribe). */
    size_t (*topics)(void *state, const char **out, size_t max);
    /* Peers known to be subscribed to topic (connected, speaking pubsub). */
    size_t (*topic_peers)(void *state, const char *topic, p2p_peerid *out, size_t max);
    /* Peers in our mesh for topic (gossipsub; all topic peers for floodsub). */
    size_t (*mesh_peers)(void *state, const char *topic, p2p_peerid *out, size_t max);
    /* Be told when remote peers join or leave topics (any topic). Returns
     * a handle for remove_peer_listener, or NULL. */
    void *(*add_peer_listener)(void *state, p2p_pubsub_peer_cb cb, void *arg);
    void (*remove_peer_listener)(void *state, void *handle);
};

P2P_END_DECLS
#endif
