/* yamux_session.h - I/O-free Yamux (/yamux/1.0.0) session.
 *
 * One yamux_session is one multiplexed connection. It does no I/O and
 * reads no clock: the caller feeds it the bytes read from the (secured)
 * transport, drains the bytes it must write, passes the current time in
 * milliseconds, and learns about inbound events through callbacks.
 * No global state; a session is used from one thread.
 *
 * ---- Time --------------------------------------------------------------
 * yamux_session_feed and yamux_session_tick take now_ms (any monotonic
 * millisecond clock, e.g. uv_now). The session keeps the largest value
 * seen as its clock; every other call uses that clock. next_timeout
 * returns an absolute deadline on the same clock.
 *
 * ---- Input and back-pressure on input ----------------------------------
 * yamux_session_feed parses as many frames as it can and reports through
 * *consumed how many bytes it took. It takes everything except when:
 *   - it fails (negative return), or
 *   - the output queue has reached the "input stop" level (see below):
 *     replies the peer provokes (pongs, RSTs of refused streams, ...) are
 *     then not generated until the caller has drained output. The caller
 *     keeps the unconsumed bytes, stops reading the transport, and calls
 *     feed again with them once it has drained output.
 * Partial frames are fine: up to 11 bytes of a header are kept inside the
 * session, and Data payloads are handed to on_data in pieces as they
 * arrive (zero-copy: on_data points into the caller's input buffer).
 * Nothing in the input is ever buffered beyond a 12-byte header.
 *
 * ---- Output --------------------------------------------------------------
 * Frames to send wait in two internal queues: control frames (Window
 * Updates without FIN, Pings, Go Away, RST; 12 bytes each) and data
 * (Data frames, and FIN, which must follow the stream's last byte).
 * Control frames go first, at the next frame boundary: a window update
 * or a pong is never stuck behind a watermark's worth of data (which
 * would stall the peer's writer and inflate its RTT samples). A SYN or
 * ACK still precedes its stream's data (that is queued after it); data
 * queued before a RST may follow it on the wire, which every
 * implementation ignores (data for a stream it no longer has).
 * The caller repeatedly takes yamux_session_output(s, &p, &n) (the head
 * of the queue that goes next, contiguous), writes (or encrypts) some
 * prefix of it, and releases that prefix with
 * yamux_session_output_consume(s, k) before calling anything else on the
 * session. The pointer is valid until the next call of any session
 * function. yamux_session_output_len is the sum of both queues.
 * Bounds (W = cfg.out_high_watermark, F = cfg.max_frame_payload):
 *   - stream data is accepted only while the data queue holds < W bytes,
 *     so data alone never queues more than W + F + 12 bytes;
 *   - feed stops consuming input while the queues hold >= W + F + 12 +
 *     64 KiB (input stop level), so a peer that floods us with frames
 *     needing replies but never reads cannot grow them further;
 *   - a hard limit of twice the input stop level (both queues) catches
 *     misuse (an API call that would exceed it fails with P2P_ELIMIT).
 *
 * ---- Writers take turns (fairness) --------------------------------------
 * Streams that want to send share the connection round robin, one frame
 * (up to F bytes) per turn, whatever order the application calls them in:
 *   - yamux_stream_write outside a turn writes at most one frame, and only
 *     when no other stream is waiting; otherwise it returns 0 and the
 *     stream joins the back of the waiting queue (keeping its place if
 *     already there). A stream cut short by the output watermark or by
 *     its one frame also waits there;
 *   - a turn is a call of on_writable(id): inside it the stream may write
 *     one more frame; if it still has more it goes to the back again;
 *   - turns are given while the data queue is below W, starting once it
 *     has drained to W/2 (output_consume; batching), and when a window
 *     update gives a waiting stream credit (feed).
 * The data queue is bounded by W and the caller drains it only as fast as
 * the layer below takes it, so the order of turns is the order on the
 * wire: every stream with data and credit gets the same share.
 * Deadlock freedom: data writes and input processing use different
 * thresholds, so a session that cannot send data still reads (and
 * therefore receives window updates and pongs) as long as the peer is not
 * abusive.
 *
 * ---- Direct output (zero-copy) ---------------------------------------------
 * A caller whose layer below takes gather writes (p2p_stream_writev) may
 * give the callbacks direct_room and direct_send. Then a write by a
 * stream that is alone (no other stream waits for a turn, so each of its
 * frames would be its next turn at once) while no Data frame or FIN is
 * queued does not copy: yamux_stream_write hands its frames to
 * direct_send as they are, each a 12-byte header of the session's and a
 * slice of the caller's bytes (queued control frames first, in the same
 * call), in batches of up to 16 frames while the layer below has room:
 * frames are added to a batch while it is shorter than direct_room()
 * (asked before each batch), so, as at the output watermark, the last
 * one may overshoot it. direct_send must take all the bytes before it
 * returns (the caller's buffer is only borrowed); a failure fails the
 * session with its error (no Go Away: the way out is broken). Out of
 * room the stream waits for a turn, which the caller gives with
 * yamux_session_output_ready once the layer below has room again; the
 * turn of a lone writer is given only when direct_room() is not 0. With
 * other streams waiting, writes and turns queue one frame
 * at a time in the output as described above, so fairness is the same.
 *
 * ---- Callbacks and re-entrancy -------------------------------------------
 * Callbacks are invoked synchronously from yamux_session_feed (all of
 * them), yamux_session_output_consume (on_writable) and
 * yamux_session_tick (on_error). Inside a callback the application may
 * call every stream function (open, write, consumed, close, reset,
 * accept) and yamux_session_goaway, also on other streams; it must not
 * call yamux_session_feed / tick / output_consume (they return
 * P2P_EBUSY) nor yamux_session_free. Streams are named by their id, never
 * by pointer, so a callback that resets a stream cannot leave a dangling
 * reference.
 *
 * ---- Streams --------------------------------------------------------------
 * Client stream ids are odd, server ids even; ids are never reused. A
 * stream is freed (its id becomes unknown: P2P_ENOTFOUND) when both
 * directions are closed (our FIN sent and theirs received) or when it is
 * reset by either side. After on_reset the id is already gone.
 *   - outbound: yamux_stream_open sends SYN at once (a Window Update that
 *     also advertises any initial window beyond 256 KiB). Until the peer
 *     ACKs, the stream counts against max_unacked_outbound.
 *   - inbound: on_stream_opened(id) for each SYN. The stream is ACKed when
 *     the application calls yamux_stream_accept, or implicitly on its
 *     first write or close. Until then it counts against
 *     max_unacked_inbound; SYNs beyond that limit, beyond max_streams,
 *     beyond the window budget (below), or after we sent a Go Away, are
 *     refused with RST (not a session error; yamux_session_refused counts
 *     them).
 *   - half-close: yamux_stream_close sends FIN; we may still receive.
 *     on_remote_fin: the peer will send no more data; we may still write.
 *
 * ---- Flow control -----------------------------------------------------------
 * Send side: a stream may send as many Data bytes as the peer's credit
 * (initially 256 KiB, raised by its Window Updates). yamux_stream_write
 * accepts min(len, credit, output room, one frame per turn: see
 * "Writers take turns"), split into frames of at most
 * cfg.max_frame_payload, and returns the count; 0 or a short count
 * means "write the rest from on_writable".
 * Receive side: data handed to on_data stays charged to the stream's
 * window until the application reports it consumed with
 * yamux_stream_consumed. Credit is returned to the peer only for consumed
 * bytes, in one Window Update once at least half the stream's window is
 * reclaimable. A reader that stops consuming therefore stops the writer,
 * and data delivered but not yet consumed is bounded by the window.
 * Data beyond the credit we granted is a protocol error.
 * Auto-tuning: when a Window Update is due less than 2 RTT after the
 * previous one (the peer used half the window within 2 round trips, so
 * the window, not the link, is the bottleneck), the stream's window is
 * doubled, up to cfg.max_stream_window and within the window budget, and
 * the session's level is set to it: every other stream that receives
 * (sends updates) grows to the level too, since streams on one path need
 * equal windows for equal shares (a sibling left at 256 KiB gets less
 * than its share once the bytes in flight below Yamux exceed its window,
 * which the rare RTT samples do not show). The RTT is measured with
 * Pings (one at the first tick, then every keepalive_ms).
 * Fair share: the streams that have grown or take part split the growth
 * budget G (below) equally; a stream above its share (others joined)
 * shrinks at its next update by not re-granting credit (credit already
 * granted is never taken back). After the peer's FIN a stream's window
 * shrinks to what it still holds; budget is returned when it is freed.
 * Window budget: the sum of all streams' receive windows (each stream's
 * current window, whether its bytes are in flight, delivered but not
 * consumed, or consumed and not yet re-advertised) never exceeds
 * cfg.max_session_window. The budget has two parts: growth may use G =
 * min(max_stream_window - initial_window, max_session_window / 2) in
 * total (what one stream can grow by), and the initial windows of the
 * streams the rest. A new stream needs room for its initial window in the
 * second part: without it an inbound SYN is refused with RST and
 * yamux_stream_open fails with P2P_ELIMIT; growth stops at G (the credit
 * is withheld). So growth never makes us refuse a stream, whatever order
 * SYNs and data arrive in, and streams never stop growth. Window Updates
 * for consumed bytes only give back what was consumed, so they never
 * raise the sum. The budget counts granted credit, not just bytes held:
 * the peer assumes 256 KiB of credit on every stream it opens, so a
 * budget on held bytes alone could be overrun by opening many streams
 * before sending. Hence the hard bound: the application never holds more
 * than max_session_window bytes of delivered-but-unconsumed data per
 * session, whatever the peer does.
 *
 * ---- Errors and Go Away -----------------------------------------------------
 * A protocol violation by the peer (bad version, unknown type, data beyond
 * the window, frame for a stream that was never opened, SYN reusing an
 * id, SYN with our parity, window overflow, data after FIN) makes feed
 * queue Go Away(protocol error) and return P2P_EPROTO; an allocation
 * failure queues Go Away(internal error) and returns P2P_ENOMEM. A Go Away
 * from the peer calls on_goaway(code); with code 0 (normal) existing
 * streams go on but no new stream can be opened; with any other code the
 * session fails with P2P_ERESET. A keepalive timeout fails the session
 * with P2P_ETIMEDOUT (no Go Away is queued: the peer is presumed gone).
 * Once failed, every later call returns P2P_ECLOSED except the output
 * functions (output stays drainable, so that the Go Away can be sent) and
 * the introspection ones; on_error(err) has been called once unless
 * the failure came from the application's own yamux_session_goaway. The
 * session does not call on_reset for its streams when it fails: the
 * application tears them down itself. */
#ifndef YAMUX_SESSION_H
#define YAMUX_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/stream.h"
#include "yamux_frame.h"

typedef struct yamux_session yamux_session;

struct yamux_config {
    /* Receive window of a new stream, advertised in SYN/ACK; >= 256 KiB
     * (the spec's default, which the peer assumes until told otherwise).
     * Default 256 KiB. */
    uint32_t initial_window;
    /* Auto-tuning stops at this per-stream window; >= initial_window.
     * Default 16 MiB (as go-yamux): enough for ~1.6 GiB/s at 10 ms RTT. */
    uint32_t max_stream_window;
    /* Upper bound of the sum of all streams' receive windows, i.e. of the
     * data the peer may have in flight or delivered-but-unconsumed (see
     * "Window budget"); >= 2 * initial_window. Default 48 MiB: 16 MiB
     * (less one initial window) for growth, and 129 streams at the 256 KiB
     * initial window. */
    uint64_t max_session_window;
    /* Live streams, both directions. Default 256. */
    uint32_t max_streams;
    /* Inbound streams not yet accepted; more SYNs are refused with RST.
     * Default 128 (go-yamux's accept backlog is 256). */
    uint32_t max_unacked_inbound;
    /* Outbound streams the peer has not ACKed yet; yamux_stream_open
     * returns P2P_EAGAIN beyond (rust-yamux: 256). Default 256. */
    uint32_t max_unacked_outbound;
    /* Outbound streams announced before the first frame from the peer:
     * a stream opened beyond this many is held (its SYN, data and
     * half-close wait; a reset forgets it) until that frame arrives.
     * js-libp2p aborts a connection on which more than 10 streams
     * arrive before its side of the upgrade is done, and a lazily
     * negotiated muxer sends ours together with the negotiation.
     * Default 8. */
    uint32_t early_streams;
    /* Largest Data payload we send in one frame; longer writes are split.
     * Default 16 KiB (rust-yamux's split size): bounds head-of-line
     * blocking between streams and lets window updates and pings
     * interleave; the header costs 0.07 %. 1 KiB .. 16 MiB. */
    uint32_t max_frame_payload;
    /* Output queue level below which stream data is accepted. Default
     * 256 KiB. 4 KiB .. 64 MiB. */
    uint32_t out_high_watermark;
    /* Ping period for keepalive and RTT measurement; 0 = only the first
     * ping (for the RTT), no keepalive. Default 30 s (go-yamux, js). */
    uint64_t keepalive_ms;
    /* The session fails when a Ping of ours is outstanding and nothing at
     * all was received for this long. 0 = never. Default 20 s. */
    uint64_t ping_timeout_ms;
    /* Grow receive windows from measured RTT. Default true. */
    bool autotune;
};

struct yamux_callbacks {
    /* Every callback is optional. user is the pointer given to
     * yamux_session_new. */
    void (*on_stream_opened)(void *user, uint32_t id);
    /* data points into the caller's input; valid during the call only.
     * The bytes are charged to the stream's window until
     * yamux_stream_consumed. */
    void (*on_data)(void *user, uint32_t id, const uint8_t *data, size_t len);
    void (*on_remote_fin)(void *user, uint32_t id);
    /* The peer reset the stream (or refused our SYN); id is already freed. */
    void (*on_reset)(void *user, uint32_t id);
    /* The stream's turn (see "Writers take turns"): a write that returned
     * less than asked may write one more frame now, from inside this
     * call (a later write waits for the next turn). */
    void (*on_writable)(void *user, uint32_t id);
    /* yamux_stream_open returned P2P_EAGAIN before and may succeed now. */
    void (*on_can_open)(void *user);
    void (*on_goaway)(void *user, uint32_t code);
    void (*on_ping_rtt)(void *user, uint64_t rtt_ms);
    /* The session failed (see "Errors"); err is a negative P2P_E* code. */
    void (*on_error)(void *user, int err);
    /* Direct output (see "Direct output"; both or neither): the bytes the
     * layer below takes now, and the gather write of a batch of frames
     * (all taken before returning, or a negative P2P_E* code). Inside
     * them no session function may be called. */
    size_t (*direct_room)(void *user);
    int (*direct_send)(void *user, const struct p2p_iovec *iov, size_t n);
};

struct yamux_stream_info {
    bool outbound;      /* we opened it */
    bool acked;         /* outbound: peer ACKed; inbound: we ACKed */
    bool local_fin;     /* we sent FIN */
    bool remote_fin;    /* we received FIN */
    uint32_t send_window;  /* bytes we may still send */
    uint32_t recv_window;  /* bytes the peer may still send */
    uint32_t recv_max;     /* current (auto-tuned) receive window */
    uint32_t buffered;     /* delivered, not yet consumed */
};

/* Fill cfg with the defaults documented above. */
void yamux_config_default(struct yamux_config *cfg);
/* 0 or P2P_EINVAL (with the reason in err when err is not NULL). */
int yamux_config_check(const struct yamux_config *cfg, char *err, size_t errlen);

/* Create a session. cfg NULL = defaults; cfg and cb are copied. cb may be
 * NULL (no callbacks). Returns 0, P2P_EINVAL (bad config) or P2P_ENOMEM;
 * *out is NULL on failure. */
int yamux_session_new(yamux_session **out, bool is_client, const struct yamux_config *cfg,
                      const struct yamux_callbacks *cb, void *user);
/* Free everything; no callbacks. Not from inside a callback. */
void yamux_session_free(yamux_session *s);

/* Process input (see "Input"). Returns 0 (check *consumed), P2P_EPROTO,
 * P2P_ENOMEM, P2P_ERESET (peer's Go Away with an error code), P2P_ECLOSED
 * (already failed) or P2P_EBUSY (called from a callback). */
int yamux_session_feed(yamux_session *s, uint64_t now_ms, const uint8_t *in, size_t len,
                       size_t *consumed);

/* Output queue (see "Output"). */
void yamux_session_output(yamux_session *s, const uint8_t **data, size_t *len);
/* Release n bytes (n <= queued; normally n <= what output() showed).
 * May call on_writable (turns). Returns 0, P2P_EINVAL or P2P_EBUSY. */
int yamux_session_output_consume(yamux_session *s, size_t n);
size_t yamux_session_output_len(const yamux_session *s);
/* Direct output: the layer below has room again; waiting writers take
 * their turns (as after output_consume). Returns 0 or P2P_EBUSY. */
int yamux_session_output_ready(yamux_session *s);

/* Timers: sends keepalive pings, detects ping timeouts. Returns 0,
 * P2P_ETIMEDOUT (just failed), P2P_ECLOSED or P2P_EBUSY. A ping that does
 * not fit under the output hard limit is retried at the next tick. */
int yamux_session_tick(yamux_session *s, uint64_t now_ms);
/* Absolute time at which tick must be called next; UINT64_MAX = never;
 * 0 before the first tick (call it at once: it sends the RTT ping). */
uint64_t yamux_session_next_timeout(const yamux_session *s);

/* Queue Go Away(code) (once; later calls return 0 and do nothing). After
 * it, inbound SYNs are refused and yamux_stream_open fails. With code 0
 * existing streams continue; with another code the session fails (no
 * on_error). Returns 0, P2P_ECLOSED or P2P_ELIMIT. */
int yamux_session_goaway(yamux_session *s, uint32_t code);

/* Smoothed RTT in ms from pings, 0 until measured (sub-ms RTTs read 1). */
uint64_t yamux_session_rtt(const yamux_session *s);
/* The sum of the streams' receive windows (<= cfg.max_session_window). */
uint64_t yamux_session_window_total(const yamux_session *s);
/* Inbound streams refused with RST so far (any limit). */
uint64_t yamux_session_refused(const yamux_session *s);
size_t yamux_session_num_streams(const yamux_session *s);
bool yamux_session_failed(const yamux_session *s);

/* ---- Streams ----------------------------------------------------------- */

/* Open an outbound stream (SYN is queued at once). Returns 0 and *id, or
 * P2P_ECLOSED (failed, or a Go Away was sent or received), P2P_ELIMIT
 * (max_streams, window budget, ids exhausted, output hard limit), P2P_EAGAIN
 * (max_unacked_outbound: retry after on_can_open). */
int yamux_stream_open(yamux_session *s, uint32_t *id);

/* Queue up to len bytes of data (copied once, straight into the output
 * queue behind a frame header; or not at all: "Direct output"). Returns the number of bytes accepted
 * (0 .. len; limited by the send window, the output watermark and the
 * turns: one frame per turn; 0 or a short count arms on_writable), or P2P_ENOTFOUND, P2P_ESTATE (we already
 * sent FIN), P2P_ECLOSED, P2P_ELIMIT (output hard limit; misuse). Accepts
 * an unaccepted inbound stream first. */
int yamux_stream_write(yamux_session *s, uint32_t id, const uint8_t *data, size_t len);

/* The application consumed n more of the bytes delivered by on_data; may
 * queue a Window Update (and grow the window). Returns 0, P2P_ENOTFOUND
 * (stream already freed: nothing to do), P2P_EINVAL (n exceeds what was
 * delivered and not yet consumed), P2P_ECLOSED, P2P_ELIMIT (output hard
 * limit: the credit stays owed and goes out with the next update). */
int yamux_stream_consumed(yamux_session *s, uint32_t id, size_t n);

/* Send FIN (idempotent). Frees the stream if the peer's FIN was already
 * received. Returns 0, P2P_ENOTFOUND, P2P_ECLOSED, P2P_ELIMIT. */
int yamux_stream_close(yamux_session *s, uint32_t id);

/* Send RST and free the stream at once. Returns 0, P2P_ENOTFOUND,
 * P2P_ECLOSED, P2P_ELIMIT (nothing changed: drain output and retry). */
int yamux_stream_reset(yamux_session *s, uint32_t id);

/* ACK an inbound stream (idempotent; a no-op on outbound streams). Also
 * advertises the initial window beyond 256 KiB and any credit consumed
 * meanwhile. Returns 0, P2P_ENOTFOUND, P2P_ECLOSED, P2P_ELIMIT. */
int yamux_stream_accept(yamux_session *s, uint32_t id);

/* Introspection: 0 or P2P_ENOTFOUND. */
int yamux_stream_get_info(const yamux_session *s, uint32_t id, struct yamux_stream_info *info);

#endif
