/* multihash.c - <code varint><length varint><digest> (see p2p/multihash.h). */
#include <string.h>

#include <sodium.h>

#include "p2p/error.h"
#include "p2p/multihash.h"
#include "p2p/varint.h"

P2P_API int p2p_multihash_parse(const uint8_t *in, size_t len, struct p2p_multihash *mh, size_t *used)
{
    uint64_t code, dlen;
    size_t n1, n2;
    int rc = p2p_varint_decode(in, len, &code, &n1);
    if (rc < 0) return rc;
    rc = p2p_varint_decode(in + n1, len - n1, &dlen, &n2);
    if (rc < 0) return rc;
    size_t off = n1 + n2;
    /* Compare against what is left rather than computing off + dlen, which
     * could overflow for a hostile length. */
    if (dlen > len - off) return P2P_ETRUNC;
    /* The length of a sha2-256 digest is not negotiable: a shorter or
     * longer one cannot be the output of the hash it claims to be. */
    if (code == P2P_MH_SHA2_256 && dlen != 32) return P2P_EINVAL;
    if (mh) {
        mh->code = code;
        mh->digest_len = (size_t)dlen;
        mh->digest = in + off;
    }
    if (used) *used = off + (size_t)dlen;
    return 0;
}

P2P_API int p2p_multihash_parse_exact(const uint8_t *in, size_t len, struct p2p_multihash *mh)
{
    size_t used;
    int rc = p2p_multihash_parse(in, len, mh, &used);
    if (rc < 0) return rc;
    return used == len ? 0 : P2P_EINVAL;
}

P2P_API void p2p_multihash_sha256(const uint8_t *in, size_t len, uint8_t out[34])
{
    out[0] = P2P_MH_SHA2_256;
    out[1] = 32;
    crypto_hash_sha256(out + 2, in, len);
}

P2P_API int p2p_multihash_identity(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    /* len <= 127 keeps the length varint to one byte. */
    if (len > 127 || cap < len + 2) return P2P_ERANGE;
    out[0] = P2P_MH_IDENTITY;
    out[1] = (uint8_t)len;
    if (len) memmove(out + 2, in, len);
    return (int)(len + 2);
}
