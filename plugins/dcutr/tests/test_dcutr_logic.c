/* test_dcutr_logic.c - unit.dcutr_logic: the filter of the peer's
 * addresses (dcutr_addr.c), and both sides of the exchange (dcutr_sm.c)
 * with explicit time in microseconds. */
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

static struct p2p_addr_policy policy(const char *item)
{
    struct p2p_addr_policy p;
    char err[256];
    int rc = p2p_addr_policy_parse(&p, &item, 1, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", item, err);
    return p;
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

/* ---- addresses ---------------------------------------------------------------- */

START_TEST(remote_addresses)
{
    /* The peer's addresses: allowed, not relayed, deduplicated. (The
     * policy itself and our CONNECT addresses: unit.netaddr.) */
    struct p2p_addr_policy p = policy("loopback");
    p2p_multiaddr out[16];
    size_t n;
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
    tcase_add_test(tc, remote_addresses);
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
