/* fuzz_keys.c - PublicKey/PrivateKey protobuf decoding, and signature
 * checking of the key types verified with libcrypto (DER signatures).
 *
 * Besides memory safety this checks the decoders' contract: they accept
 * only canonical encodings, so whatever decodes must re-encode to exactly
 * the input (PeerIds hash these bytes). The one exception is a PrivateKey
 * in the 32-byte (seed only) or 96-byte (legacy) form, which is written
 * back in the 64-byte form and must then decode to the same key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/crypto.h"
#include "p2p/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_pubkey(const uint8_t *data, size_t size)
{
    p2p_pubkey pub, again;
    uint8_t out[P2P_PUBKEY_PB_MAX];
    int rc = p2p_pubkey_decode(&pub, data, size);
    if (rc < 0) {
        if (rc != P2P_EINVAL && rc != P2P_EUNSUPPORTED && rc != P2P_ERANGE) abort();
        return;
    }
    if (pub.len > P2P_PUBKEY_DATA_MAX) abort();
    int n = p2p_pubkey_encode(&pub, out, sizeof out);
    if (n < 0 || (size_t)n != size || memcmp(out, data, size) != 0) abort();
    if (p2p_pubkey_decode(&again, out, (size_t)n) != 0 || !p2p_pubkey_equal(&pub, &again))
        abort();
    /* Verification must not crash on any accepted key (the message and
     * signature are just the input). */
    rc = p2p_pubkey_verify(&pub, data, size, data, size < 64 ? size : 64);
    if (rc != 0 && rc != P2P_ECRYPTO && rc != P2P_EUNSUPPORTED) abort();
}

static void check_privkey(const uint8_t *data, size_t size)
{
    p2p_keypair kp, again;
    uint8_t out[P2P_PRIVKEY_PB_LEN];
    int rc = p2p_privkey_decode(&kp, data, size);
    if (rc < 0) {
        if (rc != P2P_EINVAL && rc != P2P_EUNSUPPORTED) abort();
        return;
    }
    if (p2p_privkey_encode(&kp, out) != P2P_PRIVKEY_PB_LEN) abort();
    if (size == P2P_PRIVKEY_PB_LEN && memcmp(out, data, size) != 0) abort();
    if (p2p_privkey_decode(&again, out, sizeof out) != 0) abort();
    if (memcmp(&kp, &again, sizeof kp) != 0) abort();
}

/* Valid keys of the two types whose signatures are DER (secp256k1, ECDSA
 * P-256): the input's first byte picks one, the rest is the signature.
 * Any outcome but a crash or a valid verdict for a signature nobody made
 * is fine. */
static const uint8_t SECP_KEY[] = {
    0x08, 0x02, 0x12, 0x21, 0x03, 0xef, 0xfa, 0x07, 0x85, 0x40, 0x8f, 0x49, 0x1a, 0x1d, 0x82, 0xe1, 0x3c,
    0xd0, 0x07, 0x1d, 0xca, 0x95, 0xa0, 0xee, 0x39, 0x6e, 0xa8, 0xf0, 0x55, 0xf1, 0x29, 0xf4, 0x2b, 0xea,
    0x7c, 0x0d, 0x82
};
static const uint8_t ECDSA_KEY[] = {
    0x08, 0x03, 0x12, 0x5b, 0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0xaa, 0x87, 0x4b,
    0xac, 0x5e, 0x4a, 0x02, 0xc1, 0xfa, 0x5e, 0x52, 0x03, 0x4a, 0x2c, 0x8e, 0xeb, 0xa4, 0x3c, 0xc6, 0xba,
    0xd6, 0x85, 0xa1, 0x4e, 0x92, 0x4b, 0x61, 0xb7, 0xb9, 0x20, 0xd4, 0x95, 0x0e, 0x25, 0xe3, 0xc6, 0xd3,
    0x2d, 0x18, 0xcf, 0x0c, 0x66, 0xa6, 0x34, 0x48, 0x5d, 0x06, 0xdf, 0x2c, 0xa2, 0xf1, 0x8d, 0xb7, 0x3d,
    0x36, 0x4a, 0x47, 0x0a, 0x1e, 0x51, 0x34, 0x93, 0x63, 0xcb
};

static void check_signature(const uint8_t *data, size_t size)
{
    static const uint8_t msg[] = "fuzz: no signature of this is known";
    p2p_pubkey pub;
    if (size < 1) return;
    int rc = data[0] & 1 ? p2p_pubkey_decode(&pub, ECDSA_KEY, sizeof ECDSA_KEY)
                         : p2p_pubkey_decode(&pub, SECP_KEY, sizeof SECP_KEY);
    if (rc != 0) abort();
    rc = p2p_pubkey_verify(&pub, msg, sizeof msg - 1, data + 1, size - 1);
    if (rc != P2P_ECRYPTO && rc != P2P_EUNSUPPORTED) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_pubkey(data, size);
    check_privkey(data, size);
    check_signature(data, size);
    return 0;
}
