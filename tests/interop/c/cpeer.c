/* cpeer.c - our side of the interop tests: the same command-line contract
 * as the rust-libp2p, go-libp2p and js-libp2p test peers (see
 * tests/interop/README.md), built on libp2pcore and the real plugins.
 *
 *   cpeer listen [--seed N] [--port P] [--ip6]
 *   cpeer dial MULTIADDR [--streams K] [--bytes B] [--pings N] [--seed N] [--timeout S] [--slow]
 *              [--at-once]
 *   cpeer pubsub --topic T [--port P] [--seed N] [--connect MADDR]... [--publish-every MS] [--count N]
 *                [--expect K] [--timeout S] [--start-file PATH] [--bad-signature]
 *   cpeer kad ...   (the DHT: cpeer_kad.c)
 *   cpeer relay [--seed N] [--port P] [--ip6]                 circuit relay v2 server
 *   cpeer relay-listen --relay MADDR [--seed N] [--port P]     listen, and through the relay
 *   cpeer relay-dial CIRCUIT-MADDR [dial options]             dial through a relay
 *
 * The relay modes are listen and dial with the relay plugin (see
 * tests/interop/README.md, "Circuit relay"); relay-listen prints RESERVED
 * <circuit address> once the relay accepted our reservation.
 *
 * Every event is one line on stdout, flushed at once. The pubsub
 * subcommand (gossipsub through the pubsub service) is at the end of the
 * file. */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpeer.h"
#include "echo.h"
#include "p2p/identify.h"
#include "p2p/p2p.h"
#include "p2p/ping.h"
#include "p2p/pubsub.h"

/* dial --slow: each echo stream stops reading for SLOW_PAUSE_MS after every
 * SLOW_EVERY bytes received (the contract's slow reader). */
#define SLOW_EVERY (512u * 1024u)
#define SLOW_PAUSE_MS 20u

struct cpeer {
    p2p_host *host;
    struct cpeer_loop l;            /* loop, deadline, signals */
    bool dialer, slow;
    bool at_once;   /* dial --at-once: the echo streams as soon as connected */
    bool reserved;                  /* relay-listen: RESERVED printed */
    p2p_peerid target;
    p2p_multiaddr target_addr;
    unsigned streams, pings, pings_done;
    size_t bytes;
    unsigned echo_done, echo_failed;
    struct echo_client *clients;
    p2p_conn *conn;
    int exit_code;
    const char *pending;
};

/* The dialer's last lines after full success. */
static void print_done(void)
{
    out("RSS_MAX_KIB %lu", rss_max_kib());
    out("DONE");
}

static void finish(struct cpeer *p, int code)
{
    p->exit_code = code;
    uv_stop(&p->l.loop);
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
    case P2P_EV_ADDRS_CHANGED: {
        /* relay-listen: our first circuit address (the relay plugin
         * advertises it while the reservation lasts) */
        p2p_multiaddr a[32];
        size_t n = p2p_host_advertised_addrs(p->host, a, 32);
        struct p2p_maddr_component comp;
        for (size_t i = 0; i < n && i < 32 && !p->reserved; i++) {
            if (p2p_maddr_find(&a[i], P2P_MA_P2P_CIRCUIT, &comp) != 1) continue;
            const p2p_peerid *me = p2p_host_peerid(p->host);
            p2p_maddr_push(&a[i], P2P_MA_P2P, me->bytes, me->len);
            if (p2p_maddr_to_string(&a[i], ra, sizeof ra) < 0) continue;
            out("RESERVED %s", ra);
            p->reserved = true;
        }
        break;
    }
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
    /* --at-once: the streams go with the connection, before anything
     * came back (a muxer must not let that many surprise the peer). */
    if (p->at_once) return start_echo(p);
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
                    " [--slow] [--at-once]\n"
                    "       cpeer pubsub --topic T [--port P] [--seed N] [--connect MADDR]... [--publish-every MS]"
                    " [--count N] [--expect K] [--timeout S] [--start-file PATH] [--bad-signature]\n"
                    "       cpeer kad ... (see cpeer_kad.c)\n"
                    "       cpeer relay [--seed N] [--port P] [--ip6]\n"
                    "       cpeer relay-listen --relay MADDR [--seed N] [--port P]\n"
                    "       cpeer relay-dial CIRCUIT-MADDR [dial options]\n"
                    "       cpeer autonat [--server] [--connect MADDR]... [--ask MADDR] [--port P] [--seed N]"
                    " [--timeout S]\n");
    return 64;
}

static int pubsub_main(int argc, char **argv);

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    struct cpeer p = { .streams = 8, .bytes = 65536, .pings = 3, .exit_code = -1 };
    const char *mode = argv[1];
    if (!strcmp(mode, "pubsub")) return pubsub_main(argc, argv);
    if (!strcmp(mode, "kad")) return kad_main(argc, argv);
    if (!strcmp(mode, "autonat")) return autonat_main(argc, argv);
    long seed = -1, port = 0;
    double timeout = 30;
    bool ip6 = false;
    const char *addr = NULL, *relay = NULL;
    /* relay: a relay server; relay-listen: also reachable through --relay;
     * relay-dial: the target is a /p2p-circuit address */
    bool server = !strcmp(mode, "relay"), relay_listen = !strcmp(mode, "relay-listen");
    p.dialer = !strcmp(mode, "dial") || !strcmp(mode, "relay-dial");
    if (!p.dialer && !server && !relay_listen && strcmp(mode, "listen")) return usage();
    static const struct option opts[] = {
        { "seed", required_argument, NULL, 's' }, { "port", required_argument, NULL, 'p' },
        { "streams", required_argument, NULL, 'k' }, { "bytes", required_argument, NULL, 'b' },
        { "pings", required_argument, NULL, 'n' }, { "timeout", required_argument, NULL, 't' },
        { "ip6", no_argument, NULL, '6' }, { "slow", no_argument, NULL, 'w' },
        { "relay", required_argument, NULL, 'r' }, { "at-once", no_argument, NULL, 'o' },
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
        case 'o': p.at_once = true; break;
        case 'r': relay = optarg; break;
        default: return usage();
        }
    }
    if (!(timeout > 0 && timeout < 1e6) || (p.dialer && ip6) || (!p.dialer && (p.slow || p.at_once)) ||
        (!relay != !relay_listen))
        return usage();
    if (p.dialer) {
        if (optind >= argc) return usage();
        addr = argv[optind];
        char why[256];
        if (p2p_maddr_parse(&p.target_addr, addr, why, sizeof why) != 0) {
            fprintf(stderr, "cpeer: bad multiaddr %s: %s\n", addr, why);
            return 64;
        }
        if (p2p_peerid_from_maddr(&p.target, &p.target_addr) != 0) {
            fprintf(stderr, "cpeer: the address needs a /p2p/ part\n");
            return 64;
        }
    }

    /* The listener listens on loopback only (relay-listen: and on
     * /p2p-circuit through --relay); the dialer does not listen. */
    char listen[64] = "", relay_ini[1024] = "";
    if (!p.dialer)
        snprintf(listen, sizeof listen, "%s/tcp/%ld%s", ip6 ? "/ip6/::1" : "/ip4/127.0.0.1", port,
                 relay_listen ? ", /p2p-circuit" : "");
    /* The relay plugin only where it is used: the other modes' identify
     * lists no relay protocol. Its reservation and circuit lines (limits
     * included) are logged at info level. */
    if (server) snprintf(relay_ini, sizeof relay_ini, "[plugin relay]\nserver = true\nclient = false\n");
    else if (relay_listen) snprintf(relay_ini, sizeof relay_ini, "[plugin relay]\nrelays = %s\n", relay);
    else if (strstr(mode, "relay")) snprintf(relay_ini, sizeof relay_ini, "[plugin relay]\n");
    if (strlen(relay_ini) >= sizeof relay_ini - 1) {
        fprintf(stderr, "cpeer: --relay address too long\n");
        return 64;
    }
    if (relay_ini[0]) setenv("P2P_LOG", "warn,relay=info", 0);   /* unless set */
    if (!(p.host = cpeer_host_new(&p.l.loop, seed, listen, relay_ini))) return 1;
    echo_serve(p.host);
    p2p_host_subscribe(p.host, P2P_EV_CONNECTED | P2P_EV_DISCONNECTED | P2P_EV_IDENTIFIED | P2P_EV_ADDRS_CHANGED,
                       on_event, &p);
    if (cpeer_host_start(p.host, &p.l.loop) < 0) return 1;
    cpeer_print_self(p.host);

    /* The dialer has a deadline; the listener runs until a signal. */
    cpeer_handles_start(&p.l, p.dialer ? timeout : 0, on_deadline, on_signal, &p);
    if (p.dialer) {
        p.pending = "connect";
        int rc = p2p_host_connect(p.host, &p.target, &p.target_addr, 1, on_connected, &p);
        if (rc < 0) {
            out("FAIL connect: %s", p2p_strerror(rc));
            p.exit_code = 1;
        }
    }
    if (p.exit_code < 0) uv_run(&p.l.loop, UV_RUN_DEFAULT);
    cpeer_handles_close(&p.l, p.host);
    free(p.clients);
    return p.exit_code < 0 ? 0 : p.exit_code;
}

/* ---- pubsub ----------------------------------------------------------
 *
 * cpeer pubsub --topic T [--port P] [--seed N] [--connect MADDR]...
 *              [--publish-every MS] [--count N] [--expect K] [--timeout S]
 *              [--start-file PATH] [--bad-signature]
 *
 * Listens on /ip4/127.0.0.1/tcp/P, dials every --connect address, joins T
 * through the pubsub service ([plugin gossipsub], library defaults:
 * strict-sign), waits until its mesh for T has a peer (and PATH exists,
 * with --start-file), publishes N messages "c-<last 6 characters of the
 * PeerId>-<i>" (i = 1..N) every MS milliseconds, prints RECV for every
 * message delivered to it and DONE once everything is published and K
 * distinct messages from others arrived.
 * After DONE it keeps serving (forwarding) until SIGTERM/SIGINT or the
 * timeout (then exit 0); at the timeout before DONE it prints TIMEOUT and
 * exits 2.
 *
 * --bad-signature: the forger. No gossipsub plugin: it speaks
 * /meshsub/1.1.0 itself on raw streams (protobuf written by hand), to every
 * peer it is connected to (it starts once it has a stream to every
 * --connect peer): it subscribes to T, then per round i sends
 *   - "bad-samesid-..." first (FORGED samesid): a forged message with the
 *     same from and seqno as the genuine message that follows (same message
 *     id), carrying the genuine message's signature over other data;
 *   - the genuine message "c-<suffix>-<i>", correctly signed (PUBLISHED);
 *   - "bad-<kind>-<suffix>-<i>" for each kind (FORGED <kind> <text>):
 *     a signature with one bit flipped, a signature by another key, no
 *     signature, data changed after signing, a key field of another key
 *     (signed by that key), a 32-byte signature, and an anonymous message
 *     (no from, seqno or signature).
 * A receiver in strict-sign mode must deliver every genuine message and no
 * forged one. */

#define PS_MAX_CONNECT 16
#define PS_MAX_STREAMS 16
#define PS_MESHSUB "/meshsub/1.1.0"
#define PS_TICK_MS 20

struct ps {
    p2p_host *host;
    struct cpeer_loop l;         /* loop, deadline, signals */
    const struct p2p_pubsub_api_v1 *api;
    void *st;
    p2p_pubsub_sub *sub;
    void *listener;
    const char *topic;
    const char *start_file;      /* publish only once it exists */
    p2p_peerid mesh[64];         /* our mesh for topic, as last seen (MESH lines) */
    size_t nmesh;
    unsigned count, expect, published, received;
    uint64_t every_ms, next_pub_ms;
    char suffix[8];
    bool forge, done;
    int exit_code;
    p2p_timer *tick;
    char **seen;                 /* "author text" of distinct messages from others */
    size_t nseen, capseen;
    size_t nconnect;
    p2p_multiaddr addrs[PS_MAX_CONNECT];
    p2p_peerid ids[PS_MAX_CONNECT];
    /* the forger */
    p2p_stream *streams[PS_MAX_STREAMS];   /* ours, written to */
    size_t nstreams;
    p2p_stream *inbound[PS_MAX_STREAMS];   /* the peers', drained */
    size_t ninbound;
    p2p_keypair other;
    uint64_t seqno;
};

static void ps_finish(struct ps *p, int code)
{
    if (p->exit_code < 0) p->exit_code = code;
    uv_stop(&p->l.loop);
}

static void ps_id(const p2p_peerid *id, char out[P2P_PEERID_STRMAX])
{
    if (p2p_peerid_to_string(id, out, P2P_PEERID_STRMAX) < 0) strcpy(out, "?");
}

static void ps_check_done(struct ps *p)
{
    if (p->done || p->published < p->count || p->received < p->expect) return;
    p->done = true;
    out("DONE");
}

static void ps_on_message(const struct p2p_pubsub_msg *m, void *arg)
{
    struct ps *p = arg;
    char author[P2P_PEERID_STRMAX] = "anonymous", text[1024];
    if (m->author) ps_id(m->author, author);
    size_t n = 0;
    for (size_t i = 0; i < m->len && n + 1 < sizeof text; i++) {
        uint8_t ch = m->data[i];
        text[n++] = (ch <= 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    text[n] = 0;
    out("RECV %s %s", author, text);
    if (m->author && p2p_peerid_equal(m->author, p2p_host_peerid(p->host))) return;
    char key[P2P_PEERID_STRMAX + sizeof text + 1];
    snprintf(key, sizeof key, "%s %s", author, text);
    for (size_t i = 0; i < p->nseen; i++)
        if (!strcmp(p->seen[i], key)) return;
    if (p->nseen == p->capseen) {
        size_t cap = p->capseen ? 2 * p->capseen : 64;
        char **s = realloc(p->seen, cap * sizeof *s);
        if (!s) return;
        p->seen = s;
        p->capseen = cap;
    }
    if (!(p->seen[p->nseen] = strdup(key))) return;
    p->nseen++;
    p->received++;
    ps_check_done(p);
}

static void ps_on_peer(const char *topic, const p2p_peerid *peer, bool subscribed, void *arg)
{
    struct ps *p = arg;
    if (strcmp(topic, p->topic)) return;
    char id[P2P_PEERID_STRMAX];
    ps_id(peer, id);
    out("%s %s", subscribed ? "SUBSCRIBED" : "UNSUBSCRIBED", id);
}

/* -- the forger's protobuf (gossipsub rpc.proto) -- */

struct pb {
    uint8_t b[4096];
    size_t n;
};

static void pb_varint(struct pb *b, uint64_t v)
{
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        if (b->n < sizeof b->b) b->b[b->n++] = c | (v ? 0x80 : 0);
    } while (v);
}

static void pb_bytes(struct pb *b, unsigned field, const void *data, size_t len)
{
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, len);
    if (b->n + len <= sizeof b->b) {
        memcpy(b->b + b->n, data, len);
        b->n += len;
    }
}

/* Message { from = 1; data = 2; seqno = 3; topic = 4; signature = 5; key = 6 } */
struct forged {
    const p2p_peerid *from;      /* NULL: absent */
    const char *data;
    const uint8_t *seqno;        /* 8 bytes or NULL */
    const uint8_t *sig;
    size_t siglen;
    const uint8_t *key;
    size_t keylen;
};

static void pb_message(struct pb *b, const char *topic, const struct forged *f, bool with_sig)
{
    if (f->from) pb_bytes(b, 1, f->from->bytes, f->from->len);
    pb_bytes(b, 2, f->data, strlen(f->data));
    if (f->seqno) pb_bytes(b, 3, f->seqno, 8);
    pb_bytes(b, 4, topic, strlen(topic));
    if (with_sig && f->sig) pb_bytes(b, 5, f->sig, f->siglen);
    if (with_sig && f->key) pb_bytes(b, 6, f->key, f->keylen);
}

/* The signature of the pubsub spec: over "libp2p-pubsub:" followed by the
 * Message without signature and key. */
static void ps_sign(const struct ps *p, const p2p_keypair *kp, const struct forged *f, uint8_t sig[64])
{
    struct pb b = { .n = 0 };
    memcpy(b.b, "libp2p-pubsub:", 14);
    b.n = 14;
    pb_message(&b, p->topic, f, false);
    p2p_keypair_sign(kp, b.b, b.n, sig);
}

/* Send one RPC frame (uvarint length prefix) to every peer. */
static void ps_send_rpc(struct ps *p, const struct pb *rpc)
{
    struct pb frame = { .n = 0 };
    pb_varint(&frame, rpc->n);
    memcpy(frame.b + frame.n, rpc->b, rpc->n);
    frame.n += rpc->n;
    for (size_t i = 0; i < p->nstreams; i++)
        if (p2p_stream_write(p->streams[i], frame.b, frame.n) < 0) out("ERROR forger write failed");
}

static void ps_send_msg(struct ps *p, const struct forged *f)
{
    struct pb msg = { .n = 0 }, rpc = { .n = 0 };
    pb_message(&msg, p->topic, f, true);
    pb_bytes(&rpc, 2, msg.b, msg.n);
    ps_send_rpc(p, &rpc);
}

static void ps_next_seqno(struct ps *p, uint8_t out8[8])
{
    uint64_t s = ++p->seqno;
    for (int i = 7; i >= 0; i--, s >>= 8) out8[i] = (uint8_t)s;
}

/* One round of the forger: see the comment at the top of this part. */
static void ps_forge_round(struct ps *p, unsigned i)
{
    const p2p_keypair *me = p2p_host_keypair(p->host);
    const p2p_peerid *self = p2p_host_peerid(p->host);
    char text[128], bad[128];
    uint8_t seq[8], sig[64], osig[64], okey[P2P_PUBKEY_PB_MAX];
    p2p_pubkey opub;
    p2p_keypair_public(&p->other, &opub);
    int okeylen = p2p_pubkey_encode(&opub, okey, sizeof okey);

    /* the forged twin first, then the genuine message (same id) */
    snprintf(text, sizeof text, "c-%s-%u", p->suffix, i);
    ps_next_seqno(p, seq);
    struct forged genuine = { .from = self, .data = text, .seqno = seq };
    ps_sign(p, me, &genuine, sig);
    genuine.sig = sig;
    genuine.siglen = 64;
    snprintf(bad, sizeof bad, "bad-samesid-%s-%u", p->suffix, i);
    struct forged twin = genuine;
    twin.data = bad;
    ps_send_msg(p, &twin);
    out("FORGED samesid %s", bad);
    ps_send_msg(p, &genuine);
    out("PUBLISHED %s", text);

    static const char *const kinds[] = { "flipped", "otherkey", "unsigned", "tampered", "keyfield", "shortsig",
                                         "anonymous" };
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        snprintf(bad, sizeof bad, "bad-%s-%s-%u", kinds[k], p->suffix, i);
        uint8_t s8[8];
        ps_next_seqno(p, s8);
        struct forged f = { .from = self, .data = bad, .seqno = s8 };
        switch (k) {
        case 0: /* flipped: a valid signature with one bit changed */
            ps_sign(p, me, &f, osig);
            osig[17] ^= 0x04;
            f.sig = osig, f.siglen = 64;
            break;
        case 1: /* otherkey: signed by a key that is not from's */
            ps_sign(p, &p->other, &f, osig);
            f.sig = osig, f.siglen = 64;
            break;
        case 2: /* unsigned: from and seqno, no signature */
            break;
        case 3: { /* tampered: signed, then the data changed */
            struct forged g = f;
            char orig[128];
            snprintf(orig, sizeof orig, "c-%s-%u-original", p->suffix, i);
            g.data = orig;
            ps_sign(p, me, &g, osig);
            f.sig = osig, f.siglen = 64;
            break;
        }
        case 4: /* keyfield: key of another key pair, signed by it, from = us */
            ps_sign(p, &p->other, &f, osig);
            f.sig = osig, f.siglen = 64;
            if (okeylen > 0) f.key = okey, f.keylen = (size_t)okeylen;
            break;
        case 5: /* shortsig: the first 32 bytes of a valid signature */
            ps_sign(p, me, &f, osig);
            f.sig = osig, f.siglen = 32;
            break;
        case 6: /* anonymous: no from, no seqno, no signature */
            f.from = NULL;
            f.seqno = NULL;
            break;
        }
        ps_send_msg(p, &f);
        out("FORGED %s %s", kinds[k], bad);
    }
}

static void ps_forge_on_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s, (void)data, (void)len, (void)arg; /* what the victims send us is not looked at */
}

static void ps_forge_drop(struct ps *p, p2p_stream *s)
{
    for (size_t i = 0; i < p->nstreams; i++)
        if (p->streams[i] == s) p->streams[i] = p->streams[--p->nstreams];
    for (size_t i = 0; i < p->ninbound; i++)
        if (p->inbound[i] == s) p->inbound[i] = p->inbound[--p->ninbound];
}

static void ps_forge_on_eof(p2p_stream *s, void *arg)
{
    struct ps *p = arg;
    ps_forge_drop(p, s);
    p2p_stream_close(s);
}

static void ps_forge_on_error(p2p_stream *s, int err, void *arg)
{
    (void)err;
    ps_forge_on_eof(s, arg);
}

static const struct p2p_stream_handlers ps_forge_handlers = {
    .on_read = ps_forge_on_read, .on_eof = ps_forge_on_eof, .on_error = ps_forge_on_error,
};

/* Inbound /meshsub/1.1.0 streams (the victims' sending side): drained. */
static void ps_forge_inbound(p2p_stream *s, const char *protocol_id, void *arg)
{
    (void)protocol_id;
    struct ps *p = arg;
    if (p->ninbound == PS_MAX_STREAMS) {
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    p->inbound[p->ninbound++] = s;
    p2p_stream_set_handlers(s, &ps_forge_handlers, p);
    p2p_stream_read_start(s);
}

static void ps_forge_opened(int status, p2p_stream *s, void *arg)
{
    struct ps *p = arg;
    if (status) {
        out("ERROR forger cannot open %s: %s", PS_MESHSUB, p2p_strerror(status));
        return;
    }
    if (p->nstreams == PS_MAX_STREAMS) {
        p2p_stream_close(s);
        return;
    }
    p->streams[p->nstreams++] = s;
    p2p_stream_set_handlers(s, &ps_forge_handlers, p);
    p2p_stream_read_start(s);
    /* RPC { subscriptions = 1: SubOpts { subscribe = 1: true, topicid = 2 } } */
    struct pb sub = { .n = 0 }, rpc = { .n = 0 };
    pb_varint(&sub, 1 << 3 | 0);
    pb_varint(&sub, 1);
    pb_bytes(&sub, 2, p->topic, strlen(p->topic));
    pb_bytes(&rpc, 1, sub.b, sub.n);
    struct pb frame = { .n = 0 };
    pb_varint(&frame, rpc.n);
    memcpy(frame.b + frame.n, rpc.b, rpc.n);
    frame.n += rpc.n;
    p2p_stream_write(s, frame.b, frame.n);
}

static void ps_on_event(const struct p2p_event *ev, void *arg)
{
    struct ps *p = arg;
    char id[P2P_PEERID_STRMAX], ra[P2P_MADDR_STRMAX];
    if (ev->peer) ps_id(ev->peer, id);
    switch (ev->type) {
    case P2P_EV_CONNECTED:
        if (p2p_maddr_to_string(p2p_conn_remote_addr(ev->conn), ra, sizeof ra) < 0) strcpy(ra, "?");
        out("CONNECTED %s %s", id, ra);
        if (p->forge) {
            static const char *const protos[] = { PS_MESHSUB, NULL };
            int rc = p2p_conn_open_stream(ev->conn, protos, ps_forge_opened, p);
            if (rc < 0) out("ERROR forger cannot open %s: %s", PS_MESHSUB, p2p_strerror(rc));
        }
        break;
    case P2P_EV_DISCONNECTED:
        out("DISCONNECTED %s", id);
        break;
    default:
        break;
    }
}

static void ps_on_connected(int status, p2p_conn *c, void *arg)
{
    (void)c;
    struct ps *p = arg;
    if (status) {
        out("ERROR connect: %s", p2p_strerror(status));
        ps_finish(p, 1);
    }
}

static const char *ps_pending(struct ps *p, char *buf, size_t cap)
{
    if (p->published < p->count) {
        if (!p->published) return p->forge ? "stream" : p->nmesh ? "start file" : "mesh peer";
        snprintf(buf, cap, "publish (%u/%u done)", p->published, p->count);
    } else {
        snprintf(buf, cap, "receive (%u/%u)", p->received, p->expect);
    }
    return buf;
}

/* Print MESH for every peer that entered our mesh since the last look. */
static void ps_watch_mesh(struct ps *p)
{
    p2p_peerid now[64];
    size_t n = p->api->mesh_peers(p->st, p->topic, now, 64);
    if (n > 64) n = 64;
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (size_t j = 0; j < p->nmesh && !known; j++) known = p2p_peerid_equal(&now[i], &p->mesh[j]);
        if (known) continue;
        char id[P2P_PEERID_STRMAX];
        ps_id(&now[i], id);
        out("MESH %s", id);
    }
    memcpy(p->mesh, now, n * sizeof *now);
    p->nmesh = n;
}

static void ps_on_tick(p2p_timer *t, void *arg)
{
    (void)t;
    struct ps *p = arg;
    if (!p->forge) ps_watch_mesh(p);
    if (p->published >= p->count) return;
    uint64_t now = p2p_host_now_ms(p->host);
    if (now < p->next_pub_ms) return;
    if (!p->published && p->start_file && access(p->start_file, F_OK) != 0) return;
    if (p->forge) {
        /* a stream to every --connect peer (or to one peer that dialed us) */
        if (!p->nstreams || (!p->published && p->nstreams < p->nconnect)) return;
        ps_forge_round(p, p->published + 1);
    } else {
        if (!p->published && !p->nmesh) return;
        char text[64];
        snprintf(text, sizeof text, "c-%s-%u", p->suffix, p->published + 1);
        int rc = p->api->publish(p->st, p->topic, (const uint8_t *)text, strlen(text));
        if (rc == P2P_EAGAIN || rc == P2P_ENOTFOUND) {
            out("PUBLISH_RETRY %s %s", text, p2p_strerror(rc));
            p->next_pub_ms = now + p->every_ms;
            return;
        }
        if (rc < 0) {
            out("ERROR publish %s: %s", text, p2p_strerror(rc));
            return ps_finish(p, 1);
        }
        out("PUBLISHED %s", text);
    }
    p->published++;
    p->next_pub_ms = now + p->every_ms;
    ps_check_done(p);
}

static void ps_on_deadline(uv_timer_t *t)
{
    struct ps *p = t->data;
    char buf[64];
    if (p->done) return ps_finish(p, 0);
    out("TIMEOUT %s", ps_pending(p, buf, sizeof buf));
    ps_finish(p, 2);
}

static void ps_on_signal(uv_signal_t *s, int sig)
{
    (void)sig;
    out("RSS_MAX_KIB %lu", rss_max_kib());
    ps_finish(s->data, 0);
}

static int pubsub_main(int argc, char **argv)
{
    static struct ps p; /* large (addresses); one per process */
    p.exit_code = -1;
    p.count = 5;
    p.every_ms = 200;
    long seed = -1, port = 0;
    double timeout = 30;
    static const struct option opts[] = {
        { "topic", required_argument, NULL, 'T' }, { "port", required_argument, NULL, 'p' },
        { "seed", required_argument, NULL, 's' }, { "connect", required_argument, NULL, 'c' },
        { "publish-every", required_argument, NULL, 'e' }, { "count", required_argument, NULL, 'n' },
        { "expect", required_argument, NULL, 'k' }, { "timeout", required_argument, NULL, 't' },
        { "bad-signature", no_argument, NULL, 'B' }, { "start-file", required_argument, NULL, 'F' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'T': p.topic = optarg; break;
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 's': seed = strtol(optarg, NULL, 10); break;
        case 'c': {
            if (p.nconnect == PS_MAX_CONNECT) return usage();
            char why[256];
            struct p2p_maddr_component comp;
            if (p2p_maddr_parse(&p.addrs[p.nconnect], optarg, why, sizeof why) != 0 ||
                !p2p_maddr_find(&p.addrs[p.nconnect], P2P_MA_P2P, &comp) ||
                p2p_peerid_from_bytes(&p.ids[p.nconnect], comp.value, comp.value_len) != 0) {
                fprintf(stderr, "cpeer: --connect %s: needs a multiaddr with /p2p/\n", optarg);
                return 64;
            }
            p.nconnect++;
            break;
        }
        case 'e': p.every_ms = strtoull(optarg, NULL, 10); break;
        case 'n': p.count = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'k': p.expect = (unsigned)strtoul(optarg, NULL, 10); break;
        case 't': timeout = strtod(optarg, NULL); break;
        case 'B': p.forge = true; break;
        case 'F': p.start_file = optarg; break;
        default: return usage();
        }
    }
    if (!p.topic || !*p.topic || optind != argc || !(timeout > 0 && timeout < 1e6) || port < 0 || port > 65535 ||
        seed > 255)
        return usage();

    char listen[64];
    snprintf(listen, sizeof listen, "/ip4/127.0.0.1/tcp/%ld", port);
    if (!(p.host = cpeer_host_new(&p.l.loop, seed, listen, p.forge ? "" : "[plugin gossipsub]\n"))) return 1;
    p2p_host_subscribe(p.host, P2P_EV_CONNECTED | P2P_EV_DISCONNECTED, ps_on_event, &p);
    if (p.forge) {
        p2p_keypair_generate(&p.other);
        p.seqno = (uint64_t)time(NULL) * 1000000000u;
        p2p_protocol_add(p.host, PS_MESHSUB, ps_forge_inbound, &p);
    }
    if (cpeer_host_start(p.host, &p.l.loop) < 0) return 1;
    char id[P2P_PEERID_STRMAX];
    ps_id(p2p_host_peerid(p.host), id);
    snprintf(p.suffix, sizeof p.suffix, "%s", id + strlen(id) - 6);
    cpeer_print_self(p.host);
    if (!p.forge) {
        p.api = p2p_service_get(p.host, P2P_PUBSUB_SERVICE, 1, &p.st);
        int rc = p.api ? p.api->subscribe(p.st, p.topic, ps_on_message, &p, &p.sub) : P2P_ENOTFOUND;
        if (rc < 0) {
            out("ERROR subscribe %s: %s", p.topic, p2p_strerror(rc));
            p.exit_code = 1;
        } else {
            p.listener = p.api->add_peer_listener(p.st, ps_on_peer, &p);
        }
    }

    cpeer_handles_start(&p.l, timeout, ps_on_deadline, ps_on_signal, &p);
    p.tick = p2p_timer_new(p.host, ps_on_tick, &p);
    if (p.tick) p2p_timer_start(p.tick, PS_TICK_MS, PS_TICK_MS);
    for (size_t i = 0; i < p.nconnect && p.exit_code < 0; i++) {
        int rc = p2p_host_connect(p.host, &p.ids[i], &p.addrs[i], 1, ps_on_connected, &p);
        if (rc < 0) {
            out("ERROR connect: %s", p2p_strerror(rc));
            p.exit_code = 1;
        }
    }
    ps_check_done(&p);
    if (p.exit_code < 0) uv_run(&p.l.loop, UV_RUN_DEFAULT);
    for (size_t i = 0; i < p.nstreams; i++) p2p_stream_close(p.streams[i]);
    for (size_t i = 0; i < p.ninbound; i++) p2p_stream_close(p.inbound[i]);
    p.nstreams = p.ninbound = 0;
    if (p.tick) p2p_timer_free(p.tick);
    if (p.listener) p.api->remove_peer_listener(p.st, p.listener);
    if (p.sub) p.api->unsubscribe(p.st, p.sub);
    cpeer_handles_close(&p.l, p.host);
    for (size_t i = 0; i < p.nseen; i++) free(p.seen[i]);
    free(p.seen);
    p2p_keypair_wipe(&p.other);
    return p.exit_code < 0 ? 0 : p.exit_code;
}
