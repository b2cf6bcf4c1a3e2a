/* gs_heartbeat.c - the heartbeat (gossipsub v1.0 "Heartbeat", v1.1
 * "Heartbeat Maintenance", outbound quotas, opportunistic grafting,
 * adaptive gossip; v1.2 IDONTWANT expiry), in go-libp2p-pubsub's order. */
#include <stdlib.h>
#include <string.h>

#include "gs_router_int.h"
#include "p2p/error.h"

/* ---- bookkeeping ------------------------------------------------------------------ */

static void reset_counters(struct gs_router *r)
{
    for (size_t i = 0; i < r->peers.cap; i++) {
        if (!r->peers.slots[i].k) continue;
        struct gs_peer *p = r->peers.slots[i].v;
        p->ihave_msgs = p->iasked = p->idontwant_msgs = 0;
        gs_hset_tick(&p->dont_send);
        gs_out_stall_beat(r, p);
    }
}

/* Broken IWANT promises become P7 penalties. */
static void check_promises(struct gs_router *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->promises.cap; i++) {
        struct gs_promise *pr = r->promises.slots[i].v;
        if (r->promises.slots[i].k && pr->expires <= r->now) n++;
    }
    if (!n) return;
    struct gs_promise **del = malloc(n * sizeof *del);
    if (!del) return;
    size_t k = 0;
    for (size_t i = 0; i < r->promises.cap && k < n; i++) {
        struct gs_promise *pr = r->promises.slots[i].v;
        if (r->promises.slots[i].k && pr->expires <= r->now) del[k++] = pr;
    }
    for (size_t i = 0; i < k; i++) {
        gs_map_del(&r->promises, del[i]->id, del[i]->len);
        struct gs_peer *p = gs_peer_get(r, &del[i]->peer);
        if (!p || p->last_msg < del[i]->created) {
            r->st.broken_promises++;
            if (r->score) gs_score_add_penalty(r->score, &del[i]->peer, 1);
        }
        free(del[i]);
    }
    free(del);
}

/* ---- mesh maintenance ----------------------------------------------------------------- */

struct sel_ctx {
    bool outbound_only;
    double min_score;       /* candidates must score above this (opportunistic: the median) */
    bool strictly_above;
};

static bool graft_filter(struct gs_router *r, struct gs_topic *t, struct gs_peer *p, void *arg)
{
    const struct sel_ctx *c = arg;
    if (gs_pset_has(&t->mesh, p) || gs_backoff_active(r, &p->id, t, true) || gs_out_slow(r, p)) return false;
    if (c->outbound_only && !p->outbound) return false;
    double s = gs_score_of(r, p);
    return c->strictly_above ? s > c->min_score : s >= c->min_score;
}

static void graft_more(struct gs_router *r, struct gs_topic *t, size_t count, const struct sel_ctx *c)
{
    if (!count || !t->subs.n) return;
    struct gs_peer **sel = malloc(t->subs.n * sizeof *sel);
    if (!sel) return;
    size_t n = gs_select_peers(r, t, count, graft_filter, (void *)c, sel);
    for (size_t i = 0; i < n; i++) {
        if (gs_mesh_add(r, t, sel[i]) == 0) gs_out_graft(r, sel[i], t);
    }
    free(sel);
}

static void prune_peer(struct gs_router *r, struct gs_topic *t, struct gs_peer *p, bool px)
{
    gs_mesh_del(r, t, p);
    gs_backoff_add(r, p, t, r->cfg.prune_backoff_ms);
    gs_out_prune(r, p, t, px && r->cfg.do_px, r->cfg.prune_backoff_ms);
}

static int by_score_desc(const void *a, const void *b)
{
    double sa = (*(struct gs_peer *const *)a)->score, sb = (*(struct gs_peer *const *)b)->score;
    return sa < sb ? 1 : sa > sb ? -1 : 0;
}

/* Too many peers: keep the d_score best, then random ones up to d, with at
 * least d_out outbound peers among the survivors (v1.1). */
static void prune_excess(struct gs_router *r, struct gs_topic *t)
{
    size_t n = t->mesh.n, d = r->cfg.d;
    struct gs_peer **v = malloc(n * sizeof *v);
    if (!v) return;
    memcpy(v, t->mesh.v, n * sizeof *v);
    gs_rng_shuffle(&r->rng, (void **)v, n);
    for (size_t i = 0; i < n; i++) gs_score_of(r, v[i]);   /* fills ->score */
    qsort(v, n, sizeof *v, by_score_desc);
    size_t ds = r->cfg.d_score < d ? r->cfg.d_score : d;
    gs_rng_shuffle(&r->rng, (void **)(v + ds), n - ds);
    size_t outbound = 0;
    for (size_t i = 0; i < d; i++) outbound += v[i]->outbound;
    if (outbound < r->cfg.d_out) {
        /* Bring outbound peers from beyond d into the kept set, replacing
         * inbound ones from the end of the random part. */
        size_t need = r->cfg.d_out - outbound;
        size_t j = d;
        for (size_t i = d; i-- > ds && need;) {
            if (v[i]->outbound) continue;
            while (j < n && !v[j]->outbound) j++;
            if (j >= n) break;
            struct gs_peer *tmp = v[i];
            v[i] = v[j];
            v[j] = tmp;
            j++;
            need--;
        }
    }
    for (size_t i = d; i < n; i++) prune_peer(r, t, v[i], true);
    free(v);
}

static int by_score_asc(const void *a, const void *b)
{
    return -by_score_desc(a, b);
}

static void maintain_mesh(struct gs_router *r, struct gs_topic *t)
{
    /* Peers with a negative score leave, without PX; so do slow peers
     * (they stop reading: gs_router.h), which keep getting gossip. */
    for (size_t i = 0; i < t->mesh.n;) {
        struct gs_peer *p = t->mesh.v[i];
        if (gs_score_of(r, p) < 0) {
            prune_peer(r, t, p, false);   /* swaps the last peer into i */
        } else if (gs_out_slow(r, p)) {
            prune_peer(r, t, p, false);
            r->st.slow_pruned++;
        } else {
            i++;
        }
    }
    struct sel_ctx any = { false, 0, false };
    if (t->mesh.n < r->cfg.d_lo) graft_more(r, t, r->cfg.d - t->mesh.n, &any);
    if (t->mesh.n > r->cfg.d_hi) prune_excess(r, t);
    if (t->mesh.n >= r->cfg.d_lo) {
        size_t outbound = 0;
        for (size_t i = 0; i < t->mesh.n; i++) outbound += t->mesh.v[i]->outbound;
        struct sel_ctx out = { true, 0, false };
        if (outbound < r->cfg.d_out) graft_more(r, t, r->cfg.d_out - outbound, &out);
    }
    if (r->score && r->cfg.opportunistic_graft_ticks && r->ticks % r->cfg.opportunistic_graft_ticks == 0 &&
        t->mesh.n > 1) {
        struct gs_peer **v = malloc(t->mesh.n * sizeof *v);
        if (v) {
            memcpy(v, t->mesh.v, t->mesh.n * sizeof *v);
            for (size_t i = 0; i < t->mesh.n; i++) gs_score_of(r, v[i]);
            qsort(v, t->mesh.n, sizeof *v, by_score_asc);
            double median = v[t->mesh.n / 2]->score;
            free(v);
            if (median < r->cfg.th.opportunistic_graft) {
                struct sel_ctx better = { false, median, true };
                graft_more(r, t, r->cfg.opportunistic_graft_peers, &better);
            }
        }
    }
}

/* ---- fanout ------------------------------------------------------------------------------ */

static bool fanout_more(struct gs_router *r, struct gs_topic *t, struct gs_peer *p, void *arg)
{
    (void)arg;
    return !gs_pset_has(&t->fanout, p) && gs_score_of(r, p) >= r->cfg.th.publish && !gs_out_slow(r, p);
}

static void maintain_fanout(struct gs_router *r, struct gs_topic *t)
{
    for (size_t i = 0; i < t->fanout.n;) {
        struct gs_peer *p = t->fanout.v[i];
        if (!gs_peer_in_topic(p, t) || gs_score_of(r, p) < r->cfg.th.publish || gs_out_slow(r, p))
            gs_pset_del(&t->fanout, p);
        else i++;
    }
    if (t->fanout.n < r->cfg.d && t->subs.n) {
        struct gs_peer **sel = malloc(t->subs.n * sizeof *sel);
        size_t n = sel ? gs_select_peers(r, t, r->cfg.d - t->fanout.n, fanout_more, NULL, sel) : 0;
        for (size_t i = 0; i < n; i++) gs_pset_add(&t->fanout, sel[i]);
        free(sel);
    }
}

/* ---- gossip ------------------------------------------------------------------------------- */

void gs_emit_gossip(struct gs_router *r, struct gs_topic *t, const struct gs_pset *exclude)
{
    size_t cap = r->mcache.n;
    if (!cap || !t->subs.n) return;
    struct gs_msg **msgs = malloc(cap * sizeof *msgs);
    struct gs_peer **peers = malloc(t->subs.n * sizeof *peers);
    const uint8_t **ids = malloc(cap * sizeof *ids);
    size_t *lens = malloc(cap * sizeof *lens);
    size_t nm = msgs ? gs_mcache_gossip(&r->mcache, t->name, msgs, cap) : 0;
    size_t np = 0;
    if (nm && peers && ids && lens) {
        for (size_t i = 0; i < t->subs.n; i++) {
            struct gs_peer *p = t->subs.v[i];
            if (gs_is_mesh_proto(p) && !gs_pset_has(exclude, p) && gs_score_of(r, p) >= r->cfg.th.gossip)
                peers[np++] = p;
        }
    }
    size_t target = r->cfg.d_lazy;
    size_t factor = (size_t)(r->cfg.gossip_factor * (double)np);
    if (factor > target) target = factor;
    if (target > np) target = np;
    gs_rng_shuffle(&r->rng, (void **)peers, np);
    for (size_t i = 0; i < target; i++) {
        struct gs_peer *p = peers[i];
        if (!gs_out_has_room_ctl(r, p)) continue;
        /* A different random subset for each peer when there are too many. */
        gs_rng_shuffle(&r->rng, (void **)msgs, nm);
        size_t k = nm < r->cfg.max_ihave_length ? nm : r->cfg.max_ihave_length;
        for (size_t j = 0; j < k; j++) {
            ids[j] = msgs[j]->id;
            lens[j] = msgs[j]->id_len;
        }
        if (k && gs_pending_ihave(&p->pend, t->name, t->len, ids, lens, k) == 0) {
            r->st.ihave_out++;
            gs_out_mark(r, p);
        }
    }
    free(msgs);
    free(peers);
    free(ids);
    free(lens);
}

/* ---- the heartbeat --------------------------------------------------------------------------- */

void gs_heartbeat_run(struct gs_router *r)
{
    if (r->score) gs_score_refresh(r->score, r->now);
    r->gen++;   /* scores after the refresh */
    gs_seen_expire(&r->seen, r->now);
    gs_backoff_expire(r);
    reset_counters(r);
    check_promises(r);

    /* Collect the topics first: maintenance may free topic records. */
    size_t nt = 0;
    struct gs_topic **ts = malloc((r->topics.n ? r->topics.n : 1) * sizeof *ts);
    if (!ts) return;
    for (size_t i = 0; i < r->topics.cap; i++)
        if (r->topics.slots[i].k) ts[nt++] = r->topics.slots[i].v;

    for (size_t i = 0; i < nt; i++) {
        struct gs_topic *t = ts[i];
        if (!t->joined) continue;
        maintain_mesh(r, t);
        gs_emit_gossip(r, t, &t->mesh);
    }
    for (size_t i = 0; i < nt; i++) {
        struct gs_topic *t = ts[i];
        if (!t->fanout_active || t->joined) continue;
        if (t->lastpub + r->cfg.fanout_ttl_ms < r->now) {
            gs_pset_free(&t->fanout);
            t->fanout_active = false;
            r->nfanout--;
            ts[i] = NULL;   /* may be freed now */
            gs_topic_gc(r, t);
            continue;
        }
        maintain_fanout(r, t);
        gs_emit_gossip(r, t, &t->fanout);
    }
    free(ts);
    gs_mcache_shift(&r->mcache);
}
