/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/egress/hpack.h — the names an HTTP/2 request's header block carries (:authority and
 * Host), decoded with libnghttp2's HPACK inflater (RFC 7541: Huffman codes, static and
 * dynamic tables). libnghttp2 is a well-kept decoder, fuzzed upstream; a hand-written one
 * would be the relay's largest parser of the agent's bytes. It is dlopen()ed on the first
 * HTTP/2 connection only, never a DT_NEEDED of the supervisor. One inflater per connection:
 * the dynamic table spans every header block the client sends on it. */
#ifndef CAISSON_EGRESS_HPACK_H
#define CAISSON_EGRESS_HPACK_H

#include <stdbool.h>
#include <stddef.h>

#include "egress/sniff.h"

#define HPACK_MAX_TABLE 65536   /* a dynamic table larger than this is refused */
#define HPACK_MAX_VALUE (SNIFF_MAX_NAME + 8)  /* host and ":port" */

struct hpack;

/* What one header block held. */
struct hpack_seen {
        bool pseudo;                    /* any ":" field (a request has :method, ...) */
        bool too_long;                  /* an :authority or Host longer than HPACK_MAX_VALUE */
        bool bad_name;                  /* a name with upper case, or an unknown pseudo-field:
                                         * malformed (RFC 9113 §8.2.1, §8.3), and a server
                                         * that took it anyway could read another host */
        bool connect;                   /* :method CONNECT */
        bool websocket;                 /* :protocol websocket (RFC 8441) */
        unsigned n_protocol;
        bool path_bad;                  /* a :path that is neither origin-form nor "*": an
                                         * absolute URI names its own host */
        unsigned n_authority, n_host;
        unsigned char authority[HPACK_MAX_VALUE];
        size_t authority_len;
        unsigned char host[HPACK_MAX_VALUE];
        size_t host_len;
};

/* -ENOSYS (libnghttp2 cannot be loaded; *why says so) or -ENOMEM. */
int hpack_new(struct hpack **ret, const char **why);
struct hpack *hpack_free(struct hpack *h);

/* Decodes the next fragment of a header block into *seen (zeroed by the caller at the
 * block's start); final for its last fragment. -EBADMSG if it is not valid HPACK (the
 * inflater is unusable after that). */
int hpack_feed(struct hpack *h, const unsigned char *in, size_t len, bool final,
               struct hpack_seen *seen);

#endif
