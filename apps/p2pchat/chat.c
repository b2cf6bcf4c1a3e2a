/* chat.c - the chat front-end (see chat.h).
 *
 * Output: one line per event, so that scripts can read it:
 *   [12:00:01] 12D3KooW...abcdef: hello          a message
 *   [12:00:02] * 12D3KooW...abcdef joined the room
 *   [12:00:03] * 12D3KooW...abcdef left the room
 * Input: a line is a message, except commands starting with '/':
 *   /peers  /ping PEER  /addrs  /quit  /help
 * When stdin is not a terminal nothing else changes: lines are read and
 * published the same way, and reaching its end leaves the node running
 * (stop it with SIGINT/SIGTERM), so a script can feed messages and keep
 * receiving. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat.h"
#include "p2p/dcutr.h"
#include "p2p/ping.h"
#include "p2p/routing.h"
#include "p2p/pubsub.h"

#define MOD "chat"
#define LINE_MAX_BYTES 4096
#define REDIAL_MS 10000
/* Room discovery through the DHT: first look-up soon after start (the
 * DHT bootstraps meanwhile), then at doubling intervals until another
 * member was found (members starting together miss each other's first
 * announcement), then every [app chat] room_lookup_interval. */
#define ROOM_FIRST_LOOKUP_MS 1000

/* One outstanding DHT look-up; outlives the chat if it stops first. */
struct room_lookup {
    struct chat *chat;      /* NULL once the chat stopped */
    bool busy;
};

struct chat {
    p2p_host *host;
    const struct p2p_pubsub_api_v1 *ps;
    void *ps_state;
    p2p_pubsub_sub *sub;
    void *peer_listener;
    char room[256];
    /* stdin: heap-allocated, freed by its close callback (the handle may
     * outlive struct chat by one loop turn). */
    union stdin_handle {
        uv_handle_t h;
        uv_stream_t s;
        uv_tty_t tty;
        uv_pipe_t pipe;
    } *in;
    bool in_tty;
    char line[LINE_MAX_BYTES + 1];
    size_t line_len;
    bool line_too_long;
    p2p_timer *redial;
    size_t nboot;
    p2p_multiaddr *boot;
    p2p_peerid *boot_ids;
    /* Room discovery (DHT): we provide the room key and look up the
     * other providers; found peers are dialed by the host (auto_dial). */
    const struct p2p_routing_api_v1 *rt;
    void *rt_state;
    uint8_t room_key[34];
    p2p_timer *room_timer;
    struct room_lookup *lookup;
    bool room_provided;
    bool room_found;                /* the DHT named another member */
    uint64_t room_interval_ms, room_next_ms;
};

static void short_id(const p2p_peerid *id, char *out, size_t cap)
{
    char full[P2P_PEERID_STRMAX];
    p2p_peerid_to_string(id, full, sizeof full);
    size_t n = strlen(full);
    if (n > 16) snprintf(out, cap, "%.8s...%s", full, full + n - 6);
    else snprintf(out, cap, "%s", full);
}

static void stamp(char *out, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, cap, "%H:%M:%S", &tm);
}

static void say(const char *fmt, ...) P2P_PRINTF(1, 2);
static void say(const char *fmt, ...)
{
    char ts[16];
    stamp(ts, sizeof ts);
    printf("[%s] ", ts);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* Print text from the network without letting it move the cursor or
 * forge lines: control characters become '?'. */
static void sanitize(const uint8_t *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        uint8_t ch = in[i];
        out[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    out[o] = 0;
}

static void on_message(const struct p2p_pubsub_msg *m, void *arg)
{
    (void)arg;
    char who[64] = "anonymous", text[LINE_MAX_BYTES * 2];
    if (m->author) short_id(m->author, who, sizeof who);
    sanitize(m->data, m->len, text, sizeof text);
    say("%s: %s", who, text);
}

static void on_peer(const char *topic, const p2p_peerid *peer, bool subscribed, void *arg)
{
    struct chat *c = arg;
    if (strcmp(topic, c->room)) return;
    char who[64];
    short_id(peer, who, sizeof who);
    say("* %s %s the room", who, subscribed ? "joined" : "left");
}

static void show_peers(struct chat *c)
{
    p2p_conn *conns[256];
    size_t n = p2p_host_conns(c->host, conns, 256);
    say("* %zu connection(s)", n);
    for (size_t i = 0; i < n && i < 256; i++) {
        char who[64], addr[P2P_MADDR_STRMAX];
        const p2p_peerid *id = p2p_conn_peer(conns[i]);
        short_id(id, who, sizeof who);
        if (p2p_maddr_to_string(p2p_conn_remote_addr(conns[i]), addr, sizeof addr) < 0) strcpy(addr, "?");
        uint64_t rtt = p2p_peerstore_rtt(c->host, id);
        say("*   %s %s %s%s rtt=%.1fms", who, addr, p2p_conn_limited(conns[i]) ? "relayed" : "direct",
            p2p_conn_direction(conns[i]) == P2P_INBOUND ? " inbound" : "", rtt / 1000.0);
    }
    p2p_peerid ids[256];
    size_t m = c->ps->topic_peers(c->ps_state, c->room, ids, 256);
    say("* %zu peer(s) in room %s", m, c->room);
    void *dst;
    const struct p2p_dcutr_api_v1 *d = p2p_service_get(c->host, P2P_DCUTR_SERVICE, 1, &dst);
    if (d) {
        struct p2p_dcutr_stats hs;
        d->stats(dst, &hs);
        say("* hole punching: %llu succeeded, %llu failed, %llu superseded (%llu attempt(s), %llu failed)",
            (unsigned long long)hs.succeeded, (unsigned long long)hs.failed, (unsigned long long)hs.superseded,
            (unsigned long long)hs.attempts, (unsigned long long)hs.attempts_failed);
    }
}

/* A peer named by its full PeerId or by a unique part of it among the
 * connected peers (what the short form shows). */
static int find_peer(struct chat *c, const char *name, p2p_peerid *out)
{
    if (p2p_peerid_parse(out, name) == 0) return 0;
    p2p_conn *conns[256];
    size_t n = p2p_host_conns(c->host, conns, 256), found = 0;
    for (size_t i = 0; i < n && i < 256; i++) {
        char full[P2P_PEERID_STRMAX];
        p2p_peerid_to_string(p2p_conn_peer(conns[i]), full, sizeof full);
        if (!strstr(full, name)) continue;
        if (found && p2p_peerid_equal(out, p2p_conn_peer(conns[i]))) continue;
        *out = *p2p_conn_peer(conns[i]);
        found++;
    }
    return found == 1 ? 0 : found ? P2P_EEXIST : P2P_ENOTFOUND;
}

struct ping_req {
    char who[64];
    unsigned n;
};

static void on_pong(int status, uint64_t rtt_us, bool last, void *arg)
{
    struct ping_req *r = arg;
    if (status) say("* ping %s failed: %s", r->who, p2p_strerror(status));
    else say("* pong from %s: %.3f ms", r->who, rtt_us / 1000.0);
    if (last) free(r);
}

static void ping_cmd(struct chat *c, const char *arg)
{
    while (*arg == ' ') arg++;
    p2p_peerid id;
    int rc = *arg ? find_peer(c, arg, &id) : P2P_EINVAL;
    if (rc == P2P_EINVAL) return say("* usage: /ping PEER (a PeerId, or part of one from /peers)");
    if (rc == P2P_EEXIST) return say("* '%s' matches several peers; give more of the PeerId", arg);
    if (rc < 0) return say("* no connected peer matches '%s'", arg);
    void *st;
    const struct p2p_ping_api_v1 *ping = p2p_service_get(c->host, P2P_PING_SERVICE, 1, &st);
    if (!ping) return say("* ping is not available: add [plugin ping] to the configuration");
    struct ping_req *r = calloc(1, sizeof *r);
    if (!r) return;
    short_id(&id, r->who, sizeof r->who);
    if ((rc = ping->ping(st, &id, 3, on_pong, r)) < 0) {
        say("* ping %s failed: %s", r->who, p2p_strerror(rc));
        free(r);
    }
}

static void show_addrs(struct chat *c)
{
    p2p_multiaddr addrs[32];
    size_t n = p2p_host_advertised_addrs(c->host, addrs, 32);
    const p2p_peerid *me = p2p_host_peerid(c->host);
    say("* %zu address(es):", n);
    for (size_t i = 0; i < n && i < 32; i++) {
        char t[P2P_MADDR_STRMAX];
        if (p2p_maddr_push(&addrs[i], P2P_MA_P2P, me->bytes, me->len) == 0 && p2p_maddr_to_string(&addrs[i], t, sizeof t) > 0)
            say("*   %s", t);
    }
}

static void publish_line(struct chat *c, const char *text, size_t len)
{
    int rc = c->ps->publish(c->ps_state, c->room, (const uint8_t *)text, len);
    if (rc == P2P_ENOTFOUND) say("* nobody else is in the room yet; message not sent");
    else if (rc == P2P_EAGAIN) say("* peers are not keeping up; message not sent, try again");
    else if (rc == P2P_ERANGE) say("* message too long; not sent");
    else if (rc < 0) say("* message not sent: %s", p2p_strerror(rc));
}

static void handle_line(struct chat *c, char *s, size_t len)
{
    while (len && (s[len - 1] == '\r' || s[len - 1] == ' ')) s[--len] = 0;
    if (!len) return;
    if (s[0] != '/') return publish_line(c, s, len);
    if (!strcmp(s, "/quit")) {
        raise(SIGTERM);
    } else if (!strcmp(s, "/peers")) {
        show_peers(c);
    } else if (!strncmp(s, "/ping", 5) && (s[5] == ' ' || !s[5])) {
        ping_cmd(c, s + 5);
    } else if (!strcmp(s, "/addrs")) {
        show_addrs(c);
    } else if (!strcmp(s, "/help")) {
        say("* commands: /peers, /ping PEER, /addrs, /quit, /help; anything else is sent to room %s", c->room);
    } else {
        say("* unknown command %s; type /help", s);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char rbuf[4096];   /* read callbacks run one at a time */
    buf->base = rbuf;
    buf->len = sizeof rbuf;
}

static void on_stdin_closed(uv_handle_t *h)
{
    free(h);
}

static void on_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct chat *c = s->data;
    if (n < 0) {
        /* End of input: keep running, the room still talks to us. */
        uv_read_stop(s);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        char ch = buf->base[i];
        if (ch == '\n') {
            if (c->line_too_long) say("* line longer than %d bytes dropped", LINE_MAX_BYTES);
            else {
                c->line[c->line_len] = 0;
                handle_line(c, c->line, c->line_len);
            }
            c->line_len = 0;
            c->line_too_long = false;
        } else if (c->line_len < LINE_MAX_BYTES) {
            c->line[c->line_len++] = ch;
        } else {
            c->line_too_long = true;
        }
    }
}

/* The dial's own copy of the address: the callback may run after the
 * chat has stopped. */
static void on_connected(int status, p2p_conn *conn, void *arg)
{
    (void)conn;
    p2p_multiaddr *ma = arg;
    char t[P2P_MADDR_STRMAX];
    if (p2p_maddr_to_string(ma, t, sizeof t) < 0) strcpy(t, "?");
    if (status == P2P_ECANCELED) {
    } else if (status) {
        p2p_log_warn(MOD, "cannot reach bootstrap peer %s: %s", t, p2p_strerror(status));
    } else {
        p2p_log_info(MOD, "connected to bootstrap peer %s", t);
    }
    free(ma);
}

static void dial_bootstrap(struct chat *c)
{
    for (size_t i = 0; i < c->nboot; i++) {
        if (p2p_host_conn_to(c->host, &c->boot_ids[i])) continue;
        p2p_multiaddr *copy = malloc(sizeof *copy);
        if (!copy) continue;
        *copy = c->boot[i];
        if (p2p_host_connect(c->host, &c->boot_ids[i], copy, 1, on_connected, copy) < 0) free(copy);
    }
}

static void on_redial(p2p_timer *t, void *arg)
{
    (void)t;
    dial_bootstrap(arg);
}

/* The DHT key of a room: the sha2-256 multihash of "p2pchat/room/" + the
 * room name (docs/DESIGN.md, "Rooms"). A multihash, because
 * go-libp2p-kad-dht only accepts multihash provider keys. */
static void room_key(const char *room, uint8_t out[34])
{
    char text[300];
    int n = snprintf(text, sizeof text, "p2pchat/room/%s", room);
    p2p_multihash_sha256((const uint8_t *)text, (size_t)n, out);
}

static void on_room_providers(int status, const struct p2p_routing_peer *peers, size_t n, void *arg)
{
    struct room_lookup *l = arg;
    l->busy = false;
    if (!l->chat) {
        free(l);
        return;
    }
    /* The routing plugin reported each provider as discovered; the host
     * dials them. Here we only log. */
    if (status == 0) p2p_log_debug(MOD, "room %s: %zu member(s) found in the DHT", l->chat->room, n);
    else if (status != P2P_ECANCELED) p2p_log_debug(MOD, "room look-up: %s", p2p_strerror(status));
    for (size_t i = 0; status == 0 && i < n; i++)
        if (!p2p_peerid_equal(&peers[i].id, p2p_host_peerid(l->chat->host))) l->chat->room_found = true;
}

static void on_room_provided(int status, size_t count, void *arg)
{
    (void)arg;
    if (status == 0) p2p_log_debug(MOD, "room announced to %zu DHT peer(s)", count);
    else if (status != P2P_ECANCELED) p2p_log_debug(MOD, "room announcement: %s", p2p_strerror(status));
}

static void on_room_timer(p2p_timer *t, void *arg)
{
    struct chat *c = arg;
    c->room_next_ms = c->room_found || c->room_next_ms * 2 > c->room_interval_ms ? c->room_interval_ms
                                                                                 : c->room_next_ms * 2;
    p2p_timer_start(t, c->room_next_ms, 0);
    if (c->lookup->busy) return;
    if (c->rt->find_providers(c->rt_state, c->room_key, sizeof c->room_key, 20, on_room_providers, c->lookup) == 0)
        c->lookup->busy = true;
    /* Announce again each round until it reached someone: at start the
     * DHT may not know any peer yet. Then the routing plugin re-announces. */
    if (!c->room_provided &&
        c->rt->provide(c->rt_state, c->room_key, sizeof c->room_key, on_room_provided, NULL) == 0)
        c->room_provided = true;
}

static int parse_bootstrap(struct chat *c, const p2p_conf_section *app, char *err, size_t errlen)
{
    size_t n = p2p_conf_list_len(app, "bootstrap");
    if (!n) return 0;
    c->boot = calloc(n, sizeof *c->boot);
    c->boot_ids = calloc(n, sizeof *c->boot_ids);
    if (!c->boot || !c->boot_ids) return P2P_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *text = p2p_conf_list_at(app, "bootstrap", i);
        struct p2p_maddr_component comp;
        if (p2p_maddr_parse(&c->boot[c->nboot], text, NULL, 0) != 0 ||
            !p2p_maddr_find(&c->boot[c->nboot], P2P_MA_P2P, &comp) ||
            p2p_peerid_from_bytes(&c->boot_ids[c->nboot], comp.value, comp.value_len) != 0) {
            snprintf(err, errlen, "bootstrap address %s needs a /p2p/<PeerId> part", text);
            return P2P_ECONFIG;
        }
        c->nboot++;
    }
    return 0;
}

struct chat *chat_start(p2p_host *h, const p2p_conf_section *app, char *err, size_t errlen)
{
    struct chat *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->host = h;
    snprintf(c->room, sizeof c->room, "%s", p2p_conf_str(app, "room"));
    c->ps = p2p_service_get(h, P2P_PUBSUB_SERVICE, 1, &c->ps_state);
    if (!c->ps) {
        snprintf(err, errlen, "the chat needs the pubsub service: add a [plugin gossipsub] section");
        free(c);
        return NULL;
    }
    int rc = parse_bootstrap(c, app, err, errlen);
    if (rc == 0) rc = c->ps->subscribe(c->ps_state, c->room, on_message, c, &c->sub);
    if (rc < 0) {
        if (!err[0]) snprintf(err, errlen, "cannot join room %s: %s", c->room, p2p_strerror(rc));
        chat_stop(c);
        return NULL;
    }
    c->peer_listener = c->ps->add_peer_listener(c->ps_state, on_peer, c);

    uv_loop_t *loop = p2p_host_loop(h);
    uv_handle_type t = uv_guess_handle(0);
    union stdin_handle *in = malloc(sizeof *in);
    if (in && t == UV_TTY && uv_tty_init(loop, &in->tty, 0, 1) == 0) {
        c->in = in;
        c->in_tty = true;
    } else if (in && (t == UV_NAMED_PIPE || t == UV_TCP) && uv_pipe_init(loop, &in->pipe, 0) == 0) {
        if (uv_pipe_open(&in->pipe, 0) == 0) c->in = in;
        else uv_close(&in->h, on_stdin_closed);
        in = c->in;
    } else {
        free(in);
    }
    if (c->in) {
        c->in->h.data = c;
        uv_read_start(&c->in->s, on_alloc, on_stdin);
    } else {
        p2p_log_info(MOD, "stdin is not a terminal or pipe; not reading messages from it");
    }
    say("* joined room %s; type a message and press Enter (/help for commands)", c->room);
    dial_bootstrap(c);
    if (c->nboot && (c->redial = p2p_timer_new(h, on_redial, c))) p2p_timer_start(c->redial, REDIAL_MS, REDIAL_MS);
    c->rt = p2p_service_get(h, P2P_ROUTING_SERVICE, 1, &c->rt_state);
    if (c->rt && p2p_conf_bool(app, "room_discovery")) {
        room_key(c->room, c->room_key);
        c->room_interval_ms = p2p_conf_duration_ms(app, "room_lookup_interval");
        c->room_next_ms = ROOM_FIRST_LOOKUP_MS;
        c->lookup = calloc(1, sizeof *c->lookup);
        if (c->lookup) {
            c->lookup->chat = c;
            if ((c->room_timer = p2p_timer_new(h, on_room_timer, c))) p2p_timer_start(c->room_timer, ROOM_FIRST_LOOKUP_MS, 0);
        }
    }
    return c;
}

void chat_stop(struct chat *c)
{
    if (!c) return;
    if (c->in) {
        uv_read_stop(&c->in->s);
        if (c->in_tty) uv_tty_reset_mode();
        uv_close(&c->in->h, on_stdin_closed);
    }
    if (c->redial) p2p_timer_free(c->redial);
    if (c->room_timer) p2p_timer_free(c->room_timer);
    if (c->rt && c->room_provided) c->rt->stop_providing(c->rt_state, c->room_key, sizeof c->room_key);
    if (c->lookup) {
        if (c->lookup->busy) c->lookup->chat = NULL;   /* freed by its callback */
        else free(c->lookup);
    }
    if (c->peer_listener) c->ps->remove_peer_listener(c->ps_state, c->peer_listener);
    if (c->sub) c->ps->unsubscribe(c->ps_state, c->sub);
    free(c->boot);
    free(c->boot_ids);
    free(c);
}
