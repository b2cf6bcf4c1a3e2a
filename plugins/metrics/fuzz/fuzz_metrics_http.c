/* fuzz_metrics_http.c - the metrics plugin's HTTP request-head reader
 * (metrics_http.c) on arbitrary input: the first byte picks a piece size
 * and the limits, the rest is fed in pieces. Invariants: the result is
 * MORE, DONE or an error status the plugin can answer; the reader never
 * holds more than max_size bytes; a DONE request has a method and a path
 * within their bounds; feeding the same bytes in one piece gives the
 * same answer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int feed_all(const uint8_t *data, size_t size, size_t piece, size_t max_size, size_t max_headers,
                    struct http_request *req)
{
    struct http_reader r;
    http_reader_init(&r, max_size, max_headers);
    int rc = HTTP_MORE;
    for (size_t fed = 0; fed < size && rc == HTTP_MORE;) {
        size_t k = size - fed < piece ? size - fed : piece;
        rc = http_reader_feed(&r, data + fed, k);
        fed += k;
        if (r.head.len > max_size) abort();
    }
    if (rc == HTTP_DONE) *req = r.req;
    http_reader_free(&r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t piece = (data[0] & 0x0f) + 1;
    size_t max_size = 256 + (size_t)(data[0] >> 4) * 64;
    size_t max_headers = 1 + (data[0] >> 5);
    data++;
    size--;
    struct http_request a, b;
    int ra = feed_all(data, size, piece, max_size, max_headers, &a);
    int rb = feed_all(data, size, size ? size : 1, max_size, max_headers, &b);
    switch (ra) {
    case HTTP_MORE: case HTTP_DONE: case 400: case 414: case 431: case 501: case 505: break;
    default: abort();
    }
    if (ra != rb) abort();
    if (ra == HTTP_DONE) {
        if (!a.method[0] || strlen(a.method) > HTTP_METHOD_MAX || !a.path[0] || strlen(a.path) > HTTP_PATH_MAX)
            abort();
        if (strcmp(a.method, b.method) || strcmp(a.path, b.path) || a.minor != b.minor) abort();
    }
    return 0;
}
