/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/egress/dns.h — the DNS gateway's message codec. Pure: no syscalls, no allocation;
 * every input is untrusted (the agent's queries, the upstream's answers). */
#ifndef CAISSON_EGRESS_DNS_H
#define CAISSON_EGRESS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DNS_HEADER_SIZE 12
#define DNS_MAX_NAME 253          /* presentation form, without the trailing dot */
#define DNS_MAX_MESSAGE 65535     /* TCP; UDP queries are bounded by the socket buffer */
#define DNS_MAX_ADDRS 32          /* A/AAAA records kept from one answer */
#define DNS_MAX_POINTERS 16       /* compression pointers followed in one name */
#define DNS_MAX_CNAMES 8          /* CNAME hops followed from the question name */
#define DNS_TTL_MAX 86400         /* remembered TTLs are capped at one day */
#define DNS_EDNS_UDP_SIZE 1232    /* the payload size our replies' and queries' OPT advertise */
#define DNS_EDNS_DO 0x8000        /* OPT's flags (the low half of its TTL field): DNSSEC OK */
#define DNS_MAX_QUERY_OUT (DNS_HEADER_SIZE + DNS_MAX_NAME + 2 + 4 + 11) /* dns_build_query() */
#define DNS_PRINTABLE_MAX (DNS_MAX_NAME * 4 + 1) /* enough for any dns_name_printable() */

/* The header's flags word. */
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_OPCODE 0x7800
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100
#define DNS_FLAG_RA 0x0080
#define DNS_FLAG_RCODE 0x000f

enum {
        DNS_RCODE_NOERROR = 0,
        DNS_RCODE_FORMERR = 1,
        DNS_RCODE_SERVFAIL = 2,
        DNS_RCODE_NXDOMAIN = 3,
        DNS_RCODE_NOTIMP = 4,
        DNS_RCODE_REFUSED = 5,
};

enum {
        DNS_TYPE_A = 1,
        DNS_TYPE_CNAME = 5,
        DNS_TYPE_AAAA = 28,
        DNS_TYPE_OPT = 41,
        DNS_CLASS_IN = 1,
};

struct dns_query {
        uint16_t id;
        uint16_t flags;           /* header flags word as received */
        char name[DNS_MAX_NAME + 1]; /* lower-cased, dotted, no trailing dot; "" = the root */
        uint16_t qtype;
        uint16_t qclass;
        bool has_edns;            /* an OPT record was in the additional section */
        bool edns_do;             /* with the DO bit set */
        uint16_t edns_udp_size;   /* its advertised payload size (>= 512), else 512 */
        size_t question_end;      /* offset just past the question in the message */
};

/* Parses a query: QR=0, OPCODE=0 (QUERY), exactly one question, no answer or authority
 * records, at most one additional record and it must be OPT (EDNS0); names without
 * compression pointers (a query has nothing to point at), labels 1–63 bytes of any octet
 * except '.', and the whole name ≤ 253 characters in presentation form. The name is
 * lower-cased (ASCII) so matching is case-insensitive. A NUL octet in a label is refused
 * too: the name is a C string, and what policy matching sees must be what the upstream
 * would be asked. Any qtype and qclass; EDNS options must be well-formed; no bytes after
 * the last record. Returns 0, or -EBADMSG with *why a static phrase ("truncated header",
 * "more than one question", ...). */
int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q, const char **why);

/* Writes a reply carrying only the header and the question of q (as received in req, which
 * was parsed into q), with rcode (RA set, QR set, RD copied) — and an OPT record when the
 * query had one. Returns the length written, or -ENOSPC. out may be req itself: the reply
 * is never longer than the query. -EINVAL when rcode > 15 or q does not fit req. */
ssize_t dns_build_reply(const struct dns_query *q, const uint8_t *req, size_t req_len,
                        unsigned rcode, uint8_t *out, size_t out_len);

/* Writes the query the gateway asks upstream for q: id, RD set and every other header flag
 * clear, q's question (the name as q holds it: lower-cased), and — only when q had one — an
 * OPT record of our own: DNS_EDNS_UDP_SIZE, version 0, the DO bit if q's had it, no options.
 * Nothing else of the client's message is carried. Returns the length (at most
 * DNS_MAX_QUERY_OUT), -ENOSPC, or -EINVAL when q->name has no wire form. */
ssize_t dns_build_query(const struct dns_query *q, uint16_t id, uint8_t *out, size_t out_len);

/* Turns msg, an upstream answer that dns_parse_response() accepted for q's question, into
 * the answer to the client's own query req (which was parsed into q): q's id, q's RD bit,
 * and req's question bytes in place of the upstream's (the same name but for case, so the
 * same length), the client's case and all. The rest of msg is left as it is. 0, or -EINVAL
 * when msg's question does not span the bytes req's does. */
int dns_answer_to_client(uint8_t *msg, size_t len, const struct dns_query *q, const uint8_t *req,
                         size_t req_len);

/* Reads / overwrites the 16-bit id of a message (len ≥ 2 assumed by the caller). */
uint16_t dns_get_id(const uint8_t *msg);
void dns_set_id(uint8_t *msg, uint16_t id);

struct dns_addr {
        int family;               /* AF_INET or AF_INET6 */
        uint8_t addr[16];         /* network order; 4 bytes used for AF_INET */
        uint32_t ttl;             /* min of the TTLs along the CNAME chain to this record */
};

struct dns_answer {
        unsigned rcode;
        bool truncated;           /* TC set */
        struct dns_addr addrs[DNS_MAX_ADDRS];
        size_t n_addrs;
        /* The names of the CNAME chain from the question (lower-cased), for events. */
        char cname[4][DNS_MAX_NAME + 1];
        size_t n_cname;
};

/* Parses an upstream response to q: QR=1, the same question (name case-insensitively, type,
 * class), then the answer section, following compression pointers with a bound (no loops,
 * no forward jumps past the end). Collects the A and AAAA records whose owner is the
 * question name or a name reached from it by CNAME records in the same answer, with the
 * smallest TTL along the chain; records for any other owner are ignored (never cached).
 * The id is not checked here (the caller restores the agent's). ans->rcode and
 * ans->truncated come from the header; addresses are collected only with NOERROR. With TC
 * the message may end mid-record: the whole records before that point are used. TTLs are
 * capped at DNS_TTL_MAX, CNAME hops at DNS_MAX_CNAMES. Returns 0, or -EBADMSG with *why. */
int dns_parse_response(const uint8_t *msg, size_t len, const struct dns_query *q,
                       struct dns_answer *ans, const char **why);

/* Formats name for a message or event: printable ASCII kept, anything else as \DDD, into out
 * (always NUL-terminated). Space, '\\' and '"' are escaped too (the result goes into JSON
 * and terminals); the root prints as "."; a result that does not fit is cut before the
 * character (or escape) that would overflow. DNS_PRINTABLE_MAX bytes always suffice. */
void dns_name_printable(const char *name, char *out, size_t out_len);

#endif
