/* p2p/metrics.h - counters and gauges with labels, one registry per host.
 *
 * The core and plugins register metrics by name; an exporter (the
 * "metrics" plugin serves them in the Prometheus text format) reads them
 * all with p2p_metrics_visit(). Nothing is exported unless an exporter
 * is loaded, and updating a metric costs a function call and an add, so
 * instrumenting a hot path is cheap.
 *
 * Model (Prometheus'): a metric is a family with a name, a help line, a
 * type and a fixed list of label names; each distinct list of label
 * values is one series holding one number. A metric without labels has
 * exactly one series.
 *
 *     // in init: register once, look the series up once, keep the pointers
 *     p2p_metric *m = p2p_metric_register(h, "myproto_requests_total", P2P_METRIC_COUNTER,
 *                                         "Requests served, by result.", (const char *[]){ "result", NULL });
 *     st->ok = p2p_metric_get(m, (const char *[]){ "ok" });
 *     st->bad = p2p_metric_get(m, (const char *[]){ "malformed" });
 *     // on the hot path
 *     p2p_counter_add(st->ok, 1);
 *
 * Names: metric names match [a-zA-Z_:][a-zA-Z0-9_:]* and label names
 * [a-zA-Z_][a-zA-Z0-9_]* (not starting with "__"), at most
 * P2P_METRIC_NAME_MAX bytes; counters' names should end in "_total".
 * The core's own metrics start with "p2p_", a plugin's with
 * "p2p_<plugin>_" (see docs/reference/metrics.md for the list).
 *
 * Ownership and lifetimes: the registry belongs to the host and copies
 * every string it is given (names, help, label values), so a plugin may
 * pass strings that die with it. p2p_metric and p2p_metric_series
 * pointers stay valid until p2p_host_free, across plugin stop and fini:
 * metrics are never unregistered (a restarted plugin registers the same
 * names again and gets the same metrics back, with their values).
 * Collectors (code run before every visit) are the exception: they point
 * into their owner, which must remove them before its state goes (in
 * stop or fini).
 *
 * Bounds: at most P2P_METRIC_MAX_FAMILIES metrics per host,
 * P2P_METRIC_MAX_LABELS labels per metric and P2P_METRIC_MAX_SERIES
 * series per metric; beyond, the functions return NULL (and log a
 * warning once per metric). Every update function accepts NULL and does
 * nothing, so code does not need to check what registration returned.
 *
 * Threading: loop thread only, like the rest of the SDK. */
#ifndef P2P_METRICS_H
#define P2P_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"

P2P_BEGIN_DECLS

typedef struct p2p_host p2p_host;
typedef struct p2p_metric p2p_metric;
typedef struct p2p_metric_series p2p_metric_series;

#define P2P_METRIC_NAME_MAX 128       /* metric and label names */
#define P2P_METRIC_VALUE_MAX 256      /* label values, bytes */
#define P2P_METRIC_MAX_LABELS 8
#define P2P_METRIC_MAX_SERIES 512
#define P2P_METRIC_MAX_FAMILIES 1024

enum p2p_metric_type {
    P2P_METRIC_COUNTER = 1,   /* only goes up (uint64): events, bytes */
    P2P_METRIC_GAUGE = 2      /* goes up and down (int64): things open now */
};

/* Register a metric, or find the one registered under this name with the
 * same type and label names (help may differ; the first one stays).
 * labels: NULL-terminated label names, or NULL for none. Returns NULL
 * for a bad name, a clash (same name, other type or labels), or a full
 * registry, with a warning in the log. */
P2P_API p2p_metric *p2p_metric_register(p2p_host *h, const char *name, enum p2p_metric_type type,
                                        const char *help, const char *const *labels);
/* The metric registered under name, or NULL. */
P2P_API p2p_metric *p2p_metric_find(const p2p_host *h, const char *name);
/* The series of m for these label values (as many as m has labels; NULL
 * when it has none), created at 0 on first use. Values are any UTF-8 of
 * at most P2P_METRIC_VALUE_MAX bytes. The lookup is linear in the
 * number of series: look up once and keep the pointer where you can.
 * NULL if m is NULL, a value is NULL or too long, or m has
 * P2P_METRIC_MAX_SERIES series already. */
P2P_API p2p_metric_series *p2p_metric_get(p2p_metric *m, const char *const *values);

/* Shortcuts for metrics without labels: register (or find) and return
 * the one series. */
P2P_API p2p_metric_series *p2p_metric_counter(p2p_host *h, const char *name, const char *help);
P2P_API p2p_metric_series *p2p_metric_gauge(p2p_host *h, const char *name, const char *help);

/* Updates. Each accepts NULL and a series of the other type (and then
 * does nothing). */
P2P_API void p2p_counter_add(p2p_metric_series *s, uint64_t n);
P2P_API void p2p_gauge_set(p2p_metric_series *s, int64_t v);
P2P_API void p2p_gauge_add(p2p_metric_series *s, int64_t delta);
/* Current values (0 for NULL or the other type): for tests and tools. */
P2P_API uint64_t p2p_counter_value(const p2p_metric_series *s);
P2P_API int64_t p2p_gauge_value(const p2p_metric_series *s);

/* ---- collectors ----------------------------------------------------------- */

/* A gauge that is cheaper to compute on demand than to keep up to date
 * (entries in a table, peers in a routing table) is set by a collector:
 * fn(arg) runs at the start of every p2p_metrics_visit and sets gauges
 * with p2p_gauge_set. Returns 0, P2P_EEXIST (the same fn and arg twice),
 * P2P_ELIMIT (64 per host) or P2P_ENOMEM. */
typedef void (*p2p_metrics_collect_cb)(void *arg);
P2P_API int p2p_metrics_add_collector(p2p_host *h, p2p_metrics_collect_cb fn, void *arg);
/* Remove the collector (fn, arg); nothing if absent. */
P2P_API void p2p_metrics_remove_collector(p2p_host *h, p2p_metrics_collect_cb fn, void *arg);

/* ---- reading every metric (exporters) ------------------------------------- */

struct p2p_metric_info {
    const char *name;
    const char *help;                 /* "" when none was given */
    enum p2p_metric_type type;
    size_t nlabels;
    const char *const *labels;        /* nlabels label names */
};

struct p2p_metric_sample {
    const char *const *values;        /* info->nlabels label values */
    uint64_t counter;                 /* the value of a COUNTER */
    int64_t gauge;                    /* the value of a GAUGE */
};

/* Called once per metric, in registration order, with its series in
 * creation order (n may be 0: a labelled metric nothing has used yet).
 * Everything it points to is valid during the call only. */
typedef void (*p2p_metrics_visit_cb)(const struct p2p_metric_info *m, const struct p2p_metric_sample *samples,
                                     size_t n, void *arg);
/* Run the collectors, then cb for every metric. Returns 0, or P2P_ENOMEM
 * (the visit stopped). Must not be called from inside a collector or cb. */
P2P_API int p2p_metrics_visit(p2p_host *h, p2p_metrics_visit_cb cb, void *arg);

P2P_END_DECLS
#endif
