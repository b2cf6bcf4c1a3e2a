/* [host] memory_trim_delay over a real loopback connection: once a
 * connection has closed and the delay has passed, the host gives the
 * memory freed meanwhile back to the system (p2p_memory_trims_total
 * counts it), at most once per delay however many connections close; with
 * 0 it never does. Outside the sanitizers (their allocator is not
 * glibc's) the RSS is checked too: 64 MiB freed in the middle of the heap,
 * which free() alone keeps, must be gone. And the layers' buffers give
 * back what a burst made them grow (p2p_buf_trim, the transport's block
 * size): a connection that carried a burst holds, once it is quiet, about
 * what it held before. */
#include <malloc.h>
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

    ihost_free_all(&loop, (p2p_host *[]){ a, b }, 2);
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
    p2p_host *all[N + 1];
    memcpy(all, a, sizeof a);
    all[N] = b;
    ihost_free_all(&loop, all, N + 1);
}
END_TEST

/* An armed trim does not hold a stopping host's loop: run to its end, the
 * loop ends once the connections and listeners are closed, not when the
 * trim's delay is over (bench processes waited 2 s at every exit). */
START_TEST(stop_does_not_wait_for_trim)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *a = ihost_new(&loop, "memory_trim_delay = 30s\n", NULL);
    p2p_host *b = ihost_new(&loop, "memory_trim_delay = 30s\n", NULL);
    ihost_start(a);
    ihost_start(b);
    connect_and_close(&loop, a, b);   /* both armed */
    p2p_host_stop(a);
    p2p_host_stop(b);
    uint64_t t0 = uv_hrtime();
    uv_run(&loop, UV_RUN_DEFAULT);
    uint64_t ms = (uv_hrtime() - t0) / 1000000u;
    ck_assert_msg(ms < 10000, "the loop ran %llu ms after the hosts stopped", (unsigned long long)ms);
    ck_assert_uint_eq(trims(a) + trims(b), 0);
    ihost_free_all(&loop, (p2p_host *[]){ a, b }, 2);
}
END_TEST

/* ---- buffers after a burst ---------------------------------------------- */

enum { BURST_STREAMS = 8, BURST_BYTES = 1 << 20 };

struct burst {
    p2p_stream *in[BURST_STREAMS], *out[BURST_STREAMS];
    size_t nin, nout;
    uint64_t got;
    bool reading;
};

static void burst_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    (void)data;
    ((struct burst *)arg)->got += len;
}

static void burst_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    (void)arg;
    ck_abort_msg("burst stream failed: %s", p2p_strerror(err));
}

static const struct p2p_stream_handlers burst_handlers = { burst_read, NULL, burst_error, NULL };

static void burst_accept(p2p_stream *s, const char *protocol_id, void *arg)
{
    (void)protocol_id;
    struct burst *b = arg;
    ck_assert_uint_lt(b->nin, BURST_STREAMS);
    b->in[b->nin++] = s;
    p2p_stream_set_handlers(s, &burst_handlers, b);
    if (b->reading) p2p_stream_read_start(s);
}

static void burst_opened(int status, p2p_stream *s, void *arg)
{
    struct burst *b = arg;
    ck_assert_int_eq(status, 0);
    b->out[b->nout++] = s;
    p2p_stream_set_handlers(s, &burst_handlers, b);
}

static bool burst_cond_opened(void *arg)
{
    struct burst *b = arg;
    return b->nout == BURST_STREAMS && b->nin == BURST_STREAMS;
}

static uint64_t burst_want;
static bool burst_cond_got(void *arg)
{
    return ((struct burst *)arg)->got >= burst_want;
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* 8 streams each queue 1 MiB for a reader that is not reading yet (the
 * writers' Yamux queues take what the windows refuse, the reader's side
 * fills its windows), then it reads everything. Afterwards, with the
 * streams still open and quiet, both hosts together hold at most 1 MiB
 * more than after the first small exchange: before p2p_buf_trim the
 * drained queues alone kept 8 MiB, and 512 KiB transport blocks 2 MiB
 * more. Heap in use (mallinfo2) is exact outside the sanitizers, whose
 * allocator is not glibc's. */
START_TEST(burst_leaves_no_memory)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    p2p_host *a = ihost_new(&loop, "memory_trim_delay = 0\n", NULL);
    p2p_host *b = ihost_new(&loop, "memory_trim_delay = 0\n", NULL);
    ihost_start(a);
    ihost_start(b);
    struct burst st = { .reading = true };
    ck_assert_int_eq(p2p_protocol_add(b, "/memtrim-burst/1", burst_accept, &st), 0);
    p2p_conn *c = NULL;
    p2p_multiaddr addr = ihost_addr(b);
    ck_assert_int_eq(ihost_connect(&loop, a, b, &addr, &c, 10000), 0);
    static const char *const protos[] = { "/memtrim-burst/1", NULL };
    for (int i = 0; i < BURST_STREAMS; i++) ck_assert_int_eq(p2p_conn_open_stream(c, protos, burst_opened, &st), 0);
    ck_assert(ihost_run_cond(&loop, burst_cond_opened, &st, 10000));

    /* A small exchange on every stream first: what a quiet connection
     * holds. */
    static uint8_t data[BURST_BYTES];
    memset(data, 0x42, sizeof data);
    for (int i = 0; i < BURST_STREAMS; i++) ck_assert_int_eq(p2p_stream_write(st.out[i], data, 100), 0);
    burst_want = 100 * BURST_STREAMS;
    ck_assert(ihost_run_cond(&loop, burst_cond_got, &st, 10000));
    ihost_run_for(&loop, 100);
    size_t quiet = heap_in_use();

    for (int i = 0; i < BURST_STREAMS; i++) p2p_stream_read_stop(st.in[i]);
    for (int i = 0; i < BURST_STREAMS; i++) ck_assert_int_eq(p2p_stream_write(st.out[i], data, sizeof data), 0);
    ihost_run_for(&loop, 200);
    size_t busy = heap_in_use();
    for (int i = 0; i < BURST_STREAMS; i++) p2p_stream_read_start(st.in[i]);
    burst_want += (uint64_t)BURST_STREAMS * BURST_BYTES;
    ck_assert(ihost_run_cond(&loop, burst_cond_got, &st, 20000));
    ihost_run_for(&loop, 200);
    size_t after = heap_in_use();
    fprintf(stderr, "memtrim: heap in use %zu KiB quiet, %zu KiB during the burst, %zu KiB after it\n",
            quiet / 1024, busy / 1024, after / 1024);
#if !P2P_TEST_SANITIZED
    ck_assert_msg(busy > quiet + BURST_STREAMS * (BURST_BYTES / 2), "the burst was not queued (%zu -> %zu)", quiet,
                  busy);
    ck_assert_msg(after < quiet + (1u << 20), "after the burst %zu KiB more stay in use", (after - quiet) / 1024);
#endif
    for (int i = 0; i < BURST_STREAMS; i++) {
        p2p_stream_close(st.out[i]);
        p2p_stream_close(st.in[i]);
    }
    ihost_free_all(&loop, (p2p_host *[]){ a, b }, 2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("memtrim");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, trims_after_close);
    tcase_add_test(tc, one_trim_for_many_hosts);
    tcase_add_test(tc, burst_leaves_no_memory);
    tcase_add_test(tc, stop_does_not_wait_for_trim);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
