/* kad_server.c - answering DHT requests (server mode), following the
 * spec and go-libp2p-kad-dht's handlers:
 *
 *  FIND_NODE      the k closest peers of our routing table to SHA-256(key)
 *                 (never the requester), preceded by the key's own peer
 *                 when the key is a PeerId whose addresses we know (go does
 *                 this so that clients, which are in nobody's routing
 *                 table, can be found; ourselves included). Peers without
 *                 known addresses are left out.
 *  GET_VALUE      our live record of key (else, for "/pk/<peer>", the
 *                 peer's public key when we know it) and the closer peers.
 *  PUT_VALUE      record.key must equal key; the value must pass the
 *                 namespace's validator and must not lose against the
 *                 record we hold; stored with timeReceived, attributed to
 *                 the sender (max_records_per_peer, fair room in a full
 *                 store: kad_store.h); the request is echoed (without
 *                 peers).
 *  GET_PROVIDERS  live providers of key (their addresses while fresh,
 *                 else what the peer store knows) and the closer peers.
 *  ADD_PROVIDER   every providerPeer that is the sender itself is stored,
 *                 with the addresses it carries (none is fine: rust-libp2p
 *                 sends none before it knows an external address; go
 *                 refuses such records, the spec does not); no response.
 *  PING           echoed (deprecated, still answered).
 * An empty key, a provider key over 80 bytes, or a PUT_VALUE that fails
 * validation or that the store refuses is an error: the stream is reset
 * (go returns an error too). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin_int.h"

static int add_peer(struct kad *kd, struct kad_msg *m, bool providers, const p2p_peerid *id,
                    const p2p_multiaddr *addrs, size_t n)
{
    int conn = p2p_host_conn_to(kd->host, id) ? KAD_CONNECTED : KAD_NOT_CONNECTED;
    return kad_msg_add_peer(m, providers, id, addrs, n, conn);
}

int kad_add_closer(struct kad *kd, struct kad_msg *m, const kad_key *target, const p2p_peerid *skip)
{
    p2p_peerid *ids = malloc((kd->k + 1) * sizeof *ids);
    if (!ids) return P2P_ENOMEM;
    size_t n = kad_rt_closest(&kd->rt, target, kd->k + 1, ids), added = 0;
    int rc = 0;
    for (size_t i = 0; i < n && added < kd->k && rc == 0; i++) {
        if (skip && p2p_peerid_equal(&ids[i], skip)) continue;
        p2p_multiaddr addrs[KAD_MAX_ADDRS_OUT];
        size_t na = kad_peer_addrs(kd, &ids[i], addrs, KAD_MAX_ADDRS_OUT);
        if (!na) continue;
        rc = add_peer(kd, m, false, &ids[i], addrs, na);
        added++;
    }
    free(ids);
    return rc;
}

static int find_node(struct kad *kd, const p2p_peerid *from, const struct kad_msg *req, struct kad_msg *resp)
{
    p2p_peerid target;
    if (p2p_peerid_from_bytes(&target, req->key, req->keylen) == 0) {
        p2p_multiaddr addrs[KAD_MAX_ADDRS_OUT];
        size_t na = kad_peer_addrs(kd, &target, addrs, KAD_MAX_ADDRS_OUT);
        if (na) {
            int rc = add_peer(kd, resp, false, &target, addrs, na);
            if (rc) return rc;
        }
    }
    kad_key t;
    kad_key_from_bytes(&t, req->key, req->keylen);
    int rc = kad_add_closer(kd, resp, &t, from);
    /* The target may also be among the closest: keep it once. */
    for (size_t i = 1; rc == 0 && i < resp->ncloser; i++) {
        if (!p2p_peerid_equal(&resp->closer[i].id, &resp->closer[0].id)) continue;
        free(resp->closer[i].addrs);
        memmove(&resp->closer[i], &resp->closer[i + 1], (resp->ncloser - i - 1) * sizeof *resp->closer);
        resp->ncloser--;
        break;
    }
    return rc;
}

/* The public key for "/pk/<id>" when we know it: 0 with the encoding. */
static int known_pk(struct kad *kd, const struct kad_msg *req, uint8_t *out, size_t cap, size_t *len)
{
    const uint8_t *ns, *rest;
    size_t nslen, restlen;
    if (kad_key_split(req->key, req->keylen, &ns, &nslen, &rest, &restlen)) return P2P_ENOTFOUND;
    if (nslen != 2 || memcmp(ns, KAD_PK_NS, 2) != 0) return P2P_ENOTFOUND;
    p2p_peerid id;
    if (p2p_peerid_from_bytes(&id, rest, restlen)) return P2P_ENOTFOUND;
    p2p_pubkey pub;
    if (p2p_peerid_equal(&id, p2p_host_peerid(kd->host))) p2p_keypair_public(p2p_host_keypair(kd->host), &pub);
    else if (!p2p_peerstore_key(kd->host, &id, &pub)) return P2P_ENOTFOUND;
    if (!p2p_peerid_matches(&id, &pub)) return P2P_ENOTFOUND;
    int n = p2p_pubkey_encode(&pub, out, cap);
    if (n < 0) return n;
    *len = (size_t)n;
    return 0;
}

static int get_value(struct kad *kd, const p2p_peerid *from, const struct kad_msg *req, struct kad_msg *resp)
{
    uint64_t now = kad_now(kd);
    int rc = kad_msg_set_key(resp, req->key, req->keylen);
    if (rc) return rc;
    const struct kad_rec *rec = kad_records_get(&kd->records, req->key, req->keylen, now);
    uint8_t pk[P2P_PUBKEY_PB_MAX];
    size_t pklen;
    if (rec)
        rc = kad_msg_set_record(resp, rec->key, rec->keylen, rec->value, rec->vlen, rec->time_received);
    else if (known_pk(kd, req, pk, sizeof pk, &pklen) == 0)
        rc = kad_msg_set_record(resp, req->key, req->keylen, pk, pklen, NULL);
    if (rc) return rc;
    kad_key t;
    kad_key_from_bytes(&t, req->key, req->keylen);
    return kad_add_closer(kd, resp, &t, from);
}

static int put_value(struct kad *kd, const p2p_peerid *from, const struct kad_msg *req, struct kad_msg *resp)
{
    char ps[P2P_PEERID_STRMAX];
    const struct kad_record *r = &req->record;
    if (!req->has_record || r->keylen != req->keylen || memcmp(r->key, req->key, req->keylen) != 0)
        return P2P_EPROTO;
    int rc = kad_validate(&kd->validators, r->key, r->keylen, r->value, r->vlen);
    if (rc) {
        p2p_log_debug(MOD, "PUT_VALUE from %s refused: %s", kad_peer_str(from, ps),
                      rc == P2P_ENOTFOUND ? "no validator for the key's namespace" : p2p_strerror(rc));
        return rc == P2P_ENOTFOUND ? P2P_EINVAL : rc;
    }
    uint64_t now = kad_now(kd);
    const struct kad_rec *old = kad_records_get(&kd->records, r->key, r->keylen, now);
    if (old && kad_validate(&kd->validators, old->key, old->keylen, old->value, old->vlen) == 0 &&
        kad_select(&kd->validators, r->key, r->keylen, r->value, r->vlen, old->value, old->vlen) == 1) {
        p2p_log_debug(MOD, "PUT_VALUE from %s refused: older than the record we hold", kad_peer_str(from, ps));
        return P2P_EINVAL;
    }
    char when[40];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    kad_rfc3339((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, when);
    if ((rc = kad_records_put(&kd->records, r->key, r->keylen, r->value, r->vlen, when, from, now))) {
        /* Over its max_records_per_peer, or a full store with nobody
         * holding two more than it: reset, as rust-libp2p does when its
         * store refuses a record (go returns the datastore's error, which
         * resets too); their clients count the peer as failed and go on
         * with the others. Counted in the store's quota (metrics). */
        p2p_log_debug(MOD, "PUT_VALUE from %s refused: %s (it holds %zu records)", kad_peer_str(from, ps),
                      p2p_strerror(rc), kad_records_of_peer(&kd->records, from));
        return rc;
    }
    /* Echo the request (go strips the peers of echoed messages). */
    if ((rc = kad_msg_set_key(resp, req->key, req->keylen))) return rc;
    return kad_msg_set_record(resp, r->key, r->keylen, r->value, r->vlen, NULL);
}

static int get_providers(struct kad *kd, const p2p_peerid *from, const struct kad_msg *req, struct kad_msg *resp)
{
    if (req->keylen > KAD_PROVIDER_KEY_MAX) return P2P_ERANGE;
    uint64_t now = kad_now(kd);
    int rc = kad_msg_set_key(resp, req->key, req->keylen);
    if (rc) return rc;
    const struct kad_prov *ps[64];
    size_t n = kad_providers_get(&kd->providers, req->key, req->keylen, now, ps, kd->k < 64 ? kd->k : 64);
    for (size_t i = 0; i < n && rc == 0; i++) {
        p2p_multiaddr addrs[KAD_MAX_ADDRS_OUT];
        size_t na;
        if (p2p_peerid_equal(&ps[i]->id, p2p_host_peerid(kd->host))) {
            na = kad_peer_addrs(kd, &ps[i]->id, addrs, KAD_MAX_ADDRS_OUT);
        } else if (kad_prov_addrs_live(ps[i], now)) {
            na = ps[i]->naddrs < KAD_MAX_ADDRS_OUT ? ps[i]->naddrs : KAD_MAX_ADDRS_OUT;
            memcpy(addrs, ps[i]->addrs, na * sizeof *addrs);
        } else {
            na = kad_peer_addrs(kd, &ps[i]->id, addrs, KAD_MAX_ADDRS_OUT);
        }
        rc = add_peer(kd, resp, true, &ps[i]->id, addrs, na);
    }
    if (rc) return rc;
    kad_key t;
    kad_key_from_bytes(&t, req->key, req->keylen);
    return kad_add_closer(kd, resp, &t, from);
}

static int add_provider(struct kad *kd, const p2p_peerid *from, const struct kad_msg *req)
{
    if (req->keylen > KAD_PROVIDER_KEY_MAX) return P2P_ERANGE;
    char ps[P2P_PEERID_STRMAX];
    bool stored = false;
    for (size_t i = 0; i < req->nproviders; i++) {
        const struct kad_peer *p = &req->providers[i];
        if (!p2p_peerid_equal(&p->id, from)) continue;
        /* Without addresses too (the spec records every providerPeer that
         * is the sender): rust-libp2p sends its confirmed external
         * addresses only, none at all before it has any. We then serve
         * what the peer store knows of it. */
        int rc = kad_providers_add(&kd->providers, req->key, req->keylen, &p->id, p->addrs, p->naddrs,
                                   kad_now(kd));
        if (rc) {
            p2p_log_debug(MOD, "cannot store a provider record of %s: %s", kad_peer_str(from, ps),
                          p2p_strerror(rc));
            continue;
        }
        kad_learn_addrs(kd, p);
        stored = true;
    }
    if (!stored) p2p_log_debug(MOD, "ADD_PROVIDER from %s carried no provider record of its own", kad_peer_str(from, ps));
    return 0;
}

int kad_handle_request(struct kad *kd, const p2p_peerid *from, const struct kad_msg *req, struct kad_msg *resp)
{
    if (req->type != KAD_PING && !req->keylen) return P2P_EPROTO;
    resp->type = req->type;
    resp->cluster_level = req->cluster_level;
    int rc;
    switch (req->type) {
    case KAD_FIND_NODE: rc = find_node(kd, from, req, resp); break;
    case KAD_GET_VALUE: rc = get_value(kd, from, req, resp); break;
    case KAD_PUT_VALUE: rc = put_value(kd, from, req, resp); break;
    case KAD_GET_PROVIDERS: rc = get_providers(kd, from, req, resp); break;
    case KAD_ADD_PROVIDER: return add_provider(kd, from, req);
    case KAD_PING: rc = 0; break;
    default: rc = P2P_EPROTO; break;
    }
    return rc < 0 ? rc : 1;
}
