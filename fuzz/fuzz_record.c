/* Fuzz signed envelopes and peer records. The first byte selects the
 * target; the rest is the input.
 *   0: p2p_envelope_open        1: p2p_peer_record_open
 *   2: p2p_peer_record_decode   3: seal then open (input = payload)
 * Whatever opens must point inside the input; whatever decodes must
 * re-encode and decode to the same record; what we seal must open. */
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "p2p/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_record(const p2p_peer_record *a, const p2p_peer_record *b)
{
    if (!p2p_peerid_equal(&a->id, &b->id) || a->seq != b->seq || a->naddrs != b->naddrs) return 0;
    for (size_t i = 0; i < a->naddrs; i++)
        if (!p2p_maddr_equal(&a->addrs[i], &b->addrs[i])) return 0;
    return 1;
}

static void check_record(const p2p_peer_record *rec)
{
    p2p_peer_record *again = malloc(sizeof *again);
    uint8_t *enc;
    size_t len;
    if (!again) return;
    if (rec->naddrs > P2P_PEER_RECORD_MAX_ADDRS || rec->id.len == 0) abort();
    if (p2p_peer_record_encode(rec, &enc, &len) != 0) abort();
    if (p2p_peer_record_decode(again, enc, len) != 0 || !same_record(rec, again) ||
        again->nskipped != 0) abort();
    free(enc);
    free(again);
}

static int open_error_ok(int rc)
{
    return rc == P2P_EINVAL || rc == P2P_ERANGE || rc == P2P_ECRYPTO || rc == P2P_EUNSUPPORTED ||
           rc == P2P_EPROTO || rc == P2P_EPEERID;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t mode = data[0] & 3;
    data++;
    size--;
    /* An exact copy, so that reads past the end are caught. */
    uint8_t *in = malloc(size ? size : 1);
    if (!in) return 0;
    memcpy(in, data, size);
    int rc;
    if (mode == 0) {
        const uint8_t *pt, *payload;
        size_t ptlen, plen;
        p2p_pubkey signer;
        rc = p2p_envelope_open(in, size, P2P_PEER_RECORD_DOMAIN, &signer, &pt, &ptlen, &payload, &plen);
        if (rc == 0) {
            if (ptlen && (pt < in || pt + ptlen > in + size)) abort();
            if (plen && (payload < in || payload + plen > in + size)) abort();
        } else if (!open_error_ok(rc)) {
            abort();
        }
    } else if (mode == 1 || mode == 2) {
        p2p_peer_record *rec = malloc(sizeof *rec);
        if (rec) {
            rc = mode == 1 ? p2p_peer_record_open(in, size, rec) : p2p_peer_record_decode(rec, in, size);
            if (rc == 0) check_record(rec);
            else if (!open_error_ok(rc) || rec->naddrs || rec->id.len) abort();
            free(rec);
        }
    } else {
        p2p_keypair kp;
        uint8_t *env;
        size_t len, ptlen, plen;
        const uint8_t *pt, *payload;
        p2p_keypair_from_seed_byte(&kp, 9);
        rc = p2p_envelope_seal(&kp, "fuzz", (const uint8_t *)"t", 1, size ? in : NULL, size, &env, &len);
        if (rc == 0) {
            if (p2p_envelope_open(env, len, "fuzz", NULL, &pt, &ptlen, &payload, &plen) != 0 ||
                plen != size || (size && memcmp(payload, in, size) != 0)) abort();
            free(env);
        } else if (rc != P2P_ERANGE) {
            abort();
        }
    }
    free(in);
    return 0;
}
