/* plugin.c - the relay plugin (Circuit Relay v2): descriptor,
 * configuration, lifecycle and connection events. The parts:
 *
 *   server = true   serve /libp2p/circuit/relay/0.2.0/hop: reservations
 *                   and circuits within configurable limits (relay_server.c,
 *                   relay_table.c, relay_pump.c). The hop protocol is
 *                   registered only then: a host advertises no relay
 *                   service it does not provide.
 *   client = true   (default) the "p2p-circuit" transport: dial
 *                   /p2p-circuit addresses; when [host] listen includes
 *                   /p2p-circuit, reserve a slot on every relay of `relays`
 *                   and accept circuits through /libp2p/circuit/relay/0.2.0/stop
 *                   (relay_client.c, relay_transport.c).
 *
 * A peer reachable through relays is configured as
 *
 *     [host]
 *     listen = /ip4/0.0.0.0/tcp/4001, /p2p-circuit
 *     [plugin relay]
 *     relays = /ip4/198.51.100.7/tcp/4001/p2p/12D3KooW...
 *
 * ("<relay addr>/p2p/<id>/p2p-circuit" in listen also works and adds that
 * relay), and a relay as
 *
 *     [plugin relay]
 *     server = true
 *     client = false
 */
#include <stdlib.h>
#include <string.h>

#include "relay.h"

void relay_st_ref(struct relay_st *st)
{
    st->refs++;
}

void relay_st_unref(struct relay_st *st)
{
    if (--st->refs == 0) free(st);
}

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct relay_st *st = arg;
    if (st->stopped) return;
    if (ev->type == P2P_EV_REACHABILITY_CHANGED) {
        if (st->client) relay_client_update(st);
        return;
    }
    if (ev->type == P2P_EV_PEER_UPDATED) {
        if (st->client) relay_client_conn_event(st, ev);
        return;
    }
    if (!ev->conn) return;
    if (ev->type == P2P_EV_DISCONNECTED && st->server) relay_server_conn_closed(st, p2p_conn_id(ev->conn));
    if (st->client) relay_client_conn_event(st, ev);
}

static void read_limits(struct relay_st *st, const p2p_conf_section *cf)
{
    struct relay_limits *l = &st->lim;
    l->max_reservations = (size_t)p2p_conf_int(cf, "max_reservations");
    l->max_reservations_per_peer = (size_t)p2p_conf_int(cf, "max_reservations_per_peer");
    l->max_reservations_per_ip = (size_t)p2p_conf_int(cf, "max_reservations_per_ip");
    l->reservation_ttl_ms = p2p_conf_duration_ms(cf, "reservation_duration");
    l->max_circuits = (size_t)p2p_conf_int(cf, "max_circuits");
    l->max_circuits_per_peer = (size_t)p2p_conf_int(cf, "max_circuits_per_peer");
    l->rate_per_peer = (uint32_t)p2p_conf_int(cf, "rate_limit_per_peer");
    l->rate_per_peer_interval_ms = p2p_conf_duration_ms(cf, "rate_limit_per_peer_interval");
    l->rate_per_ip = (uint32_t)p2p_conf_int(cf, "rate_limit_per_ip");
    l->rate_per_ip_interval_ms = p2p_conf_duration_ms(cf, "rate_limit_per_ip_interval");
    st->circuit_duration_ms = p2p_conf_duration_ms(cf, "circuit_duration");
    st->circuit_bytes = p2p_conf_size(cf, "circuit_bytes");
    st->watermark = (size_t)p2p_conf_size(cf, "circuit_buffer");
    st->handshake_ms = p2p_conf_duration_ms(cf, "handshake_timeout");
    st->max_pending = (size_t)p2p_conf_int(cf, "max_pending");
    st->retry_ms = p2p_conf_duration_ms(cf, "retry_interval");
    st->retry_max_ms = p2p_conf_duration_ms(cf, "retry_max");
    if (st->retry_max_ms < st->retry_ms) st->retry_max_ms = st->retry_ms;
}

static void relay_fini(void *state);

/* A changed [plugin relay] section (p2p_host_reload, SIGHUP): the limits,
 * timeouts and retry delays apply at once to new reservations and
 * circuits (open circuits keep theirs); the roles and the relay list
 * need a restart. */
static int relay_reload(void *state, const p2p_conf_section *cf)
{
    static const char *const restart_keys[] = { "server", "client", "relays", NULL };
    struct relay_st *st = state;
    for (const char *const *k = restart_keys; *k; k++) {
        if (p2p_conf_key_changed(st->cf, cf, *k)) {
            p2p_host_set_error(st->host, "%s changed; restart to apply it", *k);
            return P2P_ECONFIG;
        }
    }
    struct relay_st tmp = *st;
    read_limits(&tmp, cf);
    if (st->table_ok && relay_table_set_limits(&st->table, &tmp.lim) != 0) {
        p2p_host_set_error(st->host, "out of memory");
        return P2P_ENOMEM;
    }
    read_limits(st, cf);
    st->cf = cf;
    p2p_log_info(MOD, "new limits: %zu reservations (%zu now), %zu circuits (%zu now), circuits of %llu ms and "
                      "%llu bytes", st->lim.max_reservations, st->table_ok ? st->table.nrsvps : 0,
                 st->lim.max_circuits, st->ncircuits, (unsigned long long)st->circuit_duration_ms,
                 (unsigned long long)st->circuit_bytes);
    return 0;
}

static int relay_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct relay_st *st = calloc(1, sizeof *st);
    if (!st) {
        p2p_host_set_error(h, "out of memory");
        return P2P_ENOMEM;
    }
    st->host = h;
    st->cf = cf;
    st->refs = 1;
    st->server = p2p_conf_bool(cf, "server");
    st->client = p2p_conf_bool(cf, "client");
    st->reserve_always = p2p_conf_enum(cf, "reserve") == 1;
    rlist_init(&st->closing);
    rlist_init(&st->hops);
    rlist_init(&st->helds);
    rlist_init(&st->circuits);
    rlist_init(&st->listeners);
    rlist_init(&st->dials);
    rlist_init(&st->stops);
    read_limits(st, cf);
    int rc = 0;
    if (st->client) {
        rc = relay_client_init(st, cf);
        if (rc == 0) rc = relay_transport_init(st);
    } else if (p2p_conf_list_len(cf, "relays")) {
        p2p_host_set_error(h, "relays is set but client = false");
        rc = P2P_ECONFIG;
    }
    if (rc == 0 && st->server) rc = relay_server_init(st);
    if (rc == 0) rc = relay_metrics_init(st);
    if (rc == 0) {
        st->sub = p2p_host_subscribe(h, P2P_EV_CONNECTED | P2P_EV_DISCONNECTED | P2P_EV_PEER_UPDATED |
                                            P2P_EV_REACHABILITY_CHANGED,
                                     on_event, st);
        if (!st->sub) rc = P2P_ENOMEM;
    }
    if (rc < 0) {
        if (rc != P2P_ECONFIG) p2p_host_set_error(h, "cannot set up the relay: %s", p2p_strerror(rc));
        relay_fini(st);
        return rc;
    }
    *state = st;
    return 0;
}

/* Whether [host] listen names a circuit address. */
static bool listens_on_circuits(p2p_host *h)
{
    const p2p_conf_section *hs = p2p_host_section(h);
    size_t n = p2p_conf_list_len(hs, "listen");
    for (size_t i = 0; i < n; i++) {
        p2p_multiaddr ma;
        struct p2p_maddr_component c;
        if (p2p_maddr_parse(&ma, p2p_conf_list_at(hs, "listen", i), NULL, 0) == 0 &&
            p2p_maddr_find(&ma, P2P_MA_P2P_CIRCUIT, &c))
            return true;
    }
    return false;
}

static int relay_start(void *state)
{
    struct relay_st *st = state;
    st->started = true;
    st->stopped = false;
    if (st->client && st->nrelays && !listens_on_circuits(st->host))
        p2p_log_warn(MOD, "relays are configured but [host] listen has no /p2p-circuit address: "
                          "no reservation will be made");
    /* The swarm starts after the plugins and calls our listen() then. */
    return 0;
}

static void relay_stop(void *state)
{
    struct relay_st *st = state;
    if (st->stopped) return;
    st->stopped = true;
    if (st->client) {
        relay_transport_stop(st);
        relay_client_stop(st);
    }
    if (st->server) relay_server_stop(st);
    relay_finish_all(st);
}

static void relay_fini(void *state)
{
    struct relay_st *st = state;
    st->stopped = true;
    if (st->sub) p2p_host_unsubscribe(st->host, st->sub);
    st->sub = NULL;
    relay_metrics_fini(st);
    if (st->client) {
        relay_transport_fini(st);
        relay_client_fini(st);
    }
    if (st->server) relay_server_fini(st);
    relay_finish_all(st);
    st->finied = true;
    relay_st_unref(st);
}

static const char *const reserve_modes[] = { "auto", "always", NULL };

static const struct p2p_conf_key relay_keys[] = {
    { "server", P2P_CONF_BOOL, "false", 0, 0, NULL,
      "act as a relay: serve the hop protocol (reservations and circuits) within the limits below" },
    { "client", P2P_CONF_BOOL, "true", 0, 0, NULL,
      "use relays: dial /p2p-circuit addresses, reserve slots on `relays`, accept relayed connections" },
    { "relays", P2P_CONF_MADDR_LIST, "", 0, 0, NULL,
      "relays to reserve a slot on, each ending in /p2p/<relay id>; used while [host] listen includes /p2p-circuit" },
    { "reserve", P2P_CONF_ENUM, "auto", 0, 0, reserve_modes,
      "client: auto = reserve only while [plugin autonat] does not find us publicly reachable (private, or "
      "unknown after probing; always when nothing tracks reachability); always = whenever listening on /p2p-circuit" },
    { "max_reservations", P2P_CONF_INT, "128", 0, 1000000, NULL, "server: reservations in all" },
    { "max_reservations_per_peer", P2P_CONF_INT, "4", 1, 1000, NULL,
      "server: reservations of one peer (one per connection)" },
    { "max_reservations_per_ip", P2P_CONF_INT, "8", 0, 1000000, NULL,
      "server: reservations from one IP address (0 = no limit)" },
    { "reservation_duration", P2P_CONF_DURATION, "1h", 1000, 604800000, NULL,
      "server: how long a reservation lasts unless renewed" },
    { "max_circuits", P2P_CONF_INT, "16", 0, 1000000, NULL, "server: circuits relayed at once" },
    { "max_circuits_per_peer", P2P_CONF_INT, "4", 1, 1000, NULL,
      "server: circuits one peer takes part in (as source or target)" },
    { "circuit_duration", P2P_CONF_DURATION, "2m", 0, 604800000, NULL,
      "server: a circuit is reset after this long (0 = no limit; announced in seconds)" },
    { "circuit_bytes", P2P_CONF_SIZE, "128KiB", 0, 0, NULL,
      "server: a circuit is reset after relaying this many bytes in one direction (0 = no limit)" },
    { "rate_limit_per_peer", P2P_CONF_INT, "30", 0, 1000000, NULL,
      "server: burst of reservations (and, separately, circuits) per peer; 0 = no rate limit" },
    { "rate_limit_per_peer_interval", P2P_CONF_DURATION, "2m", 1, 86400000, NULL,
      "server: a peer regains one reservation (circuit) allowance this often" },
    { "rate_limit_per_ip", P2P_CONF_INT, "60", 0, 1000000, NULL,
      "server: burst of reservations (and, separately, circuits) per IP address; 0 = no rate limit" },
    { "rate_limit_per_ip_interval", P2P_CONF_DURATION, "1m", 1, 86400000, NULL,
      "server: an IP address regains one reservation (circuit) allowance this often" },
    { "circuit_buffer", P2P_CONF_SIZE, "64KiB", 1024, 16777216, NULL,
      "server: bytes queued towards one side of a circuit before reading from the other side stops" },
    { "handshake_timeout", P2P_CONF_DURATION, "10s", 100, 600000, NULL,
      "time to read a hop or stop message, and to set up a circuit" },
    { "max_pending", P2P_CONF_INT, "64", 1, 100000, NULL, "hop and stop requests being read at once" },
    { "retry_interval", P2P_CONF_DURATION, "5s", 100, 3600000, NULL,
      "client: delay before reserving again after a failure or a lost relay connection (doubles each failure)" },
    { "retry_max", P2P_CONF_DURATION, "5m", 100, 86400000, NULL, "client: longest delay between reservation attempts" },
    P2P_CONF_KEYS_END
};

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "relay",
    .version = "1.0.0",
    .description = "Circuit Relay v2: relay server (hop) and client (p2p-circuit transport, reservations, stop)",
    .requires = NULL,
    .config = relay_keys,
    .init = relay_init,
    .start = relay_start,
    .stop = relay_stop,
    .fini = relay_fini,
    .reload = relay_reload,
});
