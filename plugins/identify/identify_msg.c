/* identify_msg.c - see identify_msg.h. */
#include "identify_msg.h"

#include <stdlib.h>
#include <string.h>

#include "identify.pb-c.h"
#include "p2p/error.h"
#include "p2p/netaddr.h"
#include "p2p/varint.h"

/* ---- info ------------------------------------------------------------- */

void id_info_init(struct id_info *info)
{
    memset(info, 0, sizeof *info);
}

void id_info_clear(struct id_info *info)
{
    for (size_t i = 0; i < info->n_protocols; i++) free(info->protocols[i]);
    free(info->protocols);
    free(info->listen_addrs);
    free(info->signed_peer_record);
    id_info_init(info);
}

/* Copy a string field, at most ID_STR_MAX bytes, control characters
 * replaced (they would end up in logs and user interfaces). */
static void copy_text(char out[ID_STR_MAX + 1], const char *in)
{
    size_t i = 0;
    for (; in[i] && i < ID_STR_MAX; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[i] = 0;
}

static bool protocol_ok(const char *p)
{
    size_t n = 0;
    for (; p[n]; n++) {
        unsigned char c = (unsigned char)p[n];
        if (c < 0x21 || c > 0x7e || n >= ID_PROTOCOL_MAX) return false;
    }
    return n > 0;
}

static int add_addr(struct id_info *info, const ProtobufCBinaryData *b, const struct id_limits *lim)
{
    p2p_multiaddr ma;
    if (!b->len || p2p_maddr_from_bytes(&ma, b->data, b->len, NULL, 0) != 0) {
        info->bad_addrs++;
        return 0;
    }
    for (size_t i = 0; i < info->n_listen_addrs; i++)
        if (p2p_maddr_equal(&info->listen_addrs[i], &ma)) return 0;
    if (info->n_listen_addrs >= lim->max_addrs) {
        info->extra_addrs++;
        return 0;
    }
    if (!info->listen_addrs) {
        info->listen_addrs = malloc(lim->max_addrs * sizeof *info->listen_addrs);
        if (!info->listen_addrs) return P2P_ENOMEM;
    }
    info->listen_addrs[info->n_listen_addrs++] = ma;
    return 0;
}

static int add_protocol(struct id_info *info, const char *p, const struct id_limits *lim)
{
    if (!protocol_ok(p)) {
        info->bad_protocols++;
        return 0;
    }
    for (size_t i = 0; i < info->n_protocols; i++)
        if (!strcmp(info->protocols[i], p)) return 0;
    if (info->n_protocols >= lim->max_protocols) {
        info->extra_protocols++;
        return 0;
    }
    if (!info->protocols) {
        info->protocols = calloc(lim->max_protocols, sizeof *info->protocols);
        if (!info->protocols) return P2P_ENOMEM;
    }
    char *copy = strdup(p);
    if (!copy) return P2P_ENOMEM;
    info->protocols[info->n_protocols++] = copy;
    return 0;
}

int id_msg_decode(struct id_info *info, const uint8_t *body, size_t len, const struct id_limits *lim)
{
    Identify *m = identify__unpack(NULL, len, body);
    if (!m) return P2P_EPROTO;
    int rc = 0;
    p2p_pubkey key;
    if (m->has_publickey) {
        if (p2p_pubkey_decode(&key, m->publickey.data, m->publickey.len) != 0) rc = P2P_EINVAL;
    }
    if (rc == 0 && m->has_publickey) {
        info->has_public_key = true;
        info->public_key = key;
    }
    if (rc == 0 && m->protocolversion) {
        info->has_protocol_version = true;
        copy_text(info->protocol_version, m->protocolversion);
    }
    if (rc == 0 && m->agentversion) {
        info->has_agent_version = true;
        copy_text(info->agent_version, m->agentversion);
    }
    for (size_t i = 0; rc == 0 && i < m->n_listenaddrs; i++) rc = add_addr(info, &m->listenaddrs[i], lim);
    for (size_t i = 0; rc == 0 && i < m->n_protocols; i++) rc = add_protocol(info, m->protocols[i], lim);
    if (rc == 0 && m->has_observedaddr) {
        p2p_multiaddr ma;
        if (m->observedaddr.len && p2p_maddr_from_bytes(&ma, m->observedaddr.data, m->observedaddr.len,
                                                        NULL, 0) == 0) {
            info->has_observed_addr = true;
            info->observed_addr = ma;
        } else {
            info->bad_observed_addr = true;
        }
    }
    if (rc == 0 && m->has_signedpeerrecord) {
        /* Optional field: the last part's wins. */
        uint8_t *copy = malloc(m->signedpeerrecord.len ? m->signedpeerrecord.len : 1);
        if (!copy) {
            rc = P2P_ENOMEM;
        } else {
            if (m->signedpeerrecord.len) memcpy(copy, m->signedpeerrecord.data, m->signedpeerrecord.len);
            free(info->signed_peer_record);
            info->signed_peer_record = copy;
            info->signed_peer_record_len = m->signedpeerrecord.len;
            info->has_signed_peer_record = true;
        }
    }
    identify__free_unpacked(m, NULL);
    return rc;
}

int id_info_check_peer(const struct id_info *info, const p2p_peerid *peer)
{
    if (!info->has_public_key) return 0;
    return p2p_peerid_matches(peer, &info->public_key) ? 0 : P2P_EPEERID;
}

int id_info_open_record(const struct id_info *info, const p2p_peerid *peer, uint8_t *memo, p2p_peer_record *rec)
{
    memset(rec, 0, sizeof *rec);
    if (!info->has_signed_peer_record) return P2P_ENOTFOUND;
    uint8_t m[P2P_RECORD_MEMO_LEN] = { 0 };
    if (memo) memcpy(m, memo, sizeof m);
    int rc = p2p_peer_record_open_memo(info->signed_peer_record, info->signed_peer_record_len, m, rec);
    if (rc < 0) return rc;
    if (!p2p_peerid_equal(&rec->id, peer)) {
        memset(rec, 0, sizeof *rec);
        return P2P_EPEERID;
    }
    if (memo) memcpy(memo, m, sizeof m);   /* only a record of peer's is remembered */
    return 0;
}

/* ---- encoding ---------------------------------------------------------- */

/* Append one length-prefixed part. */
static int put_part(const Identify *msg, size_t size, p2p_buf *out)
{
    uint8_t pre[P2P_VARINT_MAX_BYTES];
    int pl = p2p_varint_encode(size, pre);
    if (pl < 0) return pl;
    int rc = p2p_buf_reserve(out, (size_t)pl + size);
    if (rc < 0) return rc;
    p2p_buf_append(out, pre, (size_t)pl);
    identify__pack(msg, p2p_buf_tail(out));
    p2p_buf_commit(out, size);
    return 0;
}

int id_msg_encode(const struct id_out *m, size_t max_body, p2p_buf *out, struct id_encoded *enc)
{
    Identify msg = IDENTIFY__INIT;
    Identify recmsg = IDENTIFY__INIT;
    uint8_t key[P2P_PUBKEY_PB_MAX];
    int rc = 0;
    enum id_record_placement placed = ID_RECORD_NONE;
    if (enc) *enc = (struct id_encoded){ 0, ID_RECORD_NONE };
    msg.protocolversion = (char *)m->protocol_version;
    msg.agentversion = (char *)m->agent_version;
    if (m->public_key) {
        int n = p2p_pubkey_encode(m->public_key, key, sizeof key);
        if (n < 0) return n;
        msg.has_publickey = 1;
        msg.publickey.data = key;
        msg.publickey.len = (size_t)n;
    }
    if (m->observed_addr && m->observed_addr->len) {
        msg.has_observedaddr = 1;
        msg.observedaddr.data = (uint8_t *)m->observed_addr->bytes;
        msg.observedaddr.len = m->observed_addr->len;
    }
    ProtobufCBinaryData *addrs = NULL;
    if (m->n_listen_addrs) {
        addrs = calloc(m->n_listen_addrs, sizeof *addrs);
        if (!addrs) return P2P_ENOMEM;
        for (size_t i = 0; i < m->n_listen_addrs; i++) {
            addrs[i].data = (uint8_t *)m->listen_addrs[i].bytes;
            addrs[i].len = m->listen_addrs[i].len;
        }
    }
    msg.listenaddrs = addrs;
    msg.n_listenaddrs = m->n_listen_addrs;
    msg.protocols = (char **)m->protocols;
    msg.n_protocols = m->n_protocols;
    size_t size = identify__get_packed_size(&msg), recsize = 0;
    if (m->signed_peer_record) {
        /* Inline when everything fits, else in a part of its own. */
        msg.has_signedpeerrecord = 1;
        msg.signedpeerrecord.data = (uint8_t *)m->signed_peer_record;
        msg.signedpeerrecord.len = m->signed_peer_record_len;
        size_t with = identify__get_packed_size(&msg);
        if (with <= max_body) {
            size = with;
            placed = ID_RECORD_INLINE;
        } else {
            msg.has_signedpeerrecord = 0;
            recmsg.has_signedpeerrecord = 1;
            recmsg.signedpeerrecord = msg.signedpeerrecord;
            recsize = identify__get_packed_size(&recmsg);
            placed = recsize <= max_body ? ID_RECORD_SEPARATE : ID_RECORD_DROPPED;
        }
    }
    size_t cut = 0;
    while (size > max_body && (msg.n_listenaddrs || msg.n_protocols)) {
        if (msg.n_listenaddrs) msg.n_listenaddrs--;
        else msg.n_protocols--;
        cut++;
        size = identify__get_packed_size(&msg);
    }
    size_t start = out->len;
    if (size > max_body) {
        rc = P2P_ERANGE;
    } else {
        rc = put_part(&msg, size, out);
        if (!rc && placed == ID_RECORD_SEPARATE) rc = put_part(&recmsg, recsize, out);
        if (rc < 0) out->len = start;   /* nothing half-written */
        else rc = (int)size;
    }
    free(addrs);
    if (enc && rc >= 0) *enc = (struct id_encoded){ cut, placed };
    return rc;
}

/* ---- stream framing ------------------------------------------------------ */

void id_reader_init(struct id_reader *r, struct id_info *info, const struct id_limits *lim)
{
    memset(r, 0, sizeof *r);
    r->lim = *lim;
    r->info = info;
    p2p_buf_init(&r->buf, lim->max_message_size + P2P_VARINT_MAX_BYTES);
}

void id_reader_free(struct id_reader *r)
{
    p2p_buf_free(&r->buf);
}

/* Decode every complete part at the head of the buffer. */
static int drain(struct id_reader *r)
{
    while (r->buf.len) {
        uint64_t n;
        size_t used;
        int rc = p2p_varint_decode(p2p_buf_head(&r->buf), r->buf.len, &n, &used);
        if (rc == P2P_ETRUNC) return 0;
        if (rc < 0) return P2P_EPROTO;
        if (n > r->lim.max_message_size) return P2P_ELIMIT;
        if (r->buf.len - used < n) return 0;
        if (r->messages >= r->lim.max_messages) return P2P_ELIMIT;
        r->messages++;
        rc = id_msg_decode(r->info, p2p_buf_head(&r->buf) + used, (size_t)n, &r->lim);
        if (rc < 0) return rc;
        p2p_buf_consume(&r->buf, used + (size_t)n);
    }
    return 0;
}

int id_reader_feed(struct id_reader *r, const uint8_t *data, size_t len)
{
    if (r->err) return r->err;
    while (len) {
        /* Take no more than the buffer's limit at once, decoding between
         * chunks, so a stream of many small parts never needs more room
         * than one part. */
        size_t room = r->buf.limit - r->buf.len;
        size_t k = len < room ? len : room;
        if (k == 0) {
            r->err = P2P_ELIMIT;   /* cannot happen: drain() empties a full buffer or fails */
            return r->err;
        }
        int rc = p2p_buf_append(&r->buf, data, k);
        if (rc == 0) rc = drain(r);
        if (rc < 0) {
            r->err = rc;
            return rc;
        }
        data += k;
        len -= k;
    }
    return 0;
}

int id_reader_finish(struct id_reader *r)
{
    if (r->err) return r->err;
    if (r->buf.len || r->messages == 0) return P2P_ETRUNC;
    return 0;
}

/* ---- address scopes ------------------------------------------------------- */

/* Core's scopes (p2p/netaddr.h) in identify's coarser terms: link-local
 * counts as private, and reserved ranges (documentation, benchmarking,
 * multicast) as public: nothing tells them from the Internet here. */
static enum id_scope ip_scope(int family, const uint8_t *ip)
{
    switch (p2p_ip_scope(family, ip)) {
    case P2P_SCOPE_UNSPECIFIED: return ID_SCOPE_UNSPECIFIED;
    case P2P_SCOPE_LOOPBACK: return ID_SCOPE_LOOPBACK;
    case P2P_SCOPE_PRIVATE:
    case P2P_SCOPE_LINK_LOCAL: return ID_SCOPE_PRIVATE;
    default: return ID_SCOPE_PUBLIC;
    }
}

static bool name_is_localhost(const uint8_t *v, size_t n)
{
    static const char lh[] = "localhost";
    size_t l = sizeof lh - 1;
    if (n && v[n - 1] == '.') n--;   /* fully qualified */
    if (n < l) return false;
    const uint8_t *tail = v + n - l;
    for (size_t i = 0; i < l; i++) {
        uint8_t c = tail[i];
        if (c >= 'A' && c <= 'Z') c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)lh[i]) return false;
    }
    return n == l || v[n - l - 1] == '.';
}

enum id_scope id_addr_scope(const p2p_multiaddr *ma)
{
    size_t off = 0;
    struct p2p_maddr_component c;
    if (p2p_maddr_next(ma, &off, &c) != 1) return ID_SCOPE_UNSPECIFIED;
    switch (c.code) {
    case P2P_MA_IP4:
        return c.value_len == 4 ? ip_scope(4, c.value) : ID_SCOPE_UNSPECIFIED;
    case P2P_MA_IP6:
        return c.value_len == 16 ? ip_scope(6, c.value) : ID_SCOPE_UNSPECIFIED;
    case P2P_MA_IP6ZONE:
        return ID_SCOPE_PRIVATE;   /* zoned: link-local by nature */
    case P2P_MA_DNS:
    case P2P_MA_DNS4:
    case P2P_MA_DNS6:
    case P2P_MA_DNSADDR:
        return name_is_localhost(c.value, c.value_len) ? ID_SCOPE_LOOPBACK : ID_SCOPE_PUBLIC;
    default:
        /* /p2p/..., /p2p-circuit/... alone: no transport address of its own. */
        return ID_SCOPE_UNSPECIFIED;
    }
}

size_t id_filter_received(p2p_multiaddr *addrs, size_t n, const p2p_multiaddr *remote)
{
    enum id_scope from = id_addr_scope(remote);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        enum id_scope s = id_addr_scope(&addrs[i]);
        bool keep;
        if (s == ID_SCOPE_UNSPECIFIED) keep = false;
        else if (from == ID_SCOPE_LOOPBACK || from == ID_SCOPE_UNSPECIFIED) keep = true;
        else if (from == ID_SCOPE_PRIVATE) keep = s != ID_SCOPE_LOOPBACK;
        else keep = s == ID_SCOPE_PUBLIC;
        if (keep) addrs[k++] = addrs[i];
    }
    return k;
}

bool id_addr_shareable(const p2p_multiaddr *ours, const p2p_multiaddr *local, const p2p_multiaddr *remote)
{
    enum id_scope s = id_addr_scope(ours);
    if (s == ID_SCOPE_UNSPECIFIED) return false;
    if (s == ID_SCOPE_LOOPBACK)
        return id_addr_scope(local) == ID_SCOPE_LOOPBACK || id_addr_scope(remote) == ID_SCOPE_LOOPBACK;
    return true;
}

/* ---- observed addresses ---------------------------------------------------- */

void id_obs_init(struct id_obs_table *t, size_t max)
{
    t->e = NULL;
    t->n = 0;
    t->max = max ? max : 1;
}

void id_obs_free(struct id_obs_table *t)
{
    free(t->e);
    t->e = NULL;
    t->n = 0;
}

static void entry_remove(struct id_obs_table *t, size_t i)
{
    t->e[i] = t->e[--t->n];
}

void id_obs_forget_conn(struct id_obs_table *t, uint64_t conn_id)
{
    for (size_t i = 0; i < t->n;) {
        struct id_obs_entry *e = &t->e[i];
        for (size_t j = 0; j < e->n;) {
            if (e->obs[j].conn_id == conn_id) e->obs[j] = e->obs[--e->n];
            else j++;
        }
        if (e->n == 0) entry_remove(t, i);
        else i++;
    }
}

static unsigned distinct(const struct id_obs_entry *e, bool outbound_only)
{
    unsigned n = 0;
    for (size_t i = 0; i < e->n; i++) {
        if (outbound_only && !e->obs[i].outbound) continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = (!outbound_only || e->obs[j].outbound) && p2p_peerid_equal(&e->obs[j].peer, &e->obs[i].peer);
        if (!seen) n++;
    }
    return n;
}

int id_obs_record(struct id_obs_table *t, const p2p_multiaddr *addr, const p2p_peerid *observer,
                  uint64_t conn_id, bool outbound, uint64_t now)
{
    id_obs_forget_conn(t, conn_id);   /* one observation per connection */
    size_t i;
    for (i = 0; i < t->n; i++)
        if (p2p_maddr_equal(&t->e[i].addr, addr)) break;
    if (i == t->n) {
        if (t->n < t->max) {
            if (!t->e) {
                t->e = calloc(t->max, sizeof *t->e);
                if (!t->e) return P2P_ENOMEM;
            }
            t->n++;
        } else {
            /* Full: replace the least observed, then least recent, address. */
            size_t v = 0;
            for (size_t j = 1; j < t->n; j++) {
                unsigned dj = distinct(&t->e[j], false), dv = distinct(&t->e[v], false);
                if (dj < dv || (dj == dv && t->e[j].last_seen < t->e[v].last_seen)) v = j;
            }
            i = v;
        }
        memset(&t->e[i], 0, sizeof t->e[i]);
        t->e[i].addr = *addr;
    }
    struct id_obs_entry *e = &t->e[i];
    e->last_seen = now;
    if (e->n < ID_OBS_MAX_OBSERVERS)
        e->obs[e->n++] = (struct id_observer){ .peer = *observer, .conn_id = conn_id, .outbound = outbound };
    return 0;
}

size_t id_obs_list(const struct id_obs_table *t, struct p2p_identify_observed *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        struct p2p_identify_observed o = {
            .addr = t->e[i].addr,
            .observers = distinct(&t->e[i], false),
            .outbound_observers = distinct(&t->e[i], true),
        };
        /* Keep the best `max`, sorted by observer count, descending. */
        size_t j;
        if (k < max) j = k++;
        else if (max && out[max - 1].observers < o.observers) j = max - 1;
        else continue;
        while (j > 0 && out[j - 1].observers < o.observers) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = o;
    }
    return t->n;
}
