/* cbench.h - the C benchmark peer's modes (bench/run.sh; not part of the
 * product), built against the SDK: see cbench.c. Each mode parses its own
 * arguments and returns the process exit status. */
#ifndef CBENCH_H
#define CBENCH_H

#include <stdbool.h>
#include <stdint.h>

#include <p2p/p2p.h>

/* The plugins of `p2pchat perf` plus what a mode adds (extra, may be "");
 * close_timeout = 0 so that a close does not wait for the ping stream. */
#define CBENCH_HOST_INI "[host]\nephemeral_identity = true\nlog = warn\nclose_timeout = 0\n"
#define CBENCH_PLUGINS_INI \
    "[plugin transport-tcp]\n[plugin noise]\n[plugin yamux]\n[plugin identify]\n[plugin ping]\n"

/* Split "<maddr>/p2p/<id>" into the address without /p2p/ and the peer id.
 * 0 or -1 (message printed). */
int cbench_target(const char *s, p2p_multiaddr *addr, p2p_peerid *peer);
/* A started host from CBENCH_HOST_INI, "listen = <listen>", host_extra
 * ([host] keys), CBENCH_PLUGINS_INI and extra (sections), on
 * loop (NULL: its own). NULL on failure (message printed). */
p2p_host *cbench_host(const char *listen, const char *host_extra, const char *extra, uv_loop_t *loop);
/* Big-endian 64-bit values in message payloads (gossip modes). */
void cbench_put64(uint8_t *p, uint64_t v);
uint64_t cbench_get64(const uint8_t *p);
/* CPU seconds (user + system) this process has used. */
double cbench_cpu_seconds(void);
/* Parse an unsigned number (decimal, optional K/M/G/KiB/MiB/GiB); -1 if bad. */
int cbench_num(const char *s, uint64_t *out);

int cbench_handshakes(int argc, char **argv);
int cbench_streams(int argc, char **argv);
int cbench_idle(int argc, char **argv);
int cbench_gossip_sub(int argc, char **argv);
int cbench_gossip_pub(int argc, char **argv);
int cbench_gossip_net(int argc, char **argv);
int cbench_relay_capacity(int argc, char **argv);
int cbench_kad_lookup(int argc, char **argv);

#endif
