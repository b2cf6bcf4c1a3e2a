/* kad_ops.c - iterative DHT operations over kad_rpc (see kad_ops.h).
 *
 * Every lookup is seeded with the k closest peers of the routing table
 * (and, for the bootstrap, the configured bootstrap peers), runs at most
 * alpha requests at once, gives each request rpc_timeout and the whole
 * lookup query_timeout, and ends as kad_lookup.h describes. Addresses of
 * the closer peers responses carry go to the peer store (addr_ttl);
 * peers without a known address are not asked. */
#include "kad_ops.h"

#include <stdlib.h>
#include <string.h>

#define LOOKUP_CANDIDATES_PER_K 8   /* candidates kept: 8k */
#define LOOKUP_REQUESTS_PER_K 10    /* requests per lookup: 10k */
#define REFRESH_MAX_TRIES 4096      /* random ids tried per bucket refresh */
#define REFRESH_MAX_BUCKETS 32      /* bucket refreshes per bootstrap run */

static void op_step(struct kad_op *op);

/* Detach from the plugin: no request, timer or deferred step reaches op
 * any more. */
static void op_unlink(struct kad_op *op)
{
    struct kad *kd = op->kd;
    if (op->prev) op->prev->next = op->next;
    else if (kd->ops == op) kd->ops = op->next;
    if (op->next) op->next->prev = op->prev;
    op->next = op->prev = NULL;
    kd->nops--;
    kad_rpc_cancel(kd, op);
    p2p_defer_cancel(kd->host, &op->step);
    p2p_timer_free(op->timer);
    op->timer = NULL;
}

static void op_free(struct kad_op *op)
{
    if (op->lk_active) kad_lookup_free(&op->lk);
    free(op->key);
    free(op->best);
    free(op->best_peers);
    free(op->outdated);
    free(op->novalue);
    free(op->value);
    free(op->found);
    free(op->targets);
    free(op);
}

/* Count a lookup about to be freed into the operation's stats. */
static void lookup_account(struct kad_op *op)
{
    if (!op->lk_active) return;
    op->st_lookups++;
    op->st_requests += op->lk.requests;
    op->st_answers += op->lk.answers;
    if (op->lk.rounds > op->st_rounds) op->st_rounds = op->lk.rounds;
}

void kad_op_stats(const struct kad_op *op, struct p2p_routing_stats *out)
{
    *out = (struct p2p_routing_stats){ .lookups = op->st_lookups, .requests = op->st_requests,
                                       .answers = op->st_answers, .rounds = op->st_rounds };
    if (op->lk_active) {
        out->lookups++;
        out->requests += op->lk.requests;
        out->answers += op->lk.answers;
        if (op->lk.rounds > out->rounds) out->rounds = op->lk.rounds;
    }
    uint64_t now = kad_now(op->kd);
    out->elapsed_ms = now > op->started_ms ? now - op->started_ms : 0;
}

struct kad_op *kad_op_find(struct kad *kd, uint64_t id)
{
    if (kd->reporting && kd->reporting->id == id) return kd->reporting;
    for (struct kad_op *op = kd->ops; op; op = op->next)
        if (op->id == id) return op;
    return NULL;
}

/* Report and free (or, while a response is being processed, leave the
 * freeing to it: see on_response). Also how cancel ends an operation. */
static void op_finish(struct kad_op *op, int status)
{
    struct kad *kd = op->kd;
    /* Unlinked first: the callback may start new operations or stop us. */
    op_unlink(op);
    struct kad_op *outer = kd->reporting;   /* a callback may finish another operation */
    kd->reporting = op;
    switch (op->kind) {
    case KAD_OP_FIND_PEER:
        if (op->cb.peer) op->cb.peer(status, status ? NULL : &op->found[0], op->arg);
        break;
    case KAD_OP_CLOSEST:
    case KAD_OP_FIND_PROVIDERS:
        if (op->cb.peers) op->cb.peers(status, op->found, status ? 0 : op->nfound, op->arg);
        break;
    case KAD_OP_GET_VALUE:
        if (op->cb.value) op->cb.value(status, status ? NULL : op->best, status ? 0 : op->bestlen, op->arg);
        break;
    case KAD_OP_PUT_VALUE:
    case KAD_OP_PROVIDE:
        if (op->cb.done) op->cb.done(status, op->accepted, op->arg);
        break;
    case KAD_OP_BOOTSTRAP:
        kd->booting = false;
        if (op->cb.done) op->cb.done(status, kd->rt.size, op->arg);
        break;
    }
    kd->reporting = outer;
    if (op->busy) op->dead = true;
    else op_free(op);
}

static void on_step(void *arg)
{
    op_step(arg);
}

static void on_timer(p2p_timer *t, void *arg)
{
    (void)t;
    op_step(arg);
}

struct kad_op *kad_op_new(struct kad *kd, enum kad_op_kind kind, const uint8_t *key, size_t klen, int *err)
{
    *err = 0;
    if (!kd->started || kd->stopping) {
        *err = P2P_ECLOSED;
        return NULL;
    }
    if (kd->nops >= kd->max_ops) {
        *err = P2P_ELIMIT;
        return NULL;
    }
    struct kad_op *op = calloc(1, sizeof *op);
    if (!op || !(op->timer = p2p_timer_new(kd->host, on_timer, op)) ||
        (klen && !(op->key = malloc(klen)))) {
        if (op) p2p_timer_free(op->timer);
        free(op);
        *err = P2P_ENOMEM;
        return NULL;
    }
    op->kd = kd;
    op->id = ++kd->next_op_id;
    op->kind = kind;
    if (klen) memcpy(op->key, key, klen);
    op->klen = klen;
    op->early_status = 1;
    op->started_ms = kad_now(kd);
    kad_key_from_bytes(&op->target, key, klen);
    p2p_defer_init(&op->step, on_step, op);
    op->next = kd->ops;
    if (kd->ops) kd->ops->prev = op;
    kd->ops = op;
    kd->nops++;
    return op;
}

void kad_op_finish_soon(struct kad_op *op, int status)
{
    op->early_status = status;
    p2p_defer_schedule(op->kd->host, &op->step);
}

/* Seed and start a lookup of op->target. */
static int lookup_begin(struct kad_op *op)
{
    struct kad *kd = op->kd;
    lookup_account(op);
    if (op->lk_active) kad_lookup_free(&op->lk);
    op->lk_active = false;
    struct kad_lookup_config cfg = {
        .k = kd->k, .alpha = kd->alpha, .max_candidates = kd->k * LOOKUP_CANDIDATES_PER_K * kd->paths,
        .max_requests = kd->k * LOOKUP_REQUESTS_PER_K * kd->paths, .request_timeout_ms = kd->rpc_timeout_ms,
        .paths = kd->paths,
    };
    int rc = kad_lookup_init(&op->lk, &op->target, p2p_host_peerid(kd->host), &cfg);
    if (rc) return rc;
    op->lk_active = true;
    p2p_peerid *seed = malloc(kd->k * sizeof *seed);
    if (!seed) return P2P_ENOMEM;
    size_t n = kad_rt_closest(&kd->rt, &op->target, kd->k, seed);
    for (size_t i = 0; i < n; i++) kad_lookup_add(&op->lk, &seed[i]);
    free(seed);
    if (op->kind == KAD_OP_BOOTSTRAP)
        for (size_t i = 0; i < kd->nboot; i++) kad_lookup_add(&op->lk, &kd->boot_ids[i]);
    op->deadline_ms = kad_now(kd) + kd->query_timeout_ms;
    return 0;
}

static const char *const kind_names[] = { "find_peer", "closest_peers", "get_value", "put_value", "provide",
                                          "find_providers", "bootstrap" };

void kad_op_start(struct kad_op *op)
{
    p2p_log_debug(MOD, "%s: lookup started (%zu peers in the table)", kind_names[op->kind], op->kd->rt.size);
    int rc = lookup_begin(op);
    if (rc) op->early_status = rc;
    p2p_defer_schedule(op->kd->host, &op->step);
}

/* ---- responses --------------------------------------------------------------- */

static bool have_peer(const p2p_peerid *list, size_t n, const p2p_peerid *id)
{
    for (size_t i = 0; i < n; i++)
        if (p2p_peerid_equal(&list[i], id)) return true;
    return false;
}

static void push_peer(p2p_peerid **list, size_t *n, size_t max, const p2p_peerid *id)
{
    if (*n >= max || have_peer(*list, *n, id)) return;
    if (!*list && !(*list = calloc(max, sizeof **list))) return;
    (*list)[(*n)++] = *id;
}

static void fill_peer(struct kad *kd, struct p2p_routing_peer *out, const p2p_peerid *id, const p2p_multiaddr *addrs,
                      size_t n)
{
    memset(out, 0, sizeof *out);
    out->id = *id;
    if (!n) {
        out->naddrs = kad_peer_addrs(kd, id, out->addrs, P2P_ROUTING_MAX_ADDRS);
        if (out->naddrs > P2P_ROUTING_MAX_ADDRS) out->naddrs = P2P_ROUTING_MAX_ADDRS;
        return;
    }
    out->naddrs = n < P2P_ROUTING_MAX_ADDRS ? n : P2P_ROUTING_MAX_ADDRS;
    memcpy(out->addrs, addrs, out->naddrs * sizeof *addrs);
}

/* A GET_VALUE response's record. */
static void got_value(struct kad_op *op, const p2p_peerid *peer, const struct kad_msg *resp)
{
    struct kad *kd = op->kd;
    size_t cap = kd->k * 2;
    const struct kad_record *r = &resp->record;
    if (!resp->has_record || r->keylen != op->klen || memcmp(r->key, op->key, op->klen) != 0) {
        push_peer(&op->novalue, &op->nnovalue, cap, peer);
        return;
    }
    int rc = kad_validate(&kd->validators, r->key, r->keylen, r->value, r->vlen);
    if (rc) {
        char ps[P2P_PEERID_STRMAX];
        p2p_log_debug(MOD, "invalid record from %s: %s", kad_peer_str(peer, ps), p2p_strerror(rc));
        push_peer(&op->outdated, &op->noutdated, cap, peer);
        return;
    }
    op->got++;
    if (op->best && op->bestlen == r->vlen && (!r->vlen || memcmp(op->best, r->value, r->vlen) == 0)) {
        push_peer(&op->best_peers, &op->nbest_peers, cap, peer);
        return;
    }
    if (op->best && !kad_select(&kd->validators, op->key, op->klen, op->best, op->bestlen, r->value, r->vlen)) {
        push_peer(&op->outdated, &op->noutdated, cap, peer);
        return;
    }
    uint8_t *v = malloc(r->vlen ? r->vlen : 1);
    if (!v) return;
    if (r->vlen) memcpy(v, r->value, r->vlen);
    free(op->best);
    op->best = v;
    op->bestlen = r->vlen;
    for (size_t i = 0; i < op->nbest_peers; i++) push_peer(&op->outdated, &op->noutdated, cap, &op->best_peers[i]);
    op->nbest_peers = 0;
    push_peer(&op->best_peers, &op->nbest_peers, cap, peer);
}

/* GET_PROVIDERS response's providers: 1 when max were found, 0 when not,
 * -1 when op ended meanwhile (op->dead; see on_response). */
static int got_providers(struct kad_op *op, const struct kad_msg *resp)
{
    struct kad *kd = op->kd;
    for (size_t i = 0; i < resp->nproviders && op->nfound < op->max; i++) {
        const struct kad_peer *p = &resp->providers[i];
        bool dup = false;
        for (size_t j = 0; j < op->nfound && !dup; j++) dup = p2p_peerid_equal(&op->found[j].id, &p->id);
        if (dup) continue;
        kad_learn_addrs(kd, p);
        if (op->dead) return -1;
        fill_peer(kd, &op->found[op->nfound++], &p->id, p->addrs, p->naddrs);
        if (p->naddrs) p2p_host_peer_discovered(kd->host, &p->id, p->addrs, p->naddrs, kd->addr_ttl_ms, "kad");
        if (op->dead) return -1;
    }
    return op->nfound >= op->max;
}

/* A lookup response. Peer store updates and discoveries emit events whose
 * subscribers may cancel op or stop the host (which ends every
 * operation): op is marked busy meanwhile, so that op_finish only marks it
 * dead, and is freed here once the events returned. */
static void on_response(struct kad *kd, int status, const p2p_peerid *peer, struct kad_msg *resp, void *arg)
{
    struct kad_op *op = arg;
    uint64_t now = kad_now(kd);
    if (!op->lk_active) return;
    if (status) {
        kad_lookup_failure(&op->lk, peer, now);
        return op_step(op);
    }
    op->busy = true;
    p2p_peerid *ids = resp->ncloser ? malloc(resp->ncloser * sizeof *ids) : NULL;
    size_t n = 0;
    for (size_t i = 0; i < resp->ncloser && ids; i++) {
        const struct kad_peer *p = &resp->closer[i];
        kad_learn_addrs(kd, p);
        if (op->dead) break;
        if (op->kind == KAD_OP_FIND_PEER && p2p_peerid_equal(&p->id, &op->peer) && p->naddrs) {
            fill_peer(kd, &op->found[0], &p->id, p->addrs, p->naddrs);
            op->nfound = 1;
        }
        if (p->naddrs || kad_peer_addrs(kd, &p->id, NULL, 0)) ids[n++] = p->id;
    }
    if (op->dead) {
        free(ids);
        goto gone;
    }
    if (op->kind == KAD_OP_FIND_PEER && p2p_peerid_equal(peer, &op->peer) && !op->nfound) {
        fill_peer(kd, &op->found[0], peer, NULL, 0);
        op->nfound = op->found[0].naddrs ? 1 : 0;
    }
    kad_lookup_response(&op->lk, peer, ids, n, now);
    free(ids);
    if (op->kind == KAD_OP_GET_VALUE) {
        got_value(op, peer, resp);
        if (op->got >= op->quorum) kad_lookup_stop(&op->lk);
    } else if (op->kind == KAD_OP_FIND_PROVIDERS) {
        int r = got_providers(op, resp);
        if (r < 0) goto gone;
        if (r) kad_lookup_stop(&op->lk);
    } else if (op->kind == KAD_OP_FIND_PEER && op->nfound) {
        kad_lookup_stop(&op->lk);
        struct p2p_routing_peer f = op->found[0];
        p2p_host_peer_discovered(kd->host, &f.id, f.addrs, f.naddrs, kd->addr_ttl_ms, "kad");
        if (op->dead) goto gone;
    }
    op->busy = false;
    op_step(op);
    return;
gone:
    op_free(op);   /* already unlinked and reported by op_finish */
}

/* ---- completion ----------------------------------------------------------- */

static void on_stored(struct kad *kd, int status, const p2p_peerid *peer, struct kad_msg *resp, void *arg)
{
    (void)kd;
    (void)peer;
    (void)resp;
    struct kad_op *op = arg;
    if (status == 0) op->accepted++;
    if (--op->pending == 0) op_finish(op, op->accepted ? 0 : P2P_ENOTFOUND);
}

/* put_value / provide: send the record to the closest peers found. */
static void store_phase(struct kad_op *op, const p2p_peerid *peers, size_t n)
{
    struct kad *kd = op->kd;
    struct kad_msg m;
    kad_msg_init(&m);
    int rc = kad_msg_set_key(&m, op->key, op->klen);
    if (op->kind == KAD_OP_PUT_VALUE) {
        m.type = KAD_PUT_VALUE;
        if (rc == 0) rc = kad_msg_set_record(&m, op->key, op->klen, op->value, op->vlen, NULL);
    } else {
        m.type = KAD_ADD_PROVIDER;
        p2p_multiaddr addrs[KAD_MAX_ADDRS_OUT];
        size_t na = kad_peer_addrs(kd, p2p_host_peerid(kd->host), addrs, KAD_MAX_ADDRS_OUT);
        if (rc == 0) rc = kad_msg_add_peer(&m, true, p2p_host_peerid(kd->host), addrs, na, KAD_CONNECTED);
    }
    op->storing = true;
    op->pending = 1;   /* held until every request is sent */
    for (size_t i = 0; i < n && rc == 0; i++)
        if (kad_rpc_send(kd, &peers[i], &m, op->kind == KAD_OP_PUT_VALUE, on_stored, op) == 0) op->pending++;
    kad_msg_clear(&m);
    if (--op->pending == 0) op_finish(op, rc ? rc : op->accepted ? 0 : P2P_ENOTFOUND);
}

/* get_value: entry correction, then report. */
static void value_done(struct kad_op *op, const p2p_peerid *closest, size_t n)
{
    struct kad *kd = op->kd;
    if (!op->best) return op_finish(op, P2P_ENOTFOUND);
    struct kad_msg m;
    kad_msg_init(&m);
    m.type = KAD_PUT_VALUE;
    int rc = kad_msg_set_key(&m, op->key, op->klen);
    if (rc == 0) rc = kad_msg_set_record(&m, op->key, op->klen, op->best, op->bestlen, NULL);
    for (size_t i = 0; i < op->noutdated && rc == 0; i++) kad_rpc_send(kd, &op->outdated[i], &m, true, NULL, NULL);
    for (size_t i = 0; i < op->nnovalue && rc == 0; i++)
        if (have_peer(closest, n, &op->novalue[i])) kad_rpc_send(kd, &op->novalue[i], &m, true, NULL, NULL);
    kad_msg_clear(&m);
    op_finish(op, 0);
}

/* The bootstrap's next lookup (our own id first, then stale buckets). */
static bool bootstrap_next(struct kad_op *op)
{
    struct kad *kd = op->kd;
    if (!op->refresh_planned) {
        op->refresh_planned = true;
        unsigned cpls[REFRESH_MAX_BUCKETS];
        size_t n = kad_rt_stale_buckets(&kd->rt, kad_now(kd), kd->refresh_interval_ms, cpls, REFRESH_MAX_BUCKETS);
        op->targets = calloc(n ? n : 1, sizeof *op->targets);
        for (size_t i = 0; i < n && op->targets; i++)
            kad_key_random_peer(&op->targets[op->ntargets++], &kd->rt.self, cpls[i], kad_random_bytes, NULL,
                                REFRESH_MAX_TRIES);
    }
    if (op->ti >= op->ntargets) return false;
    p2p_peerid *t = &op->targets[op->ti++];
    free(op->key);
    op->key = malloc(t->len);
    if (!op->key) return false;
    memcpy(op->key, t->bytes, t->len);
    op->klen = t->len;
    kad_key_from_peer(&op->target, t);
    return lookup_begin(op) == 0;
}

static void lookup_done(struct kad_op *op)
{
    struct kad *kd = op->kd;
    struct kad_lookup_stats *st = &kd->stats;
    st->lookups++;
    st->requests += st->last_requests = op->lk.requests;
    st->answers += st->last_answers = op->lk.answers;
    st->rounds += st->last_rounds = op->lk.rounds;
    p2p_log_debug(MOD, "%s: lookup done: %zu requests, %zu answers, %zu rounds", kind_names[op->kind],
                  op->lk.requests, op->lk.answers, op->lk.rounds);
    /* Requests still under way (the k closest answered, or the op was
     * satisfied early) are no longer needed. */
    kad_rpc_cancel(kd, op);
    kad_rt_refreshed(&kd->rt, &op->target, kad_now(kd));
    p2p_peerid *res = malloc(kd->k * sizeof *res);
    size_t n = res ? kad_lookup_result(&op->lk, res, kd->k) : 0;
    switch (op->kind) {
    case KAD_OP_FIND_PEER:
        op_finish(op, op->nfound ? 0 : P2P_ENOTFOUND);
        break;
    case KAD_OP_CLOSEST:
        op->found = calloc(n ? n : 1, sizeof *op->found);
        for (size_t i = 0; i < n && op->found; i++) fill_peer(kd, &op->found[op->nfound++], &res[i], NULL, 0);
        op_finish(op, op->found ? 0 : P2P_ENOMEM);
        break;
    case KAD_OP_GET_VALUE:
        value_done(op, res, n);
        break;
    case KAD_OP_PUT_VALUE:
    case KAD_OP_PROVIDE:
        store_phase(op, res, n);
        break;
    case KAD_OP_FIND_PROVIDERS:
        op_finish(op, 0);
        break;
    case KAD_OP_BOOTSTRAP:
        if (bootstrap_next(op)) {
            p2p_defer_schedule(kd->host, &op->step);
        } else {
            lookup_account(op);
            if (op->lk_active) kad_lookup_free(&op->lk);
            op->lk_active = false;
            op_finish(op, 0);
        }
        break;
    }
    free(res);
}

static struct kad_msg *request_for(struct kad_op *op, struct kad_msg *m)
{
    kad_msg_init(m);
    m->type = op->kind == KAD_OP_GET_VALUE ? KAD_GET_VALUE
              : op->kind == KAD_OP_FIND_PROVIDERS ? KAD_GET_PROVIDERS : KAD_FIND_NODE;
    return kad_msg_set_key(m, op->key, op->klen) == 0 ? m : NULL;
}

static void op_step(struct kad_op *op)
{
    struct kad *kd = op->kd;
    if (op->early_status != 1) return op_finish(op, op->early_status);
    if (!op->lk_active || op->storing) return;
    uint64_t now = kad_now(kd);
    if (now >= op->deadline_ms) kad_lookup_stop(&op->lk);
    for (;;) {
        p2p_peerid peer;
        int act = kad_lookup_next(&op->lk, now, &peer);
        if (act == KAD_LK_DONE) return lookup_done(op);
        if (act == KAD_LK_WAIT) {
            uint64_t d = kad_lookup_deadline(&op->lk);
            if (op->deadline_ms < d) d = op->deadline_ms;
            p2p_timer_start(op->timer, d > now ? d - now : 0, 0);
            return;
        }
        struct kad_msg m;
        int rc = request_for(op, &m) ? kad_rpc_send(kd, &peer, &m, true, on_response, op) : P2P_ENOMEM;
        kad_msg_clear(&m);
        if (rc) kad_lookup_failure(&op->lk, &peer, now);
    }
}

/* ---- entry points used by plugin.c ---------------------------------------------- */

int kad_bootstrap_start(struct kad *kd, p2p_routing_done_cb cb, void *arg, uint64_t *id)
{
    int err;
    const p2p_peerid *self = p2p_host_peerid(kd->host);
    struct kad_op *op = kad_op_new(kd, KAD_OP_BOOTSTRAP, self->bytes, self->len, &err);
    if (!op) return err;
    op->cb.done = cb;
    op->arg = arg;
    kd->booting = true;
    if (id) *id = op->id;
    kad_op_start(op);
    return 0;
}

int kad_provide_start(struct kad *kd, const uint8_t *key, size_t klen, p2p_routing_done_cb cb, void *arg,
                      uint64_t *id)
{
    int err;
    struct kad_op *op = kad_op_new(kd, KAD_OP_PROVIDE, key, klen, &err);
    if (!op) return err;
    op->cb.done = cb;
    op->arg = arg;
    p2p_multiaddr addrs[KAD_MAX_ADDRS_OUT];
    size_t na = kad_peer_addrs(kd, p2p_host_peerid(kd->host), addrs, KAD_MAX_ADDRS_OUT);
    kad_providers_add(&kd->providers, key, klen, p2p_host_peerid(kd->host), addrs, na, kad_now(kd));
    if (id) *id = op->id;
    kad_op_start(op);
    return 0;
}

int kad_put_start(struct kad *kd, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                  p2p_routing_done_cb cb, void *arg, uint64_t *id)
{
    int err;
    struct kad_op *op = kad_op_new(kd, KAD_OP_PUT_VALUE, key, klen, &err);
    if (!op) return err;
    op->cb.done = cb;
    op->arg = arg;
    if (id) *id = op->id;
    if (!(op->value = malloc(vlen ? vlen : 1))) {
        kad_op_finish_soon(op, P2P_ENOMEM);
        return 0;
    }
    if (vlen) memcpy(op->value, value, vlen);
    op->vlen = vlen;
    int rc = kad_records_put(&kd->records, key, klen, value, vlen, NULL, NULL, kad_now(kd));
    if (rc) p2p_log_debug(MOD, "cannot keep our own record: %s", p2p_strerror(rc));
    kad_op_start(op);
    return 0;
}

int kad_op_cancel(struct kad *kd, uint64_t id)
{
    for (struct kad_op *op = kd->ops; op; op = op->next) {
        if (op->id != id) continue;
        p2p_log_debug(MOD, "%s: canceled", kind_names[op->kind]);
        op_finish(op, P2P_ECANCELED);
        return 0;
    }
    return P2P_ENOTFOUND;
}

void kad_ops_stop_all(struct kad *kd)
{
    while (kd->ops) op_finish(kd->ops, P2P_ECANCELED);
}

static void on_checked(struct kad *kd, int status, const p2p_peerid *peer, struct kad_msg *resp, void *arg)
{
    (void)resp;
    (void)arg;
    if (status == P2P_ECANCELED) return;
    kad_rt_check_done(&kd->rt, peer, status == 0, kad_now(kd));
    kd->dirty = true;
}

void kad_check_peer(struct kad *kd, const p2p_peerid *peer)
{
    struct kad_msg m;
    kad_msg_init(&m);
    m.type = KAD_FIND_NODE;
    const p2p_peerid *self = p2p_host_peerid(kd->host);
    int rc = kad_msg_set_key(&m, self->bytes, self->len);
    if (rc == 0) rc = kad_rpc_send(kd, peer, &m, true, on_checked, kd);
    kad_msg_clear(&m);
    if (rc) kad_rt_check_done(&kd->rt, peer, false, kad_now(kd));
}
