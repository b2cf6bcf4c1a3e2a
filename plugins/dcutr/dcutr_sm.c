/* dcutr_sm.c - see dcutr_sm.h. */
#include <string.h>

#include "dcutr_sm.h"

void dcutr_sm_init(struct dcutr_sm *m, bool initiator, unsigned max_attempts, uint64_t msg_timeout)
{
    memset(m, 0, sizeof *m);
    m->initiator = initiator;
    m->max_attempts = max_attempts ? max_attempts : 1;
    m->msg_timeout = msg_timeout;
}

static enum dcutr_action fail(struct dcutr_sm *m, const char *why)
{
    m->st = DCUTR_ST_FAILED;
    m->why = why;
    m->deadline = 0;
    return DCUTR_ACT_FAIL;
}

static enum dcutr_action success(struct dcutr_sm *m)
{
    m->st = DCUTR_ST_DONE;
    m->deadline = 0;
    return DCUTR_ACT_SUCCESS;
}

/* Initiator: the next attempt's CONNECT. */
static enum dcutr_action send_connect(struct dcutr_sm *m, uint64_t now)
{
    m->attempt++;
    m->st = DCUTR_ST_CONNECT_SENT;
    m->sent_at = now;
    m->deadline = now + m->msg_timeout;
    m->nremote = 0;
    return DCUTR_ACT_SEND_CONNECT;
}

bool dcutr_sm_finished(const struct dcutr_sm *m)
{
    return m->st == DCUTR_ST_DONE || m->st == DCUTR_ST_FAILED;
}

enum dcutr_action dcutr_sm_start(struct dcutr_sm *m, uint64_t now, bool direct)
{
    if (m->st != DCUTR_ST_IDLE) return DCUTR_ACT_NONE;
    if (!m->initiator) {
        m->st = DCUTR_ST_WAIT_CONNECT;
        m->deadline = now + m->msg_timeout;
        return DCUTR_ACT_NONE;
    }
    if (direct) {
        m->st = DCUTR_ST_DIRECT;
        return DCUTR_ACT_DIAL_DIRECT;
    }
    return send_connect(m, now);
}

static void keep_addrs(struct dcutr_sm *m, const p2p_multiaddr *addrs, size_t n)
{
    m->nremote = n < DCUTR_MAX_ADDRS ? n : DCUTR_MAX_ADDRS;
    if (m->nremote) memcpy(m->remote, addrs, m->nremote * sizeof *addrs);
}

enum dcutr_action dcutr_sm_on_msg(struct dcutr_sm *m, uint64_t now, uint32_t type, const p2p_multiaddr *addrs,
                                  size_t naddrs)
{
    if (dcutr_sm_finished(m)) return DCUTR_ACT_NONE;
    if (m->initiator) {
        if (m->st != DCUTR_ST_CONNECT_SENT) return fail(m, "unexpected message");
        if (type != DCUTR_CONNECT) return fail(m, "expected CONNECT");
        if (!naddrs) return fail(m, "the peer's CONNECT has no address we may dial");
        keep_addrs(m, addrs, naddrs);
        m->rtt = now >= m->sent_at ? now - m->sent_at : 0;
        m->dial_at = now + m->rtt / 2;
        m->st = DCUTR_ST_SYNC_WAIT;
        m->deadline = 0;
        return DCUTR_ACT_SEND_SYNC;
    }
    switch (m->st) {
    case DCUTR_ST_WAIT_CONNECT:
        if (type != DCUTR_CONNECT) return fail(m, "expected CONNECT");
        if (!naddrs) return fail(m, "the peer's CONNECT has no address we may dial");
        if (m->attempt >= m->max_attempts) return fail(m, "too many attempts");
        m->attempt++;
        keep_addrs(m, addrs, naddrs);
        m->st = DCUTR_ST_WAIT_SYNC;
        m->deadline = now + m->msg_timeout;
        return DCUTR_ACT_SEND_CONNECT;
    case DCUTR_ST_WAIT_SYNC:
        if (type != DCUTR_SYNC) return fail(m, "expected SYNC");
        /* Dial now; a retry's CONNECT may come while the dials run. */
        m->st = DCUTR_ST_WAIT_CONNECT;
        m->deadline = now + m->msg_timeout;
        return DCUTR_ACT_DIAL;
    default:
        return fail(m, "unexpected message");
    }
}

void dcutr_sm_connect_sent(struct dcutr_sm *m, uint64_t now)
{
    if (!m->initiator || m->st != DCUTR_ST_CONNECT_SENT) return;
    m->sent_at = now;
    m->deadline = now + m->msg_timeout;
}

enum dcutr_action dcutr_sm_on_timer(struct dcutr_sm *m, uint64_t now)
{
    if (dcutr_sm_finished(m)) return DCUTR_ACT_NONE;
    if (m->st == DCUTR_ST_SYNC_WAIT) {
        if (now < m->dial_at) return DCUTR_ACT_NONE;
        m->st = DCUTR_ST_DIALING;
        return DCUTR_ACT_DIAL;
    }
    if (m->deadline && now >= m->deadline) {
        if (m->st == DCUTR_ST_WAIT_CONNECT && m->attempt > 0) return fail(m, "no further attempt from the peer");
        return fail(m, "timed out waiting for the peer's message");
    }
    return DCUTR_ACT_NONE;
}

enum dcutr_action dcutr_sm_on_dial(struct dcutr_sm *m, uint64_t now, bool ok)
{
    if (dcutr_sm_finished(m)) return DCUTR_ACT_NONE;
    if (ok) return success(m);
    if (!m->initiator) return DCUTR_ACT_NONE;   /* the initiator decides about retries */
    if (m->st == DCUTR_ST_DIRECT) return send_connect(m, now);
    if (m->st != DCUTR_ST_DIALING) return DCUTR_ACT_NONE;
    if (m->attempt >= m->max_attempts) return fail(m, "every attempt failed");
    return send_connect(m, now);
}

enum dcutr_action dcutr_sm_on_direct(struct dcutr_sm *m)
{
    if (dcutr_sm_finished(m)) return DCUTR_ACT_NONE;
    return success(m);
}

enum dcutr_action dcutr_sm_on_stream_end(struct dcutr_sm *m)
{
    if (dcutr_sm_finished(m)) return DCUTR_ACT_NONE;
    if (m->initiator && (m->st == DCUTR_ST_DIALING || m->st == DCUTR_ST_DIRECT || m->st == DCUTR_ST_SYNC_WAIT))
        return DCUTR_ACT_NONE;
    /* Responder after a SYNC: rust-libp2p and go-libp2p initiators close
     * the stream once SYNC is sent. Our dials (or theirs) decide, or a
     * next attempt on a new stream, until the deadline SYNC set. */
    if (!m->initiator && m->st == DCUTR_ST_WAIT_CONNECT && m->attempt > 0) return DCUTR_ACT_NONE;
    return fail(m, m->initiator ? "the stream ended" : "the initiator closed the stream");
}

void dcutr_sm_restart_wait(struct dcutr_sm *m, uint64_t now)
{
    if (m->initiator || dcutr_sm_finished(m)) return;
    m->st = DCUTR_ST_WAIT_CONNECT;
    m->deadline = now + m->msg_timeout;
}

uint64_t dcutr_sm_next_timer(const struct dcutr_sm *m)
{
    if (dcutr_sm_finished(m)) return 0;
    if (m->st == DCUTR_ST_SYNC_WAIT) return m->dial_at;
    return m->deadline;
}

const char *dcutr_state_name(enum dcutr_state st)
{
    static const char *const names[] = { "idle", "direct", "connect-sent", "sync-wait", "dialing",
                                         "wait-connect", "wait-sync", "done", "failed" };
    return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "?";
}
