/* cbench.c - the C benchmark peer's own modes (bench/run.sh; not part of
 * the product). Built against the SDK with pkg-config:
 *
 *   cbench handshakes <maddr/p2p/ID> [--count N] [--identities I]  (this file)
 *   cbench streams <maddr/p2p/ID> [--streams N] [--upload B]  (cbench_streams.c)
 *   cbench idle <maddr/p2p/ID> [--count N]                 (cbench_idle.c)
 *   cbench gossip-sub [--expect N] [--idle-ms MS]          (cbench_gossip.c)
 *   cbench gossip-pub --rate R --count N [--size B] <maddr/p2p/ID>...
 *   cbench gossip-net --hosts H --total T --peers-file F ...  (cbench_gossip_net.c)
 *   cbench relay-capacity <relay/p2p/ID> [--reservations N] [--circuits C]
 *       [--seconds S] [--pid PID]                       (cbench_relay.c)
 *   cbench kad-lookup [--nodes N] [--lookups L] [--bootstrap B] [--values V]
 *                                                       (cbench_kad.c)
 *
 * handshakes: N sequential connections to the server: dial, Noise, Yamux,
 * wait for the server's identify (P2P_EV_IDENTIFIED), close, wait until
 * closed (P2P_EV_DISCONNECTED); then one JSON line
 *   {"type":"handshakes","count":N,"identities":I,"timeSeconds":..}
 * --identities I: I client hosts (each its own identity, made before the
 * clock starts) take turns, so with I = N every connection is a first
 * contact for the server (its identify verifies a new signed record,
 * which a repeated identity's memo skips); default 1.
 * The host has the plugins of `p2pchat perf` (transport-tcp, noise, yamux,
 * identify, ping, perf) and close_timeout = 0, so that a close does not
 * wait for the ping stream to end (rust, go: the connection is closed at
 * once). The perf server and the single-stream perf client of the C peer
 * are p2pchat itself (bench/peers/c/server.ini, `p2pchat perf`).
 *
 * Every mode takes `--set SECTION.KEY=VALUE` (repeatable, before or after
 * the mode's own arguments), applied on top of the built-in config of
 * every host the mode creates, e.g. --set plugin.transport-tcp.notsent_lowat=0. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cbench.h"

int cbench_num(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    static const struct { const char *sfx; uint64_t mult; } units[] = {
        { "", 1 }, { "K", 1000 }, { "M", 1000000 }, { "G", 1000000000 },
        { "KiB", 1ull << 10 }, { "MiB", 1ull << 20 }, { "GiB", 1ull << 30 },
    };
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (strcmp(end, units[i].sfx)) continue;
        if (v > UINT64_MAX / units[i].mult) return -1;
        *out = v * units[i].mult;
        return 0;
    }
    return -1;
}

int cbench_target(const char *s, p2p_multiaddr *addr, p2p_peerid *peer)
{
    char err[512];
    if (!s || p2p_maddr_parse(addr, s, err, sizeof err) != 0) {
        fprintf(stderr, "cbench: bad multiaddr '%s'\n", s ? s : "");
        return -1;
    }
    struct p2p_maddr_component comp, last = { 0 };
    size_t off = 0;
    while (p2p_maddr_next(addr, &off, &comp) == 1) last = comp;
    if (last.code != P2P_MA_P2P || p2p_peerid_from_bytes(peer, last.value, last.value_len) != 0) {
        fprintf(stderr, "cbench: the multiaddr must end with /p2p/<PeerId>\n");
        return -1;
    }
    p2p_maddr_pop(addr);
    return 0;
}

void cbench_put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

uint64_t cbench_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

double cbench_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

#define MAX_SETS 16
static const char *sets[MAX_SETS];
static size_t nsets;

p2p_host *cbench_host(const char *listen, const char *host_extra, const char *extra, uv_loop_t *loop)
{
    char ini[4096], err[512];
    int n = snprintf(ini, sizeof ini, CBENCH_HOST_INI "listen = %s\n%s" CBENCH_PLUGINS_INI "%s", listen, host_extra,
                     extra);
    if (n < 0 || (size_t)n >= sizeof ini) return NULL;
    p2p_conf *cf = p2p_conf_load_string(ini, "cbench", err, sizeof err);
    if (!cf) {
        fprintf(stderr, "cbench: %s\n", err);
        return NULL;
    }
    for (size_t i = 0; i < nsets; i++) {
        if (p2p_conf_set_arg(cf, sets[i], err, sizeof err) != 0) {
            fprintf(stderr, "cbench: --set %s: %s\n", sets[i], err);
            p2p_conf_free(cf);
            return NULL;
        }
    }
    p2p_host *h;
    struct p2p_host_opts o = { .loop = loop };
    if (p2p_host_new(&h, cf, &o, err, sizeof err) < 0) {
        fprintf(stderr, "cbench: %s\n", err);
        return NULL;
    }
    if (p2p_host_start(h, err, sizeof err) < 0) {
        fprintf(stderr, "cbench: %s\n", err);
        p2p_host_free(h);
        return NULL;
    }
    return h;
}

/* ---- handshakes ------------------------------------------------------------ */

struct bench {
    p2p_host **hosts;        /* the client identities, taking turns */
    unsigned nhosts;
    p2p_host *h;             /* the one dialing now */
    p2p_peerid peer;
    p2p_multiaddr addr;
    unsigned count, done;
    p2p_conn *conn;          /* the identified connection being closed */
    bool identified;
    bool finished;           /* events after the result are ignored */
    int status;
    uint64_t t0;
    struct p2p_defer stop;   /* stop the host from the loop, not inside a callback */
};

static void next(struct bench *b);

static void finish(struct bench *b, int status)
{
    b->status = status;
    if (status == 0)
        printf("{\"type\":\"handshakes\",\"count\":%u,\"identities\":%u,\"timeSeconds\":%.6f}\n", b->count,
               b->nhosts, (uv_hrtime() - b->t0) / 1e9);
    else
        fprintf(stderr, "cbench: connection %u: %s\n", b->done, p2p_strerror(status));
    fflush(stdout);
    b->finished = true;
    p2p_defer_schedule(b->h, &b->stop);
}

static void stop_host(void *arg)
{
    struct bench *b = arg;
    for (unsigned i = 0; i < b->nhosts; i++) p2p_host_stop(b->hosts[i]);
}

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct bench *b = arg;
    if (b->finished) return;
    if (ev->type == P2P_EV_IDENTIFIED && !b->identified && ev->peer && p2p_peerid_equal(ev->peer, &b->peer)) {
        b->identified = true;
        b->conn = ev->conn;
        p2p_conn_close(b->conn);
    } else if (ev->type == P2P_EV_DISCONNECTED && b->identified && ev->conn == b->conn) {
        b->conn = NULL;
        if (++b->done == b->count) return finish(b, 0);
        next(b);
    } else if (ev->type == P2P_EV_DISCONNECTED && !b->identified && ev->peer &&
               p2p_peerid_equal(ev->peer, &b->peer)) {
        finish(b, ev->reason ? ev->reason : P2P_ECLOSED);   /* lost before identify */
    }
}

static void on_connected(int status, p2p_conn *c, void *arg)
{
    struct bench *b = arg;
    (void)c;   /* identify names the connection (P2P_EV_IDENTIFIED) */
    if (status) finish(b, status);
}

static void next(struct bench *b)
{
    b->identified = false;
    b->h = b->hosts[b->done % b->nhosts];
    int rc = p2p_host_connect(b->h, &b->peer, &b->addr, 1, on_connected, b);
    if (rc < 0) finish(b, rc);
}

int cbench_handshakes(int argc, char **argv)
{
    struct bench b = { .count = 100, .nhosts = 1 };
    const char *target = NULL;
    uint64_t v;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--count") && i + 1 < argc && cbench_num(argv[i + 1], &v) == 0 && v && v < 1u << 30) {
            b.count = (unsigned)v;
            i++;
        } else if (!strcmp(argv[i], "--identities") && i + 1 < argc && cbench_num(argv[i + 1], &v) == 0 && v &&
                   v <= 10000) {
            b.nhosts = (unsigned)v;
            i++;
        } else if (!target) target = argv[i];
        else {
            fprintf(stderr, "cbench: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (cbench_target(target, &b.addr, &b.peer) < 0) return 2;
    b.hosts = calloc(b.nhosts, sizeof *b.hosts);
    if (!b.hosts) return 1;
    int rc = 0;
    for (unsigned i = 0; i < b.nhosts && rc == 0; i++) {
        b.hosts[i] = cbench_host("", "", "[plugin perf]\n", i ? p2p_host_loop(b.hosts[0]) : NULL);
        if (!b.hosts[i] || !p2p_host_subscribe(b.hosts[i], P2P_EV_IDENTIFIED | P2P_EV_DISCONNECTED, on_event, &b))
            rc = 1;
    }
    if (rc == 0) {
        p2p_defer_init(&b.stop, stop_host, &b);
        b.t0 = uv_hrtime();
        next(&b);
        uv_run(p2p_host_loop(b.hosts[0]), UV_RUN_DEFAULT);
        rc = b.status ? 1 : 0;
    }
    for (unsigned i = b.nhosts; i-- > 0;)
        if (b.hosts[i]) p2p_host_free(b.hosts[i]);   /* the first (the loop's owner) last */
    free(b.hosts);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct { const char *name; int (*fn)(int, char **); } modes[] = {
        { "handshakes", cbench_handshakes }, { "streams", cbench_streams }, { "idle", cbench_idle },
        { "gossip-sub", cbench_gossip_sub }, { "gossip-pub", cbench_gossip_pub },
        { "gossip-net", cbench_gossip_net },
        { "relay-capacity", cbench_relay_capacity }, { "kad-lookup", cbench_kad_lookup },
    };
    signal(SIGPIPE, SIG_IGN);
    /* Take the --set options out; the modes see the rest. */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            if (nsets == MAX_SETS) {
                fprintf(stderr, "cbench: too many --set options\n");
                return 2;
            }
            sets[nsets++] = argv[++i];
        } else {
            argv[n++] = argv[i];
        }
    }
    argc = n;
    argv[argc] = NULL;
    for (size_t i = 0; argc >= 2 && i < sizeof modes / sizeof *modes; i++)
        if (!strcmp(argv[1], modes[i].name)) return modes[i].fn(argc, argv);
    fprintf(stderr, "usage: cbench handshakes|streams|idle|gossip-sub|gossip-pub|gossip-net|relay-capacity|kad-lookup ... (see cbench.c)\n");
    return 2;
}
