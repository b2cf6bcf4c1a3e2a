/* yamux_session.c - I/O-free Yamux session (see yamux_session.h). */
#include "yamux_session.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/buf.h"
#include "p2p/error.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
/* Slack on the output queue for replies to input (pongs, RSTs, ...). */
#define INPUT_STOP_SLACK (64u * KIB)
/* Frames per direct_send call (direct output): up to 256 KiB of payload
 * at the default frame size. */
#define DIRECT_FRAMES 16
/* Remote stream ids remembered below the highest seen, per parity, to
 * detect reuse while tolerating SYNs that arrive out of order (go-yamux
 * allocates ids and sends SYNs without a common lock). */
#define RSEEN_BITS 256u

struct ystream {
    uint32_t id;
    bool outbound;
    bool acked;
    bool local_fin;
    bool remote_fin;
    bool want_window;   /* a write was cut short by the send window */
    bool on_blocked;    /* on the list of writers waiting for a turn */
    bool tuned;         /* shares the growth budget (grown, or asked to grow) */
    bool held;          /* SYN not sent: the peer has not spoken yet (early_streams) */
    uint32_t send_window;
    uint32_t recv_window;
    uint32_t recv_max;
    uint32_t buffered;
    uint64_t last_update_ms;
    struct ystream *bprev, *bnext;
    struct ystream *hnext;   /* held streams, in opening order */
};

struct yamux_session {
    struct yamux_config cfg;
    struct yamux_callbacks cb;
    void *user;
    bool is_client;

    /* Streams: open addressing, linear probing, backward-shift delete. */
    struct ystream **slots;
    uint32_t tbits;
    uint32_t count;

    uint32_t unacked_in, unacked_out;
    bool heard;              /* a frame came from the peer */
    uint32_t early_sent;     /* SYNs sent before that */
    struct ystream *held, **held_tail;
    uint64_t window_total;   /* sum of the streams' recv_max: <= cfg.max_session_window */
    uint64_t growth_budget;  /* the part of the budget for auto-tuning (see yamux_session.h) */
    uint64_t growth_used;
    uint32_t n_tuned;        /* streams with tuned set: the budget is split among them */
    uint32_t level;          /* largest window a stream grew to on its own; 0 = none */
    uint64_t refused;        /* inbound streams refused for a limit */
    uint64_t next_id;

    /* Remote ids: highest index (id >> 1) seen and a window below it. */
    bool rseen_any;
    uint32_t rmax_k;
    uint64_t rseen[RSEEN_BITS / 64];

    /* Writers waiting for a turn (round robin, see yamux_session.h), FIFO. */
    struct ystream *bhead, *btail;
    uint32_t turn_id;        /* stream whose on_writable runs now; 0 = none */
    uint32_t turn_left;      /* bytes it may still write in this turn */
    bool direct;             /* direct output callbacks given (zero-copy) */
    uint64_t direct_bytes;   /* bytes sent through direct_send so far */

    /* Output: control frames jump the data at the next frame boundary. */
    p2p_buf out;             /* Data frames, and frames ordered with them (FIN) */
    p2p_buf ctl;             /* Window Updates, Pings, Go Away, RST (12 bytes each) */
    p2p_buf *cur;            /* the queue output() shows and consume() takes from */
    size_t rest;             /* bytes of cur's first frame still to go; 0 at a boundary */
    size_t input_stop;
    size_t hard_limit;       /* out + ctl */

    /* Input parser. */
    uint8_t hdr[YAMUX_HEADER_LEN];
    uint8_t hdr_len;
    uint32_t rx_left;   /* payload bytes of the current Data frame still to come */
    uint32_t rx_id;
    bool rx_fin;

    /* Clock and pings. */
    uint64_t now, last_rx;
    bool ping_outstanding;
    uint32_t ping_id;
    uint64_t ping_sent, next_ping;
    uint64_t srtt;

    bool local_goaway, remote_goaway, open_blocked;
    int failed;         /* 0 or the error that failed the session */
    int depth;          /* > 0 while inside a callback */
};

/* ---- Config ------------------------------------------------------------ */

void yamux_config_default(struct yamux_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->initial_window = YAMUX_DEFAULT_WINDOW;
    cfg->max_stream_window = 16 * MIB;
    cfg->max_session_window = 48 * MIB;
    cfg->max_streams = 256;
    cfg->max_unacked_inbound = 128;
    cfg->max_unacked_outbound = 256;
    cfg->early_streams = 8;
    cfg->max_frame_payload = 16 * KIB;
    cfg->out_high_watermark = 256 * KIB;
    cfg->keepalive_ms = 30000;
    cfg->ping_timeout_ms = 20000;
    cfg->autotune = true;
}

static int cfg_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
    return P2P_EINVAL;
}

int yamux_config_check(const struct yamux_config *c, char *err, size_t errlen)
{
    if (c->initial_window < YAMUX_DEFAULT_WINDOW)
        return cfg_err(err, errlen, "yamux initial window must be at least 256 KiB");
    if (c->max_stream_window < c->initial_window)
        return cfg_err(err, errlen, "yamux max stream window must be at least the initial window");
    if (c->max_streams < 1 || c->max_streams > (1u << 20))
        return cfg_err(err, errlen, "yamux max streams must be between 1 and 1048576");
    if (c->max_unacked_inbound < 1 || c->max_unacked_outbound < 1 || c->early_streams < 1)
        return cfg_err(err, errlen, "yamux unacknowledged and early stream limits must be at least 1");
    if (c->max_frame_payload < KIB || c->max_frame_payload > 16 * MIB)
        return cfg_err(err, errlen, "yamux max frame payload must be between 1 KiB and 16 MiB");
    if (c->out_high_watermark < 4 * KIB || c->out_high_watermark > 64 * MIB)
        return cfg_err(err, errlen, "yamux output watermark must be between 4 KiB and 64 MiB");
    if (c->max_session_window < 2 * (uint64_t)c->initial_window)
        return cfg_err(err, errlen, "yamux max session window must be at least twice the initial window");
    return 0;
}

/* ---- Callbacks ------------------------------------------------------------ */

static void cb_id(yamux_session *s, void (*fn)(void *, uint32_t), uint32_t id)
{
    if (!fn) return;
    s->depth++;
    fn(s->user, id);
    s->depth--;
}

static void cb_data(yamux_session *s, uint32_t id, const uint8_t *p, size_t n)
{
    if (!s->cb.on_data) return;
    s->depth++;
    s->cb.on_data(s->user, id, p, n);
    s->depth--;
}

static void cb_can_open(yamux_session *s)
{
    if (!s->cb.on_can_open) return;
    s->depth++;
    s->cb.on_can_open(s->user);
    s->depth--;
}

static void cb_rtt(yamux_session *s, uint64_t rtt)
{
    if (!s->cb.on_ping_rtt) return;
    s->depth++;
    s->cb.on_ping_rtt(s->user, rtt);
    s->depth--;
}

static size_t cb_room(yamux_session *s)
{
    s->depth++;
    size_t room = s->cb.direct_room(s->user);
    s->depth--;
    return room;
}

static int cb_send(yamux_session *s, const struct p2p_iovec *iov, size_t n)
{
    s->depth++;
    int rc = s->cb.direct_send(s->user, iov, n);
    s->depth--;
    return rc;
}

static void cb_error(yamux_session *s, int err)
{
    if (!s->cb.on_error) return;
    s->depth++;
    s->cb.on_error(s->user, err);
    s->depth--;
}

/* ---- Output ------------------------------------------------------------- */

static inline size_t queued(const yamux_session *s)
{
    return s->out.len + s->ctl.len;
}

/* Room for n more output bytes under the hard limit? */
static inline int out_room(const yamux_session *s, size_t n)
{
    return queued(s) + n > s->hard_limit ? P2P_ELIMIT : 0;
}

static int put_frame(p2p_buf *q, uint8_t type, uint16_t flags, uint32_t id, uint32_t len)
{
    int rc = p2p_buf_reserve(q, YAMUX_HEADER_LEN);
    if (rc) return rc;
    yamux_header_put(p2p_buf_tail(q), type, flags, id, len);
    p2p_buf_commit(q, YAMUX_HEADER_LEN);
    return 0;
}

/* A control frame (Window Update without FIN, Ping, Go Away, RST): sent
 * before any Data not yet begun, so that a window update or a pong is
 * never stuck behind a watermark's worth of data. Reordering them is
 * harmless: a SYN or ACK still precedes its stream's data (queued later),
 * and every implementation ignores data for a stream it has reset. */
static int ctl_frame(yamux_session *s, uint8_t type, uint16_t flags, uint32_t id, uint32_t len)
{
    int rc = out_room(s, YAMUX_HEADER_LEN);
    return rc ? rc : put_frame(&s->ctl, type, flags, id, len);
}

/* A frame ordered with the stream's data: FIN must follow the last byte. */
static int seq_frame(yamux_session *s, uint8_t type, uint16_t flags, uint32_t id, uint32_t len)
{
    int rc = out_room(s, YAMUX_HEADER_LEN);
    return rc ? rc : put_frame(&s->out, type, flags, id, len);
}

/* Fail the session once. goaway < 0: queue no Go Away. The Go Away is
 * queued even beyond the hard limit: it is the last frame. */
static int fail(yamux_session *s, int err, int goaway, bool notify)
{
    if (s->failed) return err;
    if (goaway >= 0 && !s->local_goaway) {
        (void)put_frame(&s->ctl, YAMUX_TYPE_GO_AWAY, 0, 0, (uint32_t)goaway);
        s->local_goaway = true;
    }
    s->failed = err;
    s->rx_left = 0;
    if (notify) cb_error(s, err);
    return err;
}

static int proto_error(yamux_session *s)
{
    return fail(s, P2P_EPROTO, YAMUX_GOAWAY_PROTOCOL, true);
}

/* A reply the input provoked could not be queued. */
static int internal_error(yamux_session *s, int rc)
{
    (void)rc;
    return fail(s, P2P_ENOMEM, YAMUX_GOAWAY_INTERNAL, true);
}

/* ---- Stream table -------------------------------------------------------- */

static inline uint32_t slot_of(const yamux_session *s, uint32_t id)
{
    return (uint32_t)(id * 2654435769u) >> (32 - s->tbits);
}

static struct ystream *lookup(const yamux_session *s, uint32_t id)
{
    uint32_t mask = (1u << s->tbits) - 1;
    for (uint32_t i = slot_of(s, id);; i = (i + 1) & mask) {
        struct ystream *st = s->slots[i];
        if (!st) return NULL;
        if (st->id == id) return st;
    }
}

static void table_put(struct ystream **slots, uint32_t tbits, struct ystream *st)
{
    uint32_t mask = (1u << tbits) - 1;
    uint32_t i = (uint32_t)(st->id * 2654435769u) >> (32 - tbits);
    while (slots[i]) i = (i + 1) & mask;
    slots[i] = st;
}

static int table_insert(yamux_session *s, struct ystream *st)
{
    if ((uint64_t)(s->count + 1) * 2 > (1u << s->tbits)) {
        uint32_t nbits = s->tbits + 1;
        struct ystream **ns = calloc((size_t)1 << nbits, sizeof *ns);
        if (!ns) return P2P_ENOMEM;
        for (uint32_t i = 0; i < (1u << s->tbits); i++)
            if (s->slots[i]) table_put(ns, nbits, s->slots[i]);
        free(s->slots);
        s->slots = ns;
        s->tbits = nbits;
    }
    table_put(s->slots, s->tbits, st);
    s->count++;
    return 0;
}

static void table_remove(yamux_session *s, uint32_t id)
{
    uint32_t mask = (1u << s->tbits) - 1;
    uint32_t i = slot_of(s, id);
    while (s->slots[i] && s->slots[i]->id != id) i = (i + 1) & mask;
    if (!s->slots[i]) return;
    s->count--;
    for (;;) {
        s->slots[i] = NULL;
        uint32_t j = i;
        for (;;) {
            j = (j + 1) & mask;
            if (!s->slots[j]) return;
            uint32_t k = slot_of(s, s->slots[j]->id);
            bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
            if (!stays) break;
        }
        s->slots[i] = s->slots[j];
        i = j;
    }
}

/* ---- Blocked writers ---------------------------------------------------- */

static void blocked_add(yamux_session *s, struct ystream *st)
{
    if (st->on_blocked) return;
    st->on_blocked = true;
    st->bnext = NULL;
    st->bprev = s->btail;
    if (s->btail) s->btail->bnext = st;
    else s->bhead = st;
    s->btail = st;
}

static void blocked_remove(yamux_session *s, struct ystream *st)
{
    if (!st->on_blocked) return;
    st->on_blocked = false;
    if (st->bprev) st->bprev->bnext = st->bnext;
    else s->bhead = st->bnext;
    if (st->bnext) st->bnext->bprev = st->bprev;
    else s->btail = st->bprev;
    st->bprev = st->bnext = NULL;
}

/* Give waiting writers turns, in FIFO order, while the output is below
 * the watermark: each turn is one on_writable call in which the stream
 * may write one frame (max_frame_payload bytes); a stream that had more
 * to write goes to the back of the queue (yamux_stream_write). The
 * output is bounded by the watermark, so the order of turns is the order
 * on the wire: every stream with data and credit gets the same share. */
static void serve_writers(yamux_session *s)
{
    if (s->depth || s->turn_id) return;
    /* A callback that writes to other streams but not to its own makes
     * no progress; stop after a whole queue's worth of such turns. */
    uint32_t idle = 0;
    while (s->bhead && !s->failed && s->out.len < s->cfg.out_high_watermark && idle <= s->count) {
        /* A lone writer's turn goes straight down (direct output): only
         * with room below. */
        if (s->direct && !s->out.len && s->bhead == s->btail && !cb_room(s)) break;
        struct ystream *st = s->bhead;
        uint64_t before = s->out.len + s->direct_bytes;
        blocked_remove(s, st);
        s->turn_id = st->id;
        s->turn_left = s->cfg.max_frame_payload;
        cb_id(s, s->cb.on_writable, s->turn_id);
        s->turn_id = 0;
        idle = s->out.len + s->direct_bytes > before ? 0 : idle + 1;
    }
}

/* ---- Stream lifecycle ------------------------------------------------------ */

static void held_remove(yamux_session *s, struct ystream *st)
{
    if (!st->held) return;
    struct ystream **pp = &s->held;
    while (*pp != st) pp = &(*pp)->hnext;
    *pp = st->hnext;
    if (s->held_tail == &st->hnext) s->held_tail = pp;
    st->held = false;
}

static void stream_free(yamux_session *s, struct ystream *st)
{
    held_remove(s, st);
    table_remove(s, st->id);
    blocked_remove(s, st);
    if (!st->acked) {
        if (st->outbound) s->unacked_out--;
        else s->unacked_in--;
    }
    s->window_total -= st->recv_max;
    s->growth_used -= st->recv_max - s->cfg.initial_window;
    if (st->tuned) s->n_tuned--;
    free(st);
}

static struct ystream *stream_new(yamux_session *s, uint32_t id, bool outbound)
{
    struct ystream *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->id = id;
    st->outbound = outbound;
    st->send_window = YAMUX_DEFAULT_WINDOW;
    st->recv_max = s->cfg.initial_window;
    /* Outbound: the SYN advertises the whole initial window. Inbound: the
     * peer assumes 256 KiB until our ACK tells it more. */
    st->recv_window = outbound ? s->cfg.initial_window : YAMUX_DEFAULT_WINDOW;
    st->last_update_ms = s->now;
    if (table_insert(s, st)) {
        free(st);
        return NULL;
    }
    if (outbound) s->unacked_out++;
    else s->unacked_in++;
    s->window_total += st->recv_max;
    return st;
}

/* Announce an outbound stream: the SYN advertises our whole initial
 * window. A held stream gets the window the peer gives every new stream. */
static int send_syn(yamux_session *s, struct ystream *st)
{
    int rc = ctl_frame(s, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, st->id,
                       s->cfg.initial_window - YAMUX_DEFAULT_WINDOW);
    if (rc) return rc;
    if (!s->heard) s->early_sent++;
    if (st->held) {
        held_remove(s, st);
        st->send_window = YAMUX_DEFAULT_WINDOW;
    }
    return 0;
}

/* Whether one more stream's initial window fits in the part of the
 * window budget kept for initial windows (the rest is for growth, so
 * growth never refuses a stream). */
static inline bool window_room(const yamux_session *s)
{
    return ((uint64_t)s->count + 1) * s->cfg.initial_window <= s->cfg.max_session_window - s->growth_budget;
}

/* Credit we could return to the peer now. */
static inline uint32_t reclaimable(const struct ystream *st)
{
    return st->recv_max - st->recv_window - st->buffered;
}

static void set_tuned(yamux_session *s, struct ystream *st, bool on)
{
    if (st->tuned == on) return;
    st->tuned = on;
    if (on) s->n_tuned++;
    else if (--s->n_tuned == 0) s->level = 0;
}

/* Lower recv_max toward floor, taking only credit not granted yet
 * (consumed bytes not re-advertised: granted credit cannot be taken back
 * from the peer); the growth goes back to the budget. */
static void shrink(yamux_session *s, struct ystream *st, uint64_t floor)
{
    if (st->recv_max <= floor) return;
    uint64_t give = st->recv_max - floor;
    if (give > reclaimable(st)) give = reclaimable(st);
    st->recv_max -= (uint32_t)give;
    s->growth_used -= give;
    s->window_total -= give;
}

/* Auto-tuning, fair among the streams of the session:
 *  - a stream whose window is the bottleneck (half of it used within
 *    2 RTT) doubles it, and sets the session's level to the new size;
 *  - every other stream that receives (sends updates) grows to the level
 *    too: the streams share one path, so at equal shares they need equal
 *    windows. A stream that stays small while a sibling grew would get
 *    less than its share whenever the data in flight below Yamux (socket
 *    buffers) exceeds its window, which the RTT samples (pings, rare and
 *    answered ahead of the data) do not show;
 *  - the streams that have grown or take part (tuned) split the growth
 *    budget equally. A stream above its share gives the excess back at
 *    its next update (as credit not re-granted yet), so a stream that
 *    grew alone makes room for later ones. */
static void autotune(yamux_session *s, struct ystream *st)
{
    if (!s->cfg.autotune) return;
    uint32_t init = s->cfg.initial_window;
    bool bottleneck = s->srtt && s->now - st->last_update_ms < 2 * s->srtt &&
                      st->recv_max < s->cfg.max_stream_window;
    set_tuned(s, st, bottleneck || st->recv_max > init || s->level > init);
    if (!st->tuned) return;
    uint64_t cap = init + s->growth_budget / s->n_tuned;
    if (cap > s->cfg.max_stream_window) cap = s->cfg.max_stream_window;
    if (st->recv_max > cap) {
        shrink(s, st, cap);
        return;
    }
    uint64_t target = bottleneck ? (uint64_t)st->recv_max * 2 : st->recv_max;
    if (target < s->level) target = s->level;
    if (target > cap) target = cap;
    if (target <= st->recv_max) return;
    uint64_t extra = target - st->recv_max;
    uint64_t avail = s->growth_budget - s->growth_used;
    if (extra > avail) extra = avail;
    st->recv_max += (uint32_t)extra;
    s->growth_used += extra;
    s->window_total += extra;
    if (bottleneck && st->recv_max > s->level) s->level = st->recv_max;
}

/* After the peer's FIN no more data can come: its credit is void, and
 * the window shrinks to what is still held (at least the initial window,
 * which the stream keeps until freed), returning growth to the budget. */
static void release_after_fin(yamux_session *s, struct ystream *st)
{
    st->recv_window = 0;
    set_tuned(s, st, false);
    shrink(s, st, st->buffered > s->cfg.initial_window ? st->buffered : s->cfg.initial_window);
}

static int maybe_window_update(yamux_session *s, struct ystream *st)
{
    if (st->remote_fin) {                       /* nothing more will come */
        release_after_fin(s, st);
        return 0;
    }
    if (!st->outbound && !st->acked) return 0;  /* credit goes out with the ACK */
    if (reclaimable(st) < st->recv_max / 2) return 0;
    autotune(s, st);
    /* Shrinking to the fair share may leave less than half: wait for more. */
    if (reclaimable(st) < st->recv_max / 2) return 0;
    uint32_t delta = reclaimable(st);
    int rc = ctl_frame(s, YAMUX_TYPE_WINDOW_UPDATE, 0, st->id, delta);
    if (rc) return rc;
    st->recv_window += delta;
    st->last_update_ms = s->now;
    return 0;
}

static int send_ack(yamux_session *s, struct ystream *st, uint16_t extra_flags)
{
    uint32_t delta = st->remote_fin ? 0 : reclaimable(st);
    /* With FIN it is ordered with the data (there is none yet: an
     * unaccepted stream has not written). */
    int rc = (extra_flags & YAMUX_FLAG_FIN ? seq_frame : ctl_frame)(
        s, YAMUX_TYPE_WINDOW_UPDATE, (uint16_t)(YAMUX_FLAG_ACK | extra_flags), st->id, delta);
    if (rc) return rc;
    st->recv_window += delta;
    st->last_update_ms = s->now;
    st->acked = true;
    s->unacked_in--;
    return 0;
}

/* ---- Session -------------------------------------------------------------- */

int yamux_session_new(yamux_session **out, bool is_client, const struct yamux_config *cfg,
                      const struct yamux_callbacks *cb, void *user)
{
    *out = NULL;
    struct yamux_config c;
    if (cfg) c = *cfg;
    else yamux_config_default(&c);
    if (yamux_config_check(&c, NULL, 0)) return P2P_EINVAL;

    yamux_session *s = calloc(1, sizeof *s);
    if (!s) return P2P_ENOMEM;
    s->cfg = c;
    if (cb) s->cb = *cb;
    s->direct = s->cb.direct_room && s->cb.direct_send;
    s->user = user;
    s->is_client = is_client;
    s->held_tail = &s->held;
    s->tbits = 4;
    s->slots = calloc((size_t)1 << s->tbits, sizeof *s->slots);
    if (!s->slots) {
        free(s);
        return P2P_ENOMEM;
    }
    /* Growth gets what one stream can grow by, at most half the budget. */
    s->growth_budget = c.max_stream_window - c.initial_window;
    if (s->growth_budget > c.max_session_window / 2) s->growth_budget = c.max_session_window / 2;
    s->next_id = is_client ? 1 : 2;
    s->input_stop = (size_t)c.out_high_watermark + c.max_frame_payload + YAMUX_HEADER_LEN +
                    INPUT_STOP_SLACK;
    s->hard_limit = 2 * s->input_stop;
    p2p_buf_init(&s->out, 0);   /* both bounded by hard_limit (out_room) */
    p2p_buf_init(&s->ctl, 0);
    s->cur = &s->out;
    s->next_ping = (c.keepalive_ms || c.autotune) ? 0 : UINT64_MAX;
    *out = s;
    return 0;
}

void yamux_session_free(yamux_session *s)
{
    if (!s) return;
    for (uint32_t i = 0; i < (1u << s->tbits); i++) free(s->slots[i]);
    free(s->slots);
    p2p_buf_free(&s->out);
    p2p_buf_free(&s->ctl);
    free(s);
}

static void set_clock(yamux_session *s, uint64_t now)
{
    if (now > s->now) s->now = now;
}

/* At a frame boundary control frames go first; a frame once begun is
 * finished first. */
static void pick_queue(yamux_session *s)
{
    if (!s->rest) s->cur = s->ctl.len ? &s->ctl : &s->out;
}

void yamux_session_output(yamux_session *s, const uint8_t **data, size_t *len)
{
    pick_queue(s);
    size_t n = s->cur->len;
    /* Control frames are waiting: show only the rest of the Data frame
     * in progress, so that they go right after it. */
    if (s->cur == &s->out && s->rest && s->ctl.len) n = s->rest;
    *data = n ? p2p_buf_head(s->cur) : NULL;
    *len = n;
}

size_t yamux_session_output_len(const yamux_session *s)
{
    return queued(s);
}

/* Total length (header + payload) of the frame at the head of q. */
static size_t head_frame_len(const p2p_buf *q)
{
    const uint8_t *h = p2p_buf_head(q);
    if (h[1] != YAMUX_TYPE_DATA) return YAMUX_HEADER_LEN;
    return YAMUX_HEADER_LEN + ((size_t)h[8] << 24 | (size_t)h[9] << 16 | (size_t)h[10] << 8 | h[11]);
}

int yamux_session_output_consume(yamux_session *s, size_t n)
{
    if (s->depth) return P2P_EBUSY;
    if (n > queued(s)) return P2P_EINVAL;
    /* From the queue output() showed, frame by frame (to know where the
     * boundaries are); a caller that takes more than it was shown goes
     * on in the order output() would show. */
    while (n) {
        if (!s->cur->len) pick_queue(s);
        if (!s->rest) s->rest = head_frame_len(s->cur);
        size_t k = n < s->rest ? n : s->rest;
        p2p_buf_consume(s->cur, k);
        s->rest -= k;
        n -= k;
        if (!s->rest) pick_queue(s);
    }
    /* Hysteresis: turns resume once the output is down to half the
     * watermark, so that they come in batches. */
    if (queued(s) <= s->cfg.out_high_watermark / 2) serve_writers(s);
    return 0;
}

int yamux_session_output_ready(yamux_session *s)
{
    return yamux_session_output_consume(s, 0);
}

uint64_t yamux_session_rtt(const yamux_session *s) { return s->srtt; }
uint64_t yamux_session_window_total(const yamux_session *s) { return s->window_total; }
uint64_t yamux_session_refused(const yamux_session *s) { return s->refused; }
size_t yamux_session_num_streams(const yamux_session *s) { return s->count; }
bool yamux_session_failed(const yamux_session *s) { return s->failed != 0; }

int yamux_session_goaway(yamux_session *s, uint32_t code)
{
    if (s->failed) return P2P_ECLOSED;
    if (s->local_goaway) return 0;
    int rc = ctl_frame(s, YAMUX_TYPE_GO_AWAY, 0, 0, code);
    if (rc) return rc;
    s->local_goaway = true;
    if (code != YAMUX_GOAWAY_NORMAL) s->failed = P2P_ECLOSED;
    return 0;
}

/* ---- Timers --------------------------------------------------------------- */

int yamux_session_tick(yamux_session *s, uint64_t now_ms)
{
    if (s->depth) return P2P_EBUSY;
    if (s->failed) return P2P_ECLOSED;
    set_clock(s, now_ms);
    if (s->ping_outstanding) {
        uint64_t since = s->ping_sent > s->last_rx ? s->ping_sent : s->last_rx;
        if (s->cfg.ping_timeout_ms && s->now - since >= s->cfg.ping_timeout_ms)
            return fail(s, P2P_ETIMEDOUT, -1, true);
        return 0;
    }
    if (s->now >= s->next_ping) {
        uint32_t id = s->ping_id + 1;
        int rc = ctl_frame(s, YAMUX_TYPE_PING, YAMUX_FLAG_SYN, 0, id);
        if (rc) return 0;   /* output full: try again at the next tick */
        s->ping_id = id;
        s->ping_outstanding = true;
        s->ping_sent = s->now;
    }
    return 0;
}

uint64_t yamux_session_next_timeout(const yamux_session *s)
{
    if (s->failed) return UINT64_MAX;
    if (s->ping_outstanding) {
        if (!s->cfg.ping_timeout_ms) return UINT64_MAX;
        uint64_t since = s->ping_sent > s->last_rx ? s->ping_sent : s->last_rx;
        return since + s->cfg.ping_timeout_ms;
    }
    return s->next_ping;
}

/* ---- Input --------------------------------------------------------------- */

static inline bool bit_get(const yamux_session *s, uint32_t d)
{
    return (s->rseen[d / 64] >> (d % 64)) & 1;
}

static inline void bit_set(yamux_session *s, uint32_t d)
{
    s->rseen[d / 64] |= (uint64_t)1 << (d % 64);
}

/* Record a remote SYN's id; -1 if the id was seen before (or is too far
 * below the highest one to tell). */
static int remote_id_mark(yamux_session *s, uint32_t id)
{
    uint32_t k = id >> 1;
    const unsigned W = RSEEN_BITS / 64;
    if (!s->rseen_any || k > s->rmax_k) {
        uint32_t shift = s->rseen_any ? k - s->rmax_k : RSEEN_BITS;
        if (shift >= RSEEN_BITS) {
            memset(s->rseen, 0, sizeof s->rseen);
        } else {
            unsigned ws = shift / 64, bs = shift % 64;
            for (unsigned j = W; j-- > 0;) {
                uint64_t v = 0;
                if (j >= ws) {
                    v = s->rseen[j - ws] << bs;
                    if (bs && j >= ws + 1) v |= s->rseen[j - ws - 1] >> (64 - bs);
                }
                s->rseen[j] = v;
            }
        }
        s->rseen_any = true;
        s->rmax_k = k;
        bit_set(s, 0);
        return 0;
    }
    uint32_t d = s->rmax_k - k;
    if (d >= RSEEN_BITS || bit_get(s, d)) return -1;
    bit_set(s, d);
    return 0;
}

/* A frame without SYN names a stream we do not have: was it never opened
 * (a protocol error) rather than closed meanwhile (ignored)? */
static bool never_opened(const yamux_session *s, uint32_t id, bool remote_parity)
{
    if (!remote_parity) return id >= s->next_id;
    uint32_t k = id >> 1;
    if (!s->rseen_any || k > s->rmax_k) return true;
    uint32_t d = s->rmax_k - k;
    return d < RSEEN_BITS && !bit_get(s, d);
}

static void remote_fin(yamux_session *s, uint32_t id)
{
    struct ystream *st = lookup(s, id);
    if (!st || st->remote_fin) return;
    st->remote_fin = true;
    release_after_fin(s, st);
    cb_id(s, s->cb.on_remote_fin, id);
    st = lookup(s, id);
    if (st && st->local_fin) stream_free(s, st);
}

static void end_data_frame(yamux_session *s)
{
    if (s->rx_fin) {
        s->rx_fin = false;
        remote_fin(s, s->rx_id);
    }
}

static void discard_payload(yamux_session *s, uint32_t id, uint32_t len)
{
    s->rx_id = id;
    s->rx_left = len;
    s->rx_fin = false;
}

static void window_opened(yamux_session *s, struct ystream *st)
{
    if (!st->want_window || !st->send_window || st->local_fin) return;
    st->want_window = false;
    blocked_add(s, st);   /* behind the writers already waiting */
    serve_writers(s);
}

static int on_stream_frame(yamux_session *s, const struct yamux_header *h)
{
    uint32_t id = h->stream_id, len = h->length;
    uint16_t flags = h->flags;
    bool is_data = h->type == YAMUX_TYPE_DATA;
    uint32_t dlen = is_data ? len : 0;   /* payload bytes that follow */

    if (id == 0) return proto_error(s);
    if (dlen > s->cfg.max_stream_window) return proto_error(s);
    bool remote_parity = s->is_client ? (id % 2 == 0) : (id % 2 == 1);
    struct ystream *st = lookup(s, id);
    bool syn = flags & YAMUX_FLAG_SYN;

    if (syn) {
        if (!remote_parity || st) return proto_error(s);
        if (remote_id_mark(s, id)) return proto_error(s);
        if (dlen > YAMUX_DEFAULT_WINDOW) return proto_error(s);
        uint64_t credit = YAMUX_DEFAULT_WINDOW + (uint64_t)(is_data ? 0 : len);
        if (credit > UINT32_MAX) return proto_error(s);
        if (flags & YAMUX_FLAG_RST) {
            discard_payload(s, id, dlen);
            return 0;
        }
        if (s->local_goaway || s->count >= s->cfg.max_streams ||
            s->unacked_in >= s->cfg.max_unacked_inbound || !window_room(s)) {
            s->refused++;
            int rc = ctl_frame(s, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_RST, id, 0);
            if (rc) return internal_error(s, rc);
            discard_payload(s, id, dlen);
            return 0;
        }
        st = stream_new(s, id, false);
        if (!st) return internal_error(s, P2P_ENOMEM);
        st->send_window = (uint32_t)credit;
        cb_id(s, s->cb.on_stream_opened, id);
        if (s->failed) return s->failed;
        st = lookup(s, id);
    } else if (!st) {
        if (never_opened(s, id, remote_parity)) return proto_error(s);
        discard_payload(s, id, dlen);   /* closed or reset meanwhile */
        return 0;
    }

    if (st && (flags & YAMUX_FLAG_RST)) {
        stream_free(s, st);
        cb_id(s, s->cb.on_reset, id);
        discard_payload(s, id, dlen);
        return s->failed;
    }

    if (st && (flags & YAMUX_FLAG_ACK) && st->outbound && !st->acked) {
        st->acked = true;
        s->unacked_out--;
    }

    if (!is_data) {
        if (st && !syn && len) {
            if (len > UINT32_MAX - st->send_window) return proto_error(s);
            st->send_window += len;
            window_opened(s, st);
            if (s->failed) return s->failed;
        }
        if (flags & YAMUX_FLAG_FIN) remote_fin(s, id);
        return s->failed;
    }

    /* Data: charge the whole frame now, deliver it as it arrives. */
    st = lookup(s, id);
    if (st) {
        if (st->remote_fin && dlen) return proto_error(s);
        if (dlen > st->recv_window) return proto_error(s);
        st->recv_window -= dlen;
        st->buffered += dlen;
    }
    s->rx_id = id;
    s->rx_left = dlen;
    s->rx_fin = flags & YAMUX_FLAG_FIN;
    if (!dlen) end_data_frame(s);
    return s->failed;
}

static int on_ping(yamux_session *s, const struct yamux_header *h)
{
    if (h->flags & YAMUX_FLAG_ACK) {
        if (!s->ping_outstanding || h->length != s->ping_id) return 0;  /* stale: ignore */
        s->ping_outstanding = false;
        uint64_t rtt = s->now - s->ping_sent;
        if (!rtt) rtt = 1;
        s->srtt = s->srtt ? (s->srtt + rtt) / 2 : rtt;
        if (!s->srtt) s->srtt = 1;
        s->next_ping = s->cfg.keepalive_ms ? s->now + s->cfg.keepalive_ms : UINT64_MAX;
        cb_rtt(s, rtt);
        return s->failed;
    }
    if (h->flags & YAMUX_FLAG_SYN) {
        int rc = ctl_frame(s, YAMUX_TYPE_PING, YAMUX_FLAG_ACK, 0, h->length);
        if (rc) return internal_error(s, rc);
    }
    return 0;
}

static int on_goaway(yamux_session *s, const struct yamux_header *h)
{
    s->remote_goaway = true;
    cb_id(s, s->cb.on_goaway, h->length);
    if (s->failed) return s->failed;
    if (h->length != YAMUX_GOAWAY_NORMAL) return fail(s, P2P_ERESET, -1, true);
    return 0;
}

static int on_header(yamux_session *s, const uint8_t *p)
{
    struct yamux_header h;
    if (yamux_header_decode(&h, p, YAMUX_HEADER_LEN) < 0) return proto_error(s);
    if (!s->heard) {
        /* The peer's muxer is up: the held streams go, in order, before
         * this frame is looked at (it cannot concern them yet). */
        s->heard = true;
        while (s->held && !s->failed) {
            struct ystream *st = s->held;
            int rc = send_syn(s, st);
            if (rc) return fail(s, rc, YAMUX_GOAWAY_INTERNAL, true);
            window_opened(s, st);
        }
    }
    int rc;
    switch (h.type) {
    case YAMUX_TYPE_DATA:
    case YAMUX_TYPE_WINDOW_UPDATE: rc = on_stream_frame(s, &h); break;
    case YAMUX_TYPE_PING: rc = on_ping(s, &h); break;
    default: rc = on_goaway(s, &h); break;
    }
    if (!s->failed && s->open_blocked && s->unacked_out < s->cfg.max_unacked_outbound &&
        s->count < s->cfg.max_streams) {
        s->open_blocked = false;
        cb_can_open(s);
    }
    return rc;
}

int yamux_session_feed(yamux_session *s, uint64_t now_ms, const uint8_t *in, size_t len,
                       size_t *consumed)
{
    *consumed = 0;
    if (s->depth) return P2P_EBUSY;
    if (s->failed) return P2P_ECLOSED;
    set_clock(s, now_ms);
    if (len) s->last_rx = s->now;
    size_t off = 0;
    while (off < len && !s->failed) {
        if (s->rx_left) {
            size_t n = len - off < s->rx_left ? len - off : s->rx_left;
            uint32_t id = s->rx_id;
            s->rx_left -= (uint32_t)n;
            if (lookup(s, id)) cb_data(s, id, in + off, n);
            off += n;
            if (!s->rx_left && !s->failed) end_data_frame(s);
            continue;
        }
        if (!s->hdr_len && queued(s) >= s->input_stop) break;
        const uint8_t *hp;
        if (!s->hdr_len && len - off >= YAMUX_HEADER_LEN) {
            hp = in + off;
            off += YAMUX_HEADER_LEN;
        } else {
            size_t take = YAMUX_HEADER_LEN - s->hdr_len;
            if (take > len - off) take = len - off;
            memcpy(s->hdr + s->hdr_len, in + off, take);
            s->hdr_len = (uint8_t)(s->hdr_len + take);
            off += take;
            if (s->hdr_len < YAMUX_HEADER_LEN) break;
            s->hdr_len = 0;
            hp = s->hdr;
        }
        (void)on_header(s, hp);
    }
    *consumed = off;
    return s->failed;
}

/* ---- Stream API ------------------------------------------------------------ */

int yamux_stream_open(yamux_session *s, uint32_t *id)
{
    if (s->failed || s->local_goaway || s->remote_goaway) return P2P_ECLOSED;
    if (s->count >= s->cfg.max_streams || s->next_id > UINT32_MAX || !window_room(s)) return P2P_ELIMIT;
    if (s->unacked_out >= s->cfg.max_unacked_outbound) {
        s->open_blocked = true;
        return P2P_EAGAIN;
    }
    uint32_t sid = (uint32_t)s->next_id;
    struct ystream *st = stream_new(s, sid, true);
    if (!st) return P2P_ENOMEM;
    if (!s->heard && s->early_sent >= s->cfg.early_streams) {
        /* Held: no window to write into until send_syn. */
        st->held = true;
        st->send_window = 0;
        *s->held_tail = st;
        s->held_tail = &st->hnext;
    } else {
        int rc = send_syn(s, st);
        if (rc) {
            stream_free(s, st);
            return rc;
        }
    }
    s->next_id += 2;
    *id = sid;
    return 0;
}

/* Direct output (see yamux_session.h): the stream is alone, so each frame
 * would be its next turn at once; send frames, each a header of ours and
 * a slice of the caller's bytes, in batches through direct_send while
 * the layer below has room, control frames waiting ahead of them going
 * first. Out of room the stream waits for a turn (output_ready). */
static int write_direct(yamux_session *s, struct ystream *st, const uint8_t *data, size_t len, bool turn)
{
    uint8_t hdr[DIRECT_FRAMES][YAMUX_HEADER_LEN];
    struct p2p_iovec iov[2 * DIRECT_FRAMES + 1];
    size_t total = 0;
    if (len > INT_MAX) len = INT_MAX;   /* the count is returned as an int */
    while (total < len && st->send_window) {
        size_t room = cb_room(s), batch = 0, taken = 0, k = 0, nf = 0;
        size_t ctl = s->ctl.len;
        if (ctl) {
            iov[k++] = (struct p2p_iovec){ p2p_buf_head(&s->ctl), ctl };
            batch = ctl;
        }
        while (nf < DIRECT_FRAMES && total + taken < len && st->send_window) {
            size_t n = len - total - taken;
            if (n > st->send_window) n = st->send_window;
            if (n > s->cfg.max_frame_payload) n = s->cfg.max_frame_payload;
            if (batch >= room) break;   /* the last frame may overshoot, as at the watermark */
            yamux_header_put(hdr[nf], YAMUX_TYPE_DATA, 0, st->id, (uint32_t)n);
            iov[k++] = (struct p2p_iovec){ hdr[nf], YAMUX_HEADER_LEN };
            iov[k++] = (struct p2p_iovec){ data + total + taken, n };
            st->send_window -= (uint32_t)n;
            batch += YAMUX_HEADER_LEN + n;
            taken += n;
            nf++;
        }
        if (!nf) break;
        int rc = cb_send(s, iov, k);
        if (rc < 0) return fail(s, rc, -1, true);   /* the layer below failed */
        if (ctl) {
            /* All of it went, a control frame begun earlier included. */
            p2p_buf_consume(&s->ctl, ctl);
            s->rest = 0;
            pick_queue(s);
        }
        s->direct_bytes += batch;
        total += taken;
    }
    if (total < len) {
        if (!st->send_window) st->want_window = true;
        else blocked_add(s, st);   /* out of room: a turn when there is */
    }
    if (turn) s->turn_left = 0;
    return (int)total;
}

int yamux_stream_write(yamux_session *s, uint32_t id, const uint8_t *data, size_t len)
{
    if (s->failed) return P2P_ECLOSED;
    struct ystream *st = lookup(s, id);
    if (!st) return P2P_ENOTFOUND;
    if (st->local_fin) return P2P_ESTATE;
    if (!st->outbound && !st->acked) {
        int rc = send_ack(s, st, 0);
        if (rc) return rc;
    }
    if (!len) return 0;
    bool turn = s->turn_id == id;
    if (!turn && s->bhead) {
        /* Others wait for a turn: wait behind them (keeping the place if
         * already waiting), whatever order the application calls in. */
        blocked_add(s, st);
        return 0;
    }
    /* Re-evaluated below: only a short write arms on_writable. */
    st->want_window = false;
    blocked_remove(s, st);
    /* Nobody else waits and none of our frames is queued: straight down. */
    if (s->direct && !s->bhead && !s->out.len) return write_direct(s, st, data, len, turn);
    /* A write outside a turn (nobody waiting) is a turn of its own: one
     * frame, then the stream waits behind whoever came meanwhile. */
    uint32_t quota = turn ? s->turn_left : s->cfg.max_frame_payload;
    size_t total = 0;
    while (total < len) {
        if (!st->send_window) {
            st->want_window = true;
            break;
        }
        if (s->out.len >= s->cfg.out_high_watermark || !quota) {
            blocked_add(s, st);
            break;
        }
        size_t n = len - total;
        if (n > st->send_window) n = st->send_window;
        if (n > s->cfg.max_frame_payload) n = s->cfg.max_frame_payload;
        if (n > quota) n = quota;
        int rc = out_room(s, YAMUX_HEADER_LEN + n);
        if (!rc) rc = p2p_buf_reserve(&s->out, YAMUX_HEADER_LEN + n);
        if (rc) {
            if (total) break;
            return rc;
        }
        uint8_t *t = p2p_buf_tail(&s->out);
        yamux_header_put(t, YAMUX_TYPE_DATA, 0, id, (uint32_t)n);
        memcpy(t + YAMUX_HEADER_LEN, data + total, n);
        p2p_buf_commit(&s->out, YAMUX_HEADER_LEN + n);
        st->send_window -= (uint32_t)n;
        quota -= (uint32_t)n;
        total += n;
    }
    if (turn) s->turn_left = quota;
    return (int)total;
}

int yamux_stream_consumed(yamux_session *s, uint32_t id, size_t n)
{
    if (s->failed) return P2P_ECLOSED;
    struct ystream *st = lookup(s, id);
    if (!st) return P2P_ENOTFOUND;
    if (n > st->buffered) return P2P_EINVAL;
    st->buffered -= (uint32_t)n;
    return maybe_window_update(s, st);
}

int yamux_stream_close(yamux_session *s, uint32_t id)
{
    if (s->failed) return P2P_ECLOSED;
    struct ystream *st = lookup(s, id);
    if (!st) return P2P_ENOTFOUND;
    if (st->local_fin) return 0;
    int rc;
    if (st->held && (rc = send_syn(s, st))) return rc;   /* the SYN goes before the FIN */
    if (!st->outbound && !st->acked) rc = send_ack(s, st, YAMUX_FLAG_FIN);
    else rc = seq_frame(s, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_FIN, id, 0);
    if (rc) return rc;
    st->local_fin = true;
    st->want_window = false;
    blocked_remove(s, st);
    if (st->remote_fin) stream_free(s, st);
    return 0;
}

int yamux_stream_reset(yamux_session *s, uint32_t id)
{
    if (s->failed) return P2P_ECLOSED;
    struct ystream *st = lookup(s, id);
    if (!st) return P2P_ENOTFOUND;
    if (!st->held) {   /* a held stream was never announced: nothing to reset */
        int rc = ctl_frame(s, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_RST, id, 0);
        if (rc) return rc;
    }
    stream_free(s, st);
    return 0;
}

int yamux_stream_accept(yamux_session *s, uint32_t id)
{
    if (s->failed) return P2P_ECLOSED;
    struct ystream *st = lookup(s, id);
    if (!st) return P2P_ENOTFOUND;
    if (st->outbound || st->acked) return 0;
    return send_ack(s, st, 0);
}

int yamux_stream_get_info(const yamux_session *s, uint32_t id, struct yamux_stream_info *info)
{
    const struct ystream *st = lookup(s, id);
    if (!st) return P2P_ENOTFOUND;
    info->outbound = st->outbound;
    info->acked = st->acked;
    info->local_fin = st->local_fin;
    info->remote_fin = st->remote_fin;
    info->send_window = st->send_window;
    info->recv_window = st->recv_window;
    info->recv_max = st->recv_max;
    info->buffered = st->buffered;
    return 0;
}
