/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The name in a connection's first bytes: TLS SNI (RFC 8446 §4.1.2, RFC 6066 §3) or the HTTP/1.x
 * Host header (RFC 9112 §3.2). Pure. Anything ambiguous is MALFORMED, never a guess: the relay
 * refuses a malformed opening on a connection that was allowed by name, so a client cannot
 * show the relay one name and the server another. */
#include <string.h>

#include "egress/sniff.h"

static const char *const result_names[] = {
        [SNIFF_NEED_MORE] = "need_more", [SNIFF_TLS] = "tls", [SNIFF_TLS_NO_SNI] = "tls_no_sni",
        [SNIFF_HTTP] = "http", [SNIFF_HTTP_NO_HOST] = "http_no_host",
        [SNIFF_MALFORMED] = "malformed", [SNIFF_UNKNOWN] = "unknown", [SNIFF_H2] = "h2",
        [SNIFF_TLS_ECH] = "tls_ech",
};

const char *sniff_result_to_string(enum sniff_result r) {
        return (unsigned) r < sizeof result_names / sizeof result_names[0] ? result_names[r] : NULL;
}

static char lower(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

bool sniff_name_equal(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);

        if (la && a[la - 1] == '.')
                la--;
        if (lb && b[lb - 1] == '.')
                lb--;
        if (la != lb)
                return false;
        for (size_t i = 0; i < la; i++)
                if (lower(a[i]) != lower(b[i]))
                        return false;
        return true;
}

/* A host name as it may appear in SNI or Host: letters, digits, '-', '_', '.', and for an IP
 * literal ':' inside brackets (handled by the caller). Copies lower-cased without one
 * trailing dot. Returns false on anything else (spaces, NUL, control bytes, '@', '%'...),
 * and on an empty label ("..", a leading dot, dots only): no server resolves such a name,
 * and it would leave a trailing dot after the one removed (found by fuzz-sniff). */
static bool copy_name(const unsigned char *s, size_t n, char out[SNIFF_MAX_NAME + 1]) {
        if (n && s[n - 1] == '.')
                n--;
        if (n == 0 || n > SNIFF_MAX_NAME)
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = s[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == ':'))
                        return false;
                if (c == '.' && (i == 0 || s[i - 1] == '.' || i == n - 1))
                        return false;
                out[i] = lower((char) c);
        }
        out[n] = 0;
        return true;
}

/* --- TLS --- */

struct cursor {
        const unsigned char *p;
        size_t len, off;
        bool short_read;        /* ran past the end: the input was a prefix */
};

static bool take(struct cursor *c, size_t n, const unsigned char **ret) {
        if (c->len - c->off < n) {
                c->short_read = true;
                return false;
        }
        if (ret)
                *ret = c->p + c->off;
        c->off += n;
        return true;
}

static bool take_u8(struct cursor *c, unsigned *v) {
        const unsigned char *p;

        if (!take(c, 1, &p))
                return false;
        *v = p[0];
        return true;
}

static bool take_u16(struct cursor *c, unsigned *v) {
        const unsigned char *p;

        if (!take(c, 2, &p))
                return false;
        *v = (unsigned) p[0] << 8 | p[1];
        return true;
}

/* The server_name extension body: a list of (type, name); exactly one host_name. */
static enum sniff_result parse_sni(const unsigned char *p, size_t n, char name[SNIFF_MAX_NAME + 1]) {
        struct cursor c = { .p = p, .len = n };
        unsigned list_len, type, len;
        const unsigned char *s;
        bool found = false;

        if (!take_u16(&c, &list_len) || list_len != n - 2 || list_len == 0)
                return SNIFF_MALFORMED;
        while (c.off < c.len) {
                if (!take_u8(&c, &type) || !take_u16(&c, &len) || !take(&c, len, &s))
                        return SNIFF_MALFORMED;
                if (type != 0)
                        continue;
                /* Two host_names would let the relay and the server pick different ones. */
                if (found || !copy_name(s, len, name) || strchr(name, ':'))
                        return SNIFF_MALFORMED;
                found = true;
        }
        return found ? SNIFF_TLS : SNIFF_TLS_NO_SNI;
}

static enum sniff_result parse_client_hello(const unsigned char *hs, size_t n,
                                            char name[SNIFF_MAX_NAME + 1]) {
        struct cursor c = { .p = hs, .len = n };
        unsigned v, len, ext_total;
        enum sniff_result res = SNIFF_TLS_NO_SNI;
        bool seen_sni = false, ech = false;
        size_t ext_end;

        if (!take(&c, 2 + 32, NULL) ||                                 /* version, random */
            !take_u8(&c, &len) || len > 32 || !take(&c, len, NULL) ||   /* session id */
            !take_u16(&c, &len) || len < 2 || len % 2 || !take(&c, len, NULL) || /* suites */
            !take_u8(&c, &len) || len < 1 || !take(&c, len, NULL))      /* compression */
                return SNIFF_MALFORMED;
        if (c.off == c.len)
                return SNIFF_TLS_NO_SNI;                                /* no extensions */
        if (!take_u16(&c, &ext_total) || ext_total != c.len - c.off)
                return SNIFF_MALFORMED;
        ext_end = c.off + ext_total;
        while (c.off < ext_end) {
                unsigned type;
                const unsigned char *body;

                if (!take_u16(&c, &type) || !take_u16(&c, &v) || !take(&c, v, &body))
                        return SNIFF_MALFORMED;
                /* encrypted_client_hello: a client-facing server (a CDN) routes by the inner
                 * ClientHello's name, which only it can decrypt; the outer SNI need not be
                 * that name. Real ECH and GREASE look alike without the server's key. */
                if (type == 0xfe0d)
                        ech = true;
                if (type != 0)
                        continue;
                if (seen_sni)
                        return SNIFF_MALFORMED;         /* duplicate extension (RFC 8446) */
                seen_sni = true;
                res = parse_sni(body, v, name);
                if (res == SNIFF_MALFORMED)
                        return res;
        }
        return ech ? SNIFF_TLS_ECH : res;
}

static enum sniff_result sniff_tls(const unsigned char *buf, size_t len,
                                   char name[SNIFF_MAX_NAME + 1]) {
        /* The handshake message may be split over several records: gather the fragments. */
        unsigned char hs[SNIFF_MAX_BYTES];
        size_t n_hs = 0, off = 0, hs_len = 0;
        bool have_len = false;

        while (!have_len || n_hs < hs_len + 4) {
                size_t rl;

                if (len - off < 5)
                        return SNIFF_NEED_MORE;
                if (buf[off] != 0x16 || buf[off + 1] != 0x03 || buf[off + 2] > 0x04)
                        return SNIFF_MALFORMED;
                rl = (size_t) buf[off + 3] << 8 | buf[off + 4];
                if (rl == 0 || rl > 16384)
                        return SNIFF_MALFORMED;
                off += 5;
                if (len - off < rl) {
                        /* Partial record: enough to read the handshake header? */
                        if (!have_len && n_hs + (len - off) >= 4) {
                                size_t avail = len - off;

                                if (n_hs + avail > sizeof hs)
                                        avail = sizeof hs - n_hs;
                                memcpy(hs + n_hs, buf + off, avail);
                                n_hs += avail;
                                if (hs[0] != 1)
                                        return SNIFF_MALFORMED;
                                hs_len = (size_t) hs[1] << 16 | (size_t) hs[2] << 8 | hs[3];
                                if (hs_len + 4 > sizeof hs)
                                        return SNIFF_MALFORMED;
                        }
                        return SNIFF_NEED_MORE;
                }
                if (n_hs + rl > sizeof hs)
                        return SNIFF_MALFORMED;
                memcpy(hs + n_hs, buf + off, rl);
                n_hs += rl;
                off += rl;
                if (!have_len && n_hs >= 4) {
                        if (hs[0] != 1)         /* ClientHello */
                                return SNIFF_MALFORMED;
                        hs_len = (size_t) hs[1] << 16 | (size_t) hs[2] << 8 | hs[3];
                        if (hs_len + 4 > sizeof hs || hs_len < 38)
                                return SNIFF_MALFORMED;
                        have_len = true;
                }
        }
        /* Records past the ClientHello in the same fragment: not for us to judge. */
        if (n_hs != hs_len + 4)
                return SNIFF_MALFORMED;          /* another handshake message rides along */
        return parse_client_hello(hs + 4, hs_len, name);
}

/* --- HTTP/1.x --- */

static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT",
                                       "OPTIONS", "TRACE", "PATCH" };

/* 1: a known method and a space start buf; 0: buf is a prefix of one; -1: not HTTP. */
static int http_method(const unsigned char *buf, size_t len) {
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
                size_t ml = strlen(methods[i]);

                if (len > ml) {
                        if (memcmp(buf, methods[i], ml) == 0 && buf[ml] == ' ')
                                return 1;
                } else if (memcmp(buf, methods[i], len) == 0)
                        return 0;
        }
        return -1;
}

static bool ci_prefix(const unsigned char *s, size_t n, const char *prefix) {
        size_t pl = strlen(prefix);

        if (n < pl)
                return false;
        for (size_t i = 0; i < pl; i++)
                if (lower((char) s[i]) != prefix[i])
                        return false;
        return true;
}

/* host[:port] or [v6]:port → the host part, validated. */
bool sniff_host_from_authority(const unsigned char *s, size_t n, char name[SNIFF_MAX_NAME + 1]) {
        size_t end = n;

        if (n > 0 && s[0] == '[') {
                const unsigned char *rb = memchr(s, ']', n);

                if (!rb)
                        return false;
                end = (size_t) (rb - s);
                if (end + 1 < n && s[end + 1] != ':')
                        return false;
                if (end + 1 == n - 1)
                        return false;           /* "[::1]:" */
                for (size_t i = end + 2; i < n; i++)
                        if (s[i] < '0' || s[i] > '9')
                                return false;
                return copy_name(s + 1, end - 1, name);
        }
        for (size_t i = 0; i < n; i++)
                if (s[i] == ':') {
                        end = i;
                        if (i + 1 == n)
                                return false;
                        for (size_t j = i + 1; j < n; j++)
                                if (s[j] < '0' || s[j] > '9')
                                        return false;
                        break;
                }
        return copy_name(s, end, name) && !strchr(name, ':');
}

static enum sniff_result sniff_http(const unsigned char *buf, size_t len,
                                    char name[SNIFF_MAX_NAME + 1]) {
        const unsigned char *line = buf, *end = buf + len, *nl, *sp1, *sp2;
        char uri_host[SNIFF_MAX_NAME + 1] = "";
        bool have_host = false, first = true;

        for (;; line = nl + 1) {
                size_t ll;

                nl = memchr(line, '\n', (size_t) (end - line));
                if (!nl)
                        return SNIFF_NEED_MORE;
                ll = (size_t) (nl - line);
                if (ll && line[ll - 1] == '\r')
                        ll--;
                for (size_t i = 0; i < ll; i++)
                        if (line[i] == 0 || line[i] == '\r')
                                return SNIFF_MALFORMED;
                if (first) {
                        /* METHOD SP target SP HTTP/1.x */
                        first = false;
                        sp1 = memchr(line, ' ', ll);
                        sp2 = sp1 ? memchr(sp1 + 1, ' ', ll - (size_t) (sp1 + 1 - line)) : NULL;
                        if (!sp1 || !sp2 || (size_t) (line + ll - (sp2 + 1)) != 8 ||
                            memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
                                return SNIFF_MALFORMED;
                        /* absolute-form: the server uses this authority, not Host (RFC 9112
                         * §3.2.2), so it is the name to check. */
                        if (ci_prefix(sp1 + 1, (size_t) (sp2 - sp1 - 1), "http://")) {
                                const unsigned char *a = sp1 + 8, *ae = a;

                                while (ae < sp2 && *ae != '/' && *ae != '?' && *ae != '#')
                                        ae++;
                                if (memchr(a, '@', (size_t) (ae - a)) ||
                                    !sniff_host_from_authority(a, (size_t) (ae - a), uri_host))
                                        return SNIFF_MALFORMED;
                        } else if (sp1[1] != '/' && !(sp2 - sp1 == 2 && sp1[1] == '*') &&
                                   !(sp1 - line == 7 && memcmp(line, "CONNECT", 7) == 0))
                                /* Any other scheme's absolute-form (https://, ws://, x:...):
                                 * servers route by its authority too (nginx takes any scheme,
                                 * Go's server every URL), so Host would not be the name used.
                                 * CONNECT's authority-form is refused by the framer. */
                                return SNIFF_MALFORMED;
                        continue;
                }
                if (ll == 0)
                        break;
                if (line[0] == ' ' || line[0] == '\t')
                        return SNIFF_MALFORMED;         /* obsolete folding */
                if (ci_prefix(line, ll, "host:")) {
                        const unsigned char *v = line + 5, *ve = line + ll;

                        /* Two Host headers are a smuggling vector (RFC 9112 §3.2: 400). */
                        if (have_host)
                                return SNIFF_MALFORMED;
                        while (v < ve && (*v == ' ' || *v == '\t'))
                                v++;
                        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                                ve--;
                        if (v == ve)
                                return SNIFF_HTTP_NO_HOST;
                        if (!sniff_host_from_authority(v, (size_t) (ve - v), name))
                                return SNIFF_MALFORMED;
                        have_host = true;
                } else {
                        const unsigned char *colon = memchr(line, ':', ll);

                        if (!colon || colon == line)
                                return SNIFF_MALFORMED;
                        for (const unsigned char *q = line; q < colon; q++)
                                if (*q == ' ' || *q == '\t')
                                        return SNIFF_MALFORMED;
                }
        }
        if (uri_host[0]) {
                if (have_host && !sniff_name_equal(uri_host, name))
                        return SNIFF_MALFORMED;
                memcpy(name, uri_host, sizeof uri_host);
                return SNIFF_HTTP;
        }
        return have_host ? SNIFF_HTTP : SNIFF_HTTP_NO_HOST;
}

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A request-line with a method not in the table ("PROPFIND / HTTP/1.1", "get / HTTP/1.1",
 * "PRI * HTTP/2.0"): servers accept extension methods, so such a line must have its Host
 * checked as well, not pass as "not HTTP". 1: TOKEN SP ... SP HTTP/...; 0: a prefix of one;
 * -1: not a request-line. */
static int http_request_line(const unsigned char *b, size_t n) {
        const unsigned char *nl, *sp;
        size_t i = 0, ll;

        while (i < n && is_tchar(b[i]))
                i++;
        if (i == 0 || (i < n && b[i] != ' '))
                return -1;
        nl = memchr(b, '\n', n);
        if (!nl)
                return 0;
        ll = (size_t) (nl - b);
        if (ll && b[ll - 1] == '\r')
                ll--;
        sp = memrchr(b, ' ', ll);
        return sp && sp > b + i && (size_t) (b + ll - (sp + 1)) >= 5 &&
                               memcmp(sp + 1, "HTTP/", 5) == 0 ? 1 : -1;
}

enum sniff_result sniff_parse(const unsigned char *buf, size_t len,
                              char name[SNIFF_MAX_NAME + 1]) {
        enum sniff_result r;
        size_t skip = 0;
        int m;

        name[0] = 0;
        if (len == 0)
                return SNIFF_NEED_MORE;
        if (len > SNIFF_MAX_BYTES)
                len = SNIFF_MAX_BYTES;
        /* Any TLS record type (change_cipher_spec, alert, handshake, application_data,
         * heartbeat) opens like TLS: only a ClientHello carries the name, so the others are
         * MALFORMED, never "not TLS, decided on the address" (a lenient server might skip
         * such a record and then read a ClientHello naming another site). */
        if (buf[0] == 0x16 || (buf[0] >= 0x14 && buf[0] <= 0x18 && (len < 2 || buf[1] == 0x03)))
                r = len < 2 && buf[0] != 0x16 ? SNIFF_NEED_MORE : sniff_tls(buf, len, name);
        else if (memcmp(buf, HTTP2_PREFACE, len < 24 ? len : 24) == 0)
                /* HTTP/2 with prior knowledge (h2c, gRPC without TLS): the names are in the
                 * requests' header blocks, which the relay's framer checks one by one. A
                 * client may wait for the server's SETTINGS before its first request (gRPC
                 * does), so the preface alone decides: waiting for a request would stall. */
                r = len < 24 ? SNIFF_NEED_MORE : SNIFF_H2;
        else {
                /* RFC 9112 §2.2: a server ignores empty lines before the request-line (nginx,
                 * Apache and Node skip any number), so "\r\nGET ..." is HTTP as well. */
                while (skip < len && (buf[skip] == '\r' || buf[skip] == '\n'))
                        skip++;
                if (skip == len)
                        r = SNIFF_NEED_MORE;
                else if ((m = http_method(buf + skip, len - skip)) > 0)
                        r = sniff_http(buf + skip, len - skip, name);
                else if (m == 0)
                        r = SNIFF_NEED_MORE;
                else if ((m = http_request_line(buf + skip, len - skip)) > 0)
                        r = sniff_http(buf + skip, len - skip, name);
                else if (m == 0)
                        r = SNIFF_NEED_MORE;
                else
                        return SNIFF_UNKNOWN;
        }
        /* At the cap, a prefix is all there will ever be. */
        if (r == SNIFF_NEED_MORE && len >= SNIFF_MAX_BYTES)
                r = SNIFF_MALFORMED;
        if (r != SNIFF_TLS && r != SNIFF_HTTP && r != SNIFF_TLS_ECH)
                name[0] = 0;
        return r;
}
