#include "echo.h"

#include <stdlib.h>
#include <string.h>

/* ---- server ------------------------------------------------------------ */

struct echo_srv {
    bool eof;
};

static void srv_finish_if_done(p2p_stream *s, struct echo_srv *e)
{
    if (e->eof && p2p_stream_write_queued(s) == 0) {
        p2p_stream_shutdown(s);
        p2p_stream_close(s);
        free(e);
    }
}

static void srv_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)arg;
    if (p2p_stream_write(s, d, n) < 0) {
        p2p_stream_reset(s);
        return;
    }
    if (p2p_stream_write_queued(s) > P2P_STREAM_HIGH_WATER) p2p_stream_read_stop(s);
}

static void srv_eof(p2p_stream *s, void *arg)
{
    struct echo_srv *e = arg;
    e->eof = true;
    srv_finish_if_done(s, e);
}

static void srv_error(p2p_stream *s, int err, void *arg)
{
    (void)err;
    p2p_stream_close(s);
    free(arg);
}

static void srv_drain(p2p_stream *s, void *arg)
{
    struct echo_srv *e = arg;
    if (e->eof) srv_finish_if_done(s, e);
    else p2p_stream_read_start(s);
}

static const struct p2p_stream_handlers srv_handlers = { srv_read, srv_eof, srv_error, srv_drain };

static void on_echo(p2p_stream *s, const char *proto, void *arg)
{
    (void)proto; (void)arg;
    struct echo_srv *e = calloc(1, sizeof *e);
    if (!e) {
        p2p_stream_close(s);
        return;
    }
    p2p_stream_set_handlers(s, &srv_handlers, e);
    p2p_stream_read_start(s);
}

int echo_serve(p2p_host *h)
{
    return p2p_protocol_add(h, ECHO_PROTOCOL, on_echo, NULL);
}

/* ---- client ------------------------------------------------------------ */

uint8_t echo_byte(uint32_t seed, size_t i)
{
    uint32_t x = seed * 2654435761u ^ (uint32_t)i * 40503u ^ (uint32_t)(i >> 11);
    return (uint8_t)(x ^ x >> 13);
}

static void cli_free_timer(struct echo_client *c)
{
    if (c->pause_timer_) p2p_timer_free(c->pause_timer_);
    c->pause_timer_ = NULL;
}

static void cli_finish(struct echo_client *c, bool ok, int status)
{
    if (!c->s_) return;
    c->ok = ok;
    c->status = status;
    p2p_stream_close(c->s_);
    c->s_ = NULL;
    cli_free_timer(c);
    c->done(c);
}

static void cli_resume(p2p_timer *t, void *arg)
{
    (void)t;
    struct echo_client *c = arg;
    if (c->s_) p2p_stream_read_start(c->s_);
}

static void cli_pump(struct echo_client *c)
{
    uint8_t buf[16384];
    while (c->sent < c->total && p2p_stream_write_queued(c->s_) < P2P_STREAM_HIGH_WATER) {
        size_t n = c->total - c->sent < sizeof buf ? c->total - c->sent : sizeof buf;
        for (size_t i = 0; i < n; i++) buf[i] = echo_byte(c->seed, c->sent + i);
        int rc = p2p_stream_write(c->s_, buf, n);
        if (rc < 0) return cli_finish(c, false, rc);
        c->sent += n;
    }
    if (c->sent == c->total) {
        int rc = p2p_stream_shutdown(c->s_);
        if (rc < 0) cli_finish(c, false, rc);
    }
}

static void cli_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s;
    struct echo_client *c = arg;
    for (size_t i = 0; i < n; i++) {
        if (c->recvd + i >= c->total || d[i] != echo_byte(c->seed, c->recvd + i))
            return cli_finish(c, false, P2P_EPROTO);
    }
    c->recvd += n;
    if (c->pause_timer_ && (c->since_pause_ += n) >= c->pause_every) {
        /* A delivery may span several pause_every (it can be up to the
         * Yamux window): pause for each, to keep the rate. */
        uint64_t k = c->since_pause_ / c->pause_every;
        c->since_pause_ %= c->pause_every;
        p2p_stream_read_stop(s);
        p2p_timer_start(c->pause_timer_, k * c->pause_ms, 0);
    }
}

static void cli_eof(p2p_stream *s, void *arg)
{
    (void)s;
    struct echo_client *c = arg;
    cli_finish(c, c->recvd == c->total, c->recvd == c->total ? 0 : P2P_ETRUNC);
}

static void cli_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    cli_finish(arg, false, err);
}

static void cli_drain(p2p_stream *s, void *arg)
{
    (void)s;
    struct echo_client *c = arg;
    if (c->sent < c->total) cli_pump(c);
}

static const struct p2p_stream_handlers cli_handlers = { cli_read, cli_eof, cli_error, cli_drain };

static void on_opened(int status, p2p_stream *s, void *arg)
{
    struct echo_client *c = arg;
    if (status) {
        c->ok = false;
        c->status = status;
        c->done(c);
        return;
    }
    c->s_ = s;
    p2p_stream_set_handlers(s, &cli_handlers, c);
    if (c->pause_every && c->host && !(c->pause_timer_ = p2p_timer_new(c->host, cli_resume, c)))
        return cli_finish(c, false, P2P_ENOMEM);
    p2p_stream_read_start(s);
    cli_pump(c);
}

int echo_start(p2p_conn *conn, struct echo_client *c)
{
    static const char *const protos[] = { ECHO_PROTOCOL, NULL };
    c->sent = c->recvd = c->since_pause_ = 0;
    c->s_ = NULL;
    c->pause_timer_ = NULL;
    return p2p_conn_open_stream(conn, protos, on_opened, c);
}
