/* test_ping.c - unit.ping: the ping protocol logic (ping_logic.c) without
 * I/O. The plugin itself runs between two real hosts in
 * unit.identify_ping. */
#include <string.h>

#include "p2p/p2p.h"
#include "ping_logic.h"
#include "testutil.h"

static void pattern(uint8_t *b, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(start + i);
}

START_TEST(echo_cuts_payloads)
{
    struct ping_echo e;
    ping_echo_init(&e);
    uint8_t in[100];
    pattern(in, sizeof in, 1);
    p2p_buf out;
    p2p_buf_init(&out, 0);
    /* 100 bytes in pieces of 7: three payloads and 4 bytes pending. */
    int total = 0;
    for (size_t off = 0; off < sizeof in; off += 7) {
        size_t k = sizeof in - off < 7 ? sizeof in - off : 7;
        int n = ping_echo_feed(&e, in + off, k, &out);
        ck_assert_int_ge(n, 0);
        total += n;
    }
    ck_assert_int_eq(total, 3);
    ck_assert_uint_eq(out.len, 96);
    ck_assert_mem_eq(p2p_buf_head(&out), in, 96);
    ck_assert_uint_eq(e.n, 4);
    ck_assert_uint_eq(e.echoed, 3);
    /* Several payloads in one piece. */
    p2p_buf_reset(&out);
    ping_echo_init(&e);
    ck_assert_int_eq(ping_echo_feed(&e, in, 64, &out), 2);
    ck_assert_mem_eq(p2p_buf_head(&out), in, 64);
    ck_assert_int_eq(ping_echo_feed(&e, in, 0, &out), 0);
    /* The output buffer's limit is reported. */
    p2p_buf lim;
    p2p_buf_init(&lim, 40);
    ping_echo_init(&e);
    ck_assert_int_eq(ping_echo_feed(&e, in, 64, &lim), P2P_ELIMIT);
    p2p_buf_free(&lim);
    p2p_buf_free(&out);
}
END_TEST

START_TEST(probe_matches)
{
    struct ping_probe p;
    ping_probe_init(&p);
    uint8_t pl[PING_SIZE];
    pattern(pl, sizeof pl, 9);
    ping_probe_start(&p, pl);
    ck_assert_int_eq(ping_probe_feed(&p, pl, 10), PING_PENDING);
    ck_assert_int_eq(ping_probe_feed(&p, pl + 10, 0), PING_PENDING);
    ck_assert_int_eq(ping_probe_feed(&p, pl + 10, 21), PING_PENDING);
    ck_assert_int_eq(ping_probe_feed(&p, pl + 31, 1), PING_MATCH);
    ck_assert(!p.active);
    /* Again on the same probe, in one piece. */
    pattern(pl, sizeof pl, 77);
    ping_probe_start(&p, pl);
    ck_assert_int_eq(ping_probe_feed(&p, pl, PING_SIZE), PING_MATCH);
}
END_TEST

START_TEST(probe_rejects)
{
    struct ping_probe p;
    uint8_t pl[PING_SIZE], bad[PING_SIZE + 1];
    pattern(pl, sizeof pl, 0);
    memcpy(bad, pl, sizeof pl);
    bad[PING_SIZE] = 0;
    /* Unsolicited bytes. */
    ping_probe_init(&p);
    ck_assert_int_eq(ping_probe_feed(&p, pl, 1), P2P_EPROTO);
    /* A differing byte, at the end. */
    ping_probe_start(&p, pl);
    bad[31] ^= 1;
    ck_assert_int_eq(ping_probe_feed(&p, bad, 16), PING_PENDING);
    ck_assert_int_eq(ping_probe_feed(&p, bad + 16, 16), P2P_EPROTO);
    /* Bytes past the echo. */
    bad[31] ^= 1;
    ping_probe_start(&p, pl);
    ck_assert_int_eq(ping_probe_feed(&p, bad, PING_SIZE + 1), P2P_EPROTO);
}
END_TEST

START_TEST(health_policy)
{
    struct ping_health h = { 0, 3 };
    ck_assert(!ping_health_record(&h, false));
    ck_assert(!ping_health_record(&h, false));
    ck_assert(!ping_health_record(&h, true));   /* a success resets */
    ck_assert_uint_eq(h.failures, 0);
    ck_assert(!ping_health_record(&h, false));
    ck_assert(!ping_health_record(&h, false));
    ck_assert(ping_health_record(&h, false));
    ck_assert(ping_health_record(&h, false));
    struct ping_health never = { 0, 0 };
    for (int i = 0; i < 100; i++) ck_assert(!ping_health_record(&never, false));
}
END_TEST

START_TEST(rtt)
{
    ck_assert_uint_eq(ping_rtt_us(1000, 1000), 1);
    ck_assert_uint_eq(ping_rtt_us(2000, 1000), 1);
    ck_assert_uint_eq(ping_rtt_us(0, 1500000), 1500);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ping");
    TCase *tc = tcase_create("logic");
    tcase_add_test(tc, echo_cuts_payloads);
    tcase_add_test(tc, probe_matches);
    tcase_add_test(tc, probe_rejects);
    tcase_add_test(tc, health_policy);
    tcase_add_test(tc, rtt);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
