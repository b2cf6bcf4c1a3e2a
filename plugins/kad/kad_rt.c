/* kad_rt.c - k-bucket routing table (see kad_rt.h). */
#include "kad_rt.h"

#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"

static int bucket_alloc(struct kad_rt *rt, struct kad_rt_bucket *b, uint64_t refreshed)
{
    memset(b, 0, sizeof *b);
    b->e = calloc(rt->cfg.k, sizeof *b->e);
    b->repl = calloc(rt->cfg.replacements, sizeof *b->repl);
    if (!b->e || !b->repl) {
        free(b->e);
        free(b->repl);
        b->e = b->repl = NULL;
        return P2P_ENOMEM;
    }
    b->refreshed_ms = refreshed;
    return 0;
}

int kad_rt_init(struct kad_rt *rt, const p2p_peerid *self, const struct kad_rt_config *cfg, uint64_t now)
{
    memset(rt, 0, sizeof *rt);
    if (!cfg->k || !cfg->replacements) return P2P_EINVAL;
    rt->cfg = *cfg;
    if (!rt->cfg.max_failures) rt->cfg.max_failures = 1;
    rt->self_id = *self;
    kad_key_from_peer(&rt->self, self);
    rt->b = calloc(KAD_KEY_BITS, sizeof *rt->b);
    if (!rt->b) return P2P_ENOMEM;
    /* A new table counts as refreshed: the bootstrap run refreshes it. */
    if (bucket_alloc(rt, &rt->b[0], now)) {
        free(rt->b);
        rt->b = NULL;
        return P2P_ENOMEM;
    }
    rt->nb = 1;
    return 0;
}

void kad_rt_free(struct kad_rt *rt)
{
    for (size_t i = 0; i < rt->nb; i++) {
        free(rt->b[i].e);
        free(rt->b[i].repl);
    }
    free(rt->b);
    memset(rt, 0, sizeof *rt);
}

size_t kad_rt_bucket_of(const struct kad_rt *rt, const kad_key *key)
{
    unsigned cpl = kad_key_cpl(key, &rt->self);
    return cpl < rt->nb ? cpl : rt->nb - 1;
}

static long find_in(const struct kad_rt_entry *e, size_t n, const p2p_peerid *id)
{
    for (size_t i = 0; i < n; i++)
        if (p2p_peerid_equal(&e[i].id, id)) return (long)i;
    return -1;
}

static struct kad_rt_bucket *bucket_for(const struct kad_rt *rt, const p2p_peerid *id, kad_key *key)
{
    kad_key k;
    kad_key_from_peer(&k, id);
    if (key) *key = k;
    return &rt->b[kad_rt_bucket_of(rt, &k)];
}

const struct kad_rt_entry *kad_rt_find(const struct kad_rt *rt, const p2p_peerid *id)
{
    if (!rt->nb) return NULL;
    struct kad_rt_bucket *b = bucket_for(rt, id, NULL);
    long i = find_in(b->e, b->n, id);
    return i < 0 ? NULL : &b->e[i];
}

bool kad_rt_contains(const struct kad_rt *rt, const p2p_peerid *id)
{
    return kad_rt_find(rt, id) != NULL;
}

static void repl_remove(struct kad_rt_bucket *b, size_t i)
{
    memmove(&b->repl[i], &b->repl[i + 1], (b->nrepl - i - 1) * sizeof *b->repl);
    b->nrepl--;
}

/* Remove entry i of b; the newest replacement takes its place. */
static void entry_remove(struct kad_rt *rt, struct kad_rt_bucket *b, size_t i, uint64_t now)
{
    if (b->checking && p2p_peerid_equal(&b->check_id, &b->e[i].id)) b->checking = false;
    b->e[i] = b->e[--b->n];
    rt->size--;
    if (b->nrepl) {
        struct kad_rt_entry r = b->repl[b->nrepl - 1];
        b->nrepl--;
        r.added_ms = now;
        r.failures = 0;
        b->e[b->n++] = r;
        rt->size++;
    }
}

static size_t group_count(const struct kad_rt_entry *e, size_t n, uint32_t group)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += e[i].group == group;
    return c;
}

static bool group_allows(const struct kad_rt *rt, const struct kad_rt_bucket *b, uint32_t group)
{
    if (!group) return true;
    if (rt->cfg.max_per_group_bucket && group_count(b->e, b->n, group) >= rt->cfg.max_per_group_bucket) return false;
    if (rt->cfg.max_per_group) {
        size_t c = 0;
        for (size_t i = 0; i < rt->nb; i++) c += group_count(rt->b[i].e, rt->b[i].n, group);
        if (c >= rt->cfg.max_per_group) return false;
    }
    return true;
}

/* Split the last bucket: peers with a longer prefix move to a new one. */
static int split_last(struct kad_rt *rt)
{
    size_t last = rt->nb - 1;
    struct kad_rt_bucket *nbk = &rt->b[rt->nb];
    int rc = bucket_alloc(rt, nbk, rt->b[last].refreshed_ms);
    if (rc) return rc;
    struct kad_rt_bucket *ob = &rt->b[last];
    for (size_t i = 0; i < ob->n;) {
        if (kad_key_cpl(&ob->e[i].key, &rt->self) > last) {
            nbk->e[nbk->n++] = ob->e[i];
            if (ob->checking && p2p_peerid_equal(&ob->check_id, &ob->e[i].id)) {
                nbk->checking = true;
                nbk->check_id = ob->check_id;
                nbk->check_started_ms = ob->check_started_ms;
                ob->checking = false;
            }
            ob->e[i] = ob->e[--ob->n];
        } else {
            i++;
        }
    }
    for (size_t i = 0; i < ob->nrepl;) {
        if (kad_key_cpl(&ob->repl[i].key, &rt->self) > last) {
            nbk->repl[nbk->nrepl++] = ob->repl[i];
            repl_remove(ob, i);
        } else {
            i++;
        }
    }
    rt->nb++;
    return 0;
}

static void expire_check(struct kad_rt *rt, struct kad_rt_bucket *b, uint64_t now)
{
    if (b->checking && now - b->check_started_ms >= rt->cfg.check_timeout_ms) {
        p2p_peerid id = b->check_id;
        b->checking = false;
        long i = find_in(b->e, b->n, &id);
        if (i >= 0) entry_remove(rt, b, (size_t)i, now);
    }
}

int kad_rt_add(struct kad_rt *rt, const p2p_peerid *id, uint32_t group, uint64_t now, p2p_peerid *check)
{
    if (p2p_peerid_equal(id, &rt->self_id) || !id->len) return KAD_RT_REJECTED;
    kad_key key;
    struct kad_rt_bucket *b = bucket_for(rt, id, &key);
    expire_check(rt, b, now);
    long i = find_in(b->e, b->n, id);
    if (i >= 0) {
        b->e[i].seen_ms = now;
        b->e[i].failures = 0;
        b->e[i].group = group;
        return KAD_RT_UPDATED;
    }
    size_t idx = (size_t)(b - rt->b);
    while (b->n == rt->cfg.k && idx == rt->nb - 1 && rt->nb < KAD_KEY_BITS) {
        int rc = split_last(rt);
        if (rc) return rc;
        b = &rt->b[kad_rt_bucket_of(rt, &key)];
        idx = (size_t)(b - rt->b);
    }
    if (!group_allows(rt, b, group)) return KAD_RT_REJECTED;
    long r = find_in(b->repl, b->nrepl, id);
    if (r >= 0) repl_remove(b, (size_t)r);
    struct kad_rt_entry e = { .id = *id, .key = key, .group = group, .added_ms = now, .seen_ms = now };
    if (b->n < rt->cfg.k) {
        b->e[b->n++] = e;
        rt->size++;
        return KAD_RT_ADDED;
    }
    if (b->nrepl == rt->cfg.replacements) repl_remove(b, 0);
    b->repl[b->nrepl++] = e;
    if (b->checking) return KAD_RT_QUEUED;
    size_t lrs = 0;
    for (size_t j = 1; j < b->n; j++)
        if (b->e[j].seen_ms < b->e[lrs].seen_ms) lrs = j;
    b->checking = true;
    b->check_id = b->e[lrs].id;
    b->check_started_ms = now;
    if (check) *check = b->check_id;
    return KAD_RT_CHECK;
}

void kad_rt_seen(struct kad_rt *rt, const p2p_peerid *id, uint64_t now)
{
    struct kad_rt_bucket *b = bucket_for(rt, id, NULL);
    long i = find_in(b->e, b->n, id);
    if (i < 0) return;
    b->e[i].seen_ms = now;
    b->e[i].failures = 0;
}

bool kad_rt_failed(struct kad_rt *rt, const p2p_peerid *id, uint64_t now)
{
    struct kad_rt_bucket *b = bucket_for(rt, id, NULL);
    long i = find_in(b->e, b->n, id);
    if (i < 0) return false;
    if (++b->e[i].failures < rt->cfg.max_failures) return false;
    entry_remove(rt, b, (size_t)i, now);
    return true;
}

void kad_rt_check_done(struct kad_rt *rt, const p2p_peerid *id, bool alive, uint64_t now)
{
    struct kad_rt_bucket *b = bucket_for(rt, id, NULL);
    if (b->checking && p2p_peerid_equal(&b->check_id, id)) b->checking = false;
    long i = find_in(b->e, b->n, id);
    if (i < 0) return;
    if (alive) {
        b->e[i].seen_ms = now;
        b->e[i].failures = 0;
    } else {
        entry_remove(rt, b, (size_t)i, now);
    }
}

bool kad_rt_remove(struct kad_rt *rt, const p2p_peerid *id, uint64_t now)
{
    struct kad_rt_bucket *b = bucket_for(rt, id, NULL);
    long r = find_in(b->repl, b->nrepl, id);
    if (r >= 0) repl_remove(b, (size_t)r);
    long i = find_in(b->e, b->n, id);
    if (i < 0) return false;
    entry_remove(rt, b, (size_t)i, now);
    return true;
}

size_t kad_rt_closest(const struct kad_rt *rt, const kad_key *target, size_t n, p2p_peerid *out)
{
    if (!n) return 0;
    const struct kad_rt_entry **best = malloc(n * sizeof *best);
    if (!best) return 0;
    size_t nb = 0;
    for (size_t bi = 0; bi < rt->nb; bi++) {
        const struct kad_rt_bucket *b = &rt->b[bi];
        for (size_t i = 0; i < b->n; i++) {
            const struct kad_rt_entry *e = &b->e[i];
            if (nb == n && kad_key_cmp(target, &e->key, &best[nb - 1]->key) >= 0) continue;
            size_t pos = nb < n ? nb : n - 1;
            while (pos > 0 && kad_key_cmp(target, &e->key, &best[pos - 1]->key) < 0) {
                best[pos] = best[pos - 1];
                pos--;
            }
            best[pos] = e;
            if (nb < n) nb++;
        }
    }
    for (size_t i = 0; i < nb; i++) out[i] = best[i]->id;
    free(best);
    return nb;
}

size_t kad_rt_stale_buckets(const struct kad_rt *rt, uint64_t now, uint64_t interval_ms, unsigned *out, size_t max)
{
    size_t c = 0;
    for (size_t i = 0; i < rt->nb && c < max; i++) {
        const struct kad_rt_bucket *b = &rt->b[i];
        if (b->n && now - b->refreshed_ms >= interval_ms) out[c++] = (unsigned)i;
    }
    return c;
}

void kad_rt_refreshed(struct kad_rt *rt, const kad_key *key, uint64_t now)
{
    rt->b[kad_rt_bucket_of(rt, key)].refreshed_ms = now;
}

void kad_rt_each(const struct kad_rt *rt, bool (*fn)(const struct kad_rt_entry *e, size_t bucket, void *arg),
                 void *arg)
{
    for (size_t bi = 0; bi < rt->nb; bi++)
        for (size_t i = 0; i < rt->b[bi].n; i++)
            if (!fn(&rt->b[bi].e[i], bi, arg)) return;
}
