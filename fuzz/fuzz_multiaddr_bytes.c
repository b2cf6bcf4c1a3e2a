/* Fuzz p2p_maddr_from_bytes. Whatever validates must print, re-parse from
 * text to the same bytes, iterate over exactly its bytes and rebuild with
 * push; failures come with a reason. The iteration helpers must also stay
 * in bounds on a p2p_multiaddr holding arbitrary (invalid) bytes. */
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/multiaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    p2p_multiaddr ma, back;
    char err[256] = "", t1[P2P_MADDR_STRMAX], t2[P2P_MADDR_STRMAX];
    int rc = p2p_maddr_from_bytes(&ma, data, size, err, sizeof err);
    if (rc != 0) {
        if ((rc != P2P_EINVAL && rc != P2P_ERANGE) || err[0] == 0) abort();
        /* Damaged contents: helpers must not crash or overrun. */
        p2p_multiaddr raw = { .len = (uint16_t)(size < P2P_MADDR_MAX ? size : P2P_MADDR_MAX) };
        memcpy(raw.bytes, data, raw.len);
        size_t off = 0;
        struct p2p_maddr_component c;
        while (p2p_maddr_next(&raw, &off, &c))
            if (off > raw.len || c.value + c.value_len > raw.bytes + raw.len) abort();
        (void)p2p_maddr_to_string(&raw, t1, sizeof t1);
        (void)p2p_maddr_find(&raw, P2P_MA_P2P, &c);
        while (p2p_maddr_pop(&raw) > 0) {}
        return 0;
    }
    if (ma.len != size || memcmp(ma.bytes, data, size) != 0) abort();
    int n = p2p_maddr_to_string(&ma, t1, sizeof t1);
    if (n <= 0) abort();
    if (p2p_maddr_parse(&back, t1, err, sizeof err) != 0 || !p2p_maddr_equal(&ma, &back)) abort();
    if (p2p_maddr_to_string(&back, t2, sizeof t2) != n || strcmp(t1, t2) != 0) abort();
    size_t off = 0;
    struct p2p_maddr_component c;
    p2p_multiaddr rebuilt = { 0 };
    while (p2p_maddr_next(&ma, &off, &c))
        if (p2p_maddr_push(&rebuilt, c.code, c.value, c.value_len) != 0) abort();
    if (off != ma.len || !p2p_maddr_equal(&ma, &rebuilt)) abort();
    if (p2p_maddr_encapsulate(&rebuilt, &ma) == 0 && rebuilt.len != 2 * ma.len) abort();
    while (p2p_maddr_pop(&rebuilt) > 0) {}
    if (rebuilt.len != 0) abort();
    return 0;
}
