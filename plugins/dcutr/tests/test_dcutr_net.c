/* test_dcutr_net.c - unit.dcutr_net: hole punching on one loop over
 * loopback, with the real transport-tcp, noise, yamux, identify, relay and
 * dcutr plugins.
 *
 *  - upgrade: a relay R; B reserves on R; A dials B through R (a limited
 *    connection, inbound at B). B runs DCUtR (it received the relayed
 *    connection), a direct connection appears at both ends, the relayed
 *    one is closed, and an echo runs over the direct one. With the spec's
 *    upgrade roles and with go-libp2p's legacy ones.
 *  - the default policy (public addresses only) offers nothing on
 *    loopback: the relayed connection stays.
 *  - A and B dial each other through R at once: one relayed connection
 *    is kept; the punch on the other steps aside (superseded), the kept
 *    one is upgraded; nothing is counted as failed.
 *  - p2p_host_connect_opts with forced roles, directly:
 *      * two hosts dialing each other from their listening ports at the
 *        same instant over real TCP (on loopback one SYN reaches the other
 *        listener and the second connect finds its 4-tuple taken);
 *      * a simulated transport ("simnet") that reproduces what loopback
 *        cannot: both connects succeed on one socket pair (a real TCP
 *        simultaneous open), where both ends "dialed" - with AUTO roles
 *        the upgrade fails, with DCUtR's roles it works; and the crossed
 *        case, where one end's SYN reaches the other's listener while the
 *        other end is the one that must initiate. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcutr.h"
#include "echo.h"
#include "ihost.h"
#include "p2p/transport.h"
#include "testutil.h"

static p2p_host *new_host(uv_loop_t *loop, const char *listen, const char *sections,
                          const struct p2p_plugin *const *builtin)
{
    char text[8192], err[1024];
    snprintf(text, sizeof text,
             "[host]\nephemeral_identity = true\nlisten = %s\nlog = %s\nclose_timeout = 2s\n"
             "[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n%s\n",
             listen, getenv("P2P_LOG") ? getenv("P2P_LOG") : "warn", sections ? sections : "");
    p2p_conf *cf = p2p_conf_load_string(text, "dcutr-test.ini", err, sizeof err);
    ck_assert_msg(cf != NULL, "config: %s", err);
    struct p2p_host_opts o = { .loop = loop, .builtin = builtin };
    p2p_host *h = NULL;
    int rc = p2p_host_new(&h, cf, &o, err, sizeof err);
    ck_assert_msg(rc == 0, "host: %s", err);
    ihost_start(h);
    return h;
}

static struct dcutr_st *dstate(p2p_host *h)
{
    struct dcutr_st *st = p2p_host_plugin_state(h, "dcutr");
    ck_assert_ptr_nonnull(st);
    return st;
}

/* Connections from h to peer: counts of limited and direct ones. */
static void count_conns(p2p_host *h, p2p_host *peer, size_t *limited, size_t *direct, p2p_conn **d)
{
    p2p_conn *cs[32];
    size_t n = p2p_host_conns(h, cs, 32);
    *limited = *direct = 0;
    if (d) *d = NULL;
    for (size_t i = 0; i < n && i < 32; i++) {
        if (!p2p_peerid_equal(p2p_conn_peer(cs[i]), p2p_host_peerid(peer))) continue;
        if (p2p_conn_limited(cs[i])) (*limited)++;
        else {
            (*direct)++;
            if (d) *d = cs[i];
        }
    }
}

struct pair {
    p2p_host *a, *b;
};

/* Exactly one connection each way, direct. */
static bool one_direct(void *arg)
{
    struct pair *p = arg;
    size_t la, da, lb, db;
    count_conns(p->a, p->b, &la, &da, NULL);
    count_conns(p->b, p->a, &lb, &db, NULL);
    return la == 0 && lb == 0 && da == 1 && db == 1;
}

/* one_direct, and still so 200 ms later (on loopback a punch often makes
 * two direct connections: the punched socket pair and the second dialer's
 * fallback from an ephemeral port; the swarm keeps one). */
static bool settle_one_direct(uv_loop_t *loop, struct pair *p, uint64_t ms)
{
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + ms;
    while (uv_now(loop) < end) {
        if (one_direct(p)) {
            ihost_run_for(loop, 200);
            if (one_direct(p)) return true;
        } else {
            ihost_run_cond(loop, one_direct, p, end - uv_now(loop));
        }
        uv_update_time(loop);
    }
    return one_direct(p);
}

struct echo_wait {
    bool done;
};

static void on_echo_done(struct echo_client *c)
{
    ((struct echo_wait *)c->user)->done = true;
}

static void echo_ok(uv_loop_t *loop, p2p_conn *c, size_t total)
{
    struct echo_wait w = { 0 };
    struct echo_client e = { .total = total, .seed = 11, .done = on_echo_done, .user = &w };
    ck_assert_int_eq(echo_start(c, &e), 0);
    ck_assert(ihost_run_until(loop, &w.done, 30000));
    ck_assert_msg(e.ok, "echo: %s (%zu of %zu)", p2p_strerror(e.status), e.recvd, e.total);
}

/* ---- relayed connection upgraded ---------------------------------------------------------- */

struct lab {
    uv_loop_t loop;
    p2p_host *r, *a, *b;
};

static bool reserved(void *host)
{
    return ihost_circuit_count(host) > 0;
}

/* R, A and B; B reserves on R (and A too with a_reserves). */
static void lab_up_opts(struct lab *l, const char *dcutr_keys_a, const char *dcutr_keys_b, bool a_reserves)
{
    memset(l, 0, sizeof *l);
    uv_loop_init(&l->loop);
    l->r = new_host(&l->loop, "/ip4/127.0.0.1/tcp/0",
                    "[plugin identify]\n[plugin relay]\nserver = true\nclient = false\n", NULL);
    char ra[1024], sec[4096];
    ihost_peer_addr(l->r, ra, sizeof ra);
    snprintf(sec, sizeof sec,
             "[plugin identify]\n[plugin ping]\n[plugin relay]\nrelays = %s\n[plugin dcutr]\n%s\n", ra,
             dcutr_keys_a ? dcutr_keys_a : "");
    l->a = new_host(&l->loop, a_reserves ? "/ip4/127.0.0.1/tcp/0, /p2p-circuit" : "/ip4/127.0.0.1/tcp/0", sec, NULL);
    snprintf(sec, sizeof sec,
             "[plugin identify]\n[plugin ping]\n[plugin relay]\nrelays = %s\n[plugin dcutr]\n%s\n", ra,
             dcutr_keys_b ? dcutr_keys_b : "");
    l->b = new_host(&l->loop, "/ip4/127.0.0.1/tcp/0, /p2p-circuit", sec, NULL);
    ck_assert_int_eq(echo_serve(l->b), 0);
    ck_assert(ihost_run_cond(&l->loop, reserved, l->b, 15000));
    if (a_reserves) ck_assert(ihost_run_cond(&l->loop, reserved, l->a, 15000));
}

static void lab_up(struct lab *l, const char *dcutr_keys_a, const char *dcutr_keys_b)
{
    lab_up_opts(l, dcutr_keys_a, dcutr_keys_b, false);
}

static void lab_down(struct lab *l)
{
    p2p_host_free(l->a);
    p2p_host_free(l->b);
    p2p_host_free(l->r);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&l->loop), 0);
}

/* from's dial of to through R (its callback fills w). */
static void start_relayed_dial(struct lab *l, p2p_host *from, p2p_host *to, struct ihost_wait *w)
{
    p2p_multiaddr ca = ihost_circuit_addr(l->r, to);
    ck_assert_int_eq(p2p_host_connect(from, p2p_host_peerid(to), &ca, 1, ihost_on_connected, w), 0);
}

/* A dials B through R: a limited connection (outbound at A). */
static p2p_conn *dial_relayed(struct lab *l)
{
    struct ihost_wait w = { 0 };
    start_relayed_dial(l, l->a, l->b, &w);
    ck_assert(ihost_run_until(&l->loop, &w.done, 15000));
    ck_assert_msg(w.status == 0, "relayed dial: %s", p2p_strerror(w.status));
    ck_assert(p2p_conn_limited(w.c));
    ck_assert_int_eq(p2p_conn_direction(w.c), P2P_OUTBOUND);
    return w.c;
}

struct disc_count {
    p2p_host *peer;
    unsigned limited_gone, direct_up;
};

static void on_ev(const struct p2p_event *ev, void *arg)
{
    struct disc_count *d = arg;
    if (!ev->conn || !p2p_peerid_equal(p2p_conn_peer(ev->conn), p2p_host_peerid(d->peer))) return;
    if (ev->type == P2P_EV_DISCONNECTED && p2p_conn_limited(ev->conn)) d->limited_gone++;
    if (ev->type == P2P_EV_CONNECTED && !p2p_conn_limited(ev->conn)) d->direct_up++;
}

static bool both_finished(void *arg)
{
    struct lab *l = arg;
    struct dcutr_st *sa = dstate(l->a), *sb = dstate(l->b);
    return sb->npunches == 0 && sa->npunches == 0 && sb->stats.succeeded + sb->stats.failed > 0;
}

static void upgrade_case(const char *keys)
{
    static struct lab l;
    lab_up(&l, keys, keys);
    struct disc_count ea = { .peer = l.b }, eb = { .peer = l.a };
    p2p_subscription *sa = p2p_host_subscribe(l.a, P2P_EV_CONNECTED | P2P_EV_DISCONNECTED, on_ev, &ea);
    p2p_subscription *sb = p2p_host_subscribe(l.b, P2P_EV_CONNECTED | P2P_EV_DISCONNECTED, on_ev, &eb);
    dial_relayed(&l);

    struct pair p = { l.a, l.b };
    ck_assert_msg(settle_one_direct(&l.loop, &p, 20000), "no direct connection replaced the relayed one");
    ck_assert(ihost_run_cond(&l.loop, both_finished, &l, 10000));
    struct dcutr_st *da = dstate(l.a), *db = dstate(l.b);
    /* B (inbound over the relay) initiated; A answered. */
    ck_assert_uint_eq(db->stats.started_initiator, 1);
    ck_assert_uint_eq(db->stats.started_responder, 0);
    ck_assert_uint_eq(db->stats.succeeded, 1);
    ck_assert_uint_ge(db->stats.attempts, 1);
    ck_assert_uint_eq(p2p_counter_value(db->m_success), 1);
    ck_assert_uint_eq(p2p_counter_value(db->m_attempts), db->stats.attempts);
    ck_assert_uint_eq(da->stats.started_initiator, 0);
    ck_assert_uint_eq(da->stats.started_responder, 1);
    ck_assert_uint_eq(da->stats.failed, 0);
    ck_assert_uint_eq(db->stats.refused + da->stats.refused, 0);
    /* The same counters through the service (what front-ends read). */
    void *svc_st;
    const struct p2p_dcutr_api_v1 *svc = p2p_service_get(l.b, P2P_DCUTR_SERVICE, 1, &svc_st);
    ck_assert_ptr_nonnull(svc);
    struct p2p_dcutr_stats bs;
    svc->stats(svc_st, &bs);
    ck_assert_uint_eq(bs.succeeded, 1);
    ck_assert_uint_eq(bs.failed + bs.superseded, 0);
    ck_assert_uint_eq(bs.attempts, db->stats.attempts);
    ck_assert_uint_le(bs.attempts_failed, bs.attempts - 1);
    ck_assert_uint_eq(ea.limited_gone, 1);
    ck_assert_uint_eq(eb.limited_gone, 1);
    ck_assert_uint_ge(ea.direct_up, 1);

    /* The direct connection: both ends agree on who initiated. When it is
     * the punched socket pair (not a fallback from an ephemeral port), the
     * roles are DCUtR's: A initiates with the spec's roles. */
    p2p_conn *ca, *cb;
    size_t nl, nd;
    count_conns(l.a, l.b, &nl, &nd, &ca);
    count_conns(l.b, l.a, &nl, &nd, &cb);
    ck_assert_int_ne(p2p_conn_direction(ca), p2p_conn_direction(cb));
    p2p_multiaddr a_listen = ihost_addr(l.a), b_listen = ihost_addr(l.b);
    if (p2p_maddr_equal(p2p_conn_local_addr(ca), &a_listen) && p2p_maddr_equal(p2p_conn_remote_addr(ca), &b_listen)) {
        bool legacy = keys && strstr(keys, "legacy_roles = true");
        ck_assert_int_eq(p2p_conn_direction(ca), legacy ? P2P_INBOUND : P2P_OUTBOUND);
    }
    echo_ok(&l.loop, ca, 256 * 1024);   /* beyond the relay's 128 KiB circuit limit */

    /* Nothing starts again on the direct connection. */
    ihost_run_for(&l.loop, 200);
    ck_assert_uint_eq(db->stats.started_initiator, 1);
    p2p_host_unsubscribe(l.a, sa);
    p2p_host_unsubscribe(l.b, sb);
    lab_down(&l);
}

START_TEST(relayed_upgraded_spec_roles)
{
    upgrade_case("allow = loopback\n");
}
END_TEST

START_TEST(relayed_upgraded_legacy_roles)
{
    upgrade_case("allow = loopback\nlegacy_roles = true\n");
}
END_TEST

START_TEST(default_policy_keeps_relayed)
{
    static struct lab l;
    lab_up(&l, NULL, NULL);   /* allow = public: nothing on loopback */
    p2p_conn *c = dial_relayed(&l);
    ck_assert(ihost_run_cond(&l.loop, both_finished, &l, 15000));
    struct dcutr_st *db = dstate(l.b);
    ck_assert_uint_eq(db->stats.started_initiator, 1);
    ck_assert_uint_eq(db->stats.failed, 1);
    ck_assert_uint_eq(db->stats.succeeded, 0);
    ck_assert_uint_eq(p2p_counter_value(db->m_failure), 1);
    ck_assert_uint_eq(db->stats.dials, 0);
    ck_assert_ptr_eq(p2p_host_conn_to(l.a, p2p_host_peerid(l.b)), c);
    ck_assert(p2p_conn_limited(c));
    lab_down(&l);
}
END_TEST

/* B allows loopback, A offers nothing: A refuses B's CONNECT (it has no
 * address to offer); B gives up after one round. */
START_TEST(responder_without_addresses)
{
    static struct lab l;
    lab_up(&l, "allow = 10.0.0.0/8\n", "allow = loopback\n");
    p2p_conn *c = dial_relayed(&l);
    ck_assert(ihost_run_cond(&l.loop, both_finished, &l, 15000));
    struct dcutr_st *da = dstate(l.a), *db = dstate(l.b);
    ck_assert_uint_eq(db->stats.failed, 1);
    ck_assert_uint_eq(da->stats.failed, 1);
    ck_assert_uint_eq(db->stats.dials + da->stats.dials, 0);
    ck_assert(p2p_conn_limited(c));
    ck_assert_ptr_eq(p2p_host_conn_to(l.a, p2p_host_peerid(l.b)), c);
    lab_down(&l);
}
END_TEST

/* A and B dial each other through R at once (both found the other, say
 * in the DHT): two relayed connections, the swarm keeps one (the same at
 * both ends). The punch started on the one closed steps aside
 * (superseded, not failed); the one kept is upgraded. */
START_TEST(both_dial_through_relay)
{
    static struct lab l;
    lab_up_opts(&l, "allow = loopback\n", "allow = loopback\n", true);
    struct ihost_wait wa = { 0 }, wb = { 0 };
    start_relayed_dial(&l, l.a, l.b, &wa);
    start_relayed_dial(&l, l.b, l.a, &wb);
    ck_assert(ihost_run_until(&l.loop, &wa.done, 15000));
    ck_assert(ihost_run_until(&l.loop, &wb.done, 15000));
    struct pair p = { l.a, l.b };
    ck_assert_msg(settle_one_direct(&l.loop, &p, 20000), "no direct connection replaced the relayed ones");
    ck_assert(ihost_run_cond(&l.loop, both_finished, &l, 10000));
    struct dcutr_st *da = dstate(l.a), *db = dstate(l.b);
    fprintf(stderr, "both_dial: a: %llu initiated, %llu answered, %llu superseded; b: %llu, %llu, %llu\n",
            (unsigned long long)da->stats.started_initiator, (unsigned long long)da->stats.started_responder,
            (unsigned long long)da->stats.superseded, (unsigned long long)db->stats.started_initiator,
            (unsigned long long)db->stats.started_responder, (unsigned long long)db->stats.superseded);
    ck_assert_uint_eq(da->stats.failed + db->stats.failed, 0);
    ck_assert_uint_eq(da->stats.refused + db->stats.refused, 0);
    ck_assert_uint_ge(da->stats.succeeded + db->stats.succeeded, 1);
    /* Every punch started as initiator ended: upgraded or stepped aside. */
    ck_assert_uint_eq(da->stats.started_initiator + db->stats.started_initiator,
                      da->stats.superseded + db->stats.superseded + 1);
    lab_down(&l);
}
END_TEST

struct open_wait {
    bool done;
    int status;
    p2p_stream *s;
};

static void on_opened(int status, p2p_stream *st, void *arg)
{
    struct open_wait *w = arg;
    w->done = true;
    w->status = status;
    w->s = st;
}

/* A /libp2p/dcutr stream over a direct connection is refused. */
START_TEST(refused_over_direct)
{
    static uv_loop_t loop;
    uv_loop_init(&loop);
    const char *sec = "[plugin identify]\n[plugin dcutr]\nallow = loopback\n";
    p2p_host *a = new_host(&loop, "/ip4/127.0.0.1/tcp/0", sec, NULL);
    p2p_host *b = new_host(&loop, "/ip4/127.0.0.1/tcp/0", sec, NULL);
    p2p_multiaddr ba = ihost_addr(b);
    struct ihost_wait w = { 0 };
    ck_assert_int_eq(p2p_host_connect(a, p2p_host_peerid(b), &ba, 1, ihost_on_connected, &w), 0);
    ck_assert(ihost_run_until(&loop, &w.done, 10000));
    ck_assert_int_eq(w.status, 0);
    struct open_wait ow = { 0 };
    const char *protos[] = { DCUTR_PROTOCOL, NULL };
    ck_assert_int_eq(p2p_conn_open_stream(w.c, protos, on_opened, &ow), 0);
    ck_assert(ihost_run_until(&loop, &ow.done, 10000));
    if (ow.s) p2p_stream_close(ow.s);
    for (int i = 0; i < 100 && dstate(b)->stats.refused == 0; i++) ihost_run_for(&loop, 10);
    ck_assert_uint_eq(dstate(b)->stats.refused, 1);
    ck_assert_uint_eq(dstate(b)->stats.started_responder, 0);
    p2p_host_free(a);
    p2p_host_free(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- forced roles over real TCP ------------------------------------------------------------- */

/* Two hosts dial each other from their listening ports in the same loop
 * iteration, with DCUtR's roles; repeated with fresh hosts (fresh ports). */
START_TEST(tcp_simultaneous_dials)
{
    for (int round = 0; round < 8; round++) {
        static uv_loop_t loop;
        uv_loop_init(&loop);
        p2p_host *a = new_host(&loop, "/ip4/127.0.0.1/tcp/0", NULL, NULL);
        p2p_host *b = new_host(&loop, "/ip4/127.0.0.1/tcp/0", NULL, NULL);
        ck_assert_int_eq(echo_serve(b), 0);
        p2p_multiaddr aa = ihost_addr(a), ba = ihost_addr(b);
        struct p2p_connect_opts oa = P2P_CONNECT_OPTS_INIT, ob = P2P_CONNECT_OPTS_INIT;
        oa.direct = ob.direct = true;
        oa.reuse_port = ob.reuse_port = true;
        oa.role = P2P_ROLE_INITIATOR;
        ob.role = P2P_ROLE_RESPONDER;
        struct ihost_wait wa = { 0 }, wb = { 0 };
        /* Alternate who calls first. */
        if (round % 2) {
            ck_assert_int_eq(p2p_host_connect_opts(b, p2p_host_peerid(a), &aa, 1, &ob, ihost_on_connected, &wb), 0);
            ck_assert_int_eq(p2p_host_connect_opts(a, p2p_host_peerid(b), &ba, 1, &oa, ihost_on_connected, &wa), 0);
        } else {
            ck_assert_int_eq(p2p_host_connect_opts(a, p2p_host_peerid(b), &ba, 1, &oa, ihost_on_connected, &wa), 0);
            ck_assert_int_eq(p2p_host_connect_opts(b, p2p_host_peerid(a), &aa, 1, &ob, ihost_on_connected, &wb), 0);
        }
        ck_assert(ihost_run_until(&loop, &wa.done, 10000));
        ck_assert(ihost_run_until(&loop, &wb.done, 10000));
        ck_assert_msg(wa.status == 0, "round %d: a: %s", round, p2p_strerror(wa.status));
        ck_assert_msg(wb.status == 0, "round %d: b: %s", round, p2p_strerror(wb.status));
        struct pair p = { a, b };
        ck_assert_msg(settle_one_direct(&loop, &p, 10000), "round %d: not one connection", round);
        p2p_conn *c = p2p_host_conn_to(a, p2p_host_peerid(b));
        p2p_conn *cb = p2p_host_conn_to(b, p2p_host_peerid(a));
        ck_assert_int_ne(p2p_conn_direction(c), p2p_conn_direction(cb));
        echo_ok(&loop, c, 64 * 1024);
        /* A request satisfied by an existing direct connection. */
        struct ihost_wait w2 = { 0 };
        ck_assert_int_eq(p2p_host_connect_opts(a, p2p_host_peerid(b), &ba, 1, &oa, ihost_on_connected, &w2), 0);
        ck_assert(!w2.done);   /* never from inside the call */
        ck_assert(ihost_run_until(&loop, &w2.done, 5000));
        ck_assert_int_eq(w2.status, 0);
        ck_assert_ptr_eq(w2.c, c);
        p2p_host_free(a);
        p2p_host_free(b);
        uv_run(&loop, UV_RUN_DEFAULT);
        ck_assert_int_eq(uv_loop_close(&loop), 0);
    }
}
END_TEST

START_TEST(connect_opts_arguments)
{
    static uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *a = new_host(&loop, "/ip4/127.0.0.1/tcp/0", NULL, NULL);
    p2p_multiaddr aa = ihost_addr(a);
    struct p2p_connect_opts o = P2P_CONNECT_OPTS_INIT;
    struct ihost_wait w = { 0 };
    const p2p_peerid *self = p2p_host_peerid(a);
    p2p_keypair kp;
    p2p_pubkey pub;
    p2p_peerid other;
    p2p_keypair_from_seed_byte(&kp, 42);
    p2p_keypair_public(&kp, &pub);
    p2p_peerid_from_pubkey(&other, &pub);
    ck_assert_int_eq(p2p_host_connect_opts(a, &other, &aa, 1, NULL, ihost_on_connected, &w), P2P_EINVAL);
    ck_assert_int_eq(p2p_host_connect_opts(a, NULL, &aa, 1, &o, ihost_on_connected, &w), P2P_EINVAL);
    ck_assert_int_eq(p2p_host_connect_opts(a, self, &aa, 1, &o, ihost_on_connected, &w), P2P_EINVAL);
    ck_assert_int_eq(p2p_host_connect_opts(a, &other, NULL, 1, &o, ihost_on_connected, &w), P2P_EINVAL);
    struct p2p_connect_opts bad = o;
    bad.size = 4;
    ck_assert_int_eq(p2p_host_connect_opts(a, &other, &aa, 1, &bad, ihost_on_connected, &w), P2P_EINVAL);
    bad = o;
    bad.role = (enum p2p_upgrade_role)7;
    ck_assert_int_eq(p2p_host_connect_opts(a, &other, &aa, 1, &bad, ihost_on_connected, &w), P2P_EINVAL);
    /* Direct requests skip relay addresses: nothing left to dial. */
    p2p_multiaddr circ;
    char t[512], id[P2P_PEERID_STRMAX];
    p2p_peerid_to_string(&other, id, sizeof id);
    snprintf(t, sizeof t, "/ip4/127.0.0.1/tcp/1/p2p/%s/p2p-circuit", id);
    ck_assert_int_eq(p2p_maddr_parse(&circ, t, NULL, 0), 0);
    o.direct = true;
    ck_assert_int_eq(p2p_host_connect_opts(a, &other, &circ, 1, &o, ihost_on_connected, &w), 0);
    ck_assert(ihost_run_until(&loop, &w.done, 5000));
    ck_assert_int_ne(w.status, 0);
    p2p_host_free(a);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- forced roles over a simulated simultaneous open ------------------------------------------ */

/* "simnet": a transport for /ip4/127.0.0.1/udp/N (TCP does not take
 * those), whose connections are pairs of in-memory pipes joined by a
 * pump. Two dials between the same two listening ports made within 30 ms
 * of each other are joined like a TCP simultaneous open: in SIM_OPEN mode
 * both dials succeed on one "socket pair" (both ends outbound); in
 * SIM_CROSSED mode the first dial succeeds and its peer gets the other end
 * through its listener, while the peer's own dial fails (its 4-tuple is
 * taken). A dial alone is an ordinary connection after 30 ms. */

enum sim_mode { SIM_OPEN, SIM_CROSSED };
static enum sim_mode sim_mode;

struct sim_tr;
struct sim_dial {
    struct sim_tr *tr;
    uint16_t to;
    bool reuse;
    p2p_dial_cb cb;
    void *arg;
    p2p_timer *timer;
    struct p2p_defer d;
    int status;
    p2p_stream *raw, *accept_end;   /* accept_end: for our listener (crossed) */
    bool pending;
};

struct sim_tr {
    p2p_host *h;
    uint16_t port;
    p2p_accept_cb acb;
    void *aarg;
    struct sim_dial *pending;
};

static struct sim_tr *sim_reg[8];
static size_t sim_nreg;
static uint16_t sim_ephemeral = 40000;

struct sim_side {
    p2p_stream *mine, *other;   /* test-owned pipe ends */
    bool eof;
    struct sim_link *link;
};
struct sim_link {
    struct sim_side s1, s2;
    bool closed;
};
static struct sim_link *sim_links[64];
static size_t sim_nlinks;

static void sim_link_close(struct sim_link *l)
{
    if (l->closed) return;
    l->closed = true;
    p2p_stream_close(l->s1.mine);
    p2p_stream_close(l->s2.mine);
}

static void sp_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s;
    struct sim_side *sd = arg;
    if (p2p_stream_write(sd->other, d, n) < 0) sim_link_close(sd->link);
}

static void sp_eof(p2p_stream *s, void *arg)
{
    (void)s;
    struct sim_side *sd = arg;
    sd->eof = true;
    p2p_stream_shutdown(sd->other);
    if (sd->link->s1.eof && sd->link->s2.eof) sim_link_close(sd->link);
}

static void sp_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    (void)err;
    struct sim_side *sd = arg;
    if (sd->link->closed) return;
    p2p_stream_reset(sd->other);
    sim_link_close(sd->link);
}

static const struct p2p_stream_handlers sp_handlers = { sp_read, sp_eof, sp_error, NULL };

static p2p_multiaddr sim_addr(uint16_t port)
{
    char t[64];
    p2p_multiaddr m;
    snprintf(t, sizeof t, "/ip4/127.0.0.1/udp/%u", port);
    ck_assert_int_eq(p2p_maddr_parse(&m, t, NULL, 0), 0);
    return m;
}

/* Join t1 (local address l1) and t2 (l2): *e1 for t1's stack, *e2 for t2's. */
static void sim_join(struct sim_tr *t1, uint16_t l1, struct sim_tr *t2, uint16_t l2, p2p_stream **e1, p2p_stream **e2)
{
    struct sim_link *l = calloc(1, sizeof *l);
    ck_assert_ptr_nonnull(l);
    ck_assert_uint_lt(sim_nlinks, 64);
    sim_links[sim_nlinks++] = l;
    p2p_stream *a1, *b1, *a2, *b2;
    ck_assert_int_eq(p2p_stream_pipe(t1->h, 0, &a1, &b1), 0);
    ck_assert_int_eq(p2p_stream_pipe(t2->h, 0, &a2, &b2), 0);
    l->s1 = (struct sim_side){ .mine = b1, .other = b2, .link = l };
    l->s2 = (struct sim_side){ .mine = b2, .other = b1, .link = l };
    p2p_stream_set_handlers(b1, &sp_handlers, &l->s1);
    p2p_stream_set_handlers(b2, &sp_handlers, &l->s2);
    p2p_stream_read_start(b1);
    p2p_stream_read_start(b2);
    p2p_multiaddr m1 = sim_addr(l1), m2 = sim_addr(l2);
    p2p_stream_set_addrs(a1, &m1, &m2);
    p2p_stream_set_addrs(a2, &m2, &m1);
    *e1 = a1;
    *e2 = a2;
}

static struct sim_tr *sim_find(uint16_t port)
{
    for (size_t i = 0; i < sim_nreg; i++)
        if (sim_reg[i]->port == port) return sim_reg[i];
    return NULL;
}

static uint16_t sim_port(const p2p_multiaddr *ma)
{
    struct p2p_maddr_component c;
    if (p2p_maddr_find(ma, P2P_MA_UDP, &c) != 1) return 0;
    return (uint16_t)(c.value[0] << 8 | c.value[1]);
}

static bool sim_match(void *state, const p2p_multiaddr *ma)
{
    (void)state;
    struct p2p_maddr_component c;
    return sim_port(ma) != 0 && p2p_maddr_find(ma, P2P_MA_TCP, &c) == 0;
}

static void sim_deliver(void *arg)
{
    struct sim_dial *d = arg;
    if (d->timer) p2p_timer_free(d->timer);
    if (d->accept_end) d->tr->acb(d->accept_end, d->tr->aarg);
    d->cb(d->status, d->raw, d->arg);
    free(d);
}

static void sim_schedule(struct sim_dial *d)
{
    d->pending = false;
    if (d->tr->pending == d) d->tr->pending = NULL;
    p2p_defer_schedule(d->tr->h, &d->d);
}

/* Nobody dialed back: an ordinary connection to the peer's listener. */
static void sim_alone(p2p_timer *t, void *arg)
{
    (void)t;
    struct sim_dial *d = arg;
    struct sim_tr *peer = sim_find(d->to);
    uint16_t local = d->reuse ? d->tr->port : sim_ephemeral++;
    p2p_stream *e2;
    sim_join(d->tr, local, peer, d->to, &d->raw, &e2);
    peer->acb(e2, peer->aarg);
    sim_schedule(d);
}

static int sim_dial(void *state, const p2p_multiaddr *ma, const struct p2p_dial_opts *o, p2p_dial_cb cb, void *arg,
                    void **op)
{
    struct sim_tr *tr = state;
    uint16_t to = sim_port(ma);
    struct sim_tr *peer = sim_find(to);
    if (!peer) return P2P_EUNREACH;
    struct sim_dial *d = calloc(1, sizeof *d);
    ck_assert_ptr_nonnull(d);
    *d = (struct sim_dial){ .tr = tr, .to = to, .reuse = o && o->reuse_port, .cb = cb, .arg = arg };
    p2p_defer_init(&d->d, sim_deliver, d);
    struct sim_dial *pd = peer->pending;
    if (pd && pd->to == tr->port && pd->reuse && d->reuse) {
        p2p_timer_stop(pd->timer);
        if (sim_mode == SIM_OPEN) {
            sim_join(peer, peer->port, tr, tr->port, &pd->raw, &d->raw);
        } else {
            /* The peer's SYN reached our listener first. */
            sim_join(peer, peer->port, tr, tr->port, &pd->raw, &d->accept_end);
            d->status = P2P_EIO;
        }
        sim_schedule(pd);
        sim_schedule(d);
    } else {
        d->pending = true;
        tr->pending = d;
        d->timer = p2p_timer_new(tr->h, sim_alone, d);
        p2p_timer_start(d->timer, 30, 0);
    }
    if (op) *op = d;
    return 0;
}

static void sim_dial_cancel(void *state, void *op)
{
    struct sim_tr *tr = state;
    struct sim_dial *d = op;
    p2p_defer_cancel(tr->h, &d->d);
    if (tr->pending == d) tr->pending = NULL;
    if (d->timer) p2p_timer_free(d->timer);
    if (d->raw) p2p_stream_close(d->raw);
    if (d->accept_end) p2p_stream_close(d->accept_end);
    free(d);
}

static int sim_listen(void *state, const p2p_multiaddr *ma, p2p_accept_cb cb, void *arg, void **listener, char *err,
                      size_t errlen)
{
    (void)err;
    (void)errlen;
    struct sim_tr *tr = state;
    tr->port = sim_port(ma);
    tr->acb = cb;
    tr->aarg = arg;
    *listener = tr;
    return 0;
}

static size_t sim_listen_addrs(void *state, void *listener, p2p_multiaddr *out, size_t max)
{
    (void)listener;
    struct sim_tr *tr = state;
    if (max) out[0] = sim_addr(tr->port);
    return 1;
}

static void sim_listen_close(void *state, void *listener)
{
    (void)listener;
    struct sim_tr *tr = state;
    tr->acb = NULL;
}

static const struct p2p_transport_ops sim_ops = {
    .name = "simnet",
    .can_dial = sim_match,
    .can_listen = sim_match,
    .dial = sim_dial,
    .dial_cancel = sim_dial_cancel,
    .listen = sim_listen,
    .listen_addrs = sim_listen_addrs,
    .listen_close = sim_listen_close,
};

static int sim_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    (void)cf;
    struct sim_tr *tr = calloc(1, sizeof *tr);
    if (!tr) return P2P_ENOMEM;
    tr->h = h;
    sim_reg[sim_nreg++] = tr;
    *state = tr;
    return p2p_transport_add(h, &sim_ops, tr);
}

static void sim_fini(void *state)
{
    struct sim_tr *tr = state;
    for (size_t i = 0; i < sim_nreg; i++)
        if (sim_reg[i] == tr) sim_reg[i] = sim_reg[--sim_nreg];
    free(tr);
}

static const struct p2p_plugin sim_plugin = {
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "simnet",
    .version = "1",
    .description = "simulated simultaneous opens",
    .init = sim_init,
    .fini = sim_fini,
};

static const struct p2p_plugin *const sim_builtin[] = { &sim_plugin, NULL };

struct sim_result {
    int sa, sb;
    bool one;
    enum p2p_direction da, db;
};

/* A dials B and B dials A between their simnet ports with roles ra, rb. */
static struct sim_result sim_run(enum sim_mode mode, enum p2p_upgrade_role ra, enum p2p_upgrade_role rb)
{
    static uv_loop_t loop;
    static unsigned port = 7000;
    struct sim_result res = { 0 };
    sim_mode = mode;
    uv_loop_init(&loop);
    char la[128], lb[128];
    snprintf(la, sizeof la, "/ip4/127.0.0.1/tcp/0, /ip4/127.0.0.1/udp/%u", port++);
    snprintf(lb, sizeof lb, "/ip4/127.0.0.1/tcp/0, /ip4/127.0.0.1/udp/%u", port++);
    p2p_host *a = new_host(&loop, la, "[plugin simnet]\n", sim_builtin);
    p2p_host *b = new_host(&loop, lb, "[plugin simnet]\n", sim_builtin);
    ck_assert_int_eq(echo_serve(b), 0);
    p2p_multiaddr addrs[4];
    ck_assert_uint_eq(p2p_host_listen_addrs(a, addrs, 4), 2);
    p2p_multiaddr aa = addrs[1];
    ck_assert_uint_eq(p2p_host_listen_addrs(b, addrs, 4), 2);
    p2p_multiaddr ba = addrs[1];
    struct p2p_connect_opts oa = P2P_CONNECT_OPTS_INIT, ob = P2P_CONNECT_OPTS_INIT;
    oa.direct = ob.direct = oa.reuse_port = ob.reuse_port = true;
    oa.role = ra;
    ob.role = rb;
    struct ihost_wait wa = { 0 }, wb = { 0 };
    ck_assert_int_eq(p2p_host_connect_opts(a, p2p_host_peerid(b), &ba, 1, &oa, ihost_on_connected, &wa), 0);
    ck_assert_int_eq(p2p_host_connect_opts(b, p2p_host_peerid(a), &aa, 1, &ob, ihost_on_connected, &wb), 0);
    ck_assert(ihost_run_until(&loop, &wa.done, 15000));
    ck_assert(ihost_run_until(&loop, &wb.done, 15000));
    res.sa = wa.status;
    res.sb = wb.status;
    struct pair p = { a, b };
    res.one = settle_one_direct(&loop, &p, res.sa || res.sb ? 300 : 5000);
    if (res.one) {
        p2p_conn *c = p2p_host_conn_to(a, p2p_host_peerid(b));
        res.da = p2p_conn_direction(c);
        res.db = p2p_conn_direction(p2p_host_conn_to(b, p2p_host_peerid(a)));
        echo_ok(&loop, c, 32 * 1024);
    }
    p2p_host_stop(a);
    p2p_host_stop(b);
    for (size_t i = 0; i < sim_nlinks; i++) sim_link_close(sim_links[i]);
    uv_run(&loop, UV_RUN_NOWAIT);
    p2p_host_free(a);
    p2p_host_free(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (size_t i = 0; i < sim_nlinks; i++) free(sim_links[i]);
    sim_nlinks = 0;
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    return res;
}

START_TEST(sim_open_needs_roles)
{
    /* Both ends "dialed" the one connection: without roles both start
     * multistream-select as dialer and Noise as initiator: no connection. */
    struct sim_result r = sim_run(SIM_OPEN, P2P_ROLE_AUTO, P2P_ROLE_AUTO);
    ck_assert_int_ne(r.sa, 0);
    ck_assert_int_ne(r.sb, 0);
    ck_assert(!r.one);
    /* DCUtR's roles: one connection; directions follow the roles. */
    r = sim_run(SIM_OPEN, P2P_ROLE_INITIATOR, P2P_ROLE_RESPONDER);
    ck_assert_int_eq(r.sa, 0);
    ck_assert_int_eq(r.sb, 0);
    ck_assert(r.one);
    ck_assert_int_eq(r.da, P2P_OUTBOUND);
    ck_assert_int_eq(r.db, P2P_INBOUND);
    r = sim_run(SIM_OPEN, P2P_ROLE_RESPONDER, P2P_ROLE_INITIATOR);
    ck_assert(r.one && r.sa == 0 && r.sb == 0);
    ck_assert_int_eq(r.da, P2P_INBOUND);
    ck_assert_int_eq(r.db, P2P_OUTBOUND);
}
END_TEST

START_TEST(sim_crossed_uses_listener_role)
{
    /* A dials first; its SYN reaches B's listener; B's dial fails. B must
     * initiate: the connection its listener accepted from A's punched
     * address takes B's role (an ordinary accept would be the responder,
     * like A, and fail); B's request succeeds with it. */
    struct sim_result r = sim_run(SIM_CROSSED, P2P_ROLE_RESPONDER, P2P_ROLE_INITIATOR);
    ck_assert_msg(r.sa == 0, "a: %s", p2p_strerror(r.sa));
    ck_assert_msg(r.sb == 0, "b: %s", p2p_strerror(r.sb));
    ck_assert(r.one);
    ck_assert_int_eq(r.da, P2P_INBOUND);
    ck_assert_int_eq(r.db, P2P_OUTBOUND);
    /* The other way round (B is the responder anyway). */
    r = sim_run(SIM_CROSSED, P2P_ROLE_INITIATOR, P2P_ROLE_RESPONDER);
    ck_assert(r.one && r.sa == 0 && r.sb == 0);
    ck_assert_int_eq(r.da, P2P_OUTBOUND);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dcutr_net");
    TCase *tc = tcase_create("upgrade");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, relayed_upgraded_spec_roles);
    tcase_add_test(tc, relayed_upgraded_legacy_roles);
    tcase_add_test(tc, default_policy_keeps_relayed);
    tcase_add_test(tc, responder_without_addresses);
    tcase_add_test(tc, refused_over_direct);
    tcase_add_test(tc, both_dial_through_relay);
    suite_add_tcase(s, tc);
    tc = tcase_create("roles");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tcp_simultaneous_dials);
    tcase_add_test(tc, connect_opts_arguments);
    tcase_add_test(tc, sim_open_needs_roles);
    tcase_add_test(tc, sim_crossed_uses_listener_role);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return p2p_test_run(suite());
}
