/* p2p/buf.h - growable byte buffer with an explicit size limit.
 *
 * A p2p_buf owns its memory (data). Bytes are appended at the end and
 * consumed from the front; consumed space is reclaimed lazily. Appending
 * beyond `limit` (0 = no limit) fails with P2P_ELIMIT instead of growing,
 * so a buffer fed by the network can never grow without bound. */
#ifndef P2P_BUF_H
#define P2P_BUF_H

#include <stddef.h>
#include <stdint.h>
#include "api.h"

P2P_BEGIN_DECLS

typedef struct p2p_buf {
    uint8_t *data;   /* owned; valid bytes are data[off .. off+len) */
    size_t off;
    size_t len;
    size_t cap;
    size_t limit;    /* maximum len; 0 = unlimited */
} p2p_buf;

P2P_API void p2p_buf_init(p2p_buf *b, size_t limit);
P2P_API void p2p_buf_free(p2p_buf *b);
/* Pointer to the first unconsumed byte. */
static inline uint8_t *p2p_buf_head(const p2p_buf *b) { return b->data ? b->data + b->off : NULL; }
/* Make room for n more bytes; returns 0, P2P_ENOMEM or P2P_ELIMIT. */
P2P_API int p2p_buf_reserve(p2p_buf *b, size_t n);
P2P_API int p2p_buf_append(p2p_buf *b, const void *p, size_t n);
P2P_API int p2p_buf_append_byte(p2p_buf *b, uint8_t c);
/* Append an unsigned varint. */
P2P_API int p2p_buf_append_varint(p2p_buf *b, uint64_t v);
/* Pointer to n writable bytes at the end (after p2p_buf_reserve); commit
 * them with p2p_buf_commit. */
P2P_API uint8_t *p2p_buf_tail(p2p_buf *b);
P2P_API void p2p_buf_commit(p2p_buf *b, size_t n);
/* Drop n bytes from the front (n <= len). */
P2P_API void p2p_buf_consume(p2p_buf *b, size_t n);
P2P_API void p2p_buf_reset(p2p_buf *b);
/* (ABI 1.6) Give memory back after a burst: an empty buffer whose
 * capacity exceeds keep shrinks to keep bytes (0 frees it; the buffer
 * stays usable). A buffer holding bytes is left alone. A buffer keeps its
 * largest size otherwise, so one burst would cost its owner that much for
 * as long as it lives. */
P2P_API void p2p_buf_trim(p2p_buf *b, size_t keep);

P2P_END_DECLS
#endif
