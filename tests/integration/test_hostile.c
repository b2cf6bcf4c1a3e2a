/* The connections layer under bad input, over real loopback sockets.
 *
 * A real host (the victim: transport-tcp, noise, yamux, the echo
 * protocol) faces an attacker written here with a plain non-blocking
 * socket driven by a uv_poll on the same loop, crafting its traffic with
 * the I/O-free noise_logic and yamux_logic code and the core's
 * multistream-select machine. An honest host stays connected to the
 * victim throughout and runs echo exchanges back to back, and an honest
 * pair (that host and one the victim dials, hpair.h) chats through the
 * victim every 50 ms; every case checks that they all complete, every
 * pair message comes back within 2 s (p50/max printed), the victim's
 * buffered bytes (its memory budget's count) stay under 32 MiB unless
 * the case states its bound, the victim closes the attacker's
 * connection within a bounded time, and its log names the cause (the
 * test installs its own log sink and filter, whatever P2P_LOG says).
 *
 * Cases:
 *   1 garbage instead of multistream-select (five kinds)
 *   2 TCP open and nothing sent (and a partial message): the upgrade
 *     timeout; more stalled sockets than max_pending_incoming; more
 *     connections from one IP address than max_incoming_per_ip (that
 *     address only is refused)
 *   3 Noise message 1 and then nothing (the Noise handshake timeout);
 *     a malformed message 1
 *   4 the victim dials a responder that proves another PeerId
 *     (P2P_EPEERID), and one that never answers (P2P_ETIMEDOUT)
 *   5 Noise transport frames: corrupt tag during the muxer negotiation
 *     and on an established connection, a frame too short for its tag,
 *     a truncated frame followed by EOF (a frame over the size limit
 *     cannot be expressed: the length prefix is 16 bits); frames split
 *     across reads (5b); a large frame's stalled rest waits in the
 *     kernel, not in the victim (5c)
 *   6 Yamux data beyond the receive window: Go Away(protocol error)
 *   7 more streams than [plugin yamux] max_streams, then a SYN flood
 *   8 echo streams whose echo is never read: bounded memory, then a peer
 *     that stops reading altogether (keepalive timeout); a ping flood
 *     that never reads the pongs
 *   9 Yamux frames with an unknown type / a bad version
 *  10 more streams in protocol negotiation than max_negotiating_streams
 *  11 the memory budget: two connections each open 100 streams of a
 *     protocol whose handler never reads and fill every window they get:
 *     the victim admits streams only while their initial windows fit in
 *     their part of [plugin yamux] max_session_window (RST beyond), its
 *     RSS stays under the stated bound; the same attack with a 64 MiB
 *     budget (control) makes it hold every byte sent
 *  12 the host-wide memory budget ([host] max_buffered_bytes): under
 *     pressure the connection holding the most gets no new streams; over
 *     the budget it is closed, then the next one; the charged total stays
 *     within the budget plus a loop turn's reads
 *
 * Environment: HOSTILE_VERBOSE=1 copies the captured log to stderr;
 * HOSTILE_FLOOD_STREAMS=N (1..32, default 4) sets the streams of case 8;
 * HOSTILE_DEBUG=1 prints the progress of that flood. RSS bounds are not
 * asserted under AddressSanitizer (its allocator keeps freed memory). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo.h"
#include "hpair.h"
#include "ihost.h"
#include "noise_hs.h"
#include "noise_transport.h"
#include "testutil.h"
#include "yamux_frame.h"


/* Every case: the honest pair's worst round trip through the victim
 * (x CK_TIMEOUT_MULTIPLIER), and the victim's buffered bytes at their
 * peak unless the case states its own bound. */
#define FX_LATENCY_BOUND_MS 2000
#define FX_MEM_BOUND (32u * 1024u * 1024u)

#define KIB 1024u
#define MIB (1024u * 1024u)
#define MSS_ECHO_LAZY "\x13/multistream/1.0.0\n\x14" ECHO_PROTOCOL "\n"

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
        fclose(f);
    }
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

/* ---- log capture ---------------------------------------------------------- */

static struct {
    char **lines;
    size_t n, cap;
    bool tee;
} logcap;

static void log_sink(void *arg, enum p2p_log_level level, const char *module, const char *line)
{
    (void)arg; (void)level; (void)module;
    if (logcap.tee) fprintf(stderr, "%s\n", line);
    if (logcap.n == logcap.cap) {
        if (logcap.cap >= 1000000) return;
        size_t nc = logcap.cap ? logcap.cap * 2 : 1024;
        char **nl = realloc(logcap.lines, nc * sizeof *nl);
        if (!nl) return;
        logcap.lines = nl;
        logcap.cap = nc;
    }
    char *copy = strdup(line);
    if (copy) logcap.lines[logcap.n++] = copy;
}

/* Our own filter, whatever P2P_LOG says (hosts set theirs when created). */
static void log_begin(void)
{
    logcap.tee = getenv("HOSTILE_VERBOSE") != NULL;
    p2p_log_set_sink(log_sink, NULL);
    char err[256];
    int rc = p2p_log_set_filter("warn,upgrade=debug,swarm=debug,noise=debug,yamux=debug,mss=debug,"
                                "conn=debug,tcp=debug", err, sizeof err);
    ck_assert_msg(rc == 0, "log filter: %s", err);
}

static void log_end(void)
{
    p2p_log_set_sink(NULL, NULL);
    for (size_t i = 0; i < logcap.n; i++) free(logcap.lines[i]);
    free(logcap.lines);
    memset(&logcap, 0, sizeof logcap);
}

/* Whether one captured line contains every given string (NULL-terminated). */
static bool log_has(const char *first, ...)
{
    for (size_t i = 0; i < logcap.n; i++) {
        va_list ap;
        va_start(ap, first);
        bool all = true;
        for (const char *s = first; s; s = va_arg(ap, const char *))
            if (!strstr(logcap.lines[i], s)) {
                all = false;
                break;
            }
        va_end(ap);
        if (all) return true;
    }
    return false;
}

static void log_dump_tail(size_t n)
{
    size_t from = logcap.n > n ? logcap.n - n : 0;
    for (size_t i = from; i < logcap.n; i++) fprintf(stderr, "  | %s\n", logcap.lines[i]);
}

#define ck_log(...)                                                              \
    do {                                                                         \
        if (!log_has(__VA_ARGS__, (const char *)NULL)) {                         \
            log_dump_tail(40);                                                   \
            ck_abort_msg("no log line with: %s", #__VA_ARGS__);                 \
        }                                                                        \
    } while (0)

/* ---- the fixture: victim, honest peer, background echo ---------------------- */

#define MAX_EV 256

struct fx {
    uv_loop_t loop;
    p2p_host *v, *h;
    p2p_conn *hconn;
    p2p_peerid vid, hid;
    /* victim events */
    size_t nconn, ndisc;
    struct { p2p_peerid peer; p2p_conn *c; } conn_ev[MAX_EV];
    struct { p2p_peerid peer; int reason; } disc_ev[MAX_EV];
    int h_disconnected;
    /* the honest peer's echo exchanges, back to back */
    struct echo_client bg;
    int bg_ok, bg_failed, bg_status;
    bool bg_stop, bg_running;
    /* cases that need another honest host */
    p2p_host *h2;
    /* the honest pair chatting through the victim (hpair.h), and the
     * bound of the victim's buffered bytes (the memory budget's count)
     * over the whole case */
    struct hpair *pair;
    uint64_t mem_bound;
};

static void on_victim_event(const struct p2p_event *ev, void *arg)
{
    struct fx *f = arg;
    if (ev->type == P2P_EV_CONNECTED && f->nconn < MAX_EV) {
        f->conn_ev[f->nconn].peer = *ev->peer;
        f->conn_ev[f->nconn++].c = ev->conn;
    }
    if (ev->type == P2P_EV_DISCONNECTED && f->ndisc < MAX_EV) {
        f->disc_ev[f->ndisc].peer = *ev->peer;
        f->disc_ev[f->ndisc++].reason = ev->reason;
    }
}

static void on_honest_event(const struct p2p_event *ev, void *arg)
{
    struct fx *f = arg;
    if (ev->type == P2P_EV_DISCONNECTED) f->h_disconnected++;
}

static void bg_done(struct echo_client *c)
{
    struct fx *f = c->user;
    if (c->ok) {
        f->bg_ok++;
    } else {
        f->bg_failed++;
        f->bg_status = c->status;
    }
    if (f->bg_stop || !c->ok) {
        f->bg_running = false;
        return;
    }
    c->seed++;
    if (echo_start(f->hconn, c) != 0) {
        f->bg_failed++;
        f->bg_running = false;
    }
}

struct conn_result {
    bool done;
    int status;
    p2p_conn *c;
};

static void on_connected(int status, p2p_conn *c, void *arg)
{
    struct conn_result *r = arg;
    r->done = true;
    r->status = status;
    r->c = c;
}

/* Like ihost_new, with keys for each plugin section of the victim. */
static p2p_host *victim_new(uv_loop_t *loop, const char *host_keys, const char *noise_keys,
                            const char *yamux_keys)
{
    char text[4096], err[1024];
    snprintf(text, sizeof text,
             "[host]\nephemeral_identity = true\nlisten = /ip4/127.0.0.1/tcp/0\nlog = warn\n%s\n"
             "[plugin transport-tcp]\n[plugin noise]\n%s\n[plugin yamux]\n%s\n",
             host_keys ? host_keys : "", noise_keys ? noise_keys : "", yamux_keys ? yamux_keys : "");
    p2p_conf *cf = p2p_conf_load_string(text, "victim.ini", err, sizeof err);
    ck_assert_msg(cf != NULL, "config: %s", err);
    struct p2p_host_opts o = { .loop = loop };
    p2p_host *h = NULL;
    int rc = p2p_host_new(&h, cf, &o, err, sizeof err);
    ck_assert_msg(rc == 0, "host: %s", err);
    return h;
}

static void fx_setup(struct fx *f, const char *vkeys, const char *noise_keys, const char *yamux_keys)
{
    memset(f, 0, sizeof *f);
    uv_loop_init(&f->loop);
    f->v = victim_new(&f->loop, vkeys, noise_keys, yamux_keys);
    f->h = ihost_new(&f->loop, NULL, NULL);
    log_begin();
    ck_assert_int_eq(echo_serve(f->v), 0);
    p2p_host_subscribe(f->v, P2P_EV_CONNECTED | P2P_EV_DISCONNECTED, on_victim_event, f);
    p2p_host_subscribe(f->h, P2P_EV_DISCONNECTED, on_honest_event, f);
    ihost_start(f->v);
    ihost_start(f->h);
    f->vid = *p2p_host_peerid(f->v);
    f->hid = *p2p_host_peerid(f->h);

    p2p_multiaddr va = ihost_addr(f->v);
    struct conn_result r = { 0 };
    ck_assert_int_eq(p2p_host_connect(f->h, &f->vid, &va, 1, on_connected, &r), 0);
    ck_assert(ihost_run_until(&f->loop, &r.done, 10000));
    ck_assert_msg(r.status == 0, "honest connect: %s", p2p_strerror(r.status));
    f->hconn = r.c;

    f->bg.total = 256 * KIB;
    f->bg.seed = 1000;
    f->bg.done = bg_done;
    f->bg.user = f;
    f->bg_running = true;
    ck_assert_int_eq(echo_start(f->hconn, &f->bg), 0);
    f->pair = hpair_start(&f->loop, f->v, f->hconn, 50);
    log_begin();   /* again: creating the pair's host set the log filter */
    f->mem_bound = FX_MEM_BOUND;
}

static bool bg_stopped(void *arg) { return !((struct fx *)arg)->bg_running; }

struct count_cond { const int *n; int want; };
static bool count_reached(void *arg)
{
    struct count_cond *c = arg;
    return *c->n >= c->want;
}

/* The honest peer completes more echo exchanges (it is not blocked). */
static void fx_honest_progresses(struct fx *f, uint64_t ms)
{
    struct count_cond c = { &f->bg_ok, f->bg_ok + 2 };
    ck_assert_msg(ihost_run_cond(&f->loop, count_reached, &c, ms),
                  "the honest peer's echo made no progress (%d done, %d failed: %s)", f->bg_ok,
                  f->bg_failed, p2p_strerror(f->bg_status));
    ck_assert_int_eq(f->bg_failed, 0);
}

static void echo_done_flag(struct echo_client *c) { *(bool *)c->user = true; }

static void fx_teardown(struct fx *f)
{
    /* The honest pair chatted through the victim all along, every
     * message back within the bound. */
    hpair_stop(f->pair, FX_LATENCY_BOUND_MS, NULL);
    /* The victim's buffered bytes stayed under the stated bound. */
    struct p2p_mem_stats ms;
    p2p_host_mem_stats(f->v, &ms);
    printf("    victim's buffered bytes: peak %.1f MiB (bound %.0f MiB)\n", (double)ms.peak / MIB,
           (double)f->mem_bound / MIB);
    ck_assert_uint_le(ms.peak, f->mem_bound);
    /* The honest peer worked throughout: exchanges kept completing, none
     * failed, its one connection was never dropped. */
    fx_honest_progresses(f, 20000);
    f->bg_stop = true;
    ck_assert(ihost_run_cond(&f->loop, bg_stopped, f, 20000));
    ck_assert_msg(f->bg_failed == 0, "honest echo failed: %s", p2p_strerror(f->bg_status));
    ck_assert_int_eq(f->h_disconnected, 0);
    ck_assert_ptr_eq(p2p_host_conn_to(f->h, &f->vid), f->hconn);
    bool done = false;
    struct echo_client last = { .total = 2 * MIB, .seed = 7, .done = echo_done_flag, .user = &done };
    ck_assert_int_eq(echo_start(f->hconn, &last), 0);
    ck_assert(ihost_run_until(&f->loop, &done, 20000));
    ck_assert_msg(last.ok, "final honest echo: %s", p2p_strerror(last.status));
    /* Only the honest connections are left on the victim. */
    p2p_conn *vc[8];
    ck_assert_uint_eq(p2p_host_conns(f->v, vc, 8), f->h2 ? 3 : 2);
    hpair_free(f->pair);

    p2p_host_free(f->h);
    if (f->h2) p2p_host_free(f->h2);
    p2p_host_free(f->v);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&f->loop), 0);
    /* Nothing leaked at shutdown (timers, handles, held connections). */
    ck_assert(!log_has("not freed by their owners", (const char *)NULL));
    ck_assert(!log_has("leftover libuv handle", (const char *)NULL));
    ck_assert(!log_has("still held by their owners", (const char *)NULL));
    log_end();
}

static int fx_disc_reason(struct fx *f, const p2p_peerid *peer, bool *found)
{
    *found = false;
    for (size_t i = 0; i < f->ndisc; i++)
        if (p2p_peerid_equal(&f->disc_ev[i].peer, peer)) {
            *found = true;
            return f->disc_ev[i].reason;
        }
    return 0;
}

/* Connections the victim made with anyone but the honest peers. */
static size_t fx_foreign_conns(struct fx *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nconn; i++)
        if (!p2p_peerid_equal(&f->conn_ev[i].peer, &f->hid) &&
            !(f->h2 && p2p_peerid_equal(&f->conn_ev[i].peer, p2p_host_peerid(f->h2))) &&
            !(f->pair && p2p_peerid_equal(&f->conn_ev[i].peer, p2p_host_peerid(hpair_partner(f->pair)))))
            n++;
    return n;
}

static p2p_conn *fx_conn_of(struct fx *f, const p2p_peerid *peer)
{
    for (size_t i = 0; i < f->nconn; i++)
        if (p2p_peerid_equal(&f->conn_ev[i].peer, peer)) return f->conn_ev[i].c;
    return NULL;
}

/* ---- the attacker: a plain socket on a uv_poll ------------------------------ */

#define ATK_STREAMS 256

struct astream {
    uint32_t id;
    bool used, acked, fin, rst;
    uint64_t credit;        /* bytes we may still send (their window) */
    size_t rx_bytes;
    p2p_buf rx;             /* the first 64 KiB received */
};

struct atk {
    uv_loop_t *loop;
    int fd;
    uv_poll_t poll;
    bool poll_init, connecting, connected, closed, reading;
    int rcvbuf;             /* SO_RCVBUF to set before connecting, 0 = default */
    const char *src_ip;     /* local IPv4 address to connect from, NULL = any */
    int sock_err;           /* errno of the failure; 0 = orderly EOF */
    uint64_t closed_at;
    p2p_buf tx, rx;
    size_t tx_total, rx_total;
    /* after the Noise handshake */
    bool secure;
    int crypto_err;
    noise_transport tr;
    p2p_buf pt;             /* decrypted, not yet parsed */
    /* the Yamux view of the plaintext */
    bool yamux, auto_pong;
    int goaway;             /* code received, -1 none */
    size_t rsts, acks, pings;
    int bad_frame;          /* frames we could not parse */
    struct astream st[ATK_STREAMS];
    void (*gen)(struct atk *a);   /* refills tx (flooding) */
    void *user;
};

static void atk_init(struct atk *a, uv_loop_t *loop)
{
    memset(a, 0, sizeof *a);
    a->loop = loop;
    a->fd = -1;
    a->reading = true;
    a->goaway = -1;
    p2p_buf_init(&a->tx, 0);
    p2p_buf_init(&a->rx, 0);
    p2p_buf_init(&a->pt, 0);
}

static void on_poll_closed(uv_handle_t *hd)
{
    struct atk *a = hd->data;
    close(a->fd);
    a->fd = -1;
}

/* Close the socket (after RST when rst) and free the buffers. */
static void atk_free(struct atk *a, bool rst)
{
    if (a->fd >= 0 && rst) {
        struct linger lg = { 1, 0 };
        (void)setsockopt(a->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    if (a->poll_init) {
        a->poll_init = false;
        uv_close((uv_handle_t *)&a->poll, on_poll_closed);
        while (a->fd >= 0) uv_run(a->loop, UV_RUN_NOWAIT);   /* a may be reused at once */
    } else if (a->fd >= 0) {
        close(a->fd);
        a->fd = -1;
    }
    p2p_buf_free(&a->tx);
    p2p_buf_free(&a->rx);
    p2p_buf_free(&a->pt);
    for (int i = 0; i < ATK_STREAMS; i++) p2p_buf_free(&a->st[i].rx);
    noise_transport_wipe(&a->tr);
}

static void atk_on_poll(uv_poll_t *p, int status, int events);

static void atk_update(struct atk *a)
{
    if (!a->poll_init) return;
    int ev = 0;
    if (!a->closed) {
        if (a->reading) ev |= UV_READABLE;
        if (a->connecting || a->tx.len) ev |= UV_WRITABLE;
    }
    if (ev) uv_poll_start(&a->poll, ev, atk_on_poll);
    else uv_poll_stop(&a->poll);
}

static void atk_mark_closed(struct atk *a, int err)
{
    if (a->closed) return;
    a->closed = true;
    a->sock_err = err;
    a->closed_at = now_ms();
    p2p_buf_reset(&a->tx);
}

static void atk_flush(struct atk *a)
{
    while (a->tx.len && !a->closed && a->connected) {
        ssize_t n = send(a->fd, p2p_buf_head(&a->tx), a->tx.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p2p_buf_consume(&a->tx, (size_t)n);
            a->tx_total += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            atk_mark_closed(a, errno);
        }
    }
}

static struct astream *ast_find(struct atk *a, uint32_t id)
{
    for (int i = 0; i < ATK_STREAMS; i++)
        if (a->st[i].used && a->st[i].id == id) return &a->st[i];
    return NULL;
}

static struct astream *ast_add(struct atk *a, uint32_t id)
{
    for (int i = 0; i < ATK_STREAMS; i++)
        if (!a->st[i].used) {
            struct astream *s = &a->st[i];
            memset(s, 0, sizeof *s);
            s->used = true;
            s->id = id;
            s->credit = YAMUX_DEFAULT_WINDOW;
            p2p_buf_init(&s->rx, 0);
            return s;
        }
    ck_abort_msg("attacker: too many tracked streams");
    return NULL;
}

static void atk_send(struct atk *a, const void *data, size_t len);

static void ay_frame(struct atk *a, uint8_t type, uint16_t flags, uint32_t id, uint32_t length,
                     const void *payload, size_t plen)
{
    uint8_t *buf = malloc(YAMUX_HEADER_LEN + plen);
    ck_assert_ptr_nonnull(buf);
    yamux_header_put(buf, type, flags, id, length);
    if (plen) memcpy(buf + YAMUX_HEADER_LEN, payload, plen);
    atk_send(a, buf, YAMUX_HEADER_LEN + plen);
    free(buf);
}

static void ay_handle(struct atk *a, const struct yamux_header *h, const uint8_t *payload)
{
    if (h->type == YAMUX_TYPE_GO_AWAY) {
        a->goaway = (int)h->length;
        return;
    }
    if (h->type == YAMUX_TYPE_PING) {
        a->pings++;
        if ((h->flags & YAMUX_FLAG_SYN) && a->auto_pong)
            ay_frame(a, YAMUX_TYPE_PING, YAMUX_FLAG_ACK, 0, h->length, NULL, 0);
        return;
    }
    struct astream *s = ast_find(a, h->stream_id);
    if (h->flags & YAMUX_FLAG_RST) {
        a->rsts++;
        if (s) s->rst = true;
    }
    if (h->flags & YAMUX_FLAG_ACK) a->acks++;
    if (!s) return;
    if (h->flags & YAMUX_FLAG_ACK) s->acked = true;
    if (h->type == YAMUX_TYPE_WINDOW_UPDATE) s->credit += h->length;
    if (h->type == YAMUX_TYPE_DATA) {
        s->rx_bytes += h->length;
        if (s->rx.len < 64 * KIB) p2p_buf_append(&s->rx, payload, h->length);
    }
    if (h->flags & YAMUX_FLAG_FIN) s->fin = true;
}

/* Decrypt what arrived and parse Yamux frames out of it. */
static void atk_process(struct atk *a)
{
    if (a->secure) {
        while (a->rx.len && !a->crypto_err) {
            size_t used = 0;
            int rc = noise_transport_decrypt(&a->tr, p2p_buf_head(&a->rx), a->rx.len, &used, &a->pt);
            if (rc == P2P_ETRUNC) break;
            p2p_buf_consume(&a->rx, used);
            if (rc < 0) a->crypto_err = rc;
        }
    }
    if (!a->yamux) return;
    while (a->pt.len >= YAMUX_HEADER_LEN) {
        struct yamux_header h;
        if (yamux_header_decode(&h, p2p_buf_head(&a->pt), a->pt.len) < 0) a->bad_frame++;
        size_t need = YAMUX_HEADER_LEN + (h.type == YAMUX_TYPE_DATA ? h.length : 0);
        if (a->pt.len < need) break;
        ay_handle(a, &h, p2p_buf_head(&a->pt) + YAMUX_HEADER_LEN);
        p2p_buf_consume(&a->pt, need);
    }
}

static void atk_recv(struct atk *a)
{
    static uint8_t buf[64 * KIB];
    for (int i = 0; i < 64 && !a->closed; i++) {
        ssize_t n = recv(a->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            ck_assert_int_eq(p2p_buf_append(&a->rx, buf, (size_t)n), 0);
            a->rx_total += (size_t)n;
            continue;
        }
        if (n == 0) atk_mark_closed(a, 0);
        else if (errno == EINTR) continue;
        else if (errno != EAGAIN && errno != EWOULDBLOCK) atk_mark_closed(a, errno);
        break;
    }
    atk_process(a);
}

static void atk_on_poll(uv_poll_t *p, int status, int events)
{
    struct atk *a = p->data;
    if (status < 0) events = UV_READABLE | UV_WRITABLE;
    if (a->connecting && (events & UV_WRITABLE)) {
        int err = 0;
        socklen_t sl = sizeof err;
        getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
        a->connecting = false;
        if (err) atk_mark_closed(a, err);
        else a->connected = true;
    }
    if ((events & UV_READABLE) && a->reading) atk_recv(a);
    /* Refill and send until the socket is full or the generator stops. */
    for (int i = 0; i < 64 && !a->closed; i++) {
        if (a->gen) a->gen(a);
        size_t had = a->tx.len;
        atk_flush(a);
        if (!had || a->tx.len || !a->gen) break;
    }
    atk_update(a);
}

static void atk_poll_start(struct atk *a)
{
    int one = 1;   /* our small crafted writes go out at once (no Nagle) */
    (void)setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ck_assert_int_eq(uv_poll_init_socket(a->loop, &a->poll, a->fd), 0);
    a->poll.data = a;
    a->poll_init = true;
    atk_update(a);
}

/* Queue bytes as they are (no encryption). */
static void atk_send_raw(struct atk *a, const void *data, size_t len)
{
    ck_assert_int_eq(p2p_buf_append(&a->tx, data, len), 0);
    atk_flush(a);
    atk_update(a);
}

/* Queue bytes, encrypted once the Noise handshake is done. */
static void atk_send(struct atk *a, const void *data, size_t len)
{
    if (!a->secure) return atk_send_raw(a, data, len);
    ck_assert_int_eq(noise_transport_encrypt(&a->tr, data, len, &a->tx), 0);
    atk_flush(a);
    atk_update(a);
}

static struct sockaddr_in maddr_to_sin(const p2p_multiaddr *ma)
{
    struct p2p_maddr_component c;
    struct sockaddr_in sin = { .sin_family = AF_INET };
    ck_assert_int_eq(p2p_maddr_find(ma, P2P_MA_IP4, &c), 1);
    memcpy(&sin.sin_addr, c.value, 4);
    ck_assert_int_eq(p2p_maddr_find(ma, P2P_MA_TCP, &c), 1);
    memcpy(&sin.sin_port, c.value, 2);
    return sin;
}

static bool atk_connected_or_closed(void *arg)
{
    struct atk *a = arg;
    return a->connected || a->closed;
}

/* Connect; false if the victim refused (reset) the connection at once. */
static bool atk_try_connect(struct atk *a, const p2p_multiaddr *ma)
{
    struct sockaddr_in sin = maddr_to_sin(ma);
    a->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(a->fd, 0);
    if (a->rcvbuf) (void)setsockopt(a->fd, SOL_SOCKET, SO_RCVBUF, &a->rcvbuf, sizeof a->rcvbuf);
    if (a->src_ip) {
        struct sockaddr_in src = { .sin_family = AF_INET };
        ck_assert_int_eq(inet_pton(AF_INET, a->src_ip, &src.sin_addr), 1);
        ck_assert_int_eq(bind(a->fd, (struct sockaddr *)&src, sizeof src), 0);
    }
    int rc = connect(a->fd, (struct sockaddr *)&sin, sizeof sin);
    ck_assert(rc == 0 || errno == EINPROGRESS);
    a->connecting = rc != 0;
    a->connected = rc == 0;
    atk_poll_start(a);
    ck_assert(ihost_run_cond(a->loop, atk_connected_or_closed, a, 5000));
    return a->connected;
}

static void atk_connect(struct atk *a, const p2p_multiaddr *ma)
{
    ck_assert_msg(atk_try_connect(a, ma), "attacker connect: %s", strerror(a->sock_err));
}

/* "tcp/PORT failed" etc.: our local port as the victim logs it. */
static unsigned atk_port(const struct atk *a)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    ck_assert_int_eq(getsockname(a->fd, (struct sockaddr *)&sin, &sl), 0);
    return ntohs(sin.sin_port);
}

static bool atk_is_closed(void *arg) { return ((struct atk *)arg)->closed; }

/* Wait until the victim closed the connection; returns how long it took
 * from `since`. */
static uint64_t atk_wait_closed(struct atk *a, uint64_t since, uint64_t ms)
{
    if (!ihost_run_cond(a->loop, atk_is_closed, a, ms)) {
        log_dump_tail(30);
        ck_abort_msg("the victim did not close the connection within %llu ms", (unsigned long long)ms);
    }
    return a->closed_at - since;
}

struct grow_cond { struct atk *a; p2p_buf *b; size_t have; };
static bool grew_or_closed(void *arg)
{
    struct grow_cond *g = arg;
    return g->b->len > g->have || g->a->closed;
}

/* Run until more input is available in b (or the socket closes). */
static bool atk_wait_input(struct atk *a, p2p_buf *b, uint64_t ms)
{
    struct grow_cond g = { a, b, b->len };
    ihost_run_cond(a->loop, grew_or_closed, &g, ms);
    return b->len > g.have;
}

/* multistream-select as dialer for one protocol, over the current layer. */
static int atk_mss_dial(struct atk *a, const char *proto)
{
    p2p_mss m;
    const char *protos[] = { proto };
    p2p_buf out;
    p2p_buf_init(&out, 0);
    ck_assert_int_eq(p2p_mss_dialer_init(&m, protos, 1), 0);
    ck_assert_int_eq(p2p_mss_start(&m, &out), 0);
    atk_send(a, p2p_buf_head(&out), out.len);
    p2p_buf_reset(&out);
    p2p_buf *in = a->secure ? &a->pt : &a->rx;
    int rc;
    for (;;) {
        size_t used = 0;
        rc = p2p_mss_feed(&m, p2p_buf_head(in), in->len, &used, &out);
        p2p_buf_consume(in, used);
        if (out.len) atk_send(a, p2p_buf_head(&out), out.len);
        p2p_buf_reset(&out);
        if (rc != P2P_MSS_AGAIN) break;
        if (!atk_wait_input(a, in, 5000)) {
            rc = a->closed ? P2P_ECLOSED : P2P_ETIMEDOUT;
            break;
        }
    }
    p2p_buf_free(&out);
    return rc == P2P_MSS_DONE ? 0 : rc;
}

static bool supports_noise(void *arg, const char *id)
{
    (void)arg;
    return strcmp(id, NOISE_PROTOCOL_ID) == 0;
}

/* multistream-select as listener accepting only /noise. */
static int atk_mss_listen_noise(struct atk *a)
{
    p2p_mss m;
    p2p_buf out;
    p2p_buf_init(&out, 0);
    ck_assert_int_eq(p2p_mss_listener_init(&m, supports_noise, NULL), 0);
    int rc;
    for (;;) {
        size_t used = 0;
        rc = p2p_mss_feed(&m, p2p_buf_head(&a->rx), a->rx.len, &used, &out);
        p2p_buf_consume(&a->rx, used);
        if (out.len) atk_send(a, p2p_buf_head(&out), out.len);
        p2p_buf_reset(&out);
        if (rc != P2P_MSS_AGAIN) break;
        if (!atk_wait_input(a, &a->rx, 5000)) {
            rc = a->closed ? P2P_ECLOSED : P2P_ETIMEDOUT;
            break;
        }
    }
    p2p_buf_free(&out);
    return rc == P2P_MSS_DONE ? 0 : rc;
}

/* The Noise XX handshake with identity kp; on success the attacker's
 * traffic is encrypted from then on. */
static int atk_noise(struct atk *a, const p2p_keypair *kp, enum noise_role role)
{
    noise_hs *hs;
    struct noise_hs_config cfg = { .role = role, .identity = kp };
    ck_assert_int_eq(noise_hs_new(&hs, &cfg), 0);
    p2p_buf out;
    p2p_buf_init(&out, 0);
    int rc = 0;
    for (;;) {
        if (noise_hs_done(hs)) {
            rc = noise_hs_split(hs, &a->tr);
            if (rc == 0) {
                a->secure = true;
                atk_process(a);   /* bytes past the handshake are frames */
            }
            break;
        }
        if (noise_hs_wants_write(hs)) {
            rc = noise_hs_write(hs, &out);
            if (rc < 0) break;
            atk_send(a, p2p_buf_head(&out), out.len);
            p2p_buf_reset(&out);
            continue;
        }
        size_t used = 0;
        rc = noise_hs_read(hs, p2p_buf_head(&a->rx), a->rx.len, &used);
        if (rc == P2P_ETRUNC) {
            if (!atk_wait_input(a, &a->rx, 5000)) {
                rc = a->closed ? P2P_ECLOSED : P2P_ETIMEDOUT;
                break;
            }
            continue;
        }
        p2p_buf_consume(&a->rx, used);
        if (rc < 0) break;
    }
    p2p_buf_free(&out);
    noise_hs_free(hs);
    return rc;
}

struct peer_cond { struct fx *f; const p2p_peerid *peer; };
static bool victim_connected_to(void *arg)
{
    struct peer_cond *p = arg;
    return fx_conn_of(p->f, p->peer) != NULL;
}
static bool victim_disconnected_from(void *arg)
{
    struct peer_cond *p = arg;
    bool found;
    fx_disc_reason(p->f, p->peer, &found);
    return found;
}

/* A complete, valid upgrade: TCP, /noise, Noise XX as kp, /yamux/1.0.0.
 * Returns the victim's connection to the attacker. */
static p2p_conn *atk_establish(struct fx *f, struct atk *a, const p2p_keypair *kp, p2p_peerid *id)
{
    p2p_pubkey pub;
    p2p_keypair_public(kp, &pub);
    p2p_peerid_from_pubkey(id, &pub);
    p2p_multiaddr va = ihost_addr(f->v);
    atk_connect(a, &va);
    ck_assert_int_eq(atk_mss_dial(a, NOISE_PROTOCOL_ID), 0);
    ck_assert_int_eq(atk_noise(a, kp, NOISE_INITIATOR), 0);
    ck_assert_int_eq(atk_mss_dial(a, "/yamux/1.0.0"), 0);
    a->yamux = true;
    a->auto_pong = true;
    atk_process(a);
    struct peer_cond pc = { f, id };
    ck_assert(ihost_run_cond(&f->loop, victim_connected_to, &pc, 5000));
    return fx_conn_of(f, id);
}

/* A new attacker with a fresh identity (its PeerId in *id), connected to
 * the victim through Noise and Yamux: the victim's side of it. */
static p2p_conn *atk_join(struct fx *f, struct atk *a, p2p_peerid *id)
{
    atk_init(a, &f->loop);
    p2p_keypair kp;
    p2p_keypair_generate(&kp);
    return atk_establish(f, a, &kp, id);
}

/* The victim closed an established connection of ours for `reason`,
 * quickly, and said why in its log. */
static void expect_conn_closed(struct fx *f, struct atk *a, const p2p_peerid *id, uint64_t since,
                               uint64_t max_ms, int reason)
{
    uint64_t took = atk_wait_closed(a, since, max_ms);
    ck_assert_int_eq(a->crypto_err, 0);   /* everything the victim sent was well-formed */
    ck_assert_int_eq(a->bad_frame, 0);
    struct peer_cond pc = { f, id };
    ck_assert(ihost_run_cond(&f->loop, victim_disconnected_from, &pc, 2000));
    bool found;
    int got = fx_disc_reason(f, id, &found);
    ck_assert_msg(got == reason, "disconnect reason %s, expected %s", p2p_strerror(got), p2p_strerror(reason));
    char ids[P2P_PEERID_STRMAX];
    p2p_peerid_to_string(id, ids, sizeof ids);
    ck_log("disconnected from", ids, reason ? p2p_strerror(reason) : "closed");
    printf("    closed after %llu ms: %s\n", (unsigned long long)took, reason ? p2p_strerror(reason) : "closed");
}

/* ---- case 1: garbage instead of multistream-select ------------------------- */

START_TEST(garbage_instead_of_multistream)
{
    struct fx f;
    fx_setup(&f, NULL, NULL, NULL);
    p2p_multiaddr va = ihost_addr(f.v);
    static const char http[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: hostile/1.0\r\n"
                               "Accept: */*\r\nConnection: keep-alive\r\n\r\n";
    uint8_t ff[16], bigvar[] = { 0x80, 0x10, 'x' }, nonl[] = { 5, 'h', 'e', 'l', 'l', 'o' };
    memset(ff, 0xff, sizeof ff);
    /* Header right, then more proposals than the listener answers. */
    p2p_buf many;
    p2p_buf_init(&many, 0);
    ck_assert_int_eq(p2p_mss_msg_encode(&many, P2P_MSS_PROTOCOL_ID, strlen(P2P_MSS_PROTOCOL_ID)), 0);
    for (int i = 0; i < P2P_MSS_MAX_PROPOSALS + 8; i++) {
        char p[32];
        int n = snprintf(p, sizeof p, "/nope/%d", i);
        ck_assert_int_eq(p2p_mss_msg_encode(&many, p, (size_t)n), 0);
    }
    struct { const char *what; const void *data; size_t len; const char *reason; } v[] = {
        { "overlong varint", ff, sizeof ff, "protocol violation" },
        { "length over 1024", bigvar, sizeof bigvar, "protocol violation" },
        { "message without newline", nonl, sizeof nonl, "protocol violation" },
        { "an HTTP request", http, sizeof http - 1, "protocol violation" },
        { "40 proposals", p2p_buf_head(&many), many.len, "limit reached" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct atk a;
        atk_init(&a, &f.loop);
        atk_connect(&a, &va);
        char port[64];
        snprintf(port, sizeof port, "tcp/%u failed during security negotiation", atk_port(&a));
        uint64_t t0 = now_ms();
        atk_send_raw(&a, v[i].data, v[i].len);
        uint64_t took = atk_wait_closed(&a, t0, 2000);
        ck_log("inbound upgrade with", port, v[i].reason);
        printf("    %s: closed after %llu ms (%s)\n", v[i].what, (unsigned long long)took, v[i].reason);
        atk_free(&a, false);
    }
    p2p_buf_free(&many);
    ck_assert_uint_eq(fx_foreign_conns(&f), 0);
    fx_teardown(&f);
}
END_TEST

/* ---- case 2: silence: the upgrade timeout, pending limit ---------------------- */

START_TEST(handshake_stall)
{
    struct fx f;
    fx_setup(&f, "upgrade_timeout = 1s\nmax_pending_incoming = 4\n", NULL, NULL);
    p2p_multiaddr va = ihost_addr(f.v);
    enum { N = 6 };
    struct atk a[N];
    unsigned ports[N] = { 0 };
    uint64_t t0 = now_ms();
    for (int i = 0; i < N; i++) {
        atk_init(&a[i], &f.loop);
        /* The connection may be reset before we even see it established. */
        if (!atk_try_connect(&a[i], &va)) continue;
        ports[i] = atk_port(&a[i]);
        /* Two of them send a partial multistream header, then stall too. */
        if (i % 3 == 1) atk_send_raw(&a[i], "\x13/multis", 8);
        ihost_run_for(&f.loop, 20);   /* accepted in this order */
    }
    for (int i = 0; i < N; i++) atk_wait_closed(&a[i], t0, 4000);
    int early = 0, timed_out = 0;
    for (int i = 0; i < N; i++) {
        uint64_t took = a[i].closed_at - t0;
        char port[64];
        snprintf(port, sizeof port, "tcp/%u failed during upgrade (timeout)", ports[i]);
        if (took < 700) {
            early++;   /* refused at once: more than max_pending_incoming */
        } else {
            ck_assert_uint_le(took, 3000);
            ck_log("inbound upgrade with", port, "timed out");
            timed_out++;
        }
        printf("    stalled socket %d: closed after %llu ms\n", i, (unsigned long long)took);
        atk_free(&a[i], false);
    }
    ck_assert_int_eq(timed_out, 4);
    ck_assert_int_eq(early, 2);
    ck_log("refusing an inbound connection", "too many pending inbound upgrades");

    /* The pending count went back down: a new peer gets in. */
    f.h2 = ihost_new(&f.loop, NULL, NULL);
    log_begin();
    ihost_start(f.h2);
    struct conn_result r = { 0 };
    ck_assert_int_eq(p2p_host_connect(f.h2, &f.vid, &va, 1, on_connected, &r), 0);
    ck_assert(ihost_run_until(&f.loop, &r.done, 10000));
    ck_assert_msg(r.status == 0, "connect after the stall: %s", p2p_strerror(r.status));
    ck_assert_uint_eq(fx_foreign_conns(&f), 0);
    fx_teardown(&f);
}
END_TEST

/* ---- case 2b: many connections from one IP address --------------------------- */

/* Opens n stalled sockets from src and returns how many the victim refused
 * at once (closed within 500 ms) rather than holding until the upgrade
 * timeout. */
static int stall_from(struct fx *f, const p2p_multiaddr *va, const char *src, struct atk *a, int n)
{
    for (int i = 0; i < n; i++) {
        atk_init(&a[i], &f->loop);
        a[i].src_ip = src;
        (void)atk_try_connect(&a[i], va);
        ihost_run_for(&f->loop, 20);
    }
    ihost_run_for(&f->loop, 500);
    int refused = 0;
    for (int i = 0; i < n; i++) refused += a[i].closed;
    return refused;
}

START_TEST(per_ip_limit)
{
    struct fx f;
    fx_setup(&f, "upgrade_timeout = 1500ms\nmax_incoming_per_ip = 3\nlimit_loopback = true\n", NULL, NULL);
    p2p_multiaddr va = ihost_addr(f.v);
    struct atk a2[5], a1[3];
    /* 127.0.0.2: three get into the handshake, two are refused at once */
    ck_assert_int_eq(stall_from(&f, &va, "127.0.0.2", a2, 5), 2);
    ck_log("refusing an inbound connection from /ip4/127.0.0.2", "max_incoming_per_ip (3) reached");
    /* 127.0.0.1 already has the honest host's established connection:
     * two more fit, the third is refused. The honest one is untouched. */
    ck_assert_int_eq(stall_from(&f, &va, "127.0.0.1", a1, 3), 1);
    ck_assert_int_eq(f.h_disconnected, 0);
    /* Another address is not affected while both are at their limit. */
    struct atk a3[1];
    ck_assert_int_eq(stall_from(&f, &va, "127.0.0.3", a3, 1), 0);
    /* Once the stalled handshakes time out, 127.0.0.1 gets in again. */
    uint64_t t0 = now_ms();
    for (int i = 0; i < 5; i++) atk_wait_closed(&a2[i], t0, 4000);
    for (int i = 0; i < 3; i++) atk_wait_closed(&a1[i], t0, 4000);
    atk_wait_closed(&a3[0], t0, 4000);
    f.h2 = ihost_new(&f.loop, NULL, NULL);
    ihost_start(f.h2);
    struct conn_result r = { 0 };
    ck_assert_int_eq(p2p_host_connect(f.h2, &f.vid, &va, 1, on_connected, &r), 0);
    ck_assert(ihost_run_until(&f.loop, &r.done, 10000));
    ck_assert_msg(r.status == 0, "connect after the stalled ones timed out: %s", p2p_strerror(r.status));
    atk_free(&a3[0], false);
    for (int i = 0; i < 5; i++) atk_free(&a2[i], false);
    for (int i = 0; i < 3; i++) atk_free(&a1[i], false);
    ck_assert_uint_eq(fx_foreign_conns(&f), 0);
    fx_teardown(&f);
}
END_TEST

/* ---- case 3: Noise message 1, then nothing; a malformed message 1 ------------ */

START_TEST(noise_stall)
{
    struct fx f;
    fx_setup(&f, "upgrade_timeout = 3s\n", "handshake_timeout = 800ms\n", NULL);
    p2p_multiaddr va = ihost_addr(f.v);
    p2p_keypair kp;
    ck_assert_int_eq(p2p_keypair_generate(&kp), 0);

    /* Message 1, then silence: the Noise handshake timeout (800 ms), well
     * before the upgrade timeout (3 s). */
    struct atk a;
    atk_init(&a, &f.loop);
    atk_connect(&a, &va);
    ck_assert_int_eq(atk_mss_dial(&a, NOISE_PROTOCOL_ID), 0);
    noise_hs *hs;
    struct noise_hs_config cfg = { .role = NOISE_INITIATOR, .identity = &kp };
    ck_assert_int_eq(noise_hs_new(&hs, &cfg), 0);
    p2p_buf out;
    p2p_buf_init(&out, 0);
    ck_assert_int_eq(noise_hs_write(hs, &out), 0);
    uint64_t t0 = now_ms();
    atk_send(&a, p2p_buf_head(&out), out.len);
    p2p_buf_free(&out);
    uint64_t took = atk_wait_closed(&a, t0, 3000);
    /* The victim answered with message 2 before giving up. */
    size_t used = 0;
    ck_assert_int_eq(noise_hs_read(hs, p2p_buf_head(&a.rx), a.rx.len, &used), 0);
    noise_hs_free(hs);
    ck_assert_uint_ge(took, 700);
    ck_assert_uint_le(took, 2500);
    char port[64];
    snprintf(port, sizeof port, "tcp/%u failed during security handshake", atk_port(&a));
    ck_log("inbound upgrade with", port, "timed out");
    printf("    message 1 then nothing: closed after %llu ms\n", (unsigned long long)took);
    atk_free(&a, false);

    /* A message 1 that is not 32 bytes of ephemeral key. */
    atk_init(&a, &f.loop);
    atk_connect(&a, &va);
    ck_assert_int_eq(atk_mss_dial(&a, NOISE_PROTOCOL_ID), 0);
    snprintf(port, sizeof port, "tcp/%u failed during security handshake", atk_port(&a));
    t0 = now_ms();
    atk_send_raw(&a, "\x00\x05hello", 7);
    took = atk_wait_closed(&a, t0, 2000);
    ck_log("noise", "handshake failed");
    ck_log("inbound upgrade with", port, "protocol violation");
    printf("    malformed message 1: closed after %llu ms\n", (unsigned long long)took);
    atk_free(&a, false);
    ck_assert_uint_eq(fx_foreign_conns(&f), 0);
    fx_teardown(&f);
}
END_TEST

/* ---- case 4: the dialed peer proves another PeerId ------------------------------ */

struct alisten {
    int fd, accepted;
    uv_poll_t poll;
};

static void on_listen_poll(uv_poll_t *p, int status, int events)
{
    (void)status; (void)events;
    struct alisten *l = p->data;
    if (l->accepted >= 0) return;
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        l->accepted = fd;
        uv_poll_stop(p);
    }
}

static bool accepted(void *arg) { return ((struct alisten *)arg)->accepted >= 0; }

static void on_listen_closed(uv_handle_t *hd)
{
    struct alisten *l = hd->data;
    close(l->fd);
}

START_TEST(wrong_peer_id_when_dialing)
{
    struct fx f;
    fx_setup(&f, "upgrade_timeout = 1s\n", NULL, NULL);
    struct alisten l = { .accepted = -1 };
    l.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(bind(l.fd, (struct sockaddr *)&sin, sizeof sin), 0);
    ck_assert_int_eq(listen(l.fd, 4), 0);
    socklen_t sl = sizeof sin;
    ck_assert_int_eq(getsockname(l.fd, (struct sockaddr *)&sin, &sl), 0);
    ck_assert_int_eq(uv_poll_init_socket(&f.loop, &l.poll, l.fd), 0);
    l.poll.data = &l;
    uv_poll_start(&l.poll, UV_READABLE, on_listen_poll);

    /* The victim dials "expected"; the attacker answers as "actual". */
    p2p_keypair expected_kp, actual_kp;
    p2p_keypair_from_seed_byte(&expected_kp, 77);
    p2p_keypair_from_seed_byte(&actual_kp, 78);
    p2p_pubkey pub;
    p2p_peerid expected, actual;
    p2p_keypair_public(&expected_kp, &pub);
    p2p_peerid_from_pubkey(&expected, &pub);
    p2p_keypair_public(&actual_kp, &pub);
    p2p_peerid_from_pubkey(&actual, &pub);
    p2p_multiaddr ma;
    p2p_maddr_from_sockaddr(&ma, (struct sockaddr *)&sin, P2P_MA_TCP);
    struct conn_result r = { 0 };
    ck_assert_int_eq(p2p_host_connect(f.v, &expected, &ma, 1, on_connected, &r), 0);
    ck_assert(ihost_run_cond(&f.loop, accepted, &l, 5000));

    struct atk a;
    atk_init(&a, &f.loop);
    a.fd = l.accepted;
    a.connected = true;
    atk_poll_start(&a);
    ck_assert_int_eq(atk_mss_listen_noise(&a), 0);
    uint64_t t0 = now_ms();
    /* Message 2 goes out and the victim, as initiator, checks it: it
     * closes instead of sending message 3. */
    int rc = atk_noise(&a, &actual_kp, NOISE_RESPONDER);
    ck_assert_int_eq(rc, P2P_ECLOSED);
    ck_assert(ihost_run_until(&f.loop, &r.done, 5000));
    ck_assert_int_eq(r.status, P2P_EPEERID);
    uint64_t took = atk_wait_closed(&a, t0, 2000);
    char port[64];
    snprintf(port, sizeof port, "tcp/%u failed during security handshake", (unsigned)ntohs(sin.sin_port));
    ck_log("noise", "handshake failed", "peer id mismatch");
    ck_log("outbound upgrade with", port, "peer id mismatch");
    printf("    wrong PeerId: connect failed with P2P_EPEERID, closed after %llu ms\n", (unsigned long long)took);
    atk_free(&a, false);

    /* A dialed peer that accepts and then never answers: the outbound
     * upgrade times out and the connect fails with P2P_ETIMEDOUT. */
    l.accepted = -1;
    uv_poll_start(&l.poll, UV_READABLE, on_listen_poll);
    struct conn_result r2 = { 0 };
    ck_assert_int_eq(p2p_host_connect(f.v, &expected, &ma, 1, on_connected, &r2), 0);
    ck_assert(ihost_run_cond(&f.loop, accepted, &l, 5000));
    atk_init(&a, &f.loop);
    a.fd = l.accepted;
    a.connected = true;
    atk_poll_start(&a);
    t0 = now_ms();
    ck_assert(ihost_run_until(&f.loop, &r2.done, 5000));
    ck_assert_int_eq(r2.status, P2P_ETIMEDOUT);
    took = atk_wait_closed(&a, t0, 2000);
    ck_assert_uint_ge(took, 800);
    ck_assert_uint_le(took, 2500);
    snprintf(port, sizeof port, "tcp/%u failed during upgrade (timeout)", (unsigned)ntohs(sin.sin_port));
    ck_log("outbound upgrade with", port, "timed out");
    printf("    silent dialed peer: connect failed with P2P_ETIMEDOUT, closed after %llu ms\n",
           (unsigned long long)took);
    atk_free(&a, false);
    uv_close((uv_handle_t *)&l.poll, on_listen_closed);
    ck_assert_uint_eq(fx_foreign_conns(&f), 0);
    ck_assert(p2p_host_conn_to(f.v, &actual) == NULL);
    fx_teardown(&f);
}
END_TEST

/* ---- case 5: bad Noise transport frames ------------------------------------------ */

START_TEST(bad_noise_frames)
{
    struct fx f;
    fx_setup(&f, NULL, NULL, NULL);
    p2p_multiaddr va = ihost_addr(f.v);

    /* (a) A corrupt tag on the first frame, while the victim is waiting
     * for the muxer negotiation: the upgrade fails. */
    {
        struct atk a;
        atk_init(&a, &f.loop);
        p2p_keypair kp;
        p2p_keypair_generate(&kp);
        atk_connect(&a, &va);
        ck_assert_int_eq(atk_mss_dial(&a, NOISE_PROTOCOL_ID), 0);
        ck_assert_int_eq(atk_noise(&a, &kp, NOISE_INITIATOR), 0);
        p2p_buf fr;
        p2p_buf_init(&fr, 0);
        ck_assert_int_eq(noise_transport_encrypt(&a.tr, (const uint8_t *)"\x13/multistream/1.0.0\n", 20, &fr), 0);
        p2p_buf_head(&fr)[fr.len - 1] ^= 0x01;
        uint64_t t0 = now_ms();
        atk_send_raw(&a, p2p_buf_head(&fr), fr.len);
        p2p_buf_free(&fr);
        uint64_t took = atk_wait_closed(&a, t0, 2000);
        char port[64];
        snprintf(port, sizeof port, "tcp/%u failed during muxer negotiation", atk_port(&a));
        ck_log("noise", "transport frame rejected", "cryptographic verification failed");
        ck_log("inbound upgrade with", port, "cryptographic verification failed");
        printf("    corrupt tag during the upgrade: closed after %llu ms\n", (unsigned long long)took);
        atk_free(&a, false);
    }

    /* (b)-(d) On established connections. */
    enum { CORRUPT, SHORT, TRUNCATED };
    static const char *const names[] = { "corrupt tag", "frame shorter than a tag", "truncated frame and EOF" };
    static const int reasons[] = { P2P_ECRYPTO, P2P_EPROTO, P2P_EPROTO };
    for (int k = CORRUPT; k <= TRUNCATED; k++) {
        struct atk a;
        p2p_peerid id;
        atk_join(&f, &a, &id);
        uint64_t t0 = now_ms();
        if (k == CORRUPT) {
            uint8_t ping[YAMUX_HEADER_LEN];
            yamux_header_put(ping, YAMUX_TYPE_PING, YAMUX_FLAG_SYN, 0, 1);
            p2p_buf fr;
            p2p_buf_init(&fr, 0);
            ck_assert_int_eq(noise_transport_encrypt(&a.tr, ping, sizeof ping, &fr), 0);
            p2p_buf_head(&fr)[5] ^= 0x40;   /* in the ciphertext: the tag no longer matches */
            atk_send_raw(&a, p2p_buf_head(&fr), fr.len);
            p2p_buf_free(&fr);
        } else if (k == SHORT) {
            atk_send_raw(&a, "\x00\x05hello", 7);
        } else {
            uint8_t part[1002] = { 0xff, 0xff };
            atk_send_raw(&a, part, sizeof part);
            ihost_run_for(&f.loop, 50);
            ck_assert(!a.closed);   /* a partial frame is just waited for */
            t0 = now_ms();
            shutdown(a.fd, SHUT_WR);
        }
        expect_conn_closed(&f, &a, &id, t0, 2000, reasons[k]);
        if (k != TRUNCATED) ck_log("noise", "transport frame rejected", p2p_strerror(reasons[k]));
        printf("    (%s)\n", names[k]);
        atk_free(&a, false);
    }
    fx_teardown(&f);
}
END_TEST

/* ---- case 5b: Noise frames read in place --------------------------------------- */

/* Once a connection carries large frames, the victim's transport reads
 * each frame straight into the Noise buffer, every read ending at a
 * frame's end, and decrypts it there (plugins/noise). Feed that path
 * frames cut at awkward places across separate socket writes (in the
 * 2-byte length, one byte into the body, one byte before the tag ends),
 * maximal frames, and a batch of many small frames in one write, through
 * an echo stream: every byte must come back. Then a maximal frame with a
 * corrupt tag, itself split, closes the connection cleanly. */
struct echo_cond { struct astream *s; size_t want; };
static bool echoed_all(void *arg)
{
    struct echo_cond *c = arg;
    return c->s->rx_bytes >= c->want || c->s->rst;
}

/* An established attacker that reads, with stream 1 opened for the echo
 * protocol (lazily: the negotiation and the first bytes travel together). */
static struct astream *atk_echo_stream(struct fx *f, struct atk *a, p2p_peerid *id)
{
    atk_init(a, &f->loop);
    a->reading = true;
    p2p_keypair kp;
    p2p_keypair_generate(&kp);
    atk_establish(f, a, &kp, id);
    struct astream *s = ast_add(a, 1);
    ay_frame(a, YAMUX_TYPE_DATA, YAMUX_FLAG_SYN, 1, sizeof MSS_ECHO_LAZY - 1, MSS_ECHO_LAZY,
             sizeof MSS_ECHO_LAZY - 1);
    return s;
}

START_TEST(noise_frames_in_place)
{
    struct fx f;
    fx_setup(&f, NULL, NULL, NULL);
    struct atk a;
    p2p_peerid id;
    struct astream *s = atk_echo_stream(&f, &a, &id);

    /* One Yamux Data frame of three maximal Noise frames' worth... */
    size_t plen = 3 * NOISE_PLAINTEXT_MAX - YAMUX_HEADER_LEN;
    uint8_t *pt = malloc(YAMUX_HEADER_LEN + plen);
    ck_assert_ptr_nonnull(pt);
    yamux_header_put(pt, YAMUX_TYPE_DATA, 0, 1, (uint32_t)plen);
    for (size_t i = 0; i < plen; i++) pt[YAMUX_HEADER_LEN + i] = (uint8_t)(i * 13 + 1);
    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    ck_assert_int_eq(noise_transport_encrypt(&a.tr, pt, YAMUX_HEADER_LEN + plen, &wire), 0);
    ck_assert_uint_eq(wire.len, 3 * NOISE_FRAME_MAX);
    /* ...sent in pieces the victim reads separately. */
    const size_t F = NOISE_FRAME_MAX;
    const size_t cuts[] = { 1, 3, F - 1, F, F + 2, 2 * F + 1, 3 * F };
    size_t from = 0;
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        atk_send_raw(&a, p2p_buf_head(&wire) + from, cuts[k] - from);
        ihost_run_for(&f.loop, 20);
        ck_assert(!a.closed);
        from = cuts[k];
    }
    /* 500 small frames (one Yamux frame of 1..20 bytes each) in one write */
    p2p_buf_reset(&wire);
    size_t small = 0;
    for (size_t k = 0; k < 500; k++) {
        uint8_t fr[YAMUX_HEADER_LEN + 20];
        size_t n = 1 + k % 20;
        yamux_header_put(fr, YAMUX_TYPE_DATA, 0, 1, (uint32_t)n);
        memset(fr + YAMUX_HEADER_LEN, (int)k, n);
        ck_assert_int_eq(noise_transport_encrypt(&a.tr, fr, YAMUX_HEADER_LEN + n, &wire), 0);
        small += n;
    }
    atk_send_raw(&a, p2p_buf_head(&wire), wire.len);

    /* The echo: the negotiation, then every byte in order (the first
     * 64 KiB are kept and compared). */
    size_t want = sizeof MSS_ECHO_LAZY - 1 + plen + small;
    struct echo_cond ec = { s, want };
    ck_assert(ihost_run_cond(&f.loop, echoed_all, &ec, 10000));
    ck_assert(!s->rst);
    ck_assert_uint_eq(s->rx_bytes, want);
    ck_assert_uint_ge(s->rx.len, sizeof MSS_ECHO_LAZY - 1 + 1000);
    ck_assert_mem_eq(p2p_buf_head(&s->rx), MSS_ECHO_LAZY, sizeof MSS_ECHO_LAZY - 1);
    ck_assert_mem_eq(p2p_buf_head(&s->rx) + sizeof MSS_ECHO_LAZY - 1, pt + YAMUX_HEADER_LEN,
                     s->rx.len - (sizeof MSS_ECHO_LAZY - 1));
    printf("    %zu bytes echoed through frames split across reads and a batch of 500 small frames\n", want);

    /* A maximal frame whose tag is corrupt, split in two writes. */
    p2p_buf_reset(&wire);
    yamux_header_put(pt, YAMUX_TYPE_DATA, 0, 1, (uint32_t)(NOISE_PLAINTEXT_MAX - YAMUX_HEADER_LEN));
    ck_assert_int_eq(noise_transport_encrypt(&a.tr, pt, NOISE_PLAINTEXT_MAX, &wire), 0);
    p2p_buf_head(&wire)[wire.len - 1] ^= 0x01;
    uint64_t t0 = now_ms();
    atk_send_raw(&a, p2p_buf_head(&wire), 1000);
    ihost_run_for(&f.loop, 20);
    atk_send_raw(&a, p2p_buf_head(&wire) + 1000, wire.len - 1000);
    expect_conn_closed(&f, &a, &id, t0, 2000, P2P_ECRYPTO);
    ck_log("noise", "transport frame rejected", p2p_strerror(P2P_ECRYPTO));
    p2p_buf_free(&wire);
    free(pt);
    atk_free(&a, false);
    fx_teardown(&f);
}
END_TEST

/* ---- case 5c: partial frames wait in the kernel -------------------------------- */

/* A peer that sends part of a large frame and stalls costs the victim
 * nothing while its connection carries large frames: the noise layer
 * reads the frame's length, asks transport-tcp for a read low-water mark
 * (the rest of the frame) and the rest waits in the socket's receive
 * buffer until it is whole (p2p_stream_read_lowat). What Noise holds is
 * charged to the host's buffered bytes, which the test reads: a frame
 * begun before the connection went bulk is held (read with the small
 * frames before it), the next ones are not. */
static uint64_t victim_used(struct fx *f)
{
    struct p2p_mem_stats ms;
    p2p_host_mem_stats(f->v, &ms);
    return ms.used;
}

START_TEST(noise_partial_frames_in_kernel)
{
    struct fx f;
    fx_setup(&f, NULL, NULL, NULL);
    struct atk a;
    p2p_peerid id;
    struct astream *s = atk_echo_stream(&f, &a, &id);
    size_t plen = NOISE_PLAINTEXT_MAX - YAMUX_HEADER_LEN;
    uint8_t *pt = malloc(NOISE_PLAINTEXT_MAX);
    ck_assert_ptr_nonnull(pt);
    yamux_header_put(pt, YAMUX_TYPE_DATA, 0, 1, (uint32_t)plen);
    for (size_t i = 0; i < plen; i++) pt[YAMUX_HEADER_LEN + i] = (uint8_t)(i * 7 + 3);
    size_t want = sizeof MSS_ECHO_LAZY - 1;
    const size_t part = 40000;
    for (int k = 0; k < 3; k++) {
        p2p_buf wire;
        p2p_buf_init(&wire, 0);
        ck_assert_int_eq(noise_transport_encrypt(&a.tr, pt, NOISE_PLAINTEXT_MAX, &wire), 0);
        ck_assert_uint_eq(wire.len, NOISE_FRAME_MAX);
        uint64_t before = victim_used(&f);
        atk_send_raw(&a, p2p_buf_head(&wire), part);
        ihost_run_for(&f.loop, 150);
        uint64_t held = victim_used(&f) - before;
        printf("    frame %d: %zu of %zu bytes sent, the victim holds %llu\n", k + 1, part, wire.len,
               (unsigned long long)held);
        if (k == 0) ck_assert_uint_ge(held, part);   /* read with the small frames: held */
        else ck_assert_uint_lt(held, 8192);         /* in the kernel (the honest pair's traffic aside) */
        ck_assert(!a.closed);
        atk_send_raw(&a, p2p_buf_head(&wire) + part, wire.len - part);
        want += plen;
        struct echo_cond ec = { s, want };
        ck_assert(ihost_run_cond(&f.loop, echoed_all, &ec, 5000));
        ck_assert(!s->rst);
        ck_assert_uint_eq(s->rx_bytes, want);
        p2p_buf_free(&wire);
    }
    ck_assert_mem_eq(p2p_buf_head(&s->rx) + sizeof MSS_ECHO_LAZY - 1, pt + YAMUX_HEADER_LEN,
                     s->rx.len - (sizeof MSS_ECHO_LAZY - 1));
    /* A stalled partial frame, then EOF: the mark does not hide the end. */
    p2p_buf wire;
    p2p_buf_init(&wire, 0);
    ck_assert_int_eq(noise_transport_encrypt(&a.tr, pt, NOISE_PLAINTEXT_MAX, &wire), 0);
    atk_send_raw(&a, p2p_buf_head(&wire), part);
    ihost_run_for(&f.loop, 50);
    uint64_t t0 = now_ms();
    shutdown(a.fd, SHUT_WR);
    expect_conn_closed(&f, &a, &id, t0, 2000, P2P_EPROTO);
    p2p_buf_free(&wire);
    free(pt);
    atk_free(&a, false);
    fx_teardown(&f);
}
END_TEST

/* ---- case 6: Yamux data beyond the window --------------------------------------- */

START_TEST(yamux_window_violation)
{
    struct fx f;
    fx_setup(&f, NULL, NULL, NULL);
    struct atk a;
    p2p_peerid id;
    atk_join(&f, &a, &id);

    /* An echo stream: the lazy negotiation in the first frame. */
    ast_add(&a, 1);
    ay_frame(&a, YAMUX_TYPE_DATA, YAMUX_FLAG_SYN, 1, sizeof MSS_ECHO_LAZY - 1, MSS_ECHO_LAZY,
             sizeof MSS_ECHO_LAZY - 1);
    /* Then a full window at once: together more than the 256 KiB the
     * victim granted, and it cannot have granted more (it sends a Window
     * Update only after half the window was consumed). */
    size_t n = YAMUX_DEFAULT_WINDOW;
    uint8_t *big = calloc(1, n);
    uint64_t t0 = now_ms();
    ay_frame(&a, YAMUX_TYPE_DATA, 0, 1, (uint32_t)n, big, n);
    free(big);
    expect_conn_closed(&f, &a, &id, t0, 3000, P2P_EPROTO);
    ck_assert_int_eq(a.goaway, YAMUX_GOAWAY_PROTOCOL);
    ck_log("yamux", "session failed", "protocol violation");
    atk_free(&a, false);
    fx_teardown(&f);
}
END_TEST

/* ---- case 7: more streams than max_streams; a SYN flood ----------------------------- */

struct stream_cond { struct atk *a; size_t want; };
static bool rsts_reached(void *arg)
{
    struct stream_cond *c = arg;
    return c->a->rsts >= c->want || c->a->closed;
}
static bool acks_and_rsts(void *arg)
{
    struct stream_cond *c = arg;
    return c->a->rsts + c->a->acks >= c->want || c->a->closed;
}
static bool stream_echoed(void *arg)
{
    struct astream *s = arg;
    return s->fin || s->rst;
}

START_TEST(too_many_streams)
{
    struct fx f;
    fx_setup(&f, "stream_negotiation_timeout = 3s\n", NULL, "max_streams = 4\n");
    struct atk a;
    p2p_peerid id;
    p2p_conn *vc = atk_join(&f, &a, &id);

    /* Four streams that never negotiate: the victim's limit. */
    uint32_t next = 1;
    for (int i = 0; i < 4; i++, next += 2) {
        ast_add(&a, next);
        ay_frame(&a, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, next, 0, NULL, 0);
    }
    struct stream_cond c4 = { &a, 4 };
    ck_assert(ihost_run_cond(&f.loop, acks_and_rsts, &c4, 5000));
    ck_assert_uint_eq(a.acks, 4);
    ck_assert_uint_eq(a.rsts, 0);
    ck_assert_uint_le(p2p_conn_stream_count(vc), 4);

    /* A SYN flood: every one refused with RST, the connection survives,
     * the victim's memory does not grow with it. */
    size_t rss0 = rss_bytes();
    enum { FLOOD = 20000, BATCH = 1000 };
    uint8_t *batch = malloc(BATCH * YAMUX_HEADER_LEN);
    for (int sent = 0; sent < FLOOD; sent += BATCH) {
        for (int j = 0; j < BATCH; j++, next += 2)
            yamux_header_put(batch + j * YAMUX_HEADER_LEN, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, next, 0);
        atk_send(&a, batch, BATCH * YAMUX_HEADER_LEN);
        struct stream_cond cr = { &a, (size_t)sent + BATCH };
        ck_assert_msg(ihost_run_cond(&f.loop, rsts_reached, &cr, 5000), "only %zu RSTs for %d SYNs", a.rsts,
                      sent + BATCH);
        ck_assert_uint_le(p2p_conn_stream_count(vc), 4);
    }
    free(batch);
    ck_assert(!a.closed);
    ck_assert_uint_eq(a.acks, 4);
    size_t rss1 = rss_bytes();
    printf("    %d SYNs refused with RST; RSS %+.1f MiB\n", FLOOD, ((double)rss1 - (double)rss0) / MIB);
    if (!P2P_TEST_SANITIZED) ck_assert_uint_lt(rss1, rss0 + 16 * MIB);

    /* The stalled streams are reset when their negotiation times out... */
    struct stream_cond cs = { &a, FLOOD + 4 };
    ck_assert(ihost_run_cond(&f.loop, rsts_reached, &cs, 5000));
    for (uint32_t sid = 1; sid <= 7; sid += 2) ck_assert(ast_find(&a, sid)->rst);
    ck_log("conn", "inbound stream negotiation failed", "timed out");

    /* ...and the connection still works: an echo over a new stream. */
    struct astream *s = ast_add(&a, next);
    char msg[] = MSS_ECHO_LAZY "hello, victim";
    ay_frame(&a, YAMUX_TYPE_DATA, YAMUX_FLAG_SYN | YAMUX_FLAG_FIN, next, sizeof msg - 1, msg, sizeof msg - 1);
    ck_assert(ihost_run_cond(&f.loop, stream_echoed, s, 5000));
    ck_assert(s->fin && !s->rst);
    ck_assert_uint_ge(s->rx.len, 13);
    ck_assert_mem_eq(p2p_buf_head(&s->rx) + s->rx.len - 13, "hello, victim", 13);
    fx_honest_progresses(&f, 10000);

    /* The attacker leaves; the victim notices and says so. */
    uint64_t t0 = now_ms();
    shutdown(a.fd, SHUT_WR);
    expect_conn_closed(&f, &a, &id, t0, 2000, 0);
    atk_free(&a, false);
    fx_teardown(&f);
}
END_TEST

/* ---- case 8: never reading the echo ---------------------------------------------- */

#define FLOOD_MAX 32

struct flood {
    size_t n;                    /* streams, ids 1, 3, 5, ... */
    size_t target, sent[FLOOD_MAX], total;
    uint64_t last_progress;
};

/* Write echo data on every stream as fast as the victim's windows allow. */
static void flood_gen(struct atk *a)
{
    struct flood *fl = a->user;
    static uint8_t frame[YAMUX_HEADER_LEN + 16 * KIB];
    bool progress = true;
    while (progress && a->tx.len < 256 * KIB && !a->closed) {
        progress = false;
        for (size_t i = 0; i < fl->n && a->tx.len < 256 * KIB; i++) {
            uint32_t id = (uint32_t)(2 * i + 1);
            struct astream *s = ast_find(a, id);
            if (fl->sent[i] >= fl->target || !s->credit || s->rst) continue;
            size_t n = 16 * KIB;
            if (n > s->credit) n = (size_t)s->credit;
            if (n > fl->target - fl->sent[i]) n = fl->target - fl->sent[i];
            yamux_header_put(frame, YAMUX_TYPE_DATA, 0, id, (uint32_t)n);
            memset(frame + YAMUX_HEADER_LEN, (int)(fl->sent[i] & 0xff), n);
            ck_assert_int_eq(noise_transport_encrypt(&a->tr, frame, YAMUX_HEADER_LEN + n, &a->tx), 0);
            s->credit -= n;
            fl->sent[i] += n;
            fl->total += n;
            fl->last_progress = now_ms();
            progress = true;
        }
    }
}

static bool flood_stalled(void *arg)
{
    struct atk *a = arg;
    struct flood *fl = a->user;
    static uint64_t last;
    if (getenv("HOSTILE_DEBUG") && now_ms() - last > 1000) {
        last = now_ms();
        fprintf(stderr, "flood: %.1f MiB sent, RSS %.1f MiB; per stream sent/echoed/credit KiB:",
                (double)fl->total / MIB, (double)rss_bytes() / MIB);
        for (size_t i = 0; i < fl->n; i++) {
            struct astream *s = ast_find(a, (uint32_t)(2 * i + 1));
            fprintf(stderr, " %zu/%zu/%zu", fl->sent[i] / KIB, s->rx_bytes / KIB, (size_t)s->credit / KIB);
        }
        fprintf(stderr, " tx %zu\n", a->tx.len);
    }
    return a->closed || (fl->total && now_ms() - fl->last_progress > 700) || fl->total >= fl->n * fl->target;
}

START_TEST(never_reads)
{
    struct fx f;
    fx_setup(&f, NULL, NULL, "keepalive_interval = 500ms\nping_timeout = 1s\n");
    ihost_run_for(&f.loop, 300);   /* warm up: the honest echo runs */
    size_t rss0 = rss_bytes();

    struct atk a;
    p2p_peerid id;
    p2p_conn *vc = atk_join(&f, &a, &id);

    /* Echo streams; 64 MiB as fast as we may; the echo is never read (no
     * Window Update for it ever leaves us). */
    struct flood fl = { .n = 4, .target = 64 * MIB };
    const char *env = getenv("HOSTILE_FLOOD_STREAMS");
    if (env) fl.n = (size_t)atoi(env);
    ck_assert(fl.n >= 1 && fl.n <= FLOOD_MAX);
    fl.target /= fl.n;
    for (size_t i = 0; i < fl.n; i++) {
        struct astream *s = ast_add(&a, (uint32_t)(2 * i + 1));
        ay_frame(&a, YAMUX_TYPE_DATA, YAMUX_FLAG_SYN, s->id, sizeof MSS_ECHO_LAZY - 1, MSS_ECHO_LAZY,
                 sizeof MSS_ECHO_LAZY - 1);
        s->credit -= sizeof MSS_ECHO_LAZY - 1;
    }
    a.user = &fl;
    a.gen = flood_gen;
    flood_gen(&a);
    atk_flush(&a);
    atk_update(&a);
    ck_assert(ihost_run_cond(&f.loop, flood_stalled, &a, 30000));
    ck_assert(!a.closed);
    ck_assert_uint_lt(fl.total, fl.n * fl.target);   /* the victim's windows stopped us */
    size_t rss1 = rss_bytes(), echoed = 0;
    for (size_t i = 0; i < fl.n; i++) {
        struct astream *s = ast_find(&a, (uint32_t)(2 * i + 1));
        ck_assert(!s->rst);
        ck_assert_uint_le(s->rx_bytes, YAMUX_DEFAULT_WINDOW);   /* it respected our window */
        echoed += s->rx_bytes;
    }
    printf("    %zu stream(s) stalled after %.2f MiB sent (echo received %.2f MiB, never acknowledged); "
           "RSS %+.1f MiB\n", fl.n, (double)fl.total / MIB, (double)echoed / MIB,
           ((double)rss1 - (double)rss0) / MIB);
    /* The victim does not block its other connections meanwhile. */
    fx_honest_progresses(&f, 10000);
    ck_assert_uint_eq(p2p_conn_stream_count(vc), fl.n);
    size_t rss2 = rss_bytes();
    if (!P2P_TEST_SANITIZED) {
        ck_assert_uint_lt(rss1, rss0 + 48 * MIB);
        ck_assert_uint_lt(rss2, rss0 + 48 * MIB);
    }

    /* Now we stop reading the socket altogether: the victim's keepalive
     * pings go unanswered and it closes the connection. */
    a.reading = false;
    a.gen = NULL;
    atk_update(&a);
    uint64_t t0 = now_ms();
    struct peer_cond pc = { &f, &id };
    ck_assert(ihost_run_cond(&f.loop, victim_disconnected_from, &pc, 5000));
    uint64_t took = now_ms() - t0;
    a.reading = true;
    atk_update(&a);
    expect_conn_closed(&f, &a, &id, t0, 2000, P2P_ETIMEDOUT);
    ck_assert_uint_le(took, 3000);
    atk_free(&a, false);
    fx_teardown(&f);
}
END_TEST

/* Pings as fast as possible, and never a read: the victim's replies pile
 * up until it stops reading us; its own keepalive ping then goes
 * unanswered and it closes the connection. */
START_TEST(ping_flood_never_reads)
{
    struct fx f;
    fx_setup(&f, NULL, NULL, "keepalive_interval = 500ms\nping_timeout = 1s\n");
    ihost_run_for(&f.loop, 300);
    size_t rss0 = rss_bytes();
    struct atk a;
    atk_init(&a, &f.loop);
    a.rcvbuf = 64 * KIB;   /* so that the kernel does not absorb the replies */
    p2p_keypair kp;
    p2p_keypair_generate(&kp);
    p2p_peerid id;
    atk_establish(&f, &a, &kp, &id);
    a.reading = false;
    atk_update(&a);
    enum { BATCH = 4096, PINGS = 2 * 1024 * 1024 };
    uint8_t *batch = malloc(BATCH * YAMUX_HEADER_LEN);
    size_t sent = 0;
    uint64_t t0 = now_ms();
    struct peer_cond pc = { &f, &id };
    /* Flood while the victim takes it; it must stop reading us (its
     * replies have nowhere to go) and then give up on us. */
    while (sent < PINGS && !victim_disconnected_from(&pc) && now_ms() - t0 < 15000) {
        if (a.tx.len < 256 * KIB) {
            for (int j = 0; j < BATCH; j++)
                yamux_header_put(batch + j * YAMUX_HEADER_LEN, YAMUX_TYPE_PING, YAMUX_FLAG_SYN, 0,
                                 (uint32_t)(sent + (size_t)j));
            atk_send(&a, batch, BATCH * YAMUX_HEADER_LEN);
            sent += BATCH;
        }
        ihost_run_for(&f.loop, 5);
        if (!P2P_TEST_SANITIZED) ck_assert_uint_lt(rss_bytes(), rss0 + 48 * MIB);
    }
    free(batch);
    ck_assert_msg(ihost_run_cond(&f.loop, victim_disconnected_from, &pc, 5000),
                  "the victim still holds a connection that never reads after %.1f MiB of pings",
                  (double)a.tx_total / MIB);
    printf("    victim took %.1f MiB of pings (%zu queued) before giving up; RSS %+.1f MiB\n",
           (double)a.tx_total / MIB, sent, ((double)rss_bytes() - (double)rss0) / MIB);
    ck_assert_uint_lt(a.tx_total, (size_t)PINGS * YAMUX_HEADER_LEN);
    a.reading = true;
    atk_update(&a);
    expect_conn_closed(&f, &a, &id, t0, 20000, P2P_ETIMEDOUT);
    atk_free(&a, true);
    fx_teardown(&f);
}
END_TEST

/* ---- case 9: unknown frame type, bad version --------------------------------------- */

START_TEST(yamux_bad_frames)
{
    struct fx f;
    fx_setup(&f, NULL, NULL, NULL);
    struct { const char *what; uint8_t version, type; } v[] = {
        { "unknown type 7", 0, 7 },
        { "version 1", 1, YAMUX_TYPE_PING },
        { "unknown type 0xff on a new stream", 0, 0xff },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct atk a;
        p2p_peerid id;
        atk_join(&f, &a, &id);
        struct yamux_header h = { .version = v[i].version, .type = v[i].type, .flags = YAMUX_FLAG_SYN,
                                  .stream_id = i == 2 ? 1 : 0, .length = 1 };
        uint8_t raw[YAMUX_HEADER_LEN];
        yamux_header_encode(&h, raw);
        uint64_t t0 = now_ms();
        atk_send(&a, raw, sizeof raw);
        expect_conn_closed(&f, &a, &id, t0, 2000, P2P_EPROTO);
        ck_assert_int_eq(a.goaway, YAMUX_GOAWAY_PROTOCOL);
        printf("    (%s)\n", v[i].what);
        atk_free(&a, false);
    }
    ck_log("yamux", "session failed", "protocol violation");
    fx_teardown(&f);
}
END_TEST

/* ---- case 10: streams that never finish negotiating ------------------------------- */

START_TEST(negotiation_cap)
{
    struct fx f;
    fx_setup(&f, "max_negotiating_streams = 8\nstream_negotiation_timeout = 3s\n", NULL, NULL);
    struct atk a;
    p2p_peerid id;
    p2p_conn *vc = atk_join(&f, &a, &id);
    /* 20 streams that never say a word: 8 are held in negotiation, the
     * other 12 are reset at once (Yamux accepted them: ACK, then RST). */
    uint32_t next = 1;
    for (int i = 0; i < 20; i++, next += 2) {
        ast_add(&a, next);
        ay_frame(&a, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, next, 0, NULL, 0);
    }
    struct stream_cond c12 = { &a, 12 };
    uint64_t t0 = now_ms();
    ck_assert(ihost_run_cond(&f.loop, rsts_reached, &c12, 2000));
    ihost_run_for(&f.loop, 200);
    ck_assert_uint_eq(a.rsts, 12);
    ck_assert_uint_lt(now_ms() - t0, 1000);
    for (uint32_t sid = 1; sid < 17; sid += 2) ck_assert(!ast_find(&a, sid)->rst);
    for (uint32_t sid = 17; sid < next; sid += 2) ck_assert(ast_find(&a, sid)->rst);
    ck_assert_uint_eq(p2p_conn_stream_count(vc), 8);
    ck_log("conn", "max_negotiating_streams");
    /* While the 8 slots are taken, even a stream that would negotiate at
     * once is reset: the cap counts streams, not their intentions. */
    struct astream *early = ast_add(&a, next);
    char msg[] = MSS_ECHO_LAZY "hello";
    ay_frame(&a, YAMUX_TYPE_DATA, YAMUX_FLAG_SYN | YAMUX_FLAG_FIN, next, sizeof msg - 1, msg, sizeof msg - 1);
    next += 2;
    ck_assert(ihost_run_cond(&f.loop, stream_echoed, early, 2000));
    ck_assert(early->rst);
    /* The stalled 8 are reset when their negotiation times out; then the
     * connection negotiates new streams again. */
    struct stream_cond c21 = { &a, 21 };
    ck_assert(ihost_run_cond(&f.loop, rsts_reached, &c21, 5000));
    ck_log("conn", "inbound stream negotiation failed", "timed out");
    struct astream *s = ast_add(&a, next);
    ay_frame(&a, YAMUX_TYPE_DATA, YAMUX_FLAG_SYN | YAMUX_FLAG_FIN, next, sizeof msg - 1, msg, sizeof msg - 1);
    ck_assert(ihost_run_cond(&f.loop, stream_echoed, s, 5000));
    ck_assert(s->fin && !s->rst);
    fx_honest_progresses(&f, 10000);
    t0 = now_ms();
    shutdown(a.fd, SHUT_WR);
    expect_conn_closed(&f, &a, &id, t0, 2000, 0);
    atk_free(&a, false);
    fx_teardown(&f);
}
END_TEST

/* ---- case 11: the per-connection memory budget ------------------------------------- */

#define SINK_PROTOCOL "/hostile/sink/1.0.0"   /* 19 bytes, as the echo's */
#define MSS_SINK_LAZY "\x13/multistream/1.0.0\n\x14" SINK_PROTOCOL "\n"
#define SINK_MAX 1024

/* The victim's sink protocol: a handler that keeps its streams and never
 * reads them (a stuck or slow application). */
struct sinks {
    p2p_stream *s[SINK_MAX];
    size_t n, held;
};

static void sink_error(p2p_stream *s, int err, void *arg)
{
    (void)err;
    struct sinks *k = arg;
    for (size_t i = 0; i < k->n; i++)
        if (k->s[i] == s) {
            k->s[i] = NULL;
            k->held--;
        }
    p2p_stream_close(s);
}

static void sink_eof(p2p_stream *s, void *arg)
{
    (void)s;
    (void)arg;
}

static const struct p2p_stream_handlers sink_handlers = { NULL, sink_eof, sink_error, NULL };

static void on_sink(p2p_stream *s, const char *proto, void *arg)
{
    (void)proto;
    struct sinks *k = arg;
    if (k->n == SINK_MAX) {
        p2p_stream_close(s);
        return;
    }
    k->s[k->n++] = s;
    k->held++;
    p2p_stream_set_handlers(s, &sink_handlers, k);   /* and no read_start: nothing is read */
}

struct sink_flood {
    size_t total;
    uint64_t last_progress;
};

/* Fill every window the victim grants, 16 KiB frames. */
static void sink_gen(struct atk *a)
{
    struct sink_flood *fl = a->user;
    static uint8_t frame[YAMUX_HEADER_LEN + 16 * KIB];
    bool progress = true;
    while (progress && a->tx.len < 256 * KIB && !a->closed) {
        progress = false;
        for (int i = 0; i < ATK_STREAMS && a->tx.len < 256 * KIB; i++) {
            struct astream *s = &a->st[i];
            if (!s->used || s->rst || !s->credit) continue;
            size_t n = s->credit < 16 * KIB ? (size_t)s->credit : 16 * KIB;
            yamux_header_put(frame, YAMUX_TYPE_DATA, 0, s->id, (uint32_t)n);
            memset(frame + YAMUX_HEADER_LEN, 0x5a, n);
            ck_assert_int_eq(noise_transport_encrypt(&a->tr, frame, YAMUX_HEADER_LEN + n, &a->tx), 0);
            s->credit -= n;
            fl->total += n;
            fl->last_progress = now_ms();
            progress = true;
        }
    }
}

static bool sink_stalled(void *arg)
{
    struct atk *a = arg;
    struct sink_flood *fl = a->user;
    return a->closed || (fl->total && now_ms() - fl->last_progress > 700 && !a->tx.len);
}

struct sink_result {
    size_t admitted, refused;
    double sent_mib;
};

/* One attacker connection: `streams` sink streams opened at once, then
 * every window filled; runs until the victim grants no more credit. */
static struct sink_result sink_attack_ex(struct fx *f, struct atk *a, p2p_peerid *id, int streams, bool may_close)
{
    atk_join(f, a, id);
    struct sink_flood fl = { 0 };
    for (int i = 0; i < streams; i++) {
        struct astream *s = ast_add(a, (uint32_t)(2 * i + 1));
        ay_frame(a, YAMUX_TYPE_DATA, YAMUX_FLAG_SYN, s->id, sizeof MSS_SINK_LAZY - 1, MSS_SINK_LAZY,
                 sizeof MSS_SINK_LAZY - 1);
        s->credit -= sizeof MSS_SINK_LAZY - 1;
    }
    a->user = &fl;
    a->gen = sink_gen;
    sink_gen(a);
    atk_flush(a);
    atk_update(a);
    ck_assert(ihost_run_cond(&f->loop, sink_stalled, a, 30000));
    ck_assert(may_close || !a->closed);
    a->gen = NULL;
    struct sink_result r = { 0, 0, (double)fl.total / MIB };
    for (int i = 0; i < streams; i++) {
        struct astream *s = ast_find(a, (uint32_t)(2 * i + 1));
        if (s->rst) r.refused++;
        else if (s->acked) r.admitted++;
    }
    return r;
}

static struct sink_result sink_attack(struct fx *f, struct atk *a, p2p_peerid *id, int streams)
{
    return sink_attack_ex(f, a, id, streams, false);
}

/* The attacker leaves: the victim closes the connection, its sink streams
 * get an error and are closed (sink_error). */
static void sink_release(struct fx *f, struct atk *a, const p2p_peerid *id)
{
    uint64_t t0 = now_ms();
    shutdown(a->fd, SHUT_WR);
    expect_conn_closed(f, a, id, t0, 2000, 0);
    atk_free(a, false);
}

START_TEST(memory_budget)
{
    struct fx f;
    fx_setup(&f, NULL, NULL, "max_session_window = 16MiB\n");
    static struct sinks k;
    memset(&k, 0, sizeof k);
    ck_assert_int_eq(p2p_protocol_add(f.v, SINK_PROTOCOL, on_sink, &k), 0);
    ihost_run_for(&f.loop, 300);
    size_t rss0 = rss_bytes();
    /* Two connections (two identities) of 100 streams each: 50 MiB offered
     * in the 256 KiB every new stream may send before any window update. */
    static struct atk a[2];
    p2p_peerid id[2];
    for (int c = 0; c < 2; c++) {
        struct sink_result r = sink_attack(&f, &a[c], &id[c], 100);
        printf("    connection %d: %zu streams admitted, %zu refused (RST), %.1f MiB sent\n", c, r.admitted,
               r.refused, r.sent_mib);
        /* Half of the 16 MiB budget is for growth (which needs data to be
         * consumed: none is here); 8 MiB / 256 KiB = 32 initial windows. */
        ck_assert_uint_eq(r.admitted, 32);
        ck_assert_uint_eq(r.refused, 68);
        ck_assert_double_le(r.sent_mib, 8.5);
    }
    size_t rss1 = rss_bytes();
    printf("    victim holds %zu sink streams; RSS %+.1f MiB (bound: 2 x 8 MiB + 12 MiB)\n", k.held,
           ((double)rss1 - (double)rss0) / MIB);
    ck_assert_uint_eq(k.held, 64);
    ck_log("yamux", "refused", "inbound stream(s) with RST");
    if (!P2P_TEST_SANITIZED) ck_assert_uint_lt(rss1, rss0 + 28 * MIB);
    /* Honest peers are not affected. */
    fx_honest_progresses(&f, 10000);
    for (int c = 0; c < 2; c++) sink_release(&f, &a[c], &id[c]);
    ck_assert_uint_eq(k.held, 0);
    fx_teardown(&f);
}
END_TEST

/* The control: the same attack with a budget larger than what it sends.
 * The victim then holds every byte, which is what the RSS bound above
 * would catch if the budget stopped working. */
START_TEST(memory_budget_control)
{
    struct fx f;
    fx_setup(&f, NULL, NULL, "max_session_window = 64MiB\n");
    static struct sinks k;
    memset(&k, 0, sizeof k);
    ck_assert_int_eq(p2p_protocol_add(f.v, SINK_PROTOCOL, on_sink, &k), 0);
    ihost_run_for(&f.loop, 300);
    size_t rss0 = rss_bytes();
    static struct atk a;
    p2p_peerid id;
    struct sink_result r = sink_attack(&f, &a, &id, 100);
    size_t rss1 = rss_bytes();
    printf("    %zu streams admitted, %zu refused, %.1f MiB sent; RSS %+.1f MiB\n", r.admitted, r.refused, r.sent_mib,
           ((double)rss1 - (double)rss0) / MIB);
    ck_assert_uint_eq(r.admitted, 100);
    ck_assert_double_ge(r.sent_mib, 24.9);
    if (!P2P_TEST_SANITIZED) ck_assert_uint_gt(rss1, rss0 + 20 * MIB);
    fx_honest_progresses(&f, 10000);
    sink_release(&f, &a, &id);
    fx_teardown(&f);
}
END_TEST

/* ---- case 12: the host-wide memory budget --------------------------------------- */

/* [host] max_buffered_bytes = 12 MiB with per-connection windows that
 * would let one connection hold 25 MiB: a first attacker holding 10 MiB
 * (past three quarters of the budget, more than its fair share) gets no
 * new streams; a second one pushes the total over the budget: the victim
 * closes the connection holding the most, then the other when it grows
 * past the budget in its turn. The charged total never exceeds the
 * budget by more than a read's worth, the honest peer is served
 * throughout, and the budget's metrics say what happened. */
START_TEST(host_memory_budget)
{
    struct fx f;
    fx_setup(&f, "max_buffered_bytes = 12MiB\n", NULL, "max_session_window = 64MiB\n");
    static struct sinks k;
    memset(&k, 0, sizeof k);
    ck_assert_int_eq(p2p_protocol_add(f.v, SINK_PROTOCOL, on_sink, &k), 0);
    ihost_run_for(&f.loop, 300);
    size_t rss0 = rss_bytes();
    struct p2p_mem_stats st;
    static struct atk a[2];
    p2p_peerid id[2];

    struct sink_result r = sink_attack(&f, &a[0], &id[0], 40);
    p2p_host_mem_stats(f.v, &st);
    printf("    attacker 1: %zu streams admitted, %.1f MiB sent; victim holds %.1f MiB of a %.0f MiB budget\n",
           r.admitted, r.sent_mib, (double)st.used / MIB, (double)st.budget / MIB);
    ck_assert_uint_eq(r.admitted, 40);
    ck_assert_uint_ge(st.used, 9 * MIB + MIB / 2);
    ck_assert_uint_le(st.used, st.budget);
    p2p_conn *c0 = fx_conn_of(&f, &id[0]);
    ck_assert_uint_ge(p2p_conn_buffered_bytes(c0), 9 * MIB + MIB / 2);

    /* Under pressure: more streams from the connection holding the most are refused. */
    size_t rsts0 = a[0].rsts;
    for (int i = 40; i < 48; i++) {
        struct astream *s = ast_add(&a[0], (uint32_t)(2 * i + 1));
        ay_frame(&a[0], YAMUX_TYPE_DATA, YAMUX_FLAG_SYN, s->id, sizeof MSS_SINK_LAZY - 1, MSS_SINK_LAZY,
                 sizeof MSS_SINK_LAZY - 1);
    }
    atk_flush(&a[0]);
    atk_update(&a[0]);
    size_t want = rsts0 + 8;
    uint64_t t0 = now_ms();
    while (a[0].rsts < want && now_ms() - t0 < 5000) ihost_run_for(&f.loop, 20);
    ck_assert_uint_eq(a[0].rsts, want);
    p2p_host_mem_stats(f.v, &st);
    ck_assert_uint_eq(st.streams_refused, 8);
    ck_assert_uint_eq(k.held, 40);

    /* Over budget: the worst connection is closed, then the other. */
    uint64_t t1 = now_ms();
    r = sink_attack_ex(&f, &a[1], &id[1], 100, true);
    printf("    attacker 2: %zu streams admitted, %.1f MiB sent\n", r.admitted, r.sent_mib);
    ck_assert(a[1].closed);
    expect_conn_closed(&f, &a[0], &id[0], t1, 5000, P2P_ELIMIT);
    expect_conn_closed(&f, &a[1], &id[1], t1, 5000, P2P_ELIMIT);
    ck_log("membudget", "over max_buffered_bytes", "closing the connection holding the most");
    ihost_run_for(&f.loop, 200);
    p2p_host_mem_stats(f.v, &st);
    size_t rss1 = rss_bytes();
    printf("    peak %.2f MiB held (budget %.0f MiB), %llu connections closed, now %.2f MiB; RSS %+.1f MiB "
           "(bound: budget + 12 MiB)\n", (double)st.peak / MIB, (double)st.budget / MIB,
           (unsigned long long)st.conns_closed, (double)st.used / MIB, ((double)rss1 - (double)rss0) / MIB);
    ck_assert_uint_eq(st.conns_closed, 2);
    /* Over the budget by at most what arrives before the closed
     * connection's buffers are freed, from the loop: libuv reads up to
     * 2 MiB from a socket per loop turn. */
    ck_assert_uint_le(st.peak, st.budget + 3 * MIB);
    ck_assert_uint_lt(st.used, 256 * KIB);
    ck_assert_uint_eq(k.held, 0);
    if (!P2P_TEST_SANITIZED) ck_assert_uint_lt(rss1, rss0 + 24 * MIB);
    /* The metrics tell the same. */
    p2p_metric *m = p2p_metric_find(f.v, "p2p_memory_budget_actions_total");
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(p2p_counter_value(p2p_metric_get(m, (const char *const[]){ "close_connection" })), 2);
    ck_assert_uint_eq(p2p_counter_value(p2p_metric_get(m, (const char *const[]){ "refuse_stream" })), 8);
    ck_assert_int_eq(p2p_gauge_value(p2p_metric_get(p2p_metric_find(f.v, "p2p_buffered_bytes_limit"), NULL)),
                     12 * MIB);
    for (int c = 0; c < 2; c++) atk_free(&a[c], false);
    fx_teardown(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("hostile");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, garbage_instead_of_multistream);
    tcase_add_test(tc, handshake_stall);
    tcase_add_test(tc, per_ip_limit);
    tcase_add_test(tc, noise_stall);
    tcase_add_test(tc, wrong_peer_id_when_dialing);
    tcase_add_test(tc, bad_noise_frames);
    tcase_add_test(tc, noise_frames_in_place);
    tcase_add_test(tc, noise_partial_frames_in_kernel);
    tcase_add_test(tc, yamux_window_violation);
    tcase_add_test(tc, too_many_streams);
    tcase_add_test(tc, never_reads);
    tcase_add_test(tc, ping_flood_never_reads);
    tcase_add_test(tc, yamux_bad_frames);
    tcase_add_test(tc, negotiation_cap);
    tcase_add_test(tc, memory_budget);
    tcase_add_test(tc, memory_budget_control);
    tcase_add_test(tc, host_memory_budget);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGPIPE, SIG_IGN);   /* as p2pchat does (see transport-tcp) */
    return p2p_test_run(suite());
}
