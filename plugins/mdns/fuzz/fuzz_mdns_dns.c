/* fuzz_mdns_dns.c - the mDNS message decoder and what the discovery logic
 * does with a decoded message.
 *
 * Every input is parsed with the default limits. When it parses, the
 * result is checked (names well-formed and within 255 bytes, labels within
 * 63, record data and TXT strings inside the input), every name is written
 * back with compression and must read back equal, and the message is fed
 * to a fresh mdns_logic (as a datagram on a known interface) followed by
 * ticks, which must stay within its limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mdns_dns.h"
#include "mdns_logic.h"
#include "p2p/p2p.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const struct mdns_name *n)
{
    if (n->len == 0 || n->len > MDNS_NAME_MAX) abort();
    size_t i = 0;
    while (n->wire[i]) {
        if (n->wire[i] > MDNS_LABEL_MAX) abort();
        i += 1 + (size_t)n->wire[i];
        if (i >= n->len) abort();
    }
    if (i + 1 != n->len) abort();
    char text[MDNS_NAME_TEXT_MAX];
    mdns_name_to_text(n, text, sizeof text);
    if (strlen(text) >= sizeof text) abort();
}

struct sink {
    size_t sent, reports;
};

static void s_send(void *arg, uint32_t iface, const uint8_t *pkt, size_t len)
{
    struct sink *s = arg;
    (void)iface;
    (void)pkt;
    if (len > 1400) abort();
    s->sent++;
}

static size_t s_own(void *arg, p2p_multiaddr *out, size_t max)
{
    (void)arg;
    if (max) p2p_maddr_parse(&out[0], "/ip4/198.18.0.2/tcp/4001", NULL, 0);
    return 1;
}

static void s_disc(void *arg, enum mdns_report kind, const p2p_peerid *peer, const p2p_multiaddr *addrs, size_t n,
                   uint64_t ttl_ms)
{
    struct sink *s = arg;
    (void)kind;
    (void)peer;
    (void)addrs;
    if (n == 0 || n > 16 || ttl_ms == 0 || ttl_ms > 3600000) abort();
    s->reports++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mdns_limits lim = MDNS_LIMITS_DEFAULT;
    struct mdns_msg *m = mdns_msg_new(&lim);
    if (!m) return 0;
    if (mdns_msg_parse(m, data, size) == 0) {
        if (m->nq > lim.max_questions || m->nr > lim.max_records || m->ntxt > lim.max_txt_strings) abort();
        for (size_t i = 0; i < m->nq; i++) check_name(&m->q[i].name);
        for (size_t i = 0; i < m->nr; i++) {
            const struct mdns_record *r = &m->r[i];
            check_name(&r->name);
            if ((size_t)r->rdoff + r->rdlen > size) abort();
            if (r->type == MDNS_T_PTR) check_name(&r->u.target);
            if (r->type == MDNS_T_SRV) check_name(&r->u.srv.target);
            if (r->type == MDNS_T_TXT)
                for (uint32_t k = 0; k < r->u.txt.count; k++) {
                    size_t l;
                    const uint8_t *s = mdns_msg_txt(m, r, k, &l);
                    if (s < data || s + l > data + size) abort();
                }
        }
        /* Names written back with compression read back equal. */
        uint8_t out[MDNS_PACKET_MAX];
        struct mdns_writer w;
        mdns_writer_init(&w, out, sizeof out);
        mdns_write_header(&w, 0, 0, (uint16_t)m->nq, 0, 0, 0);
        for (size_t i = 0; i < m->nq; i++) {
            mdns_write_name(&w, &m->q[i].name, true);
            mdns_write_u16(&w, m->q[i].type);
            mdns_write_u16(&w, m->q[i].qclass);
        }
        if (mdns_writer_ok(&w)) {
            struct mdns_msg *m2 = mdns_msg_new(&lim);
            if (m2) {
                if (mdns_msg_parse(m2, out, w.len) != 0 || m2->nq != m->nq) abort();
                for (size_t i = 0; i < m->nq; i++)
                    if (!mdns_name_equal(&m->q[i].name, &m2->q[i].name)) abort();
                mdns_msg_free(m2);
            }
        }
    }
    mdns_msg_free(m);

    struct sink sink = { 0 };
    struct mdns_logic_config cfg;
    mdns_logic_config_default(&cfg);
    cfg.query_interval_ms = 1000;
    struct mdns_logic_cbs cbs = { .send = s_send, .own_addrs = s_own, .discovered = s_disc, .arg = &sink };
    static p2p_peerid me;            /* computed once: key derivation is slow */
    if (!me.len) {
        p2p_keypair kp;
        p2p_pubkey pub;
        p2p_keypair_from_seed_byte(&kp, 1);
        p2p_keypair_public(&kp, &pub);
        p2p_peerid_from_pubkey(&me, &pub);
    }
    struct mdns_logic *lg = mdns_logic_new(&cfg, &me, 7, &cbs);
    if (!lg) return 0;
    static const uint8_t ip[4] = { 198, 18, 0, 2 };
    mdns_logic_iface_up(lg, 1, MDNS_V4, ip, 0);
    mdns_logic_on_packet(lg, 1, data, size, 10);
    mdns_logic_on_packet(lg, 1, data, size, 2000000);
    for (uint64_t t = 0; t < 4000000; t += 500000) mdns_logic_tick(lg, t);
    if (mdns_logic_peer_count(lg) > cfg.max_peers) abort();
    mdns_logic_free(lg);
    return 0;
}
