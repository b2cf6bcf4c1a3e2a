/* mdns_logic.h - libp2p mDNS discovery (libp2p specs discovery/mdns.md)
 * without I/O: when to query and answer on each interface, what to
 * answer, what a received message tells about peers, and when what was
 * learnt expires. Time is passed in explicitly (milliseconds of a
 * monotonic clock); packets go out through a callback; randomness comes
 * from a seed (a per-instance xorshift generator, so tests are exact).
 *
 * Behaviour (rust-libp2p's where the spec is silent):
 * - Per interface: a query `_p2p._udp.local PTR` 20-120 ms after the
 *   interface comes up, then at doubling gaps from probe_initial (500 ms)
 *   until the gap reaches query_interval; the burst stops early once the
 *   interface produced a peer. Then one query every query_interval plus
 *   0-100 ms of jitter.
 * - Answers (the spec's response: PTR in the answer section; TXT with
 *   "dnsaddr=<addr>/p2p/<us>" strings, SRV and A/AAAA in the additional
 *   section) go to the interface's multicast group, 20-120 ms after a
 *   query (RFC 6762 6), never sooner than response_gap after the previous
 *   one (several queries in that time get one answer), and also
 *   unsolicited when an interface comes up or our addresses change. Our
 *   own query, looped back, is answered like any other (the spec: "a peer
 *   must respond to its own query"). Queries for our instance or host
 *   name (TXT/SRV/A/AAAA/ANY) get the same answer; the DNS-SD meta query
 *   gets `_services._dns-sd._udp.local PTR _p2p._udp.local`. Nothing is
 *   answered while we have no address to announce.
 * - Received answers: every PTR record `_p2p._udp.local PTR <instance>`
 *   (any section) names a peer; its addresses are the "dnsaddr=" strings
 *   (key case-insensitive) of the TXT records owned by <instance> (any
 *   section; one or many strings each, as rust/js and go write them).
 *   Each must parse as a multiaddr ending in /p2p/<id>; the first one
 *   fixes the peer, strings naming another peer are dropped. Loopback
 *   and unspecified IP addresses are dropped unless include_loopback.
 *   Our own instance name and PeerId are ignored. The TTL is the PTR's,
 *   capped at max_ttl; TTL 0 is a goodbye and forgets the peer at once.
 * - The table holds at most max_peers peers of at most max_addrs
 *   addresses, each with its own expiry; a full table replaces the entry
 *   that expires first when the newcomer outlives it. Expired addresses
 *   and peers are forgotten in mdns_logic_tick.
 * - Reports (the discovered callback): NEW for a new peer, CHANGED when a
 *   known peer shows a new address, AGAIN when nothing changed but the
 *   last report is older than rediscover_ms (the glue redials if not
 *   connected), REFRESH when only the TTL needs extending in the peer
 *   store (at most once per half TTL). */
#ifndef MDNS_LOGIC_H
#define MDNS_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdns_dns.h"
#include "p2p/multiaddr.h"
#include "p2p/peerid.h"

#define MDNS_MAX_ADDRS_LIMIT 32         /* hard cap of max_addrs */
#define MDNS_OWN_ADDRS_MAX 64           /* our addresses considered for answers */

enum mdns_family { MDNS_V4 = 4, MDNS_V6 = 6 };

enum mdns_report { MDNS_REPORT_NEW = 1, MDNS_REPORT_CHANGED, MDNS_REPORT_AGAIN, MDNS_REPORT_REFRESH };

struct mdns_logic_cbs {
    /* Send pkt to the multicast group of interface iface (best effort). */
    void (*send)(void *arg, uint32_t iface, const uint8_t *pkt, size_t len);
    /* Our addresses to announce, without /p2p/: returns the count (may
     * exceed max; only max are written). */
    size_t (*own_addrs)(void *arg, p2p_multiaddr *out, size_t max);
    /* A peer was seen: addrs are without /p2p/ (all current ones). */
    void (*discovered)(void *arg, enum mdns_report kind, const p2p_peerid *peer,
                       const p2p_multiaddr *addrs, size_t n, uint64_t ttl_ms);
    /* A peer left: goodbye (TTL 0) or every address expired. May be NULL. */
    void (*gone)(void *arg, const p2p_peerid *peer, bool goodbye);
    void *arg;
};

struct mdns_logic_config {
    uint64_t query_interval_ms;     /* steady query interval (rust: 5 min) */
    uint64_t probe_initial_ms;      /* first gap of the initial burst (500 ms) */
    uint32_t ttl_s;                 /* TTL of our records (rust: 360 s) */
    uint32_t max_ttl_s;             /* cap on TTLs we accept */
    uint64_t rediscover_ms;         /* AGAIN reports at most this often per peer */
    uint64_t response_gap_ms;       /* minimum gap between two answers on one interface */
    size_t max_peers;
    size_t max_addrs;               /* per peer, <= MDNS_MAX_ADDRS_LIMIT */
    size_t max_packet;              /* bytes of one sent message (>= 512) */
    bool include_loopback;
    const char *peer_name;          /* NULL: random alphanumeric label */
    size_t peer_name_len;           /* 0: random length 32..63 (as rust, go); else 32..63 */
    struct mdns_limits limits;      /* for received messages */
};
void mdns_logic_config_default(struct mdns_logic_config *c);

/* What a received message was, for logs and tests. */
enum mdns_verdict {
    MDNS_IGNORED = 0,        /* valid, nothing for us (other services, opcode, rcode) */
    MDNS_MALFORMED,          /* rejected by the decoder */
    MDNS_QUERY_ANSWERED,     /* a query we answer (answer scheduled or merged) */
    MDNS_RESPONSE_USED,      /* a response that named at least one other peer */
    MDNS_RESPONSE_OWN,       /* our own answer, looped back */
};

struct mdns_logic;

/* self: our PeerId; seed: randomness (e.g. from getrandom). NULL on
 * ENOMEM or a bad configuration. */
struct mdns_logic *mdns_logic_new(const struct mdns_logic_config *cfg, const p2p_peerid *self,
                                  uint64_t seed, const struct mdns_logic_cbs *cbs);
void mdns_logic_free(struct mdns_logic *lg);

/* Our peer name (the random label) and instance name. */
const char *mdns_logic_peer_name(const struct mdns_logic *lg);
const struct mdns_name *mdns_logic_instance(const struct mdns_logic *lg);

/* Interfaces: id is the caller's key (unique per interface and family);
 * addr is the interface's address (4 or 16 bytes) for A/AAAA records.
 * Adding a known id again replaces its address and restarts its burst. */
int mdns_logic_iface_up(struct mdns_logic *lg, uint32_t id, enum mdns_family fam, const uint8_t *addr,
                        uint64_t now);
void mdns_logic_iface_down(struct mdns_logic *lg, uint32_t id);
size_t mdns_logic_iface_count(const struct mdns_logic *lg);

/* A datagram received on interface id. */
enum mdns_verdict mdns_logic_on_packet(struct mdns_logic *lg, uint32_t id, const uint8_t *pkt, size_t len,
                                       uint64_t now);
/* Our addresses changed: answer unsolicited on every interface. */
void mdns_logic_announce(struct mdns_logic *lg, uint64_t now);
/* Do what is due at now (queries, answers, expiry). */
void mdns_logic_tick(struct mdns_logic *lg, uint64_t now);
/* When mdns_logic_tick next has something to do; UINT64_MAX if never. */
uint64_t mdns_logic_next_deadline(const struct mdns_logic *lg);
/* Send goodbyes (our records with TTL 0) on every interface, now. */
void mdns_logic_goodbye(struct mdns_logic *lg);

/* The peer table (for tests and logs). */
size_t mdns_logic_peer_count(const struct mdns_logic *lg);
/* Peer i: its id, its addresses (at most max written; returns the count)
 * and the expiry of its longest-lived address. */
size_t mdns_logic_peer_at(const struct mdns_logic *lg, size_t i, p2p_peerid *id, p2p_multiaddr *addrs,
                          size_t max, uint64_t *expires);

/* Counters (for tests and logs). */
struct mdns_logic_stats {
    uint64_t queries_sent, responses_sent, packets_in, malformed, own_responses;
    uint64_t addrs_rejected;        /* strings that were not a usable dnsaddr of the peer */
    uint64_t peers_evicted;
};
const struct mdns_logic_stats *mdns_logic_stats(const struct mdns_logic *lg);

/* Our TXT strings ("dnsaddr=<addr>/p2p/<self>") for the given addresses:
 * filtered (loopback/unspecified unless include_loopback, circuit
 * addresses, addresses already carrying /p2p/), deduplicated, strings over
 * 255 bytes dropped. Writes at most max strings of MDNS_TXT_STRING_MAX+1
 * bytes each into out; returns the count. Also the SRV port (first TCP or
 * UDP port, else 4001). */
size_t mdns_own_txt(const p2p_peerid *self, const p2p_multiaddr *addrs, size_t n, bool include_loopback,
                    char (*out)[MDNS_TXT_STRING_MAX + 1], size_t max, uint16_t *port);

#endif
