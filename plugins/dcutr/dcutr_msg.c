/* dcutr_msg.c - see dcutr_msg.h. */
#include <string.h>

#include "dcutr_msg.h"
#include "holepunch.pb-c.h"
#include "p2p/error.h"
#include "p2p/varint.h"

int dcutr_frame(const uint8_t *in, size_t len, size_t *hdr, size_t *body)
{
    return p2p_varint_frame(in, len, DCUTR_MSG_MAX, hdr, body);
}

int dcutr_msg_encode(uint32_t type, const p2p_multiaddr *addrs, size_t naddrs, uint8_t *out, size_t cap,
                     size_t *dropped)
{
    if (type != DCUTR_CONNECT && type != DCUTR_SYNC) return P2P_EINVAL;
    if (naddrs > DCUTR_MAX_ADDRS) naddrs = DCUTR_MAX_ADDRS;
    ProtobufCBinaryData bin[DCUTR_MAX_ADDRS];
    Holepunch__Pb__HolePunch pb;
    holepunch__pb__hole_punch__init(&pb);
    pb.has_type = 1;
    pb.type = (Holepunch__Pb__HolePunch__Type)type;
    pb.obsaddrs = bin;
    size_t n = 0;
    for (size_t i = 0; i < naddrs; i++) {
        bin[n].data = (uint8_t *)addrs[i].bytes;
        bin[n].len = addrs[i].len;
        pb.n_obsaddrs = n + 1;
        if (addrs[i].len == 0 || protobuf_c_message_get_packed_size(&pb.base) > DCUTR_MSG_MAX) continue;
        n++;
    }
    pb.n_obsaddrs = n;
    if (dropped) *dropped = naddrs - n;
    size_t len = protobuf_c_message_get_packed_size(&pb.base);
    uint8_t hdr[P2P_VARINT_MAX_BYTES];
    int h = p2p_varint_encode(len, hdr);
    if (h < 0 || (size_t)h + len > cap) return P2P_ERANGE;
    memcpy(out, hdr, (size_t)h);
    protobuf_c_message_pack(&pb.base, out + h);
    return (int)((size_t)h + len);
}

int dcutr_msg_decode(struct dcutr_msg *m, const uint8_t *in, size_t len)
{
    m->type = 0;
    m->naddrs = 0;
    m->nskipped = 0;
    if (len > DCUTR_MSG_MAX) return P2P_ERANGE;
    Holepunch__Pb__HolePunch *pb = holepunch__pb__hole_punch__unpack(NULL, len, in);
    if (!pb) return P2P_EINVAL;
    int rc = 0;
    uint32_t type = (uint32_t)pb->type;
    if (!pb->has_type || (type != DCUTR_CONNECT && type != DCUTR_SYNC)) {
        rc = P2P_EINVAL;
    } else {
        m->type = type;
        for (size_t i = 0; i < pb->n_obsaddrs; i++) {
            if (m->naddrs < DCUTR_MAX_ADDRS &&
                p2p_maddr_from_bytes(&m->addrs[m->naddrs], pb->obsaddrs[i].data, pb->obsaddrs[i].len, NULL, 0) == 0 &&
                m->addrs[m->naddrs].len > 0)
                m->naddrs++;
            else
                m->nskipped++;
        }
    }
    holepunch__pb__hole_punch__free_unpacked(pb, NULL);
    if (rc) {
        m->type = 0;
        m->naddrs = m->nskipped = 0;
    }
    return rc;
}

const char *dcutr_type_name(uint32_t type)
{
    switch (type) {
    case DCUTR_CONNECT: return "CONNECT";
    case DCUTR_SYNC: return "SYNC";
    default: return "unknown";
    }
}
