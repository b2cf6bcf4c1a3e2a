#include "perf_logic.h"

#include <string.h>

#include "p2p/error.h"

void perf_encode_size(uint64_t n, uint8_t out[PERF_HEADER_SIZE])
{
    for (int i = PERF_HEADER_SIZE - 1; i >= 0; i--) {
        out[i] = (uint8_t)n;
        n >>= 8;
    }
}

uint64_t perf_decode_size(const uint8_t in[PERF_HEADER_SIZE])
{
    uint64_t n = 0;
    for (int i = 0; i < PERF_HEADER_SIZE; i++) n = n << 8 | in[i];
    return n;
}

/* ---- server ----------------------------------------------------------------- */

void perf_server_init(struct perf_server *s, uint64_t max_bytes)
{
    memset(s, 0, sizeof *s);
    s->phase = PERF_SRV_HEADER;
    s->max_bytes = max_bytes;
}

int perf_server_feed(struct perf_server *s, const uint8_t *data, size_t len)
{
    if (s->phase == PERF_SRV_HEADER) {
        size_t k = PERF_HEADER_SIZE - s->hdr_len;
        if (k > len) k = len;
        memcpy(s->hdr + s->hdr_len, data, k);
        s->hdr_len += k;
        data += k;
        len -= k;
        if (s->hdr_len < PERF_HEADER_SIZE) return 0;
        s->download = perf_decode_size(s->hdr);
        if (s->max_bytes && s->download > s->max_bytes) return P2P_ELIMIT;
        s->phase = PERF_SRV_DRAIN;
    }
    if (!len) return 0;
    if (s->phase != PERF_SRV_DRAIN) return P2P_EPROTO;
    if (s->max_bytes && (len > s->max_bytes || s->received > s->max_bytes - len)) return P2P_ELIMIT;
    s->received += len;
    return 0;
}

int perf_server_eof(struct perf_server *s)
{
    if (s->phase == PERF_SRV_HEADER) return P2P_ETRUNC;
    if (s->phase == PERF_SRV_DRAIN) s->phase = s->download ? PERF_SRV_SEND : PERF_SRV_DONE;
    return 0;
}

size_t perf_server_next(const struct perf_server *s, size_t max)
{
    if (s->phase != PERF_SRV_SEND) return 0;
    uint64_t left = s->download - s->sent;
    return left < max ? (size_t)left : max;
}

void perf_server_sent(struct perf_server *s, size_t n)
{
    if (s->phase != PERF_SRV_SEND) return;
    s->sent += n;
    if (s->sent >= s->download) s->phase = PERF_SRV_DONE;
}

/* ---- client ----------------------------------------------------------------- */

void perf_client_init(struct perf_client *c, uint64_t upload, uint64_t download)
{
    memset(c, 0, sizeof *c);
    c->upload = upload;
    c->download = download;
}

static size_t produce(struct perf_client *c, uint8_t *buf, size_t cap, bool fill)
{
    size_t n = 0;
    if (c->hdr_sent < PERF_HEADER_SIZE) {
        uint8_t hdr[PERF_HEADER_SIZE];
        perf_encode_size(c->download, hdr);
        size_t k = PERF_HEADER_SIZE - c->hdr_sent;
        if (k > cap) k = cap;
        memcpy(buf, hdr + c->hdr_sent, k);
        c->hdr_sent += k;
        n = k;
    }
    if (c->hdr_sent < PERF_HEADER_SIZE) return n;
    uint64_t left = c->upload - c->uploaded;
    size_t k = cap - n;
    if (left < k) k = (size_t)left;
    if (fill) memset(buf + n, 0, k);
    c->uploaded += k;
    return n + k;
}

size_t perf_client_produce(struct perf_client *c, uint8_t *buf, size_t cap)
{
    return produce(c, buf, cap, true);
}

size_t perf_client_produce_zero(struct perf_client *c, uint8_t *buf, size_t cap)
{
    return produce(c, buf, cap, false);
}

bool perf_client_upload_done(const struct perf_client *c)
{
    return c->hdr_sent == PERF_HEADER_SIZE && c->uploaded == c->upload;
}

int perf_client_feed(struct perf_client *c, size_t len)
{
    if (c->eof || len > c->download - c->downloaded) return P2P_EPROTO;
    c->downloaded += len;
    return 0;
}

int perf_client_eof(struct perf_client *c)
{
    c->eof = true;
    return c->downloaded == c->download ? 0 : P2P_ETRUNC;
}

/* ---- meter ------------------------------------------------------------------ */

void perf_meter_init(struct perf_meter *m, uint64_t now_us)
{
    memset(m, 0, sizeof *m);
    m->start_us = m->last_us = now_us;
}

static double bps(uint64_t bytes, uint64_t us)
{
    return us ? (double)bytes * 8.0 * 1e6 / (double)us : 0.0;
}

void perf_meter_report(struct perf_meter *m, uint64_t now_us, uint64_t up, uint64_t down, bool last,
                       struct p2p_perf_report *r)
{
    if (now_us < m->last_us) now_us = m->last_us;   /* a clock never goes back, but be safe */
    r->last = last;
    r->total_upload_bytes = up;
    r->total_download_bytes = down;
    r->total_us = now_us - m->start_us;
    if (last) {
        r->upload_bytes = up;
        r->download_bytes = down;
        r->elapsed_us = r->total_us;
    } else {
        r->upload_bytes = up - m->last_up;
        r->download_bytes = down - m->last_down;
        r->elapsed_us = now_us - m->last_us;
    }
    r->upload_bps = bps(r->upload_bytes, r->elapsed_us);
    r->download_bps = bps(r->download_bytes, r->elapsed_us);
    m->last_us = now_us;
    m->last_up = up;
    m->last_down = down;
}
