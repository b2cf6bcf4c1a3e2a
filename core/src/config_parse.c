/* config_parse.c - INI parsing with inih.
 *
 * inih tokenizes (comments, "key = value", trimming); everything inih
 * cannot report well is checked line by line in our reader before inih
 * sees the line: section headers (inih does not report empty sections and
 * truncates long names), line length (inih truncates silently with its
 * defaults), keys before any section, continuation lines, ':' separators.
 * The reader also counts lines, which this inih build does not pass to
 * the handler. */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "p2p/error.h"
#include "util.h"

struct parser {
    p2p_conf *cf;
    const char *file;            /* name used in messages (arena) */
    const char *p, *end;         /* input not yet handed to inih */
    size_t left;                 /* bytes of the current line still to hand over */
    int lineno;
    p2p_conf_section *cur;
    const char *key;             /* key of the current line, if it is a key line */
    size_t keylen;
    bool key_pending;            /* inih has not yet called the handler for it */
    bool prev_key;               /* the previous non-blank line was a key line */
    bool failed;
    char *err;
    size_t errlen;
};

static void P2P_PRINTF(2, 3) parse_error(struct parser *ps, const char *fmt, ...)
{
    ps->failed = true;
    if (!ps->err || !ps->errlen) return;
    int n = snprintf(ps->err, ps->errlen, "%s:%d: ", ps->file, ps->lineno);
    if (n < 0 || (size_t)n >= ps->errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* "[plugin kad] " for messages, or "" before the first section. */
static const char *cur_name(const struct parser *ps, char *buf, size_t cap)
{
    if (!ps->cur) return "";
    snprintf(buf, cap, "[%s] ", ps->cur->full);
    return buf;
}

static bool section_line(struct parser *ps, const char *t, const char *te)
{
    char why[512], q[CONF_QUOTE_MAX + 8], qs[CONF_QUOTE_MAX + 8];
    const char *close = memchr(t, ']', (size_t)(te - t));
    conf_quote_n(q, sizeof q, t, (size_t)(te - t));
    if (!close) {
        parse_error(ps, "'%s' has no closing ']'; expected [host], [plugin NAME] or [app NAME]", q);
        return false;
    }
    const char *rest = close + 1;
    while (rest < te && (*rest == ' ' || *rest == '\t')) rest++;
    if (rest < te && *rest != ';') {
        parse_error(ps, "unexpected text after ']' in '%s'; expected nothing or a ';' comment", q);
        return false;
    }
    const char *s = t + 1;
    size_t len = (size_t)(close - s), kindlen;
    if (!conf_section_name_ok(s, len, &kindlen, why, sizeof why)) {
        conf_quote_n(qs, sizeof qs, s, len);
        parse_error(ps, "[%s]: %s", qs, why);
        return false;
    }
    p2p_conf_section *dup = conf_find_section(ps->cf, s, len);
    if (dup) {
        /* For [plugin NAME] this is the loader's "duplicate plugin" case. */
        parse_error(ps, "duplicate %s [%s] (first at line %d); expected each section once",
                    strncmp(dup->full, "plugin ", 7) ? "section" : "plugin", dup->full, dup->line);
        return false;
    }
    if (ps->cf->nsecs >= CONF_SECTIONS_MAX) {
        parse_error(ps, "too many sections; expected at most %d", CONF_SECTIONS_MAX);
        return false;
    }
    ps->cur = conf_section_new(ps->cf, s, len, kindlen, ps->file, ps->lineno);
    if (!ps->cur) {
        parse_error(ps, "out of memory");
        return false;
    }
    ps->prev_key = false;
    return true;
}

static bool key_line(struct parser *ps, const char *s, const char *t, const char *te)
{
    char sec[CONF_NAME_MAX + 16], q[CONF_QUOTE_MAX + 8];
    const char *k = t, *eq = memchr(t, '=', (size_t)(te - t));
    while (k < te && conf_key_char((unsigned char)*k)) k++;
    size_t klen = (size_t)(k - t);
    const char *after = k;
    while (after < te && (*after == ' ' || *after == '\t')) after++;
    const char *what = cur_name(ps, sec, sizeof sec);
    if (!eq && t > s && ps->prev_key) {
        /* inih would take this as a continuation of the previous value; we
         * turned that off (see set_inih_knobs) and say why. */
        parse_error(ps, "%scontinuation lines are not supported; expected the whole value on the "
                    "'key = value' line (separate list items with commas)", what);
        return false;
    }
    if (!klen || after == te || *after != '=') {
        size_t n = (size_t)((eq ? eq : te) - t);
        while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t')) n--;
        bool colon = klen && after < te && *after == ':';
        conf_quote_n(q, sizeof q, t, colon ? klen : n);
        if (colon)
            parse_error(ps, "%s'%s:' uses ':'; expected 'key = value'", what, q);
        else if (!eq)
            parse_error(ps, "%s'%s' is not a section header, a 'key = value' line or a comment; "
                        "expected one of these", what, q);
        else if (!klen && *t == '=')
            parse_error(ps, "%smissing key before '='; expected 'key = value'", what);
        else
            parse_error(ps, "%s'%s' is not a valid key; expected letters, digits, '_', '-' and '.'",
                        what, q);
        return false;
    }
    if (klen > CONF_KEY_MAX) {
        parse_error(ps, "%skey '%.20s...' is too long; expected at most %d characters", what, t,
                    CONF_KEY_MAX);
        return false;
    }
    if (!ps->cur) {
        parse_error(ps, "key '%.*s' is outside any section; expected a [host], [plugin NAME] or "
                    "[app NAME] header before it", (int)klen, t);
        return false;
    }
    ps->key = t;
    ps->keylen = klen;
    ps->key_pending = true;
    ps->prev_key = true;
    return true;
}

/* Check one line (len bytes at s, without the '\n') before inih sees it. */
static bool check_line(struct parser *ps, const char *s, size_t len)
{
    size_t count = len > 0 && s[len - 1] == '\r' ? len - 1 : len;   /* CRLF files */
    if (count > CONF_LINE_MAX) {
        parse_error(ps, "line too long (%zu bytes); expected at most %d bytes per line", count,
                    CONF_LINE_MAX);
        return false;
    }
    if (memchr(s, 0, len)) {
        parse_error(ps, "the line contains a NUL byte; expected text");
        return false;
    }
    const char *t = s, *te = s + len;
    while (t < te && conf_isspace((unsigned char)*t)) t++;
    while (te > t && conf_isspace((unsigned char)te[-1])) te--;
    if (t == te || *t == ';' || *t == '#') return true;       /* blank or comment */
    if (*t == '[') return section_line(ps, t, te);
    return key_line(ps, s, t, te);
}

/* fgets-like reader for ini_parse_stream. Each line is checked when it
 * starts; a line may be handed over in several calls if inih's buffer is
 * still small (it grows by realloc). Returning NULL ends the parse. */
static char *reader(char *buf, int num, void *stream)
{
    struct parser *ps = stream;
    if (ps->failed || num < 2) return NULL;
    if (ps->left == 0) {
        if (ps->key_pending) {
            /* inih skipped a line we took for a key: our view and inih's
             * differ, so do not trust either. */
            parse_error(ps, "cannot parse this line; expected 'key = value'");
            return NULL;
        }
        if (ps->p >= ps->end) return NULL;
        const char *nl = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));
        size_t len = nl ? (size_t)(nl - ps->p) : (size_t)(ps->end - ps->p);
        ps->lineno++;
        if (!check_line(ps, ps->p, len)) return NULL;
        ps->left = len + (nl ? 1 : 0);
    }
    size_t n = ps->left < (size_t)num - 1 ? ps->left : (size_t)num - 1;
    memcpy(buf, ps->p, n);
    buf[n] = 0;
    ps->p += n;
    ps->left -= n;
    return buf;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct parser *ps = user;
    (void)section;                       /* ours (ps->cur) is not truncated */
    if (ps->failed) return 0;
    if (!ps->key_pending || !value || strlen(name) != ps->keylen || memcmp(name, ps->key, ps->keylen)) {
        parse_error(ps, "cannot parse this line; expected 'key = value'");
        return 0;
    }
    ps->key_pending = false;
    p2p_conf_section *sec = ps->cur;
    for (size_t i = 0; i < sec->nents; i++)
        if (!strcmp(sec->ents[i].key, name)) {
            parse_error(ps, "[%s] %s: key repeated (first at line %d); expected each key once per "
                        "section (lists are comma-separated)", sec->full, name, sec->ents[i].line);
            return 0;
        }
    if (sec->nents >= CONF_KEYS_MAX) {
        parse_error(ps, "[%s]: too many keys; expected at most %d per section", sec->full, CONF_KEYS_MAX);
        return 0;
    }
    struct conf_entry *e = conf_entry_add(sec);
    if (!e || !(e->key = conf_strdup(ps->cf, name)) || !(e->text = conf_strdup(ps->cf, value))) {
        if (e) sec->nents--;
        parse_error(ps, "out of memory");
        return 0;
    }
    e->file = ps->file;
    e->line = ps->lineno;
    return 1;
}

/* inih's behaviour is set by process-wide globals in this build (Debian's
 * libinih). We set every knob our reader relies on before each parse, so
 * that another user of inih in the process cannot change how we parse.
 * Heap line buffer with realloc: the stack buffer would be INI_MAX_LINE
 * (200) bytes; our reader already refuses lines over CONF_LINE_MAX, so
 * inih never truncates. Multi-line values are off: an indented line is an
 * ordinary line, and an indented line without '=' is reported by us. The
 * knobs always get the same values, so concurrent parses write the same
 * bytes. */
static void set_inih_knobs(void)
{
    static char start_comments[] = ";#", inline_comments[] = ";";
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_initial_alloc = 256;
    ini_max_line = CONF_LINE_MAX + 3;    /* '\r', '\n' and NUL */
    ini_allow_multiline = false;
    ini_allow_inline_comments = true;
    ini_inline_comment_prefixes = inline_comments;
    ini_start_comment_prefixes = start_comments;
    ini_allow_no_value = false;
    ini_allow_bom = false;               /* skipped by us, see parse_text */
    ini_stop_on_first_error = true;
}

static p2p_conf *parse_text(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
    if (len > CONF_TEXT_MAX) {
        p2p_errf(err, errlen, "%s: too large (%zu bytes); expected at most %u bytes", name, len,
                 CONF_TEXT_MAX);
        return NULL;
    }
    p2p_conf *cf = p2p_conf_new();
    struct parser ps = { .cf = cf, .p = text, .end = text + len, .err = err, .errlen = errlen };
    if (!cf || !(ps.file = conf_strdup(cf, name))) {
        p2p_errf(err, errlen, "%s: out of memory", name);
        p2p_conf_free(cf);
        return NULL;
    }
    /* A UTF-8 byte order mark (editors on Windows write one) */
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) ps.p += 3;
    set_inih_knobs();
    int rc = ini_parse_stream(reader, &ps, on_key, &ps);
    if (!ps.failed && ps.key_pending) parse_error(&ps, "cannot parse this line; expected 'key = value'");
    if (!ps.failed && rc != 0) {
        if (rc > 0) {
            ps.lineno = rc;
            parse_error(&ps, "cannot parse this line; expected 'key = value', a [section] or a comment");
        } else {
            p2p_errf(err, errlen, "%s: %s", name, rc == -2 ? "out of memory" : "cannot parse");
            ps.failed = true;
        }
    }
    if (ps.failed) {
        p2p_conf_free(cf);
        return NULL;
    }
    return cf;
}

P2P_API p2p_conf *p2p_conf_load_string(const char *text, const char *name, char *err, size_t errlen)
{
    if (!text) {
        p2p_errf(err, errlen, "no configuration text");
        return NULL;
    }
    return parse_text(text, strlen(text), name ? name : "<string>", err, errlen);
}

P2P_API p2p_conf *p2p_conf_load_file(const char *path, char *err, size_t errlen)
{
    if (!path) {
        p2p_errf(err, errlen, "no configuration file name");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        p2p_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    /* Read at most one byte past the limit, to tell "too large" apart. */
    size_t cap = 4096, n = 0;
    char *buf = NULL;
    for (;;) {
        char *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            fclose(f);
            p2p_errf(err, errlen, "%s: out of memory", path);
            return NULL;
        }
        buf = nb;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap || n > CONF_TEXT_MAX) break;
        cap *= 2;
    }
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    if (rerr) {
        free(buf);
        p2p_errf(err, errlen, "%s: cannot read: %s", path, strerror(rerr));
        return NULL;
    }
    buf[n] = 0;
    /* parse_text takes the length, so a NUL byte in the file is seen (and
     * refused) instead of silently ending the text. */
    p2p_conf *cf = parse_text(buf, n, path, err, errlen);
    free(buf);
    return cf;
}

