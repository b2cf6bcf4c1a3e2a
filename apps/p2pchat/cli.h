/* cli.h - p2pchat command line: modes, flags, exit codes. */
#ifndef P2PCHAT_CLI_H
#define P2PCHAT_CLI_H

#include <stdbool.h>
#include "p2p/config.h"
#include "p2p/host.h"
#include "p2p/multiaddr.h"

/* Exit codes (sysexits.h values, so scripts can tell them apart). */
enum {
    EXIT_OK = 0,
    EXIT_RUNTIME = 1,   /* failure while running: plugin start, I/O */
    EXIT_USAGE = 64,    /* bad command line */
    EXIT_CONFIG = 78    /* bad configuration file or value */
};

enum p2pchat_mode { MODE_NONE = 0, MODE_PEER, MODE_RELAY, MODE_PERF };

struct p2pchat_opts {
    enum p2pchat_mode mode;
    const char *config_file;   /* -c FILE, or NULL for the built-in config */
    p2p_conf *conf;            /* the loaded configuration, overrides applied */
    bool help_config;
    bool want_circuit;         /* --relay given: listen on /p2p-circuit too */
    /* perf mode (perf_cli.c) */
    p2p_multiaddr perf_addr;   /* the server */
    uint64_t perf_upload, perf_download;
    uint32_t perf_interval_ms; /* intermediary reports (0 = final only) */
};

/* The [app NAME] schemas this program accepts. */
extern const struct p2p_app_schema p2pchat_apps[];

/* Parse argv. Returns -1 to continue with *o filled, or an exit code (after
 * printing help, version or an error message). */
int p2pchat_parse_args(int argc, char **argv, struct p2pchat_opts *o);

/* perf_cli.c: "1GiB", "100MB", "65536" -> bytes; 0 or -1. */
int p2pchat_parse_bytes(const char *s, uint64_t *out);
/* Run perf mode with *o (takes o->conf); returns the exit code. */
int p2pchat_perf_run(struct p2pchat_opts *o);

/* After the loop ended: close the stop-signal handles (kept open, but
 * unreferenced, through the shutdown so a duplicate SIGINT/SIGTERM - as
 * timeout(1) sends to the command and then its process group - is caught
 * rather than killing us with the default action), ignore SIGINT/SIGTERM
 * for the rest of the exit, and let the loop finish the closes. */
void p2pchat_close_signals(uv_loop_t *loop, uv_signal_t *const *sigs, size_t n);

#endif
