/* cpeer.h - what the parts of cpeer (tests/interop/c) share: the
 * subcommands in files of their own, and the output helpers of cpeer.c. */
#ifndef CPEER_H
#define CPEER_H

#include "p2p/p2p.h"

/* One line on stdout (a newline is added), flushed at once. */
void out(const char *fmt, ...) P2P_PRINTF(1, 2);
/* The peak resident set size (VmHWM of /proc/self/status) in KiB, 0 when
 * unknown. */
unsigned long rss_max_kib(void);
/* PEERID <id>, then LISTEN <addr>/p2p/<id> per listen address. */
void cpeer_print_self(p2p_host *h);

/* cpeer kad (cpeer_kad.c). */
int kad_main(int argc, char **argv);

#endif
