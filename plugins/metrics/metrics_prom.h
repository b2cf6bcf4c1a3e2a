/* metrics_prom.h - the Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), from
 * the host's metric registry (p2p/metrics.h). No I/O.
 *
 * Per metric: "# HELP name text" (when there is a help text; backslash
 * and line feed escaped as \\ and \n), "# TYPE name counter|gauge", then
 * one line per series: name{label="value",...} number, label values with
 * backslash, double quote and line feed escaped. Lines end in \n. */
#ifndef METRICS_PROM_H
#define METRICS_PROM_H

#include <stddef.h>

#include "p2p/buf.h"
#include "p2p/metrics.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Append one metric. Returns 0 or P2P_ENOMEM / P2P_ELIMIT (out's limit). */
int prom_format_metric(p2p_buf *out, const struct p2p_metric_info *m, const struct p2p_metric_sample *s, size_t n);
/* Append every metric of the host (runs its collectors). */
int prom_format_host(p2p_buf *out, p2p_host *h);

#endif
