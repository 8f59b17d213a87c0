/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the DNS codec. The first byte picks what the rest is:
 *   0: a query: parse, build every kind of reply (also in place), and parse that reply back
 *      as the answer to its own query; build the query the gateway asks upstream for it;
 *   1: a response to "example.com A" (what the seed corpus answers);
 *   2: two bytes of query length, the query, then a response to it, also turned into the
 *      answer to the client.
 * Besides memory errors it checks the codec's promises: the reply's exact length and
 * header, n_addrs and n_cname within bounds, TTLs capped, names NUL-terminated, the
 * printable form of a name free of anything a terminal or JSON would interpret; the name
 * handed to policy matching, written back as labels, is the question on the wire (but for
 * case), so what was matched is what the upstream is asked; and an accepted response
 * becomes the client's answer with its id and question. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "egress/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *name) {
        char out[DNS_PRINTABLE_MAX];

        if (strnlen(name, DNS_MAX_NAME + 1) > DNS_MAX_NAME)
                abort();
        dns_name_printable(name, out, sizeof out);
        for (const char *c = out; *c; c++) {
                if (*c <= ' ' || *c >= 0x7f || *c == '"')
                        abort();
                if (*c == '\\') {
                        /* Only ever the start of \DDD. */
                        if (c[1] < '0' || c[1] > '2' || c[2] < '0' || c[2] > '9' ||
                            c[3] < '0' || c[3] > '9')
                                abort();
                        c += 3;
                }
        }
        /* Every short buffer is still terminated, and never overrun. */
        for (size_t n = 1; n < 12; n++) {
                char small[16];

                memset(small, 'x', sizeof small);
                dns_name_printable(name, small, n);
                if (strnlen(small, n) >= n || small[n] != 'x')
                        abort();
        }
}

static void check_answer(const struct dns_answer *a) {
        if (a->n_addrs > DNS_MAX_ADDRS || a->n_cname > 4 || a->rcode > 15)
                abort();
        for (size_t i = 0; i < a->n_addrs; i++)
                if ((a->addrs[i].family != AF_INET && a->addrs[i].family != AF_INET6) ||
                    a->addrs[i].ttl > DNS_TTL_MAX)
                        abort();
        for (size_t i = 0; i < a->n_cname; i++)
                check_printable(a->cname[i]);
}

static uint8_t lower(uint8_t c) {
        return c >= 'A' && c <= 'Z' ? (uint8_t) (c - 'A' + 'a') : c;
}

/* The query the gateway asks upstream for q (parsed from msg): the question as on the wire
 * (lower-cased), RD alone, our OPT if q had one; and it parses back to the same question. */
static void forwarded(const uint8_t *msg, const struct dns_query *q) {
        uint8_t out[DNS_MAX_QUERY_OUT];
        struct dns_query back;
        size_t qlen = q->question_end - DNS_HEADER_SIZE;
        ssize_t n = dns_build_query(q, 0x1234, out, sizeof out);

        if (n < 0 || (size_t) n != q->question_end + (q->has_edns ? 11 : 0))
                abort();
        /* The name's bytes, A-Z folded; then type and class as they are. */
        for (size_t i = 0; i < qlen; i++)
                if (out[DNS_HEADER_SIZE + i] != (i < qlen - 4 ? lower(msg[DNS_HEADER_SIZE + i]) :
                                                                msg[DNS_HEADER_SIZE + i]))
                        abort();
        if (dns_get_id(out) != 0x1234 || out[2] != (DNS_FLAG_RD >> 8) || out[3] != 0)
                abort();
        if (dns_parse_query(out, (size_t) n, &back, NULL) < 0 || strcmp(back.name, q->name) ||
            back.qtype != q->qtype || back.qclass != q->qclass || back.has_edns != q->has_edns ||
            back.edns_do != q->edns_do)
                abort();
        if (dns_build_query(q, 1, out, (size_t) n - 1) != -ENOSPC)
                abort();
}

/* An accepted response to q becomes the client's answer: its id and question bytes. */
static void to_client(const uint8_t *msg, size_t len, const struct dns_query *q,
                      const uint8_t *req, size_t req_len) {
        static uint8_t copy[DNS_MAX_MESSAGE];
        struct dns_answer a;

        memcpy(copy, msg, len);
        if (dns_answer_to_client(copy, len, q, req, req_len) != 0 || dns_get_id(copy) != q->id ||
            memcmp(copy + DNS_HEADER_SIZE, req + DNS_HEADER_SIZE,
                   q->question_end - DNS_HEADER_SIZE) != 0 ||
            memcmp(copy + q->question_end, msg + q->question_end, len - q->question_end) != 0 ||
            dns_parse_response(copy, len, q, &a, NULL) != 0)
                abort();
}

static void response(const uint8_t *msg, size_t len, const struct dns_query *q,
                     const uint8_t *req, size_t req_len) {
        struct dns_answer a;
        const char *why = NULL;

        if (dns_parse_response(msg, len, q, &a, &why) < 0) {
                if (!why)
                        abort();
                return;
        }
        check_answer(&a);
        if (req)
                to_client(msg, len, q, req, req_len);
}

static void query(const uint8_t *msg, size_t len) {
        static uint8_t out[DNS_MAX_MESSAGE], inplace[DNS_MAX_MESSAGE];
        struct dns_query q, q2;
        struct dns_answer a;
        const char *why = NULL;

        if (dns_parse_query(msg, len, &q, &why) < 0) {
                if (!why)
                        abort();
                return;
        }
        if (q.question_end > len || q.edns_udp_size < 512 || (!q.has_edns && q.edns_udp_size != 512))
                abort();
        check_printable(q.name);
        forwarded(msg, &q);

        for (unsigned rcode = 0; rcode <= 16; rcode++) {
                size_t want = q.question_end + (q.has_edns ? 11 : 0);
                ssize_t n = dns_build_reply(&q, msg, len, rcode, out, sizeof out);

                if (rcode > 15) {
                        if (n != -EINVAL)
                                abort();
                        continue;
                }
                if (n < 0 || (size_t) n != want)
                        abort();
                if (dns_build_reply(&q, msg, len, rcode, out, want - 1) != -ENOSPC)
                        abort();
                /* The reply answers the query it was built from, with nothing in it. */
                if (dns_get_id(out) != q.id || dns_parse_query(out, (size_t) n, &q2, &why) >= 0)
                        abort();
                if (dns_parse_response(out, (size_t) n, &q, &a, &why) < 0 || a.rcode != rcode ||
                    a.n_addrs != 0 || a.n_cname != 0 || a.truncated)
                        abort();
                /* In place, over a copy of the request: the same bytes. */
                memcpy(inplace, msg, len);
                if (dns_build_reply(&q, inplace, len, rcode, inplace, len) != n ||
                    memcmp(inplace, out, (size_t) n) != 0)
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct dns_query q = { .qtype = DNS_TYPE_A, .qclass = DNS_CLASS_IN, .name = "example.com" };
        size_t qlen;

        if (size < 1 || size > DNS_MAX_MESSAGE)
                return 0;
        switch (data[0] % 3) {
        case 0:
                query(data + 1, size - 1);
                break;
        case 1:
                response(data + 1, size - 1, &q, NULL, 0);
                break;
        default:
                if (size < 3)
                        return 0;
                qlen = (size_t) data[1] << 8 | data[2];
                if (qlen > size - 3)
                        return 0;
                query(data + 3, qlen);
                if (dns_parse_query(data + 3, qlen, &q, NULL) == 0)
                        response(data + 3 + qlen, size - 3 - qlen, &q, data + 3, qlen);
                break;
        }
        return 0;
}
