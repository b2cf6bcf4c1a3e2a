/* The peer store's addresses: stored without /p2p/, deduplicated, the
 * array grown on demand up to its bound (32 per peer), the address closest
 * to expiry replaced when full, permanent ones kept. */
#include <stdio.h>

#include "p2p/conn.h"
#include "p2p/p2p.h"
#include "testutil.h"

static p2p_host *new_host(void)
{
    char err[256];
    p2p_host *h;
    p2p_conf *cf = p2p_conf_load_string("[host]\nephemeral_identity = true\nlog = warn\n", "t", err, sizeof err);
    ck_assert_int_eq(p2p_host_new(&h, cf, NULL, err, sizeof err), 0);
    return h;
}

static p2p_multiaddr tcp_addr(unsigned port)
{
    char s[64], err[128];
    p2p_multiaddr ma;
    snprintf(s, sizeof s, "/ip4/198.18.0.1/tcp/%u", port);
    ck_assert_int_eq(p2p_maddr_parse(&ma, s, err, sizeof err), 0);
    return ma;
}

START_TEST(addrs_grow_and_bound)
{
    p2p_host *h = new_host();
    p2p_peerid peer;
    p2p_keypair kp;
    p2p_pubkey pub;
    ck_assert_int_eq(p2p_keypair_generate(&kp), 0);
    p2p_keypair_public(&kp, &pub);
    ck_assert_int_eq(p2p_peerid_from_pubkey(&peer, &pub), 0);
    p2p_multiaddr got[64];
    ck_assert_uint_eq(p2p_peerstore_addrs(h, &peer, got, 64), 0);
    /* one at a time, permanent: 1, 2, 3 (growth past the first sizes) */
    for (unsigned i = 0; i < 3; i++) {
        p2p_multiaddr a = tcp_addr(1000 + i);
        ck_assert_int_eq(p2p_peerstore_add_addrs(h, &peer, &a, 1, 0), 0);
        ck_assert_uint_eq(p2p_peerstore_addrs(h, &peer, got, 64), i + 1);
    }
    /* a duplicate does not grow it */
    p2p_multiaddr dup = tcp_addr(1001);
    ck_assert_int_eq(p2p_peerstore_add_addrs(h, &peer, &dup, 1, 0), 0);
    ck_assert_uint_eq(p2p_peerstore_addrs(h, &peer, got, 64), 3);
    /* fill to the bound with expiring addresses, then one more: the one
     * closest to expiry goes, the permanent ones stay */
    for (unsigned i = 3; i < 32; i++) {
        p2p_multiaddr a = tcp_addr(2000 + i);
        ck_assert_int_eq(p2p_peerstore_add_addrs(h, &peer, &a, 1, 60000 + i), 0);
    }
    ck_assert_uint_eq(p2p_peerstore_addrs(h, &peer, got, 64), 32);
    p2p_multiaddr extra = tcp_addr(3000);
    ck_assert_int_eq(p2p_peerstore_add_addrs(h, &peer, &extra, 1, 120000), 0);
    size_t n = p2p_peerstore_addrs(h, &peer, got, 64);
    ck_assert_uint_eq(n, 32);
    p2p_multiaddr first_expiring = tcp_addr(2003), keep = tcp_addr(1000);
    bool has_extra = false, has_first = false, has_keep = false;
    for (size_t i = 0; i < n; i++) {
        has_extra |= p2p_maddr_equal(&got[i], &extra);
        has_first |= p2p_maddr_equal(&got[i], &first_expiring);
        has_keep |= p2p_maddr_equal(&got[i], &keep);
    }
    ck_assert(has_extra && !has_first && has_keep);
    p2p_host_free(h);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("peerstore");
    TCase *tc = tcase_create("addrs");
    tcase_add_test(tc, addrs_grow_and_bound);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
