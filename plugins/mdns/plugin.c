/* plugin.c - the mdns plugin: libp2p mDNS peer discovery (libp2p specs
 * discovery/mdns.md) on 224.0.0.251:5353 and, with ipv6 = true,
 * [ff02::fb]:5353. Glue between mdns_logic (what to send and when, what a
 * message says) and the system: sockets, interfaces, timers, the host.
 *
 * Sockets: one UDP socket per address family in use (ipv4, ipv6), bound to the wildcard
 * address on port 5353 with SO_REUSEADDR and SO_REUSEPORT (several
 * processes on one host share the port: multicast reaches them all), with
 * multicast loopback on (two peers on one host see each other), TTL/hop
 * limit 255 (RFC 6762 11), IP_MULTICAST_ALL off (only the memberships of
 * this socket) and IP_PKTINFO, which tells the interface a datagram came
 * in on and its destination: only datagrams sent to the mDNS group are
 * read (a unicast datagram to port 5353 from anywhere cannot make us
 * speak). The group is joined per interface (IP_ADD_MEMBERSHIP with the
 * interface index) and every datagram is sent on one interface
 * (IP_MULTICAST_IF / the IPv6 scope id) from port 5353.
 *
 * Interfaces: every interface that is up, running and multicast-capable,
 * not loopback (unless include_loopback), and named in `interfaces` when
 * that is set. They are rescanned every rescan_interval (getifaddrs):
 * new ones are joined and get a query burst and an announcement; gone
 * ones are dropped. A socket that could not be opened (port taken without
 * SO_REUSEPORT by another program) is retried at every rescan; mDNS being
 * unavailable never stops the host.
 *
 * Discoveries go to p2p_host_peer_discovered(..., "mdns"), which fills
 * the peer store, emits P2P_EV_PEER_DISCOVERED and dials (auto_dial);
 * TTL refreshes go straight to the peer store. On stop we send goodbyes
 * (TTL 0) so that peers forget us at once. The peer name is random and
 * new at every start (the spec). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mdns_logic.h"
#include "p2p/conn.h"
#include "p2p/p2p.h"

#define MOD "mdns"
#define RECV_BURST 64            /* datagrams read per readiness event */

static const uint8_t group4[4] = { 224, 0, 0, 251 };
static const uint8_t group6[16] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfb };

struct mdnsp;

/* A socket and its poll handle; freed by its close callback, so it may
 * outlive the plugin state by one loop iteration. */
struct msock {
    struct mdnsp *p;             /* NULL once detached (closing) */
    enum mdns_family fam;
    int fd;
    uv_poll_t poll;
};

struct mif {
    uint32_t key;                /* ifindex * 2 + (IPv6) */
    unsigned ifindex;
    enum mdns_family fam;
    uint8_t addr[16];
    char name[IF_NAMESIZE];
    bool seen;                   /* scratch flag of a rescan */
};

struct mdnsp {
    p2p_host *host;
    const p2p_conf_section *cf;
    struct mdns_logic_config lcfg;
    uint64_t rescan_ms;
    bool ipv4, ipv6, started;
    bool sock_warned[2];         /* a socket failure was logged as a warning (IPv4, IPv6) */
    struct mdns_logic *lg;
    struct msock *s4, *s6;
    struct mif *ifs;
    size_t nifs, cap_ifs;
    p2p_timer *tick, *rescan;
    p2p_subscription *sub;
    uint8_t rbuf[MDNS_PACKET_MAX + 1];
};

static const char *peer_str(const p2p_peerid *id, char buf[P2P_PEERID_STRMAX])
{
    if (p2p_peerid_to_string(id, buf, P2P_PEERID_STRMAX) < 0) snprintf(buf, P2P_PEERID_STRMAX, "?");
    return buf;
}

static const char *fam_str(enum mdns_family f)
{
    return f == MDNS_V4 ? "IPv4" : "IPv6";
}

static const char *addr_str(enum mdns_family f, const uint8_t *a, char *buf, size_t cap)
{
    if (!inet_ntop(f == MDNS_V4 ? AF_INET : AF_INET6, a, buf, (socklen_t)cap)) snprintf(buf, cap, "?");
    return buf;
}

/* ---- timers ------------------------------------------------------------- */

static void rearm(struct mdnsp *p)
{
    if (!p->lg || !p->tick) return;
    uint64_t d = mdns_logic_next_deadline(p->lg), now = p2p_host_now_ms(p->host);
    if (d == UINT64_MAX) p2p_timer_stop(p->tick);
    else p2p_timer_start(p->tick, d > now ? d - now : 0, 0);
}

static void on_tick(p2p_timer *t, void *arg)
{
    (void)t;
    struct mdnsp *p = arg;
    if (!p->lg) return;
    mdns_logic_tick(p->lg, p2p_host_now_ms(p->host));
    rearm(p);
}

/* ---- sockets ------------------------------------------------------------ */

static struct mif *find_if(struct mdnsp *p, enum mdns_family fam, unsigned ifindex)
{
    for (size_t i = 0; i < p->nifs; i++)
        if (p->ifs[i].fam == fam && p->ifs[i].ifindex == ifindex) return &p->ifs[i];
    return NULL;
}

static struct mif *find_key(struct mdnsp *p, uint32_t key)
{
    for (size_t i = 0; i < p->nifs; i++)
        if (p->ifs[i].key == key) return &p->ifs[i];
    return NULL;
}

static void on_sock_closed(uv_handle_t *h)
{
    struct msock *s = h->data;
    close(s->fd);
    free(s);
}

static void sock_close(struct msock *s)
{
    if (!s) return;
    s->p = NULL;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* Read one datagram and hand it to the logic if it came to the group on
 * one of our interfaces. Returns false when the queue is empty. */
static bool read_one(struct mdnsp *p, struct msock *s)
{
    struct sockaddr_storage from;
    union {
        char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { .iov_base = p->rbuf, .iov_len = sizeof p->rbuf };
    struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
    ssize_t n = recvmsg(s->fd, &mh, MSG_DONTWAIT);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            p2p_log_debug(MOD, "%s socket: recvmsg: %s", fam_str(s->fam), strerror(errno));
        return false;
    }
    if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n > MDNS_PACKET_MAX) {
        p2p_log_debug(MOD, "dropped an oversized datagram (%zd bytes)", n);
        return true;
    }
    unsigned ifindex = 0;
    bool to_group = false;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (s->fam == MDNS_V4 && c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            ifindex = (unsigned)pi.ipi_ifindex;
            to_group = !memcmp(&pi.ipi_addr, group4, 4);
        } else if (s->fam == MDNS_V6 && c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            ifindex = pi.ipi6_ifindex;
            to_group = !memcmp(&pi.ipi6_addr, group6, 16);
        }
    }
    struct mif *f = find_if(p, s->fam, ifindex);
    char src[INET6_ADDRSTRLEN];
    const void *sa = from.ss_family == AF_INET ? (const void *)&((struct sockaddr_in *)&from)->sin_addr
                                               : (const void *)&((struct sockaddr_in6 *)&from)->sin6_addr;
    if (!inet_ntop(from.ss_family, sa, src, sizeof src)) snprintf(src, sizeof src, "?");
    if (!to_group || !f) {
        p2p_log_trace(MOD, "ignored %zd bytes from %s (interface %u, %s)", n, src, ifindex,
                      to_group ? "not ours" : "not sent to the mDNS group");
        return true;
    }
    enum mdns_verdict v = mdns_logic_on_packet(p->lg, f->key, p->rbuf, (size_t)n, p2p_host_now_ms(p->host));
    static const char *const names[] = { "ignored", "malformed", "query (answering)", "response (used)",
                                         "our own response" };
    p2p_log_trace(MOD, "%zd bytes from %s on %s: %s", n, src, f->name, names[v]);
    return true;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    struct msock *s = h->data;
    struct mdnsp *p = s->p;
    if (!p || !p->lg) return;
    if (status < 0) {
        p2p_log_debug(MOD, "%s socket poll: %s", fam_str(s->fam), uv_strerror(status));
        return;
    }
    if (!(events & UV_READABLE)) return;
    for (int i = 0; i < RECV_BURST && read_one(p, s); i++) {
    }
    rearm(p);
}

static int setint(int fd, int level, int opt, int v)
{
    return setsockopt(fd, level, opt, &v, sizeof v);
}

static struct msock *sock_open(struct mdnsp *p, enum mdns_family fam)
{
    int af = fam == MDNS_V4 ? AF_INET : AF_INET6;
    bool *warned = &p->sock_warned[fam == MDNS_V6];
    int fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const char *what = "socket";
    if (fd < 0) goto fail;
    what = "SO_REUSEADDR/SO_REUSEPORT";
    if (setint(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0 || setint(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0) goto fail;
    if (fam == MDNS_V4) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(MDNS_PORT) };
        what = "bind 0.0.0.0:5353";
        if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) goto fail;
        what = "multicast options";
        if (setint(fd, IPPROTO_IP, IP_PKTINFO, 1) < 0 || setint(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 1) < 0 ||
            setint(fd, IPPROTO_IP, IP_MULTICAST_TTL, 255) < 0)
            goto fail;
#ifdef IP_MULTICAST_ALL
        setint(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0);
#endif
    } else {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(MDNS_PORT) };
        what = "IPV6_V6ONLY";
        if (setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) < 0) goto fail;
        what = "bind [::]:5353";
        if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) goto fail;
        what = "multicast options";
        if (setint(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) < 0 || setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 1) < 0 ||
            setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255) < 0)
            goto fail;
#ifdef IPV6_MULTICAST_ALL
        setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0);
#endif
    }
    struct msock *s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        goto fail;
    }
    s->p = p;
    s->fam = fam;
    s->fd = fd;
    int rc = uv_poll_init_socket(p2p_host_loop(p->host), &s->poll, fd);
    if (rc < 0) {
        free(s);
        close(fd);
        P2P_LOG(MOD, *warned ? P2P_LOG_DEBUG : P2P_LOG_WARN, "%s socket: %s; mDNS is off on %s, retrying at every rescan",
                fam_str(fam), uv_strerror(rc), fam_str(fam));
        *warned = true;
        return NULL;
    }
    s->poll.data = s;
    uv_poll_start(&s->poll, UV_READABLE, on_readable);
    if (*warned) p2p_log_info(MOD, "%s socket open on port 5353", fam_str(fam));
    *warned = false;
    return s;
fail:;
    int e = errno;
    if (fd >= 0) close(fd);
    P2P_LOG(MOD, *warned ? P2P_LOG_DEBUG : P2P_LOG_WARN, "%s socket: %s failed: %s; mDNS is off on %s, retrying at "
            "every rescan", fam_str(fam), what, strerror(e), fam_str(fam));
    *warned = true;
    return NULL;
}

static int membership(struct mdnsp *p, const struct mif *f, bool join)
{
    struct msock *s = f->fam == MDNS_V4 ? p->s4 : p->s6;
    if (!s) return -1;
    int rc;
    if (f->fam == MDNS_V4) {
        struct ip_mreqn m = { .imr_ifindex = (int)f->ifindex };
        memcpy(&m.imr_multiaddr, group4, 4);
        memcpy(&m.imr_address, f->addr, 4);
        rc = setsockopt(s->fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m, sizeof m);
    } else {
        struct ipv6_mreq m = { .ipv6mr_interface = f->ifindex };
        memcpy(&m.ipv6mr_multiaddr, group6, 16);
        rc = setsockopt(s->fd, IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, &m, sizeof m);
    }
    if (rc < 0 && join && errno == EADDRINUSE) rc = 0;    /* already a member */
    return rc;
}

/* The logic's send callback: one datagram on one interface. */
static void do_send(void *arg, uint32_t key, const uint8_t *pkt, size_t len)
{
    struct mdnsp *p = arg;
    struct mif *f = find_key(p, key);
    if (!f) return;
    struct msock *s = f->fam == MDNS_V4 ? p->s4 : p->s6;
    if (!s) return;
    ssize_t n;
    if (f->fam == MDNS_V4) {
        /* The interface, and its address as the source. */
        struct ip_mreqn m = { .imr_ifindex = (int)f->ifindex };
        memcpy(&m.imr_address, f->addr, 4);
        if (setsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m) < 0) {
            p2p_log_debug(MOD, "IP_MULTICAST_IF %s: %s", f->name, strerror(errno));
            return;
        }
        struct sockaddr_in d = { .sin_family = AF_INET, .sin_port = htons(MDNS_PORT) };
        memcpy(&d.sin_addr, group4, 4);
        n = sendto(s->fd, pkt, len, MSG_DONTWAIT, (struct sockaddr *)&d, sizeof d);
    } else {
        setint(s->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)f->ifindex);
        struct sockaddr_in6 d = { .sin6_family = AF_INET6, .sin6_port = htons(MDNS_PORT),
                                  .sin6_scope_id = f->ifindex };
        memcpy(&d.sin6_addr, group6, 16);
        n = sendto(s->fd, pkt, len, MSG_DONTWAIT, (struct sockaddr *)&d, sizeof d);
    }
    if (n < 0) p2p_log_debug(MOD, "send on %s (%s): %s", f->name, fam_str(f->fam), strerror(errno));
    else p2p_log_trace(MOD, "sent %zu bytes on %s (%s)", len, f->name, fam_str(f->fam));
}

/* ---- interfaces ----------------------------------------------------------- */

static bool name_allowed(const struct mdnsp *p, const char *name)
{
    size_t n = p2p_conf_list_len(p->cf, "interfaces");
    if (!n) return true;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(p2p_conf_list_at(p->cf, "interfaces", i), name)) return true;
    return false;
}

static void if_remove_at(struct mdnsp *p, size_t i, const char *why)
{
    struct mif f = p->ifs[i];
    char a[INET6_ADDRSTRLEN];
    P2P_LOG(MOD, p->started ? P2P_LOG_INFO : P2P_LOG_DEBUG, "interface %s (%s) %s", f.name,
            addr_str(f.fam, f.addr, a, sizeof a), why);
    membership(p, &f, false);      /* fails harmlessly when the interface is gone */
    if (p->lg) mdns_logic_iface_down(p->lg, f.key);
    p->ifs[i] = p->ifs[--p->nifs];
}

static void scan(struct mdnsp *p)
{
    if (p->ipv4 && !p->s4) p->s4 = sock_open(p, MDNS_V4);
    if (p->ipv6 && !p->s6) p->s6 = sock_open(p, MDNS_V6);
    struct ifaddrs *all = NULL;
    if (getifaddrs(&all) < 0) {
        p2p_log_warn(MOD, "getifaddrs: %s", strerror(errno));
        return;
    }
    /* What is there now: one address per (interface, family); for IPv6 a
     * link-local one when there is one. */
    struct mif found[64];
    size_t nfound = 0;
    for (struct ifaddrs *a = all; a; a = a->ifa_next) {
        if (!a->ifa_addr || !a->ifa_name) continue;
        int af = a->ifa_addr->sa_family;
        if (!(af == AF_INET && p->ipv4) && !(af == AF_INET6 && p->ipv6)) continue;
        unsigned fl = a->ifa_flags;
        if (!(fl & IFF_UP) || !(fl & IFF_RUNNING) || !(fl & IFF_MULTICAST)) continue;
        if ((fl & IFF_LOOPBACK) && !p->lcfg.include_loopback) continue;
        if (!name_allowed(p, a->ifa_name)) continue;
        unsigned idx = if_nametoindex(a->ifa_name);
        if (!idx) continue;
        enum mdns_family fam = af == AF_INET ? MDNS_V4 : MDNS_V6;
        const uint8_t *addr = af == AF_INET ? (const uint8_t *)&((struct sockaddr_in *)a->ifa_addr)->sin_addr
                                            : (const uint8_t *)&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr;
        size_t k = 0;
        while (k < nfound && !(found[k].fam == fam && found[k].ifindex == idx)) k++;
        if (k < nfound) {
            bool ll_new = fam == MDNS_V6 && IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)addr);
            bool ll_old = fam == MDNS_V6 && IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)found[k].addr);
            if (ll_new && !ll_old) memcpy(found[k].addr, addr, 16);
            continue;
        }
        if (nfound == sizeof found / sizeof found[0]) continue;
        struct mif *f = &found[nfound++];
        memset(f, 0, sizeof *f);
        f->fam = fam;
        f->ifindex = idx;
        f->key = idx * 2 + (fam == MDNS_V6);
        memcpy(f->addr, addr, fam == MDNS_V4 ? 4 : 16);
        snprintf(f->name, sizeof f->name, "%s", a->ifa_name);
    }
    freeifaddrs(all);

    for (size_t i = 0; i < p->nifs; i++) p->ifs[i].seen = false;
    uint64_t now = p2p_host_now_ms(p->host);
    for (size_t k = 0; k < nfound; k++) {
        struct mif *f = &found[k];
        struct mif *cur = find_key(p, f->key);
        if (cur && !memcmp(cur->addr, f->addr, 16) && !strcmp(cur->name, f->name)) {
            cur->seen = true;
            continue;
        }
        if (cur) if_remove_at(p, (size_t)(cur - p->ifs), "changed address");
        if (!(f->fam == MDNS_V4 ? p->s4 : p->s6)) continue;
        char a[INET6_ADDRSTRLEN];
        if (membership(p, f, true) < 0) {
            p2p_log_warn(MOD, "cannot join the mDNS group on %s (%s): %s", f->name,
                         addr_str(f->fam, f->addr, a, sizeof a), strerror(errno));
            continue;
        }
        if (p->nifs == p->cap_ifs) {
            size_t nc = p->cap_ifs ? 2 * p->cap_ifs : 4;
            struct mif *n = realloc(p->ifs, nc * sizeof *n);
            if (!n) {
                membership(p, f, false);
                continue;
            }
            p->ifs = n;
            p->cap_ifs = nc;
        }
        f->seen = true;
        p->ifs[p->nifs++] = *f;
        if (p->lg) mdns_logic_iface_up(p->lg, f->key, f->fam, f->addr, now);
        p2p_log_info(MOD, "using interface %s (%s)", f->name, addr_str(f->fam, f->addr, a, sizeof a));
    }
    for (size_t i = 0; i < p->nifs;) {
        if (!p->ifs[i].seen) if_remove_at(p, i, "is gone");
        else i++;
    }
}

static void on_rescan(p2p_timer *t, void *arg)
{
    (void)t;
    struct mdnsp *p = arg;
    scan(p);
    rearm(p);
}

/* ---- the logic's callbacks --------------------------------------------------- */

static size_t own_addrs(void *arg, p2p_multiaddr *out, size_t max)
{
    struct mdnsp *p = arg;
    return p2p_host_advertised_addrs(p->host, out, max);
}

static void discovered(void *arg, enum mdns_report kind, const p2p_peerid *peer, const p2p_multiaddr *addrs,
                       size_t n, uint64_t ttl_ms)
{
    struct mdnsp *p = arg;
    char id[P2P_PEERID_STRMAX];
    bool connected = p2p_host_conn_to(p->host, peer) != NULL;
    if (kind == MDNS_REPORT_REFRESH || (kind == MDNS_REPORT_AGAIN && connected)) {
        /* Nothing new: extend the addresses' lifetime in the peer store. */
        p2p_peerstore_add_addrs(p->host, peer, addrs, n, ttl_ms);
        return;
    }
    peer_str(peer, id);
    switch (kind) {
    case MDNS_REPORT_NEW:
        p2p_log_info(MOD, "discovered peer %s (%zu address%s)", id, n, n == 1 ? "" : "es");
        break;
    case MDNS_REPORT_CHANGED:
        p2p_log_debug(MOD, "peer %s has new addresses (%zu now)", id, n);
        break;
    case MDNS_REPORT_AGAIN:
        p2p_log_debug(MOD, "peer %s still announced and not connected: reporting it again", id);
        break;
    case MDNS_REPORT_REFRESH:
        break;
    }
    if (p2p_log_enabled(MOD, P2P_LOG_DEBUG)) {
        for (size_t i = 0; i < n; i++) {
            char t[P2P_MADDR_STRMAX];
            if (p2p_maddr_to_string(&addrs[i], t, sizeof t) >= 0) p2p_log_debug(MOD, "  %s", t);
        }
    }
    int rc = p2p_host_peer_discovered(p->host, peer, addrs, n, ttl_ms, "mdns");
    if (rc < 0) p2p_log_debug(MOD, "peer %s not recorded: %s", id, p2p_strerror(rc));
}

static void gone(void *arg, const p2p_peerid *peer, bool goodbye)
{
    (void)arg;
    char id[P2P_PEERID_STRMAX];
    p2p_log_debug(MOD, "peer %s %s", peer_str(peer, id), goodbye ? "said goodbye" : "expired");
}

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct mdnsp *p = arg;
    if (ev->type != P2P_EV_ADDRS_CHANGED || !p->lg) return;
    mdns_logic_announce(p->lg, p2p_host_now_ms(p->host));
    rearm(p);
}

/* ---- plugin ------------------------------------------------------------------ */

static const struct p2p_conf_key keys[] = {
    { "interfaces", P2P_CONF_LIST, NULL, 0, 0, NULL,
      "interface names to use (comma-separated); empty: every multicast-capable non-loopback interface" },
    { "query_interval", P2P_CONF_DURATION, "5m", 100, 86400000, NULL,
      "interval between queries after the initial burst (rust-libp2p: 5m)" },
    { "ttl", P2P_CONF_DURATION, "6m", 1000, 86400000, NULL, "TTL of the records we announce (rust-libp2p: 6m)" },
    { "max_ttl", P2P_CONF_DURATION, "1h", 1000, 86400000, NULL, "longest TTL accepted from other peers" },
    { "ipv4", P2P_CONF_BOOL, "true", 0, 0, NULL, "use 224.0.0.251:5353" },
    { "ipv6", P2P_CONF_BOOL, "false", 0, 0, NULL, "use [ff02::fb]:5353 (off by default, as rust-libp2p)" },
    { "peer_name_len", P2P_CONF_INT, "0", 0, 63, NULL,
      "length of our random peer name: 0 = random 32..63 (as rust and go), else 32..63" },
    { "max_peers", P2P_CONF_INT, "64", 1, 4096, NULL, "peers remembered at once" },
    { "max_addrs", P2P_CONF_INT, "16", 1, MDNS_MAX_ADDRS_LIMIT, NULL, "addresses remembered per peer" },
    { "include_loopback", P2P_CONF_BOOL, "false", 0, 0, NULL,
      "announce and accept loopback addresses, and use multicast-capable loopback interfaces" },
    { "rescan_interval", P2P_CONF_DURATION, "5s", 500, 3600000, NULL, "how often interfaces are rescanned" },
    { "max_packet", P2P_CONF_SIZE, "1400", 512, MDNS_PACKET_MAX, NULL, "largest message we send, in bytes" },
    { "max_records", P2P_CONF_INT, "128", 8, 1024, NULL, "records accepted in one received message" },
    P2P_CONF_KEYS_END
};

static int mdns_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    int64_t nl = p2p_conf_int(cf, "peer_name_len");
    if (nl != 0 && nl < 32) {
        p2p_host_set_error(h, "peer_name_len must be 0 (random 32..63) or between 32 and 63 (the spec asks for at "
                              "least 32 characters), not %lld", (long long)nl);
        return P2P_ECONFIG;
    }
    if (!p2p_conf_bool(cf, "ipv4") && !p2p_conf_bool(cf, "ipv6")) {
        p2p_host_set_error(h, "ipv4 and ipv6 are both off: nothing to do; remove the [plugin mdns] section instead");
        return P2P_ECONFIG;
    }
    struct mdnsp *p = calloc(1, sizeof *p);
    if (!p) return P2P_ENOMEM;
    p->host = h;
    p->cf = cf;
    struct mdns_logic_config *c = &p->lcfg;
    mdns_logic_config_default(c);
    c->query_interval_ms = p2p_conf_duration_ms(cf, "query_interval");
    c->rediscover_ms = c->query_interval_ms;
    c->ttl_s = (uint32_t)((p2p_conf_duration_ms(cf, "ttl") + 999) / 1000);
    c->max_ttl_s = (uint32_t)((p2p_conf_duration_ms(cf, "max_ttl") + 999) / 1000);
    c->peer_name_len = (size_t)nl;
    c->max_peers = (size_t)p2p_conf_int(cf, "max_peers");
    c->max_addrs = (size_t)p2p_conf_int(cf, "max_addrs");
    c->include_loopback = p2p_conf_bool(cf, "include_loopback");
    c->max_packet = (size_t)p2p_conf_size(cf, "max_packet");
    c->limits.max_records = (size_t)p2p_conf_int(cf, "max_records");
    c->limits.max_txt_strings = 2 * c->limits.max_records;
    p->ipv4 = p2p_conf_bool(cf, "ipv4");
    p->ipv6 = p2p_conf_bool(cf, "ipv6");
    p->rescan_ms = p2p_conf_duration_ms(cf, "rescan_interval");
    *state = p;
    return 0;
}

static int mdns_start(void *state)
{
    struct mdnsp *p = state;
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
    struct mdns_logic_cbs cbs = { .send = do_send, .own_addrs = own_addrs, .discovered = discovered,
                                  .gone = gone, .arg = p };
    p->lg = mdns_logic_new(&p->lcfg, p2p_host_peerid(p->host), seed, &cbs);
    p->tick = p2p_timer_new(p->host, on_tick, p);
    p->rescan = p2p_timer_new(p->host, on_rescan, p);
    p->sub = p2p_host_subscribe(p->host, P2P_EV_ADDRS_CHANGED, on_event, p);
    if (!p->lg || !p->tick || !p->rescan || !p->sub) {
        p2p_host_set_error(p->host, "out of memory");
        return P2P_ENOMEM;
    }
    p->started = true;
    p2p_log_info(MOD, "peer name %s, querying every %llu ms over %s", mdns_logic_peer_name(p->lg),
                 (unsigned long long)p->lcfg.query_interval_ms,
                 p->ipv4 && p->ipv6 ? "IPv4 and IPv6" : p->ipv4 ? "IPv4" : "IPv6");
    scan(p);
    p2p_timer_start(p->rescan, p->rescan_ms, p->rescan_ms);
    rearm(p);
    return 0;
}

static void mdns_stop(void *state)
{
    struct mdnsp *p = state;
    if (p->lg && p->started) mdns_logic_goodbye(p->lg);
    p->started = false;
    if (p->sub) p2p_host_unsubscribe(p->host, p->sub);
    p->sub = NULL;
    if (p->tick) p2p_timer_free(p->tick);
    if (p->rescan) p2p_timer_free(p->rescan);
    p->tick = p->rescan = NULL;
    while (p->nifs) if_remove_at(p, p->nifs - 1, "released");
    sock_close(p->s4);
    sock_close(p->s6);
    p->s4 = p->s6 = NULL;
    mdns_logic_free(p->lg);
    p->lg = NULL;
}

static void mdns_fini(void *state)
{
    struct mdnsp *p = state;
    free(p->ifs);
    free(p);
}

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR, .abi_minor = P2P_ABI_MINOR,
    .name = "mdns", .version = "1.0.0",
    .description = "mDNS peer discovery on the local network (_p2p._udp.local)",
    .requires = NULL, .config = keys,
    .init = mdns_init, .start = mdns_start, .stop = mdns_stop, .fini = mdns_fini,
});
