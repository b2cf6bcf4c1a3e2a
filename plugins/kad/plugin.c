/* plugin.c - the kad plugin (libp2p Kademlia DHT, /ipfs/kad/1.0.0 by
 * default): configuration, lifecycle, events, the upkeep of the routing
 * table (admission from identify, liveness checks, failures), timers
 * (bootstrap and bucket refresh, store expiry, provider republishing) and
 * the saved routing table. The protocol logic lives in kad_*.c (no I/O);
 * streams in kad_net.c and kad_server.c; operations and the "routing"
 * service in kad_ops.c and kad_service.c. README.md in this directory
 * explains the decisions and defaults.
 *
 * Routing table admission (the spec: only servers enter routing tables):
 * a peer enters when identify reports that it supports our protocol id
 * (P2P_EV_IDENTIFIED + p2p_peerstore_supports), or when it answers one of
 * our kad requests; it leaves when a later identify (push) no longer lists
 * the protocol, when max_failures requests in a row failed, or when a
 * liveness check (asked by the table for a full bucket) fails. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kad_ops.h"
#include "kad_statefile.h"

#define STATE_FILE_MAX (4u << 20)   /* bytes read from the state file */
#define STATE_MAX_ADDRS 8
#define MAINTENANCE_MS 60000
/* Our advertised addresses changed (a relay reservation came or went, a
 * listener appeared): provider records hold the addresses of their
 * announcement, so announce again, once the changes settled, and at most
 * every REPROVIDE_GAP_MS (addresses that flap cost no DHT storm). */
#define REPROVIDE_SETTLE_MS 1000
#define REPROVIDE_GAP_MS 10000

/* ---- helpers shared with the other glue files ------------------------------------ */

const char *kad_peer_str(const p2p_peerid *id, char buf[P2P_PEERID_STRMAX])
{
    if (p2p_peerid_to_string(id, buf, P2P_PEERID_STRMAX) < 0) snprintf(buf, P2P_PEERID_STRMAX, "?");
    return buf;
}

uint64_t kad_now(const struct kad *kd)
{
    return p2p_host_now_ms(kd->host);
}

void kad_random_bytes(void *arg, uint8_t *buf, size_t n)
{
    (void)arg;
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r <= 0) {
            /* Cannot happen once the pool is initialised; refresh keys
             * need no secrecy, so fall back to the clock. */
            uint64_t t = uv_hrtime();
            for (; got < n; got++) buf[got] = (uint8_t)(t >> (8 * (got % 8))) ^ (uint8_t)got;
            return;
        }
        got += (size_t)r;
    }
}

size_t kad_peer_addrs(struct kad *kd, const p2p_peerid *peer, p2p_multiaddr *out, size_t max)
{
    size_t n = p2p_peerid_equal(peer, p2p_host_peerid(kd->host)) ? p2p_host_advertised_addrs(kd->host, out, max)
                                                                 : p2p_peerstore_addrs(kd->host, peer, out, max);
    return n < max || !out ? n : max;   /* both count past max */
}

void kad_learn_addrs(struct kad *kd, const struct kad_peer *p)
{
    if (!p->naddrs || p2p_peerid_equal(&p->id, p2p_host_peerid(kd->host))) return;
    p2p_peerstore_add_addrs(kd->host, &p->id, p->addrs, p->naddrs, kd->addr_ttl_ms);
}

/* The address group of a multiaddr for the diversity limits: the IPv4 /16
 * or the IPv6 /32 of a public address; 0 (no limit) for anything else. */
static uint32_t addr_group(const p2p_multiaddr *ma)
{
    size_t off = 0;
    struct p2p_maddr_component c;
    if (!ma || p2p_maddr_next(ma, &off, &c) != 1) return 0;
    if (c.code == P2P_MA_IP4 && c.value_len == 4) {
        const uint8_t *a = c.value;
        if (a[0] == 127 || a[0] == 10 || a[0] == 0 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
            (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254) || (a[0] == 100 && (a[1] & 0xc0) == 64))
            return 0;
        return 0x04000000u | (uint32_t)a[0] << 8 | a[1];
    }
    if (c.code == P2P_MA_IP6 && c.value_len == 16) {
        const uint8_t *a = c.value;
        if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)) return 0;
        static const uint8_t zero[15];
        if (memcmp(a, zero, 15) == 0) return 0;   /* :: and ::1 */
        return 0x06000000u | ((uint32_t)a[0] << 16 ^ (uint32_t)a[1] << 8 ^ a[2] ^ (uint32_t)a[3] << 4);
    }
    return 0;
}

static uint32_t peer_group(struct kad *kd, const p2p_peerid *peer)
{
    p2p_conn *c = p2p_host_conn_to(kd->host, peer);
    if (c) return addr_group(p2p_conn_remote_addr(c));
    p2p_multiaddr a;
    return p2p_peerstore_addrs(kd->host, peer, &a, 1) ? addr_group(&a) : 0;
}

void kad_admit(struct kad *kd, const p2p_peerid *peer)
{
    if (!kd->started || kd->stopping) return;
    p2p_peerid check;
    int rc = kad_rt_add(&kd->rt, peer, peer_group(kd, peer), kad_now(kd), &check);
    char ps[P2P_PEERID_STRMAX];
    if (rc == KAD_RT_ADDED) {
        kd->dirty = true;
        p2p_log_debug(MOD, "routing table: added %s (%zu peers)", kad_peer_str(peer, ps), kd->rt.size);
    }
    if (rc == KAD_RT_ADDED || rc == KAD_RT_UPDATED) {
        /* Keep the addresses of table peers alive in the peer store. */
        p2p_multiaddr addrs[STATE_MAX_ADDRS];
        size_t n = p2p_peerstore_addrs(kd->host, peer, addrs, STATE_MAX_ADDRS);
        if (n > STATE_MAX_ADDRS) n = STATE_MAX_ADDRS;
        if (n) p2p_peerstore_add_addrs(kd->host, peer, addrs, n, kd->addr_ttl_ms);
    } else if (rc == KAD_RT_CHECK) {
        kad_check_peer(kd, &check);
    }
}

void kad_peer_failed(struct kad *kd, const p2p_peerid *peer)
{
    if (!kd->started || kd->stopping) return;
    if (kad_rt_failed(&kd->rt, peer, kad_now(kd))) {
        char ps[P2P_PEERID_STRMAX];
        kd->dirty = true;
        p2p_log_debug(MOD, "routing table: removed %s after failed requests", kad_peer_str(peer, ps));
    }
}

/* ---- events ------------------------------------------------------------------- */

/* Server or client mode. Registering or removing the protocol changes
 * our protocol list, which identify pushes to connected peers: they add
 * us to (or drop us from) their routing tables. */
static void set_server(struct kad *kd, bool server, const char *why)
{
    if (server == kd->server) return;
    if (server) {
        int rc = p2p_protocol_add(kd->host, kd->protocol, kad_on_stream, kd);
        if (rc < 0) {
            p2p_log_warn(MOD, "cannot switch to server mode: %s", p2p_strerror(rc));
            return;
        }
        kd->server = true;
    } else {
        kd->server = false;
        p2p_protocol_remove(kd->host, kd->protocol);
        kad_in_stop_all(kd);   /* a client answers nothing */
    }
    p2p_log_info(MOD, "%s mode (%s)", server ? "server" : "client", why);
}

/* mode = auto: a server while we are publicly reachable (AutoNAT), a
 * client otherwise, as go-libp2p-kad-dht's ModeAuto. */
static void follow_reachability(struct kad *kd)
{
    struct p2p_reachability_info ri = P2P_REACHABILITY_INFO_INIT;
    enum p2p_reachability r = p2p_host_reachability(kd->host, &ri);
    if (!ri.tracked) return;
    set_server(kd, r == P2P_REACH_PUBLIC,
               r == P2P_REACH_PUBLIC ? "mode auto: we are publicly reachable"
               : r == P2P_REACH_PRIVATE ? "mode auto: we are not publicly reachable"
                                        : "mode auto: reachability unknown");
}

static void on_event(const struct p2p_event *ev, void *arg)
{
    struct kad *kd = arg;
    if (ev->type == P2P_EV_REACHABILITY_CHANGED) {
        if (kd->auto_mode && kd->started && !kd->stopping) follow_reachability(kd);
        return;
    }
    if (ev->type == P2P_EV_ADDRS_CHANGED) {
        if (!kd->provided) return;
        uint64_t now = kad_now(kd), at = now + REPROVIDE_SETTLE_MS;
        if (kd->last_reprovide_ms && at < kd->last_reprovide_ms + REPROVIDE_GAP_MS)
            at = kd->last_reprovide_ms + REPROVIDE_GAP_MS;
        p2p_timer_start(kd->reprovide_timer, at - now, 0);
        return;
    }
    if (!ev->peer) return;
    if (ev->type == P2P_EV_IDENTIFIED) {
        if (p2p_peerstore_supports(kd->host, ev->peer, kd->protocol)) kad_admit(kd, ev->peer);
    } else if (ev->type == P2P_EV_PEER_UPDATED) {
        if (!kad_rt_contains(&kd->rt, ev->peer)) {
            /* A connected peer that became a server (identify push). */
            if (p2p_peerstore_supports(kd->host, ev->peer, kd->protocol) && p2p_host_conn_to(kd->host, ev->peer))
                kad_admit(kd, ev->peer);
            return;
        }
        if (!p2p_peerstore_protocols(kd->host, ev->peer, NULL, 0)) return;   /* not known yet */
        if (p2p_peerstore_supports(kd->host, ev->peer, kd->protocol)) return;
        char ps[P2P_PEERID_STRMAX];
        if (kad_rt_remove(&kd->rt, ev->peer, kad_now(kd))) {
            kd->dirty = true;
            p2p_log_debug(MOD, "routing table: removed %s (no longer a %s server)", kad_peer_str(ev->peer, ps),
                          kd->protocol);
        }
    }
}

/* ---- the saved routing table ------------------------------------------------------ */

static int mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (!slash || slash == tmp) return 0;
    *slash = 0;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

struct save_ctx {
    struct kad *kd;
    p2p_buf *out;
    int rc;
};

static bool save_one(const struct kad_rt_entry *e, size_t bucket, void *arg)
{
    (void)bucket;
    struct save_ctx *c = arg;
    p2p_multiaddr addrs[STATE_MAX_ADDRS];
    size_t n = kad_peer_addrs(c->kd, &e->id, addrs, STATE_MAX_ADDRS);
    if (n) c->rc = kad_state_format_peer(c->out, &e->id, addrs, n);
    return c->rc == 0;
}

static void state_save(struct kad *kd)
{
    if (!kd->state_path) return;
    p2p_buf b;
    p2p_buf_init(&b, STATE_FILE_MAX);
    struct save_ctx c = { kd, &b, 0 };
    kad_rt_each(&kd->rt, save_one, &c);
    if (c.rc == 0 && b.len == 0) c.rc = p2p_buf_append(&b, KAD_STATE_HEADER "\n", strlen(KAD_STATE_HEADER) + 1);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", kd->state_path);
    int fd = -1;
    bool ok = c.rc == 0 && mkdirs(kd->state_path) == 0 &&
              (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0;
    for (size_t off = 0; ok && off < b.len;) {
        ssize_t w = write(fd, p2p_buf_head(&b) + off, b.len - off);
        if (w < 0 && errno == EINTR) continue;
        ok = w > 0;
        if (ok) off += (size_t)w;
    }
    if (fd >= 0) {
        ok = ok && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
    }
    ok = ok && rename(tmp, kd->state_path) == 0;
    if (!ok) {
        p2p_log_warn(MOD, "cannot save the routing table to %s: %s", kd->state_path,
                     c.rc ? p2p_strerror(c.rc) : strerror(errno));
        unlink(tmp);
    } else {
        kd->dirty = false;
        p2p_log_debug(MOD, "saved %zu routing table peers to %s", kd->rt.size, kd->state_path);
    }
    p2p_buf_free(&b);
}

static void state_load(struct kad *kd)
{
    if (!kd->state_path) return;
    int fd = open(kd->state_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) p2p_log_warn(MOD, "cannot read %s: %s", kd->state_path, strerror(errno));
        return;
    }
    char *text = malloc(STATE_FILE_MAX);
    size_t len = 0;
    while (text && len < STATE_FILE_MAX) {
        ssize_t r = read(fd, text + len, STATE_FILE_MAX - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    if (!text) return;
    struct kad_state st;
    int rc = kad_state_parse(&st, text, len, kd->k * KAD_KEY_BITS, STATE_MAX_ADDRS);
    free(text);
    if (rc) return;
    uint64_t now = kad_now(kd);
    size_t added = 0;
    for (size_t i = 0; i < st.n; i++) {
        const struct kad_state_peer *p = &st.p[i];
        if (p2p_peerid_equal(&p->id, p2p_host_peerid(kd->host))) continue;
        p2p_peerstore_add_addrs(kd->host, &p->id, p->addrs, p->naddrs, kd->addr_ttl_ms);
        p2p_peerid check;
        int r = kad_rt_add(&kd->rt, &p->id, addr_group(&p->addrs[0]), now, &check);
        if (r == KAD_RT_CHECK) kad_rt_check_done(&kd->rt, &check, true, now);   /* no checks while loading */
        added += r == KAD_RT_ADDED;
    }
    if (st.bad_lines || st.bad_addrs)
        p2p_log_info(MOD, "%s: skipped %zu bad lines and %zu bad addresses", kd->state_path, st.bad_lines,
                     st.bad_addrs);
    p2p_log_info(MOD, "loaded %zu routing table peers from %s", added, kd->state_path);
    kad_state_free(&st);
}

/* The state file: [plugin kad] state_file, else (identities kept in a
 * key file only) kad-<PeerId>.txt next to the key file. An identity
 * without a file (ephemeral, a seed, given by the application) gets no
 * default: nothing says where it lives, and a new PeerId every run would
 * leave a file per run behind. */
static char *state_path(struct kad *kd)
{
    if (!p2p_conf_bool(kd->cf, "persist")) return NULL;
    const char *set = p2p_conf_path(kd->cf, "state_file");
    if (set) return strdup(set);
    const char *idf = p2p_host_identity_file(kd->host);
    if (!idf) return NULL;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", idf);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");   /* a key file in the working directory */
    char ps[P2P_PEERID_STRMAX], path[4300];
    snprintf(path, sizeof path, "%s/kad-%s.txt", dir, kad_peer_str(p2p_host_peerid(kd->host), ps));
    return strdup(path);
}

/* ---- timers ---------------------------------------------------------------------- */

static void on_refresh(p2p_timer *t, void *arg)
{
    (void)t;
    struct kad *kd = arg;
    if (!kd->booting && (kd->rt.size || kd->nboot)) {
        int rc = kad_bootstrap_start(kd, NULL, NULL, NULL);
        if (rc) p2p_log_debug(MOD, "routing table refresh not started: %s", p2p_strerror(rc));
    }
}

static void on_maintenance(p2p_timer *t, void *arg)
{
    (void)t;
    struct kad *kd = arg;
    uint64_t now = kad_now(kd);
    kad_records_gc(&kd->records, now);
    kad_providers_gc(&kd->providers, now);
    for (struct kad_provided *p = kd->provided; p; p = p->next) {
        if (now < p->next_ms) continue;
        if (kad_provide_start(kd, p->key, p->klen, NULL, NULL, NULL) == 0) p->next_ms = now + kd->provide_interval_ms;
    }
    for (struct kad_published *p = kd->published; p; p = p->next) {
        if (now < p->next_ms) continue;
        if (kad_put_start(kd, p->key, p->klen, p->value, p->vlen, NULL, NULL, NULL) == 0)
            p->next_ms = now + kd->republish_interval_ms;
    }
    if (kd->dirty && now - kd->last_save_ms >= kd->save_interval_ms) {
        kd->last_save_ms = now;
        state_save(kd);
    }
}

static void on_reprovide(p2p_timer *t, void *arg)
{
    (void)t;
    struct kad *kd = arg;
    uint64_t now = kad_now(kd);
    size_t n = 0;
    kd->last_reprovide_ms = now;
    for (struct kad_provided *p = kd->provided; p; p = p->next) {
        if (kad_provide_start(kd, p->key, p->klen, NULL, NULL, NULL) != 0) continue;
        p->next_ms = now + kd->provide_interval_ms;
        n++;
    }
    if (n) p2p_log_debug(MOD, "our addresses changed: announced %zu provider record(s) again", n);
}

/* ---- configuration and lifecycle ---------------------------------------------------- */

static const char *const modes[] = { "auto", "client", "server", NULL };
/* In the order of enum kad_addr_policy. */
static const char *const addr_policies[] = { "scope", "public", "all", NULL };

static const struct p2p_conf_key kad_keys[] = {
    { "mode", P2P_CONF_ENUM, "auto", 0, 0, modes,
      "server: answer DHT requests and advertise the protocol; client: only ask; auto: server while "
      "[plugin autonat] finds us publicly reachable, client otherwise" },
    { "protocol", P2P_CONF_STR, "/ipfs/kad/1.0.0", 0, 0, NULL,
      "protocol id (another one makes a private DHT)" },
    { "bootstrap", P2P_CONF_MADDR_LIST, "", 0, 0, NULL,
      "bootstrap peers: multiaddrs ending in /p2p/<PeerId>" },
    { "bucket_size", P2P_CONF_INT, "20", 1, 256, NULL, "k: bucket size and replication factor" },
    { "alpha", P2P_CONF_INT, "3", 1, 32, NULL, "requests in flight per lookup (per path)" },
    { "disjoint_paths", P2P_CONF_INT, "1", 1, 8, NULL,
      "S/Kademlia disjoint lookup paths (1 = a single path, as go and rust by default)" },
    { "quorum", P2P_CONF_INT, "3", 1, 256, NULL,
      "valid values a get collects before it stops (ours counts as one)" },
    { "request_timeout", P2P_CONF_DURATION, "10s", 100, 600000, NULL, "one request, connecting included" },
    { "query_timeout", P2P_CONF_DURATION, "60s", 100, 3600000, NULL, "one lookup" },
    { "refresh_interval", P2P_CONF_DURATION, "10m", 1000, 86400000, NULL,
      "routing table refresh: self lookup, stale buckets, bootstrap peers" },
    { "replacements", P2P_CONF_INT, "5", 1, 64, NULL, "replacement cache per bucket" },
    { "max_failures", P2P_CONF_INT, "3", 1, 100, NULL, "failed requests in a row before a peer leaves the table" },
    { "max_peers_per_ip_group", P2P_CONF_INT, "0", 0, 1000, NULL,
      "peers of one public IPv4 /16 or IPv6 /32 in the table (0 = no limit)" },
    { "max_peers_per_ip_group_bucket", P2P_CONF_INT, "0", 0, 256, NULL,
      "the same per bucket (0 = no limit)" },
    { "max_message_size", P2P_CONF_SIZE, "64KiB", 4096, 4194304, NULL, "largest message we read or write" },
    { "max_value_size", P2P_CONF_SIZE, "10KiB", 64, 1048576, NULL, "largest record value we store or send" },
    { "max_records", P2P_CONF_INT, "1024", 0, 1000000, NULL, "value records we store for others" },
    { "max_records_per_peer", P2P_CONF_INT, "256", 0, 1000000, NULL,
      "value records one peer may have us store (PUT_VALUE; 0 = no limit); a full store makes room from the "
      "peer holding the most" },
    { "record_ttl", P2P_CONF_DURATION, "48h", 1000, 2592000000, NULL, "how long a stored value record lives" },
    { "max_provider_keys", P2P_CONF_INT, "4096", 0, 1000000, NULL, "keys we store provider records of" },
    { "max_providers_per_key", P2P_CONF_INT, "20", 1, 1000, NULL, "providers kept per key" },
    { "max_provider_keys_per_peer", P2P_CONF_INT, "1024", 0, 1000000, NULL,
      "provider records one peer may have us store (0 = no limit); a full store makes room from the peer "
      "holding the most" },
    { "provider_ttl", P2P_CONF_DURATION, "48h", 1000, 2592000000, NULL, "how long a provider record lives" },
    { "provider_addr_ttl", P2P_CONF_DURATION, "24h", 1000, 2592000000, NULL, "how long provider addresses are served" },
    { "provide_interval", P2P_CONF_DURATION, "22h", 1000, 2592000000, NULL, "how often our provider records are re-announced" },
    { "max_provided", P2P_CONF_INT, "1024", 1, 1000000, NULL, "keys we provide ourselves" },
    { "republish_interval", P2P_CONF_DURATION, "22h", 1000, 2592000000, NULL,
      "how often the values we published (put_value) are put again" },
    { "max_published", P2P_CONF_INT, "1024", 1, 1000000, NULL, "values we publish (and republish) ourselves" },
    { "response_addrs", P2P_CONF_ENUM, "scope", 0, 0, addr_policies,
      "addresses of peers in our responses: scope (by the requester's address: over loopback all, from a "
      "private address no loopback ones, from a public address public ones only), public (public ones only), "
      "all" },
    { "addr_ttl", P2P_CONF_DURATION, "1h", 1000, 2592000000, NULL,
      "peer store lifetime of addresses learned from the DHT (renewed for table peers)" },
    { "max_inbound_streams", P2P_CONF_INT, "64", 1, 4096, NULL, "inbound kad streams at once" },
    { "max_inbound_streams_per_peer", P2P_CONF_INT, "8", 1, 256, NULL, "inbound kad streams of one peer" },
    { "inbound_timeout", P2P_CONF_DURATION, "60s", 100, 3600000, NULL, "idle inbound stream" },
    { "max_operations", P2P_CONF_INT, "64", 1, 4096, NULL, "lookups and stores under way at once" },
    { "max_requests", P2P_CONF_INT, "256", 1, 65536, NULL, "outbound requests under way at once" },
    { "persist", P2P_CONF_BOOL, "true", 0, 0, NULL, "save the routing table and reuse it at the next start" },
    { "state_file", P2P_CONF_PATH, NULL, 0, 0, NULL,
      "where (default: kad-<PeerId>.txt next to the identity's key file; none without a key file)" },
    { "save_interval", P2P_CONF_DURATION, "5m", 1000, 86400000, NULL, "how often a changed table is saved" },
    P2P_CONF_KEYS_END
};

static int parse_bootstrap(struct kad *kd)
{
    size_t n = p2p_conf_list_len(kd->cf, "bootstrap");
    if (!n) return 0;
    kd->boot_ids = calloc(n, sizeof *kd->boot_ids);
    kd->boot_addrs = calloc(n, sizeof *kd->boot_addrs);
    if (!kd->boot_ids || !kd->boot_addrs) return P2P_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *text = p2p_conf_list_at(kd->cf, "bootstrap", i);
        p2p_multiaddr ma;
        p2p_peerid id;
        if (p2p_maddr_parse(&ma, text, NULL, 0) != 0 || p2p_peerid_from_maddr(&id, &ma) != 0) {
            p2p_host_set_error(kd->host, "bootstrap address '%s' does not end in /p2p/<PeerId>", text);
            return P2P_ECONFIG;
        }
        if (p2p_peerid_equal(&id, p2p_host_peerid(kd->host))) continue;   /* a bootstrap node listing itself */
        kd->boot_ids[kd->nboot] = id;
        kd->boot_addrs[kd->nboot++] = ma;
    }
    return 0;
}

static void kad_fini(void *state);

static int kad_init(p2p_host *h, const p2p_conf_section *cf, void **state)
{
    struct kad *kd = calloc(1, sizeof *kd);
    if (!kd) return P2P_ENOMEM;
    kd->host = h;
    kd->cf = cf;
    kd->protocol = p2p_conf_str(cf, "protocol");
    kd->protos[0] = kd->protocol;
    kd->server = p2p_conf_enum(cf, "mode") == 2;
    kd->auto_mode = p2p_conf_enum(cf, "mode") == 0;
    kd->k = (size_t)p2p_conf_int(cf, "bucket_size");
    kd->alpha = (size_t)p2p_conf_int(cf, "alpha");
    kd->paths = (size_t)p2p_conf_int(cf, "disjoint_paths");
    kd->quorum = (unsigned)p2p_conf_int(cf, "quorum");
    kd->rpc_timeout_ms = p2p_conf_duration_ms(cf, "request_timeout");
    kd->query_timeout_ms = p2p_conf_duration_ms(cf, "query_timeout");
    kd->refresh_interval_ms = p2p_conf_duration_ms(cf, "refresh_interval");
    kd->provide_interval_ms = p2p_conf_duration_ms(cf, "provide_interval");
    kd->republish_interval_ms = p2p_conf_duration_ms(cf, "republish_interval");
    kd->addr_policy = (enum kad_addr_policy)p2p_conf_enum(cf, "response_addrs");
    kd->inbound_timeout_ms = p2p_conf_duration_ms(cf, "inbound_timeout");
    kd->addr_ttl_ms = p2p_conf_duration_ms(cf, "addr_ttl");
    kd->save_interval_ms = p2p_conf_duration_ms(cf, "save_interval");
    kd->max_message = p2p_conf_size(cf, "max_message_size");
    kd->lim.max_key = 1024;
    kd->lim.max_value = p2p_conf_size(cf, "max_value_size");
    kd->lim.max_peers = 64;
    kd->lim.max_addrs = 16;
    kd->max_ops = (size_t)p2p_conf_int(cf, "max_operations");
    kd->max_rpcs = (size_t)p2p_conf_int(cf, "max_requests");
    kd->max_inbound = (size_t)p2p_conf_int(cf, "max_inbound_streams");
    kd->max_inbound_per_peer = (size_t)p2p_conf_int(cf, "max_inbound_streams_per_peer");
    kd->max_provided = (size_t)p2p_conf_int(cf, "max_provided");
    kd->max_published = (size_t)p2p_conf_int(cf, "max_published");
    if (kd->lim.max_value + 1024 > kd->max_message) {
        p2p_host_set_error(h, "max_value_size (%zu) must leave room in max_message_size (%zu)", kd->lim.max_value,
                           kd->max_message);
        free(kd);
        return P2P_ECONFIG;
    }
    struct kad_rt_config rc_cfg = {
        .k = kd->k, .replacements = (size_t)p2p_conf_int(cf, "replacements"),
        .max_failures = (unsigned)p2p_conf_int(cf, "max_failures"), .check_timeout_ms = kd->rpc_timeout_ms * 2,
        .max_per_group_bucket = (size_t)p2p_conf_int(cf, "max_peers_per_ip_group_bucket"),
        .max_per_group = (size_t)p2p_conf_int(cf, "max_peers_per_ip_group"),
    };
    int rc = kad_rt_init(&kd->rt, p2p_host_peerid(h), &rc_cfg, p2p_host_now_ms(h));
    kad_records_init(&kd->records, (size_t)p2p_conf_int(cf, "max_records"), p2p_conf_duration_ms(cf, "record_ttl"));
    kad_records_set_peer_limit(&kd->records, (size_t)p2p_conf_int(cf, "max_records_per_peer"));
    kad_providers_init(&kd->providers, (size_t)p2p_conf_int(cf, "max_provider_keys"),
                       (size_t)p2p_conf_int(cf, "max_providers_per_key"), KAD_MAX_ADDRS_OUT,
                       p2p_conf_duration_ms(cf, "provider_ttl"), p2p_conf_duration_ms(cf, "provider_addr_ttl"));
    kad_providers_set_peer_limit(&kd->providers, (size_t)p2p_conf_int(cf, "max_provider_keys_per_peer"));
    kad_validators_init(&kd->validators);
    if (rc == 0) rc = parse_bootstrap(kd);
    if (rc == 0 && kd->server) {
        rc = p2p_protocol_add(h, kd->protocol, kad_on_stream, kd);
        if (rc) p2p_host_set_error(h, "cannot register %s: %s", kd->protocol, p2p_strerror(rc));
    }
    if (rc == 0) {
        rc = p2p_service_provide(h, P2P_ROUTING_SERVICE, 1, &kad_routing_api, kd);
        if (rc == 0 && (rc = p2p_service_provide(h, P2P_ROUTING_SERVICE, 2, &kad_routing_api_v2, kd)))
            p2p_service_withdraw(h, P2P_ROUTING_SERVICE, 1);
        if (rc == 0 && (rc = p2p_service_provide(h, P2P_ROUTING_SERVICE, 3, &kad_routing_api_v3, kd))) {
            p2p_service_withdraw(h, P2P_ROUTING_SERVICE, 2);
            p2p_service_withdraw(h, P2P_ROUTING_SERVICE, 1);
        }
        if (rc) p2p_host_set_error(h, "cannot provide the routing service: %s", p2p_strerror(rc));
    }
    if (rc) {
        if (rc == P2P_ENOMEM) p2p_host_set_error(h, "out of memory");
        if (kd->server) p2p_protocol_remove(h, kd->protocol);
        kad_fini(kd);
        return rc;
    }
    kd->state_path = state_path(kd);
    *state = kd;
    return 0;
}

static int kad_start(void *state)
{
    struct kad *kd = state;
    kd->sub = p2p_host_subscribe(kd->host, P2P_EV_IDENTIFIED | P2P_EV_PEER_UPDATED | P2P_EV_ADDRS_CHANGED |
                                               P2P_EV_REACHABILITY_CHANGED,
                                 on_event, kd);
    kd->refresh_timer = p2p_timer_new(kd->host, on_refresh, kd);
    kd->gc_timer = p2p_timer_new(kd->host, on_maintenance, kd);
    kd->reprovide_timer = p2p_timer_new(kd->host, on_reprovide, kd);
    if (!kd->sub || !kd->refresh_timer || !kd->gc_timer || !kd->reprovide_timer) {
        p2p_host_set_error(kd->host, "out of memory");
        return P2P_ENOMEM;
    }
    kd->started = true;
    kad_metrics_start(kd);
    kd->last_save_ms = kad_now(kd);
    for (size_t i = 0; i < kd->nboot; i++) p2p_peerstore_add_addrs(kd->host, &kd->boot_ids[i], &kd->boot_addrs[i], 1, 0);
    state_load(kd);
    char ps[P2P_PEERID_STRMAX];
    p2p_log_info(MOD, "%s mode, protocol %s, %zu bootstrap peers, %zu peers from the saved table; we are %s",
                 kd->server ? "server" : "client", kd->protocol, kd->nboot, kd->rt.size,
                 kad_peer_str(p2p_host_peerid(kd->host), ps));
    if (kd->auto_mode) {
        struct p2p_reachability_info ri = P2P_REACHABILITY_INFO_INIT;
        p2p_host_reachability(kd->host, &ri);
        if (!ri.tracked)
            p2p_log_warn(MOD, "mode = auto, but nothing finds out whether we are reachable (add [plugin autonat]): "
                              "running as a client");
        else
            p2p_log_debug(MOD, "mode auto: a client until AutoNAT finds us publicly reachable");
        follow_reachability(kd);
    }
    p2p_timer_start(kd->refresh_timer, kd->refresh_interval_ms, kd->refresh_interval_ms);
    uint64_t every = MAINTENANCE_MS < kd->provide_interval_ms ? MAINTENANCE_MS : kd->provide_interval_ms;
    if (kd->republish_interval_ms < every) every = kd->republish_interval_ms;
    p2p_timer_start(kd->gc_timer, every, every);
    if (kd->rt.size || kd->nboot) {
        int rc = kad_bootstrap_start(kd, NULL, NULL, NULL);
        if (rc) p2p_log_warn(MOD, "bootstrap not started: %s", p2p_strerror(rc));
    }
    return 0;
}

static void kad_stop(void *state)
{
    struct kad *kd = state;
    if (!kd->started || kd->stopping) return;
    kd->stopping = true;
    kad_metrics_stop(kd);
    state_save(kd);
    kad_ops_stop_all(kd);
    kad_rpc_stop_all(kd);
    kad_in_stop_all(kd);
    p2p_timer_free(kd->refresh_timer);
    p2p_timer_free(kd->gc_timer);
    p2p_timer_free(kd->reprovide_timer);
    kd->refresh_timer = kd->gc_timer = kd->reprovide_timer = NULL;
    if (kd->sub) p2p_host_unsubscribe(kd->host, kd->sub);
    kd->sub = NULL;
    kd->started = false;
}

static void kad_fini(void *state)
{
    struct kad *kd = state;
    if (kd->started) kad_stop(kd);
    kad_rt_free(&kd->rt);
    kad_records_free(&kd->records);
    kad_providers_free(&kd->providers);
    while (kd->provided) {
        struct kad_provided *p = kd->provided;
        kd->provided = p->next;
        free(p);
    }
    kad_published_free_all(kd);
    free(kd->boot_ids);
    free(kd->boot_addrs);
    free(kd->state_path);
    free(kd);
}

static const char *const kad_requires[] = { "identify", NULL };

P2P_PLUGIN_EXPORT({
    .abi_major = P2P_ABI_MAJOR,
    .abi_minor = P2P_ABI_MINOR,
    .name = "kad",
    .version = "1.0.0",
    .description = "Kademlia DHT (libp2p kad-dht): peer, value and provider routing; the routing service",
    .requires = kad_requires,
    .config = kad_keys,
    .init = kad_init,
    .start = kad_start,
    .stop = kad_stop,
    .fini = kad_fini,
});
