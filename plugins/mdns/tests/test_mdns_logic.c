/* test_mdns_logic.c - mDNS query/answer scheduling, discovery, limits and
 * expiry, with explicit time and a recording fake for the callbacks. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdns_logic.h"
#include "p2p/p2p.h"
#include "testutil.h"

#define MAXSENT 256
#define MAXREP 64

struct sent {
    uint32_t iface;
    size_t len;
    uint8_t pkt[MDNS_PACKET_MAX];
};

struct rep {
    enum mdns_report kind;
    p2p_peerid peer;
    size_t n;
    p2p_multiaddr addrs[MDNS_MAX_ADDRS_LIMIT];
    uint64_t ttl_ms;
};

struct fake {
    struct sent *sent;
    size_t nsent;
    struct rep reps[MAXREP];
    size_t nreps;
    size_t ngone, ngoodbye;
    p2p_peerid gone_peer;
    p2p_multiaddr own[8];
    size_t nown;
};

static void f_send(void *arg, uint32_t iface, const uint8_t *pkt, size_t len)
{
    struct fake *f = arg;
    ck_assert_uint_lt(f->nsent, MAXSENT);
    ck_assert_uint_le(len, MDNS_PACKET_MAX);
    f->sent[f->nsent].iface = iface;
    f->sent[f->nsent].len = len;
    memcpy(f->sent[f->nsent].pkt, pkt, len);
    f->nsent++;
}

static size_t f_own(void *arg, p2p_multiaddr *out, size_t max)
{
    struct fake *f = arg;
    for (size_t i = 0; i < f->nown && i < max; i++) out[i] = f->own[i];
    return f->nown;
}

static void f_disc(void *arg, enum mdns_report kind, const p2p_peerid *peer, const p2p_multiaddr *addrs, size_t n,
                   uint64_t ttl_ms)
{
    struct fake *f = arg;
    ck_assert_uint_lt(f->nreps, MAXREP);
    struct rep *r = &f->reps[f->nreps++];
    r->kind = kind;
    r->peer = *peer;
    r->n = n;
    memcpy(r->addrs, addrs, n * sizeof *addrs);
    r->ttl_ms = ttl_ms;
}

static void f_gone(void *arg, const p2p_peerid *peer, bool goodbye)
{
    struct fake *f = arg;
    f->ngone++;
    if (goodbye) f->ngoodbye++;
    f->gone_peer = *peer;
}

static p2p_peerid pid(uint8_t seed)
{
    p2p_keypair kp;
    p2p_pubkey pub;
    p2p_peerid id;
    p2p_keypair_from_seed_byte(&kp, seed);
    p2p_keypair_public(&kp, &pub);
    ck_assert_int_eq(p2p_peerid_from_pubkey(&id, &pub), 0);
    return id;
}

static p2p_multiaddr MA(const char *t)
{
    p2p_multiaddr ma;
    ck_assert_int_eq(p2p_maddr_parse(&ma, t, NULL, 0), 0);
    return ma;
}

static const char *ID(const p2p_peerid *id)
{
    static char buf[4][P2P_PEERID_STRMAX];
    static int k;
    k = (k + 1) % 4;
    p2p_peerid_to_string(id, buf[k], sizeof buf[k]);
    return buf[k];
}

static struct fake *fake_new(void)
{
    struct fake *f = calloc(1, sizeof *f);
    f->sent = calloc(MAXSENT, sizeof *f->sent);
    f->own[0] = MA("/ip4/198.18.0.2/tcp/4001");
    f->own[1] = MA("/ip4/127.0.0.1/tcp/4001");
    f->nown = 2;
    return f;
}

static void fake_free(struct fake *f)
{
    free(f->sent);
    free(f);
}

static struct mdns_logic *logic(struct fake *f, struct mdns_logic_config *cfg, uint8_t self)
{
    struct mdns_logic_cbs cbs = { .send = f_send, .own_addrs = f_own, .discovered = f_disc, .gone = f_gone,
                                  .arg = f };
    p2p_peerid me = pid(self);
    struct mdns_logic *lg = mdns_logic_new(cfg, &me, 42, &cbs);
    ck_assert_ptr_nonnull(lg);
    return lg;
}

static struct mdns_logic_config cfg_test(void)
{
    struct mdns_logic_config c;
    mdns_logic_config_default(&c);
    c.query_interval_ms = 2000;
    c.rediscover_ms = 2000;
    return c;
}

static struct mdns_msg *msg_new(void)
{
    struct mdns_limits lim = MDNS_LIMITS_DEFAULT;
    return mdns_msg_new(&lim);
}

static bool is_query(const struct sent *s)
{
    struct mdns_msg *m = msg_new();
    bool q = mdns_msg_parse(m, s->pkt, s->len) == 0 && !(m->flags & MDNS_FLAG_QR);
    mdns_msg_free(m);
    return q;
}

/* Run the logic until `until`, jumping from deadline to deadline. */
static void run_until(struct mdns_logic *lg, uint64_t *now, uint64_t until)
{
    for (int guard = 0; guard < 10000; guard++) {
        uint64_t d = mdns_logic_next_deadline(lg);
        if (d > until) break;
        if (d > *now) *now = d;
        mdns_logic_tick(lg, *now);
    }
    *now = until;
}

static const uint8_t ip_a[4] = { 198, 18, 0, 2 };

/* A peer's answer as another implementation would send it (our builder,
 * with the given instance label and strings). */
static size_t peer_answer(uint8_t *buf, size_t cap, const char *label, const char *const *strs, size_t n,
                          uint32_t ttl)
{
    struct mdns_name svc, inst, host;
    mdns_name_from_text(&svc, "_p2p._udp.local");
    inst = svc;
    mdns_name_prepend(&inst, label, strlen(label));
    mdns_name_from_text(&host, "local");
    mdns_name_prepend(&host, label, strlen(label));
    struct mdns_response r = { .service = &svc, .instance = &inst, .host = &host, .ttl = ttl, .port = 4001,
                               .txt = strs, .ntxt = n };
    size_t used;
    int len = mdns_build_response(buf, cap, &r, 0, &used);
    ck_assert_int_gt(len, 0);
    ck_assert_uint_eq(used, n);
    return (size_t)len;
}

static void dnsaddr(char *out, size_t cap, const char *addr, const p2p_peerid *id)
{
    snprintf(out, cap, "dnsaddr=%s/p2p/%s", addr, ID(id));
}

/* ---- scheduling ----------------------------------------------------------- */

START_TEST(burst_then_interval)
{
    struct fake *f = fake_new();
    struct mdns_logic_config c = cfg_test();
    struct mdns_logic *lg = logic(f, &c, 1);
    uint64_t now = 1000;
    ck_assert_uint_eq(mdns_logic_next_deadline(lg), UINT64_MAX);
    ck_assert_int_eq(mdns_logic_iface_up(lg, 7, MDNS_V4, ip_a, now), 0);
    uint64_t d = mdns_logic_next_deadline(lg);
    ck_assert_uint_ge(d, now + 20);
    ck_assert_uint_le(d, now + 120);
    /* Record when queries go out during 12 s. */
    uint64_t times[64];
    size_t nq = 0;
    for (int guard = 0; guard < 1000; guard++) {
        d = mdns_logic_next_deadline(lg);
        if (d > 13000) break;
        now = d;
        size_t before = f->nsent;
        mdns_logic_tick(lg, now);
        for (size_t i = before; i < f->nsent; i++) {
            ck_assert_uint_eq(f->sent[i].iface, 7);
            if (is_query(&f->sent[i])) times[nq++] = now;
        }
    }
    /* first in 20-120 ms; gaps 500, 1000; then 2000-2100 */
    ck_assert_uint_ge(nq, 6);
    ck_assert_uint_eq(times[1] - times[0], 500);
    ck_assert_uint_eq(times[2] - times[1], 1000);
    for (size_t i = 3; i < nq; i++) {
        ck_assert_uint_ge(times[i] - times[i - 1], 2000);
        ck_assert_uint_le(times[i] - times[i - 1], 2100);
    }
    /* The announcement went out too (our address, not the loopback one). */
    size_t answers = 0;
    for (size_t i = 0; i < f->nsent; i++) answers += !is_query(&f->sent[i]);
    ck_assert_uint_eq(answers, 1);
    ck_assert_uint_eq(mdns_logic_stats(lg)->queries_sent, nq);
    mdns_logic_free(lg);
    fake_free(f);
}
END_TEST

static size_t answers_sent(struct fake *f, size_t from)
{
    size_t n = 0;
    for (size_t i = from; i < f->nsent; i++) n += !is_query(&f->sent[i]);
    return n;
}

START_TEST(answers_delayed_merged_spaced)
{
    struct fake *f = fake_new();
    struct mdns_logic_config c = cfg_test();
    c.query_interval_ms = 3600000;
    c.probe_initial_ms = 3600000;      /* no burst: only the first query */
    struct mdns_logic *lg = logic(f, &c, 1);
    uint64_t now = 0;
    mdns_logic_iface_up(lg, 1, MDNS_V4, ip_a, now);
    run_until(lg, &now, 5000);        /* first query and announcement done */
    size_t base = f->nsent;
    ck_assert_uint_eq(answers_sent(f, 0), 1);

    uint8_t q[64];
    struct mdns_name svc;
    mdns_name_from_text(&svc, "_p2p._udp.local");
    int ql = mdns_build_query(q, sizeof q, 0, &svc);
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, q, (size_t)ql, now), MDNS_QUERY_ANSWERED);
    uint64_t d = mdns_logic_next_deadline(lg);
    ck_assert_uint_ge(d, now + 20);
    ck_assert_uint_le(d, now + 120);
    /* A second query 10 ms later is merged. */
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, q, (size_t)ql, now + 10), MDNS_QUERY_ANSWERED);
    ck_assert_uint_eq(mdns_logic_next_deadline(lg), d);
    run_until(lg, &now, now + 200);
    ck_assert_uint_eq(answers_sent(f, base), 1);
    uint64_t answered_at = d;
    /* A query right after: answered no sooner than 1 s after the last answer. */
    base = f->nsent;
    mdns_logic_on_packet(lg, 1, q, (size_t)ql, now);
    ck_assert_uint_eq(mdns_logic_next_deadline(lg), answered_at + 1000);
    run_until(lg, &now, answered_at + 999);
    ck_assert_uint_eq(answers_sent(f, base), 0);
    run_until(lg, &now, answered_at + 1000);
    ck_assert_uint_eq(answers_sent(f, base), 1);
    /* Queries on unknown interfaces are not answered. */
    ck_assert_int_eq(mdns_logic_on_packet(lg, 99, q, (size_t)ql, now), MDNS_IGNORED);
    mdns_logic_free(lg);
    fake_free(f);
}
END_TEST

START_TEST(answer_content)
{
    struct fake *f = fake_new();
    struct mdns_logic_config c = cfg_test();
    c.peer_name_len = 40;
    struct mdns_logic *lg = logic(f, &c, 1);
    p2p_peerid me = pid(1);
    const char *name = mdns_logic_peer_name(lg);
    ck_assert_uint_eq(strlen(name), 40);
    for (const char *p = name; *p; p++) ck_assert(islower((unsigned char)*p) || isdigit((unsigned char)*p));
    uint64_t now = 0;
    mdns_logic_iface_up(lg, 3, MDNS_V4, ip_a, now);
    run_until(lg, &now, 200);
    size_t k;
    for (k = 0; k < f->nsent && is_query(&f->sent[k]); k++) {
    }
    ck_assert_uint_lt(k, f->nsent);
    struct mdns_msg *m = msg_new();
    ck_assert_int_eq(mdns_msg_parse(m, f->sent[k].pkt, f->sent[k].len), 0);
    ck_assert_uint_eq(m->flags, MDNS_FLAG_QR | MDNS_FLAG_AA);
    ck_assert_uint_eq(m->id, 0);
    ck_assert_uint_eq(m->nr, 4);    /* PTR, SRV, A, TXT */
    ck_assert(mdns_name_equal(&m->r[0].u.target, mdns_logic_instance(lg)));
    ck_assert_uint_eq(m->r[0].ttl, 360);
    ck_assert_uint_eq(m->r[1].u.srv.port, 4001);
    ck_assert_mem_eq(m->r[2].u.a, ip_a, 4);
    const struct mdns_record *t = &m->r[3];
    ck_assert_uint_eq(t->u.txt.count, 1);   /* the loopback address is left out */
    size_t l;
    const uint8_t *s = mdns_msg_txt(m, t, 0, &l);
    char want[300];
    dnsaddr(want, sizeof want, "/ip4/198.18.0.2/tcp/4001", &me);
    ck_assert_uint_eq(l, strlen(want));
    ck_assert_mem_eq(s, want, l);
    mdns_msg_free(m);
    mdns_logic_free(lg);

    /* include_loopback: both; no address at all: no answer. */
    f->nsent = 0;
    c.include_loopback = true;
    lg = logic(f, &c, 1);
    now = 0;
    mdns_logic_iface_up(lg, 3, MDNS_V4, ip_a, now);
    run_until(lg, &now, 200);
    m = msg_new();
    for (k = 0; k < f->nsent && is_query(&f->sent[k]); k++) {
    }
    ck_assert_int_eq(mdns_msg_parse(m, f->sent[k].pkt, f->sent[k].len), 0);
    ck_assert_uint_eq(m->r[3].u.txt.count, 2);
    mdns_msg_free(m);
    mdns_logic_free(lg);

    f->nsent = 0;
    f->nown = 0;
    lg = logic(f, &c, 1);
    now = 0;
    mdns_logic_iface_up(lg, 3, MDNS_V4, ip_a, now);
    run_until(lg, &now, 5000);
    ck_assert_uint_gt(f->nsent, 0);
    ck_assert_uint_eq(answers_sent(f, 0), 0);
    mdns_logic_free(lg);
    fake_free(f);
}
END_TEST

START_TEST(own_txt_filter)
{
    p2p_peerid me = pid(1);
    p2p_multiaddr a[] = {
        MA("/ip4/0.0.0.0/tcp/1"),        MA("/ip6/::/tcp/1"),       MA("/ip6/::1/tcp/1"),
        MA("/ip4/127.0.0.2/tcp/1"),      MA("/ip4/198.18.0.2/udp/9/quic-v1"), MA("/ip4/198.18.0.2/udp/9/quic-v1"),
        MA("/ip4/198.18.0.9/tcp/5/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"),
        MA("/ip4/198.18.0.9/tcp/5/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo/p2p-circuit"),
        MA("/dns4/example.com/tcp/7"),
    };
    char out[16][MDNS_TXT_STRING_MAX + 1];
    uint16_t port;
    size_t n = mdns_own_txt(&me, a, sizeof a / sizeof a[0], false, out, 16, &port);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(port, 9);
    char want[300];
    dnsaddr(want, sizeof want, "/ip4/198.18.0.2/udp/9/quic-v1", &me);
    ck_assert_str_eq(out[0], want);
    dnsaddr(want, sizeof want, "/dns4/example.com/tcp/7", &me);
    ck_assert_str_eq(out[1], want);
    n = mdns_own_txt(&me, a, sizeof a / sizeof a[0], true, out, 16, &port);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(port, 1);
    n = mdns_own_txt(&me, a, 0, true, out, 16, &port);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(port, 4001);
    /* An IPv4-mapped loopback address is loopback too. */
    p2p_multiaddr mapped[2] = { MA("/ip6/::ffff:127.0.0.1/tcp/1"), MA("/ip6/::ffff:10.0.0.1/tcp/1") };
    n = mdns_own_txt(&me, mapped, 2, false, out, 16, &port);
    ck_assert_uint_eq(n, 1);
    dnsaddr(want, sizeof want, "/ip6/::ffff:10.0.0.1/tcp/1", &me);
    ck_assert_str_eq(out[0], want);
}
END_TEST

START_TEST(meta_and_instance_queries)
{
    struct fake *f = fake_new();
    struct mdns_logic_config c = cfg_test();
    struct mdns_logic *lg = logic(f, &c, 1);
    uint64_t now = 0;
    mdns_logic_iface_up(lg, 1, MDNS_V4, ip_a, now);
    run_until(lg, &now, 10000);
    uint8_t q[300];
    struct mdns_name meta, inst = *mdns_logic_instance(lg), other;
    mdns_name_from_text(&meta, "_services._dns-sd._udp.local");
    mdns_name_from_text(&other, "_googlecast._tcp.local");
    int ql = mdns_build_query(q, sizeof q, 0, &meta);
    size_t base = f->nsent;
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, q, (size_t)ql, now), MDNS_QUERY_ANSWERED);
    run_until(lg, &now, now + 200);
    ck_assert_uint_eq(f->nsent, base + 1);
    struct mdns_msg *m = msg_new();
    ck_assert_int_eq(mdns_msg_parse(m, f->sent[base].pkt, f->sent[base].len), 0);
    ck_assert_uint_eq(m->nr, 1);
    ck_assert(mdns_name_equal(&m->r[0].name, &meta));

    /* A TXT question for our instance name (in upper case) is answered. */
    char up[300];
    mdns_name_to_text(&inst, up, sizeof up);
    for (char *p = up; *p; p++) *p = (char)toupper((unsigned char)*p);
    struct mdns_name upn;
    mdns_name_from_text(&upn, up);
    struct mdns_writer w;
    mdns_writer_init(&w, q, sizeof q);
    mdns_write_header(&w, 0, 0, 1, 0, 0, 0);
    mdns_write_name(&w, &upn, false);
    mdns_write_u16(&w, MDNS_T_TXT);
    mdns_write_u16(&w, 0x8001);        /* QU bit: still answered by multicast */
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, q, w.len, now + 5000), MDNS_QUERY_ANSWERED);
    /* Other services, or a PTR question of class CHAOS, are not. */
    ql = mdns_build_query(q, sizeof q, 0, &other);
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, q, (size_t)ql, now), MDNS_IGNORED);
    struct mdns_name svc;
    mdns_name_from_text(&svc, "_p2p._udp.local");
    ql = mdns_build_query(q, sizeof q, 0, &svc);
    q[ql - 1] = 3;
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, q, (size_t)ql, now), MDNS_IGNORED);
    /* Non-zero opcode or rcode: ignored. */
    ql = mdns_build_query(q, sizeof q, 0, &svc);
    q[2] = 0x10;
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, q, (size_t)ql, now), MDNS_IGNORED);
    q[2] = 0;
    q[3] = 0x03;
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, q, (size_t)ql, now), MDNS_IGNORED);
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, q, 5, now), MDNS_MALFORMED);
    ck_assert_uint_eq(mdns_logic_stats(lg)->malformed, 1);
    mdns_msg_free(m);
    mdns_logic_free(lg);
    fake_free(f);
}
END_TEST

/* ---- discovery ------------------------------------------------------------ */

START_TEST(discover_refresh_again_changed)
{
    struct fake *f = fake_new();
    struct mdns_logic_config c = cfg_test();
    c.rediscover_ms = 300000;
    struct mdns_logic *lg = logic(f, &c, 1);
    p2p_peerid b = pid(2);
    uint64_t now = 100;
    mdns_logic_iface_up(lg, 1, MDNS_V4, ip_a, now);
    char s1[300], s2[300], s3[300];
    dnsaddr(s1, sizeof s1, "/ip4/198.18.0.3/tcp/4001", &b);
    dnsaddr(s2, sizeof s2, "/ip4/127.0.0.1/tcp/4001", &b);        /* dropped */
    dnsaddr(s3, sizeof s3, "/ip4/198.18.0.33/tcp/4002", &b);
    const char *strs[] = { s1, s2, "other=1", "DNSADDR=garbage" };
    uint8_t pkt[1500];
    size_t len = peer_answer(pkt, sizeof pkt, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", strs, 4, 360);
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, pkt, len, now), MDNS_RESPONSE_USED);
    ck_assert_uint_eq(f->nreps, 1);
    ck_assert_int_eq(f->reps[0].kind, MDNS_REPORT_NEW);
    ck_assert(p2p_peerid_equal(&f->reps[0].peer, &b));
    ck_assert_uint_eq(f->reps[0].n, 1);
    p2p_multiaddr want = MA("/ip4/198.18.0.3/tcp/4001");
    ck_assert(p2p_maddr_equal(&f->reps[0].addrs[0], &want));
    ck_assert_uint_eq(f->reps[0].ttl_ms, 360000);
    ck_assert_uint_eq(mdns_logic_stats(lg)->addrs_rejected, 2);   /* loopback, garbage */
    ck_assert_uint_eq(mdns_logic_peer_count(lg), 1);
    /* The burst stopped: the next query is a full interval away. */
    ck_assert_uint_ge(mdns_logic_next_deadline(lg), now + 20);

    /* The same again soon: nothing to report. */
    mdns_logic_on_packet(lg, 1, pkt, len, now + 1000);
    ck_assert_uint_eq(f->nreps, 1);
    /* After half the TTL: a refresh. */
    mdns_logic_on_packet(lg, 1, pkt, len, now + 180000);
    ck_assert_uint_eq(f->nreps, 2);
    ck_assert_int_eq(f->reps[1].kind, MDNS_REPORT_REFRESH);
    /* After rediscover_ms since the last report: again. */
    mdns_logic_on_packet(lg, 1, pkt, len, now + 300000);
    ck_assert_uint_eq(f->nreps, 3);
    ck_assert_int_eq(f->reps[2].kind, MDNS_REPORT_AGAIN);
    /* A new address: changed, with both. */
    const char *strs2[] = { s3 };
    len = peer_answer(pkt, sizeof pkt, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", strs2, 1, 360);
    mdns_logic_on_packet(lg, 1, pkt, len, now + 301000);
    ck_assert_uint_eq(f->nreps, 4);
    ck_assert_int_eq(f->reps[3].kind, MDNS_REPORT_CHANGED);
    ck_assert_uint_eq(f->reps[3].n, 2);
    mdns_logic_free(lg);
    fake_free(f);
}
END_TEST

START_TEST(own_and_foreign_peerids)
{
    struct fake *f = fake_new();
    struct mdns_logic_config c = cfg_test();
    struct mdns_logic *lg = logic(f, &c, 1);
    p2p_peerid me = pid(1), b = pid(2), x = pid(3);
    uint64_t now = 0;
    mdns_logic_iface_up(lg, 1, MDNS_V4, ip_a, now);
    run_until(lg, &now, 200);
    /* Our own answer, looped back. */
    size_t k;
    for (k = 0; k < f->nsent && is_query(&f->sent[k]); k++) {
    }
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, f->sent[k].pkt, f->sent[k].len, now), MDNS_RESPONSE_OWN);
    /* Someone else's instance name announcing our PeerId. */
    char s[300], s2[300];
    dnsaddr(s, sizeof s, "/ip4/198.18.0.4/tcp/1", &me);
    const char *strs[] = { s };
    uint8_t pkt[1500];
    size_t len = peer_answer(pkt, sizeof pkt, "impostorimpostorimpostorimpostor", strs, 1, 100);
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, pkt, len, now), MDNS_RESPONSE_OWN);
    ck_assert_uint_eq(f->nreps, 0);
    /* The first /p2p/ fixes the peer: strings naming another are dropped. */
    dnsaddr(s, sizeof s, "/ip4/198.18.0.5/tcp/1", &b);
    dnsaddr(s2, sizeof s2, "/ip4/198.18.0.6/tcp/1", &x);
    const char *mixed[] = { s, s2 };
    len = peer_answer(pkt, sizeof pkt, "mixedmixedmixedmixedmixedmixedmixed", mixed, 2, 100);
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, pkt, len, now), MDNS_RESPONSE_USED);
    ck_assert_uint_eq(f->nreps, 1);
    ck_assert(p2p_peerid_equal(&f->reps[0].peer, &b));
    ck_assert_uint_eq(f->reps[0].n, 1);
    /* Strings without /p2p/ at the end, or with a bad one, are dropped. */
    const char *bad[] = { "dnsaddr=/ip4/198.18.0.7/tcp/1", "dnsaddr=/ip4/198.18.0.7/tcp/1/p2p/QmNope",
                          "dnsaddr=", "dnsaddr" };
    len = peer_answer(pkt, sizeof pkt, "badbadbadbadbadbadbadbadbadbadbad", bad, 4, 100);
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, pkt, len, now), MDNS_IGNORED);
    ck_assert_uint_eq(f->nreps, 1);
    mdns_logic_free(lg);
    fake_free(f);
}
END_TEST

START_TEST(expiry_goodbye_maxttl)
{
    struct fake *f = fake_new();
    struct mdns_logic_config c = cfg_test();
    c.max_ttl_s = 1000;
    struct mdns_logic *lg = logic(f, &c, 1);
    p2p_peerid b = pid(2), d = pid(4);
    uint64_t now = 0;
    char s[300];
    dnsaddr(s, sizeof s, "/ip4/198.18.0.3/tcp/4001", &b);
    const char *strs[] = { s };
    uint8_t pkt[1500];
    size_t len = peer_answer(pkt, sizeof pkt, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", strs, 1, 3200);
    mdns_logic_on_packet(lg, 1, pkt, len, now);
    ck_assert_uint_eq(f->reps[0].ttl_ms, 1000000);         /* capped */
    uint64_t exp;
    p2p_multiaddr addrs[4];
    ck_assert_uint_eq(mdns_logic_peer_at(lg, 0, NULL, addrs, 4, &exp), 1);
    ck_assert_uint_eq(exp, 1000000);
    ck_assert_uint_eq(mdns_logic_next_deadline(lg), 1000000);
    mdns_logic_tick(lg, 999999);
    ck_assert_uint_eq(mdns_logic_peer_count(lg), 1);
    mdns_logic_tick(lg, 1000000);
    ck_assert_uint_eq(mdns_logic_peer_count(lg), 0);
    ck_assert_uint_eq(f->ngone, 1);
    ck_assert_uint_eq(f->ngoodbye, 0);

    /* Goodbye: TTL 0, matched by PeerId, or by instance name when the
     * goodbye carries no usable address. */
    len = peer_answer(pkt, sizeof pkt, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", strs, 1, 120);
    mdns_logic_on_packet(lg, 1, pkt, len, now);
    ck_assert_uint_eq(mdns_logic_peer_count(lg), 1);
    len = peer_answer(pkt, sizeof pkt, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", strs, 1, 0);
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, pkt, len, now), MDNS_RESPONSE_USED);
    ck_assert_uint_eq(mdns_logic_peer_count(lg), 0);
    ck_assert_uint_eq(f->ngoodbye, 1);
    dnsaddr(s, sizeof s, "/ip4/198.18.0.9/tcp/4001", &d);
    len = peer_answer(pkt, sizeof pkt, "dddddddddddddddddddddddddddddddddd", strs, 1, 120);
    mdns_logic_on_packet(lg, 1, pkt, len, now);
    ck_assert_uint_eq(mdns_logic_peer_count(lg), 1);
    len = peer_answer(pkt, sizeof pkt, "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD", NULL, 0, 0);
    mdns_logic_on_packet(lg, 1, pkt, len, now);
    ck_assert_uint_eq(mdns_logic_peer_count(lg), 0);
    ck_assert_uint_eq(f->ngoodbye, 2);
    ck_assert(p2p_peerid_equal(&f->gone_peer, &d));
    mdns_logic_free(lg);
    fake_free(f);
}
END_TEST

START_TEST(limits_peers_addrs)
{
    struct fake *f = fake_new();
    struct mdns_logic_config c = cfg_test();
    c.max_peers = 2;
    c.max_addrs = 4;
    struct mdns_logic *lg = logic(f, &c, 1);
    uint8_t pkt[4000];
    char s[3][300];
    const char *strs[3];
    uint32_t ttls[3] = { 100, 200, 50 };
    for (int i = 0; i < 3; i++) {
        p2p_peerid id = pid((uint8_t)(10 + i));
        dnsaddr(s[i], sizeof s[i], "/ip4/198.18.0.3/tcp/4001", &id);
        strs[0] = s[i];
        char label[40];
        snprintf(label, sizeof label, "peer%dpeer%dpeer%dpeer%dpeer%dpeer%dpe", i, i, i, i, i, i);
        size_t len = peer_answer(pkt, sizeof pkt, label, strs, 1, ttls[i]);
        mdns_logic_on_packet(lg, 1, pkt, len, 0);
    }
    /* The third (TTL 50) does not outlive anyone: dropped. */
    ck_assert_uint_eq(mdns_logic_peer_count(lg), 2);
    ck_assert_uint_eq(f->nreps, 2);
    /* A fourth with TTL 150 replaces the first (TTL 100). */
    p2p_peerid id4 = pid(20), got[2];
    dnsaddr(s[0], sizeof s[0], "/ip4/198.18.0.3/tcp/4001", &id4);
    strs[0] = s[0];
    size_t len = peer_answer(pkt, sizeof pkt, "fourfourfourfourfourfourfourfourfour", strs, 1, 150);
    mdns_logic_on_packet(lg, 1, pkt, len, 0);
    ck_assert_uint_eq(mdns_logic_peer_count(lg), 2);
    ck_assert_uint_eq(mdns_logic_stats(lg)->peers_evicted, 1);
    p2p_multiaddr a[4];
    mdns_logic_peer_at(lg, 0, &got[0], a, 4, NULL);
    mdns_logic_peer_at(lg, 1, &got[1], a, 4, NULL);
    p2p_peerid id0 = pid(10);
    ck_assert(!p2p_peerid_equal(&got[0], &id0) && !p2p_peerid_equal(&got[1], &id0));

    /* 20 addresses of one peer: 4 kept. */
    char many[20][300];
    const char *mp[20];
    p2p_peerid id5 = pid(30);
    for (int i = 0; i < 20; i++) {
        char addr[64];
        snprintf(addr, sizeof addr, "/ip4/198.18.1.%d/tcp/4001", i + 1);
        dnsaddr(many[i], sizeof many[i], addr, &id5);
        mp[i] = many[i];
    }
    len = peer_answer(pkt, sizeof pkt, "manymanymanymanymanymanymanymanymany", mp, 20, 1000);
    mdns_logic_on_packet(lg, 1, pkt, len, 0);
    ck_assert_uint_eq(f->reps[f->nreps - 1].n, 4);
    mdns_logic_free(lg);
    fake_free(f);
}
END_TEST

/* js-libp2p's shape: PTR and several TXT records, all answers. */
START_TEST(foreign_shapes)
{
    struct fake *f = fake_new();
    struct mdns_logic_config c = cfg_test();
    struct mdns_logic *lg = logic(f, &c, 1);
    p2p_peerid j = pid(5), g = pid(6);
    char s1[300], s2[300];
    dnsaddr(s1, sizeof s1, "/ip4/198.18.0.7/tcp/40001", &j);
    dnsaddr(s2, sizeof s2, "/ip4/198.18.0.8/tcp/40001", &j);
    uint8_t buf[1500];
    struct mdns_writer w;
    mdns_writer_init(&w, buf, sizeof buf);
    struct mdns_name svc, inst;
    mdns_name_from_text(&svc, "_p2p._udp.local");
    mdns_name_from_text(&inst, "jsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsjsj._p2p._udp.local");
    mdns_write_header(&w, 0, 0x8400, 0, 3, 0, 0);
    size_t rd = mdns_begin_record(&w, &svc, MDNS_T_PTR, 1, 120);
    mdns_write_name(&w, &inst, false);
    mdns_end_rdata(&w, rd);
    const char *ss[] = { s1, s2 };
    for (int i = 0; i < 2; i++) {
        rd = mdns_begin_record(&w, &inst, MDNS_T_TXT, 1, 120);
        uint8_t l = (uint8_t)strlen(ss[i]);
        mdns_write_bytes(&w, &l, 1);
        mdns_write_bytes(&w, ss[i], l);
        mdns_end_rdata(&w, rd);
    }
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, buf, w.len, 0), MDNS_RESPONSE_USED);
    ck_assert_uint_eq(f->nreps, 1);
    ck_assert(p2p_peerid_equal(&f->reps[0].peer, &j));
    ck_assert_uint_eq(f->reps[0].n, 2);
    ck_assert_uint_eq(f->reps[0].ttl_ms, 120000);

    /* go-libp2p's: one TXT record with many strings in the additional
     * section, plus records of other services in the same message. */
    dnsaddr(s1, sizeof s1, "/ip4/198.18.0.9/tcp/4001", &g);
    dnsaddr(s2, sizeof s2, "/ip6/2001:db8::9/tcp/4001", &g);
    mdns_writer_init(&w, buf, sizeof buf);
    struct mdns_name ginst, cast;
    mdns_name_from_text(&ginst, "gogogogogogogogogogogogogogogogogo._p2p._udp.local");
    mdns_name_from_text(&cast, "_googlecast._tcp.local");
    mdns_write_header(&w, 0, 0x8400, 0, 2, 0, 1);
    rd = mdns_begin_record(&w, &cast, MDNS_T_PTR, 1, 120);
    mdns_write_name(&w, &ginst, true);
    mdns_end_rdata(&w, rd);
    rd = mdns_begin_record(&w, &svc, MDNS_T_PTR, 1, 3200);
    mdns_write_name(&w, &ginst, true);
    mdns_end_rdata(&w, rd);
    rd = mdns_begin_record(&w, &ginst, MDNS_T_TXT, 0x8001, 3200);
    for (int i = 0; i < 2; i++) {
        const char *x = i ? s2 : s1;
        uint8_t l = (uint8_t)strlen(x);
        mdns_write_bytes(&w, &l, 1);
        mdns_write_bytes(&w, x, l);
    }
    mdns_end_rdata(&w, rd);
    ck_assert_int_eq(mdns_logic_on_packet(lg, 1, buf, w.len, 0), MDNS_RESPONSE_USED);
    ck_assert_uint_eq(f->nreps, 2);
    ck_assert(p2p_peerid_equal(&f->reps[1].peer, &g));
    ck_assert_uint_eq(f->reps[1].n, 2);
    ck_assert_uint_eq(f->reps[1].ttl_ms, 3200000);
    mdns_logic_free(lg);
    fake_free(f);
}
END_TEST

START_TEST(split_answers_and_goodbye)
{
    struct fake *f = fake_new();
    for (int i = 0; i < 8; i++) {
        char a[64];
        snprintf(a, sizeof a, "/ip4/198.18.0.%d/tcp/%d", 10 + i, 40000 + i);
        f->own[i] = MA(a);
    }
    f->nown = 8;
    struct mdns_logic_config c = cfg_test();
    c.max_packet = 512;
    struct mdns_logic *lg = logic(f, &c, 1);
    uint64_t now = 0;
    mdns_logic_iface_up(lg, 1, MDNS_V4, ip_a, now);
    mdns_logic_iface_up(lg, 2, MDNS_V6, (const uint8_t *)"\xfe\x80\0\0\0\0\0\0\0\0\0\0\0\0\0\x02", now);
    ck_assert_uint_eq(mdns_logic_iface_count(lg), 2);
    run_until(lg, &now, 200);
    struct mdns_msg *m = msg_new();
    size_t strings = 0, packets = 0;
    for (size_t k = 0; k < f->nsent; k++) {
        if (is_query(&f->sent[k]) || f->sent[k].iface != 1) continue;
        ck_assert_uint_le(f->sent[k].len, 512);
        ck_assert_int_eq(mdns_msg_parse(m, f->sent[k].pkt, f->sent[k].len), 0);
        const struct mdns_record *t = &m->r[m->nr - 1];
        ck_assert(!t->cache_flush);
        strings += t->u.txt.count;
        packets++;
    }
    ck_assert_uint_eq(strings, 8);
    ck_assert_uint_ge(packets, 2);
    /* The IPv6 interface's answer has an AAAA record. */
    bool aaaa = false;
    for (size_t k = 0; k < f->nsent; k++) {
        if (is_query(&f->sent[k]) || f->sent[k].iface != 2) continue;
        mdns_msg_parse(m, f->sent[k].pkt, f->sent[k].len);
        for (size_t i = 0; i < m->nr; i++) aaaa |= m->r[i].type == MDNS_T_AAAA;
    }
    ck_assert(aaaa);
    /* Goodbye: on both interfaces, TTL 0, at once. */
    size_t base = f->nsent;
    mdns_logic_goodbye(lg);
    ck_assert_uint_ge(f->nsent - base, 4);
    ck_assert_int_eq(mdns_msg_parse(m, f->sent[base].pkt, f->sent[base].len), 0);
    ck_assert_uint_eq(m->r[0].ttl, 0);
    /* An interface that goes down gets nothing more. */
    mdns_logic_iface_down(lg, 2);
    base = f->nsent;
    run_until(lg, &now, 60000);
    for (size_t k = base; k < f->nsent; k++) ck_assert_uint_eq(f->sent[k].iface, 1);
    mdns_logic_free(lg);
    mdns_msg_free(m);
    fake_free(f);
}
END_TEST

START_TEST(config_and_names)
{
    struct fake *f = fake_new();
    struct mdns_logic_config c = cfg_test();
    struct mdns_logic_cbs cbs = { .send = f_send, .own_addrs = f_own, .discovered = f_disc, .arg = f };
    p2p_peerid me = pid(1);
    c.peer_name_len = 31;
    ck_assert_ptr_null(mdns_logic_new(&c, &me, 1, &cbs));
    c.peer_name_len = 64;
    ck_assert_ptr_null(mdns_logic_new(&c, &me, 1, &cbs));
    c.peer_name_len = 0;
    c.max_packet = 100;
    ck_assert_ptr_null(mdns_logic_new(&c, &me, 1, &cbs));
    c.max_packet = 1400;
    c.max_addrs = 33;
    ck_assert_ptr_null(mdns_logic_new(&c, &me, 1, &cbs));
    c.max_addrs = 4;
    c.peer_name = "fixed.name";
    ck_assert_ptr_null(mdns_logic_new(&c, &me, 1, &cbs));
    c.peer_name = "fixedname";
    struct mdns_logic *lg = mdns_logic_new(&c, &me, 1, &cbs);
    ck_assert_str_eq(mdns_logic_peer_name(lg), "fixedname");
    mdns_logic_free(lg);
    c.peer_name = NULL;
    /* Random names: 32..63 characters, different per seed. */
    char first[64] = "";
    for (uint64_t seed = 1; seed < 50; seed++) {
        lg = mdns_logic_new(&c, &me, seed, &cbs);
        size_t l = strlen(mdns_logic_peer_name(lg));
        ck_assert_uint_ge(l, 32);
        ck_assert_uint_le(l, 63);
        if (seed == 1) snprintf(first, sizeof first, "%s", mdns_logic_peer_name(lg));
        else ck_assert_str_ne(first, mdns_logic_peer_name(lg));
        mdns_logic_free(lg);
    }
    fake_free(f);
}
END_TEST

/* The seed corpus of the fuzzer holds a captured js-libp2p answer and
 * query, a captured answer of ours, and rust- and go-shaped answers. */
START_TEST(corpus_vectors)
{
    static const struct {
        const char *file;
        enum mdns_verdict v;
        size_t naddrs;      /* of the reported peer, 0 for none */
    } cases[] = {
        { "js-libp2p-response", MDNS_RESPONSE_USED, 1 },   /* 127.0.0.1 dropped, 198.18.0.20 kept */
        { "js-libp2p-query", MDNS_QUERY_ANSWERED, 0 },
        { "c-response", MDNS_RESPONSE_USED, 1 },
        { "rust-like-response", MDNS_RESPONSE_USED, 3 },
        { "go-like-response", MDNS_RESPONSE_USED, 2 },
        { "meta-query", MDNS_QUERY_ANSWERED, 0 },
        { "hostile-self-pointer", MDNS_MALFORMED, 0 },
        { "hostile-pointer-chain", MDNS_MALFORMED, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/fuzz/corpus/mdns_dns/%s", P2P_TEST_SRCDIR, cases[i].file);
        size_t len;
        char *data = p2p_test_read_file(path, &len);
        ck_assert_msg(data != NULL, "cannot read %s", path);
        struct fake *f = fake_new();
        struct mdns_logic_config c = cfg_test();
        struct mdns_logic *lg = logic(f, &c, 1);
        mdns_logic_iface_up(lg, 1, MDNS_V4, ip_a, 0);
        enum mdns_verdict v = mdns_logic_on_packet(lg, 1, (const uint8_t *)data, len, 0);
        ck_assert_msg(v == cases[i].v, "%s: verdict %d, want %d", cases[i].file, v, cases[i].v);
        if (cases[i].naddrs) {
            ck_assert_uint_eq(f->nreps, 1);
            ck_assert_msg(f->reps[0].n == cases[i].naddrs, "%s: %zu addresses", cases[i].file, f->reps[0].n);
        } else {
            ck_assert_uint_eq(f->nreps, 0);
        }
        mdns_logic_free(lg);
        fake_free(f);
        free(data);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("mdns_logic");
    TCase *t = tcase_create("core");
    tcase_add_test(t, burst_then_interval);
    tcase_add_test(t, answers_delayed_merged_spaced);
    tcase_add_test(t, answer_content);
    tcase_add_test(t, own_txt_filter);
    tcase_add_test(t, meta_and_instance_queries);
    tcase_add_test(t, discover_refresh_again_changed);
    tcase_add_test(t, own_and_foreign_peerids);
    tcase_add_test(t, expiry_goodbye_maxttl);
    tcase_add_test(t, limits_peers_addrs);
    tcase_add_test(t, foreign_shapes);
    tcase_add_test(t, split_answers_and_goodbye);
    tcase_add_test(t, config_and_names);
    tcase_add_test(t, corpus_vectors);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
