/* membudget.c - the host-wide budget of buffered bytes ([host]
 * max_buffered_bytes; p2p_host_mem_stats in p2p/host.h).
 *
 * Per-connection limits (Yamux windows, max_negotiating_streams, queue
 * limits) bound what one connection holds; connections multiply them.
 * This counts what streams actually hold, per connection and in total,
 * and when the total goes over the budget it closes the connection
 * holding the most: whoever makes us buffer is the one who pays, and an
 * honest connection holding little keeps its service. Closing is done
 * from the loop (never inside a charge, which runs in the middle of
 * stream and muxer code). */
#include <inttypes.h>

#include "host_internal.h"
#include "membudget.h"
#include "p2p/error.h"
#include "p2p/log.h"
#include "p2p/metrics.h"
#include "swarm.h"

#define MOD "membudget"

static void enforce(void *arg);

void p2p_membudget_init(p2p_host *h)
{
    struct p2p_membudget *m = &h->mem;
    m->budget = p2p_conf_size(h->host_section, "max_buffered_bytes");
    p2p_defer_init(&m->enforce, enforce, h);
    m->m_used = p2p_metric_gauge(h, "p2p_buffered_bytes",
                                 "Bytes held in stream read and write queues now (the host-wide memory budget's count).");
    m->m_budget = p2p_metric_gauge(h, "p2p_buffered_bytes_limit",
                                   "The host-wide budget of buffered bytes ([host] max_buffered_bytes; 0 = none).");
    p2p_metric *a = p2p_metric_register(h, "p2p_memory_budget_actions_total", P2P_METRIC_COUNTER,
                                        "What the host did over its memory budget: connections closed "
                                        "(close_connection) and inbound streams refused (refuse_stream).",
                                        (const char *const[]){ "action", NULL });
    m->m_closed = p2p_metric_get(a, (const char *const[]){ "close_connection" });
    m->m_refused = p2p_metric_get(a, (const char *const[]){ "refuse_stream" });
    p2p_gauge_set(m->m_budget, (int64_t)m->budget);
}

void p2p_membudget_free(p2p_host *h)
{
    p2p_defer_cancel(h, &h->mem.enforce);
}

void p2p_mem_charge(p2p_host *h, p2p_conn *c, int64_t delta)
{
    struct p2p_membudget *m = &h->mem;
    m->used += (uint64_t)delta;   /* two's complement: a negative delta subtracts */
    if (c) {
        c->buffered += (uint64_t)delta;
        if (c->gone) m->gone += (uint64_t)delta;
    }
    p2p_gauge_add(m->m_used, delta);
    if (m->used > m->peak) m->peak = m->used;
    if (delta > 0 && m->budget && m->used > m->budget && h->swarm && !h->swarm->stopping)
        p2p_defer_schedule(h, &m->enforce);
}

/* Close connections, the one holding the most first, until what the
 * others hold fits. Closed connections still hold their bytes until their
 * session is freed (from the loop), so they are not counted again. */
static void enforce(void *arg)
{
    p2p_host *h = arg;
    struct p2p_membudget *m = &h->mem;
    struct p2p_swarm *sw = h->swarm;
    if (!sw || sw->stopping || !m->budget) return;
    uint64_t live = m->used > m->gone ? m->used - m->gone : 0;
    struct p2p_list *pos, *tmp;
    for (;;) {
        if (live <= m->budget) return;
        p2p_conn *worst = NULL;
        p2p_list_for_each_safe(pos, tmp, &sw->conns) {
            p2p_conn *c = P2P_CONTAINER_OF(pos, p2p_conn, link);
            if (!c->gone && (!worst || c->buffered > worst->buffered)) worst = c;
        }
        if (!worst || !worst->buffered) return;   /* held outside connections: nobody to blame */
        char id[P2P_PEERID_STRMAX];
        p2p_peerid_to_string(&worst->peer, id, sizeof id);
        p2p_log_warn(MOD, "over max_buffered_bytes (%" PRIu64 " of %" PRIu64 " bytes held): closing the "
                     "connection holding the most, %" PRIu64 " bytes (%s, conn %" PRIu64 ")", m->used, m->budget,
                     worst->buffered, id, worst->id);
        live -= worst->buffered < live ? worst->buffered : live;
        m->closed++;
        p2p_counter_add(m->m_closed, 1);
        p2p_swarm_conn_abort(worst, P2P_ELIMIT);
    }
}

bool p2p_mem_refuse_stream(p2p_host *h, p2p_conn *c)
{
    struct p2p_membudget *m = &h->mem;
    if (!m->budget || m->used <= m->budget / 4 * 3 || !c->buffered) return false;
    size_t n = 0;
    struct p2p_list *pos;
    struct p2p_list *tmp;
    p2p_list_for_each_safe(pos, tmp, &h->swarm->conns) n++;
    if (c->buffered <= m->budget / (n ? n : 1)) return false;
    m->refused++;
    p2p_counter_add(m->m_refused, 1);
    return true;
}

void p2p_mem_conn_gone(p2p_conn *c)
{
    c->host->mem.gone += c->buffered;
    p2p_memtrim_soon(c->host);
}

P2P_API void p2p_host_mem_stats(const p2p_host *h, struct p2p_mem_stats *out)
{
    const struct p2p_membudget *m = &h->mem;
    out->budget = m->budget;
    out->used = m->used;
    out->peak = m->peak;
    out->conns_closed = m->closed;
    out->streams_refused = m->refused;
}

P2P_API uint64_t p2p_conn_buffered_bytes(const p2p_conn *c) { return c->buffered; }
