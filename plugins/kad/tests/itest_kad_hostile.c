/* itest_kad_hostile.c - unit.kad_hostile (labels unit, integration,
 * hostile): a DHT server under record floods from many identities, over
 * loopback TCP with the real plugins (issue 9: "flood the DHT with
 * provider records"; "kad records and providers per peer").
 *
 * Both cases: a victim V (a kad server with small store limits) and two
 * honest servers H1, H2 that bootstrapped from it. N attackers (default
 * 64, HOSTILE_KAD_IDENTITIES; 400 in the long run, scripts/hostile.sh),
 * each its own identity without the kad plugin, connect to V in waves
 * and each writes its records on one kad stream. While V takes them, H1
 * stores something through the DHT, and after the flood H2 finds it (V
 * is one of the closest to everything in a three-server network).
 *
 * provider_flood: V has max_provider_keys 256, max_provider_keys_per_peer
 * 8; each attacker writes 32 ADD_PROVIDER (random sha2-256 keys, itself
 * as the provider): 2,048 records, 8 times what V stores. Checked:
 *   - the first attacker, alone, gets exactly 8 of its 32 records stored
 *     (the per-peer limit); V's provider store never holds more than 256
 *     keys, no attacker more than 8 entries (sampled every 20 ms), and at
 *     the end it is full of attackers' records, each holding its fair
 *     share or less;
 *   - H1's provider record is at V (a full store makes room for it from
 *     the peer holding the most), H2 finds H1 as the provider and gets
 *     the value: each honest operation within 10 s (times printed).
 *
 * value_flood: V has max_records 128, max_records_per_peer 4. One
 * identity alone first puts 32 values, each PUT_VALUE on a stream of its
 * own: exactly 4 are answered (stored), 28 are refused with a stream
 * reset, and V's refusal counter and its p2p_kad_store_refused_total
 * metric say 28. Then each attacker writes 8 PUT_VALUE of valid records
 * it signs itself (/p2pchat/<its id>/<n>) on one stream (V resets the
 * stream at the first one over the limit); once 32 attackers are in (V's
 * store full of them), H1 puts a value, and after the flood H2 gets it.
 * Checked: V's store never holds more than 128 records, no attacker more
 * than 4 (sampled every 20 ms); at the end it is full, fairly shared, and
 * holds H1's record, attributed to H1; put and get each within 10 s.
 * (With more identities than the store has records, everyone ends with
 * one, and a newcomer then is refused: the Sybil bound of any per-peer
 * share, docs/SECURITY.md. H1 puts while shares are larger.)
 *
 * The process's RSS growth is printed (all hosts are in it). The test
 * reaches into the plugin's state (plugin_int.h) for the stores. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ihost.h"
#include "plugin_int.h"
#include "testutil.h"

#define MAX_KEYS 256
#define PER_PEER 8
#define KEYS_EACH 32
#define MAX_RECS 128
#define RECS_PER_PEER 4
#define VALS_EACH 8
#define HOG_PUTS 32
#define HONEST_PUT_AT 32   /* attackers in when H1 puts its value */
#define BOUND_MS 10000

struct node {
    p2p_host *h;
    const struct p2p_routing_api_v2 *rt;
    void *st;
};

struct atk {
    p2p_host *h;
    p2p_stream *s;
    bool opened, failed;
};

static uv_loop_t loop;
static struct node v, h1, h2;
static struct atk *atks;
static unsigned natk;
static void (*atk_flood)(struct atk *a, unsigned idx);   /* what each attacker writes */
/* Sampled maxima of V's stores: providers (keys, entries of one attacker)
 * and value records (records, records of one attacker). */
static size_t max_keys_seen, max_per_peer_seen, max_recs_seen, max_recs_per_peer_seen;

static uint64_t now_ms(void) { return uv_hrtime() / 1000000; }

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

static unsigned identities(void)
{
    const char *e = getenv("HOSTILE_KAD_IDENTITIES");
    long n = e ? strtol(e, NULL, 10) : 64;
    return n < 40 ? 40 : n > 2000 ? 2000 : (unsigned)n;
}

/* max_inbound_streams above a wave of attackers (64) and the honest
 * servers' streams: the store limits are under test here, not the stream
 * limit, which would otherwise refuse the wave's last stream whenever
 * all of them are open at once. */
static void node_make(struct node *n, const char *kad_keys)
{
    char sections[2048];
    snprintf(sections, sizeof sections,
             "[plugin identify]\n[plugin ping]\n[plugin kad]\nmode = server\npersist = false\n"
             "request_timeout = 5s\nquery_timeout = 20s\nmax_inbound_streams = 256\n%s\n",
             kad_keys);
    n->h = ihost_new(&loop, "close_timeout = 300ms", sections);
    ihost_start(n->h);
    n->rt = p2p_service_get(n->h, P2P_ROUTING_SERVICE, 2, &n->st);
    ck_assert_ptr_nonnull(n->rt);
}

static void grow(size_t *max, size_t n)
{
    if (n > *max) *max = n;
}

/* V's stores: their sizes, and the most entries one attacker holds. */
static void watch(void)
{
    struct kad *kv = v.st;
    if (!kv) return;
    grow(&max_keys_seen, kv->providers.n);
    grow(&max_recs_seen, kv->records.n);
    for (unsigned i = 0; i < natk && atks[i].h; i++) {
        const p2p_peerid *id = p2p_host_peerid(atks[i].h);
        grow(&max_per_peer_seen, kad_providers_of_peer(&kv->providers, id));
        grow(&max_recs_per_peer_seen, kad_records_of_peer(&kv->records, id));
    }
}

static void run_watching(uint64_t ms)
{
    for (uint64_t end = now_ms() + ms; now_ms() < end;) {
        ihost_run_for(&loop, 20);
        watch();
    }
}

/* ---- the attackers ------------------------------------------------------------ */

/* Write buffer b on a's stream, then close our side. */
static void atk_send(struct atk *a, p2p_buf *b)
{
    ck_assert_int_eq(p2p_stream_write(a->s, p2p_buf_head(b), b->len), 0);
    p2p_stream_shutdown(a->s);
    p2p_buf_free(b);
}

static void flood_providers(struct atk *a, unsigned idx)
{
    struct kad_msg m;
    p2p_buf b;
    p2p_buf_init(&b, 0);
    for (unsigned k = 0; k < KEYS_EACH; k++) {
        char seed[48];
        uint8_t key[34];
        int n = snprintf(seed, sizeof seed, "flood %u %u", idx, k);
        p2p_multihash_sha256((const uint8_t *)seed, (size_t)n, key);
        kad_msg_init(&m);
        m.type = KAD_ADD_PROVIDER;
        ck_assert_int_eq(kad_msg_set_key(&m, key, sizeof key), 0);
        ck_assert_int_eq(kad_msg_add_peer(&m, true, p2p_host_peerid(a->h), NULL, 0, KAD_CONNECTED), 0);
        ck_assert_int_eq(kad_msg_encode(&m, 65536, &b), 0);
        kad_msg_clear(&m);
    }
    atk_send(a, &b);
}

/* A PUT_VALUE of a valid record host h signs: /p2pchat/<h>/<name>,
 * appended to b. */
static void put_value_msg(p2p_host *h, const char *name, p2p_buf *b)
{
    uint8_t *key, *val;
    size_t klen, vlen;
    ck_assert_int_eq(kad_chat_seal(p2p_host_keypair(h), name, 1, (const uint8_t *)"flood", 5, &key, &klen, &val,
                                   &vlen),
                     0);
    struct kad_msg m;
    kad_msg_init(&m);
    m.type = KAD_PUT_VALUE;
    ck_assert_int_eq(kad_msg_set_key(&m, key, klen), 0);
    ck_assert_int_eq(kad_msg_set_record(&m, key, klen, val, vlen, NULL), 0);
    ck_assert_int_eq(kad_msg_encode(&m, 65536, b), 0);
    kad_msg_clear(&m);
    free(key);
    free(val);
}

static void flood_values(struct atk *a, unsigned idx)
{
    (void)idx;
    p2p_buf b;
    p2p_buf_init(&b, 0);
    for (unsigned k = 0; k < VALS_EACH; k++) {
        char name[16];
        snprintf(name, sizeof name, "v%u", k);
        put_value_msg(a->h, name, &b);
    }
    atk_send(a, &b);
}

static void on_atk_open(int status, p2p_stream *s, void *arg)
{
    struct atk *a = arg;
    a->opened = true;
    a->failed = status != 0;
    a->s = s;
    if (!status) atk_flood(a, (unsigned)(a - atks));
}

/* ---- honest operations ------------------------------------------------------- */

struct op {
    bool done;
    int status;
    size_t n;
    p2p_peerid ids[8];
    uint64_t t0, ms;
    uint8_t value[256];
    size_t vlen;
};

static void op_done(struct op *o, int status)
{
    o->done = true;
    o->status = status;
    o->ms = now_ms() - o->t0;
}

static void on_count(int status, size_t count, void *arg)
{
    ((struct op *)arg)->n = count;
    op_done(arg, status);
}

static void on_peers(int status, const struct p2p_routing_peer *p, size_t n, void *arg)
{
    struct op *o = arg;
    o->n = n;
    for (size_t i = 0; i < n && i < 8; i++) o->ids[i] = p[i].id;
    op_done(o, status);
}

static void on_value(int status, const uint8_t *val, size_t len, void *arg)
{
    struct op *o = arg;
    if (!status && len <= sizeof o->value) {
        memcpy(o->value, val, len);
        o->vlen = len;
    }
    op_done(o, status);
}

static bool op_finished(void *arg)
{
    watch();
    return ((struct op *)arg)->done;
}

static void run_op(struct op *o)
{
    ck_assert(ihost_run_cond(&loop, op_finished, o, 30000));
}

/* ---- the network and the flood ----------------------------------------------- */

static p2p_multiaddr va;        /* V's address */
static size_t rss0;

/* V with these kad keys, H1 and H2 bootstrapped from it. */
static void network_up(const char *v_keys)
{
    uv_loop_init(&loop);
    rss0 = rss_kib();
    max_keys_seen = max_per_peer_seen = max_recs_seen = max_recs_per_peer_seen = 0;
    natk = 0;
    node_make(&v, v_keys);
    char boot[1024], as[P2P_MADDR_STRMAX], id[P2P_PEERID_STRMAX];
    va = ihost_addr(v.h);
    p2p_maddr_to_string(&va, as, sizeof as);
    p2p_peerid_to_string(p2p_host_peerid(v.h), id, sizeof id);
    snprintf(boot, sizeof boot, "bootstrap = %s/p2p/%s\n", as, id);
    node_make(&h1, boot);
    node_make(&h2, boot);
    struct op b1 = { .t0 = now_ms() }, b2 = { .t0 = now_ms() };
    ck_assert_int_eq(h1.rt->bootstrap(h1.st, on_count, &b1, NULL), 0);
    run_op(&b1);
    ck_assert_int_eq(h2.rt->bootstrap(h2.st, on_count, &b2, NULL), 0);
    run_op(&b2);
    ck_assert_uint_ge(h2.rt->table(h2.st, NULL, 0), 2);
}

static const char *const kadp[] = { "/ipfs/kad/1.0.0", NULL };

/* A host without kad that knows V's address. */
static p2p_host *bare_host(void)
{
    p2p_host *h = ihost_new(&loop, "close_timeout = 300ms", "");
    ihost_start(h);
    ck_assert_int_eq(p2p_peerstore_add_addrs(h, p2p_host_peerid(v.h), &va, 1, 3600000), 0);
    return h;
}

/* The flood: HOSTILE_KAD_IDENTITIES attackers connect to V, each writing
 * what fn writes. before(i) and after(i) run around attacker i's start
 * (either may be NULL). Returns when every attacker's stream is written
 * and V had a second to read it: the flood's duration in ms. */
static uint64_t flood(void (*fn)(struct atk *a, unsigned idx), void (*before)(unsigned i), void (*after)(unsigned i))
{
    natk = identities();
    atks = calloc(natk, sizeof *atks);
    ck_assert_ptr_nonnull(atks);
    atk_flood = fn;
    uint64_t t_flood = now_ms();
    for (unsigned i = 0; i < natk; i++) {
        if (before) before(i);
        atks[i].h = bare_host();
        ck_assert_int_eq(p2p_host_new_stream(atks[i].h, p2p_host_peerid(v.h), kadp, on_atk_open, &atks[i]), 0);
        if (after) after(i);
        /* In waves of 64: V admits max_pending_incoming (128) handshakes
         * at once and refuses the rest, a defence of its own; an attacker
         * refused tries again once its wave is through. */
        if ((i + 1) % 64 == 0 || i + 1 == natk) {
            for (int w = 0; w < 500; w++) {
                bool all = true;
                for (unsigned j = i + 1 - (i % 64); j <= i; j++) all = all && atks[j].opened;
                if (all) break;
                run_watching(20);
            }
            for (unsigned j = i + 1 - (i % 64); j <= i; j++)
                if (atks[j].opened && atks[j].failed) {
                    atks[j].opened = atks[j].failed = false;
                    ck_assert_int_eq(
                        p2p_host_new_stream(atks[j].h, p2p_host_peerid(v.h), kadp, on_atk_open, &atks[j]), 0);
                }
        }
    }
    /* every attacker's stream open and written */
    for (unsigned i = 0; i < natk; i++) {
        while (!atks[i].opened && now_ms() - t_flood < 60000) run_watching(20);
        ck_assert_msg(atks[i].opened && !atks[i].failed, "attacker %u could not open its stream", i);
    }
    run_watching(1000);   /* V reads the rest */
    return now_ms() - t_flood;
}

/* Attackers of V's store: how many hold entries (held() > 0). */
static unsigned holders(size_t (*held)(const struct kad *kv, const p2p_peerid *id))
{
    unsigned c = 0;
    for (unsigned i = 0; i < natk; i++) c += held(v.st, p2p_host_peerid(atks[i].h)) > 0;
    return c;
}

static void network_down(void)
{
    for (unsigned i = 0; i < natk; i++) {
        if (atks[i].s) p2p_stream_close(atks[i].s);
        p2p_host_free(atks[i].h);
    }
    free(atks);
    atks = NULL;
    natk = 0;
    p2p_host_free(h2.h);
    p2p_host_free(h1.h);
    p2p_host_free(v.h);
    v.st = NULL;
    ihost_run_for(&loop, 200);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

/* ---- provider records ---------------------------------------------------------- */

static uint8_t pkey[34];
static struct op prov, put;
static uint8_t *rkey, *rval;   /* H1's record */
static size_t rklen, rvlen;

/* H1 provides a key and puts a value (H2 finds and gets them later). */
static void honest_provide_put(unsigned i)
{
    if (i != natk / 2) return;
    p2p_multihash_sha256((const uint8_t *)"honest content", 14, pkey);
    memset(&prov, 0, sizeof prov);
    memset(&put, 0, sizeof put);
    prov.t0 = put.t0 = now_ms();
    ck_assert_int_eq(h1.rt->provide(h1.st, pkey, sizeof pkey, on_count, &prov, NULL), 0);
    ck_assert_int_eq(h1.rt->seal_record(h1.st, "hostile", (const uint8_t *)"still here", 10, &rkey, &rklen, &rval,
                                        &rvlen),
                     0);
    ck_assert_int_eq(h1.rt->put_value(h1.st, rkey, rklen, rval, rvlen, on_count, &put, NULL), 0);
}

/* The first attacker alone: V keeps PER_PEER of its 32 records. */
static void first_alone(unsigned i)
{
    if (i) return;
    struct kad *kv = v.st;
    const p2p_peerid *a0 = p2p_host_peerid(atks[0].h);
    for (int w = 0; w < 500 && kad_providers_of_peer(&kv->providers, a0) < PER_PEER; w++) run_watching(20);
    run_watching(300);
    ck_assert_uint_eq(kad_providers_of_peer(&kv->providers, a0), PER_PEER);
    ck_assert_uint_eq(kv->providers.n, PER_PEER);
}

static size_t provider_entries(const struct kad *kv, const p2p_peerid *id)
{
    return kad_providers_of_peer(&kv->providers, id);
}

START_TEST(provider_flood)
{
    char keys[512];
    snprintf(keys, sizeof keys, "max_provider_keys = %d\nmax_provider_keys_per_peer = %d\n", MAX_KEYS, PER_PEER);
    network_up(keys);
    uint64_t flood_ms = flood(flood_providers, honest_provide_put, first_alone);
    run_op(&prov);
    run_op(&put);
    ck_assert_msg(prov.status == 0, "provide: %s", p2p_strerror(prov.status));
    ck_assert_msg(put.status == 0, "put_value: %s", p2p_strerror(put.status));

    struct op fp = { .t0 = now_ms() }, gv = { .t0 = now_ms() };
    ck_assert_int_eq(h2.rt->find_providers(h2.st, pkey, sizeof pkey, 1, on_peers, &fp, NULL), 0);
    run_op(&fp);
    ck_assert_int_eq(h2.rt->get_value(h2.st, rkey, rklen, 0, on_value, &gv, NULL), 0);
    run_op(&gv);
    ck_assert_msg(fp.status == 0 && fp.n == 1, "find_providers: %s, %zu", p2p_strerror(fp.status), fp.n);
    ck_assert(p2p_peerid_equal(&fp.ids[0], p2p_host_peerid(h1.h)));
    ck_assert_msg(gv.status == 0, "get_value: %s", p2p_strerror(gv.status));
    ck_assert(gv.vlen == rvlen && !memcmp(gv.value, rval, rvlen));

    /* V's store: bounded, full of attackers' records, fair, and H1's
     * record in it. */
    struct kad *kv = v.st;
    const struct kad_prov *got[4];
    watch();
    size_t held = kad_providers_get(&kv->providers, pkey, sizeof pkey, p2p_host_now_ms(v.h), got, 4);
    unsigned with_records = holders(provider_entries);
    size_t rss1 = rss_kib();
    printf("kad_hostile: %u attackers x %u ADD_PROVIDER in %llu ms: V stores %zu keys (peak %zu, limit %d), at "
           "most %zu per attacker (limit %d), %u attackers hold some; honest: provide %llu ms (%zu peers), put "
           "%llu ms, find_providers %llu ms, get_value %llu ms; RSS of the process (%u+3 hosts) %zu -> %zu KiB\n",
           natk, KEYS_EACH, (unsigned long long)flood_ms, kv->providers.n, max_keys_seen, MAX_KEYS,
           max_per_peer_seen, PER_PEER, with_records, (unsigned long long)prov.ms, prov.n,
           (unsigned long long)put.ms, (unsigned long long)fp.ms, (unsigned long long)gv.ms, natk, rss0, rss1);
    fflush(stdout);
    ck_assert_uint_le(max_keys_seen, MAX_KEYS);
    ck_assert_uint_le(max_per_peer_seen, PER_PEER);
    ck_assert_uint_eq(kv->providers.n, MAX_KEYS);   /* the flood filled it */
    ck_assert_uint_ge(with_records, MAX_KEYS / PER_PEER);
    ck_assert_uint_eq(held, 1);
    ck_assert(p2p_peerid_equal(&got[0]->id, p2p_host_peerid(h1.h)));
    ck_assert_uint_lt(prov.ms, BOUND_MS);
    ck_assert_uint_lt(put.ms, BOUND_MS);
    ck_assert_uint_lt(fp.ms, BOUND_MS);
    ck_assert_uint_lt(gv.ms, BOUND_MS);

    free(rkey);
    free(rval);
    network_down();
}
END_TEST

/* ---- value records -------------------------------------------------------------- */

/* The hog: one identity putting HOG_PUTS values, one PUT_VALUE per
 * stream, each stream after the previous one ended. */
struct hog {
    p2p_host *h;
    p2p_stream *s;
    unsigned sent;
    unsigned stored, reset, other;   /* answered (echo), reset by V, anything else */
    bool busy, answered, ended;
};

static void hog_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    (void)data;
    if (len) ((struct hog *)arg)->answered = true;
}

static void hog_eof(p2p_stream *s, void *arg)
{
    (void)s;
    struct hog *g = arg;
    g->ended = true;
    if (g->answered) g->stored++;
    else g->other++;
}

static void hog_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    (void)err;
    struct hog *g = arg;
    if (g->ended) return;
    g->ended = true;
    if (g->answered) g->other++;   /* an answer, then a reset: not what V does */
    else g->reset++;
}

static const struct p2p_stream_handlers hog_handlers = { hog_read, hog_eof, hog_error, NULL };

static void hog_open(int status, p2p_stream *s, void *arg)
{
    struct hog *g = arg;
    if (status) {
        g->ended = true;
        g->other++;
        return;
    }
    g->s = s;
    p2p_stream_set_handlers(s, &hog_handlers, g);
    p2p_stream_read_start(s);
    char name[16];
    snprintf(name, sizeof name, "hog%u", g->sent);
    p2p_buf b;
    p2p_buf_init(&b, 0);
    put_value_msg(g->h, name, &b);
    ck_assert_int_eq(p2p_stream_write(s, p2p_buf_head(&b), b.len), 0);
    p2p_stream_shutdown(s);
    p2p_buf_free(&b);
}

/* Drives the hog from the loop: the next stream once one ended. */
static bool hog_step(void *arg)
{
    struct hog *g = arg;
    watch();
    if (g->busy && !g->ended) return false;
    if (g->s) p2p_stream_close(g->s);
    g->s = NULL;
    g->busy = false;
    if (g->sent == HOG_PUTS) return true;
    g->busy = true;
    g->answered = g->ended = false;
    g->sent++;
    ck_assert_int_eq(p2p_host_new_stream(g->h, p2p_host_peerid(v.h), kadp, hog_open, g), 0);
    return false;
}

/* V's metric p2p_kad_store_refused_total{store="records",reason=...}. */
struct metric_q {
    const char *reason;
    uint64_t value;
    bool found;
};

static void find_refused(const struct p2p_metric_info *m, const struct p2p_metric_sample *samples, size_t n,
                         void *arg)
{
    struct metric_q *q = arg;
    if (strcmp(m->name, "p2p_kad_store_refused_total") != 0) return;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(samples[i].values[0], "records") && !strcmp(samples[i].values[1], q->reason)) {
            q->value = samples[i].counter;
            q->found = true;
        }
}

static uint64_t refused_metric(const char *reason)
{
    struct metric_q q = { .reason = reason };
    ck_assert_int_eq(p2p_metrics_visit(v.h, find_refused, &q), 0);
    ck_assert(q.found);
    return q.value;
}

/* H1 puts a value once HONEST_PUT_AT attackers are in. */
static void honest_put(unsigned i)
{
    if (i != HONEST_PUT_AT) return;
    memset(&put, 0, sizeof put);
    put.t0 = now_ms();
    ck_assert_int_eq(h1.rt->seal_record(h1.st, "honest", (const uint8_t *)"still here", 10, &rkey, &rklen, &rval,
                                        &rvlen),
                     0);
    ck_assert_int_eq(h1.rt->put_value(h1.st, rkey, rklen, rval, rvlen, on_count, &put, NULL), 0);
}

static size_t value_records(const struct kad *kv, const p2p_peerid *id)
{
    return kad_records_of_peer(&kv->records, id);
}

START_TEST(value_flood)
{
    char keys[512];
    snprintf(keys, sizeof keys, "max_records = %d\nmax_records_per_peer = %d\n", MAX_RECS, RECS_PER_PEER);
    network_up(keys);
    struct kad *kv = v.st;

    /* The hog alone: RECS_PER_PEER answered, the rest reset. */
    struct hog g = { .h = bare_host() };
    uint64_t t_hog = now_ms();
    ck_assert(ihost_run_cond(&loop, hog_step, &g, 60000));
    uint64_t hog_ms = now_ms() - t_hog;
    ck_assert_uint_eq(g.stored, RECS_PER_PEER);
    ck_assert_uint_eq(g.reset, HOG_PUTS - RECS_PER_PEER);
    ck_assert_uint_eq(g.other, 0);
    ck_assert_uint_eq(kad_records_of_peer(&kv->records, p2p_host_peerid(g.h)), RECS_PER_PEER);
    ck_assert_uint_eq(kv->records.n, RECS_PER_PEER);
    ck_assert_uint_eq(kv->records.quota.refused_limit, HOG_PUTS - RECS_PER_PEER);
    ck_assert_uint_eq(refused_metric("peer_limit"), HOG_PUTS - RECS_PER_PEER);

    uint64_t flood_ms = flood(flood_values, honest_put, NULL);
    run_op(&put);
    ck_assert_msg(put.status == 0, "put_value: %s", p2p_strerror(put.status));
    struct op gv = { .t0 = now_ms() };
    ck_assert_int_eq(h2.rt->get_value(h2.st, rkey, rklen, 0, on_value, &gv, NULL), 0);
    run_op(&gv);
    ck_assert_msg(gv.status == 0, "get_value: %s", p2p_strerror(gv.status));
    ck_assert(gv.vlen == rvlen && !memcmp(gv.value, rval, rvlen));

    /* V's store: bounded, full, fair, and H1's record in it, H1's. */
    watch();
    const struct kad_rec *hr = kad_records_get(&kv->records, rkey, rklen, p2p_host_now_ms(v.h));
    unsigned with_records = holders(value_records);
    size_t rss1 = rss_kib();
    printf("kad_hostile: hog: %u PUT_VALUE in %llu ms, %u stored, %u reset; %u attackers x %u PUT_VALUE in %llu "
           "ms: V stores %zu records (peak %zu, limit %d), at most %zu per attacker (limit %d), %u attackers hold "
           "some; refused %llu (peer limit) + %llu (full), evicted %llu; honest: put %llu ms (%zu peers), "
           "get_value %llu ms; RSS of the process (%u+4 hosts) %zu -> %zu KiB\n",
           HOG_PUTS, (unsigned long long)hog_ms, g.stored, g.reset, natk, VALS_EACH, (unsigned long long)flood_ms,
           kv->records.n, max_recs_seen, MAX_RECS, max_recs_per_peer_seen, RECS_PER_PEER, with_records,
           (unsigned long long)kv->records.quota.refused_limit, (unsigned long long)kv->records.quota.refused_full,
           (unsigned long long)kv->records.quota.evicted, (unsigned long long)put.ms, put.n,
           (unsigned long long)gv.ms, natk, rss0, rss1);
    fflush(stdout);
    ck_assert_uint_le(max_recs_seen, MAX_RECS);
    ck_assert_uint_le(max_recs_per_peer_seen, RECS_PER_PEER);
    ck_assert_uint_le(kad_records_of_peer(&kv->records, p2p_host_peerid(g.h)), RECS_PER_PEER);
    ck_assert_uint_eq(kv->records.n, MAX_RECS);   /* the flood filled it */
    ck_assert_uint_ge(with_records, MAX_RECS / RECS_PER_PEER);
    ck_assert_uint_gt(kv->records.quota.evicted, 0);
    ck_assert_ptr_nonnull(hr);
    ck_assert(hr->attributed && p2p_peerid_equal(&hr->from, p2p_host_peerid(h1.h)));
    ck_assert(hr->vlen == rvlen && !memcmp(hr->value, rval, rvlen));
    ck_assert_uint_eq(kad_records_of_peer(&kv->records, p2p_host_peerid(h1.h)), 1);
    ck_assert_uint_eq(refused_metric("peer_limit"), kv->records.quota.refused_limit);
    ck_assert_uint_eq(refused_metric("full"), kv->records.quota.refused_full);
    ck_assert_uint_lt(put.ms, BOUND_MS);
    ck_assert_uint_lt(gv.ms, BOUND_MS);

    p2p_host_free(g.h);
    free(rkey);
    free(rval);
    network_down();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kad_hostile");
    TCase *tc = tcase_create("flood");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, provider_flood);
    tcase_add_test(tc, value_flood);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);   /* hosts closing while peers still write */
    return p2p_test_run(suite());
}
