/* conn.c - a connection: its muxer session, inbound stream dispatch to
 * the protocol registry, outbound streams, and its lifetime. A p2p_conn
 * is freed when it is gone (DISCONNECTED emitted) and its last substream
 * has been released, so p2p_stream_conn() never dangles. */
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/log.h"
#include "membudget.h"
#include "stream_internal.h"
#include "swarm.h"

#define MOD "conn"

struct open_req {
    p2p_open_cb cb;
    void *arg;
};

static void maybe_free(p2p_conn *c)
{
    if (c->gone && c->streams == 0 && !c->session) p2p_conn_free(c);
}

static void on_stream_released(void *arg)
{
    p2p_conn *c = arg;
    c->streams--;
    p2p_swarm_metrics_stream(c->host, false, -1);
    if (c->streams == c->idle_streams && !c->idle_since) c->idle_since = uv_now(c->host->loop);
    maybe_free(c);
}

/* A stream's keepalive flag changed (stream.c also reports +1 for a
 * non-keepalive stream just before releasing it, keeping counts exact). */
void p2p_conn_keepalive_changed(p2p_conn *c, int delta)
{
    if (delta < 0) c->idle_streams++;
    else c->idle_streams--;
    if (c->streams == c->idle_streams) {
        if (!c->idle_since) c->idle_since = uv_now(c->host->loop);
    } else {
        c->idle_since = 0;
    }
}


static void adopt(p2p_conn *c, p2p_stream *s, bool inbound)
{
    p2p_stream_set_conn(s, c);
    p2p_stream_set_release_hook(s, on_stream_released, c);
    p2p_swarm_metrics_stream(c->host, inbound, 1);
    c->streams++;
    c->idle_since = 0;
}

static void reap(void *arg);

p2p_conn *p2p_conn_new(p2p_host *h)
{
    p2p_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->host = h;
    c->id = ++h->swarm->next_conn_id;
    p2p_list_init(&c->link);
    p2p_list_init(&c->opens);
    p2p_defer_init(&c->reap, reap, c);
    return c;
}

void p2p_conn_free(p2p_conn *c)
{
    p2p_defer_cancel(c->host, &c->reap);
    if (c->close_timer) p2p_timer_free(c->close_timer);
    if (c->session) c->mux->free(c->session);
    p2p_list_del(&c->link);
    p2p_addr_pair_unref(c->addrs);
    free(c->key);
    free(c);
}

int p2p_conn_set_key(p2p_conn *c, const p2p_pubkey *key)
{
    p2p_pubkey inlined;
    if (p2p_peerid_pubkey(&c->peer, &inlined) == 0 && p2p_pubkey_equal(&inlined, key)) return 0;
    c->key = malloc(sizeof *c->key);
    if (!c->key) return P2P_ENOMEM;
    *c->key = *key;
    return 0;
}

int p2p_conn_key_copy(const p2p_conn *c, p2p_pubkey *out)
{
    if (!c->key) return p2p_peerid_pubkey(&c->peer, out);
    *out = *c->key;
    return 0;
}

/* ---- inbound streams ------------------------------------------------- */

static bool protocol_supported(void *arg, const char *id)
{
    return p2p_protocol_lookup(arg, id, NULL, NULL) == 0;
}

/* Inbound streams in negotiation are counted per connection
 * (max_negotiating_streams): a peer cannot make us hold more of them,
 * with what they buffer, than that. A negotiating stream's release hook
 * uncounts it when it dies in negotiation (the connection is alive until
 * its last stream is released); a successful negotiation uncounts it
 * and puts the ordinary hook back. */
static void on_negotiating_released(void *arg)
{
    p2p_conn *c = arg;
    c->negotiating--;
    on_stream_released(c);
}

static void on_inbound_negotiated(int status, p2p_stream *s, const char *protocol, void *arg)
{
    p2p_host *h = arg;
    if (status) {
        p2p_log_debug(MOD, "inbound stream negotiation failed: %s", p2p_strerror(status));
        return;
    }
    p2p_conn *c = p2p_stream_conn(s);
    c->negotiating--;
    p2p_stream_set_release_hook(s, on_stream_released, c);
    p2p_protocol_handler fn;
    void *harg;
    if (p2p_protocol_lookup(h, protocol, &fn, &harg) != 0) {
        /* Removed while negotiating. */
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    fn(s, protocol, harg);
}

static void on_mux_stream(void *arg, p2p_stream *s)
{
    p2p_conn *c = arg;
    adopt(c, s, true);
    if (c->closing || c->gone || c->host->swarm->stopping) {
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    if (p2p_mem_refuse_stream(c->host, c)) {
        p2p_log_debug(MOD, "conn %llu: resetting an inbound stream: the host is near max_buffered_bytes and "
                      "the connection holds %llu bytes", (unsigned long long)c->id,
                      (unsigned long long)c->buffered);
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    if (c->negotiating >= c->host->swarm->max_negotiating) {
        p2p_log_debug(MOD, "conn %llu: resetting an inbound stream: %zu already negotiating "
                      "(max_negotiating_streams)", (unsigned long long)c->id, c->negotiating);
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    c->negotiating++;
    p2p_stream_set_release_hook(s, on_negotiating_released, c);
    p2p_negotiate_listen(c->host, s, protocol_supported, c->host, c->host->swarm->negotiate_timeout,
                         on_inbound_negotiated, c->host, NULL);
}

static void reap(void *arg)
{
    p2p_conn *c = arg;
    if (c->session) {
        c->mux->free(c->session);
        c->session = NULL;
    }
    maybe_free(c);
}

static void on_mux_close(void *arg, int err)
{
    p2p_conn *c = arg;
    p2p_swarm_conn_closed(c, err);
}

const struct p2p_muxer_events p2p_conn_muxer_events = { on_mux_stream, on_mux_close };

void p2p_conn_start(p2p_conn *c)
{
    c->idle_since = uv_now(c->host->loop);
}

/* Called by the swarm once the conn is out of its list and DISCONNECTED
 * was emitted: the muxer session is freed from the loop (never inside its
 * own callbacks). */
void p2p_conn_kill(p2p_conn *c, int reason)
{
    (void)reason;
    if (!c->gone) p2p_mem_conn_gone(c);
    c->gone = true;
    p2p_defer_schedule(c->host, &c->reap);
}

/* ---- outbound streams ------------------------------------------------ */

static void on_outbound_negotiated(int status, p2p_stream *s, const char *protocol, void *arg)
{
    struct open_req *r = arg;
    (void)protocol;
    r->cb(status, s, r->arg);
    free(r);
}

static void fail_later(void *arg);

struct failed_open {
    struct p2p_defer d;
    p2p_open_cb cb;
    void *arg;
    int status;
};

static void fail_later(void *arg)
{
    struct failed_open *f = arg;
    f->cb(f->status, NULL, f->arg);
    free(f);
}

static int report_later(p2p_host *h, int status, p2p_open_cb cb, void *arg)
{
    struct failed_open *f = calloc(1, sizeof *f);
    if (!f) return P2P_ENOMEM;
    f->cb = cb;
    f->arg = arg;
    f->status = status;
    p2p_defer_init(&f->d, fail_later, f);
    p2p_defer_schedule(h, &f->d);
    return 0;
}

P2P_API int p2p_conn_open_stream(p2p_conn *c, const char *const *protocols, p2p_open_cb cb, void *arg)
{
    if (!protocols || !protocols[0] || !cb) return P2P_EINVAL;
    if (c->closing || c->gone || !c->session) return report_later(c->host, P2P_ECLOSED, cb, arg);
    p2p_stream *s;
    int rc = c->mux->open(c->session, &s);
    if (rc < 0) return report_later(c->host, rc, cb, arg);
    adopt(c, s, false);
    struct open_req *r = malloc(sizeof *r);
    if (!r) {
        p2p_stream_close(s);
        return P2P_ENOMEM;
    }
    r->cb = cb;
    r->arg = arg;
    rc = p2p_negotiate_dial(c->host, s, protocols, c->host->swarm->negotiate_timeout,
                            on_outbound_negotiated, r, NULL);
    if (rc < 0) {
        free(r);
        return rc;
    }
    return 0;
}

static void on_close_timeout(p2p_timer *t, void *arg)
{
    (void)t;
    p2p_conn *c = arg;
    if (!c->gone) {
        p2p_log_debug(MOD, "connection %llu did not close in time; aborting", (unsigned long long)c->id);
        p2p_swarm_conn_abort(c, P2P_ETIMEDOUT);
    }
}

P2P_API void p2p_conn_close(p2p_conn *c)
{
    if (c->closing || c->gone) return;
    c->closing = true;
    if (c->session) c->mux->close(c->session);
    /* Streams get close_timeout to finish; then the connection goes. */
    c->close_timer = p2p_timer_new(c->host, on_close_timeout, c);
    if (c->close_timer) p2p_timer_start(c->close_timer, c->host->swarm->close_timeout, 0);
}

/* ---- accessors ------------------------------------------------------- */

P2P_API uint64_t p2p_conn_id(const p2p_conn *c) { return c->id; }
P2P_API const p2p_peerid *p2p_conn_peer(const p2p_conn *c) { return &c->peer; }
P2P_API const p2p_pubkey *p2p_conn_peer_key(const p2p_conn *c)
{
    if (!c->key) {
        /* Derived from the PeerId on first request and kept (the
         * connection is const to callers, not to itself). */
        p2p_conn *m = (p2p_conn *)c;
        p2p_pubkey *k = malloc(sizeof *k);
        if (!k) return NULL;
        if (p2p_conn_key_copy(c, k) < 0) {   /* cannot happen: set_key kept keys it does not hold */
            free(k);
            return NULL;
        }
        m->key = k;
    }
    return c->key;
}
P2P_API const p2p_multiaddr *p2p_conn_local_addr(const p2p_conn *c) { return p2p_addr_pair_local(c->addrs); }
P2P_API const p2p_multiaddr *p2p_conn_remote_addr(const p2p_conn *c) { return p2p_addr_pair_remote(c->addrs); }
P2P_API enum p2p_direction p2p_conn_direction(const p2p_conn *c) { return c->dir; }
P2P_API bool p2p_conn_limited(const p2p_conn *c) { return c->limited; }
P2P_API const char *p2p_conn_security(const p2p_conn *c) { return c->security; }
P2P_API const char *p2p_conn_muxer(const p2p_conn *c) { return c->muxer; }
P2P_API size_t p2p_conn_stream_count(const p2p_conn *c) { return c->streams; }
