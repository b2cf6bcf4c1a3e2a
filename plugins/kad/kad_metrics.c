/* kad_metrics.c - the kad plugin's metrics (p2p/metrics.h): sizes of the
 * routing table and stores, set at each scrape by a collector, and the
 * lookups run (from the plugin's own counters). */
#include "plugin_int.h"

static void collect(void *arg)
{
    struct kad *kd = arg;
    struct kad_metrics *m = &kd->m;
    p2p_gauge_set(m->rt_peers, (int64_t)kd->rt.size);
    p2p_gauge_set(m->records, (int64_t)kd->records.n);
    p2p_gauge_set(m->provider_keys, (int64_t)kd->providers.n);
    p2p_counter_add(m->lookups, kd->stats.lookups - m->lookups_seen);
    m->lookups_seen = kd->stats.lookups;
}

void kad_metrics_start(struct kad *kd)
{
    struct kad_metrics *m = &kd->m;
    p2p_host *h = kd->host;
    m->rt_peers = p2p_metric_gauge(h, "p2p_kad_routing_table_peers", "Peers in the DHT routing table.");
    m->records = p2p_metric_gauge(h, "p2p_kad_records", "Records stored for others (PUT_VALUE).");
    m->provider_keys = p2p_metric_gauge(h, "p2p_kad_provider_keys", "Keys with provider records stored.");
    m->lookups = p2p_metric_counter(h, "p2p_kad_lookups_total", "DHT lookups finished.");
    p2p_metrics_add_collector(h, collect, kd);
}

void kad_metrics_stop(struct kad *kd)
{
    p2p_metrics_remove_collector(kd->host, collect, kd);
}
