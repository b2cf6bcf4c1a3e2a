/* output.c - everything the chat prints: text lines for people (above
 * the prompt when the terminal interface runs, with a colour per sender)
 * or one JSON object per line for scripts (docs/SCRIPTING.md). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat_int.h"
#include "text.h"

/* Colours for senders (SGR foreground): readable on dark and light
 * backgrounds; a PeerId always gets the same one. */
static const int palette[] = { 31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96 };

void out_init(struct chat *c, const char *mode)
{
    /* https://no-color.org: NO_COLOR set and not empty disables colour. */
    const char *no = getenv("NO_COLOR");
    if (!strcmp(mode, "always")) c->color = true;
    else if (!strcmp(mode, "never")) c->color = false;
    else c->color = isatty(1) && !(no && *no);
    if (c->json) c->color = false;
    json_w_init(&c->jw);
}

static void emit(struct chat *c, FILE *f, const char *line)
{
    if (c->tui) {
        tui_print(c->tui, f, line);
        return;
    }
    fputs(line, f);
    fputc('\n', f);
    fflush(f);
}

void out_log_sink(void *arg, enum p2p_log_level level, const char *module, const char *line)
{
    (void)level;
    (void)module;
    struct chat *c = arg;
    if (c->tui && isatty(2)) tui_print(c->tui, stderr, line);
    else {
        fputs(line, stderr);
        fputc('\n', stderr);
    }
}

static void vsay(struct chat *c, const char *fmt, va_list ap)
{
    char ts[16], text[LINE_MAX_BYTES * 2];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%H:%M:%S", &tm);
    int n = snprintf(text, sizeof text, "[%s] ", ts);
    vsnprintf(text + n, sizeof text - (size_t)n, fmt, ap);
    emit(c, stdout, text);
}

void out_say(struct chat *c, const char *fmt, ...)
{
    if (c->json) return;
    va_list ap;
    va_start(ap, fmt);
    vsay(c, fmt, ap);
    va_end(ap);
}

struct json_w *out_json_begin(struct chat *c, const char *event, const struct chat_cmd *cmd)
{
    json_w_reset(&c->jw);
    json_w_obj_open(&c->jw, NULL);
    json_w_cstr(&c->jw, "event", event);
    if (cmd && cmd->name) json_w_cstr(&c->jw, "cmd", cmd->name);
    if (cmd && cmd->id) {
        if (cmd->id_is_num) json_w_int(&c->jw, "id", strtoll(cmd->id, NULL, 10));
        else json_w_cstr(&c->jw, "id", cmd->id);
    }
    return &c->jw;
}

void out_json_end(struct chat *c)
{
    json_w_obj_close(&c->jw);
    const char *s = json_w_finish(&c->jw);
    if (!s) return;
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

void out_reply(struct chat *c, const struct chat_cmd *cmd, bool ok, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->json) {
        json_w_cstr(out_json_begin(c, ok ? "result" : "error", cmd), "message", msg);
        out_json_end(c);
    } else {
        out_say(c, "* %s", msg);
    }
}

void out_short_id(const char *full, char *out, size_t cap)
{
    size_t n = strlen(full);
    if (n > 16) snprintf(out, cap, "%.8s...%s", full, full + n - 6);
    else snprintf(out, cap, "%s", full);
}

void out_peer_text(const p2p_peerid *id, char *out, size_t cap)
{
    char full[P2P_PEERID_STRMAX];
    p2p_peerid_to_string(id, full, sizeof full);
    snprintf(out, cap, "%s", full);
}

void out_who(struct chat *c, const char *peer, const char *nick, char *out, size_t cap)
{
    char s[64], name[CHAT_NICK_MAX * 2 + 80];
    if (!*peer) {
        snprintf(out, cap, "anonymous");
        return;
    }
    out_short_id(peer, s, sizeof s);
    if (nick) {
        char clean[CHAT_NICK_MAX * 2];
        text_sanitize((const uint8_t *)nick, strlen(nick), clean, sizeof clean);
        snprintf(name, sizeof name, "%s (%s)", clean, s);
    } else {
        snprintf(name, sizeof name, "%s", s);
    }
    if (!c->color) {
        snprintf(out, cap, "%s", name);
        return;
    }
    uint32_t h = 2166136261u;   /* FNV-1a of the PeerId text */
    for (const char *p = peer; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    snprintf(out, cap, "\033[%dm%s\033[0m", palette[h % (sizeof palette / sizeof *palette)], name);
}

void out_message(struct chat *c, const char *room, const char *sender, const char *nick, const uint8_t *text,
                 size_t len, int64_t time_ms, bool history, bool outgoing)
{
    if (c->json) {
        struct json_w *w = out_json_begin(c, history ? "history" : "message", NULL);
        json_w_cstr(w, "room", room);
        if (*sender) json_w_cstr(w, "from", sender);
        if (nick) json_w_cstr(w, "nick", nick);
        json_w_str(w, "text", text, len);
        json_w_int(w, "time_ms", time_ms);
        if (history) json_w_bool(w, "outgoing", outgoing);
        out_json_end(c);
        return;
    }
    char who[256], ts[32], clean[LINE_MAX_BYTES * 2], where[CHAT_ROOM_MAX + 4] = "";
    out_who(c, sender, nick, who, sizeof who);
    text_sanitize(text, len, clean, sizeof clean);
    time_t t = (time_t)(time_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(ts, sizeof ts, history ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm);
    /* With several rooms joined, say which one. */
    if (c->nrooms > 1 || history) snprintf(where, sizeof where, "#%s ", room);
    char *line = malloc(strlen(clean) + 1024);
    if (!line) return;
    sprintf(line, "[%s] %s%s: %s", ts, where, who, clean);
    emit(c, stdout, line);
    free(line);
}
