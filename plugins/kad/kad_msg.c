/* kad_msg.c - dht.proto Message codec and stream framing (see kad_msg.h). */
#include "kad_msg.h"

#include <stdlib.h>
#include <string.h>

#include "dht.pb-c.h"
#include "p2p/error.h"
#include "p2p/varint.h"

void kad_msg_init(struct kad_msg *m)
{
    memset(m, 0, sizeof *m);
}

static void peers_free(struct kad_peer *p, size_t n)
{
    for (size_t i = 0; i < n; i++) free(p[i].addrs);
    free(p);
}

void kad_msg_clear(struct kad_msg *m)
{
    free(m->key);
    free(m->record.key);
    free(m->record.value);
    peers_free(m->closer, m->ncloser);
    peers_free(m->providers, m->nproviders);
    kad_msg_init(m);
}

static int dup_bytes(uint8_t **dst, size_t *dlen, const uint8_t *src, size_t len)
{
    *dst = NULL;
    *dlen = 0;
    if (!len) return 0;
    if (!(*dst = malloc(len))) return P2P_ENOMEM;
    memcpy(*dst, src, len);
    *dlen = len;
    return 0;
}

/* An address of peer id: valid, and a trailing /p2p/ part (if any) names
 * the peer itself (then stripped). A /p2p/ part elsewhere is kept only as
 * a relay's, right before /p2p-circuit: the address of a peer reachable
 * through that relay (its provider records carry nothing else). */
static bool peer_addr(const p2p_peerid *id, const uint8_t *in, size_t len, p2p_multiaddr *out)
{
    if (p2p_maddr_from_bytes(out, in, len, NULL, 0) != 0) return false;
    size_t off = 0, last = 0;
    struct p2p_maddr_component c;
    while (p2p_maddr_next(out, &off, &c) == 1) {
        if (c.code == P2P_MA_P2P && off != out->len) {
            size_t peek = off;
            struct p2p_maddr_component next;
            if (p2p_maddr_next(out, &peek, &next) != 1 || next.code != P2P_MA_P2P_CIRCUIT) return false;
        } else if (c.code == P2P_MA_P2P) {
            if (c.value_len != id->len || memcmp(c.value, id->bytes, id->len) != 0) return false;
            out->len = (uint16_t)last;
            return out->len > 0;
        }
        last = off;
    }
    return out->len > 0;
}

static int decode_peers(Kadpb__Message__Peer **in, size_t n, const struct kad_limits *lim, struct kad_peer **out,
                        size_t *nout, struct kad_msg *m)
{
    *out = NULL;
    *nout = 0;
    if (!n) return 0;
    size_t keep = n < lim->max_peers ? n : lim->max_peers;
    if (!keep) {
        m->extra_peers += n;
        return 0;
    }
    struct kad_peer *p = calloc(keep, sizeof *p);
    if (!p) return P2P_ENOMEM;
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        Kadpb__Message__Peer *pb = in[i];
        if (np == keep) {
            m->extra_peers += n - i;
            break;
        }
        struct kad_peer *kp = &p[np];
        if (!pb->has_id || p2p_peerid_from_bytes(&kp->id, pb->id.data, pb->id.len) != 0) {
            m->bad_peers++;
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < np && !dup; j++) dup = p2p_peerid_equal(&p[j].id, &kp->id);
        if (dup) {
            m->bad_peers++;
            continue;
        }
        kp->connection = pb->has_connection ? pb->connection : KAD_NOT_CONNECTED;
        size_t na = pb->n_addrs < lim->max_addrs ? pb->n_addrs : lim->max_addrs;
        if (na && !(kp->addrs = calloc(na, sizeof *kp->addrs))) {
            peers_free(p, np);
            return P2P_ENOMEM;
        }
        for (size_t a = 0; a < pb->n_addrs; a++) {
            p2p_multiaddr ma;
            if (!peer_addr(&kp->id, pb->addrs[a].data, pb->addrs[a].len, &ma)) {
                m->bad_addrs++;
                continue;
            }
            bool seen = false;
            for (size_t b = 0; b < kp->naddrs && !seen; b++) seen = p2p_maddr_equal(&kp->addrs[b], &ma);
            if (seen) continue;
            if (kp->naddrs == na) {
                m->extra_addrs++;
                continue;
            }
            kp->addrs[kp->naddrs++] = ma;
        }
        if (!kp->naddrs) {
            free(kp->addrs);
            kp->addrs = NULL;
        }
        np++;
    }
    if (!np) {
        free(p);
        return 0;
    }
    *out = p;
    *nout = np;
    return 0;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) return false;
    return true;
}

int kad_msg_decode(struct kad_msg *m, const uint8_t *in, size_t len, const struct kad_limits *lim)
{
    kad_msg_clear(m);
    Kadpb__Message *pb = kadpb__message__unpack(NULL, len, in);
    if (!pb) return P2P_EPROTO;
    int rc = 0;
    int32_t type = pb->has_type ? pb->type : 0;
    if (type < KAD_PUT_VALUE || type > KAD_PING) {
        rc = P2P_EPROTO;
        goto out;
    }
    m->type = type;
    m->cluster_level = pb->has_clusterlevelraw ? pb->clusterlevelraw : 0;
    if (pb->has_key) {
        if (pb->key.len > lim->max_key) {
            rc = P2P_ERANGE;
            goto out;
        }
        if ((rc = dup_bytes(&m->key, &m->keylen, pb->key.data, pb->key.len))) goto out;
    }
    if (pb->record) {
        Kadpb__Record *r = pb->record;
        if ((r->has_key && r->key.len > lim->max_key) || (r->has_value && r->value.len > lim->max_value)) {
            rc = P2P_ERANGE;
            goto out;
        }
        m->has_record = true;
        if (r->has_key && (rc = dup_bytes(&m->record.key, &m->record.keylen, r->key.data, r->key.len))) goto out;
        if (r->has_value && (rc = dup_bytes(&m->record.value, &m->record.vlen, r->value.data, r->value.len)))
            goto out;
        if (r->timereceived && strlen(r->timereceived) <= KAD_TIME_MAX && printable(r->timereceived))
            strcpy(m->record.time_received, r->timereceived);
    }
    if ((rc = decode_peers(pb->closerpeers, pb->n_closerpeers, lim, &m->closer, &m->ncloser, m))) goto out;
    rc = decode_peers(pb->providerpeers, pb->n_providerpeers, lim, &m->providers, &m->nproviders, m);
out:
    kadpb__message__free_unpacked(pb, NULL);
    if (rc) kad_msg_clear(m);
    return rc;
}

int kad_msg_set_key(struct kad_msg *m, const uint8_t *key, size_t len)
{
    free(m->key);
    return dup_bytes(&m->key, &m->keylen, key, len);
}

int kad_msg_set_record(struct kad_msg *m, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                       const char *time_received)
{
    free(m->record.key);
    free(m->record.value);
    memset(&m->record, 0, sizeof m->record);
    m->has_record = true;
    int rc = dup_bytes(&m->record.key, &m->record.keylen, key, klen);
    if (rc == 0) rc = dup_bytes(&m->record.value, &m->record.vlen, value, vlen);
    if (time_received && strlen(time_received) <= KAD_TIME_MAX) strcpy(m->record.time_received, time_received);
    return rc;
}

int kad_msg_add_peer(struct kad_msg *m, bool providers, const p2p_peerid *id, const p2p_multiaddr *addrs,
                     size_t n, int connection)
{
    struct kad_peer **list = providers ? &m->providers : &m->closer;
    size_t *cnt = providers ? &m->nproviders : &m->ncloser;
    struct kad_peer *np = realloc(*list, (*cnt + 1) * sizeof *np);
    if (!np) return P2P_ENOMEM;
    *list = np;
    struct kad_peer *p = &np[*cnt];
    memset(p, 0, sizeof *p);
    p->id = *id;
    p->connection = connection;
    if (n) {
        if (!(p->addrs = malloc(n * sizeof *p->addrs))) return P2P_ENOMEM;
        memcpy(p->addrs, addrs, n * sizeof *addrs);
        p->naddrs = n;
    }
    (*cnt)++;
    return 0;
}

/* protobuf-c views of our peers (pointing into m). */
struct pb_peers {
    Kadpb__Message__Peer *peers;
    Kadpb__Message__Peer **ptrs;
    ProtobufCBinaryData *addrs;
};

static int pb_peers_make(struct pb_peers *v, const struct kad_peer *p, size_t n)
{
    memset(v, 0, sizeof *v);
    if (!n) return 0;
    size_t na = 0;
    for (size_t i = 0; i < n; i++) na += p[i].naddrs;
    v->peers = calloc(n, sizeof *v->peers);
    v->ptrs = calloc(n, sizeof *v->ptrs);
    v->addrs = calloc(na ? na : 1, sizeof *v->addrs);
    if (!v->peers || !v->ptrs || !v->addrs) return P2P_ENOMEM;
    size_t a = 0;
    for (size_t i = 0; i < n; i++) {
        Kadpb__Message__Peer *pb = &v->peers[i];
        kadpb__message__peer__init(pb);
        pb->has_id = 1;
        pb->id.data = (uint8_t *)p[i].id.bytes;
        pb->id.len = p[i].id.len;
        pb->has_connection = 1;
        pb->connection = p[i].connection;
        pb->addrs = &v->addrs[a];
        pb->n_addrs = p[i].naddrs;
        for (size_t j = 0; j < p[i].naddrs; j++, a++) {
            v->addrs[a].data = (uint8_t *)p[i].addrs[j].bytes;
            v->addrs[a].len = p[i].addrs[j].len;
        }
        v->ptrs[i] = pb;
    }
    return 0;
}

static void pb_peers_free(struct pb_peers *v)
{
    free(v->peers);
    free(v->ptrs);
    free(v->addrs);
}

int kad_msg_encode(const struct kad_msg *m, size_t max_body, p2p_buf *out)
{
    Kadpb__Message pb;
    kadpb__message__init(&pb);
    pb.has_type = 1;
    pb.type = m->type;
    if (m->cluster_level) {
        pb.has_clusterlevelraw = 1;
        pb.clusterlevelraw = m->cluster_level;
    }
    if (m->keylen) {
        pb.has_key = 1;
        pb.key.data = m->key;
        pb.key.len = m->keylen;
    }
    Kadpb__Record rec;
    kadpb__record__init(&rec);
    if (m->has_record) {
        rec.has_key = 1;
        rec.key.data = m->record.key;
        rec.key.len = m->record.keylen;
        rec.has_value = 1;
        rec.value.data = m->record.value;
        rec.value.len = m->record.vlen;
        if (m->record.time_received[0]) rec.timereceived = (char *)m->record.time_received;
        pb.record = &rec;
    }
    struct pb_peers cv, pv;
    int rc = pb_peers_make(&cv, m->closer, m->ncloser);
    if (rc == 0) rc = pb_peers_make(&pv, m->providers, m->nproviders);
    else memset(&pv, 0, sizeof pv);
    if (rc) goto out;
    pb.closerpeers = cv.ptrs;
    pb.n_closerpeers = m->ncloser;
    pb.providerpeers = pv.ptrs;
    pb.n_providerpeers = m->nproviders;
    size_t size = kadpb__message__get_packed_size(&pb);
    while (size > max_body && (pb.n_closerpeers || pb.n_providerpeers)) {
        if (pb.n_closerpeers) pb.n_closerpeers--;
        else pb.n_providerpeers--;
        size = kadpb__message__get_packed_size(&pb);
    }
    if (size > max_body) {
        rc = P2P_ERANGE;
        goto out;
    }
    if ((rc = p2p_buf_append_varint(out, size))) goto out;
    if ((rc = p2p_buf_reserve(out, size))) goto out;
    kadpb__message__pack(&pb, p2p_buf_tail(out));
    p2p_buf_commit(out, size);
out:
    pb_peers_free(&cv);
    pb_peers_free(&pv);
    return rc;
}

/* ---- framing ---------------------------------------------------------------- */

void kad_reader_init(struct kad_reader *r, size_t max_message)
{
    /* One maximal frame and its prefix, plus a little of the next one. */
    p2p_buf_init(&r->buf, max_message + P2P_VARINT_MAX_BYTES + 64);
    r->max = max_message;
    r->pending = 0;
}

void kad_reader_free(struct kad_reader *r)
{
    p2p_buf_free(&r->buf);
}

static void drop_pending(struct kad_reader *r)
{
    if (r->pending) {
        p2p_buf_consume(&r->buf, r->pending);
        r->pending = 0;
    }
}

size_t kad_reader_room(struct kad_reader *r)
{
    drop_pending(r);
    return r->buf.len < r->buf.limit ? r->buf.limit - r->buf.len : 0;
}

int kad_reader_feed(struct kad_reader *r, const uint8_t *data, size_t len)
{
    size_t room = kad_reader_room(r);
    size_t n = len < room ? len : room;
    int rc = p2p_buf_append(&r->buf, data, n);
    return rc ? rc : (int)n;
}

int kad_reader_next(struct kad_reader *r, const uint8_t **body, size_t *len)
{
    drop_pending(r);
    uint64_t n;
    size_t used;
    int rc = p2p_varint_decode(p2p_buf_head(&r->buf), r->buf.len, &n, &used);
    if (rc == P2P_ETRUNC) return 0;
    if (rc) return P2P_EPROTO;
    if (n > r->max) return P2P_ERANGE;
    if (r->buf.len - used < n) return 0;
    *body = p2p_buf_head(&r->buf) + used;
    *len = (size_t)n;
    r->pending = used + (size_t)n;
    return 1;
}

bool kad_reader_partial(const struct kad_reader *r)
{
    return r->buf.len > r->pending;
}

const char *kad_type_name(int type)
{
    static const char *const names[] = { "PUT_VALUE", "GET_VALUE", "ADD_PROVIDER", "GET_PROVIDERS", "FIND_NODE",
                                         "PING" };
    return type >= 0 && type <= KAD_PING ? names[type] : "?";
}
