/* p2p_conf: value types (valid and invalid forms, exact messages),
 * defaults and accessors, re-validation, schema errors and printing. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/config.h"
#include "p2p/error.h"
#include "testutil.h"

static char err[1024];

static p2p_conf *load(const char *text)
{
    err[0] = 0;
    p2p_conf *cf = p2p_conf_load_string(text, "t.ini", err, sizeof err);
    ck_assert_msg(cf != NULL, "unexpected error: %s", err);
    return cf;
}

static const char *const modes[] = { "client", "server", "auto", NULL };

/* One key of every type. */
static const struct p2p_conf_key schema[] = {
    { "name", P2P_CONF_STR, NULL, 0, 0, NULL, "a name" },
    { "count", P2P_CONF_INT, "5", 1, 100, NULL, "how many" },
    { "big", P2P_CONF_INT, NULL, 0, 0, NULL, "any integer" },
    { "enabled", P2P_CONF_BOOL, "true", 0, 0, NULL, "on or off" },
    { "mode", P2P_CONF_ENUM, "auto", 0, 0, modes, "the mode" },
    { "timeout", P2P_CONF_DURATION, "30s", 0, 0, NULL, "a timeout" },
    { "ttl", P2P_CONF_DURATION, NULL, 1000, 3600000, NULL, "a bounded duration" },
    { "bufsize", P2P_CONF_SIZE, "64KiB", 0, 0, NULL, "a size" },
    { "limit", P2P_CONF_SIZE, NULL, 1024, 1 << 30, NULL, "a bounded size" },
    { "addr", P2P_CONF_MADDR, "/ip4/127.0.0.1/tcp/4001", 0, 0, NULL, "one address" },
    { "listen", P2P_CONF_MADDR_LIST, "/ip4/0.0.0.0/tcp/0", 0, 0, NULL, "addresses" },
    { "peers", P2P_CONF_LIST, NULL, 0, 0, NULL, "names" },
    { "dir", P2P_CONF_PATH, "~/data", 0, 0, NULL, "a directory" },
    P2P_CONF_KEYS_END
};

/* Validate "[host]\nKEY = VALUE" against the schema; returns the conf
 * (caller frees) with err set, or asserts on load failure. */
static p2p_conf *with_value(const char *key, const char *value, int *rc)
{
    char text[9000];
    snprintf(text, sizeof text, "[host]\n%s = %s\n", key, value);
    p2p_conf *cf = load(text);
    err[0] = 0;
    *rc = p2p_conf_validate(p2p_conf_find(cf, "host"), schema, err, sizeof err);
    return cf;
}

static void value_ok(const char *key, const char *value)
{
    int rc;
    p2p_conf *cf = with_value(key, value, &rc);
    ck_assert_msg(rc == 0, "%s = %s: %s", key, value, err);
    p2p_conf_free(cf);
}

/* The value is refused with "t.ini:2: [host] KEY: " + rest. */
static void value_bad(const char *key, const char *value, const char *rest)
{
    int rc;
    char want[1024];
    p2p_conf *cf = with_value(key, value, &rc);
    ck_assert_msg(rc == P2P_ECONFIG, "%s = %s accepted", key, value);
    snprintf(want, sizeof want, "t.ini:2: [host] %s: %s", key, rest);
    ck_assert_str_eq(err, want);
    p2p_conf_free(cf);
}

static p2p_conf_section *validated(p2p_conf *cf, const char *name)
{
    p2p_conf_section *sec = p2p_conf_find(cf, name);
    ck_assert_ptr_nonnull(sec);
    ck_assert_msg(p2p_conf_validate(sec, schema, err, sizeof err) == 0, "%s", err);
    return sec;
}

/* ---- values --------------------------------------------------------- */

START_TEST(unknown_keys)
{
    p2p_conf *cf = load("[host]\nname = x\n\nnmae = y\n[app a]\nk = 1\n");
    ck_assert_int_eq(p2p_conf_validate(p2p_conf_find(cf, "host"), schema, err, sizeof err), P2P_ECONFIG);
    ck_assert_str_eq(err, "t.ini:4: [host] key 'nmae' is unknown; known keys: name, count, big, "
                          "enabled, mode, timeout, ttl, bufsize, limit, addr, listen, peers, dir");
    ck_assert_int_eq(p2p_conf_validate(p2p_conf_find(cf, "app a"), NULL, err, sizeof err), P2P_ECONFIG);
    ck_assert_str_eq(err, "t.ini:6: [app a] key 'k' is unknown; this section takes no keys");
    ck_assert_int_eq(p2p_conf_validate(NULL, schema, err, sizeof err), P2P_EINVAL);
    p2p_conf_free(cf);
}
END_TEST

START_TEST(type_str_int)
{
    value_ok("name", "Alice Bob");
    value_bad("name", "", "empty value; expected a non-empty string");
    value_ok("count", "1");
    value_ok("count", "+100");
    value_bad("count", "0", "'0' is out of range; expected an integer from 1 to 100");
    value_bad("count", "101", "'101' is out of range; expected an integer from 1 to 100");
    value_bad("count", "abc", "'abc' is not an integer; expected an integer from 1 to 100");
    value_bad("count", "1.5", "'1.5' is not an integer; expected an integer from 1 to 100");
    value_bad("count", "1 2", "'1 2' is not an integer; expected an integer from 1 to 100");
    value_bad("count", "-", "'-' is not an integer; expected an integer from 1 to 100");
    value_bad("count", "", "empty value; expected an integer from 1 to 100");
    value_bad("count", "99999999999999999999",
              "'99999999999999999999' does not fit in 64 bits; expected an integer from 1 to 100");
    value_ok("big", "-9223372036854775808");
    value_ok("big", "9223372036854775807");
    value_bad("big", "9223372036854775808", "'9223372036854775808' does not fit in 64 bits; "
                                            "expected an integer");
    value_bad("big", "-9223372036854775809", "'-9223372036854775809' does not fit in 64 bits; "
                                             "expected an integer");
    int rc;
    p2p_conf *cf = with_value("big", "-9223372036854775808", &rc);
    ck_assert(p2p_conf_int(p2p_conf_find(cf, "host"), "big") == INT64_MIN);
    p2p_conf_free(cf);
    cf = with_value("count", "042", &rc);
    ck_assert_int_eq(p2p_conf_int(p2p_conf_find(cf, "host"), "count"), 42);
    p2p_conf_free(cf);
}
END_TEST

START_TEST(type_bool_enum)
{
    const char *yes[] = { "true", "yes", "on", "1", "TRUE", "Yes" };
    const char *no[] = { "false", "no", "off", "0", "False", "OFF" };
    int rc;
    for (size_t i = 0; i < 6; i++) {
        p2p_conf *cf = with_value("enabled", yes[i], &rc);
        ck_assert_int_eq(rc, 0);
        ck_assert(p2p_conf_bool(p2p_conf_find(cf, "host"), "enabled"));
        p2p_conf_free(cf);
        cf = with_value("enabled", no[i], &rc);
        ck_assert_int_eq(rc, 0);
        ck_assert(!p2p_conf_bool(p2p_conf_find(cf, "host"), "enabled"));
        p2p_conf_free(cf);
    }
    value_bad("enabled", "maybe", "'maybe' is not a boolean; expected true or false (or yes/no, on/off, 1/0)");
    value_bad("enabled", "2", "'2' is not a boolean; expected true or false (or yes/no, on/off, 1/0)");
    p2p_conf *cf = with_value("mode", "server", &rc);
    ck_assert_int_eq(p2p_conf_enum(p2p_conf_find(cf, "host"), "mode"), 1);
    p2p_conf_free(cf);
    value_bad("mode", "Server", "'Server' is not one of the choices; expected one of: client, server, auto");
    value_bad("mode", "", "empty value; expected one of: client, server, auto");
}
END_TEST

START_TEST(type_duration)
{
    const struct { const char *text; uint64_t ms; } ok[] = {
        { "500ms", 500 }, { "30s", 30000 }, { "5m", 300000 }, { "2h", 7200000 },
        { "1d", 86400000 }, { "45", 45000 }, { "30 s", 30000 }, { "0", 0 },
        { "106751991167d", 106751991167ULL * 86400000 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc;
        p2p_conf *cf = with_value("timeout", ok[i].text, &rc);
        ck_assert_msg(rc == 0, "%s: %s", ok[i].text, err);
        ck_assert_uint_eq(p2p_conf_duration_ms(p2p_conf_find(cf, "host"), "timeout"), ok[i].ms);
        p2p_conf_free(cf);
    }
    const char *ex = "expected a duration such as 500ms, 30s, 5m, 2h or 1d (a bare number is seconds)";
    char want[300];
    const struct { const char *text, *problem; } bad[] = {
        { "1.5h", "'1.5h' has an unknown unit '.5h'" }, { "-1s", "'-1s' is not a duration" },
        { "5x", "'5x' has an unknown unit 'x'" }, { "5S", "'5S' has an unknown unit 'S'" },
        { "s", "'s' is not a duration" }, { "1h30m", "'1h30m' has an unknown unit 'h30m'" },
        { "106751991168d", "'106751991168d' is too large" },
        { "99999999999999999999", "'99999999999999999999' is too large" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(want, sizeof want, "%s; %s", bad[i].problem, ex);
        value_bad("timeout", bad[i].text, want);
    }
    value_bad("timeout", "", "empty value; expected a duration such as 500ms, 30s, 5m, 2h or 1d "
                             "(a bare number is seconds)");
    value_ok("ttl", "1s");
    value_ok("ttl", "60m");
    value_bad("ttl", "500ms", "'500ms' is out of range; expected a duration from 1s to 1h such as "
                              "500ms, 30s, 5m, 2h or 1d (a bare number is seconds)");
    value_bad("ttl", "3601", "'3601' is out of range; expected a duration from 1s to 1h such as "
                             "500ms, 30s, 5m, 2h or 1d (a bare number is seconds)");
}
END_TEST

START_TEST(type_size)
{
    const struct { const char *text; uint64_t n; } ok[] = {
        { "65536", 65536 }, { "64KiB", 65536 }, { "1MiB", 1 << 20 }, { "2GiB", 2ULL << 30 },
        { "10MB", 10000000 }, { "1KB", 1000 }, { "3GB", 3000000000ULL }, { "3B", 3 },
        { "64kib", 65536 }, { "8 MiB", 8 << 20 }, { "0", 0 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc;
        p2p_conf *cf = with_value("bufsize", ok[i].text, &rc);
        ck_assert_msg(rc == 0, "%s: %s", ok[i].text, err);
        ck_assert_uint_eq(p2p_conf_size(p2p_conf_find(cf, "host"), "bufsize"), ok[i].n);
        ck_assert_int_eq(p2p_conf_int(p2p_conf_find(cf, "host"), "bufsize"), (int64_t)ok[i].n);
        p2p_conf_free(cf);
    }
    const char *ex = "expected a size such as 65536, 64KiB, 1MiB, 2GiB or 10MB";
    char want[300];
    const struct { const char *text, *problem; } bad[] = {
        { "64K", "'64K' has an unknown unit 'K'" }, { "1TiB", "'1TiB' has an unknown unit 'TiB'" },
        { "-1", "'-1' is not a size" }, { "1.5MiB", "'1.5MiB' has an unknown unit '.5MiB'" },
        { "KiB", "'KiB' is not a size" }, { "9999999999GiB", "'9999999999GiB' is too large" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(want, sizeof want, "%s; %s", bad[i].problem, ex);
        value_bad("bufsize", bad[i].text, want);
    }
    value_ok("limit", "1KiB");
    value_ok("limit", "1GiB");
    value_bad("limit", "1023", "'1023' is out of range; expected a size from 1KiB to 1GiB such as "
                               "65536, 64KiB, 1MiB, 2GiB or 10MB");
    value_ok("limit", "1GB");
    value_bad("limit", "2GB", "'2GB' is out of range; expected a size from 1KiB to 1GiB such as "
                              "65536, 64KiB, 1MiB, 2GiB or 10MB");
}
END_TEST

START_TEST(type_maddr)
{
    int rc;
    p2p_conf *cf = with_value("addr", "/ip4/1.2.3.4/tcp/80", &rc);
    ck_assert_msg(rc == 0, "%s", err);
    p2p_multiaddr got, want;
    ck_assert(p2p_conf_maddr(p2p_conf_find(cf, "host"), "addr", &got));
    ck_assert_int_eq(p2p_maddr_parse(&want, "/ip4/1.2.3.4/tcp/80", NULL, 0), 0);
    ck_assert(p2p_maddr_equal(&got, &want));
    p2p_conf_free(cf);
    value_bad("addr", "", "empty value; expected a multiaddr such as /ip4/0.0.0.0/tcp/4001");
    /* the reason comes from p2p_maddr_parse: only check the frame */
    cf = with_value("listen", "/ip4/0.0.0.0/tcp/1, /ip4/1.2.3/tcp/1", &rc);
    ck_assert_int_eq(rc, P2P_ECONFIG);
    const char *pre = "t.ini:2: [host] listen: '/ip4/1.2.3/tcp/1' is not a multiaddr (";
    const char *post = "); expected a comma-separated list of multiaddrs";
    ck_assert_msg(!strncmp(err, pre, strlen(pre)), "%s", err);
    ck_assert_msg(strlen(err) > strlen(post) && !strcmp(err + strlen(err) - strlen(post), post), "%s", err);
    p2p_conf_free(cf);
    cf = with_value("listen", " /ip4/1.2.3.4/tcp/1 ,/ip6/::1/udp/2/quic-v1 ", &rc);
    ck_assert_msg(rc == 0, "%s", err);
    p2p_conf_section *h = p2p_conf_find(cf, "host");
    ck_assert_uint_eq(p2p_conf_list_len(h, "listen"), 2);
    ck_assert_str_eq(p2p_conf_list_at(h, "listen", 0), "/ip4/1.2.3.4/tcp/1");
    ck_assert_str_eq(p2p_conf_list_at(h, "listen", 1), "/ip6/::1/udp/2/quic-v1");
    ck_assert_ptr_null(p2p_conf_list_at(h, "listen", 2));
    p2p_conf_free(cf);
    cf = with_value("listen", "", &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(p2p_conf_list_len(p2p_conf_find(cf, "host"), "listen"), 0);
    p2p_conf_free(cf);
    value_bad("listen", "/ip4/1.2.3.4/tcp/1,,/ip4/1.2.3.4/tcp/2",
              "'/ip4/1.2.3.4/tcp/1,,/ip4/1.2.3.4/tcp/2' has an empty item (item 2 of 3); "
              "expected a comma-separated list of multiaddrs");
}
END_TEST

START_TEST(type_list_path)
{
    int rc;
    p2p_conf *cf = with_value("peers", " x , y y ,z", &rc);
    ck_assert_msg(rc == 0, "%s", err);
    p2p_conf_section *h = p2p_conf_find(cf, "host");
    ck_assert_uint_eq(p2p_conf_list_len(h, "peers"), 3);
    ck_assert_str_eq(p2p_conf_list_at(h, "peers", 0), "x");
    ck_assert_str_eq(p2p_conf_list_at(h, "peers", 1), "y y");
    ck_assert_str_eq(p2p_conf_list_at(h, "peers", 2), "z");
    ck_assert_str_eq(p2p_conf_str(h, "peers"), "x , y y ,z");
    p2p_conf_free(cf);
    const char *ex = "; expected a comma-separated list of non-empty items";
    char want[200];
    snprintf(want, sizeof want, "'x,' has an empty item (item 2 of 2)%s", ex);
    value_bad("peers", "x,", want);
    snprintf(want, sizeof want, "', x' has an empty item (item 1 of 2)%s", ex);
    value_bad("peers", ", x", want);
    snprintf(want, sizeof want, "',' has an empty item (item 1 of 2)%s", ex);
    value_bad("peers", ",", want);

    setenv("HOME", "/home/test", 1);
    const struct { const char *text, *path; } ok[] = {
        { "~/x/y", "/home/test/x/y" }, { "~", "/home/test" }, { "/abs/p", "/abs/p" },
        { "rel/p", "rel/p" }, { "a~b", "a~b" },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cf = with_value("dir", ok[i].text, &rc);
        ck_assert_msg(rc == 0, "%s", err);
        ck_assert_str_eq(p2p_conf_path(p2p_conf_find(cf, "host"), "dir"), ok[i].path);
        ck_assert_str_eq(p2p_conf_str(p2p_conf_find(cf, "host"), "dir"), ok[i].text);
        p2p_conf_free(cf);
    }
    value_bad("dir", "~bob/x", "'~bob/x' uses '~user', which is not supported (only '~/'); "
                               "expected a file system path");
    value_bad("dir", "", "empty value; expected a file system path");
    unsetenv("HOME");
    value_bad("dir", "~/x", "'~/x' starts with '~' but $HOME is not set; expected a file system path");
    value_ok("dir", "/abs");
    /* the default "~/data" cannot be expanded either */
    cf = with_value("name", "x", &rc);
    ck_assert_int_eq(rc, P2P_ECONFIG);
    ck_assert_str_eq(err, "[host] dir: the default '~/data' starts with '~' but $HOME is not set; "
                          "expected a file system path (set the key, or $HOME)");
    p2p_conf_free(cf);
}
END_TEST

START_TEST(long_value_quoted)
{
    char value[200];
    memset(value, 'a', 150);
    strcpy(value + 150, "!");
    int rc;
    p2p_conf *cf = with_value("count", value, &rc);
    ck_assert_int_eq(rc, P2P_ECONFIG);
    /* at most 80 bytes of the value, then "..." */
    char want[300];
    snprintf(want, sizeof want, "t.ini:2: [host] count: '%.80s...' is not an integer; expected an "
             "integer from 1 to 100", value);
    ck_assert_str_eq(err, want);
    p2p_conf_free(cf);
}
END_TEST

/* ---- defaults, accessors -------------------------------------------- */

START_TEST(defaults)
{
    setenv("HOME", "/h", 1);
    p2p_conf *cf = load("[host]\n[app x]\nname = n\n");
    p2p_conf_section *h = validated(cf, "host");
    ck_assert_ptr_null(p2p_conf_str(h, "name"));
    ck_assert_int_eq(p2p_conf_int(h, "count"), 5);
    ck_assert_int_eq(p2p_conf_int(h, "big"), 0);
    ck_assert(p2p_conf_bool(h, "enabled"));
    ck_assert_int_eq(p2p_conf_enum(h, "mode"), 2);
    ck_assert_uint_eq(p2p_conf_duration_ms(h, "timeout"), 30000);
    ck_assert_int_eq(p2p_conf_int(h, "timeout"), 30000);
    ck_assert_uint_eq(p2p_conf_duration_ms(h, "ttl"), 0);
    ck_assert_uint_eq(p2p_conf_size(h, "bufsize"), 65536);
    ck_assert_uint_eq(p2p_conf_size(h, "limit"), 0);
    p2p_multiaddr ma, want;
    ck_assert(p2p_conf_maddr(h, "addr", &ma));
    ck_assert_int_eq(p2p_maddr_parse(&want, "/ip4/127.0.0.1/tcp/4001", NULL, 0), 0);
    ck_assert(p2p_maddr_equal(&ma, &want));
    ck_assert_uint_eq(p2p_conf_list_len(h, "listen"), 1);
    ck_assert_str_eq(p2p_conf_list_at(h, "listen", 0), "/ip4/0.0.0.0/tcp/0");
    ck_assert_uint_eq(p2p_conf_list_len(h, "peers"), 0);
    ck_assert_ptr_null(p2p_conf_list_at(h, "peers", 0));
    ck_assert_str_eq(p2p_conf_path(h, "dir"), "/h/data");
    ck_assert_str_eq(p2p_conf_str(h, "count"), "5");
    for (const struct p2p_conf_key *k = schema; k->name; k++) ck_assert(!p2p_conf_is_set(h, k->name));
    /* keys not in the schema, or of another type: zero values */
    ck_assert_ptr_null(p2p_conf_str(h, "nope"));
    ck_assert_int_eq(p2p_conf_int(h, "nope"), 0);
    ck_assert(!p2p_conf_bool(h, "count"));
    ck_assert_int_eq(p2p_conf_enum(h, "count"), -1);
    ck_assert_int_eq(p2p_conf_enum(h, "nope"), -1);
    ck_assert_uint_eq(p2p_conf_duration_ms(h, "bufsize"), 0);
    ck_assert_uint_eq(p2p_conf_size(h, "timeout"), 0);
    ck_assert(!p2p_conf_maddr(h, "listen", &ma));
    ck_assert(!p2p_conf_maddr(h, "addr", NULL));
    ck_assert_uint_eq(p2p_conf_list_len(h, "addr"), 0);
    ck_assert_ptr_null(p2p_conf_path(h, "name"));
    /* NULL section / key */
    ck_assert_ptr_null(p2p_conf_str(NULL, "count"));
    ck_assert_int_eq(p2p_conf_int(NULL, "count"), 0);
    ck_assert_int_eq(p2p_conf_int(h, NULL), 0);
    ck_assert(!p2p_conf_is_set(NULL, "count"));
    ck_assert_int_eq(p2p_conf_enum(NULL, "mode"), -1);
    ck_assert_uint_eq(p2p_conf_section_count(NULL), 0);
    /* not validated: raw text only, typed accessors give zero values */
    p2p_conf_section *x = p2p_conf_find(cf, "app x");
    ck_assert_str_eq(p2p_conf_str(x, "name"), "n");
    ck_assert_int_eq(p2p_conf_int(x, "count"), 0);
    p2p_conf_free(cf);
}
END_TEST

START_TEST(values_and_revalidation)
{
    p2p_conf *cf = load("[host]\ncount = 7\nmode = client\npeers = a,b\ndir = /d\n");
    p2p_conf_section *h = validated(cf, "host");
    ck_assert_int_eq(p2p_conf_int(h, "count"), 7);
    ck_assert(p2p_conf_is_set(h, "count"));
    ck_assert_int_eq(p2p_conf_enum(h, "mode"), 0);
    ck_assert_uint_eq(p2p_conf_list_len(h, "peers"), 2);
    /* validating again with another schema: only its keys are visible */
    const struct p2p_conf_key other[] = {
        { "count", P2P_CONF_STR, NULL, 0, 0, NULL, NULL },
        { "mode", P2P_CONF_STR, NULL, 0, 0, NULL, NULL },
        { "peers", P2P_CONF_LIST, NULL, 0, 0, NULL, NULL },
        { "dir", P2P_CONF_STR, NULL, 0, 0, NULL, NULL },
        { "extra", P2P_CONF_INT, "9", 0, 0, NULL, NULL },
        P2P_CONF_KEYS_END,
    };
    ck_assert_int_eq(p2p_conf_validate(h, other, err, sizeof err), 0);
    ck_assert_int_eq(p2p_conf_int(h, "count"), 0);
    ck_assert_str_eq(p2p_conf_str(h, "count"), "7");
    ck_assert_int_eq(p2p_conf_int(h, "extra"), 9);
    ck_assert_ptr_null(p2p_conf_str(h, "enabled"));     /* old default, not in this schema */
    ck_assert_uint_eq(p2p_conf_list_len(h, "peers"), 2);
    ck_assert_int_eq(p2p_conf_validate(h, schema, err, sizeof err), 0);
    ck_assert_int_eq(p2p_conf_int(h, "count"), 7);
    ck_assert(p2p_conf_bool(h, "enabled"));
    p2p_conf_free(cf);
}
END_TEST

START_TEST(schema_lifetime)
{
    /* A schema may be a compound literal that is gone after the call (the
     * loader passes one): accessors must not look at it later. */
    p2p_conf *cf = load("[plugin p]\nn = 3\n");
    p2p_conf_section *s = p2p_conf_find(cf, "plugin p");
    {
        struct p2p_conf_key *k = calloc(3, sizeof *k);
        char *name = strdup("n");
        k[0] = (struct p2p_conf_key){ name, P2P_CONF_INT, NULL, 0, 0, NULL, NULL };
        k[1] = (struct p2p_conf_key){ "d", P2P_CONF_BOOL, "yes", 0, 0, NULL, NULL };
        ck_assert_int_eq(p2p_conf_validate(s, k, err, sizeof err), 0);
        memset(name, 'x', 1);
        free(name);
        free(k);
    }
    ck_assert_int_eq(p2p_conf_int(s, "n"), 3);
    ck_assert(p2p_conf_bool(s, "d"));
    p2p_conf_free(cf);
}
END_TEST

START_TEST(schema_bugs)
{
    p2p_conf *cf = load("[host]\n");
    p2p_conf_section *h = p2p_conf_find(cf, "host");
    const struct p2p_conf_key noch[] = { { "m", P2P_CONF_ENUM, NULL, 0, 0, NULL, NULL }, P2P_CONF_KEYS_END };
    ck_assert_int_eq(p2p_conf_validate(h, noch, err, sizeof err), P2P_ECONFIG);
    ck_assert_str_eq(err, "schema of [host]: key 'm': ENUM key without choices in the schema (a bug in the program)");
    const struct p2p_conf_key rng[] = { { "i", P2P_CONF_INT, NULL, 5, 1, NULL, NULL }, P2P_CONF_KEYS_END };
    ck_assert_int_eq(p2p_conf_validate(h, rng, err, sizeof err), P2P_ECONFIG);
    ck_assert_str_eq(err, "schema of [host]: key 'i': min 5 > max 1 in the schema (a bug in the program)");
    const struct p2p_conf_key def[] = { { "i", P2P_CONF_INT, "x", 0, 0, NULL, NULL }, P2P_CONF_KEYS_END };
    ck_assert_int_eq(p2p_conf_validate(h, def, err, sizeof err), P2P_ECONFIG);
    ck_assert_str_eq(err, "schema of [host]: key 'i': bad default: 'x' is not an integer; expected an "
                          "integer (a bug in the program)");
    const struct p2p_conf_key typ[] = { { "i", 99, NULL, 0, 0, NULL, NULL }, P2P_CONF_KEYS_END };
    ck_assert_int_eq(p2p_conf_validate(h, typ, err, sizeof err), P2P_ECONFIG);
    p2p_conf_free(cf);
}
END_TEST

START_TEST(schema_print)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    p2p_conf_schema_print("host", schema, f);
    fclose(f);
    const char *want[] = {
        "[host]\n; a name (string, no default)\n; name =\n",
        "; how many (integer, default 5, from 1 to 100)\n; count = 5\n",
        "; the mode (one of client|server|auto, default auto)\n; mode = auto\n",
        "; a bounded duration (duration, no default, from 1s to 1h)\n; ttl =\n",
        "; a bounded size (size, no default, from 1KiB to 1GiB)\n; limit =\n",
        "; addresses (comma-separated multiaddrs, default /ip4/0.0.0.0/tcp/0)\n; listen = /ip4/0.0.0.0/tcp/0\n",
        "; a directory (path, default ~/data)\n; dir = ~/data\n\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(out, want[i]) != NULL, "missing:\n%s\nin:\n%s", want[i], out);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config_values");
    TCase *tc = tcase_create("types");
    tcase_add_test(tc, unknown_keys);
    tcase_add_test(tc, type_str_int);
    tcase_add_test(tc, type_bool_enum);
    tcase_add_test(tc, type_duration);
    tcase_add_test(tc, type_size);
    tcase_add_test(tc, type_maddr);
    tcase_add_test(tc, type_list_path);
    tcase_add_test(tc, long_value_quoted);
    suite_add_tcase(s, tc);
    tc = tcase_create("schema");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, values_and_revalidation);
    tcase_add_test(tc, schema_lifetime);
    tcase_add_test(tc, schema_bugs);
    tcase_add_test(tc, schema_print);
    suite_add_tcase(s, tc);
    return p2p_test_run(s);
}
