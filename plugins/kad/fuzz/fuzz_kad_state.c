/* fuzz_kad_state.c - the saved routing table parser (kad_statefile.c) on
 * arbitrary text: bounded (peers, addresses), never fails on bad input,
 * and what it keeps formats and parses back to the same peers. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kad_statefile.h"
#include "p2p/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kad_state st, st2;
    if (kad_state_parse(&st, (const char *)data, size, 16, 3) != 0) return 0;
    if (st.n > 16) __builtin_trap();
    p2p_buf b;
    p2p_buf_init(&b, 0);
    for (size_t i = 0; i < st.n; i++) {
        if (!st.p[i].naddrs || st.p[i].naddrs > 3) __builtin_trap();
        if (kad_state_format_peer(&b, &st.p[i].id, st.p[i].addrs, st.p[i].naddrs) != 0) __builtin_trap();
    }
    if (kad_state_parse(&st2, (const char *)p2p_buf_head(&b), b.len, 16, 3) != 0) __builtin_trap();
    if (st2.n != st.n) __builtin_trap();
    for (size_t i = 0; i < st.n; i++) {
        if (!p2p_peerid_equal(&st.p[i].id, &st2.p[i].id) || st.p[i].naddrs != st2.p[i].naddrs) __builtin_trap();
        for (size_t j = 0; j < st.p[i].naddrs; j++)
            if (!p2p_maddr_equal(&st.p[i].addrs[j], &st2.p[i].addrs[j])) __builtin_trap();
    }
    kad_state_free(&st);
    kad_state_free(&st2);
    p2p_buf_free(&b);
    return 0;
}
