/* gs_common.c - the router's building blocks: peer sets, scores, output
 * queues, events, backoffs, mesh membership and random peer selection
 * (see gs_router_int.h). */
#include <stdlib.h>
#include <string.h>

#include "gs_router_int.h"
#include "p2p/error.h"

/* ---- peer sets ----------------------------------------------------------------- */

int gs_pset_add(struct gs_pset *s, struct gs_peer *p)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 8;
        struct gs_peer **v = realloc(s->v, ncap * sizeof *v);
        if (!v) return P2P_ENOMEM;
        s->v = v;
        s->cap = ncap;
    }
    s->v[s->n++] = p;
    return 0;
}

bool gs_pset_del(struct gs_pset *s, struct gs_peer *p)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i] == p) {
            s->v[i] = s->v[--s->n];
            return true;
        }
    }
    return false;
}

bool gs_pset_has(const struct gs_pset *s, const struct gs_peer *p)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == p) return true;
    return false;
}

void gs_pset_free(struct gs_pset *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

bool gs_is_mesh_proto(const struct gs_peer *p)
{
    return p->proto != GS_FLOODSUB;
}

/* ---- scores ----------------------------------------------------------------------- */

double gs_score_of(struct gs_router *r, struct gs_peer *p)
{
    if (!r->score) return 0;
    if (p->score_gen == r->gen) return p->score;
    p->score = gs_score(r->score, &p->id, r->now);
    p->score_gen = r->gen;
    return p->score;
}

void gs_router_enter(struct gs_router *r, uint64_t now_ms)
{
    r->now = now_ms;
    r->gen++;   /* scores are cached for one entry point's run */
}

/* ---- output ------------------------------------------------------------------------ */

static size_t queued(const struct gs_peer *p)
{
    return p->outq.len + gs_pending_size(&p->pend);
}

void gs_out_mark(struct gs_router *r, struct gs_peer *p)
{
    if (p->dirty) return;
    if (r->ndirty == r->capdirty) {
        size_t ncap = r->capdirty ? r->capdirty * 2 : 16;
        struct gs_peer **v = realloc(r->dirty, ncap * sizeof *v);
        if (!v) return;   /* the queue is still sealed at the next mark; only the report is late */
        r->dirty = v;
        r->capdirty = ncap;
    }
    r->dirty[r->ndirty++] = p;
    p->dirty = true;
}

bool gs_out_has_room_ctl(const struct gs_router *r, const struct gs_peer *p)
{
    return queued(p) <= r->cfg.max_queue_bytes + GS_CONTROL_SLACK;
}

bool gs_out_room(const struct gs_router *r, const struct gs_peer *p, const struct gs_msg *m)
{
    return queued(p) + m->enc_len + 8 <= r->cfg.max_queue_bytes;
}

/* Bytes the caller has taken from the peer's output queue so far. */
static uint64_t taken(const struct gs_peer *p)
{
    return p->sealed - p->outq.len;
}

/* A message found no room: the queue is full, and stalled from now on
 * unless the peer takes bytes. */
static void note_full(struct gs_router *r, struct gs_peer *p)
{
    if (p->full) return;
    p->full = true;
    p->stalled_since = r->now;
    p->taken_at_stall = taken(p);
    p->stall_beats = 0;
}

void gs_out_progress(struct gs_peer *p, uint64_t now)
{
    if (!p->full) return;
    p->stalled_since = now;
    p->taken_at_stall = taken(p);
    p->stall_beats = 0;
}

/* Whether the queue drained to half (no longer full) or the peer took
 * bytes (the stall restarts). */
static void check_progress(struct gs_router *r, struct gs_peer *p)
{
    if (p->full && queued(p) <= r->cfg.max_queue_bytes / 2) p->full = false;
    if (p->full && taken(p) != p->taken_at_stall) gs_out_progress(p, r->now);
}

bool gs_out_slow(struct gs_router *r, struct gs_peer *p)
{
    check_progress(r, p);
    return p->full && r->cfg.slow_peer_ms && r->now - p->stalled_since >= r->cfg.slow_peer_ms &&
           p->stall_beats >= 2;
}

void gs_out_stall_beat(struct gs_router *r, struct gs_peer *p)
{
    check_progress(r, p);
    if (p->full && p->stall_beats < 2) p->stall_beats++;
}

bool gs_out_full(struct gs_router *r, struct gs_peer *p)
{
    note_full(r, p);
    return gs_out_slow(r, p);
}

bool gs_out_msg(struct gs_router *r, struct gs_peer *p, const struct gs_msg *m)
{
    if (!gs_out_room(r, p, m)) {
        note_full(r, p);
        return false;
    }
    if (gs_pending_msg_keyed(&p->pend, m->enc, m->enc_len, gs_hash(r->hkey, m->id, m->id_len)) < 0) return false;
    gs_out_mark(r, p);
    return true;
}

void gs_out_cancel(struct gs_router *r, struct gs_peer *p, uint64_t h, unsigned mask)
{
    if (!p->pend.nmarks) return;
    r->st.msgs_cancelled += gs_pending_cancel(&p->pend, h, mask);
}

void gs_out_graft(struct gs_router *r, struct gs_peer *p, const struct gs_topic *t)
{
    if (!gs_is_mesh_proto(p) || !gs_out_has_room_ctl(r, p)) return;
    if (gs_pending_graft(&p->pend, t->name, t->len) == 0) {
        r->st.graft_out++;
        gs_out_mark(r, p);
    }
}

static bool px_filter(struct gs_router *r, struct gs_topic *t, struct gs_peer *q, void *arg)
{
    (void)t;
    return q != arg && gs_score_of(r, q) >= 0;
}

void gs_out_prune(struct gs_router *r, struct gs_peer *p, struct gs_topic *t, bool do_px, uint64_t backoff_ms)
{
    if (!gs_is_mesh_proto(p) || !gs_out_has_room_ctl(r, p)) return;
    int rc;
    if (p->proto == GS_MESHSUB_10) {
        rc = gs_pending_prune(&p->pend, t->name, t->len, 0, false, NULL, 0);
    } else {
        p2p_peerid *px = NULL;
        size_t npx = 0;
        if (do_px && r->cfg.prune_peers && t->subs.n) {
            struct gs_peer **sel = malloc(t->subs.n * sizeof *sel);
            px = malloc(t->subs.n * sizeof *px);
            if (sel && px) {
                npx = gs_select_peers(r, t, r->cfg.prune_peers, px_filter, p, sel);
                for (size_t i = 0; i < npx; i++) px[i] = sel[i]->id;
            }
            free(sel);
        }
        rc = gs_pending_prune(&p->pend, t->name, t->len, backoff_ms / 1000, true, px, npx);
        free(px);
    }
    if (rc == 0) {
        r->st.prune_out++;
        gs_out_mark(r, p);
    }
}

void gs_out_seal(struct gs_peer *p)
{
    if (gs_pending_empty(&p->pend)) return;
    /* The output queue's own limit is not used (0); sealing cannot fail
     * except for memory, and then the items are lost. */
    size_t len0 = p->outq.len;
    gs_pending_seal(&p->pend, &p->outq, GS_SEND_TARGET);
    p->sealed += p->outq.len - len0;
}

void gs_out_seal_all(struct gs_router *r)
{
    for (size_t i = 0; i < r->ndirty; i++) gs_out_seal(r->dirty[i]);
}

/* ---- events --------------------------------------------------------------------------- */

void gs_event_push(struct gs_router *r, const struct gs_event *ev)
{
    if (r->ev_n == r->ev_cap) {
        size_t ncap = r->ev_cap ? r->ev_cap * 2 : 32;
        struct gs_event *v = ncap <= GS_EVENTS_MAX ? malloc(ncap * sizeof *v) : NULL;
        if (!v) {
            r->st.events_dropped++;
            struct gs_event tmp = *ev;
            gs_event_clear(&tmp);
            return;
        }
        for (size_t i = 0; i < r->ev_n; i++) v[i] = r->events[(r->ev_head + i) % r->ev_cap];
        free(r->events);
        r->events = v;
        r->ev_cap = ncap;
        r->ev_head = 0;
    }
    r->events[(r->ev_head + r->ev_n) % r->ev_cap] = *ev;
    r->ev_n++;
}

/* ---- backoff ----------------------------------------------------------------------------- */

static size_t backoff_key(uint8_t *k, const p2p_peerid *peer, const struct gs_topic *t)
{
    k[0] = peer->len;
    memcpy(k + 1, peer->bytes, peer->len);
    memcpy(k + 1 + peer->len, t->name, t->len);
    return 1 + (size_t)peer->len + t->len;
}

static struct gs_backoff *backoff_find(const struct gs_router *r, const p2p_peerid *peer, const struct gs_topic *t)
{
    uint8_t k[1 + P2P_PEERID_MAX + 1024];
    if (t->len > 1024) return NULL;
    size_t kl = backoff_key(k, peer, t);
    return gs_map_get(&r->backoffs, k, kl);
}

void gs_backoff_add(struct gs_router *r, const struct gs_peer *p, const struct gs_topic *t, uint64_t ms)
{
    uint64_t expires = r->now + ms;
    struct gs_backoff *b = backoff_find(r, &p->id, t);
    if (b) {
        if (b->expires < expires) b->expires = expires;
        return;
    }
    if (r->backoffs.n >= r->cfg.max_backoff || t->len > 1024) return;
    b = malloc(sizeof *b + 1 + P2P_PEERID_MAX + t->len);
    if (!b) return;
    b->expires = expires;
    b->klen = backoff_key(b->key, &p->id, t);
    if (gs_map_put(&r->backoffs, b->key, b->klen, b) < 0) free(b);
}

uint64_t gs_backoff_expiry(const struct gs_router *r, const p2p_peerid *peer, const struct gs_topic *t)
{
    struct gs_backoff *b = backoff_find(r, peer, t);
    return b ? b->expires : 0;
}

bool gs_backoff_active(const struct gs_router *r, const p2p_peerid *peer, const struct gs_topic *t, bool slack)
{
    uint64_t e = gs_backoff_expiry(r, peer, t);
    if (!e) return false;
    if (slack) e += (uint64_t)r->cfg.backoff_slack * r->cfg.heartbeat_ms;
    return r->now < e;
}

void gs_backoff_expire(struct gs_router *r)
{
    /* Keep entries for two heartbeats past expiry (go: slack for the
     * heartbeat that clears them). */
    uint64_t keep = 2 * r->cfg.heartbeat_ms + (uint64_t)r->cfg.backoff_slack * r->cfg.heartbeat_ms;
    size_t n = 0;
    for (size_t i = 0; i < r->backoffs.cap; i++) {
        struct gs_backoff *b = r->backoffs.slots[i].v;
        if (r->backoffs.slots[i].k && b->expires + keep < r->now) n++;
    }
    if (!n) return;
    struct gs_backoff **del = malloc(n * sizeof *del);
    if (!del) return;
    size_t k = 0;
    for (size_t i = 0; i < r->backoffs.cap && k < n; i++) {
        struct gs_backoff *b = r->backoffs.slots[i].v;
        if (r->backoffs.slots[i].k && b->expires + keep < r->now) del[k++] = b;
    }
    for (size_t i = 0; i < k; i++) {
        gs_map_del(&r->backoffs, del[i]->key, del[i]->klen);
        free(del[i]);
    }
    free(del);
}

/* ---- mesh --------------------------------------------------------------------------------- */

int gs_mesh_add(struct gs_router *r, struct gs_topic *t, struct gs_peer *p)
{
    int rc = gs_pset_add(&t->mesh, p);
    if (rc == 0 && r->score) gs_score_graft(r->score, &p->id, t->name, r->now);
    return rc;
}

bool gs_mesh_del(struct gs_router *r, struct gs_topic *t, struct gs_peer *p)
{
    if (!gs_pset_del(&t->mesh, p)) return false;
    if (r->score) gs_score_prune(r->score, &p->id, t->name, r->now);
    return true;
}

size_t gs_select_peers(struct gs_router *r, struct gs_topic *t, size_t count, gs_peer_filter f, void *arg,
                       struct gs_peer **out)
{
    size_t n = 0;
    for (size_t i = 0; i < t->subs.n; i++) {
        struct gs_peer *p = t->subs.v[i];
        if (gs_is_mesh_proto(p) && (!f || f(r, t, p, arg))) out[n++] = p;
    }
    gs_rng_shuffle(&r->rng, (void **)out, n);
    return n < count ? n : count;
}
