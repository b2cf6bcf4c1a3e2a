/* test_dcutr_logic.c - unit.dcutr_logic: the address policy and our
 * CONNECT addresses (dcutr_addr.c), and both sides of the exchange
 * (dcutr_sm.c) with explicit time in microseconds. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcutr_addr.h"
#include "dcutr_sm.h"
#include "p2p/p2p.h"
#include "testutil.h"

static p2p_multiaddr ma(const char *text)
{
    p2p_multiaddr m;
    char err[256];
    int rc = p2p_maddr_parse(&m, text, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", text, err);
    return m;
}

static enum dcutr_scope scope(const char *ip)
{
    uint8_t b[16];
    if (inet_pton(AF_INET, ip, b) == 1) return dcutr_ip_scope(4, b);
    ck_assert_int_eq(inet_pton(AF_INET6, ip, b), 1);
    return dcutr_ip_scope(6, b);
}

static struct dcutr_policy policy(const char *items)
{
    struct dcutr_policy p;
    char copy[256], *v[16], *save = NULL;
    size_t n = 0;
    snprintf(copy, sizeof copy, "%s", items);
    for (char *t = strtok_r(copy, ",", &save); t && n < 16; t = strtok_r(NULL, ",", &save)) v[n++] = t;
    char err[256];
    int rc = dcutr_policy_parse(&p, (const char *const *)v, n, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", items, err);
    return p;
}

static bool allows(const struct dcutr_policy *p, const char *addr)
{
    p2p_multiaddr a = ma(addr);
    return dcutr_policy_allows(p, &a);
}

/* ---- addresses ---------------------------------------------------------------- */

START_TEST(scopes)
{
    ck_assert_int_eq(scope("1.2.3.4"), DCUTR_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("8.8.8.8"), DCUTR_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("0.0.0.0"), DCUTR_SCOPE_UNSPECIFIED);
    ck_assert_int_eq(scope("10.1.2.3"), DCUTR_SCOPE_PRIVATE);
    ck_assert_int_eq(scope("172.16.0.1"), DCUTR_SCOPE_PRIVATE);
    ck_assert_int_eq(scope("172.32.0.1"), DCUTR_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("192.168.1.1"), DCUTR_SCOPE_PRIVATE);
    ck_assert_int_eq(scope("100.64.0.1"), DCUTR_SCOPE_PRIVATE);
    ck_assert_int_eq(scope("100.128.0.1"), DCUTR_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("127.0.0.1"), DCUTR_SCOPE_LOOPBACK);
    ck_assert_int_eq(scope("169.254.3.4"), DCUTR_SCOPE_LINK_LOCAL);
    ck_assert_int_eq(scope("198.18.0.1"), DCUTR_SCOPE_RESERVED);
    ck_assert_int_eq(scope("198.19.2.1"), DCUTR_SCOPE_RESERVED);
    ck_assert_int_eq(scope("198.20.0.1"), DCUTR_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("203.0.113.9"), DCUTR_SCOPE_RESERVED);
    ck_assert_int_eq(scope("224.0.0.251"), DCUTR_SCOPE_RESERVED);
    ck_assert_int_eq(scope("255.255.255.255"), DCUTR_SCOPE_RESERVED);
    ck_assert_int_eq(scope("::"), DCUTR_SCOPE_UNSPECIFIED);
    ck_assert_int_eq(scope("::1"), DCUTR_SCOPE_LOOPBACK);
    ck_assert_int_eq(scope("fe80::1"), DCUTR_SCOPE_LINK_LOCAL);
    ck_assert_int_eq(scope("fd00::1"), DCUTR_SCOPE_PRIVATE);
    ck_assert_int_eq(scope("2001:db8::1"), DCUTR_SCOPE_RESERVED);
    ck_assert_int_eq(scope("2606:4700::1"), DCUTR_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("ff02::1"), DCUTR_SCOPE_RESERVED);
    ck_assert_int_eq(scope("::ffff:10.0.0.1"), DCUTR_SCOPE_PRIVATE);
    ck_assert_int_eq(scope("::ffff:1.2.3.4"), DCUTR_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("64:ff9b::1.2.3.4"), DCUTR_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("64:ff9b::192.168.0.1"), DCUTR_SCOPE_PRIVATE);
}
END_TEST

START_TEST(policies)
{
    struct dcutr_policy p = policy("public");
    ck_assert(allows(&p, "/ip4/1.2.3.4/tcp/4001"));
    ck_assert(allows(&p, "/ip6/2606:4700::1/tcp/4001"));
    ck_assert(!allows(&p, "/ip4/127.0.0.1/tcp/4001"));
    ck_assert(!allows(&p, "/ip4/198.18.0.2/tcp/4001"));
    ck_assert(!allows(&p, "/ip4/192.168.1.2/tcp/4001"));
    ck_assert(!allows(&p, "/dns4/example.com/tcp/4001"));
    ck_assert(!allows(&p, "/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo/p2p-circuit"));

    p = policy("loopback,198.18.0.0/15");
    ck_assert(allows(&p, "/ip4/127.0.0.1/tcp/4001"));
    ck_assert(allows(&p, "/ip6/::1/tcp/4001"));
    ck_assert(allows(&p, "/ip4/198.18.0.2/tcp/4001"));
    ck_assert(allows(&p, "/ip4/198.19.2.3/tcp/4001"));
    ck_assert(!allows(&p, "/ip4/198.20.0.1/tcp/4001"));
    ck_assert(!allows(&p, "/ip4/1.2.3.4/tcp/4001"));   /* public not listed */
    ck_assert(!allows(&p, "/ip4/0.0.0.0/tcp/4001"));

    p = policy("all");
    ck_assert(allows(&p, "/ip4/10.0.0.1/tcp/1"));
    ck_assert(!allows(&p, "/ip4/0.0.0.0/tcp/1"));      /* never the unspecified address */
    ck_assert(!allows(&p, "/ip6/::/tcp/1"));

    p = policy("private,link-local,2001:db8::/32,203.0.113.7");
    ck_assert(allows(&p, "/ip4/10.0.0.1/tcp/1"));
    ck_assert(allows(&p, "/ip4/169.254.1.1/tcp/1"));
    ck_assert(allows(&p, "/ip6/2001:db8:1::5/tcp/1"));
    ck_assert(allows(&p, "/ip4/203.0.113.7/tcp/1"));
    ck_assert(!allows(&p, "/ip4/203.0.113.8/tcp/1"));

    struct dcutr_policy bad;
    char err[256];
    const char *items[] = { "public", "nonsense" };
    ck_assert_int_eq(dcutr_policy_parse(&bad, items, 2, err, sizeof err), P2P_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "'nonsense'"));
    const char *items2[] = { "10.0.0.0/33" };
    ck_assert_int_eq(dcutr_policy_parse(&bad, items2, 1, err, sizeof err), P2P_EINVAL);
    const char *items3[] = { "10.0.0.0/" };
    ck_assert_int_eq(dcutr_policy_parse(&bad, items3, 1, err, sizeof err), P2P_EINVAL);
    const char *items4[] = { "fd00::/7x" };
    ck_assert_int_eq(dcutr_policy_parse(&bad, items4, 1, err, sizeof err), P2P_EINVAL);
    /* Nothing allowed at all is a valid (if useless) policy. */
    ck_assert_int_eq(dcutr_policy_parse(&bad, NULL, 0, err, sizeof err), 0);
    ck_assert(!dcutr_policy_allows(&bad, &(p2p_multiaddr){ 0 }));

    p2p_multiaddr pub = ma("/ip4/1.2.3.4/tcp/1"), lo = ma("/ip4/127.0.0.1/tcp/1");
    ck_assert(dcutr_addr_is_public(&pub));
    ck_assert(!dcutr_addr_is_public(&lo));
}
END_TEST

static struct p2p_identify_observed obs(const char *addr, unsigned n)
{
    return (struct p2p_identify_observed){ .addr = ma(addr), .observers = n };
}

static void expect(const p2p_multiaddr *got, size_t n, const char *const *want)
{
    size_t k = 0;
    while (want[k]) k++;
    char s[P2P_MADDR_STRMAX];
    for (size_t i = 0; i < n && i < k; i++) {
        p2p_maddr_to_string(&got[i], s, sizeof s);
        ck_assert_str_eq(s, want[i]);
    }
    ck_assert_uint_eq(n, k);
}

START_TEST(local_addresses)
{
    struct dcutr_policy p = policy("198.18.0.0/15");
    p2p_multiaddr listen[] = { ma("/ip4/198.19.1.2/tcp/4001"), ma("/ip4/127.0.0.1/tcp/4001"),
                               ma("/ip6/::1/tcp/4002") };
    struct p2p_identify_observed o[] = {
        obs("/ip4/198.18.0.2/tcp/50123", 3),           /* dialed from an ephemeral port: translated */
        obs("/ip4/198.18.0.3/tcp/4001", 2),            /* from the listening port: kept */
        obs("/ip4/198.18.0.4/tcp/50124", 1),           /* too few observers */
        obs("/ip4/198.18.0.9/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo/p2p-circuit", 5),
        obs("/ip4/8.8.8.8/tcp/4001", 5),               /* not allowed by this policy */
        obs("/ip4/198.18.0.2/tcp/50999", 2),           /* same translation: once */
        obs("/ip4/198.18.0.5/udp/4001/quic-v1", 2),    /* not TCP: as observed */
    };
    p2p_multiaddr out[16];
    size_t n = dcutr_local_addrs(&p, listen, 3, o, sizeof o / sizeof o[0], 2, out, 16);
    expect(out, n, (const char *const[]){ "/ip4/198.18.0.2/tcp/4001", "/ip4/198.18.0.3/tcp/4001",
                                          "/ip4/198.18.0.5/udp/4001/quic-v1", "/ip4/198.19.1.2/tcp/4001", NULL });
    /* min_observers 1 takes the third one (translated). */
    n = dcutr_local_addrs(&p, listen, 3, o, sizeof o / sizeof o[0], 1, out, 16);
    ck_assert_uint_eq(n, 5);
    char s[P2P_MADDR_STRMAX];
    p2p_maddr_to_string(&out[2], s, sizeof s);
    ck_assert_str_eq(s, "/ip4/198.18.0.4/tcp/4001");
    /* Bounded by max. */
    ck_assert_uint_eq(dcutr_local_addrs(&p, listen, 3, o, sizeof o / sizeof o[0], 1, out, 2), 2);

    /* Loopback policy: listen addresses only, both families; an observed
     * IPv6 address is translated to the IPv6 listening port. */
    p = policy("loopback");
    struct p2p_identify_observed o6[] = { obs("/ip6/::1/tcp/60000", 1) };
    n = dcutr_local_addrs(&p, listen, 3, o6, 1, 1, out, 16);
    expect(out, n, (const char *const[]){ "/ip6/::1/tcp/4002", "/ip4/127.0.0.1/tcp/4001", NULL });

    /* Public only (the default) with private listen addresses: nothing. */
    p = policy("public");
    ck_assert_uint_eq(dcutr_local_addrs(&p, listen, 3, o, 2, 1, out, 16), 0);

    /* The peer's addresses: allowed, not relayed, deduplicated. */
    p = policy("loopback");
    p2p_multiaddr in[] = { ma("/ip4/127.0.0.1/tcp/5"), ma("/ip4/10.0.0.1/tcp/5"), ma("/ip4/127.0.0.1/tcp/5"),
                           ma("/ip4/127.0.0.1/tcp/6/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo") };
    n = dcutr_remote_addrs(&p, in, 4, out, 16);
    expect(out, n, (const char *const[]){ "/ip4/127.0.0.1/tcp/5",
                                          "/ip4/127.0.0.1/tcp/6/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo",
                                          NULL });
}
END_TEST

/* ---- the exchange ------------------------------------------------------------------ */

#define MS 1000u
#define TIMEOUT (10000 * MS)

static p2p_multiaddr remote[2];

static void setup_addrs(void)
{
    remote[0] = ma("/ip4/198.18.0.2/tcp/4001");
    remote[1] = ma("/ip4/198.19.1.2/tcp/4001");
}

START_TEST(initiator_happy_path)
{
    setup_addrs();
    struct dcutr_sm m;
    dcutr_sm_init(&m, true, 3, TIMEOUT);
    ck_assert_uint_eq(dcutr_sm_next_timer(&m), 0);
    ck_assert_int_eq(dcutr_sm_start(&m, 1000 * MS, false), DCUTR_ACT_SEND_CONNECT);
    ck_assert_int_eq(m.st, DCUTR_ST_CONNECT_SENT);
    ck_assert_uint_eq(m.attempt, 1);
    ck_assert_uint_eq(dcutr_sm_next_timer(&m), 1000 * MS + TIMEOUT);
    /* The stream opened later: the round trip counts from the real send. */
    dcutr_sm_connect_sent(&m, 1100 * MS);
    ck_assert_uint_eq(dcutr_sm_next_timer(&m), 1100 * MS + TIMEOUT);
    ck_assert_int_eq(dcutr_sm_on_timer(&m, 1200 * MS), DCUTR_ACT_NONE);
    /* CONNECT after 250 ms: SYNC, and the dial 125 ms later. */
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 1350 * MS, DCUTR_CONNECT, remote, 2), DCUTR_ACT_SEND_SYNC);
    ck_assert_uint_eq(m.rtt, 250 * MS);
    ck_assert_uint_eq(m.nremote, 2);
    ck_assert(p2p_maddr_equal(&m.remote[1], &remote[1]));
    ck_assert_uint_eq(dcutr_sm_next_timer(&m), 1475 * MS);
    ck_assert_int_eq(dcutr_sm_on_timer(&m, 1474 * MS), DCUTR_ACT_NONE);   /* early: nothing */
    ck_assert_int_eq(dcutr_sm_on_timer(&m, 1475 * MS), DCUTR_ACT_DIAL);
    ck_assert_int_eq(m.st, DCUTR_ST_DIALING);
    ck_assert_uint_eq(dcutr_sm_next_timer(&m), 0);   /* the dials have their own limit */
    /* The responder may close the stream after one round: not a failure. */
    ck_assert_int_eq(dcutr_sm_on_stream_end(&m), DCUTR_ACT_NONE);
    ck_assert_int_eq(dcutr_sm_on_dial(&m, 1600 * MS, true), DCUTR_ACT_SUCCESS);
    ck_assert(dcutr_sm_finished(&m));
    /* Nothing happens after the end. */
    ck_assert_int_eq(dcutr_sm_on_dial(&m, 1700 * MS, false), DCUTR_ACT_NONE);
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 1700 * MS, DCUTR_SYNC, NULL, 0), DCUTR_ACT_NONE);
    ck_assert_int_eq(dcutr_sm_on_timer(&m, 99999 * MS), DCUTR_ACT_NONE);
    ck_assert_str_eq(dcutr_state_name(m.st), "done");
}
END_TEST

START_TEST(initiator_retries)
{
    setup_addrs();
    struct dcutr_sm m;
    dcutr_sm_init(&m, true, 3, TIMEOUT);
    uint64_t t = 0;
    ck_assert_int_eq(dcutr_sm_start(&m, t, false), DCUTR_ACT_SEND_CONNECT);
    for (unsigned a = 1; a <= 3; a++) {
        ck_assert_uint_eq(m.attempt, a);
        /* A new RTT each round (the spec's FAQ): 100, 200, 300 ms. */
        t += a * 100 * MS;
        ck_assert_int_eq(dcutr_sm_on_msg(&m, t, DCUTR_CONNECT, remote, 1), DCUTR_ACT_SEND_SYNC);
        ck_assert_uint_eq(m.rtt, a * 100 * MS);
        ck_assert_uint_eq(m.nremote, 1);
        t = dcutr_sm_next_timer(&m);
        ck_assert_int_eq(dcutr_sm_on_timer(&m, t), DCUTR_ACT_DIAL);
        t += 5000 * MS;
        enum dcutr_action next = dcutr_sm_on_dial(&m, t, false);
        if (a < 3) ck_assert_int_eq(next, DCUTR_ACT_SEND_CONNECT);
        else ck_assert_int_eq(next, DCUTR_ACT_FAIL);
    }
    ck_assert_int_eq(m.st, DCUTR_ST_FAILED);
    ck_assert_str_eq(m.why, "every attempt failed");
    ck_assert_uint_eq(m.attempt, 3);
}
END_TEST

START_TEST(initiator_unilateral_and_errors)
{
    setup_addrs();
    struct dcutr_sm m;
    /* Unilateral dial first: success ends it. */
    dcutr_sm_init(&m, true, 3, TIMEOUT);
    ck_assert_int_eq(dcutr_sm_start(&m, 0, true), DCUTR_ACT_DIAL_DIRECT);
    ck_assert_int_eq(m.st, DCUTR_ST_DIRECT);
    ck_assert_int_eq(dcutr_sm_start(&m, 0, true), DCUTR_ACT_NONE);   /* once */
    ck_assert_int_eq(dcutr_sm_on_dial(&m, 10, true), DCUTR_ACT_SUCCESS);
    /* Its failure starts the punch, attempt 1. */
    dcutr_sm_init(&m, true, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, true);
    ck_assert_int_eq(dcutr_sm_on_dial(&m, 10, false), DCUTR_ACT_SEND_CONNECT);
    ck_assert_uint_eq(m.attempt, 1);
    ck_assert_uint_eq(m.sent_at, 10);

    /* No answer in time. */
    ck_assert_int_eq(dcutr_sm_on_timer(&m, 10 + TIMEOUT), DCUTR_ACT_FAIL);
    ck_assert_str_eq(m.why, "timed out waiting for the peer's message");

    /* A SYNC instead of CONNECT; a CONNECT with nothing to dial. */
    dcutr_sm_init(&m, true, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 5, DCUTR_SYNC, NULL, 0), DCUTR_ACT_FAIL);
    dcutr_sm_init(&m, true, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 5, DCUTR_CONNECT, NULL, 0), DCUTR_ACT_FAIL);
    ck_assert_str_eq(m.why, "the peer's CONNECT has no address we may dial");
    /* A second CONNECT while waiting to dial. */
    dcutr_sm_init(&m, true, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 5, DCUTR_CONNECT, remote, 1), DCUTR_ACT_SEND_SYNC);
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 6, DCUTR_CONNECT, remote, 1), DCUTR_ACT_FAIL);
    /* The stream ends before the answer. */
    dcutr_sm_init(&m, true, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    ck_assert_int_eq(dcutr_sm_on_stream_end(&m), DCUTR_ACT_FAIL);
    /* A direct connection by another path ends it at any point. */
    dcutr_sm_init(&m, true, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    dcutr_sm_on_msg(&m, 5, DCUTR_CONNECT, remote, 1);
    ck_assert_int_eq(dcutr_sm_on_direct(&m), DCUTR_ACT_SUCCESS);
    ck_assert_int_eq(dcutr_sm_on_direct(&m), DCUTR_ACT_NONE);
    /* RTT 0 (same machine): dial at once. */
    dcutr_sm_init(&m, true, 3, TIMEOUT);
    dcutr_sm_start(&m, 7, false);
    dcutr_sm_on_msg(&m, 7, DCUTR_CONNECT, remote, 1);
    ck_assert_uint_eq(dcutr_sm_next_timer(&m), 7);
    ck_assert_int_eq(dcutr_sm_on_timer(&m, 7), DCUTR_ACT_DIAL);
    /* More addresses than kept. */
    p2p_multiaddr many[DCUTR_MAX_ADDRS + 3];
    for (size_t i = 0; i < DCUTR_MAX_ADDRS + 3; i++) many[i] = remote[0];
    dcutr_sm_init(&m, true, 0, TIMEOUT);   /* max_attempts 0 means 1 */
    ck_assert_uint_eq(m.max_attempts, 1);
    dcutr_sm_start(&m, 0, false);
    dcutr_sm_on_msg(&m, 1, DCUTR_CONNECT, many, DCUTR_MAX_ADDRS + 3);
    ck_assert_uint_eq(m.nremote, DCUTR_MAX_ADDRS);
    dcutr_sm_on_timer(&m, 1);
    ck_assert_int_eq(dcutr_sm_on_dial(&m, 2, false), DCUTR_ACT_FAIL);
}
END_TEST

START_TEST(responder)
{
    setup_addrs();
    struct dcutr_sm m;
    dcutr_sm_init(&m, false, 3, TIMEOUT);
    ck_assert_int_eq(dcutr_sm_start(&m, 0, true), DCUTR_ACT_NONE);   /* direct is the initiator's */
    ck_assert_int_eq(m.st, DCUTR_ST_WAIT_CONNECT);
    ck_assert_uint_eq(dcutr_sm_next_timer(&m), TIMEOUT);
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 10, DCUTR_CONNECT, remote, 2), DCUTR_ACT_SEND_CONNECT);
    ck_assert_uint_eq(m.attempt, 1);
    ck_assert_int_eq(m.st, DCUTR_ST_WAIT_SYNC);
    ck_assert_uint_eq(dcutr_sm_next_timer(&m), 10 + TIMEOUT);
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 20, DCUTR_SYNC, NULL, 0), DCUTR_ACT_DIAL);
    ck_assert_uint_eq(m.nremote, 2);
    /* Waiting for a retry meanwhile; a failed dial is the initiator's call. */
    ck_assert_int_eq(m.st, DCUTR_ST_WAIT_CONNECT);
    ck_assert_int_eq(dcutr_sm_on_dial(&m, 30, false), DCUTR_ACT_NONE);
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 40, DCUTR_CONNECT, remote, 1), DCUTR_ACT_SEND_CONNECT);
    ck_assert_uint_eq(m.attempt, 2);
    ck_assert_uint_eq(m.nremote, 1);
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 50, DCUTR_SYNC, NULL, 0), DCUTR_ACT_DIAL);
    ck_assert_int_eq(dcutr_sm_on_dial(&m, 60, true), DCUTR_ACT_SUCCESS);

    /* Too many attempts; a retry that never comes; the initiator closing. */
    dcutr_sm_init(&m, false, 2, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(dcutr_sm_on_msg(&m, 1, DCUTR_CONNECT, remote, 1), DCUTR_ACT_SEND_CONNECT);
        ck_assert_int_eq(dcutr_sm_on_msg(&m, 2, DCUTR_SYNC, NULL, 0), DCUTR_ACT_DIAL);
    }
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 3, DCUTR_CONNECT, remote, 1), DCUTR_ACT_FAIL);
    ck_assert_str_eq(m.why, "too many attempts");

    dcutr_sm_init(&m, false, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    dcutr_sm_on_msg(&m, 1, DCUTR_CONNECT, remote, 1);
    dcutr_sm_on_msg(&m, 2, DCUTR_SYNC, NULL, 0);
    ck_assert_int_eq(dcutr_sm_on_timer(&m, 2 + TIMEOUT - 1), DCUTR_ACT_NONE);
    ck_assert_int_eq(dcutr_sm_on_timer(&m, 2 + TIMEOUT), DCUTR_ACT_FAIL);
    ck_assert_str_eq(m.why, "no further attempt from the peer");

    /* A new stream per attempt (go, rust): restart_wait, attempts go on. */
    dcutr_sm_init(&m, false, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    dcutr_sm_on_msg(&m, 1, DCUTR_CONNECT, remote, 1);   /* then the stream dies before SYNC */
    dcutr_sm_restart_wait(&m, 5);
    ck_assert_int_eq(m.st, DCUTR_ST_WAIT_CONNECT);
    ck_assert_uint_eq(dcutr_sm_next_timer(&m), 5 + TIMEOUT);
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 6, DCUTR_CONNECT, remote, 1), DCUTR_ACT_SEND_CONNECT);
    ck_assert_uint_eq(m.attempt, 2);
    ck_assert_int_eq(dcutr_sm_on_stream_end(&m), DCUTR_ACT_FAIL);   /* before its SYNC */
    ck_assert_str_eq(m.why, "the initiator closed the stream");

    /* rust and go close the stream right after SYNC: the dials decide
     * (a direct connection: success), or the next attempt's new stream,
     * or the deadline. Regression: this used to fail the punch, whose
     * dials then succeeded unreported. */
    dcutr_sm_init(&m, false, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    dcutr_sm_on_msg(&m, 1, DCUTR_CONNECT, remote, 1);
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 2, DCUTR_SYNC, NULL, 0), DCUTR_ACT_DIAL);
    ck_assert_int_eq(dcutr_sm_on_stream_end(&m), DCUTR_ACT_NONE);
    ck_assert(!dcutr_sm_finished(&m));
    ck_assert_int_eq(dcutr_sm_on_dial(&m, 3, true), DCUTR_ACT_SUCCESS);
    dcutr_sm_init(&m, false, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    dcutr_sm_on_msg(&m, 1, DCUTR_CONNECT, remote, 1);
    dcutr_sm_on_msg(&m, 2, DCUTR_SYNC, NULL, 0);
    ck_assert_int_eq(dcutr_sm_on_stream_end(&m), DCUTR_ACT_NONE);
    ck_assert_int_eq(dcutr_sm_on_direct(&m), DCUTR_ACT_SUCCESS);   /* the peer's dial won */
    dcutr_sm_init(&m, false, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    dcutr_sm_on_msg(&m, 1, DCUTR_CONNECT, remote, 1);
    dcutr_sm_on_msg(&m, 2, DCUTR_SYNC, NULL, 0);
    ck_assert_int_eq(dcutr_sm_on_stream_end(&m), DCUTR_ACT_NONE);
    ck_assert_int_eq(dcutr_sm_on_dial(&m, 3, false), DCUTR_ACT_NONE);
    dcutr_sm_restart_wait(&m, 4);                                    /* attempt 2, new stream */
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 5, DCUTR_CONNECT, remote, 1), DCUTR_ACT_SEND_CONNECT);
    ck_assert_uint_eq(m.attempt, 2);
    dcutr_sm_on_msg(&m, 6, DCUTR_SYNC, NULL, 0);
    ck_assert_int_eq(dcutr_sm_on_stream_end(&m), DCUTR_ACT_NONE);
    ck_assert_int_eq(dcutr_sm_on_timer(&m, 6 + TIMEOUT), DCUTR_ACT_FAIL);
    ck_assert_str_eq(m.why, "no further attempt from the peer");

    /* Errors: SYNC first, CONNECT twice, nothing to dial, first timeout. */
    dcutr_sm_init(&m, false, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 1, DCUTR_SYNC, NULL, 0), DCUTR_ACT_FAIL);
    dcutr_sm_init(&m, false, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    dcutr_sm_on_msg(&m, 1, DCUTR_CONNECT, remote, 1);
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 2, DCUTR_CONNECT, remote, 1), DCUTR_ACT_FAIL);
    dcutr_sm_init(&m, false, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    ck_assert_int_eq(dcutr_sm_on_msg(&m, 1, DCUTR_CONNECT, NULL, 0), DCUTR_ACT_FAIL);
    dcutr_sm_init(&m, false, 3, TIMEOUT);
    dcutr_sm_start(&m, 0, false);
    ck_assert_int_eq(dcutr_sm_on_timer(&m, TIMEOUT), DCUTR_ACT_FAIL);
    ck_assert_str_eq(m.why, "timed out waiting for the peer's message");
    /* connect_sent is the initiator's. */
    dcutr_sm_connect_sent(&m, 99);
    ck_assert_uint_eq(m.sent_at, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dcutr_logic");
    TCase *tc = tcase_create("addresses");
    tcase_add_test(tc, scopes);
    tcase_add_test(tc, policies);
    tcase_add_test(tc, local_addresses);
    suite_add_tcase(s, tc);
    tc = tcase_create("exchange");
    tcase_add_test(tc, initiator_happy_path);
    tcase_add_test(tc, initiator_retries);
    tcase_add_test(tc, initiator_unilateral_and_errors);
    tcase_add_test(tc, responder);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
