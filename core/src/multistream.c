/* multistream.c - multistream-select 1.0 negotiation (see p2p/multistream.h).
 *
 * Behavioural notes, checked against go-multistream and rust-libp2p's
 * multistream-select crate:
 *  - Length limit: go-multistream rejects length prefixes over 1024,
 *    rust-libp2p accepts two-byte prefixes (up to 16383). We use 1024, the
 *    stricter of the two, which every real protocol id fits in. A prefix
 *    whose first two bytes both carry the continuation bit already exceeds
 *    it, so an overlong prefix is rejected after two bytes.
 *  - "ls": current go-multistream no longer implements it (it is answered
 *    like any unknown protocol, with "na"); rust-libp2p answers with a list
 *    whose framing differs from the old go one. We answer "na": it is what
 *    a dialer must handle anyway and it discloses nothing.
 *  - Unknown or unsupported proposals are answered with "na" and the
 *    listener waits for the next one (both implementations). Messages that
 *    are not usable protocol ids (invalid UTF-8, NUL or '\n' inside, the
 *    reserved words) are answered "na" too, without asking the match
 *    function; go does the same, rust treats some of them as errors.
 *  - The dialer sends header and first proposal in one write (both).
 *  - The dialer requires the listener's header first and then exactly the
 *    echo of its outstanding proposal or "na"; anything else is a protocol
 *    error (go: "unrecognized response"; rust also tolerates a repeated
 *    header, which no listener sends).
 *  - A listener that reads garbage right after sending "na" reports a
 *    failed negotiation rather than a protocol violation (rust does this
 *    for lazy dialers that already sent application data). */
#include <string.h>

#include "p2p/error.h"
#include "p2p/multistream.h"
#include "p2p/varint.h"

enum { ROLE_DIALER = 1, ROLE_LISTENER = 2 };

enum {
    ST_INIT = 0,     /* dialer before p2p_mss_start() */
    ST_HEADER,       /* waiting for the remote's header */
    ST_NEGOTIATE,    /* header seen: proposals / answers */
    ST_DONE,
    ST_FAILED
};

#define HDR P2P_MSS_PROTOCOL_ID
#define HDR_LEN (sizeof(HDR) - 1)

/* ---- codec -------------------------------------------------------------- */

P2P_API int p2p_mss_msg_encode(p2p_buf *out, const char *text, size_t len)
{
    if (!out || (!text && len)) return P2P_EINVAL;
    if (len > P2P_MSS_MAX_MSG - 1) return P2P_ERANGE;
    uint8_t pre[P2P_VARINT_MAX_BYTES];
    int n = p2p_varint_encode((uint64_t)len + 1, pre);
    if (n < 0) return n;
    /* Reserve everything first so that a failure leaves out unchanged. */
    int rc = p2p_buf_reserve(out, (size_t)n + len + 1);
    if (rc) return rc;
    uint8_t *t = p2p_buf_tail(out);
    memcpy(t, pre, (size_t)n);
    if (len) memcpy(t + n, text, len);
    t[(size_t)n + len] = '\n';
    p2p_buf_commit(out, (size_t)n + len + 1);
    return 0;
}

P2P_API int p2p_mss_msg_decode(const uint8_t *in, size_t len, const uint8_t **text,
                               size_t *text_len, size_t *used)
{
    if (!in && len) return P2P_EINVAL;
    uint64_t n = 0;
    size_t vlen = 0;
    int rc = p2p_varint_decode(in, len, &n, &vlen);
    if (rc == P2P_ETRUNC) {
        /* P2P_MSS_LEN_BYTES bytes that all continue mean a length of at
         * least 2^(7 * P2P_MSS_LEN_BYTES), over the limit already. */
        return len >= P2P_MSS_LEN_BYTES ? P2P_EPROTO : P2P_ETRUNC;
    }
    if (rc < 0) return P2P_EPROTO;
    if (n == 0 || n > P2P_MSS_MAX_MSG) return P2P_EPROTO;
    if (len - vlen < n) return P2P_ETRUNC;
    if (in[vlen + n - 1] != '\n') return P2P_EPROTO;
    if (text) *text = in + vlen;
    if (text_len) *text_len = (size_t)n - 1;
    if (used) *used = vlen + (size_t)n;
    return 0;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            k = 1; cp = c & 0x1f; min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2; cp = c & 0x0f; min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return false;
        }
        if (n - i <= k) return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += k + 1;
    }
    return true;
}

static bool text_is(const uint8_t *t, size_t n, const char *lit, size_t litlen)
{
    return n == litlen && memcmp(t, lit, n) == 0;
}

static bool id_valid(const uint8_t *t, size_t n)
{
    if (n == 0 || n > P2P_MSS_MAX_MSG - 1) return false;
    if (memchr(t, '\n', n) || memchr(t, '\0', n)) return false;
    if (text_is(t, n, "na", 2) || text_is(t, n, "ls", 2) || text_is(t, n, HDR, HDR_LEN))
        return false;
    return utf8_valid(t, n);
}

P2P_API bool p2p_mss_protocol_valid(const char *id)
{
    if (!id) return false;
    /* Never scan further than one byte past the longest valid id. */
    size_t n = strnlen(id, P2P_MSS_MAX_MSG);
    return id_valid((const uint8_t *)id, n);
}

/* ---- state machine ------------------------------------------------------ */

P2P_API int p2p_mss_dialer_init(p2p_mss *m, const char *const *protocols, size_t n)
{
    if (!m) return P2P_EINVAL;
    memset(m, 0, offsetof(p2p_mss, rbuf_));
    m->state_ = ST_FAILED;
    m->err_ = P2P_EINVAL;
    if (!protocols || n == 0) return P2P_EINVAL;
    if (n > P2P_MSS_MAX_PROPOSALS) {
        m->err_ = P2P_ELIMIT;
        return P2P_ELIMIT;
    }
    for (size_t i = 0; i < n; i++)
        if (!p2p_mss_protocol_valid(protocols[i])) return P2P_EINVAL;
    m->role_ = ROLE_DIALER;
    m->state_ = ST_INIT;
    m->err_ = 0;
    m->protos_ = protocols;
    m->nprotos_ = n;
    return 0;
}

P2P_API int p2p_mss_listener_init(p2p_mss *m, p2p_mss_supports_fn supports, void *arg)
{
    if (!m) return P2P_EINVAL;
    memset(m, 0, offsetof(p2p_mss, rbuf_));
    if (!supports) {
        m->state_ = ST_FAILED;
        m->err_ = P2P_EINVAL;
        return P2P_EINVAL;
    }
    m->role_ = ROLE_LISTENER;
    m->state_ = ST_HEADER;
    m->supports_ = supports;
    m->arg_ = arg;
    return 0;
}

static int send_id(p2p_buf *out, const char *id)
{
    return p2p_mss_msg_encode(out, id, strlen(id));
}

P2P_API int p2p_mss_start(p2p_mss *m, p2p_buf *out)
{
    if (!m || !out) return P2P_EINVAL;
    if (m->role_ == ROLE_DIALER && m->state_ == ST_INIT) {
        /* Header and first proposal in one write; all or nothing. */
        const char *p = m->protos_[0];
        size_t plen = strlen(p);
        int rc = p2p_buf_reserve(out, 1 + HDR_LEN + 1 + P2P_MSS_LEN_BYTES + plen + 1);
        if (rc) return rc;
        if (p2p_mss_msg_encode(out, HDR, HDR_LEN) || p2p_mss_msg_encode(out, p, plen))
            return P2P_ENOMEM; /* unreachable: space was reserved */
        m->header_sent_ = true;
        m->state_ = ST_HEADER;
        return 0;
    }
    if (m->role_ == ROLE_LISTENER && m->state_ == ST_HEADER && !m->header_sent_) {
        int rc = p2p_mss_msg_encode(out, HDR, HDR_LEN);
        if (rc) return rc;
        m->header_sent_ = true;
        return 0;
    }
    return P2P_ESTATE;
}

/* Move bytes of the next message from in[*pos..len) into rbuf, never past
 * its end. Returns 1 when rbuf holds a whole message, 0 when the input ran
 * out first, P2P_EPROTO for a bad length prefix. */
static int read_msg(p2p_mss *m, const uint8_t *in, size_t len, size_t *pos)
{
    while (*pos < len) {
        if (m->want_ == 0) {
            /* Length prefix: one byte at a time (at most two). */
            m->rbuf_[m->rlen_++] = in[(*pos)++];
            uint64_t n = 0;
            size_t vlen = 0;
            int rc = p2p_varint_decode(m->rbuf_, m->rlen_, &n, &vlen);
            if (rc == P2P_ETRUNC) {
                if (m->rlen_ >= P2P_MSS_LEN_BYTES) return P2P_EPROTO;
                continue;
            }
            if (rc < 0 || n == 0 || n > P2P_MSS_MAX_MSG) return P2P_EPROTO;
            m->want_ = vlen + (size_t)n;
        } else {
            size_t take = m->want_ - m->rlen_;
            if (take > len - *pos) take = len - *pos;
            memcpy(m->rbuf_ + m->rlen_, in + *pos, take);
            m->rlen_ += take;
            *pos += take;
        }
        if (m->want_ && m->rlen_ == m->want_) return 1;
    }
    return 0;
}

static int listener_msg(p2p_mss *m, uint8_t *t, size_t n, p2p_buf *out)
{
    int rc;
    if (m->state_ == ST_HEADER) {
        if (!text_is(t, n, HDR, HDR_LEN)) return P2P_EPROTO;
        if (!m->header_sent_) {
            rc = p2p_mss_msg_encode(out, HDR, HDR_LEN);
            if (rc) return rc;
            m->header_sent_ = true;
        }
        m->state_ = ST_NEGOTIATE;
        return P2P_MSS_AGAIN;
    }
    if (++m->nmsgs_ > P2P_MSS_MAX_PROPOSALS) return P2P_ELIMIT;
    if (id_valid(t, n)) {
        t[n] = '\0'; /* was the '\n': the id becomes a C string in rbuf */
        if (m->supports_(m->arg_, (const char *)t)) {
            rc = p2p_mss_msg_encode(out, (const char *)t, n);
            if (rc) return rc;
            m->selected_ = (const char *)t;
            m->last_na_ = false;
            return P2P_MSS_DONE;
        }
    }
    /* Unsupported, not a usable id, or "ls". */
    rc = p2p_mss_msg_encode(out, "na", 2);
    if (rc) return rc;
    m->last_na_ = true;
    return P2P_MSS_AGAIN;
}

static int dialer_msg(p2p_mss *m, const uint8_t *t, size_t n, p2p_buf *out)
{
    if (m->state_ == ST_HEADER) {
        if (!text_is(t, n, HDR, HDR_LEN)) return P2P_EPROTO;
        m->state_ = ST_NEGOTIATE;
        return P2P_MSS_AGAIN;
    }
    const char *p = m->protos_[m->cur_];
    if (text_is(t, n, p, strlen(p))) {
        m->selected_ = p;
        return P2P_MSS_DONE;
    }
    if (!text_is(t, n, "na", 2)) return P2P_EPROTO;
    if (m->cur_ + 1 >= m->nprotos_) return P2P_ENEGOTIATE;
    int rc = send_id(out, m->protos_[m->cur_ + 1]);
    if (rc) return rc;
    m->cur_++;
    return P2P_MSS_AGAIN;
}

P2P_API int p2p_mss_feed(p2p_mss *m, const uint8_t *in, size_t len, size_t *consumed,
                         p2p_buf *out)
{
    if (consumed) *consumed = 0;
    if (!m || !consumed || !out || (!in && len)) return P2P_EINVAL;
    if (m->state_ == ST_FAILED) return m->err_ ? m->err_ : P2P_ESTATE;
    if (m->state_ == ST_DONE) return P2P_MSS_DONE;
    if (m->state_ == ST_INIT) return P2P_ESTATE;

    size_t pos = 0;
    int rc = P2P_MSS_AGAIN;
    while (pos < len) {
        rc = read_msg(m, in, len, &pos);
        if (rc == 0) break;
        if (rc > 0) {
            const uint8_t *t = NULL;
            size_t n = 0;
            rc = p2p_mss_msg_decode(m->rbuf_, m->rlen_, &t, &n, NULL);
            m->rlen_ = 0;
            m->want_ = 0;
            if (rc == 0) {
                /* t points into rbuf_; the listener may rewrite it. */
                uint8_t *mt = m->rbuf_ + (t - m->rbuf_);
                rc = m->role_ == ROLE_LISTENER ? listener_msg(m, mt, n, out)
                                               : dialer_msg(m, t, n, out);
            }
        }
        if (rc == P2P_EPROTO && m->role_ == ROLE_LISTENER && m->last_na_)
            rc = P2P_ENEGOTIATE;
        if (rc < 0) {
            m->state_ = ST_FAILED;
            m->err_ = rc;
            *consumed = pos;
            return rc;
        }
        if (rc == P2P_MSS_DONE) {
            m->state_ = ST_DONE;
            *consumed = pos;
            return P2P_MSS_DONE;
        }
    }
    *consumed = pos;
    return P2P_MSS_AGAIN;
}

P2P_API const char *p2p_mss_selected(const p2p_mss *m)
{
    return m && m->state_ == ST_DONE ? m->selected_ : NULL;
}

P2P_API const char *p2p_mss_optimistic(const p2p_mss *m)
{
    if (!m || m->role_ != ROLE_DIALER) return NULL;
    if (m->state_ == ST_DONE) return m->selected_;
    if ((m->state_ == ST_HEADER || m->state_ == ST_NEGOTIATE) && m->cur_ + 1 == m->nprotos_)
        return m->protos_[m->cur_];
    return NULL;
}
