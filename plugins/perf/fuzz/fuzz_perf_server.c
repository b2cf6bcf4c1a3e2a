/* fuzz_perf_server.c - the perf server's request parsing and accounting
 * (perf_logic.c) on arbitrary input: the first byte picks a piece size
 * and a max_bytes limit, the rest is fed in pieces, then EOF; invariants
 * on what was counted and what would be sent. Also the client's download
 * accounting on the same pieces. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "p2p/error.h"
#include "perf_logic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t piece = (data[0] & 0x0f) + 1;
    uint64_t max_bytes = (data[0] & 0x80) ? (uint64_t)(data[0] & 0x70) * 4 : 0;
    data++;
    size--;

    struct perf_server s;
    perf_server_init(&s, max_bytes);
    size_t fed = 0;
    int rc = 0;
    while (fed < size && rc == 0) {
        size_t k = size - fed < piece ? size - fed : piece;
        rc = perf_server_feed(&s, data + fed, k);
        if (rc != 0 && rc != P2P_ELIMIT) abort();
        if (rc == 0) fed += k;
    }
    if (rc == 0) {
        size_t hdr = fed < PERF_HEADER_SIZE ? fed : PERF_HEADER_SIZE;
        if (s.hdr_len != hdr || s.received != fed - hdr) abort();
        if (max_bytes && s.received > max_bytes) abort();
        rc = perf_server_eof(&s);
        if (fed < PERF_HEADER_SIZE) {
            if (rc != P2P_ETRUNC) abort();
        } else {
            if (rc != 0 || s.download != perf_decode_size(data)) abort();
            if (max_bytes && s.download > max_bytes) abort();
            /* Send a bounded part of the download in pieces. */
            uint64_t sent = 0;
            for (int i = 0; i < 64; i++) {
                size_t n = perf_server_next(&s, piece * 1000);
                if (n > piece * 1000) abort();
                if (!n) break;
                perf_server_sent(&s, n);
                sent += n;
            }
            if (s.sent != sent || sent > s.download) abort();
            if ((s.phase == PERF_SRV_DONE) != (sent == s.download)) abort();
            if (perf_server_feed(&s, data, 1) != P2P_EPROTO) abort();
        }
    }

    /* The client's accounting of a download of the decoded size. */
    if (size >= PERF_HEADER_SIZE) {
        struct perf_client c;
        perf_client_init(&c, 0, perf_decode_size(data));
        uint64_t got = 0;
        for (size_t off = 0; off < size; off += piece) {
            size_t k = size - off < piece ? size - off : piece;
            int r = perf_client_feed(&c, k);
            if (r == 0) got += k;
            else if (r != P2P_EPROTO || got + k <= c.download) abort();
        }
        if (c.downloaded != got) abort();
        if ((perf_client_eof(&c) == 0) != (got == c.download)) abort();
    }
    return 0;
}
