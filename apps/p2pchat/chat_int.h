/* chat_int.h - what chat.c (rooms, network, input), commands.c (the
 * command executor) and output.c (text or JSON output) share. Not an
 * interface for anything else. */
#ifndef P2PCHAT_CHAT_INT_H
#define P2PCHAT_CHAT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "chat.h"
#include "cmd.h"
#include "history.h"
#include "json.h"
#include "nick.h"
#include "p2p/pubsub.h"
#include "p2p/routing.h"
#include "tui.h"

#define LINE_MAX_BYTES 65536

struct room;

/* One outstanding DHT look-up; outlives its room if the room is left or
 * the chat stops first (room is then NULL and the callback frees it). */
/* The DHT operations of a room in flight. Their callbacks may run after
 * the room is gone (room == NULL then): the last of them frees this. */
struct room_lookup {
    struct room *room;
    bool busy;           /* find_providers under way */
    bool announcing;     /* provide under way */
};

struct room {
    struct chat *chat;
    char name[CHAT_ROOM_MAX + 1];
    p2p_pubsub_sub *sub;
    /* Room discovery (DHT): we provide the room key and look up the
     * other providers; found peers are dialed by the host (auto_dial). */
    uint8_t key[34];
    bool provided;       /* the routing plugin keeps our provider record (stop_providing on leave) */
    bool announce;       /* announce (again) at the next round: see announce_room() in chat.c */
    bool found;          /* the DHT named another member */
    struct room_lookup *lookup;
};

/* A /ping in flight; chat == NULL once the chat stopped. */
struct ping_req {
    struct chat *chat;
    struct ping_req *next;
    char who[64];
    char id[130];         /* the command's "id" (at most 128 bytes) */
    bool id_is_num, has_id;
};

struct chat {
    p2p_host *host;
    const struct p2p_pubsub_api_v1 *ps;
    void *ps_state;
    void *peer_listener;
    p2p_subscription *conn_events;
    p2p_subscription *addr_events;   /* our addresses changed: announce the rooms again */
    /* rooms: the first max_rooms slots; current is where plain lines go */
    struct room **rooms;
    size_t nrooms, max_rooms;
    struct room *current;
    /* output */
    bool json, color, log_sink;
    struct tui *tui;
    struct json_w jw;
    /* nicknames */
    char nick[CHAT_NICK_MAX + 1];
    p2p_pubsub_sub *nick_sub;
    struct nick_table nicks;
    p2p_timer *nick_timer;
    /* history */
    struct history *hist;
    unsigned history_show;
    struct ping_req *pings;
    /* plain stdin (not a terminal, or --json): heap-allocated, freed by
     * its close callback (the handle may outlive struct chat). */
    union stdin_handle {
        uv_handle_t h;
        uv_stream_t s;
        uv_tty_t tty;
        uv_pipe_t pipe;
    } *in;
    bool in_tty;
    char *line;
    size_t line_len;
    bool line_too_long;
    /* bootstrap peers */
    p2p_timer *redial;
    size_t nboot;
    p2p_multiaddr *boot;
    p2p_peerid *boot_ids;
    /* room discovery */
    const struct p2p_routing_api_v1 *rt;
    void *rt_state;
    bool discovery;
    p2p_timer *room_timer;
    bool round_soon;          /* room_timer set to fire within ROOM_FIRST_LOOKUP_MS */
    uint64_t room_interval_ms;
    uint64_t room_next_ms;      /* doubles until every room found a member */
};

/* chat.c */
struct room *chat_find_room(struct chat *c, const char *name);
/* Join (or switch to) a room; reports through cmd (NULL at start). */
void chat_join(struct chat *c, const char *name, const struct chat_cmd *cmd);
void chat_leave(struct chat *c, struct room *r, const struct chat_cmd *cmd);
void chat_set_nick(struct chat *c, const char *nick);
/* Stop using the history after a failure (reported once). */
void chat_history_failed(struct chat *c, const char *err);
int64_t chat_now_ms(void);

/* commands.c */
void chat_run(struct chat *c, struct chat_cmd *cmd);
/* A line from stdin or the terminal: JSON command, /command or message. */
void chat_handle_line(struct chat *c, char *line, size_t len);
void chat_show_history(struct chat *c, const char *room, const uint8_t *text, size_t len, unsigned n,
                       const struct chat_cmd *cmd);

/* output.c */
void out_init(struct chat *c, const char *color_mode);
/* "[12:00:01] ..." in text mode (no-op in JSON mode). */
void out_say(struct chat *c, const char *fmt, ...) P2P_PRINTF(2, 3);
/* The result of a command (ok) or an error: "* text" in text mode, a
 * "result"/"error" object with "message" in JSON mode. cmd may be NULL. */
void out_reply(struct chat *c, const struct chat_cmd *cmd, bool ok, const char *fmt, ...) P2P_PRINTF(4, 5);
/* JSON mode: start an object {"event":EVENT (, "cmd", "id" of cmd)...};
 * add fields to the returned writer, then out_json_end. */
struct json_w *out_json_begin(struct chat *c, const char *event, const struct chat_cmd *cmd);
void out_json_end(struct chat *c);
/* A message: live (history false) or from the history. */
void out_message(struct chat *c, const char *room, const char *sender, const char *nick, const uint8_t *text,
                 size_t len, int64_t time_ms, bool history, bool outgoing);
/* "12D3KooW...abcdef" from a PeerId's text. */
void out_short_id(const char *full, char *out, size_t cap);
void out_peer_text(const p2p_peerid *id, char *out, size_t cap);
/* Text mode: a peer's name for display, with nickname and colour. */
void out_who(struct chat *c, const char *peer_text, const char *nick, char *out, size_t cap);
/* The log sink of the terminal interface. */
void out_log_sink(void *arg, enum p2p_log_level level, const char *module, const char *line);

#endif
