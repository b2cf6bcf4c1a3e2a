/* Fuzz p2p_varint_decode: never reads past len; whatever decodes is the
 * unique minimal encoding of its value (re-encoding gives the same bytes). */
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/varint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t v;
    size_t used;
    uint8_t buf[P2P_VARINT_MAX_BYTES];
    int rc = p2p_varint_decode(data, size, &v, &used);
    if (rc == 0) {
        if (used < 1 || used > P2P_VARINT_MAX_BYTES || used > size) abort();
        if (v > P2P_VARINT_MAX_VALUE) abort();
        int n = p2p_varint_encode(v, buf);
        if (n != (int)used || memcmp(buf, data, used) != 0) abort();
        if (p2p_varint_size(v) != used) abort();
    } else if (rc != P2P_ETRUNC && rc != P2P_EPROTO) {
        abort();
    }
    /* The other direction: any value up to the maximum round-trips. */
    if (size >= 8) {
        uint64_t x;
        memcpy(&x, data, 8);
        x &= P2P_VARINT_MAX_VALUE;
        int n = p2p_varint_encode(x, buf);
        if (n < 1 || (size_t)n != p2p_varint_size(x)) abort();
        if (p2p_varint_decode(buf, (size_t)n, &v, &used) != 0 || v != x || used != (size_t)n) abort();
        if (n > 1 && p2p_varint_decode(buf, (size_t)n - 1, &v, &used) != P2P_ETRUNC) abort();
    }
    return 0;
}
