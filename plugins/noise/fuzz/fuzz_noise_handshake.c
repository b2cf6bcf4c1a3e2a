/* libFuzzer target for the libp2p Noise logic. The first input byte picks
 * what the rest is fed into; every key is fixed, so the transcript of a
 * real handshake is the same on every run and seeds can hold valid frames:
 *
 *   0  a fresh responder's stream (message 1, then message 3)
 *   1  a responder's stream after a real message 1 (message 3)
 *   2  an initiator's stream after it wrote message 1 (message 2)
 *   3  the payload of message 3, encrypted by a raw Noise initiator, read by
 *      a real responder (reaches the protobuf and signature checks)
 *   4  the payload of message 2 from a raw Noise responder, real initiator
 *   5  transport frames after a real handshake (in place, into a bounded
 *      buffer, and as the plugin reads them: reads sized by
 *      noise_transport_read_want into a buffer, opened where they landed;
 *      all three must agree)
 *   6  plaintext through a real transport pair (must round-trip)
 *
 * Memory stays bounded: frames are at most 65537 bytes and every output
 * buffer has a limit. */
#include <stdlib.h>
#include <string.h>

#include "p2p/p2p.h"
#include "noise_hs.h"
#include "noise_state.h"
#include "noise_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fz_mux_i[] = { "/yamux/1.0.0", "/mplex/6.7.0" };
static const char *const fz_mux_r[] = { "/mplex/6.7.0" };
static const uint8_t fz_si[32] = { 21 }, fz_sr[32] = { 22 }, fz_ei[32] = { 23 }, fz_er[32] = { 24 };

struct fz {
    p2p_keypair ki, kr;
    noise_hs *i, *r;
    p2p_buf wire;
};

static void fz_init(struct fz *f)
{
    p2p_keypair_from_seed_byte(&f->ki, 1);
    p2p_keypair_from_seed_byte(&f->kr, 2);
    struct noise_hs_config ci = { .role = NOISE_INITIATOR, .identity = &f->ki,
                                  .static_key = fz_si, .ephemeral_key = fz_ei,
                                  .muxers = fz_mux_i, .n_muxers = 2 };
    struct noise_hs_config cr = { .role = NOISE_RESPONDER, .identity = &f->kr,
                                  .static_key = fz_sr, .ephemeral_key = fz_er,
                                  .muxers = fz_mux_r, .n_muxers = 1 };
    if (noise_hs_new(&f->i, &ci) || noise_hs_new(&f->r, &cr)) abort();
    p2p_buf_init(&f->wire, 4 * NOISE_FRAME_MAX);
}

static void fz_free(struct fz *f)
{
    noise_hs_free(f->i);
    noise_hs_free(f->r);
    p2p_buf_free(&f->wire);
}

/* One real message from w to r. */
static void fz_step(struct fz *f, noise_hs *w, noise_hs *r)
{
    size_t used;
    p2p_buf_reset(&f->wire);
    if (noise_hs_write(w, &f->wire)) abort();
    if (noise_hs_read(r, p2p_buf_head(&f->wire), f->wire.len, &used)) abort();
}

/* Feed a byte stream to a handshake the way a connection would. */
static void feed_hs(noise_hs *hs, const uint8_t *d, size_t n)
{
    p2p_buf out;
    p2p_buf_init(&out, 2 * NOISE_FRAME_MAX);
    while (!noise_hs_done(hs) && !noise_hs_failed(hs)) {
        if (noise_hs_wants_write(hs)) {
            if (noise_hs_write(hs, &out)) break;
            continue;
        }
        size_t used = 0;
        int rc = noise_hs_read(hs, d, n, &used);
        if (used > n) abort();
        if (rc == P2P_ETRUNC) {
            if (used) abort();
            break;
        }
        d += used;
        n -= used;
        if (rc) {
            if (!noise_hs_failed(hs) || noise_hs_remote_peer(hs)) abort();
            break;
        }
    }
    if (noise_hs_done(hs)) {
        noise_transport t;
        if (!noise_hs_remote_peer(hs) || noise_hs_split(hs, &t)) abort();
        noise_transport_wipe(&t);
    }
    p2p_buf_free(&out);
}

/* A raw Noise peer sends `payload` in its handshake message to the real
 * one; mode 3: the raw initiator's message 3, mode 4: the raw responder's
 * message 2. */
static void raw_peer(struct fz *f, bool initiator, const uint8_t *payload, size_t plen)
{
    static uint8_t msg[NOISE_FRAME_MAX], pl[NOISE_MSG_MAX];
    noise_handshake raw;
    size_t ml, used, n;
    if (plen > NOISE_MSG_MAX - 96) plen = NOISE_MSG_MAX - 96;
    if (initiator) {
        noise_handshake_init(&raw, NOISE_INITIATOR, NULL, 0, fz_si, fz_ei);
        if (noise_handshake_write(&raw, NULL, 0, msg + 2, sizeof msg - 2, &ml)) abort();
        msg[0] = 0;
        msg[1] = (uint8_t)ml;
        if (noise_hs_read(f->r, msg, ml + 2, &used)) abort();
        p2p_buf_reset(&f->wire);
        if (noise_hs_write(f->r, &f->wire)) abort();
        if (noise_handshake_read(&raw, p2p_buf_head(&f->wire) + 2, f->wire.len - 2, pl,
                                 sizeof pl, &n))
            abort();
    } else {
        noise_handshake_init(&raw, NOISE_RESPONDER, NULL, 0, fz_sr, fz_er);
        p2p_buf_reset(&f->wire);
        if (noise_hs_write(f->i, &f->wire)) abort();
        if (noise_handshake_read(&raw, p2p_buf_head(&f->wire) + 2, f->wire.len - 2, pl,
                                 sizeof pl, &n))
            abort();
    }
    if (noise_handshake_write(&raw, payload, plen, msg + 2, sizeof msg - 2, &ml)) abort();
    msg[0] = (uint8_t)(ml >> 8);
    msg[1] = (uint8_t)ml;
    noise_hs *reader = initiator ? f->r : f->i;
    int rc = noise_hs_read(reader, msg, ml + 2, &used);
    if (used != ml + 2) abort();
    if (rc == 0) {
        /* accepted: it must name a key and, for the responder, be done */
        if (!noise_hs_remote_peer(reader) || !noise_hs_remote_key(reader)) abort();
        size_t nm;
        const char *const *m = noise_hs_remote_muxers(reader, &nm);
        for (size_t i = 0; i < nm; i++)
            if (!m[i] || !*m[i] || strlen(m[i]) > NOISE_HS_MUXER_LEN_MAX) abort();
        if (initiator && !noise_hs_done(reader)) abort();
        if (initiator) (void)noise_hs_selected_muxer(reader);
    } else if (!noise_hs_failed(reader)) {
        abort();
    }
    noise_handshake_wipe(&raw);
}

static void transports(struct fz *f, noise_transport *ti, noise_transport *tr)
{
    fz_step(f, f->i, f->r);
    fz_step(f, f->r, f->i);
    fz_step(f, f->i, f->r);
    if (noise_hs_split(f->i, ti) || noise_hs_split(f->r, tr)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 2 * NOISE_FRAME_MAX) return 0;
    uint8_t mode = data[0] % 7;
    data++;
    size--;
    struct fz f;
    fz_init(&f);
    switch (mode) {
    case 0:
        feed_hs(f.r, data, size);
        break;
    case 1:
        fz_step(&f, f.i, f.r);
        feed_hs(f.r, data, size);
        break;
    case 2:
        p2p_buf_reset(&f.wire);
        if (noise_hs_write(f.i, &f.wire)) abort();
        feed_hs(f.i, data, size);
        break;
    case 3:
        raw_peer(&f, true, data, size);
        break;
    case 4:
        raw_peer(&f, false, data, size);
        break;
    case 5: {
        noise_transport ti, tr, tr2, tr3;
        transports(&f, &ti, &tr);
        tr2 = tr;
        tr3 = tr;
        uint8_t *copy = malloc(size ? size : 1);
        if (!copy) abort();
        memcpy(copy, data, size);
        size_t off = 0, opened = 0;
        int last = 0;
        while (off < size) {
            uint8_t *pt;
            size_t ptl, used = 0;
            int rc = noise_transport_open(&tr, copy + off, size - off, &used, &pt, &ptl);
            if (rc == P2P_ETRUNC) break;
            last = rc;
            if (rc) break;
            if (pt != copy + off + 2 || ptl + NOISE_FRAME_OVERHEAD != used) abort();
            off += used;
            opened++;
        }
        {
            /* the plugin's receive loop; the kernel hands over at most
             * `chunk` bytes per read */
            p2p_buf in;
            p2p_buf_init(&in, 8 * NOISE_FRAME_MAX);
            size_t pos = 0, n3 = 0, chunk = 1 + size % 7000;
            int rc = 0;
            while (pos < size && !rc) {
                size_t want = noise_transport_read_want(p2p_buf_head(&in), in.len);
                if (!want || want > NOISE_FRAME_MAX) abort();
                if (p2p_buf_reserve(&in, want)) abort();
                size_t k = want < chunk ? want : chunk;
                if (k > size - pos) k = size - pos;
                memcpy(p2p_buf_tail(&in), data + pos, k);
                p2p_buf_commit(&in, k);
                pos += k;
                for (;;) {
                    uint8_t *pt;
                    size_t ptl, used = 0;
                    rc = noise_transport_open(&tr3, p2p_buf_head(&in), in.len, &used, &pt, &ptl);
                    if (rc == P2P_ETRUNC) {
                        rc = 0;
                        break;
                    }
                    if (rc) break;
                    p2p_buf_consume(&in, used);
                    n3++;
                }
            }
            if (n3 != opened || rc != last) abort();
            p2p_buf_free(&in);
        }
        p2p_buf out;
        p2p_buf_init(&out, 1024);
        off = 0;
        while (off < size) {
            size_t used = 0;
            int rc = noise_transport_decrypt(&tr2, data + off, size - off, &used, &out);
            if (rc || !used) break;
            off += used;
            p2p_buf_reset(&out);
        }
        p2p_buf_free(&out);
        free(copy);
        break;
    }
    case 6: {
        noise_transport ti, tr;
        transports(&f, &ti, &tr);
        p2p_buf wire, out;
        p2p_buf_init(&wire, 0);
        p2p_buf_init(&out, 0);
        /* the first input byte splits the rest into two writes */
        size_t cut = size ? (size_t)data[0] * size / 256 : 0;
        if (noise_transport_encrypt(&ti, data, cut, &wire)) abort();
        if (noise_transport_encrypt(&ti, data + cut, size - cut, &wire)) abort();
        if (wire.len != noise_transport_wire_size(cut) + noise_transport_wire_size(size - cut))
            abort();
        while (wire.len) {
            size_t used;
            if (noise_transport_decrypt(&tr, p2p_buf_head(&wire), wire.len, &used, &out)) abort();
            p2p_buf_consume(&wire, used);
        }
        if (out.len != size || (size && memcmp(p2p_buf_head(&out), data, size))) abort();
        p2p_buf_free(&wire);
        p2p_buf_free(&out);
        break;
    }
    }
    fz_free(&f);
    return 0;
}
