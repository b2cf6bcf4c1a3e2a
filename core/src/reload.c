/* reload.c - p2p_host_reload: apply a new configuration to a running host
 * (see p2p/host.h). Two phases: check every section (nothing changes if
 * anything is wrong or needs a restart), then hand each changed plugin
 * section to its plugin's reload, in start order. */
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "host_internal.h"
#include "p2p/error.h"
#include "p2p/log.h"
#include "util.h"

#define MOD "host"
#define MAX_RELOADS 1000

typedef int (*reload_fn)(void *state, const p2p_conf_section *cf);

/* The descriptor's reload, read only from plugins built for ABI >= 1.3:
 * older descriptors end before the field. */
static reload_fn plugin_reload(const struct p2p_plugin *d)
{
    return d->abi_minor >= 3 ? d->reload : NULL;
}

static int check_host(p2p_host *h, p2p_conf *conf, p2p_conf_section **out, char *err, size_t errlen)
{
    p2p_conf_section *hs = p2p_conf_find(conf, "host");
    char tmp[64];
    if (!hs && !(hs = p2p_conf_add_section(conf, "host", tmp, sizeof tmp))) {
        p2p_errf(err, errlen, "out of memory");
        return P2P_ENOMEM;
    }
    if (p2p_conf_validate(hs, p2p_host_schema(), err, errlen) != 0) return P2P_ECONFIG;
    for (const struct p2p_conf_key *k = p2p_host_schema(); k->name; k++) {
        if (p2p_host_key_reloadable(k->name) || !p2p_conf_key_changed(h->host_section, hs, k->name)) continue;
        p2p_errf(err, errlen, "%s: [host] %s changed; restart to apply it", p2p_conf_section_origin(hs), k->name);
        return P2P_ECONFIG;
    }
    char why[256];
    if (!getenv("P2P_LOG") && p2p_log_check_filter(p2p_conf_str(hs, "log"), why, sizeof why) != 0) {
        p2p_errf(err, errlen, "%s: [host] log: %s", p2p_conf_section_origin(hs), why);
        return P2P_ECONFIG;
    }
    *out = hs;
    return 0;
}

/* The same [app NAME] sections with the same values. */
static int check_apps(p2p_host *h, p2p_conf *conf, char *err, size_t errlen)
{
    int rc = p2p_host_check_apps(h, conf, err, errlen);
    if (rc) return rc;
    for (int pass = 0; pass < 2; pass++) {
        const p2p_conf *from = pass ? h->conf : conf, *to = pass ? conf : h->conf;
        for (size_t i = 0; i < p2p_conf_section_count(from); i++) {
            const p2p_conf_section *a = p2p_conf_section_at(from, i);
            if (strcmp(p2p_conf_section_kind(a), "app")) continue;
            char full[96];
            snprintf(full, sizeof full, "app %s", p2p_conf_section_name(a));
            const p2p_conf_section *b = p2p_conf_find(to, full);
            const char *key = b ? conf_section_first_diff(a, b) : NULL;
            if (!b || key) {
                p2p_errf(err, errlen, "[%s]%s%s %s; restart to apply it", full, key ? " " : "", key ? key : "",
                         !b ? (pass ? "was removed" : "was added") : "changed");
                return P2P_ECONFIG;
            }
        }
    }
    return 0;
}

static bool loaded(const p2p_host *h, const char *name)
{
    for (size_t i = 0; i < h->nplugins; i++)
        if (!strcmp(h->plugins[i].desc->name, name)) return true;
    return false;
}

/* Every loaded plugin has its section, validated; no other plugin
 * section. changed[i]: plugin i's section differs. */
static int check_plugins(p2p_host *h, p2p_conf *conf, p2p_conf_section **secs, bool *changed, char *err,
                         size_t errlen)
{
    for (size_t i = 0; i < p2p_conf_section_count(conf); i++) {
        const p2p_conf_section *s = p2p_conf_section_at(conf, i);
        if (strcmp(p2p_conf_section_kind(s), "plugin")) continue;
        if (!loaded(h, p2p_conf_section_name(s))) {
            p2p_errf(err, errlen, "%s: [plugin %s] was added; restart to load it", p2p_conf_section_origin(s),
                     p2p_conf_section_name(s));
            return P2P_ECONFIG;
        }
    }
    for (size_t i = 0; i < h->nplugins; i++) {
        struct loaded_plugin *lp = &h->plugins[i];
        char full[96];
        snprintf(full, sizeof full, "plugin %s", lp->desc->name);
        p2p_conf_section *s = p2p_conf_find(conf, full);
        if (!s) {
            p2p_errf(err, errlen, "[plugin %s] was removed; restart to unload it", lp->desc->name);
            return P2P_ECONFIG;
        }
        if (p2p_conf_validate(s, lp->desc->config, err, errlen) != 0) return P2P_ECONFIG;
        const char *key = conf_section_first_diff(lp->section, s);
        secs[i] = s;
        changed[i] = key != NULL;
        if (key && !plugin_reload(lp->desc)) {
            p2p_errf(err, errlen, "%s: [plugin %s] %s changed, and plugin '%s' cannot reload; restart to apply it",
                     p2p_conf_section_origin(s), lp->desc->name, key, lp->desc->name);
            return P2P_ECONFIG;
        }
    }
    return 0;
}

static int retire(p2p_host *h, p2p_conf *old)
{
    p2p_conf **r = realloc(h->retired, (h->nretired + 1) * sizeof *r);
    if (!r) return P2P_ENOMEM;
    h->retired = r;
    r[h->nretired++] = old;
    return 0;
}

P2P_API int p2p_host_reload(p2p_host *h, p2p_conf *conf, char *err, size_t errlen)
{
    if (!conf) {
        p2p_errf(err, errlen, "no configuration given");
        return P2P_EINVAL;
    }
    if (h->nretired >= MAX_RELOADS) {
        p2p_conf_free(conf);
        p2p_errf(err, errlen, "the configuration was reloaded %d times; restart to reload again", MAX_RELOADS);
        return P2P_ELIMIT;
    }
    p2p_conf_section **secs = calloc(h->nplugins + 1, sizeof *secs);
    bool *changed = calloc(h->nplugins + 1, sizeof *changed);
    p2p_conf_section *hs = NULL;
    int rc = secs && changed ? 0 : P2P_ENOMEM;
    if (rc) p2p_errf(err, errlen, "out of memory");
    if (!rc) rc = check_apps(h, conf, err, errlen);   /* first: [app] keys may imply [host] ones */
    if (!rc) rc = check_host(h, conf, &hs, err, errlen);
    if (!rc) rc = check_plugins(h, conf, secs, changed, err, errlen);
    /* Kept from here on: applied plugins may point into it. */
    if (!rc && (rc = retire(h, h->conf)) < 0) p2p_errf(err, errlen, "out of memory");
    if (rc) {
        free(secs);
        free(changed);
        p2p_conf_free(conf);
        return rc;
    }
    h->conf = conf;
    h->host_section = hs;
    int reloaded = 0;
    for (size_t i = 0; i < h->nplugins && rc == 0; i++) {
        struct loaded_plugin *lp = &h->plugins[i];
        if (changed[i]) {
            h->error[0] = 0;
            int prc = plugin_reload(lp->desc)(lp->state, secs[i]);
            if (prc < 0) {
                p2p_errf(err, errlen, "plugin '%s': reload failed: %s; it keeps its previous settings",
                         lp->desc->name, h->error[0] ? h->error : p2p_strerror(prc));
                rc = P2P_EPLUGIN;
                break;
            }
            reloaded++;
            p2p_log_info(MOD, "plugin '%s' reloaded its configuration", lp->desc->name);
        }
        lp->section = secs[i];
    }
    if (!getenv("P2P_LOG")) p2p_log_set_filter(p2p_conf_str(hs, "log"), NULL, 0);
    free(secs);
    free(changed);
    return rc ? rc : reloaded;
}
