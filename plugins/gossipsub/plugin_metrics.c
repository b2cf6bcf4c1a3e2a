/* plugin_metrics.c - the gossipsub plugin's metrics (p2p/metrics.h):
 * topics and pubsub peers now, and messages by what happened to them,
 * taken from the router's counters by a collector at each scrape. */
#include <string.h>

#include "plugin_int.h"

/* Labels of p2p_gossipsub_messages_total, in the order of snapshot(). */
static const char *const events[GSP_METRIC_EVENTS] = { "received", "delivered", "duplicate", "rejected",
                                                       "published", "forwarded", "cancelled" };

static void snapshot(const struct gsp *g, uint64_t out[GSP_METRIC_EVENTS])
{
    struct gs_stats s;
    gs_router_stats(g->r, &s);
    uint64_t v[GSP_METRIC_EVENTS] = { s.msgs_in, s.msgs_delivered, s.msgs_duplicate, s.msgs_invalid + s.msgs_rejected,
                                      s.msgs_published, s.msgs_forwarded, s.msgs_cancelled };
    memcpy(out, v, sizeof v);
}

static void collect(void *arg)
{
    struct gsp *g = arg;
    struct gsp_metrics *m = &g->m;
    size_t npeers = 0;
    for (const struct gsp_peer *p = g->peers; p; p = p->next) npeers++;
    p2p_gauge_set(m->topics, (int64_t)g->ntopics);
    p2p_gauge_set(m->peers, (int64_t)npeers);
    uint64_t now[GSP_METRIC_EVENTS];
    snapshot(g, now);
    for (size_t i = 0; i < GSP_METRIC_EVENTS; i++) {
        p2p_counter_add(m->msgs[i], now[i] - m->seen[i]);
        m->seen[i] = now[i];
    }
}

void gsp_metrics_start(struct gsp *g)
{
    struct gsp_metrics *m = &g->m;
    m->topics = p2p_metric_gauge(g->host, "p2p_gossipsub_topics", "Topics we are subscribed to.");
    m->peers = p2p_metric_gauge(g->host, "p2p_gossipsub_peers", "Connected peers that speak pubsub.");
    p2p_metric *msgs = p2p_metric_register(g->host, "p2p_gossipsub_messages_total", P2P_METRIC_COUNTER,
                                           "Pubsub messages by event: received (from peers), delivered (to local "
                                           "subscribers), duplicate, rejected (invalid), published (by us), "
                                           "forwarded (copies queued to peers), cancelled (queued copies not "
                                           "sent: the peer had the message).", (const char *const[]){ "event", NULL });
    for (size_t i = 0; i < GSP_METRIC_EVENTS; i++) m->msgs[i] = p2p_metric_get(msgs, (const char *const[]){ events[i] });
    snapshot(g, m->seen);
    p2p_metrics_add_collector(g->host, collect, g);
}

void gsp_metrics_stop(struct gsp *g)
{
    p2p_metrics_remove_collector(g->host, collect, g);
}
