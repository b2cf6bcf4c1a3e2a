/* gs_msg.h - pubsub messages without I/O: building and signing our own,
 * checking received ones against the signature policy, verifying
 * signatures, and message ids.
 *
 * Signing (libp2p/specs pubsub/README.md "Message Signing"; what go, rust
 * and js do): the signature is Ed25519 over the bytes "libp2p-pubsub:"
 * followed by the protobuf encoding of the Message with its fields from
 * (1), data (2), seqno (3) and topic (4), in field order, each present
 * exactly when it is present in the message, and without the signature
 * (5) and key (6) fields. `key` carries the protobuf PublicKey when it
 * cannot be extracted from `from` (hashed PeerIds: RSA and big keys); our
 * Ed25519 PeerIds inline the key, so we never send it (go and rust do the
 * same; js always sends it).
 *
 * Policies (go-libp2p-pubsub's names):
 *  - GS_SIGN_STRICT (default): we sign; a received message must carry
 *    from (a valid PeerId), an 8-byte seqno and a valid signature.
 *  - GS_SIGN_NONE ("StrictNoSign"): we send from and seqno but no
 *    signature; a received message carrying a signature or key is invalid.
 *  - GS_SIGN_ANONYMOUS: we send neither from, seqno nor signature, and a
 *    received message carrying any of from, seqno, signature or key is
 *    invalid; message ids must then come from the content.
 *
 * Message ids (all local, except that they travel in IHAVE, IWANT and
 * IDONTWANT, so peers should agree on them):
 *  - GS_ID_FROM_SEQNO (default): the bytes of from followed by the bytes
 *    of seqno: go-libp2p-pubsub's DefaultMsgIdFn;
 *  - GS_ID_FROM_SEQNO_TEXT: base58(from) followed by seqno as a decimal
 *    number (big-endian u64): rust-libp2p's default;
 *  - GS_ID_KEY_SEQNO: the protobuf public key of the author followed by
 *    the seqno bytes: js-libp2p gossipsub's default for signed messages;
 *  - GS_ID_CONTENT: SHA-256 of the data (the only one for anonymous
 *    messages; rust's chat example hashes the content as well). */
#ifndef GS_MSG_H
#define GS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/crypto.h"
#include "p2p/peerid.h"
#include "rpc.pb-c.h"

#define GS_SIGN_PREFIX "libp2p-pubsub:"
#define GS_SEQNO_LEN 8
#define GS_MSGID_MAX 128

enum gs_sign_policy { GS_SIGN_STRICT = 0, GS_SIGN_NONE = 1, GS_SIGN_ANONYMOUS = 2 };
enum gs_id_mode { GS_ID_FROM_SEQNO = 0, GS_ID_FROM_SEQNO_TEXT = 1, GS_ID_KEY_SEQNO = 2, GS_ID_CONTENT = 3 };

/* Why a received message is invalid (for logs and the scorer). */
enum gs_invalid {
    GS_VALID = 0,
    GS_INVALID_TOPIC,          /* missing or bad topic */
    GS_INVALID_TOO_LARGE,      /* data over the maximum message size */
    GS_INVALID_MISSING_SIG,    /* strict signing: no signature / from / seqno */
    GS_INVALID_BAD_FROM,       /* from is not a PeerId */
    GS_INVALID_BAD_SEQNO,      /* seqno not 8 bytes */
    GS_INVALID_UNEXPECTED_SIG, /* no-sign policy: signature or key present */
    GS_INVALID_UNEXPECTED_AUTH,/* anonymous policy: from/seqno present */
    GS_INVALID_BAD_KEY,        /* key does not decode or does not match from */
    GS_INVALID_SIGNATURE,      /* signature does not verify (or unverifiable key type) */
};
const char *gs_invalid_str(enum gs_invalid r);

/* A message: immutable once built, reference-counted (the message cache,
 * peers' queues and events share it). All pointers point into the one
 * allocation. */
struct gs_msg {
    unsigned refs;
    const char *topic;         /* NUL-terminated */
    size_t topic_len;
    const uint8_t *data;       /* NULL when absent */
    size_t len;
    bool has_data;
    bool has_from;
    p2p_peerid from;
    bool has_seqno;
    uint8_t seqno[GS_SEQNO_LEN];
    const uint8_t *sig;        /* NULL when absent */
    size_t sig_len;
    const uint8_t *key;        /* NULL when absent */
    size_t key_len;
    uint8_t id[GS_MSGID_MAX];
    size_t id_len;
    const uint8_t *enc;        /* the whole Message protobuf, as we forward it */
    size_t enc_len;
    size_t unsigned_len;       /* enc's first unsigned_len bytes are fields 1..4 */
};

struct gs_msg *gs_msg_ref(struct gs_msg *m);
void gs_msg_unref(struct gs_msg *m);

/* Build and (per policy) sign our own message. seqno is used unless the
 * policy is anonymous. Returns 0 and *out (one reference), or
 * P2P_ENOMEM. */
int gs_msg_publish(struct gs_msg **out, enum gs_sign_policy pol, enum gs_id_mode idm, const p2p_keypair *kp,
                   const p2p_peerid *self, uint64_t seqno, const char *topic, const uint8_t *data, size_t len);

/* Check a received message's fields against the policy (cheap; no
 * signature verification) and compute its id, copying nothing: *v is a
 * view whose pointers (topic, not NUL-terminated here; data, sig, key)
 * point into pb, valid while pb is; refs 0, enc NULL. The router decides
 * on duplicates (most copies a mesh member receives) from the view and
 * builds a message only for a new one. Returns GS_VALID or the reason.
 * max_data bounds the data. */
int gs_msg_view_pb(struct gs_msg *v, const Gspb__Message *pb, enum gs_sign_policy pol, enum gs_id_mode idm,
                   size_t max_data, size_t max_topic);
/* The message a view describes, owned (one reference: its encoding, topic
 * and id); NULL when out of memory. */
struct gs_msg *gs_msg_from_view(const struct gs_msg *v);
/* gs_msg_view_pb then gs_msg_from_view: GS_VALID and *out, or the reason
 * (and *out NULL); out of memory as a negative P2P error. */
int gs_msg_from_pb(struct gs_msg **out, const Gspb__Message *pb, enum gs_sign_policy pol, enum gs_id_mode idm,
                   size_t max_data, size_t max_topic);

/* Verify the signature (policy strict only; other policies: GS_VALID).
 * Returns GS_VALID, GS_INVALID_BAD_KEY or GS_INVALID_SIGNATURE. */
enum gs_invalid gs_msg_verify(const struct gs_msg *m, enum gs_sign_policy pol);

/* The id of a message for the mode (into out, at most GS_MSGID_MAX
 * bytes); returns the length, or 0 when the mode cannot make one for this
 * message (e.g. from/seqno ids for a message without them). */
size_t gs_msg_id(enum gs_id_mode idm, const struct gs_msg *m, uint8_t out[GS_MSGID_MAX]);

#endif
