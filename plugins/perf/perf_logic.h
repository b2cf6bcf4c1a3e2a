/* perf_logic.h - the I/O-free part of /perf/1.0.0: the request codec, the
 * server's and the client's byte accounting, and the throughput meter.
 * No allocation, no clock: callers pass the time in. */
#ifndef P2P_PERF_LOGIC_H
#define P2P_PERF_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/perf.h"

#define PERF_HEADER_SIZE 8

void perf_encode_size(uint64_t n, uint8_t out[PERF_HEADER_SIZE]);
uint64_t perf_decode_size(const uint8_t in[PERF_HEADER_SIZE]);

/* ---- server ----------------------------------------------------------------- */

enum perf_server_phase {
    PERF_SRV_HEADER,    /* reading the 8-byte size */
    PERF_SRV_DRAIN,     /* reading the upload until EOF */
    PERF_SRV_SEND,      /* sending the download */
    PERF_SRV_DONE       /* everything sent: half-close */
};

struct perf_server {
    enum perf_server_phase phase;
    uint8_t hdr[PERF_HEADER_SIZE];
    size_t hdr_len;
    uint64_t max_bytes;     /* 0 = no limit on the upload and on the size asked for */
    uint64_t download;      /* bytes asked for (valid from PERF_SRV_DRAIN) */
    uint64_t received;      /* upload bytes (the header excluded) */
    uint64_t sent;
};

void perf_server_init(struct perf_server *s, uint64_t max_bytes);
/* Input from the client. 0, or P2P_ELIMIT (the size asked for or the
 * upload exceeds max_bytes), P2P_EPROTO (data after EOF). */
int perf_server_feed(struct perf_server *s, const uint8_t *data, size_t len);
/* The client half-closed: P2P_ETRUNC before a complete size, else 0 and
 * the phase becomes SEND (or DONE for a download of 0). */
int perf_server_eof(struct perf_server *s);
/* How many bytes to send next, at most max (0: nothing now). */
size_t perf_server_next(const struct perf_server *s, size_t max);
/* n bytes were sent (n <= what next returned); DONE after the last. */
void perf_server_sent(struct perf_server *s, size_t n);

/* ---- client ----------------------------------------------------------------- */

struct perf_client {
    uint64_t upload, download;        /* totals asked for */
    size_t hdr_sent;                  /* header bytes produced so far */
    uint64_t uploaded;                /* payload bytes produced so far */
    uint64_t downloaded;
    bool eof;
};

void perf_client_init(struct perf_client *c, uint64_t upload, uint64_t download);
/* Fill buf (cap bytes; zero bytes of payload after the header) with the
 * next bytes to write; returns the count, 0 when the upload is complete. */
size_t perf_client_produce(struct perf_client *c, uint8_t *buf, size_t cap);
/* The same, without touching the payload bytes (buf already holds zeros):
 * writes only the header part and returns the count. */
size_t perf_client_produce_zero(struct perf_client *c, uint8_t *buf, size_t cap);
bool perf_client_upload_done(const struct perf_client *c);
/* len downloaded bytes: 0, or P2P_EPROTO beyond the size asked for. */
int perf_client_feed(struct perf_client *c, size_t len);
/* The server closed: 0 when exactly `download` came, else P2P_ETRUNC. */
int perf_client_eof(struct perf_client *c);

/* ---- meter ------------------------------------------------------------------ */

/* Intermediary reports cover the time since the previous one; the final
 * one the whole run (from `start`). Times in microseconds. */
struct perf_meter {
    uint64_t start_us, last_us;
    uint64_t last_up, last_down;
};

void perf_meter_init(struct perf_meter *m, uint64_t now_us);
/* Fill the interval (or, with last, whole-run) fields and totals of r;
 * latency fields are the caller's. */
void perf_meter_report(struct perf_meter *m, uint64_t now_us, uint64_t up, uint64_t down, bool last,
                       struct p2p_perf_report *r);

#endif
