/* timer.c - p2p_timer: a uv_timer_t owned by a plugin or front-end. */
#include <stdlib.h>

#include "host_internal.h"
#include "p2p/log.h"

struct p2p_timer {
    uv_timer_t uv;
    p2p_host *host;
    p2p_timer_cb cb;
    void *arg;
    struct p2p_list link;    /* in host->timers while not freed */
};

static void on_timer(uv_timer_t *t)
{
    p2p_timer *pt = t->data;
    pt->cb(pt, pt->arg);
}

static void on_closed(uv_handle_t *hd)
{
    free(hd->data);
}

P2P_API p2p_timer *p2p_timer_new(p2p_host *h, p2p_timer_cb cb, void *arg)
{
    p2p_timer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    if (uv_timer_init(h->loop, &t->uv) != 0) {
        free(t);
        return NULL;
    }
    t->uv.data = t;
    t->host = h;
    t->cb = cb;
    t->arg = arg;
    p2p_list_add_tail(&h->timers, &t->link);
    return t;
}

P2P_API void p2p_timer_start(p2p_timer *t, uint64_t timeout_ms, uint64_t repeat_ms)
{
    uv_timer_start(&t->uv, on_timer, timeout_ms, repeat_ms);
}

P2P_API void p2p_timer_stop(p2p_timer *t)
{
    uv_timer_stop(&t->uv);
}

P2P_API void p2p_timer_free(p2p_timer *t)
{
    if (!t) return;
    uv_timer_stop(&t->uv);
    p2p_list_del(&t->link);
    uv_close((uv_handle_t *)&t->uv, on_closed);
}

void p2p_timer_unref(p2p_timer *t)
{
    uv_unref((uv_handle_t *)&t->uv);
}

P2P_API uint64_t p2p_host_now_ms(const p2p_host *h)
{
    return uv_now(h->loop);
}

void p2p_timers_close_all(p2p_host *h)
{
    struct p2p_list *pos, *tmp;
    size_t n = 0;
    p2p_list_for_each_safe(pos, tmp, &h->timers) {
        p2p_timer_free(P2P_CONTAINER_OF(pos, p2p_timer, link));
        n++;
    }
    if (n) p2p_log_warn("host", "%zu timer(s) were not freed by their owners; closed at shutdown", n);
}
