/* stream_pipe.c - p2p_stream_pipe: two in-memory streams joined end to
 * end. Each end owns the queue of bytes written *to* it. */
#include <stdlib.h>

#include "host_internal.h"
#include "p2p/buf.h"
#include "p2p/error.h"
#include "p2p/stream.h"

struct pipe_end {
    p2p_host *host;
    p2p_stream *stream;
    struct pipe_end *peer;     /* NULL once the peer end is closed */
    p2p_buf in;                /* written by the peer, not yet delivered */
    size_t capacity;
    bool reading, eof_in, eof_sent, reset_in, closed;
    bool writer_blocked;       /* the peer saw a non-empty queue: drain it later */
    struct p2p_defer pump;
};

static void pump(void *arg);

static void schedule(struct pipe_end *e)
{
    if (!e->closed) p2p_defer_schedule(e->host, &e->pump);
}

static int pipe_write(void *impl, const uint8_t *data, size_t len)
{
    struct pipe_end *e = impl;
    struct pipe_end *p = e->peer;
    if (!p || p->reset_in) return P2P_ECLOSED;
    if (p->capacity && p->in.len + len > p->capacity) return P2P_EAGAIN;
    int rc = p2p_buf_append(&p->in, data, len);
    if (rc) return rc;
    p->writer_blocked = true;
    if (p->reading) schedule(p);
    return 0;
}

static void pipe_read_start(void *impl)
{
    struct pipe_end *e = impl;
    e->reading = true;
    if (e->in.len || e->eof_in || e->reset_in) schedule(e);
}

static void pipe_read_stop(void *impl)
{
    struct pipe_end *e = impl;
    e->reading = false;
}

static int pipe_shutdown(void *impl)
{
    struct pipe_end *e = impl;
    if (!e->peer) return P2P_ECLOSED;
    e->peer->eof_in = true;
    if (e->peer->reading) schedule(e->peer);
    return 0;
}

static void pipe_reset(void *impl)
{
    struct pipe_end *e = impl;
    if (!e->peer) return;
    e->peer->reset_in = true;
    schedule(e->peer);
}

static size_t pipe_write_queued(void *impl)
{
    struct pipe_end *e = impl;
    return e->peer ? e->peer->in.len : 0;
}

static void pipe_close(void *impl)
{
    struct pipe_end *e = impl;
    e->closed = true;
    p2p_defer_cancel(e->host, &e->pump);
    if (e->peer) {
        /* The other side sees a reset unless we had half-closed cleanly and
         * it has nothing more to expect. */
        if (!e->peer->eof_in) e->peer->reset_in = true;
        e->peer->peer = NULL;
        schedule(e->peer);
    }
    p2p_buf_free(&e->in);
    free(e);
}

static const struct p2p_stream_ops pipe_ops = {
    .write = pipe_write,
    .read_start = pipe_read_start,
    .read_stop = pipe_read_stop,
    .shutdown = pipe_shutdown,
    .reset = pipe_reset,
    .write_queued = pipe_write_queued,
    .close = pipe_close,
};

/* Deliver what is queued for this end, then tell the writer it drained. */
static void pump(void *arg)
{
    struct pipe_end *e = arg;
    p2p_stream *s = e->stream;
    if (e->reading && e->in.len) {
        p2p_buf chunk = e->in;
        p2p_buf_init(&e->in, 0);
        bool alive = p2p_stream_deliver_data(s, p2p_buf_head(&chunk), chunk.len);
        p2p_buf_free(&chunk);
        if (!alive) return;
        if (e->in.len) {
            schedule(e);
            return;
        }
    }
    if (e->in.len == 0 && e->writer_blocked && e->peer) {
        e->writer_blocked = false;
        if (!p2p_stream_deliver_drain(e->peer->stream)) return;
    }
    if (e->reading && e->in.len == 0 && e->eof_in && !e->eof_sent) {
        e->eof_sent = true;
        if (!p2p_stream_deliver_eof(s)) return;
    }
    if (e->reset_in && e->in.len == 0) {
        e->reset_in = false;
        p2p_stream_deliver_error(s, P2P_ERESET);
    }
}

P2P_API int p2p_stream_pipe(p2p_host *h, size_t capacity, p2p_stream **a, p2p_stream **b)
{
    struct pipe_end *ea = calloc(1, sizeof *ea), *eb = calloc(1, sizeof *eb);
    p2p_stream *sa = NULL, *sb = NULL;
    if (ea && eb) {
        sa = p2p_stream_new(h, &pipe_ops, ea);
        sb = p2p_stream_new(h, &pipe_ops, eb);
    }
    if (!sa || !sb) {
        if (sa) p2p_stream_close(sa);
        else free(ea);
        if (sb) p2p_stream_close(sb);
        else free(eb);
        return P2P_ENOMEM;
    }
    struct pipe_end *ends[2] = { ea, eb };
    p2p_stream *streams[2] = { sa, sb };
    for (int i = 0; i < 2; i++) {
        ends[i]->host = h;
        ends[i]->stream = streams[i];
        ends[i]->peer = ends[1 - i];
        ends[i]->capacity = capacity;
        p2p_buf_init(&ends[i]->in, 0);
        p2p_defer_init(&ends[i]->pump, pump, ends[i]);
    }
    *a = sa;
    *b = sb;
    return 0;
}
