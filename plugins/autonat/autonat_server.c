/* autonat_server.c - the server side: read one DIAL request per stream,
 * decide what may be dialed (autonat_policy.c), dial the requester back
 * at those addresses one after the other with fresh connections
 * (p2p_connect_opts.fresh: a connection to it already exists, the one
 * the request came on), and answer with the spec's status. Everything is
 * bounded: streams being served (max_streams), the time to read the
 * request (read_timeout), the dial-back (dial_timeout), and the number of
 * dial-backs and requests (the limiter). */
#include <stdlib.h>
#include <string.h>

#include "autonat.h"

#define MOD AUTONAT_MOD
#define REQ_OF(l) ((struct srv_req *)(void *)((char *)(l) - offsetof(struct srv_req, link)))

enum req_state { RQ_READING, RQ_DIALING, RQ_FLUSHING };

struct srv_req {
    struct an_link link;             /* in st->reqs while active */
    struct autonat_st *st;
    unsigned refs;                   /* the list's + one per dial in flight */
    bool active;
    enum req_state state;
    p2p_stream *s;
    p2p_peerid peer;
    char peer_str[P2P_PEERID_STRMAX];
    p2p_multiaddr observed;
    bool relayed;
    bool admitted;                   /* holds a limiter slot */
    p2p_buf in;
    p2p_timer *timer;
    p2p_multiaddr addrs[AUTONAT_MAX_ADDRS];
    size_t naddrs, next;
};

static void req_unref(struct srv_req *r)
{
    if (--r->refs) return;
    struct autonat_st *st = r->st;
    free(r);
    autonat_st_unref(st);
}

/* The end of a request, answered or not. */
static void finish(struct srv_req *r)
{
    if (!r->active) return;
    struct autonat_st *st = r->st;
    r->active = false;
    an_list_del(&r->link);
    st->nreqs--;
    if (r->admitted && st->lim_ok) autonat_limiter_done(&st->lim, &r->peer);
    r->admitted = false;
    if (r->s) p2p_stream_close(r->s);   /* resets it if bytes are still queued */
    r->s = NULL;
    if (r->timer) p2p_timer_free(r->timer);
    r->timer = NULL;
    p2p_buf_free(&r->in);
    req_unref(r);
}

static void drop(struct srv_req *r, const char *why)
{
    r->st->stats.streams_dropped++;
    p2p_log_debug(MOD, "dropping a request of %s: %s", r->peer_str, why);
    if (r->s) p2p_stream_reset(r->s);
    finish(r);
}

/* ---- answering ------------------------------------------------------------------ */

static void fl_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s; (void)d; (void)n; (void)arg;   /* whatever the client still sends is ignored */
}

static void fl_eof(p2p_stream *s, void *arg)
{
    if (p2p_stream_write_queued(s) == 0) finish(arg);
}

static void fl_error(p2p_stream *s, int err, void *arg)
{
    (void)s; (void)err;
    finish(arg);
}

static void fl_drain(p2p_stream *s, void *arg)
{
    if (p2p_stream_write_queued(s) == 0) finish(arg);
}

static const struct p2p_stream_handlers flush_handlers = { fl_read, fl_eof, fl_error, fl_drain };

static void respond(struct srv_req *r, uint32_t status, const char *text, const p2p_multiaddr *addr)
{
    struct autonat_st *st = r->st;
    uint8_t frame[AUTONAT_SEND_FRAME_MAX];
    int n = autonat_encode_response(status, text, addr, frame, sizeof frame);
    if (status == AUTONAT_E_DIAL_REFUSED) st->stats.refused++;
    if (status == AUTONAT_E_BAD_REQUEST) st->stats.bad_requests++;
    p2p_log_debug(MOD, "answering %s: %s%s%s", r->peer_str, autonat_status_name(status), text ? " - " : "",
                  text ? text : "");
    if (r->admitted && st->lim_ok) autonat_limiter_done(&st->lim, &r->peer);
    r->admitted = false;
    if (n < 0 || p2p_stream_write(r->s, frame, (size_t)n) < 0) return drop(r, "cannot write the answer");
    int rc = p2p_stream_shutdown(r->s);
    if ((rc < 0 && rc != P2P_EUNSUPPORTED) || p2p_stream_write_queued(r->s) == 0) return finish(r);
    /* Release the stream once the answer is handed on (bounded). */
    r->state = RQ_FLUSHING;
    p2p_stream_set_handlers(r->s, &flush_handlers, r);
    p2p_stream_read_start(r->s);
    p2p_timer_start(r->timer, st->read_timeout_ms, 0);
}

/* ---- dialing back ---------------------------------------------------------------- */

static void dial_next(struct srv_req *r);

static void on_dialed(int status, p2p_conn *c, void *arg)
{
    (void)c;
    struct srv_req *r = arg;
    if (r->active && r->state == RQ_DIALING) {
        const p2p_multiaddr *a = &r->addrs[r->next];
        char as[P2P_MADDR_STRMAX];
        if (p2p_maddr_to_string(a, as, sizeof as) < 0) strcpy(as, "?");
        if (status == 0) {
            r->st->stats.dialbacks_ok++;
            p2p_log_debug(MOD, "dial-back to %s at %s succeeded", r->peer_str, as);
            respond(r, AUTONAT_OK, NULL, a);
        } else {
            p2p_log_debug(MOD, "dial-back to %s at %s failed: %s", r->peer_str, as, p2p_strerror(status));
            r->next++;
            dial_next(r);
        }
    }
    req_unref(r);
}

static void dial_next(struct srv_req *r)
{
    struct autonat_st *st = r->st;
    struct p2p_connect_opts o = P2P_CONNECT_OPTS_INIT;
    o.direct = true;
    o.fresh = true;
    o.timeout_ms = st->dial_timeout_ms;
    while (r->next < r->naddrs) {
        r->refs++;
        int rc = p2p_host_connect_opts(st->h, &r->peer, &r->addrs[r->next], 1, &o, on_dialed, r);
        if (rc == 0) return;
        r->refs--;
        r->next++;
    }
    st->stats.dialbacks_failed++;
    respond(r, AUTONAT_E_DIAL_ERROR, "dial failed", NULL);
}

/* Refusals by the limits: logged at info once per rate window (a flood
 * must not flood the log), each one at debug (respond). */
static void log_limited(struct autonat_st *st, const struct srv_req *r, const char *why)
{
    if (st->limit_logged && st->limit_log_window == st->lim.window_start) return;
    st->limit_logged = true;
    st->limit_log_window = st->lim.window_start;
    p2p_log_info(MOD, "refusing dial-back requests (%s: %s); further refusals in this %llu ms window are logged "
                      "at debug level", r->peer_str, why, (unsigned long long)st->lim.lim.interval_ms);
}

static void handle_request(struct srv_req *r, const struct autonat_msg *m)
{
    struct autonat_st *st = r->st;
    const char *why = NULL;
    st->stats.requests++;
    uint32_t status = autonat_dialback_addrs(&st->policy, st->max_addrs, &r->peer, &r->observed, r->relayed, m,
                                             r->addrs, &r->naddrs, &why);
    if (status != AUTONAT_OK) return respond(r, status, why, NULL);
    if (autonat_limiter_admit(&st->lim, &r->peer, autonat_now(st), &why) < 0) {
        log_limited(st, r, why);
        return respond(r, AUTONAT_E_DIAL_REFUSED, why, NULL);
    }
    r->admitted = true;
    r->state = RQ_DIALING;
    r->next = 0;
    if (p2p_log_enabled(MOD, P2P_LOG_DEBUG)) {
        char list[1024] = "";
        size_t off = 0;
        for (size_t i = 0; i < r->naddrs && off < sizeof list - 2; i++) {
            char a[P2P_MADDR_STRMAX];
            if (p2p_maddr_to_string(&r->addrs[i], a, sizeof a) < 0) strcpy(a, "?");
            off += (size_t)snprintf(list + off, sizeof list - off, " %s", a);
        }
        p2p_log_debug(MOD, "dialing %s back at%s", r->peer_str, list);
    }
    p2p_timer_start(r->timer, st->dial_timeout_ms, 0);
    dial_next(r);
}

/* ---- reading the request ------------------------------------------------------------ */

static void on_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct srv_req *r = arg;
    size_t hdr, body;
    int rc = autonat_take(&r->in, data, len, &hdr, &body);
    if (rc == P2P_ETRUNC) return;
    if (rc < 0) return drop(r, rc == P2P_ERANGE ? "request too large" : "bad length prefix");
    p2p_stream_read_stop(s);
    struct autonat_msg *m = malloc(sizeof *m);
    if (!m) return respond(r, AUTONAT_E_INTERNAL_ERROR, "out of memory", NULL);
    rc = autonat_msg_decode(m, p2p_buf_head(&r->in) + hdr, body);
    if (rc < 0) {
        p2p_log_debug(MOD, "malformed request from %s", r->peer_str);
        respond(r, AUTONAT_E_BAD_REQUEST, "malformed message", NULL);
    } else {
        handle_request(r, m);
    }
    free(m);
}

static void on_eof(p2p_stream *s, void *arg)
{
    (void)s;
    drop(arg, "the stream ended before a request");
}

static void on_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    struct srv_req *r = arg;
    p2p_log_debug(MOD, "stream error from %s: %s", r->peer_str, p2p_strerror(err));
    if (r->s) p2p_stream_reset(r->s);
    finish(r);
}

static const struct p2p_stream_handlers read_handlers = { on_read, on_eof, on_error, NULL };

static void on_timer(p2p_timer *t, void *arg)
{
    (void)t;
    struct srv_req *r = arg;
    switch (r->state) {
    case RQ_READING:
        drop(r, "no request in time");
        break;
    case RQ_DIALING:
        r->st->stats.dialbacks_failed++;
        respond(r, AUTONAT_E_DIAL_ERROR, "dial-back timed out", NULL);
        break;
    case RQ_FLUSHING:
        finish(r);
        break;
    }
}

void autonat_server_on_stream(p2p_stream *s, const char *protocol_id, void *arg)
{
    (void)protocol_id;
    struct autonat_st *st = arg;
    p2p_conn *c = p2p_stream_conn(s);
    struct srv_req *r = NULL;
    if (!st->stopped && c && st->nreqs < st->max_streams) r = calloc(1, sizeof *r);
    if (r && !(r->timer = p2p_timer_new(st->h, on_timer, r))) {
        free(r);
        r = NULL;
    }
    if (!r) {
        st->stats.streams_dropped++;
        p2p_log_debug(MOD, "refusing a %s stream: %s", AUTONAT_PROTOCOL,
                      st->stopped ? "stopping" : !c ? "no connection" : "too many requests being served");
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    r->st = st;
    autonat_st_ref(st);
    r->refs = 1;
    r->active = true;
    r->state = RQ_READING;
    r->s = s;
    r->peer = *p2p_conn_peer(c);
    autonat_peer_str(&r->peer, r->peer_str);
    r->observed = *p2p_conn_remote_addr(c);
    r->relayed = p2p_conn_limited(c);
    p2p_buf_init(&r->in, AUTONAT_FRAME_MAX);
    an_list_add(&st->reqs, &r->link);
    st->nreqs++;
    p2p_timer_start(r->timer, st->read_timeout_ms, 0);
    p2p_stream_set_handlers(s, &read_handlers, r);
    p2p_stream_read_start(s);
}

void autonat_server_stop(struct autonat_st *st)
{
    while (!an_list_empty(&st->reqs)) {
        struct srv_req *r = REQ_OF(st->reqs.next);
        if (r->s) p2p_stream_reset(r->s);
        finish(r);
    }
}
