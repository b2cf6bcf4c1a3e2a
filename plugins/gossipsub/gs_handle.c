/* gs_handle.c - processing of a received (decoded, cleaned) RPC:
 * subscriptions, messages, then the control messages, in go's order
 * (gossipsub v1.0 "Message Processing", v1.1 and v1.2 additions). */
#include <stdlib.h>
#include <string.h>

#include "gs_router_int.h"
#include "p2p/error.h"

/* ---- subscriptions --------------------------------------------------------------- */

static void peer_topic_del(struct gs_peer *p, struct gs_topic *t)
{
    for (size_t i = 0; i < p->ntopics; i++) {
        if (p->topics[i] == t) {
            p->topics[i] = p->topics[--p->ntopics];
            return;
        }
    }
}

static void sub_event(struct gs_router *r, enum gs_event_type type, const struct gs_peer *p, const struct gs_topic *t)
{
    struct gs_event ev = { .type = type, .peer = p->id, .topic = strdup(t->name) };
    if (ev.topic) gs_event_push(r, &ev);
}

static void handle_sub(struct gs_router *r, struct gs_peer *p, const Gspb__RPC__SubOpts *s)
{
    const char *name = (const char *)s->topic_id.data;
    size_t len = s->topic_id.len;
    if (s->has_subscribe && s->subscribe) {
        struct gs_topic *t = gs_topic_get_or_new(r, name, len);
        if (!t || gs_peer_in_topic(p, t)) return;
        if (p->ntopics >= r->cfg.max_peer_topics) {
            gs_topic_gc(r, t);
            return;
        }
        if (p->ntopics == p->captopics) {
            size_t ncap = p->captopics ? p->captopics * 2 : 4;
            struct gs_topic **v = realloc(p->topics, ncap * sizeof *v);
            if (!v) {
                gs_topic_gc(r, t);
                return;
            }
            p->topics = v;
            p->captopics = ncap;
        }
        if (gs_pset_add(&t->subs, p) < 0) {
            gs_topic_gc(r, t);
            return;
        }
        p->topics[p->ntopics++] = t;
        sub_event(r, GS_EV_PEER_JOINED, p, t);
    } else {
        struct gs_topic *t = gs_topic_get(r, name, len);
        if (!t || !gs_peer_in_topic(p, t)) return;
        peer_topic_del(p, t);
        gs_pset_del(&t->subs, p);
        gs_mesh_del(r, t, p);
        gs_pset_del(&t->fanout, p);
        sub_event(r, GS_EV_PEER_LEFT, p, t);
        gs_topic_gc(r, t);
    }
}

/* ---- messages ------------------------------------------------------------------------- */

static enum gs_reject_reason reject_reason(enum gs_invalid why)
{
    switch (why) {
    case GS_INVALID_MISSING_SIG: return GS_REJECT_MISSING_SIGNATURE;
    case GS_INVALID_UNEXPECTED_SIG: return GS_REJECT_UNEXPECTED_SIGNATURE;
    case GS_INVALID_UNEXPECTED_AUTH: return GS_REJECT_UNEXPECTED_AUTHINFO;
    default: return GS_REJECT_INVALID_SIGNATURE;
    }
}

static void fulfil_promise(struct gs_router *r, const struct gs_msg *m)
{
    struct gs_promise *pr = gs_map_del(&r->promises, m->id, m->id_len);
    free(pr);
}

static void forward(struct gs_router *r, struct gs_topic *t, const struct gs_msg *m, const struct gs_peer *src)
{
    uint64_t h = gs_hash(r->hkey, m->id, m->id_len);
    for (int pass = 0; pass < 2; pass++) {
        const struct gs_pset *set = pass == 0 ? &t->subs : &t->mesh;
        for (size_t i = 0; i < set->n; i++) {
            struct gs_peer *q = set->v[i];
            if (q == src || (m->has_from && p2p_peerid_equal(&q->id, &m->from))) continue;
            if (pass == 0 && (gs_is_mesh_proto(q) || gs_score_of(r, q) < r->cfg.th.publish)) continue;
            if (pass == 1 && gs_hset_has(&q->dont_send, h)) continue;
            if (gs_out_msg(r, q, m)) r->st.msgs_forwarded++;
            else r->st.msgs_dropped_full++;
        }
    }
}

/* v1.2: tell our mesh that we have this (large) message. */
static void send_idontwant(struct gs_router *r, struct gs_topic *t, const struct gs_msg *m, const struct gs_peer *src)
{
    if (m->len < r->cfg.idontwant_threshold) return;
    uint64_t h = gs_hash(r->hkey, m->id, m->id_len);
    for (size_t i = 0; i < t->mesh.n; i++) {
        struct gs_peer *q = t->mesh.v[i];
        if (q == src || q->proto < GS_MESHSUB_12 || !gs_out_has_room_ctl(r, q)) continue;
        if (m->has_from && p2p_peerid_equal(&q->id, &m->from)) continue;
        if (gs_pending_idontwant_keyed(&q->pend, m->id, m->id_len, h) == 0) {
            r->st.idontwant_out++;
            gs_out_mark(r, q);
        }
    }
}

static void handle_message(struct gs_router *r, struct gs_peer *p, const Gspb__Message *pb)
{
    r->st.msgs_in++;
    struct gs_topic *t = pb->has_topic && pb->topic.len ? gs_topic_get(r, (const char *)pb->topic.data, pb->topic.len)
                                                         : NULL;
    if (!t || !t->joined) {
        r->st.msgs_unsubscribed++;
        return;
    }
    /* Duplicates are told from a view of the received fields: only a new
     * message is copied out of the RPC. */
    struct gs_msg view;
    int why = gs_msg_view_pb(&view, pb, r->cfg.sign, r->cfg.id_mode, r->cfg.max_message_size, r->cfg.max_topic_len);
    if (why != GS_VALID) {
        r->st.msgs_invalid++;
        if (r->score) gs_score_reject_message(r->score, &p->id, t->name, NULL, 0, reject_reason(why), r->now);
        return;
    }
    p->last_msg = r->now;
    if (view.has_from && p2p_peerid_equal(&view.from, &r->self)) {
        /* Our own message coming back: not an error of the sender's. */
        r->st.msgs_duplicate++;
        gs_out_cancel(r, p, gs_hash(r->hkey, view.id, view.id_len), GS_PEND_MSG);
        return;
    }
    if (gs_seen_has(&r->seen, view.id, view.id_len)) {
        r->st.msgs_duplicate++;
        /* The sender has it: what we queued to it for this message and
         * did not send yet (the copy, our IDONTWANT: it forwarded
         * already) would only be a duplicate. */
        gs_out_cancel(r, p, gs_hash(r->hkey, view.id, view.id_len), GS_PEND_MSG | GS_PEND_IDONTWANT);
        if (r->score) gs_score_duplicate_message(r->score, &p->id, t->name, view.id, view.id_len, r->now);
        fulfil_promise(r, &view);
        return;
    }
    struct gs_msg *m = gs_msg_from_view(&view);
    if (!m) return;   /* out of memory */
    /* Verify before marking seen: a forged copy must not hide the real one. */
    why = gs_msg_verify(m, r->cfg.sign);
    if (why != GS_VALID) {
        r->st.msgs_invalid++;
        if (r->score) gs_score_reject_message(r->score, &p->id, t->name, NULL, 0, reject_reason(why), r->now);
        gs_msg_unref(m);
        return;
    }
    gs_seen_add(&r->seen, m->id, m->id_len, r->now);
    fulfil_promise(r, m);
    send_idontwant(r, t, m, p);
    enum p2p_pubsub_validation v = r->validate ? r->validate(r->validate_arg, m, &p->id) : P2P_PUBSUB_ACCEPT;
    if (v != P2P_PUBSUB_ACCEPT) {
        if (v == P2P_PUBSUB_REJECT) r->st.msgs_rejected++;
        else r->st.msgs_ignored++;
        if (r->score)
            gs_score_reject_message(r->score, &p->id, t->name, m->id, m->id_len,
                                    v == P2P_PUBSUB_REJECT ? GS_REJECT_VALIDATION_FAILED : GS_REJECT_VALIDATION_IGNORED,
                                    r->now);
        gs_msg_unref(m);
        return;
    }
    if (r->score) gs_score_validate_message(r->score, &p->id, t->name, m->id, m->id_len, r->now);
    gs_mcache_put(&r->mcache, m);
    forward(r, t, m, p);
    r->st.msgs_delivered++;
    struct gs_event ev = { .type = GS_EV_MESSAGE, .msg = m, .peer = p->id };
    gs_event_push(r, &ev);   /* takes our reference */
}

/* ---- control ---------------------------------------------------------------------------------- */

static void handle_ihave(struct gs_router *r, struct gs_peer *p, const Gspb__ControlMessage *c)
{
    if (!c->n_ihave) return;
    r->st.ihave_in += c->n_ihave;
    if (gs_score_of(r, p) < r->cfg.th.gossip) return;
    if (++p->ihave_msgs > r->cfg.max_ihave_messages || p->iasked >= r->cfg.max_ihave_length) return;
    size_t total = 0;
    for (size_t i = 0; i < c->n_ihave; i++) total += c->ihave[i]->n_message_ids;
    const uint8_t **ids = malloc((total ? total : 1) * sizeof *ids);
    size_t *lens = malloc((total ? total : 1) * sizeof *lens);
    struct gs_hset dedup;
    gs_hset_init(&dedup);
    size_t n = 0;
    for (size_t i = 0; ids && lens && i < c->n_ihave; i++) {
        const Gspb__ControlIHave *e = c->ihave[i];
        struct gs_topic *t = gs_topic_get(r, (const char *)e->topic_id.data, e->topic_id.len);
        if (!t || !t->joined) continue;
        for (size_t j = 0; j < e->n_message_ids && j < r->cfg.max_ihave_length; j++) {
            const ProtobufCBinaryData *id = &e->message_ids[j];
            if (gs_seen_has(&r->seen, id->data, id->len)) continue;
            uint64_t h = gs_hash(r->hkey, id->data, id->len);
            if (gs_hset_has(&dedup, h) || gs_hset_put(&dedup, h, 1) < 0) continue;
            ids[n] = id->data;
            lens[n++] = id->len;
        }
    }
    gs_hset_free(&dedup);
    size_t ask = n;
    if (ask > r->cfg.max_ihave_length - p->iasked) ask = r->cfg.max_ihave_length - p->iasked;
    if (ask && gs_out_has_room_ctl(r, p)) {
        /* Ask in random order for a random subset. */
        for (size_t i = n; i > 1; i--) {
            size_t j = gs_rng_below(&r->rng, i);
            const uint8_t *ti = ids[i - 1];
            size_t tl = lens[i - 1];
            ids[i - 1] = ids[j];
            lens[i - 1] = lens[j];
            ids[j] = ti;
            lens[j] = tl;
        }
        if (gs_pending_iwant(&p->pend, ids, lens, ask) == 0) {
            p->iasked += (unsigned)ask;
            r->st.iwant_out++;
            gs_out_mark(r, p);
            /* Track one random id of the request (v1.1 spam protection). */
            size_t k = gs_rng_below(&r->rng, ask);
            if (r->promises.n < r->cfg.max_promises && !gs_map_get(&r->promises, ids[k], lens[k])) {
                struct gs_promise *pr = malloc(sizeof *pr + lens[k]);
                if (pr) {
                    pr->peer = p->id;
                    pr->created = r->now;
                    pr->expires = r->now + r->cfg.iwant_followup_ms;
                    pr->len = lens[k];
                    memcpy(pr->id, ids[k], lens[k]);
                    if (gs_map_put(&r->promises, pr->id, pr->len, pr) < 0) free(pr);
                }
            }
        }
    }
    free(ids);
    free(lens);
}

static void handle_iwant(struct gs_router *r, struct gs_peer *p, const Gspb__ControlMessage *c)
{
    if (!c->n_iwant) return;
    r->st.iwant_in += c->n_iwant;
    if (gs_score_of(r, p) < r->cfg.th.gossip) return;
    for (size_t i = 0; i < c->n_iwant; i++) {
        const Gspb__ControlIWant *e = c->iwant[i];
        for (size_t j = 0; j < e->n_message_ids; j++) {
            const ProtobufCBinaryData *id = &e->message_ids[j];
            if (gs_hset_has(&p->dont_send, gs_hash(r->hkey, id->data, id->len))) continue;
            unsigned count;
            struct gs_msg *m = gs_mcache_get_for_peer(&r->mcache, id->data, id->len, p->serial, &count);
            if (!m || count > r->cfg.gossip_retransmission) continue;
            if (!gs_out_msg(r, p, m)) r->st.msgs_dropped_full++;
        }
    }
}

static void handle_graft(struct gs_router *r, struct gs_peer *p, const Gspb__ControlMessage *c)
{
    if (!c->n_graft) return;
    r->st.graft_in += c->n_graft;
    bool do_px = r->cfg.do_px;
    double score = gs_score_of(r, p);
    struct gs_topic **prune = calloc(c->n_graft, sizeof *prune);
    size_t nprune = 0;
    if (!prune) return;
    for (size_t i = 0; i < c->n_graft; i++) {
        const Gspb__ControlGraft *g = c->graft[i];
        struct gs_topic *t = gs_topic_get(r, (const char *)g->topic_id.data, g->topic_id.len);
        if (!t || !t->joined) {
            do_px = false;   /* no PX for unknown topics: it would leak our peers */
            continue;        /* spam hardening: GRAFTs for topics we are not in are ignored */
        }
        if (gs_pset_has(&t->mesh, p)) continue;
        uint64_t expires = gs_backoff_expiry(r, &p->id, t);
        if (expires && r->now < expires) {
            /* GRAFT during our backoff: P7, twice if too early (flood). */
            int penalty = 1;
            if (r->now + r->cfg.prune_backoff_ms < expires + r->cfg.graft_flood_ms) penalty++;
            if (r->score) gs_score_add_penalty(r->score, &p->id, penalty);
            gs_backoff_add(r, p, t, r->cfg.prune_backoff_ms);
            do_px = false;
            prune[nprune++] = t;
            continue;
        }
        if (score < 0) {
            do_px = false;
            gs_backoff_add(r, p, t, r->cfg.prune_backoff_ms);
            prune[nprune++] = t;
            continue;
        }
        if (t->mesh.n >= r->cfg.d_hi && !p->outbound) {
            gs_backoff_add(r, p, t, r->cfg.prune_backoff_ms);
            prune[nprune++] = t;
            continue;
        }
        gs_mesh_add(r, t, p);
    }
    for (size_t i = 0; i < nprune; i++) gs_out_prune(r, p, prune[i], do_px, r->cfg.prune_backoff_ms);
    free(prune);
}

static void handle_prune(struct gs_router *r, struct gs_peer *p, const Gspb__ControlMessage *c)
{
    if (!c->n_prune) return;
    r->st.prune_in += c->n_prune;
    double score = gs_score_of(r, p);
    for (size_t i = 0; i < c->n_prune; i++) {
        const Gspb__ControlPrune *e = c->prune[i];
        struct gs_topic *t = gs_topic_get(r, (const char *)e->topic_id.data, e->topic_id.len);
        if (!t || !t->joined) continue;
        gs_mesh_del(r, t, p);
        uint64_t ms = r->cfg.prune_backoff_ms;
        if (e->has_backoff && e->backoff > 0) ms = (e->backoff > 86400 ? 86400 : e->backoff) * 1000;
        gs_backoff_add(r, p, t, ms);
        if (!e->n_peers || score < r->cfg.th.accept_px) continue;
        /* PX: PeerIds to learn (signed peer records are not used). */
        size_t n = e->n_peers < r->cfg.prune_peers ? e->n_peers : r->cfg.prune_peers;
        gs_rng_shuffle(&r->rng, (void **)e->peers, e->n_peers);
        for (size_t j = 0; j < n; j++) {
            struct gs_event ev = { .type = GS_EV_PX };
            if (p2p_peerid_from_bytes(&ev.peer, e->peers[j]->peer_id.data, e->peers[j]->peer_id.len) < 0) continue;
            if (p2p_peerid_equal(&ev.peer, &r->self) || gs_peer_get(r, &ev.peer)) continue;
            gs_event_push(r, &ev);
        }
    }
}

static void handle_idontwant(struct gs_router *r, struct gs_peer *p, const Gspb__ControlMessage *c)
{
    if (!c->n_idontwant) return;
    r->st.idontwant_in += c->n_idontwant;
    if (++p->idontwant_msgs > r->cfg.max_idontwant_messages) return;
    for (size_t i = 0; i < c->n_idontwant; i++) {
        const Gspb__ControlIDontWant *e = c->idontwant[i];
        for (size_t j = 0; j < e->n_message_ids && p->dont_send.n < r->cfg.max_idontwant; j++) {
            const ProtobufCBinaryData *id = &e->message_ids[j];
            uint64_t h = gs_hash(r->hkey, id->data, id->len);
            gs_hset_put(&p->dont_send, h, (uint8_t)(r->cfg.idontwant_ttl > 255 ? 255 : r->cfg.idontwant_ttl));
            /* A copy queued before it arrived is not sent either (our
             * IDONTWANT to it stays: a peer that validates later may
             * still be about to forward). */
            gs_out_cancel(r, p, h, GS_PEND_MSG);
        }
    }
}

void gs_handle_rpc(struct gs_router *r, struct gs_peer *p, Gspb__RPC *rpc)
{
    for (size_t i = 0; i < rpc->n_subscriptions; i++) handle_sub(r, p, rpc->subscriptions[i]);
    for (size_t i = 0; i < rpc->n_publish; i++) handle_message(r, p, rpc->publish[i]);
    const Gspb__ControlMessage *c = rpc->control;
    if (!c || !gs_is_mesh_proto(p)) return;
    handle_ihave(r, p, c);
    handle_iwant(r, p, c);
    handle_graft(r, p, c);
    handle_prune(r, p, c);
    handle_idontwant(r, p, c);
}
