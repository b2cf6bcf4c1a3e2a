/* plugin.c - the gossipsub plugin's glue: binds the router (gs_router.h)
 * to streams, connections, events and the heartbeat timer. The service
 * and the lifecycle are in plugin_service.c.
 *
 * Streams (as go, rust and js do): per peer, one outbound stream that we
 * write length-prefixed RPCs to, and the inbound streams the peer opened
 * (at most max_inbound_streams), which we read RPCs from. We open the
 * outbound stream when identify says the peer speaks a pubsub protocol
 * (P2P_EV_IDENTIFIED + p2p_peerstore_supports, as js does; also when a
 * later P2P_EV_PEER_UPDATED, e.g. an identify push, says so) or as soon as
 * the peer opens an inbound pubsub stream to us. Limited (relayed)
 * connections are skipped unless use_limited_connections is set. A peer
 * is known to the router from its first pubsub stream until its last one
 * is gone; a failing outbound stream drops the whole peer (it comes back
 * with its next stream or connection).
 *
 * Writing: after every router call, the router's output queues of dirty
 * peers are moved to their outbound streams while the stream's own queue
 * is below stream_hw; on_drain continues. The router bounds what waits.
 * After a publish and after received RPCs this happens from a deferred
 * call (gsp_flush, before the loop next polls), so that the messages a
 * caller publishes in a row share frames and writes, and so that a copy
 * queued to a peer whose own copy or IDONTWANT is read in the same loop
 * turn is never sent (pump_received).
 *
 * Events (deliveries, peers joining/leaving topics, PX) are dispatched
 * after the router call that produced them, outside it: callbacks may call
 * the service. A validator runs inside the router and must not publish or
 * subscribe (P2P_ESTATE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_int.h"

static const char *peer_str(const p2p_peerid *p, char buf[P2P_PEERID_STRMAX])
{
    if (p2p_peerid_to_string(p, buf, P2P_PEERID_STRMAX) < 0) snprintf(buf, P2P_PEERID_STRMAX, "?");
    return buf;
}

static uint64_t now(const struct gsp *g)
{
    return p2p_host_now_ms(g->host);
}

/* ---- peers --------------------------------------------------------------------------- */

static struct gsp_peer *peer_get(struct gsp *g, const p2p_peerid *id)
{
    for (struct gsp_peer *gp = g->peers; gp; gp = gp->next)
        if (p2p_peerid_equal(&gp->id, id)) return gp;
    return NULL;
}

static struct gsp_peer *peer_get_or_new(struct gsp *g, const p2p_peerid *id)
{
    struct gsp_peer *gp = peer_get(g, id);
    if (gp) return gp;
    gp = calloc(1, sizeof *gp);
    if (!gp) return NULL;
    gp->g = g;
    gp->id = *id;
    gp->next = g->peers;
    if (g->peers) g->peers->prev = gp;
    g->peers = gp;
    return gp;
}

static void in_free(struct gsp_in *in, bool reset)
{
    if (in->s) {
        if (reset) p2p_stream_reset(in->s);
        p2p_stream_close(in->s);
    }
    gs_framer_free(&in->fr);
    free(in);
}

static void in_unlink(struct gsp_peer *gp, struct gsp_in *in)
{
    for (struct gsp_in **pp = &gp->ins; *pp; pp = &(*pp)->next) {
        if (*pp == in) {
            *pp = in->next;
            gp->nins--;
            return;
        }
    }
}

static void stream_drop(p2p_stream **s, bool reset)
{
    if (!*s) return;
    if (reset) p2p_stream_reset(*s);
    p2p_stream_close(*s);
    *s = NULL;
}

static void open_cancel(struct gsp_open **t)
{
    if (!*t) return;
    (*t)->gp = NULL;   /* the open callback releases what it gets */
    *t = NULL;
}

static void close_out(struct gsp_peer *gp, bool reset)
{
    stream_drop(&gp->out, reset);
    stream_drop(&gp->moved, reset);
    open_cancel(&gp->open);
    open_cancel(&gp->move);
}

/* Forget the peer if no stream is left. */
static void peer_maybe_free(struct gsp_peer *gp)
{
    struct gsp *g = gp->g;
    if (gp->out || gp->open || gp->move || gp->moved || gp->ins) return;
    if (gp->routed) gs_router_remove_peer(g->r, &gp->id, now(g));
    if (gp->prev) gp->prev->next = gp->next;
    else g->peers = gp->next;
    if (gp->next) gp->next->prev = gp->prev;
    free(gp);
}

/* Drop every stream of the peer, and the peer. */
static void peer_drop(struct gsp_peer *gp, bool reset)
{
    close_out(gp, reset);
    while (gp->ins) {
        struct gsp_in *in = gp->ins;
        gp->ins = in->next;
        in_free(in, reset);
    }
    gp->nins = 0;
    peer_maybe_free(gp);
}

/* Make the peer known to the router. The protocol of our outbound stream
 * (outbound = true) is what we speak to the peer; an inbound stream's
 * protocol stands in until we have one. */
static void ensure_routed(struct gsp_peer *gp, const char *proto_id, p2p_conn *c, bool outbound)
{
    struct gsp *g = gp->g;
    int proto = gs_proto_parse(proto_id);
    if (proto < 0) proto = GS_MESHSUB_10;
    if (gp->routed) {
        if (outbound) gs_router_set_proto(g->r, &gp->id, (enum gs_proto)proto);
        return;
    }
    struct p2p_maddr_component ip = { 0 };
    const p2p_multiaddr *ra = p2p_conn_remote_addr(c);
    if (ra && !p2p_maddr_find(ra, P2P_MA_IP4, &ip)) p2p_maddr_find(ra, P2P_MA_IP6, &ip);
    int rc = gs_router_add_peer(g->r, &gp->id, (enum gs_proto)proto, p2p_conn_direction(c) == P2P_OUTBOUND,
                                ip.value, ip.value_len, now(g));
    if (rc == 0 || rc == P2P_EEXIST) {
        gp->routed = true;
    } else {
        char ps[P2P_PEERID_STRMAX];
        p2p_log_debug(MOD, "cannot route %s: %s", peer_str(&gp->id, ps), p2p_strerror(rc));
    }
}

static const struct p2p_stream_handlers out_handlers;

/* The moved stream replaces out once out has passed on every byte written
 * to it (closing a stream with queued bytes would reset it); meanwhile
 * nothing more is written to out. The old stream is half-closed, so the
 * peer reads to its end, and released. */
static void swap_out(struct gsp_peer *gp)
{
    if (!gp->moved || (gp->out && p2p_stream_write_queued(gp->out))) return;
    if (gp->out) {
        p2p_stream_shutdown(gp->out);
        p2p_stream_close(gp->out);
    }
    gp->out = gp->moved;
    gp->charged = 0;
    gp->out_conn_id = gp->moved_conn_id;
    gp->out_limited = false;
    gp->moved = NULL;
    p2p_stream_set_handlers(gp->out, &out_handlers, gp);
    char ps[P2P_PEERID_STRMAX];
    p2p_log_debug(MOD, "pubsub stream to %s moved to a direct connection (conn %llu)", peer_str(&gp->id, ps),
                  (unsigned long long)gp->out_conn_id);
}

/* Move queued bytes to the outbound stream. false: the peer was dropped. */
static bool flush_peer(struct gsp_peer *gp)
{
    struct gsp *g = gp->g;
    swap_out(gp);
    if (!gp->out || gp->moved || !gp->routed) return true;
    p2p_buf *b = gs_router_outq(g->r, &gp->id);
    while (b && b->len && p2p_stream_write_queued(gp->out) < g->stream_hw) {
        size_t n = b->len < GS_SEND_TARGET ? b->len : GS_SEND_TARGET;
        int rc = p2p_stream_write(gp->out, p2p_buf_head(b), n);
        if (rc < 0) {
            char ps[P2P_PEERID_STRMAX];
            p2p_log_debug(MOD, "writing to %s failed: %s", peer_str(&gp->id, ps), p2p_strerror(rc));
            peer_drop(gp, true);
            return false;
        }
        p2p_buf_consume(b, n);
    }
    /* The router's queue for this peer counts in the host's memory budget,
     * on the peer's connection (the stream uncharges what is left when it
     * is released). */
    size_t held = b ? b->len : 0;
    p2p_stream_charge(gp->out, (int64_t)held - (int64_t)gp->charged);
    gp->charged = held;
    return true;
}

/* ---- events to the application ---------------------------------------------------------- */

static void dispatch_message(struct gsp *g, const struct gs_event *ev)
{
    const struct gs_msg *m = ev->msg;
    struct p2p_pubsub_msg pm = {
        .topic = m->topic,
        .data = m->data,
        .len = m->len,
        .author = m->has_from ? &m->from : NULL,
        .seqno = m->has_seqno ? m->seqno : NULL,
        .seqno_len = m->has_seqno ? GS_SEQNO_LEN : 0,
        .received_from = &ev->peer,
        .id = m->id,
        .id_len = m->id_len,
    };
    for (struct p2p_pubsub_sub *s = g->subs; s; s = s->next)
        if (!s->dead && !strcmp(s->t->name, m->topic)) s->cb(&pm, s->arg);
}

static void on_connected_px(int status, p2p_conn *c, void *arg)
{
    (void)status;
    (void)c;
    (void)arg;
}

static void dispatch(struct gsp *g, const struct gs_event *ev)
{
    switch (ev->type) {
    case GS_EV_MESSAGE:
        dispatch_message(g, ev);
        break;
    case GS_EV_PEER_JOINED:
    case GS_EV_PEER_LEFT:
        for (struct gsp_listener *l = g->listeners; l; l = l->next)
            if (!l->dead) l->cb(ev->topic, &ev->peer, ev->type == GS_EV_PEER_JOINED, l->arg);
        break;
    case GS_EV_PX:
        /* Signed peer records are not used: the PeerId goes to the peer
         * store without addresses (other discovery may supply them). */
        p2p_peerstore_add_addrs(g->host, &ev->peer, NULL, 0, 0);
        if (g->px_connect && !p2p_host_conn_to(g->host, &ev->peer) && p2p_peerstore_addrs(g->host, &ev->peer, NULL, 0))
            p2p_host_connect(g->host, &ev->peer, NULL, 0, on_connected_px, NULL);
        break;
    }
}

static void flush_dirty(struct gsp *g)
{
    p2p_peerid id;
    while (gs_router_next_dirty(g->r, &id)) {
        struct gsp_peer *gp = peer_get(g, &id);
        if (gp) flush_peer(gp);
    }
}

/* Dispatch the router's events (unless an outer pump is doing so);
 * flush: write after each (its callbacks may publish). */
static void dispatch_events(struct gsp *g, bool flush)
{
    if (g->pumping) return;
    g->pumping = true;
    struct gs_event ev;
    while (gs_router_next_event(g->r, &ev)) {
        dispatch(g, &ev);
        gs_event_clear(&ev);
        if (flush) flush_dirty(g);
    }
    g->pumping = false;
}

void gsp_pump(struct gsp *g)
{
    flush_dirty(g);
    dispatch_events(g, true);
    p2p_defer_schedule(g->host, &g->sweep);
}

/* After received RPCs: deliver now, write from the flush defer, which
 * runs once the loop has handled every read of this turn. Meanwhile the
 * copies and IDONTWANTs that other peers' RPCs of the same turn bring
 * take the copies queued to those peers out again (gs_out_cancel: they
 * have the message), and a peer gets one write per turn however many
 * RPCs made output for it. */
static void pump_received(struct gsp *g)
{
    dispatch_events(g, false);
    p2p_defer_schedule(g->host, &g->flush);
    p2p_defer_schedule(g->host, &g->sweep);
}

enum p2p_pubsub_validation gsp_validate(void *arg, const struct gs_msg *m, const p2p_peerid *from)
{
    struct gsp *g = arg;
    for (struct gsp_validator *v = g->validators; v; v = v->next) {
        if (strcmp(v->topic, m->topic)) continue;
        struct p2p_pubsub_msg pm = {
            .topic = m->topic, .data = m->data, .len = m->len,
            .author = m->has_from ? &m->from : NULL,
            .seqno = m->has_seqno ? m->seqno : NULL, .seqno_len = m->has_seqno ? GS_SEQNO_LEN : 0,
            .received_from = from, .id = m->id, .id_len = m->id_len,
        };
        p2p_pubsub_validator fn = v->fn;
        void *varg = v->arg;
        g->in_validator++;
        enum p2p_pubsub_validation r = fn(&pm, varg);
        g->in_validator--;
        return r == P2P_PUBSUB_REJECT || r == P2P_PUBSUB_IGNORE ? r : P2P_PUBSUB_ACCEPT;
    }
    return P2P_PUBSUB_ACCEPT;
}

/* ---- streams ------------------------------------------------------------------------------------ */

static void in_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    struct gsp_in *in = arg;
    struct gsp_peer *gp = in->gp;
    struct gsp *g = gp->g;
    char ps[P2P_PEERID_STRMAX];
    int rc = gs_framer_push(&in->fr, data, len);
    const uint8_t *frame;
    size_t flen;
    bool logged = false;
    while (rc == 0 && (rc = gs_framer_next(&in->fr, &frame, &flen)) == 1) {
        if (!gp->routed) {
            rc = 0;
            continue;
        }
        /* What the RPC did wrong, for the log (the router does no I/O). */
        bool dbg = p2p_log_enabled(MOD, P2P_LOG_DEBUG);
        struct gs_stats st0, st1;
        if (dbg) gs_router_stats(g->r, &st0);
        rc = gs_router_handle_rpc(g->r, &gp->id, frame, flen, now(g));
        if (rc < 0) {
            p2p_log_debug(MOD, "bad RPC from %s (%zu bytes): %s", peer_str(&gp->id, ps), flen, p2p_strerror(rc));
            logged = true;
        } else if (dbg) {
            gs_router_stats(g->r, &st1);
            if (st1.rpcs_graylisted > st0.rpcs_graylisted)
                p2p_log_debug(MOD, "ignoring an RPC from %s: its score is below the graylist threshold",
                              peer_str(&gp->id, ps));
            if (st1.msgs_invalid > st0.msgs_invalid)
                p2p_log_debug(MOD, "%s sent %llu invalid message(s) (penalised)", peer_str(&gp->id, ps),
                              (unsigned long long)(st1.msgs_invalid - st0.msgs_invalid));
        }
    }
    if (rc < 0) {
        /* Errors of the framer (a bad length prefix, a frame over
         * max_rpc_size) were not logged above. */
        if (!logged)
            p2p_log_debug(MOD, "inbound stream from %s: %s%s", peer_str(&gp->id, ps), p2p_strerror(rc),
                          rc == P2P_ERANGE ? " (frame over max_rpc_size)" : rc == P2P_EPROTO ? " (bad frame)" : "");
        in_unlink(gp, in);
        in_free(in, true);
        peer_maybe_free(gp);
    }
    pump_received(g);
}

static void in_end(struct gsp_in *in)
{
    struct gsp_peer *gp = in->gp;
    struct gsp *g = gp->g;
    in_unlink(gp, in);
    in_free(in, false);
    peer_maybe_free(gp);
    gsp_pump(g);
}

static void in_eof(p2p_stream *s, void *arg)
{
    (void)s;
    in_end(arg);
}

static void in_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    (void)err;
    in_end(arg);
}

static const struct p2p_stream_handlers in_handlers = { in_read, in_eof, in_error, NULL };

static void out_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    (void)data;
    (void)len;
    (void)arg;   /* nothing is expected on our outbound stream: ignored */
}

static void out_end(struct gsp_peer *gp)
{
    struct gsp *g = gp->g;
    char ps[P2P_PEERID_STRMAX];
    p2p_log_debug(MOD, "outbound stream to %s closed", peer_str(&gp->id, ps));
    peer_drop(gp, true);
    gsp_pump(g);
}

/* The peer half-closed our outbound stream: it never writes on it anyway,
 * and we can still write; only errors and resets end it. */
static void out_eof(p2p_stream *s, void *arg)
{
    (void)s;
    (void)arg;
}

static void out_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    (void)err;
    out_end(arg);
}

static void out_drain(p2p_stream *s, void *arg)
{
    (void)s;
    flush_peer(arg);
}

static const struct p2p_stream_handlers out_handlers = { out_read, out_eof, out_error, out_drain };

static void maybe_move(struct gsp_peer *gp, p2p_conn *c);
static void on_move(struct gsp_peer *gp, int status, p2p_stream *s);

static void on_open(int status, p2p_stream *s, void *arg)
{
    struct gsp_open *t = arg;
    struct gsp_peer *gp = t->gp;
    bool move = t->move;
    free(t);
    if (!gp) {
        if (s) p2p_stream_close(s);
        return;
    }
    if (move) return on_move(gp, status, s);
    struct gsp *g = gp->g;
    gp->open = NULL;
    char ps[P2P_PEERID_STRMAX];
    if (status) {
        p2p_log_debug(MOD, "cannot open a pubsub stream to %s: %s", peer_str(&gp->id, ps), p2p_strerror(status));
        peer_drop(gp, true);
        gsp_pump(g);
        return;
    }
    gp->out = s;
    gp->charged = 0;
    gp->out_conn_id = gp->open_conn_id;
    gp->out_limited = p2p_stream_conn(s) && p2p_conn_limited(p2p_stream_conn(s));
    p2p_stream_set_handlers(s, &out_handlers, gp);
    p2p_stream_read_start(s);
    p2p_log_debug(MOD, "%s speaks %s", peer_str(&gp->id, ps), p2p_stream_protocol(s));
    ensure_routed(gp, p2p_stream_protocol(s), p2p_stream_conn(s), true);
    if (!gp->routed) {
        peer_drop(gp, true);
        return;
    }
    /* A direct connection may have come up while we opened this one. */
    maybe_move(gp, p2p_host_conn_to(g->host, &gp->id));
    flush_peer(gp);
    gsp_pump(g);
}

static void moved_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    struct gsp_peer *gp = arg;
    char ps[P2P_PEERID_STRMAX];
    p2p_log_debug(MOD, "new pubsub stream to %s failed: %s", peer_str(&gp->id, ps), p2p_strerror(err));
    stream_drop(&gp->moved, true);
    if (!gp->out) peer_drop(gp, true);
    gsp_pump(gp->g);
}

static const struct p2p_stream_handlers moved_handlers = { out_read, out_eof, moved_error, NULL };

static void on_move(struct gsp_peer *gp, int status, p2p_stream *s)
{
    struct gsp *g = gp->g;
    gp->move = NULL;
    char ps[P2P_PEERID_STRMAX];
    if (status) {
        p2p_log_debug(MOD, "cannot open a pubsub stream to %s on the direct connection: %s", peer_str(&gp->id, ps),
                      p2p_strerror(status));
        if (!gp->out && !gp->open) peer_drop(gp, true);
        gsp_pump(g);
        return;
    }
    gp->moved = s;
    gp->moved_conn_id = gp->move_conn_id;
    p2p_stream_set_handlers(s, &moved_handlers, gp);
    p2p_stream_read_start(s);
    ensure_routed(gp, p2p_stream_protocol(s), p2p_stream_conn(s), true);
    flush_peer(gp);
    gsp_pump(g);
}

/* A better connection to the peer than the limited (relayed) one our
 * outbound stream runs on - the direct one after a hole punch: open a
 * stream on it and move over (swap_out), so the relayed connection can
 * close. The router keeps the peer, its mesh membership and its score:
 * nobody "leaves" the room. */
/* Open an outbound pubsub stream on c: the peer's first one (gp->open),
 * or the one to move to (gp->move). */
static void open_out(struct gsp_peer *gp, p2p_conn *c, bool move)
{
    struct gsp_open *t = malloc(sizeof *t);
    if (!t) return;
    t->gp = gp;
    t->move = move;
    struct gsp_open **slot = move ? &gp->move : &gp->open;
    *slot = t;
    *(move ? &gp->move_conn_id : &gp->open_conn_id) = p2p_conn_id(c);
    int rc = p2p_conn_open_stream(c, gp->g->protos, on_open, t);
    if (rc < 0) {
        *slot = NULL;
        free(t);
        char ps[P2P_PEERID_STRMAX];
        p2p_log_debug(MOD, "cannot open a pubsub stream to %s: %s", peer_str(&gp->id, ps), p2p_strerror(rc));
    }
}

static void maybe_move(struct gsp_peer *gp, p2p_conn *c)
{
    if (!c || p2p_conn_limited(c) || !gp->out || !gp->out_limited || gp->move || gp->moved || !gp->g->started)
        return;
    open_out(gp, c, true);
}

static void ensure_outbound(struct gsp_peer *gp, p2p_conn *c)
{
    if (gp->out || gp->open || !gp->g->started) return;
    open_out(gp, c, false);
}

static bool conn_usable(const struct gsp *g, p2p_conn *c)
{
    return c && (g->use_limited || !p2p_conn_limited(c));
}

static void on_stream(p2p_stream *s, const char *protocol_id, void *arg)
{
    struct gsp *g = arg;
    p2p_conn *c = p2p_stream_conn(s);
    struct gsp_peer *gp = NULL;
    if (g->started && conn_usable(g, c)) gp = peer_get_or_new(g, p2p_conn_peer(c));
    if (!gp || gp->nins >= g->max_inbound) {
        if (gp) {
            char ps[P2P_PEERID_STRMAX];
            p2p_log_debug(MOD, "refusing a pubsub stream from %s: %zu already open", peer_str(&gp->id, ps), gp->nins);
        }
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    struct gsp_in *in = calloc(1, sizeof *in);
    if (!in) {
        p2p_stream_reset(s);
        p2p_stream_close(s);
        peer_maybe_free(gp);
        return;
    }
    in->gp = gp;
    in->s = s;
    in->conn_id = p2p_conn_id(c);
    gs_framer_init(&in->fr, g->cfg.max_rpc_size);
    in->next = gp->ins;
    gp->ins = in;
    gp->nins++;
    p2p_stream_set_handlers(s, &in_handlers, in);
    ensure_routed(gp, protocol_id, c, false);
    ensure_outbound(gp, c);
    maybe_move(gp, c);
    p2p_stream_read_start(s);
    gsp_pump(g);
}

/* ---- connection events -------------------------------------------------------------------------- */

static bool speaks_pubsub(const struct gsp *g, const p2p_peerid *peer)
{
    for (size_t i = 0; g->protos[i]; i++)
        if (p2p_peerstore_supports(g->host, peer, g->protos[i])) return true;
    return false;
}

static void on_disconnected(struct gsp *g, p2p_conn *c, const p2p_peerid *peer)
{
    struct gsp_peer *gp = peer_get(g, peer);
    if (!gp) return;
    uint64_t id = p2p_conn_id(c);
    for (struct gsp_in *in = gp->ins, *next; in; in = next) {
        next = in->next;
        if (in->conn_id != id) continue;
        in_unlink(gp, in);
        in_free(in, true);
    }
    if (gp->out && gp->out_conn_id == id) stream_drop(&gp->out, true);
    if (gp->moved && gp->moved_conn_id == id) stream_drop(&gp->moved, true);
    if (gp->open && gp->open_conn_id == id) open_cancel(&gp->open);
    if (gp->move && gp->move_conn_id == id) open_cancel(&gp->move);
    swap_out(gp);   /* a stream already moved to another connection takes over */
    if (!gp->out && !gp->open && !gp->move) {
        /* Another connection to the peer (the direct one that replaced a
         * relayed one, or the peer's streams): send on it. */
        p2p_conn *other = p2p_host_conn_to(g->host, peer);
        if (other && other != c && conn_usable(g, other)) ensure_outbound(gp, other);
        if (!gp->open) peer_drop(gp, true);
        gsp_pump(g);
        return;
    }
    peer_maybe_free(gp);
    gsp_pump(g);
}

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct gsp *g = arg;
    if (!g->started) return;
    if (ev->type == P2P_EV_IDENTIFIED) {
        if (!conn_usable(g, ev->conn) || !speaks_pubsub(g, ev->peer)) return;
        struct gsp_peer *gp = peer_get_or_new(g, ev->peer);
        if (!gp) return;
        ensure_outbound(gp, ev->conn);
        maybe_move(gp, ev->conn);
    } else if (ev->type == P2P_EV_PEER_UPDATED) {
        /* Protocols learned later (identify push): a connected peer that
         * now speaks pubsub. */
        if (!ev->peer || peer_get(g, ev->peer) || !speaks_pubsub(g, ev->peer)) return;
        p2p_conn *c = p2p_host_conn_to(g->host, ev->peer);
        if (!conn_usable(g, c)) return;
        struct gsp_peer *gp = peer_get_or_new(g, ev->peer);
        if (gp) ensure_outbound(gp, c);
    } else if (ev->type == P2P_EV_DISCONNECTED) {
        on_disconnected(g, ev->conn, ev->peer);
    }
}

static void on_heartbeat(p2p_timer *t, void *arg)
{
    (void)t;
    struct gsp *g = arg;
    /* We take bytes from the router's queues only when a stream's own
     * queue empties (on_drain): tell the router which peers read since the
     * last heartbeat, so that it does not take a slowly reading peer for a
     * slow one. */
    for (struct gsp_peer *gp = g->peers; gp; gp = gp->next) {
        size_t q = gp->out ? p2p_stream_write_queued(gp->out) : 0;
        if (gp->routed && q < gp->out_queued) gs_router_peer_progress(g->r, &gp->id, now(g));
        gp->out_queued = q;
    }
    gs_router_heartbeat(g->r, now(g));
    struct gs_stats st;
    gs_router_stats(g->r, &st);
    if (st.broken_promises > g->broken_promises_seen)
        p2p_log_debug(MOD, "%llu IWANT promise(s) broken (peers penalised)",
                      (unsigned long long)(st.broken_promises - g->broken_promises_seen));
    g->broken_promises_seen = st.broken_promises;
    if (st.msgs_dropped_slow > g->dropped_slow_seen || st.slow_pruned > g->slow_pruned_seen)
        p2p_log_warn(MOD,
                     "slow peers (full send queue, nothing read for slow_peer_timeout): %llu publication(s) not "
                     "sent to them, %llu pruned from a mesh since the last heartbeat",
                     (unsigned long long)(st.msgs_dropped_slow - g->dropped_slow_seen),
                     (unsigned long long)(st.slow_pruned - g->slow_pruned_seen));
    g->dropped_slow_seen = st.msgs_dropped_slow;
    g->slow_pruned_seen = st.slow_pruned;
    gsp_pump(g);
}

/* ---- deferred work ------------------------------------------------------------------------------------ */

void gsp_flush(void *arg)
{
    gsp_pump(arg);
}

void gsp_sweep(void *arg)
{
    struct gsp *g = arg;
    if (g->pumping || g->in_validator) return;
    for (struct p2p_pubsub_sub **pp = &g->subs; *pp;) {
        struct p2p_pubsub_sub *s = *pp;
        if (!s->dead) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        free(s);
    }
    for (struct gsp_listener **pp = &g->listeners; *pp;) {
        struct gsp_listener *l = *pp;
        if (!l->dead) {
            pp = &l->next;
            continue;
        }
        *pp = l->next;
        free(l);
    }
    /* Topics whose last subscription ended: leave them. */
    bool left = false;
    for (struct gsp_topic **pp = &g->topics; *pp;) {
        struct gsp_topic *t = *pp;
        if (t->nsubs) {
            pp = &t->next;
            continue;
        }
        *pp = t->next;
        gs_router_leave(g->r, t->name, now(g));
        free(t->name);
        free(t);
        g->ntopics--;
        left = true;
    }
    if (left) gsp_pump(g);
}

/* ---- start / stop -------------------------------------------------------------------------------------- */

int gsp_start_io(struct gsp *g)
{
    g->hb = p2p_timer_new(g->host, on_heartbeat, g);
    g->evsub = p2p_host_subscribe(g->host, P2P_EV_IDENTIFIED | P2P_EV_PEER_UPDATED | P2P_EV_DISCONNECTED,
                                  on_event, g);
    if (!g->hb || !g->evsub) {
        p2p_timer_free(g->hb);
        if (g->evsub) p2p_host_unsubscribe(g->host, g->evsub);
        g->hb = NULL;
        g->evsub = NULL;
        return P2P_ENOMEM;
    }
    g->started = true;
    p2p_timer_start(g->hb, g->hb_initial_ms, g->cfg.heartbeat_ms);
    /* Connections identified before we started. */
    p2p_conn *cs[64];
    size_t n = p2p_host_conns(g->host, cs, 64);
    for (size_t i = 0; i < n && i < 64; i++) {
        const p2p_peerid *peer = p2p_conn_peer(cs[i]);
        if (!conn_usable(g, cs[i]) || !speaks_pubsub(g, peer)) continue;
        struct gsp_peer *gp = peer_get_or_new(g, peer);
        if (gp) ensure_outbound(gp, cs[i]);
    }
    return 0;
}

void gsp_stop_io(struct gsp *g)
{
    if (!g->started) return;
    g->started = false;
    p2p_host_unsubscribe(g->host, g->evsub);
    g->evsub = NULL;
    p2p_timer_free(g->hb);
    g->hb = NULL;
    while (g->peers) peer_drop(g->peers, true);
    /* Events of the removed peers are of no interest any more. */
    struct gs_event ev;
    while (gs_router_next_event(g->r, &ev)) gs_event_clear(&ev);
    p2p_defer_cancel(g->host, &g->sweep);
    p2p_defer_cancel(g->host, &g->flush);
}

void gsp_on_stream(p2p_stream *s, const char *protocol_id, void *arg)
{
    on_stream(s, protocol_id, arg);
}
