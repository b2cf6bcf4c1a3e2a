/* p2p/multiaddr.h - multiaddr text and binary forms.
 *
 * A p2p_multiaddr is a value type holding the binary form in a fixed-size
 * array: copy it with '=', no ownership to manage. Protocols known: ip4,
 * tcp, udp, dccp, ip6, ip6zone, dns, dns4, dns6, dnsaddr, sctp, p2p
 * (alias ipfs on input), p2p-circuit, quic, quic-v1, webtransport,
 * certhash, webrtc-direct, webrtc, ws, wss, tls, sni, noise, http, https.
 * unix is not supported (no paths in a fixed array). Unknown codes and
 * malformed input are rejected with a reason.
 *
 * Text rules follow go-multiaddr: trailing slashes are ignored; "" and "/"
 * are invalid; the p2p value is read as base58btc or as a libp2p-key CIDv1
 * (any multibase p2p_multibase_decode knows) and written in base58btc; it
 * must be a valid PeerId (p2p_peerid_from_bytes). The certhash value is a
 * multihash, read in any known multibase and written in base64url ("u...").
 * Length-prefixed values are never empty; names (dns*, sni, ip6zone) may
 * not contain '/' or NUL. */
#ifndef P2P_MULTIADDR_H
#define P2P_MULTIADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "api.h"

P2P_BEGIN_DECLS

#define P2P_MADDR_MAX 512       /* binary bytes */
/* Text form, NUL included. Large enough for the text of any valid binary
 * multiaddr: the worst case is 256 "/webrtc-direct" components (14 chars for
 * 2 bytes), 3585 bytes with the NUL; so p2p_maddr_to_string into a buffer
 * of this size never fails on a valid multiaddr. */
#define P2P_MADDR_STRMAX 4096

enum p2p_maddr_code {
    P2P_MA_IP4 = 0x04,
    P2P_MA_TCP = 0x06,
    P2P_MA_DCCP = 0x21,
    P2P_MA_IP6 = 0x29,
    P2P_MA_IP6ZONE = 0x2a,
    P2P_MA_DNS = 0x35,
    P2P_MA_DNS4 = 0x36,
    P2P_MA_DNS6 = 0x37,
    P2P_MA_DNSADDR = 0x38,
    P2P_MA_SCTP = 0x84,
    P2P_MA_UDP = 0x0111,
    P2P_MA_WEBRTC_DIRECT = 0x0118,
    P2P_MA_WEBRTC = 0x0119,
    P2P_MA_P2P_CIRCUIT = 0x0122,
    P2P_MA_P2P = 0x01a5,
    P2P_MA_HTTP = 0x01e0,
    P2P_MA_HTTPS = 0x01bb,
    P2P_MA_TLS = 0x01c0,
    P2P_MA_SNI = 0x01c1,
    P2P_MA_NOISE = 0x01c6,
    P2P_MA_QUIC = 0x01cc,
    P2P_MA_QUIC_V1 = 0x01cd,
    P2P_MA_WEBTRANSPORT = 0x01d1,
    P2P_MA_CERTHASH = 0x01d2,
    P2P_MA_WS = 0x01dd,
    P2P_MA_WSS = 0x01de
};

typedef struct p2p_multiaddr {
    uint16_t len;
    uint8_t bytes[P2P_MADDR_MAX];
} p2p_multiaddr;

/* One component as returned by p2p_maddr_next: value points into the
 * multiaddr (for p2p, the PeerId multihash bytes; for ip4 4 bytes; for
 * tcp/udp 2 bytes big-endian; for dns* the name; empty when the
 * protocol has no value). */
struct p2p_maddr_component {
    uint32_t code;
    const char *name;
    const uint8_t *value;
    size_t value_len;
};

/* Parse text ("/ip4/1.2.3.4/tcp/80"). On error returns P2P_EINVAL (or
 * P2P_ERANGE when too long) and writes a sentence to err (may be NULL),
 * e.g. "bad ip4 address '1.2.3'". */
P2P_API int p2p_maddr_parse(p2p_multiaddr *ma, const char *text, char *err, size_t errlen);
/* Validate and copy a binary multiaddr. Same error convention. */
P2P_API int p2p_maddr_from_bytes(p2p_multiaddr *ma, const uint8_t *in, size_t len, char *err, size_t errlen);
/* Text form; returns its length or P2P_ERANGE (out then holds ""). An
 * empty multiaddr (after popping everything) gives "". */
P2P_API int p2p_maddr_to_string(const p2p_multiaddr *ma, char *out, size_t cap);
/* Iterate: *offset starts at 0; returns 1 and fills c, 0 at the end. The
 * multiaddr must be valid (as every p2p_multiaddr built by these calls);
 * a damaged one ends the iteration early, it is never read out of bounds. */
P2P_API int p2p_maddr_next(const p2p_multiaddr *ma, size_t *offset, struct p2p_maddr_component *c);
/* Append a component with a binary value (validated as in
 * p2p_maddr_from_bytes; value_len 0 for protocols without a value).
 * Returns 0, P2P_EINVAL (unknown code or bad value) or P2P_ERANGE. */
P2P_API int p2p_maddr_push(p2p_multiaddr *ma, uint32_t code, const uint8_t *value, size_t value_len);
/* Append another multiaddr (encapsulation): 0, P2P_EINVAL (tail not
 * valid) or P2P_ERANGE (too long). */
P2P_API int p2p_maddr_encapsulate(p2p_multiaddr *ma, const p2p_multiaddr *tail);
/* Remove the last component; returns its code or P2P_ENOTFOUND if empty. */
P2P_API int p2p_maddr_pop(p2p_multiaddr *ma);
P2P_API bool p2p_maddr_equal(const p2p_multiaddr *a, const p2p_multiaddr *b);
/* First component with this code; returns 1 and fills c, or 0. */
P2P_API int p2p_maddr_find(const p2p_multiaddr *ma, uint32_t code, struct p2p_maddr_component *c);
/* Name of a protocol code or NULL. */
P2P_API const char *p2p_maddr_proto_name(uint32_t code);

P2P_END_DECLS
#endif
