/* json.h - the JSON of the chat's script mode (--json): a writer for one
 * object per line with untrusted bytes escaped, and a strict parser for
 * one flat command object. No I/O.
 *
 * Writer: every string goes through json_w_str, which turns any byte
 * sequence into valid JSON: malformed UTF-8 becomes U+FFFD, controls and
 * U+2028/U+2029 become \u escapes. Memory: the writer's buffer is owned
 * by it (json_w_free); errors (out of memory) are sticky and reported by
 * json_w_finish. */
#ifndef P2PCHAT_JSON_H
#define P2PCHAT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/buf.h"

struct json_w {
    p2p_buf b;
    bool comma;   /* a value was written at this level: the next needs ',' */
    int err;
};

void json_w_init(struct json_w *w);
void json_w_free(struct json_w *w);
/* Start over (keeps the memory). */
void json_w_reset(struct json_w *w);
/* key is NULL inside arrays and for the outermost object. */
void json_w_obj_open(struct json_w *w, const char *key);
void json_w_obj_close(struct json_w *w);
void json_w_arr_open(struct json_w *w, const char *key);
void json_w_arr_close(struct json_w *w);
/* Any bytes (see above). */
void json_w_str(struct json_w *w, const char *key, const uint8_t *s, size_t len);
void json_w_cstr(struct json_w *w, const char *key, const char *s);
void json_w_int(struct json_w *w, const char *key, int64_t v);
/* A number with 3 decimals (milliseconds with microseconds). */
void json_w_ms(struct json_w *w, const char *key, double v);
void json_w_bool(struct json_w *w, const char *key, bool v);
/* NUL-terminated text (no newline), valid until the next call; NULL
 * after an error. */
const char *json_w_finish(struct json_w *w);

/* ---- parsing ----------------------------------------------------------- */

enum json_type { JSON_STR = 1, JSON_NUM, JSON_BOOL, JSON_NULL };

struct json_field {
    const char *key;     /* NUL-terminated, in the caller's store */
    enum json_type type;
    const char *str;     /* JSON_STR: decoded bytes, NUL-terminated (may contain NUL: use len) */
    size_t len;
    double num;          /* JSON_NUM */
    bool is_int;         /* JSON_NUM written without fraction or exponent */
    bool b;              /* JSON_BOOL */
};

#define JSON_MAX_FIELDS 16
#define JSON_MAX_KEY 32

/* Parse one object whose values are strings, numbers, booleans or null
 * (no nesting), with only blanks around it. Strings must be valid UTF-8
 * and are decoded into store (needs len + JSON_MAX_FIELDS * 2 bytes at
 * most; keys go there too). Duplicate keys, keys longer than
 * JSON_MAX_KEY and more than JSON_MAX_FIELDS fields are errors. Returns
 * the number of fields, or -1 with a sentence in err. */
int json_parse_flat(const char *in, size_t len, struct json_field *fields, char *store, size_t storecap,
                    char *err, size_t errlen);

#endif
