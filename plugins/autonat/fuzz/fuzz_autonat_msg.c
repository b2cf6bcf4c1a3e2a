/* fuzz_autonat_msg.c - the AutoNAT codec (autonat_msg.c) on arbitrary
 * bytes: framing of a byte stream into messages, decoding of each body
 * (a decoded DIAL or DIAL_RESPONSE is re-encoded and decoded again to the
 * same fields), and the server's dial-back policy on what was decoded
 * (every address it would dial has the observed IP). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autonat_msg.h"
#include "autonat_policy.h"
#include "p2p/error.h"
#include "p2p/varint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct autonat_msg m1, m2;
static uint8_t buf[AUTONAT_SEND_FRAME_MAX];

static void check_policy(const struct autonat_msg *m)
{
    static const char *const items[] = { "public", "loopback", "198.18.0.0/15" };
    struct p2p_addr_policy pol;
    if (p2p_addr_policy_parse(&pol, items, 3, NULL, 0) != 0) abort();
    p2p_multiaddr obs, out[AUTONAT_MAX_ADDRS];
    if (p2p_maddr_parse(&obs, "/ip4/198.18.0.7/tcp/40000", NULL, 0) != 0) abort();
    /* The requester is whoever the message names (or a fixed one). */
    p2p_peerid req = m->id;
    if (!m->id_valid && p2p_peerid_parse(&req, "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo") != 0) abort();
    size_t n = 0;
    const char *why = NULL;
    uint32_t st = autonat_dialback_addrs(&pol, 8, &req, &obs, false, m, out, &n, &why);
    if (st == AUTONAT_OK) {
        if (!n || n > 8 || why) abort();
    } else if (n || !why || (st != AUTONAT_E_BAD_REQUEST && st != AUTONAT_E_DIAL_REFUSED)) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *ip;
        if (p2p_maddr_ip(&out[i], &ip) != 4 || memcmp(ip, "\xc6\x12\x00\x07", 4) || p2p_maddr_is_relayed(&out[i]))
            abort();
    }
}

static void one(const uint8_t *body, size_t len)
{
    if (autonat_msg_decode(&m1, body, len) != 0) return;
    if (m1.naddrs > AUTONAT_MAX_ADDRS || strlen(m1.text) >= AUTONAT_TEXT_MAX) abort();
    if (m1.type == AUTONAT_DIAL) check_policy(&m1);
    int n;
    if (m1.type == AUTONAT_DIAL && m1.id_valid) {
        size_t dropped = 0;
        n = autonat_encode_dial(&m1.id, m1.addrs, m1.naddrs, buf, sizeof buf, &dropped);
        if (n < 0) abort();
        size_t hdr, blen;
        if (p2p_varint_frame(buf, (size_t)n, AUTONAT_SEND_MAX, &hdr, &blen) != 0) abort();
        if (autonat_msg_decode(&m2, buf + hdr, blen) != 0) abort();
        if (m2.type != AUTONAT_DIAL || !m2.id_valid || !p2p_peerid_equal(&m1.id, &m2.id)) abort();
        if (m2.naddrs + dropped != m1.naddrs || m2.nskipped) abort();
        for (size_t i = 0; i < m2.naddrs; i++)
            if (!p2p_maddr_equal(&m1.addrs[i], &m2.addrs[i])) abort();
    } else if (m1.type == AUTONAT_DIAL_RESPONSE && m1.has_response) {
        bool ok = m1.status == AUTONAT_OK;
        if (ok && !m1.has_addr) return;
        n = autonat_encode_response(m1.status, m1.text, ok ? &m1.addr : NULL, buf, sizeof buf);
        if (n < 0) abort();
        size_t hdr, blen;
        if (p2p_varint_frame(buf, (size_t)n, AUTONAT_SEND_MAX, &hdr, &blen) != 0) abort();
        if (autonat_msg_decode(&m2, buf + hdr, blen) != 0) abort();
        if (m2.type != AUTONAT_DIAL_RESPONSE || m2.status != m1.status || strcmp(m2.text, m1.text)) abort();
        if (ok != m2.has_addr || (ok && !p2p_maddr_equal(&m1.addr, &m2.addr))) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The input as a stream of frames, then as one body. */
    size_t off = 0;
    while (off < size) {
        size_t hdr, body;
        int rc = p2p_varint_frame(data + off, size - off, AUTONAT_MSG_MAX, &hdr, &body);
        if (rc != 0) {
            if (rc != P2P_ETRUNC && rc != P2P_ERANGE && rc != P2P_EPROTO) abort();
            break;
        }
        if (body > AUTONAT_MSG_MAX) abort();
        one(data + off + hdr, body);
        off += hdr + body;
    }
    one(data, size);
    return 0;
}
