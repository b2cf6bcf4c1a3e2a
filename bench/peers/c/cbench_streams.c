/* cbench_streams.c - `cbench streams <maddr/p2p/ID> [--streams N]
 * [--upload B]`: one connection to a perf server, then N /perf/1.0.0
 * streams on it at once, each uploading B bytes (download 0), through the
 * perf plugin's service. Prints
 *   {"type":"streams","streams":N,"timeSeconds":T,"uploadBytes":N*B,
 *    "downloadBytes":0,"perStreamMiBs":[...]}
 * T from starting the N runs to the last one's end (aggregate rate =
 * uploadBytes / T); a stream's rate is its bytes over its own duration
 * (stream open to the server's close). Exit 0 only if every run succeeded
 * on the same connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p2p/perf.h>

#include "cbench.h"

#define MAX_STREAMS 256

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
        printf("]}\n");
        fflush(stdout);
    }
    p2p_defer_schedule(s->h, &s->stop);
}

static struct one ones[MAX_STREAMS];

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
    int rc = p2p_host_connect(s.h, &s.peer, &s.addr, 1, on_connected, &s);
    if (rc < 0) {
        fprintf(stderr, "cbench: connect: %s\n", p2p_strerror(rc));
        p2p_host_free(s.h);
        return 1;
    }
    uv_run(p2p_host_loop(s.h), UV_RUN_DEFAULT);
    p2p_host_free(s.h);
    return s.status ? 1 : 0;
}
