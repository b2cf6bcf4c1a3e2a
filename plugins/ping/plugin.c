/* plugin.c - the ping plugin (/ipfs/ping/1.0.0): glue binding ping_logic
 * to connections, streams, timers and the peer store; the service
 * "ping" v1 (p2p/ping.h).
 *
 * Outbound: one ping stream per connection, opened at the first ping and
 * reused (the spec allows one outbound ping stream per peer: only the
 * connection p2p_host_conn_to() picks for the peer is pinged; pings of a
 * connection that is being replaced stop). A round is: open the stream if
 * needed, write 32 random bytes, read the echo; the timeout covers the
 * whole round. Periodic rounds run every `interval` on unlimited
 * connections; on-demand rounds (the service) queue on the same stream.
 * A failed round resets the stream (the next round opens a new one),
 * fails the queued on-demand pings, and counts towards max_failures.
 *
 * Inbound: every complete 32-byte payload is echoed; at most
 * max_inbound_streams streams per peer (the spec: "SHOULD accept at most
 * two"); a stream idle for inbound_timeout is reset (go-libp2p: 60 s). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "p2p/conn.h"
#include "p2p/p2p.h"
#include "p2p/ping.h"
#include "ping_logic.h"

#define MOD "ping"
#define PING_MAX_COUNT 1000
#define PING_IN_HIGH_WATER 4096   /* echo bytes queued before we stop reading */

struct pingp;
struct pconn;

/* An on-demand ping (service). */
struct preq {
    struct pingp *p;
    p2p_ping_cb cb;
    void *arg;
    unsigned remaining;
    struct preq *next;           /* in a pconn's queue or the connecting list */
};

/* The open callback's ticket: pc is NULL once the pconn is gone. */
struct popen {
    struct pconn *pc;
};

struct pconn {
    struct pingp *p;
    p2p_conn *conn;
    uint64_t conn_id;
    p2p_peerid peer;
    bool limited;
    p2p_stream *s;               /* outbound ping stream */
    struct popen *open;          /* open in flight */
    bool in_round;               /* a round is under way (opening or echo awaited) */
    bool unsupported;            /* the peer refused /ipfs/ping/1.0.0 */
    struct ping_probe probe;
    uint64_t sent_ns;
    struct ping_health health;
    p2p_timer *timer;            /* next periodic round, or the running round's timeout */
    struct p2p_defer kick;       /* start a round from the loop */
    struct preq *reqs, *reqs_tail;
    struct pconn *next, *prev;
};

/* An inbound ping stream. */
struct pin {
    struct pingp *p;
    p2p_stream *s;
    uint64_t conn_id;
    p2p_peerid peer;
    struct ping_echo echo;
    p2p_timer *timer;
    bool closing;
    struct pin *next, *prev;
};

struct pingp {
    p2p_host *host;
    uint64_t interval_ms, timeout_ms, inbound_timeout_ms;
    unsigned max_failures;
    size_t max_inbound;
    bool periodic, started;
    p2p_subscription *sub;
    struct pconn *conns;
    struct pin *ins;
    struct preq *connecting;     /* on-demand pings waiting for a connection */
};

static const char *const ping_protos[] = { P2P_PING_PROTOCOL, NULL };

static const char *peer_str(const p2p_peerid *id, char buf[P2P_PEERID_STRMAX])
{
    if (p2p_peerid_to_string(id, buf, P2P_PEERID_STRMAX) < 0) snprintf(buf, P2P_PEERID_STRMAX, "?");
    return buf;
}

static struct pconn *find_pc(struct pingp *p, const p2p_conn *c)
{
    for (struct pconn *pc = p->conns; pc; pc = pc->next)
        if (pc->conn == c) return pc;
    return NULL;
}

static struct pconn *find_pc_id(struct pingp *p, uint64_t conn_id)
{
    for (struct pconn *pc = p->conns; pc; pc = pc->next)
        if (pc->conn_id == conn_id) return pc;
    return NULL;
}

/* Fail a list of requests (already detached from any pconn). */
static void fail_reqs(struct preq *r, int status)
{
    while (r) {
        struct preq *next = r->next;
        r->cb(status, 0, true, r->arg);
        free(r);
        r = next;
    }
}

static void enqueue(struct pconn *pc, struct preq *r)
{
    r->next = NULL;
    if (pc->reqs_tail) pc->reqs_tail->next = r;
    else pc->reqs = r;
    pc->reqs_tail = r;
}

static struct preq *detach_reqs(struct pconn *pc)
{
    struct preq *r = pc->reqs;
    pc->reqs = pc->reqs_tail = NULL;
    return r;
}

/* ---- outbound rounds ----------------------------------------------------- */

static void round_start(struct pconn *pc);
static const struct p2p_stream_handlers out_handlers;

static void drop_stream(struct pconn *pc)
{
    if (pc->s) {
        p2p_stream_reset(pc->s);
        p2p_stream_close(pc->s);
        pc->s = NULL;
    }
    if (pc->open) {
        pc->open->pc = NULL;   /* the open callback releases what it gets */
        pc->open = NULL;
    }
    ping_probe_init(&pc->probe);
    pc->in_round = false;
}

static void schedule_next(struct pconn *pc)
{
    if (pc->reqs) {
        p2p_timer_stop(pc->timer);
        p2p_defer_schedule(pc->p->host, &pc->kick);
    } else if (pc->p->periodic && !pc->limited && !pc->unsupported) {
        p2p_timer_start(pc->timer, pc->p->interval_ms, 0);
    } else {
        p2p_timer_stop(pc->timer);
    }
}

/* The round failed: reset the stream, fail the waiting requests, apply the
 * failure policy. pc may be gone when this returns. */
static void round_failed(struct pconn *pc, int err)
{
    struct pingp *p = pc->p;
    char ps[P2P_PEERID_STRMAX];
    peer_str(&pc->peer, ps);
    uint64_t conn_id = pc->conn_id;
    drop_stream(pc);
    bool close = false;
    if (err == P2P_ENEGOTIATE) {
        pc->unsupported = true;
        p2p_log_debug(MOD, "%s does not support %s", ps, P2P_PING_PROTOCOL);
    } else {
        close = ping_health_record(&pc->health, false);
        p2p_log_debug(MOD, "ping to %s failed (%u in a row): %s", ps, pc->health.failures, p2p_strerror(err));
    }
    struct preq *reqs = detach_reqs(pc);
    schedule_next(pc);
    fail_reqs(reqs, err);   /* callbacks may close connections: pc is looked up again */
    if (close && (pc = find_pc_id(p, conn_id))) {
        p2p_log_info(MOD, "closing the connection to %s after %u failed pings", ps, pc->health.failures);
        p2p_conn_close(pc->conn);
    }
}

static void round_done(struct pconn *pc)
{
    struct pingp *p = pc->p;
    uint64_t rtt = ping_rtt_us(pc->sent_ns, uv_hrtime());
    pc->in_round = false;
    ping_health_record(&pc->health, true);
    char ps[P2P_PEERID_STRMAX];
    p2p_log_debug(MOD, "%s: rtt %llu us", peer_str(&pc->peer, ps), (unsigned long long)rtt);
    p2p_peerstore_set_rtt(p->host, &pc->peer, rtt);
    struct preq *r = pc->reqs;
    if (r && --r->remaining == 0) {
        pc->reqs = r->next;
        if (!pc->reqs) pc->reqs_tail = NULL;
    }
    schedule_next(pc);
    if (r) {
        bool last = r->remaining == 0;
        r->cb(0, rtt, last, r->arg);
        if (last) free(r);
    }
}

static void send_payload(struct pconn *pc)
{
    uint8_t payload[PING_SIZE];
    if (getrandom(payload, sizeof payload, 0) != (ssize_t)sizeof payload) {
        /* Cannot happen for 32 bytes once the pool is initialised; the
         * payload only needs to be unpredictable enough to detect stale
         * echoes, so fall back to the clock. */
        uint64_t t = uv_hrtime();
        for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(t >> (8 * (i % 8))) ^ (uint8_t)i;
    }
    ping_probe_start(&pc->probe, payload);
    pc->sent_ns = uv_hrtime();
    int rc = p2p_stream_write(pc->s, payload, sizeof payload);
    if (rc < 0) round_failed(pc, rc);
}

static void on_open(int status, p2p_stream *s, void *arg)
{
    struct popen *t = arg;
    struct pconn *pc = t->pc;
    free(t);
    if (!pc) {
        if (s) p2p_stream_close(s);
        return;
    }
    pc->open = NULL;
    if (status) return round_failed(pc, status);
    pc->s = s;
    /* Pings measure, they are not activity: idle_timeout still applies. */
    p2p_stream_set_keepalive(s, false);
    p2p_stream_set_handlers(s, &out_handlers, pc);
    p2p_stream_read_start(s);
    send_payload(pc);
}

static void round_start(struct pconn *pc)
{
    struct pingp *p = pc->p;
    if (pc->in_round || !p->started) return;
    if (pc->unsupported) {
        fail_reqs(detach_reqs(pc), P2P_ENEGOTIATE);
        return;
    }
    /* One outbound ping stream per peer: only its preferred connection. */
    if (p2p_host_conn_to(p->host, &pc->peer) != pc->conn) {
        drop_stream(pc);
        p2p_timer_stop(pc->timer);
        fail_reqs(detach_reqs(pc), P2P_ECLOSED);
        return;
    }
    pc->in_round = true;
    p2p_timer_start(pc->timer, p->timeout_ms, 0);
    if (pc->s) return send_payload(pc);
    struct popen *t = malloc(sizeof *t);
    if (!t) return round_failed(pc, P2P_ENOMEM);
    t->pc = pc;
    pc->open = t;
    int rc = p2p_conn_open_stream(pc->conn, ping_protos, on_open, t);
    if (rc < 0) {
        pc->open = NULL;
        free(t);
        round_failed(pc, rc);
    }
}

static void on_kick(void *arg)
{
    round_start(arg);
}

static void on_timer(p2p_timer *t, void *arg)
{
    (void)t;
    struct pconn *pc = arg;
    if (pc->in_round) round_failed(pc, P2P_ETIMEDOUT);
    else round_start(pc);
}

static void out_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    struct pconn *pc = arg;
    int rc = ping_probe_feed(&pc->probe, data, len);
    if (rc == PING_MATCH) round_done(pc);
    else if (rc < 0) round_failed(pc, rc);
}

static void out_end(struct pconn *pc, int err)
{
    if (pc->in_round) return round_failed(pc, err);
    /* The peer closed an idle stream (go-libp2p does after 60 s without a
     * ping): the next round opens a new one. */
    drop_stream(pc);
}

static void out_eof(p2p_stream *s, void *arg)
{
    (void)s;
    out_end(arg, P2P_ECLOSED);
}

static void out_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    out_end(arg, err);
}

static const struct p2p_stream_handlers out_handlers = { out_read, out_eof, out_error, NULL };

/* ---- connections ------------------------------------------------------------ */

static void conn_add(struct pingp *p, p2p_conn *c)
{
    if (find_pc(p, c)) return;
    struct pconn *pc = calloc(1, sizeof *pc);
    if (pc) pc->timer = p2p_timer_new(p->host, on_timer, pc);
    if (!pc || !pc->timer) {
        free(pc);
        p2p_log_warn(MOD, "out of memory: connection %llu will not be pinged", (unsigned long long)p2p_conn_id(c));
        return;
    }
    pc->p = p;
    pc->conn = c;
    pc->conn_id = p2p_conn_id(c);
    pc->peer = *p2p_conn_peer(c);
    pc->limited = p2p_conn_limited(c);
    pc->health.max_failures = p->max_failures;
    ping_probe_init(&pc->probe);
    p2p_defer_init(&pc->kick, on_kick, pc);
    pc->next = p->conns;
    if (p->conns) p->conns->prev = pc;
    p->conns = pc;
    /* The first periodic ping right away (from the loop), as rust-libp2p. */
    if (p->periodic && !pc->limited) p2p_timer_start(pc->timer, 0, 0);
}

static void conn_drop(struct pingp *p, struct pconn *pc, int status)
{
    drop_stream(pc);
    p2p_defer_cancel(p->host, &pc->kick);
    p2p_timer_free(pc->timer);
    if (pc->prev) pc->prev->next = pc->next;
    else if (p->conns == pc) p->conns = pc->next;
    if (pc->next) pc->next->prev = pc->prev;
    struct preq *reqs = detach_reqs(pc);
    free(pc);
    fail_reqs(reqs, status);
}

/* ---- inbound ----------------------------------------------------------------- */

static void pin_free(struct pin *in)
{
    struct pingp *p = in->p;
    if (in->s) {
        p2p_stream_reset(in->s);
        p2p_stream_close(in->s);
    }
    p2p_timer_free(in->timer);
    if (in->prev) in->prev->next = in->next;
    else if (p->ins == in) p->ins = in->next;
    if (in->next) in->next->prev = in->prev;
    free(in);
}

static void pin_release(struct pin *in)
{
    p2p_stream_close(in->s);
    in->s = NULL;
    pin_free(in);
}

static void in_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct pin *in = arg;
    p2p_buf out;
    p2p_buf_init(&out, 0);
    int rc = ping_echo_feed(&in->echo, data, len, &out);
    if (rc > 0) rc = p2p_stream_write(s, p2p_buf_head(&out), out.len);
    p2p_buf_free(&out);
    if (rc < 0) {
        p2p_log_debug(MOD, "inbound ping stream failed: %s", p2p_strerror(rc));
        return pin_free(in);
    }
    p2p_timer_start(in->timer, in->p->inbound_timeout_ms, 0);
    if (p2p_stream_write_queued(s) > PING_IN_HIGH_WATER) p2p_stream_read_stop(s);
}

static void in_eof(p2p_stream *s, void *arg)
{
    struct pin *in = arg;
    /* The dialer is done: finish writing the echoes, then close. */
    int rc = p2p_stream_shutdown(s);
    if (rc < 0 && rc != P2P_EUNSUPPORTED) return pin_free(in);
    if (p2p_stream_write_queued(s) == 0) return pin_release(in);
    in->closing = true;
}

static void in_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    (void)err;
    pin_release(arg);
}

static void in_drain(p2p_stream *s, void *arg)
{
    struct pin *in = arg;
    if (p2p_stream_write_queued(s) != 0) return;
    if (in->closing) return pin_release(in);
    p2p_stream_read_start(s);
}

static const struct p2p_stream_handlers in_handlers = { in_read, in_eof, in_error, in_drain };

static void in_timeout(p2p_timer *t, void *arg)
{
    (void)t;
    struct pin *in = arg;
    char ps[P2P_PEERID_STRMAX];
    p2p_log_debug(MOD, "inbound ping stream from %s idle: reset", peer_str(&in->peer, ps));
    pin_free(in);
}

static void on_ping_stream(p2p_stream *s, const char *protocol_id, void *arg)
{
    (void)protocol_id;
    struct pingp *p = arg;
    p2p_conn *c = p2p_stream_conn(s);
    if (!c || !p->started) {
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    const p2p_peerid *peer = p2p_conn_peer(c);
    size_t open = 0;
    for (struct pin *in = p->ins; in; in = in->next)
        if (p2p_peerid_equal(&in->peer, peer)) open++;
    if (open >= p->max_inbound) {
        char ps[P2P_PEERID_STRMAX];
        p2p_log_debug(MOD, "refusing a ping stream from %s: %zu already open", peer_str(peer, ps), open);
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    struct pin *in = calloc(1, sizeof *in);
    if (in) in->timer = p2p_timer_new(p->host, in_timeout, in);
    if (!in || !in->timer) {
        free(in);
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    in->p = p;
    in->s = s;
    in->conn_id = p2p_conn_id(c);
    in->peer = *peer;
    ping_echo_init(&in->echo);
    in->next = p->ins;
    if (p->ins) p->ins->prev = in;
    p->ins = in;
    p2p_stream_set_keepalive(s, false);
    p2p_stream_set_handlers(s, &in_handlers, in);
    p2p_stream_read_start(s);
    p2p_timer_start(in->timer, p->inbound_timeout_ms, 0);
}

/* ---- events, service, lifecycle ------------------------------------------------ */

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct pingp *p = arg;
    struct pconn *pc;
    if (ev->type == P2P_EV_CONNECTED) {
        conn_add(p, ev->conn);
    } else if (ev->type == P2P_EV_DISCONNECTED) {
        uint64_t id = p2p_conn_id(ev->conn);
        struct pin *in = p->ins, *next;
        for (; in; in = next) {
            next = in->next;
            if (in->conn_id == id) pin_free(in);
        }
        if ((pc = find_pc(p, ev->conn))) conn_drop(p, pc, P2P_ECLOSED);
    }
}

static void on_connected(int status, p2p_conn *c, void *arg)
{
    struct preq *r = arg;
    struct pingp *p = r->p;
    for (struct preq **pp = &p->connecting; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    r->next = NULL;
    struct pconn *pc = NULL;
    if (status == 0 && !p->started) status = P2P_ECANCELED;
    if (status == 0 && !(pc = find_pc(p, c))) status = P2P_ECLOSED;
    if (status) return fail_reqs(r, status);
    enqueue(pc, r);
    round_start(pc);
}

static int svc_ping(void *state, const p2p_peerid *peer, unsigned count, p2p_ping_cb cb, void *arg)
{
    struct pingp *p = state;
    if (!peer || !cb || count == 0 || count > PING_MAX_COUNT) return P2P_EINVAL;
    if (p2p_peerid_equal(peer, p2p_host_peerid(p->host))) return P2P_EINVAL;
    if (!p->started) return P2P_ECLOSED;
    struct preq *r = calloc(1, sizeof *r);
    if (!r) return P2P_ENOMEM;
    r->p = p;
    r->cb = cb;
    r->arg = arg;
    r->remaining = count;
    p2p_conn *c = p2p_host_conn_to(p->host, peer);
    struct pconn *pc = c ? find_pc(p, c) : NULL;
    if (pc) {
        enqueue(pc, r);
        if (!pc->in_round) p2p_defer_schedule(p->host, &pc->kick);   /* cb never inside ping() */
        return 0;
    }
    r->next = p->connecting;
    p->connecting = r;
    int rc = p2p_host_connect(p->host, peer, NULL, 0, on_connected, r);
    if (rc < 0) {
        p->connecting = r->next;
        free(r);
    }
    return rc;
}

static const struct p2p_ping_api_v1 ping_api = { svc_ping };

static int ping_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct pingp *p = calloc(1, sizeof *p);
    if (!p) return P2P_ENOMEM;
    p->host = h;
    p->interval_ms = p2p_conf_duration_ms(cf, "interval");
    p->timeout_ms = p2p_conf_duration_ms(cf, "timeout");
    p->inbound_timeout_ms = p2p_conf_duration_ms(cf, "inbound_timeout");
    p->max_failures = (unsigned)p2p_conf_int(cf, "max_failures");
    p->max_inbound = (size_t)p2p_conf_int(cf, "max_inbound_streams");
    p->periodic = p2p_conf_bool(cf, "periodic");
    int rc = p2p_protocol_add(h, P2P_PING_PROTOCOL, on_ping_stream, p);
    if (rc < 0) {
        p2p_host_set_error(h, "cannot register %s: %s", P2P_PING_PROTOCOL, p2p_strerror(rc));
        free(p);
        return rc;
    }
    rc = p2p_service_provide(h, P2P_PING_SERVICE, 1, &ping_api, p);
    if (rc < 0) {
        p2p_host_set_error(h, "cannot provide the ping service: %s", p2p_strerror(rc));
        p2p_protocol_remove(h, P2P_PING_PROTOCOL);
        free(p);
        return rc;
    }
    *state = p;
    return 0;
}

static int ping_start(void *state)
{
    struct pingp *p = state;
    p->sub = p2p_host_subscribe(p->host, P2P_EV_CONNECTED | P2P_EV_DISCONNECTED, on_event, p);
    if (!p->sub) {
        p2p_host_set_error(p->host, "out of memory");
        return P2P_ENOMEM;
    }
    p->started = true;
    p2p_conn *cs[64];
    size_t n = p2p_host_conns(p->host, cs, 64);
    for (size_t i = 0; i < n && i < 64; i++) conn_add(p, cs[i]);
    return 0;
}

static void ping_stop(void *state)
{
    struct pingp *p = state;
    if (!p->started) return;
    p->started = false;
    p2p_host_unsubscribe(p->host, p->sub);
    p->sub = NULL;
    while (p->conns) conn_drop(p, p->conns, P2P_ECANCELED);
    while (p->ins) pin_free(p->ins);
    /* Requests waiting for a connection: their connect callback (which
     * the swarm calls, with P2P_ECANCELED when stopping) releases them. */
}

static void ping_fini(void *state)
{
    struct pingp *p = state;
    ping_stop(p);
    if (p->connecting) {
        p2p_log_warn(MOD, "on-demand pings still waiting for a connection at shutdown");
        struct preq *r = p->connecting;
        p->connecting = NULL;
        fail_reqs(r, P2P_ECANCELED);
    }
    p2p_service_withdraw(p->host, P2P_PING_SERVICE, 1);
    p2p_protocol_remove(p->host, P2P_PING_PROTOCOL);
    free(p);
}

static const struct p2p_conf_key ping_keys[] = {
    { "interval", P2P_CONF_DURATION, "15s", 100, 86400000, NULL,
      "time between periodic pings of a connection (rust-libp2p: 15 s)" },
    { "timeout", P2P_CONF_DURATION, "20s", 100, 3600000, NULL,
      "time for one ping, stream opening included (rust-libp2p: 20 s)" },
    { "max_failures", P2P_CONF_INT, "0", 0, 1000, NULL,
      "close a connection after this many failed pings in a row (0 = never: report only, as rust-libp2p; "
      "yamux keep-alive already detects dead connections)" },
    { "periodic", P2P_CONF_BOOL, "true", 0, 0, NULL,
      "ping every connection periodically (false: only on demand, through the ping service)" },
    { "max_inbound_streams", P2P_CONF_INT, "2", 1, 16, NULL,
      "inbound ping streams one peer may have open at once (the spec: at most two)" },
    { "inbound_timeout", P2P_CONF_DURATION, "60s", 100, 3600000, NULL,
      "reset an inbound ping stream without a ping for this long (go-libp2p: 60 s)" },
    P2P_CONF_KEYS_END
};

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "ping",
    .version = "1.0.0",
    .description = "libp2p ping (/ipfs/ping/1.0.0): liveness and round-trip times",
    .requires = NULL,
    .config = ping_keys,
    .init = ping_init,
    .start = ping_start,
    .stop = ping_stop,
    .fini = ping_fini,
});
