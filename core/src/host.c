/* host.c - host lifecycle: config, identity, plugins, shutdown. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "swarm.h"
#include "p2p/error.h"
#include "p2p/log.h"
#include "util.h"

#define MOD "host"

static const struct p2p_conf_key host_keys[] = {
    { "identity", P2P_CONF_PATH, NULL, 0, 0, NULL,
      "key file of the persistent identity (default: $XDG_DATA_HOME/p2pchat/identity.key)" },
    { "ephemeral_identity", P2P_CONF_BOOL, "false", 0, 0, NULL,
      "use a fresh random identity instead of the key file" },
    { "secret_key_seed", P2P_CONF_INT, NULL, 0, 255, NULL,
      "deterministic identity: Ed25519 secret [N, 0, ..., 0] (rust-libp2p examples' --secret-key-seed)" },
    { "listen", P2P_CONF_MADDR_LIST, "/ip4/0.0.0.0/tcp/0", 0, 0, NULL,
      "addresses to listen on (comma-separated multiaddrs)" },
    { "plugin_path", P2P_CONF_LIST, NULL, 0, 0, NULL,
      "directories searched for p2p_NAME.so before the built-in plugin directory" },
    { "log", P2P_CONF_STR, "info", 0, 0, NULL,
      "log filter, e.g. info,yamux=trace (the P2P_LOG environment variable wins)" },
    { "max_connections", P2P_CONF_INT, "1024", 1, 1000000, NULL,
      "connections in total (inbound and outbound)" },
    { "max_connections_per_peer", P2P_CONF_INT, "2", 1, 64, NULL,
      "connections to one peer at a time" },
    { "max_pending_incoming", P2P_CONF_INT, "128", 1, 100000, NULL,
      "inbound connections in their handshake at a time" },
    { "max_incoming_per_ip", P2P_CONF_INT, "32", 0, 100000, NULL,
      "inbound connections (established or in their handshake) from one IPv4 address or IPv6 /64 (0 = no limit)" },
    { "limit_loopback", P2P_CONF_BOOL, "false", 0, 0, NULL,
      "apply max_incoming_per_ip to loopback addresses too (local tests and tools are exempt by default)" },
    { "max_pending_outgoing", P2P_CONF_INT, "128", 1, 100000, NULL,
      "outbound dials and handshakes at a time" },
    { "dial_timeout", P2P_CONF_DURATION, "10s", 100, 3600000, NULL,
      "time to establish a transport connection" },
    { "upgrade_timeout", P2P_CONF_DURATION, "15s", 100, 3600000, NULL,
      "time for security and muxer negotiation and handshakes" },
    { "stream_negotiation_timeout", P2P_CONF_DURATION, "10s", 100, 3600000, NULL,
      "time for a new stream to agree on a protocol" },
    { "max_negotiating_streams", P2P_CONF_INT, "128", 1, 65536, NULL,
      "inbound streams of one connection agreeing on a protocol at a time; more are reset at once" },
    { "max_buffered_bytes", P2P_CONF_SIZE, "256MiB", 0, INT64_C(1) << 40, NULL,
      "bytes all connections may hold in stream queues together; over it the connection holding the most is "
      "closed (0 = no budget)" },
    { "auto_dial", P2P_CONF_BOOL, "true", 0, 0, NULL,
      "dial peers that discovery (mDNS, DHT) finds, within the connection limits" },
    { "close_timeout", P2P_CONF_DURATION, "10s", 0, 3600000, NULL,
      "time streams get to finish when a connection is closed gracefully" },
    { "idle_timeout", P2P_CONF_DURATION, "5m", 0, 604800000, NULL,
      "close connections without streams after this long (0 = never)" },
    { "memory_trim_delay", P2P_CONF_DURATION, "2s", 0, 3600000, NULL,
      "after a connection closes, give the memory freed meanwhile back to the system (malloc_trim) this much "
      "later; at most once per this delay in the process (0 = never)" },
    P2P_CONF_KEYS_END
};

P2P_API const struct p2p_conf_key *p2p_host_schema(void) { return host_keys; }

/* The [host] keys p2p_host_reload may change. */
bool p2p_host_key_reloadable(const char *key)
{
    return !strcmp(key, "log");
}

P2P_API void p2p_host_set_error(p2p_host *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->error, sizeof h->error, fmt, ap);
    va_end(ap);
}

static int set_note(p2p_host *h, const char *fmt, ...) P2P_PRINTF(2, 3);
static int set_note(p2p_host *h, const char *fmt, ...)
{
    char buf[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(h->identity_note);
    h->identity_note = strdup(buf);
    return h->identity_note ? 0 : P2P_ENOMEM;
}

static int setup_identity(p2p_host *h, const struct p2p_host_opts *opts, char *err, size_t errlen)
{
    const p2p_conf_section *hs = h->host_section;
    if (opts && opts->key) {
        h->key = *opts->key;
    } else if (p2p_conf_is_set(hs, "secret_key_seed")) {
        p2p_keypair_from_seed_byte(&h->key, (uint8_t)p2p_conf_int(hs, "secret_key_seed"));
    } else if (p2p_conf_bool(hs, "ephemeral_identity")) {
        p2p_keypair_generate(&h->key);
        set_note(h, "ephemeral identity (ephemeral_identity = true)");
    } else {
        char def[4096];
        const char *path = p2p_conf_path(hs, "identity");
        if (!path) {
            if (p2p_identity_default_path(def, sizeof def) != 0) {
                p2p_errf(err, errlen, "cannot find a place for the identity file: set [host] identity, "
                         "$XDG_DATA_HOME or $HOME");
                return P2P_ECONFIG;
            }
            path = def;
        }
        char why[640];
        int rc = p2p_identity_open(path, &h->key, &h->identity_lock_fd, why, sizeof why);
        if (rc == P2P_EBUSY) {
            /* A second instance of the same user (the seed's two-terminal
             * scenario) must get its own PeerId, not fail. */
            p2p_keypair_generate(&h->key);
            set_note(h, "%s; running with an ephemeral identity", why);
        } else if (rc < 0) {
            p2p_errf(err, errlen, "%s", why);
            return rc;
        } else if (!(h->identity_file = strdup(path))) {
            return P2P_ENOMEM;
        }
    }
    p2p_pubkey pub;
    p2p_keypair_public(&h->key, &pub);
    int rc = p2p_peerid_from_pubkey(&h->id, &pub);
    if (rc < 0) {
        p2p_errf(err, errlen, "cannot derive the PeerId: %s", p2p_strerror(rc));
        return rc;
    }
    return 0;
}

static int setup_logging(p2p_host *h, char *err, size_t errlen)
{
    char why[256];
    const char *env = getenv("P2P_LOG");
    if (env && *env) {
        if (p2p_log_set_filter(env, why, sizeof why) != 0) {
            p2p_errf(err, errlen, "environment variable P2P_LOG: %s", why);
            return P2P_ECONFIG;
        }
        return 0;
    }
    if (p2p_log_set_filter(p2p_conf_str(h->host_section, "log"), why, sizeof why) != 0) {
        p2p_errf(err, errlen, "%s: [host] log: %s", p2p_conf_section_origin(h->host_section), why);
        return P2P_ECONFIG;
    }
    return 0;
}

int p2p_host_check_apps(p2p_host *h, p2p_conf *conf, char *err, size_t errlen)
{
    for (size_t i = 0; i < p2p_conf_section_count(conf); i++) {
        p2p_conf_section *sec = p2p_conf_section_at(conf, i);
        if (strcmp(p2p_conf_section_kind(sec), "app")) continue;
        const char *name = p2p_conf_section_name(sec);
        const struct p2p_app_schema *a = h->apps;
        while (a && a->name && strcmp(a->name, name)) a++;
        if (!a || !a->name) {
            char known[256] = "";
            for (const struct p2p_app_schema *k = h->apps; k && k->name; k++) {
                size_t l = strlen(known);
                snprintf(known + l, sizeof known - l, "%s[app %s]", l ? ", " : "", k->name);
            }
            p2p_errf(err, errlen, "%s: unknown section [app %s]; this program accepts %s",
                     p2p_conf_section_origin(sec), name, known[0] ? known : "no [app] sections");
            return P2P_ECONFIG;
        }
        if (p2p_conf_validate(sec, a->keys, err, errlen) != 0) return P2P_ECONFIG;
    }
    return 0;
}

P2P_API int p2p_host_new(p2p_host **out, p2p_conf *conf, const struct p2p_host_opts *opts,
                         char *err, size_t errlen)
{
    *out = NULL;
    if (!conf) {
        p2p_errf(err, errlen, "no configuration given");
        return P2P_EINVAL;
    }
    p2p_host *h = calloc(1, sizeof *h);
    if (!h) {
        p2p_conf_free(conf);
        p2p_errf(err, errlen, "out of memory");
        return P2P_ENOMEM;
    }
    h->conf = conf;
    h->apps = opts ? opts->apps : NULL;
    h->identity_lock_fd = -1;
    p2p_list_init(&h->timers);
    if (opts && opts->loop) {
        h->loop = opts->loop;
    } else {
        if (uv_loop_init(&h->own_loop) != 0) {
            p2p_errf(err, errlen, "cannot create the event loop");
            p2p_conf_free(conf);
            free(h);
            return P2P_EIO;
        }
        h->loop = &h->own_loop;
        h->owns_loop = true;
    }
    p2p_defer_setup(h);

    int rc = 0;
    char tmp[64];
    h->host_section = p2p_conf_find(conf, "host");
    if (!h->host_section) h->host_section = p2p_conf_add_section(conf, "host", tmp, sizeof tmp);
    if (!h->host_section) {
        p2p_errf(err, errlen, "out of memory");
        rc = P2P_ENOMEM;
    }
    if (!rc && p2p_conf_validate(h->host_section, host_keys, err, errlen) != 0) rc = P2P_ECONFIG;
    if (!rc) rc = setup_logging(h, err, errlen);
    if (!rc) rc = p2p_host_check_apps(h, conf, err, errlen);
    if (!rc) rc = setup_identity(h, opts, err, errlen);
    if (!rc && (rc = p2p_metrics_setup(h)) < 0) p2p_errf(err, errlen, "out of memory");
    if (!rc) rc = p2p_swarm_init(h, err, errlen);
    if (!rc && (rc = p2p_memtrim_init(h)) < 0) p2p_errf(err, errlen, "out of memory");
    if (!rc) rc = p2p_loader_load(h, opts ? opts->builtin : NULL, err, errlen);
    if (!rc) rc = p2p_loader_init(h, err, errlen);
    if (rc) {
        p2p_host_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

P2P_API int p2p_host_start(p2p_host *h, char *err, size_t errlen)
{
    if (h->started) return 0;
    int rc = p2p_loader_start(h, err, errlen);
    if (rc < 0) return rc;
    h->started = true;
    rc = p2p_swarm_start(h, err, errlen);
    if (rc < 0) {
        p2p_host_stop(h);
        return rc;
    }
    p2p_swarm_start_idle(h);
    return 0;
}

P2P_API void p2p_host_stop(p2p_host *h)
{
    if (!h->started) return;
    /* Connections first: they use the plugins' transports and muxers. */
    p2p_swarm_stop(h);
    p2p_loader_stop(h);
    h->started = false;
}

static void close_walk(uv_handle_t *hd, void *arg)
{
    (void)arg;
    if (!uv_is_closing(hd)) {
        p2p_log_warn(MOD, "closing a leftover libuv handle of type %s at shutdown",
                     uv_handle_type_name(uv_handle_get_type(hd)));
        uv_close(hd, NULL);
    }
}

P2P_API void p2p_host_free(p2p_host *h)
{
    if (!h) return;
    p2p_host_stop(h);
    p2p_swarm_stop(h);   /* also when the host never started */
    /* Let deferred work and close callbacks of stopped plugins run while
     * their code is mapped (bounded: a deferred call may reschedule). */
    for (int i = 0; i < 100 && (h->defer_head || i == 0); i++) uv_run(h->loop, UV_RUN_NOWAIT);
    p2p_loader_fini(h);
    p2p_memtrim_free(h);
    p2p_timers_close_all(h);
    p2p_membudget_free(h);
    p2p_defer_teardown(h);
    if (h->owns_loop) {
        uv_run(h->loop, UV_RUN_DEFAULT);
        uv_walk(h->loop, close_walk, NULL);
        uv_run(h->loop, UV_RUN_DEFAULT);
        uv_loop_close(h->loop);
    } else {
        /* Shared loop: run it until our own handle (embedded in h) is
         * closed; the other hosts' handles stay untouched. */
        while (!h->defer_closed) uv_run(h->loop, UV_RUN_NOWAIT);
    }
    p2p_loader_unload(h);
    p2p_swarm_free(h);
    p2p_peerstore_free(h);
    p2p_events_free(h);
    p2p_registry_free(h);
    p2p_layers_free(h);
    if (h->identity_lock_fd >= 0) close(h->identity_lock_fd);
    p2p_keypair_wipe(&h->key);
    free(h->identity_note);
    free(h->identity_file);
    p2p_conf_free(h->conf);
    for (size_t i = 0; i < h->nretired; i++) p2p_conf_free(h->retired[i]);
    free(h->retired);
    p2p_metrics_free(h);
    free(h);
}

P2P_API uv_loop_t *p2p_host_loop(p2p_host *h) { return h->loop; }
P2P_API const p2p_peerid *p2p_host_peerid(const p2p_host *h) { return &h->id; }
P2P_API const p2p_keypair *p2p_host_keypair(const p2p_host *h) { return &h->key; }
P2P_API const p2p_conf *p2p_host_conf(const p2p_host *h) { return h->conf; }
P2P_API const p2p_conf_section *p2p_host_section(const p2p_host *h) { return h->host_section; }
P2P_API const char *p2p_host_identity_note(const p2p_host *h) { return h->identity_note; }
P2P_API const char *p2p_host_identity_file(const p2p_host *h) { return h->identity_file; }

P2P_API size_t p2p_host_plugin_count(const p2p_host *h) { return h->nplugins; }

P2P_API const struct p2p_plugin *p2p_host_plugin_at(const p2p_host *h, size_t i, const char **path)
{
    if (i >= h->nplugins) return NULL;
    if (path) *path = h->plugins[i].path;
    return h->plugins[i].desc;
}

P2P_API void *p2p_host_plugin_state(const p2p_host *h, const char *name)
{
    for (size_t i = 0; i < h->nplugins; i++)
        if (!strcmp(h->plugins[i].desc->name, name)) return h->plugins[i].state;
    return NULL;
}
