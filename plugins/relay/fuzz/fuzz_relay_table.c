/* fuzz_relay_table.c - the relay server's table (relay_table.c) driven by
 * arbitrary operation sequences (reserve, circuit open/close, connection
 * closed, expiry, time steps) with small limits; after every step the
 * limits must hold and lookups must agree with the table. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"
#include "relay_msg.h"
#include "relay_table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPEERS 8
#define NIPS 4

static p2p_peerid peer(unsigned i)
{
    /* Distinct byte strings are all the table looks at. */
    p2p_peerid id;
    memset(&id, 0, sizeof id);
    id.len = 34;
    id.bytes[0] = 0x12;
    id.bytes[1] = 0x20;
    id.bytes[2] = (uint8_t)i;
    return id;
}

static void check(const struct relay_table *t, uint64_t now)
{
    const struct relay_limits *l = &t->lim;
    if (t->nrsvps > l->max_reservations || t->ncircs > l->max_circuits) abort();
    for (unsigned p = 0; p < NPEERS; p++) {
        p2p_peerid id = peer(p);
        size_t n = 0;
        bool live = false;
        for (size_t i = 0; i < t->nrsvps; i++) {
            if (!p2p_peerid_equal(&t->rsvps[i].peer, &id)) continue;
            n++;
            if (t->rsvps[i].expire_ms > now) live = true;
            for (size_t j = i + 1; j < t->nrsvps; j++)
                if (t->rsvps[j].conn_id == t->rsvps[i].conn_id && p2p_peerid_equal(&t->rsvps[j].peer, &id))
                    abort();   /* one reservation per (peer, connection) */
        }
        if (n > l->max_reservations_per_peer) abort();
        uint64_t conn;
        if (relay_table_lookup(t, &id, now, &conn) != live) abort();
        if (live && !relay_table_has(t, &id, conn, now)) abort();
        if (relay_table_peer_circuits(t, &id) > l->max_circuits_per_peer) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    struct relay_limits l = {
        .max_reservations = data[0] % 8,
        .max_reservations_per_peer = 1 + data[1] % 3,
        .max_reservations_per_ip = data[2] % 4,
        .reservation_ttl_ms = 1 + data[3] * 10u,
        .max_circuits = data[0] >> 4,
        .max_circuits_per_peer = 1 + (data[1] >> 4) % 3,
        .rate_per_peer = (data[2] >> 4) % 4,
        .rate_per_peer_interval_ms = 50,
        .rate_per_ip = (data[3] >> 4) % 6,
        .rate_per_ip_interval_ms = 20,
        .rate_keys = 2 + data[1] % 8,     /* small: eviction is reached */
    };
    struct relay_table t;
    if (relay_table_init(&t, &l) != 0) return 0;
    uint64_t now = 0, open[64];
    size_t nopen = 0;
    for (size_t i = 4; i + 1 < size && i < 4 + 2 * 400; i += 2) {   /* at most 400 steps */
        uint8_t op = data[i], arg = data[i + 1];
        p2p_peerid a = peer(arg % NPEERS), b = peer((arg >> 3) % NPEERS);
        struct relay_ip ip = { .len = 4, .b = { 10, 0, 0, (uint8_t)(arg >> 6) } };
        uint64_t conn = (op >> 3) % 6, id, exp;
        bool renewed;
        int st;
        switch (op % 6) {
        case 0:
            st = relay_table_reserve(&t, &a, conn, &ip, now, &exp, &renewed);
            if (st == RELAY_STATUS_OK && (exp != now + l.reservation_ttl_ms || !relay_table_has(&t, &a, conn, now)))
                abort();
            if (st != RELAY_STATUS_OK && st != RELAY_STATUS_RESERVATION_REFUSED) abort();
            break;
        case 1:
            st = relay_table_circuit_open(&t, &a, &ip, &b, now, &id);
            if (st == RELAY_STATUS_OK && nopen < 64) open[nopen++] = id;
            else if (st != RELAY_STATUS_OK && st != RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED) abort();
            break;
        case 2:
            if (nopen) {
                size_t k = arg % nopen;
                relay_table_circuit_close(&t, open[k]);
                open[k] = open[--nopen];
            }
            break;
        case 3:
            relay_table_conn_closed(&t, conn);
            break;
        case 4: {
            uint64_t next;
            relay_table_expire(&t, now, &next);
            if (next && next <= now) abort();
            break;
        }
        default:
            now += arg;
            break;
        }
        check(&t, now);
    }
    relay_table_free(&t);
    return 0;
}
