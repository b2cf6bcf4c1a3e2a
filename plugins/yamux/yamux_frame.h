/* yamux_frame.h - the 12-byte Yamux frame header (/yamux/1.0.0).
 *
 * Wire format (hashicorp/yamux spec.md), all fields big endian:
 *
 *   0       1       2               4                       8                      12
 *   +-------+-------+---------------+-----------------------+-----------------------+
 *   |version| type  |     flags     |       stream id       |        length         |
 *   +-------+-------+---------------+-----------------------+-----------------------+
 *
 * version is always 0. The meaning of length depends on the type: the
 * payload size that follows a Data header, the window delta of a Window
 * Update, the opaque value of a Ping, the error code of a Go Away.
 *
 * Pure functions, no state, no allocation. */
#ifndef YAMUX_FRAME_H
#define YAMUX_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define YAMUX_HEADER_LEN 12u
#define YAMUX_VERSION 0u
/* Every stream starts with this window in both directions (spec). */
#define YAMUX_DEFAULT_WINDOW (256u * 1024u)

enum yamux_type {
    YAMUX_TYPE_DATA = 0,
    YAMUX_TYPE_WINDOW_UPDATE = 1,
    YAMUX_TYPE_PING = 2,
    YAMUX_TYPE_GO_AWAY = 3
};

enum yamux_flag {
    YAMUX_FLAG_SYN = 0x1,
    YAMUX_FLAG_ACK = 0x2,
    YAMUX_FLAG_FIN = 0x4,
    YAMUX_FLAG_RST = 0x8
};

/* Go Away error codes (the length field). */
enum yamux_goaway_code {
    YAMUX_GOAWAY_NORMAL = 0,
    YAMUX_GOAWAY_PROTOCOL = 1,
    YAMUX_GOAWAY_INTERNAL = 2
};

struct yamux_header {
    uint8_t version;
    uint8_t type;
    uint16_t flags;
    uint32_t stream_id;
    uint32_t length;
};

/* Write the 12 bytes of h to out (any version/type/flags are written as
 * given; the codec does not judge). */
void yamux_header_encode(const struct yamux_header *h, uint8_t out[YAMUX_HEADER_LEN]);

/* Convenience: encode a header from its fields (version 0). */
void yamux_header_put(uint8_t out[YAMUX_HEADER_LEN], uint8_t type, uint16_t flags,
                      uint32_t stream_id, uint32_t length);

/* Parse the first 12 bytes of in. Returns YAMUX_HEADER_LEN on success,
 * P2P_ETRUNC when len < 12 (nothing consumed), P2P_EPROTO when the version
 * is not 0 or the type is not one of the four known types (h is still
 * filled so the caller can log it). Unknown flag bits are kept in
 * h->flags; the session ignores them. */
int yamux_header_decode(struct yamux_header *h, const uint8_t *in, size_t len);

/* "data", "window-update", "ping", "go-away" or "unknown". */
const char *yamux_type_name(uint8_t type);

#endif
