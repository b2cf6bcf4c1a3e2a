/* fuzz_gs_score.c - the peer scoring module (gs_score.h) under random API
 * sequences.
 *
 * The first bytes choose the parameters (weights, decays, small limits so
 * that every limit is reachable: 8 peers, 3 topics, 24 delivery records);
 * the rest is a script of calls over 12 PeerIds, 4 topic names, 3 IPs
 * (v4, v6, mapped) and 24 message ids, with a clock that mostly moves
 * forward but sometimes goes back. Checks: no crash or sanitizer report,
 * every score finite, the counts within the limits, return codes among
 * those documented. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gs_score.h"
#include "p2p/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPEERS 12
#define NTOPICS 4
#define NIDS 24

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

static double frac(struct rd *r)   /* [0, 1) in 1/256 steps */
{
    return u8(r) / 256.0;
}

static bool finite(double x)
{
    return x == x && x - x == 0;
}

static void check_rc(int rc)
{
    if (rc > 0 || (rc != 0 && rc != P2P_EINVAL && rc != P2P_ENOTFOUND && rc != P2P_ESTATE &&
                   rc != P2P_EEXIST && rc != P2P_ELIMIT && rc != P2P_ENOMEM))
        abort();
}

static void check_counts(const struct gs_score *s, const struct gs_score_params *p)
{
    struct gs_score_counts c;
    gs_score_get_counts(s, &c);
    if (c.connected > c.peers || c.peers > p->max_peers || c.topics > p->max_topics ||
        c.deliveries > p->max_deliveries || c.ips > c.connected * GS_SCORE_PEER_IPS)
        abort();
}

static void params_from(struct rd *r, struct gs_score_params *p, struct gs_topic_score_params *tp)
{
    gs_score_params_default(p);
    gs_topic_params_default(tp);
    uint8_t knob = u8(r);
    p->max_peers = 8;
    p->max_topics = 3;
    p->max_deliveries = 24;   /* the ring grows 16 -> 24 */
    p->delivery_ttl_ms = (knob & 8) ? 1 + u8(r) * 40u : 1000 + u8(r) * 1000u;
    p->retain_score_ms = (knob & 1) ? 0 : u8(r) * 100u;
    p->topic_score_cap = (knob & 2) ? 0 : u8(r);
    p->app_specific_weight = u8(r) - 128.0;
    p->ip_colocation_factor_weight = -(double)u8(r);
    p->ip_colocation_factor_threshold = 1 + u8(r) % 3;
    p->behaviour_penalty_weight = -(double)u8(r);
    p->behaviour_penalty_threshold = u8(r) % 4;
    p->behaviour_penalty_decay = 0.5 + frac(r) / 2;
    p->hash_key[0] = u8(r);
    tp->topic_weight = frac(r) * 4;
    tp->time_in_mesh_weight = frac(r);
    tp->time_in_mesh_quantum_ms = 1 + u8(r) * 10u;
    tp->time_in_mesh_cap = 1 + u8(r);
    tp->first_message_deliveries_weight = frac(r) * 10;
    tp->first_message_deliveries_decay = 0.01 + frac(r) * 0.98;
    tp->first_message_deliveries_cap = 1 + u8(r);
    tp->mesh_message_deliveries_weight = (knob & 4) ? 0 : -frac(r) * 10;
    tp->mesh_message_deliveries_decay = 0.01 + frac(r) * 0.98;
    tp->mesh_message_deliveries_threshold = 1 + u8(r) % 8;
    tp->mesh_message_deliveries_cap = tp->mesh_message_deliveries_threshold + u8(r) % 8;
    tp->mesh_message_deliveries_window_ms = u8(r) % 20;
    tp->mesh_message_deliveries_activation_ms = 1000 + u8(r) * 10u;
    tp->mesh_failure_penalty_weight = -frac(r) * 10;
    tp->mesh_failure_penalty_decay = 0.01 + frac(r) * 0.98;
    tp->invalid_message_deliveries_weight = -frac(r) * 100;
    tp->invalid_message_deliveries_decay = 0.01 + frac(r) * 0.98;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rd r = {data, size};
    struct gs_score_params p;
    struct gs_topic_score_params tp;
    params_from(&r, &p, &tp);
    if (gs_score_params_validate(&p) || gs_topic_params_validate(&tp)) abort();
    struct gs_score *s;
    if (gs_score_new(&s, &p)) return 0;
    if (gs_score_set_topic(s, "a", &tp)) abort();

    p2p_peerid peers[NPEERS + 1];
    for (int i = 0; i <= NPEERS; i++) {
        peers[i].len = (uint8_t)(2 + i % 5);   /* different lengths */
        memset(peers[i].bytes, 0, sizeof peers[i].bytes);
        peers[i].bytes[0] = (uint8_t)i;
    }
    peers[NPEERS].len = 0;   /* invalid */
    static const char *topics[NTOPICS] = {"a", "bb", "ccc", ""};
    static const char *ips[] = {"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "127.0.0.1",
                                "2001:db8::2", "bogus"};
    uint8_t ids[NIDS][3];
    for (int i = 0; i < NIDS; i++) {
        ids[i][0] = 'm';
        ids[i][1] = (uint8_t)i;
        ids[i][2] = (uint8_t)(i * 7);
    }
    uint64_t now = 0;
    for (int steps = 0; r.n && steps < 2000; steps++) {
        uint8_t op = u8(&r), a = u8(&r), b = u8(&r);
        const p2p_peerid *pe = &peers[a % (NPEERS + 1)];
        const char *topic = topics[b % NTOPICS];
        uint8_t c = u8(&r);
        const uint8_t *id = ids[c % NIDS];
        size_t idlen = 1 + c % 3;
        switch (op % 17) {
        case 0:
            check_rc(gs_score_add_peer(s, pe, (b & 8) ? NULL : ips[b % 6], now));
            break;
        case 1:
            check_rc(gs_score_remove_peer(s, pe, now));
            break;
        case 2:
            check_rc(gs_score_graft(s, pe, topic, now));
            break;
        case 3:
            check_rc(gs_score_prune(s, pe, topic, now));
            break;
        case 4:
            check_rc(gs_score_validate_message(s, pe, topic, id, idlen, now));
            break;
        case 5: case 6:
            check_rc(gs_score_duplicate_message(s, pe, topic, id, idlen, now));
            break;
        case 7:
            check_rc(gs_score_reject_message(s, pe, topic, (b & 16) ? NULL : id, idlen,
                                             (enum gs_reject_reason)(u8(&r) % 12), now));
            break;
        case 8:
            check_rc(gs_score_add_penalty(s, pe, (int)(b % 5) - 1));
            break;
        case 9:
            check_rc(gs_score_set_app_score(s, pe, (double)b - 100));
            break;
        case 10:
            gs_score_refresh(s, now);
            break;
        case 11:
            if (a & 1) check_rc(gs_score_remove_topic(s, topic));
            else check_rc(gs_score_set_topic(s, topic, &tp));
            break;
        case 12: {
            uint8_t raw[16];
            memset(raw, b, sizeof raw);
            check_rc(gs_score_add_peer_ip(s, pe, raw, (a & 1) ? 4 : 16, now));
            break;
        }
        case 13: { /* a burst of new messages (fills the delivery records) */
            uint8_t burst[3] = {0xb0, a, 0};
            for (int k = 0; k < b % 40; k++, burst[2]++)
                check_rc(gs_score_validate_message(s, pe, "a", burst, sizeof burst, now));
            break;
        }
        case 14:   /* time goes back a little */
            now = now > b ? now - b : 0;
            break;
        default:   /* time goes forward, sometimes a lot, or to the end */
            now += (op & 0x80) ? (uint64_t)b * 1000 : b;
            if (op == 0xff && a == 0xff) now = UINT64_MAX - b;
            break;
        }
        for (int i = 0; i <= NPEERS; i++)
            if (!finite(gs_score(s, &peers[i], now))) abort();
        check_counts(s, &p);
    }
    gs_score_free(s);
    return 0;
}
