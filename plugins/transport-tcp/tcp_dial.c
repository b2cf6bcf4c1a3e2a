/* tcp_dial.c - outgoing connections.
 *
 * A dial resolves its address (dns*: uv_getaddrinfo on the thread pool,
 * never blocking the loop; dns4 asks for AF_INET only, dns6 for AF_INET6
 * only, dns for both), then tries the addresses one after the other (at
 * most TCP_DIAL_MAX_ADDRS) until one connects. One timer bounds the whole
 * dial, resolution included. The callback runs exactly once, from the
 * loop, unless the dial is canceled; the first attempt starts from a
 * p2p_defer so that nothing fails inside dial() after it returned 0.
 *
 * With reuse_port, the socket gets SO_REUSEADDR/SO_REUSEPORT and is bound
 * to the address and port of a listener of the same family before
 * connecting, so that a NAT maps it to the port we advertise (a wildcard
 * listener preferred; a loopback one only for loopback destinations).
 * Without such a listener, or if bind or connect fail at once, the dial
 * goes on from an ephemeral port (logged at debug level).
 *
 * Lifetime: the dial struct lives until its timer handle is closed and no
 * getaddrinfo request is pending (a request already running on the thread
 * pool cannot be canceled; its callback then just frees the result). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcp.h"

struct tcp_dial {
    struct tcp_link link;      /* in st->dials until finished */
    struct tcp_state *st;
    p2p_dial_cb cb;
    void *arg;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    struct p2p_defer kick;
    struct tcp_conn *attempt;  /* the connect in progress */
    p2p_multiaddr ma;          /* for logs */
    uint64_t timeout_ms;
    struct sockaddr_storage addrs[TCP_DIAL_MAX_ADDRS];
    size_t naddrs, next;
    int last_err;
    bool reuse_port, done, gai_pending, timer_open;
};

static void next_attempt(struct tcp_dial *d);

static void dial_maybe_free(struct tcp_dial *d)
{
    if (!d->done || d->timer_open || d->gai_pending) return;
    struct tcp_state *st = d->st;
    free(d);
    tcp_state_unref(st);
}

static void on_timer_closed(uv_handle_t *hd)
{
    struct tcp_dial *d = hd->data;
    d->timer_open = false;
    dial_maybe_free(d);
}

/* Release everything the dial uses; then tell the caller if notify. */
static void dial_finish(struct tcp_dial *d, int status, p2p_stream *raw, bool notify)
{
    struct tcp_state *st = d->st;
    d->done = true;
    tcp_list_del(&d->link);
    p2p_defer_cancel(st->host, &d->kick);
    if (d->attempt) {
        d->attempt->dial = NULL;
        tcp_conn_close_handle(d->attempt, false);
        d->attempt = NULL;
    }
    if (d->gai_pending) (void)uv_cancel((uv_req_t *)&d->gai);
    if (!uv_is_closing((uv_handle_t *)&d->timer)) uv_close((uv_handle_t *)&d->timer, on_timer_closed);
    if (p2p_log_enabled(TCP_MOD, P2P_LOG_DEBUG)) {
        char a[P2P_MADDR_STRMAX];
        p2p_log_debug(TCP_MOD, "dial %s: %s", tcp_maddr_str(&d->ma, a, sizeof a),
                      status ? p2p_strerror(status) : "connected");
    }
    /* d stays allocated until the timer's close callback: the caller may
     * still hold the op pointer while its callback runs. */
    if (notify) d->cb(status, raw, d->arg);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct tcp_conn *c = req->data;
    struct tcp_dial *d = c->dial;
    if (!d) return;   /* the dial is over; the handle is closing */
    c->dial = NULL;
    d->attempt = NULL;
    if (status < 0) {
        char a[64];
        p2p_log_debug(TCP_MOD, "connect to %s failed: %s",
                      tcp_sockaddr_str((const struct sockaddr *)&d->addrs[d->next - 1], a, sizeof a),
                      uv_strerror(status));
        d->last_err = tcp_err(status);
        tcp_conn_close_handle(c, false);
        next_attempt(d);
        return;
    }
    int rc = tcp_conn_setup(c);   /* closes c on failure */
    if (rc < 0) {
        d->last_err = rc;
        next_attempt(d);
        return;
    }
    dial_finish(d, 0, c->stream, true);
}

/* A socket bound to a listener's address and port, or -1. */
static int reuse_socket(struct tcp_dial *d, const struct sockaddr *dest, socklen_t salen)
{
    const struct tcp_listener *l = tcp_listener_for(d->st, dest);
    if (!l) {
        p2p_log_debug(TCP_MOD, "reuse_port: no listener to share; dialing from an ephemeral port");
        return -1;
    }
    int fd = tcp_socket_reuse(dest->sa_family);
    if (fd >= 0 && bind(fd, (const struct sockaddr *)&l->bound, salen) < 0) {
        int e = errno;
        char a[64];
        p2p_log_debug(TCP_MOD, "reuse_port: cannot bind to %s (%s); dialing from an ephemeral port",
                      tcp_sockaddr_str((const struct sockaddr *)&l->bound, a, sizeof a), strerror(e));
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Start connecting to sa; 0, or a P2P_E* code for a synchronous failure. */
static int connect_from(struct tcp_dial *d, const struct sockaddr_storage *sa, int fd)
{
    struct tcp_conn *c = tcp_conn_new(d->st);
    if (!c) {
        close(fd);
        return P2P_ENOMEM;
    }
    int rc = uv_tcp_open(&c->tcp, fd);
    if (rc < 0) close(fd);
    if (rc == 0) rc = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)sa, on_connect);
    if (rc < 0) {
        char a[64];
        p2p_log_debug(TCP_MOD, "connect to %s failed: %s",
                      tcp_sockaddr_str((const struct sockaddr *)sa, a, sizeof a), uv_strerror(rc));
        tcp_conn_close_handle(c, false);
        return tcp_err(rc);
    }
    c->dial = d;
    d->attempt = c;
    return 0;
}

static int start_attempt(struct tcp_dial *d, const struct sockaddr_storage *sa)
{
    int family = sa->ss_family;
    socklen_t salen = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    int fd = d->reuse_port ? reuse_socket(d, (const struct sockaddr *)sa, salen) : -1;
    if (fd >= 0) {
        /* E.g. EADDRNOTAVAIL: that 4-tuple is still in TIME_WAIT from an
         * earlier connection. Hole punching prefers a late connection from
         * another port to none, so fall back to an ephemeral port. */
        if (connect_from(d, sa, fd) == 0) return 0;
        p2p_log_debug(TCP_MOD, "reuse_port: retrying from an ephemeral port");
    }
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return tcp_err(-errno);
    return connect_from(d, sa, fd);
}

static void next_attempt(struct tcp_dial *d)
{
    while (d->next < d->naddrs) {
        int rc = start_attempt(d, &d->addrs[d->next++]);
        if (rc == 0) return;
        d->last_err = rc;
    }
    dial_finish(d, d->last_err ? d->last_err : P2P_EUNREACH, NULL, true);
}

static void on_kick(void *arg)
{
    struct tcp_dial *d = arg;
    if (!d->done) next_attempt(d);
}

static void on_timeout(uv_timer_t *t)
{
    struct tcp_dial *d = t->data;
    p2p_log_debug(TCP_MOD, "dial timed out after %llu ms", (unsigned long long)d->timeout_ms);
    dial_finish(d, P2P_ETIMEDOUT, NULL, true);
}

static int gai_err(int status)
{
    return status == UV_EAI_MEMORY ? P2P_ENOMEM : P2P_ENOTFOUND;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct tcp_dial *d = req->data;
    d->gai_pending = false;
    if (d->done) {
        if (res) uv_freeaddrinfo(res);
        dial_maybe_free(d);
        return;
    }
    if (status < 0) {
        char a[P2P_MADDR_STRMAX];
        p2p_log_debug(TCP_MOD, "cannot resolve %s: %s", tcp_maddr_str(&d->ma, a, sizeof a), uv_strerror(status));
        dial_finish(d, gai_err(status), NULL, true);
        return;
    }
    uint16_t port = 0;
    struct tcp_target t;
    if (tcp_parse(&d->ma, false, &t) == 0) port = htons(t.port);
    for (const struct addrinfo *ai = res; ai && d->naddrs < TCP_DIAL_MAX_ADDRS; ai = ai->ai_next) {
        struct sockaddr_storage ss = { 0 };
        if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
            memcpy(&ss, ai->ai_addr, sizeof(struct sockaddr_in));
            ((struct sockaddr_in *)&ss)->sin_port = port;
        } else if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
            memcpy(&ss, ai->ai_addr, sizeof(struct sockaddr_in6));
            ((struct sockaddr_in6 *)&ss)->sin6_port = port;
        } else {
            continue;
        }
        bool dup = false;
        for (size_t i = 0; i < d->naddrs && !dup; i++) dup = !memcmp(&d->addrs[i], &ss, sizeof ss);
        if (!dup) d->addrs[d->naddrs++] = ss;
    }
    uv_freeaddrinfo(res);
    next_attempt(d);   /* finishes with P2P_EUNREACH when nothing usable came back */
}

int tcp_dial(void *state, const p2p_multiaddr *ma, const struct p2p_dial_opts *opts,
             p2p_dial_cb cb, void *arg, void **op)
{
    struct tcp_state *st = state;
    struct tcp_target t;
    if (!cb) return P2P_EINVAL;
    if (tcp_parse(ma, false, &t) < 0) return P2P_EINVAL;
    if (st->stopped || st->finied) return P2P_ESTATE;
    struct tcp_dial *d = calloc(1, sizeof *d);
    if (!d) return P2P_ENOMEM;
    int rc = uv_timer_init(st->loop, &d->timer);
    if (rc < 0) {
        free(d);
        return tcp_err(rc);
    }
    d->st = st;
    d->cb = cb;
    d->arg = arg;
    d->ma = *ma;
    d->reuse_port = opts && opts->reuse_port;
    d->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : st->connect_timeout_ms;
    d->timer.data = d;
    d->gai.data = d;
    d->timer_open = true;
    p2p_defer_init(&d->kick, on_kick, d);
    tcp_state_ref(st);
    tcp_list_add(&st->dials, &d->link);
    /* The loop's clock is stale if the current callback ran long. */
    uv_update_time(st->loop);
    uv_timer_start(&d->timer, on_timeout, d->timeout_ms, 0);
    if (t.kind == TCP_IP4 || t.kind == TCP_IP6) {
        d->addrs[0] = t.sa;
        d->naddrs = 1;
        p2p_defer_schedule(st->host, &d->kick);
    } else {
        struct addrinfo hints = { 0 };
        hints.ai_family = t.kind == TCP_DNS4 ? AF_INET : t.kind == TCP_DNS6 ? AF_INET6 : AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_protocol = IPPROTO_TCP;
        /* /dns: only families this machine has an address of. */
        if (t.kind == TCP_DNS) hints.ai_flags = AI_ADDRCONFIG;
        rc = uv_getaddrinfo(st->loop, &d->gai, on_resolved, t.name, NULL, &hints);
        if (rc < 0) {
            p2p_log_debug(TCP_MOD, "cannot resolve %s: %s", t.name, uv_strerror(rc));
            dial_finish(d, rc == UV_ENOMEM ? P2P_ENOMEM : P2P_EIO, NULL, false);
            return rc == UV_ENOMEM ? P2P_ENOMEM : P2P_EIO;
        }
        d->gai_pending = true;
    }
    if (op) *op = d;
    return 0;
}

void tcp_dial_cancel(void *state, void *op)
{
    (void)state;
    struct tcp_dial *d = op;
    if (d && !d->done) dial_finish(d, P2P_ECANCELED, NULL, false);
}

void tcp_dial_abort_all(struct tcp_state *st, bool notify)
{
    /* dial_finish unlinks first; callbacks cannot add dials (stopped). */
    while (!tcp_list_empty(&st->dials))
        dial_finish(TCP_CONTAINER_OF(st->dials.next, struct tcp_dial, link), P2P_ECANCELED, NULL, notify);
}
