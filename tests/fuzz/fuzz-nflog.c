/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the NFLOG reader's parser (nft_log_parse): what the kernel sends for a
 * packet that the sandbox's agent built. The first byte picks the shape: odd, the rest is a
 * datagram as read from the socket; even, the rest is a packet wrapped in one well-formed
 * NFULNL_MSG_PACKET message, so the fuzzer reaches the IPv4/IPv6/port parsing at once.
 * Besides memory errors it checks what the parser promises its caller. */
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "egress/nft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct nft_log_packet *p, void *userdata) {
        size_t k = strnlen(p->kind, sizeof p->kind);

        (*(int *) userdata)++;
        if (p->family != AF_INET && p->family != AF_INET6)
                abort();
        if (k == sizeof p->kind) /* always NUL-terminated */
                abort();
        for (size_t i = 0; i < k; i++)
                if (!((p->kind[i] >= 'a' && p->kind[i] <= 'z') ||
                      (p->kind[i] >= '0' && p->kind[i] <= '9')))
                        abort();
}

static size_t put_attr(uint8_t *buf, size_t off, uint16_t type, const void *data, size_t len) {
        struct nlattr a = { .nla_len = (uint16_t) (NLA_HDRLEN + len), .nla_type = type };

        memcpy(buf + off, &a, sizeof a);
        memcpy(buf + off + NLA_HDRLEN, data, len);
        return off + NLA_HDRLEN + NLA_ALIGN(len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static uint8_t buf[4096] __attribute__((aligned(4)));
        int seen = 0, n;

        if (size < 1 || size > 2048)
                return 0;
        if (data[0] & 1) {
                n = nft_log_parse(data + 1, size - 1, check, &seen);
        } else {
                struct nlmsghdr h = { .nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET };
                struct nfgenmsg g = { .nfgen_family = AF_INET };
                /* Off by one on purpose: the parser must not assume an aligned buffer. */
                uint8_t *b = buf + 1;
                size_t off = NLMSG_HDRLEN;

                memset(buf, 0, sizeof buf);
                memcpy(b + off, &g, sizeof g);
                off += NLMSG_ALIGN(sizeof g);
                off = put_attr(b, off, NFULA_PREFIX, "caisson-udp", sizeof "caisson-udp");
                off = put_attr(b, off, NFULA_PAYLOAD, data + 1, size - 1);
                h.nlmsg_len = (uint32_t) off;
                memcpy(b, &h, sizeof h);
                n = nft_log_parse(b, off, check, &seen);
        }
        if (n < 0 || n != seen)
                abort();
        return 0;
}
