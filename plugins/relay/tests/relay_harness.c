/* relay_harness.c - see relay_harness.h. */
#include "relay_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ihost.h"
#include "testutil.h"

p2p_host *rh_host(uv_loop_t *loop, const char *listen, const char *host_keys, const char *relay_keys,
                  const p2p_keypair *key)
{
    char text[4096], err[1024];
    snprintf(text, sizeof text,
             "[host]\nephemeral_identity = true\nlisten = %s\nlog = %s\n%s\n"
             "[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin relay]\n%s\n",
             listen, getenv("P2P_LOG") ? getenv("P2P_LOG") : "warn", host_keys ? host_keys : "",
             relay_keys ? relay_keys : "");
    p2p_conf *cf = p2p_conf_load_string(text, "relay-test.ini", err, sizeof err);
    ck_assert_msg(cf != NULL, "config: %s", err);
    struct p2p_host_opts o = { .loop = loop, .key = key };
    p2p_host *h = NULL;
    int rc = p2p_host_new(&h, cf, &o, err, sizeof err);
    ck_assert_msg(rc == 0, "host: %s", err);
    ihost_start(h);
    return h;
}

p2p_multiaddr rh_tcp_addr(p2p_host *h)
{
    return ihost_addr(h);
}

void rh_peer_addr(p2p_host *h, char *out, size_t cap)
{
    ihost_peer_addr(h, out, cap);
}

p2p_multiaddr rh_circuit_addr(p2p_host *relay, p2p_host *target)
{
    p2p_multiaddr a = rh_tcp_addr(relay), out;
    ck_assert_int_eq(relay_caddr_make(&a, p2p_host_peerid(relay), &out), 0);
    if (target) {
        const p2p_peerid *t = p2p_host_peerid(target);
        ck_assert_int_eq(p2p_maddr_push(&out, P2P_MA_P2P, t->bytes, t->len), 0);
    }
    return out;
}

size_t rh_circuit_count(p2p_host *h)
{
    return ihost_circuit_count(h);
}

bool rh_has_circuit(p2p_host *h)
{
    return rh_circuit_count(h) > 0;
}

struct relay_st *rh_state(p2p_host *h)
{
    struct relay_st *st = p2p_host_plugin_state(h, "relay");
    ck_assert_ptr_nonnull(st);
    return st;
}

/* ---- connecting ------------------------------------------------------------------- */

int rh_connect(uv_loop_t *loop, p2p_host *from, p2p_host *to, const p2p_multiaddr *addr, p2p_conn **c, uint64_t ms)
{
    return ihost_connect(loop, from, to, addr, c, ms);
}

/* ---- raw exchanges -------------------------------------------------------------------- */

struct xchg {
    bool done;
    int status;
    enum relay_kind kind;
    const uint8_t *req;
    size_t len;
    p2p_buf in;
    struct relay_msg *resp;
    p2p_stream *s;
};

static void x_finish(struct xchg *x, int status)
{
    if (x->done) return;
    x->done = true;
    x->status = status;
    if (x->s) p2p_stream_close(x->s);
    x->s = NULL;
}

static void x_read(p2p_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s;
    struct xchg *x = arg;
    p2p_buf_append(&x->in, d, n);
    size_t hdr, body;
    int rc = relay_frame(p2p_buf_head(&x->in), x->in.len, &hdr, &body);
    if (rc == P2P_ETRUNC) return;
    if (rc == 0) rc = relay_msg_decode(x->resp, x->kind, p2p_buf_head(&x->in) + hdr, body);
    x_finish(x, rc);
}

static void x_eof(p2p_stream *s, void *arg)
{
    (void)s;
    x_finish(arg, P2P_ETRUNC);
}

static void x_error(p2p_stream *s, int err, void *arg)
{
    (void)s;
    x_finish(arg, err);
}

static const struct p2p_stream_handlers x_handlers = { x_read, x_eof, x_error, NULL };

static void x_opened(int status, p2p_stream *s, void *arg)
{
    struct xchg *x = arg;
    if (status) return x_finish(x, status);
    x->s = s;
    p2p_stream_set_handlers(s, &x_handlers, x);
    if (p2p_stream_write(s, x->req, x->len) < 0) return x_finish(x, P2P_EIO);
    p2p_stream_read_start(s);
}

int rh_exchange(uv_loop_t *loop, p2p_host *from, p2p_host *to, p2p_conn *conn, const char *protocol,
                enum relay_kind kind, const uint8_t *req, size_t len, struct relay_msg *resp)
{
    /* On the heap: a late callback after a time-out must find it (leaked then). */
    struct xchg *x = calloc(1, sizeof *x);
    ck_assert_ptr_nonnull(x);
    *x = (struct xchg){ .kind = kind, .req = req, .len = len, .resp = resp };
    p2p_buf_init(&x->in, 0);
    const char *protos[] = { protocol, NULL };
    int rc = conn ? p2p_conn_open_stream(conn, protos, x_opened, x)
                  : p2p_host_new_stream(from, p2p_host_peerid(to), protos, x_opened, x);
    if (rc < 0) {
        free(x);
        return rc;
    }
    if (!ihost_run_until(loop, &x->done, 10000)) return P2P_ETIMEDOUT;
    rc = x->status;
    p2p_buf_free(&x->in);
    free(x);
    return rc;
}

int rh_exchange_msg(uv_loop_t *loop, p2p_host *from, p2p_host *to, p2p_conn *conn, const struct relay_msg *req,
                    struct relay_msg *resp)
{
    uint8_t buf[RELAY_FRAME_MAX];
    int n = relay_msg_encode(req, buf, sizeof buf);
    ck_assert_int_gt(n, 0);
    return rh_exchange(loop, from, to, conn, req->kind == RELAY_HOP ? RELAY_HOP_PROTOCOL : RELAY_STOP_PROTOCOL,
                       req->kind, buf, (size_t)n, resp);
}
