/* fuzz_keys.c - PublicKey/PrivateKey protobuf decoding.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_pubkey(data, size);
    check_privkey(data, size);
    return 0;
}
