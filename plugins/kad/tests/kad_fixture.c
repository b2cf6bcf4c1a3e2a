/* kad_fixture.c - see kad_fixture.h. */
#include "kad_fixture.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "ihost.h"

void node_make(uv_loop_t *loop, struct node *n, const char *host_keys, const char *kad_keys)
{
    char sections[4096], hk[512];
    snprintf(sections, sizeof sections,
             "[plugin identify]\n[plugin ping]\n[plugin kad]\nrequest_timeout = 5s\nquery_timeout = 20s\n%s\n",
             kad_keys ? kad_keys : "");
    snprintf(hk, sizeof hk, "close_timeout = 300ms\n%s", host_keys ? host_keys : "");
    n->h = ihost_new(loop, hk, sections);
    ihost_start(n->h);
    n->rt = p2p_service_get(n->h, P2P_ROUTING_SERVICE, 1, &n->st);
    void *st3 = NULL;
    n->rt3 = p2p_service_get(n->h, P2P_ROUTING_SERVICE, 3, &st3);
    ck_assert_ptr_nonnull(n->rt3);
    ck_assert_ptr_eq(st3, n->st);
    ck_assert_ptr_nonnull(n->rt);
}

size_t table_size(const struct node *n)
{
    return n->rt->table(n->st, NULL, 0);
}

struct all_nodes {
    struct node *nodes;
    size_t count;
};

/* p2p_conn_close is idempotent: call it on everything every time. */
static bool all_closed(void *arg)
{
    struct all_nodes *a = arg;
    size_t total = 0;
    for (size_t i = 0; i < a->count; i++) {
        if (!a->nodes[i].h) continue;
        p2p_conn *cs[256];
        size_t n = p2p_host_conns(a->nodes[i].h, cs, 256);
        for (size_t j = 0; j < n && j < 256; j++) p2p_conn_close(cs[j]);
        total += n;
    }
    return total == 0;
}

void close_all(uv_loop_t *loop, struct node *nodes, size_t count)
{
    struct all_nodes a = { nodes, count };
    ck_assert(ihost_run_cond(loop, all_closed, &a, 20000));
}

bool has_addr(const struct p2p_routing_peer *p, const p2p_multiaddr *a)
{
    for (size_t i = 0; i < p->naddrs; i++)
        if (p2p_maddr_equal(&p->addrs[i], a)) return true;
    return false;
}

void on_done(int status, size_t count, void *arg)
{
    struct done_res *r = arg;
    ck_assert(!r->done);
    r->done = true;
    r->status = status;
    r->count = count;
}

void on_peer(int status, const struct p2p_routing_peer *p, void *arg)
{
    struct peer_res *r = arg;
    ck_assert(!r->done);
    r->done = true;
    r->status = status;
    if (p) r->peer = *p;
}

void on_value(int status, const uint8_t *v, size_t len, void *arg)
{
    struct value_res *r = arg;
    ck_assert(!r->done);
    r->done = true;
    r->status = status;
    if (status == 0) {
        ck_assert_uint_le(len, sizeof r->value);
        memcpy(r->value, v, len);
        r->len = len;
    }
}
