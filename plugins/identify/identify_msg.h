/* identify_msg.h - the libp2p Identify message without I/O: encoding,
 * bounded decoding and validation, signed peer records, the framing of
 * /ipfs/id streams, the address scope rules, and the table of our
 * observed addresses.
 *
 * Wire format (libp2p/specs identify/README.md): the responder writes
 * unsigned-varint-length-prefixed Identify protobufs and closes its write
 * side. A logical message may be split into several parts (go-libp2p
 * sends a signedPeerRecord on its own when the whole would exceed 2 KiB),
 * merged as protobuf merges: repeated fields append, optional fields are
 * overwritten. We read parts until EOF, at most `max_messages` of at most
 * `max_message_size` bytes each (go-libp2p: 10 parts of 8 KiB). We send
 * parts of at most ID_OWN_MAX bytes, the most rust-libp2p accepts: one
 * part, or two when our signed peer record does not fit in the first
 * (see id_msg_encode).
 *
 * Validation (what a received message may do to us):
 *  - publicKey, when present, must decode (p2p_pubkey_decode) and must be
 *    the key of the connection's peer (id_info_check_peer); otherwise the
 *    whole message is rejected. A missing key is fine: the security
 *    handshake already gave us the peer's key.
 *  - listenAddrs and observedAddr that are not valid multiaddrs are
 *    dropped (and counted); listenAddrs are deduplicated and kept up to
 *    max_addrs.
 *  - protocols must be 1..ID_PROTOCOL_MAX bytes of printable ASCII (no
 *    control characters: they travel in newline-terminated multistream
 *    lines); others are dropped. Deduplicated, kept up to max_protocols.
 *  - protocolVersion and agentVersion are kept up to ID_STR_MAX bytes;
 *    control characters are replaced by '?' (they end up in logs and UIs).
 *  - signedPeerRecord (a signed envelope holding a libp2p-peer-record,
 *    p2p/record.h; the last one of the parts) is kept as bytes; decoding
 *    never fails because of it. id_info_open_record verifies it: the
 *    envelope's signature (standard or rust-libp2p's legacy form), and
 *    that the record is the connection peer's. The plugin then takes the
 *    record's addresses instead of listenAddrs; a record that does not
 *    verify is ignored (logged at debug) and listenAddrs are used, as
 *    go-libp2p and rust-libp2p do: a bad record never fails identify. */
#ifndef IDENTIFY_MSG_H
#define IDENTIFY_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/buf.h"
#include "p2p/crypto.h"
#include "p2p/identify.h"
#include "p2p/multiaddr.h"
#include "p2p/peerid.h"
#include "p2p/record.h"

#define ID_PROTOCOL_ID "/ipfs/id/1.0.0"
#define ID_PUSH_PROTOCOL_ID "/ipfs/id/push/1.0.0"

#define ID_STR_MAX 256        /* protocolVersion / agentVersion kept (peer store attribute limit) */
#define ID_PROTOCOL_MAX 256   /* longest protocol id kept (peer store limit) */
#define ID_OWN_MAX 4096       /* largest message body we send (rust-libp2p's read limit) */

/* Peer store attribute (p2p_peerstore_attr) the plugin sets to the seq, in
 * decimal, of the newest signed peer record of the peer it verified and
 * used. Records with a lower seq from that peer are ignored afterwards.
 * Absent: no verified record yet (the addresses came from listenAddrs). */
#define ID_ATTR_PEER_RECORD_SEQ "peer_record_seq"
/* Peer store attribute: the SHA-256 (base32) of the last signed peer
 * record envelope from that peer that verified (p2p_peer_record_open_memo). */
#define ID_ATTR_PEER_RECORD_MEMO "peer_record_sha256"

struct id_limits {
    size_t max_message_size;  /* bytes of one message body */
    size_t max_messages;      /* length-prefixed parts in one stream */
    size_t max_addrs;         /* listenAddrs kept */
    size_t max_protocols;     /* protocols kept */
};

/* A decoded, validated message (or the merge of several parts). */
struct id_info {
    bool has_public_key;
    p2p_pubkey public_key;
    bool has_protocol_version;
    char protocol_version[ID_STR_MAX + 1];
    bool has_agent_version;
    char agent_version[ID_STR_MAX + 1];
    p2p_multiaddr *listen_addrs;      /* n_listen_addrs valid entries */
    size_t n_listen_addrs;
    bool has_observed_addr;
    p2p_multiaddr observed_addr;
    char **protocols;                 /* n_protocols NUL-terminated strings */
    size_t n_protocols;
    bool has_signed_peer_record;
    uint8_t *signed_peer_record;      /* malloc'ed copy of the last one received */
    size_t signed_peer_record_len;
    /* what validation dropped, for logging */
    size_t bad_addrs, extra_addrs, bad_protocols, extra_protocols;
    bool bad_observed_addr;
};

void id_info_init(struct id_info *info);
void id_info_clear(struct id_info *info);   /* frees; leaves an empty info */

/* Decode one message body and merge it into info. Returns 0, P2P_EPROTO
 * (not a protobuf Identify), P2P_EINVAL (publicKey present but not a valid
 * libp2p public key) or P2P_ENOMEM. On error info keeps what earlier parts
 * gave. */
int id_msg_decode(struct id_info *info, const uint8_t *body, size_t len, const struct id_limits *lim);

/* 0 when info has no public key or the key is peer's; P2P_EPEERID if not. */
int id_info_check_peer(const struct id_info *info, const p2p_peerid *peer);

/* Verify info's signedPeerRecord (p2p_peer_record_open: signature, either
 * envelope form, record PeerId = signing key) and that it is peer's own.
 * memo (P2P_RECORD_MEMO_LEN bytes, or NULL) is what the caller keeps per
 * peer (p2p_peer_record_open_memo): the same envelope as last time is not
 * verified again; it is updated only when 0 is returned.
 * Returns 0 with *rec filled, P2P_ENOTFOUND when info has none,
 * P2P_EPEERID when it is a valid record of another peer, or the error of
 * p2p_peer_record_open. *rec (about 16.5 KiB: allocate it) is zeroed
 * unless 0 is returned. */
int id_info_open_record(const struct id_info *info, const p2p_peerid *peer, uint8_t *memo, p2p_peer_record *rec);

/* ---- encoding ---------------------------------------------------------- */

struct id_out {
    const char *protocol_version;        /* NULL: absent */
    const char *agent_version;           /* NULL: absent */
    const p2p_pubkey *public_key;        /* NULL: absent */
    const p2p_multiaddr *listen_addrs;
    size_t n_listen_addrs;
    const p2p_multiaddr *observed_addr;  /* NULL or empty: absent */
    const char *const *protocols;
    size_t n_protocols;
    const uint8_t *signed_peer_record;   /* a sealed envelope; NULL: absent */
    size_t signed_peer_record_len;
};

/* Where id_msg_encode put the signed peer record. */
enum id_record_placement {
    ID_RECORD_NONE,       /* m had none */
    ID_RECORD_INLINE,     /* in the message */
    ID_RECORD_SEPARATE,   /* in a second part holding only signedPeerRecord */
    ID_RECORD_DROPPED     /* not sent: even alone it exceeds max_body */
};

struct id_encoded {
    size_t dropped;                      /* listen addresses and protocols left out */
    enum id_record_placement record;
};

/* Append m to out as varint-length-prefixed parts of at most max_body
 * bytes each. Everything in one part when it fits. Otherwise the signed
 * peer record moves to a second part of its own (go-libp2p does the same
 * above 2 KiB; go-libp2p and js-libp2p 3 read up to 10 parts and merge
 * them; rust-libp2p 0.57 reads only the first part, so it misses the
 * record but gets all the rest), or is dropped when even that part would exceed max_body. Then listen
 * addresses, then protocols, are dropped from the end until the first
 * part fits. What happened goes to *enc (may be NULL). Returns the first
 * part's body length, P2P_ERANGE (nothing appended) if even the message
 * without addresses, protocols and record does not fit, P2P_ENOMEM or
 * P2P_ELIMIT (out's limit). */
int id_msg_encode(const struct id_out *m, size_t max_body, p2p_buf *out, struct id_encoded *enc);

/* ---- stream framing ------------------------------------------------------ */

/* Reads the parts of one /ipfs/id or /ipfs/id/push stream into info. */
struct id_reader {
    struct id_limits lim;
    struct id_info *info;
    p2p_buf buf;            /* bytes of the part being received */
    size_t messages;        /* parts decoded */
    int err;                /* sticky first error */
};

void id_reader_init(struct id_reader *r, struct id_info *info, const struct id_limits *lim);
void id_reader_free(struct id_reader *r);
/* Feed received bytes; every complete part is decoded into info at once.
 * Returns 0, or (sticky) P2P_ELIMIT (a part over max_message_size, or
 * more than max_messages parts), P2P_EPROTO (bad varint or protobuf),
 * P2P_EINVAL (bad public key), P2P_ENOMEM. */
int id_reader_feed(struct id_reader *r, const uint8_t *data, size_t len);
/* End of stream: 0 when at least one part was read and no partial part
 * is left; P2P_ETRUNC otherwise (or the sticky error). */
int id_reader_finish(struct id_reader *r);

/* ---- address scopes ------------------------------------------------------- */

enum id_scope {
    ID_SCOPE_UNSPECIFIED, /* 0.0.0.0, ::, or no address component: never dialable */
    ID_SCOPE_LOOPBACK,    /* 127/8, ::1, dns "localhost" */
    ID_SCOPE_PRIVATE,     /* RFC 1918, 100.64/10 (CGNAT), 169.254/16, fc00::/7, fe80::/10, fec0::/10, ip6zone (p2p_ip_scope) */
    ID_SCOPE_PUBLIC       /* everything else, DNS names included */
};
/* The scope of an address, judged by its first component. */
enum id_scope id_addr_scope(const p2p_multiaddr *ma);

/* Filter, in place, the listen addresses a peer reached at `remote` told
 * us (go-libp2p's rule, against address pollution): unspecified ones are
 * always dropped; over loopback everything else is kept; from a private
 * address loopback ones are dropped; from a public address only public
 * ones are kept. Returns the new count. */
size_t id_filter_received(p2p_multiaddr *addrs, size_t n, const p2p_multiaddr *remote);

/* Whether to tell a peer, connected through local <-> remote, about our
 * address ours: never unspecified ones; loopback ones only over loopback. */
bool id_addr_shareable(const p2p_multiaddr *ours, const p2p_multiaddr *local, const p2p_multiaddr *remote);

/* ---- observed addresses ---------------------------------------------------- */

#define ID_OBS_MAX_OBSERVERS 32   /* connections remembered per address */

struct id_observer {
    p2p_peerid peer;
    uint64_t conn_id;
    bool outbound;               /* we dialed that connection */
};

struct id_obs_entry {
    p2p_multiaddr addr;
    struct id_observer obs[ID_OBS_MAX_OBSERVERS];
    size_t n;
    uint64_t last_seen;
};

/* Our addresses as peers observed them, one observation per open
 * connection (a new report on a connection replaces its previous one; a
 * closed connection's observation is forgotten), at most `max` addresses
 * (when full, the address with the fewest observers, then the oldest, is
 * replaced). */
struct id_obs_table {
    struct id_obs_entry *e;
    size_t n, max;
};

void id_obs_init(struct id_obs_table *t, size_t max);
void id_obs_free(struct id_obs_table *t);
/* Record that the peer on connection conn_id sees us at addr. 0 or P2P_ENOMEM. */
int id_obs_record(struct id_obs_table *t, const p2p_multiaddr *addr, const p2p_peerid *observer,
                  uint64_t conn_id, bool outbound, uint64_t now);
void id_obs_forget_conn(struct id_obs_table *t, uint64_t conn_id);
/* Addresses with their distinct observer counts, most observed first;
 * returns the total, fills at most max. */
size_t id_obs_list(const struct id_obs_table *t, struct p2p_identify_observed *out, size_t max);

#endif
