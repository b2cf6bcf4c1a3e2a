/* fuzz_dcutr_msg.c - the DCUtR codec (dcutr_msg.c) on arbitrary bytes:
 * framing of a byte stream into messages, decoding of each body (every
 * decoded message is re-encoded and decoded again to the same fields),
 * and the address policy and remote-address filter on what was decoded. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dcutr_addr.h"
#include "dcutr_msg.h"
#include "p2p/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dcutr_msg m1, m2;
static uint8_t buf[DCUTR_FRAME_MAX];

static void one(const uint8_t *body, size_t len)
{
    if (dcutr_msg_decode(&m1, body, len) != 0) return;
    if (m1.type != DCUTR_CONNECT && m1.type != DCUTR_SYNC) abort();
    if (m1.naddrs > DCUTR_MAX_ADDRS) abort();
    size_t dropped = 0;
    int n = dcutr_msg_encode(m1.type, m1.addrs, m1.naddrs, buf, sizeof buf, &dropped);
    if (n < 0) abort();
    size_t hdr, blen;
    if (dcutr_frame(buf, (size_t)n, &hdr, &blen) != 0 || hdr + blen != (size_t)n) abort();
    if (dcutr_msg_decode(&m2, buf + hdr, blen) != 0) abort();
    /* Decoded addresses came from at most 4 KiB, so they all fit again. */
    if (dropped || m2.type != m1.type || m2.naddrs != m1.naddrs || m2.nskipped) abort();
    for (size_t i = 0; i < m1.naddrs; i++)
        if (!p2p_maddr_equal(&m1.addrs[i], &m2.addrs[i])) abort();
    static const char *const items[] = { "public", "loopback", "198.18.0.0/15", "fd00::/8" };
    struct p2p_addr_policy p;
    if (p2p_addr_policy_parse(&p, items, 4, NULL, 0) != 0) abort();
    p2p_multiaddr out[DCUTR_MAX_ADDRS];
    size_t k = dcutr_remote_addrs(&p, m1.addrs, m1.naddrs, out, DCUTR_MAX_ADDRS);
    if (k > m1.naddrs) abort();
    for (size_t i = 0; i < k; i++)
        if (!p2p_addr_policy_allows(&p, &out[i]) || p2p_maddr_is_relayed(&out[i])) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The input as a stream of frames, then as one body. */
    size_t off = 0;
    while (off < size) {
        size_t hdr, body;
        int rc = dcutr_frame(data + off, size - off, &hdr, &body);
        if (rc != 0) {
            if (rc != P2P_ETRUNC && rc != P2P_ERANGE && rc != P2P_EPROTO) abort();
            break;
        }
        if (body > DCUTR_MSG_MAX) abort();
        one(data + off + hdr, body);
        off += hdr + body;
    }
    one(data, size);
    return 0;
}
