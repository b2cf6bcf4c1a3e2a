/* kad_validate.h - DHT record validation by namespace (libp2p kad-dht
 * "Entry validation"), without I/O.
 *
 * A record key is "/<namespace>/<rest>"; the namespace picks the
 * validator. Keys without a namespace, and namespaces nobody registered,
 * are rejected (P2P_ENOTFOUND), both when we store (PUT_VALUE) and when we
 * read (GET_VALUE), as go-libp2p-kad-dht does.
 *
 * Built in:
 *  - "pk": key "/pk/" + the binary PeerId (multihash); the value is the
 *    peer's PublicKey protobuf, valid when its PeerId is the key's. All
 *    valid values are equal, so select keeps the first.
 *  - "p2pchat" (ours): key "/p2pchat/" + binary PeerId, optionally
 *    followed by "/" + a name of 1..64 printable ASCII bytes without '/'.
 *    The value is a signed envelope (p2p/record.h) in the domain
 *    KAD_CHAT_DOMAIN with payload type KAD_CHAT_PAYLOAD_TYPE, signed by
 *    the key's peer, whose payload is
 *        seq (8 bytes, big-endian) || uvarint(len(key)) || key || data
 *    (the key inside the signature stops a record from being replayed
 *    under another name). select prefers the higher seq, then the larger
 *    value bytes, so every node converges on the same record. */
#ifndef KAD_VALIDATE_H
#define KAD_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/crypto.h"
#include "p2p/peerid.h"

#define KAD_PK_NS "pk"
#define KAD_CHAT_NS "p2pchat"
#define KAD_CHAT_DOMAIN "p2pchat-kad-record"
#define KAD_CHAT_PAYLOAD_TYPE "/p2pchat/kad-record/1"
#define KAD_CHAT_NAME_MAX 64
#define KAD_MAX_VALIDATORS 16
#define KAD_NS_MAX 64

/* 0 when valid, else a negative P2P_E* code. */
typedef int (*kad_validate_fn)(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);
/* Both values valid: 1 when b is strictly better than a, else 0. */
typedef int (*kad_select_fn)(void *arg, const uint8_t *key, size_t klen, const uint8_t *a, size_t alen,
                             const uint8_t *b, size_t blen);

struct kad_validator {
    char ns[KAD_NS_MAX + 1];
    kad_validate_fn validate;
    kad_select_fn select;        /* NULL: keep the first */
    void *arg;
};

struct kad_validators {
    struct kad_validator v[KAD_MAX_VALIDATORS];
    size_t n;
};

/* Empty set, then the built-ins "pk" and "p2pchat". */
void kad_validators_init(struct kad_validators *vs);
/* Register (or replace) a namespace's validator: 0, P2P_EINVAL (bad
 * name), P2P_ELIMIT (table full). */
int kad_validators_set(struct kad_validators *vs, const char *ns, kad_validate_fn validate, kad_select_fn select,
                       void *arg);
bool kad_validators_remove(struct kad_validators *vs, const char *ns);

/* Split "/ns/rest": 0 with the namespace and the rest, or P2P_EINVAL. */
int kad_key_split(const uint8_t *key, size_t klen, const uint8_t **ns, size_t *nslen, const uint8_t **rest,
                  size_t *restlen);
/* 0 (valid), P2P_ENOTFOUND (no validator for the key), or the
 * validator's error (P2P_EINVAL, P2P_ECRYPTO, P2P_EUNSUPPORTED...). */
int kad_validate(const struct kad_validators *vs, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);
/* For two valid values of key: 1 when b is better than a, else 0. */
int kad_select(const struct kad_validators *vs, const uint8_t *key, size_t klen, const uint8_t *a, size_t alen,
               const uint8_t *b, size_t blen);

/* ---- built-ins ---------------------------------------------------------- */

int kad_pk_validate(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);
/* "/pk/" + id: malloc'ed key (free()). */
int kad_pk_key(const p2p_peerid *id, uint8_t **key, size_t *klen);

int kad_chat_validate(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);
int kad_chat_select(void *arg, const uint8_t *key, size_t klen, const uint8_t *a, size_t alen, const uint8_t *b,
                    size_t blen);
/* "/p2pchat/" + id [+ "/" + name] (name NULL or "" for none): malloc'ed. */
int kad_chat_key(const p2p_peerid *id, const char *name, uint8_t **key, size_t *klen);
/* Sign a record for kp's peer under name: malloc'ed key and value. */
int kad_chat_seal(const p2p_keypair *kp, const char *name, uint64_t seq, const uint8_t *data, size_t dlen,
                  uint8_t **key, size_t *klen, uint8_t **val, size_t *vlen);
/* Validate and read a record: seq and data (pointing into val). */
int kad_chat_open(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, uint64_t *seq,
                  const uint8_t **data, size_t *dlen);

#endif
