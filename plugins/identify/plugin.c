/* plugin.c - the identify plugin (/ipfs/id/1.0.0, /ipfs/id/push/1.0.0):
 * the glue binding identify_msg.c to connections, streams, the peer
 * store, events and timers. See p2p/identify.h for what it offers and
 * identify_msg.h for the message rules.
 *
 * Per connection (struct idconn, from P2P_EV_CONNECTED to
 * P2P_EV_DISCONNECTED): one outbound identify request, then
 * P2P_EV_IDENTIFIED; inbound requests and pushes (at most
 * max_inbound_streams at once); pushes of our changes.
 *
 * Every stream the plugin holds is a job (struct idjob) with a timer.
 * Jobs end gracefully (half-close once everything is written, then
 * release) or are aborted (reset). A job whose connection goes away while
 * its stream is still being opened is orphaned: the open callback, which
 * the core always calls, releases it.
 *
 * Signed peer records (RFC 0003, p2p/record.h). Sending: every identify
 * response and push carries our record, sealed with the host key over up
 * to P2P_PEER_RECORD_MAX_ADDRS of our advertised addresses (all of them,
 * not the per-connection selection of listenAddrs, as go-libp2p does;
 * no record while we have none, as js-libp2p).
 * The envelope is cached and sealed again, with a higher seq
 * (p2p_peer_record_seq_next), only when those addresses change. When it
 * does not fit in our 4 KiB message it travels in a second part, or is
 * left out (see id_msg_encode). Receiving: a record that verifies and is
 * the connection peer's replaces listenAddrs as the source of the peer's
 * addresses (filtered by the same scope rules); one that does not, or
 * whose seq is lower than the last one we used from that peer (kept in
 * the peer store attribute ID_ATTR_PEER_RECORD_SEQ), is ignored with a
 * debug log and listenAddrs are used. A bad record never fails identify.
 * The digest of the last record of a peer that verified is kept in the
 * peer store (ID_ATTR_PEER_RECORD_MEMO): the same envelope on the next
 * connection is not verified again (p2p_peer_record_open_memo).
 * The peer store has no notion of certified addresses: records only
 * choose which addresses are stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identify_msg.h"
#include "p2p/conn.h"
#include "p2p/identify.h"
#include "p2p/p2p.h"

#define MOD "identify"

struct ident;

struct idconn {
    struct ident *id;
    p2p_conn *conn;
    uint64_t conn_id;
    p2p_peerid peer;
    struct p2p_defer start;    /* the identify request, outside the CONNECTED emit */
    bool identified;
    bool pushing;              /* a push job is under way */
    unsigned inbound;          /* responder and push-receiving jobs */
    uint64_t sent_seq;         /* newest snapshot the peer got from us */
    p2p_multiaddr *addrs;      /* its filtered listen addresses, refreshed in the peer store */
    size_t naddrs;
    struct idconn *next, *prev;
};

enum job_kind { JOB_REQUEST, JOB_RESPOND, JOB_PUSH_OUT, JOB_PUSH_IN };
static const char *const kind_name[] = { "identify", "identify response", "push", "received push" };

struct idjob {
    struct ident *id;
    enum job_kind kind;
    struct idconn *ic;         /* NULL: no (longer a) connection record */
    bool opening;              /* waiting for the open callback */
    bool closing;              /* half-closed, waiting for the queue to drain */
    p2p_stream *s;
    p2p_timer *timer;
    struct id_info info;
    struct id_reader rd;
    struct idjob *next, *prev;
};

struct ident {
    p2p_host *host;
    const char *protocol_version;
    char agent_version[ID_STR_MAX + 1];
    struct id_limits lim;
    uint64_t timeout_ms, push_delay_ms, addr_ttl_ms;
    bool push_enabled;
    size_t push_concurrency, max_inbound;
    bool started;
    p2p_subscription *sub;
    p2p_timer *push_timer, *refresh_timer;
    bool push_pending;
    struct p2p_defer pump;     /* start the pushes that are due */
    uint64_t seq;              /* snapshot of (protocols, addresses) */
    p2p_buf snapshot;
    size_t pushes_active;
    struct idconn *conns;
    struct idjob *jobs;
    struct id_obs_table obs;
    /* our signed peer record */
    p2p_peer_record *rec;      /* what the cached envelope says (heap: ~16.5 KiB) */
    bool rec_current;          /* rec->addrs are those of the last attempt to seal */
    uint8_t *rec_env;          /* the sealed envelope; NULL: none */
    size_t rec_env_len;
    uint64_t rec_seq;          /* last seq sealed */
};

static const char *const id_protos[] = { ID_PROTOCOL_ID, NULL };
static const char *const push_protos[] = { ID_PUSH_PROTOCOL_ID, NULL };

static const char *peer_str(const p2p_peerid *p, char buf[P2P_PEERID_STRMAX])
{
    if (p2p_peerid_to_string(p, buf, P2P_PEERID_STRMAX) < 0) snprintf(buf, P2P_PEERID_STRMAX, "?");
    return buf;
}

static struct idconn *find_conn(struct ident *id, const p2p_conn *c)
{
    for (struct idconn *ic = id->conns; ic; ic = ic->next)
        if (ic->conn == c) return ic;
    return NULL;
}

static struct idconn *find_conn_id(struct ident *id, uint64_t conn_id)
{
    for (struct idconn *ic = id->conns; ic; ic = ic->next)
        if (ic->conn_id == conn_id) return ic;
    return NULL;
}

/* ---- our message ------------------------------------------------------ */

/* Protocols and advertised addresses: the part of our message that pushes
 * announce. Returns 0 or P2P_ENOMEM; the arrays are malloc'ed. */
static int collect(struct ident *id, const char ***protos, size_t *np, p2p_multiaddr **addrs, size_t *na)
{
    p2p_host *h = id->host;
    *protos = NULL;
    *addrs = NULL;
    *np = p2p_protocol_list(h, NULL, 0);
    *na = p2p_host_advertised_addrs(h, NULL, 0);
    *protos = calloc(*np ? *np : 1, sizeof **protos);
    *addrs = calloc(*na ? *na : 1, sizeof **addrs);
    if (!*protos || !*addrs) {
        free(*protos);
        free(*addrs);
        return P2P_ENOMEM;
    }
    size_t n = p2p_protocol_list(h, *protos, *np);
    if (n < *np) *np = n;
    n = p2p_host_advertised_addrs(h, *addrs, *na);
    if (n < *na) *na = n;
    return 0;
}

/* Bring our signed peer record up to date with our advertised addresses
 * addrs[0..na): sealed again (with a higher seq) only when the addresses
 * it holds change. None without addresses; on failure, none until the
 * next change. */
static void record_update(struct ident *id, const p2p_multiaddr *addrs, size_t na)
{
    if (!id->rec && !(id->rec = calloc(1, sizeof *id->rec))) return;
    p2p_peer_record *rec = id->rec;
    bool same = id->rec_current;
    size_t k = 0;
    for (size_t i = 0; i < na && k < P2P_PEER_RECORD_MAX_ADDRS; i++) {
        if (id_addr_scope(&addrs[i]) == ID_SCOPE_UNSPECIFIED) continue;
        if (same && (k >= rec->naddrs || !p2p_maddr_equal(&rec->addrs[k], &addrs[i]))) same = false;
        if (!same) rec->addrs[k] = addrs[i];
        k++;
    }
    if (same && k == rec->naddrs) return;
    rec->naddrs = k;
    id->rec_current = true;
    free(id->rec_env);
    id->rec_env = NULL;
    id->rec_env_len = 0;
    if (k == 0) return;   /* nothing to certify: no record (as js-libp2p) */
    rec->id = *p2p_host_peerid(id->host);
    rec->seq = id->rec_seq = p2p_peer_record_seq_next(id->rec_seq);
    int rc = p2p_peer_record_seal(p2p_host_keypair(id->host), rec, &id->rec_env, &id->rec_env_len);
    if (rc < 0) {
        p2p_log_warn(MOD, "cannot seal our signed peer record: %s; sending none", p2p_strerror(rc));
        id->rec_env = NULL;
        id->rec_env_len = 0;
        return;
    }
    p2p_log_debug(MOD, "signed peer record sealed: seq %llu, %zu addresses, %zu bytes",
                  (unsigned long long)rec->seq, k, id->rec_env_len);
    if (id->rec_env_len + 4 > ID_OWN_MAX)   /* tag and length of the field */
        p2p_log_warn(MOD, "our signed peer record (%zu bytes) exceeds the %d-byte message limit: not sent",
                     id->rec_env_len, ID_OWN_MAX);
}

/* Our Identify message for the peer on connection c, appended to out. */
static int build_message(struct ident *id, p2p_conn *c, p2p_buf *out)
{
    const char **protos;
    p2p_multiaddr *addrs;
    size_t np, na;
    int rc = collect(id, &protos, &np, &addrs, &na);
    if (rc < 0) return rc;
    record_update(id, addrs, na);
    size_t k = 0;
    for (size_t i = 0; i < na; i++)
        if (id_addr_shareable(&addrs[i], p2p_conn_local_addr(c), p2p_conn_remote_addr(c))) addrs[k++] = addrs[i];
    p2p_pubkey pub;
    p2p_keypair_public(p2p_host_keypair(id->host), &pub);
    struct id_out m = {
        .protocol_version = id->protocol_version,
        .agent_version = id->agent_version,
        .public_key = &pub,
        .listen_addrs = addrs,
        .n_listen_addrs = k,
        .observed_addr = p2p_conn_remote_addr(c),
        .protocols = protos,
        .n_protocols = np,
        .signed_peer_record = id->rec_env,
        .signed_peer_record_len = id->rec_env_len,
    };
    struct id_encoded enc;
    rc = id_msg_encode(&m, ID_OWN_MAX, out, &enc);
    if (rc >= 0 && enc.dropped)
        p2p_log_warn(MOD, "our identify message is over %d bytes: %zu addresses/protocols left out",
                     ID_OWN_MAX, enc.dropped);
    if (rc >= 0 && enc.record == ID_RECORD_SEPARATE)
        p2p_log_debug(MOD, "our signed peer record goes in a second identify message (over %d bytes together)",
                      ID_OWN_MAX);
    free(protos);
    free(addrs);
    return rc < 0 ? rc : 0;
}

/* Rebuild the snapshot; true (and a new seq) when it changed. */
static bool snapshot_update(struct ident *id)
{
    const char **protos;
    p2p_multiaddr *addrs;
    size_t np, na;
    if (collect(id, &protos, &np, &addrs, &na) < 0) return false;
    p2p_buf b;
    p2p_buf_init(&b, 0);
    int rc = 0;
    for (size_t i = 0; !rc && i < np; i++) {
        rc = p2p_buf_append(&b, protos[i], strlen(protos[i]));
        if (!rc) rc = p2p_buf_append_byte(&b, '\n');
    }
    for (size_t i = 0; !rc && i < na; i++) {
        rc = p2p_buf_append_varint(&b, addrs[i].len);
        if (!rc) rc = p2p_buf_append(&b, addrs[i].bytes, addrs[i].len);
    }
    free(protos);
    free(addrs);
    bool changed = !rc && (b.len != id->snapshot.len ||
                           (b.len && memcmp(p2p_buf_head(&b), p2p_buf_head(&id->snapshot), b.len)));
    if (changed) {
        p2p_buf_free(&id->snapshot);
        id->snapshot = b;
        id->seq++;
    } else {
        p2p_buf_free(&b);
    }
    return changed;
}

/* ---- jobs --------------------------------------------------------------- */

static void on_job_timeout(p2p_timer *t, void *arg);
static const struct p2p_stream_handlers job_handlers;

static struct idjob *job_new(struct ident *id, enum job_kind kind, struct idconn *ic)
{
    struct idjob *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->timer = p2p_timer_new(id->host, on_job_timeout, j);
    if (!j->timer) {
        free(j);
        return NULL;
    }
    j->id = id;
    j->kind = kind;
    j->ic = ic;
    id_info_init(&j->info);
    id_reader_init(&j->rd, &j->info, &id->lim);
    j->next = id->jobs;
    if (id->jobs) id->jobs->prev = j;
    id->jobs = j;
    switch (kind) {
    case JOB_RESPOND:
    case JOB_PUSH_IN:
        if (ic) ic->inbound++;
        break;
    case JOB_PUSH_OUT:
        id->pushes_active++;
        if (ic) ic->pushing = true;
        break;
    case JOB_REQUEST:
        break;
    }
    return j;
}

/* Forget the job (its stream must be released already or never existed). */
static void job_free(struct idjob *j)
{
    struct ident *id = j->id;
    if (j->prev) j->prev->next = j->next;
    else if (id->jobs == j) id->jobs = j->next;
    if (j->next) j->next->prev = j->prev;
    switch (j->kind) {
    case JOB_RESPOND:
    case JOB_PUSH_IN:
        if (j->ic && j->ic->inbound) j->ic->inbound--;
        break;
    case JOB_PUSH_OUT:
        id->pushes_active--;
        if (j->ic) j->ic->pushing = false;
        if (id->started) p2p_defer_schedule(id->host, &id->pump);   /* more may be due */
        break;
    case JOB_REQUEST:
        break;
    }
    p2p_timer_free(j->timer);
    id_reader_free(&j->rd);
    id_info_clear(&j->info);
    free(j);
}

/* Detach a job whose stream is still being opened from its connection
 * record; the open callback then releases it. */
static void job_orphan(struct idjob *j)
{
    p2p_timer_stop(j->timer);
    if (!j->ic) return;
    if (j->kind == JOB_PUSH_OUT) j->ic->pushing = false;
    if ((j->kind == JOB_RESPOND || j->kind == JOB_PUSH_IN) && j->ic->inbound) j->ic->inbound--;
    j->ic = NULL;
}

static void job_abort(struct idjob *j)
{
    if (j->s) {
        p2p_stream_reset(j->s);
        p2p_stream_close(j->s);
        j->s = NULL;
    }
    job_free(j);
}

/* Graceful end: half-close, release once everything is handed on. */
static void job_end(struct idjob *j)
{
    int rc = p2p_stream_shutdown(j->s);
    if (rc < 0 && rc != P2P_EUNSUPPORTED) return job_abort(j);
    if (p2p_stream_write_queued(j->s) == 0) {
        p2p_stream_close(j->s);
        j->s = NULL;
        return job_free(j);
    }
    j->closing = true;   /* on_drain finishes */
}

static void on_job_timeout(p2p_timer *t, void *arg)
{
    (void)t;
    struct idjob *j = arg;
    char ps[P2P_PEERID_STRMAX];
    p2p_log_debug(MOD, "%s with %s timed out", kind_name[j->kind], j->ic ? peer_str(&j->ic->peer, ps) : "?");
    if (j->opening) return job_orphan(j);   /* the open callback releases it */
    job_abort(j);
}

/* ---- applying what a peer told us ---------------------------------------- */

static void log_drops(const struct id_info *in, const char *peer)
{
    if (in->bad_addrs || in->extra_addrs || in->bad_protocols || in->extra_protocols || in->bad_observed_addr)
        p2p_log_debug(MOD, "from %s: dropped %zu invalid and %zu excess addresses, %zu invalid and %zu excess "
                      "protocols%s", peer, in->bad_addrs, in->extra_addrs, in->bad_protocols, in->extra_protocols,
                      in->bad_observed_addr ? ", an invalid observed address" : "");
}

/* The seq of the last signed peer record we used from peer, if any. */
static bool last_record_seq(p2p_host *h, const p2p_peerid *peer, uint64_t *seq)
{
    const char *v = p2p_peerstore_attr(h, peer, ID_ATTR_PEER_RECORD_SEQ);
    if (!v || !*v) return false;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end) return false;
    *seq = (uint64_t)x;
    return true;
}

/* The memo of the last record from peer that verified (all zero: none). */
static void record_memo(p2p_host *h, const p2p_peerid *peer, uint8_t memo[P2P_RECORD_MEMO_LEN])
{
    memset(memo, 0, P2P_RECORD_MEMO_LEN);
    const char *v = p2p_peerstore_attr(h, peer, ID_ATTR_PEER_RECORD_MEMO);
    size_t n = 0;
    if (v && (p2p_base32_decode(v, strlen(v), memo, P2P_RECORD_MEMO_LEN, &n) < 0 || n != P2P_RECORD_MEMO_LEN))
        memset(memo, 0, P2P_RECORD_MEMO_LEN);
}

/* in's signed peer record, if it carries one that verifies, is peer's and
 * is not older than the last one used: a heap record (free() it), else
 * NULL (logged). */
static p2p_peer_record *take_record(struct ident *id, const struct id_info *in, const p2p_peerid *peer,
                                    const char *ps)
{
    if (!in->has_signed_peer_record) return NULL;
    p2p_peer_record *rec = malloc(sizeof *rec);
    uint8_t memo[P2P_RECORD_MEMO_LEN], was[P2P_RECORD_MEMO_LEN];
    record_memo(id->host, peer, memo);
    memcpy(was, memo, sizeof was);
    int rc = rec ? id_info_open_record(in, peer, memo, rec) : P2P_ENOMEM;
    if (rc == 0 && memcmp(memo, was, sizeof memo)) {
        char b32[2 * P2P_RECORD_MEMO_LEN];
        if (p2p_base32_encode(memo, sizeof memo, b32, sizeof b32) > 0)
            p2p_peerstore_set_attr(id->host, peer, ID_ATTR_PEER_RECORD_MEMO, b32);
    }
    uint64_t last;
    if (rc == 0 && last_record_seq(id->host, peer, &last) && rec->seq < last) {
        p2p_log_debug(MOD, "from %s: signed peer record seq %llu is older than %llu; using listenAddrs", ps,
                      (unsigned long long)rec->seq, (unsigned long long)last);
        free(rec);
        return NULL;
    }
    if (rc < 0) {
        p2p_log_debug(MOD, "from %s: signed peer record ignored (%s); using listenAddrs", ps,
                      rc == P2P_EPEERID ? "another peer's record" : p2p_strerror(rc));
        free(rec);
        return NULL;
    }
    if (rec->nskipped)
        p2p_log_debug(MOD, "from %s: %zu addresses of its signed peer record left out", ps, rec->nskipped);
    return rec;
}

/* Store info (from an identify response, or a push when push is set) for
 * the connection conn_id. Peer store calls emit P2P_EV_PEER_UPDATED, whose
 * subscribers may close connections: the connection record is looked up
 * again after each. */
static void apply(struct ident *id, uint64_t conn_id, struct id_info *in, bool push)
{
    p2p_host *h = id->host;
    struct idconn *ic = find_conn_id(id, conn_id);
    if (!ic) return;
    p2p_peerid peer = ic->peer;
    char ps[P2P_PEERID_STRMAX] = "?";
    if (p2p_log_enabled(MOD, P2P_LOG_DEBUG)) peer_str(&peer, ps);   /* for debug lines only: base58 costs */
    if (id_info_check_peer(in, &peer) != 0) {
        p2p_log_warn(MOD, "%s from %s carries another peer's public key; ignored",
                     push ? "identify push" : "identify response", peer_str(&peer, ps));
        return;
    }
    log_drops(in, ps);
    if (in->has_public_key) p2p_peerstore_set_key(h, &peer, &in->public_key);
    if (in->has_agent_version) p2p_peerstore_set_attr(h, &peer, P2P_ATTR_AGENT, in->agent_version);
    if (in->has_protocol_version)
        p2p_peerstore_set_attr(h, &peer, P2P_ATTR_PROTOCOL_VERSION, in->protocol_version);
    if (in->has_observed_addr)
        id_obs_record(&id->obs, &in->observed_addr, &peer, conn_id,
                      p2p_conn_direction(ic->conn) == P2P_OUTBOUND, p2p_host_now_ms(h));
    /* A push updates only what it carries (the spec: missing fields are
     * ignored; an empty repeated field is a missing one). */
    if (!push || in->n_protocols) {
        p2p_peerstore_set_protocols(h, &peer, (const char *const *)in->protocols, in->n_protocols);
        if (!(ic = find_conn_id(id, conn_id))) return;
    }
    /* The addresses: the signed peer record's when it verifies, else
     * listenAddrs; filtered alike. */
    p2p_peer_record *rec = take_record(id, in, &peer, ps);
    p2p_multiaddr *addrs = rec ? rec->addrs : in->listen_addrs;
    size_t n = id_filter_received(addrs, rec ? rec->naddrs : in->n_listen_addrs, p2p_conn_remote_addr(ic->conn));
    if (!push || n || rec) {
        free(ic->addrs);
        ic->addrs = NULL;
        ic->naddrs = 0;
        if (n && (ic->addrs = malloc(n * sizeof *ic->addrs))) {
            memcpy(ic->addrs, addrs, n * sizeof *ic->addrs);
            ic->naddrs = n;
        }
        p2p_peerstore_add_addrs(h, &peer, addrs, n, id->addr_ttl_ms);
        if (rec) {
            char seq[24];
            snprintf(seq, sizeof seq, "%llu", (unsigned long long)rec->seq);
            p2p_peerstore_set_attr(h, &peer, ID_ATTR_PEER_RECORD_SEQ, seq);
        }
        if (!(ic = find_conn_id(id, conn_id))) {
            free(rec);
            return;
        }
    }
    if (p2p_log_enabled(MOD, P2P_LOG_DEBUG))
        p2p_log_debug(MOD, "%s %s: agent '%s', %zu protocols, %zu addresses%s", push ? "push from" : "identified",
                      ps, in->has_agent_version ? in->agent_version : "", in->n_protocols, n,
                      rec ? " (from its signed peer record)" : "");
    free(rec);
    if (!push && !ic->identified) {
        ic->identified = true;
        struct p2p_event ev = { .type = P2P_EV_IDENTIFIED, .conn = ic->conn, .peer = &peer };
        p2p_host_emit(h, &ev);
    }
}

/* ---- stream handlers ------------------------------------------------------ */

static void job_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    struct idjob *j = arg;
    if (j->kind != JOB_REQUEST && j->kind != JOB_PUSH_IN) return;   /* nothing expected: ignored */
    int rc = id_reader_feed(&j->rd, data, len);
    if (rc < 0) {
        char ps[P2P_PEERID_STRMAX];
        p2p_log_debug(MOD, "bad %s from %s: %s", kind_name[j->kind], j->ic ? peer_str(&j->ic->peer, ps) : "?",
                      p2p_strerror(rc));
        job_abort(j);
    }
}

static void job_eof(p2p_stream *s, void *arg)
{
    (void)s;
    struct idjob *j = arg;
    if (j->kind != JOB_REQUEST && j->kind != JOB_PUSH_IN) return;
    char ps[P2P_PEERID_STRMAX];
    int rc = id_reader_finish(&j->rd);
    if (rc < 0) {
        p2p_log_debug(MOD, "bad %s from %s: %s", kind_name[j->kind], j->ic ? peer_str(&j->ic->peer, ps) : "?",
                      p2p_strerror(rc));
        return job_abort(j);
    }
    struct ident *id = j->id;
    struct id_info info = j->info;      /* moved out: the job no longer owns it */
    id_info_init(&j->info);
    bool push = j->kind == JOB_PUSH_IN;
    uint64_t conn_id = j->ic ? j->ic->conn_id : 0;
    bool known = j->ic != NULL;
    job_end(j);
    if (known) apply(id, conn_id, &info, push);
    id_info_clear(&info);
}

static void job_error(p2p_stream *s, int err, void *arg)
{
    struct idjob *j = arg;
    char ps[P2P_PEERID_STRMAX];
    p2p_log_debug(MOD, "%s with %s failed: %s", kind_name[j->kind], j->ic ? peer_str(&j->ic->peer, ps) : "?",
                  p2p_strerror(err));
    p2p_stream_close(s);
    j->s = NULL;
    job_free(j);
}

static void job_drain(p2p_stream *s, void *arg)
{
    struct idjob *j = arg;
    if (!j->closing || p2p_stream_write_queued(s) != 0) return;
    p2p_stream_close(s);
    j->s = NULL;
    job_free(j);
}

static const struct p2p_stream_handlers job_handlers = { job_read, job_eof, job_error, job_drain };

/* Write our message on j's stream and end it. */
static void job_send(struct idjob *j, p2p_conn *c)
{
    /* The message is built from live data: bring the snapshot up to date
     * so that sent_seq says what the peer now has (the pending push timer
     * still pushes a change to the other connections). */
    snapshot_update(j->id);
    p2p_buf b;
    p2p_buf_init(&b, 0);
    int rc = build_message(j->id, c, &b);
    if (rc == 0) rc = p2p_stream_write(j->s, p2p_buf_head(&b), b.len);
    p2p_buf_free(&b);
    if (rc < 0) {
        p2p_log_debug(MOD, "cannot send our %s: %s", kind_name[j->kind], p2p_strerror(rc));
        return job_abort(j);
    }
    if (j->ic) j->ic->sent_seq = j->id->seq > j->ic->sent_seq ? j->id->seq : j->ic->sent_seq;
    job_end(j);
}

static void on_open(int status, p2p_stream *s, void *arg)
{
    struct idjob *j = arg;
    j->opening = false;
    if (!j->ic) {   /* orphaned: connection gone, timed out or plugin stopping */
        if (s) p2p_stream_close(s);
        return job_free(j);
    }
    if (status) {
        char ps[P2P_PEERID_STRMAX];
        if (status == P2P_ENEGOTIATE)
            p2p_log_debug(MOD, "%s does not support %s", peer_str(&j->ic->peer, ps),
                          j->kind == JOB_REQUEST ? ID_PROTOCOL_ID : ID_PUSH_PROTOCOL_ID);
        else
            p2p_log_debug(MOD, "cannot open a %s stream to %s: %s", kind_name[j->kind], peer_str(&j->ic->peer, ps),
                          p2p_strerror(status));
        return job_free(j);
    }
    j->s = s;
    p2p_stream_set_handlers(s, &job_handlers, j);
    if (j->kind == JOB_REQUEST) p2p_stream_read_start(s);
    else job_send(j, j->ic->conn);
}

static int job_open(struct idjob *j, const char *const *protos)
{
    j->opening = true;
    p2p_timer_start(j->timer, j->id->timeout_ms, 0);
    int rc = p2p_conn_open_stream(j->ic->conn, protos, on_open, j);
    if (rc < 0) {
        j->opening = false;
        job_free(j);
    }
    return rc;
}

/* Inbound /ipfs/id/1.0.0 (respond) and /ipfs/id/push/1.0.0 (receive). */
static void on_inbound(p2p_stream *s, const char *protocol_id, void *arg)
{
    struct ident *id = arg;
    bool push = !strcmp(protocol_id, ID_PUSH_PROTOCOL_ID);
    p2p_conn *c = p2p_stream_conn(s);
    struct idconn *ic = c ? find_conn(id, c) : NULL;
    if (!c || !id->started || (ic && ic->inbound >= id->max_inbound)) {
        if (ic) {
            char ps[P2P_PEERID_STRMAX];
            p2p_log_debug(MOD, "refusing a %s stream from %s: %zu already open", protocol_id,
                          peer_str(&ic->peer, ps), id->max_inbound);
        }
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    struct idjob *j = job_new(id, push ? JOB_PUSH_IN : JOB_RESPOND, ic);
    if (!j) {
        p2p_stream_reset(s);
        p2p_stream_close(s);
        return;
    }
    j->s = s;
    p2p_stream_set_handlers(s, &job_handlers, j);
    p2p_timer_start(j->timer, id->timeout_ms, 0);
    if (push) p2p_stream_read_start(s);
    else job_send(j, c);
}

/* ---- connections ------------------------------------------------------------ */

static void start_request(void *arg)
{
    struct idconn *ic = arg;
    struct idjob *j = job_new(ic->id, JOB_REQUEST, ic);
    int rc = j ? job_open(j, id_protos) : P2P_ENOMEM;
    if (rc < 0) {
        char ps[P2P_PEERID_STRMAX];
        p2p_log_warn(MOD, "cannot identify %s: %s", peer_str(&ic->peer, ps), p2p_strerror(rc));
    }
}

static void conn_add(struct ident *id, p2p_conn *c)
{
    if (find_conn(id, c)) return;
    struct idconn *ic = calloc(1, sizeof *ic);
    if (!ic) {
        p2p_log_warn(MOD, "out of memory: connection %llu not identified", (unsigned long long)p2p_conn_id(c));
        return;
    }
    ic->id = id;
    ic->conn = c;
    ic->conn_id = p2p_conn_id(c);
    ic->peer = *p2p_conn_peer(c);
    p2p_defer_init(&ic->start, start_request, ic);
    ic->next = id->conns;
    if (id->conns) id->conns->prev = ic;
    id->conns = ic;
    p2p_defer_schedule(id->host, &ic->start);
}

static void conn_drop(struct ident *id, struct idconn *ic)
{
    p2p_defer_cancel(id->host, &ic->start);
    struct idjob *j = id->jobs, *next;
    for (; j; j = next) {
        next = j->next;
        if (j->ic != ic) continue;
        if (j->opening) job_orphan(j);
        else job_abort(j);
    }
    id_obs_forget_conn(&id->obs, ic->conn_id);
    if (ic->prev) ic->prev->next = ic->next;
    else if (id->conns == ic) id->conns = ic->next;
    if (ic->next) ic->next->prev = ic->prev;
    free(ic->addrs);
    free(ic);
}

/* ---- pushes ----------------------------------------------------------------- */

static void pump(void *arg)
{
    struct ident *id = arg;
    if (!id->started || !id->push_enabled) return;
    for (struct idconn *ic = id->conns; ic && id->pushes_active < id->push_concurrency; ic = ic->next) {
        if (ic->pushing || ic->sent_seq >= id->seq) continue;
        /* Unknown support (not identified yet) counts as support, as in
         * go-libp2p; a peer that said it lacks push gets none. */
        if (ic->identified && !p2p_peerstore_supports(id->host, &ic->peer, ID_PUSH_PROTOCOL_ID)) continue;
        ic->sent_seq = id->seq;   /* one try per change, whatever happens */
        struct idjob *j = job_new(id, JOB_PUSH_OUT, ic);
        int rc = j ? job_open(j, push_protos) : P2P_ENOMEM;
        if (rc < 0) {
            char ps[P2P_PEERID_STRMAX];
            p2p_log_debug(MOD, "cannot push to %s: %s", peer_str(&ic->peer, ps), p2p_strerror(rc));
        }
    }
}

static void on_push_timer(p2p_timer *t, void *arg)
{
    (void)t;
    struct ident *id = arg;
    id->push_pending = false;
    if (snapshot_update(id))
        p2p_log_debug(MOD, "our protocols or addresses changed (snapshot %llu)", (unsigned long long)id->seq);
    pump(id);   /* also when a response already moved the snapshot on */
}

static void schedule_push(struct ident *id)
{
    if (!id->started || id->push_pending) return;
    id->push_pending = true;
    p2p_timer_start(id->push_timer, id->push_delay_ms, 0);
}

/* Extend the TTL of connected peers' addresses. */
static void on_refresh(p2p_timer *t, void *arg)
{
    (void)t;
    struct ident *id = arg;
    size_t n = 0;
    for (struct idconn *ic = id->conns; ic; ic = ic->next) n++;
    uint64_t *ids = calloc(n ? n : 1, sizeof *ids);
    if (!ids) return;
    n = 0;
    for (struct idconn *ic = id->conns; ic; ic = ic->next) ids[n++] = ic->conn_id;
    for (size_t i = 0; i < n; i++) {
        struct idconn *ic = find_conn_id(id, ids[i]);   /* subscribers may close connections */
        if (ic && ic->naddrs) p2p_peerstore_add_addrs(id->host, &ic->peer, ic->addrs, ic->naddrs, id->addr_ttl_ms);
    }
    free(ids);
}

/* ---- events and lifecycle ------------------------------------------------------ */

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct ident *id = arg;
    struct idconn *ic;
    switch (ev->type) {
    case P2P_EV_CONNECTED:
        conn_add(id, ev->conn);
        break;
    case P2P_EV_DISCONNECTED:
        if ((ic = find_conn(id, ev->conn))) conn_drop(id, ic);
        break;
    case P2P_EV_ADDRS_CHANGED:
    case P2P_EV_PROTOCOLS_CHANGED:
        if (id->push_enabled) schedule_push(id);
        break;
    default:
        break;
    }
}

static size_t svc_observed(void *state, struct p2p_identify_observed *out, size_t max)
{
    struct ident *id = state;
    return id_obs_list(&id->obs, out, max);
}

static bool svc_identified(void *state, const p2p_conn *c)
{
    struct idconn *ic = find_conn(state, c);
    return ic && ic->identified;
}

static const struct p2p_identify_api_v1 identify_api = { svc_observed, svc_identified };

static int identify_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct ident *id = calloc(1, sizeof *id);
    if (!id) return P2P_ENOMEM;
    id->host = h;
    id->protocol_version = p2p_conf_str(cf, "protocol_version");
    const char *agent = p2p_conf_str(cf, "agent_version");
    if (agent) snprintf(id->agent_version, sizeof id->agent_version, "%s", agent);
    else snprintf(id->agent_version, sizeof id->agent_version, "p2pchat/%s", p2p_version());
    id->lim.max_message_size = (size_t)p2p_conf_size(cf, "max_message_size");
    id->lim.max_messages = (size_t)p2p_conf_int(cf, "max_messages");
    id->lim.max_addrs = (size_t)p2p_conf_int(cf, "max_addrs");
    id->lim.max_protocols = (size_t)p2p_conf_int(cf, "max_protocols");
    id->timeout_ms = p2p_conf_duration_ms(cf, "timeout");
    id->push_enabled = p2p_conf_bool(cf, "push");
    id->push_delay_ms = p2p_conf_duration_ms(cf, "push_delay");
    id->push_concurrency = (size_t)p2p_conf_int(cf, "push_concurrency");
    id->addr_ttl_ms = p2p_conf_duration_ms(cf, "addr_ttl");
    id->max_inbound = (size_t)p2p_conf_int(cf, "max_inbound_streams");
    id_obs_init(&id->obs, (size_t)p2p_conf_int(cf, "max_observed_addrs"));
    p2p_buf_init(&id->snapshot, 0);
    p2p_defer_init(&id->pump, pump, id);
    int rc = p2p_protocol_add(h, ID_PROTOCOL_ID, on_inbound, id);
    if (rc == 0) {
        rc = p2p_protocol_add(h, ID_PUSH_PROTOCOL_ID, on_inbound, id);
        if (rc < 0) p2p_protocol_remove(h, ID_PROTOCOL_ID);
    }
    if (rc < 0) {
        p2p_host_set_error(h, "cannot register %s: %s", ID_PROTOCOL_ID, p2p_strerror(rc));
        free(id);
        return rc;
    }
    rc = p2p_service_provide(h, P2P_IDENTIFY_SERVICE, 1, &identify_api, id);
    if (rc < 0) {
        p2p_host_set_error(h, "cannot provide the identify service: %s", p2p_strerror(rc));
        p2p_protocol_remove(h, ID_PUSH_PROTOCOL_ID);
        p2p_protocol_remove(h, ID_PROTOCOL_ID);
        free(id);
        return rc;
    }
    *state = id;
    return 0;
}

static int identify_start(void *state)
{
    struct ident *id = state;
    id->push_timer = p2p_timer_new(id->host, on_push_timer, id);
    id->refresh_timer = p2p_timer_new(id->host, on_refresh, id);
    id->sub = p2p_host_subscribe(id->host, P2P_EV_CONNECTED | P2P_EV_DISCONNECTED | P2P_EV_ADDRS_CHANGED |
                                 P2P_EV_PROTOCOLS_CHANGED, on_event, id);
    if (!id->push_timer || !id->refresh_timer || !id->sub) {
        p2p_timer_free(id->push_timer);
        p2p_timer_free(id->refresh_timer);
        if (id->sub) p2p_host_unsubscribe(id->host, id->sub);
        id->push_timer = id->refresh_timer = NULL;
        id->sub = NULL;
        p2p_host_set_error(id->host, "out of memory");
        return P2P_ENOMEM;
    }
    uint64_t every = id->addr_ttl_ms / 2 ? id->addr_ttl_ms / 2 : 1;
    p2p_timer_start(id->refresh_timer, every, every);
    id->started = true;
    snapshot_update(id);
    /* Connections that exist already (a plugin started late). */
    p2p_conn *cs[64];
    size_t n = p2p_host_conns(id->host, cs, 64);
    for (size_t i = 0; i < n && i < 64; i++) conn_add(id, cs[i]);
    return 0;
}

static void identify_stop(void *state)
{
    struct ident *id = state;
    if (!id->started) return;
    id->started = false;
    p2p_host_unsubscribe(id->host, id->sub);
    id->sub = NULL;
    p2p_timer_free(id->push_timer);
    p2p_timer_free(id->refresh_timer);
    id->push_timer = id->refresh_timer = NULL;
    id->push_pending = false;
    p2p_defer_cancel(id->host, &id->pump);
    while (id->conns) conn_drop(id, id->conns);
    struct idjob *j = id->jobs, *next;
    for (; j; j = next) {
        next = j->next;
        if (j->opening) job_orphan(j);
        else job_abort(j);
    }
}

static void identify_fini(void *state)
{
    struct ident *id = state;
    identify_stop(id);
    size_t left = 0;
    while (id->jobs) {
        left++;
        job_free(id->jobs);
    }
    if (left) p2p_log_warn(MOD, "%zu stream open(s) never completed before shutdown", left);
    p2p_service_withdraw(id->host, P2P_IDENTIFY_SERVICE, 1);
    p2p_protocol_remove(id->host, ID_PUSH_PROTOCOL_ID);
    p2p_protocol_remove(id->host, ID_PROTOCOL_ID);
    id_obs_free(&id->obs);
    p2p_buf_free(&id->snapshot);
    free(id->rec_env);
    free(id->rec);
    free(id);
}

static const struct p2p_conf_key identify_keys[] = {
    { "protocol_version", P2P_CONF_STR, "ipfs/0.1.0", 0, 0, NULL,
      "protocolVersion we send: the protocol family (go-libp2p and rust-libp2p peers send ipfs/0.1.0)" },
    { "agent_version", P2P_CONF_STR, NULL, 0, 0, NULL,
      "agentVersion we send (default p2pchat/<library version>)" },
    { "max_message_size", P2P_CONF_SIZE, "8KiB", 1024, 1048576, NULL,
      "largest Identify message (one length-prefixed part) accepted; go-libp2p accepts 8 KiB, "
      "rust-libp2p 4 KiB, and we send at most 4 KiB" },
    { "max_messages", P2P_CONF_INT, "10", 1, 100, NULL,
      "length-prefixed parts merged from one stream (go-libp2p splits large messages; it reads 10)" },
    { "max_addrs", P2P_CONF_INT, "64", 1, 1024, NULL, "listen addresses kept from one peer's message" },
    { "max_protocols", P2P_CONF_INT, "128", 1, 1024, NULL,
      "protocols kept from one peer's message (the peer store keeps 128)" },
    { "timeout", P2P_CONF_DURATION, "30s", 100, 600000, NULL,
      "time for one identify exchange or push (go-libp2p: 30 s)" },
    { "push", P2P_CONF_BOOL, "true", 0, 0, NULL,
      "send /ipfs/id/push/1.0.0 to connected peers when our protocols or addresses change" },
    { "push_delay", P2P_CONF_DURATION, "500ms", 0, 60000, NULL,
      "wait this long after a change before pushing, so a burst of changes makes one push" },
    { "push_concurrency", P2P_CONF_INT, "32", 1, 1024, NULL, "pushes under way at once (go-libp2p: 32)" },
    { "addr_ttl", P2P_CONF_DURATION, "1h", 1000, 604800000, NULL,
      "how long a peer's identified addresses stay in the peer store after it disconnects "
      "(refreshed while connected)" },
    { "max_inbound_streams", P2P_CONF_INT, "4", 1, 64, NULL,
      "identify and push streams one connection may have open to us at once (more are reset)" },
    { "max_observed_addrs", P2P_CONF_INT, "64", 1, 1024, NULL,
      "distinct observed addresses of ours remembered (service identify, for NAT detection)" },
    P2P_CONF_KEYS_END
};

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "identify",
    .version = "1.0.0",
    .description = "libp2p identify and identify push (/ipfs/id/1.0.0, /ipfs/id/push/1.0.0)",
    .requires = NULL,
    .config = identify_keys,
    .init = identify_init,
    .start = identify_start,
    .stop = identify_stop,
    .fini = identify_fini,
});
