/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/egress/sniff.h — the name a client asks for in the first bytes of a TCP connection:
 * the TLS ClientHello's server_name (SNI) or the HTTP/1.x Host header; HTTP/2's preface is
 * recognised, its requests' names are the framer's (http.h). Pure: no syscalls, no
 * allocation; the bytes are the agent's and untrusted. The relay compares the result with the
 * name the connection was allowed for, so one CDN address admits only the allowed site. */
#ifndef CAISSON_EGRESS_SNIFF_H
#define CAISSON_EGRESS_SNIFF_H

#include <stdbool.h>
#include <stddef.h>

#define SNIFF_MAX_NAME 253
#define SNIFF_MAX_BYTES 16384   /* the relay peeks at most this much */

enum sniff_result {
        SNIFF_NEED_MORE,        /* a prefix of a ClientHello / HTTP request: read more */
        SNIFF_TLS,              /* TLS ClientHello with a server_name: in name */
        SNIFF_TLS_NO_SNI,       /* a complete ClientHello without server_name */
        SNIFF_HTTP,             /* HTTP/1.x request with a Host header: in name */
        SNIFF_HTTP_NO_HOST,     /* complete HTTP headers without (or with an empty) Host */
        SNIFF_MALFORMED,        /* starts like TLS or HTTP but breaks the grammar */
        SNIFF_UNKNOWN,          /* neither protocol: decided on the address */
        SNIFF_H2,               /* the HTTP/2 connection preface (prior knowledge): no name
                                 * here, each request's is checked by the framer (http.h) */
        SNIFF_TLS_ECH,          /* a ClientHello with Encrypted Client Hello (RFC 9849): the
                                 * server may use the hidden inner name; the outer one, if
                                 * any, in name */
};

/* The client connection preface of HTTP/2 (RFC 9113 §3.4), 24 bytes. */
#define HTTP2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

/* Looks at the first len bytes a client sent. On SNIFF_TLS / SNIFF_HTTP (and SNIFF_TLS_ECH, the
 * outer SNI or ""), name holds the host,
 * lower-cased, without port and without a trailing dot (NUL-terminated, ≤ SNIFF_MAX_NAME).
 * A ClientHello may span several TLS records (only the first record's handshake prefix is
 * needed up to the extension); HTTP headers end at the first empty line. */
enum sniff_result sniff_parse(const unsigned char *buf, size_t len,
                              char name[SNIFF_MAX_NAME + 1]);

/* host[:port] or [v6]:port (an HTTP authority without userinfo) → the host in name,
 * validated and lower-cased as sniff_parse() gives it. */
bool sniff_host_from_authority(const unsigned char *s, size_t n, char name[SNIFF_MAX_NAME + 1]);

/* Case-insensitive equality of two host names, ignoring one trailing dot on either. */
bool sniff_name_equal(const char *a, const char *b);

const char *sniff_result_to_string(enum sniff_result r);

#endif
