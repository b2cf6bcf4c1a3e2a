/* relay_pump.c - relaying bytes between two streams with back-pressure
 * and a per-direction byte limit (see relay.h).
 *
 * Memory stays bounded by construction: a side is read only while the
 * other side's write queue is at most `watermark` bytes; above it reading
 * stops (the provider below then withholds Yamux window credit or stops
 * reading its socket) and resumes on the other side's drain. So the relay
 * holds at most about watermark + one delivery per direction. */
#include <stdlib.h>

#include "relay.h"

static void pump_end(struct relay_pump *p, int reason, bool reset)
{
    if (p->ended) return;
    p->ended = true;
    for (int i = 0; i < 2; i++) {
        p2p_stream *s = p->side[i].s;
        p->side[i].s = NULL;
        if (!s) continue;
        if (reset) p2p_stream_reset(s);
        p2p_stream_close(s);
    }
    p->end(p, reason);
}

void relay_pump_abort(struct relay_pump *p, int reason)
{
    pump_end(p, reason, true);
}

/* Both directions half-closed and flushed: a clean end. */
static void maybe_done(struct relay_pump *p)
{
    for (int i = 0; i < 2; i++)
        if (!p->side[i].eof || p2p_stream_write_queued(p->side[i].s) > 0) return;
    pump_end(p, 0, false);
}

static void on_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct relay_pump_side *in = arg;
    struct relay_pump *p = in->p;
    struct relay_pump_side *out = &p->side[in == &p->side[0] ? 1 : 0];
    size_t n = len;
    bool over = false;
    if (p->max_bytes) {
        uint64_t left = p->max_bytes - in->fwd;
        if (n > left) {
            n = (size_t)left;
            over = true;
        }
    }
    if (n) {
        int rc = p2p_stream_write(out->s, data, n);
        if (rc < 0) return pump_end(p, rc, true);
        in->fwd += n;
        p2p_counter_add(p->bytes, n);
    }
    if (over) return pump_end(p, P2P_ELIMIT, true);
    size_t queued = p2p_stream_write_queued(out->s);
    if (p->peak && queued > *p->peak) *p->peak = queued;
    if (queued > p->watermark) p2p_stream_read_stop(s);
}

static void on_eof(p2p_stream *s, void *arg)
{
    (void)s;
    struct relay_pump_side *in = arg;
    struct relay_pump *p = in->p;
    struct relay_pump_side *out = &p->side[in == &p->side[0] ? 1 : 0];
    in->eof = true;
    int rc = p2p_stream_shutdown(out->s);
    if (rc < 0 && rc != P2P_ECLOSED) return pump_end(p, rc, true);
    maybe_done(p);
}

static void on_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    struct relay_pump_side *in = arg;
    pump_end(in->p, err ? err : P2P_ERESET, true);
}

static void on_drain(p2p_stream *s, void *arg)
{
    (void)s;
    struct relay_pump_side *out = arg;   /* the side that drained */
    struct relay_pump *p = out->p;
    struct relay_pump_side *in = &p->side[out == &p->side[0] ? 1 : 0];
    if (!in->eof) p2p_stream_read_start(in->s);
    else maybe_done(p);
}

static const struct p2p_stream_handlers pump_handlers = { on_read, on_eof, on_error, on_drain };

void relay_pump_start(struct relay_pump *p, p2p_stream *a, p2p_stream *b, uint64_t max_bytes,
                      size_t watermark, size_t *peak, relay_pump_end_cb end)
{
    p->side[0] = (struct relay_pump_side){ .p = p, .s = a };
    p->side[1] = (struct relay_pump_side){ .p = p, .s = b };
    p->max_bytes = max_bytes;
    p->watermark = watermark;
    p->end = end;
    p->ended = false;
    p->peak = peak;
    for (int i = 0; i < 2; i++) {
        p2p_stream_set_handlers(p->side[i].s, &pump_handlers, &p->side[i]);
        p2p_stream_read_start(p->side[i].s);
    }
}
