/* cmd.c - see cmd.h. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "json.h"
#include "text.h"

const char cmd_help_text[] =
    "/help                 this list\n"
    "/peers                connected peers: direct or relayed, round-trip time\n"
    "/rooms                joined rooms and their members (* = current)\n"
    "/join ROOM            join ROOM (or switch to it); plain lines go to the current room\n"
    "/leave [ROOM]         leave ROOM (default: the current room)\n"
    "/nick [NAME]          show or set the nickname other p2pchat users see\n"
    "/ping PEER            ping a peer (PeerId, or part of one from /peers)\n"
    "/addrs                our addresses, ready to give to --bootstrap\n"
    "/history [TEXT]       the room's last messages, or those containing TEXT\n"
    "/quit                 leave\n"
    "//text                send a line starting with '/'";

static const struct {
    const char *name;
    enum chat_cmd_kind kind;
    enum { ARG_NONE, ARG_OPT, ARG_REQ } arg;
    const char *usage;
} cmds[] = {
    { "send", CMD_SEND, ARG_REQ, "/send TEXT" },
    { "help", CMD_HELP, ARG_NONE, "/help" },
    { "peers", CMD_PEERS, ARG_NONE, "/peers" },
    { "rooms", CMD_ROOMS, ARG_NONE, "/rooms" },
    { "join", CMD_JOIN, ARG_REQ, "/join ROOM" },
    { "leave", CMD_LEAVE, ARG_OPT, "/leave [ROOM]" },
    { "nick", CMD_NICK, ARG_OPT, "/nick [NAME]" },
    { "ping", CMD_PING, ARG_REQ, "/ping PEER" },
    { "addrs", CMD_ADDRS, ARG_NONE, "/addrs" },
    { "history", CMD_HISTORY, ARG_OPT, "/history [TEXT]" },
    { "quit", CMD_QUIT, ARG_NONE, "/quit" },
};
#define NCMDS (sizeof cmds / sizeof *cmds)

static int find_cmd(const char *name, size_t len)
{
    for (size_t i = 0; i < NCMDS; i++)
        if (strlen(cmds[i].name) == len && !memcmp(cmds[i].name, name, len)) return (int)i;
    return -1;
}

/* The argument rules shared by both forms. */
static int check(struct chat_cmd *c, char *err, size_t errlen)
{
    if (c->room && !text_valid_name((const uint8_t *)c->room, strlen(c->room), CHAT_ROOM_MAX)) {
        snprintf(err, errlen, "a room name is 1 to %d bytes of UTF-8 without control characters or blanks at either end",
                 CHAT_ROOM_MAX);
        return -1;
    }
    if (c->kind == CMD_NICK && c->arg && !text_valid_name((const uint8_t *)c->arg, strlen(c->arg), CHAT_NICK_MAX)) {
        snprintf(err, errlen, "a nickname is 1 to %d bytes of UTF-8 without control characters or blanks at either end",
                 CHAT_NICK_MAX);
        return -1;
    }
    if (c->kind == CMD_SEND && !c->text_len) {
        snprintf(err, errlen, "nothing to send");
        return -1;
    }
    if (c->limit < 0 || c->limit > CHAT_HISTORY_LIMIT_MAX) {
        snprintf(err, errlen, "limit must be from 0 to %d", CHAT_HISTORY_LIMIT_MAX);
        return -1;
    }
    return 0;
}

int cmd_parse_line(char *s, size_t len, struct chat_cmd *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t')) s[--len] = 0;
    if (!len) return 0;
    if (s[0] != '/' || (len > 1 && s[1] == '/')) {
        c->kind = CMD_SEND;
        c->name = "send";
        c->text = (const uint8_t *)s + (s[0] == '/');
        c->text_len = len - (s[0] == '/');
        return 0;
    }
    size_t n = 1;
    while (n < len && s[n] != ' ') n++;
    int i = find_cmd(s + 1, n - 1);
    if (i < 0 || cmds[i].kind == CMD_SEND) {
        snprintf(err, errlen, "unknown command %.*s; type /help (start a message with // to send a line beginning with /)",
                 (int)(n > 40 ? 40 : n), s);
        return -1;
    }
    c->kind = cmds[i].kind;
    c->name = cmds[i].name;
    char *arg = s + n;
    while (*arg == ' ') arg++;
    if (!*arg) arg = NULL;
    if ((cmds[i].arg == ARG_NONE && arg) || (cmds[i].arg == ARG_REQ && !arg)) {
        snprintf(err, errlen, "usage: %s", cmds[i].usage);
        return -1;
    }
    switch (c->kind) {
    case CMD_JOIN:
    case CMD_LEAVE: c->room = arg; break;
    case CMD_HISTORY:
        if (arg) {
            c->text = (const uint8_t *)arg;
            c->text_len = strlen(arg);
        }
        break;
    default: c->arg = arg; break;
    }
    return check(c, err, errlen);
}

/* Which JSON fields each command takes besides "cmd" and "id". */
static bool field_allowed(enum chat_cmd_kind k, const char *key)
{
    if (!strcmp(key, "room")) return k == CMD_SEND || k == CMD_JOIN || k == CMD_LEAVE || k == CMD_HISTORY;
    if (!strcmp(key, "text")) return k == CMD_SEND || k == CMD_HISTORY;
    if (!strcmp(key, "name")) return k == CMD_NICK;
    if (!strcmp(key, "peer")) return k == CMD_PING;
    if (!strcmp(key, "limit")) return k == CMD_HISTORY;
    return false;
}

int cmd_parse_json(const char *line, size_t len, struct chat_cmd *c, char *store, size_t storecap, char *err,
                   size_t errlen)
{
    struct json_field f[JSON_MAX_FIELDS];
    memset(c, 0, sizeof *c);
    int n = json_parse_flat(line, len, f, store, storecap, err, errlen);
    if (n < 0) return -1;
    const struct json_field *cmdf = NULL;
    for (int i = 0; i < n; i++) {
        if (!strcmp(f[i].key, "id")) {
            if (f[i].type == JSON_STR && text_valid_name((const uint8_t *)f[i].str, f[i].len, 128)) {
                c->id = f[i].str;
            } else if (f[i].type == JSON_NUM && f[i].is_int && f[i].num >= -9007199254740991.0 &&
                       f[i].num <= 9007199254740991.0) {
                snprintf(c->id_num, sizeof c->id_num, "%.0f", f[i].num);
                c->id = c->id_num;
                c->id_is_num = true;
            } else {
                snprintf(err, errlen, "\"id\" must be a short string or an integer");
                return -1;
            }
        } else if (!strcmp(f[i].key, "cmd")) {
            cmdf = &f[i];
        }
    }
    if (!cmdf || cmdf->type != JSON_STR) {
        snprintf(err, errlen, "\"cmd\" missing; expected e.g. {\"cmd\":\"send\",\"text\":\"hello\"}");
        return -1;
    }
    int ci = find_cmd(cmdf->str, cmdf->len);
    if (ci < 0 || strlen(cmdf->str) != cmdf->len) {
        snprintf(err, errlen, "unknown cmd; expected one of send, help, peers, rooms, join, leave, nick, ping, addrs, history, quit");
        return -1;
    }
    c->kind = cmds[ci].kind;
    c->name = cmds[ci].name;
    for (int i = 0; i < n; i++) {
        const char *k = f[i].key;
        if (!strcmp(k, "id") || !strcmp(k, "cmd")) continue;
        if (!field_allowed(c->kind, k)) {
            snprintf(err, errlen, "\"%s\" is not a field of \"%s\"", k, c->name);
            return -1;
        }
        if (!strcmp(k, "limit")) {
            if (f[i].type != JSON_NUM || !f[i].is_int || f[i].num < 0 || f[i].num > CHAT_HISTORY_LIMIT_MAX) {
                snprintf(err, errlen, "\"limit\" must be an integer from 0 to %d", CHAT_HISTORY_LIMIT_MAX);
                return -1;
            }
            c->limit = (int64_t)f[i].num;
            continue;
        }
        if (f[i].type != JSON_STR) {
            snprintf(err, errlen, "\"%s\" must be a string", k);
            return -1;
        }
        if (!strcmp(k, "text")) {
            c->text = (const uint8_t *)f[i].str;
            c->text_len = f[i].len;
        } else if (strlen(f[i].str) != f[i].len) {
            snprintf(err, errlen, "\"%s\" contains a NUL character", k);
            return -1;
        } else if (!strcmp(k, "room")) {
            c->room = f[i].str;
        } else {
            c->arg = f[i].str;
        }
    }
    if (c->kind == CMD_JOIN && !c->room) {
        snprintf(err, errlen, "\"join\" needs \"room\"");
        return -1;
    }
    if ((c->kind == CMD_PING && !c->arg) || (c->kind == CMD_SEND && !c->text)) {
        snprintf(err, errlen, "\"%s\" needs \"%s\"", c->name, c->kind == CMD_PING ? "peer" : "text");
        return -1;
    }
    return check(c, err, errlen);
}
