/* PeerIds: the key vectors of libp2p/specs peer-ids/peer-ids.md (their
 * PeerIds and CIDs agree with other implementations' test suites), the
 * spec's text examples, rust-libp2p's --secret-key-seed peers, parsing and
 * validation rules. */
#include <string.h>

#include "p2p/p2p.h"
#include "testutil.h"

static const char RSA_PUB[] =
    "080012a60430820222300d06092a864886f70d01010105000382020f003082020a0282020100e1beab071d08200bde24"
    "eef00d049449b07770ff9910257b2d7d5dda242ce8f0e2f12e1af4b32d9efd2c090f66b0f29986dbb645dae988008970"
    "4a94e5066d594162ae6ee8892e6ec70701db0a6c445c04778eb3de1293aa1a23c3825b85c6620a2bc3f82f9b0c309bc0"
    "ab3aeb1873282bebd3da03c33e76c21e9beb172fd44c9e43be32e2c99827033cf8d0f0c606f4579326c930eb4e854395"
    "ad941256542c793902185153c474bed109d6ff5141ebf9cd256cf58893a37f83729f97e7cb435ec679d2e33901d27bb3"
    "5aa0d7e20561da08885ef0abbf8e2fb48d6a5487047a9ecb1ad41fa7ed84f6e3e8ecd5d98b3982d2a901b4454991766d"
    "a295ab78822add5612a2df83bcee814cf50973e80d7ef38111b1bd87da2ae92438a2c8cbcc70b31ee319939a3b9c761d"
    "bc13b5c086d6b64bf7ae7dacc14622375d92a8ff9af7eb962162bbddebf90acb32adb5e4e4029f1c96019949ecfbfeff"
    "d7ac1e3fbcc6b6168c34be3d5a2e5999fcbb39bba7adbca78eab09b9bc39f7fa4b93411f4cc175e70c0a083e96bfaefb"
    "04a9580b4753c1738a6a760ae1afd851a1a4bdad231cf56e9284d832483df215a46c1c21bdf0c6cfe951c18f1ee4078c"
    "79c13d63edb6e14feaeffabc90ad317e4875fe648101b0864097e998f0ca3025ef9638cd2b0caecd3770ab54a1d9c6ca"
    "959b0f5dcbc90caeefc4135baca6fd475224269bbe1b0203010001";

struct keyvec {
    const char *name;
    const char *pub_hex;   /* PublicKey protobuf */
    const char *peerid;
    const char *cid;
    bool inlined;          /* identity multihash */
};

static const struct keyvec KEYS[] = {
    { "ed25519", "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
      "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
      "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6", true },
    { "secp256k1", "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99",
      "16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY",
      "bafzaajiiaijcca3xo7uzjzcsyilaj6i54cj44qk7kqzpoao5rti2pjx6udtdbp6kte", true },
    { "ecdsa",
      "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8f5d530899d83"
      "abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec034e9"
      "f77c409e62",
      "QmVMT29id3TUASyfZZ6k9hmNyc2nYabCo4uMSpDw4zrgDk",
      "bafzbeidigywdclqvl5hxfefwp5onbffcfife7pza57mmfb4tiqmtkdjw64", false },
    { "rsa", RSA_PUB, "QmaeANgBs1DTSxWSrPPtobgQuxW8XTfsS4ydbK4rCHzqxG",
      "bafzbeifwzcumbiyql7bhv7fe7mixg6i7aohegq75k234m63bnw6dbicmzu", false },
};

static void decode_pub(const char *hex, p2p_pubkey *pub)
{
    uint8_t pb[P2P_PUBKEY_PB_MAX];
    int n = p2p_test_unhex(hex, pb, sizeof pb);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(p2p_pubkey_decode(pub, pb, (size_t)n), 0);
}

START_TEST(spec_key_vectors)
{
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++) {
        const struct keyvec *k = &KEYS[i];
        p2p_pubkey pub, back;
        p2p_peerid id, parsed;
        char s[P2P_PEERID_STRMAX];
        decode_pub(k->pub_hex, &pub);
        ck_assert_int_eq(p2p_peerid_from_pubkey(&id, &pub), 0);
        ck_assert_uint_eq(id.bytes[0], k->inlined ? P2P_MH_IDENTITY : P2P_MH_SHA2_256);
        ck_assert_int_eq(p2p_peerid_to_string(&id, s, sizeof s), (int)strlen(k->peerid));
        ck_assert_str_eq(s, k->peerid);
        ck_assert_int_eq(p2p_peerid_to_cid(&id, s, sizeof s), (int)strlen(k->cid));
        ck_assert_str_eq(s, k->cid);
        ck_assert_int_eq(p2p_peerid_parse(&parsed, k->peerid), 0);
        ck_assert(p2p_peerid_equal(&parsed, &id));
        ck_assert_int_eq(p2p_peerid_parse(&parsed, k->cid), 0);
        ck_assert(p2p_peerid_equal(&parsed, &id));
        ck_assert(p2p_peerid_matches(&id, &pub));
        ck_assert_int_eq(p2p_peerid_from_bytes(&parsed, id.bytes, id.len), 0);
        ck_assert(p2p_peerid_equal(&parsed, &id));
        if (k->inlined) {
            ck_assert_int_eq(p2p_peerid_pubkey(&id, &back), 0);
            ck_assert(p2p_pubkey_equal(&back, &pub));
        } else {
            ck_assert_int_eq(p2p_peerid_pubkey(&id, &back), P2P_ENOTFOUND);
        }
        for (size_t j = 0; j < sizeof KEYS / sizeof KEYS[0]; j++) {
            p2p_pubkey other;
            decode_pub(KEYS[j].pub_hex, &other);
            ck_assert(p2p_peerid_matches(&id, &other) == (i == j));
        }
    }
}
END_TEST

START_TEST(spec_text_examples)
{
    p2p_peerid a, b;
    char s[P2P_PEERID_STRMAX];
    /* The spec's sha256 example in both text forms. */
    ck_assert_int_eq(p2p_peerid_parse(&a, "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe"), 0);
    ck_assert_int_eq(p2p_peerid_parse(&b, "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"), 0);
    ck_assert(p2p_peerid_equal(&a, &b));
    ck_assert_int_gt(p2p_peerid_to_string(&a, s, sizeof s), 0);
    ck_assert_str_eq(s, "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N");
    ck_assert_int_gt(p2p_peerid_to_cid(&b, s, sizeof s), 0);
    ck_assert_str_eq(s, "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe");
    /* The spec's ed25519 example: an inlined key. */
    ck_assert_int_eq(p2p_peerid_parse(&a, "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"), 0);
    ck_assert_uint_eq(a.len, 38);
    p2p_pubkey pub;
    ck_assert_int_eq(p2p_peerid_pubkey(&a, &pub), 0);
    ck_assert_int_eq(pub.type, P2P_KEY_ED25519);
    ck_assert_uint_eq(pub.len, 32);
    ck_assert(p2p_peerid_matches(&a, &pub));
    /* The same peers as CIDs in base36 and base32 (go-multiaddr vectors). */
    ck_assert_int_eq(p2p_peerid_parse(&a, "k51qzi5uqu5dhb6l8spkdx7yxafegfkee5by8h7lmjh2ehc2sgg34z7c15vzqs"), 0);
    ck_assert_int_eq(p2p_peerid_parse(&b, "12D3KooWCryG7Mon9orvQxcS1rYZjotPgpwoJNHHKcLLfE4Hf5mV"), 0);
    ck_assert(p2p_peerid_equal(&a, &b));
    ck_assert_int_eq(p2p_peerid_parse(&a, "k2k4r8oqamigqdo6o7hsbfwd45y70oyynp98usk7zmyfrzpqxh1pohl7"), 0);
    ck_assert_int_eq(p2p_peerid_parse(&b, "QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC"), 0);
    ck_assert(p2p_peerid_equal(&a, &b));
}
END_TEST

START_TEST(seed_peers)
{
    /* rust-libp2p examples' --secret-key-seed N: the relay server with
     * seed 0 and the hole-punching listener with seed 1. */
    static const char *const want[] = {
        "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
        "12D3KooWPjceQrSwdWXPyLLeABRXmuqt69Rg3sBYbU1Nft9HyQ6X",
    };
    for (uint8_t n = 0; n < 2; n++) {
        p2p_keypair kp;
        p2p_pubkey pub;
        p2p_peerid id, parsed;
        char s[P2P_PEERID_STRMAX];
        p2p_keypair_from_seed_byte(&kp, n);
        p2p_keypair_public(&kp, &pub);
        ck_assert_int_eq(p2p_peerid_from_pubkey(&id, &pub), 0);
        ck_assert_int_gt(p2p_peerid_to_string(&id, s, sizeof s), 0);
        ck_assert_str_eq(s, want[n]);
        ck_assert_int_eq(p2p_peerid_parse(&parsed, want[n]), 0);
        ck_assert(p2p_peerid_matches(&parsed, &pub));
        p2p_keypair_wipe(&kp);
    }
}
END_TEST

START_TEST(spec_private_key)
{
    /* The spec's Ed25519 PrivateKey vector yields the PublicKey vector. */
    uint8_t pb[P2P_PRIVKEY_PB_LEN];
    int n = p2p_test_unhex("080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"
                           "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e", pb, sizeof pb);
    ck_assert_int_eq(n, P2P_PRIVKEY_PB_LEN);
    p2p_keypair kp;
    p2p_pubkey pub;
    p2p_peerid id;
    char s[P2P_PEERID_STRMAX];
    ck_assert_int_eq(p2p_privkey_decode(&kp, pb, (size_t)n), 0);
    p2p_keypair_public(&kp, &pub);
    ck_assert_int_eq(p2p_peerid_from_pubkey(&id, &pub), 0);
    ck_assert_int_gt(p2p_peerid_to_string(&id, s, sizeof s), 0);
    ck_assert_str_eq(s, "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
}
END_TEST

START_TEST(parse_invalid)
{
    static const char *const bad[] = {
        "", "1", "Q", "Qm", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5", /* one char short */
        "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N ", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5O",
        "QmxoHT6iViN5xAjoz1VZ553cL31U9F94ht3QvWR1FrEbZY",  /* sha2-256 with a 33-byte digest */
        "k2jmtxwoe2phm1hbqp0e7nufqf6umvuu2e9qd7ana7h411a0haqj6i2z",  /* CID codec 0x70 */
        "zQmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",  /* a CIDv0 is not a multibase CID */
        "xabc", "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqx",
        "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe=",
        "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SAA",
        "/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p2p_peerid id = { .len = 7 };
        ck_assert_msg(p2p_peerid_parse(&id, bad[i]) == P2P_EINVAL, "'%s' accepted", bad[i]);
        ck_assert_uint_eq(id.len, 7);
    }
    p2p_peerid id;
    ck_assert_int_eq(p2p_peerid_parse(&id, NULL), P2P_EINVAL);
    char big[300];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ck_assert_int_eq(p2p_peerid_parse(&id, big), P2P_EINVAL);
    big[0] = '1';
    ck_assert_int_eq(p2p_peerid_parse(&id, big), P2P_EINVAL);
}
END_TEST

START_TEST(from_bytes_rules)
{
    uint8_t b[128];
    p2p_peerid id;
    int n;
    /* sha2-256: exactly 32 bytes of digest. */
    n = p2p_test_unhex("12209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9", b, sizeof b);
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, b, (size_t)n), 0);
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, b, (size_t)n - 1), P2P_EINVAL);
    b[n] = 0;
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, b, (size_t)n + 1), P2P_EINVAL);
    b[1] = 31;
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, b, (size_t)n - 1), P2P_EINVAL);
    /* Other hash functions are not PeerIds (md5, sha2-512, sha3-256). */
    n = p2p_test_unhex("d501103858f62230ac3c915f300c664312c63f", b, sizeof b);
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, b, (size_t)n), P2P_EINVAL);
    n = p2p_test_unhex("1620" "9dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9", b, sizeof b);
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, b, (size_t)n), P2P_EINVAL);
    /* identity: must hold a valid key in canonical encoding, <= 42 bytes. */
    n = p2p_test_unhex("0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e", b, sizeof b);
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, b, (size_t)n), 0);
    b[6] ^= 0xff;   /* still 32 bytes: any ed25519 key data is structurally fine */
    b[3] = 0x09;    /* but an unknown key type is not */
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, b, (size_t)n), P2P_EINVAL);
    n = p2p_test_unhex("0024" "12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e" "0801", b, sizeof b);
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, b, (size_t)n), P2P_EINVAL);  /* fields swapped */
    n = p2p_test_unhex("0004deadbeef", b, sizeof b);
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, b, (size_t)n), P2P_EINVAL);
    n = p2p_test_unhex("0000", b, sizeof b);
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, b, (size_t)n), P2P_EINVAL);
    memset(b, 0, sizeof b);
    b[1] = 43;
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, b, 45), P2P_EINVAL);
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, b, 0), P2P_EINVAL);
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, NULL, 0), P2P_EINVAL);
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, b, sizeof b), P2P_EINVAL);
}
END_TEST

START_TEST(small_buffers)
{
    p2p_peerid id;
    ck_assert_int_eq(p2p_peerid_parse(&id, "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"), 0);
    char s[P2P_PEERID_STRMAX];
    int n = p2p_peerid_to_string(&id, s, sizeof s);
    ck_assert_int_eq(n, 52);
    ck_assert_int_eq(p2p_peerid_to_string(&id, s, 52), P2P_ERANGE);
    ck_assert_str_eq(s, "");
    ck_assert_int_eq(p2p_peerid_to_string(&id, s, 53), 52);
    n = p2p_peerid_to_cid(&id, s, sizeof s);
    ck_assert_int_eq(n, 65);
    ck_assert_int_eq(p2p_peerid_to_cid(&id, s, (size_t)n), P2P_ERANGE);
    ck_assert_str_eq(s, "");
    ck_assert_int_eq(p2p_peerid_to_string(&id, s, 0), P2P_ERANGE);
    /* An uninitialised-looking PeerId is refused, not read. */
    p2p_peerid bad = { .len = 0 };
    ck_assert_int_eq(p2p_peerid_to_string(&bad, s, sizeof s), P2P_EINVAL);
    bad.len = 200;
    ck_assert_int_eq(p2p_peerid_to_cid(&bad, s, sizeof s), P2P_EINVAL);
    ck_assert(!p2p_peerid_equal(&bad, &bad));
    /* The longest PeerIds fit in P2P_PEERID_STRMAX in both forms. */
    uint8_t mh[P2P_PEERID_MAX];
    memset(mh, 0xff, sizeof mh);
    memcpy(id.bytes, mh, sizeof mh);
    id.len = P2P_PEERID_MAX;
    ck_assert_int_gt(p2p_peerid_to_string(&id, s, sizeof s), 0);
    ck_assert_int_gt(p2p_peerid_to_cid(&id, s, sizeof s), 0);
}
END_TEST

/* The peer an address leads to is its last /p2p/ component: a circuit
 * address leads to its target, not to the relay. */
START_TEST(from_maddr)
{
    const char *relay = "12D3KooWLnZUpcaBwbz9uD1XsyyHnbXUrJRmxnsMiRnuCmvPix67";
    const char *target = "12D3KooWSc4sqhqpLkovxgABomuGt6Q4dc7jeyCon8dpbcVAvJHr";
    char text[512];
    p2p_multiaddr ma;
    p2p_peerid id, want;
    snprintf(text, sizeof text, "/ip4/127.0.0.1/tcp/4001/p2p/%s/p2p-circuit/p2p/%s", relay, target);
    ck_assert_int_eq(p2p_maddr_parse(&ma, text, NULL, 0), 0);
    ck_assert_int_eq(p2p_peerid_from_maddr(&id, &ma), 0);
    ck_assert_int_eq(p2p_peerid_parse(&want, target), 0);
    ck_assert(p2p_peerid_equal(&id, &want));
    snprintf(text, sizeof text, "/ip4/127.0.0.1/tcp/4001/p2p/%s", relay);
    ck_assert_int_eq(p2p_maddr_parse(&ma, text, NULL, 0), 0);
    ck_assert_int_eq(p2p_peerid_from_maddr(&id, &ma), 0);
    ck_assert_int_eq(p2p_peerid_parse(&want, relay), 0);
    ck_assert(p2p_peerid_equal(&id, &want));
    /* No peer at the end: the relay's id is not taken instead. */
    snprintf(text, sizeof text, "/ip4/127.0.0.1/tcp/4001/p2p/%s/p2p-circuit", relay);
    ck_assert_int_eq(p2p_maddr_parse(&ma, text, NULL, 0), 0);
    ck_assert_int_eq(p2p_peerid_from_maddr(&id, &ma), P2P_EINVAL);
    ck_assert_int_eq(p2p_maddr_parse(&ma, "/ip4/127.0.0.1/tcp/4001", NULL, 0), 0);
    ck_assert_int_eq(p2p_peerid_from_maddr(&id, &ma), P2P_EINVAL);
    memset(&ma, 0, sizeof ma);
    ck_assert_int_eq(p2p_peerid_from_maddr(&id, &ma), P2P_EINVAL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("peerid");
    TCase *tc = tcase_create("peerid");
    tcase_add_test(tc, spec_key_vectors);
    tcase_add_test(tc, spec_text_examples);
    tcase_add_test(tc, seed_peers);
    tcase_add_test(tc, from_maddr);
    tcase_add_test(tc, spec_private_key);
    tcase_add_test(tc, parse_invalid);
    tcase_add_test(tc, from_bytes_rules);
    tcase_add_test(tc, small_buffers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
