/* config.c - the configuration: sections and keys, command-line
 * overrides, validation against a schema, accessors. Parsing is in
 * config_parse.c, typed values in config_value.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "p2p/error.h"
#include "util.h"

/* ---- arena ------------------------------------------------------------
 * Strings handed out by the accessors must live until p2p_conf_free, even
 * when a value is replaced or a section removed; an arena makes that the
 * natural state and frees everything at once. */

struct conf_block {
    struct conf_block *next;
    size_t used, cap;
    max_align_t data[];
};

#define ARENA_BLOCK 4096
#define ARENA_BIG 1024   /* larger requests get a block of their own */

void *conf_alloc(p2p_conf *cf, size_t n)
{
    const size_t al = _Alignof(max_align_t);
    if (n > SIZE_MAX / 2) return NULL;
    n = (n + al - 1) & ~(al - 1);
    if (n == 0) n = al;
    struct conf_block *b = cf->arena;
    if (b && b->cap - b->used >= n) {
        void *p = (char *)b->data + b->used;
        b->used += n;
        return p;
    }
    size_t cap = n > ARENA_BIG ? n : ARENA_BLOCK;
    struct conf_block *nb = malloc(sizeof *nb + cap);
    if (!nb) return NULL;
    nb->cap = cap;
    nb->used = n;
    if (n > ARENA_BIG && b) {            /* keep filling the current block */
        nb->next = b->next;
        b->next = nb;
    } else {
        nb->next = b;
        cf->arena = nb;
    }
    return nb->data;
}

char *conf_strndup(p2p_conf *cf, const char *s, size_t n)
{
    char *p = conf_alloc(cf, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *conf_strdup(p2p_conf *cf, const char *s) { return conf_strndup(cf, s, strlen(s)); }

/* Make room for one more element of a malloc'ed array: returns the array
 * (perhaps moved) or NULL, leaving the old one intact. */
static void *grow(void *arr, size_t *cap, size_t n, size_t elem)
{
    if (arr && n < *cap) return arr;
    size_t nc = *cap ? *cap * 2 : 8;
    void *na = realloc(arr, nc * elem);
    if (na) *cap = nc;
    return na;
}

/* ---- sections and entries ------------------------------------------ */

static bool name_char(int c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; }

bool conf_key_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

bool conf_section_name_ok(const char *s, size_t len, size_t *kindlen, char *why, size_t whylen)
{
    static const char kinds[] = "expected [host], [plugin NAME] or [app NAME]";
    char q[CONF_QUOTE_MAX + 8];
    const char *sp = memchr(s, ' ', len);
    size_t kl = sp ? (size_t)(sp - s) : len;
    bool host = kl == 4 && !memcmp(s, "host", 4);
    bool named = (kl == 6 && !memcmp(s, "plugin", 6)) || (kl == 3 && !memcmp(s, "app", 3));
    if (!host && !named) {
        if (len == 0) {
            p2p_errf(why, whylen, "empty section name; %s", kinds);
        } else if (kl == 0) {
            p2p_errf(why, whylen, "the section name starts with a space; %s", kinds);
        } else {
            conf_quote_n(q, sizeof q, s, kl);
            p2p_errf(why, whylen, "unknown section kind '%s'; %s", q, kinds);
        }
        return false;
    }
    *kindlen = kl;
    if (host) {
        if (sp) p2p_errf(why, whylen, "[host] takes no name; expected [host]");
        return !sp;
    }
    const char *kind = kl == 3 ? "app" : "plugin";
    if (!sp) {
        p2p_errf(why, whylen, "%s %s section needs a name; expected [%s NAME]", kl == 3 ? "an" : "a",
                 kind, kind);
        return false;
    }
    const char *name = sp + 1;
    size_t nl = len - kl - 1;
    bool ok = nl > 0 && nl <= CONF_NAME_MAX && name[0] != '_' && name[0] != '-';
    for (size_t i = 0; ok && i < nl; i++) ok = name_char((unsigned char)name[i]);
    if (!ok) {
        conf_quote_n(q, sizeof q, name, nl);
        p2p_errf(why, whylen,
                 "'%s' is not a valid %s name; expected [%s NAME] with one space before NAME, and "
                 "NAME of at most %d characters a-z, 0-9, '_' and '-', starting with a letter or digit",
                 q, kind, kind, CONF_NAME_MAX);
    }
    return ok;
}

p2p_conf_section *conf_find_section(const p2p_conf *cf, const char *full, size_t len)
{
    for (size_t i = 0; i < cf->nsecs; i++)
        if (strlen(cf->secs[i]->full) == len && !memcmp(cf->secs[i]->full, full, len))
            return cf->secs[i];
    return NULL;
}

p2p_conf_section *conf_section_new(p2p_conf *cf, const char *full, size_t len, size_t kindlen,
                                     const char *file, int line)
{
    p2p_conf_section **a = grow(cf->secs, &cf->capsecs, cf->nsecs, sizeof *a);
    if (!a) return NULL;
    cf->secs = a;
    if (!(a = grow(cf->all, &cf->capall, cf->nall, sizeof *a))) return NULL;
    cf->all = a;
    p2p_conf_section *sec = conf_alloc(cf, sizeof *sec);
    if (!sec) return NULL;
    memset(sec, 0, sizeof *sec);
    sec->cf = cf;
    sec->full = conf_strndup(cf, full, len);
    sec->kind = conf_strndup(cf, full, kindlen);
    sec->name = kindlen == len ? sec->full : conf_strndup(cf, full + kindlen + 1, len - kindlen - 1);
    sec->line = line;
    if (file) {
        size_t cap = strlen(file) + 16;
        char *o = conf_alloc(cf, cap);
        if (o) snprintf(o, cap, "%s:%d", file, line);
        sec->origin = o;
    } else {
        sec->origin = "command line";
    }
    if (!sec->full || !sec->kind || !sec->name || !sec->origin) return NULL;
    cf->secs[cf->nsecs++] = sec;
    cf->all[cf->nall++] = sec;
    return sec;
}

struct conf_entry *conf_entry_find(const p2p_conf_section *sec, const char *key)
{
    for (size_t i = 0; i < sec->nents; i++)
        if (!strcmp(sec->ents[i].key, key)) return &sec->ents[i];
    return NULL;
}

struct conf_entry *conf_entry_add(p2p_conf_section *sec)
{
    struct conf_entry *ents = grow(sec->ents, &sec->capents, sec->nents, sizeof *ents);
    if (!ents) return NULL;
    sec->ents = ents;
    struct conf_entry *e = &ents[sec->nents++];
    memset(e, 0, sizeof *e);
    return e;
}

P2P_API p2p_conf *p2p_conf_new(void)
{
    return calloc(1, sizeof(p2p_conf));
}

P2P_API void p2p_conf_free(p2p_conf *cf)
{
    if (!cf) return;
    for (size_t i = 0; i < cf->nall; i++) {
        free(cf->all[i]->ents);
        free(cf->all[i]->known);
    }
    free(cf->all);
    free(cf->secs);
    for (struct conf_block *b = cf->arena, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(cf);
}

/* ---- command line ---------------------------------------------------- */

static bool key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > CONF_KEY_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!conf_key_char((unsigned char)key[i])) return false;
    return true;
}

/* Find or create a section named on the command line. */
static p2p_conf_section *cmdline_section(p2p_conf *cf, const char *section, bool create, int *rc,
                                         char *err, size_t errlen)
{
    char why[512], q[CONF_QUOTE_MAX + 8];
    size_t len = strlen(section), kindlen;
    if (!conf_section_name_ok(section, len, &kindlen, why, sizeof why)) {
        conf_quote(q, sizeof q, section);
        p2p_errf(err, errlen, "command line: section '%s': %s", q, why);
        *rc = P2P_EINVAL;
        return NULL;
    }
    p2p_conf_section *sec = conf_find_section(cf, section, len);
    if (!sec && create && !(sec = conf_section_new(cf, section, len, kindlen, NULL, 0))) {
        p2p_errf(err, errlen, "command line: out of memory");
        *rc = P2P_ENOMEM;
    }
    return sec;
}

P2P_API int p2p_conf_set(p2p_conf *cf, const char *section, const char *key, const char *value,
                         char *err, size_t errlen)
{
    char q[CONF_QUOTE_MAX + 8];
    int rc = 0;
    if (!cf || !section || !key || !value) {
        p2p_errf(err, errlen, "command line: missing section, key or value");
        return P2P_EINVAL;
    }
    if (!cmdline_section(cf, section, false, &rc, err, errlen) && rc) return rc;
    if (!key_ok(key)) {
        conf_quote(q, sizeof q, key);
        p2p_errf(err, errlen, "command line: [%s] '%s' is not a valid key; expected at most %d "
                 "letters, digits, '_', '-' and '.'", section, q, CONF_KEY_MAX);
        return P2P_EINVAL;
    }
    p2p_conf_section *sec = cmdline_section(cf, section, true, &rc, err, errlen);
    if (!sec) return rc;
    /* Trimmed like file values, so that "a = b" and "a= b" agree. */
    const char *a = value, *b = value + strlen(value);
    while (a < b && conf_isspace((unsigned char)*a)) a++;
    while (b > a && conf_isspace((unsigned char)b[-1])) b--;
    char *text = conf_strndup(cf, a, (size_t)(b - a));
    struct conf_entry *e = conf_entry_find(sec, key);
    if (text && !e && (e = conf_entry_add(sec)) && !(e->key = conf_strdup(cf, key))) {
        sec->nents--;
        e = NULL;
    }
    if (!text || !e) {
        p2p_errf(err, errlen, "command line: out of memory");
        return P2P_ENOMEM;
    }
    /* The old text stays in the arena: it may have been handed out. */
    e->text = text;
    e->file = NULL;
    e->line = 0;
    e->is_default = false;
    e->parsed = 0;
    e->items = NULL;
    e->nitems = 0;
    return 0;
}

P2P_API int p2p_conf_set_arg(p2p_conf *cf, const char *arg, char *err, size_t errlen)
{
    static const char expect[] =
        "expected host.KEY=VALUE, plugin.NAME.KEY=VALUE or app.NAME.KEY=VALUE";
    char q[CONF_QUOTE_MAX + 8];
    if (!cf || !arg) {
        p2p_errf(err, errlen, "command line: missing setting; %s", expect);
        return P2P_EINVAL;
    }
    conf_quote(q, sizeof q, arg);
    const char *eq = strchr(arg, '=');
    const char *dot = eq ? memchr(arg, '.', (size_t)(eq - arg)) : NULL;
    if (!eq || !dot) {
        p2p_errf(err, errlen, "command line: '%s' is not a setting; %s", q, expect);
        return P2P_EINVAL;
    }
    size_t kl = (size_t)(dot - arg);
    const char *keystart = dot + 1;
    if (!(kl == 4 && !memcmp(arg, "host", 4))) {
        bool named = (kl == 6 && !memcmp(arg, "plugin", 6)) || (kl == 3 && !memcmp(arg, "app", 3));
        const char *dot2 = memchr(dot + 1, '.', (size_t)(eq - dot - 1));
        if (!named || !dot2) {
            p2p_errf(err, errlen, "command line: '%s' does not name a section and key; %s", q, expect);
            return P2P_EINVAL;
        }
        keystart = dot2 + 1;
    }
    /* "plugin.kad.mode" -> section "plugin kad", key "mode" */
    size_t sl = (size_t)(keystart - 1 - arg);
    char *buf = malloc(sl + 1 + (size_t)(eq - keystart) + 1);
    if (!buf) {
        p2p_errf(err, errlen, "command line: out of memory");
        return P2P_ENOMEM;
    }
    char *section = buf, *key = buf + sl + 1;
    memcpy(section, arg, sl);
    section[sl] = 0;
    if (sl > kl) section[kl] = ' ';
    memcpy(key, keystart, (size_t)(eq - keystart));
    key[eq - keystart] = 0;
    int rc = p2p_conf_set(cf, section, key, eq + 1, err, errlen);
    free(buf);
    return rc;
}

P2P_API p2p_conf_section *p2p_conf_add_section(p2p_conf *cf, const char *section, char *err, size_t errlen)
{
    int rc = 0;
    if (!cf || !section) {
        p2p_errf(err, errlen, "command line: missing section");
        return NULL;
    }
    return cmdline_section(cf, section, true, &rc, err, errlen);
}

P2P_API int p2p_conf_remove_section(p2p_conf *cf, const char *section)
{
    if (!cf || !section) return P2P_ENOTFOUND;
    for (size_t i = 0; i < cf->nsecs; i++)
        if (!strcmp(cf->secs[i]->full, section)) {
            /* Only unlinked: cf->all keeps it, so pointers stay valid. */
            memmove(&cf->secs[i], &cf->secs[i + 1], (cf->nsecs - i - 1) * sizeof *cf->secs);
            cf->nsecs--;
            return 0;
        }
    return P2P_ENOTFOUND;
}

/* ---- validation ------------------------------------------------------ */

static void where(const struct conf_entry *e, char *buf, size_t cap)
{
    if (e->file) snprintf(buf, cap, "%s:%d", e->file, e->line);
    else snprintf(buf, cap, "command line");
}

static const struct p2p_conf_key *schema_find(const struct p2p_conf_key *schema, const char *key)
{
    for (const struct p2p_conf_key *k = schema; k->name; k++)
        if (!strcmp(k->name, key)) return k;
    return NULL;
}

/* Copy the names and types of the schema into the section (see
 * struct conf_known for why). */
static int remember_schema(p2p_conf_section *sec, const struct p2p_conf_key *schema)
{
    size_t n = 0, names = 0;
    for (const struct p2p_conf_key *k = schema; k->name; k++, n++) names += strlen(k->name) + 1;
    struct conf_known *kn = malloc(n * sizeof *kn + names + 1);
    if (!kn) return P2P_ENOMEM;
    char *p = (char *)(kn + n);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(schema[i].name) + 1;
        memcpy(p, schema[i].name, l);
        kn[i].name = p;
        kn[i].type = schema[i].type;
        p += l;
    }
    free(sec->known);
    sec->known = kn;
    sec->nknown = n;
    return 0;
}

static int unknown_key(const p2p_conf_section *sec, const struct conf_entry *e,
                       const struct p2p_conf_key *schema, char *err, size_t errlen)
{
    char at[1024], known[600] = "";
    size_t n = 0;
    for (const struct p2p_conf_key *k = schema; k->name && n + 1 < sizeof known; k++) {
        int w = snprintf(known + n, sizeof known - n, "%s%s", n ? ", " : "", k->name);
        if (w < 0) break;
        n += (size_t)w;
    }
    where(e, at, sizeof at);
    if (schema->name)
        p2p_errf(err, errlen, "%s: [%s] key '%s' is unknown; known keys: %s", at, sec->full, e->key, known);
    else
        p2p_errf(err, errlen, "%s: [%s] key '%s' is unknown; this section takes no keys", at,
                 sec->full, e->key);
    return P2P_ECONFIG;
}

P2P_API int p2p_conf_validate(p2p_conf_section *sec, const struct p2p_conf_key *schema, char *err,
                              size_t errlen)
{
    static const struct p2p_conf_key none[] = { P2P_CONF_KEYS_END };
    char why[1024], at[1024];
    if (!sec) {
        p2p_errf(err, errlen, "no section to validate");
        return P2P_EINVAL;
    }
    if (!schema) schema = none;
    p2p_conf *cf = sec->cf;
    for (const struct p2p_conf_key *k = schema; k->name; k++)
        if (!conf_key_sane(k, why, sizeof why)) {
            p2p_errf(err, errlen, "schema of [%s]: key '%s': %s (a bug in the program)", sec->full,
                     k->name, why);
            return P2P_ECONFIG;
        }
    if (remember_schema(sec, schema)) goto nomem;
    /* The values given, in file order, so the first error is the first line. */
    for (size_t i = 0; i < sec->nents; i++) {
        struct conf_entry *e = &sec->ents[i];
        if (e->is_default) continue;
        const struct p2p_conf_key *k = schema_find(schema, e->key);
        if (!k) return unknown_key(sec, e, schema, err, errlen);
        int rc = conf_value_parse(cf, k, e, why, sizeof why);
        if (rc == P2P_ENOMEM) goto nomem;
        if (rc) {
            where(e, at, sizeof at);
            p2p_errf(err, errlen, "%s: [%s] %s: %s", at, sec->full, e->key, why);
            return P2P_ECONFIG;
        }
    }
    /* Defaults become entries too, so the accessors find one value per
     * key. Re-validating reuses them. */
    for (const struct p2p_conf_key *k = schema; k->name; k++) {
        if (!k->def) continue;
        struct conf_entry *e = conf_entry_find(sec, k->name);
        if (e && !e->is_default) continue;
        if (!e) {
            const char *key = conf_strdup(cf, k->name);
            if (!key || !(e = conf_entry_add(sec))) goto nomem;
            e->key = key;
            e->is_default = true;
        }
        if (!e->text || strcmp(e->text, k->def)) {
            if (!(e->text = conf_strdup(cf, k->def))) goto nomem;
        }
        int rc = conf_value_parse(cf, k, e, why, sizeof why);
        if (rc == P2P_ENOMEM) goto nomem;
        if (rc && k->type == P2P_CONF_PATH) {
            /* "~/..." without $HOME: the environment's fault, not the schema's */
            p2p_errf(err, errlen, "[%s] %s: the default %s (set the key, or $HOME)", sec->full,
                     k->name, why);
            return P2P_ECONFIG;
        }
        if (rc) {
            p2p_errf(err, errlen, "schema of [%s]: key '%s': bad default: %s (a bug in the program)",
                     sec->full, k->name, why);
            return P2P_ECONFIG;
        }
    }
    return 0;
nomem:
    p2p_errf(err, errlen, "[%s]: out of memory", sec->full);
    return P2P_ENOMEM;
}

/* ---- comparing sections (reload) ------------------------------------ */

static const char *entry_text(const p2p_conf_section *s, const char *key)
{
    const struct conf_entry *e = s ? conf_entry_find(s, key) : NULL;
    return e ? e->text : NULL;
}

P2P_API bool p2p_conf_key_changed(const p2p_conf_section *a, const p2p_conf_section *b, const char *key)
{
    const char *ta = entry_text(a, key), *tb = entry_text(b, key);
    if (!ta || !tb) return ta != tb;
    return strcmp(ta, tb) != 0;
}

const char *conf_section_first_diff(const p2p_conf_section *a, const p2p_conf_section *b)
{
    for (size_t i = 0; i < a->nents; i++)
        if (p2p_conf_key_changed(a, b, a->ents[i].key)) return a->ents[i].key;
    for (size_t i = 0; i < b->nents; i++)
        if (!conf_entry_find(a, b->ents[i].key)) return b->ents[i].key;
    return NULL;
}

/* ---- sections ------------------------------------------------------- */

P2P_API size_t p2p_conf_section_count(const p2p_conf *cf) { return cf ? cf->nsecs : 0; }

P2P_API p2p_conf_section *p2p_conf_section_at(const p2p_conf *cf, size_t i)
{
    return cf && i < cf->nsecs ? cf->secs[i] : NULL;
}

P2P_API p2p_conf_section *p2p_conf_find(const p2p_conf *cf, const char *section)
{
    return cf && section ? conf_find_section(cf, section, strlen(section)) : NULL;
}

P2P_API const char *p2p_conf_section_kind(const p2p_conf_section *sec) { return sec ? sec->kind : ""; }
P2P_API const char *p2p_conf_section_name(const p2p_conf_section *sec) { return sec ? sec->name : ""; }
P2P_API const char *p2p_conf_section_origin(const p2p_conf_section *sec) { return sec ? sec->origin : ""; }

/* ---- accessors ------------------------------------------------------
 * They never fail: a key that is absent, not in the schema, of another
 * type, or not (successfully) validated gives the zero value. */

static const struct conf_known *known_find(const p2p_conf_section *sec, const char *key)
{
    for (size_t i = 0; sec && key && i < sec->nknown; i++)
        if (!strcmp(sec->known[i].name, key)) return &sec->known[i];
    return NULL;
}

/* The parsed entry of a key of type a or b, or NULL. */
static const struct conf_entry *typed(const p2p_conf_section *sec, const char *key,
                                      enum p2p_conf_type a, enum p2p_conf_type b)
{
    const struct conf_known *kn = known_find(sec, key);
    if (!kn || (kn->type != a && kn->type != b)) return NULL;
    const struct conf_entry *e = conf_entry_find(sec, key);
    return e && e->parsed == kn->type ? e : NULL;
}

P2P_API bool p2p_conf_is_set(const p2p_conf_section *sec, const char *key)
{
    const struct conf_entry *e = sec && key ? conf_entry_find(sec, key) : NULL;
    return e && !e->is_default;
}

P2P_API const char *p2p_conf_str(const p2p_conf_section *sec, const char *key)
{
    if (!sec || !key) return NULL;
    /* Before validation: the raw text; after: only keys of the schema. */
    if (sec->known && !known_find(sec, key)) return NULL;
    const struct conf_entry *e = conf_entry_find(sec, key);
    return e ? e->text : NULL;
}

P2P_API int64_t p2p_conf_int(const p2p_conf_section *sec, const char *key)
{
    /* DURATION (ms) and SIZE (bytes) are integers too. */
    const struct conf_entry *e = typed(sec, key, P2P_CONF_INT, P2P_CONF_INT);
    if (!e) e = typed(sec, key, P2P_CONF_DURATION, P2P_CONF_SIZE);
    return e ? e->v.i : 0;
}

P2P_API bool p2p_conf_bool(const p2p_conf_section *sec, const char *key)
{
    const struct conf_entry *e = typed(sec, key, P2P_CONF_BOOL, P2P_CONF_BOOL);
    return e ? e->v.b : false;
}

P2P_API int p2p_conf_enum(const p2p_conf_section *sec, const char *key)
{
    const struct conf_entry *e = typed(sec, key, P2P_CONF_ENUM, P2P_CONF_ENUM);
    return e ? e->v.e : -1;
}

P2P_API uint64_t p2p_conf_duration_ms(const p2p_conf_section *sec, const char *key)
{
    const struct conf_entry *e = typed(sec, key, P2P_CONF_DURATION, P2P_CONF_DURATION);
    return e ? (uint64_t)e->v.i : 0;
}

P2P_API uint64_t p2p_conf_size(const p2p_conf_section *sec, const char *key)
{
    const struct conf_entry *e = typed(sec, key, P2P_CONF_SIZE, P2P_CONF_SIZE);
    return e ? (uint64_t)e->v.i : 0;
}

P2P_API bool p2p_conf_maddr(const p2p_conf_section *sec, const char *key, p2p_multiaddr *out)
{
    const struct conf_entry *e = typed(sec, key, P2P_CONF_MADDR, P2P_CONF_MADDR);
    if (!e || !out) return false;
    *out = *e->v.ma;
    return true;
}

P2P_API size_t p2p_conf_list_len(const p2p_conf_section *sec, const char *key)
{
    const struct conf_entry *e = typed(sec, key, P2P_CONF_LIST, P2P_CONF_MADDR_LIST);
    return e ? e->nitems : 0;
}

P2P_API const char *p2p_conf_list_at(const p2p_conf_section *sec, const char *key, size_t i)
{
    const struct conf_entry *e = typed(sec, key, P2P_CONF_LIST, P2P_CONF_MADDR_LIST);
    return e && i < e->nitems ? e->items[i] : NULL;
}

P2P_API const char *p2p_conf_path(const p2p_conf_section *sec, const char *key)
{
    const struct conf_entry *e = typed(sec, key, P2P_CONF_PATH, P2P_CONF_PATH);
    return e ? e->v.path : NULL;
}
