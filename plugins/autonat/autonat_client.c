/* autonat_client.c - the client side: when a probe is due
 * (autonat_status.c), ask connected peers that support the protocol
 * (identify told us) to dial us back at our addresses, one stream each,
 * and feed their answers to the status machine; publish every change
 * through the core. */
#include <stdlib.h>
#include <string.h>

#include "autonat.h"

#define MOD AUTONAT_MOD
#define PROBE_OF(l) ((struct probe *)(void *)((char *)(l) - offsetof(struct probe, link)))

struct probe {
    struct an_link link;             /* in st->probes while active */
    struct autonat_st *st;
    unsigned refs;                   /* the list's + one while the stream is being opened */
    bool active;
    p2p_peerid peer;
    char peer_str[P2P_PEERID_STRMAX];
    p2p_stream *s;
    p2p_buf in;
    p2p_timer *timer;
};

static void probe_unref(struct probe *p)
{
    if (--p->refs) return;
    struct autonat_st *st = p->st;
    free(p);
    autonat_st_unref(st);
}

static void arm(struct autonat_st *st)
{
    if (!st->timer || st->stopped) return;
    uint64_t at = autonat_status_next(&st->cl), now = autonat_now(st);
    if (!at) {
        p2p_timer_stop(st->timer);
        return;
    }
    p2p_timer_start(st->timer, at > now ? at - now : 0, 0);
}

/* One answer (or none): into the status machine, then publish. */
static void done(struct probe *p, enum autonat_report rep, const p2p_multiaddr *addr, const char *what)
{
    if (!p->active) return;
    struct autonat_st *st = p->st;
    p->active = false;
    an_list_del(&p->link);
    if (p->s) p2p_stream_close(p->s);
    p->s = NULL;
    if (p->timer) p2p_timer_free(p->timer);
    p->timer = NULL;
    p2p_buf_free(&p->in);
    if (rep == AUTONAT_REPORT_PUBLIC) st->stats.said_public++;
    else if (rep == AUTONAT_REPORT_PRIVATE) st->stats.said_private++;
    else st->stats.said_nothing++;
    p2p_log_debug(MOD, "%s: %s", p->peer_str, what);
    if (!st->stopped) {
        bool changed = autonat_status_report(&st->cl, autonat_now(st), rep, addr);
        autonat_publish(st, changed);
        arm(st);
    }
    probe_unref(p);
}

static void on_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct probe *p = arg;
    size_t hdr, body;
    int rc = autonat_take(&p->in, data, len, &hdr, &body);
    if (rc == P2P_ETRUNC) return;
    if (rc < 0) return done(p, AUTONAT_REPORT_NONE, NULL, "unreadable answer");
    p2p_stream_read_stop(s);
    struct autonat_msg *m = malloc(sizeof *m);
    if (!m) return done(p, AUTONAT_REPORT_NONE, NULL, "out of memory");
    rc = autonat_msg_decode(m, p2p_buf_head(&p->in) + hdr, body);
    char what[AUTONAT_TEXT_MAX + 64];
    if (rc < 0 || m->type != AUTONAT_DIAL_RESPONSE || !m->has_response) {
        done(p, AUTONAT_REPORT_NONE, NULL, "malformed answer");
    } else if (m->status == AUTONAT_OK) {
        /* OK without a (valid) address still says a dial-back worked. */
        snprintf(what, sizeof what, "dialed us back%s", m->has_addr ? "" : " (no address in the answer)");
        done(p, AUTONAT_REPORT_PUBLIC, m->has_addr ? &m->addr : NULL, what);
    } else {
        snprintf(what, sizeof what, "%s%s%s", autonat_status_name(m->status), m->text[0] ? ": " : "", m->text);
        done(p, m->status == AUTONAT_E_DIAL_ERROR ? AUTONAT_REPORT_PRIVATE : AUTONAT_REPORT_NONE, NULL, what);
    }
    free(m);
}

static void on_eof(p2p_stream *s, void *arg)
{
    (void)s;
    done(arg, AUTONAT_REPORT_NONE, NULL, "the stream ended without an answer");
}

static void on_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    (void)err;
    done(arg, AUTONAT_REPORT_NONE, NULL, "stream error");
}

static const struct p2p_stream_handlers handlers = { on_read, on_eof, on_error, NULL };

static void on_timeout(p2p_timer *t, void *arg)
{
    (void)t;
    done(arg, AUTONAT_REPORT_NONE, NULL, "no answer in time");
}

size_t autonat_own_addrs(struct autonat_st *st, p2p_multiaddr *out, size_t max)
{
    p2p_multiaddr listen[AUTONAT_MAX_OWN_ADDRS], adv[AUTONAT_MAX_OWN_ADDRS];
    struct p2p_identify_observed obs[AUTONAT_MAX_OWN_ADDRS];
    struct p2p_addr_policy all = { .all = true };
    size_t nl = p2p_host_listen_addrs(st->h, listen, AUTONAT_MAX_OWN_ADDRS);
    if (nl > AUTONAT_MAX_OWN_ADDRS) nl = AUTONAT_MAX_OWN_ADDRS;
    size_t no = st->id ? st->id->observed_addrs(st->id_st, obs, AUTONAT_MAX_OWN_ADDRS) : 0;
    if (no > AUTONAT_MAX_OWN_ADDRS) no = AUTONAT_MAX_OWN_ADDRS;
    size_t n = p2p_addr_candidates(&all, listen, nl, obs, no, 1, out, max);
    /* Addresses other plugins advertise (not relayed ones: a relay is not us). */
    size_t na = p2p_host_advertised_addrs(st->h, adv, AUTONAT_MAX_OWN_ADDRS);
    if (na > AUTONAT_MAX_OWN_ADDRS) na = AUTONAT_MAX_OWN_ADDRS;
    for (size_t i = 0; i < na && n < max; i++) {
        bool dup = !p2p_addr_policy_allows(&all, &adv[i]);
        for (size_t k = 0; k < n && !dup; k++) dup = p2p_maddr_equal(&out[k], &adv[i]);
        if (!dup) out[n++] = adv[i];
    }
    return n;
}

static void on_opened(int status, p2p_stream *s, void *arg)
{
    struct probe *p = arg;
    struct autonat_st *st = p->st;
    if (!p->active || status) {
        if (s) {
            p2p_stream_reset(s);
            p2p_stream_close(s);
        }
        done(p, AUTONAT_REPORT_NONE, NULL, "cannot open a stream");
        return probe_unref(p);
    }
    p->s = s;
    p2p_multiaddr addrs[AUTONAT_MAX_OWN_ADDRS];
    size_t n = autonat_own_addrs(st, addrs, AUTONAT_MAX_OWN_ADDRS);
    uint8_t frame[AUTONAT_SEND_FRAME_MAX];
    size_t dropped = 0;
    int len = autonat_encode_dial(p2p_host_peerid(st->h), addrs, n, frame, sizeof frame, &dropped);
    if (len < 0 || p2p_stream_write(s, frame, (size_t)len) < 0) {
        done(p, AUTONAT_REPORT_NONE, NULL, "cannot send the request");
        return probe_unref(p);
    }
    p2p_log_debug(MOD, "%s: asked to dial us back at %zu address(es)", p->peer_str, n - dropped);
    p2p_stream_shutdown(s);   /* one request: the server may read to the end */
    p2p_stream_set_handlers(s, &handlers, p);
    p2p_stream_read_start(s);
    probe_unref(p);
}

static void start_probe(struct autonat_st *st, const p2p_peerid *peer)
{
    static const char *const protos[] = { AUTONAT_PROTOCOL, NULL };
    p2p_conn *c = p2p_host_conn_to(st->h, peer);
    struct probe *p = c && !p2p_conn_limited(c) ? calloc(1, sizeof *p) : NULL;
    if (p && !(p->timer = p2p_timer_new(st->h, on_timeout, p))) {
        free(p);
        p = NULL;
    }
    if (!p) {
        /* Counts as an answer without a verdict. */
        st->stats.said_nothing++;
        bool changed = autonat_status_report(&st->cl, autonat_now(st), AUTONAT_REPORT_NONE, NULL);
        autonat_publish(st, changed);
        return;
    }
    p->st = st;
    autonat_st_ref(st);
    p->refs = 2;   /* the list's and the open's */
    p->active = true;
    p->peer = *peer;
    autonat_peer_str(peer, p->peer_str);
    p2p_buf_init(&p->in, AUTONAT_FRAME_MAX);
    an_list_add(&st->probes, &p->link);
    st->stats.probes++;
    p2p_timer_start(p->timer, st->probe_timeout_ms, 0);
    if (p2p_conn_open_stream(c, protos, on_opened, p) < 0) {
        done(p, AUTONAT_REPORT_NONE, NULL, "cannot open a stream");
        probe_unref(p);
    }
}

/* Connected peers that serve AutoNAT, over unlimited connections. */
static size_t servers(struct autonat_st *st, p2p_peerid *out, size_t max)
{
    p2p_conn *conns[AUTONAT_MAX_SERVERS];
    size_t nc = p2p_host_conns(st->h, conns, AUTONAT_MAX_SERVERS), n = 0;
    if (nc > AUTONAT_MAX_SERVERS) nc = AUTONAT_MAX_SERVERS;
    for (size_t i = 0; i < nc && n < max; i++) {
        const p2p_peerid *peer = p2p_conn_peer(conns[i]);
        if (p2p_conn_limited(conns[i]) || !p2p_peerstore_supports(st->h, peer, AUTONAT_PROTOCOL)) continue;
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++) dup = p2p_peerid_equal(&out[k], peer);
        if (!dup) out[n++] = *peer;
    }
    return n;
}

static uint64_t addr_print(struct autonat_st *st);

void autonat_client_tick(struct autonat_st *st)
{
    if (st->stopped || !st->client) return;
    uint64_t now = autonat_now(st);
    if (autonat_status_due(&st->cl, now)) {
        p2p_peerid cand[AUTONAT_MAX_SERVERS];
        size_t idx[16];
        size_t nc = servers(st, cand, AUTONAT_MAX_SERVERS);
        bool probed = st->cl.probed;
        size_t k = autonat_status_pick(&st->cl, now, cand, nc, idx, 16);
        if (!k) {
            p2p_log_debug(MOD, "no AutoNAT server to ask (%zu connected, all asked recently or none)", nc);
            if (!probed) autonat_publish(st, false);   /* unknown after probing */
        }
        if (k) {
            /* Changes of our addresses from now on call for a new probe. */
            st->addr_print = addr_print(st);
            st->have_print = true;
        }
        for (size_t i = 0; i < k; i++) start_probe(st, &cand[idx[i]]);
    }
    arm(st);
}

/* Order-independent fingerprint of our own (non-relayed) addresses. */
static uint64_t addr_print(struct autonat_st *st)
{
    p2p_multiaddr adv[64];
    size_t n = p2p_host_advertised_addrs(st->h, adv, 64);
    if (n > 64) n = 64;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (p2p_maddr_is_relayed(&adv[i])) continue;
        uint64_t h = 1469598103934665603ull;
        for (size_t k = 0; k < adv[i].len; k++) h = (h ^ adv[i].bytes[k]) * 1099511628211ull;
        x ^= h;
    }
    return x;
}

static bool still_have(struct autonat_st *st, const p2p_multiaddr *a)
{
    if (!a->len) return true;
    p2p_multiaddr own[AUTONAT_MAX_OWN_ADDRS];
    size_t n = autonat_own_addrs(st, own, AUTONAT_MAX_OWN_ADDRS);
    p2p_multiaddr bare = *a;
    struct p2p_maddr_component c;
    if (p2p_maddr_find(&bare, P2P_MA_P2P, &c)) p2p_maddr_pop(&bare);   /* ".../p2p/<us>" */
    for (size_t i = 0; i < n; i++)
        if (p2p_maddr_equal(&own[i], &bare)) return true;
    return false;
}

void autonat_client_on_event(struct autonat_st *st, const struct p2p_event *ev)
{
    uint64_t now = autonat_now(st);
    switch (ev->type) {
    case P2P_EV_IDENTIFIED:
        if (ev->conn && !p2p_conn_limited(ev->conn) &&
            p2p_peerstore_supports(st->h, p2p_conn_peer(ev->conn), AUTONAT_PROTOCOL) &&
            autonat_status_server_added(&st->cl, now))
            autonat_client_tick(st);
        else
            arm(st);
        break;
    case P2P_EV_ADDRS_CHANGED: {
        /* Before the first probe there is nothing to redo: it will use
         * the addresses of its time. */
        uint64_t print = addr_print(st);
        if (!st->have_print || print == st->addr_print) break;
        st->addr_print = print;
        bool changed = autonat_status_addrs_changed(&st->cl, now, still_have(st, &st->cl.addr));
        if (changed) autonat_publish(st, true);
        p2p_log_debug(MOD, "our addresses changed: probing again");
        autonat_client_tick(st);
        break;
    }
    default:
        break;
    }
}

void autonat_client_stop(struct autonat_st *st)
{
    while (!an_list_empty(&st->probes)) done(PROBE_OF(st->probes.next), AUTONAT_REPORT_NONE, NULL, "stopping");
}
