/* fuzz_multistream.c - multistream-select message codec and state machines.
 *
 * Input: one control byte, then a byte stream. The control byte picks a
 * chunk size (low 4 bits, 0 = everything at once) and whether the listener
 * sends its header up front (bit 4).
 *
 * Checked, besides memory safety:
 *  - codec: whatever decodes re-encodes to exactly the bytes it used (the
 *    length prefix is canonical), and every proper prefix is P2P_ETRUNC;
 *  - feed contract: consumed <= len, all input consumed on P2P_MSS_AGAIN,
 *    only documented results, errors and DONE are sticky;
 *  - split independence: the stream fed at once, in chunks and byte by
 *    byte gives the same result, stop offset and output bytes;
 *  - output: a sequence of well-formed messages; the listener's is its
 *    header, then "na"s, then at most one echo equal to the selection;
 *    the dialer's is the header and its proposals in order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/buf.h"
#include "p2p/error.h"
#include "p2p/multistream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const PROTOS[] = { "/tls/1.0.0", "/noise", "/yamux/1.0.0", "/a" };
#define NPROTOS (sizeof PROTOS / sizeof PROTOS[0])

static bool supports(void *arg, const char *id)
{
    (void)arg;
    if (!p2p_mss_protocol_valid(id)) abort();
    size_t n = strlen(id);
    return strcmp(id, "/noise") == 0 || (n > 2 && n % 5 == 0);
}

static void check_codec(const uint8_t *data, size_t size)
{
    const uint8_t *t = NULL;
    size_t tl = 0, used = 0;
    int rc = p2p_mss_msg_decode(data, size, &t, &tl, &used);
    if (rc == P2P_ETRUNC || rc == P2P_EPROTO) return;
    if (rc != 0) abort();
    if (used > size || tl + 1 > P2P_MSS_MAX_MSG || t < data || t + tl + 1 != data + used)
        abort();
    p2p_buf b;
    p2p_buf_init(&b, 0);
    if (p2p_mss_msg_encode(&b, (const char *)t, tl) != 0) abort();
    if (b.len != used || memcmp(p2p_buf_head(&b), data, used) != 0) abort();
    p2p_buf_free(&b);
    for (size_t k = 0; k < used; k++)
        if (p2p_mss_msg_decode(data, k, NULL, NULL, NULL) != P2P_ETRUNC) abort();
}

struct run {
    int rc;
    size_t end;
    p2p_buf out;
    const char *sel;            /* copy in selbuf, or NULL */
    const char *sel_ptr;        /* dialer: the pointer returned */
    char selbuf[P2P_MSS_MAX_MSG];
};

static bool result_ok(int rc)
{
    switch (rc) {
    case P2P_MSS_AGAIN: case P2P_MSS_DONE: case P2P_EPROTO:
    case P2P_ENEGOTIATE: case P2P_ELIMIT:
        return true;
    default:
        return false;
    }
}

/* Feed s[0..n) in chunks of `chunk` bytes (0 = all at once). */
static void run_side(bool dialer, bool lstart, const uint8_t *s, size_t n, size_t chunk,
                     struct run *r)
{
    p2p_mss m;
    p2p_buf_init(&r->out, 0);
    if (dialer) {
        if (p2p_mss_dialer_init(&m, PROTOS, NPROTOS) != 0) abort();
        if (p2p_mss_start(&m, &r->out) != 0) abort();
    } else {
        if (p2p_mss_listener_init(&m, supports, NULL) != 0) abort();
        if (lstart && p2p_mss_start(&m, &r->out) != 0) abort();
    }
    size_t pos = 0;
    r->rc = P2P_MSS_AGAIN;
    do {
        size_t len = chunk && n - pos > chunk ? chunk : n - pos;
        size_t c = (size_t)-1;
        r->rc = p2p_mss_feed(&m, s + pos, len, &c, &r->out);
        if (c > len || !result_ok(r->rc)) abort();
        if (r->rc == P2P_MSS_AGAIN && c != len) abort();
        pos += c;
    } while (r->rc == P2P_MSS_AGAIN && pos < n);
    r->end = pos;
    /* The listener's selection lives in m: copy it out. */
    r->sel_ptr = p2p_mss_selected(&m);
    r->sel = NULL;
    if ((r->rc == P2P_MSS_DONE) != (r->sel_ptr != NULL)) abort();
    if (r->sel_ptr) {
        if (!p2p_mss_protocol_valid(r->sel_ptr)) abort();
        memcpy(r->selbuf, r->sel_ptr, strlen(r->sel_ptr) + 1);
        r->sel = r->selbuf;
    }
    if (r->rc != P2P_MSS_AGAIN) {
        /* Sticky, and nothing more is consumed or written. */
        size_t c = 1, before = r->out.len;
        if (p2p_mss_feed(&m, s, n, &c, &r->out) != r->rc || c != 0) abort();
        if (r->out.len != before) abort();
    }
    if (dialer) {
        const char *o = p2p_mss_optimistic(&m);
        if (r->rc == P2P_MSS_DONE && o != r->sel_ptr) abort();
        if (r->rc < 0 && o) abort();
    }
}

/* Split the output into messages and check its shape. */
static void check_out(bool dialer, const struct run *r)
{
    const uint8_t *p = p2p_buf_head(&r->out);
    size_t left = r->out.len, i = 0;
    bool echoed = false;
    while (left) {
        const uint8_t *t;
        size_t tl, used;
        if (p2p_mss_msg_decode(p, left, &t, &tl, &used) != 0) abort();
        const char *want = NULL;
        if (i == 0) {
            want = P2P_MSS_PROTOCOL_ID;
        } else if (dialer) {
            if (i - 1 >= NPROTOS) abort();
            want = PROTOS[i - 1];
        } else if (echoed) {
            abort(); /* nothing after the echo */
        } else if (tl == 2 && memcmp(t, "na", 2) == 0) {
            want = "na";
        } else {
            if (!r->sel) abort();
            want = r->sel;
            echoed = true;
        }
        if (tl != strlen(want) || memcmp(t, want, tl) != 0) abort();
        p += used;
        left -= used;
        i++;
    }
    if (!dialer && r->rc == P2P_MSS_DONE && !echoed) abort();
    if (!dialer && i > P2P_MSS_MAX_PROPOSALS + 1) abort();
}

static void check_side(bool dialer, bool lstart, const uint8_t *s, size_t n, size_t chunk)
{
    static struct run a, b, c; /* large; the fuzzer is single-threaded */
    run_side(dialer, lstart, s, n, 0, &a);
    run_side(dialer, lstart, s, n, 1, &b);
    run_side(dialer, lstart, s, n, chunk, &c);
    check_out(dialer, &a);
    const struct run *o[2] = { &b, &c };
    for (int k = 0; k < 2; k++) {
        if (o[k]->rc != a.rc || o[k]->end != a.end || o[k]->out.len != a.out.len) abort();
        if (a.out.len && memcmp(p2p_buf_head(&o[k]->out), p2p_buf_head(&a.out), a.out.len))
            abort();
        if ((a.sel == NULL) != (o[k]->sel == NULL)) abort();
        if (a.sel && strcmp(a.sel, o[k]->sel) != 0) abort();
        if (dialer && a.sel_ptr != o[k]->sel_ptr) abort();
    }
    p2p_buf_free(&a.out);
    p2p_buf_free(&b.out);
    p2p_buf_free(&c.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_codec(data, size);
    if (size < 1) return 0;
    uint8_t ctl = data[0];
    const uint8_t *s = data + 1;
    size_t n = size - 1;
    size_t chunk = ctl & 0x0f;
    check_codec(s, n);
    check_side(false, (ctl & 0x10) != 0, s, n, chunk);
    check_side(true, false, s, n, chunk);
    return 0;
}
