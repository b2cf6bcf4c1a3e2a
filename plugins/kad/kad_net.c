/* kad_net.c - the kad protocol over streams.
 *
 * Outbound (struct kad_rpc): one request per stream, as the spec's simple
 * case: open a stream to the peer (connecting if needed), write the framed
 * request, read one framed response (not for ADD_PROVIDER, which has
 * none), half-close and release. rpc_timeout bounds the whole exchange.
 *
 * Inbound (struct kad_in, server mode only: in client mode the protocol
 * is not registered, so multistream-select refuses it): requests are read
 * one after the other on the same stream (the spec lets the requester
 * reuse it) and answered in order; a stream idle for inbound_timeout is
 * reset (go-libp2p-kad-dht: 1 minute). Limits: max_inbound streams in all
 * and max_inbound_per_peer per peer; a request that cannot be parsed or
 * handled resets the stream. */
#include <stdlib.h>
#include <string.h>

#include "plugin_int.h"

/* ---- outbound ------------------------------------------------------------- */

static void rpc_unlink(struct kad_rpc *r)
{
    struct kad *kd = r->kd;
    if (r->prev) r->prev->next = r->next;
    else if (kd->rpcs == r) kd->rpcs = r->next;
    if (r->next) r->next->prev = r->prev;
    r->next = r->prev = NULL;
    kd->nrpcs--;
}

/* End the request: release the stream (gracefully when ok), report. An
 * rpc still opening is orphaned instead: its open callback frees it. */
static void rpc_finish(struct kad_rpc *r, int status, struct kad_msg *resp)
{
    struct kad *kd = r->kd;
    rpc_unlink(r);
    p2p_timer_free(r->timer);
    r->timer = NULL;
    if (r->s) {
        bool graceful = status == 0 && (r->shut || p2p_stream_shutdown(r->s) == 0) &&
                        p2p_stream_write_queued(r->s) == 0;
        if (!graceful) p2p_stream_reset(r->s);   /* else half-closed with nothing queued */
        p2p_stream_close(r->s);
        r->s = NULL;
    }
    kad_rpc_cb cb = r->cb;
    void *arg = r->arg;
    p2p_peerid peer = r->peer;
    int type = r->type;
    r->cb = NULL;
    kad_reader_free(&r->rd);
    p2p_buf_free(&r->req);
    if (r->opening) r->finished = true;
    else free(r);
    /* The routing table upkeep below touches the peer store, whose event
     * subscribers may stop the host: the callback's owner is gone then. */
    bool was_stopping = kd->stopping;
    if (status && status != P2P_ECANCELED) {
        char ps[P2P_PEERID_STRMAX];
        p2p_log_debug(MOD, "%s request to %s failed: %s", kad_type_name(type), kad_peer_str(&peer, ps),
                      p2p_strerror(status));
        kad_peer_failed(kd, &peer);
    }
    else if (status == 0) kad_admit(kd, &peer);
    if (cb && (was_stopping || !kd->stopping)) cb(kd, status, &peer, resp, arg);
}

static void rpc_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    struct kad_rpc *r = arg;
    struct kad *kd = r->kd;
    if (!r->expect_response) return;   /* nothing expected: ignored */
    while (len) {
        int took = kad_reader_feed(&r->rd, data, len);
        if (took < 0) return rpc_finish(r, took, NULL);
        data += took;
        len -= (size_t)took;
        const uint8_t *body;
        size_t blen;
        int rc = kad_reader_next(&r->rd, &body, &blen);
        if (rc < 0) return rpc_finish(r, rc, NULL);
        if (rc == 0) {
            if (took == 0) return rpc_finish(r, P2P_ERANGE, NULL);
            continue;
        }
        struct kad_msg m;
        kad_msg_init(&m);
        rc = kad_msg_decode(&m, body, blen, &kd->lim);
        if (rc == 0 && m.type != r->type) rc = P2P_EPROTO;
        if (rc) {
            char ps[P2P_PEERID_STRMAX];
            p2p_log_debug(MOD, "bad response from %s: %s", kad_peer_str(&r->peer, ps), p2p_strerror(rc));
        }
        rpc_finish(r, rc, rc ? NULL : &m);
        kad_msg_clear(&m);
        return;
    }
}

static void rpc_eof(p2p_stream *s, void *arg)
{
    (void)s;
    struct kad_rpc *r = arg;
    rpc_finish(r, r->expect_response ? P2P_ECLOSED : 0, NULL);
}

static void rpc_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    struct kad_rpc *r = arg;
    rpc_finish(r, err ? err : P2P_ECLOSED, NULL);
}

static void rpc_drain(p2p_stream *s, void *arg)
{
    struct kad_rpc *r = arg;
    if (!r->expect_response && r->sent && p2p_stream_write_queued(s) == 0) rpc_finish(r, 0, NULL);
}

static const struct p2p_stream_handlers rpc_handlers = { rpc_read, rpc_eof, rpc_error, rpc_drain };

static void rpc_open(int status, p2p_stream *s, void *arg)
{
    struct kad_rpc *r = arg;
    r->opening = false;
    if (r->finished) {   /* reported (timed out, canceled) while opening */
        if (s) p2p_stream_close(s);
        free(r);
        return;
    }
    if (status) return rpc_finish(r, status, NULL);
    r->s = s;
    p2p_stream_set_handlers(s, &rpc_handlers, r);
    p2p_stream_read_start(s);
    int rc = p2p_stream_write(s, p2p_buf_head(&r->req), r->req.len);
    if (rc < 0) return rpc_finish(r, rc, NULL);
    r->sent = true;
    if (!r->expect_response) {
        /* ADD_PROVIDER: no answer; done once the request is handed on. */
        rc = p2p_stream_shutdown(s);
        if (rc < 0 && rc != P2P_EUNSUPPORTED) return rpc_finish(r, rc, NULL);
        r->shut = true;
        if (p2p_stream_write_queued(s) == 0) return rpc_finish(r, 0, NULL);
    }
}

static void rpc_timeout(p2p_timer *t, void *arg)
{
    (void)t;
    struct kad_rpc *r = arg;
    rpc_finish(r, P2P_ETIMEDOUT, NULL);
}

int kad_rpc_send(struct kad *kd, const p2p_peerid *peer, const struct kad_msg *req, bool expect_response,
                 kad_rpc_cb cb, void *arg)
{
    if (!kd->started || kd->stopping) return P2P_ECLOSED;
    if (p2p_peerid_equal(peer, p2p_host_peerid(kd->host))) return P2P_EINVAL;
    if (kd->nrpcs >= kd->max_rpcs) return P2P_ELIMIT;
    struct kad_rpc *r = calloc(1, sizeof *r);
    if (!r) return P2P_ENOMEM;
    r->kd = kd;
    r->peer = *peer;
    r->expect_response = expect_response;
    r->type = req->type;
    r->cb = cb;
    r->arg = arg;
    kad_reader_init(&r->rd, kd->max_message);
    p2p_buf_init(&r->req, 0);
    int rc = kad_msg_encode(req, kd->max_message, &r->req);
    if (rc == 0 && !(r->timer = p2p_timer_new(kd->host, rpc_timeout, r))) rc = P2P_ENOMEM;
    if (rc == 0) {
        r->opening = true;
        rc = p2p_host_new_stream(kd->host, peer, kd->protos, rpc_open, r);
        if (rc < 0) r->opening = false;
    }
    if (rc < 0) {
        p2p_timer_free(r->timer);
        kad_reader_free(&r->rd);
        p2p_buf_free(&r->req);
        free(r);
        return rc;
    }
    p2p_timer_start(r->timer, kd->rpc_timeout_ms, 0);
    r->next = kd->rpcs;
    if (kd->rpcs) kd->rpcs->prev = r;
    kd->rpcs = r;
    kd->nrpcs++;
    return 0;
}

void kad_rpc_cancel(struct kad *kd, void *arg)
{
    struct kad_rpc *r = kd->rpcs, *next;
    for (; r; r = next) {
        next = r->next;
        if (r->arg != arg) continue;
        r->cb = NULL;
        /* Silently: a canceled request says nothing about the peer. */
        rpc_finish(r, P2P_ECANCELED, NULL);
    }
}

void kad_rpc_stop_all(struct kad *kd)
{
    while (kd->rpcs) rpc_finish(kd->rpcs, P2P_ECANCELED, NULL);
}

/* ---- inbound ---------------------------------------------------------------- */

static void in_free(struct kad_in *in, bool graceful)
{
    struct kad *kd = in->kd;
    if (in->s) {
        if (!graceful) p2p_stream_reset(in->s);
        p2p_stream_close(in->s);
        in->s = NULL;
    }
    p2p_timer_free(in->timer);
    kad_reader_free(&in->rd);
    if (in->prev) in->prev->next = in->next;
    else if (kd->ins == in) kd->ins = in->next;
    if (in->next) in->next->prev = in->prev;
    kd->nins--;
    free(in);
}

/* Answer one request; false when the stream was dropped. */
static bool in_request(struct kad_in *in, const uint8_t *body, size_t len)
{
    struct kad *kd = in->kd;
    struct kad_msg req, resp;
    kad_msg_init(&req);
    kad_msg_init(&resp);
    char ps[P2P_PEERID_STRMAX];
    int rc = kad_msg_decode(&req, body, len, &kd->lim);
    if (rc == 0) rc = kad_handle_request(kd, &in->peer, &req, &resp);
    if (rc < 0) {
        p2p_log_debug(MOD, "bad %s request from %s: %s", rc == P2P_EPROTO ? "" : kad_type_name(req.type),
                      kad_peer_str(&in->peer, ps), p2p_strerror(rc));
    } else if (rc == 1) {
        p2p_conn *c = p2p_stream_conn(in->s);
        size_t dropped = kad_msg_filter_addrs(&resp, kd->addr_policy, c ? p2p_conn_remote_addr(c) : NULL);
        if (dropped)
            p2p_log_trace(MOD, "%s answer to %s: %zu addresses left out (response_addrs)", kad_type_name(req.type),
                          kad_peer_str(&in->peer, ps), dropped);
        p2p_buf out;
        p2p_buf_init(&out, 0);
        rc = kad_msg_encode(&resp, kd->max_message, &out);
        if (rc == 0) rc = p2p_stream_write(in->s, p2p_buf_head(&out), out.len);
        p2p_buf_free(&out);
    }
    kad_msg_clear(&req);
    kad_msg_clear(&resp);
    if (rc < 0) {
        in_free(in, false);
        return false;
    }
    return true;
}

static void in_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct kad_in *in = arg;
    p2p_timer_start(in->timer, in->kd->inbound_timeout_ms, 0);
    while (len) {
        int took = kad_reader_feed(&in->rd, data, len);
        if (took < 0) return in_free(in, false);
        data += took;
        len -= (size_t)took;
        for (;;) {
            const uint8_t *body;
            size_t blen;
            int rc = kad_reader_next(&in->rd, &body, &blen);
            if (rc < 0) return in_free(in, false);
            if (rc == 0) {
                if (took == 0) return in_free(in, false);
                break;
            }
            if (!in_request(in, body, blen)) return;
        }
    }
    if (p2p_stream_write_queued(s) > KAD_IN_HIGH_WATER) p2p_stream_read_stop(s);
}

static void in_eof(p2p_stream *s, void *arg)
{
    struct kad_in *in = arg;
    /* The requester is done: finish writing the answers, then release. */
    int rc = p2p_stream_shutdown(s);
    if (rc < 0 && rc != P2P_EUNSUPPORTED) return in_free(in, false);
    if (p2p_stream_write_queued(s) == 0) return in_free(in, true);
    in->closing = true;
}

static void in_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    (void)err;
    in_free(arg, true);
}

static void in_drain(p2p_stream *s, void *arg)
{
    struct kad_in *in = arg;
    if (p2p_stream_write_queued(s) != 0) return;
    if (in->closing) return in_free(in, true);
    p2p_stream_read_start(s);
}

static const struct p2p_stream_handlers in_handlers = { in_read, in_eof, in_error, in_drain };

static void in_timeout(p2p_timer *t, void *arg)
{
    (void)t;
    in_free(arg, false);
}

static void refuse(p2p_stream *s)
{
    p2p_stream_reset(s);
    p2p_stream_close(s);
}

void kad_on_stream(p2p_stream *s, const char *protocol_id, void *arg)
{
    (void)protocol_id;
    struct kad *kd = arg;
    p2p_conn *c = p2p_stream_conn(s);
    if (!c || !kd->started || kd->stopping || !kd->server) return refuse(s);
    const p2p_peerid *peer = p2p_conn_peer(c);
    size_t mine = 0;
    for (struct kad_in *in = kd->ins; in; in = in->next) mine += p2p_peerid_equal(&in->peer, peer);
    char ps[P2P_PEERID_STRMAX];
    if (kd->nins >= kd->max_inbound || mine >= kd->max_inbound_per_peer) {
        p2p_log_debug(MOD, "refusing a stream from %s: %zu open (%zu in all)", kad_peer_str(peer, ps), mine,
                      kd->nins);
        return refuse(s);
    }
    struct kad_in *in = calloc(1, sizeof *in);
    if (in && !(in->timer = p2p_timer_new(kd->host, in_timeout, in))) {
        free(in);
        in = NULL;
    }
    if (!in) return refuse(s);
    in->kd = kd;
    in->s = s;
    in->peer = *peer;
    kad_reader_init(&in->rd, kd->max_message);
    in->next = kd->ins;
    if (kd->ins) kd->ins->prev = in;
    kd->ins = in;
    kd->nins++;
    p2p_stream_set_handlers(s, &in_handlers, in);
    p2p_stream_read_start(s);
    p2p_timer_start(in->timer, kd->inbound_timeout_ms, 0);
}

void kad_in_stop_all(struct kad *kd)
{
    while (kd->ins) in_free(kd->ins, false);
}
