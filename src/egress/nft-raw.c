/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fence read back over raw nfnetlink and rendered as canonical text (nft-raw.h). */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "egress/nft-raw.h"
#include "egress/nlattr.h"

/* ---- dump ----------------------------------------------------------------------------- */

static int append_bytes(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n) {
        if (*len + n > NFT_RAW_MAX_DUMP)
                return -EMSGSIZE;
        if (*len + n > *cap) {
                size_t nc = *cap ? *cap * 2 : 16384;
                uint8_t *nb;

                while (nc < *len + n)
                        nc *= 2;
                nb = realloc(*buf, nc);
                if (!nb)
                        return -ENOMEM;
                *buf = nb;
                *cap = nc;
        }
        memcpy(*buf + *len, p, n);
        *len += n;
        return 0;
}

/* One dump request (GET* with NLM_F_DUMP); its answers appended to *buf. When sets is given,
 * the (table, set) names of NEWSET answers are collected there too. */
static int dump_one(int fd, uint16_t type, uint8_t family, const char *table, const char *set,
                    uint8_t **buf, size_t *len, size_t *cap) {
        uint8_t req[512] __attribute__((aligned(4))) = { 0 };
        struct nlmsghdr *nlh = (struct nlmsghdr *) req;
        struct nfgenmsg *g = (struct nfgenmsg *) (req + NLMSG_HDRLEN);
        size_t rl = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof *g);
        static uint32_t seq;
        uint32_t my;

        if ((table && strlen(table) > 200) || (set && strlen(set) > 200))
                return -EINVAL;
        my = ++seq;
        nlh->nlmsg_type = (uint16_t) ((NFNL_SUBSYS_NFTABLES << 8) | type);
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = my;
        g->nfgen_family = family;
        g->version = NFNETLINK_V0;
        if (type == NFT_MSG_GETSETELEM) {
                nlattr_put(req, &rl, NFTA_SET_ELEM_LIST_TABLE, table, strlen(table) + 1);
                nlattr_put(req, &rl, NFTA_SET_ELEM_LIST_SET, set, strlen(set) + 1);
        }
        nlh->nlmsg_len = (uint32_t) rl;
        if (send(fd, req, rl, 0) != (ssize_t) rl)
                return -errno;
        for (;;) {
                uint8_t rb[32768] __attribute__((aligned(4)));
                ssize_t n = recv(fd, rb, sizeof rb, 0);

                if (n < 0)
                        return errno == EINTR ? -EAGAIN : -errno;
                for (struct nlmsghdr *h = (struct nlmsghdr *) rb; NLMSG_OK(h, (size_t) n);
                     h = NLMSG_NEXT(h, n)) {
                        int r;

                        if (h->nlmsg_seq != my)
                                continue;
                        /* A dump that changed under us is not one ruleset. */
                        if (h->nlmsg_flags & NLM_F_DUMP_INTR)
                                return -EAGAIN;
                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);

                                return h->nlmsg_len >= NLMSG_LENGTH(sizeof *e) && e->error ?
                                               e->error : -EBADMSG;
                        }
                        r = append_bytes(buf, len, cap, h, NLMSG_ALIGN(h->nlmsg_len));
                        if (r < 0)
                                return r;
                }
        }
}

static const struct nlattr *attr_next(const uint8_t *p, size_t len, size_t *off) {
        const struct nlattr *a;

        if (*off + NLA_HDRLEN > len)
                return NULL;
        a = (const struct nlattr *) (p + *off);
        if (a->nla_len < NLA_HDRLEN || *off + a->nla_len > len)
                return NULL;
        *off += NLA_ALIGN(a->nla_len);
        return a;
}

int nft_raw_dump(int fd, uint8_t **buf, size_t *len) {
        static const uint16_t order[] = { NFT_MSG_GETTABLE, NFT_MSG_GETCHAIN, NFT_MSG_GETSET };
        size_t cap = 0, sets_end;
        int r = 0;

        *buf = NULL;
        *len = 0;
        /* Every table of every family: another table in the netns is part of what the
         * packets meet, so it is part of the render too. */
        for (size_t i = 0; i < sizeof order / sizeof order[0] && r == 0; i++)
                r = dump_one(fd, order[i], NFPROTO_UNSPEC, NULL, NULL, buf, len, &cap);
        /* The elements of each set the dump named. */
        sets_end = *len;
        for (size_t off = 0; r == 0 && off + NLMSG_HDRLEN <= sets_end;) {
                const struct nlmsghdr *h = (const struct nlmsghdr *) (*buf + off);
                size_t aoff = 0, alen;
                const uint8_t *attrs;
                const struct nlattr *a;
                char tname[256] = "", sname[256] = "";
                uint8_t family;

                off += NLMSG_ALIGN(h->nlmsg_len);
                if ((h->nlmsg_type & 0xff) != NFT_MSG_NEWSET ||
                    h->nlmsg_len < NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg)))
                        continue;
                family = ((const struct nfgenmsg *) NLMSG_DATA(h))->nfgen_family;
                attrs = (const uint8_t *) NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct nfgenmsg));
                alen = h->nlmsg_len - NLMSG_HDRLEN - NLMSG_ALIGN(sizeof(struct nfgenmsg));
                while ((a = attr_next(attrs, alen, &aoff))) {
                        size_t n = a->nla_len - NLA_HDRLEN;
                        char *dst = (a->nla_type & NLA_TYPE_MASK) == NFTA_SET_TABLE ? tname :
                                    (a->nla_type & NLA_TYPE_MASK) == NFTA_SET_NAME ? sname : NULL;

                        if (dst && n > 0 && n < 256) {
                                memcpy(dst, (const uint8_t *) a + NLA_HDRLEN, n);
                                dst[n] = 0;
                        }
                }
                /* *buf may move: the loop reads it again through off. */
                if (tname[0] && sname[0])
                        r = dump_one(fd, NFT_MSG_GETSETELEM, family, tname, sname, buf, len, &cap);
        }
        if (r == 0)
                r = dump_one(fd, NFT_MSG_GETRULE, NFPROTO_UNSPEC, NULL, NULL, buf, len, &cap);
        if (r < 0) {
                free(*buf);
                *buf = NULL;
                *len = 0;
        }
        return r;
}

int nft_raw_dump_rules(int fd, uint8_t **buf, size_t *len) {
        size_t cap = 0;
        int r;

        *buf = NULL;
        *len = 0;
        r = dump_one(fd, NFT_MSG_GETRULE, NFPROTO_UNSPEC, NULL, NULL, buf, len, &cap);
        if (r < 0) {
                free(*buf);
                *buf = NULL;
                *len = 0;
        }
        return r;
}

/* An attribute's string, if it is one that fits size (NUL included). */
static bool attr_str(const struct nlattr *a, char *ret, size_t size) {
        size_t n = a->nla_len - NLA_HDRLEN;
        const char *v = (const char *) a + NLA_HDRLEN;

        if (n == 0 || n > size || v[n - 1] != 0)
                return false;
        memcpy(ret, v, n);
        return true;
}

/* One rule's expressions: its counter's packets and its log prefix, if it has them. */
static void rule_counter(const uint8_t *p, size_t len, int64_t *packets, char *prefix,
                         size_t size) {
        size_t off = 0;
        const struct nlattr *el;

        while ((el = attr_next(p, len, &off))) {
                const uint8_t *v = (const uint8_t *) el + NLA_HDRLEN;
                size_t n = el->nla_len - NLA_HDRLEN, o2 = 0;
                const struct nlattr *a, *data = NULL;
                char name[16] = "";

                while ((a = attr_next(v, n, &o2))) {
                        if ((a->nla_type & NLA_TYPE_MASK) == NFTA_EXPR_NAME)
                                (void) attr_str(a, name, sizeof name);
                        else if ((a->nla_type & NLA_TYPE_MASK) == NFTA_EXPR_DATA)
                                data = a;
                }
                if (!data)
                        continue;
                o2 = 0;
                while ((a = attr_next((const uint8_t *) data + NLA_HDRLEN,
                                      data->nla_len - NLA_HDRLEN, &o2))) {
                        uint16_t t = a->nla_type & NLA_TYPE_MASK;

                        if (strcmp(name, "counter") == 0 && t == NFTA_COUNTER_PACKETS &&
                            a->nla_len == NLA_HDRLEN + 8) {
                                uint64_t be;

                                memcpy(&be, (const uint8_t *) a + NLA_HDRLEN, 8);
                                *packets = (int64_t) (be64toh(be) & INT64_MAX);
                        } else if (strcmp(name, "log") == 0 && t == NFTA_LOG_PREFIX)
                                (void) attr_str(a, prefix, size);
                }
        }
}

int nft_raw_rule_counters(const uint8_t *buf, size_t len, const char *table, const char *chain,
                          void (*fn)(const char *prefix, uint64_t packets, void *userdata),
                          void *userdata) {
        size_t off = 0;

        while (off < len) {
                const struct nlmsghdr *h = (const struct nlmsghdr *) (buf + off);
                size_t hdr = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg)), aoff = 0;
                const uint8_t *attrs;
                const struct nlattr *a, *exprs = NULL;
                char t[256] = "", c[256] = "", prefix[128] = "";
                int64_t packets = -1;

                if (len - off < NLMSG_HDRLEN || h->nlmsg_len < hdr || h->nlmsg_len > len - off)
                        return -EBADMSG;
                off += NLMSG_ALIGN(h->nlmsg_len);
                if (h->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE))
                        continue;
                attrs = (const uint8_t *) h + hdr;
                while ((a = attr_next(attrs, h->nlmsg_len - hdr, &aoff))) {
                        uint16_t type = a->nla_type & NLA_TYPE_MASK;

                        if (type == NFTA_RULE_TABLE)
                                (void) attr_str(a, t, sizeof t);
                        else if (type == NFTA_RULE_CHAIN)
                                (void) attr_str(a, c, sizeof c);
                        else if (type == NFTA_RULE_EXPRESSIONS)
                                exprs = a;
                }
                if (!exprs || strcmp(t, table) != 0 || strcmp(c, chain) != 0)
                        continue;
                rule_counter((const uint8_t *) exprs + NLA_HDRLEN, exprs->nla_len - NLA_HDRLEN,
                             &packets, prefix, sizeof prefix);
                if (packets >= 0 && prefix[0])
                        fn(prefix, (uint64_t) packets, userdata);
        }
        return 0;
}

/* ---- render --------------------------------------------------------------------------- */

struct out {
        char *p;
        size_t size, len;
        bool full;
};

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct out *o, const char *fmt, ...) {
        va_list ap;
        int n;

        if (o->full)
                return;
        va_start(ap, fmt);
        n = vsnprintf(o->p + o->len, o->size - o->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= o->size - o->len)
                o->full = true;
        else
                o->len += (size_t) n;
}

static void emit_hex(struct out *o, const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                emit(o, "%02x", p[i]);
}

/* One attribute as it is: "type=hex;". */
static void emit_attr(struct out *o, const struct nlattr *a) {
        emit(o, "%u=", a->nla_type);
        emit_hex(o, (const uint8_t *) a + NLA_HDRLEN, a->nla_len - NLA_HDRLEN);
        emit(o, ";");
}

/* Flat attributes, "type=hex;" each. */
static int render_flat(struct out *o, const uint8_t *p, size_t len) {
        size_t off = 0;
        const struct nlattr *a;

        while ((a = attr_next(p, len, &off)))
                emit_attr(o, a);
        /* Trailing bytes that are not an attribute: malformed. */
        return off >= len ? 0 : -EBADMSG;
}

/* An immediate's data: its value is the relay's port in one rule, which changes per run. */
static int render_immediate(struct out *o, const uint8_t *p, size_t len, uint16_t relay_be) {
        size_t off = 0;
        const struct nlattr *a;

        while ((a = attr_next(p, len, &off))) {
                const uint8_t *v = (const uint8_t *) a + NLA_HDRLEN;
                size_t n = a->nla_len - NLA_HDRLEN, o2 = 0;
                const struct nlattr *b;

                if ((a->nla_type & NLA_TYPE_MASK) != NFTA_IMMEDIATE_DATA) {
                        emit_attr(o, a);
                        continue;
                }
                emit(o, "%u{", a->nla_type);
                while ((b = attr_next(v, n, &o2))) {
                        const uint8_t *bv = (const uint8_t *) b + NLA_HDRLEN;
                        size_t bn = b->nla_len - NLA_HDRLEN;

                        emit(o, "%u=", b->nla_type);
                        if ((b->nla_type & NLA_TYPE_MASK) == NFTA_DATA_VALUE && bn == 2 &&
                            memcmp(bv, &relay_be, 2) == 0)
                                emit(o, "<relay>");
                        else
                                emit_hex(o, bv, bn);
                        emit(o, ";");
                }
                if (o2 < n)
                        return -EBADMSG;
                emit(o, "}");
        }
        return off >= len ? 0 : -EBADMSG;
}

/* A rule's expressions: each its name and its data, all bytes but a counter's values. */
static int render_exprs(struct out *o, const uint8_t *p, size_t len, uint16_t relay_be) {
        size_t off = 0;
        const struct nlattr *el;

        while ((el = attr_next(p, len, &off))) {
                const uint8_t *v = (const uint8_t *) el + NLA_HDRLEN;
                size_t n = el->nla_len - NLA_HDRLEN, o2 = 0;
                const struct nlattr *a, *name = NULL;

                if ((el->nla_type & NLA_TYPE_MASK) != NFTA_LIST_ELEM)
                        return -EBADMSG;
                while ((a = attr_next(v, n, &o2)))
                        if ((a->nla_type & NLA_TYPE_MASK) == NFTA_EXPR_NAME)
                                name = a;
                if (o2 < n || !name)
                        return -EBADMSG;
                emit(o, "[");
                o2 = 0;
                while ((a = attr_next(v, n, &o2))) {
                        const uint8_t *av = (const uint8_t *) a + NLA_HDRLEN;
                        size_t an = a->nla_len - NLA_HDRLEN, nn = name->nla_len - NLA_HDRLEN;
                        const char *nm = (const char *) name + NLA_HDRLEN;
                        int r = 0;

                        if ((a->nla_type & NLA_TYPE_MASK) != NFTA_EXPR_DATA) {
                                emit_attr(o, a);
                                continue;
                        }
                        emit(o, "%u{", a->nla_type);
                        /* Counters change by themselves: their values are not the fence. */
                        if (nn == 8 && memcmp(nm, "counter", 8) == 0)
                                emit(o, "counter");
                        else if (nn == 10 && memcmp(nm, "immediate", 10) == 0)
                                r = render_immediate(o, av, an, relay_be);
                        else
                                r = render_flat(o, av, an);
                        if (r < 0)
                                return r;
                        emit(o, "}");
                }
                emit(o, "]");
        }
        return off >= len ? 0 : -EBADMSG;
}

/* A message's attributes; a rule's expressions in their own detail. */
static int render_msg(struct out *o, uint8_t type, const uint8_t *p, size_t len,
                      uint16_t relay_be) {
        size_t off = 0;
        const struct nlattr *a;

        while ((a = attr_next(p, len, &off))) {
                const uint8_t *v = (const uint8_t *) a + NLA_HDRLEN;
                size_t n = a->nla_len - NLA_HDRLEN;

                if (type == NFT_MSG_NEWRULE &&
                    (a->nla_type & NLA_TYPE_MASK) == NFTA_RULE_EXPRESSIONS) {
                        emit(o, "%u{", a->nla_type);
                        if (render_exprs(o, v, n, relay_be) < 0)
                                return -EBADMSG;
                        emit(o, "}");
                        continue;
                }
                emit_attr(o, a);
        }
        return off >= len ? 0 : -EBADMSG;
}

int nft_raw_render(const uint8_t *buf, size_t len, uint16_t relay_port, char *out, size_t size) {
        struct out o = { .p = out, .size = size };
        uint16_t relay_be = htons(relay_port);
        size_t off = 0;

        if (size == 0)
                return -ENOBUFS;
        out[0] = 0;
        while (off < len) {
                const struct nlmsghdr *h = (const struct nlmsghdr *) (buf + off);
                const struct nfgenmsg *g;
                size_t hdr = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof *g);

                if (len - off < NLMSG_HDRLEN || h->nlmsg_len < hdr || h->nlmsg_len > len - off)
                        return -EBADMSG;
                if ((h->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES)
                        return -EBADMSG;
                g = NLMSG_DATA(h);
                /* The message type and family; not the generation id (res_id), which every
                 * change in any netns's ruleset history moves. */
                emit(&o, "m%u f%u ", h->nlmsg_type & 0xff, g->nfgen_family);
                if (render_msg(&o, (uint8_t) (h->nlmsg_type & 0xff), (const uint8_t *) h + hdr,
                               h->nlmsg_len - hdr, relay_be) < 0)
                        return -EBADMSG;
                emit(&o, "\n");
                off += NLMSG_ALIGN(h->nlmsg_len);
        }
        if (o.full)
                return -ENOBUFS;
        return (int) o.len;
}
