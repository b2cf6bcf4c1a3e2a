/* chat.c - the chat front-end (see chat.h): rooms, the DHT room
 * discovery, bootstrap peers, nicknames, history, and the input.
 *
 * Text output (output.c) is one line per event:
 *   [12:00:01] 12D3KooW...abcdef: hello          a message
 *   [12:00:02] * 12D3KooW...abcdef joined the room
 *   [12:00:03] * 12D3KooW...abcdef left the room
 * With several rooms joined, messages carry "#room". Input: a line is a
 * message to the current room, except commands starting with '/'
 * (cmd.c). On a terminal, libedit edits the line (tui.c); otherwise lines
 * are read as they come, and reaching the end of stdin leaves the node
 * running (stop it with SIGINT/SIGTERM), so a script can feed messages and
 * keep receiving. --json: see docs/SCRIPTING.md. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat_int.h"
#include "text.h"

#define REDIAL_MS 10000
/* Room discovery through the DHT: first look-up soon after a join (the
 * DHT bootstraps meanwhile), then at doubling intervals until every room
 * found another member (members starting together miss each other's
 * first announcement), then every [app chat] room_lookup_interval. */
#define ROOM_FIRST_LOOKUP_MS 1000
#define ROOM_LOOKUP_MAX 20   /* providers asked for per look-up */
/* A new member of the nickname topic hears our name after this delay
 * (several joining at once get one announcement). */
#define NICK_ANNOUNCE_DELAY_MS 1000
#define NICK_TABLE_SIZE 1024

int64_t chat_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct room *chat_find_room(struct chat *c, const char *name)
{
    for (size_t i = 0; i < c->nrooms; i++)
        if (!strcmp(c->rooms[i]->name, name)) return c->rooms[i];
    return NULL;
}

void chat_history_failed(struct chat *c, const char *err)
{
    out_reply(c, NULL, false, "%s; chat goes on without history", err);
    history_close(c->hist);
    c->hist = NULL;
}

static void update_prompt(struct chat *c)
{
    if (!c->tui) return;
    char p[CHAT_ROOM_MAX + 8];
    if (c->current) snprintf(p, sizeof p, "%s> ", c->current->name);
    else snprintf(p, sizeof p, "(no room)> ");
    tui_set_prompt(c->tui, p);
}

/* ---- messages and members ------------------------------------------ */

static void on_message(const struct p2p_pubsub_msg *m, void *arg)
{
    struct room *r = arg;
    struct chat *c = r->chat;
    char sender[P2P_PEERID_STRMAX] = "";
    const char *nick = NULL;
    if (m->author) {
        out_peer_text(m->author, sender, sizeof sender);
        nick = nick_table_get(&c->nicks, m->author);
    }
    int64_t now = chat_now_ms();
    if (c->hist) {
        char err[512];
        struct history_msg hm = { now, r->name, sender, nick, m->data, m->len, false };
        if (history_add(c->hist, &hm, err, sizeof err) < 0) chat_history_failed(c, err);
    }
    out_message(c, r->name, sender, nick, m->data, m->len, now, false, false);
}

static void on_peer(const char *topic, const p2p_peerid *peer, bool subscribed, void *arg)
{
    struct chat *c = arg;
    if (!strcmp(topic, NICK_TOPIC)) {
        /* Tell the newcomer our name (after a moment: it may not have
         * our subscription yet, and several may join together). */
        if (subscribed && c->nick[0] && c->nick_timer) p2p_timer_start(c->nick_timer, NICK_ANNOUNCE_DELAY_MS, 0);
        return;
    }
    struct room *r = chat_find_room(c, topic);
    if (!r) return;
    char id[P2P_PEERID_STRMAX];
    out_peer_text(peer, id, sizeof id);
    if (c->json) {
        struct json_w *w = out_json_begin(c, subscribed ? "join" : "leave", NULL);
        json_w_cstr(w, "room", r->name);
        json_w_cstr(w, "peer", id);
        const char *nick = nick_table_get(&c->nicks, peer);
        if (nick) json_w_cstr(w, "nick", nick);
        out_json_end(c);
        return;
    }
    char who[256], where[CHAT_ROOM_MAX + 8] = "the room";
    out_who(c, id, nick_table_get(&c->nicks, peer), who, sizeof who);
    if (c->nrooms > 1) snprintf(where, sizeof where, "#%s", r->name);
    out_say(c, "* %s %s %s", who, subscribed ? "joined" : "left", where);
}

/* JSON mode: connections coming and going, direct or relayed. */
static void on_conn_event(const struct p2p_event *ev, void *arg)
{
    struct chat *c = arg;
    if (!ev->conn) return;
    char id[P2P_PEERID_STRMAX], addr[P2P_MADDR_STRMAX];
    out_peer_text(p2p_conn_peer(ev->conn), id, sizeof id);
    if (p2p_maddr_to_string(p2p_conn_remote_addr(ev->conn), addr, sizeof addr) < 0) strcpy(addr, "?");
    struct json_w *w = out_json_begin(c, ev->type == P2P_EV_CONNECTED ? "connected" : "disconnected", NULL);
    json_w_cstr(w, "peer", id);
    json_w_cstr(w, "addr", addr);
    json_w_cstr(w, "connection", p2p_conn_limited(ev->conn) ? "relayed" : "direct");
    json_w_cstr(w, "direction", p2p_conn_direction(ev->conn) == P2P_INBOUND ? "inbound" : "outbound");
    if (ev->type == P2P_EV_DISCONNECTED && ev->reason) json_w_cstr(w, "reason", p2p_strerror(ev->reason));
    out_json_end(c);
}

/* ---- nicknames (docs/DESIGN.md, "Nicknames") ------------------------ */

static void on_nick_message(const struct p2p_pubsub_msg *m, void *arg)
{
    struct chat *c = arg;
    if (!m->author) return;   /* a name needs a (signed) author */
    const char *old = nick_table_get(&c->nicks, m->author);
    char before[CHAT_NICK_MAX + 1] = "";
    if (old) snprintf(before, sizeof before, "%s", old);
    if (nick_table_set(&c->nicks, m->author, m->data, m->len) != 1) return;
    char id[P2P_PEERID_STRMAX];
    out_peer_text(m->author, id, sizeof id);
    const char *now = nick_table_get(&c->nicks, m->author);
    if (c->json) {
        struct json_w *w = out_json_begin(c, "nick", NULL);
        json_w_cstr(w, "peer", id);
        json_w_cstr(w, "nick", now);
        out_json_end(c);
    } else if (before[0]) {
        char was[256], is[256];
        out_who(c, id, before, was, sizeof was);
        out_who(c, id, now, is, sizeof is);
        out_say(c, "* %s is now %s", was, is);
    }
}

static void announce_nick(struct chat *c)
{
    if (!c->nick[0]) return;
    int rc = c->ps->publish(c->ps_state, NICK_TOPIC, (const uint8_t *)c->nick, strlen(c->nick));
    if (rc < 0 && rc != P2P_ENOTFOUND && rc != P2P_EEXIST)
        p2p_log_debug("chat", "nickname announcement: %s", p2p_strerror(rc));
}

static void on_nick_timer(p2p_timer *t, void *arg)
{
    (void)t;
    announce_nick(arg);
}

void chat_set_nick(struct chat *c, const char *nick)
{
    snprintf(c->nick, sizeof c->nick, "%s", nick);
    announce_nick(c);
}

/* ---- rooms ---------------------------------------------------------- */

/* The DHT key of a room: the sha2-256 multihash of "p2pchat/room/" + the
 * room name (docs/DESIGN.md, "Rooms"). A multihash, because
 * go-libp2p-kad-dht only accepts multihash provider keys. */
static void room_key(const char *room, uint8_t out[34])
{
    char text[CHAT_ROOM_MAX + 20];
    int n = snprintf(text, sizeof text, "p2pchat/room/%s", room);
    p2p_multihash_sha256((const uint8_t *)text, (size_t)n, out);
}

/* True when `peers` contain us. */
static bool lists_us(struct chat *c, const struct p2p_routing_peer *peers, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p2p_peerid_equal(&peers[i].id, p2p_host_peerid(c->host))) return true;
    return false;
}

/* The next look-up and announcement round in ROOM_FIRST_LOOKUP_MS, unless
 * one is already that close (events in a row must not keep postponing it). */
static void round_soon(struct chat *c)
{
    if (c->room_timer && !c->round_soon) {
        c->round_soon = true;
        p2p_timer_start(c->room_timer, ROOM_FIRST_LOOKUP_MS, 0);
    }
}

static void announce_soon(struct chat *c, struct room *r)
{
    r->announce = true;
    round_soon(c);
}

static void free_lookup_if_idle(struct room_lookup *l)
{
    if (!l->room && !l->busy && !l->announcing) free(l);
}

static void on_room_providers(int status, const struct p2p_routing_peer *peers, size_t n, void *arg)
{
    struct room_lookup *l = arg;
    l->busy = false;
    if (!l->room) return free_lookup_if_idle(l);
    /* The routing plugin reported each provider as discovered; the host
     * dials them. Here we only check that the DHT still knows us: an
     * answer with room for more providers that lacks ours means our
     * record is gone (the DHT nodes holding it restarted, or there were
     * none when we announced), so we announce again. */
    if (status == 0) {
        p2p_log_debug("chat", "room %s: %zu member(s) found in the DHT", l->room->name, n);
        for (size_t i = 0; i < n; i++)
            if (!p2p_peerid_equal(&peers[i].id, p2p_host_peerid(l->room->chat->host))) l->room->found = true;
        if (n < ROOM_LOOKUP_MAX && !lists_us(l->room->chat, peers, n) && !l->announcing)
            announce_soon(l->room->chat, l->room);
    } else if (status != P2P_ECANCELED) {
        p2p_log_debug("chat", "room look-up: %s", p2p_strerror(status));
    }
}

static void on_room_provided(int status, size_t count, void *arg)
{
    struct room_lookup *l = arg;
    l->announcing = false;
    if (!l->room) return free_lookup_if_idle(l);
    if (status == 0) {
        p2p_log_debug("chat", "room %s announced to %zu DHT peer(s)", l->room->name, count);
    } else if (status != P2P_ECANCELED) {
        /* Nobody stored it (no DHT peer yet): try again next round. */
        p2p_log_debug("chat", "room %s announcement: %s", l->room->name, p2p_strerror(status));
        l->room->announce = true;
    }
}

/* Our provider record of a room carries our addresses. It is (re)sent when
 * the room is joined, when our advertised addresses change (e.g. a relay
 * reservation is made: until then a peer reachable only through a relay
 * has no address others could dial), when no DHT peer took it, and when a
 * look-up shows the DHT lost it. The routing plugin re-announces it every
 * provide_interval on its own. */
static void announce_room(struct chat *c, struct room *r)
{
    if (!r->announce || r->lookup->announcing) return;
    if (c->rt->provide(c->rt_state, r->key, sizeof r->key, on_room_provided, r->lookup) == 0) {
        r->provided = true;
        r->announce = false;
        r->lookup->announcing = true;
    }
}

static void on_room_timer(p2p_timer *t, void *arg)
{
    struct chat *c = arg;
    c->round_soon = false;
    bool all_found = true;
    for (size_t i = 0; i < c->nrooms; i++) all_found = all_found && c->rooms[i]->found;
    c->room_next_ms = all_found || c->room_next_ms * 2 > c->room_interval_ms ? c->room_interval_ms
                                                                             : c->room_next_ms * 2;
    p2p_timer_start(t, c->room_next_ms, 0);
    for (size_t i = 0; i < c->nrooms; i++) {
        struct room *r = c->rooms[i];
        if (!r->lookup->busy &&
            c->rt->find_providers(c->rt_state, r->key, sizeof r->key, ROOM_LOOKUP_MAX, on_room_providers,
                                  r->lookup) == 0)
            r->lookup->busy = true;
        announce_room(c, r);
    }
}

static void on_addrs_changed(const struct p2p_event *ev, void *arg)
{
    (void)ev;
    struct chat *c = arg;
    for (size_t i = 0; i < c->nrooms; i++) announce_soon(c, c->rooms[i]);
}

static void free_room(struct chat *c, struct room *r)
{
    if (r->sub) c->ps->unsubscribe(c->ps_state, r->sub);
    if (r->provided) c->rt->stop_providing(c->rt_state, r->key, sizeof r->key);
    if (r->lookup) {
        r->lookup->room = NULL;   /* freed now or by the last callback */
        free_lookup_if_idle(r->lookup);
    }
    free(r);
}

void chat_join(struct chat *c, const char *name, const struct chat_cmd *cmd)
{
    struct room *r = chat_find_room(c, name);
    if (r) {
        c->current = r;
        update_prompt(c);
        if (c->json) {
            struct json_w *w = out_json_begin(c, "result", cmd);
            json_w_cstr(w, "room", r->name);
            json_w_bool(w, "already", true);
            out_json_end(c);
        } else {
            out_say(c, "* now talking in room %s", r->name);
        }
        return;
    }
    if (c->nrooms == c->max_rooms)
        return out_reply(c, cmd, false, "already in %zu rooms ([app chat] max_rooms); /leave one first", c->nrooms);
    r = calloc(1, sizeof *r);
    if (!r) return out_reply(c, cmd, false, "out of memory");
    r->chat = c;
    snprintf(r->name, sizeof r->name, "%s", name);
    int rc = c->ps->subscribe(c->ps_state, r->name, on_message, r, &r->sub);
    if (rc == 0 && c->discovery) {
        room_key(r->name, r->key);
        if (!(r->lookup = calloc(1, sizeof *r->lookup))) rc = P2P_ENOMEM;
        else r->lookup->room = r;
        r->announce = true;
    }
    if (rc < 0) {
        free_room(c, r);
        return out_reply(c, cmd, false, "cannot join room %s: %s", name, p2p_strerror(rc));
    }
    c->rooms[c->nrooms++] = r;
    c->current = r;
    update_prompt(c);
    if (c->json) {
        if (cmd) {
            struct json_w *w = out_json_begin(c, "result", cmd);
            json_w_cstr(w, "room", r->name);
            json_w_bool(w, "already", false);
            out_json_end(c);
        }
    } else {
        out_say(c, "* joined room %s; type a message and press Enter (/help for commands)", r->name);
    }
    if (c->hist && c->history_show) chat_show_history(c, r->name, NULL, 0, c->history_show, NULL);
    if (c->discovery) {
        c->room_next_ms = ROOM_FIRST_LOOKUP_MS;
        round_soon(c);
    }
}

void chat_leave(struct chat *c, struct room *r, const struct chat_cmd *cmd)
{
    size_t i = 0;
    while (i < c->nrooms && c->rooms[i] != r) i++;
    if (i == c->nrooms) return;
    memmove(&c->rooms[i], &c->rooms[i + 1], (c->nrooms - i - 1) * sizeof *c->rooms);
    c->nrooms--;
    if (c->current == r) c->current = c->nrooms ? c->rooms[c->nrooms - 1] : NULL;
    char name[CHAT_ROOM_MAX + 1];
    snprintf(name, sizeof name, "%s", r->name);
    free_room(c, r);
    update_prompt(c);
    if (c->json) {
        struct json_w *w = out_json_begin(c, "result", cmd);
        json_w_cstr(w, "room", name);
        if (c->current) json_w_cstr(w, "current", c->current->name);
        out_json_end(c);
    } else if (c->current) {
        out_say(c, "* left room %s; now talking in room %s", name, c->current->name);
    } else {
        out_say(c, "* left room %s; you are in no room now (/join ROOM)", name);
    }
}

/* ---- input ----------------------------------------------------------- */

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
            if (c->line_too_long) out_reply(c, NULL, false, "line longer than %d bytes dropped", LINE_MAX_BYTES);
            else {
                c->line[c->line_len] = 0;
                chat_handle_line(c, c->line, c->line_len);
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

static void on_tui_line(char *line, size_t len, void *arg)
{
    chat_handle_line(arg, line, len);
}

static void on_tui_eof(void *arg)
{
    (void)arg;
    raise(SIGTERM);   /* Ctrl-D: leave, as /quit */
}

static void start_plain_input(struct chat *c)
{
    uv_loop_t *loop = p2p_host_loop(c->host);
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
        p2p_log_info("chat", "stdin is not a terminal or pipe; not reading messages from it");
    }
}

/* ---- bootstrap peers ------------------------------------------------- */

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
        p2p_log_warn("chat", "cannot reach bootstrap peer %s: %s", t, p2p_strerror(status));
    } else {
        p2p_log_info("chat", "connected to bootstrap peer %s", t);
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

static int parse_bootstrap(struct chat *c, const p2p_conf_section *app, char *err, size_t errlen)
{
    size_t n = p2p_conf_list_len(app, "bootstrap");
    if (!n) return 0;
    c->boot = calloc(n, sizeof *c->boot);
    c->boot_ids = calloc(n, sizeof *c->boot_ids);
    if (!c->boot || !c->boot_ids) return P2P_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *text = p2p_conf_list_at(app, "bootstrap", i);
        if (p2p_maddr_parse(&c->boot[c->nboot], text, NULL, 0) != 0 ||
            p2p_peerid_from_maddr(&c->boot_ids[c->nboot], &c->boot[c->nboot]) != 0) {   /* a circuit's target */
            snprintf(err, errlen, "bootstrap address %s needs to end with the peer's /p2p/<PeerId>", text);
            return P2P_ECONFIG;
        }
        c->nboot++;
    }
    return 0;
}

/* ---- start and stop -------------------------------------------------- */

static void open_history(struct chat *c, const p2p_conf_section *app)
{
    if (!p2p_conf_bool(app, "history")) return;
    char path[4096], err[1024];
    const char *file = p2p_conf_path(app, "history_file");
    const char *identity = p2p_conf_path(p2p_host_section(c->host), "identity");
    if (file) snprintf(path, sizeof path, "%s", file);
    else if (history_default_path(identity, path, sizeof path) < 0) {
        out_reply(c, NULL, false, "history disabled: no data directory ($HOME is not set); chat goes on without history");
        return;
    }
    c->hist = history_open(path, (uint32_t)p2p_conf_int(app, "history_max_rows"),
                           p2p_conf_duration_ms(app, "history_max_age"), chat_now_ms(), err, sizeof err);
    if (!c->hist) out_reply(c, NULL, false, "%s; chat goes on without history", err);
}

static void emit_ready(struct chat *c)
{
    char id[P2P_PEERID_STRMAX];
    out_peer_text(p2p_host_peerid(c->host), id, sizeof id);
    struct json_w *w = out_json_begin(c, "ready", NULL);
    json_w_cstr(w, "peer_id", id);
    json_w_arr_open(w, "addrs");
    p2p_multiaddr addrs[32];
    size_t n = p2p_host_listen_addrs(c->host, addrs, 32);
    const p2p_peerid *me = p2p_host_peerid(c->host);
    for (size_t i = 0; i < n && i < 32; i++) {
        char t[P2P_MADDR_STRMAX];
        if (p2p_maddr_push(&addrs[i], P2P_MA_P2P, me->bytes, me->len) == 0 &&
            p2p_maddr_to_string(&addrs[i], t, sizeof t) > 0)
            json_w_cstr(w, NULL, t);
    }
    json_w_arr_close(w);
    if (c->nick[0]) json_w_cstr(w, "nick", c->nick);
    if (c->hist) json_w_cstr(w, "history", history_path(c->hist));
    out_json_end(c);
}

struct chat *chat_start(p2p_host *h, const p2p_conf_section *app, char *err, size_t errlen)
{
    struct chat *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->host = h;
    c->json = p2p_conf_bool(app, "json");
    c->max_rooms = (size_t)p2p_conf_int(app, "max_rooms");
    c->history_show = (unsigned)p2p_conf_int(app, "history_show");
    out_init(c, p2p_conf_str(app, "color"));
    const char *room = p2p_conf_str(app, "room");
    const char *nick = p2p_conf_str(app, "nick");
    c->ps = p2p_service_get(h, P2P_PUBSUB_SERVICE, 1, &c->ps_state);
    int rc = 0;
    if (!c->ps) {
        snprintf(err, errlen, "the chat needs the pubsub service: add a [plugin gossipsub] section");
        rc = P2P_ECONFIG;
    } else if (!text_valid_name((const uint8_t *)room, strlen(room), CHAT_ROOM_MAX)) {
        snprintf(err, errlen, "[app chat] room: a room name is 1 to %d bytes of UTF-8 without control characters or "
                              "blanks at either end", CHAT_ROOM_MAX);
        rc = P2P_ECONFIG;
    } else if (nick && !text_valid_name((const uint8_t *)nick, strlen(nick), CHAT_NICK_MAX)) {
        snprintf(err, errlen, "[app chat] nick: a nickname is 1 to %d bytes of UTF-8 without control characters or "
                              "blanks at either end", CHAT_NICK_MAX);
        rc = P2P_ECONFIG;
    }
    if (rc == 0) rc = parse_bootstrap(c, app, err, errlen);
    if (rc == 0 && (!(c->rooms = calloc(c->max_rooms, sizeof *c->rooms)) || !(c->line = malloc(LINE_MAX_BYTES + 1)) ||
                    nick_table_init(&c->nicks, NICK_TABLE_SIZE) < 0))
        rc = P2P_ENOMEM;
    if (rc == 0) rc = c->ps->subscribe(c->ps_state, NICK_TOPIC, on_nick_message, c, &c->nick_sub);
    if (rc < 0) {
        if (!err[0]) snprintf(err, errlen, "cannot start the chat: %s", p2p_strerror(rc));
        chat_stop(c);
        return NULL;
    }
    if (nick) snprintf(c->nick, sizeof c->nick, "%s", nick);
    c->nick_timer = p2p_timer_new(h, on_nick_timer, c);
    c->peer_listener = c->ps->add_peer_listener(c->ps_state, on_peer, c);
    if (c->json) c->conn_events = p2p_host_subscribe(h, P2P_EV_CONNECTED | P2P_EV_DISCONNECTED, on_conn_event, c);
    c->rt = p2p_service_get(h, P2P_ROUTING_SERVICE, 1, &c->rt_state);
    c->discovery = c->rt && p2p_conf_bool(app, "room_discovery");
    if (c->discovery) {
        c->room_interval_ms = p2p_conf_duration_ms(app, "room_lookup_interval");
        c->room_timer = p2p_timer_new(h, on_room_timer, c);
        c->addr_events = p2p_host_subscribe(h, P2P_EV_ADDRS_CHANGED, on_addrs_changed, c);
    }

    /* The terminal interface when a person is at a terminal that
     * understands cursor movement (ANSI); lines as they come otherwise
     * (scripts, --json, output to a file, TERM=dumb). */
    const char *term = getenv("TERM");
    if (!c->json && isatty(0) && isatty(1) && term && *term && strcmp(term, "dumb") != 0) {
        char why[256];
        tui_setlocale();
        c->tui = tui_start(p2p_host_loop(h), "> ", on_tui_line, on_tui_eof, c, why, sizeof why);
        if (!c->tui) p2p_log_warn("chat", "%s; reading plain lines", why);
        else {
            p2p_log_set_sink(out_log_sink, c);
            c->log_sink = true;
        }
    }
    if (!c->tui) start_plain_input(c);
    open_history(c, app);
    if (c->json) emit_ready(c);
    chat_join(c, room, NULL);
    dial_bootstrap(c);
    if (c->nboot && (c->redial = p2p_timer_new(h, on_redial, c))) p2p_timer_start(c->redial, REDIAL_MS, REDIAL_MS);
    return c;
}

void chat_stop(struct chat *c)
{
    if (!c) return;
    if (c->tui) tui_stop(c->tui);
    if (c->log_sink) p2p_log_set_sink(NULL, NULL);
    if (c->in) {
        uv_read_stop(&c->in->s);
        if (c->in_tty) uv_tty_reset_mode();
        uv_close(&c->in->h, on_stdin_closed);
    }
    for (struct ping_req *p = c->pings; p; p = p->next) p->chat = NULL;   /* freed by their callbacks */
    if (c->redial) p2p_timer_free(c->redial);
    if (c->room_timer) p2p_timer_free(c->room_timer);
    if (c->nick_timer) p2p_timer_free(c->nick_timer);
    for (size_t i = 0; i < c->nrooms; i++) free_room(c, c->rooms[i]);
    if (c->conn_events) p2p_host_unsubscribe(c->host, c->conn_events);
    if (c->addr_events) p2p_host_unsubscribe(c->host, c->addr_events);
    if (c->peer_listener) c->ps->remove_peer_listener(c->ps_state, c->peer_listener);
    if (c->nick_sub) c->ps->unsubscribe(c->ps_state, c->nick_sub);
    history_close(c->hist);
    nick_table_free(&c->nicks);
    json_w_free(&c->jw);
    free(c->rooms);
    free(c->line);
    free(c->boot);
    free(c->boot_ids);
    free(c);
}
