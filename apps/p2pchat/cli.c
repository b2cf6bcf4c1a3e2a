/* cli.c - p2pchat's command line.
 *
 *   p2pchat [-c FILE] [--set SECTION.KEY=VALUE]... [peer|relay|perf] [MODE FLAGS]
 *
 * The mode picks a built-in configuration; -c FILE replaces it. Mode flags
 * and --set are applied on top, so flags always override the file. */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "p2p/error.h"
#include "p2p/multiaddr.h"

static const char *const color_modes[] = { "auto", "always", "never", NULL };

static const struct p2p_conf_key chat_keys[] = {
    { "room", P2P_CONF_STR, "libp2p-chat", 0, 0, NULL, "chat room (gossipsub topic) to join" },
    { "bootstrap", P2P_CONF_MADDR_LIST, NULL, 0, 0, NULL,
      "peers to connect to at start (multiaddrs with /p2p/), redialed while disconnected" },
    { "room_discovery", P2P_CONF_BOOL, "true", 0, 0, NULL,
      "announce the room in the DHT and connect to its other members (needs [plugin kad])" },
    { "room_lookup_interval", P2P_CONF_DURATION, "30s", 1000, 86400000, NULL,
      "how often the DHT is asked for the room's members" },
    { "max_rooms", P2P_CONF_INT, "16", 1, 256, NULL, "rooms that can be joined at once (/join)" },
    { "nick", P2P_CONF_STR, NULL, 0, 0, NULL,
      "nickname announced to other p2pchat users (1-32 bytes; see /nick); none by default" },
    { "json", P2P_CONF_BOOL, "false", 0, 0, NULL,
      "script mode (--json): one JSON object per event on stdout, JSON commands on stdin" },
    { "color", P2P_CONF_ENUM, "auto", 0, 0, color_modes,
      "a colour per sender: auto = on a terminal unless NO_COLOR is set" },
    { "history", P2P_CONF_BOOL, "true", 0, 0, NULL, "keep the messages of each room in an SQLite database" },
    { "history_file", P2P_CONF_PATH, NULL, 0, 0, NULL,
      "the history database (default: history.db next to the identity file, in $XDG_DATA_HOME/p2pchat)" },
    { "history_show", P2P_CONF_INT, "20", 0, 1000, NULL, "messages of the history shown when joining a room (0 = none)" },
    { "history_max_rows", P2P_CONF_INT, "10000", 1, 10000000, NULL,
      "messages kept per room; older ones are deleted" },
    { "history_max_age", P2P_CONF_DURATION, "0", 0, 0, NULL,
      "messages older than this are deleted (0 = kept until history_max_rows pushes them out)" },
    P2P_CONF_KEYS_END
};

static const struct p2p_conf_key relay_keys[] = {
    { "port", P2P_CONF_INT, "4001", 0, 65535, NULL, "TCP port the relay listens on (0 = any)" },
    { "ipv6", P2P_CONF_BOOL, "false", 0, 0, NULL, "listen on IPv6 (::) instead of IPv4 (0.0.0.0)" },
    P2P_CONF_KEYS_END
};

const struct p2p_app_schema p2pchat_apps[] = {
    { "chat", chat_keys },
    { "relay", relay_keys },
    { NULL, NULL },
};

/* Built-in configurations: what `p2pchat peer` and `p2pchat relay` run
 * without -c. Plugins are added here as they land. A peer chats over
 * relayed connections (peers behind NAT meet through their relay) and
 * upgrades them with DCUtR (defaults: the spec's roles, as rust-libp2p;
 * public addresses only); gossipsub then moves to the direct connection. */
#define CONNECTION_PLUGINS_WITH(yamux_keys) \
    "[plugin transport-tcp]\n" \
    "[plugin noise]\n" \
    "[plugin yamux]\n" yamux_keys \
    "[plugin identify]\n" \
    "[plugin ping]\n"
#define CONNECTION_PLUGINS CONNECTION_PLUGINS_WITH("")

static const char peer_ini[] =
    "[host]\n"
    "listen = /ip4/0.0.0.0/tcp/0, /ip6/::/tcp/0\n"
    CONNECTION_PLUGINS
    "[plugin gossipsub]\n"
    "use_limited_connections = true\n"
    "[plugin mdns]\n"
    "[plugin autonat]\n"
    "[plugin kad]\n"
    "mode = auto\n"
    "[plugin relay]\n"
    "client = true\n"
    "reserve = auto\n"
    "[plugin dcutr]\n"
    "[app chat]\n"
    "room = libp2p-chat\n";

/* The relay: circuit relay server, AutoNAT server (tells peers whether
 * they are reachable), DHT server and bootstrap node. Yamux windows stay
 * at 256 KiB, as in config/relay.ini: a grown window only lets senders
 * park more bytes in the relay while a circuit's other side is slow. */
static const char relay_ini[] =
    "[host]\n"
    "secret_key_seed = 0\n"
    CONNECTION_PLUGINS_WITH("max_stream_window = 256KiB\n")
    "[plugin relay]\n"
    "server = true\n"
    "client = false\n"
    "[plugin autonat]\n"
    "server = true\n"
    "[plugin kad]\n"
    "mode = server\n"
    "[app relay]\n"
    "port = 4001\n";

/* perf mode: a client only (no listening, no discovery); the perf plugin's
 * service runs one measurement (perf_cli.c). */
static const char perf_ini[] =
    "[host]\n"
    "listen =\n"
    "ephemeral_identity = true\n"
    "log = warn\n"
    CONNECTION_PLUGINS
    "[plugin perf]\n";

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: p2pchat [-c FILE] [--set SECTION.KEY=VALUE]... [--without PLUGIN]... [peer|relay|perf] [FLAGS]\n"
        "\n"
        "Modes:\n"
        "  peer              a chat peer (default)\n"
        "  relay             a relay server\n"
        "  perf MADDR        measure throughput to a perf server (/perf/1.0.0)\n"
        "Run 'p2pchat peer --help', 'p2pchat relay --help' or 'p2pchat perf --help' for the flags of a mode.\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE     use FILE instead of the mode's built-in configuration\n"
        "      --set S.K=V       override one config key, e.g. --set host.log=debug,\n"
        "                        --set plugin.kad.mode=server (repeatable)\n"
        "      --without PLUGIN  do not load PLUGIN, e.g. --without mdns (repeatable)\n"
        "      --help-config     print every configuration key with its default: [host], [app],\n"
        "                        and the plugins of the configuration (add -c FILE or a mode)\n"
        "  -h, --help            this help\n"
        "  -V, --version         print the version\n"
        "\n"
        "Environment: P2P_LOG=info,yamux=trace sets log levels per module;\n"
        "P2P_PLUGIN_PATH=DIR:DIR adds plugin directories.\n"
        "Exit codes: 0 ok, 1 runtime failure, 64 bad usage, 78 bad configuration.\n");
}

static void usage_peer(FILE *f)
{
    fprintf(f,
        "Usage: p2pchat [-c FILE] peer [--listen MADDR]... [--relay MADDR]... [--bootstrap MADDR]... [--room NAME]\n"
        "                             [--nick NAME] [--json] [--perf]\n"
        "\n"
        "  -l, --listen MADDR    listen address (repeatable; default /ip4/0.0.0.0/tcp/0 and /ip6/::/tcp/0)\n"
        "  -b, --bootstrap MADDR peer to connect to, with /p2p/<PeerId> (repeatable)\n"
        "  -r, --relay MADDR     relay to reserve a slot on and be reachable through (repeatable);\n"
        "                        also used as a bootstrap peer\n"
        "  -c, --room NAME       chat room to join (default libp2p-chat); /join adds more\n"
        "      --nick NAME       nickname other p2pchat users see (/nick changes it)\n"
        "      --json            script mode: one JSON object per event on stdout, plain lines or\n"
        "                        JSON commands on stdin (docs/SCRIPTING.md)\n"
        "      --perf            serve /perf/1.0.0 (any peer may then make this node send and\n"
        "                        receive data; the same as [plugin perf] server = true)\n"
        "  -h, --help            this help\n");
}

static void usage_perf(FILE *f)
{
    fprintf(f,
        "Usage: p2pchat [-c FILE] perf MADDR [--upload BYTES] [--download BYTES] [--interval SECONDS]\n"
        "\n"
        "Dial MADDR (with /p2p/<PeerId>, or without to accept whoever answers), run one\n"
        "/perf/1.0.0 exchange and print JSON lines like the libp2p perf tools: one\n"
        "{\"type\":\"intermediary\",...} per interval, then {\"type\":\"final\",...}.\n"
        "The server is e.g. 'p2pchat peer --perf'.\n"
        "\n"
        "  -u, --upload BYTES     bytes to send (default 0); suffixes K, M, G (1000^n), KiB, MiB, GiB\n"
        "  -d, --download BYTES   bytes to ask the server for (default 0)\n"
        "  -i, --interval SECONDS intermediary reports (default 1; 0 = final only)\n"
        "  -h, --help             this help\n"
        "Exit codes: 0 when exactly the bytes asked for came back, 1 otherwise.\n");
}

static void usage_relay(FILE *f)
{
    fprintf(f,
        "Usage: p2pchat [-c FILE] relay [--port PORT] [--ipv6] [--secret-key-seed N] [--metrics IP:PORT]\n"
        "\n"
        "  -p, --port PORT           TCP port to listen on (default 4001; 0 picks one)\n"
        "      --ipv6                listen on :: instead of 0.0.0.0\n"
        "      --secret-key-seed N   deterministic identity from N (0-255, default 0),\n"
        "                            the same PeerId as rust-libp2p's relay-server example\n"
        "      --metrics IP:PORT     serve Prometheus metrics at http://IP:PORT/metrics\n"
        "                            (e.g. 127.0.0.1:9090; the same as [plugin metrics] listen)\n"
        "  -h, --help                this help\n");
}

static int set_or_fail(struct p2pchat_opts *o, const char *section, const char *key, const char *value)
{
    char err[512];
    if (p2p_conf_set(o->conf, section, key, value, err, sizeof err) != 0) {
        fprintf(stderr, "p2pchat: %s\n", err);
        return EXIT_USAGE;
    }
    return -1;
}

/* Check a multiaddr flag and append it to a comma-separated list. */
static int append_maddr(char *list, size_t cap, const char *arg, const char *flag, const char *example,
                        bool need_peer)
{
    p2p_multiaddr ma;
    char why[256];
    struct p2p_maddr_component comp;
    if (p2p_maddr_parse(&ma, arg, why, sizeof why) != 0) {
        fprintf(stderr, "p2pchat peer: %s '%s' is not a multiaddr (%s); try for example %s %s\n", flag, arg, why,
                flag, example);
        return -1;
    }
    if (need_peer && !p2p_maddr_find(&ma, P2P_MA_P2P, &comp)) {
        fprintf(stderr, "p2pchat peer: %s '%s' lacks the peer's /p2p/<PeerId>; try for example %s %s\n", flag,
                arg, flag, example);
        return -1;
    }
    size_t l = strlen(list);
    if (l + strlen(arg) + 3 >= cap) {
        fprintf(stderr, "p2pchat peer: too many %s addresses\n", flag);
        return -1;
    }
    snprintf(list + l, cap - l, "%s%s", l ? ", " : "", arg);
    return 0;
}

static int parse_peer(int argc, char **argv, struct p2pchat_opts *o)
{
    static const struct option longopts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "room", required_argument, NULL, 'c' },
        { "bootstrap", required_argument, NULL, 'b' },
        { "relay", required_argument, NULL, 'r' },
        { "perf", no_argument, NULL, 'P' },
        { "json", no_argument, NULL, 'J' },
        { "nick", required_argument, NULL, 'N' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char listen[4096] = "", boot[8192] = "", relays[4096] = "";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+l:c:b:r:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (append_maddr(listen, sizeof listen, optarg, "--listen", "/ip4/0.0.0.0/tcp/4001", false) < 0)
                return EXIT_USAGE;
            break;
        case 'b':
            if (append_maddr(boot, sizeof boot, optarg, "--bootstrap",
                             "/ip4/198.51.100.7/tcp/4001/p2p/12D3KooW...", true) < 0)
                return EXIT_USAGE;
            break;
        case 'r':
            /* A relay is also a bootstrap peer (chat and DHT). */
            if (append_maddr(relays, sizeof relays, optarg, "--relay",
                             "/ip4/198.51.100.7/tcp/4001/p2p/12D3KooW...", true) < 0 ||
                append_maddr(boot, sizeof boot, optarg, "--relay", "", true) < 0)
                return EXIT_USAGE;
            break;
        case 'c': {
            int rc = set_or_fail(o, "app chat", "room", optarg);
            if (rc >= 0) return rc;
            break;
        }
        case 'P': {
            int rc = set_or_fail(o, "plugin perf", "server", "true");
            if (rc >= 0) return rc;
            break;
        }
        case 'J':
        case 'N': {
            int rc = set_or_fail(o, "app chat", c == 'J' ? "json" : "nick", c == 'J' ? "true" : optarg);
            if (rc >= 0) return rc;
            break;
        }
        case 'h': usage_peer(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Run 'p2pchat peer --help' for the flags of this mode.\n");
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "p2pchat peer: unexpected argument '%s'; run 'p2pchat peer --help'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (boot[0]) {
        int rc = set_or_fail(o, "app chat", "bootstrap", boot);
        if (rc >= 0) return rc;
        if (p2p_conf_find(o->conf, "plugin kad") && (rc = set_or_fail(o, "plugin kad", "bootstrap", boot)) >= 0)
            return rc;
    }
    if (relays[0]) {
        int rc = set_or_fail(o, "plugin relay", "relays", relays);
        if (rc >= 0) return rc;
        o->want_circuit = true;
    }
    if (listen[0]) return set_or_fail(o, "host", "listen", listen);
    return -1;
}

static int parse_relay(int argc, char **argv, struct p2pchat_opts *o)
{
    static const struct option longopts[] = {
        { "port", required_argument, NULL, 'p' },
        { "ipv6", no_argument, NULL, '6' },
        { "secret-key-seed", required_argument, NULL, 's' },
        { "metrics", required_argument, NULL, 'm' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || v < 0 || v > 65535) {
                fprintf(stderr, "p2pchat relay: --port '%s' is not a port; expected a number from 0 to 65535\n", optarg);
                return EXIT_USAGE;
            }
            if ((rc = set_or_fail(o, "app relay", "port", optarg)) >= 0) return rc;
            break;
        }
        case '6':
            if ((rc = set_or_fail(o, "app relay", "ipv6", "true")) >= 0) return rc;
            break;
        case 's': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || v < 0 || v > 255) {
                fprintf(stderr, "p2pchat relay: --secret-key-seed '%s' is not valid; expected a number from 0 to 255\n", optarg);
                return EXIT_USAGE;
            }
            if ((rc = set_or_fail(o, "host", "secret_key_seed", optarg)) >= 0) return rc;
            break;
        }
        case 'm':   /* the plugin checks the address when it loads */
            if ((rc = set_or_fail(o, "plugin metrics", "listen", optarg)) >= 0) return rc;
            break;
        case 'h': usage_relay(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Run 'p2pchat relay --help' for the flags of this mode.\n");
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "p2pchat relay: unexpected argument '%s'; run 'p2pchat relay --help'\n", argv[optind]);
        return EXIT_USAGE;
    }
    return -1;
}

static int parse_perf(int argc, char **argv, struct p2pchat_opts *o)
{
    static const struct option longopts[] = {
        { "upload", required_argument, NULL, 'u' },
        { "download", required_argument, NULL, 'd' },
        { "interval", required_argument, NULL, 'i' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    const char *addr = NULL;
    o->perf_interval_ms = 1000;
    optind = 0;   /* 0, not 1: glibc then re-initialises and permutes (the first pass used '+') */
    /* Options and the address in any order (no '+'). */
    while ((c = getopt_long(argc, argv, "u:d:i:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'u':
        case 'd':
            if (p2pchat_parse_bytes(optarg, c == 'u' ? &o->perf_upload : &o->perf_download) != 0) {
                fprintf(stderr, "p2pchat perf: --%s '%s' is not a byte count; try for example 1GiB, 100MB or 65536\n",
                        c == 'u' ? "upload" : "download", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'i': {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(v >= 0) || v > 3600) {
                fprintf(stderr, "p2pchat perf: --interval '%s' is not a number of seconds from 0 to 3600\n", optarg);
                return EXIT_USAGE;
            }
            o->perf_interval_ms = (uint32_t)(v * 1000 + 0.5);
            break;
        }
        case 'h': usage_perf(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Run 'p2pchat perf --help' for the flags of this mode.\n");
            return EXIT_USAGE;
        }
    }
    for (; optind < argc; optind++) {
        if (addr) {
            fprintf(stderr, "p2pchat perf: unexpected argument '%s'; run 'p2pchat perf --help'\n", argv[optind]);
            return EXIT_USAGE;
        }
        addr = argv[optind];
    }
    if (!addr) {
        fprintf(stderr, "p2pchat perf: the server's multiaddr is missing; try for example "
                        "p2pchat perf /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW... --upload 1GiB\n");
        return EXIT_USAGE;
    }
    char why[256];
    if (p2p_maddr_parse(&o->perf_addr, addr, why, sizeof why) != 0) {
        fprintf(stderr, "p2pchat perf: '%s' is not a multiaddr (%s); try for example "
                        "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...\n", addr, why);
        return EXIT_USAGE;
    }
    /* A configuration file without the perf plugin gets it (client only). */
    if (!p2p_conf_find(o->conf, "plugin perf")) return set_or_fail(o, "plugin perf", "server", "false");
    return -1;
}

int p2pchat_parse_args(int argc, char **argv, struct p2pchat_opts *o)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "set", required_argument, NULL, 'S' },
        { "without", required_argument, NULL, 'W' },
        { "help-config", no_argument, NULL, 'H' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *sets[64], *without[32];
    size_t nsets = 0, nwithout = 0;
    int c;
    memset(o, 0, sizeof *o);
    opterr = 1;
    optind = 0;   /* full re-initialisation: this runs again on SIGHUP */
    /* '+': stop at the first non-option (the mode); its flags follow. */
    while ((c = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config_file = optarg; break;
        case 'S':
            if (nsets == sizeof sets / sizeof *sets) {
                fprintf(stderr, "p2pchat: too many --set options\n");
                return EXIT_USAGE;
            }
            sets[nsets++] = optarg;
            break;
        case 'W':
            if (nwithout == sizeof without / sizeof *without) {
                fprintf(stderr, "p2pchat: too many --without options\n");
                return EXIT_USAGE;
            }
            without[nwithout++] = optarg;
            break;
        case 'H': o->help_config = true; break;
        case 'h': usage(stdout); return EXIT_OK;
        case 'V': printf("p2pchat %s (libp2pcore %s)\n", P2PCHAT_VERSION, p2p_version()); return EXIT_OK;
        default:
            fprintf(stderr, "Run 'p2pchat --help' for usage.\n");
            return EXIT_USAGE;
        }
    }
    int rest = optind;
    if (rest < argc) {
        if (!strcmp(argv[rest], "peer")) o->mode = MODE_PEER;
        else if (!strcmp(argv[rest], "relay")) o->mode = MODE_RELAY;
        else if (!strcmp(argv[rest], "perf")) o->mode = MODE_PERF;
        else {
            fprintf(stderr, "p2pchat: unknown mode '%s'; expected 'peer', 'relay' or 'perf' (run 'p2pchat --help')\n", argv[rest]);
            return EXIT_USAGE;
        }
    }

    char err[1024];
    if (o->config_file) {
        o->conf = p2p_conf_load_file(o->config_file, err, sizeof err);
        if (!o->conf) {
            fprintf(stderr, "p2pchat: %s\n", err);
            return EXIT_CONFIG;
        }
        if (o->mode == MODE_NONE)
            o->mode = p2p_conf_find(o->conf, "app relay") ? MODE_RELAY : MODE_PEER;
    } else {
        if (o->mode == MODE_NONE) o->mode = MODE_PEER;
        o->conf = p2p_conf_load_string(o->mode == MODE_RELAY  ? relay_ini
                                       : o->mode == MODE_PERF ? perf_ini
                                                              : peer_ini,
                                       o->mode == MODE_RELAY  ? "(built-in relay config)"
                                       : o->mode == MODE_PERF ? "(built-in perf config)"
                                                              : "(built-in peer config)",
                                       err, sizeof err);
        if (!o->conf) {
            fprintf(stderr, "p2pchat: internal error in the built-in config: %s\n", err);
            return EXIT_RUNTIME;
        }
    }
    int rc = -1;
    if (rest < argc) {
        rc = o->mode == MODE_RELAY  ? parse_relay(argc - rest, argv + rest, o)
             : o->mode == MODE_PERF ? parse_perf(argc - rest, argv + rest, o)
                                    : parse_peer(argc - rest, argv + rest, o);
    }
    for (size_t i = 0; rc < 0 && i < nwithout; i++) {
        char name[96];
        snprintf(name, sizeof name, "plugin %s", without[i]);
        if (p2p_conf_remove_section(o->conf, name) != 0) {
            fprintf(stderr, "p2pchat: --without %s: the configuration has no [plugin %s]\n", without[i], without[i]);
            rc = EXIT_USAGE;
        }
    }
    for (size_t i = 0; rc < 0 && i < nsets; i++) {
        if (p2p_conf_set_arg(o->conf, sets[i], err, sizeof err) != 0) {
            fprintf(stderr, "p2pchat: --set %s: %s\n", sets[i], err);
            rc = EXIT_USAGE;
        }
    }
    if (rc >= 0) {
        p2p_conf_free(o->conf);
        o->conf = NULL;
    }
    return rc;
}

void p2pchat_close_signals(uv_loop_t *loop, uv_signal_t *const *sigs, size_t n)
{
    /* Closing the last handle of a signal restores its default action
     * (libuv unblocks signals right after): keep SIGINT/SIGTERM blocked
     * until they are ignored, so one arriving in between is discarded,
     * not fatal. */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    for (size_t i = 0; i < n; i++) uv_close((uv_handle_t *)sigs[i], NULL);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
}
