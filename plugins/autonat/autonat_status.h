/* autonat_status.h - the AutoNAT client's view of our reachability, without
 * I/O (explicit time in milliseconds of any monotonic clock).
 *
 * Answers are combined as rust-libp2p and go-libp2p do: a server that
 * dialed us back (OK) reports PUBLIC, one whose dial-back failed
 * (E_DIAL_ERROR) reports PRIVATE; refusals, other errors, malformed
 * answers and timeouts report nothing (but count as a finished probe:
 * `probed`). A report that agrees with the status raises the confidence
 * (up to confidence_max); one that disagrees lowers it, and flips the
 * status when the confidence is already 0. The first report after start
 * (UNKNOWN, confidence 0) therefore decides at once; a status that was
 * confirmed confidence_max times needs confidence_max + 1 contrary
 * reports to flip.
 *
 * Schedule: the first probe is due boot_delay after start. A probe asks
 * up to servers_per_probe servers at once, skipping those asked within
 * server_throttle (the glue offers the connected peers that support the
 * protocol). When its last answer is in, the next one is due after
 * retry_interval while the status is UNKNOWN or not yet confirmed
 * confidence_max times, else after refresh_interval. A due probe that
 * finds no server counts as probed and is retried after retry_interval;
 * while UNKNOWN, a server that appears starts a probe at once (after
 * boot_delay). A change of our own addresses makes a probe due at once
 * when we are not PUBLIC (a new address may be reachable; the confidence
 * drops by one, as rust-libp2p), and resets a PUBLIC status whose
 * address is gone. */
#ifndef AUTONAT_STATUS_H
#define AUTONAT_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/conn.h"
#include "p2p/multiaddr.h"
#include "p2p/peerid.h"

#define AUTONAT_REMEMBERED_SERVERS 64   /* servers whose last probe time we keep */

enum autonat_report {
    AUTONAT_REPORT_NONE = 0,            /* no verdict: refused, error, timeout */
    AUTONAT_REPORT_PUBLIC,
    AUTONAT_REPORT_PRIVATE
};

struct autonat_status_cfg {
    unsigned confidence_max;
    unsigned servers_per_probe;
    uint64_t boot_delay_ms, retry_ms, refresh_ms, server_throttle_ms;
};

struct autonat_asked {
    p2p_peerid peer;
    uint64_t at;
};

struct autonat_status {
    struct autonat_status_cfg cfg;
    enum p2p_reachability status;
    unsigned confidence;
    bool probed;                        /* a probe finished (any outcome) */
    p2p_multiaddr addr;                 /* PUBLIC: the address the last OK named */
    uint64_t boot_at;                   /* no probe before */
    uint64_t due;                       /* next probe (0 while one is in flight) */
    unsigned inflight;                  /* requests of the current probe */
    struct autonat_asked asked[AUTONAT_REMEMBERED_SERVERS];
    size_t nasked;
};

void autonat_status_init(struct autonat_status *s, const struct autonat_status_cfg *cfg, uint64_t now);
/* Whether a probe should start now. */
bool autonat_status_due(const struct autonat_status *s, uint64_t now);
/* Start a probe at now with the candidate servers cand[0..n): returns how
 * many to ask (at most servers_per_probe and max) and their indices in
 * idx; they count as asked (throttled) and in flight. With none, the
 * probe ends at once (probed; retried after retry_interval). Only when
 * due. */
size_t autonat_status_pick(struct autonat_status *s, uint64_t now, const p2p_peerid *cand, size_t n, size_t *idx,
                           size_t max);
/* A server became available: true when a probe should start now (see
 * above). */
bool autonat_status_server_added(struct autonat_status *s, uint64_t now);
/* The answer of one asked server (addr: the OK's address, may be NULL).
 * Returns true when the status (or PUBLIC's address) changed. */
bool autonat_status_report(struct autonat_status *s, uint64_t now, enum autonat_report r, const p2p_multiaddr *addr);
/* Our addresses changed; still_have: whether PUBLIC's address is still
 * one of them. Returns true when the status changed. */
bool autonat_status_addrs_changed(struct autonat_status *s, uint64_t now, bool still_have);
/* When the next probe is due (0: one is in flight). */
uint64_t autonat_status_next(const struct autonat_status *s);

const char *autonat_reachability_name(enum p2p_reachability r);

#endif
