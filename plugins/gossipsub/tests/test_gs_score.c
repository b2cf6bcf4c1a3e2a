/* GossipSub v1.1 peer scoring (gs_score.h): every component with explicit
 * time against hand-computed values, decay, caps, retention, colocation,
 * thresholds, limits and invalid input. */
#include <math.h>   /* NAN, INFINITY */
#include <stdio.h>
#include <string.h>

#include "gs_score.h"
#include "p2p/error.h"
#include "testutil.h"

#define EPS 1e-9
#define T "chat"

static p2p_peerid P[2048];

static void init_peers(void)
{
    for (int i = 0; i < 2048; i++) {
        P[i].len = 34;
        P[i].bytes[0] = 0x12;
        P[i].bytes[1] = 0x20;
        memset(P[i].bytes + 2, 0xa5, 32);
        P[i].bytes[2] = (uint8_t)(i >> 8);
        P[i].bytes[3] = (uint8_t)i;
    }
}

/* Everything off: each test enables the component it checks. */
static void quiet(struct gs_score_params *p)
{
    gs_score_params_default(p);
    p->topic_score_cap = 0;
    p->app_specific_weight = p->ip_colocation_factor_weight = p->behaviour_penalty_weight = 0;
}

static void quiet_topic(struct gs_topic_score_params *tp)
{
    gs_topic_params_default(tp);
    tp->topic_weight = 1;
    tp->time_in_mesh_weight = tp->first_message_deliveries_weight = 0;
    tp->mesh_message_deliveries_weight = tp->mesh_failure_penalty_weight = 0;
    tp->invalid_message_deliveries_weight = 0;
}

static struct gs_score *mk(const struct gs_score_params *p, const struct gs_topic_score_params *tp)
{
    struct gs_score *s = NULL;
    ck_assert_int_eq(gs_score_new(&s, p), 0);
    if (tp) ck_assert_int_eq(gs_score_set_topic(s, T, tp), 0);
    return s;
}

static const uint8_t *mid(int n)
{
    static uint8_t buf[8][16];
    static int k;
    uint8_t *b = buf[k++ & 7];
    snprintf((char *)b, 16, "msg-%08d", n);
    return b;
}
#define MID(n) mid(n), 12

#define SC(s, i, t) gs_score((s), &P[i], (t))

static double powi(double b, int n)
{
    double r = 1;
    while (n-- > 0) r *= b;
    return r;
}
#define EQ(x, y) ck_assert_double_eq_tol((x), (y), EPS)

START_TEST(test_defaults)
{
    struct gs_score_params p;
    struct gs_topic_score_params tp;
    struct gs_thresholds th;
    gs_score_params_default(&p);
    gs_topic_params_default(&tp);
    gs_thresholds_default(&th);
    ck_assert_int_eq(gs_score_params_validate(&p), 0);
    ck_assert_int_eq(gs_topic_params_validate(&tp), 0);
    ck_assert_int_eq(gs_thresholds_validate(&th), 0);
    EQ(p.decay_to_zero, 0.01);
    ck_assert_uint_eq(p.decay_interval_ms, 1000);
    EQ(tp.invalid_message_deliveries_weight * tp.topic_weight, -100);
    /* "to 1% in 1 h" at one decay per second */
    EQ(powi(p.behaviour_penalty_decay, 3600), 0.01);
    EQ(powi(tp.first_message_deliveries_decay, 600), 0.01);
    EQ(powi(tp.mesh_failure_penalty_decay, 300), 0.01);
}
END_TEST

START_TEST(test_p1_time_in_mesh)
{
    struct gs_score_params p;
    struct gs_topic_score_params tp;
    quiet(&p), quiet_topic(&tp);
    tp.topic_weight = 0.5; tp.time_in_mesh_weight = 2;
    tp.time_in_mesh_quantum_ms = 1000; tp.time_in_mesh_cap = 10;
    struct gs_score *s = mk(&p, &tp);
    ck_assert_int_eq(gs_score_add_peer(s, &P[0], NULL, 0), 0);
    EQ(SC(s, 0, 500), 0);
    ck_assert_int_eq(gs_score_graft(s, &P[0], T, 1000), 0);
    EQ(SC(s, 0, 1000), 0);
    EQ(SC(s, 0, 1999), 0);
    EQ(SC(s, 0, 3500), 2 * 2 * 0.5);        /* floor(2.5 s / 1 s) = 2 */
    EQ(SC(s, 0, 60000), 10 * 2 * 0.5);      /* capped at 10 */
    ck_assert_int_eq(gs_score_prune(s, &P[0], T, 61000), 0);
    EQ(SC(s, 0, 61000), 0);
    ck_assert_int_eq(gs_score_graft(s, &P[0], T, 62000), 0);  /* restarts */
    EQ(SC(s, 0, 65000), 3 * 2 * 0.5);
    gs_score_free(s);
}
END_TEST

START_TEST(test_p2_first_deliveries)
{
    struct gs_score_params p;
    struct gs_topic_score_params tp;
    quiet(&p), quiet_topic(&tp);
    tp.first_message_deliveries_weight = 2; tp.first_message_deliveries_decay = 0.5;
    tp.first_message_deliveries_cap = 3;
    struct gs_score *s = mk(&p, &tp);
    gs_score_add_peer(s, &P[0], NULL, 0);
    gs_score_add_peer(s, &P[1], NULL, 0);
    ck_assert_int_eq(gs_score_validate_message(s, &P[0], T, MID(1), 10), 0);
    EQ(SC(s, 0, 10), 2);
    ck_assert_int_eq(gs_score_validate_message(s, &P[0], T, MID(1), 10), P2P_EEXIST);
    ck_assert_int_eq(gs_score_duplicate_message(s, &P[1], T, MID(1), 10), 0);
    EQ(SC(s, 1, 10), 0);                     /* copies are not first deliveries */
    for (int i = 2; i <= 5; i++) gs_score_validate_message(s, &P[0], T, MID(i), 20);
    EQ(SC(s, 0, 20), 3 * 2);                 /* capped at 3 */
    gs_score_refresh(s, 999);
    EQ(SC(s, 0, 999), 6);                    /* no interval elapsed yet */
    gs_score_refresh(s, 1000);
    EQ(SC(s, 0, 1000), 1.5 * 2);
    gs_score_refresh(s, 3000);               /* two intervals at once */
    EQ(SC(s, 0, 3000), 0.375 * 2);
    gs_score_refresh(s, 8000);               /* 0.375 / 32 >= 0.01 */
    EQ(SC(s, 0, 8000), 0.375 / 32 * 2);
    gs_score_refresh(s, 9000);               /* 0.375 / 64 < 0.01: zero */
    EQ(SC(s, 0, 9000), 0);
    gs_score_free(s);
}
END_TEST

START_TEST(test_p3_mesh_deliveries)
{
    struct gs_score_params p;
    struct gs_topic_score_params tp;
    quiet(&p), quiet_topic(&tp);
    tp.mesh_message_deliveries_weight = -1; tp.mesh_message_deliveries_decay = 0.5;
    tp.mesh_message_deliveries_threshold = 4; tp.mesh_message_deliveries_cap = 6;
    tp.mesh_message_deliveries_window_ms = 10; tp.mesh_message_deliveries_activation_ms = 1000;
    struct gs_score *s = mk(&p, &tp);
    for (int i = 0; i < 4; i++) gs_score_add_peer(s, &P[i], NULL, 0);
    for (int i = 0; i < 3; i++) gs_score_graft(s, &P[i], T, 0);   /* P3 not in mesh */
    gs_score_validate_message(s, &P[0], T, MID(1), 100);
    EQ(SC(s, 0, 1000), 0);                   /* not active at exactly 1000 ms */
    EQ(SC(s, 0, 1001), -(3.0 * 3.0));        /* deficit 4 - 1 */
    EQ(SC(s, 1, 1001), -16);
    /* near-first: within 10 ms of validation counts, later not */
    gs_score_validate_message(s, &P[0], T, MID(2), 1100);
    gs_score_duplicate_message(s, &P[1], T, MID(2), 1110);
    gs_score_duplicate_message(s, &P[2], T, MID(2), 1111);
    gs_score_duplicate_message(s, &P[1], T, MID(2), 1105);  /* same peer: once */
    gs_score_duplicate_message(s, &P[0], T, MID(2), 1105);  /* first sender: once */
    EQ(SC(s, 0, 1200), -4);                  /* 2 deliveries */
    EQ(SC(s, 1, 1200), -9);                  /* 1 */
    EQ(SC(s, 2, 1200), -16);                 /* 0 */
    /* copies during validation count, whatever the delay */
    gs_score_duplicate_message(s, &P[2], T, MID(3), 1200);
    gs_score_duplicate_message(s, &P[3], T, MID(3), 1200);  /* not in mesh */
    gs_score_validate_message(s, &P[1], T, MID(3), 1500);
    EQ(SC(s, 1, 1500), -4);
    EQ(SC(s, 2, 1500), -9);
    EQ(SC(s, 3, 1500), 0);
    /* the counter caps at 6 (above threshold: no penalty) and decays */
    for (int i = 10; i < 20; i++) gs_score_validate_message(s, &P[0], T, MID(i), 1600);
    EQ(SC(s, 0, 1600), 0);
    gs_score_refresh(s, 2000);               /* clock started at 0: 2 decays */
    EQ(SC(s, 0, 2000), -(2.5 * 2.5));        /* 6 / 4 = 1.5 */
    gs_score_free(s);
}
END_TEST

START_TEST(test_p3b_mesh_failure)
{
    struct gs_score_params p;
    struct gs_topic_score_params tp;
    quiet(&p);
    p.retain_score_ms = 10000;
    quiet_topic(&tp);
    tp.mesh_message_deliveries_weight = -1; tp.mesh_message_deliveries_decay = 0.5;
    tp.mesh_message_deliveries_threshold = 4; tp.mesh_message_deliveries_cap = 10;
    tp.mesh_message_deliveries_activation_ms = 1000; tp.mesh_failure_penalty_weight = -2;
    tp.mesh_failure_penalty_decay = 0.5;
    struct gs_score *s = mk(&p, &tp);
    for (int i = 0; i < 3; i++) {
        gs_score_add_peer(s, &P[i], NULL, 0);
        gs_score_graft(s, &P[i], T, 0);
    }
    gs_score_validate_message(s, &P[0], T, MID(1), 100);
    ck_assert_int_eq(gs_score_prune(s, &P[0], T, 2000), 0);
    EQ(SC(s, 0, 2000), -2 * 9.0);            /* P3b = 3^2; P3 gone */
    ck_assert_int_eq(gs_score_prune(s, &P[1], T, 500), 0);  /* clock is 2000: active */
    EQ(SC(s, 1, 2000), -2 * 16.0);
    gs_score_refresh(s, 3000);               /* 3 intervals since 0 */
    EQ(SC(s, 0, 3000), -2 * 9.0 / 8);
    EQ(SC(s, 1, 3000), -2 * 16.0 / 8);
    /* prune before activation: no new penalty */
    gs_score_graft(s, &P[1], T, 3000);
    gs_score_prune(s, &P[1], T, 3500);
    EQ(SC(s, 1, 3500), -4.0);
    /* a disconnect from the mesh with a deficit counts as a prune */
    EQ(SC(s, 2, 3500), -16.0);
    ck_assert_int_eq(gs_score_remove_peer(s, &P[2], 3500), 0);
    EQ(SC(s, 2, 3500), -2 * 16.0);
    gs_score_free(s);
}
END_TEST

START_TEST(test_p4_invalid)
{
    struct gs_score_params p;
    struct gs_topic_score_params tp;
    quiet(&p), quiet_topic(&tp);
    tp.invalid_message_deliveries_weight = -3; tp.invalid_message_deliveries_decay = 0.5;
    struct gs_score *s = mk(&p, &tp);
    for (int i = 0; i < 4; i++) gs_score_add_peer(s, &P[i], NULL, 0);
    /* P1 sent a copy while validation ran: penalised with the sender */
    gs_score_duplicate_message(s, &P[1], T, MID(1), 0);
    ck_assert_int_eq(gs_score_reject_message(s, &P[0], T, MID(1), GS_REJECT_VALIDATION_FAILED, 0), 0);
    EQ(SC(s, 0, 0), -3);
    EQ(SC(s, 1, 0), -3);
    ck_assert_int_eq(gs_score_reject_message(s, &P[0], T, MID(1), GS_REJECT_VALIDATION_FAILED, 0),
                     P2P_EEXIST);
    gs_score_duplicate_message(s, &P[2], T, MID(1), 5);     /* later copies too */
    gs_score_duplicate_message(s, &P[2], T, MID(1), 6);     /* each of them */
    EQ(SC(s, 2, 6), -3 * 4.0);
    /* signature failures: no record needed; counter squared */
    ck_assert_int_eq(gs_score_reject_message(s, &P[0], T, NULL, 0, GS_REJECT_INVALID_SIGNATURE, 7), 0);
    EQ(SC(s, 0, 7), -3 * 4.0);
    gs_score_reject_message(s, &P[0], T, NULL, 0, GS_REJECT_SELF_ORIGIN, 7);
    EQ(SC(s, 0, 7), -3 * 9.0);
    /* no penalty: ignored, throttled, blacklisted, queue full */
    gs_score_duplicate_message(s, &P[3], T, MID(2), 8);
    ck_assert_int_eq(gs_score_reject_message(s, &P[3], T, MID(2), GS_REJECT_VALIDATION_IGNORED, 8), 0);
    gs_score_duplicate_message(s, &P[3], T, MID(2), 9);
    gs_score_reject_message(s, &P[3], T, MID(3), GS_REJECT_VALIDATION_THROTTLED, 9);
    gs_score_duplicate_message(s, &P[3], T, MID(3), 9);
    gs_score_reject_message(s, &P[3], T, NULL, 0, GS_REJECT_BLACKLISTED_PEER, 9);
    gs_score_reject_message(s, &P[3], T, NULL, 0, GS_REJECT_BLACKLISTED_SOURCE, 9);
    gs_score_reject_message(s, &P[3], T, NULL, 0, GS_REJECT_QUEUE_FULL, 9);
    EQ(SC(s, 3, 9), 0);
    ck_assert_int_eq(gs_score_validate_message(s, &P[3], T, MID(2), 9), P2P_EEXIST);
    gs_score_refresh(s, 1000);
    EQ(SC(s, 0, 1000), -3 * 2.25);           /* 3 * 0.5 = 1.5, squared */
    gs_score_free(s);
}
END_TEST

START_TEST(test_p5_app)
{
    struct gs_score_params p;
    quiet(&p);
    p.app_specific_weight = 4;
    struct gs_score *s = mk(&p, NULL);
    gs_score_add_peer(s, &P[0], NULL, 0);
    ck_assert_int_eq(gs_score_set_app_score(s, &P[0], 2.5), 0);
    EQ(SC(s, 0, 0), 10);
    ck_assert_int_eq(gs_score_set_app_score(s, &P[0], -1), 0);
    EQ(SC(s, 0, 0), -4);
    ck_assert_int_eq(gs_score_set_app_score(s, &P[1], 1), P2P_ENOTFOUND);
    ck_assert_int_eq(gs_score_set_app_score(s, &P[0], NAN), P2P_EINVAL);
    ck_assert_int_eq(gs_score_set_app_score(s, &P[0], INFINITY), P2P_EINVAL);
    EQ(SC(s, 0, 0), -4);
    gs_score_refresh(s, 100000);             /* P5 does not decay */
    EQ(SC(s, 0, 100000), -4);
    gs_score_free(s);
}
END_TEST

START_TEST(test_p6_colocation)
{
    struct gs_score_params p;
    quiet(&p);
    p.ip_colocation_factor_weight = -5; p.ip_colocation_factor_threshold = 2;
    struct gs_score *s = mk(&p, NULL);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(gs_score_add_peer(s, &P[i], "192.0.2.1", 0), 0);
    gs_score_add_peer(s, &P[3], "192.0.2.2", 0);
    EQ(SC(s, 0, 0), -5);                     /* 3 on one IP: surplus 1 */
    EQ(SC(s, 3, 0), 0);
    const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
    ck_assert_int_eq(gs_score_add_peer_ip(s, &P[4], mapped, 16, 0), 0);   /* IPv4 */
    EQ(SC(s, 0, 0), -20);                    /* surplus 2 */
    EQ(SC(s, 4, 0), -20);
    gs_score_add_peer(s, &P[0], "192.0.2.1", 0);   /* same IP again: no change */
    EQ(SC(s, 1, 0), -20);
    /* loopback and unspecified addresses are not counted */
    for (int i = 5; i < 10; i++) gs_score_add_peer(s, &P[i], i & 1 ? "127.0.0.1" : "::1", 0);
    gs_score_add_peer(s, &P[10], "0.0.0.0", 0);
    EQ(SC(s, 5, 0), 0);
    EQ(SC(s, 6, 0), 0);
    /* IPv6: the address and its /64 both count */
    gs_score_add_peer(s, &P[11], "2001:db8::1", 0);
    gs_score_add_peer(s, &P[12], "2001:db8::2", 0);
    gs_score_add_peer(s, &P[13], "2001:db8:0:0:ffff::3", 0);
    EQ(SC(s, 11, 0), -5);                    /* /64 has 3, the address 1 */
    gs_score_add_peer(s, &P[14], "2001:db8::1", 0);
    EQ(SC(s, 11, 0), -4 * 5.0);              /* address 2 (not above 2), /64 4 */
    EQ(SC(s, 12, 0), -4 * 5.0);
    struct gs_score_counts c;
    gs_score_get_counts(s, &c);
    ck_assert_uint_eq(c.ips, 2 + 4);         /* 2 IPv4, 3 IPv6 addresses + 1 /64 */
    /* a disconnected peer stops counting (retained: score < 0) */
    ck_assert_int_eq(gs_score_remove_peer(s, &P[4], 0), 0);
    EQ(SC(s, 0, 0), -5);
    gs_score_get_counts(s, &c);
    ck_assert_uint_eq(c.peers, 15);
    ck_assert_uint_eq(c.connected, 14);
    gs_score_free(s);
}
END_TEST

START_TEST(test_p7_penalty)
{
    struct gs_score_params p;
    quiet(&p);
    p.behaviour_penalty_weight = -1; p.behaviour_penalty_threshold = 2;
    p.behaviour_penalty_decay = 0.5;
    struct gs_score *s = mk(&p, NULL);
    gs_score_add_peer(s, &P[0], NULL, 0);
    ck_assert_int_eq(gs_score_add_penalty(s, &P[0], 2), 0);
    EQ(SC(s, 0, 0), 0);                      /* at the threshold: free */
    ck_assert_int_eq(gs_score_add_penalty(s, &P[0], 3), 0);
    EQ(SC(s, 0, 0), -9);                     /* (5 - 2)^2 */
    gs_score_refresh(s, 1000);
    EQ(SC(s, 0, 1000), -0.25);               /* (2.5 - 2)^2 */
    ck_assert_int_eq(gs_score_add_penalty(s, &P[0], -1), P2P_EINVAL);
    ck_assert_int_eq(gs_score_add_penalty(s, &P[1], 1), P2P_ENOTFOUND);
    gs_score_free(s);
}
END_TEST

START_TEST(test_topic_weights_and_cap)
{
    struct gs_score_params p;
    struct gs_topic_score_params a, b;
    quiet(&p);
    p.topic_score_cap = 5; p.app_specific_weight = 1;
    quiet_topic(&a);
    a.topic_weight = 0.5; a.first_message_deliveries_weight = 1;
    a.first_message_deliveries_cap = 100; a.invalid_message_deliveries_weight = -1;
    b = a;
    b.topic_weight = 2;
    struct gs_score *s = mk(&p, &a);
    ck_assert_int_eq(gs_score_set_topic(s, "b", &b), 0);
    gs_score_add_peer(s, &P[0], NULL, 0);
    gs_score_validate_message(s, &P[0], T, MID(1), 0);
    gs_score_validate_message(s, &P[0], "b", MID(2), 0);
    EQ(SC(s, 0, 0), 0.5 + 2);                /* weighted sum */
    for (int i = 3; i < 10; i++) gs_score_validate_message(s, &P[0], T, MID(i), 0);
    EQ(SC(s, 0, 0), 5);                      /* 4 + 2 capped at 5 */
    gs_score_set_app_score(s, &P[0], 3);
    EQ(SC(s, 0, 0), 8);                      /* P5 is outside the cap */
    for (int i = 10; i < 13; i++)
        gs_score_reject_message(s, &P[0], "b", MID(i), GS_REJECT_VALIDATION_FAILED, 0);
    EQ(SC(s, 0, 0), 4 + 2 * (1 - 9) + 3);    /* negative sums are not capped */
    /* lowering a cap clamps the counter; removing a topic drops it */
    a.first_message_deliveries_cap = 2;
    ck_assert_int_eq(gs_score_set_topic(s, T, &a), 0);
    EQ(SC(s, 0, 0), 1 + 2 * (1 - 9) + 3);
    ck_assert_int_eq(gs_score_remove_topic(s, "b"), 0);
    ck_assert_int_eq(gs_score_remove_topic(s, "b"), P2P_ENOTFOUND);
    EQ(SC(s, 0, 0), 1 + 3);
    /* unscored topics count for nothing and are not tracked */
    struct gs_score_counts c;
    gs_score_get_counts(s, &c);
    uint32_t before = c.deliveries;
    ck_assert_int_eq(gs_score_validate_message(s, &P[0], "other", MID(50), 0), 0);
    ck_assert_int_eq(gs_score_graft(s, &P[0], "other", 0), 0);
    gs_score_get_counts(s, &c);
    ck_assert_uint_eq(c.deliveries, before);
    ck_assert_uint_eq(c.topics, 1);
    EQ(SC(s, 0, 0), 1 + 3);
    gs_score_free(s);
}
END_TEST

START_TEST(test_retention)
{
    struct gs_score_params p;
    struct gs_topic_score_params tp;
    quiet(&p);
    p.retain_score_ms = 10000;
    quiet_topic(&tp);
    tp.first_message_deliveries_weight = 1; tp.first_message_deliveries_cap = 100;
    tp.invalid_message_deliveries_weight = -10; tp.invalid_message_deliveries_decay = 0.5;
    struct gs_score *s = mk(&p, &tp);
    struct gs_score_counts c;
    /* a positive score is forgotten at once */
    gs_score_add_peer(s, &P[0], NULL, 0);
    gs_score_validate_message(s, &P[0], T, MID(1), 0);
    EQ(SC(s, 0, 0), 1);
    ck_assert_int_eq(gs_score_remove_peer(s, &P[0], 0), 0);
    EQ(SC(s, 0, 0), 0);
    gs_score_get_counts(s, &c);
    ck_assert_uint_eq(c.peers, 0);
    ck_assert_int_eq(gs_score_remove_peer(s, &P[0], 0), P2P_ENOTFOUND);
    /* a negative one is kept, frozen, P2 reset */
    gs_score_add_peer(s, &P[1], NULL, 0);
    for (int i = 2; i < 5; i++) gs_score_validate_message(s, &P[1], T, MID(i), 0);
    gs_score_reject_message(s, &P[1], T, MID(5), GS_REJECT_VALIDATION_FAILED, 0);
    EQ(SC(s, 1, 0), 3 - 10);
    ck_assert_int_eq(gs_score_remove_peer(s, &P[1], 1000), 0);
    EQ(SC(s, 1, 1000), -10);
    ck_assert_int_eq(gs_score_graft(s, &P[1], T, 1000), P2P_ESTATE);
    gs_score_refresh(s, 5000);               /* no decay while away */
    EQ(SC(s, 1, 5000), -10);
    gs_score_get_counts(s, &c);
    ck_assert_uint_eq(c.peers, 1);
    ck_assert_uint_eq(c.connected, 0);
    /* reconnecting resumes the counters, which decay again */
    gs_score_add_peer(s, &P[1], NULL, 6000);
    EQ(SC(s, 1, 6000), -10);
    gs_score_refresh(s, 6000);               /* one interval since 5000 */
    EQ(SC(s, 1, 6000), -2.5);
    /* retention ends: gone at expiry, even before the next refresh */
    gs_score_remove_peer(s, &P[1], 7000);
    EQ(SC(s, 1, 17000), -2.5);
    EQ(SC(s, 1, 17001), 0);
    gs_score_refresh(s, 17001);
    gs_score_get_counts(s, &c);
    ck_assert_uint_eq(c.peers, 0);
    gs_score_free(s);

    /* retain_score_ms = 0: never retained */
    p.retain_score_ms = 0;
    s = mk(&p, &tp);
    gs_score_add_peer(s, &P[1], NULL, 0);
    gs_score_reject_message(s, &P[1], T, MID(5), GS_REJECT_VALIDATION_FAILED, 0);
    gs_score_remove_peer(s, &P[1], 0);
    EQ(SC(s, 1, 0), 0);
    gs_score_free(s);
}
END_TEST

START_TEST(test_thresholds_usage)
{
    /* With the defaults, one invalid chat message costs 100; the router's
     * decisions follow the thresholds. */
    struct gs_score_params p;
    struct gs_topic_score_params tp;
    struct gs_thresholds th;
    gs_score_params_default(&p);
    gs_topic_params_default(&tp);
    gs_thresholds_default(&th);
    struct gs_score *s = mk(&p, &tp);
    const double want[] = {-100, -400, -900, -1600, -2500, -3600};
    gs_score_add_peer(s, &P[0], "198.51.100.7", 0);
    for (int i = 0; i < 6; i++) {
        gs_score_reject_message(s, &P[0], T, MID(i), GS_REJECT_VALIDATION_FAILED, 0);
        double sc = SC(s, 0, 0);
        EQ(sc, want[i]);
        ck_assert(sc < 0);                                /* pruned, no PX */
        ck_assert_int_eq(sc >= th.gossip, i < 2);         /* gossip up to 2 */
        ck_assert_int_eq(sc >= th.publish, i < 3);        /* publish up to 3 */
        ck_assert_int_eq(sc >= th.graylist, i < 5);       /* graylisted at 6 */
    }
    /* a bootstrapper: app score lifts it over accept_px */
    gs_score_add_peer(s, &P[1], NULL, 0);
    gs_score_set_app_score(s, &P[1], 1000);
    ck_assert(SC(s, 1, 0) >= th.accept_px);
    /* a good mesh peer: 35 first deliveries beat opportunistic_graft */
    gs_score_add_peer(s, &P[2], NULL, 0);
    gs_score_graft(s, &P[2], T, 0);
    for (int i = 100; i < 135; i++) gs_score_validate_message(s, &P[2], T, MID(i), 0);
    EQ(SC(s, 2, 0), 3.5);
    EQ(SC(s, 2, 3600 * 1000), 3.5 + 0.1);   /* + P1 after an hour (no refresh) */
    ck_assert(SC(s, 2, 0) >= th.opportunistic_graft);
    gs_score_free(s);
    /* bad thresholds */
    struct gs_thresholds bad;
#define BADTH(field, v) \
    do { bad = th; bad.field = v; ck_assert_int_eq(gs_thresholds_validate(&bad), P2P_EINVAL); } while (0)
    BADTH(gossip, 1); BADTH(publish, th.gossip + 1); BADTH(graylist, th.publish + 1);
    BADTH(accept_px, -1); BADTH(opportunistic_graft, NAN);
}
END_TEST

START_TEST(test_invalid_params)
{
    struct gs_score_params p, q;
    struct gs_topic_score_params tp, tq;
    struct gs_score *s = (struct gs_score *)&p;
    gs_score_params_default(&p);
    gs_topic_params_default(&tp);
    ck_assert_int_eq(gs_score_new(&s, NULL), P2P_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(gs_score_new(NULL, &p), P2P_EINVAL);
#define BADP(field, v) \
    do { q = p; q.field = v; ck_assert_int_eq(gs_score_params_validate(&q), P2P_EINVAL); } while (0)
    BADP(topic_score_cap, -1); BADP(topic_score_cap, INFINITY);
    BADP(app_specific_weight, NAN); BADP(ip_colocation_factor_weight, 1);
    BADP(ip_colocation_factor_threshold, 0.5); BADP(behaviour_penalty_weight, 1);
    BADP(behaviour_penalty_decay, 1); BADP(behaviour_penalty_decay, 0);
    BADP(behaviour_penalty_threshold, -1); BADP(decay_interval_ms, 999);
    BADP(decay_to_zero, 0); BADP(decay_to_zero, 1);
    BADP(max_peers, 0); BADP(max_topics, 0);
    BADP(max_deliveries, 0); BADP(delivery_ttl_ms, 0);
#define BADT(field, v) \
    do { tq = tp; tq.field = v; ck_assert_int_eq(gs_topic_params_validate(&tq), P2P_EINVAL); } while (0)
    BADT(topic_weight, -1); BADT(time_in_mesh_weight, -1);
    BADT(time_in_mesh_quantum_ms, 0); BADT(time_in_mesh_cap, 0);
    BADT(first_message_deliveries_weight, -1); BADT(first_message_deliveries_decay, 1.5);
    BADT(first_message_deliveries_cap, 0); BADT(mesh_message_deliveries_weight, 1);
    BADT(mesh_message_deliveries_cap, 0.5);   /* below the threshold */
    BADT(mesh_failure_penalty_weight, 1); BADT(invalid_message_deliveries_weight, 1);
    BADT(invalid_message_deliveries_decay, -0.1);
    tq = tp;   /* enabling P3 needs an activation of at least 1 s */
    tq.mesh_message_deliveries_weight = -1;
    ck_assert_int_eq(gs_topic_params_validate(&tq), 0);
    tq.mesh_message_deliveries_activation_ms = 999;
    ck_assert_int_eq(gs_topic_params_validate(&tq), P2P_EINVAL);
    tq = tp;   /* a disabled component accepts decay 0 (go-style configs) */
    tq.invalid_message_deliveries_weight = 0; tq.invalid_message_deliveries_decay = 0;
    ck_assert_int_eq(gs_topic_params_validate(&tq), 0);
}
END_TEST

START_TEST(test_invalid_inputs)
{
    struct gs_score_params p;
    struct gs_topic_score_params tp, bad;
    gs_score_params_default(&p);
    p.max_topics = 2; p.max_peers = 3;
    gs_topic_params_default(&tp);
    struct gs_score *s = mk(&p, &tp);
    p2p_peerid empty = {0}, big = P[0];
    big.len = P2P_PEERID_MAX + 1;
    char longtopic[GS_SCORE_TOPIC_MAX + 2];
    memset(longtopic, 'x', sizeof longtopic - 1);
    longtopic[sizeof longtopic - 1] = 0;
    uint8_t longid[GS_SCORE_MSGID_MAX + 1] = {0};
    bad = tp;
    bad.topic_weight = -1;
    ck_assert_int_eq(gs_score_set_topic(s, "t2", &bad), P2P_EINVAL);
    ck_assert_int_eq(gs_score_set_topic(s, "", &tp), P2P_EINVAL);
    ck_assert_int_eq(gs_score_set_topic(s, longtopic, &tp), P2P_EINVAL);
    ck_assert_int_eq(gs_score_set_topic(s, NULL, &tp), P2P_EINVAL);
    ck_assert_int_eq(gs_score_set_topic(s, "t2", &tp), 0);
    ck_assert_int_eq(gs_score_set_topic(s, "t3", &tp), P2P_ELIMIT);
    ck_assert_int_eq(gs_score_set_topic(s, T, &tp), 0);   /* replacing is fine */
    ck_assert_int_eq(gs_score_add_peer(NULL, &P[0], NULL, 0), P2P_EINVAL);
    ck_assert_int_eq(gs_score_add_peer(s, NULL, NULL, 0), P2P_EINVAL);
    ck_assert_int_eq(gs_score_add_peer(s, &empty, NULL, 0), P2P_EINVAL);
    ck_assert_int_eq(gs_score_add_peer(s, &big, NULL, 0), P2P_EINVAL);
    ck_assert_int_eq(gs_score_add_peer(s, &P[0], "1.2.3", 0), P2P_EINVAL);
    ck_assert_int_eq(gs_score_add_peer(s, &P[0], "host.example", 0), P2P_EINVAL);
    ck_assert_int_eq(gs_score_add_peer_ip(s, &P[0], (const uint8_t *)"abcde", 5, 0), P2P_EINVAL);
    ck_assert_int_eq(gs_score_add_peer_ip(s, &P[0], NULL, 4, 0), P2P_EINVAL);
    struct gs_score_counts c;
    gs_score_get_counts(s, &c);
    ck_assert_uint_eq(c.peers, 0);           /* failures change nothing */
    for (int i = 0; i < 3; i++) ck_assert_int_eq(gs_score_add_peer(s, &P[i], NULL, 0), 0);
    ck_assert_int_eq(gs_score_add_peer(s, &P[3], NULL, 0), P2P_ELIMIT);
    ck_assert_int_eq(gs_score_graft(s, &P[3], T, 0), P2P_ENOTFOUND);
    ck_assert_int_eq(gs_score_graft(s, &P[0], NULL, 0), P2P_EINVAL);
    ck_assert_int_eq(gs_score_validate_message(s, &P[0], T, NULL, 4, 0), P2P_EINVAL);
    ck_assert_int_eq(gs_score_validate_message(s, &P[0], T, longid, 0, 0), P2P_EINVAL);
    ck_assert_int_eq(gs_score_validate_message(s, &P[0], T, longid, sizeof longid, 0), P2P_EINVAL);
    ck_assert_int_eq(gs_score_validate_message(s, &P[0], NULL, MID(1), 0), P2P_EINVAL);
    ck_assert_int_eq(gs_score_validate_message(s, NULL, T, MID(1), 0), P2P_EINVAL);
    ck_assert_int_eq(gs_score_duplicate_message(s, &P[3], T, MID(1), 0), P2P_ENOTFOUND);
    ck_assert_int_eq(gs_score_reject_message(s, &P[0], T, MID(1), (enum gs_reject_reason)99, 0),
                     P2P_EINVAL);
    ck_assert_int_eq(gs_score_reject_message(s, &P[0], T, NULL, 0, GS_REJECT_VALIDATION_FAILED, 0),
                     P2P_EINVAL);
    ck_assert_int_eq(gs_score_remove_peer(s, NULL, 0), P2P_EINVAL);
    EQ(gs_score(s, NULL, 0), 0);
    EQ(gs_score(NULL, &P[0], 0), 0);
    EQ(SC(s, 7, 0), 0);
    gs_score_refresh(NULL, 0);
    gs_score_free(NULL);
    /* a retained peer makes room for a new one */
    gs_score_reject_message(s, &P[0], T, MID(2), GS_REJECT_VALIDATION_FAILED, 0);
    ck_assert_int_eq(gs_score_remove_peer(s, &P[0], 0), 0);
    ck_assert_int_eq(gs_score_add_peer(s, &P[3], NULL, 0), 0);
    EQ(SC(s, 0, 0), 0);
    gs_score_get_counts(s, &c);
    ck_assert_uint_eq(c.peers, 3);
    gs_score_free(s);
}
END_TEST

START_TEST(test_records_bounded)
{
    struct gs_score_params p;
    struct gs_topic_score_params tp;
    quiet(&p);
    p.max_deliveries = 40; p.delivery_ttl_ms = 5000;
    quiet_topic(&tp);
    tp.invalid_message_deliveries_weight = -1; tp.invalid_message_deliveries_decay = 0.5;
    struct gs_score *s = mk(&p, &tp);
    struct gs_score_counts c;
    for (int i = 0; i < 40; i++) gs_score_add_peer(s, &P[i], NULL, 0);
    for (int i = 0; i < 100; i++) gs_score_validate_message(s, &P[0], T, MID(i), (uint64_t)i * 10);
    gs_score_get_counts(s, &c);
    ck_assert_uint_eq(c.deliveries, 40);
    /* the oldest were dropped: message 0 is new again */
    ck_assert_int_eq(gs_score_validate_message(s, &P[0], T, MID(0), 1000), 0);
    ck_assert_int_eq(gs_score_validate_message(s, &P[0], T, MID(99), 1000), P2P_EEXIST);
    gs_score_refresh(s, 1000 + 5000);
    gs_score_get_counts(s, &c);
    ck_assert_uint_eq(c.deliveries, 1);      /* only the one first seen at 1000 */
    gs_score_refresh(s, 6001);
    gs_score_get_counts(s, &c);
    ck_assert_uint_eq(c.deliveries, 0);
    /* at most GS_SCORE_RECORD_PEERS peers are remembered per message */
    for (int i = 1; i < 40; i++) gs_score_duplicate_message(s, &P[i], T, MID(500), 7000);
    gs_score_reject_message(s, &P[0], T, MID(500), GS_REJECT_VALIDATION_FAILED, 7000);
    int hit = 0;
    for (int i = 1; i < 40; i++) hit += SC(s, i, 7000) < 0;
    ck_assert_int_eq(hit, GS_SCORE_RECORD_PEERS);
    gs_score_free(s);
}
END_TEST

START_TEST(test_many_peers_and_time)
{
    struct gs_score_params p;
    quiet(&p);
    p.app_specific_weight = 1; p.retain_score_ms = 0;
    p.max_peers = 2048;
    struct gs_score *s = mk(&p, NULL);
    for (int i = 0; i < 2000; i++) {
        ck_assert_int_eq(gs_score_add_peer(s, &P[i], NULL, 0), 0);
        gs_score_set_app_score(s, &P[i], i);
    }
    for (int i = 0; i < 2000; i += 3) ck_assert_int_eq(gs_score_remove_peer(s, &P[i], 0), 0);
    for (int i = 0; i < 2000; i++) EQ(SC(s, i, 0), i % 3 ? i : 0);
    for (int i = 0; i < 2000; i += 3) gs_score_add_peer(s, &P[i], NULL, 0);
    for (int i = 0; i < 2000; i++) EQ(SC(s, i, 0), i % 3 ? i : 0);
    struct gs_score_counts c;
    gs_score_get_counts(s, &c);
    ck_assert_uint_eq(c.peers, 2000);
    gs_score_free(s);

    /* time going backwards counts as no time */
    struct gs_topic_score_params tp;
    quiet_topic(&tp);
    tp.time_in_mesh_weight = 1; tp.time_in_mesh_cap = 1000;
    s = mk(&p, &tp);
    gs_score_add_peer(s, &P[0], NULL, 10000);
    gs_score_graft(s, &P[0], T, 10000);
    EQ(SC(s, 0, 15000), 5);
    EQ(SC(s, 0, 12000), 5);
    gs_score_refresh(s, 0);
    EQ(SC(s, 0, 0), 5);
    gs_score_free(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *su = suite_create("gs_score");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_p1_time_in_mesh);
    tcase_add_test(tc, test_p2_first_deliveries);
    tcase_add_test(tc, test_p3_mesh_deliveries);
    tcase_add_test(tc, test_p3b_mesh_failure);
    tcase_add_test(tc, test_p4_invalid);
    tcase_add_test(tc, test_p5_app);
    tcase_add_test(tc, test_p6_colocation);
    tcase_add_test(tc, test_p7_penalty);
    tcase_add_test(tc, test_topic_weights_and_cap);
    tcase_add_test(tc, test_retention);
    tcase_add_test(tc, test_thresholds_usage);
    tcase_add_test(tc, test_invalid_params);
    tcase_add_test(tc, test_invalid_inputs);
    tcase_add_test(tc, test_records_bounded);
    tcase_add_test(tc, test_many_peers_and_time);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    init_peers();
    return p2p_test_run(suite());
}
