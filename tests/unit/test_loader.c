/* Loader and host: plugin lifecycle order, every loader failure sentence,
 * config errors in plugin sections, registries and timers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p2p/p2p.h"
#include "testutil.h"

/* ---- the built-in "recorder" plugin the test plugins report to ------- */

static char events[2048];

static void rec_record(void *state, const char *plugin, const char *event)
{
    (void)state;
    size_t l = strlen(events);
    snprintf(events + l, sizeof events - l, "%s%s:%s", l ? " " : "", plugin, event);
}

struct recorder_api {
    void (*record)(void *state, const char *plugin, const char *event);
};
static const struct recorder_api rec_api = { rec_record };

static int rec_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    (void)cf;
    *state = h;
    return p2p_service_provide(h, "recorder", 1, &rec_api, NULL);
}

static const struct p2p_plugin recorder = {
    .abi_major = P2P_ABI_MAJOR, .abi_minor = P2P_ABI_MINOR,
    .name = "recorder", .version = "1", .init = rec_init,
};
static const struct p2p_plugin *const builtins[] = { &recorder, NULL };

/* Create a host from INI text with the test plugin directory on the path;
 * returns the P2P_E* code and leaves the message in err. */
static int make_host(p2p_host **h, const char *ini, char *err, size_t errlen)
{
    char text[4096];
    snprintf(text, sizeof text,
             "[host]\nephemeral_identity = true\nplugin_path = %s\nlog = warn\nlisten =\n[plugin recorder]\n%s",
             P2P_TEST_PLUGIN_DIR, ini);
    p2p_conf *cf = p2p_conf_load_string(text, "test.ini", err, errlen);
    ck_assert_msg(cf != NULL, "config: %s", err);
    struct p2p_host_opts o = { .builtin = builtins };
    events[0] = 0;
    err[0] = 0;
    return p2p_host_new(h, cf, &o, err, errlen);
}

static void expect_fail(const char *ini, int code, const char *const *parts)
{
    p2p_host *h = NULL;
    char err[1024];
    int rc = make_host(&h, ini, err, sizeof err);
    ck_assert_msg(rc == code, "expected %s, got %d (%s): %s", p2p_strerror(code), rc, p2p_strerror(rc), err);
    ck_assert_ptr_null(h);
    for (const char *const *p = parts; *p; p++)
        ck_assert_msg(strstr(err, *p), "message '%s' lacks '%s'", err, *p);
    /* One sentence: no newline in it. */
    ck_assert_ptr_null(strchr(err, '\n'));
}

START_TEST(lifecycle_order)
{
    p2p_host *h;
    char err[1024];
    /* alpha requires beta: beta must come first although configured last. */
    int rc = make_host(&h, "[plugin alpha]\ngreeting = hey\n[plugin beta]\n", err, sizeof err);
    ck_assert_msg(rc == 0, "host: %s", err);
    ck_assert_str_eq(events, "beta:init alpha:init");
    ck_assert_int_eq(p2p_host_start(h, err, sizeof err), 0);
    ck_assert_str_eq(events, "beta:init alpha:init beta:start alpha:start");
    ck_assert_uint_eq(p2p_host_plugin_count(h), 3);
    const char *path;
    ck_assert_str_eq(p2p_host_plugin_at(h, 0, &path)->name, "recorder");
    ck_assert_str_eq(path, "(built in)");
    ck_assert_str_eq(p2p_host_plugin_at(h, 2, &path)->name, "alpha");
    ck_assert_msg(strstr(path, "/p2p_alpha.so"), "path %s", path);

    p2p_protocol_handler fn;
    void *arg;
    ck_assert_int_eq(p2p_protocol_lookup(h, "/test/alpha/1.0.0", &fn, &arg), 0);
    ck_assert_ptr_eq(arg, p2p_host_plugin_state(h, "alpha"));
    ck_assert_ptr_nonnull(p2p_service_get(h, "test-beta", 1, NULL));
    ck_assert_ptr_null(p2p_service_get(h, "test-beta", 2, NULL));

    p2p_host_stop(h);
    ck_assert_str_eq(events, "beta:init alpha:init beta:start alpha:start alpha:stop beta:stop");
    p2p_host_free(h);
    ck_assert_str_eq(events, "beta:init alpha:init beta:start alpha:start alpha:stop beta:stop alpha:fini beta:fini");
}
END_TEST

START_TEST(not_found)
{
    expect_fail("[plugin nosuch]\n", P2P_ENOTFOUND,
                (const char *[]){ "plugin 'nosuch'", "p2p_nosuch.so not found", P2P_TEST_PLUGIN_DIR, NULL });
}
END_TEST

START_TEST(not_shared_object)
{
    const char *dir = p2p_test_tmpdir();
    char path[512], ini[1024];
    snprintf(path, sizeof path, "%s/p2p_notso.so", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("this is not an ELF file\n", f);
    fclose(f);
    snprintf(ini, sizeof ini, "[plugin notso]\n");
    setenv("P2P_PLUGIN_PATH", dir, 1);
    expect_fail(ini, P2P_EPLUGIN, (const char *[]){ "plugin 'notso'", path, "not a loadable shared object", NULL });
    unsetenv("P2P_PLUGIN_PATH");
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(missing_descriptor)
{
    expect_fail("[plugin nodesc]\n", P2P_EPLUGIN,
                (const char *[]){ "plugin 'nodesc'", "p2p_nodesc.so", "does not export the descriptor symbol 'p2p_plugin_entry'", NULL });
}
END_TEST

START_TEST(abi_mismatch)
{
    expect_fail("[plugin badabi]\n", P2P_EABI,
                (const char *[]){ "plugin 'badabi'", "p2p_badabi.so", "ABI mismatch", "ABI 99.", NULL });
    expect_fail("[plugin newminor]\n", P2P_EABI,
                (const char *[]){ "plugin 'newminor'", "ABI 1.99 but this core provides 1.", NULL });
}
END_TEST

START_TEST(wrong_name)
{
    expect_fail("[plugin wrongname]\n", P2P_EPLUGIN,
                (const char *[]){ "plugin 'wrongname'", "p2p_wrongname.so", "declares the name 'other'", NULL });
}
END_TEST

START_TEST(missing_requirement)
{
    expect_fail("[plugin needsmissing]\n", P2P_EDEP,
                (const char *[]){ "plugin 'needsmissing'", "p2p_needsmissing.so", "missing required plugin 'nonexistent'", NULL });
    /* alpha without beta */
    expect_fail("[plugin alpha]\n", P2P_EDEP, (const char *[]){ "plugin 'alpha'", "missing required plugin 'beta'", NULL });
}
END_TEST

START_TEST(cycle)
{
    expect_fail("[plugin cyca]\n[plugin cycb]\n", P2P_EDEP,
                (const char *[]){ "dependency cycle", "cyca -> cycb -> cyca", NULL });
}
END_TEST

START_TEST(duplicate)
{
    p2p_host *h = NULL;
    char err[1024];
    char text[512];
    snprintf(text, sizeof text, "[host]\n[plugin beta]\n[plugin beta]\n");
    p2p_conf *cf = p2p_conf_load_string(text, "dup.ini", err, sizeof err);
    ck_assert_ptr_null(cf);
    ck_assert_msg(strstr(err, "dup.ini:3: duplicate plugin [plugin beta] (first at line 2)"), "%s", err);
    (void)h;
}
END_TEST

START_TEST(init_failed)
{
    expect_fail("[plugin beta]\nfail_init = yes\ngreeting = blue\n", P2P_EPLUGIN,
                (const char *[]){ "plugin 'beta'", "p2p_beta.so", "init failed: could not frobnicate the blue widget", NULL });
}
END_TEST

START_TEST(init_failed_unwinds)
{
    /* beta inits, alpha fails: beta must be finalised, nothing started. */
    expect_fail("[plugin beta]\n[plugin alpha]\nfail_init = true\n", P2P_EPLUGIN,
                (const char *[]){ "plugin 'alpha'", "init failed", NULL });
    ck_assert_str_eq(events, "beta:init beta:fini");
}
END_TEST

START_TEST(start_failed)
{
    p2p_host *h;
    char err[1024];
    ck_assert_int_eq(make_host(&h, "[plugin beta]\n[plugin alpha]\nfail_start = on\n", err, sizeof err), 0);
    ck_assert_int_eq(p2p_host_start(h, err, sizeof err), P2P_EPLUGIN);
    ck_assert_msg(strstr(err, "plugin 'alpha'") && strstr(err, "start failed: port already taken by the test"), "%s", err);
    ck_assert_str_eq(events, "beta:init alpha:init beta:start alpha:start beta:stop");
    p2p_host_free(h);
    ck_assert_str_eq(events, "beta:init alpha:init beta:start alpha:start beta:stop alpha:fini beta:fini");
}
END_TEST

START_TEST(plugin_config_errors)
{
    expect_fail("[plugin beta]\ncolor = red\n", P2P_ECONFIG,
                (const char *[]){ "test.ini:8", "[plugin beta]", "color", "greeting", NULL });
    expect_fail("[plugin beta]\ncount = 11\n", P2P_ECONFIG, (const char *[]){ "test.ini:8", "count", "11", NULL });
    expect_fail("[app chat]\nroom = x\n", P2P_ECONFIG, (const char *[]){ "test.ini:7", "[app chat]", NULL });
}
END_TEST

START_TEST(host_config_errors)
{
    p2p_host *h;
    char err[1024];
    p2p_conf *cf = p2p_conf_load_string("[host]\nsecret_key_seed = 256\n", "h.ini", err, sizeof err);
    ck_assert_ptr_nonnull(cf);
    ck_assert_int_eq(p2p_host_new(&h, cf, NULL, err, sizeof err), P2P_ECONFIG);
    ck_assert_msg(strstr(err, "h.ini:2") && strstr(err, "secret_key_seed"), "%s", err);
    cf = p2p_conf_load_string("[host]\nlisten = /ip4/1.2.3/tcp/1\n", "h.ini", err, sizeof err);
    ck_assert_int_eq(p2p_host_new(&h, cf, NULL, err, sizeof err), P2P_ECONFIG);
    ck_assert_msg(strstr(err, "h.ini:2") && strstr(err, "listen") && strstr(err, "1.2.3"), "%s", err);
    cf = p2p_conf_load_string("[host]\nlog = loud\n", "h.ini", err, sizeof err);
    ck_assert_int_eq(p2p_host_new(&h, cf, NULL, err, sizeof err), P2P_ECONFIG);
    ck_assert_msg(strstr(err, "log") && strstr(err, "loud"), "%s", err);
}
END_TEST

START_TEST(seed_identity)
{
    p2p_host *h;
    char err[512], id[P2P_PEERID_STRMAX];
    p2p_conf *cf = p2p_conf_load_string("[host]\nsecret_key_seed = 0\n", "s.ini", err, sizeof err);
    ck_assert_int_eq(p2p_host_new(&h, cf, NULL, err, sizeof err), 0);
    p2p_peerid_to_string(p2p_host_peerid(h), id, sizeof id);
    ck_assert_str_eq(id, "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN");
    ck_assert_ptr_null(p2p_host_identity_note(h));
    p2p_host_free(h);
}
END_TEST

static void count_reach(const struct p2p_event *ev, void *arg)
{
    ck_assert_int_eq(ev->type, P2P_EV_REACHABILITY_CHANGED);
    (*(int *)arg)++;
}

/* The reachability store (ABI 1.3): untracked until a plugin sets it,
 * events only when status, probed or tracked change, sizes checked. */
START_TEST(reachability)
{
    p2p_host *h;
    char err[512];
    p2p_conf *cf = p2p_conf_load_string("[host]\nephemeral_identity = true\n", "r.ini", err, sizeof err);
    ck_assert_int_eq(p2p_host_new(&h, cf, NULL, err, sizeof err), 0);
    struct p2p_reachability_info ri = P2P_REACHABILITY_INFO_INIT;
    ck_assert_int_eq(p2p_host_reachability(h, &ri), P2P_REACH_UNKNOWN);
    ck_assert(!ri.tracked && !ri.probed);
    ck_assert_uint_eq(ri.size, sizeof ri);
    int nev = 0;
    p2p_subscription *sub = p2p_host_subscribe(h, P2P_EV_REACHABILITY_CHANGED, count_reach, &nev);

    struct p2p_reachability_info set = P2P_REACHABILITY_INFO_INIT;
    strcpy(set.source, "test");
    ck_assert_int_eq(p2p_host_set_reachability(h, &set), 0);   /* now tracked */
    ck_assert_int_eq(nev, 1);
    ck_assert_int_eq(p2p_host_set_reachability(h, &set), 0);   /* nothing changed */
    ck_assert_int_eq(nev, 1);
    set.probed = true;
    ck_assert_int_eq(p2p_host_set_reachability(h, &set), 0);
    ck_assert_int_eq(nev, 2);
    set.status = P2P_REACH_PUBLIC;
    ck_assert_int_eq(p2p_maddr_parse(&set.addr, "/ip4/198.18.0.1/tcp/4001", NULL, 0), 0);
    ck_assert_int_eq(p2p_host_set_reachability(h, &set), 0);
    ck_assert_int_eq(nev, 3);
    set.confidence = 2;   /* confidence alone is no event */
    ck_assert_int_eq(p2p_host_set_reachability(h, &set), 0);
    ck_assert_int_eq(nev, 3);
    ck_assert_int_eq(p2p_host_reachability(h, &ri), P2P_REACH_PUBLIC);
    ck_assert(ri.tracked && ri.probed);
    ck_assert_uint_eq(ri.confidence, 2);
    ck_assert_str_eq(ri.source, "test");
    ck_assert(p2p_maddr_equal(&ri.addr, &set.addr));
    ck_assert_int_eq(p2p_host_reachability(h, NULL), P2P_REACH_PUBLIC);
    /* PRIVATE drops the address. */
    set.status = P2P_REACH_PRIVATE;
    ck_assert_int_eq(p2p_host_set_reachability(h, &set), 0);
    ck_assert_int_eq(nev, 4);
    p2p_host_reachability(h, &ri);
    ck_assert_uint_eq(ri.addr.len, 0);
    /* Bad input. */
    set.status = (enum p2p_reachability)7;
    ck_assert_int_eq(p2p_host_set_reachability(h, &set), P2P_EINVAL);
    set.status = P2P_REACH_PUBLIC;
    set.size = 4;
    ck_assert_int_eq(p2p_host_set_reachability(h, &set), P2P_EINVAL);
    ck_assert_int_eq(p2p_host_set_reachability(h, NULL), P2P_EINVAL);
    ck_assert_int_eq(p2p_host_reachability(h, NULL), P2P_REACH_PRIVATE);
    /* A caller that knows a shorter struct gets only its part. */
    struct { struct p2p_reachability_info i; uint8_t guard[8]; } small;
    memset(&small, 0xAB, sizeof small);
    small.i.size = offsetof(struct p2p_reachability_info, addr);
    p2p_host_reachability(h, &small.i);
    ck_assert_int_eq(small.i.status, P2P_REACH_PRIVATE);
    ck_assert_uint_eq(small.i.addr.len, 0xABAB);
    p2p_host_unsubscribe(h, sub);
    p2p_host_free(h);
}
END_TEST

static void noop(p2p_stream *s, const char *id, void *arg) { (void)s; (void)id; (void)arg; }

START_TEST(registries)
{
    p2p_host *h;
    char err[512];
    p2p_conf *cf = p2p_conf_load_string("[host]\nephemeral_identity = true\n", "r.ini", err, sizeof err);
    ck_assert_int_eq(p2p_host_new(&h, cf, NULL, err, sizeof err), 0);
    int x = 1, y = 2;
    ck_assert_int_eq(p2p_protocol_add(h, "/a/1", noop, &x), 0);
    ck_assert_int_eq(p2p_protocol_add(h, "/b/1", noop, &y), 0);
    ck_assert_int_eq(p2p_protocol_add(h, "/a/1", noop, &y), P2P_EEXIST);
    ck_assert_int_eq(p2p_protocol_add(h, "", noop, &y), P2P_EINVAL);
    const char *ids[4];
    ck_assert_uint_eq(p2p_protocol_list(h, ids, 4), 2);
    ck_assert_str_eq(ids[1], "/b/1");
    void *arg;
    ck_assert_int_eq(p2p_protocol_lookup(h, "/b/1", NULL, &arg), 0);
    ck_assert_ptr_eq(arg, &y);
    ck_assert_int_eq(p2p_protocol_remove(h, "/a/1"), 0);
    ck_assert_int_eq(p2p_protocol_lookup(h, "/a/1", NULL, NULL), P2P_ENOTFOUND);

    static const int api_v1 = 1, api_v2 = 2;
    ck_assert_int_eq(p2p_service_provide(h, "pubsub", 1, &api_v1, &x), 0);
    ck_assert_int_eq(p2p_service_provide(h, "pubsub", 2, &api_v2, &y), 0);
    ck_assert_int_eq(p2p_service_provide(h, "pubsub", 2, &api_v2, &y), P2P_EEXIST);
    void *st;
    ck_assert_ptr_eq(p2p_service_get(h, "pubsub", 1, &st), &api_v1);
    ck_assert_ptr_eq(st, &x);
    ck_assert_ptr_eq(p2p_service_get(h, "pubsub", 2, &st), &api_v2);
    ck_assert_ptr_null(p2p_service_get(h, "pubsub", 3, &st));
    ck_assert_ptr_null(st);
    ck_assert_int_eq(p2p_service_withdraw(h, "pubsub", 1), 0);
    ck_assert_ptr_null(p2p_service_get(h, "pubsub", 1, NULL));
    p2p_host_free(h);
}
END_TEST

struct tick { int n; uint64_t first; p2p_host *h; };

static void on_tick(p2p_timer *t, void *arg)
{
    struct tick *k = arg;
    if (k->n++ == 0) k->first = p2p_host_now_ms(k->h);
    if (k->n == 3) p2p_timer_free(t);   /* freeing inside the callback is allowed */
}

START_TEST(timers)
{
    p2p_host *h;
    char err[512];
    p2p_conf *cf = p2p_conf_load_string("[host]\nephemeral_identity = true\n", "t.ini", err, sizeof err);
    ck_assert_int_eq(p2p_host_new(&h, cf, NULL, err, sizeof err), 0);
    struct tick k = { 0, 0, h };
    uint64_t t0 = p2p_host_now_ms(h);
    p2p_timer *t = p2p_timer_new(h, on_tick, &k);
    p2p_timer_start(t, 20, 5);
    uv_run(p2p_host_loop(h), UV_RUN_DEFAULT);   /* ends when the timer is freed */
    ck_assert_int_eq(k.n, 3);
    ck_assert_uint_ge(k.first - t0, 19);
    /* A timer left alive is closed at shutdown (and reported). */
    p2p_timer *leak = p2p_timer_new(h, on_tick, &k);
    p2p_timer_start(leak, 100000, 0);
    p2p_host_free(h);
}
END_TEST

/* Deferred calls: a chain (each call scheduling the next) runs before the
 * loop polls for I/O, so what it writes leaves in the same turn; a call
 * that always reschedules itself runs a bounded number of times per turn. */
struct chain {
    p2p_host *h;
    struct p2p_defer d[3];
    int ran[3];
    int again;   /* the self-rescheduling call's count */
};

static void chain_step(struct chain *c, int i)
{
    c->ran[i]++;
    if (i + 1 < 3) p2p_defer_schedule(c->h, &c->d[i + 1]);
}
static void chain0(void *arg) { chain_step(arg, 0); }
static void chain1(void *arg) { chain_step(arg, 1); }
static void chain2(void *arg) { chain_step(arg, 2); }

static void forever(void *arg)
{
    struct chain *c = arg;
    c->again++;
    p2p_defer_schedule(c->h, &c->d[0]);
}

START_TEST(defer_chain)
{
    p2p_host *h;
    char err[512];
    p2p_conf *cf = p2p_conf_load_string("[host]\nephemeral_identity = true\n", "t.ini", err, sizeof err);
    ck_assert_int_eq(p2p_host_new(&h, cf, NULL, err, sizeof err), 0);
    struct chain c = { .h = h };
    p2p_defer_init(&c.d[0], chain0, &c);
    p2p_defer_init(&c.d[1], chain1, &c);
    p2p_defer_init(&c.d[2], chain2, &c);
    p2p_defer_schedule(h, &c.d[0]);
    ck_assert_int_eq(c.ran[0], 0);   /* never from inside the call */
    uv_run(p2p_host_loop(h), UV_RUN_NOWAIT);   /* one turn */
    ck_assert_int_eq(c.ran[0], 1);
    ck_assert_int_eq(c.ran[1], 1);
    ck_assert_int_eq(c.ran[2], 1);
    /* A call that reschedules itself: a few times per turn, not forever. */
    p2p_defer_init(&c.d[0], forever, &c);
    p2p_defer_schedule(h, &c.d[0]);
    uv_run(p2p_host_loop(h), UV_RUN_NOWAIT);
    ck_assert_int_ge(c.again, 2);
    ck_assert_int_le(c.again, 16);
    int after_one = c.again;
    uv_run(p2p_host_loop(h), UV_RUN_NOWAIT);
    ck_assert_int_gt(c.again, after_one);   /* and again in the next turn */
    p2p_defer_cancel(h, &c.d[0]);
    p2p_host_free(h);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("loader");
    tcase_add_test(tc, lifecycle_order);
    tcase_add_test(tc, not_found);
    tcase_add_test(tc, not_shared_object);
    tcase_add_test(tc, missing_descriptor);
    tcase_add_test(tc, abi_mismatch);
    tcase_add_test(tc, wrong_name);
    tcase_add_test(tc, missing_requirement);
    tcase_add_test(tc, cycle);
    tcase_add_test(tc, duplicate);
    tcase_add_test(tc, init_failed);
    tcase_add_test(tc, init_failed_unwinds);
    tcase_add_test(tc, start_failed);
    tcase_add_test(tc, plugin_config_errors);
    tcase_add_test(tc, host_config_errors);
    tcase_add_test(tc, seed_identity);
    tcase_add_test(tc, registries);
    tcase_add_test(tc, reachability);
    tcase_add_test(tc, timers);
    tcase_add_test(tc, defer_chain);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
