/* fuzz_identify_msg.c - the identify stream reader and message decoder
 * (identify_msg.c) on arbitrary bytes: the input is a whole /ipfs/id
 * stream, fed in pieces whose sizes come from the first byte; decoded
 * messages are re-encoded (in one part, and split under a small size
 * limit) and decoded again, a signedPeerRecord is opened and checked
 * against the sender, and the address helpers run on what was decoded.
 * Small limits make every limit reachable. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "identify_msg.h"
#include "p2p/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = (size_t)(data[0] % 64) + 1;
    data++;
    size--;
    struct id_limits lim = { 2048, 4, 8, 16 };
    struct id_info info;
    struct id_reader r;
    id_info_init(&info);
    id_reader_init(&r, &info, &lim);
    int rc = 0;
    for (size_t off = 0; off < size && rc == 0; off += step)
        rc = id_reader_feed(&r, data + off, size - off < step ? size - off : step);
    if (rc == 0) rc = id_reader_finish(&r);
    id_reader_free(&r);

    /* Invariants of whatever was decoded. */
    if (info.n_listen_addrs > lim.max_addrs || info.n_protocols > lim.max_protocols) __builtin_trap();
    for (size_t i = 0; i < info.n_protocols; i++)
        if (!info.protocols[i][0] || strlen(info.protocols[i]) > ID_PROTOCOL_MAX) __builtin_trap();
    if (strlen(info.agent_version) > ID_STR_MAX || strlen(info.protocol_version) > ID_STR_MAX) __builtin_trap();

    if (info.has_signed_peer_record && (!info.signed_peer_record || info.signed_peer_record_len > lim.max_message_size))
        __builtin_trap();

    if (rc == 0 && info.has_signed_peer_record) {
        /* The record against the sender (the key it sent, or a fixed peer). */
        p2p_peerid peer;
        p2p_keypair kp;
        p2p_pubkey pub;
        if (info.has_public_key) {
            pub = info.public_key;
        } else {
            p2p_keypair_from_seed_byte(&kp, 1);
            p2p_keypair_public(&kp, &pub);
        }
        static p2p_peer_record rec;   /* ~16.5 KiB */
        if (p2p_peerid_from_pubkey(&peer, &pub) == 0) {
            int orc = id_info_open_record(&info, &peer, NULL, &rec);
            if (orc == 0 && (!p2p_peerid_equal(&rec.id, &peer) || rec.naddrs > P2P_PEER_RECORD_MAX_ADDRS))
                __builtin_trap();
            if (orc < 0 && (rec.naddrs || rec.seq)) __builtin_trap();   /* zeroed on error */
            if (orc == 0) {
                size_t k = id_filter_received(rec.addrs, rec.naddrs, &rec.addrs[0]);
                if (k > rec.naddrs) __builtin_trap();
            }
        }
    }

    if (rc == 0) {
        /* Re-encode and decode: the same content comes back. */
        p2p_buf b;
        p2p_buf_init(&b, 0);
        struct id_out m = {
            .protocol_version = info.has_protocol_version ? info.protocol_version : NULL,
            .agent_version = info.has_agent_version ? info.agent_version : NULL,
            .public_key = info.has_public_key ? &info.public_key : NULL,
            .listen_addrs = info.listen_addrs,
            .n_listen_addrs = info.n_listen_addrs,
            .observed_addr = info.has_observed_addr ? &info.observed_addr : NULL,
            .protocols = (const char *const *)info.protocols,
            .n_protocols = info.n_protocols,
            .signed_peer_record = info.signed_peer_record,
            .signed_peer_record_len = info.signed_peer_record_len,
        };
        struct id_encoded enc;
        if (id_msg_encode(&m, 1u << 20, &b, &enc) >= 0) {
            if (enc.dropped || enc.record != (info.has_signed_peer_record ? ID_RECORD_INLINE : ID_RECORD_NONE))
                __builtin_trap();
            struct id_info again;
            id_info_init(&again);
            struct id_limits big = { 1u << 20, 1, 1024, 1024 };
            struct id_reader r2;
            id_reader_init(&r2, &again, &big);
            if (id_reader_feed(&r2, p2p_buf_head(&b), b.len) != 0 || id_reader_finish(&r2) != 0) __builtin_trap();
            if (again.n_listen_addrs != info.n_listen_addrs || again.n_protocols != info.n_protocols ||
                again.has_public_key != info.has_public_key || again.has_observed_addr != info.has_observed_addr)
                __builtin_trap();
            for (size_t i = 0; i < info.n_protocols; i++)
                if (strcmp(again.protocols[i], info.protocols[i])) __builtin_trap();
            if (again.signed_peer_record_len != info.signed_peer_record_len ||
                (info.signed_peer_record_len &&
                 memcmp(again.signed_peer_record, info.signed_peer_record, info.signed_peer_record_len)))
                __builtin_trap();
            id_reader_free(&r2);
            id_info_clear(&again);
        }
        /* Under a small limit: parts within it, the record where said. */
        p2p_buf_reset(&b);
        const size_t small = 256;
        if (id_msg_encode(&m, small, &b, &enc) >= 0) {
            struct id_info again;
            id_info_init(&again);
            struct id_limits lim2 = { small, 2, 1024, 1024 };
            struct id_reader r2;
            id_reader_init(&r2, &again, &lim2);
            if (id_reader_feed(&r2, p2p_buf_head(&b), b.len) != 0 || id_reader_finish(&r2) != 0) __builtin_trap();
            if (r2.messages != (enc.record == ID_RECORD_SEPARATE ? 2u : 1u)) __builtin_trap();
            bool want = enc.record == ID_RECORD_INLINE || enc.record == ID_RECORD_SEPARATE;
            if (again.has_signed_peer_record != want) __builtin_trap();
            if (want && (again.signed_peer_record_len != info.signed_peer_record_len ||
                         (info.signed_peer_record_len && memcmp(again.signed_peer_record, info.signed_peer_record,
                                                                info.signed_peer_record_len))))
                __builtin_trap();
            if (again.n_listen_addrs + again.n_protocols + enc.dropped != info.n_listen_addrs + info.n_protocols)
                __builtin_trap();
            id_reader_free(&r2);
            id_info_clear(&again);
        }
        p2p_buf_free(&b);
        if (info.has_observed_addr) {
            (void)id_addr_shareable(&info.observed_addr, &info.observed_addr, &info.observed_addr);
            size_t k = id_filter_received(info.listen_addrs, info.n_listen_addrs, &info.observed_addr);
            if (k > info.n_listen_addrs) __builtin_trap();
        }
    }
    id_info_clear(&info);
    return 0;
}
