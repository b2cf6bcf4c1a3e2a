/* cbench_idle.c - `cbench idle <maddr/p2p/ID> [--count N] [--batch K]`:
 * N idle connections to one server from N identities in this process (N
 * hosts on one loop, each with its own ephemeral key, so that the server's
 * max_connections_per_peer does not apply; loopback is exempt from its
 * max_incoming_per_ip). At most K dials are in flight. When every
 * connection is identified, prints
 *   {"type":"idle","count":N,"timeSeconds":T}
 * and holds the connections (identify done, ping running: what an idle
 * libp2p connection is) until SIGTERM/SIGINT. bench/run.sh reads the
 * server's RSS before and after. Exit 1 if a connection fails or is lost. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbench.h"

struct idle;

struct member {
    struct idle *d;
    p2p_host *h;
    p2p_subscription *sub;
    bool identified;
};

struct idle {
    uv_loop_t loop;
    struct member *m;
    unsigned count, batch, started, identified;
    p2p_peerid peer;
    p2p_multiaddr addr;
    uint64_t t0;
    int status;
    bool stopping;
    uv_signal_t sigterm, sigint;
};

static void stop_all(struct idle *d, int status)
{
    if (d->stopping) return;
    d->stopping = true;
    d->status = status;
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    for (unsigned i = 0; i < d->count; i++)
        if (d->m[i].h) p2p_host_stop(d->m[i].h);
}

static void dial_more(struct idle *d);

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct member *m = arg;
    struct idle *d = m->d;
    if (d->stopping || !ev->peer || !p2p_peerid_equal(ev->peer, &d->peer)) return;
    if (ev->type == P2P_EV_IDENTIFIED && !m->identified) {
        m->identified = true;
        if (++d->identified == d->count) {
            printf("{\"type\":\"idle\",\"count\":%u,\"timeSeconds\":%.6f}\n", d->count, (uv_hrtime() - d->t0) / 1e9);
            fflush(stdout);
        }
        dial_more(d);
    } else if (ev->type == P2P_EV_DISCONNECTED) {
        fprintf(stderr, "cbench idle: connection %u lost: %s\n", (unsigned)(m - d->m),
                p2p_strerror(ev->reason ? ev->reason : P2P_ECLOSED));
        stop_all(d, 1);
    }
}

static void on_connected(int status, p2p_conn *c, void *arg)
{
    struct member *m = arg;
    (void)c;
    if (status && !m->d->stopping) {
        fprintf(stderr, "cbench idle: connection %u: %s\n", (unsigned)(m - m->d->m), p2p_strerror(status));
        stop_all(m->d, 1);
    }
}

static void dial_more(struct idle *d)
{
    while (!d->stopping && d->started < d->count && d->started - d->identified < d->batch) {
        struct member *m = &d->m[d->started++];
        m->d = d;
        m->h = cbench_host("", "", "", &d->loop);
        if (!m->h) return stop_all(d, 1);
        m->sub = p2p_host_subscribe(m->h, P2P_EV_IDENTIFIED | P2P_EV_DISCONNECTED, on_event, m);
        int rc = p2p_host_connect(m->h, &d->peer, &d->addr, 1, on_connected, m);
        if (rc < 0) {
            fprintf(stderr, "cbench idle: connection %u: %s\n", d->started - 1, p2p_strerror(rc));
            return stop_all(d, 1);
        }
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    stop_all(s->data, 0);
}

int cbench_idle(int argc, char **argv)
{
    static struct idle d = { .count = 1000, .batch = 32 };
    const char *target = NULL;
    uint64_t v;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--count") && i + 1 < argc && cbench_num(argv[i + 1], &v) == 0 && v && v <= 100000) {
            d.count = (unsigned)v;
            i++;
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc && cbench_num(argv[i + 1], &v) == 0 && v && v <= 1000) {
            d.batch = (unsigned)v;
            i++;
        } else if (!target) target = argv[i];
        else {
            fprintf(stderr, "cbench idle: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (cbench_target(target, &d.addr, &d.peer) < 0) return 2;
    d.m = calloc(d.count, sizeof *d.m);
    if (!d.m || uv_loop_init(&d.loop) != 0) return 1;
    uv_signal_init(&d.loop, &d.sigterm);
    uv_signal_init(&d.loop, &d.sigint);
    d.sigterm.data = d.sigint.data = &d;
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    d.t0 = uv_hrtime();
    dial_more(&d);
    uv_run(&d.loop, UV_RUN_DEFAULT);
    for (unsigned i = 0; i < d.count; i++)
        if (d.m[i].h) {
            p2p_host_unsubscribe(d.m[i].h, d.m[i].sub);
            p2p_host_free(d.m[i].h);
        }
    uv_loop_close(&d.loop);
    free(d.m);
    return d.status;
}
