/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egress/sniff.h"

/* A minimal ClientHello with the given extensions block (already encoded). */
static size_t client_hello(unsigned char *out, const unsigned char *ext, size_t ext_len,
                           size_t split) {
        unsigned char hs[2048];
        size_t n = 0, off = 0;

        hs[n++] = 1;                     /* ClientHello */
        n += 3;                          /* length, below */
        hs[n++] = 3, hs[n++] = 3;        /* legacy_version */
        memset(hs + n, 0xab, 32), n += 32;
        hs[n++] = 0;                     /* session id */
        hs[n++] = 0, hs[n++] = 2, hs[n++] = 0x13, hs[n++] = 0x01;
        hs[n++] = 1, hs[n++] = 0;        /* compression: null */
        if (ext) {
                hs[n++] = (unsigned char) (ext_len >> 8), hs[n++] = (unsigned char) ext_len;
                memcpy(hs + n, ext, ext_len), n += ext_len;
        }
        hs[1] = 0, hs[2] = (unsigned char) ((n - 4) >> 8), hs[3] = (unsigned char) (n - 4);
        /* One record, or two when split > 0. */
        for (size_t pos = 0; pos < n;) {
                size_t rl = split && pos == 0 ? split : n - pos;

                out[off++] = 0x16, out[off++] = 3, out[off++] = 1;
                out[off++] = (unsigned char) (rl >> 8), out[off++] = (unsigned char) rl;
                memcpy(out + off, hs + pos, rl);
                off += rl, pos += rl;
        }
        return off;
}

static size_t sni_ext(unsigned char *e, const char *host) {
        size_t hl = strlen(host), n = 0;

        e[n++] = 0, e[n++] = 0;                                 /* server_name */
        e[n++] = 0, e[n++] = (unsigned char) (hl + 5);
        e[n++] = 0, e[n++] = (unsigned char) (hl + 3);          /* list */
        e[n++] = 0;                                             /* host_name */
        e[n++] = 0, e[n++] = (unsigned char) hl;
        memcpy(e + n, host, hl);
        return n + hl;
}

Test(sniff, tls_sni) {
        unsigned char e[300], m[4096];
        char name[SNIFF_MAX_NAME + 1];
        size_t el = sni_ext(e, "API.Example.COM."), ml = client_hello(m, e, el, 0);

        cr_assert_eq(sniff_parse(m, ml, name), SNIFF_TLS);
        cr_assert_str_eq(name, "api.example.com");
        /* Every prefix asks for more. */
        for (size_t i = 1; i < ml; i++)
                cr_assert_eq(sniff_parse(m, i, name), SNIFF_NEED_MORE, "prefix %zu", i);
}

Test(sniff, tls_split_records) {
        unsigned char e[300], m[4096];
        char name[SNIFF_MAX_NAME + 1];
        size_t el = sni_ext(e, "a.example"), ml = client_hello(m, e, el, 10);

        cr_assert_eq(sniff_parse(m, ml, name), SNIFF_TLS);
        cr_assert_str_eq(name, "a.example");
}

/* Encrypted Client Hello: the name the relay sees need not be the one the server uses. */
Test(sniff, tls_ech_refused) {
        unsigned char e[300], m[4096];
        char name[SNIFF_MAX_NAME + 1];
        size_t el = sni_ext(e, "a.example");

        /* an encrypted_client_hello extension (type 0xfe0d), its body opaque here */
        e[el++] = 0xfe, e[el++] = 0x0d, e[el++] = 0, e[el++] = 3;
        e[el++] = 0, e[el++] = 0, e[el++] = 1;
        cr_assert_eq(sniff_parse(m, client_hello(m, e, el, 0), name), SNIFF_TLS_ECH);
        cr_assert_str_eq(name, "a.example");
        cr_assert_eq(sniff_parse(m, client_hello(m, e + 9 + 9, el - 18, 0), name), SNIFF_TLS_ECH);
}

Test(sniff, tls_without_sni) {
        unsigned char m[4096], e[4] = { 0, 0x2b, 0, 0 };        /* an empty other extension */
        char name[SNIFF_MAX_NAME + 1];

        cr_assert_eq(sniff_parse(m, client_hello(m, e, 4, 0), name), SNIFF_TLS_NO_SNI);
        cr_assert_eq(sniff_parse(m, client_hello(m, NULL, 0, 0), name), SNIFF_TLS_NO_SNI);
        cr_assert_str_eq(name, "");
}

Test(sniff, tls_duplicate_sni_is_malformed) {
        unsigned char e[600], m[4096];
        char name[SNIFF_MAX_NAME + 1];
        size_t el = sni_ext(e, "a.example");

        el += sni_ext(e + el, "b.example");
        cr_assert_eq(sniff_parse(m, client_hello(m, e, el, 0), name), SNIFF_MALFORMED);
}

Test(sniff, tls_bad_name_is_malformed) {
        unsigned char e[300], m[4096];
        char name[SNIFF_MAX_NAME + 1];

        cr_assert_eq(sniff_parse(m, client_hello(m, e, sni_ext(e, "a b.example"), 0), name),
                     SNIFF_MALFORMED);
        cr_assert_eq(sniff_parse(m, client_hello(m, e, sni_ext(e, "a.example\x01"), 0), name),
                     SNIFF_MALFORMED);
}

Test(sniff, tls_not_client_hello) {
        unsigned char m[] = { 0x16, 3, 1, 0, 4, 2, 0, 0, 0 };  /* ServerHello */
        char name[SNIFF_MAX_NAME + 1];

        cr_assert_eq(sniff_parse(m, sizeof m, name), SNIFF_MALFORMED);
}

static enum sniff_result http(const char *s, char *name) {
        return sniff_parse((const unsigned char *) s, strlen(s), name);
}

Test(sniff, http_host) {
        char name[SNIFF_MAX_NAME + 1];

        cr_assert_eq(http("GET / HTTP/1.1\r\nUser-Agent: x\r\nHOST:  WWW.Example.com:8080 \r\n\r\n",
                          name), SNIFF_HTTP);
        cr_assert_str_eq(name, "www.example.com");
        cr_assert_eq(http("GET / HTTP/1.1\nHost: a.example\n\n", name), SNIFF_HTTP);
        cr_assert_str_eq(name, "a.example");
        cr_assert_eq(http("PUT /x HTTP/1.0\r\nHost: [2001:db8::1]:80\r\n\r\n", name), SNIFF_HTTP);
        cr_assert_str_eq(name, "2001:db8::1");
}

Test(sniff, http_need_more) {
        char name[SNIFF_MAX_NAME + 1];

        cr_assert_eq(http("GE", name), SNIFF_NEED_MORE);
        cr_assert_eq(http("GET / HTTP/1.1\r\nHost: a.example\r\n", name), SNIFF_NEED_MORE);
        cr_assert_eq(http("", name), SNIFF_NEED_MORE);
}

Test(sniff, http_ambiguous_is_malformed) {
        char name[SNIFF_MAX_NAME + 1];

        cr_assert_eq(http("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", name),
                     SNIFF_MALFORMED);
        cr_assert_eq(http("GET / HTTP/1.1\r\nHost: a.example\r\n b.example\r\n\r\n", name),
                     SNIFF_MALFORMED);
        cr_assert_eq(http("GET / HTTP/1.1\r\nHost: user@a.example\r\n\r\n", name), SNIFF_MALFORMED);
        cr_assert_eq(http("GET / HTTP/1.1\r\nHost : a.example\r\n\r\n", name), SNIFF_MALFORMED);
        cr_assert_eq(http("GET / HTTP/2.0\r\nHost: a.example\r\n\r\n", name), SNIFF_MALFORMED);
        cr_assert_eq(http("GET http://b.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", name),
                     SNIFF_MALFORMED);
        /* Empty labels: no such name (dots only left a trailing dot: fuzz-sniff). */
        cr_assert_eq(http("GET / HTTP/1.1\r\nHost: .......\r\n\r\n", name), SNIFF_MALFORMED);
        cr_assert_eq(http("GET / HTTP/1.1\r\nHost: a..example\r\n\r\n", name), SNIFF_MALFORMED);
        cr_assert_eq(http("GET / HTTP/1.1\r\nHost: .a.example\r\n\r\n", name), SNIFF_MALFORMED);
        cr_assert_eq(http("GET / HTTP/1.1\r\nHost: a.example.\r\n\r\n", name), SNIFF_HTTP);
        cr_assert_str_eq(name, "a.example");
}

Test(sniff, http_absolute_form) {
        char name[SNIFF_MAX_NAME + 1];

        cr_assert_eq(http("GET http://B.example:81/x HTTP/1.1\r\n\r\n", name), SNIFF_HTTP);
        cr_assert_str_eq(name, "b.example");
        /* Other schemes name a host too, which servers use instead of Host: refused. */
        cr_assert_eq(http("GET https://b.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", name),
                     SNIFF_MALFORMED);
        cr_assert_eq(http("GET ws://b.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", name),
                     SNIFF_MALFORMED);
        cr_assert_eq(http("GET x://b.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", name),
                     SNIFF_MALFORMED);
        cr_assert_eq(http("GET b.example HTTP/1.1\r\nHost: a.example\r\n\r\n", name),
                     SNIFF_MALFORMED);
        /* origin-form and OPTIONS * name no host: Host decides. */
        cr_assert_eq(http("OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n", name), SNIFF_HTTP);
        cr_assert_str_eq(name, "a.example");
        cr_assert_eq(http("GET /?u=http://b.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", name),
                     SNIFF_HTTP);
        cr_assert_str_eq(name, "a.example");
}

Test(sniff, http_no_host) {
        char name[SNIFF_MAX_NAME + 1];

        cr_assert_eq(http("GET / HTTP/1.0\r\n\r\n", name), SNIFF_HTTP_NO_HOST);
        cr_assert_eq(http("GET / HTTP/1.1\r\nHost:\r\n\r\n", name), SNIFF_HTTP_NO_HOST);
}

Test(sniff, unknown) {
        char name[SNIFF_MAX_NAME + 1];

        cr_assert_eq(http("SSH-2.0-OpenSSH_9.2\r\n", name), SNIFF_UNKNOWN);
        cr_assert_eq(http("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", name), SNIFF_UNKNOWN);
        cr_assert_eq(http("EHLO client.example\r\n", name), SNIFF_UNKNOWN);
        cr_assert_eq(http("*1\r\n$4\r\nPING\r\n", name), SNIFF_UNKNOWN);
        cr_assert_eq(sniff_parse((const unsigned char *) "\0\0\0\x08\x04\xd2\x16\x2f", 8, name),
                     SNIFF_UNKNOWN);
}

/* Openings a server takes as HTTP must be checked as HTTP, never pass as "unknown" and be
 * decided on the address: leading empty lines (RFC 9112 §2.2), extension or lower-case
 * methods, h2c prior knowledge (its :authority is in HPACK, which the relay does not read). */
Test(sniff, http_variants_servers_accept_are_checked) {
        char name[SNIFF_MAX_NAME + 1];

        cr_assert_eq(http("\r\nGET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", name), SNIFF_HTTP);
        cr_assert_str_eq(name, "evil.example");
        cr_assert_eq(http("\r\n\n\r\nGET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", name),
                     SNIFF_HTTP);
        cr_assert_str_eq(name, "evil.example");
        cr_assert_eq(http("\r\n", name), SNIFF_NEED_MORE);
        cr_assert_eq(http("\r\nGE", name), SNIFF_NEED_MORE);
        cr_assert_eq(http("PROPFIND /x HTTP/1.1\r\nHost: evil.example\r\n\r\n", name), SNIFF_HTTP);
        cr_assert_str_eq(name, "evil.example");
        cr_assert_eq(http("get / HTTP/1.1\r\nHost: evil.example\r\n\r\n", name), SNIFF_HTTP);
        cr_assert_str_eq(name, "evil.example");
        cr_assert_eq(http("PROPFIND /x HTT", name), SNIFF_NEED_MORE);
        /* HTTP/2's preface: its requests are the framer's to check (below). */
        cr_assert_eq(http("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", name), SNIFF_H2);
        cr_assert_eq(http("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", name), SNIFF_MALFORMED);
        cr_assert_eq(http("PROPFIND /x HTTP/1.1\r\n\r\n", name), SNIFF_HTTP_NO_HOST);
}

/* A record of another TLS type before the ClientHello: malformed, not "unknown". */
Test(sniff, tls_other_record_first_is_malformed) {
        unsigned char ccs[] = { 0x14, 3, 3, 0, 1, 1 }, alert[] = { 0x15, 3, 3, 0, 2, 1, 0 };
        char name[SNIFF_MAX_NAME + 1];

        cr_assert_eq(sniff_parse(ccs, sizeof ccs, name), SNIFF_MALFORMED);
        cr_assert_eq(sniff_parse(alert, sizeof alert, name), SNIFF_MALFORMED);
        cr_assert_eq(sniff_parse(ccs, 1, name), SNIFF_NEED_MORE);
}

Test(sniff, cap_turns_need_more_into_malformed) {
        static unsigned char big[SNIFF_MAX_BYTES + 10];
        char name[SNIFF_MAX_NAME + 1];

        memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
        memset(big + 19, 'a', sizeof big - 19);
        cr_assert_eq(sniff_parse(big, sizeof big, name), SNIFF_MALFORMED);
}

Test(sniff, name_equal) {
        cr_assert(sniff_name_equal("A.example.", "a.EXAMPLE"));
        cr_assert_not(sniff_name_equal("a.example", "b.example"));
        cr_assert_not(sniff_name_equal("a.example", "a.example.com"));
}

/* A real ClientHello (openssl s_client -servername api.example.com), from the fuzz corpus. */
Test(sniff, real_openssl_client_hello) {
        const char *src = getenv("CAISSON_SRCDIR");
        char path[4096], name[SNIFF_MAX_NAME + 1];
        unsigned char buf[4096];
        FILE *f;
        size_t n;

        if (!src)
                cr_skip_test("CAISSON_SRCDIR not set (run through meson test)");
        snprintf(path, sizeof path, "%s/tests/fuzz/corpus/sniff/tls-openssl", src);
        f = fopen(path, "re");
        cr_assert(f, "%s", path);
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        cr_assert_eq(sniff_parse(buf, n, name), SNIFF_TLS);
        cr_assert_str_eq(name, "api.example.com");
}

/* HTTP/2 with prior knowledge: the preface alone decides, with no name (each request's
 * is the framer's): a gRPC client waits for the server's SETTINGS before its first request,
 * so waiting for that request here would stall both. */
Test(sniff, h2_preface) {
        static const unsigned char req[] =
                "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                "\x00\x00\x06\x04\x00\x00\x00\x00\x00" "\x00\x03\x00\x00\x00\x64";
        char name[SNIFF_MAX_NAME + 1];

        for (size_t n = 1; n < 24; n++)
                cr_assert_eq(sniff_parse(req, n, name), SNIFF_NEED_MORE, "prefix %zu", n);
        for (size_t n = 24; n <= sizeof req - 1; n++) {
                cr_assert_eq(sniff_parse(req, n, name), SNIFF_H2, "length %zu", n);
                cr_assert_str_eq(name, "");
        }
        /* Like it but not it: HTTP/1 rules (a request-line, not HTTP/1.x). */
        cr_assert_eq(sniff_parse((const unsigned char *) "PRI * HTTP/2.0\n\nSM\n\n", 20, name),
                     SNIFF_MALFORMED);
        cr_assert_str_eq(sniff_result_to_string(SNIFF_H2), "h2");
}
