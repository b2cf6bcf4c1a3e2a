/* netaddr.c - IP scopes, address policies, candidate addresses; see
 * p2p/netaddr.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "p2p/error.h"
#include "p2p/netaddr.h"

/* ---- scopes ------------------------------------------------------------------- */

static bool in_net(const uint8_t *ip, const uint8_t *net, unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(ip, net, full)) return false;
    if (!rest) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (ip[full] & mask) == (net[full] & mask);
}

struct range {
    uint8_t net[16];
    unsigned prefix;
    enum p2p_ip_scope scope;
};

static const struct range v4_ranges[] = {
    { { 10 }, 8, P2P_SCOPE_PRIVATE },
    { { 100, 64 }, 10, P2P_SCOPE_PRIVATE },        /* shared address space (carrier-grade NAT) */
    { { 127 }, 8, P2P_SCOPE_LOOPBACK },
    { { 169, 254 }, 16, P2P_SCOPE_LINK_LOCAL },
    { { 172, 16 }, 12, P2P_SCOPE_PRIVATE },
    { { 192, 168 }, 16, P2P_SCOPE_PRIVATE },
    { { 0 }, 8, P2P_SCOPE_RESERVED },
    { { 192, 0, 0 }, 24, P2P_SCOPE_RESERVED },
    { { 192, 0, 2 }, 24, P2P_SCOPE_RESERVED },      /* TEST-NET-1 */
    { { 192, 88, 99 }, 24, P2P_SCOPE_RESERVED },
    { { 198, 18 }, 15, P2P_SCOPE_RESERVED },        /* benchmarking */
    { { 198, 51, 100 }, 24, P2P_SCOPE_RESERVED },   /* TEST-NET-2 */
    { { 203, 0, 113 }, 24, P2P_SCOPE_RESERVED },    /* TEST-NET-3 */
    { { 224 }, 4, P2P_SCOPE_RESERVED },             /* multicast */
    { { 240 }, 4, P2P_SCOPE_RESERVED },             /* reserved, broadcast */
};

static const struct range v6_ranges[] = {
    { { 0xfe, 0x80 }, 10, P2P_SCOPE_LINK_LOCAL },
    { { 0xfc }, 7, P2P_SCOPE_PRIVATE },             /* unique local */
    { { 0xfe, 0xc0 }, 10, P2P_SCOPE_PRIVATE },      /* site-local (deprecated) */
    { { 0xff }, 8, P2P_SCOPE_RESERVED },            /* multicast */
    { { 0x01, 0x00 }, 64, P2P_SCOPE_RESERVED },     /* discard */
    { { 0x20, 0x01, 0x00, 0x02 }, 48, P2P_SCOPE_RESERVED },   /* benchmarking */
    { { 0x20, 0x01, 0x0d, 0xb8 }, 32, P2P_SCOPE_RESERVED },   /* documentation */
};

P2P_API enum p2p_ip_scope p2p_ip_scope(int family, const uint8_t *ip)
{
    static const uint8_t zero[16];
    if (family == 4) {
        if (!memcmp(ip, zero, 4)) return P2P_SCOPE_UNSPECIFIED;
        for (size_t i = 0; i < sizeof v4_ranges / sizeof v4_ranges[0]; i++)
            if (in_net(ip, v4_ranges[i].net, v4_ranges[i].prefix)) return v4_ranges[i].scope;
        return P2P_SCOPE_PUBLIC;
    }
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
    if (!memcmp(ip, zero, 16)) return P2P_SCOPE_UNSPECIFIED;
    if (!memcmp(ip, zero, 15) && ip[15] == 1) return P2P_SCOPE_LOOPBACK;
    if (!memcmp(ip, mapped, 12) || !memcmp(ip, nat64, 12)) return p2p_ip_scope(4, ip + 12);
    for (size_t i = 0; i < sizeof v6_ranges / sizeof v6_ranges[0]; i++)
        if (in_net(ip, v6_ranges[i].net, v6_ranges[i].prefix)) return v6_ranges[i].scope;
    /* Global unicast is 2000::/3; the rest is unassigned or special. */
    return (ip[0] & 0xe0) == 0x20 ? P2P_SCOPE_PUBLIC : P2P_SCOPE_RESERVED;
}

/* ---- the policy ------------------------------------------------------------------ */

static int parse_net(struct p2p_ip_net *n, const char *item)
{
    char ip[64];
    const char *slash = strchr(item, '/');
    size_t iplen = slash ? (size_t)(slash - item) : strlen(item);
    if (iplen == 0 || iplen >= sizeof ip) return P2P_EINVAL;
    memcpy(ip, item, iplen);
    ip[iplen] = 0;
    memset(n, 0, sizeof *n);
    if (inet_pton(AF_INET, ip, n->addr) == 1) n->family = 4;
    else if (inet_pton(AF_INET6, ip, n->addr) == 1) n->family = 6;
    else return P2P_EINVAL;
    unsigned max = n->family == 4 ? 32 : 128;
    n->prefix = max;
    if (slash) {
        const char *d = slash + 1;
        if (!*d || strlen(d) > 3) return P2P_EINVAL;
        unsigned v = 0;
        for (; *d; d++) {
            if (*d < '0' || *d > '9') return P2P_EINVAL;
            v = v * 10 + (unsigned)(*d - '0');
        }
        if (v > max) return P2P_EINVAL;
        n->prefix = v;
    }
    return 0;
}

static int add_item(struct p2p_addr_policy *p, const char *it, char *err, size_t errlen)
{
    if (!strcasecmp(it, "all")) p->all = true;
    else if (!strcasecmp(it, "public")) p->public_ = true;
    else if (!strcasecmp(it, "private")) p->private_ = true;
    else if (!strcasecmp(it, "loopback")) p->loopback = true;
    else if (!strcasecmp(it, "link-local")) p->link_local = true;
    else if (p->nnets >= P2P_ADDR_POLICY_MAX_NETS) {
        if (err) snprintf(err, errlen, "too many address prefixes (at most %d)", P2P_ADDR_POLICY_MAX_NETS);
        return P2P_EINVAL;
    } else if (parse_net(&p->nets[p->nnets], it) == 0) {
        p->nnets++;
    } else {
        if (err)
            snprintf(err, errlen, "'%s' is neither public, private, loopback, link-local, all nor an "
                     "address prefix such as 198.18.0.0/15", it);
        return P2P_EINVAL;
    }
    return 0;
}

P2P_API int p2p_addr_policy_parse(struct p2p_addr_policy *p, const char *const *items, size_t n, char *err,
                                  size_t errlen)
{
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < n; i++) {
        int rc = add_item(p, items[i], err, errlen);
        if (rc < 0) return rc;
    }
    return 0;
}

P2P_API int p2p_addr_policy_from_conf(struct p2p_addr_policy *p, const p2p_conf_section *cf, const char *key,
                                      char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    size_t n = p2p_conf_list_len(cf, key);
    for (size_t i = 0; i < n; i++) {
        int rc = add_item(p, p2p_conf_list_at(cf, key, i), err, errlen);
        if (rc < 0) return rc;
    }
    return 0;
}

P2P_API int p2p_maddr_ip(const p2p_multiaddr *ma, const uint8_t **ip)
{
    struct p2p_maddr_component c;
    size_t off = 0;
    if (p2p_maddr_next(ma, &off, &c) != 1) return 0;
    if (c.code == P2P_MA_IP4 && c.value_len == 4) {
        *ip = c.value;
        return 4;
    }
    if (c.code == P2P_MA_IP6 && c.value_len == 16) {
        *ip = c.value;
        return 6;
    }
    return 0;
}

P2P_API bool p2p_maddr_is_relayed(const p2p_multiaddr *ma)
{
    struct p2p_maddr_component c;
    return p2p_maddr_find(ma, P2P_MA_P2P_CIRCUIT, &c) == 1;
}

P2P_API bool p2p_maddr_is_public(const p2p_multiaddr *ma)
{
    const uint8_t *ip;
    int fam = p2p_maddr_ip(ma, &ip);
    return fam && !p2p_maddr_is_relayed(ma) && p2p_ip_scope(fam, ip) == P2P_SCOPE_PUBLIC;
}

P2P_API bool p2p_addr_policy_allows(const struct p2p_addr_policy *p, const p2p_multiaddr *ma)
{
    const uint8_t *ip;
    int fam = p2p_maddr_ip(ma, &ip);
    if (!fam || p2p_maddr_is_relayed(ma)) return false;
    enum p2p_ip_scope sc = p2p_ip_scope(fam, ip);
    if (sc == P2P_SCOPE_UNSPECIFIED) return false;
    if (p->all) return true;
    if ((sc == P2P_SCOPE_PUBLIC && p->public_) || (sc == P2P_SCOPE_PRIVATE && p->private_) ||
        (sc == P2P_SCOPE_LOOPBACK && p->loopback) || (sc == P2P_SCOPE_LINK_LOCAL && p->link_local))
        return true;
    for (size_t i = 0; i < p->nnets; i++)
        if (p->nets[i].family == fam && in_net(ip, p->nets[i].addr, p->nets[i].prefix)) return true;
    return false;
}

/* ---- address lists --------------------------------------------------------------------- */

static void add_unique(p2p_multiaddr *out, size_t *n, size_t max, const p2p_multiaddr *ma)
{
    if (*n >= max) return;
    for (size_t i = 0; i < *n; i++)
        if (p2p_maddr_equal(&out[i], ma)) return;
    out[(*n)++] = *ma;
}

/* ma's family and TCP port (second component), or false. */
static bool ip_tcp(const p2p_multiaddr *ma, int *family, const uint8_t **ip, uint16_t *port)
{
    struct p2p_maddr_component c[2];
    size_t off = 0;
    if (p2p_maddr_next(ma, &off, &c[0]) != 1 || p2p_maddr_next(ma, &off, &c[1]) != 1) return false;
    if (c[1].code != P2P_MA_TCP || c[1].value_len != 2) return false;
    if (c[0].code == P2P_MA_IP4 && c[0].value_len == 4) *family = 4;
    else if (c[0].code == P2P_MA_IP6 && c[0].value_len == 16) *family = 6;
    else return false;
    *ip = c[0].value;
    *port = (uint16_t)(c[1].value[0] << 8 | c[1].value[1]);
    return true;
}

P2P_API size_t p2p_addr_candidates(const struct p2p_addr_policy *p, const p2p_multiaddr *listen, size_t nlisten,
                                   const struct p2p_identify_observed *obs, size_t nobs, unsigned min_observers,
                                   p2p_multiaddr *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < nobs; i++) {
        const p2p_multiaddr *o = &obs[i].addr;
        if (obs[i].observers < min_observers || p2p_maddr_is_relayed(o)) continue;
        int fam;
        const uint8_t *ip;
        uint16_t port;
        if (!ip_tcp(o, &fam, &ip, &port)) {
            if (p2p_addr_policy_allows(p, o)) add_unique(out, &n, max, o);
            continue;
        }
        /* Is the observed port one of our listening ports? */
        bool listening = false;
        for (size_t k = 0; k < nlisten && !listening; k++) {
            int lf;
            const uint8_t *lip;
            uint16_t lp;
            listening = ip_tcp(&listen[k], &lf, &lip, &lp) && lf == fam && lp == port;
        }
        if (listening) {
            if (p2p_addr_policy_allows(p, o)) add_unique(out, &n, max, o);
            continue;
        }
        for (size_t k = 0; k < nlisten; k++) {
            int lf;
            const uint8_t *lip;
            uint16_t lp;
            if (!ip_tcp(&listen[k], &lf, &lip, &lp) || lf != fam) continue;
            p2p_multiaddr t = { 0 };
            uint8_t pb[2] = { (uint8_t)(lp >> 8), (uint8_t)lp };
            if (p2p_maddr_push(&t, fam == 4 ? P2P_MA_IP4 : P2P_MA_IP6, ip, fam == 4 ? 4 : 16) < 0 ||
                p2p_maddr_push(&t, P2P_MA_TCP, pb, 2) < 0)
                continue;
            if (p2p_addr_policy_allows(p, &t)) add_unique(out, &n, max, &t);
        }
    }
    for (size_t i = 0; i < nlisten; i++)
        if (p2p_addr_policy_allows(p, &listen[i])) add_unique(out, &n, max, &listen[i]);
    return n;
}

