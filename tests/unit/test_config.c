/* p2p_conf: INI syntax and its errors (with file:line), sections, files,
 * command-line overrides. Value types are in test_config_values.c. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p2p/config.h"
#include "p2p/error.h"
#include "p2p/host.h"
#include "testutil.h"

static char err[1024];

static p2p_conf *load(const char *text)
{
    err[0] = 0;
    p2p_conf *cf = p2p_conf_load_string(text, "t.ini", err, sizeof err);
    ck_assert_msg(cf != NULL, "unexpected error: %s", err);
    return cf;
}

/* Loading fails with exactly this message. */
static void load_fails(const char *text, const char *msg)
{
    err[0] = 0;
    p2p_conf *cf = p2p_conf_load_string(text, "t.ini", err, sizeof err);
    ck_assert_msg(cf == NULL, "loaded, expected: %s", msg);
    ck_assert_str_eq(err, msg);
}

/* Loading fails with a message that starts with prefix and contains part. */
static void load_fails_like(const char *text, const char *prefix, const char *part)
{
    err[0] = 0;
    p2p_conf *cf = p2p_conf_load_string(text, "t.ini", err, sizeof err);
    ck_assert_msg(cf == NULL, "loaded '%s'", text);
    ck_assert_msg(!strncmp(err, prefix, strlen(prefix)), "'%s' does not start with '%s'", err, prefix);
    ck_assert_msg(strstr(err, part) != NULL, "'%s' does not contain '%s'", err, part);
}

static const char *const modes[] = { "client", "server", "auto", NULL };

/* A small schema for the command-line tests (test_config_values.c has
 * one key of every type). */
static const struct p2p_conf_key schema[] = {
    { "name", P2P_CONF_STR, NULL, 0, 0, NULL, "a name" },
    { "count", P2P_CONF_INT, "5", 1, 100, NULL, "how many" },
    { "mode", P2P_CONF_ENUM, "auto", 0, 0, modes, "the mode" },
    P2P_CONF_KEYS_END
};

static p2p_conf_section *validated(p2p_conf *cf, const char *name)
{
    p2p_conf_section *sec = p2p_conf_find(cf, name);
    ck_assert_ptr_nonnull(sec);
    ck_assert_msg(p2p_conf_validate(sec, schema, err, sizeof err) == 0, "%s", err);
    return sec;
}

/* ---- syntax --------------------------------------------------------- */

START_TEST(sections_in_order)
{
    p2p_conf *cf = load("; a comment\n# another\n[plugin noise]\n[plugin yamux]\n\n[host]\n"
                        "a = 1\n[app chat]\n[plugin kad-dht_2]\n");
    ck_assert_uint_eq(p2p_conf_section_count(cf), 5);
    const char *names[] = { "noise", "yamux", "host", "chat", "kad-dht_2" };
    const char *kinds[] = { "plugin", "plugin", "host", "app", "plugin" };
    const char *origins[] = { "t.ini:3", "t.ini:4", "t.ini:6", "t.ini:8", "t.ini:9" };
    for (size_t i = 0; i < 5; i++) {
        p2p_conf_section *s = p2p_conf_section_at(cf, i);
        ck_assert_str_eq(p2p_conf_section_name(s), names[i]);
        ck_assert_str_eq(p2p_conf_section_kind(s), kinds[i]);
        ck_assert_str_eq(p2p_conf_section_origin(s), origins[i]);
    }
    ck_assert_ptr_null(p2p_conf_section_at(cf, 5));
    ck_assert_ptr_eq(p2p_conf_find(cf, "plugin yamux"), p2p_conf_section_at(cf, 1));
    ck_assert_ptr_null(p2p_conf_find(cf, "plugin  yamux"));
    ck_assert_str_eq(p2p_conf_str(p2p_conf_find(cf, "host"), "a"), "1");
    p2p_conf_free(cf);
}
END_TEST

START_TEST(empty_and_comments)
{
    p2p_conf *cf = load("");
    ck_assert_uint_eq(p2p_conf_section_count(cf), 0);
    p2p_conf_free(cf);
    cf = load("; only\n   # comments\n\n");
    ck_assert_uint_eq(p2p_conf_section_count(cf), 0);
    p2p_conf_free(cf);
    /* inline comments need a blank before ';'; '#' is a comment only at
     * the start of a line; '=' may appear in values; no newline at the end */
    cf = load("[host] ; the core\na = b ; comment\nc = d;e\nf = g # h\n  i=j=k\nl =\nm = /ip6/::1/tcp/1");
    p2p_conf_section *h = p2p_conf_find(cf, "host");
    ck_assert_str_eq(p2p_conf_str(h, "a"), "b");
    ck_assert_str_eq(p2p_conf_str(h, "c"), "d;e");
    ck_assert_str_eq(p2p_conf_str(h, "f"), "g # h");
    ck_assert_str_eq(p2p_conf_str(h, "i"), "j=k");
    ck_assert_str_eq(p2p_conf_str(h, "l"), "");
    ck_assert_str_eq(p2p_conf_str(h, "m"), "/ip6/::1/tcp/1");
    ck_assert(p2p_conf_is_set(h, "l"));
    ck_assert(!p2p_conf_is_set(h, "zz"));
    p2p_conf_free(cf);
}
END_TEST

START_TEST(bom_and_crlf)
{
    p2p_conf *cf = load("\xEF\xBB\xBF[host]\r\na = 1 \r\n\r\n[app x]\r\nb = two words\r\n");
    p2p_conf_section *h = p2p_conf_find(cf, "host"), *x = p2p_conf_find(cf, "app x");
    ck_assert_str_eq(p2p_conf_section_origin(h), "t.ini:1");
    ck_assert_str_eq(p2p_conf_section_origin(x), "t.ini:4");
    ck_assert_str_eq(p2p_conf_str(h, "a"), "1");
    ck_assert_str_eq(p2p_conf_str(x, "b"), "two words");
    p2p_conf_free(cf);
    load_fails("\xEF\xBB\xBF[host]\r\na = 1\r\na = 2\r\n",
               "t.ini:3: [host] a: key repeated (first at line 2); expected each key once per "
               "section (lists are comma-separated)");
}
END_TEST

START_TEST(key_outside_section)
{
    load_fails("\nx = 1\n[host]\n", "t.ini:2: key 'x' is outside any section; expected a [host], "
                                    "[plugin NAME] or [app NAME] header before it");
}
END_TEST

START_TEST(bad_section_names)
{
    load_fails("[host]\n[plugins kad]\n", "t.ini:2: [plugins kad]: unknown section kind 'plugins'; "
                                          "expected [host], [plugin NAME] or [app NAME]");
    const char *nm = "is not a valid plugin name; expected [plugin NAME] with one space before NAME";
    load_fails_like("[host]\n[plugin  kad]\n", "t.ini:2: [plugin  kad]: ' kad' ", nm);
    load_fails_like("[plugin Kad]\n", "t.ini:1: [plugin Kad]: 'Kad' ", nm);
    load_fails_like("[plugin -kad]\n", "t.ini:1: [plugin -kad]: '-kad' ", nm);
    load_fails_like("[plugin kad ]\n", "t.ini:1: [plugin kad ]: 'kad ' ", nm);
    load_fails_like("[plugin k.d]\n", "t.ini:1: [plugin k.d]: 'k.d' ", nm);
    load_fails_like("[app chat\\x]\n", "t.ini:1: [app chat\\x]: 'chat\\x' ", "not a valid app name");
    load_fails_like("[plugin "
                    "a23456789012345678901234567890123456789012345678901234567890123456789]\n",
                    "t.ini:1: [plugin a234", "at most 64 characters");
    load_fails("[plugin]\n", "t.ini:1: [plugin]: a plugin section needs a name; expected [plugin NAME]");
    load_fails("[app]\n", "t.ini:1: [app]: an app section needs a name; expected [app NAME]");
    load_fails("[host x]\n", "t.ini:1: [host x]: [host] takes no name; expected [host]");
    load_fails("[Host]\n", "t.ini:1: [Host]: unknown section kind 'Host'; expected [host], "
                           "[plugin NAME] or [app NAME]");
    load_fails("[ host ]\n", "t.ini:1: [ host ]: the section name starts with a space; expected [host], "
                             "[plugin NAME] or [app NAME]");
    load_fails("[]\n", "t.ini:1: []: empty section name; expected [host], [plugin NAME] or [app NAME]");
    load_fails("[host\n", "t.ini:1: '[host' has no closing ']'; expected [host], [plugin NAME] or "
                          "[app NAME]");
    load_fails("[host] x\n", "t.ini:1: unexpected text after ']' in '[host] x'; expected nothing "
                             "or a ';' comment");
    p2p_conf_free(load("[plugin a2345678901234567890123456789012345678901234567890123456789012x]\n"));
}
END_TEST

START_TEST(duplicates)
{
    load_fails("[host]\na = 1\n\n[app x]\n[host]\n",
               "t.ini:5: duplicate section [host] (first at line 1); expected each section once");
    load_fails("[plugin kad]\nmode = a\nb = 2\n  mode = c\n",
               "t.ini:4: [plugin kad] mode: key repeated (first at line 2); expected each key once "
               "per section (lists are comma-separated)");
    /* the same key in different sections is fine */
    p2p_conf_free(load("[plugin a]\nk = 1\n[plugin b]\nk = 2\n"));
}
END_TEST

START_TEST(bad_lines)
{
    load_fails("[host]\nlisten = /ip4/1.2.3.4/tcp/1,\n    /ip4/1.2.3.4/tcp/2\n",
               "t.ini:3: [host] continuation lines are not supported; expected the whole value on "
               "the 'key = value' line (separate list items with commas)");
    /* indented keys are ordinary keys, not continuations */
    p2p_conf *cf = load("[host]\n  a = 1\n\tb = 2\n");
    ck_assert_str_eq(p2p_conf_str(p2p_conf_find(cf, "host"), "b"), "2");
    p2p_conf_free(cf);
    load_fails("[host]\nfoo\n", "t.ini:2: [host] 'foo' is not a section header, a 'key = value' "
                                "line or a comment; expected one of these");
    load_fails("foo bar\n", "t.ini:1: 'foo bar' is not a section header, a 'key = value' line or "
                            "a comment; expected one of these");
    load_fails("[host]\na: b\n", "t.ini:2: [host] 'a:' uses ':'; expected 'key = value'");
    load_fails("[host]\n= 1\n", "t.ini:2: [host] missing key before '='; expected 'key = value'");
    load_fails("[host]\nmax conns = 3\n", "t.ini:2: [host] 'max conns' is not a valid key; "
                                          "expected letters, digits, '_', '-' and '.'");
    load_fails("[host]\nk\xc3\xa9 = 3\n", "t.ini:2: [host] 'k\xc3\xa9' is not a valid key; "
                                          "expected letters, digits, '_', '-' and '.'");
    load_fails_like("[host]\n"
                    "a2345678901234567890123456789012345678901234567890123456789012345 = 1\n",
                    "t.ini:2: [host] key 'a2345678901234567890...' is too long", "at most 64");
}
END_TEST

START_TEST(long_lines)
{
    static char text[3 * 8192];
    char *p = text + sprintf(text, "[host]\nk = ");
    memset(p, 'x', 8192 - 4);               /* "k = " + value: exactly 8192 bytes */
    strcpy(p + 8192 - 4, "\r\nz = 1\n");    /* the '\r' does not count */
    p2p_conf *cf = load(text);
    ck_assert_uint_eq(strlen(p2p_conf_str(p2p_conf_find(cf, "host"), "k")), 8188);
    ck_assert_str_eq(p2p_conf_str(p2p_conf_find(cf, "host"), "z"), "1");
    p2p_conf_free(cf);
    memset(p, 'x', 8192 - 3);
    strcpy(p + 8192 - 3, "\nz = 1\n");
    load_fails(text, "t.ini:2: line too long (8193 bytes); expected at most 8192 bytes per line");
    /* a long comment is a long line too */
    text[0] = ';';
    load_fails(text, "t.ini:2: line too long (8193 bytes); expected at most 8192 bytes per line");
}
END_TEST

START_TEST(limits)
{
    size_t cap = 600 * 16 + 32;
    char *text = malloc(cap), *p = text;
    p += sprintf(p, "[host]\n");
    for (int i = 0; i < 513; i++) p += sprintf(p, "k%d = %d\n", i, i);
    load_fails(text, "t.ini:514: [host]: too many keys; expected at most 512 per section");
    free(text);
    /* larger than 1 MiB */
    size_t big = (1u << 20) + 1;
    text = malloc(big + 1);
    memset(text, '\n', big);
    text[big] = 0;
    load_fails(text, "t.ini: too large (1048577 bytes); expected at most 1048576 bytes");
    free(text);
}
END_TEST

START_TEST(files)
{
    const char *dir = p2p_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/does-not-exist.ini", dir);
    err[0] = 0;
    ck_assert_ptr_null(p2p_conf_load_file(path, err, sizeof err));
    char want[600];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    ck_assert_str_eq(err, want);

    ck_assert_ptr_null(p2p_conf_load_file(dir, err, sizeof err));    /* a directory */
    snprintf(want, sizeof want, "%s: cannot read: ", dir);
    ck_assert_msg(!strncmp(err, want, strlen(want)), "%s", err);

    snprintf(path, sizeof path, "%s/peer.ini", dir);
    FILE *f = fopen(path, "wb");
    fputs("[host]\nlisten = /ip4/0.0.0.0/tcp/1\n[plugin kad]\nmdoe = server\n", f);
    fclose(f);
    p2p_conf *cf = p2p_conf_load_file(path, err, sizeof err);
    ck_assert_msg(cf != NULL, "%s", err);
    snprintf(want, sizeof want, "%s:3", path);
    ck_assert_str_eq(p2p_conf_section_origin(p2p_conf_find(cf, "plugin kad")), want);
    const struct p2p_conf_key kad[] = {
        { "mode", P2P_CONF_ENUM, NULL, 0, 0, modes, NULL },
        { "bootstrap", P2P_CONF_MADDR_LIST, NULL, 0, 0, NULL, NULL },
        P2P_CONF_KEYS_END,
    };
    ck_assert_int_eq(p2p_conf_validate(p2p_conf_find(cf, "plugin kad"), kad, err, sizeof err), P2P_ECONFIG);
    snprintf(want, sizeof want, "%s:4: [plugin kad] key 'mdoe' is unknown; known keys: mode, bootstrap", path);
    ck_assert_str_eq(err, want);
    p2p_conf_free(cf);

    /* a NUL byte in a file is refused, not a silent end of the text */
    f = fopen(path, "wb");
    fwrite("[host]\na = 1\0\nb = 2\n", 1, 20, f);
    fclose(f);
    ck_assert_ptr_null(p2p_conf_load_file(path, err, sizeof err));
    snprintf(want, sizeof want, "%s:2: the line contains a NUL byte; expected text", path);
    ck_assert_str_eq(err, want);
    remove(path);
    rmdir(dir);
}
END_TEST

START_TEST(shipped_examples)
{
    /* config/peer.ini and relay.ini are installed as examples: they must
     * stay valid */
    const char *examples[] = { "config/peer.ini", "config/relay.ini" };
    for (size_t i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", P2P_TEST_SRCDIR, examples[i]);
        p2p_conf *cf = p2p_conf_load_file(path, err, sizeof err);
        ck_assert_msg(cf != NULL, "%s", err);
        p2p_conf_section *h = p2p_conf_find(cf, "host");
        ck_assert_ptr_nonnull(h);
        ck_assert_msg(p2p_conf_validate(h, p2p_host_schema(), err, sizeof err) == 0, "%s", err);
        p2p_conf_free(cf);
    }
}
END_TEST

/* ---- command line --------------------------------------------------- */

START_TEST(overrides)
{
    p2p_conf *cf = load("[host]\nname = file\n\ncount = 10\n[plugin kad]\n");
    p2p_conf_section *h = p2p_conf_find(cf, "host");
    const char *old = p2p_conf_str(h, "count");
    ck_assert_int_eq(p2p_conf_set(cf, "host", "count", " 20 ", err, sizeof err), 0);
    ck_assert_str_eq(old, "10");                        /* still valid */
    ck_assert_int_eq(p2p_conf_set_arg(cf, "host.mode=server", err, sizeof err), 0);
    ck_assert_int_eq(p2p_conf_set_arg(cf, "plugin.kad.mode=server", err, sizeof err), 0);
    ck_assert_int_eq(p2p_conf_set_arg(cf, "app.chat.nick=bob=b", err, sizeof err), 0);
    ck_assert_int_eq(p2p_conf_set_arg(cf, "plugin.noise.x.y=", err, sizeof err), 0);
    validated(cf, "host");
    ck_assert_int_eq(p2p_conf_int(h, "count"), 20);
    ck_assert_int_eq(p2p_conf_enum(h, "mode"), 1);
    ck_assert_str_eq(p2p_conf_str(h, "name"), "file");
    ck_assert_uint_eq(p2p_conf_section_count(cf), 4);
    p2p_conf_section *chat = p2p_conf_section_at(cf, 2), *noise = p2p_conf_section_at(cf, 3);
    ck_assert_str_eq(p2p_conf_section_name(chat), "chat");
    ck_assert_str_eq(p2p_conf_section_kind(chat), "app");
    ck_assert_str_eq(p2p_conf_section_origin(chat), "command line");
    ck_assert_str_eq(p2p_conf_str(chat, "nick"), "bob=b");
    ck_assert_str_eq(p2p_conf_str(noise, "x.y"), "");
    ck_assert_str_eq(p2p_conf_str(p2p_conf_find(cf, "plugin kad"), "mode"), "server");
    ck_assert_str_eq(p2p_conf_section_origin(p2p_conf_find(cf, "plugin kad")), "t.ini:5");

    /* a bad override is reported as coming from the command line */
    ck_assert_int_eq(p2p_conf_set(cf, "host", "count", "0", err, sizeof err), 0);
    ck_assert_int_eq(p2p_conf_validate(h, schema, err, sizeof err), P2P_ECONFIG);
    ck_assert_str_eq(err, "command line: [host] count: '0' is out of range; expected an integer from 1 to 100");
    ck_assert_int_eq(p2p_conf_set(cf, "host", "nmae", "x", err, sizeof err), 0);
    ck_assert_int_eq(p2p_conf_set(cf, "host", "count", "1", err, sizeof err), 0);
    ck_assert_int_eq(p2p_conf_validate(h, schema, err, sizeof err), P2P_ECONFIG);
    ck_assert_msg(!strncmp(err, "command line: [host] key 'nmae' is unknown; known keys: name,", 61), "%s", err);
    p2p_conf_free(cf);
}
END_TEST

START_TEST(bad_overrides)
{
    p2p_conf *cf = p2p_conf_new();
    ck_assert_int_eq(p2p_conf_set(cf, "plugins kad", "mode", "x", err, sizeof err), P2P_EINVAL);
    ck_assert_str_eq(err, "command line: section 'plugins kad': unknown section kind 'plugins'; "
                          "expected [host], [plugin NAME] or [app NAME]");
    ck_assert_int_eq(p2p_conf_set(cf, "host", "a b", "x", err, sizeof err), P2P_EINVAL);
    ck_assert_str_eq(err, "command line: [host] 'a b' is not a valid key; expected at most 64 "
                          "letters, digits, '_', '-' and '.'");
    ck_assert_int_eq(p2p_conf_set(cf, "host", "", "x", err, sizeof err), P2P_EINVAL);
    ck_assert_int_eq(p2p_conf_set(cf, "host", "k", NULL, err, sizeof err), P2P_EINVAL);
    const char *bad[] = { "nodot=1", "host.count", "plugins.kad.mode=x", "plugin.kad=1", "app=1", "=1", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(p2p_conf_set_arg(cf, bad[i], err, sizeof err) == P2P_EINVAL, "%s", bad[i]);
        ck_assert_msg(strstr(err, "expected host.KEY=VALUE, plugin.NAME.KEY=VALUE or app.NAME.KEY=VALUE"),
                      "%s: %s", bad[i], err);
    }
    ck_assert_int_eq(p2p_conf_set_arg(cf, "plugins.kad.mode=x", err, sizeof err), P2P_EINVAL);
    ck_assert_str_eq(err, "command line: 'plugins.kad.mode=x' does not name a section and key; "
                          "expected host.KEY=VALUE, plugin.NAME.KEY=VALUE or app.NAME.KEY=VALUE");
    ck_assert_int_eq(p2p_conf_set_arg(cf, "plugin.Kad.mode=x", err, sizeof err), P2P_EINVAL);
    ck_assert_msg(!strncmp(err, "command line: section 'plugin Kad': 'Kad' is not a valid plugin name", 68), "%s", err);
    ck_assert_int_eq(p2p_conf_set_arg(cf, "host.a b=1", err, sizeof err), P2P_EINVAL);
    ck_assert_int_eq(p2p_conf_set_arg(cf, "plugin.kad.=1", err, sizeof err), P2P_EINVAL);
    /* nothing was created by the failures */
    ck_assert_uint_eq(p2p_conf_section_count(cf), 0);
    p2p_conf_free(cf);
}
END_TEST

START_TEST(add_remove)
{
    p2p_conf *cf = load("[plugin a]\n[host]\n[plugin b]\n");
    p2p_conf_section *n = p2p_conf_add_section(cf, "plugin noise", err, sizeof err);
    ck_assert_ptr_nonnull(n);
    ck_assert_ptr_eq(p2p_conf_add_section(cf, "plugin noise", err, sizeof err), n);
    ck_assert_ptr_eq(p2p_conf_add_section(cf, "host", err, sizeof err), p2p_conf_section_at(cf, 1));
    ck_assert_ptr_null(p2p_conf_add_section(cf, "plugin", err, sizeof err));
    ck_assert_str_eq(err, "command line: section 'plugin': a plugin section needs a name; expected [plugin NAME]");
    ck_assert_uint_eq(p2p_conf_section_count(cf), 4);
    p2p_conf_section *a = p2p_conf_find(cf, "plugin a");
    ck_assert_int_eq(p2p_conf_remove_section(cf, "plugin a"), 0);
    ck_assert_int_eq(p2p_conf_remove_section(cf, "plugin a"), P2P_ENOTFOUND);
    ck_assert_int_eq(p2p_conf_remove_section(cf, "plugin zz"), P2P_ENOTFOUND);
    ck_assert_uint_eq(p2p_conf_section_count(cf), 3);
    ck_assert_str_eq(p2p_conf_section_name(p2p_conf_section_at(cf, 0)), "host");
    ck_assert_str_eq(p2p_conf_section_name(p2p_conf_section_at(cf, 2)), "noise");
    ck_assert_str_eq(p2p_conf_section_name(a), "a");   /* pointer still valid */
    ck_assert_ptr_null(p2p_conf_find(cf, "plugin a"));
    /* re-adding makes a new, empty section at the end */
    p2p_conf_section *a2 = p2p_conf_add_section(cf, "plugin a", err, sizeof err);
    ck_assert_ptr_ne(a2, a);
    ck_assert_ptr_eq(p2p_conf_section_at(cf, 3), a2);
    p2p_conf_free(cf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("syntax");
    tcase_add_test(tc, sections_in_order);
    tcase_add_test(tc, empty_and_comments);
    tcase_add_test(tc, bom_and_crlf);
    tcase_add_test(tc, key_outside_section);
    tcase_add_test(tc, bad_section_names);
    tcase_add_test(tc, duplicates);
    tcase_add_test(tc, bad_lines);
    tcase_add_test(tc, long_lines);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, files);
    tcase_add_test(tc, shipped_examples);
    suite_add_tcase(s, tc);
    tc = tcase_create("command line");
    tcase_add_test(tc, overrides);
    tcase_add_test(tc, bad_overrides);
    tcase_add_test(tc, add_remove);
    suite_add_tcase(s, tc);
    return p2p_test_run(s);
}
