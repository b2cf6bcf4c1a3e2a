/* metrics_http.c - a bounded HTTP/1.x request-head reader and response
 * writer (see metrics_http.h). */
#include "metrics_http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "p2p/error.h"

void http_reader_init(struct http_reader *r, size_t max_size, size_t max_headers)
{
    memset(r, 0, sizeof *r);
    r->max_size = max_size;
    r->max_headers = max_headers;
    p2p_buf_init(&r->head, max_size);
}

void http_reader_free(struct http_reader *r)
{
    p2p_buf_free(&r->head);
}

/* Length of the head (through its empty line) in b[0..n), or 0. */
static size_t head_end(const uint8_t *b, size_t n, size_t from)
{
    for (size_t i = from; i < n; i++) {
        if (b[i] != '\n') continue;
        if (i + 1 < n && b[i + 1] == '\n') return i + 2;
        if (i + 2 < n && b[i + 1] == '\r' && b[i + 2] == '\n') return i + 3;
    }
    return 0;
}

int http_reader_feed(struct http_reader *r, const uint8_t *data, size_t len)
{
    /* RFC 9112 2.2: empty lines before the request line are ignored
     * (they count against max_size too). */
    while (r->head.len == 0 && len && (*data == '\r' || *data == '\n')) {
        if (++r->skipped > r->max_size) return 431;
        data++;
        len--;
    }
    if (!len) return HTTP_MORE;
    /* Take what fits: bytes after the head (a body, a pipelined request)
     * may come in the same read and are not ours to judge. */
    size_t room = r->max_size - r->head.len, take = len < room ? len : room;
    if (take && p2p_buf_append(&r->head, data, take) != 0) return 500;
    const uint8_t *b = p2p_buf_head(&r->head);
    size_t end = head_end(b, r->head.len, r->scanned);
    /* Next time, look again from where an end could still begin. */
    r->scanned = r->head.len > 2 ? r->head.len - 2 : 0;
    if (!end) return r->head.len >= r->max_size ? 431 : HTTP_MORE;
    int rc = http_parse_head((const char *)b, end, r->max_headers, &r->req);
    return rc ? rc : HTTP_DONE;
}

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field-value bytes: VCHAR, SP, HTAB, obs-text. */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* The path of a request-target, or -1 (400) / -2 (414). */
static int parse_target(const char *t, size_t n, char *path)
{
    const char *p = t, *end = t + n;
    if (n == 1 && t[0] == '*') {
        strcpy(path, "*");
        return 0;
    }
    if (p < end && *p != '/') {
        /* absolute-form: http(s)://authority[/path] */
        size_t skip = n >= 7 && !strncasecmp(p, "http://", 7) ? 7 : n >= 8 && !strncasecmp(p, "https://", 8) ? 8 : 0;
        if (!skip) return -1;
        p += skip;
        while (p < end && *p != '/' && *p != '?') p++;
        if (p == t + skip) return -1;   /* no authority */
    }
    size_t l = 0;
    while (p + l < end && p[l] != '?' && p[l] != '#') l++;
    if (l > HTTP_PATH_MAX) return -2;
    if (l == 0) {
        strcpy(path, "/");
        return 0;
    }
    memcpy(path, p, l);
    path[l] = 0;
    return 0;
}

static int parse_request_line(const char *line, size_t n, struct http_request *out)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)line[i])) i++;
    if (i == 0 || i >= n || line[i] != ' ') return 400;
    if (i > HTTP_METHOD_MAX) return 501;
    memcpy(out->method, line, i);
    out->method[i] = 0;
    size_t t0 = ++i;
    while (i < n && line[i] > 0x20 && line[i] < 0x7f) i++;
    if (i == t0 || i >= n || line[i] != ' ') return 400;
    int rc = parse_target(line + t0, i - t0, out->path);
    if (rc == -1) return 400;
    if (rc == -2) return 414;
    const char *v = line + i + 1;
    size_t vl = n - i - 1;
    if (vl != 8 || memcmp(v, "HTTP/", 5) || v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
        return 400;
    if (v[5] != '1') return 505;
    out->minor = v[7] - '0';
    return 0;
}

int http_parse_head(const char *head, size_t len, size_t max_headers, struct http_request *out)
{
    memset(out, 0, sizeof *out);
    if (memchr(head, 0, len)) return 400;
    size_t hosts = 0, pos = 0;
    bool first = true;
    while (pos < len) {
        const char *nl = memchr(head + pos, '\n', len - pos);
        if (!nl) return 400;
        const char *line = head + pos;
        size_t n = (size_t)(nl - line);
        pos += n + 1;
        if (n && line[n - 1] == '\r') n--;
        if (memchr(line, '\r', n)) return 400;   /* a CR alone inside a line */
        if (n == 0) break;                        /* the end of the head */
        if (first) {
            int rc = parse_request_line(line, n, out);
            if (rc) return rc;
            first = false;
            continue;
        }
        if (line[0] == ' ' || line[0] == '\t') return 400;   /* obsolete line folding */
        size_t k = 0;
        while (k < n && is_tchar((unsigned char)line[k])) k++;
        if (k == 0 || k >= n || line[k] != ':') return 400;
        for (size_t j = k + 1; j < n; j++)
            if (!is_value_char((unsigned char)line[j])) return 400;
        if (++out->nheaders > max_headers) return 431;
        if (k == 4 && !strncasecmp(line, "host", 4)) hosts++;
    }
    if (first) return 400;
    /* RFC 9112 3.2: HTTP/1.1 needs exactly one Host; never more than one. */
    if (hosts > 1 || (out->minor >= 1 && hosts != 1)) return 400;
    return 0;
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

int http_response(p2p_buf *out, int status, const char *content_type, const char *extra_headers,
                  const void *body, size_t len, bool head_only)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     status, http_reason(status), content_type, len, extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof hdr) return P2P_EINVAL;
    int rc = p2p_buf_append(out, hdr, (size_t)n);
    if (rc == 0 && !head_only && len) rc = p2p_buf_append(out, body, len);
    return rc;
}
