/* kad_service.c - the service "routing" v2 and v1 (p2p/routing.h) on top
 * of the operations of kad_ops.c. Arguments are checked and copied here;
 * every callback runs from the loop (kad_op_start / kad_op_finish_soon
 * defer the first step), or from cancel. v1 is v2 without operation ids. */
#include <stdlib.h>
#include <string.h>

#include "kad_ops.h"
#include "p2p/record.h"

static bool key_ok(const uint8_t *key, size_t klen, size_t max)
{
    return key && klen && klen <= max;
}

static int svc_find_peer(void *st, const p2p_peerid *peer, p2p_routing_peer_cb cb, void *arg, uint64_t *id)
{
    struct kad *kd = st;
    if (!peer || !cb || !peer->len || peer->len > P2P_PEERID_MAX) return P2P_EINVAL;
    if (p2p_peerid_equal(peer, p2p_host_peerid(kd->host))) return P2P_EINVAL;
    int err;
    struct kad_op *op = kad_op_new(kd, KAD_OP_FIND_PEER, peer->bytes, peer->len, &err);
    if (!op) return err;
    op->cb.peer = cb;
    op->arg = arg;
    if (id) *id = op->id;
    op->peer = *peer;
    op->max = 1;
    if (!(op->found = calloc(1, sizeof *op->found))) {
        kad_op_finish_soon(op, P2P_ENOMEM);
        return 0;
    }
    /* Connected: the peer store has its addresses (identify keeps them). */
    if (p2p_host_conn_to(kd->host, peer)) {
        op->found[0].id = *peer;
        op->found[0].naddrs = kad_peer_addrs(kd, peer, op->found[0].addrs, P2P_ROUTING_MAX_ADDRS);
        if (op->found[0].naddrs > P2P_ROUTING_MAX_ADDRS) op->found[0].naddrs = P2P_ROUTING_MAX_ADDRS;
        op->nfound = 1;
        kad_op_finish_soon(op, 0);
        return 0;
    }
    kad_op_start(op);
    return 0;
}

static int svc_closest_peers(void *st, const uint8_t *key, size_t klen, p2p_routing_peers_cb cb, void *arg,
                             uint64_t *id)
{
    struct kad *kd = st;
    if (!cb || !key_ok(key, klen, kd->lim.max_key)) return P2P_EINVAL;
    int err;
    struct kad_op *op = kad_op_new(kd, KAD_OP_CLOSEST, key, klen, &err);
    if (!op) return err;
    op->cb.peers = cb;
    op->arg = arg;
    if (id) *id = op->id;
    kad_op_start(op);
    return 0;
}

static int svc_get_value(void *st, const uint8_t *key, size_t klen, unsigned quorum, p2p_routing_value_cb cb,
                         void *arg, uint64_t *id)
{
    struct kad *kd = st;
    if (!cb || !key_ok(key, klen, kd->lim.max_key)) return P2P_EINVAL;
    int err;
    struct kad_op *op = kad_op_new(kd, KAD_OP_GET_VALUE, key, klen, &err);
    if (!op) return err;
    op->cb.value = cb;
    op->arg = arg;
    if (id) *id = op->id;
    op->quorum = quorum ? quorum : kd->quorum;
    /* Our own valid record counts as one answer (the spec). */
    const struct kad_rec *r = kad_records_get(&kd->records, key, klen, kad_now(kd));
    if (r && kad_validate(&kd->validators, key, klen, r->value, r->vlen) == 0 &&
        (op->best = malloc(r->vlen ? r->vlen : 1))) {
        if (r->vlen) memcpy(op->best, r->value, r->vlen);
        op->bestlen = r->vlen;
        op->got = 1;
        if (op->got >= op->quorum) {
            kad_op_finish_soon(op, 0);
            return 0;
        }
    }
    kad_op_start(op);
    return 0;
}

static struct kad_published *published_find(struct kad *kd, const uint8_t *key, size_t klen)
{
    for (struct kad_published *p = kd->published; p; p = p->next)
        if (p->klen == klen && memcmp(p->key, key, klen) == 0) return p;
    return NULL;
}

static void published_free(struct kad_published *p)
{
    free(p->key);
    free(p->value);
    free(p);
}

void kad_published_free_all(struct kad *kd)
{
    while (kd->published) {
        struct kad_published *p = kd->published;
        kd->published = p->next;
        published_free(p);
    }
    kd->npublished = 0;
}

/* Remember (or update) a value we publish, for republishing (the caller
 * checked max_published). */
static int published_keep(struct kad *kd, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen)
{
    struct kad_published *p = published_find(kd, key, klen);
    uint8_t *v = malloc(vlen ? vlen : 1);
    if (!v) return P2P_ENOMEM;
    if (vlen) memcpy(v, value, vlen);
    if (!p) {
        if (!(p = calloc(1, sizeof *p)) || !(p->key = malloc(klen))) {
            free(p);
            free(v);
            return P2P_ENOMEM;
        }
        memcpy(p->key, key, klen);
        p->klen = klen;
        p->next = kd->published;
        kd->published = p;
        kd->npublished++;
    }
    free(p->value);
    p->value = v;
    p->vlen = vlen;
    p->next_ms = kad_now(kd) + kd->republish_interval_ms;
    return 0;
}

static int svc_put_value(void *st, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                         p2p_routing_done_cb cb, void *arg, uint64_t *id)
{
    struct kad *kd = st;
    if (!cb || !key_ok(key, klen, kd->lim.max_key) || (vlen && !value) || vlen > kd->lim.max_value)
        return P2P_EINVAL;
    int rc = kad_validate(&kd->validators, key, klen, value, vlen);
    if (rc) return rc;
    if (!published_find(kd, key, klen) && kd->npublished >= kd->max_published) return P2P_ELIMIT;
    if ((rc = kad_put_start(kd, key, klen, value, vlen, cb, arg, id))) return rc;
    if (published_keep(kd, key, klen, value, vlen))
        p2p_log_warn(MOD, "out of memory: a published value will not be republished");
    return 0;
}

static int svc_stop_publishing(void *st, const uint8_t *key, size_t klen)
{
    struct kad *kd = st;
    if (!key_ok(key, klen, kd->lim.max_key)) return P2P_EINVAL;
    for (struct kad_published **pp = &kd->published; *pp; pp = &(*pp)->next) {
        struct kad_published *p = *pp;
        if (p->klen != klen || memcmp(p->key, key, klen) != 0) continue;
        *pp = p->next;
        published_free(p);
        kd->npublished--;
        return 0;
    }
    return P2P_ENOTFOUND;
}

static struct kad_provided *provided_find(struct kad *kd, const uint8_t *key, size_t klen)
{
    for (struct kad_provided *p = kd->provided; p; p = p->next)
        if (p->klen == klen && memcmp(p->key, key, klen) == 0) return p;
    return NULL;
}

static int svc_provide(void *st, const uint8_t *key, size_t klen, p2p_routing_done_cb cb, void *arg, uint64_t *id)
{
    struct kad *kd = st;
    if (!cb || !key_ok(key, klen, KAD_PROVIDER_KEY_MAX)) return P2P_EINVAL;
    struct kad_provided *p = provided_find(kd, key, klen);
    if (!p) {
        if (kd->nprovided >= kd->max_provided) return P2P_ELIMIT;
        if (!(p = calloc(1, sizeof *p))) return P2P_ENOMEM;
        memcpy(p->key, key, klen);
        p->klen = klen;
        p->next = kd->provided;
        kd->provided = p;
        kd->nprovided++;
    }
    p->next_ms = kad_now(kd) + kd->provide_interval_ms;
    return kad_provide_start(kd, key, klen, cb, arg, id);
}

static int svc_stop_providing(void *st, const uint8_t *key, size_t klen)
{
    struct kad *kd = st;
    if (!key_ok(key, klen, KAD_PROVIDER_KEY_MAX)) return P2P_EINVAL;
    for (struct kad_provided **pp = &kd->provided; *pp; pp = &(*pp)->next) {
        struct kad_provided *p = *pp;
        if (p->klen != klen || memcmp(p->key, key, klen) != 0) continue;
        *pp = p->next;
        free(p);
        kd->nprovided--;
        kad_providers_remove(&kd->providers, key, klen, p2p_host_peerid(kd->host));
        return 0;
    }
    return P2P_ENOTFOUND;
}

static int svc_find_providers(void *st, const uint8_t *key, size_t klen, size_t max, p2p_routing_peers_cb cb,
                              void *arg, uint64_t *id)
{
    struct kad *kd = st;
    if (!cb || !key_ok(key, klen, KAD_PROVIDER_KEY_MAX)) return P2P_EINVAL;
    if (!max) max = kd->k;
    if (max > 1024) max = 1024;
    int err;
    struct kad_op *op = kad_op_new(kd, KAD_OP_FIND_PROVIDERS, key, klen, &err);
    if (!op) return err;
    op->cb.peers = cb;
    op->arg = arg;
    if (id) *id = op->id;
    op->max = max;
    if (!(op->found = calloc(max, sizeof *op->found))) {
        kad_op_finish_soon(op, P2P_ENOMEM);
        return 0;
    }
    uint64_t now = kad_now(kd);
    const struct kad_prov *ps[64];
    size_t n = kad_providers_get(&kd->providers, key, klen, now, ps, max < 64 ? max : 64);
    for (size_t i = 0; i < n; i++) {
        struct p2p_routing_peer *f = &op->found[op->nfound++];
        f->id = ps[i]->id;
        if (kad_prov_addrs_live(ps[i], now) && !p2p_peerid_equal(&ps[i]->id, p2p_host_peerid(kd->host))) {
            f->naddrs = ps[i]->naddrs < P2P_ROUTING_MAX_ADDRS ? ps[i]->naddrs : P2P_ROUTING_MAX_ADDRS;
            memcpy(f->addrs, ps[i]->addrs, f->naddrs * sizeof *f->addrs);
        } else {
            f->naddrs = kad_peer_addrs(kd, &ps[i]->id, f->addrs, P2P_ROUTING_MAX_ADDRS);
            if (f->naddrs > P2P_ROUTING_MAX_ADDRS) f->naddrs = P2P_ROUTING_MAX_ADDRS;
        }
    }
    if (op->nfound >= max) kad_op_finish_soon(op, 0);
    else kad_op_start(op);
    return 0;
}

static int svc_bootstrap(void *st, p2p_routing_done_cb cb, void *arg, uint64_t *id)
{
    if (!cb) return P2P_EINVAL;
    return kad_bootstrap_start(st, cb, arg, id);
}

struct table_fill {
    struct kad *kd;
    struct p2p_routing_entry *out;
    size_t max, n;
    uint64_t now;
};

static bool table_one(const struct kad_rt_entry *e, size_t bucket, void *arg)
{
    struct table_fill *t = arg;
    if (t->n < t->max) {
        struct p2p_routing_entry *o = &t->out[t->n];
        o->id = e->id;
        o->bucket = (unsigned)bucket;
        o->added_ms_ago = t->now - e->added_ms;
        o->seen_ms_ago = t->now - e->seen_ms;
        o->connected = p2p_host_conn_to(t->kd->host, &e->id) != NULL;
    }
    t->n++;
    return true;
}

static size_t svc_table(void *st, struct p2p_routing_entry *out, size_t max)
{
    struct kad *kd = st;
    struct table_fill t = { kd, out, out ? max : 0, 0, kad_now(kd) };
    kad_rt_each(&kd->rt, table_one, &t);
    return t.n;
}

static enum p2p_routing_mode svc_mode(void *st)
{
    struct kad *kd = st;
    return kd->server ? P2P_ROUTING_SERVER : P2P_ROUTING_CLIENT;
}

static int svc_seal_record(void *st, const char *name, const uint8_t *data, size_t len, uint8_t **key, size_t *klen,
                           uint8_t **value, size_t *vlen)
{
    struct kad *kd = st;
    if (!key || !klen || !value || !vlen || (len && !data)) return P2P_EINVAL;
    kd->last_seq = p2p_peer_record_seq_next(kd->last_seq);
    int rc = kad_chat_seal(p2p_host_keypair(kd->host), name, kd->last_seq, data, len, key, klen, value, vlen);
    if (rc == 0 && *vlen > kd->lim.max_value) {
        free(*key);
        free(*value);
        *key = *value = NULL;
        return P2P_ERANGE;
    }
    return rc;
}

static int svc_open_record(void *st, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                           uint64_t *seq, const uint8_t **data, size_t *dlen)
{
    (void)st;
    if (!key || !value) return P2P_EINVAL;
    return kad_chat_open(key, klen, value, vlen, seq, data, dlen);
}

static int svc_cancel(void *st, uint64_t id)
{
    return kad_op_cancel(st, id);
}

const struct p2p_routing_api_v2 kad_routing_api_v2 = {
    svc_find_peer, svc_closest_peers, svc_get_value, svc_put_value, svc_provide, svc_stop_providing,
    svc_find_providers, svc_bootstrap, svc_table, svc_mode, svc_seal_record, svc_open_record, svc_cancel,
    svc_stop_publishing,
};

/* ---- v3: v2 plus the cost of an operation ---------------------------------- */

static int svc_stats(void *st, uint64_t id, struct p2p_routing_stats *out)
{
    if (!out) return P2P_EINVAL;
    const struct kad_op *op = kad_op_find(st, id);
    if (!op) return P2P_ENOTFOUND;
    kad_op_stats(op, out);
    return 0;
}

const struct p2p_routing_api_v3 kad_routing_api_v3 = {
    svc_find_peer, svc_closest_peers, svc_get_value, svc_put_value, svc_provide, svc_stop_providing,
    svc_find_providers, svc_bootstrap, svc_table, svc_mode, svc_seal_record, svc_open_record, svc_cancel,
    svc_stop_publishing, svc_stats,
};

/* ---- v1: the same without operation ids ---------------------------------- */

static int v1_find_peer(void *st, const p2p_peerid *peer, p2p_routing_peer_cb cb, void *arg)
{
    return svc_find_peer(st, peer, cb, arg, NULL);
}

static int v1_closest_peers(void *st, const uint8_t *key, size_t klen, p2p_routing_peers_cb cb, void *arg)
{
    return svc_closest_peers(st, key, klen, cb, arg, NULL);
}

static int v1_get_value(void *st, const uint8_t *key, size_t klen, unsigned quorum, p2p_routing_value_cb cb,
                        void *arg)
{
    return svc_get_value(st, key, klen, quorum, cb, arg, NULL);
}

static int v1_put_value(void *st, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                        p2p_routing_done_cb cb, void *arg)
{
    return svc_put_value(st, key, klen, value, vlen, cb, arg, NULL);
}

static int v1_provide(void *st, const uint8_t *key, size_t klen, p2p_routing_done_cb cb, void *arg)
{
    return svc_provide(st, key, klen, cb, arg, NULL);
}

static int v1_find_providers(void *st, const uint8_t *key, size_t klen, size_t max, p2p_routing_peers_cb cb,
                             void *arg)
{
    return svc_find_providers(st, key, klen, max, cb, arg, NULL);
}

static int v1_bootstrap(void *st, p2p_routing_done_cb cb, void *arg)
{
    return svc_bootstrap(st, cb, arg, NULL);
}

const struct p2p_routing_api_v1 kad_routing_api = {
    v1_find_peer, v1_closest_peers, v1_get_value, v1_put_value, v1_provide, svc_stop_providing,
    v1_find_providers, v1_bootstrap, svc_table, svc_mode, svc_seal_record, svc_open_record,
};
