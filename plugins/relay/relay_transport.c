/* relay_transport.c - the "p2p-circuit" transport (limited = true): the
 * swarm dials and listens on circuit addresses through it, and upgrades
 * its raw streams (Noise, Yamux) like any other transport's.
 *
 * Dial <relay addr>/p2p/<R>/p2p-circuit[/p2p/<B>] (B may come from the
 * dial options instead): connect to R (p2p_host_connect, reusing a
 * connection), open a hop stream, send CONNECT to B, and on STATUS OK
 * hand that very stream, with whatever followed the answer unread, to the
 * swarm as the raw stream. Its addresses (both sides) are
 * <R's address>/p2p/<R>/p2p-circuit. A refusal fails the dial with
 * relay_status_error(status): NO_RESERVATION and CONNECTION_FAILED give
 * P2P_EUNREACH, RESOURCE_LIMIT_EXCEEDED P2P_ELIMIT, PERMISSION_DENIED
 * P2P_EREFUSED.
 *
 * Listen: "/p2p-circuit" (every relay of the `relays` key) or
 * "<relay addr>/p2p/<R>/p2p-circuit" (that relay, added to the set). A
 * listener makes the client reserve slots; circuits accepted by the stop
 * handler are handed to the first listener's accept callback. listen_addrs
 * reports nothing: circuit addresses exist only while a reservation does,
 * so they are advertised with p2p_host_add_advertised_addr instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"

static const char *const hop_protos[] = { RELAY_HOP_PROTOCOL, NULL };

struct listener {
    struct rlist link;
    p2p_accept_cb cb;
    void *arg;
};

struct dial {
    struct rlist link;
    struct relay_st *st;
    struct relay_caddr ca;
    p2p_dial_cb cb;
    void *arg;
    p2p_timer *timer;
    struct relay_ticket *tk;
    p2p_stream *s;
    struct relay_reader rd;
    bool reading;
};

/* ---- dialing ---------------------------------------------------------------------------- */

static void dial_free(struct dial *d)
{
    rlist_del(&d->link);
    if (d->timer) p2p_timer_free(d->timer);
    if (d->tk) d->tk->owner = NULL;
    if (d->reading) relay_reader_cancel(&d->rd);
    if (d->s) {
        p2p_stream_reset(d->s);
        p2p_stream_close(d->s);
    }
    free(d);
}

static void dial_done(struct dial *d, int status, p2p_stream *s)
{
    p2p_dial_cb cb = d->cb;
    void *arg = d->arg;
    char ps[P2P_PEERID_STRMAX];
    if (status)
        p2p_log_debug(MOD, "dial via relay %s failed: %s", relay_peer_str(&d->ca.relay, ps), p2p_strerror(status));
    if (s) d->s = NULL;   /* handed over */
    dial_free(d);
    cb(status, s, arg);
}

static void on_dial_timeout(p2p_timer *t, void *arg)
{
    (void)t;
    dial_done(arg, P2P_ETIMEDOUT, NULL);
}

static void on_connect_answer(struct relay_reader *r, int status, const struct relay_msg *m)
{
    struct dial *d = r->owner;
    d->reading = false;
    p2p_stream *s = d->s;
    if (!status && (m->type != RELAY_HOP_STATUS || !m->has_status)) status = P2P_EPROTO;
    if (!status && m->status != RELAY_STATUS_OK) {
        char ps[P2P_PEERID_STRMAX];
        p2p_log_debug(MOD, "relay %s refused the circuit: %s", relay_peer_str(&d->ca.relay, ps),
                      relay_status_name(m->status));
        status = relay_status_error(m->status);
    }
    if (status) return dial_done(d, status, NULL);
    char ps[P2P_PEERID_STRMAX], ls[RELAY_LIMIT_STRMAX];
    p2p_log_debug(MOD, "circuit via relay %s open (limit %s)", relay_peer_str(&d->ca.relay, ps),
                  relay_limit_str(m->has_limit ? &m->limit : NULL, ls, sizeof ls));
    /* Both ends of the raw stream are "at" the circuit through the relay. */
    p2p_multiaddr ca;
    p2p_conn *c = p2p_stream_conn(s);
    const p2p_multiaddr *via = d->ca.has_transport ? &d->ca.transport : c ? p2p_conn_remote_addr(c) : NULL;
    if (relay_caddr_make(via, &d->ca.relay, &ca) < 0) relay_caddr_make(NULL, &d->ca.relay, &ca);
    p2p_stream_set_addrs(s, &ca, &ca);
    dial_done(d, 0, s);
}

static void on_hop_opened(int status, p2p_stream *s, void *arg)
{
    struct dial *d = relay_ticket_take(arg);
    if (!d) {
        if (s) {
            p2p_stream_reset(s);
            p2p_stream_close(s);
        }
        return;
    }
    d->tk = NULL;
    if (status) return dial_done(d, status == P2P_ENEGOTIATE ? P2P_EUNSUPPORTED : status, NULL);
    d->s = s;
    struct relay_msg m;
    relay_msg_init(&m, RELAY_HOP, RELAY_HOP_CONNECT);
    m.has_peer = true;
    m.peer.id = d->ca.target;
    int rc = relay_send(s, &m);
    if (rc == 0) rc = relay_reader_start(&d->rd, d->st, s, RELAY_HOP, d->st->handshake_ms, on_connect_answer, d);
    if (rc < 0) return dial_done(d, rc, NULL);
    d->reading = true;
}

static void on_relay_conn(int status, p2p_conn *c, void *arg)
{
    struct dial *d = relay_ticket_take(arg);
    if (!d) return;
    d->tk = NULL;
    if (status) return dial_done(d, status, NULL);
    if (p2p_conn_limited(c)) return dial_done(d, P2P_EUNSUPPORTED, NULL);   /* no relay over a relay */
    d->tk = relay_ticket_new(d->st, d);
    int rc = d->tk ? p2p_conn_open_stream(c, hop_protos, on_hop_opened, d->tk) : P2P_ENOMEM;
    if (rc < 0) {
        if (d->tk) relay_ticket_take(d->tk);
        d->tk = NULL;
        dial_done(d, rc, NULL);
    }
}

static bool t_can_dial(void *state, const p2p_multiaddr *ma)
{
    (void)state;
    struct relay_caddr ca;
    return relay_caddr_parse(ma, &ca) == 0;
}

static int t_dial(void *state, const p2p_multiaddr *ma, const struct p2p_dial_opts *opts, p2p_dial_cb cb,
                  void *arg, void **op)
{
    struct relay_st *st = state;
    struct relay_caddr ca;
    if (st->stopped) return P2P_ECLOSED;
    if (relay_caddr_parse(ma, &ca) < 0) return P2P_EINVAL;
    if (!ca.has_target && opts && opts->peer) {
        ca.target = *opts->peer;
        ca.has_target = true;
    }
    if (!ca.has_target) return P2P_EINVAL;
    if (opts && opts->peer && !p2p_peerid_equal(opts->peer, &ca.target)) return P2P_EPEERID;
    const p2p_peerid *self = p2p_host_peerid(st->host);
    if (p2p_peerid_equal(&ca.relay, self) || p2p_peerid_equal(&ca.target, self)) return P2P_EINVAL;
    struct dial *d = calloc(1, sizeof *d);
    if (!d) return P2P_ENOMEM;
    d->st = st;
    d->ca = ca;
    d->cb = cb;
    d->arg = arg;
    rlist_add(&st->dials, &d->link);
    d->timer = p2p_timer_new(st->host, on_dial_timeout, d);
    d->tk = d->timer ? relay_ticket_new(st, d) : NULL;
    int rc = d->tk ? p2p_host_connect(st->host, &ca.relay, ca.has_transport ? &ca.transport : NULL,
                                      ca.has_transport ? 1 : 0, on_relay_conn, d->tk)
                   : P2P_ENOMEM;
    if (rc < 0) {
        if (d->tk) relay_ticket_take(d->tk);
        d->tk = NULL;
        dial_free(d);
        return rc;
    }
    uint64_t to = opts && opts->timeout_ms ? opts->timeout_ms : 2 * st->handshake_ms;
    p2p_timer_start(d->timer, to, 0);
    *op = d;
    return 0;
}

static void t_dial_cancel(void *state, void *op)
{
    (void)state;
    dial_free(op);
}

/* ---- listening ---------------------------------------------------------------------------- */

static bool t_can_listen(void *state, const p2p_multiaddr *ma)
{
    (void)state;
    struct relay_caddr ca;
    return relay_caddr_is_bare(ma) || (relay_caddr_parse(ma, &ca) == 0 && !ca.has_target);
}

static int t_listen(void *state, const p2p_multiaddr *ma, p2p_accept_cb cb, void *arg, void **listener,
                    char *err, size_t errlen)
{
    struct relay_st *st = state;
    struct relay_caddr ca;
    if (!relay_caddr_is_bare(ma)) {
        if (relay_caddr_parse(ma, &ca) < 0 || ca.has_target) {
            snprintf(err, errlen, "not a relay address (<relay addr>/p2p/<relay>/p2p-circuit)");
            return P2P_EINVAL;
        }
        int rc = relay_client_add_relay(st, &ca.relay, ca.has_transport ? &ca.transport : NULL);
        if (rc < 0) {
            snprintf(err, errlen, "%s", rc == P2P_ELIMIT ? "too many relays" : "cannot use that relay");
            return rc;
        }
    } else if (!st->nrelays) {
        p2p_log_warn(MOD, "listening on /p2p-circuit without relays: set [plugin relay] relays");
    }
    struct listener *l = calloc(1, sizeof *l);
    if (!l) return P2P_ENOMEM;
    l->cb = cb;
    l->arg = arg;
    rlist_add(&st->listeners, &l->link);
    *listener = l;
    st->circuit_listening = true;
    relay_client_update(st);
    return 0;
}

static size_t t_listen_addrs(void *state, void *listener, p2p_multiaddr *out, size_t max)
{
    (void)state; (void)listener; (void)out; (void)max;
    return 0;
}

static void t_listen_close(void *state, void *listener)
{
    struct relay_st *st = state;
    struct listener *l = listener;
    rlist_del(&l->link);
    free(l);
    if (rlist_empty(&st->listeners)) {
        st->circuit_listening = false;
        relay_client_update(st);
    }
}

bool relay_transport_listening(const struct relay_st *st)
{
    return !rlist_empty(&st->listeners);
}

bool relay_transport_deliver(struct relay_st *st, p2p_stream *raw)
{
    if (rlist_empty(&st->listeners) || st->stopped) return false;
    struct listener *l = RLIST_OF(st->listeners.next, struct listener, link);
    l->cb(raw, l->arg);
    return true;
}

/* ---- registration ---------------------------------------------------------------------------- */

static const struct p2p_transport_ops relay_ops = {
    .name = "p2p-circuit",
    .limited = true,
    .can_dial = t_can_dial,
    .can_listen = t_can_listen,
    .dial = t_dial,
    .dial_cancel = t_dial_cancel,
    .listen = t_listen,
    .listen_addrs = t_listen_addrs,
    .listen_close = t_listen_close,
};

int relay_transport_init(struct relay_st *st)
{
    return p2p_transport_add(st->host, &relay_ops, st);
}

/* Pending dials end with P2P_ECANCELED (their owners are stopping too). */
void relay_transport_stop(struct relay_st *st)
{
    while (!rlist_empty(&st->dials)) dial_done(RLIST_OF(st->dials.next, struct dial, link), P2P_ECANCELED, NULL);
    while (!rlist_empty(&st->listeners)) {
        struct listener *l = RLIST_OF(st->listeners.next, struct listener, link);
        rlist_del(&l->link);
        free(l);
    }
}

void relay_transport_fini(struct relay_st *st)
{
    relay_transport_stop(st);
    p2p_transport_remove(st->host, &relay_ops);
}
