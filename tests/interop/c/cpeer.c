/* cpeer.c - our side of the interop tests: the same command-line contract
 * as the rust-libp2p, go-libp2p and js-libp2p test peers (see
 * tests/interop/README.md), built on libp2pcore and the real plugins.
 *
 *   cpeer listen [--seed N] [--port P] [--ip6]
 *   cpeer dial MULTIADDR [--streams K] [--bytes B] [--pings N] [--seed N] [--timeout S] [--slow]
 *
 * Every event is one line on stdout, flushed at once. */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "echo.h"
#include "p2p/identify.h"
#include "p2p/p2p.h"
#include "p2p/ping.h"

/* dial --slow: each echo stream stops reading for SLOW_PAUSE_MS after every
 * SLOW_EVERY bytes received (the contract's slow reader). */
#define SLOW_EVERY (512u * 1024u)
#define SLOW_PAUSE_MS 20u

struct cpeer {
    p2p_host *host;
    uv_loop_t loop;
    bool dialer, slow;
    p2p_peerid target;
    p2p_multiaddr target_addr;
    unsigned streams, pings, pings_done;
    size_t bytes;
    unsigned echo_done, echo_failed;
    struct echo_client *clients;
    p2p_conn *conn;
    int exit_code;
    const char *pending;
    uv_timer_t deadline;
    uv_signal_t sigterm, sigint;
};

static void out(const char *fmt, ...) P2P_PRINTF(1, 2);
static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* The peak resident set size (VmHWM of /proc/self/status) in KiB, 0 when
 * unknown. */
static unsigned long rss_max_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long kib = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lu", &kib) == 1) break;
    fclose(f);
    return kib;
}

/* The dialer's last lines after full success. */
static void print_done(void)
{
    out("RSS_MAX_KIB %lu", rss_max_kib());
    out("DONE");
}

static void finish(struct cpeer *p, int code)
{
    p->exit_code = code;
    uv_stop(&p->loop);
}

static void print_identified(struct cpeer *p, const p2p_peerid *peer)
{
    char id[P2P_PEERID_STRMAX], protos[4096] = "", addrs[4096] = "";
    p2p_peerid_to_string(peer, id, sizeof id);
    const char *list[128];
    size_t n = p2p_peerstore_protocols(p->host, peer, list, 128);
    if (n > 128) n = 128;
    /* sorted, comma-separated */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(list[j - 1], list[j]) > 0; j--) {
            const char *t = list[j];
            list[j] = list[j - 1];
            list[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(protos);
        snprintf(protos + l, sizeof protos - l, "%s%s", i ? "," : "", list[i]);
    }
    p2p_multiaddr ma[16];
    size_t na = p2p_peerstore_addrs(p->host, peer, ma, 16);
    for (size_t i = 0; i < na && i < 16; i++) {
        char t[P2P_MADDR_STRMAX];
        if (p2p_maddr_to_string(&ma[i], t, sizeof t) < 0) continue;
        size_t l = strlen(addrs);
        snprintf(addrs + l, sizeof addrs - l, "%s%s", i ? "," : "", t);
    }
    /* Our address as the peer observed it: the identify service keeps one
     * observation per open connection (the tests have one connection). */
    char observed[P2P_MADDR_STRMAX] = "";
    void *st;
    const struct p2p_identify_api_v1 *ida = p2p_service_get(p->host, P2P_IDENTIFY_SERVICE, 1, &st);
    struct p2p_identify_observed obs[1];
    if (ida && ida->observed_addrs(st, obs, 1) > 0 && p2p_maddr_to_string(&obs[0].addr, observed, sizeof observed) < 0)
        observed[0] = '\0';
    const char *agent = p2p_peerstore_attr(p->host, peer, P2P_ATTR_AGENT);
    out("IDENTIFIED %s agent=%s protocols=%s listen=%s observed=%s", id, agent ? agent : "", protos, addrs,
        observed);
}

static void on_echo_done(struct echo_client *c)
{
    struct cpeer *p = c->user;
    p->echo_done++;
    if (!c->ok) {
        p->echo_failed++;
        out("ECHO FAIL stream %u: %s (sent %zu, received %zu)", (unsigned)(c - p->clients),
            p2p_strerror(c->status), c->sent, c->recvd);
    }
    if (p->echo_done < p->streams) return;
    if (p->echo_failed) return finish(p, 1);
    out("ECHO ok streams=%u bytes=%zu", p->streams, p->bytes);
    print_done();
    finish(p, 0);
}

static void start_echo(struct cpeer *p)
{
    p->pending = "echo";
    if (!p->streams) {
        print_done();
        return finish(p, 0);
    }
    p->clients = calloc(p->streams, sizeof *p->clients);
    for (unsigned i = 0; i < p->streams; i++) {
        p->clients[i].total = p->bytes;
        p->clients[i].seed = i + 1;
        p->clients[i].done = on_echo_done;
        p->clients[i].user = p;
        if (p->slow) {
            p->clients[i].pause_every = SLOW_EVERY;
            p->clients[i].pause_ms = SLOW_PAUSE_MS;
            p->clients[i].host = p->host;
        }
        int rc = echo_start(p->conn, &p->clients[i]);
        if (rc < 0) {
            out("ECHO FAIL open: %s", p2p_strerror(rc));
            return finish(p, 1);
        }
    }
}

static void on_pong(int status, uint64_t rtt_us, bool last, void *arg)
{
    struct cpeer *p = arg;
    if (status) {
        out("PING FAIL %s", p2p_strerror(status));
        return finish(p, 1);
    }
    out("PING rtt_us=%llu", (unsigned long long)rtt_us);
    if (last) start_echo(p);
}

static void start_pings(struct cpeer *p)
{
    p->pending = "ping";
    if (!p->pings) return start_echo(p);
    void *st;
    const struct p2p_ping_api_v1 *ping = p2p_service_get(p->host, P2P_PING_SERVICE, 1, &st);
    if (!ping) {
        out("PING FAIL no ping service");
        return finish(p, 1);
    }
    int rc = ping->ping(st, &p->target, p->pings, on_pong, p);
    if (rc < 0) {
        out("PING FAIL %s", p2p_strerror(rc));
        finish(p, 1);
    }
}

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct cpeer *p = arg;
    char id[P2P_PEERID_STRMAX], ra[P2P_MADDR_STRMAX];
    if (ev->peer) p2p_peerid_to_string(ev->peer, id, sizeof id);
    switch (ev->type) {
    case P2P_EV_CONNECTED:
        if (p2p_maddr_to_string(p2p_conn_remote_addr(ev->conn), ra, sizeof ra) < 0) strcpy(ra, "?");
        out("CONNECTED %s %s", id, ra);
        break;
    case P2P_EV_DISCONNECTED:
        out("DISCONNECTED %s", id);
        if (p->dialer && p->conn == ev->conn) {
            p->conn = NULL;
            if (p->exit_code < 0) {
                out("FAIL disconnected during %s", p->pending);
                finish(p, 1);
            }
        }
        break;
    case P2P_EV_IDENTIFIED:
        print_identified(p, ev->peer);
        if (p->dialer && ev->conn == p->conn && p->pending && !strcmp(p->pending, "identify")) start_pings(p);
        break;
    default:
        break;
    }
}

static void on_connected(int status, p2p_conn *c, void *arg)
{
    struct cpeer *p = arg;
    if (status) {
        out("FAIL connect: %s", p2p_strerror(status));
        return finish(p, 1);
    }
    p->conn = c;
    p->pending = "identify";
    /* IDENTIFIED may already have been seen for this connection. */
    if (p2p_peerstore_attr(p->host, &p->target, "agent")) start_pings(p);
}

static void on_deadline(uv_timer_t *t)
{
    struct cpeer *p = t->data;
    out("TIMEOUT %s", p->pending ? p->pending : "start");
    finish(p, 2);
}

static void on_signal(uv_signal_t *s, int sig)
{
    (void)sig;
    out("RSS_MAX_KIB %lu", rss_max_kib());
    finish(s->data, 0);
}

static int usage(void)
{
    fprintf(stderr, "usage: cpeer listen [--seed N] [--port P] [--ip6]\n"
                    "       cpeer dial MULTIADDR [--streams K] [--bytes B] [--pings N] [--seed N] [--timeout S]"
                    " [--slow]\n");
    return 64;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    struct cpeer p = { .streams = 8, .bytes = 65536, .pings = 3, .exit_code = -1 };
    const char *mode = argv[1];
    long seed = -1, port = 0;
    double timeout = 30;
    bool ip6 = false;
    const char *addr = NULL;
    p.dialer = !strcmp(mode, "dial");
    if (!p.dialer && strcmp(mode, "listen")) return usage();
    static const struct option opts[] = {
        { "seed", required_argument, NULL, 's' }, { "port", required_argument, NULL, 'p' },
        { "streams", required_argument, NULL, 'k' }, { "bytes", required_argument, NULL, 'b' },
        { "pings", required_argument, NULL, 'n' }, { "timeout", required_argument, NULL, 't' },
        { "ip6", no_argument, NULL, '6' }, { "slow", no_argument, NULL, 'w' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': seed = strtol(optarg, NULL, 10); break;
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 'k': p.streams = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'b': p.bytes = strtoull(optarg, NULL, 10); break;
        case 'n': p.pings = (unsigned)strtoul(optarg, NULL, 10); break;
        case 't': timeout = strtod(optarg, NULL); break;
        case '6': ip6 = true; break;
        case 'w': p.slow = true; break;
        default: return usage();
        }
    }
    if (!(timeout > 0 && timeout < 1e6) || (p.dialer && ip6) || (!p.dialer && p.slow)) return usage();
    if (p.dialer) {
        if (optind >= argc) return usage();
        addr = argv[optind];
        char why[256];
        if (p2p_maddr_parse(&p.target_addr, addr, why, sizeof why) != 0) {
            fprintf(stderr, "cpeer: bad multiaddr %s: %s\n", addr, why);
            return 64;
        }
        struct p2p_maddr_component comp;
        size_t off = 0;
        bool has_peer = false;
        while (p2p_maddr_next(&p.target_addr, &off, &comp) == 1)
            if (comp.code == P2P_MA_P2P) has_peer = p2p_peerid_from_bytes(&p.target, comp.value, comp.value_len) == 0;
        if (!has_peer) {
            fprintf(stderr, "cpeer: the address needs a /p2p/ part\n");
            return 64;
        }
    }

    char ini[2048], err[1024], identity[64];
    if (seed >= 0) snprintf(identity, sizeof identity, "secret_key_seed = %ld", seed);
    else snprintf(identity, sizeof identity, "ephemeral_identity = true");
    /* The listener listens on loopback only; the dialer does not listen. */
    char listen[64] = "";
    if (!p.dialer) snprintf(listen, sizeof listen, "%s/tcp/%ld", ip6 ? "/ip6/::1" : "/ip4/127.0.0.1", port);
    snprintf(ini, sizeof ini,
             "[host]\n%s\nlisten = %s\nlog = %s\n"
             "[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin identify]\n"
             "agent_version = p2pchat-interop/0.1.0\n[plugin ping]\n",
             identity, listen, getenv("P2P_LOG") ? getenv("P2P_LOG") : "warn");
    uv_loop_init(&p.loop);
    signal(SIGPIPE, SIG_IGN);
    p2p_conf *cf = p2p_conf_load_string(ini, "cpeer.ini", err, sizeof err);
    struct p2p_host_opts ho = { .loop = &p.loop };
    if (!cf || p2p_host_new(&p.host, cf, &ho, err, sizeof err) < 0) {
        fprintf(stderr, "cpeer: %s\n", err);
        return 1;
    }
    echo_serve(p.host);
    p2p_host_subscribe(p.host, P2P_EV_CONNECTED | P2P_EV_DISCONNECTED | P2P_EV_IDENTIFIED, on_event, &p);
    if (p2p_host_start(p.host, err, sizeof err) < 0) {
        fprintf(stderr, "cpeer: %s\n", err);
        p2p_host_free(p.host);
        return 1;
    }
    char id[P2P_PEERID_STRMAX];
    p2p_peerid_to_string(p2p_host_peerid(p.host), id, sizeof id);
    out("PEERID %s", id);
    p2p_multiaddr la[8];
    size_t nl = p2p_host_listen_addrs(p.host, la, 8);
    for (size_t i = 0; i < nl && i < 8; i++) {
        char t[P2P_MADDR_STRMAX];
        const p2p_peerid *me = p2p_host_peerid(p.host);
        p2p_maddr_push(&la[i], P2P_MA_P2P, me->bytes, me->len);
        if (p2p_maddr_to_string(&la[i], t, sizeof t) > 0) out("LISTEN %s", t);
    }

    uv_signal_init(&p.loop, &p.sigterm);
    uv_signal_init(&p.loop, &p.sigint);
    p.sigterm.data = p.sigint.data = &p;
    uv_signal_start(&p.sigterm, on_signal, SIGTERM);
    uv_signal_start(&p.sigint, on_signal, SIGINT);
    uv_timer_init(&p.loop, &p.deadline);
    p.deadline.data = &p;
    if (p.dialer) {
        uv_timer_start(&p.deadline, on_deadline, (uint64_t)(timeout * 1000), 0);
        p.pending = "connect";
        int rc = p2p_host_connect(p.host, &p.target, &p.target_addr, 1, on_connected, &p);
        if (rc < 0) {
            out("FAIL connect: %s", p2p_strerror(rc));
            p.exit_code = 1;
        }
    }
    if (p.exit_code < 0) uv_run(&p.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&p.deadline, NULL);
    uv_close((uv_handle_t *)&p.sigterm, NULL);
    uv_close((uv_handle_t *)&p.sigint, NULL);
    p2p_host_free(p.host);
    uv_run(&p.loop, UV_RUN_DEFAULT);
    uv_loop_close(&p.loop);
    free(p.clients);
    return p.exit_code < 0 ? 0 : p.exit_code;
}
