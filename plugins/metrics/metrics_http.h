/* metrics_http.h - the metrics plugin's HTTP/1.x side without I/O: a
 * bounded reader of one request head (RFC 9112 request line and header
 * fields; no body is read), and the responses.
 *
 * The reader keeps at most max_size bytes: a head that does not end
 * within them is 431, as is one with more than max_headers fields. What
 * it accepts: "METHOD SP request-target SP HTTP/1.x" then "name: value"
 * fields, lines ending in CRLF (a bare LF is accepted, as RFC 9112 2.2
 * allows), an empty line at the end. Refused with 400: control
 * characters, a field name that is not a token, obsolete line folding, a
 * request-target that is neither origin-form nor absolute-form, an
 * HTTP/1.1 request without exactly one Host field; with 505 any version
 * but 1.0 and 1.1. Routing (405 for other methods, 404 for other paths)
 * is the caller's, from the parsed request. */
#ifndef METRICS_HTTP_H
#define METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p/buf.h"

#define HTTP_METHOD_MAX 16
#define HTTP_PATH_MAX 1024

struct http_request {
    char method[HTTP_METHOD_MAX + 1];
    char path[HTTP_PATH_MAX + 1];    /* the path only: no query, no scheme or authority */
    int minor;                       /* HTTP/1.<minor> */
    size_t nheaders;
};

struct http_reader {
    size_t max_size, max_headers;
    p2p_buf head;                    /* the bytes of the head so far */
    size_t scanned;                  /* how far the end of the head was looked for */
    size_t skipped;                  /* empty lines before the request line */
    struct http_request req;
};

enum { HTTP_MORE = 0, HTTP_DONE = 1 };

void http_reader_init(struct http_reader *r, size_t max_size, size_t max_headers);
void http_reader_free(struct http_reader *r);
/* Feed bytes. Returns HTTP_MORE (need more), HTTP_DONE (r->req is the
 * request; bytes after the head are ignored: the caller closes the
 * connection after answering), or an HTTP error status (400, 431, 505)
 * to answer with. After DONE or an error, feed no more. */
int http_reader_feed(struct http_reader *r, const uint8_t *data, size_t len);

/* Parse a complete head (request line and fields, ending with the empty
 * line) of len bytes: 0 with *out filled, or an HTTP error status. */
int http_parse_head(const char *head, size_t len, size_t max_headers, struct http_request *out);

/* The reason phrase of status ("Not Found"), "Error" if unknown. */
const char *http_reason(int status);
/* Append a complete response (status line, Content-Type, Content-Length,
 * Connection: close, extra header lines if any, then the body unless
 * head_only) to out. Returns 0 or P2P_ENOMEM. */
int http_response(p2p_buf *out, int status, const char *content_type, const char *extra_headers,
                  const void *body, size_t len, bool head_only);

#endif
