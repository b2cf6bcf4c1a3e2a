/* p2p/plugin.h - the plugin ABI.
 *
 * A plugin is a shared object p2p_<name>.so that exports exactly one
 * symbol, its descriptor, with P2P_PLUGIN_EXPORT:
 *
 *     static const char *const deps[] = { "transport-tcp", NULL };
 *     static const struct p2p_conf_key keys[] = {
 *         { "interval", P2P_CONF_DURATION, "15s", 1000, 0, NULL, "ping interval" },
 *         P2P_CONF_KEYS_END
 *     };
 *     P2P_PLUGIN_EXPORT({
 *         .abi_major = P2P_ABI_MAJOR, .abi_minor = P2P_ABI_MINOR,
 *         .name = "ping", .version = "1.0.0",
 *         .description = "libp2p ping protocol",
 *         .requires = deps, .config = keys,
 *         .init = ping_init, .start = ping_start, .stop = ping_stop, .fini = ping_fini,
 *     });
 *
 * The loader (one per host) checks, before calling anything: the file
 * exists on the plugin path, dlopen works, the descriptor symbol exists,
 * abi_major equals the core's and abi_minor is not newer than the core's,
 * the descriptor's name equals the configured name, no plugin of that name
 * is loaded yet, and every required plugin is configured. It validates the
 * plugin's config section against `config`, then calls init of every
 * plugin in dependency order (requirements first), then start in the same
 * order. At shutdown: stop in reverse order, then fini in reverse order.
 *
 * Rules for plugin authors (docs/PLUGINS.md has the full guide):
 * - No global mutable state: one .so serves several hosts in one process.
 *   Keep everything in the state pointer init returns; it is passed back to
 *   start/stop/fini.
 * - init registers what the plugin offers (p2p_protocol_add,
 *   p2p_service_provide, ...) and must not do I/O; start begins I/O
 *   (listening, timers). On failure, call p2p_host_set_error() with a
 *   sentence and return a negative P2P_E* code; the loader reports
 *   "plugin 'NAME' (FILE): init failed: SENTENCE" (P2P_ECONFIG from init
 *   stays P2P_ECONFIG: p2pchat exits 78 for it).
 * - fini releases everything init allocated. After stop the loop still
 *   runs until every handle is closed, so closing callbacks may fire
 *   between stop and fini.
 *
 * Reload (ABI 1.3): a plugin may also apply a changed section while it
 * runs (the descriptor's `reload`, see below and p2p_host_reload).
 *
 * ABI versioning: P2P_ABI_MAJOR changes on any incompatible change of the
 * SDK (struct layouts, function signatures, semantics); P2P_ABI_MINOR grows
 * when functions or trailing descriptor fields are added. A plugin built
 * against minor M runs on any core of the same major with minor >= M. */
#ifndef P2P_PLUGIN_H
#define P2P_PLUGIN_H

#include <stdint.h>
#include "api.h"
#include "config.h"

P2P_BEGIN_DECLS

#define P2P_ABI_MAJOR 1
#define P2P_ABI_MINOR 8

typedef struct p2p_host p2p_host;

struct p2p_plugin {
    uint32_t abi_major, abi_minor;      /* P2P_ABI_MAJOR, P2P_ABI_MINOR */
    const char *name;                   /* must equal NAME in p2p_NAME.so */
    const char *version;                /* the plugin's own version */
    const char *description;            /* one line */
    const char *const *requires;        /* NULL-terminated plugin names, or NULL */
    const struct p2p_conf_key *config;  /* schema of [plugin NAME], or NULL = no keys */
    int (*init)(p2p_host *h, const p2p_conf_section *cf, void **state);
    int (*start)(void *state);          /* may be NULL */
    void (*stop)(void *state);          /* may be NULL */
    void (*fini)(void *state);          /* may be NULL */
    /* ABI 1.3 and later (read only from plugins built for minor >= 3);
     * may be NULL. Apply a changed [plugin NAME] section while running
     * (p2p_host_reload, SIGHUP in p2pchat): cf is the new section,
     * validated against `config` and valid for the life of the host (the
     * old one stays valid too). Check everything first and change nothing
     * on failure: return a negative P2P_E* code after p2p_host_set_error()
     * to keep running with the old settings (e.g. for a key that needs a
     * restart; p2p_conf_key_changed tells which keys changed). Without
     * reload, any change of the section is refused with "restart to apply
     * it". */
    int (*reload)(void *state, const p2p_conf_section *cf);
};

/* The name of the one symbol a plugin exports. */
#define P2P_PLUGIN_SYMBOL "p2p_plugin_entry"
#define P2P_PLUGIN_EXPORT(...) \
    P2P_API extern const struct p2p_plugin p2p_plugin_entry; \
    P2P_API const struct p2p_plugin p2p_plugin_entry = __VA_ARGS__

/* ABI of the running core (may be newer than the headers a plugin used). */
P2P_API void p2p_abi_version(uint32_t *major, uint32_t *minor);

P2P_END_DECLS
#endif
