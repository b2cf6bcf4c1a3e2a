/* p2p/config.h - INI configuration (parsed with inih), strict.
 *
 * A file has three kinds of sections:
 *   [host]           keys of the core (see docs/CONFIG.md)
 *   [plugin NAME]    naming the section loads plugin NAME; its keys are
 *                    declared by the plugin's descriptor (p2p/plugin.h)
 *   [app NAME]       keys of a front-end, declared by the application
 * Anything else is an error. Keys are validated against a schema (an array
 * of struct p2p_conf_key): an unknown key, a duplicate key or section, or a
 * value of the wrong form is an error naming the file, the line, the
 * section and key, and what was expected, e.g.
 *   peer.ini:12: [plugin kad] key 'mdoe' is unknown; known keys: mode, bootstrap
 *   peer.ini:3: [host] listen: '/ip4/1.2.3/tcp/1' is not a multiaddr (bad ip4 address '1.2.3'); expected a comma-separated list of multiaddrs
 * Values set from the command line (p2p_conf_set) replace file values and
 * are reported as "command line" instead of file:line.
 *
 * Lifetimes: a p2p_conf owns all its strings; section pointers and every
 * string returned by the accessors stay valid until p2p_conf_free. Plugins
 * receive a const p2p_conf_section * in init and may keep it for the life of
 * the host (the host keeps the p2p_conf alive). */
#ifndef P2P_CONFIG_H
#define P2P_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "api.h"
#include "multiaddr.h"

P2P_BEGIN_DECLS

typedef struct p2p_conf p2p_conf;
typedef struct p2p_conf_section p2p_conf_section;

enum p2p_conf_type {
    P2P_CONF_STR = 1,     /* any non-empty string */
    P2P_CONF_INT,         /* decimal integer within [min, max] */
    P2P_CONF_BOOL,        /* true/false, yes/no, on/off, 1/0 */
    P2P_CONF_ENUM,        /* one of choices */
    P2P_CONF_DURATION,    /* "500ms", "30s", "5m", "2h", "1d"; bare number = seconds; stored as ms within [min, max] */
    P2P_CONF_SIZE,        /* "65536", "64KiB", "1MiB", "2GiB" (also KB/MB/GB = 1000^n); bytes within [min, max] */
    P2P_CONF_MADDR,       /* one multiaddr */
    P2P_CONF_MADDR_LIST,  /* comma-separated multiaddrs (may be empty) */
    P2P_CONF_LIST,        /* comma-separated non-empty strings (may be empty) */
    P2P_CONF_PATH         /* a file system path; a leading "~/" is expanded from $HOME */
};

/* One key of a schema. Arrays of keys end with an entry whose name is
 * NULL (P2P_CONF_KEYS_END). min/max apply to INT, DURATION and SIZE; both 0
 * means unbounded (INT: int64 range; DURATION/SIZE: >= 0). */
struct p2p_conf_key {
    const char *name;
    enum p2p_conf_type type;
    const char *def;                 /* default, in text form; NULL = none */
    int64_t min, max;
    const char *const *choices;      /* ENUM: NULL-terminated */
    const char *help;                /* one line, shown by --help-config */
};
#define P2P_CONF_KEYS_END { NULL, 0, NULL, 0, 0, NULL, NULL }

/* Parse a file or a string (name is used in messages). Only syntax and
 * section kinds are checked here; keys are checked by p2p_conf_validate.
 * Returns NULL with a sentence in err on error (file:line: ...). */
P2P_API p2p_conf *p2p_conf_load_file(const char *path, char *err, size_t errlen);
P2P_API p2p_conf *p2p_conf_load_string(const char *text, const char *name, char *err, size_t errlen);
/* An empty configuration (no sections). */
P2P_API p2p_conf *p2p_conf_new(void);
P2P_API void p2p_conf_free(p2p_conf *cf);

/* Set one key from the command line, creating the section if needed.
 * section is "host", "plugin NAME" or "app NAME". The value replaces any
 * file value. An invalid section name gives P2P_EINVAL and a sentence. */
P2P_API int p2p_conf_set(p2p_conf *cf, const char *section, const char *key,
                         const char *value, char *err, size_t errlen);
/* Parse "SECTION.KEY=VALUE" where SECTION is host, plugin.NAME or
 * app.NAME (e.g. "plugin.kad.mode=server") and set it. */
P2P_API int p2p_conf_set_arg(p2p_conf *cf, const char *arg, char *err, size_t errlen);
/* Create an empty section if absent (e.g. to load a plugin). */
P2P_API p2p_conf_section *p2p_conf_add_section(p2p_conf *cf, const char *section, char *err, size_t errlen);
/* Remove a section (e.g. to unload a plugin by command line); 0 or P2P_ENOTFOUND. */
P2P_API int p2p_conf_remove_section(p2p_conf *cf, const char *section);

/* Check every key of a section against schema; fills defaults for later
 * lookups. Returns 0 or P2P_ECONFIG with the first error in err. */
P2P_API int p2p_conf_validate(p2p_conf_section *sec, const struct p2p_conf_key *schema,
                              char *err, size_t errlen);

/* Sections, in file order (command-line sections after). */
P2P_API size_t p2p_conf_section_count(const p2p_conf *cf);
P2P_API p2p_conf_section *p2p_conf_section_at(const p2p_conf *cf, size_t i);
/* Find by full name ("host", "plugin kad", "app chat"); NULL if absent. */
P2P_API p2p_conf_section *p2p_conf_find(const p2p_conf *cf, const char *section);
/* "plugin" / "app" / "host" */
P2P_API const char *p2p_conf_section_kind(const p2p_conf_section *sec);
/* NAME of [plugin NAME] / [app NAME]; "host" for [host]. */
P2P_API const char *p2p_conf_section_name(const p2p_conf_section *sec);
/* "file:line" (or "command line") where the section started. */
P2P_API const char *p2p_conf_section_origin(const p2p_conf_section *sec);

/* Typed accessors for a validated section. A key absent from the section
 * gives its schema default; a key without default (or not in the schema)
 * gives NULL / 0 / false / empty list. They never fail. */
P2P_API bool p2p_conf_is_set(const p2p_conf_section *sec, const char *key);
P2P_API const char *p2p_conf_str(const p2p_conf_section *sec, const char *key);
P2P_API int64_t p2p_conf_int(const p2p_conf_section *sec, const char *key);
P2P_API bool p2p_conf_bool(const p2p_conf_section *sec, const char *key);
P2P_API int p2p_conf_enum(const p2p_conf_section *sec, const char *key);   /* index in choices, -1 if unset */
P2P_API uint64_t p2p_conf_duration_ms(const p2p_conf_section *sec, const char *key);
P2P_API uint64_t p2p_conf_size(const p2p_conf_section *sec, const char *key);
/* MADDR: copies into *out; returns false when unset. */
P2P_API bool p2p_conf_maddr(const p2p_conf_section *sec, const char *key, p2p_multiaddr *out);
/* LIST and MADDR_LIST: number of items and item i (text, trimmed). */
P2P_API size_t p2p_conf_list_len(const p2p_conf_section *sec, const char *key);
P2P_API const char *p2p_conf_list_at(const p2p_conf_section *sec, const char *key, size_t i);
/* PATH: the expanded path, or NULL. */
P2P_API const char *p2p_conf_path(const p2p_conf_section *sec, const char *key);

/* Whether key has another value in b than in a (two validated sections of
 * one schema, e.g. the old and the new section in a plugin's reload):
 * values are compared as written ("1m" and "60s" differ). */
P2P_API bool p2p_conf_key_changed(const p2p_conf_section *a, const p2p_conf_section *b, const char *key);

/* Print the schema as commented INI (for --help-config and docs). */
P2P_API void p2p_conf_schema_print(const char *section, const struct p2p_conf_key *schema, void *file /* FILE* */);

P2P_END_DECLS
#endif
