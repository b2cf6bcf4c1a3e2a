/* autonat_test.h - helpers shared by the autonat unit suites. */
#ifndef AUTONAT_TEST_H
#define AUTONAT_TEST_H

#include "p2p/p2p.h"
#include "testutil.h"

static inline p2p_multiaddr ma(const char *text)
{
    p2p_multiaddr m;
    char err[256];
    int rc = p2p_maddr_parse(&m, text, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", text, err);
    return m;
}

/* The PeerId of rust-libp2p's --secret-key-seed N key. */
static inline p2p_peerid seed_peer(uint8_t seed)
{
    p2p_keypair kp;
    p2p_pubkey pub;
    p2p_keypair_from_seed_byte(&kp, seed);
    p2p_keypair_public(&kp, &pub);
    p2p_peerid id;
    ck_assert_int_eq(p2p_peerid_from_pubkey(&id, &pub), 0);
    return id;
}

#endif
