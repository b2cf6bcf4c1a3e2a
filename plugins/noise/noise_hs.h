/* noise_hs.h - the libp2p Noise handshake (libp2p/specs noise/README.md),
 * I/O-free: the caller moves bytes, this object turns them into state.
 *
 *   Noise_XX_25519_ChaChaPoly_SHA256, empty prologue
 *   -> e                                   (message 1, empty payload)
 *   <- e, ee, s, es   + responder payload  (message 2)
 *   -> s, se          + initiator payload  (message 3)
 *
 * Every message is framed with a 2-byte big-endian length. A payload is a
 * NoiseHandshakePayload protobuf: the identity PublicKey, an identity
 * signature over "noise-libp2p-static-key:" || static X25519 public key,
 * and optionally NoiseExtensions.stream_muxers (inlined muxer negotiation:
 * the responder's list in message 2, the initiator's in message 3).
 *
 * Typical use (the plugin glue does this with a socket):
 *
 *     noise_hs *hs;
 *     noise_hs_new(&hs, &cfg);
 *     while (!noise_hs_done(hs)) {
 *         if (noise_hs_wants_write(hs)) { noise_hs_write(hs, &outbuf); flush; }
 *         else { rc = noise_hs_read(hs, in, inlen, &used);
 *                if (rc == P2P_ETRUNC) read more; else consume used; }
 *     }
 *     noise_hs_split(hs, &transport);   // then noise_hs_free(hs)
 *
 * Any error other than P2P_ETRUNC from noise_hs_read kills the handshake:
 * further calls return P2P_ESTATE and the connection must be closed. The
 * remote's results (key, PeerId, muxers) are available only once its
 * payload has been verified (after message 2 for the initiator, after
 * message 3 for the responder), and never after a failure. */
#ifndef NOISE_HS_H
#define NOISE_HS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/buf.h"
#include "p2p/crypto.h"
#include "p2p/peerid.h"
#include "noise_state.h"
#include "noise_transport.h"

/* The protocol id for multistream-select. */
#define NOISE_PROTOCOL_ID "/noise"
/* What the identity signature covers, before the static key. */
#define NOISE_SIG_PREFIX "noise-libp2p-static-key:"
/* Limits on muxer lists. Ours must fit (P2P_ERANGE otherwise). A remote
 * list with more entries is ignored as a whole (go-libp2p does the same
 * with its limit of 100), and remote entries that are empty, longer than
 * the limit or contain a NUL are skipped: early data is advisory. */
#define NOISE_HS_MUXERS_MAX 100
#define NOISE_HS_MUXER_LEN_MAX 256

typedef struct noise_hs noise_hs;

struct noise_hs_config {
    enum noise_role role;
    /* Our identity; only used inside noise_hs_new (the signature is made
     * there), so it need not outlive the call. Required. */
    const p2p_keypair *identity;
    /* Our static X25519 private key (32 bytes), or NULL for a fresh random
     * one for this handshake (the spec allows either). Copied. */
    const uint8_t *static_key;
    /* static_key's public half (32 bytes), or NULL to compute it here (an
     * X25519 base-point multiplication per handshake). Copied. */
    const uint8_t *static_pub;
    /* Stream muxer protocol ids to advertise, in order of preference; NULL
     * or n_muxers 0 = no extensions. Copied. Each id is 1..MUXER_LEN_MAX
     * bytes. */
    const char *const *muxers;
    size_t n_muxers;
    /* The PeerId we expect the remote to prove (usually the dialer knows
     * it), or NULL to accept any. Copied. Mismatch: P2P_EPEERID. */
    const p2p_peerid *expected_peer;
    /* Our signed handshake payload for static_key (noise_hs_payload_encode
     * with this identity, static_key's public half and these muxers), or
     * NULL to build and sign one here. Lets a host sign once instead of
     * once per handshake. Copied. */
    const uint8_t *payload;
    size_t payload_len;
    /* Tests only: the ephemeral X25519 private key, NULL = random. */
    const uint8_t *ephemeral_key;
};

/* Create a handshake. Errors: P2P_EINVAL (bad config), P2P_ERANGE (muxer
 * list too long), P2P_ENOMEM. */
int noise_hs_new(noise_hs **out, const struct noise_hs_config *cfg);
/* Wipes secrets and frees; NULL is fine. */
void noise_hs_free(noise_hs *hs);

/* Whether the next step is ours to write (initiator: messages 1 and 3;
 * responder: message 2). */
bool noise_hs_wants_write(const noise_hs *hs);
/* Whether all three messages were processed successfully. */
bool noise_hs_done(const noise_hs *hs);
/* Whether the handshake has failed (every further call is P2P_ESTATE). */
bool noise_hs_failed(const noise_hs *hs);

/* Append the next framed message to out. Errors: P2P_ESTATE (not our turn,
 * done or failed), P2P_ELIMIT/P2P_ENOMEM from the buffer (out unchanged,
 * the handshake still usable), P2P_ECRYPTO (the remote's ephemeral key is
 * a low-order point; the handshake fails). */
int noise_hs_write(noise_hs *hs, p2p_buf *out);

/* Consume one complete frame from in[0..len). P2P_ETRUNC (nothing
 * consumed, *consumed = 0) when the frame is incomplete; the caller reads
 * more and calls again with the same bytes at the front. On success and
 * on any other error *consumed is the frame's size. Errors: P2P_ESTATE
 * (not our turn), P2P_EPROTO (malformed message or payload, non-empty
 * message-1 payload, missing or undecodable key, missing signature),
 * P2P_ECRYPTO (decryption or signature failure), P2P_EUNSUPPORTED (a
 * remote identity key type whose signatures we cannot verify),
 * P2P_EPEERID (valid key but not the expected PeerId), P2P_ENOMEM. */
int noise_hs_read(noise_hs *hs, const uint8_t *in, size_t len, size_t *consumed);

/* After done: move the session keys into t (which needs no prior init)
 * and wipe them from hs. P2P_ESTATE before done or when already split. */
int noise_hs_split(noise_hs *hs, noise_transport *t);

/* Results, owned by hs (valid until noise_hs_free); NULL / 0 until the
 * remote payload has been verified. */
const p2p_pubkey *noise_hs_remote_key(const noise_hs *hs);
const p2p_peerid *noise_hs_remote_peer(const noise_hs *hs);
/* The remote's muxer list (NUL-terminated strings); *n = 0 and NULL when
 * it sent none. */
const char *const *noise_hs_remote_muxers(const noise_hs *hs, size_t *n);
/* The inlined muxer negotiation result: the first entry of the
 * responder's list that the initiator also lists. That is go-libp2p's
 * rule and the spec's worked example (the spec's prose says "the
 * initiator's list" but its example and go-libp2p disagree; both sides
 * must use one rule, so we follow the implementation). NULL when either
 * side sent no list or they share none: the caller then negotiates the
 * muxer with multistream-select, as go-libp2p does (the spec says a
 * handshake with two disjoint lists should fail; the caller may enforce
 * that). Available once done. Owned by hs. */
const char *noise_hs_selected_muxer(const noise_hs *hs);
/* Our static X25519 public key (for tests and logs). */
const uint8_t *noise_hs_local_static(const noise_hs *hs);
/* The Noise handshake hash (channel binding); valid once done. */
const uint8_t *noise_hs_handshake_hash(const noise_hs *hs);

/* Lower level, for tests and tools: build / check a payload.
 * noise_hs_payload_encode allocates *out (free with free()). */
int noise_hs_payload_encode(const p2p_keypair *identity, const uint8_t static_pub[NOISE_DHLEN],
                            const char *const *muxers, size_t n_muxers,
                            uint8_t **out, size_t *outlen);

#endif
