/* tcp_harness.c - see tcp_harness.h. */
#include "tcp_harness.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

p2p_host *th_host(uv_loop_t *loop, const char *tcp_keys)
{
    char text[1024], err[512];
    const char *lvl = getenv("P2P_LOG");
    snprintf(text, sizeof text,
             "[host]\nephemeral_identity = true\nlisten =\nlog = %s\n[plugin transport-tcp]\n%s",
             lvl && *lvl ? lvl : "warn", tcp_keys ? tcp_keys : "");
    p2p_conf *cf = p2p_conf_load_string(text, "tcp-test.ini", err, sizeof err);
    ck_assert_msg(cf != NULL, "%s", err);
    struct p2p_host_opts o = { .loop = loop };
    p2p_host *h = NULL;
    int rc = p2p_host_new(&h, cf, &o, err, sizeof err);
    ck_assert_msg(rc == 0, "p2p_host_new: %s", err);
    rc = p2p_host_start(h, err, sizeof err);
    ck_assert_msg(rc == 0, "p2p_host_start: %s", err);
    return h;
}

const struct p2p_transport_ops *th_tcp(p2p_host *h, void **state)
{
    p2p_multiaddr ma = th_ma("/ip4/127.0.0.1/tcp/1");
    const struct p2p_transport_ops *t = p2p_transport_for(h, &ma, false, state);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->name, "tcp");
    return t;
}

p2p_multiaddr th_ma(const char *text)
{
    p2p_multiaddr ma;
    char err[256];
    int rc = p2p_maddr_parse(&ma, text, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", text, err);
    return ma;
}

const char *th_str(const p2p_multiaddr *ma)
{
    static char buf[P2P_MADDR_STRMAX];
    if (p2p_maddr_to_string(ma, buf, sizeof buf) < 0) snprintf(buf, sizeof buf, "?");
    return buf;
}

uint16_t th_port(const p2p_multiaddr *ma)
{
    struct p2p_maddr_component c;
    if (p2p_maddr_find(ma, P2P_MA_TCP, &c) != 1) return 0;
    return (uint16_t)(c.value[0] << 8 | c.value[1]);
}

uint64_t th_now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static void on_wake(uv_timer_t *t) { (void)t; }

void th_step(uv_loop_t *loop)
{
    uv_timer_t wake;
    uv_timer_init(loop, &wake);
    uv_timer_start(&wake, on_wake, 10, 0);
    uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(loop, UV_RUN_NOWAIT);   /* runs the close of the stack handle */
}

bool th_have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return false;
    struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* ---- log capture (process-wide, like the log itself) ---------------- */

static int warnings;
static char last_warnings[4096];

static void sink(void *arg, enum p2p_log_level level, const char *module, const char *line)
{
    (void)arg;
    (void)module;
    fprintf(stderr, "%s\n", line);
    if (level > P2P_LOG_WARN) return;
    warnings++;
    size_t l = strlen(last_warnings);
    snprintf(last_warnings + l, sizeof last_warnings - l, "%s\n", line);
}

void th_log_setup(void) { p2p_log_set_sink(sink, NULL); }
void th_log_reset(void) { warnings = 0; last_warnings[0] = 0; }
int th_warnings(void) { return warnings; }
bool th_warned(const char *needle) { return strstr(last_warnings, needle) != NULL; }

/* ---- stream owner ---------------------------------------------------- */

static void k_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    struct th_sink *k = arg;
    k->reads++;
    for (size_t i = 0; k->check && i < n; i++)
        if (d[i] != th_pattern(k->len + i)) k->bad = true;
    if (k->len < k->keep) {
        size_t m = n < k->keep - k->len ? n : k->keep - k->len;
        memcpy(k->data + k->len, d, m);
    }
    k->len += n;
    if (k->stop_after_read) p2p_stream_read_stop(s);
}

static void k_eof(p2p_stream *s, void *arg) { (void)s; ((struct th_sink *)arg)->eof++; }
static void k_drain(p2p_stream *s, void *arg) { (void)s; ((struct th_sink *)arg)->drains++; }
static void k_err(p2p_stream *s, int err, void *arg)
{
    (void)s;
    struct th_sink *k = arg;
    k->errors++;
    k->err = err;
}

static const struct p2p_stream_handlers sink_handlers = { k_read, k_eof, k_err, k_drain };

void th_sink_attach(struct th_sink *k, p2p_stream *s, size_t keep)
{
    bool check = k->check, stop = k->stop_after_read;
    memset(k, 0, sizeof *k);
    k->check = check;
    k->stop_after_read = stop;
    k->s = s;
    k->keep = keep;
    k->data = keep ? malloc(keep) : NULL;
    ck_assert(!keep || k->data);
    p2p_stream_set_handlers(s, &sink_handlers, k);
    p2p_stream_read_start(s);
}

void th_sink_done(struct th_sink *k)
{
    if (k->s) p2p_stream_close(k->s);
    k->s = NULL;
    free(k->data);
    k->data = NULL;
}

void th_dial_cb(int status, p2p_stream *raw, void *arg)
{
    struct th_dial *d = arg;
    d->calls++;
    d->status = status;
    d->raw = raw;
    ck_assert((status == 0) == (raw != NULL));
}

void th_accept_cb(p2p_stream *raw, void *arg)
{
    struct th_accept *a = arg;
    ck_assert_uint_lt(a->n, TH_MAX_ACCEPT);
    a->s[a->n++] = raw;
}

void *th_listen(p2p_host *h, const char *text, struct th_accept *acc, p2p_multiaddr *addr)
{
    void *st, *l = NULL;
    const struct p2p_transport_ops *t = th_tcp(h, &st);
    p2p_multiaddr ma = th_ma(text);
    char err[256] = "";
    ck_assert(t->can_listen(st, &ma));
    int rc = t->listen(st, &ma, th_accept_cb, acc, &l, err, sizeof err);
    ck_assert_msg(rc == 0, "listen %s: %s", text, err);
    if (addr) {
        ck_assert_uint_ge(t->listen_addrs(st, l, addr, 1), 1);
        ck_assert_uint_ne(th_port(addr), 0);
    }
    return l;
}

void th_connect(p2p_host *h, const p2p_multiaddr *to, const struct p2p_dial_opts *opts,
                struct th_accept *acc, p2p_stream **client, p2p_stream **server)
{
    void *st, *op = NULL;
    const struct p2p_transport_ops *t = th_tcp(h, &st);
    struct th_dial d = { 0 };
    size_t before = acc->n;
    uv_loop_t *loop = p2p_host_loop(h);
    ck_assert_int_eq(t->dial(st, to, opts, th_dial_cb, &d, &op), 0);
    ck_assert_int_eq(d.calls, 0);   /* never from inside dial() */
    ck_assert(TH_WAIT(loop, d.calls && acc->n > before, 5000));
    ck_assert_int_eq(d.calls, 1);
    ck_assert_msg(d.status == 0, "dial %s: %s", th_str(to), p2p_strerror(d.status));
    *client = d.raw;
    *server = acc->s[acc->n - 1];
}

p2p_host *th_pair(const char *tcp_keys, p2p_stream **client, p2p_stream **server)
{
    static struct th_accept acc;   /* the listener's, for as long as the host lives */
    memset(&acc, 0, sizeof acc);
    p2p_host *h = th_host(NULL, tcp_keys);
    p2p_multiaddr addr;
    th_listen(h, "/ip4/127.0.0.1/tcp/0", &acc, &addr);
    th_connect(h, &addr, NULL, &acc, client, server);
    return h;
}
