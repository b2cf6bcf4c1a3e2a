/* test_relay_hostile.c - unit.relay_hostile (labels unit, integration,
 * hostile): a circuit relay under a reservation and circuit flood from
 * many identities, over loopback TCP with the real transport-tcp, noise,
 * yamux and relay plugins on one loop (issue 9: "reserve relay slots from
 * many identities").
 *
 * The relay R has small limits (max_reservations 24, per IP 8, circuits
 * 6, per peer 2) and short reservations (4 s, renewed at 3/4). An honest
 * client H (127.0.0.1) reserves first and serves echo; an honest dialer D
 * (127.0.0.1) reaches it through R. Then the attack:
 *   1. N hostile identities reserve at once (default 48, HOSTILE_RELAY_IDENTITIES):
 *      16 from 127.0.0.2 (over the per-IP limit), the rest 4 per address
 *      from 127.0.0.3 on (under it, but more than max_reservations in all),
 *      and they keep retrying (retry_interval 500 ms). R holds at most 8
 *      from 127.0.0.2 and at most 24 in all; refusals are counted under
 *      max_reservations_per_ip and max_reservations, and a RESERVE on the
 *      wire gets RESERVATION_REFUSED. H keeps its reservation through
 *      renewals during the flood; D then dials H through R and echoes
 *      64 KiB (time printed, bounded by 10 s).
 *   2. Every hostile identity holding a reservation dials circuits to the
 *      others: one peer gets at most 2 (max_circuits_per_peer), R at most
 *      6 in all (D's among them), the rest is refused (P2P_ELIMIT;
 *      RESOURCE_LIMIT_EXCEEDED on the wire), and D's circuit keeps echoing.
 * Memory: R's tables never exceed their limits (checked all along) and the
 * test prints the process's RSS growth (every host is in this process).
 * The long variant: HOSTILE_RELAY_IDENTITIES=400 (scripts/hostile.sh). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "echo.h"
#include "ihost.h"
#include "relay_harness.h"
#include "testutil.h"

#define MAX_RSVP 24
#define MAX_PER_IP 8
#define MAX_CIRC 6
#define MAX_CIRC_PER_PEER 2
#define SAME_IP 16   /* hostile identities on 127.0.0.2 */
#define PER_ADDR 4   /* the others: this many per address */
#define ECHO_BYTES (64 * 1024)
#define LATENCY_BOUND_MS 10000

static const char server_keys[] =
    "server = true\nclient = false\nmax_reservations = 24\nmax_reservations_per_ip = 8\n"
    "max_circuits = 6\nmax_circuits_per_peer = 2\nreservation_duration = 4s\ncircuit_bytes = 1MiB\n";

struct hostile {
    uv_loop_t loop;
    p2p_host *r, *h, *d;
    p2p_host **x;            /* the hostile identities */
    unsigned nx;
    char relays[1024];
    size_t max_rsvps, max_circs;   /* largest table sizes seen on R */
};

static size_t rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kib = strtoul(line + 6, NULL, 10);
    if (f) fclose(f);
    return kib;
}

static uint64_t now_ms(void) { return uv_hrtime() / 1000000; }

static void watch(struct hostile *t)
{
    struct relay_st *rs = rh_state(t->r);
    if (rs->table.nrsvps > t->max_rsvps) t->max_rsvps = rs->table.nrsvps;
    if (rs->ncircuits > t->max_circs) t->max_circs = rs->ncircuits;
}

/* Run the loop for ms, watching R's tables every 50 ms. */
static void run_watching(struct hostile *t, uint64_t ms)
{
    for (uint64_t end = now_ms() + ms; now_ms() < end;) {
        ihost_run_for(&t->loop, 50);
        watch(t);
    }
}

static int64_t metric(p2p_host *h, const char *name, const char *label)
{
    p2p_metric *m = p2p_metric_find(h, name);
    ck_assert_msg(m != NULL, "no metric %s", name);
    p2p_metric_series *s = p2p_metric_get(m, label ? (const char *const[]){ label } : NULL);
    return (int64_t)p2p_counter_value(s) + p2p_gauge_value(s);
}

static unsigned identities(void)
{
    const char *e = getenv("HOSTILE_RELAY_IDENTITIES");
    long n = e ? strtol(e, NULL, 10) : 48;
    if (n < SAME_IP + MAX_RSVP) n = SAME_IP + MAX_RSVP;
    if (n > 2000) n = 2000;
    return (unsigned)n;
}

static void ignore_connected(int status, p2p_conn *c, void *arg)
{
    (void)status; (void)c; (void)arg;   /* the relay client reports */
}

static bool h_reserved(void *arg) { return rh_has_circuit(((struct hostile *)arg)->h); }

struct echo_wait {
    bool done;
};

static void on_echo_done(struct echo_client *c) { ((struct echo_wait *)c->user)->done = true; }

/* D echoes ECHO_BYTES to H on c; returns the time taken (asserts success). */
static uint64_t echo_through(struct hostile *t, p2p_conn *c, uint32_t seed)
{
    struct echo_wait w = { 0 };
    struct echo_client e = { .total = ECHO_BYTES, .seed = seed, .done = on_echo_done, .user = &w };
    uint64_t t0 = now_ms();
    ck_assert_int_eq(echo_start(c, &e), 0);
    ck_assert(ihost_run_until(&t->loop, &w.done, 30000));
    ck_assert_msg(e.ok, "echo through the relay: %s (%zu of %zu)", p2p_strerror(e.status), e.recvd, e.total);
    return now_ms() - t0;
}

/* 127.0.0.2 for the first SAME_IP identities, then PER_ADDR per address
 * from 127.0.0.3 on (127.0.1.x after 127.0.0.251). */
static void hostile_addr(unsigned i, char *out, size_t cap)
{
    unsigned a = i < SAME_IP ? 0 : 1 + (i - SAME_IP) / PER_ADDR;
    snprintf(out, cap, "/ip4/127.0.%u.%u/tcp/0, /p2p-circuit", a / 250, 2 + a % 250);
}

/* Start hostile identity i, reserving on R through the relay client. */
static void hostile_start(struct hostile *t, unsigned i)
{
    char listen[128];
    hostile_addr(i, listen, sizeof listen);
    t->x[i] = rh_host(&t->loop, listen, NULL, t->relays, NULL);
    /* Dial R from the listening address (reuse_port) before the relay
     * client's own dial starts from the loop: that dial joins this one,
     * so R sees the identity at its own 127.0.x.y address. */
    struct p2p_connect_opts o = P2P_CONNECT_OPTS_INIT;
    o.reuse_port = true;
    p2p_multiaddr rta = rh_tcp_addr(t->r);
    ck_assert_int_eq(p2p_host_connect_opts(t->x[i], p2p_host_peerid(t->r), &rta, 1, &o, ignore_connected, NULL), 0);
}

struct same_ip_wait {
    struct hostile *t;
};

/* MAX_PER_IP of the 127.0.0.2 identities hold a slot, the others were refused. */
static bool same_ip_settled(void *arg)
{
    struct hostile *t = ((struct same_ip_wait *)arg)->t;
    watch(t);
    unsigned held = 0;
    for (unsigned i = 0; i < SAME_IP; i++) held += rh_has_circuit(t->x[i]);
    return held == MAX_PER_IP && metric(t->r, "p2p_relay_reservations_refused_total", "max_reservations_per_ip") >=
                                     SAME_IP - MAX_PER_IP;
}

START_TEST(reservation_and_circuit_flood)
{
    static struct hostile t;
    memset(&t, 0, sizeof t);
    uv_loop_init(&t.loop);
    size_t rss0 = rss_kib();
    t.r = rh_host(&t.loop, "/ip4/127.0.0.1/tcp/0", NULL, server_keys, NULL);
    char ra[1024];
    rh_peer_addr(t.r, ra, sizeof ra);
    snprintf(t.relays, sizeof t.relays, "relays = %s\nretry_interval = 500ms\nretry_max = 1s\n", ra);
    t.h = rh_host(&t.loop, "/ip4/127.0.0.1/tcp/0, /p2p-circuit", NULL, t.relays, NULL);
    ck_assert_int_eq(echo_serve(t.h), 0);
    t.d = rh_host(&t.loop, "/ip4/127.0.0.1/tcp/0", NULL, NULL, NULL);
    ck_assert(ihost_run_cond(&t.loop, h_reserved, &t, 15000));
    uint64_t renewals0 = rh_state(t.r)->stats.renewals;

    /* 1. The reservation flood. */
    t.nx = identities();
    t.x = calloc(t.nx, sizeof *t.x);
    ck_assert_ptr_nonnull(t.x);
    /* 1a: SAME_IP identities from 127.0.0.2 (room for all of them in R's
     * table, not under the per-IP limit); 1b: the others, 4 per address,
     * more than the table can hold. */
    for (unsigned i = 0; i < SAME_IP; i++) hostile_start(&t, i);
    struct same_ip_wait w = { &t };
    ck_assert(ihost_run_cond(&t.loop, same_ip_settled, &w, 15000));
    run_watching(&t, 1500);
    ck_assert_int_ge(metric(t.r, "p2p_relay_reservations_refused_total", "max_reservations_per_ip"),
                     SAME_IP - MAX_PER_IP);
    for (unsigned i = SAME_IP; i < t.nx; i++) hostile_start(&t, i);
    /* Long enough for every identity to try and retry, and for H to renew
     * (every 3 s) at least twice while R is full. */
    run_watching(&t, 7000 + t.nx * 10);
    unsigned held = 0, held_same_ip = 0;
    for (unsigned i = 0; i < t.nx; i++)
        if (rh_has_circuit(t.x[i])) {
            held++;
            if (i < SAME_IP) held_same_ip++;
        }
    struct relay_st *rs = rh_state(t.r);
    printf("relay_hostile: %u identities: %u hold a reservation (%u of %u from 127.0.0.2); R: %zu reservations "
           "(peak %zu), refused %llu (max_reservations %lld, max_reservations_per_ip %lld, rates %lld)\n",
           t.nx, held, held_same_ip, SAME_IP, rs->table.nrsvps, t.max_rsvps,
           (unsigned long long)rs->stats.reservations_refused,
           (long long)metric(t.r, "p2p_relay_reservations_refused_total", "max_reservations"),
           (long long)metric(t.r, "p2p_relay_reservations_refused_total", "max_reservations_per_ip"),
           (long long)metric(t.r, "p2p_relay_reservations_refused_total", "rate_limit_per_ip"));
    fflush(stdout);
    ck_assert_uint_le(t.max_rsvps, MAX_RSVP);
    ck_assert_uint_eq(held_same_ip, MAX_PER_IP);
    ck_assert_uint_eq(held + 1, MAX_RSVP);   /* H holds the last one */
    ck_assert_int_ge(metric(t.r, "p2p_relay_reservations_refused_total", "max_reservations_per_ip"), 1);
    ck_assert_int_ge(metric(t.r, "p2p_relay_reservations_refused_total", "max_reservations"), 1);
    /* H kept its slot: renewed while R was full. */
    ck_assert(rh_has_circuit(t.h));
    ck_assert_uint_ge(rs->stats.renewals - renewals0, 2);
    /* On the wire: a hostile identity without a slot asks again. */
    unsigned loser = t.nx;
    for (unsigned i = 0; i < t.nx && loser == t.nx; i++)
        if (!rh_has_circuit(t.x[i])) loser = i;
    ck_assert_uint_lt(loser, t.nx);
    static struct relay_msg req, resp;
    relay_msg_init(&req, RELAY_HOP, RELAY_HOP_RESERVE);
    ck_assert_int_eq(rh_exchange_msg(&t.loop, t.x[loser], t.r, NULL, &req, &resp), 0);
    ck_assert_uint_eq(resp.type, RELAY_HOP_STATUS);
    ck_assert_uint_eq(resp.status, RELAY_STATUS_RESERVATION_REFUSED);
    ck_assert(!resp.has_reservation);

    /* The honest circuit: D -> R -> H, during the flood (the losers keep
     * retrying). */
    p2p_multiaddr ca = rh_circuit_addr(t.r, t.h);
    p2p_conn *c = NULL;
    uint64_t t0 = now_ms();
    int rc = rh_connect(&t.loop, t.d, t.h, &ca, &c, 15000);
    ck_assert_msg(rc == 0, "honest circuit: %s", p2p_strerror(rc));
    uint64_t connect_ms = now_ms() - t0;
    uint64_t echo1 = echo_through(&t, c, 11);

    /* 2. The circuit flood: each reserved hostile identity dials the next
     * ones through R until refused. */
    unsigned opened = 0, refused = 0;
    for (unsigned i = 0; i < t.nx; i++) {
        if (!rh_has_circuit(t.x[i])) continue;
        unsigned tries = 0;
        for (unsigned j = i + 1; j < t.nx && tries < MAX_CIRC_PER_PEER + 1; j++) {
            if (!rh_has_circuit(t.x[j]) || p2p_host_conn_to(t.x[i], p2p_host_peerid(t.x[j]))) continue;
            tries++;
            p2p_multiaddr xa = rh_circuit_addr(t.r, t.x[j]);
            rc = rh_connect(&t.loop, t.x[i], t.x[j], &xa, NULL, 15000);
            watch(&t);
            if (rc == 0) opened++;
            else {
                ck_assert_msg(rc == P2P_ELIMIT, "hostile circuit: %s", p2p_strerror(rc));
                refused++;
            }
        }
    }
    run_watching(&t, 500);
    printf("relay_hostile: circuits: %u hostile opened, %u refused; R: %zu circuits (peak %zu), refused max_circuits "
           "%lld, max_circuits_per_peer %lld\n",
           opened, refused, rs->ncircuits, t.max_circs,
           (long long)metric(t.r, "p2p_relay_circuits_refused_total", "max_circuits"),
           (long long)metric(t.r, "p2p_relay_circuits_refused_total", "max_circuits_per_peer"));
    fflush(stdout);
    ck_assert_uint_le(t.max_circs, MAX_CIRC);
    ck_assert_uint_eq(opened, MAX_CIRC - 1);   /* D's is the sixth */
    ck_assert_uint_ge(refused, 1);
    ck_assert_int_ge(metric(t.r, "p2p_relay_circuits_refused_total", "max_circuits"), 1);
    ck_assert_int_ge(metric(t.r, "p2p_relay_circuits_refused_total", "max_circuits_per_peer"), 1);
    /* On the wire: RESOURCE_LIMIT_EXCEEDED for one more CONNECT. */
    unsigned a = t.nx, b = t.nx;
    for (unsigned i = 0; i < t.nx; i++)
        if (rh_has_circuit(t.x[i])) {
            if (a == t.nx) a = i;
            else b = i;
        }
    ck_assert_uint_lt(b, t.nx);
    relay_msg_init(&req, RELAY_HOP, RELAY_HOP_CONNECT);
    req.has_peer = true;
    req.peer.id = *p2p_host_peerid(t.x[b]);
    ck_assert_int_eq(rh_exchange_msg(&t.loop, t.x[a], t.r, NULL, &req, &resp), 0);
    ck_assert_uint_eq(resp.status, RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED);

    /* The honest circuit still carries data, in bounded time. */
    uint64_t echo2 = echo_through(&t, c, 12);
    ck_assert(p2p_host_conn_to(t.d, p2p_host_peerid(t.h)) == c);
    size_t rss1 = rss_kib();
    printf("relay_hostile: honest circuit set up in %llu ms during the reservation flood; 64 KiB echo %llu ms, "
           "%llu ms after the circuit flood; RSS of the process (%u+3 hosts) %zu -> %zu KiB\n",
           (unsigned long long)connect_ms, (unsigned long long)echo1, (unsigned long long)echo2, t.nx, rss0, rss1);
    fflush(stdout);
    ck_assert_uint_lt(connect_ms, LATENCY_BOUND_MS);
    ck_assert_uint_lt(echo1, LATENCY_BOUND_MS);
    ck_assert_uint_lt(echo2, LATENCY_BOUND_MS);

    for (unsigned i = 0; i < t.nx; i++) p2p_host_free(t.x[i]);
    free(t.x);
    p2p_host_free(t.d);
    p2p_host_free(t.h);
    p2p_host_free(t.r);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&t.loop), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("relay_hostile");
    TCase *tc = tcase_create("flood");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, reservation_and_circuit_flood);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);   /* hosts closing while peers still write */
    return p2p_test_run(suite());
}
