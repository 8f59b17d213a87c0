/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The relay's HTTP request framer (src/egress/http.c): every request head of a kept-alive
 * stream is found, with its Host, however its bodies are framed; what cannot be framed for
 * sure is refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "egress/http.h"

/* Frames all of s at once, as the relay would with everything buffered: the hosts of the
 * request heads in order, "|"-separated, then "!" and the refusal, or "." at the end ("~"
 * where the stream waits for the server's answer to an Upgrade). */
static const char *frame_all(const char *s, size_t n, const char *answer) {
        static char out[2048];
        struct http_framer f = { 0 };
        size_t pos = 0, len = 0;

        out[0] = 0;
        for (;;) {
                char name[SNIFF_MAX_NAME + 1];
                const char *why;
                size_t used;
                enum http_frame_result r =
                        http_frame(&f, (const unsigned char *) s + pos, n - pos, &used, name, &why);

                cr_assert_leq(used, n - pos);
                if (r == HTTP_FRAME_BAD) {
                        len += (size_t) snprintf(out + len, sizeof out - len, "!%s", why);
                        return out;
                }
                if (r == HTTP_FRAME_REQUEST)
                        len += (size_t) snprintf(out + len, sizeof out - len, "%s|", name);
                pos += used;
                if (used > 0)
                        continue;
                if (f.state == HTTP_UPGRADE_WAIT && answer) {
                        cr_assert(http_frame_response(&f, (const unsigned char *) answer,
                                                      strlen(answer)));
                        answer = NULL;
                        continue;
                }
                len += (size_t) snprintf(out + len, sizeof out - len, "%s",
                                         f.state == HTTP_UPGRADE_WAIT ? "~" :
                                         pos == n ? "." : "+");
                return out;
        }
}
#define FRAME(lit, ans) frame_all(lit, sizeof(lit) - 1, ans)

Test(http, keep_alive_requests_each_named) {
        cr_expect_str_eq(FRAME("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"
                               "GET /2 HTTP/1.1\r\nHost: B.test:80\r\n\r\n", NULL),
                         "a.test|b.test|.");
}

Test(http, content_length_body_skipped) {
        /* A body that looks like a request is a body, not a request. */
        cr_expect_str_eq(FRAME("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 34\r\n\r\n"
                               "GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n"
                               "GET / HTTP/1.1\r\nHost: c.test\r\n\r\n", NULL),
                         "a.test|c.test|.");
}

Test(http, chunked_body_skipped) {
        cr_expect_str_eq(FRAME("POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                               "5;ext=1\r\nhello\r\n1D\r\nGET / HTTP/1.1\r\nHost: e.t\r\n\r\n\r\n"
                               "0\r\nX-Trailer: 1\r\n\r\n"
                               "GET / HTTP/1.1\r\nHost: c.test\r\n\r\n", NULL),
                         "a.test|c.test|.");
}

Test(http, incomplete_waits) {
        cr_expect_str_eq(FRAME("GET / HTTP/1.1\r\nHost: a.test\r\n", NULL), "+");
        cr_expect_str_eq(FRAME("PUT / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 10\r\n\r\nabc", NULL),
                         "a.test|.");
        cr_expect_str_eq(FRAME("GET / HTTP/1.1\r\nHost: a.test\r\n\r\nGET / HTTP/1.1\r\nHost: b", NULL),
                         "a.test|+");
}

Test(http, ambiguous_framing_refused) {
        cr_expect(strstr(FRAME("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n", NULL), "!both"));
        cr_expect(strstr(FRAME("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\n"
                               "Content-Length: 5\r\n\r\n", NULL), "!two different"));
        cr_expect(strstr(FRAME("POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip\r\n\r\n",
                               NULL), "!a Transfer-Encoding"));
        cr_expect(strstr(FRAME("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: -1\r\n\r\n",
                               NULL), "!a Content-Length"));
        /* Refused by the head's parser or the framer's: either way, no request. */
        cr_expect(strstr(FRAME("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length : 1\r\n\r\n",
                               NULL), "!a malformed"));
        cr_expect(strstr(FRAME("POST / HTTP/1.1\r\nHost: a.test\r\nX: a\r\n b\r\n\r\n", NULL),
                         "!a malformed"));
        cr_expect(strstr(FRAME("POST / HTTP/1.1\r\nHost: a.test\r\nX: a\rb\r\n\r\n", NULL),
                         "!a malformed"));
        cr_expect(strstr(FRAME("POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "5\rx\r\nhello\r\n0\r\n\r\n", NULL), "!a malformed chunk-size"));
        cr_expect(strstr(FRAME("POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "5\r\nhelloXY0\r\n\r\n", NULL), "!a chunk not followed by CRLF"));
        cr_expect(strstr(FRAME("POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "1000000000000000\r\n", NULL), "!a chunk size that is too large"));
}

Test(http, later_request_without_host_or_garbage_refused) {
        cr_expect(strstr(FRAME("GET / HTTP/1.1\r\nHost: a.test\r\n\r\nGET / HTTP/1.1\r\nX: 1\r\n\r\n",
                               NULL), "a.test|!a request without Host"));
        cr_expect(strstr(FRAME("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n\x16\x03\x01\x00\x05hello\r\n\r\n",
                               NULL), "a.test|!"));
}

Test(http, connect_refused) {
        cr_expect(strstr(FRAME("CONNECT b.test:443 HTTP/1.1\r\nHost: b.test:443\r\n\r\n", NULL),
                         "!CONNECT"));
}

Test(http, head_size_capped) {
        static char big[HTTP_MAX_HEAD + 64];
        int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a.test\r\nX: ");

        memset(big + n, 'x', sizeof big - (size_t) n - 1);
        cr_expect(strstr(frame_all(big, sizeof big - 1, NULL), "!a request head longer"));
}

Test(http, upgrade_101_is_opaque_other_answers_keep_framing) {
        static const char up[] = "GET /ws HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\n\r\n"
                                 "GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n";

        /* Held until the server answers. */
        cr_expect_str_eq(frame_all(up, sizeof up - 1, NULL), "a.test|~");
        /* 101: what follows is the new protocol's, not HTTP. */
        cr_expect_str_eq(frame_all(up, sizeof up - 1, "HTTP/1.1 101 Switching Protocols\r\n"),
                         "a.test|.");
        /* Not upgraded: the next request is a request, and named. */
        cr_expect_str_eq(frame_all(up, sizeof up - 1, "HTTP/1.1 400 Bad Request\r\n"),
                         "a.test|evil.test|.");
        cr_expect_str_eq(frame_all(up, sizeof up - 1, "HTTP/1.1 1010 x\r\n"), "a.test|evil.test|.");
        /* Only as the first request: the answer could not be told from earlier ones'. */
        cr_expect(strstr(FRAME("GET / HTTP/1.1\r\nHost: a.test\r\n\r\nGET /ws HTTP/1.1\r\n"
                               "Host: a.test\r\nUpgrade: websocket\r\n\r\n", NULL),
                         "a.test|!an Upgrade after"));
}

Test(http, response_status_line_incomplete_waits) {
        struct http_framer f = { .state = HTTP_UPGRADE_WAIT, .upgrade = true };

        cr_expect(!http_frame_response(&f, (const unsigned char *) "HTTP/1.1 10", 11));
        cr_expect_eq(f.state, HTTP_UPGRADE_WAIT);
        cr_expect(http_frame_response(&f, (const unsigned char *) "HTTP/1.1 101\r\n", 14));
        cr_expect_eq(f.state, HTTP_OPAQUE);
}
