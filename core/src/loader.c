/* loader.c - finds, checks, orders and runs plugins (see p2p/plugin.h).
 *
 * Every failure is one sentence naming the plugin, the file and the cause.
 * Plugins are searched, in order, in: the builtin descriptors the program
 * passed, $P2P_PLUGIN_PATH (colon-separated), [host] plugin_path, and the
 * directory p2pchat/plugins next to libp2pcore.so itself - which is right
 * both in the build tree and after installation. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host_internal.h"
#include "p2p/error.h"
#include "p2p/log.h"
#include "util.h"

#define MOD "loader"

P2P_API void p2p_abi_version(uint32_t *major, uint32_t *minor)
{
    if (major) *major = P2P_ABI_MAJOR;
    if (minor) *minor = P2P_ABI_MINOR;
}

/* Directory of libp2pcore.so itself, found through any of its symbols. */
static int core_dir(char *out, size_t cap)
{
    Dl_info info;
    if (!dladdr((void *)&p2p_abi_version, &info) || !info.dli_fname) return -1;
    char real[PATH_MAX];
    if (!realpath(info.dli_fname, real)) return -1;
    char *slash = strrchr(real, '/');
    if (!slash) return -1;
    *slash = 0;
    if ((size_t)snprintf(out, cap, "%s", real) >= cap) return -1;
    return 0;
}

/* Append the directories of a colon- or comma-separated list. */
static void path_add(char ***dirs, size_t *n, const char *list, const char *seps)
{
    if (!list) return;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, seps);
        if (len) {
            char **nd = realloc(*dirs, (*n + 1) * sizeof **dirs);
            if (!nd) return;
            *dirs = nd;
            (*dirs)[*n] = strndup(p, len);
            if ((*dirs)[*n]) (*n)++;
        }
        p += len;
        if (*p) p++;
    }
}

static void path_free(char **dirs, size_t n)
{
    for (size_t i = 0; i < n; i++) free(dirs[i]);
    free(dirs);
}

static char **search_dirs(p2p_host *h, size_t *n)
{
    char **dirs = NULL;
    *n = 0;
    path_add(&dirs, n, getenv("P2P_PLUGIN_PATH"), ":");
    const p2p_conf_section *hs = h->host_section;
    for (size_t i = 0; hs && i < p2p_conf_list_len(hs, "plugin_path"); i++)
        path_add(&dirs, n, p2p_conf_list_at(hs, "plugin_path", i), "");
    char core[PATH_MAX], own[PATH_MAX + 32];
    if (core_dir(core, sizeof core) == 0) {
        snprintf(own, sizeof own, "%s/%s", core, P2P_PLUGIN_RELDIR);
        path_add(&dirs, n, own, "");
    }
    return dirs;
}

static int valid_plugin_name(const char *name)
{
    if (!*name || strlen(name) > 64) return 0;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
            return 0;
    return 1;
}

static struct loaded_plugin *find_loaded(p2p_host *h, const char *name)
{
    for (size_t i = 0; i < h->nplugins; i++)
        if (!strcmp(h->plugins[i].desc->name, name)) return &h->plugins[i];
    return NULL;
}

/* Load one plugin's file (or builtin descriptor) and check it. */
static int load_one(p2p_host *h, p2p_conf_section *sec, const struct p2p_plugin *const *builtin,
                    char **dirs, size_t ndirs, char *err, size_t errlen)
{
    const char *name = p2p_conf_section_name(sec);
    const char *origin = p2p_conf_section_origin(sec);
    const struct p2p_plugin *desc = NULL;
    char *path = NULL;
    void *dl = NULL;

    if (!valid_plugin_name(name)) {
        p2p_errf(err, errlen, "%s: plugin name '%s' is not valid; expected lower-case letters, digits, '-' and '_'", origin, name);
        return P2P_ECONFIG;
    }
    for (size_t i = 0; builtin && builtin[i]; i++)
        if (builtin[i]->name && !strcmp(builtin[i]->name, name)) { desc = builtin[i]; break; }

    if (desc) {
        path = strdup("(built in)");
    } else {
        char file[PATH_MAX];
        size_t searched = 0;
        char tried[1024] = "";
        for (size_t i = 0; i < ndirs && !path; i++) {
            snprintf(file, sizeof file, "%s/p2p_%s.so", dirs[i], name);
            size_t tl = strlen(tried);
            if (tl < sizeof tried - 1)
                snprintf(tried + tl, sizeof tried - tl, "%s%s", searched++ ? ", " : "", dirs[i]);
            struct stat st;
            if (stat(file, &st) == 0) path = strdup(file);
        }
        if (!path) {
            p2p_errf(err, errlen, "plugin '%s' (%s): file p2p_%s.so not found in the plugin path (%s)",
                     name, origin, name, searched ? tried : "empty");
            return P2P_ENOTFOUND;
        }
        /* RTLD_LOCAL: plugins see the core's SDK, never each other. */
        dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
            const char *why = dlerror();
            p2p_errf(err, errlen, "plugin '%s' (%s): %s is not a loadable shared object: %s",
                     name, origin, path, why ? why : "unknown dlopen error");
            free(path);
            return P2P_EPLUGIN;
        }
        dlerror();
        desc = dlsym(dl, P2P_PLUGIN_SYMBOL);
        if (!desc) {
            p2p_errf(err, errlen, "plugin '%s' (%s): %s does not export the descriptor symbol '%s'; "
                     "was it built with P2P_PLUGIN_EXPORT?", name, origin, path, P2P_PLUGIN_SYMBOL);
            dlclose(dl);
            free(path);
            return P2P_EPLUGIN;
        }
    }

    int rc = 0;
    struct loaded_plugin *dup;
    if (desc->abi_major != P2P_ABI_MAJOR || desc->abi_minor > P2P_ABI_MINOR) {
        p2p_errf(err, errlen, "plugin '%s' (%s): ABI mismatch: %s was built for plugin ABI %u.%u but this core provides %u.%u",
                 name, origin, path, desc->abi_major, desc->abi_minor, P2P_ABI_MAJOR, P2P_ABI_MINOR);
        rc = P2P_EABI;
    } else if (!desc->name || strcmp(desc->name, name) != 0) {
        p2p_errf(err, errlen, "plugin '%s' (%s): %s declares the name '%s' instead of '%s'",
                 name, origin, path, desc->name ? desc->name : "(none)", name);
        rc = P2P_EPLUGIN;
    } else if (!desc->init) {
        p2p_errf(err, errlen, "plugin '%s' (%s): %s has no init function in its descriptor", name, origin, path);
        rc = P2P_EPLUGIN;
    } else if ((dup = find_loaded(h, name)) != NULL) {
        p2p_errf(err, errlen, "plugin '%s' (%s): duplicate plugin: %s is already loaded from %s",
                 name, origin, path, dup->path);
        rc = P2P_EEXIST;
    } else {
        char why[512];
        if (p2p_conf_validate(sec, desc->config ? desc->config : (const struct p2p_conf_key[]){ P2P_CONF_KEYS_END },
                              why, sizeof why) != 0) {
            p2p_errf(err, errlen, "%s", why);
            rc = P2P_ECONFIG;
        }
    }
    if (rc == 0) {
        struct loaded_plugin *np = realloc(h->plugins, (h->nplugins + 1) * sizeof *np);
        if (!np) {
            rc = P2P_ENOMEM;
            p2p_errf(err, errlen, "plugin '%s': out of memory", name);
        } else {
            h->plugins = np;
            h->plugins[h->nplugins++] = (struct loaded_plugin){
                .desc = desc, .path = path, .dl = dl, .section = sec };
            p2p_log_debug(MOD, "loaded plugin %s %s from %s", name, desc->version ? desc->version : "", path);
            return 0;
        }
    }
    if (dl) dlclose(dl);
    free(path);
    return rc;
}

/* Depth-first topological sort: requirements before dependants, otherwise
 * configuration order. Detects missing requirements and cycles. */
static int visit(p2p_host *h, size_t i, struct loaded_plugin *out, size_t *nout,
                 const char **chain, size_t depth, char *err, size_t errlen)
{
    struct loaded_plugin *p = &h->plugins[i];
    if (p->mark == 2) return 0;
    if (p->mark == 1) {
        char cyc[256] = "";
        size_t start = 0;
        while (start < depth && strcmp(chain[start], p->desc->name)) start++;
        for (size_t k = start; k < depth; k++) {
            size_t l = strlen(cyc);
            snprintf(cyc + l, sizeof cyc - l, "%s -> ", chain[k]);
        }
        size_t l = strlen(cyc);
        snprintf(cyc + l, sizeof cyc - l, "%s", p->desc->name);
        p2p_errf(err, errlen, "plugin '%s' (%s): dependency cycle: %s", p->desc->name, p->path, cyc);
        return P2P_EDEP;
    }
    if (depth >= 64) {
        p2p_errf(err, errlen, "plugin '%s' (%s): dependency chain too deep", p->desc->name, p->path);
        return P2P_EDEP;
    }
    p->mark = 1;
    chain[depth] = p->desc->name;
    for (const char *const *r = p->desc->requires; r && *r; r++) {
        size_t j;
        for (j = 0; j < h->nplugins; j++)
            if (!strcmp(h->plugins[j].desc->name, *r)) break;
        if (j == h->nplugins) {
            p2p_errf(err, errlen, "plugin '%s' (%s): missing required plugin '%s'; add a [plugin %s] section to the configuration",
                     p->desc->name, p->path, *r, *r);
            return P2P_EDEP;
        }
        int rc = visit(h, j, out, nout, chain, depth + 1, err, errlen);
        if (rc) return rc;
    }
    p->mark = 2;
    out[(*nout)++] = *p;
    return 0;
}

int p2p_loader_load(p2p_host *h, const struct p2p_plugin *const *builtin, char *err, size_t errlen)
{
    size_t ndirs;
    char **dirs = search_dirs(h, &ndirs);
    int rc = 0;
    for (size_t i = 0; i < p2p_conf_section_count(h->conf) && rc == 0; i++) {
        p2p_conf_section *sec = p2p_conf_section_at(h->conf, i);
        if (!strcmp(p2p_conf_section_kind(sec), "plugin"))
            rc = load_one(h, sec, builtin, dirs, ndirs, err, errlen);
    }
    path_free(dirs, ndirs);
    if (rc || !h->nplugins) return rc;

    struct loaded_plugin *sorted = calloc(h->nplugins, sizeof *sorted);
    const char *chain[64];
    size_t n = 0;
    if (!sorted) {
        p2p_errf(err, errlen, "out of memory while ordering plugins");
        return P2P_ENOMEM;
    }
    for (size_t i = 0; i < h->nplugins && rc == 0; i++)
        rc = visit(h, i, sorted, &n, chain, 0, err, errlen);
    if (rc == 0) {
        memcpy(h->plugins, sorted, n * sizeof *sorted);
    }
    free(sorted);
    return rc;
}

int p2p_loader_init(p2p_host *h, char *err, size_t errlen)
{
    for (size_t i = 0; i < h->nplugins; i++) {
        struct loaded_plugin *p = &h->plugins[i];
        h->error[0] = 0;
        int rc = p->desc->init(h, p->section, &p->state);
        if (rc < 0) {
            p2p_errf(err, errlen, "plugin '%s' (%s): init failed: %s", p->desc->name, p->path,
                     h->error[0] ? h->error : p2p_strerror(rc));
            /* A value its schema cannot check (an address's form, keys that
             * contradict each other) is still a configuration error. */
            return rc == P2P_ECONFIG ? P2P_ECONFIG : P2P_EPLUGIN;
        }
        p->inited = true;
        p2p_log_debug(MOD, "initialised plugin %s", p->desc->name);
    }
    return 0;
}

int p2p_loader_start(p2p_host *h, char *err, size_t errlen)
{
    for (size_t i = 0; i < h->nplugins; i++) {
        struct loaded_plugin *p = &h->plugins[i];
        h->error[0] = 0;
        int rc = p->desc->start ? p->desc->start(p->state) : 0;
        if (rc < 0) {
            p2p_errf(err, errlen, "plugin '%s' (%s): start failed: %s", p->desc->name, p->path,
                     h->error[0] ? h->error : p2p_strerror(rc));
            p2p_loader_stop(h);
            return P2P_EPLUGIN;
        }
        p->started = true;
        p2p_log_debug(MOD, "started plugin %s", p->desc->name);
    }
    return 0;
}

void p2p_loader_stop(p2p_host *h)
{
    for (size_t i = h->nplugins; i-- > 0;) {
        struct loaded_plugin *p = &h->plugins[i];
        if (!p->started) continue;
        if (p->desc->stop) p->desc->stop(p->state);
        p->started = false;
        p2p_log_debug(MOD, "stopped plugin %s", p->desc->name);
    }
}

void p2p_loader_fini(p2p_host *h)
{
    for (size_t i = h->nplugins; i-- > 0;) {
        struct loaded_plugin *p = &h->plugins[i];
        if (p->inited && p->desc->fini) p->desc->fini(p->state);
        p->inited = false;
    }
}

/* Unload after the loop has closed every handle: plugin code must stay
 * mapped while libuv may still call its close callbacks. Under
 * AddressSanitizer/LeakSanitizer, dlclose would hide plugin frames in
 * leak reports, so P2P_NO_DLCLOSE=1 keeps them mapped. */
void p2p_loader_unload(p2p_host *h)
{
    const char *keep = getenv("P2P_NO_DLCLOSE");
    for (size_t i = 0; i < h->nplugins; i++) {
        if (h->plugins[i].dl && !(keep && *keep == '1')) dlclose(h->plugins[i].dl);
        free(h->plugins[i].path);
    }
    free(h->plugins);
    h->plugins = NULL;
    h->nplugins = 0;
}
