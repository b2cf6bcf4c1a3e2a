/* record.c - signed envelopes and peer records (see p2p/record.h).
 *
 * Encoding goes through protobuf-c (envelope.proto, peer_record.proto): it
 * writes fields in field-number order and leaves out proto3 default
 * values, exactly as go-libp2p's and rust-libp2p's encoders do, so our
 * sealed bytes equal theirs (the tests check this with their vectors).
 *
 * Decoding is a small bounded protobuf reader instead of protobuf-c's
 * unpack: p2p_envelope_open returns pointers into the caller's buffer, and
 * nothing is allocated for input-controlled counts (repeated addresses are
 * validated into the fixed array and the rest counted). Protobuf rules are
 * kept where peers rely on them: unknown fields of any wire type are
 * skipped, the last occurrence of a field wins, varints may be up to 10
 * bytes. A known field with the wrong wire type, groups, field number 0
 * and anything running past the end are errors. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "envelope.pb-c.h"
#include "peer_record.pb-c.h"
#include "p2p/error.h"
#include "p2p/record.h"
#include "p2p/varint.h"

/* ---- protobuf reader ---------------------------------------------------- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct pbr {
    const uint8_t *p;
    size_t len;
    size_t pos;
} pbr;

typedef struct pbfield {
    uint32_t num;
    unsigned wt;
    uint64_t v;           /* WT_VARINT */
    const uint8_t *data;  /* WT_LEN */
    size_t dlen;
} pbfield;

static int pb_varint(pbr *r, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (r->pos >= r->len) return P2P_EINVAL;
        uint8_t b = r->p[r->pos++];
        if (i == 9 && b > 1) return P2P_EINVAL;  /* beyond 64 bits */
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return P2P_EINVAL;
}

/* Read the next field: 1 and *f filled, 0 at the end, or P2P_EINVAL. */
static int pb_next(pbr *r, pbfield *f)
{
    uint64_t key, n;
    if (r->pos == r->len) return 0;
    if (pb_varint(r, &key) < 0) return P2P_EINVAL;
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff) return P2P_EINVAL;
    f->num = (uint32_t)(key >> 3);
    f->wt = (unsigned)(key & 7);
    f->data = NULL;
    f->dlen = 0;
    f->v = 0;
    switch (f->wt) {
    case WT_VARINT:
        return pb_varint(r, &f->v) < 0 ? P2P_EINVAL : 1;
    case WT_I64:
    case WT_I32:
        n = f->wt == WT_I64 ? 8 : 4;
        break;
    case WT_LEN:
        if (pb_varint(r, &n) < 0) return P2P_EINVAL;
        break;
    default:
        return P2P_EINVAL;  /* groups (deprecated) and undefined types */
    }
    if (n > r->len - r->pos) return P2P_EINVAL;
    f->data = r->p + r->pos;
    f->dlen = (size_t)n;
    r->pos += (size_t)n;
    return 1;
}

/* ---- envelope ------------------------------------------------------------ */

typedef struct env_view {
    const uint8_t *key, *pt, *payload, *sig;
    size_t keylen, ptlen, plen, siglen;
    int have_key;
} env_view;

static int envelope_parse(const uint8_t *in, size_t len, env_view *e)
{
    pbr r = { in, len, 0 };
    pbfield f;
    int rc;
    memset(e, 0, sizeof *e);
    if (len > P2P_ENVELOPE_MAX) return P2P_ERANGE;
    if (!in && len) return P2P_EINVAL;
    while ((rc = pb_next(&r, &f)) > 0) {
        if (f.num != 1 && f.num != 2 && f.num != 3 && f.num != 5) continue;
        if (f.wt != WT_LEN) return P2P_EINVAL;
        switch (f.num) {
        case 1: e->key = f.data; e->keylen = f.dlen; e->have_key = 1; break;
        case 2: e->pt = f.data; e->ptlen = f.dlen; break;
        case 3: e->payload = f.data; e->plen = f.dlen; break;
        default: e->sig = f.data; e->siglen = f.dlen; break;
        }
    }
    if (rc < 0) return rc;
    return e->have_key ? 0 : P2P_EINVAL;
}

static int domain_ok(const char *domain, size_t *dlen)
{
    if (!domain) return 0;
    *dlen = strnlen(domain, P2P_ENVELOPE_DOMAIN_MAX + 1);
    return *dlen > 0 && *dlen <= P2P_ENVELOPE_DOMAIN_MAX;
}

static size_t put_field(uint8_t *out, const uint8_t *p, size_t n)
{
    uint8_t v[P2P_VARINT_MAX_BYTES];
    int k = p2p_varint_encode(n, v);  /* n < P2P_ENVELOPE_MAX: never fails */
    memcpy(out, v, (size_t)k);
    if (n) memcpy(out + k, p, n);
    return (size_t)k + n;
}

/* The bytes that are signed (RFC 0002): each of domain, payload type and
 * payload preceded by its length as an unsigned varint. malloc'ed. */
static uint8_t *unsigned_bytes(const char *domain, size_t dlen, const uint8_t *pt, size_t ptlen,
                               const uint8_t *payload, size_t plen, size_t *outlen)
{
    size_t total = 3 * P2P_VARINT_MAX_BYTES + dlen + ptlen + plen;
    uint8_t *b = malloc(total);
    if (!b) return NULL;
    size_t n = put_field(b, (const uint8_t *)domain, dlen);
    n += put_field(b + n, pt, ptlen);
    n += put_field(b + n, payload, plen);
    *outlen = n;
    return b;
}

static int envelope_verify(const env_view *e, const p2p_pubkey *pub, const char *domain,
                           size_t dlen)
{
    size_t ulen;
    uint8_t *u = unsigned_bytes(domain, dlen, e->pt, e->ptlen, e->payload, e->plen, &ulen);
    if (!u) return P2P_ENOMEM;
    int rc = p2p_pubkey_verify(pub, u, ulen, e->sig, e->siglen);
    free(u);
    return rc == 0 ? 0 : rc == P2P_EUNSUPPORTED ? P2P_EUNSUPPORTED : P2P_ECRYPTO;
}

static int envelope_key(const env_view *e, p2p_pubkey *pub)
{
    int rc = p2p_pubkey_decode(pub, e->key, e->keylen);
    if (rc == P2P_EUNSUPPORTED) return rc;            /* an unknown key type */
    return rc < 0 ? P2P_EINVAL : 0;
}

P2P_API int p2p_envelope_seal(const p2p_keypair *kp, const char *domain,
                              const uint8_t *payload_type, size_t ptlen,
                              const uint8_t *payload, size_t plen,
                              uint8_t **out, size_t *outlen)
{
    size_t dlen, ulen;
    uint8_t keypb[P2P_PUBKEY_PB_MAX], sig[P2P_ED25519_SIG_LEN];
    p2p_pubkey pub;
    if (!out || !outlen) return P2P_EINVAL;
    *out = NULL;
    *outlen = 0;
    if (!kp || !domain_ok(domain, &dlen) || !payload_type || !ptlen || (!payload && plen))
        return P2P_EINVAL;
    if (ptlen > P2P_ENVELOPE_MAX || plen > P2P_ENVELOPE_MAX) return P2P_ERANGE;

    p2p_keypair_public(kp, &pub);
    int klen = p2p_pubkey_encode(&pub, keypb, sizeof keypb);
    if (klen < 0) return P2P_EINVAL;
    uint8_t *u = unsigned_bytes(domain, dlen, payload_type, ptlen, payload, plen, &ulen);
    if (!u) return P2P_ENOMEM;
    p2p_keypair_sign(kp, u, ulen, sig);
    free(u);

    P2p__Record__Envelope msg = P2P__RECORD__ENVELOPE__INIT;
    msg.public_key.data = keypb;
    msg.public_key.len = (size_t)klen;
    msg.payload_type.data = (uint8_t *)payload_type;
    msg.payload_type.len = ptlen;
    msg.payload.data = (uint8_t *)payload;
    msg.payload.len = plen;
    msg.signature.data = sig;
    msg.signature.len = sizeof sig;
    size_t n = p2p__record__envelope__get_packed_size(&msg);
    if (n > P2P_ENVELOPE_MAX) return P2P_ERANGE;
    uint8_t *b = malloc(n);
    if (!b) return P2P_ENOMEM;
    p2p__record__envelope__pack(&msg, b);
    *out = b;
    *outlen = n;
    return 0;
}

P2P_API int p2p_envelope_open(const uint8_t *in, size_t len, const char *expected_domain,
                              p2p_pubkey *signer,
                              const uint8_t **payload_type, size_t *ptlen,
                              const uint8_t **payload, size_t *plen)
{
    env_view e;
    p2p_pubkey pub;
    size_t dlen;
    if (!domain_ok(expected_domain, &dlen)) return P2P_EINVAL;
    int rc = envelope_parse(in, len, &e);
    if (rc < 0) return rc;
    if ((rc = envelope_key(&e, &pub)) < 0) return rc;
    if ((rc = envelope_verify(&e, &pub, expected_domain, dlen)) < 0) return rc;
    if (signer) *signer = pub;
    if (payload_type) *payload_type = e.pt;
    if (ptlen) *ptlen = e.ptlen;
    if (payload) *payload = e.payload;
    if (plen) *plen = e.plen;
    return 0;
}

/* ---- peer records ---------------------------------------------------------- */

P2P_API uint64_t p2p_peer_record_seq_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0) return 0;
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

P2P_API uint64_t p2p_peer_record_seq_next(uint64_t prev)
{
    uint64_t now = p2p_peer_record_seq_now();
    if (prev == UINT64_MAX) return prev;  /* nothing is higher */
    return now > prev ? now : prev + 1;
}

P2P_API int p2p_peer_record_encode(const p2p_peer_record *rec, uint8_t **out, size_t *outlen)
{
    P2p__Record__PeerRecord__AddressInfo info[P2P_PEER_RECORD_MAX_ADDRS];
    P2p__Record__PeerRecord__AddressInfo *ptrs[P2P_PEER_RECORD_MAX_ADDRS];
    p2p_multiaddr check;
    p2p_peerid id;
    if (!out || !outlen) return P2P_EINVAL;
    *out = NULL;
    *outlen = 0;
    if (!rec || rec->naddrs > P2P_PEER_RECORD_MAX_ADDRS ||
        p2p_peerid_from_bytes(&id, rec->id.bytes, rec->id.len) != 0)
        return P2P_EINVAL;

    P2p__Record__PeerRecord msg = P2P__RECORD__PEER_RECORD__INIT;
    msg.peer_id.data = (uint8_t *)rec->id.bytes;
    msg.peer_id.len = rec->id.len;
    msg.seq = rec->seq;
    msg.addresses = ptrs;
    for (size_t i = 0; i < rec->naddrs; i++) {
        const p2p_multiaddr *ma = &rec->addrs[i];
        if (ma->len == 0) continue;  /* as go-libp2p: never send an empty one */
        if (ma->len > P2P_MADDR_MAX || p2p_maddr_from_bytes(&check, ma->bytes, ma->len, NULL, 0) != 0)
            return P2P_EINVAL;
        P2p__Record__PeerRecord__AddressInfo a = P2P__RECORD__PEER_RECORD__ADDRESS_INFO__INIT;
        a.multiaddr.data = (uint8_t *)ma->bytes;
        a.multiaddr.len = ma->len;
        info[msg.n_addresses] = a;
        ptrs[msg.n_addresses] = &info[msg.n_addresses];
        msg.n_addresses++;
    }
    size_t n = p2p__record__peer_record__get_packed_size(&msg);
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return P2P_ENOMEM;
    p2p__record__peer_record__pack(&msg, b);
    *out = b;
    *outlen = n;
    return 0;
}

/* One AddressInfo message: its multiaddr (last occurrence) or NULL. */
static int address_info(const uint8_t *in, size_t len, const uint8_t **ma, size_t *malen)
{
    pbr r = { in, len, 0 };
    pbfield f;
    int rc;
    *ma = NULL;
    *malen = 0;
    while ((rc = pb_next(&r, &f)) > 0) {
        if (f.num != 1) continue;
        if (f.wt != WT_LEN) return P2P_EINVAL;
        *ma = f.data;
        *malen = f.dlen;
    }
    return rc;
}

static void add_address(p2p_peer_record *rec, const uint8_t *ma, size_t malen)
{
    if (!malen || rec->naddrs == P2P_PEER_RECORD_MAX_ADDRS ||
        p2p_maddr_from_bytes(&rec->addrs[rec->naddrs], ma, malen, NULL, 0) != 0) {
        rec->nskipped++;
        return;
    }
    rec->naddrs++;
}

static int record_decode(p2p_peer_record *rec, const uint8_t *in, size_t len)
{
    pbr r = { in, len, 0 };
    pbfield f;
    const uint8_t *id = NULL, *ma;
    size_t idlen = 0, malen;
    int rc, have_id = 0;
    if (len > P2P_ENVELOPE_MAX) return P2P_ERANGE;
    if (!in && len) return P2P_EINVAL;
    while ((rc = pb_next(&r, &f)) > 0) {
        switch (f.num) {
        case 1:
            if (f.wt != WT_LEN) return P2P_EINVAL;
            id = f.data;
            idlen = f.dlen;
            have_id = 1;
            break;
        case 2:
            if (f.wt != WT_VARINT) return P2P_EINVAL;
            rec->seq = f.v;
            break;
        case 3:
            if (f.wt != WT_LEN || address_info(f.data, f.dlen, &ma, &malen) < 0) return P2P_EINVAL;
            add_address(rec, ma, malen);
            break;
        default:
            break;
        }
    }
    if (rc < 0 || !have_id || p2p_peerid_from_bytes(&rec->id, id, idlen) != 0) return P2P_EINVAL;
    return 0;
}

P2P_API int p2p_peer_record_decode(p2p_peer_record *rec, const uint8_t *in, size_t len)
{
    if (!rec) return P2P_EINVAL;
    memset(rec, 0, sizeof *rec);
    int rc = record_decode(rec, in, len);
    if (rc < 0) memset(rec, 0, sizeof *rec);
    return rc;
}

P2P_API int p2p_peer_record_seal(const p2p_keypair *kp, const p2p_peer_record *rec,
                                 uint8_t **out, size_t *outlen)
{
    p2p_pubkey pub;
    uint8_t *payload;
    size_t plen;
    if (!out || !outlen) return P2P_EINVAL;
    *out = NULL;
    *outlen = 0;
    if (!kp || !rec) return P2P_EINVAL;
    p2p_keypair_public(kp, &pub);
    if (!p2p_peerid_matches(&rec->id, &pub)) return P2P_EPEERID;
    int rc = p2p_peer_record_encode(rec, &payload, &plen);
    if (rc < 0) return rc;
    rc = p2p_envelope_seal(kp, P2P_PEER_RECORD_DOMAIN,
                           (const uint8_t *)P2P_PEER_RECORD_PAYLOAD_TYPE,
                           P2P_PEER_RECORD_PAYLOAD_TYPE_LEN, payload, plen, out, outlen);
    free(payload);
    return rc;
}

static int record_open(const uint8_t *in, size_t len, bool verify, p2p_peer_record *rec)
{
    static const char legacy_pt[] = P2P_PEER_RECORD_LEGACY_PAYLOAD_TYPE;
    env_view e;
    p2p_pubkey pub;
    const char *domain;
    int rc = envelope_parse(in, len, &e);
    if (rc < 0) return rc;
    if (e.ptlen == P2P_PEER_RECORD_PAYLOAD_TYPE_LEN &&
        !memcmp(e.pt, P2P_PEER_RECORD_PAYLOAD_TYPE, P2P_PEER_RECORD_PAYLOAD_TYPE_LEN))
        domain = P2P_PEER_RECORD_DOMAIN;
    else if (e.ptlen == sizeof legacy_pt - 1 && !memcmp(e.pt, legacy_pt, e.ptlen))
        domain = P2P_PEER_RECORD_LEGACY_DOMAIN;
    else
        return P2P_EPROTO;
    if ((rc = envelope_key(&e, &pub)) < 0) return rc;
    /* RFC 0003: the signature is checked before the payload is decoded. */
    if (verify && (rc = envelope_verify(&e, &pub, domain, strlen(domain))) < 0) return rc;
    if ((rc = record_decode(rec, e.payload, e.plen)) < 0) return rc;
    return p2p_peerid_matches(&rec->id, &pub) ? 0 : P2P_EPEERID;
}

P2P_API int p2p_peer_record_open(const uint8_t *in, size_t len, p2p_peer_record *rec)
{
    if (!rec) return P2P_EINVAL;
    memset(rec, 0, sizeof *rec);
    int rc = record_open(in, len, true, rec);
    if (rc < 0) memset(rec, 0, sizeof *rec);
    return rc;
}

P2P_API int p2p_peer_record_open_memo(const uint8_t *in, size_t len, uint8_t memo[P2P_RECORD_MEMO_LEN],
                                      p2p_peer_record *rec)
{
    if (!rec || !memo || (!in && len)) return P2P_EINVAL;
    memset(rec, 0, sizeof *rec);
    if (len > P2P_ENVELOPE_MAX) return P2P_ERANGE;
    uint8_t digest[P2P_RECORD_MEMO_LEN];
    crypto_hash_sha256(digest, in, len);
    /* The same bytes verified before: the signature, the domain (chosen
     * by the payload type inside them) and the key are the same, so is
     * the result. Everything else is checked again. */
    bool known = sodium_memcmp(digest, memo, sizeof digest) == 0;
    int rc = record_open(in, len, !known, rec);
    if (rc < 0) {
        memset(rec, 0, sizeof *rec);
        return rc;
    }
    memcpy(memo, digest, sizeof digest);
    return known ? 1 : 0;
}
