/* kad_key.c - key space arithmetic (see kad_key.h). */
#include "kad_key.h"

#include <string.h>

#include "p2p/multihash.h"

void kad_key_from_bytes(kad_key *k, const uint8_t *in, size_t len)
{
    uint8_t mh[34];
    p2p_multihash_sha256(in, len, mh);
    memcpy(k->b, mh + 2, 32);
}

void kad_key_from_peer(kad_key *k, const p2p_peerid *id)
{
    kad_key_from_bytes(k, id->bytes, id->len);
}

void kad_key_distance(const kad_key *a, const kad_key *b, kad_key *out)
{
    for (size_t i = 0; i < 32; i++) out->b[i] = a->b[i] ^ b->b[i];
}

int kad_key_cmp(const kad_key *target, const kad_key *a, const kad_key *b)
{
    for (size_t i = 0; i < 32; i++) {
        uint8_t da = a->b[i] ^ target->b[i], db = b->b[i] ^ target->b[i];
        if (da != db) return da < db ? -1 : 1;
    }
    return 0;
}

unsigned kad_key_cpl(const kad_key *a, const kad_key *b)
{
    for (unsigned i = 0; i < 32; i++) {
        uint8_t x = a->b[i] ^ b->b[i];
        if (x) {
            unsigned n = 0;
            while (!(x & 0x80)) {
                x = (uint8_t)(x << 1);
                n++;
            }
            return i * 8 + n;
        }
    }
    return KAD_KEY_BITS;
}

unsigned kad_key_random_peer(p2p_peerid *out, const kad_key *self, unsigned cpl, kad_rand_fn rnd, void *arg,
                             unsigned max_tries)
{
    p2p_peerid cand;
    cand.len = 34;
    cand.bytes[0] = 0x12;
    cand.bytes[1] = 0x20;
    int best = -1;
    if (!max_tries) max_tries = 1;
    for (unsigned t = 0; t < max_tries; t++) {
        rnd(arg, cand.bytes + 2, 32);
        kad_key k;
        kad_key_from_peer(&k, &cand);
        unsigned c = kad_key_cpl(&k, self);
        if (c == cpl) {
            *out = cand;
            return c;
        }
        if (c < cpl && (int)c > best) {
            best = (int)c;
            *out = cand;
        }
    }
    if (best < 0) *out = cand;   /* every try had a longer prefix (cpl 0 asked): keep the last */
    kad_key kk;
    kad_key_from_peer(&kk, out);
    return kad_key_cpl(&kk, self);
}
