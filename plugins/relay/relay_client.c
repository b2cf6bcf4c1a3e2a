/* relay_client.c - the client side: reservations on relays (hop RESERVE),
 * renewed at 3/4 of their lifetime (as rust-libp2p), made again after the
 * relay connection is lost (with back-off), and advertised as
 * <relay addr>/p2p/<relay>/p2p-circuit addresses; and the stop protocol,
 * which accepts circuits and hands them to the swarm as raw inbound
 * streams of the p2p-circuit transport.
 *
 * Reservations are made only while the swarm listens on a /p2p-circuit
 * address (from the transport's listen): a reservation nobody would
 * accept circuits on is useless; and, with reserve = auto, only while we
 * are not known to be publicly reachable (relay_client_update). The reserving
 * hop stream is kept while the reservation lasts so that the host does not
 * close the relay connection as idle (see relay_server.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/record.h"
#include "relay.h"

static const char *const hop_protos[] = { RELAY_HOP_PROTOCOL, NULL };

/* Expiry times beyond this (year 36812) are not believed (and would
 * overflow in milliseconds). */
#define RELAY_EXPIRE_MAX (UINT64_C(1) << 40)

static void kick(struct relay_cl *cl);

/* ---- advertised addresses ------------------------------------------------------------- */

static void adv_add(p2p_multiaddr *set, size_t *n, const p2p_multiaddr *transport, const p2p_peerid *relay)
{
    p2p_multiaddr ca;
    if (*n >= RELAY_ADV_PER_RELAY || relay_caddr_make(transport, relay, &ca) < 0) return;
    for (size_t i = 0; i < *n; i++)
        if (p2p_maddr_equal(&set[i], &ca)) return;
    set[(*n)++] = ca;
}

static void adv_update(struct relay_cl *cl, const p2p_multiaddr *want, size_t nwant)
{
    p2p_host *h = cl->st->host;
    for (size_t i = 0; i < cl->nadv; i++) {
        bool keep = false;
        for (size_t j = 0; j < nwant && !keep; j++) keep = p2p_maddr_equal(&cl->adv[i], &want[j]);
        if (!keep) p2p_host_remove_advertised_addr(h, &cl->adv[i]);
    }
    for (size_t j = 0; j < nwant; j++) {
        bool had = false;
        for (size_t i = 0; i < cl->nadv && !had; i++) had = p2p_maddr_equal(&cl->adv[i], &want[j]);
        if (!had) p2p_host_add_advertised_addr(h, &want[j]);
    }
    if (nwant) memcpy(cl->adv, want, nwant * sizeof *want);
    cl->nadv = nwant;
}

/* ---- state changes ----------------------------------------------------------------------- */

static void drop_exchange(struct relay_cl *cl)
{
    if (cl->tk) cl->tk->owner = NULL;
    cl->tk = NULL;
    if (cl->s) {
        relay_reader_cancel(&cl->rd);
        p2p_stream_reset(cl->s);
        p2p_stream_close(cl->s);
        cl->s = NULL;
    }
}

/* The reservation is gone: stop advertising it, let the connection go. */
static void lose(struct relay_cl *cl)
{
    cl->reserved = false;
    adv_update(cl, NULL, 0);
    if (cl->held) p2p_stream_close(cl->held);
    cl->held = NULL;
}

static void retry_later(struct relay_cl *cl, uint64_t delay)
{
    struct relay_st *st = cl->st;
    cl->state = CL_IDLE;
    if (st->reserving && !st->stopped && cl->timer) p2p_timer_start(cl->timer, delay, 0);
}

static void fail(struct relay_cl *cl, int err, const char *what)
{
    struct relay_st *st = cl->st;
    char ps[P2P_PEERID_STRMAX];
    drop_exchange(cl);
    unsigned shift = cl->failures < 16 ? cl->failures : 16;
    uint64_t delay = st->retry_ms << shift;
    if (delay > st->retry_max_ms || delay < st->retry_ms) delay = st->retry_max_ms;
    cl->failures++;
    p2p_log_info(MOD, "reservation on relay %s failed (%s: %s); retrying in %llu ms", relay_peer_str(&cl->id, ps),
                 what, p2p_strerror(err), (unsigned long long)delay);
    /* A renewal that failed leaves the reservation valid until it expires. */
    if (cl->reserved && relay_wall_ms() >= cl->expire_wall_ms) lose(cl);
    retry_later(cl, delay);
}

/* ---- the RESERVE exchange ------------------------------------------------------------------ */

static int check_voucher(struct relay_cl *cl, const struct relay_reservation *r)
{
    p2p_pubkey signer;
    const uint8_t *pt, *payload;
    size_t ptlen, plen;
    int rc = p2p_envelope_open(r->voucher, r->voucher_len, RELAY_VOUCHER_DOMAIN, &signer, &pt, &ptlen, &payload, &plen);
    if (rc == P2P_EUNSUPPORTED) return 0;   /* a key type we cannot verify; vouchers are advisory */
    if (rc < 0) return rc;
    struct relay_voucher v;
    if (ptlen != RELAY_VOUCHER_PAYLOAD_TYPE_LEN || memcmp(pt, RELAY_VOUCHER_PAYLOAD_TYPE, ptlen) ||
        relay_voucher_decode(&v, payload, plen) < 0 || !p2p_peerid_matches(&cl->id, &signer) ||
        !p2p_peerid_equal(&v.relay, &cl->id) || !p2p_peerid_equal(&v.peer, p2p_host_peerid(cl->st->host)))
        return P2P_EPROTO;
    return 0;
}

static void held_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s; (void)d; (void)n; (void)arg;
}

static void held_quiet(p2p_stream *s, void *arg)
{
    (void)s; (void)arg;
}

static void held_error(p2p_stream *s, int err, void *arg)
{
    (void)s; (void)err; (void)arg;
}

static const struct p2p_stream_handlers held_handlers = { held_read, held_quiet, held_error, NULL };

static void reserved(struct relay_cl *cl, p2p_stream *s, const struct relay_msg *m)
{
    struct relay_st *st = cl->st;
    uint64_t wall = relay_wall_ms();
    p2p_conn *c = p2p_stream_conn(s);
    /* Keep this stream (our side half-closed) instead of the previous one. */
    if (cl->held) p2p_stream_close(cl->held);
    cl->held = s;
    p2p_stream_shutdown(s);
    p2p_stream_set_handlers(s, &held_handlers, cl);
    p2p_stream_read_start(s);
    cl->reserved = true;
    cl->state = CL_RESERVED;
    cl->failures = 0;
    cl->conn_id = c ? p2p_conn_id(c) : 0;
    cl->expire_wall_ms = m->rsvp.expire * 1000;
    cl->limit = m->limit;
    if (!m->has_limit) memset(&cl->limit, 0, sizeof cl->limit);
    p2p_multiaddr want[RELAY_ADV_PER_RELAY];
    size_t n = 0;
    if (cl->has_addr) adv_add(want, &n, &cl->addr, &cl->id);
    if (c) adv_add(want, &n, p2p_conn_remote_addr(c), &cl->id);
    for (size_t i = 0; i < m->rsvp.naddrs; i++) adv_add(want, &n, &m->rsvp.addrs[i], &cl->id);
    adv_update(cl, want, n);
    uint64_t left = cl->expire_wall_ms - wall;
    uint64_t renew = left - left / 4;
    if (renew < 500) renew = 500;
    char ps[P2P_PEERID_STRMAX], ls[RELAY_LIMIT_STRMAX];
    p2p_log_info(MOD, "reserved a slot on relay %s for %llu s (circuit limit %s; %zu circuit address(es); renewing in %llu ms)",
                 relay_peer_str(&cl->id, ps), (unsigned long long)(left / 1000),
                 relay_limit_str(m->has_limit ? &m->limit : NULL, ls, sizeof ls), n, (unsigned long long)renew);
    if (cl->timer && !st->stopped) p2p_timer_start(cl->timer, renew, 0);
}

static void on_reserve_answer(struct relay_reader *r, int status, const struct relay_msg *m)
{
    struct relay_cl *cl = r->owner;
    p2p_stream *s = cl->s;
    cl->s = NULL;
    int err = status;
    const char *what = "reading the answer";
    if (!err && (m->type != RELAY_HOP_STATUS || !m->has_status)) err = P2P_EPROTO, what = "unexpected answer";
    if (!err && m->status != RELAY_STATUS_OK) {
        char ps[P2P_PEERID_STRMAX];
        p2p_log_info(MOD, "relay %s refused the reservation: %s", relay_peer_str(&cl->id, ps),
                     relay_status_name(m->status));
        err = relay_status_error(m->status);
        what = relay_status_name(m->status);
    }
    if (!err && (!m->has_reservation || !m->rsvp.has_expire)) err = P2P_EPROTO, what = "no reservation in the answer";
    if (!err && (m->rsvp.expire > RELAY_EXPIRE_MAX || m->rsvp.expire * 1000 <= relay_wall_ms()))
        err = P2P_EPROTO, what = "expiry in the past or absurd";
    if (!err && m->rsvp.voucher_len && check_voucher(cl, &m->rsvp) < 0) err = P2P_ECRYPTO, what = "bad voucher";
    if (err) {
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return fail(cl, err, what);
    }
    reserved(cl, s, m);
}

static void on_hop_opened(int status, p2p_stream *s, void *arg)
{
    struct relay_cl *cl = relay_ticket_take(arg);
    if (!cl) {
        if (s) {
            p2p_stream_reset(s);
            p2p_stream_close(s);
        }
        return;
    }
    cl->tk = NULL;
    if (status) {
        /* rust-libp2p's relay (as in its relay-server example) serves hop
         * only once it knows an external address, i.e. after identify with
         * a first client: its push will list hop, and we try again then
         * (relay_client_conn_event) instead of after the back-off. */
        cl->hop_refused = status == P2P_ENEGOTIATE && !p2p_peerstore_supports(cl->st->host, &cl->id, RELAY_HOP_PROTOCOL);
        return fail(cl, status, "opening a hop stream");
    }
    cl->s = s;
    struct relay_msg m;
    relay_msg_init(&m, RELAY_HOP, RELAY_HOP_RESERVE);
    int rc = relay_send(s, &m);
    if (rc == 0) rc = relay_reader_start(&cl->rd, cl->st, s, RELAY_HOP, cl->st->handshake_ms, on_reserve_answer, cl);
    if (rc < 0) fail(cl, rc, "sending RESERVE");
}

static void on_relay_connected(int status, p2p_conn *c, void *arg)
{
    struct relay_cl *cl = relay_ticket_take(arg);
    if (!cl) return;
    cl->tk = NULL;
    if (status) return fail(cl, status, "connecting");
    if (p2p_conn_limited(c)) return fail(cl, P2P_EUNSUPPORTED, "only a relayed connection");
    cl->state = CL_RESERVING;
    cl->tk = relay_ticket_new(cl->st, cl);
    int rc = cl->tk ? p2p_conn_open_stream(c, hop_protos, on_hop_opened, cl->tk) : P2P_ENOMEM;
    if (rc < 0) {
        if (cl->tk) relay_ticket_take(cl->tk);
        cl->tk = NULL;
        fail(cl, rc, "opening a hop stream");
    }
}

static void kick(struct relay_cl *cl)
{
    struct relay_st *st = cl->st;
    if (!st->reserving || st->stopped || cl->state == CL_CONNECTING || cl->state == CL_RESERVING) return;
    if (cl->timer) p2p_timer_stop(cl->timer);
    if (cl->reserved && relay_wall_ms() >= cl->expire_wall_ms) lose(cl);
    cl->state = CL_CONNECTING;
    cl->hop_refused = false;
    cl->tk = relay_ticket_new(st, cl);
    int rc = cl->tk ? p2p_host_connect(st->host, &cl->id, cl->has_addr ? &cl->addr : NULL, cl->has_addr ? 1 : 0,
                                       on_relay_connected, cl->tk)
                    : P2P_ENOMEM;
    if (rc < 0) {
        if (cl->tk) relay_ticket_take(cl->tk);
        cl->tk = NULL;
        fail(cl, rc, "connecting");
    }
}

static void on_cl_timer(p2p_timer *t, void *arg)
{
    (void)t;
    kick(arg);   /* renewal, or a retry */
}

/* ---- relays and events --------------------------------------------------------------------- */

int relay_client_add_relay(struct relay_st *st, const p2p_peerid *id, const p2p_multiaddr *addr)
{
    if (p2p_peerid_equal(id, p2p_host_peerid(st->host))) return P2P_EINVAL;
    for (size_t i = 0; i < st->nrelays; i++) {
        struct relay_cl *cl = &st->relays[i];
        if (!p2p_peerid_equal(&cl->id, id)) continue;
        if (addr && addr->len && !cl->has_addr) {
            cl->addr = *addr;
            cl->has_addr = true;
        }
        return 0;
    }
    if (st->nrelays >= RELAY_MAX_RELAYS) return P2P_ELIMIT;
    struct relay_cl *cl = &st->relays[st->nrelays];
    memset(cl, 0, sizeof *cl);
    cl->st = st;
    cl->id = *id;
    if (addr && addr->len) {
        cl->addr = *addr;
        cl->has_addr = true;
    }
    cl->timer = p2p_timer_new(st->host, on_cl_timer, cl);
    if (!cl->timer) return P2P_ENOMEM;
    st->nrelays++;
    if (st->reserving) p2p_timer_start(cl->timer, 0, 0);
    return 0;
}

static void start_reserving(struct relay_st *st)
{
    if (st->reserving || st->stopped) return;
    st->reserving = true;
    /* From the loop: never inside the swarm's listen(). */
    for (size_t i = 0; i < st->nrelays; i++) p2p_timer_start(st->relays[i].timer, 0, 0);
}

static void stop_reserving(struct relay_st *st)
{
    st->reserving = false;
    for (size_t i = 0; i < st->nrelays; i++) {
        struct relay_cl *cl = &st->relays[i];
        drop_exchange(cl);
        lose(cl);
        cl->state = CL_IDLE;
        if (cl->timer) p2p_timer_stop(cl->timer);
    }
}

/* reserve = auto: a reservation is for peers others cannot dial. */
static bool need_reservations(struct relay_st *st, const char **why)
{
    if (st->reserve_always) return *why = "reserve = always", true;
    struct p2p_reachability_info ri = P2P_REACHABILITY_INFO_INIT;
    enum p2p_reachability r = p2p_host_reachability(st->host, &ri);
    if (!ri.tracked) return *why = "nothing finds out whether we are reachable", true;
    if (r == P2P_REACH_PRIVATE) return *why = "we are not publicly reachable", true;
    if (r == P2P_REACH_UNKNOWN && ri.probed) return *why = "our reachability is unknown after probing", true;
    *why = r == P2P_REACH_PUBLIC ? "we are publicly reachable" : "waiting for AutoNAT to probe";
    return false;
}

void relay_client_update(struct relay_st *st)
{
    if (st->stopped) return;
    const char *why = NULL;
    bool want = st->circuit_listening && need_reservations(st, &why);
    if (st->circuit_listening && st->nrelays && why != st->reserve_why) {
        p2p_log_info(MOD, "%s (reserve = %s: %s)", want ? "reserving slots on relays" : "no relay reservations",
                     st->reserve_always ? "always" : "auto", why);
        st->reserve_why = why;
    }
    if (want && !st->reserving) start_reserving(st);
    else if (!want && st->reserving) stop_reserving(st);
}

void relay_client_conn_event(struct relay_st *st, const struct p2p_event *ev)
{
    for (size_t i = 0; i < st->nrelays; i++) {
        struct relay_cl *cl = &st->relays[i];
        if (!ev->peer || !p2p_peerid_equal(ev->peer, &cl->id)) continue;
        if (ev->type == P2P_EV_DISCONNECTED && cl->reserved && ev->conn && p2p_conn_id(ev->conn) == cl->conn_id) {
            char ps[P2P_PEERID_STRMAX];
            p2p_log_info(MOD, "lost the connection to relay %s: reserving again", relay_peer_str(&cl->id, ps));
            lose(cl);
            if (cl->state == CL_RESERVED) {
                cl->failures = 0;
                retry_later(cl, st->retry_ms);
            }
        } else if (ev->type == P2P_EV_CONNECTED && cl->state == CL_IDLE && !cl->reserved) {
            /* The relay is back (it dialed us, or someone else did): now. */
            if (st->reserving && cl->timer) p2p_timer_start(cl->timer, 0, 0);
        } else if (ev->type == P2P_EV_PEER_UPDATED && cl->hop_refused && cl->state == CL_IDLE && !cl->reserved &&
                   p2p_peerstore_supports(st->host, &cl->id, RELAY_HOP_PROTOCOL)) {
            /* It did not speak hop at our last attempt and now says it
             * does (an identify push): once, without waiting. */
            cl->hop_refused = false;
            if (st->reserving && cl->timer) p2p_timer_start(cl->timer, 0, 0);
        }
    }
}

/* ---- stop: accepting circuits ---------------------------------------------------------------- */

struct stop_req {
    struct rlist link;
    struct relay_st *st;
    p2p_stream *s;
    struct relay_reader rd;
    p2p_peerid relay;
    p2p_multiaddr relay_addr;
    bool limited;
    struct p2p_defer handoff;
};

static void stop_req_free(struct stop_req *q)
{
    rlist_del(&q->link);
    p2p_defer_cancel(q->st->host, &q->handoff);
    q->st->npending--;
    free(q);
}

static void on_handoff(void *arg)
{
    struct stop_req *q = arg;
    struct relay_st *st = q->st;
    p2p_stream *s = q->s;
    stop_req_free(q);
    if (!relay_transport_deliver(st, s)) {
        p2p_stream_reset(s);
        p2p_stream_close(s);
    }
}

static void on_stop_request(struct relay_reader *r, int status, const struct relay_msg *m)
{
    struct stop_req *q = r->owner;
    struct relay_st *st = q->st;
    p2p_stream *s = q->s;
    uint32_t refuse = 0;
    if (status == P2P_EINVAL || status == P2P_ERANGE) refuse = RELAY_STATUS_MALFORMED_MESSAGE;
    else if (status) refuse = 1;
    else if (m->type != RELAY_STOP_CONNECT) refuse = RELAY_STATUS_UNEXPECTED_MESSAGE;
    else if (!m->has_peer) refuse = RELAY_STATUS_MALFORMED_MESSAGE;
    else if (q->limited) refuse = RELAY_STATUS_PERMISSION_DENIED;
    else if (!relay_transport_listening(st)) refuse = RELAY_STATUS_CONNECTION_FAILED;
    char a[P2P_PEERID_STRMAX], b[P2P_PEERID_STRMAX];
    if (!refuse) {
        struct relay_msg ok;
        relay_msg_init(&ok, RELAY_STOP, RELAY_STOP_STATUS);
        ok.has_status = true;
        ok.status = RELAY_STATUS_OK;
        if (relay_send(s, &ok) < 0) refuse = 1;
    }
    if (refuse) {
        if (refuse != 1)
            p2p_log_debug(MOD, "refusing a circuit via %s: %s", relay_peer_str(&q->relay, a), relay_status_name(refuse));
        stop_req_free(q);
        if (refuse == 1) {
            p2p_stream_reset(s);
            p2p_stream_close(s);
        } else {
            relay_respond(st, s, RELAY_STOP, refuse);
        }
        return;
    }
    p2p_multiaddr ca;
    if (relay_caddr_make(&q->relay_addr, &q->relay, &ca) < 0) relay_caddr_make(NULL, &q->relay, &ca);
    p2p_stream_set_addrs(s, &ca, &ca);
    char ls[RELAY_LIMIT_STRMAX];
    p2p_log_info(MOD, "accepted a circuit from %s via %s (limit %s)", relay_peer_str(&m->peer.id, a),
                 relay_peer_str(&q->relay, b), relay_limit_str(m->has_limit ? &m->limit : NULL, ls, sizeof ls));
    p2p_defer_schedule(st->host, &q->handoff);
}

static void on_stop(p2p_stream *s, const char *protocol, void *arg)
{
    (void)protocol;
    struct relay_st *st = arg;
    p2p_conn *c = p2p_stream_conn(s);
    struct stop_req *q = NULL;
    if (!st->stopped && c && st->npending < st->max_pending) q = calloc(1, sizeof *q);
    if (!q) {
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    q->st = st;
    q->s = s;
    q->relay = *p2p_conn_peer(c);
    q->relay_addr = *p2p_conn_remote_addr(c);
    q->limited = p2p_conn_limited(c);
    p2p_defer_init(&q->handoff, on_handoff, q);
    rlist_add(&st->stops, &q->link);
    st->npending++;
    if (relay_reader_start(&q->rd, st, s, RELAY_STOP, st->handshake_ms, on_stop_request, q) < 0) {
        relay_reader_cancel(&q->rd);
        stop_req_free(q);
        p2p_stream_reset(s);
        p2p_stream_close(s);
    }
}

/* ---- lifecycle ---------------------------------------------------------------------------------- */

int relay_client_init(struct relay_st *st, const p2p_conf_section *cf)
{
    st->relays = calloc(RELAY_MAX_RELAYS, sizeof *st->relays);
    if (!st->relays) return P2P_ENOMEM;
    size_t n = p2p_conf_list_len(cf, "relays");
    for (size_t i = 0; i < n; i++) {
        const char *text = p2p_conf_list_at(cf, "relays", i);
        p2p_multiaddr ma, t;
        p2p_peerid id;
        if (p2p_maddr_parse(&ma, text, NULL, 0) < 0 || relay_split_peer_addr(&ma, &t, &id) < 0) {
            p2p_host_set_error(st->host, "relays: '%s' does not end in /p2p/<relay PeerId>", text);
            return P2P_ECONFIG;
        }
        int rc = relay_client_add_relay(st, &id, &t);
        if (rc == P2P_ELIMIT) {
            p2p_host_set_error(st->host, "relays: more than %d relays", RELAY_MAX_RELAYS);
            return P2P_ECONFIG;
        }
        if (rc < 0) {
            p2p_host_set_error(st->host, "relays: '%s' cannot be used (%s)", text,
                               rc == P2P_EINVAL ? "it is this host" : p2p_strerror(rc));
            return rc == P2P_EINVAL ? P2P_ECONFIG : rc;
        }
    }
    return p2p_protocol_add(st->host, RELAY_STOP_PROTOCOL, on_stop, st);
}

void relay_client_stop(struct relay_st *st)
{
    st->reserving = false;
    for (size_t i = 0; i < st->nrelays; i++) {
        struct relay_cl *cl = &st->relays[i];
        drop_exchange(cl);
        if (cl->held) p2p_stream_close(cl->held);
        cl->held = NULL;
        cl->reserved = false;
        cl->state = CL_IDLE;
        if (cl->timer) p2p_timer_stop(cl->timer);
    }
    while (!rlist_empty(&st->stops)) {
        struct stop_req *q = RLIST_OF(st->stops.next, struct stop_req, link);
        p2p_stream *s = q->s;
        relay_reader_cancel(&q->rd);
        stop_req_free(q);
        p2p_stream_reset(s);
        p2p_stream_close(s);
    }
}

void relay_client_fini(struct relay_st *st)
{
    if (!st->relays) return;
    relay_client_stop(st);
    for (size_t i = 0; i < st->nrelays; i++)
        if (st->relays[i].timer) p2p_timer_free(st->relays[i].timer);
    p2p_protocol_remove(st->host, RELAY_STOP_PROTOCOL);
    free(st->relays);
    st->relays = NULL;
    st->nrelays = 0;
}
