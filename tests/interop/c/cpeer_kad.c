/* cpeer_kad.c - `cpeer kad`: our side of the kad interop tests, on the kad
 * plugin through the "routing" service v2 (tests/interop/README.md has
 * the contract, the same for the rust, go and js peers):
 *
 *   cpeer kad [--seed N] [--port P] [--bootstrap MADDR]... [--table K]
 *             [--put] [--provide] [--closest K] [--find-peer ID]...
 *             [--get-pk ID]... [--get-record ID]... [--find-providers ID]...
 *             [--timeout S]
 *
 * A DHT server (mode = server) on /ip4/127.0.0.1/tcp/P, bootstrapped from
 * the --bootstrap peers. Once its routing table holds K peers (default:
 * 1 with bootstrap peers, else 0) it runs, one after the other:
 *   --put             put /pk/<our id> (our public key) and
 *                     /p2pchat/<our id>/interop (a record we sign, data
 *                     "c-<last 6 characters of our PeerId>");
 *   --provide         provide sha256-multihash("p2pchat-interop/" + our PeerId);
 *   --closest K       closest peers of our PeerId until K were found;
 *   --find-peer ID    find ID (until found);
 *   --get-pk ID       get /pk/<ID> (until found; checked against ID);
 *   --get-record ID   get /p2pchat/<ID>/interop (until found; checked);
 *   --find-providers ID  providers of ID's key (until ID is one of them);
 * then prints DONE and serves until SIGTERM/SIGINT (RSS_MAX_KIB, exit 0) or
 * the timeout S (default 60; exit 0 after DONE, else TIMEOUT <what>, exit
 * 2). A step that fails is retried every RETRY_MS; at the deadline the
 * operation under way is canceled (routing v2 cancel). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpeer.h"
#include "p2p/p2p.h"
#include "p2p/routing.h"

#define KAD_MAX_IDS 16
#define RETRY_MS 1000
#define POLL_MS 100
#define RECORD_NAME "interop"
#define PROVIDER_PREFIX "p2pchat-interop/"

enum step { ST_PUT_PK, ST_PUT_RECORD, ST_PROVIDE, ST_CLOSEST, ST_FIND_PEER, ST_GET_PK, ST_GET_RECORD,
            ST_PROVIDERS, ST_DONE };
static const char *const step_names[] = { "put pk", "put record", "provide", "closest", "find-peer", "get-pk",
                                          "get-record", "find-providers", "done" };

struct idlist {
    p2p_peerid id[KAD_MAX_IDS];
    size_t n;
};

struct kp {
    p2p_host *host;
    struct cpeer_loop l;         /* loop, deadline, signals */
    const struct p2p_routing_api_v2 *rt;
    void *st;
    /* options */
    bool put, provide;
    long table_min;
    size_t closest_min;
    struct idlist find, get_pk, get_record, providers;
    /* progress */
    bool started, done;
    enum step step;
    size_t index;                /* within the step's list */
    uint64_t op;                 /* the operation under way (0: none) */
    p2p_timer *poll, *retry;
    p2p_peerid seen[256];        /* routing table entries already printed */
    size_t nseen;
    int exit_code;
};

static const char *id_str(const p2p_peerid *id, char buf[P2P_PEERID_STRMAX])
{
    if (p2p_peerid_to_string(id, buf, P2P_PEERID_STRMAX) < 0) snprintf(buf, P2P_PEERID_STRMAX, "?");
    return buf;
}

static void kp_finish(struct kp *k, int code)
{
    if (k->exit_code < 0) k->exit_code = code;
    uv_stop(&k->l.loop);
}

/* The provider key of a PeerId: sha256 multihash of "p2pchat-interop/<id>". */
static void provider_key(const p2p_peerid *id, uint8_t out[34])
{
    char text[sizeof PROVIDER_PREFIX + P2P_PEERID_STRMAX];
    char s[P2P_PEERID_STRMAX];
    snprintf(text, sizeof text, "%s%s", PROVIDER_PREFIX, id_str(id, s));
    p2p_multihash_sha256((const uint8_t *)text, strlen(text), out);
}

/* "/pk/" + the binary PeerId, or "/p2pchat/" + it + "/interop". */
static size_t record_key(const char *ns, const char *name, const p2p_peerid *id, uint8_t *out, size_t cap)
{
    size_t nl = strlen(ns), n = nl + id->len + (name ? 1 + strlen(name) : 0);
    if (n > cap) return 0;
    memcpy(out, ns, nl);
    memcpy(out + nl, id->bytes, id->len);
    if (name) {
        out[nl + id->len] = '/';
        memcpy(out + nl + id->len + 1, name, strlen(name));
    }
    return n;
}

static const struct idlist *step_list(struct kp *k)
{
    switch (k->step) {
    case ST_FIND_PEER: return &k->find;
    case ST_GET_PK: return &k->get_pk;
    case ST_GET_RECORD: return &k->get_record;
    case ST_PROVIDERS: return &k->providers;
    default: return NULL;
    }
}

static void run_step(struct kp *k);

/* The step (or the list entry) succeeded: on to the next one. */
static void advance(struct kp *k)
{
    k->op = 0;
    const struct idlist *l = step_list(k);
    if (l && ++k->index < l->n) return run_step(k);
    k->index = 0;
    k->step++;
    run_step(k);
}

/* It failed: again in a while. */
static void retry_later(struct kp *k)
{
    k->op = 0;
    p2p_timer_start(k->retry, RETRY_MS, 0);
}

static void on_retry(p2p_timer *t, void *arg)
{
    (void)t;
    run_step(arg);
}

static void on_put(int status, size_t count, void *arg)
{
    struct kp *k = arg;
    const char *what = k->step == ST_PUT_PK ? "pk" : "record";
    if (status == P2P_ECANCELED) return;
    /* 0 peers (P2P_ENOTFOUND) is a put that stayed local: fine for a node
     * that publishes before anyone joined (--table 0). */
    if (status && status != P2P_ENOTFOUND) {
        out("PUT %s FAIL %s", what, p2p_strerror(status));
        return retry_later(k);
    }
    out("PUT %s ok peers=%zu", what, status ? (size_t)0 : count);
    advance(k);
}

static void on_provided(int status, size_t count, void *arg)
{
    struct kp *k = arg;
    if (status == P2P_ECANCELED) return;
    if (status && status != P2P_ENOTFOUND) {
        out("PROVIDED FAIL %s", p2p_strerror(status));
        return retry_later(k);
    }
    out("PROVIDED ok peers=%zu", status ? (size_t)0 : count);
    advance(k);
}

static void join_ids(const struct p2p_routing_peer *peers, size_t n, char *buf, size_t cap)
{
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        char s[P2P_PEERID_STRMAX];
        size_t l = strlen(buf);
        snprintf(buf + l, cap - l, "%s%s", i ? "," : "", id_str(&peers[i].id, s));
    }
}

static void on_closest(int status, const struct p2p_routing_peer *peers, size_t n, void *arg)
{
    struct kp *k = arg;
    if (status == P2P_ECANCELED) return;
    if (status || n < k->closest_min) return retry_later(k);
    char list[64 * P2P_PEERID_STRMAX];
    join_ids(peers, n, list, sizeof list);
    out("CLOSEST %zu %s", n, list);
    advance(k);
}

static void on_found(int status, const struct p2p_routing_peer *peer, void *arg)
{
    struct kp *k = arg;
    if (status == P2P_ECANCELED) return;
    if (status || !peer->naddrs) return retry_later(k);
    char s[P2P_PEERID_STRMAX], addrs[P2P_ROUTING_MAX_ADDRS * P2P_MADDR_STRMAX] = "";
    for (size_t i = 0; i < peer->naddrs; i++) {
        char a[P2P_MADDR_STRMAX];
        if (p2p_maddr_to_string(&peer->addrs[i], a, sizeof a) < 0) continue;
        size_t l = strlen(addrs);
        snprintf(addrs + l, sizeof addrs - l, "%s%s", l ? "," : "", a);
    }
    out("FOUND_PEER %s %s", id_str(&peer->id, s), addrs);
    advance(k);
}

static void on_value(int status, const uint8_t *value, size_t len, void *arg)
{
    struct kp *k = arg;
    if (status == P2P_ECANCELED) return;
    if (status) return retry_later(k);
    const p2p_peerid *id = &step_list(k)->id[k->index];
    char s[P2P_PEERID_STRMAX];
    id_str(id, s);
    if (k->step == ST_GET_PK) {
        /* The plugin validated it already (the /pk/ validator); check
         * again that it is the key of the peer we asked for. */
        p2p_pubkey pub;
        if (p2p_pubkey_decode(&pub, value, len) != 0 || !p2p_peerid_matches(id, &pub)) {
            out("GOT_PK FAIL %s not its public key", s);
            return kp_finish(k, 1);
        }
        out("GOT_PK %s", s);
        return advance(k);
    }
    uint8_t key[128];
    size_t klen = record_key("/p2pchat/", RECORD_NAME, id, key, sizeof key);
    uint64_t seq;
    const uint8_t *data;
    size_t dlen;
    int rc = k->rt->open_record(k->st, key, klen, value, len, &seq, &data, &dlen);
    if (rc) {
        out("GOT_RECORD FAIL %s %s", s, p2p_strerror(rc));
        return kp_finish(k, 1);
    }
    char text[128];
    size_t n = 0;
    for (size_t i = 0; i < dlen && n + 1 < sizeof text; i++)
        text[n++] = data[i] > 0x20 && data[i] < 0x7f ? (char)data[i] : '?';
    text[n] = 0;
    out("GOT_RECORD %s seq=%llu data=%s", s, (unsigned long long)seq, text);
    advance(k);
}

static void on_providers(int status, const struct p2p_routing_peer *peers, size_t n, void *arg)
{
    struct kp *k = arg;
    if (status == P2P_ECANCELED) return;
    const p2p_peerid *want = &k->providers.id[k->index];
    bool found = false;
    for (size_t i = 0; i < n && !found; i++) found = p2p_peerid_equal(&peers[i].id, want);
    if (status || !found) return retry_later(k);
    char s[P2P_PEERID_STRMAX], list[64 * P2P_PEERID_STRMAX];
    join_ids(peers, n, list, sizeof list);
    out("PROVIDERS %s %s", id_str(want, s), list);
    advance(k);
}

/* Start the current step's operation (or skip the step). */
static void run_step(struct kp *k)
{
    const p2p_peerid *self = p2p_host_peerid(k->host);
    uint8_t key[128];
    size_t klen;
    int rc = 0;
    const struct idlist *l = step_list(k);
    if (l && k->index >= l->n) return advance(k);
    switch (k->step) {
    case ST_PUT_PK: {
        if (!k->put) return advance(k);
        p2p_pubkey pub;
        uint8_t v[P2P_PUBKEY_PB_MAX];
        p2p_keypair_public(p2p_host_keypair(k->host), &pub);
        int vl = p2p_pubkey_encode(&pub, v, sizeof v);
        klen = record_key("/pk/", NULL, self, key, sizeof key);
        rc = vl < 0 ? vl : k->rt->put_value(k->st, key, klen, v, (size_t)vl, on_put, k, &k->op);
        break;
    }
    case ST_PUT_RECORD: {
        if (!k->put) return advance(k);
        char s[P2P_PEERID_STRMAX], data[32];
        id_str(self, s);
        snprintf(data, sizeof data, "c-%s", s + strlen(s) - 6);
        uint8_t *rk, *rv;
        size_t rkl, rvl;
        rc = k->rt->seal_record(k->st, RECORD_NAME, (const uint8_t *)data, strlen(data), &rk, &rkl, &rv, &rvl);
        if (rc == 0) {
            rc = k->rt->put_value(k->st, rk, rkl, rv, rvl, on_put, k, &k->op);
            free(rk);
            free(rv);
        }
        break;
    }
    case ST_PROVIDE: {
        if (!k->provide) return advance(k);
        uint8_t pk[34];
        provider_key(self, pk);
        rc = k->rt->provide(k->st, pk, sizeof pk, on_provided, k, &k->op);
        break;
    }
    case ST_CLOSEST:
        if (!k->closest_min) return advance(k);
        rc = k->rt->closest_peers(k->st, self->bytes, self->len, on_closest, k, &k->op);
        break;
    case ST_FIND_PEER:
        rc = k->rt->find_peer(k->st, &l->id[k->index], on_found, k, &k->op);
        break;
    case ST_GET_PK:
    case ST_GET_RECORD:
        klen = k->step == ST_GET_PK ? record_key("/pk/", NULL, &l->id[k->index], key, sizeof key)
                                    : record_key("/p2pchat/", RECORD_NAME, &l->id[k->index], key, sizeof key);
        rc = k->rt->get_value(k->st, key, klen, 0, on_value, k, &k->op);
        break;
    case ST_PROVIDERS: {
        uint8_t pk[34];
        provider_key(&l->id[k->index], pk);
        rc = k->rt->find_providers(k->st, pk, sizeof pk, 0, on_providers, k, &k->op);
        break;
    }
    case ST_DONE:
        if (!k->done) {
            k->done = true;
            out("DONE");
        }
        return;
    }
    if (rc < 0) {
        out("ERROR %s: %s", step_names[k->step], p2p_strerror(rc));
        retry_later(k);
    }
}

/* Print routing table newcomers; start the steps once K peers are in. */
static void on_poll(p2p_timer *t, void *arg)
{
    (void)t;
    struct kp *k = arg;
    struct p2p_routing_entry e[256];
    size_t n = k->rt->table(k->st, e, 256);
    if (n > 256) n = 256;
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (size_t j = 0; j < k->nseen && !known; j++) known = p2p_peerid_equal(&k->seen[j], &e[i].id);
        if (known || k->nseen == 256) continue;
        k->seen[k->nseen++] = e[i].id;
        char s[P2P_PEERID_STRMAX];
        out("ROUTING %s", id_str(&e[i].id, s));
    }
    if (!k->started && (long)n >= k->table_min) {
        k->started = true;
        run_step(k);
    }
}

static void kp_on_event(const struct p2p_event *ev, void *arg)
{
    (void)arg;
    char s[P2P_PEERID_STRMAX], ra[P2P_MADDR_STRMAX];
    if (ev->type == P2P_EV_CONNECTED) {
        if (p2p_maddr_to_string(p2p_conn_remote_addr(ev->conn), ra, sizeof ra) < 0) strcpy(ra, "?");
        out("CONNECTED %s %s", id_str(ev->peer, s), ra);
    } else if (ev->type == P2P_EV_DISCONNECTED) {
        out("DISCONNECTED %s", id_str(ev->peer, s));
    }
}

static void kp_on_deadline(uv_timer_t *t)
{
    struct kp *k = t->data;
    if (k->done) return kp_finish(k, 0);
    const struct idlist *l = step_list(k);
    if (k->op) k->rt->cancel(k->st, k->op);   /* its callback ignores P2P_ECANCELED */
    if (!k->started) out("TIMEOUT routing table (%zu/%ld peers)", k->rt->table(k->st, NULL, 0), k->table_min);
    else if (l) out("TIMEOUT %s (%zu/%zu done)", step_names[k->step], k->index, l->n);
    else out("TIMEOUT %s", step_names[k->step]);
    kp_finish(k, 2);
}

static void kp_on_signal(uv_signal_t *s, int sig)
{
    (void)sig;
    out("RSS_MAX_KIB %lu", rss_max_kib());
    kp_finish(s->data, 0);
}

static bool add_id(struct idlist *l, const char *text)
{
    if (l->n == KAD_MAX_IDS || p2p_peerid_parse(&l->id[l->n], text) != 0) {
        fprintf(stderr, "cpeer: bad or too many peer ids: %s\n", text);
        return false;
    }
    l->n++;
    return true;
}

int kad_main(int argc, char **argv)
{
    static struct kp k; /* large; one per process */
    k.exit_code = -1;
    k.table_min = -1;
    long seed = -1, port = 0;
    double timeout = 60;
    char boot[4096] = "";
    static const struct option opts[] = {
        { "seed", required_argument, NULL, 's' }, { "port", required_argument, NULL, 'p' },
        { "bootstrap", required_argument, NULL, 'b' }, { "table", required_argument, NULL, 'T' },
        { "put", no_argument, NULL, 'P' }, { "provide", no_argument, NULL, 'R' },
        { "closest", required_argument, NULL, 'c' }, { "find-peer", required_argument, NULL, 'f' },
        { "get-pk", required_argument, NULL, 'k' }, { "get-record", required_argument, NULL, 'r' },
        { "find-providers", required_argument, NULL, 'v' }, { "timeout", required_argument, NULL, 't' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': seed = strtol(optarg, NULL, 10); break;
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 'b': {
            p2p_multiaddr ma;
            struct p2p_maddr_component comp;
            size_t l = strlen(boot);
            if (p2p_maddr_parse(&ma, optarg, NULL, 0) != 0 || !p2p_maddr_find(&ma, P2P_MA_P2P, &comp) ||
                l + strlen(optarg) + 2 > sizeof boot) {
                fprintf(stderr, "cpeer: --bootstrap %s: needs a multiaddr with /p2p/\n", optarg);
                return 64;
            }
            snprintf(boot + l, sizeof boot - l, "%s%s", l ? ", " : "", optarg);
            break;
        }
        case 'T': k.table_min = strtol(optarg, NULL, 10); break;
        case 'P': k.put = true; break;
        case 'R': k.provide = true; break;
        case 'c': k.closest_min = strtoul(optarg, NULL, 10); break;
        case 'f': if (!add_id(&k.find, optarg)) return 64; break;
        case 'k': if (!add_id(&k.get_pk, optarg)) return 64; break;
        case 'r': if (!add_id(&k.get_record, optarg)) return 64; break;
        case 'v': if (!add_id(&k.providers, optarg)) return 64; break;
        case 't': timeout = strtod(optarg, NULL); break;
        default: return 64;
        }
    }
    if (optind != argc || !(timeout > 0 && timeout < 1e6) || port < 0 || port > 65535 || seed > 255 ||
        k.table_min > 256) {
        fprintf(stderr, "usage: cpeer kad [--seed N] [--port P] [--bootstrap MADDR]... [--table K] [--put]"
                        " [--provide] [--closest K] [--find-peer ID]... [--get-pk ID]... [--get-record ID]..."
                        " [--find-providers ID]... [--timeout S]\n");
        return 64;
    }
    if (k.table_min < 0) k.table_min = boot[0] ? 1 : 0;

    /* request_timeout: a peer of an earlier phase may be gone (its
     * address refuses at once, but be quick anyway). */
    char sections[5120];
    snprintf(sections, sizeof sections,
             "[plugin kad]\nmode = server\npersist = false\nrequest_timeout = 5s\nquery_timeout = 20s\n%s%s\n",
             boot[0] ? "bootstrap = " : "", boot);
    char listen[64];
    snprintf(listen, sizeof listen, "/ip4/127.0.0.1/tcp/%ld", port);
    if (!(k.host = cpeer_host_new(&k.l.loop, seed, listen, sections))) return 1;
    p2p_host_subscribe(k.host, P2P_EV_CONNECTED | P2P_EV_DISCONNECTED, kp_on_event, &k);
    if (cpeer_host_start(k.host, &k.l.loop) < 0) return 1;
    k.rt = p2p_service_get(k.host, P2P_ROUTING_SERVICE, 2, &k.st);
    cpeer_print_self(k.host);
    cpeer_handles_start(&k.l, timeout, kp_on_deadline, kp_on_signal, &k);
    k.poll = p2p_timer_new(k.host, on_poll, &k);
    k.retry = p2p_timer_new(k.host, on_retry, &k);
    if (!k.rt || !k.poll || !k.retry) {
        out("ERROR no routing service");
        k.exit_code = 1;
    } else {
        p2p_timer_start(k.poll, 0, POLL_MS);
        uv_run(&k.l.loop, UV_RUN_DEFAULT);
    }
    if (k.poll) p2p_timer_free(k.poll);
    if (k.retry) p2p_timer_free(k.retry);
    cpeer_handles_close(&k.l, k.host);
    return k.exit_code < 0 ? 0 : k.exit_code;
}
