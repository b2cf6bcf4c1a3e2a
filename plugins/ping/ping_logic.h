/* ping_logic.h - /ipfs/ping/1.0.0 without I/O (libp2p/specs ping/ping.md).
 *
 * The dialer writes 32 random bytes; the listener echoes them; the dialer
 * checks the echo and measures the round trip, and may repeat on the same
 * stream. ping_echo is the listener's side (it cuts the byte stream into
 * payloads; bytes of an incomplete payload at end of stream are dropped),
 * ping_probe the dialer's (one payload in flight at a time), ping_health
 * the failure policy. */
#ifndef PING_LOGIC_H
#define PING_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/buf.h"
#include "p2p/ping.h"

#define PING_SIZE P2P_PING_SIZE

struct ping_echo {
    uint8_t part[PING_SIZE];
    size_t n;                 /* bytes of the payload being received */
    uint64_t echoed;          /* complete payloads so far */
};

void ping_echo_init(struct ping_echo *e);
/* Append to out every payload that len more bytes complete. Returns the
 * number of payloads appended, or P2P_ENOMEM / P2P_ELIMIT from out. */
int ping_echo_feed(struct ping_echo *e, const uint8_t *data, size_t len, p2p_buf *out);

enum { PING_PENDING = 0, PING_MATCH = 1 };

struct ping_probe {
    uint8_t sent[PING_SIZE];
    size_t got;               /* bytes of the echo checked so far */
    bool active;
};

void ping_probe_init(struct ping_probe *p);
/* A payload was sent: expect its echo. */
void ping_probe_start(struct ping_probe *p, const uint8_t payload[PING_SIZE]);
/* Check received bytes: PING_PENDING (echo incomplete so far), PING_MATCH
 * (echo complete and equal; the probe is idle again), or P2P_EPROTO (a
 * byte differs, or bytes arrived while no payload was in flight or past
 * the echo). */
int ping_probe_feed(struct ping_probe *p, const uint8_t *data, size_t len);

/* Consecutive failures: after max_failures of them in a row (0 = never)
 * the connection is to be closed. */
struct ping_health {
    unsigned failures, max_failures;
};
/* Record an outcome; returns true when the connection should be closed. */
bool ping_health_record(struct ping_health *h, bool ok);

/* Round-trip time in microseconds from two nanosecond timestamps, at
 * least 1 (0 means "unknown" in the peer store). */
uint64_t ping_rtt_us(uint64_t sent_ns, uint64_t received_ns);

#endif
