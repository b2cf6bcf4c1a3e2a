/* layers.c - registries of transports, security protocols and muxers. */
#include <stdlib.h>

#include "host_internal.h"
#include "p2p/error.h"
#include "p2p/muxer.h"
#include "p2p/security.h"
#include "p2p/transport.h"

static int layer_add(struct layer_entry **v, size_t *n, const void *ops, void *state)
{
    if (!ops) return P2P_EINVAL;
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i].ops == ops && (*v)[i].state == state) return P2P_EEXIST;
    struct layer_entry *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) return P2P_ENOMEM;
    *v = nv;
    nv[(*n)++] = (struct layer_entry){ ops, state };
    return 0;
}

static int layer_remove(struct layer_entry *v, size_t *n, const void *ops)
{
    for (size_t i = 0; i < *n; i++) {
        if (v[i].ops != ops) continue;
        for (size_t j = i + 1; j < *n; j++) v[j - 1] = v[j];
        (*n)--;
        return 0;
    }
    return P2P_ENOTFOUND;
}

static size_t layer_list(const struct layer_entry *v, size_t n, const void **ops, void **states, size_t max)
{
    for (size_t i = 0; i < n && i < max; i++) {
        if (ops) ops[i] = v[i].ops;
        if (states) states[i] = v[i].state;
    }
    return n;
}

P2P_API int p2p_transport_add(p2p_host *h, const struct p2p_transport_ops *ops, void *state)
{
    return layer_add(&h->transports, &h->ntransports, ops, state);
}

P2P_API int p2p_transport_remove(p2p_host *h, const struct p2p_transport_ops *ops)
{
    return layer_remove(h->transports, &h->ntransports, ops);
}

P2P_API const struct p2p_transport_ops *p2p_transport_for(const p2p_host *h, const p2p_multiaddr *ma,
                                                          bool listen, void **state)
{
    for (size_t i = 0; i < h->ntransports; i++) {
        const struct p2p_transport_ops *t = h->transports[i].ops;
        bool ok = listen ? t->can_listen && t->can_listen(h->transports[i].state, ma)
                         : t->can_dial && t->can_dial(h->transports[i].state, ma);
        if (!ok) continue;
        if (state) *state = h->transports[i].state;
        return t;
    }
    return NULL;
}

P2P_API int p2p_security_add(p2p_host *h, const struct p2p_security_ops *ops, void *state)
{
    return layer_add(&h->securities, &h->nsecurities, ops, state);
}

P2P_API size_t p2p_security_list(const p2p_host *h, const struct p2p_security_ops **ops, void **states, size_t max)
{
    return layer_list(h->securities, h->nsecurities, (const void **)ops, states, max);
}

P2P_API int p2p_muxer_add(p2p_host *h, const struct p2p_muxer_ops *ops, void *state)
{
    return layer_add(&h->muxers, &h->nmuxers, ops, state);
}

P2P_API size_t p2p_muxer_list(const p2p_host *h, const struct p2p_muxer_ops **ops, void **states, size_t max)
{
    return layer_list(h->muxers, h->nmuxers, (const void **)ops, states, max);
}

void p2p_layers_free(p2p_host *h)
{
    free(h->transports);
    free(h->securities);
    free(h->muxers);
    h->transports = h->securities = h->muxers = NULL;
    h->ntransports = h->nsecurities = h->nmuxers = 0;
}
