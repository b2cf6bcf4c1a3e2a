/* The metrics registry (p2p/metrics.h): registration, clashes, series,
 * bounds, collectors, visiting. (The core's own metrics over real
 * connections: integration.metrics.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/p2p.h"
#include "testutil.h"

static p2p_host *host_new(const char *ini)
{
    char err[512];
    p2p_conf *cf = p2p_conf_load_string(ini, "test", err, sizeof err);
    ck_assert_msg(cf != NULL, "%s", err);
    p2p_host *h;
    int rc = p2p_host_new(&h, cf, NULL, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    return h;
}

static p2p_host *bare_host(void)
{
    return host_new("[host]\nephemeral_identity = true\nlisten =\nlog = error\n");
}

/* Visit result: "name{v1,v2}=value" lines. */
struct dump {
    char text[8192];
    size_t len;
};

static void dump_cb(const struct p2p_metric_info *m, const struct p2p_metric_sample *s, size_t n, void *arg)
{
    struct dump *d = arg;
    if (strncmp(m->name, "t_", 2)) return;   /* only this test's metrics */
    d->len += (size_t)snprintf(d->text + d->len, sizeof d->text - d->len, "%s(%zu)[%s]:", m->name, m->nlabels,
                               m->help);
    for (size_t i = 0; i < n; i++) {
        d->len += (size_t)snprintf(d->text + d->len, sizeof d->text - d->len, " {");
        for (size_t k = 0; k < m->nlabels; k++)
            d->len += (size_t)snprintf(d->text + d->len, sizeof d->text - d->len, "%s%s=%s", k ? "," : "",
                                       m->labels[k], s[i].values[k]);
        if (m->type == P2P_METRIC_COUNTER)
            d->len += (size_t)snprintf(d->text + d->len, sizeof d->text - d->len, "}=%llu",
                                       (unsigned long long)s[i].counter);
        else
            d->len += (size_t)snprintf(d->text + d->len, sizeof d->text - d->len, "}=%lld", (long long)s[i].gauge);
    }
    d->len += (size_t)snprintf(d->text + d->len, sizeof d->text - d->len, "\n");
}

START_TEST(register_and_update)
{
    p2p_host *h = bare_host();
    p2p_metric_series *c = p2p_metric_counter(h, "t_events_total", "Events.");
    p2p_metric_series *g = p2p_metric_gauge(h, "t_open", "Open now.");
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(g);
    p2p_counter_add(c, 3);
    p2p_counter_add(c, 4);
    p2p_gauge_add(g, 5);
    p2p_gauge_add(g, -7);
    ck_assert_uint_eq(p2p_counter_value(c), 7);
    ck_assert_int_eq(p2p_gauge_value(g), -2);
    p2p_gauge_set(g, 42);
    ck_assert_int_eq(p2p_gauge_value(g), 42);
    /* The wrong type and NULL do nothing. */
    p2p_gauge_set(c, 1);
    p2p_counter_add(g, 1);
    p2p_counter_add(NULL, 1);
    p2p_gauge_add(NULL, 1);
    ck_assert_uint_eq(p2p_counter_value(c), 7);
    ck_assert_int_eq(p2p_gauge_value(g), 42);
    ck_assert_uint_eq(p2p_counter_value(NULL), 0);
    /* Registering again gives the same metric and series back. */
    ck_assert_ptr_eq(p2p_metric_counter(h, "t_events_total", "other help"), c);
    ck_assert_ptr_eq(p2p_metric_find(h, "t_events_total"), p2p_metric_register(h, "t_events_total",
                                                                               P2P_METRIC_COUNTER, NULL, NULL));
    ck_assert_ptr_null(p2p_metric_find(h, "t_nothing"));
    /* Clashes: other type, other labels. */
    ck_assert_ptr_null(p2p_metric_gauge(h, "t_events_total", ""));
    ck_assert_ptr_null(p2p_metric_register(h, "t_events_total", P2P_METRIC_COUNTER, "",
                                           (const char *const[]){ "x", NULL }));
    p2p_host_free(h);
}
END_TEST

START_TEST(names)
{
    p2p_host *h = bare_host();
    ck_assert_ptr_null(p2p_metric_counter(h, "", ""));
    ck_assert_ptr_null(p2p_metric_counter(h, "1abc", ""));
    ck_assert_ptr_null(p2p_metric_counter(h, "a-b", ""));
    ck_assert_ptr_null(p2p_metric_counter(h, NULL, ""));
    ck_assert_ptr_nonnull(p2p_metric_counter(h, "t_a:b_c9", ""));
    ck_assert_ptr_nonnull(p2p_metric_counter(h, "_t", ""));
    char longname[P2P_METRIC_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    ck_assert_ptr_null(p2p_metric_counter(h, longname, ""));
    longname[P2P_METRIC_NAME_MAX] = 0;
    ck_assert_ptr_nonnull(p2p_metric_counter(h, longname, ""));
    /* Label names: no ':', no leading "__", no duplicates, at most 8. */
    ck_assert_ptr_null(p2p_metric_register(h, "t_l1", P2P_METRIC_GAUGE, "", (const char *const[]){ "a:b", NULL }));
    ck_assert_ptr_null(p2p_metric_register(h, "t_l2", P2P_METRIC_GAUGE, "", (const char *const[]){ "__x", NULL }));
    ck_assert_ptr_null(p2p_metric_register(h, "t_l3", P2P_METRIC_GAUGE, "", (const char *const[]){ "a", "a", NULL }));
    ck_assert_ptr_null(p2p_metric_register(h, "t_l4", P2P_METRIC_GAUGE, "",
                                           (const char *const[]){ "a", "b", "c", "d", "e", "f", "g", "h", "i", NULL }));
    ck_assert_ptr_nonnull(p2p_metric_register(h, "t_l5", P2P_METRIC_GAUGE, "",
                                              (const char *const[]){ "a", "b", "c", "d", "e", "f", "g", "h", NULL }));
    ck_assert_ptr_null(p2p_metric_register(h, "t_l6", (enum p2p_metric_type)7, "", NULL));
    p2p_host_free(h);
}
END_TEST

START_TEST(labels_and_bounds)
{
    p2p_host *h = bare_host();
    /* Label names and values are copied: pass stack buffers. */
    char ln[8] = "reason", v1[16] = "limit", v2[16] = "rate";
    p2p_metric *m = p2p_metric_register(h, "t_refused_total", P2P_METRIC_COUNTER, "Refusals.",
                                        (const char *const[]){ ln, NULL });
    ck_assert_ptr_nonnull(m);
    strcpy(ln, "zzz");
    p2p_metric_series *a = p2p_metric_get(m, (const char *const[]){ v1 });
    p2p_metric_series *b = p2p_metric_get(m, (const char *const[]){ v2 });
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    strcpy(v1, "rate");
    ck_assert_ptr_eq(p2p_metric_get(m, (const char *const[]){ v1 }), b);
    ck_assert_ptr_null(p2p_metric_get(m, NULL));
    ck_assert_ptr_null(p2p_metric_get(m, (const char *const[]){ NULL }));
    ck_assert_ptr_null(p2p_metric_get(NULL, NULL));
    char big[P2P_METRIC_VALUE_MAX + 2];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ck_assert_ptr_null(p2p_metric_get(m, (const char *const[]){ big }));
    p2p_counter_add(a, 2);
    /* At most P2P_METRIC_MAX_SERIES series; existing ones still work. */
    char v[32];
    for (int i = 2; i < P2P_METRIC_MAX_SERIES; i++) {
        snprintf(v, sizeof v, "r%d", i);
        ck_assert_ptr_nonnull(p2p_metric_get(m, (const char *const[]){ v }));
    }
    ck_assert_ptr_null(p2p_metric_get(m, (const char *const[]){ "one-too-many" }));
    ck_assert_ptr_eq(p2p_metric_get(m, (const char *const[]){ "limit" }), a);
    ck_assert_uint_eq(p2p_counter_value(a), 2);
    /* Metrics per host are bounded too. */
    int made = 0;
    for (int i = 0; i < P2P_METRIC_MAX_FAMILIES + 10; i++) {
        snprintf(v, sizeof v, "t_many_%d", i);
        if (p2p_metric_counter(h, v, "")) made++;
    }
    ck_assert_int_lt(made, P2P_METRIC_MAX_FAMILIES);
    ck_assert_int_gt(made, P2P_METRIC_MAX_FAMILIES - 64);
    p2p_host_free(h);
}
END_TEST

struct coll {
    p2p_metric_series *g;
    int runs;
};

static void collect(void *arg)
{
    struct coll *c = arg;
    p2p_gauge_set(c->g, 100 + ++c->runs);
}

START_TEST(visit_and_collectors)
{
    p2p_host *h = bare_host();
    p2p_counter_add(p2p_metric_counter(h, "t_c_total", "A counter."), 9);
    p2p_metric *lab = p2p_metric_register(h, "t_lab", P2P_METRIC_GAUGE, "Labelled.",
                                          (const char *const[]){ "a", "b", NULL });
    p2p_metric_register(h, "t_unused", P2P_METRIC_COUNTER, NULL, (const char *const[]){ "x", NULL });
    p2p_gauge_set(p2p_metric_get(lab, (const char *const[]){ "1", "2" }), -5);
    p2p_gauge_set(p2p_metric_get(lab, (const char *const[]){ "3", "4" }), 6);
    struct coll c = { .g = p2p_metric_gauge(h, "t_collected", "Set by a collector.") };
    ck_assert_int_eq(p2p_metrics_add_collector(h, collect, &c), 0);
    ck_assert_int_eq(p2p_metrics_add_collector(h, collect, &c), P2P_EEXIST);
    struct dump d = { .len = 0 };
    ck_assert_int_eq(p2p_metrics_visit(h, dump_cb, &d), 0);
    ck_assert_str_eq(d.text, "t_c_total(0)[A counter.]: {}=9\n"
                             "t_lab(2)[Labelled.]: {a=1,b=2}=-5 {a=3,b=4}=6\n"
                             "t_unused(1)[]:\n"
                             "t_collected(0)[Set by a collector.]: {}=101\n");
    ck_assert_int_eq(c.runs, 1);
    p2p_metrics_remove_collector(h, collect, &c);
    p2p_metrics_remove_collector(h, collect, &c);   /* absent: nothing */
    d.len = 0;
    ck_assert_int_eq(p2p_metrics_visit(h, dump_cb, &d), 0);
    ck_assert_int_eq(c.runs, 1);
    ck_assert_ptr_nonnull(strstr(d.text, "t_collected(0)[Set by a collector.]: {}=101\n"));
    ck_assert_int_eq(p2p_metrics_visit(h, NULL, NULL), P2P_EINVAL);
    p2p_host_free(h);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, register_and_update);
    tcase_add_test(tc, names);
    tcase_add_test(tc, labels_and_bounds);
    tcase_add_test(tc, visit_and_collectors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
