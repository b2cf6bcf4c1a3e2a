/* cbench_kad.c - `cbench kad-lookup [--nodes N] [--lookups L]
 * [--bootstrap B] [--values V]`: lookups in an N-node Kademlia DHT.
 *
 * N DHT servers (default 200) on one loop in this process, each its own
 * host and identity on 127.0.0.1, with the real kad plugin (k = 20,
 * alpha = 3, persist = false). Nodes 0..B-1 (default 3) are the bootstrap
 * nodes: every other node has them as `bootstrap`. Once all run, each
 * node bootstraps again (routing service bootstrap(), 16 at a time) so
 * that the early ones learn the late ones. Then V values (default 20) are
 * put from random nodes (signed /p2pchat/ records), and L lookups
 * (default 200) run one after the other from random nodes, alternating:
 *   - closest_peers(random 32-byte key): a FIND_NODE lookup, compared with
 *     the true 20 closest (all PeerIds known here): exact = the same set;
 *   - get_value(one of the V keys): a GET_VALUE lookup (quorum 3), ok =
 *     the value that was put.
 * The cost of each comes from the routing service v3's stats(): rounds
 * (1 + the longest chain of responses before a peer was asked), requests
 * (peers contacted); time is measured here (call to callback). Prints
 *   {"type":"kad-lookup","nodes":N,"k":20,"alpha":3,"log2N":..,
 *    "bootstrapSeconds":..,"tableMedian":..,"tableMin":..,
 *    "findNode":{"lookups":..,"ok":..,"roundsMean":..,"roundsP50":..,
 *      "roundsMax":..,"roundsHist":[..],"requestsMean":..,"requestsP99":..,
 *      "msP50":..,"msP99":..,"msMax":..},
 *    "getValue":{...the same...}}
 * (ok = exact for findNode). Exit 1 if a lookup fails outright.
 * CBENCH_DEBUG=1 lists the nodes with fewer than k peers in their table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p2p/routing.h>

#include "cbench.h"

#define K 20
#define ALPHA 3
#define BOOT_BATCH 16
#define MAX_ROUNDS_HIST 10

struct node {
    p2p_host *h;
    const struct p2p_routing_api_v3 *rt;
    void *st;
    uint8_t key[32];         /* sha256 of the PeerId: its place in the key space */
};

struct sample {
    size_t rounds, requests;
    double ms;
    bool ok;
};

struct kb {
    uv_loop_t loop;
    struct node *n;
    unsigned nodes, lookups, nboot, nvalues;
    /* bootstrap phase */
    unsigned boot_next, boot_done, boot_inflight;
    /* values */
    uint8_t **vkey, **val;
    size_t *vklen, *vlen;
    /* the operation under way */
    bool done;
    int status;
    uint64_t id;
    struct p2p_routing_stats stats;
    size_t nres;
    p2p_peerid res[K];
    bool value_ok;
    const uint8_t *want;
    size_t wantlen;
    unsigned asker;
    uint64_t rng;
};

static uint64_t rnd(struct kb *b)
{
    b->rng ^= b->rng << 13;
    b->rng ^= b->rng >> 7;
    b->rng ^= b->rng << 17;
    return b->rng;
}

static void sha256(const uint8_t *in, size_t len, uint8_t out[32])
{
    uint8_t mh[34];
    p2p_multihash_sha256(in, len, mh);
    memcpy(out, mh + 2, 32);
}

static bool closer(const uint8_t *a, const uint8_t *b, const uint8_t *t)
{
    for (int i = 0; i < 32; i++) {
        uint8_t da = a[i] ^ t[i], db = b[i] ^ t[i];
        if (da != db) return da < db;
    }
    return false;
}

/* The K nodes closest to target other than `except` (indices), brute force. */
static void truth(struct kb *b, const uint8_t target[32], unsigned except, unsigned out[K])
{
    unsigned n = 0;
    for (unsigned i = 0; i < b->nodes; i++) {
        if (i == except) continue;
        unsigned j = n < K ? n++ : K;
        if (j == K && !closer(b->n[i].key, b->n[out[K - 1]].key, target)) continue;
        if (j == K) j = K - 1;
        while (j > 0 && closer(b->n[i].key, b->n[out[j - 1]].key, target)) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = i;
    }
}

static void run_until_done(struct kb *b)
{
    while (!b->done && uv_run(&b->loop, UV_RUN_ONCE)) {}
}

/* ---- bootstrap ---------------------------------------------------------------- */

static void boot_more(struct kb *b);

static void on_boot(int status, size_t count, void *arg)
{
    struct kb *b = arg;
    (void)count;
    if (status && status != P2P_ENOTFOUND)
        fprintf(stderr, "cbench kad-lookup: a bootstrap ended with %s\n", p2p_strerror(status));
    b->boot_done++;
    b->boot_inflight--;
    boot_more(b);
}

static void boot_more(struct kb *b)
{
    while (b->boot_next < b->nodes && b->boot_inflight < BOOT_BATCH) {
        struct node *n = &b->n[b->boot_next++];
        b->boot_inflight++;
        if (n->rt->bootstrap(n->st, on_boot, b, NULL) < 0) {
            b->boot_inflight--;
            b->boot_done++;
        }
    }
    if (b->boot_done == b->nodes) b->done = true;
}

/* ---- lookups ------------------------------------------------------------------ */

static void on_peers(int status, const struct p2p_routing_peer *p, size_t n, void *arg)
{
    struct kb *b = arg;
    b->done = true;
    b->status = status;
    b->nres = n < K ? n : K;
    for (size_t i = 0; i < b->nres; i++) b->res[i] = p[i].id;
    struct node *a = &b->n[b->asker];
    if (a->rt->stats(a->st, b->id, &b->stats) < 0) memset(&b->stats, 0, sizeof b->stats);
}

static void on_value(int status, const uint8_t *v, size_t len, void *arg)
{
    struct kb *b = arg;
    b->done = true;
    b->status = status;
    b->value_ok = status == 0 && len == b->wantlen && !memcmp(v, b->want, len);
    struct node *a = &b->n[b->asker];
    if (a->rt->stats(a->st, b->id, &b->stats) < 0) memset(&b->stats, 0, sizeof b->stats);
}

static void on_put(int status, size_t count, void *arg)
{
    struct kb *b = arg;
    (void)count;
    b->done = true;
    b->status = status;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, c = *(const double *)y;
    return a < c ? -1 : a > c;
}

static int cmp_size(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, c = *(const size_t *)y;
    return a < c ? -1 : a > c;
}

static void print_kind(const char *name, struct sample *s, unsigned n)
{
    double *ms = calloc(n ? n : 1, sizeof *ms);
    size_t *req = calloc(n ? n : 1, sizeof *req), *rounds = calloc(n ? n : 1, sizeof *rounds);
    unsigned ok = 0, hist[MAX_ROUNDS_HIST] = { 0 };
    double rsum = 0, qsum = 0;
    for (unsigned i = 0; i < n; i++) {
        ms[i] = s[i].ms;
        req[i] = s[i].requests;
        rounds[i] = s[i].rounds;
        ok += s[i].ok;
        rsum += (double)s[i].rounds;
        qsum += (double)s[i].requests;
        hist[s[i].rounds < MAX_ROUNDS_HIST ? s[i].rounds : MAX_ROUNDS_HIST - 1]++;
    }
    qsort(ms, n, sizeof *ms, cmp_double);
    qsort(req, n, sizeof *req, cmp_size);
    qsort(rounds, n, sizeof *rounds, cmp_size);
#define PCT(a, p) ((a)[n ? (size_t)((n - 1) * (p) + 0.5) : 0])
    printf("\"%s\":{\"lookups\":%u,\"ok\":%u,\"roundsMean\":%.2f,\"roundsP50\":%zu,\"roundsMax\":%zu,\"roundsHist\":[",
           name, n, ok, n ? rsum / n : 0, n ? PCT(rounds, 0.5) : 0, n ? rounds[n - 1] : 0);
    for (int i = 0; i < MAX_ROUNDS_HIST; i++) printf("%s%u", i ? "," : "", hist[i]);
    printf("],\"requestsMean\":%.1f,\"requestsP99\":%zu,\"msP50\":%.3f,\"msP99\":%.3f,\"msMax\":%.3f}", n ? qsum / n : 0,
           n ? PCT(req, 0.99) : 0, n ? PCT(ms, 0.5) : 0, n ? PCT(ms, 0.99) : 0, n ? ms[n - 1] : 0);
#undef PCT
    free(ms);
    free(req);
    free(rounds);
}

static int start_nodes(struct kb *b)
{
    char boot[4096] = "";
    size_t bl = 0;
    for (unsigned i = 0; i < b->nodes; i++) {
        char sections[4600];
        snprintf(sections, sizeof sections,
                 "[plugin kad]\nmode = server\npersist = false\nrequest_timeout = 5s\nquery_timeout = 30s\n%s%s\n",
                 bl ? "bootstrap = " : "", boot);
        struct node *n = &b->n[i];
        n->h = cbench_host("/ip4/127.0.0.1/tcp/0", "max_connections = 4096\n", sections, &b->loop);
        if (!n->h) return -1;
        n->rt = p2p_service_get(n->h, P2P_ROUTING_SERVICE, 3, &n->st);
        if (!n->rt) {
            fprintf(stderr, "cbench kad-lookup: the kad plugin provides no routing service v3\n");
            return -1;
        }
        const p2p_peerid *id = p2p_host_peerid(n->h);
        sha256(id->bytes, id->len, n->key);
        /* Let the loop serve the dials and handshakes started so far: a
         * loop left alone while hundreds of hosts start would time their
         * first bootstrap dials out. */
        for (int j = 0; j < 64 && uv_run(&b->loop, UV_RUN_NOWAIT); j++) {}
        if (i < b->nboot) {   /* the next nodes bootstrap from this one too */
            p2p_multiaddr a[4];
            char as[P2P_MADDR_STRMAX], ids[P2P_PEERID_STRMAX];
            if (p2p_host_listen_addrs(n->h, a, 4) < 1 || p2p_maddr_to_string(&a[0], as, sizeof as) < 0) return -1;
            p2p_peerid_to_string(id, ids, sizeof ids);
            int w = snprintf(boot + bl, sizeof boot - bl, "%s%s/p2p/%s", bl ? ", " : "", as, ids);
            if (w < 0 || (size_t)w >= sizeof boot - bl) return -1;
            bl += (size_t)w;
        }
    }
    return 0;
}

int cbench_kad_lookup(int argc, char **argv)
{
    static struct kb b = { .nodes = 200, .lookups = 200, .nboot = 3, .nvalues = 20, .rng = 0x9e3779b97f4a7c15ull };
    uint64_t v;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool num = val && cbench_num(val, &v) == 0;
        if (!strcmp(a, "--nodes") && num && v >= K + 2 && v <= 5000) b.nodes = (unsigned)v;
        else if (!strcmp(a, "--lookups") && num && v >= 2 && v <= 1000000) b.lookups = (unsigned)v;
        else if (!strcmp(a, "--bootstrap") && num && v >= 1 && v <= 16) b.nboot = (unsigned)v;
        else if (!strcmp(a, "--values") && num && v >= 1 && v <= 10000) b.nvalues = (unsigned)v;
        else if (!strcmp(a, "--seed") && num) b.rng = v | 1;
        else {
            fprintf(stderr, "cbench kad-lookup: bad argument '%s'\n", a);
            return 2;
        }
        i++;
    }
    if (b.nboot >= b.nodes) b.nboot = 1;
    b.n = calloc(b.nodes, sizeof *b.n);
    b.vkey = calloc(b.nvalues, sizeof *b.vkey);
    b.val = calloc(b.nvalues, sizeof *b.val);
    b.vklen = calloc(b.nvalues, sizeof *b.vklen);
    b.vlen = calloc(b.nvalues, sizeof *b.vlen);
    struct sample *fn = calloc(b.lookups, sizeof *fn), *gv = calloc(b.lookups, sizeof *gv);
    if (!b.n || !b.vkey || !b.val || !b.vklen || !b.vlen || !fn || !gv || uv_loop_init(&b.loop) != 0) return 1;
    int status = 1;
    uint64_t t0 = uv_hrtime();
    if (start_nodes(&b) < 0) goto out;
    /* Everybody bootstraps again, now that everybody runs. */
    b.done = false;
    boot_more(&b);
    run_until_done(&b);
    double boot_s = (uv_hrtime() - t0) / 1e9;
    size_t *tables = calloc(b.nodes, sizeof *tables);
    if (!tables) goto out;
    for (unsigned i = 0; i < b.nodes; i++) {
        tables[i] = b.n[i].rt->table(b.n[i].st, NULL, 0);
        if (tables[i] < K && getenv("CBENCH_DEBUG"))
            fprintf(stderr, "cbench kad-lookup: node %u: %zu peers in its table, %zu connections\n", i, tables[i],
                    p2p_host_conns(b.n[i].h, NULL, 0));
    }
    qsort(tables, b.nodes, sizeof *tables, cmp_size);
    size_t tmed = tables[b.nodes / 2], tmin = tables[0];
    free(tables);
    fprintf(stderr, "cbench kad-lookup: %u nodes up and bootstrapped in %.1f s; routing tables: median %zu, min %zu\n",
            b.nodes, boot_s, tmed, tmin);

    /* Values, put from random nodes. */
    for (unsigned i = 0; i < b.nvalues; i++) {
        struct node *n = &b.n[rnd(&b) % b.nodes];
        char name[32], data[64];
        snprintf(name, sizeof name, "bench%u", i);
        int dl = snprintf(data, sizeof data, "value %u of cbench kad-lookup", i);
        if (n->rt->seal_record(n->st, name, (const uint8_t *)data, (size_t)dl, &b.vkey[i], &b.vklen[i], &b.val[i],
                               &b.vlen[i]) < 0)
            goto out;
        b.done = false;
        if (n->rt->put_value(n->st, b.vkey[i], b.vklen[i], b.val[i], b.vlen[i], on_put, &b, NULL) < 0) goto out;
        run_until_done(&b);
        if (b.status) {
            fprintf(stderr, "cbench kad-lookup: put_value %u: %s\n", i, p2p_strerror(b.status));
            goto out;
        }
    }

    /* Lookups, one at a time. */
    unsigned nfn = 0, ngv = 0;
    for (unsigned i = 0; i < b.lookups; i++) {
        b.asker = (unsigned)(rnd(&b) % b.nodes);
        struct node *a = &b.n[b.asker];
        b.done = false;
        uint64_t s0 = uv_hrtime();
        int rc;
        if (i % 2 == 0) {
            uint8_t key[32];
            for (int j = 0; j < 32; j += 8) {
                uint64_t r = rnd(&b);
                memcpy(key + j, &r, 8);
            }
            rc = a->rt->closest_peers(a->st, key, sizeof key, on_peers, &b, &b.id);
            if (rc < 0) goto lookup_failed;
            run_until_done(&b);
            struct sample *s = &fn[nfn++];
            s->ms = (uv_hrtime() - s0) / 1e6;
            s->rounds = b.stats.rounds;
            s->requests = b.stats.requests;
            if (b.status) {
                rc = b.status;
                goto lookup_failed;
            }
            uint8_t target[32];
            unsigned want[K];
            sha256(key, sizeof key, target);
            truth(&b, target, b.asker, want);
            bool exact = b.nres == K;
            for (unsigned w = 0; w < K && exact; w++) {
                bool found = false;
                for (size_t j = 0; j < b.nres && !found; j++)
                    found = p2p_peerid_equal(&b.res[j], p2p_host_peerid(b.n[want[w]].h));
                exact = found;
            }
            s->ok = exact;
        } else {
            unsigned vi = (unsigned)(rnd(&b) % b.nvalues);
            b.want = b.val[vi];
            b.wantlen = b.vlen[vi];
            rc = a->rt->get_value(a->st, b.vkey[vi], b.vklen[vi], 0, on_value, &b, &b.id);
            if (rc < 0) goto lookup_failed;
            run_until_done(&b);
            struct sample *s = &gv[ngv++];
            s->ms = (uv_hrtime() - s0) / 1e6;
            s->rounds = b.stats.rounds;
            s->requests = b.stats.requests;
            s->ok = b.value_ok;
        }
        continue;
    lookup_failed:
        fprintf(stderr, "cbench kad-lookup: lookup %u from node %u: %s\n", i, b.asker, p2p_strerror(rc));
        goto out;
    }
    printf("{\"type\":\"kad-lookup\",\"nodes\":%u,\"k\":%d,\"alpha\":%d,\"log2N\":%.2f,\"bootstrapNodes\":%u,"
           "\"values\":%u,\"bootstrapSeconds\":%.3f,\"tableMedian\":%zu,\"tableMin\":%zu,",
           b.nodes, K, ALPHA, log2((double)b.nodes), b.nboot, b.nvalues, boot_s, tmed, tmin);
    print_kind("findNode", fn, nfn);
    printf(",");
    print_kind("getValue", gv, ngv);
    printf("}\n");
    fflush(stdout);
    status = 0;
out:
    for (unsigned i = 0; i < b.nodes; i++)
        if (b.n[i].h) p2p_host_stop(b.n[i].h);
    uv_run(&b.loop, UV_RUN_DEFAULT);
    for (unsigned i = 0; i < b.nodes; i++)
        if (b.n[i].h) p2p_host_free(b.n[i].h);
    uv_run(&b.loop, UV_RUN_DEFAULT);
    uv_loop_close(&b.loop);
    for (unsigned i = 0; i < b.nvalues; i++) {
        free(b.vkey[i]);
        free(b.val[i]);
    }
    free(b.vkey);
    free(b.val);
    free(b.vklen);
    free(b.vlen);
    free(fn);
    free(gv);
    free(b.n);
    return status;
}
