/* peerstore.c - what the host knows about other peers: addresses with
 * expiry, protocols, public key, attributes, RTT. Bounded: at most
 * PS_MAX_PEERS peers (peers without a connection are evicted first),
 * PS_MAX_ADDRS addresses, PS_MAX_PROTOCOLS protocols per peer. The
 * address array grows on demand: most peers (every inbound one that
 * announces no listen address) have none or a few, and a full fixed array
 * was 16 KiB per peer, half the memory of an idle connection.
 *
 * A linear array: lookups are O(peers), fine for the hundreds of peers a
 * chat node knows; revisit with a hash when benchmarks say so. */
#include <stdlib.h>
#include <string.h>

#include "host_internal.h"
#include "p2p/conn.h"
#include "p2p/error.h"

#define PS_MAX_PEERS 4096
#define PS_MAX_ADDRS 32
#define PS_MAX_PROTOCOLS 128
#define PS_MAX_ATTRS 8
#define PS_PROTOCOL_MAX_LEN 256
#define PS_ATTR_MAX_LEN 256

/* Addresses and keys are kept at their size, not in the public fixed-size
 * structs (514 and 1,104 bytes): a relay with 1,000 reservations holds a
 * peer entry for each. */
struct ps_addr {
    uint8_t *bytes;        /* len bytes, owned */
    uint16_t len;
    uint64_t expires;      /* loop ms; 0 = never */
};

struct ps_key {
    enum p2p_key_type type;
    uint16_t len;
    uint8_t data[];
};

struct ps_attr {
    char *name, *value;
};

struct ps_peer {
    p2p_peerid id;
    struct ps_addr *addrs;   /* naddrs used of addrs_cap (<= PS_MAX_ADDRS) */
    size_t naddrs, addrs_cap;
    char **protocols;
    size_t nprotocols;
    struct ps_key *key;      /* NULL when the PeerId holds the key (Ed25519) */
    struct ps_attr attrs[PS_MAX_ATTRS];
    size_t nattrs;
    uint64_t rtt_us;
    uint64_t last_used;
};

struct p2p_peerstore {
    struct ps_peer **peers;
    size_t n, cap;
};

static struct ps_peer *find(const p2p_host *h, const p2p_peerid *id)
{
    struct p2p_peerstore *ps = h->peerstore;
    if (!ps) return NULL;
    for (size_t i = 0; i < ps->n; i++)
        if (p2p_peerid_equal(&ps->peers[i]->id, id)) return ps->peers[i];
    return NULL;
}

static void peer_free(struct ps_peer *p)
{
    for (size_t i = 0; i < p->nprotocols; i++) free(p->protocols[i]);
    free(p->protocols);
    for (size_t i = 0; i < p->nattrs; i++) {
        free(p->attrs[i].name);
        free(p->attrs[i].value);
    }
    free(p->key);
    for (size_t i = 0; i < p->naddrs; i++) free(p->addrs[i].bytes);
    free(p->addrs);
    free(p);
}

/* Evict the least recently used peer that has no connection. */
static bool evict_one(p2p_host *h)
{
    struct p2p_peerstore *ps = h->peerstore;
    size_t victim = ps->n;
    for (size_t i = 0; i < ps->n; i++) {
        if (p2p_host_conn_to(h, &ps->peers[i]->id)) continue;
        if (victim == ps->n || ps->peers[i]->last_used < ps->peers[victim]->last_used) victim = i;
    }
    if (victim == ps->n) return false;
    peer_free(ps->peers[victim]);
    ps->peers[victim] = ps->peers[--ps->n];
    return true;
}

static struct ps_peer *get(p2p_host *h, const p2p_peerid *id)
{
    if (!h->peerstore && !(h->peerstore = calloc(1, sizeof *h->peerstore))) return NULL;
    struct ps_peer *p = find(h, id);
    if (p) {
        p->last_used = uv_now(h->loop);
        return p;
    }
    struct p2p_peerstore *ps = h->peerstore;
    if (ps->n >= PS_MAX_PEERS && !evict_one(h)) return NULL;
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        struct ps_peer **np = realloc(ps->peers, cap * sizeof *np);
        if (!np) return NULL;
        ps->peers = np;
        ps->cap = cap;
    }
    p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->id = *id;
    p->last_used = uv_now(h->loop);
    ps->peers[ps->n++] = p;
    return p;
}

static void changed(p2p_host *h, const p2p_peerid *id)
{
    struct p2p_event ev = { .type = P2P_EV_PEER_UPDATED, .peer = id };
    p2p_host_emit(h, &ev);
}

/* Strip a trailing /p2p/<id>: stored addresses are transport addresses. */
static void strip_p2p(p2p_multiaddr *ma)
{
    size_t off = 0, last = 0;
    struct p2p_maddr_component c;
    uint32_t last_code = 0;
    while (p2p_maddr_next(ma, &off, &c) == 1) {
        if (c.code == P2P_MA_P2P && off == ma->len) {
            last_code = c.code;
            break;
        }
        last = off;
    }
    if (last_code == P2P_MA_P2P) ma->len = (uint16_t)last;
}

static bool ps_addr_is(const struct ps_addr *a, const p2p_multiaddr *ma)
{
    return a->len == ma->len && !memcmp(a->bytes, ma->bytes, ma->len);
}

/* Store ma in a (whose old bytes, if any, are replaced). */
static int ps_addr_set(struct ps_addr *a, const p2p_multiaddr *ma, uint64_t exp, bool had)
{
    uint8_t *b = malloc(ma->len);
    if (!b) return P2P_ENOMEM;
    memcpy(b, ma->bytes, ma->len);
    if (had) free(a->bytes);
    *a = (struct ps_addr){ b, ma->len, exp };
    return 0;
}

P2P_API int p2p_peerstore_add_addrs(p2p_host *h, const p2p_peerid *peer, const p2p_multiaddr *addrs,
                                    size_t n, uint64_t ttl_ms)
{
    struct ps_peer *p = get(h, peer);
    if (!p) return P2P_ENOMEM;
    uint64_t now = uv_now(h->loop);
    uint64_t exp = ttl_ms ? now + ttl_ms : 0;
    bool added = false;
    for (size_t i = 0; i < n; i++) {
        p2p_multiaddr ma = addrs[i];
        strip_p2p(&ma);
        if (!ma.len) continue;
        size_t j;
        for (j = 0; j < p->naddrs; j++) {
            if (!ps_addr_is(&p->addrs[j], &ma)) continue;
            /* Extend, never shorten, the lifetime of a known address. */
            if (p->addrs[j].expires && (!exp || exp > p->addrs[j].expires)) p->addrs[j].expires = exp;
            break;
        }
        if (j < p->naddrs) continue;
        if (p->naddrs == PS_MAX_ADDRS) {
            /* Replace the address closest to expiry (permanent ones stay). */
            size_t v = PS_MAX_ADDRS;
            for (j = 0; j < p->naddrs; j++)
                if (p->addrs[j].expires && (v == PS_MAX_ADDRS || p->addrs[j].expires < p->addrs[v].expires)) v = j;
            if (v == PS_MAX_ADDRS) continue;
            if (ps_addr_set(&p->addrs[v], &ma, exp, true) < 0) {
                if (added) changed(h, peer);
                return P2P_ENOMEM;
            }
        } else {
            if (p->naddrs == p->addrs_cap) {
                size_t cap = p->addrs_cap ? p->addrs_cap * 2 : 2;
                if (cap > PS_MAX_ADDRS) cap = PS_MAX_ADDRS;
                struct ps_addr *na = realloc(p->addrs, cap * sizeof *na);
                if (!na) {
                    if (added) changed(h, peer);
                    return P2P_ENOMEM;
                }
                p->addrs = na;
                p->addrs_cap = cap;
            }
            if (ps_addr_set(&p->addrs[p->naddrs], &ma, exp, false) < 0) {
                if (added) changed(h, peer);
                return P2P_ENOMEM;
            }
            p->naddrs++;
        }
        added = true;
    }
    if (added) changed(h, peer);
    return 0;
}

P2P_API size_t p2p_peerstore_addrs(const p2p_host *h, const p2p_peerid *peer, p2p_multiaddr *out, size_t max)
{
    struct ps_peer *p = find(h, peer);
    if (!p) return 0;
    uint64_t now = uv_now(h->loop);
    size_t n = 0;
    for (size_t i = 0; i < p->naddrs; i++) {
        if (p->addrs[i].expires && p->addrs[i].expires <= now) continue;
        if (n < max) {
            out[n].len = p->addrs[i].len;
            memcpy(out[n].bytes, p->addrs[i].bytes, p->addrs[i].len);
        }
        n++;
    }
    return n;
}

P2P_API int p2p_peerstore_remove_peer(p2p_host *h, const p2p_peerid *peer)
{
    struct p2p_peerstore *ps = h->peerstore;
    for (size_t i = 0; ps && i < ps->n; i++) {
        if (!p2p_peerid_equal(&ps->peers[i]->id, peer)) continue;
        peer_free(ps->peers[i]);
        ps->peers[i] = ps->peers[--ps->n];
        return 0;
    }
    return P2P_ENOTFOUND;
}

P2P_API int p2p_peerstore_set_protocols(p2p_host *h, const p2p_peerid *peer, const char *const *protocols, size_t n)
{
    struct ps_peer *p = get(h, peer);
    if (!p) return P2P_ENOMEM;
    if (n > PS_MAX_PROTOCOLS) n = PS_MAX_PROTOCOLS;
    char **v = calloc(n ? n : 1, sizeof *v);
    if (!v) return P2P_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!protocols[i] || strlen(protocols[i]) > PS_PROTOCOL_MAX_LEN) continue;
        if (!(v[k] = strdup(protocols[i]))) {
            while (k) free(v[--k]);
            free(v);
            return P2P_ENOMEM;
        }
        k++;
    }
    for (size_t i = 0; i < p->nprotocols; i++) free(p->protocols[i]);
    free(p->protocols);
    p->protocols = v;
    p->nprotocols = k;
    changed(h, peer);
    return 0;
}

P2P_API bool p2p_peerstore_supports(const p2p_host *h, const p2p_peerid *peer, const char *protocol)
{
    struct ps_peer *p = find(h, peer);
    for (size_t i = 0; p && i < p->nprotocols; i++)
        if (!strcmp(p->protocols[i], protocol)) return true;
    return false;
}

P2P_API size_t p2p_peerstore_protocols(const p2p_host *h, const p2p_peerid *peer, const char **out, size_t max)
{
    struct ps_peer *p = find(h, peer);
    if (!p) return 0;
    for (size_t i = 0; i < p->nprotocols && i < max; i++) out[i] = p->protocols[i];
    return p->nprotocols;
}

P2P_API int p2p_peerstore_set_key(p2p_host *h, const p2p_peerid *peer, const p2p_pubkey *key)
{
    if (!p2p_peerid_matches(peer, key)) return P2P_EPEERID;
    struct ps_peer *p = get(h, peer);
    if (!p) return P2P_ENOMEM;
    p2p_pubkey inlined;
    if (p2p_peerid_pubkey(peer, &inlined) == 0 && inlined.type == key->type && inlined.len == key->len &&
        !memcmp(inlined.data, key->data, key->len)) {
        free(p->key);   /* the PeerId says it all */
        p->key = NULL;
        return 0;
    }
    struct ps_key *k = malloc(sizeof *k + key->len);
    if (!k) return P2P_ENOMEM;
    k->type = key->type;
    k->len = key->len;
    memcpy(k->data, key->data, key->len);
    free(p->key);
    p->key = k;
    return 0;
}

P2P_API bool p2p_peerstore_key(const p2p_host *h, const p2p_peerid *peer, p2p_pubkey *out)
{
    struct ps_peer *p = find(h, peer);
    if (p && p->key) {
        memset(out, 0, sizeof *out);
        out->type = p->key->type;
        out->len = p->key->len;
        memcpy(out->data, p->key->data, p->key->len);
        return true;
    }
    return p2p_peerid_pubkey(peer, out) == 0;
}

P2P_API int p2p_peerstore_set_attr(p2p_host *h, const p2p_peerid *peer, const char *name, const char *value)
{
    if (strlen(name) > PS_ATTR_MAX_LEN || strlen(value) > PS_ATTR_MAX_LEN) return P2P_ERANGE;
    struct ps_peer *p = get(h, peer);
    if (!p) return P2P_ENOMEM;
    char *v = strdup(value);
    if (!v) return P2P_ENOMEM;
    for (size_t i = 0; i < p->nattrs; i++) {
        if (strcmp(p->attrs[i].name, name)) continue;
        free(p->attrs[i].value);
        p->attrs[i].value = v;
        return 0;
    }
    char *n = p->nattrs < PS_MAX_ATTRS ? strdup(name) : NULL;
    if (!n) {
        free(v);
        return p->nattrs < PS_MAX_ATTRS ? P2P_ENOMEM : P2P_ELIMIT;
    }
    p->attrs[p->nattrs++] = (struct ps_attr){ n, v };
    return 0;
}

P2P_API const char *p2p_peerstore_attr(const p2p_host *h, const p2p_peerid *peer, const char *name)
{
    struct ps_peer *p = find(h, peer);
    for (size_t i = 0; p && i < p->nattrs; i++)
        if (!strcmp(p->attrs[i].name, name)) return p->attrs[i].value;
    return NULL;
}

P2P_API void p2p_peerstore_set_rtt(p2p_host *h, const p2p_peerid *peer, uint64_t rtt_us)
{
    struct ps_peer *p = get(h, peer);
    if (p) p->rtt_us = rtt_us;
}

P2P_API uint64_t p2p_peerstore_rtt(const p2p_host *h, const p2p_peerid *peer)
{
    struct ps_peer *p = find(h, peer);
    return p ? p->rtt_us : 0;
}

P2P_API size_t p2p_peerstore_peers(const p2p_host *h, p2p_peerid *out, size_t max)
{
    struct p2p_peerstore *ps = h->peerstore;
    if (!ps) return 0;
    for (size_t i = 0; i < ps->n && i < max; i++) out[i] = ps->peers[i]->id;
    return ps->n;
}

void p2p_peerstore_free(p2p_host *h)
{
    struct p2p_peerstore *ps = h->peerstore;
    if (!ps) return;
    for (size_t i = 0; i < ps->n; i++) peer_free(ps->peers[i]);
    free(ps->peers);
    free(ps);
    h->peerstore = NULL;
}
