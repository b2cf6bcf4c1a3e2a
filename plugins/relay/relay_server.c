/* relay_server.c - the relay side of /libp2p/circuit/relay/0.2.0/hop:
 * reservations (with vouchers) and circuits (CONNECT -> stop stream to
 * the target -> pump), with the limits of relay_table.
 *
 * Requests that arrive over a limited (relayed) connection are refused
 * with PERMISSION_DENIED: no relaying over relays.
 *
 * Keeping reserved peers connected: a reservation is only worth something
 * while its connection lives, and the host closes connections that have
 * no stream for idle_timeout. So the hop stream of an accepted RESERVE is
 * kept (half-closed, whatever the client does with its side) until the
 * reservation ends; the client side does the same. A renewal on the same
 * connection replaces the kept stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/record.h"
#include "relay.h"

struct hop_info {
    uint64_t conn_id;
    p2p_peerid peer;
    struct relay_ip ip;
    bool limited;
};

/* A hop stream whose request is being read. */
struct hop_req {
    struct rlist link;
    struct relay_st *st;
    p2p_stream *s;
    struct relay_reader rd;
    struct hop_info info;
};

/* The stream of an accepted reservation, kept while it lasts. */
struct held {
    struct rlist link;
    p2p_peerid peer;
    uint64_t conn_id;
    p2p_stream *s;
};

struct circuit {
    struct rlist link;
    struct relay_st *st;
    uint64_t id;
    p2p_peerid src, dst;
    p2p_stream *src_s, *dst_s;
    struct relay_reader rd;          /* the target's stop answer */
    bool reading;
    struct relay_ticket *tk;         /* opening the stop stream */
    p2p_timer *timer;                /* set-up timeout, then the duration limit */
    bool pumping;
    struct relay_pump pump;
};

static const char *const stop_protos[] = { RELAY_STOP_PROTOCOL, NULL };

/* ---- kept reservation streams ---------------------------------------------------- */

static void held_free(struct held *hd)
{
    rlist_del(&hd->link);
    p2p_stream_close(hd->s);
    free(hd);
}

static void held_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s; (void)d; (void)n; (void)arg;   /* nothing more is expected: dropped */
}

static void held_quiet(p2p_stream *s, void *arg)
{
    (void)s; (void)arg;
}

static void held_error(p2p_stream *s, int err, void *arg)
{
    (void)s; (void)err; (void)arg;   /* still kept: it holds the connection, not data */
}

static const struct p2p_stream_handlers held_handlers = { held_read, held_quiet, held_error, NULL };

static void hold(struct relay_st *st, const struct hop_info *in, p2p_stream *s)
{
    struct rlist *pos;
    for (pos = st->helds.next; pos != &st->helds; pos = pos->next) {
        struct held *hd = RLIST_OF(pos, struct held, link);
        if (hd->conn_id == in->conn_id && p2p_peerid_equal(&hd->peer, &in->peer)) {
            held_free(hd);
            break;
        }
    }
    struct held *hd = calloc(1, sizeof *hd);
    if (!hd) {
        relay_finish(st, s);
        return;
    }
    hd->peer = in->peer;
    hd->conn_id = in->conn_id;
    hd->s = s;
    rlist_add(&st->helds, &hd->link);
    p2p_stream_shutdown(s);
    p2p_stream_set_handlers(s, &held_handlers, hd);
    p2p_stream_read_start(s);
}

/* Release the kept streams of reservations that ended. */
static void release_helds(struct relay_st *st)
{
    uint64_t now = p2p_host_now_ms(st->host);
    struct rlist *pos = st->helds.next;
    while (pos != &st->helds) {
        struct held *hd = RLIST_OF(pos, struct held, link);
        pos = pos->next;
        if (!relay_table_has(&st->table, &hd->peer, hd->conn_id, now)) held_free(hd);
    }
}

static void on_expiry(p2p_timer *t, void *arg);

static void sweep(struct relay_st *st)
{
    uint64_t now = p2p_host_now_ms(st->host), next;
    size_t n = relay_table_expire(&st->table, now, &next);
    if (n) p2p_log_debug(MOD, "%zu reservation(s) expired", n);
    release_helds(st);
    if (next) p2p_timer_start(st->expiry, next - now, 0);
    else p2p_timer_stop(st->expiry);
}

static void on_expiry(p2p_timer *t, void *arg)
{
    (void)t;
    sweep(arg);
}

void relay_server_conn_closed(struct relay_st *st, uint64_t conn_id)
{
    if (!st->server || !st->table_ok) return;
    if (relay_table_conn_closed(&st->table, conn_id))
        p2p_log_debug(MOD, "connection %llu closed: its reservations end", (unsigned long long)conn_id);
    struct rlist *pos = st->helds.next;
    while (pos != &st->helds) {
        struct held *hd = RLIST_OF(pos, struct held, link);
        pos = pos->next;
        if (hd->conn_id == conn_id) held_free(hd);
    }
}

/* ---- RESERVE ---------------------------------------------------------------------- */

static uint32_t limit_seconds(uint64_t ms)
{
    uint64_t s = (ms + 999) / 1000;
    return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

static void set_limit(const struct relay_st *st, struct relay_msg *m)
{
    if (!st->circuit_duration_ms && !st->circuit_bytes) return;
    m->has_limit = true;
    m->limit.has_duration = st->circuit_duration_ms != 0;
    m->limit.duration = limit_seconds(st->circuit_duration_ms);
    m->limit.has_data = st->circuit_bytes != 0;
    m->limit.data = st->circuit_bytes;
}

/* Our addresses for the reserving peer: advertised ones (no circuits),
 * each ending in /p2p/<us>. */
static size_t own_addrs(struct relay_st *st, p2p_multiaddr *out, size_t max)
{
    p2p_multiaddr all[32];
    size_t n = p2p_host_advertised_addrs(st->host, all, 32), k = 0;
    const p2p_peerid *self = p2p_host_peerid(st->host);
    struct p2p_maddr_component c;
    for (size_t i = 0; i < n && i < 32 && k < max; i++) {
        if (p2p_maddr_find(&all[i], P2P_MA_P2P_CIRCUIT, &c)) continue;
        out[k] = all[i];
        if (p2p_maddr_push(&out[k], P2P_MA_P2P, self->bytes, self->len) == 0) k++;
    }
    return k;
}

static void make_voucher(struct relay_st *st, const p2p_peerid *peer, uint64_t expire, struct relay_reservation *r)
{
    struct relay_voucher v = { .relay = *p2p_host_peerid(st->host), .peer = *peer, .expiration = expire };
    uint8_t payload[256];
    int n = relay_voucher_encode(&v, payload, sizeof payload);
    uint8_t *env = NULL;
    size_t elen = 0;
    if (n < 0 || p2p_envelope_seal(p2p_host_keypair(st->host), RELAY_VOUCHER_DOMAIN,
                                   (const uint8_t *)RELAY_VOUCHER_PAYLOAD_TYPE, RELAY_VOUCHER_PAYLOAD_TYPE_LEN,
                                   payload, (size_t)n, &env, &elen) < 0) {
        p2p_log_warn(MOD, "cannot sign a reservation voucher; sending none");
        return;
    }
    if (elen <= RELAY_VOUCHER_MAX) {
        memcpy(r->voucher, env, elen);
        r->voucher_len = elen;
    }
    free(env);
}

static void do_reserve(struct relay_st *st, p2p_stream *s, const struct hop_info *in)
{
    char ps[P2P_PEERID_STRMAX];
    relay_peer_str(&in->peer, ps);
    if (in->limited) {
        p2p_log_debug(MOD, "refusing a reservation of %s over a relayed connection", ps);
        relay_metrics_refused(st->m.rsvp_refused, "relayed_connection");
        return relay_respond(st, s, RELAY_HOP, RELAY_STATUS_PERMISSION_DENIED);
    }
    uint64_t now = p2p_host_now_ms(st->host), expire_ms;
    bool renewed;
    int status = relay_table_reserve(&st->table, &in->peer, in->conn_id, &in->ip, now, &expire_ms, &renewed);
    if (status != RELAY_STATUS_OK) {
        st->stats.reservations_refused++;
        relay_metrics_refused(st->m.rsvp_refused, relay_refusal_name(st->table.refusal));
        p2p_log_debug(MOD, "refusing a reservation of %s: %s reached", ps, relay_refusal_name(st->table.refusal));
        return relay_respond(st, s, RELAY_HOP, (uint32_t)status);
    }
    struct relay_msg *m = malloc(sizeof *m);
    if (!m) {
        relay_table_conn_closed(&st->table, in->conn_id);
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    relay_msg_init(m, RELAY_HOP, RELAY_HOP_STATUS);
    m->has_status = true;
    m->status = RELAY_STATUS_OK;
    m->has_reservation = true;
    m->rsvp.has_expire = true;
    m->rsvp.expire = (relay_wall_ms() + (expire_ms - now)) / 1000;
    m->rsvp.naddrs = own_addrs(st, m->rsvp.addrs, RELAY_MAX_ADDRS);
    make_voucher(st, &in->peer, m->rsvp.expire, &m->rsvp);
    set_limit(st, m);
    int rc;
    while ((rc = relay_send(s, m)) == P2P_ERANGE && m->rsvp.naddrs) m->rsvp.naddrs--;
    free(m);
    if (rc < 0) {
        p2p_log_debug(MOD, "cannot answer the reservation of %s: %s", ps, p2p_strerror(rc));
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    if (renewed) st->stats.renewals++;
    else st->stats.reservations++;
    p2p_counter_add(renewed ? st->m.rsvp_renewed : st->m.rsvp_new, 1);
    p2p_log_debug(MOD, "%s reservation of %s for %llu ms", renewed ? "renewed the" : "accepted a", ps,
                  (unsigned long long)(expire_ms - now));
    hold(st, in, s);
    sweep(st);
}

/* ---- CONNECT ---------------------------------------------------------------------- */

static void circuit_free(struct circuit *c)
{
    struct relay_st *st = c->st;
    relay_table_circuit_close(&st->table, c->id);
    rlist_del(&c->link);
    st->ncircuits--;
    if (c->reading) relay_reader_cancel(&c->rd);
    if (c->tk) c->tk->owner = NULL;
    if (c->timer) p2p_timer_free(c->timer);
    free(c);
}

/* Set-up failed: answer the source (when status is not 0), drop the target. */
static void circuit_fail(struct circuit *c, uint32_t status, const char *why)
{
    char a[P2P_PEERID_STRMAX], b[P2P_PEERID_STRMAX];
    p2p_log_debug(MOD, "circuit %s -> %s failed: %s", relay_peer_str(&c->src, a), relay_peer_str(&c->dst, b), why);
    struct relay_st *st = c->st;
    relay_metrics_refused(st->m.circ_refused, st->stopped ? "shutdown" : "connection_failed");
    p2p_stream *src = c->src_s, *dst = c->dst_s;
    c->src_s = c->dst_s = NULL;
    circuit_free(c);
    if (dst) {
        p2p_stream_reset(dst);
        p2p_stream_close(dst);
    }
    if (status) {
        relay_respond(st, src, RELAY_HOP, status);
    } else {
        p2p_stream_reset(src);
        p2p_stream_close(src);
    }
}

static void on_pump_end(struct relay_pump *p, int reason)
{
    struct circuit *c = RLIST_OF(p, struct circuit, pump);
    char a[P2P_PEERID_STRMAX], b[P2P_PEERID_STRMAX];
    p2p_log_debug(MOD, "circuit %s -> %s ended (%llu/%llu bytes): %s", relay_peer_str(&c->src, a),
                  relay_peer_str(&c->dst, b), (unsigned long long)p->side[0].fwd,
                  (unsigned long long)p->side[1].fwd, reason ? p2p_strerror(reason) : "closed");
    c->st->stats.circuits_ended++;
    relay_metrics_circuit_closed(c->st, reason);
    circuit_free(c);
}

static void on_circuit_timer(p2p_timer *t, void *arg)
{
    (void)t;
    struct circuit *c = arg;
    if (c->pumping) relay_pump_abort(&c->pump, P2P_ETIMEDOUT);   /* duration limit */
    else circuit_fail(c, RELAY_STATUS_CONNECTION_FAILED, "set-up timed out");
}

/* The source's stream while we set up: only failures matter. */
static void src_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s; (void)d; (void)n; (void)arg;   /* reading is stopped: never called */
}

static void src_error(p2p_stream *s, int err, void *arg)
{
    (void)s; (void)err;
    circuit_fail(arg, 0, "the source went away");
}

static const struct p2p_stream_handlers src_handlers = { src_read, NULL, src_error, NULL };

static void on_stop_answer(struct relay_reader *r, int status, const struct relay_msg *m)
{
    struct circuit *c = r->owner;
    struct relay_st *st = c->st;
    c->reading = false;
    if (status) return circuit_fail(c, RELAY_STATUS_CONNECTION_FAILED, p2p_strerror(status));
    if (m->type != RELAY_STOP_STATUS || !m->has_status || m->status != RELAY_STATUS_OK) {
        char why[96];
        snprintf(why, sizeof why, "the target answered %s %s", relay_type_name(RELAY_STOP, m->type),
                 m->has_status ? relay_status_name(m->status) : "");
        return circuit_fail(c, RELAY_STATUS_CONNECTION_FAILED, why);
    }
    struct relay_msg ok;
    relay_msg_init(&ok, RELAY_HOP, RELAY_HOP_STATUS);
    ok.has_status = true;
    ok.status = RELAY_STATUS_OK;
    set_limit(st, &ok);
    int rc = relay_send(c->src_s, &ok);
    if (rc < 0) return circuit_fail(c, 0, "cannot answer the source");
    p2p_timer_stop(c->timer);
    if (st->circuit_duration_ms) p2p_timer_start(c->timer, st->circuit_duration_ms, 0);
    c->pumping = true;
    char a[P2P_PEERID_STRMAX], b[P2P_PEERID_STRMAX];
    p2p_log_debug(MOD, "circuit %s -> %s open", relay_peer_str(&c->src, a), relay_peer_str(&c->dst, b));
    p2p_stream *src = c->src_s, *dst = c->dst_s;
    c->src_s = c->dst_s = NULL;
    st->stats.circuits++;
    p2p_counter_add(st->m.circ_accepted, 1);
    c->pump.bytes = st->m.circ_bytes;
    relay_pump_start(&c->pump, src, dst, st->circuit_bytes, st->watermark, &st->stats.peak_queued, on_pump_end);
}

static void on_stop_opened(int status, p2p_stream *s, void *arg)
{
    struct circuit *c = relay_ticket_take(arg);
    if (!c) {
        if (s) {
            p2p_stream_reset(s);
            p2p_stream_close(s);
        }
        return;
    }
    c->tk = NULL;
    if (status) return circuit_fail(c, RELAY_STATUS_CONNECTION_FAILED, p2p_strerror(status));
    c->dst_s = s;
    struct relay_st *st = c->st;
    struct relay_msg m;
    relay_msg_init(&m, RELAY_STOP, RELAY_STOP_CONNECT);
    m.has_peer = true;
    m.peer.id = c->src;
    set_limit(st, &m);
    int rc = relay_send(s, &m);
    if (rc == 0) rc = relay_reader_start(&c->rd, st, s, RELAY_STOP, st->handshake_ms, on_stop_answer, c);
    if (rc < 0) return circuit_fail(c, RELAY_STATUS_CONNECTION_FAILED, p2p_strerror(rc));
    c->reading = true;
}

static void do_connect(struct relay_st *st, p2p_stream *s, const struct hop_info *in, const struct relay_msg *m)
{
    char a[P2P_PEERID_STRMAX], b[P2P_PEERID_STRMAX];
    relay_peer_str(&in->peer, a);
    if (in->limited) {
        relay_metrics_refused(st->m.circ_refused, "relayed_connection");
        return relay_respond(st, s, RELAY_HOP, RELAY_STATUS_PERMISSION_DENIED);
    }
    if (!m->has_peer) {
        relay_metrics_refused(st->m.circ_refused, "malformed");
        return relay_respond(st, s, RELAY_HOP, RELAY_STATUS_MALFORMED_MESSAGE);
    }
    const p2p_peerid *dst = &m->peer.id;
    relay_peer_str(dst, b);
    if (p2p_peerid_equal(dst, &in->peer)) {
        relay_metrics_refused(st->m.circ_refused, "malformed");
        return relay_respond(st, s, RELAY_HOP, RELAY_STATUS_PERMISSION_DENIED);
    }
    uint64_t now = p2p_host_now_ms(st->host), id, dst_conn;
    int status = relay_table_circuit_open(&st->table, &in->peer, &in->ip, dst, now, &id);
    if (status != RELAY_STATUS_OK) {
        st->stats.circuits_refused++;
        relay_metrics_refused(st->m.circ_refused, relay_refusal_name(st->table.refusal));
        p2p_log_debug(MOD, "refusing a circuit %s -> %s: %s reached", a, b, relay_refusal_name(st->table.refusal));
        return relay_respond(st, s, RELAY_HOP, (uint32_t)status);
    }
    if (!relay_table_lookup(&st->table, dst, now, &dst_conn)) {
        relay_table_circuit_close(&st->table, id);
        st->stats.circuits_refused++;
        relay_metrics_refused(st->m.circ_refused, "no_reservation");
        p2p_log_debug(MOD, "refusing a circuit %s -> %s: no reservation", a, b);
        return relay_respond(st, s, RELAY_HOP, RELAY_STATUS_NO_RESERVATION);
    }
    p2p_conn *dc = relay_conn_by_id(st->host, dst_conn);
    struct circuit *c = dc ? calloc(1, sizeof *c) : NULL;
    if (c) {
        c->timer = p2p_timer_new(st->host, on_circuit_timer, c);
        c->tk = c->timer ? relay_ticket_new(st, c) : NULL;
    }
    if (!c || !c->tk) {
        if (c && c->timer) p2p_timer_free(c->timer);
        free(c);
        relay_table_circuit_close(&st->table, id);
        return relay_respond(st, s, RELAY_HOP, RELAY_STATUS_CONNECTION_FAILED);
    }
    c->st = st;
    c->id = id;
    c->src = in->peer;
    c->dst = *dst;
    c->src_s = s;
    rlist_add(&st->circuits, &c->link);
    st->ncircuits++;
    p2p_stream_set_handlers(s, &src_handlers, c);
    p2p_timer_start(c->timer, st->handshake_ms, 0);
    int rc = p2p_conn_open_stream(dc, stop_protos, on_stop_opened, c->tk);
    if (rc < 0) {
        relay_ticket_take(c->tk);
        c->tk = NULL;
        circuit_fail(c, RELAY_STATUS_CONNECTION_FAILED, p2p_strerror(rc));
    }
}

/* ---- the hop handler ---------------------------------------------------------------- */

static void hop_req_free(struct hop_req *h)
{
    rlist_del(&h->link);
    h->st->npending--;
    free(h);
}

static void on_hop_request(struct relay_reader *r, int status, const struct relay_msg *m)
{
    struct hop_req *h = r->owner;
    struct relay_st *st = h->st;
    p2p_stream *s = h->s;
    struct hop_info in = h->info;
    hop_req_free(h);
    if (status == P2P_EINVAL || status == P2P_ERANGE)
        return relay_respond(st, s, RELAY_HOP, RELAY_STATUS_MALFORMED_MESSAGE);
    if (status) {
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    switch (m->type) {
    case RELAY_HOP_RESERVE: return do_reserve(st, s, &in);
    case RELAY_HOP_CONNECT: return do_connect(st, s, &in, m);
    default: return relay_respond(st, s, RELAY_HOP, RELAY_STATUS_UNEXPECTED_MESSAGE);
    }
}

static void on_hop(p2p_stream *s, const char *protocol, void *arg)
{
    (void)protocol;
    struct relay_st *st = arg;
    p2p_conn *c = p2p_stream_conn(s);
    struct hop_req *h = NULL;
    if (!st->stopped && c && st->npending < st->max_pending) h = calloc(1, sizeof *h);
    if (!h) {
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    h->st = st;
    h->s = s;
    h->info.conn_id = p2p_conn_id(c);
    h->info.peer = *p2p_conn_peer(c);
    h->info.limited = p2p_conn_limited(c);
    relay_ip_of(p2p_conn_remote_addr(c), &h->info.ip);
    rlist_add(&st->hops, &h->link);
    st->npending++;
    if (relay_reader_start(&h->rd, st, s, RELAY_HOP, st->handshake_ms, on_hop_request, h) < 0) {
        relay_reader_cancel(&h->rd);
        hop_req_free(h);
        p2p_stream_reset(s);
        p2p_stream_close(s);
    }
}

/* ---- lifecycle ---------------------------------------------------------------------- */

int relay_server_init(struct relay_st *st)
{
    int rc = relay_table_init(&st->table, &st->lim);
    if (rc < 0) return rc;
    st->table_ok = true;
    st->expiry = p2p_timer_new(st->host, on_expiry, st);
    if (!st->expiry) return P2P_ENOMEM;
    return p2p_protocol_add(st->host, RELAY_HOP_PROTOCOL, on_hop, st);
}

void relay_server_stop(struct relay_st *st)
{
    while (!rlist_empty(&st->hops)) {
        struct hop_req *h = RLIST_OF(st->hops.next, struct hop_req, link);
        p2p_stream *s = h->s;
        relay_reader_cancel(&h->rd);
        hop_req_free(h);
        p2p_stream_reset(s);
        p2p_stream_close(s);
    }
    while (!rlist_empty(&st->circuits)) {
        struct circuit *c = RLIST_OF(st->circuits.next, struct circuit, link);
        if (c->pumping) relay_pump_abort(&c->pump, P2P_ECANCELED);
        else circuit_fail(c, 0, "shutting down");
    }
    while (!rlist_empty(&st->helds)) held_free(RLIST_OF(st->helds.next, struct held, link));
    if (st->expiry) p2p_timer_stop(st->expiry);
}

void relay_server_fini(struct relay_st *st)
{
    relay_server_stop(st);
    p2p_protocol_remove(st->host, RELAY_HOP_PROTOCOL);
    if (st->expiry) p2p_timer_free(st->expiry);
    st->expiry = NULL;
    if (st->table_ok) relay_table_free(&st->table);
    st->table_ok = false;
}

size_t relay_server_circuits(const struct relay_st *st)
{
    return st->ncircuits;
}
