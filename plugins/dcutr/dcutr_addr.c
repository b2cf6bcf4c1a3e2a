/* dcutr_addr.c - see dcutr_addr.h. */
#include "dcutr_addr.h"

size_t dcutr_remote_addrs(const struct p2p_addr_policy *p, const p2p_multiaddr *in, size_t n, p2p_multiaddr *out,
                          size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        if (!p2p_addr_policy_allows(p, &in[i])) continue;
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++) dup = p2p_maddr_equal(&out[j], &in[i]);
        if (!dup) out[k++] = in[i];
    }
    return k;
}
