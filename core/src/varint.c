/* varint.c - multiformats unsigned-varint (see p2p/varint.h).
 *
 * Seven bits per byte, least significant group first, high bit set on every
 * byte but the last. The spec caps varints at 9 bytes (63 bits) and
 * requires the minimal encoding, so that every value has exactly one
 * encoding: decoders that accept padded forms ("0x80 0x00" for 0) let two
 * different byte strings mean the same thing, which breaks equality of
 * binary multiaddrs and PeerIds. */
#include "p2p/varint.h"
#include "p2p/error.h"

P2P_API size_t p2p_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

P2P_API int p2p_varint_encode(uint64_t v, uint8_t out[P2P_VARINT_MAX_BYTES])
{
    if (v > P2P_VARINT_MAX_VALUE) return P2P_ERANGE;
    int n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

P2P_API int p2p_varint_decode(const uint8_t *in, size_t len, uint64_t *value, size_t *used)
{
    uint64_t v = 0;
    for (size_t i = 0; i < P2P_VARINT_MAX_BYTES; i++) {
        if (i >= len) return P2P_ETRUNC;
        uint8_t b = in[i];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (b & 0x80) continue;
        /* A last byte of zero (after at least one other byte) adds nothing:
         * the same value has a shorter encoding. */
        if (b == 0 && i > 0) return P2P_EPROTO;
        if (value) *value = v;
        if (used) *used = i + 1;
        return 0;
    }
    /* The ninth byte still had its continuation bit set. */
    return P2P_EPROTO;
}

P2P_API int p2p_varint_frame(const uint8_t *in, size_t len, size_t max, size_t *hdr, size_t *body)
{
    uint64_t v;
    size_t used;
    size_t look = len < P2P_VARINT_MAX_BYTES ? len : P2P_VARINT_MAX_BYTES;
    int rc = p2p_varint_decode(in, look, &v, &used);
    /* Truncated after as many bytes as max needs, each with its
     * continuation bit: the length is larger than max. */
    if (rc == P2P_ETRUNC) return look >= p2p_varint_size(max) ? P2P_ERANGE : P2P_ETRUNC;
    if (rc < 0) return P2P_EPROTO;
    if (v > max) return P2P_ERANGE;
    if (len - used < v) return P2P_ETRUNC;
    *hdr = used;
    *body = (size_t)v;
    return 0;
}
