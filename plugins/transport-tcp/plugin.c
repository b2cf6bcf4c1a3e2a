/* plugin.c - the transport-tcp plugin: descriptor, lifecycle, address
 * matching. Registers the "tcp" transport (p2p/transport.h) in init.
 *
 * Addresses: listen on /ip4/A/tcp/P and /ip6/A/tcp/P; dial those and
 * /dns/H/tcp/P, /dns4/..., /dns6/... (resolved off the loop with
 * uv_getaddrinfo), each optionally followed by /p2p/ID. Anything else after
 * /tcp/P (/ws, /p2p-circuit, ...) belongs to another transport.
 *
 * IPv6 listeners set IPV6_V6ONLY, so /ip4/0.0.0.0/tcp/P and /ip6/::/tcp/P
 * are two independent listeners that can coexist on the same port, and an
 * IPv6 listener never reports IPv4 peers as ::ffff:a.b.c.d.
 *
 * Shutdown: stop() closes the listeners and completes every pending dial
 * with P2P_ECANCELED before it returns (the owners of dials are stopped
 * but not yet finalized then, so their memory is valid; no dial callback
 * runs after stop). Open connections are left to their owners, which close
 * them in their own stop (they stop before us). fini() closes whatever
 * socket is still open without calling anybody; objects still held by
 * their owners, and handles still closing, keep the state alive until the
 * last one is released (see tcp.h).
 *
 * The application must ignore SIGPIPE (p2pchat does): libuv writes with
 * write(2), which raises it when the peer has reset the connection. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp.h"

void tcp_state_ref(struct tcp_state *st)
{
    st->refs++;
}

void tcp_state_unref(struct tcp_state *st)
{
    if (--st->refs == 0) {
        tcp_blocks_free(st);
        free(st);
    }
}

const char *tcp_maddr_str(const p2p_multiaddr *ma, char *buf, size_t cap)
{
    if (p2p_maddr_to_string(ma, buf, cap) < 0) snprintf(buf, cap, "?");
    return buf;
}

const char *tcp_sockaddr_str(const struct sockaddr *sa, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
        snprintf(buf, cap, "%s:%u", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
        snprintf(buf, cap, "[%s]:%u", ip, port);
    } else {
        snprintf(buf, cap, "?");
    }
    return buf;
}

int tcp_parse(const p2p_multiaddr *ma, bool listen, struct tcp_target *t)
{
    struct p2p_maddr_component c[4];
    size_t off = 0, n = 0;
    while (n < 4 && p2p_maddr_next(ma, &off, &c[n]) == 1) n++;
    if (off != ma->len || n < 2 || n > 3 || c[1].code != P2P_MA_TCP || c[1].value_len != 2) return P2P_EINVAL;
    if (n == 3 && (listen || c[2].code != P2P_MA_P2P)) return P2P_EINVAL;
    memset(t, 0, sizeof *t);
    t->port = (uint16_t)(c[1].value[0] << 8 | c[1].value[1]);
    switch (c[0].code) {
    case P2P_MA_IP4: {
        struct sockaddr_in *in = (struct sockaddr_in *)&t->sa;
        t->kind = TCP_IP4;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, c[0].value, 4);
        in->sin_port = htons(t->port);
        break;
    }
    case P2P_MA_IP6: {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&t->sa;
        t->kind = TCP_IP6;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, c[0].value, 16);
        in6->sin6_port = htons(t->port);
        break;
    }
    case P2P_MA_DNS:
    case P2P_MA_DNS4:
    case P2P_MA_DNS6:
        if (listen || c[0].value_len > TCP_DNS_NAME_MAX) return P2P_EINVAL;
        t->kind = c[0].code == P2P_MA_DNS ? TCP_DNS : c[0].code == P2P_MA_DNS4 ? TCP_DNS4 : TCP_DNS6;
        memcpy(t->name, c[0].value, c[0].value_len);
        break;
    default:
        return P2P_EINVAL;
    }
    /* Port 0 means "any" when listening; it cannot be dialed. */
    if (!listen && t->port == 0) return P2P_EINVAL;
    return 0;
}

static bool tcp_can_dial(void *state, const p2p_multiaddr *ma)
{
    (void)state;
    struct tcp_target t;
    return tcp_parse(ma, false, &t) == 0;
}

static bool tcp_can_listen(void *state, const p2p_multiaddr *ma)
{
    (void)state;
    struct tcp_target t;
    return tcp_parse(ma, true, &t) == 0;
}

static const struct p2p_transport_ops tcp_ops = {
    .name = "tcp",
    .limited = false,
    .can_dial = tcp_can_dial,
    .can_listen = tcp_can_listen,
    .dial = tcp_dial,
    .dial_cancel = tcp_dial_cancel,
    .listen = tcp_listen,
    .listen_addrs = tcp_listen_addrs,
    .listen_close = tcp_listen_close,
};

static int tcp_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct tcp_state *st = calloc(1, sizeof *st);
    if (!st) {
        p2p_host_set_error(h, "out of memory");
        return P2P_ENOMEM;
    }
    st->host = h;
    st->loop = p2p_host_loop(h);
    st->connect_timeout_ms = p2p_conf_duration_ms(cf, "connect_timeout");
    st->linger_ms = p2p_conf_duration_ms(cf, "linger");
    st->keepalive_ms = p2p_conf_duration_ms(cf, "keepalive");
    st->backlog = (int)p2p_conf_int(cf, "backlog");
    st->write_queue_max = (size_t)p2p_conf_size(cf, "write_queue_max");
    uint64_t lowat = p2p_conf_size(cf, "notsent_lowat");
    if (lowat && lowat < TCP_LOWAT_MIN) {
        p2p_host_set_error(h, "notsent_lowat = %llu bytes: must be 0 (the system's default, no limit) or at least "
                           "16KiB (a smaller one wakes the writer every few frames)", (unsigned long long)lowat);
        free(st);
        return P2P_ECONFIG;
    }
    st->notsent_lowat = (unsigned)lowat;
    st->refs = 1;   /* the plugin's own, dropped in fini */
    tcp_list_init(&st->listeners);
    tcp_list_init(&st->dials);
    tcp_list_init(&st->conns);
    int rc = p2p_transport_add(h, &tcp_ops, st);
    if (rc < 0) {
        p2p_host_set_error(h, "cannot register the tcp transport: %s", p2p_strerror(rc));
        free(st);
        return rc;
    }
    tcp_flush_init(st);
    *state = st;
    return 0;
}

static int tcp_start(void *state)
{
    struct tcp_state *st = state;
    st->stopped = false;   /* the swarm calls listen() itself */
    return 0;
}

static void close_listeners(struct tcp_state *st)
{
    while (!tcp_list_empty(&st->listeners))
        tcp_listen_close(st, TCP_CONTAINER_OF(st->listeners.next, struct tcp_listener, link));
}

static void tcp_stop(void *state)
{
    struct tcp_state *st = state;
    st->stopped = true;
    close_listeners(st);
    tcp_dial_abort_all(st, true);
}

static void tcp_fini(void *state)
{
    struct tcp_state *st = state;
    st->stopped = true;
    close_listeners(st);
    tcp_dial_abort_all(st, false);   /* only if stop never ran */
    st->finied = true;
    tcp_conn_close_all(st);
    tcp_flush_close(st);
    p2p_transport_remove(st->host, &tcp_ops);
    tcp_state_unref(st);
}

static const struct p2p_conf_key tcp_keys[] = {
    { "connect_timeout", P2P_CONF_DURATION, "10s", 100, 3600000, NULL,
      "time allowed to establish an outgoing connection (name resolution included)" },
    { "backlog", P2P_CONF_INT, "1024", 1, 65535, NULL,
      "listen(2) backlog: connections the kernel queues before we accept them" },
    { "keepalive", P2P_CONF_DURATION, "0", 0, 86400000, NULL,
      "TCP keepalive idle time, rounded up to seconds (0 = off)" },
    { "linger", P2P_CONF_DURATION, "5s", 0, 600000, NULL,
      "how long a connection closed after shutdown may still send its queued bytes and FIN" },
    { "write_queue_max", P2P_CONF_SIZE, "16MiB", 65536, 1073741824, NULL,
      "bytes a connection queues for the socket before writes fail with P2P_EAGAIN" },
    { "notsent_lowat", P2P_CONF_SIZE, "64KiB", 0, 1073741824, NULL,
      "TCP_NOTSENT_LOWAT: unsent bytes the kernel may hold per connection; less keeps Yamux's fair turns "
      "and small messages close to the wire (0 = the system's default, otherwise at least 16KiB)" },
    P2P_CONF_KEYS_END
};

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "transport-tcp",
    .version = "1.0.0",
    .description = "TCP transport (ip4, ip6, dns) with port reuse for hole punching",
    .requires = NULL,
    .config = tcp_keys,
    .init = tcp_init,
    .start = tcp_start,
    .stop = tcp_stop,
    .fini = tcp_fini,
});
