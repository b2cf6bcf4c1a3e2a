/* events.c - host event subscriptions. Subscribers are kept in a list
 * that tolerates (un)subscribing from inside a callback: removal marks the
 * entry and the emit loop, or the next emit, unlinks it. */
#include <stdlib.h>

#include "host_internal.h"
#include "p2p/conn.h"

struct p2p_subscription {
    unsigned mask;
    p2p_event_cb cb;
    void *arg;
    bool dead;
    struct p2p_subscription *next;
};

P2P_API p2p_subscription *p2p_host_subscribe(p2p_host *h, unsigned mask, p2p_event_cb cb, void *arg)
{
    p2p_subscription *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->mask = mask;
    s->cb = cb;
    s->arg = arg;
    p2p_subscription **pp = &h->subs;
    while (*pp) pp = &(*pp)->next;
    *pp = s;
    return s;
}

static void sweep(p2p_host *h)
{
    p2p_subscription **pp = &h->subs;
    while (*pp) {
        if ((*pp)->dead) {
            p2p_subscription *d = *pp;
            *pp = d->next;
            free(d);
        } else {
            pp = &(*pp)->next;
        }
    }
}

P2P_API void p2p_host_unsubscribe(p2p_host *h, p2p_subscription *sub)
{
    if (!sub) return;
    sub->dead = true;
    if (!h->emitting) sweep(h);
}

P2P_API void p2p_host_emit(p2p_host *h, const struct p2p_event *ev)
{
    h->emitting++;
    for (p2p_subscription *s = h->subs; s; s = s->next)
        if (!s->dead && (s->mask & ev->type)) s->cb(ev, s->arg);
    if (--h->emitting == 0) sweep(h);
}

void p2p_events_free(p2p_host *h)
{
    while (h->subs) {
        p2p_subscription *s = h->subs;
        h->subs = s->next;
        free(s);
    }
}
