#include "ihost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

p2p_host *ihost_new(uv_loop_t *loop, const char *extra_host_keys, const char *extra_sections)
{
    return ihost_new_listen(loop, "/ip4/127.0.0.1/tcp/0", extra_host_keys, extra_sections);
}

p2p_host *ihost_new_listen(uv_loop_t *loop, const char *listen, const char *extra_host_keys,
                           const char *extra_sections)
{
    char text[4096], err[1024];
    snprintf(text, sizeof text,
             "[host]\nephemeral_identity = true\nlisten = %s\nlog = %s\n%s\n"
             "[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n%s",
             listen, getenv("P2P_LOG") ? getenv("P2P_LOG") : "warn",
             extra_host_keys ? extra_host_keys : "", extra_sections ? extra_sections : "");
    p2p_conf *cf = p2p_conf_load_string(text, "itest.ini", err, sizeof err);
    ck_assert_msg(cf != NULL, "config: %s", err);
    struct p2p_host_opts o = { .loop = loop };
    p2p_host *h = NULL;
    int rc = p2p_host_new(&h, cf, &o, err, sizeof err);
    ck_assert_msg(rc == 0, "host: %s", err);
    return h;
}

void ihost_start(p2p_host *h)
{
    char err[1024];
    int rc = p2p_host_start(h, err, sizeof err);
    ck_assert_msg(rc == 0, "start: %s", err);
}

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

bool ihost_run_cond(uv_loop_t *loop, bool (*cond)(void *arg), void *arg, uint64_t ms)
{
    uv_timer_t t;
    bool expired = false;
    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, ms, 0);
    while (!cond(arg) && !expired) uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&t);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return cond(arg);
}

static bool flag_set(void *arg) { return *(const volatile bool *)arg; }

bool ihost_run_until(uv_loop_t *loop, const volatile bool *flag, uint64_t ms)
{
    return ihost_run_cond(loop, flag_set, (void *)flag, ms);
}

static bool never(void *arg) { (void)arg; return false; }

void ihost_run_for(uv_loop_t *loop, uint64_t ms)
{
    ihost_run_cond(loop, never, NULL, ms);
}

p2p_multiaddr ihost_addr(p2p_host *h)
{
    p2p_multiaddr addrs[8];
    size_t n = p2p_host_listen_addrs(h, addrs, 8);
    ck_assert_uint_ge(n, 1);
    return addrs[0];
}

void ihost_peer_addr(p2p_host *h, char *out, size_t cap)
{
    p2p_multiaddr a = ihost_addr(h);
    char as[P2P_MADDR_STRMAX], id[P2P_PEERID_STRMAX];
    ck_assert_int_gt(p2p_maddr_to_string(&a, as, sizeof as), 0);
    p2p_peerid_to_string(p2p_host_peerid(h), id, sizeof id);
    snprintf(out, cap, "%s/p2p/%s", as, id);
}

p2p_multiaddr ihost_circuit_addr(p2p_host *relay, p2p_host *target)
{
    p2p_multiaddr a = ihost_addr(relay);
    const p2p_peerid *r = p2p_host_peerid(relay);
    ck_assert_int_eq(p2p_maddr_push(&a, P2P_MA_P2P, r->bytes, r->len), 0);
    ck_assert_int_eq(p2p_maddr_push(&a, P2P_MA_P2P_CIRCUIT, NULL, 0), 0);
    if (target) {
        const p2p_peerid *t = p2p_host_peerid(target);
        ck_assert_int_eq(p2p_maddr_push(&a, P2P_MA_P2P, t->bytes, t->len), 0);
    }
    return a;
}

size_t ihost_circuit_count(p2p_host *h)
{
    p2p_multiaddr addrs[32];
    size_t n = p2p_host_advertised_addrs(h, addrs, 32), k = 0;
    struct p2p_maddr_component c;
    for (size_t i = 0; i < n && i < 32; i++)
        if (p2p_maddr_find(&addrs[i], P2P_MA_P2P_CIRCUIT, &c)) k++;
    return k;
}

void ihost_on_connected(int status, p2p_conn *c, void *arg)
{
    struct ihost_wait *w = arg;
    w->done = true;
    w->status = status;
    w->c = c;
}

int ihost_connect(uv_loop_t *loop, p2p_host *from, p2p_host *to, const p2p_multiaddr *addr, p2p_conn **c,
                  uint64_t ms)
{
    return ihost_connect_opts(loop, from, to, addr, NULL, c, ms);
}

struct remote_wait {
    p2p_host *to, *from;
};

static bool remote_has_conn(void *arg)
{
    struct remote_wait *rw = arg;
    return p2p_host_conn_to(rw->to, p2p_host_peerid(rw->from)) != NULL;
}

int ihost_connect_opts(uv_loop_t *loop, p2p_host *from, p2p_host *to, const p2p_multiaddr *addr,
                       const struct p2p_connect_opts *o, p2p_conn **c, uint64_t ms)
{
    struct ihost_wait w = { 0 };
    size_t n = addr ? 1 : 0;
    int rc = o ? p2p_host_connect_opts(from, p2p_host_peerid(to), addr, n, o, ihost_on_connected, &w)
               : p2p_host_connect(from, p2p_host_peerid(to), addr, n, ihost_on_connected, &w);
    if (rc < 0) return rc;
    if (!ihost_run_until(loop, &w.done, ms)) return P2P_ETIMEDOUT;
    if (c) *c = w.c;
    /* The dialer negotiates its muxer lazily (upgrade.c): its connection
     * is up one message before the listener's. Tests look at both sides:
     * give the listener a moment (it may also refuse: no error here). */
    if (w.status == 0) {
        struct remote_wait rw = { to, from };
        ihost_run_cond(loop, remote_has_conn, &rw, 2000);
    }
    return w.status;
}

void ihost_free_all(uv_loop_t *loop, p2p_host *const *hosts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hosts[i]) p2p_host_free(hosts[i]);
    uv_run(loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(loop), 0);
}
