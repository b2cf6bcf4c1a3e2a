/* buf.c - growable byte buffer with a hard limit (see p2p/buf.h). */
#include <stdlib.h>
#include <string.h>

#include "p2p/buf.h"
#include "p2p/error.h"
#include "p2p/varint.h"

P2P_API void p2p_buf_init(p2p_buf *b, size_t limit)
{
    memset(b, 0, sizeof *b);
    b->limit = limit;
}

P2P_API void p2p_buf_free(p2p_buf *b)
{
    free(b->data);
    size_t limit = b->limit;
    p2p_buf_init(b, limit);
}

P2P_API void p2p_buf_reset(p2p_buf *b)
{
    b->off = 0;
    b->len = 0;
}

P2P_API int p2p_buf_reserve(p2p_buf *b, size_t n)
{
    if (b->limit && (n > b->limit || b->len > b->limit - n)) return P2P_ELIMIT;
    if (b->off + b->len + n <= b->cap) return 0;
    /* Reclaim consumed space first when that is enough and cheap. */
    if (b->len + n <= b->cap && b->off >= b->cap / 2) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
        return 0;
    }
    if (b->off) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
    }
    size_t need = b->len + n;
    if (need < n) return P2P_ENOMEM;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) { cap = need; break; }
        cap *= 2;
    }
    if (b->limit && cap > b->limit) cap = b->limit > need ? b->limit : need;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return P2P_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

P2P_API void p2p_buf_trim(p2p_buf *b, size_t keep)
{
    if (b->len || b->cap <= keep) return;
    if (!keep) {
        p2p_buf_free(b);
        return;
    }
    uint8_t *p = realloc(b->data, keep);
    if (!p) return;   /* keeping the larger block is harmless */
    b->data = p;
    b->cap = keep;
    b->off = 0;
}

P2P_API int p2p_buf_append(p2p_buf *b, const void *p, size_t n)
{
    if (!n) return 0;
    int rc = p2p_buf_reserve(b, n);
    if (rc) return rc;
    memcpy(b->data + b->off + b->len, p, n);
    b->len += n;
    return 0;
}

P2P_API int p2p_buf_append_byte(p2p_buf *b, uint8_t c)
{
    return p2p_buf_append(b, &c, 1);
}

P2P_API int p2p_buf_append_varint(p2p_buf *b, uint64_t v)
{
    uint8_t tmp[P2P_VARINT_MAX_BYTES];
    int n = p2p_varint_encode(v, tmp);
    if (n < 0) return n;
    return p2p_buf_append(b, tmp, (size_t)n);
}

P2P_API uint8_t *p2p_buf_tail(p2p_buf *b)
{
    return b->data ? b->data + b->off + b->len : NULL;
}

P2P_API void p2p_buf_commit(p2p_buf *b, size_t n)
{
    b->len += n;
}

P2P_API void p2p_buf_consume(p2p_buf *b, size_t n)
{
    if (n >= b->len) {
        b->off = 0;
        b->len = 0;
        return;
    }
    b->off += n;
    b->len -= n;
}
