/* noise_hs.c - the libp2p Noise handshake (see noise_hs.h). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "p2p/error.h"
#include "noise_hs.h"
#include "payload.pb-c.h"

#define SIG_PREFIX_LEN (sizeof NOISE_SIG_PREFIX - 1)
/* The most a handshake message adds around its payload (message 2:
 * e, encrypted s with its tag, payload tag). */
#define HS_OVERHEAD_MAX (NOISE_DHLEN + NOISE_DHLEN + NOISE_TAGLEN + NOISE_TAGLEN)

struct noise_hs {
    noise_handshake nh;
    uint8_t *payload;            /* our signed payload, built at creation */
    size_t payload_len;
    char **muxers;               /* ours, copied */
    size_t n_muxers;
    bool has_expected;
    p2p_peerid expected;
    bool verified;               /* the remote payload checked out */
    p2p_pubkey remote_key;
    p2p_peerid remote_peer;
    char **remote_muxers;
    size_t n_remote_muxers;
    bool failed;
    bool split;
};

/* ---- string lists ----------------------------------------------------- */

static void strv_free(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static int muxer_id_ok(const uint8_t *s, size_t n)
{
    return n >= 1 && n <= NOISE_HS_MUXER_LEN_MAX && !memchr(s, 0, n);
}

static char *dup_bytes(const uint8_t *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* ---- payload ---------------------------------------------------------- */

int noise_hs_payload_encode(const p2p_keypair *identity, const uint8_t static_pub[NOISE_DHLEN],
                            const char *const *muxers, size_t n_muxers,
                            uint8_t **out, size_t *outlen)
{
    if (!identity || !static_pub || !out || !outlen || (n_muxers && !muxers))
        return P2P_EINVAL;
    if (n_muxers > NOISE_HS_MUXERS_MAX) return P2P_ERANGE;

    p2p_pubkey pub;
    uint8_t keypb[P2P_PUBKEY_PB_MAX];
    p2p_keypair_public(identity, &pub);
    int n = p2p_pubkey_encode(&pub, keypb, sizeof keypb);
    if (n < 0) return n;

    uint8_t tosign[SIG_PREFIX_LEN + NOISE_DHLEN];
    uint8_t sig[P2P_ED25519_SIG_LEN];
    memcpy(tosign, NOISE_SIG_PREFIX, SIG_PREFIX_LEN);
    memcpy(tosign + SIG_PREFIX_LEN, static_pub, NOISE_DHLEN);
    p2p_keypair_sign(identity, tosign, sizeof tosign, sig);

    ProtobufCBinaryData ids[NOISE_HS_MUXERS_MAX];
    for (size_t i = 0; i < n_muxers; i++) {
        if (!muxers[i]) return P2P_EINVAL;
        size_t l = strnlen(muxers[i], NOISE_HS_MUXER_LEN_MAX + 1);
        if (l == 0) return P2P_EINVAL;
        if (l > NOISE_HS_MUXER_LEN_MAX) return P2P_ERANGE;
        ids[i].data = (uint8_t *)(uintptr_t)muxers[i];
        ids[i].len = l;
    }
    P2p__Noise__NoiseExtensions ext = P2P__NOISE__NOISE_EXTENSIONS__INIT;
    ext.n_stream_muxers = n_muxers;
    ext.stream_muxers = ids;

    P2p__Noise__NoiseHandshakePayload pb = P2P__NOISE__NOISE_HANDSHAKE_PAYLOAD__INIT;
    pb.has_identity_key = 1;
    pb.identity_key.data = keypb;
    pb.identity_key.len = (size_t)n;
    pb.has_identity_sig = 1;
    pb.identity_sig.data = sig;
    pb.identity_sig.len = sizeof sig;
    pb.extensions = n_muxers ? &ext : NULL;

    size_t len = p2p__noise__noise_handshake_payload__get_packed_size(&pb);
    if (len + HS_OVERHEAD_MAX > NOISE_MSG_MAX) return P2P_ERANGE;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return P2P_ENOMEM;
    *outlen = p2p__noise__noise_handshake_payload__pack(&pb, buf);
    *out = buf;
    return 0;
}

/* Check a remote payload against the remote static key; fill the results. */
static int payload_verify(noise_hs *hs, const uint8_t *p, size_t len)
{
    const uint8_t *rs = noise_handshake_remote_static(&hs->nh);
    if (!rs) return P2P_EPROTO;
    P2p__Noise__NoiseHandshakePayload *pb =
        p2p__noise__noise_handshake_payload__unpack(NULL, len, p);
    if (!pb) return P2P_EPROTO;

    int rc = P2P_EPROTO;
    p2p_pubkey key;
    if (!pb->has_identity_key || !pb->has_identity_sig || !pb->identity_sig.len) goto out;
    if (p2p_pubkey_decode(&key, pb->identity_key.data, pb->identity_key.len) < 0) goto out;

    /* Authenticate first, then check who it is: P2P_EPEERID then means
     * the remote really holds the other key. */
    uint8_t msg[SIG_PREFIX_LEN + NOISE_DHLEN];
    memcpy(msg, NOISE_SIG_PREFIX, SIG_PREFIX_LEN);
    memcpy(msg + SIG_PREFIX_LEN, rs, NOISE_DHLEN);
    rc = p2p_pubkey_verify(&key, msg, sizeof msg, pb->identity_sig.data, pb->identity_sig.len);
    if (rc == P2P_EUNSUPPORTED) goto out;   /* a key type we cannot verify */
    if (rc) { rc = P2P_ECRYPTO; goto out; }

    p2p_peerid id;
    rc = p2p_peerid_from_pubkey(&id, &key);
    if (rc) { rc = P2P_EPROTO; goto out; }
    if (hs->has_expected && !p2p_peerid_equal(&hs->expected, &id)) {
        rc = P2P_EPEERID;
        goto out;
    }

    /* Early data is advisory: a list over the limit is ignored as a whole
     * (as go-libp2p does), and entries that cannot name a protocol we
     * could offer (empty, too long, embedded NUL) are skipped. */
    char **mux = NULL;
    size_t nm = 0;
    const P2p__Noise__NoiseExtensions *ext = pb->extensions;
    if (ext && ext->n_stream_muxers && ext->n_stream_muxers <= NOISE_HS_MUXERS_MAX) {
        mux = calloc(ext->n_stream_muxers, sizeof *mux);
        if (!mux) { rc = P2P_ENOMEM; goto out; }
        for (size_t i = 0; i < ext->n_stream_muxers; i++) {
            const ProtobufCBinaryData *m = &ext->stream_muxers[i];
            if (!muxer_id_ok(m->data, m->len)) continue;
            mux[nm] = dup_bytes(m->data, m->len);
            if (!mux[nm]) {
                strv_free(mux, nm);
                rc = P2P_ENOMEM;
                goto out;
            }
            nm++;
        }
        if (!nm) {
            free(mux);
            mux = NULL;
        }
    }
    hs->remote_key = key;
    hs->remote_peer = id;
    hs->remote_muxers = mux;
    hs->n_remote_muxers = nm;
    hs->verified = true;
    rc = 0;
out:
    p2p__noise__noise_handshake_payload__free_unpacked(pb, NULL);
    return rc;
}

/* ---- lifecycle -------------------------------------------------------- */

int noise_hs_new(noise_hs **out, const struct noise_hs_config *cfg)
{
    if (!out || !cfg || !cfg->identity) return P2P_EINVAL;
    if (cfg->role != NOISE_INITIATOR && cfg->role != NOISE_RESPONDER) return P2P_EINVAL;
    if (cfg->n_muxers && !cfg->muxers) return P2P_EINVAL;
    if (cfg->n_muxers > NOISE_HS_MUXERS_MAX) return P2P_ERANGE;
    *out = NULL;
    if (sodium_init() < 0) return P2P_ECRYPTO;

    noise_hs *hs = calloc(1, sizeof *hs);
    if (!hs) return P2P_ENOMEM;
    uint8_t s[NOISE_DHLEN];
    if (cfg->static_key)
        memcpy(s, cfg->static_key, NOISE_DHLEN);
    else
        randombytes_buf(s, sizeof s);
    noise_handshake_init_pub(&hs->nh, cfg->role, NULL, 0, s, cfg->static_key ? cfg->static_pub : NULL,
                             cfg->ephemeral_key);
    sodium_memzero(s, sizeof s);

    int rc = 0;
    if (cfg->payload && cfg->static_key) {
        hs->payload = malloc(cfg->payload_len ? cfg->payload_len : 1);
        if (!hs->payload) { rc = P2P_ENOMEM; goto fail; }
        memcpy(hs->payload, cfg->payload, cfg->payload_len);
        hs->payload_len = cfg->payload_len;
    } else {
        rc = noise_hs_payload_encode(cfg->identity, hs->nh.s_pub, cfg->muxers, cfg->n_muxers, &hs->payload,
                                     &hs->payload_len);
        if (rc) goto fail;
    }
    if (cfg->n_muxers) {
        hs->muxers = calloc(cfg->n_muxers, sizeof *hs->muxers);
        if (!hs->muxers) { rc = P2P_ENOMEM; goto fail; }
        for (; hs->n_muxers < cfg->n_muxers; hs->n_muxers++) {
            const char *m = cfg->muxers[hs->n_muxers];
            hs->muxers[hs->n_muxers] = dup_bytes((const uint8_t *)m, strlen(m));
            if (!hs->muxers[hs->n_muxers]) { rc = P2P_ENOMEM; goto fail; }
        }
    }
    if (cfg->expected_peer) {
        hs->has_expected = true;
        hs->expected = *cfg->expected_peer;
    }
    *out = hs;
    return 0;
fail:
    noise_hs_free(hs);
    return rc;
}

void noise_hs_free(noise_hs *hs)
{
    if (!hs) return;
    free(hs->payload);
    strv_free(hs->muxers, hs->n_muxers);
    strv_free(hs->remote_muxers, hs->n_remote_muxers);
    noise_handshake_wipe(&hs->nh);
    sodium_memzero(hs, sizeof *hs);
    free(hs);
}

static int hs_fail(noise_hs *hs, int rc)
{
    hs->failed = true;
    hs->verified = false;   /* early data must be discarded on failure */
    strv_free(hs->remote_muxers, hs->n_remote_muxers);
    hs->remote_muxers = NULL;
    hs->n_remote_muxers = 0;
    noise_handshake_wipe(&hs->nh);
    hs->nh.failed = true;
    return rc;
}

bool noise_hs_wants_write(const noise_hs *hs)
{
    return !hs->failed && noise_handshake_wants_write(&hs->nh);
}

bool noise_hs_done(const noise_hs *hs)
{
    return !hs->failed && noise_handshake_done(&hs->nh) && hs->verified;
}

bool noise_hs_failed(const noise_hs *hs)
{
    return hs->failed;
}

/* ---- messages --------------------------------------------------------- */

int noise_hs_write(noise_hs *hs, p2p_buf *out)
{
    if (!noise_hs_wants_write(hs)) return P2P_ESTATE;
    /* message 1 carries no payload; 2 and 3 carry ours */
    bool first = hs->nh.msg == 0;
    const uint8_t *pl = first ? NULL : hs->payload;
    size_t plen = first ? 0 : hs->payload_len;
    size_t n = noise_handshake_write_size(&hs->nh, plen);
    int rc = p2p_buf_reserve(out, NOISE_FRAME_HDR + n);
    if (rc) return rc;
    uint8_t *f = p2p_buf_tail(out);
    size_t written;
    rc = noise_handshake_write(&hs->nh, pl, plen, f + NOISE_FRAME_HDR, n, &written);
    if (rc) return hs_fail(hs, rc);
    f[0] = (uint8_t)(written >> 8);
    f[1] = (uint8_t)written;
    p2p_buf_commit(out, NOISE_FRAME_HDR + written);
    return 0;
}

int noise_hs_read(noise_hs *hs, const uint8_t *in, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (hs->failed || hs->split || noise_handshake_done(&hs->nh) ||
        noise_handshake_wants_write(&hs->nh))
        return P2P_ESTATE;
    if (len < NOISE_FRAME_HDR) return P2P_ETRUNC;
    size_t l = ((size_t)in[0] << 8) | in[1];
    if (len - NOISE_FRAME_HDR < l) return P2P_ETRUNC;
    *consumed = NOISE_FRAME_HDR + l;

    bool first = hs->nh.msg == 0;
    uint8_t *pl = malloc(l ? l : 1);
    if (!pl) return hs_fail(hs, P2P_ENOMEM);
    size_t plen = 0;
    int rc = noise_handshake_read(&hs->nh, in + NOISE_FRAME_HDR, l, pl, l, &plen);
    if (!rc) {
        if (first)
            rc = plen ? P2P_EPROTO : 0;   /* the spec forbids a payload in message 1 */
        else
            rc = payload_verify(hs, pl, plen);
    }
    sodium_memzero(pl, plen);
    free(pl);
    return rc ? hs_fail(hs, rc) : 0;
}

int noise_hs_split(noise_hs *hs, noise_transport *t)
{
    if (!noise_hs_done(hs) || hs->split) return P2P_ESTATE;
    noise_cipher tx, rx;
    int rc = noise_handshake_split(&hs->nh, &tx, &rx);
    if (rc) return rc;
    noise_transport_init(t, &tx, &rx);
    noise_cipher_wipe(&tx);
    noise_cipher_wipe(&rx);
    hs->split = true;
    return 0;
}

/* ---- results ---------------------------------------------------------- */

const p2p_pubkey *noise_hs_remote_key(const noise_hs *hs)
{
    return hs->verified && !hs->failed ? &hs->remote_key : NULL;
}

const p2p_peerid *noise_hs_remote_peer(const noise_hs *hs)
{
    return hs->verified && !hs->failed ? &hs->remote_peer : NULL;
}

const char *const *noise_hs_remote_muxers(const noise_hs *hs, size_t *n)
{
    if (!hs->verified || hs->failed || !hs->n_remote_muxers) {
        if (n) *n = 0;
        return NULL;
    }
    if (n) *n = hs->n_remote_muxers;
    return (const char *const *)hs->remote_muxers;
}

const char *noise_hs_selected_muxer(const noise_hs *hs)
{
    if (!noise_hs_done(hs) || !hs->n_muxers || !hs->n_remote_muxers) return NULL;
    /* go-libp2p's rule (and the spec's worked example): the first entry of
     * the responder's list that the initiator also lists. Both sides must
     * use the same rule, so we follow the implementation. */
    bool init = hs->nh.initiator;
    char *const *rlist = init ? hs->remote_muxers : hs->muxers;
    size_t nr = init ? hs->n_remote_muxers : hs->n_muxers;
    char *const *ilist = init ? hs->muxers : hs->remote_muxers;
    size_t ni = init ? hs->n_muxers : hs->n_remote_muxers;
    for (size_t j = 0; j < nr; j++)
        for (size_t i = 0; i < ni; i++)
            if (strcmp(rlist[j], ilist[i]) == 0) return rlist[j];
    return NULL;
}

const uint8_t *noise_hs_local_static(const noise_hs *hs)
{
    return hs->nh.s_pub;
}

const uint8_t *noise_hs_handshake_hash(const noise_hs *hs)
{
    return noise_handshake_done(&hs->nh) ? noise_handshake_hash(&hs->nh) : NULL;
}
