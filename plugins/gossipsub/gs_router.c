/* gs_router.c - the router's entry points: configuration, lifecycle,
 * peers, topics, join/leave, publish, outputs and introspection (see
 * gs_router.h; received RPCs are in gs_handle.c, the heartbeat in
 * gs_heartbeat.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_router_int.h"
#include "p2p/error.h"

static const char *const proto_ids[] = { GS_PROTO_FLOODSUB_ID, GS_PROTO_MESHSUB_10_ID, GS_PROTO_MESHSUB_11_ID,
                                         GS_PROTO_MESHSUB_12_ID };

int gs_proto_parse(const char *id)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(id, proto_ids[i])) return i;
    return -1;
}

const char *gs_proto_name(enum gs_proto p)
{
    return (unsigned)p < 4 ? proto_ids[p] : "?";
}

/* ---- configuration ----------------------------------------------------------------- */

void gs_config_default(struct gs_config *c)
{
    memset(c, 0, sizeof *c);
    c->d = 6;
    c->d_lo = 5;
    c->d_hi = 12;
    c->d_lazy = 6;
    c->d_score = 4;
    c->d_out = 2;
    c->gossip_factor = 0.25;
    c->heartbeat_ms = 1000;
    c->fanout_ttl_ms = 60000;
    c->history_length = 5;
    c->history_gossip = 3;
    c->seen_ttl_ms = 120000;
    c->prune_backoff_ms = 60000;
    c->unsubscribe_backoff_ms = 10000;
    c->graft_flood_ms = 10000;
    c->backoff_slack = 1;
    c->flood_publish = true;
    c->do_px = false;
    c->prune_peers = 16;
    c->opportunistic_graft_ticks = 60;
    c->opportunistic_graft_peers = 2;
    c->gossip_retransmission = 3;
    c->max_ihave_length = 5000;
    c->max_ihave_messages = 10;
    c->iwant_followup_ms = 3000;
    c->idontwant_threshold = 1024;
    c->idontwant_ttl = 3;
    c->max_idontwant_messages = 1000;
    c->max_idontwant = 4096;
    c->sign = GS_SIGN_STRICT;
    c->id_mode = GS_ID_FROM_SEQNO;
    c->max_message_size = 65536;
    c->max_rpc_size = 1 << 20;
    c->max_queue_bytes = 2 << 20;
    c->slow_peer_ms = 500;
    c->max_topics = 256;
    c->max_peer_topics = 256;
    c->max_known_topics = 4096;
    c->max_topic_len = GS_TOPIC_MAX_DEFAULT;
    c->max_peers = 1024;
    c->max_mcache = 8192;
    c->max_mcache_bytes = 32 << 20;
    c->max_seen = 131072;
    c->max_backoff = 16384;
    c->max_promises = 8192;
    c->max_fanout_topics = 64;
    gs_thresholds_default(&c->th);
}

int gs_config_validate(const struct gs_config *c, char *err, size_t errlen)
{
    const char *why = NULL;
    if (!(c->d_lo <= c->d && c->d <= c->d_hi)) why = "mesh degrees must satisfy d_lo <= d <= d_hi";
    else if (c->d_score > c->d) why = "d_score must not exceed d";
    else if (c->d && (c->d_out >= c->d_lo || c->d_out > c->d / 2))
        why = "d_out must be below d_lo and at most d/2";
    else if (c->gossip_factor < 0 || c->gossip_factor > 1) why = "gossip_factor must be within [0, 1]";
    else if (!c->heartbeat_ms) why = "heartbeat interval must be positive";
    else if (!c->history_length || c->history_gossip > c->history_length)
        why = "history_gossip must be at most history_length (which must be positive)";
    else if (!c->seen_ttl_ms) why = "seen_ttl must be positive";
    else if (c->max_message_size + 1024 > c->max_rpc_size)
        why = "max_rpc_size must exceed max_message_size by at least 1 KiB";
    else if (c->max_queue_bytes < c->max_message_size + 1024)
        why = "the send queue must hold at least one message of the maximum size";
    else if (!c->max_topic_len || c->max_topic_len > 1024) why = "max_topic_len must be within 1..1024";
    else if (!c->max_topics || !c->max_peer_topics || !c->max_known_topics || !c->max_peers || !c->max_seen)
        why = "limits must be positive";
    else if (c->sign == GS_SIGN_ANONYMOUS && c->id_mode != GS_ID_CONTENT)
        why = "anonymous messages need content-based message ids";
    else if (gs_thresholds_validate(&c->th) < 0)
        why = "score thresholds must satisfy graylist <= publish <= gossip <= 0 <= accept_px, opportunistic_graft";
    if (why) {
        if (err && errlen) snprintf(err, errlen, "%s", why);
        return P2P_EINVAL;
    }
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

int gs_router_new(struct gs_router **out, const struct gs_router_init *init, uint64_t now_ms)
{
    *out = NULL;
    if (gs_config_validate(init->cfg, NULL, 0) < 0) return P2P_EINVAL;
    struct gs_router *r = calloc(1, sizeof *r);
    if (!r) return P2P_ENOMEM;
    r->cfg = *init->cfg;
    if (init->key) r->key = *init->key;
    r->self = *init->self;
    r->seqno = init->seqno_start;
    gs_rng_seed(&r->rng, init->seed);
    gs_rng_bytes(&r->rng, r->hkey, sizeof r->hkey);
    r->score = init->score;
    r->score_joined_topics = init->score_joined_topics;
    r->validate = init->validate;
    r->validate_arg = init->validate_arg;
    gs_router_enter(r, now_ms);
    gs_map_init(&r->peers, r->hkey);
    gs_map_init(&r->topics, r->hkey);
    gs_map_init(&r->backoffs, r->hkey);
    gs_map_init(&r->promises, r->hkey);
    gs_mcache_init(&r->mcache, r->cfg.history_length, r->cfg.history_gossip, r->cfg.max_mcache,
                   r->cfg.max_mcache_bytes, r->hkey);
    gs_seen_init(&r->seen, r->cfg.seen_ttl_ms, r->cfg.max_seen, r->hkey);
    r->lim = (struct gs_rpc_limits){
        .max_rpc_size = r->cfg.max_rpc_size,
        .max_topic_len = r->cfg.max_topic_len,
        .max_id_len = GS_MSGID_MAX,
        .max_subs = r->cfg.max_peer_topics,
        .max_ids = r->cfg.max_ihave_length,
        .max_control = r->cfg.max_topics,
        .max_px = r->cfg.prune_peers,
    };
    *out = r;
    return 0;
}

static void peer_free(struct gs_peer *p)
{
    free(p->topics);
    gs_pending_free(&p->pend);
    p2p_buf_free(&p->outq);
    gs_hset_free(&p->dont_send);
    free(p);
}

static void topic_free(struct gs_topic *t)
{
    gs_pset_free(&t->subs);
    gs_pset_free(&t->mesh);
    gs_pset_free(&t->fanout);
    free(t->name);
    free(t);
}

static void free_map_values(struct gs_map *m, void (*fn)(void *))
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].k) fn(m->slots[i].v);
    gs_map_free(m);
}

static void free_peer_v(void *v) { peer_free(v); }
static void free_topic_v(void *v) { topic_free(v); }

void gs_router_free(struct gs_router *r)
{
    if (!r) return;
    free_map_values(&r->peers, free_peer_v);
    free_map_values(&r->topics, free_topic_v);
    free_map_values(&r->backoffs, free);
    free_map_values(&r->promises, free);
    gs_mcache_free(&r->mcache);
    gs_seen_free(&r->seen);
    struct gs_event ev;
    while (gs_router_next_event(r, &ev)) gs_event_clear(&ev);
    free(r->events);
    free(r->dirty);
    p2p_keypair_wipe(&r->key);
    free(r);
}

/* ---- lookups -------------------------------------------------------------------------- */

struct gs_peer *gs_peer_get(const struct gs_router *r, const p2p_peerid *id)
{
    return gs_map_get(&r->peers, id->bytes, id->len);
}

struct gs_topic *gs_topic_get(const struct gs_router *r, const char *name, size_t len)
{
    return gs_map_get(&r->topics, name, len);
}

struct gs_topic *gs_topic_get_or_new(struct gs_router *r, const char *name, size_t len)
{
    struct gs_topic *t = gs_topic_get(r, name, len);
    if (t) return t;
    if (r->topics.n >= r->cfg.max_known_topics || len == 0 || len > r->cfg.max_topic_len) return NULL;
    t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->name = malloc(len + 1);
    if (!t->name) {
        free(t);
        return NULL;
    }
    memcpy(t->name, name, len);
    t->name[len] = 0;
    t->len = len;
    if (gs_map_put(&r->topics, t->name, len, t) < 0) {
        topic_free(t);
        return NULL;
    }
    return t;
}

void gs_topic_gc(struct gs_router *r, struct gs_topic *t)
{
    if (t->joined || t->subs.n || t->fanout_active || t->mesh.n) return;
    gs_map_del(&r->topics, t->name, t->len);
    topic_free(t);
}

bool gs_peer_in_topic(const struct gs_peer *p, const struct gs_topic *t)
{
    for (size_t i = 0; i < p->ntopics; i++)
        if (p->topics[i] == t) return true;
    return false;
}

/* ---- peers ------------------------------------------------------------------------------- */

int gs_router_add_peer(struct gs_router *r, const p2p_peerid *peer, enum gs_proto proto, bool outbound,
                       const uint8_t *ip, size_t iplen, uint64_t now_ms)
{
    gs_router_enter(r, now_ms);
    if (gs_peer_get(r, peer)) return P2P_EEXIST;
    if (r->peers.n >= r->cfg.max_peers) return P2P_ELIMIT;
    struct gs_peer *p = calloc(1, sizeof *p);
    if (!p) return P2P_ENOMEM;
    p->id = *peer;
    p->serial = ++r->next_serial;
    p->proto = proto;
    p->outbound = outbound;
    gs_pending_init(&p->pend);
    p2p_buf_init(&p->outq, 0);
    gs_hset_init(&p->dont_send);
    if (gs_map_put(&r->peers, p->id.bytes, p->id.len, p) < 0) {
        peer_free(p);
        return P2P_ENOMEM;
    }
    if (r->score) gs_score_add_peer_ip(r->score, peer, ip, iplen, now_ms);
    /* Hello: our subscriptions. */
    for (size_t i = 0; i < r->topics.cap; i++) {
        struct gs_topic *t = r->topics.slots[i].v;
        if (r->topics.slots[i].k && t->joined) gs_pending_sub(&p->pend, t->name, t->len, true);
    }
    if (!gs_pending_empty(&p->pend)) gs_out_mark(r, p);
    gs_out_seal_all(r);
    return 0;
}

int gs_router_set_proto(struct gs_router *r, const p2p_peerid *peer, enum gs_proto proto)
{
    struct gs_peer *p = gs_peer_get(r, peer);
    if (!p) return P2P_ENOTFOUND;
    p->proto = proto;
    return 0;
}

void gs_router_remove_peer(struct gs_router *r, const p2p_peerid *peer, uint64_t now_ms)
{
    gs_router_enter(r, now_ms);
    struct gs_peer *p = gs_peer_get(r, peer);
    if (!p) return;
    for (size_t i = 0; i < p->ntopics; i++) {
        struct gs_topic *t = p->topics[i];
        gs_pset_del(&t->subs, p);
        gs_mesh_del(r, t, p);
        gs_pset_del(&t->fanout, p);
        struct gs_event ev = { .type = GS_EV_PEER_LEFT, .peer = p->id, .topic = strdup(t->name) };
        if (ev.topic) gs_event_push(r, &ev);
        gs_topic_gc(r, t);
    }
    /* A peer may be in a mesh without a subscription (a GRAFT is accepted
     * for any topic we are in, as go does). */
    for (size_t i = 0; i < r->topics.cap; i++) {
        struct gs_topic *t = r->topics.slots[i].v;
        if (!r->topics.slots[i].k) continue;
        gs_mesh_del(r, t, p);
        gs_pset_del(&t->fanout, p);
    }
    for (size_t i = 0; i < r->ndirty; i++) {
        if (r->dirty[i] == p) {
            r->dirty[i] = r->dirty[--r->ndirty];
            break;
        }
    }
    if (r->score) gs_score_remove_peer(r->score, peer, now_ms);
    gs_map_del(&r->peers, p->id.bytes, p->id.len);
    peer_free(p);
}

bool gs_router_has_peer(const struct gs_router *r, const p2p_peerid *peer)
{
    return gs_peer_get(r, peer) != NULL;
}

/* ---- received RPCs ---------------------------------------------------------------------------- */

int gs_router_handle_rpc(struct gs_router *r, const p2p_peerid *peer, const uint8_t *frame, size_t len,
                         uint64_t now_ms)
{
    gs_router_enter(r, now_ms);
    struct gs_peer *p = gs_peer_get(r, peer);
    if (!p) return P2P_ENOTFOUND;
    r->st.rpcs_in++;
    if (r->score && gs_score_of(r, p) < r->cfg.th.graylist) {
        r->st.rpcs_graylisted++;
        return 0;
    }
    struct gs_rpc rpc;
    int rc = gs_rpc_decode(&rpc, frame, len, &r->lim);
    if (rc == 0) gs_handle_rpc(r, p, rpc.pb);
    else r->st.rpcs_bad++;
    gs_rpc_clear(&rpc);
    /* Not sealed: until the caller takes the output, later RPCs (from the
     * same loop turn) may show that a peer has a message queued to it
     * (gs_out_cancel). */
    return rc;
}

/* ---- join / leave --------------------------------------------------------------------------------- */

static bool join_filter(struct gs_router *r, struct gs_topic *t, struct gs_peer *p, void *arg)
{
    (void)arg;
    return !gs_pset_has(&t->mesh, p) && !gs_backoff_active(r, &p->id, t, false) && gs_score_of(r, p) >= 0;
}

int gs_router_join(struct gs_router *r, const char *topic, uint64_t now_ms)
{
    gs_router_enter(r, now_ms);
    size_t len = topic ? strlen(topic) : 0;
    if (!len || len > r->cfg.max_topic_len) return P2P_EINVAL;
    struct gs_topic *t = gs_topic_get(r, topic, len);
    if (t && t->joined) return P2P_EEXIST;
    if (r->njoined >= r->cfg.max_topics) return P2P_ELIMIT;
    if (!(t = gs_topic_get_or_new(r, topic, len))) return r->topics.n >= r->cfg.max_known_topics ? P2P_ELIMIT : P2P_ENOMEM;
    t->joined = true;
    r->njoined++;
    if (r->score && r->score_joined_topics) {
        struct gs_topic_score_params tp;
        gs_topic_params_default(&tp);
        gs_score_set_topic(r->score, t->name, &tp);   /* P2P_ELIMIT: the topic is simply not scored */
    }
    for (size_t i = 0; i < r->peers.cap; i++) {
        struct gs_peer *p = r->peers.slots[i].v;
        if (r->peers.slots[i].k && gs_out_has_room_ctl(r, p) && gs_pending_sub(&p->pend, t->name, t->len, true) == 0)
            gs_out_mark(r, p);
    }
    /* The mesh: fanout peers first (those with a non-negative score, not
     * backing off), then random topic peers up to D. */
    if (t->fanout_active) {
        for (size_t i = 0; i < t->fanout.n; i++) {
            struct gs_peer *p = t->fanout.v[i];
            if (gs_score_of(r, p) >= 0 && !gs_backoff_active(r, &p->id, t, false)) gs_mesh_add(r, t, p);
        }
        gs_pset_free(&t->fanout);
        t->fanout_active = false;
        r->nfanout--;
    }
    if (t->mesh.n < r->cfg.d && t->subs.n) {
        struct gs_peer **sel = malloc(t->subs.n * sizeof *sel);
        size_t n = sel ? gs_select_peers(r, t, r->cfg.d - t->mesh.n, join_filter, NULL, sel) : 0;
        for (size_t i = 0; i < n; i++) gs_mesh_add(r, t, sel[i]);
        free(sel);
    }
    for (size_t i = 0; i < t->mesh.n; i++) gs_out_graft(r, t->mesh.v[i], t);
    gs_out_seal_all(r);
    return 0;
}

int gs_router_leave(struct gs_router *r, const char *topic, uint64_t now_ms)
{
    gs_router_enter(r, now_ms);
    struct gs_topic *t = topic ? gs_topic_get(r, topic, strlen(topic)) : NULL;
    if (!t || !t->joined) return P2P_ENOTFOUND;
    t->joined = false;
    r->njoined--;
    for (size_t i = 0; i < r->peers.cap; i++) {
        struct gs_peer *p = r->peers.slots[i].v;
        if (r->peers.slots[i].k && gs_out_has_room_ctl(r, p) && gs_pending_sub(&p->pend, t->name, t->len, false) == 0)
            gs_out_mark(r, p);
    }
    while (t->mesh.n) {
        struct gs_peer *p = t->mesh.v[0];
        gs_mesh_del(r, t, p);
        gs_out_prune(r, p, t, r->cfg.do_px, r->cfg.unsubscribe_backoff_ms);
        gs_backoff_add(r, p, t, r->cfg.unsubscribe_backoff_ms);
    }
    gs_out_seal_all(r);
    gs_topic_gc(r, t);
    return 0;
}

/* ---- publish -------------------------------------------------------------------------------------- */

static bool fanout_filter(struct gs_router *r, struct gs_topic *t, struct gs_peer *p, void *arg)
{
    (void)t;
    (void)arg;
    return gs_score_of(r, p) >= r->cfg.th.publish;
}

/* The fanout of a topic we are not in, created on first use. */
static void fanout_fill(struct gs_router *r, struct gs_topic *t)
{
    if (!t->fanout_active) {
        if (r->nfanout >= r->cfg.max_fanout_topics) {
            /* Forget the least recently used fanout. */
            struct gs_topic *old = NULL;
            for (size_t i = 0; i < r->topics.cap; i++) {
                struct gs_topic *x = r->topics.slots[i].v;
                if (r->topics.slots[i].k && x->fanout_active && (!old || x->lastpub < old->lastpub)) old = x;
            }
            if (!old) return;
            gs_pset_free(&old->fanout);
            old->fanout_active = false;
            r->nfanout--;
            if (old != t) gs_topic_gc(r, old);
        }
        t->fanout_active = true;
        r->nfanout++;
    }
    t->lastpub = r->now;
    if (t->fanout.n || !t->subs.n) return;
    struct gs_peer **sel = malloc(t->subs.n * sizeof *sel);
    size_t n = sel ? gs_select_peers(r, t, r->cfg.d, fanout_filter, NULL, sel) : 0;
    for (size_t i = 0; i < n; i++) gs_pset_add(&t->fanout, sel[i]);
    free(sel);
}

int gs_router_publish(struct gs_router *r, const char *topic, const uint8_t *data, size_t len, uint64_t now_ms,
                      uint8_t *id, size_t *idlen)
{
    gs_router_enter(r, now_ms);
    size_t tlen = topic ? strlen(topic) : 0;
    if (!tlen || tlen > r->cfg.max_topic_len || (!data && len)) return P2P_EINVAL;
    if (len > r->cfg.max_message_size) return P2P_ERANGE;
    struct gs_topic *t = gs_topic_get(r, topic, tlen);
    if (!t || !t->subs.n) return P2P_ENOTFOUND;
    struct gs_msg *m;
    int rc = gs_msg_publish(&m, r->cfg.sign, r->cfg.id_mode, &r->key, &r->self, r->seqno, t->name, data, len);
    if (rc < 0) return rc;
    if (gs_seen_has(&r->seen, m->id, m->id_len)) {
        gs_msg_unref(m);
        return P2P_EEXIST;
    }
    /* Targets: with flood publishing every topic peer above the publish
     * threshold; else floodsub peers, and the mesh or the fanout. All or
     * nothing over the healthy targets: when one of them has no room the
     * message is queued to none and the caller gets P2P_EAGAIN
     * (back-pressure, paced by the slowest healthy target), so that no
     * healthy subscriber silently misses it. Slow targets (gs_out_slow)
     * are not waited for (see gs_router.h). */
    struct gs_pset *set = NULL;
    if (!r->cfg.flood_publish) {
        if (!t->joined) fanout_fill(r, t);
        set = t->joined ? &t->mesh : &t->fanout;
    }
    size_t targets = 0, full = 0, healthy = 0, sent = 0, slow = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < t->subs.n + (set ? set->n : 0); k++) {
            struct gs_peer *p;
            if (k < t->subs.n) {
                p = t->subs.v[k];
                if (!((r->cfg.flood_publish || !gs_is_mesh_proto(p)) && gs_score_of(r, p) >= r->cfg.th.publish))
                    continue;
            } else {
                p = set->v[k - t->subs.n];
            }
            if (pass == 0) {
                targets++;
                if (!gs_out_room(r, p, m)) {
                    if (gs_out_full(r, p)) continue;   /* slow: not waited for */
                    full++;
                }
                healthy++;
            } else if (gs_out_msg(r, p, m)) {
                sent++;
            } else {
                slow++;
            }
        }
        if (pass == 0 && (full || !healthy)) {
            gs_msg_unref(m);
            gs_out_seal_all(r);
            return targets ? P2P_EAGAIN : P2P_ENOTFOUND;
        }
    }
    if (!sent) {   /* room everywhere, yet nothing queued: out of memory */
        gs_msg_unref(m);
        gs_out_seal_all(r);
        return P2P_ENOMEM;
    }
    r->st.msgs_dropped_slow += slow;
    r->seqno++;
    gs_seen_add(&r->seen, m->id, m->id_len, now_ms);
    gs_mcache_put(&r->mcache, m);
    r->st.msgs_published++;
    if (id && idlen) {
        memcpy(id, m->id, m->id_len);
        *idlen = m->id_len;
    }
    gs_msg_unref(m);
    /* Not sealed yet: publications made one after another go out in one
     * frame per peer (gs_router_next_dirty / gs_router_outq seal). */
    return 0;
}

void gs_router_heartbeat(struct gs_router *r, uint64_t now_ms)
{
    gs_router_enter(r, now_ms);
    r->ticks++;
    gs_heartbeat_run(r);
    gs_out_seal_all(r);
}

void gs_router_peer_progress(struct gs_router *r, const p2p_peerid *peer, uint64_t now_ms)
{
    struct gs_peer *p = gs_peer_get(r, peer);
    if (p) gs_out_progress(p, now_ms);
}

/* ---- outputs ---------------------------------------------------------------------------------------- */

bool gs_router_next_dirty(struct gs_router *r, p2p_peerid *peer)
{
    gs_out_seal_all(r);
    while (r->ndirty) {
        struct gs_peer *p = r->dirty[--r->ndirty];
        p->dirty = false;
        if (p->outq.len) {
            *peer = p->id;
            return true;
        }
    }
    return false;
}

p2p_buf *gs_router_outq(struct gs_router *r, const p2p_peerid *peer)
{
    struct gs_peer *p = gs_peer_get(r, peer);
    if (!p) return NULL;
    gs_out_seal(p);
    return &p->outq;
}

bool gs_router_next_event(struct gs_router *r, struct gs_event *ev)
{
    if (!r->ev_n) return false;
    *ev = r->events[r->ev_head];
    r->ev_head = (r->ev_head + 1) % r->ev_cap;
    r->ev_n--;
    return true;
}

void gs_event_clear(struct gs_event *ev)
{
    gs_msg_unref(ev->msg);
    free(ev->topic);
    memset(ev, 0, sizeof *ev);
}

/* ---- introspection -------------------------------------------------------------------------------------- */

bool gs_router_joined(const struct gs_router *r, const char *topic)
{
    struct gs_topic *t = topic ? gs_topic_get(r, topic, strlen(topic)) : NULL;
    return t && t->joined;
}

static size_t copy_ids(const struct gs_pset *s, p2p_peerid *out, size_t max)
{
    for (size_t i = 0; i < s->n && i < max; i++) out[i] = s->v[i]->id;
    return s->n;
}

size_t gs_router_topic_peers(const struct gs_router *r, const char *topic, p2p_peerid *out, size_t max)
{
    struct gs_topic *t = topic ? gs_topic_get(r, topic, strlen(topic)) : NULL;
    return t ? copy_ids(&t->subs, out, max) : 0;
}

size_t gs_router_mesh_peers(const struct gs_router *r, const char *topic, p2p_peerid *out, size_t max)
{
    struct gs_topic *t = topic ? gs_topic_get(r, topic, strlen(topic)) : NULL;
    if (!t) return 0;
    size_t n = copy_ids(&t->mesh, out, max);
    for (size_t i = 0; i < t->subs.n; i++) {
        if (gs_is_mesh_proto(t->subs.v[i])) continue;
        if (n < max) out[n] = t->subs.v[i]->id;
        n++;
    }
    return n;
}

size_t gs_router_fanout_peers(const struct gs_router *r, const char *topic, p2p_peerid *out, size_t max)
{
    struct gs_topic *t = topic ? gs_topic_get(r, topic, strlen(topic)) : NULL;
    return t ? copy_ids(&t->fanout, out, max) : 0;
}

bool gs_router_backoff(const struct gs_router *r, const char *topic, const p2p_peerid *peer, uint64_t now_ms)
{
    if (!topic) return false;
    /* Backoffs outlive topic records: look up by name. */
    struct gs_topic t = { .name = (char *)topic, .len = strlen(topic) };
    uint64_t e = gs_backoff_expiry(r, peer, &t);
    return e && now_ms < e;
}

bool gs_router_seen(const struct gs_router *r, const uint8_t *id, size_t len)
{
    return gs_seen_has(&r->seen, id, len);
}

void gs_router_stats(const struct gs_router *r, struct gs_stats *st)
{
    *st = r->st;
}
