/* kad_validate.c - record validators (see kad_validate.h). */
#include "kad_validate.h"

#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/multihash.h"
#include "p2p/record.h"
#include "p2p/varint.h"

void kad_validators_init(struct kad_validators *vs)
{
    memset(vs, 0, sizeof *vs);
    kad_validators_set(vs, KAD_PK_NS, kad_pk_validate, NULL, NULL);
    kad_validators_set(vs, KAD_CHAT_NS, kad_chat_validate, kad_chat_select, NULL);
}

static bool ns_ok(const char *ns)
{
    size_t n = strlen(ns);
    if (!n || n > KAD_NS_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (ns[i] == '/' || (unsigned char)ns[i] <= 0x20 || (unsigned char)ns[i] > 0x7e) return false;
    return true;
}

static long ns_find(const struct kad_validators *vs, const uint8_t *ns, size_t len)
{
    for (size_t i = 0; i < vs->n; i++)
        if (strlen(vs->v[i].ns) == len && memcmp(vs->v[i].ns, ns, len) == 0) return (long)i;
    return -1;
}

int kad_validators_set(struct kad_validators *vs, const char *ns, kad_validate_fn validate, kad_select_fn select,
                       void *arg)
{
    if (!ns || !ns_ok(ns) || !validate) return P2P_EINVAL;
    long i = ns_find(vs, (const uint8_t *)ns, strlen(ns));
    if (i < 0) {
        if (vs->n == KAD_MAX_VALIDATORS) return P2P_ELIMIT;
        i = (long)vs->n++;
    }
    struct kad_validator *v = &vs->v[i];
    strcpy(v->ns, ns);
    v->validate = validate;
    v->select = select;
    v->arg = arg;
    return 0;
}

bool kad_validators_remove(struct kad_validators *vs, const char *ns)
{
    long i = ns_find(vs, (const uint8_t *)ns, strlen(ns));
    if (i < 0) return false;
    vs->v[i] = vs->v[--vs->n];
    return true;
}

int kad_key_split(const uint8_t *key, size_t klen, const uint8_t **ns, size_t *nslen, const uint8_t **rest,
                  size_t *restlen)
{
    if (klen < 3 || key[0] != '/') return P2P_EINVAL;
    const uint8_t *slash = memchr(key + 1, '/', klen - 1);
    if (!slash || slash == key + 1) return P2P_EINVAL;
    *ns = key + 1;
    *nslen = (size_t)(slash - key - 1);
    *rest = slash + 1;
    *restlen = klen - (size_t)(slash + 1 - key);
    return 0;
}

static const struct kad_validator *lookup(const struct kad_validators *vs, const uint8_t *key, size_t klen)
{
    const uint8_t *ns, *rest;
    size_t nslen, restlen;
    if (kad_key_split(key, klen, &ns, &nslen, &rest, &restlen)) return NULL;
    long i = ns_find(vs, ns, nslen);
    return i < 0 ? NULL : &vs->v[i];
}

int kad_validate(const struct kad_validators *vs, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    const struct kad_validator *v = lookup(vs, key, klen);
    if (!v) return P2P_ENOTFOUND;
    return v->validate(v->arg, key, klen, val, vlen);
}

int kad_select(const struct kad_validators *vs, const uint8_t *key, size_t klen, const uint8_t *a, size_t alen,
               const uint8_t *b, size_t blen)
{
    const struct kad_validator *v = lookup(vs, key, klen);
    if (!v || !v->select) return 0;
    return v->select(v->arg, key, klen, a, alen, b, blen) > 0 ? 1 : 0;
}

/* ---- /pk/ ------------------------------------------------------------------- */

static int prefixed_key(const char *prefix, const p2p_peerid *id, const char *name, uint8_t **key, size_t *klen)
{
    size_t pl = strlen(prefix), nl = name ? strlen(name) : 0;
    size_t n = pl + id->len + (nl ? nl + 1 : 0);
    uint8_t *k = malloc(n);
    if (!k) return P2P_ENOMEM;
    memcpy(k, prefix, pl);
    memcpy(k + pl, id->bytes, id->len);
    if (nl) {
        k[pl + id->len] = '/';
        memcpy(k + pl + id->len + 1, name, nl);
    }
    *key = k;
    *klen = n;
    return 0;
}

int kad_pk_key(const p2p_peerid *id, uint8_t **key, size_t *klen)
{
    return prefixed_key("/" KAD_PK_NS "/", id, NULL, key, klen);
}

int kad_pk_validate(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    (void)arg;
    const uint8_t *ns, *rest;
    size_t nslen, restlen;
    if (kad_key_split(key, klen, &ns, &nslen, &rest, &restlen)) return P2P_EINVAL;
    p2p_peerid id;
    if (p2p_peerid_from_bytes(&id, rest, restlen)) return P2P_EINVAL;
    p2p_pubkey pub;
    int rc = p2p_pubkey_decode(&pub, val, vlen);
    if (rc) return rc == P2P_EUNSUPPORTED ? rc : P2P_EINVAL;
    return p2p_peerid_matches(&id, &pub) ? 0 : P2P_EPEERID;
}

/* ---- /p2pchat/ ---------------------------------------------------------------- */

static bool name_ok(const uint8_t *s, size_t n)
{
    if (!n || n > KAD_CHAT_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || s[i] < 0x20 || s[i] > 0x7e) return false;
    return true;
}

/* The PeerId a /p2pchat/ key names (and that the name part is fine). */
static int chat_key_peer(const uint8_t *key, size_t klen, p2p_peerid *id)
{
    const uint8_t *ns, *rest;
    size_t nslen, restlen;
    if (kad_key_split(key, klen, &ns, &nslen, &rest, &restlen)) return P2P_EINVAL;
    if (nslen != strlen(KAD_CHAT_NS) || memcmp(ns, KAD_CHAT_NS, nslen) != 0) return P2P_EINVAL;
    struct p2p_multihash mh;
    size_t used;
    if (p2p_multihash_parse(rest, restlen, &mh, &used)) return P2P_EINVAL;
    if (p2p_peerid_from_bytes(id, rest, used)) return P2P_EINVAL;
    if (used == restlen) return 0;
    if (rest[used] != '/' || !name_ok(rest + used + 1, restlen - used - 1)) return P2P_EINVAL;
    return 0;
}

int kad_chat_key(const p2p_peerid *id, const char *name, uint8_t **key, size_t *klen)
{
    if (name && *name && !name_ok((const uint8_t *)name, strlen(name))) return P2P_EINVAL;
    return prefixed_key("/" KAD_CHAT_NS "/", id, name, key, klen);
}

int kad_chat_open(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, uint64_t *seq,
                  const uint8_t **data, size_t *dlen)
{
    p2p_peerid id;
    int rc = chat_key_peer(key, klen, &id);
    if (rc) return rc;
    p2p_pubkey signer;
    const uint8_t *pt, *pl;
    size_t ptlen, plen;
    rc = p2p_envelope_open(val, vlen, KAD_CHAT_DOMAIN, &signer, &pt, &ptlen, &pl, &plen);
    if (rc) return rc;
    if (ptlen != strlen(KAD_CHAT_PAYLOAD_TYPE) || memcmp(pt, KAD_CHAT_PAYLOAD_TYPE, ptlen) != 0) return P2P_EINVAL;
    if (!p2p_peerid_matches(&id, &signer)) return P2P_EPEERID;
    if (plen < 8) return P2P_EINVAL;
    uint64_t s = 0;
    for (int i = 0; i < 8; i++) s = s << 8 | pl[i];
    uint64_t kl;
    size_t used;
    if (p2p_varint_decode(pl + 8, plen - 8, &kl, &used)) return P2P_EINVAL;
    size_t off = 8 + used;
    if (kl != klen || plen - off < klen || memcmp(pl + off, key, klen) != 0) return P2P_EINVAL;
    off += klen;
    if (seq) *seq = s;
    if (data) *data = plen > off ? pl + off : NULL;
    if (dlen) *dlen = plen - off;
    return 0;
}

int kad_chat_validate(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    (void)arg;
    return kad_chat_open(key, klen, val, vlen, NULL, NULL, NULL);
}

int kad_chat_select(void *arg, const uint8_t *key, size_t klen, const uint8_t *a, size_t alen, const uint8_t *b,
                    size_t blen)
{
    (void)arg;
    uint64_t sa = 0, sb = 0;
    if (kad_chat_open(key, klen, a, alen, &sa, NULL, NULL)) return 1;   /* an invalid a loses */
    if (kad_chat_open(key, klen, b, blen, &sb, NULL, NULL)) return 0;
    if (sa != sb) return sb > sa;
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    if (c) return c < 0;
    return blen > alen;
}

int kad_chat_seal(const p2p_keypair *kp, const char *name, uint64_t seq, const uint8_t *data, size_t dlen,
                  uint8_t **key, size_t *klen, uint8_t **val, size_t *vlen)
{
    p2p_pubkey pub;
    p2p_keypair_public(kp, &pub);
    p2p_peerid id;
    int rc = p2p_peerid_from_pubkey(&id, &pub);
    if (rc) return rc;
    if ((rc = kad_chat_key(&id, name, key, klen))) return rc;
    uint8_t vi[P2P_VARINT_MAX_BYTES];
    int vn = p2p_varint_encode(*klen, vi);
    size_t plen = 8 + (size_t)vn + *klen + dlen;
    uint8_t *pl = malloc(plen);
    if (!pl) {
        rc = P2P_ENOMEM;
        goto fail;
    }
    for (int i = 0; i < 8; i++) pl[i] = (uint8_t)(seq >> (56 - 8 * i));
    memcpy(pl + 8, vi, (size_t)vn);
    memcpy(pl + 8 + vn, *key, *klen);
    if (dlen) memcpy(pl + 8 + vn + *klen, data, dlen);
    rc = p2p_envelope_seal(kp, KAD_CHAT_DOMAIN, (const uint8_t *)KAD_CHAT_PAYLOAD_TYPE, strlen(KAD_CHAT_PAYLOAD_TYPE),
                           pl, plen, val, vlen);
    free(pl);
    if (rc == 0) return 0;
fail:
    free(*key);
    *key = NULL;
    return rc;
}
