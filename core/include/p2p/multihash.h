/* p2p/multihash.h - multihash parsing and the two hashes PeerIds use. */
#ifndef P2P_MULTIHASH_H
#define P2P_MULTIHASH_H

#include <stddef.h>
#include <stdint.h>
#include "api.h"

P2P_BEGIN_DECLS

#define P2P_MH_IDENTITY 0x00
#define P2P_MH_SHA2_256 0x12

struct p2p_multihash {
    uint64_t code;
    size_t digest_len;
    const uint8_t *digest;   /* points into the parsed input */
};

/* Parse one multihash at the start of in; store the bytes it uses.
 * Errors: P2P_ETRUNC, P2P_EPROTO (bad varint), P2P_EINVAL (sha2-256 whose
 * digest is not 32 bytes). Any code is accepted structurally. */
P2P_API int p2p_multihash_parse(const uint8_t *in, size_t len, struct p2p_multihash *mh, size_t *used);
/* Like parse, but the multihash must span exactly len bytes. */
P2P_API int p2p_multihash_parse_exact(const uint8_t *in, size_t len, struct p2p_multihash *mh);

/* Write the sha2-256 multihash (34 bytes) of in. */
P2P_API void p2p_multihash_sha256(const uint8_t *in, size_t len, uint8_t out[34]);
/* Write the identity multihash of in (len <= 127) into out; returns the
 * bytes written or P2P_ERANGE. */
P2P_API int p2p_multihash_identity(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

P2P_END_DECLS
#endif
