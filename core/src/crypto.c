/* crypto.c - libp2p keys (peer-ids spec): Ed25519 with libsodium, and
 * structure checks and signature verification for the public keys of the
 * other three key types (OpenSSL's libcrypto; our own identity is always
 * Ed25519).
 *
 * The PublicKey/PrivateKey protobufs are parsed by hand rather than with
 * protobuf-c: libp2p requires a deterministic encoding (Type then Data,
 * minimal varints, no other fields) because PeerIds hash these bytes, and a
 * generic protobuf decoder accepts reordered, repeated and unknown fields.
 * We accept exactly the canonical form, so a key that decodes re-encodes to
 * the very bytes we received.
 *
 * Public key structure checks:
 *  - Ed25519: 32 bytes. Any 32 bytes are accepted, as go-libp2p does; the
 *    point is checked when a signature is verified.
 *  - Secp256k1: 33-byte compressed SEC1 point (0x02/0x03 prefix), the
 *    libp2p encoding. Whether x is on the curve is not checked.
 *  - ECDSA: DER SubjectPublicKeyInfo, id-ecPublicKey with a named curve
 *    (P-256, P-384 or P-521) and a compressed or uncompressed point of the
 *    curve's size.
 *  - RSA: DER SubjectPublicKeyInfo, rsaEncryption with NULL parameters and
 *    an RSAPublicKey of 2048 to 8192 bits. go-libp2p refuses to parse RSA
 *    keys outside that range (MinRsaKeyBits, maxRsaKeyBits) and
 *    rust-libp2p's verifier (ring's RSA_PKCS1_2048_8192) cannot use them,
 *    so accepting smaller keys would only create PeerIds nobody can talk to.
 * DER is parsed strictly: definite, minimal lengths, nothing trailing.
 *
 * Signatures (peer-ids spec): Ed25519 over the message; RSA PKCS#1 v1.5
 * with SHA-256; ECDSA and secp256k1 DER-encoded (r, s) over SHA-256 of
 * the message (both S halves accepted, as go-libp2p does). The last three
 * need libcrypto: built without it they are P2P_EUNSUPPORTED. */
#include <string.h>

#include <sodium.h>
#ifdef P2P_HAVE_OPENSSL
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#endif

#include "ed25519.h"
#include "p2p/crypto.h"
#include "p2p/error.h"

#define PB_TAG_TYPE 0x08  /* field 1, varint */
#define PB_TAG_DATA 0x12  /* field 2, length-delimited */

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192

/* ---- protobuf ---------------------------------------------------------- */

static size_t varint_put(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/* A minimally encoded unsigned varint of at most 10 bytes. */
static int varint_get(const uint8_t *in, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (*pos >= len) return P2P_EINVAL;
        uint8_t b = in[(*pos)++];
        if (i == 9 && b > 1) return P2P_EINVAL;  /* beyond 64 bits */
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (b == 0 && i > 0) return P2P_EINVAL;  /* not minimal */
            *v = r;
            return 0;
        }
    }
    return P2P_EINVAL;
}

/* Split a canonical PublicKey/PrivateKey message into its two fields.
 * Structure errors win over an unknown type, so that garbage is always
 * P2P_EINVAL and only a well-formed key of another type is unsupported. */
static int pb_key_parse(const uint8_t *in, size_t len, enum p2p_key_type *type,
                        const uint8_t **data, size_t *dlen)
{
    size_t pos = 0;
    uint64_t t, n;
    if (!in || len < 4 || in[pos++] != PB_TAG_TYPE) return P2P_EINVAL;
    if (varint_get(in, len, &pos, &t) < 0) return P2P_EINVAL;
    if (pos >= len || in[pos++] != PB_TAG_DATA) return P2P_EINVAL;
    if (varint_get(in, len, &pos, &n) < 0) return P2P_EINVAL;
    if (n != len - pos) return P2P_EINVAL;  /* truncated or trailing bytes */
    if (t > P2P_KEY_ECDSA) return P2P_EUNSUPPORTED;
    *type = (enum p2p_key_type)t;
    *data = in + pos;
    *dlen = (size_t)n;
    return 0;
}

static size_t pb_key_write(uint8_t *out, enum p2p_key_type type, const uint8_t *data,
                           size_t dlen)
{
    size_t n = 0;
    out[n++] = PB_TAG_TYPE;
    n += varint_put(out + n, (uint64_t)type);
    out[n++] = PB_TAG_DATA;
    n += varint_put(out + n, dlen);
    memcpy(out + n, data, dlen);
    return n + dlen;
}

/* ---- DER ---------------------------------------------------------------- */

/* The unread rest of a DER value. Every read checks against len, so a
 * malformed input can never make us read outside it. */
typedef struct der {
    const uint8_t *p;
    size_t len;
} der;

#define DER_INTEGER 0x02
#define DER_BIT_STRING 0x03
#define DER_NULL 0x05
#define DER_OID 0x06
#define DER_SEQUENCE 0x30

/* Read one TLV with the expected tag; its contents go to *out. Long-form
 * lengths take at most two bytes (our inputs are <= P2P_PUBKEY_DATA_MAX)
 * and must be minimal; the indefinite form does not exist in DER. */
static int der_get(der *in, uint8_t tag, der *out)
{
    if (in->len < 2 || in->p[0] != tag) return P2P_EINVAL;
    size_t hdr = 2, n = in->p[1];
    if (n & 0x80) {
        size_t k = n & 0x7f;
        if (k == 1) {
            if (in->len < 3 || in->p[2] < 0x80) return P2P_EINVAL;
            n = in->p[2];
        } else if (k == 2) {
            if (in->len < 4 || in->p[2] == 0) return P2P_EINVAL;
            n = (size_t)in->p[2] << 8 | in->p[3];
        } else {
            return P2P_EINVAL;  /* indefinite, or far too long */
        }
        hdr += k;
    }
    if (n > in->len - hdr) return P2P_EINVAL;
    out->p = in->p + hdr;
    out->len = n;
    in->p += hdr + n;
    in->len -= hdr + n;
    return 0;
}

static bool der_is(const der *d, const uint8_t *bytes, size_t len)
{
    return d->len == len && memcmp(d->p, bytes, len) == 0;
}

/* A non-negative, minimally encoded INTEGER; *mag gets its magnitude with
 * the sign-padding zero removed (at least one byte). */
static int der_uint(der *in, der *mag)
{
    der v;
    if (der_get(in, DER_INTEGER, &v) < 0 || v.len == 0) return P2P_EINVAL;
    if (v.p[0] & 0x80) return P2P_EINVAL;  /* negative */
    if (v.len > 1 && v.p[0] == 0) {
        if (!(v.p[1] & 0x80)) return P2P_EINVAL;  /* not minimal */
        v.p++;
        v.len--;
    }
    *mag = v;
    return 0;
}

/* SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING }
 * with AlgorithmIdentifier ::= SEQUENCE { OID, parameters }. Gives the
 * algorithm OID, the rest of the AlgorithmIdentifier (the parameters) and
 * the key bits (without the unused-bits byte, which must be 0). */
static int spki_parse(const uint8_t *data, size_t len, der *oid, der *params, der *key)
{
    der in = {data, len}, spki, alg, bits;
    if (der_get(&in, DER_SEQUENCE, &spki) < 0 || in.len) return P2P_EINVAL;
    if (der_get(&spki, DER_SEQUENCE, &alg) < 0) return P2P_EINVAL;
    if (der_get(&spki, DER_BIT_STRING, &bits) < 0 || spki.len) return P2P_EINVAL;
    if (der_get(&alg, DER_OID, oid) < 0) return P2P_EINVAL;
    if (bits.len < 2 || bits.p[0] != 0) return P2P_EINVAL;
    *params = alg;
    key->p = bits.p + 1;
    key->len = bits.len - 1;
    return 0;
}

static const uint8_t OID_RSA_ENCRYPTION[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
static const uint8_t OID_EC_PUBLIC_KEY[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t OID_P256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t OID_P384[] = {0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t OID_P521[] = {0x2b, 0x81, 0x04, 0x00, 0x23};

static int check_rsa(const uint8_t *data, size_t len)
{
    der oid, params, key, null, seq, n, e;
    if (spki_parse(data, len, &oid, &params, &key) < 0) return P2P_EINVAL;
    if (!der_is(&oid, OID_RSA_ENCRYPTION, sizeof OID_RSA_ENCRYPTION)) return P2P_EINVAL;
    /* RFC 3279 2.3.1: the parameters MUST be NULL (go-libp2p insists). */
    if (der_get(&params, DER_NULL, &null) < 0 || null.len || params.len) return P2P_EINVAL;
    if (der_get(&key, DER_SEQUENCE, &seq) < 0 || key.len) return P2P_EINVAL;
    if (der_uint(&seq, &n) < 0 || der_uint(&seq, &e) < 0 || seq.len) return P2P_EINVAL;

    /* Modulus size in bits; an RSA modulus (and exponent) is odd. */
    if (n.p[0] == 0) return P2P_EINVAL;
    unsigned top = 0;
    for (unsigned b = n.p[0]; b; b >>= 1) top++;
    size_t bits = (n.len - 1) * 8 + top;
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) return P2P_EINVAL;
    if (!(n.p[n.len - 1] & 1)) return P2P_EINVAL;

    /* The exponent fits in 32 bits (65537 in practice), is odd and >= 3. */
    if (e.len > 4 || !(e.p[e.len - 1] & 1)) return P2P_EINVAL;
    if (e.len == 1 && e.p[0] < 3) return P2P_EINVAL;
    return 0;
}

static int check_ecdsa(const uint8_t *data, size_t len)
{
    der oid, params, key, curve;
    if (spki_parse(data, len, &oid, &params, &key) < 0) return P2P_EINVAL;
    if (!der_is(&oid, OID_EC_PUBLIC_KEY, sizeof OID_EC_PUBLIC_KEY)) return P2P_EINVAL;
    /* namedCurve only; explicit curve parameters are not allowed (RFC 5480). */
    if (der_get(&params, DER_OID, &curve) < 0 || params.len) return P2P_EINVAL;
    size_t coord;
    if (der_is(&curve, OID_P256, sizeof OID_P256)) coord = 32;
    else if (der_is(&curve, OID_P384, sizeof OID_P384)) coord = 48;
    else if (der_is(&curve, OID_P521, sizeof OID_P521)) coord = 66;
    else return P2P_EINVAL;
    /* SEC1 point: uncompressed 04||X||Y or compressed 02/03||X. */
    if (key.p[0] == 0x04 && key.len == 1 + 2 * coord) return 0;
    if ((key.p[0] == 0x02 || key.p[0] == 0x03) && key.len == 1 + coord) return 0;
    return P2P_EINVAL;
}

static int check_pubkey_data(enum p2p_key_type type, const uint8_t *data, size_t len)
{
    switch (type) {
    case P2P_KEY_ED25519:
        return len == crypto_sign_PUBLICKEYBYTES ? 0 : P2P_EINVAL;
    case P2P_KEY_SECP256K1:
        return len == 33 && (data[0] == 0x02 || data[0] == 0x03) ? 0 : P2P_EINVAL;
    case P2P_KEY_ECDSA:
        return check_ecdsa(data, len);
    case P2P_KEY_RSA:
        return check_rsa(data, len);
    }
    return P2P_EUNSUPPORTED;
}

/* ---- Ed25519 key pairs --------------------------------------------------- */

P2P_API int p2p_keypair_generate(p2p_keypair *kp)
{
    if (!kp) return P2P_EINVAL;
    if (sodium_init() < 0) return P2P_ECRYPTO;
    crypto_sign_keypair(kp->pk, kp->sk);
    return 0;
}

P2P_API void p2p_keypair_from_seed(p2p_keypair *kp, const uint8_t seed[32])
{
    /* Deriving from a seed needs no randomness, but sodium_init() also
     * picks the fastest implementations; it is idempotent and cheap, and
     * its failure would not affect this computation. */
    int rc = sodium_init();
    (void)rc;
    crypto_sign_seed_keypair(kp->pk, kp->sk, seed);
}

P2P_API void p2p_keypair_from_seed_byte(p2p_keypair *kp, uint8_t n)
{
    uint8_t seed[crypto_sign_SEEDBYTES] = {n};
    p2p_keypair_from_seed(kp, seed);
}

P2P_API void p2p_keypair_public(const p2p_keypair *kp, p2p_pubkey *pub)
{
    memset(pub, 0, sizeof *pub);
    pub->type = P2P_KEY_ED25519;
    pub->len = crypto_sign_PUBLICKEYBYTES;
    memcpy(pub->data, kp->pk, crypto_sign_PUBLICKEYBYTES);
}

P2P_API void p2p_keypair_sign(const p2p_keypair *kp, const uint8_t *msg, size_t len,
                              uint8_t sig[P2P_ED25519_SIG_LEN])
{
    crypto_sign_detached(sig, NULL, msg, len, kp->sk);
}

P2P_API void p2p_keypair_wipe(p2p_keypair *kp)
{
    if (kp) sodium_memzero(kp, sizeof *kp);
}

/* ---- PrivateKey ------------------------------------------------------------ */

P2P_API int p2p_privkey_encode(const p2p_keypair *kp, uint8_t out[P2P_PRIVKEY_PB_LEN])
{
    if (!kp || !out) return P2P_EINVAL;
    /* libsodium's sk is already seed || pk, the layout go-libp2p
     * (Ed25519PrivateKey.Raw) and rust-libp2p (Keypair::to_bytes) write. */
    return (int)pb_key_write(out, P2P_KEY_ED25519, kp->sk, sizeof kp->sk);
}

P2P_API int p2p_privkey_decode(p2p_keypair *kp, const uint8_t *in, size_t len)
{
    enum p2p_key_type type;
    const uint8_t *data;
    size_t dlen;
    if (!kp) return P2P_EINVAL;
    int rc = pb_key_parse(in, len, &type, &data, &dlen);
    if (rc < 0) return rc;
    if (type != P2P_KEY_ED25519) return P2P_EUNSUPPORTED;
    /* 32: seed only. 64: seed || pk (current form). 96: seed || pk || pk,
     * the legacy form the spec asks us to accept when both copies agree. */
    if (dlen != 32 && dlen != 64 && dlen != 96) return P2P_EINVAL;
    if (dlen == 96 && memcmp(data + 32, data + 64, 32) != 0) return P2P_EINVAL;
    p2p_keypair_from_seed(kp, data);
    if (dlen > 32 && memcmp(kp->pk, data + 32, 32) != 0) {
        p2p_keypair_wipe(kp);
        return P2P_EINVAL;
    }
    return 0;
}

/* ---- PublicKey ------------------------------------------------------------- */

P2P_API int p2p_pubkey_encode(const p2p_pubkey *pub, uint8_t *out, size_t cap)
{
    if (!pub || (unsigned)pub->type > P2P_KEY_ECDSA || pub->len > P2P_PUBKEY_DATA_MAX)
        return P2P_EINVAL;
    /* 1 tag + 1 type byte + 1 tag + 1-2 length bytes + data. */
    size_t need = 3 + (pub->len < 128 ? 1 : 2) + pub->len;
    if (!out || cap < need) return P2P_ERANGE;
    return (int)pb_key_write(out, pub->type, pub->data, pub->len);
}

P2P_API int p2p_pubkey_decode(p2p_pubkey *pub, const uint8_t *in, size_t len)
{
    enum p2p_key_type type;
    const uint8_t *data;
    size_t dlen;
    if (!pub) return P2P_EINVAL;
    int rc = pb_key_parse(in, len, &type, &data, &dlen);
    if (rc < 0) return rc;
    if (dlen > P2P_PUBKEY_DATA_MAX) return P2P_ERANGE;
    rc = check_pubkey_data(type, data, dlen);
    if (rc < 0) return rc;
    memset(pub, 0, sizeof *pub);
    pub->type = type;
    pub->len = (uint16_t)dlen;
    memcpy(pub->data, data, dlen);
    return 0;
}

P2P_API bool p2p_pubkey_equal(const p2p_pubkey *a, const p2p_pubkey *b)
{
    return a->type == b->type && a->len == b->len && a->len <= P2P_PUBKEY_DATA_MAX &&
           memcmp(a->data, b->data, a->len) == 0;
}

#ifdef P2P_HAVE_OPENSSL
/* A secp256k1 key is a bare compressed point: OpenSSL takes it inside a
 * SubjectPublicKeyInfo (id-ecPublicKey, curve secp256k1), this header
 * followed by the 33 bytes. */
static const uint8_t SPKI_SECP256K1[] = {0x30, 0x36, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86,
                                         0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
                                         0x81, 0x04, 0x00, 0x0a, 0x03, 0x22, 0x00};

/* The key (already through check_pubkey_data) as OpenSSL's, or NULL when
 * it does not describe a usable key (a point off its curve). */
static EVP_PKEY *evp_key(const p2p_pubkey *pub)
{
    uint8_t spki[sizeof SPKI_SECP256K1 + 33];
    const uint8_t *info = pub->data;
    size_t dlen = pub->len;
    int want = EVP_PKEY_EC;
    if (pub->type == P2P_KEY_SECP256K1) {   /* 33 bytes: check_pubkey_data */
        memcpy(spki, SPKI_SECP256K1, sizeof SPKI_SECP256K1);
        memcpy(spki + sizeof SPKI_SECP256K1, pub->data, 33);
        info = spki;
        dlen = sizeof spki;
    } else if (pub->type == P2P_KEY_RSA) {
        want = EVP_PKEY_RSA;
    }
    const unsigned char *p = info;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)dlen);
    if (k && (p != info + dlen || EVP_PKEY_get_base_id(k) != want)) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    return k;
}

/* A signature of an RSA, ECDSA or secp256k1 key that passed
 * check_pubkey_data. */
static int verify_other(const p2p_pubkey *pub, const uint8_t *msg, size_t len, const uint8_t *sig,
                        size_t siglen)
{
    if (!sig || !siglen) return P2P_ECRYPTO;
    EVP_PKEY *k = evp_key(pub);
    EVP_MD_CTX *ctx = k ? EVP_MD_CTX_new() : NULL;
    /* RSA's default padding is PKCS#1 v1.5; OpenSSL's ECDSA check takes
     * strict DER only (it re-encodes what it parsed and compares). */
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
             EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    ERR_clear_error();   /* the thread's error queue is not ours to fill */
    return ok ? 0 : P2P_ECRYPTO;
}
#else
static int verify_other(const p2p_pubkey *pub, const uint8_t *msg, size_t len, const uint8_t *sig,
                        size_t siglen)
{
    (void)pub, (void)msg, (void)len, (void)sig, (void)siglen;
    return P2P_EUNSUPPORTED;
}
#endif

P2P_API int p2p_pubkey_verify(const p2p_pubkey *pub, const uint8_t *msg, size_t len,
                              const uint8_t *sig, size_t siglen)
{
    if (!pub) return P2P_EINVAL;
    if (pub->type != P2P_KEY_ED25519) {
        if (pub->len > P2P_PUBKEY_DATA_MAX) return P2P_EINVAL;
        int rc = check_pubkey_data(pub->type, pub->data, pub->len);
        return rc < 0 ? rc : verify_other(pub, msg, len, sig, siglen);
    }
    if (pub->len != crypto_sign_PUBLICKEYBYTES) return P2P_EINVAL;
    if (!sig || siglen != crypto_sign_BYTES) return P2P_ECRYPTO;
    if (sodium_init() < 0) return P2P_ECRYPTO;
    if (ed25519_verify_cached(pub->data, msg, len, sig) != 0) return P2P_ECRYPTO;
    return 0;
}

P2P_API const char *p2p_key_type_name(enum p2p_key_type t)
{
    switch (t) {
    case P2P_KEY_RSA: return "RSA";
    case P2P_KEY_ED25519: return "Ed25519";
    case P2P_KEY_SECP256K1: return "Secp256k1";
    case P2P_KEY_ECDSA: return "ECDSA";
    }
    return "unknown";
}
