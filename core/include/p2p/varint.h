/* p2p/varint.h - unsigned varint (multiformats/unsigned-varint).
 *
 * At most 9 bytes (values < 2^63), minimal encoding required on decode. */
#ifndef P2P_VARINT_H
#define P2P_VARINT_H

#include <stddef.h>
#include <stdint.h>
#include "api.h"

P2P_BEGIN_DECLS

#define P2P_VARINT_MAX_BYTES 9
#define P2P_VARINT_MAX_VALUE ((UINT64_C(1) << 63) - 1)

/* Encode v (<= P2P_VARINT_MAX_VALUE) into out; returns bytes written
 * (1..9), or P2P_ERANGE if v is too large. */
P2P_API int p2p_varint_encode(uint64_t v, uint8_t out[P2P_VARINT_MAX_BYTES]);
/* Number of bytes p2p_varint_encode would write. */
P2P_API size_t p2p_varint_size(uint64_t v);
/* Decode from in[0..len). On success stores the value and the bytes used
 * and returns 0. Errors: P2P_ETRUNC (need more bytes), P2P_EPROTO
 * (non-minimal encoding or more than 9 bytes). */
P2P_API int p2p_varint_decode(const uint8_t *in, size_t len, uint64_t *value, size_t *used);

/* Length-prefixed framing (an unsigned-varint length, then that many
 * bytes), as most libp2p protocols send protobuf messages (ABI 1.3): look
 * for one complete frame at the start of in[0..len). Returns 0 with *hdr
 * (varint bytes) and *body (body bytes) set, P2P_ETRUNC (need more bytes),
 * P2P_ERANGE (the length exceeds max: known as soon as the varint is
 * longer than max needs, never after waiting for 9 bytes) or P2P_EPROTO
 * (a malformed varint). */
P2P_API int p2p_varint_frame(const uint8_t *in, size_t len, size_t max, size_t *hdr, size_t *body);

P2P_END_DECLS
#endif
