/* nick.h - nicknames other p2pchat users announced (docs/DESIGN.md,
 * "Nicknames"): a bounded table PeerId -> name; when full, the entry
 * used least recently is replaced. No I/O. */
#ifndef P2PCHAT_NICK_H
#define P2PCHAT_NICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd.h"
#include "p2p/peerid.h"

/* The gossipsub topic on which p2pchat peers announce their nickname:
 * the message is the name as raw UTF-8 (1..CHAT_NICK_MAX bytes), signed
 * by its author like every chat message. */
#define NICK_TOPIC "p2pchat/nick/1"

struct nick_entry {
    p2p_peerid peer;
    char name[CHAT_NICK_MAX + 1];
    uint64_t used;
};

struct nick_table {
    struct nick_entry *e;
    size_t n, cap;
    uint64_t tick;
};

/* cap entries at most (> 0). 0 or -1 (out of memory). */
int nick_table_init(struct nick_table *t, size_t cap);
void nick_table_free(struct nick_table *t);
/* Record peer's announced name. Returns 1 when the name is new or
 * changed, 0 when unchanged, -1 when it is not a valid nickname. */
int nick_table_set(struct nick_table *t, const p2p_peerid *peer, const uint8_t *name, size_t len);
/* The name of peer, or NULL. */
const char *nick_table_get(struct nick_table *t, const p2p_peerid *peer);

#endif
