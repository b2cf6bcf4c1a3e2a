/* metrics.c - the host's metric registry (see p2p/metrics.h): families
 * with copied names and label values, series allocated one by one so
 * their pointers stay put, collectors run before each visit. */
#include <stdlib.h>
#include <string.h>

#include "host_internal.h"
#include "p2p/error.h"
#include "p2p/log.h"
#include "p2p/metrics.h"

#define MOD "metrics"
#define MAX_COLLECTORS 64

struct p2p_metric_series {
    enum p2p_metric_type type;
    uint64_t counter;
    int64_t gauge;
    const char *values[];             /* nlabels pointers, then the strings */
};

struct p2p_metric {
    char *name, *help;
    enum p2p_metric_type type;
    size_t nlabels;
    char *labels[P2P_METRIC_MAX_LABELS];
    p2p_metric_series **series;
    size_t nseries, cap;
    bool warned;                      /* the series limit was reported */
};

struct collector {
    p2p_metrics_collect_cb fn;
    void *arg;
};

struct p2p_metrics {
    p2p_metric **fams;
    size_t nfams, cap;
    struct collector colls[MAX_COLLECTORS];
    size_t ncolls;
};

int p2p_metrics_setup(p2p_host *h)
{
    h->metrics = calloc(1, sizeof *h->metrics);
    return h->metrics ? 0 : P2P_ENOMEM;
}

static void family_free(p2p_metric *m)
{
    for (size_t i = 0; i < m->nseries; i++) free(m->series[i]);
    for (size_t i = 0; i < m->nlabels; i++) free(m->labels[i]);
    free(m->series);
    free(m->name);
    free(m->help);
    free(m);
}

void p2p_metrics_free(p2p_host *h)
{
    struct p2p_metrics *r = h->metrics;
    if (!r) return;
    for (size_t i = 0; i < r->nfams; i++) family_free(r->fams[i]);
    free(r->fams);
    free(r);
    h->metrics = NULL;
}

/* Prometheus data model names (see the header). */
static bool valid_name(const char *s, bool label)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > P2P_METRIC_NAME_MAX) return false;
    if (label && n >= 2 && s[0] == '_' && s[1] == '_') return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

P2P_API p2p_metric *p2p_metric_find(const p2p_host *h, const char *name)
{
    const struct p2p_metrics *r = h ? h->metrics : NULL;
    for (size_t i = 0; r && name && i < r->nfams; i++)
        if (!strcmp(r->fams[i]->name, name)) return r->fams[i];
    return NULL;
}

static bool same_labels(const p2p_metric *m, const char *const *labels, size_t n)
{
    if (m->nlabels != n) return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(m->labels[i], labels[i])) return false;
    return true;
}

static p2p_metric *family_new(const char *name, enum p2p_metric_type type, const char *help,
                              const char *const *labels, size_t n)
{
    p2p_metric *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->type = type;
    m->nlabels = n;
    m->name = strdup(name);
    m->help = strdup(help ? help : "");
    bool ok = m->name && m->help;
    for (size_t i = 0; ok && i < n; i++) ok = (m->labels[i] = strdup(labels[i])) != NULL;
    if (!ok) {
        family_free(m);
        return NULL;
    }
    return m;
}

P2P_API p2p_metric *p2p_metric_register(p2p_host *h, const char *name, enum p2p_metric_type type,
                                        const char *help, const char *const *labels)
{
    struct p2p_metrics *r = h ? h->metrics : NULL;
    if (!r) return NULL;
    if (!valid_name(name, false) || (type != P2P_METRIC_COUNTER && type != P2P_METRIC_GAUGE)) {
        p2p_log_warn(MOD, "not registering metric '%s': bad name or type", name ? name : "(null)");
        return NULL;
    }
    size_t n = 0;
    while (labels && labels[n]) {
        if (n == P2P_METRIC_MAX_LABELS || !valid_name(labels[n], true)) {
            p2p_log_warn(MOD, "not registering metric '%s': bad label name or more than %d labels", name,
                         P2P_METRIC_MAX_LABELS);
            return NULL;
        }
        for (size_t k = 0; k < n; k++) {
            if (!strcmp(labels[k], labels[n])) {
                p2p_log_warn(MOD, "not registering metric '%s': label '%s' given twice", name, labels[n]);
                return NULL;
            }
        }
        n++;
    }
    p2p_metric *m = p2p_metric_find(h, name);
    if (m) {
        if (m->type == type && same_labels(m, labels, n)) return m;
        p2p_log_warn(MOD, "not registering metric '%s': registered already with another type or labels", name);
        return NULL;
    }
    if (r->nfams == P2P_METRIC_MAX_FAMILIES) {
        p2p_log_warn(MOD, "not registering metric '%s': %d metrics registered already", name,
                     P2P_METRIC_MAX_FAMILIES);
        return NULL;
    }
    if (r->nfams == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        p2p_metric **f = realloc(r->fams, cap * sizeof *f);
        if (!f) return NULL;
        r->fams = f;
        r->cap = cap;
    }
    m = family_new(name, type, help, labels, n);
    if (!m) return NULL;
    r->fams[r->nfams++] = m;
    /* A metric without labels always has its one series: it is exported
     * (as 0) before anything happens. */
    if (n == 0 && !p2p_metric_get(m, NULL)) return NULL;
    return m;
}

static bool series_matches(const p2p_metric *m, const p2p_metric_series *s, const char *const *values)
{
    for (size_t i = 0; i < m->nlabels; i++)
        if (strcmp(s->values[i], values[i])) return false;
    return true;
}

P2P_API p2p_metric_series *p2p_metric_get(p2p_metric *m, const char *const *values)
{
    if (!m || (m->nlabels && !values)) return NULL;
    size_t bytes = 0;
    for (size_t i = 0; i < m->nlabels; i++) {
        size_t l = values[i] ? strlen(values[i]) : SIZE_MAX;
        if (l > P2P_METRIC_VALUE_MAX) return NULL;
        bytes += l + 1;
    }
    for (size_t i = 0; i < m->nseries; i++)
        if (series_matches(m, m->series[i], values)) return m->series[i];
    if (m->nseries == P2P_METRIC_MAX_SERIES) {
        if (!m->warned)
            p2p_log_warn(MOD, "metric '%s' has %d series already; further label values are not counted", m->name,
                         P2P_METRIC_MAX_SERIES);
        m->warned = true;
        return NULL;
    }
    if (m->nseries == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4;
        p2p_metric_series **a = realloc(m->series, cap * sizeof *a);
        if (!a) return NULL;
        m->series = a;
        m->cap = cap;
    }
    p2p_metric_series *s = calloc(1, sizeof *s + m->nlabels * sizeof(char *) + bytes);
    if (!s) return NULL;
    s->type = m->type;
    char *p = (char *)&s->values[m->nlabels];
    for (size_t i = 0; i < m->nlabels; i++) {
        size_t l = strlen(values[i]) + 1;
        memcpy(p, values[i], l);
        s->values[i] = p;
        p += l;
    }
    m->series[m->nseries++] = s;
    return s;
}

static p2p_metric_series *single(p2p_host *h, const char *name, enum p2p_metric_type type, const char *help)
{
    return p2p_metric_get(p2p_metric_register(h, name, type, help, NULL), NULL);
}

P2P_API p2p_metric_series *p2p_metric_counter(p2p_host *h, const char *name, const char *help)
{
    return single(h, name, P2P_METRIC_COUNTER, help);
}

P2P_API p2p_metric_series *p2p_metric_gauge(p2p_host *h, const char *name, const char *help)
{
    return single(h, name, P2P_METRIC_GAUGE, help);
}

P2P_API void p2p_counter_add(p2p_metric_series *s, uint64_t n)
{
    if (s && s->type == P2P_METRIC_COUNTER) s->counter += n;
}

P2P_API void p2p_gauge_set(p2p_metric_series *s, int64_t v)
{
    if (s && s->type == P2P_METRIC_GAUGE) s->gauge = v;
}

P2P_API void p2p_gauge_add(p2p_metric_series *s, int64_t delta)
{
    if (s && s->type == P2P_METRIC_GAUGE) s->gauge += delta;
}

P2P_API uint64_t p2p_counter_value(const p2p_metric_series *s)
{
    return s && s->type == P2P_METRIC_COUNTER ? s->counter : 0;
}

P2P_API int64_t p2p_gauge_value(const p2p_metric_series *s)
{
    return s && s->type == P2P_METRIC_GAUGE ? s->gauge : 0;
}

P2P_API int p2p_metrics_add_collector(p2p_host *h, p2p_metrics_collect_cb fn, void *arg)
{
    struct p2p_metrics *r = h ? h->metrics : NULL;
    if (!r || !fn) return P2P_EINVAL;
    for (size_t i = 0; i < r->ncolls; i++)
        if (r->colls[i].fn == fn && r->colls[i].arg == arg) return P2P_EEXIST;
    if (r->ncolls == MAX_COLLECTORS) return P2P_ELIMIT;
    r->colls[r->ncolls++] = (struct collector){ fn, arg };
    return 0;
}

P2P_API void p2p_metrics_remove_collector(p2p_host *h, p2p_metrics_collect_cb fn, void *arg)
{
    struct p2p_metrics *r = h ? h->metrics : NULL;
    for (size_t i = 0; r && i < r->ncolls; i++) {
        if (r->colls[i].fn != fn || r->colls[i].arg != arg) continue;
        memmove(&r->colls[i], &r->colls[i + 1], (r->ncolls - i - 1) * sizeof r->colls[0]);
        r->ncolls--;
        return;
    }
}

P2P_API int p2p_metrics_visit(p2p_host *h, p2p_metrics_visit_cb cb, void *arg)
{
    struct p2p_metrics *r = h ? h->metrics : NULL;
    if (!r || !cb) return P2P_EINVAL;
    for (size_t i = 0; i < r->ncolls; i++) r->colls[i].fn(r->colls[i].arg);
    struct p2p_metric_sample *samples = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < r->nfams; i++) {
        const p2p_metric *m = r->fams[i];
        if (m->nseries > cap) {
            struct p2p_metric_sample *a = realloc(samples, m->nseries * sizeof *a);
            if (!a) {
                free(samples);
                return P2P_ENOMEM;
            }
            samples = a;
            cap = m->nseries;
        }
        for (size_t k = 0; k < m->nseries; k++)
            samples[k] = (struct p2p_metric_sample){ .values = m->series[k]->values,
                                                     .counter = m->series[k]->counter,
                                                     .gauge = m->series[k]->gauge };
        struct p2p_metric_info info = { .name = m->name, .help = m->help, .type = m->type,
                                        .nlabels = m->nlabels, .labels = (const char *const *)m->labels };
        cb(&info, samples, m->nseries, arg);
    }
    free(samples);
    return 0;
}
