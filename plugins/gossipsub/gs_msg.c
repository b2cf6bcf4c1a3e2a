/* gs_msg.c - see gs_msg.h. */
#include "gs_msg.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/varint.h"

const char *gs_invalid_str(enum gs_invalid r)
{
    switch (r) {
    case GS_VALID: return "valid";
    case GS_INVALID_TOPIC: return "missing or invalid topic";
    case GS_INVALID_TOO_LARGE: return "data larger than the maximum message size";
    case GS_INVALID_MISSING_SIG: return "missing signature, author or sequence number";
    case GS_INVALID_BAD_FROM: return "author is not a PeerId";
    case GS_INVALID_BAD_SEQNO: return "sequence number is not 8 bytes";
    case GS_INVALID_UNEXPECTED_SIG: return "unexpected signature or key";
    case GS_INVALID_UNEXPECTED_AUTH: return "unexpected author or sequence number";
    case GS_INVALID_BAD_KEY: return "signing key invalid or not the author's";
    case GS_INVALID_SIGNATURE: return "invalid signature";
    }
    return "?";
}

struct gs_msg *gs_msg_ref(struct gs_msg *m)
{
    if (m) m->refs++;
    return m;
}

void gs_msg_unref(struct gs_msg *m)
{
    if (m && --m->refs == 0) free(m);
}

/* ---- encoding ------------------------------------------------------------------ */

struct fields {
    const uint8_t *from;
    size_t from_len;
    bool has_data;
    const uint8_t *data;
    size_t len;
    const uint8_t *seqno;      /* GS_SEQNO_LEN bytes or NULL */
    const char *topic;
    size_t topic_len;
    bool has_sig;
    const uint8_t *sig;
    size_t sig_len;
    bool has_key;
    const uint8_t *key;
    size_t key_len;
};

static size_t field_size(size_t n)
{
    return 1 + p2p_varint_size(n) + n;   /* every tag here is one byte */
}

static uint8_t *put_field(uint8_t *p, unsigned field, const void *v, size_t n)
{
    *p++ = (uint8_t)(field << 3 | 2);
    p += p2p_varint_encode(n, p);
    if (n) memcpy(p, v, n);
    return p + n;
}

static size_t unsigned_size(const struct fields *f)
{
    size_t n = field_size(f->topic_len);
    if (f->from) n += field_size(f->from_len);
    if (f->has_data) n += field_size(f->len);
    if (f->seqno) n += field_size(GS_SEQNO_LEN);
    return n;
}

/* One allocation: the struct, the encoding, the topic string. */
static struct gs_msg *msg_build(const struct fields *f)
{
    size_t us = unsigned_size(f);
    size_t enc_len = us + (f->has_sig ? field_size(f->sig_len) : 0) + (f->has_key ? field_size(f->key_len) : 0);
    struct gs_msg *m = malloc(sizeof *m + enc_len + f->topic_len + 1);
    if (!m) return NULL;
    memset(m, 0, sizeof *m);
    m->refs = 1;
    uint8_t *enc = (uint8_t *)(m + 1), *p = enc;
    if (f->from) {
        p = put_field(p, 1, f->from, f->from_len);
        m->has_from = true;
        m->from.len = (uint8_t)f->from_len;
        memcpy(m->from.bytes, f->from, f->from_len);
    }
    if (f->has_data) {
        p = put_field(p, 2, f->data, f->len);
        m->has_data = true;
        m->data = p - f->len;
        m->len = f->len;
    }
    if (f->seqno) {
        p = put_field(p, 3, f->seqno, GS_SEQNO_LEN);
        m->has_seqno = true;
        memcpy(m->seqno, f->seqno, GS_SEQNO_LEN);
    }
    p = put_field(p, 4, f->topic, f->topic_len);
    m->unsigned_len = (size_t)(p - enc);
    if (f->has_sig) {
        p = put_field(p, 5, f->sig, f->sig_len);
        m->sig = p - f->sig_len;
        m->sig_len = f->sig_len;
    }
    if (f->has_key) {
        p = put_field(p, 6, f->key, f->key_len);
        m->key = p - f->key_len;
        m->key_len = f->key_len;
    }
    m->enc = enc;
    m->enc_len = (size_t)(p - enc);
    char *t = (char *)enc + enc_len;
    memcpy(t, f->topic, f->topic_len);
    t[f->topic_len] = 0;
    m->topic = t;
    m->topic_len = f->topic_len;
    return m;
}

/* The signed bytes: prefix + fields 1..4. Returns a malloc'ed buffer. */
static uint8_t *sign_input(const uint8_t *enc, size_t unsigned_len, size_t *len)
{
    size_t pl = sizeof GS_SIGN_PREFIX - 1;
    uint8_t *b = malloc(pl + unsigned_len);
    if (!b) return NULL;
    memcpy(b, GS_SIGN_PREFIX, pl);
    memcpy(b + pl, enc, unsigned_len);
    *len = pl + unsigned_len;
    return b;
}

static void set_id(struct gs_msg *m, enum gs_id_mode idm)
{
    m->id_len = gs_msg_id(idm, m, m->id);
}

int gs_msg_publish(struct gs_msg **out, enum gs_sign_policy pol, enum gs_id_mode idm, const p2p_keypair *kp,
                   const p2p_peerid *self, uint64_t seqno, const char *topic, const uint8_t *data, size_t len)
{
    *out = NULL;
    uint8_t sq[GS_SEQNO_LEN];
    for (int i = 0; i < GS_SEQNO_LEN; i++) sq[i] = (uint8_t)(seqno >> (8 * (GS_SEQNO_LEN - 1 - i)));
    struct fields f = { .has_data = true, .data = data, .len = len, .topic = topic, .topic_len = strlen(topic) };
    if (pol != GS_SIGN_ANONYMOUS) {
        f.from = self->bytes;
        f.from_len = self->len;
        f.seqno = sq;
    }
    struct gs_msg *m = msg_build(&f);
    if (!m) return P2P_ENOMEM;
    if (pol == GS_SIGN_STRICT) {
        size_t il;
        uint8_t *in = sign_input(m->enc, m->unsigned_len, &il);
        if (!in) {
            gs_msg_unref(m);
            return P2P_ENOMEM;
        }
        uint8_t sig[P2P_ED25519_SIG_LEN];
        p2p_keypair_sign(kp, in, il, sig);
        free(in);
        /* Our key is inlined in our (identity) PeerId: no key field. */
        uint8_t pkpb[P2P_PUBKEY_PB_MAX];
        p2p_pubkey pub;
        int kl = 0;
        if (p2p_peerid_pubkey(self, &pub) < 0) {
            p2p_keypair_public(kp, &pub);
            kl = p2p_pubkey_encode(&pub, pkpb, sizeof pkpb);
        }
        f.has_sig = true;
        f.sig = sig;
        f.sig_len = sizeof sig;
        if (kl > 0) {
            f.has_key = true;
            f.key = pkpb;
            f.key_len = (size_t)kl;
        }
        gs_msg_unref(m);
        m = msg_build(&f);
        if (!m) return P2P_ENOMEM;
    }
    set_id(m, idm);
    *out = m;
    return 0;
}

int gs_msg_view_pb(struct gs_msg *v, const Gspb__Message *pb, enum gs_sign_policy pol, enum gs_id_mode idm,
                   size_t max_data, size_t max_topic)
{
    memset(v, 0, sizeof *v);
    if (!pb->has_topic || !pb->topic.data || pb->topic.len == 0 || pb->topic.len > max_topic ||
        memchr(pb->topic.data, 0, pb->topic.len))
        return GS_INVALID_TOPIC;
    if (pb->has_data && pb->data.len > max_data) return GS_INVALID_TOO_LARGE;
    if (pb->has_from && p2p_peerid_from_bytes(&v->from, pb->from.data, pb->from.len) < 0) return GS_INVALID_BAD_FROM;
    if (pb->has_seqno && pb->seqno.len != GS_SEQNO_LEN) return GS_INVALID_BAD_SEQNO;
    switch (pol) {
    case GS_SIGN_STRICT:
        if (!pb->has_signature || !pb->has_from || !pb->has_seqno) return GS_INVALID_MISSING_SIG;
        break;
    case GS_SIGN_NONE:
        if (pb->has_signature || pb->has_key) return GS_INVALID_UNEXPECTED_SIG;
        break;
    case GS_SIGN_ANONYMOUS:
        if (pb->has_signature || pb->has_key) return GS_INVALID_UNEXPECTED_SIG;
        if (pb->has_from || pb->has_seqno) return GS_INVALID_UNEXPECTED_AUTH;
        break;
    }
    v->topic = (const char *)pb->topic.data;
    v->topic_len = pb->topic.len;
    v->has_data = pb->has_data;
    v->data = pb->has_data ? pb->data.data : NULL;
    v->len = pb->has_data ? pb->data.len : 0;
    v->has_from = pb->has_from;
    v->has_seqno = pb->has_seqno;
    if (pb->has_seqno) memcpy(v->seqno, pb->seqno.data, GS_SEQNO_LEN);
    /* Present but empty fields may come without data: NULL means absent. */
    static const uint8_t none[1];
    if (pb->has_signature) {
        v->sig = pb->signature.data ? pb->signature.data : none;
        v->sig_len = pb->signature.len;
    }
    if (pb->has_key) {
        v->key = pb->key.data ? pb->key.data : none;
        v->key_len = pb->key.len;
    }
    set_id(v, idm);
    if (v->id_len == 0) {
        /* The id mode needs fields this message lacks. */
        return pol == GS_SIGN_ANONYMOUS ? GS_INVALID_UNEXPECTED_AUTH : GS_INVALID_MISSING_SIG;
    }
    return GS_VALID;
}

struct gs_msg *gs_msg_from_view(const struct gs_msg *v)
{
    struct fields f = {
        .from = v->has_from ? v->from.bytes : NULL,
        .from_len = v->from.len,
        .has_data = v->has_data,
        .data = v->data,
        .len = v->len,
        .seqno = v->has_seqno ? v->seqno : NULL,
        .topic = v->topic,
        .topic_len = v->topic_len,
        .has_sig = v->sig != NULL,
        .sig = v->sig,
        .sig_len = v->sig_len,
        .has_key = v->key != NULL,
        .key = v->key,
        .key_len = v->key_len,
    };
    struct gs_msg *m = msg_build(&f);
    if (!m) return NULL;
    memcpy(m->id, v->id, v->id_len);
    m->id_len = v->id_len;
    return m;
}

int gs_msg_from_pb(struct gs_msg **out, const Gspb__Message *pb, enum gs_sign_policy pol, enum gs_id_mode idm,
                   size_t max_data, size_t max_topic)
{
    struct gs_msg v;
    *out = NULL;
    int why = gs_msg_view_pb(&v, pb, pol, idm, max_data, max_topic);
    if (why != GS_VALID) return why;
    *out = gs_msg_from_view(&v);
    return *out ? GS_VALID : P2P_ENOMEM;
}

/* The author's public key: the key field (which must match from) or the
 * key inlined in from. */
static enum gs_invalid author_key(const struct gs_msg *m, p2p_pubkey *pub)
{
    if (!m->has_from) return GS_INVALID_MISSING_SIG;
    if (m->key) {
        if (p2p_pubkey_decode(pub, m->key, m->key_len) < 0) return GS_INVALID_BAD_KEY;
        if (!p2p_peerid_matches(&m->from, pub)) return GS_INVALID_BAD_KEY;
        return GS_VALID;
    }
    return p2p_peerid_pubkey(&m->from, pub) == 0 ? GS_VALID : GS_INVALID_BAD_KEY;
}

enum gs_invalid gs_msg_verify(const struct gs_msg *m, enum gs_sign_policy pol)
{
    if (pol != GS_SIGN_STRICT) return GS_VALID;
    if (!m->sig) return GS_INVALID_MISSING_SIG;
    p2p_pubkey pub;
    enum gs_invalid r = author_key(m, &pub);
    if (r != GS_VALID) return r;
    size_t il;
    uint8_t *in = sign_input(m->enc, m->unsigned_len, &il);
    if (!in) return GS_INVALID_SIGNATURE;   /* cannot check: treat as unverified */
    int rc = p2p_pubkey_verify(&pub, in, il, m->sig, m->sig_len);
    free(in);
    return rc == 0 ? GS_VALID : GS_INVALID_SIGNATURE;
}

size_t gs_msg_id(enum gs_id_mode idm, const struct gs_msg *m, uint8_t out[GS_MSGID_MAX])
{
    switch (idm) {
    case GS_ID_FROM_SEQNO:
        if (!m->has_from || !m->has_seqno) return 0;
        memcpy(out, m->from.bytes, m->from.len);
        memcpy(out + m->from.len, m->seqno, GS_SEQNO_LEN);
        return m->from.len + GS_SEQNO_LEN;
    case GS_ID_FROM_SEQNO_TEXT: {
        if (!m->has_from || !m->has_seqno) return 0;
        char s[P2P_PEERID_STRMAX];
        if (p2p_peerid_to_string(&m->from, s, sizeof s) < 0) return 0;
        uint64_t v = 0;
        for (int i = 0; i < GS_SEQNO_LEN; i++) v = v << 8 | m->seqno[i];
        int n = snprintf((char *)out, GS_MSGID_MAX, "%s%llu", s, (unsigned long long)v);
        return n > 0 && n < GS_MSGID_MAX ? (size_t)n : 0;
    }
    case GS_ID_KEY_SEQNO: {
        if (!m->has_from || !m->has_seqno) return 0;
        p2p_pubkey pub;
        if (author_key(m, &pub) != GS_VALID) return 0;
        uint8_t pb[P2P_PUBKEY_PB_MAX];
        int n = p2p_pubkey_encode(&pub, pb, sizeof pb);
        if (n <= 0 || (size_t)n + GS_SEQNO_LEN > GS_MSGID_MAX) return 0;
        memcpy(out, pb, (size_t)n);
        memcpy(out + n, m->seqno, GS_SEQNO_LEN);
        return (size_t)n + GS_SEQNO_LEN;
    }
    case GS_ID_CONTENT:
        crypto_hash_sha256(out, m->data ? m->data : (const uint8_t *)"", m->len);
        return crypto_hash_sha256_BYTES;
    }
    return 0;
}
