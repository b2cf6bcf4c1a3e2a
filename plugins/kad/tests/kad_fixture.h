/* kad_fixture.h - what the kad host tests (itest_kad.c, itest_kad_dht.c)
 * share: nodes (a host with identify, ping and kad and its routing
 * service), the routing callbacks' result records, closing every
 * connection. */
#ifndef KAD_FIXTURE_H
#define KAD_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/p2p.h"
#include "p2p/routing.h"

struct node {
    p2p_host *h;
    const struct p2p_routing_api_v1 *rt;
    const struct p2p_routing_api_v3 *rt3;   /* the same service's v3 (stats()) */
    void *st;
};

/* A started host on loop listening on 127.0.0.1 with identify, ping and
 * kad (request_timeout 5 s, query_timeout 20 s, then kad_keys), [host]
 * close_timeout 300 ms then host_keys (either may be NULL). */
void node_make(uv_loop_t *loop, struct node *n, const char *host_keys, const char *kad_keys);
/* Entries in n's routing table. */
size_t table_size(const struct node *n);
/* Close every connection of nodes[0..count) (hosts that are NULL are
 * skipped; dials still under way may bring new ones up: they are closed
 * too) until there is none, within 20 s. Routing tables stay. */
void close_all(uv_loop_t *loop, struct node *nodes, size_t count);
bool has_addr(const struct p2p_routing_peer *p, const p2p_multiaddr *a);

/* Results of the routing service's callbacks (each called once). */
struct done_res {
    bool done;
    int status;
    size_t count;
};
void on_done(int status, size_t count, void *arg);

struct peer_res {
    bool done;
    int status;
    struct p2p_routing_peer peer;
};
void on_peer(int status, const struct p2p_routing_peer *p, void *arg);

struct value_res {
    bool done;
    int status;
    uint8_t value[4096];
    size_t len;
};
void on_value(int status, const uint8_t *v, size_t len, void *arg);

#endif
