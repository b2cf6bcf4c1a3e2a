/* kad_ops.h - the DHT operations of the glue (kad_ops.c), used by the
 * service (kad_service.c) and by plugin.c: every operation is an
 * iterative lookup (kad_lookup.c) driven over kad_rpc requests, followed
 * for some kinds by a store phase. Results are reported from the loop
 * (never from inside the call that started them), exactly once. */
#ifndef KAD_OPS_H
#define KAD_OPS_H

#include "plugin_int.h"

enum kad_op_kind {
    KAD_OP_FIND_PEER,
    KAD_OP_CLOSEST,
    KAD_OP_GET_VALUE,
    KAD_OP_PUT_VALUE,
    KAD_OP_PROVIDE,
    KAD_OP_FIND_PROVIDERS,
    KAD_OP_BOOTSTRAP
};

struct kad_op {
    struct kad *kd;
    uint64_t id;                 /* for kad_op_cancel (routing v2) */
    enum kad_op_kind kind;
    uint8_t *key;                /* the key asked for (FIND_NODE: PeerId bytes) */
    size_t klen;
    kad_key target;
    struct kad_lookup lk;
    bool lk_active;
    bool storing;                /* put/provide: sending the records */
    bool busy;                   /* a response is being processed: op_finish must not free */
    bool dead;                   /* finished while busy: the processing frees it */
    p2p_timer *timer;
    struct p2p_defer step;
    uint64_t deadline_ms;
    union {
        p2p_routing_peer_cb peer;
        p2p_routing_peers_cb peers;
        p2p_routing_value_cb value;
        p2p_routing_done_cb done;
    } cb;
    void *arg;
    int early_status;            /* finish at the first step with this (1 = not set) */
    /* get_value */
    unsigned quorum, got;
    uint8_t *best;
    size_t bestlen;
    p2p_peerid *best_peers, *outdated, *novalue;
    size_t nbest_peers, noutdated, nnovalue;
    /* put_value / provide */
    uint8_t *value;
    size_t vlen;
    size_t pending, accepted;
    /* find_peer / find_providers / closest_peers */
    p2p_peerid peer;
    struct p2p_routing_peer *found;
    size_t nfound, max;
    /* bootstrap */
    p2p_peerid *targets;
    size_t ntargets, ti;
    bool refresh_planned;
    /* stats (routing v3): lookups already freed, and the time started */
    size_t st_lookups, st_requests, st_answers, st_rounds;
    uint64_t started_ms;
    struct kad_op *next, *prev;
};

/* A new operation (linked, timer and defer ready, id assigned); NULL
 * with *err set. */
struct kad_op *kad_op_new(struct kad *kd, enum kad_op_kind kind, const uint8_t *key, size_t klen, int *err);
/* Start (from the loop) the lookup of target: FIND_NODE, GET_VALUE or
 * GET_PROVIDERS depending on the kind, with key as the request's key. */
void kad_op_start(struct kad_op *op);
/* What op cost so far (routing v3 stats). */
void kad_op_stats(const struct kad_op *op, struct p2p_routing_stats *out);
/* Operation id, live or reporting (its callback running); NULL otherwise. */
struct kad_op *kad_op_find(struct kad *kd, uint64_t id);
/* Finish from the loop with status (no lookup). */
void kad_op_finish_soon(struct kad_op *op, int status);

#endif
