/* upper.c - an example stream protocol plugin, built out of tree against
 * the installed SDK only (see docs/PLUGINS.md, which walks through it).
 *
 * Protocol /example/upper/1.0.0, one request per stream:
 *   dialer:   unsigned varint N, then N bytes of UTF-8 text (N <= max_message), then half-close
 *   listener: the same text with ASCII letters in upper case, framed the same way, then close
 *
 * As a listener it serves every peer. As a dialer, at start it asks each
 * peer of `ask` (multiaddrs ending in /p2p/<PeerId>) to shout `text` and
 * logs the answer:
 *
 *   INFO  upper: 12D3KooW... answered "HELLO FROM C" in 1.3 ms
 *
 * Everything a remote sends is bounded (max_message, timeout), and a
 * malformed request resets the stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p2p/p2p.h>

#define PROTOCOL "/example/upper/1.0.0"
#define MAX_ASK 16

struct upper;

/* One exchange, on either side. */
struct call {
    struct upper *u;
    p2p_stream *s;
    p2p_buf in;                 /* bytes read so far, bounded */
    p2p_timer *timer;           /* the whole exchange must fit in `timeout` */
    bool dialer, answered;
    bool waiting;               /* dialer: p2p_host_new_stream's callback is still to come */
    bool abandoned;             /* ... and nobody wants its result any more */
    char peer[P2P_PEERID_STRMAX];
    uint64_t started_ms;
    struct call *prev, *next;
};

struct upper {
    p2p_host *host;
    size_t max_message;
    uint64_t timeout_ms;
    const char *text;           /* owned by the config: valid for the host's life */
    size_t nask;
    p2p_peerid ask[MAX_ASK];
    struct call calls;          /* list head: exchanges in progress */
    bool stopped;
    /* metrics (p2p/metrics.h): requests served, by result */
    p2p_metric_series *served_ok, *served_bad;
};

/* ---- framing: varint length + bytes ---------------------------------------------- */

/* A complete frame at the start of b: 0 with its text, P2P_ETRUNC when
 * more is needed, P2P_ERANGE / P2P_EPROTO when it can never be valid. */
static int frame_parse(const p2p_buf *b, size_t max, const uint8_t **text, size_t *len)
{
    uint64_t n;
    size_t used;
    int rc = p2p_varint_decode(p2p_buf_head(b), b->len, &n, &used);
    if (rc < 0) return rc;
    if (n > max) return P2P_ERANGE;
    if (b->len - used < n) return P2P_ETRUNC;
    *text = p2p_buf_head(b) + used;
    *len = (size_t)n;
    return 0;
}

static int frame_write(p2p_stream *s, const uint8_t *text, size_t len)
{
    uint8_t hdr[P2P_VARINT_MAX_BYTES];
    int n = p2p_varint_encode(len, hdr);
    int rc = n < 0 ? n : p2p_stream_write(s, hdr, (size_t)n);
    return rc < 0 ? rc : p2p_stream_write(s, text, len);
}

/* ---- calls -------------------------------------------------------------------------- */

static void call_free(struct call *c)
{
    if (c->waiting) {
        /* The open callback will come (exactly once): it frees. */
        c->abandoned = true;
        p2p_timer_stop(c->timer);
        return;
    }
    c->prev->next = c->next;
    c->next->prev = c->prev;
    if (c->s) p2p_stream_close(c->s);   /* resets it unless we half-closed and flushed */
    p2p_timer_free(c->timer);
    p2p_buf_free(&c->in);
    free(c);
}

static void on_call_timeout(p2p_timer *t, void *arg)
{
    (void)t;
    struct call *c = arg;
    p2p_log_info("upper", "%s: no %s within the timeout", c->peer, c->dialer ? "answer" : "request");
    call_free(c);
}

static struct call *call_new(struct upper *u, p2p_stream *s, bool dialer, const p2p_peerid *peer)
{
    struct call *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->timer = p2p_timer_new(u->host, on_call_timeout, c);
    if (!c->timer) {
        free(c);
        return NULL;
    }
    c->u = u;
    c->s = s;
    c->dialer = dialer;
    c->started_ms = p2p_host_now_ms(u->host);
    p2p_peerid_to_string(peer, c->peer, sizeof c->peer);
    /* A frame is at most a 9-byte length and max_message bytes. */
    p2p_buf_init(&c->in, u->max_message + P2P_VARINT_MAX_BYTES);
    c->next = u->calls.next;
    c->prev = &u->calls;
    u->calls.next->prev = c;
    u->calls.next = c;
    p2p_timer_start(c->timer, u->timeout_ms, 0);
    return c;
}

/* ---- the listener --------------------------------------------------------------------- */

static void srv_drain(p2p_stream *s, void *arg)
{
    (void)s;
    struct call *c = arg;
    if (c->answered && p2p_stream_write_queued(c->s) == 0) call_free(c);   /* flushed: a graceful close */
}

static void srv_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct call *c = arg;
    if (c->answered) return;                 /* anything after the request is ignored */
    const uint8_t *text;
    size_t n;
    int rc = p2p_buf_append(&c->in, data, len);
    if (rc == 0) rc = frame_parse(&c->in, c->u->max_message, &text, &n);
    if (rc == P2P_ETRUNC) return;            /* wait for more */
    if (rc < 0) {
        p2p_log_debug("upper", "%s: bad request (%s): resetting", c->peer, p2p_strerror(rc));
        p2p_counter_add(c->u->served_bad, 1);
        p2p_stream_reset(s);
        return call_free(c);
    }
    char *up = malloc(n ? n : 1);
    if (!up) return call_free(c);
    for (size_t i = 0; i < n; i++) up[i] = text[i] >= 'a' && text[i] <= 'z' ? (char)(text[i] - 32) : (char)text[i];
    rc = frame_write(s, (const uint8_t *)up, n);
    free(up);
    if (rc == 0) rc = p2p_stream_shutdown(s);
    if (rc < 0) return call_free(c);
    c->answered = true;
    p2p_counter_add(c->u->served_ok, 1);
    p2p_stream_read_stop(s);
    srv_drain(s, c);                         /* closes now if nothing is queued */
}

static void call_eof(p2p_stream *s, void *arg)
{
    (void)s;
    struct call *c = arg;
    if (!c->answered) {
        p2p_log_debug("upper", "%s: the stream ended before a whole message", c->peer);
        call_free(c);
    }
}

static void call_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    struct call *c = arg;
    p2p_log_debug("upper", "%s: stream error: %s", c->peer, p2p_strerror(err));
    call_free(c);
}

static const struct p2p_stream_handlers srv_handlers = { srv_read, call_eof, call_error, srv_drain };

/* The protocol handler: the stream is ours from now on. */
static void on_stream(p2p_stream *s, const char *protocol, void *arg)
{
    (void)protocol;
    struct upper *u = arg;
    p2p_conn *conn = p2p_stream_conn(s);
    struct call *c = u->stopped || !conn ? NULL : call_new(u, s, false, p2p_conn_peer(conn));
    if (!c) {
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    p2p_stream_set_handlers(s, &srv_handlers, c);
    p2p_stream_read_start(s);
}

/* ---- the dialer ------------------------------------------------------------------------- */

static void cli_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    struct call *c = arg;
    const uint8_t *text;
    size_t n;
    int rc = p2p_buf_append(&c->in, data, len);
    if (rc == 0) rc = frame_parse(&c->in, c->u->max_message, &text, &n);
    if (rc == P2P_ETRUNC) return;
    if (rc < 0) {
        p2p_log_info("upper", "%s: bad answer: %s", c->peer, p2p_strerror(rc));
    } else {
        uint64_t ms10 = (p2p_host_now_ms(c->u->host) - c->started_ms) * 10;
        p2p_log_info("upper", "%s answered \"%.*s\" in %llu.%llu ms", c->peer, (int)n, (const char *)text,
                     (unsigned long long)(ms10 / 10), (unsigned long long)(ms10 % 10));
    }
    call_free(c);
}

static const struct p2p_stream_handlers cli_handlers = { cli_read, call_eof, call_error, NULL };

/* p2p_host_new_stream's callback: runs exactly once, also when the host
 * stops first (P2P_ECANCELED). */
static void on_opened(int status, p2p_stream *s, void *arg)
{
    struct call *c = arg;
    c->waiting = false;
    c->s = s;
    if (c->abandoned) return call_free(c);   /* timed out or stopping: close s, if any */
    if (status < 0) {
        if (status != P2P_ECANCELED) p2p_log_info("upper", "%s: cannot ask: %s", c->peer, p2p_strerror(status));
        return call_free(c);
    }
    p2p_stream_set_handlers(s, &cli_handlers, c);
    int rc = frame_write(s, (const uint8_t *)c->u->text, strlen(c->u->text));
    if (rc == 0) rc = p2p_stream_shutdown(s);
    if (rc < 0) return call_free(c);
    p2p_stream_read_start(s);
}

static void ask_all(struct upper *u)
{
    static const char *const protos[] = { PROTOCOL, NULL };
    for (size_t i = 0; i < u->nask; i++) {
        struct call *c = call_new(u, NULL, true, &u->ask[i]);
        if (!c) continue;
        c->waiting = p2p_host_new_stream(u->host, &u->ask[i], protos, on_opened, c) == 0;
        if (!c->waiting) call_free(c);
    }
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static int upper_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct upper *u = calloc(1, sizeof *u);
    if (!u) return P2P_ENOMEM;
    u->host = h;
    u->calls.next = u->calls.prev = &u->calls;
    u->max_message = (size_t)p2p_conf_size(cf, "max_message");
    u->timeout_ms = p2p_conf_duration_ms(cf, "timeout");
    u->text = p2p_conf_str(cf, "text");
    if (strlen(u->text) > u->max_message) {
        p2p_host_set_error(h, "text is longer than max_message (%zu bytes)", u->max_message);
        free(u);
        return P2P_ECONFIG;
    }
    /* The peers to ask: their /p2p/ part is the PeerId; the address goes
     * into the peer store, where the host's dialer finds it. */
    for (size_t i = 0; i < p2p_conf_list_len(cf, "ask"); i++) {
        p2p_multiaddr ma;
        struct p2p_maddr_component id;
        const char *text = p2p_conf_list_at(cf, "ask", i);
        if (u->nask == MAX_ASK || p2p_maddr_parse(&ma, text, NULL, 0) != 0 ||
            !p2p_maddr_find(&ma, P2P_MA_P2P, &id) ||
            p2p_peerid_from_bytes(&u->ask[u->nask], id.value, id.value_len) != 0) {
            p2p_host_set_error(h, "ask: '%s' is not a multiaddr with /p2p/<PeerId> (at most %d)", text, MAX_ASK);
            free(u);
            return P2P_ECONFIG;
        }
        p2p_peerstore_add_addrs(h, &u->ask[u->nask], &ma, 1, 0);
        u->nask++;
    }
    p2p_metric *served = p2p_metric_register(h, "p2p_upper_requests_total", P2P_METRIC_COUNTER,
                                             "Requests served by the upper example, by result.",
                                             (const char *const[]){ "result", NULL });
    u->served_ok = p2p_metric_get(served, (const char *const[]){ "ok" });
    u->served_bad = p2p_metric_get(served, (const char *const[]){ "malformed" });
    int rc = p2p_protocol_add(h, PROTOCOL, on_stream, u);
    if (rc < 0) {
        p2p_host_set_error(h, "cannot register %s: %s", PROTOCOL, p2p_strerror(rc));
        free(u);
        return rc;
    }
    *state = u;
    return 0;
}

static int upper_start(void *state)
{
    ask_all(state);   /* the host dials from the loop: nothing happens inside this call */
    return 0;
}

static void upper_stop(void *state)
{
    struct upper *u = state;
    u->stopped = true;
    struct call *c = u->calls.next;
    while (c != &u->calls) {
        struct call *next = c->next;
        call_free(c);   /* those still waiting for their stream go when it comes */
        c = next;
    }
}

static void upper_fini(void *state)
{
    struct upper *u = state;
    p2p_protocol_remove(u->host, PROTOCOL);
    /* The host has delivered every callback by now (p2p/conn.h). */
    while (u->calls.next != &u->calls) {
        u->calls.next->waiting = false;
        call_free(u->calls.next);
    }
    free(u);
}

static const struct p2p_conf_key keys[] = {
    { "ask", P2P_CONF_MADDR_LIST, "", 0, 0, NULL, "peers to ask at start (multiaddrs ending in /p2p/<PeerId>)" },
    { "text", P2P_CONF_STR, "hello", 0, 0, NULL, "what to ask them to shout" },
    { "max_message", P2P_CONF_SIZE, "4KiB", 1, 1048576, NULL, "longest message accepted or sent" },
    { "timeout", P2P_CONF_DURATION, "10s", 100, 600000, NULL, "time for one whole exchange" },
    P2P_CONF_KEYS_END
};

/* Streams need connections: a transport, security and a muxer. */
static const char *const requires[] = { "transport-tcp", "noise", "yamux", NULL };

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "upper",
    .version = "1.0.0",
    .description = "example stream protocol: /example/upper/1.0.0 answers text in upper case",
    .requires = requires,
    .config = keys,
    .init = upper_init,
    .start = upper_start,
    .stop = upper_stop,
    .fini = upper_fini,
});
