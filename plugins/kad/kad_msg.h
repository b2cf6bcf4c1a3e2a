/* kad_msg.h - the Kademlia DHT wire messages without I/O: bounded
 * decoding and validation of dht.proto Message, encoding, and the
 * unsigned-varint length framing of /ipfs/kad/1.0.0 streams.
 *
 * Validation of what is decoded:
 *  - type must be 0..5 (PUT_VALUE .. PING); anything else is P2P_EPROTO.
 *  - key and record.key are at most lim->max_key bytes, record.value at
 *    most lim->max_value (P2P_ERANGE beyond: the whole message is refused).
 *  - Peers (closerPeers, providerPeers): an id that is not a valid PeerId
 *    (p2p_peerid_from_bytes) drops the peer; an address that is not a
 *    valid multiaddr, or that ends in /p2p/<another peer>, is dropped; a
 *    trailing /p2p/<the peer itself> is stripped (rust-libp2p sends it).
 *    At most lim->max_peers peers per list and lim->max_addrs addresses per
 *    peer are kept; what is dropped is counted (for logs).
 *  - timeReceived is kept when it is at most 63 bytes of printable ASCII.
 *
 * Framing: every message is preceded by its length as an unsigned varint
 * (multiformats/unsigned-varint); a length above the reader's maximum
 * fails the stream (P2P_ERANGE). */
#ifndef KAD_MSG_H
#define KAD_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/buf.h"
#include "p2p/multiaddr.h"
#include "p2p/peerid.h"

enum kad_type {
    KAD_PUT_VALUE = 0,
    KAD_GET_VALUE = 1,
    KAD_ADD_PROVIDER = 2,
    KAD_GET_PROVIDERS = 3,
    KAD_FIND_NODE = 4,
    KAD_PING = 5
};

enum kad_conn_type {
    KAD_NOT_CONNECTED = 0,
    KAD_CONNECTED = 1,
    KAD_CAN_CONNECT = 2,
    KAD_CANNOT_CONNECT = 3
};

#define KAD_TIME_MAX 63

struct kad_limits {
    size_t max_key;     /* bytes of key / record.key */
    size_t max_value;   /* bytes of record.value */
    size_t max_peers;   /* peers kept per list */
    size_t max_addrs;   /* addresses kept per peer */
};

struct kad_peer {
    p2p_peerid id;
    int connection;                 /* enum kad_conn_type (other values kept as sent) */
    size_t naddrs;
    p2p_multiaddr *addrs;           /* malloc'ed, naddrs entries (NULL when 0) */
};

struct kad_record {
    uint8_t *key;                   /* malloc'ed (NULL when keylen 0) */
    size_t keylen;
    uint8_t *value;                 /* malloc'ed (NULL when vlen 0) */
    size_t vlen;
    char time_received[KAD_TIME_MAX + 1];   /* "" when absent */
};

struct kad_msg {
    int type;                       /* enum kad_type */
    int32_t cluster_level;
    uint8_t *key;                   /* malloc'ed (NULL when keylen 0) */
    size_t keylen;
    bool has_record;
    struct kad_record record;
    struct kad_peer *closer;        /* ncloser entries */
    size_t ncloser;
    struct kad_peer *providers;     /* nproviders entries */
    size_t nproviders;
    /* what decoding dropped, for logging */
    size_t bad_peers, extra_peers, bad_addrs, extra_addrs;
};

void kad_msg_init(struct kad_msg *m);
/* Free everything; leaves an empty message. */
void kad_msg_clear(struct kad_msg *m);

/* Decode one message body (without the length prefix) into m (which is
 * cleared first). Returns 0, P2P_EPROTO (not a dht Message, or a bad
 * type), P2P_ERANGE (a key or value over the limits) or P2P_ENOMEM. m is
 * left empty on error. */
int kad_msg_decode(struct kad_msg *m, const uint8_t *in, size_t len, const struct kad_limits *lim);

/* Setters that copy (0 or P2P_ENOMEM). */
int kad_msg_set_key(struct kad_msg *m, const uint8_t *key, size_t len);
int kad_msg_set_record(struct kad_msg *m, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                       const char *time_received);
/* Append a peer to closer (providers = false) or providers (true). addrs
 * are copied; n may be 0. */
int kad_msg_add_peer(struct kad_msg *m, bool providers, const p2p_peerid *id, const p2p_multiaddr *addrs,
                     size_t n, int connection);

/* Encode m, preceded by its varint length, at the end of out. If the body
 * would exceed max_body bytes, closer peers and then provider peers are
 * left out from the end until it fits (a response stays useful); if even
 * without them it does not fit, P2P_ERANGE. Other errors: P2P_ENOMEM,
 * P2P_ELIMIT (out's limit). */
int kad_msg_encode(const struct kad_msg *m, size_t max_body, p2p_buf *out);

/* ---- addresses in responses ----------------------------------------- */

/* What the addresses of the peers we send to a requester are filtered by
 * ([plugin kad] response_addrs): others cannot use our loopback or LAN
 * addresses, and learn about our network from them. */
enum kad_addr_policy {
    KAD_ADDRS_SCOPE,    /* by the requester's address (identify's rule, go-libp2p's): over
                         * loopback all, from a private address no loopback ones, from a
                         * public address public ones only */
    KAD_ADDRS_PUBLIC,   /* public ones only, to everyone (js-libp2p's default mapper) */
    KAD_ADDRS_ALL       /* no filtering */
};

/* Filter, in place, the addresses of m's closer and provider peers for a
 * requester reached at `remote` (NULL: treated as public); a peer whose
 * addresses were all removed is removed too (it would be useless to the
 * requester; go-libp2p-kad-dht leaves peers without addresses out as
 * well). Unspecified addresses (0.0.0.0, ::) are always removed, except
 * with KAD_ADDRS_ALL. Returns the number of addresses removed. */
size_t kad_msg_filter_addrs(struct kad_msg *m, enum kad_addr_policy policy, const p2p_multiaddr *remote);

/* ---- framing -------------------------------------------------------- */

struct kad_reader {
    p2p_buf buf;
    size_t max;          /* largest message body accepted */
    size_t pending;      /* bytes of the frame returned by the last next(), to drop */
};

void kad_reader_init(struct kad_reader *r, size_t max_message);
void kad_reader_free(struct kad_reader *r);
/* Append received bytes: takes at most kad_reader_room() of them and
 * returns how many it took (the caller takes frames out with
 * kad_reader_next and feeds the rest), or P2P_ENOMEM. */
int kad_reader_feed(struct kad_reader *r, const uint8_t *data, size_t len);
/* Bytes the reader can take now: one maximal frame with its prefix. */
size_t kad_reader_room(struct kad_reader *r);
/* The next complete frame: returns 1 with *body and *len pointing into the
 * reader (valid until the next call), 0 when more bytes are needed,
 * P2P_ERANGE (frame over max) or P2P_EPROTO (bad varint). */
int kad_reader_next(struct kad_reader *r, const uint8_t **body, size_t *len);
/* Whether bytes of an unfinished frame are buffered. */
bool kad_reader_partial(const struct kad_reader *r);

const char *kad_type_name(int type);

#endif
