/* dcutr_msg.h - DCUtR messages without I/O (libp2p/specs relay/DCUtR.md,
 * proto/holepunch.proto): HolePunch {type CONNECT=100 | SYNC=300,
 * repeated ObsAddrs}, each framed by an unsigned-varint length of at most
 * DCUTR_MSG_MAX (4 KiB, as the spec, go-libp2p and rust-libp2p).
 *
 * Decoding is bounded and lenient like the other implementations' readers:
 * unknown fields are skipped, addresses that are not valid multiaddrs are
 * dropped and counted, at most DCUTR_MAX_ADDRS are kept. A message is
 * malformed (P2P_EINVAL) when it is not a HolePunch protobuf, has no type
 * or an unknown one. */
#ifndef DCUTR_MSG_H
#define DCUTR_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/multiaddr.h"

#define DCUTR_PROTOCOL "/libp2p/dcutr"

#define DCUTR_MSG_MAX 4096                  /* protobuf bytes of one message */
#define DCUTR_FRAME_MAX (DCUTR_MSG_MAX + 2)  /* with its varint header */
#define DCUTR_MAX_ADDRS 16                  /* addresses kept per message */

enum dcutr_type { DCUTR_CONNECT = 100, DCUTR_SYNC = 300 };

struct dcutr_msg {
    uint32_t type;                   /* enum dcutr_type */
    size_t naddrs;
    p2p_multiaddr addrs[DCUTR_MAX_ADDRS];
    size_t nskipped;                 /* decoding: invalid or beyond DCUTR_MAX_ADDRS */
};

/* Framing: look for one complete frame at the start of in[0..len).
 * Returns 0 with *hdr (varint bytes) and *body (protobuf bytes) set,
 * P2P_ETRUNC (need more bytes), P2P_ERANGE (longer than DCUTR_MSG_MAX) or
 * P2P_EPROTO (bad varint). */
int dcutr_frame(const uint8_t *in, size_t len, size_t *hdr, size_t *body);

/* Encode a message with its length prefix into out: the type and as many
 * of addrs[0..naddrs) (in order) as fit in DCUTR_MSG_MAX; *dropped (may be
 * NULL) gets how many did not. Returns the total length, P2P_ERANGE (cap
 * too small), P2P_EINVAL (unknown type). */
int dcutr_msg_encode(uint32_t type, const p2p_multiaddr *addrs, size_t naddrs, uint8_t *out, size_t cap,
                     size_t *dropped);
/* Decode one protobuf body (without the length prefix). Returns 0,
 * P2P_EINVAL (malformed) or P2P_ERANGE (len > DCUTR_MSG_MAX). *m is reset
 * first. */
int dcutr_msg_decode(struct dcutr_msg *m, const uint8_t *in, size_t len);

const char *dcutr_type_name(uint32_t type);

#endif
