/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/egress/nft-raw.h — the fence as the kernel holds it, read over raw nfnetlink (no
 * libnftables) and rendered as canonical text: every attribute of the table, its chains,
 * sets, set elements and rules, in the kernel's order, byte for byte, except what changes by
 * itself (counter values) and the relay's port (a placeholder). Two renders are equal only if
 * the two rulesets are the same, attribute for attribute.
 *
 * nft.c uses it as the read-back's fast path: a fence whose render equals that of a fence
 * which passed the structural check (libnftables' JSON listing, compared rule by rule) is
 * that fence. Anything else goes the structural way. */
#ifndef CAISSON_EGRESS_NFT_RAW_H
#define CAISSON_EGRESS_NFT_RAW_H

#include <stddef.h>
#include <stdint.h>

#define NFT_RAW_MAX_DUMP (256u << 10)   /* bytes of netlink messages read back, at most */
#define NFT_RAW_MAX_TEXT (128u << 10)   /* the render, at most */

/* Dumps every table of the netns, of every family (tables, chains, sets, their elements,
 * rules) over fd, a NETLINK_NETFILTER socket in the fence's netns: another table there is
 * part of what packets meet. *buf (malloc'd, the caller frees) gets the messages one after
 * another. 0 or -errno (-EMSGSIZE past NFT_RAW_MAX_DUMP). */
int nft_raw_dump(int fd, uint8_t **buf, size_t *len);

/* Dumps the rules alone (every table's), as nft_raw_dump() does. 0 or -errno. */
int nft_raw_dump_rules(int fd, uint8_t **buf, size_t *len);

/* For each rule of table/chain in buf[0..len) (messages as the dumps give them) that has a
 * counter and a log expression, calls fn with the log prefix and the counter's packets.
 * 0, or -EBADMSG (malformed; fn may have been called for the rules before). */
int nft_raw_rule_counters(const uint8_t *buf, size_t len, const char *table, const char *chain,
                          void (*fn)(const char *prefix, uint64_t packets, void *userdata),
                          void *userdata);

/* Renders the messages buf[0..len) (as nft_raw_dump() gives them: untrusted as far as this
 * parser is concerned) into out (NUL-terminated). relay_port's bytes in an immediate's data
 * are written as "<relay>". The length, or -EBADMSG (malformed) / -ENOBUFS (out too small). */
int nft_raw_render(const uint8_t *buf, size_t len, uint16_t relay_port, char *out, size_t size);

#endif
