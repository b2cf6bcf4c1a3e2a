/* fuzz_relay_msg.c - the relay codec (relay_msg.c) on arbitrary bytes:
 * framing, hop and stop decoding (every decoded message is re-encoded and
 * decoded again to the same fields), voucher decoding, and the circuit
 * address helpers on any input that is a valid binary multiaddr. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "relay_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct relay_msg m1, m2;
static uint8_t buf[RELAY_FRAME_MAX];

static void check_same(const struct relay_msg *a, const struct relay_msg *b)
{
    if (a->type != b->type || a->has_peer != b->has_peer || a->has_limit != b->has_limit ||
        a->has_status != b->has_status || a->has_reservation != b->has_reservation)
        abort();
    if (a->has_peer && (!p2p_peerid_equal(&a->peer.id, &b->peer.id) || a->peer.naddrs != b->peer.naddrs)) abort();
    if (a->has_status && a->status != b->status) abort();
    if (a->has_limit && (a->limit.has_duration != b->limit.has_duration || a->limit.duration != b->limit.duration ||
                         a->limit.has_data != b->limit.has_data || a->limit.data != b->limit.data))
        abort();
    if (a->has_reservation &&
        (a->rsvp.expire != b->rsvp.expire || a->rsvp.naddrs != b->rsvp.naddrs ||
         a->rsvp.voucher_len != b->rsvp.voucher_len || memcmp(a->rsvp.voucher, b->rsvp.voucher, a->rsvp.voucher_len)))
        abort();
    for (size_t i = 0; a->has_peer && i < a->peer.naddrs; i++)
        if (!p2p_maddr_equal(&a->peer.addrs[i], &b->peer.addrs[i])) abort();
    for (size_t i = 0; a->has_reservation && i < a->rsvp.naddrs; i++)
        if (!p2p_maddr_equal(&a->rsvp.addrs[i], &b->rsvp.addrs[i])) abort();
}

static void one(enum relay_kind kind, const uint8_t *data, size_t size)
{
    if (relay_msg_decode(&m1, kind, data, size) != 0) return;
    (void)relay_status_name(m1.status);
    (void)relay_status_error(m1.status);
    (void)relay_type_name(kind, m1.type);
    (void)relay_limit_duration_ms(&m1.limit);
    char ls[RELAY_LIMIT_STRMAX];
    relay_limit_str(&m1.limit, ls, sizeof ls);
    if (strncmp(ls, "duration=", 9) != 0 || !strstr(ls, " data=")) abort();
    int n = relay_msg_encode(&m1, buf, sizeof buf);
    if (n == P2P_ERANGE) return;   /* a maximal message with a longer canonical form */
    if (n < 0) abort();
    size_t hdr, body;
    if (relay_frame(buf, (size_t)n, &hdr, &body) != 0 || hdr + body != (size_t)n) abort();
    if (relay_msg_decode(&m2, kind, buf + hdr, body) != 0) abort();
    check_same(&m1, &m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t hdr, body;
    if (relay_frame(data, size, &hdr, &body) == 0) {
        if (hdr + body > size || body > RELAY_MSG_MAX) abort();
        one(RELAY_HOP, data + hdr, body);
        one(RELAY_STOP, data + hdr, body);
    }
    one(RELAY_HOP, data, size);
    one(RELAY_STOP, data, size);

    struct relay_voucher v, w;
    if (relay_voucher_decode(&v, data, size) == 0) {
        uint8_t vb[256];
        int n = relay_voucher_encode(&v, vb, sizeof vb);
        if (n < 0 || relay_voucher_decode(&w, vb, (size_t)n) != 0) abort();
        if (!p2p_peerid_equal(&v.relay, &w.relay) || !p2p_peerid_equal(&v.peer, &w.peer) ||
            v.expiration != w.expiration)
            abort();
    }

    p2p_multiaddr ma, t, out;
    p2p_peerid id;
    if (p2p_maddr_from_bytes(&ma, data, size, NULL, 0) == 0) {
        struct relay_caddr ca;
        (void)relay_caddr_is_bare(&ma);
        if (relay_caddr_parse(&ma, &ca) == 0) {
            if (relay_caddr_make(ca.has_transport ? &ca.transport : NULL, &ca.relay, &out) == 0) {
                struct relay_caddr cb;
                if (relay_caddr_parse(&out, &cb) != 0 || !p2p_peerid_equal(&cb.relay, &ca.relay) || cb.has_target)
                    abort();
            }
        }
        if (relay_split_peer_addr(&ma, &t, &id) == 0) (void)relay_caddr_make(&ma, &id, &out);
    }
    return 0;
}
