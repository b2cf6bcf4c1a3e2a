/* gs_rpc.h - the pubsub RPC without I/O: framing, bounded decoding with
 * structural validation, and the encoder of outgoing RPCs.
 *
 * Framing: every RPC travels as an unsigned-varint length followed by
 * that many bytes of protobuf (rpc.proto), on long-lived streams.
 *
 * Decoding (gs_rpc_decode) uses the protobuf-c code generated from
 * proto/rpc.proto, with an arena allocator whose budget bounds the memory
 * one frame may make us allocate. The decoded RPC is then cleaned in
 * place: entries that cannot be used are dropped and counted, lists are
 * cut to the limits (gs_rpc_limits), so that the router only ever sees:
 *  - subscriptions with a valid topic (1..max_topic_len bytes, no NUL),
 *    at most max_subs of them;
 *  - messages as received (gs_msg.c validates them: a bad message is a
 *    reason to penalise its sender, not to drop the whole RPC);
 *  - IHAVE entries with a valid topic and ids of 1..max_id_len bytes,
 *    at most max_ids ids in all IHAVEs together; the same for IWANT and
 *    IDONTWANT ids; GRAFT and PRUNE with a valid topic (at most
 *    max_control of each), PRUNE peer lists cut to max_px.
 * Only a frame that is not a protobuf RPC at all (or exceeds the budget)
 * fails as a whole (P2P_EPROTO).
 *
 * Encoding: outgoing items are queued per peer in a struct gs_pending as
 * ready-made protobuf fields (a subscription, a message, a control entry)
 * and sealed into frames by gs_pending_seal, which packs items into RPCs
 * of at most `target` bytes (an item larger than that travels alone).
 * Until sealed, a message item and a one-id IDONTWANT entry queued with
 * a key (the router's hash of the message id) can be taken out again
 * (gs_pending_cancel): the peer showed that it has the message. */
#ifndef GS_RPC_H
#define GS_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gs_util.h"
#include "p2p/buf.h"
#include "p2p/peerid.h"
#include "rpc.pb-c.h"

#define GS_TOPIC_MAX_DEFAULT 256
#define GS_ID_MAX_DEFAULT 256

struct gs_rpc_limits {
    size_t max_rpc_size;     /* bytes of one frame's protobuf */
    size_t max_topic_len;    /* bytes of a topic id */
    size_t max_id_len;       /* bytes of a message id */
    size_t max_subs;         /* subscription entries kept per RPC */
    size_t max_ids;          /* message ids kept per RPC, per kind (IHAVE, IWANT, IDONTWANT) */
    size_t max_control;      /* GRAFT entries and PRUNE entries kept per RPC, each */
    size_t max_px;           /* peers kept per PRUNE */
};

/* What cleaning dropped (for logs and tests). */
struct gs_rpc_drops {
    size_t subs, ids, control, px;
};

struct gs_rpc {
    struct gs_arena arena;
    Gspb__RPC *pb;           /* never NULL after a successful decode */
    struct gs_rpc_drops drops;
};

/* Whether a topic id is acceptable: 1..max bytes, no NUL. */
bool gs_topic_valid(const uint8_t *t, size_t len, size_t max);

/* Decode and clean one frame body. 0, or P2P_ERANGE (larger than
 * max_rpc_size), P2P_EPROTO (not an RPC, or over the allocation budget).
 * gs_rpc_clear must be called in every case. */
int gs_rpc_decode(struct gs_rpc *rpc, const uint8_t *buf, size_t len, const struct gs_rpc_limits *lim);
void gs_rpc_clear(struct gs_rpc *rpc);

/* ---- framing of received bytes ------------------------------------------ */

struct gs_framer {
    p2p_buf buf;
    size_t max;              /* largest frame body */
    size_t consumed;         /* bytes of the frame returned last */
};

void gs_framer_init(struct gs_framer *f, size_t max_frame);
void gs_framer_free(struct gs_framer *f);
/* Append received bytes. 0 or P2P_ENOMEM. (At most one frame plus the
 * bytes of one read are ever buffered.) */
int gs_framer_push(struct gs_framer *f, const uint8_t *data, size_t len);
/* The next complete frame: 1 and *frame, *len (valid until the next call),
 * 0 when more bytes are needed, P2P_ERANGE (announced length over the
 * maximum) or P2P_EPROTO (bad length prefix). */
int gs_framer_next(struct gs_framer *f, const uint8_t **frame, size_t *len);

/* ---- outgoing ------------------------------------------------------------- */

/* Kinds of cancellable items (a bit mask for gs_pending_cancel). */
#define GS_PEND_MSG 1u
#define GS_PEND_IDONTWANT 2u
/* At most this many items per peer are remembered for cancelling until
 * the next seal (later ones are sent regardless): bounds the scan a
 * received id costs. */
#define GS_PEND_MARKS_MAX 256

struct gs_pend_mark {
    uint64_t key;
    size_t off, len;         /* of the item in top (GS_PEND_MSG) or ctl */
    unsigned kind;
};

struct gs_pending {
    p2p_buf top;             /* RPC fields 1 (SubOpts) and 2 (Message), encoded */
    p2p_buf ctl;             /* ControlMessage fields 1..5, encoded */
    struct gs_pend_mark *marks;   /* cancellable items, in queueing order */
    size_t nmarks, capmarks;
};

void gs_pending_init(struct gs_pending *p);
void gs_pending_free(struct gs_pending *p);
size_t gs_pending_size(const struct gs_pending *p);
bool gs_pending_empty(const struct gs_pending *p);

int gs_pending_sub(struct gs_pending *p, const char *topic, size_t tlen, bool subscribe);
/* enc: a whole Message protobuf (gs_msg's encoding). */
int gs_pending_msg(struct gs_pending *p, const uint8_t *enc, size_t len);
int gs_pending_ihave(struct gs_pending *p, const char *topic, size_t tlen,
                     const uint8_t *const *ids, const size_t *id_lens, size_t n);
int gs_pending_iwant(struct gs_pending *p, const uint8_t *const *ids, const size_t *id_lens, size_t n);
int gs_pending_idontwant(struct gs_pending *p, const uint8_t *const *ids, const size_t *id_lens, size_t n);
/* The same, remembered under key for gs_pending_cancel (a one-id IDONTWANT). */
int gs_pending_msg_keyed(struct gs_pending *p, const uint8_t *enc, size_t len, uint64_t key);
int gs_pending_idontwant_keyed(struct gs_pending *p, const uint8_t *id, size_t id_len, uint64_t key);
/* Take the unsealed items queued under key of the kinds in mask
 * (GS_PEND_*) out again; the others keep their order. Returns how many
 * message items were taken out (IDONTWANT entries are not counted). */
size_t gs_pending_cancel(struct gs_pending *p, uint64_t key, unsigned mask);
int gs_pending_graft(struct gs_pending *p, const char *topic, size_t tlen);
/* backoff_s 0 and no peers: a v1.0 PRUNE (topic only). */
int gs_pending_prune(struct gs_pending *p, const char *topic, size_t tlen, uint64_t backoff_s,
                     bool has_backoff, const p2p_peerid *px, size_t npx);

/* Move everything pending into length-prefixed frames appended to out,
 * each RPC at most target bytes unless one item alone is larger. The
 * pending state is empty afterwards. 0 or P2P_ENOMEM/P2P_ELIMIT (out's
 * limit; nothing is appended then, and the pending items are dropped). */
int gs_pending_seal(struct gs_pending *p, p2p_buf *out, size_t target);

#endif
