/* The metrics plugin in a host, over loopback TCP: a client thread with
 * blocking sockets talks HTTP to it while the test runs the host's loop.
 * Scrapes (GET, HEAD, split requests, a body left unread), errors (400,
 * 404, 405, 408, 431), the connection limit, and configuration errors. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ihost.h"
#include "p2p/p2p.h"
#include "testutil.h"

struct job {
    int port;
    const char *req;
    size_t len;
    size_t piece;                    /* write in pieces of this size (0 = at once) */
    unsigned piece_delay_ms;
    bool shut_wr;                    /* half-close after the request */
    char resp[65536];
    size_t resp_len;
    atomic_bool done;
};

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send the request, read until EOF (or 10 s). */
static void *client(void *arg)
{
    struct job *j = arg;
    int fd = connect_to(j->port);
    if (fd >= 0) {
        size_t sent = 0;
        while (sent < j->len) {
            size_t k = j->piece && j->len - sent > j->piece ? j->piece : j->len - sent;
            ssize_t n = send(fd, j->req + sent, k, MSG_NOSIGNAL);
            if (n <= 0) break;
            sent += (size_t)n;
            if (j->piece_delay_ms) sleep_ms(j->piece_delay_ms);
        }
        if (j->shut_wr) shutdown(fd, SHUT_WR);
        ssize_t n;
        while (j->resp_len < sizeof j->resp - 1 &&
               (n = recv(fd, j->resp + j->resp_len, sizeof j->resp - 1 - j->resp_len, 0)) > 0)
            j->resp_len += (size_t)n;
        close(fd);
    }
    j->resp[j->resp_len] = 0;
    atomic_store(&j->done, true);
    return NULL;
}

static bool job_done(void *arg)
{
    return atomic_load(&((struct job *)arg)->done);
}

static uv_loop_t loop;

/* The plugin logs where it serves: the test learns the port from it. */
static int served_port;

static void sink(void *arg, enum p2p_log_level level, const char *module, const char *line)
{
    (void)arg; (void)level;
    const char *p = strstr(line, "serving metrics at http://127.0.0.1:");
    if (!strcmp(module, "metrics") && p) served_port = atoi(p + strlen("serving metrics at http://127.0.0.1:"));
    else fprintf(stderr, "%s\n", line);
}

/* A host with the metrics plugin on 127.0.0.1:0 (plus extra keys). */
static p2p_host *metrics_host(const char *extra, int *port)
{
    char sec[512];
    snprintf(sec, sizeof sec, "[plugin metrics]\nlisten = 127.0.0.1:0\n%s", extra ? extra : "");
    served_port = 0;
    p2p_host *h = ihost_new(&loop, NULL, sec);
    ihost_start(h);
    *port = served_port;
    ck_assert_int_ne(*port, 0);
    return h;
}

/* The client thread cannot wake the loop: poll its flag every 5 ms. */
static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static bool wait_thread(bool (*cond)(void *), void *arg)
{
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    bool ok = ihost_run_cond(&loop, cond, arg, 15000);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return ok;
}

static struct job *run(int port, const char *req, size_t len, size_t piece, unsigned delay)
{
    struct job *j = calloc(1, sizeof *j);
    j->port = port;
    j->req = req;
    j->len = len;
    j->piece = piece;
    j->piece_delay_ms = delay;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, client, j), 0);
    ck_assert(wait_thread(job_done, j));
    pthread_join(t, NULL);
    return j;
}

static struct job *get(int port, const char *req)
{
    return run(port, req, strlen(req), 0, 0);
}

static void host_free(p2p_host *h)
{
    p2p_host_free(h);
    uv_run(&loop, UV_RUN_NOWAIT);
}

START_TEST(scrape)
{
    uv_loop_init(&loop);
    int port;
    p2p_host *h = metrics_host(NULL, &port);
    p2p_counter_add(p2p_metric_counter(h, "t_scraped_total", "A \"test\" metric."), 5);
    struct job *j = get(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n");
    ck_assert_msg(!strncmp(j->resp, "HTTP/1.1 200 OK\r\n", 17), "%s", j->resp);
    ck_assert_ptr_nonnull(strstr(j->resp, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    ck_assert_ptr_nonnull(strstr(j->resp, "\r\nConnection: close\r\n"));
    const char *body = strstr(j->resp, "\r\n\r\n") + 4;
    ck_assert_ptr_nonnull(strstr(j->resp, "Content-Length: "));
    ck_assert_int_eq(atoi(strstr(j->resp, "Content-Length: ") + 16), (int)strlen(body));
    ck_assert_ptr_nonnull(strstr(body, "# HELP t_scraped_total A \"test\" metric.\n# TYPE t_scraped_total counter\n"
                                       "t_scraped_total 5\n"));
    ck_assert_ptr_nonnull(strstr(body, "# TYPE p2p_connections gauge\n"));
    free(j);
    /* The endpoint counts itself (the scrapes before this one). */
    j = get(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    ck_assert_ptr_nonnull(strstr(j->resp, "p2p_metrics_http_requests_total{code=\"200\"} 1\n"));
    free(j);
    /* HEAD: the headers of a GET, no body. */
    j = get(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert(!strncmp(j->resp, "HTTP/1.1 200 OK\r\n", 17));
    ck_assert_int_gt(atoi(strstr(j->resp, "Content-Length: ") + 16), 100);
    ck_assert_str_eq(strstr(j->resp, "\r\n\r\n"), "\r\n\r\n");
    free(j);
    /* A request in 1-byte writes 5 ms apart. */
    const char *slow = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    j = run(port, slow, strlen(slow), 1, 5);
    ck_assert(!strncmp(j->resp, "HTTP/1.1 200 OK\r\n", 17));
    free(j);
    /* A body we do not read: the answer still arrives whole (no reset). */
    static char post[20000];
    int n = snprintf(post, sizeof post, "POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 16000\r\n\r\n");
    memset(post + n, 'b', 16000);
    j = run(port, post, (size_t)n + 16000, 0, 0);
    ck_assert_msg(!strncmp(j->resp, "HTTP/1.1 405 Method Not Allowed\r\n", 33), "%s", j->resp);
    ck_assert_ptr_nonnull(strstr(j->resp, "\r\nAllow: GET, HEAD\r\n"));
    ck_assert_ptr_nonnull(strstr(j->resp, "\r\n\r\n405 Method Not Allowed\n"));
    free(j);
    host_free(h);
    uv_loop_close(&loop);
}
END_TEST

START_TEST(errors)
{
    uv_loop_init(&loop);
    int port;
    p2p_host *h = metrics_host("max_request_size = 1KiB\nmax_headers = 4\nrequest_timeout = 500ms\n", &port);
    struct job *j = get(port, "GET /other HTTP/1.1\r\nHost: a\r\n\r\n");
    ck_assert_msg(!strncmp(j->resp, "HTTP/1.1 404 Not Found\r\n", 24), "%s", j->resp);
    free(j);
    j = get(port, "hello there\r\n\r\n");
    ck_assert_msg(!strncmp(j->resp, "HTTP/1.1 400 Bad Request\r\n", 26), "%s", j->resp);
    free(j);
    j = get(port, "GET /metrics HTTP/1.1\r\n\r\n");   /* no Host */
    ck_assert(!strncmp(j->resp, "HTTP/1.1 400 Bad Request\r\n", 26));
    free(j);
    j = get(port, "GET /metrics HTTP/3.0\r\nHost: a\r\n\r\n");
    ck_assert(!strncmp(j->resp, "HTTP/1.1 505 HTTP Version Not Supported\r\n", 41));
    free(j);
    j = get(port, "GET /metrics HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
    ck_assert_msg(!strncmp(j->resp, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46), "%s", j->resp);
    free(j);
    /* A head beyond max_request_size: 431 without waiting for its end. */
    static char big[4096];
    int n = snprintf(big, sizeof big, "GET /metrics HTTP/1.1\r\nHost: a\r\nX: ");
    memset(big + n, 'x', sizeof big - (size_t)n - 1);
    j = run(port, big, sizeof big - 1, 0, 0);
    ck_assert_msg(!strncmp(j->resp, "HTTP/1.1 431 ", 13), "%s", j->resp);
    free(j);
    /* Nothing sent: 408 after request_timeout; an incomplete request too. */
    uint64_t t0 = uv_now(&loop);
    j = get(port, "");
    ck_assert_msg(!strncmp(j->resp, "HTTP/1.1 408 Request Timeout\r\n", 30), "%s", j->resp);
    ck_assert_uint_ge(uv_now(&loop) - t0, 450);
    free(j);
    j = get(port, "GET /metrics HTTP/1.1\r\nHost: a\r\n");
    ck_assert(!strncmp(j->resp, "HTTP/1.1 408 ", 13));
    free(j);
    /* Each answer was counted by status. */
    p2p_metric *m = p2p_metric_find(h, "p2p_metrics_http_requests_total");
    ck_assert_uint_eq(p2p_counter_value(p2p_metric_get(m, (const char *const[]){ "400" })), 2);
    ck_assert_uint_eq(p2p_counter_value(p2p_metric_get(m, (const char *const[]){ "431" })), 2);
    ck_assert_uint_eq(p2p_counter_value(p2p_metric_get(m, (const char *const[]){ "408" })), 2);
    host_free(h);
    uv_loop_close(&loop);
}
END_TEST

struct idle {
    int port, fds[3];
    char third[64];
    ssize_t third_n;
    atomic_bool done;
};

/* Two idle clients hold both slots; a third is closed at once. */
static void *idle_clients(void *arg)
{
    struct idle *s = arg;
    s->fds[0] = connect_to(s->port);
    s->fds[1] = connect_to(s->port);
    sleep_ms(200);
    s->fds[2] = connect_to(s->port);
    s->third_n = recv(s->fds[2], s->third, sizeof s->third, 0);
    for (int i = 0; i < 3; i++) close(s->fds[i]);
    atomic_store(&s->done, true);
    return NULL;
}

static bool idle_done(void *arg)
{
    return atomic_load(&((struct idle *)arg)->done);
}

START_TEST(connection_limit)
{
    uv_loop_init(&loop);
    int port;
    p2p_host *h = metrics_host("max_connections = 2\nrequest_timeout = 5s\n", &port);
    struct idle s = { .port = port };
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, idle_clients, &s), 0);
    uint64_t t0 = uv_now(&loop);
    ck_assert(wait_thread(idle_done, &s));
    pthread_join(t, NULL);
    ck_assert_int_eq(s.third_n, 0);                  /* closed without an answer */
    ck_assert_uint_lt(uv_now(&loop) - t0, 4000);     /* at once, not at the timeout */
    ck_assert_uint_eq(p2p_counter_value(p2p_metric_get(p2p_metric_find(h, "p2p_metrics_http_refused_total"), NULL)), 1);
    /* The slots come back once the clients have gone. */
    ihost_run_for(&loop, 100);
    struct job *j = get(port, "GET /metrics HTTP/1.0\r\n\r\n");
    ck_assert(!strncmp(j->resp, "HTTP/1.1 200 OK\r\n", 17));
    free(j);
    host_free(h);
    uv_loop_close(&loop);
}
END_TEST

static int host_error(const char *sec, char *err, size_t cap)
{
    char text[1024];
    snprintf(text, sizeof text, "[host]\nephemeral_identity = true\nlisten =\nlog = error\n%s", sec);
    p2p_conf *cf = p2p_conf_load_string(text, "m.ini", err, cap);
    ck_assert_ptr_nonnull(cf);
    struct p2p_host_opts o = { .loop = &loop };
    p2p_host *h;
    int rc = p2p_host_new(&h, cf, &o, err, cap);
    if (rc == 0) {
        rc = p2p_host_start(h, err, cap);
        host_free(h);
    }
    return rc;
}

START_TEST(bad_config)
{
    uv_loop_init(&loop);
    char err[1024];
    ck_assert_int_eq(host_error("[plugin metrics]\nlisten = localhost:9090\n", err, sizeof err), P2P_ECONFIG);
    ck_assert_msg(strstr(err, "m.ini:5") && strstr(err, "'localhost:9090' is not IP:PORT"), "%s", err);
    ck_assert_int_eq(host_error("[plugin metrics]\nlisten = 127.0.0.1:99999\n", err, sizeof err), P2P_ECONFIG);
    ck_assert_int_eq(host_error("[plugin metrics]\nlisten = ::1:80\n", err, sizeof err), P2P_ECONFIG);
    ck_assert_int_eq(host_error("[plugin metrics]\nmax_request_size = 10\n", err, sizeof err), P2P_ECONFIG);
    /* A port in use: start fails with the address and the reason. */
    int port;
    p2p_host *h = metrics_host(NULL, &port);
    char sec[128];
    snprintf(sec, sizeof sec, "[plugin metrics]\nlisten = 127.0.0.1:%d\n", port);
    ck_assert_int_lt(host_error(sec, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "cannot serve metrics on 127.0.0.1:") && strstr(err, "address already in use"), "%s",
                  err);
    host_free(h);
    uv_loop_close(&loop);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics_net");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, scrape);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, connection_limit);
    tcase_add_test(tc, bad_config);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    setenv("P2P_PLUGIN_PATH", P2P_TEST_BINDIR "/lib/p2pchat/plugins", 1);
    setenv("P2P_LOG", "warn,metrics=info", 1);
    p2p_log_set_sink(sink, NULL);
    return p2p_test_run(suite());
}
