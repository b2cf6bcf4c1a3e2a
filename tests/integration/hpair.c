/* hpair.c - an honest pair chatting through a node (see hpair.h). */
#include "hpair.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ihost.h"

#define MSG_LEN 16          /* seq (4), padding (4), send time in ns (8) */
#define MAX_MSGS 4096

struct hpair {
    uv_loop_t *loop;
    p2p_host *node, *b;
    p2p_stream *na, *nb;        /* the node's ends: from A, from B */
    p2p_stream *sa, *sb;        /* A's and B's ends */
    p2p_timer *tick;
    unsigned interval_ms;
    bool stopping;
    uint8_t rx[MSG_LEN];        /* A's partial message */
    size_t rxlen;
    size_t sent, returned;
    uint64_t sent_ns[MAX_MSGS];
    double rtt_ms[MAX_MSGS];
    int errors, last_err;
    const char *error_where;
};

static void fail_on(struct hpair *hp, const char *where, int err)
{
    hp->errors++;
    hp->last_err = err;
    hp->error_where = where;
}

/* ---- the node: forward between the two streams ------------------------ */

static void node_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct hpair *hp = arg;
    p2p_stream *to = s == hp->na ? hp->nb : hp->na;
    int rc = to ? p2p_stream_write(to, data, len) : P2P_ECLOSED;
    if (rc < 0) fail_on(hp, "node forwarding", rc);
}

static void node_error(p2p_stream *s, int err, void *arg)
{
    struct hpair *hp = arg;
    fail_on(hp, s == hp->na ? "node's stream from A" : "node's stream from B", err);
    if (s == hp->na) hp->na = NULL;
    else hp->nb = NULL;
    p2p_stream_close(s);
}

static const struct p2p_stream_handlers node_handlers = { node_read, NULL, node_error, NULL };

static void on_node_stream(p2p_stream *s, const char *proto, void *arg)
{
    (void)proto;
    struct hpair *hp = arg;
    if (hp->na && hp->nb) {   /* only one pair */
        p2p_stream_close(s);
        return;
    }
    /* B opens first (hpair_start waits for it). */
    if (!hp->nb) hp->nb = s;
    else hp->na = s;
    p2p_stream_set_handlers(s, &node_handlers, hp);
    p2p_stream_read_start(s);
}

/* ---- B: send everything back ------------------------------------------- */

static void b_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    int rc = p2p_stream_write(s, data, len);
    if (rc < 0) fail_on(arg, "B's echo", rc);
}

static void end_error(p2p_stream *s, int err, void *arg)
{
    struct hpair *hp = arg;
    fail_on(hp, s == hp->sa ? "A's stream" : "B's stream", err);
    if (s == hp->sa) hp->sa = NULL;
    else hp->sb = NULL;
    p2p_stream_close(s);
}

static const struct p2p_stream_handlers b_handlers = { b_read, NULL, end_error, NULL };

/* ---- A: send, and time what comes back ---------------------------------- */

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void a_read(p2p_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    struct hpair *hp = arg;
    uint64_t now = uv_hrtime();
    while (len) {
        size_t k = MSG_LEN - hp->rxlen < len ? MSG_LEN - hp->rxlen : len;
        memcpy(hp->rx + hp->rxlen, data, k);
        hp->rxlen += k;
        data += k;
        len -= k;
        if (hp->rxlen < MSG_LEN) break;
        hp->rxlen = 0;
        uint32_t seq = (uint32_t)hp->rx[0] | (uint32_t)hp->rx[1] << 8 | (uint32_t)hp->rx[2] << 16 |
                       (uint32_t)hp->rx[3] << 24;
        if (seq != hp->returned || seq >= hp->sent || get_u64(hp->rx + 8) != hp->sent_ns[seq]) {
            fail_on(hp, "A: a message came back out of order or altered", P2P_EPROTO);
            continue;
        }
        hp->rtt_ms[hp->returned++] = (double)(now - hp->sent_ns[seq]) / 1e6;
    }
}

static const struct p2p_stream_handlers a_handlers = { a_read, NULL, end_error, NULL };

static void send_one(p2p_timer *t, void *arg)
{
    (void)t;
    struct hpair *hp = arg;
    if (hp->stopping || !hp->sa || hp->sent == MAX_MSGS) return;
    uint8_t m[MSG_LEN] = { 0 };
    uint32_t seq = (uint32_t)hp->sent;
    uint64_t ns = uv_hrtime();
    for (int i = 0; i < 4; i++) m[i] = (uint8_t)(seq >> (8 * i));
    for (int i = 0; i < 8; i++) m[8 + i] = (uint8_t)(ns >> (8 * i));
    hp->sent_ns[hp->sent++] = ns;
    int rc = p2p_stream_write(hp->sa, m, sizeof m);
    if (rc < 0) fail_on(hp, "A's send", rc);
}

/* ---- set-up ------------------------------------------------------------- */

struct opened {
    bool done;
    int status;
    p2p_stream *s;
};

static void on_opened(int status, p2p_stream *s, void *arg)
{
    struct opened *o = arg;
    o->done = true;
    o->status = status;
    o->s = s;
}

static p2p_stream *open_on(uv_loop_t *loop, p2p_conn *c, const char *who)
{
    struct opened o = { 0 };
    const char *const protos[] = { HPAIR_PROTOCOL, NULL };
    ck_assert_int_eq(p2p_conn_open_stream(c, protos, on_opened, &o), 0);
    ck_assert_msg(ihost_run_until(loop, &o.done, 10000), "%s: stream not opened", who);
    ck_assert_msg(o.status == 0, "%s: stream: %s", who, p2p_strerror(o.status));
    return o.s;
}

static bool node_has_b(void *arg) { return ((struct hpair *)arg)->nb != NULL; }
static bool node_has_a(void *arg) { return ((struct hpair *)arg)->na != NULL; }

struct hpair *hpair_start(uv_loop_t *loop, p2p_host *node, p2p_conn *a_conn, unsigned interval_ms)
{
    struct hpair *hp = calloc(1, sizeof *hp);
    ck_assert_ptr_nonnull(hp);
    hp->loop = loop;
    hp->node = node;
    hp->interval_ms = interval_ms;
    ck_assert_int_eq(p2p_protocol_add(node, HPAIR_PROTOCOL, on_node_stream, hp), 0);
    hp->b = ihost_new(loop, NULL, NULL);
    ihost_start(hp->b);
    /* The node dials B: an outbound connection of the node. */
    p2p_multiaddr ba = ihost_addr(hp->b);
    p2p_conn *nc = NULL;
    int rc = ihost_connect(loop, node, hp->b, &ba, &nc, 10000);
    ck_assert_msg(rc == 0, "node -> B: %s", p2p_strerror(rc));
    p2p_conn *bc = p2p_host_conn_to(hp->b, p2p_host_peerid(node));
    ck_assert_ptr_nonnull(bc);
    hp->sb = open_on(loop, bc, "B");
    p2p_stream_set_handlers(hp->sb, &b_handlers, hp);
    p2p_stream_read_start(hp->sb);
    ck_assert(ihost_run_cond(loop, node_has_b, hp, 5000));
    hp->sa = open_on(loop, a_conn, "A");
    p2p_stream_set_handlers(hp->sa, &a_handlers, hp);
    p2p_stream_read_start(hp->sa);
    ck_assert(ihost_run_cond(loop, node_has_a, hp, 5000));
    hp->tick = p2p_timer_new(p2p_stream_host(hp->sa), send_one, hp);
    p2p_timer_start(hp->tick, 0, interval_ms);   /* the first one at once */
    return hp;
}

/* ---- the verdict ---------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bool all_back(void *arg)
{
    struct hpair *hp = arg;
    return hp->returned == hp->sent || hp->errors;
}

void hpair_stop(struct hpair *hp, uint64_t bound_ms, struct hpair_stats *out)
{
    hp->stopping = true;
    p2p_timer_stop(hp->tick);
    ihost_run_cond(hp->loop, all_back, hp, 10000);
    const char *mult = getenv("CK_TIMEOUT_MULTIPLIER");
    double m = mult && atof(mult) > 1 ? atof(mult) : 1;
    struct hpair_stats st = { hp->sent, hp->returned, 0, 0 };
    if (hp->returned) {
        double *sorted = malloc(hp->returned * sizeof *sorted);
        ck_assert_ptr_nonnull(sorted);
        memcpy(sorted, hp->rtt_ms, hp->returned * sizeof *sorted);
        qsort(sorted, hp->returned, sizeof *sorted, cmp_double);
        st.p50_ms = sorted[hp->returned / 2];
        st.max_ms = sorted[hp->returned - 1];
        free(sorted);
    }
    printf("    honest pair through the node: %zu messages every %u ms, %zu back; round trip p50 %.1f ms, "
           "max %.1f ms (bound %.0f ms)\n", st.sent, hp->interval_ms, st.returned, st.p50_ms, st.max_ms,
           (double)bound_ms * m);
    if (out) *out = st;
    ck_assert_msg(hp->errors == 0, "honest pair: %s failed: %s", hp->error_where, p2p_strerror(hp->last_err));
    ck_assert_uint_gt(st.sent, 0);
    ck_assert_msg(st.returned == st.sent, "honest pair: %zu of %zu messages came back", st.returned, st.sent);
    ck_assert_msg(st.max_ms <= (double)bound_ms * m, "honest pair: worst round trip %.1f ms over %.0f ms",
                  st.max_ms, (double)bound_ms * m);
}

p2p_host *hpair_partner(const struct hpair *hp) { return hp->b; }

void hpair_free(struct hpair *hp)
{
    p2p_timer_free(hp->tick);
    if (hp->sa) p2p_stream_close(hp->sa);
    if (hp->sb) p2p_stream_close(hp->sb);
    if (hp->na) p2p_stream_close(hp->na);
    if (hp->nb) p2p_stream_close(hp->nb);
    p2p_protocol_remove(hp->node, HPAIR_PROTOCOL);
    p2p_host_free(hp->b);
    free(hp);
}
