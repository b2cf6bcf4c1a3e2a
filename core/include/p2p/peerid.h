/* p2p/peerid.h - PeerIds (peer-ids spec).
 *
 * A PeerId is the multihash of the protobuf-encoded public key: identity
 * when that encoding is at most 42 bytes, sha2-256 otherwise. Text forms:
 * base58btc of the multihash ("12D3KooW...", "Qm...") and CIDv1 with the
 * libp2p-key codec (0x72) in multibase ("bafz..."); both are parsed,
 * base58btc is written. Plain value type. */
#ifndef P2P_PEERID_H
#define P2P_PEERID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "api.h"
#include "crypto.h"
#include "multiaddr.h"

P2P_BEGIN_DECLS

#define P2P_PEERID_MAX 48        /* identity(42-byte key) + 2 header bytes */
#define P2P_PEERID_STRMAX 100    /* text forms, NUL included */

typedef struct p2p_peerid {
    uint8_t len;
    uint8_t bytes[P2P_PEERID_MAX];  /* the multihash */
} p2p_peerid;

P2P_API int p2p_peerid_from_pubkey(p2p_peerid *id, const p2p_pubkey *pub);
/* From the binary multihash; only identity (<= 42 bytes of digest holding
 * a valid PublicKey protobuf, in the canonical encoding p2p_pubkey_encode
 * writes) and sha2-256 (32 bytes) are accepted; else P2P_EINVAL. */
P2P_API int p2p_peerid_from_bytes(p2p_peerid *id, const uint8_t *in, size_t len);
/* The peer an address leads to: its last component, which must be
 * /p2p/<PeerId>. For a circuit address (/.../p2p/RELAY/p2p-circuit/p2p/
 * TARGET) that is the target, not the relay. 0, or P2P_EINVAL. */
P2P_API int p2p_peerid_from_maddr(p2p_peerid *id, const p2p_multiaddr *ma);
/* Parse base58btc ("1..." identity, "Qm..." sha2-256) or CIDv1 (any
 * multibase prefix p2p_multibase_decode knows, e.g. "bafz..." base32 or
 * "k51..." base36; version 1, codec libp2p-key). The multihash must pass
 * p2p_peerid_from_bytes. P2P_EINVAL on anything else; *id is only written
 * on success. */
P2P_API int p2p_peerid_parse(p2p_peerid *id, const char *text);
/* The text forms return their length, P2P_ERANGE if out is too small
 * (P2P_PEERID_STRMAX always suffices) or P2P_EINVAL for a PeerId whose len
 * is 0 or too large; out holds "" on error. */
P2P_API int p2p_peerid_to_string(const p2p_peerid *id, char *out, size_t cap);
/* CIDv1, libp2p-key, base32: "bafzaa..." */
P2P_API int p2p_peerid_to_cid(const p2p_peerid *id, char *out, size_t cap);
/* The public key inlined in an identity PeerId: 0, or P2P_ENOTFOUND for a
 * hashed PeerId (the key must then come from the peer, e.g. identify). */
P2P_API int p2p_peerid_pubkey(const p2p_peerid *id, p2p_pubkey *pub);
/* Whether pub is the key of id (hashing as the spec says). */
P2P_API bool p2p_peerid_matches(const p2p_peerid *id, const p2p_pubkey *pub);
P2P_API bool p2p_peerid_equal(const p2p_peerid *a, const p2p_peerid *b);

/* The persistent identity file: a PrivateKey protobuf, mode 0600.
 * Creates it (and missing parent directories, mode 0700) when absent.
 * Refuses (P2P_EPERM) a file that group or others may read or write.
 * Takes an exclusive, non-blocking lock on it, kept in *lock_fd until the
 * caller closes it; P2P_EBUSY when another process holds it (the caller
 * then typically runs with an ephemeral identity). err gets one sentence
 * naming the file on any error. */
P2P_API int p2p_identity_open(const char *path, p2p_keypair *kp, int *lock_fd,
                              char *err, size_t errlen);
/* The default identity path: $XDG_DATA_HOME/p2pchat/identity.key, else
 * $HOME/.local/share/p2pchat/identity.key. Returns 0 or P2P_ERANGE/EINVAL. */
P2P_API int p2p_identity_default_path(char *out, size_t cap);

P2P_END_DECLS
#endif
