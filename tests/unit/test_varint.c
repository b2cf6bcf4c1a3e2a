/* Unsigned varint: vectors from multiformats/unsigned-varint, minimality,
 * truncation, limits. */
#include <string.h>

#include "p2p/p2p.h"
#include "testutil.h"

struct vec {
    uint64_t v;
    const char *hex;
};

/* From the unsigned-varint spec README, plus the 9-byte limit. */
static const struct vec VECTORS[] = {
    { 0, "00" },
    { 1, "01" },
    { 127, "7f" },
    { 128, "8001" },
    { 255, "ff01" },
    { 300, "ac02" },
    { 16384, "808001" },
    { UINT64_C(0x01a5), "a503" },       /* multiaddr p2p code */
    { UINT64_C(0x7fffffffffffffff), "ffffffffffffffff7f" },
    { UINT64_C(1) << 56, "808080808080808001" },
};

START_TEST(encode_vectors)
{
    for (size_t i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++) {
        uint8_t want[16], got[P2P_VARINT_MAX_BYTES];
        int n = p2p_test_unhex(VECTORS[i].hex, want, sizeof want);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(p2p_varint_encode(VECTORS[i].v, got), n);
        ck_assert_uint_eq(p2p_varint_size(VECTORS[i].v), (size_t)n);
        ck_assert_mem_eq(got, want, (size_t)n);
    }
}
END_TEST

START_TEST(decode_vectors)
{
    for (size_t i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++) {
        uint8_t in[16];
        int n = p2p_test_unhex(VECTORS[i].hex, in, sizeof in);
        /* Trailing bytes after the varint are not consumed. */
        in[n] = 0xff;
        in[n + 1] = 0x01;
        uint64_t v = 0;
        size_t used = 0;
        ck_assert_int_eq(p2p_varint_decode(in, (size_t)n + 2, &v, &used), 0);
        ck_assert_uint_eq(v, VECTORS[i].v);
        ck_assert_uint_eq(used, (size_t)n);
        /* NULL outputs are allowed. */
        ck_assert_int_eq(p2p_varint_decode(in, (size_t)n, NULL, NULL), 0);
    }
}
END_TEST

START_TEST(too_large)
{
    uint8_t out[P2P_VARINT_MAX_BYTES];
    ck_assert_int_eq(p2p_varint_encode(P2P_VARINT_MAX_VALUE + 1, out), P2P_ERANGE);
    ck_assert_int_eq(p2p_varint_encode(UINT64_MAX, out), P2P_ERANGE);
    ck_assert_uint_eq(p2p_varint_size(P2P_VARINT_MAX_VALUE), 9);
}
END_TEST

START_TEST(non_minimal)
{
    static const char *const bad[] = {
        "8000",                 /* 0 in two bytes */
        "ff00",                 /* 127 in two bytes */
        "818000",               /* 1 in three bytes */
        "808080808080808000",   /* 0 in nine bytes */
        "ac8200",               /* 300 with a zero group */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t in[16];
        int n = p2p_test_unhex(bad[i], in, sizeof in);
        ck_assert_int_gt(n, 0);
        uint64_t v;
        size_t used;
        ck_assert_int_eq(p2p_varint_decode(in, (size_t)n, &v, &used), P2P_EPROTO);
    }
}
END_TEST

START_TEST(too_long)
{
    /* Nine bytes that all continue: a tenth would be needed. */
    uint8_t in[12];
    memset(in, 0x80, sizeof in);
    uint64_t v;
    size_t used;
    ck_assert_int_eq(p2p_varint_decode(in, 9, &v, &used), P2P_EPROTO);
    ck_assert_int_eq(p2p_varint_decode(in, sizeof in, &v, &used), P2P_EPROTO);
    memset(in, 0xff, sizeof in);
    in[9] = 0x01;
    ck_assert_int_eq(p2p_varint_decode(in, sizeof in, &v, &used), P2P_EPROTO);
}
END_TEST

START_TEST(truncated)
{
    uint8_t in[9];
    memset(in, 0xff, sizeof in);
    uint64_t v;
    size_t used;
    ck_assert_int_eq(p2p_varint_decode(in, 0, &v, &used), P2P_ETRUNC);
    ck_assert_int_eq(p2p_varint_decode(NULL, 0, &v, &used), P2P_ETRUNC);
    for (size_t n = 1; n < 9; n++)
        ck_assert_int_eq(p2p_varint_decode(in, n, &v, &used), P2P_ETRUNC);
    in[0] = 0x80;
    ck_assert_int_eq(p2p_varint_decode(in, 1, &v, &used), P2P_ETRUNC);
}
END_TEST

START_TEST(round_trip)
{
    for (int bit = 0; bit < 63; bit++) {
        uint64_t base = UINT64_C(1) << bit;
        uint64_t vals[3] = { base - 1, base, base + 1 };
        for (int j = 0; j < 3; j++) {
            uint8_t buf[P2P_VARINT_MAX_BYTES];
            int n = p2p_varint_encode(vals[j], buf);
            ck_assert_int_gt(n, 0);
            ck_assert_uint_eq(p2p_varint_size(vals[j]), (size_t)n);
            uint64_t v;
            size_t used;
            ck_assert_int_eq(p2p_varint_decode(buf, (size_t)n, &v, &used), 0);
            ck_assert_uint_eq(v, vals[j]);
            ck_assert_uint_eq(used, (size_t)n);
            if (n > 1) /* one byte short */
                ck_assert_int_eq(p2p_varint_decode(buf, (size_t)n - 1, &v, &used), P2P_ETRUNC);
        }
    }
}
END_TEST

START_TEST(frames)
{
    size_t hdr = 99, body = 99;
    const uint8_t one[] = { 3, 'a', 'b', 'c', 'x' };
    ck_assert_int_eq(p2p_varint_frame(one, sizeof one, 4096, &hdr, &body), 0);
    ck_assert_uint_eq(hdr, 1);
    ck_assert_uint_eq(body, 3);
    ck_assert_int_eq(p2p_varint_frame(one, 3, 4096, &hdr, &body), P2P_ETRUNC);   /* body incomplete */
    ck_assert_int_eq(p2p_varint_frame(one, 0, 4096, &hdr, &body), P2P_ETRUNC);
    ck_assert_int_eq(p2p_varint_frame(one, sizeof one, 2, &hdr, &body), P2P_ERANGE);
    const uint8_t empty[] = { 0 };
    ck_assert_int_eq(p2p_varint_frame(empty, 1, 0, &hdr, &body), 0);
    ck_assert_uint_eq(body, 0);
    /* 4096 = 0x80 0x20: a 2-byte length. */
    uint8_t big[4100] = { 0x80, 0x20 };
    ck_assert_int_eq(p2p_varint_frame(big, sizeof big, 4096, &hdr, &body), 0);
    ck_assert_uint_eq(hdr, 2);
    ck_assert_uint_eq(body, 4096);
    ck_assert_int_eq(p2p_varint_frame(big, sizeof big, 4095, &hdr, &body), P2P_ERANGE);
    /* The first byte alone: wait. Two continuation bytes: more than 4096
     * whatever follows, known without waiting. */
    const uint8_t cont[] = { 0x80, 0x80 };
    ck_assert_int_eq(p2p_varint_frame(cont, 1, 4096, &hdr, &body), P2P_ETRUNC);
    ck_assert_int_eq(p2p_varint_frame(cont, 2, 4096, &hdr, &body), P2P_ERANGE);
    ck_assert_int_eq(p2p_varint_frame(cont, 1, 100, &hdr, &body), P2P_ERANGE);
    const uint8_t nonmin[] = { 0x81, 0x00 };
    ck_assert_int_eq(p2p_varint_frame(nonmin, 2, 4096, &hdr, &body), P2P_EPROTO);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("varint");
    TCase *tc = tcase_create("varint");
    tcase_add_test(tc, encode_vectors);
    tcase_add_test(tc, decode_vectors);
    tcase_add_test(tc, too_large);
    tcase_add_test(tc, non_minimal);
    tcase_add_test(tc, too_long);
    tcase_add_test(tc, truncated);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, frames);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
