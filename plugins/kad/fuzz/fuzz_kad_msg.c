/* fuzz_kad_msg.c - the kad stream reader and message decoder on arbitrary
 * bytes: the input is a whole /ipfs/kad/1.0.0 stream, fed in pieces whose
 * sizes come from the first byte; every frame is decoded with small
 * limits (so that every limit is reachable), checked against the limits,
 * re-encoded and decoded again to the same content. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kad_msg.h"
#include "p2p/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct kad_msg *m, const struct kad_limits *lim)
{
    if (m->type < KAD_PUT_VALUE || m->type > KAD_PING) __builtin_trap();
    if (m->keylen > lim->max_key || m->record.keylen > lim->max_key || m->record.vlen > lim->max_value)
        __builtin_trap();
    if (m->ncloser > lim->max_peers || m->nproviders > lim->max_peers) __builtin_trap();
    for (size_t i = 0; i < m->ncloser; i++)
        if (m->closer[i].naddrs > lim->max_addrs || !m->closer[i].id.len) __builtin_trap();
    for (size_t i = 0; i < m->nproviders; i++)
        if (m->providers[i].naddrs > lim->max_addrs) __builtin_trap();
    if (strlen(m->record.time_received) > KAD_TIME_MAX) __builtin_trap();
}

static bool same(const struct kad_msg *a, const struct kad_msg *b)
{
    if (a->type != b->type || a->keylen != b->keylen || a->has_record != b->has_record) return false;
    if (a->keylen && memcmp(a->key, b->key, a->keylen)) return false;
    if (a->ncloser != b->ncloser || a->nproviders != b->nproviders) return false;
    for (size_t i = 0; i < a->ncloser; i++) {
        if (!p2p_peerid_equal(&a->closer[i].id, &b->closer[i].id)) return false;
        if (a->closer[i].naddrs != b->closer[i].naddrs) return false;
        for (size_t j = 0; j < a->closer[i].naddrs; j++)
            if (!p2p_maddr_equal(&a->closer[i].addrs[j], &b->closer[i].addrs[j])) return false;
    }
    if (a->has_record && (a->record.vlen != b->record.vlen || strcmp(a->record.time_received, b->record.time_received)))
        return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = (size_t)(data[0] % 64) + 1;
    data++;
    size--;
    const struct kad_limits lim = { 64, 256, 4, 3 };
    struct kad_reader r;
    kad_reader_init(&r, 2048);
    int rc = 0;
    for (size_t off = 0; off < size && rc >= 0;) {
        size_t n = size - off < step ? size - off : step;
        int took = kad_reader_feed(&r, data + off, n);
        if (took < 0) break;
        off += (size_t)took;
        const uint8_t *body;
        size_t blen;
        while ((rc = kad_reader_next(&r, &body, &blen)) == 1) {
            if (blen > 2048) __builtin_trap();
            struct kad_msg m, m2;
            kad_msg_init(&m);
            kad_msg_init(&m2);
            if (kad_msg_decode(&m, body, blen, &lim) == 0) {
                check(&m, &lim);
                p2p_buf b;
                p2p_buf_init(&b, 0);
                if (kad_msg_encode(&m, 1 << 20, &b) == 0) {
                    struct kad_reader r2;
                    kad_reader_init(&r2, 1 << 20);
                    const uint8_t *b2;
                    size_t l2;
                    if (kad_reader_feed(&r2, p2p_buf_head(&b), b.len) != (int)b.len) __builtin_trap();
                    if (kad_reader_next(&r2, &b2, &l2) != 1) __builtin_trap();
                    if (kad_msg_decode(&m2, b2, l2, &lim) != 0) __builtin_trap();
                    if (!same(&m, &m2)) __builtin_trap();
                    kad_reader_free(&r2);
                }
                p2p_buf_free(&b);
            }
            kad_msg_clear(&m);
            kad_msg_clear(&m2);
        }
        if (took == 0 && rc == 0) break;
    }
    kad_reader_free(&r);
    return 0;
}
