/* cbench_streams.c - `cbench streams <maddr/p2p/ID> [--streams N]
 * [--upload B] [--ping-ms MS]`: one connection to a perf server, then N
 * /perf/1.0.0 streams on it at once (after one ping round trip), each
 * uploading B bytes (download 0), through the perf plugin's service. Prints
 *   {"type":"streams","streams":N,"timeSeconds":T,"uploadBytes":N*B,
 *    "downloadBytes":0,"perStreamMiBs":[...]}
 * T from starting the N runs to the last one's end (aggregate rate =
 * uploadBytes / T); a stream's rate is its bytes over its own duration
 * (stream open to the server's close). Exit 0 only if every run succeeded
 * on the same connection.
 * --ping-ms MS: while the uploads run, ping the server on the same
 * connection (/ipfs/ping/1.0.0, one round trip, then MS ms of pause, and
 * again): how long a small message waits behind bulk data. Adds
 *   "pings":K,"pingP50Us":..,"pingP99Us":..,"pingMaxUs":..
 * to the line (K = 0: no ping completed during the uploads). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p2p/perf.h>
#include <p2p/ping.h>

#include "cbench.h"

#define MAX_STREAMS 256
#define MAX_PINGS 100000

struct streams {
    p2p_host *h;
    const struct p2p_perf_api_v1 *perf;
    void *st;
    p2p_peerid peer;
    p2p_multiaddr addr;
    unsigned n, done;
    uint64_t bytes, t0;
    double mibs[MAX_STREAMS];
    int status;
    struct p2p_defer stop;
    /* --ping-ms */
    const struct p2p_ping_api_v1 *ping;
    void *ping_st;
    uv_timer_t ping_timer;
    uint64_t ping_ms;
    bool pinging;
    size_t npings;
    uint64_t *rtts;
};

struct one {
    struct streams *s;
    unsigned idx;
};

static void stop_host(void *arg)
{
    struct streams *s = arg;
    p2p_host_stop(s->h);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void ping_next(uv_timer_t *t);

static void on_pong(int status, uint64_t rtt_us, bool last, void *arg)
{
    struct streams *s = arg;
    (void)last;
    if (!s->pinging) return;   /* the uploads are over */
    if (status == 0 && s->npings < MAX_PINGS) s->rtts[s->npings++] = rtt_us;
    uv_timer_start(&s->ping_timer, ping_next, s->ping_ms, 0);
}

static void ping_next(uv_timer_t *t)
{
    struct streams *s = t->data;
    if (s->pinging && s->ping->ping(s->ping_st, &s->peer, 1, on_pong, s) < 0) s->pinging = false;
}

static void print_pings(struct streams *s)
{
    if (!s->rtts) return;
    qsort(s->rtts, s->npings, sizeof *s->rtts, cmp_u64);
    uint64_t p50 = 0, p99 = 0, max = 0;
    if (s->npings) {
        p50 = s->rtts[(s->npings - 1) / 2];
        p99 = s->rtts[(s->npings - 1) * 99 / 100];
        max = s->rtts[s->npings - 1];
    }
    printf(",\"pings\":%zu,\"pingP50Us\":%llu,\"pingP99Us\":%llu,\"pingMaxUs\":%llu", s->npings,
           (unsigned long long)p50, (unsigned long long)p99, (unsigned long long)max);
}

static void on_report(const struct p2p_perf_report *r, void *arg)
{
    struct one *o = arg;
    struct streams *s = o->s;
    if (!r->last) return;
    if (r->status) {
        fprintf(stderr, "cbench: stream %u: %s\n", o->idx, p2p_strerror(r->status));
        if (!s->status) s->status = r->status;
    }
    s->mibs[o->idx] = r->elapsed_us ? (double)r->upload_bytes / (1 << 20) / (r->elapsed_us / 1e6) : 0;
    if (++s->done < s->n) return;
    s->pinging = false;
    if (s->rtts) uv_timer_stop(&s->ping_timer);
    p2p_conn *conns[4];
    if (!s->status && p2p_host_conns(s->h, conns, 4) != 1) {
        fprintf(stderr, "cbench: the streams did not share one connection\n");
        s->status = P2P_EPROTO;
    }
    if (!s->status) {
        double secs = (uv_hrtime() - s->t0) / 1e9;
        printf("{\"type\":\"streams\",\"streams\":%u,\"timeSeconds\":%.6f,\"uploadBytes\":%llu,"
               "\"downloadBytes\":0,\"perStreamMiBs\":[",
               s->n, secs, (unsigned long long)(s->bytes * s->n));
        for (unsigned i = 0; i < s->n; i++) printf("%s%.3f", i ? "," : "", s->mibs[i]);
        printf("]");
        print_pings(s);
        printf("}\n");
        fflush(stdout);
    }
    p2p_defer_schedule(s->h, &s->stop);
}

static struct one ones[MAX_STREAMS];

static void start_runs(struct streams *s)
{
    struct p2p_perf_params pp = { .upload_bytes = s->bytes };
    s->t0 = uv_hrtime();
    for (unsigned i = 0; i < s->n; i++) {
        ones[i] = (struct one){ s, i };
        int rc = s->perf->run(s->st, &s->peer, &s->addr, &pp, on_report, &ones[i], NULL);
        if (rc < 0) {
            fprintf(stderr, "cbench: run %u: %s\n", i, p2p_strerror(rc));
            exit(1);
        }
    }
    if (s->rtts) {
        s->pinging = true;
        ping_next(&s->ping_timer);
    }
}

static void on_ready_pong(int status, uint64_t rtt_us, bool last, void *arg)
{
    (void)status;
    (void)rtt_us;
    if (last) start_runs(arg);
}

/* One ping round trip before the runs: js-libp2p aborts a connection on
 * which more than 10 streams arrive before its side of the upgrade is
 * done (its muxer's maxEarlyStreams), and our streams would go out
 * together with the lazily negotiated muxer. */
static void on_connected(int status, p2p_conn *c, void *arg)
{
    struct streams *s = arg;
    (void)c;
    if (status) {
        fprintf(stderr, "cbench: connect: %s\n", p2p_strerror(status));
        s->status = status;
        p2p_defer_schedule(s->h, &s->stop);
        return;
    }
    if (s->ping->ping(s->ping_st, &s->peer, 1, on_ready_pong, s) < 0) start_runs(s);
}

int cbench_streams(int argc, char **argv)
{
    struct streams s = { .n = 16, .bytes = 64u << 20 };
    const char *target = NULL;
    uint64_t v;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--streams") && i + 1 < argc && cbench_num(argv[i + 1], &v) == 0 && v &&
            v <= MAX_STREAMS) {
            s.n = (unsigned)v;
            i++;
        } else if (!strcmp(argv[i], "--upload") && i + 1 < argc && cbench_num(argv[i + 1], &v) == 0) {
            s.bytes = v;
            i++;
        } else if (!strcmp(argv[i], "--ping-ms") && i + 1 < argc && cbench_num(argv[i + 1], &v) == 0 &&
                   v <= 60000) {
            s.ping_ms = v;
            if (!s.rtts) s.rtts = malloc(MAX_PINGS * sizeof *s.rtts);
            if (!s.rtts) return 1;
            i++;
        } else if (!target) target = argv[i];
        else {
            fprintf(stderr, "cbench streams: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (cbench_target(target, &s.addr, &s.peer) < 0) return 2;
    s.h = cbench_host("", "", "[plugin perf]\n", NULL);
    if (!s.h) return 1;
    s.perf = p2p_service_get(s.h, P2P_PERF_SERVICE, 1, &s.st);
    p2p_defer_init(&s.stop, stop_host, &s);
    s.ping = p2p_service_get(s.h, P2P_PING_SERVICE, 1, &s.ping_st);
    if (!s.ping) {
        fprintf(stderr, "cbench: no ping service\n");
        p2p_host_free(s.h);
        return 1;
    }
    if (s.rtts) {
        if (uv_timer_init(p2p_host_loop(s.h), &s.ping_timer) != 0) {
            fprintf(stderr, "cbench: no timer\n");
            p2p_host_free(s.h);
            return 1;
        }
        s.ping_timer.data = &s;
    }
    int rc = p2p_host_connect(s.h, &s.peer, &s.addr, 1, on_connected, &s);
    if (rc < 0) {
        fprintf(stderr, "cbench: connect: %s\n", p2p_strerror(rc));
        p2p_host_free(s.h);
        return 1;
    }
    uv_run(p2p_host_loop(s.h), UV_RUN_DEFAULT);
    if (s.rtts) uv_close((uv_handle_t *)&s.ping_timer, NULL);
    p2p_host_free(s.h);
    free(s.rtts);
    return s.status ? 1 : 0;
}
