/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/egress/nft.h — the sandbox netns's fence: one nftables transaction through libnftables
 * (dlopen()ed, so a sandbox without network_policies never maps it), read back and checked,
 * plus the route that sends every non-loopback destination to lo, and the NFLOG reader
 * that turns rejected packets into events. Never forks nft. */
#ifndef CAISSON_EGRESS_NFT_H
#define CAISSON_EGRESS_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caisson/types.h"

#define NFT_FENCE_TABLE "caisson"

struct nft_fence {
        uint16_t dns_port;       /* the gateway's port on 127.0.0.1 (and [::1] when ipv6) */
        uint16_t relay_port;     /* the relay's port on 127.0.0.1 (and [::1] when ipv6) */
        bool ipv6;               /* the policy lists IPv6 endpoints: redirect ip6 TCP too,
                                  * else every IPv6 packet off loopback is rejected */
        uint16_t log_group;      /* NFLOG group of the reject rules */
};

/* Everything below runs in the calling thread's current network namespace: the caller
 * setns()es into the sandbox's netns first and back afterwards. */

/* Adds "default dev lo src 127.0.0.1" and "default dev lo src ::1" so a connect() to any
 * address reaches the nat output hook instead of failing with ENETUNREACH. Uses rtnetlink
 * (libnl-route); lo must be up. The IPv6 route is added without ipv6 too (so IPv6 attempts
 * meet the fence's reject and are logged), and its failure is an error too, unless ipv6 is
 * false and the netns has no IPv6 at all (the kernel has none, or lo has it disabled).
 * Never replaces an existing default route (EEXIST). Errors: CAISSON_LAYER_NET. */
int nft_route_setup(bool ipv6, struct caisson_error *err);

/* Opens and closes a NETLINK_NETFILTER socket: libnftables 1.0.6 exit()s from nft_ctx_new()
 * when it cannot, so this runs first and fails cleanly instead. */
int nft_probe(struct caisson_error *err);

/* Loads the fence as one transaction (table inet caisson: nat output redirects of port 53
 * UDP/TCP to dns_port and of other TCP off loopback to relay_port; a filter output chain
 * that accepts loopback and the redirected flows and rejects the rest — TCP reset, ICMP
 * unreachable — with a counter and `log group`), then lists the whole ruleset back as JSON
 * and checks it structurally (the fence's table and nothing else in the netns; chains,
 * hooks, priorities, policies, every expected rule, no other rule). Any failure:
 * CAISSON_LAYER_NFT and the reason NFT_FAILED or NFT_VERIFY_FAILED. */
int nft_fence_install(const struct nft_fence *f, struct caisson_error *err);

/* The same, but the libnftables context stays open and is handed back in *ret_ctx, for
 * nft_ctx_release() later: closing a netfilter netlink socket waits for nf_tables' pending
 * transaction cleanup (nft_rcv_nl_event flushes it: an RCU grace period, ~7 ms measured on
 * 6.18 under load), which a caller can let pass first. */
int nft_fence_install_keep(const struct nft_fence *f, void **ret_ctx, struct caisson_error *err);
void nft_ctx_release(void *ctx);

/* Maps libnftables now (see egress_preload_start). Returns 0 or -errno. */
int nft_lib_preload(void);

/* The read-back half of nft_fence_install alone: lists the current netns's ruleset and
 * checks it is the fence f alone (NFT_VERIFY_FAILED naming the first difference). */
int nft_fence_verify(const struct nft_fence *f, struct caisson_error *err);
/* Whether this thread's last read-back passed by the fast path: the kernel's ruleset was,
 * byte for byte, one that passed the structural check before (for tests and benchmarks). */
bool nft_fence_verified_by_render(void);

/* NFLOG: a NETLINK_NETFILTER socket bound to group in the current netns (non-blocking,
 * CLOEXEC), with a receive buffer of NFT_LOG_RCVBUF (forced past net.core.rmem_max where
 * the caller may). Returns the fd or -errno. */
#define NFT_LOG_RCVBUF (4u << 20)
int nft_log_open(uint16_t group);

/* The kinds of the fence's reject rules, as their log prefixes name them ("caisson-<kind>"). */
enum nft_log_kind {
        NFT_LOG_IPV6,
        NFT_LOG_TCP,
        NFT_LOG_UDP,
        NFT_LOG_ICMP,
        NFT_LOG_OTHER,
        _NFT_LOG_KIND_MAX
};
/* The kind named by s, or -1. */
int nft_log_kind_from_string(const char *s);

/* How many packets the fence's reject rules have counted so far (their counters), by kind.
 * kept is what nft_fence_install_keep() handed back; from one thread at a time, in any
 * netns (it reads over the read-back's raw socket, which stays in the fence's). 0 or
 * -errno. */
int nft_fence_reject_counts(void *kept, uint64_t ret[_NFT_LOG_KIND_MAX]);

struct nft_log_packet {
        int family;              /* AF_INET/AF_INET6 */
        uint8_t proto;           /* IPPROTO_TCP/UDP/ICMP/ICMPV6/... */
        uint8_t daddr[16];
        uint16_t dport;          /* 0 if none */
        uint8_t saddr[16];       /* the client's side: with sport, finds its socket */
        uint16_t sport;          /* 0 if none */
        char kind[16];           /* the rule that logged it: "tcp", "udp", "icmp", "ipv6",
                                  * "other"; "" if the prefix was not ours */
};
/* Reads what is queued on fd and calls fn per logged packet, at most 64 datagrams a call.
 * Returns 0 once the socket is empty (EAGAIN), 1 when it stopped at that bound (the caller
 * comes back while fd stays readable), or -errno. An ENOBUFS from the kernel (it dropped log
 * messages: the socket's buffer was full) is counted in *overruns (if given) and reading
 * goes on. Malformed messages are skipped, never trusted; only messages from the kernel are
 * read. */
int nft_log_read(int fd, void (*fn)(const struct nft_log_packet *p, void *userdata),
                 void *userdata, unsigned *overruns);

/* Pure: parses one datagram read from an NFLOG socket (netlink messages holding
 * NFULA_PAYLOAD and NFULA_PREFIX) and calls fn per packet whose IPv4/IPv6 header parses.
 * Every length is checked; returns how many packets were reported. */
int nft_log_parse(const uint8_t *buf, size_t len,
                  void (*fn)(const struct nft_log_packet *p, void *userdata), void *userdata);

#endif
