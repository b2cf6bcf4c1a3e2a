/* plugin.c - the metrics plugin: serves the host's metrics (p2p/metrics.h)
 * in the Prometheus text format over HTTP/1.x on a local address:
 *
 *     [plugin metrics]
 *     listen = 127.0.0.1:9090
 *
 * then `curl http://127.0.0.1:9090/metrics`. GET and HEAD of /metrics
 * only; one request per connection (answered with Connection: close).
 *
 * Bounded: at most max_connections clients at once (more are closed as
 * soon as accepted), a request head of at most max_request_size bytes and
 * max_headers fields (431), request_timeout from accept to the end of the
 * answer (408 if the request is not complete by then). After answering we
 * half-close and read (discarding) until the client closes or a short
 * linger ends, so the answer is not lost to a reset caused by unread
 * bytes. The request parser (metrics_http.c) and the format
 * (metrics_prom.c) are I/O-free, unit-tested and fuzzed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_http.h"
#include "metrics_prom.h"
#include "p2p/p2p.h"

#define MOD "metrics"
#define LINGER_MS 2000
#define MAX_RESPONSE (64u << 20)

struct mst;

struct client {
    struct mst *st;
    uv_tcp_t tcp;
    uv_write_t wr;
    uv_shutdown_t sd;
    p2p_timer *timer;
    struct http_reader rd;
    p2p_buf resp;
    bool answered, closing;
    struct client *prev, *next;
};

struct mst {
    p2p_host *host;
    struct sockaddr_storage addr;
    char addr_str[64];
    size_t max_clients, max_request, max_headers;
    uint64_t timeout_ms;
    uv_tcp_t server;
    bool listening;
    size_t nclients;
    size_t open_handles;             /* handles whose close callback is pending or not yet asked */
    struct client clients;           /* list head */
    char rbuf[4096];                 /* shared: alloc_cb and read_cb run back to back */
    p2p_metric *requests;            /* p2p_metrics_http_requests_total{code} */
    p2p_metric_series *refused;
};

/* "127.0.0.1:9090" or "[::1]:9090". */
static int parse_listen(const char *s, struct sockaddr_storage *out)
{
    char ip[64];
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof ip) return -1;
        memcpy(ip, s + 1, (size_t)(end - s - 1));
        ip[end - s - 1] = 0;
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof ip || memchr(s, ':', (size_t)(colon - s))) return -1;
        memcpy(ip, s, (size_t)(colon - s));
        ip[colon - s] = 0;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535) return -1;
    memset(out, 0, sizeof *out);
    if (uv_ip4_addr(ip, (int)port, (struct sockaddr_in *)out) == 0) return 0;
    if (uv_ip6_addr(ip, (int)port, (struct sockaddr_in6 *)out) == 0) return 0;
    return -1;
}

static bool is_loopback(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(v6);
}

static void addr_string(const struct sockaddr_storage *a, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port;
    if (a->ss_family == AF_INET6) {
        uv_ip6_name((const struct sockaddr_in6 *)a, ip, sizeof ip);
        port = ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
        snprintf(out, cap, "[%s]:%d", ip, port);
    } else {
        uv_ip4_name((const struct sockaddr_in *)a, ip, sizeof ip);
        port = ntohs(((const struct sockaddr_in *)a)->sin_port);
        snprintf(out, cap, "%s:%d", ip, port);
    }
}

/* ---- clients ------------------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *hd)
{
    struct mst *st = hd->data;
    st->open_handles--;
}

static void on_client_closed(uv_handle_t *hd)
{
    struct client *c = hd->data;
    c->st->open_handles--;
    http_reader_free(&c->rd);
    p2p_buf_free(&c->resp);
    free(c);
}

static void client_close(struct client *c)
{
    if (c->closing) return;
    c->closing = true;
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->st->nclients--;
    p2p_timer_free(c->timer);
    c->timer = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_client_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct client *c = req->data;
    if (status < 0) client_close(c);   /* else: read until EOF or the linger ends */
}

static void on_written(uv_write_t *req, int status)
{
    struct client *c = req->data;
    p2p_buf_free(&c->resp);
    if (c->closing) return;
    if (status < 0 || uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        client_close(c);
        return;
    }
    c->sd.data = c;
    p2p_timer_start(c->timer, LINGER_MS, 0);
}

static void respond(struct client *c, int status, const char *extra, const void *body, size_t len, bool head_only)
{
    struct mst *st = c->st;
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    p2p_counter_add(p2p_metric_get(st->requests, (const char *const[]){ code }), 1);
    c->answered = true;
    const char *ctype = status == 200 ? PROM_CONTENT_TYPE : "text/plain; charset=utf-8";
    if (http_response(&c->resp, status, ctype, extra, body, len, head_only) != 0) {
        client_close(c);
        return;
    }
    uv_buf_t b = uv_buf_init((char *)p2p_buf_head(&c->resp), (unsigned)c->resp.len);
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        client_close(c);
        return;
    }
    /* The whole answer, too, must be taken within the timeout. */
    p2p_timer_start(c->timer, st->timeout_ms, 0);
}

static void respond_error(struct client *c, int status, const char *extra)
{
    char body[128];
    int n = snprintf(body, sizeof body, "%d %s\n", status, http_reason(status));
    respond(c, status, extra, body, (size_t)n, false);
}

static void serve(struct client *c, const struct http_request *req)
{
    bool head = !strcmp(req->method, "HEAD");
    if (!head && strcmp(req->method, "GET")) return respond_error(c, 405, "Allow: GET, HEAD\r\n");
    if (strcmp(req->path, "/metrics")) return respond_error(c, 404, NULL);
    p2p_buf body;
    p2p_buf_init(&body, MAX_RESPONSE);
    if (prom_format_host(&body, c->st->host) != 0) {
        p2p_buf_free(&body);
        p2p_log_warn(MOD, "cannot format the metrics (over %u bytes, or out of memory)", MAX_RESPONSE);
        return respond_error(c, 500, NULL);
    }
    respond(c, 200, NULL, p2p_buf_head(&body), body.len, head);
    p2p_buf_free(&body);
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct client *c = hd->data;
    *buf = uv_buf_init(c->st->rbuf, sizeof c->st->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct client *c = s->data;
    if (c->closing) return;
    if (n < 0) {
        /* EOF or error: after an answer, the client is done; before, it
         * gave up (nobody to answer). */
        client_close(c);
        return;
    }
    if (n == 0 || c->answered) return;   /* after the answer: drained and dropped */
    int rc = http_reader_feed(&c->rd, (const uint8_t *)buf->base, (size_t)n);
    if (rc == HTTP_MORE) return;
    if (rc == HTTP_DONE) return serve(c, &c->rd.req);
    p2p_log_debug(MOD, "bad request: answering %d", rc);
    respond_error(c, rc, NULL);
}

static void on_client_timer(p2p_timer *t, void *arg)
{
    (void)t;
    struct client *c = arg;
    if (!c->answered) respond_error(c, 408, NULL);
    else client_close(c);   /* the linger ended, or the answer was not taken in time */
}

static void on_connection(uv_stream_t *server, int status)
{
    struct mst *st = server->data;
    if (status < 0) return;
    struct client *c = calloc(1, sizeof *c);
    if (!c) return;
    c->st = st;
    uv_tcp_init(p2p_host_loop(st->host), &c->tcp);
    c->tcp.data = c;
    st->open_handles++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || st->nclients >= st->max_clients) {
        if (st->nclients >= st->max_clients) {
            p2p_counter_add(st->refused, 1);
            p2p_log_debug(MOD, "refusing a client: max_connections (%zu) reached", st->max_clients);
        }
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_client_closed);
        return;
    }
    c->timer = p2p_timer_new(st->host, on_client_timer, c);
    if (!c->timer) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_client_closed);
        return;
    }
    http_reader_init(&c->rd, st->max_request, st->max_headers);
    p2p_buf_init(&c->resp, 0);
    c->next = st->clients.next;
    c->prev = &st->clients;
    st->clients.next->prev = c;
    st->clients.next = c;
    st->nclients++;
    p2p_timer_start(c->timer, st->timeout_ms, 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- lifecycle ----------------------------------------------------------------- */

static int metrics_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct mst *st = calloc(1, sizeof *st);
    if (!st) return P2P_ENOMEM;
    st->host = h;
    st->clients.next = st->clients.prev = &st->clients;
    const char *listen = p2p_conf_str(cf, "listen");
    if (parse_listen(listen, &st->addr) != 0) {
        p2p_host_set_error(h, "%s: [plugin metrics] listen: '%s' is not IP:PORT; try for example "
                              "127.0.0.1:9090 or [::1]:9090", p2p_conf_section_origin(cf), listen);
        free(st);
        return P2P_ECONFIG;
    }
    st->max_clients = (size_t)p2p_conf_int(cf, "max_connections");
    st->max_request = (size_t)p2p_conf_size(cf, "max_request_size");
    st->max_headers = (size_t)p2p_conf_int(cf, "max_headers");
    st->timeout_ms = p2p_conf_duration_ms(cf, "request_timeout");
    st->requests = p2p_metric_register(h, "p2p_metrics_http_requests_total", P2P_METRIC_COUNTER,
                                       "Requests to the metrics endpoint, by HTTP status code.",
                                       (const char *const[]){ "code", NULL });
    st->refused = p2p_metric_counter(h, "p2p_metrics_http_refused_total",
                                     "Connections to the metrics endpoint closed at once: max_connections reached.");
    *state = st;
    return 0;
}

static int metrics_start(void *state)
{
    struct mst *st = state;
    uv_loop_t *loop = p2p_host_loop(st->host);
    char where[64];
    addr_string(&st->addr, where, sizeof where);
    uv_tcp_init(loop, &st->server);
    st->server.data = st;
    st->open_handles++;
    st->listening = true;
    int rc = uv_tcp_bind(&st->server, (const struct sockaddr *)&st->addr, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&st->server, 64, on_connection);
    if (rc < 0) {
        p2p_host_set_error(st->host, "cannot serve metrics on %s: %s", where, uv_strerror(rc));
        st->listening = false;
        uv_close((uv_handle_t *)&st->server, on_handle_closed);
        return P2P_EIO;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    if (uv_tcp_getsockname(&st->server, (struct sockaddr *)&bound, &len) == 0)
        addr_string(&bound, st->addr_str, sizeof st->addr_str);
    else
        snprintf(st->addr_str, sizeof st->addr_str, "%s", where);
    p2p_log_info(MOD, "serving metrics at http://%s/metrics", st->addr_str);
    if (!is_loopback(&st->addr))
        p2p_log_warn(MOD, "%s is not a loopback address: anyone who can reach it can read the metrics "
                          "(keep the port firewalled)", st->addr_str);
    return 0;
}

static void metrics_stop(void *state)
{
    struct mst *st = state;
    while (st->clients.next != &st->clients) client_close(st->clients.next);
    if (st->listening) {
        st->listening = false;
        uv_close((uv_handle_t *)&st->server, on_handle_closed);
    }
}

static void metrics_fini(void *state)
{
    struct mst *st = state;
    metrics_stop(st);
    /* The host ran the loop after stop: every close callback has run. */
    if (st->open_handles) p2p_log_warn(MOD, "%zu handle(s) still closing at fini", st->open_handles);
    else free(st);
}

static const struct p2p_conf_key keys[] = {
    { "listen", P2P_CONF_STR, "127.0.0.1:9090", 0, 0, NULL,
      "IP:PORT to serve GET /metrics on ([::1]:9090 for IPv6; port 0 picks one); keep it local or firewalled" },
    { "max_connections", P2P_CONF_INT, "16", 1, 10000, NULL, "HTTP clients at once; more are closed at once" },
    { "max_request_size", P2P_CONF_SIZE, "8KiB", 256, 1048576, NULL,
      "bytes of a request head (request line and header fields); larger is answered 431" },
    { "max_headers", P2P_CONF_INT, "64", 1, 1000, NULL, "header fields of a request; more is answered 431" },
    { "request_timeout", P2P_CONF_DURATION, "5s", 100, 600000, NULL,
      "time from accepting a client to the end of the answer (408 if the request is not complete)" },
    P2P_CONF_KEYS_END
};

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "metrics",
    .version = "1.0.0",
    .description = "Prometheus metrics endpoint: GET /metrics over HTTP/1.x on a local address",
    .requires = NULL,
    .config = keys,
    .init = metrics_init,
    .start = metrics_start,
    .stop = metrics_stop,
    .fini = metrics_fini,
});
