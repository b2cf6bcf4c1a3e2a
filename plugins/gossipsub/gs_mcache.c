/* gs_mcache.c - see gs_mcache.h. */
#include "gs_mcache.h"

#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"

struct gs_mcache_req {
    uint32_t serial;
    uint8_t count;
};

struct gs_mcache_entry {
    struct gs_msg *m;
    struct gs_mcache_entry *next;      /* in its window */
    uint8_t nreq;
    struct gs_mcache_req *req;         /* grown as needed, up to GS_MCACHE_MAX_REQUESTERS */
};

void gs_mcache_init(struct gs_mcache *mc, size_t history, size_t gossip, size_t max_entries, size_t max_bytes,
                    const uint8_t hkey[GS_HASHKEY_LEN])
{
    memset(mc, 0, sizeof *mc);
    gs_map_init(&mc->map, hkey);
    mc->history = history ? history : 1;
    mc->gossip = gossip > mc->history ? mc->history : gossip;
    mc->max_entries = max_entries;
    mc->max_bytes = max_bytes;
    mc->windows = calloc(mc->history, sizeof *mc->windows);
    if (!mc->windows) mc->history = 0;   /* nothing is cached then */
}

static void drop_window(struct gs_mcache *mc, struct gs_mcache_entry *e)
{
    while (e) {
        struct gs_mcache_entry *next = e->next;
        gs_map_del(&mc->map, e->m->id, e->m->id_len);
        mc->bytes -= e->m->enc_len;
        gs_msg_unref(e->m);
        free(e->req);
        free(e);
        mc->n--;
        e = next;
    }
}

void gs_mcache_free(struct gs_mcache *mc)
{
    for (size_t i = 0; i < mc->history; i++) drop_window(mc, mc->windows[i]);
    free(mc->windows);
    gs_map_free(&mc->map);
    memset(mc, 0, sizeof *mc);
}

int gs_mcache_put(struct gs_mcache *mc, struct gs_msg *m)
{
    if (!mc->history || mc->n >= mc->max_entries || m->enc_len > mc->max_bytes - mc->bytes) return P2P_ELIMIT;
    if (gs_map_get(&mc->map, m->id, m->id_len)) return P2P_EEXIST;
    struct gs_mcache_entry *e = calloc(1, sizeof *e);
    if (!e) return P2P_ENOMEM;
    e->m = m;
    if (gs_map_put(&mc->map, m->id, m->id_len, e) < 0) {
        free(e);
        return P2P_ENOMEM;
    }
    gs_msg_ref(m);
    mc->bytes += m->enc_len;
    e->next = mc->windows[0];
    mc->windows[0] = e;
    mc->n++;
    return 0;
}

struct gs_msg *gs_mcache_get(const struct gs_mcache *mc, const uint8_t *id, size_t len)
{
    struct gs_mcache_entry *e = gs_map_get(&mc->map, id, len);
    return e ? e->m : NULL;
}

struct gs_msg *gs_mcache_get_for_peer(struct gs_mcache *mc, const uint8_t *id, size_t len, uint32_t serial,
                                      unsigned *count)
{
    struct gs_mcache_entry *e = gs_map_get(&mc->map, id, len);
    if (!e) return NULL;
    for (uint8_t i = 0; i < e->nreq; i++) {
        if (e->req[i].serial == serial) {
            if (e->req[i].count < 255) e->req[i].count++;
            *count = e->req[i].count;
            return e->m;
        }
    }
    if (e->nreq >= GS_MCACHE_MAX_REQUESTERS) return NULL;
    struct gs_mcache_req *r = realloc(e->req, ((size_t)e->nreq + 1) * sizeof *r);
    if (!r) return NULL;
    e->req = r;
    e->req[e->nreq].serial = serial;
    e->req[e->nreq].count = 1;
    e->nreq++;
    *count = 1;
    return e->m;
}

size_t gs_mcache_gossip(const struct gs_mcache *mc, const char *topic, struct gs_msg **out, size_t max)
{
    size_t k = 0;
    for (size_t w = 0; w < mc->gossip && k < max; w++)
        for (struct gs_mcache_entry *e = mc->windows[w]; e && k < max; e = e->next)
            if (!strcmp(e->m->topic, topic)) out[k++] = e->m;
    return k;
}

void gs_mcache_shift(struct gs_mcache *mc)
{
    if (!mc->history) return;
    drop_window(mc, mc->windows[mc->history - 1]);
    memmove(mc->windows + 1, mc->windows, (mc->history - 1) * sizeof *mc->windows);
    mc->windows[0] = NULL;
}

/* ---- seen ------------------------------------------------------------------ */

struct gs_seen_node {
    struct gs_seen_node *next;
    uint64_t expires;
    size_t len;
    uint8_t id[];
};

void gs_seen_init(struct gs_seen *s, uint64_t ttl_ms, size_t max_entries, const uint8_t hkey[GS_HASHKEY_LEN])
{
    memset(s, 0, sizeof *s);
    gs_map_init(&s->map, hkey);
    s->ttl_ms = ttl_ms;
    s->max_entries = max_entries ? max_entries : 1;
}

static void seen_pop(struct gs_seen *s)
{
    struct gs_seen_node *n = s->head;
    s->head = n->next;
    if (!s->head) s->tail = NULL;
    gs_map_del(&s->map, n->id, n->len);
    free(n);
    s->n--;
}

void gs_seen_free(struct gs_seen *s)
{
    while (s->head) seen_pop(s);
    gs_map_free(&s->map);
}

bool gs_seen_has(const struct gs_seen *s, const uint8_t *id, size_t len)
{
    return gs_map_get(&s->map, id, len) != NULL;
}

void gs_seen_expire(struct gs_seen *s, uint64_t now_ms)
{
    while (s->head && s->head->expires <= now_ms) seen_pop(s);
}

int gs_seen_add(struct gs_seen *s, const uint8_t *id, size_t len, uint64_t now_ms)
{
    gs_seen_expire(s, now_ms);
    if (gs_map_get(&s->map, id, len)) return P2P_EEXIST;
    while (s->n >= s->max_entries) seen_pop(s);
    struct gs_seen_node *n = malloc(sizeof *n + len);
    if (!n) return P2P_ENOMEM;
    n->next = NULL;
    n->expires = now_ms + s->ttl_ms;
    n->len = len;
    memcpy(n->id, id, len);
    if (gs_map_put(&s->map, n->id, len, n) < 0) {
        free(n);
        return P2P_ENOMEM;
    }
    if (s->tail) s->tail->next = n;
    else s->head = n;
    s->tail = n;
    s->n++;
    return 0;
}
