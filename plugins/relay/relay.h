/* relay.h - the relay plugin's glue, shared by plugin.c (descriptor,
 * configuration, lifecycle, events), relay_io.c (message reading and
 * writing over streams, tickets), relay_server.c (hop: reservations and
 * circuit set-up), relay_pump.c (relaying bytes with back-pressure),
 * relay_client.c (reservations on relays, stop: accepting circuits) and
 * relay_transport.c (the "p2p-circuit" transport: dial and listen).
 *
 * Lifetime: the state is reference-counted (refs). fini drops the
 * plugin's own reference; every callback that may arrive later (a
 * p2p_host_connect or p2p_conn_open_stream result) holds one through a
 * ticket, whose owner pointer is cleared when its requester goes away, so
 * late results are released without touching freed memory. */
#ifndef RELAY_H
#define RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/p2p.h"
#include "p2p/transport.h"
#include "relay_msg.h"
#include "relay_table.h"

#define MOD "relay"
#define RELAY_MAX_RELAYS 16          /* relays a client reserves on */
#define RELAY_ADV_PER_RELAY 8        /* circuit addresses advertised per relay */

/* A minimal intrusive doubly linked list. */
struct rlist {
    struct rlist *prev, *next;
};
#define RLIST_OF(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
static inline void rlist_init(struct rlist *l) { l->prev = l->next = l; }
static inline bool rlist_empty(const struct rlist *l) { return l->next == l; }
static inline void rlist_add(struct rlist *head, struct rlist *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}
static inline void rlist_del(struct rlist *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    rlist_init(n);
}

struct relay_st;

/* ---- relay_io.c ------------------------------------------------------------ */

/* A result that may arrive after its requester is gone (see above). */
struct relay_ticket {
    struct relay_st *st;
    void *owner;                     /* NULL: nobody waits any more */
};
struct relay_ticket *relay_ticket_new(struct relay_st *st, void *owner);
/* In the callback: returns the owner (NULL if gone) and frees t. */
void *relay_ticket_take(struct relay_ticket *t);

/* Reads one length-prefixed message from a stream, with a time limit,
 * then stops reading and gives back any bytes after it (p2p_stream_unread).
 * done() gets status 0 and the message, or P2P_EINVAL (malformed),
 * P2P_ERANGE (too long), P2P_ETIMEDOUT, P2P_ETRUNC (EOF first) or the
 * stream's error. The reader is idle again when done() runs, which may
 * close the stream and free the reader's owner. */
struct relay_reader;
typedef void (*relay_read_cb)(struct relay_reader *r, int status, const struct relay_msg *m);
struct relay_reader {
    struct relay_st *st;
    p2p_stream *s;
    enum relay_kind kind;
    p2p_buf buf;
    p2p_timer *timer;
    relay_read_cb done;
    void *owner;
};
int relay_reader_start(struct relay_reader *r, struct relay_st *st, p2p_stream *s, enum relay_kind kind,
                       uint64_t timeout_ms, relay_read_cb done, void *owner);
/* Abandon a read in progress: nothing is called back; the stream keeps
 * inert handlers until its owner sets others or closes it. */
void relay_reader_cancel(struct relay_reader *r);

/* Encode and write m. 0 or a P2P_E* code. */
int relay_send(p2p_stream *s, const struct relay_msg *m);
/* Answer with a STATUS message of this kind and finish the stream. */
void relay_respond(struct relay_st *st, p2p_stream *s, enum relay_kind kind, uint32_t status);
/* Half-close, then release the stream once its queue is flushed (bounded
 * by the handshake timeout). Takes ownership. */
void relay_finish(struct relay_st *st, p2p_stream *s);
void relay_finish_all(struct relay_st *st);   /* at stop: release them now */

/* Helpers. */
const char *relay_peer_str(const p2p_peerid *id, char buf[P2P_PEERID_STRMAX]);
void relay_ip_of(const p2p_multiaddr *ma, struct relay_ip *ip);
uint64_t relay_wall_ms(void);
p2p_conn *relay_conn_by_id(p2p_host *h, uint64_t id);

/* ---- relay_pump.c ------------------------------------------------------------ */

/* Joins two streams: what one side reads the other writes, each side
 * stopped while the other's write queue is above the watermark and
 * resumed on drain. At most max_bytes (0 = unlimited) go each way; EOF is
 * passed on as a half-close. end() is called once: reason 0 when both
 * directions finished cleanly, else P2P_ELIMIT, a stream error, or what
 * relay_pump_abort was given; the pump has then released both streams. */
struct relay_pump;
typedef void (*relay_pump_end_cb)(struct relay_pump *p, int reason);
struct relay_pump_side {
    struct relay_pump *p;
    p2p_stream *s;
    uint64_t fwd;                    /* bytes read here and written to the other side */
    bool eof;                        /* this side half-closed its writing */
};
struct relay_pump {
    struct relay_pump_side side[2];
    uint64_t max_bytes;
    size_t watermark;
    relay_pump_end_cb end;
    bool ended;
    size_t *peak;                    /* if set: raised to the largest write queue seen */
    p2p_metric_series *bytes;        /* if set: counts the bytes relayed (set before start) */
};
/* Takes ownership of a and b (reading stopped; unread bytes are kept). */
void relay_pump_start(struct relay_pump *p, p2p_stream *a, p2p_stream *b, uint64_t max_bytes,
                      size_t watermark, size_t *peak, relay_pump_end_cb end);
/* Reset both streams and end with reason. */
void relay_pump_abort(struct relay_pump *p, int reason);

/* ---- relay_server.c ---------------------------------------------------------- */

int relay_server_init(struct relay_st *st);
void relay_server_stop(struct relay_st *st);
void relay_server_fini(struct relay_st *st);
void relay_server_conn_closed(struct relay_st *st, uint64_t conn_id);
size_t relay_server_circuits(const struct relay_st *st);

/* ---- relay_client.c ---------------------------------------------------------- */

/* One relay we reserve a slot on. */
enum relay_cl_state { CL_IDLE, CL_CONNECTING, CL_RESERVING, CL_RESERVED };
struct relay_cl {
    struct relay_st *st;
    p2p_peerid id;
    bool has_addr;
    p2p_multiaddr addr;              /* configured transport address (no /p2p) */
    enum relay_cl_state state;
    bool reserved;                   /* holds a reservation (also while renewing) */
    uint64_t conn_id;
    uint64_t expire_wall_ms;
    unsigned failures;
    bool hop_refused;                /* the last attempt: the relay did not speak hop (yet) */
    p2p_timer *timer;                /* renewal or retry */
    struct relay_ticket *tk;         /* connect or open in flight */
    p2p_stream *s;                   /* the RESERVE exchange */
    p2p_stream *held;                /* keeps the connection busy while reserved */
    struct relay_reader rd;
    struct relay_limit limit;        /* the relay's last announced limit */
    p2p_multiaddr adv[RELAY_ADV_PER_RELAY];
    size_t nadv;
};

int relay_client_init(struct relay_st *st, const p2p_conf_section *cf);
/* Decide again whether to hold reservations: while the swarm listens on
 * /p2p-circuit (circuit_listening) and, with reserve = auto, while we are
 * not known to be publicly reachable (p2p_host_reachability: PRIVATE,
 * UNKNOWN after probing, or not tracked at all). Called when a listener
 * appears or goes and when reachability changes. */
void relay_client_update(struct relay_st *st);
void relay_client_stop(struct relay_st *st);
void relay_client_fini(struct relay_st *st);
void relay_client_conn_event(struct relay_st *st, const struct p2p_event *ev);
int relay_client_add_relay(struct relay_st *st, const p2p_peerid *id, const p2p_multiaddr *addr);

/* ---- relay_transport.c ------------------------------------------------------- */

int relay_transport_init(struct relay_st *st);
void relay_transport_stop(struct relay_st *st);
void relay_transport_fini(struct relay_st *st);
bool relay_transport_listening(const struct relay_st *st);
/* Hand an accepted circuit to the swarm; false if nobody listens. */
bool relay_transport_deliver(struct relay_st *st, p2p_stream *raw);

/* ---- plugin state ------------------------------------------------------------ */

/* Counters (for logs and tests; p2p_host_plugin_state gives the state). */
struct relay_stats {
    uint64_t reservations, renewals, reservations_refused;
    uint64_t circuits, circuits_refused, circuits_ended;
    size_t peak_queued;              /* largest write queue towards one side of a circuit */
};

/* Metrics (relay_metrics.c); NULL series when a role is off. */
struct relay_metrics {
    p2p_metric_series *rsvp_active, *rsvp_new, *rsvp_renewed;
    p2p_metric *rsvp_refused;        /* {reason} */
    p2p_metric_series *circ_active, *circ_accepted, *circ_bytes;
    p2p_metric *circ_refused;        /* {reason} */
    p2p_metric *circ_closed;         /* {reason} */
    p2p_metric_series *client_reserved;
};

struct relay_st {
    p2p_host *host;
    const p2p_conf_section *cf;      /* the section in use (replaced by a reload) */
    unsigned refs;
    bool started, stopped, finied;
    bool server, client;
    /* configuration */
    struct relay_limits lim;
    uint64_t circuit_duration_ms;    /* 0 = unlimited */
    uint64_t circuit_bytes;          /* 0 = unlimited */
    size_t watermark;
    uint64_t handshake_ms;
    uint64_t retry_ms, retry_max_ms;
    size_t max_pending;
    size_t npending;                 /* hop/stop requests being read */
    p2p_subscription *sub;
    struct rlist closing;            /* streams being finished */
    /* server */
    bool table_ok;
    struct relay_table table;
    p2p_timer *expiry;
    struct rlist hops, helds, circuits;
    size_t ncircuits;
    struct relay_stats stats;
    struct relay_metrics m;
    /* client */
    struct relay_cl *relays;         /* RELAY_MAX_RELAYS slots */
    size_t nrelays;
    bool reserving;
    bool circuit_listening;          /* the swarm listens on /p2p-circuit */
    bool reserve_always;             /* reserve = always: whatever reachability says */
    const char *reserve_why;         /* the last decision logged */
    struct rlist listeners, dials, stops;
};

/* ---- relay_metrics.c ---------------------------------------------------------- */

int relay_metrics_init(struct relay_st *st);
void relay_metrics_fini(struct relay_st *st);
/* +1 on m's series for reason (refusals, closes). */
void relay_metrics_refused(p2p_metric *m, const char *reason);
void relay_metrics_circuit_closed(struct relay_st *st, int reason);

void relay_st_ref(struct relay_st *st);
void relay_st_unref(struct relay_st *st);

#endif
