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
 * the stream opaque (it is no longer HTTP), anything else keeps framing. */
#ifndef CAISSON_EGRESS_HTTP_H
#define CAISSON_EGRESS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
};

struct http_framer {
        enum http_state state;
        uint64_t left;
        size_t trailer;         /* trailer bytes so far */
        unsigned requests;      /* request heads seen */
        bool upgrade;           /* the current request asks to leave HTTP */
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

/* In HTTP_UPGRADE_WAIT: the first bytes the server sent after the Upgrade request. false
 * while its status line is incomplete; true once decided (101: HTTP_OPAQUE; anything else,
 * even malformed: framing goes on at the next request). */
bool http_frame_response(struct http_framer *f, const unsigned char *buf, size_t len);

#endif
