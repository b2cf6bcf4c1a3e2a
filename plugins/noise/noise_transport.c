/* noise_transport.c - libp2p Noise transport frames (see noise_transport.h). */
#include <string.h>

#include "p2p/error.h"
#include "noise_aead.h"
#include "noise_transport.h"

void noise_transport_init(noise_transport *t, const noise_cipher *tx, const noise_cipher *rx)
{
    t->tx = *tx;
    t->rx = *rx;
    t->tx_dead = false;
    t->rx_dead = false;
}

void noise_transport_set_aead(noise_transport *t, struct noise_aead *a)
{
    t->tx.aead = a;
    t->rx.aead = a;
}

void noise_transport_wipe(noise_transport *t)
{
    noise_cipher_wipe(&t->tx);
    noise_cipher_wipe(&t->rx);
    t->tx_dead = true;
    t->rx_dead = true;
}

static size_t frames_for(size_t len)
{
    return len / NOISE_PLAINTEXT_MAX + (len % NOISE_PLAINTEXT_MAX != 0);
}

size_t noise_transport_wire_size(size_t len)
{
    return len + frames_for(len) * NOISE_FRAME_OVERHEAD;
}

static inline void put_len(uint8_t *p, size_t n)
{
    p[0] = (uint8_t)(n >> 8);
    p[1] = (uint8_t)n;
}

int noise_transport_seal(noise_transport *t, uint8_t *frame, size_t len)
{
    if (t->tx_dead) return P2P_ESTATE;
    if (len > NOISE_PLAINTEXT_MAX) return P2P_ERANGE;
    uint8_t *body = frame + NOISE_FRAME_HDR;
    int rc = noise_cipher_encrypt_detached(&t->tx, body, len, body, body + len);
    if (rc) {
        t->tx_dead = true;
        return rc;
    }
    put_len(frame, len + NOISE_TAGLEN);
    return 0;
}

/* Check what can fail before anything is written; returns the wire size. */
static int encrypt_check(noise_transport *t, size_t len, size_t *total)
{
    if (t->tx_dead) return P2P_ESTATE;
    size_t nframes = frames_for(len);
    if (len && !t->tx.has_key) return P2P_ESTATE;
    if (nframes > UINT64_MAX - t->tx.n) {
        t->tx_dead = true;
        return P2P_ELIMIT;
    }
    if (len > SIZE_MAX - nframes * NOISE_FRAME_OVERHEAD) return P2P_ERANGE;
    *total = len + nframes * NOISE_FRAME_OVERHEAD;
    return 0;
}

static void encrypt_frames(noise_transport *t, struct noise_gather *g, size_t len, uint8_t *dst)
{
    while (len) {
        size_t n = len < NOISE_PLAINTEXT_MAX ? len : NOISE_PLAINTEXT_MAX;
        uint8_t *body = dst + NOISE_FRAME_HDR;
        /* cannot fail: key present and nonces checked by encrypt_check
         * (OpenSSL out of memory aside, which the checks cannot see) */
        (void)noise_cipher_encrypt_gather(&t->tx, g, n, body, body + n);
        put_len(dst, n + NOISE_TAGLEN);
        dst += n + NOISE_FRAME_OVERHEAD;
        len -= n;
    }
}

int noise_transport_encrypt_gather(noise_transport *t, struct noise_gather *g, size_t len, uint8_t *dst)
{
    size_t total;
    int rc = encrypt_check(t, len, &total);
    if (rc) return rc;
    encrypt_frames(t, g, len, dst);
    return 0;
}

int noise_transport_encrypt_to(noise_transport *t, const uint8_t *pt, size_t len, uint8_t *dst)
{
    struct p2p_iovec one = { pt, len };
    struct noise_gather g = { &one, 1, 0, 0 };
    return noise_transport_encrypt_gather(t, &g, len, dst);
}

int noise_transport_encrypt(noise_transport *t, const uint8_t *pt, size_t len, p2p_buf *out)
{
    size_t total;
    int rc = encrypt_check(t, len, &total);
    if (rc || !len) return rc;
    rc = p2p_buf_reserve(out, total);
    if (rc) return rc;
    rc = noise_transport_encrypt_to(t, pt, len, p2p_buf_tail(out));
    if (rc == 0) p2p_buf_commit(out, total);
    return rc;
}

int noise_transport_peek(const uint8_t *in, size_t len, size_t *frame_size)
{
    if (len < NOISE_FRAME_HDR) return P2P_ETRUNC;
    *frame_size = NOISE_FRAME_HDR + (((size_t)in[0] << 8) | in[1]);
    return 0;
}

size_t noise_transport_read_want(const uint8_t *in, size_t have)
{
    size_t fsz;
    if (noise_transport_peek(in, have, &fsz) < 0) return NOISE_FRAME_MAX - have;
    return fsz > have ? fsz - have : 0;
}

/* Common checks: frame complete, long enough; returns the body length. */
static int frame_check(noise_transport *t, const uint8_t *in, size_t len, size_t *consumed,
                       size_t *body)
{
    size_t fsz;
    *consumed = 0;
    if (t->rx_dead) return P2P_ESTATE;
    if (noise_transport_peek(in, len, &fsz) < 0 || len < fsz) return P2P_ETRUNC;
    size_t l = fsz - NOISE_FRAME_HDR;
    if (l < NOISE_TAGLEN) {
        *consumed = fsz;
        t->rx_dead = true;
        return P2P_EPROTO;
    }
    *body = l - NOISE_TAGLEN;
    return 0;
}

int noise_transport_open(noise_transport *t, uint8_t *in, size_t len, size_t *consumed,
                         uint8_t **pt, size_t *ptlen)
{
    size_t body;
    int rc = frame_check(t, in, len, consumed, &body);
    if (rc) return rc;
    uint8_t *c = in + NOISE_FRAME_HDR;
    *consumed = NOISE_FRAME_HDR + body + NOISE_TAGLEN;
    rc = noise_cipher_decrypt_detached(&t->rx, c, body, c + body, c);
    if (rc) {
        t->rx_dead = true;
        return rc;
    }
    *pt = c;
    *ptlen = body;
    return 0;
}

int noise_transport_decrypt(noise_transport *t, const uint8_t *in, size_t len,
                            size_t *consumed, p2p_buf *out)
{
    size_t body;
    int rc = frame_check(t, in, len, consumed, &body);
    if (rc) return rc;
    if (body) {
        rc = p2p_buf_reserve(out, body);
        if (rc) return rc;   /* *consumed is still 0 */
    }
    const uint8_t *c = in + NOISE_FRAME_HDR;
    *consumed = NOISE_FRAME_HDR + body + NOISE_TAGLEN;
    uint8_t dummy;
    rc = noise_cipher_decrypt_detached(&t->rx, c, body, c + body,
                                       body ? p2p_buf_tail(out) : &dummy);
    if (rc) {
        t->rx_dead = true;
        return rc;
    }
    p2p_buf_commit(out, body);
    return 0;
}
