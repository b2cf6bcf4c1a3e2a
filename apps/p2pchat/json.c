/* json.c - see json.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "text.h"

void json_w_init(struct json_w *w)
{
    p2p_buf_init(&w->b, 0);
    w->comma = false;
    w->err = 0;
}

void json_w_free(struct json_w *w)
{
    p2p_buf_free(&w->b);
}

void json_w_reset(struct json_w *w)
{
    p2p_buf_reset(&w->b);
    w->comma = false;
    w->err = 0;
}

static void put(struct json_w *w, const void *p, size_t n)
{
    if (!w->err) w->err = p2p_buf_append(&w->b, p, n);
}

static void putc_(struct json_w *w, char c)
{
    put(w, &c, 1);
}

static void put_quoted(struct json_w *w, const uint8_t *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    putc_(w, '"');
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = text_utf8_next(s + i, len - i, &cp);
        if (cp == '"' || cp == '\\') {
            char e[2] = { '\\', (char)cp };
            put(w, e, 2);
        } else if (cp == '\n') {
            put(w, "\\n", 2);
        } else if (cp == '\t') {
            put(w, "\\t", 2);
        } else if (cp == '\r') {
            put(w, "\\r", 2);
        } else if (cp < 0x20 || cp == 0x7F || cp == 0x2028 || cp == 0x2029) {
            char e[6] = { '\\', 'u', hex[cp >> 12], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15], hex[cp & 15] };
            put(w, e, 6);
        } else if (cp == TEXT_REPLACEMENT) {
            put(w, "\xEF\xBF\xBD", 3);   /* also for malformed input */
        } else {
            put(w, s + i, n);
        }
        i += n;
    }
    putc_(w, '"');
}

static void key(struct json_w *w, const char *k)
{
    if (w->comma) putc_(w, ',');
    if (k) {
        put_quoted(w, (const uint8_t *)k, strlen(k));
        putc_(w, ':');
    }
}

void json_w_obj_open(struct json_w *w, const char *k)
{
    key(w, k);
    putc_(w, '{');
    w->comma = false;
}

void json_w_obj_close(struct json_w *w)
{
    putc_(w, '}');
    w->comma = true;
}

void json_w_arr_open(struct json_w *w, const char *k)
{
    key(w, k);
    putc_(w, '[');
    w->comma = false;
}

void json_w_arr_close(struct json_w *w)
{
    putc_(w, ']');
    w->comma = true;
}

void json_w_str(struct json_w *w, const char *k, const uint8_t *s, size_t len)
{
    key(w, k);
    put_quoted(w, s, len);
    w->comma = true;
}

void json_w_cstr(struct json_w *w, const char *k, const char *s)
{
    json_w_str(w, k, (const uint8_t *)s, strlen(s));
}

static void putf(struct json_w *w, const char *fmt, ...) P2P_PRINTF(2, 3);
static void putf(struct json_w *w, const char *fmt, ...)
{
    char t[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t, sizeof t, fmt, ap);
    va_end(ap);
    if (n > 0) put(w, t, (size_t)n < sizeof t ? (size_t)n : sizeof t - 1);
}

void json_w_int(struct json_w *w, const char *k, int64_t v)
{
    key(w, k);
    putf(w, "%lld", (long long)v);
    w->comma = true;
}

void json_w_ms(struct json_w *w, const char *k, double v)
{
    key(w, k);
    if (isfinite(v)) putf(w, "%.3f", v);
    else put(w, "null", 4);
    w->comma = true;
}

void json_w_bool(struct json_w *w, const char *k, bool v)
{
    key(w, k);
    put(w, v ? "true" : "false", v ? 4 : 5);
    w->comma = true;
}

const char *json_w_finish(struct json_w *w)
{
    putc_(w, 0);
    if (w->err) return NULL;
    w->b.len--;   /* the NUL is not part of the text */
    return (const char *)p2p_buf_head(&w->b);
}

/* ---- parsing ----------------------------------------------------------- */

struct jp {
    const char *s, *end;
    char *store, *store_end;
    char *err;
    size_t errlen;
};

static int fail(struct jp *p, const char *fmt, ...) P2P_PRINTF(2, 3);
static int fail(struct jp *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static void skip_ws(struct jp *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* A string at p->s (the opening quote), decoded into the store. */
static int parse_string(struct jp *p, const char **out, size_t *outlen)
{
    p->s++;
    char *o = p->store;
    for (;;) {
        if (p->s >= p->end) return fail(p, "unterminated string");
        uint8_t c = (uint8_t)*p->s;
        if (c == '"') break;
        if (c < 0x20) return fail(p, "control character in a string; expected it escaped (\\n, \\u0001)");
        size_t n = 1;
        uint8_t enc[4];
        if (c == '\\') {
            if (p->end - p->s < 2) return fail(p, "unterminated string");
            char e = p->s[1];
            uint32_t cp = 0;
            n = 2;
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = 8; break;
            case 'f': cp = 12; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (p->end - p->s < 6 || hex4(p->s + 2, &cp) < 0) return fail(p, "bad \\u escape; expected 4 hex digits");
                n = 6;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (p->end - p->s < 12 || p->s[6] != '\\' || p->s[7] != 'u' || hex4(p->s + 8, &lo) < 0 ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return fail(p, "lone surrogate in a \\u escape");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    n = 12;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return fail(p, "lone surrogate in a \\u escape");
                }
                break;
            default: return fail(p, "bad escape '\\%c'", e >= 0x20 && e < 0x7f ? e : '?');
            }
            size_t m = text_utf8_put(cp, enc);
            if (p->store_end - o < (ptrdiff_t)m + 1) return fail(p, "too long");
            memcpy(o, enc, m);
            o += m;
            p->s += n;
            continue;
        }
        uint32_t cp;
        if (!(n = text_utf8_check((const uint8_t *)p->s, (size_t)(p->end - p->s), &cp)))
            return fail(p, "invalid UTF-8 in a string");
        if (p->store_end - o < (ptrdiff_t)n + 1) return fail(p, "too long");
        memcpy(o, p->s, n);
        o += n;
        p->s += n;
    }
    p->s++;
    *o = 0;
    *out = p->store;
    *outlen = (size_t)(o - p->store);
    p->store = o + 1;
    return 0;
}

/* A number per RFC 8259's grammar. */
static int parse_number(struct jp *p, struct json_field *f)
{
    const char *s = p->s;
    char buf[64];
    size_t n = 0;
    bool frac = false;
    if (s < p->end && *s == '-') buf[n++] = *s++;
    if (s >= p->end || *s < '0' || *s > '9') return fail(p, "bad number");
    if (*s == '0' && s + 1 < p->end && s[1] >= '0' && s[1] <= '9') return fail(p, "bad number (leading zero)");
    while (s < p->end && n < sizeof buf - 1 && ((*s >= '0' && *s <= '9') || *s == '.' || *s == 'e' || *s == 'E' ||
                                              *s == '+' || *s == '-')) {
        if (*s == '.' || *s == 'e' || *s == 'E') frac = true;
        buf[n++] = *s++;
    }
    if (n == sizeof buf - 1) return fail(p, "number too long");
    buf[n] = 0;
    /* Check the grammar strictly: int [frac] [exp]. */
    const char *q = buf + (buf[0] == '-');
    while (*q >= '0' && *q <= '9') q++;
    if (*q == '.') {
        q++;
        if (*q < '0' || *q > '9') return fail(p, "bad number");
        while (*q >= '0' && *q <= '9') q++;
    }
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-') q++;
        if (*q < '0' || *q > '9') return fail(p, "bad number");
        while (*q >= '0' && *q <= '9') q++;
    }
    if (*q) return fail(p, "bad number");
    f->num = strtod(buf, NULL);
    f->is_int = !frac;
    p->s = s;
    return 0;
}

static bool word(struct jp *p, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, w, n)) return false;
    p->s += n;
    return true;
}

int json_parse_flat(const char *in, size_t len, struct json_field *fields, char *store, size_t storecap,
                    char *err, size_t errlen)
{
    struct jp p = { in, in + len, store, store + storecap, err, errlen };
    int n = 0;
    skip_ws(&p);
    if (p.s >= p.end || *p.s != '{') return fail(&p, "expected a JSON object");
    p.s++;
    skip_ws(&p);
    if (p.s < p.end && *p.s == '}') {
        p.s++;
    } else {
        for (;;) {
            skip_ws(&p);
            if (p.s >= p.end || *p.s != '"') return fail(&p, "expected a key in double quotes");
            if (n == JSON_MAX_FIELDS) return fail(&p, "more than %d fields", JSON_MAX_FIELDS);
            struct json_field *f = &fields[n];
            memset(f, 0, sizeof *f);
            size_t klen;
            if (parse_string(&p, &f->key, &klen) < 0) return -1;
            if (klen == 0 || klen > JSON_MAX_KEY || strlen(f->key) != klen) return fail(&p, "bad key");
            for (int i = 0; i < n; i++)
                if (!strcmp(fields[i].key, f->key)) return fail(&p, "key \"%s\" repeated", f->key);
            skip_ws(&p);
            if (p.s >= p.end || *p.s != ':') return fail(&p, "expected ':' after \"%s\"", f->key);
            p.s++;
            skip_ws(&p);
            if (p.s >= p.end) return fail(&p, "value of \"%s\" missing", f->key);
            char c = *p.s;
            if (c == '"') {
                f->type = JSON_STR;
                if (parse_string(&p, &f->str, &f->len) < 0) return -1;
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                f->type = JSON_NUM;
                if (parse_number(&p, f) < 0) return -1;
            } else if (word(&p, "true")) {
                f->type = JSON_BOOL;
                f->b = true;
            } else if (word(&p, "false")) {
                f->type = JSON_BOOL;
            } else if (word(&p, "null")) {
                f->type = JSON_NULL;
            } else if (c == '{' || c == '[') {
                return fail(&p, "value of \"%s\" is an object or array; expected a string, number or boolean", f->key);
            } else {
                return fail(&p, "bad value for \"%s\"", f->key);
            }
            n++;
            skip_ws(&p);
            if (p.s < p.end && *p.s == ',') {
                p.s++;
                continue;
            }
            if (p.s < p.end && *p.s == '}') {
                p.s++;
                break;
            }
            return fail(&p, "expected ',' or '}'");
        }
    }
    skip_ws(&p);
    if (p.s != p.end) return fail(&p, "text after the object");
    return n;
}
