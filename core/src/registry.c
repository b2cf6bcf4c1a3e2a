/* registry.c - stream protocol handlers and named, versioned services. */
#include <stdlib.h>
#include <string.h>

#include "host_internal.h"
#include "p2p/conn.h"
#include "p2p/error.h"
#include "p2p/log.h"

/* Protocol ids are short printable strings (multistream-select limits a
 * line to well below this). */
#define PROTOCOL_ID_MAX 1024

P2P_API int p2p_protocol_add(p2p_host *h, const char *protocol_id, p2p_protocol_handler fn, void *arg)
{
    if (!protocol_id || !*protocol_id || strlen(protocol_id) > PROTOCOL_ID_MAX || !fn) return P2P_EINVAL;
    for (size_t i = 0; i < h->nprotocols; i++)
        if (!strcmp(h->protocols[i].id, protocol_id)) return P2P_EEXIST;
    struct protocol_entry *np = realloc(h->protocols, (h->nprotocols + 1) * sizeof *np);
    if (!np) return P2P_ENOMEM;
    h->protocols = np;
    char *id = strdup(protocol_id);
    if (!id) return P2P_ENOMEM;
    h->protocols[h->nprotocols++] = (struct protocol_entry){ id, fn, arg };
    p2p_log_debug("host", "protocol %s registered", protocol_id);
    struct p2p_event ev = { .type = P2P_EV_PROTOCOLS_CHANGED };
    p2p_host_emit(h, &ev);
    return 0;
}

P2P_API int p2p_protocol_remove(p2p_host *h, const char *protocol_id)
{
    for (size_t i = 0; i < h->nprotocols; i++) {
        if (strcmp(h->protocols[i].id, protocol_id)) continue;
        free(h->protocols[i].id);
        memmove(&h->protocols[i], &h->protocols[i + 1], (h->nprotocols - i - 1) * sizeof *h->protocols);
        h->nprotocols--;
        struct p2p_event ev = { .type = P2P_EV_PROTOCOLS_CHANGED };
        p2p_host_emit(h, &ev);
        return 0;
    }
    return P2P_ENOTFOUND;
}

P2P_API int p2p_protocol_lookup(const p2p_host *h, const char *protocol_id,
                                p2p_protocol_handler *fn, void **arg)
{
    for (size_t i = 0; i < h->nprotocols; i++) {
        if (strcmp(h->protocols[i].id, protocol_id)) continue;
        if (fn) *fn = h->protocols[i].fn;
        if (arg) *arg = h->protocols[i].arg;
        return 0;
    }
    return P2P_ENOTFOUND;
}

P2P_API size_t p2p_protocol_list(const p2p_host *h, const char **ids, size_t max)
{
    for (size_t i = 0; i < h->nprotocols && i < max; i++) ids[i] = h->protocols[i].id;
    return h->nprotocols;
}

P2P_API int p2p_service_provide(p2p_host *h, const char *name, uint32_t version,
                                const void *api, void *state)
{
    if (!name || !*name || !api) return P2P_EINVAL;
    for (size_t i = 0; i < h->nservices; i++)
        if (!strcmp(h->services[i].name, name) && h->services[i].version == version) return P2P_EEXIST;
    struct service_entry *ns = realloc(h->services, (h->nservices + 1) * sizeof *ns);
    if (!ns) return P2P_ENOMEM;
    h->services = ns;
    char *n = strdup(name);
    if (!n) return P2P_ENOMEM;
    h->services[h->nservices++] = (struct service_entry){ n, version, api, state };
    p2p_log_debug("host", "service %s v%u provided", name, version);
    return 0;
}

P2P_API int p2p_service_withdraw(p2p_host *h, const char *name, uint32_t version)
{
    for (size_t i = 0; i < h->nservices; i++) {
        if (strcmp(h->services[i].name, name) || h->services[i].version != version) continue;
        free(h->services[i].name);
        memmove(&h->services[i], &h->services[i + 1], (h->nservices - i - 1) * sizeof *h->services);
        h->nservices--;
        return 0;
    }
    return P2P_ENOTFOUND;
}

P2P_API const void *p2p_service_get(const p2p_host *h, const char *name, uint32_t version, void **state)
{
    for (size_t i = 0; i < h->nservices; i++) {
        if (strcmp(h->services[i].name, name) || h->services[i].version != version) continue;
        if (state) *state = h->services[i].state;
        return h->services[i].api;
    }
    if (state) *state = NULL;
    return NULL;
}

void p2p_registry_free(p2p_host *h)
{
    for (size_t i = 0; i < h->nprotocols; i++) free(h->protocols[i].id);
    free(h->protocols);
    h->protocols = NULL;
    h->nprotocols = 0;
    for (size_t i = 0; i < h->nservices; i++) free(h->services[i].name);
    free(h->services);
    h->services = NULL;
    h->nservices = 0;
}
