/* The Prometheus text format 0.0.4 of the metrics plugin (metrics_prom.c):
 * HELP and TYPE lines, label syntax, escaping, integer values, metrics
 * without series; and a whole host's registry. */
#include <string.h>

#include "metrics_prom.h"
#include "p2p/p2p.h"
#include "testutil.h"

static void expect(p2p_buf *b, const char *want)
{
    ck_assert_int_eq(p2p_buf_append_byte(b, 0), 0);
    ck_assert_str_eq((const char *)p2p_buf_head(b), want);
    p2p_buf_reset(b);
}

START_TEST(format_metric)
{
    p2p_buf b;
    p2p_buf_init(&b, 0);
    const char *labels[] = { "reason", "peer" };
    struct p2p_metric_info m = { "p2p_relay_refused_total", "Refusals\\by reason\nand peer.", P2P_METRIC_COUNTER, 2,
                                 labels };
    struct p2p_metric_sample s[] = {
        { (const char *const[]){ "rate", "a" }, 18446744073709551615ull, 0 },
        { (const char *const[]){ "say \"hi\"\\\n", "" }, 0, 0 },
    };
    ck_assert_int_eq(prom_format_metric(&b, &m, s, 2), 0);
    expect(&b, "# HELP p2p_relay_refused_total Refusals\\\\by reason\\nand peer.\n"
               "# TYPE p2p_relay_refused_total counter\n"
               "p2p_relay_refused_total{reason=\"rate\",peer=\"a\"} 18446744073709551615\n"
               "p2p_relay_refused_total{reason=\"say \\\"hi\\\"\\\\\\n\",peer=\"\"} 0\n");
    /* A gauge without labels and without help; negative values. */
    struct p2p_metric_info g = { "p2p_open", "", P2P_METRIC_GAUGE, 0, NULL };
    struct p2p_metric_sample gs = { NULL, 0, -9223372036854775807ll - 1 };
    ck_assert_int_eq(prom_format_metric(&b, &g, &gs, 1), 0);
    expect(&b, "# TYPE p2p_open gauge\np2p_open -9223372036854775808\n");
    /* No series yet: HELP and TYPE only (valid exposition). */
    ck_assert_int_eq(prom_format_metric(&b, &m, NULL, 0), 0);
    expect(&b, "# HELP p2p_relay_refused_total Refusals\\\\by reason\\nand peer.\n"
               "# TYPE p2p_relay_refused_total counter\n");
    /* UTF-8 passes through unchanged. */
    struct p2p_metric_sample u = { (const char *const[]){ "caf\xc3\xa9", "\xe2\x82\xac" }, 1, 0 };
    ck_assert_int_eq(prom_format_metric(&b, &m, &u, 1), 0);
    expect(&b, "# HELP p2p_relay_refused_total Refusals\\\\by reason\\nand peer.\n"
               "# TYPE p2p_relay_refused_total counter\n"
               "p2p_relay_refused_total{reason=\"caf\xc3\xa9\",peer=\"\xe2\x82\xac\"} 1\n");
    p2p_buf_free(&b);
    /* The output buffer's limit is an error, not a truncation. */
    p2p_buf small;
    p2p_buf_init(&small, 16);
    ck_assert_int_eq(prom_format_metric(&small, &m, s, 2), P2P_ELIMIT);
    p2p_buf_free(&small);
}
END_TEST

START_TEST(format_host)
{
    char err[256];
    p2p_conf *cf = p2p_conf_load_string("[host]\nephemeral_identity = true\nlisten =\nlog = error\n", "t", err, sizeof err);
    p2p_host *h;
    ck_assert_int_eq(p2p_host_new(&h, cf, NULL, err, sizeof err), 0);
    p2p_metric *m = p2p_metric_register(h, "t_requests_total", P2P_METRIC_COUNTER, "Requests.",
                                        (const char *const[]){ "code", NULL });
    p2p_counter_add(p2p_metric_get(m, (const char *const[]){ "200" }), 3);
    p2p_counter_add(p2p_metric_get(m, (const char *const[]){ "404" }), 1);
    p2p_gauge_set(p2p_metric_gauge(h, "t_up", "Up."), 1);
    p2p_buf b;
    p2p_buf_init(&b, 0);
    ck_assert_int_eq(prom_format_host(&b, h), 0);
    ck_assert_int_eq(p2p_buf_append_byte(&b, 0), 0);
    const char *text = (const char *)p2p_buf_head(&b);
    ck_assert_ptr_nonnull(strstr(text, "# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\n"
                                       "t_requests_total{code=\"200\"} 3\nt_requests_total{code=\"404\"} 1\n"
                                       "# HELP t_up Up.\n# TYPE t_up gauge\nt_up 1\n"));
    /* The core's metrics are there too, with their types. */
    ck_assert_ptr_nonnull(strstr(text, "# TYPE p2p_connections_opened_total counter\n"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE p2p_connections gauge\n"));
    ck_assert_ptr_nonnull(strstr(text, "\np2p_streams 0\n"));
    /* Every line is a comment or "name[{...}] value". */
    for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
        ck_assert_msg(strchr(line, '\n') != NULL, "unterminated line");
        if (line[0] == '#') continue;
        char one[512];
        size_t l = (size_t)(strchr(line, '\n') - line);
        ck_assert_uint_lt(l, sizeof one);
        memcpy(one, line, l);
        one[l] = 0;
        const char *sp = strrchr(one, ' ');
        ck_assert_msg(sp && sp > one && sp[1] && strspn(sp + 1, "-0123456789") == strlen(sp + 1), "%s", one);
    }
    p2p_buf_free(&b);
    p2p_host_free(h);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics_prom");
    TCase *tc = tcase_create("format");
    tcase_add_test(tc, format_metric);
    tcase_add_test(tc, format_host);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
