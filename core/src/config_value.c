/* config_value.c - typed configuration values: parse each type with a
 * message that says what was expected, and print a schema as commented
 * INI. The syntax is described for users in docs/CONFIG-FORMAT.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_int.h"
#include "p2p/error.h"
#include "util.h"

bool conf_isspace(int c)
{
    /* Not isspace(): that depends on the locale, and inih's own trimming
     * only matters for ASCII here. */
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

void conf_quote_n(char *out, size_t cap, const char *s, size_t len)
{
    if (!cap) return;
    size_t cut = len;
    if (cut > CONF_QUOTE_MAX) {
        cut = CONF_QUOTE_MAX;
        /* do not split a UTF-8 sequence */
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80) cut--;
    }
    size_t n = 0;
    for (size_t i = 0; i < cut && n + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        out[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (cut < len && n + 4 <= cap) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = 0;
}

void conf_quote(char *out, size_t cap, const char *s) { conf_quote_n(out, cap, s, strlen(s)); }

/* ---- numbers --------------------------------------------------------- */

/* Consume decimal digits at *p into *out, refusing values above limit.
 * Returns 1, 0 when there is no digit, -1 on overflow (digits are still
 * consumed, so the caller can tell "too large" from "not a number"). */
static int take_digits(const char **p, uint64_t limit, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    bool over = false;
    if (*s < '0' || *s > '9') return 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (over || v > (limit - d) / 10) over = true;
        else v = v * 10 + d;
    }
    *p = s;
    *out = v;
    return over ? -1 : 1;
}

struct unit {
    const char *name;
    int64_t mul;
};

static const struct unit duration_units[] = {
    { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
};

static const struct unit size_units[] = {
    { "B", 1 },
    { "KiB", 1LL << 10 }, { "MiB", 1LL << 20 }, { "GiB", 1LL << 30 },
    { "KB", 1000 }, { "MB", 1000000 }, { "GB", 1000000000 },
};

/* The largest unit that divides v exactly, so that ranges in messages read
 * "1s" and "64KiB" rather than "1000ms" and "65536B". */
static void fmt_unit(char *out, size_t cap, int64_t v, const struct unit *u, size_t n)
{
    const struct unit *best = &u[0];
    for (size_t i = 1; i < n && v != 0; i++)
        if (v % u[i].mul == 0 && u[i].mul > best->mul) best = &u[i];
    snprintf(out, cap, "%" PRId64 "%s", v / best->mul, best->name);
}

static void fmt_value(char *out, size_t cap, enum p2p_conf_type t, int64_t v)
{
    if (t == P2P_CONF_DURATION)
        fmt_unit(out, cap, v, duration_units, P2P_ARRAY_LEN(duration_units));
    else if (t == P2P_CONF_SIZE)
        fmt_unit(out, cap, v, size_units, P2P_ARRAY_LEN(size_units));
    else
        snprintf(out, cap, "%" PRId64, v);
}

static void bounds(const struct p2p_conf_key *k, int64_t *lo, int64_t *hi)
{
    if (k->min == 0 && k->max == 0) {
        *lo = k->type == P2P_CONF_INT ? INT64_MIN : 0;
        *hi = INT64_MAX;
    } else {
        *lo = k->min;
        *hi = k->max;
    }
}

/* " from A to B" when the schema bounds the key, else "". */
static void range_text(char *out, size_t cap, const struct p2p_conf_key *k)
{
    char a[32], b[32];
    *out = 0;
    if (k->min == 0 && k->max == 0) return;
    fmt_value(a, sizeof a, k->type, k->min);
    fmt_value(b, sizeof b, k->type, k->max);
    snprintf(out, cap, " from %s to %s", a, b);
}

static void choices_text(char *out, size_t cap, const struct p2p_conf_key *k, const char *sep)
{
    size_t n = 0;
    *out = 0;
    for (const char *const *c = k->choices; c && *c && n + 1 < cap; c++) {
        int w = snprintf(out + n, cap - n, "%s%s", c == k->choices ? "" : sep, *c);
        if (w < 0) break;
        n += (size_t)w < cap - n ? (size_t)w : cap - n - 1;
    }
}

/* What a value of this key must look like, after "expected ". */
static void expect_text(char *out, size_t cap, const struct p2p_conf_key *k)
{
    char r[80], c[400];
    range_text(r, sizeof r, k);
    switch (k->type) {
    case P2P_CONF_STR: snprintf(out, cap, "a non-empty string"); break;
    case P2P_CONF_INT: snprintf(out, cap, "an integer%s", r); break;
    case P2P_CONF_BOOL: snprintf(out, cap, "true or false (or yes/no, on/off, 1/0)"); break;
    case P2P_CONF_ENUM:
        choices_text(c, sizeof c, k, ", ");
        snprintf(out, cap, "one of: %s", c);
        break;
    case P2P_CONF_DURATION:
        snprintf(out, cap, "a duration%s such as 500ms, 30s, 5m, 2h or 1d (a bare number is seconds)", r);
        break;
    case P2P_CONF_SIZE:
        snprintf(out, cap, "a size%s such as 65536, 64KiB, 1MiB, 2GiB or 10MB", r);
        break;
    case P2P_CONF_MADDR: snprintf(out, cap, "a multiaddr such as /ip4/0.0.0.0/tcp/4001"); break;
    case P2P_CONF_MADDR_LIST: snprintf(out, cap, "a comma-separated list of multiaddrs"); break;
    case P2P_CONF_LIST: snprintf(out, cap, "a comma-separated list of non-empty items"); break;
    case P2P_CONF_PATH: snprintf(out, cap, "a file system path"); break;
    default: snprintf(out, cap, "a value"); break;
    }
}

bool conf_key_sane(const struct p2p_conf_key *k, char *why, size_t whylen)
{
    if (k->type < P2P_CONF_STR || k->type > P2P_CONF_PATH) {
        p2p_errf(why, whylen, "unknown type %d in the schema", (int)k->type);
        return false;
    }
    if (k->type == P2P_CONF_ENUM && (!k->choices || !k->choices[0])) {
        p2p_errf(why, whylen, "ENUM key without choices in the schema");
        return false;
    }
    if (k->min > k->max) {
        p2p_errf(why, whylen, "min %" PRId64 " > max %" PRId64 " in the schema", k->min, k->max);
        return false;
    }
    if (k->type == P2P_CONF_DURATION || k->type == P2P_CONF_SIZE) {
        if (k->min < 0) {
            p2p_errf(why, whylen, "negative min in the schema");
            return false;
        }
    }
    return true;
}

/* ---- one value ------------------------------------------------------- */

/* Messages are "'VALUE' what is wrong; expected WHAT". */
static int bad(char *why, size_t whylen, const struct p2p_conf_key *k, const char *text,
               const char *problem)
{
    char q[CONF_QUOTE_MAX + 8], ex[600];
    conf_quote(q, sizeof q, text);
    expect_text(ex, sizeof ex, k);
    if (*text) p2p_errf(why, whylen, "'%s' %s; expected %s", q, problem, ex);
    else p2p_errf(why, whylen, "empty value; expected %s", ex);
    return P2P_ECONFIG;
}

static int check_range(char *why, size_t whylen, const struct p2p_conf_key *k, const char *text,
                       int64_t v)
{
    int64_t lo, hi;
    bounds(k, &lo, &hi);
    if (v < lo || v > hi) return bad(why, whylen, k, text, "is out of range");
    return 0;
}

static int parse_int(const struct p2p_conf_key *k, const char *s, int64_t *out, char *why, size_t whylen)
{
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    int r = take_digits(&p, lim, &v);
    if (r == 0 || *p) return bad(why, whylen, k, s, "is not an integer");
    if (r < 0) return bad(why, whylen, k, s, "does not fit in 64 bits");
    *out = neg ? (v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return check_range(why, whylen, k, s, *out);
}

/* DURATION and SIZE: digits, optional blanks, a unit from the table. */
static int parse_scaled(const struct p2p_conf_key *k, const char *s, int64_t *out, char *why,
                        size_t whylen)
{
    const bool dur = k->type == P2P_CONF_DURATION;
    const char *what = dur ? "is not a duration" : "is not a size";
    const char *p = s;
    uint64_t v;
    int r = take_digits(&p, (uint64_t)INT64_MAX, &v);
    if (r == 0) return bad(why, whylen, k, s, what);
    while (*p == ' ' || *p == '\t') p++;
    int64_t mul = 0;
    if (!*p) {
        mul = dur ? 1000 : 1;            /* bare number: seconds, bytes */
    } else if (dur) {
        for (size_t i = 0; i < P2P_ARRAY_LEN(duration_units); i++)
            if (!strcmp(p, duration_units[i].name)) mul = duration_units[i].mul;
    } else {
        /* Case-insensitive: "64kib" and "64KB" mean what they say. */
        for (size_t i = 0; i < P2P_ARRAY_LEN(size_units); i++)
            if (!strcasecmp(p, size_units[i].name)) mul = size_units[i].mul;
    }
    if (!mul) {
        char problem[64], u[24];
        conf_quote(u, sizeof u, p);
        snprintf(problem, sizeof problem, "has an unknown unit '%s'", u);
        return bad(why, whylen, k, s, problem);
    }
    if (r < 0 || v > (uint64_t)(INT64_MAX / mul)) return bad(why, whylen, k, s, "is too large");
    *out = (int64_t)v * mul;
    return check_range(why, whylen, k, s, *out);
}

static int parse_bool(const struct p2p_conf_key *k, const char *s, bool *out, char *why, size_t whylen)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < P2P_ARRAY_LEN(yes); i++) {
        if (!strcasecmp(s, yes[i])) { *out = true; return 0; }
        if (!strcasecmp(s, no[i])) { *out = false; return 0; }
    }
    return bad(why, whylen, k, s, "is not a boolean");
}

static int parse_path(p2p_conf *cf, const struct p2p_conf_key *k, const char *s, const char **out,
                      char *why, size_t whylen)
{
    if (!*s) return bad(why, whylen, k, s, "");
    if (s[0] != '~') {
        *out = s;                        /* already in the arena */
        return 0;
    }
    if (s[1] && s[1] != '/')
        return bad(why, whylen, k, s, "uses '~user', which is not supported (only '~/')");
    const char *home = getenv("HOME");
    if (!home || !*home) return bad(why, whylen, k, s, "starts with '~' but $HOME is not set");
    size_t hl = strlen(home), rl = strlen(s + 1);
    char *p = conf_alloc(cf, hl + rl + 1);
    if (!p) return P2P_ENOMEM;
    memcpy(p, home, hl);
    memcpy(p + hl, s + 1, rl + 1);
    *out = p;
    return 0;
}

static int parse_maddr(const struct p2p_conf_key *k, const char *s, p2p_multiaddr *ma, char *why,
                       size_t whylen)
{
    char reason[200] = "", problem[240];
    if (!*s) return bad(why, whylen, k, s, "");
    if (p2p_maddr_parse(ma, s, reason, sizeof reason) == 0) return 0;
    if (*reason) snprintf(problem, sizeof problem, "is not a multiaddr (%s)", reason);
    else snprintf(problem, sizeof problem, "is not a multiaddr");
    return bad(why, whylen, k, s, problem);
}

/* LIST and MADDR_LIST: split on commas, trim the items, refuse empty ones
 * (",," or a trailing comma is more likely a mistake than intent). */
static int parse_list(p2p_conf *cf, const struct p2p_conf_key *k, struct conf_entry *e, char *why,
                      size_t whylen)
{
    const char *s = e->text;
    e->nitems = 0;
    e->items = NULL;
    if (!*s) return 0;                   /* an empty value is an empty list */
    size_t n = 1;
    for (const char *c = s; *c; c++) n += *c == ',';
    const char **items = conf_alloc(cf, n * sizeof *items);
    if (!items) return P2P_ENOMEM;
    const char *p = s;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && conf_isspace((unsigned char)*a)) a++;
        while (b > a && conf_isspace((unsigned char)b[-1])) b--;
        if (a == b) {
            char problem[80];
            snprintf(problem, sizeof problem, "has an empty item (item %zu of %zu)", i + 1, n);
            return bad(why, whylen, k, s, problem);
        }
        char *item = conf_strndup(cf, a, (size_t)(b - a));
        if (!item) return P2P_ENOMEM;
        if (k->type == P2P_CONF_MADDR_LIST) {
            p2p_multiaddr ma;
            int rc = parse_maddr(k, item, &ma, why, whylen);
            if (rc) return rc;
        }
        items[i] = item;
        p = *end ? end + 1 : end;
    }
    e->items = items;
    e->nitems = n;
    return 0;
}

int conf_value_parse(p2p_conf *cf, const struct p2p_conf_key *k, struct conf_entry *e, char *why,
                     size_t whylen)
{
    const char *s = e->text;
    int rc = 0;
    e->parsed = 0;
    switch (k->type) {
    case P2P_CONF_STR:
        if (!*s) rc = bad(why, whylen, k, s, "");
        break;
    case P2P_CONF_INT:
        rc = parse_int(k, s, &e->v.i, why, whylen);
        break;
    case P2P_CONF_DURATION:
    case P2P_CONF_SIZE:
        rc = parse_scaled(k, s, &e->v.i, why, whylen);
        break;
    case P2P_CONF_BOOL:
        rc = parse_bool(k, s, &e->v.b, why, whylen);
        break;
    case P2P_CONF_ENUM:
        e->v.e = -1;
        for (int i = 0; k->choices[i] && e->v.e < 0; i++)
            if (!strcmp(s, k->choices[i])) e->v.e = i;
        if (e->v.e < 0) rc = bad(why, whylen, k, s, "is not one of the choices");
        break;
    case P2P_CONF_PATH:
        rc = parse_path(cf, k, s, &e->v.path, why, whylen);
        break;
    case P2P_CONF_MADDR: {
        p2p_multiaddr ma;
        rc = parse_maddr(k, s, &ma, why, whylen);
        if (rc) break;
        if (!(e->v.ma = conf_alloc(cf, sizeof ma))) return P2P_ENOMEM;
        *e->v.ma = ma;
        break;
    }
    case P2P_CONF_MADDR_LIST:
    case P2P_CONF_LIST:
        rc = parse_list(cf, k, e, why, whylen);
        break;
    default:
        p2p_errf(why, whylen, "unknown type %d in the schema", (int)k->type);
        rc = P2P_ECONFIG;
    }
    if (rc == 0) e->parsed = k->type;
    return rc;
}

/* ---- schema printing ------------------------------------------------- */

static const char *type_name(enum p2p_conf_type t)
{
    switch (t) {
    case P2P_CONF_STR: return "string";
    case P2P_CONF_INT: return "integer";
    case P2P_CONF_BOOL: return "boolean";
    case P2P_CONF_ENUM: return "one of";
    case P2P_CONF_DURATION: return "duration";
    case P2P_CONF_SIZE: return "size";
    case P2P_CONF_MADDR: return "multiaddr";
    case P2P_CONF_MADDR_LIST: return "comma-separated multiaddrs";
    case P2P_CONF_LIST: return "comma-separated list";
    case P2P_CONF_PATH: return "path";
    }
    return "value";
}

P2P_API void p2p_conf_schema_print(const char *section, const struct p2p_conf_key *schema, void *file)
{
    FILE *f = file ? (FILE *)file : stdout;
    if (section) fprintf(f, "[%s]\n", section);
    for (const struct p2p_conf_key *k = schema; k && k->name; k++) {
        char desc[600], r[80];
        if (k->type == P2P_CONF_ENUM) {
            char c[400];
            choices_text(c, sizeof c, k, "|");
            snprintf(desc, sizeof desc, "one of %s", c);
        } else {
            snprintf(desc, sizeof desc, "%s", type_name(k->type));
        }
        range_text(r, sizeof r, k);
        fprintf(f, "; %s%s(%s, %s%s%s%s)\n", k->help ? k->help : "", k->help ? " " : "", desc,
                k->def ? "default " : "no default", k->def ? (*k->def ? k->def : "empty") : "", *r ? "," : "", r);
        fprintf(f, "; %s =%s%s\n", k->name, k->def && *k->def ? " " : "", k->def ? k->def : "");
    }
    if (section) fputc('\n', f);
}
