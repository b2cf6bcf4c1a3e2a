/* relay_msg.c - Circuit Relay v2 messages, framing, vouchers and circuit
 * addresses (see relay_msg.h). No I/O. */
#include "relay_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "circuit.pb-c.h"
#include "p2p/error.h"
#include "p2p/varint.h"
#include "voucher.pb-c.h"

void relay_msg_init(struct relay_msg *m, enum relay_kind kind, uint32_t type)
{
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->type = type;
}

/* ---- framing ------------------------------------------------------------- */

int relay_frame(const uint8_t *in, size_t len, size_t *hdr, size_t *body)
{
    return p2p_varint_frame(in, len, RELAY_MSG_MAX, hdr, body);
}

/* ---- encoding ------------------------------------------------------------ */

struct enc_peer {
    Circuit__Peer pb;
    ProtobufCBinaryData addrs[RELAY_MAX_ADDRS];
};

static int enc_peer(struct enc_peer *e, const struct relay_peer *p)
{
    if (p->id.len == 0 || p->id.len > P2P_PEERID_MAX || p->naddrs > RELAY_MAX_ADDRS) return P2P_EINVAL;
    circuit__peer__init(&e->pb);
    e->pb.has_id = 1;
    e->pb.id.data = (uint8_t *)p->id.bytes;
    e->pb.id.len = p->id.len;
    for (size_t i = 0; i < p->naddrs; i++) {
        if (p->addrs[i].len == 0 || p->addrs[i].len > P2P_MADDR_MAX) return P2P_EINVAL;
        e->addrs[i].data = (uint8_t *)p->addrs[i].bytes;
        e->addrs[i].len = p->addrs[i].len;
    }
    e->pb.n_addrs = p->naddrs;
    e->pb.addrs = p->naddrs ? e->addrs : NULL;
    return 0;
}

static void enc_limit(Circuit__Limit *pb, const struct relay_limit *l)
{
    circuit__limit__init(pb);
    pb->has_duration = l->has_duration;
    pb->duration = l->duration;
    pb->has_data = l->has_data;
    pb->data = l->data;
}

int relay_msg_encode(const struct relay_msg *m, uint8_t *out, size_t cap)
{
    struct enc_peer peer;
    Circuit__Limit limit;
    Circuit__Reservation rsvp;
    ProtobufCBinaryData raddrs[RELAY_MAX_ADDRS];
    const ProtobufCMessage *msg;
    Circuit__HopMessage hop;
    Circuit__StopMessage stop;
    if (m->has_peer && enc_peer(&peer, &m->peer) < 0) return P2P_EINVAL;
    if (m->has_limit) enc_limit(&limit, &m->limit);
    if (m->kind == RELAY_HOP) {
        circuit__hop_message__init(&hop);
        if (m->type > RELAY_HOP_STATUS) return P2P_EINVAL;
        hop.has_type = 1;
        hop.type = (Circuit__HopMessage__Type)m->type;
        hop.peer = m->has_peer ? &peer.pb : NULL;
        hop.limit = m->has_limit ? &limit : NULL;
        hop.has_status = m->has_status;
        hop.status = (Circuit__Status)m->status;
        if (m->has_reservation) {
            const struct relay_reservation *r = &m->rsvp;
            if (r->naddrs > RELAY_MAX_ADDRS || r->voucher_len > RELAY_VOUCHER_MAX) return P2P_EINVAL;
            circuit__reservation__init(&rsvp);
            rsvp.has_expire = r->has_expire;
            rsvp.expire = r->expire;
            for (size_t i = 0; i < r->naddrs; i++) {
                raddrs[i].data = (uint8_t *)r->addrs[i].bytes;
                raddrs[i].len = r->addrs[i].len;
            }
            rsvp.n_addrs = r->naddrs;
            rsvp.addrs = r->naddrs ? raddrs : NULL;
            if (r->voucher_len) {
                rsvp.has_voucher = 1;
                rsvp.voucher.data = (uint8_t *)r->voucher;
                rsvp.voucher.len = r->voucher_len;
            }
            hop.reservation = &rsvp;
        }
        msg = &hop.base;
    } else {
        circuit__stop_message__init(&stop);
        if (m->type > RELAY_STOP_STATUS || m->has_reservation) return P2P_EINVAL;
        stop.has_type = 1;
        stop.type = (Circuit__StopMessage__Type)m->type;
        stop.peer = m->has_peer ? &peer.pb : NULL;
        stop.limit = m->has_limit ? &limit : NULL;
        stop.has_status = m->has_status;
        stop.status = (Circuit__Status)m->status;
        msg = &stop.base;
    }
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > RELAY_MSG_MAX) return P2P_ERANGE;
    uint8_t hdr[P2P_VARINT_MAX_BYTES];
    int h = p2p_varint_encode(n, hdr);
    if (h < 0 || (size_t)h + n > cap) return P2P_ERANGE;
    memcpy(out, hdr, (size_t)h);
    protobuf_c_message_pack(msg, out + h);
    return (int)((size_t)h + n);
}

/* ---- decoding ------------------------------------------------------------ */

static size_t take_addrs(p2p_multiaddr *dst, size_t *skipped, const ProtobufCBinaryData *src, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k < RELAY_MAX_ADDRS && p2p_maddr_from_bytes(&dst[k], src[i].data, src[i].len, NULL, 0) == 0) k++;
        else (*skipped)++;
    }
    return k;
}

static int dec_peer(struct relay_peer *p, const Circuit__Peer *pb)
{
    if (!pb->has_id || p2p_peerid_from_bytes(&p->id, pb->id.data, pb->id.len) < 0) return P2P_EINVAL;
    p->naddrs = take_addrs(p->addrs, &p->nskipped, pb->addrs, pb->n_addrs);
    return 0;
}

static void dec_limit(struct relay_limit *l, const Circuit__Limit *pb)
{
    l->has_duration = pb->has_duration;
    l->duration = pb->duration;
    l->has_data = pb->has_data;
    l->data = pb->data;
}

static int dec_hop(struct relay_msg *m, const uint8_t *in, size_t len)
{
    Circuit__HopMessage *pb = circuit__hop_message__unpack(NULL, len, in);
    if (!pb) return P2P_EINVAL;
    int rc = 0;
    m->type = pb->has_type ? (uint32_t)pb->type : RELAY_HOP_RESERVE;
    if (m->type > RELAY_HOP_STATUS) rc = P2P_EINVAL;
    if (!rc && pb->peer) {
        m->has_peer = true;
        rc = dec_peer(&m->peer, pb->peer);
    }
    if (!rc && pb->reservation) {
        const Circuit__Reservation *r = pb->reservation;
        m->has_reservation = true;
        m->rsvp.has_expire = r->has_expire;
        m->rsvp.expire = r->expire;
        m->rsvp.naddrs = take_addrs(m->rsvp.addrs, &m->rsvp.nskipped, r->addrs, r->n_addrs);
        if (r->has_voucher && r->voucher.len) {
            if (r->voucher.len > RELAY_VOUCHER_MAX) rc = P2P_EINVAL;
            else {
                memcpy(m->rsvp.voucher, r->voucher.data, r->voucher.len);
                m->rsvp.voucher_len = r->voucher.len;
            }
        }
    }
    if (!rc && pb->limit) {
        m->has_limit = true;
        dec_limit(&m->limit, pb->limit);
    }
    m->has_status = pb->has_status;
    m->status = (uint32_t)pb->status;
    circuit__hop_message__free_unpacked(pb, NULL);
    return rc;
}

static int dec_stop(struct relay_msg *m, const uint8_t *in, size_t len)
{
    Circuit__StopMessage *pb = circuit__stop_message__unpack(NULL, len, in);
    if (!pb) return P2P_EINVAL;
    int rc = 0;
    m->type = pb->has_type ? (uint32_t)pb->type : RELAY_STOP_CONNECT;
    if (m->type > RELAY_STOP_STATUS) rc = P2P_EINVAL;
    if (!rc && pb->peer) {
        m->has_peer = true;
        rc = dec_peer(&m->peer, pb->peer);
    }
    if (!rc && pb->limit) {
        m->has_limit = true;
        dec_limit(&m->limit, pb->limit);
    }
    m->has_status = pb->has_status;
    m->status = (uint32_t)pb->status;
    circuit__stop_message__free_unpacked(pb, NULL);
    return rc;
}

int relay_msg_decode(struct relay_msg *m, enum relay_kind kind, const uint8_t *in, size_t len)
{
    relay_msg_init(m, kind, 0);
    if (len > RELAY_MSG_MAX) return P2P_ERANGE;
    int rc = kind == RELAY_HOP ? dec_hop(m, in, len) : dec_stop(m, in, len);
    if (rc < 0) relay_msg_init(m, kind, 0);
    return rc;
}

/* ---- names and codes --------------------------------------------------------- */

const char *relay_status_name(uint32_t status)
{
    switch (status) {
    case RELAY_STATUS_OK: return "OK";
    case RELAY_STATUS_RESERVATION_REFUSED: return "RESERVATION_REFUSED";
    case RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED: return "RESOURCE_LIMIT_EXCEEDED";
    case RELAY_STATUS_PERMISSION_DENIED: return "PERMISSION_DENIED";
    case RELAY_STATUS_CONNECTION_FAILED: return "CONNECTION_FAILED";
    case RELAY_STATUS_NO_RESERVATION: return "NO_RESERVATION";
    case RELAY_STATUS_MALFORMED_MESSAGE: return "MALFORMED_MESSAGE";
    case RELAY_STATUS_UNEXPECTED_MESSAGE: return "UNEXPECTED_MESSAGE";
    default: return "unknown status";
    }
}

const char *relay_type_name(enum relay_kind kind, uint32_t type)
{
    static const char *const hop[] = { "RESERVE", "CONNECT", "STATUS" };
    static const char *const stop[] = { "CONNECT", "STATUS" };
    if (kind == RELAY_HOP) return type < 3 ? hop[type] : "unknown";
    return type < 2 ? stop[type] : "unknown";
}

int relay_status_error(uint32_t status)
{
    switch (status) {
    case RELAY_STATUS_OK: return 0;
    case RELAY_STATUS_RESERVATION_REFUSED:
    case RELAY_STATUS_PERMISSION_DENIED: return P2P_EREFUSED;
    case RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED: return P2P_ELIMIT;
    case RELAY_STATUS_CONNECTION_FAILED:
    case RELAY_STATUS_NO_RESERVATION: return P2P_EUNREACH;
    default: return P2P_EPROTO;
    }
}

uint64_t relay_limit_duration_ms(const struct relay_limit *l)
{
    if (!l->has_duration || !l->duration) return 0;
    if (l->duration > RELAY_DURATION_MS_ABOVE) return l->duration;
    return (uint64_t)l->duration * 1000;
}

const char *relay_limit_str(const struct relay_limit *l, char *buf, size_t cap)
{
    char d[32] = "none", b[32] = "none";
    uint64_t ms = l ? relay_limit_duration_ms(l) : 0;
    if (ms % 1000) snprintf(d, sizeof d, "%llu.%03llus", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
    else if (ms) snprintf(d, sizeof d, "%llus", (unsigned long long)(ms / 1000));
    if (l && l->has_data && l->data) snprintf(b, sizeof b, "%llu", (unsigned long long)l->data);
    if (cap) snprintf(buf, cap, "duration=%s data=%s", d, b);
    return buf;
}

/* ---- vouchers ---------------------------------------------------------------- */

int relay_voucher_encode(const struct relay_voucher *v, uint8_t *out, size_t cap)
{
    if (!v->relay.len || v->relay.len > P2P_PEERID_MAX || !v->peer.len || v->peer.len > P2P_PEERID_MAX)
        return P2P_EINVAL;
    Circuit__ReservationVoucher pb = CIRCUIT__RESERVATION_VOUCHER__INIT;
    pb.relay.data = (uint8_t *)v->relay.bytes;
    pb.relay.len = v->relay.len;
    pb.peer.data = (uint8_t *)v->peer.bytes;
    pb.peer.len = v->peer.len;
    pb.expiration = v->expiration;
    size_t n = circuit__reservation_voucher__get_packed_size(&pb);
    if (n > cap) return P2P_ERANGE;
    circuit__reservation_voucher__pack(&pb, out);
    return (int)n;
}

int relay_voucher_decode(struct relay_voucher *v, const uint8_t *in, size_t len)
{
    memset(v, 0, sizeof *v);
    if (len > RELAY_MSG_MAX) return P2P_ERANGE;
    Circuit__ReservationVoucher *pb = circuit__reservation_voucher__unpack(NULL, len, in);
    if (!pb) return P2P_EINVAL;
    int rc = 0;
    if (p2p_peerid_from_bytes(&v->relay, pb->relay.data, pb->relay.len) < 0 ||
        p2p_peerid_from_bytes(&v->peer, pb->peer.data, pb->peer.len) < 0)
        rc = P2P_EINVAL;
    v->expiration = pb->expiration;
    circuit__reservation_voucher__free_unpacked(pb, NULL);
    if (rc) memset(v, 0, sizeof *v);
    return rc;
}

/* ---- circuit addresses ------------------------------------------------------- */

int relay_caddr_parse(const p2p_multiaddr *ma, struct relay_caddr *out)
{
    struct p2p_maddr_component c, prev = { 0 };
    size_t off = 0, start = 0, prev_start = 0;
    bool seen = false, has_prev = false;
    memset(out, 0, sizeof *out);
    for (;;) {
        start = off;
        if (p2p_maddr_next(ma, &off, &c) != 1) break;
        if (c.code == P2P_MA_P2P_CIRCUIT) {
            if (!has_prev || prev.code != P2P_MA_P2P) return P2P_EINVAL;
            seen = true;
            if (p2p_peerid_from_bytes(&out->relay, prev.value, prev.value_len) < 0) return P2P_EINVAL;
            if (prev_start) {
                if (p2p_maddr_from_bytes(&out->transport, ma->bytes, prev_start, NULL, 0) < 0) return P2P_EINVAL;
                out->has_transport = true;
            }
            /* What follows: nothing, or exactly /p2p/<target>. */
            struct p2p_maddr_component t;
            if (p2p_maddr_next(ma, &off, &t) == 1) {
                if (t.code != P2P_MA_P2P || p2p_peerid_from_bytes(&out->target, t.value, t.value_len) < 0)
                    return P2P_EINVAL;
                out->has_target = true;
                if (p2p_maddr_next(ma, &off, &t) == 1) return P2P_EINVAL;
            }
            break;
        }
        prev = c;
        prev_start = start;
        has_prev = true;
    }
    if (!seen || off != ma->len) return P2P_EINVAL;
    if (out->has_target && p2p_peerid_equal(&out->target, &out->relay)) return P2P_EINVAL;
    return 0;
}

bool relay_caddr_is_bare(const p2p_multiaddr *ma)
{
    struct p2p_maddr_component c;
    size_t off = 0;
    return p2p_maddr_next(ma, &off, &c) == 1 && c.code == P2P_MA_P2P_CIRCUIT && off == ma->len;
}

int relay_split_peer_addr(const p2p_multiaddr *ma, p2p_multiaddr *transport, p2p_peerid *id)
{
    struct p2p_maddr_component c, last = { 0 };
    size_t off = 0, last_start = 0, start = 0;
    bool any = false;
    while (p2p_maddr_next(ma, &off, &c) == 1) {
        if (c.code == P2P_MA_P2P_CIRCUIT) return P2P_EINVAL;
        last = c;
        last_start = start;
        start = off;
        any = true;
    }
    if (!any || off != ma->len || last.code != P2P_MA_P2P) return P2P_EINVAL;
    if (p2p_peerid_from_bytes(id, last.value, last.value_len) < 0) return P2P_EINVAL;
    memset(transport, 0, sizeof *transport);
    if (last_start && p2p_maddr_from_bytes(transport, ma->bytes, last_start, NULL, 0) < 0) return P2P_EINVAL;
    return 0;
}

int relay_caddr_make(const p2p_multiaddr *transport, const p2p_peerid *relay, p2p_multiaddr *out)
{
    memset(out, 0, sizeof *out);
    if (transport && transport->len) {
        p2p_multiaddr t;
        p2p_peerid id;
        if (relay_split_peer_addr(transport, &t, &id) == 0) {
            /* Ends in /p2p/<id> already: it must be the relay's. */
            if (!p2p_peerid_equal(&id, relay)) return P2P_EINVAL;
            *out = t;
        } else {
            struct p2p_maddr_component c;
            size_t off = 0;
            while (p2p_maddr_next(transport, &off, &c) == 1)
                if (c.code == P2P_MA_P2P_CIRCUIT || c.code == P2P_MA_P2P) return P2P_EINVAL;
            *out = *transport;
        }
    }
    int rc = p2p_maddr_push(out, P2P_MA_P2P, relay->bytes, relay->len);
    if (rc == 0) rc = p2p_maddr_push(out, P2P_MA_P2P_CIRCUIT, NULL, 0);
    return rc;
}
