/* plugin.c - the noise plugin: binds the I/O-free handshake (noise_hs) and
 * transport framing (noise_transport) to p2p_streams. A secured stream is
 * a p2p_stream stacked on the raw one:
 *
 *   owner <-> [secured stream: encrypt / decrypt frames] <-> raw stream
 *
 * Inbound: raw bytes gather in `in` until a whole frame is there, which is
 * decrypted in place and delivered (the plaintext points into `in`: Yamux
 * parses it there, no copy). Once a connection carries large frames, the
 * transport reads straight into `in` (p2p_stream_set_read_alloc), each
 * read sized to end at a frame's end (noise_transport_read_want), so bulk
 * data is never copied between the socket and the AEAD. Over a transport
 * that supports a read low-water mark (ABI 1.7, transport-tcp) such a
 * connection reads a frame's 2-byte length alone and leaves the rest in
 * the kernel until the whole frame can be read (p2p_stream_read_lowat):
 * `in` then needs a frame's memory only from that read until the frame is
 * decrypted and delivered, and gives it back to a small per-host cache
 * of frame buffers, so a relay whose 256 senders each have a frame under
 * way does not hold 256 partial frames (16 MiB).
 * Outbound: plaintext is encrypted straight from the caller's bytes into
 * the transport's output memory (p2p_stream_write_reserve: the frames go
 * to the socket from where they were encrypted), or, below a stream
 * without write buffers (a relayed circuit), into `out` and written. The
 * secured stream takes gather writes (p2p_stream_writev): Yamux hands a
 * data frame down as its header and the application's bytes, and both
 * are encrypted where they are.
 * Back-pressure passes through: stopping the secured stream stops the raw
 * one; write_queued and drain are the raw stream's. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "noise_aead.h"
#include "noise_hs.h"
#include "noise_transport.h"
#include "p2p/p2p.h"

#define MOD "noise"
/* Plaintext encrypted per write below: 4 maximal frames, 256 KiB on the
 * wire, a quarter of a transport output block (transport-tcp). */
#define WRITE_CHUNK (4 * NOISE_PLAINTEXT_MAX)
/* A frame at least this large makes the connection "bulk": it is read in
 * place, and with the low-water mark its rest waits in the kernel. */
#define BULK_FRAME (16 * 1024)
/* An empty `in` larger than this is given back (to the cache when it is
 * a frame buffer); smaller ones are kept, as small traffic needs them. */
#define IN_KEEP 4096
/* Frame buffers (NOISE_FRAME_MAX bytes) kept per host for the next frame. */
#define SPARE_FRAMES 2

struct noise_plugin {
    p2p_host *host;
    uint64_t handshake_timeout;
    struct session *sessions;          /* handshakes in progress */
    /* The host's static X25519 key and its signed handshake payload, made
     * once at init: as rust-libp2p and go-libp2p do, every handshake of
     * the host proves the same static key (forward secrecy comes from
     * the ephemeral keys), which saves a key generation and an Ed25519
     * signature per connection. */
    uint8_t static_key[NOISE_DHLEN];
    uint8_t static_pub[NOISE_DHLEN];
    uint8_t *payload;
    size_t payload_len;
    noise_aead *aead;                  /* every session's frames (host thread only) */
    uint8_t *spare[SPARE_FRAMES];      /* free frame buffers (NOISE_FRAME_MAX bytes) */
    unsigned nspare;
};

/* One connection's Noise layer, from handshake to close. */
struct session {
    struct noise_plugin *np;
    struct session *next, *prev;       /* in np->sessions */
    p2p_stream *raw;                   /* owned */
    p2p_stream *secured;               /* NULL until the handshake is done */
    noise_hs *hs;
    noise_transport tr;
    p2p_buf in, out;
    p2p_timer *timer;
    p2p_secure_cb cb;
    void *arg;
    struct p2p_defer report;
    struct p2p_defer pump;             /* deliver buffered frames from the loop */
    int status;                        /* handshake result for report */
    size_t charged;                    /* in.len charged to raw (the host's memory count) */
    size_t lowat;                      /* the low-water mark last asked of raw */
    bool secured_reading;
    bool bulk;                         /* the last frame seen was >= BULK_FRAME */
    bool lowat_ok;                     /* raw supports the low-water mark */
};

static void s_link(struct session *s)
{
    struct noise_plugin *np = s->np;
    s->next = np->sessions;
    if (s->next) s->next->prev = s;
    np->sessions = s;
}

static void s_unlink(struct session *s)
{
    if (s->prev) s->prev->next = s->next;
    else if (s->np->sessions == s) s->np->sessions = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

static void s_free(struct session *s)
{
    s_unlink(s);
    p2p_defer_cancel(s->np->host, &s->report);
    p2p_defer_cancel(s->np->host, &s->pump);
    if (s->timer) p2p_timer_free(s->timer);
    if (s->raw) p2p_stream_close(s->raw);
    noise_hs_free(s->hs);
    noise_transport_wipe(&s->tr);
    p2p_buf_free(&s->in);
    p2p_buf_free(&s->out);
    free(s);
}

/* ---- the secured stream (provider side) ------------------------------ */

/* Gather write (p2p_stream_writev): the pieces are encrypted where they
 * are, a Yamux frame's header and the application's bytes alike, in
 * chunks of up to 4 frames straight into the transport's output memory
 * (p2p_stream_write_reserve: the frames go to the socket from where they
 * were encrypted), or, below a stream without write buffers (a relayed
 * circuit), into `out`, which is then written. Frames are maximal and
 * may span pieces. */
static int sec_writev(void *impl, const struct p2p_iovec *iov, size_t n)
{
    struct session *s = impl;
    struct noise_gather g = { iov, n, 0, 0 };
    size_t len = 0;
    for (size_t i = 0; i < n; i++) len += iov[i].len;   /* no overflow: checked by the core */
    while (len) {
        size_t chunk = len > WRITE_CHUNK ? WRITE_CHUNK : len;
        size_t wire = noise_transport_wire_size(chunk);
        uint8_t *dst = p2p_stream_write_reserve(s->raw, wire);
        int rc;
        if (dst) {
            rc = noise_transport_encrypt_gather(&s->tr, &g, chunk, dst);
            if (rc == 0) rc = p2p_stream_write_commit(s->raw, wire);
        } else {
            /* No write buffers below (or refused: the write then reports
             * why): encrypt into `out`, bounded by the chunk size. */
            p2p_buf_reset(&s->out);
            rc = p2p_buf_reserve(&s->out, wire);
            if (rc == 0) rc = noise_transport_encrypt_gather(&s->tr, &g, chunk, p2p_buf_tail(&s->out));
            if (rc == 0) rc = p2p_stream_write(s->raw, p2p_buf_tail(&s->out), wire);
        }
        if (rc < 0) return rc;
        len -= chunk;
    }
    /* The scratch buffer shrinks back after the write: kept at its peak
     * (up to 1 MiB) it cost every busy connection that much for good (a
     * relay with 256 busy circuits: ~50 MiB). */
    p2p_buf_reset(&s->out);
    p2p_buf_trim(&s->out, 64 * 1024);
    return 0;
}

static int sec_write(void *impl, const uint8_t *data, size_t len)
{
    struct p2p_iovec one = { data, len };
    return sec_writev(impl, &one, 1);
}

static void sec_read_start(void *impl)
{
    struct session *s = impl;
    s->secured_reading = true;
    /* Frames may be waiting in `in`: deliver them from the loop first. */
    if (s->in.len) p2p_defer_schedule(s->np->host, &s->pump);
    else p2p_stream_read_start(s->raw);
}

static void sec_read_stop(void *impl)
{
    struct session *s = impl;
    s->secured_reading = false;
    p2p_defer_cancel(s->np->host, &s->pump);
    p2p_stream_read_stop(s->raw);
}

static int sec_shutdown(void *impl)
{
    return p2p_stream_shutdown(((struct session *)impl)->raw);
}

static void sec_reset(void *impl)
{
    p2p_stream_reset(((struct session *)impl)->raw);
}

static size_t sec_write_queued(void *impl)
{
    return p2p_stream_write_queued(((struct session *)impl)->raw);
}

static void sec_close(void *impl)
{
    s_free(impl);
}

static const struct p2p_stream_ops secured_ops = {
    .write = sec_write,
    .read_start = sec_read_start,
    .read_stop = sec_read_stop,
    .shutdown = sec_shutdown,
    .reset = sec_reset,
    .write_queued = sec_write_queued,
    .close = sec_close,
};

/* ---- `in`: frame buffers ------------------------------------------------- */

/* Room for n more bytes in `in`. A frame that needs more than IN_KEEP
 * gets a whole frame buffer, from the host's cache when one is free:
 * one allocation of NOISE_FRAME_MAX instead of doubling up to 128 KiB. */
static int in_reserve(struct session *s, size_t n)
{
    p2p_buf *in = &s->in;
    if (in->off + in->len + n <= in->cap) return 0;
    if (in->len + n <= IN_KEEP || in->len + n > NOISE_FRAME_MAX || in->cap >= NOISE_FRAME_MAX)
        return p2p_buf_reserve(in, n);
    struct noise_plugin *np = s->np;
    uint8_t *d = np->nspare ? np->spare[--np->nspare] : malloc(NOISE_FRAME_MAX);
    if (!d) return P2P_ENOMEM;
    if (in->len) memcpy(d, p2p_buf_head(in), in->len);
    free(in->data);
    in->data = d;
    in->off = 0;
    in->cap = NOISE_FRAME_MAX;
    return 0;
}

/* After frames were delivered: give back an empty `in`'s frame buffer,
 * ask raw to hold the rest of a large frame under way below (low-water
 * mark), and keep the host's memory count of what `in` holds. */
static void in_settle(struct session *s)
{
    p2p_buf *in = &s->in;
    size_t fsz, lowat = 0;
    if (noise_transport_peek(p2p_buf_head(in), in->len, &fsz) == 0) {
        s->bulk = fsz >= BULK_FRAME;
        if (s->lowat_ok && s->bulk && fsz > in->len) lowat = fsz - in->len;
    }
    if (lowat != s->lowat) {
        s->lowat = lowat;
        p2p_stream_read_lowat(s->raw, lowat);
    }
    if (!in->len && in->cap > IN_KEEP) {
        struct noise_plugin *np = s->np;
        if (in->cap == NOISE_FRAME_MAX && np->nspare < SPARE_FRAMES) {
            np->spare[np->nspare++] = in->data;
            in->data = NULL;
            in->cap = in->off = 0;
        } else {
            p2p_buf_trim(in, 0);
        }
    }
    if (in->len != s->charged) {
        p2p_stream_charge(s->raw, (int64_t)in->len - (int64_t)s->charged);
        s->charged = in->len;
    }
}

/* Decrypt and deliver every complete frame in `in`. Returns false when
 * the secured stream was closed meanwhile (s is gone). */
static bool pump_frames(struct session *s)
{
    while (s->in.len && s->secured_reading) {
        size_t used;
        uint8_t *pt;
        size_t ptlen;
        int rc = noise_transport_open(&s->tr, p2p_buf_head(&s->in), s->in.len, &used, &pt, &ptlen);
        if (rc == P2P_ETRUNC) break;
        if (rc < 0) {
            p2p_log_debug(MOD, "transport frame rejected: %s", p2p_strerror(rc));
            p2p_stream_read_stop(s->raw);
            return p2p_stream_deliver_error(s->secured, rc);
        }
        /* Consume before delivering: the owner may re-enter (read_stop,
         * write) but `in` is not touched by those paths. */
        bool alive = p2p_stream_deliver_data(s->secured, pt, ptlen);
        if (!alive) return false;
        p2p_buf_consume(&s->in, used);
    }
    return true;
}

static void pump_deferred(void *arg)
{
    struct session *s = arg;
    if (!pump_frames(s)) return;
    in_settle(s);
    if (s->secured_reading) p2p_stream_read_start(s->raw);
}

/* ---- raw stream events after the handshake --------------------------- */

/* The transport asks where to read: into `in`, up to the end of the frame
 * under way, once the connection carries large frames; between frames,
 * with the low-water mark, the length alone (in_settle then leaves the
 * body in the kernel until it is whole). Small traffic uses the
 * transport's shared buffer, appended to `in`, so an idle connection
 * keeps a small `in`. */
static uint8_t *raw_alloc(p2p_stream *raw, size_t *len, void *arg)
{
    struct session *s = arg;
    (void)raw;
    if (!s->bulk) return NULL;
    size_t want = s->lowat_ok && s->in.len < NOISE_FRAME_HDR
                      ? NOISE_FRAME_HDR - s->in.len
                      : noise_transport_read_want(p2p_buf_head(&s->in), s->in.len);
    if (!want || in_reserve(s, want) != 0) return NULL;
    if (want < *len) *len = want;
    return p2p_buf_tail(&s->in);
}

static void raw_read(p2p_stream *raw, const uint8_t *data, size_t len, void *arg)
{
    struct session *s = arg;
    (void)raw;
    if (s->in.data && data == p2p_buf_tail(&s->in) && len <= s->in.cap - s->in.off - s->in.len) {
        p2p_buf_commit(&s->in, len);   /* read in place (raw_alloc) */
    } else if (in_reserve(s, len) != 0 || p2p_buf_append(&s->in, data, len) != 0) {
        p2p_stream_deliver_error(s->secured, P2P_ELIMIT);
        return;
    }
    if (!pump_frames(s)) return;
    in_settle(s);
    /* A stopped owner: keep what we have (bounded by `in`'s limit) and
     * stop reading below until it starts again. */
    if (!s->secured_reading) p2p_stream_read_stop(s->raw);
}

static void raw_eof(p2p_stream *raw, void *arg)
{
    struct session *s = arg;
    (void)raw;
    if (s->in.len) {
        p2p_stream_deliver_error(s->secured, P2P_EPROTO);   /* truncated frame */
        return;
    }
    p2p_stream_deliver_eof(s->secured);
}

static void raw_error(p2p_stream *raw, int err, void *arg)
{
    (void)raw;
    p2p_stream_deliver_error(((struct session *)arg)->secured, err);
}

static void raw_drain(p2p_stream *raw, void *arg)
{
    (void)raw;
    p2p_stream_deliver_drain(((struct session *)arg)->secured);
}

static const struct p2p_stream_handlers transport_handlers = { raw_read, raw_eof, raw_error, raw_drain };

/* ---- the handshake ------------------------------------------------------ */

/* Release a session whether or not its secured stream exists yet. */
static void s_discard(struct session *s)
{
    if (s->secured) p2p_stream_close(s->secured);   /* frees s via sec_close */
    else s_free(s);
}

static void report(void *arg)
{
    struct session *s = arg;
    p2p_secure_cb cb = s->cb;
    void *cbarg = s->arg;
    if (s->status < 0) {
        int status = s->status;
        s_discard(s);
        cb(status, NULL, NULL, NULL, cbarg);
        return;
    }
    p2p_pubkey key = *noise_hs_remote_key(s->hs);
    p2p_peerid id = *noise_hs_remote_peer(s->hs);
    noise_hs_free(s->hs);
    s->hs = NULL;
    s_unlink(s);   /* from now on the secured stream's owner controls it */
    p2p_stream_set_handlers(s->raw, &transport_handlers, s);
    p2p_stream_set_read_alloc(s->raw, raw_alloc);
    s->lowat_ok = p2p_stream_read_lowat(s->raw, 0) == 0;
    in_settle(s);   /* transport frames that came with the handshake */
    cb(0, s->secured, &key, &id, cbarg);
}

static void conclude(struct session *s, int status)
{
    if (s->timer) {
        p2p_timer_free(s->timer);
        s->timer = NULL;
    }
    p2p_stream_read_stop(s->raw);
    if (status == 0) {
        int rc = noise_hs_split(s->hs, &s->tr);
        if (rc == 0) {
            noise_transport_set_aead(&s->tr, s->np->aead);
            s->secured = p2p_stream_new(s->np->host, &secured_ops, s);
            if (!s->secured) {
                rc = P2P_ENOMEM;
            } else {
                p2p_stream_share_addrs(s->secured, s->raw);
                p2p_stream_set_writev(s->secured, sec_writev);
            }
        }
        status = rc;
    }
    s->status = status;
    p2p_defer_schedule(s->np->host, &s->report);
}

static int hs_send(struct session *s)
{
    p2p_buf_reset(&s->out);
    int rc = noise_hs_write(s->hs, &s->out);
    if (rc == 0) rc = p2p_stream_write(s->raw, p2p_buf_head(&s->out), s->out.len);
    p2p_buf_reset(&s->out);
    return rc;
}

/* Drive the handshake with whatever is buffered. */
static void hs_step(struct session *s)
{
    for (;;) {
        if (noise_hs_done(s->hs)) return conclude(s, 0);
        if (noise_hs_wants_write(s->hs)) {
            int rc = hs_send(s);
            if (rc < 0) return conclude(s, rc);
            continue;
        }
        size_t used = 0;
        int rc = noise_hs_read(s->hs, p2p_buf_head(&s->in), s->in.len, &used);
        if (rc == P2P_ETRUNC) return;
        p2p_buf_consume(&s->in, used);
        if (rc < 0) {
            p2p_log_debug(MOD, "handshake failed: %s", p2p_strerror(rc));
            return conclude(s, rc);
        }
    }
}

static void hs_read(p2p_stream *raw, const uint8_t *data, size_t len, void *arg)
{
    struct session *s = arg;
    (void)raw;
    if (s->report.scheduled_) {
        /* Concluded; bytes past the handshake are transport frames. */
        if (p2p_buf_append(&s->in, data, len) != 0) s->status = P2P_ELIMIT;
        return;
    }
    if (p2p_buf_append(&s->in, data, len) != 0) return conclude(s, P2P_EPROTO);
    hs_step(s);
}

static void hs_eof(p2p_stream *raw, void *arg)
{
    (void)raw;
    struct session *s = arg;
    if (!s->report.scheduled_) conclude(s, P2P_ECLOSED);
}

static void hs_error(p2p_stream *raw, int err, void *arg)
{
    (void)raw;
    struct session *s = arg;
    if (!s->report.scheduled_) conclude(s, err);
    /* Failed between a successful handshake and its report: report the
     * failure, the secured stream's owner would never hear of it. */
    else if (s->status == 0) s->status = err;
}

static const struct p2p_stream_handlers hs_handlers = { hs_read, hs_eof, hs_error, NULL };

static void on_timeout(p2p_timer *t, void *arg)
{
    (void)t;
    conclude(arg, P2P_ETIMEDOUT);
}

static int noise_secure(void *state, p2p_stream *raw, bool initiator, const p2p_peerid *expected,
                        p2p_secure_cb cb, void *arg, void **op)
{
    struct noise_plugin *np = state;
    struct session *s = calloc(1, sizeof *s);
    if (!s) {
        p2p_stream_close(raw);
        return P2P_ENOMEM;
    }
    s->np = np;
    s->raw = raw;
    s->cb = cb;
    s->arg = arg;
    /* A frame is at most 2 + 65535 bytes; allow a few in flight. */
    p2p_buf_init(&s->in, 8 * NOISE_FRAME_MAX);
    p2p_buf_init(&s->out, 0);
    p2p_defer_init(&s->report, report, s);
    p2p_defer_init(&s->pump, pump_deferred, s);
    s_link(s);
    struct noise_hs_config cfg = {
        .role = initiator ? NOISE_INITIATOR : NOISE_RESPONDER,
        .identity = p2p_host_keypair(np->host),
        .static_key = np->static_key,
        .static_pub = np->static_pub,
        .payload = np->payload,
        .payload_len = np->payload_len,
        .expected_peer = expected,
    };
    int rc = noise_hs_new(&s->hs, &cfg);
    if (rc == 0 && np->handshake_timeout) {
        s->timer = p2p_timer_new(np->host, on_timeout, s);
        if (!s->timer) rc = P2P_ENOMEM;
        else p2p_timer_start(s->timer, np->handshake_timeout, 0);
    }
    if (rc < 0) {
        s_free(s);
        return rc;
    }
    *op = s;
    p2p_stream_set_handlers(raw, &hs_handlers, s);
    p2p_stream_read_start(raw);
    hs_step(s);   /* the initiator writes message 1 now */
    return 0;
}

static void noise_abort(void *state, void *op)
{
    (void)state;
    s_discard(op);
}

static const struct p2p_security_ops noise_ops = {
    .protocol_id = NOISE_PROTOCOL_ID,
    .secure = noise_secure,
    .abort = noise_abort,
};

/* ---- plugin ------------------------------------------------------------ */

static void np_fini(void *state);

static int np_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct noise_plugin *np = calloc(1, sizeof *np);
    if (!np) return P2P_ENOMEM;
    np->host = h;
    np->handshake_timeout = p2p_conf_duration_ms(cf, "handshake_timeout");
    if (sodium_init() < 0) {
        free(np);
        return P2P_ECRYPTO;
    }
    np->aead = noise_aead_new();   /* NULL (libsodium only) is slower, not wrong */
    randombytes_buf(np->static_key, sizeof np->static_key);
    noise_dh_public(np->static_pub, np->static_key);
    int rc = noise_hs_payload_encode(p2p_host_keypair(h), np->static_pub, NULL, 0, &np->payload, &np->payload_len);
    if (rc == 0) rc = p2p_security_add(h, &noise_ops, np);
    if (rc < 0) {
        p2p_host_set_error(h, "cannot register the /noise security protocol: %s", p2p_strerror(rc));
        np_fini(np);
        return rc;
    }
    *state = np;
    return 0;
}

static void np_stop(void *state)
{
    /* Handshakes still running belong to upgrades the swarm has aborted;
     * anything left is freed here. */
    struct noise_plugin *np = state;
    while (np->sessions) s_discard(np->sessions);
}

static void np_fini(void *state)
{
    struct noise_plugin *np = state;
    free(np->payload);
    noise_aead_free(np->aead);
    while (np->nspare) free(np->spare[--np->nspare]);
    sodium_memzero(np->static_key, sizeof np->static_key);
    free(np);
}

static const struct p2p_conf_key np_keys[] = {
    { "handshake_timeout", P2P_CONF_DURATION, "10s", 0, 3600000, NULL,
      "time allowed for the Noise handshake (0 = only the host's upgrade_timeout)" },
    P2P_CONF_KEYS_END
};

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "noise",
    .version = "1.0.0",
    .description = "Noise_XX_25519_ChaChaPoly_SHA256 secure channel (/noise)",
    .requires = NULL,
    .config = np_keys,
    .init = np_init,
    .stop = np_stop,
    .fini = np_fini,
});
