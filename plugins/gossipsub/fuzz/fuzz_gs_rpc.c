/* fuzz_gs_rpc.c - the RPC framing and decoder (gs_rpc.c) and message
 * checks (gs_msg.c) on arbitrary bytes: the input is a stream of
 * length-prefixed frames fed in pieces whose size comes from the first
 * byte; every frame is decoded with small limits, the cleaned result is
 * checked against them, messages go through the policy checks and the
 * signature verification, and everything decoded is encoded again with
 * our encoder, decoded again, and compared. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gs_msg.h"
#include "gs_rpc.h"
#include "p2p/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct gs_rpc_limits LIM = { 4096, 32, 64, 8, 16, 4, 3 };

static void check_limits(const struct gs_rpc *rpc)
{
    const Gspb__RPC *pb = rpc->pb;
    if (pb->n_subscriptions > LIM.max_subs) __builtin_trap();
    for (size_t i = 0; i < pb->n_subscriptions; i++) {
        const ProtobufCBinaryData *t = &pb->subscriptions[i]->topic_id;
        if (!gs_topic_valid(t->data, t->len, LIM.max_topic_len)) __builtin_trap();
    }
    const Gspb__ControlMessage *c = pb->control;
    if (!c) return;
    size_t ids = 0;
    for (size_t i = 0; i < c->n_ihave; i++) {
        if (!gs_topic_valid(c->ihave[i]->topic_id.data, c->ihave[i]->topic_id.len, LIM.max_topic_len)) __builtin_trap();
        for (size_t j = 0; j < c->ihave[i]->n_message_ids; j++)
            if (!c->ihave[i]->message_ids[j].len || c->ihave[i]->message_ids[j].len > LIM.max_id_len) __builtin_trap();
        ids += c->ihave[i]->n_message_ids;
    }
    if (ids > LIM.max_ids || c->n_graft > LIM.max_control || c->n_prune > LIM.max_control) __builtin_trap();
    for (size_t i = 0; i < c->n_prune; i++)
        if (c->prune[i]->n_peers > LIM.max_px) __builtin_trap();
}

/* Encode what was decoded; returns the pending items. */
static void reencode(const Gspb__RPC *pb, struct gs_pending *p)
{
    for (size_t i = 0; i < pb->n_subscriptions; i++) {
        const Gspb__RPC__SubOpts *s = pb->subscriptions[i];
        gs_pending_sub(p, (const char *)s->topic_id.data, s->topic_id.len, s->has_subscribe && s->subscribe);
    }
    const Gspb__ControlMessage *c = pb->control;
    if (!c) return;
    for (size_t i = 0; i < c->n_ihave; i++) {
        const Gspb__ControlIHave *e = c->ihave[i];
        const uint8_t *ids[16];
        size_t lens[16];
        size_t n = e->n_message_ids < 16 ? e->n_message_ids : 16;
        for (size_t j = 0; j < n; j++) {
            ids[j] = e->message_ids[j].data;
            lens[j] = e->message_ids[j].len;
        }
        gs_pending_ihave(p, (const char *)e->topic_id.data, e->topic_id.len, ids, lens, n);
    }
    for (size_t i = 0; i < c->n_graft; i++)
        gs_pending_graft(p, (const char *)c->graft[i]->topic_id.data, c->graft[i]->topic_id.len);
    for (size_t i = 0; i < c->n_prune; i++) {
        const Gspb__ControlPrune *e = c->prune[i];
        p2p_peerid px[3];
        size_t n = 0;
        for (size_t j = 0; j < e->n_peers && n < 3; j++)
            if (p2p_peerid_from_bytes(&px[n], e->peers[j]->peer_id.data, e->peers[j]->peer_id.len) == 0) n++;
        gs_pending_prune(p, (const char *)e->topic_id.data, e->topic_id.len, e->backoff, e->has_backoff, px, n);
    }
}

static void check_messages(const Gspb__RPC *pb, struct gs_pending *p)
{
    for (size_t i = 0; i < pb->n_publish; i++) {
        for (int pol = 0; pol < 3; pol++) {
            struct gs_msg *m = NULL;
            int rc = gs_msg_from_pb(&m, pb->publish[i], (enum gs_sign_policy)pol,
                                    pol == GS_SIGN_ANONYMOUS ? GS_ID_CONTENT : (enum gs_id_mode)(i % 3), 1024, 32);
            if (rc != GS_VALID) {
                if (m) __builtin_trap();
                continue;
            }
            if (!m || !m->id_len || m->id_len > GS_MSGID_MAX || m->enc_len < m->unsigned_len) __builtin_trap();
            if (m->len > 1024 || strlen(m->topic) != m->topic_len) __builtin_trap();
            gs_msg_verify(m, (enum gs_sign_policy)pol);
            if (pol == 0) gs_pending_msg(p, m->enc, m->enc_len);
            gs_msg_unref(m);
        }
    }
}

static void roundtrip(const Gspb__RPC *pb)
{
    struct gs_pending p;
    gs_pending_init(&p);
    reencode(pb, &p);
    check_messages(pb, &p);
    p2p_buf out;
    p2p_buf_init(&out, 0);
    if (gs_pending_seal(&p, &out, 512) == 0) {
        struct gs_framer fr;
        gs_framer_init(&fr, 1 << 20);
        gs_framer_push(&fr, p2p_buf_head(&out), out.len);
        const uint8_t *f;
        size_t len;
        size_t subs = 0;
        int rc;
        struct gs_rpc_limits big = { 1 << 20, 32, 64, 1000, 1000, 1000, 1000 };
        while ((rc = gs_framer_next(&fr, &f, &len)) == 1) {
            struct gs_rpc again;
            /* Our own encoding always decodes, and nothing is dropped. */
            if (gs_rpc_decode(&again, f, len, &big) != 0) __builtin_trap();
            if (again.drops.subs || again.drops.control) __builtin_trap();
            subs += again.pb->n_subscriptions;
            gs_rpc_clear(&again);
        }
        if (rc != 0 || subs != pb->n_subscriptions) __builtin_trap();
        gs_framer_free(&fr);
    }
    p2p_buf_free(&out);
    gs_pending_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = (size_t)(data[0] % 64) + 1;
    data++;
    size--;
    struct gs_framer fr;
    gs_framer_init(&fr, LIM.max_rpc_size);
    int rc = 0;
    for (size_t off = 0; off < size && rc >= 0; off += step) {
        size_t n = size - off < step ? size - off : step;
        if (gs_framer_push(&fr, data + off, n) < 0) break;
        const uint8_t *f;
        size_t len;
        while ((rc = gs_framer_next(&fr, &f, &len)) == 1) {
            struct gs_rpc rpc;
            if (gs_rpc_decode(&rpc, f, len, &LIM) == 0) {
                check_limits(&rpc);
                roundtrip(rpc.pb);
            }
            gs_rpc_clear(&rpc);
        }
    }
    gs_framer_free(&fr);
    /* The whole input as one frame body too. */
    struct gs_rpc rpc;
    if (gs_rpc_decode(&rpc, data, size, &LIM) == 0) {
        check_limits(&rpc);
        roundtrip(rpc.pb);
    }
    gs_rpc_clear(&rpc);
    return 0;
}
