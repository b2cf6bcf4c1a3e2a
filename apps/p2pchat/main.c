/* main.c - p2pchat: load the configuration, run a host until SIGINT or
 * SIGTERM, shut down cleanly; reload what can change on SIGHUP. The mode (peer or relay) picks the
 * front-end; both are the same host with different plugins. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"
#include "cli.h"
#include "p2p/p2p.h"

struct app {
    p2p_host *host;
    struct chat *chat;
    uv_signal_t sigint, sigterm, sighup;
    int signals;
    uint64_t first_signal_ms;   /* loop time of the first SIGINT/SIGTERM */
    int argc;
    char **argv;
};

static void on_signal(uv_signal_t *s, int signum)
{
    struct app *a = s->data;
    uint64_t now = uv_now(s->loop);
    if (a->signals++) {
        /* The same stop delivered twice (timeout(1) signals the command
         * and then its whole process group) is not a second request. */
        if (now - a->first_signal_ms < 1000) return;
        fprintf(stderr, "p2pchat: second signal, exiting immediately\n");
        _exit(EXIT_RUNTIME);
    }
    a->first_signal_ms = now;
    p2p_log_info("p2pchat", "received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    chat_stop(a->chat);
    a->chat = NULL;
    p2p_host_stop(a->host);
    /* Keep catching signals while the host shuts down (closing the
     * handles would restore the default action: a late duplicate would
     * kill us with status 143), but let the loop end without them. */
    uv_unref((uv_handle_t *)&a->sigint);
    uv_unref((uv_handle_t *)&a->sigterm);
    uv_unref((uv_handle_t *)&a->sighup);
}

/* Relay mode: --port/--ipv6 become the listen address unless the
 * configuration names listen addresses itself. */
static int relay_listen(p2p_conf *conf)
{
    char err[512];
    p2p_conf_section *rs = p2p_conf_find(conf, "app relay");
    p2p_conf_section *hs = p2p_conf_find(conf, "host");
    if (!rs) return 0;
    for (const struct p2p_app_schema *a = p2pchat_apps; a->name; a++) {
        if (strcmp(a->name, "relay")) continue;
        if (p2p_conf_validate(rs, a->keys, err, sizeof err) != 0) {
            fprintf(stderr, "p2pchat: %s\n", err);
            return EXIT_CONFIG;
        }
    }
    if (hs && p2p_conf_is_set(hs, "listen")) return 0;
    char listen[128];
    snprintf(listen, sizeof listen, p2p_conf_bool(rs, "ipv6") ? "/ip6/::/tcp/%lld" : "/ip4/0.0.0.0/tcp/%lld",
             (long long)p2p_conf_int(rs, "port"));
    if (p2p_conf_set(conf, "host", "listen", listen, err, sizeof err) != 0) {
        fprintf(stderr, "p2pchat: %s\n", err);
        return EXIT_CONFIG;
    }
    return 0;
}

/* With --relay, also "listen" on /p2p-circuit: the relay plugin then keeps
 * reservations and we are reachable through the relays. */
static int add_circuit_listen(p2p_conf *conf)
{
    char err[512], listen[4096];
    p2p_conf_section *hs = p2p_conf_find(conf, "host");
    const char *cur = hs && p2p_conf_is_set(hs, "listen") ? p2p_conf_str(hs, "listen") : "/ip4/0.0.0.0/tcp/0";
    if (strstr(cur, "p2p-circuit")) return 0;
    snprintf(listen, sizeof listen, "%s%s/p2p-circuit", cur, cur[0] ? ", " : "");
    if (p2p_conf_set(conf, "host", "listen", listen, err, sizeof err) != 0) {
        fprintf(stderr, "p2pchat: %s\n", err);
        return EXIT_CONFIG;
    }
    return 0;
}

/* What the command line implies beyond the file: the same at start and
 * at every reload. */
static int prepare_conf(struct p2pchat_opts *o)
{
    int rc = 0;
    if (o->want_circuit) rc = add_circuit_listen(o->conf);
    if (!rc && o->mode == MODE_RELAY) rc = relay_listen(o->conf);
    return rc;
}

/* SIGHUP: read the configuration again (the same command line, so -c FILE
 * is read anew) and apply what can change while running - log levels and
 * the sections of plugins that can reload, such as the relay's limits
 * (p2p_host_reload). Anything else is refused and the node runs on
 * unchanged; the identity never changes. */
static void on_sighup(uv_signal_t *s, int signum)
{
    (void)signum;
    struct app *a = s->data;
    struct p2pchat_opts o;
    char err[1024];
    p2p_log_info("p2pchat", "received SIGHUP, reloading the configuration");
    if (p2pchat_parse_args(a->argc, a->argv, &o) >= 0 || prepare_conf(&o) != 0) {
        p2p_conf_free(o.conf);
        p2p_log_warn("p2pchat", "configuration not reloaded (see the error above); running on unchanged");
        return;
    }
    int n = p2p_host_reload(a->host, o.conf, err, sizeof err);
    if (n < 0) p2p_log_warn("p2pchat", "configuration not reloaded: %s", err);
    else p2p_log_info("p2pchat", "configuration reloaded (%d plugin(s) applied changes)", n);
}

static void print_identity(p2p_host *h, enum p2pchat_mode mode)
{
    char id[P2P_PEERID_STRMAX];
    p2p_peerid_to_string(p2p_host_peerid(h), id, sizeof id);
    printf("PeerId: %s\n", id);
    if (p2p_host_identity_note(h)) printf("Note: %s\n", p2p_host_identity_note(h));
    printf("Mode: %s\n", mode == MODE_RELAY ? "relay" : mode == MODE_PEER ? "peer" : "node");
    /* Full addresses, /p2p/ included, ready to paste into another peer. */
    p2p_multiaddr addrs[32];
    size_t n = p2p_host_listen_addrs(h, addrs, 32);
    printf("Listening on:%s\n", n ? "" : " (nothing)");
    for (size_t i = 0; i < n && i < 32; i++) {
        p2p_multiaddr full = addrs[i];
        char text[P2P_MADDR_STRMAX];
        const p2p_peerid *pid = p2p_host_peerid(h);
        if (p2p_maddr_push(&full, P2P_MA_P2P, pid->bytes, pid->len) == 0 &&
            p2p_maddr_to_string(&full, text, sizeof text) > 0)
            printf("  %s\n", text);
    }
    printf("Plugins:");
    for (size_t i = 0; i < p2p_host_plugin_count(h); i++) {
        const struct p2p_plugin *p = p2p_host_plugin_at(h, i, NULL);
        printf(" %s", p->name);
    }
    printf("%s\n", p2p_host_plugin_count(h) ? "" : " (none)");
    fflush(stdout);
}

/* --help-config: the [host] and [app] keys, then the keys of every plugin
 * the configuration (built-in or -c FILE) loads. The plugins are loaded
 * and initialised for that (no I/O, ephemeral identity), so what is
 * printed is exactly what their descriptors declare. */
static int print_config_help(p2p_conf *conf)
{
    char err[1024];
    p2p_conf_schema_print("host", p2p_host_schema(), stdout);
    for (const struct p2p_app_schema *a = p2pchat_apps; a->name; a++) {
        char name[64];
        snprintf(name, sizeof name, "app %s", a->name);
        p2p_conf_schema_print(name, a->keys, stdout);
    }
    p2p_host *h;
    struct p2p_host_opts hopts = { .apps = p2pchat_apps };
    if (p2p_conf_set(conf, "host", "ephemeral_identity", "true", err, sizeof err) != 0 ||
        p2p_conf_set(conf, "host", "listen", "", err, sizeof err) != 0 ||
        p2p_host_new(&h, conf, &hopts, err, sizeof err) < 0) {
        fprintf(stderr, "p2pchat: cannot list the plugins' keys: %s\n", err);
        return EXIT_CONFIG;
    }
    for (size_t i = 0; i < p2p_host_plugin_count(h); i++) {
        const struct p2p_plugin *p = p2p_host_plugin_at(h, i, NULL);
        char name[96];
        snprintf(name, sizeof name, "plugin %s", p->name);
        printf("; %s %s: %s\n", p->name, p->version, p->description ? p->description : "");
        p2p_conf_schema_print(name, p->config, stdout);
    }
    p2p_host_free(h);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    struct p2pchat_opts o;
    char err[1024];
    int rc = p2pchat_parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    if (o.help_config) return print_config_help(o.conf);
    if (o.mode == MODE_PERF) return p2pchat_perf_run(&o);
    /* A configuration file without [app chat] runs a plain node (no chat
     * front-end): useful for plugin hosts and tests. */
    bool run_chat = o.mode == MODE_PEER && (!o.config_file || p2p_conf_find(o.conf, "app chat"));
    if ((rc = prepare_conf(&o)) != 0) {
        p2p_conf_free(o.conf);
        return rc;
    }

    struct app a = { .argc = argc, .argv = argv };
    struct p2p_host_opts hopts = { .apps = p2pchat_apps };
    rc = p2p_host_new(&a.host, o.conf, &hopts, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "p2pchat: %s\n", err);
        return rc == P2P_ECONFIG ? EXIT_CONFIG : EXIT_RUNTIME;
    }
    if (p2p_host_start(a.host, err, sizeof err) < 0) {
        fprintf(stderr, "p2pchat: %s\n", err);
        p2p_host_free(a.host);
        return EXIT_RUNTIME;
    }
    /* Signals from here on: a script may stop us as soon as it has read
     * our PeerId (they are handled once the loop runs). */
    uv_loop_t *loop = p2p_host_loop(a.host);
    uv_signal_init(loop, &a.sigint);
    uv_signal_init(loop, &a.sigterm);
    uv_signal_init(loop, &a.sighup);
    a.sigint.data = a.sigterm.data = a.sighup.data = &a;
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);
    uv_signal_start(&a.sighup, on_sighup, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    const p2p_conf_section *app = run_chat ? p2p_conf_find(p2p_host_conf(a.host), "app chat") : NULL;
    /* --json: the chat's "ready" event says the same, as JSON. */
    if (!app || !p2p_conf_bool(app, "json"))
        print_identity(a.host, o.mode == MODE_PEER && !run_chat ? MODE_NONE : o.mode);
    if (run_chat) {
        a.chat = chat_start(a.host, app, err, sizeof err);
        if (!a.chat) {
            fprintf(stderr, "p2pchat: %s\n", err);
            uv_close((uv_handle_t *)&a.sigint, NULL);
            uv_close((uv_handle_t *)&a.sigterm, NULL);
            p2p_host_free(a.host);
            return EXIT_CONFIG;
        }
    }

    uv_run(loop, UV_RUN_DEFAULT);
    p2pchat_close_signals(loop, (uv_signal_t *const[]){ &a.sigint, &a.sigterm, &a.sighup }, 3);
    p2p_host_free(a.host);
    p2p_log_info("p2pchat", "stopped");
    return EXIT_OK;
}
