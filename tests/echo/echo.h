/* echo.h - the test echo protocol "/p2pchat/echo/1.0.0", shared by the
 * integration tests and the interop peer: the server reads until EOF and
 * writes everything back, then closes; the client writes N bytes,
 * half-closes, reads them back and checks them. Both respect
 * back-pressure (P2P_STREAM_HIGH_WATER and drain). */
#ifndef P2P_TEST_ECHO_H
#define P2P_TEST_ECHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/p2p.h"

#define ECHO_PROTOCOL "/p2pchat/echo/1.0.0"

/* Register the echo server on h. */
int echo_serve(p2p_host *h);

struct echo_client {
    /* set by the caller */
    size_t total;
    uint32_t seed;               /* content is a function of seed and offset */
    void (*done)(struct echo_client *c);   /* called once */
    void *user;
    /* optional slow reader: after every pause_every bytes received, stop
     * reading for pause_ms (0: never; pause_ms per pause_every bytes of a
     * larger delivery), on a timer of host */
    size_t pause_every;
    unsigned pause_ms;
    p2p_host *host;
    /* results */
    bool ok;
    int status;                  /* P2P_E* on failure */
    size_t sent, recvd;
    /* private */
    p2p_stream *s_;
    p2p_timer *pause_timer_;
    size_t since_pause_;
};

/* Open a stream on conn and run the exchange; done() reports. With
 * pause_every set, host must be conn's host. */
int echo_start(p2p_conn *conn, struct echo_client *c);
/* The byte at offset i of a client's data. */
uint8_t echo_byte(uint32_t seed, size_t i);

#endif
