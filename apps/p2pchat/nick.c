/* nick.c - see nick.h. */
#include <stdlib.h>
#include <string.h>

#include "nick.h"
#include "text.h"

int nick_table_init(struct nick_table *t, size_t cap)
{
    memset(t, 0, sizeof *t);
    t->e = calloc(cap, sizeof *t->e);
    if (!t->e) return -1;
    t->cap = cap;
    return 0;
}

void nick_table_free(struct nick_table *t)
{
    free(t->e);
    memset(t, 0, sizeof *t);
}

static struct nick_entry *find(struct nick_table *t, const p2p_peerid *peer)
{
    for (size_t i = 0; i < t->n; i++)
        if (p2p_peerid_equal(&t->e[i].peer, peer)) return &t->e[i];
    return NULL;
}

int nick_table_set(struct nick_table *t, const p2p_peerid *peer, const uint8_t *name, size_t len)
{
    if (!text_valid_name(name, len, CHAT_NICK_MAX)) return -1;
    struct nick_entry *e = find(t, peer);
    if (e && strlen(e->name) == len && !memcmp(e->name, name, len)) {
        e->used = ++t->tick;
        return 0;
    }
    if (!e && t->n < t->cap) {
        e = &t->e[t->n++];
    } else if (!e) {
        e = &t->e[0];
        for (size_t i = 1; i < t->n; i++)
            if (t->e[i].used < e->used) e = &t->e[i];
    }
    e->peer = *peer;
    memcpy(e->name, name, len);
    e->name[len] = 0;
    e->used = ++t->tick;
    return 1;
}

const char *nick_table_get(struct nick_table *t, const p2p_peerid *peer)
{
    struct nick_entry *e = find(t, peer);
    if (!e) return NULL;
    e->used = ++t->tick;
    return e->name;
}
