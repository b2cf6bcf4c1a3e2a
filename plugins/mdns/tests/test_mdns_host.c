/* test_mdns_host.c - the real mdns plugin (with transport-tcp, noise,
 * yamux) in hosts of one process, inside a private network namespace made
 * with unshare(CLONE_NEWNET): only a loopback interface, switched to
 * multicast, so mDNS never touches the machine's own network. The hosts use
 * include_loopback (the loopback interface and 127.0.0.1 addresses):
 * discovery and connection between two hosts, then a third one joining
 * later; hosts starting while port 5353 is held exclusively by another
 * program, which take it up when it is freed.
 * Skipped (exit 77) when the namespace cannot be made (not root). */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "p2p/p2p.h"
#include "testutil.h"

#define MAXH 3

struct obs {
    p2p_host *h;
    p2p_peerid discovered[8];
    size_t ndisc;
    p2p_peerid connected[8];
    size_t nconn;
};

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct obs *o = arg;
    if (ev->type == P2P_EV_PEER_DISCOVERED && o->ndisc < 8 && ev->source && !strcmp(ev->source, "mdns"))
        o->discovered[o->ndisc++] = *ev->peer;
    if (ev->type == P2P_EV_CONNECTED && o->nconn < 8) o->connected[o->nconn++] = *ev->peer;
}

static bool has(const p2p_peerid *list, size_t n, const p2p_peerid *id)
{
    for (size_t i = 0; i < n; i++)
        if (p2p_peerid_equal(&list[i], id)) return true;
    return false;
}

static p2p_host *host_new(uv_loop_t *loop, struct obs *o)
{
    char text[2048], err[1024];
    snprintf(text, sizeof text,
             "[host]\nephemeral_identity = true\nlisten = /ip4/127.0.0.1/tcp/0\nlog = %s\n"
             "[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n"
             "[plugin mdns]\ninclude_loopback = true\nquery_interval = 1s\nrescan_interval = 500ms\n",
             getenv("P2P_LOG") ? getenv("P2P_LOG") : "warn");
    p2p_conf *cf = p2p_conf_load_string(text, "mdns-host.ini", err, sizeof err);
    ck_assert_msg(cf != NULL, "config: %s", err);
    struct p2p_host_opts ho = { .loop = loop };
    p2p_host *h = NULL;
    ck_assert_msg(p2p_host_new(&h, cf, &ho, err, sizeof err) == 0, "host: %s", err);
    o->h = h;
    p2p_host_subscribe(h, P2P_EV_PEER_DISCOVERED | P2P_EV_CONNECTED, on_event, o);
    ck_assert_msg(p2p_host_start(h, err, sizeof err) == 0, "start: %s", err);
    return h;
}

struct cond {
    struct obs *o;
    size_t n;
};

/* Every host discovered and is connected to every other. */
static bool all_found(const struct cond *c)
{
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = 0; j < c->n; j++) {
            if (i == j) continue;
            const p2p_peerid *other = p2p_host_peerid(c->o[j].h);
            if (!has(c->o[i].discovered, c->o[i].ndisc, other)) return false;
            if (!p2p_host_conn_to(c->o[i].h, other)) return false;
        }
    return true;
}

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static bool run_until_found(uv_loop_t *loop, const struct cond *c, uint64_t ms)
{
    uv_timer_t t;
    bool expired = false;
    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, ms, 0);
    while (!all_found(c) && !expired) uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&t);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return all_found(c);
}

START_TEST(two_then_three)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct obs o[MAXH];
    memset(o, 0, sizeof o);
    host_new(&loop, &o[0]);
    host_new(&loop, &o[1]);
    struct cond c = { o, 2 };
    ck_assert_msg(run_until_found(&loop, &c, 15000), "two hosts did not find each other (A: %zu discovered, "
                  "%zu connected; B: %zu, %zu)", o[0].ndisc, o[0].nconn, o[1].ndisc, o[1].nconn);
    /* The peer store has the other's loopback address. */
    p2p_multiaddr a[8];
    ck_assert_uint_ge(p2p_peerstore_addrs(o[0].h, p2p_host_peerid(o[1].h), a, 8), 1);
    /* A host that comes later is found too (the others answer its query). */
    host_new(&loop, &o[2]);
    c.n = 3;
    ck_assert_msg(run_until_found(&loop, &c, 15000), "the third host was not found");
    for (int i = MAXH - 1; i >= 0; i--) p2p_host_free(o[i].h);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* Port 5353 held by a program without SO_REUSEADDR/SO_REUSEPORT: the
 * hosts start anyway and take the port up once it is free. */
START_TEST(port_taken_then_free)
{
    int blocker = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(5353) };
    ck_assert_int_ge(blocker, 0);
    ck_assert_int_eq(bind(blocker, (struct sockaddr *)&a, sizeof a), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct obs o[2];
    memset(o, 0, sizeof o);
    host_new(&loop, &o[0]);
    host_new(&loop, &o[1]);
    struct cond c = { o, 2 };
    ck_assert(!run_until_found(&loop, &c, 1500));
    close(blocker);
    ck_assert_msg(run_until_found(&loop, &c, 15000), "the hosts did not find each other once 5353 was free");
    for (int i = 1; i >= 0; i--) p2p_host_free(o[i].h);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* A private namespace whose loopback is up and multicast-capable. */
static int make_namespace(char *why, size_t cap)
{
    if (geteuid() != 0) {
        snprintf(why, cap, "not root (needs unshare(CLONE_NEWNET))");
        return -1;
    }
    if (unshare(CLONE_NEWNET) < 0) {
        snprintf(why, cap, "unshare(CLONE_NEWNET): %s", strerror(errno));
        return -1;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
        snprintf(why, cap, "SIOCGIFFLAGS lo: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    ifr.ifr_flags |= IFF_UP | IFF_MULTICAST;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
        snprintf(why, cap, "SIOCSIFFLAGS lo: %s", strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int main(void)
{
    char why[256];
    if (make_namespace(why, sizeof why) < 0) {
        printf("SKIP: mdns host test: %s\n", why);
        return 77;
    }
    Suite *s = suite_create("mdns_host");
    TCase *t = tcase_create("netns");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, two_then_three);
    tcase_add_test(t, port_taken_then_free);
    suite_add_tcase(s, t);
    return p2p_test_run(s);
}
