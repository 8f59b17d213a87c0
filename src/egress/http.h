/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/egress/http.h — request framing of a client's HTTP/1.x stream, so that every request on
 * a kept-alive connection has its Host checked, not only the first one (a CDN address serves
 * many names: a second request on the same connection could name another site). Pure: no
 * syscalls, no allocation; the bytes are the agent's and untrusted.
 *
 * The framer walks the client's bytes: a request head (whose Host the caller checks), then
 * its body as the head frames it (Content-Length, or chunked), then the next head. What it
 * cannot frame for sure ends the connection: both Transfer-Encoding and Content-Length (the
 * request-smuggling ambiguity), differing Content-Lengths, a transfer coding other than
 * chunked, CONNECT, an Upgrade after other requests. An Upgrade (WebSocket) request holds
 * the client's further bytes until the server's status line is seen: 101 makes the rest of
 * the stream opaque (it is no longer HTTP), anything else keeps framing; an Upgrade to h2c
 * is framed as HTTP/2 after the 101.
 *
 * HTTP/2 (prior knowledge, or after an h2c upgrade) is framed frame by frame: each header
 * block (HEADERS and its CONTINUATIONs, whole, at most 16 KiB) is decoded with the
 * connection's HPACK state, and one that carries pseudo-fields or Host is a request whose
 * host (:authority, or Host; both must agree) the caller checks. A block without either
 * (trailers) goes on; a request block without a host, PUSH_PROMISE from the client, a
 * CONTINUATION out of place or invalid HPACK ends the connection. Other frames go on as
 * they are. The HPACK decoder allocates (hpack.c); the rest of the framer does not. */
#ifndef CAISSON_EGRESS_HTTP_H
#define CAISSON_EGRESS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "egress/hpack.h"
#include "egress/sniff.h"

#define HTTP_MAX_HEAD SNIFF_MAX_BYTES   /* a request head (or trailer) longer is refused */
#define HTTP_MAX_LINE 4096              /* a chunk-size line */

enum http_state {
        HTTP_HEAD,              /* at the start of a request */
        HTTP_BODY,              /* left bytes of a Content-Length body */
        HTTP_CHUNK_SIZE,
        HTTP_CHUNK_DATA,        /* left bytes of a chunk */
        HTTP_CHUNK_END,         /* the CRLF after a chunk */
        HTTP_TRAILER,
        HTTP_UPGRADE_WAIT,      /* an Upgrade request was sent: hold until the status line */
        HTTP_OPAQUE,            /* upgraded: not HTTP any more */
        HTTP_H2_PREFACE,        /* HTTP/2: its connection preface comes next */
        HTTP_H2_FRAME,          /* HTTP/2: at a frame's start */
        HTTP_H2_PAYLOAD,        /* HTTP/2: left bytes of a frame that names no host */
};

struct http_framer {
        enum http_state state;
        uint64_t left;
        size_t trailer;         /* trailer bytes so far */
        unsigned requests;      /* request heads seen (HTTP/2: request header blocks) */
        bool upgrade;           /* the current request asks to leave HTTP */
        bool upgrade_h2c;       /* ... for HTTP/2 (RFC 7540 §3.2): it is framed after 101 */
        struct hpack *hp;       /* HTTP/2: the client's HPACK state (http_framer_done) */
};

enum http_frame_result {
        HTTP_FRAME_MORE,        /* *used bytes (body, chunk framing) may go on; 0: more bytes
                                 * are needed (or the stream is held) */
        HTTP_FRAME_REQUEST,     /* a request head of *used bytes starts buf; its Host is in
                                 * name, for the caller to check before the bytes go on */
        HTTP_FRAME_BAD,         /* cannot be framed: end the connection; *why says why */
};

/* Frames the next part of buf[0..len), the client's bytes not yet passed on. The caller
 * passes on *used bytes and calls again with the rest. */
enum http_frame_result http_frame(struct http_framer *f, const unsigned char *buf, size_t len,
                                  size_t *used, char name[SNIFF_MAX_NAME + 1], const char **why);

/* Frees what an HTTP/2 connection's framing holds. */
void http_framer_done(struct http_framer *f);

/* In HTTP_UPGRADE_WAIT: the first bytes the server sent after the Upgrade request. false
 * while its status line is incomplete; true once decided (101: HTTP_OPAQUE; anything else,
 * even malformed: framing goes on at the next request). */
bool http_frame_response(struct http_framer *f, const unsigned char *buf, size_t len);

#endif
