/* test_plugin.c - one source for the loader-test plugins. Each plugin
 * records its lifecycle calls through the "recorder" service (v1) that
 * the test program provides as a built-in plugin, so the test can check
 * the order of init/start/stop/fini across plugins. */
#include <stdlib.h>
#include <string.h>

#include "p2p/p2p.h"

struct recorder_api {
    void (*record)(void *state, const char *plugin, const char *event);
};

#ifndef TP_ABI_MAJOR
#define TP_ABI_MAJOR P2P_ABI_MAJOR
#endif
#ifndef TP_ABI_MINOR
#define TP_ABI_MINOR P2P_ABI_MINOR
#endif
#ifndef TP_DECLARED_NAME
#define TP_DECLARED_NAME TP_NAME
#endif

struct tp_state {
    p2p_host *host;
    const struct recorder_api *rec;
    void *rec_state;
    bool fail_start;
};

static void record(struct tp_state *s, const char *event)
{
    if (s->rec) s->rec->record(s->rec_state, TP_NAME, event);
}

static void on_stream(p2p_stream *st, const char *protocol_id, void *arg)
{
    (void)st; (void)protocol_id; (void)arg;
}

static int tp_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    if (p2p_conf_bool(cf, "fail_init")) {
        p2p_host_set_error(h, "could not frobnicate the %s widget", p2p_conf_str(cf, "greeting"));
        return P2P_EINVAL;
    }
    struct tp_state *s = calloc(1, sizeof *s);
    if (!s) return P2P_ENOMEM;
    s->host = h;
    s->fail_start = p2p_conf_bool(cf, "fail_start");
    s->rec = p2p_service_get(h, "recorder", 1, &s->rec_state);
    record(s, "init");
    int rc = p2p_protocol_add(h, "/test/" TP_NAME "/1.0.0", on_stream, s);
    if (rc == 0) rc = p2p_service_provide(h, "test-" TP_NAME, 1, &s->rec, s);
    if (rc) {
        free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static int tp_start(void *state)
{
    struct tp_state *s = state;
    record(s, "start");
    if (s->fail_start) {
        p2p_host_set_error(s->host, "port already taken by the test");
        return P2P_EBUSY;
    }
    return 0;
}

static void tp_stop(void *state) { record(state, "stop"); }

static void tp_fini(void *state)
{
    struct tp_state *s = state;
    record(s, "fini");
    p2p_protocol_remove(s->host, "/test/" TP_NAME "/1.0.0");
    p2p_service_withdraw(s->host, "test-" TP_NAME, 1);
    free(s);
}

#ifdef TP_REQUIRES
static const char *const tp_requires[] = { TP_REQUIRES, NULL };
#else
static const char *const tp_requires[] = { NULL };
#endif

static const struct p2p_conf_key tp_keys[] = {
    { "greeting", P2P_CONF_STR, "hello", 0, 0, NULL, "a string" },
    { "count", P2P_CONF_INT, "3", 1, 10, NULL, "a bounded integer" },
    { "fail_init", P2P_CONF_BOOL, "false", 0, 0, NULL, "make init fail" },
    { "fail_start", P2P_CONF_BOOL, "false", 0, 0, NULL, "make start fail" },
    P2P_CONF_KEYS_END
};

P2P_PLUGIN_EXPORT({
    .abi_major = TP_ABI_MAJOR,
    .abi_minor = TP_ABI_MINOR,
    .name = TP_DECLARED_NAME,
    .version = "0.0.1",
    .description = "loader test plugin " TP_NAME,
    .requires = tp_requires,
    .config = tp_keys,
    .init = tp_init,
    .start = tp_start,
    .stop = tp_stop,
    .fini = tp_fini,
});
