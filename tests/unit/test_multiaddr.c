/* Multiaddr text and binary forms. Vectors (data) from go-multiaddr
 * multiaddr_test.go, rust-multiaddr tests/lib.rs and the multiaddr spec's
 * test/multiaddr.feature. */
#include <string.h>

#include "p2p/p2p.h"
#include "testutil.h"

#define QMCG "QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC"
#define QMCG_HEX "A503221220D52EBB89D85B02A284948203A62FF28389C57C9F42BEEC4EC20DB76A68911C0B"
#define CERT_U "uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g"
#define CERT_HEX "D203221220C3AB8FF13720E8AD9047DD39466B3C8974E592C2FA383D4A3960714CAEF0C4F2"

/* Canonical text and its binary form: text -> bytes -> the same text. */
static const char *const CANONICAL[][2] = {
    { "/ip4/1.2.3.4", "0401020304" },
    { "/ip4/0.0.0.0", "0400000000" },
    { "/ip4/192.0.2.42/tcp/443", "04c000022a0601bb" },
    { "/ip6/::1", "2900000000000000000000000000000001" },
    { "/ip6/2601:9:4f81:9700:803e:ca65:66e8:c21", "29260100094F819700803ECA6566E80C21" },
    { "/ip6/fe80::9700:803e:ca65:66e8:c21/ip6zone/wlan0",
      "29FE80000000009700803ECA6566E80C212A05776C616E30" },
    { "/ip6zone/eth0/ip6/::1", "2A046574683029" "00000000000000000000000000000001" },
    { "/udp/0", "91020000" },
    { "/tcp/0", "060000" },
    { "/sctp/0", "84010000" },
    { "/udp/1234", "910204D2" },
    { "/tcp/1234", "0604D2" },
    { "/sctp/1234", "840104D2" },
    { "/udp/65535", "9102FFFF" },
    { "/tcp/65535", "06FFFF" },
    { "/p2p/" QMCG, QMCG_HEX },
    { "/udp/1234/sctp/1234", "910204D2840104D2" },
    { "/tcp/1234/http", "0604D2E003" },
    { "/tcp/1234/tls/http", "0604D2C003E003" },
    { "/tcp/1234/https", "0604D2BB03" },
    { "/p2p/" QMCG "/tcp/1234", QMCG_HEX "0604D2" },
    { "/ip4/127.0.0.1/udp/1234", "047F000001910204D2" },
    { "/ip4/127.0.0.1/udp/0", "047F00000191020000" },
    { "/ip4/127.0.0.1/tcp/1234", "047F0000010604D2" },
    { "/ip4/127.0.0.1/tcp/4321", "047f0000010610e1" },
    { "/ip4/127.0.0.1/udp/1234/ip4/127.0.0.1/tcp/4321", "047f000001910204d2047f0000010610e1" },
    { "/ip4/127.0.0.1/p2p/" QMCG, "047F000001" QMCG_HEX },
    { "/ip4/127.0.0.1/p2p/" QMCG "/tcp/1234", "047F000001" QMCG_HEX "0604D2" },
    { "/ip6/2001:8a0:7ac5:4201:3ac9:86ff:fe31:7095/tcp/8000/ws/p2p/" QMCG,
      "29200108A07AC542013AC986FFFE317095061F40DD03" QMCG_HEX },
    { "/ip6/2001:8a0:7ac5:4201:3ac9:86ff:fe31:7095/tcp/8000/wss/p2p/" QMCG,
      "29200108A07AC542013AC986FFFE317095061F40DE03" QMCG_HEX },
    { "/ip4/127.0.0.1/tcp/9090/p2p-circuit/p2p/" QMCG, "047F000001062382A202" QMCG_HEX },
    { "/dnsaddr/sjc-1.bootstrap.libp2p.io", "3819736A632D312E626F6F7473747261702E6C69627032702E696F" },
    { "/dnsaddr/sjc-1.bootstrap.libp2p.io/tcp/1234/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
      "3819736A632D312E626F6F7473747261702E6C69627032702E696F0604D2"
      "A50322122006B3608AA000274049EB28AD8E793A26FF6FAB281A7D3BD77CD18EB745DFAABB" },
    { "/ip4/127.0.0.1/tcp/127/ws", "047F00000106007FDD03" },
    { "/ip4/127.0.0.1/tcp/127/tls", "047F00000106007FC003" },
    { "/ip4/127.0.0.1/tcp/127/tls/ws", "047F00000106007FC003DD03" },
    { "/ip4/127.0.0.1/tcp/127/noise", "047F00000106007FC603" },
    { "/ip4/127.0.0.1/udp/1234/webrtc-direct", "047F000001910204D29802" },
    { "/ip4/127.0.0.1/udp/1234/webrtc-direct/certhash/" CERT_U, "047F000001910204D29802" CERT_HEX },
    { "/ip4/127.0.0.1/udp/1234/quic/webtransport", "047F000001910204D2CC03D103" },
    { "/ip4/127.0.0.1/udp/1234/webtransport/certhash/" CERT_U, "047F000001910204D2D103" CERT_HEX },
    { "/ip4/127.0.0.1/udp/1234/quic-v1/webtransport/certhash/" CERT_U,
      "047F000001910204D2CD03D103" CERT_HEX },
};

/* Accepted by go-multiaddr (and us), not necessarily in canonical form. */
static const char *const GOOD[] = {
    "/ip6zone/x/ip6/fe80::1",
    "/ip6zone/x%y/ip6/fe80::1",
    "/ip6zone/x%y/ip6/::",
    "/ip6zone/x/ip6/fe80::1/udp/1234/quic",
    "/ip6zone/x/ip6/fe80::1/udp/1234/quic-v1",
    "/ip6/::ffff:127.0.0.1/tcp/111",
    "/ipfs/" QMCG,
    "/ipfs/k2k4r8oqamigqdo6o7hsbfwd45y70oyynp98usk7zmyfrzpqxh1pohl7",
    "/p2p/k2k4r8oqamigqdo6o7hsbfwd45y70oyynp98usk7zmyfrzpqxh1pohl7",
    "/p2p/bafzbeigvf25ytwc3akrijfecaotc74udrhcxzh2cx3we5qqnw5vgrei4bm",
    "/p2p/12D3KooWCryG7Mon9orvQxcS1rYZjotPgpwoJNHHKcLLfE4Hf5mV",
    "/p2p/k51qzi5uqu5dhb6l8spkdx7yxafegfkee5by8h7lmjh2ehc2sgg34z7c15vzqs",
    "/p2p/bafzaajaiaejcalj543iwv2d7pkjt7ykvefrkfu7qjfi6sduakhso4lay6abn2d5u",
    "/ipfs/" QMCG "/tcp/1234",
    "/ip4/127.0.0.1/tcp/1234/",
    "/ip4/127.0.0.1/udp/1234/quic",
    "/ip4/127.0.0.1/udp/1234/quic-v1",
    "/ip4/127.0.0.1/udp/1234/quic-v1/webtransport",
    "/ip4/127.0.0.1/udp/1234/quic-v1/webtransport/certhash/b2uaraocy6yrdblb4sfptaddgimjmmpy",
    "/ip4/127.0.0.1/udp/1234/quic-v1/webtransport/certhash/b2uaraocy6yrdblb4sfptaddgimjmmpy"
    "/certhash/zQmbWTwYGcmdyK9CYfNBcfs9nhZs17a6FQ4Y8oea278xx41",
    "/ip4/127.0.0.1/ipfs/" QMCG "/tcp/1234",
    "/ip4/127.0.0.1/tcp/127/wss",
    "/ip4/127.0.0.1/tcp/127/webrtc-direct",
    "/ip4/127.0.0.1/tcp/127/webrtc",
    "/ip4/127.0.0.1/tcp/443/tls/sni/example.com/http",
    "/dns/example.com/tcp/443/wss",
    "/dns4/localhost/udp/4001/quic-v1",
    "/dns6/ip6-localhost/tcp/0",
    "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit",
    "/tcp/00080",
    "/ip4/1.2.3.4///",
};

/* Rejected by go-multiaddr and rust-multiaddr (the ones about protocols we
 * know, plus unknown ones), and our own stricter cases. */
static const char *const BAD[] = {
    "", "/", "//", "ip4/1.2.3.4", "//ip4/1.2.3.4", "/ip4//1.2.3.4/tcp/1",
    "/ip4", "/ip4/::1", "/ip4/fdpsofodsajfdoisa", "/ip4/1.2.3", "/ip4/1.2.3.4.5",
    "/ip4/256.1.1.1", "/ip4/01.2.3.4", "/ip4/1.2.3.4 ", "/IP4/1.2.3.4",
    "/ip6", "/ip6/1.2.3.4", "/ip6/fe80::1%eth0", "/ip6/:::", "/ip6zone", "/ip6zone/",
    "/ip6zone//ip6/fe80::1", "/ip6/fe80::9700:803e:ca65:66e8:c21/ip6zone",
    "/udp", "/tcp", "/sctp", "/dccp", "/udp/65536", "/tcp/65536", "/tcp/-1", "/tcp/+80",
    "/tcp/ 80", "/tcp/0x50", "/tcp/99999999999999999999999", "/quic/65536", "/quic-v1/65536",
    "/udp/1234/sctp", "/udp/1234/udt/1234", "/udp/1234/utp/1234",
    "/ip4/127.0.0.1/udp/jfodsajfidosajfoidsa", "/ip4/127.0.0.1/udp",
    "/ip4/127.0.0.1/tcp/jfodsajfidosajfoidsa", "/ip4/127.0.0.1/tcp",
    "/ip4/127.0.0.1/quic/1234", "/ip4/127.0.0.1/quic-v1/1234",
    "/ip4/127.0.0.1/udp/1234/quic-v1/webtransport/certhash",
    "/ip4/127.0.0.1/udp/1234/quic-v1/webtransport/certhash/b2uaraocy6yrdblb4sfptaddgimjmmp",
    "/certhash/xyz", "/certhash/u", "/certhash/f1220",
    "/ip4/127.0.0.1/ipfs", "/ip4/127.0.0.1/ipfs/tcp", "/ip4/127.0.0.1/p2p", "/ip4/127.0.0.1/p2p/tcp",
    "/unix", "/unix/a/b", "/ip4/1.2.3.4/tcp/80/unix", "/onion/timaq4ygg2iegci7:1234",
    "/ip4/127.0.0.1/tcp/9090/http/p2p-webcrt-direct", "/p2p-circuit/50",
    "/p2p/QmxoHT6iViN5xAjoz1VZ553cL31U9F94ht3QvWR1FrEbZY",  /* sha256 digest of 33 bytes */
    "/p2p/k2k4r8oqamigqdo6o7hsbfwd45y70oyynp98usk7zmyfrzpqxh1pohl-",
    "/p2p/?unknownmultibase",
    "/p2p/k2jmtxwoe2phm1hbqp0e7nufqf6umvuu2e9qd7ana7h411a0haqj6i2z", /* CID codec not libp2p-key */
    "/dns", "/dns//tcp/1", "/sni", "/dnsaddr",
};

/* Binary forms that must be rejected. */
static const char *const BAD_BYTES[] = {
    "01020304",            /* code 1 is unknown (rust from_bytes_fail) */
    "a503221221c05877cbae039d70a5e600ea02c6f9f2942439285c9e344e26f8d280c850fad6",
    "04010203",            /* ip4 value truncated */
    "06", "0604",          /* tcp value missing or truncated */
    "a5",                  /* code varint truncated */
    "8000",                /* non-minimal code varint */
    "a503",                /* p2p without length */
    "a50322" "1220",       /* p2p value truncated */
    "3800",                /* empty dnsaddr */
    "38032f6162",          /* dns name with '/' */
    "3803610062",          /* dns name with NUL */
    "d20303000200",        /* certhash: multihash truncated */
    "d2030412200000",      /* certhash: sha2-256 digest truncated */
    "a503060004deadbeef",  /* p2p identity that is not a public key */
    "a5030400020000",      /* p2p identity, garbage */
    "a5032212210000000000000000000000000000000000000000000000000000000000000000",
    "a503ffffffffffffffff7f", /* absurd length */
    "0601bbff",            /* trailing truncated varint */
    "0601bb" "0401",       /* trailing truncated component */
};

START_TEST(canonical_vectors)
{
    for (size_t i = 0; i < sizeof CANONICAL / sizeof CANONICAL[0]; i++) {
        const char *text = CANONICAL[i][0];
        uint8_t want[P2P_MADDR_MAX];
        int n = p2p_test_unhex(CANONICAL[i][1], want, sizeof want);
        ck_assert_int_gt(n, 0);
        p2p_multiaddr ma, mb;
        char err[256] = "", out[P2P_MADDR_STRMAX];
        ck_assert_msg(p2p_maddr_parse(&ma, text, err, sizeof err) == 0, "%s: %s", text, err);
        ck_assert_uint_eq(ma.len, (unsigned)n);
        ck_assert_mem_eq(ma.bytes, want, (size_t)n);
        ck_assert_int_eq(p2p_maddr_to_string(&ma, out, sizeof out), (int)strlen(text));
        ck_assert_str_eq(out, text);
        ck_assert_msg(p2p_maddr_from_bytes(&mb, want, (size_t)n, err, sizeof err) == 0, "%s: %s", text, err);
        ck_assert(p2p_maddr_equal(&ma, &mb));
    }
}
END_TEST

START_TEST(good_strings)
{
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++) {
        p2p_multiaddr ma, mb;
        char err[256] = "", out[P2P_MADDR_STRMAX];
        ck_assert_msg(p2p_maddr_parse(&ma, GOOD[i], err, sizeof err) == 0, "%s: %s", GOOD[i], err);
        /* text -> bytes -> text -> bytes is stable. */
        ck_assert_int_gt(p2p_maddr_to_string(&ma, out, sizeof out), 0);
        ck_assert_msg(p2p_maddr_parse(&mb, out, err, sizeof err) == 0, "%s: %s", out, err);
        ck_assert(p2p_maddr_equal(&ma, &mb));
        ck_assert_int_eq(p2p_maddr_from_bytes(&mb, ma.bytes, ma.len, NULL, 0), 0);
    }
}
END_TEST

START_TEST(bad_strings)
{
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        p2p_multiaddr ma = { .len = 3, .bytes = { 1, 2, 3 } };
        char err[256] = "";
        int rc = p2p_maddr_parse(&ma, BAD[i], err, sizeof err);
        ck_assert_msg(rc == P2P_EINVAL, "'%s' gave %d", BAD[i], rc);
        ck_assert_msg(err[0] != 0, "'%s': no reason", BAD[i]);
        ck_assert_uint_eq(ma.len, 3);  /* untouched on error */
        ck_assert_int_eq(p2p_maddr_parse(&ma, BAD[i], NULL, 0), P2P_EINVAL);
    }
}
END_TEST

START_TEST(bad_bytes)
{
    for (size_t i = 0; i < sizeof BAD_BYTES / sizeof BAD_BYTES[0]; i++) {
        uint8_t b[P2P_MADDR_MAX];
        int n = p2p_test_unhex(BAD_BYTES[i], b, sizeof b);
        ck_assert_int_gt(n, 0);
        p2p_multiaddr ma;
        char err[256] = "";
        ck_assert_msg(p2p_maddr_from_bytes(&ma, b, (size_t)n, err, sizeof err) == P2P_EINVAL,
                      "%s accepted", BAD_BYTES[i]);
        ck_assert_msg(err[0] != 0, "%s: no reason", BAD_BYTES[i]);
    }
    p2p_multiaddr ma;
    uint8_t b[P2P_MADDR_MAX + 1] = { 0 };
    ck_assert_int_eq(p2p_maddr_from_bytes(&ma, b, 0, NULL, 0), P2P_EINVAL);
    ck_assert_int_eq(p2p_maddr_from_bytes(&ma, NULL, 0, NULL, 0), P2P_EINVAL);
    ck_assert_int_eq(p2p_maddr_from_bytes(&ma, b, sizeof b, NULL, 0), P2P_ERANGE);
}
END_TEST

static void expect_err(const char *text, const char *reason)
{
    p2p_multiaddr ma;
    char err[256] = "";
    ck_assert_int_ne(p2p_maddr_parse(&ma, text, err, sizeof err), 0);
    ck_assert_msg(strstr(err, reason) != NULL, "'%s': got '%s', want '%s'", text, err, reason);
}

START_TEST(error_messages)
{
    expect_err("/ip4/1.2.3", "bad ip4 address '1.2.3'");
    expect_err("/foo/1", "unknown protocol 'foo'");
    expect_err("/tcp", "missing value for tcp");
    expect_err("/ip4/1.2.3.4/tcp/", "missing value for tcp");
    expect_err("/tcp/70000", "bad port '70000'");
    expect_err("/ip6/zz::", "bad ip6 address 'zz::'");
    expect_err("", "empty multiaddr");
    expect_err("/", "empty multiaddr");
    expect_err("ip4/1.2.3.4", "begin with '/'");
    expect_err("/dns//tcp/1", "empty value for dns");
    expect_err("/p2p/QmNope", "bad peer id 'QmNope'");
    expect_err("/certhash/xyz", "bad certhash 'xyz'");
    expect_err("/ip4//1.2.3.4", "bad ip4 address ''");
    expect_err("/ip4/1.2.3.4//tcp/1", "empty protocol name");

    uint8_t b[4] = { 0x01, 0x02, 0x03, 0x04 };
    p2p_multiaddr ma;
    char err[256] = "";
    ck_assert_int_eq(p2p_maddr_from_bytes(&ma, b, 4, err, sizeof err), P2P_EINVAL);
    ck_assert_str_eq(err, "unknown protocol code 1 at byte 0");
}
END_TEST

START_TEST(aliases_and_equivalents)
{
    /* /ipfs is read as /p2p; base36 and base32 CIDs name the same peers
     * as their base58btc forms. */
    static const char *const same[][2] = {
        { "/ipfs/QmbHVEEepCi7rn7VL7Exxpd2Ci9NNB6ifvqwhsrbRMgQFP", "/p2p/QmbHVEEepCi7rn7VL7Exxpd2Ci9NNB6ifvqwhsrbRMgQFP" },
        { "/p2p/k2k4r8oqamigqdo6o7hsbfwd45y70oyynp98usk7zmyfrzpqxh1pohl7", "/p2p/" QMCG },
        { "/p2p/bafzbeigvf25ytwc3akrijfecaotc74udrhcxzh2cx3we5qqnw5vgrei4bm", "/p2p/" QMCG },
        { "/p2p/k51qzi5uqu5dhb6l8spkdx7yxafegfkee5by8h7lmjh2ehc2sgg34z7c15vzqs",
          "/p2p/12D3KooWCryG7Mon9orvQxcS1rYZjotPgpwoJNHHKcLLfE4Hf5mV" },
        { "/p2p/bafzaajaiaejcalj543iwv2d7pkjt7ykvefrkfu7qjfi6sduakhso4lay6abn2d5u",
          "/p2p/12D3KooWCryG7Mon9orvQxcS1rYZjotPgpwoJNHHKcLLfE4Hf5mV" },
        { "/ip4/127.0.0.1/tcp/1234/", "/ip4/127.0.0.1/tcp/1234" },
        { "/tcp/00080", "/tcp/80" },
        { "/certhash/zQmbWTwYGcmdyK9CYfNBcfs9nhZs17a6FQ4Y8oea278xx41", "/certhash/" CERT_U },
        { "/certhash/b2uaraocy6yrdblb4sfptaddgimjmmpy", "/certhash/u1QEQOFj2IjCsPJFfMAxmQxLGPw" },
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        p2p_multiaddr a, b;
        char out[P2P_MADDR_STRMAX];
        ck_assert_int_eq(p2p_maddr_parse(&a, same[i][0], NULL, 0), 0);
        ck_assert_int_eq(p2p_maddr_parse(&b, same[i][1], NULL, 0), 0);
        ck_assert(p2p_maddr_equal(&a, &b));
        ck_assert_int_gt(p2p_maddr_to_string(&a, out, sizeof out), 0);
        ck_assert_str_eq(out, same[i][1]);
    }
}
END_TEST

START_TEST(dns_bytes_round_trip)
{
    /* go-multiaddr TestDNS: "7*000..." is dns6 with a 42-byte name. */
    const char *raw = "7*000000000000000000000000000000000000000000";
    p2p_multiaddr a, b;
    char out[P2P_MADDR_STRMAX];
    ck_assert_int_eq(p2p_maddr_from_bytes(&a, (const uint8_t *)raw, strlen(raw), NULL, 0), 0);
    ck_assert_int_gt(p2p_maddr_to_string(&a, out, sizeof out), 0);
    ck_assert_str_eq(out, "/dns6/000000000000000000000000000000000000000000");
    ck_assert_int_eq(p2p_maddr_parse(&b, out, NULL, 0), 0);
    ck_assert(p2p_maddr_equal(&a, &b));
}
END_TEST

START_TEST(iterate_and_find)
{
    p2p_multiaddr ma;
    ck_assert_int_eq(p2p_maddr_parse(&ma, "/ip4/127.0.0.1/tcp/1234/ws/p2p/" QMCG, NULL, 0), 0);
    static const uint32_t codes[] = { P2P_MA_IP4, P2P_MA_TCP, P2P_MA_WS, P2P_MA_P2P };
    static const char *const names[] = { "ip4", "tcp", "ws", "p2p" };
    static const size_t lens[] = { 4, 2, 0, 34 };
    size_t off = 0, i = 0;
    struct p2p_maddr_component c;
    while (p2p_maddr_next(&ma, &off, &c)) {
        ck_assert_uint_lt(i, 4);
        ck_assert_uint_eq(c.code, codes[i]);
        ck_assert_str_eq(c.name, names[i]);
        ck_assert_uint_eq(c.value_len, lens[i]);
        i++;
    }
    ck_assert_uint_eq(i, 4);
    ck_assert_uint_eq(off, ma.len);
    ck_assert_int_eq(p2p_maddr_find(&ma, P2P_MA_TCP, &c), 1);
    ck_assert_mem_eq(c.value, "\x04\xd2", 2);
    ck_assert_int_eq(p2p_maddr_find(&ma, P2P_MA_IP4, &c), 1);
    ck_assert_mem_eq(c.value, "\x7f\x00\x00\x01", 4);
    ck_assert_int_eq(p2p_maddr_find(&ma, P2P_MA_P2P, &c), 1);
    p2p_peerid id, want;
    ck_assert_int_eq(p2p_peerid_from_bytes(&id, c.value, c.value_len), 0);
    ck_assert_int_eq(p2p_peerid_parse(&want, QMCG), 0);
    ck_assert(p2p_peerid_equal(&id, &want));
    ck_assert_int_eq(p2p_maddr_find(&ma, P2P_MA_UDP, &c), 0);
    ck_assert_int_eq(p2p_maddr_find(&ma, P2P_MA_WS, NULL), 1);

    /* A damaged multiaddr ends the iteration instead of overrunning. */
    ma.len = 5 + 2;   /* ip4 plus half a tcp component */
    off = 0;
    ck_assert_int_eq(p2p_maddr_next(&ma, &off, &c), 1);
    ck_assert_int_eq(p2p_maddr_next(&ma, &off, &c), 0);
}
END_TEST

START_TEST(push_pop_encapsulate)
{
    p2p_multiaddr ma = { 0 }, want, tail;
    char out[P2P_MADDR_STRMAX];
    ck_assert_int_eq(p2p_maddr_push(&ma, P2P_MA_IP4, (const uint8_t *)"\x01\x02\x03\x04", 4), 0);
    ck_assert_int_eq(p2p_maddr_push(&ma, P2P_MA_TCP, (const uint8_t *)"\x00\x50", 2), 0);
    ck_assert_int_eq(p2p_maddr_push(&ma, P2P_MA_DNS, (const uint8_t *)"a.b", 3), 0);
    ck_assert_int_eq(p2p_maddr_push(&ma, P2P_MA_QUIC_V1, NULL, 0), 0);
    ck_assert_int_eq(p2p_maddr_parse(&want, "/ip4/1.2.3.4/tcp/80/dns/a.b/quic-v1", NULL, 0), 0);
    ck_assert(p2p_maddr_equal(&ma, &want));

    p2p_multiaddr before = ma;
    ck_assert_int_eq(p2p_maddr_push(&ma, P2P_MA_IP4, (const uint8_t *)"\x01\x02\x03", 3), P2P_EINVAL);
    ck_assert_int_eq(p2p_maddr_push(&ma, P2P_MA_WS, (const uint8_t *)"x", 1), P2P_EINVAL);
    ck_assert_int_eq(p2p_maddr_push(&ma, 0x99, NULL, 0), P2P_EINVAL);
    ck_assert_int_eq(p2p_maddr_push(&ma, P2P_MA_DNS, (const uint8_t *)"a/b", 3), P2P_EINVAL);
    ck_assert_int_eq(p2p_maddr_push(&ma, P2P_MA_DNS, (const uint8_t *)"", 0), P2P_EINVAL);
    ck_assert_int_eq(p2p_maddr_push(&ma, P2P_MA_P2P, (const uint8_t *)"\x00\x01x", 3), P2P_EINVAL);
    ck_assert_int_eq(p2p_maddr_push(&ma, P2P_MA_CERTHASH, (const uint8_t *)"\x12\x01x", 3), P2P_EINVAL);
    ck_assert(p2p_maddr_equal(&ma, &before));

    ck_assert_int_eq(p2p_maddr_pop(&ma), P2P_MA_QUIC_V1);
    ck_assert_int_eq(p2p_maddr_pop(&ma), P2P_MA_DNS);
    ck_assert_int_eq(p2p_maddr_to_string(&ma, out, sizeof out), 19);
    ck_assert_str_eq(out, "/ip4/1.2.3.4/tcp/80");

    ck_assert_int_eq(p2p_maddr_parse(&tail, "/p2p-circuit/p2p/" QMCG, NULL, 0), 0);
    ck_assert_int_eq(p2p_maddr_encapsulate(&ma, &tail), 0);
    ck_assert_int_gt(p2p_maddr_to_string(&ma, out, sizeof out), 0);
    ck_assert_str_eq(out, "/ip4/1.2.3.4/tcp/80/p2p-circuit/p2p/" QMCG);
    ck_assert_int_eq(p2p_maddr_encapsulate(&ma, &ma), 0);  /* self-append */
    ck_assert_uint_eq(ma.len, 2 * (8 + 2 + 37));

    tail.len = 1;
    tail.bytes[0] = 0x01;  /* unknown code */
    ck_assert_int_eq(p2p_maddr_encapsulate(&ma, &tail), P2P_EINVAL);

    int popped = 0;
    while (p2p_maddr_pop(&ma) > 0) popped++;
    ck_assert_int_eq(popped, 8);
    ck_assert_uint_eq(ma.len, 0);
    ck_assert_int_eq(p2p_maddr_pop(&ma), P2P_ENOTFOUND);
    ck_assert_int_eq(p2p_maddr_to_string(&ma, out, sizeof out), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(size_limits)
{
    /* dns with a 509-byte name: 1 (code) + 2 (length) + 509 = 512 bytes. */
    char text[700] = "/dns/";
    memset(text + 5, 'a', 509);
    text[5 + 509] = 0;
    p2p_multiaddr ma, other;
    char err[256], out[P2P_MADDR_STRMAX];
    ck_assert_int_eq(p2p_maddr_parse(&ma, text, err, sizeof err), 0);
    ck_assert_uint_eq(ma.len, P2P_MADDR_MAX);
    ck_assert_int_eq(p2p_maddr_push(&ma, P2P_MA_WS, NULL, 0), P2P_ERANGE);
    ck_assert_int_eq(p2p_maddr_parse(&other, "/ws", NULL, 0), 0);
    ck_assert_int_eq(p2p_maddr_encapsulate(&ma, &other), P2P_ERANGE);
    ck_assert_uint_eq(ma.len, P2P_MADDR_MAX);
    strcat(text, "a");
    ck_assert_int_eq(p2p_maddr_parse(&ma, text, err, sizeof err), P2P_ERANGE);
    ck_assert_ptr_nonnull(strstr(err, "too long"));

    /* The worst text/binary ratio still fits in P2P_MADDR_STRMAX. */
    ma.len = 0;
    while (p2p_maddr_push(&ma, P2P_MA_WEBRTC_DIRECT, NULL, 0) == 0) {}
    ck_assert_uint_eq(ma.len, P2P_MADDR_MAX);
    int n = p2p_maddr_to_string(&ma, out, sizeof out);
    ck_assert_int_eq(n, 256 * 14);
    ck_assert_int_eq(p2p_maddr_parse(&other, out, NULL, 0), 0);
    ck_assert(p2p_maddr_equal(&ma, &other));

    /* Too small a buffer: P2P_ERANGE and an empty string. */
    ck_assert_int_eq(p2p_maddr_parse(&ma, "/ip4/1.2.3.4/tcp/80/p2p/" QMCG, NULL, 0), 0);
    n = p2p_maddr_to_string(&ma, out, sizeof out);
    ck_assert_int_gt(n, 0);
    for (size_t cap = 0; cap <= (size_t)n; cap++) {
        char small[128];
        memset(small, 'x', sizeof small);
        ck_assert_int_eq(p2p_maddr_to_string(&ma, small, cap), P2P_ERANGE);
        if (cap) ck_assert_str_eq(small, "");
    }
    ck_assert_int_eq(p2p_maddr_to_string(&ma, out, (size_t)n + 1), n);
}
END_TEST

START_TEST(proto_names)
{
    ck_assert_str_eq(p2p_maddr_proto_name(P2P_MA_IP4), "ip4");
    ck_assert_str_eq(p2p_maddr_proto_name(P2P_MA_P2P), "p2p");
    ck_assert_str_eq(p2p_maddr_proto_name(P2P_MA_QUIC_V1), "quic-v1");
    ck_assert_str_eq(p2p_maddr_proto_name(P2P_MA_CERTHASH), "certhash");
    ck_assert_str_eq(p2p_maddr_proto_name(P2P_MA_HTTPS), "https");
    ck_assert_str_eq(p2p_maddr_proto_name(P2P_MA_P2P_CIRCUIT), "p2p-circuit");
    ck_assert_ptr_null(p2p_maddr_proto_name(0x0190));  /* unix */
    ck_assert_ptr_null(p2p_maddr_proto_name(0));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("multiaddr");
    TCase *tc = tcase_create("multiaddr");
    tcase_add_test(tc, canonical_vectors);
    tcase_add_test(tc, good_strings);
    tcase_add_test(tc, bad_strings);
    tcase_add_test(tc, bad_bytes);
    tcase_add_test(tc, error_messages);
    tcase_add_test(tc, aliases_and_equivalents);
    tcase_add_test(tc, dns_bytes_round_trip);
    tcase_add_test(tc, iterate_and_find);
    tcase_add_test(tc, push_pop_encapsulate);
    tcase_add_test(tc, size_limits);
    tcase_add_test(tc, proto_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
