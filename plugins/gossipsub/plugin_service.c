/* plugin_service.c - the gossipsub plugin's service "pubsub" v1
 * (p2p/pubsub.h), configuration, and lifecycle. The glue to streams and
 * events is in plugin.c. */
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin_int.h"

/* ---- the service ------------------------------------------------------------------- */

static struct gsp_topic *topic_find(struct gsp *g, const char *name)
{
    for (struct gsp_topic *t = g->topics; t; t = t->next)
        if (!strcmp(t->name, name)) return t;
    return NULL;
}

/* The checks of the calls that take a topic: P2P_EINVAL for a bad topic
 * name (or ok false: another bad argument), P2P_ESTATE when a call that
 * changes the router (changes) comes from inside a validator. */
static int check_call(const struct gsp *g, const char *topic, bool ok, bool changes)
{
    size_t n = topic ? strlen(topic) : 0;
    if (!ok || !n || n > g->cfg.max_topic_len) return P2P_EINVAL;
    return changes && g->in_validator ? P2P_ESTATE : 0;
}

static int svc_subscribe(void *state, const char *topic, p2p_pubsub_msg_cb cb, void *arg, p2p_pubsub_sub **out)
{
    struct gsp *g = state;
    if (out) *out = NULL;
    int rc = check_call(g, topic, cb && out, true);
    if (rc < 0) return rc;
    struct gsp_topic *t = topic_find(g, topic);
    bool fresh = !t;
    if (fresh) {
        if (g->ntopics >= g->cfg.max_topics) return P2P_ELIMIT;
        t = calloc(1, sizeof *t);
        if (!t || !(t->name = strdup(topic))) {
            free(t);
            return P2P_ENOMEM;
        }
    }
    struct p2p_pubsub_sub *s = calloc(1, sizeof *s);
    if (!s) {
        if (fresh) {
            free(t->name);
            free(t);
        }
        return P2P_ENOMEM;
    }
    if (fresh) {
        rc = gs_router_join(g->r, topic, p2p_host_now_ms(g->host));
        if (rc < 0 && rc != P2P_EEXIST) {
            free(s);
            free(t->name);
            free(t);
            return rc;
        }
        t->next = g->topics;
        g->topics = t;
        g->ntopics++;
    }
    s->g = g;
    s->t = t;
    s->cb = cb;
    s->arg = arg;
    s->next = g->subs;
    g->subs = s;
    t->nsubs++;
    if (fresh) gsp_pump(g);
    *out = s;
    return 0;
}

static void svc_unsubscribe(void *state, p2p_pubsub_sub *s)
{
    struct gsp *g = state;
    if (!s || s->dead) return;
    s->dead = true;
    s->t->nsubs--;
    /* Freed (and the topic left when this was its last subscription) from
     * the loop, outside any callback that may be iterating. */
    p2p_defer_schedule(g->host, &g->sweep);
}

static int svc_publish(void *state, const char *topic, const uint8_t *data, size_t len)
{
    struct gsp *g = state;
    int rc = check_call(g, topic, data || !len, true);
    if (rc < 0) return rc;
    rc = gs_router_publish(g->r, topic, data, len, p2p_host_now_ms(g->host), NULL, NULL);
    /* Written from the loop, before it next waits for I/O: what the
     * caller publishes in a row goes out in one frame and one write per
     * peer. */
    p2p_defer_schedule(g->host, &g->flush);
    return rc;
}

static int svc_set_validator(void *state, const char *topic, p2p_pubsub_validator fn, void *arg)
{
    struct gsp *g = state;
    int rc = check_call(g, topic, true, false);
    if (rc < 0) return rc;
    for (struct gsp_validator **pp = &g->validators; *pp; pp = &(*pp)->next) {
        struct gsp_validator *v = *pp;
        if (strcmp(v->topic, topic)) continue;
        if (fn) {
            v->fn = fn;
            v->arg = arg;
        } else {
            *pp = v->next;
            free(v->topic);
            free(v);
            g->nvalidators--;
        }
        return 0;
    }
    if (!fn) return 0;
    if (g->nvalidators >= g->cfg.max_known_topics) return P2P_ELIMIT;
    struct gsp_validator *v = calloc(1, sizeof *v);
    if (!v || !(v->topic = strdup(topic))) {
        free(v);
        return P2P_ENOMEM;
    }
    v->fn = fn;
    v->arg = arg;
    v->next = g->validators;
    g->validators = v;
    g->nvalidators++;
    return 0;
}

static size_t svc_topics(void *state, const char **out, size_t max)
{
    struct gsp *g = state;
    size_t n = 0;
    for (struct gsp_topic *t = g->topics; t; t = t->next) {
        if (!t->nsubs) continue;
        if (out && n < max) out[n] = t->name;
        n++;
    }
    return n;
}

static size_t svc_topic_peers(void *state, const char *topic, p2p_peerid *out, size_t max)
{
    struct gsp *g = state;
    return topic ? gs_router_topic_peers(g->r, topic, out, out ? max : 0) : 0;
}

static size_t svc_mesh_peers(void *state, const char *topic, p2p_peerid *out, size_t max)
{
    struct gsp *g = state;
    return topic ? gs_router_mesh_peers(g->r, topic, out, out ? max : 0) : 0;
}

static void *svc_add_peer_listener(void *state, p2p_pubsub_peer_cb cb, void *arg)
{
    struct gsp *g = state;
    if (!cb) return NULL;
    struct gsp_listener *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->cb = cb;
    l->arg = arg;
    l->next = g->listeners;
    g->listeners = l;
    return l;
}

static void svc_remove_peer_listener(void *state, void *handle)
{
    struct gsp *g = state;
    for (struct gsp_listener *l = g->listeners; l; l = l->next) {
        if (l == handle && !l->dead) {
            l->dead = true;
            p2p_defer_schedule(g->host, &g->sweep);
            return;
        }
    }
}

static const struct p2p_pubsub_api_v1 pubsub_api = {
    svc_subscribe, svc_unsubscribe, svc_publish, svc_set_validator, svc_topics,
    svc_topic_peers, svc_mesh_peers, svc_add_peer_listener, svc_remove_peer_listener,
};

/* ---- configuration --------------------------------------------------------------------- */

static const char *const sign_choices[] = { "strict-sign", "strict-no-sign", "anonymous", NULL };
static const char *const id_choices[] = { "from-seqno", "from-seqno-text", "key-seqno", "content", NULL };

static const struct p2p_conf_key gs_keys[] = {
    { "d", P2P_CONF_INT, "6", 0, 1000, NULL, "mesh degree D (go, rust, js: 6)" },
    { "d_lo", P2P_CONF_INT, "5", 0, 1000, NULL, "graft when the mesh has fewer peers (D_lo; go, rust, js: 5)" },
    { "d_hi", P2P_CONF_INT, "12", 0, 1000, NULL, "prune when the mesh has more peers (D_hi; 12)" },
    { "d_lazy", P2P_CONF_INT, "6", 0, 1000, NULL, "minimum peers to gossip to per heartbeat (D_lazy; 6)" },
    { "d_score", P2P_CONF_INT, "4", 0, 1000, NULL, "peers kept by score when pruning (D_score; 4)" },
    { "d_out", P2P_CONF_INT, "2", 0, 1000, NULL, "outbound peers kept in the mesh (D_out; 2)" },
    { "gossip_factor_percent", P2P_CONF_INT, "25", 0, 100, NULL,
      "percentage of non-mesh topic peers to gossip to, at least d_lazy (v1.1: 0.25)" },
    { "heartbeat_interval", P2P_CONF_DURATION, "1s", 10, 60000, NULL, "heartbeat period (1 s)" },
    { "heartbeat_initial_delay", P2P_CONF_DURATION, "100ms", 0, 60000, NULL,
      "first heartbeat after start (go: 100 ms; rust: 5 s)" },
    { "fanout_ttl", P2P_CONF_DURATION, "60s", 100, 86400000, NULL, "forget a fanout unused this long (60 s)" },
    { "history_length", P2P_CONF_INT, "5", 1, 100, NULL, "heartbeats of messages cached for IWANT (5)" },
    { "history_gossip", P2P_CONF_INT, "3", 0, 100, NULL, "heartbeats of message ids gossiped in IHAVE (3)" },
    { "seen_ttl", P2P_CONF_DURATION, "2m", 1000, 86400000, NULL,
      "remember seen message ids this long (spec and go: 2 min; rust: 1 min)" },
    { "prune_backoff", P2P_CONF_DURATION, "1m", 0, 86400000, NULL, "no re-graft after a PRUNE for this long (1 min)" },
    { "unsubscribe_backoff", P2P_CONF_DURATION, "10s", 0, 86400000, NULL, "backoff announced when leaving (10 s)" },
    { "graft_flood_threshold", P2P_CONF_DURATION, "10s", 0, 86400000, NULL,
      "a GRAFT this soon after a PRUNE costs a double penalty (10 s)" },
    { "backoff_slack", P2P_CONF_INT, "1", 0, 100, NULL, "extra heartbeats waited after a backoff (1)" },
    { "flood_publish", P2P_CONF_BOOL, "true", 0, 0, NULL, "send our messages to every topic peer (v1.1; on)" },
    { "peer_exchange", P2P_CONF_BOOL, "false", 0, 0, NULL, "include PX peers in our PRUNEs (off, as go and rust)" },
    { "prune_peers", P2P_CONF_INT, "16", 0, 1000, NULL, "PX peers sent and accepted per PRUNE (16)" },
    { "px_connect", P2P_CONF_BOOL, "false", 0, 0, NULL,
      "dial PX peers that have known addresses (off: they are only added to the peer store)" },
    { "opportunistic_graft_ticks", P2P_CONF_INT, "60", 0, 100000, NULL, "heartbeats between opportunistic grafts (60)" },
    { "opportunistic_graft_peers", P2P_CONF_INT, "2", 0, 1000, NULL, "peers grafted opportunistically (2)" },
    { "gossip_retransmission", P2P_CONF_INT, "3", 0, 1000, NULL, "IWANT answers per peer and message (3)" },
    { "max_ihave_length", P2P_CONF_INT, "5000", 1, 1000000, NULL,
      "message ids per IHAVE, and ids asked from one peer per heartbeat (5000)" },
    { "max_ihave_messages", P2P_CONF_INT, "10", 1, 100000, NULL, "IHAVE RPCs accepted per peer and heartbeat (10)" },
    { "iwant_followup", P2P_CONF_DURATION, "3s", 100, 3600000, NULL,
      "a peer that advertised a message must deliver it this soon after our IWANT (3 s)" },
    { "idontwant_threshold", P2P_CONF_SIZE, "1KiB", 0, 0, NULL,
      "send IDONTWANT for messages with at least this much data (v1.2; go: 1 KiB, rust: 1000)" },
    { "idontwant_ttl", P2P_CONF_INT, "3", 1, 255, NULL, "heartbeats an IDONTWANT is honoured (3)" },
    { "max_idontwant_messages", P2P_CONF_INT, "1000", 1, 1000000, NULL, "IDONTWANT RPCs accepted per peer and heartbeat (1000)" },
    { "max_idontwant_ids", P2P_CONF_INT, "4096", 1, 1000000, NULL, "IDONTWANT ids remembered per peer" },
    { "signing", P2P_CONF_ENUM, "strict-sign", 0, 0, sign_choices,
      "strict-sign (sign ours, require valid signatures), strict-no-sign (author and seqno, no signature), "
      "anonymous (no author, seqno or signature; needs message_id = content)" },
    { "message_id", P2P_CONF_ENUM, "from-seqno", 0, 0, id_choices,
      "from-seqno (go's default), from-seqno-text (rust's default), key-seqno (js's default), content (SHA-256 "
      "of the data); peers should agree: ids travel in IHAVE/IWANT/IDONTWANT" },
    { "max_message_size", P2P_CONF_SIZE, "65536", 1, 64 << 20, NULL, "largest message data sent or accepted" },
    { "max_rpc_size", P2P_CONF_SIZE, "1MiB", 2048, 128 << 20, NULL,
      "largest RPC frame accepted (go: 1 MiB; we send frames of at most 64 KiB when possible, rust's limit)" },
    { "max_queue", P2P_CONF_SIZE, "2MiB", 4096, 1 << 30, NULL,
      "messages waiting for one peer (more: forwarding skips the peer, publish may return EAGAIN)" },
    { "slow_peer_timeout", P2P_CONF_DURATION, "500ms", 0, 3600000, NULL,
      "a peer whose full queue takes no byte this long (and across two heartbeats) is slow: publish stops "
      "waiting for it, the heartbeat prunes it from the mesh, gossip lets it catch up when it reads again "
      "(0: never)" },
    { "max_topics", P2P_CONF_INT, "256", 1, 1000000, NULL, "topics we may subscribe to" },
    { "max_peer_topics", P2P_CONF_INT, "256", 1, 1000000, NULL, "subscriptions remembered per remote peer" },
    { "max_known_topics", P2P_CONF_INT, "4096", 1, 10000000, NULL, "topics known at all (ours and peers')" },
    { "max_topic_length", P2P_CONF_INT, "256", 1, 1024, NULL, "longest topic name, bytes" },
    { "max_peers", P2P_CONF_INT, "1024", 1, 1000000, NULL, "pubsub peers" },
    { "max_inbound_streams", P2P_CONF_INT, "2", 1, 64, NULL, "inbound pubsub streams per peer" },
    { "mcache_size", P2P_CONF_INT, "8192", 1, 10000000, NULL, "messages kept for gossip" },
    { "mcache_bytes", P2P_CONF_SIZE, "32MiB", 1024, 1 << 30, NULL, "bytes of messages kept for gossip" },
    { "seen_cache_size", P2P_CONF_INT, "131072", 16, 100000000, NULL, "message ids kept as seen" },
    { "max_backoffs", P2P_CONF_INT, "16384", 1, 10000000, NULL, "(peer, topic) backoffs remembered" },
    { "max_promises", P2P_CONF_INT, "8192", 1, 10000000, NULL, "IWANT promises tracked" },
    { "max_fanout_topics", P2P_CONF_INT, "64", 1, 100000, NULL, "topics with a fanout" },
    { "use_limited_connections", P2P_CONF_BOOL, "false", 0, 0, NULL, "run pubsub over relayed connections (js: no)" },
    { "floodsub", P2P_CONF_BOOL, "true", 0, 0, NULL, "also speak /floodsub/1.0.0" },
    { "scoring", P2P_CONF_BOOL, "true", 0, 0, NULL,
      "peer scoring (v1.1) with the defaults of gs_score.c; topics we join are scored" },
    { "gossip_threshold", P2P_CONF_STR, "-500", 0, 0, NULL, "score below which no gossip is exchanged" },
    { "publish_threshold", P2P_CONF_STR, "-1000", 0, 0, NULL, "score below which we do not flood-publish to a peer" },
    { "graylist_threshold", P2P_CONF_STR, "-2500", 0, 0, NULL, "score below which a peer's RPCs are ignored" },
    { "accept_px_threshold", P2P_CONF_STR, "1000", 0, 0, NULL, "score a peer needs for its PX to be accepted" },
    { "opportunistic_graft_threshold", P2P_CONF_STR, "3.5", 0, 0, NULL,
      "median mesh score below which better peers are grafted" },
    P2P_CONF_KEYS_END
};

static bool conf_double(p2p_host *h, const p2p_conf_section *cf, const char *key, double *out)
{
    const char *s = p2p_conf_str(cf, key);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        p2p_host_set_error(h, "%s: '%s' is not a number", key, s);
        return false;
    }
    *out = v;
    return true;
}

static int read_config(struct gsp *g, const p2p_conf_section *cf)
{
    struct gs_config *c = &g->cfg;
    gs_config_default(c);
    c->d = (unsigned)p2p_conf_int(cf, "d");
    c->d_lo = (unsigned)p2p_conf_int(cf, "d_lo");
    c->d_hi = (unsigned)p2p_conf_int(cf, "d_hi");
    c->d_lazy = (unsigned)p2p_conf_int(cf, "d_lazy");
    c->d_score = (unsigned)p2p_conf_int(cf, "d_score");
    c->d_out = (unsigned)p2p_conf_int(cf, "d_out");
    c->gossip_factor = (double)p2p_conf_int(cf, "gossip_factor_percent") / 100.0;
    c->heartbeat_ms = p2p_conf_duration_ms(cf, "heartbeat_interval");
    g->hb_initial_ms = p2p_conf_duration_ms(cf, "heartbeat_initial_delay");
    c->fanout_ttl_ms = p2p_conf_duration_ms(cf, "fanout_ttl");
    c->history_length = (unsigned)p2p_conf_int(cf, "history_length");
    c->history_gossip = (unsigned)p2p_conf_int(cf, "history_gossip");
    c->seen_ttl_ms = p2p_conf_duration_ms(cf, "seen_ttl");
    c->prune_backoff_ms = p2p_conf_duration_ms(cf, "prune_backoff");
    c->unsubscribe_backoff_ms = p2p_conf_duration_ms(cf, "unsubscribe_backoff");
    c->graft_flood_ms = p2p_conf_duration_ms(cf, "graft_flood_threshold");
    c->backoff_slack = (unsigned)p2p_conf_int(cf, "backoff_slack");
    c->flood_publish = p2p_conf_bool(cf, "flood_publish");
    c->do_px = p2p_conf_bool(cf, "peer_exchange");
    c->prune_peers = (unsigned)p2p_conf_int(cf, "prune_peers");
    g->px_connect = p2p_conf_bool(cf, "px_connect");
    c->opportunistic_graft_ticks = (unsigned)p2p_conf_int(cf, "opportunistic_graft_ticks");
    c->opportunistic_graft_peers = (unsigned)p2p_conf_int(cf, "opportunistic_graft_peers");
    c->gossip_retransmission = (unsigned)p2p_conf_int(cf, "gossip_retransmission");
    c->max_ihave_length = (unsigned)p2p_conf_int(cf, "max_ihave_length");
    c->max_ihave_messages = (unsigned)p2p_conf_int(cf, "max_ihave_messages");
    c->iwant_followup_ms = p2p_conf_duration_ms(cf, "iwant_followup");
    c->idontwant_threshold = (size_t)p2p_conf_size(cf, "idontwant_threshold");
    c->idontwant_ttl = (unsigned)p2p_conf_int(cf, "idontwant_ttl");
    c->max_idontwant_messages = (unsigned)p2p_conf_int(cf, "max_idontwant_messages");
    c->max_idontwant = (size_t)p2p_conf_int(cf, "max_idontwant_ids");
    c->sign = (enum gs_sign_policy)p2p_conf_enum(cf, "signing");
    c->id_mode = (enum gs_id_mode)p2p_conf_enum(cf, "message_id");
    c->max_message_size = (size_t)p2p_conf_size(cf, "max_message_size");
    c->max_rpc_size = (size_t)p2p_conf_size(cf, "max_rpc_size");
    c->max_queue_bytes = (size_t)p2p_conf_size(cf, "max_queue");
    c->slow_peer_ms = p2p_conf_duration_ms(cf, "slow_peer_timeout");
    c->max_topics = (size_t)p2p_conf_int(cf, "max_topics");
    c->max_peer_topics = (size_t)p2p_conf_int(cf, "max_peer_topics");
    c->max_known_topics = (size_t)p2p_conf_int(cf, "max_known_topics");
    c->max_topic_len = (size_t)p2p_conf_int(cf, "max_topic_length");
    c->max_peers = (size_t)p2p_conf_int(cf, "max_peers");
    c->max_mcache = (size_t)p2p_conf_int(cf, "mcache_size");
    c->max_mcache_bytes = (size_t)p2p_conf_size(cf, "mcache_bytes");
    c->max_seen = (size_t)p2p_conf_int(cf, "seen_cache_size");
    c->max_backoff = (size_t)p2p_conf_int(cf, "max_backoffs");
    c->max_promises = (size_t)p2p_conf_int(cf, "max_promises");
    c->max_fanout_topics = (size_t)p2p_conf_int(cf, "max_fanout_topics");
    g->max_inbound = (size_t)p2p_conf_int(cf, "max_inbound_streams");
    g->use_limited = p2p_conf_bool(cf, "use_limited_connections");
    g->floodsub = p2p_conf_bool(cf, "floodsub");
    if (!conf_double(g->host, cf, "gossip_threshold", &c->th.gossip) ||
        !conf_double(g->host, cf, "publish_threshold", &c->th.publish) ||
        !conf_double(g->host, cf, "graylist_threshold", &c->th.graylist) ||
        !conf_double(g->host, cf, "accept_px_threshold", &c->th.accept_px) ||
        !conf_double(g->host, cf, "opportunistic_graft_threshold", &c->th.opportunistic_graft))
        return P2P_ECONFIG;
    char err[256];
    if (gs_config_validate(c, err, sizeof err) < 0) {
        p2p_host_set_error(g->host, "%s", err);
        return P2P_ECONFIG;
    }
    return 0;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static void remove_protocols(struct gsp *g)
{
    for (size_t i = 0; g->protos[i]; i++) p2p_protocol_remove(g->host, g->protos[i]);
}

static void gsp_free(struct gsp *g)
{
    gs_router_free(g->r);
    gs_score_free(g->score);
    while (g->subs) {
        struct p2p_pubsub_sub *s = g->subs;
        g->subs = s->next;
        free(s);
    }
    while (g->topics) {
        struct gsp_topic *t = g->topics;
        g->topics = t->next;
        free(t->name);
        free(t);
    }
    while (g->validators) {
        struct gsp_validator *v = g->validators;
        g->validators = v->next;
        free(v->topic);
        free(v);
    }
    while (g->listeners) {
        struct gsp_listener *l = g->listeners;
        g->listeners = l->next;
        free(l);
    }
    free(g);
}

static uint64_t wallclock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* gs_init's failure path: the error for the host, everything freed. */
static int init_fail(struct gsp *g, int rc, const char *what, const char *name)
{
    p2p_host_set_error(g->host, "%s%s: %s", what, name ? name : "", p2p_strerror(rc));
    gsp_free(g);
    return rc;
}

static int gs_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct gsp *g = calloc(1, sizeof *g);
    if (!g) return P2P_ENOMEM;
    g->host = h;
    g->stream_hw = P2P_STREAM_HIGH_WATER;
    p2p_defer_init(&g->sweep, gsp_sweep, g);
    p2p_defer_init(&g->flush, gsp_flush, g);
    int rc = read_config(g, cf);
    if (rc < 0) {
        free(g);
        return rc;
    }
    size_t np = 0;
    g->protos[np++] = GS_PROTO_MESHSUB_12_ID;
    g->protos[np++] = GS_PROTO_MESHSUB_11_ID;
    g->protos[np++] = GS_PROTO_MESHSUB_10_ID;
    if (g->floodsub) g->protos[np++] = GS_PROTO_FLOODSUB_ID;
    g->protos[np] = NULL;

    if (p2p_conf_bool(cf, "scoring")) {
        struct gs_score_params sp;
        gs_score_params_default(&sp);
        randombytes_buf(sp.hash_key, sizeof sp.hash_key);
        if ((rc = gs_score_new(&g->score, &sp)) < 0) return init_fail(g, rc, "cannot create the peer scorer", NULL);
    }
    uint64_t seed;
    randombytes_buf(&seed, sizeof seed);
    struct gs_router_init ri = {
        .cfg = &g->cfg,
        .key = p2p_host_keypair(h),
        .self = p2p_host_peerid(h),
        .seqno_start = wallclock_ns(),   /* as go: increasing across restarts */
        .seed = seed,
        .score = g->score,
        .score_joined_topics = true,
        .validate = gsp_validate,
        .validate_arg = g,
    };
    if ((rc = gs_router_new(&g->r, &ri, p2p_host_now_ms(h))) < 0)
        return init_fail(g, rc, "cannot create the router", NULL);
    for (size_t i = 0; g->protos[i]; i++) {
        if ((rc = p2p_protocol_add(h, g->protos[i], gsp_on_stream, g)) < 0) {
            for (size_t j = 0; j < i; j++) p2p_protocol_remove(h, g->protos[j]);
            return init_fail(g, rc, "cannot register ", g->protos[i]);
        }
    }
    if ((rc = p2p_service_provide(h, P2P_PUBSUB_SERVICE, 1, &pubsub_api, g)) < 0) {
        remove_protocols(g);
        return init_fail(g, rc, "cannot provide the pubsub service", NULL);
    }
    *state = g;
    return 0;
}

static int gs_start(void *state)
{
    struct gsp *g = state;
    int rc = gsp_start_io(g);
    if (rc < 0) p2p_host_set_error(g->host, "out of memory");
    else gsp_metrics_start(g);
    return rc;
}

static void gs_stop(void *state)
{
    gsp_metrics_stop(state);
    gsp_stop_io(state);
}

static void gs_fini(void *state)
{
    struct gsp *g = state;
    gsp_stop_io(g);
    p2p_defer_cancel(g->host, &g->sweep);
    p2p_defer_cancel(g->host, &g->flush);
    p2p_service_withdraw(g->host, P2P_PUBSUB_SERVICE, 1);
    remove_protocols(g);
    gsp_free(g);
}

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "gossipsub",
    .version = "1.0.0",
    .description = "GossipSub v1.0/v1.1/v1.2 and floodsub publish/subscribe (service pubsub v1)",
    .requires = NULL,
    .config = gs_keys,
    .init = gs_init,
    .start = gs_start,
    .stop = gs_stop,
    .fini = gs_fini,
});
