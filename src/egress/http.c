/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Request framing of a client's HTTP/1.x stream (RFC 9112 §6: a request's body length is
 * its chunked coding, else its Content-Length, else zero). See http.h. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "egress/http.h"

/* The length of the line at buf (through its '\n'), 0 if buf holds no whole line. */
static size_t line_len(const unsigned char *buf, size_t len) {
        const unsigned char *nl = memchr(buf, '\n', len);

        return nl ? (size_t) (nl - buf) + 1 : 0;
}

/* The line's content without its CRLF (or LF). */
static size_t content_len(const unsigned char *line, size_t ll) {
        if (ll > 0 && line[ll - 1] == '\n')
                ll--;
        if (ll > 0 && line[ll - 1] == '\r')
                ll--;
        return ll;
}

static bool is_ows(unsigned char c) {
        return c == ' ' || c == '\t';
}

/* A control byte other than HT (a bare CR, NUL, DEL) in a line's content. */
static bool has_ctl(const unsigned char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
                        return true;
        return false;
}

static bool field_is(const unsigned char *name, size_t nl, const char *want) {
        return nl == strlen(want) && strncasecmp((const char *) name, want, nl) == 0;
}

/* The head's length (request-line, fields, the empty line), after any empty lines before the
 * request-line; 0 while incomplete. */
static size_t head_len(const unsigned char *buf, size_t len) {
        size_t pos = 0;

        while (pos < len && (buf[pos] == '\r' || buf[pos] == '\n'))
                pos++;
        for (bool first = true;; first = false) {
                size_t ll = line_len(buf + pos, len - pos);

                if (ll == 0)
                        return 0;
                if (!first && content_len(buf + pos, ll) == 0)
                        return pos + ll;
                pos += ll;
        }
}

/* The framing fields of a complete head: the body that follows and whether it leaves HTTP. */
static enum http_frame_result head_framing(struct http_framer *f, const unsigned char *h,
                                           size_t hl, const char **why) {
        bool have_cl = false, chunked = false, have_te = false;
        uint64_t cl = 0;
        size_t pos = 0, ll;

        while (pos < hl && (h[pos] == '\r' || h[pos] == '\n'))
                pos++;
        ll = line_len(h + pos, hl - pos);
        if (content_len(h + pos, ll) >= 8 && memcmp(h + pos, "CONNECT ", 8) == 0) {
                *why = "CONNECT (a tunnel) on a connection allowed for one name";
                return HTTP_FRAME_BAD;
        }
        f->upgrade = f->upgrade_h2c = false;
        for (pos += ll; pos < hl; pos += ll) {
                const unsigned char *line = h + pos, *colon, *v;
                size_t n, vn;

                ll = line_len(line, hl - pos);
                n = content_len(line, ll);
                if (n == 0)
                        break;
                /* obs-fold and whitespace before the colon: RFC 9112 says reject. */
                colon = memchr(line, ':', n);
                if (is_ows(line[0]) || !colon || colon == line || is_ows(colon[-1]) ||
                    has_ctl(line, n)) {
                        *why = "a malformed header field";
                        return HTTP_FRAME_BAD;
                }
                v = colon + 1;
                vn = n - (size_t) (v - line);
                while (vn > 0 && is_ows(*v))
                        v++, vn--;
                while (vn > 0 && is_ows(v[vn - 1]))
                        vn--;
                if (field_is(line, (size_t) (colon - line), "content-length")) {
                        uint64_t x = 0;

                        if (vn == 0 || vn > 18) {
                                *why = "a Content-Length that is empty or too large";
                                return HTTP_FRAME_BAD;
                        }
                        for (size_t i = 0; i < vn; i++) {
                                if (v[i] < '0' || v[i] > '9') {
                                        *why = "a Content-Length that is not a number";
                                        return HTTP_FRAME_BAD;
                                }
                                x = x * 10 + (uint64_t) (v[i] - '0');
                        }
                        if (have_cl && x != cl) {
                                *why = "two different Content-Lengths";
                                return HTTP_FRAME_BAD;
                        }
                        have_cl = true;
                        cl = x;
                } else if (field_is(line, (size_t) (colon - line), "transfer-encoding")) {
                        const unsigned char *last = v;
                        size_t ln = vn;

                        /* The last coding decides (RFC 9112 §6.3): only chunked frames. */
                        for (size_t i = 0; i < vn; i++)
                                if (v[i] == ',')
                                        last = v + i + 1, ln = vn - i - 1;
                        while (ln > 0 && is_ows(*last))
                                last++, ln--;
                        have_te = true;
                        chunked = ln == 7 && strncasecmp((const char *) last, "chunked", 7) == 0;
                        if (!chunked) {
                                *why = "a Transfer-Encoding that does not end in chunked";
                                return HTTP_FRAME_BAD;
                        }
                } else if (field_is(line, (size_t) (colon - line), "upgrade")) {
                        f->upgrade = true;
                        /* Any h2c among the tokens: what follows a 101 is framed as
                         * HTTP/2, and anything else there is refused. */
                        for (size_t i = 0; i + 3 <= vn; i++)
                                if (strncasecmp((const char *) v + i, "h2c", 3) == 0 &&
                                    (i == 0 || v[i - 1] == ',' || is_ows(v[i - 1])) &&
                                    (i + 3 == vn || v[i + 3] == ',' || is_ows(v[i + 3])))
                                        f->upgrade_h2c = true;
                }
        }
        if (have_te && have_cl) {
                *why = "both Transfer-Encoding and Content-Length (request smuggling)";
                return HTTP_FRAME_BAD;
        }
        if (f->upgrade && f->requests > 1) {
                *why = "an Upgrade after other requests on the connection";
                return HTTP_FRAME_BAD;
        }
        if (chunked)
                f->state = HTTP_CHUNK_SIZE;
        else if (cl > 0) {
                f->state = HTTP_BODY;
                f->left = cl;
        } else
                f->state = f->upgrade ? HTTP_UPGRADE_WAIT : HTTP_HEAD;
        return HTTP_FRAME_REQUEST;
}

/* The end of a request's body: the next request, or the wait for the upgrade's answer. */
static void request_done(struct http_framer *f) {
        f->state = f->upgrade ? HTTP_UPGRADE_WAIT : HTTP_HEAD;
}

static int hex(unsigned char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* --- HTTP/2 (RFC 9113 §4, §6) --- */

enum {
        H2_HEADERS = 0x1, H2_PUSH_PROMISE = 0x5, H2_CONTINUATION = 0x9,
        H2_END_HEADERS = 0x4, H2_PADDED = 0x8, H2_PRIORITY = 0x20,
        H2_FRAME_HEADER = 9,
};

static uint32_t h2_len(const unsigned char *p) {
        return (uint32_t) p[0] << 16 | (uint32_t) p[1] << 8 | p[2];
}

static uint32_t h2_stream(const unsigned char *p) {
        return ((uint32_t) p[5] << 24 | (uint32_t) p[6] << 16 | (uint32_t) p[7] << 8 | p[8]) &
               0x7fffffffU;
}

/* A header block at buf: HEADERS, then CONTINUATIONs of the same stream up to END_HEADERS.
 * Decoded only once all of it is here, so each byte reaches the HPACK state once. */
static enum http_frame_result h2_block(struct http_framer *f, const unsigned char *buf,
                                       size_t len, size_t *used, char name[SNIFF_MAX_NAME + 1],
                                       const char **why) {
        struct hpack_seen seen = { 0 };
        uint32_t stream = h2_stream(buf);
        size_t total = 0, end;
        bool last = false;
        int r;

        if (stream == 0) {
                *why = "HTTP/2 HEADERS on stream 0";
                return HTTP_FRAME_BAD;
        }
        /* Find the block's end first. */
        while (!last) {
                const unsigned char *h = buf + total;

                if (total + H2_FRAME_HEADER > len)
                        return HTTP_FRAME_MORE;
                if (total > 0 && (h[3] != H2_CONTINUATION || h2_stream(h) != stream)) {
                        *why = "an HTTP/2 header block interrupted by another frame";
                        return HTTP_FRAME_BAD;
                }
                last = h[4] & H2_END_HEADERS;
                total += H2_FRAME_HEADER + h2_len(h);
                if (total > HTTP_MAX_HEAD) {
                        *why = "an HTTP/2 header block larger than 16 KiB";
                        return HTTP_FRAME_BAD;
                }
        }
        if (total > len)
                return HTTP_FRAME_MORE;
        if (!f->hp) {
                r = hpack_new(&f->hp, why);
                if (r < 0) {
                        if (r == -ENOMEM)
                                *why = "no memory for the HTTP/2 header decoder";
                        return HTTP_FRAME_BAD;
                }
        }
        for (size_t pos = 0; pos < total; pos = end) {
                const unsigned char *h = buf + pos, *p = h + H2_FRAME_HEADER;
                size_t n = h2_len(h), off = 0, pad = 0;

                end = pos + H2_FRAME_HEADER + n;
                /* Pad length and priority belong to the HEADERS frame; an empty PADDED
                 * frame fails the bound below (off 1 > n 0). */
                if (pos == 0 && (h[4] & H2_PADDED)) {
                        pad = n > 0 ? p[0] : 0;
                        off = 1;
                }
                if (pos == 0 && (h[4] & H2_PRIORITY))
                        off += 5;
                if (off + pad > n) {
                        *why = "a malformed HTTP/2 HEADERS frame";
                        return HTTP_FRAME_BAD;
                }
                if (hpack_feed(f->hp, p + off, n - off - pad, end == total, &seen) < 0) {
                        *why = "an HTTP/2 header block that is not valid HPACK";
                        return HTTP_FRAME_BAD;
                }
        }
        *used = total;
        /* Before the trailers' pass: "HOST" alone must not go on as trailers. */
        if (seen.bad_name) {
                *why = "an HTTP/2 request with an upper-case or unknown field name";
                return HTTP_FRAME_BAD;
        }
        if (!seen.pseudo && seen.n_host == 0)
                return HTTP_FRAME_MORE;         /* trailers: no request */
        f->requests++;
        if (seen.path_bad) {
                *why = "an HTTP/2 request whose :path is not a path (an absolute URI names "
                       "its own host)";
                return HTTP_FRAME_BAD;
        }
        /* A tunnel's bytes are not HTTP the relay can follow (as CONNECT in HTTP/1); a
         * WebSocket (RFC 8441) is, like an HTTP/1 Upgrade, the same site's. */
        if (seen.connect && !(seen.n_protocol == 1 && seen.websocket)) {
                *why = "an HTTP/2 CONNECT (a tunnel) on a connection allowed for one name";
                return HTTP_FRAME_BAD;
        }
        /* sniff_host_from_authority() refuses userinfo ('@') with any other byte a host
         * name cannot hold. */
        if (seen.too_long || seen.n_authority > 1 || seen.n_host > 1 ||
            (seen.n_authority && !sniff_host_from_authority(seen.authority, seen.authority_len, name))) {
                name[0] = 0;
                *why = "an HTTP/2 request whose :authority or Host is malformed or repeated";
                return HTTP_FRAME_BAD;
        }
        if (seen.n_host) {
                char host[SNIFF_MAX_NAME + 1];

                /* Which one a server takes differs: both must name the same host. */
                if (!sniff_host_from_authority(seen.host, seen.host_len, host) ||
                    (seen.n_authority && !sniff_name_equal(host, name))) {
                        name[0] = 0;
                        *why = "an HTTP/2 request whose Host differs from its :authority";
                        return HTTP_FRAME_BAD;
                }
                if (!seen.n_authority)
                        memcpy(name, host, sizeof host);
        }
        if (!name[0]) {
                *why = "an HTTP/2 request without :authority or Host";
                return HTTP_FRAME_BAD;
        }
        return HTTP_FRAME_REQUEST;
}

static enum http_frame_result h2_frame(struct http_framer *f, const unsigned char *buf,
                                       size_t len, size_t *used, char name[SNIFF_MAX_NAME + 1],
                                       const char **why) {
        size_t n;

        switch (f->state) {
        case HTTP_H2_PREFACE:
                if (memcmp(buf, HTTP2_PREFACE, len < 24 ? len : 24) != 0) {
                        *why = "not the HTTP/2 connection preface";
                        return HTTP_FRAME_BAD;
                }
                if (len < 24)
                        return HTTP_FRAME_MORE;
                *used = 24;
                f->state = HTTP_H2_FRAME;
                return HTTP_FRAME_MORE;
        case HTTP_H2_FRAME:
                if (len < H2_FRAME_HEADER)
                        return HTTP_FRAME_MORE;
                switch (buf[3]) {
                case H2_HEADERS:
                        return h2_block(f, buf, len, used, name, why);
                case H2_CONTINUATION:
                        *why = "an HTTP/2 CONTINUATION without its HEADERS";
                        return HTTP_FRAME_BAD;
                case H2_PUSH_PROMISE:
                        *why = "an HTTP/2 PUSH_PROMISE from the client";
                        return HTTP_FRAME_BAD;
                }
                *used = H2_FRAME_HEADER;
                f->left = h2_len(buf);
                if (f->left > 0)
                        f->state = HTTP_H2_PAYLOAD;
                return HTTP_FRAME_MORE;
        default:
                n = len < f->left ? len : (size_t) f->left;
                f->left -= n;
                *used = n;
                if (f->left == 0)
                        f->state = HTTP_H2_FRAME;
                return HTTP_FRAME_MORE;
        }
}

void http_framer_done(struct http_framer *f) {
        f->hp = hpack_free(f->hp);
}

enum http_frame_result http_frame(struct http_framer *f, const unsigned char *buf, size_t len,
                                  size_t *used, char name[SNIFF_MAX_NAME + 1], const char **why) {
        size_t ll, n;

        *used = 0;
        name[0] = 0;
        *why = NULL;
        switch (f->state) {
        case HTTP_HEAD: {
                size_t hl;
                enum sniff_result s;

                if (len == 0)
                        return HTTP_FRAME_MORE;
                /* Nothing of a head goes on before all of it is here and checked; the
                 * verdict is the same however the bytes were split. */
                hl = head_len(buf, len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD);
                if (hl == 0) {
                        if (len >= HTTP_MAX_HEAD) {
                                *why = "a request head longer than 16 KiB";
                                return HTTP_FRAME_BAD;
                        }
                        return HTTP_FRAME_MORE;
                }
                s = sniff_parse(buf, hl, name);
                if (s != SNIFF_HTTP) {
                        name[0] = 0;
                        *why = s == SNIFF_HTTP_NO_HOST ? "a request without Host" :
                                                         "a malformed request head";
                        return HTTP_FRAME_BAD;
                }
                f->requests++;
                if (head_framing(f, buf, hl, why) != HTTP_FRAME_REQUEST) {
                        name[0] = 0;
                        return HTTP_FRAME_BAD;
                }
                *used = hl;
                return HTTP_FRAME_REQUEST;
        }
        case HTTP_BODY:
        case HTTP_CHUNK_DATA:
                n = len < f->left ? len : (size_t) f->left;
                f->left -= n;
                *used = n;
                if (f->left == 0) {
                        if (f->state == HTTP_BODY)
                                request_done(f);
                        else
                                f->state = HTTP_CHUNK_END;
                }
                return HTTP_FRAME_MORE;
        case HTTP_CHUNK_SIZE: {
                uint64_t size = 0;
                size_t i = 0, digits = 0;

                ll = line_len(buf, len < HTTP_MAX_LINE ? len : HTTP_MAX_LINE);
                if (ll == 0) {
                        if (len >= HTTP_MAX_LINE) {
                                *why = "a chunk-size line longer than 4 KiB";
                                return HTTP_FRAME_BAD;
                        }
                        return HTTP_FRAME_MORE;
                }
                n = content_len(buf, ll);
                for (; i < n && hex(buf[i]) >= 0; i++, digits++) {
                        if (digits == 15) {
                                *why = "a chunk size that is too large";
                                return HTTP_FRAME_BAD;
                        }
                        size = size * 16 + (uint64_t) hex(buf[i]);
                }
                while (i < n && is_ows(buf[i]))
                        i++;
                /* Chunk extensions (";name=value") are passed on as they are, but without
                 * control bytes: a bare CR that one parser ends the line at and another
                 * does not is how requests get smuggled. */
                if (digits == 0 || (i < n && buf[i] != ';') || has_ctl(buf, n)) {
                        *why = "a malformed chunk-size line";
                        return HTTP_FRAME_BAD;
                }
                *used = ll;
                if (size == 0) {
                        f->state = HTTP_TRAILER;
                        f->trailer = 0;
                } else {
                        f->state = HTTP_CHUNK_DATA;
                        f->left = size;
                }
                return HTTP_FRAME_MORE;
        }
        case HTTP_CHUNK_END:
                if (len == 0 || (buf[0] == '\r' && len < 2))
                        return HTTP_FRAME_MORE;
                if (buf[0] == '\n' || (buf[0] == '\r' && buf[1] == '\n')) {
                        *used = buf[0] == '\n' ? 1 : 2;
                        f->state = HTTP_CHUNK_SIZE;
                        return HTTP_FRAME_MORE;
                }
                *why = "a chunk not followed by CRLF";
                return HTTP_FRAME_BAD;
        case HTTP_TRAILER:
                ll = line_len(buf, len);
                if (ll == 0 || f->trailer + ll > HTTP_MAX_HEAD) {
                        if (f->trailer + len >= HTTP_MAX_HEAD) {
                                *why = "a chunked trailer longer than 16 KiB";
                                return HTTP_FRAME_BAD;
                        }
                        return HTTP_FRAME_MORE;
                }
                f->trailer += ll;
                *used = ll;
                if (content_len(buf, ll) == 0)
                        request_done(f);
                return HTTP_FRAME_MORE;
        case HTTP_UPGRADE_WAIT:
                return HTTP_FRAME_MORE;
        case HTTP_OPAQUE:
                *used = len;
                return HTTP_FRAME_MORE;
        case HTTP_H2_PREFACE:
        case HTTP_H2_FRAME:
        case HTTP_H2_PAYLOAD:
                if (len == 0)
                        return HTTP_FRAME_MORE;
                return h2_frame(f, buf, len, used, name, why);
        }
        *why = "internal: unknown framing state";
        return HTTP_FRAME_BAD;
}

bool http_frame_response(struct http_framer *f, const unsigned char *buf, size_t len) {
        size_t ll = line_len(buf, len);

        if (f->state != HTTP_UPGRADE_WAIT)
                return true;
        if (ll == 0 && len < HTTP_MAX_LINE)
                return false;
        /* "HTTP/1.1 101 Switching Protocols" */
        if (ll >= 13 && memcmp(buf, "HTTP/1.", 7) == 0 && buf[8] == ' ' &&
            memcmp(buf + 9, "101", 3) == 0 && (buf[12] == ' ' || buf[12] == '\r' || buf[12] == '\n'))
                f->state = f->upgrade_h2c ? HTTP_H2_PREFACE : HTTP_OPAQUE;
        else
                f->state = HTTP_HEAD;
        f->upgrade = false;
        return true;
}
