/* kad_store.c - record and provider stores (see kad_store.h). */
#include "kad_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "p2p/error.h"

/* ---- records ---------------------------------------------------------------- */

void kad_records_init(struct kad_records *rs, size_t max, uint64_t ttl_ms)
{
    memset(rs, 0, sizeof *rs);
    rs->max = max;
    rs->ttl_ms = ttl_ms;
}

static void rec_free(struct kad_rec *r)
{
    free(r->key);
    free(r->value);
}

void kad_records_free(struct kad_records *rs)
{
    for (size_t i = 0; i < rs->n; i++) rec_free(&rs->r[i]);
    free(rs->r);
    kad_quota_free(&rs->quota);
    memset(rs, 0, sizeof *rs);
}

static long rec_find(const struct kad_records *rs, const uint8_t *key, size_t klen)
{
    for (size_t i = 0; i < rs->n; i++)
        if (rs->r[i].keylen == klen && (!klen || memcmp(rs->r[i].key, key, klen) == 0)) return (long)i;
    return -1;
}

static void rec_drop(struct kad_records *rs, size_t i)
{
    if (rs->r[i].attributed) kad_quota_dec(&rs->quota, &rs->r[i].from);
    rec_free(&rs->r[i]);
    rs->r[i] = rs->r[--rs->n];
}

void kad_records_set_peer_limit(struct kad_records *rs, size_t max_per_peer)
{
    rs->quota.max_per_peer = max_per_peer;
}

size_t kad_records_of_peer(const struct kad_records *rs, const p2p_peerid *id)
{
    return kad_quota_of(&rs->quota, id);
}

size_t kad_records_gc(struct kad_records *rs, uint64_t now)
{
    size_t c = 0;
    for (size_t i = 0; i < rs->n;) {
        if (now >= rs->r[i].expires_ms) {
            rec_drop(rs, i);
            c++;
        } else {
            i++;
        }
    }
    return c;
}

/* A full store: drop the first record of the peer the fairness rule
 * picks (kad_quota_victim) for a newcomer holding `than`. */
static bool rec_make_room(struct kad_records *rs, size_t than)
{
    p2p_peerid victim;
    if (!kad_quota_victim(&rs->quota, than, &victim)) return false;
    for (size_t i = 0; i < rs->n; i++) {
        if (!rs->r[i].attributed || !p2p_peerid_equal(&rs->r[i].from, &victim)) continue;
        rec_drop(rs, i);
        rs->quota.evicted++;
        return true;
    }
    return false;
}

/* Where key's record goes: its slot (*existing), or a free one at the
 * end once the limits allow it (0), else P2P_ELIMIT / P2P_ENOMEM. */
static int rec_slot(struct kad_records *rs, const uint8_t *key, size_t klen, const p2p_peerid *from, uint64_t now,
                    size_t *slot, bool *existing)
{
    long i = rec_find(rs, key, klen);
    *existing = i >= 0;
    if (i >= 0) {
        const struct kad_rec *old = &rs->r[i];
        /* The attribution moves to a new peer: it must have room. Our own
         * record stays ours, whoever puts it again. */
        if (from && old->attributed && !p2p_peerid_equal(&old->from, from) &&
            kad_quota_at_limit(&rs->quota, from)) {
            rs->quota.refused_limit++;
            return P2P_ELIMIT;
        }
        *slot = (size_t)i;
        return 0;
    }
    if (from && kad_quota_at_limit(&rs->quota, from)) {
        rs->quota.refused_limit++;
        return P2P_ELIMIT;
    }
    if (rs->n == rs->max) kad_records_gc(rs, now);
    if (rs->n == rs->max) rec_make_room(rs, from ? kad_quota_of(&rs->quota, from) : 0);
    if (rs->n == rs->max) {
        rs->quota.refused_full++;
        return P2P_ELIMIT;
    }
    if (!rs->r && !(rs->r = calloc(rs->max ? rs->max : 1, sizeof *rs->r))) return P2P_ENOMEM;
    *slot = rs->n;
    return 0;
}

int kad_records_put(struct kad_records *rs, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                    const char *time_received, const p2p_peerid *from, uint64_t now)
{
    size_t slot;
    bool existing;
    int rc = rec_slot(rs, key, klen, from, now, &slot, &existing);
    if (rc) return rc;
    struct kad_rec nr = { 0 };
    nr.key = malloc(klen ? klen : 1);
    nr.value = malloc(vlen ? vlen : 1);
    if (!nr.key || !nr.value) {
        rec_free(&nr);
        return P2P_ENOMEM;
    }
    if (klen) memcpy(nr.key, key, klen);
    if (vlen) memcpy(nr.value, value, vlen);
    nr.keylen = klen;
    nr.vlen = vlen;
    nr.received_ms = now;
    nr.expires_ms = now + rs->ttl_ms;
    if (time_received) snprintf(nr.time_received, sizeof nr.time_received, "%s", time_received);
    struct kad_rec *old = existing ? &rs->r[slot] : NULL;
    /* Attribution: a peer's put makes the record its own unless it is
     * ours (kept ours); our own put makes it ours. */
    if (from && !(old && !old->attributed)) {
        nr.attributed = true;
        nr.from = *from;
    }
    bool same = old && old->attributed == nr.attributed &&
                (!nr.attributed || p2p_peerid_equal(&old->from, &nr.from));
    if (!same && nr.attributed && kad_quota_inc(&rs->quota, &nr.from)) {
        rec_free(&nr);
        return P2P_ENOMEM;
    }
    if (old) {
        if (!same && old->attributed) kad_quota_dec(&rs->quota, &old->from);
        rec_free(old);
        *old = nr;
    } else {
        rs->r[rs->n++] = nr;
    }
    return 0;
}

const struct kad_rec *kad_records_get(const struct kad_records *rs, const uint8_t *key, size_t klen, uint64_t now)
{
    long i = rec_find(rs, key, klen);
    if (i < 0 || now >= rs->r[i].expires_ms) return NULL;
    return &rs->r[i];
}

bool kad_records_remove(struct kad_records *rs, const uint8_t *key, size_t klen)
{
    long i = rec_find(rs, key, klen);
    if (i < 0) return false;
    rec_drop(rs, (size_t)i);
    return true;
}

/* ---- providers -------------------------------------------------------------- */

void kad_providers_init(struct kad_providers *ps, size_t max_keys, size_t max_per_key, size_t max_addrs,
                        uint64_t ttl_ms, uint64_t addr_ttl_ms)
{
    memset(ps, 0, sizeof *ps);
    ps->max_keys = max_keys;
    ps->max_per_key = max_per_key ? max_per_key : 1;
    ps->max_addrs = max_addrs;
    ps->ttl_ms = ttl_ms;
    ps->addr_ttl_ms = addr_ttl_ms;
}

static void pkey_free(struct kad_pkey *k)
{
    for (size_t i = 0; i < k->n; i++) free(k->p[i].addrs);
    free(k->p);
}

void kad_providers_free(struct kad_providers *ps)
{
    for (size_t i = 0; i < ps->n; i++) pkey_free(&ps->k[i]);
    free(ps->k);
    kad_quota_free(&ps->quota);
    memset(ps, 0, sizeof *ps);
}

void kad_providers_set_peer_limit(struct kad_providers *ps, size_t max_per_peer)
{
    ps->quota.max_per_peer = max_per_peer;
}

size_t kad_providers_of_peer(const struct kad_providers *ps, const p2p_peerid *id)
{
    return kad_quota_of(&ps->quota, id);
}

static long pkey_find(const struct kad_providers *ps, const uint8_t *key, size_t klen)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->k[i].keylen == klen && memcmp(ps->k[i].key, key, klen) == 0) return (long)i;
    return -1;
}

static void prov_drop(struct kad_providers *ps, struct kad_pkey *k, size_t i)
{
    kad_quota_dec(&ps->quota, &k->p[i].id);
    free(k->p[i].addrs);
    k->p[i] = k->p[--k->n];
}

/* Drop key ki when it has no provider left. */
static void pkey_drop_if_empty(struct kad_providers *ps, size_t ki)
{
    if (ps->k[ki].n) return;
    pkey_free(&ps->k[ki]);
    ps->k[ki] = ps->k[--ps->n];
}

/* A full store: drop the first entry (in key order) of the peer the
 * fairness rule picks (kad_quota_victim) for a newcomer holding `than`. */
static bool make_room_fairly(struct kad_providers *ps, size_t than)
{
    p2p_peerid victim;
    if (!kad_quota_victim(&ps->quota, than, &victim)) return false;
    for (size_t ki = 0; ki < ps->n; ki++) {
        struct kad_pkey *k = &ps->k[ki];
        for (size_t j = 0; j < k->n; j++) {
            if (!p2p_peerid_equal(&k->p[j].id, &victim)) continue;
            prov_drop(ps, k, j);
            pkey_drop_if_empty(ps, ki);
            ps->quota.evicted++;
            return true;
        }
    }
    return false;
}

size_t kad_providers_gc(struct kad_providers *ps, uint64_t now)
{
    size_t c = 0;
    for (size_t i = 0; i < ps->n;) {
        struct kad_pkey *k = &ps->k[i];
        for (size_t j = 0; j < k->n;) {
            if (now >= k->p[j].expires_ms) {
                prov_drop(ps, k, j);
                c++;
            } else {
                if (k->p[j].naddrs && now >= k->p[j].addrs_expire_ms) {
                    free(k->p[j].addrs);
                    k->p[j].addrs = NULL;
                    k->p[j].naddrs = 0;
                }
                j++;
            }
        }
        if (!k->n) {
            pkey_free(k);
            ps->k[i] = ps->k[--ps->n];
        } else {
            i++;
        }
    }
    return c;
}

int kad_providers_add(struct kad_providers *ps, const uint8_t *key, size_t klen, const p2p_peerid *id,
                      const p2p_multiaddr *addrs, size_t naddrs, uint64_t now)
{
    if (!klen || klen > KAD_PROVIDER_KEY_MAX) return P2P_EINVAL;
    long ki = pkey_find(ps, key, klen);
    size_t held = kad_providers_of_peer(ps, id);
    bool has = false;
    if (ki >= 0)
        for (size_t i = 0; i < ps->k[ki].n && !has; i++) has = p2p_peerid_equal(&ps->k[ki].p[i].id, id);
    if (!has && kad_quota_at_limit(&ps->quota, id)) {
        ps->quota.refused_limit++;
        return P2P_ELIMIT;
    }
    if (ki < 0) {
        if (ps->n == ps->max_keys) kad_providers_gc(ps, now);
        if (ps->n == ps->max_keys) make_room_fairly(ps, held);
        if (ps->n == ps->max_keys) {
            ps->quota.refused_full++;
            return P2P_ELIMIT;
        }
        if (!ps->k && !(ps->k = calloc(ps->max_keys ? ps->max_keys : 1, sizeof *ps->k))) return P2P_ENOMEM;
        struct kad_pkey *k = &ps->k[ps->n];
        memset(k, 0, sizeof *k);
        if (!(k->p = calloc(ps->max_per_key, sizeof *k->p))) return P2P_ENOMEM;
        memcpy(k->key, key, klen);
        k->keylen = klen;
        ki = (long)ps->n++;
    }
    struct kad_pkey *k = &ps->k[ki];
    struct kad_prov *p = NULL;
    for (size_t i = 0; i < k->n && !p; i++)
        if (p2p_peerid_equal(&k->p[i].id, id)) p = &k->p[i];
    if (!p) {
        if (kad_quota_inc(&ps->quota, id)) {
            pkey_drop_if_empty(ps, (size_t)ki);   /* a key made for this entry */
            return P2P_ENOMEM;
        }
        if (k->n == ps->max_per_key) {
            size_t first = 0;
            for (size_t i = 1; i < k->n; i++)
                if (k->p[i].expires_ms < k->p[first].expires_ms) first = i;
            prov_drop(ps, k, first);
        }
        p = &k->p[k->n++];
        memset(p, 0, sizeof *p);
        p->id = *id;
    }
    p->expires_ms = now + ps->ttl_ms;
    size_t na = naddrs < ps->max_addrs ? naddrs : ps->max_addrs;
    if (na) {
        p2p_multiaddr *a = malloc(na * sizeof *a);
        if (!a) return P2P_ENOMEM;
        memcpy(a, addrs, na * sizeof *a);
        free(p->addrs);
        p->addrs = a;
        p->naddrs = na;
        p->addrs_expire_ms = now + ps->addr_ttl_ms;
    }
    return 0;
}

size_t kad_providers_get(const struct kad_providers *ps, const uint8_t *key, size_t klen, uint64_t now,
                         const struct kad_prov **out, size_t max)
{
    long ki = pkey_find(ps, key, klen);
    if (ki < 0) return 0;
    const struct kad_pkey *k = &ps->k[ki];
    size_t c = 0;
    for (size_t i = 0; i < k->n && c < max; i++)
        if (now < k->p[i].expires_ms) out[c++] = &k->p[i];
    return c;
}

bool kad_providers_remove(struct kad_providers *ps, const uint8_t *key, size_t klen, const p2p_peerid *id)
{
    long ki = pkey_find(ps, key, klen);
    if (ki < 0) return false;
    struct kad_pkey *k = &ps->k[ki];
    for (size_t i = 0; i < k->n; i++) {
        if (p2p_peerid_equal(&k->p[i].id, id)) {
            prov_drop(ps, k, i);
            pkey_drop_if_empty(ps, (size_t)ki);
            return true;
        }
    }
    return false;
}

void kad_rfc3339(uint64_t unix_ms, char out[40])
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        out[0] = 0;
        return;
    }
    snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(unix_ms % 1000));
}
