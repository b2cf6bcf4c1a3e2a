/* defer.c - p2p_defer: run a function from the loop, outside the current
 * call stack. One uv_idle_t per host, active only while calls are queued,
 * so an idle host never spins. */
#include "host_internal.h"

P2P_API void p2p_defer_init(struct p2p_defer *d, void (*fn)(void *arg), void *arg)
{
    d->fn = fn;
    d->arg = arg;
    d->next_ = d->prev_ = NULL;
    d->scheduled_ = false;
}

static void on_idle(uv_idle_t *idle)
{
    p2p_host *h = idle->data;
    /* Run what is queued now; calls scheduled meanwhile wait for the next
     * turn, so a function that reschedules itself cannot starve I/O. */
    struct p2p_defer *batch = h->defer_head;
    h->defer_head = h->defer_tail = NULL;
    h->defer_running = batch;
    while (h->defer_running) {
        struct p2p_defer *d = h->defer_running;
        h->defer_running = d->next_;
        if (h->defer_running) h->defer_running->prev_ = NULL;
        d->next_ = d->prev_ = NULL;
        d->scheduled_ = false;
        d->fn(d->arg);
    }
    if (!h->defer_head) uv_idle_stop(&h->defer_idle);
}

P2P_API void p2p_defer_schedule(p2p_host *h, struct p2p_defer *d)
{
    if (d->scheduled_) return;
    d->scheduled_ = true;
    d->next_ = NULL;
    d->prev_ = h->defer_tail;
    if (h->defer_tail) h->defer_tail->next_ = d;
    else h->defer_head = d;
    h->defer_tail = d;
    if (!uv_is_active((uv_handle_t *)&h->defer_idle)) uv_idle_start(&h->defer_idle, on_idle);
}

P2P_API void p2p_defer_cancel(p2p_host *h, struct p2p_defer *d)
{
    if (!d->scheduled_) return;
    /* d is either in the queue or in the batch being run. */
    if (d->prev_) d->prev_->next_ = d->next_;
    else if (h->defer_head == d) h->defer_head = d->next_;
    else if (h->defer_running == d) h->defer_running = d->next_;
    if (d->next_) d->next_->prev_ = d->prev_;
    else if (h->defer_tail == d) h->defer_tail = d->prev_;
    d->next_ = d->prev_ = NULL;
    d->scheduled_ = false;
}

void p2p_defer_setup(p2p_host *h)
{
    uv_idle_init(h->loop, &h->defer_idle);
    h->defer_idle.data = h;
}

static void on_idle_closed(uv_handle_t *hd)
{
    p2p_host *h = hd->data;
    h->defer_closed = true;
}

void p2p_defer_teardown(p2p_host *h)
{
    h->defer_closed = false;
    uv_close((uv_handle_t *)&h->defer_idle, on_idle_closed);
}
