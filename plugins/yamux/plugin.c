/* plugin.c - the yamux plugin: binds the I/O-free yamux_session to a
 * secured p2p_stream and exposes each Yamux stream as a p2p_stream.
 *
 * Data in: secured stream -> yamux_session_feed -> on_data -> the
 * substream's owner (or its rx buffer while the owner is not reading).
 * Credit goes back to the peer (yamux_stream_consumed) only when the owner
 * has been handed the bytes, so a reader that stops stops the writer.
 * Data out: substream write -> yamux_stream_write (what the window or
 * the turn order refuses waits in the substream's txq) -> session output
 * -> the secured stream, but only while the secured stream's own queue is
 * short: beyond that the session's output watermark stops stream writes
 * and owners see their write_queued grow (back-pressure all the way up).
 * Writers take turns (the session's round robin): a txq is sent from
 * on_writable, one frame per turn, so all streams share the connection
 * whatever order they are serviced in below. A lone writer's frames skip
 * the session output (direct output): header + the owner's bytes (or
 * its txq's) go to the secured stream as one gather write, which noise
 * encrypts where they are, so bulk data is not copied on its way down
 * while the layer below has room; without room it waits in txq as
 * before and goes down, still uncopied, when the secured stream drains.
 *
 * Session output is flushed from the loop (p2p_defer), never inside yamux
 * callbacks (which the session forbids) nor inside stream ops (which the
 * p2p_stream rules forbid for deliveries); this also batches frames. */
#include <stdlib.h>
#include <string.h>

#include "p2p/p2p.h"
#include "yamux_session.h"

#define MOD "yamux"
/* Output bounds per connection. Data beyond them waits in the streams'
 * txq, where the writers see it (write_queued) and stop: a relay pumping
 * 256 busy circuits needs these small (docs/BENCHMARKS.md, relay server
 * capacity: 512 + 256 KiB held ~200 MiB for 256 circuits, 64 + 64 KiB
 * 64 MiB), and the kernel's socket buffer, not ours, is what keeps a
 * fast connection busy (single-stream throughput measured unchanged). */
#define SECURED_HIGH_WATER (64u * 1024u)   /* queued below Yamux (Noise, TCP) before we stop flushing */
#define SESSION_HIGH_WATER (64u * 1024u)   /* Yamux frames waiting for the secured stream */
#define FLUSH_CHUNK (64u * 1024u)          /* bytes handed to the secured stream at once */
#define TXQ_LIMIT (64u * 1024u * 1024u)

struct yplugin {
    p2p_host *host;
    struct yamux_config cfg;
};

struct ysess;

struct ystream {
    struct ysess *ss;            /* NULL once the session is gone */
    struct ystream *next, *prev;
    uint32_t id;
    p2p_stream *st;
    bool reading;
    bool gone;                   /* id freed in the session (FIN both ways or RST) */
    bool remote_fin, fin_delivered, reset_in, local_fin_wanted, local_fin_sent;
    bool drain_wanted;           /* the owner saw a queue: tell it when empty */
    p2p_buf rx;                  /* received while not reading (bounded by the window) */
    p2p_buf txq;                 /* accepted from the owner, refused by the window */
};

struct ysess {
    struct yplugin *yp;
    p2p_host *host;
    p2p_stream *secured;
    yamux_session *ys;
    const struct p2p_muxer_events *ev;
    void *ev_arg;
    struct ystream *streams;
    p2p_buf inq;                 /* input the session did not take yet */
    p2p_timer *timer;
    struct p2p_defer work;       /* flush output, notify streams */
    int err;                     /* session failure, reported once */
    uint64_t refused_logged;     /* inbound streams refused, as last logged */
    uint32_t service_next;       /* where work()'s walk over the streams starts */
    uint64_t timer_for;          /* the session deadline the timer is armed for (0: none or unknown) */
    bool failed, closing, close_reported, secured_reading;
    bool in_session;             /* inside yamux_session_feed/tick (callbacks) */
};

static void sess_schedule(struct ysess *ss)
{
    p2p_defer_schedule(ss->host, &ss->work);
}

static struct ystream *find(struct ysess *ss, uint32_t id)
{
    for (struct ystream *y = ss->streams; y; y = y->next)
        if (y->id == id && !y->gone) return y;
    return NULL;
}

/* Any stream in the list by id, also one whose id the session freed. */
static struct ystream *find_any(struct ysess *ss, uint32_t id)
{
    for (struct ystream *y = ss->streams; y; y = y->next)
        if (y->id == id) return y;
    return NULL;
}

static void unlink_stream(struct ystream *y)
{
    struct ysess *ss = y->ss;
    if (!ss) return;
    if (y->prev) y->prev->next = y->next;
    else if (ss->streams == y) ss->streams = y->next;
    if (y->next) y->next->prev = y->prev;
    y->next = y->prev = NULL;
}

/* ---- substream provider ops -------------------------------------------- */

static int try_send(struct ystream *y)
{
    while (y->txq.len) {
        int n = yamux_stream_write(y->ss->ys, y->id, p2p_buf_head(&y->txq), y->txq.len);
        if (n < 0) return n;
        if (n == 0) break;
        p2p_buf_consume(&y->txq, (size_t)n);
        p2p_stream_charge(y->st, -(int64_t)n);   /* the host's memory budget */
    }
    /* Drained: the queue's memory goes too. A relay's streams queue a
     * delivery at a time and kept that much each for good (256 busy
     * circuits: 14-36 MiB, docs/BENCHMARKS.md). */
    p2p_buf_trim(&y->txq, 0);
    if (!y->txq.len && y->local_fin_wanted && !y->local_fin_sent) {
        y->local_fin_sent = true;
        int rc = yamux_stream_close(y->ss->ys, y->id);
        if (rc < 0 && rc != P2P_ENOTFOUND) return rc;
    }
    return 0;
}

static void flush_output(struct ysess *ss);

/* The session refused a write for output room (not credit): hand its
 * output down now if the secured stream takes it, so that a lone bulk
 * writer's bytes go straight into the output instead of being copied into
 * txq and from there into the output later. Not inside session callbacks
 * (output_consume is refused there), and not while another stream waits
 * with queued bytes (those go first, from work()). Returns whether room
 * was made. */
static bool flush_for_room(struct ysess *ss, struct ystream *self)
{
    if (ss->in_session || ss->failed) return false;
    size_t before = yamux_session_output_len(ss->ys);
    if (before < ss->yp->cfg.out_high_watermark) return false;
    if (p2p_stream_write_queued(ss->secured) >= SECURED_HIGH_WATER) return false;
    for (struct ystream *o = ss->streams; o; o = o->next)
        if (o != self && o->txq.len) return false;
    flush_output(ss);
    return yamux_session_output_len(ss->ys) < before;
}

static int ys_write(void *impl, const uint8_t *data, size_t len)
{
    struct ystream *y = impl;
    if (!y->ss || y->gone || y->ss->failed) return P2P_ECLOSED;
    if (y->reset_in) return P2P_ERESET;
    if (y->local_fin_wanted) return P2P_ECLOSED;
    while (!y->txq.len) {
        int n = yamux_stream_write(y->ss->ys, y->id, data, len);
        if (n < 0) return n;
        data += n;
        len -= (size_t)n;
        if (!len || !flush_for_room(y->ss, y)) break;
    }
    if (len) {
        int rc = p2p_buf_append(&y->txq, data, len);
        if (rc < 0) return rc;
        p2p_stream_charge(y->st, (int64_t)len);
        y->drain_wanted = true;
    }
    sess_schedule(y->ss);
    return 0;
}

static void deliver_later(struct ystream *y)
{
    if (y->ss) sess_schedule(y->ss);
}

static void ys_read_start(void *impl)
{
    struct ystream *y = impl;
    y->reading = true;
    if (y->rx.len || (y->remote_fin && !y->fin_delivered) || y->reset_in) deliver_later(y);
}

static void ys_read_stop(void *impl)
{
    ((struct ystream *)impl)->reading = false;
}

static int ys_shutdown(void *impl)
{
    struct ystream *y = impl;
    if (!y->ss || y->gone || y->ss->failed) return P2P_ECLOSED;
    y->local_fin_wanted = true;
    int rc = try_send(y);
    sess_schedule(y->ss);
    return rc;
}

static void ys_reset(void *impl)
{
    struct ystream *y = impl;
    if (y->ss && !y->gone && !y->ss->failed) {
        yamux_stream_reset(y->ss->ys, y->id);
        sess_schedule(y->ss);
    }
    y->gone = true;
}

static size_t ys_write_queued(void *impl)
{
    struct ystream *y = impl;
    return y->txq.len;
}

static void ys_close(void *impl)
{
    struct ystream *y = impl;
    struct ysess *ss = y->ss;
    if (ss && !y->gone && !ss->failed) {
        /* Released by its owner: a stream we had not finished writing is
         * aborted; one we half-closed just stops being read. */
        if (!y->local_fin_wanted || y->txq.len) yamux_stream_reset(ss->ys, y->id);
        else if (!y->remote_fin) yamux_stream_consumed(ss->ys, y->id, y->rx.len);
        sess_schedule(ss);
    }
    unlink_stream(y);
    p2p_buf_free(&y->rx);
    p2p_buf_free(&y->txq);
    free(y);
    if (ss) sess_schedule(ss);   /* a graceful close may now be complete */
}

static const struct p2p_stream_ops ystream_ops = {
    .write = ys_write,
    .read_start = ys_read_start,
    .read_stop = ys_read_stop,
    .shutdown = ys_shutdown,
    .reset = ys_reset,
    .write_queued = ys_write_queued,
    .close = ys_close,
};

static struct ystream *ystream_new(struct ysess *ss, uint32_t id)
{
    struct ystream *y = calloc(1, sizeof *y);
    if (!y) return NULL;
    y->ss = ss;
    y->id = id;
    p2p_buf_init(&y->rx, 0);        /* bounded by the receive window */
    p2p_buf_init(&y->txq, TXQ_LIMIT);
    y->st = p2p_stream_new(ss->host, &ystream_ops, y);
    if (!y->st) {
        free(y);
        return NULL;
    }
    p2p_stream_share_addrs(y->st, ss->secured);
    y->next = ss->streams;
    if (y->next) y->next->prev = y;
    ss->streams = y;
    return y;
}

/* ---- session callbacks (inside yamux_session_feed / tick) -------------- */

static void cb_opened(void *user, uint32_t id)
{
    struct ysess *ss = user;
    if (ss->closing) {
        yamux_stream_reset(ss->ys, id);
        return;
    }
    struct ystream *y = ystream_new(ss, id);
    if (!y) {
        yamux_stream_reset(ss->ys, id);
        return;
    }
    yamux_stream_accept(ss->ys, id);
    ss->ev->on_stream(ss->ev_arg, y->st);
}

static void cb_data(void *user, uint32_t id, const uint8_t *data, size_t len)
{
    struct ysess *ss = user;
    struct ystream *y = find(ss, id);
    if (!y) {
        /* Released by its owner after half-closing: discard, give credit. */
        yamux_stream_consumed(ss->ys, id, len);
        return;
    }
    if (!y->reading || y->rx.len) {
        if (p2p_buf_append(&y->rx, data, len) < 0) yamux_stream_reset(ss->ys, id);
        else p2p_stream_charge(y->st, (int64_t)len);
        return;
    }
    if (p2p_stream_deliver_data(y->st, data, len))
        yamux_stream_consumed(ss->ys, id, len);
    else
        yamux_stream_consumed(ss->ys, id, len);   /* closed meanwhile: still free the window */
}

static void cb_fin(void *user, uint32_t id)
{
    struct ysess *ss = user;
    struct ystream *y = find(ss, id);
    if (!y) return;
    y->remote_fin = true;
    sess_schedule(ss);
}

static void cb_reset(void *user, uint32_t id)
{
    struct ysess *ss = user;
    struct ystream *y = find(ss, id);
    if (!y) return;
    y->gone = true;
    y->reset_in = true;
    sess_schedule(ss);
}

/* The stream's turn (round robin among the writers, see
 * yamux_session.h): write now, or another stream takes the slot. */
static void cb_writable(void *user, uint32_t id)
{
    struct ysess *ss = user;
    struct ystream *y = find(ss, id);
    if (y && !ss->failed) try_send(y);
    if (!y || (y->drain_wanted && !y->txq.len)) sess_schedule(ss);
}

static void cb_error(void *user, int err)
{
    struct ysess *ss = user;
    if (!ss->failed) {
        ss->failed = true;
        ss->err = err;
    }
    sess_schedule(ss);
}

static void cb_goaway(void *user, uint32_t code)
{
    struct ysess *ss = user;
    (void)code;
    ss->closing = true;   /* no new streams; close when the last ends */
    sess_schedule(ss);
}

/* Direct output (see yamux_session.h): the room below is what keeps the
 * secured stream's queue under SECURED_HIGH_WATER, as for flush_output. */
static size_t cb_direct_room(void *user)
{
    struct ysess *ss = user;
    if (ss->failed) return 0;
    size_t q = p2p_stream_write_queued(ss->secured);
    return q < SECURED_HIGH_WATER ? SECURED_HIGH_WATER - q : 0;
}

/* A lone writer's frames: the headers and the owner's bytes go down as
 * they are (noise encrypts them where they are), no copy. */
static int cb_direct_send(void *user, const struct p2p_iovec *iov, size_t n)
{
    struct ysess *ss = user;
    int rc = p2p_stream_writev(ss->secured, iov, n);
    if (rc < 0 && !ss->failed) {
        ss->failed = true;
        ss->err = P2P_ECLOSED;
        sess_schedule(ss);
    }
    return rc;
}

static const struct yamux_callbacks callbacks = {
    .on_stream_opened = cb_opened,
    .on_data = cb_data,
    .on_remote_fin = cb_fin,
    .on_reset = cb_reset,
    .on_writable = cb_writable,
    .on_can_open = NULL,
    .on_goaway = cb_goaway,
    .on_ping_rtt = NULL,
    .on_error = cb_error,
    .direct_room = cb_direct_room,
    .direct_send = cb_direct_send,
};

/* ---- the session's work, from the loop ---------------------------------- */

/* Armed only when the session's deadline moved: work() runs for every
 * batch of frames, and re-arming the uv timer each time was 1 % of a busy
 * gossipsub host's CPU. */
static void arm_timer(struct ysess *ss)
{
    uint64_t next = yamux_session_next_timeout(ss->ys);
    if (next == ss->timer_for) return;
    ss->timer_for = next == UINT64_MAX ? 0 : next;
    if (next == UINT64_MAX) {
        p2p_timer_stop(ss->timer);
        return;
    }
    uint64_t now = p2p_host_now_ms(ss->host);
    p2p_timer_start(ss->timer, next > now ? next - now : 0, 0);
}

static void flush_output(struct ysess *ss)
{
    for (;;) {
        while (p2p_stream_write_queued(ss->secured) < SECURED_HIGH_WATER) {
            const uint8_t *p;
            size_t n;
            yamux_session_output(ss->ys, &p, &n);
            if (!n) break;
            if (n > FLUSH_CHUNK) n = FLUSH_CHUNK;
            if (p2p_stream_write(ss->secured, p, n) < 0) {
                if (!ss->failed) {
                    ss->failed = true;
                    ss->err = P2P_ECLOSED;
                }
                return;
            }
            yamux_session_output_consume(ss->ys, n);
        }
        /* Room below: writers waiting for it take their turns (a lone one
         * sends straight from its txq). Refused inside session callbacks.
         * What the turns queue is flushed here too: nothing else is
         * scheduled to do it (the secured stream may never report a drain
         * if it takes everything at once), so leaving it would stall the
         * session until a timer. */
        if (ss->failed || p2p_stream_write_queued(ss->secured) >= SECURED_HIGH_WATER) return;
        if (yamux_session_output_ready(ss->ys) < 0 || !yamux_session_output_len(ss->ys)) return;
    }
}

/* Feed input held back earlier (the session stops taking input while its
 * output is full); returns false if the session failed. */
static bool feed(struct ysess *ss, const uint8_t *data, size_t len, size_t *used)
{
    ss->in_session = true;
    int rc = yamux_session_feed(ss->ys, p2p_host_now_ms(ss->host), data, len, used);
    ss->in_session = false;
    /* Logged here, not under !failed: the session's on_error (cb_error)
     * has usually marked the failure already. */
    if (rc < 0 && rc != P2P_ECLOSED) p2p_log_debug(MOD, "session failed: %s", p2p_strerror(rc));
    if (rc < 0 && !ss->failed) {
        ss->failed = true;
        ss->err = rc;
    }
    uint64_t refused = yamux_session_refused(ss->ys);
    if (refused != ss->refused_logged) {
        p2p_log_debug(MOD, "refused %llu inbound stream(s) with RST (%llu in all): max_streams, "
                      "max_unacked_inbound or max_session_window reached",
                      (unsigned long long)(refused - ss->refused_logged), (unsigned long long)refused);
        ss->refused_logged = refused;
    }
    return rc >= 0;
}

/* Hand a stream its buffered data, FIN or reset. Returns false if the
 * owner closed it. */
static bool service_stream(struct ysess *ss, struct ystream *y)
{
    if (y->txq.len || (y->local_fin_wanted && !y->local_fin_sent)) {
        if (!y->gone && !ss->failed) try_send(y);
    }
    if (y->drain_wanted && !y->txq.len) {
        y->drain_wanted = false;
        if (!p2p_stream_deliver_drain(y->st)) return false;
    }
    if (!y->reading) return true;
    if (y->rx.len) {
        p2p_buf chunk = y->rx;
        p2p_buf_init(&y->rx, 0);
        p2p_stream_charge(y->st, -(int64_t)chunk.len);
        uint32_t id = y->id;
        bool alive = p2p_stream_deliver_data(y->st, p2p_buf_head(&chunk), chunk.len);
        if (!ss->failed) yamux_stream_consumed(ss->ys, id, chunk.len);
        p2p_buf_free(&chunk);
        if (!alive) return false;
        if (!y->reading) return true;
    }
    if (y->reset_in) {
        y->reset_in = false;
        return p2p_stream_deliver_error(y->st, P2P_ERESET);
    }
    if (y->remote_fin && !y->fin_delivered && !y->rx.len) {
        y->fin_delivered = true;
        return p2p_stream_deliver_eof(y->st);
    }
    return true;
}

static void report_close(struct ysess *ss, int err)
{
    if (ss->close_reported) return;
    ss->close_reported = true;
    p2p_timer_stop(ss->timer);
    ss->timer_for = 0;
    p2p_stream_read_stop(ss->secured);
    ss->ev->on_close(ss->ev_arg, err);
}

static void work(void *arg)
{
    struct ysess *ss = arg;
    if (ss->close_reported) return;
    if (!ss->failed && ss->inq.len) {
        size_t used = 0;
        bool ok = feed(ss, p2p_buf_head(&ss->inq), ss->inq.len, &used);
        p2p_buf_consume(&ss->inq, used);
        if (ok && !ss->inq.len && ss->secured_reading) p2p_stream_read_start(ss->secured);
    }
    /* Streams: pending writes, deliveries. An owner's callback may close
     * any stream (not only its own), so walk a snapshot of the ids and
     * look each one up again. The walk starts one stream further each
     * time: the first stream told of a drain writes first, straight down
     * while nobody waits (direct output), and takes the room the others
     * then queue for; always the same first stream made 16 bulk uploads
     * on one connection unfair (slowest / fastest 0.3-0.7). */
    size_t n = 0, cap = 0;
    for (struct ystream *y = ss->streams; y; y = y->next) cap++;
    uint32_t small[64], *ids = cap <= 64 ? small : malloc(cap * sizeof *ids);
    if (ids) {
        for (struct ystream *y = ss->streams; y && n < cap; y = y->next) ids[n++] = y->id;
        size_t first = n ? ss->service_next++ % n : 0;
        for (size_t i = 0; i < n; i++) {
            struct ystream *y = find_any(ss, ids[(first + i) % n]);
            if (y) service_stream(ss, y);
        }
        if (ids != small) free(ids);
    }
    if (ss->failed) {
        /* Fail every stream still held, then tell the connection. Owners
         * close streams from their error handlers: always take the head. */
        flush_output(ss);   /* a queued Go Away may still go out */
        while (ss->streams) {
            struct ystream *y = ss->streams;
            y->gone = true;
            unlink_stream(y);
            y->ss = NULL;
            p2p_stream_deliver_error(y->st, ss->err ? ss->err : P2P_ECLOSED);
        }
        report_close(ss, ss->err == P2P_ECLOSED ? 0 : ss->err);
        return;
    }
    flush_output(ss);
    if (ss->closing && yamux_session_num_streams(ss->ys) == 0 && !yamux_session_output_len(ss->ys)) {
        p2p_stream_shutdown(ss->secured);
        report_close(ss, 0);
        return;
    }
    arm_timer(ss);
}

static void on_tick(p2p_timer *t, void *arg)
{
    (void)t;
    struct ysess *ss = arg;
    ss->timer_for = 0;   /* fired: not armed */

    ss->in_session = true;
    int rc = yamux_session_tick(ss->ys, p2p_host_now_ms(ss->host));
    ss->in_session = false;
    if (rc < 0 && rc != P2P_EBUSY && !ss->failed) {
        ss->failed = true;
        ss->err = rc;
    }
    sess_schedule(ss);
}

/* ---- the secured stream below ------------------------------------------- */

static void sec_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct ysess *ss = arg;
    (void)s;
    if (ss->failed) return;
    size_t used = 0;
    if (ss->inq.len) {
        /* Keep the order: append, the work function feeds. */
        if (p2p_buf_append(&ss->inq, data, len) < 0) cb_error(ss, P2P_ELIMIT);
        p2p_stream_read_stop(ss->secured);
        sess_schedule(ss);
        return;
    }
    if (feed(ss, data, len, &used) && used < len) {
        /* Output is full: hold the rest and stop reading until flushed. */
        if (p2p_buf_append(&ss->inq, data + used, len - used) < 0) cb_error(ss, P2P_ELIMIT);
        p2p_stream_read_stop(ss->secured);
    }
    sess_schedule(ss);
}

static void sec_eof(p2p_stream *s, void *arg)
{
    (void)s;
    cb_error(arg, P2P_ECLOSED);
}

static void sec_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    cb_error(arg, err);
}

static void sec_drain(p2p_stream *s, void *arg)
{
    (void)s;
    sess_schedule(arg);
}

static const struct p2p_stream_handlers sec_handlers = { sec_read, sec_eof, sec_error, sec_drain };

/* ---- muxer ops ------------------------------------------------------------ */

static int mx_create(void *state, p2p_stream *secured, bool initiator, const struct p2p_muxer_events *ev,
                     void *ev_arg, void **session)
{
    struct yplugin *yp = state;
    struct ysess *ss = calloc(1, sizeof *ss);
    if (!ss) {
        p2p_stream_close(secured);
        return P2P_ENOMEM;
    }
    ss->yp = yp;
    ss->host = yp->host;
    ss->secured = secured;
    ss->ev = ev;
    ss->ev_arg = ev_arg;
    p2p_buf_init(&ss->inq, 4u * 1024u * 1024u);
    p2p_defer_init(&ss->work, work, ss);
    int rc = yamux_session_new(&ss->ys, initiator, &yp->cfg, &callbacks, ss);
    if (rc == 0 && !(ss->timer = p2p_timer_new(yp->host, on_tick, ss))) rc = P2P_ENOMEM;
    if (rc < 0) {
        yamux_session_free(ss->ys);
        p2p_buf_free(&ss->inq);
        p2p_stream_close(secured);
        free(ss);
        return rc;
    }
    p2p_stream_set_handlers(secured, &sec_handlers, ss);
    ss->secured_reading = true;
    p2p_stream_read_start(secured);
    p2p_timer_start(ss->timer, 0, 0);   /* first tick: the RTT ping */
    *session = ss;
    return 0;
}

static int mx_open(void *session, p2p_stream **out)
{
    struct ysess *ss = session;
    if (ss->failed || ss->closing) return P2P_ECLOSED;
    uint32_t id;
    int rc = yamux_stream_open(ss->ys, &id);
    if (rc < 0) return rc;
    struct ystream *y = ystream_new(ss, id);
    if (!y) {
        yamux_stream_reset(ss->ys, id);
        return P2P_ENOMEM;
    }
    sess_schedule(ss);
    *out = y->st;
    return 0;
}

static void mx_close(void *session)
{
    struct ysess *ss = session;
    if (ss->closing || ss->failed) return;
    ss->closing = true;
    yamux_session_goaway(ss->ys, 0);
    sess_schedule(ss);
}

static void mx_free(void *session)
{
    struct ysess *ss = session;
    p2p_defer_cancel(ss->host, &ss->work);
    /* Streams still held by owners outlive the session: detach them and
     * let their owners learn it. */
    while (ss->streams) {
        struct ystream *y = ss->streams;
        unlink_stream(y);
        y->ss = NULL;
        y->gone = true;
        p2p_stream_deliver_error(y->st, P2P_ECLOSED);
    }
    if (ss->timer) p2p_timer_free(ss->timer);
    yamux_session_free(ss->ys);
    p2p_buf_free(&ss->inq);
    p2p_stream_close(ss->secured);
    free(ss);
}

static size_t mx_count(void *session)
{
    return yamux_session_num_streams(((struct ysess *)session)->ys);
}

static const struct p2p_muxer_ops yamux_ops = {
    .protocol_id = "/yamux/1.0.0",
    .create = mx_create,
    .open = mx_open,
    .close = mx_close,
    .free = mx_free,
    .stream_count = mx_count,
};

/* ---- plugin ---------------------------------------------------------------- */

static int yp_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct yplugin *yp = calloc(1, sizeof *yp);
    if (!yp) return P2P_ENOMEM;
    yp->host = h;
    yamux_config_default(&yp->cfg);
    yp->cfg.out_high_watermark = SESSION_HIGH_WATER;
    yp->cfg.initial_window = (uint32_t)p2p_conf_size(cf, "initial_window");
    yp->cfg.max_stream_window = (uint32_t)p2p_conf_size(cf, "max_stream_window");
    yp->cfg.max_streams = (uint32_t)p2p_conf_int(cf, "max_streams");
    yp->cfg.max_unacked_inbound = (uint32_t)p2p_conf_int(cf, "max_unacked_inbound");
    yp->cfg.early_streams = (uint32_t)p2p_conf_int(cf, "early_streams");
    yp->cfg.max_session_window = p2p_conf_size(cf, "max_session_window");
    yp->cfg.keepalive_ms = p2p_conf_duration_ms(cf, "keepalive_interval");
    yp->cfg.ping_timeout_ms = p2p_conf_duration_ms(cf, "ping_timeout");
    char why[256];
    if (yamux_config_check(&yp->cfg, why, sizeof why) != 0) {
        p2p_host_set_error(h, "bad yamux settings: %s", why);
        free(yp);
        return P2P_ECONFIG;
    }
    int rc = p2p_muxer_add(h, &yamux_ops, yp);
    if (rc < 0) {
        p2p_host_set_error(h, "cannot register /yamux/1.0.0: %s", p2p_strerror(rc));
        free(yp);
        return rc;
    }
    *state = yp;
    return 0;
}

static void yp_fini(void *state)
{
    free(state);
}

static const struct p2p_conf_key yp_keys[] = {
    { "initial_window", P2P_CONF_SIZE, "256KiB", 262144, 1073741824, NULL, "receive window of a new stream" },
    { "max_stream_window", P2P_CONF_SIZE, "16MiB", 262144, 1073741824, NULL,
      "largest receive window auto-tuning may grow a stream to" },
    { "max_streams", P2P_CONF_INT, "256", 1, 65536, NULL, "streams per connection" },
    { "max_session_window", P2P_CONF_SIZE, "48MiB", 524288, 17179869184, NULL,
      "sum of the receive windows of a connection's streams: the most data a peer can make us hold; "
      "up to one stream's growth (at most half) for auto-tuning, the rest for new streams' initial windows, "
      "beyond which they are refused (RST)" },
    { "max_unacked_inbound", P2P_CONF_INT, "128", 1, 65536, NULL,
      "inbound streams not yet accepted; more are refused with RST" },
    { "early_streams", P2P_CONF_INT, "8", 1, 65536, NULL,
      "streams opened before the peer's first frame; more wait for it (js-libp2p aborts a connection "
      "on which more than 10 arrive before its upgrade is done)" },
    { "keepalive_interval", P2P_CONF_DURATION, "30s", 0, 86400000, NULL, "keep-alive ping period (0 = off)" },
    { "ping_timeout", P2P_CONF_DURATION, "20s", 0, 86400000, NULL,
      "close the connection when a ping stays unanswered this long (0 = never)" },
    P2P_CONF_KEYS_END
};

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "yamux",
    .version = "1.0.0",
    .description = "Yamux stream multiplexer (/yamux/1.0.0)",
    .requires = NULL,
    .config = yp_keys,
    .init = yp_init,
    .fini = yp_fini,
});
