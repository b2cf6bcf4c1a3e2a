/* kad_lookup.c - iterative lookup state machine (see kad_lookup.h). */
#include "kad_lookup.h"

#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"

int kad_lookup_init(struct kad_lookup *l, const kad_key *target, const p2p_peerid *self,
                    const struct kad_lookup_config *cfg)
{
    memset(l, 0, sizeof *l);
    if (!cfg->k || !cfg->alpha || cfg->max_candidates < cfg->k || cfg->paths > KAD_LK_MAX_PATHS) return P2P_EINVAL;
    l->cfg = *cfg;
    if (!l->cfg.paths) l->cfg.paths = 1;
    l->target = *target;
    if (self) l->self = *self;
    l->p = calloc(cfg->max_candidates, sizeof *l->p);
    return l->p ? 0 : P2P_ENOMEM;
}

void kad_lookup_free(struct kad_lookup *l)
{
    free(l->p);
    memset(l, 0, sizeof *l);
}

static long find(const struct kad_lookup *l, const p2p_peerid *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (p2p_peerid_equal(&l->p[i].id, id)) return (long)i;
    return -1;
}

int kad_lookup_state(const struct kad_lookup *l, const p2p_peerid *id)
{
    long i = find(l, id);
    return i < 0 ? -1 : l->p[i].state;
}

static bool add_path(struct kad_lookup *l, const p2p_peerid *id, size_t path, uint8_t hop)
{
    if (l->done || !id->len || id->len > P2P_PEERID_MAX) return false;
    if (l->self.len && p2p_peerid_equal(id, &l->self)) return false;
    long known = find(l, id);
    if (known >= 0) {
        l->p[known].paths |= (uint8_t)(1u << path);
        if (l->p[known].state == KAD_LK_NEW && hop < l->p[known].hop) l->p[known].hop = hop;
        return false;
    }
    struct kad_lk_peer np = { .id = *id, .state = KAD_LK_NEW, .paths = (uint8_t)(1u << path), .hop = hop };
    kad_key_from_peer(&np.key, id);
    size_t pos = l->n;
    while (pos > 0 && kad_key_cmp(&l->target, &np.key, &l->p[pos - 1].key) < 0) pos--;
    if (l->n == l->cfg.max_candidates) {
        /* Full: push out the farthest candidate not yet asked, if it is
         * farther than the newcomer. */
        long victim = -1;
        for (size_t i = l->n; i-- > pos;)
            if (l->p[i].state == KAD_LK_NEW || l->p[i].state == KAD_LK_FAILED) {
                victim = (long)i;
                break;
            }
        if (victim < 0) return false;
        memmove(&l->p[victim], &l->p[victim + 1], (l->n - (size_t)victim - 1) * sizeof *l->p);
        l->n--;
    }
    memmove(&l->p[pos + 1], &l->p[pos], (l->n - pos) * sizeof *l->p);
    l->p[pos] = np;
    l->n++;
    return true;
}

bool kad_lookup_add(struct kad_lookup *l, const p2p_peerid *id)
{
    bool added = add_path(l, id, l->next_path % l->cfg.paths, 0);
    if (added) l->next_path++;
    return added;
}

static void expire(struct kad_lookup *l, uint64_t now)
{
    for (size_t i = 0; i < l->n; i++) {
        struct kad_lk_peer *p = &l->p[i];
        if (p->state == KAD_LK_WAITING && now - p->sent_ms >= l->cfg.request_timeout_ms) {
            p->state = KAD_LK_FAILED;
            l->inflight--;
            l->inflight_path[p->path]--;
        }
    }
}

/* One path's turn: 1 with *peer to ask, 0 when the path waits, -1 when
 * the path is done. */
static int path_next(struct kad_lookup *l, size_t path, uint64_t now, p2p_peerid *peer)
{
    size_t seen = 0;          /* the path's non-failed candidates looked at */
    bool all_ok = true;
    bool can_send = l->inflight_path[path] < l->cfg.alpha &&
                    (!l->cfg.max_requests || l->requests < l->cfg.max_requests);
    for (size_t i = 0; i < l->n && seen < l->cfg.k; i++) {
        struct kad_lk_peer *p = &l->p[i];
        if (!(p->paths & (1u << path)) || p->state == KAD_LK_FAILED) continue;
        if (p->state != KAD_LK_NEW && p->path != path) continue;   /* another path's */
        seen++;
        if (p->state == KAD_LK_OK) continue;
        all_ok = false;
        if (p->state == KAD_LK_NEW && can_send) {
            p->state = KAD_LK_WAITING;
            p->path = (uint8_t)path;
            p->sent_ms = now;
            l->inflight++;
            l->inflight_path[path]++;
            l->requests++;
            if ((size_t)p->hop + 1 > l->rounds) l->rounds = (size_t)p->hop + 1;
            *peer = p->id;
            return 1;
        }
    }
    /* Done when its k closest (or all it has) answered, or when nothing is
     * in flight and nothing more may be sent. */
    return all_ok || l->inflight_path[path] == 0 ? -1 : 0;
}

int kad_lookup_next(struct kad_lookup *l, uint64_t now, p2p_peerid *peer)
{
    if (l->done) return KAD_LK_DONE;
    expire(l, now);
    bool all_done = true;
    for (size_t p = 0; p < l->cfg.paths; p++) {
        int r = path_next(l, p, now, peer);
        if (r == 1) return KAD_LK_SEND;
        if (r == 0) all_done = false;
    }
    if (all_done) {
        l->done = true;
        return KAD_LK_DONE;
    }
    return KAD_LK_WAIT;
}

static struct kad_lk_peer *waiting(struct kad_lookup *l, const p2p_peerid *peer)
{
    long i = find(l, peer);
    if (i < 0 || l->p[i].state != KAD_LK_WAITING) return NULL;
    return &l->p[i];
}

bool kad_lookup_response(struct kad_lookup *l, const p2p_peerid *peer, const p2p_peerid *closer, size_t n,
                         uint64_t now)
{
    (void)now;
    struct kad_lk_peer *p = waiting(l, peer);
    if (!p) return false;
    p->state = KAD_LK_OK;
    l->inflight--;
    l->inflight_path[p->path]--;
    l->answers++;
    if (l->done) return true;
    size_t path = p->path;   /* p may move as peers are inserted */
    uint8_t hop = p->hop < UINT8_MAX ? (uint8_t)(p->hop + 1) : UINT8_MAX;
    for (size_t i = 0; i < n; i++) add_path(l, &closer[i], path, hop);
    return true;
}

bool kad_lookup_failure(struct kad_lookup *l, const p2p_peerid *peer, uint64_t now)
{
    (void)now;
    struct kad_lk_peer *p = waiting(l, peer);
    if (!p) return false;
    p->state = KAD_LK_FAILED;
    l->inflight--;
    l->inflight_path[p->path]--;
    return true;
}

void kad_lookup_stop(struct kad_lookup *l)
{
    l->done = true;
}

uint64_t kad_lookup_deadline(const struct kad_lookup *l)
{
    uint64_t d = UINT64_MAX;
    for (size_t i = 0; i < l->n; i++)
        if (l->p[i].state == KAD_LK_WAITING && l->p[i].sent_ms + l->cfg.request_timeout_ms < d)
            d = l->p[i].sent_ms + l->cfg.request_timeout_ms;
    return d;
}

size_t kad_lookup_result(const struct kad_lookup *l, p2p_peerid *out, size_t max)
{
    size_t c = 0;
    for (size_t i = 0; i < l->n && c < max; i++)
        if (l->p[i].state == KAD_LK_OK) out[c++] = l->p[i].id;
    return c;
}
