/* cbench.c - the C benchmark peer's handshake mode (bench/run.sh; not part
 * of the product). Built against the installed SDK with pkg-config:
 *
 *   cbench handshakes <multiaddr/p2p/ID> [--count N]
 *
 * N sequential connections to the server: dial, Noise, Yamux, wait for the
 * server's identify (P2P_EV_IDENTIFIED), close, wait until closed
 * (P2P_EV_DISCONNECTED); then one JSON line
 *   {"type":"handshakes","count":N,"timeSeconds":..}
 * The host has the plugins of `p2pchat perf` (transport-tcp, noise, yamux,
 * identify, ping, perf) and close_timeout = 0, so that a close does not
 * wait for the ping stream to end (rust, go: the connection is closed at
 * once). The perf server and the perf client of the C peer are p2pchat
 * itself (bench/peers/c/server.ini, `p2pchat perf`). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p2p/p2p.h>

struct bench {
    p2p_host *h;
    p2p_peerid peer;
    p2p_multiaddr addr;
    unsigned count, done;
    p2p_conn *conn;          /* the identified connection being closed */
    bool identified;
    int status;
    uint64_t t0;
    p2p_subscription *sub;
    struct p2p_defer stop;   /* stop the host from the loop, not inside a callback */
};

static void next(struct bench *b);

static void finish(struct bench *b, int status)
{
    b->status = status;
    if (status == 0)
        printf("{\"type\":\"handshakes\",\"count\":%u,\"timeSeconds\":%.6f}\n", b->count,
               (uv_hrtime() - b->t0) / 1e9);
    else
        fprintf(stderr, "cbench: connection %u: %s\n", b->done, p2p_strerror(status));
    fflush(stdout);
    p2p_host_unsubscribe(b->h, b->sub);
    b->sub = NULL;
    p2p_defer_schedule(b->h, &b->stop);
}

static void stop_host(void *arg)
{
    struct bench *b = arg;
    p2p_host_stop(b->h);
}

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct bench *b = arg;
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
    int rc = p2p_host_connect(b->h, &b->peer, &b->addr, 1, on_connected, b);
    if (rc < 0) finish(b, rc);
}

static const char config[] =
    "[host]\n"
    "listen =\n"
    "ephemeral_identity = true\n"
    "log = warn\n"
    "close_timeout = 0\n"
    "[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin identify]\n[plugin ping]\n[plugin perf]\n";

int main(int argc, char **argv)
{
    struct bench b = { .count = 100 };
    const char *target = NULL;
    if (argc < 2 || strcmp(argv[1], "handshakes")) {
        fprintf(stderr, "usage: cbench handshakes <multiaddr/p2p/ID> [--count N]\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--count") && i + 1 < argc) b.count = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!target) target = argv[i];
        else {
            fprintf(stderr, "cbench: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    char err[512];
    if (!target || !b.count || p2p_maddr_parse(&b.addr, target, err, sizeof err) != 0) {
        fprintf(stderr, "cbench: a multiaddr with /p2p/ and a count > 0 are needed\n");
        return 2;
    }
    struct p2p_maddr_component comp, last = { 0 };
    size_t off = 0;
    while (p2p_maddr_next(&b.addr, &off, &comp) == 1) last = comp;
    if (last.code != P2P_MA_P2P || p2p_peerid_from_bytes(&b.peer, last.value, last.value_len) != 0) {
        fprintf(stderr, "cbench: the multiaddr must end with /p2p/<PeerId>\n");
        return 2;
    }
    p2p_maddr_pop(&b.addr);
    signal(SIGPIPE, SIG_IGN);
    p2p_conf *cf = p2p_conf_load_string(config, "cbench", err, sizeof err);
    if (!cf) {
        fprintf(stderr, "cbench: %s\n", err);
        return 1;
    }
    struct p2p_host_opts o = { 0 };
    if (p2p_host_new(&b.h, cf, &o, err, sizeof err) < 0 || p2p_host_start(b.h, err, sizeof err) < 0) {
        fprintf(stderr, "cbench: %s\n", err);
        return 1;
    }
    p2p_defer_init(&b.stop, stop_host, &b);
    b.sub = p2p_host_subscribe(b.h, P2P_EV_IDENTIFIED | P2P_EV_DISCONNECTED, on_event, &b);
    b.t0 = uv_hrtime();
    next(&b);
    uv_run(p2p_host_loop(b.h), UV_RUN_DEFAULT);
    p2p_host_free(b.h);
    return b.status ? 1 : 0;
}
