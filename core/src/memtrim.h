/* memtrim.h - giving freed memory back to the system after connections
 * close (memtrim.c; [host] memory_trim_delay). Core-only. */
#ifndef P2P_MEMTRIM_H
#define P2P_MEMTRIM_H

#include <stdbool.h>
#include <stdint.h>

#include "p2p/host.h"

struct p2p_metric_series;

struct p2p_memtrim {
    uint64_t delay_ms;     /* 0 = never */
    p2p_timer *timer;
    bool armed;            /* a trim is due */
    uint64_t armed_at;     /* since (CLOCK_MONOTONIC ms) */
    struct p2p_metric_series *m_trims;   /* p2p_memory_trims_total */
};

/* Read [host] memory_trim_delay; returns P2P_ENOMEM. */
int p2p_memtrim_init(p2p_host *h);
/* A connection closed: trim once delay_ms have passed (armed once per
 * burst of closes, not pushed back by each). */
void p2p_memtrim_soon(p2p_host *h);
/* Free the timer (before the host's leftover timers are reported). */
void p2p_memtrim_free(p2p_host *h);

#endif
