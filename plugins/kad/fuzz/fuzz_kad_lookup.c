/* fuzz_kad_lookup.c - the lookup state machine and the routing table fed
 * arbitrary responses: the input is a script of events (answer from a
 * peer with closer peers, failure, time passing, stop), peers are picked
 * from a small pool and from PeerIds made of input bytes. Invariants:
 * requests in flight never exceed alpha, candidates never exceed the
 * bound, the result is sorted by distance and holds only peers that
 * answered, the lookup always ends once time runs past every timeout, and
 * the routing table stays consistent (sizes, bucket membership). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kad_lookup.h"
#include "kad_rt.h"
#include "p2p/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static p2p_peerid pool_peer(uint8_t n)
{
    p2p_peerid id;
    id.len = 34;
    id.bytes[0] = 0x12;
    id.bytes[1] = 0x20;
    memset(id.bytes + 2, 0, 32);
    id.bytes[2] = n;
    id.bytes[33] = (uint8_t)(n * 7);
    return id;
}

static void check_rt(const struct kad_rt *rt)
{
    size_t total = 0;
    for (size_t i = 0; i < rt->nb; i++) {
        if (rt->b[i].n > rt->cfg.k || rt->b[i].nrepl > rt->cfg.replacements) __builtin_trap();
        for (size_t j = 0; j < rt->b[i].n; j++) {
            unsigned c = kad_key_cpl(&rt->b[i].e[j].key, &rt->self);
            if (i + 1 < rt->nb ? c != i : c < i) __builtin_trap();
        }
        total += rt->b[i].n;
    }
    if (total != rt->size) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    struct kad_lookup_config cfg = { (size_t)(data[0] % 8) + 1, (size_t)(data[1] % 4) + 1, 0, 0, 100,
                                     (size_t)(data[0] >> 5) };
    cfg.max_candidates = cfg.k * 3;
    cfg.max_requests = (size_t)(data[1] >> 2);
    data += 2;
    size -= 2;
    p2p_peerid self = pool_peer(0);
    kad_key target;
    memset(&target, 0x5a, sizeof target);
    struct kad_lookup l;
    if (kad_lookup_init(&l, &target, &self, &cfg)) return 0;
    struct kad_rt rt;
    struct kad_rt_config rc = { 2, 2, 2, 50, 1, 0 };
    if (kad_rt_init(&rt, &self, &rc, 0)) {
        kad_lookup_free(&l);
        return 0;
    }
    for (uint8_t i = 1; i <= 4; i++) {
        p2p_peerid p = pool_peer(i);
        kad_lookup_add(&l, &p);
    }
    uint64_t now = 0;
    p2p_peerid asked[64];
    size_t nasked = 0;
    size_t i = 0;
    while (i < size) {
        uint8_t op = data[i++];
        p2p_peerid p;
        int act = kad_lookup_next(&l, now, &p);
        size_t paths = cfg.paths ? cfg.paths : 1, sum = 0;
        for (size_t pi = 0; pi < paths; pi++) {
            if (l.inflight_path[pi] > cfg.alpha) __builtin_trap();
            sum += l.inflight_path[pi];
        }
        if (sum != l.inflight || l.n > cfg.max_candidates) __builtin_trap();
        if (act == KAD_LK_SEND && nasked < 64) asked[nasked++] = p;
        switch (op & 3) {
        case 0: {   /* an answer from an asked (or made-up) peer with closer peers */
            if (i >= size) break;
            uint8_t who = data[i++];
            p2p_peerid from = nasked && (who & 1) ? asked[who % nasked] : pool_peer(who);
            p2p_peerid closer[8];
            size_t nc = (size_t)(op >> 2) % 9;
            for (size_t j = 0; j < nc && i < size; j++) closer[j] = pool_peer(data[i++]);
            kad_lookup_response(&l, &from, closer, nc, now);
            p2p_peerid check;
            int r = kad_rt_add(&rt, &from, op >> 6, now, &check);
            if (r == KAD_RT_CHECK) kad_rt_check_done(&rt, &check, op & 0x10, now);
            break;
        }
        case 1:
            if (nasked) {
                p2p_peerid f = asked[(op >> 2) % nasked];
                kad_lookup_failure(&l, &f, now);
                kad_rt_failed(&rt, &f, now);
            }
            break;
        case 2:
            now += (uint64_t)(op >> 2) * 5;
            break;
        default:
            if ((op >> 2) == 63) kad_lookup_stop(&l);
            else if (nasked) kad_rt_remove(&rt, &asked[(op >> 2) % nasked], now);
            break;
        }
        check_rt(&rt);
    }
    /* Time runs out: the lookup ends. */
    p2p_peerid p;
    int act;
    for (int guard = 0; (act = kad_lookup_next(&l, now + 1000000, &p)) == KAD_LK_SEND; guard++) {
        kad_lookup_failure(&l, &p, now);
        if (guard > 10000) __builtin_trap();
    }
    if (act == KAD_LK_WAIT) {
        if (kad_lookup_next(&l, UINT64_MAX / 2, &p) == KAD_LK_WAIT && l.inflight == 0) __builtin_trap();
    }
    p2p_peerid res[8];
    size_t n = kad_lookup_result(&l, res, 8);
    for (size_t j = 0; j + 1 < n; j++) {
        kad_key a, b;
        kad_key_from_peer(&a, &res[j]);
        kad_key_from_peer(&b, &res[j + 1]);
        if (kad_key_cmp(&target, &a, &b) > 0) __builtin_trap();
    }
    for (size_t j = 0; j < n; j++)
        if (kad_lookup_state(&l, &res[j]) != KAD_LK_OK) __builtin_trap();
    kad_lookup_free(&l);
    kad_rt_free(&rt);
    return 0;
}
