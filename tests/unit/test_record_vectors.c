/* Signed envelopes and peer records: round trips, tampering, truncation,
 * limits, protobuf rules, and vectors from go-libp2p and rust-libp2p.
 *
 * How the vectors were made (throwaway programs, not kept in the tree):
 *  - go-libp2p v0.51.0 (the version of tests/interop/go/go.mod), run with
 *    GOFLAGS=-mod=mod from the module cache: key =
 *    ed25519.NewKeyFromSeed({0,1,...,31}) through
 *    crypto.UnmarshalEd25519PrivateKey; GO_V1 = record.Seal(&peer.PeerRecord{
 *    PeerID, Seq: 1234567890123456789, Addrs: /ip4/192.0.2.1/tcp/4001,
 *    /ip6/2001:db8::1/udp/4001/quic-v1, /dns4/example.com/tcp/443/wss})
 *    .Marshal(); GO_V2 the same with seed {1,0,...,0}, Seq 1, no addresses;
 *    GO_V3 = record.Seal of a custom Record (Domain "p2pchat-test-domain",
 *    Codec "/p2pchat/test", payload "hello envelope") with the first key.
 *  - rust-libp2p libp2p-core 0.44.0 / libp2p-identity 0.3.1 (the versions
 *    of tests/interop/rust/Cargo.lock), cargo --offline:
 *    Keypair::ed25519_from_bytes({0,...,31}); RS_LEGACY =
 *    PeerRecord::new(&kp, [/ip4/192.0.2.1/tcp/4001,
 *    /ip6/2001:db8::1/udp/4001/quic-v1]) (what rust's identify sends),
 *    RS_INTEROP = PeerRecord::new_interop with the same; both took the seq
 *    1795694770 (unix seconds) from the clock.
 * Ed25519 signatures are deterministic, so our sealed bytes must equal. */
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/multiaddr.h"
#include "p2p/peerid.h"
#include "p2p/record.h"
#include "testutil.h"

static const char KEY_PEER[] = "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB";
static const char SEED1_PEER[] = "12D3KooWPjceQrSwdWXPyLLeABRXmuqt69Rg3sBYbU1Nft9HyQ6X";

static const char GO_V1_PAYLOAD[] =
    "0a2600240801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8109582a6efc7"
    "9e8491111a0a0a0804c0000201060fa11a190a172920010db800000000000000000000000191020fa1cd031a140a"
    "12360b6578616d706c652e636f6d0601bbde03";
static const char GO_V1[] =
    "0a240801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8120203011a6f0a26"
    "00240801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8109582a6efc79e84"
    "91111a0a0a0804c0000201060fa11a190a172920010db800000000000000000000000191020fa1cd031a140a1236"
    "0b6578616d706c652e636f6d0601bbde032a4066238b3be26d77b44663191d2851cfac67b28a66f3207c255ad29b"
    "29168e4eca428b95b964b57262c79e5a86577aff31261385f0ce9eb529004e0fbead5f7602";
static const char GO_V2[] =
    "0a2408011220cecc1507dc1ddd7295951c290888f095adb9044d1b73d696e6df065d683bd4fc120203011a2a0a26"
    "002408011220cecc1507dc1ddd7295951c290888f095adb9044d1b73d696e6df065d683bd4fc10012a405e62a270"
    "f1b42c1f995e46de41d1466d60de7f21de2bf9a7c99b23dd6145ca1ccd0eed185d0cb6288e279447a0608e573d92"
    "c1685610f96728f0d87e7d636501";
static const char GO_V3[] =
    "0a240801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8120d2f7032706368"
    "61742f746573741a0e68656c6c6f20656e76656c6f70652a409ff95ffca1aa4b9d1c2638237185886a3b30e48f53"
    "2c2673459e6cf4f77bdde49986d37c52924f22900b6f4d924f1a174bc468138e3964738e7dbe6078b8f103";
static const char RS_LEGACY[] =
    "0a240801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8121c2f6c69627032"
    "702f726f7574696e672d73746174652d7265636f72641a550a2600240801122003a107bff3ce10be1d70dd18e74b"
    "c09967e4d6309ba50d5f1ddc8664125531b810b2c1a0d8061a0a0a0804c0000201060fa11a190a172920010db800"
    "000000000000000000000191020fa1cd032a402b605dce49d01364c824e89ff48e78b548b9071bce7a94e81e9d17"
    "41a1b24c1d78715aaae1470ee2a32093a9d061bec05cae6e6e4424100104aa2a18e8395b0e";
static const char RS_INTEROP[] =
    "0a240801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8120203011a550a26"
    "00240801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b810b2c1a0d8061a0a"
    "0a0804c0000201060fa11a190a172920010db800000000000000000000000191020fa1cd032a4029297da11f0cba"
    "dd5c321d2131786df8f5314dcdb39be43f94d37003dc8fb0a665bd2d276d1d2e048c0d26269abde294ed4caae871"
    "61685c20220de2eb282009";

static const char *V1_ADDRS[] = { "/ip4/192.0.2.1/tcp/4001", "/ip6/2001:db8::1/udp/4001/quic-v1",
                                  "/dns4/example.com/tcp/443/wss" };

/* Hex into an exactly sized heap buffer (so ASan sees any overread). */
static uint8_t *unhex(const char *hex, size_t *len)
{
    size_t cap = strlen(hex) / 2;
    uint8_t *b = malloc(cap ? cap : 1);
    ck_assert_ptr_nonnull(b);
    int n = p2p_test_unhex(hex, b, cap);
    ck_assert_int_eq(n, (int)cap);
    *len = cap;
    return b;
}

static void key0(p2p_keypair *kp)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++) seed[i] = (uint8_t)i;
    p2p_keypair_from_seed(kp, seed);
}

static void check_peer(const p2p_peerid *id, const char *text)
{
    char s[P2P_PEERID_STRMAX];
    ck_assert_int_gt(p2p_peerid_to_string(id, s, sizeof s), 0);
    ck_assert_str_eq(s, text);
}

static void check_addrs(const p2p_peer_record *rec, const char **want, size_t n)
{
    char s[P2P_MADDR_STRMAX];
    ck_assert_uint_eq(rec->naddrs, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_gt(p2p_maddr_to_string(&rec->addrs[i], s, sizeof s), 0);
        ck_assert_str_eq(s, want[i]);
    }
}

START_TEST(envelope_go_vector)
{
    p2p_keypair kp;
    p2p_pubkey pub, signer;
    size_t len, ptlen, plen, ourlen;
    const uint8_t *pt, *payload;
    uint8_t *ours;
    uint8_t *go = unhex(GO_V3, &len);
    key0(&kp);
    p2p_keypair_public(&kp, &pub);
    ck_assert_int_eq(p2p_envelope_open(go, len, "p2pchat-test-domain", &signer, &pt, &ptlen, &payload,
                                       &plen), 0);
    ck_assert(p2p_pubkey_equal(&pub, &signer));
    ck_assert(ptlen == 13 && !memcmp(pt, "/p2pchat/test", 13));
    ck_assert(plen == 14 && !memcmp(payload, "hello envelope", 14));
    ck_assert_int_eq(p2p_envelope_seal(&kp, "p2pchat-test-domain", (const uint8_t *)"/p2pchat/test",
                                       13, (const uint8_t *)"hello envelope", 14, &ours, &ourlen), 0);
    ck_assert_uint_eq(ourlen, len);
    ck_assert(!memcmp(ours, go, len));
    free(ours);
    free(go);
}
END_TEST

START_TEST(peer_record_go_vectors)
{
    p2p_keypair kp;
    p2p_peer_record *rec = calloc(1, sizeof *rec);
    uint8_t *ours;
    size_t len, ourlen, plen;

    /* v1: three addresses, a large seq. */
    uint8_t *go = unhex(GO_V1, &len), *gopayload = unhex(GO_V1_PAYLOAD, &plen);
    ck_assert_int_eq(p2p_peer_record_open(go, len, rec), 0);
    check_peer(&rec->id, KEY_PEER);
    ck_assert(rec->seq == UINT64_C(1234567890123456789));
    check_addrs(rec, V1_ADDRS, 3);
    key0(&kp);
    ck_assert_int_eq(p2p_peer_record_encode(rec, &ours, &ourlen), 0);
    ck_assert(ourlen == plen && !memcmp(ours, gopayload, plen));
    free(ours);
    ck_assert_int_eq(p2p_peer_record_seal(&kp, rec, &ours, &ourlen), 0);
    ck_assert_uint_eq(ourlen, len);
    ck_assert(!memcmp(ours, go, len));
    free(ours);
    free(go);
    free(gopayload);

    /* v2: rust's --secret-key-seed 1 peer, seq 1, no addresses. */
    go = unhex(GO_V2, &len);
    ck_assert_int_eq(p2p_peer_record_open(go, len, rec), 0);
    check_peer(&rec->id, SEED1_PEER);
    ck_assert(rec->seq == 1 && rec->naddrs == 0);
    p2p_keypair_from_seed_byte(&kp, 1);
    ck_assert_int_eq(p2p_peer_record_seal(&kp, rec, &ours, &ourlen), 0);
    ck_assert(ourlen == len && !memcmp(ours, go, len));
    free(ours);
    free(go);
    free(rec);
}
END_TEST

START_TEST(peer_record_rust_vectors)
{
    p2p_keypair kp;
    p2p_peer_record *rec = calloc(1, sizeof *rec);
    uint8_t *ours, *payload;
    size_t len, ourlen, plen;
    key0(&kp);

    /* Legacy (rust's identify): opens; our envelope of the same record in
     * the legacy domain and type is the same bytes. */
    uint8_t *rs = unhex(RS_LEGACY, &len);
    ck_assert_int_eq(p2p_peer_record_open(rs, len, rec), 0);
    check_peer(&rec->id, KEY_PEER);
    ck_assert(rec->seq == 1795694770);
    check_addrs(rec, V1_ADDRS, 2);
    ck_assert_int_eq(p2p_peer_record_encode(rec, &payload, &plen), 0);
    ck_assert_int_eq(p2p_envelope_seal(&kp, P2P_PEER_RECORD_LEGACY_DOMAIN,
                                       (const uint8_t *)P2P_PEER_RECORD_LEGACY_PAYLOAD_TYPE,
                                       strlen(P2P_PEER_RECORD_LEGACY_PAYLOAD_TYPE), payload, plen,
                                       &ours, &ourlen), 0);
    ck_assert(ourlen == len && !memcmp(ours, rs, len));
    free(ours);
    free(payload);
    free(rs);

    /* Interop form: identical to what p2p_peer_record_seal writes. */
    rs = unhex(RS_INTEROP, &len);
    ck_assert_int_eq(p2p_peer_record_open(rs, len, rec), 0);
    ck_assert(rec->seq == 1795694770);
    check_addrs(rec, V1_ADDRS, 2);
    ck_assert_int_eq(p2p_peer_record_seal(&kp, rec, &ours, &ourlen), 0);
    ck_assert(ourlen == len && !memcmp(ours, rs, len));
    free(ours);
    free(rs);
    free(rec);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("record_vectors");
    TCase *tc = tcase_create("record_vectors");
    tcase_add_test(tc, envelope_go_vector);
    tcase_add_test(tc, peer_record_go_vectors);
    tcase_add_test(tc, peer_record_rust_vectors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
