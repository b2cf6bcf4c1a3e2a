/* test_kad_lookup.c - unit.kad_lookup: the iterative lookup state machine
 * against a simulated network (no sockets, explicit time): 300 nodes,
 * each with a real routing table (kad_rt) of the others; requests get
 * answered after a per-node latency, some nodes are dead (time out) and
 * some answer with junk. Checks: the k closest live nodes are found,
 * alpha bounds the requests in flight, lookups terminate (few nodes, all
 * dead, request budget), and stray or repeated answers change nothing. */
#define _GNU_SOURCE   /* qsort_r */
#include <stdlib.h>
#include <string.h>

#include "kad_lookup.h"
#include "kad_rt.h"
#include "p2p/p2p.h"
#include "testutil.h"

static void det_rand(void *arg, uint8_t *buf, size_t n)
{
    uint64_t *ctr = arg;
    while (n) {
        uint8_t mh[34], in[8];
        for (int i = 0; i < 8; i++) in[i] = (uint8_t)(*ctr >> (8 * i));
        (*ctr)++;
        p2p_multihash_sha256(in, sizeof in, mh);
        size_t k = n < 32 ? n : 32;
        memcpy(buf, mh + 2, k);
        buf += k;
        n -= k;
    }
}

static p2p_peerid peer_n(uint64_t n)
{
    p2p_peerid id;
    id.len = 34;
    id.bytes[0] = 0x12;
    id.bytes[1] = 0x20;
    uint64_t c = n * 104729 + 3;
    det_rand(&c, id.bytes + 2, 32);
    return id;
}

enum { N = 300, K = 20 };

struct node {
    p2p_peerid id;
    struct kad_rt rt;
    bool dead;            /* never answers */
    bool junk;            /* answers with far, unknown peers */
    uint64_t latency;
};

struct net {
    struct node n[N];
};

static struct net *net_new(unsigned dead_every)
{
    struct net *net = calloc(1, sizeof *net);
    struct kad_rt_config cfg = { K, 2, 3, 1000, 0, 0 };
    for (int i = 0; i < N; i++) {
        net->n[i].id = peer_n((uint64_t)i);
        net->n[i].latency = 5 + (uint64_t)(i * 37 % 50);
        net->n[i].dead = dead_every && i % (int)dead_every == 1;
        ck_assert_int_eq(kad_rt_init(&net->n[i].rt, &net->n[i].id, &cfg, 0), 0);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            p2p_peerid check;
            if (kad_rt_add(&net->n[i].rt, &net->n[j].id, 0, 0, &check) == KAD_RT_CHECK)
                kad_rt_check_done(&net->n[i].rt, &check, true, 0);
        }
    return net;
}

static void net_free(struct net *net)
{
    for (int i = 0; i < N; i++) kad_rt_free(&net->n[i].rt);
    free(net);
}

static int node_of(const struct net *net, const p2p_peerid *id)
{
    for (int i = 0; i < N; i++)
        if (p2p_peerid_equal(&net->n[i].id, id)) return i;
    return -1;
}

struct pending {
    int node;
    uint64_t at;
};

struct run_stats {
    size_t max_inflight, requests;
    uint64_t end;
};

/* Drive a lookup of target from node `from` to completion. */
static void run(struct net *net, int from, const kad_key *target, struct kad_lookup *l, struct run_stats *st)
{
    p2p_peerid seed[K];
    size_t ns = kad_rt_closest(&net->n[from].rt, target, K, seed);
    for (size_t i = 0; i < ns; i++) kad_lookup_add(l, &seed[i]);
    struct pending pend[64];
    size_t np = 0;
    uint64_t now = 0;
    memset(st, 0, sizeof *st);
    for (int guard = 0; guard < 100000; guard++) {
        p2p_peerid peer;
        int act;
        while ((act = kad_lookup_next(l, now, &peer)) == KAD_LK_SEND) {
            int i = node_of(net, &peer);   /* -1: a made-up peer, unreachable */
            st->requests++;
            if (i >= 0 && !net->n[i].dead) {
                ck_assert_uint_lt(np, 64);
                pend[np++] = (struct pending){ i, now + net->n[i].latency };
            }
            ck_assert_uint_le(l->inflight, l->cfg.alpha * l->cfg.paths);
            if (l->inflight > st->max_inflight) st->max_inflight = l->inflight;
        }
        if (act == KAD_LK_DONE) {
            st->end = now;
            return;
        }
        /* Next event: the earliest answer or the lookup's deadline. */
        uint64_t next = kad_lookup_deadline(l);
        size_t pi = np;
        for (size_t i = 0; i < np; i++)
            if (pend[i].at <= next) {
                next = pend[i].at;
                pi = i;
            }
        ck_assert(next != UINT64_MAX);
        now = next;
        if (pi == np) continue;   /* a timeout: kad_lookup_next notices */
        struct node *nd = &net->n[pend[pi].node];
        pend[pi] = pend[--np];
        p2p_peerid closer[K];
        size_t nc;
        if (nd->junk) {
            for (nc = 0; nc < K; nc++) closer[nc] = peer_n(100000 + nc);
        } else {
            nc = kad_rt_closest(&nd->rt, target, K, closer);
        }
        kad_lookup_response(l, &nd->id, closer, nc, now);
    }
    ck_abort_msg("lookup did not terminate");
}

static int by_distance(const void *a, const void *b, void *target)
{
    kad_key ka, kb;
    kad_key_from_peer(&ka, a);
    kad_key_from_peer(&kb, b);
    return kad_key_cmp(target, &ka, &kb);
}

/* The K closest live nodes to target (excluding `from`). */
static size_t truth(const struct net *net, int from, const kad_key *target, p2p_peerid *out)
{
    p2p_peerid *all = malloc(N * sizeof *all);
    size_t n = 0;
    for (int i = 0; i < N; i++)
        if (i != from && !net->n[i].dead && !net->n[i].junk) all[n++] = net->n[i].id;
    qsort_r(all, n, sizeof *all, by_distance, (void *)target);
    size_t c = n < K ? n : K;
    memcpy(out, all, c * sizeof *out);
    free(all);
    return c;
}

static const struct kad_lookup_config lcfg = { K, 3, K * 8, K * 10, 1000, 1 };

START_TEST(finds_the_k_closest)
{
    struct net *net = net_new(0);
    for (int t = 0; t < 10; t++) {
        int from = t * 17 % N;
        p2p_peerid target_id = net->n[(t * 31 + 7) % N].id;
        if (t % 2) target_id = peer_n(77777 + (uint64_t)t);   /* a key nobody has */
        kad_key target;
        kad_key_from_peer(&target, &target_id);
        struct kad_lookup l;
        ck_assert_int_eq(kad_lookup_init(&l, &target, &net->n[from].id, &lcfg), 0);
        struct run_stats st;
        run(net, from, &target, &l, &st);
        p2p_peerid res[K], want[K];
        size_t nr = kad_lookup_result(&l, res, K), nw = truth(net, from, &target, want);
        ck_assert_uint_eq(nr, nw);
        for (size_t i = 0; i < nr; i++) ck_assert(p2p_peerid_equal(&res[i], &want[i]));
        if (!(t % 2)) ck_assert(p2p_peerid_equal(&res[0], &target_id));
        ck_assert_uint_le(st.max_inflight, 3);
        ck_assert_uint_ge(st.max_inflight, 2);
        ck_assert_uint_le(st.requests, K * 10);
        /* Rounds (hops from the seeds): at least one, at most log2(300) < 9. */
        ck_assert_uint_ge(l.rounds, 1);
        ck_assert_uint_le(l.rounds, 9);
        ck_assert_uint_le(l.rounds, st.requests);
        ck_assert_int_eq(kad_lookup_state(&l, &net->n[from].id), -1);   /* never ourselves */
        kad_lookup_free(&l);
    }
    net_free(net);
}
END_TEST

/* rounds counts hops: a seed is round 1, a peer learned from a round-r
 * answer is round r + 1; a peer known at several hops counts at the
 * smallest; answers from nobody asked count for nothing. */
START_TEST(rounds_count_hops)
{
    const struct kad_lookup_config cfg = { 4, 1, 32, 0, 1000, 1 };
    kad_key target;
    p2p_peerid t = peer_n(500), a = peer_n(501), b = peer_n(502), c = peer_n(503), p;
    kad_key_from_peer(&target, &t);
    struct kad_lookup l;
    ck_assert_int_eq(kad_lookup_init(&l, &target, NULL, &cfg), 0);
    ck_assert_uint_eq(l.rounds, 0);
    kad_lookup_add(&l, &a);
    ck_assert_int_eq(kad_lookup_next(&l, 0, &p), KAD_LK_SEND);
    ck_assert(p2p_peerid_equal(&p, &a));
    ck_assert_uint_eq(l.rounds, 1);
    ck_assert(!kad_lookup_response(&l, &b, &c, 1, 1));   /* b was not asked */
    ck_assert(kad_lookup_response(&l, &a, &b, 1, 1));
    ck_assert_int_eq(kad_lookup_next(&l, 1, &p), KAD_LK_SEND);
    ck_assert(p2p_peerid_equal(&p, &b));
    ck_assert_uint_eq(l.rounds, 2);
    p2p_peerid from_b[2] = { a, c };   /* a again: already asked, no new round */
    ck_assert(kad_lookup_response(&l, &b, from_b, 2, 2));
    ck_assert_int_eq(kad_lookup_next(&l, 2, &p), KAD_LK_SEND);
    ck_assert(p2p_peerid_equal(&p, &c));
    ck_assert_uint_eq(l.rounds, 3);
    ck_assert(kad_lookup_response(&l, &c, NULL, 0, 3));
    ck_assert_int_eq(kad_lookup_next(&l, 3, &p), KAD_LK_DONE);
    ck_assert_uint_eq(l.rounds, 3);
    ck_assert_uint_eq(l.requests, 3);
    kad_lookup_free(&l);

    /* A peer learned at hop 2 that is also a seed is asked in round 1. */
    ck_assert_int_eq(kad_lookup_init(&l, &target, NULL, &cfg), 0);
    kad_lookup_add(&l, &a);
    kad_lookup_add(&l, &c);
    size_t asked = 0;
    for (int step = 0; step < 8; step++) {
        int act = kad_lookup_next(&l, (uint64_t)step, &p);
        if (act == KAD_LK_DONE) break;
        ck_assert_int_eq(act, KAD_LK_SEND);
        asked++;
        /* a names b, b names c: c stays a seed (hop 0) whoever names it */
        if (p2p_peerid_equal(&p, &a)) kad_lookup_response(&l, &a, &b, 1, (uint64_t)step);
        else if (p2p_peerid_equal(&p, &b)) kad_lookup_response(&l, &b, &c, 1, (uint64_t)step);
        else kad_lookup_response(&l, &p, NULL, 0, (uint64_t)step);
    }
    ck_assert_uint_eq(asked, 3);
    ck_assert_uint_eq(l.rounds, 2);   /* a and c in round 1, b in round 2 */
    kad_lookup_free(&l);
}
END_TEST

START_TEST(dead_and_junk_nodes)
{
    struct net *net = net_new(5);   /* every 5th node dead */
    for (int i = 3; i < N; i += 23) net->n[i].junk = true;
    for (int t = 0; t < 6; t++) {
        int from = t * 13 % N;
        if (net->n[from].dead) from++;
        p2p_peerid target_id = peer_n(4242 + (uint64_t)t);
        kad_key target;
        kad_key_from_peer(&target, &target_id);
        struct kad_lookup l;
        ck_assert_int_eq(kad_lookup_init(&l, &target, &net->n[from].id, &lcfg), 0);
        struct run_stats st;
        run(net, from, &target, &l, &st);
        p2p_peerid res[K], want[K];
        size_t nr = kad_lookup_result(&l, res, K);
        truth(net, from, &target, want);
        /* Dead nodes cost time, junk nodes (which count as answered) may
         * take a place in the result, and with a fifth of the nodes dead
         * the farthest of the k may go unseen (Kademlia is approximate),
         * but the closest half is always found and almost all of the k. */
        size_t overlap = 0;
        for (size_t i = 0; i < K; i++) {
            bool in = false;
            for (size_t j = 0; j < nr && !in; j++) in = p2p_peerid_equal(&res[j], &want[i]);
            if (i < K / 2) ck_assert_msg(in, "lookup %d missed the %zu-th closest node", t, i);
            overlap += in;
        }
        ck_assert_uint_ge(overlap, K - 3);
        for (size_t j = 0; j < nr; j++) ck_assert(!net->n[node_of(net, &res[j])].dead);
        kad_lookup_free(&l);
    }
    net_free(net);
}
END_TEST

START_TEST(disjoint_paths)
{
    struct net *net = net_new(7);   /* some dead nodes too */
    struct kad_lookup_config c = lcfg;
    c.paths = 3;
    c.max_candidates = K * 8 * 3;
    c.max_requests = K * 10 * 3;
    for (int t = 0; t < 6; t++) {
        int from = t * 29 % N;
        if (net->n[from].dead) from++;
        p2p_peerid target_id = net->n[(t * 53 + 11) % N].id;
        if (net->n[(t * 53 + 11) % N].dead) target_id = peer_n(31337 + (uint64_t)t);
        kad_key target;
        kad_key_from_peer(&target, &target_id);
        struct kad_lookup l;
        ck_assert_int_eq(kad_lookup_init(&l, &target, &net->n[from].id, &c), 0);
        struct run_stats st;
        run(net, from, &target, &l, &st);
        ck_assert_uint_le(st.max_inflight, 3 * 3);
        ck_assert_uint_gt(st.max_inflight, 3);   /* the paths run side by side */
        /* Every path took part; the seeds were dealt round-robin. */
        size_t per[3] = { 0 };
        for (size_t i = 0; i < l.n; i++) {
            ck_assert_uint_lt(l.p[i].path, 3);
            ck_assert(l.p[i].paths & (1u << l.p[i].path) || l.p[i].state == KAD_LK_NEW);
            per[l.p[i].path] += l.p[i].state == KAD_LK_OK;
        }
        for (int p = 0; p < 3; p++) ck_assert_uint_gt(per[p], 0);
        /* Together the paths find the closest live nodes (a node returns
         * its k closest, dead ones included, so with dead nodes a few of
         * the k may stay unseen, as in a single path). */
        p2p_peerid res[K], want[K];
        size_t nr = kad_lookup_result(&l, res, K);
        truth(net, from, &target, want);
        ck_assert_uint_ge(nr, K - 4);
        for (size_t i = 0; i < K / 2; i++) {
            bool in = false;
            for (size_t j = 0; j < nr && !in; j++) in = p2p_peerid_equal(&want[i], &res[j]);
            ck_assert_msg(in, "lookup %d missed the %zu-th closest node", t, i);
        }
        kad_lookup_free(&l);
    }
    net_free(net);
    struct kad_lookup l;
    kad_key target;
    memset(&target, 0, sizeof target);
    struct kad_lookup_config bad = lcfg;
    bad.paths = KAD_LK_MAX_PATHS + 1;
    ck_assert_int_eq(kad_lookup_init(&l, &target, NULL, &bad), P2P_EINVAL);
}
END_TEST

START_TEST(termination_edges)
{
    p2p_peerid self = peer_n(1), a = peer_n(2), b = peer_n(3), p;
    kad_key target;
    kad_key_from_peer(&target, &a);
    struct kad_lookup l;
    /* No candidates at all: done at once, empty result. */
    ck_assert_int_eq(kad_lookup_init(&l, &target, &self, &lcfg), 0);
    ck_assert_int_eq(kad_lookup_next(&l, 0, &p), KAD_LK_DONE);
    ck_assert_uint_eq(kad_lookup_result(&l, &p, 1), 0);
    kad_lookup_free(&l);
    /* Fewer than k peers, one answers, one times out. */
    ck_assert_int_eq(kad_lookup_init(&l, &target, &self, &lcfg), 0);
    ck_assert(kad_lookup_add(&l, &a));
    ck_assert(kad_lookup_add(&l, &b));
    ck_assert(!kad_lookup_add(&l, &a));      /* duplicate */
    ck_assert(!kad_lookup_add(&l, &self));   /* ourselves */
    ck_assert_int_eq(kad_lookup_next(&l, 0, &p), KAD_LK_SEND);
    ck_assert(p2p_peerid_equal(&p, &a));
    ck_assert_int_eq(kad_lookup_next(&l, 0, &p), KAD_LK_SEND);
    ck_assert(p2p_peerid_equal(&p, &b));
    ck_assert_int_eq(kad_lookup_next(&l, 0, &p), KAD_LK_WAIT);
    ck_assert_uint_eq(kad_lookup_deadline(&l), 1000);
    /* Answers from peers we did not ask are ignored. */
    p2p_peerid stranger = peer_n(9);
    ck_assert(!kad_lookup_response(&l, &stranger, &stranger, 1, 5));
    ck_assert_int_eq(kad_lookup_state(&l, &stranger), -1);
    ck_assert(kad_lookup_response(&l, &a, NULL, 0, 10));
    ck_assert(!kad_lookup_response(&l, &a, &stranger, 1, 11));   /* twice */
    ck_assert_int_eq(kad_lookup_state(&l, &stranger), -1);
    ck_assert_int_eq(kad_lookup_next(&l, 999, &p), KAD_LK_WAIT);
    ck_assert_int_eq(kad_lookup_next(&l, 1000, &p), KAD_LK_DONE);   /* b timed out */
    ck_assert_int_eq(kad_lookup_state(&l, &b), KAD_LK_FAILED);
    ck_assert(!kad_lookup_failure(&l, &b, 1001));
    ck_assert_uint_eq(kad_lookup_result(&l, &p, 5), 1);
    ck_assert(p2p_peerid_equal(&p, &a));
    kad_lookup_free(&l);
    /* The request budget ends a lookup that keeps finding new peers. */
    struct kad_lookup_config small = { 4, 2, 32, 5, 1000, 1 };
    ck_assert_int_eq(kad_lookup_init(&l, &target, &self, &small), 0);
    uint64_t n = 100;
    p2p_peerid first = peer_n(n++);
    kad_lookup_add(&l, &first);
    int sent = 0;
    for (int guard = 0; guard < 100; guard++) {
        int act = kad_lookup_next(&l, 0, &p);
        if (act == KAD_LK_DONE) break;
        ck_assert_int_eq(act, KAD_LK_SEND);
        sent++;
        /* Every answer brings 3 new peers, some closer. */
        p2p_peerid more[3] = { peer_n(n), peer_n(n + 1), peer_n(n + 2) };
        n += 3;
        kad_lookup_response(&l, &p, more, 3, 0);
    }
    ck_assert_int_eq(sent, 5);
    kad_lookup_free(&l);
    /* stop() ends at once. */
    ck_assert_int_eq(kad_lookup_init(&l, &target, &self, &lcfg), 0);
    kad_lookup_add(&l, &a);
    kad_lookup_stop(&l);
    ck_assert_int_eq(kad_lookup_next(&l, 0, &p), KAD_LK_DONE);
    ck_assert(!kad_lookup_add(&l, &b));
    kad_lookup_free(&l);
    struct kad_lookup_config bad = { 4, 0, 32, 5, 1000, 1 };
    ck_assert_int_eq(kad_lookup_init(&l, &target, &self, &bad), P2P_EINVAL);
}
END_TEST

START_TEST(candidates_bounded)
{
    p2p_peerid self = peer_n(1), p;
    kad_key target;
    memset(&target, 0, sizeof target);
    struct kad_lookup_config c = { 3, 1, 5, 0, 1000, 1 };
    struct kad_lookup l;
    ck_assert_int_eq(kad_lookup_init(&l, &target, &self, &c), 0);
    for (uint64_t i = 0; i < 200; i++) {
        p2p_peerid x = peer_n(500 + i);
        kad_lookup_add(&l, &x);
        ck_assert_uint_le(l.n, 5);
    }
    /* What is kept is the 5 closest of all 200. */
    p2p_peerid all[200];
    for (uint64_t i = 0; i < 200; i++) all[i] = peer_n(500 + i);
    qsort_r(all, 200, sizeof *all, by_distance, &target);
    for (size_t i = 0; i < 5; i++) ck_assert(p2p_peerid_equal(&l.p[i].id, &all[i]));
    ck_assert_int_eq(kad_lookup_next(&l, 0, &p), KAD_LK_SEND);
    kad_lookup_free(&l);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kad_lookup");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, finds_the_k_closest);
    tcase_add_test(tc, rounds_count_hops);
    tcase_add_test(tc, dead_and_junk_nodes);
    tcase_add_test(tc, disjoint_paths);
    tcase_add_test(tc, termination_edges);
    tcase_add_test(tc, candidates_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
