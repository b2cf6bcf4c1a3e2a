/* fuzz_chat_cmd.c - the chat's input parsers (a typed line, a JSON
 * command) on arbitrary bytes, and the JSON writer's escaping: whatever
 * the bytes, the writer's output parses back, as valid UTF-8, and equals
 * the input when the input was valid UTF-8 without NUL. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "json.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    struct chat_cmd c;
    char err[256];
    char *line = malloc(size + 1);
    char *store = malloc(CMD_JSON_STORE(size));
    if (!line || !store) abort();
    memcpy(line, data, size);
    line[size] = 0;
    cmd_parse_json(line, size, &c, store, CMD_JSON_STORE(size), err, sizeof err);
    cmd_parse_line(line, size, &c, err, sizeof err);

    struct json_w w;
    json_w_init(&w);
    json_w_obj_open(&w, NULL);
    json_w_str(&w, "t", data, size);
    json_w_obj_close(&w);
    const char *out = json_w_finish(&w);
    if (!out) abort();
    size_t olen = strlen(out);
    if (!text_utf8_valid((const uint8_t *)out, olen)) abort();
    struct json_field f[JSON_MAX_FIELDS];
    char *st = malloc(olen + 64);
    if (!st) abort();
    if (json_parse_flat(out, olen, f, st, olen + 64, err, sizeof err) != 1 || f[0].type != JSON_STR) abort();
    if (text_utf8_valid(data, size) && (f[0].len != size || memcmp(f[0].str, data, size))) abort();
    free(st);
    json_w_free(&w);
    free(line);
    free(store);
    return 0;
}
