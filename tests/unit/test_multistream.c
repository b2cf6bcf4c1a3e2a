/* multistream-select 1.0: message codec vectors, dialer and listener driven
 * against each other in memory with every split of the byte stream,
 * "na" paths, trailing application data, malformed input and limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/buf.h"
#include "p2p/error.h"
#include "p2p/multistream.h"
#include "testutil.h"

#define HDR P2P_MSS_PROTOCOL_ID

/* ---- helpers ------------------------------------------------------------ */

/* A listener's supported set: a NULL-terminated list, plus a call count. */
struct set {
    const char *const *ids;
    int calls;
};

static bool set_supports(void *arg, const char *id)
{
    struct set *s = arg;
    s->calls++;
    ck_assert(p2p_mss_protocol_valid(id));
    for (size_t i = 0; s->ids && s->ids[i]; i++)
        if (strcmp(s->ids[i], id) == 0) return true;
    return false;
}

static bool supports_all(void *arg, const char *id)
{
    (void)arg;
    (void)id;
    return true;
}

/* Append a message to b (test side: any text, via the codec). */
static void put_msg(p2p_buf *b, const char *text)
{
    ck_assert_int_eq(p2p_mss_msg_encode(b, text, strlen(text)), 0);
}

static void put_raw(p2p_buf *b, const void *p, size_t n)
{
    ck_assert_int_eq(p2p_buf_append(b, p, n), 0);
}

static void put_hex(p2p_buf *b, const char *hex)
{
    uint8_t tmp[64];
    int n = p2p_test_unhex(hex, tmp, sizeof tmp);
    ck_assert_int_ge(n, 0);
    put_raw(b, tmp, (size_t)n);
}

static void assert_buf_eq(const p2p_buf *a, const p2p_buf *b)
{
    ck_assert_uint_eq(a->len, b->len);
    if (a->len) ck_assert_mem_eq(p2p_buf_head(a), p2p_buf_head(b), a->len);
}

/* Feed s[0..n) cut at cuts[0..k) (ascending, repeats allowed: empty
 * chunks), stopping at the first result other than P2P_MSS_AGAIN. *end is
 * the absolute offset where the machine stopped consuming. */
static int feed_cuts(p2p_mss *m, const uint8_t *s, size_t n, const size_t *cuts, size_t k,
                     p2p_buf *out, size_t *end)
{
    size_t start = 0;
    for (size_t i = 0; i <= k; i++) {
        size_t stop = i < k ? cuts[i] : n;
        size_t c = 12345;
        int rc = p2p_mss_feed(m, s + start, stop - start, &c, out);
        ck_assert_uint_le(c, stop - start);
        if (rc != P2P_MSS_AGAIN) {
            *end = start + c;
            return rc;
        }
        ck_assert_uint_eq(c, stop - start);
        start = stop;
    }
    *end = n;
    return P2P_MSS_AGAIN;
}

/* Feed the whole of s one byte at a time. */
static int feed_bytes(p2p_mss *m, const uint8_t *s, size_t n, p2p_buf *out, size_t *end)
{
    size_t *cuts = malloc((n ? n : 1) * sizeof *cuts);
    ck_assert_ptr_nonnull(cuts);
    for (size_t i = 1; i < n; i++) cuts[i - 1] = i;
    int rc = feed_cuts(m, s, n, cuts, n ? n - 1 : 0, out, end);
    free(cuts);
    return rc;
}

static int feed_all(p2p_mss *m, const void *s, size_t n, p2p_buf *out, size_t *end)
{
    return feed_cuts(m, s, n, NULL, 0, out, end);
}

/* A listener fed `in` (optionally started first) must return want_rc with
 * out == want_out and stop at want_end, for every 2- and 3-way split and
 * byte by byte. */
static void check_listener_splits(const p2p_buf *in, struct set *set, bool start,
                                  int want_rc, const p2p_buf *want_out, size_t want_end)
{
    const uint8_t *s = p2p_buf_head(in);
    size_t n = in->len;
    for (int mode = 0; mode < 3; mode++) {
        size_t imax = mode == 0 ? 1 : n + 1;
        size_t jmax = mode == 2 ? n + 1 : 1;
        for (size_t i = 0; i < imax; i++) {
            for (size_t j = mode == 2 ? i : 0; j < jmax; j++) {
                p2p_mss m;
                p2p_buf out;
                p2p_buf_init(&out, 0);
                ck_assert_int_eq(p2p_mss_listener_init(&m, set_supports, set), 0);
                if (start) ck_assert_int_eq(p2p_mss_start(&m, &out), 0);
                size_t cuts[2] = { i, j }, end = 0;
                int rc;
                if (mode == 0)
                    rc = feed_bytes(&m, s, n, &out, &end);
                else
                    rc = feed_cuts(&m, s, n, cuts, (size_t)mode, &out, &end);
                ck_assert_int_eq(rc, want_rc);
                ck_assert_uint_eq(end, want_end);
                assert_buf_eq(&out, want_out);
                p2p_buf_free(&out);
            }
        }
    }
}

static void check_dialer_splits(const p2p_buf *in, const char *const *protos, size_t np,
                                int want_rc, const p2p_buf *want_out, size_t want_end,
                                const char *want_sel)
{
    const uint8_t *s = p2p_buf_head(in);
    size_t n = in->len;
    for (int mode = 0; mode < 3; mode++) {
        size_t imax = mode == 0 ? 1 : n + 1;
        size_t jmax = mode == 2 ? n + 1 : 1;
        for (size_t i = 0; i < imax; i++) {
            for (size_t j = mode == 2 ? i : 0; j < jmax; j++) {
                p2p_mss m;
                p2p_buf out;
                p2p_buf_init(&out, 0);
                ck_assert_int_eq(p2p_mss_dialer_init(&m, protos, np), 0);
                ck_assert_int_eq(p2p_mss_start(&m, &out), 0);
                size_t cuts[2] = { i, j }, end = 0;
                int rc;
                if (mode == 0)
                    rc = feed_bytes(&m, s, n, &out, &end);
                else
                    rc = feed_cuts(&m, s, n, cuts, (size_t)mode, &out, &end);
                ck_assert_int_eq(rc, want_rc);
                ck_assert_uint_eq(end, want_end);
                assert_buf_eq(&out, want_out);
                if (want_sel)
                    ck_assert_str_eq(p2p_mss_selected(&m), want_sel);
                else
                    ck_assert_ptr_null(p2p_mss_selected(&m));
                p2p_buf_free(&out);
            }
        }
    }
}

/* ---- codec -------------------------------------------------------------- */

START_TEST(codec_vectors)
{
    static const struct {
        const char *text, *hex;
    } V[] = {
        { HDR, "132f6d756c746973747265616d2f312e302e300a" },
        { "na", "036e610a" },
        { "ls", "036c730a" },
        { "/noise", "072f6e6f6973650a" },
        { "/yamux/1.0.0", "0d2f79616d75782f312e302e300a" },
        { "", "010a" },
    };
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        uint8_t want[64];
        int n = p2p_test_unhex(V[i].hex, want, sizeof want);
        ck_assert_int_gt(n, 0);
        p2p_buf b;
        p2p_buf_init(&b, 0);
        ck_assert_int_eq(p2p_mss_msg_encode(&b, V[i].text, strlen(V[i].text)), 0);
        ck_assert_uint_eq(b.len, (size_t)n);
        ck_assert_mem_eq(p2p_buf_head(&b), want, (size_t)n);
        /* Decode, with trailing bytes that must not be consumed. */
        ck_assert_int_eq(p2p_buf_append(&b, "\x05zz", 3), 0);
        const uint8_t *t = NULL;
        size_t tl = 99, used = 0;
        ck_assert_int_eq(p2p_mss_msg_decode(p2p_buf_head(&b), b.len, &t, &tl, &used), 0);
        ck_assert_uint_eq(used, (size_t)n);
        ck_assert_uint_eq(tl, strlen(V[i].text));
        if (tl) ck_assert_mem_eq(t, V[i].text, tl);
        ck_assert_int_eq(p2p_mss_msg_decode(want, (size_t)n, NULL, NULL, NULL), 0);
        /* Every proper prefix is truncated. */
        for (int k = 0; k < n; k++)
            ck_assert_int_eq(p2p_mss_msg_decode(want, (size_t)k, &t, &tl, &used), P2P_ETRUNC);
        p2p_buf_free(&b);
    }
}
END_TEST

START_TEST(codec_long)
{
    char text[P2P_MSS_MAX_MSG + 1];
    memset(text, 'a', sizeof text);
    p2p_buf b;
    p2p_buf_init(&b, 0);
    /* 1023 bytes + '\n' = 1024 = 0x80 0x08: the longest message. */
    ck_assert_int_eq(p2p_mss_msg_encode(&b, text, P2P_MSS_MAX_MSG - 1), 0);
    ck_assert_uint_eq(b.len, 2 + P2P_MSS_MAX_MSG);
    ck_assert_uint_eq(p2p_buf_head(&b)[0], 0x80);
    ck_assert_uint_eq(p2p_buf_head(&b)[1], 0x08);
    size_t used = 0, tl = 0;
    ck_assert_int_eq(p2p_mss_msg_decode(p2p_buf_head(&b), b.len, NULL, &tl, &used), 0);
    ck_assert_uint_eq(tl, P2P_MSS_MAX_MSG - 1);
    ck_assert_uint_eq(used, b.len);
    /* One more byte does not fit; out is left unchanged. */
    size_t before = b.len;
    ck_assert_int_eq(p2p_mss_msg_encode(&b, text, P2P_MSS_MAX_MSG), P2P_ERANGE);
    ck_assert_int_eq(p2p_mss_msg_encode(&b, NULL, 1), P2P_EINVAL);
    ck_assert_int_eq(p2p_mss_msg_encode(NULL, "x", 1), P2P_EINVAL);
    ck_assert_uint_eq(b.len, before);
    /* A limited buffer: P2P_ELIMIT and nothing written. */
    p2p_buf small;
    p2p_buf_init(&small, 4);
    ck_assert_int_eq(p2p_mss_msg_encode(&small, "abcd", 4), P2P_ELIMIT);
    ck_assert_uint_eq(small.len, 0);
    ck_assert_int_eq(p2p_mss_msg_encode(&small, "ab", 2), 0);
    p2p_buf_free(&small);
    p2p_buf_free(&b);
}
END_TEST

START_TEST(codec_malformed)
{
    static const struct {
        const char *hex;
        int rc;
    } V[] = {
        { "", P2P_ETRUNC },
        { "00", P2P_EPROTO },              /* length 0 */
        { "0161", P2P_EPROTO },            /* no newline */
        { "036e610b", P2P_EPROTO },        /* last byte not '\n' */
        { "8000", P2P_EPROTO },            /* non-minimal varint */
        { "8100", P2P_EPROTO },            /* non-minimal varint */
        { "80", P2P_ETRUNC },              /* prefix incomplete */
        { "8108", P2P_EPROTO },            /* 1025 > limit, known early */
        { "ff7f", P2P_EPROTO },            /* 16383 */
        { "8080", P2P_EPROTO },            /* prefix longer than 2 bytes */
        { "ffffffffffffffffff", P2P_EPROTO },
        { "8008", P2P_ETRUNC },            /* 1024: fine, needs the bytes */
        { "05616263", P2P_ETRUNC },
    };
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        uint8_t in[32];
        int n = p2p_test_unhex(V[i].hex, in, sizeof in);
        ck_assert_int_ge(n, 0);
        size_t used = 77;
        ck_assert_msg(p2p_mss_msg_decode(in, (size_t)n, NULL, NULL, &used) == V[i].rc,
                      "vector %s", V[i].hex);
        ck_assert_uint_eq(used, 77);
    }
    ck_assert_int_eq(p2p_mss_msg_decode(NULL, 0, NULL, NULL, NULL), P2P_ETRUNC);
    ck_assert_int_eq(p2p_mss_msg_decode(NULL, 3, NULL, NULL, NULL), P2P_EINVAL);
}
END_TEST

START_TEST(codec_round_trip)
{
    /* Every length and a mix of byte values (the codec is 8-bit clean,
     * newlines included). */
    uint8_t text[P2P_MSS_MAX_MSG];
    for (size_t i = 0; i < sizeof text; i++) text[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len < P2P_MSS_MAX_MSG; len++) {
        p2p_buf b;
        p2p_buf_init(&b, 0);
        ck_assert_int_eq(p2p_mss_msg_encode(&b, (const char *)text, len), 0);
        ck_assert_uint_eq(b.len, (len + 1 < 128 ? 1 : 2) + len + 1);
        const uint8_t *t;
        size_t tl, used;
        ck_assert_int_eq(p2p_mss_msg_decode(p2p_buf_head(&b), b.len, &t, &tl, &used), 0);
        ck_assert_uint_eq(tl, len);
        ck_assert_uint_eq(used, b.len);
        if (len) ck_assert_mem_eq(t, text, len);
        ck_assert_int_eq(p2p_mss_msg_decode(p2p_buf_head(&b), b.len - 1, &t, &tl, &used),
                         P2P_ETRUNC);
        p2p_buf_free(&b);
    }
}
END_TEST

START_TEST(protocol_ids)
{
    char longid[P2P_MSS_MAX_MSG + 2];
    memset(longid, 'x', sizeof longid);
    longid[0] = '/';
    longid[P2P_MSS_MAX_MSG - 1] = '\0';         /* 1023 bytes: fits */
    ck_assert(p2p_mss_protocol_valid(longid));
    longid[P2P_MSS_MAX_MSG - 1] = 'x';
    longid[P2P_MSS_MAX_MSG] = '\0';             /* 1024 bytes: too long */
    ck_assert(!p2p_mss_protocol_valid(longid));
    longid[P2P_MSS_MAX_MSG] = 'x';
    longid[P2P_MSS_MAX_MSG + 1] = '\0';
    ck_assert(!p2p_mss_protocol_valid(longid));

    ck_assert(p2p_mss_protocol_valid("/noise"));
    ck_assert(p2p_mss_protocol_valid("/ipfs/id/1.0.0"));
    ck_assert(p2p_mss_protocol_valid("noslash"));
    ck_assert(p2p_mss_protocol_valid("/caf\xc3\xa9/\xf0\x9f\x98\x80"));
    ck_assert(!p2p_mss_protocol_valid(NULL));
    ck_assert(!p2p_mss_protocol_valid(""));
    ck_assert(!p2p_mss_protocol_valid("na"));
    ck_assert(!p2p_mss_protocol_valid("ls"));
    ck_assert(!p2p_mss_protocol_valid(HDR));
    ck_assert(!p2p_mss_protocol_valid("/a\nb"));
    ck_assert(!p2p_mss_protocol_valid("/\xff"));           /* not UTF-8 */
    ck_assert(!p2p_mss_protocol_valid("/\xc0\xaf"));       /* overlong '/' */
    ck_assert(!p2p_mss_protocol_valid("/\xed\xa0\x80"));   /* surrogate */
    ck_assert(!p2p_mss_protocol_valid("/\xf4\x90\x80\x80"));/* > U+10FFFF */
    ck_assert(!p2p_mss_protocol_valid("/\xe2\x82"));       /* truncated */
}
END_TEST

/* ---- negotiation: transcripts fed with every split ----------------------- */

static const char *const LSUP[] = { "/noise", "/yamux/1.0.0", NULL };

/* Dialer proposes /tls then /noise; listener supports /noise. The dialer's
 * bytes: header, /tls/1.0.0, /noise, application data. */
START_TEST(listener_na_then_select_every_split)
{
    static const char app[] = "\x04" "APP\n" "trailing";
    for (int start = 0; start < 2; start++) {
        p2p_buf in, want;
        p2p_buf_init(&in, 0);
        p2p_buf_init(&want, 0);
        put_msg(&in, HDR);
        put_msg(&in, "/tls/1.0.0");
        put_msg(&in, "/noise");
        size_t end = in.len;
        put_raw(&in, app, sizeof app - 1);
        put_msg(&want, HDR);
        put_msg(&want, "na");
        put_msg(&want, "/noise");
        struct set set = { LSUP, 0 };
        check_listener_splits(&in, &set, start != 0, P2P_MSS_DONE, &want, end);
        p2p_buf_free(&in);
        p2p_buf_free(&want);
    }
}
END_TEST

/* The same exchange from the dialer's side: the listener's bytes are
 * header, na, /noise, application data; the dialer must answer the "na"
 * with its second proposal. */
START_TEST(dialer_na_then_select_every_split)
{
    static const char *const P[] = { "/tls/1.0.0", "/noise" };
    static const char app[] = "\x03" "ab\n" "\x80";
    p2p_buf in, want;
    p2p_buf_init(&in, 0);
    p2p_buf_init(&want, 0);
    put_msg(&in, HDR);
    put_msg(&in, "na");
    put_msg(&in, "/noise");
    size_t end = in.len;
    put_raw(&in, app, sizeof app - 1);
    put_msg(&want, HDR);
    put_msg(&want, "/tls/1.0.0");
    put_msg(&want, "/noise");
    check_dialer_splits(&in, P, 2, P2P_MSS_DONE, &want, end, "/noise");
    p2p_buf_free(&in);
    p2p_buf_free(&want);
}
END_TEST

START_TEST(dialer_first_choice_every_split)
{
    static const char *const P[] = { "/yamux/1.0.0", "/mplex/6.7.0" };
    p2p_buf in, want;
    p2p_buf_init(&in, 0);
    p2p_buf_init(&want, 0);
    put_msg(&in, HDR);
    put_msg(&in, "/yamux/1.0.0");
    size_t end = in.len;
    put_hex(&in, "000000010000000100000000"); /* a yamux frame follows */
    put_msg(&want, HDR);
    put_msg(&want, "/yamux/1.0.0");
    check_dialer_splits(&in, P, 2, P2P_MSS_DONE, &want, end, "/yamux/1.0.0");
    p2p_buf_free(&in);
    p2p_buf_free(&want);
}
END_TEST

START_TEST(dialer_no_common_protocol)
{
    static const char *const P[] = { "/a", "/b", "/c" };
    p2p_buf in, want;
    p2p_buf_init(&in, 0);
    p2p_buf_init(&want, 0);
    put_msg(&in, HDR);
    put_msg(&in, "na");
    put_msg(&in, "na");
    put_msg(&in, "na");
    size_t end = in.len;
    put_raw(&in, "junk", 4);
    put_msg(&want, HDR);
    put_msg(&want, "/a");
    put_msg(&want, "/b");
    put_msg(&want, "/c");
    check_dialer_splits(&in, P, 3, P2P_ENEGOTIATE, &want, end, NULL);
    p2p_buf_free(&in);
    p2p_buf_free(&want);
}
END_TEST

START_TEST(listener_no_common_protocol)
{
    /* The dialer gives up after two "na" (it closes the stream, which is
     * not an input here): the listener just waits for more. */
    p2p_buf in, want;
    p2p_buf_init(&in, 0);
    p2p_buf_init(&want, 0);
    put_msg(&in, HDR);
    put_msg(&in, "/a");
    put_msg(&in, "/b");
    put_msg(&want, HDR);
    put_msg(&want, "na");
    put_msg(&want, "na");
    struct set set = { LSUP, 0 };
    check_listener_splits(&in, &set, false, P2P_MSS_AGAIN, &want, in.len);
    p2p_buf_free(&in);
    p2p_buf_free(&want);
}
END_TEST

/* ---- negotiation: interactive, in memory --------------------------------- */

struct pair_result {
    int drc, lrc;
    char dsel[64], lsel[64];
    p2p_buf d_rx_app, l_rx_app; /* application bytes each side received */
};

/* Run a dialer and a listener against each other, moving at most `chunk`
 * bytes per step in each direction. Each side appends its application
 * data as soon as it may: the dialer once p2p_mss_optimistic() allows
 * (when lazy) or once done, the listener once done. */
static void run_pair(const char *const *protos, size_t np, struct set *set, bool lstart,
                     bool lazy, const char *dapp, const char *lapp, size_t chunk,
                     struct pair_result *r)
{
    p2p_mss d, l;
    p2p_buf d2l, l2d;
    p2p_buf_init(&d2l, 0);
    p2p_buf_init(&l2d, 0);
    p2p_buf_init(&r->d_rx_app, 0);
    p2p_buf_init(&r->l_rx_app, 0);
    ck_assert_int_eq(p2p_mss_dialer_init(&d, protos, np), 0);
    ck_assert_int_eq(p2p_mss_listener_init(&l, set_supports, set), 0);
    ck_assert_ptr_null(p2p_mss_selected(&d));
    ck_assert_ptr_null(p2p_mss_optimistic(&l));
    if (lstart) ck_assert_int_eq(p2p_mss_start(&l, &l2d), 0);
    ck_assert_int_eq(p2p_mss_start(&d, &d2l), 0);
    bool dsent = false, lsent = false;
    r->drc = r->lrc = P2P_MSS_AGAIN;
    for (int steps = 0; steps < 100000; steps++) {
        if (!dsent && lazy && p2p_mss_optimistic(&d)) {
            put_raw(&d2l, dapp, strlen(dapp));
            dsent = true;
        }
        bool progress = false;
        /* listener reads */
        if (r->lrc == P2P_MSS_AGAIN && d2l.len) {
            size_t n = d2l.len < chunk ? d2l.len : chunk, c = 0;
            r->lrc = p2p_mss_feed(&l, p2p_buf_head(&d2l), n, &c, &l2d);
            ck_assert_uint_le(c, n);
            if (r->lrc == P2P_MSS_AGAIN) ck_assert_uint_eq(c, n);
            p2p_buf_consume(&d2l, c);
            progress = true;
        }
        if (r->lrc == P2P_MSS_DONE && !lsent) {
            put_raw(&l2d, lapp, strlen(lapp));
            lsent = true;
        }
        /* dialer reads */
        if (r->drc == P2P_MSS_AGAIN && l2d.len) {
            size_t n = l2d.len < chunk ? l2d.len : chunk, c = 0;
            r->drc = p2p_mss_feed(&d, p2p_buf_head(&l2d), n, &c, &d2l);
            ck_assert_uint_le(c, n);
            if (r->drc == P2P_MSS_AGAIN) ck_assert_uint_eq(c, n);
            p2p_buf_consume(&l2d, c);
            progress = true;
        }
        if (r->drc == P2P_MSS_DONE && !dsent) {
            put_raw(&d2l, dapp, strlen(dapp));
            dsent = true;
        }
        if (!progress) break;
    }
    /* Whatever is left in each direction is the other side's app data
     * (once the receiver is done). */
    if (r->lrc == P2P_MSS_DONE) put_raw(&r->l_rx_app, p2p_buf_head(&d2l), d2l.len);
    if (r->drc == P2P_MSS_DONE) put_raw(&r->d_rx_app, p2p_buf_head(&l2d), l2d.len);
    snprintf(r->dsel, sizeof r->dsel, "%s", p2p_mss_selected(&d) ? p2p_mss_selected(&d) : "");
    snprintf(r->lsel, sizeof r->lsel, "%s", p2p_mss_selected(&l) ? p2p_mss_selected(&l) : "");
    /* Done is idempotent and consumes nothing more. */
    size_t c = 9;
    if (r->drc == P2P_MSS_DONE) {
        ck_assert_int_eq(p2p_mss_feed(&d, (const uint8_t *)"xyz", 3, &c, &d2l), P2P_MSS_DONE);
        ck_assert_uint_eq(c, 0);
        ck_assert_str_eq(p2p_mss_optimistic(&d), r->dsel);
    }
    if (r->lrc == P2P_MSS_DONE) {
        ck_assert_int_eq(p2p_mss_feed(&l, (const uint8_t *)"xyz", 3, &c, &l2d), P2P_MSS_DONE);
        ck_assert_uint_eq(c, 0);
    }
    p2p_buf_free(&d2l);
    p2p_buf_free(&l2d);
}

static void pair_free(struct pair_result *r)
{
    p2p_buf_free(&r->d_rx_app);
    p2p_buf_free(&r->l_rx_app);
}

static void assert_app(const p2p_buf *b, const char *s)
{
    ck_assert_uint_eq(b->len, strlen(s));
    if (b->len) ck_assert_mem_eq(p2p_buf_head(b), s, b->len);
}

START_TEST(pair_interactive_all_chunk_sizes)
{
    static const char *const P[] = { "/tls/1.0.0", "/quic", "/noise" };
    /* App data that looks like negotiation messages must be left alone. */
    static const char dapp[] = "\x03na\n\x13/multistream/1.0.0\nhello";
    static const char lapp[] = "\x03na\nworld";
    for (size_t chunk = 1; chunk <= 80; chunk++) {
        for (int lstart = 0; lstart < 2; lstart++) {
            struct set set = { LSUP, 0 };
            struct pair_result r;
            run_pair(P, 3, &set, lstart != 0, false, dapp, lapp, chunk, &r);
            ck_assert_int_eq(r.drc, P2P_MSS_DONE);
            ck_assert_int_eq(r.lrc, P2P_MSS_DONE);
            ck_assert_str_eq(r.dsel, "/noise");
            ck_assert_str_eq(r.lsel, "/noise");
            ck_assert_int_eq(set.calls, 3);
            assert_app(&r.l_rx_app, dapp);
            assert_app(&r.d_rx_app, lapp);
            pair_free(&r);
        }
    }
}
END_TEST

START_TEST(pair_lazy_single_protocol)
{
    /* One protocol: the dialer may send data right after its proposal;
     * the listener leaves it unconsumed. */
    static const char *const P[] = { "/yamux/1.0.0" };
    for (size_t chunk = 1; chunk <= 64; chunk++) {
        struct set set = { LSUP, 0 };
        struct pair_result r;
        run_pair(P, 1, &set, false, true, "\x01\x02\x03 early data", "late", chunk, &r);
        ck_assert_int_eq(r.drc, P2P_MSS_DONE);
        ck_assert_int_eq(r.lrc, P2P_MSS_DONE);
        ck_assert_str_eq(r.dsel, "/yamux/1.0.0");
        ck_assert_str_eq(r.lsel, "/yamux/1.0.0");
        assert_app(&r.l_rx_app, "\x01\x02\x03 early data");
        assert_app(&r.d_rx_app, "late");
        pair_free(&r);
    }
}
END_TEST

START_TEST(pair_no_common_protocol)
{
    static const char *const P[] = { "/a/1", "/b/1" };
    for (size_t chunk = 1; chunk <= 40; chunk++) {
        struct set set = { LSUP, 0 };
        struct pair_result r;
        run_pair(P, 2, &set, chunk % 2 != 0, false, "x", "y", chunk, &r);
        ck_assert_int_eq(r.drc, P2P_ENEGOTIATE);
        ck_assert_int_eq(r.lrc, P2P_MSS_AGAIN);
        ck_assert_int_eq(set.calls, 2);
        pair_free(&r);
    }
}
END_TEST

START_TEST(pair_lazy_refused)
{
    /* A lazy dialer whose only protocol is refused: its early data reaches
     * the listener after the "na". The dialer fails with ENEGOTIATE; the
     * listener sees a malformed "message" and fails with ENEGOTIATE too. */
    static const char *const P[] = { "/unknown/1" };
    for (size_t chunk = 1; chunk <= 40; chunk++) {
        struct set set = { LSUP, 0 };
        struct pair_result r;
        run_pair(P, 1, &set, false, true, "\x02xy", "z", chunk, &r);
        ck_assert_int_eq(r.drc, P2P_ENEGOTIATE);
        ck_assert_int_eq(r.lrc, P2P_ENEGOTIATE);
        pair_free(&r);
    }
}
END_TEST

/* ---- listener details ------------------------------------------------------ */

static int listener_feed_msgs(p2p_mss *m, struct set *set, p2p_buf *out, const char *const *msgs,
                              size_t n)
{
    p2p_buf in;
    p2p_buf_init(&in, 0);
    for (size_t i = 0; i < n; i++) put_msg(&in, msgs[i]);
    ck_assert_int_eq(p2p_mss_listener_init(m, set_supports, set), 0);
    size_t end;
    int rc = feed_all(m, p2p_buf_head(&in), in.len, out, &end);
    p2p_buf_free(&in);
    return rc;
}

START_TEST(listener_ls_and_invalid_ids_get_na)
{
    /* "ls", reserved words and unusable ids are answered "na" without
     * asking the match function; then a supported id is selected. */
    static const char *const msgs[] = { HDR, "ls", "na", HDR, "", "/a\nb", "/\xff", "/noise" };
    struct set set = { LSUP, 0 };
    p2p_mss m;
    p2p_buf out, want;
    p2p_buf_init(&out, 0);
    p2p_buf_init(&want, 0);
    ck_assert_int_eq(listener_feed_msgs(&m, &set, &out, msgs, 8), P2P_MSS_DONE);
    ck_assert_int_eq(set.calls, 1);
    ck_assert_str_eq(p2p_mss_selected(&m), "/noise");
    put_msg(&want, HDR);
    for (int i = 0; i < 6; i++) put_msg(&want, "na");
    put_msg(&want, "/noise");
    assert_buf_eq(&out, &want);
    p2p_buf_free(&out);
    p2p_buf_free(&want);
}
END_TEST

START_TEST(listener_embedded_nul)
{
    struct set set = { LSUP, 0 };
    p2p_mss m;
    p2p_buf in, out, want;
    p2p_buf_init(&in, 0);
    p2p_buf_init(&out, 0);
    p2p_buf_init(&want, 0);
    put_msg(&in, HDR);
    ck_assert_int_eq(p2p_mss_msg_encode(&in, "/noise\0x", 8), 0);
    ck_assert_int_eq(p2p_mss_listener_init(&m, set_supports, &set), 0);
    size_t end;
    ck_assert_int_eq(feed_all(&m, p2p_buf_head(&in), in.len, &out, &end), P2P_MSS_AGAIN);
    ck_assert_int_eq(set.calls, 0);
    put_msg(&want, HDR);
    put_msg(&want, "na");
    assert_buf_eq(&out, &want);
    p2p_buf_free(&in);
    p2p_buf_free(&out);
    p2p_buf_free(&want);
}
END_TEST

START_TEST(listener_longest_id)
{
    char id[P2P_MSS_MAX_MSG];
    memset(id, 'q', sizeof id);
    id[0] = '/';
    id[P2P_MSS_MAX_MSG - 1] = '\0';
    p2p_mss m;
    p2p_buf in, out, want;
    p2p_buf_init(&in, 0);
    p2p_buf_init(&out, 0);
    p2p_buf_init(&want, 0);
    put_msg(&in, HDR);
    put_msg(&in, id);
    put_raw(&in, "DATA", 4);
    ck_assert_int_eq(p2p_mss_listener_init(&m, supports_all, NULL), 0);
    size_t end;
    ck_assert_int_eq(feed_bytes(&m, p2p_buf_head(&in), in.len, &out, &end), P2P_MSS_DONE);
    ck_assert_uint_eq(end, in.len - 4);
    ck_assert_str_eq(p2p_mss_selected(&m), id);
    put_msg(&want, HDR);
    put_msg(&want, id);
    assert_buf_eq(&out, &want);

    /* And the dialer side with the same id. */
    const char *P[] = { id };
    p2p_mss d;
    p2p_buf dout;
    p2p_buf_init(&dout, 0);
    ck_assert_int_eq(p2p_mss_dialer_init(&d, P, 1), 0);
    ck_assert_int_eq(p2p_mss_start(&d, &dout), 0);
    assert_buf_eq(&dout, &want);
    ck_assert_int_eq(feed_all(&d, p2p_buf_head(&out), out.len, &dout, &end), P2P_MSS_DONE);
    ck_assert_ptr_eq(p2p_mss_selected(&d), id);
    p2p_buf_free(&dout);
    p2p_buf_free(&in);
    p2p_buf_free(&out);
    p2p_buf_free(&want);
}
END_TEST

START_TEST(listener_proposal_limit)
{
    char ids[P2P_MSS_MAX_PROPOSALS + 1][16];
    const char *msgs[P2P_MSS_MAX_PROPOSALS + 2];
    msgs[0] = HDR;
    for (int i = 0; i <= P2P_MSS_MAX_PROPOSALS; i++) {
        snprintf(ids[i], sizeof ids[i], "/p/%d", i);
        msgs[i + 1] = ids[i];
    }
    /* 32 proposals are answered; the 32nd may still be selected. */
    const char *const sup32[] = { ids[P2P_MSS_MAX_PROPOSALS - 1], NULL };
    struct set set = { sup32, 0 };
    p2p_mss m;
    p2p_buf out;
    p2p_buf_init(&out, 0);
    ck_assert_int_eq(listener_feed_msgs(&m, &set, &out, msgs, P2P_MSS_MAX_PROPOSALS + 1),
                     P2P_MSS_DONE);
    ck_assert_str_eq(p2p_mss_selected(&m), ids[P2P_MSS_MAX_PROPOSALS - 1]);
    p2p_buf_free(&out);

    /* The 33rd is one too many. */
    struct set none = { NULL, 0 };
    p2p_buf_init(&out, 0);
    ck_assert_int_eq(listener_feed_msgs(&m, &none, &out, msgs, P2P_MSS_MAX_PROPOSALS + 2),
                     P2P_ELIMIT);
    ck_assert_int_eq(none.calls, P2P_MSS_MAX_PROPOSALS);
    /* Sticky. */
    size_t c = 5;
    ck_assert_int_eq(p2p_mss_feed(&m, (const uint8_t *)"\x03na\n", 4, &c, &out), P2P_ELIMIT);
    ck_assert_uint_eq(c, 0);
    ck_assert_ptr_null(p2p_mss_selected(&m));
    p2p_buf_free(&out);

    /* "ls" counts too. */
    const char *ls[P2P_MSS_MAX_PROPOSALS + 2];
    ls[0] = HDR;
    for (int i = 1; i < P2P_MSS_MAX_PROPOSALS + 2; i++) ls[i] = "ls";
    p2p_buf_init(&out, 0);
    ck_assert_int_eq(listener_feed_msgs(&m, &none, &out, ls, P2P_MSS_MAX_PROPOSALS + 2),
                     P2P_ELIMIT);
    p2p_buf_free(&out);
}
END_TEST

/* Listener given raw bytes (after a correct header unless noted). */
START_TEST(listener_malformed)
{
    static const struct {
        bool header;  /* prepend a valid header */
        const char *hex;
        int rc;
    } V[] = {
        { false, "132f6d756c746973747265616d2f322e302e300a", P2P_EPROTO }, /* 2.0.0 */
        { false, "072f6e6f6973650a", P2P_EPROTO },       /* proposal first */
        { false, "036e610a", P2P_EPROTO },               /* na first */
        { false, "00", P2P_EPROTO },
        { false, "8000", P2P_EPROTO },
        { false, "8108", P2P_EPROTO },                   /* 1025, early */
        { false, "8080", P2P_EPROTO },
        /* 0x12 announces 18 bytes, the 18th is not '\n'. */
        { false, "122f6d756c746973747265616d2f312e302e30", P2P_EPROTO },
        { true, "00", P2P_EPROTO },
        { true, "0361620b", P2P_EPROTO },                /* no newline */
        { true, "ff7f", P2P_EPROTO },
        { true, "80", P2P_MSS_AGAIN },                   /* incomplete prefix */
        { true, "8008", P2P_MSS_AGAIN },                 /* 1024: waits */
    };
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        p2p_buf in, out;
        p2p_buf_init(&in, 0);
        p2p_buf_init(&out, 0);
        if (V[i].header) put_msg(&in, HDR);
        put_hex(&in, V[i].hex);
        for (int bytewise = 0; bytewise < 2; bytewise++) {
            struct set set = { LSUP, 0 };
            p2p_mss m;
            ck_assert_int_eq(p2p_mss_listener_init(&m, set_supports, &set), 0);
            p2p_buf_reset(&out);
            size_t end;
            int rc = bytewise ? feed_bytes(&m, p2p_buf_head(&in), in.len, &out, &end)
                              : feed_all(&m, p2p_buf_head(&in), in.len, &out, &end);
            int want = V[i].rc;
            ck_assert_msg(rc == want, "vector %zu bytewise %d: %d", i, bytewise, rc);
            ck_assert_int_eq(set.calls, 0);
            if (rc < 0) {
                size_t c = 3;
                ck_assert_int_eq(p2p_mss_feed(&m, (const uint8_t *)"\x01\n", 2, &c, &out), rc);
                ck_assert_uint_eq(c, 0);
            }
        }
        p2p_buf_free(&in);
        p2p_buf_free(&out);
    }
}
END_TEST

START_TEST(listener_garbage_after_na)
{
    /* Malformed after "na" is a failed negotiation, not a violation;
     * a well-formed message after "na" is another proposal. */
    struct set set = { LSUP, 0 };
    p2p_mss m;
    p2p_buf in, out;
    p2p_buf_init(&in, 0);
    p2p_buf_init(&out, 0);
    put_msg(&in, HDR);
    put_msg(&in, "/x");
    put_hex(&in, "0000");
    size_t end;
    ck_assert_int_eq(p2p_mss_listener_init(&m, set_supports, &set), 0);
    ck_assert_int_eq(feed_all(&m, p2p_buf_head(&in), in.len, &out, &end), P2P_ENEGOTIATE);
    ck_assert_uint_eq(end, in.len - 1);
    p2p_buf_free(&in);
    p2p_buf_free(&out);
}
END_TEST

START_TEST(listener_out_limit)
{
    /* The answer does not fit the caller's output buffer. */
    struct set set = { LSUP, 0 };
    p2p_mss m;
    p2p_buf in, out;
    p2p_buf_init(&in, 0);
    p2p_buf_init(&out, 8);
    put_msg(&in, HDR);
    ck_assert_int_eq(p2p_mss_listener_init(&m, set_supports, &set), 0);
    ck_assert_int_eq(p2p_mss_start(&m, &out), P2P_ELIMIT);
    ck_assert_uint_eq(out.len, 0);
    size_t end;
    ck_assert_int_eq(feed_all(&m, p2p_buf_head(&in), in.len, &out, &end), P2P_ELIMIT);
    ck_assert_uint_eq(out.len, 0);
    p2p_buf_free(&in);
    p2p_buf_free(&out);
}
END_TEST

START_TEST(listener_start_rules)
{
    struct set set = { LSUP, 0 };
    p2p_mss m;
    p2p_buf out, in;
    p2p_buf_init(&out, 0);
    p2p_buf_init(&in, 0);
    ck_assert_int_eq(p2p_mss_listener_init(&m, set_supports, &set), 0);
    ck_assert_int_eq(p2p_mss_start(&m, &out), 0);
    ck_assert_int_eq(p2p_mss_start(&m, &out), P2P_ESTATE);
    /* Without start, the header goes out when the dialer's arrives; then
     * start is too late. */
    ck_assert_int_eq(p2p_mss_listener_init(&m, set_supports, &set), 0);
    put_msg(&in, HDR);
    size_t end;
    p2p_buf_reset(&out);
    ck_assert_int_eq(feed_all(&m, p2p_buf_head(&in), in.len, &out, &end), P2P_MSS_AGAIN);
    ck_assert_uint_eq(out.len, 20);
    ck_assert_int_eq(p2p_mss_start(&m, &out), P2P_ESTATE);
    ck_assert_int_eq(p2p_mss_listener_init(&m, NULL, NULL), P2P_EINVAL);
    ck_assert_int_eq(p2p_mss_feed(&m, NULL, 0, &end, &out), P2P_EINVAL);
    ck_assert_int_eq(p2p_mss_listener_init(NULL, set_supports, NULL), P2P_EINVAL);
    p2p_buf_free(&out);
    p2p_buf_free(&in);
}
END_TEST

/* ---- dialer details -------------------------------------------------------- */

START_TEST(dialer_init_rules)
{
    static const char *const one[] = { "/noise" };
    const char *many[P2P_MSS_MAX_PROPOSALS + 1];
    for (int i = 0; i <= P2P_MSS_MAX_PROPOSALS; i++) many[i] = "/p";
    p2p_mss m;
    ck_assert_int_eq(p2p_mss_dialer_init(&m, many, P2P_MSS_MAX_PROPOSALS), 0);
    ck_assert_int_eq(p2p_mss_dialer_init(&m, many, P2P_MSS_MAX_PROPOSALS + 1), P2P_ELIMIT);
    ck_assert_int_eq(p2p_mss_dialer_init(&m, one, 0), P2P_EINVAL);
    ck_assert_int_eq(p2p_mss_dialer_init(&m, NULL, 1), P2P_EINVAL);
    ck_assert_int_eq(p2p_mss_dialer_init(NULL, one, 1), P2P_EINVAL);
    static const char *const bad1[] = { "/ok", "na" };
    static const char *const bad2[] = { "/a\n" };
    static const char *const bad3[] = { "" };
    static const char *const bad4[] = { "/ok", NULL };
    ck_assert_int_eq(p2p_mss_dialer_init(&m, bad1, 2), P2P_EINVAL);
    ck_assert_int_eq(p2p_mss_dialer_init(&m, bad2, 1), P2P_EINVAL);
    ck_assert_int_eq(p2p_mss_dialer_init(&m, bad3, 1), P2P_EINVAL);
    ck_assert_int_eq(p2p_mss_dialer_init(&m, bad4, 2), P2P_EINVAL);
    /* A failed init leaves a machine that refuses to work. */
    p2p_buf out;
    p2p_buf_init(&out, 0);
    size_t c;
    ck_assert_int_eq(p2p_mss_start(&m, &out), P2P_ESTATE);
    ck_assert_int_eq(p2p_mss_feed(&m, (const uint8_t *)"x", 1, &c, &out), P2P_EINVAL);
    ck_assert_uint_eq(out.len, 0);

    /* Feed before start; start twice. */
    ck_assert_int_eq(p2p_mss_dialer_init(&m, one, 1), 0);
    ck_assert_int_eq(p2p_mss_feed(&m, (const uint8_t *)"x", 1, &c, &out), P2P_ESTATE);
    ck_assert_int_eq(p2p_mss_start(&m, &out), 0);
    ck_assert_int_eq(p2p_mss_start(&m, &out), P2P_ESTATE);
    p2p_buf_free(&out);
}
END_TEST

START_TEST(dialer_start_bytes)
{
    /* Header and proposal in one write: 13 "/multistream/1.0.0\n" 07
     * "/noise\n". */
    static const char *const P[] = { "/noise", "/tls/1.0.0" };
    p2p_mss m;
    p2p_buf out, want;
    p2p_buf_init(&out, 0);
    p2p_buf_init(&want, 0);
    put_hex(&want, "132f6d756c746973747265616d2f312e302e300a072f6e6f6973650a");
    ck_assert_int_eq(p2p_mss_dialer_init(&m, P, 2), 0);
    ck_assert_ptr_null(p2p_mss_optimistic(&m));
    ck_assert_int_eq(p2p_mss_start(&m, &out), 0);
    assert_buf_eq(&out, &want);
    ck_assert_ptr_null(p2p_mss_optimistic(&m)); /* a fallback remains */

    /* All or nothing into a too-small buffer. */
    p2p_buf small;
    p2p_buf_init(&small, 25);
    ck_assert_int_eq(p2p_mss_dialer_init(&m, P, 2), 0);
    ck_assert_int_eq(p2p_mss_start(&m, &small), P2P_ELIMIT);
    ck_assert_uint_eq(small.len, 0);
    p2p_buf_free(&small);

    /* optimistic: once the last proposal is out. */
    size_t end;
    p2p_buf in;
    p2p_buf_init(&in, 0);
    put_msg(&in, HDR);
    put_msg(&in, "na");
    ck_assert_int_eq(p2p_mss_dialer_init(&m, P, 2), 0);
    p2p_buf_reset(&out);
    ck_assert_int_eq(p2p_mss_start(&m, &out), 0);
    ck_assert_int_eq(feed_all(&m, p2p_buf_head(&in), in.len, &out, &end), P2P_MSS_AGAIN);
    ck_assert_ptr_eq(p2p_mss_optimistic(&m), P[1]);
    ck_assert_ptr_null(p2p_mss_selected(&m));
    p2p_buf_free(&in);
    p2p_buf_free(&out);
    p2p_buf_free(&want);
}
END_TEST

START_TEST(dialer_bad_responses)
{
    static const char *const P[] = { "/noise", "/tls/1.0.0" };
    static const struct {
        const char *msgs[3];
        int rc;
    } V[] = {
        { { "/multistream/2.0.0", NULL }, P2P_EPROTO },
        { { "/noise", NULL }, P2P_EPROTO },            /* no header */
        { { HDR, HDR, NULL }, P2P_EPROTO },            /* header twice */
        { { HDR, "/tls/1.0.0", NULL }, P2P_EPROTO },   /* echo of the wrong one */
        { { HDR, "/noise/", NULL }, P2P_EPROTO },
        { { HDR, "/nois", NULL }, P2P_EPROTO },
        { { HDR, "ls", NULL }, P2P_EPROTO },
        { { HDR, "na", "/noise" }, P2P_EPROTO },       /* echo of an old one */
        { { HDR, "na", "na" }, P2P_ENEGOTIATE },
        { { HDR, "", NULL }, P2P_EPROTO },
    };
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        p2p_buf in, out;
        p2p_buf_init(&in, 0);
        p2p_buf_init(&out, 0);
        for (int k = 0; k < 3 && V[i].msgs[k]; k++) put_msg(&in, V[i].msgs[k]);
        p2p_mss m;
        ck_assert_int_eq(p2p_mss_dialer_init(&m, P, 2), 0);
        ck_assert_int_eq(p2p_mss_start(&m, &out), 0);
        size_t end;
        int rc = feed_bytes(&m, p2p_buf_head(&in), in.len, &out, &end);
        ck_assert_msg(rc == V[i].rc, "vector %zu: %d", i, rc);
        ck_assert_uint_eq(end, in.len);
        ck_assert_ptr_null(p2p_mss_selected(&m));
        ck_assert_ptr_null(p2p_mss_optimistic(&m));
        size_t c = 1;
        ck_assert_int_eq(p2p_mss_feed(&m, p2p_buf_head(&in), in.len, &c, &out), rc);
        ck_assert_uint_eq(c, 0);
        p2p_buf_free(&in);
        p2p_buf_free(&out);
    }
}
END_TEST

START_TEST(dialer_malformed)
{
    static const char *const P[] = { "/noise" };
    static const char *const V[] = { "00", "8000", "8108", "8080", "0361620b" };
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        for (int hdr = 0; hdr < 2; hdr++) {
            p2p_buf in, out;
            p2p_buf_init(&in, 0);
            p2p_buf_init(&out, 0);
            if (hdr) put_msg(&in, HDR);
            put_hex(&in, V[i]);
            p2p_mss m;
            ck_assert_int_eq(p2p_mss_dialer_init(&m, P, 1), 0);
            ck_assert_int_eq(p2p_mss_start(&m, &out), 0);
            size_t end;
            ck_assert_int_eq(feed_all(&m, p2p_buf_head(&in), in.len, &out, &end), P2P_EPROTO);
            p2p_buf_free(&in);
            p2p_buf_free(&out);
        }
    }
}
END_TEST

START_TEST(dialer_out_limit_on_na)
{
    /* The next proposal does not fit the caller's buffer: error, and the
     * buffer holds nothing half-written. */
    static const char *const P[] = { "/a", "/a-much-longer-protocol-name/1.0.0" };
    p2p_mss m;
    p2p_buf out, in;
    p2p_buf_init(&out, 30);
    p2p_buf_init(&in, 0);
    put_msg(&in, HDR);
    put_msg(&in, "na");
    ck_assert_int_eq(p2p_mss_dialer_init(&m, P, 2), 0);
    ck_assert_int_eq(p2p_mss_start(&m, &out), 0);
    size_t before = out.len, end;
    ck_assert_int_eq(feed_all(&m, p2p_buf_head(&in), in.len, &out, &end), P2P_ELIMIT);
    ck_assert_uint_eq(out.len, before);
    p2p_buf_free(&out);
    p2p_buf_free(&in);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("multistream");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, codec_vectors);
    tcase_add_test(tc, codec_long);
    tcase_add_test(tc, codec_malformed);
    tcase_add_test(tc, codec_round_trip);
    tcase_add_test(tc, protocol_ids);
    suite_add_tcase(s, tc);

    tc = tcase_create("splits");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, listener_na_then_select_every_split);
    tcase_add_test(tc, dialer_na_then_select_every_split);
    tcase_add_test(tc, dialer_first_choice_every_split);
    tcase_add_test(tc, dialer_no_common_protocol);
    tcase_add_test(tc, listener_no_common_protocol);
    suite_add_tcase(s, tc);

    tc = tcase_create("pair");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pair_interactive_all_chunk_sizes);
    tcase_add_test(tc, pair_lazy_single_protocol);
    tcase_add_test(tc, pair_no_common_protocol);
    tcase_add_test(tc, pair_lazy_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("listener");
    tcase_add_test(tc, listener_ls_and_invalid_ids_get_na);
    tcase_add_test(tc, listener_embedded_nul);
    tcase_add_test(tc, listener_longest_id);
    tcase_add_test(tc, listener_proposal_limit);
    tcase_add_test(tc, listener_malformed);
    tcase_add_test(tc, listener_garbage_after_na);
    tcase_add_test(tc, listener_out_limit);
    tcase_add_test(tc, listener_start_rules);
    suite_add_tcase(s, tc);

    tc = tcase_create("dialer");
    tcase_add_test(tc, dialer_init_rules);
    tcase_add_test(tc, dialer_start_bytes);
    tcase_add_test(tc, dialer_bad_responses);
    tcase_add_test(tc, dialer_malformed);
    tcase_add_test(tc, dialer_out_limit_on_na);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
