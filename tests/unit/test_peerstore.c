/* The peer store's addresses: stored without /p2p/, deduplicated, the
 * array grown on demand up to its bound (32 per peer), the address closest
 * to expiry replaced when full, permanent ones kept. Keys: stored at their
 * size, or not at all when the PeerId holds the key, and given back whole
 * either way. */
#include <stdio.h>
#include <string.h>

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

/* A key the PeerId holds (Ed25519) and one it only hashes (a 300-byte
 * RSA-sized key), each given back exactly; a key of another peer is
 * refused; a longer /p2p/ address comes back without the suffix. */
START_TEST(keys_and_suffix)
{
    p2p_host *h = new_host();
    p2p_keypair kp;
    p2p_pubkey ed, got;
    ck_assert_int_eq(p2p_keypair_generate(&kp), 0);
    p2p_keypair_public(&kp, &ed);
    p2p_peerid ed_id;
    ck_assert_int_eq(p2p_peerid_from_pubkey(&ed_id, &ed), 0);
    ck_assert_int_eq(p2p_peerstore_set_key(h, &ed_id, &ed), 0);
    memset(&got, 0xff, sizeof got);
    ck_assert(p2p_peerstore_key(h, &ed_id, &got));
    ck_assert_int_eq(got.type, ed.type);
    ck_assert_uint_eq(got.len, ed.len);
    ck_assert_mem_eq(got.data, ed.data, ed.len);

    p2p_pubkey big = { .type = P2P_KEY_RSA, .len = 300 };
    for (int i = 0; i < 300; i++) big.data[i] = (uint8_t)(i * 7 + 1);
    p2p_peerid big_id;
    ck_assert_int_eq(p2p_peerid_from_pubkey(&big_id, &big), 0);
    ck_assert(!p2p_peerstore_key(h, &big_id, &got));   /* a hash: unknown until stored */
    ck_assert_int_eq(p2p_peerstore_set_key(h, &big_id, &ed), P2P_EPEERID);
    ck_assert_int_eq(p2p_peerstore_set_key(h, &big_id, &big), 0);
    ck_assert_int_eq(p2p_peerstore_set_key(h, &big_id, &big), 0);   /* again: replaced */
    memset(&got, 0, sizeof got);
    ck_assert(p2p_peerstore_key(h, &big_id, &got));
    ck_assert_int_eq(got.type, P2P_KEY_RSA);
    ck_assert_uint_eq(got.len, 300);
    ck_assert_mem_eq(got.data, big.data, 300);

    char s[200], err[128];
    char idstr[P2P_PEERID_STRMAX];
    p2p_peerid_to_string(&ed_id, idstr, sizeof idstr);
    snprintf(s, sizeof s, "/ip6/2001:db8::1/tcp/4001/p2p/%s", idstr);
    p2p_multiaddr with, bare;
    ck_assert_int_eq(p2p_maddr_parse(&with, s, err, sizeof err), 0);
    ck_assert_int_eq(p2p_maddr_parse(&bare, "/ip6/2001:db8::1/tcp/4001", err, sizeof err), 0);
    ck_assert_int_eq(p2p_peerstore_add_addrs(h, &ed_id, &with, 1, 0), 0);
    p2p_multiaddr out[4];
    memset(out, 0xee, sizeof out);
    ck_assert_uint_eq(p2p_peerstore_addrs(h, &ed_id, out, 4), 1);
    ck_assert(p2p_maddr_equal(&out[0], &bare));
    p2p_host_free(h);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("peerstore");
    TCase *tc = tcase_create("addrs");
    tcase_add_test(tc, addrs_grow_and_bound);
    tcase_add_test(tc, keys_and_suffix);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
