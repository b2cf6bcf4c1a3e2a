/* dcutr_addr.h - which addresses a hole punch may use, without I/O.
 *
 * The policy (config key `allow`) is a list of items: "public" (global
 * unicast: no private, loopback, link-local, shared (100.64/10),
 * documentation, benchmarking (198.18/15), multicast or reserved range),
 * "private" (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7),
 * "loopback" (127/8, ::1), "link-local" (169.254/16, fe80::/10), "all",
 * or a CIDR prefix ("198.18.0.0/15", "2001:db8::/32"). The spec's default
 * is "public"; test labs add their reserved ranges. It applies to the
 * addresses we offer in CONNECT and to those of the peer we dial. Only
 * /ip4 and /ip6 addresses qualify (a punch needs a concrete address), never
 * one with /p2p-circuit or an unspecified address (0.0.0.0, ::).
 *
 * Our addresses for CONNECT: the addresses identify's peers observed us at
 * (seen by at least `min_observers` peers), most observed first, then our
 * listen addresses. An observed TCP address whose port is none of our
 * listening ports (we dialed that peer from an ephemeral port) is
 * translated to each listening port of the same IP version: a punch dials
 * from the listening port, and an endpoint-independent NAT maps it to the
 * same public address. */
#ifndef DCUTR_ADDR_H
#define DCUTR_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/identify.h"
#include "p2p/multiaddr.h"

#define DCUTR_POLICY_MAX_NETS 16

enum dcutr_scope {
    DCUTR_SCOPE_PUBLIC = 0,
    DCUTR_SCOPE_PRIVATE,
    DCUTR_SCOPE_LOOPBACK,
    DCUTR_SCOPE_LINK_LOCAL,
    DCUTR_SCOPE_UNSPECIFIED,
    DCUTR_SCOPE_RESERVED       /* documentation, benchmarking, multicast, ... */
};

struct dcutr_net {
    int family;                /* 4 or 6 */
    uint8_t addr[16];
    unsigned prefix;
};

struct dcutr_policy {
    bool all, public_, private_, loopback, link_local;
    size_t nnets;
    struct dcutr_net nets[DCUTR_POLICY_MAX_NETS];
};

/* Parse the items; 0, or P2P_EINVAL with a sentence in err. */
int dcutr_policy_parse(struct dcutr_policy *p, const char *const *items, size_t n, char *err, size_t errlen);
/* The scope of an IP address (family 4: 4 bytes, 6: 16 bytes). */
enum dcutr_scope dcutr_ip_scope(int family, const uint8_t *ip);
/* Whether ma is /ip4 or /ip6 (with anything after, but no /p2p-circuit)
 * and the policy allows its IP. */
bool dcutr_policy_allows(const struct dcutr_policy *p, const p2p_multiaddr *ma);
/* Whether ma is a relayed (/p2p-circuit) address. */
bool dcutr_addr_is_relayed(const p2p_multiaddr *ma);
/* Whether ma's IP is public (the spec's condition for a unilateral dial). */
bool dcutr_addr_is_public(const p2p_multiaddr *ma);

/* Our addresses for CONNECT (see above), deduplicated, at most max;
 * returns the count. */
size_t dcutr_local_addrs(const struct dcutr_policy *p, const p2p_multiaddr *listen, size_t nlisten,
                         const struct p2p_identify_observed *obs, size_t nobs, unsigned min_observers,
                         p2p_multiaddr *out, size_t max);
/* The peer's addresses we may dial: allowed, without /p2p-circuit,
 * deduplicated, in order; at most max; returns the count. */
size_t dcutr_remote_addrs(const struct dcutr_policy *p, const p2p_multiaddr *in, size_t n, p2p_multiaddr *out,
                          size_t max);

#endif
