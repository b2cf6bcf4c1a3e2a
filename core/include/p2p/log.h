/* p2p/log.h - logging with levels and per-module filters.
 *
 * Every line carries a UTC timestamp, the level and the module name:
 *   2026-11-26T11:30:00.123Z DEBUG yamux: stream 3 opened
 *
 * Filters use the RUST_LOG-like syntax "LEVEL,MODULE=LEVEL,...", e.g.
 * "info,yamux=trace,kad=off". A bare level sets the default. Levels:
 * off, error, warn, info, debug, trace. The environment variable P2P_LOG
 * overrides the [host] log key of the config.
 *
 * The log sink and filter are process-wide: one process has one stderr.
 * This is the one deliberate piece of global state (see docs/DESIGN.md);
 * it is set up once by the front-end and read-only afterwards. */
#ifndef P2P_LOG_H
#define P2P_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include "api.h"

P2P_BEGIN_DECLS

enum p2p_log_level {
    P2P_LOG_OFF = 0,
    P2P_LOG_ERROR = 1,
    P2P_LOG_WARN = 2,
    P2P_LOG_INFO = 3,
    P2P_LOG_DEBUG = 4,
    P2P_LOG_TRACE = 5
};

/* Replace the filter. Returns 0, or P2P_EINVAL with a sentence in err
 * (which may be NULL) naming the bad part. On error the old filter stays. */
P2P_API int p2p_log_set_filter(const char *spec, char *err, size_t errlen);

/* Check a filter without installing it. */
P2P_API int p2p_log_check_filter(const char *spec, char *err, size_t errlen);

/* Whether a line of this level from this module would be written. */
P2P_API int p2p_log_enabled(const char *module, enum p2p_log_level level);

/* Write one line (a trailing newline is added). module must not be NULL. */
P2P_API void p2p_log_write(const char *module, enum p2p_log_level level,
                           const char *fmt, ...) P2P_PRINTF(3, 4);
P2P_API void p2p_log_vwrite(const char *module, enum p2p_log_level level,
                            const char *fmt, va_list ap);

/* Where lines go; default stderr. A NULL fn restores stderr. The sink gets
 * the complete line without the trailing newline. Used by front-ends that
 * draw a prompt, and by tests. */
typedef void (*p2p_log_sink)(void *arg, enum p2p_log_level level,
                             const char *module, const char *line);
P2P_API void p2p_log_set_sink(p2p_log_sink fn, void *arg);

/* Parse a level name ("info"); returns the level or -1. */
P2P_API int p2p_log_level_parse(const char *name);
P2P_API const char *p2p_log_level_name(enum p2p_log_level level);

#define P2P_LOG(module, level, ...)                                     \
    do {                                                                \
        if (p2p_log_enabled((module), (level)))                         \
            p2p_log_write((module), (level), __VA_ARGS__);              \
    } while (0)
#define p2p_log_error(m, ...) P2P_LOG(m, P2P_LOG_ERROR, __VA_ARGS__)
#define p2p_log_warn(m, ...)  P2P_LOG(m, P2P_LOG_WARN, __VA_ARGS__)
#define p2p_log_info(m, ...)  P2P_LOG(m, P2P_LOG_INFO, __VA_ARGS__)
#define p2p_log_debug(m, ...) P2P_LOG(m, P2P_LOG_DEBUG, __VA_ARGS__)
#define p2p_log_trace(m, ...) P2P_LOG(m, P2P_LOG_TRACE, __VA_ARGS__)

P2P_END_DECLS
#endif
