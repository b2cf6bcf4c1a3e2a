/* dcutr_addr.h - which addresses a hole punch may use, without I/O.
 *
 * The policy (config key `allow`) is a core address policy
 * (p2p/netaddr.h): "public" by default as the spec says; test labs add
 * their reserved ranges. It applies to the addresses we offer in CONNECT
 * (p2p_addr_candidates: observed addresses, translated to the listening
 * port, then listen addresses) and to those of the peer we dial. */
#ifndef DCUTR_ADDR_H
#define DCUTR_ADDR_H

#include <stddef.h>

#include "p2p/multiaddr.h"
#include "p2p/netaddr.h"

/* The peer's addresses we may dial: allowed, without /p2p-circuit,
 * deduplicated, in order; at most max; returns the count. */
size_t dcutr_remote_addrs(const struct p2p_addr_policy *p, const p2p_multiaddr *in, size_t n, p2p_multiaddr *out,
                          size_t max);

#endif
