/* membudget.h - the host-wide budget of buffered bytes (membudget.c;
 * public side: p2p_host_mem_stats in p2p/host.h, p2p_stream_charge in
 * p2p/stream.h). Core-only. */
#ifndef P2P_MEMBUDGET_H
#define P2P_MEMBUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "p2p/conn.h"
#include "p2p/host.h"

struct p2p_metric_series;

struct p2p_membudget {
    uint64_t budget, used, peak, closed, refused;
    uint64_t gone;                 /* of used, held by connections already closed (freed soon) */
    struct p2p_defer enforce;      /* closes the worst connection from the loop */
    struct p2p_metric_series *m_used, *m_budget, *m_closed, *m_refused;
};

/* Read [host] max_buffered_bytes, register the metrics. */
void p2p_membudget_init(p2p_host *h);
void p2p_membudget_free(p2p_host *h);
/* Count delta bytes for connection c (NULL: host-wide only). */
void p2p_mem_charge(p2p_host *h, p2p_conn *c, int64_t delta);
/* Whether a new inbound stream on c is refused (memory pressure and c
 * holding more than its fair share); counts the refusal. */
bool p2p_mem_refuse_stream(p2p_host *h, p2p_conn *c);

/* c is gone (closed, its session freed soon): what it holds no longer
 * counts when choosing whom to close. */
void p2p_mem_conn_gone(p2p_conn *c);

#endif
