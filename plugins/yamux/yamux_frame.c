/* yamux_frame.c - Yamux header codec (see yamux_frame.h). */
#include "yamux_frame.h"

#include "p2p/error.h"

static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void yamux_header_put(uint8_t out[YAMUX_HEADER_LEN], uint8_t type, uint16_t flags,
                      uint32_t stream_id, uint32_t length)
{
    out[0] = YAMUX_VERSION;
    out[1] = type;
    put16(out + 2, flags);
    put32(out + 4, stream_id);
    put32(out + 8, length);
}

void yamux_header_encode(const struct yamux_header *h, uint8_t out[YAMUX_HEADER_LEN])
{
    out[0] = h->version;
    out[1] = h->type;
    put16(out + 2, h->flags);
    put32(out + 4, h->stream_id);
    put32(out + 8, h->length);
}

int yamux_header_decode(struct yamux_header *h, const uint8_t *in, size_t len)
{
    if (len < YAMUX_HEADER_LEN) return P2P_ETRUNC;
    h->version = in[0];
    h->type = in[1];
    h->flags = (uint16_t)((uint16_t)in[2] << 8 | in[3]);
    h->stream_id = get32(in + 4);
    h->length = get32(in + 8);
    if (h->version != YAMUX_VERSION) return P2P_EPROTO;
    if (h->type > YAMUX_TYPE_GO_AWAY) return P2P_EPROTO;
    return (int)YAMUX_HEADER_LEN;
}

const char *yamux_type_name(uint8_t type)
{
    switch (type) {
    case YAMUX_TYPE_DATA: return "data";
    case YAMUX_TYPE_WINDOW_UPDATE: return "window-update";
    case YAMUX_TYPE_PING: return "ping";
    case YAMUX_TYPE_GO_AWAY: return "go-away";
    default: return "unknown";
    }
}
