/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DNS gateway's message codec (RFC 1035 messages, RFC 6891's OPT record).
 *
 * Both directions are untrusted: queries come from the agent, which wants to smuggle data
 * out through names or confuse the policy match; answers come from an upstream that may be
 * hostile or spoofed, and what we read from them opens addresses in the relay. So:
 * - every read is preceded by a length check against the whole message, written as
 *   "len - off < n" with off <= len held as an invariant, so nothing can wrap;
 * - nothing recurses; every loop is bounded by the message length or by a constant
 *   (DNS_MAX_POINTERS per name, DNS_MAX_CNAMES per chain);
 * - compression pointers must jump strictly backwards, each one before the start of the
 *   stretch of labels that led to it, so a chain of them always ends (the hop bound only
 *   caps the work); the 253-character limit is applied to the expanded name;
 * - the name handed to policy matching is exactly the name the upstream would see, lower-
 *   cased: a label holding '.' or NUL is refused, since "a.b" as one label or "evil\0x"
 *   would read as a different (allowed) name in dotted C-string form.
 * Pure: no syscalls, no allocation, no logging; failures name themselves in *why. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "egress/dns.h"
#include "macro.h"

#define DNS_QUERY_UDP_MIN 512 /* RFC 1035: what a client without EDNS can take */

static uint32_t min_u32(uint32_t a, uint32_t b) {
        return a < b ? a : b;
}

struct dns_header {
        uint16_t id, flags, qdcount, ancount, nscount, arcount;
};

/* One resource record as it sits in the message; the names are left where they are. */
struct dns_rr {
        size_t owner;   /* offset of the owner name */
        uint16_t type;
        uint16_t class;
        uint32_t ttl;
        size_t rdata;   /* offset of the data */
        uint16_t rdlen;
};

static int bad(const char **why, const char *phrase) {
        if (why)
                *why = phrase;
        return -EBADMSG;
}

static uint16_t get16(const uint8_t *p) {
        return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) (v >> 8);
        p[1] = (uint8_t) v;
}

uint16_t dns_get_id(const uint8_t *msg) {
        return get16(msg);
}

void dns_set_id(uint8_t *msg, uint16_t id) {
        put16(msg, id);
}

static int header_read(const uint8_t *msg, size_t len, struct dns_header *h, const char **why) {
        if (len > DNS_MAX_MESSAGE)
                return bad(why, "message too long");
        if (len < DNS_HEADER_SIZE)
                return bad(why, "truncated header");

        h->id = get16(msg);
        h->flags = get16(msg + 2);
        h->qdcount = get16(msg + 4);
        h->ancount = get16(msg + 6);
        h->nscount = get16(msg + 8);
        h->arcount = get16(msg + 10);
        return 0;
}

/* Reads the name at *off (off <= len). With pointers false a compression pointer is an
 * error (a query has nothing to point at). out, when not NULL, receives the name lower-
 * cased and dotted, without the trailing dot ("" for the root); *ret_plain is set false
 * when a label holds '.' or NUL — such a name has no dotted form and must match nothing.
 * On success *off moves past the name as stored in place: past its first pointer, or past
 * its terminating zero. */
static int name_read(const uint8_t *msg, size_t len, size_t *off, bool pointers, char *out,
                     bool *ret_plain, const char **why) {
        size_t pos = *off, segment = *off, end = 0, n = 0;
        unsigned hops = 0;
        bool plain = true;

        for (;;) {
                uint8_t l;

                if (pos >= len)
                        return bad(why, "truncated name");
                l = msg[pos];

                if ((l & 0xc0) == 0xc0) {
                        size_t target;

                        if (!pointers)
                                return bad(why, "compression pointer in a query");
                        if (len - pos < 2)
                                return bad(why, "truncated name");
                        target = (size_t) (l & 0x3f) << 8 | msg[pos + 1];
                        /* Strictly before the labels that led here: each jump lands lower
                         * than the last one, so no pointer can be reached twice (self-loops,
                         * mutual loops and jumps into our own labels are all refused). The
                         * header is never a name. */
                        if (target >= segment || target < DNS_HEADER_SIZE)
                                return bad(why, "compression pointer not backwards");
                        if (++hops > DNS_MAX_POINTERS)
                                return bad(why, "too many compression pointers");
                        if (end == 0)
                                end = pos + 2;
                        pos = segment = target;
                        continue;
                }
                if (l & 0xc0)
                        /* 0x40 (extended label, RFC 6891 deprecates it) and 0x80 (reserved). */
                        return bad(why, "unknown label type");
                if (l == 0) {
                        pos++;
                        break;
                }
                if (len - pos - 1 < l)
                        return bad(why, "truncated name");
                /* The expanded length: a dot before every label but the first. */
                if (n + (n > 0) + l > DNS_MAX_NAME)
                        return bad(why, "name too long");
                if (out && n > 0)
                        out[n] = '.';
                n += n > 0;
                for (size_t i = 0; i < l; i++) {
                        uint8_t c = msg[pos + 1 + i];

                        if (c == '.' || c == '\0')
                                plain = false;
                        if (c >= 'A' && c <= 'Z')
                                c = (uint8_t) (c - 'A' + 'a');
                        if (out)
                                out[n] = (char) c;
                        n++;
                }
                pos += 1 + (size_t) l;
        }

        if (out)
                out[n] = '\0';
        if (ret_plain)
                *ret_plain = plain;
        *off = end != 0 ? end : pos;
        return 0;
}

/* Reads the record at *off and moves past it; checks that its data lies in the message. */
static int rr_read(const uint8_t *msg, size_t len, size_t *off, bool pointers, struct dns_rr *rr,
                   const char **why) {
        size_t pos = *off;
        int r;

        rr->owner = pos;
        r = name_read(msg, len, &pos, pointers, NULL, NULL, why);
        if (r < 0)
                return r;
        if (len - pos < 10)
                return bad(why, "truncated record");
        rr->type = get16(msg + pos);
        rr->class = get16(msg + pos + 2);
        rr->ttl = get32(msg + pos + 4);
        rr->rdlen = get16(msg + pos + 8);
        pos += 10;
        if (len - pos < rr->rdlen)
                return bad(why, "truncated record data");
        rr->rdata = pos;
        *off = pos + rr->rdlen;
        return 0;
}

/* EDNS options are code, length, value: they must tile the record's data exactly. */
static int opt_check(const uint8_t *msg, const struct dns_rr *rr, const char **why) {
        size_t end = rr->rdata + rr->rdlen;

        for (size_t pos = rr->rdata; pos < end;) {
                if (end - pos < 4 || end - pos - 4 < get16(msg + pos + 2))
                        return bad(why, "malformed EDNS option");
                pos += 4 + (size_t) get16(msg + pos + 2);
        }
        return 0;
}

int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *ret, const char **why) {
        struct dns_query q = {};
        struct dns_header h;
        size_t off = DNS_HEADER_SIZE;
        bool plain;
        int r;

        r = header_read(msg, len, &h, why);
        if (r < 0)
                return r;
        if (h.flags & DNS_FLAG_QR)
                return bad(why, "not a query (QR set)");
        if (h.flags & DNS_FLAG_OPCODE)
                return bad(why, "opcode is not QUERY");
        if (h.qdcount == 0)
                return bad(why, "no question");
        if (h.qdcount > 1)
                return bad(why, "more than one question");
        if (h.ancount != 0)
                return bad(why, "answer records in a query");
        if (h.nscount != 0)
                return bad(why, "authority records in a query");
        if (h.arcount > 1)
                return bad(why, "more than one additional record");

        r = name_read(msg, len, &off, false, q.name, &plain, why);
        if (r < 0)
                return r;
        if (!plain)
                return bad(why, "label holds '.' or NUL");
        if (len - off < 4)
                return bad(why, "truncated question");
        q.qtype = get16(msg + off);
        q.qclass = get16(msg + off + 2);
        off += 4;
        q.question_end = off;

        q.edns_udp_size = DNS_QUERY_UDP_MIN;
        if (h.arcount == 1) {
                struct dns_rr opt;

                r = rr_read(msg, len, &off, false, &opt, why);
                if (r < 0)
                        return r;
                if (opt.type != DNS_TYPE_OPT)
                        return bad(why, "additional record is not OPT");
                if (msg[opt.owner] != 0)
                        return bad(why, "OPT owner is not the root");
                r = opt_check(msg, &opt, why);
                if (r < 0)
                        return r;
                q.has_edns = true;
                q.edns_do = opt.ttl & DNS_EDNS_DO;
                /* OPT's class field is the requester's UDP payload size. */
                q.edns_udp_size = opt.class > DNS_QUERY_UDP_MIN ? opt.class : DNS_QUERY_UDP_MIN;
        }
        /* Bytes past the last record would ride along to the upstream unexamined. */
        if (off != len)
                return bad(why, "trailing bytes after the last record");

        q.id = h.id;
        q.flags = h.flags;
        *ret = q;
        return 0;
}

ssize_t dns_build_reply(const struct dns_query *q, const uint8_t *req, size_t req_len,
                        unsigned rcode, uint8_t *out, size_t out_len) {
        /* Root owner, type OPT, our UDP size, extended rcode/version/flags 0, no options. */
        static const uint8_t opt[11] = { 0, 0, DNS_TYPE_OPT, DNS_EDNS_UDP_SIZE >> 8,
                                         DNS_EDNS_UDP_SIZE & 0xff, 0, 0, 0, 0, 0, 0 };
        size_t need;

        /* The smallest question is the root name and type and class: 5 bytes. */
        if (rcode > DNS_FLAG_RCODE || q->question_end < DNS_HEADER_SIZE + 5 ||
            q->question_end > req_len || q->question_end > DNS_MAX_MESSAGE)
                return -EINVAL;
        need = q->question_end + (q->has_edns ? sizeof opt : 0);
        if (out_len < need)
                return -ENOSPC;

        put16(out, q->id);
        put16(out + 2, (uint16_t) (DNS_FLAG_QR | DNS_FLAG_RA | (q->flags & DNS_FLAG_RD) | rcode));
        put16(out + 4, 1);
        put16(out + 6, 0);
        put16(out + 8, 0);
        put16(out + 10, q->has_edns ? 1 : 0);
        /* The question as received, case and all (clients that randomise case check it);
         * memmove, since out may be req. */
        memmove(out + DNS_HEADER_SIZE, req + DNS_HEADER_SIZE, q->question_end - DNS_HEADER_SIZE);
        if (q->has_edns)
                memcpy(out + q->question_end, opt, sizeof opt);
        return (ssize_t) need;
}

ssize_t dns_build_query(const struct dns_query *q, uint16_t id, uint8_t *out, size_t out_len) {
        size_t n = DNS_HEADER_SIZE, name_len = strnlen(q->name, DNS_MAX_NAME + 1);
        size_t need = DNS_HEADER_SIZE + (name_len > 0 ? name_len + 2 : 1) + 4 +
                      (q->has_edns ? 11 : 0);

        if (name_len > DNS_MAX_NAME)
                return -EINVAL;
        if (out_len < need)
                return -ENOSPC;

        put16(out, id);
        /* Recursion desired, nothing else: RD clear would ask the resolver only what it
         * has cached (what other clients asked), and the other bits are the client's to
         * want, not ours to pass on. CD stays clear: the addresses we remember are the
         * ones the resolver validated, if it does. */
        put16(out + 2, DNS_FLAG_RD);
        put16(out + 4, 1);
        put16(out + 6, 0);
        put16(out + 8, 0);
        put16(out + 10, q->has_edns ? 1 : 0);
        for (size_t at = 0; at < name_len;) {
                size_t l = strcspn(q->name + at, ".");

                if (l == 0 || l > 63)
                        return -EINVAL;
                out[n++] = (uint8_t) l;
                memcpy(out + n, q->name + at, l);
                n += l;
                at += l;
                if (q->name[at] == '.' && q->name[++at] == '\0')
                        return -EINVAL;         /* a trailing dot: an empty label */
        }
        out[n++] = 0;
        put16(out + n, q->qtype);
        put16(out + n + 2, q->qclass);
        n += 4;
        if (q->has_edns) {
                /* Root owner, type OPT, our payload size, extended rcode 0, version 0, DO if
                 * the client asked for signatures, no options: the client's (cookies,
                 * padding, client subnet, anything) carry its data to the resolver. */
                out[n] = 0;
                put16(out + n + 1, DNS_TYPE_OPT);
                put16(out + n + 3, DNS_EDNS_UDP_SIZE);
                put16(out + n + 5, 0);
                put16(out + n + 7, q->edns_do ? DNS_EDNS_DO : 0);
                put16(out + n + 9, 0);
                n += 11;
        }
        return (ssize_t) n;
}

int dns_answer_to_client(uint8_t *msg, size_t len, const struct dns_query *q, const uint8_t *req,
                         size_t req_len) {
        size_t off = DNS_HEADER_SIZE;
        char name[DNS_MAX_NAME + 1];
        bool plain;

        if (q->question_end < DNS_HEADER_SIZE + 5 || q->question_end > req_len ||
            q->question_end > len)
                return -EINVAL;
        /* The upstream's question: no pointer can be in it (nothing lies before it), so the
         * same name is the same labels, the same bytes but for case. */
        if (name_read(msg, len, &off, false, name, &plain, NULL) < 0 || !plain ||
            !streq(name, q->name) || off + 4 != q->question_end ||
            get16(msg + off) != q->qtype || get16(msg + off + 2) != q->qclass)
                return -EINVAL;

        put16(msg, q->id);
        put16(msg + 2, (uint16_t) ((get16(msg + 2) & ~DNS_FLAG_RD) | (q->flags & DNS_FLAG_RD)));
        memcpy(msg + DNS_HEADER_SIZE, req + DNS_HEADER_SIZE, q->question_end - DNS_HEADER_SIZE);
        return 0;
}

/* RFC 2181 §8: a TTL with the top bit set means zero. Ours never exceed a day, so a hostile
 * answer cannot pin an address open for years. */
static uint32_t ttl_clamp(uint32_t ttl) {
        if (ttl & UINT32_C(0x80000000))
                return 0;
        return ttl > DNS_TTL_MAX ? DNS_TTL_MAX : ttl;
}

/* Names reached from the question: chain[0] is the question name. */
struct dns_chain {
        char name[DNS_MAX_CNAMES + 1][DNS_MAX_NAME + 1];
        uint32_t ttl[DNS_MAX_CNAMES + 1]; /* smallest TTL along the way to this name */
        size_t n;
};

static int chain_find(const struct dns_chain *c, const char *name) {
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->name[i], name))
                        return (int) i;
        return -1;
}

/* The chain index of the owner of rr, or -1. The message was checked already. */
static int chain_owner(const struct dns_chain *c, const uint8_t *msg, size_t len,
                       const struct dns_rr *rr) {
        char owner[DNS_MAX_NAME + 1];
        size_t pos = rr->owner;
        bool plain;

        if (name_read(msg, len, &pos, true, owner, &plain, NULL) < 0 || !plain)
                return -1;
        return chain_find(c, owner);
}

/* Checks what we will read from an answer record beyond its bounds. Only class IN: the
 * meaning of data in other classes is not ours to judge, and they are never used. */
static int answer_check(const uint8_t *msg, size_t len, const struct dns_rr *rr,
                        const char **why) {
        size_t pos = rr->rdata;
        int r;

        if (rr->class != DNS_CLASS_IN)
                return 0;
        switch (rr->type) {
        case DNS_TYPE_A:
                if (rr->rdlen != 4)
                        return bad(why, "A record not 4 bytes");
                return 0;
        case DNS_TYPE_AAAA:
                if (rr->rdlen != 16)
                        return bad(why, "AAAA record not 16 bytes");
                return 0;
        case DNS_TYPE_CNAME:
                r = name_read(msg, len, &pos, true, NULL, NULL, why);
                if (r < 0)
                        return r;
                if (pos != rr->rdata + rr->rdlen)
                        return bad(why, "CNAME target does not fill its record");
                return 0;
        default:
                return 0;
        }
}

static void addr_add(struct dns_answer *a, int family, const uint8_t *addr, size_t n,
                     uint32_t ttl) {
        for (size_t i = 0; i < a->n_addrs; i++)
                if (a->addrs[i].family == family && memcmp(a->addrs[i].addr, addr, n) == 0) {
                        if (ttl < a->addrs[i].ttl)
                                a->addrs[i].ttl = ttl;
                        return;
                }
        if (a->n_addrs >= DNS_MAX_ADDRS)
                return;
        a->addrs[a->n_addrs].family = family;
        memcpy(a->addrs[a->n_addrs].addr, addr, n);
        a->addrs[a->n_addrs].ttl = ttl;
        a->n_addrs++;
}

int dns_parse_response(const uint8_t *msg, size_t len, const struct dns_query *q,
                       struct dns_answer *ret, const char **why) {
        struct dns_answer a = {};
        struct dns_chain chain;
        struct dns_header h;
        char name[DNS_MAX_NAME + 1];
        size_t off = DNS_HEADER_SIZE, answers, n_answers = 0, n_records, i;
        bool plain;
        int r;

        r = header_read(msg, len, &h, why);
        if (r < 0)
                return r;
        if (!(h.flags & DNS_FLAG_QR))
                return bad(why, "not a response (QR clear)");
        if (h.flags & DNS_FLAG_OPCODE)
                return bad(why, "opcode is not QUERY");
        if (h.qdcount != 1)
                return bad(why, "question count is not 1");
        a.rcode = h.flags & DNS_FLAG_RCODE;
        a.truncated = h.flags & DNS_FLAG_TC;

        r = name_read(msg, len, &off, true, name, &plain, why);
        if (r < 0)
                return r;
        if (len - off < 4)
                return bad(why, "truncated question");
        if (!plain || !streq(name, q->name) || get16(msg + off) != q->qtype ||
            get16(msg + off + 2) != q->qclass)
                return bad(why, "answer to another question");
        off += 4;
        answers = off;

        /* One walk over every section: bounds, names and pointers, and the data we will read
         * from answers. With TC set the message may stop anywhere (a server cuts what does
         * not fit in UDP): keep the records that are whole and stop at the first that is
         * not. Without TC a short or long message is malformed. */
        n_records = (size_t) h.ancount + h.nscount + h.arcount;
        for (i = 0; i < n_records; i++) {
                struct dns_rr rr;
                const char *cut;

                r = rr_read(msg, len, &off, true, &rr, &cut);
                if (r < 0) {
                        if (a.truncated)
                                break;
                        return bad(why, cut);
                }
                if (i < h.ancount) {
                        r = answer_check(msg, len, &rr, why);
                        if (r < 0)
                                return r;
                        n_answers++;
                }
        }
        if (i == n_records && off != len && !a.truncated)
                return bad(why, "trailing bytes after the last record");

        /* Follow CNAMEs from the question name. Records may come in any order, so walk the
         * answers again until a walk adds no name: each useful walk adds one at least and
         * the chain holds DNS_MAX_CNAMES, so this ends — also on a hostile a→b→a loop, whose
         * names are already in the chain. */
        memcpy(chain.name[0], q->name, strnlen(q->name, DNS_MAX_NAME));
        chain.name[0][strnlen(q->name, DNS_MAX_NAME)] = '\0';
        chain.ttl[0] = DNS_TTL_MAX;
        chain.n = 1;
        for (size_t walk = 0; walk < DNS_MAX_CNAMES; walk++) {
                bool grew = false;

                off = answers;
                for (i = 0; i < n_answers && chain.n <= DNS_MAX_CNAMES; i++) {
                        struct dns_rr rr;
                        size_t pos;
                        int from;

                        if (rr_read(msg, len, &off, true, &rr, NULL) < 0)
                                break;
                        if (rr.type != DNS_TYPE_CNAME || rr.class != DNS_CLASS_IN)
                                continue;
                        from = chain_owner(&chain, msg, len, &rr);
                        if (from < 0)
                                continue;
                        pos = rr.rdata;
                        if (name_read(msg, len, &pos, true, name, &plain, NULL) < 0 || !plain ||
                            chain_find(&chain, name) >= 0)
                                continue;
                        memcpy(chain.name[chain.n], name, sizeof name);
                        chain.ttl[chain.n] = min_u32(chain.ttl[from], ttl_clamp(rr.ttl));
                        chain.n++;
                        grew = true;
                }
                if (!grew)
                        break;
        }
        for (i = 1; i < chain.n && a.n_cname < ELEMENTSOF(a.cname); i++)
                memcpy(a.cname[a.n_cname++], chain.name[i], sizeof chain.name[i]);

        /* Addresses only from a successful answer, and only for names of the chain: anything
         * else in the message (other owners, authority, glue) is the upstream's word about
         * names nobody asked it for, and is never remembered. */
        off = answers;
        for (i = 0; a.rcode == DNS_RCODE_NOERROR && i < n_answers; i++) {
                struct dns_rr rr;
                int at;

                if (rr_read(msg, len, &off, true, &rr, NULL) < 0)
                        break;
                if ((rr.type != DNS_TYPE_A && rr.type != DNS_TYPE_AAAA) ||
                    rr.class != DNS_CLASS_IN)
                        continue;
                at = chain_owner(&chain, msg, len, &rr);
                if (at < 0)
                        continue;
                addr_add(&a, rr.type == DNS_TYPE_A ? AF_INET : AF_INET6, msg + rr.rdata,
                         rr.rdlen, min_u32(chain.ttl[at], ttl_clamp(rr.ttl)));
        }

        *ret = a;
        return 0;
}

void dns_name_printable(const char *name, char *out, size_t out_len) {
        size_t n = 0;

        if (out_len == 0)
                return;
        if (name[0] == '\0')
                name = ".";
        for (const char *p = name; *p; p++) {
                unsigned char c = (unsigned char) *p;

                if (c > ' ' && c < 0x7f && c != '\\' && c != '"') {
                        if (out_len - n < 2)
                                break;
                        out[n++] = (char) c;
                } else {
                        if (out_len - n < 5)
                                break;
                        out[n++] = '\\';
                        out[n++] = (char) ('0' + c / 100);
                        out[n++] = (char) ('0' + c / 10 % 10);
                        out[n++] = (char) ('0' + c % 10);
                }
        }
        out[n] = '\0';
}
