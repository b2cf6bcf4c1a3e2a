/* config_int.h - internals shared by config.c (structure, parsing,
 * accessors) and config_value.c (typed values, schema printing). */
#ifndef P2P_CONFIG_INT_H
#define P2P_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/config.h"

/* Input limits: a configuration is small and hand-written; the limits keep
 * memory and time bounded (and linear) whatever the input. */
#define CONF_LINE_MAX 8192        /* bytes per line, without the newline */
#define CONF_TEXT_MAX (1u << 20)  /* bytes per file or string */
#define CONF_NAME_MAX 64          /* NAME of [plugin NAME] / [app NAME] */
#define CONF_KEY_MAX 64           /* bytes of a key */
#define CONF_SECTIONS_MAX 256     /* sections per file */
#define CONF_KEYS_MAX 512         /* keys per section */

/* Messages quote at most this many bytes of a value. */
#define CONF_QUOTE_MAX 80

/* One key = value of a section. Texts live in the conf's arena and are
 * never freed before p2p_conf_free (the accessors hand them out). */
struct conf_entry {
    const char *key;
    const char *text;            /* value, trimmed */
    const char *file;            /* NULL: command line (or default) */
    int line;
    bool is_default;             /* filled in from the schema by validate */
    /* Typed form, parsed by validate; meaningful when parsed == the type. */
    enum p2p_conf_type parsed;   /* 0: not parsed (yet) */
    union {
        int64_t i;               /* INT, DURATION (ms), SIZE (bytes) */
        bool b;
        int e;                   /* ENUM index */
        const char *path;        /* PATH, expanded */
        p2p_multiaddr *ma;       /* MADDR */
    } v;
    const char **items;          /* LIST, MADDR_LIST */
    size_t nitems;
};

/* Key names and types of the schema the section was last validated with:
 * a copy, because a schema may not outlive the call (a compound literal,
 * a plugin that gets unloaded). One malloc block, names included. */
struct conf_known {
    const char *name;
    enum p2p_conf_type type;
};

struct p2p_conf_section {
    p2p_conf *cf;
    const char *full;            /* "plugin kad" */
    const char *kind;            /* "host", "plugin", "app" */
    const char *name;            /* "kad", or "host" */
    const char *origin;          /* "peer.ini:3" or "command line" */
    int line;                    /* 0: command line */
    struct conf_entry *ents;     /* malloc'ed, in file order */
    size_t nents, capents;
    struct conf_known *known;    /* NULL until validated */
    size_t nknown;
};

struct conf_block;

struct p2p_conf {
    struct conf_block *arena;
    p2p_conf_section **secs;     /* live sections, in order */
    size_t nsecs, capsecs;
    /* Every section ever created, including removed ones: their pointers
     * stay valid until p2p_conf_free, as the header promises. */
    p2p_conf_section **all;
    size_t nall, capall;
};

/* Arena allocation (NULL when out of memory). */
void *conf_alloc(p2p_conf *cf, size_t n);
char *conf_strndup(p2p_conf *cf, const char *s, size_t n);
char *conf_strdup(p2p_conf *cf, const char *s);

/* Sections and entries (config.c). */
bool conf_key_char(int c);
/* Check "host", "plugin NAME" or "app NAME" (len bytes at s); sets
 * *kindlen to the length of the kind word, or writes "what is wrong;
 * expected ..." into why. */
bool conf_section_name_ok(const char *s, size_t len, size_t *kindlen, char *why, size_t whylen);
p2p_conf_section *conf_find_section(const p2p_conf *cf, const char *full, size_t len);
/* Append a section; file NULL means the command line. NULL: no memory. */
p2p_conf_section *conf_section_new(p2p_conf *cf, const char *full, size_t len, size_t kindlen,
                                   const char *file, int line);
/* Any entry with this key, schema defaults included. */
struct conf_entry *conf_entry_find(const p2p_conf_section *sec, const char *key);
struct conf_entry *conf_entry_add(p2p_conf_section *sec);

/* The first key whose value differs between two sections (validated
 * with the same schema, so defaults are entries), or NULL. */
const char *conf_section_first_diff(const p2p_conf_section *a, const p2p_conf_section *b);

/* Whitespace as inih strips it (isspace in the C locale). */
bool conf_isspace(int c);

/* Write at most CONF_QUOTE_MAX bytes of s into out, with "..." when cut
 * and '?' for control bytes; for quoting user input in messages (out
 * should have CONF_QUOTE_MAX + 4 bytes). */
void conf_quote(char *out, size_t cap, const char *s);
void conf_quote_n(char *out, size_t cap, const char *s, size_t len);   /* len bytes at s */

/* Parse e->text as type k->type into e's typed fields. Returns 0,
 * P2P_ENOMEM, or P2P_ECONFIG with "what is wrong; expected ..." in why. */
int conf_value_parse(p2p_conf *cf, const struct p2p_conf_key *k, struct conf_entry *e,
                     char *why, size_t whylen);

/* A schema entry that cannot work (bad type, ENUM without choices, min >
 * max): returns false with the reason in why. */
bool conf_key_sane(const struct p2p_conf_key *k, char *why, size_t whylen);

#endif
