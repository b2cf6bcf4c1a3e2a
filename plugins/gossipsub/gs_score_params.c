/* gs_score_params.c - default parameters and their validation (gs_score.h). */
#include <string.h>

#include "gs_score_int.h"

#include "p2p/error.h"

/* ---- Defaults -------------------------------------------------------------
 * For a chat network. Neither the spec nor go-libp2p-pubsub ship default
 * values; these follow the parameter set written for Lotus (Filecoin) by
 * the spec's author, which many go deployments copy, for a topic of
 * unpredictable, modest traffic (Lotus' "messages" topic), with rust-
 * libp2p's defaults where Lotus has none. Decays assume the 1 s interval:
 * 0.01^(1/600) = 0.99235 ("to 1% in 10 min"), 0.01^(1/3600) = 0.99872
 * (1 h), 0.01^(1/300) = 0.98477 (5 min).
 *   topic_score_cap 10; Lotus none, rust 3600 (sized for its 1 ms P1 quantum);
 *     ours: about 10 busy topics' worth, far below accept_px.
 *   app_specific_weight 1 (Lotus), ip_colocation weight -100 (Lotus),
 *   threshold 10 (rust, prysm; Lotus 5: chat users share NATs),
 *   behaviour_penalty weight -10, threshold 6, decay 1 h (Lotus),
 *   decay_interval 1 s, decay_to_zero 0.01 (go DefaultDecayInterval,
 *   DefaultDecayToZero), retain_score 1 h (rust; Lotus 6 h).
 *   Topic: weight 0.1 (Lotus); P1 1/3600 per 1 s, cap 3600 (+1 after 1 h,
 *   as Lotus' comment intends); P2 weight 1, decay 10 min, cap 100 (Lotus
 *   "messages" weight/decay, cap lowered); P3 and P3b disabled (weight 0):
 *   a chat room's message rate is unknown, and an idle room would make
 *   every mesh peer fall short; if enabled: decay 10 min, cap 100,
 *   threshold 1, window 10 ms (go/rust/Lotus), activation 1 min (Lotus),
 *   P3b decay 5 min (Lotus); P4 weight -1000, decay 1 h (Lotus): one
 *   invalid message costs 100, three put a peer below the gossip
 *   threshold, six below graylist.
 *   Thresholds: gossip -500, publish -1000, graylist -2500, accept_px 1000
 *   (reachable through P5 only: bootstrappers), opportunistic_graft 3.5
 *   (Lotus).
 *   Limits: 4096 peers, 256 topics, 8192 delivery records of 120 s
 *   (go TimeCacheDuration, rust TIME_CACHE_DURATION). */
#define DECAY_10MIN 0.9923540961321005
#define DECAY_1H 0.9987216039048303
#define DECAY_5MIN 0.9847666521101581

void gs_score_params_default(struct gs_score_params *p)
{
    memset(p, 0, sizeof *p);
    p->topic_score_cap = 10.0;
    p->app_specific_weight = 1.0;
    p->ip_colocation_factor_weight = -100.0;
    p->ip_colocation_factor_threshold = 10.0;
    p->behaviour_penalty_weight = -10.0;
    p->behaviour_penalty_threshold = 6.0;
    p->behaviour_penalty_decay = DECAY_1H;
    p->decay_interval_ms = 1000;
    p->decay_to_zero = 0.01;
    p->retain_score_ms = 3600 * 1000;
    p->max_peers = 4096;
    p->max_topics = 256;
    p->max_deliveries = 8192;
    p->delivery_ttl_ms = 120 * 1000;
}

void gs_topic_params_default(struct gs_topic_score_params *tp)
{
    memset(tp, 0, sizeof *tp);
    tp->topic_weight = 0.1;
    tp->time_in_mesh_weight = 1.0 / 3600.0;
    tp->time_in_mesh_quantum_ms = 1000;
    tp->time_in_mesh_cap = 3600.0;
    tp->first_message_deliveries_weight = 1.0;
    tp->first_message_deliveries_decay = DECAY_10MIN;
    tp->first_message_deliveries_cap = 100.0;
    tp->mesh_message_deliveries_weight = 0.0;
    tp->mesh_message_deliveries_decay = DECAY_10MIN;
    tp->mesh_message_deliveries_cap = 100.0;
    tp->mesh_message_deliveries_threshold = 1.0;
    tp->mesh_message_deliveries_window_ms = 10;
    tp->mesh_message_deliveries_activation_ms = 60 * 1000;
    tp->mesh_failure_penalty_weight = 0.0;
    tp->mesh_failure_penalty_decay = DECAY_5MIN;
    tp->invalid_message_deliveries_weight = -1000.0;
    tp->invalid_message_deliveries_decay = DECAY_1H;
}

void gs_thresholds_default(struct gs_thresholds *t)
{
    t->gossip = -500.0;
    t->publish = -1000.0;
    t->graylist = -2500.0;
    t->accept_px = 1000.0;
    t->opportunistic_graft = 3.5;
}

/* ---- Validation ------------------------------------------------------------ */

/* A decay factor: in [0, 1), and not 0 when its component is enabled. */
static bool decay_ok(double d, double weight)
{
    return gss_finite(d) && d >= 0 && d < 1 && (weight == 0 || d > 0);
}

int gs_thresholds_validate(const struct gs_thresholds *t)
{
    if (!t || !gss_finite(t->gossip) || !gss_finite(t->publish) || !gss_finite(t->graylist) || !gss_finite(t->accept_px) ||
        !gss_finite(t->opportunistic_graft))
        return P2P_EINVAL;
    if (t->gossip > 0 || t->publish > t->gossip || t->graylist > t->publish || t->accept_px < 0 ||
        t->opportunistic_graft < 0)
        return P2P_EINVAL;
    return 0;
}

int gs_score_params_validate(const struct gs_score_params *p)
{
    if (!p || !gss_finite(p->topic_score_cap) || p->topic_score_cap < 0 || !gss_finite(p->app_specific_weight))
        return P2P_EINVAL;
    if (!gss_finite(p->ip_colocation_factor_weight) || p->ip_colocation_factor_weight > 0 ||
        !gss_finite(p->ip_colocation_factor_threshold) || p->ip_colocation_factor_threshold < 0 ||
        (p->ip_colocation_factor_weight != 0 && p->ip_colocation_factor_threshold < 1))
        return P2P_EINVAL;
    if (!gss_finite(p->behaviour_penalty_weight) || p->behaviour_penalty_weight > 0 ||
        !gss_finite(p->behaviour_penalty_threshold) || p->behaviour_penalty_threshold < 0 ||
        !decay_ok(p->behaviour_penalty_decay, p->behaviour_penalty_weight))
        return P2P_EINVAL;
    if (p->decay_interval_ms < 1000 || !gss_finite(p->decay_to_zero) || p->decay_to_zero <= 0 ||
        p->decay_to_zero >= 1)
        return P2P_EINVAL;
    if (p->max_peers < 1 || p->max_peers > (1u << 20) || p->max_topics < 1 ||
        p->max_topics > (1u << 16) || p->max_deliveries < 1 || p->max_deliveries > (1u << 22) ||
        p->delivery_ttl_ms < 1)
        return P2P_EINVAL;
    return 0;
}

int gs_topic_params_validate(const struct gs_topic_score_params *tp)
{
    if (!tp || !gss_finite(tp->topic_weight) || tp->topic_weight < 0)
        return P2P_EINVAL;
    /* P1 */
    if (!gss_finite(tp->time_in_mesh_weight) || tp->time_in_mesh_weight < 0 ||
        tp->time_in_mesh_quantum_ms == 0 || !gss_finite(tp->time_in_mesh_cap) || tp->time_in_mesh_cap < 0 ||
        (tp->time_in_mesh_weight != 0 && tp->time_in_mesh_cap <= 0))
        return P2P_EINVAL;
    /* P2 */
    double w = tp->first_message_deliveries_weight;
    if (!gss_finite(w) || w < 0 || !decay_ok(tp->first_message_deliveries_decay, w) ||
        !gss_finite(tp->first_message_deliveries_cap) || tp->first_message_deliveries_cap < 0 ||
        (w != 0 && tp->first_message_deliveries_cap <= 0))
        return P2P_EINVAL;
    /* P3 */
    w = tp->mesh_message_deliveries_weight;
    double cap = tp->mesh_message_deliveries_cap, thr = tp->mesh_message_deliveries_threshold;
    if (!gss_finite(w) || w > 0 || !decay_ok(tp->mesh_message_deliveries_decay, w) || !gss_finite(cap) ||
        cap < 0 || !gss_finite(thr) || thr < 0 || cap < thr)
        return P2P_EINVAL;
    if (w != 0 && (cap <= 0 || thr <= 0 || tp->mesh_message_deliveries_activation_ms < 1000))
        return P2P_EINVAL;
    /* P3b, P4 */
    w = tp->mesh_failure_penalty_weight;
    if (!gss_finite(w) || w > 0 || !decay_ok(tp->mesh_failure_penalty_decay, w))
        return P2P_EINVAL;
    w = tp->invalid_message_deliveries_weight;
    if (!gss_finite(w) || w > 0 || !decay_ok(tp->invalid_message_deliveries_decay, w))
        return P2P_EINVAL;
    return 0;
}

