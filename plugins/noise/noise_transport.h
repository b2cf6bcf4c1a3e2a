/* noise_transport.h - libp2p Noise transport framing after the handshake.
 *
 * Wire: frames of <2-byte big-endian length L><L bytes: ChaCha20-Poly1305
 * ciphertext || 16-byte tag>, L <= 65535, so at most 65519 plaintext bytes
 * per frame. Each direction has its own key and 64-bit nonce counter
 * (empty associated data).
 *
 * This is the bulk-data hot path, so nothing is copied that need not be:
 * encryption goes straight from the caller's bytes into the output buffer
 * (or in place, with noise_transport_seal), and decryption happens in
 * place in the receive buffer (noise_transport_open) or straight into an
 * output buffer (noise_transport_decrypt).
 *
 * Errors: P2P_ETRUNC incomplete frame (nothing consumed), P2P_EPROTO a
 * frame too short to hold a tag, P2P_ECRYPTO bad tag, P2P_ELIMIT nonce
 * space exhausted, P2P_ERANGE plaintext over the frame limit, P2P_ESTATE
 * a direction already failed (after P2P_ECRYPTO/EPROTO/ELIMIT the
 * direction stays dead; the connection must be closed). Buffer errors
 * (P2P_ELIMIT, P2P_ENOMEM) from p2p_buf leave the state unchanged. */
#ifndef NOISE_TRANSPORT_H
#define NOISE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/buf.h"
#include "noise_state.h"

#define NOISE_FRAME_HDR 2
/* Largest plaintext of one frame: 65535 - 16. */
#define NOISE_PLAINTEXT_MAX (NOISE_MSG_MAX - NOISE_TAGLEN)
/* Largest frame on the wire, header included. */
#define NOISE_FRAME_MAX (NOISE_FRAME_HDR + NOISE_MSG_MAX)
/* Bytes a frame adds around its plaintext. */
#define NOISE_FRAME_OVERHEAD (NOISE_FRAME_HDR + NOISE_TAGLEN)

typedef struct noise_transport {
    noise_cipher tx;     /* what we send */
    noise_cipher rx;     /* what we receive */
    bool tx_dead, rx_dead;
} noise_transport;

/* From two cipher states (noise_handshake_split); noise_hs_split does it. */
void noise_transport_init(noise_transport *t, const noise_cipher *tx, const noise_cipher *rx);
void noise_transport_wipe(noise_transport *t);
/* Both directions use the back-end contexts a (borrowed: a must outlive
 * every later call on t; NULL = libsodium, as after init). */
void noise_transport_set_aead(noise_transport *t, struct noise_aead *a);

/* Bytes on the wire for len bytes of plaintext written with
 * noise_transport_encrypt (0 for 0). */
size_t noise_transport_wire_size(size_t len);

/* Encrypt pt[0..len) into as many maximal frames as needed and append them
 * to out. All or nothing: on error out and the state are unchanged.
 * len 0 appends nothing. pt must not point into out. */
int noise_transport_encrypt(noise_transport *t, const uint8_t *pt, size_t len, p2p_buf *out);

/* As noise_transport_encrypt, into dst, which has room for
 * noise_transport_wire_size(len) bytes (e.g. memory reserved in the
 * transport's output: p2p_stream_write_reserve) and does not overlap pt.
 * All or nothing on the state; dst is unspecified on error. */
int noise_transport_encrypt_to(noise_transport *t, const uint8_t *pt, size_t len, uint8_t *dst);

/* As noise_transport_encrypt_to, the plaintext being the next len bytes
 * of the pieces g reads (a gather write: a muxer's headers and the
 * application's bytes, encrypted where they are), which g advances past;
 * they must be there. On error g's position is unspecified. */
struct noise_gather;
int noise_transport_encrypt_gather(noise_transport *t, struct noise_gather *g, size_t len, uint8_t *dst);

/* In place: frame[2 .. 2+len) holds the plaintext (len <= PLAINTEXT_MAX)
 * and the buffer has room for len + NOISE_FRAME_OVERHEAD bytes; writes the
 * length header and the tag and encrypts the body, giving a complete frame
 * of len + NOISE_FRAME_OVERHEAD bytes. For callers that build plaintext
 * directly in their output buffer. */
int noise_transport_seal(noise_transport *t, uint8_t *frame, size_t len);

/* Total size of the frame at the front of in (header included), or
 * P2P_ETRUNC when fewer than 2 bytes are available. */
int noise_transport_peek(const uint8_t *in, size_t len, size_t *frame_size);

/* Receiving into a buffer frames are decrypted in: how many bytes to read
 * next when `in` holds `have` bytes of not yet complete frames. Reads are
 * sized to end exactly at a frame's end (the rest of the frame under way,
 * or one maximal frame when its header is not there yet), so that in bulk
 * transfer each read completes a frame at the front of the buffer and
 * nothing is ever moved; 0 when a complete frame is already buffered. */
size_t noise_transport_read_want(const uint8_t *in, size_t have);

/* Decrypt the frame at the front of in, in place: on success *pt points to
 * the plaintext inside in (at in + 2) and *ptlen is its length, and
 * *consumed is the frame's size. P2P_ETRUNC: *consumed = 0, in untouched.
 * On other errors *consumed is the frame's size (the caller closes). */
int noise_transport_open(noise_transport *t, uint8_t *in, size_t len, size_t *consumed,
                         uint8_t **pt, size_t *ptlen);

/* Decrypt the frame at the front of in and append the plaintext to out
 * (no intermediate copy). *consumed as for noise_transport_open; on a
 * buffer error (P2P_ELIMIT/P2P_ENOMEM) nothing is consumed and the state
 * is unchanged, so the caller may drain out and retry. in must not point
 * into out (growing out may move it). */
int noise_transport_decrypt(noise_transport *t, const uint8_t *in, size_t len,
                            size_t *consumed, p2p_buf *out);

#endif
