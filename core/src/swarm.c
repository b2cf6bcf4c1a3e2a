/* swarm.c - the set of connections: listening, dialing (with coalescing
 * of concurrent dials to one peer), limits, the choice between two
 * connections to one peer, idle closing, and connection events. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/log.h"
#include "swarm.h"

#define MOD "swarm"

/* The PeerId as text, for a log line: base58 costs ~10k instructions, so
 * it is called inside p2p_log_*() arguments, which run only when the line
 * is written. */
static const char *peer_str(const p2p_peerid *p, char buf[P2P_PEERID_STRMAX])
{
    if (p2p_peerid_to_string(p, buf, P2P_PEERID_STRMAX) < 0) strcpy(buf, "?");
    return buf;
}
#define MAX_DIAL_ADDRS 16
#define MAX_ROLE_HINTS 64

struct dial_waiter {
    p2p_connect_cb cb;
    void *arg;
    struct dial_waiter *next;
};

struct dial_job {
    p2p_host *host;
    struct p2p_list link;
    bool has_peer;
    p2p_peerid peer;
    p2p_multiaddr addrs[MAX_DIAL_ADDRS];
    size_t naddrs, next;
    int last_err;
    const struct p2p_transport_ops *t;
    void *tstate, *op;             /* transport dial in progress */
    struct upgrade *up;            /* upgrade in progress */
    struct dial_waiter *waiters;
    struct p2p_defer kick;
    /* p2p_host_connect_opts: never merged with other requests */
    bool opts, direct, reuse_port;
    bool fresh;                    /* satisfied only by its own connection */
    bool parked;                   /* dials failed; waiting for the peer's side (see job_finish) */
    enum p2p_upgrade_role role;
    uint64_t timeout_ms;
};

/* A hole punch in progress (p2p_connect_opts.role): a connection our
 * listeners accept from addr before `expires` takes `role`. */
struct role_hint {
    struct p2p_list link;          /* in swarm.role_hints */
    p2p_peerid peer;
    p2p_multiaddr addr;            /* without /p2p */
    enum p2p_upgrade_role role;
    uint64_t expires;              /* loop ms */
};

/* ---- configuration --------------------------------------------------- */

int p2p_swarm_init(p2p_host *h, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    struct p2p_swarm *sw = calloc(1, sizeof *sw);
    if (!sw) return P2P_ENOMEM;
    sw->host = h;
    p2p_list_init(&sw->conns);
    p2p_list_init(&sw->upgrades);
    p2p_list_init(&sw->dials);
    p2p_list_init(&sw->role_hints);
    const p2p_conf_section *hs = h->host_section;
    sw->max_conns = (size_t)p2p_conf_int(hs, "max_connections");
    sw->max_conns_per_peer = (size_t)p2p_conf_int(hs, "max_connections_per_peer");
    sw->max_pending_in = (size_t)p2p_conf_int(hs, "max_pending_incoming");
    sw->max_pending_out = (size_t)p2p_conf_int(hs, "max_pending_outgoing");
    sw->max_in_per_ip = (size_t)p2p_conf_int(hs, "max_incoming_per_ip");
    sw->limit_loopback = p2p_conf_bool(hs, "limit_loopback");
    sw->dial_timeout = p2p_conf_duration_ms(hs, "dial_timeout");
    sw->upgrade_timeout = p2p_conf_duration_ms(hs, "upgrade_timeout");
    sw->negotiate_timeout = p2p_conf_duration_ms(hs, "stream_negotiation_timeout");
    sw->max_negotiating = (size_t)p2p_conf_int(hs, "max_negotiating_streams");
    sw->idle_timeout = p2p_conf_duration_ms(hs, "idle_timeout");
    sw->close_timeout = p2p_conf_duration_ms(hs, "close_timeout");
    sw->auto_dial = p2p_conf_bool(hs, "auto_dial");
    h->swarm = sw;
    p2p_swarm_metrics_init(h);
    p2p_membudget_init(h);
    return 0;
}

/* ---- hole-punch roles --------------------------------------------------- */

static void hint_free(struct p2p_swarm *sw, struct role_hint *r)
{
    p2p_list_del(&r->link);
    sw->nrole_hints--;
    free(r);
}

static void hints_expire(struct p2p_swarm *sw, uint64_t now)
{
    struct p2p_list *pos, *tmp;
    p2p_list_for_each_safe(pos, tmp, &sw->role_hints) {
        struct role_hint *r = P2P_CONTAINER_OF(pos, struct role_hint, link);
        if (now >= r->expires) hint_free(sw, r);
    }
}

/* ma without a trailing /p2p/<id>. */
static void strip_p2p(p2p_multiaddr *ma)
{
    struct p2p_maddr_component c;
    size_t off = 0;
    uint32_t last = 0;
    while (p2p_maddr_next(ma, &off, &c) == 1) last = c.code;
    if (last == P2P_MA_P2P) p2p_maddr_pop(ma);
}

static void hint_add(struct p2p_swarm *sw, const p2p_peerid *peer, const p2p_multiaddr *addr,
                     enum p2p_upgrade_role role, uint64_t expires)
{
    p2p_multiaddr a = *addr;
    strip_p2p(&a);
    struct p2p_list *pos, *tmp;
    p2p_list_for_each_safe(pos, tmp, &sw->role_hints) {
        struct role_hint *r = P2P_CONTAINER_OF(pos, struct role_hint, link);
        if (p2p_maddr_equal(&r->addr, &a)) hint_free(sw, r);   /* the newest wins */
    }
    if (sw->nrole_hints >= MAX_ROLE_HINTS)   /* the oldest goes */
        hint_free(sw, P2P_CONTAINER_OF(sw->role_hints.next, struct role_hint, link));
    struct role_hint *r = calloc(1, sizeof *r);
    if (!r) return;
    *r = (struct role_hint){ .peer = *peer, .addr = a, .role = role, .expires = expires };
    p2p_list_add_tail(&sw->role_hints, &r->link);
    sw->nrole_hints++;
}

static struct role_hint *hint_find(struct p2p_swarm *sw, const p2p_multiaddr *remote)
{
    hints_expire(sw, p2p_host_now_ms(sw->host));
    struct p2p_list *pos, *tmp;
    p2p_list_for_each_safe(pos, tmp, &sw->role_hints) {
        struct role_hint *r = P2P_CONTAINER_OF(pos, struct role_hint, link);
        if (p2p_maddr_equal(&r->addr, remote)) return r;
    }
    return NULL;
}

/* Whether a raw stream's local address uses one of our listening ports
 * (a reuse_port dial that did not fall back to an ephemeral port). */
static bool on_listen_port(p2p_host *h, const p2p_multiaddr *local)
{
    static const uint32_t codes[] = { P2P_MA_TCP, P2P_MA_UDP };
    p2p_multiaddr la[32];
    size_t n = p2p_host_listen_addrs(h, la, 32);
    if (n > 32) n = 32;
    for (size_t k = 0; k < 2; k++) {
        struct p2p_maddr_component lc, c;
        if (!p2p_maddr_find(local, codes[k], &lc)) continue;
        for (size_t i = 0; i < n; i++)
            if (p2p_maddr_find(&la[i], codes[k], &c) && c.value_len == lc.value_len &&
                !memcmp(c.value, lc.value, c.value_len))
                return true;
    }
    return false;
}

/* ---- the per-IP limit ------------------------------------------------- */

size_t p2p_swarm_ip_key(const p2p_multiaddr *a, uint8_t key[8], bool *loopback)
{
    struct p2p_maddr_component c;
    static const uint8_t v6_loopback[16] = { [15] = 1 };
    if (p2p_maddr_find(a, P2P_MA_IP4, &c) && c.value_len == 4) {
        memcpy(key, c.value, 4);
        *loopback = c.value[0] == 127;
        return 4;
    }
    if (p2p_maddr_find(a, P2P_MA_IP6, &c) && c.value_len == 16) {
        memcpy(key, c.value, 8);
        *loopback = !memcmp(c.value, v6_loopback, 16);
        return 8;
    }
    return 0;
}

/* True when one more inbound connection from raw's address would exceed
 * max_incoming_per_ip: established inbound connections plus inbound
 * upgrades from the same IPv4 address or IPv6 /64. The refusal costs the
 * offending address only; everyone else still gets in. */
static bool over_ip_limit(struct p2p_swarm *sw, const p2p_multiaddr *remote)
{
    uint8_t key[8], k[8];
    bool lo;
    size_t len = p2p_swarm_ip_key(remote, key, &lo);
    if (!sw->max_in_per_ip || !len || (lo && !sw->limit_loopback)) return false;
    size_t n = p2p_upgrade_inbound_from(sw->host, key, len);
    struct p2p_list *pos, *tmp;
    p2p_list_for_each_safe(pos, tmp, &sw->conns) {
        struct p2p_conn *c = P2P_CONTAINER_OF(pos, struct p2p_conn, link);
        if (c->dir == P2P_INBOUND && !c->limited && !c->gone &&
            p2p_swarm_ip_key(p2p_conn_remote_addr(c), k, &lo) == len && !memcmp(k, key, len))
            n++;
    }
    return n >= sw->max_in_per_ip;
}

/* ---- listening ------------------------------------------------------- */

static void on_accept(p2p_stream *raw, void *arg)
{
    struct swarm_listener *l = arg;
    p2p_host *h = l->host;
    struct p2p_swarm *sw = h->swarm;
    if (sw->stopping || sw->pending_in >= sw->max_pending_in) {
        p2p_log_debug(MOD, "refusing an inbound connection: %s",
                      sw->stopping ? "shutting down" : "too many pending inbound upgrades");
        p2p_swarm_metrics_refused(h, sw->stopping ? "shutting_down" : "max_pending_incoming");
        p2p_stream_reset(raw);
        p2p_stream_close(raw);
        return;
    }
    if (!l->t->limited && over_ip_limit(sw, p2p_stream_remote_addr(raw))) {
        char ra[P2P_MADDR_STRMAX];
        if (p2p_maddr_to_string(p2p_stream_remote_addr(raw), ra, sizeof ra) < 0) strcpy(ra, "?");
        p2p_log_debug(MOD, "refusing an inbound connection from %s: max_incoming_per_ip (%zu) reached",
                      ra, sw->max_in_per_ip);
        p2p_stream_reset(raw);
        p2p_stream_close(raw);
        return;
    }
    struct role_hint *r = l->t->limited ? NULL : hint_find(sw, p2p_stream_remote_addr(raw));
    if (r) {
        char ra[P2P_MADDR_STRMAX];
        if (p2p_maddr_to_string(&r->addr, ra, sizeof ra) < 0) strcpy(ra, "?");
        p2p_log_debug(MOD, "accepted %s during a hole punch: upgrading as %s", ra,
                      r->role == P2P_ROLE_INITIATOR ? "initiator" : "responder");
        p2p_upgrade_start(h, raw, false, r->role == P2P_ROLE_INITIATOR, &r->peer, false, NULL, NULL, NULL);
        return;
    }
    /* Inbound over a limited transport (a relay circuit): a limited conn. */
    p2p_upgrade_inbound(h, raw, l->t->limited, NULL);
}

static void emit_addrs_changed(p2p_host *h)
{
    struct p2p_event ev = { .type = P2P_EV_ADDRS_CHANGED };
    p2p_host_emit(h, &ev);
}

int p2p_swarm_start(p2p_host *h, char *err, size_t errlen)
{
    struct p2p_swarm *sw = h->swarm;
    const p2p_conf_section *hs = h->host_section;
    size_t n = p2p_conf_list_len(hs, "listen");
    if (n) {
        sw->listeners = calloc(n, sizeof *sw->listeners);
        if (!sw->listeners) return P2P_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const char *text = p2p_conf_list_at(hs, "listen", i);
        p2p_multiaddr ma;
        char why[256];
        if (p2p_maddr_parse(&ma, text, why, sizeof why) != 0) {
            snprintf(err, errlen, "[host] listen: '%s' is not a multiaddr (%s)", text, why);
            return P2P_ECONFIG;
        }
        void *ts;
        const struct p2p_transport_ops *t = p2p_transport_for(h, &ma, true, &ts);
        if (!t) {
            snprintf(err, errlen, "cannot listen on %s: no loaded transport plugin handles it "
                     "(add [plugin transport-tcp] for /tcp addresses)", text);
            return P2P_EUNSUPPORTED;
        }
        /* listeners[] is never reallocated: l is the accept callback's arg. */
        struct swarm_listener *l = &sw->listeners[sw->nlisteners];
        l->host = h;
        l->t = t;
        l->tstate = ts;
        why[0] = 0;
        int rc = t->listen(ts, &ma, on_accept, l, &l->l, why, sizeof why);
        if (rc < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", text, why[0] ? why : p2p_strerror(rc));
            return rc;
        }
        l->requested = ma;
        sw->nlisteners++;
    }
    if (sw->nlisteners) emit_addrs_changed(h);
    return 0;
}

P2P_API size_t p2p_host_listen_addrs(const p2p_host *h, p2p_multiaddr *out, size_t max)
{
    struct p2p_swarm *sw = h->swarm;
    size_t total = 0;
    for (size_t i = 0; sw && i < sw->nlisteners; i++) {
        struct swarm_listener *l = &sw->listeners[i];
        size_t room = total < max ? max - total : 0;
        total += l->t->listen_addrs(l->tstate, l->l, room ? out + total : NULL, room);
    }
    return total;
}

P2P_API size_t p2p_host_advertised_addrs(const p2p_host *h, p2p_multiaddr *out, size_t max)
{
    size_t n = p2p_host_listen_addrs(h, out, max);
    struct p2p_swarm *sw = h->swarm;
    for (size_t i = 0; sw && i < sw->nextra; i++) {
        if (n < max) out[n] = sw->extra_addrs[i];
        n++;
    }
    return n;
}

P2P_API int p2p_host_add_advertised_addr(p2p_host *h, const p2p_multiaddr *ma)
{
    struct p2p_swarm *sw = h->swarm;
    for (size_t i = 0; i < sw->nextra; i++)
        if (p2p_maddr_equal(&sw->extra_addrs[i], ma)) return 0;
    if (sw->nextra >= 64) return P2P_ELIMIT;
    p2p_multiaddr *n = realloc(sw->extra_addrs, (sw->nextra + 1) * sizeof *n);
    if (!n) return P2P_ENOMEM;
    sw->extra_addrs = n;
    n[sw->nextra++] = *ma;
    emit_addrs_changed(h);
    return 0;
}

P2P_API int p2p_host_remove_advertised_addr(p2p_host *h, const p2p_multiaddr *ma)
{
    struct p2p_swarm *sw = h->swarm;
    for (size_t i = 0; i < sw->nextra; i++) {
        if (!p2p_maddr_equal(&sw->extra_addrs[i], ma)) continue;
        sw->extra_addrs[i] = sw->extra_addrs[--sw->nextra];
        emit_addrs_changed(h);
        return 0;
    }
    return P2P_ENOTFOUND;
}

/* ---- connections ----------------------------------------------------- */

/* Connections to peer (closing ones included); *first: the first one not
 * closing, *live: how many are not closing. */
static size_t conns_to(struct p2p_swarm *sw, const p2p_peerid *peer, p2p_conn **first, size_t *live)
{
    size_t n = 0;
    struct p2p_list *pos, *tmp;
    if (first) *first = NULL;
    if (live) *live = 0;
    p2p_list_for_each_safe(pos, tmp, &sw->conns) {
        p2p_conn *c = P2P_CONTAINER_OF(pos, p2p_conn, link);
        if (c->gone || !p2p_peerid_equal(&c->peer, peer)) continue;
        if (!c->closing) {
            if (first && !*first) *first = c;
            if (live) (*live)++;
        }
        n++;
    }
    return n;
}

static size_t conn_count(struct p2p_swarm *sw)
{
    size_t n = 0;
    struct p2p_list *pos, *tmp;
    p2p_list_for_each_safe(pos, tmp, &sw->conns) n++;
    return n;
}

/* Which of two connections to one peer both sides keep: an unlimited one
 * over a limited (relayed) one; otherwise the one dialed by the peer with
 * the smaller PeerId, a rule both ends evaluate to the same answer. */
static bool better(const p2p_host *h, const p2p_conn *a, const p2p_conn *b)
{
    if (a->limited != b->limited) return !a->limited;
    const p2p_peerid *self = p2p_host_peerid(h);
    const p2p_peerid *dialer_a = a->dir == P2P_OUTBOUND ? self : &a->peer;
    const p2p_peerid *dialer_b = b->dir == P2P_OUTBOUND ? self : &b->peer;
    if (p2p_peerid_equal(dialer_a, dialer_b)) return a->id < b->id;   /* same dialer: keep the older */
    size_t la = dialer_a->len, lb = dialer_b->len;
    int cmp = memcmp(dialer_a->bytes, dialer_b->bytes, la < lb ? la : lb);
    return cmp < 0 || (cmp == 0 && la < lb);
}

/* The best connection to peer (unlimited before limited); with direct,
 * unlimited ones only. */
static p2p_conn *conn_to(const p2p_host *h, const p2p_peerid *peer, bool direct)
{
    p2p_conn *c = p2p_host_conn_to(h, peer);
    return c && (!direct || !c->limited) ? c : NULL;
}

static void job_finish(struct dial_job *j, int status, p2p_conn *c);

/* A direct connection to c's peer exists now: direct requests for it whose
 * transport dial is still pending are satisfied (the dial is canceled).
 * Requests in their upgrade finish on their own. */
static void satisfy_direct_jobs(p2p_host *h, p2p_conn *c)
{
    struct p2p_swarm *sw = h->swarm;
    bool again = true;
    while (again) {
        again = false;
        struct p2p_list *pos, *tmp;
        p2p_list_for_each_safe(pos, tmp, &sw->dials) {
            struct dial_job *j = P2P_CONTAINER_OF(pos, struct dial_job, link);
            if (!(j->parked || (j->direct && j->op)) || j->up || j->fresh || !p2p_peerid_equal(&j->peer, &c->peer))
                continue;
            if (j->op) j->t->dial_cancel(j->tstate, j->op);
            j->op = NULL;
            job_finish(j, 0, c);
            again = true;   /* callbacks may have changed the list */
            break;
        }
    }
}

static void conn_remove(p2p_conn *c, int reason)
{
    p2p_host *h = c->host;
    if (c->gone) return;
    p2p_list_del(&c->link);
    p2p_swarm_metrics_conn_close(c);
    p2p_conn_kill(c, reason);
    char id[P2P_PEERID_STRMAX];
    p2p_log_debug(MOD, "disconnected from %s (conn %llu): %s", peer_str(&c->peer, id), (unsigned long long)c->id,
                  reason ? p2p_strerror(reason) : "closed");
    struct p2p_event ev = { .type = P2P_EV_DISCONNECTED, .conn = c, .peer = &c->peer, .reason = reason };
    p2p_host_emit(h, &ev);
}

p2p_conn *p2p_swarm_add_conn(p2p_host *h, p2p_conn *c)
{
    struct p2p_swarm *sw = h->swarm;
    char id[P2P_PEERID_STRMAX];   /* peer_str() only for lines that are written */
    p2p_conn *existing;
    size_t live;
    size_t same = conns_to(sw, &c->peer, &existing, &live);
    if (sw->stopping || conn_count(sw) >= sw->max_conns) {
        p2p_log_info(MOD, "refusing connection from %s: %s", peer_str(&c->peer, id),
                     sw->stopping ? "shutting down" : "max_connections reached");
        p2p_swarm_metrics_refused(h, sw->stopping ? "shutting_down" : "max_connections");
        p2p_peerid peer = c->peer;
        c->gone = true;
        p2p_conn_free(c);
        p2p_swarm_punch_inbound_failed(h, &peer);   /* requests waiting for it */
        return NULL;
    }
    p2p_list_add_tail(&sw->conns, &c->link);
    p2p_swarm_metrics_conn_open(c);
    p2p_conn_start(c);
    p2p_pubkey key;
    if (p2p_conn_key_copy(c, &key) == 0) p2p_peerstore_set_key(h, &c->peer, &key);
    if (c->dir == P2P_OUTBOUND) p2p_peerstore_add_addrs(h, &c->peer, p2p_conn_remote_addr(c), 1, 0);
    p2p_log_debug(MOD, "connected to %s (%s, conn %llu)", peer_str(&c->peer, id), c->dir == P2P_OUTBOUND ? "outbound" : "inbound",
                  (unsigned long long)c->id);
    struct p2p_event ev = { .type = P2P_EV_CONNECTED, .conn = c, .peer = &c->peer };
    p2p_host_emit(h, &ev);
    if (c->gone) {
        p2p_peerid peer = c->peer;
        p2p_swarm_punch_inbound_failed(h, &peer);
        return NULL;
    }
    if (!c->limited && !p2p_list_empty(&sw->dials)) {
        satisfy_direct_jobs(h, c);
        if (c->gone) return NULL;
    }
    if (same && existing && !existing->gone && !existing->closing) {
        /* Two connections to one peer (simultaneous dials, or a direct one
         * replacing a relayed one): keep one, close the other gracefully.
         * Connections already closing do not count (a hole punch may make
         * two direct ones while the relayed one is closing). */
        p2p_conn *keep = better(h, c, existing) ? c : existing;
        p2p_conn *drop = keep == c ? existing : c;
        /* Both dialed by the peer (as it sees them too): the peer picks,
         * by its own order of the two, which may not be ours (two
         * dials of one peer completing in the other order at each end,
         * a hole punch's two sockets): were both ends to pick, each
         * could close the other's keeper. We keep both until it closes
         * one, unless over the per-peer limit (counting the live ones:
         * a relayed connection closing for the first direct one must not
         * make us pick). */
        bool theirs = c->dir == P2P_INBOUND && existing->dir == P2P_INBOUND && c->limited == existing->limited;
        size_t counted = theirs ? live : same;
        if (counted + 1 > sw->max_conns_per_peer || (!keep->limited && drop->limited) || (live == 1 && !theirs)) {
            p2p_log_debug(MOD, "two connections to %s: keeping conn %llu, closing conn %llu", peer_str(&c->peer, id),
                          (unsigned long long)keep->id, (unsigned long long)drop->id);
            p2p_conn_close(drop);
        }
        return keep;
    }
    return c;
}

void p2p_swarm_conn_closed(p2p_conn *c, int reason)
{
    conn_remove(c, reason);
}

void p2p_swarm_punch_inbound_failed(p2p_host *h, const p2p_peerid *peer)
{
    struct p2p_swarm *sw = h->swarm;
    if (!sw || p2p_upgrade_inbound_pending(h, peer)) return;
    bool again = true;
    while (again) {
        again = false;
        struct p2p_list *pos, *tmp;
        p2p_list_for_each_safe(pos, tmp, &sw->dials) {
            struct dial_job *j = P2P_CONTAINER_OF(pos, struct dial_job, link);
            if (!j->parked || !p2p_peerid_equal(&j->peer, peer)) continue;
            j->parked = false;
            job_finish(j, j->last_err, NULL);
            again = true;
            break;
        }
    }
}

void p2p_swarm_conn_abort(p2p_conn *c, int reason)
{
    conn_remove(c, reason);
}

P2P_API p2p_conn *p2p_host_conn_to(const p2p_host *h, const p2p_peerid *peer)
{
    if (!h->swarm) return NULL;
    p2p_conn *best = NULL;
    struct p2p_list *pos, *tmp;
    p2p_list_for_each_safe(pos, tmp, &h->swarm->conns) {
        p2p_conn *c = P2P_CONTAINER_OF(pos, p2p_conn, link);
        if (c->gone || c->closing || !p2p_peerid_equal(&c->peer, peer)) continue;
        if (!best || (best->limited && !c->limited)) best = c;
    }
    return best;
}

P2P_API size_t p2p_host_conns(const p2p_host *h, p2p_conn **out, size_t max)
{
    size_t n = 0;
    struct p2p_list *pos, *tmp;
    if (!h->swarm) return 0;
    p2p_list_for_each_safe(pos, tmp, &h->swarm->conns) {
        p2p_conn *c = P2P_CONTAINER_OF(pos, p2p_conn, link);
        if (c->gone) continue;
        if (n < max) out[n] = c;
        n++;
    }
    return n;
}

/* ---- dialing ---------------------------------------------------------- */

static void job_try_next(struct dial_job *j);

static void job_finish(struct dial_job *j, int status, p2p_conn *c)
{
    /* A request with options fails only if no suitable connection came
     * another way meanwhile (the peer's simultaneous dial). */
    p2p_conn *other;
    if (status && status != P2P_ECANCELED && j->opts && !j->fresh && (other = conn_to(j->host, &j->peer, j->direct))) {
        status = 0;
        c = other;
    } else if (status && status != P2P_ECANCELED && j->role != P2P_ROLE_AUTO && !j->host->swarm->stopping &&
               p2p_upgrade_inbound_pending(j->host, &j->peer)) {
        /* The peer's side of the simultaneous open reached our listener
         * (our own attempt then finds its 4-tuple taken): that upgrade
         * decides. add_conn or p2p_swarm_punch_inbound_failed finish. */
        j->parked = true;
        j->last_err = status;
        p2p_defer_cancel(j->host, &j->kick);
        return;
    }
    p2p_list_del(&j->link);
    p2p_defer_cancel(j->host, &j->kick);
    struct dial_waiter *w = j->waiters;
    free(j);
    while (w) {
        struct dial_waiter *next = w->next;
        w->cb(status, status ? NULL : c, w->arg);
        free(w);
        w = next;
    }
}

/* One address of a dial job failed (the job goes on with the next). */
static void log_addr_failed(const struct dial_job *j, const char *what, int status)
{
    if (!p2p_log_enabled(MOD, P2P_LOG_DEBUG)) return;
    char a[P2P_MADDR_STRMAX], id[P2P_PEERID_STRMAX] = "?";
    if (p2p_maddr_to_string(&j->addrs[j->next - 1], a, sizeof a) < 0) strcpy(a, "?");
    if (j->has_peer) p2p_peerid_to_string(&j->peer, id, sizeof id);
    p2p_log_debug(MOD, "dialing %s at %s: %s failed: %s", id, a, what, p2p_strerror(status));
}

static void on_upgraded(int status, p2p_conn *c, void *arg)
{
    struct dial_job *j = arg;
    j->up = NULL;
    if (status == 0) return job_finish(j, 0, c);
    j->last_err = status;
    log_addr_failed(j, "upgrade", status);
    job_try_next(j);
}

static void on_dialed(int status, p2p_stream *raw, void *arg)
{
    struct dial_job *j = arg;
    j->op = NULL;
    if (status) {
        j->last_err = status;
        log_addr_failed(j, "transport dial", status);
        return job_try_next(j);
    }
    bool initiator = true;
    if (j->role != P2P_ROLE_AUTO && on_listen_port(j->host, p2p_stream_local_addr(raw)))
        initiator = j->role == P2P_ROLE_INITIATOR;
    p2p_upgrade_start(j->host, raw, true, initiator, j->has_peer ? &j->peer : NULL, j->t->limited, on_upgraded, j,
                      &j->up);
}

static void job_try_next(struct dial_job *j)
{
    p2p_host *h = j->host;
    if (h->swarm->stopping) return job_finish(j, P2P_ECANCELED, NULL);
    while (j->next < j->naddrs) {
        p2p_multiaddr *ma = &j->addrs[j->next++];
        void *ts;
        const struct p2p_transport_ops *t = p2p_transport_for(h, ma, false, &ts);
        if (!t || (j->direct && t->limited)) {
            j->last_err = P2P_EUNSUPPORTED;
            continue;
        }
        if (h->swarm->pending_out >= h->swarm->max_pending_out) {
            j->last_err = P2P_ELIMIT;
            break;
        }
        j->t = t;
        j->tstate = ts;
        struct p2p_dial_opts o = { .timeout_ms = j->timeout_ms ? j->timeout_ms : h->swarm->dial_timeout,
                                   .reuse_port = j->reuse_port, .peer = j->has_peer ? &j->peer : NULL };
        int rc = t->dial(ts, ma, &o, on_dialed, j, &j->op);
        if (rc == 0) return;
        j->op = NULL;
        j->last_err = rc;
    }
    job_finish(j, j->last_err ? j->last_err : P2P_EUNREACH, NULL);
}

static void job_kick(void *arg)
{
    job_try_next(arg);
}

static struct dial_job *find_job(struct p2p_swarm *sw, const p2p_peerid *peer)
{
    struct p2p_list *pos, *tmp;
    p2p_list_for_each_safe(pos, tmp, &sw->dials) {
        struct dial_job *j = P2P_CONTAINER_OF(pos, struct dial_job, link);
        if (!j->opts && j->has_peer && p2p_peerid_equal(&j->peer, peer)) return j;
    }
    return NULL;
}

struct ready {
    struct p2p_defer d;
    p2p_connect_cb cb;
    void *arg;
    p2p_conn *c;
    p2p_peerid peer;
    p2p_host *h;
    bool direct;
};

static void ready_cb(void *arg)
{
    struct ready *r = arg;
    /* The connection may have gone while we waited for the loop. */
    p2p_conn *c = conn_to(r->h, &r->peer, r->direct);
    r->cb(c ? 0 : P2P_ECLOSED, c, r->arg);
    free(r);
}

P2P_API int p2p_host_connect(p2p_host *h, const p2p_peerid *peer, const p2p_multiaddr *addrs,
                             size_t naddrs, p2p_connect_cb cb, void *arg)
{
    struct p2p_swarm *sw = h->swarm;
    if (!cb || (!peer && naddrs != 1)) return P2P_EINVAL;
    if (!sw || sw->stopping) return P2P_ECLOSED;
    if (peer && p2p_peerid_equal(peer, p2p_host_peerid(h))) return P2P_EINVAL;
    if (peer && naddrs) p2p_peerstore_add_addrs(h, peer, addrs, naddrs, 0);
    if (peer && p2p_host_conn_to(h, peer)) {
        struct ready *r = calloc(1, sizeof *r);
        if (!r) return P2P_ENOMEM;
        *r = (struct ready){ .cb = cb, .arg = arg, .peer = *peer, .h = h };
        p2p_defer_init(&r->d, ready_cb, r);
        p2p_defer_schedule(h, &r->d);
        return 0;
    }
    struct dial_waiter *w = calloc(1, sizeof *w);
    if (!w) return P2P_ENOMEM;
    w->cb = cb;
    w->arg = arg;
    struct dial_job *j = peer ? find_job(sw, peer) : NULL;
    if (j) {
        /* Coalesce: one dial per peer at a time. */
        w->next = j->waiters;
        j->waiters = w;
        return 0;
    }
    j = calloc(1, sizeof *j);
    if (!j) {
        free(w);
        return P2P_ENOMEM;
    }
    j->host = h;
    j->waiters = w;
    if (peer) {
        j->has_peer = true;
        j->peer = *peer;
        j->naddrs = p2p_peerstore_addrs(h, peer, j->addrs, MAX_DIAL_ADDRS);
        if (j->naddrs > MAX_DIAL_ADDRS) j->naddrs = MAX_DIAL_ADDRS;
    } else {
        j->addrs[0] = addrs[0];
        j->naddrs = 1;
    }
    p2p_list_add_tail(&sw->dials, &j->link);
    p2p_defer_init(&j->kick, job_kick, j);
    p2p_defer_schedule(h, &j->kick);   /* start from the loop: cb never runs inside this call */
    return 0;
}

P2P_API int p2p_host_connect_opts(p2p_host *h, const p2p_peerid *peer, const p2p_multiaddr *addrs,
                                  size_t naddrs, const struct p2p_connect_opts *opts,
                                  p2p_connect_cb cb, void *arg)
{
    struct p2p_swarm *sw = h->swarm;
    struct p2p_connect_opts o = { 0 };
    if (!opts || opts->size < offsetof(struct p2p_connect_opts, timeout_ms) + sizeof o.timeout_ms) return P2P_EINVAL;
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
    if (!cb || !peer || (naddrs && !addrs) || (unsigned)o.role > P2P_ROLE_RESPONDER) return P2P_EINVAL;
    if (!sw || sw->stopping) return P2P_ECLOSED;
    if (p2p_peerid_equal(peer, p2p_host_peerid(h))) return P2P_EINVAL;
    if (!o.fresh && conn_to(h, peer, o.direct)) {
        struct ready *r = calloc(1, sizeof *r);
        if (!r) return P2P_ENOMEM;
        *r = (struct ready){ .cb = cb, .arg = arg, .peer = *peer, .h = h, .direct = o.direct };
        p2p_defer_init(&r->d, ready_cb, r);
        p2p_defer_schedule(h, &r->d);
        return 0;
    }
    struct dial_job *j = calloc(1, sizeof *j);
    struct dial_waiter *w = calloc(1, sizeof *w);
    if (!j || !w) {
        free(j);
        free(w);
        return P2P_ENOMEM;
    }
    w->cb = cb;
    w->arg = arg;
    j->host = h;
    j->waiters = w;
    j->has_peer = true;
    j->peer = *peer;
    j->opts = true;
    j->direct = o.direct;
    j->reuse_port = o.reuse_port;
    j->fresh = o.fresh;
    j->role = o.role;
    j->timeout_ms = o.timeout_ms;
    if (naddrs) {
        j->naddrs = naddrs < MAX_DIAL_ADDRS ? naddrs : MAX_DIAL_ADDRS;
        memcpy(j->addrs, addrs, j->naddrs * sizeof *addrs);
    } else {
        j->naddrs = p2p_peerstore_addrs(h, peer, j->addrs, MAX_DIAL_ADDRS);
        if (j->naddrs > MAX_DIAL_ADDRS) j->naddrs = MAX_DIAL_ADDRS;
    }
    if (o.role != P2P_ROLE_AUTO) {
        uint64_t now = p2p_host_now_ms(h);
        uint64_t until = now + (o.timeout_ms ? o.timeout_ms : sw->dial_timeout);
        hints_expire(sw, now);
        for (size_t i = 0; i < j->naddrs; i++) {
            void *ts;
            const struct p2p_transport_ops *t = p2p_transport_for(h, &j->addrs[i], false, &ts);
            if (t && !t->limited) hint_add(sw, peer, &j->addrs[i], o.role, until);
        }
    }
    p2p_list_add_tail(&sw->dials, &j->link);
    p2p_defer_init(&j->kick, job_kick, j);
    p2p_defer_schedule(h, &j->kick);
    return 0;
}

struct stream_req {
    p2p_open_cb cb;
    void *arg;
    char **protocols;
};

static void req_free(struct stream_req *r)
{
    for (char **p = r->protocols; p && *p; p++) free(*p);
    free(r->protocols);
    free(r);
}

static void on_connected_for_stream(int status, p2p_conn *c, void *arg)
{
    struct stream_req *r = arg;
    if (status == 0) status = p2p_conn_open_stream(c, (const char *const *)r->protocols, r->cb, r->arg);
    if (status) r->cb(status, NULL, r->arg);
    req_free(r);
}

P2P_API int p2p_host_new_stream(p2p_host *h, const p2p_peerid *peer, const char *const *protocols,
                                p2p_open_cb cb, void *arg)
{
    if (!peer || !protocols || !protocols[0] || !cb) return P2P_EINVAL;
    struct stream_req *r = calloc(1, sizeof *r);
    size_t n = 0;
    while (protocols[n]) n++;
    if (r) r->protocols = calloc(n + 1, sizeof *r->protocols);
    for (size_t i = 0; r && r->protocols && i < n; i++)
        if (!(r->protocols[i] = strdup(protocols[i]))) break;
    if (!r || !r->protocols || (n && !r->protocols[n - 1])) {
        if (r) req_free(r);
        return P2P_ENOMEM;
    }
    r->cb = cb;
    r->arg = arg;
    int rc = p2p_host_connect(h, peer, NULL, 0, on_connected_for_stream, r);
    if (rc < 0) req_free(r);
    return rc;
}

/* ---- discovery ------------------------------------------------------------ */

static void on_discovery_dialed(int status, p2p_conn *c, void *arg)
{
    (void)c;
    char *who = arg;
    if (status && status != P2P_ECANCELED) p2p_log_debug(MOD, "dialing discovered peer %s failed: %s", who, p2p_strerror(status));
    free(who);
}

P2P_API int p2p_host_peer_discovered(p2p_host *h, const p2p_peerid *peer, const p2p_multiaddr *addrs,
                                     size_t n, uint64_t ttl_ms, const char *source)
{
    if (!peer || p2p_peerid_equal(peer, p2p_host_peerid(h))) return P2P_EINVAL;
    int rc = p2p_peerstore_add_addrs(h, peer, addrs, n, ttl_ms);
    if (rc < 0) return rc;
    struct p2p_event ev = { .type = P2P_EV_PEER_DISCOVERED, .peer = peer, .source = source };
    p2p_host_emit(h, &ev);
    struct p2p_swarm *sw = h->swarm;
    if (!sw || sw->stopping || !sw->auto_dial || p2p_host_conn_to(h, peer)) return 0;
    if (conn_count(sw) >= sw->max_conns || sw->pending_out >= sw->max_pending_out) return 0;
    char *who = malloc(P2P_PEERID_STRMAX);
    if (!who) return 0;
    p2p_peerid_to_string(peer, who, P2P_PEERID_STRMAX);
    if (p2p_host_connect(h, peer, NULL, 0, on_discovery_dialed, who) < 0) free(who);
    return 0;
}

/* ---- idle closing ------------------------------------------------------ */

static void on_idle_check(p2p_timer *t, void *arg)
{
    (void)t;
    p2p_host *h = arg;
    uint64_t now = uv_now(h->loop);
    struct p2p_list *pos, *tmp;
    p2p_list_for_each_safe(pos, tmp, &h->swarm->conns) {
        p2p_conn *c = P2P_CONTAINER_OF(pos, p2p_conn, link);
        p2p_log_trace(MOD, "idle check conn %llu: %zu streams (%zu not keepalive), idle since %llu",
                      (unsigned long long)c->id, c->streams, c->idle_streams, (unsigned long long)c->idle_since);
        if (c->gone || c->closing || c->streams > c->idle_streams || !c->idle_since) continue;
        if (now - c->idle_since >= h->swarm->idle_timeout) {
            /* Only streams that do not keep it alive are left (ping):
             * waiting for them to end would wait forever. */
            p2p_log_debug(MOD, "closing idle connection %llu", (unsigned long long)c->id);
            if (c->streams) p2p_swarm_conn_abort(c, 0);
            else p2p_conn_close(c);
        }
    }
}

void p2p_swarm_start_idle(p2p_host *h)
{
    struct p2p_swarm *sw = h->swarm;
    if (!sw->idle_timeout) return;
    sw->idle_timer = p2p_timer_new(h, on_idle_check, h);
    if (!sw->idle_timer) return;
    uint64_t every = sw->idle_timeout / 4 ? sw->idle_timeout / 4 : 1;
    if (every > 5000) every = 5000;
    p2p_timer_start(sw->idle_timer, every, every);
}

/* ---- shutdown ---------------------------------------------------------- */

void p2p_swarm_stop(p2p_host *h)
{
    struct p2p_swarm *sw = h->swarm;
    if (!sw || sw->stopping) return;
    sw->stopping = true;
    if (sw->idle_timer) {
        p2p_timer_free(sw->idle_timer);
        sw->idle_timer = NULL;
    }
    for (size_t i = 0; i < sw->nlisteners; i++)
        sw->listeners[i].t->listen_close(sw->listeners[i].tstate, sw->listeners[i].l);
    sw->nlisteners = 0;
    struct p2p_list *pos, *tmp;
    p2p_list_for_each_safe(pos, tmp, &sw->dials) {
        struct dial_job *j = P2P_CONTAINER_OF(pos, struct dial_job, link);
        if (j->op) j->t->dial_cancel(j->tstate, j->op);
        j->op = NULL;
        if (j->up) p2p_upgrade_abort(j->up);   /* reports through on_upgraded, which retries */
    }
    p2p_list_for_each_safe(pos, tmp, &sw->dials) {
        struct dial_job *j = P2P_CONTAINER_OF(pos, struct dial_job, link);
        job_finish(j, P2P_ECANCELED, NULL);
    }
    p2p_upgrades_abort_all(h);
    p2p_list_for_each_safe(pos, tmp, &sw->conns)
        conn_remove(P2P_CONTAINER_OF(pos, p2p_conn, link), P2P_ECANCELED);
}

void p2p_swarm_free(p2p_host *h)
{
    struct p2p_swarm *sw = h->swarm;
    if (!sw) return;
    free(sw->listeners);
    free(sw->extra_addrs);
    while (!p2p_list_empty(&sw->role_hints))
        hint_free(sw, P2P_CONTAINER_OF(sw->role_hints.next, struct role_hint, link));
    free(sw);
    h->swarm = NULL;
}
