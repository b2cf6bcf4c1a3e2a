/* text.c - see text.h. */
#define _XOPEN_SOURCE 700
#include <string.h>
#include <wchar.h>

#include "text.h"

/* Decode one code point; *bad tells a malformed sequence (then *cp is
 * U+FFFD) from an encoded U+FFFD. */
static size_t decode(const uint8_t *s, size_t len, uint32_t *cp, bool *bad)
{
    uint8_t c = s[0];
    *bad = false;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint32_t v;
    uint8_t lo = 0x80, hi = 0xBF;   /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;        /* no overlongs */
        else if (c == 0xED) hi = 0x9F;   /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F;   /* <= U+10FFFF */
    } else {
        *cp = TEXT_REPLACEMENT;
        *bad = true;
        return 1;
    }
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= len) break;
        uint8_t b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
        v = (v << 6) | (b & 0x3F);
    }
    if (i <= need) {
        *cp = TEXT_REPLACEMENT;
        *bad = true;
        return i;
    }
    *cp = v;
    return need + 1;
}

size_t text_utf8_next(const uint8_t *s, size_t len, uint32_t *cp)
{
    bool bad;
    return decode(s, len, cp, &bad);
}

size_t text_utf8_check(const uint8_t *s, size_t len, uint32_t *cp)
{
    bool bad;
    size_t n = decode(s, len, cp, &bad);
    return bad ? 0 : n;
}

size_t text_utf8_put(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

bool text_utf8_valid(const uint8_t *s, size_t len)
{
    for (size_t i = 0, n; i < len; i += n) {
        uint32_t cp;
        if (!(n = text_utf8_check(s + i, len - i, &cp))) return false;
    }
    return true;
}

bool text_is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

size_t text_sanitize(const uint8_t *in, size_t len, char *out, size_t cap)
{
    size_t o = 0, i = 0;
    if (!cap) return 0;
    while (i < len) {
        uint32_t cp;
        i += text_utf8_next(in + i, len - i, &cp);
        if (text_is_control(cp)) cp = '?';
        uint8_t enc[4];
        size_t n = text_utf8_put(cp, enc);
        if (o + n + 1 > cap) break;
        memcpy(out + o, enc, n);
        o += n;
    }
    out[o] = 0;
    return o;
}

size_t text_width(const char *s, size_t len)
{
    size_t w = 0, i = 0;
    while (i < len) {
        uint32_t cp;
        i += text_utf8_next((const uint8_t *)s + i, len - i, &cp);
        int cw = wcwidth((wchar_t)cp);
        w += cw < 0 ? 1 : (size_t)cw;
    }
    return w;
}

bool text_valid_name(const uint8_t *s, size_t len, size_t max)
{
    if (!len || len > max || s[0] == ' ' || s[len - 1] == ' ') return false;
    for (size_t i = 0, n; i < len; i += n) {
        uint32_t cp;
        if (!(n = text_utf8_check(s + i, len - i, &cp)) || text_is_control(cp)) return false;
    }
    return true;
}
