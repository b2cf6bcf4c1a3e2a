/* fuzz_gs_router.c - the router (gs_router.h, with the scorer) fed
 * arbitrary RPCs and API calls.
 *
 * The input is a script over 6 fake peers (all protocol versions), 4
 * topics and a clock: raw frames (arbitrary bytes), well-formed RPCs
 * built from the input (subscriptions, validly signed messages by 3
 * authors, IHAVE/IWANT/IDONTWANT with ids of messages that exist or not,
 * GRAFT, PRUNE with PX and backoff), joins, leaves, publications, peers
 * coming and going, heartbeats, validator verdicts. Small limits make
 * them reachable. Checks: no crash or sanitizer report; everything the
 * router sends decodes; meshes stay within D_hi plus the peers that may
 * graft beyond it; events are well formed. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gs_msg.h"
#include "gs_router.h"
#include "gs_rpc.h"
#include "gs_score.h"
#include "p2p/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPEERS 6
#define NTOPICS 4
#define NAUTH 3

static const char *const topics[NTOPICS] = { "a", "bb", "ccc", "dddd" };

struct rd {
    const uint8_t *p;
    size_t n;
};

static uint8_t u8(struct rd *r)
{
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}

struct ctx {
    struct gs_router *r;
    p2p_keypair keys[NPEERS + NAUTH + 1];
    p2p_peerid ids[NPEERS + NAUTH + 1];
    bool connected[NPEERS];
    uint64_t now;
    enum p2p_pubsub_validation verdict;
    uint8_t known_ids[8][GS_MSGID_MAX];
    size_t known_len[8];
    size_t nknown;
};

static enum p2p_pubsub_validation validate(void *arg, const struct gs_msg *m, const p2p_peerid *from)
{
    (void)from;
    struct ctx *c = arg;
    if (!m->id_len || m->len > 2048) __builtin_trap();
    return c->verdict;
}

static void feed(struct ctx *c, int peer, struct gs_pending *p)
{
    p2p_buf out;
    p2p_buf_init(&out, 0);
    if (gs_pending_seal(p, &out, 1 << 20) == 0) {
        struct gs_framer fr;
        gs_framer_init(&fr, 1 << 20);
        gs_framer_push(&fr, p2p_buf_head(&out), out.len);
        const uint8_t *f;
        size_t len;
        while (gs_framer_next(&fr, &f, &len) == 1) gs_router_handle_rpc(c->r, &c->ids[peer], f, len, c->now);
        gs_framer_free(&fr);
    }
    p2p_buf_free(&out);
}

static void remember(struct ctx *c, const uint8_t *id, size_t len)
{
    size_t k = c->nknown++ % 8;
    memcpy(c->known_ids[k], id, len);
    c->known_len[k] = len;
}

/* Everything the router queued must decode. */
static void drain(struct ctx *c)
{
    static const struct gs_rpc_limits big = { 1 << 22, 1024, GS_MSGID_MAX, 1 << 20, 1 << 20, 1 << 20, 1 << 20 };
    p2p_peerid id;
    while (gs_router_next_dirty(c->r, &id)) {
        p2p_buf *b = gs_router_outq(c->r, &id);
        if (!b) __builtin_trap();
        struct gs_framer fr;
        gs_framer_init(&fr, 1 << 22);
        gs_framer_push(&fr, p2p_buf_head(b), b->len);
        p2p_buf_consume(b, b->len);
        const uint8_t *f;
        size_t len;
        int rc;
        while ((rc = gs_framer_next(&fr, &f, &len)) == 1) {
            struct gs_rpc rpc;
            if (gs_rpc_decode(&rpc, f, len, &big) != 0 || rpc.drops.subs || rpc.drops.ids || rpc.drops.control)
                __builtin_trap();
            gs_rpc_clear(&rpc);
        }
        if (rc != 0 || fr.buf.len != fr.consumed) __builtin_trap();
        gs_framer_free(&fr);
    }
    struct gs_event ev;
    while (gs_router_next_event(c->r, &ev)) {
        if (ev.type == GS_EV_MESSAGE && !ev.msg) __builtin_trap();
        if ((ev.type == GS_EV_PEER_JOINED || ev.type == GS_EV_PEER_LEFT) && !ev.topic) __builtin_trap();
        gs_event_clear(&ev);
    }
    for (int t = 0; t < NTOPICS; t++) {
        p2p_peerid v[NPEERS + 1];
        if (gs_router_mesh_peers(c->r, topics[t], v, NPEERS + 1) > NPEERS) __builtin_trap();
    }
}

static void op_rpc(struct ctx *c, struct rd *r)
{
    int peer = u8(r) % NPEERS;
    if (!c->connected[peer]) return;
    struct gs_pending p;
    gs_pending_init(&p);
    unsigned items = u8(r) % 6 + 1;
    for (unsigned i = 0; i < items && r->n; i++) {
        const char *t = topics[u8(r) % NTOPICS];
        uint8_t kind = u8(r) % 8;
        const uint8_t *ids[4];
        size_t lens[4];
        size_t nid = u8(r) % 4 + 1;
        uint8_t fresh[4][8];
        for (size_t k = 0; k < nid; k++) {
            if (c->nknown && u8(r) & 1) {
                size_t j = u8(r) % (c->nknown < 8 ? c->nknown : 8);
                ids[k] = c->known_ids[j];
                lens[k] = c->known_len[j];
            } else {
                for (int b = 0; b < 8; b++) fresh[k][b] = u8(r);
                ids[k] = fresh[k];
                lens[k] = 1 + fresh[k][0] % 8;
            }
        }
        switch (kind) {
        case 0: gs_pending_sub(&p, t, strlen(t), u8(r) & 1); break;
        case 1: {
            int a = NPEERS + u8(r) % NAUTH;
            uint8_t d[64];
            size_t dl = u8(r) % sizeof d;
            for (size_t k = 0; k < dl; k++) d[k] = u8(r);
            uint64_t seq = u8(r) % 16;
            struct gs_msg *m;
            if (gs_msg_publish(&m, GS_SIGN_STRICT, GS_ID_FROM_SEQNO, &c->keys[a], &c->ids[a], seq, t, d, dl) == 0) {
                uint8_t enc[256];
                memcpy(enc, m->enc, m->enc_len);
                if (u8(r) % 8 == 0) enc[u8(r) % m->enc_len] ^= (uint8_t)(1 << (u8(r) % 8));
                remember(c, m->id, m->id_len);
                gs_pending_msg(&p, enc, m->enc_len);
                gs_msg_unref(m);
            }
            break;
        }
        case 2: gs_pending_ihave(&p, t, strlen(t), ids, lens, nid); break;
        case 3: gs_pending_iwant(&p, ids, lens, nid); break;
        case 4: gs_pending_idontwant(&p, ids, lens, nid); break;
        case 5: gs_pending_graft(&p, t, strlen(t)); break;
        default: {
            p2p_peerid px[3];
            size_t npx = u8(r) % 4;
            for (size_t k = 0; k < npx; k++) px[k] = c->ids[u8(r) % (NPEERS + NAUTH + 1)];
            gs_pending_prune(&p, t, strlen(t), u8(r) % 4, u8(r) & 1, px, npx);
            break;
        }
        }
    }
    feed(c, peer, &p);
    gs_pending_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctx c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i <= NPEERS + NAUTH; i++) {
        p2p_keypair_from_seed_byte(&c.keys[i], (uint8_t)(i + 1));
        p2p_pubkey pub;
        p2p_keypair_public(&c.keys[i], &pub);
        p2p_peerid_from_pubkey(&c.ids[i], &pub);
    }
    struct rd r = { data, size };
    struct gs_config cfg;
    gs_config_default(&cfg);
    cfg.d = 3;
    cfg.d_lo = 2;
    cfg.d_hi = 4;
    cfg.d_score = 1;
    cfg.d_out = 1;
    cfg.d_lazy = 2;
    cfg.flood_publish = u8(&r) & 1;
    cfg.do_px = u8(&r) & 1;
    cfg.th.accept_px = 0;
    cfg.max_ihave_length = 8;
    cfg.max_ihave_messages = 3;
    cfg.max_message_size = 2048;
    cfg.max_rpc_size = 4096;
    cfg.max_queue_bytes = 8192;
    cfg.max_topics = 3;
    cfg.max_peer_topics = 3;
    cfg.max_known_topics = 5;
    cfg.max_mcache = 6;
    cfg.max_mcache_bytes = 600;
    cfg.max_seen = 16;
    cfg.max_backoff = 5;
    cfg.max_promises = 3;
    cfg.max_fanout_topics = 2;
    cfg.max_idontwant = 4;
    cfg.idontwant_threshold = 16;
    cfg.opportunistic_graft_ticks = 3;
    struct gs_score *score = NULL;
    if (u8(&r) & 1) {
        struct gs_score_params sp;
        gs_score_params_default(&sp);
        sp.max_peers = 8;
        sp.max_deliveries = 8;
        gs_score_new(&score, &sp);
    }
    c.now = 1000;
    struct gs_router_init ri = {
        .cfg = &cfg, .key = &c.keys[NPEERS + NAUTH], .self = &c.ids[NPEERS + NAUTH], .seqno_start = 7, .seed = 1,
        .score = score, .score_joined_topics = true, .validate = validate, .validate_arg = &c,
    };
    if (gs_router_new(&c.r, &ri, c.now) != 0) __builtin_trap();
    while (r.n) {
        uint8_t op = u8(&r) % 10;
        int peer = u8(&r) % NPEERS;
        const char *t = topics[u8(&r) % NTOPICS];
        switch (op) {
        case 0: {   /* raw bytes as a frame */
            size_t len = u8(&r);
            if (len > r.n) len = r.n;
            if (c.connected[peer]) gs_router_handle_rpc(c.r, &c.ids[peer], r.p, len, c.now);
            r.p += len;
            r.n -= len;
            break;
        }
        case 1: op_rpc(&c, &r); break;
        case 2:
            if (!c.connected[peer]) {
                uint8_t ip[4] = { 10, 0, 0, (uint8_t)(u8(&r) % 3) };
                int rc = gs_router_add_peer(c.r, &c.ids[peer], (enum gs_proto)(u8(&r) % 4), u8(&r) & 1, ip, 4, c.now);
                c.connected[peer] = rc == 0;
            } else {
                gs_router_remove_peer(c.r, &c.ids[peer], c.now);
                c.connected[peer] = false;
            }
            break;
        case 3: gs_router_join(c.r, t, c.now); break;
        case 4: gs_router_leave(c.r, t, c.now); break;
        case 5: {
            uint8_t d[32];
            size_t dl = u8(&r) % sizeof d;
            for (size_t k = 0; k < dl; k++) d[k] = u8(&r);
            uint8_t id[GS_MSGID_MAX];
            size_t idl = 0;
            if (gs_router_publish(c.r, t, d, dl, c.now, id, &idl) == 0) remember(&c, id, idl);
            break;
        }
        case 6:
        case 7:
            c.now += 100 + (uint64_t)u8(&r) * 100;
            gs_router_heartbeat(c.r, c.now);
            break;
        case 8: c.verdict = (enum p2p_pubsub_validation)(u8(&r) % 3); break;
        default: c.now += (uint64_t)u8(&r) * 1000; break;
        }
        drain(&c);
    }
    gs_router_free(c.r);
    gs_score_free(score);
    return 0;
}
