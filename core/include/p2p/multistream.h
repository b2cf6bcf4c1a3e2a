/* p2p/multistream.h - multistream-select 1.0 ("/multistream/1.0.0").
 *
 * Protocol negotiation as specified in multiformats/multistream-select and
 * libp2p/specs connections/README.md, as an I/O-free state machine: the
 * caller feeds received bytes in and sends whatever the machine appends to
 * an output p2p_buf. Nothing here reads or writes a socket, allocates or
 * keeps global state.
 *
 * Wire format: every message is uvarint(n) followed by n bytes, the last of
 * which is '\n'; n counts the newline. "na\n" is 03 6e 61 0a.
 *
 * Flow:
 *
 *   dialer                                 listener
 *   "/multistream/1.0.0" + proposal 1  ->
 *                                      <-  "/multistream/1.0.0"
 *                                      <-  "na"            (not supported)
 *   proposal 2                         ->
 *                                      <-  proposal 2      (echo = agreed)
 *   application data                   <-> application data
 *
 * The dialer sends its header and first proposal in one write, as
 * rust-libp2p and go-multistream do. Once a side has sent (listener) or
 * received (dialer) the echo, everything after it belongs to the
 * negotiated protocol: p2p_mss_feed() stops exactly at the end of the last
 * negotiation message and leaves the rest of the input to the caller.
 *
 * Lazy (optimistic) dialing: a dialer that proposes exactly one protocol,
 * or has reached its last proposal, may write application data right after
 * the proposal without waiting for the echo (p2p_mss_optimistic() tells when
 * that is allowed); if the listener answers "na" the negotiation fails
 * anyway. Received bytes must still go through p2p_mss_feed() until it
 * returns P2P_MSS_DONE, because the listener's header and echo arrive
 * before its application data.
 *
 * Behaviour decisions (see also docs in multistream.c):
 *  - Messages longer than P2P_MSS_MAX_MSG are a protocol error.
 *  - The listener answers "ls" with "na" (as go-multistream does since it
 *    dropped "ls"); the list is not disclosed.
 *  - The listener answers at most P2P_MSS_MAX_PROPOSALS messages after the
 *    header; one more is P2P_ELIMIT.
 *  - A malformed message received by the listener right after it answered
 *    "na" is reported as P2P_ENEGOTIATE, not P2P_EPROTO: it is most likely
 *    the application data of a lazy dialer whose only protocol was refused
 *    (rust-libp2p treats it the same way).
 *  - End of stream is not an input here: a caller that sees EOF before
 *    P2P_MSS_DONE treats the negotiation as failed. */
#ifndef P2P_MULTISTREAM_H
#define P2P_MULTISTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "buf.h"

P2P_BEGIN_DECLS

/* The protocol id of multistream-select 1.0 (sent as the header). */
#define P2P_MSS_PROTOCOL_ID "/multistream/1.0.0"

/* Largest accepted value of a message's length prefix, i.e. text plus the
 * '\n'. 1024 is go-multistream's limit (rust-libp2p allows 16383); protocol
 * ids are short, so a longer message is treated as a protocol violation. A
 * protocol id may thus be at most P2P_MSS_MAX_MSG - 1 bytes. */
#define P2P_MSS_MAX_MSG 1024
/* Bytes of the varint length prefix of the longest message. */
#define P2P_MSS_LEN_BYTES 2
/* Bound on the number of messages (proposals, "ls") a listener answers
 * after the header, and on the number of protocols a dialer may propose. */
#define P2P_MSS_MAX_PROPOSALS 32

/* Positive results of p2p_mss_feed(). */
enum {
    P2P_MSS_AGAIN = 0, /* need more input; all of it was consumed */
    P2P_MSS_DONE = 1   /* negotiated: see p2p_mss_selected() */
};

/* ---- message codec ---------------------------------------------------- */

/* Append the message uvarint(len + 1) || text[0..len) || '\n' to out.
 * Returns 0, P2P_ERANGE if len + 1 > P2P_MSS_MAX_MSG, P2P_EINVAL for a NULL
 * text with len > 0, or the p2p_buf error (P2P_ENOMEM, P2P_ELIMIT); out is
 * unchanged on failure. */
P2P_API int p2p_mss_msg_encode(p2p_buf *out, const char *text, size_t len);

/* Decode one message from in[0..len). On success returns 0 and stores a
 * pointer into `in` to the text without its '\n' (*text, *text_len) and the
 * bytes the whole message took (*used); trailing bytes are not looked at.
 * Errors: P2P_ETRUNC (incomplete message: need more bytes), P2P_EPROTO
 * (non-minimal or overlong varint, length 0, length over P2P_MSS_MAX_MSG,
 * last byte not '\n'). Output pointers may be NULL. The text is not
 * checked any further (it may contain any byte, including '\n'). */
P2P_API int p2p_mss_msg_decode(const uint8_t *in, size_t len, const uint8_t **text,
                               size_t *text_len, size_t *used);

/* Whether `id` (NUL-terminated) may be proposed or selected: 1 to
 * P2P_MSS_MAX_MSG - 1 bytes of valid UTF-8 without '\n', and none of the
 * reserved messages "na", "ls" or P2P_MSS_PROTOCOL_ID. A leading '/' is
 * conventional but not required (rust-libp2p requires it). */
P2P_API bool p2p_mss_protocol_valid(const char *id);

/* ---- negotiation state machine ---------------------------------------- */

/* Listener match function: true if the protocol is supported. `protocol_id`
 * is a valid protocol id (p2p_mss_protocol_valid) and lives only for the
 * duration of the call. It must not call back into the same p2p_mss. */
typedef bool (*p2p_mss_supports_fn)(void *arg, const char *protocol_id);

/* One negotiation, for one side of one connection or stream. The struct is
 * public so that it can be embedded without allocation (about 1.1 KiB);
 * its fields are private. It owns no heap memory: there is nothing to free. */
typedef struct p2p_mss {
    int role_;
    int state_;
    int err_;                        /* sticky error once failed */
    bool header_sent_;
    bool last_na_;                   /* listener: last answer was "na" */
    unsigned nmsgs_;                 /* listener: messages after the header */
    const char *const *protos_;      /* dialer: caller's list (not copied) */
    size_t nprotos_;
    size_t cur_;                     /* dialer: index of outstanding proposal */
    p2p_mss_supports_fn supports_;   /* listener */
    void *arg_;
    const char *selected_;
    size_t rlen_;                    /* bytes of the message being read */
    size_t want_;                    /* its total size, 0 = length unknown */
    uint8_t rbuf_[P2P_MSS_MAX_MSG + P2P_MSS_LEN_BYTES];
} p2p_mss;

/* Dialer proposing protocols[0..n) in this order. The array and the
 * strings are NOT copied: the caller keeps them alive and unchanged for as
 * long as it uses `m` (p2p_mss_selected() returns one of them). Returns 0,
 * P2P_EINVAL (n == 0, NULL pointers, an id failing p2p_mss_protocol_valid)
 * or P2P_ELIMIT (n > P2P_MSS_MAX_PROPOSALS). */
P2P_API int p2p_mss_dialer_init(p2p_mss *m, const char *const *protocols, size_t n);

/* Listener selecting the first proposal for which supports(arg, id) is
 * true. `arg` is kept and must outlive the negotiation. Returns 0 or
 * P2P_EINVAL (NULL m or supports). */
P2P_API int p2p_mss_listener_init(p2p_mss *m, p2p_mss_supports_fn supports, void *arg);

/* Append the opening bytes to out. Dialer: the header and the first
 * proposal (one write); must be called before p2p_mss_feed(). Listener:
 * the header; optional - without it the listener sends its header when it
 * has received the dialer's. Returns 0, P2P_ESTATE (called twice, or after
 * the listener already sent its header), or a p2p_buf error. */
P2P_API int p2p_mss_start(p2p_mss *m, p2p_buf *out);

/* Process received bytes in[0..len) (any split of the stream is fine:
 * partial messages are kept inside `m`). Answers and further proposals are
 * appended to out, and must be sent in order. *consumed is set to the
 * number of bytes of `in` that belonged to the negotiation:
 *  - P2P_MSS_AGAIN: all of `in` was consumed; feed more when it arrives.
 *  - P2P_MSS_DONE: negotiated; in[*consumed..len) is the first data of the
 *    negotiated protocol and is the caller's. A listener's `out` holds the
 *    echo, to be sent before any application data. Later calls return
 *    P2P_MSS_DONE again and consume nothing.
 * Errors (sticky: later calls return the same code and consume nothing):
 *  - P2P_EPROTO: malformed message, wrong header, unexpected answer.
 *  - P2P_ENEGOTIATE: dialer: "na" to its last proposal; listener: see the
 *    top of this file.
 *  - P2P_ELIMIT: listener: more than P2P_MSS_MAX_PROPOSALS messages.
 *  - P2P_ESTATE: dialer fed before p2p_mss_start().
 *  - P2P_EINVAL: NULL m, consumed or out, or NULL in with len > 0.
 *  - P2P_ENOMEM / P2P_ELIMIT from appending to out.
 * Bytes appended to out before an error may be sent or dropped. */
P2P_API int p2p_mss_feed(p2p_mss *m, const uint8_t *in, size_t len, size_t *consumed,
                         p2p_buf *out);

/* The negotiated protocol id once p2p_mss_feed() returned P2P_MSS_DONE,
 * else NULL. Dialer: one of the caller's strings. Listener: storage inside
 * `m`, valid while `m` is neither re-initialised nor destroyed. */
P2P_API const char *p2p_mss_selected(const p2p_mss *m);

/* Dialer only: the protocol the caller may already speak, i.e. write data
 * for after the negotiation bytes without waiting for the echo: the
 * outstanding proposal once it is the last one (there is nothing else to
 * fall back to), or the selected protocol once done. NULL otherwise, and
 * always NULL for a listener or after a failure. With one protocol this is
 * non-NULL right after p2p_mss_start(). */
P2P_API const char *p2p_mss_optimistic(const p2p_mss *m);

P2P_END_DECLS
#endif
