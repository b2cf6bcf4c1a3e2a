/* Fuzz PeerId parsing (text and binary) and the multibase codecs. The
 * first byte selects the target; the rest is the input.
 *   0: p2p_peerid_parse     1: p2p_peerid_from_bytes
 *   2: p2p_multibase_decode 3: base58btc/base32/multibase encoders
 * Whatever parses must round-trip through every text form. */
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/multibase.h"
#include "p2p/multihash.h"
#include "p2p/peerid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_peerid(const p2p_peerid *id)
{
    p2p_peerid back;
    p2p_pubkey pub;
    char s[P2P_PEERID_STRMAX];
    if (p2p_peerid_from_bytes(&back, id->bytes, id->len) != 0 || !p2p_peerid_equal(id, &back)) abort();
    if (p2p_peerid_to_string(id, s, sizeof s) <= 0) abort();
    if (p2p_peerid_parse(&back, s) != 0 || !p2p_peerid_equal(id, &back)) abort();
    if (p2p_peerid_to_cid(id, s, sizeof s) <= 0) abort();
    if (p2p_peerid_parse(&back, s) != 0 || !p2p_peerid_equal(id, &back)) abort();
    int rc = p2p_peerid_pubkey(id, &pub);
    if (id->bytes[0] == P2P_MH_IDENTITY) {
        if (rc != 0 || !p2p_peerid_matches(id, &pub)) abort();
    } else if (rc != P2P_ENOTFOUND) {
        abort();
    }
}

static const char PREFIXES[] = "zkKbBfFmu";

static void check_codecs(const uint8_t *in, size_t len)
{
    char txt[2048];
    uint8_t dec[1024];
    size_t n;
    if (len > 512) len = 512;
    if (p2p_base58btc_encode(in, len, txt, sizeof txt) < 0) abort();
    if (p2p_base58btc_decode(txt, strlen(txt), dec, sizeof dec, &n) != 0 || n != len ||
        memcmp(dec, in, len) != 0) abort();
    if (p2p_base32_encode(in, len, txt, sizeof txt) < 0) abort();
    if (p2p_base32_decode(txt, strlen(txt), dec, sizeof dec, &n) != 0 || n != len ||
        memcmp(dec, in, len) != 0) abort();
    for (const char *p = PREFIXES; *p; p++) {
        if (p2p_multibase_encode(*p, in, len, txt, sizeof txt) < 0) abort();
        if (p2p_multibase_decode(txt, strlen(txt), dec, sizeof dec, &n) != 0 || n != len ||
            memcmp(dec, in, len) != 0) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t mode = data[0] & 3;
    data++;
    size--;
    p2p_peerid id;
    if (mode == 0) {
        char *s = malloc(size + 1);
        if (!s) return 0;
        memcpy(s, data, size);
        s[size] = 0;
        int rc = p2p_peerid_parse(&id, s);
        if (rc == 0) check_peerid(&id);
        else if (rc != P2P_EINVAL) abort();
        free(s);
    } else if (mode == 1) {
        int rc = p2p_peerid_from_bytes(&id, data, size);
        if (rc == 0) check_peerid(&id);
        else if (rc != P2P_EINVAL) abort();
    } else if (mode == 2) {
        uint8_t dec[256];
        char txt[1024];
        size_t n, m;
        int rc = p2p_multibase_decode((const char *)data, size, dec, sizeof dec, &n);
        if (rc == 0) {
            /* Re-encoding with the same base gives back the same bytes. */
            if (p2p_multibase_encode((char)data[0], dec, n, txt, sizeof txt) < 0) abort();
            uint8_t again[256];
            if (p2p_multibase_decode(txt, strlen(txt), again, sizeof again, &m) != 0 || m != n ||
                memcmp(again, dec, n) != 0) abort();
        } else if (rc != P2P_EINVAL && rc != P2P_ERANGE && rc != P2P_EUNSUPPORTED) {
            abort();
        }
    } else {
        check_codecs(data, size);
    }
    return 0;
}
