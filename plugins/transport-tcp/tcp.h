/* tcp.h - internals of the transport-tcp plugin, shared by plugin.c
 * (lifecycle, addresses), tcp_conn.c (the raw stream), tcp_listen.c and
 * tcp_dial.c.
 *
 * Lifetimes. Every object (listener, dial, connection) holds a reference
 * on the plugin state, and the plugin itself holds one until fini; the
 * state is freed when the count reaches zero. That keeps the shared read
 * buffer and the configuration valid for close callbacks that run after
 * fini (the loop keeps running until every handle is closed), and for an
 * owner that closes its stream late. Each object is freed only when all of
 * its libuv handles are closed *and* nobody outside holds it (the owner of
 * a connection's stream, the caller of a pending dial). */
#ifndef TCP_H
#define TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include <p2p/p2p.h>
#include <p2p/transport.h>

#define TCP_MOD "tcp"
#define TCP_READ_BUF (64 * 1024)
/* The most one read puts into a buffer the owner supplies. */
#define TCP_OWNER_READ_MAX (256 * 1024)
/* Output memory comes in blocks of this size (larger for a single larger
 * write), recycled through a small per-instance cache so that bulk
 * sending allocates nothing per write; see tcp_conn.c. One full Noise
 * frame (65,537 bytes) fits: the layers above keep at most about that much
 * queued here (Yamux stops at 64 KiB, the kernel's socket buffer does the
 * rest), and every connection whose peer reads slowly holds a block or
 * two, so a larger block is memory nobody uses (512 KiB blocks: 140 MiB on
 * a relay with 256 busy circuits; throughput the same). */
#define TCP_BLOCK (68 * 1024)
#define TCP_BLOCK_CACHE 4
/* Small writes wait for the end of the loop turn and leave in one
 * write(2) (see tcp_conn.c); once this much is gathered it goes at once. */
#define TCP_COALESCE_MAX (16 * 1024)
/* A small write that finds no spare TCP_BLOCK gets a block of this size
 * (what coalescing gathers at most), from a cache of its own: a host
 * forwarding a gossip message to its peers fills a block per connection
 * in one turn, more than TCP_BLOCK_CACHE, and allocating and freeing
 * 68 KiB per connection and turn cost ~4 % of such a host's CPU (glibc
 * gives a freed block at the heap's top back to the system and faults
 * it in again). */
#define TCP_SMALL_BLOCK TCP_COALESCE_MAX
#define TCP_SMALL_CACHE 32
#define TCP_DIAL_MAX_ADDRS 8      /* resolved addresses tried per dial */
#define TCP_DNS_NAME_MAX 255
/* notsent_lowat: below this (but not 0) the kernel would wake the writer
 * for every few frames; see plugin.c. */
#define TCP_LOWAT_MIN (16 * 1024)

/* Minimal intrusive doubly linked list (the core's is private). */
struct tcp_link {
    struct tcp_link *prev, *next;
};

static inline void tcp_list_init(struct tcp_link *h) { h->prev = h->next = h; }
static inline bool tcp_list_empty(const struct tcp_link *h) { return h->next == h; }
static inline void tcp_list_add(struct tcp_link *h, struct tcp_link *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
static inline void tcp_list_del(struct tcp_link *n)
{
    if (!n->next) return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}
#define TCP_CONTAINER_OF(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

/* Bytes committed for sending: data[off .. off+len) not yet taken by the
 * kernel. While it is a connection's `cur` it takes more bytes at the end;
 * once submitted (uv_write) it is immutable until its callback. */
struct tcp_block {
    uv_write_t req;
    struct tcp_conn *c;
    struct tcp_block *next;    /* in the state's cache */
    size_t cap, off, len;
    uint8_t data[];
};

struct tcp_state {
    p2p_host *host;
    uv_loop_t *loop;
    uint64_t connect_timeout_ms, linger_ms, keepalive_ms;
    int backlog;
    size_t write_queue_max;
    unsigned notsent_lowat;    /* TCP_NOTSENT_LOWAT of every connection; 0: the system's */
    bool stopped;              /* between stop and start: no new dials/listeners */
    bool finied;               /* fini ran: nothing may reach the host any more */
    size_t refs;               /* see above */
    struct tcp_link listeners, dials, conns;
    /* One read buffer for every connection of this instance. libuv asks
     * for a buffer right before a read(2) and our read callback hands the
     * bytes to the owner synchronously (they are borrowed for the call),
     * so the buffer is free again when the callback returns; an idle
     * connection thus costs no read memory. */
    uint8_t rbuf[TCP_READ_BUF];
    struct tcp_block *spare;   /* cache of free TCP_BLOCK-sized blocks */
    unsigned nspare;
    struct tcp_block *spare_small;   /* and of TCP_SMALL_BLOCK-sized ones */
    unsigned nspare_small;
    uint64_t blocks_allocated;       /* output blocks malloc'd (tests) */
    /* Connections whose small writes wait for the end of the loop turn:
     * flushed by `flush_prep` (a uv_prepare: after the turn's I/O and
     * deferred callbacks, right before the loop polls); `flush_idle` keeps
     * that poll from blocking while any wait. Both handles hold a
     * reference on the state until closed (fini). */
    struct tcp_link flushq;
    uv_prepare_t flush_prep;
    uv_idle_t flush_idle;
    bool flush_armed;
};

/* A TCP socket: an outgoing attempt, then (or from accept) a raw stream. */
struct tcp_conn {
    struct tcp_link link;      /* in st->conns until freed */
    struct tcp_link flink;     /* in st->flushq while small writes wait */
    struct tcp_state *st;
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    uv_timer_t linger;         /* initialized only when lingering */
    struct tcp_dial *dial;     /* while this is a connect attempt of a dial */
    p2p_stream *stream;        /* while owned */
    struct tcp_block *cur;     /* output being gathered (not yet submitted) */
    unsigned inflight;         /* submitted uv_write requests */
    size_t queued;             /* committed bytes the kernel has not taken yet */
    unsigned handles;          /* open libuv handles (tcp, linger) */
    size_t lowat;              /* owner's read low-water mark (p2p_stream_read_lowat), 0 = none */
    int sock_lowat;            /* SO_RCVLOWAT on the socket (1: the kernel's default) */
    bool lowat_declined;       /* a read was declined below the mark since the last read */
    bool owned;                /* the stream was handed out and not closed */
    bool reading;              /* uv_read_start active */
    bool eof_in, dead, shut_req, shut_done, lingering, write_blocked;
};

/* A listening socket, polled by us (not uv_listen) so that accept errors
 * can pause it: see tcp_listen.c. */
struct tcp_listener {
    struct tcp_link link;      /* in st->listeners while open */
    struct tcp_state *st;
    int fd;
    uv_poll_t poll;
    uv_timer_t backoff;        /* resumes accepting after an error */
    unsigned handles;          /* open libuv handles (poll, backoff) */
    bool closing;
    p2p_accept_cb cb;
    void *arg;
    struct sockaddr_storage bound;   /* port 0 resolved */
    bool wildcard;
    uint64_t backoff_ms;             /* current pause after an accept error */
    uint64_t last_warn_ms;           /* accept errors are logged at most 1/s */
    unsigned long suppressed;
};

/* tcp_conn.c */
struct tcp_conn *tcp_conn_new(struct tcp_state *st);
/* Turn a connected socket into a raw stream (options, addresses); 0 or a
 * P2P_E* code (the conn is then closed). */
int tcp_conn_setup(struct tcp_conn *c);
/* Close the socket (with RST when rst); the conn is freed once its
 * handles are closed and it is no longer owned. */
void tcp_conn_close_handle(struct tcp_conn *c, bool rst);
/* fini: close the socket of every connection, owned or not. */
void tcp_conn_close_all(struct tcp_state *st);
int tcp_err(int uv_err);
/* Free the state's cached output blocks. */
void tcp_blocks_free(struct tcp_state *st);
/* Set up (init) and close (fini) the end-of-turn flush handles. */
void tcp_flush_init(struct tcp_state *st);
void tcp_flush_close(struct tcp_state *st);

/* tcp_listen.c */
int tcp_listen(void *state, const p2p_multiaddr *ma, p2p_accept_cb cb, void *arg,
               void **listener, char *err, size_t errlen);
size_t tcp_listen_addrs(void *state, void *listener, p2p_multiaddr *out, size_t max);
void tcp_listen_close(void *state, void *listener);
/* A listener whose address outgoing sockets to dest can bind to
 * (reuse_port), or NULL. */
const struct tcp_listener *tcp_listener_for(const struct tcp_state *st, const struct sockaddr *dest);
/* Create a socket with SO_REUSEADDR and SO_REUSEPORT (and IPV6_V6ONLY for
 * AF_INET6); returns the fd or a negative errno-style libuv code. */
int tcp_socket_reuse(int family);

/* tcp_dial.c */
int tcp_dial(void *state, const p2p_multiaddr *ma, const struct p2p_dial_opts *opts,
             p2p_dial_cb cb, void *arg, void **op);
void tcp_dial_cancel(void *state, void *op);
/* stop (callbacks run with P2P_ECANCELED) or fini (no callbacks). */
void tcp_dial_abort_all(struct tcp_state *st, bool notify);

/* plugin.c */
enum tcp_kind { TCP_IP4, TCP_IP6, TCP_DNS, TCP_DNS4, TCP_DNS6 };
struct tcp_target {
    enum tcp_kind kind;
    struct sockaddr_storage sa;         /* TCP_IP4/TCP_IP6, port set */
    char name[TCP_DNS_NAME_MAX + 1];    /* TCP_DNS* */
    uint16_t port;
};
/* Parse /ip4|ip6/A/tcp/P (listen) or also /dns|dns4|dns6/H/tcp/P with an
 * optional trailing /p2p/ID (dial). P2P_EINVAL if not ours. */
int tcp_parse(const p2p_multiaddr *ma, bool listen, struct tcp_target *t);
void tcp_state_ref(struct tcp_state *st);
void tcp_state_unref(struct tcp_state *st);
/* Text form for logs (never fails; "?" for a damaged address). */
const char *tcp_maddr_str(const p2p_multiaddr *ma, char *buf, size_t cap);
const char *tcp_sockaddr_str(const struct sockaddr *sa, char *buf, size_t cap);

#endif
