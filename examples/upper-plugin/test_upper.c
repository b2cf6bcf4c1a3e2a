/* test_upper.c - tests of the upper plugin the way a plugin author can
 * write them against the installed SDK: two hosts in one process, on one
 * loop, over real loopback TCP, with the plugin loaded from the build
 * directory like any other. Run by `ctest` in the example's build
 * directory (tests/e2e/sdk.sh does).
 *
 *   1. host B asks host A at start: A serves one request (its metric
 *      p2p_upper_requests_total{result="ok"} becomes 1);
 *   2. a request announcing 1 MiB (over max_message) is reset by A and
 *      counted as malformed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p2p/p2p.h>

static int failures;
#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                            \
        }                                                                          \
    } while (0)

static uv_loop_t loop;

static p2p_host *host(const char *plugin_dir, const char *extra)
{
    char text[2048], err[1024];
    snprintf(text, sizeof text,
             "[host]\nephemeral_identity = true\nlisten = /ip4/127.0.0.1/tcp/0\nlog = warn\nplugin_path = %s\n"
             "[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin upper]\n%s",
             plugin_dir, extra);
    p2p_conf *cf = p2p_conf_load_string(text, "test.ini", err, sizeof err);
    p2p_host *h = NULL;
    struct p2p_host_opts o = { .loop = &loop };
    if (!cf || p2p_host_new(&h, cf, &o, err, sizeof err) < 0 || p2p_host_start(h, err, sizeof err) < 0) {
        fprintf(stderr, "host: %s\n", err);
        exit(1);
    }
    return h;
}

static uint64_t served(p2p_host *h, const char *result)
{
    return p2p_counter_value(p2p_metric_get(p2p_metric_find(h, "p2p_upper_requests_total"),
                                            (const char *const[]){ result }));
}

/* Run the loop until cond or 10 s. */
static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }
static int run_until(int (*cond)(void *), void *arg)
{
    int expired = 0;
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, 10000, 0);
    while (!cond(arg) && !expired) uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return cond(arg);
}

static int one_ok(void *a) { return served(a, "ok") == 1; }
static int one_bad(void *a) { return served(a, "malformed") == 1; }

/* A raw client that announces 1 MiB. */
static void on_open(int status, p2p_stream *s, void *arg)
{
    (void)arg;
    CHECK(status == 0);
    if (status) return;
    uint8_t hdr[P2P_VARINT_MAX_BYTES];
    int n = p2p_varint_encode(1u << 20, hdr);
    CHECK(p2p_stream_write(s, hdr, (size_t)n) == 0);
    p2p_stream_shutdown(s);
    p2p_stream_close(s);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_upper PLUGIN_DIR\n");
        return 2;
    }
    uv_loop_init(&loop);
    p2p_host *a = host(argv[1], "");
    p2p_multiaddr addr;
    CHECK(p2p_host_listen_addrs(a, &addr, 1) == 1);
    const p2p_peerid *ida = p2p_host_peerid(a);
    CHECK(p2p_maddr_push(&addr, P2P_MA_P2P, ida->bytes, ida->len) == 0);
    char text[P2P_MADDR_STRMAX], extra[P2P_MADDR_STRMAX + 64];
    p2p_maddr_to_string(&addr, text, sizeof text);
    snprintf(extra, sizeof extra, "ask = %s\ntext = test me\n", text);

    p2p_host *b = host(argv[1], extra);
    CHECK(run_until(one_ok, a));

    p2p_multiaddr plain;
    p2p_host_listen_addrs(a, &plain, 1);
    p2p_peerstore_add_addrs(b, ida, &plain, 1, 0);
    CHECK(p2p_host_new_stream(b, ida, (const char *const[]){ "/example/upper/1.0.0", NULL }, on_open, NULL) == 0);
    CHECK(run_until(one_bad, a));
    CHECK(served(a, "ok") == 1);

    p2p_host_free(b);
    p2p_host_free(a);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    printf("%s\n", failures ? "FAILED" : "passed");
    return failures ? 1 : 0;
}
