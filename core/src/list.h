/* list.h - intrusive doubly-linked list in the style of the Linux kernel. */
#ifndef P2P_LIST_H
#define P2P_LIST_H

#include <stddef.h>

struct p2p_list {
    struct p2p_list *next, *prev;
};

#define P2P_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void p2p_list_init(struct p2p_list *l) { l->next = l->prev = l; }
static inline int p2p_list_empty(const struct p2p_list *l) { return l->next == l; }
static inline void p2p_list_add_tail(struct p2p_list *l, struct p2p_list *n)
{
    n->prev = l->prev;
    n->next = l;
    l->prev->next = n;
    l->prev = n;
}
static inline void p2p_list_del(struct p2p_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}
#define p2p_list_for_each_safe(pos, tmp, head) \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
