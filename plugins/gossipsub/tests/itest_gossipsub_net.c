/* itest_gossipsub_net.c - unit.gossipsub_hosts20: twenty hosts in one
 * process on one loop over real loopback TCP with the transport-tcp,
 * noise, yamux, identify and gossipsub plugins (loaded from the build
 * tree), in a sparse random topology: every host dials three random
 * others (seeded; components joined if the draw left the graph
 * disconnected). All subscribe to one topic; once the meshes settle,
 * every mesh degree is within [min(D_lo, topic peers), D_hi]; then every
 * host publishes several messages and every other host receives each
 * exactly once (and nothing of its own).
 *
 * GS_NET_SEED=<n> in the environment picks another topology; the degree
 * distribution and the timings are printed on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ihost.h"
#include "p2p/pubsub.h"
#include "testutil.h"

#define N 20
#define DIALS 3         /* each host dials this many others */
#define MSGS 5          /* messages published per host */
#define D_LO 5          /* the plugin's defaults (gs_config_default) */
#define D_HI 12
#define ROOM "swarm-room"

static const char *GS_SECTIONS =
    "[plugin identify]\npush_delay = 50ms\n"
    "[plugin gossipsub]\nheartbeat_interval = 100ms\nheartbeat_initial_delay = 50ms\n";

struct node {
    p2p_host *h;
    const struct p2p_pubsub_api_v1 *ps;
    void *st;
    p2p_pubsub_sub *sub;
    int got[N][MSGS];   /* deliveries per (publisher, message number) */
    int total, stray;
};

static struct node nodes[N];
static bool adj[N][N];
static int deg[N];
static uv_loop_t loop;

static int index_of(const p2p_peerid *id)
{
    for (int i = 0; i < N; i++)
        if (p2p_peerid_equal(id, p2p_host_peerid(nodes[i].h))) return i;
    return -1;
}

static void on_msg(const struct p2p_pubsub_msg *m, void *arg)
{
    struct node *n = arg;
    int from = -1, k = -1;
    char buf[64];
    size_t len = m->len < sizeof buf - 1 ? m->len : sizeof buf - 1;
    memcpy(buf, m->data, len);
    buf[len] = 0;
    n->total++;
    if (strcmp(m->topic, ROOM) || sscanf(buf, "m %d %d", &from, &k) != 2 || from < 0 || from >= N || k < 0 ||
        k >= MSGS || !m->author || index_of(m->author) != from) {
        n->stray++;
        return;
    }
    n->got[from][k]++;
}

/* ---- topology ------------------------------------------------------------------------ */

static uint64_t rng;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static int find(int *parent, int x)
{
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
}

struct edge {
    int a, b;   /* a dials b */
};

/* Edges: DIALS random distinct peers per host (an edge dialled by the
 * other side already counts), then one edge per extra component. */
static int make_topology(struct edge *e, int max)
{
    int ne = 0;
    memset(adj, 0, sizeof adj);
    for (int i = 0; i < N; i++) {
        int dialled = 0, tries = 0;
        while (dialled < DIALS && tries++ < 1000) {
            int j = (int)(rnd() % N);
            if (j == i || adj[i][j]) continue;
            adj[i][j] = adj[j][i] = true;
            ck_assert_int_lt(ne, max);
            e[ne++] = (struct edge){ i, j };
            dialled++;
        }
    }
    int parent[N];
    for (int i = 0; i < N; i++) parent[i] = i;
    for (int k = 0; k < ne; k++) parent[find(parent, e[k].a)] = find(parent, e[k].b);
    for (int i = 1; i < N; i++) {
        if (find(parent, i) == find(parent, 0)) continue;
        int j = (int)(rnd() % N);
        while (find(parent, j) != find(parent, 0)) j = (int)(rnd() % N);
        adj[i][j] = adj[j][i] = true;
        ck_assert_int_lt(ne, max);
        e[ne++] = (struct edge){ i, j };
        parent[find(parent, i)] = find(parent, 0);
    }
    for (int i = 0; i < N; i++) {
        deg[i] = 0;
        for (int j = 0; j < N; j++) deg[i] += adj[i][j];
    }
    return ne;
}

struct dial {
    int a, b;
    bool done;
    int status;
};

static int dials_left;

static void on_connected(int status, p2p_conn *c, void *arg)
{
    (void)c;
    struct dial *d = arg;
    d->done = true;
    d->status = status;
    dials_left--;
}

static bool dials_done(void *arg)
{
    (void)arg;
    return dials_left == 0;
}

/* ---- conditions ------------------------------------------------------------------------ */

static size_t mesh_of(int i, p2p_peerid *v, size_t max)
{
    return nodes[i].ps->mesh_peers(nodes[i].st, ROOM, v, max);
}

static size_t topic_peers_of(int i)
{
    p2p_peerid v[N];
    return nodes[i].ps->topic_peers(nodes[i].st, ROOM, v, N);
}

static bool degree_ok(int i, size_t *mesh_out)
{
    p2p_peerid v[N];
    size_t m = mesh_of(i, v, N), tp = topic_peers_of(i);
    size_t lo = tp < D_LO ? tp : D_LO;
    if (mesh_out) *mesh_out = m;
    return m >= lo && m <= D_HI;
}

static bool meshes_ready(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++) {
        if ((int)topic_peers_of(i) != deg[i]) return false;
        if (!degree_ok(i, NULL)) return false;
    }
    return true;
}

static bool all_delivered(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++)
        if (nodes[i].total < (N - 1) * MSGS) return false;
    return true;
}

/* Mesh edges seen from one side only (a GRAFT or PRUNE in flight, or a
 * refused GRAFT not yet answered). */
static int asymmetric_mesh_links(void)
{
    int asym = 0;
    for (int i = 0; i < N; i++) {
        p2p_peerid v[N];
        size_t m = mesh_of(i, v, N);
        for (size_t k = 0; k < m && k < N; k++) {
            int j = index_of(&v[k]);
            ck_assert_msg(j >= 0 && j != i, "host %d has an unknown mesh peer", i);
            ck_assert_msg(adj[i][j], "host %d has %d in its mesh without a connection", i, j);
            p2p_peerid w[N];
            size_t mj = mesh_of(j, w, N);
            bool back = false;
            for (size_t l = 0; l < mj && l < N; l++) back |= p2p_peerid_equal(&w[l], p2p_host_peerid(nodes[i].h));
            asym += !back;
        }
    }
    return asym;
}

static void report_degrees(const char *when)
{
    int hist[D_HI + 2] = { 0 };
    int conn_hist[N] = { 0 };
    size_t sum = 0, mn = (size_t)-1, mx = 0;
    for (int i = 0; i < N; i++) {
        size_t m;
        bool ok = degree_ok(i, &m);
        ck_assert_msg(ok, "%s: host %d: mesh degree %zu with %zu topic peers, outside [min(%d, %zu), %d]", when, i, m,
                      topic_peers_of(i), D_LO, topic_peers_of(i), D_HI);
        hist[m > D_HI ? D_HI + 1 : m]++;
        conn_hist[deg[i]]++;
        sum += m;
        if (m < mn) mn = m;
        if (m > mx) mx = m;
    }
    fprintf(stderr, "gossipsub_hosts20: %s: mesh degree min %zu max %zu mean %.2f; histogram (degree:hosts)", when, mn,
            mx, (double)sum / N);
    for (int d = 0; d <= D_HI; d++)
        if (hist[d]) fprintf(stderr, " %d:%d", d, hist[d]);
    fprintf(stderr, "; connections (count:hosts)");
    for (int d = 0; d < N; d++)
        if (conn_hist[d]) fprintf(stderr, " %d:%d", d, conn_hist[d]);
    fprintf(stderr, "; asymmetric mesh links %d\n", asymmetric_mesh_links());
}

/* ---- the test ---------------------------------------------------------------------------- */

START_TEST(twenty_hosts_sparse_random)
{
    uint64_t t_start = uv_hrtime();
    const char *seed = getenv("GS_NET_SEED");
    rng = seed && *seed ? strtoull(seed, NULL, 0) : 0x9e3779b97f4a7c15ull;
    if (!rng) rng = 1;
    struct edge edges[N * DIALS + N];
    int ne = make_topology(edges, (int)(sizeof edges / sizeof edges[0]));

    uv_loop_init(&loop);
    memset(nodes, 0, sizeof nodes);
    for (int i = 0; i < N; i++) {
        nodes[i].h = ihost_new(&loop, NULL, GS_SECTIONS);
        ihost_start(nodes[i].h);
        nodes[i].ps = p2p_service_get(nodes[i].h, P2P_PUBSUB_SERVICE, 1, &nodes[i].st);
        ck_assert_ptr_nonnull(nodes[i].ps);
        ck_assert_int_eq(nodes[i].ps->subscribe(nodes[i].st, ROOM, on_msg, &nodes[i], &nodes[i].sub), 0);
    }

    /* All dials at once. */
    static struct dial d[N * DIALS + N];
    dials_left = ne;
    for (int k = 0; k < ne; k++) {
        d[k] = (struct dial){ edges[k].a, edges[k].b, false, 0 };
        p2p_multiaddr addr = ihost_addr(nodes[edges[k].b].h);
        ck_assert_int_eq(p2p_host_connect(nodes[edges[k].a].h, p2p_host_peerid(nodes[edges[k].b].h), &addr, 1,
                                          on_connected, &d[k]),
                         0);
    }
    ck_assert_msg(ihost_run_cond(&loop, dials_done, NULL, 20000), "%d dials did not finish", dials_left);
    for (int k = 0; k < ne; k++)
        ck_assert_msg(d[k].status == 0, "dial %d->%d: %s", d[k].a, d[k].b, p2p_strerror(d[k].status));
    uint64_t t_connected = uv_hrtime();

    ck_assert_msg(ihost_run_cond(&loop, meshes_ready, NULL, 20000), "meshes did not settle");
    uint64_t t_settled = uv_hrtime();
    report_degrees("settled");
    /* A few more heartbeats: the meshes stay within bounds. */
    ihost_run_for(&loop, 500);
    report_degrees("settled + 5 heartbeats");

    for (int k = 0; k < MSGS; k++) {
        for (int i = 0; i < N; i++) {
            char data[32];
            snprintf(data, sizeof data, "m %d %d", i, k);
            int rc = nodes[i].ps->publish(nodes[i].st, ROOM, (const uint8_t *)data, strlen(data));
            ck_assert_msg(rc == 0, "publish %d/%d: %s", i, k, p2p_strerror(rc));
        }
        ihost_run_for(&loop, 10);
    }
    uint64_t t_published = uv_hrtime();
    ck_assert_msg(ihost_run_cond(&loop, all_delivered, NULL, 20000), "not every message arrived");
    uint64_t t_delivered = uv_hrtime();
    /* Heartbeats and gossip (IHAVE/IWANT) for a while: no duplicates. */
    ihost_run_for(&loop, 1000);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(nodes[i].stray == 0, "host %d got %d unexpected messages", i, nodes[i].stray);
        for (int j = 0; j < N; j++)
            for (int k = 0; k < MSGS; k++)
                ck_assert_msg(nodes[i].got[j][k] == (i == j ? 0 : 1), "host %d got message %d of host %d %d times", i,
                              k, j, nodes[i].got[j][k]);
        ck_assert_int_eq(nodes[i].total, (N - 1) * MSGS);
    }
    report_degrees("after publishing");
    fprintf(stderr,
            "gossipsub_hosts20: %d hosts, %d connections; connect %.0f ms, mesh settle %.0f ms, "
            "%d messages delivered to %d hosts each in %.0f ms; total %.0f ms\n",
            N, ne, (double)(t_connected - t_start) / 1e6, (double)(t_settled - t_connected) / 1e6, N * MSGS, N - 1,
            (double)(t_delivered - t_published) / 1e6, (double)(uv_hrtime() - t_start) / 1e6);

    for (int i = 0; i < N; i++) p2p_host_free(nodes[i].h);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gossipsub_hosts20");
    TCase *tc = tcase_create("hosts20");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, twenty_hosts_sparse_random);
    suite_add_tcase(s, tc);
    return p2p_test_run(s);
}
