/* mdns_dns.c - DNS message codec for mDNS (see mdns_dns.h). */
#include "mdns_dns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"

static uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ---- names ---------------------------------------------------------- */

int mdns_name_from_text(struct mdns_name *n, const char *text)
{
    size_t len = 0;
    const char *p = text;
    if (!strcmp(text, ".")) p = "";
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l > MDNS_LABEL_MAX) return P2P_EINVAL;
        if (len + 1 + l + 1 > MDNS_NAME_MAX) return P2P_EINVAL;
        n->wire[len++] = (uint8_t)l;
        memcpy(n->wire + len, p, l);
        len += l;
        p += l;
        if (*p == '.') p++;
    }
    n->wire[len++] = 0;
    n->len = (uint16_t)len;
    return 0;
}

int mdns_name_prepend(struct mdns_name *n, const char *label, size_t len)
{
    if (len == 0 || len > MDNS_LABEL_MAX || memchr(label, '.', len)) return P2P_EINVAL;
    if (n->len == 0 || n->len + 1 + len > MDNS_NAME_MAX) return P2P_ERANGE;
    memmove(n->wire + 1 + len, n->wire, n->len);
    n->wire[0] = (uint8_t)len;
    memcpy(n->wire + 1, label, len);
    n->len = (uint16_t)(n->len + 1 + len);
    return 0;
}

static bool wire_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

bool mdns_name_equal(const struct mdns_name *a, const struct mdns_name *b)
{
    return a->len == b->len && wire_equal(a->wire, b->wire, a->len);
}

size_t mdns_name_first_label(const struct mdns_name *n, const uint8_t **label)
{
    if (n->len < 2) {
        *label = n->wire;
        return 0;
    }
    *label = n->wire + 1;
    return n->wire[0];
}

bool mdns_name_is_child_of(const struct mdns_name *n, const struct mdns_name *parent)
{
    if (n->len < 2 || parent->len == 0) return false;
    size_t l = n->wire[0];
    if (l == 0 || (size_t)n->len != 1 + l + parent->len) return false;
    return wire_equal(n->wire + 1 + l, parent->wire, parent->len);
}

char *mdns_name_to_text(const struct mdns_name *n, char *out, size_t cap)
{
    size_t o = 0, i = 0;
    if (!cap) return out;
    out[0] = 0;
    if (n->len <= 1) {
        snprintf(out, cap, ".");
        return out;
    }
    while (i < n->len && n->wire[i]) {
        size_t l = n->wire[i++];
        if (o && o + 1 < cap) out[o++] = '.';
        for (size_t k = 0; k < l && i < n->len; k++, i++) {
            uint8_t c = n->wire[i];
            if (c > 0x20 && c < 0x7f && c != '.' && c != '\\') {
                if (o + 1 < cap) out[o++] = (char)c;
            } else if (o + 4 < cap) {
                o += (size_t)snprintf(out + o, cap - o, "\\%03u", c);
            }
        }
    }
    out[o < cap ? o : cap - 1] = 0;
    return out;
}

int mdns_read_name(const uint8_t *buf, size_t len, size_t *pos, unsigned max_hops, struct mdns_name *out)
{
    size_t p = *pos, end = 0, olen = 0;
    /* Reads stay below `bound`: the message end at first, then the
     * offset of the last pointer followed. Pointers must point below
     * themselves, so positions strictly decrease at every jump and no
     * loop is possible; max_hops bounds the work on top. */
    size_t bound = len;
    unsigned hops = 0;
    bool jumped = false;
    for (;;) {
        if (p >= bound) return jumped ? P2P_EPROTO : P2P_ETRUNC;
        uint8_t b = buf[p];
        if ((b & 0xc0) == 0xc0) {
            if (p + 1 >= bound) return jumped ? P2P_EPROTO : P2P_ETRUNC;
            size_t target = ((size_t)(b & 0x3f) << 8) | buf[p + 1];
            if (target >= p) return P2P_EPROTO;
            if (++hops > max_hops) return P2P_EPROTO;
            if (!jumped) end = p + 2;
            jumped = true;
            bound = p;
            p = target;
            continue;
        }
        if (b & 0xc0) return P2P_EPROTO;     /* 0x40, 0x80: extended label types */
        if (b == 0) {
            out->wire[olen++] = 0;
            out->len = (uint16_t)olen;
            *pos = jumped ? end : p + 1;
            return 0;
        }
        if (p + 1 + b > bound) return jumped ? P2P_EPROTO : P2P_ETRUNC;
        if (olen + 1 + b + 1 > MDNS_NAME_MAX) return P2P_EPROTO;
        memcpy(out->wire + olen, buf + p, 1 + (size_t)b);
        olen += 1 + (size_t)b;
        p += 1 + (size_t)b;
    }
}

/* ---- decoding ------------------------------------------------------- */

struct mdns_msg *mdns_msg_new(const struct mdns_limits *lim)
{
    struct mdns_msg *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->lim = *lim;
    m->q = calloc(lim->max_questions ? lim->max_questions : 1, sizeof *m->q);
    m->r = calloc(lim->max_records ? lim->max_records : 1, sizeof *m->r);
    m->txt = calloc(lim->max_txt_strings ? lim->max_txt_strings : 1, sizeof *m->txt);
    if (!m->q || !m->r || !m->txt) {
        mdns_msg_free(m);
        return NULL;
    }
    return m;
}

void mdns_msg_free(struct mdns_msg *m)
{
    if (!m) return;
    free(m->q);
    free(m->r);
    free(m->txt);
    free(m);
}

static int parse_rdata(struct mdns_msg *m, struct mdns_record *r)
{
    const uint8_t *buf = m->buf;
    size_t off = r->rdoff, end = (size_t)r->rdoff + r->rdlen;
    int rc;
    switch (r->type) {
    case MDNS_T_PTR:
        if ((rc = mdns_read_name(buf, m->len, &off, m->lim.max_hops, &r->u.target)) < 0) return P2P_EPROTO;
        return off == end ? 0 : P2P_EPROTO;
    case MDNS_T_SRV:
        if (r->rdlen < 7) return P2P_EPROTO;
        r->u.srv.priority = get16(buf + off);
        r->u.srv.weight = get16(buf + off + 2);
        r->u.srv.port = get16(buf + off + 4);
        off += 6;
        if ((rc = mdns_read_name(buf, m->len, &off, m->lim.max_hops, &r->u.srv.target)) < 0) return P2P_EPROTO;
        return off == end ? 0 : P2P_EPROTO;
    case MDNS_T_TXT:
        r->u.txt.first = (uint32_t)m->ntxt;
        r->u.txt.count = 0;
        while (off < end) {
            size_t l = buf[off];
            if (off + 1 + l > end) return P2P_EPROTO;
            if (m->ntxt >= m->lim.max_txt_strings) return P2P_ELIMIT;
            m->txt[m->ntxt].off = (uint16_t)(off + 1);
            m->txt[m->ntxt].len = (uint8_t)l;
            m->ntxt++;
            r->u.txt.count++;
            off += 1 + l;
        }
        return 0;
    case MDNS_T_A:
        if (r->rdlen != 4) return P2P_EPROTO;
        memcpy(r->u.a, buf + off, 4);
        return 0;
    case MDNS_T_AAAA:
        if (r->rdlen != 16) return P2P_EPROTO;
        memcpy(r->u.aaaa, buf + off, 16);
        return 0;
    default:
        return 0;
    }
}

int mdns_msg_parse(struct mdns_msg *m, const uint8_t *buf, size_t len)
{
    m->buf = buf;
    m->len = len;
    m->nq = m->nr = m->ntxt = 0;
    /* Offsets are stored in 16 bits: DNS messages over UDP never exceed that. */
    if (len > 65535) return P2P_ELIMIT;
    if (len < 12) return P2P_ETRUNC;
    m->id = get16(buf);
    m->flags = get16(buf + 2);
    m->qdcount = get16(buf + 4);
    m->ancount = get16(buf + 6);
    m->nscount = get16(buf + 8);
    m->arcount = get16(buf + 10);
    size_t nrec = (size_t)m->ancount + m->nscount + m->arcount;
    if (m->qdcount > m->lim.max_questions || nrec > m->lim.max_records) return P2P_ELIMIT;
    size_t pos = 12;
    int rc;
    for (size_t i = 0; i < m->qdcount; i++) {
        struct mdns_question *q = &m->q[i];
        if ((rc = mdns_read_name(buf, len, &pos, m->lim.max_hops, &q->name)) < 0) return rc;
        if (pos + 4 > len) return P2P_ETRUNC;
        q->type = get16(buf + pos);
        uint16_t c = get16(buf + pos + 2);
        q->qclass = c & 0x7fff;
        q->unicast = (c & MDNS_CLASS_TOPBIT) != 0;
        pos += 4;
        m->nq++;
    }
    for (size_t i = 0; i < nrec; i++) {
        struct mdns_record *r = &m->r[i];
        r->section = i < m->ancount ? MDNS_SEC_ANSWER
                   : i < (size_t)m->ancount + m->nscount ? MDNS_SEC_AUTHORITY : MDNS_SEC_ADDITIONAL;
        if ((rc = mdns_read_name(buf, len, &pos, m->lim.max_hops, &r->name)) < 0) return rc;
        if (pos + 10 > len) return P2P_ETRUNC;
        r->type = get16(buf + pos);
        uint16_t c = get16(buf + pos + 2);
        r->rclass = c & 0x7fff;
        r->cache_flush = (c & MDNS_CLASS_TOPBIT) != 0;
        r->ttl = get32(buf + pos + 4);
        if (r->ttl > 0x7fffffffu) r->ttl = 0;    /* RFC 2181 section 8 */
        r->rdlen = get16(buf + pos + 8);
        pos += 10;
        if (pos + r->rdlen > len) return P2P_ETRUNC;
        r->rdoff = (uint16_t)pos;
        if ((rc = parse_rdata(m, r)) < 0) return rc;
        pos += r->rdlen;
        m->nr++;
    }
    return 0;
}

const uint8_t *mdns_msg_txt(const struct mdns_msg *m, const struct mdns_record *r, uint32_t i, size_t *len)
{
    if (r->type != MDNS_T_TXT || i >= r->u.txt.count) {
        *len = 0;
        return NULL;
    }
    const struct mdns_txt *t = &m->txt[r->u.txt.first + i];
    *len = t->len;
    return m->buf + t->off;
}

/* ---- encoding ------------------------------------------------------- */

void mdns_writer_init(struct mdns_writer *w, uint8_t *buf, size_t cap)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap = cap;
}

bool mdns_writer_ok(const struct mdns_writer *w)
{
    return !w->overflow;
}

void mdns_write_bytes(struct mdns_writer *w, const void *p, size_t n)
{
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = true;
        return;
    }
    if (n) memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void mdns_write_u16(struct mdns_writer *w, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    mdns_write_bytes(w, b, 2);
}

void mdns_write_u32(struct mdns_writer *w, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    mdns_write_bytes(w, b, 4);
}

/* Offset of an earlier in-place label start whose name equals the wire
 * suffix s[0..slen), or -1. */
static int find_suffix(const struct mdns_writer *w, const uint8_t *s, size_t slen)
{
    for (size_t i = 0; i < w->nnames; i++) {
        struct mdns_name prev;
        size_t pos = w->names[i];
        if (mdns_read_name(w->buf, w->len, &pos, 64, &prev) < 0) continue;
        if (prev.len == slen && wire_equal(prev.wire, s, slen)) return w->names[i];
    }
    return -1;
}

void mdns_write_name(struct mdns_writer *w, const struct mdns_name *n, bool compress)
{
    size_t i = 0;
    if (n->len == 0) {
        mdns_write_bytes(w, "", 1);
        return;
    }
    while (i < n->len && n->wire[i]) {
        if (compress) {
            int at = find_suffix(w, n->wire + i, n->len - i);
            if (at >= 0) {
                mdns_write_u16(w, (uint16_t)(0xc000 | at));
                return;
            }
        }
        size_t l = n->wire[i];
        if (!w->overflow && w->len < 0x3fff && w->nnames < MDNS_WRITER_NAMES)
            w->names[w->nnames++] = (uint16_t)w->len;
        mdns_write_bytes(w, n->wire + i, 1 + l);
        i += 1 + l;
    }
    mdns_write_bytes(w, "", 1);
}

void mdns_write_header(struct mdns_writer *w, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
                       uint16_t ns, uint16_t ar)
{
    mdns_write_u16(w, id);
    mdns_write_u16(w, flags);
    mdns_write_u16(w, qd);
    mdns_write_u16(w, an);
    mdns_write_u16(w, ns);
    mdns_write_u16(w, ar);
}

void mdns_patch_counts(struct mdns_writer *w, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
    if (w->len < 12) return;
    uint16_t v[4] = { qd, an, ns, ar };
    for (int i = 0; i < 4; i++) {
        w->buf[4 + 2 * i] = (uint8_t)(v[i] >> 8);
        w->buf[5 + 2 * i] = (uint8_t)v[i];
    }
}

size_t mdns_begin_record(struct mdns_writer *w, const struct mdns_name *name, uint16_t type,
                         uint16_t rclass, uint32_t ttl)
{
    mdns_write_name(w, name, true);
    mdns_write_u16(w, type);
    mdns_write_u16(w, rclass);
    mdns_write_u32(w, ttl);
    size_t off = w->len;
    mdns_write_u16(w, 0);
    return off;
}

void mdns_end_rdata(struct mdns_writer *w, size_t rdlen_off)
{
    if (w->overflow) return;
    size_t n = w->len - (rdlen_off + 2);
    w->buf[rdlen_off] = (uint8_t)(n >> 8);
    w->buf[rdlen_off + 1] = (uint8_t)n;
}

int mdns_build_query(uint8_t *buf, size_t cap, uint16_t id, const struct mdns_name *service)
{
    struct mdns_writer w;
    mdns_writer_init(&w, buf, cap);
    mdns_write_header(&w, id, 0, 1, 0, 0, 0);
    mdns_write_name(&w, service, false);
    mdns_write_u16(&w, MDNS_T_PTR);
    mdns_write_u16(&w, MDNS_CLASS_IN);
    return mdns_writer_ok(&w) ? (int)w.len : P2P_ERANGE;
}

int mdns_build_response(uint8_t *buf, size_t cap, const struct mdns_response *r, size_t first, size_t *used)
{
    struct mdns_writer w;
    uint16_t uclass = (uint16_t)(MDNS_CLASS_IN | (r->cache_flush ? MDNS_CLASS_TOPBIT : 0));
    uint16_t ar = 0;
    *used = 0;
    mdns_writer_init(&w, buf, cap);
    mdns_write_header(&w, r->id, MDNS_FLAG_QR | MDNS_FLAG_AA, 0, 1, 0, 0);
    size_t rd = mdns_begin_record(&w, r->service, MDNS_T_PTR, MDNS_CLASS_IN, r->ttl);
    mdns_write_name(&w, r->instance, true);
    mdns_end_rdata(&w, rd);

    rd = mdns_begin_record(&w, r->instance, MDNS_T_SRV, uclass, r->ttl);
    mdns_write_u16(&w, 0);
    mdns_write_u16(&w, 0);
    mdns_write_u16(&w, r->port);
    mdns_write_name(&w, r->host, false);     /* RFC 2782: no compression in SRV targets */
    mdns_end_rdata(&w, rd);
    ar++;
    for (size_t i = 0; i < r->nip4; i++, ar++) {
        rd = mdns_begin_record(&w, r->host, MDNS_T_A, uclass, r->ttl);
        mdns_write_bytes(&w, r->ip4[i], 4);
        mdns_end_rdata(&w, rd);
    }
    for (size_t i = 0; i < r->nip6; i++, ar++) {
        rd = mdns_begin_record(&w, r->host, MDNS_T_AAAA, uclass, r->ttl);
        mdns_write_bytes(&w, r->ip6[i], 16);
        mdns_end_rdata(&w, rd);
    }
    rd = mdns_begin_record(&w, r->instance, MDNS_T_TXT, uclass, r->ttl);
    ar++;
    if (!mdns_writer_ok(&w)) return P2P_ERANGE;
    size_t i = first, written = 0;
    for (; i < r->ntxt; i++) {
        size_t l = strlen(r->txt[i]);
        if (l > MDNS_TXT_STRING_MAX) continue;          /* cannot be encoded: skipped */
        if (w.len + 1 + l > w.cap || w.len + 1 + l - (rd + 2) > 65535) break;
        uint8_t lb = (uint8_t)l;
        mdns_write_bytes(&w, &lb, 1);
        mdns_write_bytes(&w, r->txt[i], l);
        written++;
    }
    if (i < r->ntxt && written == 0) return P2P_ERANGE;  /* not even one string fits */
    if (written == 0) mdns_write_bytes(&w, "", 1);       /* RFC 6763 6.1: at least one string */
    mdns_end_rdata(&w, rd);
    mdns_patch_counts(&w, 0, 1, 0, ar);
    if (!mdns_writer_ok(&w)) return P2P_ERANGE;
    *used = i - first;
    return (int)w.len;
}

int mdns_build_meta_response(uint8_t *buf, size_t cap, uint16_t id, const struct mdns_name *meta,
                             const struct mdns_name *service, uint32_t ttl)
{
    struct mdns_writer w;
    mdns_writer_init(&w, buf, cap);
    mdns_write_header(&w, id, MDNS_FLAG_QR | MDNS_FLAG_AA, 0, 1, 0, 0);
    size_t rd = mdns_begin_record(&w, meta, MDNS_T_PTR, MDNS_CLASS_IN, ttl);
    mdns_write_name(&w, service, true);
    mdns_end_rdata(&w, rd);
    return mdns_writer_ok(&w) ? (int)w.len : P2P_ERANGE;
}
