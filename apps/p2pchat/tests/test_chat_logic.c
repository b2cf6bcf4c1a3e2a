/* test_chat_logic.c - unit.chat_logic: the chat's I/O-free parts (UTF-8
 * and terminal cleaning, JSON writer and parser, commands, nicknames) and
 * the SQLite history on real files: caps, search, age, and the failures
 * that must turn history off with a clear sentence (corrupt file, locked
 * database, uncreatable directory, newer schema). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "history.h"
#include "json.h"
#include "nick.h"
#include "testutil.h"
#include "text.h"

#define S(x) (const uint8_t *)(x), sizeof(x) - 1

START_TEST(utf8_decoding)
{
    uint32_t cp;
    ck_assert_uint_eq(text_utf8_next(S("A"), &cp), 1);
    ck_assert_uint_eq(cp, 'A');
    ck_assert_uint_eq(text_utf8_next(S("\xC3\xA9"), &cp), 2);
    ck_assert_uint_eq(cp, 0xE9);
    ck_assert_uint_eq(text_utf8_next(S("\xE2\x82\xAC"), &cp), 3);
    ck_assert_uint_eq(cp, 0x20AC);
    ck_assert_uint_eq(text_utf8_next(S("\xF0\x9F\x98\x80"), &cp), 4);
    ck_assert_uint_eq(cp, 0x1F600);
    /* malformed: one U+FFFD per maximal valid prefix */
    ck_assert_uint_eq(text_utf8_next(S("\xC0\x80"), &cp), 1);   /* overlong lead */
    ck_assert_uint_eq(cp, TEXT_REPLACEMENT);
    ck_assert_uint_eq(text_utf8_next(S("\xE0\x80\x80"), &cp), 1);   /* overlong */
    ck_assert_uint_eq(text_utf8_next(S("\xED\xA0\x80"), &cp), 1);   /* surrogate */
    ck_assert_uint_eq(text_utf8_next(S("\xF4\x90\x80\x80"), &cp), 1);   /* > U+10FFFF */
    ck_assert_uint_eq(text_utf8_next(S("\xE2\x82" "A"), &cp), 2);   /* truncated */
    ck_assert_uint_eq(cp, TEXT_REPLACEMENT);
    ck_assert_uint_eq(text_utf8_next(S("\x80"), &cp), 1);
    ck_assert(text_utf8_valid(S("h\xC3\xA9 \xEF\xBF\xBD")));
    ck_assert(!text_utf8_valid(S("h\xFF")));
}
END_TEST

START_TEST(terminal_cleaning)
{
    char out[64];
    /* ESC, CR, C1 CSI (U+009B), RLO (U+202E), invalid byte */
    text_sanitize(S("a\x1b[2Jb\rc\xC2\x9B" "d\xE2\x80\xAE" "e\xFF"), out, sizeof out);
    ck_assert_str_eq(out, "a?[2Jb?c?d?e\xEF\xBF\xBD");
    /* cut at a code point boundary */
    text_sanitize(S("ab\xE2\x82\xAC"), out, 5);
    ck_assert_str_eq(out, "ab");
    ck_assert(text_valid_name(S("room 1"), 10));
    ck_assert(!text_valid_name(S(" room"), 10));
    ck_assert(!text_valid_name(S("ro\tom"), 10));
    ck_assert(!text_valid_name((const uint8_t *)"", 0, 10));
    ck_assert(!text_valid_name(S("abcdefghijk"), 10));
}
END_TEST

START_TEST(json_writer)
{
    struct json_w w;
    json_w_init(&w);
    json_w_obj_open(&w, NULL);
    json_w_str(&w, "t", S("q\" b\\ n\n c\x01 d\x7f \xE2\x80\xA8 \xFF\xC3 \xC3\xA9"));
    json_w_int(&w, "n", -5);
    json_w_arr_open(&w, "a");
    json_w_cstr(&w, NULL, "x");
    json_w_obj_open(&w, NULL);
    json_w_bool(&w, "b", true);
    json_w_obj_close(&w);
    json_w_arr_close(&w);
    json_w_ms(&w, "ms", 1.5);
    json_w_obj_close(&w);
    const char *s = json_w_finish(&w);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "{\"t\":\"q\\\" b\\\\ n\\n c\\u0001 d\\u007f \\u2028 \xEF\xBF\xBD\xEF\xBF\xBD \xC3\xA9\","
                        "\"n\":-5,\"a\":[\"x\",{\"b\":true}],\"ms\":1.500}");
    json_w_free(&w);
}
END_TEST

static int parse(const char *in, struct json_field *f, char *store, char *err)
{
    return json_parse_flat(in, strlen(in), f, store, strlen(in) + 64, err, 256);
}

START_TEST(json_parser)
{
    struct json_field f[JSON_MAX_FIELDS];
    char store[1024], err[256];
    ck_assert_int_eq(parse(" {\"a\":\"x\\u00e9\\ud83d\\ude00\\n\",\"b\":-1.5e2,\"c\":true,\"d\":null,\"e\":42} ", f, store,
                           err), 5);
    ck_assert_str_eq(f[0].key, "a");
    ck_assert_str_eq(f[0].str, "x\xC3\xA9\xF0\x9F\x98\x80\n");
    ck_assert(f[1].type == JSON_NUM && f[1].num == -150 && !f[1].is_int);
    ck_assert(f[2].type == JSON_BOOL && f[2].b);
    ck_assert(f[3].type == JSON_NULL);
    ck_assert(f[4].is_int && f[4].num == 42);
    ck_assert_int_eq(parse("{}", f, store, err), 0);
    ck_assert_int_eq(parse("{\"a\":\"\\u0000z\"}", f, store, err), 1);
    ck_assert_uint_eq(f[0].len, 2);
    static const char *bad[] = {
        "", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1} x", "{\"a\":{}}", "{\"a\":[1]}",
        "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00x\"}", "{\"a\":\"\xFF\"}", "{\"a\":\"\x01\"}", "{\"a\":01}",
        "{\"a\":1.}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":1,\"a\":2}", "{\"a\":tru}", "{\"a\":\"x\\q\"}",
        "{\"a\":\"unterminated}", "{\"\":1}", "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        ck_assert_msg(parse(bad[i], f, store, err) == -1, "accepted %s", bad[i]);
        ck_assert_msg(err[0], "no message for %s", bad[i]);
    }
    char many[512] = "{";
    for (int i = 0; i <= JSON_MAX_FIELDS; i++) sprintf(many + strlen(many), "%s\"k%d\":1", i ? "," : "", i);
    strcat(many, "}");
    ck_assert_int_eq(parse(many, f, store, err), -1);
}
END_TEST

START_TEST(line_commands)
{
    struct chat_cmd c;
    char err[256], l1[] = "hello there  ", l2[] = "//not a command", l3[] = "/join my room",
                   l4[] = "/join", l5[] = "/bogus x", l6[] = "/leave", l7[] = "/history needle",
                   l8[] = "/peers now", l9[] = "   ", l10[] = "/nick \x01x";
    ck_assert_int_eq(cmd_parse_line(l1, strlen(l1), &c, err, sizeof err), 0);
    ck_assert(c.kind == CMD_SEND && c.text_len == 11 && !memcmp(c.text, "hello there", 11));
    ck_assert_int_eq(cmd_parse_line(l2, strlen(l2), &c, err, sizeof err), 0);
    ck_assert(c.kind == CMD_SEND && c.text_len == 14 && !memcmp(c.text, "/not a command", 14));
    ck_assert_int_eq(cmd_parse_line(l3, strlen(l3), &c, err, sizeof err), 0);
    ck_assert(c.kind == CMD_JOIN);
    ck_assert_str_eq(c.room, "my room");
    ck_assert_int_eq(cmd_parse_line(l4, strlen(l4), &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "usage: /join ROOM");
    ck_assert_int_eq(cmd_parse_line(l5, strlen(l5), &c, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "unknown command /bogus"));
    ck_assert_int_eq(cmd_parse_line(l6, strlen(l6), &c, err, sizeof err), 0);
    ck_assert(c.kind == CMD_LEAVE && !c.room);
    ck_assert_int_eq(cmd_parse_line(l7, strlen(l7), &c, err, sizeof err), 0);
    ck_assert(c.kind == CMD_HISTORY && c.text_len == 6);
    ck_assert_int_eq(cmd_parse_line(l8, strlen(l8), &c, err, sizeof err), -1);
    ck_assert_int_eq(cmd_parse_line(l9, strlen(l9), &c, err, sizeof err), 0);
    ck_assert_int_eq(c.kind, 0);
    ck_assert_int_eq(cmd_parse_line(l10, strlen(l10), &c, err, sizeof err), -1);
}
END_TEST

static int pj(const char *in, struct chat_cmd *c, char *store, char *err)
{
    return cmd_parse_json(in, strlen(in), c, store, CMD_JSON_STORE(strlen(in)), err, 256);
}

START_TEST(json_commands)
{
    struct chat_cmd c;
    char store[1024], err[256];
    ck_assert_int_eq(pj("{\"cmd\":\"send\",\"room\":\"r\",\"text\":\"a\\u0000b\",\"id\":\"x1\"}", &c, store, err), 0);
    ck_assert(c.kind == CMD_SEND && c.text_len == 3);
    ck_assert_str_eq(c.room, "r");
    ck_assert_str_eq(c.id, "x1");
    ck_assert(!c.id_is_num);
    ck_assert_int_eq(pj("{\"id\":17,\"cmd\":\"history\",\"text\":\"n\",\"limit\":5}", &c, store, err), 0);
    ck_assert(c.kind == CMD_HISTORY && c.limit == 5 && c.id_is_num);
    ck_assert_str_eq(c.id, "17");
    ck_assert_int_eq(pj("{\"cmd\":\"ping\",\"peer\":\"abc\"}", &c, store, err), 0);
    ck_assert_str_eq(c.arg, "abc");
    ck_assert_int_eq(pj("{\"cmd\":\"quit\"}", &c, store, err), 0);
    ck_assert(c.kind == CMD_QUIT);
    static const char *bad[] = {
        "{\"text\":\"x\"}",                         /* no cmd */
        "{\"cmd\":\"dance\"}",                      /* unknown */
        "{\"cmd\":\"send\"}",                       /* no text */
        "{\"cmd\":\"send\",\"text\":\"\"}",         /* empty */
        "{\"cmd\":\"join\"}",                       /* no room */
        "{\"cmd\":\"join\",\"room\":\" x\"}",       /* bad room */
        "{\"cmd\":\"join\",\"room\":\"a\\u0000\"}", /* NUL */
        "{\"cmd\":\"peers\",\"room\":\"x\"}",       /* field of another command */
        "{\"cmd\":\"send\",\"text\":5}",            /* type */
        "{\"cmd\":\"history\",\"limit\":1.5}",
        "{\"cmd\":\"history\",\"limit\":100000}",
        "{\"cmd\":\"quit\",\"id\":[1]}",
        "{\"cmd\":\"quit\",\"id\":true}",
        "{\"cmd\":\"nick\",\"name\":\"a name far longer than thirty-two bytes\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        ck_assert_msg(pj(bad[i], &c, store, err) == -1, "accepted %s", bad[i]);
        ck_assert_msg(err[0], "no message for %s", bad[i]);
    }
}
END_TEST

START_TEST(nicknames)
{
    struct nick_table t;
    p2p_peerid ids[3];
    for (int i = 0; i < 3; i++) {
        uint8_t mh[34] = { 0x12, 0x20 };
        mh[2] = (uint8_t)i;
        ck_assert_int_eq(p2p_peerid_from_bytes(&ids[i], mh, sizeof mh), 0);
    }
    ck_assert_int_eq(nick_table_init(&t, 2), 0);
    ck_assert_int_eq(nick_table_set(&t, &ids[0], S("alice")), 1);
    ck_assert_int_eq(nick_table_set(&t, &ids[0], S("alice")), 0);
    ck_assert_int_eq(nick_table_set(&t, &ids[0], S("al\x1b[31m")), -1);
    ck_assert_int_eq(nick_table_set(&t, &ids[1], S("bob")), 1);
    ck_assert_str_eq(nick_table_get(&t, &ids[0]), "alice");   /* alice used last: bob goes */
    ck_assert_int_eq(nick_table_set(&t, &ids[2], S("carol")), 1);
    ck_assert_ptr_null(nick_table_get(&t, &ids[1]));
    ck_assert_str_eq(nick_table_get(&t, &ids[0]), "alice");
    ck_assert_str_eq(nick_table_get(&t, &ids[2]), "carol");
    nick_table_free(&t);
}
END_TEST

struct rows {
    int n;
    char text[16][64];
};

static void collect(const struct history_msg *m, void *arg)
{
    struct rows *r = arg;
    if (r->n < 16) snprintf(r->text[r->n++], 64, "%.*s", (int)m->len, (const char *)m->text);
}

static void add(struct history *h, const char *room, const char *text, int64_t t)
{
    char err[256];
    struct history_msg m = { t, room, "12D3KooWsender", NULL, (const uint8_t *)text, strlen(text), false };
    ck_assert_msg(history_add(h, &m, err, sizeof err) == 0, "%s", err);
}

START_TEST(history_store)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/new/dir/history.db", p2p_test_tmpdir());
    struct history *h = history_open(path, 5, 0, 1000, err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    for (int i = 0; i < 8; i++) {
        char t[32];
        snprintf(t, sizeof t, "msg %d", i);
        add(h, "a", t, 1000 + i);
    }
    add(h, "b", "100% Sure_thing", 2000);
    add(h, "b", "100 percent", 2001);
    ck_assert_int_eq(history_count(h, "a"), 5);   /* capped per room */
    struct rows r = { 0 };
    ck_assert_int_eq(history_last(h, "a", 3, collect, &r, err, sizeof err), 3);
    ck_assert_str_eq(r.text[0], "msg 5");   /* oldest first */
    ck_assert_str_eq(r.text[2], "msg 7");
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(history_search(h, "b", S("0% sure_"), 10, collect, &r, err, sizeof err), 1);
    ck_assert_str_eq(r.text[0], "100% Sure_thing");   /* case-insensitive, wildcards literal */
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(history_search(h, "a", S("zzz"), 10, collect, &r, err, sizeof err), 0);
    history_close(h);

    /* survives reopening; age pruning at open */
    h = history_open(path, 5, 1500, 3000, err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    ck_assert_int_eq(history_count(h, "a"), 0);   /* older than 1.5 s at t=3000 */
    ck_assert_int_eq(history_count(h, "b"), 2);
    history_close(h);
}
END_TEST

START_TEST(history_failures)
{
    char dir[512], path[600], err[512];
    snprintf(dir, sizeof dir, "%s", p2p_test_tmpdir());

    /* corrupt: not a database */
    snprintf(path, sizeof path, "%s/corrupt.db", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 200; i++) fputs("this is not an SQLite database. ", f);
    fclose(f);
    ck_assert_ptr_null(history_open(path, 10, 0, 0, err, sizeof err));
    ck_assert_msg(strstr(err, "not a valid history database") && strstr(err, path), "%s", err);

    /* directory cannot be created (a file is in the way) */
    snprintf(path, sizeof path, "%s/corrupt.db/sub/history.db", dir);
    ck_assert_ptr_null(history_open(path, 10, 0, 0, err, sizeof err));
    ck_assert_msg(strstr(err, "cannot create directory"), "%s", err);

    /* locked by another connection */
    snprintf(path, sizeof path, "%s/locked.db", dir);
    struct history *h = history_open(path, 10, 0, 0, err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    history_close(h);
    sqlite3 *other;
    ck_assert_int_eq(sqlite3_open(path, &other), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_ptr_null(history_open(path, 10, 0, 0, err, sizeof err));
    ck_assert_msg(strstr(err, "locked"), "%s", err);
    sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);

    /* in use by another p2pchat (the first keeps it) */
    h = history_open(path, 10, 0, 0, err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    ck_assert_ptr_null(history_open(path, 10, 0, 0, err, sizeof err));
    ck_assert_msg(strstr(err, "in use by another p2pchat"), "%s", err);
    history_close(h);

    /* written by a newer version */
    ck_assert_int_eq(sqlite3_exec(other, "PRAGMA user_version = 9", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    ck_assert_ptr_null(history_open(path, 10, 0, 0, err, sizeof err));
    ck_assert_msg(strstr(err, "newer p2pchat"), "%s", err);
}
END_TEST

START_TEST(history_paths)
{
    char out[512];
    ck_assert_int_eq(history_default_path("/srv/bot/id.key", out, sizeof out), 0);
    ck_assert_str_eq(out, "/srv/bot/history.db");
    setenv("XDG_DATA_HOME", "/xdg", 1);
    ck_assert_int_eq(history_default_path(NULL, out, sizeof out), 0);
    ck_assert_str_eq(out, "/xdg/p2pchat/history.db");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("chat_logic");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, utf8_decoding);
    tcase_add_test(tc, terminal_cleaning);
    tcase_add_test(tc, json_writer);
    tcase_add_test(tc, json_parser);
    tcase_add_test(tc, line_commands);
    tcase_add_test(tc, json_commands);
    tcase_add_test(tc, nicknames);
    tcase_add_test(tc, history_store);
    tcase_add_test(tc, history_failures);
    tcase_add_test(tc, history_paths);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
