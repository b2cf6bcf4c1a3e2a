/* [host] memory_trim_delay over a real loopback connection: once a
 * connection has closed and the delay has passed, the host gives the
 * memory freed meanwhile back to the system (p2p_memory_trims_total
 * counts it), at most once per delay however many connections close; with
 * 0 it never does. Outside the sanitizers (their allocator is not
 * glibc's) the RSS is checked too: 64 MiB freed in the middle of the heap,
 * which free() alone keeps, must be gone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ihost.h"
#include "p2p/p2p.h"
#include "testutil.h"


static uint64_t trims(p2p_host *h)
{
    return p2p_counter_value(p2p_metric_get(p2p_metric_find(h, "p2p_memory_trims_total"), NULL));
}

static long rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%ld %ld", &pages, &rss), 2);
    fclose(f);
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Connect a to b, then close that connection and let the loop run. */
static void connect_and_close(uv_loop_t *loop, p2p_host *a, p2p_host *b)
{
    p2p_conn *c = NULL;
    p2p_multiaddr addr = ihost_addr(b);
    ck_assert_int_eq(ihost_connect(loop, a, b, &addr, &c, 10000), 0);
    ck_assert_ptr_nonnull(c);
    p2p_conn_close(c);
    ihost_run_for(loop, 50);
}

/* 64 MiB in 4 KiB blocks, touched, then freed below one block that stays:
 * the freed pages are inside the heap, where free() keeps them. */
enum { BLOCKS = 16384, BLOCK = 4096 };

static void *heap_hole(void)
{
    void **b = malloc(BLOCKS * sizeof *b);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < BLOCKS; i++) {
        b[i] = malloc(BLOCK);
        ck_assert_ptr_nonnull(b[i]);
        memset(b[i], 0x5a, BLOCK);
    }
    void *keep = malloc(64);
    ck_assert_ptr_nonnull(keep);
    for (int i = 0; i < BLOCKS; i++) free(b[i]);
    free(b);
    return keep;
}

START_TEST(trims_after_close)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *a = ihost_new(&loop, "memory_trim_delay = 200ms\n", NULL);
    p2p_host *b = ihost_new(&loop, "memory_trim_delay = 0\n", NULL);
    ihost_start(a);
    ihost_start(b);
    ck_assert_uint_eq(trims(a), 0);

    void *keep = heap_hole();
    long before = rss_kib();
    connect_and_close(&loop, a, b);
    ck_assert_uint_eq(trims(a), 0);   /* not before the delay */
    ihost_run_for(&loop, 400);
    ck_assert_uint_eq(trims(a), 1);
    ck_assert_uint_eq(trims(b), 0);   /* 0: never */
    long after = rss_kib();
    fprintf(stderr, "memtrim: RSS %ld KiB with 64 MiB freed, %ld KiB after the trim\n", before, after);
#if !P2P_TEST_SANITIZED
    ck_assert_msg(before - after >= 32 * 1024, "RSS %ld -> %ld KiB: the freed 64 MiB were not given back", before,
                  after);
#endif
    free(keep);

    /* Closes in a row: one trim for the burst. */
    for (int i = 0; i < 3; i++) connect_and_close(&loop, a, b);
    ihost_run_for(&loop, 400);
    ck_assert_uint_eq(trims(a), 2);
    ihost_run_for(&loop, 300);
    ck_assert_uint_eq(trims(a), 2);   /* nothing closed since */

    p2p_host_free(a);
    p2p_host_free(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* Many hosts in one process closing together: one trim serves them all
 * (each trimming in turn, one per delay, kept a 200-host process busy for
 * minutes before it could exit). */
START_TEST(one_trim_for_many_hosts)
{
    enum { N = 10 };
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *b = ihost_new(&loop, "memory_trim_delay = 0\n", NULL);
    ihost_start(b);
    p2p_host *a[N];
    p2p_conn *c[N];
    p2p_multiaddr addr = ihost_addr(b);
    for (int i = 0; i < N; i++) {
        a[i] = ihost_new(&loop, "memory_trim_delay = 200ms\n", NULL);
        ihost_start(a[i]);
        ck_assert_int_eq(ihost_connect(&loop, a[i], b, &addr, &c[i], 10000), 0);
    }
    for (int i = 0; i < N; i++) p2p_conn_close(c[i]);
    ihost_run_for(&loop, 750);
    uint64_t sum = 0;
    for (int i = 0; i < N; i++) sum += trims(a[i]);
    ck_assert_uint_eq(sum, 1);
    for (int i = 0; i < N; i++) p2p_host_free(a[i]);
    p2p_host_free(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("memtrim");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, trims_after_close);
    tcase_add_test(tc, one_trim_for_many_hosts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
