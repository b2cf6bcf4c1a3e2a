/* plugin_int.h - the kad plugin's glue, shared by plugin.c (lifecycle,
 * configuration, events, timers, routing table upkeep, state file),
 * kad_net.c (requests over streams, the server side) and kad_ops.c (the
 * iterative operations and the "routing" service). Not part of the logic
 * library: everything here does I/O through the host. */
#ifndef KAD_PLUGIN_INT_H
#define KAD_PLUGIN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kad_key.h"
#include "kad_lookup.h"
#include "kad_msg.h"
#include "kad_rt.h"
#include "kad_store.h"
#include "kad_validate.h"
#include "p2p/conn.h"
#include "p2p/p2p.h"
#include "p2p/routing.h"

#define MOD "kad"
#define KAD_MAX_ADDRS_OUT 8      /* addresses we send per peer */
#define KAD_IN_HIGH_WATER 65536  /* response bytes queued before an inbound stream stops reading */

struct kad;
struct kad_op;

/* A request we sent: cb runs once with the response (status 0, resp
 * owned by the callee for the call only) or an error. */
typedef void (*kad_rpc_cb)(struct kad *kd, int status, const p2p_peerid *peer, struct kad_msg *resp, void *arg);

struct kad_rpc {
    struct kad *kd;
    p2p_peerid peer;
    p2p_stream *s;
    p2p_timer *timer;
    struct kad_reader rd;
    p2p_buf req;                 /* the framed request */
    int type;                    /* the request's (and so the response's) type */
    bool opening;                /* waiting for the open callback */
    bool finished;               /* reported while opening: the open callback frees it */
    bool expect_response;
    bool sent, shut;
    kad_rpc_cb cb;               /* NULL once the caller lost interest */
    void *arg;
    struct kad_rpc *next, *prev;
};

/* An inbound stream (server mode). */
struct kad_in {
    struct kad *kd;
    p2p_stream *s;
    p2p_peerid peer;
    struct kad_reader rd;
    p2p_timer *timer;
    bool closing;
    struct kad_in *next, *prev;
};

/* Lookup counters, for tests and debugging (kad_debug_stats): every
 * finished lookup adds its kad_lookup requests, answers and rounds. */
struct kad_lookup_stats {
    uint64_t lookups, requests, answers, rounds;
    size_t last_requests, last_answers, last_rounds;   /* of the last lookup that finished */
};

/* A key we provide (re-announced every provide_interval). */
struct kad_provided {
    uint8_t key[KAD_PROVIDER_KEY_MAX];
    size_t klen;
    uint64_t next_ms;
    struct kad_provided *next;
};

/* A value we published (put_value): put again every republish_interval. */
struct kad_published {
    uint8_t *key;
    size_t klen;
    uint8_t *value;
    size_t vlen;
    uint64_t next_ms;
    struct kad_published *next;
};

/* Metrics (kad_metrics.c). */
struct kad_quota_metrics {
    p2p_metric_series *refused_limit, *refused_full, *evicted;
    uint64_t seen[3];            /* the quota's counters at the last scrape */
};

struct kad_metrics {
    p2p_metric_series *rt_peers, *records, *provider_keys, *lookups;
    uint64_t lookups_seen;       /* stats.lookups at the last scrape */
    struct kad_quota_metrics records_q, providers_q;
};

struct kad {
    p2p_host *host;
    const char *protocol;
    const char *protos[2];
    bool server;                 /* answering and advertising the protocol now */
    bool auto_mode;              /* mode = auto: server while reachability is PUBLIC */
    /* configuration */
    size_t k, alpha, paths;
    uint64_t rpc_timeout_ms, query_timeout_ms, refresh_interval_ms, provide_interval_ms;
    uint64_t inbound_timeout_ms, addr_ttl_ms, save_interval_ms, republish_interval_ms;
    enum kad_addr_policy addr_policy;
    size_t max_message;
    struct kad_limits lim;
    unsigned quorum;
    size_t max_ops, max_inbound, max_inbound_per_peer, max_rpcs;
    size_t max_provided, max_published;
    const p2p_conf_section *cf;
    /* state */
    struct kad_rt rt;
    struct kad_records records;
    struct kad_providers providers;
    struct kad_validators validators;
    p2p_peerid *boot_ids;        /* configured bootstrap peers */
    p2p_multiaddr *boot_addrs;
    size_t nboot;
    char *state_path;            /* NULL: not persisted */
    bool started, stopping;
    p2p_subscription *sub;
    p2p_timer *refresh_timer, *gc_timer;
    p2p_timer *reprovide_timer;  /* our addresses changed: announce again (debounced) */
    uint64_t last_reprovide_ms;  /* when the addresses last made us announce again */
    struct kad_rpc *rpcs;
    size_t nrpcs;
    struct kad_in *ins;
    size_t nins;
    struct kad_op *ops;
    size_t nops;
    struct kad_provided *provided;
    size_t nprovided;
    struct kad_published *published;
    size_t npublished;
    uint64_t next_op_id;         /* ids of operations (routing v2), from 1 */
    struct kad_op *reporting;    /* the operation whose callback runs (routing v3 stats) */
    uint64_t last_seq;
    uint64_t last_save_ms;
    bool dirty;                  /* routing table changed since the last save */
    bool booting;                /* a bootstrap run is under way */
    struct kad_lookup_stats stats;
    struct kad_metrics m;
};

/* Debug accessor: the lookup counters of the plugin whose "routing"
 * service state is st (what p2p_service_get returned). For in-process
 * tests built against this header; not part of the service ABI. */
static inline const struct kad_lookup_stats *kad_debug_stats(const void *st)
{
    return &((const struct kad *)st)->stats;
}

/* ---- kad_metrics.c: registered at start, collector removed at stop ---- */
void kad_metrics_start(struct kad *kd);
void kad_metrics_stop(struct kad *kd);

/* ---- plugin.c ---------------------------------------------------------- */
const char *kad_peer_str(const p2p_peerid *id, char buf[P2P_PEERID_STRMAX]);
uint64_t kad_now(const struct kad *kd);
/* A peer answered a kad request (it is a server): into the routing table. */
void kad_admit(struct kad *kd, const p2p_peerid *peer);
/* A request to a peer failed. */
void kad_peer_failed(struct kad *kd, const p2p_peerid *peer);
/* Addresses of peer for messages (at most max, none when unknown). */
size_t kad_peer_addrs(struct kad *kd, const p2p_peerid *peer, p2p_multiaddr *out, size_t max);
/* Learned addresses (from closer/provider peers): into the peer store. */
void kad_learn_addrs(struct kad *kd, const struct kad_peer *p);
void kad_random_bytes(void *arg, uint8_t *buf, size_t n);

/* ---- kad_net.c ---------------------------------------------------------- */
/* Send req to peer. 0: cb will run exactly once (never from inside this
 * call); negative: it will not. */
int kad_rpc_send(struct kad *kd, const p2p_peerid *peer, const struct kad_msg *req, bool expect_response,
                 kad_rpc_cb cb, void *arg);
/* Abort every request made with arg (their callbacks do not run). */
void kad_rpc_cancel(struct kad *kd, void *arg);
void kad_rpc_stop_all(struct kad *kd);
void kad_on_stream(p2p_stream *s, const char *protocol_id, void *arg);
void kad_in_stop_all(struct kad *kd);
/* Build the response to req from peer `from` (server side); returns 1
 * with resp filled, 0 when there is no response (ADD_PROVIDER), or a
 * negative code (bad request: the stream is reset). */
int kad_handle_request(struct kad *kd, const p2p_peerid *from, const struct kad_msg *req, struct kad_msg *resp);
/* Add the closest peers we know for target to m (closer list), without
 * `skip` (may be NULL). */
int kad_add_closer(struct kad *kd, struct kad_msg *m, const kad_key *target, const p2p_peerid *skip);

/* ---- kad_service.c ------------------------------------------------------ */
extern const struct p2p_routing_api_v1 kad_routing_api;
extern const struct p2p_routing_api_v2 kad_routing_api_v2;
extern const struct p2p_routing_api_v3 kad_routing_api_v3;
/* Forget every value we publish. */
void kad_published_free_all(struct kad *kd);

/* ---- kad_ops.c ---------------------------------------------------------- */
/* Run the bootstrap (self lookup, stale buckets); cb may be NULL. id, if
 * not NULL, receives the operation's id. */
int kad_bootstrap_start(struct kad *kd, p2p_routing_done_cb cb, void *arg, uint64_t *id);
/* Announce a key we provide (cb may be NULL). */
int kad_provide_start(struct kad *kd, const uint8_t *key, size_t klen, p2p_routing_done_cb cb, void *arg,
                      uint64_t *id);
/* Store a (validated) value locally and at the k closest peers (cb may
 * be NULL). */
int kad_put_start(struct kad *kd, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                  p2p_routing_done_cb cb, void *arg, uint64_t *id);
/* End the operation id now: its callback runs with P2P_ECANCELED before
 * this returns. 0, or P2P_ENOTFOUND when no such operation is under way. */
int kad_op_cancel(struct kad *kd, uint64_t id);
/* Cancel every operation (callbacks get P2P_ECANCELED). */
void kad_ops_stop_all(struct kad *kd);
/* Liveness check of a routing table peer asked by kad_rt_add. */
void kad_check_peer(struct kad *kd, const p2p_peerid *peer);

#endif
