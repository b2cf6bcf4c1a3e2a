/* ping_logic.c - see ping_logic.h. */
#include "ping_logic.h"

#include <string.h>

#include "p2p/error.h"

void ping_echo_init(struct ping_echo *e)
{
    memset(e, 0, sizeof *e);
}

int ping_echo_feed(struct ping_echo *e, const uint8_t *data, size_t len, p2p_buf *out)
{
    int count = 0;
    while (len) {
        size_t k = PING_SIZE - e->n;
        if (k > len) k = len;
        memcpy(e->part + e->n, data, k);
        e->n += k;
        data += k;
        len -= k;
        if (e->n < PING_SIZE) break;
        int rc = p2p_buf_append(out, e->part, PING_SIZE);
        if (rc < 0) return rc;
        e->n = 0;
        e->echoed++;
        count++;
    }
    return count;
}

void ping_probe_init(struct ping_probe *p)
{
    memset(p, 0, sizeof *p);
}

void ping_probe_start(struct ping_probe *p, const uint8_t payload[PING_SIZE])
{
    memcpy(p->sent, payload, PING_SIZE);
    p->got = 0;
    p->active = true;
}

int ping_probe_feed(struct ping_probe *p, const uint8_t *data, size_t len)
{
    if (!len) return PING_PENDING;
    if (!p->active || len > PING_SIZE - p->got) return P2P_EPROTO;
    if (memcmp(p->sent + p->got, data, len)) return P2P_EPROTO;
    p->got += len;
    if (p->got < PING_SIZE) return PING_PENDING;
    p->active = false;
    p->got = 0;
    return PING_MATCH;
}

bool ping_health_record(struct ping_health *h, bool ok)
{
    if (ok) {
        h->failures = 0;
        return false;
    }
    if (h->failures < UINT32_MAX) h->failures++;
    return h->max_failures && h->failures >= h->max_failures;
}

uint64_t ping_rtt_us(uint64_t sent_ns, uint64_t received_ns)
{
    uint64_t us = received_ns > sent_ns ? (received_ns - sent_ns) / 1000u : 0;
    return us ? us : 1;
}
