/* gs_score.c - GossipSub v1.1 peer scoring; see gs_score.h. This file
 * holds the scoring logic; defaults and validation are in
 * gs_score_params.c, hashing and tables in gs_score_table.c. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "gs_score_int.h"
#include "p2p/error.h"

/* ---- Topics -------------------------------------------------------------------- */

static int topic_find(const struct gs_score *s, const char *name)
{
    if (!name) return -1;
    size_t len = strnlen(name, GS_SCORE_TOPIC_MAX + 1);
    if (len == 0 || len > GS_SCORE_TOPIC_MAX || !s->ntopics) return -1;
    uint32_t h = gss_hash(s, name, len);
    for (uint32_t i = 0; i < s->topics_cap; i++)
        if (s->topics[i].name && s->topics[i].hash == h && !strcmp(s->topics[i].name, name))
            return (int)i;
    return -1;
}

static struct gss_tstat *tstat_get(struct gss_peer *p, uint32_t ti, bool create)
{
    for (uint32_t k = 0; k < p->ntopics; k++)
        if (p->topics[k].topic == ti) return &p->topics[k];
    if (!create) return NULL;
    if (p->ntopics == p->ctopics) {
        uint32_t nc = p->ctopics ? p->ctopics * 2 : 2;
        struct gss_tstat *n = realloc(p->topics, nc * sizeof *n);
        if (!n) return NULL;
        p->topics = n;
        p->ctopics = nc;
    }
    struct gss_tstat *t = &p->topics[p->ntopics++];
    memset(t, 0, sizeof *t);
    t->topic = ti;
    return t;
}

/* ---- Peers ----------------------------------------------------------------------- */

static bool peerid_ok(const p2p_peerid *id)
{
    return id && id->len >= 1 && id->len <= P2P_PEERID_MAX;
}

static struct gss_peer *peer_find(const struct gs_score *s, const p2p_peerid *id)
{
    if (!peerid_ok(id) || !s->peer_idx.v) return NULL;
    uint32_t h = gss_hash(s, id->bytes, id->len);
    for (uint32_t i = h & s->peer_idx.mask; s->peer_idx.v[i].ix; i = (i + 1) & s->peer_idx.mask) {
        struct gss_peer *p = &s->peers[s->peer_idx.v[i].ix - 1];
        if (s->peer_idx.v[i].h == h && p->id.len == id->len && !memcmp(p->id.bytes, id->bytes, id->len))
            return p;
    }
    return NULL;
}

static void peer_drop(struct gs_score *s, struct gss_peer *p)
{
    uint32_t ix = (uint32_t)(p - s->peers);
    gss_peer_drop_ips(s, p);
    gss_idx_del(&s->peer_idx, p->hash, ix);
    free(p->topics);
    if (p->connected) s->nconnected--;
    uint32_t gen = p->gen + 1;
    memset(p, 0, sizeof *p);
    p->gen = gen;
    p->next_free = s->peer_free;
    s->peer_free = ix;
    s->npeers--;
}

static struct gss_peer *peer_new(struct gs_score *s, const p2p_peerid *id, int *rc)
{
    if (s->npeers == s->p.max_peers) {
        /* Make room: forget the retained peer that expires first. */
        struct gss_peer *victim = NULL;
        for (uint32_t i = 0; i < s->peers_hw; i++) {
            struct gss_peer *p = &s->peers[i];
            if (p->used && !p->connected && (!victim || p->expire_ms < victim->expire_ms)) victim = p;
        }
        if (!victim) {
            *rc = P2P_ELIMIT;
            return NULL;
        }
        peer_drop(s, victim);
    }
    uint32_t ix = s->peer_free;
    if (ix == NONE) {
        if (s->peers_hw == s->peers_cap &&
            (*rc = gss_pool_grow((void **)&s->peers, &s->peers_cap, s->p.max_peers, sizeof *s->peers)))
            return NULL;
        ix = s->peers_hw;
    }
    uint32_t h = gss_hash(s, id->bytes, id->len);
    if ((*rc = gss_idx_put(&s->peer_idx, h, ix))) return NULL;
    if (ix == s->peer_free) s->peer_free = s->peers[ix].next_free;
    else s->peers_hw++;
    struct gss_peer *p = &s->peers[ix];
    p->id = *id;
    p->used = true;
    p->hash = h;
    s->npeers++;
    return p;
}

static struct gss_handle handle_of(const struct gs_score *s, const struct gss_peer *p)
{
    struct gss_handle hd = {(uint32_t)(p - s->peers), p->gen};
    return hd;
}

static struct gss_peer *handle_peer(struct gs_score *s, struct gss_handle hd)
{
    if (hd.ix >= s->peers_hw) return NULL;
    struct gss_peer *p = &s->peers[hd.ix];
    return p->used && p->gen == hd.gen ? p : NULL;
}

/* ---- Clock ----------------------------------------------------------------------- */

static uint64_t clock_at(struct gs_score *s, uint64_t now)
{
    if (!s->clock_set) {
        s->clock_set = true;
        s->now = s->last_decay = now;
    } else if (now > s->now) {
        s->now = now;
    }
    return s->now;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

static bool retention_over(const struct gss_peer *p, uint64_t now)
{
    return !p->connected && now > p->expire_ms;
}

/* ---- Life cycle ------------------------------------------------------------------ */

int gs_score_new(struct gs_score **out, const struct gs_score_params *params)
{
    if (!out) return P2P_EINVAL;
    *out = NULL;
    if (gs_score_params_validate(params)) return P2P_EINVAL;
    struct gs_score *s = calloc(1, sizeof *s);
    if (!s) return P2P_ENOMEM;
    s->p = *params;
    s->peer_free = s->ip_free = NONE;
    *out = s;
    return 0;
}

void gs_score_free(struct gs_score *s)
{
    if (!s) return;
    for (uint32_t i = 0; i < s->peers_hw; i++) free(s->peers[i].topics);
    for (uint32_t i = 0; i < s->topics_cap; i++) free(s->topics[i].name);
    free(s->topics);
    free(s->peers);
    free(s->peer_idx.v);
    free(s->ips);
    free(s->ip_idx.v);
    free(s->recs);
    free(s->rec_idx.v);
    free(s);
}

int gs_score_set_topic(struct gs_score *s, const char *topic, const struct gs_topic_score_params *tp)
{
    if (!s || !topic || gs_topic_params_validate(tp)) return P2P_EINVAL;
    size_t len = strnlen(topic, GS_SCORE_TOPIC_MAX + 1);
    if (len == 0 || len > GS_SCORE_TOPIC_MAX) return P2P_EINVAL;
    int ti = topic_find(s, topic);
    if (ti >= 0) {
        s->topics[ti].p = *tp;
        for (uint32_t i = 0; i < s->peers_hw; i++) {
            struct gss_tstat *t = s->peers[i].used ? tstat_get(&s->peers[i], (uint32_t)ti, false) : NULL;
            if (!t) continue;
            if (t->first > tp->first_message_deliveries_cap) t->first = tp->first_message_deliveries_cap;
            if (t->mesh > tp->mesh_message_deliveries_cap) t->mesh = tp->mesh_message_deliveries_cap;
        }
        return 0;
    }
    if (s->ntopics == s->p.max_topics) return P2P_ELIMIT;
    uint32_t slot = 0;
    while (slot < s->topics_cap && s->topics[slot].name) slot++;
    if (slot == s->topics_cap) {
        int rc = gss_pool_grow((void **)&s->topics, &s->topics_cap, s->p.max_topics, sizeof *s->topics);
        if (rc) return rc;
    }
    char *name = malloc(len + 1);
    if (!name) return P2P_ENOMEM;
    memcpy(name, topic, len + 1);
    s->topics[slot].name = name;
    s->topics[slot].hash = gss_hash(s, topic, len);
    s->topics[slot].p = *tp;
    s->ntopics++;
    return 0;
}

int gs_score_remove_topic(struct gs_score *s, const char *topic)
{
    if (!s || !topic) return P2P_EINVAL;
    int ti = topic_find(s, topic);
    if (ti < 0) return P2P_ENOTFOUND;
    for (uint32_t i = 0; i < s->peers_hw; i++) {
        struct gss_peer *p = &s->peers[i];
        struct gss_tstat *t = p->used ? tstat_get(p, (uint32_t)ti, false) : NULL;
        if (t) *t = p->topics[--p->ntopics];
    }
    free(s->topics[ti].name);
    s->topics[ti].name = NULL;
    s->ntopics--;
    return 0;
}

/* ---- Peers API --------------------------------------------------------------------- */

int gs_score_add_peer_ip(struct gs_score *s, const p2p_peerid *peer, const uint8_t *ip, size_t len,
                         uint64_t now_ms)
{
    if (!s || !peerid_ok(peer) || (len && !ip) || (ip && len != 4 && len != 16 && len != 0))
        return P2P_EINVAL;
    uint64_t now = clock_at(s, now_ms);
    uint8_t v4[4];
    if (len == 16 && !memcmp(ip, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
        memcpy(v4, ip + 12, 4);   /* IPv4-mapped IPv6 */
        ip = v4;
        len = 4;
    }
    struct gss_peer *p = peer_find(s, peer);
    if (p && retention_over(p, now)) {
        peer_drop(s, p);
        p = NULL;
    }
    if (!p) {
        int rc;
        if (!(p = peer_new(s, peer, &rc))) return rc;
    }
    if (!p->connected) {
        p->connected = true;
        s->nconnected++;
    }
    uint8_t key[IPKEY] = {0};
    static const uint8_t zero16[16];
    static const uint8_t lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (len == 4 && ip[0] != 127 && memcmp(ip, zero16, 4)) {
        key[0] = 4;
        memcpy(key + 1, ip, 4);
        gss_peer_add_key(s, p, key);
    } else if (len == 16 && memcmp(ip, zero16, 16) && memcmp(ip, lo6, 16)) {
        key[0] = 6;
        memcpy(key + 1, ip, 16);
        gss_peer_add_key(s, p, key);
        memset(key, 0, sizeof key);
        key[0] = 64;
        memcpy(key + 1, ip, 8);
        gss_peer_add_key(s, p, key);
    }
    return 0;
}

int gs_score_add_peer(struct gs_score *s, const p2p_peerid *peer, const char *ip, uint64_t now_ms)
{
    uint8_t b[16];
    size_t len = 0;
    if (ip) {
        if (inet_pton(AF_INET, ip, b) == 1) len = 4;
        else if (inet_pton(AF_INET6, ip, b) == 1) len = 16;
        else return P2P_EINVAL;
    }
    return gs_score_add_peer_ip(s, peer, len ? b : NULL, len, now_ms);
}

static double deficit(const struct gss_tstat *t, const struct gs_topic_score_params *tp, uint64_t now)
{
    if (!t->in_mesh || now - t->graft_ms <= tp->mesh_message_deliveries_activation_ms ||
        t->mesh >= tp->mesh_message_deliveries_threshold)
        return 0;
    return tp->mesh_message_deliveries_threshold - t->mesh;
}

/* Leaving the mesh: a P3 deficit becomes the sticky P3b penalty. */
static void leave_mesh(struct gs_score *s, struct gss_tstat *t, uint64_t now)
{
    double d = deficit(t, &s->topics[t->topic].p, now);
    t->failure += d * d;
    t->in_mesh = false;
}

static double peer_score(const struct gs_score *s, const struct gss_peer *p, uint64_t now)
{
    double total = 0;
    for (uint32_t k = 0; k < p->ntopics; k++) {
        const struct gss_tstat *t = &p->topics[k];
        const struct gs_topic_score_params *tp = &s->topics[t->topic].p;
        double ts = 0;
        if (t->in_mesh) {   /* P1 */
            double p1 = (double)((now - t->graft_ms) / tp->time_in_mesh_quantum_ms);
            ts += (p1 > tp->time_in_mesh_cap ? tp->time_in_mesh_cap : p1) * tp->time_in_mesh_weight;
        }
        ts += t->first * tp->first_message_deliveries_weight;           /* P2 */
        double d = deficit(t, tp, now);
        ts += d * d * tp->mesh_message_deliveries_weight;                /* P3 */
        ts += t->failure * tp->mesh_failure_penalty_weight;              /* P3b */
        ts += t->invalid * t->invalid * tp->invalid_message_deliveries_weight; /* P4 */
        total += ts * tp->topic_weight;
    }
    if (s->p.topic_score_cap > 0 && total > s->p.topic_score_cap) total = s->p.topic_score_cap;
    total += p->app * s->p.app_specific_weight;                          /* P5 */
    for (uint8_t i = 0; i < p->nips; i++) {                              /* P6 */
        double n = (double)gss_ip_count(s, p->ips[i]);
        if (n > s->p.ip_colocation_factor_threshold) {
            double surplus = n - s->p.ip_colocation_factor_threshold;
            total += surplus * surplus * s->p.ip_colocation_factor_weight;
        }
    }
    if (p->penalty > s->p.behaviour_penalty_threshold) {                 /* P7 */
        double excess = p->penalty - s->p.behaviour_penalty_threshold;
        total += excess * excess * s->p.behaviour_penalty_weight;
    }
    return total;
}

int gs_score_remove_peer(struct gs_score *s, const p2p_peerid *peer, uint64_t now_ms)
{
    if (!s || !peerid_ok(peer)) return P2P_EINVAL;
    uint64_t now = clock_at(s, now_ms);
    struct gss_peer *p = peer_find(s, peer);
    if (!p || !p->connected) return P2P_ENOTFOUND;
    if (s->p.retain_score_ms == 0 || peer_score(s, p, now) > 0) {
        peer_drop(s, p);
        return 0;
    }
    for (uint32_t k = 0; k < p->ntopics; k++) {
        struct gss_tstat *t = &p->topics[k];
        t->first = 0;
        if (t->in_mesh) leave_mesh(s, t, now);
    }
    gss_peer_drop_ips(s, p);
    p->connected = false;
    s->nconnected--;
    p->expire_ms = add_sat(now, s->p.retain_score_ms);
    return 0;
}

/* The connected peer's stats for a scored topic (created), or NULL with
 * *rc = 0 for an unscored topic. */
static struct gss_tstat *mesh_stats(struct gs_score *s, const p2p_peerid *peer, const char *topic,
                                uint64_t now_ms, int *rc)
{
    *rc = P2P_EINVAL;
    if (!s || !peerid_ok(peer) || !topic) return NULL;
    clock_at(s, now_ms);
    struct gss_peer *p = peer_find(s, peer);
    int ti = topic_find(s, topic);
    *rc = !p ? P2P_ENOTFOUND : !p->connected ? P2P_ESTATE : 0;
    if (*rc || ti < 0) return NULL;
    struct gss_tstat *t = tstat_get(p, (uint32_t)ti, true);
    if (!t) *rc = P2P_ENOMEM;
    return t;
}

int gs_score_graft(struct gs_score *s, const p2p_peerid *peer, const char *topic, uint64_t now_ms)
{
    int rc;
    struct gss_tstat *t = mesh_stats(s, peer, topic, now_ms, &rc);
    if (t) {
        t->in_mesh = true;
        t->graft_ms = s->now;
    }
    return rc;
}

int gs_score_prune(struct gs_score *s, const p2p_peerid *peer, const char *topic, uint64_t now_ms)
{
    int rc;
    struct gss_tstat *t = mesh_stats(s, peer, topic, now_ms, &rc);
    if (t && t->in_mesh) leave_mesh(s, t, s->now);
    return rc;
}

int gs_score_add_penalty(struct gs_score *s, const p2p_peerid *peer, int count)
{
    if (!s || !peerid_ok(peer) || count < 0) return P2P_EINVAL;
    struct gss_peer *p = peer_find(s, peer);
    if (!p) return P2P_ENOTFOUND;
    p->penalty += count;
    return 0;
}

int gs_score_set_app_score(struct gs_score *s, const p2p_peerid *peer, double value)
{
    if (!s || !peerid_ok(peer) || !gss_finite(value)) return P2P_EINVAL;
    struct gss_peer *p = peer_find(s, peer);
    if (!p) return P2P_ENOTFOUND;
    p->app = value;
    return 0;
}

/* ---- Messages -------------------------------------------------------------- */

static bool rec_has(struct gs_score *s, const struct gss_record *r, const struct gss_peer *p)
{
    for (uint8_t k = 0; k < r->npeers; k++)
        if (handle_peer(s, r->peers[k]) == p) return true;
    return false;
}

static bool rec_add(struct gs_score *s, struct gss_record *r, const struct gss_peer *p)
{
    if (r->npeers == GS_SCORE_RECORD_PEERS) return false;
    r->peers[r->npeers++] = handle_of(s, p);
    return true;
}

static double add_capped(double v, double cap)
{
    return v + 1 > cap ? cap : v + 1;
}

static void mark_first(struct gs_score *s, struct gss_peer *p, uint32_t ti)
{
    struct gss_tstat *t = tstat_get(p, ti, true);
    if (!t) return;
    t->first = add_capped(t->first, s->topics[ti].p.first_message_deliveries_cap);
    if (t->in_mesh) t->mesh = add_capped(t->mesh, s->topics[ti].p.mesh_message_deliveries_cap);
}

static void mark_near_first(struct gs_score *s, struct gss_peer *p, uint32_t ti)
{
    struct gss_tstat *t = tstat_get(p, ti, false);
    if (t && t->in_mesh) t->mesh = add_capped(t->mesh, s->topics[ti].p.mesh_message_deliveries_cap);
}

static void mark_invalid(struct gss_peer *p, uint32_t ti)
{
    struct gss_tstat *t = tstat_get(p, ti, true);
    if (t) t->invalid += 1;
}

/* Common argument checks; *ti = -1 for an unscored topic. */
static int msg_args(struct gs_score *s, const p2p_peerid *from, const char *topic, const uint8_t *id,
                    size_t len, bool need_id, uint64_t now_ms, int *ti)
{
    if (!s || !peerid_ok(from) || !topic) return P2P_EINVAL;
    if (need_id && (!id || len == 0 || len > GS_SCORE_MSGID_MAX)) return P2P_EINVAL;
    clock_at(s, now_ms);
    *ti = topic_find(s, topic);
    return 0;
}

int gs_score_validate_message(struct gs_score *s, const p2p_peerid *from, const char *topic,
                              const uint8_t *msgid, size_t idlen, uint64_t now_ms)
{
    int ti, rc = msg_args(s, from, topic, msgid, idlen, true, now_ms, &ti);
    if (rc || ti < 0) return rc;
    struct gss_record *r = gss_rec_get(s, msgid, idlen, &rc);
    if (!r) return rc;
    if (r->status != ST_UNKNOWN) return P2P_EEXIST;
    struct gss_peer *pf = peer_find(s, from);
    if (pf) mark_first(s, pf, (uint32_t)ti);
    r->status = ST_VALID;
    r->validated_ms = s->now;
    /* Copies that arrived during validation were near-first deliveries. */
    for (uint8_t k = 0; k < r->npeers; k++) {
        struct gss_peer *p = handle_peer(s, r->peers[k]);
        if (p && p != pf) mark_near_first(s, p, (uint32_t)ti);
    }
    if (pf && !rec_has(s, r, pf)) (void)rec_add(s, r, pf);
    return 0;
}

int gs_score_duplicate_message(struct gs_score *s, const p2p_peerid *from, const char *topic,
                               const uint8_t *msgid, size_t idlen, uint64_t now_ms)
{
    int ti, rc = msg_args(s, from, topic, msgid, idlen, true, now_ms, &ti);
    if (rc || ti < 0) return rc;
    struct gss_peer *p = peer_find(s, from);
    if (!p) return P2P_ENOTFOUND;
    struct gss_record *r = gss_rec_get(s, msgid, idlen, &rc);
    if (!r) return rc;
    if (rec_has(s, r, p)) return 0;
    const struct gs_topic_score_params *tp = &s->topics[ti].p;
    switch (r->status) {
    case ST_UNKNOWN:   /* being validated: decided on validate/reject */
        (void)rec_add(s, r, p);
        break;
    case ST_VALID:     /* counted once, if within the near-first window */
        if (rec_add(s, r, p) && s->now - r->validated_ms <= tp->mesh_message_deliveries_window_ms)
            mark_near_first(s, p, (uint32_t)ti);
        break;
    case ST_INVALID:   /* every copy of an invalid message is penalised */
        mark_invalid(p, (uint32_t)ti);
        break;
    default:           /* ignored or throttled: no judgement */
        break;
    }
    return 0;
}

int gs_score_reject_message(struct gs_score *s, const p2p_peerid *from, const char *topic,
                            const uint8_t *msgid, size_t idlen, enum gs_reject_reason reason,
                            uint64_t now_ms)
{
    bool tracked = reason >= GS_REJECT_VALIDATION_THROTTLED;
    if ((unsigned)reason > GS_REJECT_VALIDATION_FAILED) return P2P_EINVAL;
    int ti, rc = msg_args(s, from, topic, msgid, idlen, tracked, now_ms, &ti);
    if (rc || ti < 0) return rc;
    struct gss_peer *pf = peer_find(s, from);
    if (reason <= GS_REJECT_SELF_ORIGIN) {
        if (pf) mark_invalid(pf, (uint32_t)ti);
        return 0;
    }
    if (!tracked) return 0;
    struct gss_record *r = gss_rec_get(s, msgid, idlen, &rc);
    if (!r) return rc;
    if (r->status != ST_UNKNOWN) return P2P_EEXIST;
    if (reason == GS_REJECT_VALIDATION_FAILED) {
        r->status = ST_INVALID;
        if (pf) mark_invalid(pf, (uint32_t)ti);
        for (uint8_t k = 0; k < r->npeers; k++) {
            struct gss_peer *p = handle_peer(s, r->peers[k]);
            if (p && p != pf) mark_invalid(p, (uint32_t)ti);
        }
    } else {
        r->status = reason == GS_REJECT_VALIDATION_IGNORED ? ST_IGNORED : ST_THROTTLED;
    }
    r->npeers = 0;
    return 0;
}

/* ---- Refresh and score ------------------------------------------------------------ */

static double ipow(double b, uint64_t e)
{
    double r = 1;
    while (e && r != 0) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return r;
}

static void decay(double *v, double factor, double to_zero)
{
    *v *= factor;
    if (*v < to_zero) *v = 0;
}

void gs_score_refresh(struct gs_score *s, uint64_t now_ms)
{
    if (!s) return;
    uint64_t now = clock_at(s, now_ms);
    uint64_t n = (now - s->last_decay) / s->p.decay_interval_ms;
    s->last_decay += n * s->p.decay_interval_ms;
    while (s->rcount && now > add_sat(s->recs[s->rhead].first_ms, s->p.delivery_ttl_ms)) gss_rec_pop(s);
    double z = s->p.decay_to_zero;
    for (uint32_t i = 0; i < s->peers_hw; i++) {
        struct gss_peer *p = &s->peers[i];
        if (!p->used) continue;
        if (!p->connected) {   /* retained scores are frozen */
            if (retention_over(p, now)) peer_drop(s, p);
            continue;
        }
        if (!n) continue;
        for (uint32_t k = 0; k < p->ntopics; k++) {
            struct gss_tstat *t = &p->topics[k];
            const struct gs_topic_score_params *tp = &s->topics[t->topic].p;
            decay(&t->first, ipow(tp->first_message_deliveries_decay, n), z);
            decay(&t->mesh, ipow(tp->mesh_message_deliveries_decay, n), z);
            decay(&t->failure, ipow(tp->mesh_failure_penalty_decay, n), z);
            decay(&t->invalid, ipow(tp->invalid_message_deliveries_decay, n), z);
        }
        decay(&p->penalty, ipow(s->p.behaviour_penalty_decay, n), z);
    }
}

double gs_score(struct gs_score *s, const p2p_peerid *peer, uint64_t now_ms)
{
    if (!s || !peerid_ok(peer)) return 0;
    uint64_t now = clock_at(s, now_ms);
    const struct gss_peer *p = peer_find(s, peer);
    if (!p || retention_over(p, now)) return 0;
    return peer_score(s, p, now);
}

void gs_score_get_counts(const struct gs_score *s, struct gs_score_counts *c)
{
    memset(c, 0, sizeof *c);
    if (!s) return;
    c->peers = s->npeers;
    c->connected = s->nconnected;
    c->topics = s->ntopics;
    c->deliveries = s->rcount;
    c->ips = s->nips;
}

