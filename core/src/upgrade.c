/* upgrade.c - the connection upgrader: raw stream -> multistream-select
 * security -> security handshake -> multistream-select muxer -> muxer
 * session -> p2p_conn, inbound and outbound, bounded by upgrade_timeout.
 *
 * A dialer with one security (or one muxer) protocol negotiates it lazily
 * (p2p_negotiate_dial_lazy, as rust-libp2p's upgrader does): the first
 * Noise message follows the proposal without waiting for the echo, and
 * the muxer's proposal rides with the last handshake message, which
 * saves two round trips per connection. */
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/log.h"
#include "stream_internal.h"
#include "swarm.h"

#define MOD "upgrade"
#define MAX_LAYERS 8

enum stage { ST_NEG_SECURITY, ST_SECURE, ST_NEG_MUXER, ST_DONE };

struct upgrade {
    p2p_host *host;
    struct p2p_list link;          /* in swarm.upgrades */
    bool outbound, limited;        /* outbound: which pending_* count it is in */
    bool initiator;                /* role in the handshakes (see p2p_upgrade_role) */
    bool has_expected;
    p2p_peerid expected;
    enum stage stage;
    struct negotiation *neg;
    const struct p2p_security_ops *sec;
    void *sec_state, *sec_op;
    struct p2p_addr_pair *addrs;   /* the raw stream's (a reference) */
    p2p_pubkey key;
    p2p_peerid peer;
    char security[64];
    p2p_timer *timer;
    upgrade_cb cb;
    void *arg;
};

static void u_free(struct upgrade *u)
{
    p2p_list_del(&u->link);
    if (u->outbound) u->host->swarm->pending_out--;
    else u->host->swarm->pending_in--;
    if (u->timer) p2p_timer_free(u->timer);
    p2p_addr_pair_unref(u->addrs);
    free(u);
}

static void u_fail(struct upgrade *u, int status, const char *what)
{
    char ra[P2P_MADDR_STRMAX];
    if (p2p_maddr_to_string(p2p_addr_pair_remote(u->addrs), ra, sizeof ra) < 0) strcpy(ra, "?");
    p2p_log_debug(MOD, "%s upgrade with %s failed during %s: %s%s", u->outbound ? "outbound" : "inbound",
                  ra, what, p2p_strerror(status),
                  u->initiator == u->outbound ? "" : u->initiator ? " (as initiator)" : " (as responder)");
    if (u->neg) p2p_negotiate_abort(u->neg);
    if (u->sec_op) u->sec->abort(u->sec_state, u->sec_op);
    upgrade_cb cb = u->cb;
    void *arg = u->arg;
    p2p_host *h = u->host;
    bool punched = !u->outbound && u->has_expected;   /* accepted during a hole punch */
    p2p_peerid peer = u->expected;
    u_free(u);
    if (cb) cb(status, NULL, arg);
    if (punched) p2p_swarm_punch_inbound_failed(h, &peer);
}

static bool sec_supported(void *arg, const char *id)
{
    p2p_host *h = arg;
    const struct p2p_security_ops *ops[MAX_LAYERS];
    size_t n = p2p_security_list(h, ops, NULL, MAX_LAYERS);
    for (size_t i = 0; i < n && i < MAX_LAYERS; i++)
        if (!strcmp(ops[i]->protocol_id, id)) return true;
    return false;
}

static bool mux_supported(void *arg, const char *id)
{
    p2p_host *h = arg;
    const struct p2p_muxer_ops *ops[MAX_LAYERS];
    size_t n = p2p_muxer_list(h, ops, NULL, MAX_LAYERS);
    for (size_t i = 0; i < n && i < MAX_LAYERS; i++)
        if (!strcmp(ops[i]->protocol_id, id)) return true;
    return false;
}

static void on_mux_negotiated(int status, p2p_stream *s, const char *protocol, void *arg)
{
    struct upgrade *u = arg;
    u->neg = NULL;
    if (status) return u_fail(u, status, "muxer negotiation");
    const struct p2p_muxer_ops *ops[MAX_LAYERS];
    void *states[MAX_LAYERS];
    size_t n = p2p_muxer_list(u->host, ops, states, MAX_LAYERS);
    size_t i;
    for (i = 0; i < n && i < MAX_LAYERS; i++)
        if (!strcmp(ops[i]->protocol_id, protocol)) break;
    if (i >= n || i >= MAX_LAYERS) {
        p2p_stream_close(s);
        return u_fail(u, P2P_ENEGOTIATE, "muxer selection");
    }
    p2p_conn *c = p2p_conn_new(u->host);
    if (!c) {
        p2p_stream_close(s);
        return u_fail(u, P2P_ENOMEM, "connection set-up");
    }
    c->peer = u->peer;
    if (p2p_conn_set_key(c, &u->key) < 0) {
        p2p_stream_close(s);
        p2p_conn_free(c);
        return u_fail(u, P2P_ENOMEM, "connection set-up");
    }
    c->addrs = u->addrs;   /* the reference moves */
    u->addrs = NULL;
    c->dir = u->initiator ? P2P_OUTBOUND : P2P_INBOUND;
    c->limited = u->limited;
    c->mux = ops[i];
    snprintf(c->security, sizeof c->security, "%s", u->security);
    snprintf(c->muxer, sizeof c->muxer, "%s", protocol);
    int rc = ops[i]->create(states[i], s, u->initiator, &p2p_conn_muxer_events, c, &c->session);
    if (rc < 0) {
        p2p_conn_free(c);
        return u_fail(u, rc, "muxer start");
    }
    upgrade_cb cb = u->cb;
    void *cbarg = u->arg;
    p2p_host *h = u->host;
    u_free(u);
    p2p_conn *kept = p2p_swarm_add_conn(h, c);
    if (cb) cb(kept ? 0 : P2P_ELIMIT, kept, cbarg);
}

static void on_secured(int status, p2p_stream *secured, const p2p_pubkey *key, const p2p_peerid *id, void *arg)
{
    struct upgrade *u = arg;
    u->sec_op = NULL;
    if (status) return u_fail(u, status, "security handshake");
    u->key = *key;
    u->peer = *id;
    if (p2p_peerid_equal(id, p2p_host_peerid(u->host))) {
        p2p_stream_close(secured);
        return u_fail(u, P2P_EPEERID, "security handshake (connected to ourselves)");
    }
    /* A responder with an expected peer (a hole punch): the security
     * layer checks only as initiator. */
    if (u->has_expected && !p2p_peerid_equal(id, &u->expected)) {
        p2p_stream_close(secured);
        return u_fail(u, P2P_EPEERID, "security handshake (not the expected peer)");
    }
    u->stage = ST_NEG_MUXER;
    const struct p2p_muxer_ops *ops[MAX_LAYERS];
    size_t n = p2p_muxer_list(u->host, ops, NULL, MAX_LAYERS);
    uint64_t to = u->host->swarm->upgrade_timeout;
    if (u->initiator) {
        const char *ids[MAX_LAYERS + 1];
        size_t k = 0;
        for (size_t i = 0; i < n && i < MAX_LAYERS; i++) ids[k++] = ops[i]->protocol_id;
        ids[k] = NULL;
        if (!k) {
            p2p_stream_close(secured);
            return u_fail(u, P2P_ENEGOTIATE, "muxer negotiation (no muxer plugin loaded)");
        }
        if (k == 1) p2p_negotiate_dial_lazy(u->host, secured, ids[0], on_mux_negotiated, u, &u->neg);
        else p2p_negotiate_dial(u->host, secured, ids, to, on_mux_negotiated, u, &u->neg);
    } else {
        p2p_negotiate_listen(u->host, secured, mux_supported, u->host, to, on_mux_negotiated, u, &u->neg);
    }
}

static void on_sec_negotiated(int status, p2p_stream *s, const char *protocol, void *arg)
{
    struct upgrade *u = arg;
    u->neg = NULL;
    if (status) return u_fail(u, status, "security negotiation");
    const struct p2p_security_ops *ops[MAX_LAYERS];
    void *states[MAX_LAYERS];
    size_t n = p2p_security_list(u->host, ops, states, MAX_LAYERS);
    size_t i;
    for (i = 0; i < n && i < MAX_LAYERS; i++)
        if (!strcmp(ops[i]->protocol_id, protocol)) break;
    if (i >= n || i >= MAX_LAYERS) {
        p2p_stream_close(s);
        return u_fail(u, P2P_ENEGOTIATE, "security selection");
    }
    u->sec = ops[i];
    u->sec_state = states[i];
    snprintf(u->security, sizeof u->security, "%s", protocol);
    u->stage = ST_SECURE;
    int rc = u->sec->secure(u->sec_state, s, u->initiator, u->has_expected ? &u->expected : NULL,
                            on_secured, u, &u->sec_op);
    if (rc < 0) {
        u->sec_op = NULL;   /* s was taken (and closed) by the security layer */
        u_fail(u, rc, "security handshake start");
    }
}

static void on_timeout(p2p_timer *t, void *arg)
{
    (void)t;
    u_fail(arg, P2P_ETIMEDOUT, "upgrade (timeout)");
}

static struct upgrade *u_new(p2p_host *h, p2p_stream *raw, bool outbound, bool limited)
{
    struct upgrade *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->host = h;
    u->outbound = outbound;
    u->initiator = outbound;
    u->limited = limited;
    u->addrs = p2p_stream_addrs_ref(raw);
    p2p_swarm_metrics_raw(h, raw, limited);
    u->timer = p2p_timer_new(h, on_timeout, u);
    if (!u->timer) {
        p2p_addr_pair_unref(u->addrs);
        free(u);
        return NULL;
    }
    p2p_timer_start(u->timer, h->swarm->upgrade_timeout, 0);
    p2p_list_add_tail(&h->swarm->upgrades, &u->link);
    if (outbound) h->swarm->pending_out++;
    else h->swarm->pending_in++;
    return u;
}

static int u_begin(struct upgrade *u, p2p_stream *raw)
{
    const struct p2p_security_ops *ops[MAX_LAYERS];
    size_t n = p2p_security_list(u->host, ops, NULL, MAX_LAYERS);
    if (!n) {
        p2p_stream_close(raw);
        u_fail(u, P2P_ENEGOTIATE, "security negotiation (no security plugin loaded)");
        return 0;
    }
    if (u->initiator) {
        const char *ids[MAX_LAYERS + 1];
        size_t k = 0;
        for (size_t i = 0; i < n && i < MAX_LAYERS; i++) ids[k++] = ops[i]->protocol_id;
        ids[k] = NULL;
        if (k == 1) return p2p_negotiate_dial_lazy(u->host, raw, ids[0], on_sec_negotiated, u, &u->neg);
        return p2p_negotiate_dial(u->host, raw, ids, 0, on_sec_negotiated, u, &u->neg);
    }
    return p2p_negotiate_listen(u->host, raw, sec_supported, u->host, 0, on_sec_negotiated, u, &u->neg);
}

int p2p_upgrade_outbound(p2p_host *h, p2p_stream *raw, const p2p_peerid *expected, bool limited,
                         upgrade_cb cb, void *arg, struct upgrade **out)
{
    return p2p_upgrade_start(h, raw, true, true, expected, limited, cb, arg, out);
}

int p2p_upgrade_start(p2p_host *h, p2p_stream *raw, bool outbound, bool initiator, const p2p_peerid *expected,
                      bool limited, upgrade_cb cb, void *arg, struct upgrade **out)
{
    struct upgrade *u = u_new(h, raw, outbound, limited);
    if (!u) {
        p2p_stream_close(raw);
        return P2P_ENOMEM;
    }
    u->initiator = initiator;
    if (expected) {
        u->has_expected = true;
        u->expected = *expected;
    }
    u->cb = cb;
    u->arg = arg;
    if (out) *out = u;
    return u_begin(u, raw);
}

int p2p_upgrade_inbound(p2p_host *h, p2p_stream *raw, bool limited, struct upgrade **out)
{
    struct upgrade *u = u_new(h, raw, false, limited);
    if (!u) {
        p2p_stream_close(raw);
        return P2P_ENOMEM;
    }
    if (out) *out = u;
    return u_begin(u, raw);
}

bool p2p_upgrade_inbound_pending(p2p_host *h, const p2p_peerid *peer)
{
    struct p2p_list *pos, *tmp;
    p2p_list_for_each_safe(pos, tmp, &h->swarm->upgrades) {
        struct upgrade *u = P2P_CONTAINER_OF(pos, struct upgrade, link);
        if (!u->outbound && u->has_expected && p2p_peerid_equal(&u->expected, peer)) return true;
    }
    return false;
}

void p2p_upgrade_abort(struct upgrade *u)
{
    u_fail(u, P2P_ECANCELED, "shutdown");
}

void p2p_upgrades_abort_all(p2p_host *h)
{
    struct p2p_list *pos, *tmp;
    p2p_list_for_each_safe(pos, tmp, &h->swarm->upgrades)
        p2p_upgrade_abort(P2P_CONTAINER_OF(pos, struct upgrade, link));
}

size_t p2p_upgrade_inbound_from(p2p_host *h, const uint8_t *key, size_t keylen)
{
    struct p2p_list *pos, *tmp;
    size_t n = 0;
    p2p_list_for_each_safe(pos, tmp, &h->swarm->upgrades) {
        struct upgrade *u = P2P_CONTAINER_OF(pos, struct upgrade, link);
        uint8_t k[8];
        bool lo;
        if (!u->outbound && !u->limited && p2p_swarm_ip_key(p2p_addr_pair_remote(u->addrs), k, &lo) == keylen &&
            !memcmp(k, key, keylen))
            n++;
    }
    return n;
}
