/* dcutr_peer.c - a small driver for the hole-punch lab
 * (holepunch-netns.sh): a host built from a configuration file (plugins
 * included) that prints what happens, one line per event, flushed:
 *
 *   PEERID <id>
 *   LISTEN <multiaddr with /p2p/>
 *   RESERVED                       (a /p2p-circuit address is advertised)
 *   CONNECTED <id> <remote> <inbound|outbound> <limited|direct>
 *   DISCONNECTED <id> <limited|direct>
 *   DIRECT <id> <remote> <ms>      a peer that had a relayed connection has only
 *                                  direct ones now (ms: since the dial with --dial,
 *                                  else since its relayed connection)
 *   TIMEOUT / EXIT <code>
 *
 *   dcutr_peer -c FILE [--dial MULTIADDR/p2p/ID [--dial-delay SECONDS]] [--timeout SECONDS]
 *
 * With --dial it connects to the address (a /p2p-circuit one in the lab,
 * after --dial-delay, e.g. to have made its own reservation first)
 * and exits 0 once the connection to that peer is direct and the relayed
 * one gone (--stay: keeps running); otherwise it runs until SIGTERM/SIGINT
 * (exit 0). The timeout exits 2. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpeer.h"
#include "p2p/p2p.h"

/* Peers that had a relayed connection, until DIRECT was printed. */
#define DPEER_WATCH 16
struct watched {
    p2p_peerid id;
    uint64_t since;
    bool reported;
};

struct dpeer {
    p2p_host *host;
    struct watched watch[DPEER_WATCH];
    size_t nwatch;
    bool stay;
    struct cpeer_loop l;         /* the loop, deadline and signals */
    uv_timer_t check, delay;
    p2p_multiaddr target_addr;
    int exit_code;
    bool dialing, reserved, done;
    p2p_peerid target;
    uint64_t t0;
};

static void stop(struct dpeer *p, int code)
{
    p->exit_code = code;
    uv_stop(&p->l.loop);
}

/* A direct connection to peer when it has no limited one, else NULL. */
static p2p_conn *only_direct(struct dpeer *p, const p2p_peerid *peer)
{
    p2p_conn *cs[16], *d = NULL;
    size_t n = p2p_host_conns(p->host, cs, 16);
    for (size_t i = 0; i < n && i < 16; i++) {
        if (!p2p_peerid_equal(p2p_conn_peer(cs[i]), peer)) continue;
        if (p2p_conn_limited(cs[i])) return NULL;
        d = cs[i];
    }
    return d;
}

/* DIRECT for every watched peer whose connections are all direct now;
 * --dial: done when that is the target. */
static void check_direct(struct dpeer *p)
{
    for (size_t i = 0; i < p->nwatch && !p->done; i++) {
        struct watched *w = &p->watch[i];
        p2p_conn *d = w->reported ? NULL : only_direct(p, &w->id);
        if (!d) continue;
        bool target = p->dialing && p2p_peerid_equal(&w->id, &p->target);
        char id[P2P_PEERID_STRMAX], ra[P2P_MADDR_STRMAX] = "?";
        p2p_peerid_to_string(&w->id, id, sizeof id);
        p2p_maddr_to_string(p2p_conn_remote_addr(d), ra, sizeof ra);
        out("DIRECT %s %s %llu", id, ra, (unsigned long long)(uv_now(&p->l.loop) - (target ? p->t0 : w->since)));
        w->reported = true;
        if (target && !p->stay) {
            p->done = true;
            stop(p, 0);
        }
    }
}

static void watch_peer(struct dpeer *p, const p2p_peerid *peer)
{
    for (size_t i = 0; i < p->nwatch; i++)
        if (p2p_peerid_equal(&p->watch[i].id, peer)) return;
    if (p->nwatch == DPEER_WATCH) return;
    p->watch[p->nwatch++] = (struct watched){ .id = *peer, .since = uv_now(&p->l.loop) };
}

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct dpeer *p = arg;
    char id[P2P_PEERID_STRMAX] = "?";
    if (ev->peer) p2p_peerid_to_string(ev->peer, id, sizeof id);
    switch (ev->type) {
    case P2P_EV_CONNECTED: {
        char ra[P2P_MADDR_STRMAX] = "?";
        p2p_maddr_to_string(p2p_conn_remote_addr(ev->conn), ra, sizeof ra);
        out("CONNECTED %s %s %s %s", id, ra, p2p_conn_direction(ev->conn) == P2P_OUTBOUND ? "outbound" : "inbound",
            p2p_conn_limited(ev->conn) ? "limited" : "direct");
        if (p2p_conn_limited(ev->conn) && ev->peer) watch_peer(p, ev->peer);
        break;
    }
    case P2P_EV_DISCONNECTED:
        out("DISCONNECTED %s %s", id, p2p_conn_limited(ev->conn) ? "limited" : "direct");
        break;
    case P2P_EV_ADDRS_CHANGED: {
        p2p_multiaddr a[32];
        size_t n = p2p_host_advertised_addrs(p->host, a, 32);
        struct p2p_maddr_component c;
        bool circuit = false;
        for (size_t i = 0; i < n && i < 32; i++) circuit |= p2p_maddr_find(&a[i], P2P_MA_P2P_CIRCUIT, &c) == 1;
        if (circuit && !p->reserved) out("RESERVED");
        p->reserved = circuit;
        break;
    }
    default:
        break;
    }
}

static void on_check(uv_timer_t *t)
{
    check_direct(t->data);
}

static void on_dialed(int status, p2p_conn *c, void *arg)
{
    struct dpeer *p = arg;
    if (status) {
        out("DIAL_FAILED %s", p2p_strerror(status));
        stop(p, 1);
        return;
    }
    out("DIALED %s", p2p_conn_limited(c) ? "limited" : "direct");
}

static void start_dial(uv_timer_t *t)
{
    struct dpeer *p = t->data;
    p->t0 = uv_now(&p->l.loop);
    int rc = p2p_host_connect(p->host, &p->target, &p->target_addr, 1, on_dialed, p);
    if (rc < 0) {
        out("DIAL_FAILED %s", p2p_strerror(rc));
        stop(p, 1);
        return;
    }
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
    fprintf(stderr, "usage: dcutr_peer -c FILE [--dial MULTIADDR/p2p/ID [--dial-delay SECONDS] [--stay]] [--timeout SECONDS]\n");
    return 64;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "dial", required_argument, NULL, 'd' },
        { "timeout", required_argument, NULL, 't' },
        { "dial-delay", required_argument, NULL, 'w' },
        { "stay", no_argument, NULL, 's' },
        { NULL, 0, NULL, 0 },
    };
    const char *file = NULL, *dial = NULL;
    double timeout = 0, delay = 0;
    int c;
    bool stay = false;
    while ((c = getopt_long(argc, argv, "c:d:t:w:", opts, NULL)) != -1) {
        switch (c) {
        case 'c': file = optarg; break;
        case 'd': dial = optarg; break;
        case 't': timeout = strtod(optarg, NULL); break;
        case 'w': delay = strtod(optarg, NULL); break;
        case 's': stay = true; break;
        default: return usage();
        }
    }
    if (!file || optind != argc || timeout < 0 || timeout > 1e6 || delay < 0 || delay > 1e6) return usage();

    struct dpeer p = { .exit_code = 0, .stay = stay };
    char err[1024];
    p2p_multiaddr target_addr = { 0 };
    if (dial) {
        if (p2p_maddr_parse(&target_addr, dial, err, sizeof err) < 0) {
            fprintf(stderr, "dcutr_peer: --dial: %s\n", err);
            return 64;
        }
        if (p2p_peerid_from_maddr(&p.target, &target_addr) < 0) {
            fprintf(stderr, "dcutr_peer: --dial needs an address ending in /p2p/<id>\n");
            return 64;
        }
        p.dialing = true;
    }
    cpeer_name = "dcutr_peer";
    if (!(p.host = cpeer_host_from_file(&p.l.loop, file))) return 78;
    p2p_host_subscribe(p.host, P2P_EV_CONNECTED | P2P_EV_DISCONNECTED | P2P_EV_ADDRS_CHANGED, on_event, &p);
    if (cpeer_host_start(p.host, &p.l.loop) < 0) return 1;
    cpeer_print_self(p.host);

    cpeer_handles_start(&p.l, timeout, on_deadline, on_signal, &p);
    uv_timer_init(&p.l.loop, &p.check);
    uv_timer_init(&p.l.loop, &p.delay);
    p.check.data = p.delay.data = &p;
    p.target_addr = target_addr;
    if (dial) uv_timer_start(&p.delay, start_dial, (uint64_t)(delay * 1000), 0);
    uv_timer_start(&p.check, on_check, 20, 20);
    uv_run(&p.l.loop, UV_RUN_DEFAULT);

    uv_close((uv_handle_t *)&p.check, NULL);
    uv_close((uv_handle_t *)&p.delay, NULL);
    cpeer_handles_close(&p.l, p.host);
    out("EXIT %d", p.exit_code);
    return p.exit_code;
}
