/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The relay's HTTP request framer (src/egress/http.c): every request head of a kept-alive
 * stream is found, with its Host, however its bodies are framed; what cannot be framed for
 * sure is refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "egress/http.h"

/* Frames all of s at once, as the relay would with everything buffered: the hosts of the
 * request heads in order, "|"-separated, then "!" and the refusal, or "." at the end ("~"
 * where the stream waits for the server's answer to an Upgrade). */
static const char *frame_from(enum http_state state, const char *s, size_t n,
                              const char *answer) {
        static char out[2048];
        struct http_framer f = { .state = state };
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
                        http_framer_done(&f);
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
                http_framer_done(&f);
                return out;
        }
}

static const char *frame_all(const char *s, size_t n, const char *answer) {
        return frame_from(HTTP_HEAD, s, n, answer);
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

/* --- HTTP/2 --- */

/* An HTTP/2 client's bytes, built frame by frame; header blocks are coded by libnghttp2's
 * deflater (Huffman, and the dynamic table across blocks), as a real client codes them. */
struct h2 {
        char b[16384];
        size_t n;
        nghttp2_hd_deflater *d;
};

static void h2_start(struct h2 *o, bool preface) {
        o->n = 0;
        cr_assert_eq(nghttp2_hd_deflate_new(&o->d, 4096), 0);
        if (preface) {
                memcpy(o->b, HTTP2_PREFACE, 24);
                o->n = 24;
        }
}

static void h2_frame(struct h2 *o, unsigned type, unsigned flags, unsigned stream,
                     const void *p, size_t n) {
        unsigned char *h = (unsigned char *) o->b + o->n;

        cr_assert_lt(o->n + 9 + n, sizeof o->b);
        h[0] = (unsigned char) (n >> 16);
        h[1] = (unsigned char) (n >> 8);
        h[2] = (unsigned char) n;
        h[3] = (unsigned char) type;
        h[4] = (unsigned char) flags;
        h[5] = (unsigned char) (stream >> 24);
        h[6] = (unsigned char) (stream >> 16);
        h[7] = (unsigned char) (stream >> 8);
        h[8] = (unsigned char) stream;
        if (n)
                memcpy(h + 9, p, n);
        o->n += 9 + n;
}

/* The header block of fields "name", "value", ..., NULL into out. */
static size_t h2_block(struct h2 *o, unsigned char *out, size_t cap, const char *const *f) {
        nghttp2_nv nv[16];
        size_t k = 0;
        ssize_t r;

        for (; f[2 * k]; k++)
                nv[k] = (nghttp2_nv) { .name = (uint8_t *) f[2 * k], .namelen = strlen(f[2 * k]),
                                       .value = (uint8_t *) f[2 * k + 1],
                                       .valuelen = strlen(f[2 * k + 1]) };
        r = nghttp2_hd_deflate_hd(o->d, out, cap, nv, k);
        cr_assert_gt(r, 0);
        return (size_t) r;
}

static void h2_headers(struct h2 *o, unsigned stream, const char *const *f) {
        unsigned char blk[4096];

        h2_frame(o, 1, 0x4 | 0x1, stream, blk, h2_block(o, blk, sizeof blk, f));
}

static const char *h2_done(struct h2 *o) {
        nghttp2_hd_deflate_del(o->d);
        return frame_from(HTTP_H2_PREFACE, o->b, o->n, NULL);
}

#define F(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define GET(host) ":method", "GET", ":scheme", "http", ":path", "/", ":authority", host

Test(http, h2_every_request_named) {
        static const unsigned char settings[] = { 0, 3, 0, 0, 0, 100 };
        struct h2 o;

        h2_start(&o, true);
        h2_frame(&o, 4, 0, 0, settings, sizeof settings);
        h2_headers(&o, 1, F(GET("a.test"), "user-agent", "t"));
        h2_frame(&o, 0, 1, 1, "body", 4);
        /* The same name again comes from the dynamic table; then another one. */
        h2_headers(&o, 3, F(GET("a.test")));
        h2_headers(&o, 5, F(GET("Evil.test:8080")));
        cr_expect_str_eq(h2_done(&o), "a.test|a.test|evil.test|.");
}

Test(http, h2_host_header_and_trailers) {
        struct h2 o;

        /* Host alone names the request; trailers (no pseudo-field, no Host) pass. */
        h2_start(&o, true);
        h2_headers(&o, 1, F(":method", "POST", ":scheme", "http", ":path", "/", "host", "b.test"));
        h2_headers(&o, 1, F("grpc-status", "0"));
        cr_expect_str_eq(h2_done(&o), "b.test|.");
        /* Both, the same: one name. Both, differing: refused. */
        h2_start(&o, true);
        h2_headers(&o, 1, F(GET("a.test"), "host", "A.test:80"));
        cr_expect_str_eq(h2_done(&o), "a.test|.");
        h2_start(&o, true);
        h2_headers(&o, 1, F(GET("a.test"), "host", "evil.test"));
        cr_expect_str_eq(h2_done(&o), "!an HTTP/2 request whose Host differs from its :authority");
        /* Neither: nothing to check. Two: which one counts differs. */
        h2_start(&o, true);
        h2_headers(&o, 1, F(":method", "GET", ":scheme", "http", ":path", "/"));
        cr_expect_str_eq(h2_done(&o), "!an HTTP/2 request without :authority or Host");
        h2_start(&o, true);
        h2_headers(&o, 1, F(GET("a.test"), ":authority", "evil.test"));
        cr_expect(strstr(h2_done(&o), "!an HTTP/2 request whose :authority or Host is malformed"));
        h2_start(&o, true);
        h2_headers(&o, 1, F(GET("user@a.test")));
        cr_expect(strstr(h2_done(&o), "!an HTTP/2 request whose :authority"));
}

Test(http, h2_continuation_padding_priority) {
        unsigned char blk[1024], p[1100];
        struct h2 o;
        size_t n;

        /* HEADERS without END_HEADERS, then two CONTINUATIONs. */
        h2_start(&o, true);
        n = h2_block(&o, blk, sizeof blk, F(GET("split.test"), "x-pad", "0123456789"));
        h2_frame(&o, 1, 0x1, 1, blk, 5);
        h2_frame(&o, 9, 0, 1, blk + 5, 3);
        h2_frame(&o, 9, 0x4, 1, blk + 8, n - 8);
        cr_expect_str_eq(h2_done(&o), "split.test|.");
        /* PADDED and PRIORITY: pad length, 5 priority bytes, the block, the padding. */
        h2_start(&o, true);
        n = h2_block(&o, blk, sizeof blk, F(GET("padded.test")));
        p[0] = 7;
        memset(p + 1, 0, 5);
        memcpy(p + 6, blk, n);
        memset(p + 6 + n, 0, 7);
        h2_frame(&o, 1, 0x4 | 0x8 | 0x20, 1, p, 6 + n + 7);
        cr_expect_str_eq(h2_done(&o), "padded.test|.");
        /* Padding longer than the frame. */
        h2_start(&o, true);
        p[0] = 200;
        h2_frame(&o, 1, 0x4 | 0x8, 1, p, 10);
        cr_expect_str_eq(h2_done(&o), "!a malformed HTTP/2 HEADERS frame");
}

Test(http, h2_bad_framing_refused) {
        unsigned char blk[256];
        struct h2 o;
        size_t n;

        /* Another frame inside a header block. */
        h2_start(&o, true);
        n = h2_block(&o, blk, sizeof blk, F(GET("a.test")));
        h2_frame(&o, 1, 0, 1, blk, 3);
        h2_frame(&o, 0, 0, 1, "x", 1);
        h2_frame(&o, 9, 0x4, 1, blk + 3, n - 3);
        cr_expect_str_eq(h2_done(&o), "!an HTTP/2 header block interrupted by another frame");
        h2_start(&o, true);
        h2_frame(&o, 9, 0x4, 1, blk, n);
        cr_expect_str_eq(h2_done(&o), "!an HTTP/2 CONTINUATION without its HEADERS");
        h2_start(&o, true);
        h2_frame(&o, 5, 0x4, 1, blk, n);
        cr_expect_str_eq(h2_done(&o), "!an HTTP/2 PUSH_PROMISE from the client");
        h2_start(&o, true);
        h2_frame(&o, 1, 0x4, 0, blk, n);
        cr_expect_str_eq(h2_done(&o), "!HTTP/2 HEADERS on stream 0");
        /* Not HPACK: an index past both tables. */
        h2_start(&o, true);
        h2_frame(&o, 1, 0x4, 1, "\xff\x7f", 2);
        cr_expect_str_eq(h2_done(&o), "!an HTTP/2 header block that is not valid HPACK");
        /* Not the preface. */
        cr_expect_str_eq(frame_from(HTTP_H2_PREFACE, "PRI * HTTP/1.1\r\n", 16, NULL),
                         "!not the HTTP/2 connection preface");
        /* A header block over 16 KiB. */
        h2_start(&o, true);
        h2_frame(&o, 1, 0, 1, blk, 0);
        o.b[24] = 0x00, o.b[25] = 0x40, o.b[26] = 0x01; /* 16385 */
        cr_expect_str_eq(h2_done(&o), "!an HTTP/2 header block larger than 16 KiB");
}

Test(http, h2_incomplete_waits_and_big_data_passes) {
        struct h2 o;
        static char big[9000];
        const char *r;

        /* A cut HEADERS waits ("+": bytes left that are not framed yet). */
        h2_start(&o, true);
        h2_headers(&o, 1, F(GET("a.test")));
        nghttp2_hd_deflate_del(o.d);
        r = frame_from(HTTP_H2_PREFACE, o.b, o.n - 1, NULL);
        cr_expect_str_eq(r, "+");
        /* DATA frames of any size go on as they come. */
        h2_start(&o, true);
        h2_headers(&o, 1, F(GET("a.test")));
        h2_frame(&o, 0, 0, 1, big, sizeof big);
        h2_headers(&o, 3, F(GET("b.test")));
        cr_expect_str_eq(h2_done(&o), "a.test|b.test|.");
}

/* Upgrade: h2c (RFC 7540 §3.2): after the 101 the client speaks HTTP/2, and each of its
 * requests is named. Before, the stream turned opaque and a second request could name any
 * site on the address. */
Test(http, h2c_upgrade_framed_as_h2) {
        static const char head[] = "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade, "
                                   "HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";
        struct h2 o;
        char all[20000];
        const char *r;

        h2_start(&o, true);
        h2_headers(&o, 3, F(GET("evil.test")));
        nghttp2_hd_deflate_del(o.d);
        memcpy(all, head, sizeof head - 1);
        memcpy(all + sizeof head - 1, o.b, o.n);
        r = frame_all(all, sizeof head - 1 + o.n, "HTTP/1.1 101 Switching Protocols\r\n");
        cr_expect_str_eq(r, "a.test|evil.test|.");
        /* Anything but the preface after the 101 is refused. */
        memcpy(all + sizeof head - 1, "GET / HTTP/1.1\r\n", 16);
        r = frame_all(all, sizeof head - 1 + 16, "HTTP/1.1 101 Switching Protocols\r\n");
        cr_expect_str_eq(r, "a.test|!not the HTTP/2 connection preface");
        /* A WebSocket upgrade stays opaque. */
        cr_expect_str_eq(FRAME("GET / HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket, h2cx\r\n\r\n"
                               "PRI", "HTTP/1.1 101 x\r\n"), "a.test|.");
}

/* What a lenient server could read as another host, or as a tunnel: refused as HTTP/2 says
 * malformed (RFC 9113 §8.2.1, §8.3) or as HTTP/1 CONNECT is. */
Test(http, h2_tunnels_absolute_paths_and_odd_names_refused) {
        struct h2 o;

        h2_start(&o, true);
        h2_headers(&o, 1, F(":method", "CONNECT", ":authority", "a.test:443"));
        cr_expect_str_eq(h2_done(&o), "!an HTTP/2 CONNECT (a tunnel) on a connection allowed for "
                                      "one name");
        h2_start(&o, true);
        h2_headers(&o, 1, F(":method", "CONNECT", ":protocol", "connect-udp", ":scheme", "http",
                            ":path", "/.well-known/masque/udp/x/53/", ":authority", "a.test"));
        cr_expect(strstr(h2_done(&o), "!an HTTP/2 CONNECT"));
        /* A WebSocket (RFC 8441) is the same site's, as an HTTP/1 Upgrade is. */
        h2_start(&o, true);
        h2_headers(&o, 1, F(":method", "CONNECT", ":protocol", "websocket", ":scheme", "http",
                            ":path", "/chat", ":authority", "a.test"));
        cr_expect_str_eq(h2_done(&o), "a.test|.");
        /* An absolute URI in :path names its own host (Go's server takes it). */
        h2_start(&o, true);
        h2_headers(&o, 1, F(":method", "GET", ":scheme", "http", ":path", "http://evil.test/",
                            ":authority", "a.test"));
        cr_expect(strstr(h2_done(&o), "!an HTTP/2 request whose :path is not a path"));
        h2_start(&o, true);
        h2_headers(&o, 1, F(":method", "OPTIONS", ":scheme", "http", ":path", "*",
                            ":authority", "a.test"));
        cr_expect_str_eq(h2_done(&o), "a.test|.");
        /* Upper case, or a pseudo-field HTTP/2 does not define. */
        h2_start(&o, true);
        h2_headers(&o, 1, F(":method", "GET", ":scheme", "http", ":path", "/",
                            ":Authority", "evil.test", "host", "a.test"));
        cr_expect(strstr(h2_done(&o), "!an HTTP/2 request with an upper-case or unknown field"));
        h2_start(&o, true);
        h2_headers(&o, 1, F(GET("a.test"), "Host", "a.test"));
        cr_expect(strstr(h2_done(&o), "!an HTTP/2 request with an upper-case"));
        h2_start(&o, true);
        h2_headers(&o, 1, F(GET("a.test"), ":host", "evil.test"));
        cr_expect(strstr(h2_done(&o), "unknown field name"));
        /* Not trailers: a block of "HOST" alone on a new stream (found by fuzz-http). */
        h2_start(&o, true);
        h2_headers(&o, 1, F(GET("a.test")));
        h2_headers(&o, 3, F("HOST", "evil.test"));
        cr_expect_str_eq(h2_done(&o), "a.test|!an HTTP/2 request with an upper-case or unknown "
                                      "field name");
}
