/* autonat_msg.c - see autonat_msg.h. */
#include <string.h>

#include "autonat.pb-c.h"
#include "autonat_msg.h"
#include "p2p/error.h"
#include "p2p/varint.h"

/* Prefix the packed message with its length. */
static int frame(const ProtobufCMessage *pb, size_t len, uint8_t *out, size_t cap)
{
    uint8_t hdr[P2P_VARINT_MAX_BYTES];
    int h = p2p_varint_encode(len, hdr);
    if (h < 0 || (size_t)h + len > cap) return P2P_ERANGE;
    memcpy(out, hdr, (size_t)h);
    protobuf_c_message_pack(pb, out + h);
    return (int)((size_t)h + len);
}

int autonat_encode_dial(const p2p_peerid *peer, const p2p_multiaddr *addrs, size_t n, uint8_t *out, size_t cap,
                        size_t *dropped)
{
    if (n > AUTONAT_MAX_ADDRS) n = AUTONAT_MAX_ADDRS;
    ProtobufCBinaryData bin[AUTONAT_MAX_ADDRS];
    Autonat__Pb__Message pb;
    Autonat__Pb__Message__Dial dial;
    Autonat__Pb__Message__PeerInfo info;
    autonat__pb__message__init(&pb);
    autonat__pb__message__dial__init(&dial);
    autonat__pb__message__peer_info__init(&info);
    pb.has_type = 1;
    pb.type = AUTONAT__PB__MESSAGE__MESSAGE_TYPE__DIAL;
    pb.dial = &dial;
    dial.peer = &info;
    info.has_id = 1;
    info.id.data = (uint8_t *)peer->bytes;
    info.id.len = peer->len;
    info.addrs = bin;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (addrs[i].len == 0) continue;
        bin[k].data = (uint8_t *)addrs[i].bytes;
        bin[k].len = addrs[i].len;
        info.n_addrs = k + 1;
        if (protobuf_c_message_get_packed_size(&pb.base) <= AUTONAT_SEND_MAX) k++;
    }
    info.n_addrs = k;
    if (dropped) *dropped = n - k;
    return frame(&pb.base, protobuf_c_message_get_packed_size(&pb.base), out, cap);
}

int autonat_encode_response(uint32_t status, const char *text, const p2p_multiaddr *addr, uint8_t *out,
                            size_t cap)
{
    if (status == AUTONAT_OK && (!addr || !addr->len)) return P2P_EINVAL;
    Autonat__Pb__Message pb;
    Autonat__Pb__Message__DialResponse resp;
    autonat__pb__message__init(&pb);
    autonat__pb__message__dial_response__init(&resp);
    pb.has_type = 1;
    pb.type = AUTONAT__PB__MESSAGE__MESSAGE_TYPE__DIAL_RESPONSE;
    pb.dialresponse = &resp;
    resp.has_status = 1;
    resp.status = (Autonat__Pb__Message__ResponseStatus)status;
    if (status == AUTONAT_OK) {
        resp.has_addr = 1;
        resp.addr.data = (uint8_t *)addr->bytes;
        resp.addr.len = addr->len;
    }
    /* The text is advice for logs: cut it (at a byte, UTF-8 permitting)
     * rather than exceed what rust-libp2p reads. */
    char t[AUTONAT_TEXT_MAX];
    if (text && *text) {
        size_t l = strlen(text);
        if (l >= sizeof t) l = sizeof t - 1;
        while (l && ((unsigned char)text[l] & 0xc0) == 0x80) l--;
        memcpy(t, text, l);
        t[l] = 0;
        resp.statustext = t;
    }
    return frame(&pb.base, protobuf_c_message_get_packed_size(&pb.base), out, cap);
}

/* Keep the text for logs: bounded, without control characters. */
static void copy_text(char *dst, const char *src)
{
    size_t l = strlen(src);
    if (l >= AUTONAT_TEXT_MAX) l = AUTONAT_TEXT_MAX - 1;
    while (l && ((unsigned char)src[l] & 0xc0) == 0x80) l--;
    for (size_t i = 0; i < l; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    dst[l] = 0;
}

int autonat_msg_decode(struct autonat_msg *m, const uint8_t *in, size_t len)
{
    memset(m, 0, sizeof *m);
    if (len > AUTONAT_MSG_MAX) return P2P_ERANGE;
    Autonat__Pb__Message *pb = autonat__pb__message__unpack(NULL, len, in);
    if (!pb) return P2P_EINVAL;
    int rc = 0;
    m->has_type = pb->has_type;
    m->type = pb->has_type ? (uint32_t)pb->type : AUTONAT_DIAL;
    if (m->type != AUTONAT_DIAL && m->type != AUTONAT_DIAL_RESPONSE) {
        rc = P2P_EINVAL;
        goto out;
    }
    if (pb->dial) {
        m->has_dial = true;
        Autonat__Pb__Message__PeerInfo *pi = pb->dial->peer;
        if (pi) {
            m->has_peer = true;
            m->has_id = pi->has_id;
            m->id_valid = pi->has_id && p2p_peerid_from_bytes(&m->id, pi->id.data, pi->id.len) == 0;
            for (size_t i = 0; i < pi->n_addrs; i++) {
                if (m->naddrs < AUTONAT_MAX_ADDRS &&
                    p2p_maddr_from_bytes(&m->addrs[m->naddrs], pi->addrs[i].data, pi->addrs[i].len, NULL, 0) == 0 &&
                    m->addrs[m->naddrs].len > 0)
                    m->naddrs++;
                else
                    m->nskipped++;
            }
        }
    }
    if (pb->dialresponse) {
        Autonat__Pb__Message__DialResponse *r = pb->dialresponse;
        m->has_response = true;
        m->has_status = r->has_status;
        m->status = r->has_status ? (uint32_t)r->status : AUTONAT_OK;
        if (r->statustext) copy_text(m->text, r->statustext);
        if (r->has_addr) {
            if (p2p_maddr_from_bytes(&m->addr, r->addr.data, r->addr.len, NULL, 0) == 0 && m->addr.len)
                m->has_addr = true;
            else
                m->bad_addr = true, m->addr.len = 0;
        }
    }
out:
    autonat__pb__message__free_unpacked(pb, NULL);
    return rc;
}

const char *autonat_status_name(uint32_t status)
{
    switch (status) {
    case AUTONAT_OK: return "OK";
    case AUTONAT_E_DIAL_ERROR: return "E_DIAL_ERROR";
    case AUTONAT_E_DIAL_REFUSED: return "E_DIAL_REFUSED";
    case AUTONAT_E_BAD_REQUEST: return "E_BAD_REQUEST";
    case AUTONAT_E_INTERNAL_ERROR: return "E_INTERNAL_ERROR";
    default: return "unknown status";
    }
}
