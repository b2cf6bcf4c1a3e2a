/* gs_testlib.h - helpers for the router suites: fake peers that feed a
 * router hand-made RPCs and decode what it sends, and small in-memory
 * networks of routers with explicit time. */
#ifndef GS_TESTLIB_H
#define GS_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gs_msg.h"
#include "gs_router.h"
#include "gs_rpc.h"
#include "gs_score.h"

/* A deterministic identity: Ed25519 from seed byte n. */
struct gst_id {
    p2p_keypair kp;
    p2p_peerid id;
};
void gst_id(struct gst_id *out, uint8_t n);

/* What a router sent to one peer (everything in its output queue,
 * decoded and consumed). */
#define GST_MAX 256
struct gst_seen {
    size_t nsub, nunsub, nmsg, nihave, nihave_ids, niwant_ids, ngraft, nprune, nidontwant_ids, npx;
    char sub[GST_MAX][64];          /* subscribed topics */
    char graft[GST_MAX][64];
    char prune[GST_MAX][64];
    uint64_t prune_backoff[GST_MAX];
    bool prune_has_backoff[GST_MAX];
    uint8_t msg_data[GST_MAX][64];  /* first bytes of each message's data */
    size_t msg_len[GST_MAX];
    uint8_t ihave_id[GST_MAX][GS_MSGID_MAX];
    size_t ihave_id_len[GST_MAX];
    uint8_t iwant_id[GST_MAX][GS_MSGID_MAX];
    size_t iwant_id_len[GST_MAX];
    size_t frames;
};
/* Decode and consume r's output for peer; *s is reset first. */
void gst_drain(struct gs_router *r, const p2p_peerid *peer, struct gst_seen *s);
/* Drain every dirty peer's output and discard it. */
void gst_discard(struct gs_router *r);

/* Feed r one RPC from peer, built from pending items. Returns
 * gs_router_handle_rpc's result. */
int gst_feed(struct gs_router *r, const p2p_peerid *peer, struct gs_pending *p, uint64_t now);
/* A signed message by author (policy strict, ids from-seqno). */
struct gs_msg *gst_msg(const struct gst_id *author, uint64_t seqno, const char *topic, const char *data);

/* Collect a router's events. */
struct gst_events {
    size_t msgs, joined, left, px;
    char last_data[256];
    p2p_peerid last_from;
    p2p_peerid px_peer[16];
};
void gst_events(struct gs_router *r, struct gst_events *e);

/* ---- networks of routers ---------------------------------------------------------- */

#define GST_NODES 24
struct gst_node {
    struct gst_id id;
    struct gs_router *r;
    struct gs_score *score;
    struct gst_events ev;
    enum p2p_pubsub_validation verdict;   /* what this node's validator says */
    size_t validated;
};

struct gst_net {
    size_t n;
    struct gst_node node[GST_NODES];
    bool link[GST_NODES][GST_NODES];
    bool drop_to[GST_NODES];  /* frames to this node are lost */
    uint64_t now;
    uint64_t hb;              /* heartbeat interval */
    uint64_t frames;
    size_t bytes_sent[GST_NODES][GST_NODES];
};

/* n routers with cfg (NULL: defaults with a 1 s heartbeat), ids from
 * seed bytes 1..n, scoring if asked. */
void gst_net_init(struct gst_net *net, size_t n, const struct gs_config *cfg, bool scoring);
void gst_net_free(struct gst_net *net);
/* Link a and b (a dialled b) with protocol proto on both sides. */
void gst_link(struct gst_net *net, size_t a, size_t b, enum gs_proto proto);
void gst_unlink(struct gst_net *net, size_t a, size_t b);
/* Move bytes between linked routers until nothing moves. */
void gst_deliver(struct gst_net *net);
/* Advance time by ms in heartbeat steps, delivering after each. */
void gst_run(struct gst_net *net, uint64_t ms);
/* Index of the node with this PeerId, or -1. */
int gst_index(const struct gst_net *net, const p2p_peerid *id);

/* ---- one router and fake peers (the router suites) -------------------------------- */

struct fx {
    struct gs_router *r;
    struct gs_score *score;
    struct gs_config cfg;
    struct gst_id self;
    struct gst_id peer[40];
    size_t n;
    uint64_t now;
    struct gst_events ev;
    enum p2p_pubsub_validation verdict;
    size_t validated;
};

/* A router (seed byte 200) and n fake peers (seed bytes 1..n), not yet
 * connected; tweak adjusts the default configuration. */
void fx_init(struct fx *f, size_t n, bool scoring, void (*tweak)(struct gs_config *));
void fx_free(struct fx *f);
/* Peers [a, b) connect with proto; outbound: we dialled them. */
void fx_add(struct fx *f, size_t a, size_t b, enum gs_proto proto, bool outbound);
void fx_sub(struct fx *f, size_t i, const char *topic, bool sub);
void fx_graft(struct fx *f, size_t i, const char *topic);
void fx_prune(struct fx *f, size_t i, const char *topic, uint64_t backoff_s, const p2p_peerid *px, size_t npx);
void fx_send_msg(struct fx *f, size_t i, const struct gs_msg *m);
/* Advance time by ms and run a heartbeat. */
void fx_beat(struct fx *f, uint64_t ms);
bool fx_in_mesh(struct fx *f, size_t i, const char *topic);
size_t fx_mesh_n(struct fx *f, const char *topic);
/* What each peer got since the last drain (per may be NULL), and the sum. */
void fx_drain_all(struct fx *f, struct gst_seen *per, struct gst_seen *sum);

#endif
