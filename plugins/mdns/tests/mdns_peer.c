/* mdns_peer.c - a small driver for the mdns namespace tests: a host built
 * from a configuration file (plugins included), which prints what happens
 * as one line per event on stdout, flushed at once:
 *
 *   PEERID <id>
 *   LISTEN <multiaddr with /p2p/>
 *   DISCOVERED <id> <source>
 *   CONNECTED <id> <remote multiaddr> <inbound|outbound>
 *   IDENTIFIED <id>
 *   DISCONNECTED <id>
 *   EXIT <code>
 *
 *   mdns_peer -c FILE [--timeout SECONDS]
 *
 * It runs until SIGTERM/SIGINT (exit 0) or the timeout (exit 2). */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/p2p.h"

struct mpeer {
    p2p_host *host;
    uv_loop_t loop;
    uv_timer_t deadline;
    uv_signal_t sigterm, sigint;
    int exit_code;
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

static void on_event(const struct p2p_event *ev, void *arg)
{
    (void)arg;
    char id[P2P_PEERID_STRMAX] = "?";
    if (ev->peer) p2p_peerid_to_string(ev->peer, id, sizeof id);
    switch (ev->type) {
    case P2P_EV_PEER_DISCOVERED:
        out("DISCOVERED %s %s", id, ev->source ? ev->source : "?");
        break;
    case P2P_EV_CONNECTED: {
        char ra[P2P_MADDR_STRMAX] = "?";
        p2p_maddr_to_string(p2p_conn_remote_addr(ev->conn), ra, sizeof ra);
        out("CONNECTED %s %s %s", id, ra, p2p_conn_direction(ev->conn) == P2P_OUTBOUND ? "outbound" : "inbound");
        break;
    }
    case P2P_EV_IDENTIFIED:
        out("IDENTIFIED %s", id);
        break;
    case P2P_EV_DISCONNECTED:
        out("DISCONNECTED %s", id);
        break;
    default:
        break;
    }
}

static void stop(struct mpeer *p, int code)
{
    p->exit_code = code;
    uv_stop(&p->loop);
}

static void on_signal(uv_signal_t *s, int sig)
{
    (void)sig;
    stop(s->data, 0);
}

static void on_deadline(uv_timer_t *t)
{
    out("TIMEOUT");
    stop(t->data, 2);
}

static int usage(void)
{
    fprintf(stderr, "usage: mdns_peer -c FILE [--timeout SECONDS]\n");
    return 64;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "timeout", required_argument, NULL, 't' },
        { NULL, 0, NULL, 0 },
    };
    const char *file = NULL;
    double timeout = 0;
    int c;
    while ((c = getopt_long(argc, argv, "c:t:", opts, NULL)) != -1) {
        switch (c) {
        case 'c': file = optarg; break;
        case 't': timeout = strtod(optarg, NULL); break;
        default: return usage();
        }
    }
    if (!file || optind != argc || timeout < 0 || timeout > 1e6) return usage();

    struct mpeer p = { .exit_code = 0 };
    char err[1024];
    signal(SIGPIPE, SIG_IGN);
    p2p_conf *cf = p2p_conf_load_file(file, err, sizeof err);
    if (!cf) {
        fprintf(stderr, "mdns_peer: %s\n", err);
        return 78;
    }
    uv_loop_init(&p.loop);
    struct p2p_host_opts ho = { .loop = &p.loop };
    if (p2p_host_new(&p.host, cf, &ho, err, sizeof err) < 0) {
        fprintf(stderr, "mdns_peer: %s\n", err);
        uv_loop_close(&p.loop);
        return 78;
    }
    p2p_host_subscribe(p.host, P2P_EV_PEER_DISCOVERED | P2P_EV_CONNECTED | P2P_EV_IDENTIFIED | P2P_EV_DISCONNECTED,
                       on_event, &p);
    if (p2p_host_start(p.host, err, sizeof err) < 0) {
        fprintf(stderr, "mdns_peer: %s\n", err);
        p2p_host_free(p.host);
        uv_run(&p.loop, UV_RUN_DEFAULT);
        uv_loop_close(&p.loop);
        return 1;
    }
    char id[P2P_PEERID_STRMAX];
    p2p_peerid_to_string(p2p_host_peerid(p.host), id, sizeof id);
    out("PEERID %s", id);
    p2p_multiaddr la[16];
    size_t nl = p2p_host_listen_addrs(p.host, la, 16);
    for (size_t i = 0; i < nl && i < 16; i++) {
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
    if (timeout > 0) uv_timer_start(&p.deadline, on_deadline, (uint64_t)(timeout * 1000), 0);
    uv_run(&p.loop, UV_RUN_DEFAULT);

    uv_close((uv_handle_t *)&p.deadline, NULL);
    uv_close((uv_handle_t *)&p.sigterm, NULL);
    uv_close((uv_handle_t *)&p.sigint, NULL);
    p2p_host_free(p.host);
    uv_run(&p.loop, UV_RUN_DEFAULT);
    uv_loop_close(&p.loop);
    out("EXIT %d", p.exit_code);
    return p.exit_code;
}
