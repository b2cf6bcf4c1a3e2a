/* test_perf.c - unit.perf: the perf protocol logic (perf_logic.c) without
 * I/O: the size codec, the server's and the client's byte accounting and
 * the throughput meter, with explicit data and time. The plugin itself
 * runs between two real hosts in unit.perf_net. */
#include <string.h>

#include "p2p/p2p.h"
#include "perf_logic.h"
#include "testutil.h"

START_TEST(size_codec)
{
    uint8_t b[8];
    perf_encode_size(0x0102030405060708ull, b);
    const uint8_t want[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    ck_assert_mem_eq(b, want, 8);
    ck_assert_uint_eq(perf_decode_size(b), 0x0102030405060708ull);
    perf_encode_size(0, b);
    ck_assert_uint_eq(perf_decode_size(b), 0);
    perf_encode_size(UINT64_MAX, b);
    for (int i = 0; i < 8; i++) ck_assert_uint_eq(b[i], 0xff);
    ck_assert(perf_decode_size(b) == UINT64_MAX);
    perf_encode_size(1u << 30, b);
    const uint8_t gib[8] = { 0, 0, 0, 0, 0x40, 0, 0, 0 };
    ck_assert_mem_eq(b, gib, 8);
}
END_TEST

/* The header in pieces of 3, then upload bytes in the same call. */
START_TEST(server_header_in_pieces)
{
    struct perf_server s;
    perf_server_init(&s, 0);
    uint8_t in[20];
    perf_encode_size(100000, in);
    memset(in + 8, 0xab, 12);
    ck_assert_int_eq(perf_server_feed(&s, in, 3), 0);
    ck_assert_int_eq(s.phase, PERF_SRV_HEADER);
    ck_assert_int_eq(perf_server_feed(&s, in + 3, 0), 0);
    ck_assert_int_eq(perf_server_feed(&s, in + 3, 3), 0);
    ck_assert_int_eq(s.phase, PERF_SRV_HEADER);
    ck_assert_int_eq(perf_server_feed(&s, in + 6, 14), 0);   /* 2 header bytes + 12 upload */
    ck_assert_int_eq(s.phase, PERF_SRV_DRAIN);
    ck_assert_uint_eq(s.download, 100000);
    ck_assert_uint_eq(s.received, 12);
    ck_assert_uint_eq(perf_server_next(&s, 65536), 0);   /* nothing before EOF */
    ck_assert_int_eq(perf_server_feed(&s, in, 20), 0);
    ck_assert_uint_eq(s.received, 32);
    ck_assert_int_eq(perf_server_eof(&s), 0);
    ck_assert_int_eq(s.phase, PERF_SRV_SEND);
    /* 100000 = 65536 + 34464 */
    ck_assert_uint_eq(perf_server_next(&s, 65536), 65536);
    perf_server_sent(&s, 65536);
    ck_assert_uint_eq(perf_server_next(&s, 65536), 34464);
    perf_server_sent(&s, 30000);
    ck_assert_int_eq(s.phase, PERF_SRV_SEND);
    ck_assert_uint_eq(perf_server_next(&s, 65536), 4464);
    perf_server_sent(&s, 4464);
    ck_assert_int_eq(s.phase, PERF_SRV_DONE);
    ck_assert_uint_eq(s.sent, 100000);
    ck_assert_uint_eq(perf_server_next(&s, 65536), 0);
    /* Data after EOF is a protocol violation. */
    ck_assert_int_eq(perf_server_feed(&s, in, 1), P2P_EPROTO);
}
END_TEST

START_TEST(server_edge_cases)
{
    struct perf_server s;
    uint8_t hdr[8];
    /* EOF before a complete size. */
    perf_server_init(&s, 0);
    ck_assert_int_eq(perf_server_eof(&s), P2P_ETRUNC);
    perf_server_init(&s, 0);
    perf_encode_size(5, hdr);
    ck_assert_int_eq(perf_server_feed(&s, hdr, 7), 0);
    ck_assert_int_eq(perf_server_eof(&s), P2P_ETRUNC);
    /* A download of 0 with no upload: DONE at EOF. */
    perf_server_init(&s, 0);
    perf_encode_size(0, hdr);
    ck_assert_int_eq(perf_server_feed(&s, hdr, 8), 0);
    ck_assert_int_eq(perf_server_eof(&s), 0);
    ck_assert_int_eq(s.phase, PERF_SRV_DONE);
    ck_assert_uint_eq(perf_server_next(&s, 100), 0);
    /* UINT64_MAX is a valid size (the timer-based download test). */
    perf_server_init(&s, 0);
    perf_encode_size(UINT64_MAX, hdr);
    ck_assert_int_eq(perf_server_feed(&s, hdr, 8), 0);
    ck_assert_int_eq(perf_server_eof(&s), 0);
    ck_assert_uint_eq(perf_server_next(&s, 65536), 65536);
    /* max_bytes: the size asked for and the upload. */
    perf_server_init(&s, 1000);
    perf_encode_size(1001, hdr);
    ck_assert_int_eq(perf_server_feed(&s, hdr, 8), P2P_ELIMIT);
    perf_server_init(&s, 1000);
    perf_encode_size(1000, hdr);
    ck_assert_int_eq(perf_server_feed(&s, hdr, 8), 0);
    uint8_t up[600] = { 0 };
    ck_assert_int_eq(perf_server_feed(&s, up, 600), 0);
    ck_assert_int_eq(perf_server_feed(&s, up, 400), 0);
    ck_assert_int_eq(perf_server_feed(&s, up, 1), P2P_ELIMIT);
    /* sent() outside SEND is ignored. */
    perf_server_init(&s, 0);
    perf_server_sent(&s, 10);
    ck_assert_uint_eq(s.sent, 0);
}
END_TEST

START_TEST(client_produces_header_then_zeros)
{
    struct perf_client c;
    perf_client_init(&c, 10, 0x1122334455667788ull);
    uint8_t buf[32];
    memset(buf, 0x55, sizeof buf);
    /* The header across three small pieces. */
    ck_assert_uint_eq(perf_client_produce(&c, buf, 3), 3);
    ck_assert_uint_eq(perf_client_produce(&c, buf + 3, 2), 2);
    ck_assert(!perf_client_upload_done(&c));
    ck_assert_uint_eq(perf_client_produce(&c, buf + 5, 27), 13);   /* 3 header + 10 payload */
    const uint8_t hdr[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
    ck_assert_mem_eq(buf, hdr, 8);
    for (int i = 8; i < 18; i++) ck_assert_uint_eq(buf[i], 0);
    ck_assert_uint_eq(buf[18], 0x55);
    ck_assert(perf_client_upload_done(&c));
    ck_assert_uint_eq(perf_client_produce(&c, buf, 32), 0);
    ck_assert_uint_eq(c.uploaded, 10);
    /* produce_zero leaves the payload bytes alone. */
    perf_client_init(&c, 100, 0);
    memset(buf, 0x77, sizeof buf);
    ck_assert_uint_eq(perf_client_produce_zero(&c, buf, 8), 8);
    for (int i = 0; i < 8; i++) ck_assert_uint_eq(buf[i], 0);
    ck_assert_uint_eq(perf_client_produce_zero(&c, buf + 8, 24), 24);
    ck_assert_uint_eq(buf[8], 0x77);
    ck_assert_uint_eq(buf[31], 0x77);
    ck_assert_uint_eq(c.uploaded, 24);
    /* Zero upload: the header alone completes it. */
    perf_client_init(&c, 0, 5);
    ck_assert(!perf_client_upload_done(&c));
    ck_assert_uint_eq(perf_client_produce(&c, buf, 32), 8);
    ck_assert(perf_client_upload_done(&c));
}
END_TEST

START_TEST(client_counts_download)
{
    struct perf_client c;
    perf_client_init(&c, 0, 100);
    ck_assert_int_eq(perf_client_feed(&c, 60), 0);
    ck_assert_int_eq(perf_client_feed(&c, 0), 0);
    ck_assert_int_eq(perf_client_feed(&c, 41), P2P_EPROTO);   /* more than asked */
    ck_assert_int_eq(perf_client_feed(&c, 40), 0);
    ck_assert_int_eq(perf_client_eof(&c), 0);
    ck_assert_int_eq(perf_client_feed(&c, 0), P2P_EPROTO);    /* nothing after EOF */
    perf_client_init(&c, 0, 100);
    ck_assert_int_eq(perf_client_feed(&c, 99), 0);
    ck_assert_int_eq(perf_client_eof(&c), P2P_ETRUNC);
    /* A huge download (UINT64_MAX) never overflows the count. */
    perf_client_init(&c, 0, UINT64_MAX);
    ck_assert_int_eq(perf_client_feed(&c, (size_t)1 << 40), 0);
    ck_assert_int_eq(perf_client_feed(&c, (size_t)1 << 40), 0);
    ck_assert_uint_eq(c.downloaded, (uint64_t)1 << 41);
}
END_TEST

START_TEST(meter_intervals_and_total)
{
    struct perf_meter m;
    struct p2p_perf_report r;
    perf_meter_init(&m, 1000000);
    /* 1 s: 125 MB up = 1 Gbit/s. */
    perf_meter_report(&m, 2000000, 125000000, 0, false, &r);
    ck_assert(!r.last);
    ck_assert_uint_eq(r.elapsed_us, 1000000);
    ck_assert_uint_eq(r.upload_bytes, 125000000);
    ck_assert_uint_eq(r.download_bytes, 0);
    ck_assert(r.upload_bps > 0.999e9 && r.upload_bps < 1.001e9);
    ck_assert(r.download_bps == 0.0);
    /* 0.5 s more: 25 MB up, 50 MB down. */
    perf_meter_report(&m, 2500000, 150000000, 50000000, false, &r);
    ck_assert_uint_eq(r.elapsed_us, 500000);
    ck_assert_uint_eq(r.upload_bytes, 25000000);
    ck_assert_uint_eq(r.download_bytes, 50000000);
    ck_assert(r.download_bps > 0.799e9 && r.download_bps < 0.801e9);
    ck_assert_uint_eq(r.total_upload_bytes, 150000000);
    ck_assert_uint_eq(r.total_us, 1500000);
    /* Final: the whole run. */
    perf_meter_report(&m, 3000000, 150000000, 100000000, true, &r);
    ck_assert(r.last);
    ck_assert_uint_eq(r.elapsed_us, 2000000);
    ck_assert_uint_eq(r.upload_bytes, 150000000);
    ck_assert_uint_eq(r.download_bytes, 100000000);
    ck_assert(r.upload_bps > 0.599e9 && r.upload_bps < 0.601e9);
    /* A zero-length interval reports 0 bit/s, not a division by zero;
     * a clock going back counts as no time. */
    perf_meter_report(&m, 3000000, 150000000, 100000000, false, &r);
    ck_assert_uint_eq(r.elapsed_us, 0);
    ck_assert(r.upload_bps == 0.0);
    perf_meter_report(&m, 10, 150000000, 100000000, false, &r);
    ck_assert_uint_eq(r.elapsed_us, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("perf");
    TCase *tc = tcase_create("logic");
    tcase_add_test(tc, size_codec);
    tcase_add_test(tc, server_header_in_pieces);
    tcase_add_test(tc, server_edge_cases);
    tcase_add_test(tc, client_produces_header_then_zeros);
    tcase_add_test(tc, client_counts_download);
    tcase_add_test(tc, meter_intervals_and_total);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
