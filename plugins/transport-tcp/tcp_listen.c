/* tcp_listen.c - listeners: sockets we create ourselves (libuv 1.44's
 * uv_tcp_bind cannot set SO_REUSEPORT) and accept from ourselves (see
 * on_poll), and the addresses a listener is reachable at.
 *
 * Every listener sets SO_REUSEADDR and SO_REUSEPORT so that outgoing
 * connections of a reuse_port dial can bind to the same port (hole
 * punching: the NAT mapping then matches the advertised port). IPv6
 * listeners set IPV6_V6ONLY (see plugin.c). */
#define _GNU_SOURCE   /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcp.h"

int tcp_socket_reuse(int family)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

static bool sa_is_wildcard(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static void on_listener_handle_closed(uv_handle_t *hd)
{
    struct tcp_listener *l = hd->data;
    if (--l->handles) return;
    struct tcp_state *st = l->st;
    close(l->fd);   /* after the poll handle stopped watching it */
    free(l);
    tcp_state_unref(st);
}

/* Accept errors are logged at most once a second per listener. */
static void accept_error(struct tcp_listener *l, const char *what, int err)
{
    uint64_t now = uv_now(l->st->loop);
    if (l->last_warn_ms && now - l->last_warn_ms < 1000) {
        l->suppressed++;
        return;
    }
    char a[64];
    p2p_log_warn(TCP_MOD, "listener %s: %s: %s (%lu similar message(s) suppressed)",
                 tcp_sockaddr_str((const struct sockaddr *)&l->bound, a, sizeof a), what,
                 uv_strerror(err), l->suppressed);
    l->last_warn_ms = now ? now : 1;
    l->suppressed = 0;
}

static void on_poll(uv_poll_t *p, int status, int events);

static void on_backoff(uv_timer_t *t)
{
    struct tcp_listener *l = t->data;
    if (!l->closing) uv_poll_start(&l->poll, UV_READABLE, on_poll);
}

/* Out of descriptors or memory: leave the connections in the kernel's
 * backlog and retry later, doubling the pause up to 1 s. */
static void pause_accepting(struct tcp_listener *l, int err)
{
    l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : 50;
    if (l->backoff_ms > 1000) l->backoff_ms = 1000;
    accept_error(l, "accept failed; pausing this listener", err);
    uv_poll_stop(&l->poll);
    uv_timer_start(&l->backoff, on_backoff, l->backoff_ms, 0);
}

static void take(struct tcp_listener *l, int fd)
{
    struct tcp_conn *c = tcp_conn_new(l->st);
    if (!c) {
        close(fd);
        accept_error(l, "connection dropped", UV_ENOMEM);
        return;
    }
    int rc = uv_tcp_open(&c->tcp, fd);
    if (rc < 0) {
        close(fd);
        accept_error(l, "connection dropped", rc);
        tcp_conn_close_handle(c, false);
        return;
    }
    if (tcp_conn_setup(c) < 0) return;   /* reset already, e.g. by the peer */
    if (p2p_log_enabled(TCP_MOD, P2P_LOG_DEBUG)) {
        char r[P2P_MADDR_STRMAX];
        p2p_log_debug(TCP_MOD, "accepted %s", tcp_maddr_str(p2p_stream_remote_addr(c->stream), r, sizeof r));
    }
    l->cb(c->stream, l->arg);   /* may close the listener (freed later) */
}

/* We accept ourselves rather than through uv_listen: libuv retries a
 * failing accept(2) in a tight loop (or silently drops the queue with its
 * EMFILE trick), whereas we want to log and pause. At most 32 accepts per
 * wake-up, so a flood cannot starve the loop. */
static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)events;
    struct tcp_listener *l = p->data;
    if (status < 0) {
        pause_accepting(l, status);
        return;
    }
    for (int i = 0; i < 32 && !l->closing; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            l->backoff_ms = 0;
            take(l, fd);
            continue;
        }
        switch (errno) {
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
            return;
        /* Errors of the pending connection, not of the listener: accept(2)
         * on Linux reports them and they go away by retrying. */
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case EOPNOTSUPP:
        case ENETUNREACH:
        case EPERM:   /* firewall rules */
            continue;
        default:      /* EMFILE, ENFILE, ENOBUFS, ENOMEM, ... */
            pause_accepting(l, -errno);
            return;
        }
    }
}

static int listen_fail(char *err, size_t errlen, const char *addr, const char *what, int e)
{
    snprintf(err, errlen, "cannot listen on %s: %s: %s", addr, what, uv_strerror(e));
    return tcp_err(e);
}

int tcp_listen(void *state, const p2p_multiaddr *ma, p2p_accept_cb cb, void *arg,
               void **listener, char *err, size_t errlen)
{
    struct tcp_state *st = state;
    char as[P2P_MADDR_STRMAX];
    struct tcp_target t;
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    tcp_maddr_str(ma, as, sizeof as);
    if (tcp_parse(ma, true, &t) < 0) {
        snprintf(err, errlen, "cannot listen on %s: not a /ip4 or /ip6 TCP address", as);
        return P2P_EINVAL;
    }
    if (!cb) {
        snprintf(err, errlen, "cannot listen on %s: no accept callback", as);
        return P2P_EINVAL;
    }
    if (st->stopped || st->finied) {
        snprintf(err, errlen, "cannot listen on %s: the tcp transport is stopped", as);
        return P2P_ESTATE;
    }
    int family = t.kind == TCP_IP4 ? AF_INET : AF_INET6;
    socklen_t salen = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    int fd = tcp_socket_reuse(family);
    if (fd < 0) return listen_fail(err, errlen, as, "socket", fd);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    const char *step = "bind";
    int rc = bind(fd, (struct sockaddr *)&t.sa, salen);
    if (rc == 0) {
        step = "listen";
        rc = listen(fd, st->backlog);
    }
    if (rc == 0) {
        step = "getsockname";
        rc = getsockname(fd, (struct sockaddr *)&bound, &blen);
    }
    if (rc < 0) {
        int e = -errno;
        close(fd);
        if (e == UV_EADDRINUSE) {
            snprintf(err, errlen, "cannot listen on %s: the address is already in use", as);
            return P2P_EBUSY;
        }
        return listen_fail(err, errlen, as, step, e);
    }
    struct tcp_listener *l = calloc(1, sizeof *l);
    if (!l) {
        close(fd);
        snprintf(err, errlen, "cannot listen on %s: out of memory", as);
        return P2P_ENOMEM;
    }
    /* uv_poll_init_socket registers nothing when it fails. */
    rc = uv_poll_init_socket(st->loop, &l->poll, fd);
    if (rc < 0) {
        free(l);
        close(fd);
        return listen_fail(err, errlen, as, "uv_poll_init_socket", rc);
    }
    (void)uv_timer_init(st->loop, &l->backoff);   /* cannot fail */
    l->st = st;
    l->fd = fd;
    l->poll.data = l;
    l->backoff.data = l;
    l->handles = 2;
    l->cb = cb;
    l->arg = arg;
    l->bound = bound;
    l->wildcard = sa_is_wildcard((const struct sockaddr *)&bound);
    tcp_state_ref(st);
    tcp_list_add(&st->listeners, &l->link);
    uv_poll_start(&l->poll, UV_READABLE, on_poll);
    char b[64];
    p2p_log_debug(TCP_MOD, "listening on %s", tcp_sockaddr_str((struct sockaddr *)&bound, b, sizeof b));
    *listener = l;
    return 0;
}

void tcp_listen_close(void *state, void *listener)
{
    (void)state;
    struct tcp_listener *l = listener;
    if (!l || l->closing) return;
    l->closing = true;
    tcp_list_del(&l->link);
    uv_close((uv_handle_t *)&l->poll, on_listener_handle_closed);
    uv_close((uv_handle_t *)&l->backoff, on_listener_handle_closed);
}

static bool is_link_local6(const struct sockaddr_in6 *a)
{
    return IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr);
}

size_t tcp_listen_addrs(void *state, void *listener, p2p_multiaddr *out, size_t max)
{
    (void)state;
    struct tcp_listener *l = listener;
    const struct sockaddr *b = (const struct sockaddr *)&l->bound;
    p2p_multiaddr ma;
    if (!l->wildcard) {
        if (p2p_maddr_from_sockaddr(&ma, b, P2P_MA_TCP) < 0) return 0;
        if (max) out[0] = ma;
        return 1;
    }
    /* A wildcard listener is reachable at every address of its family. */
    uv_interface_address_t *ifs = NULL;
    int nifs = 0;
    if (uv_interface_addresses(&ifs, &nifs) < 0) nifs = 0;
    /* Duplicates (one address on several interface entries) are skipped;
     * `seen` holds the addresses counted so far (out may be shorter). */
    p2p_multiaddr *seen = nifs ? calloc((size_t)nifs, sizeof *seen) : NULL;
    size_t n = 0;   /* distinct addresses so far, all in seen[] */
    for (int i = 0; seen && i < nifs; i++) {
        struct sockaddr_storage ss;
        const struct sockaddr *ia = (const struct sockaddr *)&ifs[i].address;
        if (ia->sa_family != b->sa_family) continue;
        if (ia->sa_family == AF_INET) {
            struct sockaddr_in in = ifs[i].address.address4;
            in.sin_port = ((const struct sockaddr_in *)b)->sin_port;
            memcpy(&ss, &in, sizeof in);
        } else {
            struct sockaddr_in6 in6 = ifs[i].address.address6;
            if (is_link_local6(&in6)) continue;
            in6.sin6_port = ((const struct sockaddr_in6 *)b)->sin6_port;
            in6.sin6_scope_id = 0;
            memcpy(&ss, &in6, sizeof in6);
        }
        if (p2p_maddr_from_sockaddr(&ma, (const struct sockaddr *)&ss, P2P_MA_TCP) < 0) continue;
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++) dup = p2p_maddr_equal(&seen[j], &ma);
        if (dup) continue;
        if (n < max) out[n] = ma;
        seen[n++] = ma;
    }
    free(seen);
    uv_free_interface_addresses(ifs, nifs);
    if (n == 0) {
        /* No interface list: the wildcard itself is the best we know. */
        if (p2p_maddr_from_sockaddr(&ma, b, P2P_MA_TCP) < 0) return 0;
        if (max) out[0] = ma;
        n = 1;
    }
    return n;
}

static bool sa_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

const struct tcp_listener *tcp_listener_for(const struct tcp_state *st, const struct sockaddr *dest)
{
    /* A wildcard listener works for any route. A specific one only if a
     * socket bound to its address can reach dest: a loopback listener
     * cannot dial out, and the reverse. */
    const struct tcp_listener *best = NULL;
    for (const struct tcp_link *k = st->listeners.next; k != &st->listeners; k = k->next) {
        const struct tcp_listener *l = TCP_CONTAINER_OF(k, struct tcp_listener, link);
        if (l->bound.ss_family != dest->sa_family) continue;
        if (l->wildcard) return l;
        if (!best && sa_is_loopback((const struct sockaddr *)&l->bound) == sa_is_loopback(dest)) best = l;
    }
    return best;
}
