/* autonat_msg.h - AutoNAT v1 messages without I/O (libp2p/specs
 * autonat/autonat-v1.md, proto/autonat.proto): a DIAL request carrying
 * the requester's PeerId and addresses, a DIAL_RESPONSE carrying a status,
 * an optional text and, on OK, the address that was dialed. Each message
 * is framed by an unsigned-varint length (p2p_varint_frame).
 *
 * Sizes: we read messages of at most AUTONAT_MSG_MAX (4 KiB, go-libp2p's
 * limit) and write at most AUTONAT_SEND_MAX (1 KiB, the limit of
 * rust-libp2p's reader): a request drops addresses from its end, a
 * response truncates its text.
 *
 * Decoding is bounded and lenient like the other implementations' readers:
 * unknown fields are skipped; addresses that are not valid multiaddrs are
 * dropped and counted; at most AUTONAT_MAX_ADDRS are kept. A message is
 * malformed (P2P_EINVAL) only when it is not a Message protobuf or its
 * type is neither DIAL nor DIAL_RESPONSE; whether a DIAL has what a
 * server needs is the server's question (autonat_policy.h), so that it
 * can answer E_BAD_REQUEST with a reason. */
#ifndef AUTONAT_MSG_H
#define AUTONAT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/multiaddr.h"
#include "p2p/peerid.h"

#define AUTONAT_PROTOCOL "/libp2p/autonat/1.0.0"

#define AUTONAT_MSG_MAX 4096                     /* protobuf bytes we read */
#define AUTONAT_FRAME_MAX (AUTONAT_MSG_MAX + 2)   /* with its varint header */
#define AUTONAT_SEND_MAX 1024                    /* protobuf bytes we write */
#define AUTONAT_SEND_FRAME_MAX (AUTONAT_SEND_MAX + 2)
#define AUTONAT_MAX_ADDRS 32                     /* addresses kept from a DIAL */
#define AUTONAT_TEXT_MAX 128                     /* status text kept, NUL included */

enum autonat_type { AUTONAT_DIAL = 0, AUTONAT_DIAL_RESPONSE = 1 };

enum autonat_response_status {
    AUTONAT_OK = 0,
    AUTONAT_E_DIAL_ERROR = 100,
    AUTONAT_E_DIAL_REFUSED = 101,
    AUTONAT_E_BAD_REQUEST = 200,
    AUTONAT_E_INTERNAL_ERROR = 300
};

struct autonat_msg {
    uint32_t type;                   /* enum autonat_type */
    bool has_type;                   /* absent type reads as DIAL (proto2 default) */
    /* DIAL */
    bool has_dial, has_peer;         /* the dial field, its peer field */
    bool has_id;                     /* peer.id present ... */
    bool id_valid;                   /* ... and a valid PeerId (then in id) */
    p2p_peerid id;
    size_t naddrs;
    p2p_multiaddr addrs[AUTONAT_MAX_ADDRS];
    size_t nskipped;                 /* invalid addresses or beyond AUTONAT_MAX_ADDRS */
    /* DIAL_RESPONSE */
    bool has_response, has_status;
    uint32_t status;                 /* as received (may be unknown) */
    char text[AUTONAT_TEXT_MAX];     /* statusText, truncated, "" if absent */
    bool has_addr;                   /* addr present and a valid multiaddr */
    bool bad_addr;                   /* addr present but invalid */
    p2p_multiaddr addr;
};

/* Encode a DIAL for peer with addrs[0..n) (in order, as many as fit in
 * AUTONAT_SEND_MAX; *dropped, may be NULL, gets how many did not) with
 * its length prefix. Returns the length or P2P_ERANGE (cap too small). */
int autonat_encode_dial(const p2p_peerid *peer, const p2p_multiaddr *addrs, size_t n, uint8_t *out, size_t cap,
                        size_t *dropped);
/* Encode a DIAL_RESPONSE with its length prefix: status, text (may be
 * NULL; truncated to fit) and addr (only with AUTONAT_OK, where it is
 * required: rust-libp2p refuses an OK without an address and an error
 * with one). Returns the length, P2P_EINVAL (OK without addr) or
 * P2P_ERANGE (cap too small). */
int autonat_encode_response(uint32_t status, const char *text, const p2p_multiaddr *addr, uint8_t *out,
                            size_t cap);
/* Decode one protobuf body (without the length prefix); *m is reset
 * first. Returns 0, P2P_EINVAL (malformed) or P2P_ERANGE (len >
 * AUTONAT_MSG_MAX). */
int autonat_msg_decode(struct autonat_msg *m, const uint8_t *in, size_t len);

const char *autonat_status_name(uint32_t status);

#endif
