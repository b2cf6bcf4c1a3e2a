/* plugin.c - the autonat plugin: AutoNAT v1 (/libp2p/autonat/1.0.0,
 * libp2p/specs autonat/autonat-v1.md), client and server. See README.md.
 *
 *   client = true   (default) ask connected peers that support the
 *                   protocol to dial us back (autonat_client.c), combine
 *                   their answers into public / private / unknown
 *                   (autonat_status.c) and publish it through the core
 *                   (p2p_host_set_reachability, P2P_EV_REACHABILITY_CHANGED).
 *   server = true   answer dial-back requests within limits
 *                   (autonat_server.c, autonat_policy.c). The protocol is
 *                   registered only then, so identify advertises it only
 *                   when we serve it.
 *
 * This file: descriptor, configuration, lifecycle, events, publishing. */
#include <stdlib.h>
#include <string.h>

#include "autonat.h"

#define MOD AUTONAT_MOD

void autonat_st_ref(struct autonat_st *st)
{
    st->refs++;
}

void autonat_st_unref(struct autonat_st *st)
{
    if (--st->refs) return;
    autonat_limiter_free(&st->lim);
    free(st);
}

uint64_t autonat_now(const struct autonat_st *st)
{
    return p2p_host_now_ms(st->h);
}

const char *autonat_peer_str(const p2p_peerid *id, char buf[P2P_PEERID_STRMAX])
{
    if (p2p_peerid_to_string(id, buf, P2P_PEERID_STRMAX) < 0) strcpy(buf, "?");
    return buf;
}

void autonat_publish(struct autonat_st *st, bool changed)
{
    struct p2p_reachability_info ri = P2P_REACHABILITY_INFO_INIT;
    ri.status = st->cl.status;
    ri.probed = st->cl.probed;
    ri.confidence = st->cl.confidence;
    ri.addr = st->cl.addr;
    strcpy(ri.source, "autonat");
    if (changed) {
        char a[P2P_MADDR_STRMAX] = "";
        if (st->cl.status == P2P_REACH_PUBLIC && st->cl.addr.len) p2p_maddr_to_string(&st->cl.addr, a, sizeof a);
        p2p_log_info(MOD, "reachability: %s%s%s", autonat_reachability_name(st->cl.status), a[0] ? " at " : "", a);
    }
    p2p_host_set_reachability(st->h, &ri);
}

int autonat_take(p2p_buf *b, const uint8_t *data, size_t len, size_t *hdr, size_t *body)
{
    size_t room = b->limit - b->len, take = len < room ? len : room;
    if (take && p2p_buf_append(b, data, take) < 0) return P2P_ENOMEM;
    return p2p_varint_frame(p2p_buf_head(b), b->len, AUTONAT_MSG_MAX, hdr, body);
}

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct autonat_st *st = arg;
    if (st->stopped) return;
    if (st->client) autonat_client_on_event(st, ev);
}

/* ---- configuration and lifecycle ---------------------------------------------------- */

static const struct p2p_conf_key keys[] = {
    { "client", P2P_CONF_BOOL, "true", 0, 0, NULL,
      "find out whether we are reachable by asking connected AutoNAT servers to dial us back" },
    { "server", P2P_CONF_BOOL, "false", 0, 0, NULL,
      "answer other peers' dial-back requests (the protocol is advertised only then)" },
    /* server */
    { "allow", P2P_CONF_LIST, "public", 0, 0, NULL,
      "server: addresses we dial back (the requester's observed IP must be allowed too): public, private, "
      "loopback, link-local, all, or prefixes such as 198.18.0.0/15" },
    { "max_addresses", P2P_CONF_INT, "16", 1, AUTONAT_MAX_ADDRS, NULL,
      "server: addresses of one request we try (one after the other)" },
    { "dial_timeout", P2P_CONF_DURATION, "15s", 100, 120000, NULL, "server: time for one whole dial-back" },
    { "max_dialbacks", P2P_CONF_INT, "16", 1, 4096, NULL, "server: dial-backs in progress at once" },
    { "rate_per_peer", P2P_CONF_INT, "3", 1, 1000, NULL, "server: requests one peer may make per rate_interval" },
    { "rate_global", P2P_CONF_INT, "30", 1, 100000, NULL, "server: requests of all peers per rate_interval" },
    { "rate_interval", P2P_CONF_DURATION, "1m", 100, 86400000, NULL, "server: window of the rate limits" },
    { "max_streams", P2P_CONF_INT, "32", 1, 4096, NULL,
      "server: requests being read or answered at once (more are reset)" },
    { "read_timeout", P2P_CONF_DURATION, "10s", 100, 600000, NULL, "server: time for a client to send its request" },
    /* client */
    { "boot_delay", P2P_CONF_DURATION, "1s", 0, 3600000, NULL,
      "client: the first probe waits this long after start (identify first collects observed addresses)" },
    { "retry_interval", P2P_CONF_DURATION, "90s", 100, 86400000, NULL,
      "client: next probe while the status is unknown or not yet confirmed confidence_max times" },
    { "refresh_interval", P2P_CONF_DURATION, "15m", 100, 86400000, NULL,
      "client: next probe once the status is confirmed" },
    { "server_throttle", P2P_CONF_DURATION, "90s", 0, 86400000, NULL,
      "client: a server is not asked again within this time" },
    { "confidence_max", P2P_CONF_INT, "3", 0, 100, NULL,
      "client: agreeing answers that confirm a status (a confirmed status needs one more contrary answer "
      "than this to flip)" },
    { "servers_per_probe", P2P_CONF_INT, "3", 1, 16, NULL, "client: servers asked at once in one probe" },
    { "probe_timeout", P2P_CONF_DURATION, "30s", 100, 600000, NULL, "client: time for a server's answer" },
    P2P_CONF_KEYS_END
};

static void autonat_fini(void *state);

static int init_server(struct autonat_st *st, const p2p_conf_section *cf)
{
    char err[256];
    if (p2p_addr_policy_from_conf(&st->policy, cf, "allow", err, sizeof err) < 0) {
        p2p_host_set_error(st->h, "[plugin autonat] allow: %s", err);
        return P2P_ECONFIG;
    }
    st->max_addrs = (size_t)p2p_conf_int(cf, "max_addresses");
    st->max_streams = (size_t)p2p_conf_int(cf, "max_streams");
    st->dial_timeout_ms = p2p_conf_duration_ms(cf, "dial_timeout");
    st->read_timeout_ms = p2p_conf_duration_ms(cf, "read_timeout");
    struct autonat_limits lim = {
        .max_inflight = (unsigned)p2p_conf_int(cf, "max_dialbacks"),
        .per_peer = (unsigned)p2p_conf_int(cf, "rate_per_peer"),
        .global = (unsigned)p2p_conf_int(cf, "rate_global"),
        .interval_ms = p2p_conf_duration_ms(cf, "rate_interval"),
    };
    if (autonat_limiter_init(&st->lim, &lim, autonat_now(st)) < 0) {
        p2p_host_set_error(st->h, "out of memory");
        return P2P_ENOMEM;
    }
    st->lim_ok = true;
    int rc = p2p_protocol_add(st->h, AUTONAT_PROTOCOL, autonat_server_on_stream, st);
    if (rc < 0) p2p_host_set_error(st->h, "cannot register %s: %s", AUTONAT_PROTOCOL, p2p_strerror(rc));
    return rc;
}

static int autonat_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct autonat_st *st = calloc(1, sizeof *st);
    if (!st) return P2P_ENOMEM;
    st->h = h;
    st->refs = 1;
    st->server = p2p_conf_bool(cf, "server");
    st->client = p2p_conf_bool(cf, "client");
    an_list_init(&st->reqs);
    an_list_init(&st->probes);
    st->id = p2p_service_get(h, P2P_IDENTIFY_SERVICE, 1, &st->id_st);
    if (!st->server && !st->client) {
        p2p_host_set_error(h, "[plugin autonat] has neither client nor server enabled");
        free(st);
        return P2P_ECONFIG;
    }
    int rc = st->server ? init_server(st, cf) : 0;
    if (rc < 0) {
        autonat_limiter_free(&st->lim);
        free(st);
        return rc;
    }
    if (st->client) {
        struct autonat_status_cfg c = {
            .confidence_max = (unsigned)p2p_conf_int(cf, "confidence_max"),
            .servers_per_probe = (unsigned)p2p_conf_int(cf, "servers_per_probe"),
            .boot_delay_ms = p2p_conf_duration_ms(cf, "boot_delay"),
            .retry_ms = p2p_conf_duration_ms(cf, "retry_interval"),
            .refresh_ms = p2p_conf_duration_ms(cf, "refresh_interval"),
            .server_throttle_ms = p2p_conf_duration_ms(cf, "server_throttle"),
        };
        st->probe_timeout_ms = p2p_conf_duration_ms(cf, "probe_timeout");
        autonat_status_init(&st->cl, &c, autonat_now(st));
        /* From now on reachability is tracked: users (kad mode = auto,
         * relay reserve = auto) wait for our verdict. */
        autonat_publish(st, false);
    }
    *state = st;
    return 0;
}

static void on_timer(p2p_timer *t, void *arg)
{
    (void)t;
    autonat_client_tick(arg);
}

static int autonat_start(void *state)
{
    struct autonat_st *st = state;
    st->sub = p2p_host_subscribe(st->h, P2P_EV_IDENTIFIED | P2P_EV_ADDRS_CHANGED | P2P_EV_DISCONNECTED, on_event, st);
    if (!st->sub) return P2P_ENOMEM;
    if (st->client) {
        st->timer = p2p_timer_new(st->h, on_timer, st);
        if (!st->timer) return P2P_ENOMEM;
        struct autonat_status_cfg c = st->cl.cfg;
        autonat_status_init(&st->cl, &c, autonat_now(st));   /* the boot delay counts from start */
        autonat_client_tick(st);
    }
    st->started = true;
    p2p_log_debug(MOD, "started (client %s, server %s)", st->client ? "on" : "off", st->server ? "on" : "off");
    return 0;
}

static void autonat_stop(void *state)
{
    struct autonat_st *st = state;
    if (st->stopped) return;
    st->stopped = true;
    if (st->sub) p2p_host_unsubscribe(st->h, st->sub);
    st->sub = NULL;
    if (st->client) autonat_client_stop(st);
    if (st->server) autonat_server_stop(st);
    if (st->timer) p2p_timer_free(st->timer);
    st->timer = NULL;
}

static void autonat_fini(void *state)
{
    struct autonat_st *st = state;
    autonat_stop(st);
    if (st->server) p2p_protocol_remove(st->h, AUTONAT_PROTOCOL);
    autonat_st_unref(st);
}

static const char *const requires[] = { "identify", NULL };

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "autonat",
    .version = "1.0.0",
    .description = "AutoNAT v1 (/libp2p/autonat/1.0.0): are we publicly reachable? Client and dial-back server",
    .requires = requires,
    .config = keys,
    .init = autonat_init,
    .start = autonat_start,
    .stop = autonat_stop,
    .fini = autonat_fini,
});
