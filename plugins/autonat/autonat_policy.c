/* autonat_policy.c - see autonat_policy.h. */
#include <stdlib.h>
#include <string.h>

#include "autonat_policy.h"
#include "p2p/error.h"

/* Whether ma's /p2p part, if any, names peer. */
static bool p2p_part_is(const p2p_multiaddr *ma, const p2p_peerid *peer)
{
    struct p2p_maddr_component c;
    if (p2p_maddr_find(ma, P2P_MA_P2P, &c) != 1) return true;
    p2p_peerid id;
    return p2p_peerid_from_bytes(&id, c.value, c.value_len) == 0 && p2p_peerid_equal(&id, peer);
}

uint32_t autonat_dialback_addrs(const struct p2p_addr_policy *policy, size_t max, const p2p_peerid *requester,
                                const p2p_multiaddr *observed, bool relayed, const struct autonat_msg *req,
                                p2p_multiaddr *out, size_t *n, const char **why)
{
    *n = 0;
    if (req->type != AUTONAT_DIAL) return *why = "expected a DIAL message", AUTONAT_E_BAD_REQUEST;
    if (!req->has_dial || !req->has_peer) return *why = "DIAL without peer info", AUTONAT_E_BAD_REQUEST;
    if (!req->id_valid) return *why = "missing or invalid peer id", AUTONAT_E_BAD_REQUEST;
    if (!p2p_peerid_equal(&req->id, requester))
        return *why = "peer id does not match the connection", AUTONAT_E_BAD_REQUEST;
    if (relayed) return *why = "refusing a request over a relayed connection", AUTONAT_E_DIAL_REFUSED;
    const uint8_t *obs_ip;
    int fam = p2p_maddr_ip(observed, &obs_ip);
    if (!fam) return *why = "the connection has no IP address to dial back", AUTONAT_E_DIAL_REFUSED;
    if (!p2p_addr_policy_allows(policy, observed))
        return *why = "refusing to dial back a non-public address", AUTONAT_E_DIAL_REFUSED;
    size_t iplen = fam == 4 ? 4 : 16;
    for (size_t i = 0; i < req->naddrs && *n < max; i++) {
        const p2p_multiaddr *a = &req->addrs[i];
        const uint8_t *ip;
        if (p2p_maddr_ip(a, &ip) != fam || memcmp(ip, obs_ip, iplen)) continue;   /* not the observed IP */
        if (p2p_maddr_is_relayed(a) || !p2p_part_is(a, requester) || !p2p_addr_policy_allows(policy, a)) continue;
        bool dup = false;
        for (size_t k = 0; k < *n && !dup; k++) dup = p2p_maddr_equal(&out[k], a);
        if (!dup) out[(*n)++] = *a;
    }
    if (!*n) return *why = "no address to dial back (only the observed IP is dialed)", AUTONAT_E_DIAL_REFUSED;
    *why = NULL;
    return AUTONAT_OK;
}

/* ---- limits ------------------------------------------------------------------ */

int autonat_limiter_init(struct autonat_limiter *l, const struct autonat_limits *lim, uint64_t now_ms)
{
    memset(l, 0, sizeof *l);
    l->lim = *lim;
    l->window_start = now_ms;
    l->cap = (size_t)lim->global + lim->max_inflight + 1;
    l->peers = calloc(l->cap, sizeof *l->peers);
    return l->peers ? 0 : P2P_ENOMEM;
}

void autonat_limiter_free(struct autonat_limiter *l)
{
    free(l->peers);
    l->peers = NULL;
    l->npeers = 0;
}

static struct autonat_peer_count *find(struct autonat_limiter *l, const p2p_peerid *peer)
{
    for (size_t i = 0; i < l->npeers; i++)
        if (p2p_peerid_equal(&l->peers[i].peer, peer)) return &l->peers[i];
    return NULL;
}

/* A new window: counts start again; entries with a dial-back in flight stay. */
static void roll(struct autonat_limiter *l, uint64_t now)
{
    if (now - l->window_start < l->lim.interval_ms) return;
    l->window_start = now;
    l->used = 0;
    size_t k = 0;
    for (size_t i = 0; i < l->npeers; i++) {
        if (!l->peers[i].busy) continue;
        l->peers[k] = l->peers[i];
        l->peers[k++].used = 0;
    }
    l->npeers = k;
}

int autonat_limiter_admit(struct autonat_limiter *l, const p2p_peerid *peer, uint64_t now_ms, const char **why)
{
    roll(l, now_ms);
    struct autonat_peer_count *e = find(l, peer);
    if (e && e->busy) return *why = "a dial-back to this peer is already in progress", P2P_ELIMIT;
    if (l->inflight >= l->lim.max_inflight) return *why = "too many dial-backs in progress", P2P_ELIMIT;
    if (e && e->used >= l->lim.per_peer) return *why = "too many requests from this peer", P2P_ELIMIT;
    if (l->used >= l->lim.global) return *why = "too many requests", P2P_ELIMIT;
    if (!e) {
        if (l->npeers >= l->cap) return *why = "too many requests", P2P_ELIMIT;   /* not reached: see init */
        e = &l->peers[l->npeers++];
        memset(e, 0, sizeof *e);
        e->peer = *peer;
    }
    e->used++;
    e->busy = true;
    l->used++;
    l->inflight++;
    *why = NULL;
    return 0;
}

void autonat_limiter_done(struct autonat_limiter *l, const p2p_peerid *peer)
{
    struct autonat_peer_count *e = find(l, peer);
    if (!e || !e->busy) return;
    e->busy = false;
    if (l->inflight) l->inflight--;
}
