/* relay_metrics.c - the relay plugin's metrics (p2p/metrics.h; the list
 * is in plugins/relay/README.md): reservations and circuits of the
 * server, with refusals by reason, and the client's reservations. */
#include "relay.h"

static void collect(void *arg)
{
    struct relay_st *st = arg;
    struct relay_metrics *m = &st->m;
    if (st->server && st->table_ok) {
        p2p_gauge_set(m->rsvp_active, (int64_t)st->table.nrsvps);
        p2p_gauge_set(m->circ_active, (int64_t)st->ncircuits);
    }
    if (st->client) {
        int64_t n = 0;
        for (size_t i = 0; i < st->nrelays; i++) n += st->relays[i].reserved;
        p2p_gauge_set(m->client_reserved, n);
    }
}

int relay_metrics_init(struct relay_st *st)
{
    struct relay_metrics *m = &st->m;
    p2p_host *h = st->host;
    static const char *const reason[] = { "reason", NULL };
    if (st->server) {
        m->rsvp_active = p2p_metric_gauge(h, "p2p_relay_reservations", "Reservations held on this relay now.");
        p2p_metric *acc = p2p_metric_register(h, "p2p_relay_reservations_accepted_total", P2P_METRIC_COUNTER,
                                              "Reservations accepted: new ones and renewals.",
                                              (const char *const[]){ "kind", NULL });
        m->rsvp_new = p2p_metric_get(acc, (const char *const[]){ "new" });
        m->rsvp_renewed = p2p_metric_get(acc, (const char *const[]){ "renewal" });
        m->rsvp_refused = p2p_metric_register(h, "p2p_relay_reservations_refused_total", P2P_METRIC_COUNTER,
                                              "Reservations refused, by reason (the limit's config key, or "
                                              "relayed_connection).", reason);
        m->circ_active = p2p_metric_gauge(h, "p2p_relay_circuits", "Circuits relayed (or being set up) now.");
        m->circ_accepted = p2p_metric_counter(h, "p2p_relay_circuits_accepted_total",
                                              "Circuits set up: both ends agreed and bytes flow.");
        m->circ_refused = p2p_metric_register(h, "p2p_relay_circuits_refused_total", P2P_METRIC_COUNTER,
                                              "Circuit requests refused or failed, by reason (the limit's config "
                                              "key, no_reservation, relayed_connection, malformed, "
                                              "connection_failed).", reason);
        m->circ_closed = p2p_metric_register(h, "p2p_relay_circuits_closed_total", P2P_METRIC_COUNTER,
                                             "Circuits ended, by reason: closed (both ends finished), data_limit "
                                             "(circuit_bytes), duration_limit (circuit_duration), error, shutdown.",
                                             reason);
        m->circ_bytes = p2p_metric_counter(h, "p2p_relay_circuit_bytes_total",
                                           "Bytes relayed through circuits, both directions.");
    }
    if (st->client)
        m->client_reserved = p2p_metric_gauge(h, "p2p_relay_client_reservations",
                                              "Relays holding a reservation of ours now.");
    return p2p_metrics_add_collector(h, collect, st);
}

void relay_metrics_fini(struct relay_st *st)
{
    p2p_metrics_remove_collector(st->host, collect, st);
}

void relay_metrics_refused(p2p_metric *m, const char *reason)
{
    p2p_counter_add(p2p_metric_get(m, (const char *const[]){ reason }), 1);
}

void relay_metrics_circuit_closed(struct relay_st *st, int reason)
{
    const char *why = reason == 0                 ? "closed"
                      : reason == P2P_ELIMIT      ? "data_limit"
                      : reason == P2P_ETIMEDOUT   ? "duration_limit"
                      : reason == P2P_ECANCELED   ? "shutdown"
                                                  : "error";
    relay_metrics_refused(st->m.circ_closed, why);
}
