/* plugin.c - the dcutr plugin: Direct Connection Upgrade through Relay
 * (/libp2p/dcutr, libp2p/specs relay/DCUtR.md) on top of the relay
 * plugin's limited connections. See README.md.
 *
 * The exchange itself is the I/O-free machine of dcutr_sm.c; this file
 * runs it: connection events, the stream, framing, timers, and the dials
 * (p2p_host_connect_opts with reuse_port and the role in the upgrade that
 * the DCUtR roles give, see role_for()).
 *
 * Lifetimes: a punch is reference-counted (the list's reference, one per
 * dial or stream open in flight, one while a callback works on it); the
 * plugin state likewise (its own, one per punch), so that results arriving
 * after a punch ended, or after fini, touch nothing freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcutr.h"
#include "p2p/identify.h"
#include "p2p/transport.h"

#define MOD DCUTR_MOD
#define MAX_LOCAL 32

struct pdial;

struct punch {
    struct dcutr_link link;          /* in st->punches while active */
    struct dcutr_st *st;
    unsigned refs;
    bool active;                     /* in the list: not finished */
    p2p_peerid peer;
    char peer_str[P2P_PEERID_STRMAX];
    p2p_conn *relayed;               /* NULL after its DISCONNECTED */
    struct dcutr_sm sm;
    p2p_stream *s;                   /* the /libp2p/dcutr stream, or NULL */
    bool opening;                    /* initiator: a stream open in flight */
    bool waiting_identify;
    p2p_buf in;
    p2p_timer *timer;
    unsigned gen;                    /* dial generation (one per attempt) */
    size_t gen_pending;              /* dials of this generation in flight */
    struct pdial *dials;             /* every dial in flight, any generation */
};

struct pdial {
    struct punch *p;
    struct pdial *next;
    unsigned gen;
    bool unilateral;
    p2p_multiaddr addr;
};

/* How a punch ends (each counted in p2p_dcutr_stats and logged). */
enum outcome { OUT_SUCCEEDED, OUT_FAILED, OUT_SUPERSEDED };

static void run(struct punch *p, enum dcutr_action a);
static void begin(struct punch *p);
static void finish(struct punch *p, enum outcome o);

/* ---- references ------------------------------------------------------------------ */

static void st_unref(struct dcutr_st *st)
{
    if (--st->refs == 0) free(st);
}

static void p_ref(struct punch *p)
{
    p->refs++;
}

static void p_unref(struct punch *p)
{
    if (--p->refs) return;
    struct dcutr_st *st = p->st;
    free(p);
    st_unref(st);
}

static void list_add(struct dcutr_link *head, struct dcutr_link *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

static void list_del(struct dcutr_link *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

#define PUNCH_OF(l) ((struct punch *)(void *)((char *)(l) - offsetof(struct punch, link)))

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

static struct punch *find_punch(struct dcutr_st *st, const p2p_peerid *peer)
{
    for (struct dcutr_link *l = st->punches.next; l != &st->punches; l = l->next)
        if (p2p_peerid_equal(&PUNCH_OF(l)->peer, peer)) return PUNCH_OF(l);
    return NULL;
}

static bool have_direct(struct dcutr_st *st, const p2p_peerid *peer)
{
    p2p_conn *c = p2p_host_conn_to(st->h, peer);
    return c && !p2p_conn_limited(c);
}

/* The role of our end in the upgrade of the punched connection. The spec
 * (and rust-libp2p, and go-libp2p since #3044 without its legacy flag):
 * A, the DCUtR responder (the side that dialed the relayed connection and
 * dials on SYNC), is the client; B, the initiator, is the server. */
static enum p2p_upgrade_role role_for(const struct punch *p)
{
    bool initiator_side = p->sm.initiator != p->st->legacy_roles;
    return initiator_side ? P2P_ROLE_RESPONDER : P2P_ROLE_INITIATOR;
}

/* ---- the stream ------------------------------------------------------------------------ */

static void close_stream(struct punch *p)
{
    if (!p->s) return;
    p2p_stream_close(p->s);
    p->s = NULL;
    p2p_buf_free(&p->in);
    p2p_buf_init(&p->in, 2 * DCUTR_FRAME_MAX);
}

static size_t local_addrs(struct punch *p, p2p_multiaddr *out, size_t max)
{
    struct dcutr_st *st = p->st;
    p2p_multiaddr listen[MAX_LOCAL], adv[MAX_LOCAL];
    struct p2p_identify_observed obs[MAX_LOCAL];
    size_t nl = p2p_host_listen_addrs(st->h, listen, MAX_LOCAL);
    if (nl > MAX_LOCAL) nl = MAX_LOCAL;
    size_t no = st->id ? st->id->observed_addrs(st->id_st, obs, MAX_LOCAL) : 0;
    if (no > MAX_LOCAL) no = MAX_LOCAL;
    size_t n = p2p_addr_candidates(&st->policy, listen, nl, obs, no, st->min_observers, out, max);
    /* Addresses other plugins advertise (e.g. confirmed external ones). */
    size_t na = p2p_host_advertised_addrs(st->h, adv, MAX_LOCAL);
    if (na > MAX_LOCAL) na = MAX_LOCAL;
    for (size_t i = 0; i < na && n < max; i++) {
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++) dup = p2p_maddr_equal(&out[k], &adv[i]);
        if (!dup && p2p_addr_policy_allows(&st->policy, &adv[i])) out[n++] = adv[i];
    }
    return n;
}

static void log_addrs(struct punch *p, const char *what, const p2p_multiaddr *a, size_t n)
{
    if (!p2p_log_enabled(MOD, P2P_LOG_DEBUG)) return;
    char line[1024] = "";
    size_t off = 0;
    for (size_t i = 0; i < n && off < sizeof line - 2; i++) {
        char s[P2P_MADDR_STRMAX];
        if (p2p_maddr_to_string(&a[i], s, sizeof s) < 0) strcpy(s, "?");
        off += (size_t)snprintf(line + off, sizeof line - off, "%s%s", i ? " " : "", s);
    }
    p2p_log_debug(MOD, "%s %s: %s", p->peer_str, what, n ? line : "(none)");
}

/* Write one message; false (and the machine failed) on error. */
static bool send_msg(struct punch *p, uint32_t type)
{
    p2p_multiaddr addrs[DCUTR_MAX_ADDRS];
    size_t n = 0;
    if (type == DCUTR_CONNECT) {
        n = local_addrs(p, addrs, DCUTR_MAX_ADDRS);
        log_addrs(p, "our addresses for CONNECT", addrs, n);
        if (!n) {
            p2p_log_info(MOD, "no hole punch with %s: we have no address to offer (see [plugin dcutr] allow)",
                         p->peer_str);
            return false;
        }
    }
    uint8_t frame[DCUTR_FRAME_MAX];
    size_t dropped = 0;
    int len = dcutr_msg_encode(type, addrs, n, frame, sizeof frame, &dropped);
    if (len < 0 || !p->s || p2p_stream_write(p->s, frame, (size_t)len) < 0) return false;
    p2p_log_debug(MOD, "%s: sent %s", p->peer_str, dcutr_type_name(type));
    return true;
}

static void on_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg);
static void on_eof(p2p_stream *s, void *arg);
static void on_error(p2p_stream *s, int err, void *arg);
static const struct p2p_stream_handlers handlers = { on_read, on_eof, on_error, NULL };

static void stream_ended(struct punch *p)
{
    p_ref(p);
    close_stream(p);
    run(p, dcutr_sm_on_stream_end(&p->sm));
    p_unref(p);
}

static void on_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    struct punch *p = arg;
    p_ref(p);
    while (len && p->active && p->s) {
        size_t room = p->in.limit - p->in.len, take = len < room ? len : room;
        if (p2p_buf_append(&p->in, data, take) < 0) {
            run(p, DCUTR_ACT_FAIL);
            break;
        }
        data += take;
        len -= take;
        for (;;) {
            size_t hdr, body;
            int rc = dcutr_frame(p2p_buf_head(&p->in), p->in.len, &hdr, &body);
            if (rc == P2P_ETRUNC) break;
            struct dcutr_msg *m = rc == 0 ? malloc(sizeof *m) : NULL;
            if (rc == 0) rc = m ? dcutr_msg_decode(m, p2p_buf_head(&p->in) + hdr, body) : P2P_ENOMEM;
            if (rc < 0) {
                free(m);
                p2p_log_debug(MOD, "%s: malformed message: %s", p->peer_str, p2p_strerror(rc));
                p->sm.why = "malformed message";
                p->sm.st = DCUTR_ST_FAILED;
                run(p, DCUTR_ACT_FAIL);
                break;
            }
            p2p_buf_consume(&p->in, hdr + body);
            p2p_multiaddr usable[DCUTR_MAX_ADDRS];
            size_t nu = dcutr_remote_addrs(&p->st->policy, m->addrs, m->naddrs, usable, DCUTR_MAX_ADDRS);
            p2p_log_debug(MOD, "%s: received %s (%zu addresses, %zu usable, %zu invalid)", p->peer_str,
                          dcutr_type_name(m->type), m->naddrs, nu, m->nskipped);
            if (m->type == DCUTR_CONNECT) log_addrs(p, "their addresses for CONNECT", m->addrs, m->naddrs);
            uint32_t type = m->type;
            free(m);
            run(p, dcutr_sm_on_msg(&p->sm, now_us(), type, usable, nu));
            if (!p->active || !p->s) break;
        }
    }
    p_unref(p);
}

static void on_eof(p2p_stream *s, void *arg)
{
    (void)s;
    stream_ended(arg);
}

static void on_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    struct punch *p = arg;
    p2p_log_debug(MOD, "%s: stream error: %s", p->peer_str, p2p_strerror(err));
    stream_ended(p);
}

static void attach_stream(struct punch *p, p2p_stream *s)
{
    p->s = s;
    p2p_stream_set_handlers(s, &handlers, p);
    p2p_stream_read_start(s);
}

static void on_opened(int status, p2p_stream *s, void *arg)
{
    struct punch *p = arg;
    p->opening = false;
    if (!p->active) {
        if (s) p2p_stream_close(s);
    } else if (status) {
        p2p_log_debug(MOD, "%s: cannot open %s: %s", p->peer_str, DCUTR_PROTOCOL, p2p_strerror(status));
        p->sm.why = status == P2P_ENEGOTIATE ? "the peer does not speak /libp2p/dcutr" : "cannot open the stream";
        p->sm.st = DCUTR_ST_FAILED;
        run(p, DCUTR_ACT_FAIL);
    } else {
        attach_stream(p, s);
        if (send_msg(p, DCUTR_CONNECT)) {
            dcutr_sm_connect_sent(&p->sm, now_us());
            run(p, DCUTR_ACT_NONE);   /* re-arm the timer */
        } else {
            p->sm.why = "cannot send CONNECT";
            p->sm.st = DCUTR_ST_FAILED;
            run(p, DCUTR_ACT_FAIL);
        }
    }
    p_unref(p);
}

/* ---- dialing ------------------------------------------------------------------------------ */

/* One attempt's dials all failed (the last error says how). A direct
 * connection may still come from the peer's side of the attempt. */
static void attempt_failed(struct punch *p, const char *why)
{
    p->st->stats.attempts_failed++;
    p2p_log_info(MOD, "hole punch with %s: attempt %u of %u failed (%s)", p->peer_str, p->sm.attempt,
                 p->sm.max_attempts, why);
}

static void on_dialed(int status, p2p_conn *c, void *arg)
{
    (void)c;
    struct pdial *d = arg;
    struct punch *p = d->p;
    for (struct pdial **pp = &p->dials; *pp; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    if (p->active && p2p_log_enabled(MOD, P2P_LOG_DEBUG)) {
        char a[P2P_MADDR_STRMAX];
        if (p2p_maddr_to_string(&d->addr, a, sizeof a) < 0) strcpy(a, "?");
        p2p_log_debug(MOD, "%s: %s dial to %s: %s", p->peer_str, d->unilateral ? "direct" : "punch", a,
                      status ? p2p_strerror(status) : "connected");
    }
    if (p->active && d->gen == p->gen) {
        p->gen_pending--;
        if (status == 0 && d->unilateral) p->st->stats.unilateral_ok++;
        if (status == 0) {
            run(p, dcutr_sm_on_dial(&p->sm, now_us(), true));
        } else if (p->gen_pending == 0) {
            if (!d->unilateral) attempt_failed(p, p2p_strerror(status));
            run(p, dcutr_sm_on_dial(&p->sm, now_us(), false));
        }
    }
    free(d);
    p_unref(p);
}

static bool start_dial(struct punch *p, const p2p_multiaddr *addr, const struct p2p_connect_opts *o, bool unilateral)
{
    struct pdial *d = calloc(1, sizeof *d);
    if (!d) return false;
    *d = (struct pdial){ .p = p, .gen = p->gen, .unilateral = unilateral, .addr = *addr };
    p_ref(p);
    d->next = p->dials;
    p->dials = d;
    int rc = p2p_host_connect_opts(p->st->h, &p->peer, addr, 1, o, on_dialed, d);
    if (rc < 0) {
        p->dials = d->next;
        free(d);
        p_unref(p);
        return false;
    }
    p->gen_pending++;
    return true;
}

static bool dialable(struct punch *p, const p2p_multiaddr *a)
{
    void *ts;
    const struct p2p_transport_ops *t = p2p_transport_for(p->st->h, a, false, &ts);
    return t && !t->limited;
}

/* The attempt's dials: every usable address at once, from the listening
 * port, in the role the DCUtR roles give. An address still being dialed
 * by an earlier attempt is not dialed again (its 4-tuple is taken; the
 * pending SYN does the punching) but counts for this attempt. */
static void punch_dials(struct punch *p)
{
    struct dcutr_st *st = p->st;
    p->gen++;
    p->gen_pending = 0;
    struct p2p_connect_opts o = P2P_CONNECT_OPTS_INIT;
    o.direct = true;
    o.reuse_port = true;
    o.role = role_for(p);
    o.timeout_ms = st->dial_timeout_ms;
    p2p_log_debug(MOD, "%s: attempt %u: dialing %zu address(es) as %s", p->peer_str, p->sm.attempt,
                  p->sm.nremote, o.role == P2P_ROLE_INITIATOR ? "initiator" : "responder");
    for (size_t i = 0; i < p->sm.nremote; i++) {
        const p2p_multiaddr *a = &p->sm.remote[i];
        if (!dialable(p, a)) continue;
        struct pdial *busy = NULL;
        for (struct pdial *d = p->dials; d && !busy; d = d->next)
            if (!d->unilateral && p2p_maddr_equal(&d->addr, a)) busy = d;
        if (busy) {
            busy->gen = p->gen;
            p->gen_pending++;
            continue;
        }
        if (start_dial(p, a, &o, false)) st->stats.dials++;
    }
    if (p->gen_pending == 0) {
        attempt_failed(p, "no address we can dial");
        run(p, dcutr_sm_on_dial(&p->sm, now_us(), false));
    }
}

/* The spec's unilateral upgrade: the peer has public addresses. */
static size_t public_addrs(struct punch *p, p2p_multiaddr *out, size_t max)
{
    p2p_multiaddr all[32];
    size_t n = p2p_peerstore_addrs(p->st->h, &p->peer, all, 32), k = 0;
    if (n > 32) n = 32;
    for (size_t i = 0; i < n && k < max; i++)
        if (p2p_maddr_is_public(&all[i]) && dialable(p, &all[i])) out[k++] = all[i];
    return k;
}

static void unilateral_dial(struct punch *p)
{
    p2p_multiaddr a[DCUTR_MAX_ADDRS];
    size_t n = public_addrs(p, a, DCUTR_MAX_ADDRS);
    p->gen++;
    p->gen_pending = 0;
    struct p2p_connect_opts o = P2P_CONNECT_OPTS_INIT;
    o.direct = true;
    o.timeout_ms = p->st->dial_timeout_ms;
    for (size_t i = 0; i < n; i++) start_dial(p, &a[i], &o, true);
    if (p->gen_pending == 0) run(p, dcutr_sm_on_dial(&p->sm, now_us(), false));
}

/* ---- running the machine -------------------------------------------------------------------- */

static void finish(struct punch *p, enum outcome o)
{
    if (!p->active) return;
    struct dcutr_st *st = p->st;
    p->active = false;
    list_del(&p->link);
    st->npunches--;
    /* Superseded punches (the peer upgrades the kept connection) are
     * neither a success nor a failure of ours. */
    if (o != OUT_SUPERSEDED) p2p_counter_add(o == OUT_SUCCEEDED ? st->m_success : st->m_failure, 1);
    if (o == OUT_SUCCEEDED && p->sm.initiator) {
        st->stats.succeeded++;
        p2p_log_info(MOD, "direct connection with %s (initiator, attempt %u, relayed rtt %.1f ms)", p->peer_str,
                     p->sm.attempt, (double)p->sm.rtt / 1000.0);
    } else if (o == OUT_SUCCEEDED) {
        st->stats.succeeded++;
        p2p_log_info(MOD, "direct connection with %s (responder, attempt %u)", p->peer_str, p->sm.attempt);
    } else if (o == OUT_SUPERSEDED) {
        st->stats.superseded++;
        p2p_log_info(MOD, "no hole punch of ours with %s: the relayed connection kept is the one it dialed "
                          "(the peer upgrades it)", p->peer_str);
    } else {
        st->stats.failed++;
        p2p_log_info(MOD, "no direct connection with %s (%s): %s", p->peer_str,
                     p->sm.initiator ? "initiator" : "responder", p->sm.why ? p->sm.why : "stopped");
    }
    close_stream(p);
    p2p_buf_free(&p->in);
    if (p->timer) p2p_timer_free(p->timer);
    p->timer = NULL;
    p_unref(p);   /* the list's reference; dials in flight keep p */
}

static void on_timer(p2p_timer *t, void *arg)
{
    (void)t;
    struct punch *p = arg;
    p_ref(p);
    if (p->waiting_identify) {
        p->waiting_identify = false;
        p2p_log_debug(MOD, "%s: identify did not finish; starting anyway", p->peer_str);
        begin(p);
    } else {
        run(p, dcutr_sm_on_timer(&p->sm, now_us()));
    }
    p_unref(p);
}

static void arm_timer(struct punch *p)
{
    if (!p->active || !p->timer) return;
    uint64_t at = dcutr_sm_next_timer(&p->sm);
    if (!at) {
        p2p_timer_stop(p->timer);
        return;
    }
    uint64_t now = now_us();
    uint64_t ms = at > now ? (at - now + 999) / 1000 : 0;
    uv_update_time(p2p_host_loop(p->st->h));
    p2p_timer_start(p->timer, ms, 0);
}

static void open_stream(struct punch *p)
{
    static const char *const protos[] = { DCUTR_PROTOCOL, NULL };
    if (!p->relayed) {
        p->sm.why = "the relayed connection is gone";
        p->sm.st = DCUTR_ST_FAILED;
        return run(p, DCUTR_ACT_FAIL);
    }
    p->opening = true;
    p_ref(p);
    int rc = p2p_conn_open_stream(p->relayed, protos, on_opened, p);
    if (rc < 0) {
        p->opening = false;
        p_unref(p);
        p->sm.why = "cannot open the stream";
        p->sm.st = DCUTR_ST_FAILED;
        run(p, DCUTR_ACT_FAIL);
    }
}

static void run(struct punch *p, enum dcutr_action a)
{
    if (!p->active) return;
    struct dcutr_st *st = p->st;
    switch (a) {
    case DCUTR_ACT_NONE:
        break;
    case DCUTR_ACT_DIAL_DIRECT:
        return unilateral_dial(p);
    case DCUTR_ACT_SEND_CONNECT:
        st->stats.attempts++;
        p2p_counter_add(st->m_attempts, 1);
        if (p->sm.initiator && !p->s) {
            /* The first attempt, or a peer that closed the stream after
             * the previous round (go-libp2p, rust-libp2p): a new stream. */
            p2p_multiaddr tmp[DCUTR_MAX_ADDRS];
            if (!local_addrs(p, tmp, DCUTR_MAX_ADDRS)) {
                p2p_log_info(MOD, "no hole punch with %s: we have no address to offer (see [plugin dcutr] allow)",
                             p->peer_str);
                p->sm.why = "no address of ours to offer";
                p->sm.st = DCUTR_ST_FAILED;
                return finish(p, OUT_FAILED);
            }
            if (!p->opening) open_stream(p);
            break;
        }
        if (!send_msg(p, DCUTR_CONNECT)) {
            p->sm.why = p->s ? "no address of ours to offer" : "the stream is gone";
            p->sm.st = DCUTR_ST_FAILED;
            return finish(p, OUT_FAILED);
        }
        break;
    case DCUTR_ACT_SEND_SYNC:
        st->stats.last_rtt_us = p->sm.rtt;
        p2p_log_debug(MOD, "%s: relayed rtt %.1f ms; dialing in %.1f ms", p->peer_str, (double)p->sm.rtt / 1000.0,
                      (double)p->sm.rtt / 2000.0);
        if (!send_msg(p, DCUTR_SYNC)) {
            p->sm.why = "cannot send SYNC";
            p->sm.st = DCUTR_ST_FAILED;
            return finish(p, OUT_FAILED);
        }
        break;
    case DCUTR_ACT_DIAL:
        if (have_direct(st, &p->peer)) return finish(p, OUT_SUCCEEDED);
        punch_dials(p);
        break;
    case DCUTR_ACT_SUCCESS:
        return finish(p, OUT_SUCCEEDED);
    case DCUTR_ACT_FAIL:
        return finish(p, OUT_FAILED);
    }
    arm_timer(p);
}

/* ---- starting ----------------------------------------------------------------------------------- */

static struct punch *punch_new(struct dcutr_st *st, const p2p_peerid *peer, p2p_conn *relayed, bool initiator)
{
    if (st->npunches >= DCUTR_MAX_PUNCHES) return NULL;
    struct punch *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->timer = p2p_timer_new(st->h, on_timer, p);
    if (!p->timer) {
        free(p);
        return NULL;
    }
    p->st = st;
    st->refs++;
    p->refs = 1;
    p->active = true;
    p->peer = *peer;
    p2p_peerid_to_string(peer, p->peer_str, sizeof p->peer_str);
    p->relayed = relayed;
    p2p_buf_init(&p->in, 2 * DCUTR_FRAME_MAX);
    dcutr_sm_init(&p->sm, initiator, st->max_attempts, st->timeout_ms * 1000);
    list_add(&st->punches, &p->link);
    st->npunches++;
    return p;
}

/* Both sides dialed each other through the relay (both found the other
 * in the DHT, say): the swarm keeps one of the two relayed connections,
 * the same one at both ends, and closes the other. A punch that has not
 * started yet follows the one kept: if it came in, we initiate on it; if
 * we dialed it, the peer initiates on it and we step aside (superseded).
 * false: p has finished. */
static bool follow_relayed(struct punch *p)
{
    p2p_conn *c = p2p_host_conn_to(p->st->h, &p->peer);
    if (!c || c == p->relayed || !p2p_conn_limited(c)) return true;   /* callers handle none or direct */
    if (p2p_conn_direction(c) == P2P_OUTBOUND) {
        finish(p, OUT_SUPERSEDED);
        return false;
    }
    p2p_log_debug(MOD, "%s: following the relayed connection kept (conn %llu)", p->peer_str,
                  (unsigned long long)p2p_conn_id(c));
    p->relayed = c;
    return true;
}

/* Initiator, once identify finished on the relayed connection (or its
 * wait ran out). */
static void begin(struct punch *p)
{
    struct dcutr_st *st = p->st;
    if (!p->active) return;
    if (have_direct(st, &p->peer)) return run(p, dcutr_sm_on_direct(&p->sm));
    if (!follow_relayed(p)) return;
    if (st->id && p->relayed && st->id->identified(st->id_st, p->relayed) &&
        !p2p_peerstore_supports(st->h, &p->peer, DCUTR_PROTOCOL)) {
        p->sm.why = "the peer does not support /libp2p/dcutr";
        p->sm.st = DCUTR_ST_FAILED;
        return finish(p, OUT_FAILED);
    }
    p2p_multiaddr pub[1];
    bool direct = st->unilateral && public_addrs(p, pub, 1) > 0;
    run(p, dcutr_sm_start(&p->sm, now_us(), direct));
}

static void on_relayed_inbound(struct dcutr_st *st, p2p_conn *c)
{
    const p2p_peerid *peer = p2p_conn_peer(c);
    if (find_punch(st, peer) || have_direct(st, peer)) return;
    struct punch *p = punch_new(st, peer, c, true);
    if (!p) {
        p2p_log_debug(MOD, "not upgrading a relayed connection: too many hole punches in progress");
        return;
    }
    st->stats.started_initiator++;
    p2p_log_debug(MOD, "%s: inbound relayed connection: upgrading it", p->peer_str);
    if (st->id && !st->id->identified(st->id_st, c)) {
        p->waiting_identify = true;
        p2p_timer_start(p->timer, st->identify_wait_ms, 0);
        return;
    }
    begin(p);
}

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct dcutr_st *st = arg;
    if (st->stopped || !ev->conn) return;
    p2p_conn *c = ev->conn;
    struct punch *p = find_punch(st, p2p_conn_peer(c));
    switch (ev->type) {
    case P2P_EV_CONNECTED:
        if (p2p_conn_limited(c)) {
            if (p2p_conn_direction(c) == P2P_INBOUND) on_relayed_inbound(st, c);
        } else if (p) {
            p2p_log_debug(MOD, "%s: direct connection up", p->peer_str);
            run(p, dcutr_sm_on_direct(&p->sm));
        }
        break;
    case P2P_EV_IDENTIFIED:
        if (p && p->waiting_identify && p->relayed == c) {
            p->waiting_identify = false;
            p2p_timer_stop(p->timer);
            p_ref(p);
            begin(p);
            p_unref(p);
        }
        break;
    case P2P_EV_DISCONNECTED:
        if (p && p->relayed == c) {
            p->relayed = NULL;
            if (have_direct(st, &p->peer)) {
                run(p, dcutr_sm_on_direct(&p->sm));
            } else if (p->waiting_identify && p2p_host_conn_to(st->h, &p->peer)) {
                /* Not started: the other relayed connection decides. */
                p_ref(p);
                if (follow_relayed(p) && p->relayed && st->id && st->id->identified(st->id_st, p->relayed)) {
                    p->waiting_identify = false;
                    p2p_timer_stop(p->timer);
                    begin(p);
                }
                p_unref(p);
            } else if (!p->gen_pending) {
                p->sm.why = "the relayed connection closed";
                p->sm.st = DCUTR_ST_FAILED;
                finish(p, OUT_FAILED);
            }
            /* else: dials in flight decide */
        }
        break;
    default:
        break;
    }
}

/* Responder: B opened /libp2p/dcutr over the relayed connection we dialed. */
static void on_stream(p2p_stream *s, const char *protocol_id, void *arg)
{
    (void)protocol_id;
    struct dcutr_st *st = arg;
    p2p_conn *c = p2p_stream_conn(s);
    if (st->stopped || !c || !p2p_conn_limited(c) || p2p_conn_direction(c) != P2P_OUTBOUND) {
        /* go-libp2p's rule: only the side that received the relayed
         * connection initiates, and only over a relayed connection. */
        st->stats.refused++;
        p2p_log_debug(MOD, "refusing a %s stream: %s", DCUTR_PROTOCOL,
                      !c || !p2p_conn_limited(c) ? "not over a relayed connection"
                                                 : "we did not dial that relayed connection");
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    const p2p_peerid *peer = p2p_conn_peer(c);
    struct punch *p = find_punch(st, peer);
    if (p && p->sm.initiator && p->waiting_identify) {
        /* Our punch had not started, on a relayed connection of the peer's
         * dialing that the swarm is closing (see follow_relayed): the peer
         * upgrades the one kept. */
        finish(p, OUT_SUPERSEDED);
        p = NULL;
    }
    if (p && !p->sm.initiator) {
        /* A new stream per attempt (go-libp2p, rust-libp2p). */
        close_stream(p);
        p->relayed = c;
        dcutr_sm_restart_wait(&p->sm, now_us());
        attach_stream(p, s);
        arm_timer(p);
        return;
    }
    if (p || !(p = punch_new(st, peer, c, false))) {
        st->stats.refused++;
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    st->stats.started_responder++;
    p2p_log_debug(MOD, "%s: the peer starts a hole punch", p->peer_str);
    attach_stream(p, s);
    run(p, dcutr_sm_start(&p->sm, now_us(), false));
}

/* ---- lifecycle ----------------------------------------------------------------------------------- */

static void svc_stats(void *state, struct p2p_dcutr_stats *out)
{
    const struct dcutr_st *st = state;
    *out = st->stats;
}

static const struct p2p_dcutr_api_v1 dcutr_api = { svc_stats };

static const struct p2p_conf_key keys[] = {
    { "allow", P2P_CONF_LIST, "public", 0, 0, NULL,
      "addresses a hole punch may use (ours in CONNECT, the peer's we dial): public, private, loopback, "
      "link-local, all, or prefixes such as 198.18.0.0/15" },
    { "max_attempts", P2P_CONF_INT, "3", 1, 10, NULL, "CONNECT/SYNC rounds before giving up (the spec: 3)" },
    { "dial_timeout", P2P_CONF_DURATION, "5s", 100, 120000, NULL, "limit of one punch (or direct) dial" },
    { "timeout", P2P_CONF_DURATION, "10s", 100, 600000, NULL, "waiting for one message of the exchange" },
    { "identify_wait", P2P_CONF_DURATION, "5s", 0, 120000, NULL,
      "how long a new relayed connection waits for identify before the upgrade starts anyway" },
    { "observed_min", P2P_CONF_INT, "1", 1, 64, NULL,
      "peers that must have observed an address of ours (identify) before we offer it" },
    { "unilateral", P2P_CONF_BOOL, "true", 0, 0, NULL,
      "first dial the peer directly when it has public addresses (the spec's unilateral upgrade)" },
    { "legacy_roles", P2P_CONF_BOOL, "false", 0, 0, NULL,
      "upgrade roles of go-libp2p before #3044 (its legacy flag): the DCUtR initiator is the client; "
      "default: the spec's (and rust-libp2p's), the responder is" },
    P2P_CONF_KEYS_END
};

static int dcutr_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct dcutr_st *st = calloc(1, sizeof *st);
    if (!st) return P2P_ENOMEM;
    st->h = h;
    st->refs = 1;
    st->punches.prev = st->punches.next = &st->punches;
    char err[256];
    if (p2p_addr_policy_from_conf(&st->policy, cf, "allow", err, sizeof err) < 0) {
        p2p_host_set_error(h, "[plugin dcutr] allow: %s", err);
        free(st);
        return P2P_ECONFIG;
    }
    st->max_attempts = (unsigned)p2p_conf_int(cf, "max_attempts");
    st->dial_timeout_ms = p2p_conf_duration_ms(cf, "dial_timeout");
    st->timeout_ms = p2p_conf_duration_ms(cf, "timeout");
    st->identify_wait_ms = p2p_conf_duration_ms(cf, "identify_wait");
    st->min_observers = (unsigned)p2p_conf_int(cf, "observed_min");
    st->unilateral = p2p_conf_bool(cf, "unilateral");
    st->legacy_roles = p2p_conf_bool(cf, "legacy_roles");
    st->id = p2p_service_get(h, P2P_IDENTIFY_SERVICE, 1, &st->id_st);
    st->m_attempts = p2p_metric_counter(h, "p2p_dcutr_attempts_total", "Hole-punch rounds (CONNECT exchanges).");
    p2p_metric *hp = p2p_metric_register(h, "p2p_dcutr_holepunches_total", P2P_METRIC_COUNTER,
                                         "Hole punches finished: success (a direct connection) or failure.",
                                         (const char *const[]){ "result", NULL });
    st->m_success = p2p_metric_get(hp, (const char *const[]){ "success" });
    st->m_failure = p2p_metric_get(hp, (const char *const[]){ "failure" });
    int rc = p2p_protocol_add(h, DCUTR_PROTOCOL, on_stream, st);
    if (rc < 0) {
        p2p_host_set_error(h, "cannot register %s: %s", DCUTR_PROTOCOL, p2p_strerror(rc));
        free(st);
        return rc;
    }
    if ((rc = p2p_service_provide(h, P2P_DCUTR_SERVICE, 1, &dcutr_api, st)) < 0) {
        p2p_host_set_error(h, "cannot provide the %s service: %s", P2P_DCUTR_SERVICE, p2p_strerror(rc));
        p2p_protocol_remove(h, DCUTR_PROTOCOL);
        free(st);
        return rc;
    }
    *state = st;
    return 0;
}

static int dcutr_start(void *state)
{
    struct dcutr_st *st = state;
    st->sub = p2p_host_subscribe(st->h, P2P_EV_CONNECTED | P2P_EV_DISCONNECTED | P2P_EV_IDENTIFIED, on_event, st);
    return st->sub ? 0 : P2P_ENOMEM;
}

static void dcutr_stop(void *state)
{
    struct dcutr_st *st = state;
    if (st->stopped) return;
    st->stopped = true;
    if (st->sub) p2p_host_unsubscribe(st->h, st->sub);
    st->sub = NULL;
    while (st->punches.next != &st->punches) {
        struct punch *p = PUNCH_OF(st->punches.next);
        p->sm.why = "shutting down";
        p->sm.st = DCUTR_ST_FAILED;
        finish(p, OUT_FAILED);
    }
}

static void dcutr_fini(void *state)
{
    struct dcutr_st *st = state;
    dcutr_stop(st);
    p2p_service_withdraw(st->h, P2P_DCUTR_SERVICE, 1);
    p2p_protocol_remove(st->h, DCUTR_PROTOCOL);
    st_unref(st);
}

static const char *const requires[] = { "identify", NULL };

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "dcutr",
    .version = "1.0.0",
    .description = "DCUtR: upgrade relayed connections to direct ones by hole punching (/libp2p/dcutr)",
    .requires = requires,
    .config = keys,
    .init = dcutr_init,
    .start = dcutr_start,
    .stop = dcutr_stop,
    .fini = dcutr_fini,
});
