/* Fuzz p2p_maddr_parse. Whatever parses must: validate as bytes, print,
 * re-parse to the same bytes, print the same text again (the printed form
 * is canonical), and iterate/pop over exactly its bytes. Failures must
 * come with a reason. */
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/multiaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_valid(const p2p_multiaddr *ma)
{
    p2p_multiaddr b, c;
    char t1[P2P_MADDR_STRMAX], t2[P2P_MADDR_STRMAX];
    if (ma->len == 0 || ma->len > P2P_MADDR_MAX) abort();
    if (p2p_maddr_from_bytes(&b, ma->bytes, ma->len, NULL, 0) != 0) abort();
    int n = p2p_maddr_to_string(ma, t1, sizeof t1);
    if (n <= 0 || (size_t)n != strlen(t1)) abort();
    if (p2p_maddr_parse(&c, t1, NULL, 0) != 0 || !p2p_maddr_equal(ma, &c)) abort();
    if (p2p_maddr_to_string(&c, t2, sizeof t2) != n || strcmp(t1, t2) != 0) abort();
    /* Iteration covers the bytes exactly, and rebuilding with push gives
     * the same multiaddr. */
    size_t off = 0, count = 0;
    struct p2p_maddr_component comp;
    p2p_multiaddr rebuilt = { 0 };
    while (p2p_maddr_next(ma, &off, &comp)) {
        count++;
        if (!comp.name || p2p_maddr_proto_name(comp.code) == NULL) abort();
        if (p2p_maddr_push(&rebuilt, comp.code, comp.value, comp.value_len) != 0) abort();
    }
    if (off != ma->len || !p2p_maddr_equal(ma, &rebuilt)) abort();
    while (count--) if (p2p_maddr_pop(&rebuilt) < 0) abort();
    if (rebuilt.len != 0 || p2p_maddr_pop(&rebuilt) != P2P_ENOTFOUND) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    p2p_multiaddr ma;
    char err[256] = "";
    int rc = p2p_maddr_parse(&ma, s, err, sizeof err);
    if (rc == 0) check_valid(&ma);
    else if ((rc != P2P_EINVAL && rc != P2P_ERANGE) || err[0] == 0) abort();
    free(s);
    return 0;
}
