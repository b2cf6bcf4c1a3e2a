/* gs_rpc.c - see gs_rpc.h. */
#include "gs_rpc.h"

#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/varint.h"

/* Memory one frame may make the decoder allocate: protobuf-c allocates a
 * struct per entry and copies every bytes field, so a frame of tiny
 * entries costs many times its size; a frame over this is refused. */
#define GS_DECODE_BUDGET(len) ((len) * 16 + 65536)

bool gs_topic_valid(const uint8_t *t, size_t len, size_t max)
{
    return t && len > 0 && len <= max && !memchr(t, 0, len);
}

/* ---- decoding --------------------------------------------------------------- */

static void *arena_alloc(void *ad, size_t n)
{
    return gs_arena_alloc(ad, n);
}

static void arena_free(void *ad, void *p)
{
    (void)ad;
    (void)p;
}

static bool id_valid(const ProtobufCBinaryData *id, const struct gs_rpc_limits *lim)
{
    return id->len > 0 && id->len <= lim->max_id_len;
}

/* Keep the valid ids of one list within the RPC-wide budget *left. */
static void clean_ids(size_t *n, ProtobufCBinaryData *ids, size_t *left, const struct gs_rpc_limits *lim,
                      size_t *dropped)
{
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        if (!id_valid(&ids[i], lim) || *left == 0) {
            (*dropped)++;
            continue;
        }
        ids[k++] = ids[i];
        (*left)--;
    }
    *n = k;
}

static void clean_control(Gspb__ControlMessage *c, const struct gs_rpc_limits *lim, struct gs_rpc_drops *d)
{
    size_t left = lim->max_ids, k = 0;
    for (size_t i = 0; i < c->n_ihave; i++) {
        Gspb__ControlIHave *e = c->ihave[i];
        if (!e->has_topic_id || !gs_topic_valid(e->topic_id.data, e->topic_id.len, lim->max_topic_len)) {
            d->control++;
            d->ids += e->n_message_ids;
            continue;
        }
        clean_ids(&e->n_message_ids, e->message_ids, &left, lim, &d->ids);
        if (e->n_message_ids) c->ihave[k++] = e;
    }
    c->n_ihave = k;

    left = lim->max_ids;
    k = 0;
    for (size_t i = 0; i < c->n_iwant; i++) {
        Gspb__ControlIWant *e = c->iwant[i];
        clean_ids(&e->n_message_ids, e->message_ids, &left, lim, &d->ids);
        if (e->n_message_ids) c->iwant[k++] = e;
    }
    c->n_iwant = k;

    left = lim->max_ids;
    k = 0;
    for (size_t i = 0; i < c->n_idontwant; i++) {
        Gspb__ControlIDontWant *e = c->idontwant[i];
        clean_ids(&e->n_message_ids, e->message_ids, &left, lim, &d->ids);
        if (e->n_message_ids) c->idontwant[k++] = e;
    }
    c->n_idontwant = k;

    k = 0;
    for (size_t i = 0; i < c->n_graft; i++) {
        Gspb__ControlGraft *e = c->graft[i];
        if (k >= lim->max_control || !e->has_topic_id ||
            !gs_topic_valid(e->topic_id.data, e->topic_id.len, lim->max_topic_len)) {
            d->control++;
            continue;
        }
        c->graft[k++] = e;
    }
    c->n_graft = k;

    k = 0;
    for (size_t i = 0; i < c->n_prune; i++) {
        Gspb__ControlPrune *e = c->prune[i];
        if (k >= lim->max_control || !e->has_topic_id ||
            !gs_topic_valid(e->topic_id.data, e->topic_id.len, lim->max_topic_len)) {
            d->control++;
            continue;
        }
        size_t kp = 0;
        for (size_t j = 0; j < e->n_peers; j++) {
            Gspb__PeerInfo *pi = e->peers[j];
            p2p_peerid id;
            if (kp >= lim->max_px || !pi->has_peer_id ||
                p2p_peerid_from_bytes(&id, pi->peer_id.data, pi->peer_id.len) < 0) {
                d->px++;
                continue;
            }
            e->peers[kp++] = pi;
        }
        e->n_peers = kp;
        c->prune[k++] = e;
    }
    c->n_prune = k;
}

int gs_rpc_decode(struct gs_rpc *rpc, const uint8_t *buf, size_t len, const struct gs_rpc_limits *lim)
{
    memset(rpc, 0, sizeof *rpc);
    gs_arena_init(&rpc->arena, GS_DECODE_BUDGET(len));
    if (len > lim->max_rpc_size) return P2P_ERANGE;
    ProtobufCAllocator al = { arena_alloc, arena_free, &rpc->arena };
    rpc->pb = gspb__rpc__unpack(&al, len, buf);
    if (!rpc->pb) return P2P_EPROTO;

    Gspb__RPC *pb = rpc->pb;
    size_t k = 0;
    for (size_t i = 0; i < pb->n_subscriptions; i++) {
        Gspb__RPC__SubOpts *s = pb->subscriptions[i];
        if (k >= lim->max_subs || !s->has_topic_id ||
            !gs_topic_valid(s->topic_id.data, s->topic_id.len, lim->max_topic_len)) {
            rpc->drops.subs++;
            continue;
        }
        pb->subscriptions[k++] = s;
    }
    pb->n_subscriptions = k;
    if (pb->control) clean_control(pb->control, lim, &rpc->drops);
    return 0;
}

void gs_rpc_clear(struct gs_rpc *rpc)
{
    gs_arena_free(&rpc->arena);
    rpc->pb = NULL;
}

/* ---- framing ------------------------------------------------------------------ */

void gs_framer_init(struct gs_framer *f, size_t max_frame)
{
    /* One frame with its prefix, plus the rest of a read: the buffer's
     * limit is enforced by refusing oversized frames as soon as their
     * prefix is seen, so no hard limit is set here. */
    p2p_buf_init(&f->buf, 0);
    f->max = max_frame;
    f->consumed = 0;
}

void gs_framer_free(struct gs_framer *f)
{
    p2p_buf_free(&f->buf);
}

int gs_framer_push(struct gs_framer *f, const uint8_t *data, size_t len)
{
    if (f->consumed) {
        p2p_buf_consume(&f->buf, f->consumed);
        f->consumed = 0;
    }
    return p2p_buf_append(&f->buf, data, len);
}

int gs_framer_next(struct gs_framer *f, const uint8_t **frame, size_t *len)
{
    if (f->consumed) {
        p2p_buf_consume(&f->buf, f->consumed);
        f->consumed = 0;
    }
    const uint8_t *p = p2p_buf_head(&f->buf);
    uint64_t n;
    size_t used;
    int rc = p2p_varint_decode(p, f->buf.len, &n, &used);
    if (rc == P2P_ETRUNC) return 0;
    if (rc < 0) return P2P_EPROTO;
    if (n > f->max) return P2P_ERANGE;
    if (f->buf.len - used < n) return 0;
    *frame = p + used;
    *len = (size_t)n;
    f->consumed = used + (size_t)n;
    return 1;
}

/* ---- encoding ------------------------------------------------------------------ */

#define WT_VARINT 0
#define WT_LEN 2

static int put_tag(p2p_buf *b, unsigned field, unsigned wt)
{
    return p2p_buf_append_varint(b, (uint64_t)(field << 3 | wt));
}

static int put_bytes(p2p_buf *b, unsigned field, const void *p, size_t n)
{
    int rc = put_tag(b, field, WT_LEN);
    if (!rc) rc = p2p_buf_append_varint(b, n);
    if (!rc && n) rc = p2p_buf_append(b, p, n);
    return rc;
}

static size_t bytes_size(unsigned field, size_t n)
{
    return p2p_varint_size((uint64_t)(field << 3 | WT_LEN)) + p2p_varint_size(n) + n;
}

/* Append a length-delimited field whose body is built by the caller into
 * tmp; on failure the buffer is restored. */
static int put_sub(p2p_buf *b, unsigned field, const p2p_buf *tmp)
{
    size_t old = b->len;
    int rc = put_bytes(b, field, p2p_buf_head(tmp), tmp->len);
    if (rc) b->len = old;
    return rc;
}

void gs_pending_init(struct gs_pending *p)
{
    p2p_buf_init(&p->top, 0);
    p2p_buf_init(&p->ctl, 0);
    p->marks = NULL;
    p->nmarks = p->capmarks = 0;
}

/* Remember the item [off, b->len) of kind under key. Without room (the
 * cap, or no memory) the item is simply not cancellable. */
static void mark(struct gs_pending *p, unsigned kind, size_t off, size_t end, uint64_t key)
{
    if (p->nmarks == p->capmarks) {
        if (p->capmarks >= GS_PEND_MARKS_MAX) return;
        size_t ncap = p->capmarks ? p->capmarks * 2 : 8;
        struct gs_pend_mark *v = realloc(p->marks, ncap * sizeof *v);
        if (!v) return;
        p->marks = v;
        p->capmarks = ncap;
    }
    p->marks[p->nmarks++] = (struct gs_pend_mark){ .key = key, .off = off, .len = end - off, .kind = kind };
}

size_t gs_pending_cancel(struct gs_pending *p, uint64_t key, unsigned mask)
{
    size_t msgs = 0, i = 0;
    while (i < p->nmarks) {
        struct gs_pend_mark k = p->marks[i];
        if (k.key != key || !(k.kind & mask)) {
            i++;
            continue;
        }
        p2p_buf *b = k.kind == GS_PEND_MSG ? &p->top : &p->ctl;
        uint8_t *h = p2p_buf_head(b);
        memmove(h + k.off, h + k.off + k.len, b->len - k.off - k.len);
        b->len -= k.len;
        memmove(p->marks + i, p->marks + i + 1, (p->nmarks - i - 1) * sizeof *p->marks);
        p->nmarks--;
        /* Later items of the same buffer moved down. */
        for (size_t j = 0; j < p->nmarks; j++)
            if (p->marks[j].kind == k.kind && p->marks[j].off > k.off) p->marks[j].off -= k.len;
        if (k.kind == GS_PEND_MSG) msgs++;
    }
    return msgs;
}

void gs_pending_free(struct gs_pending *p)
{
    p2p_buf_free(&p->top);
    p2p_buf_free(&p->ctl);
    free(p->marks);
    p->marks = NULL;
    p->nmarks = p->capmarks = 0;
}

size_t gs_pending_size(const struct gs_pending *p)
{
    return p->top.len + p->ctl.len;
}

bool gs_pending_empty(const struct gs_pending *p)
{
    return p->top.len == 0 && p->ctl.len == 0;
}

int gs_pending_sub(struct gs_pending *p, const char *topic, size_t tlen, bool subscribe)
{
    p2p_buf t;
    p2p_buf_init(&t, 0);
    int rc = put_tag(&t, 1, WT_VARINT);
    if (!rc) rc = p2p_buf_append_byte(&t, subscribe ? 1 : 0);
    if (!rc) rc = put_bytes(&t, 2, topic, tlen);
    if (!rc) rc = put_sub(&p->top, 1, &t);
    p2p_buf_free(&t);
    return rc;
}

int gs_pending_msg(struct gs_pending *p, const uint8_t *enc, size_t len)
{
    size_t old = p->top.len;
    int rc = put_bytes(&p->top, 2, enc, len);
    if (rc) p->top.len = old;
    return rc;
}

int gs_pending_msg_keyed(struct gs_pending *p, const uint8_t *enc, size_t len, uint64_t key)
{
    size_t old = p->top.len;
    int rc = gs_pending_msg(p, enc, len);
    if (!rc) mark(p, GS_PEND_MSG, old, p->top.len, key);
    return rc;
}

static int ids_entry(p2p_buf *ctl, unsigned ctl_field, unsigned ids_field, const char *topic, size_t tlen,
                     const uint8_t *const *ids, const size_t *id_lens, size_t n)
{
    p2p_buf t;
    p2p_buf_init(&t, 0);
    int rc = topic ? put_bytes(&t, 1, topic, tlen) : 0;
    for (size_t i = 0; !rc && i < n; i++) rc = put_bytes(&t, ids_field, ids[i], id_lens[i]);
    if (!rc) rc = put_sub(ctl, ctl_field, &t);
    p2p_buf_free(&t);
    return rc;
}

int gs_pending_ihave(struct gs_pending *p, const char *topic, size_t tlen,
                     const uint8_t *const *ids, const size_t *id_lens, size_t n)
{
    return ids_entry(&p->ctl, 1, 2, topic, tlen, ids, id_lens, n);
}

int gs_pending_iwant(struct gs_pending *p, const uint8_t *const *ids, const size_t *id_lens, size_t n)
{
    return ids_entry(&p->ctl, 2, 1, NULL, 0, ids, id_lens, n);
}

int gs_pending_idontwant(struct gs_pending *p, const uint8_t *const *ids, const size_t *id_lens, size_t n)
{
    return ids_entry(&p->ctl, 5, 1, NULL, 0, ids, id_lens, n);
}

int gs_pending_idontwant_keyed(struct gs_pending *p, const uint8_t *id, size_t id_len, uint64_t key)
{
    size_t old = p->ctl.len;
    int rc = gs_pending_idontwant(p, &id, &id_len, 1);
    if (!rc) mark(p, GS_PEND_IDONTWANT, old, p->ctl.len, key);
    return rc;
}

int gs_pending_graft(struct gs_pending *p, const char *topic, size_t tlen)
{
    p2p_buf t;
    p2p_buf_init(&t, 0);
    int rc = put_bytes(&t, 1, topic, tlen);
    if (!rc) rc = put_sub(&p->ctl, 3, &t);
    p2p_buf_free(&t);
    return rc;
}

int gs_pending_prune(struct gs_pending *p, const char *topic, size_t tlen, uint64_t backoff_s,
                     bool has_backoff, const p2p_peerid *px, size_t npx)
{
    p2p_buf t, pi;
    p2p_buf_init(&t, 0);
    p2p_buf_init(&pi, 0);
    int rc = put_bytes(&t, 1, topic, tlen);
    for (size_t i = 0; !rc && i < npx; i++) {
        p2p_buf_reset(&pi);
        rc = put_bytes(&pi, 1, px[i].bytes, px[i].len);
        if (!rc) rc = put_sub(&t, 2, &pi);
    }
    if (!rc && has_backoff) {
        rc = put_tag(&t, 3, WT_VARINT);
        if (!rc) rc = p2p_buf_append_varint(&t, backoff_s);
    }
    if (!rc) rc = put_sub(&p->ctl, 4, &t);
    p2p_buf_free(&t);
    p2p_buf_free(&pi);
    return rc;
}

/* Size of the encoded item (tag, length, body) at off; our own encoding,
 * so it is well formed. */
static size_t item_size(const p2p_buf *b, size_t off)
{
    const uint8_t *p = p2p_buf_head(b) + off;
    size_t rest = b->len - off, u1, u2;
    uint64_t tag, n;
    if (p2p_varint_decode(p, rest, &tag, &u1) < 0) return rest;
    if (p2p_varint_decode(p + u1, rest - u1, &n, &u2) < 0) return rest;
    size_t total = u1 + u2 + (size_t)n;
    return total > rest ? rest : total;
}

int gs_pending_seal(struct gs_pending *p, p2p_buf *out, size_t target)
{
    size_t old = out->len;
    size_t ti = 0, ci = 0;
    int rc = 0;
    const uint8_t *top = p2p_buf_head(&p->top), *ctl = p2p_buf_head(&p->ctl);
    while (!rc && (ti < p->top.len || ci < p->ctl.len)) {
        size_t t0 = ti, body = 0;
        while (ti < p->top.len) {
            size_t n = item_size(&p->top, ti);
            if (body && body + n > target) break;
            body += n;
            ti += n;
        }
        size_t c0 = ci, csz = 0;
        while (ci < p->ctl.len) {
            size_t n = item_size(&p->ctl, ci);
            size_t need = body + bytes_size(3, csz + n);
            if ((body || csz) && need > target) break;
            csz += n;
            ci += n;
        }
        size_t frame = body + (csz ? bytes_size(3, csz) : 0);
        rc = p2p_buf_reserve(out, p2p_varint_size(frame) + frame);
        if (!rc) rc = p2p_buf_append_varint(out, frame);
        if (!rc && body) rc = p2p_buf_append(out, top + t0, body);
        if (!rc && csz) {
            rc = put_tag(out, 3, WT_LEN);
            if (!rc) rc = p2p_buf_append_varint(out, csz);
            if (!rc) rc = p2p_buf_append(out, ctl + c0, csz);
        }
    }
    if (rc) out->len = old;
    p2p_buf_reset(&p->top);
    p2p_buf_reset(&p->ctl);
    p->nmarks = 0;
    return rc;
}
