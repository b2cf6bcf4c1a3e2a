/* memtrim.c - giving freed memory back to the system after connections
 * close.
 *
 * glibc's malloc keeps what is freed for later allocations: a relay whose
 * 256 busy circuits held 140 MiB kept that RSS after every circuit and
 * connection had closed (21 MiB after malloc_trim). So once
 * memory_trim_delay has passed after a connection closed (the plugins
 * free their per-connection memory in the meantime), the host asks malloc
 * to return what it holds free (malloc_trim: the heap's top and whole
 * free pages inside it). A trim walks the heap, so the process makes at
 * most one per delay whatever the number of hosts in it (a benchmark
 * process runs a thousand). Nothing to do with another libc. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__   /* defined by any libc header, so after one */
#include <malloc.h>
#endif

#include "host_internal.h"
#include "memtrim.h"
#include "p2p/config.h"
#include "p2p/error.h"
#include "p2p/log.h"
#include "p2p/metrics.h"

#define MOD "memtrim"

/* The process's last trim (ms, CLOCK_MONOTONIC): malloc is the process's. */
static uint64_t last_trim_ms;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static long rss_kib(void)
{
    long pages = -1, rss = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void on_trim(p2p_timer *t, void *arg)
{
    (void)t;
    p2p_host *h = arg;
    uint64_t now = mono_ms();
    uint64_t last = __atomic_load_n(&last_trim_ms, __ATOMIC_RELAXED);
    if (last && last >= h->trim.armed_at) {
        /* Another host of the process trimmed since our close: done. (Each
         * host trimming in turn, one per delay, kept a process of 200
         * hosts busy for minutes.) */
        h->trim.armed = false;
        return;
    }
    if (last && now - last < h->trim.delay_ms) {
        /* The last trim came before our close, but too recently: once
         * more when the delay is over. */
        p2p_timer_start(h->trim.timer, h->trim.delay_ms - (now - last), 0);
        return;
    }
    h->trim.armed = false;
    __atomic_store_n(&last_trim_ms, now, __ATOMIC_RELAXED);
#ifdef __GLIBC__
    long before = p2p_log_enabled(MOD, P2P_LOG_DEBUG) ? rss_kib() : -1;
    malloc_trim(0);
    p2p_counter_add(h->trim.m_trims, 1);
    if (before >= 0) p2p_log_debug(MOD, "RSS %ld KiB -> %ld KiB", before, rss_kib());
#else
    (void)rss_kib;
#endif
}

int p2p_memtrim_init(p2p_host *h)
{
    h->trim.delay_ms = p2p_conf_duration_ms(h->host_section, "memory_trim_delay");
    h->trim.m_trims = p2p_metric_counter(h, "p2p_memory_trims_total",
                                         "Times this host gave the memory freed after connections closed back to "
                                         "the system (malloc_trim; [host] memory_trim_delay).");
    if (!h->trim.delay_ms) return 0;
    h->trim.timer = p2p_timer_new(h, on_trim, h);
    if (!h->trim.timer) return P2P_ENOMEM;
    /* A loop run to its end (a front-end or benchmark shutting down) must
     * not wait for a trim: bench.smoke took 74 s instead of 27. */
    p2p_timer_unref(h->trim.timer);
    return 0;
}

void p2p_memtrim_soon(p2p_host *h)
{
    if (!h->trim.timer || h->trim.armed) return;
    h->trim.armed = true;
    h->trim.armed_at = mono_ms();
    p2p_timer_start(h->trim.timer, h->trim.delay_ms, 0);
}

void p2p_memtrim_free(p2p_host *h)
{
    p2p_timer_free(h->trim.timer);
    h->trim.timer = NULL;
    h->trim.armed = false;
}
