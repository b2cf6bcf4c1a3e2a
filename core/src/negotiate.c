/* negotiate.c - runs a p2p_mss state machine over a p2p_stream, with a
 * timeout, and hands the stream back with any bytes past the negotiation
 * given back through p2p_stream_unread(). */
#include <stdlib.h>
#include <string.h>

#include "negotiate.h"
#include "p2p/error.h"
#include "p2p/log.h"
#include "stream_internal.h"

struct negotiation {
    p2p_host *host;
    p2p_stream *s;
    p2p_mss mss;
    p2p_buf out;
    char **protos;           /* dialer: owned copies */
    size_t nprotos;
    p2p_timer *timer;
    negotiate_cb cb;
    void *arg;
    struct p2p_defer finish; /* deliver the result outside stream callbacks */
    int status;
    bool done;
    bool lazy;               /* p2p_negotiate_dial_lazy: protos[0] is the protocol */
};

static void n_free(struct negotiation *n)
{
    p2p_defer_cancel(n->host, &n->finish);
    if (n->timer) p2p_timer_free(n->timer);
    p2p_buf_free(&n->out);
    for (size_t i = 0; i < n->nprotos; i++) free(n->protos[i]);
    free(n->protos);
    free(n);
}

static void finish_cb(void *arg)
{
    struct negotiation *n = arg;
    p2p_stream *s = n->s;
    int status = n->status;
    char proto[P2P_MSS_MAX_MSG];
    proto[0] = 0;
    if (status == 0) {
        const char *sel = n->lazy ? n->protos[0] : p2p_mss_selected(&n->mss);
        snprintf(proto, sizeof proto, "%s", sel ? sel : "");
        if (p2p_stream_set_protocol(s, proto) != 0) status = P2P_ENOMEM;
    }
    if (status != 0) {
        p2p_stream_close(s);
        s = NULL;
    }
    negotiate_cb cb = n->cb;
    void *arg2 = n->arg;
    n_free(n);
    cb(status, s, proto, arg2);
}

/* Conclude once; the stream is left with reading stopped. */
static void conclude(struct negotiation *n, int status)
{
    if (n->done) return;
    n->done = true;
    n->status = status;
    p2p_stream_read_stop(n->s);
    if (n->timer) p2p_timer_stop(n->timer);
    p2p_defer_schedule(n->host, &n->finish);
}

static int flush(struct negotiation *n)
{
    if (!n->out.len) return 0;
    int rc = p2p_stream_write(n->s, p2p_buf_head(&n->out), n->out.len);
    p2p_buf_reset(&n->out);
    return rc;
}

static void on_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct negotiation *n = arg;
    if (n->done) {
        p2p_stream_unread(s, data, len);
        return;
    }
    size_t used = 0;
    int rc = p2p_mss_feed(&n->mss, data, len, &used, &n->out);
    int wrc = flush(n);
    if (rc == P2P_MSS_DONE) {
        if (used < len && p2p_stream_unread(s, data + used, len - used) != 0) rc = P2P_ENOMEM;
        conclude(n, wrc ? wrc : (rc == P2P_MSS_DONE ? 0 : rc));
    } else if (rc < 0 || wrc < 0) {
        p2p_log_debug("mss", "negotiation failed: %s", p2p_strerror(rc < 0 ? rc : wrc));
        conclude(n, rc < 0 ? rc : wrc);
    }
}

static void on_eof(p2p_stream *s, void *arg)
{
    (void)s;
    conclude(arg, P2P_ECLOSED);
}

static void on_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    struct negotiation *n = arg;
    /* Failed after a successful conclusion but before finish_cb: the
     * stream is dead and its next owner would never hear of it (errors
     * are delivered once), so report the failure instead. */
    if (n->done && n->status == 0) n->status = err;
    conclude(n, err);
}

static void on_timeout(p2p_timer *t, void *arg)
{
    (void)t;
    conclude(arg, P2P_ETIMEDOUT);
}

static const struct p2p_stream_handlers handlers = { on_read, on_eof, on_error, NULL };

static struct negotiation *n_new(p2p_host *h, p2p_stream *s, uint64_t timeout_ms, negotiate_cb cb, void *arg)
{
    struct negotiation *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->host = h;
    n->s = s;
    n->cb = cb;
    n->arg = arg;
    p2p_buf_init(&n->out, 4 * P2P_MSS_MAX_MSG);
    p2p_defer_init(&n->finish, finish_cb, n);
    if (timeout_ms) {
        n->timer = p2p_timer_new(h, on_timeout, n);
        if (!n->timer) {
            free(n);
            return NULL;
        }
        p2p_timer_start(n->timer, timeout_ms, 0);
    }
    return n;
}

static int n_begin(struct negotiation *n, bool dialer, struct negotiation **out)
{
    p2p_stream_set_handlers(n->s, &handlers, n);
    /* A listener sends its header with its first answer (p2p_mss_start is
     * optional for it), so that header and answer are one message. */
    int rc = dialer ? p2p_mss_start(&n->mss, &n->out) : 0;
    if (rc == 0) rc = flush(n);
    if (rc < 0) {
        /* Report through the callback like every other failure. */
        n->done = false;
        conclude(n, rc);
    } else {
        p2p_stream_read_start(n->s);
    }
    if (out) *out = n;
    return 0;
}

int p2p_negotiate_dial(p2p_host *h, p2p_stream *s, const char *const *protocols, uint64_t timeout_ms,
                       negotiate_cb cb, void *arg, struct negotiation **out)
{
    size_t np = 0;
    while (protocols[np]) np++;
    struct negotiation *n = n_new(h, s, timeout_ms, cb, arg);
    if (!n) {
        p2p_stream_close(s);
        return P2P_ENOMEM;
    }
    n->protos = calloc(np ? np : 1, sizeof *n->protos);
    for (size_t i = 0; n->protos && i < np; i++) {
        if (!(n->protos[i] = strdup(protocols[i]))) break;
        n->nprotos++;
    }
    int rc = n->nprotos == np ? p2p_mss_dialer_init(&n->mss, (const char *const *)n->protos, np) : P2P_ENOMEM;
    if (rc < 0) {
        n_free(n);
        p2p_stream_close(s);
        return rc;
    }
    return n_begin(n, true, out);
}

int p2p_negotiate_dial_lazy(p2p_host *h, p2p_stream *s, const char *protocol, negotiate_cb cb, void *arg,
                            struct negotiation **out)
{
    struct negotiation *n = n_new(h, s, 0, cb, arg);
    if (!n) {
        p2p_stream_close(s);
        return P2P_ENOMEM;
    }
    n->lazy = true;
    n->protos = calloc(1, sizeof *n->protos);
    if (n->protos && (n->protos[0] = strdup(protocol))) n->nprotos = 1;
    int rc = n->nprotos ? (p2p_mss_protocol_valid(protocol) ? 0 : P2P_EINVAL) : P2P_ENOMEM;
    if (rc == 0) rc = p2p_stream_mss_lazy(s, protocol, &n->out);
    if (rc < 0) {
        n_free(n);
        p2p_stream_close(s);
        return rc;
    }
    p2p_stream_set_handlers(s, &handlers, n);
    rc = flush(n);
    conclude(n, rc < 0 ? rc : 0);   /* agreed unless the listener says otherwise */
    if (out) *out = n;
    return 0;
}

int p2p_negotiate_listen(p2p_host *h, p2p_stream *s, p2p_mss_supports_fn supports, void *sarg,
                         uint64_t timeout_ms, negotiate_cb cb, void *arg, struct negotiation **out)
{
    struct negotiation *n = n_new(h, s, timeout_ms, cb, arg);
    if (!n) {
        p2p_stream_close(s);
        return P2P_ENOMEM;
    }
    int rc = p2p_mss_listener_init(&n->mss, supports, sarg);
    if (rc < 0) {
        n_free(n);
        p2p_stream_close(s);
        return rc;
    }
    return n_begin(n, false, out);
}

void p2p_negotiate_abort(struct negotiation *n)
{
    if (!n) return;
    p2p_stream_close(n->s);
    n_free(n);
}
