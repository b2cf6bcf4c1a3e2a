/* fuzz_yamux.c - the Yamux session under arbitrary input and API calls.
 *
 * The first byte picks a mode:
 *   - raw (even): one session (client or server) gets a script mixing
 *     arbitrary bytes as input with random API calls, timer ticks and
 *     partial output drains. Checks: no crash, bounded output queue,
 *     delivered-but-unconsumed data never exceeds the stream's window,
 *     stream count within the limit, the sum of the receive windows
 *     within max_session_window, consistent return codes.
 *   - pair (odd): a client and a server wired in memory, driven by random
 *     API calls and random delivery of their output. Two correct peers
 *     must never see a protocol error, and every stream must deliver
 *     exactly the bytes written, in order. Mode bit 2: both use direct
 *     output (frames sent down at once into a bounded buffer).
 * Small limits (windows are at their spec minimum, 8 streams, 4 KiB
 * output watermark) so that every limit is reachable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "yamux_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NIDS 32
#define DIRECT_ROOM 6000
/* What a direct send may add beyond the room: a frame, and control
 * frames queued before it (bounded by the output's hard limit). */
#define WIRE_MAX (DIRECT_ROOM + 2 * (1024 + 12) + 2 * (4096 + 1024 + 12 + 64 * 1024) + 12)
#define NTRACK 256

struct rd {
    const uint8_t *p;
    size_t n;
};

static uint8_t u8(struct rd *r)
{
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}

static uint16_t u16(struct rd *r)
{
    return (uint16_t)(u8(r) << 8 | u8(r));
}

static void cfg_small(struct yamux_config *c, uint8_t knob)
{
    yamux_config_default(c);
    c->max_streams = 12;   /* > 8: the stream table must grow */
    c->max_unacked_inbound = 4;
    c->max_unacked_outbound = 4;
    c->max_frame_payload = 1024;
    c->out_high_watermark = 4096;
    c->max_stream_window = (knob & 1) ? 1024 * 1024 : 256 * 1024;
    c->keepalive_ms = (knob & 2) ? 1000 : 0;
    c->ping_timeout_ms = (knob & 4) ? 3000 : 0;
    c->autotune = !(knob & 8);
    if (knob & 16) c->initial_window = 512 * 1024;
    if (c->max_stream_window < c->initial_window) c->max_stream_window = c->initial_window;
    /* Window budget: room for every stream and 512 KiB of growth, or
     * (knob bit 5) for 4 streams only, so that refusals are reachable. */
    c->max_session_window = (knob & 32) ? 4 * (uint64_t)c->initial_window + 256 * 1024
                                        : (uint64_t)c->max_streams * c->initial_window + 512 * 1024;
}

/* Largest output queue a session may ever hold (see yamux_session.h). */
static size_t out_bound(const struct yamux_config *c)
{
    return 2 * ((size_t)c->out_high_watermark + c->max_frame_payload + 12 + 64 * 1024) + 12;
}

/* Stream id's byte at offset off is periodic[(off + 7 * id) % 251]:
 * whole runs are compared with memcmp (per-byte comparisons would be
 * instrumented and dominate the fuzzer's time). */
#define PERIOD 251u
static uint8_t periodic[PERIOD + 65536];

static void periodic_init(void)
{
    if (periodic[1]) return;
    for (size_t i = 0; i < sizeof periodic; i++)
        periodic[i] = (uint8_t)((i % PERIOD) * 97 + 13);
}

static const uint8_t *pattern(uint32_t id, uint64_t off)
{
    return periodic + (off + 7ull * id) % PERIOD;
}

/* ---- Per-side tracking -------------------------------------------------- */

struct track {
    uint32_t id;
    uint64_t sent, recvd;
    uint32_t unconsumed;
    bool used;
};

struct side {
    yamux_session *s;
    struct yamux_config cfg;
    uint32_t ids[NIDS];
    unsigned nids;
    struct track t[NTRACK];
    bool check_pattern;
    bool auto_consume;
    int errors;
    /* Direct output (pair mode, mode bit 2): frames sent down go into
     * `wire`, which holds at most DIRECT_ROOM bytes. */
    uint8_t wire[WIRE_MAX];
    size_t wlen;
};

static struct track *tr(struct side *sd, uint32_t id, bool create)
{
    for (unsigned i = 0; i < NTRACK; i++)
        if (sd->t[i].used && sd->t[i].id == id) return &sd->t[i];
    if (!create) return NULL;
    for (unsigned i = 0; i < NTRACK; i++)
        if (!sd->t[i].used) {
            memset(&sd->t[i], 0, sizeof sd->t[i]);
            sd->t[i].used = true;
            sd->t[i].id = id;
            return &sd->t[i];
        }
    return NULL;
}

static void remember(struct side *sd, uint32_t id)
{
    sd->ids[sd->nids % NIDS] = id;
    sd->nids++;
}

static uint32_t pick(struct side *sd, uint8_t b)
{
    if (!sd->nids) return b;
    unsigned n = sd->nids < NIDS ? sd->nids : NIDS;
    return sd->ids[b % n];
}

static void on_opened(void *u, uint32_t id)
{
    struct side *sd = u;
    remember(sd, id);
    (void)tr(sd, id, true);
}

static void on_data(void *u, uint32_t id, const uint8_t *d, size_t n)
{
    struct side *sd = u;
    struct track *t = tr(sd, id, true);
    if (!t) return;
    if (sd->check_pattern)
        for (size_t i = 0; i < n; i += 65536) {
            size_t k = n - i < 65536 ? n - i : 65536;
            if (memcmp(d + i, pattern(id, t->recvd + i), k) != 0) abort();
        }
    t->recvd += n;
    t->unconsumed += (uint32_t)n;
    struct yamux_stream_info info;
    if (yamux_stream_get_info(sd->s, id, &info) == 0) {
        /* A frame is charged in full when its header arrives. */
        if (t->unconsumed > info.buffered) abort();
        if (info.buffered > info.recv_max) abort();
    }
    if (sd->auto_consume) {
        int rc = yamux_stream_consumed(sd->s, id, n);
        if (rc == 0) t->unconsumed -= (uint32_t)n;
        else if (rc != P2P_ELIMIT) abort();
    }
}

static void on_fin(void *u, uint32_t id)
{
    struct side *sd = u;
    struct yamux_stream_info info;
    if (yamux_stream_get_info(sd->s, id, &info) != 0 || !info.remote_fin) abort();
}

static void on_can_open(void *u)
{
    struct side *sd = u;
    uint32_t id;
    if (yamux_stream_open(sd->s, &id) == 0) {
        remember(sd, id);
        (void)tr(sd, id, true);
    }
}

static void on_goaway(void *u, uint32_t code)
{
    (void)u;
    (void)code;
}

static void on_rtt(void *u, uint64_t rtt)
{
    struct side *sd = u;
    if (!rtt || yamux_session_rtt(sd->s) == 0) abort();
}

static void on_error(void *u, int err)
{
    struct side *sd = u;
    if (++sd->errors > 1 || err >= 0) abort();   /* once, negative */
}

static void on_reset(void *u, uint32_t id)
{
    struct side *sd = u;
    struct track *t = tr(sd, id, false);
    if (t) t->unconsumed = 0;
    struct yamux_stream_info info;
    if (yamux_stream_get_info(sd->s, id, &info) != P2P_ENOTFOUND) abort();
}

static void on_writable(void *u, uint32_t id)
{
    struct side *sd = u;
    (void)sd;
    (void)id;
}

static const struct yamux_callbacks cbs = {
    .on_stream_opened = on_opened, .on_data = on_data, .on_reset = on_reset,
    .on_writable = on_writable, .on_remote_fin = on_fin, .on_can_open = on_can_open,
    .on_goaway = on_goaway, .on_ping_rtt = on_rtt, .on_error = on_error,
};

static size_t on_room(void *u)
{
    struct side *sd = u;
    return sd->wlen < DIRECT_ROOM ? DIRECT_ROOM - sd->wlen : 0;
}

static int on_send(void *u, const struct p2p_iovec *iov, size_t n)
{
    struct side *sd = u;
    for (size_t i = 0; i < n; i++) {
        /* A batch may overshoot the room by one frame, plus control
         * frames queued before it. */
        if (sd->wlen + iov[i].len > sizeof sd->wire) abort();
        memcpy(sd->wire + sd->wlen, iov[i].base, iov[i].len);
        sd->wlen += iov[i].len;
    }
    return 0;
}

static const struct yamux_callbacks cbs_direct = {
    .on_stream_opened = on_opened, .on_data = on_data, .on_remote_fin = on_fin,
    .on_reset = on_reset, .on_writable = on_writable, .on_can_open = on_can_open,
    .on_goaway = on_goaway, .on_ping_rtt = on_rtt, .on_error = on_error,
    .direct_room = on_room, .direct_send = on_send,
};

static void check_invariants(struct side *sd)
{
    if (yamux_session_output_len(sd->s) > out_bound(&sd->cfg)) abort();
    if (yamux_session_num_streams(sd->s) > sd->cfg.max_streams) abort();
    if (yamux_session_window_total(sd->s) > sd->cfg.max_session_window) abort();
    if (yamux_session_window_total(sd->s) < yamux_session_num_streams(sd->s) * (uint64_t)sd->cfg.initial_window)
        abort();
}

/* One API call chosen by op. */
static void api_call(struct side *sd, uint8_t op, struct rd *r, uint64_t *now)
{
    uint32_t id;
    int rc;
    switch (op % 10) {
    case 0:
        rc = yamux_stream_open(sd->s, &id);
        if (rc == 0) {
            remember(sd, id);
            (void)tr(sd, id, true);
        } else if (rc != P2P_ECLOSED && rc != P2P_ELIMIT && rc != P2P_EAGAIN) {
            abort();
        }
        break;
    case 1: {
        id = pick(sd, u8(r));
        size_t len = u16(r);
        struct track *t = tr(sd, id, false);
        if (!t) break;   /* untracked (table full): the receiver could not check */
        rc = yamux_stream_write(sd->s, id, pattern(id, t->sent), len);
        if (rc < 0 && rc != P2P_ENOTFOUND && rc != P2P_ESTATE && rc != P2P_ECLOSED &&
            rc != P2P_ELIMIT)
            abort();
        if (rc > 0 && (size_t)rc > len) abort();
        if (rc > 0) t->sent += (uint64_t)rc;
        break;
    }
    case 2: {
        id = pick(sd, u8(r));
        struct track *t = tr(sd, id, false);
        uint32_t want = (uint32_t)u16(r) * 4;
        if (t && want > t->unconsumed) want = t->unconsumed;
        rc = yamux_stream_consumed(sd->s, id, want);
        if (rc == 0 && t) t->unconsumed -= want;
        if (rc < 0 && rc != P2P_ENOTFOUND && rc != P2P_EINVAL && rc != P2P_ECLOSED &&
            rc != P2P_ELIMIT)
            abort();
        break;
    }
    case 3:
        rc = yamux_stream_close(sd->s, pick(sd, u8(r)));
        if (rc < 0 && rc != P2P_ENOTFOUND && rc != P2P_ECLOSED && rc != P2P_ELIMIT) abort();
        break;
    case 4:
        rc = yamux_stream_reset(sd->s, pick(sd, u8(r)));
        if (rc < 0 && rc != P2P_ENOTFOUND && rc != P2P_ECLOSED && rc != P2P_ELIMIT) abort();
        break;
    case 5:
        rc = yamux_stream_accept(sd->s, pick(sd, u8(r)));
        if (rc < 0 && rc != P2P_ENOTFOUND && rc != P2P_ECLOSED && rc != P2P_ELIMIT) abort();
        break;
    case 6:
        *now += u16(r);
        rc = yamux_session_tick(sd->s, *now);
        if (rc < 0 && rc != P2P_ETIMEDOUT && rc != P2P_ECLOSED) abort();
        if (yamux_session_next_timeout(sd->s) < *now && !yamux_session_failed(sd->s) &&
            yamux_session_output_len(sd->s) < sd->cfg.out_high_watermark)
            abort();   /* a tick must consume its deadline */
        break;
    case 7:
        if (u8(r) == 0x5a) {
            rc = yamux_session_goaway(sd->s, u8(r) % 3);
            if (rc < 0 && rc != P2P_ECLOSED && rc != P2P_ELIMIT) abort();
        }
        break;
    default: {
        struct yamux_stream_info info;
        (void)yamux_stream_get_info(sd->s, pick(sd, u8(r)), &info);
        break;
    }
    }
    check_invariants(sd);
}

static void side_init(struct side *sd, bool client, uint8_t knob, bool direct)
{
    memset(sd, 0, sizeof *sd);
    cfg_small(&sd->cfg, knob);
    if (yamux_config_check(&sd->cfg, NULL, 0) != 0) abort();
    if (yamux_session_new(&sd->s, client, &sd->cfg, direct ? &cbs_direct : &cbs, sd) != 0) abort();
    sd->check_pattern = true;
}

/* ---- Raw mode ---------------------------------------------------------------- */

static void raw_mode(struct rd *r, uint8_t knob, bool client)
{
    static struct side sd;
    side_init(&sd, client, knob, false);
    sd.check_pattern = false;
    uint64_t now = 0;
    while (r->n) {
        uint8_t op = u8(r);
        if (op < 128) {
            /* Input: op+1 bytes straight from the fuzz data. */
            size_t len = (size_t)op + 1;
            if (len > r->n) len = r->n;
            size_t used = 0;
            int rc = yamux_session_feed(sd.s, now, r->p, len, &used);
            if (used > len) abort();
            if (rc < 0 && rc != P2P_EPROTO && rc != P2P_ERESET && rc != P2P_ECLOSED &&
                rc != P2P_ENOMEM)
                abort();
            if (rc == 0 && used < len &&
                yamux_session_output_len(sd.s) < sd.cfg.out_high_watermark)
                abort();   /* only a full output queue may stop input */
            r->p += len;
            r->n -= len;
            check_invariants(&sd);
        } else if (op < 160) {
            size_t n = yamux_session_output_len(sd.s);
            size_t k = (size_t)u16(r) * 4;
            if (k > n) k = n;
            if (yamux_session_output_consume(sd.s, k) != 0) abort();
        } else {
            api_call(&sd, op, r, &now);
        }
    }
    yamux_session_free(sd.s);
}

/* ---- Pair mode --------------------------------------------------------------- */

static bool deliver(struct side *from, struct side *to, uint64_t now, size_t max)
{
    const uint8_t *d;
    size_t n, used = 0;
    if (from->wlen && !yamux_session_failed(to->s)) {
        /* Sent down directly: before anything queued now. */
        n = max && from->wlen > max ? max : from->wlen;
        int rc = yamux_session_feed(to->s, now, from->wire, n, &used);
        if (rc < 0 && rc != P2P_ERESET) abort();
        memmove(from->wire, from->wire + used, from->wlen - used);
        from->wlen -= used;
        if (yamux_session_output_ready(from->s) != 0) abort();
        check_invariants(to);
        return used > 0;
    }
    yamux_session_output(from->s, &d, &n);
    if (!n || yamux_session_failed(to->s)) return false;
    if (max && n > max) n = max;
    int rc = yamux_session_feed(to->s, now, d, n, &used);
    /* Between two correct sessions only these are possible: the peer's
     * Go Away with an error code (fuzzed API call). */
    if (rc < 0 && rc != P2P_ERESET) abort();
    if (yamux_session_output_consume(from->s, used) != 0) abort();
    check_invariants(to);
    return used > 0;
}

static void settle(struct side *c, struct side *s, uint64_t now)
{
    for (int i = 0; i < 100000; i++) {
        bool a = deliver(c, s, now, 0);
        bool b = deliver(s, c, now, 0);
        if (!a && !b) return;
    }
    abort();   /* must settle */
}

/* Write up to total bytes on one stream, delivering in between. */
static void burst(struct side *sd, struct side *c, struct side *s, uint32_t id, size_t total,
                  uint64_t now)
{
    struct track *t = tr(sd, id, false);
    if (!t) return;
    size_t done = 0;
    for (int i = 0; i < 4000 && done < total; i++) {
        /* The output watermark is 4 KiB: a write takes about 5 KiB. */
        size_t len = total - done < 8192 ? total - done : 8192;
        int rc = yamux_stream_write(sd->s, id, pattern(id, t->sent), len);
        if (rc < 0) return;
        t->sent += (uint64_t)rc;
        done += (size_t)rc;
        settle(c, s, now);
        if (!rc) return;   /* window closed: the reader does not consume */
    }
}

static void pair_mode(struct rd *r, uint8_t knob, bool direct)
{
    static struct side c, s;
    side_init(&c, true, knob, direct);
    side_init(&s, false, knob, direct);
    c.auto_consume = knob & 32;
    s.auto_consume = knob & 64;
    uint64_t now = 0;
    while (r->n) {
        uint8_t op = u8(r);
        struct side *sd = (op & 1) ? &s : &c;
        struct side *other = (op & 1) ? &c : &s;
        op >>= 1;
        if (op < 40) {
            api_call(sd, op, r, &now);
        } else if (op < 70) {
            size_t max = (size_t)u16(r);
            deliver(sd, other, now, max);
        } else if (op < 100) {
            uint32_t id = pick(sd, u8(r));
            burst(sd, &c, &s, id, (size_t)u16(r) * 8, now);
        } else {
            settle(&c, &s, now);
        }
    }
    /* Everything delivered: no stream may have received more than sent. */
    settle(&c, &s, now);
    if (c.check_pattern && s.check_pattern && !yamux_session_failed(c.s) &&
        !yamux_session_failed(s.s)) {
        for (unsigned i = 0; i < NTRACK; i++) {
            struct track *a = &c.t[i];
            if (!a->used) continue;
            struct track *b = tr(&s, a->id, false);
            if (b && b->recvd > a->sent) abort();
            if (b && a->recvd > b->sent) abort();
        }
    }
    yamux_session_free(c.s);
    yamux_session_free(s.s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rd r = { data, size };
    periodic_init();
    uint8_t mode = u8(&r);
    uint8_t knob = u8(&r);
    if (mode & 1) pair_mode(&r, knob, mode & 4);
    else raw_mode(&r, knob, mode & 2);
    return 0;
}
