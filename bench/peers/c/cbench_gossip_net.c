/* cbench_gossip_net.c - gossipsub in a network of many peers on loopback
 * (bench/run.sh --gossip100): several processes, each running many hosts
 * (own identities) on one libuv loop.
 *
 *   cbench gossip-net --hosts H --total T --peers-file F [--dial D]
 *                     [--publishers K] [--rate R] [--count N] [--size B]
 *                     [--warmup-ms MS] [--idle-ms MS] [--linger-ms MS] [--unsigned]
 *                     [--verify-cache TABLES]
 *       Start H hosts listening on 127.0.0.1, all subscribed to "bench",
 *       and append their "<maddr>/p2p/<id>" lines to F (one short write
 *       each, O_APPEND). When F lists T hosts, every host dials D random
 *       others (default 3) and the next one in the file (a ring: the graph
 *       is connected), so each host has a handful of connections and the
 *       mesh forms by gossipsub (GRAFT/PRUNE), not by a full mesh. The
 *       process whose first host is line 0 of F publishes: after MS of
 *       warm-up (default 5000) its first K hosts (default 1) publish N
 *       messages (default 2000) of B bytes (default 1 KiB) at R per second
 *       in total (default 100), round robin, each carrying its sequence
 *       number and uv_hrtime() (one monotonic clock for the processes of
 *       the machine). P2P_EAGAIN is retried on the next 1 ms tick.
 *       Ends when every host of the process has every message, or after
 *       MS without a new delivery (--idle-ms, default 5000), and prints
 *       {"type":"gossip-net","hosts":H,"count":N,"received":R (deliveries
 *       to the hosts of this process, publishers' own messages excluded),
 *       "cpuSeconds":..,"verifyFast":..,"verifySlow":.. (Ed25519
 *       verifications with and without the key's table, p2p_verify_cache_stats;
 *       --verify-cache sets p2p_verify_cache_limit, 0 turns tables off),
 *       "latUs":[per message: the latest delivery to a
 *       host of this process, microseconds; -1 when one of them never got
 *       it]}; bench/run.sh combines the processes (the latency to ALL
 *       peers of a message is the maximum over processes). The hosts stay
 *       up --linger-ms (default 3000) longer: the other processes may still
 *       be receiving through them. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p2p/metrics.h>
#include <p2p/pubsub.h>

#include "cbench.h"

#define TOPIC "bench"
#define MAX_HOSTS 256
#define MAX_TOTAL 4096

struct node {
    struct net *net;
    int idx;                  /* line in the peers file */
    p2p_host *h;
    const struct p2p_pubsub_api_v1 *ps;
    void *st;
    uint8_t *seen;            /* bitmap of sequence numbers */
    uint64_t got;
};

struct net {
    uv_loop_t loop;
    struct node nodes[MAX_HOSTS];
    unsigned nhosts, total, dial, publishers;
    const char *file;
    uint64_t rate, count, sent, eagain, t_ready, t_last_rx, warmup_ms, idle_ms, linger_ms;
    size_t size;
    uint8_t *buf;
    int64_t *lat_ns;          /* per message: the latest delivery here */
    unsigned *ndelivered;     /* per message: hosts of ours that got it */
    bool publisher, dialled, publishing, done;
    uint64_t t_done;          /* results printed: the hosts stay a while for the other processes */
    uint64_t t0;
    double cpu_first_rx;      /* our CPU seconds at the first delivery */
    uv_timer_t tick;
    char (*lines)[256];
    unsigned nlines;
};

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void on_msg(const struct p2p_pubsub_msg *m, void *arg)
{
    struct node *n = arg;
    struct net *net = n->net;
    uint64_t now = uv_hrtime();
    if (m->len < 16) return;
    uint64_t seq = cbench_get64(m->data), t = cbench_get64(m->data + 8);
    if (seq >= net->count || (n->seen[seq / 8] & (1u << (seq % 8)))) return;
    n->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
    n->got++;
    if (!net->t_last_rx) net->cpu_first_rx = cbench_cpu_seconds();
    net->t_last_rx = now;
    int64_t lat = now > t ? (int64_t)(now - t) : 0;
    if (lat > net->lat_ns[seq]) net->lat_ns[seq] = lat;
    net->ndelivered[seq]++;
}

/* Hosts that publish do not receive their own messages: they expect the
 * others'. */
static uint64_t expected(const struct net *net, const struct node *n)
{
    if (!net->publisher || (unsigned)(n - net->nodes) >= net->publishers) return net->count;
    uint64_t own = 0;
    unsigned k = (unsigned)(n - net->nodes);
    for (uint64_t s = 0; s < net->count; s++) own += s % net->publishers == k;
    return net->count - own;
}

/* p2p_gossipsub_messages_total by event, summed over our hosts. */
struct gs_counts {
    uint64_t forwarded, cancelled, duplicate;
};

static void count_cb(const struct p2p_metric_info *m, const struct p2p_metric_sample *samples, size_t n, void *arg)
{
    struct gs_counts *c = arg;
    if (strcmp(m->name, "p2p_gossipsub_messages_total") != 0 || m->nlabels != 1) return;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(samples[i].values[0], "forwarded")) c->forwarded += samples[i].counter;
        else if (!strcmp(samples[i].values[0], "cancelled")) c->cancelled += samples[i].counter;
        else if (!strcmp(samples[i].values[0], "duplicate")) c->duplicate += samples[i].counter;
    }
}

static void finish(struct net *net)
{
    net->done = true;
    uint64_t received = 0;
    struct gs_counts c = { 0, 0, 0 };
    for (unsigned i = 0; i < net->nhosts; i++) {
        received += net->nodes[i].got;
        p2p_metrics_visit(net->nodes[i].h, count_cb, &c);
    }
    double cpu = cbench_cpu_seconds();
    struct p2p_verify_cache_stats vc;
    p2p_verify_cache_stats(&vc);
    printf("{\"type\":\"gossip-net\",\"hosts\":%u,\"count\":%llu,\"received\":%llu,\"sent\":%llu,\"eagain\":%llu,"
           "\"copies\":%llu,\"cancelled\":%llu,\"duplicates\":%llu,\"cpuSeconds\":%.3f,"
           "\"cpuDeliverySeconds\":%.3f,\"verifyFast\":%llu,\"verifySlow\":%llu,\"latUs\":[",
           net->nhosts, (unsigned long long)net->count, (unsigned long long)received, (unsigned long long)net->sent,
           (unsigned long long)net->eagain, (unsigned long long)(c.forwarded - c.cancelled),
           (unsigned long long)c.cancelled, (unsigned long long)c.duplicate, cpu,
           net->t_last_rx ? cpu - net->cpu_first_rx : 0.0, (unsigned long long)vc.fast,
           (unsigned long long)vc.slow);
    for (uint64_t s = 0; s < net->count; s++) {
        /* Every host of ours got it (a publishing host does not get its own). */
        unsigned want = net->nhosts - (net->publisher ? 1 : 0);
        long long v = net->ndelivered[s] >= want ? (long long)(net->lat_ns[s] / 1000) : -1;
        printf("%s%lld", s ? "," : "", v);
    }
    printf("]}\n");
    fflush(stdout);
    net->t_done = uv_hrtime();
}

/* The peers file: its lines so far. */
static unsigned read_lines(struct net *net)
{
    FILE *f = fopen(net->file, "r");
    if (!f) return 0;
    char line[256];
    unsigned n = 0;
    while (n < net->total && fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        if (!l || line[l - 1] != '\n') break;   /* still being written */
        line[l - 1] = 0;
        memcpy(net->lines[n++], line, l);
    }
    fclose(f);
    return n;
}

static void on_connected(int status, p2p_conn *c, void *arg)
{
    (void)c;
    (void)arg;
    if (status) fprintf(stderr, "cbench gossip-net: a dial failed: %s\n", p2p_strerror(status));
}

static void dial(struct net *net, struct node *n, unsigned to)
{
    p2p_multiaddr addr;
    p2p_peerid peer;
    if (cbench_target(net->lines[to], &addr, &peer) < 0) return;
    if (p2p_peerid_equal(&peer, p2p_host_peerid(n->h)) || p2p_host_conn_to(n->h, &peer)) return;
    p2p_host_connect(n->h, &peer, &addr, 1, on_connected, NULL);
}

static void dial_all(struct net *net)
{
    for (unsigned i = 0; i < net->nhosts; i++) {
        struct node *n = &net->nodes[i];
        dial(net, n, (unsigned)(n->idx + 1) % net->total);
        for (unsigned k = 0; k < net->dial; k++) dial(net, n, (unsigned)(rnd() % net->total));
    }
}

static void publish_due(struct net *net, uint64_t now)
{
    uint64_t due = net->rate ? (now - net->t0) * net->rate / 1000000000u + 1 : net->count;
    if (due > net->count) due = net->count;
    while (net->sent < due) {
        struct node *n = &net->nodes[net->sent % net->publishers];
        cbench_put64(net->buf, net->sent);
        cbench_put64(net->buf + 8, uv_hrtime());
        int rc = n->ps->publish(n->st, TOPIC, net->buf, net->size);
        if (rc == P2P_EAGAIN || rc == P2P_ENOTFOUND) {
            net->eagain++;
            return;   /* retried on the next tick */
        }
        if (rc != 0) {
            fprintf(stderr, "cbench gossip-net: publish %llu: %s\n", (unsigned long long)net->sent, p2p_strerror(rc));
            return finish(net);
        }
        net->sent++;
    }
}

static void on_tick(uv_timer_t *t)
{
    struct net *net = t->data;
    uint64_t now = uv_hrtime();
    if (net->done) {
        if (now - net->t_done > net->linger_ms * 1000000u) {
            uv_timer_stop(&net->tick);
            uv_stop(&net->loop);
        }
        return;
    }
    if (!net->dialled) {
        if (read_lines(net) < net->total) {
            if (now - net->t0 > 60000000000ull) {
                fprintf(stderr, "cbench gossip-net: only %u of %u hosts in %s after 60 s\n", read_lines(net),
                        net->total, net->file);
                finish(net);
            }
            return;
        }
        dial_all(net);
        net->dialled = true;
        net->t_ready = now;
        return;
    }
    if (net->publisher && !net->publishing && now - net->t_ready >= net->warmup_ms * 1000000u) {
        net->publishing = true;
        net->t0 = now;
    }
    if (net->publishing && net->sent < net->count) publish_due(net, now);
    /* A publishing process is done once it has published everything (its
     * publishing hosts expect only the others' messages: alone, none). */
    bool all = !net->publisher || net->sent == net->count;
    for (unsigned i = 0; i < net->nhosts && all; i++) all = net->nodes[i].got >= expected(net, &net->nodes[i]);
    uint64_t last = net->t_last_rx ? net->t_last_rx : net->t_ready;
    uint64_t idle_from = net->t_ready + (net->warmup_ms + 30000) * 1000000u;   /* before the first message */
    if (net->t_last_rx && net->t_last_rx > idle_from) idle_from = net->t_last_rx;
    if (all || (now > idle_from && now - last > net->idle_ms * 1000000u)) finish(net);
}

static int arg_num(const char *s, uint64_t *v, uint64_t lo, uint64_t hi)
{
    return cbench_num(s, v) == 0 && *v >= lo && *v <= hi ? 0 : -1;
}

int cbench_gossip_net(int argc, char **argv)
{
    static struct net net = { .nhosts = 25, .dial = 3, .publishers = 1, .rate = 100, .count = 2000, .size = 1024,
                              .warmup_ms = 5000, .idle_ms = 5000, .linger_ms = 3000 };
    const char *gs_ini = "[plugin gossipsub]\n";
    uint64_t v;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *b = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--unsigned")) {
            gs_ini = "[plugin gossipsub]\nsigning = strict-no-sign\n";
            continue;
        }
        if (!b) goto bad;
        i++;
        if (!strcmp(a, "--peers-file")) net.file = b;
        else if (!strcmp(a, "--hosts") && !arg_num(b, &v, 1, MAX_HOSTS)) net.nhosts = (unsigned)v;
        else if (!strcmp(a, "--total") && !arg_num(b, &v, 2, MAX_TOTAL)) net.total = (unsigned)v;
        else if (!strcmp(a, "--dial") && !arg_num(b, &v, 0, 64)) net.dial = (unsigned)v;
        else if (!strcmp(a, "--publishers") && !arg_num(b, &v, 1, MAX_HOSTS)) net.publishers = (unsigned)v;
        else if (!strcmp(a, "--rate") && !arg_num(b, &v, 0, 1000000)) net.rate = v;
        else if (!strcmp(a, "--count") && !arg_num(b, &v, 1, 10000000)) net.count = v;
        else if (!strcmp(a, "--size") && !arg_num(b, &v, 16, 65536)) net.size = (size_t)v;
        else if (!strcmp(a, "--warmup-ms") && !arg_num(b, &v, 0, 600000)) net.warmup_ms = v;
        else if (!strcmp(a, "--idle-ms") && !arg_num(b, &v, 100, 600000)) net.idle_ms = v;
        else if (!strcmp(a, "--linger-ms") && !arg_num(b, &v, 0, 600000)) net.linger_ms = v;
        else if (!strcmp(a, "--verify-cache") && !arg_num(b, &v, 0, 65536)) p2p_verify_cache_limit((size_t)v);
        else goto bad;
        continue;
    bad:
        fprintf(stderr, "cbench gossip-net: bad argument '%s'\n", a);
        return 2;
    }
    if (!net.file || net.total < net.nhosts || net.publishers > net.nhosts) {
        fprintf(stderr, "cbench gossip-net: need --peers-file, --total >= --hosts, --publishers <= --hosts\n");
        return 2;
    }
    net.buf = calloc(1, net.size);
    net.lat_ns = calloc(net.count, sizeof *net.lat_ns);
    net.ndelivered = calloc(net.count, sizeof *net.ndelivered);
    net.lines = calloc(net.total, sizeof *net.lines);
    if (!net.buf || !net.lat_ns || !net.ndelivered || !net.lines) return 1;
    uv_loop_init(&net.loop);
    int fd = open(net.file, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) {
        perror(net.file);
        return 1;
    }
    rng_state ^= (uint64_t)getpid() * 0x9E3779B97F4A7C15ull;
    for (unsigned i = 0; i < net.nhosts; i++) {
        struct node *n = &net.nodes[i];
        n->net = &net;
        n->seen = calloc(net.count / 8 + 1, 1);
        n->h = cbench_host("/ip4/127.0.0.1/tcp/0", "", gs_ini, &net.loop);
        if (!n->seen || !n->h) return 1;
        n->ps = p2p_service_get(n->h, P2P_PUBSUB_SERVICE, 1, &n->st);
        p2p_pubsub_sub *sub;
        if (!n->ps || n->ps->subscribe(n->st, TOPIC, on_msg, n, &sub) != 0) {
            fprintf(stderr, "cbench gossip-net: cannot subscribe\n");
            return 1;
        }
        p2p_multiaddr la;
        char a[256], id[128], line[400];
        if (p2p_host_listen_addrs(n->h, &la, 1) != 1 || p2p_maddr_to_string(&la, a, sizeof a) < 0 ||
            p2p_peerid_to_string(p2p_host_peerid(n->h), id, sizeof id) < 0) {
            fprintf(stderr, "cbench gossip-net: no listen address\n");
            return 1;
        }
        int l = snprintf(line, sizeof line, "%s/p2p/%s\n", a, id);
        if (l <= 0 || (size_t)l >= 256 || write(fd, line, (size_t)l) != l) {
            fprintf(stderr, "cbench gossip-net: cannot write %s\n", net.file);
            return 1;
        }
    }
    close(fd);
    /* Our hosts' lines in the file (others may have written in between). */
    unsigned n = 0;
    while ((n = read_lines(&net)) < net.nhosts) usleep(10000);
    for (unsigned i = 0; i < net.nhosts; i++) {
        char id[128];
        p2p_peerid_to_string(p2p_host_peerid(net.nodes[i].h), id, sizeof id);
        net.nodes[i].idx = -1;
        for (unsigned k = 0; k < net.total && k < MAX_TOTAL; k++) {
            if (k >= n) n = read_lines(&net);
            if (k < n && strstr(net.lines[k], id)) {
                net.nodes[i].idx = (int)k;
                break;
            }
        }
        if (net.nodes[i].idx < 0) {
            fprintf(stderr, "cbench gossip-net: our host is not in %s\n", net.file);
            return 1;
        }
    }
    net.publisher = net.nodes[0].idx == 0;
    net.t0 = uv_hrtime();
    uv_timer_init(&net.loop, &net.tick);
    net.tick.data = &net;
    /* The publisher's process ticks every millisecond (its publishing
     * clock); the others only watch the peers file and their progress:
     * with many processes of few hosts on a few cores, a 1 ms tick in each
     * would be thousands of needless wake-ups per second in the way of the
     * deliveries being measured. */
    uv_timer_start(&net.tick, on_tick, 1, net.publisher ? 1 : 10);
    uv_run(&net.loop, UV_RUN_DEFAULT);
    for (unsigned i = 0; i < net.nhosts; i++) p2p_host_free(net.nodes[i].h);
    uv_close((uv_handle_t *)&net.tick, NULL);
    uv_run(&net.loop, UV_RUN_NOWAIT);
    return net.done ? 0 : 1;
}
