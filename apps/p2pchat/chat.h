/* chat.h - the chat front-end: rooms (gossipsub topics named exactly
 * like the room) joined through the pubsub service, commands, the
 * terminal interface (tui.c) or the JSON script mode, and the message
 * history (history.c). Lines are published as raw UTF-8. */
#ifndef P2PCHAT_CHAT_H
#define P2PCHAT_CHAT_H

#include "p2p/p2p.h"

struct chat;

/* Start the front-end on a started host with the validated [app chat]
 * section. The first room is [app chat] room. bootstrap addresses (with
 * /p2p/) are dialed at start and redialed while not connected. Returns
 * NULL with a sentence in err. */
struct chat *chat_start(p2p_host *h, const p2p_conf_section *app, char *err, size_t errlen);
/* Stop reading stdin, give the terminal back and release everything
 * (before p2p_host_stop). */
void chat_stop(struct chat *c);

#endif
