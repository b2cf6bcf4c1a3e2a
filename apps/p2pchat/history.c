/* history.c - see history.h. */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "history.h"
#include "p2p/peerid.h"

#define SCHEMA_VERSION 1
/* How long a statement waits for another process's lock before giving
 * up: short, because it runs on the event loop. */
#define BUSY_TIMEOUT_MS 250
/* Age pruning runs at open and every this many inserts. */
#define AGE_PRUNE_EVERY 256

struct history {
    sqlite3 *db;
    sqlite3_stmt *ins, *prune, *last, *search, *count, *age;
    uint32_t max_rows;
    uint64_t max_age_ms;
    unsigned inserts;
    int lock_fd;   /* flock()ed: one p2pchat per history file */
    char path[PATH_MAX];
};

static int failf(struct history *h, char *err, size_t errlen, const char *what) 
{
    int code = h->db ? sqlite3_extended_errcode(h->db) & 0xff : SQLITE_CANTOPEN;
    const char *why = h->db ? sqlite3_errmsg(h->db) : "cannot open";
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        why = "the database is locked by another program";
    else if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
        why = "the file is not a valid history database (corrupt?); move it away to start a new one";
    else if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM)
        why = code == SQLITE_CANTOPEN ? "cannot open or create the file" : "the file is read-only";
    snprintf(err, errlen, "history %s: %s: %s", what, h->path, why);
    return -1;
}

/* mkdir -p of the directory part of path (mode 0700 for new levels). */
static int make_dirs(const char *path, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *end = strrchr(dir, '/');
    if (!end || end == dir) return 0;
    *end = 0;
    for (char *p = dir + 1; p <= end; p++) {
        if (*p && *p != '/') continue;
        char saved = *p;
        *p = 0;
        struct stat st;
        if (stat(dir, &st) != 0 && mkdir(dir, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "history: cannot create directory %s: %s", dir, strerror(errno));
            return -1;
        }
        *p = saved;
    }
    return 0;
}

static int prepare(struct history *h, const char *sql, sqlite3_stmt **st)
{
    return sqlite3_prepare_v2(h->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : -1;
}

static int prune_age(struct history *h, int64_t now_ms)
{
    if (!h->max_age_ms) return 0;
    sqlite3_reset(h->age);
    sqlite3_bind_int64(h->age, 1, now_ms - (int64_t)h->max_age_ms);
    int rc = sqlite3_step(h->age);
    sqlite3_reset(h->age);
    return rc == SQLITE_DONE ? 0 : -1;
}

struct history *history_open(const char *path, uint32_t max_rows, uint64_t max_age_ms, int64_t now_ms,
                             char *err, size_t errlen)
{
    struct history *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "history: out of memory");
        return NULL;
    }
    h->lock_fd = -1;
    h->max_rows = max_rows;
    h->max_age_ms = max_age_ms;
    if (strlen(path) >= sizeof h->path) {
        snprintf(err, errlen, "history: path too long");
        free(h);
        return NULL;
    }
    strcpy(h->path, path);
    if (make_dirs(path, err, errlen) < 0) {
        free(h);
        return NULL;
    }
    /* Two p2pchat of one user (the second runs with an ephemeral
     * identity) would store every message twice: the first one keeps
     * the history. flock() is separate from SQLite's fcntl() locks; the
     * descriptor stays open until after sqlite3_close, because closing
     * any descriptor of the file drops the process's fcntl() locks. New
     * files are private (0600). */
    h->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (h->lock_fd < 0 || flock(h->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (h->lock_fd >= 0 && errno == EWOULDBLOCK)
            snprintf(err, errlen, "history disabled: %s is in use by another p2pchat", path);
        else
            snprintf(err, errlen, "history disabled: %s: %s", path, strerror(errno));
        history_close(h);
        return NULL;
    }
    if (sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        failf(h, err, errlen, "disabled");
        history_close(h);
        return NULL;
    }
    sqlite3_busy_timeout(h->db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(h->db, 1);
    int version = -1;
    sqlite3_stmt *st = NULL;
    if (prepare(h, "PRAGMA user_version", &st) == 0 && sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version < 0) {
        failf(h, err, errlen, "disabled");
        history_close(h);
        return NULL;
    }
    if (version > SCHEMA_VERSION) {
        snprintf(err, errlen, "history disabled: %s was written by a newer p2pchat (schema %d, we know %d)", path,
                 version, SCHEMA_VERSION);
        history_close(h);
        return NULL;
    }
    if (sqlite3_db_readonly(h->db, "main") == 1) {
        snprintf(err, errlen, "history disabled: %s: the file is read-only", path);
        history_close(h);
        return NULL;
    }
    /* WAL with synchronous=NORMAL: a message costs no fsync on the
     * loop; an application crash loses nothing, a power loss at most the
     * last messages. BEGIN IMMEDIATE takes the write lock now, so a
     * locked database is found at start rather than at the first
     * message. */
    if (sqlite3_exec(h->db,
                     "PRAGMA journal_mode = WAL;"
                     "PRAGMA synchronous = NORMAL;"
                     "BEGIN IMMEDIATE;"
                     "CREATE TABLE IF NOT EXISTS messages("
                     " id INTEGER PRIMARY KEY,"
                     " room TEXT NOT NULL,"
                     " time_ms INTEGER NOT NULL,"
                     " sender TEXT NOT NULL,"
                     " nick TEXT,"
                     " text BLOB NOT NULL,"
                     " outgoing INTEGER NOT NULL DEFAULT 0);"
                     "CREATE INDEX IF NOT EXISTS messages_room ON messages(room, id);"
                     "PRAGMA user_version = 1;"
                     "COMMIT;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        prepare(h, "INSERT INTO messages(room, time_ms, sender, nick, text, outgoing) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &h->ins) < 0 ||
        prepare(h, "DELETE FROM messages WHERE room = ?1 AND id <= "
                   "(SELECT id FROM messages WHERE room = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                &h->prune) < 0 ||
        prepare(h, "SELECT time_ms, room, sender, nick, text, outgoing FROM "
                   "(SELECT * FROM messages WHERE room = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id",
                &h->last) < 0 ||
        prepare(h, "SELECT time_ms, room, sender, nick, text, outgoing FROM "
                   "(SELECT * FROM messages WHERE room = ?1 AND CAST(text AS TEXT) LIKE ?3 ESCAPE '\\' "
                   "ORDER BY id DESC LIMIT ?2) ORDER BY id",
                &h->search) < 0 ||
        prepare(h, "SELECT count(*) FROM messages WHERE room = ?1", &h->count) < 0 ||
        prepare(h, "DELETE FROM messages WHERE time_ms < ?1", &h->age) < 0 || prune_age(h, now_ms) < 0) {
        failf(h, err, errlen, "disabled");
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
        history_close(h);
        return NULL;
    }
    return h;
}

void history_close(struct history *h)
{
    if (!h) return;
    sqlite3_finalize(h->ins);
    sqlite3_finalize(h->prune);
    sqlite3_finalize(h->last);
    sqlite3_finalize(h->search);
    sqlite3_finalize(h->count);
    sqlite3_finalize(h->age);
    if (h->db) sqlite3_close(h->db);
    if (h->lock_fd >= 0) close(h->lock_fd);
    free(h);
}

const char *history_path(const struct history *h)
{
    return h->path;
}

int history_add(struct history *h, const struct history_msg *m, char *err, size_t errlen)
{
    sqlite3_stmt *s = h->ins;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, m->room, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, m->time_ms);
    sqlite3_bind_text(s, 3, m->sender, -1, SQLITE_STATIC);
    if (m->nick) sqlite3_bind_text(s, 4, m->nick, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, 4);
    sqlite3_bind_blob(s, 5, m->len ? (const void *)m->text : "", (int)m->len, SQLITE_STATIC);
    sqlite3_bind_int(s, 6, m->outgoing);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) return failf(h, err, errlen, "write failed");
    sqlite3_reset(h->prune);
    sqlite3_bind_text(h->prune, 1, m->room, -1, SQLITE_STATIC);
    sqlite3_bind_int64(h->prune, 2, h->max_rows);
    rc = sqlite3_step(h->prune);
    sqlite3_reset(h->prune);
    if (rc != SQLITE_DONE) return failf(h, err, errlen, "write failed");
    if (++h->inserts % AGE_PRUNE_EVERY == 0 && prune_age(h, m->time_ms) < 0)
        return failf(h, err, errlen, "write failed");
    return 0;
}

static int rows(struct history *h, sqlite3_stmt *s, history_row_cb cb, void *arg, char *err, size_t errlen)
{
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct history_msg m = {
            .time_ms = sqlite3_column_int64(s, 0),
            .room = (const char *)sqlite3_column_text(s, 1),
            .sender = (const char *)sqlite3_column_text(s, 2),
            .nick = (const char *)sqlite3_column_text(s, 3),
            .text = sqlite3_column_blob(s, 4),
            .len = (size_t)sqlite3_column_bytes(s, 4),
            .outgoing = sqlite3_column_int(s, 5) != 0,
        };
        if (!m.room || !m.sender) continue;
        if (!m.text) m.text = (const uint8_t *)"";
        cb(&m, arg);
        n++;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? n : failf(h, err, errlen, "read failed");
}

int history_last(struct history *h, const char *room, unsigned n, history_row_cb cb, void *arg, char *err,
                 size_t errlen)
{
    sqlite3_reset(h->last);
    sqlite3_bind_text(h->last, 1, room, -1, SQLITE_STATIC);
    sqlite3_bind_int64(h->last, 2, n);
    return rows(h, h->last, cb, arg, err, errlen);
}

int history_search(struct history *h, const char *room, const uint8_t *text, size_t len, unsigned n,
                   history_row_cb cb, void *arg, char *err, size_t errlen)
{
    /* %text% with LIKE's own wildcards escaped. */
    char *pat = malloc(len * 2 + 3);
    if (!pat) {
        snprintf(err, errlen, "history: out of memory");
        return -1;
    }
    size_t o = 0;
    pat[o++] = '%';
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '%' || text[i] == '_' || text[i] == '\\') pat[o++] = '\\';
        pat[o++] = (char)text[i];
    }
    pat[o++] = '%';
    sqlite3_reset(h->search);
    sqlite3_bind_text(h->search, 1, room, -1, SQLITE_STATIC);
    sqlite3_bind_int64(h->search, 2, n);
    sqlite3_bind_text(h->search, 3, pat, (int)o, SQLITE_STATIC);
    int rc = rows(h, h->search, cb, arg, err, errlen);
    free(pat);
    return rc;
}

int64_t history_count(struct history *h, const char *room)
{
    sqlite3_reset(h->count);
    sqlite3_bind_text(h->count, 1, room, -1, SQLITE_STATIC);
    int64_t n = sqlite3_step(h->count) == SQLITE_ROW ? sqlite3_column_int64(h->count, 0) : -1;
    sqlite3_reset(h->count);
    return n;
}

int history_default_path(const char *identity_path, char *out, size_t cap)
{
    char base[PATH_MAX];
    if (identity_path && *identity_path) snprintf(base, sizeof base, "%s", identity_path);
    else if (p2p_identity_default_path(base, sizeof base) != 0) return -1;
    char *slash = strrchr(base, '/');
    int n = slash ? snprintf(out, cap, "%.*s/history.db", (int)(slash - base), base) : snprintf(out, cap, "history.db");
    return n > 0 && (size_t)n < cap ? 0 : -1;
}
