/* log.c - levelled logging with RUST_LOG-style per-module filters.
 *
 * Process-wide by design (one stderr per process); see p2p/log.h. The
 * filter is small (a default level and up to P2P_LOG_MAX_RULES module
 * rules) and copied whole on update, so readers never see a half-built
 * filter. All callbacks run on the loop thread, so no locking. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "p2p/error.h"
#include "p2p/log.h"
#include "util.h"

#define P2P_LOG_MAX_RULES 32
#define P2P_LOG_MODULE_MAX 32

struct log_rule {
    char module[P2P_LOG_MODULE_MAX];
    int level;
};

struct log_filter {
    int deflt;
    size_t nrules;
    struct log_rule rules[P2P_LOG_MAX_RULES];
};

static struct log_filter g_filter = { .deflt = P2P_LOG_INFO };
static p2p_log_sink g_sink;
static void *g_sink_arg;

static const char *const level_names[] = { "off", "error", "warn", "info", "debug", "trace" };

P2P_API int p2p_log_level_parse(const char *name)
{
    for (size_t i = 0; i < P2P_ARRAY_LEN(level_names); i++)
        if (!strcasecmp(name, level_names[i])) return (int)i;
    if (!strcasecmp(name, "warning")) return P2P_LOG_WARN;
    return -1;
}

P2P_API const char *p2p_log_level_name(enum p2p_log_level level)
{
    if ((int)level < 0 || (size_t)level >= P2P_ARRAY_LEN(level_names)) return "?";
    return level_names[level];
}

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) { (*s)++; (*n)--; }
    while (*n && isspace((unsigned char)(*s)[*n - 1])) (*n)--;
}

static int parse_filter(const char *spec, struct log_filter *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->deflt = P2P_LOG_INFO;
    const char *p = spec ? spec : "";
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *item = p;
        trim(&item, &n);
        p = end ? end + 1 : p + strlen(p);
        if (!n) continue;
        char buf[64];
        if (n >= sizeof buf) {
            p2p_errf(err, errlen, "log filter item '%.*s...' is too long", 20, item);
            return P2P_EINVAL;
        }
        memcpy(buf, item, n);
        buf[n] = 0;
        char *eq = strchr(buf, '=');
        if (!eq) {
            int lvl = p2p_log_level_parse(buf);
            if (lvl < 0) {
                p2p_errf(err, errlen, "unknown log level '%s'; expected off, error, warn, info, debug or trace", buf);
                return P2P_EINVAL;
            }
            f->deflt = lvl;
            continue;
        }
        *eq = 0;
        const char *mod = buf, *lv = eq + 1;
        size_t mn = strlen(mod), ln = strlen(lv);
        trim(&mod, &mn);
        trim(&lv, &ln);
        char modz[P2P_LOG_MODULE_MAX], lvz[16];
        if (!mn || mn >= sizeof modz) {
            p2p_errf(err, errlen, "bad module name in log filter item '%s=%s'", buf, eq + 1);
            return P2P_EINVAL;
        }
        for (size_t i = 0; i < mn; i++) {
            unsigned char c = (unsigned char)mod[i];
            if (!isalnum(c) && c != '-' && c != '_' && c != '.') {
                p2p_errf(err, errlen, "bad module name '%.*s' in log filter", (int)mn, mod);
                return P2P_EINVAL;
            }
        }
        memcpy(modz, mod, mn);
        modz[mn] = 0;
        if (ln >= sizeof lvz) ln = sizeof lvz - 1;
        memcpy(lvz, lv, ln);
        lvz[ln] = 0;
        int lvl = p2p_log_level_parse(lvz);
        if (lvl < 0) {
            p2p_errf(err, errlen, "unknown log level '%s' for module '%s'; expected off, error, warn, info, debug or trace", lvz, modz);
            return P2P_EINVAL;
        }
        size_t i;
        for (i = 0; i < f->nrules; i++)
            if (!strcmp(f->rules[i].module, modz)) break;
        if (i == f->nrules) {
            if (f->nrules == P2P_LOG_MAX_RULES) {
                p2p_errf(err, errlen, "too many module rules in log filter (at most %d)", P2P_LOG_MAX_RULES);
                return P2P_EINVAL;
            }
            f->nrules++;
        }
        strcpy(f->rules[i].module, modz);
        f->rules[i].level = lvl;
    }
    return 0;
}

P2P_API int p2p_log_check_filter(const char *spec, char *err, size_t errlen)
{
    struct log_filter f;
    return parse_filter(spec, &f, err, errlen);
}

P2P_API int p2p_log_set_filter(const char *spec, char *err, size_t errlen)
{
    struct log_filter f;
    int rc = parse_filter(spec, &f, err, errlen);
    if (rc) return rc;
    g_filter = f;
    return 0;
}

P2P_API int p2p_log_enabled(const char *module, enum p2p_log_level level)
{
    if (level == P2P_LOG_OFF) return 0;
    int lvl = g_filter.deflt;
    for (size_t i = 0; i < g_filter.nrules; i++)
        if (!strcmp(g_filter.rules[i].module, module)) { lvl = g_filter.rules[i].level; break; }
    return (int)level <= lvl;
}

P2P_API void p2p_log_set_sink(p2p_log_sink fn, void *arg)
{
    g_sink = fn;
    g_sink_arg = arg;
}

P2P_API void p2p_log_vwrite(const char *module, enum p2p_log_level level, const char *fmt, va_list ap)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    static const char *const tags[] = { "OFF  ", "ERROR", "WARN ", "INFO ", "DEBUG", "TRACE" };
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000),
                     (size_t)level < P2P_ARRAY_LEN(tags) ? tags[level] : "?????", module);
    if (n < 0) return;
    if ((size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    /* One line per call: fold embedded newlines so log lines stay parseable. */
    for (char *c = line; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    if (g_sink) {
        g_sink(g_sink_arg, level, module, line);
        return;
    }
    fprintf(stderr, "%s\n", line);
}

P2P_API void p2p_log_write(const char *module, enum p2p_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    p2p_log_vwrite(module, level, fmt, ap);
    va_end(ap);
}
