/* fuzz_config: parse any text as a configuration, validate every section
 * against a schema with every value type, and read every key back with
 * every accessor. The first line, if a comment, is also tried as a
 * command-line setting ("; plugin.kad.mode=server"). Failures must come
 * with a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const choices[] = { "client", "server", "auto", NULL };

static const struct p2p_conf_key schema[] = {
    { "s", P2P_CONF_STR, NULL, 0, 0, NULL, NULL },
    { "i", P2P_CONF_INT, "5", -10, 100, NULL, NULL },
    { "n", P2P_CONF_INT, NULL, 0, 0, NULL, NULL },
    { "b", P2P_CONF_BOOL, "no", 0, 0, NULL, NULL },
    { "e", P2P_CONF_ENUM, "auto", 0, 0, choices, NULL },
    { "d", P2P_CONF_DURATION, "30s", 0, 0, NULL, NULL },
    { "dr", P2P_CONF_DURATION, NULL, 1000, 86400000, NULL, NULL },
    { "z", P2P_CONF_SIZE, "64KiB", 0, 0, NULL, NULL },
    { "zr", P2P_CONF_SIZE, NULL, 1024, 1 << 30, NULL, NULL },
    { "m", P2P_CONF_MADDR, "/ip4/127.0.0.1/tcp/1", 0, 0, NULL, NULL },
    { "ml", P2P_CONF_MADDR_LIST, "/ip4/0.0.0.0/tcp/0", 0, 0, NULL, NULL },
    { "l", P2P_CONF_LIST, NULL, 0, 0, NULL, NULL },
    { "p", P2P_CONF_PATH, "~/x", 0, 0, NULL, NULL },
    P2P_CONF_KEYS_END
};

static void read_all(const p2p_conf_section *sec)
{
    volatile uint64_t sink = 0;
    p2p_multiaddr ma;
    for (const struct p2p_conf_key *k = schema; k->name; k++) {
        const char *s = p2p_conf_str(sec, k->name);
        if (s) sink += strlen(s);
        sink += (uint64_t)p2p_conf_int(sec, k->name) + p2p_conf_bool(sec, k->name) +
                (uint64_t)p2p_conf_enum(sec, k->name) + p2p_conf_duration_ms(sec, k->name) +
                p2p_conf_size(sec, k->name) + p2p_conf_is_set(sec, k->name);
        if (p2p_conf_maddr(sec, k->name, &ma)) sink += ma.len;
        for (size_t i = 0; i < p2p_conf_list_len(sec, k->name); i++)
            sink += strlen(p2p_conf_list_at(sec, k->name, i));
        if ((s = p2p_conf_path(sec, k->name))) sink += strlen(s);
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    err[0] = 0;
    p2p_conf *cf = p2p_conf_load_string(text, "fuzz.ini", err, sizeof err);
    if (!cf) {
        if (strncmp(err, "fuzz.ini", 8) != 0) abort();   /* every error names the input */
        free(text);
        return 0;
    }
    /* The first line, less a leading comment marker, as a setting. */
    char *nl = strchr(text, '\n'), *arg = text;
    if (nl) *nl = 0;
    while (*arg == ';' || *arg == '#' || *arg == ' ') arg++;
    err[0] = 0;
    if (p2p_conf_set_arg(cf, arg, err, sizeof err) != 0 && !err[0]) abort();
    for (size_t i = 0; i < p2p_conf_section_count(cf); i++) {
        p2p_conf_section *sec = p2p_conf_section_at(cf, i);
        err[0] = 0;
        if (p2p_conf_validate(sec, schema, err, sizeof err) != 0 && !err[0]) abort();
        read_all(sec);
        if (!p2p_conf_section_kind(sec) || !p2p_conf_section_name(sec) || !p2p_conf_section_origin(sec))
            abort();
    }
    /* Unlink the first section; its pointer must stay usable. */
    if (p2p_conf_section_count(cf) > 0) {
        p2p_conf_section *first = p2p_conf_section_at(cf, 0);
        char full[128];
        if (!strcmp(p2p_conf_section_kind(first), "host")) strcpy(full, "host");
        else snprintf(full, sizeof full, "%s %s", p2p_conf_section_kind(first), p2p_conf_section_name(first));
        if (p2p_conf_remove_section(cf, full) != 0) abort();
        read_all(first);
    }
    p2p_conf_free(cf);
    free(text);
    return 0;
}
