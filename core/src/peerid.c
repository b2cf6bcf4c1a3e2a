/* peerid.c - PeerIds (see p2p/peerid.h and libp2p/specs peer-ids.md).
 *
 * (p2p_identity_open and p2p_identity_default_path live in identity.c.) */
#include <string.h>

#include "p2p/error.h"
#include "p2p/multibase.h"
#include "p2p/multihash.h"
#include "p2p/peerid.h"
#include "p2p/varint.h"

/* Keys whose protobuf encoding is at most this long are inlined
 * (identity multihash) instead of hashed. */
#define INLINE_KEY_MAX 42
/* CIDv1 header: version 1, codec libp2p-key. */
#define CID_VERSION 1
#define CODEC_LIBP2P_KEY 0x72

P2P_API int p2p_peerid_from_pubkey(p2p_peerid *id, const p2p_pubkey *pub)
{
    uint8_t pb[P2P_PUBKEY_PB_MAX];
    if (!id || !pub) return P2P_EINVAL;
    int n = p2p_pubkey_encode(pub, pb, sizeof pb);
    if (n < 0) return n;
    if (n <= INLINE_KEY_MAX) {
        int m = p2p_multihash_identity(pb, (size_t)n, id->bytes, sizeof id->bytes);
        if (m < 0) return m;
        id->len = (uint8_t)m;
    } else {
        p2p_multihash_sha256(pb, (size_t)n, id->bytes);
        id->len = 34;
    }
    return 0;
}

P2P_API int p2p_peerid_from_bytes(p2p_peerid *id, const uint8_t *in, size_t len)
{
    struct p2p_multihash mh;
    if (!id || !in || len > P2P_PEERID_MAX) return P2P_EINVAL;
    if (p2p_multihash_parse_exact(in, len, &mh) < 0) return P2P_EINVAL;
    if (mh.code == P2P_MH_IDENTITY) {
        if (mh.digest_len > INLINE_KEY_MAX) return P2P_EINVAL;
        /* The inlined key must decode, and be in the canonical encoding we
         * would produce for it: otherwise the same key would have two
         * PeerIds and p2p_peerid_matches would reject its own key. */
        p2p_pubkey pub;
        uint8_t pb[INLINE_KEY_MAX];
        if (p2p_pubkey_decode(&pub, mh.digest, mh.digest_len) < 0) return P2P_EINVAL;
        int n = p2p_pubkey_encode(&pub, pb, sizeof pb);
        if (n < 0 || (size_t)n != mh.digest_len || memcmp(pb, mh.digest, (size_t)n) != 0)
            return P2P_EINVAL;
    } else if (mh.code != P2P_MH_SHA2_256) {
        return P2P_EINVAL;  /* parse already checked the 32-byte digest */
    }
    memmove(id->bytes, in, len);
    id->len = (uint8_t)len;
    return 0;
}

/* A CIDv1 in binary: <version varint = 1><codec varint = libp2p-key><multihash>. */
static int from_cid_bytes(p2p_peerid *id, const uint8_t *b, size_t n)
{
    uint64_t version, codec;
    size_t u1, u2;
    if (p2p_varint_decode(b, n, &version, &u1) < 0 || version != CID_VERSION) return P2P_EINVAL;
    if (p2p_varint_decode(b + u1, n - u1, &codec, &u2) < 0 || codec != CODEC_LIBP2P_KEY)
        return P2P_EINVAL;
    return p2p_peerid_from_bytes(id, b + u1 + u2, n - u1 - u2);
}

P2P_API int p2p_peerid_parse(p2p_peerid *id, const char *text)
{
    /* Room for a CID header and the largest PeerId, plus one byte so that
     * anything longer is detected (as P2P_ERANGE, reported as EINVAL). */
    uint8_t buf[P2P_PEERID_MAX + 2 * P2P_VARINT_MAX_BYTES + 1];
    size_t n;
    if (!id || !text) return P2P_EINVAL;
    size_t len = strnlen(text, P2P_PEERID_STRMAX);
    if (len == 0 || len >= P2P_PEERID_STRMAX) return P2P_EINVAL;
    p2p_peerid tmp;
    /* The spec: "1..." (identity) and "Qm..." (sha2-256) are bare base58btc
     * multihashes; anything else must be a multibase CID. Neither '1' nor
     * 'Q' is a multibase prefix, so the two cannot be confused. */
    if (text[0] == '1' || (text[0] == 'Q' && text[1] == 'm')) {
        if (p2p_base58btc_decode(text, len, buf, sizeof buf, &n) < 0) return P2P_EINVAL;
        if (p2p_peerid_from_bytes(&tmp, buf, n) < 0) return P2P_EINVAL;
    } else {
        if (p2p_multibase_decode(text, len, buf, sizeof buf, &n) < 0) return P2P_EINVAL;
        if (from_cid_bytes(&tmp, buf, n) < 0) return P2P_EINVAL;
    }
    *id = tmp;
    return 0;
}

static bool peerid_sane(const p2p_peerid *id)
{
    return id && id->len > 0 && id->len <= P2P_PEERID_MAX;
}

P2P_API int p2p_peerid_to_string(const p2p_peerid *id, char *out, size_t cap)
{
    if (!out || cap == 0) return P2P_ERANGE;
    out[0] = 0;
    if (!peerid_sane(id)) return P2P_EINVAL;
    int rc = p2p_base58btc_encode(id->bytes, id->len, out, cap);
    if (rc < 0) out[0] = 0;
    return rc;
}

P2P_API int p2p_peerid_to_cid(const p2p_peerid *id, char *out, size_t cap)
{
    uint8_t cid[2 + P2P_PEERID_MAX];
    if (!out || cap == 0) return P2P_ERANGE;
    out[0] = 0;
    if (!peerid_sane(id)) return P2P_EINVAL;
    cid[0] = CID_VERSION;
    cid[1] = CODEC_LIBP2P_KEY;
    memcpy(cid + 2, id->bytes, id->len);
    int rc = p2p_multibase_encode('b', cid, 2 + (size_t)id->len, out, cap);
    if (rc < 0) out[0] = 0;
    return rc;
}

P2P_API int p2p_peerid_pubkey(const p2p_peerid *id, p2p_pubkey *pub)
{
    struct p2p_multihash mh;
    if (!peerid_sane(id) || !pub) return P2P_EINVAL;
    if (p2p_multihash_parse_exact(id->bytes, id->len, &mh) < 0) return P2P_EINVAL;
    if (mh.code != P2P_MH_IDENTITY) return P2P_ENOTFOUND;
    int rc = p2p_pubkey_decode(pub, mh.digest, mh.digest_len);
    return rc < 0 ? rc : 0;
}

P2P_API bool p2p_peerid_matches(const p2p_peerid *id, const p2p_pubkey *pub)
{
    p2p_peerid other;
    if (!peerid_sane(id) || !pub) return false;
    if (p2p_peerid_from_pubkey(&other, pub) < 0) return false;
    return p2p_peerid_equal(id, &other);
}

P2P_API bool p2p_peerid_equal(const p2p_peerid *a, const p2p_peerid *b)
{
    if (!peerid_sane(a) || !peerid_sane(b)) return false;
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

P2P_API int p2p_peerid_from_maddr(p2p_peerid *id, const p2p_multiaddr *ma)
{
    struct p2p_maddr_component c, last = { 0 };
    size_t off = 0;
    while (p2p_maddr_next(ma, &off, &c) == 1) last = c;
    if (last.code != P2P_MA_P2P || p2p_peerid_from_bytes(id, last.value, last.value_len) != 0) return P2P_EINVAL;
    return 0;
}
