/* perf_cli.c - `p2pchat perf MADDR --upload BYTES --download BYTES`: one
 * /perf/1.0.0 run against a perf server (another p2pchat with `peer
 * --perf`, or any libp2p perf server), printed like the libp2p perf tools:
 * one JSON line per interval and a final one on stdout,
 *
 *   {"type":"intermediary","timeSeconds":1.000,"uploadBytes":..,"downloadBytes":..}
 *   {"type":"final","timeSeconds":..,"uploadBytes":..,"downloadBytes":..,
 *    "connectSeconds":..,"streamOpenSeconds":..,"uploadSeconds":..,"firstByteSeconds":..}
 *
 * (intermediary: bytes moved during that interval; final: the whole run,
 * from the stream's opening to the server's close) and a human summary on
 * stderr. Exit 0 when the server sent exactly the bytes asked for. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "p2p/p2p.h"
#include "p2p/perf.h"

struct perf_app {
    p2p_host *host;
    const struct p2p_perf_api_v1 *api;
    void *st;
    uint64_t id;
    bool running;
    int status;
    uv_signal_t sigint, sigterm;
    struct p2p_defer stop;   /* stop the host from the loop, not inside the report */
};

static void stop_host(void *arg)
{
    struct perf_app *a = arg;
    /* Unreferenced, not closed: see p2pchat_close_signals. */
    uv_unref((uv_handle_t *)&a->sigint);
    uv_unref((uv_handle_t *)&a->sigterm);
    p2p_host_stop(a->host);
}

int p2pchat_parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    static const struct { const char *suffix; uint64_t mult; } units[] = {
        { "", 1 }, { "B", 1 },
        { "K", 1000 }, { "KB", 1000 }, { "KiB", 1ull << 10 },
        { "M", 1000000 }, { "MB", 1000000 }, { "MiB", 1ull << 20 },
        { "G", 1000000000 }, { "GB", 1000000000 }, { "GiB", 1ull << 30 },
        { "T", 1000000000000ull }, { "TB", 1000000000000ull }, { "TiB", 1ull << 40 },
    };
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (strcmp(end, units[i].suffix)) continue;
        if (v > UINT64_MAX / units[i].mult) return -1;
        *out = v * units[i].mult;
        return 0;
    }
    return -1;
}

static void human(double bytes, char *buf, size_t cap)
{
    if (bytes >= (double)(1ull << 30)) snprintf(buf, cap, "%.2f GiB", bytes / (double)(1ull << 30));
    else if (bytes >= (double)(1ull << 20)) snprintf(buf, cap, "%.2f MiB", bytes / (double)(1ull << 20));
    else if (bytes >= 1024.0) snprintf(buf, cap, "%.2f KiB", bytes / 1024.0);
    else snprintf(buf, cap, "%.0f B", bytes);
}

static void on_report(const struct p2p_perf_report *r, void *arg)
{
    struct perf_app *a = arg;
    if (!r->last) {
        printf("{\"type\":\"intermediary\",\"timeSeconds\":%.6f,\"uploadBytes\":%" PRIu64 ",\"downloadBytes\":%" PRIu64
               "}\n", r->elapsed_us / 1e6, r->upload_bytes, r->download_bytes);
        fflush(stdout);
        return;
    }
    a->running = false;
    a->status = r->status;
    if (r->status == 0) {
        printf("{\"type\":\"final\",\"timeSeconds\":%.6f,\"uploadBytes\":%" PRIu64 ",\"downloadBytes\":%" PRIu64
               ",\"connectSeconds\":%.6f,\"streamOpenSeconds\":%.6f,\"uploadSeconds\":%.6f,\"firstByteSeconds\":%.6f}\n",
               r->elapsed_us / 1e6, r->upload_bytes, r->download_bytes, r->connect_us / 1e6, r->open_us / 1e6,
               r->upload_us / 1e6, r->first_byte_us / 1e6);
        fflush(stdout);
        char up[32], down[32];
        human((double)r->upload_bytes, up, sizeof up);
        human((double)r->download_bytes, down, sizeof down);
        double secs = r->elapsed_us / 1e6;
        double down_secs = (r->elapsed_us - r->upload_us) / 1e6;
        fprintf(stderr,
                "perf: uploaded %s in %.3f s (%.1f MiB/s), downloaded %s in %.3f s (%.1f MiB/s); "
                "total %.1f MiB/s; connect %.2f ms, stream open %.2f ms, first byte %.2f ms\n",
                up, r->upload_us / 1e6, r->upload_us ? (double)r->upload_bytes / (1 << 20) / (r->upload_us / 1e6) : 0.0,
                down, down_secs, down_secs > 0 ? (double)r->download_bytes / (1 << 20) / down_secs : 0.0,
                secs > 0 ? (double)(r->upload_bytes + r->download_bytes) / (1 << 20) / secs : 0.0,
                r->connect_us / 1e3, r->open_us / 1e3, r->first_byte_us / 1e3);
    } else {
        fprintf(stderr, "p2pchat perf: %s (after %" PRIu64 " bytes up, %" PRIu64 " down)\n",
                r->status == P2P_ENEGOTIATE ? "the peer runs no perf server (/perf/1.0.0 refused)"
                                            : p2p_strerror(r->status),
                r->total_upload_bytes, r->total_download_bytes);
    }
    p2p_defer_schedule(a->host, &a->stop);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    struct perf_app *a = s->data;
    if (a->running) a->api->cancel(a->st, a->id);   /* reports P2P_ECANCELED and stops the host */
}

int p2pchat_perf_run(struct p2pchat_opts *o)
{
    struct perf_app a = { 0 };
    char err[1024];
    struct p2p_host_opts hopts = { .apps = p2pchat_apps };
    int rc = p2p_host_new(&a.host, o->conf, &hopts, err, sizeof err);
    o->conf = NULL;   /* the host took it */
    if (rc < 0) {
        fprintf(stderr, "p2pchat: %s\n", err);
        return rc == P2P_ECONFIG ? EXIT_CONFIG : EXIT_RUNTIME;
    }
    a.api = p2p_service_get(a.host, P2P_PERF_SERVICE, 1, &a.st);
    if (!a.api) {
        fprintf(stderr, "p2pchat perf: the configuration has no [plugin perf]\n");
        p2p_host_free(a.host);
        return EXIT_CONFIG;
    }
    if (p2p_host_start(a.host, err, sizeof err) < 0) {
        fprintf(stderr, "p2pchat: %s\n", err);
        p2p_host_free(a.host);
        return EXIT_RUNTIME;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = p2p_host_loop(a.host);
    p2p_defer_init(&a.stop, stop_host, &a);
    uv_signal_init(loop, &a.sigint);
    uv_signal_init(loop, &a.sigterm);
    a.sigint.data = a.sigterm.data = &a;
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);

    struct p2p_perf_params pp = {
        .upload_bytes = o->perf_upload, .download_bytes = o->perf_download, .report_ms = o->perf_interval_ms
    };
    a.running = true;
    rc = a.api->run(a.st, NULL, &o->perf_addr, &pp, on_report, &a, &a.id);
    if (rc < 0) {
        fprintf(stderr, "p2pchat perf: cannot start: %s\n", p2p_strerror(rc));
        a.running = false;
        a.status = rc;
        stop_host(&a);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    p2pchat_close_signals(loop, (uv_signal_t *const[]){ &a.sigint, &a.sigterm }, 2);
    p2p_host_free(a.host);
    return a.status == 0 ? EXIT_OK : EXIT_RUNTIME;
}
