/* The core's own metrics (p2p/metrics.h, docs/reference/metrics.md) over
 * a real loopback connection between two hosts: connections opened and
 * open by direction and transport, bytes through the transport, streams. */
#include <string.h>

#include "ihost.h"
#include "p2p/p2p.h"
#include "testutil.h"

static p2p_metric_series *series1(p2p_host *h, const char *name, const char *a)
{
    return p2p_metric_get(p2p_metric_find(h, name), (const char *const[]){ a });
}

static p2p_metric_series *series2(p2p_host *h, const char *name, const char *a, const char *b)
{
    return p2p_metric_get(p2p_metric_find(h, name), (const char *const[]){ a, b });
}

static void on_connected(int status, p2p_conn *c, void *arg)
{
    (void)c;
    *(int *)arg = status == 0 ? 1 : -1;
}

struct pair {
    p2p_host *a, *b;
    uint64_t want;
};

static bool b_connected(void *arg)
{
    struct pair *p = arg;
    return p2p_gauge_value(series2(p->b, "p2p_connections", "inbound", "tcp")) == 1;
}

static bool b_got_all(void *arg)
{
    struct pair *p = arg;
    return p2p_counter_value(series2(p->b, "p2p_transport_bytes_total", "in", "tcp")) == p->want;
}

static bool both_closed(void *arg)
{
    struct pair *p = arg;
    return !p2p_gauge_value(series2(p->a, "p2p_connections", "outbound", "tcp")) &&
           !p2p_gauge_value(series2(p->b, "p2p_connections", "inbound", "tcp")) &&
           !p2p_gauge_value(p2p_metric_get(p2p_metric_find(p->a, "p2p_streams"), NULL)) &&
           !p2p_gauge_value(p2p_metric_get(p2p_metric_find(p->b, "p2p_streams"), NULL));
}

static void on_stream(int status, p2p_stream *s, void *arg)
{
    *(int *)arg = status == 0 ? 1 : -1;
    if (s) p2p_stream_close(s);
}

static void echo_handler(p2p_stream *s, const char *proto, void *arg)
{
    (void)proto; (void)arg;
    p2p_stream_close(s);
}

static bool flag_nonzero(void *arg) { return *(int *)arg != 0; }

START_TEST(connection_metrics)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct pair p = { ihost_new(&loop, NULL, NULL), ihost_new(&loop, NULL, NULL), 0 };
    ck_assert_int_eq(p2p_protocol_add(p.b, "/t/1", echo_handler, NULL), 0);
    ihost_start(p.a);
    ihost_start(p.b);
    p2p_multiaddr addr = ihost_addr(p.b);
    int done = 0;
    ck_assert_int_eq(p2p_host_connect(p.a, p2p_host_peerid(p.b), &addr, 1, on_connected, &done), 0);
    ck_assert(ihost_run_cond(&loop, flag_nonzero, &done, 10000));
    ck_assert_int_eq(done, 1);
    ck_assert(ihost_run_cond(&loop, b_connected, &p, 10000));
    ck_assert_uint_eq(p2p_counter_value(series2(p.a, "p2p_connections_opened_total", "outbound", "tcp")), 1);
    ck_assert_int_eq(p2p_gauge_value(series2(p.a, "p2p_connections", "outbound", "tcp")), 1);
    ck_assert_uint_eq(p2p_counter_value(series2(p.b, "p2p_connections_opened_total", "inbound", "tcp")), 1);

    /* One stream each way of counting. */
    int opened = 0;
    ck_assert_int_eq(p2p_host_new_stream(p.a, p2p_host_peerid(p.b), (const char *const[]){ "/t/1", NULL },
                                         on_stream, &opened), 0);
    ck_assert(ihost_run_cond(&loop, flag_nonzero, &opened, 10000));
    ck_assert_int_eq(opened, 1);
    ck_assert_uint_ge(p2p_counter_value(series1(p.a, "p2p_streams_opened_total", "outbound")), 1);
    ihost_run_for(&loop, 100);
    ck_assert_uint_ge(p2p_counter_value(series1(p.b, "p2p_streams_opened_total", "inbound")), 1);

    /* Handshake and stream bytes went both ways; what A sent B received. */
    p.want = p2p_counter_value(series2(p.a, "p2p_transport_bytes_total", "out", "tcp"));
    ck_assert_uint_gt(p.want, 100);
    ck_assert_uint_gt(p2p_counter_value(series2(p.a, "p2p_transport_bytes_total", "in", "tcp")), 100);
    ck_assert(ihost_run_cond(&loop, b_got_all, &p, 10000));

    /* Closing: gauges go back to 0, counters stay. */
    p2p_conn_close(p2p_host_conn_to(p.a, p2p_host_peerid(p.b)));
    ck_assert(ihost_run_cond(&loop, both_closed, &p, 15000));
    ck_assert_uint_eq(p2p_counter_value(series2(p.a, "p2p_connections_opened_total", "outbound", "tcp")), 1);
    p2p_host_free(p.a);
    p2p_host_free(p.b);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}
END_TEST

/* Inbound connections beyond max_pending_incoming are refused and
 * counted by reason. */
START_TEST(refusals_counted)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *a = ihost_new(&loop, NULL, NULL);
    p2p_host *b = ihost_new(&loop, "max_connections = 1", NULL);
    p2p_host *c = ihost_new(&loop, NULL, NULL);
    ihost_start(a);
    ihost_start(b);
    ihost_start(c);
    p2p_multiaddr addr = ihost_addr(b);
    int d1 = 0, d2 = 0;
    ck_assert_int_eq(p2p_host_connect(a, p2p_host_peerid(b), &addr, 1, on_connected, &d1), 0);
    ck_assert(ihost_run_cond(&loop, flag_nonzero, &d1, 10000));
    ck_assert_int_eq(p2p_host_connect(c, p2p_host_peerid(b), &addr, 1, on_connected, &d2), 0);
    ihost_run_for(&loop, 1000);
    ck_assert_uint_eq(p2p_counter_value(series1(b, "p2p_connections_refused_total", "max_connections")), 1);
    p2p_host_free(a);
    p2p_host_free(b);
    p2p_host_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, connection_metrics);
    tcase_add_test(tc, refusals_counted);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
