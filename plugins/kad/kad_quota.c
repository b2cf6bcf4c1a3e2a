/* kad_quota.c - entries per peer and the fair-room rule (see kad_quota.h). */
#include "kad_quota.h"

#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"

void kad_quota_free(struct kad_quota *q)
{
    free(q->pc);
    q->pc = NULL;
    q->npc = q->pc_cap = 0;
}

static int pc_cmp(const p2p_peerid *a, const p2p_peerid *b)
{
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return memcmp(a->bytes, b->bytes, a->len);
}

/* The index of id, or of where it would go (*found false). */
static size_t pc_find(const struct kad_quota *q, const p2p_peerid *id, bool *found)
{
    size_t lo = 0, hi = q->npc;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = pc_cmp(&q->pc[mid].id, id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = false;
    return lo;
}

size_t kad_quota_of(const struct kad_quota *q, const p2p_peerid *id)
{
    bool found;
    size_t i = pc_find(q, id, &found);
    return found ? q->pc[i].n : 0;
}

bool kad_quota_at_limit(const struct kad_quota *q, const p2p_peerid *id)
{
    return q->max_per_peer && kad_quota_of(q, id) >= q->max_per_peer;
}

int kad_quota_inc(struct kad_quota *q, const p2p_peerid *id)
{
    bool found;
    size_t i = pc_find(q, id, &found);
    if (found) {
        q->pc[i].n++;
        return 0;
    }
    if (q->npc == q->pc_cap) {
        size_t cap = q->pc_cap ? q->pc_cap * 2 : 16;
        struct kad_pcount *n = realloc(q->pc, cap * sizeof *n);
        if (!n) return P2P_ENOMEM;
        q->pc = n;
        q->pc_cap = cap;
    }
    memmove(&q->pc[i + 1], &q->pc[i], (q->npc - i) * sizeof *q->pc);
    q->pc[i] = (struct kad_pcount){ .id = *id, .n = 1 };
    q->npc++;
    return 0;
}

void kad_quota_dec(struct kad_quota *q, const p2p_peerid *id)
{
    bool found;
    size_t i = pc_find(q, id, &found);
    if (!found) return;
    if (--q->pc[i].n) return;
    memmove(&q->pc[i], &q->pc[i + 1], (q->npc - i - 1) * sizeof *q->pc);
    q->npc--;
}

bool kad_quota_victim(const struct kad_quota *q, size_t than, p2p_peerid *victim)
{
    size_t top = q->npc;
    for (size_t i = 0; i < q->npc; i++)
        if (top == q->npc || q->pc[i].n > q->pc[top].n) top = i;
    if (top == q->npc || q->pc[top].n < than + 2) return false;
    *victim = q->pc[top].id;
    return true;
}
