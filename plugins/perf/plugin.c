/* plugin.c - the perf plugin (/perf/1.0.0): glue binding perf_logic to
 * connections and streams; the service "perf" v1 (p2p/perf.h).
 *
 * Client (always): a run connects, opens one perf stream, writes the
 * 8-byte size and the upload while the stream's queue is empty (resuming
 * on drain; see may_write), half-closes, then counts the
 * download until EOF. Reports come from a timer every report_ms and once
 * at the end.
 *
 * Server (`server = true` only): at most max_streams perf streams at once;
 * each reads the size, drains the upload to EOF (reading never stops, the
 * bytes are only counted), then sends the download with the same
 * back-pressure and half-closes. A stream that makes no progress for
 * idle_timeout is reset. Nothing is buffered beyond the stream's queue:
 * memory per stream is constant. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/conn.h"
#include "p2p/p2p.h"
#include "p2p/perf.h"
#include "perf_logic.h"

#define MOD "perf"
#define CHUNK (64u * 1024u)

struct perfp;

/* Both sides write only while the stream's queue is empty:
 * p2p_stream_write never keeps the caller's buffer, so every byte a
 * stream queues is a copy. With an empty queue each chunk goes down as it
 * is (Yamux's direct output: into the AEAD, no copy), and when the window
 * or the connection is full one chunk at most waits, copied, until the
 * drain, while the socket buffers below keep the connection busy. (A
 * 1 MiB queue copied up to 1 MiB at every window or socket stall.) */
static bool may_write(const p2p_stream *s)
{
    return p2p_stream_write_queued(s) == 0;
}

/* ---- client runs ---------------------------------------------------------- */

/* The connect/open callbacks' ticket: run is NULL once the run is gone. */
struct ticket {
    struct perf_run *run;
};

struct perf_run {
    struct perfp *p;
    uint64_t id;
    p2p_perf_cb cb;
    void *arg;
    p2p_peerid peer;
    bool has_peer;
    p2p_multiaddr addr;
    bool has_addr;
    uint32_t report_ms;
    struct perf_client c;
    struct perf_meter m;
    p2p_stream *s;
    struct ticket *pending;      /* connect or open in flight */
    p2p_timer *timer;
    struct p2p_defer kick;       /* start from the loop */
    uint64_t t0_ns, conn_ns, open_ns, upload_ns, first_ns;
    bool fin_sent;
    struct perf_run *next, *prev;
};

/* ---- server streams --------------------------------------------------------- */

struct perf_in {
    struct perfp *p;
    p2p_stream *s;
    struct perf_server st;
    bool shut;
    uint64_t progress, seen;     /* bytes moved, and at the last idle check */
    struct perf_in *next, *prev;
};

struct perfp {
    p2p_host *host;
    bool server, started;
    uint64_t max_bytes;
    size_t max_streams, nin;
    uint64_t idle_ms;
    uint64_t next_id;
    uint8_t *zeros;              /* CHUNK zero bytes: the payload */
    struct perf_run *runs;
    struct perf_in *ins;
    p2p_timer *idle_timer;
};

static const char *const perf_protos[] = { P2P_PERF_PROTOCOL, NULL };

static uint64_t us_since(uint64_t from_ns, uint64_t to_ns)
{
    return to_ns > from_ns ? (to_ns - from_ns) / 1000u : 0;
}

/* ---- client ------------------------------------------------------------------ */

static void run_fill_latencies(struct perf_run *r, struct p2p_perf_report *rep)
{
    rep->connect_us = r->conn_ns ? us_since(r->t0_ns, r->conn_ns) : 0;
    rep->open_us = r->open_ns ? us_since(r->conn_ns, r->open_ns) : 0;
    rep->upload_us = r->upload_ns ? us_since(r->open_ns, r->upload_ns) : 0;
    rep->first_byte_us = r->first_ns ? us_since(r->upload_ns, r->first_ns) : 0;
}

static void run_unlink(struct perf_run *r)
{
    struct perfp *p = r->p;
    if (r->prev) r->prev->next = r->next;
    else if (p->runs == r) p->runs = r->next;
    if (r->next) r->next->prev = r->prev;
    r->next = r->prev = NULL;
}

/* End a run: release everything, then the final report. */
static void run_finish(struct perf_run *r, int status)
{
    struct perfp *p = r->p;
    uint64_t now = uv_hrtime();
    if (r->s) {
        /* After a clean exchange both directions are closed: close is
         * graceful; otherwise it resets. */
        if (status) p2p_stream_reset(r->s);
        p2p_stream_close(r->s);
        r->s = NULL;
    }
    if (r->pending) r->pending->run = NULL;   /* its callback frees the ticket */
    p2p_defer_cancel(p->host, &r->kick);
    p2p_timer_free(r->timer);
    run_unlink(r);
    struct p2p_perf_report rep;
    memset(&rep, 0, sizeof rep);
    if (r->open_ns) {
        perf_meter_report(&r->m, now / 1000u, r->c.uploaded, r->c.downloaded, true, &rep);
    } else {
        rep.last = true;
    }
    rep.status = status;
    run_fill_latencies(r, &rep);
    p2p_perf_cb cb = r->cb;
    void *arg = r->arg;
    free(r);
    cb(&rep, arg);
}

static void on_report(p2p_timer *t, void *arg)
{
    (void)t;
    struct perf_run *r = arg;
    if (!r->open_ns) return;
    struct p2p_perf_report rep;
    memset(&rep, 0, sizeof rep);
    perf_meter_report(&r->m, uv_hrtime() / 1000u, r->c.uploaded, r->c.downloaded, false, &rep);
    run_fill_latencies(r, &rep);
    r->cb(&rep, r->arg);
}

/* Write while the queue is short; half-close after the upload. */
static void run_pump(struct perf_run *r)
{
    struct perfp *p = r->p;
    uint8_t hdr[PERF_HEADER_SIZE];
    while (!perf_client_upload_done(&r->c) && may_write(r->s)) {
        int rc;
        if (r->c.hdr_sent < PERF_HEADER_SIZE) {
            size_t n = perf_client_produce(&r->c, hdr, sizeof hdr);   /* the header alone */
            rc = p2p_stream_write(r->s, hdr, n);
        } else {
            size_t n = perf_client_produce_zero(&r->c, p->zeros, CHUNK);
            rc = p2p_stream_write(r->s, p->zeros, n);
        }
        if (rc < 0) return run_finish(r, rc);
    }
    if (perf_client_upload_done(&r->c) && !r->fin_sent) {
        r->fin_sent = true;
        r->upload_ns = uv_hrtime();
        int rc = p2p_stream_shutdown(r->s);
        if (rc < 0) return run_finish(r, rc);
    }
}

static void run_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    (void)data;
    struct perf_run *r = arg;
    if (len && !r->first_ns) r->first_ns = uv_hrtime();
    int rc = perf_client_feed(&r->c, len);
    if (rc < 0) run_finish(r, rc);
}

static void run_eof(p2p_stream *s, void *arg)
{
    (void)s;
    struct perf_run *r = arg;
    /* The server closes only after our upload reached it: ours is done. */
    int rc = perf_client_eof(&r->c);
    if (rc == 0 && !r->fin_sent) rc = P2P_EPROTO;
    run_finish(r, rc);
}

static void run_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    run_finish(arg, err);
}

static void run_drain(p2p_stream *s, void *arg)
{
    (void)s;
    struct perf_run *r = arg;
    if (!r->fin_sent) run_pump(r);
}

static const struct p2p_stream_handlers run_handlers = { run_read, run_eof, run_error, run_drain };

static void on_open(int status, p2p_stream *s, void *arg)
{
    struct ticket *t = arg;
    struct perf_run *r = t->run;
    free(t);
    if (!r) {
        if (s) p2p_stream_close(s);
        return;
    }
    r->pending = NULL;
    if (status) return run_finish(r, status);
    r->s = s;
    r->open_ns = uv_hrtime();
    perf_meter_init(&r->m, r->open_ns / 1000u);
    p2p_stream_set_handlers(s, &run_handlers, r);
    p2p_stream_read_start(s);
    if (r->report_ms) p2p_timer_start(r->timer, r->report_ms, r->report_ms);
    run_pump(r);
}

static void on_connected(int status, p2p_conn *c, void *arg)
{
    struct ticket *t = arg;
    struct perf_run *r = t->run;
    if (!r) {
        free(t);
        return;
    }
    r->conn_ns = uv_hrtime();
    if (status == 0 && !r->p->started) status = P2P_ECANCELED;
    if (status == 0) status = p2p_conn_open_stream(c, perf_protos, on_open, t);
    if (status) {
        r->pending = NULL;
        free(t);
        run_finish(r, status);
    }
}

static void run_kick(void *arg)
{
    struct perf_run *r = arg;
    struct ticket *t = malloc(sizeof *t);
    if (!t) return run_finish(r, P2P_ENOMEM);
    t->run = r;
    r->pending = t;
    int rc = p2p_host_connect(r->p->host, r->has_peer ? &r->peer : NULL, r->has_addr ? &r->addr : NULL,
                              r->has_addr ? 1 : 0, on_connected, t);
    if (rc < 0) {
        r->pending = NULL;
        free(t);
        run_finish(r, rc);
    }
}

/* The last component of addr, if it is /p2p/: the peer, popped off. */
static int split_peer(p2p_multiaddr *addr, p2p_peerid *peer, bool *has)
{
    size_t off = 0;
    struct p2p_maddr_component comp, last = { 0 };
    bool any = false;
    while (p2p_maddr_next(addr, &off, &comp) == 1) {
        last = comp;
        any = true;
    }
    *has = false;
    if (!any || last.code != P2P_MA_P2P) return 0;
    if (p2p_peerid_from_bytes(peer, last.value, last.value_len) != 0) return P2P_EINVAL;
    *has = true;
    p2p_maddr_pop(addr);
    return 0;
}

static int svc_run(void *state, const p2p_peerid *peer, const p2p_multiaddr *addr,
                   const struct p2p_perf_params *params, p2p_perf_cb cb, void *arg, uint64_t *id)
{
    struct perfp *p = state;
    if (!cb || !params || (!peer && !addr)) return P2P_EINVAL;
    if (!p->started) return P2P_ECLOSED;
    struct perf_run *r = calloc(1, sizeof *r);
    if (!r) return P2P_ENOMEM;
    r->p = p;
    if (addr) {
        p2p_peerid in_addr;
        bool has = false;
        r->addr = *addr;
        r->has_addr = true;
        if (split_peer(&r->addr, &in_addr, &has) != 0 || (has && peer && !p2p_peerid_equal(peer, &in_addr))) {
            free(r);
            return P2P_EINVAL;
        }
        if (has) {
            r->peer = in_addr;
            r->has_peer = true;
        }
    }
    if (peer) {
        r->peer = *peer;
        r->has_peer = true;
    }
    if (r->has_peer && p2p_peerid_equal(&r->peer, p2p_host_peerid(p->host))) {
        free(r);
        return P2P_EINVAL;
    }
    if (!(r->timer = p2p_timer_new(p->host, on_report, r))) {
        free(r);
        return P2P_ENOMEM;
    }
    r->cb = cb;
    r->arg = arg;
    r->id = ++p->next_id;
    r->report_ms = params->report_ms;
    perf_client_init(&r->c, params->upload_bytes, params->download_bytes);
    r->t0_ns = uv_hrtime();
    p2p_defer_init(&r->kick, run_kick, r);
    r->next = p->runs;
    if (p->runs) p->runs->prev = r;
    p->runs = r;
    p2p_defer_schedule(p->host, &r->kick);   /* cb never inside run() */
    if (id) *id = r->id;
    return 0;
}

static int svc_cancel(void *state, uint64_t id)
{
    struct perfp *p = state;
    for (struct perf_run *r = p->runs; r; r = r->next) {
        if (r->id == id) {
            run_finish(r, P2P_ECANCELED);
            return 0;
        }
    }
    return P2P_ENOTFOUND;
}

static const struct p2p_perf_api_v1 perf_api = { svc_run, svc_cancel };

/* ---- server ------------------------------------------------------------------- */

static void in_free(struct perf_in *in, bool reset)
{
    struct perfp *p = in->p;
    if (in->s) {
        if (reset) p2p_stream_reset(in->s);
        p2p_stream_close(in->s);
    }
    if (in->prev) in->prev->next = in->next;
    else if (p->ins == in) p->ins = in->next;
    if (in->next) in->next->prev = in->prev;
    p->nin--;
    if (!p->nin && p->idle_timer) p2p_timer_stop(p->idle_timer);
    free(in);
}

static void in_fail(struct perf_in *in, int err)
{
    p2p_log_debug(MOD, "perf stream failed: %s", p2p_strerror(err));
    in_free(in, true);
}

/* Send the download while the queue is short; half-close at the end and
 * release once the queue is empty. */
static void in_pump(struct perf_in *in)
{
    struct perfp *p = in->p;
    size_t n;
    while (may_write(in->s) && (n = perf_server_next(&in->st, CHUNK))) {
        int rc = p2p_stream_write(in->s, p->zeros, n);
        if (rc < 0) return in_fail(in, rc);
        perf_server_sent(&in->st, n);
        in->progress += n;
    }
    if (in->st.phase != PERF_SRV_DONE) return;
    if (!in->shut) {
        in->shut = true;
        int rc = p2p_stream_shutdown(in->s);
        if (rc < 0) return in_fail(in, rc);
    }
    if (p2p_stream_write_queued(in->s) == 0) {
        p2p_log_debug(MOD, "perf stream done: %llu bytes in, %llu out", (unsigned long long)in->st.received,
                      (unsigned long long)in->st.sent);
        in_free(in, false);
    }
}

static void in_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    struct perf_in *in = arg;
    int rc = perf_server_feed(&in->st, data, len);
    if (rc < 0) return in_fail(in, rc);
    in->progress += len;
}

static void in_eof(p2p_stream *s, void *arg)
{
    (void)s;
    struct perf_in *in = arg;
    int rc = perf_server_eof(&in->st);
    if (rc < 0) return in_fail(in, rc);
    in_pump(in);
}

static void in_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    struct perf_in *in = arg;
    p2p_log_debug(MOD, "perf stream: %s", p2p_strerror(err));
    in_free(in, false);
}

static void in_drain(p2p_stream *s, void *arg)
{
    (void)s;
    struct perf_in *in = arg;
    if (in->st.phase >= PERF_SRV_SEND) in_pump(in);
}

static const struct p2p_stream_handlers in_handlers = { in_read, in_eof, in_error, in_drain };

/* Every idle_timeout: reset the streams that moved no byte since the
 * previous check. */
static void on_idle_check(p2p_timer *t, void *arg)
{
    (void)t;
    struct perfp *p = arg;
    struct perf_in *in = p->ins, *next;
    for (; in; in = next) {
        next = in->next;
        if (in->progress == in->seen) {
            p2p_log_debug(MOD, "perf stream idle: reset");
            in_free(in, true);
        } else {
            in->seen = in->progress;
        }
    }
}

static void on_perf_stream(p2p_stream *s, const char *protocol_id, void *arg)
{
    (void)protocol_id;
    struct perfp *p = arg;
    if (!p->started || p->nin >= p->max_streams) {
        if (p->started) p2p_log_debug(MOD, "refusing a perf stream: %zu already open", p->nin);
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    struct perf_in *in = calloc(1, sizeof *in);
    if (!in) {
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    in->p = p;
    in->s = s;
    perf_server_init(&in->st, p->max_bytes);
    in->next = p->ins;
    if (p->ins) p->ins->prev = in;
    p->ins = in;
    if (!p->nin++ && p->idle_ms) p2p_timer_start(p->idle_timer, p->idle_ms, p->idle_ms);
    p2p_stream_set_handlers(s, &in_handlers, in);
    p2p_stream_read_start(s);
}

/* ---- lifecycle ------------------------------------------------------------------ */

static int perf_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct perfp *p = calloc(1, sizeof *p);
    if (!p) return P2P_ENOMEM;
    p->host = h;
    p->server = p2p_conf_bool(cf, "server");
    p->max_streams = (size_t)p2p_conf_int(cf, "max_streams");
    p->max_bytes = p2p_conf_size(cf, "max_bytes");
    p->idle_ms = p2p_conf_duration_ms(cf, "idle_timeout");
    p->zeros = calloc(1, CHUNK);
    if (!p->zeros) {
        free(p);
        return P2P_ENOMEM;
    }
    int rc = 0;
    if (p->server && (rc = p2p_protocol_add(h, P2P_PERF_PROTOCOL, on_perf_stream, p)) < 0) {
        p2p_host_set_error(h, "cannot register %s: %s", P2P_PERF_PROTOCOL, p2p_strerror(rc));
        goto fail;
    }
    if ((rc = p2p_service_provide(h, P2P_PERF_SERVICE, 1, &perf_api, p)) < 0) {
        p2p_host_set_error(h, "cannot provide the perf service: %s", p2p_strerror(rc));
        if (p->server) p2p_protocol_remove(h, P2P_PERF_PROTOCOL);
        goto fail;
    }
    *state = p;
    return 0;
fail:
    free(p->zeros);
    free(p);
    return rc;
}

static int perf_start(void *state)
{
    struct perfp *p = state;
    if (p->server && !(p->idle_timer = p2p_timer_new(p->host, on_idle_check, p))) {
        p2p_host_set_error(p->host, "out of memory");
        return P2P_ENOMEM;
    }
    p->started = true;
    if (p->server)
        p2p_log_info(MOD, "perf server on (%s): any peer may ask this node to send or receive data",
                     P2P_PERF_PROTOCOL);
    return 0;
}

static void perf_stop(void *state)
{
    struct perfp *p = state;
    if (!p->started) return;
    p->started = false;
    while (p->runs) run_finish(p->runs, P2P_ECANCELED);
    while (p->ins) in_free(p->ins, true);
    if (p->idle_timer) p2p_timer_free(p->idle_timer);
    p->idle_timer = NULL;
}

static void perf_fini(void *state)
{
    struct perfp *p = state;
    perf_stop(p);
    p2p_service_withdraw(p->host, P2P_PERF_SERVICE, 1);
    if (p->server) p2p_protocol_remove(p->host, P2P_PERF_PROTOCOL);
    free(p->zeros);
    free(p);
}

static const struct p2p_conf_key perf_keys[] = {
    { "server", P2P_CONF_BOOL, "false", 0, 0, NULL,
      "serve /perf/1.0.0: any peer may then make this node send and receive data (the spec: not on by default)" },
    { "max_streams", P2P_CONF_INT, "16", 1, 4096, NULL, "perf streams served at once (more are reset)" },
    { "max_bytes", P2P_CONF_SIZE, "0", 0, 0, NULL,
      "largest upload accepted and download sent per stream (0 = no limit)" },
    { "idle_timeout", P2P_CONF_DURATION, "60s", 0, 86400000, NULL,
      "reset a served perf stream that moves no byte for this long (0 = never)" },
    P2P_CONF_KEYS_END
};

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "perf",
    .version = "1.0.0",
    .description = "libp2p perf (/perf/1.0.0): throughput measurement client, optional server",
    .requires = NULL,
    .config = perf_keys,
    .init = perf_init,
    .start = perf_start,
    .stop = perf_stop,
    .fini = perf_fini,
});
