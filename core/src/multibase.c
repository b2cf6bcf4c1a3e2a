/* multibase.c - base58btc, base36, base32, base16, base64(url) and the
 * multibase prefixes (see p2p/multibase.h).
 *
 * Two families:
 *  - "big number" bases (58, 36): the input is one big-endian integer,
 *    written in the base; every leading zero byte becomes one leading
 *    zero digit (alphabet[0]) so that they survive the conversion. The
 *    conversion is quadratic, bounded by the output capacity: a decoder
 *    stops as soon as the number no longer fits in cap bytes, so huge
 *    inputs cost little.
 *  - RFC 4648 bases (16, 32, 64): fixed bits per character. We never
 *    write padding and refuse it, and refuse non-zero unused trailing bits
 *    and impossible lengths, so that each byte string has exactly one text
 *    form (PeerIds and multiaddrs are compared as bytes, and the text form
 *    should be canonical too). */
#include <limits.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/multibase.h"

static const char B58_ALPHABET[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
static const char B36_LOWER[] = "0123456789abcdefghijklmnopqrstuvwxyz";
static const char B36_UPPER[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
static const char B32_LOWER[] = "abcdefghijklmnopqrstuvwxyz234567";
static const char B32_UPPER[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char B16_LOWER[] = "0123456789abcdef";
static const char B16_UPPER[] = "0123456789ABCDEF";
static const char B64_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64_URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Character classes for the decoders. */
enum charset { CS_B58, CS_B36, CS_B32, CS_B16, CS_B64, CS_B64URL };

/* Value of c in the charset, or -1. Base36, base32 and base16 decode
 * either case (multibase has separate prefixes for the two cases of the
 * same alphabet, and the values are the same). */
static int digit_value(enum charset cs, unsigned char c)
{
    switch (cs) {
    case CS_B58: {
        const char *p = c ? memchr(B58_ALPHABET, c, sizeof B58_ALPHABET - 1) : NULL;
        return p ? (int)(p - B58_ALPHABET) : -1;
    }
    case CS_B36:
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'z') return c - 'a' + 10;
        if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
        return -1;
    case CS_B32:
        if (c >= 'a' && c <= 'z') return c - 'a';
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= '2' && c <= '7') return c - '2' + 26;
        return -1;
    case CS_B16:
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    case CS_B64:
    case CS_B64URL:
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (cs == CS_B64) return c == '+' ? 62 : c == '/' ? 63 : -1;
        return c == '-' ? 62 : c == '_' ? 63 : -1;
    }
    return -1;
}

/* ---- big-number bases ---- */

static int bignum_encode(const uint8_t *in, size_t len, char *out, size_t cap,
                         const char *alphabet, unsigned base)
{
    if (!out || cap == 0) return P2P_ERANGE;
    size_t zeros = 0;
    while (zeros < len && in[zeros] == 0) zeros++;
    if (zeros >= cap) return P2P_ERANGE;
    /* Digits (values, least significant first) are built in out[0..nd),
     * then reversed and moved behind the leading zero digits. */
    size_t room = cap - 1 - zeros, nd = 0;
    for (size_t i = zeros; i < len; i++) {
        unsigned carry = in[i];
        for (size_t j = 0; j < nd; j++) {
            carry += (unsigned)(uint8_t)out[j] << 8;
            out[j] = (char)(carry % base);
            carry /= base;
        }
        while (carry) {
            if (nd == room) return P2P_ERANGE;
            out[nd++] = (char)(carry % base);
            carry /= base;
        }
    }
    for (size_t i = 0; i < nd / 2; i++) {
        char t = out[i];
        out[i] = out[nd - 1 - i];
        out[nd - 1 - i] = t;
    }
    memmove(out + zeros, out, nd);
    memset(out, alphabet[0], zeros);
    for (size_t i = zeros; i < zeros + nd; i++) out[i] = alphabet[(uint8_t)out[i]];
    out[zeros + nd] = 0;
    if (zeros + nd > INT_MAX) return P2P_ERANGE;
    return (int)(zeros + nd);
}

static int bignum_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen,
                         enum charset cs, unsigned base)
{
    for (size_t i = 0; i < len; i++)
        if (digit_value(cs, (unsigned char)in[i]) < 0) return P2P_EINVAL;
    size_t zeros = 0;
    while (zeros < len && digit_value(cs, (unsigned char)in[zeros]) == 0) zeros++;
    if (zeros > cap) return P2P_ERANGE;
    /* The number, least significant byte first, in out[0..n). */
    size_t room = cap - zeros, n = 0;
    for (size_t i = zeros; i < len; i++) {
        unsigned carry = (unsigned)digit_value(cs, (unsigned char)in[i]);
        for (size_t j = 0; j < n; j++) {
            carry += (unsigned)out[j] * base;
            out[j] = (uint8_t)carry;
            carry >>= 8;
        }
        while (carry) {
            if (n == room) return P2P_ERANGE;
            out[n++] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    for (size_t i = 0; i < n / 2; i++) {
        uint8_t t = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = t;
    }
    if (n) memmove(out + zeros, out, n);
    if (zeros) memset(out, 0, zeros);
    if (outlen) *outlen = zeros + n;
    return 0;
}

/* ---- RFC 4648 bases (bits = 4, 5 or 6 per character) ---- */

static int rfc4648_encode(const uint8_t *in, size_t len, char *out, size_t cap,
                          const char *alphabet, unsigned bits)
{
    if (!out || cap == 0) return P2P_ERANGE;
    if (len > (SIZE_MAX - 8) / 8) return P2P_ERANGE;
    size_t nchars = (len * 8 + bits - 1) / bits;
    if (nchars >= cap || nchars > INT_MAX) return P2P_ERANGE;
    uint32_t acc = 0, mask = (1u << bits) - 1;
    unsigned nacc = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        nacc += 8;
        while (nacc >= bits) {
            nacc -= bits;
            out[o++] = alphabet[(acc >> nacc) & mask];
        }
        acc &= (1u << nacc) - 1;
    }
    if (nacc) out[o++] = alphabet[(acc << (bits - nacc)) & mask];
    out[o] = 0;
    return (int)o;
}

static int rfc4648_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen,
                          enum charset cs, unsigned bits)
{
    if (len > SIZE_MAX / 8) return P2P_ERANGE;
    /* Left-over bits must be fewer than one character: a full unused
     * character would mean a length no encoder produces. */
    if ((len * bits) % 8 >= bits) return P2P_EINVAL;
    size_t nbytes = len * bits / 8;
    if (nbytes > cap) return P2P_ERANGE;
    uint32_t acc = 0;
    unsigned nacc = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int d = digit_value(cs, (unsigned char)in[i]);
        if (d < 0) return P2P_EINVAL;
        acc = (acc << bits) | (uint32_t)d;
        nacc += bits;
        if (nacc >= 8) {
            nacc -= 8;
            out[o++] = (uint8_t)(acc >> nacc);
            acc &= (1u << nacc) - 1;
        }
    }
    if (acc) return P2P_EINVAL;  /* non-zero unused trailing bits */
    if (outlen) *outlen = o;
    return 0;
}

/* ---- public API ---- */

P2P_API int p2p_base58btc_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    return bignum_encode(in, len, out, cap, B58_ALPHABET, 58);
}

P2P_API int p2p_base58btc_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
    return bignum_decode(in, len, out, cap, outlen, CS_B58, 58);
}

P2P_API int p2p_base32_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    return rfc4648_encode(in, len, out, cap, B32_LOWER, 5);
}

P2P_API int p2p_base32_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
    return rfc4648_decode(in, len, out, cap, outlen, CS_B32, 5);
}

P2P_API int p2p_multibase_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
    if (!in || len == 0) return P2P_EINVAL;
    const char *p = in + 1;
    size_t n = len - 1;
    switch (in[0]) {
    case 'z': return bignum_decode(p, n, out, cap, outlen, CS_B58, 58);
    case 'k':
    case 'K': return bignum_decode(p, n, out, cap, outlen, CS_B36, 36);
    case 'b':
    case 'B': return rfc4648_decode(p, n, out, cap, outlen, CS_B32, 5);
    case 'f':
    case 'F': return rfc4648_decode(p, n, out, cap, outlen, CS_B16, 4);
    case 'm': return rfc4648_decode(p, n, out, cap, outlen, CS_B64, 6);
    case 'u': return rfc4648_decode(p, n, out, cap, outlen, CS_B64URL, 6);
    default: return P2P_EUNSUPPORTED;
    }
}

P2P_API int p2p_multibase_encode(char prefix, const uint8_t *in, size_t len, char *out, size_t cap)
{
    int rc;
    if (!out || cap < 2) return P2P_ERANGE;
    switch (prefix) {
    case 'z': rc = bignum_encode(in, len, out + 1, cap - 1, B58_ALPHABET, 58); break;
    case 'k': rc = bignum_encode(in, len, out + 1, cap - 1, B36_LOWER, 36); break;
    case 'K': rc = bignum_encode(in, len, out + 1, cap - 1, B36_UPPER, 36); break;
    case 'b': rc = rfc4648_encode(in, len, out + 1, cap - 1, B32_LOWER, 5); break;
    case 'B': rc = rfc4648_encode(in, len, out + 1, cap - 1, B32_UPPER, 5); break;
    case 'f': rc = rfc4648_encode(in, len, out + 1, cap - 1, B16_LOWER, 4); break;
    case 'F': rc = rfc4648_encode(in, len, out + 1, cap - 1, B16_UPPER, 4); break;
    case 'm': rc = rfc4648_encode(in, len, out + 1, cap - 1, B64_STD, 6); break;
    case 'u': rc = rfc4648_encode(in, len, out + 1, cap - 1, B64_URL, 6); break;
    default: return P2P_EUNSUPPORTED;
    }
    if (rc < 0) {
        out[0] = 0;
        return rc;
    }
    out[0] = prefix;
    return rc + 1;
}
