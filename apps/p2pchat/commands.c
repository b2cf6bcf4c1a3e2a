/* commands.c - runs the chat's commands (parsed by cmd.c) and shows
 * their results as text or JSON (output.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_int.h"
#include "p2p/dcutr.h"
#include "p2p/ping.h"

#define MAX_LIST 256

static struct room *target_room(struct chat *c, const struct chat_cmd *cmd)
{
    if (cmd->room) {
        struct room *r = chat_find_room(c, cmd->room);
        if (!r) out_reply(c, cmd, false, "not in room %s; /join it first", cmd->room);
        return r;
    }
    if (!c->current) out_reply(c, cmd, false, "you are in no room; /join ROOM first");
    return c->current;
}

static void send_cmd(struct chat *c, const struct chat_cmd *cmd)
{
    struct room *r = target_room(c, cmd);
    if (!r) return;
    int rc = c->ps->publish(c->ps_state, r->name, cmd->text, cmd->text_len);
    if (rc == P2P_ENOTFOUND) return out_reply(c, cmd, false, "nobody else is in the room yet; message not sent");
    if (rc == P2P_EAGAIN) return out_reply(c, cmd, false, "peers are not keeping up; message not sent, try again");
    if (rc == P2P_ERANGE) return out_reply(c, cmd, false, "message too long; not sent");
    if (rc < 0) return out_reply(c, cmd, false, "message not sent: %s", p2p_strerror(rc));
    if (c->hist) {
        char me[P2P_PEERID_STRMAX], err[512];
        out_peer_text(p2p_host_peerid(c->host), me, sizeof me);
        struct history_msg m = { chat_now_ms(), r->name, me, c->nick[0] ? c->nick : NULL, cmd->text, cmd->text_len, true };
        if (history_add(c->hist, &m, err, sizeof err) < 0) chat_history_failed(c, err);
    }
    if (c->json) {
        json_w_cstr(out_json_begin(c, "result", cmd), "room", r->name);
        out_json_end(c);
    }
}

static void show_help(struct chat *c, const struct chat_cmd *cmd)
{
    if (c->json) {
        json_w_cstr(out_json_begin(c, "result", cmd), "text", cmd_help_text);
        return out_json_end(c);
    }
    out_say(c, "* commands (anything else is a message to the current room):");
    const char *p = cmd_help_text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        out_say(c, "*   %.*s", n, p);
        p += n + (nl != NULL);
    }
}

static void show_peers(struct chat *c, const struct chat_cmd *cmd)
{
    p2p_conn *conns[MAX_LIST];
    size_t n = p2p_host_conns(c->host, conns, MAX_LIST);
    if (n > MAX_LIST) n = MAX_LIST;
    struct json_w *w = NULL;
    if (c->json) {
        w = out_json_begin(c, "result", cmd);
        json_w_arr_open(w, "peers");
    } else {
        out_say(c, "* %zu connection(s)", n);
    }
    for (size_t i = 0; i < n; i++) {
        char id[P2P_PEERID_STRMAX], who[256], addr[P2P_MADDR_STRMAX];
        const p2p_peerid *pid = p2p_conn_peer(conns[i]);
        out_peer_text(pid, id, sizeof id);
        const char *nick = nick_table_get(&c->nicks, pid);
        if (p2p_maddr_to_string(p2p_conn_remote_addr(conns[i]), addr, sizeof addr) < 0) strcpy(addr, "?");
        uint64_t rtt = p2p_peerstore_rtt(c->host, pid);
        const char *kind = p2p_conn_limited(conns[i]) ? "relayed" : "direct";
        bool inbound = p2p_conn_direction(conns[i]) == P2P_INBOUND;
        if (w) {
            json_w_obj_open(w, NULL);
            json_w_cstr(w, "peer", id);
            if (nick) json_w_cstr(w, "nick", nick);
            json_w_cstr(w, "addr", addr);
            json_w_cstr(w, "connection", kind);
            json_w_cstr(w, "direction", inbound ? "inbound" : "outbound");
            if (rtt) json_w_ms(w, "rtt_ms", rtt / 1000.0);
            json_w_obj_close(w);
        } else {
            out_who(c, id, nick, who, sizeof who);
            if (rtt) out_say(c, "*   %s %s %s%s rtt=%.1fms", who, addr, kind, inbound ? " inbound" : "", rtt / 1000.0);
            else out_say(c, "*   %s %s %s%s rtt=?", who, addr, kind, inbound ? " inbound" : "");
        }
    }
    /* Hole-punch outcomes so far (the dcutr plugin's counters). */
    void *dst;
    const struct p2p_dcutr_api_v1 *d = p2p_service_get(c->host, P2P_DCUTR_SERVICE, 1, &dst);
    struct p2p_dcutr_stats hs;
    if (d) d->stats(dst, &hs);
    if (w) {
        json_w_arr_close(w);
        if (d) {
            json_w_obj_open(w, "holepunch");
            json_w_int(w, "succeeded", (int64_t)hs.succeeded);
            json_w_int(w, "failed", (int64_t)hs.failed);
            json_w_int(w, "superseded", (int64_t)hs.superseded);
            json_w_int(w, "attempts", (int64_t)hs.attempts);
            json_w_int(w, "attempts_failed", (int64_t)hs.attempts_failed);
            json_w_obj_close(w);
        }
        return out_json_end(c);
    }
    if (c->current) {
        p2p_peerid ids[MAX_LIST];
        size_t m = c->ps->topic_peers(c->ps_state, c->current->name, ids, MAX_LIST);
        out_say(c, "* %zu peer(s) in room %s", m, c->current->name);
    }
    if (d)
        out_say(c, "* hole punching: %llu succeeded, %llu failed, %llu superseded (%llu attempt(s), %llu failed)",
                (unsigned long long)hs.succeeded, (unsigned long long)hs.failed, (unsigned long long)hs.superseded,
                (unsigned long long)hs.attempts, (unsigned long long)hs.attempts_failed);
}

static void show_rooms(struct chat *c, const struct chat_cmd *cmd)
{
    p2p_peerid ids[MAX_LIST];
    struct json_w *w = NULL;
    if (c->json) {
        w = out_json_begin(c, "result", cmd);
        json_w_arr_open(w, "rooms");
    } else if (!c->nrooms) {
        return out_say(c, "* you are in no room; /join ROOM");
    } else {
        out_say(c, "* %zu room(s), * = current:", c->nrooms);
    }
    for (size_t i = 0; i < c->nrooms; i++) {
        struct room *r = c->rooms[i];
        size_t m = c->ps->topic_peers(c->ps_state, r->name, ids, MAX_LIST);
        if (w) {
            json_w_obj_open(w, NULL);
            json_w_cstr(w, "room", r->name);
            json_w_bool(w, "current", r == c->current);
            json_w_int(w, "members", (int64_t)m);
            json_w_obj_close(w);
        } else {
            out_say(c, "*   %s%s (%zu other member(s))", r == c->current ? "*" : " ", r->name, m);
        }
    }
    if (w) {
        json_w_arr_close(w);
        out_json_end(c);
    }
}

static void leave_cmd(struct chat *c, const struct chat_cmd *cmd)
{
    struct room *r = target_room(c, cmd);
    if (r) chat_leave(c, r, cmd);
}

static void nick_cmd(struct chat *c, const struct chat_cmd *cmd)
{
    if (cmd->arg) chat_set_nick(c, cmd->arg);
    if (c->json) {
        struct json_w *w = out_json_begin(c, "result", cmd);
        if (c->nick[0]) json_w_cstr(w, "nick", c->nick);
        return out_json_end(c);
    }
    if (cmd->arg) out_say(c, "* other p2pchat users now see you as %s", c->nick);
    else if (c->nick[0]) out_say(c, "* your nickname is %s", c->nick);
    else out_say(c, "* you have no nickname; /nick NAME sets one");
}

/* A peer named by its full PeerId or by a unique part of it among the
 * connected peers (what the short form shows). */
static int find_peer(struct chat *c, const char *name, p2p_peerid *out)
{
    if (p2p_peerid_parse(out, name) == 0) return 0;
    p2p_conn *conns[MAX_LIST];
    size_t n = p2p_host_conns(c->host, conns, MAX_LIST), found = 0;
    for (size_t i = 0; i < n && i < MAX_LIST; i++) {
        char full[P2P_PEERID_STRMAX];
        const p2p_peerid *id = p2p_conn_peer(conns[i]);
        p2p_peerid_to_string(id, full, sizeof full);
        const char *nick = nick_table_get(&c->nicks, id);
        if (!strstr(full, name) && !(nick && !strcmp(nick, name))) continue;
        if (found && p2p_peerid_equal(out, id)) continue;
        *out = *id;
        found++;
    }
    return found == 1 ? 0 : found ? P2P_EEXIST : P2P_ENOTFOUND;
}

static void unlink_ping(struct ping_req *r)
{
    if (!r->chat) return;
    for (struct ping_req **p = &r->chat->pings; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
}

static void on_pong(int status, uint64_t rtt_us, bool last, void *arg)
{
    struct ping_req *r = arg;
    struct chat *c = r->chat;
    if (c) {
        struct chat_cmd cmd = { .kind = CMD_PING, .name = "ping", .id = r->has_id ? r->id : NULL, .id_is_num = r->id_is_num };
        if (status) {
            out_reply(c, &cmd, false, "ping %s failed: %s", r->who, p2p_strerror(status));
        } else if (c->json) {
            struct json_w *w = out_json_begin(c, "result", &cmd);
            json_w_cstr(w, "peer", r->who);
            json_w_ms(w, "rtt_ms", rtt_us / 1000.0);
            out_json_end(c);
        } else {
            char s[64];
            out_short_id(r->who, s, sizeof s);
            out_say(c, "* pong from %s: %.3f ms", s, rtt_us / 1000.0);
        }
    }
    if (last) {
        unlink_ping(r);
        free(r);
    }
}

static void ping_cmd(struct chat *c, const struct chat_cmd *cmd)
{
    p2p_peerid id;
    int rc = find_peer(c, cmd->arg, &id);
    if (rc == P2P_EEXIST) return out_reply(c, cmd, false, "'%s' matches several peers; give more of the PeerId", cmd->arg);
    if (rc < 0) return out_reply(c, cmd, false, "no connected peer matches '%s'", cmd->arg);
    void *st;
    const struct p2p_ping_api_v1 *ping = p2p_service_get(c->host, P2P_PING_SERVICE, 1, &st);
    if (!ping) return out_reply(c, cmd, false, "ping is not available: add [plugin ping] to the configuration");
    struct ping_req *r = calloc(1, sizeof *r);
    if (!r) return out_reply(c, cmd, false, "out of memory");
    r->chat = c;
    out_peer_text(&id, r->who, sizeof r->who);
    if (cmd->id) {
        snprintf(r->id, sizeof r->id, "%s", cmd->id);
        r->has_id = true;
        r->id_is_num = cmd->id_is_num;
    }
    r->next = c->pings;
    c->pings = r;
    if ((rc = ping->ping(st, &id, 3, on_pong, r)) < 0) {
        out_reply(c, cmd, false, "ping %s failed: %s", r->who, p2p_strerror(rc));
        unlink_ping(r);
        free(r);
    }
}

static void show_addrs(struct chat *c, const struct chat_cmd *cmd)
{
    p2p_multiaddr addrs[32];
    size_t n = p2p_host_advertised_addrs(c->host, addrs, 32);
    const p2p_peerid *me = p2p_host_peerid(c->host);
    struct json_w *w = NULL;
    if (c->json) {
        w = out_json_begin(c, "result", cmd);
        json_w_arr_open(w, "addrs");
    } else {
        out_say(c, "* %zu address(es):", n);
    }
    for (size_t i = 0; i < n && i < 32; i++) {
        char t[P2P_MADDR_STRMAX];
        if (p2p_maddr_push(&addrs[i], P2P_MA_P2P, me->bytes, me->len) != 0 || p2p_maddr_to_string(&addrs[i], t, sizeof t) <= 0)
            continue;
        if (w) json_w_cstr(w, NULL, t);
        else out_say(c, "*   %s", t);
    }
    if (w) {
        json_w_arr_close(w);
        out_json_end(c);
    }
}

static void history_row(const struct history_msg *m, void *arg)
{
    out_message(arg, m->room, m->sender, m->nick, m->text, m->len, m->time_ms, true, m->outgoing);
}

void chat_show_history(struct chat *c, const char *room, const uint8_t *text, size_t len, unsigned n,
                       const struct chat_cmd *cmd)
{
    char err[512];
    if (!c->hist) return out_reply(c, cmd, false, "there is no history ([app chat] history is off, or it failed at start)");
    if (!c->json && !cmd) {
        int64_t have = history_count(c->hist, room);
        if (have <= 0) return;
        out_say(c, "* the last %lld message(s) of room %s:", (long long)(have < n ? have : n), room);
    }
    int got = text ? history_search(c->hist, room, text, len, n, history_row, c, err, sizeof err)
                   : history_last(c->hist, room, n, history_row, c, err, sizeof err);
    if (got < 0) return chat_history_failed(c, err);
    if (!cmd) return;
    if (c->json) {
        struct json_w *w = out_json_begin(c, "result", cmd);
        json_w_cstr(w, "room", room);
        json_w_int(w, "count", got);
        out_json_end(c);
    } else if (text) {
        out_say(c, "* %d message(s) found in room %s", got, room);
    } else {
        out_say(c, "* %d message(s) of room %s shown", got, room);
    }
}

static void history_cmd(struct chat *c, const struct chat_cmd *cmd)
{
    struct room *r = target_room(c, cmd);
    if (!r) return;
    unsigned n = cmd->limit ? (unsigned)cmd->limit : c->history_show ? c->history_show : 20;
    chat_show_history(c, r->name, cmd->text, cmd->text_len, n, cmd);
}

void chat_run(struct chat *c, struct chat_cmd *cmd)
{
    switch (cmd->kind) {
    case CMD_SEND: return send_cmd(c, cmd);
    case CMD_HELP: return show_help(c, cmd);
    case CMD_PEERS: return show_peers(c, cmd);
    case CMD_ROOMS: return show_rooms(c, cmd);
    case CMD_JOIN: return chat_join(c, cmd->room, cmd);
    case CMD_LEAVE: return leave_cmd(c, cmd);
    case CMD_NICK: return nick_cmd(c, cmd);
    case CMD_PING: return ping_cmd(c, cmd);
    case CMD_ADDRS: return show_addrs(c, cmd);
    case CMD_HISTORY: return history_cmd(c, cmd);
    case CMD_QUIT:
        if (c->json) {
            out_json_begin(c, "result", cmd);
            out_json_end(c);
        }
        raise(SIGTERM);
        return;
    }
}

void chat_handle_line(struct chat *c, char *line, size_t len)
{
    struct chat_cmd cmd;
    char err[512];
    if (c->json && len && line[0] == '{') {
        size_t cap = CMD_JSON_STORE(len);
        char *store = malloc(cap);
        if (!store) return out_reply(c, NULL, false, "out of memory");
        if (cmd_parse_json(line, len, &cmd, store, cap, err, sizeof err) < 0) out_reply(c, &cmd, false, "%s", err);
        else chat_run(c, &cmd);
        free(store);
        return;
    }
    if (cmd_parse_line(line, len, &cmd, err, sizeof err) < 0) return out_reply(c, &cmd, false, "%s", err);
    if (cmd.kind) chat_run(c, &cmd);
}
