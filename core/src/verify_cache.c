/* verify_cache.c - which Ed25519 keys get a precomputed table (ed25519.h).
 *
 * Process-wide, behind one mutex (hosts of one process may run on
 * different threads; the work under the lock is a scan of a few dozen
 * entries). A key earns a table after MAKE_AFTER signatures libsodium
 * has accepted: a key libsodium accepted passed its key checks, so the
 * table's verdicts are libsodium's; and a key seen once (a first contact)
 * costs no table. At most `limit` tables are held (p2p_verify_cache_limit),
 * the least recently used one goes first. A table in use when evicted
 * is freed by its last user.
 *
 * What a hostile peer can make us spend: keys are free, so it can send
 * MAKE_AFTER valid signatures from each of many keys; every key then
 * costs a table (~2 verifications) on top of its MAKE_AFTER
 * verifications, at most ~1.7x the work of verifying without the cache. */
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ed25519.h"
#include "p2p/crypto.h"

#define MAKE_AFTER 3
#define CANDIDATES 64
#define DEFAULT_LIMIT 32
#define MAX_LIMIT 65536

struct held {
    struct ed25519_table *t;
    unsigned refs;      /* the cache's own + users' */
};

struct slot {
    uint8_t pk[32];
    uint64_t used;      /* clock of the last use; 0: empty */
    unsigned ok;        /* candidates: signatures accepted so far */
    bool making;        /* candidates: a thread is making its table */
    struct held *h;     /* tables */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot cand[CANDIDATES];
static struct slot *tabs;
static size_t ntabs, cap, limit = DEFAULT_LIMIT;   /* tabs: cap slots, ntabs used */
static uint64_t clock_, n_fast, n_slow, n_made;

static struct slot *find(struct slot *v, size_t n, const uint8_t pk[32])
{
    for (size_t i = 0; i < n; i++)
        if (v[i].used && !memcmp(v[i].pk, pk, 32)) return &v[i];
    return NULL;
}

static struct slot *oldest(struct slot *v, size_t n)
{
    struct slot *o = &v[0];
    for (size_t i = 1; i < n; i++)
        if (v[i].used < o->used) o = &v[i];
    return o;
}

/* Under mu. */
static void release(struct held *h)
{
    if (--h->refs == 0) {
        ed25519_table_free(h->t);
        free(h);
    }
}

static void drop_table(struct slot *s)
{
    release(s->h);
    *s = tabs[--ntabs];
}

/* Under mu: a table for pk (made outside the lock; NULL if that failed)
 * joins the tables, or is freed if there is no room for it. */
static void add_table(const uint8_t pk[32], struct ed25519_table *t)
{
    if (t && cap < limit) {
        struct slot *n = realloc(tabs, limit * sizeof *n);
        if (n) {
            tabs = n;
            cap = limit;
        }
    }
    struct held *h = t && limit && cap >= limit && !find(tabs, ntabs, pk) ? malloc(sizeof *h) : NULL;
    if (!h) {
        ed25519_table_free(t);
        return;
    }
    if (ntabs == limit) drop_table(oldest(tabs, ntabs));
    h->t = t;
    h->refs = 1;
    struct slot *s = &tabs[ntabs++];
    memset(s, 0, sizeof *s);
    memcpy(s->pk, pk, 32);
    s->used = ++clock_;
    s->h = h;
    n_made++;
}

/* Under mu, after libsodium accepted a signature by pk: 1 if the caller
 * should now make pk's table (then it is marked as being made). */
static int count_success(const uint8_t pk[32])
{
    if (limit == 0) return 0;
    struct slot *s = find(cand, CANDIDATES, pk);
    if (!s) {
        s = oldest(cand, CANDIDATES);
        if (s->making) return 0;    /* rare: keep the one being made */
        memset(s, 0, sizeof *s);
        memcpy(s->pk, pk, 32);
    }
    s->used = ++clock_;
    if (s->making || ++s->ok < MAKE_AFTER) return 0;
    s->making = true;
    return 1;
}

int ed25519_verify_cached(const uint8_t pk[32], const uint8_t *msg, size_t len, const uint8_t sig[64])
{
    pthread_mutex_lock(&mu);
    struct slot *s = find(tabs, ntabs, pk);
    struct held *h = NULL;
    if (s) {
        s->used = ++clock_;
        h = s->h;
        h->refs++;
        n_fast++;
    } else {
        n_slow++;
    }
    pthread_mutex_unlock(&mu);
    if (h) {
        int rc = ed25519_verify_table(h->t, pk, msg, len, sig);
        pthread_mutex_lock(&mu);
        release(h);
        pthread_mutex_unlock(&mu);
        return rc;
    }
    if (crypto_sign_verify_detached(sig, msg, len, pk) != 0) return -1;
    pthread_mutex_lock(&mu);
    int make = count_success(pk);
    pthread_mutex_unlock(&mu);
    if (!make) return 0;
    struct ed25519_table *t = ed25519_table_new(pk);
    pthread_mutex_lock(&mu);
    struct slot *c = find(cand, CANDIDATES, pk);
    if (c) memset(c, 0, sizeof *c);
    add_table(pk, t);
    pthread_mutex_unlock(&mu);
    return 0;
}

P2P_API void p2p_verify_cache_limit(size_t tables)
{
    pthread_mutex_lock(&mu);
    limit = tables > MAX_LIMIT ? MAX_LIMIT : tables;
    while (ntabs > limit) drop_table(oldest(tabs, ntabs));
    pthread_mutex_unlock(&mu);
}

P2P_API void p2p_verify_cache_stats(struct p2p_verify_cache_stats *st)
{
    if (!st) return;
    pthread_mutex_lock(&mu);
    st->fast = n_fast;
    st->slow = n_slow;
    st->tables_made = n_made;
    st->tables = ntabs;
    st->bytes = ntabs * ed25519_table_size();
    st->limit = limit;
    pthread_mutex_unlock(&mu);
}
