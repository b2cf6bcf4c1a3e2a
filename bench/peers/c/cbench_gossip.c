/* cbench_gossip.c - gossipsub throughput and latency, one publisher to
 * subscribers in separate processes (bench/run.sh):
 *
 *   cbench gossip-sub [--expect N] [--idle-ms MS] [--unsigned]
 *       listen on 127.0.0.1, print `LISTEN <maddr>/p2p/<id>`, subscribe to
 *       "bench"; each message carries its sequence number and the
 *       publisher's uv_hrtime() (CLOCK_MONOTONIC: one clock for every
 *       process of the machine). Ends after N distinct messages, or MS
 *       without a message once one arrived (30 s before the first), and
 *       prints {"type":"gossip-sub","received":R,"duplicates":D,
 *       "firstNs":..,"lastNs":.. (uv_hrtime of the first and last
 *       message), "cpuSeconds":.. (CPU time used, user + system),
 *       "p50Us":..,"p99Us":..,"maxUs":..,"cdfUs":[101
 *       percentiles]}.
 *   cbench gossip-pub --rate R --count N [--size B] [--unsigned] <maddr/p2p/ID>...
 *       connect to every subscriber, wait until all of them are in the
 *       topic, then publish N messages of B bytes (default 1 KiB) at R per
 *       second (0: as fast as publish accepts). A P2P_EAGAIN from publish
 *       (every queue full: back-pressure) is counted and the message is
 *       retried on the next 1 ms tick; any other error ends the run. Prints
 *       {"type":"gossip-pub","sent":N,"timeSeconds":T,"eagain":E,
 *        "size":B,"startNs":<uv_hrtime of the first publish>}
 *       and holds the connections until SIGTERM, so that the queues drain;
 *       then prints {"type":"gossip-pub-end","cpuSeconds":C} (CPU time of
 *       the whole run, user + system).
 * Messages are signed (the default strict-sign policy), as in a chat;
 * --unsigned (both sides) selects strict-no-sign instead, to show what the
 * signatures cost. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p2p/pubsub.h>

#include "cbench.h"

#define TOPIC "bench"
#define GS_SIGNED "[plugin gossipsub]\n"
#define GS_UNSIGNED "[plugin gossipsub]\nsigning = strict-no-sign\n"
#define MAX_SUBS 64

/* ---- subscriber ---------------------------------------------------------------- */

struct sub {
    p2p_host *h;
    uint64_t expect, received, dups, last_ns;
    uint64_t first_ns, final_ns;   /* first and last distinct message received */
    uint8_t *seen;          /* bitmap of sequence numbers */
    uint32_t *lat_us;       /* one per distinct message */
    unsigned idle_ms;
    p2p_timer *timer;
    struct p2p_defer stop;
};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void sub_finish(void *arg)
{
    struct sub *s = arg;
    qsort(s->lat_us, s->received, sizeof *s->lat_us, cmp_u32);
#define PCT(p) (s->received ? s->lat_us[(size_t)((s->received - 1) * (p) / 100.0 + 0.5)] : 0)
    printf("{\"type\":\"gossip-sub\",\"received\":%llu,\"duplicates\":%llu,\"firstNs\":%llu,\"lastNs\":%llu,"
           "\"cpuSeconds\":%.3f,\"p50Us\":%u,\"p99Us\":%u,\"maxUs\":%u,\"cdfUs\":[",
           (unsigned long long)s->received, (unsigned long long)s->dups, (unsigned long long)s->first_ns,
           (unsigned long long)s->final_ns, cbench_cpu_seconds(), PCT(50), PCT(99), PCT(100));
    for (int p = 0; p <= 100; p++) printf("%s%u", p ? "," : "", PCT(p));
#undef PCT
    printf("]}\n");
    fflush(stdout);
    p2p_timer_free(s->timer);
    s->timer = NULL;
    p2p_host_stop(s->h);
}

static void on_msg(const struct p2p_pubsub_msg *m, void *arg)
{
    struct sub *s = arg;
    uint64_t now = uv_hrtime();
    if (m->len < 16) return;
    uint64_t seq = cbench_get64(m->data), t = cbench_get64(m->data + 8);
    s->last_ns = now;
    if (seq >= s->expect || (s->seen[seq / 8] & (1u << (seq % 8)))) {
        s->dups++;
        return;
    }
    s->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
    if (!s->first_ns) s->first_ns = now;
    s->final_ns = now;
    s->lat_us[s->received++] = now > t ? (uint32_t)((now - t) / 1000) : 0;
    if (s->received == s->expect) p2p_defer_schedule(s->h, &s->stop);
}

static void sub_tick(p2p_timer *t, void *arg)
{
    struct sub *s = arg;
    (void)t;
    uint64_t now = uv_hrtime();
    if (s->last_ns && now - s->last_ns > (uint64_t)s->idle_ms * 1000000u) p2p_defer_schedule(s->h, &s->stop);
}

int cbench_gossip_sub(int argc, char **argv)
{
    static struct sub s = { .expect = 10000, .idle_ms = 3000 };
    uint64_t v;
    const char *gs_ini = GS_SIGNED;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--unsigned")) {
            gs_ini = GS_UNSIGNED;
        } else if (!strcmp(argv[i], "--expect") && i + 1 < argc && cbench_num(argv[i + 1], &v) == 0 && v &&
            v <= 100000000) {
            s.expect = v;
            i++;
        } else if (!strcmp(argv[i], "--idle-ms") && i + 1 < argc && cbench_num(argv[i + 1], &v) == 0 &&
                   v <= 600000) {
            s.idle_ms = (unsigned)v;
            i++;
        } else {
            fprintf(stderr, "cbench gossip-sub: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    s.seen = calloc(s.expect / 8 + 1, 1);
    s.lat_us = calloc(s.expect, sizeof *s.lat_us);
    if (!s.seen || !s.lat_us) return 1;
    s.h = cbench_host("/ip4/127.0.0.1/tcp/0", "", gs_ini, NULL);
    if (!s.h) return 1;
    void *st;
    const struct p2p_pubsub_api_v1 *ps = p2p_service_get(s.h, P2P_PUBSUB_SERVICE, 1, &st);
    p2p_pubsub_sub *sub;
    if (!ps || ps->subscribe(st, TOPIC, on_msg, &s, &sub) != 0) {
        fprintf(stderr, "cbench gossip-sub: cannot subscribe\n");
        return 1;
    }
    p2p_multiaddr la;
    char a[256], id[128];
    if (p2p_host_listen_addrs(s.h, &la, 1) != 1 || p2p_maddr_to_string(&la, a, sizeof a) < 0 ||
        p2p_peerid_to_string(p2p_host_peerid(s.h), id, sizeof id) < 0) {
        fprintf(stderr, "cbench gossip-sub: no listen address\n");
        return 1;
    }
    printf("LISTEN %s/p2p/%s\n", a, id);
    fflush(stdout);
    p2p_defer_init(&s.stop, sub_finish, &s);
    s.timer = p2p_timer_new(s.h, sub_tick, &s);
    p2p_timer_start(s.timer, 30000, 100);
    /* before the first message: the 30 s first timeout ends it as idle */
    s.last_ns = uv_hrtime() + 27000000000ull - (uint64_t)s.idle_ms * 1000000u;
    uv_run(p2p_host_loop(s.h), UV_RUN_DEFAULT);
    p2p_host_free(s.h);
    free(s.seen);
    free(s.lat_us);
    return 0;
}

/* ---- publisher ------------------------------------------------------------------ */

struct pub {
    p2p_host *h;
    const struct p2p_pubsub_api_v1 *ps;
    void *st;
    unsigned nsubs;
    p2p_peerid peers[MAX_SUBS];
    uint64_t rate, count, sent, eagain, t0, t_last;
    size_t size;
    uint8_t *buf;
    p2p_timer *timer;
    bool publishing;
    int status;
    uv_signal_t sigterm;
};

static void pub_stop(struct pub *p, int status)
{
    p->status = status;
    p2p_timer_stop(p->timer);
    if (!uv_is_closing((uv_handle_t *)&p->sigterm)) uv_close((uv_handle_t *)&p->sigterm, NULL);
    p2p_host_stop(p->h);
}

static void pub_tick(p2p_timer *t, void *arg)
{
    struct pub *p = arg;
    (void)t;
    uint64_t now = uv_hrtime();
    if (!p->publishing) {
        p2p_peerid in[MAX_SUBS];
        if (p->ps->topic_peers(p->st, TOPIC, in, MAX_SUBS) < p->nsubs) {
            if (now - p->t0 > 30000000000ull) {
                fprintf(stderr, "cbench gossip-pub: the subscribers did not join within 30 s\n");
                pub_stop(p, 1);
            }
            return;
        }
        p->publishing = true;
        p->t0 = now;
    }
    uint64_t due = p->rate ? (now - p->t0) * p->rate / 1000000000u + 1 : p->count;
    if (due > p->count) due = p->count;
    while (p->sent < due) {
        cbench_put64(p->buf, p->sent);
        cbench_put64(p->buf + 8, uv_hrtime());
        int rc = p->ps->publish(p->st, TOPIC, p->buf, p->size);
        if (rc == P2P_EAGAIN) {
            p->eagain++;
            return;   /* back-pressure: retry on the next tick */
        }
        if (rc != 0) {
            fprintf(stderr, "cbench gossip-pub: publish %llu: %s\n", (unsigned long long)p->sent, p2p_strerror(rc));
            return pub_stop(p, 1);
        }
        p->sent++;
    }
    if (p->sent == p->count) {
        p->t_last = uv_hrtime();
        printf("{\"type\":\"gossip-pub\",\"sent\":%llu,\"timeSeconds\":%.6f,\"eagain\":%llu,\"size\":%zu,"
               "\"startNs\":%llu}\n",
               (unsigned long long)p->sent, (p->t_last - p->t0) / 1e9, (unsigned long long)p->eagain, p->size,
               (unsigned long long)p->t0);
        fflush(stdout);
        p2p_timer_stop(p->timer);   /* hold the connections until SIGTERM */
    }
}

static void pub_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    struct pub *p = s->data;
    printf("{\"type\":\"gossip-pub-end\",\"cpuSeconds\":%.3f}\n", cbench_cpu_seconds());
    fflush(stdout);
    pub_stop(p, p->sent == p->count ? 0 : 1);
}

static void pub_connected(int status, p2p_conn *c, void *arg)
{
    struct pub *p = arg;
    (void)c;
    if (status) {
        fprintf(stderr, "cbench gossip-pub: connect: %s\n", p2p_strerror(status));
        pub_stop(p, 1);
    }
}

int cbench_gossip_pub(int argc, char **argv)
{
    static struct pub p = { .count = 1000, .size = 1024 };
    static p2p_multiaddr addrs[MAX_SUBS];
    uint64_t v;
    const char *gs_ini = GS_SIGNED;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--unsigned")) {
            gs_ini = GS_UNSIGNED;
        } else if (!strcmp(argv[i], "--rate") && i + 1 < argc && cbench_num(argv[i + 1], &v) == 0) {
            p.rate = v;
            i++;
        } else if (!strcmp(argv[i], "--count") && i + 1 < argc && cbench_num(argv[i + 1], &v) == 0 && v) {
            p.count = v;
            i++;
        } else if (!strcmp(argv[i], "--size") && i + 1 < argc && cbench_num(argv[i + 1], &v) == 0 && v >= 16 &&
                   v <= 1 << 20) {
            p.size = (size_t)v;
            i++;
        } else if (p.nsubs < MAX_SUBS && argv[i][0] == '/') {
            if (cbench_target(argv[i], &addrs[p.nsubs], &p.peers[p.nsubs]) < 0) return 2;
            p.nsubs++;
        } else {
            fprintf(stderr, "cbench gossip-pub: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!p.nsubs) {
        fprintf(stderr, "cbench gossip-pub: no subscriber address\n");
        return 2;
    }
    p.buf = calloc(1, p.size);
    p.h = cbench_host("", "", gs_ini, NULL);
    if (!p.buf || !p.h) return 1;
    p.ps = p2p_service_get(p.h, P2P_PUBSUB_SERVICE, 1, &p.st);
    if (!p.ps) return 1;
    for (unsigned i = 0; i < p.nsubs; i++)
        if (p2p_host_connect(p.h, &p.peers[i], &addrs[i], 1, pub_connected, &p) < 0) return 1;
    uv_signal_init(p2p_host_loop(p.h), &p.sigterm);
    p.sigterm.data = &p;
    uv_signal_start(&p.sigterm, pub_signal, SIGTERM);
    p.timer = p2p_timer_new(p.h, pub_tick, &p);
    p.t0 = uv_hrtime();
    p2p_timer_start(p.timer, 1, 1);
    uv_run(p2p_host_loop(p.h), UV_RUN_DEFAULT);
    p2p_host_free(p.h);
    free(p.buf);
    return p.status;
}
