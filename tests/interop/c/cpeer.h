/* cpeer.h - what the parts of cpeer (tests/interop/c) share: the
 * subcommands in files of their own, and the helpers of cpeer_common.c,
 * also used by the namespace test drivers dcutr_peer and mdns_peer. */
#ifndef CPEER_H
#define CPEER_H

#include "p2p/p2p.h"

/* The program's name in error messages ("cpeer" unless set). */
extern const char *cpeer_name;

/* One line on stdout (a newline is added), flushed at once. */
void out(const char *fmt, ...) P2P_PRINTF(1, 2);
/* The peak resident set size (VmHWM of /proc/self/status) in KiB, 0 when
 * unknown. */
unsigned long rss_max_kib(void);
/* PEERID <id>, then LISTEN <addr>/p2p/<id> per listen address. */
void cpeer_print_self(p2p_host *h);

/* The loop, deadline and signal handles a subcommand runs with. */
struct cpeer_loop {
    uv_loop_t loop;
    uv_timer_t deadline;
    uv_signal_t sigterm, sigint;
};

/* Initialise *loop (and ignore SIGPIPE) and make a host on it: identity
 * from seed (< 0: ephemeral), listening on `listen` ("" for none), with
 * transport-tcp, noise, yamux, identify (agent p2pchat-interop/0.1.0),
 * ping and the INI text `sections`; log level from $P2P_LOG (warn). NULL
 * after printing the error (the loop is closed then). */
p2p_host *cpeer_host_new(uv_loop_t *loop, long seed, const char *listen, const char *sections);
/* Initialise *loop (and ignore SIGPIPE) and make a host on it from the
 * configuration file (plugins included). NULL after printing the error
 * (the loop is closed then, or was never initialised). */
p2p_host *cpeer_host_from_file(uv_loop_t *loop, const char *file);
/* Start h: 0, or -1 after printing the error, freeing h and closing loop. */
int cpeer_host_start(p2p_host *h, uv_loop_t *loop);
/* Start the deadline (timeout seconds; none when <= 0) and the
 * SIGTERM/SIGINT handlers of l->loop; arg is each handle's data. */
void cpeer_handles_start(struct cpeer_loop *l, double timeout, uv_timer_cb on_deadline, uv_signal_cb on_signal,
                         void *arg);
/* Close those handles, free h, run the loop until everything closed and
 * close it. */
void cpeer_handles_close(struct cpeer_loop *l, p2p_host *h);

/* cpeer kad (cpeer_kad.c). */
int kad_main(int argc, char **argv);
/* cpeer autonat (cpeer_autonat.c). */
int autonat_main(int argc, char **argv);

#endif
