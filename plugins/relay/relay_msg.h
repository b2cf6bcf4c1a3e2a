/* relay_msg.h - Circuit Relay v2 without I/O: the hop and stop messages
 * (proto/circuit.proto), their framing, the reservation voucher
 * (proto/voucher.proto inside a signed envelope), status codes, and
 * /p2p-circuit addresses.
 *
 * Framing: every message is an unsigned-varint length followed by that
 * many bytes of protobuf, at most RELAY_MSG_MAX (4 KiB, the limit of
 * rust-libp2p and go-libp2p) per message.
 *
 * Decoding is bounded and lenient the way the spec's readers are:
 * unknown fields are skipped; addresses that are not valid multiaddrs
 * are dropped and counted; at most RELAY_MAX_ADDRS addresses are kept.
 * A message is malformed (P2P_EINVAL) when it is not a protobuf of the
 * expected kind, when its type is unknown, or when a Peer has no valid
 * PeerId.
 *
 * Limit.duration is seconds in the spec; js-libp2p sends milliseconds.
 * relay_limit_duration_ms() reads a value above RELAY_DURATION_MS_ABOVE
 * (one day) as milliseconds: no relay limits circuits to days, and
 * js-libp2p's smallest sensible values (seconds as ms) are above it. */
#ifndef RELAY_MSG_H
#define RELAY_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/multiaddr.h"
#include "p2p/peerid.h"

#define RELAY_HOP_PROTOCOL "/libp2p/circuit/relay/0.2.0/hop"
#define RELAY_STOP_PROTOCOL "/libp2p/circuit/relay/0.2.0/stop"

#define RELAY_MSG_MAX 4096                 /* protobuf bytes of one message */
#define RELAY_FRAME_MAX (RELAY_MSG_MAX + 2) /* with its varint header (4096 takes 2 bytes) */
#define RELAY_MAX_ADDRS 8                  /* addresses kept per Peer / Reservation */
#define RELAY_VOUCHER_MAX 2048             /* signed envelope bytes kept */

#define RELAY_VOUCHER_DOMAIN "libp2p-relay-rsvp"
#define RELAY_VOUCHER_PAYLOAD_TYPE "\x03\x02"
#define RELAY_VOUCHER_PAYLOAD_TYPE_LEN 2

#define RELAY_DURATION_MS_ABOVE 86400u

enum relay_status {
    RELAY_STATUS_OK = 100,
    RELAY_STATUS_RESERVATION_REFUSED = 200,
    RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED = 201,
    RELAY_STATUS_PERMISSION_DENIED = 202,
    RELAY_STATUS_CONNECTION_FAILED = 203,
    RELAY_STATUS_NO_RESERVATION = 204,
    RELAY_STATUS_MALFORMED_MESSAGE = 400,
    RELAY_STATUS_UNEXPECTED_MESSAGE = 401
};

enum relay_kind { RELAY_HOP = 0, RELAY_STOP = 1 };

/* HopMessage.Type */
enum { RELAY_HOP_RESERVE = 0, RELAY_HOP_CONNECT = 1, RELAY_HOP_STATUS = 2 };
/* StopMessage.Type */
enum { RELAY_STOP_CONNECT = 0, RELAY_STOP_STATUS = 1 };

struct relay_limit {
    bool has_duration, has_data;
    uint32_t duration;           /* as sent: seconds (js: milliseconds) */
    uint64_t data;               /* bytes in each direction */
};

struct relay_peer {
    p2p_peerid id;
    size_t naddrs;
    p2p_multiaddr addrs[RELAY_MAX_ADDRS];
    size_t nskipped;             /* decoding: invalid or beyond RELAY_MAX_ADDRS */
};

struct relay_reservation {
    bool has_expire;
    uint64_t expire;             /* Unix seconds */
    size_t naddrs;
    p2p_multiaddr addrs[RELAY_MAX_ADDRS];
    size_t nskipped;
    size_t voucher_len;          /* 0 = none */
    uint8_t voucher[RELAY_VOUCHER_MAX];
};

/* A HopMessage or StopMessage (kind says which; reservation is hop only). */
struct relay_msg {
    enum relay_kind kind;
    uint32_t type;
    bool has_peer;
    struct relay_peer peer;
    bool has_reservation;
    struct relay_reservation rsvp;
    bool has_limit;
    struct relay_limit limit;
    bool has_status;
    uint32_t status;             /* enum relay_status, or any value received */
};

/* A zeroed message of this kind and type. */
void relay_msg_init(struct relay_msg *m, enum relay_kind kind, uint32_t type);

/* Framing: look for one complete frame at the start of in[0..len).
 * Returns 0 with *hdr (varint bytes) and *body (protobuf bytes) set,
 * P2P_ETRUNC (need more bytes), P2P_ERANGE (longer than RELAY_MSG_MAX) or
 * P2P_EPROTO (bad varint). */
int relay_frame(const uint8_t *in, size_t len, size_t *hdr, size_t *body);

/* Encode m with its length prefix into out. Returns the total length,
 * P2P_ERANGE (cap too small or over RELAY_MSG_MAX), P2P_EINVAL (bad
 * field: invalid PeerId or multiaddr) or P2P_ENOMEM. */
int relay_msg_encode(const struct relay_msg *m, uint8_t *out, size_t cap);
/* Decode one protobuf body (without the length prefix) of this kind.
 * Returns 0, P2P_EINVAL (malformed, see above) or P2P_ERANGE (len >
 * RELAY_MSG_MAX). *m is reset first. */
int relay_msg_decode(struct relay_msg *m, enum relay_kind kind, const uint8_t *in, size_t len);

const char *relay_status_name(uint32_t status);
const char *relay_type_name(enum relay_kind kind, uint32_t type);
/* A P2P_E* code for a refusal status (what a failed dial reports). */
int relay_status_error(uint32_t status);
/* The limit's duration in milliseconds (0 = none), lenient as above. */
uint64_t relay_limit_duration_ms(const struct relay_limit *l);
/* The limit for logs: "duration=120s data=131072" (duration read
 * leniently, "none" for a missing or zero field; l may be NULL: no limit).
 * Writes at most cap bytes (NUL included) and returns buf. */
#define RELAY_LIMIT_STRMAX 64
const char *relay_limit_str(const struct relay_limit *l, char *buf, size_t cap);

/* ---- vouchers ------------------------------------------------------------ */

struct relay_voucher {
    p2p_peerid relay, peer;
    uint64_t expiration;
};

/* The bare ReservationVoucher protobuf (canonical: fields in order).
 * Returns its length or P2P_ERANGE / P2P_EINVAL. */
int relay_voucher_encode(const struct relay_voucher *v, uint8_t *out, size_t cap);
/* Returns 0, P2P_EINVAL (missing field, bad PeerId) or P2P_ERANGE. */
int relay_voucher_decode(struct relay_voucher *v, const uint8_t *in, size_t len);

/* ---- /p2p-circuit addresses ------------------------------------------------ */

/* A circuit address: [<relay transport addr>]/p2p/<relay>/p2p-circuit[/p2p/<target>] */
struct relay_caddr {
    bool has_transport;
    p2p_multiaddr transport;     /* the relay's address without /p2p (may be empty) */
    p2p_peerid relay;
    bool has_target;
    p2p_peerid target;
};

/* Parse ma as a dialable or listenable circuit address: exactly one
 * /p2p-circuit, preceded by /p2p/<relay>, followed by nothing or by
 * /p2p/<target>. Returns 0 or P2P_EINVAL. */
int relay_caddr_parse(const p2p_multiaddr *ma, struct relay_caddr *out);
/* Whether ma is the bare "/p2p-circuit" (listen on every configured relay). */
bool relay_caddr_is_bare(const p2p_multiaddr *ma);
/* out = transport/p2p/<relay>/p2p-circuit (transport may be NULL or end
 * in /p2p/<relay> already). Returns 0, P2P_EINVAL (transport ends in
 * another /p2p/ or contains /p2p-circuit) or P2P_ERANGE. */
int relay_caddr_make(const p2p_multiaddr *transport, const p2p_peerid *relay, p2p_multiaddr *out);
/* Split "<addr>/p2p/<id>" (a relays = entry): the id and the part
 * before it. Returns 0 or P2P_EINVAL (no trailing /p2p/, or /p2p-circuit
 * inside). */
int relay_split_peer_addr(const p2p_multiaddr *ma, p2p_multiaddr *transport, p2p_peerid *id);

#endif
