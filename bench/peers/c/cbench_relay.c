/* cbench_relay.c - `cbench relay-capacity <relay maddr/p2p/ID>
 * [--reservations N] [--circuits C] [--seconds S] [--batch K]
 * [--chunk B] [--pid PID]`: how much a circuit relay holds.
 *
 * N hosts on one loop in this process, each with its own ephemeral
 * identity, listen on `<relay>/p2p-circuit` (the relay plugin's client
 * reserves a slot; at most K reservations under way at once). When all N
 * hold a reservation, the first C hosts each dial the circuit address of
 * one of the last C (`<relay>/p2p-circuit/p2p/<target>`, so no host is
 * both) and upload through it continuously: /perf/1.0.0 runs of B bytes
 * (default 1 MiB) back to back, every target running the perf server.
 * Once every circuit is open, the bytes moved during S seconds are
 * counted (perf's reports every 250 ms). With --pid (the relay's process)
 * the relay's VmRSS / VmHWM (/proc/PID/status) and CPU time
 * (/proc/PID/stat) are read at the start, with every reservation held and
 * at the end of the busy window. Prints one line:
 *   {"type":"relay-capacity","reservations":N,"reservationsHeld":..,
 *    "reserveSeconds":..,"circuits":C,"circuitsOpen":..,"circuitsBusy":..,
 *    "connectSeconds":..,"seconds":S,"bytes":..,"bytesPerSecond":..,
 *    "minCircuitBytes":..,"relay":{"rssStartKiB":..,"rssReservedKiB":..,
 *    "rssBusyKiB":..,"hwmKiB":..,"cpuSeconds":..}}
 * where circuitsBusy counts the circuits that moved bytes in the window
 * and reservationsHeld the hosts still advertising a circuit address at
 * its end. Exit 0 only if all N reserved, all C circuits opened and every
 * circuit was busy; 1 otherwise (with the line, when it got that far). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p2p/perf.h>

#include "cbench.h"

#define REPORT_MS 250
#define RESERVE_LIMIT_MS 600000   /* the whole reservation phase */
#define CONNECT_LIMIT_MS 300000   /* every circuit open */

struct rc;

struct member {
    struct rc *d;
    p2p_host *h;
    bool reserved;
};

struct circuit {
    struct rc *d;
    unsigned src, dst;
    bool open;
    uint64_t bytes;        /* bytes uploaded through it so far */
    uint64_t counted;      /* of the current run, already in bytes */
    uint64_t window0;      /* bytes at the start of the window */
};

struct proc_sample {
    long rss_kib, hwm_kib;
    double cpu_s;
};

struct rc {
    uv_loop_t loop;
    uv_timer_t tick;
    struct member *m;
    struct circuit *c;
    unsigned n, circuits, batch, seconds, started, reserved, dialed, opened;
    uint64_t chunk;
    int pid;
    char relay[P2P_MADDR_STRMAX + P2P_PEERID_STRMAX + 8];
    p2p_multiaddr raddr;   /* the relay's address without /p2p/ */
    p2p_peerid rid;
    enum { RESERVING, CONNECTING, WARMING, MEASURING, DONE } phase;
    uint64_t t0, phase_t0, reserve_ms, connect_ms, window_ms;
    struct proc_sample p_start, p_reserved, p_window0, p_busy;
    int status;
};

static void proc_read(int pid, struct proc_sample *s)
{
    *s = (struct proc_sample){ -1, -1, -1 };
    if (pid <= 0) return;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "VmRSS:", 6)) s->rss_kib = strtol(line + 6, NULL, 10);
        else if (!strncmp(line, "VmHWM:", 6)) s->hwm_kib = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (!f) return;
    char buf[1024];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    /* fields after the command (which may hold spaces): state is field 3,
     * utime 14, stime 15 */
    char *p = strrchr(buf, ')');
    unsigned long ut, st;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
        s->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static bool has_circuit_addr(p2p_host *h)
{
    p2p_multiaddr addrs[8];
    size_t n = p2p_host_advertised_addrs(h, addrs, 8);
    struct p2p_maddr_component comp;
    for (size_t i = 0; i < n && i < 8; i++)
        if (p2p_maddr_find(&addrs[i], P2P_MA_P2P_CIRCUIT, &comp)) return true;
    return false;
}

static void stop_all(struct rc *d, int status)
{
    if (d->phase == DONE) return;
    d->phase = DONE;
    if (status) d->status = status;
    uv_timer_stop(&d->tick);
    uv_close((uv_handle_t *)&d->tick, NULL);
    for (unsigned i = 0; i < d->started; i++) p2p_host_stop(d->m[i].h);
}

static void reserve_more(struct rc *d)
{
    char listen[sizeof d->relay + 16];
    snprintf(listen, sizeof listen, "%s/p2p-circuit", d->relay);
    while (d->started < d->n && d->started - d->reserved < d->batch) {
        struct member *m = &d->m[d->started];
        m->d = d;
        m->h = cbench_host(listen, "", "[plugin relay]\nreserve = always\n[plugin perf]\nserver = true\n", &d->loop);
        if (!m->h) {
            fprintf(stderr, "cbench relay-capacity: host %u did not start\n", d->started);
            return stop_all(d, 1);
        }
        d->started++;
    }
}

static void start_run(struct circuit *c);

static void on_report(const struct p2p_perf_report *r, void *arg)
{
    struct circuit *c = arg;
    struct rc *d = c->d;
    if (d->phase == DONE) return;
    if (!r->last) {
        c->bytes += r->upload_bytes;
        c->counted += r->upload_bytes;
        return;
    }
    if (r->status) {
        fprintf(stderr, "cbench relay-capacity: circuit %u: %s\n", (unsigned)(c - d->c), p2p_strerror(r->status));
        return stop_all(d, 1);
    }
    if (r->total_upload_bytes > c->counted) c->bytes += r->total_upload_bytes - c->counted;
    c->counted = 0;
    start_run(c);
}

static void start_run(struct circuit *c)
{
    struct rc *d = c->d;
    void *st;
    const struct p2p_perf_api_v1 *perf = p2p_service_get(d->m[c->src].h, P2P_PERF_SERVICE, 1, &st);
    struct p2p_perf_params pp = { .upload_bytes = d->chunk, .report_ms = REPORT_MS };
    int rc = perf ? perf->run(st, p2p_host_peerid(d->m[c->dst].h), NULL, &pp, on_report, c, NULL) : P2P_ENOTFOUND;
    if (rc < 0) {
        fprintf(stderr, "cbench relay-capacity: perf on circuit %u: %s\n", (unsigned)(c - d->c), p2p_strerror(rc));
        stop_all(d, 1);
    }
}

static void connect_more(struct rc *d);

static void on_circuit(int status, p2p_conn *conn, void *arg)
{
    struct circuit *c = arg;
    struct rc *d = c->d;
    (void)conn;
    if (d->phase == DONE) return;
    if (status) {
        fprintf(stderr, "cbench relay-capacity: circuit %u: %s\n", (unsigned)(c - d->c), p2p_strerror(status));
        return stop_all(d, 1);
    }
    c->open = true;
    d->opened++;
    start_run(c);
    connect_more(d);
}

static void connect_more(struct rc *d)
{
    while (d->phase == CONNECTING && d->dialed < d->circuits && d->dialed - d->opened < d->batch) {
        struct circuit *c = &d->c[d->dialed++];
        *c = (struct circuit){ .d = d, .src = (unsigned)(c - d->c), .dst = d->n - 1 - (unsigned)(c - d->c) };
        p2p_multiaddr a = d->raddr;
        const p2p_peerid *t = p2p_host_peerid(d->m[c->dst].h);
        if (p2p_maddr_push(&a, P2P_MA_P2P, d->rid.bytes, d->rid.len) || p2p_maddr_push(&a, P2P_MA_P2P_CIRCUIT, NULL, 0) ||
            p2p_maddr_push(&a, P2P_MA_P2P, t->bytes, t->len))
            return stop_all(d, 1);
        int rc = p2p_host_connect(d->m[c->src].h, t, &a, 1, on_circuit, c);
        if (rc < 0) {
            fprintf(stderr, "cbench relay-capacity: circuit %u: %s\n", (unsigned)(c - d->c), p2p_strerror(rc));
            return stop_all(d, 1);
        }
    }
}

static uint64_t now_ms(void) { return uv_hrtime() / 1000000; }

static void report(struct rc *d)
{
    unsigned held = 0, busy = 0;
    uint64_t bytes = 0, minb = UINT64_MAX;
    for (unsigned i = 0; i < d->started; i++) held += has_circuit_addr(d->m[i].h);
    for (unsigned i = 0; i < d->dialed; i++) {
        uint64_t b = d->c[i].bytes - d->c[i].window0;
        bytes += b;
        busy += b > 0;
        if (b < minb) minb = b;
    }
    if (!d->dialed) minb = 0;
    double secs = d->window_ms / 1e3;
    printf("{\"type\":\"relay-capacity\",\"reservations\":%u,\"reservationsHeld\":%u,\"reserveSeconds\":%.3f,"
           "\"circuits\":%u,\"circuitsOpen\":%u,\"circuitsBusy\":%u,\"connectSeconds\":%.3f,\"seconds\":%.3f,"
           "\"bytes\":%" PRIu64 ",\"bytesPerSecond\":%.0f,\"minCircuitBytes\":%" PRIu64 ",\"relay\":{"
           "\"rssStartKiB\":%ld,\"rssReservedKiB\":%ld,\"rssBusyKiB\":%ld,\"hwmKiB\":%ld,\"cpuSeconds\":%.2f,"
           "\"cpuReserveSeconds\":%.2f}}\n",
           d->n, held, d->reserve_ms / 1e3, d->circuits, d->opened, busy, d->connect_ms / 1e3, secs, bytes,
           secs > 0 ? bytes / secs : 0, minb, d->p_start.rss_kib, d->p_reserved.rss_kib, d->p_busy.rss_kib,
           d->p_busy.hwm_kib, d->p_busy.cpu_s >= 0 ? d->p_busy.cpu_s - d->p_window0.cpu_s : -1,
           d->p_reserved.cpu_s >= 0 ? d->p_reserved.cpu_s - d->p_start.cpu_s : -1);
    fflush(stdout);
    if (held < d->n || d->opened < d->circuits || busy < d->circuits) d->status = 1;
}

static void on_tick(uv_timer_t *t)
{
    struct rc *d = t->data;
    uint64_t now = now_ms();
    switch (d->phase) {
    case RESERVING:
        for (unsigned i = 0; i < d->started; i++)
            if (!d->m[i].reserved && has_circuit_addr(d->m[i].h)) {
                d->m[i].reserved = true;
                d->reserved++;
            }
        if (d->reserved == d->n) {
            d->reserve_ms = now - d->t0;
            proc_read(d->pid, &d->p_reserved);
            fprintf(stderr, "cbench relay-capacity: %u reservations in %.1f s (relay RSS %ld KiB)\n", d->n,
                    d->reserve_ms / 1e3, d->p_reserved.rss_kib);
            d->phase = CONNECTING;
            d->phase_t0 = now;
            connect_more(d);
        } else if (now - d->t0 > RESERVE_LIMIT_MS) {
            fprintf(stderr, "cbench relay-capacity: only %u of %u reservations\n", d->reserved, d->n);
            stop_all(d, 1);
        } else reserve_more(d);
        break;
    case CONNECTING:
        if (d->opened == d->circuits) {
            d->connect_ms = now - d->phase_t0;
            d->phase = WARMING;
            d->phase_t0 = now;
        } else if (now - d->phase_t0 > CONNECT_LIMIT_MS) {
            fprintf(stderr, "cbench relay-capacity: only %u of %u circuits\n", d->opened, d->circuits);
            stop_all(d, 1);
        }
        break;
    case WARMING:   /* one second for every circuit's first run to get going */
        if (now - d->phase_t0 >= 1000) {
            for (unsigned i = 0; i < d->dialed; i++) d->c[i].window0 = d->c[i].bytes;
            d->phase = MEASURING;
            d->phase_t0 = now;
            proc_read(d->pid, &d->p_window0);   /* CPU from here */
        }
        break;
    case MEASURING:
        if (now - d->phase_t0 >= d->seconds * 1000ull) {
            d->window_ms = now - d->phase_t0;
            proc_read(d->pid, &d->p_busy);
            report(d);
            stop_all(d, 0);
        }
        break;
    case DONE:
        break;
    }
}

int cbench_relay_capacity(int argc, char **argv)
{
    static struct rc d = { .n = 1000, .circuits = 256, .batch = 64, .seconds = 10, .chunk = 1u << 20 };
    const char *target = NULL;
    uint64_t v;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool num = val && cbench_num(val, &v) == 0;
        if (!strcmp(a, "--reservations") && num && v >= 2 && v <= 100000) d.n = (unsigned)v;
        else if (!strcmp(a, "--circuits") && num && v <= 50000) d.circuits = (unsigned)v;
        else if (!strcmp(a, "--seconds") && num && v >= 1 && v <= 3600) d.seconds = (unsigned)v;
        else if (!strcmp(a, "--batch") && num && v >= 1 && v <= 4096) d.batch = (unsigned)v;
        else if (!strcmp(a, "--chunk") && num && v >= 1 && v <= (1ull << 40)) d.chunk = v;
        else if (!strcmp(a, "--pid") && num && v >= 1 && v <= 1u << 30) d.pid = (int)v;
        else if (!target && a[0] == '/') {
            target = a;
            continue;
        } else {
            fprintf(stderr, "cbench relay-capacity: bad argument '%s'\n", a);
            return 2;
        }
        i++;
    }
    if (d.circuits > d.n / 2) {
        fprintf(stderr, "cbench relay-capacity: --circuits must be at most half of --reservations\n");
        return 2;
    }
    if (!target || strlen(target) >= sizeof d.relay) target = NULL;
    if (cbench_target(target, &d.raddr, &d.rid) < 0) return 2;
    snprintf(d.relay, sizeof d.relay, "%s", target);
    d.m = calloc(d.n, sizeof *d.m);
    d.c = calloc(d.circuits ? d.circuits : 1, sizeof *d.c);
    if (!d.m || !d.c || uv_loop_init(&d.loop) != 0) return 1;
    proc_read(d.pid, &d.p_start);
    uv_timer_init(&d.loop, &d.tick);
    d.tick.data = &d;
    uv_timer_start(&d.tick, on_tick, 100, 100);
    d.t0 = now_ms();
    reserve_more(&d);
    uv_run(&d.loop, UV_RUN_DEFAULT);
    for (unsigned i = 0; i < d.started; i++) p2p_host_free(d.m[i].h);
    uv_loop_close(&d.loop);
    free(d.m);
    free(d.c);
    return d.status;
}
