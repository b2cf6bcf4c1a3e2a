/* dcutr.h - the dcutr plugin's glue state (plugin.c), visible to the
 * white-box network tests through p2p_host_plugin_state(h, "dcutr"). */
#ifndef DCUTR_H
#define DCUTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dcutr_addr.h"
#include "dcutr_msg.h"
#include "dcutr_sm.h"
#include "p2p/dcutr.h"
#include "p2p/p2p.h"

#define DCUTR_MOD "dcutr"
#define DCUTR_MAX_PUNCHES 64          /* hole punches in progress at once */

struct dcutr_link {
    struct dcutr_link *prev, *next;
};

struct dcutr_st {
    p2p_host *h;
    size_t refs;                      /* the plugin's own + one per punch */
    bool stopped;
    const struct p2p_identify_api_v1 *id;
    void *id_st;
    p2p_subscription *sub;
    struct p2p_addr_policy policy;
    unsigned max_attempts, min_observers;
    uint64_t timeout_ms, dial_timeout_ms, identify_wait_ms;
    bool unilateral, legacy_roles;
    struct dcutr_link punches;
    size_t npunches;
    struct p2p_dcutr_stats stats;     /* the service's counters (p2p/dcutr.h) */
    /* Metrics: p2p_dcutr_attempts_total, p2p_dcutr_holepunches_total{result} */
    p2p_metric_series *m_attempts, *m_success, *m_failure;
};

#endif
