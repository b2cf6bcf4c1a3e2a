/* test_autonat_logic.c - unit.autonat_logic: the server's dial-back
 * policy and limits (autonat_policy.c) and the client's status machine
 * (autonat_status.c), with explicit time in milliseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autonat_policy.h"
#include "autonat_status.h"
#include "p2p/p2p.h"
#include "autonat_test.h"

static struct p2p_addr_policy policy(const char *item)
{
    struct p2p_addr_policy p;
    ck_assert_int_eq(p2p_addr_policy_parse(&p, &item, 1, NULL, 0), 0);
    return p;
}

static struct autonat_msg *dial_of(const p2p_peerid *id, const char *const *addrs)
{
    struct autonat_msg *m = calloc(1, sizeof *m);
    m->type = AUTONAT_DIAL;
    m->has_type = m->has_dial = m->has_peer = m->has_id = m->id_valid = true;
    m->id = *id;
    for (size_t i = 0; addrs && addrs[i]; i++) m->addrs[m->naddrs++] = ma(addrs[i]);
    return m;
}

/* ---- dial-back addresses --------------------------------------------------------- */

START_TEST(dialback_addresses)
{
    p2p_peerid a = seed_peer(1), b = seed_peer(2);
    char astr[P2P_PEERID_STRMAX], bstr[P2P_PEERID_STRMAX], t1[256], t2[256], t3[300];
    p2p_peerid_to_string(&a, astr, sizeof astr);
    p2p_peerid_to_string(&b, bstr, sizeof bstr);
    snprintf(t1, sizeof t1, "/ip4/8.8.4.4/tcp/4003/p2p/%s", astr);       /* ours: kept */
    snprintf(t2, sizeof t2, "/ip4/8.8.4.4/tcp/4004/p2p/%s", bstr);       /* someone else's: dropped */
    snprintf(t3, sizeof t3, "/ip4/8.8.4.4/tcp/4005/p2p/%s/p2p-circuit/p2p/%s", bstr, astr);   /* relayed */
    const char *addrs[] = {
        "/ip4/8.8.4.4/tcp/4001",            /* the observed IP: kept */
        "/ip4/1.1.1.1/tcp/4001",            /* a third party: never dialed */
        "/ip4/192.168.1.5/tcp/4001",        /* private: not the observed IP anyway */
        "/ip6/2606:4700::1/tcp/4001",       /* other family */
        "/ip4/8.8.4.4/udp/4001/quic-v1",    /* other transport, same IP: kept (a dial may fail) */
        "/ip4/8.8.4.4/tcp/4001",            /* duplicate */
        "/dns4/example.com/tcp/4001",       /* no IP: cannot be checked */
        t1, t2, t3, NULL,
    };
    struct p2p_addr_policy pub = policy("public");
    p2p_multiaddr obs = ma("/ip4/8.8.4.4/tcp/51234"), out[AUTONAT_MAX_ADDRS];
    struct autonat_msg *m = dial_of(&a, addrs);
    size_t n = 99;
    const char *why = "x";
    ck_assert_uint_eq(autonat_dialback_addrs(&pub, 16, &a, &obs, false, m, out, &n, &why), AUTONAT_OK);
    ck_assert_ptr_null(why);
    ck_assert_uint_eq(n, 3);
    p2p_multiaddr e0 = ma("/ip4/8.8.4.4/tcp/4001"), e1 = ma("/ip4/8.8.4.4/udp/4001/quic-v1"), e2 = ma(t1);
    ck_assert(p2p_maddr_equal(&out[0], &e0));
    ck_assert(p2p_maddr_equal(&out[1], &e1));
    ck_assert(p2p_maddr_equal(&out[2], &e2));
    /* At most max. */
    ck_assert_uint_eq(autonat_dialback_addrs(&pub, 2, &a, &obs, false, m, out, &n, &why), AUTONAT_OK);
    ck_assert_uint_eq(n, 2);

    /* Refusals. */
    ck_assert_uint_eq(autonat_dialback_addrs(&pub, 16, &b, &obs, false, m, out, &n, &why), AUTONAT_E_BAD_REQUEST);
    ck_assert_str_eq(why, "peer id does not match the connection");
    ck_assert_uint_eq(autonat_dialback_addrs(&pub, 16, &a, &obs, true, m, out, &n, &why), AUTONAT_E_DIAL_REFUSED);
    ck_assert_uint_eq(n, 0);
    p2p_multiaddr lo = ma("/ip4/127.0.0.1/tcp/5"), dns = ma("/dns4/x.example/tcp/5");
    ck_assert_uint_eq(autonat_dialback_addrs(&pub, 16, &a, &lo, false, m, out, &n, &why), AUTONAT_E_DIAL_REFUSED);
    ck_assert_str_eq(why, "refusing to dial back a non-public address");
    ck_assert_uint_eq(autonat_dialback_addrs(&pub, 16, &a, &dns, false, m, out, &n, &why), AUTONAT_E_DIAL_REFUSED);
    p2p_multiaddr other = ma("/ip4/9.9.9.9/tcp/4001");   /* none of the addresses has this IP */
    ck_assert_uint_eq(autonat_dialback_addrs(&pub, 16, &a, &other, false, m, out, &n, &why), AUTONAT_E_DIAL_REFUSED);
    ck_assert_ptr_nonnull(strstr(why, "no address"));
    m->type = AUTONAT_DIAL_RESPONSE;
    ck_assert_uint_eq(autonat_dialback_addrs(&pub, 16, &a, &obs, false, m, out, &n, &why), AUTONAT_E_BAD_REQUEST);
    m->type = AUTONAT_DIAL;
    m->id_valid = false;
    ck_assert_uint_eq(autonat_dialback_addrs(&pub, 16, &a, &obs, false, m, out, &n, &why), AUTONAT_E_BAD_REQUEST);
    m->has_peer = false;
    ck_assert_uint_eq(autonat_dialback_addrs(&pub, 16, &a, &obs, false, m, out, &n, &why), AUTONAT_E_BAD_REQUEST);
    free(m);

    /* Loopback allowed by configuration (test labs): same-IP rule still. */
    struct p2p_addr_policy lp = policy("loopback");
    const char *loaddrs[] = { "/ip4/127.0.0.1/tcp/7", "/ip4/127.0.0.2/tcp/7", "/ip6/::1/tcp/7", NULL };
    m = dial_of(&a, loaddrs);
    ck_assert_uint_eq(autonat_dialback_addrs(&lp, 16, &a, &lo, false, m, out, &n, &why), AUTONAT_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert(p2p_maddr_equal(&out[0], &m->addrs[0]));
    /* The benchmarking range needs its prefix. */
    const char *lab[] = { "/ip4/198.18.0.5/tcp/7", NULL };
    struct autonat_msg *m2 = dial_of(&a, lab);
    p2p_multiaddr labobs = ma("/ip4/198.18.0.5/tcp/40000");
    ck_assert_uint_eq(autonat_dialback_addrs(&pub, 16, &a, &labobs, false, m2, out, &n, &why), AUTONAT_E_DIAL_REFUSED);
    struct p2p_addr_policy labp = policy("198.18.0.0/15");
    ck_assert_uint_eq(autonat_dialback_addrs(&labp, 16, &a, &labobs, false, m2, out, &n, &why), AUTONAT_OK);
    free(m);
    free(m2);
}
END_TEST

/* ---- limits -------------------------------------------------------------------------- */

START_TEST(limits)
{
    struct autonat_limits lim = { .max_inflight = 2, .per_peer = 3, .global = 5, .interval_ms = 60000 };
    struct autonat_limiter l;
    ck_assert_int_eq(autonat_limiter_init(&l, &lim, 1000), 0);
    p2p_peerid a = seed_peer(1), b = seed_peer(2), c = seed_peer(3);
    const char *why;
    ck_assert_int_eq(autonat_limiter_admit(&l, &a, 1000, &why), 0);
    /* One dial-back per peer at a time. */
    ck_assert_int_eq(autonat_limiter_admit(&l, &a, 1001, &why), P2P_ELIMIT);
    ck_assert_str_eq(why, "a dial-back to this peer is already in progress");
    ck_assert_int_eq(autonat_limiter_admit(&l, &b, 1002, &why), 0);
    /* In flight at once. */
    ck_assert_int_eq(autonat_limiter_admit(&l, &c, 1003, &why), P2P_ELIMIT);
    ck_assert_str_eq(why, "too many dial-backs in progress");
    autonat_limiter_done(&l, &a);
    autonat_limiter_done(&l, &a);   /* twice: no effect */
    ck_assert_uint_eq(l.inflight, 1);
    ck_assert_int_eq(autonat_limiter_admit(&l, &a, 1004, &why), 0);
    autonat_limiter_done(&l, &a);
    ck_assert_int_eq(autonat_limiter_admit(&l, &a, 1005, &why), 0);
    autonat_limiter_done(&l, &a);
    /* Per peer and window: a has used 3. */
    ck_assert_int_eq(autonat_limiter_admit(&l, &a, 1006, &why), P2P_ELIMIT);
    ck_assert_str_eq(why, "too many requests from this peer");
    autonat_limiter_done(&l, &b);
    ck_assert_int_eq(autonat_limiter_admit(&l, &c, 1007, &why), 0);   /* 5th in the window */
    autonat_limiter_done(&l, &c);
    p2p_peerid d = seed_peer(4);
    ck_assert_int_eq(autonat_limiter_admit(&l, &d, 1008, &why), P2P_ELIMIT);
    ck_assert_str_eq(why, "too many requests");
    /* A new window: everyone may again, and a dial-back still in flight
     * across the boundary keeps its slot. */
    ck_assert_int_eq(autonat_limiter_admit(&l, &d, 61000, &why), 0);
    ck_assert_int_eq(autonat_limiter_admit(&l, &a, 121000, &why), 0);
    ck_assert_int_eq(autonat_limiter_admit(&l, &d, 121001, &why), P2P_ELIMIT);   /* still busy */
    ck_assert_uint_eq(l.inflight, 2);
    autonat_limiter_done(&l, &d);
    ck_assert_uint_eq(l.inflight, 1);
    ck_assert_int_eq(autonat_limiter_admit(&l, &d, 121002, &why), 0);
    /* The table never grows beyond what a window admits. */
    ck_assert_uint_le(l.npeers, l.cap);
    autonat_limiter_free(&l);

    /* A flood of distinct peers is bounded by the global count. */
    struct autonat_limits big = { .max_inflight = 1000, .per_peer = 1, .global = 30, .interval_ms = 1000 };
    ck_assert_int_eq(autonat_limiter_init(&l, &big, 0), 0);
    unsigned ok = 0;
    for (unsigned i = 0; i < 200; i++) {
        p2p_peerid p = seed_peer((uint8_t)i);
        if (autonat_limiter_admit(&l, &p, 10, &why) == 0) ok++;
    }
    ck_assert_uint_eq(ok, 30);
    ck_assert_uint_le(l.npeers, l.cap);
    autonat_limiter_free(&l);
}
END_TEST

/* ---- the client's status ----------------------------------------------------------------- */

static const struct autonat_status_cfg cfg = {
    .confidence_max = 3, .servers_per_probe = 2, .boot_delay_ms = 1000, .retry_ms = 90000,
    .refresh_ms = 900000, .server_throttle_ms = 100000,
};

START_TEST(status_confidence)
{
    struct autonat_status s;
    autonat_status_init(&s, &cfg, 0);
    ck_assert_int_eq(s.status, P2P_REACH_UNKNOWN);
    ck_assert(!s.probed);
    ck_assert(!autonat_status_due(&s, 999));
    ck_assert(autonat_status_due(&s, 1000));
    ck_assert_uint_eq(autonat_status_next(&s), 1000);

    p2p_peerid srv[4] = { seed_peer(1), seed_peer(2), seed_peer(3), seed_peer(4) };
    size_t idx[4];
    ck_assert_uint_eq(autonat_status_pick(&s, 1000, srv, 4, idx, 4), 2);   /* servers_per_probe */
    ck_assert_uint_eq(idx[0], 0);
    ck_assert_uint_eq(idx[1], 1);
    ck_assert_uint_eq(autonat_status_next(&s), 0);   /* in flight */
    ck_assert(!autonat_status_due(&s, 5000));
    /* The first answer decides from UNKNOWN. */
    p2p_multiaddr pub = ma("/ip4/8.8.4.4/tcp/4001");
    ck_assert(autonat_status_report(&s, 2000, AUTONAT_REPORT_PUBLIC, &pub));
    ck_assert_int_eq(s.status, P2P_REACH_PUBLIC);
    ck_assert_uint_eq(s.confidence, 0);
    ck_assert(s.probed);
    ck_assert(p2p_maddr_equal(&s.addr, &pub));
    ck_assert_uint_eq(autonat_status_next(&s), 0);   /* one still in flight */
    ck_assert(!autonat_status_report(&s, 3000, AUTONAT_REPORT_PUBLIC, &pub));
    ck_assert_uint_eq(s.confidence, 1);
    /* Not confident yet: retry interval. */
    ck_assert_uint_eq(autonat_status_next(&s), 3000 + 90000);

    /* Servers asked within the throttle are skipped. */
    ck_assert_uint_eq(autonat_status_pick(&s, 93000, srv, 4, idx, 4), 2);
    ck_assert_uint_eq(idx[0], 2);
    ck_assert_uint_eq(idx[1], 3);
    ck_assert(!autonat_status_report(&s, 93100, AUTONAT_REPORT_PUBLIC, &pub));
    ck_assert(!autonat_status_report(&s, 93200, AUTONAT_REPORT_PUBLIC, &pub));
    ck_assert_uint_eq(s.confidence, 3);
    /* Confirmed: refresh interval. */
    ck_assert_uint_eq(autonat_status_next(&s), 93200 + 900000);

    /* A confirmed status needs confidence_max + 1 contrary answers. */
    uint64_t t = 993200;
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(autonat_status_pick(&s, t, srv, 4, idx, 1), 1);
        ck_assert(!autonat_status_report(&s, t + 10, AUTONAT_REPORT_PRIVATE, NULL));
        ck_assert_int_eq(s.status, P2P_REACH_PUBLIC);
        t = autonat_status_next(&s);
        ck_assert_uint_eq(t, (uint64_t)(993200 + 10) + (uint64_t)i * (90000 + 10) + 90000);
    }
    ck_assert_uint_eq(s.confidence, 0);
    ck_assert_uint_eq(autonat_status_pick(&s, t, srv, 4, idx, 1), 1);
    ck_assert(autonat_status_report(&s, t + 10, AUTONAT_REPORT_PRIVATE, NULL));
    ck_assert_int_eq(s.status, P2P_REACH_PRIVATE);
    ck_assert_uint_eq(s.addr.len, 0);

    /* No verdict: the status stays, nothing changes but the schedule. */
    t = autonat_status_next(&s);
    ck_assert_uint_eq(autonat_status_pick(&s, t, srv, 4, idx, 1), 1);
    ck_assert(!autonat_status_report(&s, t + 5, AUTONAT_REPORT_NONE, NULL));
    ck_assert_int_eq(s.status, P2P_REACH_PRIVATE);
    ck_assert_uint_eq(s.confidence, 0);
    ck_assert_uint_eq(autonat_status_next(&s), t + 5 + 90000);
}
END_TEST

START_TEST(status_schedule)
{
    struct autonat_status s;
    autonat_status_init(&s, &cfg, 0);
    p2p_peerid srv[2] = { seed_peer(1), seed_peer(1) };
    size_t idx[4];
    /* Before the boot delay a server's arrival only brings the probe to
     * the end of the boot delay. */
    ck_assert(!autonat_status_server_added(&s, 500));
    ck_assert_uint_eq(autonat_status_next(&s), 1000);
    /* A due probe without any server: probed, retried later. */
    ck_assert_uint_eq(autonat_status_pick(&s, 1000, srv, 0, idx, 4), 0);
    ck_assert(s.probed);
    ck_assert_int_eq(s.status, P2P_REACH_UNKNOWN);
    ck_assert_uint_eq(autonat_status_next(&s), 91000);
    /* While UNKNOWN, a new server starts a probe at once. */
    ck_assert(autonat_status_server_added(&s, 5000));
    ck_assert(autonat_status_due(&s, 5000));
    /* Duplicates in the candidates are asked once. */
    ck_assert_uint_eq(autonat_status_pick(&s, 5000, srv, 2, idx, 4), 1);
    /* Not while a probe is in flight. */
    ck_assert(!autonat_status_server_added(&s, 5001));
    ck_assert(!autonat_status_report(&s, 6000, AUTONAT_REPORT_NONE, NULL));
    ck_assert_int_eq(s.status, P2P_REACH_UNKNOWN);
    /* The server is throttled now: a probe finds nobody. */
    ck_assert(autonat_status_server_added(&s, 7000));
    ck_assert_uint_eq(autonat_status_pick(&s, 7000, srv, 2, idx, 4), 0);
    /* Known statuses do not react to new servers. */
    ck_assert(autonat_status_server_added(&s, 110000));
    ck_assert_uint_eq(autonat_status_pick(&s, 110000, srv, 1, idx, 4), 1);
    ck_assert(autonat_status_report(&s, 110100, AUTONAT_REPORT_PRIVATE, NULL));
    ck_assert(!autonat_status_server_added(&s, 110200));
    ck_assert_uint_eq(autonat_status_next(&s), 110100 + 90000);

    /* Our addresses changed while PRIVATE: a probe at once. */
    ck_assert(!autonat_status_report(&s, 110100, AUTONAT_REPORT_NONE, NULL));   /* stray: nothing in flight */
    ck_assert(!autonat_status_addrs_changed(&s, 120000, true));
    ck_assert_uint_eq(autonat_status_next(&s), 120000);
    /* PUBLIC whose address went away: UNKNOWN, probe at once. */
    p2p_multiaddr pub = ma("/ip4/8.8.4.4/tcp/4001");
    s.status = P2P_REACH_PUBLIC;
    s.addr = pub;
    s.confidence = 2;
    ck_assert(!autonat_status_addrs_changed(&s, 130000, true));   /* still ours: nothing */
    ck_assert_int_eq(s.status, P2P_REACH_PUBLIC);
    ck_assert_uint_eq(s.confidence, 2);
    ck_assert(autonat_status_addrs_changed(&s, 130000, false));
    ck_assert_int_eq(s.status, P2P_REACH_UNKNOWN);
    ck_assert_uint_eq(s.confidence, 0);
    ck_assert_uint_eq(autonat_status_next(&s), 130000);
    ck_assert_str_eq(autonat_reachability_name(P2P_REACH_PRIVATE), "private");

    /* A public answer with another address: taken, reported as a change. */
    autonat_status_init(&s, &cfg, 0);
    p2p_multiaddr pub2 = ma("/ip4/8.8.4.4/tcp/4002");
    ck_assert_uint_eq(autonat_status_pick(&s, 1000, srv, 1, idx, 4), 1);
    ck_assert(autonat_status_report(&s, 1100, AUTONAT_REPORT_PUBLIC, &pub));
    s.inflight = 1;
    ck_assert(autonat_status_report(&s, 1200, AUTONAT_REPORT_PUBLIC, &pub2));
    ck_assert(p2p_maddr_equal(&s.addr, &pub2));
    ck_assert_uint_eq(s.confidence, 1);
}
END_TEST

START_TEST(status_memory_bounded)
{
    struct autonat_status s;
    struct autonat_status_cfg c = cfg;
    c.servers_per_probe = 16;
    c.boot_delay_ms = 0;
    c.retry_ms = 1;
    autonat_status_init(&s, &c, 0);
    p2p_peerid srv[16];
    size_t idx[16];
    uint64_t t = 1;
    for (unsigned round = 0; round < 20; round++) {
        for (unsigned i = 0; i < 16; i++) srv[i] = seed_peer((uint8_t)(round * 16 + i));
        ck_assert(autonat_status_due(&s, t));
        size_t k = autonat_status_pick(&s, t, srv, 16, idx, 16);
        ck_assert_uint_eq(k, 16);
        for (size_t i = 0; i < k; i++) autonat_status_report(&s, t, AUTONAT_REPORT_NONE, NULL);
        ck_assert_uint_le(s.nasked, AUTONAT_REMEMBERED_SERVERS);
        t = autonat_status_next(&s);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("autonat_logic");
    TCase *tc = tcase_create("server");
    tcase_add_test(tc, dialback_addresses);
    tcase_add_test(tc, limits);
    suite_add_tcase(s, tc);
    tc = tcase_create("client");
    tcase_add_test(tc, status_confidence);
    tcase_add_test(tc, status_schedule);
    tcase_add_test(tc, status_memory_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
