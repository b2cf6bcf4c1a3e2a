/* gs_mcache.h - the message cache and the seen cache (gossipsub v1.0
 * "Message Cache"), without I/O.
 *
 * Message cache: the messages of the last `history` heartbeat windows,
 * by id, for answering IWANT; the ids of the last `gossip` windows are
 * advertised in IHAVE. shift() at every heartbeat drops the oldest
 * window. Bounded by max_entries and max_bytes (of encoded messages): a
 * message that does not fit is simply not cached (it is still delivered and forwarded, only not gossiped).
 * Every entry counts how often each peer asked for it with IWANT (v1.1:
 * at most gossip_retransmission answers per peer and message).
 *
 * Seen cache: ids of messages seen in the last ttl milliseconds
 * (first-seen expiry: re-seeing a message does not extend it), FIFO,
 * bounded by max_entries (the oldest is forgotten first). */
#ifndef GS_MCACHE_H
#define GS_MCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gs_msg.h"
#include "gs_util.h"

#define GS_MCACHE_MAX_REQUESTERS 32   /* distinct IWANT askers tracked per message */

struct gs_mcache_entry;

struct gs_mcache {
    struct gs_map map;                 /* id -> entry */
    struct gs_mcache_entry **windows;  /* windows[i]: list of entries, 0 = newest */
    size_t history, gossip;
    size_t n, max_entries;
    size_t bytes, max_bytes;
};

void gs_mcache_init(struct gs_mcache *mc, size_t history, size_t gossip, size_t max_entries, size_t max_bytes,
                    const uint8_t hkey[GS_HASHKEY_LEN]);
void gs_mcache_free(struct gs_mcache *mc);
/* Cache m (takes a reference): 0, P2P_EEXIST, P2P_ELIMIT (full), P2P_ENOMEM. */
int gs_mcache_put(struct gs_mcache *mc, struct gs_msg *m);
/* The cached message, or NULL (borrowed). */
struct gs_msg *gs_mcache_get(const struct gs_mcache *mc, const uint8_t *id, size_t len);
/* For an IWANT of peer `serial`: the message and how many times this
 * peer has now asked for it (*count, including this time), or NULL when
 * not cached or the peer cannot be tracked. */
struct gs_msg *gs_mcache_get_for_peer(struct gs_mcache *mc, const uint8_t *id, size_t len, uint32_t serial,
                                      unsigned *count);
/* Messages of topic in the gossip windows, newest first: fills at most
 * max (borrowed pointers, valid until the next put/shift); returns the
 * number written. */
size_t gs_mcache_gossip(const struct gs_mcache *mc, const char *topic, struct gs_msg **out, size_t max);
void gs_mcache_shift(struct gs_mcache *mc);

struct gs_seen_node;

struct gs_seen {
    struct gs_map map;
    struct gs_seen_node *head, *tail;  /* oldest first */
    size_t n, max_entries;
    uint64_t ttl_ms;
};

void gs_seen_init(struct gs_seen *s, uint64_t ttl_ms, size_t max_entries, const uint8_t hkey[GS_HASHKEY_LEN]);
void gs_seen_free(struct gs_seen *s);
bool gs_seen_has(const struct gs_seen *s, const uint8_t *id, size_t len);
/* 0 (added), P2P_EEXIST, P2P_ENOMEM. Expires old entries first. */
int gs_seen_add(struct gs_seen *s, const uint8_t *id, size_t len, uint64_t now_ms);
void gs_seen_expire(struct gs_seen *s, uint64_t now_ms);

#endif
