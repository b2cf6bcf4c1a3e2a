/* hello.c - a complete third-party plugin, built out of tree against the
 * installed SDK only (pkg-config libp2pcore). See docs/PLUGINS.md.
 *
 * It offers the service "hello" version 1, which front-ends and other
 * plugins look up by name with p2p_service_get(), and logs its greeting
 * once a second after start until it has done so `repeat` times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p2p/p2p.h>

/* The service table other code uses: the first argument is the state that
 * p2p_service_get() returns next to the table. */
struct hello_api_v1 {
    int (*greet)(void *state, const char *name, char *out, size_t cap);
};

struct hello {
    p2p_host *host;
    const char *greeting;      /* owned by the config, valid for the host's life */
    int64_t repeat, said;
    p2p_timer *timer;
};

static int hello_greet(void *state, const char *name, char *out, size_t cap)
{
    struct hello *h = state;
    int n = snprintf(out, cap, "%s, %s!", h->greeting, name);
    return n < 0 || (size_t)n >= cap ? P2P_ERANGE : n;
}

static const struct hello_api_v1 hello_api = { hello_greet };

static void on_tick(p2p_timer *t, void *arg)
{
    struct hello *h = arg;
    char id[P2P_PEERID_STRMAX], line[256];
    p2p_peerid_to_string(p2p_host_peerid(h->host), id, sizeof id);
    hello_greet(h, id, line, sizeof line);
    p2p_log_info("hello", "%s (%lld/%lld)", line, (long long)++h->said, (long long)h->repeat);
    if (h->said >= h->repeat) p2p_timer_stop(t);
}

static int hello_init(p2p_host *host, const p2p_conf_section *cf, void **state)
{
    struct hello *h = calloc(1, sizeof *h);
    if (!h) return P2P_ENOMEM;
    h->host = host;
    h->greeting = p2p_conf_str(cf, "greeting");
    h->repeat = p2p_conf_int(cf, "repeat");
    int rc = p2p_service_provide(host, "hello", 1, &hello_api, h);
    if (rc < 0) {
        p2p_host_set_error(host, "cannot provide the hello service: %s", p2p_strerror(rc));
        free(h);
        return rc;
    }
    *state = h;
    return 0;
}

static int hello_start(void *state)
{
    struct hello *h = state;
    h->timer = p2p_timer_new(h->host, on_tick, h);
    if (!h->timer) return P2P_ENOMEM;
    p2p_timer_start(h->timer, 0, 1000);
    return 0;
}

static void hello_stop(void *state)
{
    struct hello *h = state;
    p2p_timer_free(h->timer);
    h->timer = NULL;
}

static void hello_fini(void *state)
{
    struct hello *h = state;
    p2p_service_withdraw(h->host, "hello", 1);
    free(h);
}

static const struct p2p_conf_key hello_keys[] = {
    { "greeting", P2P_CONF_STR, "Hello", 0, 0, NULL, "word to greet with" },
    { "repeat", P2P_CONF_INT, "1", 1, 1000, NULL, "how many times to greet" },
    P2P_CONF_KEYS_END
};

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "hello",
    .version = "1.0.0",
    .description = "example plugin: a greeting service",
    .requires = NULL,
    .config = hello_keys,
    .init = hello_init,
    .start = hello_start,
    .stop = hello_stop,
    .fini = hello_fini,
});
