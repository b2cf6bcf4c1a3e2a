/* The metrics plugin's HTTP request-head reader and responses
 * (metrics_http.c), without I/O. */
#include <string.h>

#include "metrics_http.h"
#include "p2p/p2p.h"
#include "testutil.h"

/* Feed text in pieces of `piece` bytes; the reader's final answer. */
static int feed(const char *text, size_t piece, size_t max_size, size_t max_headers, struct http_request *out)
{
    struct http_reader r;
    http_reader_init(&r, max_size, max_headers);
    size_t len = strlen(text);
    int rc = HTTP_MORE;
    for (size_t fed = 0; fed < len && rc == HTTP_MORE;) {
        size_t k = len - fed < piece ? len - fed : piece;
        rc = http_reader_feed(&r, (const uint8_t *)text + fed, k);
        fed += k;
    }
    if (out) *out = r.req;
    http_reader_free(&r);
    return rc;
}

START_TEST(good_requests)
{
    struct http_request q;
    static const char *const prom = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9090\r\n"
                                    "User-Agent: Prometheus/2.45.0\r\nAccept: text/plain;version=0.0.4;q=0.3,*/*;q=0.1\r\n"
                                    "Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n";
    for (size_t piece = 1; piece <= strlen(prom); piece++) {
        ck_assert_int_eq(feed(prom, piece, 8192, 64, &q), HTTP_DONE);
        ck_assert_str_eq(q.method, "GET");
        ck_assert_str_eq(q.path, "/metrics");
        ck_assert_int_eq(q.minor, 1);
        ck_assert_uint_eq(q.nheaders, 5);
    }
    /* HTTP/1.0 needs no Host; bare LF line ends; leading empty lines. */
    ck_assert_int_eq(feed("\r\n\nGET /metrics HTTP/1.0\n\n", 3, 8192, 64, &q), HTTP_DONE);
    ck_assert_int_eq(q.minor, 0);
    /* Query strings are not part of the path; absolute-form targets. */
    ck_assert_int_eq(feed("HEAD /metrics?name[]=x HTTP/1.1\r\nHost: a\r\n\r\n", 100, 8192, 64, &q), HTTP_DONE);
    ck_assert_str_eq(q.method, "HEAD");
    ck_assert_str_eq(q.path, "/metrics");
    ck_assert_int_eq(feed("GET http://[::1]:9090/metrics HTTP/1.1\r\nHost: [::1]:9090\r\n\r\n", 7, 8192, 64, &q),
                     HTTP_DONE);
    ck_assert_str_eq(q.path, "/metrics");
    ck_assert_int_eq(feed("GET HTTPS://example.org HTTP/1.1\r\nHost: example.org\r\n\r\n", 7, 8192, 64, &q),
                     HTTP_DONE);
    ck_assert_str_eq(q.path, "/");
    /* Other methods parse (the plugin answers 405); bytes after the head
     * are not looked at. */
    ck_assert_int_eq(feed("POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 4, 8192, 64, &q),
                     HTTP_DONE);
    ck_assert_str_eq(q.method, "POST");
    /* Empty field values, tabs, obs-text. */
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tab:\ta\tb\r\nX-Utf8: \xc3\xa9\r\n\r\n", 5, 8192,
                          64, &q), HTTP_DONE);
    /* Incomplete: more is needed. */
    ck_assert_int_eq(feed("GET /metrics HTTP/1.1\r\nHost: a\r\n", 1, 8192, 64, NULL), HTTP_MORE);
    ck_assert_int_eq(feed("\r\n\r\n", 1, 8192, 64, NULL), HTTP_MORE);
}
END_TEST

START_TEST(malformed)
{
    static const char *const bad400[] = {
        "GET /metrics\r\n\r\n",                              /* no version */
        "GET  /metrics HTTP/1.1\r\nHost: a\r\n\r\n",         /* two spaces */
        "GET /metrics HTTP/1.1 \r\nHost: a\r\n\r\n",         /* trailing space */
        "GET /metrics http/1.1\r\nHost: a\r\n\r\n",          /* lower-case protocol name */
        "GET /metrics HTTP/1.10\r\nHost: a\r\n\r\n",
        "GET metrics HTTP/1.1\r\nHost: a\r\n\r\n",           /* not origin-form */
        "GET ftp://a/metrics HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http:///metrics HTTP/1.1\r\nHost: a\r\n\r\n",   /* no authority */
        "G(T /metrics HTTP/1.1\r\nHost: a\r\n\r\n",          /* method not a token */
        " GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /met\x01rics HTTP/1.1\r\nHost: a\r\n\r\n",      /* control character in the target */
        "GET /metrics HTTP/1.1\r\n\r\n",                     /* HTTP/1.1 without Host */
        "GET /metrics HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", /* two Host fields */
        "GET /metrics HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", /* obsolete line folding */
        "GET /metrics HTTP/1.1\r\nHost : a\r\n\r\n",         /* space before the colon */
        "GET /metrics HTTP/1.1\r\nHost a\r\n\r\n",           /* no colon */
        "GET /metrics HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n",   /* empty name */
        "GET /metrics HTTP/1.1\r\nHost: a\x7f\r\n\r\n",      /* DEL in a value */
        "GET /metrics HTTP/1.1\r\nHost: a\rb\r\n\r\n",       /* lone CR */
        NULL,
    };
    for (size_t i = 0; bad400[i]; i++) {
        int rc = feed(bad400[i], 7, 8192, 64, NULL);
        ck_assert_msg(rc == 400, "case %zu: %d", i, rc);
    }
    static const char nul[] = "GET /metrics HTTP/1.1\r\nX: a\x00\r\nHost: a\r\n\r\n";
    struct http_reader r;
    http_reader_init(&r, 8192, 64);
    ck_assert_int_eq(http_reader_feed(&r, (const uint8_t *)nul, sizeof nul - 1), 400);
    http_reader_free(&r);
    ck_assert_int_eq(feed("GET /metrics HTTP/2.0\r\nHost: a\r\n\r\n", 9, 8192, 64, NULL), 505);
    ck_assert_int_eq(feed("GET /metrics HTTP/0.9\r\nHost: a\r\n\r\n", 9, 8192, 64, NULL), 505);
    ck_assert_int_eq(feed("ABCDEFGHIJKLMNOPQRSTUVWXYZ /metrics HTTP/1.1\r\nHost: a\r\n\r\n", 9, 8192, 64, NULL), 501);
}
END_TEST

START_TEST(limits)
{
    /* Too many fields: 431. */
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", 5, 8192, 3, NULL), HTTP_DONE);
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 5, 8192, 3, NULL), 431);
    /* A head that does not end within max_size: 431, whatever the split,
     * and the reader holds at most max_size bytes. */
    char big[2048];
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    size_t l = strlen(big);
    memset(big + l, 'x', sizeof big - l - 1);
    big[sizeof big - 1] = 0;
    for (size_t piece = 1; piece < 700; piece += 97) {
        struct http_reader r;
        http_reader_init(&r, 1024, 64);
        int rc = HTTP_MORE;
        for (size_t fed = 0; fed < sizeof big - 1 && rc == HTTP_MORE; fed += piece) {
            size_t k = sizeof big - 1 - fed < piece ? sizeof big - 1 - fed : piece;
            rc = http_reader_feed(&r, (const uint8_t *)big + fed, k);
            ck_assert_uint_le(r.head.len, 1024);
        }
        http_reader_free(&r);
        ck_assert_int_eq(rc, 431);
    }
    /* A head of exactly max_size bytes is fine; one more byte is not. */
    char exact[300];
    const char *pre = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
    size_t pl = strlen(pre);
    memcpy(exact, pre, pl);
    memset(exact + pl, 'y', 256 - pl - 4);
    memcpy(exact + 256 - 4, "\r\n\r\n", 5);
    ck_assert_int_eq(feed(exact, 256, 256, 64, NULL), HTTP_DONE);
    ck_assert_int_eq(feed(exact, 256, 255, 64, NULL), 431);
    /* A long path: 414. */
    char longpath[HTTP_PATH_MAX + 64];
    memcpy(longpath, "GET /", 5);
    memset(longpath + 5, 'p', HTTP_PATH_MAX);
    snprintf(longpath + 5 + HTTP_PATH_MAX, 40, " HTTP/1.0\r\n\r\n");
    ck_assert_int_eq(feed(longpath, 64, 8192, 64, NULL), 414);
    /* Endless empty lines before the request are bounded too. */
    char crlfs[600];
    for (size_t i = 0; i + 1 < sizeof crlfs; i += 2) memcpy(crlfs + i, "\r\n", 2);
    crlfs[sizeof crlfs - 1] = 0;
    ck_assert_int_eq(feed(crlfs, 10, 256, 64, NULL), 431);
}
END_TEST

START_TEST(responses)
{
    p2p_buf b;
    p2p_buf_init(&b, 0);
    ck_assert_int_eq(http_response(&b, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, "a 1\n", 4, false), 0);
    ck_assert_uint_eq(b.len, strlen("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                                    "Content-Length: 4\r\nConnection: close\r\n\r\na 1\n"));
    ck_assert_int_eq(memcmp(p2p_buf_head(&b),
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                            "Content-Length: 4\r\nConnection: close\r\n\r\na 1\n", b.len), 0);
    p2p_buf_reset(&b);
    /* HEAD: the length of the body, no body. */
    ck_assert_int_eq(http_response(&b, 405, "text/plain", "Allow: GET, HEAD\r\n", "x", 1, true), 0);
    const char *want = "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n"
                       "Connection: close\r\nAllow: GET, HEAD\r\n\r\n";
    ck_assert_uint_eq(b.len, strlen(want));
    ck_assert_int_eq(memcmp(p2p_buf_head(&b), want, b.len), 0);
    p2p_buf_free(&b);
    ck_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
    ck_assert_str_eq(http_reason(299), "Error");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics_http");
    TCase *tc = tcase_create("reader");
    tcase_add_test(tc, good_requests);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, responses);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
