/* mdns_logic.c - libp2p mDNS discovery without I/O (see mdns_logic.h). */
#include "mdns_logic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "p2p/error.h"
#include "p2p/netaddr.h"

#define SERVICE_NAME "_p2p._udp.local"
#define META_NAME "_services._dns-sd._udp.local"
#define DELAY_MIN_MS 20          /* RFC 6762 5.2 and 6: 20-120 ms */
#define DELAY_SPAN_MS 100
#define QUERY_JITTER_MS 100      /* rust-libp2p: 0-100 ms on the query interval */
#define DEFAULT_SRV_PORT 4001

struct iface {
    uint32_t id;
    enum mdns_family fam;
    uint8_t addr[16];
    uint64_t next_query;
    uint64_t probe_gap;          /* gap after the next query; 0 once the burst is over */
    bool answer_pending, meta_pending, answered;
    uint64_t answer_due, meta_due, last_answer;
};

struct paddr {
    p2p_multiaddr ma;
    uint64_t expires;
};

struct peer {
    p2p_peerid id;
    struct mdns_name instance;   /* last instance name it answered with */
    uint64_t last_report, refresh_at;
    size_t n;
    struct paddr addrs[];        /* max_addrs */
};

struct mdns_logic {
    struct mdns_logic_config cfg;
    struct mdns_logic_cbs cbs;
    p2p_peerid self;
    uint64_t rng;
    char peer_name[MDNS_LABEL_MAX + 1];
    struct mdns_name service, meta, instance, host;
    struct iface *ifaces;
    size_t nifaces, cap_ifaces;
    struct peer **peers;
    size_t npeers;
    struct mdns_msg *msg;
    uint8_t *pkt;                /* max_packet bytes */
    p2p_multiaddr *own;          /* MDNS_OWN_ADDRS_MAX */
    char (*txt)[MDNS_TXT_STRING_MAX + 1];
    p2p_multiaddr *scratch;      /* max_addrs, for reports */
    struct mdns_logic_stats stats;
};

void mdns_logic_config_default(struct mdns_logic_config *c)
{
    memset(c, 0, sizeof *c);
    c->query_interval_ms = 5 * 60 * 1000;
    c->probe_initial_ms = 500;
    c->ttl_s = 6 * 60;
    c->max_ttl_s = 60 * 60;
    c->rediscover_ms = 5 * 60 * 1000;
    c->response_gap_ms = 1000;
    c->max_peers = 64;
    c->max_addrs = 16;
    c->max_packet = 1400;
    struct mdns_limits lim = MDNS_LIMITS_DEFAULT;
    c->limits = lim;
}

static uint64_t rnd(struct mdns_logic *lg)
{
    /* xorshift64* */
    uint64_t x = lg->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    lg->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t rnd_below(struct mdns_logic *lg, uint64_t n)
{
    return n ? rnd(lg) % n : 0;
}

/* ---- addresses ------------------------------------------------------- */

/* Announced and accepted: any address but the unspecified ones, and
 * loopback only with include_loopback (core's scopes, p2p/netaddr.h;
 * addresses without a leading IP, e.g. /dns4, are usable). */
static bool addr_usable(const p2p_multiaddr *ma, bool include_loopback)
{
    const uint8_t *ip;
    int fam = p2p_maddr_ip(ma, &ip);
    if (!fam) return true;
    enum p2p_ip_scope s = p2p_ip_scope(fam, ip);
    return s != P2P_SCOPE_UNSPECIFIED && (s != P2P_SCOPE_LOOPBACK || include_loopback);
}

size_t mdns_own_txt(const p2p_peerid *self, const p2p_multiaddr *addrs, size_t n, bool include_loopback,
                    char (*out)[MDNS_TXT_STRING_MAX + 1], size_t max, uint16_t *port)
{
    size_t k = 0;
    *port = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        struct p2p_maddr_component c;
        if (p2p_maddr_find(&addrs[i], P2P_MA_P2P, &c) || p2p_maddr_find(&addrs[i], P2P_MA_P2P_CIRCUIT, &c))
            continue;
        if (!addr_usable(&addrs[i], include_loopback)) continue;
        p2p_multiaddr full = addrs[i];
        if (p2p_maddr_push(&full, P2P_MA_P2P, self->bytes, self->len) < 0) continue;
        char text[P2P_MADDR_STRMAX];
        if (p2p_maddr_to_string(&full, text, sizeof text) < 0) continue;
        if (strlen(text) + 8 > MDNS_TXT_STRING_MAX) continue;
        char s[MDNS_TXT_STRING_MAX + 1];
        snprintf(s, sizeof s, "dnsaddr=%s", text);
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++) dup = !strcmp(out[j], s);
        if (dup) continue;
        memcpy(out[k++], s, strlen(s) + 1);
        if (!*port) {
            if (p2p_maddr_find(&addrs[i], P2P_MA_TCP, &c) || p2p_maddr_find(&addrs[i], P2P_MA_UDP, &c))
                if (c.value_len == 2) *port = (uint16_t)((c.value[0] << 8) | c.value[1]);
        }
    }
    if (!*port) *port = DEFAULT_SRV_PORT;
    return k;
}

/* ---- life ------------------------------------------------------------ */

static void make_peer_name(struct mdns_logic *lg, const struct mdns_logic_config *cfg)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    if (cfg->peer_name) {
        snprintf(lg->peer_name, sizeof lg->peer_name, "%s", cfg->peer_name);
        return;
    }
    size_t len = cfg->peer_name_len ? cfg->peer_name_len : 32 + (size_t)rnd_below(lg, 32);
    if (len > MDNS_LABEL_MAX) len = MDNS_LABEL_MAX;
    for (size_t i = 0; i < len; i++) lg->peer_name[i] = alphabet[rnd_below(lg, sizeof alphabet - 1)];
    lg->peer_name[len] = 0;
}

struct mdns_logic *mdns_logic_new(const struct mdns_logic_config *cfg, const p2p_peerid *self,
                                  uint64_t seed, const struct mdns_logic_cbs *cbs)
{
    if (!cfg->max_addrs || cfg->max_addrs > MDNS_MAX_ADDRS_LIMIT || !cfg->max_peers || cfg->max_packet < 512 ||
        cfg->max_packet > MDNS_PACKET_MAX || !cfg->query_interval_ms || !cbs->send || !cbs->own_addrs ||
        !cbs->discovered)
        return NULL;
    if (cfg->peer_name_len && (cfg->peer_name_len < 32 || cfg->peer_name_len > MDNS_LABEL_MAX)) return NULL;
    if (cfg->peer_name && (!cfg->peer_name[0] || strlen(cfg->peer_name) > MDNS_LABEL_MAX ||
                           strchr(cfg->peer_name, '.')))
        return NULL;
    struct mdns_logic *lg = calloc(1, sizeof *lg);
    if (!lg) return NULL;
    lg->cfg = *cfg;
    lg->cfg.peer_name = NULL;       /* copied into lg->peer_name */
    lg->cbs = *cbs;
    lg->self = *self;
    lg->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
    make_peer_name(lg, cfg);
    lg->msg = mdns_msg_new(&cfg->limits);
    lg->pkt = malloc(cfg->max_packet);
    lg->own = calloc(MDNS_OWN_ADDRS_MAX, sizeof *lg->own);
    lg->txt = calloc(MDNS_OWN_ADDRS_MAX, sizeof *lg->txt);
    lg->scratch = calloc(cfg->max_addrs, sizeof *lg->scratch);
    lg->peers = calloc(cfg->max_peers, sizeof *lg->peers);
    if (!lg->msg || !lg->pkt || !lg->own || !lg->txt || !lg->scratch || !lg->peers ||
        mdns_name_from_text(&lg->service, SERVICE_NAME) < 0 || mdns_name_from_text(&lg->meta, META_NAME) < 0 ||
        mdns_name_from_text(&lg->host, "local") < 0) {
        mdns_logic_free(lg);
        return NULL;
    }
    lg->instance = lg->service;
    if (mdns_name_prepend(&lg->instance, lg->peer_name, strlen(lg->peer_name)) < 0 ||
        mdns_name_prepend(&lg->host, lg->peer_name, strlen(lg->peer_name)) < 0) {
        mdns_logic_free(lg);
        return NULL;
    }
    return lg;
}

void mdns_logic_free(struct mdns_logic *lg)
{
    if (!lg) return;
    for (size_t i = 0; i < lg->npeers; i++) free(lg->peers[i]);
    free(lg->peers);
    free(lg->ifaces);
    mdns_msg_free(lg->msg);
    free(lg->pkt);
    free(lg->own);
    free(lg->txt);
    free(lg->scratch);
    free(lg);
}

const char *mdns_logic_peer_name(const struct mdns_logic *lg)
{
    return lg->peer_name;
}

const struct mdns_name *mdns_logic_instance(const struct mdns_logic *lg)
{
    return &lg->instance;
}

const struct mdns_logic_stats *mdns_logic_stats(const struct mdns_logic *lg)
{
    return &lg->stats;
}

/* ---- interfaces -------------------------------------------------------- */

static struct iface *find_iface(struct mdns_logic *lg, uint32_t id)
{
    for (size_t i = 0; i < lg->nifaces; i++)
        if (lg->ifaces[i].id == id) return &lg->ifaces[i];
    return NULL;
}

static void schedule_answer(struct mdns_logic *lg, struct iface *f, uint64_t now)
{
    if (f->answer_pending) return;            /* merged with the one already due */
    uint64_t due = now + DELAY_MIN_MS + rnd_below(lg, DELAY_SPAN_MS + 1);
    if (f->answered && due < f->last_answer + lg->cfg.response_gap_ms) due = f->last_answer + lg->cfg.response_gap_ms;
    f->answer_due = due;
    f->answer_pending = true;
}

static void schedule_meta(struct mdns_logic *lg, struct iface *f, uint64_t now)
{
    if (f->meta_pending) return;
    f->meta_due = now + DELAY_MIN_MS + rnd_below(lg, DELAY_SPAN_MS + 1);
    f->meta_pending = true;
}

int mdns_logic_iface_up(struct mdns_logic *lg, uint32_t id, enum mdns_family fam, const uint8_t *addr,
                        uint64_t now)
{
    struct iface *f = find_iface(lg, id);
    if (!f) {
        if (lg->nifaces == lg->cap_ifaces) {
            size_t nc = lg->cap_ifaces ? 2 * lg->cap_ifaces : 4;
            struct iface *n = realloc(lg->ifaces, nc * sizeof *n);
            if (!n) return P2P_ENOMEM;
            lg->ifaces = n;
            lg->cap_ifaces = nc;
        }
        f = &lg->ifaces[lg->nifaces++];
    }
    memset(f, 0, sizeof *f);
    f->id = id;
    f->fam = fam;
    memcpy(f->addr, addr, fam == MDNS_V4 ? 4 : 16);
    f->next_query = now + DELAY_MIN_MS + rnd_below(lg, DELAY_SPAN_MS + 1);
    f->probe_gap = lg->cfg.probe_initial_ms;
    if (!f->probe_gap || f->probe_gap >= lg->cfg.query_interval_ms) f->probe_gap = 0;
    schedule_answer(lg, f, now);              /* announce ourselves */
    return 0;
}

void mdns_logic_iface_down(struct mdns_logic *lg, uint32_t id)
{
    for (size_t i = 0; i < lg->nifaces; i++)
        if (lg->ifaces[i].id == id) {
            lg->ifaces[i] = lg->ifaces[--lg->nifaces];
            return;
        }
}

size_t mdns_logic_iface_count(const struct mdns_logic *lg)
{
    return lg->nifaces;
}

/* ---- peers ------------------------------------------------------------ */

size_t mdns_logic_peer_count(const struct mdns_logic *lg)
{
    return lg->npeers;
}

static uint64_t peer_expiry(const struct peer *p)
{
    uint64_t e = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->addrs[i].expires > e) e = p->addrs[i].expires;
    return e;
}

size_t mdns_logic_peer_at(const struct mdns_logic *lg, size_t i, p2p_peerid *id, p2p_multiaddr *addrs,
                          size_t max, uint64_t *expires)
{
    if (i >= lg->npeers) return 0;
    const struct peer *p = lg->peers[i];
    if (id) *id = p->id;
    for (size_t k = 0; k < p->n && k < max; k++) addrs[k] = p->addrs[k].ma;
    if (expires) *expires = peer_expiry(p);
    return p->n;
}

static ssize_t find_peer(const struct mdns_logic *lg, const p2p_peerid *id)
{
    for (size_t i = 0; i < lg->npeers; i++)
        if (p2p_peerid_equal(&lg->peers[i]->id, id)) return (ssize_t)i;
    return -1;
}

static ssize_t find_peer_by_instance(const struct mdns_logic *lg, const struct mdns_name *inst)
{
    for (size_t i = 0; i < lg->npeers; i++)
        if (mdns_name_equal(&lg->peers[i]->instance, inst)) return (ssize_t)i;
    return -1;
}

static void remove_peer(struct mdns_logic *lg, size_t i, bool goodbye)
{
    struct peer *p = lg->peers[i];
    lg->peers[i] = lg->peers[--lg->npeers];
    if (lg->cbs.gone) lg->cbs.gone(lg->cbs.arg, &p->id, goodbye);
    free(p);
}

static void report(struct mdns_logic *lg, struct peer *p, enum mdns_report kind, uint64_t ttl_ms)
{
    for (size_t i = 0; i < p->n; i++) lg->scratch[i] = p->addrs[i].ma;
    p2p_peerid id = p->id;
    lg->cbs.discovered(lg->cbs.arg, kind, &id, lg->scratch, p->n, ttl_ms);
}

/* A peer announced addrs with ttl (ms, > 0). Returns true if the table
 * has the peer afterwards. */
static bool learn(struct mdns_logic *lg, const p2p_peerid *id, const struct mdns_name *instance,
                  const p2p_multiaddr *addrs, size_t n, uint64_t ttl_ms, uint64_t now)
{
    uint64_t expires = now + ttl_ms;
    enum mdns_report kind = 0;
    ssize_t at = find_peer(lg, id);
    struct peer *p;
    if (at < 0) {
        if (lg->npeers == lg->cfg.max_peers) {
            size_t victim = 0;
            uint64_t ve = UINT64_MAX;
            for (size_t i = 0; i < lg->npeers; i++) {
                uint64_t e = peer_expiry(lg->peers[i]);
                if (e < ve) {
                    ve = e;
                    victim = i;
                }
            }
            if (ve >= expires) return false;  /* everyone outlives the newcomer */
            struct peer *v = lg->peers[victim];
            lg->peers[victim] = lg->peers[--lg->npeers];
            free(v);
            lg->stats.peers_evicted++;
        }
        p = calloc(1, sizeof *p + lg->cfg.max_addrs * sizeof p->addrs[0]);
        if (!p) return false;
        p->id = *id;
        lg->peers[lg->npeers++] = p;
        kind = MDNS_REPORT_NEW;
    } else {
        p = lg->peers[at];
    }
    p->instance = *instance;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < p->n && !p2p_maddr_equal(&p->addrs[k].ma, &addrs[i])) k++;
        if (k == p->n) {
            if (p->n < lg->cfg.max_addrs) {
                p->n++;
            } else {
                /* Replace the address that expires first, if it does so before this one. */
                size_t o = 0;
                for (size_t j = 1; j < p->n; j++)
                    if (p->addrs[j].expires < p->addrs[o].expires) o = j;
                if (p->addrs[o].expires >= expires) continue;
                k = o;
            }
            p->addrs[k].ma = addrs[i];
            if (!kind) kind = MDNS_REPORT_CHANGED;
        }
        p->addrs[k].expires = expires;
    }
    if (!kind) {
        if (now - p->last_report >= lg->cfg.rediscover_ms) kind = MDNS_REPORT_AGAIN;
        else if (now >= p->refresh_at) kind = MDNS_REPORT_REFRESH;
    }
    if (kind) {
        if (kind != MDNS_REPORT_REFRESH) p->last_report = now;
        p->refresh_at = now + ttl_ms / 2;
        report(lg, p, kind, ttl_ms);
    }
    return true;
}

/* ---- received messages ------------------------------------------------ */

static bool class_ok(uint16_t c)
{
    return c == MDNS_CLASS_IN || c == MDNS_CLASS_ANY;
}

static enum mdns_verdict on_query(struct mdns_logic *lg, uint32_t id, uint64_t now)
{
    const struct mdns_msg *m = lg->msg;
    bool answer = false, meta = false;
    for (size_t i = 0; i < m->nq; i++) {
        const struct mdns_question *q = &m->q[i];
        if (!class_ok(q->qclass)) continue;
        uint16_t t = q->type;
        if (mdns_name_equal(&q->name, &lg->service) && (t == MDNS_T_PTR || t == MDNS_T_ANY)) answer = true;
        else if (mdns_name_equal(&q->name, &lg->instance) &&
                 (t == MDNS_T_TXT || t == MDNS_T_SRV || t == MDNS_T_ANY))
            answer = true;
        else if (mdns_name_equal(&q->name, &lg->host) &&
                 (t == MDNS_T_A || t == MDNS_T_AAAA || t == MDNS_T_ANY))
            answer = true;
        else if (mdns_name_equal(&q->name, &lg->meta) && (t == MDNS_T_PTR || t == MDNS_T_ANY))
            meta = true;
    }
    struct iface *f = find_iface(lg, id);
    if (!f || (!answer && !meta)) return MDNS_IGNORED;
    if (answer) schedule_answer(lg, f, now);
    if (meta) schedule_meta(lg, f, now);
    return MDNS_QUERY_ANSWERED;
}

static bool has_prefix_ci(const uint8_t *s, size_t len, const char *prefix)
{
    size_t pl = strlen(prefix);
    return len >= pl && !strncasecmp((const char *)s, prefix, pl);
}

enum dnsaddr_kind { DNSADDR_BAD, DNSADDR_FILTERED, DNSADDR_OK };

/* One "dnsaddr=..." string: the address without /p2p/ and the peer it
 * names. BAD: no multiaddr ending in a valid /p2p/; FILTERED: the peer is
 * known but the address is not usable (loopback, unspecified, empty). */
static enum dnsaddr_kind parse_dnsaddr(const struct mdns_logic *lg, const uint8_t *s, size_t len,
                                       p2p_multiaddr *ma, p2p_peerid *pid)
{
    char text[MDNS_TXT_STRING_MAX + 1];
    memcpy(text, s + 8, len - 8);
    text[len - 8] = 0;
    if (strlen(text) != len - 8 || p2p_maddr_parse(ma, text, NULL, 0) < 0) return DNSADDR_BAD;
    struct p2p_maddr_component c, last = { 0 };
    size_t off = 0;
    while (p2p_maddr_next(ma, &off, &c) == 1) last = c;
    if (last.code != P2P_MA_P2P || p2p_peerid_from_bytes(pid, last.value, last.value_len) < 0)
        return DNSADDR_BAD;
    p2p_maddr_pop(ma);
    return ma->len != 0 && addr_usable(ma, lg->cfg.include_loopback) ? DNSADDR_OK : DNSADDR_FILTERED;
}

/* The peer behind instance name `inst` in the parsed message: its id and
 * usable addresses. Returns true if a peer id was found. */
static bool collect(struct mdns_logic *lg, const struct mdns_name *inst, p2p_peerid *id, p2p_multiaddr *out,
                    size_t *nout)
{
    const struct mdns_msg *m = lg->msg;
    bool have = false;
    size_t n = 0;
    for (size_t i = 0; i < m->nr; i++) {
        const struct mdns_record *r = &m->r[i];
        if (r->type != MDNS_T_TXT || !class_ok(r->rclass) || !mdns_name_equal(&r->name, inst)) continue;
        for (uint32_t k = 0; k < r->u.txt.count; k++) {
            size_t len;
            const uint8_t *s = mdns_msg_txt(m, r, k, &len);
            if (!has_prefix_ci(s, len, "dnsaddr=")) continue;
            p2p_multiaddr ma;
            p2p_peerid pid;
            enum dnsaddr_kind kind = parse_dnsaddr(lg, s, len, &ma, &pid);
            bool ok = kind == DNSADDR_OK;
            if (kind != DNSADDR_BAD && !have) {
                *id = pid;                  /* the first valid /p2p/ names the peer */
                have = true;
            } else if (kind != DNSADDR_BAD && !p2p_peerid_equal(id, &pid)) {
                ok = false;
            }
            if (!ok) {
                lg->stats.addrs_rejected++;
                continue;
            }
            bool dup = false;
            for (size_t j = 0; j < n && !dup; j++) dup = p2p_maddr_equal(&out[j], &ma);
            if (!dup && n < lg->cfg.max_addrs) out[n++] = ma;
        }
    }
    *nout = n;
    return have;
}

static enum mdns_verdict on_response(struct mdns_logic *lg, uint32_t id, uint64_t now)
{
    const struct mdns_msg *m = lg->msg;
    bool own = false, used = false;
    for (size_t i = 0; i < m->nr; i++) {
        const struct mdns_record *r = &m->r[i];
        if (r->type != MDNS_T_PTR || !class_ok(r->rclass) || !mdns_name_equal(&r->name, &lg->service)) continue;
        const struct mdns_name *inst = &r->u.target;
        if (mdns_name_equal(inst, &lg->instance)) {
            own = true;
            continue;
        }
        uint64_t ttl_s = r->ttl < lg->cfg.max_ttl_s ? r->ttl : lg->cfg.max_ttl_s;
        p2p_peerid pid;
        size_t n = 0;
        bool have = collect(lg, inst, &pid, lg->scratch, &n);
        if (have && p2p_peerid_equal(&pid, &lg->self)) {
            own = true;
            continue;
        }
        if (ttl_s == 0) {
            /* Goodbye (RFC 6762 10.1): forget the peer now. */
            ssize_t at = have ? find_peer(lg, &pid) : -1;
            if (at < 0) at = find_peer_by_instance(lg, inst);
            if (at >= 0) remove_peer(lg, (size_t)at, true);
            used = true;
            continue;
        }
        if (!have || n == 0) continue;
        /* learn() reports from lg->scratch: take the addresses out first. */
        p2p_multiaddr addrs[MDNS_MAX_ADDRS_LIMIT];
        memcpy(addrs, lg->scratch, n * sizeof addrs[0]);
        if (learn(lg, &pid, inst, addrs, n, ttl_s * 1000, now)) {
            used = true;
            struct iface *f = find_iface(lg, id);
            if (f && f->probe_gap) {
                /* The burst found someone: settle to the steady interval (rust). */
                f->probe_gap = 0;
                f->next_query = now + lg->cfg.query_interval_ms + rnd_below(lg, QUERY_JITTER_MS + 1);
            }
        }
    }
    if (own && !used) {
        lg->stats.own_responses++;
        return MDNS_RESPONSE_OWN;
    }
    return used ? MDNS_RESPONSE_USED : MDNS_IGNORED;
}

enum mdns_verdict mdns_logic_on_packet(struct mdns_logic *lg, uint32_t id, const uint8_t *pkt, size_t len,
                                       uint64_t now)
{
    lg->stats.packets_in++;
    if (mdns_msg_parse(lg->msg, pkt, len) < 0) {
        lg->stats.malformed++;
        return MDNS_MALFORMED;
    }
    uint16_t fl = lg->msg->flags;
    /* RFC 6762 18.3 and 18.11: other opcodes and non-zero rcodes are ignored. */
    if (MDNS_OPCODE(fl) != 0 || MDNS_RCODE(fl) != 0) return MDNS_IGNORED;
    /* The source port is not checked: rust-libp2p answers from an ephemeral port. */
    return (fl & MDNS_FLAG_QR) ? on_response(lg, id, now) : on_query(lg, id, now);
}

/* ---- sending ----------------------------------------------------------- */

static void send_answer(struct mdns_logic *lg, struct iface *f, uint32_t ttl)
{
    size_t nown = lg->cbs.own_addrs(lg->cbs.arg, lg->own, MDNS_OWN_ADDRS_MAX);
    if (nown > MDNS_OWN_ADDRS_MAX) nown = MDNS_OWN_ADDRS_MAX;
    uint16_t port;
    size_t ntxt = mdns_own_txt(&lg->self, lg->own, nown, lg->cfg.include_loopback, lg->txt, MDNS_OWN_ADDRS_MAX,
                               &port);
    if (!ntxt && ttl) return;                   /* nothing to announce (a goodbye goes out anyway) */
    const char *strs[MDNS_OWN_ADDRS_MAX];
    for (size_t i = 0; i < ntxt; i++) strs[i] = lg->txt[i];
    struct mdns_response r = {
        .id = 0, .service = &lg->service, .instance = &lg->instance, .host = &lg->host, .ttl = ttl,
        .cache_flush = true, .port = port, .txt = strs, .ntxt = ntxt,
    };
    const uint8_t(*a4)[4] = (const uint8_t(*)[4])f->addr;
    const uint8_t(*a6)[16] = (const uint8_t(*)[16])f->addr;
    if (f->fam == MDNS_V4) {
        r.ip4 = a4;
        r.nip4 = 1;
    } else {
        r.ip6 = a6;
        r.nip6 = 1;
    }
    size_t first = 0;
    do {
        size_t used;
        int len = mdns_build_response(lg->pkt, lg->cfg.max_packet, &r, first, &used);
        if (len < 0 || (used == 0 && ntxt)) return;
        if (first == 0 && used < ntxt && r.cache_flush) {
            /* Split over several messages: no cache-flush, or each would
             * flush the strings of the one before. */
            r.cache_flush = false;
            continue;
        }
        lg->cbs.send(lg->cbs.arg, f->id, lg->pkt, (size_t)len);
        lg->stats.responses_sent++;
        first += used;
    } while (first < ntxt);
}

void mdns_logic_announce(struct mdns_logic *lg, uint64_t now)
{
    for (size_t i = 0; i < lg->nifaces; i++) schedule_answer(lg, &lg->ifaces[i], now);
}

void mdns_logic_goodbye(struct mdns_logic *lg)
{
    for (size_t i = 0; i < lg->nifaces; i++) send_answer(lg, &lg->ifaces[i], 0);
}

void mdns_logic_tick(struct mdns_logic *lg, uint64_t now)
{
    for (size_t i = 0; i < lg->nifaces; i++) {
        struct iface *f = &lg->ifaces[i];
        if (now >= f->next_query) {
            int len = mdns_build_query(lg->pkt, lg->cfg.max_packet, 0, &lg->service);
            if (len > 0) {
                lg->cbs.send(lg->cbs.arg, f->id, lg->pkt, (size_t)len);
                lg->stats.queries_sent++;
            }
            if (f->probe_gap) {
                f->next_query = now + f->probe_gap;
                f->probe_gap *= 2;
                if (f->probe_gap >= lg->cfg.query_interval_ms) f->probe_gap = 0;
            } else {
                f->next_query = now + lg->cfg.query_interval_ms + rnd_below(lg, QUERY_JITTER_MS + 1);
            }
        }
        if (f->answer_pending && now >= f->answer_due) {
            f->answer_pending = false;
            f->answered = true;
            f->last_answer = now;
            send_answer(lg, f, lg->cfg.ttl_s);
        }
        if (f->meta_pending && now >= f->meta_due) {
            f->meta_pending = false;
            struct mdns_name meta = lg->meta;
            int len = mdns_build_meta_response(lg->pkt, lg->cfg.max_packet, 0, &meta, &lg->service,
                                               lg->cfg.ttl_s);
            if (len > 0) lg->cbs.send(lg->cbs.arg, f->id, lg->pkt, (size_t)len);
        }
    }
    for (size_t i = 0; i < lg->npeers;) {
        struct peer *p = lg->peers[i];
        for (size_t k = 0; k < p->n;) {
            if (p->addrs[k].expires <= now) p->addrs[k] = p->addrs[--p->n];
            else k++;
        }
        if (p->n == 0) remove_peer(lg, i, false);
        else i++;
    }
}

uint64_t mdns_logic_next_deadline(const struct mdns_logic *lg)
{
    uint64_t d = UINT64_MAX;
    for (size_t i = 0; i < lg->nifaces; i++) {
        const struct iface *f = &lg->ifaces[i];
        if (f->next_query < d) d = f->next_query;
        if (f->answer_pending && f->answer_due < d) d = f->answer_due;
        if (f->meta_pending && f->meta_due < d) d = f->meta_due;
    }
    for (size_t i = 0; i < lg->npeers; i++)
        for (size_t k = 0; k < lg->peers[i]->n; k++)
            if (lg->peers[i]->addrs[k].expires < d) d = lg->peers[i]->addrs[k].expires;
    return d;
}
