/* util.h - small internal helpers of the core (not part of the SDK). */
#ifndef P2P_UTIL_H
#define P2P_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "p2p/api.h"

/* Format one sentence into a caller's error buffer (err may be NULL). */
static inline void P2P_PRINTF(3, 4) p2p_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#define P2P_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
