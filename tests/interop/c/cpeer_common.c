/* cpeer_common.c - what cpeer (tests/interop/c) and the namespace test
 * drivers (plugins/dcutr/tests/dcutr_peer.c, plugins/mdns/tests/
 * mdns_peer.c) share: line output, the host set-up, PEERID/LISTEN, the
 * deadline and signal handles (cpeer.h). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpeer.h"

const char *cpeer_name = "cpeer";

void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

unsigned long rss_max_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long kib = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lu", &kib) == 1) break;
    fclose(f);
    return kib;
}

void cpeer_print_self(p2p_host *h)
{
    char id[P2P_PEERID_STRMAX];
    const p2p_peerid *me = p2p_host_peerid(h);
    p2p_peerid_to_string(me, id, sizeof id);
    out("PEERID %s", id);
    p2p_multiaddr la[16];
    size_t nl = p2p_host_listen_addrs(h, la, 16);
    for (size_t i = 0; i < nl && i < 16; i++) {
        char t[P2P_MADDR_STRMAX];
        p2p_maddr_push(&la[i], P2P_MA_P2P, me->bytes, me->len);
        if (p2p_maddr_to_string(&la[i], t, sizeof t) > 0) out("LISTEN %s", t);
    }
}

p2p_host *cpeer_host_new(uv_loop_t *loop, long seed, const char *listen, const char *sections)
{
    char ini[8192], err[1024], identity[64];
    if (seed >= 0) snprintf(identity, sizeof identity, "secret_key_seed = %ld", seed);
    else snprintf(identity, sizeof identity, "ephemeral_identity = true");
    snprintf(ini, sizeof ini,
             "[host]\n%s\nlisten = %s\nlog = %s\n"
             "[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin identify]\n"
             "agent_version = p2pchat-interop/0.1.0\n[plugin ping]\n%s",
             identity, listen, getenv("P2P_LOG") ? getenv("P2P_LOG") : "warn", sections);
    uv_loop_init(loop);
    signal(SIGPIPE, SIG_IGN);
    p2p_conf *cf = p2p_conf_load_string(ini, "cpeer.ini", err, sizeof err);
    struct p2p_host_opts ho = { .loop = loop };
    p2p_host *h = NULL;
    if (!cf || p2p_host_new(&h, cf, &ho, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", cpeer_name, err);
        uv_loop_close(loop);
        return NULL;
    }
    return h;
}

int cpeer_host_start(p2p_host *h, uv_loop_t *loop)
{
    char err[1024];
    if (p2p_host_start(h, err, sizeof err) == 0) return 0;
    fprintf(stderr, "%s: %s\n", cpeer_name, err);
    p2p_host_free(h);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return -1;
}

void cpeer_handles_start(struct cpeer_loop *l, double timeout, uv_timer_cb on_deadline, uv_signal_cb on_signal,
                         void *arg)
{
    uv_signal_init(&l->loop, &l->sigterm);
    uv_signal_init(&l->loop, &l->sigint);
    l->sigterm.data = l->sigint.data = arg;
    uv_signal_start(&l->sigterm, on_signal, SIGTERM);
    uv_signal_start(&l->sigint, on_signal, SIGINT);
    uv_timer_init(&l->loop, &l->deadline);
    l->deadline.data = arg;
    if (timeout > 0) uv_timer_start(&l->deadline, on_deadline, (uint64_t)(timeout * 1000), 0);
}

static void ignore_signal(uv_signal_t *s, int sig)
{
    (void)s;
    (void)sig;
}

void cpeer_handles_close(struct cpeer_loop *l, p2p_host *h)
{
    uv_close((uv_handle_t *)&l->deadline, NULL);
    /* Keep catching SIGTERM/SIGINT while the host shuts down: closing the
     * signal handles first restores the default action, and a test that
     * stops a peer which is already shutting down (its deadline fired)
     * would see it killed (143) instead of its exit code. Unreferenced,
     * they do not keep the loop alive. */
    uv_signal_start(&l->sigterm, ignore_signal, SIGTERM);
    uv_signal_start(&l->sigint, ignore_signal, SIGINT);
    uv_unref((uv_handle_t *)&l->sigterm);
    uv_unref((uv_handle_t *)&l->sigint);
    p2p_host_free(h);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    /* Closing the last signal handle restores the default action, which
     * would make a stop that comes while we exit (an ASan build's leak
     * check takes a while after EXIT is printed) a kill (143): block the
     * signals across the close and ignore them from then on, as p2pchat
     * does (p2pchat_close_signals). */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    uv_close((uv_handle_t *)&l->sigterm, NULL);
    uv_close((uv_handle_t *)&l->sigint, NULL);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    uv_loop_close(&l->loop);
}

p2p_host *cpeer_host_from_file(uv_loop_t *loop, const char *file)
{
    char err[1024];
    signal(SIGPIPE, SIG_IGN);
    p2p_conf *cf = p2p_conf_load_file(file, err, sizeof err);
    if (!cf) {
        fprintf(stderr, "%s: %s\n", cpeer_name, err);
        return NULL;
    }
    uv_loop_init(loop);
    struct p2p_host_opts ho = { .loop = loop };
    p2p_host *h = NULL;
    if (p2p_host_new(&h, cf, &ho, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", cpeer_name, err);
        uv_loop_close(loop);
        return NULL;
    }
    return h;
}
