/* reachability.c - the host's reachability (NAT status): stored for the
 * plugin that determines it, read by everyone, changes published as
 * P2P_EV_REACHABILITY_CHANGED. See p2p/conn.h. */
#include <stddef.h>
#include <string.h>

#include "host_internal.h"
#include "p2p/conn.h"
#include "p2p/error.h"

/* The fields every caller has (the struct as ABI 1.3 defined it). */
#define REACH_MIN_SIZE (offsetof(struct p2p_reachability_info, changed_ms) + sizeof(uint64_t))

P2P_API enum p2p_reachability p2p_host_reachability(const p2p_host *h, struct p2p_reachability_info *info)
{
    if (info && info->size >= sizeof info->size) {
        size_t n = info->size < sizeof h->reach ? info->size : sizeof h->reach;
        size_t want = info->size;
        memcpy(info, &h->reach, n);
        info->size = want;
    }
    return h->reach.status;
}

P2P_API int p2p_host_set_reachability(p2p_host *h, const struct p2p_reachability_info *info)
{
    if (!info || info->size < REACH_MIN_SIZE) return P2P_EINVAL;
    struct p2p_reachability_info n = { 0 };
    memcpy(&n, info, info->size < sizeof n ? info->size : sizeof n);
    if ((unsigned)n.status > P2P_REACH_PRIVATE) return P2P_EINVAL;
    n.size = sizeof n;
    n.tracked = true;
    n.source[sizeof n.source - 1] = 0;
    if (n.status != P2P_REACH_PUBLIC) n.addr.len = 0;
    struct p2p_reachability_info old = h->reach;
    n.changed_ms = n.status != old.status || !old.tracked ? p2p_host_now_ms(h) : old.changed_ms;
    h->reach = n;
    if (n.status != old.status || n.probed != old.probed || !old.tracked) {
        struct p2p_event ev = { .type = P2P_EV_REACHABILITY_CHANGED };
        p2p_host_emit(h, &ev);
    }
    return 0;
}
