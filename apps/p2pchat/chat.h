/* chat.h - the chat front-end: one room (a gossipsub topic named exactly
 * like the room) joined through the pubsub service; lines from stdin are
 * published as raw UTF-8, messages from the room are printed. */
#ifndef P2PCHAT_CHAT_H
#define P2PCHAT_CHAT_H

#include "p2p/p2p.h"

struct chat;

/* Start the front-end on a started host. room is copied. bootstrap
 * addresses (with /p2p/) are dialed at start and redialed while not
 * connected. Returns NULL with a sentence in err. */
struct chat *chat_start(p2p_host *h, const p2p_conf_section *app, char *err, size_t errlen);
/* Stop reading stdin and release everything (before p2p_host_stop). */
void chat_stop(struct chat *c);

#endif
