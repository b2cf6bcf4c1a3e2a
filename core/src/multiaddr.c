/* multiaddr.c - multiaddr text and binary forms (see p2p/multiaddr.h).
 *
 * Binary form: a sequence of components <code varint><value>, where the
 * value is fixed-size (ip4, ip6, ports), absent, or <length varint><bytes>.
 * Text form: "/name/value/name/..." with one '/'-free segment per value.
 *
 * Conventions taken from go-multiaddr (the reference implementation), so
 * that we accept and reject the same strings:
 *  - trailing slashes are ignored ("/ip4/1.2.3.4/tcp/1/" parses); "" and
 *    "/" are empty and rejected, as is an empty binary multiaddr;
 *  - "ipfs" is an alias of "p2p" on input; "p2p" is written;
 *  - the p2p value is written in base58btc and read as base58btc or as a
 *    CIDv1 with the libp2p-key codec (any multibase we know);
 *  - the certhash value is read in any multibase we know and written in
 *    base64url ('u'), its binary form being the multihash;
 *  - variable-length values are never empty, and names (dns*, sni,
 *    ip6zone) never contain '/', which would not survive the text form.
 * In addition we reject a NUL byte in names (it would cut the C string)
 * and require the p2p value to be a valid PeerId (p2p_peerid_from_bytes),
 * so that a p2p component can always be turned into a p2p_peerid. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/multiaddr.h"
#include "p2p/multibase.h"
#include "p2p/multihash.h"
#include "p2p/peerid.h"
#include "p2p/varint.h"
#include "util.h"

/* How a protocol's value is encoded. */
enum vkind {
    V_NONE,      /* no value */
    V_IP4,       /* 4 bytes */
    V_IP6,       /* 16 bytes */
    V_PORT,      /* 2 bytes, big-endian */
    V_NAME,      /* length-prefixed string (dns*, sni, ip6zone) */
    V_PEER,      /* length-prefixed PeerId multihash */
    V_CERTHASH   /* length-prefixed multihash */
};

struct proto {
    uint32_t code;
    const char *name;
    enum vkind kind;
};

static const struct proto PROTOS[] = {
    { P2P_MA_IP4, "ip4", V_IP4 },
    { P2P_MA_TCP, "tcp", V_PORT },
    { P2P_MA_DCCP, "dccp", V_PORT },
    { P2P_MA_IP6, "ip6", V_IP6 },
    { P2P_MA_IP6ZONE, "ip6zone", V_NAME },
    { P2P_MA_DNS, "dns", V_NAME },
    { P2P_MA_DNS4, "dns4", V_NAME },
    { P2P_MA_DNS6, "dns6", V_NAME },
    { P2P_MA_DNSADDR, "dnsaddr", V_NAME },
    { P2P_MA_SCTP, "sctp", V_PORT },
    { P2P_MA_UDP, "udp", V_PORT },
    { P2P_MA_WEBRTC_DIRECT, "webrtc-direct", V_NONE },
    { P2P_MA_WEBRTC, "webrtc", V_NONE },
    { P2P_MA_P2P_CIRCUIT, "p2p-circuit", V_NONE },
    { P2P_MA_P2P, "p2p", V_PEER },
    { P2P_MA_HTTPS, "https", V_NONE },
    { P2P_MA_TLS, "tls", V_NONE },
    { P2P_MA_SNI, "sni", V_NAME },
    { P2P_MA_NOISE, "noise", V_NONE },
    { P2P_MA_QUIC, "quic", V_NONE },
    { P2P_MA_QUIC_V1, "quic-v1", V_NONE },
    { P2P_MA_WEBTRANSPORT, "webtransport", V_NONE },
    { P2P_MA_CERTHASH, "certhash", V_CERTHASH },
    { P2P_MA_WS, "ws", V_NONE },
    { P2P_MA_WSS, "wss", V_NONE },
    { P2P_MA_HTTP, "http", V_NONE },
};

/* Longest value text we quote in an error message. */
#define QUOTE_MAX 80
#define QLEN(n) ((int)((n) < QUOTE_MAX ? (n) : QUOTE_MAX))

static const struct proto *proto_by_code(uint64_t code)
{
    for (size_t i = 0; i < P2P_ARRAY_LEN(PROTOS); i++)
        if (PROTOS[i].code == code) return &PROTOS[i];
    return NULL;
}

static const struct proto *proto_by_name(const char *name, size_t n)
{
    if (n == 4 && memcmp(name, "ipfs", 4) == 0) return proto_by_code(P2P_MA_P2P);
    for (size_t i = 0; i < P2P_ARRAY_LEN(PROTOS); i++)
        if (strlen(PROTOS[i].name) == n && memcmp(PROTOS[i].name, name, n) == 0)
            return &PROTOS[i];
    return NULL;
}

/* Bytes of a fixed-size value; 0 for no value or a length-prefixed one. */
static size_t fixed_size(enum vkind k)
{
    switch (k) {
    case V_IP4: return 4;
    case V_IP6: return 16;
    case V_PORT: return 2;
    default: return 0;
    }
}

static bool is_var(enum vkind k)
{
    return k == V_NAME || k == V_PEER || k == V_CERTHASH;
}

/* Check a binary value of the right size for its kind. */
static bool value_ok(enum vkind k, const uint8_t *v, size_t n)
{
    switch (k) {
    case V_NAME:
        return n > 0 && !memchr(v, '/', n) && !memchr(v, 0, n);
    case V_PEER: {
        p2p_peerid id;
        return p2p_peerid_from_bytes(&id, v, n) == 0;
    }
    case V_CERTHASH:
        return p2p_multihash_parse_exact(v, n, NULL) == 0;
    default:
        return true;
    }
}

/* One component of a binary multiaddr. */
struct comp {
    const struct proto *p;
    size_t vstart, vlen, end;
};

/* Read the component at b[off..len). With check, also validate the value
 * (the iteration helpers skip that: their input is already valid). */
static int read_comp(const uint8_t *b, size_t len, size_t off, bool check, struct comp *c,
                     char *err, size_t errlen)
{
    uint64_t code, vlen;
    size_t n;
    int rc = p2p_varint_decode(b + off, len - off, &code, &n);
    if (rc < 0) {
        p2p_errf(err, errlen, "%s protocol code at byte %zu",
                 rc == P2P_ETRUNC ? "truncated" : "malformed", off);
        return P2P_EINVAL;
    }
    const struct proto *p = proto_by_code(code);
    if (!p) {
        p2p_errf(err, errlen, "unknown protocol code %" PRIu64 " at byte %zu", code, off);
        return P2P_EINVAL;
    }
    size_t pos = off + n;
    if (is_var(p->kind)) {
        rc = p2p_varint_decode(b + pos, len - pos, &vlen, &n);
        if (rc < 0) {
            p2p_errf(err, errlen, "%s length of the %s value at byte %zu",
                     rc == P2P_ETRUNC ? "truncated" : "malformed", p->name, pos);
            return P2P_EINVAL;
        }
        if (vlen == 0) {
            p2p_errf(err, errlen, "empty %s value at byte %zu", p->name, pos);
            return P2P_EINVAL;
        }
        pos += n;
    } else {
        vlen = fixed_size(p->kind);
    }
    if (vlen > len - pos) {
        p2p_errf(err, errlen, "truncated %s value at byte %zu (%" PRIu64 " bytes, %zu left)",
                 p->name, pos, vlen, len - pos);
        return P2P_EINVAL;
    }
    if (check && !value_ok(p->kind, b + pos, (size_t)vlen)) {
        p2p_errf(err, errlen, "bad %s value at byte %zu", p->name, pos);
        return P2P_EINVAL;
    }
    c->p = p;
    c->vstart = pos;
    c->vlen = (size_t)vlen;
    c->end = pos + (size_t)vlen;
    return 0;
}

/* Validate a whole binary multiaddr (an empty one is valid here). */
static int check_all(const uint8_t *b, size_t len, char *err, size_t errlen)
{
    struct comp c;
    for (size_t off = 0; off < len; off = c.end) {
        int rc = read_comp(b, len, off, true, &c, err, errlen);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Append code and value (with its length prefix when variable) to b;
 * P2P_ERANGE when it does not fit. */
static int append_comp(uint8_t *b, size_t *len, const struct proto *p, const uint8_t *v, size_t n)
{
    uint8_t hdr[2 * P2P_VARINT_MAX_BYTES];
    int h = p2p_varint_encode(p->code, hdr);
    if (is_var(p->kind)) {
        int rc = p2p_varint_encode(n, hdr + h);
        if (rc < 0) return P2P_ERANGE;
        h += rc;
    }
    if ((size_t)h + n > P2P_MADDR_MAX - *len) return P2P_ERANGE;
    memcpy(b + *len, hdr, (size_t)h);
    if (n) memcpy(b + *len + h, v, n);
    *len += (size_t)h + n;
    return 0;
}

/* ---- text -> binary ---- */

static bool parse_port(const char *s, size_t n, uint8_t out[2])
{
    if (n == 0) return false;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
        if (v > 65535) return false;
    }
    out[0] = (uint8_t)(v >> 8);
    out[1] = (uint8_t)v;
    return true;
}

/* Convert the text value s[0..n) of p into out (P2P_MADDR_MAX bytes). */
static int value_from_text(const struct proto *p, const char *s, size_t n, uint8_t *out,
                           size_t *outlen, char *err, size_t errlen)
{
    char tmp[P2P_PEERID_STRMAX > INET6_ADDRSTRLEN ? P2P_PEERID_STRMAX : INET6_ADDRSTRLEN];
    switch (p->kind) {
    case V_IP4:
    case V_IP6: {
        int af = p->kind == V_IP4 ? AF_INET : AF_INET6;
        if (n >= sizeof tmp) goto bad_addr;
        memcpy(tmp, s, n);
        tmp[n] = 0;
        if (inet_pton(af, tmp, out) != 1) goto bad_addr;
        *outlen = af == AF_INET ? 4 : 16;
        return 0;
    bad_addr:
        p2p_errf(err, errlen, "bad %s address '%.*s'", p->name, QLEN(n), s);
        return P2P_EINVAL;
    }
    case V_PORT:
        if (!parse_port(s, n, out)) {
            p2p_errf(err, errlen, "bad port '%.*s' for %s (expected 0-65535)", QLEN(n), s, p->name);
            return P2P_EINVAL;
        }
        *outlen = 2;
        return 0;
    case V_NAME:
        if (n == 0) {
            p2p_errf(err, errlen, "empty value for %s", p->name);
            return P2P_EINVAL;
        }
        if (n > P2P_MADDR_MAX) {
            p2p_errf(err, errlen, "%s value too long (%zu bytes)", p->name, n);
            return P2P_ERANGE;
        }
        memcpy(out, s, n);
        *outlen = n;
        return 0;
    case V_PEER: {
        p2p_peerid id;
        if (n >= sizeof tmp) goto bad_peer;
        memcpy(tmp, s, n);
        tmp[n] = 0;
        if (p2p_peerid_parse(&id, tmp) < 0) goto bad_peer;
        memcpy(out, id.bytes, id.len);
        *outlen = id.len;
        return 0;
    bad_peer:
        p2p_errf(err, errlen, "bad peer id '%.*s' for p2p", QLEN(n), s);
        return P2P_EINVAL;
    }
    case V_CERTHASH: {
        size_t m;
        int rc = p2p_multibase_decode(s, n, out, P2P_MADDR_MAX, &m);
        if (rc < 0) {
            p2p_errf(err, errlen, "bad certhash '%.*s' (%s)", QLEN(n), s,
                     rc == P2P_EUNSUPPORTED ? "unknown multibase prefix"
                     : rc == P2P_ERANGE ? "too long" : "bad multibase encoding");
            return rc == P2P_ERANGE ? P2P_ERANGE : P2P_EINVAL;
        }
        if (p2p_multihash_parse_exact(out, m, NULL) < 0) {
            p2p_errf(err, errlen, "bad certhash '%.*s' (not a multihash)", QLEN(n), s);
            return P2P_EINVAL;
        }
        *outlen = m;
        return 0;
    }
    case V_NONE:
        break;
    }
    *outlen = 0;
    return 0;
}

P2P_API int p2p_maddr_parse(p2p_multiaddr *ma, const char *text, char *err, size_t errlen)
{
    if (!ma || !text) {
        p2p_errf(err, errlen, "no multiaddr given");
        return P2P_EINVAL;
    }
    size_t len = strlen(text);
    while (len > 0 && text[len - 1] == '/') len--;
    if (len == 0) {
        p2p_errf(err, errlen, "empty multiaddr");
        return P2P_EINVAL;
    }
    if (text[0] != '/') {
        p2p_errf(err, errlen, "multiaddr '%.*s' does not begin with '/'", QLEN(len), text);
        return P2P_EINVAL;
    }
    uint8_t bytes[P2P_MADDR_MAX], value[P2P_MADDR_MAX];
    size_t blen = 0, pos = 0;
    while (pos < len) {
        /* text[pos] is a '/'; the protocol name runs to the next one. */
        size_t s = pos + 1, e = s;
        while (e < len && text[e] != '/') e++;
        const struct proto *p = proto_by_name(text + s, e - s);
        if (!p) {
            if (e == s) p2p_errf(err, errlen, "empty protocol name (\"//\") at offset %zu", s);
            else p2p_errf(err, errlen, "unknown protocol '%.*s'", QLEN(e - s), text + s);
            return P2P_EINVAL;
        }
        pos = e;
        size_t vlen = 0;
        if (p->kind != V_NONE) {
            if (pos >= len) {
                p2p_errf(err, errlen, "missing value for %s", p->name);
                return P2P_EINVAL;
            }
            s = pos + 1;
            e = s;
            while (e < len && text[e] != '/') e++;
            int rc = value_from_text(p, text + s, e - s, value, &vlen, err, errlen);
            if (rc < 0) return rc;
            pos = e;
        }
        if (append_comp(bytes, &blen, p, value, vlen) < 0) {
            p2p_errf(err, errlen, "multiaddr too long (more than %d bytes in binary)", P2P_MADDR_MAX);
            return P2P_ERANGE;
        }
    }
    ma->len = (uint16_t)blen;
    memcpy(ma->bytes, bytes, blen);
    return 0;
}

/* ---- binary -> text ---- */

/* A bounded string writer: remembers overflow instead of failing each
 * call, so that the formatting code stays linear. */
struct sbuf {
    char *out;
    size_t cap, len;
    bool over;
};

static void sb_put(struct sbuf *sb, const char *s, size_t n)
{
    if (sb->over || n >= sb->cap - sb->len) {
        sb->over = true;
        return;
    }
    memcpy(sb->out + sb->len, s, n);
    sb->len += n;
    sb->out[sb->len] = 0;
}

static void sb_str(struct sbuf *sb, const char *s)
{
    sb_put(sb, s, strlen(s));
}

/* Append the value encoded with an encoder of the multibase.h kind. */
static void sb_encoded(struct sbuf *sb, int rc)
{
    if (rc < 0) sb->over = true;
    else sb->len += (size_t)rc;
}

static void value_to_text(struct sbuf *sb, const struct proto *p, const uint8_t *v, size_t n)
{
    char tmp[INET6_ADDRSTRLEN];
    switch (p->kind) {
    case V_IP4:
    case V_IP6:
        if (!inet_ntop(p->kind == V_IP4 ? AF_INET : AF_INET6, v, tmp, sizeof tmp)) {
            sb->over = true;  /* cannot happen for 4/16 bytes */
            return;
        }
        sb_str(sb, tmp);
        return;
    case V_PORT:
        snprintf(tmp, sizeof tmp, "%u", (unsigned)v[0] << 8 | v[1]);
        sb_str(sb, tmp);
        return;
    case V_NAME:
        sb_put(sb, (const char *)v, n);
        return;
    case V_PEER:
        if (!sb->over) sb_encoded(sb, p2p_base58btc_encode(v, n, sb->out + sb->len, sb->cap - sb->len));
        return;
    case V_CERTHASH:
        if (!sb->over) sb_encoded(sb, p2p_multibase_encode('u', v, n, sb->out + sb->len, sb->cap - sb->len));
        return;
    case V_NONE:
        return;
    }
}

P2P_API int p2p_maddr_to_string(const p2p_multiaddr *ma, char *out, size_t cap)
{
    if (!out || cap == 0) return P2P_ERANGE;
    out[0] = 0;
    if (!ma || ma->len > P2P_MADDR_MAX) return P2P_EINVAL;
    struct sbuf sb = { out, cap, 0, false };
    struct comp c;
    for (size_t off = 0; off < ma->len; off = c.end) {
        if (read_comp(ma->bytes, ma->len, off, false, &c, NULL, 0) < 0) {
            out[0] = 0;
            return P2P_EINVAL;
        }
        sb_put(&sb, "/", 1);
        sb_str(&sb, c.p->name);
        if (c.p->kind != V_NONE) {
            sb_put(&sb, "/", 1);
            value_to_text(&sb, c.p, ma->bytes + c.vstart, c.vlen);
        }
    }
    if (sb.over) {
        out[0] = 0;
        return P2P_ERANGE;
    }
    return (int)sb.len;
}

/* ---- building and inspecting ---- */

P2P_API int p2p_maddr_from_bytes(p2p_multiaddr *ma, const uint8_t *in, size_t len, char *err, size_t errlen)
{
    if (!ma || (!in && len)) {
        p2p_errf(err, errlen, "no multiaddr given");
        return P2P_EINVAL;
    }
    if (len == 0) {
        p2p_errf(err, errlen, "empty multiaddr");
        return P2P_EINVAL;
    }
    if (len > P2P_MADDR_MAX) {
        p2p_errf(err, errlen, "multiaddr too long (%zu bytes, at most %d)", len, P2P_MADDR_MAX);
        return P2P_ERANGE;
    }
    int rc = check_all(in, len, err, errlen);
    if (rc < 0) return rc;
    memmove(ma->bytes, in, len);
    ma->len = (uint16_t)len;
    return 0;
}

P2P_API int p2p_maddr_next(const p2p_multiaddr *ma, size_t *offset, struct p2p_maddr_component *c)
{
    struct comp rc;
    if (!ma || !offset || ma->len > P2P_MADDR_MAX || *offset >= ma->len) return 0;
    /* Defensive: a damaged multiaddr ends the iteration instead of being
     * read out of bounds. */
    if (read_comp(ma->bytes, ma->len, *offset, false, &rc, NULL, 0) < 0) return 0;
    if (c) {
        c->code = rc.p->code;
        c->name = rc.p->name;
        c->value = ma->bytes + rc.vstart;
        c->value_len = rc.vlen;
    }
    *offset = rc.end;
    return 1;
}

P2P_API int p2p_maddr_push(p2p_multiaddr *ma, uint32_t code, const uint8_t *value, size_t value_len)
{
    if (!ma || ma->len > P2P_MADDR_MAX || (!value && value_len)) return P2P_EINVAL;
    const struct proto *p = proto_by_code(code);
    if (!p) return P2P_EINVAL;
    if (is_var(p->kind) ? value_len == 0 : value_len != fixed_size(p->kind)) return P2P_EINVAL;
    if (!value_ok(p->kind, value, value_len)) return P2P_EINVAL;
    size_t len = ma->len;
    int rc = append_comp(ma->bytes, &len, p, value, value_len);
    if (rc < 0) return rc;
    ma->len = (uint16_t)len;
    return 0;
}

P2P_API int p2p_maddr_encapsulate(p2p_multiaddr *ma, const p2p_multiaddr *tail)
{
    if (!ma || !tail || ma->len > P2P_MADDR_MAX || tail->len > P2P_MADDR_MAX) return P2P_EINVAL;
    if (check_all(tail->bytes, tail->len, NULL, 0) < 0) return P2P_EINVAL;
    if (tail->len > P2P_MADDR_MAX - ma->len) return P2P_ERANGE;
    /* memmove: tail may be ma itself. */
    memmove(ma->bytes + ma->len, tail->bytes, tail->len);
    ma->len = (uint16_t)(ma->len + tail->len);
    return 0;
}

P2P_API int p2p_maddr_pop(p2p_multiaddr *ma)
{
    if (!ma || ma->len > P2P_MADDR_MAX) return P2P_EINVAL;
    if (ma->len == 0) return P2P_ENOTFOUND;
    struct comp c = { 0 };
    size_t last = 0;
    for (size_t off = 0; off < ma->len; off = c.end) {
        if (read_comp(ma->bytes, ma->len, off, false, &c, NULL, 0) < 0) return P2P_EINVAL;
        last = off;
    }
    ma->len = (uint16_t)last;
    return (int)c.p->code;
}

P2P_API bool p2p_maddr_equal(const p2p_multiaddr *a, const p2p_multiaddr *b)
{
    if (!a || !b) return a == b;
    return a->len == b->len && a->len <= P2P_MADDR_MAX && memcmp(a->bytes, b->bytes, a->len) == 0;
}

P2P_API int p2p_maddr_find(const p2p_multiaddr *ma, uint32_t code, struct p2p_maddr_component *c)
{
    size_t off = 0;
    struct p2p_maddr_component tmp;
    while (p2p_maddr_next(ma, &off, &tmp)) {
        if (tmp.code == code) {
            if (c) *c = tmp;
            return 1;
        }
    }
    return 0;
}

P2P_API const char *p2p_maddr_proto_name(uint32_t code)
{
    const struct proto *p = proto_by_code(code);
    return p ? p->name : NULL;
}
