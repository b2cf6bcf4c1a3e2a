/* autonat_status.c - see autonat_status.h. */
#include <string.h>

#include "autonat_status.h"

/* due 0 means "a probe is in flight": a time of 0 is moved to 1. */
static void set_due(struct autonat_status *s, uint64_t at)
{
    s->due = at ? at : 1;
}

void autonat_status_init(struct autonat_status *s, const struct autonat_status_cfg *cfg, uint64_t now)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (!s->cfg.servers_per_probe) s->cfg.servers_per_probe = 1;
    s->status = P2P_REACH_UNKNOWN;
    s->boot_at = now + cfg->boot_delay_ms;
    set_due(s, s->boot_at);
}

bool autonat_status_due(const struct autonat_status *s, uint64_t now)
{
    return s->inflight == 0 && s->due && now >= s->due;
}

static bool confident(const struct autonat_status *s)
{
    return s->status != P2P_REACH_UNKNOWN && s->confidence >= s->cfg.confidence_max;
}

static void schedule(struct autonat_status *s, uint64_t now)
{
    set_due(s, now + (confident(s) ? s->cfg.refresh_ms : s->cfg.retry_ms));
}

static bool throttled(const struct autonat_status *s, const p2p_peerid *p, uint64_t now)
{
    for (size_t i = 0; i < s->nasked; i++)
        if (p2p_peerid_equal(&s->asked[i].peer, p)) return now - s->asked[i].at < s->cfg.server_throttle_ms;
    return false;
}

static void remember(struct autonat_status *s, const p2p_peerid *p, uint64_t now)
{
    size_t slot = s->nasked, oldest = 0;
    for (size_t i = 0; i < s->nasked; i++) {
        if (p2p_peerid_equal(&s->asked[i].peer, p)) slot = i;
        if (s->asked[i].at < s->asked[oldest].at) oldest = i;
    }
    if (slot == s->nasked) {
        if (s->nasked < AUTONAT_REMEMBERED_SERVERS) s->nasked++;
        else slot = oldest;
    }
    s->asked[slot].peer = *p;
    s->asked[slot].at = now;
}

size_t autonat_status_pick(struct autonat_status *s, uint64_t now, const p2p_peerid *cand, size_t n, size_t *idx,
                           size_t max)
{
    if (!autonat_status_due(s, now)) return 0;
    size_t want = s->cfg.servers_per_probe < max ? s->cfg.servers_per_probe : max, k = 0;
    for (size_t i = 0; i < n && k < want; i++) {
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++) dup = p2p_peerid_equal(&cand[idx[j]], &cand[i]);
        if (dup || throttled(s, &cand[i], now)) continue;
        idx[k++] = i;
    }
    for (size_t j = 0; j < k; j++) remember(s, &cand[idx[j]], now);
    s->inflight = (unsigned)k;
    if (k) {
        s->due = 0;
    } else {
        s->probed = true;   /* nobody to ask: the status stays as it is */
        set_due(s, now + s->cfg.retry_ms);
    }
    return k;
}

bool autonat_status_server_added(struct autonat_status *s, uint64_t now)
{
    if (s->status != P2P_REACH_UNKNOWN || s->inflight) return false;
    uint64_t at = now > s->boot_at ? now : s->boot_at;
    if (s->due > at) set_due(s, at);
    return autonat_status_due(s, now);
}

bool autonat_status_report(struct autonat_status *s, uint64_t now, enum autonat_report r, const p2p_multiaddr *addr)
{
    bool changed = false;
    if (s->inflight) s->inflight--;
    s->probed = true;
    if (r != AUTONAT_REPORT_NONE) {
        enum p2p_reachability said = r == AUTONAT_REPORT_PUBLIC ? P2P_REACH_PUBLIC : P2P_REACH_PRIVATE;
        if (said == s->status) {
            if (s->confidence < s->cfg.confidence_max) s->confidence++;
            /* Another public address than the one we knew: take it. */
            if (said == P2P_REACH_PUBLIC && addr && addr->len && !p2p_maddr_equal(addr, &s->addr)) {
                s->addr = *addr;
                changed = true;
            }
        } else if (s->confidence > 0) {
            s->confidence--;
        } else {
            s->status = said;
            s->addr.len = 0;
            if (said == P2P_REACH_PUBLIC && addr) s->addr = *addr;
            changed = true;
        }
    }
    if (!s->inflight) schedule(s, now);
    return changed;
}

bool autonat_status_addrs_changed(struct autonat_status *s, uint64_t now, bool still_have)
{
    bool changed = false;
    if (s->status == P2P_REACH_PUBLIC && !still_have) {
        s->status = P2P_REACH_UNKNOWN;
        s->confidence = 0;
        s->addr.len = 0;
        changed = true;
    } else if (s->status != P2P_REACH_PUBLIC && s->confidence) {
        s->confidence--;
    }
    if (s->status != P2P_REACH_PUBLIC && !s->inflight) set_due(s, now > s->boot_at ? now : s->boot_at);
    return changed;
}

uint64_t autonat_status_next(const struct autonat_status *s)
{
    return s->inflight ? 0 : s->due;
}

const char *autonat_reachability_name(enum p2p_reachability r)
{
    switch (r) {
    case P2P_REACH_PUBLIC: return "public";
    case P2P_REACH_PRIVATE: return "private";
    default: return "unknown";
    }
}
