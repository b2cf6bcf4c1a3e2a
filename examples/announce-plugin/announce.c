/* announce.c - an example plugin that uses a service of another plugin:
 * the pubsub service (p2p/pubsub.h) that the gossipsub plugin provides.
 * Built out of tree against the installed SDK only; docs/PLUGINS.md walks
 * through it.
 *
 * It joins the topics in `topics` and logs what happens there - every
 * message and every peer joining or leaving:
 *
 *   INFO  announce: [libp2p-chat] 12D3KooW...x7Kq2f: hello everybody
 *   INFO  announce: [libp2p-chat] 12D3KooW...x7Kq2f joined
 *
 * and, when `message` is set, publishes it to each topic every
 * `interval` (a bot that says something in a chat room: p2pchat peers in
 * that room show it like any other line). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p2p/p2p.h>
#include <p2p/pubsub.h>

#define MAX_TOPICS 16

struct announce {
    p2p_host *host;
    const struct p2p_pubsub_api_v1 *ps;   /* the service table ... */
    void *ps_state;                       /* ... and the state its functions take */
    size_t ntopics;
    const char *topics[MAX_TOPICS];       /* owned by the config */
    p2p_pubsub_sub *subs[MAX_TOPICS];
    void *listener;
    const char *message;                  /* NULL: listen only */
    uint64_t interval_ms;
    size_t max_log;
    p2p_timer *timer;
    p2p_metric_series *seen, *sent;
};

/* "12D3KooW...abcdef", like p2pchat shows senders. */
static void short_id(const p2p_peerid *id, char *out, size_t cap)
{
    char full[P2P_PEERID_STRMAX];
    p2p_peerid_to_string(id, full, sizeof full);
    size_t n = strlen(full);
    if (n > 14) snprintf(out, cap, "%.8s...%s", full, full + n - 6);
    else snprintf(out, cap, "%s", full);
}

/* Pubsub delivers validated messages; m and everything in it is valid
 * during the call only. Remote text is logged with control characters
 * replaced and at most max_log bytes. */
static void on_message(const struct p2p_pubsub_msg *m, void *arg)
{
    struct announce *a = arg;
    char who[32] = "anonymous", text[1024];
    if (m->author) short_id(m->author, who, sizeof who);
    size_t n = m->len < a->max_log ? m->len : a->max_log;
    if (n >= sizeof text) n = sizeof text - 1;
    for (size_t i = 0; i < n; i++) text[i] = m->data[i] < 0x20 || m->data[i] == 0x7f ? '?' : (char)m->data[i];
    text[n] = 0;
    p2p_counter_add(a->seen, 1);
    p2p_log_info("announce", "[%s] %s: %s%s", m->topic, who, text, m->len > n ? "..." : "");
}

static void on_peer(const char *topic, const p2p_peerid *peer, bool subscribed, void *arg)
{
    (void)arg;
    char who[32];
    short_id(peer, who, sizeof who);
    p2p_log_info("announce", "[%s] %s %s", topic, who, subscribed ? "joined" : "left");
}

static void on_tick(p2p_timer *t, void *arg)
{
    (void)t;
    struct announce *a = arg;
    for (size_t i = 0; i < a->ntopics; i++) {
        int rc = a->ps->publish(a->ps_state, a->topics[i], (const uint8_t *)a->message, strlen(a->message));
        if (rc == 0) p2p_counter_add(a->sent, 1);
        /* Nobody in the topic yet, a full queue, the same text again too
         * soon: normal for a bot; next time. */
        else p2p_log_debug("announce", "[%s] not announced: %s", a->topics[i], p2p_strerror(rc));
    }
}

static int announce_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct announce *a = calloc(1, sizeof *a);
    if (!a) return P2P_ENOMEM;
    a->host = h;
    /* gossipsub is in .requires, so it was initialised first and its
     * service is there; another plugin could provide "pubsub" v1 too. */
    a->ps = p2p_service_get(h, P2P_PUBSUB_SERVICE, 1, &a->ps_state);
    if (!a->ps) {
        p2p_host_set_error(h, "no pubsub service (version 1): add [plugin gossipsub]");
        free(a);
        return P2P_EDEP;
    }
    a->ntopics = p2p_conf_list_len(cf, "topics");
    if (a->ntopics == 0 || a->ntopics > MAX_TOPICS) {
        p2p_host_set_error(h, "topics: give 1 to %d topics", MAX_TOPICS);
        free(a);
        return P2P_ECONFIG;
    }
    for (size_t i = 0; i < a->ntopics; i++) a->topics[i] = p2p_conf_list_at(cf, "topics", i);
    a->message = p2p_conf_str(cf, "message");   /* NULL when not set: no default */
    a->interval_ms = p2p_conf_duration_ms(cf, "interval");
    a->max_log = (size_t)p2p_conf_size(cf, "max_logged");
    a->seen = p2p_metric_counter(h, "p2p_announce_messages_seen_total", "Messages logged by the announce example.");
    a->sent = p2p_metric_counter(h, "p2p_announce_messages_sent_total", "Announcements published.");
    *state = a;
    return 0;
}

/* Subscribing tells peers: that is I/O, so it waits for start. */
static int announce_start(void *state)
{
    struct announce *a = state;
    for (size_t i = 0; i < a->ntopics; i++) {
        int rc = a->ps->subscribe(a->ps_state, a->topics[i], on_message, a, &a->subs[i]);
        if (rc < 0) {
            p2p_host_set_error(a->host, "cannot subscribe to %s: %s", a->topics[i], p2p_strerror(rc));
            return rc;
        }
    }
    a->listener = a->ps->add_peer_listener(a->ps_state, on_peer, a);
    if (a->message) {
        a->timer = p2p_timer_new(a->host, on_tick, a);
        if (!a->timer) return P2P_ENOMEM;
        p2p_timer_start(a->timer, a->interval_ms, a->interval_ms);
    }
    p2p_log_info("announce", "listening on %zu topic(s)%s", a->ntopics, a->message ? " and announcing" : "");
    return 0;
}

static void announce_stop(void *state)
{
    struct announce *a = state;
    p2p_timer_free(a->timer);
    a->timer = NULL;
    if (a->listener) a->ps->remove_peer_listener(a->ps_state, a->listener);
    a->listener = NULL;
    for (size_t i = 0; i < a->ntopics; i++) {
        if (a->subs[i]) a->ps->unsubscribe(a->ps_state, a->subs[i]);
        a->subs[i] = NULL;
    }
}

static void announce_fini(void *state)
{
    free(state);
}

static const struct p2p_conf_key keys[] = {
    { "topics", P2P_CONF_LIST, "libp2p-chat", 0, 0, NULL, "topics (chat rooms) to join and log" },
    { "message", P2P_CONF_STR, NULL, 0, 0, NULL, "text to publish to each topic every interval (unset: only log)" },
    { "interval", P2P_CONF_DURATION, "1m", 1000, 86400000, NULL, "time between announcements" },
    { "max_logged", P2P_CONF_SIZE, "200", 1, 1000, NULL, "bytes of a message shown in the log" },
    P2P_CONF_KEYS_END
};

static const char *const requires[] = { "gossipsub", NULL };

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "announce",
    .version = "1.0.0",
    .description = "example pubsub user: logs topics and announces a message",
    .requires = requires,
    .config = keys,
    .init = announce_init,
    .start = announce_start,
    .stop = announce_stop,
    .fini = announce_fini,
});
