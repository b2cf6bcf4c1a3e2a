/* autonat.h - the autonat plugin's glue state, shared by plugin.c
 * (descriptor, configuration, lifecycle, events, publishing the status),
 * autonat_server.c (answering DIAL requests with dial-backs) and
 * autonat_client.c (probes). Also read by the white-box network tests
 * through p2p_host_plugin_state(h, "autonat").
 *
 * Lifetimes: the state is reference-counted (its own reference, one per
 * request or probe object); request and probe objects are
 * reference-counted too (their list's reference, one per dial or stream
 * open in flight), so that results arriving after an object finished, or
 * after fini, touch nothing freed. */
#ifndef AUTONAT_H
#define AUTONAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "autonat_msg.h"
#include "autonat_policy.h"
#include "autonat_status.h"
#include "p2p/identify.h"
#include "p2p/p2p.h"

#define AUTONAT_MOD "autonat"
#define AUTONAT_MAX_SERVERS 64       /* candidate servers looked at per probe */
#define AUTONAT_MAX_OWN_ADDRS 16     /* addresses we ask to be dialed at */

struct autonat_stats {
    /* server */
    uint64_t requests;               /* DIAL requests read */
    uint64_t dialbacks_ok, dialbacks_failed;
    uint64_t refused;                /* E_DIAL_REFUSED answers (policy or limits) */
    uint64_t bad_requests;           /* E_BAD_REQUEST answers */
    uint64_t streams_dropped;        /* reset: over max_streams, unreadable, too large, silent */
    /* client */
    uint64_t probes;                 /* requests sent */
    uint64_t said_public, said_private, said_nothing;
};

struct an_link {
    struct an_link *prev, *next;
};

struct autonat_st {
    p2p_host *h;
    unsigned refs;
    bool started, stopped;
    bool server, client;
    p2p_subscription *sub;
    const struct p2p_identify_api_v1 *id;
    void *id_st;
    struct autonat_stats stats;
    /* server */
    struct p2p_addr_policy policy;
    size_t max_addrs, max_streams;
    uint64_t dial_timeout_ms, read_timeout_ms;
    struct autonat_limiter lim;
    bool lim_ok;
    bool limit_logged;               /* a limit refusal was logged at info in ... */
    uint64_t limit_log_window;       /* ... this window (lim.window_start) */
    struct an_link reqs;
    size_t nreqs;
    /* client */
    struct autonat_status cl;
    uint64_t probe_timeout_ms;
    p2p_timer *timer;
    struct an_link probes;
    uint64_t addr_print;             /* fingerprint of our (non-relayed) addresses */
    bool have_print;
};

static inline void an_list_init(struct an_link *l) { l->prev = l->next = l; }
static inline bool an_list_empty(const struct an_link *l) { return l->next == l; }
static inline void an_list_add(struct an_link *head, struct an_link *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}
static inline void an_list_del(struct an_link *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    an_list_init(n);
}

/* plugin.c */
void autonat_st_ref(struct autonat_st *st);
void autonat_st_unref(struct autonat_st *st);
uint64_t autonat_now(const struct autonat_st *st);
const char *autonat_peer_str(const p2p_peerid *id, char buf[P2P_PEERID_STRMAX]);
/* Publish the client's status through the core (p2p_host_set_reachability). */
void autonat_publish(struct autonat_st *st, bool changed);
/* Collect the bytes of one length-prefixed message in b (p2p_buf_init'ed
 * with limit AUTONAT_FRAME_MAX): 0 with *hdr and *body once complete (bytes
 * after it are ignored: each side sends one message), P2P_ETRUNC for
 * more, P2P_ERANGE (too long), P2P_EPROTO (bad length) or P2P_ENOMEM. */
int autonat_take(p2p_buf *b, const uint8_t *data, size_t len, size_t *hdr, size_t *body);

/* autonat_server.c */
void autonat_server_on_stream(p2p_stream *s, const char *protocol_id, void *arg);
void autonat_server_stop(struct autonat_st *st);

/* autonat_client.c */
void autonat_client_tick(struct autonat_st *st);            /* a probe may be due */
void autonat_client_on_event(struct autonat_st *st, const struct p2p_event *ev);
void autonat_client_stop(struct autonat_st *st);
/* Our addresses for a DIAL request (candidates, see p2p_addr_candidates,
 * then advertised ones), at most max. */
size_t autonat_own_addrs(struct autonat_st *st, p2p_multiaddr *out, size_t max);

#endif
