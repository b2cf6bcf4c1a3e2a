/* cmd.h - the chat's commands, from a typed line ("/join ROOM", or a
 * message) or from a JSON object ({"cmd":"join","room":"ROOM"}), parsed
 * into one struct that one executor (chat.c) runs. No I/O.
 *
 * Lifetimes: the pointers in struct chat_cmd point into the line (text
 * form, which is modified) or into the store given to cmd_parse_json. */
#ifndef P2PCHAT_CMD_H
#define P2PCHAT_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAT_ROOM_MAX 255    /* bytes of a room name */
#define CHAT_NICK_MAX 32     /* bytes of a nickname */
#define CHAT_HISTORY_LIMIT_MAX 1000

enum chat_cmd_kind {
    CMD_SEND = 1, CMD_HELP, CMD_PEERS, CMD_ROOMS, CMD_JOIN, CMD_LEAVE, CMD_NICK,
    CMD_PING, CMD_ADDRS, CMD_HISTORY, CMD_QUIT
};

struct chat_cmd {
    enum chat_cmd_kind kind;
    const char *name;            /* "send", "join", ... (static) */
    const char *room;            /* NUL-terminated; NULL = the current room */
    const uint8_t *text;         /* send: the message; history: search text (NULL = none) */
    size_t text_len;
    const char *arg;             /* nick: NAME (NULL = show it); ping: PEER */
    int64_t limit;               /* history: how many (0 = the configured number) */
    const char *id;              /* JSON "id" to echo in results, NULL if none */
    bool id_is_num;              /* echo it as a number, not a string */
    char id_num[24];             /* the text of a numeric id */
};

/* The names of the commands and their arguments, for /help. */
extern const char cmd_help_text[];

/* A typed line (without its newline; trailing blanks are removed). An
 * empty line gives 0 and kind 0 (nothing to do). "//text" sends "/text".
 * Returns 0, or -1 with a sentence in err (the command's name in
 * c->name when known). */
int cmd_parse_line(char *line, size_t len, struct chat_cmd *c, char *err, size_t errlen);

/* Bytes of store cmd_parse_json needs for a line of len bytes. */
#define CMD_JSON_STORE(len) ((len) + 64)
/* A JSON command object (see docs/SCRIPTING.md). Returns 0, or -1 with a
 * sentence in err (c->id and c->name are filled when they were read). */
int cmd_parse_json(const char *line, size_t len, struct chat_cmd *c, char *store, size_t storecap,
                   char *err, size_t errlen);

#endif
