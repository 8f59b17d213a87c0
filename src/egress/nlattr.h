/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Netlink attributes, written into and found in a message buffer (nfnetlink requests of
 * nft.c, nft-raw.c and identity.c). The caller sizes the buffer. */
#pragma once

#include <linux/netlink.h>
#include <stdint.h>
#include <string.h>

/* Appends attribute type with n bytes of data at msg + *len, padded to alignment. */
static inline void nlattr_put(uint8_t *msg, size_t *len, uint16_t type, const void *data,
                              size_t n) {
        struct nlattr *a = (struct nlattr *) (msg + *len);

        a->nla_type = type;
        a->nla_len = (uint16_t) (NLA_HDRLEN + n);
        memcpy(msg + *len + NLA_HDRLEN, data, n);
        memset(msg + *len + NLA_HDRLEN + n, 0, NLA_ALIGN(n) - n);
        *len += NLA_HDRLEN + NLA_ALIGN(n);
}

/* A nested attribute: opened here, its length set by nlattr_nest_end() once its contents
 * were appended. */
static inline struct nlattr *nlattr_nest_start(uint8_t *msg, size_t *len, uint16_t type) {
        struct nlattr *a = (struct nlattr *) (msg + *len);

        a->nla_type = type | NLA_F_NESTED;
        *len += NLA_HDRLEN;
        return a;
}

static inline void nlattr_nest_end(uint8_t *msg, size_t len, struct nlattr *a) {
        a->nla_len = (uint16_t) (msg + len - (uint8_t *) a);
}

/* The attribute of type among those in [start, end) (a message's payload, or a nested
 * attribute's contents), or NULL; a malformed length ends the search. */
static inline const struct nlattr *nlattr_find(const uint8_t *start, const uint8_t *end,
                                            uint16_t type) {
        for (const uint8_t *p = start; p + NLA_HDRLEN <= end;) {
                const struct nlattr *a = (const struct nlattr *) p;

                if (a->nla_len < NLA_HDRLEN || p + a->nla_len > end)
                        return NULL;
                if ((a->nla_type & NLA_TYPE_MASK) == type)
                        return a;
                p += NLA_ALIGN(a->nla_len);
        }
        return NULL;
}
