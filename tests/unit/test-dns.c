/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DNS gateway's codec: queries as dig sends them and every way a query is refused;
 * the replies the gateway builds, bit by bit; upstream answers with CNAME chains (smallest
 * TTL), compression pointers good and hostile, records for other names ignored; and every
 * prefix of a valid message refused. Messages are written byte by byte, as on the wire. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "egress/dns.h"

/* ---------------------------------------------------------------- building messages */

struct buf {
        uint8_t b[8192];
        size_t n;
};

static void b_bytes(struct buf *m, const void *p, size_t n) {
        cr_assert_leq(m->n + n, sizeof m->b);
        memcpy(m->b + m->n, p, n);
        m->n += n;
}

static void b_u8(struct buf *m, unsigned v) {
        uint8_t c = (uint8_t) v;

        b_bytes(m, &c, 1);
}

static void b_u16(struct buf *m, unsigned v) {
        b_u8(m, v >> 8);
        b_u8(m, v & 0xff);
}

static void b_u32(struct buf *m, uint32_t v) {
        b_u16(m, v >> 16);
        b_u16(m, v & 0xffff);
}

static void b_header(struct buf *m, unsigned id, unsigned flags, unsigned qd, unsigned an,
                     unsigned ns, unsigned ar) {
        m->n = 0;
        b_u16(m, id);
        b_u16(m, flags);
        b_u16(m, qd);
        b_u16(m, an);
        b_u16(m, ns);
        b_u16(m, ar);
}

static void b_counts(struct buf *m, unsigned an, unsigned ns, unsigned ar) {
        m->b[6] = (uint8_t) (an >> 8), m->b[7] = (uint8_t) an;
        m->b[8] = (uint8_t) (ns >> 8), m->b[9] = (uint8_t) ns;
        m->b[10] = (uint8_t) (ar >> 8), m->b[11] = (uint8_t) ar;
}

/* Writes "a.b.c" as labels and a zero (or only the labels, for a pointer to follow);
 * returns where the name starts. */
static size_t b_labels(struct buf *m, const char *dotted, bool terminate) {
        size_t at = m->n;

        for (const char *p = dotted; *p;) {
                size_t l = strcspn(p, ".");

                b_u8(m, (unsigned) l);
                b_bytes(m, p, l);
                p += l;
                if (*p == '.')
                        p++;
        }
        if (terminate)
                b_u8(m, 0);
        return at;
}

static size_t b_name(struct buf *m, const char *dotted) {
        return b_labels(m, dotted, true);
}

static void b_ptr(struct buf *m, size_t off) {
        b_u16(m, 0xc000 | (unsigned) off);
}

/* Type, class, TTL and a zero length; returns where the length is, for b_rr_end(). */
static size_t b_rr_begin(struct buf *m, unsigned type, unsigned class, uint32_t ttl) {
        size_t at;

        b_u16(m, type);
        b_u16(m, class);
        b_u32(m, ttl);
        at = m->n;
        b_u16(m, 0);
        return at;
}

static void b_rr_end(struct buf *m, size_t at) {
        size_t rdlen = m->n - at - 2;

        m->b[at] = (uint8_t) (rdlen >> 8);
        m->b[at + 1] = (uint8_t) rdlen;
}

static void b_a(struct buf *m, uint32_t ttl, uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
        size_t at = b_rr_begin(m, DNS_TYPE_A, DNS_CLASS_IN, ttl);
        uint8_t addr[4] = { a, b, c, d };

        b_bytes(m, addr, 4);
        b_rr_end(m, at);
}

static void b_cname(struct buf *m, uint32_t ttl, const char *target) {
        size_t at = b_rr_begin(m, DNS_TYPE_CNAME, DNS_CLASS_IN, ttl);

        b_name(m, target);
        b_rr_end(m, at);
}

/* The minimal OPT record: root owner, type 41, payload size, flags, no options. */
static void b_opt(struct buf *m, unsigned size, uint32_t flags) {
        b_u8(m, 0);
        b_u16(m, DNS_TYPE_OPT);
        b_u16(m, size);
        b_u32(m, flags);
        b_u16(m, 0);
}

static void b_query(struct buf *m, const char *name, unsigned type, bool edns) {
        b_header(m, 0xbeef, DNS_FLAG_RD, 1, 0, 0, edns ? 1 : 0);
        b_name(m, name);
        b_u16(m, type);
        b_u16(m, DNS_CLASS_IN);
        if (edns)
                b_opt(m, 1232, 0);
}

/* A response header and question for name/type; the caller adds records and counts. */
static void b_response(struct buf *m, unsigned flags, const char *name, unsigned type) {
        b_header(m, 0x5151, flags, 1, 0, 0, 0);
        b_name(m, name);
        b_u16(m, type);
        b_u16(m, DNS_CLASS_IN);
}

#define RESPONSE_OK (DNS_FLAG_QR | DNS_FLAG_RD | DNS_FLAG_RA)
#define QNAME_AT DNS_HEADER_SIZE /* the question name: what answers point at */

/* ---------------------------------------------------------------- checking */

static struct dns_query parse_ok(const uint8_t *msg, size_t len) {
        struct dns_query q;
        const char *why = NULL;
        int r = dns_parse_query(msg, len, &q, &why);

        cr_assert_eq(r, 0, "query refused: %s", why ? why : "(no reason)");
        return q;
}

static void query_bad(const struct buf *m, const char *what) {
        struct dns_query q;
        const char *why = NULL;

        memset(&q, 0xaa, sizeof q);
        cr_assert_eq(dns_parse_query(m->b, m->n, &q, &why), -EBADMSG, "accepted, want '%s'",
                     what);
        cr_assert_not_null(why);
        cr_assert(strstr(why, what), "want '%s', got '%s'", what, why);
        for (size_t i = 0; i < sizeof q; i++)
                cr_assert_eq(((uint8_t *) &q)[i], 0xaa, "q written on failure");
}

static struct dns_query query_for(const char *name, unsigned type) {
        struct buf m;

        b_query(&m, name, type, false);
        return parse_ok(m.b, m.n);
}

static struct dns_answer answer_ok(const struct buf *m, const struct dns_query *q) {
        struct dns_answer a;
        const char *why = NULL;
        int r = dns_parse_response(m->b, m->n, q, &a, &why);

        cr_assert_eq(r, 0, "response refused: %s", why ? why : "(no reason)");
        cr_assert_leq(a.n_addrs, DNS_MAX_ADDRS);
        return a;
}

static void answer_bad(const struct buf *m, const struct dns_query *q, const char *what) {
        struct dns_answer a;
        const char *why = NULL;

        memset(&a, 0xaa, sizeof a);
        cr_assert_eq(dns_parse_response(m->b, m->n, q, &a, &why), -EBADMSG,
                     "accepted, want '%s'", what);
        cr_assert_not_null(why);
        cr_assert(strstr(why, what), "want '%s', got '%s'", what, why);
        for (size_t i = 0; i < sizeof a; i++)
                cr_assert_eq(((uint8_t *) &a)[i], 0xaa, "ans written on failure");
}

static void assert_v4(const struct dns_addr *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3,
                      uint32_t ttl) {
        uint8_t want[4] = { b0, b1, b2, b3 };

        cr_assert_eq(a->family, AF_INET);
        cr_assert_arr_eq(a->addr, want, 4);
        cr_assert_eq(a->ttl, ttl, "ttl %u, want %u", a->ttl, ttl);
}

/* ---------------------------------------------------------------- queries */

/* `dig @127.0.0.1 Example.COM` (BIND 9.18): RD and AD set, an OPT record advertising 1232
 * bytes with a client COOKIE option. */
static const uint8_t dig_query[] = {
        0x8a, 0x3c,                                     /* id */
        0x01, 0x20,                                     /* RD, AD */
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* 1 question, 1 additional */
        0x07, 'E', 'x', 'a', 'm', 'p', 'l', 'e',
        0x03, 'C', 'O', 'M',
        0x00,
        0x00, 0x01,                                     /* A */
        0x00, 0x01,                                     /* IN */
        0x00,                                           /* OPT: root owner */
        0x00, 0x29,                                     /* type 41 */
        0x04, 0xd0,                                     /* UDP payload 1232 */
        0x00, 0x00, 0x00, 0x00,                         /* ext. rcode, version 0, flags */
        0x00, 0x0c,                                     /* rdlen 12 */
        0x00, 0x0a, 0x00, 0x08,                         /* COOKIE, 8 bytes */
        0x6d, 0x9f, 0x41, 0x02, 0xc3, 0x77, 0x10, 0x5e,
};

TestSuite(dns_query);

Test(dns_query, dig_with_edns) {
        struct dns_query q = parse_ok(dig_query, sizeof dig_query);

        cr_assert_eq(q.id, 0x8a3c);
        cr_assert_eq(q.flags, 0x0120);
        cr_assert_str_eq(q.name, "example.com");
        cr_assert_eq(q.qtype, DNS_TYPE_A);
        cr_assert_eq(q.qclass, DNS_CLASS_IN);
        cr_assert(q.has_edns);
        cr_assert_not(q.edns_do);
        cr_assert_eq(q.edns_udp_size, 1232);
        cr_assert_eq(q.question_end, 29);
}

Test(dns_query, plain_and_any_type) {
        static const unsigned types[] = { DNS_TYPE_A, DNS_TYPE_AAAA, 16 /* TXT */,
                                          33 /* SRV */, 65 /* HTTPS */, 255 /* ANY */, 65535 };
        struct buf m;
        struct dns_query q;

        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
                b_query(&m, "WwW.ExAmPlE.oRg", types[i], false);
                q = parse_ok(m.b, m.n);
                cr_assert_str_eq(q.name, "www.example.org");
                cr_assert_eq(q.qtype, types[i]);
                cr_assert_not(q.has_edns);
                cr_assert_eq(q.edns_udp_size, 512);
                cr_assert_eq(q.question_end, m.n);
        }
}

Test(dns_query, root_name_and_small_edns) {
        struct buf m;
        struct dns_query q;

        /* `dig . NS` with an OPT asking for less than 512: 512 is what it can take anyway. */
        b_header(&m, 1, 0, 1, 0, 0, 1);
        b_u8(&m, 0);
        b_u16(&m, 2);
        b_u16(&m, DNS_CLASS_IN);
        b_opt(&m, 100, 0x8000 /* DO */);
        q = parse_ok(m.b, m.n);
        cr_assert_str_eq(q.name, "");
        cr_assert(q.has_edns);
        cr_assert(q.edns_do);
        cr_assert_eq(q.edns_udp_size, 512);
        cr_assert_eq(q.question_end, 17);
}

Test(dns_query, high_octets_are_kept) {
        struct buf m;
        struct dns_query q;

        /* Any octet but '.' and NUL is a label byte; only A-Z is folded. */
        b_header(&m, 1, 0, 1, 0, 0, 0);
        b_bytes(&m, "\x04\xc3\x89T\x7f\x03" "com\x00", 10);
        b_u16(&m, 1);
        b_u16(&m, 1);
        q = parse_ok(m.b, m.n);
        cr_assert_str_eq(q.name, "\xc3\x89t\x7f.com");
}

Test(dns_query, name_length_limits) {
        char l63[64], name[300];
        struct buf m;
        struct dns_query q;

        memset(l63, 'a', 63);
        l63[63] = '\0';
        /* 63+1+63+1+63+1+61 = 253 characters: the longest name (255 bytes on the wire). */
        snprintf(name, sizeof name, "%s.%s.%s.%.61s", l63, l63, l63, l63);
        b_query(&m, name, DNS_TYPE_A, false);
        q = parse_ok(m.b, m.n);
        cr_assert_eq(strlen(q.name), 253);
        cr_assert_str_eq(q.name, name);

        snprintf(name, sizeof name, "%s.%s.%s.%.62s", l63, l63, l63, l63);
        b_query(&m, name, DNS_TYPE_A, false);
        query_bad(&m, "name too long");

        /* Many short labels: 128 of "a" make 255 characters, 127 make 253. */
        for (size_t i = 0; i < 128; i++)
                memcpy(name + 2 * i, "a.", 2);
        name[255] = '\0';
        b_query(&m, name, DNS_TYPE_A, false);
        query_bad(&m, "name too long");
        name[253] = '\0';
        b_query(&m, name, DNS_TYPE_A, false);
        cr_assert_eq(strlen(parse_ok(m.b, m.n).name), 253);
}

Test(dns_query, header_rules) {
        struct buf m;

        for (size_t n = 0; n < DNS_HEADER_SIZE; n++) {
                b_query(&m, "example.com", DNS_TYPE_A, false);
                m.n = n;
                query_bad(&m, "truncated header");
        }

        b_query(&m, "example.com", DNS_TYPE_A, false);
        m.b[2] |= 0x80;
        query_bad(&m, "not a query");
        for (unsigned opcode = 1; opcode < 16; opcode++) {
                b_query(&m, "example.com", DNS_TYPE_A, false);
                m.b[2] |= (uint8_t) (opcode << 3);
                query_bad(&m, "opcode is not QUERY");
        }

        b_query(&m, "example.com", DNS_TYPE_A, false);
        m.b[5] = 0;
        query_bad(&m, "no question");
        b_query(&m, "example.com", DNS_TYPE_A, false);
        m.b[5] = 2;
        query_bad(&m, "more than one question");
        b_query(&m, "example.com", DNS_TYPE_A, false);
        b_counts(&m, 1, 0, 0);
        query_bad(&m, "answer records in a query");
        b_query(&m, "example.com", DNS_TYPE_A, false);
        b_counts(&m, 0, 1, 0);
        query_bad(&m, "authority records in a query");
        b_query(&m, "example.com", DNS_TYPE_A, true);
        b_opt(&m, 1232, 0);
        b_counts(&m, 0, 0, 2);
        query_bad(&m, "more than one additional record");
}

Test(dns_query, too_long) {
        static uint8_t big[DNS_MAX_MESSAGE + 1];
        struct dns_query q;
        const char *why = NULL;

        memcpy(big, dig_query, sizeof dig_query);
        cr_assert_eq(dns_parse_query(big, sizeof big, &q, &why), -EBADMSG);
        cr_assert_str_eq(why, "message too long");
        /* The same bytes at the limit are refused for what they are: trailing garbage. */
        cr_assert_eq(dns_parse_query(big, DNS_MAX_MESSAGE, &q, &why), -EBADMSG);
        cr_assert(strstr(why, "trailing bytes"), "got %s", why);
}

Test(dns_query, name_rules) {
        struct buf m;

        /* "a.b" as one label would read as two in dotted form (and match other names). */
        b_header(&m, 1, 0, 1, 0, 0, 0);
        b_bytes(&m, "\x03" "a.b\x07" "example\x03" "com\x00", 17);
        b_u16(&m, 1);
        b_u16(&m, 1);
        query_bad(&m, "'.' or NUL");

        /* "evil\0" would end the C string early: "x.allowed.com" as seen by policy. */
        b_header(&m, 1, 0, 1, 0, 0, 0);
        b_bytes(&m, "\x01x\x05" "evil\x00\x07" "allowed\x03" "com\x00", 21);
        b_u16(&m, 1);
        b_u16(&m, 1);
        query_bad(&m, "'.' or NUL");

        /* A query has nothing to point at. */
        b_header(&m, 1, 0, 1, 0, 0, 0);
        b_labels(&m, "www", false);
        b_ptr(&m, 12);
        b_u16(&m, 1);
        b_u16(&m, 1);
        query_bad(&m, "compression pointer in a query");

        /* 0x40 and 0x80 label types (64 and 128 "lengths") do not exist. */
        for (unsigned t = 0x40; t <= 0x80; t += 0x40) {
                b_header(&m, 1, 0, 1, 0, 0, 0);
                b_u8(&m, t);
                b_bytes(&m, "com", 3);
                b_u8(&m, 0);
                b_u16(&m, 1);
                b_u16(&m, 1);
                query_bad(&m, "unknown label type");
        }

        /* A label longer than what is left. */
        b_header(&m, 1, 0, 1, 0, 0, 0);
        b_bytes(&m, "\x3f" "abc", 4);
        query_bad(&m, "truncated name");

        /* A name without its zero. */
        b_header(&m, 1, 0, 1, 0, 0, 0);
        b_bytes(&m, "\x03" "com", 4);
        query_bad(&m, "truncated name");

        /* Name, but not all of type and class. */
        b_query(&m, "example.com", DNS_TYPE_A, false);
        m.n -= 1;
        query_bad(&m, "truncated question");
}

Test(dns_query, additional_rules) {
        struct buf m;
        size_t at;

        b_query(&m, "example.com", DNS_TYPE_A, false);
        b_counts(&m, 0, 0, 1);
        b_u8(&m, 0);
        b_a(&m, 60, 1, 2, 3, 4);
        query_bad(&m, "additional record is not OPT");

        b_query(&m, "example.com", DNS_TYPE_A, false);
        b_counts(&m, 0, 0, 1);
        b_name(&m, "example.com");
        b_rr_end(&m, b_rr_begin(&m, DNS_TYPE_OPT, 1232, 0));
        query_bad(&m, "OPT owner is not the root");

        /* An OPT owner may not point either (at the question, say). */
        b_query(&m, "example.com", DNS_TYPE_A, false);
        b_counts(&m, 0, 0, 1);
        b_ptr(&m, QNAME_AT);
        b_rr_end(&m, b_rr_begin(&m, DNS_TYPE_OPT, 1232, 0));
        query_bad(&m, "compression pointer in a query");

        /* Options must tile the data: one claiming 9 bytes where 8 are. */
        b_query(&m, "example.com", DNS_TYPE_A, false);
        b_counts(&m, 0, 0, 1);
        b_u8(&m, 0);
        at = b_rr_begin(&m, DNS_TYPE_OPT, 1232, 0);
        b_u16(&m, 10);
        b_u16(&m, 9);
        b_bytes(&m, "12345678", 8);
        b_rr_end(&m, at);
        query_bad(&m, "malformed EDNS option");

        /* ... or three bytes, less than an option header. */
        b_query(&m, "example.com", DNS_TYPE_A, false);
        b_counts(&m, 0, 0, 1);
        b_u8(&m, 0);
        at = b_rr_begin(&m, DNS_TYPE_OPT, 1232, 0);
        b_bytes(&m, "\x00\x0a\x00", 3);
        b_rr_end(&m, at);
        query_bad(&m, "malformed EDNS option");

        /* Two well-formed options, one empty: fine. */
        b_query(&m, "example.com", DNS_TYPE_A, false);
        b_counts(&m, 0, 0, 1);
        b_u8(&m, 0);
        at = b_rr_begin(&m, DNS_TYPE_OPT, 4096, 0);
        b_bytes(&m, "\x00\x0c\x00\x00\x00\x0a\x00\x02zz", 10);
        b_rr_end(&m, at);
        cr_assert_eq(parse_ok(m.b, m.n).edns_udp_size, 4096);

        /* OPT data claimed longer than the message. */
        b_query(&m, "example.com", DNS_TYPE_A, true);
        m.b[m.n - 1] = 4;
        query_bad(&m, "truncated record data");
        b_query(&m, "example.com", DNS_TYPE_A, true);
        m.n -= 3;
        query_bad(&m, "truncated record");

        /* Bytes after the last record, with and without OPT. */
        b_query(&m, "example.com", DNS_TYPE_A, false);
        b_u8(&m, 0);
        query_bad(&m, "trailing bytes");
        b_query(&m, "example.com", DNS_TYPE_A, true);
        b_bytes(&m, "exfil", 5);
        query_bad(&m, "trailing bytes");
}

Test(dns_query, every_prefix_is_refused) {
        struct dns_query q;
        const char *why;

        for (size_t n = 0; n < sizeof dig_query; n++) {
                why = NULL;
                cr_assert_eq(dns_parse_query(dig_query, n, &q, &why), -EBADMSG,
                             "prefix of %zu bytes accepted", n);
                cr_assert_not_null(why);
        }
}

/* ---------------------------------------------------------------- replies */

TestSuite(dns_reply);

Test(dns_reply, refused_with_edns) {
        static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 };
        struct dns_query q = parse_ok(dig_query, sizeof dig_query);
        uint8_t out[512];
        ssize_t n;

        memset(out, 0xee, sizeof out);
        n = dns_build_reply(&q, dig_query, sizeof dig_query, DNS_RCODE_REFUSED, out, sizeof out);
        cr_assert_eq(n, 29 + 11);
        cr_assert_eq(out[n], 0xee, "wrote past the reply");

        cr_assert_eq(dns_get_id(out), 0x8a3c);
        cr_assert_eq(out[2] & 0x80, 0x80, "QR");
        cr_assert_eq(out[2] & 0x78, 0, "opcode");
        cr_assert_eq(out[2] & 0x04, 0, "AA");
        cr_assert_eq(out[2] & 0x02, 0, "TC");
        cr_assert_eq(out[2] & 0x01, 0x01, "RD copied");
        cr_assert_eq(out[3] & 0x80, 0x80, "RA");
        cr_assert_eq(out[3] & 0x70, 0, "Z, AD, CD clear (the query's AD is not echoed)");
        cr_assert_eq(out[3] & 0x0f, DNS_RCODE_REFUSED);
        cr_assert_eq(out[4], 0);
        cr_assert_eq(out[5], 1, "qdcount");
        cr_assert_eq(out[6] | out[7] | out[8] | out[9], 0, "no answers, no authority");
        cr_assert_eq(out[10], 0);
        cr_assert_eq(out[11], 1, "arcount: our OPT");
        /* The question as it came, case included. */
        cr_assert_arr_eq(out + 12, dig_query + 12, 17);
        cr_assert_arr_eq(out + 29, opt, sizeof opt);
}

Test(dns_reply, without_edns_and_rd_clear) {
        struct buf m;
        struct dns_query q;
        uint8_t out[512];
        ssize_t n;

        b_query(&m, "Host.Example.NET", 28, false);
        m.b[2] = 0x00; /* RD clear */
        m.b[3] = 0x10; /* CD set: not ours to echo */
        q = parse_ok(m.b, m.n);
        n = dns_build_reply(&q, m.b, m.n, DNS_RCODE_NXDOMAIN, out, sizeof out);
        cr_assert_eq(n, (ssize_t) m.n);
        cr_assert_eq(dns_get_id(out), 0xbeef);
        cr_assert_eq(out[2], 0x80, "QR only");
        cr_assert_eq(out[3], 0x80 | DNS_RCODE_NXDOMAIN);
        cr_assert_eq(out[11], 0, "no OPT without one in the query");
        cr_assert_arr_eq(out + 12, m.b + 12, m.n - 12);
}

Test(dns_reply, sizes) {
        struct dns_query q = parse_ok(dig_query, sizeof dig_query);
        uint8_t out[64];

        cr_assert_eq(dns_build_reply(&q, dig_query, sizeof dig_query, 0, out, 39), -ENOSPC);
        cr_assert_eq(dns_build_reply(&q, dig_query, sizeof dig_query, 0, out, 0), -ENOSPC);
        cr_assert_eq(dns_build_reply(&q, dig_query, sizeof dig_query, 0, out, 40), 40);
        cr_assert_eq(dns_build_reply(&q, dig_query, sizeof dig_query, 16, out, 64), -EINVAL);
        /* A q that does not belong to this request. */
        cr_assert_eq(dns_build_reply(&q, dig_query, 20, 0, out, 64), -EINVAL);
}

Test(dns_reply, in_place) {
        struct dns_query q = parse_ok(dig_query, sizeof dig_query);
        uint8_t buf[sizeof dig_query], want[64];
        ssize_t n;

        n = dns_build_reply(&q, dig_query, sizeof dig_query, DNS_RCODE_SERVFAIL, want,
                            sizeof want);
        memcpy(buf, dig_query, sizeof buf);
        cr_assert_eq(dns_build_reply(&q, buf, sizeof buf, DNS_RCODE_SERVFAIL, buf, sizeof buf), n);
        cr_assert_arr_eq(buf, want, (size_t) n);
}

Test(dns_reply, answers_its_query) {
        struct dns_query q = parse_ok(dig_query, sizeof dig_query), q2;
        struct dns_answer a;
        uint8_t out[64];
        const char *why = NULL;
        ssize_t n = dns_build_reply(&q, dig_query, sizeof dig_query, DNS_RCODE_REFUSED, out,
                                    sizeof out);

        cr_assert_eq(dns_parse_response(out, (size_t) n, &q, &a, &why), 0, "%s", why);
        cr_assert_eq(a.rcode, DNS_RCODE_REFUSED);
        cr_assert_eq(a.n_addrs, 0);
        cr_assert_eq(dns_parse_query(out, (size_t) n, &q2, &why), -EBADMSG);
}

Test(dns_reply, id) {
        uint8_t m[2] = { 0, 0 };

        dns_set_id(m, 0xa1b2);
        cr_assert_eq(m[0], 0xa1);
        cr_assert_eq(m[1], 0xb2);
        cr_assert_eq(dns_get_id(m), 0xa1b2);
}

/* ---------------------------------------------------------------- forwarded queries */

TestSuite(dns_forward);

/* dig's query (RD and AD, a COOKIE option, 1232) goes upstream as the gateway's own: a new
 * id, RD alone, the name lower-cased, and an OPT with our size and no options. */
Test(dns_forward, dig_query_rebuilt) {
        static const uint8_t want[] = {
                0x51, 0x7a, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
                0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,
                0x00, 0x01, 0x00, 0x01,
                0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        };
        struct dns_query q = parse_ok(dig_query, sizeof dig_query), back;
        uint8_t out[DNS_MAX_QUERY_OUT + 1];
        ssize_t n;

        memset(out, 0xee, sizeof out);
        n = dns_build_query(&q, 0x517a, out, sizeof out);
        cr_assert_eq(n, (ssize_t) sizeof want);
        cr_assert_arr_eq(out, want, sizeof want);
        cr_assert_eq(out[n], 0xee, "wrote past the query");
        back = parse_ok(out, (size_t) n);
        cr_assert_str_eq(back.name, q.name);
        cr_assert_eq(back.edns_udp_size, DNS_EDNS_UDP_SIZE);
}

/* Whatever the client's header and OPT say — RD clear (a cache snoop), CD and Z set, DO, a
 * big size, options — only RD and DO reach the upstream. */
Test(dns_forward, client_bits_dropped_do_kept) {
        static const uint8_t ecs[] = { 0x00, 0x08, 0x00, 0x04, 0x00, 0x01, 0x18, 0x00 };
        struct buf m;
        struct dns_query q;
        uint8_t out[DNS_MAX_QUERY_OUT];
        size_t end;
        ssize_t n;

        b_header(&m, 0x1111, 0x0070 /* Z, AD, CD; RD clear */, 1, 0, 0, 1);
        b_name(&m, "Mail.Example.NET");
        b_u16(&m, 15);
        b_u16(&m, DNS_CLASS_IN);
        end = m.n;
        b_u8(&m, 0);
        b_u16(&m, DNS_TYPE_OPT);
        b_u16(&m, 4096);
        b_u32(&m, 0x00008000 | 0x1234 /* DO and Z bits */);
        b_u16(&m, sizeof ecs);
        b_bytes(&m, ecs, sizeof ecs);
        q = parse_ok(m.b, m.n);
        cr_assert(q.edns_do);

        n = dns_build_query(&q, 0x2222, out, sizeof out);
        cr_assert_eq(n, (ssize_t) end + 11);
        cr_assert_eq(dns_get_id(out), 0x2222);
        cr_assert_eq(out[2], 0x01, "RD alone");
        cr_assert_eq(out[3], 0x00, "no Z, AD, CD");
        cr_assert_eq(memcmp(out + 12, "\x04mail\x07" "example\x03net\x00\x00\x0f\x00\x01", 22), 0);
        cr_assert_eq(out[end], 0);
        cr_assert_eq(out[end + 1] << 8 | out[end + 2], DNS_TYPE_OPT);
        cr_assert_eq(out[end + 3] << 8 | out[end + 4], DNS_EDNS_UDP_SIZE);
        cr_assert_eq(out[end + 5] | out[end + 6], 0, "extended rcode, version 0");
        cr_assert_eq(out[end + 7] << 8 | out[end + 8], 0x8000, "DO alone");
        cr_assert_eq(out[end + 9] | out[end + 10], 0, "no options");
}

/* Without EDNS from the client none goes upstream: the answer then fits 512 bytes, or
 * comes with TC, as the client expects. The root, high octets, sizes. */
Test(dns_forward, without_edns_root_and_sizes) {
        struct buf m;
        struct dns_query q;
        uint8_t out[DNS_MAX_QUERY_OUT];
        ssize_t n;

        b_query(&m, "WwW.ExAmPlE.oRg", DNS_TYPE_AAAA, false);
        q = parse_ok(m.b, m.n);
        n = dns_build_query(&q, 7, out, sizeof out);
        cr_assert_eq(n, (ssize_t) m.n);
        cr_assert_eq(out[11], 0, "no OPT");
        cr_assert_eq(memcmp(out + 12, "\x03www\x07" "example\x03org\x00\x00\x1c\x00\x01", 21), 0);
        cr_assert_eq(dns_build_query(&q, 7, out, (size_t) n - 1), -ENOSPC);
        cr_assert_eq(dns_build_query(&q, 7, out, (size_t) n), n);

        b_header(&m, 1, 0, 1, 0, 0, 0);
        b_u8(&m, 0);
        b_u16(&m, 2);
        b_u16(&m, DNS_CLASS_IN);
        q = parse_ok(m.b, m.n);
        cr_assert_eq(dns_build_query(&q, 1, out, sizeof out), 17);
        cr_assert_eq(out[12], 0);

        b_header(&m, 1, 0, 1, 0, 0, 0);
        b_bytes(&m, "\x04\xc3\x89T\x7f\x03" "com\x00", 10);
        b_u16(&m, 1);
        b_u16(&m, 1);
        q = parse_ok(m.b, m.n);
        n = dns_build_query(&q, 1, out, sizeof out);
        cr_assert_eq(n, (ssize_t) m.n);
        cr_assert_eq(memcmp(out + 12, "\x04\xc3\x89t\x7f\x03" "com\x00", 10), 0);

        /* A name with no wire form (never out of dns_parse_query()). */
        strcpy(q.name, "a..b");
        cr_assert_eq(dns_build_query(&q, 1, out, sizeof out), -EINVAL);
        strcpy(q.name, "a.");
        cr_assert_eq(dns_build_query(&q, 1, out, sizeof out), -EINVAL);
        memset(q.name, 'a', 64);
        q.name[64] = 0;
        cr_assert_eq(dns_build_query(&q, 1, out, sizeof out), -EINVAL);
}

/* The upstream answers the gateway's query; the client gets it with its own id, its RD and
 * its question, case and all; the records are left as they were. */
Test(dns_forward, answer_to_client) {
        struct buf m, r;
        struct dns_query q;
        struct dns_answer a;
        const char *why = NULL;
        uint8_t fwd[DNS_MAX_QUERY_OUT];
        size_t rest;

        b_query(&m, "Host.Example.NET", DNS_TYPE_A, true);
        m.b[2] = 0x00; /* RD clear */
        q = parse_ok(m.b, m.n);
        cr_assert_gt(dns_build_query(&q, 0x4444, fwd, sizeof fwd), 0);

        b_response(&r, RESPONSE_OK, "host.example.net", DNS_TYPE_A);
        r.b[0] = 0x44, r.b[1] = 0x44;
        rest = r.n;
        b_ptr(&r, QNAME_AT);
        b_a(&r, 60, 192, 0, 2, 1);
        b_counts(&r, 1, 0, 0);
        cr_assert_eq(dns_parse_response(r.b, r.n, &q, &a, &why), 0, "%s", why);

        cr_assert_eq(dns_answer_to_client(r.b, r.n, &q, m.b, m.n), 0);
        cr_assert_eq(dns_get_id(r.b), 0xbeef);
        cr_assert_eq(r.b[2], 0x80, "QR, RD as the client sent it (clear)");
        cr_assert_eq(r.b[3], 0x80, "RA as the upstream said");
        cr_assert_arr_eq(r.b + 12, m.b + 12, q.question_end - 12);
        cr_assert_eq(r.b[rest], 0xc0, "records untouched");
        cr_assert_eq(dns_parse_response(r.b, r.n, &q, &a, &why), 0, "%s", why);
        cr_assert_eq(a.n_addrs, 1);

        /* Another question, or one cut short: refused, msg untouched. */
        b_response(&r, RESPONSE_OK, "other.example.net", DNS_TYPE_A);
        cr_assert_eq(dns_answer_to_client(r.b, r.n, &q, m.b, m.n), -EINVAL);
        cr_assert_eq(dns_get_id(r.b), 0x5151);
        b_response(&r, RESPONSE_OK, "host.example.net", DNS_TYPE_AAAA);
        cr_assert_eq(dns_answer_to_client(r.b, r.n, &q, m.b, m.n), -EINVAL);
        b_response(&r, RESPONSE_OK, "host.example.net", DNS_TYPE_A);
        cr_assert_eq(dns_answer_to_client(r.b, r.n - 1, &q, m.b, m.n), -EINVAL);
        cr_assert_eq(dns_answer_to_client(r.b, r.n, &q, m.b, 20), -EINVAL);
}

/* ---------------------------------------------------------------- responses */

TestSuite(dns_response);

Test(dns_response, two_addresses) {
        struct dns_query q = query_for("Example.com", DNS_TYPE_A);
        struct dns_answer a;
        struct buf m;

        b_response(&m, RESPONSE_OK, "example.COM", DNS_TYPE_A); /* any case */
        b_ptr(&m, QNAME_AT);
        b_a(&m, 300, 93, 184, 216, 34);
        b_ptr(&m, QNAME_AT);
        b_a(&m, 60, 93, 184, 216, 35);
        b_counts(&m, 2, 0, 0);
        a = answer_ok(&m, &q);
        cr_assert_eq(a.rcode, 0);
        cr_assert_not(a.truncated);
        cr_assert_eq(a.n_addrs, 2);
        assert_v4(&a.addrs[0], 93, 184, 216, 34, 300);
        assert_v4(&a.addrs[1], 93, 184, 216, 35, 60);
        cr_assert_eq(a.n_cname, 0);
}

Test(dns_response, aaaa_with_opt) {
        static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
        struct dns_query q = query_for("v6.example.com", DNS_TYPE_AAAA);
        struct dns_answer a;
        struct buf m;
        size_t at;

        b_response(&m, RESPONSE_OK, "v6.example.com", DNS_TYPE_AAAA);
        b_ptr(&m, QNAME_AT);
        at = b_rr_begin(&m, DNS_TYPE_AAAA, DNS_CLASS_IN, 7200);
        b_bytes(&m, v6, 16);
        b_rr_end(&m, at);
        b_opt(&m, 1232, 0);
        b_counts(&m, 1, 0, 1);
        a = answer_ok(&m, &q);
        cr_assert_eq(a.n_addrs, 1);
        cr_assert_eq(a.addrs[0].family, AF_INET6);
        cr_assert_arr_eq(a.addrs[0].addr, v6, 16);
        cr_assert_eq(a.addrs[0].ttl, 7200);
}

/* example.com → a.example.net (600 s) → b.cdn.net (120 s) → 10.1.2.3 (3000 s), written as a
 * compressing server writes it: every name after the first points back into earlier ones. */
static void b_chain(struct buf *m) {
        size_t a_at, net_at, b_at, at;

        b_response(m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(m, QNAME_AT);
        at = b_rr_begin(m, DNS_TYPE_CNAME, DNS_CLASS_IN, 600);
        a_at = b_name(m, "a.example.net");
        b_rr_end(m, at);
        net_at = a_at + 2 + 8; /* "net" inside "a.example.net" */
        b_ptr(m, a_at);
        at = b_rr_begin(m, DNS_TYPE_CNAME, DNS_CLASS_IN, 120);
        b_at = b_labels(m, "b.cdn", false);
        b_ptr(m, net_at);
        b_rr_end(m, at);
        b_ptr(m, b_at);
        b_a(m, 3000, 10, 1, 2, 3);
        b_counts(m, 3, 0, 0);
}

Test(dns_response, cname_chain_smallest_ttl) {
        struct dns_query q = query_for("example.com", DNS_TYPE_A);
        struct dns_answer a;
        struct buf m;

        b_chain(&m);
        a = answer_ok(&m, &q);
        cr_assert_eq(a.n_addrs, 1);
        assert_v4(&a.addrs[0], 10, 1, 2, 3, 120);
        cr_assert_eq(a.n_cname, 2);
        cr_assert_str_eq(a.cname[0], "a.example.net");
        cr_assert_str_eq(a.cname[1], "b.cdn.net");
}

Test(dns_response, cname_chain_any_order) {
        struct dns_query q = query_for("example.com", DNS_TYPE_A);
        struct dns_answer a;
        struct buf m;

        /* Reversed, uncompressed, mixed case: the same chain. */
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_name(&m, "B.cdn.NET");
        b_a(&m, 30, 10, 9, 9, 9);
        b_name(&m, "a.example.net");
        b_cname(&m, 40, "B.CDN.net");
        b_name(&m, "EXAMPLE.com");
        b_cname(&m, 50, "A.Example.Net");
        b_counts(&m, 3, 0, 0);
        a = answer_ok(&m, &q);
        cr_assert_eq(a.n_addrs, 1);
        assert_v4(&a.addrs[0], 10, 9, 9, 9, 30);
        cr_assert_eq(a.n_cname, 2);
        cr_assert_str_eq(a.cname[0], "a.example.net");
        cr_assert_str_eq(a.cname[1], "b.cdn.net");
}

Test(dns_response, cname_loop_ends) {
        struct dns_query q = query_for("example.com", DNS_TYPE_A);
        struct dns_answer a;
        struct buf m;
        size_t loop_at, at;

        /* example.com → loop.example.net → example.com, and an address on the way. */
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(&m, QNAME_AT);
        at = b_rr_begin(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 30);
        loop_at = b_name(&m, "loop.example.net");
        b_rr_end(&m, at);
        b_ptr(&m, loop_at);
        at = b_rr_begin(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 20);
        b_ptr(&m, QNAME_AT);
        b_rr_end(&m, at);
        b_ptr(&m, loop_at);
        b_a(&m, 100, 10, 0, 0, 1);
        b_counts(&m, 3, 0, 0);
        a = answer_ok(&m, &q);
        cr_assert_eq(a.n_cname, 1);
        cr_assert_str_eq(a.cname[0], "loop.example.net");
        cr_assert_eq(a.n_addrs, 1);
        assert_v4(&a.addrs[0], 10, 0, 0, 1, 30);
}

Test(dns_response, cname_chain_bounded) {
        struct dns_query q = query_for("c0.example", DNS_TYPE_A);
        struct dns_answer a;
        struct buf m;
        char owner[32], target[32];

        /* c0 → c1 → ... → c10, then an address for every name. Only DNS_MAX_CNAMES hops
         * are followed: c9 and c10 are names nobody vouched for. */
        b_response(&m, RESPONSE_OK, "c0.example", DNS_TYPE_A);
        for (unsigned i = 0; i < 10; i++) {
                snprintf(owner, sizeof owner, "c%u.example", i);
                snprintf(target, sizeof target, "c%u.example", i + 1);
                b_name(&m, owner);
                b_cname(&m, 1000 - i, target);
        }
        for (unsigned i = 0; i <= 10; i++) {
                snprintf(owner, sizeof owner, "c%u.example", i);
                b_name(&m, owner);
                b_a(&m, 5000, 10, 0, 0, (uint8_t) i);
        }
        b_counts(&m, 21, 0, 0);
        a = answer_ok(&m, &q);
        cr_assert_eq(a.n_cname, 4);
        cr_assert_str_eq(a.cname[0], "c1.example");
        cr_assert_str_eq(a.cname[3], "c4.example");
        cr_assert_eq(a.n_addrs, DNS_MAX_CNAMES + 1);
        for (unsigned i = 0; i <= DNS_MAX_CNAMES; i++)
                assert_v4(&a.addrs[i], 10, 0, 0, (uint8_t) i, i == 0 ? 5000 : 1001 - i);
}

Test(dns_response, other_owners_ignored) {
        struct dns_query q = query_for("example.com", DNS_TYPE_A);
        struct dns_answer a;
        struct buf m;

        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_name(&m, "evil.com"); /* answer for a name nobody asked */
        b_a(&m, 300, 6, 6, 6, 6);
        b_name(&m, "www.example.com"); /* a subdomain is another name */
        b_a(&m, 300, 6, 6, 6, 7);
        b_ptr(&m, QNAME_AT); /* class CH: not an address */
        b_rr_end(&m, b_rr_begin(&m, DNS_TYPE_A, 3, 300));
        b_name(&m, "evil.com"); /* a CNAME that does not start from us */
        b_cname(&m, 300, "example.com");
        b_ptr(&m, QNAME_AT);
        b_a(&m, 300, 1, 2, 3, 4);
        b_ptr(&m, QNAME_AT); /* authority: never remembered, even for our name */
        b_a(&m, 300, 6, 6, 6, 8);
        b_ptr(&m, QNAME_AT); /* additional: glue, never remembered */
        b_a(&m, 300, 6, 6, 6, 9);
        b_counts(&m, 5, 1, 1);
        a = answer_ok(&m, &q);
        cr_assert_eq(a.n_addrs, 1);
        assert_v4(&a.addrs[0], 1, 2, 3, 4, 300);
        cr_assert_eq(a.n_cname, 0);
}

Test(dns_response, dotted_label_matches_nothing) {
        struct dns_query q = query_for("example.com", DNS_TYPE_A);
        struct dns_answer a;
        struct buf m;
        size_t at;

        /* One label "example.com" is not the name example.com. */
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_bytes(&m, "\x0b" "example.com\x00", 13);
        b_a(&m, 300, 6, 6, 6, 6);
        /* Nor is a CNAME target holding one followed. */
        b_ptr(&m, QNAME_AT);
        at = b_rr_begin(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 300);
        b_bytes(&m, "\x05" "x\x00y.z\x00", 7);
        b_rr_end(&m, at);
        b_bytes(&m, "\x05" "x\x00y.z\x00", 7);
        b_a(&m, 300, 6, 6, 6, 7);
        b_counts(&m, 3, 0, 0);
        a = answer_ok(&m, &q);
        cr_assert_eq(a.n_addrs, 0);
        cr_assert_eq(a.n_cname, 0);
}

Test(dns_response, ttl_rules) {
        struct dns_query q = query_for("example.com", DNS_TYPE_A);
        struct dns_answer a;
        struct buf m;

        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(&m, QNAME_AT);
        b_a(&m, 10 * 86400, 1, 1, 1, 1); /* capped at a day */
        b_ptr(&m, QNAME_AT);
        b_a(&m, 0x80000001u, 1, 1, 1, 2); /* top bit set: zero (RFC 2181) */
        b_ptr(&m, QNAME_AT);
        b_a(&m, 500, 1, 1, 1, 3);
        b_ptr(&m, QNAME_AT);
        b_a(&m, 200, 1, 1, 1, 3); /* the same address again: one entry, smaller TTL */
        b_counts(&m, 4, 0, 0);
        a = answer_ok(&m, &q);
        cr_assert_eq(a.n_addrs, 3);
        assert_v4(&a.addrs[0], 1, 1, 1, 1, DNS_TTL_MAX);
        assert_v4(&a.addrs[1], 1, 1, 1, 2, 0);
        assert_v4(&a.addrs[2], 1, 1, 1, 3, 200);
}

Test(dns_response, at_most_max_addrs) {
        struct dns_query q = query_for("example.com", DNS_TYPE_A);
        struct dns_answer a;
        struct buf m;

        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        for (unsigned i = 0; i < 100; i++) {
                b_ptr(&m, QNAME_AT);
                b_a(&m, 60, 10, 0, 1, (uint8_t) i);
        }
        b_counts(&m, 100, 0, 0);
        a = answer_ok(&m, &q);
        cr_assert_eq(a.n_addrs, DNS_MAX_ADDRS);
        assert_v4(&a.addrs[DNS_MAX_ADDRS - 1], 10, 0, 1, DNS_MAX_ADDRS - 1, 60);
}

Test(dns_response, rcode_and_truncation) {
        struct dns_query q = query_for("example.com", DNS_TYPE_A);
        struct dns_answer a;
        struct buf m;
        size_t cut;

        /* NXDOMAIN after a CNAME: the chain is reported, no address is taken. */
        b_response(&m, RESPONSE_OK | DNS_RCODE_NXDOMAIN, "example.com", DNS_TYPE_A);
        b_ptr(&m, QNAME_AT);
        b_cname(&m, 60, "gone.example.net");
        b_ptr(&m, QNAME_AT);
        b_a(&m, 60, 1, 2, 3, 4);
        b_counts(&m, 2, 0, 0);
        a = answer_ok(&m, &q);
        cr_assert_eq(a.rcode, DNS_RCODE_NXDOMAIN);
        cr_assert_eq(a.n_addrs, 0);
        cr_assert_eq(a.n_cname, 1);

        /* TC: cut in the middle of the third record; the two whole ones count. */
        b_response(&m, RESPONSE_OK | DNS_FLAG_TC, "example.com", DNS_TYPE_A);
        for (unsigned i = 0; i < 3; i++) {
                b_ptr(&m, QNAME_AT);
                b_a(&m, 60, 1, 1, 1, (uint8_t) i);
        }
        b_counts(&m, 3, 0, 0);
        cut = m.n - 5;
        m.n = cut;
        a = answer_ok(&m, &q);
        cr_assert(a.truncated);
        cr_assert_eq(a.n_addrs, 2);
        /* The same cut without TC is a broken message. */
        m.b[2] &= (uint8_t) ~(DNS_FLAG_TC >> 8);
        answer_bad(&m, &q, "truncated record");
        /* And a TC answer with no records at all is fine (the client retries over TCP). */
        b_response(&m, RESPONSE_OK | DNS_FLAG_TC, "example.com", DNS_TYPE_A);
        b_counts(&m, 0, 0, 0);
        a = answer_ok(&m, &q);
        cr_assert(a.truncated);
        cr_assert_eq(a.n_addrs, 0);
}

Test(dns_response, header_and_question_rules) {
        struct dns_query q = query_for("example.com", DNS_TYPE_A);
        struct buf m;

        for (size_t n = 0; n < DNS_HEADER_SIZE; n++) {
                b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
                m.n = n;
                answer_bad(&m, &q, "truncated header");
        }
        b_response(&m, DNS_FLAG_RD, "example.com", DNS_TYPE_A);
        answer_bad(&m, &q, "not a response");
        b_response(&m, RESPONSE_OK | 0x2800 /* UPDATE */, "example.com", DNS_TYPE_A);
        answer_bad(&m, &q, "opcode is not QUERY");
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        m.b[5] = 0;
        answer_bad(&m, &q, "question count is not 1");
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        m.b[5] = 2;
        answer_bad(&m, &q, "question count is not 1");
        b_response(&m, RESPONSE_OK, "example.org", DNS_TYPE_A);
        answer_bad(&m, &q, "answer to another question");
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_AAAA);
        answer_bad(&m, &q, "answer to another question");
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        m.b[m.n - 1] = 3; /* class CH */
        answer_bad(&m, &q, "answer to another question");
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        m.n -= 2;
        answer_bad(&m, &q, "truncated question");
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_u8(&m, 0);
        answer_bad(&m, &q, "trailing bytes");
}

Test(dns_response, record_rules) {
        struct dns_query q = query_for("example.com", DNS_TYPE_A);
        struct buf m;
        size_t at;

        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(&m, QNAME_AT);
        at = b_rr_begin(&m, DNS_TYPE_A, DNS_CLASS_IN, 60);
        b_bytes(&m, "\x01\x02\x03\x04\x05", 5);
        b_rr_end(&m, at);
        b_counts(&m, 1, 0, 0);
        answer_bad(&m, &q, "A record not 4 bytes");

        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(&m, QNAME_AT);
        at = b_rr_begin(&m, DNS_TYPE_AAAA, DNS_CLASS_IN, 60);
        b_bytes(&m, "\x01\x02\x03\x04", 4);
        b_rr_end(&m, at);
        b_counts(&m, 1, 0, 0);
        answer_bad(&m, &q, "AAAA record not 16 bytes");

        /* A CNAME whose data holds more than its name. */
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(&m, QNAME_AT);
        at = b_rr_begin(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 60);
        b_name(&m, "x.example.net");
        b_u8(&m, 0);
        b_rr_end(&m, at);
        b_counts(&m, 1, 0, 0);
        answer_bad(&m, &q, "CNAME target does not fill its record");

        /* ... or whose name runs past its data (into the next record). */
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(&m, QNAME_AT);
        at = b_rr_begin(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 60);
        b_labels(&m, "x", false);
        b_rr_end(&m, at);
        b_ptr(&m, QNAME_AT);
        b_a(&m, 60, 1, 2, 3, 4);
        b_counts(&m, 2, 0, 0);
        answer_bad(&m, &q, "CNAME target does not fill its record");

        /* Record data longer than the message; fewer records than counted. */
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(&m, QNAME_AT);
        b_a(&m, 60, 1, 2, 3, 4);
        m.b[m.n - 5] = 5;
        b_counts(&m, 1, 0, 0);
        answer_bad(&m, &q, "truncated record data");
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(&m, QNAME_AT);
        b_a(&m, 60, 1, 2, 3, 4);
        b_counts(&m, 1, 1, 0);
        answer_bad(&m, &q, "truncated name");
}

Test(dns_response, compression_pointers) {
        struct dns_query q = query_for("example.com", DNS_TYPE_A);
        struct buf m;
        size_t p, at;

        /* Forward: to a name further on. */
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(&m, m.n + 16);
        b_a(&m, 60, 1, 2, 3, 4);
        b_name(&m, "example.com");
        b_counts(&m, 1, 0, 0);
        answer_bad(&m, &q, "compression pointer not backwards");

        /* Onto itself. */
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(&m, m.n);
        b_a(&m, 60, 1, 2, 3, 4);
        b_counts(&m, 1, 0, 0);
        answer_bad(&m, &q, "compression pointer not backwards");

        /* Into its own labels: "x" then a pointer back to the "x". */
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        p = m.n;
        b_labels(&m, "x", false);
        b_ptr(&m, p);
        b_a(&m, 60, 1, 2, 3, 4);
        b_counts(&m, 1, 0, 0);
        answer_bad(&m, &q, "compression pointer not backwards");

        /* Mutual, written as it would be met: a TXT record's data (never read as a name)
         * holds "x" → the next owner; that owner is "y" → the "x". The jump back is
         * allowed, the jump forward from there is not. */
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(&m, QNAME_AT);
        at = b_rr_begin(&m, 16, DNS_CLASS_IN, 60);
        p = m.n;
        b_labels(&m, "x", false);
        b_ptr(&m, p + 4);
        b_rr_end(&m, at);
        cr_assert_eq(m.n, p + 4);
        b_labels(&m, "y", false);
        b_ptr(&m, p);
        b_a(&m, 60, 1, 2, 3, 5);
        b_counts(&m, 2, 0, 0);
        answer_bad(&m, &q, "compression pointer not backwards");

        /* Into the header. */
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(&m, 4);
        b_a(&m, 60, 1, 2, 3, 4);
        b_counts(&m, 1, 0, 0);
        answer_bad(&m, &q, "compression pointer not backwards");

        /* In the question (nothing earlier to point at but the header). */
        b_header(&m, 1, RESPONSE_OK, 1, 0, 0, 0);
        b_ptr(&m, 12);
        b_u16(&m, 1);
        b_u16(&m, 1);
        answer_bad(&m, &q, "compression pointer not backwards");

        /* Cut in the middle of a pointer. */
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_u8(&m, 0xc0);
        b_counts(&m, 1, 0, 0);
        answer_bad(&m, &q, "truncated name");
}

/* A record whose data is a ladder of pointers, each to the one before, the first to "a.";
 * then a CNAME for the question whose target enters the ladder at the top. */
static void b_ladder(struct buf *m, unsigned rungs) {
        size_t at, prev;

        b_response(m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(m, QNAME_AT);
        at = b_rr_begin(m, 16 /* TXT: data we do not read */, DNS_CLASS_IN, 60);
        prev = b_name(m, "a");
        for (unsigned i = 0; i < rungs; i++) {
                size_t here = m->n;

                b_ptr(m, prev);
                prev = here;
        }
        b_rr_end(m, at);
        b_ptr(m, QNAME_AT);
        at = b_rr_begin(m, DNS_TYPE_CNAME, DNS_CLASS_IN, 60);
        b_ptr(m, prev);
        b_rr_end(m, at);
        b_counts(m, 2, 0, 0);
}

Test(dns_response, pointer_hops_bounded) {
        struct dns_query q = query_for("example.com", DNS_TYPE_A);
        struct dns_answer a;
        struct buf m;

        b_ladder(&m, DNS_MAX_POINTERS - 1); /* DNS_MAX_POINTERS jumps in all */
        a = answer_ok(&m, &q);
        cr_assert_eq(a.n_cname, 1);
        cr_assert_str_eq(a.cname[0], "a");
        b_ladder(&m, DNS_MAX_POINTERS);
        answer_bad(&m, &q, "too many compression pointers");
}

Test(dns_response, expanded_name_bounded) {
        struct dns_query q = query_for("example.com", DNS_TYPE_A);
        char l63[64], cs[64], name[256];
        struct buf m;
        size_t at, base;

        /* 191 characters in place (three labels of 63), then a label of 62 before a pointer
         * to them: 62 + 1 + 191 = 254 > 253. Each part is fine; the expanded name is not. */
        memset(l63, 'b', 63);
        l63[63] = '\0';
        memset(cs, 'c', 63);
        cs[63] = '\0';
        snprintf(name, sizeof name, "%s.%s.%s", l63, l63, l63);
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(&m, QNAME_AT);
        at = b_rr_begin(&m, 16, DNS_CLASS_IN, 60);
        base = b_name(&m, name);
        b_rr_end(&m, at);
        b_ptr(&m, QNAME_AT);
        at = b_rr_begin(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 60);
        b_labels(&m, cs + 1, false);
        b_ptr(&m, base);
        b_rr_end(&m, at);
        b_counts(&m, 2, 0, 0);
        answer_bad(&m, &q, "name too long");

        /* One character less fits: 253. */
        b_response(&m, RESPONSE_OK, "example.com", DNS_TYPE_A);
        b_ptr(&m, QNAME_AT);
        at = b_rr_begin(&m, 16, DNS_CLASS_IN, 60);
        base = b_name(&m, name);
        b_rr_end(&m, at);
        b_ptr(&m, QNAME_AT);
        at = b_rr_begin(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 60);
        b_labels(&m, cs + 2, false);
        b_ptr(&m, base);
        b_rr_end(&m, at);
        b_counts(&m, 2, 0, 0);
        cr_assert_eq(strlen(answer_ok(&m, &q).cname[0]), 253);
}

Test(dns_response, every_prefix_is_refused) {
        struct dns_query q = query_for("example.com", DNS_TYPE_A);
        struct dns_answer a;
        struct buf m;
        const char *why;

        b_chain(&m);
        b_opt(&m, 1232, 0);
        b_counts(&m, 3, 0, 1);
        (void) answer_ok(&m, &q);
        for (size_t n = 0; n < m.n; n++) {
                why = NULL;
                cr_assert_eq(dns_parse_response(m.b, n, &q, &a, &why), -EBADMSG,
                             "prefix of %zu bytes accepted", n);
                cr_assert_not_null(why);
        }
}

/* ---------------------------------------------------------------- printable names */

TestSuite(dns_printable);

Test(dns_printable, escapes) {
        char out[DNS_PRINTABLE_MAX];

        dns_name_printable("api.example.com", out, sizeof out);
        cr_assert_str_eq(out, "api.example.com");
        dns_name_printable("", out, sizeof out);
        cr_assert_str_eq(out, ".");
        dns_name_printable("a b\"c\\d\x7f\x1b[2J\xff", out, sizeof out);
        cr_assert_str_eq(out, "a\\032b\\034c\\092d\\127\\027[2J\\255");
}

Test(dns_printable, short_buffers) {
        char out[8];

        memset(out, 'x', sizeof out);
        dns_name_printable("abc", out, 0);
        cr_assert_eq(out[0], 'x', "nothing written into no room");
        dns_name_printable("abc", out, 1);
        cr_assert_str_eq(out, "");
        dns_name_printable("abc", out, 3);
        cr_assert_str_eq(out, "ab");
        dns_name_printable("abc", out, 4);
        cr_assert_str_eq(out, "abc");
        /* An escape is written whole or not at all. */
        dns_name_printable("a\x01", out, 5);
        cr_assert_str_eq(out, "a");
        dns_name_printable("a\x01", out, 6);
        cr_assert_str_eq(out, "a\\001");
}

Test(dns_printable, worst_case_fits) {
        char name[DNS_MAX_NAME + 1], out[DNS_PRINTABLE_MAX];

        memset(name, 0x80, DNS_MAX_NAME);
        name[DNS_MAX_NAME] = '\0';
        dns_name_printable(name, out, sizeof out);
        cr_assert_eq(strlen(out), 4 * DNS_MAX_NAME);
}
