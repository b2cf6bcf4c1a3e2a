/* gs_testlib.c - see gs_testlib.h. */
#include "gs_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "testutil.h"

void gst_id(struct gst_id *out, uint8_t n)
{
    p2p_keypair_from_seed_byte(&out->kp, n);
    p2p_pubkey pub;
    p2p_keypair_public(&out->kp, &pub);
    ck_assert_int_eq(p2p_peerid_from_pubkey(&out->id, &pub), 0);
}

static void copy_str(char *dst, size_t cap, const ProtobufCBinaryData *b)
{
    size_t n = b->len < cap - 1 ? b->len : cap - 1;
    memcpy(dst, b->data, n);
    dst[n] = 0;
}

static void record(struct gst_seen *s, const Gspb__RPC *pb)
{
    for (size_t i = 0; i < pb->n_subscriptions; i++) {
        const Gspb__RPC__SubOpts *so = pb->subscriptions[i];
        if (so->subscribe) {
            if (s->nsub < GST_MAX) copy_str(s->sub[s->nsub], 64, &so->topic_id);
            s->nsub++;
        } else {
            s->nunsub++;
        }
    }
    for (size_t i = 0; i < pb->n_publish; i++) {
        const Gspb__Message *m = pb->publish[i];
        if (s->nmsg < GST_MAX) {
            size_t n = m->data.len < 64 ? m->data.len : 64;
            if (n) memcpy(s->msg_data[s->nmsg], m->data.data, n);
            s->msg_len[s->nmsg] = m->data.len;
        }
        s->nmsg++;
    }
    const Gspb__ControlMessage *c = pb->control;
    if (!c) return;
    for (size_t i = 0; i < c->n_ihave; i++) {
        s->nihave++;
        for (size_t j = 0; j < c->ihave[i]->n_message_ids; j++) {
            const ProtobufCBinaryData *id = &c->ihave[i]->message_ids[j];
            if (s->nihave_ids < GST_MAX && id->len <= GS_MSGID_MAX) {
                memcpy(s->ihave_id[s->nihave_ids], id->data, id->len);
                s->ihave_id_len[s->nihave_ids] = id->len;
            }
            s->nihave_ids++;
        }
    }
    for (size_t i = 0; i < c->n_iwant; i++) {
        for (size_t j = 0; j < c->iwant[i]->n_message_ids; j++) {
            const ProtobufCBinaryData *id = &c->iwant[i]->message_ids[j];
            if (s->niwant_ids < GST_MAX && id->len <= GS_MSGID_MAX) {
                memcpy(s->iwant_id[s->niwant_ids], id->data, id->len);
                s->iwant_id_len[s->niwant_ids] = id->len;
            }
            s->niwant_ids++;
        }
    }
    for (size_t i = 0; i < c->n_graft; i++) {
        if (s->ngraft < GST_MAX) copy_str(s->graft[s->ngraft], 64, &c->graft[i]->topic_id);
        s->ngraft++;
    }
    for (size_t i = 0; i < c->n_prune; i++) {
        if (s->nprune < GST_MAX) {
            copy_str(s->prune[s->nprune], 64, &c->prune[i]->topic_id);
            s->prune_backoff[s->nprune] = c->prune[i]->backoff;
            s->prune_has_backoff[s->nprune] = c->prune[i]->has_backoff;
        }
        s->npx += c->prune[i]->n_peers;
        s->nprune++;
    }
    for (size_t i = 0; i < c->n_idontwant; i++) s->nidontwant_ids += c->idontwant[i]->n_message_ids;
}

static const struct gs_rpc_limits test_limits = { 16 << 20, 1024, GS_MSGID_MAX, 100000, 100000, 100000, 1000 };

void gst_drain(struct gs_router *r, const p2p_peerid *peer, struct gst_seen *s)
{
    memset(s, 0, sizeof *s);
    p2p_buf *b = gs_router_outq(r, peer);
    ck_assert_ptr_nonnull(b);
    struct gs_framer fr;
    gs_framer_init(&fr, 16 << 20);
    ck_assert_int_eq(gs_framer_push(&fr, p2p_buf_head(b), b->len), 0);
    p2p_buf_consume(b, b->len);
    const uint8_t *f;
    size_t len;
    int rc;
    while ((rc = gs_framer_next(&fr, &f, &len)) == 1) {
        struct gs_rpc rpc;
        ck_assert_int_eq(gs_rpc_decode(&rpc, f, len, &test_limits), 0);
        record(s, rpc.pb);
        gs_rpc_clear(&rpc);
        s->frames++;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(fr.buf.len - fr.consumed, 0);
    gs_framer_free(&fr);
}

void gst_discard(struct gs_router *r)
{
    p2p_peerid id;
    while (gs_router_next_dirty(r, &id)) {
        p2p_buf *b = gs_router_outq(r, &id);
        p2p_buf_consume(b, b->len);
    }
}

int gst_feed(struct gs_router *r, const p2p_peerid *peer, struct gs_pending *p, uint64_t now)
{
    p2p_buf out;
    p2p_buf_init(&out, 0);
    ck_assert_int_eq(gs_pending_seal(p, &out, 1 << 30), 0);
    struct gs_framer fr;
    gs_framer_init(&fr, 16 << 20);
    ck_assert_int_eq(gs_framer_push(&fr, p2p_buf_head(&out), out.len), 0);
    const uint8_t *f;
    size_t len;
    int rc = 0;
    while (gs_framer_next(&fr, &f, &len) == 1) {
        int x = gs_router_handle_rpc(r, peer, f, len, now);
        if (x < 0) rc = x;
    }
    gs_framer_free(&fr);
    p2p_buf_free(&out);
    return rc;
}

struct gs_msg *gst_msg(const struct gst_id *author, uint64_t seqno, const char *topic, const char *data)
{
    struct gs_msg *m;
    ck_assert_int_eq(gs_msg_publish(&m, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, &author->kp, &author->id, seqno, topic,
                                    (const uint8_t *)data, strlen(data)),
                     0);
    return m;
}

void gst_events(struct gs_router *r, struct gst_events *e)
{
    struct gs_event ev;
    while (gs_router_next_event(r, &ev)) {
        switch (ev.type) {
        case GS_EV_MESSAGE: {
            e->msgs++;
            size_t n = ev.msg->len < sizeof e->last_data - 1 ? ev.msg->len : sizeof e->last_data - 1;
            if (n) memcpy(e->last_data, ev.msg->data, n);
            e->last_data[n] = 0;
            e->last_from = ev.peer;
            break;
        }
        case GS_EV_PEER_JOINED: e->joined++; break;
        case GS_EV_PEER_LEFT: e->left++; break;
        case GS_EV_PX:
            if (e->px < 16) e->px_peer[e->px] = ev.peer;
            e->px++;
            break;
        }
        gs_event_clear(&ev);
    }
}

/* ---- networks ------------------------------------------------------------------------ */

static enum p2p_pubsub_validation node_validate(void *arg, const struct gs_msg *m, const p2p_peerid *from)
{
    (void)m;
    (void)from;
    struct gst_node *n = arg;
    n->validated++;
    return n->verdict;
}

void gst_net_init(struct gst_net *net, size_t n, const struct gs_config *cfg, bool scoring)
{
    ck_assert_uint_le(n, GST_NODES);
    memset(net, 0, sizeof *net);
    net->n = n;
    net->now = 1000000;
    struct gs_config def;
    if (!cfg) {
        gs_config_default(&def);
        cfg = &def;
    }
    net->hb = cfg->heartbeat_ms;
    for (size_t i = 0; i < n; i++) {
        struct gst_node *nd = &net->node[i];
        gst_id(&nd->id, (uint8_t)(i + 1));
        nd->verdict = P2P_PUBSUB_ACCEPT;
        if (scoring) {
            struct gs_score_params sp;
            gs_score_params_default(&sp);
            ck_assert_int_eq(gs_score_new(&nd->score, &sp), 0);
        }
        struct gs_router_init ri = {
            .cfg = cfg, .key = &nd->id.kp, .self = &nd->id.id, .seqno_start = 1000 * (i + 1), .seed = i + 7,
            .score = nd->score, .score_joined_topics = true, .validate = node_validate, .validate_arg = nd,
        };
        ck_assert_int_eq(gs_router_new(&nd->r, &ri, net->now), 0);
    }
}

void gst_net_free(struct gst_net *net)
{
    for (size_t i = 0; i < net->n; i++) {
        gs_router_free(net->node[i].r);
        gs_score_free(net->node[i].score);
    }
}

void gst_link(struct gst_net *net, size_t a, size_t b, enum gs_proto proto)
{
    ck_assert_int_eq(gs_router_add_peer(net->node[a].r, &net->node[b].id.id, proto, true, NULL, 0, net->now), 0);
    ck_assert_int_eq(gs_router_add_peer(net->node[b].r, &net->node[a].id.id, proto, false, NULL, 0, net->now), 0);
    net->link[a][b] = net->link[b][a] = true;
}

void gst_unlink(struct gst_net *net, size_t a, size_t b)
{
    gs_router_remove_peer(net->node[a].r, &net->node[b].id.id, net->now);
    gs_router_remove_peer(net->node[b].r, &net->node[a].id.id, net->now);
    net->link[a][b] = net->link[b][a] = false;
}

int gst_index(const struct gst_net *net, const p2p_peerid *id)
{
    for (size_t i = 0; i < net->n; i++)
        if (p2p_peerid_equal(&net->node[i].id.id, id)) return (int)i;
    return -1;
}

void gst_deliver(struct gst_net *net)
{
    for (int round = 0; round < 1000; round++) {
        bool moved = false;
        for (size_t i = 0; i < net->n; i++) {
            struct gst_node *src = &net->node[i];
            p2p_peerid id;
            while (gs_router_next_dirty(src->r, &id)) {
                int j = gst_index(net, &id);
                p2p_buf *b = gs_router_outq(src->r, &id);
                ck_assert_int_ge(j, 0);
                if (!net->link[i][j] || net->drop_to[j]) {
                    p2p_buf_consume(b, b->len);
                    continue;
                }
                /* The receiver reads whole frames. */
                struct gs_framer fr;
                gs_framer_init(&fr, 16 << 20);
                ck_assert_int_eq(gs_framer_push(&fr, p2p_buf_head(b), b->len), 0);
                net->bytes_sent[i][j] += b->len;
                p2p_buf_consume(b, b->len);
                const uint8_t *f;
                size_t len;
                while (gs_framer_next(&fr, &f, &len) == 1) {
                    ck_assert_int_eq(gs_router_handle_rpc(net->node[j].r, &src->id.id, f, len, net->now), 0);
                    net->frames++;
                    moved = true;
                }
                gs_framer_free(&fr);
            }
            gst_events(src->r, &src->ev);
        }
        if (!moved) return;
    }
    ck_abort_msg("network does not settle");
}

void gst_run(struct gst_net *net, uint64_t ms)
{
    uint64_t end = net->now + ms;
    while (net->now < end) {
        uint64_t step = net->hb < end - net->now ? net->hb : end - net->now;
        net->now += step;
        for (size_t i = 0; i < net->n; i++) gs_router_heartbeat(net->node[i].r, net->now);
        gst_deliver(net);
    }
}

/* ---- one router and fake peers ------------------------------------------------------------ */

static enum p2p_pubsub_validation fx_validate(void *arg, const struct gs_msg *m, const p2p_peerid *from)
{
    (void)m;
    (void)from;
    struct fx *f = arg;
    f->validated++;
    return f->verdict;
}

void fx_init(struct fx *f, size_t n, bool scoring, void (*tweak)(struct gs_config *))
{
    memset(f, 0, sizeof *f);
    gs_config_default(&f->cfg);
    if (tweak) tweak(&f->cfg);
    gst_id(&f->self, 200);
    for (size_t i = 0; i < n; i++) gst_id(&f->peer[i], (uint8_t)(i + 1));
    f->n = n;
    f->now = 5000000;
    if (scoring) {
        struct gs_score_params sp;
        gs_score_params_default(&sp);
        ck_assert_int_eq(gs_score_new(&f->score, &sp), 0);
    }
    struct gs_router_init ri = {
        .cfg = &f->cfg, .key = &f->self.kp, .self = &f->self.id, .seqno_start = 1, .seed = 99,
        .score = f->score, .score_joined_topics = true, .validate = fx_validate, .validate_arg = f,
    };
    ck_assert_int_eq(gs_router_new(&f->r, &ri, f->now), 0);
}

void fx_free(struct fx *f)
{
    gs_router_free(f->r);
    gs_score_free(f->score);
}

void fx_add(struct fx *f, size_t a, size_t b, enum gs_proto proto, bool outbound)
{
    for (size_t i = a; i < b; i++)
        ck_assert_int_eq(gs_router_add_peer(f->r, &f->peer[i].id, proto, outbound, NULL, 0, f->now), 0);
}

void fx_sub(struct fx *f, size_t i, const char *topic, bool sub)
{
    struct gs_pending p;
    gs_pending_init(&p);
    gs_pending_sub(&p, topic, strlen(topic), sub);
    ck_assert_int_eq(gst_feed(f->r, &f->peer[i].id, &p, f->now), 0);
    gs_pending_free(&p);
}

void fx_graft(struct fx *f, size_t i, const char *topic)
{
    struct gs_pending p;
    gs_pending_init(&p);
    gs_pending_graft(&p, topic, strlen(topic));
    ck_assert_int_eq(gst_feed(f->r, &f->peer[i].id, &p, f->now), 0);
    gs_pending_free(&p);
}

void fx_prune(struct fx *f, size_t i, const char *topic, uint64_t backoff_s, const p2p_peerid *px, size_t npx)
{
    struct gs_pending p;
    gs_pending_init(&p);
    gs_pending_prune(&p, topic, strlen(topic), backoff_s, backoff_s > 0, px, npx);
    ck_assert_int_eq(gst_feed(f->r, &f->peer[i].id, &p, f->now), 0);
    gs_pending_free(&p);
}

void fx_send_msg(struct fx *f, size_t i, const struct gs_msg *m)
{
    struct gs_pending p;
    gs_pending_init(&p);
    gs_pending_msg(&p, m->enc, m->enc_len);
    ck_assert_int_eq(gst_feed(f->r, &f->peer[i].id, &p, f->now), 0);
    gs_pending_free(&p);
}

void fx_beat(struct fx *f, uint64_t ms)
{
    f->now += ms;
    gs_router_heartbeat(f->r, f->now);
}

bool fx_in_mesh(struct fx *f, size_t i, const char *topic)
{
    p2p_peerid v[64];
    size_t n = gs_router_mesh_peers(f->r, topic, v, 64);
    for (size_t k = 0; k < n && k < 64; k++)
        if (p2p_peerid_equal(&v[k], &f->peer[i].id)) return true;
    return false;
}

size_t fx_mesh_n(struct fx *f, const char *topic)
{
    p2p_peerid v[64];
    return gs_router_mesh_peers(f->r, topic, v, 64);
}

void fx_drain_all(struct fx *f, struct gst_seen *per, struct gst_seen *sum)
{
    memset(sum, 0, sizeof *sum);
    for (size_t i = 0; i < f->n; i++) {
        struct gst_seen s;
        memset(&s, 0, sizeof s);
        if (gs_router_has_peer(f->r, &f->peer[i].id)) gst_drain(f->r, &f->peer[i].id, &s);
        if (per) per[i] = s;
        sum->nsub += s.nsub;
        sum->nunsub += s.nunsub;
        sum->nmsg += s.nmsg;
        sum->ngraft += s.ngraft;
        sum->nprune += s.nprune;
        sum->nihave += s.nihave;
        sum->niwant_ids += s.niwant_ids;
        sum->nidontwant_ids += s.nidontwant_ids;
    }
    gst_discard(f->r);
}

/* ---- tests ----------------------------------------------------------------------------- */
