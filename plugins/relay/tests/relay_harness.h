/* relay_harness.h - helpers for the relay's network suite: hosts with the
 * real transport-tcp, noise, yamux and relay plugins on one loop, address
 * helpers, and raw hop/stop exchanges. */
#ifndef RELAY_HARNESS_H
#define RELAY_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include "p2p/p2p.h"
#include "relay.h"
#include "relay_msg.h"

/* A started host listening on `listen` with `relay_keys` in [plugin relay]
 * (and extra [host] keys); key may be NULL (ephemeral). */
p2p_host *rh_host(uv_loop_t *loop, const char *listen, const char *host_keys, const char *relay_keys,
                  const p2p_keypair *key);
/* The first TCP listen address (no /p2p). */
p2p_multiaddr rh_tcp_addr(p2p_host *h);
/* "<tcp addr>/p2p/<id>" */
void rh_peer_addr(p2p_host *h, char *out, size_t cap);
/* "<relay tcp addr>/p2p/<relay>/p2p-circuit[/p2p/<target>]" */
p2p_multiaddr rh_circuit_addr(p2p_host *relay, p2p_host *target);
/* Whether h advertises an address with /p2p-circuit (want true or false). */
bool rh_has_circuit(p2p_host *h);
size_t rh_circuit_count(p2p_host *h);
/* The relay plugin's state (white-box checks). */
struct relay_st *rh_state(p2p_host *h);

/* Connect and wait (ms); returns the status, *c the connection. */
int rh_connect(uv_loop_t *loop, p2p_host *from, p2p_host *to, const p2p_multiaddr *addr, p2p_conn **c, uint64_t ms);
/* Open `protocol` (to peer, or on conn if not NULL), write req, read one
 * framed answer of this kind into resp. Returns 0 or the error. */
int rh_exchange(uv_loop_t *loop, p2p_host *from, p2p_host *to, p2p_conn *conn, const char *protocol,
                enum relay_kind kind, const uint8_t *req, size_t len, struct relay_msg *resp);
int rh_exchange_msg(uv_loop_t *loop, p2p_host *from, p2p_host *to, p2p_conn *conn, const struct relay_msg *req,
                    struct relay_msg *resp);

#endif
