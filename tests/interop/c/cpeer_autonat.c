/* cpeer_autonat.c - `cpeer autonat`: AutoNAT v1 against the rust, go and
 * js test peers (tests/interop/check-autonat.sh).
 *
 *   cpeer autonat [--server] [--connect MADDR]... [--until-probed] [--port P] [--seed N] [--timeout S]
 *   cpeer autonat --ask MADDR [--port P] [--seed N] [--timeout S]
 *
 * The first form runs our autonat plugin (client always; server with
 * --server, dialing back loopback: allow = loopback), listens on
 * /ip4/127.0.0.1/tcp/P and connects to every --connect peer. It prints
 *
 *   PEERID <id> / LISTEN <addr>/p2p/<id> / CONNECTED <id> <addr> / DISCONNECTED <id>
 *   NAT_STATUS public <addr> | private | unknown [probed]   (each change of p2p_host_reachability)
 *
 * and with --connect exits 0 after DONE at the first public or private
 * status. With --until-probed it waits instead until the plugin has sent
 * a request and had every answer (a refusal included), prints
 *
 *   PROBES sent=N public=N private=N none=N   (the plugin's counters)
 *   NAT_STATUS ...
 *
 * and exits 0 after DONE. The second form asks the peer at MADDR by hand (a DIAL with our
 * listening address, encoded by autonat_msg.c) and prints its answer,
 *
 *   ANSWER <OK|E_DIAL_ERROR|E_DIAL_REFUSED|E_BAD_REQUEST|E_INTERNAL_ERROR|code> text=<statusText> addr=<addr>
 *
 * then exits 0 (1 when the answer is not a DIAL_RESPONSE); for servers
 * that refuse loopback clients (go-libp2p, js-libp2p), whose refusal
 * still shows that they decoded our request. Timeouts exit 2. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autonat.h"   /* the plugin's state, for its counters (white box) */
#include "autonat_msg.h"
#include "cpeer.h"
#include "p2p/p2p.h"

#define AN_MAX_CONNECT 8

struct an {
    p2p_host *host;
    struct cpeer_loop l;             /* loop, deadline, signals */
    uv_timer_t poll;
    int exit_code;
    bool ask, exit_on_status, until_probed;
    p2p_peerid ids[AN_MAX_CONNECT];
    p2p_multiaddr addrs[AN_MAX_CONNECT];
    size_t nconnect;
    p2p_stream *s;
    p2p_buf in;
};

static void an_finish(struct an *a, int code)
{
    if (a->exit_code < 0) a->exit_code = code;
    uv_stop(&a->l.loop);
}

static void print_status(struct an *a)
{
    struct p2p_reachability_info ri = P2P_REACHABILITY_INFO_INIT;
    enum p2p_reachability r = p2p_host_reachability(a->host, &ri);
    char addr[P2P_MADDR_STRMAX] = "";
    if (r == P2P_REACH_PUBLIC && ri.addr.len) p2p_maddr_to_string(&ri.addr, addr, sizeof addr);
    if (r == P2P_REACH_PUBLIC) out("NAT_STATUS public %s", addr);
    else if (r == P2P_REACH_PRIVATE) out("NAT_STATUS private");
    else out("NAT_STATUS unknown%s", ri.probed ? " probed" : "");
    if (a->exit_on_status && !a->until_probed && r != P2P_REACH_UNKNOWN) {
        out("DONE");
        an_finish(a, 0);
    }
}

/* ---- --ask: one request by hand ------------------------------------------------ */

static void ask_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    struct an *a = arg;
    size_t room = a->in.limit - a->in.len, hdr, body;
    if (p2p_buf_append(&a->in, data, len < room ? len : room) < 0) return an_finish(a, 1);
    int rc = p2p_varint_frame(p2p_buf_head(&a->in), a->in.len, AUTONAT_MSG_MAX, &hdr, &body);
    if (rc == P2P_ETRUNC) return;
    struct autonat_msg *m = malloc(sizeof *m);
    if (rc == 0 && m) rc = autonat_msg_decode(m, p2p_buf_head(&a->in) + hdr, body);
    if (rc < 0 || !m || m->type != AUTONAT_DIAL_RESPONSE || !m->has_response) {
        out("FAIL not a DIAL_RESPONSE (%s)", rc < 0 ? p2p_strerror(rc) : "other message");
        free(m);
        return an_finish(a, 1);
    }
    char as[P2P_MADDR_STRMAX] = "";
    if (m->has_addr) p2p_maddr_to_string(&m->addr, as, sizeof as);
    const char *name = autonat_status_name(m->status);
    char code[16];
    snprintf(code, sizeof code, "%u", m->status);
    out("ANSWER %s text=%s addr=%s", strcmp(name, "unknown status") ? name : code, m->text, as);
    free(m);
    an_finish(a, 0);
}

static void ask_end(p2p_stream *s, void *arg)
{
    (void)s;
    out("FAIL the stream ended without an answer");
    an_finish(arg, 1);
}

static void ask_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    out("FAIL stream error: %s", p2p_strerror(err));
    an_finish(arg, 1);
}

static const struct p2p_stream_handlers ask_handlers = { ask_read, ask_end, ask_error, NULL };

static void ask_opened(int status, p2p_stream *s, void *arg)
{
    struct an *a = arg;
    if (status) {
        out("FAIL open %s: %s", AUTONAT_PROTOCOL, p2p_strerror(status));
        return an_finish(a, 1);
    }
    a->s = s;
    p2p_multiaddr own[4];
    size_t n = p2p_host_listen_addrs(a->host, own, 4);
    uint8_t frame[AUTONAT_SEND_FRAME_MAX];
    int len = autonat_encode_dial(p2p_host_peerid(a->host), own, n < 4 ? n : 4, frame, sizeof frame, NULL);
    if (len < 0 || p2p_stream_write(s, frame, (size_t)len) < 0) {
        out("FAIL cannot send the request");
        return an_finish(a, 1);
    }
    p2p_stream_shutdown(s);
    p2p_buf_init(&a->in, AUTONAT_FRAME_MAX);
    p2p_stream_set_handlers(s, &ask_handlers, a);
    p2p_stream_read_start(s);
}

/* ---- events ---------------------------------------------------------------------- */

static void an_on_event(const struct p2p_event *ev, void *arg)
{
    struct an *a = arg;
    char id[P2P_PEERID_STRMAX] = "", ra[P2P_MADDR_STRMAX];
    if (ev->peer) p2p_peerid_to_string(ev->peer, id, sizeof id);
    switch (ev->type) {
    case P2P_EV_CONNECTED:
        if (p2p_maddr_to_string(p2p_conn_remote_addr(ev->conn), ra, sizeof ra) < 0) strcpy(ra, "?");
        out("CONNECTED %s %s", id, ra);
        break;
    case P2P_EV_DISCONNECTED:
        out("DISCONNECTED %s", id);
        break;
    case P2P_EV_IDENTIFIED:
        /* --ask: identify first, as a server may want it (js). */
        if (a->ask && !a->s && ev->peer && p2p_peerid_equal(ev->peer, &a->ids[0])) {
            static const char *const protos[] = { AUTONAT_PROTOCOL, NULL };
            int rc = p2p_conn_open_stream(ev->conn, protos, ask_opened, a);
            if (rc < 0) {
                out("FAIL open: %s", p2p_strerror(rc));
                an_finish(a, 1);
            }
            a->s = (p2p_stream *)1;   /* asked; the real stream comes in ask_opened */
        }
        break;
    case P2P_EV_REACHABILITY_CHANGED:
        if (!a->ask) print_status(a);
        break;
    default:
        break;
    }
}

static void an_on_connected(int status, p2p_conn *c, void *arg)
{
    (void)c;
    if (status) {
        out("FAIL connect: %s", p2p_strerror(status));
        an_finish(arg, 1);
    }
}

/* --until-probed: every request answered (or timed out) at least once. */
static void an_on_poll(uv_timer_t *t)
{
    struct an *a = t->data;
    const struct autonat_st *st = p2p_host_plugin_state(a->host, "autonat");
    if (!st) return;
    const struct autonat_stats *s = &st->stats;
    uint64_t answered = s->said_public + s->said_private + s->said_nothing;
    if (!s->probes || answered < s->probes) return;
    out("PROBES sent=%llu public=%llu private=%llu none=%llu", (unsigned long long)s->probes,
        (unsigned long long)s->said_public, (unsigned long long)s->said_private, (unsigned long long)s->said_nothing);
    print_status(a);
    out("DONE");
    an_finish(a, 0);
}

static void an_on_deadline(uv_timer_t *t)
{
    out("TIMEOUT");
    an_finish(t->data, 2);
}

static void an_on_signal(uv_signal_t *s, int sig)
{
    (void)sig;
    an_finish(s->data, 0);
}

int autonat_main(int argc, char **argv)
{
    static struct an a;
    a.exit_code = -1;
    long seed = -1, port = 0;
    double timeout = 30;
    bool server = false;
    static const struct option opts[] = {
        { "server", no_argument, NULL, 'S' }, { "connect", required_argument, NULL, 'c' },
        { "ask", required_argument, NULL, 'a' }, { "port", required_argument, NULL, 'p' },
        { "seed", required_argument, NULL, 's' }, { "timeout", required_argument, NULL, 't' },
        { "until-probed", no_argument, NULL, 'u' }, { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'S': server = true; break;
        case 'u': a.until_probed = true; break;
        case 'a': a.ask = true; /* fall through */
        case 'c': {
            char why[256];
            struct p2p_maddr_component comp;
            if (a.nconnect == AN_MAX_CONNECT || p2p_maddr_parse(&a.addrs[a.nconnect], optarg, why, sizeof why) != 0 ||
                !p2p_maddr_find(&a.addrs[a.nconnect], P2P_MA_P2P, &comp) ||
                p2p_peerid_from_bytes(&a.ids[a.nconnect], comp.value, comp.value_len) != 0) {
                fprintf(stderr, "cpeer: %s: needs a multiaddr with /p2p/ (at most %d)\n", optarg, AN_MAX_CONNECT);
                return 64;
            }
            a.nconnect++;
            break;
        }
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 's': seed = strtol(optarg, NULL, 10); break;
        case 't': timeout = strtod(optarg, NULL); break;
        default: return 64;
        }
    }
    if (optind != argc || !(timeout > 0 && timeout < 1e6) || port < 0 || port > 65535 || seed > 255 ||
        (a.ask && (a.nconnect != 1 || server))) {
        fprintf(stderr, "usage: cpeer autonat [--server] [--connect MADDR]... [--until-probed] [--port P] [--seed N]"
                        " [--timeout S]\n"
                        "       cpeer autonat --ask MADDR [--port P] [--seed N] [--timeout S]\n");
        return 64;
    }
    a.exit_on_status = !a.ask && a.nconnect > 0;

    char listen[64];
    snprintf(listen, sizeof listen, "/ip4/127.0.0.1/tcp/%ld", port);
    a.host = cpeer_host_new(&a.l.loop, seed, listen,
                            a.ask ? ""
                            : server ? "[plugin autonat]\nserver = true\nallow = loopback\nboot_delay = 500ms\n"
                                       "retry_interval = 2s\nserver_throttle = 1s\n"
                                     : "[plugin autonat]\nboot_delay = 500ms\nretry_interval = 2s\nserver_throttle = 1s\n");
    if (!a.host) return 1;
    p2p_host_subscribe(a.host,
                       P2P_EV_CONNECTED | P2P_EV_DISCONNECTED | P2P_EV_IDENTIFIED | P2P_EV_REACHABILITY_CHANGED,
                       an_on_event, &a);
    if (cpeer_host_start(a.host, &a.l.loop) < 0) return 1;
    cpeer_print_self(a.host);
    cpeer_handles_start(&a.l, timeout, an_on_deadline, an_on_signal, &a);
    uv_timer_init(&a.l.loop, &a.poll);
    a.poll.data = &a;
    if (a.until_probed) uv_timer_start(&a.poll, an_on_poll, 100, 100);
    for (size_t i = 0; i < a.nconnect && a.exit_code < 0; i++) {
        int rc = p2p_host_connect(a.host, &a.ids[i], &a.addrs[i], 1, an_on_connected, &a);
        if (rc < 0) {
            out("FAIL connect: %s", p2p_strerror(rc));
            a.exit_code = 1;
        }
    }
    if (a.exit_code < 0) uv_run(&a.l.loop, UV_RUN_DEFAULT);
    if (a.s && a.s != (p2p_stream *)1) p2p_stream_close(a.s);
    p2p_buf_free(&a.in);
    uv_close((uv_handle_t *)&a.poll, NULL);
    cpeer_handles_close(&a.l, a.host);
    return a.exit_code < 0 ? 0 : a.exit_code;
}
