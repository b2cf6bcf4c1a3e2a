/* p2p_buf: growth, consumption, limits. */
#include <string.h>

#include "p2p/p2p.h"
#include "testutil.h"

START_TEST(append_consume)
{
    p2p_buf b;
    p2p_buf_init(&b, 0);
    for (int i = 0; i < 1000; i++) {
        uint8_t c = (uint8_t)i;
        ck_assert_int_eq(p2p_buf_append(&b, &c, 1), 0);
    }
    ck_assert_uint_eq(b.len, 1000);
    p2p_buf_consume(&b, 10);
    ck_assert_uint_eq(p2p_buf_head(&b)[0], 10);
    ck_assert_int_eq(p2p_buf_append_varint(&b, 300), 0);
    ck_assert_uint_eq(b.len, 992);
    ck_assert_uint_eq(p2p_buf_head(&b)[990], 0xac);
    ck_assert_uint_eq(p2p_buf_head(&b)[991], 0x02);
    p2p_buf_consume(&b, 5000);
    ck_assert_uint_eq(b.len, 0);
    p2p_buf_free(&b);
}
END_TEST

START_TEST(limit)
{
    p2p_buf b;
    p2p_buf_init(&b, 100);
    uint8_t data[60] = { 0 };
    ck_assert_int_eq(p2p_buf_append(&b, data, 60), 0);
    ck_assert_int_eq(p2p_buf_append(&b, data, 41), P2P_ELIMIT);
    ck_assert_uint_eq(b.len, 60);
    ck_assert_int_eq(p2p_buf_append(&b, data, 40), 0);
    ck_assert_int_eq(p2p_buf_append_byte(&b, 1), P2P_ELIMIT);
    p2p_buf_consume(&b, 50);
    ck_assert_int_eq(p2p_buf_append(&b, data, 50), 0);
    ck_assert_uint_le(b.cap, 100);
    ck_assert_int_eq(p2p_buf_reserve(&b, SIZE_MAX), P2P_ELIMIT);
    p2p_buf_free(&b);
}
END_TEST

START_TEST(tail_commit)
{
    p2p_buf b;
    p2p_buf_init(&b, 0);
    ck_assert_int_eq(p2p_buf_reserve(&b, 16), 0);
    memcpy(p2p_buf_tail(&b), "hello", 5);
    p2p_buf_commit(&b, 5);
    ck_assert_int_eq(memcmp(p2p_buf_head(&b), "hello", 5), 0);
    p2p_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    p2p_buf_free(&b);
    ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(trim)
{
    p2p_buf b;
    p2p_buf_init(&b, 0);
    p2p_buf_trim(&b, 0);   /* nothing allocated: nothing to do */
    ck_assert_ptr_null(b.data);
    uint8_t big[100000] = { 0 };
    ck_assert_int_eq(p2p_buf_append(&b, big, sizeof big), 0);
    size_t cap = b.cap;
    p2p_buf_trim(&b, 1000);   /* holding bytes: left alone */
    ck_assert_uint_eq(b.cap, cap);
    p2p_buf_consume(&b, sizeof big);
    p2p_buf_trim(&b, cap);   /* not larger than keep */
    ck_assert_uint_eq(b.cap, cap);
    p2p_buf_trim(&b, 1000);
    ck_assert_uint_eq(b.cap, 1000);
    ck_assert_ptr_nonnull(b.data);
    ck_assert_int_eq(p2p_buf_append(&b, "abc", 3), 0);   /* still usable */
    ck_assert_mem_eq(p2p_buf_head(&b), "abc", 3);
    p2p_buf_consume(&b, 3);
    p2p_buf_trim(&b, 0);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.cap, 0);
    ck_assert_int_eq(p2p_buf_append(&b, "xy", 2), 0);
    ck_assert_mem_eq(p2p_buf_head(&b), "xy", 2);
    p2p_buf_free(&b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("buf");
    tcase_add_test(tc, append_consume);
    tcase_add_test(tc, limit);
    tcase_add_test(tc, tail_commit);
    tcase_add_test(tc, trim);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return p2p_test_run(suite()); }
