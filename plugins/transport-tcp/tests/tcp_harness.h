/* tcp_harness.h - helpers of the transport-tcp suite: hosts that load the
 * real plugin, bounded loop stepping, stream owners that record what they
 * see, and dial/accept recorders. */
#ifndef TCP_HARNESS_H
#define TCP_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/p2p.h"
#include "testutil.h"

/* A host loading [plugin transport-tcp] with extra keys for that section
 * (e.g. "connect_timeout = 300ms\n"), started. loop NULL: its own loop.
 * Its [host] listen is empty: the swarm opens no listener of its own, so
 * the test's listeners are the only ones (reuse_port picks among them). */
p2p_host *th_host(uv_loop_t *loop, const char *tcp_keys);
/* The tcp transport of h (through p2p_transport_for) and its state. */
const struct p2p_transport_ops *th_tcp(p2p_host *h, void **state);
p2p_multiaddr th_ma(const char *text);
const char *th_str(const p2p_multiaddr *ma);   /* static buffer */
uint16_t th_port(const p2p_multiaddr *ma);     /* tcp port or 0 */

uint64_t th_now_ms(void);
/* One loop iteration, blocking at most ~10 ms. */
void th_step(uv_loop_t *loop);
/* Step until cond holds or ms pass; evaluates to cond. */
#define TH_WAIT(loop, cond, ms)                                              \
    ({                                                                       \
        uint64_t th_deadline_ = th_now_ms() + (ms);                          \
        while (!(cond) && th_now_ms() < th_deadline_) th_step(loop);         \
        (cond);                                                              \
    })

bool th_have_ipv6(void);

/* Log lines at WARN or above seen since th_log_reset (all lines still go
 * to stderr). */
void th_log_setup(void);
void th_log_reset(void);
int th_warnings(void);
bool th_warned(const char *needle);

/* An owner of one stream. Received bytes are kept (up to keep bytes) and
 * checked against the pattern byte(i) = i % 251 when check is set. */
struct th_sink {
    p2p_stream *s;
    uint8_t *data;
    size_t len, keep;
    bool check, bad, stop_after_read;
    int eof, errors, err, drains;
    int reads;                 /* on_read calls */
};
void th_sink_attach(struct th_sink *k, p2p_stream *s, size_t keep);
/* Close the stream (if still held) and free the data. */
void th_sink_done(struct th_sink *k);

struct th_dial {
    int calls, status;
    p2p_stream *raw;
};
void th_dial_cb(int status, p2p_stream *raw, void *arg);

#define TH_MAX_ACCEPT 16
struct th_accept {
    p2p_stream *s[TH_MAX_ACCEPT];
    size_t n;
};
void th_accept_cb(p2p_stream *raw, void *arg);

/* Listen on text and return the listener and its first address. */
void *th_listen(p2p_host *h, const char *text, struct th_accept *acc, p2p_multiaddr *addr);
/* Dial to and wait for both ends (server end: the next one in acc). */
void th_connect(p2p_host *h, const p2p_multiaddr *to, const struct p2p_dial_opts *opts,
                struct th_accept *acc, p2p_stream **client, p2p_stream **server);

/* A host (th_host(NULL, tcp_keys)) listening on 127.0.0.1 with one
 * connection to itself: *client the dialing end, *server the accepted one. */
p2p_host *th_pair(const char *tcp_keys, p2p_stream **client, p2p_stream **server);

static inline uint8_t th_pattern(size_t i) { return (uint8_t)(i % 251); }

/* test_tcp_dial.c */
void th_add_dial_tests(Suite *s);

#endif
