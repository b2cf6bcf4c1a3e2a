/* Logging: filter syntax, per-module levels, line format. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/p2p.h"
#include "testutil.h"

static char last[2048];
static int count;

static void sink(void *arg, enum p2p_log_level level, const char *module, const char *line)
{
    (void)arg; (void)level; (void)module;
    snprintf(last, sizeof last, "%s", line);
    count++;
}

START_TEST(filters)
{
    char err[256];
    ck_assert_int_eq(p2p_log_set_filter("info,yamux=trace,kad=off", err, sizeof err), 0);
    ck_assert(p2p_log_enabled("yamux", P2P_LOG_TRACE));
    ck_assert(p2p_log_enabled("noise", P2P_LOG_INFO));
    ck_assert(!p2p_log_enabled("noise", P2P_LOG_DEBUG));
    ck_assert(!p2p_log_enabled("kad", P2P_LOG_ERROR));
    ck_assert_int_eq(p2p_log_set_filter(" warn , gossipsub = debug ", err, sizeof err), 0);
    ck_assert(!p2p_log_enabled("x", P2P_LOG_INFO));
    ck_assert(p2p_log_enabled("gossipsub", P2P_LOG_DEBUG));
    ck_assert_int_eq(p2p_log_set_filter("loud", err, sizeof err), P2P_EINVAL);
    ck_assert_msg(strstr(err, "loud"), "%s", err);
    /* A failed update keeps the old filter. */
    ck_assert(p2p_log_enabled("gossipsub", P2P_LOG_DEBUG));
    ck_assert_int_eq(p2p_log_set_filter("yamux=chatty", err, sizeof err), P2P_EINVAL);
    ck_assert_msg(strstr(err, "chatty") && strstr(err, "yamux"), "%s", err);
    ck_assert_int_eq(p2p_log_set_filter("=debug", err, sizeof err), P2P_EINVAL);
    ck_assert_int_eq(p2p_log_set_filter("", err, sizeof err), 0);
    ck_assert(p2p_log_enabled("any", P2P_LOG_INFO));
    ck_assert(!p2p_log_enabled("any", P2P_LOG_DEBUG));
    ck_assert_int_eq(p2p_log_level_parse("TRACE"), P2P_LOG_TRACE);
    ck_assert_int_eq(p2p_log_level_parse("nope"), -1);
}
END_TEST

START_TEST(line_format)
{
    char err[256];
    p2p_log_set_sink(sink, NULL);
    ck_assert_int_eq(p2p_log_set_filter("info,yamux=trace", err, sizeof err), 0);
    count = 0;
    p2p_log_debug("noise", "hidden %d", 1);
    ck_assert_int_eq(count, 0);
    p2p_log_trace("yamux", "stream %d opened\nsecond line", 3);
    ck_assert_int_eq(count, 1);
    regex_t re;
    ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z TRACE yamux: stream 3 opened second line$",
                             REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_msg(regexec(&re, last, 0, NULL, 0) == 0, "line: %s", last);
    regfree(&re);
    p2p_log_set_sink(NULL, NULL);
}
END_TEST

START_TEST(env_overrides_config)
{
    /* P2P_LOG wins over [host] log; a bad P2P_LOG is a config error. */
    char err[512];
    p2p_host *h;
    setenv("P2P_LOG", "error,ping=debug", 1);
    p2p_conf *cf = p2p_conf_load_string("[host]\nephemeral_identity = true\nlog = trace\n", "l.ini", err, sizeof err);
    ck_assert_int_eq(p2p_host_new(&h, cf, NULL, err, sizeof err), 0);
    ck_assert(p2p_log_enabled("ping", P2P_LOG_DEBUG));
    ck_assert(!p2p_log_enabled("yamux", P2P_LOG_INFO));
    p2p_host_free(h);
    setenv("P2P_LOG", "bogus", 1);
    cf = p2p_conf_load_string("[host]\nephemeral_identity = true\n", "l.ini", err, sizeof err);
    ck_assert_int_eq(p2p_host_new(&h, cf, NULL, err, sizeof err), P2P_ECONFIG);
    ck_assert_msg(strstr(err, "P2P_LOG") && strstr(err, "bogus"), "%s", err);
    unsetenv("P2P_LOG");
}
END_TEST

START_TEST(errors_readable)
{
    for (int e = 0; e > P2P_ERR_LAST_; e--) {
        const char *m = p2p_strerror(e);
        ck_assert_ptr_nonnull(m);
        ck_assert_msg(strcmp(m, "unknown error") != 0, "code %d has no message", e);
    }
    ck_assert_str_eq(p2p_strerror(-9999), "unknown error");
    ck_assert_str_eq(p2p_strerror(5), "unknown error");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, filters);
    tcase_add_test(tc, line_format);
    tcase_add_test(tc, env_overrides_config);
    tcase_add_test(tc, errors_readable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
