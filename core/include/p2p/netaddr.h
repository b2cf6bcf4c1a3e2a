/* p2p/netaddr.h - IP address scopes, address policies and our candidate
 * external addresses, without I/O (ABI 1.3). Shared by the protocols that
 * must decide which addresses to offer or to dial: DCUtR (hole punching)
 * and AutoNAT (dial-backs).
 *
 * Scopes: "public" is global unicast: no private, loopback, link-local,
 * shared (100.64/10), documentation, benchmarking (198.18/15), multicast
 * or reserved range. "private" is 10/8, 172.16/12, 192.168/16, 100.64/10,
 * fc00::/7 (and the deprecated fec0::/10); "loopback" 127/8, ::1;
 * "link-local" 169.254/16, fe80::/10. IPv4-mapped (::ffff:a.b.c.d) and
 * NAT64 (64:ff9b::a.b.c.d) IPv6 addresses have the scope of their IPv4.
 *
 * A policy (a config list such as `allow = public, 198.18.0.0/15`) is a
 * list of items: "public", "private", "loopback", "link-local", "all", or
 * a CIDR prefix ("198.18.0.0/15", "2001:db8::/32"; a bare address is a
 * /32 or /128). It allows an address whose first component is /ip4 or
 * /ip6 with an allowed IP, never one with /p2p-circuit, never an
 * unspecified address (0.0.0.0, ::). Policies are plain values (no
 * ownership). */
#ifndef P2P_NETADDR_H
#define P2P_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "config.h"
#include "identify.h"
#include "multiaddr.h"

P2P_BEGIN_DECLS

enum p2p_ip_scope {
    P2P_SCOPE_PUBLIC = 0,
    P2P_SCOPE_PRIVATE,
    P2P_SCOPE_LOOPBACK,
    P2P_SCOPE_LINK_LOCAL,
    P2P_SCOPE_UNSPECIFIED,
    P2P_SCOPE_RESERVED         /* documentation, benchmarking, multicast, ... */
};

#define P2P_ADDR_POLICY_MAX_NETS 16

struct p2p_ip_net {
    int family;                /* 4 or 6 */
    uint8_t addr[16];
    unsigned prefix;
};

struct p2p_addr_policy {
    bool all, public_, private_, loopback, link_local;
    size_t nnets;
    struct p2p_ip_net nets[P2P_ADDR_POLICY_MAX_NETS];
};

/* The scope of an IP address (family 4: 4 bytes, 6: 16 bytes). */
P2P_API enum p2p_ip_scope p2p_ip_scope(int family, const uint8_t *ip);
/* The IP of ma's first component: returns 4 or 6 and points *ip into ma,
 * or 0 when ma does not start with /ip4 or /ip6. */
P2P_API int p2p_maddr_ip(const p2p_multiaddr *ma, const uint8_t **ip);
/* Whether ma is a relayed (/p2p-circuit) address. */
P2P_API bool p2p_maddr_is_relayed(const p2p_multiaddr *ma);
/* Whether ma starts with a public IP and is not relayed. */
P2P_API bool p2p_maddr_is_public(const p2p_multiaddr *ma);

/* Parse the items (case-insensitive names); 0, or P2P_EINVAL with a
 * sentence in err (may be NULL). No items: a policy that allows nothing. */
P2P_API int p2p_addr_policy_parse(struct p2p_addr_policy *p, const char *const *items, size_t n, char *err,
                                  size_t errlen);
/* The same from a P2P_CONF_LIST key of a config section (e.g. a plugin's
 * `allow`). */
P2P_API int p2p_addr_policy_from_conf(struct p2p_addr_policy *p, const p2p_conf_section *cf, const char *key,
                                      char *err, size_t errlen);
/* Whether the policy allows ma (see above). */
P2P_API bool p2p_addr_policy_allows(const struct p2p_addr_policy *p, const p2p_multiaddr *ma);

/* Our addresses as others may reach them, deduplicated, at most max;
 * returns the count. First the addresses identify's peers observed us at
 * (seen by at least min_observers peers, most observed first as the
 * identify service returns them), then our listen addresses; only those
 * the policy allows. An observed TCP address whose port is none of our
 * listening ports (we dialed that peer from an ephemeral port) is
 * translated to each listening port of the same IP version: behind an
 * endpoint-independent NAT or a port forward, that is where the listener
 * is reached from outside. */
P2P_API size_t p2p_addr_candidates(const struct p2p_addr_policy *p, const p2p_multiaddr *listen, size_t nlisten,
                                   const struct p2p_identify_observed *obs, size_t nobs, unsigned min_observers,
                                   p2p_multiaddr *out, size_t max);

P2P_END_DECLS
#endif
