/* swarm_metrics.c - the core's own metrics (p2p/metrics.h): connections
 * and streams opened and open, refusals, and bytes through transports.
 * Names and labels are listed in docs/reference/metrics.md. */
#include <string.h>

#include "p2p/metrics.h"
#include "stream_internal.h"
#include "swarm.h"

static const char *const dir_transport[] = { "direction", "transport", NULL };

void p2p_swarm_metrics_init(p2p_host *h)
{
    struct swarm_metrics *m = &h->swarm->metrics;
    m->conns_opened = p2p_metric_register(h, "p2p_connections_opened_total", P2P_METRIC_COUNTER,
                                          "Connections established (secured and multiplexed).", dir_transport);
    m->conns = p2p_metric_register(h, "p2p_connections", P2P_METRIC_GAUGE, "Connections open now.", dir_transport);
    m->conns_refused = p2p_metric_register(h, "p2p_connections_refused_total", P2P_METRIC_COUNTER,
                                           "Inbound connections refused, by the limit that refused them.",
                                           (const char *const[]){ "reason", NULL });
    m->bytes = p2p_metric_register(h, "p2p_transport_bytes_total", P2P_METRIC_COUNTER,
                                   "Bytes received (in) and sent (out) on transport connections, handshakes "
                                   "included; relayed connections count as p2p-circuit and again as the "
                                   "transport of the connection to the relay.", dir_transport);
    p2p_metric *so = p2p_metric_register(h, "p2p_streams_opened_total", P2P_METRIC_COUNTER,
                                         "Streams opened on connections, before protocol negotiation.",
                                         (const char *const[]){ "direction", NULL });
    m->streams_in = p2p_metric_get(so, (const char *const[]){ "inbound" });
    m->streams_out = p2p_metric_get(so, (const char *const[]){ "outbound" });
    m->streams = p2p_metric_gauge(h, "p2p_streams", "Streams open now on connections.");
}

/* "tcp", "p2p-circuit", ...: the transport an address goes through. */
static const char *transport_label(const p2p_multiaddr *ma, bool limited)
{
    struct p2p_maddr_component c;
    size_t off = 0;
    const char *t = "other";
    if (limited) return "p2p-circuit";
    while (p2p_maddr_next(ma, &off, &c) == 1) {
        switch (c.code) {
        case P2P_MA_P2P_CIRCUIT: return "p2p-circuit";
        case P2P_MA_TCP: t = "tcp"; break;
        case P2P_MA_UDP: t = "udp"; break;
        case P2P_MA_QUIC_V1: t = "quic-v1"; break;
        case P2P_MA_WS: t = "ws"; break;
        case P2P_MA_WSS: t = "wss"; break;
        default: break;
        }
    }
    return t;
}

static const char *dir_label(enum p2p_direction d)
{
    return d == P2P_OUTBOUND ? "outbound" : "inbound";
}

void p2p_swarm_metrics_conn_open(p2p_conn *c)
{
    struct swarm_metrics *m = &c->host->swarm->metrics;
    const char *v[] = { dir_label(c->dir), transport_label(p2p_conn_remote_addr(c), c->limited) };
    p2p_counter_add(p2p_metric_get(m->conns_opened, v), 1);
    c->m_open = p2p_metric_get(m->conns, v);
    p2p_gauge_add(c->m_open, 1);
}

void p2p_swarm_metrics_conn_close(p2p_conn *c)
{
    p2p_gauge_add(c->m_open, -1);
    c->m_open = NULL;
}

void p2p_swarm_metrics_refused(p2p_host *h, const char *reason)
{
    p2p_counter_add(p2p_metric_get(h->swarm->metrics.conns_refused, (const char *const[]){ reason }), 1);
}

void p2p_swarm_metrics_raw(p2p_host *h, p2p_stream *raw, bool limited)
{
    struct swarm_metrics *m = &h->swarm->metrics;
    const char *t = transport_label(p2p_stream_remote_addr(raw), limited);
    p2p_stream_count_bytes(raw, p2p_metric_get(m->bytes, (const char *const[]){ "in", t }),
                           p2p_metric_get(m->bytes, (const char *const[]){ "out", t }));
}

void p2p_swarm_metrics_stream(p2p_host *h, bool inbound, int delta)
{
    struct swarm_metrics *m = &h->swarm->metrics;
    if (delta > 0) p2p_counter_add(inbound ? m->streams_in : m->streams_out, 1);
    p2p_gauge_add(m->streams, delta);
}
