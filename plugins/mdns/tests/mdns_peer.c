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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpeer.h"
#include "p2p/p2p.h"

struct mpeer {
    p2p_host *host;
    struct cpeer_loop l;
    int exit_code;
};

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
    uv_stop(&p->l.loop);
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
    cpeer_name = "mdns_peer";
    if (!(p.host = cpeer_host_from_file(&p.l.loop, file))) return 78;
    p2p_host_subscribe(p.host, P2P_EV_PEER_DISCOVERED | P2P_EV_CONNECTED | P2P_EV_IDENTIFIED | P2P_EV_DISCONNECTED,
                       on_event, &p);
    if (cpeer_host_start(p.host, &p.l.loop) < 0) return 1;
    cpeer_print_self(p.host);
    cpeer_handles_start(&p.l, timeout, on_deadline, on_signal, &p);
    uv_run(&p.l.loop, UV_RUN_DEFAULT);
    cpeer_handles_close(&p.l, p.host);
    out("EXIT %d", p.exit_code);
    return p.exit_code;
}
