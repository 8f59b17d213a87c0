/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the relay's HTTP request framer: an agent's byte stream on a plain-HTTP
 * connection allowed for one name, untrusted. Besides memory errors it checks the promises of
 * http.h: never more bytes used than given, and the same verdicts (each request head with its
 * Host and offset, the refusal and where) whether the stream arrives at once or a byte at a
 * time — the relay sees it split wherever the network split it. The first byte picks the
 * server's answer to an Upgrade request (101 or 200), and whether the stream is HTTP/2 with
 * prior knowledge (the framer starts at its preface, as the relay starts it for h2c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egress/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void logf_(char *log, size_t cap, size_t *len, const char *what, size_t pos,
                  const char *name) {
        int n = snprintf(log + *len, cap - *len, "%s@%zu:%s;", what, pos, name);

        if (n > 0 && (size_t) n < cap - *len)
                *len += (size_t) n;
}

/* Feeds data step bytes at a time, as the relay does: bytes not used stay for the next call. */
static void drive(const uint8_t *d, size_t n, size_t step, bool up101, bool h2, char *log,
                  size_t cap) {
        struct http_framer f = { .state = h2 ? HTTP_H2_PREFACE : HTTP_HEAD };
        size_t avail = step < n ? step : n, pos = 0, len = 0;
        static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\n", no[] = "HTTP/1.1 200 OK\r\n";

        log[0] = 0;
        for (;;) {
                char name[SNIFF_MAX_NAME + 1];
                const char *why;
                size_t used;
                enum http_frame_result r = http_frame(&f, d + pos, avail - pos, &used, name, &why);

                if (used > avail - pos || strlen(name) > SNIFF_MAX_NAME)
                        abort();
                if (r == HTTP_FRAME_BAD) {
                        if (!why)
                                abort();
                        logf_(log, cap, &len, "bad", pos, why);
                        http_framer_done(&f);
                        return;
                }
                if (r == HTTP_FRAME_REQUEST) {
                        if (used == 0 || !name[0])
                                abort();
                        logf_(log, cap, &len, "req", pos, name);
                        pos += used;
                        continue;
                }
                pos += used;
                if (used > 0)
                        continue;
                if (f.state == HTTP_UPGRADE_WAIT) {
                        const char *s = up101 ? ok : no;

                        if (!http_frame_response(&f, (const unsigned char *) s, strlen(s)))
                                abort();
                        logf_(log, cap, &len, "up", pos, up101 ? "101" : "200");
                        continue;
                }
                if (avail == n) {
                        logf_(log, cap, &len, "end", pos, "");
                        http_framer_done(&f);
                        return;
                }
                avail = avail + step < n ? avail + step : n;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char a[65536], b[65536];

        if (size < 1 || size > 4 * HTTP_MAX_HEAD)
                return 0;
        drive(data + 1, size - 1, size, data[0] & 1, data[0] & 2, a, sizeof a);
        drive(data + 1, size - 1, 1, data[0] & 1, data[0] & 2, b, sizeof b);
        if (strcmp(a, b) != 0) {
                fprintf(stderr, "at once: %s\nbyte by byte: %s\n", a, b);
                abort();
        }
        return 0;
}
