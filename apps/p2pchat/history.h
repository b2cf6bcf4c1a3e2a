/* history.h - the chat's message history: one SQLite database
 * (history.db in the XDG data directory by default) holding the messages
 * of every room, bounded per room and by age. Time is passed in by the
 * caller (milliseconds since the epoch), so the logic is testable.
 *
 * Failure policy: every function that fails fills err with one sentence
 * (naming the file and the reason: not a database, locked, read-only,
 * ...); the caller reports it once and goes on without history. */
#ifndef P2PCHAT_HISTORY_H
#define P2PCHAT_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct history;

struct history_msg {
    int64_t time_ms;        /* when we received (or sent) it */
    const char *room;
    const char *sender;     /* PeerId text; "" for an anonymous message */
    const char *nick;       /* the sender's nickname then, or NULL */
    const uint8_t *text;    /* the message bytes, as received */
    size_t len;
    bool outgoing;          /* we sent it */
};

/* Rows are given oldest first; pointers are valid during the call. */
typedef void (*history_row_cb)(const struct history_msg *m, void *arg);

/* Open or create path (missing directories are created, mode 0700).
 * max_rows: kept per room (older ones are deleted); max_age_ms: messages
 * older than this are deleted (0 = no age limit). NULL on failure. */
struct history *history_open(const char *path, uint32_t max_rows, uint64_t max_age_ms, int64_t now_ms,
                             char *err, size_t errlen);
void history_close(struct history *h);
const char *history_path(const struct history *h);

/* Store a message and prune the room to max_rows. 0 or -1. */
int history_add(struct history *h, const struct history_msg *m, char *err, size_t errlen);
/* The last n messages of room. Returns how many, or -1. */
int history_last(struct history *h, const char *room, unsigned n, history_row_cb cb, void *arg,
                 char *err, size_t errlen);
/* The last n messages of room containing text (ASCII case-insensitive).
 * Returns how many, or -1. */
int history_search(struct history *h, const char *room, const uint8_t *text, size_t len, unsigned n,
                   history_row_cb cb, void *arg, char *err, size_t errlen);
/* Number of messages stored for room (for tests and /rooms). -1 on error. */
int64_t history_count(struct history *h, const char *room);

/* The default location: history.db in the directory of identity_path
 * when given, else in $XDG_DATA_HOME/p2pchat (or ~/.local/share/p2pchat).
 * 0, or -1 when no directory is known (no $HOME). */
int history_default_path(const char *identity_path, char *out, size_t cap);

#endif
