/* p2p/host.h - the host: one libp2p node (identity, loop, plugins,
 * registries). Several hosts can share one loop and one process.
 *
 * Threading: everything runs on the loop thread; no call is thread-safe. */
#ifndef P2P_HOST_H
#define P2P_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "api.h"
#include "config.h"
#include "crypto.h"
#include "peerid.h"
#include "plugin.h"

P2P_BEGIN_DECLS

typedef struct p2p_stream p2p_stream;   /* see p2p/stream.h */

/* Sections [app NAME] an application accepts, with their schemas. */
struct p2p_app_schema {
    const char *name;
    const struct p2p_conf_key *keys;
};

struct p2p_host_opts {
    uv_loop_t *loop;                     /* NULL: the host creates and owns one */
    const struct p2p_app_schema *apps;   /* NULL-name-terminated, or NULL */
    const p2p_keypair *key;              /* use this key, ignoring [host] identity */
    const struct p2p_plugin *const *builtin; /* descriptors linked into the program,
                                                found before the plugin path; NULL-terminated */
};

/* The [host] section's schema (for --help-config and docs). */
P2P_API const struct p2p_conf_key *p2p_host_schema(void);

/* Create a host from a configuration. Takes ownership of conf (also on
 * failure). Validates every section, sets up the identity and the log
 * filter (P2P_LOG in the environment wins over [host] log), loads every
 * [plugin NAME] and calls their init. On failure returns a negative code
 * and one sentence in err; *out is NULL.
 * Error codes: P2P_ECONFIG (bad config), P2P_ENOTFOUND, P2P_EABI, P2P_EDEP,
 * P2P_EEXIST, P2P_EPLUGIN (plugin load or init; P2P_ECONFIG when a
 * plugin's init returned it), P2P_EPERM/EIO (identity). */
P2P_API int p2p_host_new(p2p_host **out, p2p_conf *conf, const struct p2p_host_opts *opts,
                         char *err, size_t errlen);
/* Start plugins (in dependency order). On failure, the ones started are
 * stopped again and err names the plugin. */
P2P_API int p2p_host_start(p2p_host *h, char *err, size_t errlen);
/* Stop plugins in reverse order; idempotent. Handles may still be closing
 * afterwards: p2p_host_free runs the loop until they are. */
P2P_API void p2p_host_stop(p2p_host *h);
/* Stop if needed, fini plugins in reverse order, close every handle, free. */
P2P_API void p2p_host_free(p2p_host *h);

/* Apply a new configuration to a started host (p2pchat does on SIGHUP).
 * Takes ownership of conf (also on failure). Every section is validated
 * first; then only what can change at run time changes:
 *  - [host] log (unless P2P_LOG is set) - any other [host] key, any
 *    [app NAME] section, and the set of [plugin NAME] sections must be
 *    the same as before, else "... changed; restart to apply it";
 *  - a [plugin NAME] section that changed is handed to the plugin's
 *    reload (p2p/plugin.h), in start order; a plugin without reload
 *    refuses the change as above.
 * Returns the number of plugins reloaded (>= 0), or a negative code with
 * one sentence in err: P2P_ECONFIG (invalid, or a change that needs a
 * restart: nothing was changed), P2P_EPLUGIN (a plugin's reload failed:
 * the plugins before it in start order did apply their sections),
 * P2P_ELIMIT (more than 1000 reloads: restart). The previous
 * configurations stay in memory until p2p_host_free, because plugins may
 * hold pointers into them; p2p_host_conf returns the new one. */
P2P_API int p2p_host_reload(p2p_host *h, p2p_conf *conf, char *err, size_t errlen);

P2P_API uv_loop_t *p2p_host_loop(p2p_host *h);
P2P_API const p2p_peerid *p2p_host_peerid(const p2p_host *h);
P2P_API const p2p_keypair *p2p_host_keypair(const p2p_host *h);
P2P_API const p2p_conf *p2p_host_conf(const p2p_host *h);
/* The validated [host] section. */
P2P_API const p2p_conf_section *p2p_host_section(const p2p_host *h);
/* Whether the identity is ephemeral (not from a key file or seed) and why:
 * NULL when persistent, else a sentence. */
P2P_API const char *p2p_host_identity_note(const p2p_host *h);
/* The key file the identity was read from (or created in), NULL when the
 * identity is not kept in a file (ephemeral, a seed, p2p_host_opts.key, or
 * a file locked by another instance). Where per-identity state belongs. */
P2P_API const char *p2p_host_identity_file(const p2p_host *h);

/* For plugins: record the reason of a failure (one sentence, no trailing
 * period needed) before returning an error from init or start. */
P2P_API void p2p_host_set_error(p2p_host *h, const char *fmt, ...) P2P_PRINTF(2, 3);

/* Loaded plugins, in start order. */
P2P_API size_t p2p_host_plugin_count(const p2p_host *h);
P2P_API const struct p2p_plugin *p2p_host_plugin_at(const p2p_host *h, size_t i, const char **path);
/* The state pointer a plugin's init returned, or NULL if not loaded. */
P2P_API void *p2p_host_plugin_state(const p2p_host *h, const char *name);

/* ---- Registries ---------------------------------------------------- */

/* Handler of inbound streams whose protocol was negotiated to
 * protocol_id. The handler owns the stream from then on. */
typedef void (*p2p_protocol_handler)(p2p_stream *s, const char *protocol_id, void *arg);

/* Register a stream protocol (the id is copied). P2P_EEXIST if taken. */
P2P_API int p2p_protocol_add(p2p_host *h, const char *protocol_id, p2p_protocol_handler fn, void *arg);
P2P_API int p2p_protocol_remove(p2p_host *h, const char *protocol_id);
/* 0 and the handler, or P2P_ENOTFOUND. */
P2P_API int p2p_protocol_lookup(const p2p_host *h, const char *protocol_id,
                                p2p_protocol_handler *fn, void **arg);
/* Registered protocol ids in registration order (pointers valid until the
 * protocol is removed); returns the total count. */
P2P_API size_t p2p_protocol_list(const p2p_host *h, const char **ids, size_t max);

/* Named, versioned services: a provider offers a table of function
 * pointers (api, which must outlive the host or the provider's removal)
 * and the state passed as first argument to them. Several versions of one
 * name may be provided. P2P_EEXIST if (name, version) is taken. */
P2P_API int p2p_service_provide(p2p_host *h, const char *name, uint32_t version,
                                const void *api, void *state);
P2P_API int p2p_service_withdraw(p2p_host *h, const char *name, uint32_t version);
/* The api table of (name, version) and its state, or NULL. */
P2P_API const void *p2p_service_get(const p2p_host *h, const char *name, uint32_t version, void **state);

/* ---- Timers -------------------------------------------------------- */

typedef struct p2p_timer p2p_timer;
typedef void (*p2p_timer_cb)(p2p_timer *t, void *arg);

/* A timer on the host's loop, owned by the caller. p2p_timer_free may be
 * called from inside its own callback; memory is released once libuv has
 * closed the handle. Timers still alive at p2p_host_free are closed and
 * reported as leaks in the log. */
P2P_API p2p_timer *p2p_timer_new(p2p_host *h, p2p_timer_cb cb, void *arg);
/* Fire after timeout_ms, then every repeat_ms (0 = once). Restarts. */
P2P_API void p2p_timer_start(p2p_timer *t, uint64_t timeout_ms, uint64_t repeat_ms);
P2P_API void p2p_timer_stop(p2p_timer *t);
P2P_API void p2p_timer_free(p2p_timer *t);
/* Milliseconds of the loop's cached clock (monotonic). */
P2P_API uint64_t p2p_host_now_ms(const p2p_host *h);

/* ---- Memory budget --------------------------------------------------- */

/* The host-wide budget of buffered bytes ([host] max_buffered_bytes):
 * bytes that layers and plugins hold on behalf of streams (read and
 * write queues, unread input) are charged to the stream's connection
 * with p2p_stream_charge() (p2p/stream.h). When the total exceeds the
 * budget, the connection holding the most is closed (the offender, not
 * the others); above three quarters of it, connections holding more
 * than their fair share (budget / connections) get no new inbound
 * streams. A budget of 0 only counts. */
struct p2p_mem_stats {
    uint64_t budget;          /* max_buffered_bytes (0 = no budget) */
    uint64_t used;            /* charged now, all streams */
    uint64_t peak;            /* the most charged at once since start */
    uint64_t conns_closed;    /* connections closed over budget */
    uint64_t streams_refused; /* inbound streams refused under pressure */
};
P2P_API void p2p_host_mem_stats(const p2p_host *h, struct p2p_mem_stats *out);

/* ---- Deferred calls ------------------------------------------------ */

/* Run fn(arg) from the loop soon (before it next blocks for I/O), outside
 * the current call stack: the way to avoid re-entrancy. The caller owns d
 * (usually embedded in its own struct) and must cancel it before freeing
 * it. Scheduling an already scheduled d does nothing. */
struct p2p_defer {
    void (*fn)(void *arg);
    void *arg;
    struct p2p_defer *next_, *prev_;   /* private to the core */
    bool scheduled_;
};
P2P_API void p2p_defer_init(struct p2p_defer *d, void (*fn)(void *arg), void *arg);
P2P_API void p2p_defer_schedule(p2p_host *h, struct p2p_defer *d);
P2P_API void p2p_defer_cancel(p2p_host *h, struct p2p_defer *d);

P2P_END_DECLS
#endif
