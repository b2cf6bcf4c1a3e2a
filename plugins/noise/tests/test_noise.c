/* The libp2p Noise logic: Noise XX test vectors, the libp2p handshake in
 * memory, PeerId and signature checks, transport framing, malformed input. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "p2p/p2p.h"
#include "testutil.h"

#include "noise_aead.h"
#include "noise_hs.h"
#include "noise_state.h"
#include "noise_transport.h"
#include "payload.pb-c.h"
#include "vectors/noise_xx_vectors.h"

#define N_VECTORS (sizeof noise_xx_vectors / sizeof noise_xx_vectors[0])

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    int n = p2p_test_unhex(hex, out, cap);
    ck_assert_int_ge(n, 0);
    return (size_t)n;
}

/* ---- (1) Noise test vectors ------------------------------------------- */

START_TEST(vectors)
{
    const struct noise_vector *v = &noise_xx_vectors[_i];
    uint8_t prologue[256], is[32], ie[32], rs[32], re[32], hh[32];
    size_t plen = unhex(v->prologue, prologue, sizeof prologue);
    ck_assert_uint_eq(unhex(v->init_static, is, 32), 32);
    ck_assert_uint_eq(unhex(v->init_ephemeral, ie, 32), 32);
    ck_assert_uint_eq(unhex(v->resp_static, rs, 32), 32);
    ck_assert_uint_eq(unhex(v->resp_ephemeral, re, 32), 32);

    noise_handshake hi, hr;
    noise_handshake_init(&hi, NOISE_INITIATOR, prologue, plen, is, ie);
    /* The responder as the plugin starts it: the static key's public half
     * computed once beforehand (noise_handshake_init_pub). */
    uint8_t rs_pub[32];
    noise_dh_public(rs_pub, rs);
    noise_handshake_init_pub(&hr, NOISE_RESPONDER, prologue, plen, rs, rs_pub, re);
    noise_transport ti, tr;
    static uint8_t payload[4096], expect[4096], out[4096], got[4096];

    for (unsigned m = 0; m < v->n_messages; m++) {
        size_t pl = unhex(v->messages[m].payload, payload, sizeof payload);
        size_t el = unhex(v->messages[m].ciphertext, expect, sizeof expect);
        bool from_init = m % 2 == 0;
        if (m < 3) {
            noise_handshake *w = from_init ? &hi : &hr, *r = from_init ? &hr : &hi;
            ck_assert(noise_handshake_wants_write(w));
            ck_assert(!noise_handshake_wants_write(r));
            ck_assert_uint_eq(noise_handshake_write_size(w, pl), el);
            size_t ol = 0, gl = 0;
            ck_assert_int_eq(noise_handshake_write(w, payload, pl, out, sizeof out, &ol), 0);
            ck_assert_uint_eq(ol, el);
            ck_assert_mem_eq(out, expect, el);
            ck_assert_int_eq(noise_handshake_read(r, expect, el, got, sizeof got, &gl), 0);
            ck_assert_uint_eq(gl, pl);
            ck_assert_mem_eq(got, payload, pl);
            if (m == 2) {
                ck_assert(noise_handshake_done(&hi));
                ck_assert(noise_handshake_done(&hr));
                ck_assert_mem_eq(noise_handshake_hash(&hi), noise_handshake_hash(&hr), 32);
                if (*v->handshake_hash) {
                    unhex(v->handshake_hash, hh, 32);
                    ck_assert_mem_eq(noise_handshake_hash(&hi), hh, 32);
                }
                ck_assert_mem_eq(noise_handshake_remote_static(&hi), hr.s_pub, 32);
                ck_assert_mem_eq(noise_handshake_remote_static(&hr), hi.s_pub, 32);
                noise_cipher tx, rx;
                ck_assert_int_eq(noise_handshake_split(&hi, &tx, &rx), 0);
                noise_transport_init(&ti, &tx, &rx);
                ck_assert_int_eq(noise_handshake_split(&hr, &tx, &rx), 0);
                noise_transport_init(&tr, &tx, &rx);
            }
        } else {
            /* Transport messages through the framing layer: the frame is
             * the vector's ciphertext behind a 2-byte length. */
            noise_transport *w = from_init ? &ti : &tr, *r = from_init ? &tr : &ti;
            p2p_buf b;
            p2p_buf_init(&b, 0);
            ck_assert_int_eq(noise_transport_encrypt(w, payload, pl, &b), 0);
            ck_assert_uint_eq(b.len, el + 2);
            ck_assert_uint_eq(p2p_buf_head(&b)[0], el >> 8);
            ck_assert_uint_eq(p2p_buf_head(&b)[1], el & 0xff);
            ck_assert_mem_eq(p2p_buf_head(&b) + 2, expect, el);
            uint8_t *pt;
            size_t ptl, used;
            ck_assert_int_eq(noise_transport_open(r, p2p_buf_head(&b), b.len, &used, &pt, &ptl), 0);
            ck_assert_uint_eq(used, el + 2);
            ck_assert_uint_eq(ptl, pl);
            ck_assert_mem_eq(pt, payload, pl);
            p2p_buf_free(&b);
        }
    }
}
END_TEST

/* The same vectors through the plain CipherState API (EncryptWithAd with
 * empty ad), checking the nonce layout independently of the framing. */
START_TEST(vectors_cipherstate)
{
    const struct noise_vector *v = &noise_xx_vectors[_i];
    uint8_t prologue[256], is[32], ie[32], rs[32], re[32];
    size_t plen = unhex(v->prologue, prologue, sizeof prologue);
    unhex(v->init_static, is, 32);
    unhex(v->init_ephemeral, ie, 32);
    unhex(v->resp_static, rs, 32);
    unhex(v->resp_ephemeral, re, 32);
    noise_handshake hi, hr;
    noise_handshake_init(&hi, NOISE_INITIATOR, prologue, plen, is, ie);
    noise_handshake_init(&hr, NOISE_RESPONDER, prologue, plen, rs, re);
    static uint8_t payload[4096], expect[4096], out[4096];
    size_t ol, gl;
    for (unsigned m = 0; m < 3; m++) {
        size_t pl = unhex(v->messages[m].payload, payload, sizeof payload);
        noise_handshake *w = m % 2 ? &hr : &hi, *r = m % 2 ? &hi : &hr;
        ck_assert_int_eq(noise_handshake_write(w, payload, pl, out, sizeof out, &ol), 0);
        ck_assert_int_eq(noise_handshake_read(r, out, ol, expect, sizeof expect, &gl), 0);
    }
    noise_cipher itx, irx, rtx, rrx;
    ck_assert_int_eq(noise_handshake_split(&hi, &itx, &irx), 0);
    ck_assert_int_eq(noise_handshake_split(&hr, &rtx, &rrx), 0);
    ck_assert_mem_eq(itx.k, rrx.k, 32);
    ck_assert_mem_eq(irx.k, rtx.k, 32);
    for (unsigned m = 3; m < v->n_messages; m++) {
        size_t pl = unhex(v->messages[m].payload, payload, sizeof payload);
        size_t el = unhex(v->messages[m].ciphertext, expect, sizeof expect);
        noise_cipher *tx = m % 2 ? &rtx : &itx, *rx = m % 2 ? &irx : &rrx;
        /* in place */
        memcpy(out, payload, pl);
        ck_assert_int_eq(noise_cipher_encrypt(tx, NULL, 0, out, pl, out), 0);
        ck_assert_mem_eq(out, expect, el);
        ck_assert_int_eq(noise_cipher_decrypt(rx, NULL, 0, out, el, out), 0);
        ck_assert_mem_eq(out, payload, pl);
    }
}
END_TEST

/* Reading a vector's messages back with one bit flipped anywhere in an
 * encrypted part must fail (and kill the handshake). */
START_TEST(vectors_tamper)
{
    const struct noise_vector *v = &noise_xx_vectors[0];
    uint8_t prologue[256], is[32], ie[32], rs[32], re[32];
    size_t plen = unhex(v->prologue, prologue, sizeof prologue);
    unhex(v->init_static, is, 32);
    unhex(v->init_ephemeral, ie, 32);
    unhex(v->resp_static, rs, 32);
    unhex(v->resp_ephemeral, re, 32);
    static uint8_t m[4096], pl[4096];
    size_t ml = unhex(v->messages[1].ciphertext, m, sizeof m);
    for (size_t i = 0; i < ml; i++) {
        noise_handshake hi, hr;
        uint8_t out[128];
        size_t ol, gl;
        noise_handshake_init(&hi, NOISE_INITIATOR, prologue, plen, is, ie);
        noise_handshake_init(&hr, NOISE_RESPONDER, prologue, plen, rs, re);
        ck_assert_int_eq(noise_handshake_write(&hi, NULL, 0, out, sizeof out, &ol), 0);
        ck_assert_int_eq(noise_handshake_read(&hr, out, ol, pl, sizeof pl, &gl), 0);
        m[i] ^= 0x01;
        int rc = noise_handshake_read(&hi, m, ml, pl, sizeof pl, &gl);
        m[i] ^= 0x01;
        ck_assert_msg(rc == P2P_ECRYPTO, "byte %zu: rc %d", i, rc);
        ck_assert(!noise_handshake_done(&hi));
        ck_assert_int_eq(noise_handshake_read(&hi, m, ml, pl, sizeof pl, &gl), P2P_ESTATE);
    }
}
END_TEST

START_TEST(cipher_nonce_layout)
{
    ck_assert_int_ge(sodium_init(), 0);
    uint8_t k[32], nonce[12] = { 0 }, a[64], b[64];
    const uint8_t msg[48] = "nonce layout: 4 zero bytes then little-endian n";
    for (int i = 0; i < 32; i++) k[i] = (uint8_t)(i * 7);
    noise_cipher cs;
    noise_cipher_init(&cs, k);
    noise_cipher_set_nonce(&cs, 0x0102030405060708ULL);
    ck_assert_int_eq(noise_cipher_encrypt(&cs, (const uint8_t *)"ad", 2, msg, sizeof msg, a), 0);
    ck_assert_uint_eq(cs.n, 0x0102030405060709ULL);
    nonce[4] = 8; nonce[5] = 7; nonce[6] = 6; nonce[7] = 5;
    nonce[8] = 4; nonce[9] = 3; nonce[10] = 2; nonce[11] = 1;
    unsigned long long cl;
    crypto_aead_chacha20poly1305_ietf_encrypt(b, &cl, msg, sizeof msg, (const uint8_t *)"ad", 2,
                                              NULL, nonce, k);
    ck_assert_uint_eq(cl, sizeof msg + 16);
    ck_assert_mem_eq(a, b, cl);

    /* empty key: identity */
    noise_cipher_init(&cs, NULL);
    ck_assert_int_eq(noise_cipher_encrypt(&cs, NULL, 0, msg, sizeof msg, a), 0);
    ck_assert_mem_eq(a, msg, sizeof msg);
    ck_assert_uint_eq(cs.n, 0);
}
END_TEST

/* The back-end contexts of this test process (OpenSSL's when built with
 * it; NULL otherwise), as a host's noise plugin holds them. */
static noise_aead *test_aead(void)
{
    static noise_aead *a;
    if (!a) a = noise_aead_new();
    return a;
}

/* The AEAD back-end (OpenSSL when built with it, libsodium for frames
 * under 1 KiB) agrees with libsodium's RFC 8439 implementation byte for
 * byte, in place and out of place, with and without associated data, at
 * every length class up to a full frame. */
START_TEST(aead_backend_matches_libsodium)
{
    static uint8_t pt[NOISE_MSG_MAX], ct[NOISE_MSG_MAX], ref[NOISE_MSG_MAX], back[NOISE_MSG_MAX];
    /* 983-1025: around the size where the OpenSSL back-end hands frames to
     * libsodium (1 KiB of body and associated data). */
    const size_t lens[] = { 0, 1, 15, 16, 17, 63, 64, 65, 255, 256, 983, 984, 1000, 1023, 1024, 1025, 4096, 65519,
                            NOISE_MSG_MAX - 16 };
    uint8_t key[32], nonce[12], ad[40], tag[16], reftag[16];
    noise_aead *a = test_aead();
    if (strcmp(noise_aead_backend(), "openssl") == 0) ck_assert_ptr_nonnull(a);
    else ck_assert_ptr_null(a);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int with_ad = 0; with_ad < 2; with_ad++) {
            size_t len = lens[i], adlen = with_ad ? sizeof ad : 0;
            randombytes_buf(key, sizeof key);
            randombytes_buf(nonce, sizeof nonce);
            randombytes_buf(ad, sizeof ad);
            randombytes_buf(pt, len);
            crypto_aead_chacha20poly1305_ietf_encrypt_detached(ref, reftag, NULL, pt, len, ad, adlen,
                                                               NULL, nonce, key);
            ck_assert_int_eq(noise_aead_seal(a, key, nonce, ad, adlen, pt, len, ct, tag), 0);
            ck_assert_msg(memcmp(ct, ref, len) == 0 && memcmp(tag, reftag, 16) == 0,
                          "%s seal differs from libsodium at %zu bytes", noise_aead_backend(), len);
            ck_assert_int_eq(noise_aead_open(a, key, nonce, ad, adlen, ct, len, tag, back), 0);
            ck_assert(memcmp(back, pt, len) == 0);
            /* in place, both ways */
            memcpy(back, pt, len);
            ck_assert_int_eq(noise_aead_seal(a, key, nonce, ad, adlen, back, len, back, tag), 0);
            ck_assert(memcmp(back, ref, len) == 0);
            ck_assert_int_eq(noise_aead_open(a, key, nonce, ad, adlen, back, len, tag, back), 0);
            ck_assert(memcmp(back, pt, len) == 0);
            /* a flipped bit anywhere (body, tag, ad, nonce) is refused */
            tag[i % 16] ^= 0x40;
            ck_assert_int_eq(noise_aead_open(a, key, nonce, ad, adlen, ct, len, tag, back), P2P_ECRYPTO);
            tag[i % 16] ^= 0x40;
            if (len) {
                ct[len / 2] ^= 1;
                ck_assert_int_eq(noise_aead_open(a, key, nonce, ad, adlen, ct, len, tag, back), P2P_ECRYPTO);
                ct[len / 2] ^= 1;
            }
            if (adlen) {
                ad[3] ^= 1;
                ck_assert_int_eq(noise_aead_open(a, key, nonce, ad, adlen, ct, len, tag, back), P2P_ECRYPTO);
                ad[3] ^= 1;
            }
            nonce[11] ^= 1;
            ck_assert_int_eq(noise_aead_open(a, key, nonce, ad, adlen, ct, len, tag, back), P2P_ECRYPTO);
            nonce[11] ^= 1;
            /* and after a failure the back-end still works */
            ck_assert_int_eq(noise_aead_open(a, key, nonce, ad, adlen, ct, len, tag, back), 0);
        }
    }
}
END_TEST

START_TEST(cipher_nonce_reserved)
{
    uint8_t k[32] = { 1 }, buf[32], ct[32];
    noise_cipher e, d;
    noise_cipher_init(&e, k);
    noise_cipher_init(&d, k);
    noise_cipher_set_nonce(&e, UINT64_MAX - 1);
    noise_cipher_set_nonce(&d, UINT64_MAX - 1);
    ck_assert_int_eq(noise_cipher_encrypt(&e, NULL, 0, (const uint8_t *)"hi", 2, ct), 0);
    ck_assert_uint_eq(e.n, UINT64_MAX);
    /* 2^64-1 is reserved: no more messages either way */
    ck_assert_int_eq(noise_cipher_encrypt(&e, NULL, 0, (const uint8_t *)"hi", 2, buf), P2P_ELIMIT);
    /* a failed decryption does not advance n */
    ct[0] ^= 1;
    ck_assert_int_eq(noise_cipher_decrypt(&d, NULL, 0, ct, 18, buf), P2P_ECRYPTO);
    ck_assert_uint_eq(d.n, UINT64_MAX - 1);
    ct[0] ^= 1;
    ck_assert_int_eq(noise_cipher_decrypt(&d, NULL, 0, ct, 18, buf), 0);
    ck_assert_mem_eq(buf, "hi", 2);
    ck_assert_int_eq(noise_cipher_decrypt(&d, NULL, 0, ct, 18, buf), P2P_ELIMIT);
    ck_assert_int_eq(noise_cipher_decrypt(&d, NULL, 0, ct, 15, buf), P2P_EPROTO);
}
END_TEST

/* ---- libp2p handshake helpers ----------------------------------------- */

static const char *const MUX_I[] = { "/yamux/1.0.0", "/mplex/6.7.0" };
static const char *const MUX_R[] = { "/mplex/6.7.0", "/yamux/1.0.0" };

struct pair {
    p2p_keypair ki, kr;
    p2p_peerid pi, pr;     /* their PeerIds */
    noise_hs *i, *r;
};

static void pair_keys(struct pair *p)
{
    p2p_pubkey pub;
    p2p_keypair_from_seed_byte(&p->ki, 1);
    p2p_keypair_from_seed_byte(&p->kr, 2);
    p2p_keypair_public(&p->ki, &pub);
    ck_assert_int_eq(p2p_peerid_from_pubkey(&p->pi, &pub), 0);
    p2p_keypair_public(&p->kr, &pub);
    ck_assert_int_eq(p2p_peerid_from_pubkey(&p->pr, &pub), 0);
}

static void pair_new(struct pair *p, const p2p_peerid *expect_r, const p2p_peerid *expect_i,
                     bool muxers)
{
    pair_keys(p);
    struct noise_hs_config ci = {
        .role = NOISE_INITIATOR, .identity = &p->ki,
        .muxers = muxers ? MUX_I : NULL, .n_muxers = muxers ? 2 : 0,
        .expected_peer = expect_r,
    };
    struct noise_hs_config cr = {
        .role = NOISE_RESPONDER, .identity = &p->kr,
        .muxers = muxers ? MUX_R : NULL, .n_muxers = muxers ? 2 : 0,
        .expected_peer = expect_i,
    };
    ck_assert_int_eq(noise_hs_new(&p->i, &ci), 0);
    ck_assert_int_eq(noise_hs_new(&p->r, &cr), 0);
}

static void pair_free(struct pair *p)
{
    noise_hs_free(p->i);
    noise_hs_free(p->r);
}

/* Move one message from w to r; returns the reader's result. */
static int step(noise_hs *w, noise_hs *r, p2p_buf *wire)
{
    ck_assert(noise_hs_wants_write(w));
    ck_assert(!noise_hs_wants_write(r));
    ck_assert_int_eq(noise_hs_write(w, wire), 0);
    size_t used;
    int rc = noise_hs_read(r, p2p_buf_head(wire), wire->len, &used);
    if (rc != P2P_ETRUNC) {
        ck_assert_uint_eq(used, wire->len);
        p2p_buf_consume(wire, used);
    }
    return rc;
}

/* Run all three messages; returns the first error (0 when done). */
static int run(struct pair *p)
{
    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    int rc = step(p->i, p->r, &wire);
    if (!rc) rc = step(p->r, p->i, &wire);
    if (!rc) rc = step(p->i, p->r, &wire);
    p2p_buf_free(&wire);
    return rc;
}

static void roundtrip(noise_transport *a, noise_transport *b, const uint8_t *msg, size_t len)
{
    p2p_buf wire, out;
    p2p_buf_init(&wire, 0);
    p2p_buf_init(&out, 0);
    ck_assert_int_eq(noise_transport_encrypt(a, msg, len, &wire), 0);
    ck_assert_uint_eq(wire.len, noise_transport_wire_size(len));
    while (wire.len) {
        size_t used;
        ck_assert_int_eq(noise_transport_decrypt(b, p2p_buf_head(&wire), wire.len, &used, &out), 0);
        p2p_buf_consume(&wire, used);
    }
    ck_assert_uint_eq(out.len, len);
    if (len) ck_assert_mem_eq(p2p_buf_head(&out), msg, len);
    p2p_buf_free(&wire);
    p2p_buf_free(&out);
}

/* ---- (2) libp2p handshake --------------------------------------------- */

START_TEST(libp2p_handshake)
{
    struct pair p;
    pair_new(&p, NULL, NULL, true);
    ck_assert(!noise_hs_done(p.i));
    ck_assert_ptr_null(noise_hs_remote_peer(p.i));
    ck_assert_int_eq(run(&p), 0);
    ck_assert(noise_hs_done(p.i));
    ck_assert(noise_hs_done(p.r));
    ck_assert(!noise_hs_wants_write(p.i));
    ck_assert(!noise_hs_wants_write(p.r));

    ck_assert(p2p_peerid_equal(noise_hs_remote_peer(p.i), &p.pr));
    ck_assert(p2p_peerid_equal(noise_hs_remote_peer(p.r), &p.pi));
    p2p_pubkey pub;
    p2p_keypair_public(&p.kr, &pub);
    ck_assert(p2p_pubkey_equal(noise_hs_remote_key(p.i), &pub));
    p2p_keypair_public(&p.ki, &pub);
    ck_assert(p2p_pubkey_equal(noise_hs_remote_key(p.r), &pub));

    size_t n;
    const char *const *m = noise_hs_remote_muxers(p.i, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(m[0], "/mplex/6.7.0");
    ck_assert_str_eq(m[1], "/yamux/1.0.0");
    m = noise_hs_remote_muxers(p.r, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(m[0], "/yamux/1.0.0");
    ck_assert_str_eq(m[1], "/mplex/6.7.0");
    /* the spec's example: the responder's preference wins */
    ck_assert_str_eq(noise_hs_selected_muxer(p.i), "/mplex/6.7.0");
    ck_assert_str_eq(noise_hs_selected_muxer(p.r), "/mplex/6.7.0");
    ck_assert_mem_eq(noise_hs_handshake_hash(p.i), noise_hs_handshake_hash(p.r), 32);

    noise_transport ti, tr;
    ck_assert_int_eq(noise_hs_split(p.i, &ti), 0);
    ck_assert_int_eq(noise_hs_split(p.r, &tr), 0);
    ck_assert_int_eq(noise_hs_split(p.r, &tr), P2P_ESTATE);
    /* results survive the split */
    ck_assert(p2p_peerid_equal(noise_hs_remote_peer(p.i), &p.pr));
    pair_free(&p);

    roundtrip(&ti, &tr, (const uint8_t *)"hello responder", 15);
    roundtrip(&tr, &ti, (const uint8_t *)"hello initiator", 15);
    static uint8_t big[300000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 31 + 7);
    roundtrip(&ti, &tr, big, sizeof big);
    roundtrip(&tr, &ti, big, sizeof big);
    noise_transport_wipe(&ti);
    noise_transport_wipe(&tr);
}
END_TEST

START_TEST(libp2p_handshake_sizes)
{
    /* Ed25519 identity: PublicKey pb 36 bytes, signature 64 bytes */
    struct pair p;
    pair_new(&p, NULL, NULL, false);
    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    size_t used;
    ck_assert_int_eq(noise_hs_write(p.i, &wire), 0);
    ck_assert_uint_eq(wire.len, 2 + 32);
    ck_assert_int_eq(noise_hs_read(p.r, p2p_buf_head(&wire), wire.len, &used), 0);
    p2p_buf_reset(&wire);
    ck_assert_int_eq(noise_hs_write(p.r, &wire), 0);
    size_t payload = 2 + 36 + 2 + 64;   /* two length-delimited fields */
    ck_assert_uint_eq(wire.len, 2 + 32 + 48 + payload + 16);
    ck_assert_int_eq(noise_hs_read(p.i, p2p_buf_head(&wire), wire.len, &used), 0);
    p2p_buf_reset(&wire);
    ck_assert_int_eq(noise_hs_write(p.i, &wire), 0);
    ck_assert_uint_eq(wire.len, 2 + 48 + payload + 16);
    ck_assert_int_eq(noise_hs_read(p.r, p2p_buf_head(&wire), wire.len, &used), 0);
    ck_assert(noise_hs_done(p.r));
    ck_assert_ptr_null(noise_hs_remote_muxers(p.r, &used));
    ck_assert_uint_eq(used, 0);
    ck_assert_ptr_null(noise_hs_selected_muxer(p.r));
    ck_assert_ptr_null(noise_hs_selected_muxer(p.i));
    p2p_buf_free(&wire);
    pair_free(&p);
}
END_TEST

START_TEST(libp2p_given_static_key)
{
    struct pair p;
    pair_keys(&p);
    uint8_t sk[32], pk[32];
    for (int i = 0; i < 32; i++) sk[i] = (uint8_t)(0x40 + i);
    noise_dh_public(pk, sk);
    struct noise_hs_config ci = { .role = NOISE_INITIATOR, .identity = &p.ki, .static_key = sk };
    struct noise_hs_config cr = { .role = NOISE_RESPONDER, .identity = &p.kr };
    ck_assert_int_eq(noise_hs_new(&p.i, &ci), 0);
    ck_assert_int_eq(noise_hs_new(&p.r, &cr), 0);
    ck_assert_mem_eq(noise_hs_local_static(p.i), pk, 32);
    ck_assert_int_eq(run(&p), 0);
    ck_assert_mem_eq(noise_handshake_remote_static((const noise_handshake *)(const void *)p.r),
                     pk, 32);   /* noise_handshake is the first member */
    pair_free(&p);
}
END_TEST

/* A host signs its payload once (the plugin's per-host static key): the
 * cached payload serves every handshake, and one made for another static
 * key is refused by the remote. */
START_TEST(libp2p_cached_payload)
{
    struct pair p;
    uint8_t sk[32], pk[32], other_pk[32], other_sk[32];
    for (int i = 0; i < 32; i++) sk[i] = (uint8_t)(0x40 + i), other_sk[i] = (uint8_t)(0x80 + i);
    noise_dh_public(pk, sk);
    noise_dh_public(other_pk, other_sk);
    pair_keys(&p);
    uint8_t *payload, *wrong;
    size_t payload_len, wrong_len;
    ck_assert_int_eq(noise_hs_payload_encode(&p.ki, pk, NULL, 0, &payload, &payload_len), 0);
    ck_assert_int_eq(noise_hs_payload_encode(&p.ki, other_pk, NULL, 0, &wrong, &wrong_len), 0);
    struct noise_hs_config ci = { .role = NOISE_INITIATOR, .identity = &p.ki, .static_key = sk,
                                  .payload = payload, .payload_len = payload_len };
    struct noise_hs_config cr = { .role = NOISE_RESPONDER, .identity = &p.kr, .expected_peer = NULL };
    for (int round = 0; round < 2; round++) {
        pair_keys(&p);
        ck_assert_int_eq(noise_hs_new(&p.i, &ci), 0);
        ck_assert_int_eq(noise_hs_new(&p.r, &cr), 0);
        ck_assert_int_eq(run(&p), 0);
        ck_assert_mem_eq(noise_handshake_remote_static((const noise_handshake *)(const void *)p.r), pk, 32);
        ck_assert(p2p_peerid_equal(noise_hs_remote_peer(p.r), &p.pi));
        pair_free(&p);
    }
    ci.payload = wrong;
    ci.payload_len = wrong_len;
    pair_keys(&p);
    ck_assert_int_eq(noise_hs_new(&p.i, &ci), 0);
    ck_assert_int_eq(noise_hs_new(&p.r, &cr), 0);
    ck_assert_int_ne(run(&p), 0);
    pair_free(&p);
    free(payload);
    free(wrong);
}
END_TEST

START_TEST(libp2p_one_sided_muxers)
{
    struct pair p;
    pair_keys(&p);
    struct noise_hs_config ci = { .role = NOISE_INITIATOR, .identity = &p.ki,
                                  .muxers = MUX_I, .n_muxers = 2 };
    struct noise_hs_config cr = { .role = NOISE_RESPONDER, .identity = &p.kr };
    ck_assert_int_eq(noise_hs_new(&p.i, &ci), 0);
    ck_assert_int_eq(noise_hs_new(&p.r, &cr), 0);
    ck_assert_int_eq(run(&p), 0);
    size_t n;
    ck_assert_ptr_nonnull(noise_hs_remote_muxers(p.r, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_ptr_null(noise_hs_remote_muxers(p.i, &n));
    ck_assert_ptr_null(noise_hs_selected_muxer(p.i));
    ck_assert_ptr_null(noise_hs_selected_muxer(p.r));
    pair_free(&p);

    /* disjoint lists: no early choice */
    static const char *const other[] = { "/other/1" };
    pair_keys(&p);
    cr.muxers = other;
    cr.n_muxers = 1;
    ck_assert_int_eq(noise_hs_new(&p.i, &ci), 0);
    ck_assert_int_eq(noise_hs_new(&p.r, &cr), 0);
    ck_assert_int_eq(run(&p), 0);
    ck_assert_ptr_null(noise_hs_selected_muxer(p.i));
    ck_assert_ptr_null(noise_hs_selected_muxer(p.r));
    pair_free(&p);
}
END_TEST

START_TEST(config_errors)
{
    p2p_keypair k;
    p2p_keypair_from_seed_byte(&k, 3);
    noise_hs *hs = (noise_hs *)(uintptr_t)1;
    struct noise_hs_config c = { .role = NOISE_INITIATOR };
    ck_assert_int_eq(noise_hs_new(&hs, &c), P2P_EINVAL);
    c.identity = &k;
    c.role = (enum noise_role)7;
    ck_assert_int_eq(noise_hs_new(&hs, &c), P2P_EINVAL);
    c.role = NOISE_RESPONDER;
    c.n_muxers = 1;
    ck_assert_int_eq(noise_hs_new(&hs, &c), P2P_EINVAL);
    static const char *const empty[] = { "" };
    c.muxers = empty;
    ck_assert_int_eq(noise_hs_new(&hs, &c), P2P_EINVAL);
    static char longid[NOISE_HS_MUXER_LEN_MAX + 2];
    memset(longid, 'a', sizeof longid - 1);
    const char *const longv[] = { longid };
    c.muxers = longv;
    ck_assert_int_eq(noise_hs_new(&hs, &c), P2P_ERANGE);
    longid[NOISE_HS_MUXER_LEN_MAX] = 0;
    ck_assert_int_eq(noise_hs_new(&hs, &c), 0);
    noise_hs_free(hs);
    const char *many[NOISE_HS_MUXERS_MAX + 1];
    for (size_t i = 0; i <= NOISE_HS_MUXERS_MAX; i++) many[i] = "/m";
    c.muxers = many;
    c.n_muxers = NOISE_HS_MUXERS_MAX + 1;
    ck_assert_int_eq(noise_hs_new(&hs, &c), P2P_ERANGE);
    c.n_muxers = NOISE_HS_MUXERS_MAX;
    ck_assert_int_eq(noise_hs_new(&hs, &c), 0);
    noise_hs_free(hs);
    noise_hs_free(NULL);
}
END_TEST

/* ---- (3) expected PeerId ---------------------------------------------- */

START_TEST(expected_peer_ok)
{
    struct pair p;
    pair_keys(&p);
    p2p_peerid pi = p.pi, pr = p.pr;
    pair_new(&p, &pr, &pi, true);
    ck_assert_int_eq(run(&p), 0);
    ck_assert(noise_hs_done(p.i));
    ck_assert(noise_hs_done(p.r));
    pair_free(&p);
}
END_TEST

START_TEST(expected_peer_mismatch_initiator)
{
    p2p_keypair other;
    p2p_pubkey pub;
    p2p_peerid wrong;
    p2p_keypair_from_seed_byte(&other, 9);
    p2p_keypair_public(&other, &pub);
    ck_assert_int_eq(p2p_peerid_from_pubkey(&wrong, &pub), 0);

    struct pair p;
    pair_new(&p, &wrong, NULL, true);
    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    ck_assert_int_eq(step(p.i, p.r, &wire), 0);
    ck_assert_int_eq(step(p.r, p.i, &wire), P2P_EPEERID);
    ck_assert(noise_hs_failed(p.i));
    ck_assert(!noise_hs_done(p.i));
    ck_assert(!noise_hs_wants_write(p.i));
    ck_assert_ptr_null(noise_hs_remote_peer(p.i));
    ck_assert_ptr_null(noise_hs_remote_key(p.i));
    ck_assert_ptr_null(noise_hs_remote_muxers(p.i, NULL));
    ck_assert_int_eq(noise_hs_write(p.i, &wire), P2P_ESTATE);
    noise_transport t;
    ck_assert_int_eq(noise_hs_split(p.i, &t), P2P_ESTATE);
    p2p_buf_free(&wire);
    pair_free(&p);
}
END_TEST

START_TEST(expected_peer_mismatch_responder)
{
    struct pair p;
    pair_keys(&p);
    p2p_peerid pr = p.pr;
    pair_new(&p, NULL, &pr, true);   /* responder expects its own id: wrong */
    ck_assert_int_eq(run(&p), P2P_EPEERID);
    ck_assert(noise_hs_done(p.i));   /* the initiator cannot know */
    ck_assert(noise_hs_failed(p.r));
    ck_assert_ptr_null(noise_hs_remote_peer(p.r));
    pair_free(&p);
}
END_TEST

/* ---- (4) tampered payloads -------------------------------------------- */

enum fake {
    FK_OK, FK_SIG_FLIP, FK_SIG_OTHER_STATIC, FK_SIG_OTHER_ID, FK_NO_KEY, FK_NO_SIG, FK_EMPTY_SIG,
    FK_BAD_KEY, FK_GARBAGE, FK_EMPTY, FK_SECP_KEY, FK_ODD_MUXERS, FK_MANY_MUXERS, FK_UNKNOWN_FIELD,
    FK_COUNT
};

/* FK_SECP_KEY: a secp256k1 identity key with an Ed25519 signature, bad
 * where the core checks secp256k1 (OTHER_BAD: testutil.h). */
static const int fake_expect[FK_COUNT] = {
    [FK_OK] = 0, [FK_SIG_FLIP] = P2P_ECRYPTO, [FK_SIG_OTHER_STATIC] = P2P_ECRYPTO,
    [FK_SIG_OTHER_ID] = P2P_ECRYPTO, [FK_NO_KEY] = P2P_EPROTO, [FK_NO_SIG] = P2P_EPROTO,
    [FK_EMPTY_SIG] = P2P_EPROTO, [FK_BAD_KEY] = P2P_EPROTO, [FK_GARBAGE] = P2P_EPROTO,
    [FK_EMPTY] = P2P_EPROTO, [FK_SECP_KEY] = OTHER_BAD, [FK_ODD_MUXERS] = 0,
    [FK_MANY_MUXERS] = 0, [FK_UNKNOWN_FIELD] = 0,
};

/* A payload as a misbehaving peer would build it. */
static size_t fake_payload(enum fake f, const p2p_keypair *id, const uint8_t static_pub[32],
                           uint8_t *out, size_t cap)
{
    p2p_pubkey pub;
    uint8_t keypb[P2P_PUBKEY_PB_MAX], tosign[24 + 32], sig[64];
    p2p_keypair_public(id, &pub);
    int kn = p2p_pubkey_encode(&pub, keypb, sizeof keypb);
    ck_assert_int_gt(kn, 0);
    memcpy(tosign, NOISE_SIG_PREFIX, 24);
    memcpy(tosign + 24, static_pub, 32);
    if (f == FK_SIG_OTHER_STATIC) tosign[30] ^= 0x80;
    if (f == FK_SIG_OTHER_ID) {
        p2p_keypair other;
        p2p_keypair_from_seed_byte(&other, 77);
        p2p_keypair_sign(&other, tosign, sizeof tosign, sig);
    } else {
        p2p_keypair_sign(id, tosign, sizeof tosign, sig);
    }
    if (f == FK_SIG_FLIP) sig[10] ^= 0x04;

    if (f == FK_GARBAGE) {
        static const uint8_t g[] = { 0x0a, 0xff, 0xff, 0xff, 0x0f, 1, 2 };
        memcpy(out, g, sizeof g);
        return sizeof g;
    }
    if (f == FK_EMPTY) return 0;

    P2p__Noise__NoiseHandshakePayload pb = P2P__NOISE__NOISE_HANDSHAKE_PAYLOAD__INIT;
    P2p__Noise__NoiseExtensions ext = P2P__NOISE__NOISE_EXTENSIONS__INIT;
    static const uint8_t secp[] = { 0x08, 0x02, 0x12, 0x21, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                    11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
                                    25, 26, 27, 28, 29, 30, 31, 32 };
    pb.has_identity_key = f != FK_NO_KEY;
    pb.identity_key.data = keypb;
    pb.identity_key.len = (size_t)kn;
    if (f == FK_BAD_KEY) pb.identity_key.len = 5;
    if (f == FK_SECP_KEY) {
        pb.identity_key.data = (uint8_t *)(uintptr_t)secp;
        pb.identity_key.len = sizeof secp;
    }
    pb.has_identity_sig = f != FK_NO_SIG;
    pb.identity_sig.data = sig;
    pb.identity_sig.len = f == FK_EMPTY_SIG ? 0 : sizeof sig;
    ProtobufCBinaryData mux[NOISE_HS_MUXERS_MAX + 1];
    if (f == FK_ODD_MUXERS) {
        static const char odd[] = "\0/yamux/1.0.0";
        mux[0].data = (uint8_t *)(uintptr_t)"";
        mux[0].len = 0;
        mux[1].data = (uint8_t *)(uintptr_t)odd;
        mux[1].len = sizeof odd - 1;
        mux[2].data = (uint8_t *)(uintptr_t)"/mplex/6.7.0";
        mux[2].len = 12;
        ext.n_stream_muxers = 3;
        ext.stream_muxers = mux;
        pb.extensions = &ext;
    }
    if (f == FK_MANY_MUXERS) {
        for (size_t i = 0; i <= NOISE_HS_MUXERS_MAX; i++) {
            mux[i].data = (uint8_t *)(uintptr_t)"/mplex/6.7.0";
            mux[i].len = 12;
        }
        ext.n_stream_muxers = NOISE_HS_MUXERS_MAX + 1;
        ext.stream_muxers = mux;
        pb.extensions = &ext;
    }
    size_t n = p2p__noise__noise_handshake_payload__get_packed_size(&pb);
    ck_assert_uint_le(n + 8, cap);
    n = p2p__noise__noise_handshake_payload__pack(&pb, out);
    if (f == FK_UNKNOWN_FIELD) {
        /* field 3 (the retired `data`), bytes "x": must be ignored */
        out[n++] = 0x1a;
        out[n++] = 1;
        out[n++] = 'x';
    }
    return n;
}

/* A fake responder (raw Noise state + fake payload) against a real
 * initiator: the initiator must fail reading message 2 with the
 * expected error. */
START_TEST(tampered_responder)
{
    enum fake f = (enum fake)_i;
    p2p_keypair ki, kr;
    p2p_keypair_from_seed_byte(&ki, 1);
    p2p_keypair_from_seed_byte(&kr, 2);
    struct noise_hs_config ci = { .role = NOISE_INITIATOR, .identity = &ki,
                                  .muxers = MUX_I, .n_muxers = 2 };
    noise_hs *hi;
    ck_assert_int_eq(noise_hs_new(&hi, &ci), 0);
    uint8_t rs[32] = { 5 };
    noise_handshake hr;
    noise_handshake_init(&hr, NOISE_RESPONDER, NULL, 0, rs, NULL);

    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    ck_assert_int_eq(noise_hs_write(hi, &wire), 0);
    uint8_t pl[64];
    size_t plen;
    ck_assert_int_eq(noise_handshake_read(&hr, p2p_buf_head(&wire) + 2, wire.len - 2, pl,
                                          sizeof pl, &plen), 0);
    p2p_buf_reset(&wire);

    static uint8_t payload[8192], msg[9000];
    size_t n = fake_payload(f, &kr, hr.s_pub, payload, sizeof payload);
    size_t ml;
    ck_assert_int_eq(noise_handshake_write(&hr, payload, n, msg + 2, sizeof msg - 2, &ml), 0);
    msg[0] = (uint8_t)(ml >> 8);
    msg[1] = (uint8_t)ml;
    size_t used;
    int rc = noise_hs_read(hi, msg, ml + 2, &used);
    ck_assert_msg(rc == fake_expect[f], "case %d: rc %d", f, rc);
    ck_assert_uint_eq(used, ml + 2);
    if (rc == 0) {
        size_t nm;
        const char *const *m = noise_hs_remote_muxers(hi, &nm);
        if (f == FK_ODD_MUXERS) {
            /* the empty and the NUL-carrying entries are skipped */
            ck_assert_uint_eq(nm, 1);
            ck_assert_str_eq(m[0], "/mplex/6.7.0");
        } else {
            ck_assert_uint_eq(nm, 0);   /* none, or a list over the limit */
        }
        ck_assert_int_eq(noise_hs_write(hi, &wire), 0);
    } else {
        ck_assert(noise_hs_failed(hi));
        ck_assert_ptr_null(noise_hs_remote_peer(hi));
        ck_assert_int_eq(noise_hs_write(hi, &wire), P2P_ESTATE);
    }
    p2p_buf_free(&wire);
    noise_hs_free(hi);
}
END_TEST

/* A fake initiator against a real responder (message 3). */
START_TEST(tampered_initiator)
{
    enum fake f = (enum fake)_i;
    p2p_keypair ki, kr;
    p2p_keypair_from_seed_byte(&ki, 1);
    p2p_keypair_from_seed_byte(&kr, 2);
    struct noise_hs_config cr = { .role = NOISE_RESPONDER, .identity = &kr };
    noise_hs *hr;
    ck_assert_int_eq(noise_hs_new(&hr, &cr), 0);
    uint8_t is[32] = { 6 };
    noise_handshake hi;
    noise_handshake_init(&hi, NOISE_INITIATOR, NULL, 0, is, NULL);

    static uint8_t buf[9000], payload[8192];
    size_t ml, used, plen;
    ck_assert_int_eq(noise_handshake_write(&hi, NULL, 0, buf + 2, sizeof buf - 2, &ml), 0);
    buf[0] = 0;
    buf[1] = (uint8_t)ml;
    ck_assert_int_eq(noise_hs_read(hr, buf, ml + 2, &used), 0);
    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    ck_assert_int_eq(noise_hs_write(hr, &wire), 0);
    ck_assert_int_eq(noise_handshake_read(&hi, p2p_buf_head(&wire) + 2, wire.len - 2, payload,
                                          sizeof payload, &plen), 0);
    ck_assert_uint_gt(plen, 0);

    size_t n = fake_payload(f, &ki, hi.s_pub, payload, sizeof payload);
    ck_assert_int_eq(noise_handshake_write(&hi, payload, n, buf + 2, sizeof buf - 2, &ml), 0);
    buf[0] = (uint8_t)(ml >> 8);
    buf[1] = (uint8_t)ml;
    int rc = noise_hs_read(hr, buf, ml + 2, &used);
    ck_assert_msg(rc == fake_expect[f], "case %d: rc %d", f, rc);
    ck_assert(noise_hs_done(hr) == (rc == 0));
    if (rc == 0) {
        p2p_peerid pid;
        p2p_pubkey pub;
        p2p_keypair_public(&ki, &pub);
        p2p_peerid_from_pubkey(&pid, &pub);
        ck_assert(p2p_peerid_equal(noise_hs_remote_peer(hr), &pid));
    }
    p2p_buf_free(&wire);
    noise_hs_free(hr);
}
END_TEST

/* A handshake with fixed keys, so that its messages are reproducible. */
static void pair_fixed(struct pair *p)
{
    static const uint8_t si[32] = { 11 }, sr[32] = { 12 }, ei[32] = { 13 }, er[32] = { 14 };
    pair_keys(p);
    struct noise_hs_config ci = { .role = NOISE_INITIATOR, .identity = &p->ki, .static_key = si,
                                  .ephemeral_key = ei, .muxers = MUX_I, .n_muxers = 2 };
    struct noise_hs_config cr = { .role = NOISE_RESPONDER, .identity = &p->kr, .static_key = sr,
                                  .ephemeral_key = er, .muxers = MUX_R, .n_muxers = 2 };
    ck_assert_int_eq(noise_hs_new(&p->i, &ci), 0);
    ck_assert_int_eq(noise_hs_new(&p->r, &cr), 0);
}

/* Any flipped bit in the body of a real message 2 or 3 fails the reader. */
START_TEST(tampered_bits)
{
    int which = _i;   /* 2 or 3 */
    for (size_t pos = 2;; pos++) {
        struct pair p;
        pair_fixed(&p);
        p2p_buf wire;
        p2p_buf_init(&wire, 0);
        ck_assert_int_eq(step(p.i, p.r, &wire), 0);
        noise_hs *w = p.r, *r = p.i;
        if (which == 3) {
            ck_assert_int_eq(step(p.r, p.i, &wire), 0);
            w = p.i;
            r = p.r;
        }
        ck_assert_int_eq(noise_hs_write(w, &wire), 0);
        if (pos >= wire.len) {
            p2p_buf_free(&wire);
            pair_free(&p);
            break;
        }
        p2p_buf_head(&wire)[pos] ^= 0x10;
        size_t used;
        int rc = noise_hs_read(r, p2p_buf_head(&wire), wire.len, &used);
        ck_assert_msg(rc == P2P_ECRYPTO, "message %d byte %zu: rc %d", which, pos, rc);
        ck_assert(noise_hs_failed(r));
        p2p_buf_free(&wire);
        pair_free(&p);
    }
}
END_TEST

/* Fixed keys give the same transcript twice (the fuzzer relies on it). */
START_TEST(deterministic)
{
    p2p_buf a, b;
    p2p_buf_init(&a, 0);
    p2p_buf_init(&b, 0);
    for (int run_ = 0; run_ < 2; run_++) {
        p2p_buf *t = run_ ? &b : &a;
        struct pair p;
        pair_fixed(&p);
        p2p_buf wire;
        p2p_buf_init(&wire, 0);
        for (int m = 0; m < 3; m++) {
            noise_hs *w = m == 1 ? p.r : p.i, *r = m == 1 ? p.i : p.r;
            p2p_buf_reset(&wire);
            ck_assert_int_eq(noise_hs_write(w, &wire), 0);
            ck_assert_int_eq(p2p_buf_append(t, p2p_buf_head(&wire), wire.len), 0);
            size_t used;
            ck_assert_int_eq(noise_hs_read(r, p2p_buf_head(&wire), wire.len, &used), 0);
        }
        p2p_buf_free(&wire);
        pair_free(&p);
    }
    ck_assert_uint_eq(a.len, b.len);
    ck_assert_mem_eq(p2p_buf_head(&a), p2p_buf_head(&b), a.len);
    p2p_buf_free(&a);
    p2p_buf_free(&b);
}
END_TEST

/* ---- (5) frames ------------------------------------------------------- */

/* A connected pair of transports: the initiator seals and opens frames of
 * 1 KiB and more with test_aead() as the plugin does, the responder with
 * libsodium, so every frame test also checks the two back-ends against
 * each other. */
static void transports(noise_transport *ti, noise_transport *tr)
{
    struct pair p;
    pair_new(&p, NULL, NULL, false);
    ck_assert_int_eq(run(&p), 0);
    ck_assert_int_eq(noise_hs_split(p.i, ti), 0);
    ck_assert_int_eq(noise_hs_split(p.r, tr), 0);
    noise_transport_set_aead(ti, test_aead());
    pair_free(&p);
}

START_TEST(frames_every_split)
{
    noise_transport ti, tr;
    transports(&ti, &tr);
    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    const char *msgs[] = { "a", "", "frames arrive in pieces", "z" };
    for (size_t i = 0; i < 4; i++) {
        if (*msgs[i]) {
            ck_assert_int_eq(noise_transport_encrypt(&ti, (const uint8_t *)msgs[i],
                                                     strlen(msgs[i]), &wire), 0);
        } else {
            /* an empty frame, built with seal */
            ck_assert_int_eq(p2p_buf_reserve(&wire, NOISE_FRAME_OVERHEAD), 0);
            ck_assert_int_eq(noise_transport_seal(&ti, p2p_buf_tail(&wire), 0), 0);
            p2p_buf_commit(&wire, NOISE_FRAME_OVERHEAD);
        }
    }
    size_t total = wire.len;
    uint8_t *copy = malloc(total);
    memcpy(copy, p2p_buf_head(&wire), total);
    /* Deliver the stream cut at every position: the part before the cut
     * first, then the rest; frames must come out whole and in order. */
    for (size_t cut = 0; cut <= total; cut++) {
        noise_transport r = tr;   /* a fresh copy of the receive state */
        p2p_buf in, out;
        p2p_buf_init(&in, 0);
        p2p_buf_init(&out, 0);
        ck_assert_int_eq(p2p_buf_append(&in, copy, cut), 0);
        size_t frames = 0;
        for (int phase = 0; phase < 2; phase++) {
            for (;;) {
                size_t used = 99;
                int rc = noise_transport_decrypt(&r, p2p_buf_head(&in), in.len, &used, &out);
                if (rc == P2P_ETRUNC) {
                    ck_assert_uint_eq(used, 0);
                    break;
                }
                ck_assert_int_eq(rc, 0);
                p2p_buf_consume(&in, used);
                frames++;
            }
            if (phase == 0) ck_assert_int_eq(p2p_buf_append(&in, copy + cut, total - cut), 0);
        }
        ck_assert_uint_eq(frames, 4);
        ck_assert_uint_eq(in.len, 0);
        ck_assert_uint_eq(out.len, 1 + 0 + 23 + 1);
        ck_assert_mem_eq(p2p_buf_head(&out), "aframes arrive in piecesz", 25);
        p2p_buf_free(&in);
        p2p_buf_free(&out);
    }
    /* and byte by byte, in place */
    noise_transport r = tr;
    size_t have = 0, off = 0;
    uint8_t *stream = malloc(total);
    memcpy(stream, copy, total);
    size_t got = 0;
    while (have < total) {
        have++;
        uint8_t *pt;
        size_t ptl, used = 7;
        int rc = noise_transport_open(&r, stream + off, have - off, &used, &pt, &ptl);
        if (rc == P2P_ETRUNC) {
            ck_assert_uint_eq(used, 0);
            continue;
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_ptr_eq(pt, stream + off + 2);
        off += used;
        got += ptl;
    }
    ck_assert_uint_eq(off, total);
    ck_assert_uint_eq(got, 25);
    free(stream);
    free(copy);
    p2p_buf_free(&wire);
}
END_TEST

/* ---- frames read in place (plugin.c's receive path) ------------------------------ */

/* The plugin's receive loop, with a simulated socket: each "read" asks
 * noise_transport_read_want where to stop, gets at most `chunk` bytes of
 * the wire (what the kernel happened to have) straight into the buffer's
 * tail, and every complete frame is then opened in place and consumed.
 * Returns the plaintext; *moves counts reads that did not start at the
 * beginning of the buffer's memory while a partial frame was held (the
 * cases where p2p_buf_reserve may have to move bytes); *frames_err gets
 * the first open error (0 if none). */
static size_t read_in_place(noise_transport *r, const uint8_t *wire, size_t total, size_t chunk,
                            uint8_t *out, size_t *moves, int *err)
{
    p2p_buf in;
    p2p_buf_init(&in, 8 * NOISE_FRAME_MAX);
    size_t pos = 0, got = 0, bad = 0;   /* checked once at the end: check's
                                           * assertions cost a syscall each */
    *moves = 0;
    *err = 0;
    while (pos < total && !*err) {
        size_t want = noise_transport_read_want(p2p_buf_head(&in), in.len);
        /* complete frames were all consumed; never more than a frame */
        if (want == 0 || want > NOISE_FRAME_MAX) bad++;
        if (in.len && in.off) (*moves)++;
        if (p2p_buf_reserve(&in, want) != 0) {
            bad++;
            break;
        }
        size_t n = want < chunk ? want : chunk;
        if (n > total - pos) n = total - pos;
        memcpy(p2p_buf_tail(&in), wire + pos, n);   /* the kernel's copy */
        p2p_buf_commit(&in, n);
        pos += n;
        for (;;) {
            size_t used;
            uint8_t *pt;
            size_t ptlen;
            int rc = noise_transport_open(r, p2p_buf_head(&in), in.len, &used, &pt, &ptlen);
            if (rc == P2P_ETRUNC) break;
            if (rc < 0) {
                *err = rc;
                break;
            }
            if (pt != p2p_buf_head(&in) + NOISE_FRAME_HDR) bad++;   /* decrypted where read */
            memcpy(out + got, pt, ptlen);
            got += ptlen;
            p2p_buf_consume(&in, used);
        }
    }
    ck_assert_uint_eq(bad, 0);
    if (!*err) ck_assert_uint_eq(in.len, 0);
    p2p_buf_free(&in);
    return got;
}

static uint8_t pattern_byte(size_t i) { return (uint8_t)(i * 7 + 3); }

START_TEST(frames_read_in_place)
{
    noise_transport ti, tr;
    transports(&ti, &tr);
    /* max-size frames (and a short last one), encrypted as the sender does */
    size_t plen = 5 * NOISE_PLAINTEXT_MAX + 1000;
    uint8_t *pt = malloc(plen), *out = malloc(plen);
    for (size_t i = 0; i < plen; i++) pt[i] = pattern_byte(i);
    size_t wlen = noise_transport_wire_size(plen);
    ck_assert_uint_eq(wlen, plen + 6 * NOISE_FRAME_OVERHEAD);
    uint8_t *wire = malloc(wlen);
    ck_assert_int_eq(noise_transport_encrypt_to(&ti, pt, plen, wire), 0);
    /* Frames split across reads at every kind of place: 1 byte (the
     * header split), 2, odd sizes, a whole frame, more than a frame. */
    static const size_t chunks[] = { 1, 2, 3, 1000, 65535, NOISE_FRAME_MAX, 1u << 20 };
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        noise_transport r = tr;
        size_t moves;
        int err;
        memset(out, 0, plen);
        size_t got = read_in_place(&r, wire, wlen, chunks[c], out, &moves, &err);
        ck_assert_int_eq(err, 0);
        ck_assert_uint_eq(got, plen);
        ck_assert_mem_eq(out, pt, plen);
        /* reads never cross a frame's end: a frame always starts at the
         * front of the buffer, nothing is ever moved */
        ck_assert_uint_eq(moves, 0);
    }
    free(wire);
    free(out);
    free(pt);
}
END_TEST

START_TEST(frames_read_in_place_small_batch)
{
    noise_transport ti, tr;
    transports(&ti, &tr);
    /* 3000 small frames of 1..40 bytes in one batch, then a max-size one */
    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    size_t plen = 0;
    uint8_t *pt = malloc(3000 * 40 + NOISE_PLAINTEXT_MAX);
    for (size_t k = 0; k < 3000; k++) {
        size_t n = 1 + k % 40;
        for (size_t i = 0; i < n; i++) pt[plen + i] = pattern_byte(plen + i);
        ck_assert_int_eq(noise_transport_encrypt(&ti, pt + plen, n, &wire), 0);
        plen += n;
    }
    for (size_t i = 0; i < NOISE_PLAINTEXT_MAX; i++) pt[plen + i] = pattern_byte(plen + i);
    ck_assert_int_eq(noise_transport_encrypt(&ti, pt + plen, NOISE_PLAINTEXT_MAX, &wire), 0);
    plen += NOISE_PLAINTEXT_MAX;
    uint8_t *out = malloc(plen);
    static const size_t chunks[] = { 1, 17, 4096, NOISE_FRAME_MAX, 1u << 20 };
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        noise_transport r = tr;
        size_t moves;
        int err;
        size_t got = read_in_place(&r, p2p_buf_head(&wire), wire.len, chunks[c], out, &moves, &err);
        ck_assert_int_eq(err, 0);
        ck_assert_uint_eq(got, plen);
        ck_assert_mem_eq(out, pt, plen);
    }
    free(out);
    free(pt);
    p2p_buf_free(&wire);
}
END_TEST

START_TEST(frames_read_in_place_bad_tag)
{
    noise_transport ti, tr;
    transports(&ti, &tr);
    size_t plen = 3 * NOISE_PLAINTEXT_MAX;
    uint8_t *pt = calloc(1, plen), *out = malloc(plen);
    size_t wlen = noise_transport_wire_size(plen);
    uint8_t *wire = malloc(wlen);
    ck_assert_int_eq(noise_transport_encrypt_to(&ti, pt, plen, wire), 0);
    /* the second frame's tag, its last byte */
    wire[2 * NOISE_FRAME_MAX - 1] ^= 0x80;
    static const size_t chunks[] = { 1, 5000, NOISE_FRAME_MAX, 1u << 20 };
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        noise_transport r = tr;
        size_t moves;
        int err;
        size_t got = read_in_place(&r, wire, wlen, chunks[c], out, &moves, &err);
        /* the first frame is delivered, the second fails, nothing after */
        ck_assert_int_eq(err, P2P_ECRYPTO);
        ck_assert_uint_eq(got, NOISE_PLAINTEXT_MAX);
        /* and the direction is dead: the connection must close */
        size_t used;
        uint8_t *p;
        size_t pl;
        ck_assert_int_eq(noise_transport_open(&r, wire + 2 * NOISE_FRAME_MAX, NOISE_FRAME_MAX, &used, &p, &pl),
                         P2P_ESTATE);
    }
    free(wire);
    free(out);
    free(pt);
}
END_TEST

START_TEST(frames_read_want)
{
    uint8_t b[4] = { 0xff, 0xff, 0, 0 };
    ck_assert_uint_eq(noise_transport_read_want(b, 0), NOISE_FRAME_MAX);
    ck_assert_uint_eq(noise_transport_read_want(b, 1), NOISE_FRAME_MAX - 1);
    ck_assert_uint_eq(noise_transport_read_want(b, 2), NOISE_FRAME_MAX - 2);
    b[0] = 0;
    b[1] = 2;   /* a 4-byte frame */
    ck_assert_uint_eq(noise_transport_read_want(b, 2), 2);
    ck_assert_uint_eq(noise_transport_read_want(b, 3), 1);
    ck_assert_uint_eq(noise_transport_read_want(b, 4), 0);
}
END_TEST

START_TEST(frames_encrypt_to_matches_encrypt)
{
    noise_transport a1, b1;
    transports(&a1, &b1);
    noise_transport a2 = a1;
    size_t plen = 2 * NOISE_PLAINTEXT_MAX + 77;
    uint8_t *pt = malloc(plen);
    for (size_t i = 0; i < plen; i++) pt[i] = pattern_byte(i);
    p2p_buf w1;
    p2p_buf_init(&w1, 0);
    ck_assert_int_eq(noise_transport_encrypt(&a1, pt, plen, &w1), 0);
    size_t wlen = noise_transport_wire_size(plen);
    uint8_t *w2 = malloc(wlen);
    ck_assert_int_eq(noise_transport_encrypt_to(&a2, pt, plen, w2), 0);
    ck_assert_uint_eq(w1.len, wlen);
    ck_assert_mem_eq(p2p_buf_head(&w1), w2, wlen);
    ck_assert_int_eq(noise_transport_encrypt_to(&a2, pt, 0, w2), 0);   /* nothing, no nonce used */
    ck_assert_uint_eq(a1.tx.n, a2.tx.n);
    a2.tx_dead = true;
    ck_assert_int_eq(noise_transport_encrypt_to(&a2, pt, 1, w2), P2P_ESTATE);
    free(w2);
    free(pt);
    p2p_buf_free(&w1);
    (void)b1;
}
END_TEST

/* Pieces of a plaintext for a gather write: random lengths from 1 to
 * max, and one in 8 empty, covering all of pt. */
static size_t split_pieces(const uint8_t *pt, size_t len, struct p2p_iovec *iov, size_t cap, size_t max)
{
    size_t n = 0, off = 0;
    while (off < len) {
        ck_assert_uint_lt(n, cap);
        size_t k = randombytes_uniform(8) ? 1 + randombytes_uniform((uint32_t)max) : 0;
        if (k > len - off) k = len - off;
        iov[n++] = (struct p2p_iovec){ pt + off, k };
        off += k;
    }
    return n;
}

/* A gathered plaintext seals exactly like the joined one, whatever the
 * pieces (ChaCha20 and Poly1305 blocks split anywhere), so a Yamux frame
 * can be encrypted as header + the application's bytes. */
START_TEST(aead_gather_matches_seal)
{
    static uint8_t pt[NOISE_PLAINTEXT_MAX], ref[NOISE_PLAINTEXT_MAX], ct[NOISE_PLAINTEXT_MAX];
    static struct p2p_iovec iov[2 * NOISE_PLAINTEXT_MAX];
    const size_t maxes[] = { 1, 12, 13, 64, 100, 16396, NOISE_PLAINTEXT_MAX };
    uint8_t key[32], nonce[12], tag[16], reftag[16];
    for (int round = 0; round < 28; round++) {
        size_t max = maxes[round % (sizeof maxes / sizeof maxes[0])];
        /* Tiny pieces: a few KiB (a cipher update each; slow under ASan). */
        uint32_t upto = max < 100 ? 4096 : NOISE_PLAINTEXT_MAX;
        static const size_t fixed[] = { 0, 1, 1023, 1024, 1025 };   /* around the back-ends' split */
        size_t len = round < 5 ? fixed[round] : randombytes_uniform(upto + 1);
        randombytes_buf(key, sizeof key);
        randombytes_buf(nonce, sizeof nonce);
        randombytes_buf(pt, len);
        ck_assert_int_eq(noise_aead_seal(NULL, key, nonce, NULL, 0, pt, len, ref, reftag), 0);   /* libsodium */
        size_t n = split_pieces(pt, len, iov, sizeof iov / sizeof iov[0], max);
        struct noise_gather g = { iov, n, 0, 0 };
        memset(ct, 0, len);
        ck_assert_int_eq(noise_aead_seal_gather(test_aead(), key, nonce, &g, len, ct, tag), 0);
        ck_assert_msg(memcmp(ct, ref, len) == 0 && memcmp(tag, reftag, 16) == 0,
                      "%s gathered seal differs at %zu bytes in pieces of <= %zu", noise_aead_backend(), len, max);
    }
}
END_TEST

/* Frames encrypted from pieces are the frames of the joined plaintext:
 * maximal, spanning pieces, and a gather cursor can be continued across
 * calls (the plugin encrypts a write in chunks). */
START_TEST(frames_gather_matches_encrypt_to)
{
    noise_transport a1, b1;
    transports(&a1, &b1);
    noise_transport a2 = a1;
    size_t plen = 3 * NOISE_PLAINTEXT_MAX + 1234;
    uint8_t *pt = malloc(plen);
    for (size_t i = 0; i < plen; i++) pt[i] = pattern_byte(i);
    size_t wlen = noise_transport_wire_size(plen);
    uint8_t *w1 = malloc(wlen), *w2 = malloc(wlen + NOISE_FRAME_OVERHEAD);
    ck_assert_int_eq(noise_transport_encrypt_to(&a1, pt, plen, w1), 0);
    /* Yamux-like pieces: 12-byte headers between 16 KiB payloads. */
    struct p2p_iovec iov[64];
    size_t n = 0;
    for (size_t off = 0; off < plen;) {
        size_t k = off % 16396 == 0 ? 12 : 16384;
        if (k > plen - off) k = plen - off;
        iov[n++] = (struct p2p_iovec){ pt + off, k };
        off += k;
    }
    struct noise_gather g = { iov, n, 0, 0 };
    size_t first = NOISE_PLAINTEXT_MAX + 5;   /* a chunk ending inside a piece */
    ck_assert_int_eq(noise_transport_encrypt_gather(&a2, &g, first, w2), 0);
    size_t w = noise_transport_wire_size(first);
    ck_assert_int_eq(noise_transport_encrypt_gather(&a2, &g, plen - first, w2 + w), 0);
    ck_assert_uint_eq(a1.tx.n, a2.tx.n - 1);   /* the split made one frame more */
    /* Same frames up to the split; the receiver reads both streams alike. */
    ck_assert_mem_eq(w1, w2, NOISE_FRAME_MAX);
    size_t used;
    uint8_t *out;
    size_t outlen, got = 0;
    uint8_t *back = malloc(plen);
    for (size_t off = 0; off < wlen + NOISE_FRAME_OVERHEAD;) {
        ck_assert_int_eq(noise_transport_open(&b1, w2 + off, wlen + NOISE_FRAME_OVERHEAD - off, &used, &out, &outlen), 0);
        memcpy(back + got, out, outlen);
        got += outlen;
        off += used;
    }
    ck_assert_uint_eq(got, plen);
    ck_assert_mem_eq(back, pt, plen);
    a2.tx_dead = true;
    g = (struct noise_gather){ iov, n, 0, 0 };
    ck_assert_int_eq(noise_transport_encrypt_gather(&a2, &g, 1, w2), P2P_ESTATE);
    free(back);
    free(w1);
    free(w2);
    free(pt);
}
END_TEST

START_TEST(frames_max_size)
{
    noise_transport ti, tr;
    transports(&ti, &tr);
    static uint8_t data[3 * NOISE_PLAINTEXT_MAX + 5];
    randombytes_buf(data, sizeof data);
    p2p_buf wire;
    p2p_buf_init(&wire, 0);

    /* exactly one maximal frame: length field 0xffff */
    ck_assert_int_eq(noise_transport_encrypt(&ti, data, NOISE_PLAINTEXT_MAX, &wire), 0);
    ck_assert_uint_eq(wire.len, NOISE_FRAME_MAX);
    ck_assert_uint_eq(p2p_buf_head(&wire)[0], 0xff);
    ck_assert_uint_eq(p2p_buf_head(&wire)[1], 0xff);
    uint8_t *pt;
    size_t ptl, used;
    ck_assert_int_eq(noise_transport_open(&tr, p2p_buf_head(&wire), wire.len, &used, &pt, &ptl), 0);
    ck_assert_uint_eq(used, NOISE_FRAME_MAX);
    ck_assert_uint_eq(ptl, NOISE_PLAINTEXT_MAX);
    ck_assert_mem_eq(pt, data, ptl);
    p2p_buf_reset(&wire);

    /* one byte more: two frames */
    ck_assert_int_eq(noise_transport_encrypt(&ti, data, NOISE_PLAINTEXT_MAX + 1, &wire), 0);
    ck_assert_uint_eq(wire.len, NOISE_FRAME_MAX + 1 + NOISE_FRAME_OVERHEAD);
    ck_assert_uint_eq(noise_transport_wire_size(NOISE_PLAINTEXT_MAX + 1), wire.len);
    ck_assert_uint_eq(noise_transport_wire_size(0), 0);
    ck_assert_int_eq(noise_transport_open(&tr, p2p_buf_head(&wire), wire.len, &used, &pt, &ptl), 0);
    ck_assert_uint_eq(ptl, NOISE_PLAINTEXT_MAX);
    p2p_buf_consume(&wire, used);
    ck_assert_int_eq(noise_transport_open(&tr, p2p_buf_head(&wire), wire.len, &used, &pt, &ptl), 0);
    ck_assert_uint_eq(ptl, 1);
    ck_assert_uint_eq(pt[0], data[NOISE_PLAINTEXT_MAX]);
    p2p_buf_reset(&wire);

    /* several frames at once, decrypted into a buffer */
    ck_assert_int_eq(noise_transport_encrypt(&ti, data, sizeof data, &wire), 0);
    ck_assert_uint_eq(wire.len, sizeof data + 4 * NOISE_FRAME_OVERHEAD);
    p2p_buf out;
    p2p_buf_init(&out, 0);
    while (wire.len) {
        ck_assert_int_eq(noise_transport_decrypt(&tr, p2p_buf_head(&wire), wire.len, &used, &out), 0);
        p2p_buf_consume(&wire, used);
    }
    ck_assert_uint_eq(out.len, sizeof data);
    ck_assert_mem_eq(p2p_buf_head(&out), data, sizeof data);

    /* seal refuses more than a frame holds */
    static uint8_t frame[NOISE_FRAME_MAX + 1];
    ck_assert_int_eq(noise_transport_seal(&ti, frame, NOISE_PLAINTEXT_MAX + 1), P2P_ERANGE);
    ck_assert_int_eq(noise_transport_seal(&ti, frame, NOISE_PLAINTEXT_MAX), 0);
    p2p_buf_free(&wire);
    p2p_buf_free(&out);
}
END_TEST

START_TEST(frames_bad_tag)
{
    noise_transport ti, tr;
    transports(&ti, &tr);
    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    ck_assert_int_eq(noise_transport_encrypt(&ti, (const uint8_t *)"attack at dawn", 14, &wire), 0);
    size_t n = wire.len;
    for (size_t i = 2; i < n; i++) {
        noise_transport r = tr;
        uint8_t f[64], *pt;
        size_t used, ptl;
        memcpy(f, p2p_buf_head(&wire), n);
        f[i] ^= 0x20;
        ck_assert_int_eq(noise_transport_open(&r, f, n, &used, &pt, &ptl), P2P_ECRYPTO);
        ck_assert_uint_eq(used, n);
        /* the direction is dead now, even for the genuine frame */
        memcpy(f, p2p_buf_head(&wire), n);
        ck_assert_int_eq(noise_transport_open(&r, f, n, &used, &pt, &ptl), P2P_ESTATE);
        ck_assert_uint_eq(used, 0);
    }
    /* a frame too short for a tag */
    static const uint8_t shortf[] = { 0, 5, 1, 2, 3, 4, 5 };
    noise_transport r = tr;
    size_t used;
    p2p_buf out;
    p2p_buf_init(&out, 0);
    ck_assert_int_eq(noise_transport_decrypt(&r, shortf, sizeof shortf, &used, &out), P2P_EPROTO);
    ck_assert_uint_eq(used, sizeof shortf);
    r = tr;
    static const uint8_t empty[] = { 0, 0 };
    ck_assert_int_eq(noise_transport_decrypt(&r, empty, 2, &used, &out), P2P_EPROTO);
    /* wrong direction: our own frame does not decrypt with our rx key */
    r = ti;
    uint8_t f[64], *pt;
    size_t ptl;
    memcpy(f, p2p_buf_head(&wire), n);
    ck_assert_int_eq(noise_transport_open(&r, f, n, &used, &pt, &ptl), P2P_ECRYPTO);
    p2p_buf_free(&wire);
    p2p_buf_free(&out);
}
END_TEST

START_TEST(frames_nonce_sequence)
{
    noise_transport ti, tr;
    transports(&ti, &tr);
    uint8_t k[32];
    memcpy(k, ti.tx.k, 32);
    ck_assert_mem_eq(k, tr.rx.k, 32);
    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    static uint8_t frames[5][64];
    size_t flen[5];
    for (unsigned i = 0; i < 5; i++) {
        uint8_t msg[8] = { 'm', 's', 'g', (uint8_t)('0' + i) };
        p2p_buf_reset(&wire);
        ck_assert_int_eq(noise_transport_encrypt(&ti, msg, 4, &wire), 0);
        flen[i] = wire.len;
        memcpy(frames[i], p2p_buf_head(&wire), wire.len);
        /* frame i uses nonce i */
        uint8_t nonce[12] = { 0 }, c[32];
        nonce[4] = (uint8_t)i;
        unsigned long long cl;
        crypto_aead_chacha20poly1305_ietf_encrypt(c, &cl, msg, 4, NULL, 0, NULL, nonce, k);
        ck_assert_uint_eq(cl + 2, flen[i]);
        ck_assert_mem_eq(frames[i] + 2, c, cl);
    }
    ck_assert_uint_eq(ti.tx.n, 5);
    /* out of order: frame 1 before frame 0 fails */
    noise_transport r = tr;
    uint8_t f[64], *pt;
    size_t used, ptl;
    memcpy(f, frames[1], flen[1]);
    ck_assert_int_eq(noise_transport_open(&r, f, flen[1], &used, &pt, &ptl), P2P_ECRYPTO);
    /* replay: frame 0 twice fails the second time */
    r = tr;
    memcpy(f, frames[0], flen[0]);
    ck_assert_int_eq(noise_transport_open(&r, f, flen[0], &used, &pt, &ptl), 0);
    memcpy(f, frames[0], flen[0]);
    ck_assert_int_eq(noise_transport_open(&r, f, flen[0], &used, &pt, &ptl), P2P_ECRYPTO);
    /* in order: all fine */
    r = tr;
    for (unsigned i = 0; i < 5; i++) {
        memcpy(f, frames[i], flen[i]);
        ck_assert_int_eq(noise_transport_open(&r, f, flen[i], &used, &pt, &ptl), 0);
        ck_assert_uint_eq(pt[3], '0' + i);
    }
    ck_assert_uint_eq(r.rx.n, 5);
    p2p_buf_free(&wire);
}
END_TEST

START_TEST(frames_nonce_exhaustion)
{
    noise_transport ti, tr;
    transports(&ti, &tr);
    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    static uint8_t data[NOISE_PLAINTEXT_MAX + 1];
    noise_cipher_set_nonce(&ti.tx, UINT64_MAX - 2);
    /* two frames would need nonces 2^64-3 and 2^64-2: fine; three would
     * reach the reserved one. All or nothing. */
    noise_transport t2 = ti;
    ck_assert_int_eq(noise_transport_encrypt(&t2, data, NOISE_PLAINTEXT_MAX + 1, &wire), 0);
    ck_assert_uint_eq(t2.tx.n, UINT64_MAX);
    ck_assert_int_eq(noise_transport_encrypt(&t2, data, 1, &wire), P2P_ELIMIT);
    p2p_buf_reset(&wire);
    noise_cipher_set_nonce(&ti.tx, UINT64_MAX - 1);
    ck_assert_int_eq(noise_transport_encrypt(&ti, data, NOISE_PLAINTEXT_MAX + 1, &wire), P2P_ELIMIT);
    ck_assert_uint_eq(wire.len, 0);
    ck_assert_uint_eq(ti.tx.n, UINT64_MAX - 1);
    ck_assert_int_eq(noise_transport_encrypt(&ti, data, 1, &wire), P2P_ESTATE);
    p2p_buf_free(&wire);
}
END_TEST

START_TEST(frames_buffer_limits)
{
    noise_transport ti, tr;
    transports(&ti, &tr);
    p2p_buf small, wire;
    p2p_buf_init(&small, 10);
    p2p_buf_init(&wire, 0);
    uint8_t msg[32] = "a message longer than ten bytes";
    /* encrypt into a buffer that is too small: nothing happens */
    ck_assert_int_eq(noise_transport_encrypt(&ti, msg, sizeof msg, &small), P2P_ELIMIT);
    ck_assert_uint_eq(small.len, 0);
    ck_assert_uint_eq(ti.tx.n, 0);
    ck_assert_int_eq(noise_transport_encrypt(&ti, msg, sizeof msg, &wire), 0);
    /* decrypt into a buffer that is too small: nothing consumed, retry */
    size_t used = 5;
    ck_assert_int_eq(noise_transport_decrypt(&tr, p2p_buf_head(&wire), wire.len, &used, &small),
                     P2P_ELIMIT);
    ck_assert_uint_eq(used, 0);
    ck_assert_uint_eq(tr.rx.n, 0);
    p2p_buf big;
    p2p_buf_init(&big, 64);
    ck_assert_int_eq(noise_transport_decrypt(&tr, p2p_buf_head(&wire), wire.len, &used, &big), 0);
    ck_assert_uint_eq(used, wire.len);
    ck_assert_mem_eq(p2p_buf_head(&big), msg, sizeof msg);
    /* the handshake too: a failed write into a full buffer changes nothing */
    struct pair p;
    pair_new(&p, NULL, NULL, false);
    p2p_buf_reset(&small);
    ck_assert_int_eq(noise_hs_write(p.i, &small), P2P_ELIMIT);
    ck_assert(noise_hs_wants_write(p.i));
    ck_assert_int_eq(run(&p), 0);
    pair_free(&p);
    p2p_buf_free(&small);
    p2p_buf_free(&wire);
    p2p_buf_free(&big);
}
END_TEST

/* ---- (6) malformed handshake input ------------------------------------ */

START_TEST(hs_every_split)
{
    /* every handshake message delivered cut at every position */
    struct pair p;
    pair_new(&p, NULL, NULL, true);
    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    noise_hs *order[3][2] = { { p.i, p.r }, { p.r, p.i }, { p.i, p.r } };
    for (int m = 0; m < 3; m++) {
        noise_hs *w = order[m][0], *r = order[m][1];
        p2p_buf_reset(&wire);
        ck_assert_int_eq(noise_hs_write(w, &wire), 0);
        for (size_t k = 0; k < wire.len; k++) {
            size_t used = 42;
            ck_assert_int_eq(noise_hs_read(r, p2p_buf_head(&wire), k, &used), P2P_ETRUNC);
            ck_assert_uint_eq(used, 0);
            ck_assert(!noise_hs_failed(r));
        }
        /* with trailing bytes of the next (imaginary) frame */
        ck_assert_int_eq(p2p_buf_append(&wire, "\x00\x05zz", 4), 0);
        size_t used;
        ck_assert_int_eq(noise_hs_read(r, p2p_buf_head(&wire), wire.len, &used), 0);
        ck_assert_uint_eq(used, wire.len - 4);
    }
    ck_assert(noise_hs_done(p.i) && noise_hs_done(p.r));
    p2p_buf_free(&wire);
    pair_free(&p);
}
END_TEST

START_TEST(hs_wrong_turn)
{
    struct pair p;
    pair_new(&p, NULL, NULL, false);
    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    size_t used = 3;
    static const uint8_t junk[40] = { 0, 32 };
    /* the initiator writes first; the responder reads first */
    ck_assert_int_eq(noise_hs_read(p.i, junk, sizeof junk, &used), P2P_ESTATE);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(noise_hs_write(p.r, &wire), P2P_ESTATE);
    ck_assert_uint_eq(wire.len, 0);
    ck_assert(!noise_hs_failed(p.i) && !noise_hs_failed(p.r));
    noise_transport t;
    ck_assert_int_eq(noise_hs_split(p.i, &t), P2P_ESTATE);
    ck_assert_ptr_null(noise_hs_handshake_hash(p.i));
    ck_assert_int_eq(run(&p), 0);
    /* after the end: nothing more to read or write */
    ck_assert_int_eq(noise_hs_write(p.i, &wire), P2P_ESTATE);
    ck_assert_int_eq(noise_hs_read(p.r, junk, sizeof junk, &used), P2P_ESTATE);
    ck_assert_int_eq(noise_hs_read(p.i, junk, sizeof junk, &used), P2P_ESTATE);
    p2p_buf_free(&wire);
    pair_free(&p);
}
END_TEST

/* Message 1 variants a responder must refuse (and then stay dead). */
START_TEST(hs_bad_message1)
{
    static const struct { size_t len; int rc; } cases[] = {
        { 0, P2P_EPROTO },    /* empty frame */
        { 31, P2P_EPROTO },   /* short key */
        { 33, P2P_EPROTO },   /* a payload in message 1 */
        { 65535, P2P_EPROTO },/* the largest frame, payload again */
    };
    static uint8_t frame[2 + 65535];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        p2p_keypair k;
        p2p_keypair_from_seed_byte(&k, 2);
        struct noise_hs_config cr = { .role = NOISE_RESPONDER, .identity = &k };
        noise_hs *r;
        ck_assert_int_eq(noise_hs_new(&r, &cr), 0);
        size_t len = cases[c].len;
        frame[0] = (uint8_t)(len >> 8);
        frame[1] = (uint8_t)len;
        for (size_t i = 0; i < len; i++) frame[2 + i] = (uint8_t)(i * 13 + 1);
        size_t used;
        ck_assert_int_eq(noise_hs_read(r, frame, 2 + len, &used), cases[c].rc);
        ck_assert_uint_eq(used, 2 + len);
        ck_assert(noise_hs_failed(r));
        ck_assert_int_eq(noise_hs_read(r, frame, 2 + len, &used), P2P_ESTATE);
        noise_hs_free(r);
    }
}
END_TEST

START_TEST(hs_low_order_ephemeral)
{
    /* An all-zero ephemeral key: the responder's "ee" DH must refuse it. */
    p2p_keypair k;
    p2p_keypair_from_seed_byte(&k, 2);
    struct noise_hs_config cr = { .role = NOISE_RESPONDER, .identity = &k };
    noise_hs *r;
    ck_assert_int_eq(noise_hs_new(&r, &cr), 0);
    uint8_t frame[34] = { 0, 32 };
    size_t used;
    ck_assert_int_eq(noise_hs_read(r, frame, sizeof frame, &used), 0);
    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    ck_assert_int_eq(noise_hs_write(r, &wire), P2P_ECRYPTO);
    ck_assert(noise_hs_failed(r));
    ck_assert_uint_eq(wire.len, 0);
    p2p_buf_free(&wire);
    noise_hs_free(r);
}
END_TEST

START_TEST(hs_garbage_messages)
{
    /* random message 2 / message 3 of many sizes */
    for (size_t len = 0; len < 400; len += 7) {
        for (int which = 2; which <= 3; which++) {
            struct pair p;
            pair_new(&p, NULL, NULL, true);
            p2p_buf wire;
            p2p_buf_init(&wire, 0);
            ck_assert_int_eq(step(p.i, p.r, &wire), 0);
            noise_hs *reader = p.i;
            if (which == 3) {
                ck_assert_int_eq(step(p.r, p.i, &wire), 0);
                reader = p.r;
            }
            uint8_t frame[2 + 400];
            frame[0] = (uint8_t)(len >> 8);
            frame[1] = (uint8_t)len;
            randombytes_buf(frame + 2, len);
            size_t used;
            int rc = noise_hs_read(reader, frame, len + 2, &used);
            ck_assert_msg(rc == P2P_EPROTO || rc == P2P_ECRYPTO, "len %zu rc %d", len, rc);
            ck_assert_uint_eq(used, len + 2);
            ck_assert(noise_hs_failed(reader));
            p2p_buf_free(&wire);
            pair_free(&p);
        }
    }
}
END_TEST

START_TEST(hs_payload_encode)
{
    p2p_keypair k;
    p2p_keypair_from_seed_byte(&k, 4);
    uint8_t spub[32] = { 9 }, *out;
    size_t n;
    ck_assert_int_eq(noise_hs_payload_encode(&k, spub, MUX_I, 2, &out, &n), 0);
    P2p__Noise__NoiseHandshakePayload *pb =
        p2p__noise__noise_handshake_payload__unpack(NULL, n, out);
    ck_assert_ptr_nonnull(pb);
    ck_assert(pb->has_identity_key && pb->has_identity_sig);
    ck_assert_uint_eq(pb->identity_sig.len, 64);
    ck_assert_ptr_nonnull(pb->extensions);
    ck_assert_uint_eq(pb->extensions->n_stream_muxers, 2);
    ck_assert_uint_eq(pb->extensions->n_webtransport_certhashes, 0);
    p2p_pubkey pub;
    ck_assert_int_eq(p2p_pubkey_decode(&pub, pb->identity_key.data, pb->identity_key.len), 0);
    uint8_t msg[56];
    memcpy(msg, "noise-libp2p-static-key:", 24);
    memcpy(msg + 24, spub, 32);
    ck_assert_int_eq(p2p_pubkey_verify(&pub, msg, 56, pb->identity_sig.data, 64), 0);
    /* field order on the wire: 1 (key), 2 (sig), 4 (extensions) */
    ck_assert_uint_eq(out[0], 0x0a);
    p2p__noise__noise_handshake_payload__free_unpacked(pb, NULL);
    free(out);
    ck_assert_int_eq(noise_hs_payload_encode(NULL, spub, NULL, 0, &out, &n), P2P_EINVAL);
}
END_TEST

static Suite *noise_suite(void)
{
    Suite *s = suite_create("noise");
    TCase *tc = tcase_create("vectors");
    tcase_add_loop_test(tc, vectors, 0, (int)N_VECTORS);
    tcase_add_loop_test(tc, vectors_cipherstate, 0, (int)N_VECTORS);
    tcase_add_test(tc, vectors_tamper);
    tcase_add_test(tc, cipher_nonce_layout);
    tcase_add_test(tc, cipher_nonce_reserved);
    tcase_add_test(tc, aead_backend_matches_libsodium);
    tcase_add_test(tc, aead_gather_matches_seal);
    suite_add_tcase(s, tc);

    tc = tcase_create("handshake");
    tcase_add_test(tc, libp2p_handshake);
    tcase_add_test(tc, libp2p_handshake_sizes);
    tcase_add_test(tc, libp2p_given_static_key);
    tcase_add_test(tc, libp2p_cached_payload);
    tcase_add_test(tc, libp2p_one_sided_muxers);
    tcase_add_test(tc, config_errors);
    tcase_add_test(tc, expected_peer_ok);
    tcase_add_test(tc, expected_peer_mismatch_initiator);
    tcase_add_test(tc, expected_peer_mismatch_responder);
    tcase_add_loop_test(tc, tampered_responder, 0, FK_COUNT);
    tcase_add_loop_test(tc, tampered_initiator, 0, FK_COUNT);
    tcase_add_loop_test(tc, tampered_bits, 2, 4);
    tcase_add_test(tc, deterministic);
    tcase_add_test(tc, hs_payload_encode);
    suite_add_tcase(s, tc);

    tc = tcase_create("frames");
    tcase_add_test(tc, frames_every_split);
    tcase_add_test(tc, frames_max_size);
    tcase_add_test(tc, frames_read_want);
    tcase_add_test(tc, frames_read_in_place);
    tcase_add_test(tc, frames_read_in_place_small_batch);
    tcase_add_test(tc, frames_read_in_place_bad_tag);
    tcase_add_test(tc, frames_encrypt_to_matches_encrypt);
    tcase_add_test(tc, frames_gather_matches_encrypt_to);
    tcase_add_test(tc, frames_bad_tag);
    tcase_add_test(tc, frames_nonce_sequence);
    tcase_add_test(tc, frames_nonce_exhaustion);
    tcase_add_test(tc, frames_buffer_limits);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_test(tc, hs_every_split);
    tcase_add_test(tc, hs_wrong_turn);
    tcase_add_test(tc, hs_bad_message1);
    tcase_add_test(tc, hs_low_order_ephemeral);
    tcase_add_test(tc, hs_garbage_messages);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(noise_suite());
}
