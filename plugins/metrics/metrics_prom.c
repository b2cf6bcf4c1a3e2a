/* metrics_prom.c - Prometheus text format 0.0.4 (see metrics_prom.h). */
#include "metrics_prom.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "p2p/error.h"

static int put(p2p_buf *out, const char *s)
{
    return p2p_buf_append(out, s, strlen(s));
}

/* Append s with the escapes of HELP text (quotes = false) or of label
 * values (quotes = true). */
static int put_escaped(p2p_buf *out, const char *s, bool quotes)
{
    int rc = 0;
    for (; *s && rc == 0; s++) {
        if (*s == '\\') rc = put(out, "\\\\");
        else if (*s == '\n') rc = put(out, "\\n");
        else if (*s == '"' && quotes) rc = put(out, "\\\"");
        else rc = p2p_buf_append_byte(out, (uint8_t)*s);
    }
    return rc;
}

int prom_format_metric(p2p_buf *out, const struct p2p_metric_info *m, const struct p2p_metric_sample *s, size_t n)
{
    int rc = 0;
    if (m->help[0]) {
        rc = put(out, "# HELP ");
        if (rc == 0) rc = put(out, m->name);
        if (rc == 0) rc = put(out, " ");
        if (rc == 0) rc = put_escaped(out, m->help, false);
        if (rc == 0) rc = put(out, "\n");
    }
    if (rc == 0) rc = put(out, "# TYPE ");
    if (rc == 0) rc = put(out, m->name);
    if (rc == 0) rc = put(out, m->type == P2P_METRIC_COUNTER ? " counter\n" : " gauge\n");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = put(out, m->name);
        for (size_t k = 0; k < m->nlabels && rc == 0; k++) {
            rc = put(out, k ? "," : "{");
            if (rc == 0) rc = put(out, m->labels[k]);
            if (rc == 0) rc = put(out, "=\"");
            if (rc == 0) rc = put_escaped(out, s[i].values[k], true);
            if (rc == 0) rc = put(out, "\"");
        }
        if (rc == 0 && m->nlabels) rc = put(out, "}");
        char num[32];
        if (m->type == P2P_METRIC_COUNTER) snprintf(num, sizeof num, " %" PRIu64 "\n", s[i].counter);
        else snprintf(num, sizeof num, " %" PRId64 "\n", s[i].gauge);
        if (rc == 0) rc = put(out, num);
    }
    return rc;
}

struct visit {
    p2p_buf *out;
    int rc;
};

static void on_metric(const struct p2p_metric_info *m, const struct p2p_metric_sample *s, size_t n, void *arg)
{
    struct visit *v = arg;
    if (v->rc == 0) v->rc = prom_format_metric(v->out, m, s, n);
}

int prom_format_host(p2p_buf *out, p2p_host *h)
{
    struct visit v = { out, 0 };
    int rc = p2p_metrics_visit(h, on_metric, &v);
    return rc ? rc : v.rc;
}
