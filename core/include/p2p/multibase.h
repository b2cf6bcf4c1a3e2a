/* p2p/multibase.h - base58btc, base32 (RFC 4648, lower case, no padding)
 * and multibase prefixes.
 *
 * Decoders are strict so that text forms are canonical: RFC 4648 bases
 * refuse padding, lengths no encoder produces and non-zero unused trailing
 * bits. */
#ifndef P2P_MULTIBASE_H
#define P2P_MULTIBASE_H

#include <stddef.h>
#include <stdint.h>
#include "api.h"

P2P_BEGIN_DECLS

/* Encoders write a NUL-terminated string and return its length, or
 * P2P_ERANGE if out (cap bytes, NUL included) is too small. */
P2P_API int p2p_base58btc_encode(const uint8_t *in, size_t len, char *out, size_t cap);
P2P_API int p2p_base32_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* Decoders read exactly len characters, write at most cap bytes and store
 * the decoded length (out may be partly written on error). Errors:
 * P2P_EINVAL (character outside the alphabet; for base32 also non-zero
 * trailing bits or an impossible length), P2P_ERANGE (out too small). The
 * base32 decoder accepts lower and upper case, without padding. */
P2P_API int p2p_base58btc_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);
P2P_API int p2p_base32_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);

/* Multibase: the first character names the base. Supported: 'z'
 * (base58btc), 'k'/'K' (base36 lower/upper), 'b'/'B' (base32 lower/upper),
 * 'f'/'F' (base16 lower/upper), 'm' (base64) and 'u' (base64url), the
 * RFC 4648 ones without padding. Decoding base36, base32 and base16
 * accepts either case. Unknown prefixes give P2P_EUNSUPPORTED; an empty
 * string P2P_EINVAL. */
P2P_API int p2p_multibase_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);
/* prefix is one of the characters above (else P2P_EUNSUPPORTED). Returns
 * the length written (prefix included) or P2P_ERANGE. */
P2P_API int p2p_multibase_encode(char prefix, const uint8_t *in, size_t len, char *out, size_t cap);

P2P_END_DECLS
#endif
