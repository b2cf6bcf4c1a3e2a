/* test_mdns_dns.c - the mDNS DNS codec: names, vectors, compression,
 * hostile pointers, limits, truncation at every byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdns_dns.h"
#include "p2p/error.h"
#include "testutil.h"

static struct mdns_name N(const char *text)
{
    struct mdns_name n;
    ck_assert_int_eq(mdns_name_from_text(&n, text), 0);
    return n;
}

static struct mdns_msg *msg_default(void)
{
    struct mdns_limits lim = MDNS_LIMITS_DEFAULT;
    struct mdns_msg *m = mdns_msg_new(&lim);
    ck_assert_ptr_nonnull(m);
    return m;
}

static const char *txt(const struct mdns_name *n)
{
    static char buf[MDNS_NAME_TEXT_MAX];
    return mdns_name_to_text(n, buf, sizeof buf);
}

/* ---- names --------------------------------------------------------------- */

START_TEST(names_text)
{
    struct mdns_name n = N("_p2p._udp.local");
    static const uint8_t wire[] = { 4, '_', 'p', '2', 'p', 4, '_', 'u', 'd', 'p', 5, 'l', 'o', 'c', 'a', 'l', 0 };
    ck_assert_uint_eq(n.len, sizeof wire);
    ck_assert_mem_eq(n.wire, wire, sizeof wire);
    ck_assert_str_eq(txt(&n), "_p2p._udp.local");
    struct mdns_name dot = N("_p2p._udp.local.");
    ck_assert(mdns_name_equal(&n, &dot));
    struct mdns_name upper = N("_P2P._UDP.LOCAL");
    ck_assert(mdns_name_equal(&n, &upper));
    struct mdns_name other = N("_p2p._tcp.local");
    ck_assert(!mdns_name_equal(&n, &other));
    struct mdns_name root = N("");
    ck_assert_uint_eq(root.len, 1);
    ck_assert_str_eq(txt(&root), ".");
    root = N(".");
    ck_assert_uint_eq(root.len, 1);

    struct mdns_name bad;
    ck_assert_int_eq(mdns_name_from_text(&bad, "a..b"), P2P_EINVAL);
    ck_assert_int_eq(mdns_name_from_text(&bad, ".a"), P2P_EINVAL);
    char l63[64], l64[65];
    memset(l63, 'x', 63);
    l63[63] = 0;
    memset(l64, 'x', 64);
    l64[64] = 0;
    ck_assert_int_eq(mdns_name_from_text(&bad, l63), 0);
    ck_assert_int_eq(mdns_name_from_text(&bad, l64), P2P_EINVAL);
    /* 255 bytes of wire form at most: 4 labels of 63 = 256 bytes + root. */
    char big[300];
    snprintf(big, sizeof big, "%s.%s.%s.%.61s", l63, l63, l63, l63);   /* 64*3 + 62 + 1 = 255 */
    ck_assert_int_eq(mdns_name_from_text(&bad, big), 0);
    ck_assert_uint_eq(bad.len, 255);
    snprintf(big, sizeof big, "%s.%s.%s.%.62s", l63, l63, l63, l63);
    ck_assert_int_eq(mdns_name_from_text(&bad, big), P2P_EINVAL);
}
END_TEST

START_TEST(names_prepend_child)
{
    struct mdns_name svc = N("_p2p._udp.local"), inst = svc;
    ck_assert_int_eq(mdns_name_prepend(&inst, "abc", 3), 0);
    ck_assert_str_eq(txt(&inst), "abc._p2p._udp.local");
    ck_assert(mdns_name_is_child_of(&inst, &svc));
    ck_assert(!mdns_name_is_child_of(&svc, &svc));
    struct mdns_name deeper = inst;
    ck_assert_int_eq(mdns_name_prepend(&deeper, "x", 1), 0);
    ck_assert(!mdns_name_is_child_of(&deeper, &svc));
    ck_assert_int_eq(mdns_name_prepend(&inst, "a.b", 3), P2P_EINVAL);
    ck_assert_int_eq(mdns_name_prepend(&inst, "", 0), P2P_EINVAL);
    const uint8_t *l;
    ck_assert_uint_eq(mdns_name_first_label(&inst, &l), 3);
    ck_assert_mem_eq(l, "abc", 3);
    /* Escapes in the text form. */
    struct mdns_name e = N("local");
    ck_assert_int_eq(mdns_name_prepend(&e, "a\\b c\001", 6), 0);
    ck_assert_str_eq(txt(&e), "a\\092b\\032c\\001.local");
}
END_TEST

/* ---- query ------------------------------------------------------------- */

START_TEST(query_vector)
{
    /* The same bytes as rust-libp2p's build_query() with id 0. */
    static const uint8_t want[] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x04, '_', 'p', '2', 'p', 0x04, '_', 'u', 'd', 'p',
                                    0x05, 'l', 'o', 'c', 'a', 'l', 0x00, 0x00, 0x0c, 0x00, 0x01 };
    uint8_t buf[64];
    struct mdns_name svc = N("_p2p._udp.local");
    ck_assert_int_eq(mdns_build_query(buf, sizeof buf, 0, &svc), (int)sizeof want);
    ck_assert_mem_eq(buf, want, sizeof want);
    ck_assert_int_eq(mdns_build_query(buf, sizeof want - 1, 0, &svc), P2P_ERANGE);

    struct mdns_msg *m = msg_default();
    ck_assert_int_eq(mdns_msg_parse(m, want, sizeof want), 0);
    ck_assert_uint_eq(m->flags, 0);
    ck_assert_uint_eq(m->nq, 1);
    ck_assert_uint_eq(m->nr, 0);
    ck_assert(mdns_name_equal(&m->q[0].name, &svc));
    ck_assert_uint_eq(m->q[0].type, MDNS_T_PTR);
    ck_assert_uint_eq(m->q[0].qclass, MDNS_CLASS_IN);
    ck_assert(!m->q[0].unicast);
    /* QU bit. */
    uint8_t qu[sizeof want];
    memcpy(qu, want, sizeof want);
    qu[sizeof qu - 2] |= 0x80;
    ck_assert_int_eq(mdns_msg_parse(m, qu, sizeof qu), 0);
    ck_assert(m->q[0].unicast);
    ck_assert_uint_eq(m->q[0].qclass, MDNS_CLASS_IN);
    mdns_msg_free(m);
}
END_TEST

/* ---- our response -------------------------------------------------------- */

static const char *const two_txt[] = {
    "dnsaddr=/ip4/198.18.0.2/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo",
    "dnsaddr=/ip6/2001:db8::1/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo",
};

static struct mdns_response response_spec(struct mdns_name *svc, struct mdns_name *inst, struct mdns_name *host,
                                          const char *const *strs, size_t n)
{
    static const uint8_t ip4[1][4] = { { 198, 18, 0, 2 } };
    *svc = N("_p2p._udp.local");
    *inst = N("abcdefghij0123456789abcdefghij01._p2p._udp.local");
    *host = N("abcdefghij0123456789abcdefghij01.local");
    struct mdns_response r = { .id = 0, .service = svc, .instance = inst, .host = host, .ttl = 360,
                               .cache_flush = true, .port = 4001, .txt = strs, .ntxt = n, .ip4 = ip4, .nip4 = 1 };
    return r;
}

START_TEST(response_roundtrip)
{
    struct mdns_name svc, inst, host;
    struct mdns_response r = response_spec(&svc, &inst, &host, two_txt, 2);
    uint8_t buf[1500];
    size_t used;
    int len = mdns_build_response(buf, sizeof buf, &r, 0, &used);
    ck_assert_int_gt(len, 0);
    ck_assert_uint_eq(used, 2);
    /* Header: QR|AA, 0 questions, 1 answer, 0 authority, 3 additional. */
    static const uint8_t hdr[] = { 0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 3 };
    ck_assert_mem_eq(buf, hdr, sizeof hdr);
    /* The PTR target is compressed: <label> then a pointer to the
     * service name at offset 12. */
    size_t ptr_rdata = 12 + svc.len + 10;
    ck_assert_uint_eq(buf[ptr_rdata], 32);
    ck_assert_uint_eq(buf[ptr_rdata + 33], 0xc0);
    ck_assert_uint_eq(buf[ptr_rdata + 34], 12);

    struct mdns_msg *m = msg_default();
    ck_assert_int_eq(mdns_msg_parse(m, buf, (size_t)len), 0);
    ck_assert_uint_eq(m->flags, MDNS_FLAG_QR | MDNS_FLAG_AA);
    ck_assert_uint_eq(m->nr, 4);
    const struct mdns_record *ptr = &m->r[0], *srv = &m->r[1], *a = &m->r[2], *t = &m->r[3];
    ck_assert_int_eq(ptr->section, MDNS_SEC_ANSWER);
    ck_assert_uint_eq(ptr->type, MDNS_T_PTR);
    ck_assert(!ptr->cache_flush);
    ck_assert_uint_eq(ptr->ttl, 360);
    ck_assert(mdns_name_equal(&ptr->name, &svc));
    ck_assert(mdns_name_equal(&ptr->u.target, &inst));
    ck_assert_int_eq(srv->section, MDNS_SEC_ADDITIONAL);
    ck_assert_uint_eq(srv->type, MDNS_T_SRV);
    ck_assert(srv->cache_flush);
    ck_assert_uint_eq(srv->u.srv.port, 4001);
    ck_assert(mdns_name_equal(&srv->u.srv.target, &host));
    ck_assert(mdns_name_equal(&srv->name, &inst));
    ck_assert_uint_eq(a->type, MDNS_T_A);
    ck_assert(mdns_name_equal(&a->name, &host));
    static const uint8_t ip[4] = { 198, 18, 0, 2 };
    ck_assert_mem_eq(a->u.a, ip, 4);
    ck_assert_uint_eq(t->type, MDNS_T_TXT);
    ck_assert(mdns_name_equal(&t->name, &inst));
    ck_assert_uint_eq(t->u.txt.count, 2);
    for (uint32_t i = 0; i < 2; i++) {
        size_t l;
        const uint8_t *s = mdns_msg_txt(m, t, i, &l);
        ck_assert_uint_eq(l, strlen(two_txt[i]));
        ck_assert_mem_eq(s, two_txt[i], l);
    }
    size_t l;
    ck_assert_ptr_null(mdns_msg_txt(m, t, 2, &l));
    ck_assert_ptr_null(mdns_msg_txt(m, ptr, 0, &l));

    /* Goodbye: TTL 0 everywhere, no strings -> one empty string. */
    r.ttl = 0;
    r.ntxt = 0;
    len = mdns_build_response(buf, sizeof buf, &r, 0, &used);
    ck_assert_int_gt(len, 0);
    ck_assert_int_eq(mdns_msg_parse(m, buf, (size_t)len), 0);
    ck_assert_uint_eq(m->r[0].ttl, 0);
    ck_assert_uint_eq(m->r[3].u.txt.count, 1);
    ck_assert_uint_eq(m->txt[m->r[3].u.txt.first].len, 0);
    mdns_msg_free(m);
}
END_TEST

START_TEST(response_split_and_skip)
{
    /* 20 strings of ~100 bytes and one of 300 (skipped): with 512-byte
     * messages they need several; every string ends up in exactly one. */
    char strs[21][400];
    const char *ptrs[21];
    for (int i = 0; i < 21; i++) {
        if (i == 7) {
            memset(strs[i], 'z', 300);
            strs[i][300] = 0;
        } else {
            snprintf(strs[i], sizeof strs[i], "dnsaddr=/ip4/198.18.0.%d/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo", i);
        }
        ptrs[i] = strs[i];
    }
    struct mdns_name svc, inst, host;
    struct mdns_response r = response_spec(&svc, &inst, &host, ptrs, 21);
    uint8_t buf[512];
    struct mdns_msg *m = msg_default();
    int seen[21] = { 0 };
    size_t first = 0, packets = 0;
    while (first < 21) {
        size_t used;
        int len = mdns_build_response(buf, sizeof buf, &r, first, &used);
        ck_assert_int_gt(len, 0);
        ck_assert_int_le(len, 512);
        ck_assert_uint_gt(used, 0);
        ck_assert_int_eq(mdns_msg_parse(m, buf, (size_t)len), 0);
        const struct mdns_record *t = &m->r[m->nr - 1];
        ck_assert_uint_eq(t->type, MDNS_T_TXT);
        for (uint32_t i = 0; i < t->u.txt.count; i++) {
            size_t l;
            const uint8_t *s = mdns_msg_txt(m, t, i, &l);
            int k;
            for (k = 0; k < 21; k++)
                if (strlen(ptrs[k]) == l && !memcmp(ptrs[k], s, l)) break;
            ck_assert_int_lt(k, 21);
            seen[k]++;
        }
        first += used;
        packets++;
    }
    ck_assert_uint_ge(packets, 5);
    for (int k = 0; k < 21; k++) ck_assert_int_eq(seen[k], k == 7 ? 0 : 1);
    /* A buffer too small for the fixed records. */
    size_t used;
    ck_assert_int_eq(mdns_build_response(buf, 100, &r, 0, &used), P2P_ERANGE);
    mdns_msg_free(m);
}
END_TEST

START_TEST(meta_response)
{
    struct mdns_name meta = N("_services._dns-sd._udp.local"), svc = N("_p2p._udp.local");
    uint8_t buf[256];
    int len = mdns_build_meta_response(buf, sizeof buf, 0, &meta, &svc, 120);
    ck_assert_int_gt(len, 0);
    struct mdns_msg *m = msg_default();
    ck_assert_int_eq(mdns_msg_parse(m, buf, (size_t)len), 0);
    ck_assert_uint_eq(m->nr, 1);
    ck_assert(mdns_name_equal(&m->r[0].name, &meta));
    ck_assert(mdns_name_equal(&m->r[0].u.target, &svc));
    /* "local" of the service is compressed against the meta name. */
    ck_assert_uint_eq(buf[len - 2], 0xc0);
    mdns_msg_free(m);
}
END_TEST

/* ---- hand-built messages of other implementations -------------------------- */

/* js-libp2p (multicast-dns): PTR and one TXT record per address, all in the
 * answer section; names written in full. */
static size_t build_js(uint8_t *buf, size_t cap)
{
    struct mdns_writer w;
    mdns_writer_init(&w, buf, cap);
    struct mdns_name svc = N("_p2p._udp.local");
    struct mdns_name inst = N("jsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsj._p2p._udp.local");
    mdns_write_header(&w, 0, 0x8400, 0, 3, 0, 0);
    size_t rd = mdns_begin_record(&w, &svc, MDNS_T_PTR, 1, 120);
    mdns_write_name(&w, &inst, false);
    mdns_end_rdata(&w, rd);
    for (int i = 0; i < 2; i++) {
        rd = mdns_begin_record(&w, &inst, MDNS_T_TXT, 1, 120);
        uint8_t l = (uint8_t)strlen(two_txt[i]);
        mdns_write_bytes(&w, &l, 1);
        mdns_write_bytes(&w, two_txt[i], l);
        mdns_end_rdata(&w, rd);
    }
    ck_assert(mdns_writer_ok(&w));
    return w.len;
}

START_TEST(foreign_js)
{
    uint8_t buf[1500];
    size_t len = build_js(buf, sizeof buf);
    struct mdns_msg *m = msg_default();
    ck_assert_int_eq(mdns_msg_parse(m, buf, len), 0);
    ck_assert_uint_eq(m->nr, 3);
    ck_assert_int_eq(m->r[2].section, MDNS_SEC_ANSWER);
    ck_assert_uint_eq(m->r[2].u.txt.count, 1);
    /* Every strict prefix is rejected. */
    for (size_t i = 0; i < len; i++) ck_assert_int_lt(mdns_msg_parse(m, buf, i), 0);
    mdns_msg_free(m);
}
END_TEST

/* go-libp2p (zeroconf): PTR answer; SRV, TXT (all strings in one record),
 * A and AAAA in the additional section; compressed names; unknown NSEC. */
START_TEST(foreign_go)
{
    uint8_t buf[1500];
    struct mdns_writer w;
    mdns_writer_init(&w, buf, sizeof buf);
    struct mdns_name svc = N("_p2p._udp.local"), inst = N("gogogogogogogogogogogogogogogogogo._p2p._udp.local"),
                     host = N("gogogogogogogogogogogogogogogogogo.local");
    mdns_write_header(&w, 0, 0x8400, 0, 1, 0, 5);
    size_t rd = mdns_begin_record(&w, &svc, MDNS_T_PTR, 1, 3200);
    mdns_write_name(&w, &inst, true);
    mdns_end_rdata(&w, rd);
    rd = mdns_begin_record(&w, &inst, MDNS_T_SRV, 0x8001, 3200);
    mdns_write_u16(&w, 0);
    mdns_write_u16(&w, 0);
    mdns_write_u16(&w, 4001);
    mdns_write_name(&w, &host, true);
    mdns_end_rdata(&w, rd);
    rd = mdns_begin_record(&w, &inst, MDNS_T_TXT, 0x8001, 3200);
    for (int i = 0; i < 2; i++) {
        uint8_t l = (uint8_t)strlen(two_txt[i]);
        mdns_write_bytes(&w, &l, 1);
        mdns_write_bytes(&w, two_txt[i], l);
    }
    mdns_end_rdata(&w, rd);
    rd = mdns_begin_record(&w, &host, MDNS_T_A, 0x8001, 120);
    mdns_write_bytes(&w, "\xc6\x12\x00\x03", 4);
    mdns_end_rdata(&w, rd);
    rd = mdns_begin_record(&w, &host, MDNS_T_AAAA, 0x8001, 120);
    mdns_write_bytes(&w, "\xfe\x80\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    mdns_end_rdata(&w, rd);
    rd = mdns_begin_record(&w, &inst, 47 /* NSEC */, 0x8001, 120);
    mdns_write_bytes(&w, "\xc0\x0c\x00\x01\x40", 5);
    mdns_end_rdata(&w, rd);
    ck_assert(mdns_writer_ok(&w));
    struct mdns_msg *m = msg_default();
    ck_assert_int_eq(mdns_msg_parse(m, buf, w.len), 0);
    ck_assert_uint_eq(m->nr, 6);
    ck_assert(mdns_name_equal(&m->r[0].u.target, &inst));
    ck_assert(mdns_name_equal(&m->r[1].u.srv.target, &host));
    ck_assert_uint_eq(m->r[2].u.txt.count, 2);
    ck_assert(m->r[2].cache_flush);
    ck_assert_uint_eq(m->r[2].rclass, 1);
    ck_assert_uint_eq(m->r[4].type, MDNS_T_AAAA);
    ck_assert_uint_eq(m->r[5].type, 47);
    for (size_t i = 0; i < w.len; i++) ck_assert_int_lt(mdns_msg_parse(m, buf, i), 0);
    /* Trailing bytes are ignored. */
    buf[w.len] = 0xff;
    ck_assert_int_eq(mdns_msg_parse(m, buf, w.len + 1), 0);
    mdns_msg_free(m);
}
END_TEST

/* Every strict prefix of our own messages fails; none crashes. */
START_TEST(truncation_every_byte)
{
    struct mdns_name svc, inst, host;
    struct mdns_response r = response_spec(&svc, &inst, &host, two_txt, 2);
    uint8_t buf[1500];
    size_t used;
    int len = mdns_build_response(buf, sizeof buf, &r, 0, &used);
    ck_assert_int_gt(len, 0);
    struct mdns_msg *m = msg_default();
    for (int i = 0; i < len; i++) {
        /* Copy into an exact-size heap buffer so ASan sees any over-read. */
        uint8_t *p = malloc((size_t)i + 1);
        memcpy(p, buf, (size_t)i);
        int rc = mdns_msg_parse(m, p, (size_t)i);
        ck_assert_msg(rc == P2P_ETRUNC || rc == P2P_EPROTO, "prefix %d: %d", i, rc);
        free(p);
    }
    mdns_msg_free(m);
}
END_TEST

/* ---- hostile input ------------------------------------------------------- */

static int parse_bytes(const uint8_t *b, size_t n)
{
    struct mdns_msg *m = msg_default();
    uint8_t *p = malloc(n ? n : 1);
    memcpy(p, b, n);
    int rc = mdns_msg_parse(m, p, n);
    free(p);
    mdns_msg_free(m);
    return rc;
}

#define HDR_Q1 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0

START_TEST(hostile_pointers)
{
    /* A pointer to itself. */
    static const uint8_t self[] = { HDR_Q1, 0xc0, 12, 0, 12, 0, 1 };
    ck_assert_int_eq(parse_bytes(self, sizeof self), P2P_EPROTO);
    /* A forward pointer. */
    static const uint8_t fwd[] = { HDR_Q1, 0xc0, 14, 1, 'a', 0, 0, 12, 0, 1 };
    ck_assert_int_eq(parse_bytes(fwd, sizeof fwd), P2P_EPROTO);
    /* A pointer into the header (backwards, allowed by the rule; the
     * header bytes read as labels: 0 length at offset 0 = root). */
    static const uint8_t hdr[] = { HDR_Q1, 0xc0, 0, 0, 12, 0, 1 };
    ck_assert_int_eq(parse_bytes(hdr, sizeof hdr), 0);
    /* Two pointers pointing at each other (loop): the second is forward. */
    static const uint8_t loop[] = { 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,
                                    1, 'a', 0xc0, 22, 0, 12, 0, 1,          /* q1: a -> (forward) */
                                    1, 'b', 0xc0, 12, 0, 12, 0, 1 };         /* q2: b -> q1 */
    ck_assert_int_eq(parse_bytes(loop, sizeof loop), P2P_EPROTO);
    /* Labels after a jump that run into the pointer that jumped. */
    static const uint8_t overlap[] = { HDR_Q1, 3, 'a', 'b', 0xc0, 12, 0, 12, 0, 1 };
    /* name: "ab" label of length 3 would read 'a','b',0xc0 -> then 12 ...:
     * the name at 12 is 3 'a' 'b' 0xc0 then byte 12 (label of 12 bytes)
     * that runs off the end. */
    ck_assert_int_lt(parse_bytes(overlap, sizeof overlap), 0);
    /* Extended label types. */
    static const uint8_t ext40[] = { HDR_Q1, 0x41, 'a', 0, 0, 12, 0, 1 };
    static const uint8_t ext80[] = { HDR_Q1, 0x81, 'a', 0, 0, 12, 0, 1 };
    ck_assert_int_eq(parse_bytes(ext40, sizeof ext40), P2P_EPROTO);
    ck_assert_int_eq(parse_bytes(ext80, sizeof ext80), P2P_EPROTO);
    /* A truncated pointer. */
    static const uint8_t half[] = { HDR_Q1, 0xc0 };
    ck_assert_int_eq(parse_bytes(half, sizeof half), P2P_ETRUNC);
}
END_TEST

START_TEST(hostile_hops_and_length)
{
    /* A chain of pointers, each to the previous one: 40 hops > 32. */
    uint8_t b[200] = { 0, 0, 0, 0, 0, 1 };
    size_t n = 12;
    b[n++] = 1;
    b[n++] = 'a';
    b[n++] = 0;            /* "a" at 12 */
    size_t prev = 12;
    for (int i = 0; i < 40; i++) {
        b[n] = 0xc0;
        b[n + 1] = (uint8_t)prev;
        prev = n;
        n += 2;
    }
    struct mdns_limits lim = MDNS_LIMITS_DEFAULT;
    size_t pos = prev;
    struct mdns_name out;
    ck_assert_int_eq(mdns_read_name(b, n, &pos, lim.max_hops, &out), P2P_EPROTO);
    pos = prev;
    ck_assert_int_eq(mdns_read_name(b, n, &pos, 64, &out), 0);
    ck_assert_uint_eq(pos, prev + 2);
    ck_assert_uint_eq(out.len, 3);

    /* A name over 255 bytes built from pointers to 63-byte labels. */
    uint8_t l[400] = { 0, 0, 0, 0, 0, 1 };
    n = 12;
    size_t starts[5];
    for (int i = 0; i < 5; i++) {
        starts[i] = n;
        l[n++] = 63;
        memset(l + n, 'x', 63);
        n += 63;
        if (i == 0) {
            l[n++] = 0;
        } else {
            l[n++] = 0xc0 | (uint8_t)(starts[i - 1] >> 8);
            l[n++] = (uint8_t)starts[i - 1];
        }
    }
    pos = starts[3];   /* 4 labels of 63 = 256 + root > 255 */
    ck_assert_int_eq(mdns_read_name(l, n, &pos, 32, &out), P2P_EPROTO);
    pos = starts[2];   /* 3 labels: fine */
    ck_assert_int_eq(mdns_read_name(l, n, &pos, 32, &out), 0);
    ck_assert_uint_eq(out.len, 3 * 64 + 1);
}
END_TEST

START_TEST(hostile_limits_and_rdata)
{
    /* Counts above the limits. */
    static const uint8_t many_q[] = { 0, 0, 0, 0, 0, 33, 0, 0, 0, 0, 0, 0 };
    ck_assert_int_eq(parse_bytes(many_q, sizeof many_q), P2P_ELIMIT);
    static const uint8_t many_r[] = { 0, 0, 0x84, 0, 0, 0, 0, 64, 0, 64, 0, 1 };
    ck_assert_int_eq(parse_bytes(many_r, sizeof many_r), P2P_ELIMIT);
    static const uint8_t max_counts[] = { 0, 0, 0x84, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    ck_assert_int_eq(parse_bytes(max_counts, sizeof max_counts), P2P_ELIMIT);
    /* Counts within limits but no data. */
    static const uint8_t short_r[] = { 0, 0, 0x84, 0, 0, 0, 0, 2, 0, 0, 0, 0 };
    ck_assert_int_eq(parse_bytes(short_r, sizeof short_r), P2P_ETRUNC);

    /* A message with one answer: the root name, type, IN, TTL 10, rdlength. */
#define REC(type_hi, type_lo, rdlen) 0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, type_hi, type_lo, 0, 1, 0, 0, 0, 10, 0, rdlen
    static const uint8_t a_bad[] = { REC(0, 1, 5), 1, 2, 3, 4, 5 };
    ck_assert_int_eq(parse_bytes(a_bad, sizeof a_bad), P2P_EPROTO);
    static const uint8_t a_ok[] = { REC(0, 1, 4), 1, 2, 3, 4 };
    ck_assert_int_eq(parse_bytes(a_ok, sizeof a_ok), 0);
    static const uint8_t aaaa_bad[] = { REC(0, 28, 4), 1, 2, 3, 4 };
    ck_assert_int_eq(parse_bytes(aaaa_bad, sizeof aaaa_bad), P2P_EPROTO);
    /* A PTR whose name ends before / after rdlength. */
    static const uint8_t ptr_short[] = { REC(0, 12, 4), 1, 'a', 0, 0 };
    ck_assert_int_eq(parse_bytes(ptr_short, sizeof ptr_short), P2P_EPROTO);
    static const uint8_t ptr_long[] = { REC(0, 12, 2), 1, 'a', 0 };
    ck_assert_int_eq(parse_bytes(ptr_long, sizeof ptr_long), P2P_EPROTO);
    static const uint8_t ptr_ok[] = { REC(0, 12, 3), 1, 'a', 0 };
    ck_assert_int_eq(parse_bytes(ptr_ok, sizeof ptr_ok), 0);
    /* TXT strings that overrun the record. */
    static const uint8_t txt_over[] = { REC(0, 16, 3), 3, 'a', 'b', 'c' };
    ck_assert_int_eq(parse_bytes(txt_over, sizeof txt_over), P2P_EPROTO);
    static const uint8_t txt_empty[] = { REC(0, 16, 0) };
    ck_assert_int_eq(parse_bytes(txt_empty, sizeof txt_empty), 0);
    /* rdlength past the end. */
    static const uint8_t rd_over[] = { REC(0, 99, 9), 1, 2 };
    ck_assert_int_eq(parse_bytes(rd_over, sizeof rd_over), P2P_ETRUNC);
    /* SRV too short. */
    static const uint8_t srv_short[] = { REC(0, 33, 6), 0, 0, 0, 0, 0, 1 };
    ck_assert_int_eq(parse_bytes(srv_short, sizeof srv_short), P2P_EPROTO);
    /* TTL with the top bit set reads as 0. */
    uint8_t ttl_hi[] = { REC(0, 1, 4), 1, 2, 3, 4 };
    ttl_hi[12 + 1 + 4] = 0x80;
    struct mdns_msg *m = msg_default();
    ck_assert_int_eq(mdns_msg_parse(m, ttl_hi, sizeof ttl_hi), 0);
    ck_assert_uint_eq(m->r[0].ttl, 0);
    mdns_msg_free(m);
#undef REC
}
END_TEST

START_TEST(hostile_txt_limit)
{
    /* 300 one-byte strings in one TXT record: more than 256. */
    uint8_t b[12 + 1 + 10 + 600];
    static const uint8_t h[] = { 0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 16, 0, 1, 0, 0, 0, 10 };
    memcpy(b, h, sizeof h);
    b[21] = 600 >> 8;
    b[22] = 600 & 0xff;
    for (int i = 0; i < 300; i++) {
        b[23 + 2 * i] = 1;
        b[24 + 2 * i] = 'x';
    }
    ck_assert_int_eq(parse_bytes(b, sizeof b), P2P_ELIMIT);
    struct mdns_limits lim = MDNS_LIMITS_DEFAULT;
    lim.max_txt_strings = 300;
    struct mdns_msg *m = mdns_msg_new(&lim);
    ck_assert_int_eq(mdns_msg_parse(m, b, sizeof b), 0);
    ck_assert_uint_eq(m->r[0].u.txt.count, 300);
    mdns_msg_free(m);
}
END_TEST

START_TEST(writer_compression)
{
    uint8_t buf[512];
    struct mdns_writer w;
    mdns_writer_init(&w, buf, sizeof buf);
    mdns_write_header(&w, 0, 0, 3, 0, 0, 0);
    struct mdns_name a = N("x.example.local"), b = N("y.example.local"), c = N("EXAMPLE.LOCAL");
    mdns_write_name(&w, &a, true);
    mdns_write_u16(&w, 1);
    mdns_write_u16(&w, 1);
    size_t bstart = w.len;
    mdns_write_name(&w, &b, true);
    mdns_write_u16(&w, 1);
    mdns_write_u16(&w, 1);
    size_t cstart = w.len;
    mdns_write_name(&w, &c, true);     /* case-insensitive match */
    mdns_write_u16(&w, 1);
    mdns_write_u16(&w, 1);
    ck_assert(mdns_writer_ok(&w));
    ck_assert_uint_eq(cstart - bstart, 4 + 4);      /* 1 'y' + pointer, type, class */
    ck_assert_uint_eq(w.len - cstart, 2 + 4);       /* pointer only */
    struct mdns_msg *m = msg_default();
    ck_assert_int_eq(mdns_msg_parse(m, buf, w.len), 0);
    ck_assert(mdns_name_equal(&m->q[0].name, &a));
    ck_assert(mdns_name_equal(&m->q[1].name, &b));
    ck_assert(mdns_name_equal(&m->q[2].name, &c));
    ck_assert_str_eq(txt(&m->q[2].name), "example.local");
    mdns_msg_free(m);
    /* Overflow is sticky. */
    mdns_writer_init(&w, buf, 3);
    mdns_write_u16(&w, 1);
    mdns_write_u16(&w, 1);
    mdns_write_u16(&w, 1);
    ck_assert(!mdns_writer_ok(&w));
    ck_assert_uint_eq(w.len, 2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("mdns_dns");
    TCase *t = tcase_create("core");
    tcase_add_test(t, names_text);
    tcase_add_test(t, names_prepend_child);
    tcase_add_test(t, query_vector);
    tcase_add_test(t, response_roundtrip);
    tcase_add_test(t, response_split_and_skip);
    tcase_add_test(t, meta_response);
    tcase_add_test(t, foreign_js);
    tcase_add_test(t, foreign_go);
    tcase_add_test(t, truncation_every_byte);
    tcase_add_test(t, hostile_pointers);
    tcase_add_test(t, hostile_hops_and_length);
    tcase_add_test(t, hostile_limits_and_rdata);
    tcase_add_test(t, hostile_txt_limit);
    tcase_add_test(t, writer_compression);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
