/* p2p/record.h - signed envelopes (libp2p/specs RFC 0002) and peer records
 * (RFC 0003), as go-libp2p, js-libp2p and rust-libp2p put them on the wire.
 *
 * Envelope: a protobuf { public_key = 1 (PublicKey message), payload_type
 * = 2, payload = 3, signature = 5 }. The signature is made over
 *
 *   uvarint(len(domain)) || domain || uvarint(len(payload_type)) ||
 *   payload_type || uvarint(len(payload)) || payload
 *
 * where domain is a string known to both sides and never sent. We sign
 * with Ed25519 (deterministic, so the same inputs give the same bytes as
 * go-libp2p and rust-libp2p) and verify every key type p2p_pubkey_verify
 * does (RSA, ECDSA, secp256k1 need a core with libcrypto, else
 * P2P_EUNSUPPORTED).
 *
 * Peer record: the payload { peer_id = 1 (binary PeerId), seq = 2
 * (uint64), addresses = 3 (repeated { multiaddr = 1 }) }. What is sent
 * (and what identify's signedPeerRecord carries) is the envelope:
 *  - standard (go-libp2p, js-libp2p, rust-libp2p's *_interop):
 *    domain "libp2p-peer-record", payload type the two bytes 03 01 (the
 *    multicodec libp2p-peer-record 0x0301 written big-endian, which is
 *    what every implementation sends; it is NOT the varint 81 06);
 *  - legacy (rust-libp2p's default up to at least libp2p 0.57, used by its
 *    identify): domain "libp2p-routing-state", payload type the string
 *    "/libp2p/routing-state-record".
 * We seal the standard form and open both.
 *
 * Decoding follows protobuf rules (unknown fields are skipped, the last of
 * repeated scalar fields wins) with bounds: P2P_ENVELOPE_MAX bytes in all,
 * at most P2P_PEER_RECORD_MAX_ADDRS addresses kept. */
#ifndef P2P_RECORD_H
#define P2P_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include "api.h"
#include "crypto.h"
#include "multiaddr.h"
#include "peerid.h"

P2P_BEGIN_DECLS

/* Largest encoded envelope we seal or open (P2P_ERANGE beyond). Identify
 * messages are at most 8 KiB in go-libp2p and 4 KiB in rust-libp2p, so a
 * peer record envelope is far smaller in practice. */
#define P2P_ENVELOPE_MAX 65536
/* Longest domain string, in bytes. */
#define P2P_ENVELOPE_DOMAIN_MAX 255

#define P2P_PEER_RECORD_DOMAIN "libp2p-peer-record"
#define P2P_PEER_RECORD_PAYLOAD_TYPE "\x03\x01"
#define P2P_PEER_RECORD_PAYLOAD_TYPE_LEN 2
#define P2P_PEER_RECORD_LEGACY_DOMAIN "libp2p-routing-state"
#define P2P_PEER_RECORD_LEGACY_PAYLOAD_TYPE "/libp2p/routing-state-record"

/* Addresses a p2p_peer_record holds; further valid ones are left out when
 * decoding (go-libp2p's identify likewise truncates). */
#define P2P_PEER_RECORD_MAX_ADDRS 32

/* Seal: sign payload with kp in `domain` (a non-empty NUL-terminated
 * string of at most P2P_ENVELOPE_DOMAIN_MAX bytes) and encode the
 * envelope. payload_type must not be empty (as in go-libp2p); payload may
 * be empty (NULL with plen 0). On success *out is a malloc'ed buffer of
 * *outlen bytes that the caller releases with free(). Errors: P2P_EINVAL,
 * P2P_ERANGE (the envelope would exceed P2P_ENVELOPE_MAX), P2P_ENOMEM. */
P2P_API int p2p_envelope_seal(const p2p_keypair *kp, const char *domain,
                              const uint8_t *payload_type, size_t ptlen,
                              const uint8_t *payload, size_t plen,
                              uint8_t **out, size_t *outlen);

/* Open: decode an envelope and verify its signature in expected_domain.
 * On success fills *signer with the envelope's public key and points
 * *payload_type and *payload into `in` (valid as long as `in` is; a
 * pointer may be NULL when its length is 0); every output argument may be
 * NULL when not wanted. The caller decides whether the
 * signer is the peer it expected (see p2p_peerid_matches) and whether the
 * payload type is the one it expects. Errors: P2P_ERANGE (len >
 * P2P_ENVELOPE_MAX), P2P_EINVAL (malformed envelope or public key, bad
 * domain argument), P2P_EUNSUPPORTED (a key type this core cannot verify),
 * P2P_ECRYPTO (bad or missing signature, or another domain), P2P_ENOMEM.
 * Outputs are written only on success. */
P2P_API int p2p_envelope_open(const uint8_t *in, size_t len, const char *expected_domain,
                              p2p_pubkey *signer,
                              const uint8_t **payload_type, size_t *ptlen,
                              const uint8_t **payload, size_t *plen);

typedef struct p2p_peer_record {
    p2p_peerid id;
    uint64_t seq;
    size_t naddrs;
    p2p_multiaddr addrs[P2P_PEER_RECORD_MAX_ADDRS];
    /* Set by decoding: address entries left out because they were empty,
     * not valid multiaddrs we know, or beyond P2P_PEER_RECORD_MAX_ADDRS.
     * Ignored by encoding. */
    size_t nskipped;
} p2p_peer_record;

/* A timestamp-based seq: nanoseconds since the Unix epoch (as go-libp2p's
 * TimestampSeq; rust-libp2p uses seconds). Peers keep the highest seq
 * they saw per peer and ignore older records, so a re-issued record must
 * carry a higher seq: use p2p_peer_record_seq_next(previous). */
P2P_API uint64_t p2p_peer_record_seq_now(void);
/* max(p2p_peer_record_seq_now(), prev + 1): strictly increasing even if
 * the clock steps back or two records are made in the same nanosecond. */
P2P_API uint64_t p2p_peer_record_seq_next(uint64_t prev);

/* The bare PeerRecord protobuf (the envelope's payload), in the field
 * order and form go-libp2p writes: empty multiaddrs are left out, seq 0 is
 * not written. *out is malloc'ed (free() it). Errors: P2P_EINVAL (no
 * PeerId, naddrs > P2P_PEER_RECORD_MAX_ADDRS, an invalid multiaddr),
 * P2P_ENOMEM. */
P2P_API int p2p_peer_record_encode(const p2p_peer_record *rec, uint8_t **out, size_t *outlen);
/* Decode a bare PeerRecord protobuf (no signature check: use
 * p2p_peer_record_open for anything received). The PeerId must be valid;
 * addresses are handled as described at nskipped. Errors: P2P_EINVAL,
 * P2P_ERANGE (len > P2P_ENVELOPE_MAX). *rec is zeroed on error. */
P2P_API int p2p_peer_record_decode(p2p_peer_record *rec, const uint8_t *in, size_t len);

/* Encode rec and seal it in the standard envelope (domain
 * "libp2p-peer-record", payload type 03 01). rec->id must be kp's PeerId
 * (else P2P_EPEERID). *out is malloc'ed (free() it). */
P2P_API int p2p_peer_record_seal(const p2p_keypair *kp, const p2p_peer_record *rec,
                                 uint8_t **out, size_t *outlen);
/* Open a peer record envelope (standard or legacy, chosen by its payload
 * type), verify the signature, decode the record and check that the
 * envelope's key is the record's PeerId, as RFC 0003 requires. The caller
 * still checks rec->id against the peer it talks to (identify: the
 * connection's remote PeerId). Errors: those of p2p_envelope_open,
 * P2P_EPROTO (not a peer record payload type), P2P_EINVAL (malformed
 * record), P2P_EPEERID (signed by a key other than rec->id's). *rec is
 * zeroed on error. */
P2P_API int p2p_peer_record_open(const uint8_t *in, size_t len, p2p_peer_record *rec);

/* Bytes of a p2p_peer_record_open_memo() memo (a SHA-256 digest). */
#define P2P_RECORD_MEMO_LEN 32
/* p2p_peer_record_open for a caller that opens the same envelope again
 * and again (identify: a peer's record on every connection to it). memo
 * is the caller's: all zero at first, then the SHA-256 of the last
 * envelope that opened. When in[0..len) has that digest, the signature is
 * not checked again (the same bytes verified before; the Ed25519
 * verification is most of the cost); everything else is. Returns 1 on
 * success without the signature check, 0 on success with it (memo is
 * then the digest of in), or an error as p2p_peer_record_open (memo
 * unchanged). */
P2P_API int p2p_peer_record_open_memo(const uint8_t *in, size_t len, uint8_t memo[P2P_RECORD_MEMO_LEN],
                                      p2p_peer_record *rec);

P2P_END_DECLS
#endif
