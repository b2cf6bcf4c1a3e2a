/* noise_state.c - Noise CipherState / SymmetricState / XX HandshakeState
 * (see noise_state.h). Follows the Noise Protocol Framework revision 34,
 * sections 5.1-5.3 and 12 (25519, ChaChaPoly, SHA256). */
#include <string.h>

#include <sodium.h>

#include "p2p/error.h"
#include "noise_aead.h"
#include "noise_state.h"

/* ---- CipherState ------------------------------------------------------ */

/* ChaChaPoly nonce: 32 bits of zeros then the 64-bit counter little-endian. */
static void nonce_bytes(uint8_t out[12], uint64_t n)
{
    memset(out, 0, 4);
    for (int i = 0; i < 8; i++) out[4 + i] = (uint8_t)(n >> (8 * i));
}

void noise_cipher_init(noise_cipher *cs, const uint8_t *k)
{
    if (k) {
        memcpy(cs->k, k, NOISE_KEYLEN);
        cs->has_key = true;
    } else {
        sodium_memzero(cs->k, sizeof cs->k);
        cs->has_key = false;
    }
    cs->n = 0;
    cs->aead = NULL;
}

void noise_cipher_set_nonce(noise_cipher *cs, uint64_t n)
{
    cs->n = n;
}

void noise_cipher_wipe(noise_cipher *cs)
{
    sodium_memzero(cs, sizeof *cs);
}

int noise_cipher_encrypt(noise_cipher *cs, const uint8_t *ad, size_t adlen,
                         const uint8_t *pt, size_t len, uint8_t *out)
{
    if (!cs->has_key) {
        if (out != pt && len) memmove(out, pt, len);
        return 0;
    }
    if (cs->n == UINT64_MAX) return P2P_ELIMIT;
    uint8_t nonce[12];
    nonce_bytes(nonce, cs->n);
    int rc = noise_aead_seal(cs->aead, cs->k, nonce, ad, adlen, pt, len, out, out + len);
    if (rc) return rc;
    cs->n++;
    return 0;
}

int noise_cipher_decrypt(noise_cipher *cs, const uint8_t *ad, size_t adlen,
                         const uint8_t *ct, size_t len, uint8_t *out)
{
    if (!cs->has_key) {
        if (out != ct && len) memmove(out, ct, len);
        return 0;
    }
    if (len < NOISE_TAGLEN) return P2P_EPROTO;
    if (cs->n == UINT64_MAX) return P2P_ELIMIT;
    uint8_t nonce[12];
    nonce_bytes(nonce, cs->n);
    size_t body = len - NOISE_TAGLEN;
    if (noise_aead_open(cs->aead, cs->k, nonce, ad, adlen, ct, body, ct + body, out) != 0)
        return P2P_ECRYPTO;
    cs->n++;
    return 0;
}

int noise_cipher_encrypt_gather(noise_cipher *cs, struct noise_gather *g, size_t len,
                                uint8_t *dst, uint8_t tag[NOISE_TAGLEN])
{
    if (!cs->has_key) return P2P_ESTATE;
    if (cs->n == UINT64_MAX) return P2P_ELIMIT;
    uint8_t nonce[12];
    nonce_bytes(nonce, cs->n);
    int rc = noise_aead_seal_gather(cs->aead, cs->k, nonce, g, len, dst, tag);
    if (rc) return rc;
    cs->n++;
    return 0;
}

int noise_cipher_encrypt_detached(noise_cipher *cs, const uint8_t *src, size_t len,
                                  uint8_t *dst, uint8_t tag[NOISE_TAGLEN])
{
    struct p2p_iovec one = { src, len };
    struct noise_gather g = { &one, 1, 0, 0 };
    return noise_cipher_encrypt_gather(cs, &g, len, dst, tag);
}

int noise_cipher_decrypt_detached(noise_cipher *cs, const uint8_t *src, size_t len,
                                  const uint8_t tag[NOISE_TAGLEN], uint8_t *dst)
{
    if (!cs->has_key) return P2P_ESTATE;
    if (cs->n == UINT64_MAX) return P2P_ELIMIT;
    uint8_t nonce[12];
    nonce_bytes(nonce, cs->n);
    if (noise_aead_open(cs->aead, cs->k, nonce, NULL, 0, src, len, tag, dst) != 0)
        return P2P_ECRYPTO;
    cs->n++;
    return 0;
}

/* ---- SymmetricState --------------------------------------------------- */

static void hmac(const uint8_t key[NOISE_HASHLEN], const uint8_t *a, size_t alen,
                 const uint8_t *b, size_t blen, uint8_t out[NOISE_HASHLEN])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, NOISE_HASHLEN);
    if (alen) crypto_auth_hmacsha256_update(&st, a, alen);
    if (blen) crypto_auth_hmacsha256_update(&st, b, blen);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

void noise_hkdf2(const uint8_t ck[NOISE_HASHLEN], const uint8_t *ikm, size_t ikmlen,
                 uint8_t out1[NOISE_HASHLEN], uint8_t out2[NOISE_HASHLEN])
{
    uint8_t temp[NOISE_HASHLEN], o1[NOISE_HASHLEN];
    const uint8_t one = 0x01, two = 0x02;
    hmac(ck, ikm, ikmlen, NULL, 0, temp);
    hmac(temp, &one, 1, NULL, 0, o1);
    hmac(temp, o1, NOISE_HASHLEN, &two, 1, out2);
    memcpy(out1, o1, NOISE_HASHLEN);   /* out1 may alias ck: write it last */
    sodium_memzero(temp, sizeof temp);
    sodium_memzero(o1, sizeof o1);
}

void noise_symmetric_init(noise_symmetric *ss, const char *protocol_name)
{
    size_t n = strlen(protocol_name);
    memset(ss->h, 0, sizeof ss->h);
    if (n <= NOISE_HASHLEN)
        memcpy(ss->h, protocol_name, n);
    else
        crypto_hash_sha256(ss->h, (const uint8_t *)protocol_name, n);
    memcpy(ss->ck, ss->h, NOISE_HASHLEN);
    noise_cipher_init(&ss->cs, NULL);
}

void noise_symmetric_mix_key(noise_symmetric *ss, const uint8_t *ikm, size_t len)
{
    uint8_t k[NOISE_HASHLEN];
    noise_hkdf2(ss->ck, ikm, len, ss->ck, k);
    noise_cipher_init(&ss->cs, k);   /* HASHLEN == 32: no truncation */
    sodium_memzero(k, sizeof k);
}

void noise_symmetric_mix_hash(noise_symmetric *ss, const uint8_t *data, size_t len)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, ss->h, NOISE_HASHLEN);
    if (len) crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, ss->h);
}

int noise_symmetric_encrypt_and_hash(noise_symmetric *ss, const uint8_t *pt, size_t len,
                                     uint8_t *out)
{
    int rc = noise_cipher_encrypt(&ss->cs, ss->h, NOISE_HASHLEN, pt, len, out);
    if (rc) return rc;
    noise_symmetric_mix_hash(ss, out, len + (ss->cs.has_key ? NOISE_TAGLEN : 0));
    return 0;
}

int noise_symmetric_decrypt_and_hash(noise_symmetric *ss, const uint8_t *ct, size_t len,
                                     uint8_t *out)
{
    /* h must absorb the ciphertext, which an in-place decryption destroys:
     * compute the new h first and commit it only on success. */
    uint8_t h2[NOISE_HASHLEN];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, ss->h, NOISE_HASHLEN);
    if (len) crypto_hash_sha256_update(&st, ct, len);
    crypto_hash_sha256_final(&st, h2);
    int rc = noise_cipher_decrypt(&ss->cs, ss->h, NOISE_HASHLEN, ct, len, out);
    if (rc) return rc;
    memcpy(ss->h, h2, NOISE_HASHLEN);
    return 0;
}

void noise_symmetric_split(const noise_symmetric *ss, noise_cipher *c1, noise_cipher *c2)
{
    uint8_t k1[NOISE_HASHLEN], k2[NOISE_HASHLEN];
    noise_hkdf2(ss->ck, NULL, 0, k1, k2);
    noise_cipher_init(c1, k1);
    noise_cipher_init(c2, k2);
    sodium_memzero(k1, sizeof k1);
    sodium_memzero(k2, sizeof k2);
}

/* ---- HandshakeState (XX) ---------------------------------------------- */

enum tok { T_END = 0, T_E, T_S, T_EE, T_ES, T_SE, T_SS };

/* XX:  -> e
 *      <- e, ee, s, es
 *      -> s, se */
static const uint8_t xx_pattern[3][5] = {
    { T_E, T_END },
    { T_E, T_EE, T_S, T_ES, T_END },
    { T_S, T_SE, T_END },
};
#define XX_MESSAGES 3

void noise_dh_public(uint8_t pub[NOISE_DHLEN], const uint8_t priv[NOISE_DHLEN])
{
    crypto_scalarmult_base(pub, priv);
}

void noise_handshake_init(noise_handshake *hs, enum noise_role role,
                          const uint8_t *prologue, size_t prologue_len,
                          const uint8_t s[NOISE_DHLEN], const uint8_t *e)
{
    noise_handshake_init_pub(hs, role, prologue, prologue_len, s, NULL, e);
}

void noise_handshake_init_pub(noise_handshake *hs, enum noise_role role,
                              const uint8_t *prologue, size_t prologue_len,
                              const uint8_t s[NOISE_DHLEN], const uint8_t *s_pub, const uint8_t *e)
{
    memset(hs, 0, sizeof *hs);
    hs->initiator = role == NOISE_INITIATOR;
    noise_symmetric_init(&hs->ss, NOISE_PROTOCOL_NAME);
    noise_symmetric_mix_hash(&hs->ss, prologue, prologue ? prologue_len : 0);
    memcpy(hs->s, s, NOISE_DHLEN);
    if (s_pub) memcpy(hs->s_pub, s_pub, NOISE_DHLEN);
    else noise_dh_public(hs->s_pub, hs->s);
    if (e) {
        memcpy(hs->e, e, NOISE_DHLEN);
        noise_dh_public(hs->e_pub, hs->e);
        hs->has_e = true;
    }
}

bool noise_handshake_wants_write(const noise_handshake *hs)
{
    if (hs->failed || hs->msg >= XX_MESSAGES) return false;
    /* even messages are the initiator's */
    return ((hs->msg % 2) == 0) == hs->initiator;
}

bool noise_handshake_done(const noise_handshake *hs)
{
    return !hs->failed && hs->msg >= XX_MESSAGES;
}

size_t noise_handshake_write_size(const noise_handshake *hs, size_t plen)
{
    if (hs->msg >= XX_MESSAGES) return 0;
    bool keyed = hs->ss.cs.has_key;
    size_t n = 0;
    for (const uint8_t *t = xx_pattern[hs->msg]; *t != T_END; t++) {
        switch (*t) {
        case T_E: n += NOISE_DHLEN; break;
        case T_S: n += NOISE_DHLEN + (keyed ? NOISE_TAGLEN : 0); break;
        default: keyed = true; break;   /* every DH token calls MixKey */
        }
    }
    return n + plen + (keyed ? NOISE_TAGLEN : 0);
}

/* DH into MixKey. libsodium refuses low-order points (all-zero output),
 * which Noise allows us to treat as an error. */
static int mix_dh(noise_handshake *hs, const uint8_t priv[NOISE_DHLEN],
                  const uint8_t pub[NOISE_DHLEN])
{
    uint8_t shared[NOISE_DHLEN];
    if (crypto_scalarmult(shared, priv, pub) != 0) {
        sodium_memzero(shared, sizeof shared);
        return P2P_ECRYPTO;
    }
    noise_symmetric_mix_key(&hs->ss, shared, sizeof shared);
    sodium_memzero(shared, sizeof shared);
    return 0;
}

/* The DH of token t as seen from our role (Noise 5.3: "ee", "es", "se"). */
static int token_dh(noise_handshake *hs, uint8_t t)
{
    switch (t) {
    case T_EE: return mix_dh(hs, hs->e, hs->re);
    case T_ES: return hs->initiator ? mix_dh(hs, hs->e, hs->rs) : mix_dh(hs, hs->s, hs->re);
    case T_SE: return hs->initiator ? mix_dh(hs, hs->s, hs->re) : mix_dh(hs, hs->e, hs->rs);
    case T_SS: return mix_dh(hs, hs->s, hs->rs);
    default: return P2P_ESTATE;
    }
}

static int fail(noise_handshake *hs, int rc)
{
    hs->failed = true;
    sodium_memzero(&hs->ss.cs, sizeof hs->ss.cs);
    sodium_memzero(hs->ss.ck, sizeof hs->ss.ck);
    sodium_memzero(hs->e, sizeof hs->e);
    return rc;
}

int noise_handshake_write(noise_handshake *hs, const uint8_t *payload, size_t plen,
                          uint8_t *out, size_t cap, size_t *outlen)
{
    if (!noise_handshake_wants_write(hs)) return P2P_ESTATE;
    size_t need = noise_handshake_write_size(hs, plen);
    if (need > NOISE_MSG_MAX || plen > NOISE_MSG_MAX) return P2P_ERANGE;
    if (need > cap) return P2P_ERANGE;
    size_t pos = 0;
    int rc;
    for (const uint8_t *t = xx_pattern[hs->msg]; *t != T_END; t++) {
        switch (*t) {
        case T_E:
            if (!hs->has_e) {
                randombytes_buf(hs->e, NOISE_DHLEN);
                noise_dh_public(hs->e_pub, hs->e);
                hs->has_e = true;
            }
            memcpy(out + pos, hs->e_pub, NOISE_DHLEN);
            noise_symmetric_mix_hash(&hs->ss, hs->e_pub, NOISE_DHLEN);
            pos += NOISE_DHLEN;
            break;
        case T_S: {
            size_t n = NOISE_DHLEN + (hs->ss.cs.has_key ? NOISE_TAGLEN : 0);
            rc = noise_symmetric_encrypt_and_hash(&hs->ss, hs->s_pub, NOISE_DHLEN, out + pos);
            if (rc) return fail(hs, rc);
            pos += n;
            break;
        }
        default:
            rc = token_dh(hs, *t);
            if (rc) return fail(hs, rc);
            break;
        }
    }
    rc = noise_symmetric_encrypt_and_hash(&hs->ss, payload, plen, out + pos);
    if (rc) return fail(hs, rc);
    pos += plen + (hs->ss.cs.has_key ? NOISE_TAGLEN : 0);
    *outlen = pos;
    hs->msg++;
    return 0;
}

int noise_handshake_read(noise_handshake *hs, const uint8_t *msg, size_t len,
                         uint8_t *payload, size_t cap, size_t *plen)
{
    if (hs->failed || hs->msg >= XX_MESSAGES || noise_handshake_wants_write(hs))
        return P2P_ESTATE;
    if (len > NOISE_MSG_MAX) return fail(hs, P2P_EPROTO);
    size_t pos = 0;
    int rc;
    for (const uint8_t *t = xx_pattern[hs->msg]; *t != T_END; t++) {
        switch (*t) {
        case T_E:
            if (len - pos < NOISE_DHLEN) return fail(hs, P2P_EPROTO);
            memcpy(hs->re, msg + pos, NOISE_DHLEN);
            hs->has_re = true;
            noise_symmetric_mix_hash(&hs->ss, hs->re, NOISE_DHLEN);
            pos += NOISE_DHLEN;
            break;
        case T_S: {
            size_t n = NOISE_DHLEN + (hs->ss.cs.has_key ? NOISE_TAGLEN : 0);
            if (len - pos < n) return fail(hs, P2P_EPROTO);
            rc = noise_symmetric_decrypt_and_hash(&hs->ss, msg + pos, n, hs->rs);
            if (rc) return fail(hs, rc);
            hs->has_rs = true;
            pos += n;
            break;
        }
        default:
            rc = token_dh(hs, *t);
            if (rc) return fail(hs, rc);
            break;
        }
    }
    size_t rest = len - pos;
    size_t tag = hs->ss.cs.has_key ? NOISE_TAGLEN : 0;
    if (rest < tag) return fail(hs, P2P_EPROTO);
    if (rest - tag > cap) return fail(hs, P2P_ERANGE);
    rc = noise_symmetric_decrypt_and_hash(&hs->ss, msg + pos, rest, payload);
    if (rc) return fail(hs, rc);
    *plen = rest - tag;
    hs->msg++;
    return 0;
}

int noise_handshake_split(noise_handshake *hs, noise_cipher *tx, noise_cipher *rx)
{
    if (!noise_handshake_done(hs)) return P2P_ESTATE;
    if (hs->initiator)
        noise_symmetric_split(&hs->ss, tx, rx);
    else
        noise_symmetric_split(&hs->ss, rx, tx);
    /* keep h (public: channel binding), drop every secret */
    sodium_memzero(&hs->ss.cs, sizeof hs->ss.cs);
    sodium_memzero(hs->ss.ck, sizeof hs->ss.ck);
    sodium_memzero(hs->s, sizeof hs->s);
    sodium_memzero(hs->e, sizeof hs->e);
    return 0;
}

const uint8_t *noise_handshake_hash(const noise_handshake *hs)
{
    return hs->ss.h;
}

const uint8_t *noise_handshake_remote_static(const noise_handshake *hs)
{
    return hs->has_rs ? hs->rs : NULL;
}

void noise_handshake_wipe(noise_handshake *hs)
{
    sodium_memzero(hs, sizeof *hs);
}
