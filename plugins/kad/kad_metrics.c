/* kad_metrics.c - the kad plugin's metrics (p2p/metrics.h): sizes of the
 * routing table and stores, set at each scrape by a collector; the
 * lookups run, and what the stores refused or evicted under their
 * per-peer rules (kad_quota.h), carried over from the plugin's own
 * counters at each scrape. */
#include "plugin_int.h"

/* Counter s follows the plugin's counter now (seen: its value at the
 * last scrape). */
static void follow(p2p_metric_series *s, uint64_t now, uint64_t *seen)
{
    p2p_counter_add(s, now - *seen);
    *seen = now;
}

static void follow_quota(struct kad_quota_metrics *qm, const struct kad_quota *q)
{
    follow(qm->refused_limit, q->refused_limit, &qm->seen[0]);
    follow(qm->refused_full, q->refused_full, &qm->seen[1]);
    follow(qm->evicted, q->evicted, &qm->seen[2]);
}

static void collect(void *arg)
{
    struct kad *kd = arg;
    struct kad_metrics *m = &kd->m;
    p2p_gauge_set(m->rt_peers, (int64_t)kd->rt.size);
    p2p_gauge_set(m->records, (int64_t)kd->records.n);
    p2p_gauge_set(m->provider_keys, (int64_t)kd->providers.n);
    follow(m->lookups, kd->stats.lookups, &m->lookups_seen);
    follow_quota(&m->records_q, &kd->records.quota);
    follow_quota(&m->providers_q, &kd->providers.quota);
}

static void quota_metrics(p2p_metric *refused, p2p_metric *evicted, const char *store, struct kad_quota_metrics *qm)
{
    qm->refused_limit = p2p_metric_get(refused, (const char *[]){ store, "peer_limit" });
    qm->refused_full = p2p_metric_get(refused, (const char *[]){ store, "full" });
    qm->evicted = p2p_metric_get(evicted, (const char *[]){ store });
}

void kad_metrics_start(struct kad *kd)
{
    struct kad_metrics *m = &kd->m;
    p2p_host *h = kd->host;
    m->rt_peers = p2p_metric_gauge(h, "p2p_kad_routing_table_peers", "Peers in the DHT routing table.");
    m->records = p2p_metric_gauge(h, "p2p_kad_records", "Records stored for others (PUT_VALUE).");
    m->provider_keys = p2p_metric_gauge(h, "p2p_kad_provider_keys", "Keys with provider records stored.");
    m->lookups = p2p_metric_counter(h, "p2p_kad_lookups_total", "DHT lookups finished.");
    p2p_metric *refused = p2p_metric_register(
        h, "p2p_kad_store_refused_total", P2P_METRIC_COUNTER,
        "New records (PUT_VALUE) and provider records (ADD_PROVIDER) refused: the peer held its limit "
        "(peer_limit), or the store was full and nobody held two more than it (full).",
        (const char *[]){ "store", "reason", NULL });
    p2p_metric *evicted = p2p_metric_register(
        h, "p2p_kad_store_evicted_total", P2P_METRIC_COUNTER,
        "Entries of the peer holding the most dropped to make room for another peer's in a full store.",
        (const char *[]){ "store", NULL });
    quota_metrics(refused, evicted, "records", &m->records_q);
    quota_metrics(refused, evicted, "providers", &m->providers_q);
    p2p_metrics_add_collector(h, collect, kd);
}

void kad_metrics_stop(struct kad *kd)
{
    p2p_metrics_remove_collector(kd->host, collect, kd);
}
