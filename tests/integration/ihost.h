/* ihost.h - helpers for integration tests: hosts with the real plugins on
 * one shared loop, run-until helpers with time bounds. */
#ifndef P2P_IHOST_H
#define P2P_IHOST_H

#include <stdbool.h>
#include "p2p/p2p.h"

/* A host listening on 127.0.0.1:0 with transport-tcp, noise, yamux and
 * the extra INI text (more sections or [host] keys after "[host]\n"). */
p2p_host *ihost_new(uv_loop_t *loop, const char *extra_host_keys, const char *extra_sections);
/* The same listening on listen (e.g. "/ip4/127.0.0.1/tcp/0, /p2p-circuit"). */
p2p_host *ihost_new_listen(uv_loop_t *loop, const char *listen, const char *extra_host_keys,
                           const char *extra_sections);
/* Free the n hosts, let their handles close and close the loop (asserting
 * nothing was left on it). NULL entries are skipped. */
void ihost_free_all(uv_loop_t *loop, p2p_host *const *hosts, size_t n);
/* Start it (asserting success). */
void ihost_start(p2p_host *h);
/* Run the loop until *flag becomes true or ms elapse; returns *flag. */
bool ihost_run_until(uv_loop_t *loop, const volatile bool *flag, uint64_t ms);
/* Run until cond(arg) is true or ms elapse. */
bool ihost_run_cond(uv_loop_t *loop, bool (*cond)(void *arg), void *arg, uint64_t ms);
/* Run the loop for ms. */
void ihost_run_for(uv_loop_t *loop, uint64_t ms);
/* The first listen address of h, without /p2p. */
p2p_multiaddr ihost_addr(p2p_host *h);
/* "<first listen address>/p2p/<id>" as text. */
void ihost_peer_addr(p2p_host *h, char *out, size_t cap);
/* "<relay's first listen address>/p2p/<relay>/p2p-circuit[/p2p/<target>]". */
p2p_multiaddr ihost_circuit_addr(p2p_host *relay, p2p_host *target);
/* How many /p2p-circuit addresses h advertises (relay reservations made). */
size_t ihost_circuit_count(p2p_host *h);
/* A connect callback's result: pass ihost_on_connected and &wait to
 * p2p_host_connect(_opts), then ihost_run_until(loop, &wait.done, ms). */
struct ihost_wait {
    bool done;
    int status;
    p2p_conn *c;
};
void ihost_on_connected(int status, p2p_conn *c, void *arg);
/* Connect from to `to` (at addr, or the peer store's addresses when NULL)
 * and wait up to ms: the status (P2P_ETIMEDOUT when still connecting),
 * *c the connection (may be NULL). */
int ihost_connect(uv_loop_t *loop, p2p_host *from, p2p_host *to, const p2p_multiaddr *addr, p2p_conn **c,
                  uint64_t ms);
/* The same with p2p_host_connect_opts (o not NULL). */
int ihost_connect_opts(uv_loop_t *loop, p2p_host *from, p2p_host *to, const p2p_multiaddr *addr,
                       const struct p2p_connect_opts *o, p2p_conn **c, uint64_t ms);

#endif
