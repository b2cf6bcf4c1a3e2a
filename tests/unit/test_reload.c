/* p2p_host_reload: what may change while running ([host] log, plugin
 * sections of plugins with reload), what is refused (other [host] keys,
 * [app] sections, the plugin set, plugins without reload or built for an
 * ABI without the field), failures of a plugin's reload, and lifetimes
 * of the replaced configurations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/p2p.h"
#include "testutil.h"

/* "knob": reloads; refuses level 13 and a change of `fixed`. */
struct knob {
    p2p_host *h;
    const p2p_conf_section *cf;
    int64_t level;
    int reloads;
};

static int knob_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct knob *k = calloc(1, sizeof *k);
    k->h = h;
    k->cf = cf;
    k->level = p2p_conf_int(cf, "level");
    *state = k;
    return 0;
}

static void knob_fini(void *state)
{
    free(state);
}

static int knob_reload(void *state, const p2p_conf_section *cf)
{
    struct knob *k = state;
    if (p2p_conf_key_changed(k->cf, cf, "fixed")) {
        p2p_host_set_error(k->h, "fixed changed; restart to apply it");
        return P2P_ECONFIG;
    }
    if (p2p_conf_int(cf, "level") == 13) {
        p2p_host_set_error(k->h, "level 13 is unlucky");
        return P2P_EINVAL;
    }
    k->level = p2p_conf_int(cf, "level");
    k->cf = cf;
    k->reloads++;
    return 0;
}

static const struct p2p_conf_key knob_keys[] = {
    { "level", P2P_CONF_INT, "1", 0, 100, NULL, "a level" },
    { "fixed", P2P_CONF_STR, "a", 0, 0, NULL, "needs a restart" },
    P2P_CONF_KEYS_END
};

static const struct p2p_plugin knob = {
    .abi_major = P2P_ABI_MAJOR, .abi_minor = P2P_ABI_MINOR, .name = "knob", .version = "1",
    .config = knob_keys, .init = knob_init, .fini = knob_fini, .reload = knob_reload,
};

/* "plain": no reload. */
static int plain_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    (void)h; (void)cf;
    *state = NULL;
    return 0;
}

static const struct p2p_conf_key plain_keys[] = {
    { "x", P2P_CONF_INT, "0", 0, 0, NULL, "x" },
    P2P_CONF_KEYS_END
};

static const struct p2p_plugin plain = {
    .abi_major = P2P_ABI_MAJOR, .abi_minor = P2P_ABI_MINOR, .name = "plain", .version = "1",
    .config = plain_keys, .init = plain_init,
};

/* "old": built for ABI 1.2, whose descriptor has no reload field: the
 * core must not read it (here it holds a function that must never run). */
static int old_reload(void *state, const p2p_conf_section *cf)
{
    (void)state; (void)cf;
    ck_abort_msg("the reload of an ABI 1.2 plugin was called");
    return 0;
}

static const struct p2p_plugin old = {
    .abi_major = P2P_ABI_MAJOR, .abi_minor = 2, .name = "old", .version = "1",
    .config = plain_keys, .init = plain_init, .reload = old_reload,
};

static const struct p2p_plugin *const builtins[] = { &knob, &plain, &old, NULL };

static const struct p2p_conf_key app_keys[] = {
    { "port", P2P_CONF_INT, "1", 0, 65535, NULL, "port" },
    P2P_CONF_KEYS_END
};
static const struct p2p_app_schema apps[] = { { "thing", app_keys }, { NULL, NULL } };

static const char *const base =
    "[host]\nephemeral_identity = true\nlisten =\nlog = warn\n"
    "[plugin knob]\nlevel = 5\n[plugin plain]\n[plugin old]\n[app thing]\nport = 7\n";

static p2p_conf *conf(const char *text)
{
    char err[512];
    p2p_conf *cf = p2p_conf_load_string(text, "r.ini", err, sizeof err);
    ck_assert_msg(cf != NULL, "%s", err);
    return cf;
}

/* base with one line replaced (or added after [plugin knob] when from is NULL). */
static p2p_conf *variant(const char *from, const char *to)
{
    char text[2048];
    const char *at = strstr(base, from);
    ck_assert_ptr_nonnull(at);
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
    return conf(text);
}

static p2p_host *host(void)
{
    char err[512];
    struct p2p_host_opts o = { .builtin = builtins, .apps = apps };
    p2p_host *h;
    ck_assert_msg(p2p_host_new(&h, conf(base), &o, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(p2p_host_start(h, err, sizeof err) == 0, "%s", err);
    return h;
}

static void expect_refused(p2p_host *h, p2p_conf *cf, int code, const char *part)
{
    char err[512];
    const p2p_conf *before = p2p_host_conf(h);
    int rc = p2p_host_reload(h, cf, err, sizeof err);
    ck_assert_msg(rc == code, "rc %d (%s), wanted %d: %s", rc, p2p_strerror(rc), code, err);
    ck_assert_msg(strstr(err, part) != NULL, "'%s' lacks '%s'", err, part);
    if (code == P2P_ECONFIG) ck_assert_ptr_eq(p2p_host_conf(h), before);   /* nothing changed */
}

START_TEST(applies_changes)
{
    p2p_host *h = host();
    struct knob *k = p2p_host_plugin_state(h, "knob");
    char err[512];
    /* Unchanged: nothing reloads. */
    ck_assert_int_eq(p2p_host_reload(h, conf(base), err, sizeof err), 0);
    ck_assert_int_eq(k->reloads, 0);
    /* A string of the first configuration, to read after two reloads. */
    const char *fixed = p2p_conf_str(k->cf, "fixed");
    const p2p_conf *first = p2p_host_conf(h);
    ck_assert_int_eq(p2p_host_reload(h, variant("level = 5", "level = 9"), err, sizeof err), 1);
    ck_assert_int_eq(k->level, 9);
    ck_assert_int_eq(k->reloads, 1);
    ck_assert_ptr_ne(p2p_host_conf(h), first);
    ck_assert_int_eq(p2p_conf_int(p2p_conf_find(p2p_host_conf(h), "plugin knob"), "level"), 9);
    /* Defaults written out are no change; [host] log may change. */
    ck_assert_int_eq(p2p_host_reload(h, variant("level = 5", "level = 9\nfixed = a"), err, sizeof err), 0);
    ck_assert(!p2p_log_enabled("reload-test", P2P_LOG_DEBUG));
    unsetenv("P2P_LOG");
    ck_assert_int_eq(p2p_host_reload(h, variant("log = warn", "log = warn,reload-test=debug"), err, sizeof err), 1);
    ck_assert(p2p_log_enabled("reload-test", P2P_LOG_DEBUG));
    ck_assert_int_eq(k->level, 5);   /* that file has level = 5 again */
    ck_assert_str_eq(fixed, "a");    /* old sections live on */
    p2p_log_set_filter("warn", NULL, 0);
    p2p_host_free(h);
}
END_TEST

START_TEST(refuses_what_needs_a_restart)
{
    p2p_host *h = host();
    struct knob *k = p2p_host_plugin_state(h, "knob");
    expect_refused(h, variant("listen =", "listen = /ip4/127.0.0.1/tcp/0"), P2P_ECONFIG,
                   "[host] listen changed; restart to apply it");
    expect_refused(h, variant("port = 7", "port = 8"), P2P_ECONFIG, "[app thing] port changed; restart");
    expect_refused(h, variant("[app thing]\nport = 7\n", ""), P2P_ECONFIG, "[app thing] was removed");
    expect_refused(h, variant("[plugin plain]\n", "[plugin plain]\nx = 1\n"), P2P_ECONFIG,
                   "r.ini:7: [plugin plain] x changed, and plugin 'plain' cannot reload; restart to apply it");
    expect_refused(h, variant("[plugin old]\n", "[plugin old]\nx = 1\n"), P2P_ECONFIG,
                   "plugin 'old' cannot reload");
    expect_refused(h, variant("[plugin plain]\n", ""), P2P_ECONFIG, "[plugin plain] was removed; restart");
    expect_refused(h, variant("[plugin old]\n", "[plugin old]\n[plugin extra]\n"), P2P_ECONFIG,
                   "[plugin extra] was added; restart to load it");
    /* Invalid values: the usual file:line sentence, nothing applied. */
    expect_refused(h, variant("level = 5", "level = 500"), P2P_ECONFIG, "r.ini:6: [plugin knob] level");
    expect_refused(h, variant("log = warn", "log = loud"), P2P_ECONFIG, "[host] log");
    ck_assert_int_eq(k->reloads, 0);
    /* The plugin's own refusals: its sentence, its old settings. */
    expect_refused(h, variant("level = 5", "level = 13"), P2P_EPLUGIN,
                   "plugin 'knob': reload failed: level 13 is unlucky; it keeps its previous settings");
    expect_refused(h, variant("level = 5", "level = 6\nfixed = b"), P2P_EPLUGIN, "fixed changed; restart");
    ck_assert_int_eq(k->level, 5);
    /* ... and a good one after them works. */
    char err[512];
    ck_assert_int_eq(p2p_host_reload(h, variant("level = 5", "level = 6"), err, sizeof err), 1);
    ck_assert_int_eq(k->level, 6);
    ck_assert_int_eq(p2p_host_reload(h, NULL, err, sizeof err), P2P_EINVAL);
    p2p_host_free(h);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("reload");
    TCase *tc = tcase_create("reload");
    tcase_add_test(tc, applies_changes);
    tcase_add_test(tc, refuses_what_needs_a_restart);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
