/* base58btc, base32, multibase (vectors from multiformats/multibase
 * tests/ CSV files, RFC 4648 and the base58 draft) and multihash. */
#include <string.h>

#include "p2p/p2p.h"
#include "testutil.h"

struct b58vec {
    const char *hex;
    const char *text;
};

static const struct b58vec B58[] = {
    { "", "" },
    { "00", "1" },
    { "0000", "11" },
    { "48656c6c6f20576f726c6421", "2NEpo7TZRRrLZSi2U" },                 /* "Hello World!" */
    { "0000287fb4cd", "11233QC4" },
    { "54686520717569636b2062726f776e20666f78206a756d7073206f76657220746865206c617a7920646f672e",
      "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z" },
    { "1220d52ebb89d85b02a284948203a62ff28389c57c9f42beec4ec20db76a68911c0b",
      "QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC" },
};

START_TEST(base58_vectors)
{
    for (size_t i = 0; i < sizeof B58 / sizeof B58[0]; i++) {
        uint8_t bin[128], dec[128];
        char txt[256];
        int n = p2p_test_unhex(B58[i].hex, bin, sizeof bin);
        ck_assert_int_ge(n, 0);
        int m = p2p_base58btc_encode(bin, (size_t)n, txt, sizeof txt);
        ck_assert_int_eq(m, (int)strlen(B58[i].text));
        ck_assert_str_eq(txt, B58[i].text);
        size_t dl = 999;
        ck_assert_int_eq(p2p_base58btc_decode(B58[i].text, strlen(B58[i].text), dec, sizeof dec, &dl), 0);
        ck_assert_uint_eq(dl, (size_t)n);
        ck_assert_mem_eq(dec, bin, (size_t)n);
        /* Exactly enough room works; one byte less does not. */
        ck_assert_int_eq(p2p_base58btc_encode(bin, (size_t)n, txt, (size_t)m + 1), m);
        ck_assert_int_eq(p2p_base58btc_encode(bin, (size_t)n, txt, (size_t)m), P2P_ERANGE);
        ck_assert_int_eq(p2p_base58btc_decode(B58[i].text, strlen(B58[i].text), dec, (size_t)n, &dl), 0);
        if (n > 0)
            ck_assert_int_eq(p2p_base58btc_decode(B58[i].text, strlen(B58[i].text), dec, (size_t)n - 1, &dl),
                             P2P_ERANGE);
    }
}
END_TEST

START_TEST(base58_invalid)
{
    static const char *const bad[] = { "0", "O", "I", "l", "+", "2NEpo7TZRRrLZSi2U ", "abc\x80" };
    uint8_t out[64];
    size_t n;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(p2p_base58btc_decode(bad[i], strlen(bad[i]), out, sizeof out, &n), P2P_EINVAL);
    /* An embedded NUL is outside the alphabet too. */
    ck_assert_int_eq(p2p_base58btc_decode("1\0" "1", 3, out, sizeof out, &n), P2P_EINVAL);
    /* A very long valid input fails quickly with ERANGE. */
    char big[4096];
    memset(big, 'z', sizeof big);
    ck_assert_int_eq(p2p_base58btc_decode(big, sizeof big, out, sizeof out, &n), P2P_ERANGE);
    memset(big, '1', sizeof big);
    ck_assert_int_eq(p2p_base58btc_decode(big, sizeof big, out, sizeof out, &n), P2P_ERANGE);
}
END_TEST

/* RFC 4648 section 10, lower case and without padding. */
static const char *const B32[][2] = {
    { "", "" }, { "f", "my" }, { "fo", "mzxq" }, { "foo", "mzxw6" },
    { "foob", "mzxw6yq" }, { "fooba", "mzxw6ytb" }, { "foobar", "mzxw6ytboi" },
};

START_TEST(base32_vectors)
{
    for (size_t i = 0; i < sizeof B32 / sizeof B32[0]; i++) {
        const char *plain = B32[i][0], *enc = B32[i][1];
        char txt[64];
        uint8_t dec[64];
        size_t dl;
        ck_assert_int_eq(p2p_base32_encode((const uint8_t *)plain, strlen(plain), txt, sizeof txt),
                         (int)strlen(enc));
        ck_assert_str_eq(txt, enc);
        ck_assert_int_eq(p2p_base32_decode(enc, strlen(enc), dec, sizeof dec, &dl), 0);
        ck_assert_uint_eq(dl, strlen(plain));
        ck_assert_mem_eq(dec, plain, dl);
        /* Upper case decodes to the same bytes. */
        char up[64];
        for (size_t k = 0; k <= strlen(enc); k++)
            up[k] = (char)(enc[k] >= 'a' && enc[k] <= 'z' ? enc[k] - 32 : enc[k]);
        ck_assert_int_eq(p2p_base32_decode(up, strlen(up), dec, sizeof dec, &dl), 0);
        ck_assert_mem_eq(dec, plain, dl);
        ck_assert_int_eq(p2p_base32_encode((const uint8_t *)plain, strlen(plain), txt, strlen(enc)),
                         P2P_ERANGE);
    }
}
END_TEST

START_TEST(base32_invalid)
{
    static const char *const bad[] = {
        "mz",          /* non-zero trailing bits ("my" is canonical) */
        "m",           /* one character: no whole byte */
        "mzx",         /* length 3 mod 8 */
        "mzxw6y",      /* length 6 mod 8 */
        "my======",    /* padding */
        "m1",          /* outside the alphabet */
        "m8",
    };
    uint8_t out[64];
    size_t n;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(p2p_base32_decode(bad[i], strlen(bad[i]), out, sizeof out, &n), P2P_EINVAL);
    ck_assert_int_eq(p2p_base32_decode("mzxw6ytboi", 10, out, 5, &n), P2P_ERANGE);
}
END_TEST

struct mbvec {
    const char *name;
    const char *text;
};

/* multiformats/multibase tests: basic.csv ("yes mani !"),
 * leading_zero.csv ("\0yes mani !") and two_leading_zeros.csv. */
static const struct mbvec MB_BASIC[] = {
    { "base16", "f796573206d616e692021" },   { "base16upper", "F796573206D616E692021" },
    { "base32", "bpfsxgidnmfxgsibb" },       { "base32upper", "BPFSXGIDNMFXGSIBB" },
    { "base36", "k2lcpzo5yikidynfl" },       { "base36upper", "K2LCPZO5YIKIDYNFL" },
    { "base58btc", "z7paNL19xttacUY" },      { "base64", "meWVzIG1hbmkgIQ" },
    { "base64url", "ueWVzIG1hbmkgIQ" },
};
static const struct mbvec MB_ZERO[] = {
    { "base16", "f00796573206d616e692021" }, { "base16upper", "F00796573206D616E692021" },
    { "base32", "bab4wk4zanvqw42jaee" },     { "base32upper", "BAB4WK4ZANVQW42JAEE" },
    { "base36", "k02lcpzo5yikidynfl" },      { "base36upper", "K02LCPZO5YIKIDYNFL" },
    { "base58btc", "z17paNL19xttacUY" },     { "base64", "mAHllcyBtYW5pICE" },
    { "base64url", "uAHllcyBtYW5pICE" },
};
static const struct mbvec MB_TWO_ZEROS[] = {
    { "base16", "f0000796573206d616e692021" }, { "base16upper", "F0000796573206D616E692021" },
    { "base32", "baaahszltebwwc3tjeaqq" },     { "base32upper", "BAAAHSZLTEBWWC3TJEAQQ" },
    { "base36", "k002lcpzo5yikidynfl" },       { "base36upper", "K002LCPZO5YIKIDYNFL" },
    { "base58btc", "z117paNL19xttacUY" },      { "base64", "mAAB5ZXMgbWFuaSAh" },
    { "base64url", "uAAB5ZXMgbWFuaSAh" },
};

static void check_mb(const struct mbvec *v, size_t count, const uint8_t *plain, size_t plen)
{
    for (size_t i = 0; i < count; i++) {
        uint8_t dec[64];
        size_t dl = 0;
        char txt[64];
        ck_assert_msg(p2p_multibase_decode(v[i].text, strlen(v[i].text), dec, sizeof dec, &dl) == 0,
                      "decode %s", v[i].name);
        ck_assert_uint_eq(dl, plen);
        ck_assert_mem_eq(dec, plain, plen);
        int n = p2p_multibase_encode(v[i].text[0], plain, plen, txt, sizeof txt);
        ck_assert_int_eq(n, (int)strlen(v[i].text));
        ck_assert_str_eq(txt, v[i].text);
    }
}

START_TEST(multibase_vectors)
{
    const char *plain = "\0\0yes mani !";
    check_mb(MB_BASIC, sizeof MB_BASIC / sizeof MB_BASIC[0], (const uint8_t *)plain + 2, 10);
    check_mb(MB_ZERO, sizeof MB_ZERO / sizeof MB_ZERO[0], (const uint8_t *)plain + 1, 11);
    check_mb(MB_TWO_ZEROS, sizeof MB_TWO_ZEROS / sizeof MB_TWO_ZEROS[0], (const uint8_t *)plain, 12);
}
END_TEST

START_TEST(multibase_case_insensitive)
{
    /* tests/case_insensitivity.csv: "hello world" */
    static const char *const v[] = {
        "f68656c6c6f20776F726C64", "F68656c6c6f20776F726C64", "bnbswy3dpeB3W64TMMQ",
        "Bnbswy3dpeB3W64TMMQ", "kfUvrsIvVnfRbjWaJo", "KfUVrSIVVnFRbJWAJo",
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t dec[64];
        size_t dl = 0;
        ck_assert_int_eq(p2p_multibase_decode(v[i], strlen(v[i]), dec, sizeof dec, &dl), 0);
        ck_assert_uint_eq(dl, 11);
        ck_assert_mem_eq(dec, "hello world", 11);
    }
}
END_TEST

START_TEST(multibase_errors)
{
    uint8_t out[64];
    size_t n;
    char txt[8];
    ck_assert_int_eq(p2p_multibase_decode("", 0, out, sizeof out, &n), P2P_EINVAL);
    ck_assert_int_eq(p2p_multibase_decode("Qm", 2, out, sizeof out, &n), P2P_EUNSUPPORTED);
    ck_assert_int_eq(p2p_multibase_decode("U", 1, out, sizeof out, &n), P2P_EUNSUPPORTED);
    ck_assert_int_eq(p2p_multibase_decode("f0", 2, out, sizeof out, &n), P2P_EINVAL);
    ck_assert_int_eq(p2p_multibase_decode("fzz", 3, out, sizeof out, &n), P2P_EINVAL);
    ck_assert_int_eq(p2p_multibase_decode("ueWVzIG1hbmkgIQ==", 17, out, sizeof out, &n), P2P_EINVAL);
    ck_assert_int_eq(p2p_multibase_decode("ueWVzIG1hbmkgIR", 15, out, sizeof out, &n), P2P_EINVAL);
    ck_assert_int_eq(p2p_multibase_decode("m+/", 3, out, sizeof out, &n), P2P_EINVAL);
    ck_assert_int_eq(p2p_multibase_decode("u-_", 3, out, sizeof out, &n), P2P_EINVAL);
    ck_assert_int_eq(p2p_multibase_decode("u-w", 3, out, sizeof out, &n), 0);
    ck_assert_int_eq(p2p_multibase_decode("m+w", 3, out, sizeof out, &n), 0);
    ck_assert_int_eq(p2p_multibase_decode("m-w", 3, out, sizeof out, &n), P2P_EINVAL);
    /* A bare prefix is the empty byte string. */
    ck_assert_int_eq(p2p_multibase_decode("z", 1, out, sizeof out, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(p2p_multibase_encode('x', (const uint8_t *)"a", 1, txt, sizeof txt), P2P_EUNSUPPORTED);
    ck_assert_int_eq(p2p_multibase_encode('f', (const uint8_t *)"abcd", 4, txt, sizeof txt), P2P_ERANGE);
    ck_assert_str_eq(txt, "");
    ck_assert_int_eq(p2p_multibase_encode('f', (const uint8_t *)"abc", 3, txt, sizeof txt), 7);
    ck_assert_str_eq(txt, "f616263");
}
END_TEST

START_TEST(multihash_parse)
{
    uint8_t b[80];
    struct p2p_multihash mh;
    size_t used;
    int n = p2p_test_unhex("1220d52ebb89d85b02a284948203a62ff28389c57c9f42beec4ec20db76a68911c0bff", b, sizeof b);
    ck_assert_int_eq(p2p_multihash_parse(b, (size_t)n, &mh, &used), 0);
    ck_assert_uint_eq(mh.code, P2P_MH_SHA2_256);
    ck_assert_uint_eq(mh.digest_len, 32);
    ck_assert_ptr_eq(mh.digest, b + 2);
    ck_assert_uint_eq(used, 34);
    ck_assert_int_eq(p2p_multihash_parse_exact(b, (size_t)n, &mh), P2P_EINVAL);
    ck_assert_int_eq(p2p_multihash_parse_exact(b, 34, &mh), 0);
    ck_assert_int_eq(p2p_multihash_parse(b, 33, &mh, &used), P2P_ETRUNC);
    ck_assert_int_eq(p2p_multihash_parse(b, 1, &mh, &used), P2P_ETRUNC);
    ck_assert_int_eq(p2p_multihash_parse(b, 0, &mh, &used), P2P_ETRUNC);
    /* sha2-256 with a 33-byte digest (go-multiaddr's invalid p2p vector). */
    b[1] = 0x21;
    ck_assert_int_eq(p2p_multihash_parse(b, (size_t)n, &mh, &used), P2P_EINVAL);
    /* Non-minimal code varint. */
    n = p2p_test_unhex("800000", b, sizeof b);
    ck_assert_int_eq(p2p_multihash_parse(b, (size_t)n, &mh, &used), P2P_EPROTO);
    /* Huge length: truncated, not an overflow. */
    n = p2p_test_unhex("00ffffffffffffffff7f00", b, sizeof b);
    ck_assert_int_eq(p2p_multihash_parse(b, (size_t)n, &mh, &used), P2P_ETRUNC);
    /* Unknown codes are accepted structurally. */
    n = p2p_test_unhex("d5010201ff", b, sizeof b);
    ck_assert_int_eq(p2p_multihash_parse_exact(b, (size_t)n, &mh), 0);
    ck_assert_uint_eq(mh.code, 0xd5);
    ck_assert_uint_eq(mh.digest_len, 2);
    /* Empty identity. */
    ck_assert_int_eq(p2p_multihash_parse_exact((const uint8_t *)"\0\0", 2, &mh), 0);
    ck_assert_uint_eq(mh.digest_len, 0);
}
END_TEST

START_TEST(multihash_make)
{
    uint8_t out[160], want[40];
    p2p_multihash_sha256((const uint8_t *)"abc", 3, out);
    p2p_test_unhex("1220ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, sizeof want);
    ck_assert_mem_eq(out, want, 34);
    p2p_multihash_sha256(NULL, 0, out);
    p2p_test_unhex("1220e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, sizeof want);
    ck_assert_mem_eq(out, want, 34);
    ck_assert_int_eq(p2p_multihash_identity((const uint8_t *)"hi", 2, out, sizeof out), 4);
    ck_assert_mem_eq(out, "\x00\x02hi", 4);
    ck_assert_int_eq(p2p_multihash_identity((const uint8_t *)"hi", 2, out, 3), P2P_ERANGE);
    uint8_t big[128] = { 0 };
    ck_assert_int_eq(p2p_multihash_identity(big, 127, out, sizeof out), 129);
    ck_assert_int_eq(p2p_multihash_identity(big, 128, out, sizeof out), P2P_ERANGE);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("multibase");
    TCase *tc = tcase_create("multibase");
    tcase_add_test(tc, base58_vectors);
    tcase_add_test(tc, base58_invalid);
    tcase_add_test(tc, base32_vectors);
    tcase_add_test(tc, base32_invalid);
    tcase_add_test(tc, multibase_vectors);
    tcase_add_test(tc, multibase_case_insensitive);
    tcase_add_test(tc, multibase_errors);
    tcase_add_test(tc, multihash_parse);
    tcase_add_test(tc, multihash_make);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
