/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sandbox netns's fence (DESIGN §4): the route that sends every destination to lo, one
 * nftables transaction that redirects DNS and TCP to the supervisor's sockets and rejects the
 * rest, read back and compared rule by rule, and the NFLOG reader that turns rejected packets
 * into events.
 *
 * What this kernel does (checked on 6.18 in a netns holding only lo, see test-nft.c):
 * - With "default dev lo src 127.0.0.1" (and "default dev lo src ::1"), connect() to any
 *   address routes to lo, so the packet reaches the output hooks instead of ENETUNREACH.
 * - The nat output chain (priority -100) runs before the filter output chain (priority 0):
 *   a redirected packet reaches the filter already rewritten to 127.0.0.1 / ::1, so the
 *   loopback accept rule is what lets it through; the reject rules never see it.
 * - SO_ORIGINAL_DST (and IP6T_SO_ORIGINAL_DST for a listener on [::1]) returns the address
 *   the client dialled.
 * - A UDP DNS query to any address lands on the gateway socket bound to 127.0.0.1 with the
 *   client's 127.0.0.1 source; the gateway's reply is un-NATed by conntrack and reaches the
 *   client (connected or not) from the address it asked, e.g. 192.0.2.1:53.
 * - A rejected UDP/ICMP send fails at once with EPERM (the output hook dropped it), and the
 *   ICMP error follows; a rejected TCP connect gets the reset: ECONNREFUSED. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <json-c/json.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netlink/netlink.h>
#include <netlink/route/route.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "egress/nft-raw.h"
#include "egress/nft.h"
#include "egress/nlattr.h"
#include "error.h"
#include "macro.h"

#define NFT_FAIL(err, errnum, ...)                                                                 \
        cs_fail((err), CAISSON_LAYER_NFT, CAISSON_REASON_NFT_FAILED, (errnum), __VA_ARGS__)
#define NFT_MISMATCH(err, ...)                                                                     \
        cs_fail((err), CAISSON_LAYER_NFT, CAISSON_REASON_NFT_VERIFY_FAILED, 0, __VA_ARGS__)

/* ---- route ---------------------------------------------------------------------------- */

static int nlerr_to_errno(int e) {
        switch (e < 0 ? -e : e) {
        case NLE_EXIST: return EEXIST;
        case NLE_PERM: return EPERM;
        case NLE_NOADDR: return EADDRNOTAVAIL;
        case NLE_AF_NOSUPPORT: return EAFNOSUPPORT;
        case NLE_OPNOTSUPP: return EOPNOTSUPP;
        case NLE_NODEV: return ENODEV;
        case NLE_INVAL: return EINVAL;
        case NLE_NOMEM: return ENOMEM;
        default: return EIO;
        }
}

static void nl_socket_freep(struct nl_sock **p) {
        if (*p)
                nl_socket_free(*p);
}
static void rtnl_route_putp(struct rtnl_route **p) {
        if (*p)
                rtnl_route_put(*p);
}
static void nl_addr_putp(struct nl_addr **p) {
        if (*p)
                nl_addr_put(*p);
}

/* default dev lo src <loopback>: returns 0 or a libnl error (negative NLE_*). */
static int route_add_default(struct nl_sock *sk, int family, int lo) {
        static const uint8_t zero[16], v4[4] = { 127, 0, 0, 1 };
        _cleanup_(rtnl_route_putp) struct rtnl_route *rt = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *dst = NULL, *src = NULL;
        struct rtnl_nexthop *nh;
        size_t alen = family == AF_INET ? 4 : 16;
        int r;

        rt = rtnl_route_alloc();
        dst = nl_addr_build(family, zero, alen);
        src = nl_addr_build(family, family == AF_INET ? v4 : in6addr_loopback.s6_addr, alen);
        nh = rtnl_route_nh_alloc();
        if (!rt || !dst || !src || !nh) {
                if (nh)
                        rtnl_route_nh_free(nh);
                return -NLE_NOMEM;
        }
        nl_addr_set_prefixlen(dst, 0);
        rtnl_route_set_family(rt, family);
        rtnl_route_set_table(rt, RT_TABLE_MAIN);
        rtnl_route_set_protocol(rt, RTPROT_STATIC);
        rtnl_route_set_type(rt, RTN_UNICAST);
        /* What `ip route add default dev lo` picks: no gateway, so scope link for IPv4
         * (IPv6 routes have no scope). */
        rtnl_route_set_scope(rt, family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
        r = rtnl_route_set_dst(rt, dst);
        if (r >= 0)
                r = rtnl_route_set_pref_src(rt, src);
        if (r < 0) {
                rtnl_route_nh_free(nh);
                return r;
        }
        rtnl_route_nh_set_ifindex(nh, lo);
        rtnl_route_add_nexthop(rt, nh); /* rt owns nh now */
        /* NLM_F_EXCL: never replace a default route that is already there (one that leads
         * somewhere would be a way out that this call must not bless). */
        return rtnl_route_add(sk, rt, NLM_F_EXCL);
}

/* Whether the current netns has no IPv6: the kernel has none (ipv6.disable=1, or built
 * without), or lo has it disabled (no ::1: net.ipv6.conf.lo.disable_ipv6, which a new netns
 * may inherit from the host). Then an IPv6 connect() or send fails in this netns before any
 * packet exists, and nothing can turn it on (the agent has no CAP_NET_ADMIN). */
static bool ipv6_absent(void) {
        _cleanup_close_ int fd = -1;
        char c = 0;

        fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return errno == EAFNOSUPPORT;
        fd = safe_close(fd);
        /* /proc/sys/net is the opening thread's netns: the sandbox's, here. */
        fd = open("/proc/sys/net/ipv6/conf/lo/disable_ipv6", O_RDONLY | O_CLOEXEC);
        return fd >= 0 && read(fd, &c, 1) == 1 && c == '1';
}

int nft_route_setup(bool ipv6, struct caisson_error *err) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        unsigned lo;
        int r;

        lo = if_nametoindex("lo");
        if (lo == 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, errno,
                               "find lo in the sandbox netns");
        sk = nl_socket_alloc();
        if (!sk)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, ENOMEM,
                               "rtnetlink socket");
        r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED,
                               nlerr_to_errno(r), "rtnetlink socket: %s", nl_geterror(r));

        r = route_add_default(sk, AF_INET, (int) lo);
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED,
                               nlerr_to_errno(r), "add 'default dev lo src 127.0.0.1' (%s)",
                               nl_geterror(r));
        /* Without IPv6 endpoints the IPv6 route is still wanted: it brings an IPv6 connect()
         * to the fence, which rejects it with a reset and logs it (an event), where no
         * route would fail it with ENETUNREACH unseen. So its failure fails closed too (an
         * IPv6 default route already there, say, is not ours to bless), with one exception:
         * a netns with no IPv6 at all, checked rather than read from the error, has no IPv6
         * packet to fence or to report, and refusing it would refuse every host that runs
         * with IPv6 off. An IPv6 policy needs the route whatever the reason. */
        r = route_add_default(sk, AF_INET6, (int) lo);
        if (r < 0 && (ipv6 || !ipv6_absent()))
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED,
                               nlerr_to_errno(r), "add 'default dev lo src ::1' (%s)",
                               nl_geterror(r));
        return 0;
}

/* ---- probe and libnftables ------------------------------------------------------------ */

int nft_probe(struct caisson_error *err) {
        _cleanup_close_ int fd = -1;
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

        /* What nft_ctx_new() does through libmnl (socket, then bind): if either fails there,
         * libnftables 1.0.6 calls exit() and the supervisor would vanish without teardown. */
        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (fd < 0)
                return NFT_FAIL(err, errno,
                                "cannot open a netfilter netlink socket in the sandbox netns");
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return NFT_FAIL(err, errno,
                                "cannot bind a netfilter netlink socket in the sandbox netns");
        return 0;
}

/* The entry points caisson uses, resolved once. The library stays mapped for the life of
 * the process (libnftables and libgmp/libjansson are not made to be unloaded). */
static struct nft_lib {
        void *handle;
        __typeof__(nft_ctx_new) *ctx_new;
        __typeof__(nft_ctx_free) *ctx_free;
        __typeof__(nft_run_cmd_from_buffer) *run_cmd_from_buffer;
        __typeof__(nft_ctx_buffer_output) *buffer_output;
        __typeof__(nft_ctx_buffer_error) *buffer_error;
        __typeof__(nft_ctx_get_output_buffer) *get_output_buffer;
        __typeof__(nft_ctx_get_error_buffer) *get_error_buffer;
        __typeof__(nft_ctx_output_set_flags) *output_set_flags;
} lib;

static int lib_load(struct caisson_error *err) {
        void *h;

        if (lib.handle)
                return 0;
        /* Only here: a sandbox without network_policies never maps libnftables. */
        h = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return NFT_FAIL(err, 0, "cannot load libnftables.so.1: %s", dlerror());
#define RESOLVE(field, sym)                                                                        \
        do {                                                                                       \
                *(void **) &lib.field = dlsym(h, #sym);                                            \
                if (!lib.field) {                                                                  \
                        (void) dlclose(h);                                                         \
                        lib = (struct nft_lib) { 0 };                                              \
                        return NFT_FAIL(err, 0, "libnftables.so.1 has no '%s'", #sym);            \
                }                                                                                  \
        } while (0)
        RESOLVE(ctx_new, nft_ctx_new);
        RESOLVE(ctx_free, nft_ctx_free);
        RESOLVE(run_cmd_from_buffer, nft_run_cmd_from_buffer);
        RESOLVE(buffer_output, nft_ctx_buffer_output);
        RESOLVE(buffer_error, nft_ctx_buffer_error);
        RESOLVE(get_output_buffer, nft_ctx_get_output_buffer);
        RESOLVE(get_error_buffer, nft_ctx_get_error_buffer);
        RESOLVE(output_set_flags, nft_ctx_output_set_flags);
#undef RESOLVE
        lib.handle = h;
        return 0;
}

int nft_lib_preload(void) {
        struct caisson_error err = { 0 };

        return lib_load(&err);
}

static void nft_ctx_freep(struct nft_ctx **p) {
        if (*p)
                lib.ctx_free(*p);
}

/* A context bound to the current netns, with output and errors captured (never printed). */
static int ctx_open(struct nft_ctx **ret, struct caisson_error *err) {
        _cleanup_(nft_ctx_freep) struct nft_ctx *ctx = NULL;
        int r;

        r = nft_probe(err);
        if (r < 0)
                return r;
        r = lib_load(err);
        if (r < 0)
                return r;
        ctx = lib.ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return NFT_FAIL(err, ENOMEM, "cannot make a libnftables context");
        if (lib.buffer_output(ctx) < 0 || lib.buffer_error(ctx) < 0)
                return NFT_FAIL(err, ENOMEM, "cannot buffer libnftables output");
        *ret = TAKE_PTR(ctx);
        return 0;
}

/* libnftables' first error line, printable, for a one-line message. */
static const char *first_error_line(struct nft_ctx *ctx, char *buf, size_t size) {
        const char *e = lib.get_error_buffer(ctx);
        size_t n = 0;

        if (!e || !*e)
                e = "no error text";
        for (; *e && *e != '\n' && n + 1 < size; e++)
                buf[n++] = (unsigned char) *e < 0x20 || *e == 0x7f ? '?' : *e;
        buf[n] = 0;
        return buf;
}

/* ---- the ruleset: one table of rules, rendered as nft text and as the JSON listing ---- */

enum rule_when { WHEN_ALWAYS, WHEN_IPV6, WHEN_NO_IPV6 };
enum rule_arg { ARG_NONE, ARG_DNS, ARG_RELAY, ARG_GROUP };

struct fence_rule {
        const char *chain;
        enum rule_when when;
        enum rule_arg arg;  /* what '@' stands for in text and json */
        const char *text;   /* nft syntax */
        const char *json;   /* the expr array `nft -j list` prints for it (counters zeroed) */
};

#define J_COUNTER "{\"counter\":{\"packets\":0,\"bytes\":0}}"
#define J_MATCH(op, left, right) "{\"match\":{\"op\":\"" op "\",\"left\":" left ",\"right\":" right "}}"
#define J_PAYLOAD(proto, field) "{\"payload\":{\"protocol\":\"" proto "\",\"field\":\"" field "\"}}"
#define J_META(key) "{\"meta\":{\"key\":\"" key "\"}}"
#define J_PREFIX(addr, len) "{\"prefix\":{\"addr\":\"" addr "\",\"len\":" len "}}"
#define J_LOG(kind) "{\"log\":{\"prefix\":\"caisson-" kind "\",\"group\":@}}"
#define J_REJECT_ICMPX(code) "{\"reject\":{\"type\":\"icmpx\",\"expr\":\"" code "\"}}"
#define J_REJECT_RST "{\"reject\":{\"type\":\"tcp reset\"}}"
#define T_LOG(kind) " counter log prefix \"caisson-" kind "\" group @ "

/* Protocols by number in the text (6 tcp, 17 udp, 1 icmp, 58 ipv6-icmp): by name, libnftables
 * asks getprotobyname(), and glibc's NSS ("protocols: db files") then searches some seventy
 * paths for libnss_db and reads /etc/protocols on the way to every start. The kernel gets
 * the same bytes; the JSON listing names them. */
static const struct fence_rule fence_rules[] = {
        /* nat output. DNS first: every packet to port 53, whatever address resolv.conf (or
         * the agent) chose, goes to the gateway; the gateway's own address is left alone. */
        { "nat_out", WHEN_ALWAYS, ARG_DNS,
          "ip daddr != 127.0.0.1 meta l4proto { 6, 17 } th dport 53 counter redirect to :@",
          "[" J_MATCH("!=", J_PAYLOAD("ip", "daddr"), "\"127.0.0.1\"") ","
          J_MATCH("==", J_META("l4proto"), "{\"set\":[\"tcp\",\"udp\"]}") ","
          J_MATCH("==", J_PAYLOAD("th", "dport"), "53") "," J_COUNTER ","
          "{\"redirect\":{\"port\":@}}]" },
        { "nat_out", WHEN_IPV6, ARG_DNS,
          "ip6 daddr != ::1 meta l4proto { 6, 17 } th dport 53 counter redirect to :@",
          "[" J_MATCH("!=", J_PAYLOAD("ip6", "daddr"), "\"::1\"") ","
          J_MATCH("==", J_META("l4proto"), "{\"set\":[\"tcp\",\"udp\"]}") ","
          J_MATCH("==", J_PAYLOAD("th", "dport"), "53") "," J_COUNTER ","
          "{\"redirect\":{\"port\":@}}]" },
        /* Every other TCP connection off loopback: the relay decides. */
        { "nat_out", WHEN_ALWAYS, ARG_RELAY,
          "ip daddr != 127.0.0.0/8 meta l4proto 6 counter redirect to :@",
          "[" J_MATCH("!=", J_PAYLOAD("ip", "daddr"), J_PREFIX("127.0.0.0", "8")) ","
          J_MATCH("==", J_META("l4proto"), "\"tcp\"") "," J_COUNTER ","
          "{\"redirect\":{\"port\":@}}]" },
        { "nat_out", WHEN_IPV6, ARG_RELAY,
          "ip6 daddr != ::1 meta l4proto 6 counter redirect to :@",
          "[" J_MATCH("!=", J_PAYLOAD("ip6", "daddr"), "\"::1\"") ","
          J_MATCH("==", J_META("l4proto"), "\"tcp\"") "," J_COUNTER ","
          "{\"redirect\":{\"port\":@}}]" },

        /* filter output, after nat: redirected packets arrive here with daddr 127.0.0.1 or
         * ::1 (the loopback rules accept them). Replies of accepted flows and the ICMP errors
         * of the rejects (also to loopback) pass too. */
        { "filter_out", WHEN_ALWAYS, ARG_NONE, "ct state established,related counter accept",
          "[" J_MATCH("in", "{\"ct\":{\"key\":\"state\"}}", "[\"established\",\"related\"]") ","
          J_COUNTER ",{\"accept\":null}]" },
        { "filter_out", WHEN_ALWAYS, ARG_NONE, "oif lo ip daddr 127.0.0.0/8 counter accept",
          "[" J_MATCH("==", J_META("oif"), "\"lo\"") ","
          J_MATCH("==", J_PAYLOAD("ip", "daddr"), J_PREFIX("127.0.0.0", "8")) ","
          J_COUNTER ",{\"accept\":null}]" },
        { "filter_out", WHEN_ALWAYS, ARG_NONE, "oif lo ip6 daddr ::1 counter accept",
          "[" J_MATCH("==", J_META("oif"), "\"lo\"") ","
          J_MATCH("==", J_PAYLOAD("ip6", "daddr"), "\"::1\"") "," J_COUNTER
          ",{\"accept\":null}]" },
        /* The rest is rejected, never silently dropped: a client fails at once instead of
         * waiting for a timeout, and each kind is counted and logged for the events. */
        { "filter_out", WHEN_NO_IPV6, ARG_GROUP,
          "meta nfproto ipv6 meta l4proto 6" T_LOG("ipv6") "reject with tcp reset",
          "[" J_MATCH("==", J_META("nfproto"), "\"ipv6\"") ","
          J_MATCH("==", J_META("l4proto"), "\"tcp\"") "," J_COUNTER "," J_LOG("ipv6") ","
          J_REJECT_RST "]" },
        { "filter_out", WHEN_NO_IPV6, ARG_GROUP,
          "meta nfproto ipv6" T_LOG("ipv6") "reject with icmpx admin-prohibited",
          "[" J_MATCH("==", J_META("nfproto"), "\"ipv6\"") "," J_COUNTER "," J_LOG("ipv6") ","
          J_REJECT_ICMPX("admin-prohibited") "]" },
        { "filter_out", WHEN_ALWAYS, ARG_GROUP,
          "meta l4proto 6" T_LOG("tcp") "reject with tcp reset",
          "[" J_MATCH("==", J_META("l4proto"), "\"tcp\"") "," J_COUNTER "," J_LOG("tcp") ","
          J_REJECT_RST "]" },
        { "filter_out", WHEN_ALWAYS, ARG_GROUP,
          "meta l4proto 17" T_LOG("udp") "reject with icmpx port-unreachable",
          "[" J_MATCH("==", J_META("l4proto"), "\"udp\"") "," J_COUNTER "," J_LOG("udp") ","
          J_REJECT_ICMPX("port-unreachable") "]" },
        { "filter_out", WHEN_ALWAYS, ARG_GROUP,
          "meta l4proto { 1, 58 }" T_LOG("icmp") "reject with icmpx admin-prohibited",
          "[" J_MATCH("==", J_META("l4proto"), "{\"set\":[\"icmp\",\"ipv6-icmp\"]}") ","
          J_COUNTER "," J_LOG("icmp") "," J_REJECT_ICMPX("admin-prohibited") "]" },
        { "filter_out", WHEN_ALWAYS, ARG_GROUP,
          T_LOG("other") "reject with icmpx admin-prohibited",
          "[" J_COUNTER "," J_LOG("other") "," J_REJECT_ICMPX("admin-prohibited") "]" },
};

struct fence_chain {
        const char *name, *type;
        int prio;
        const char *policy;
};

/* The drop policy is a backstop only: the last rule rejects whatever is left. */
static const struct fence_chain fence_chains[] = {
        { "nat_out", "nat", -100, "accept" },
        { "filter_out", "filter", 0, "drop" },
};

static bool rule_applies(const struct fence_rule *rule, const struct nft_fence *f) {
        return rule->when == WHEN_ALWAYS || (rule->when == WHEN_IPV6) == f->ipv6;
}

static unsigned rule_arg(const struct fence_rule *rule, const struct nft_fence *f) {
        switch (rule->arg) {
        case ARG_DNS: return f->dns_port;
        case ARG_RELAY: return f->relay_port;
        case ARG_GROUP: return f->log_group;
        case ARG_NONE: break;
        }
        return 0;
}

/* Appends tmpl with every '@' replaced by v. -ENOBUFS if it does not fit. */
static int append(char *buf, size_t size, size_t *len, const char *tmpl, unsigned v) {
        for (const char *p = tmpl; *p; p++) {
                int n;

                if (*p == '@')
                        n = snprintf(buf + *len, size - *len, "%u", v);
                else
                        n = snprintf(buf + *len, size - *len, "%c", *p);
                if (n < 0 || (size_t) n >= size - *len)
                        return -ENOBUFS;
                *len += (size_t) n;
        }
        return 0;
}

/* One buffer, so one netlink batch: the kernel applies all of it or none. No "delete table"
 * first: the netns is the sandbox's own and new, and a deletion in the transaction leaves
 * nf_tables cleanup pending for an RCU grace period, which the close of every netfilter
 * netlink socket then waits for (~3-10 ms of every start, measured). A table that did
 * exist would get the rules twice, and the read-back refuses that. */
static int fence_render(const struct nft_fence *f, char *buf, size_t size) {
        size_t len = 0;
        int r;

        buf[0] = 0;
        r = append(buf, size, &len, "table inet " NFT_FENCE_TABLE " {\n", 0);
        for (size_t c = 0; r >= 0 && c < ELEMENTSOF(fence_chains); c++) {
                char head[160];

                (void) snprintf(head, sizeof head,
                                "\tchain %s {\n\t\ttype %s hook output priority %d; policy %s;\n",
                                fence_chains[c].name, fence_chains[c].type, fence_chains[c].prio,
                                fence_chains[c].policy);
                r = append(buf, size, &len, head, 0);
                for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fence_rules); i++) {
                        const struct fence_rule *rule = &fence_rules[i];

                        if (!streq(rule->chain, fence_chains[c].name) || !rule_applies(rule, f))
                                continue;
                        r = append(buf, size, &len, "\t\t", 0);
                        if (r >= 0)
                                r = append(buf, size, &len, rule->text, rule_arg(rule, f));
                        if (r >= 0)
                                r = append(buf, size, &len, "\n", 0);
                }
                if (r >= 0)
                        r = append(buf, size, &len, "\t}\n", 0);
        }
        if (r >= 0)
                r = append(buf, size, &len, "}\n", 0);
        return r;
}

/* ---- verify --------------------------------------------------------------------------- */

static void json_putp(json_object **p) {
        if (*p)
                (void) json_object_put(*p);
}

static const char *jstr(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* Only the listed keys may be present: a key this code does not know (table flags such as
 * "dormant", a chain's "dev", a rule's "comment") may change what the object does. */
static const char *extra_key(json_object *o, const char *const *known) {
        json_object_object_foreach(o, key, val) {
                bool ok = false;

                (void) val;
                for (const char *const *k = known; *k; k++)
                        if (streq(key, *k))
                                ok = true;
                if (!ok)
                        return key;
        }
        return NULL;
}

/* Counters are the one part of a rule that changes by itself: zero them. */
static void zero_counters(json_object *expr) {
        size_t n = json_object_array_length(expr);

        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(expr, i), *c;

                if (json_object_is_type(e, json_type_object) &&
                    json_object_object_get_ex(e, "counter", &c) &&
                    json_object_is_type(c, json_type_object)) {
                        json_object *p, *b;

                        if (json_object_object_get_ex(c, "packets", &p) &&
                            json_object_is_type(p, json_type_int))
                                (void) json_object_set_int64(p, 0);
                        if (json_object_object_get_ex(c, "bytes", &b) &&
                            json_object_is_type(b, json_type_int))
                                (void) json_object_set_int64(b, 0);
                }
        }
}

/* The first differing expression of a rule, for the message. */
static void describe_diff(json_object *want, json_object *got, char *buf, size_t size) {
        size_t nw = json_object_array_length(want), ng = json_object_array_length(got);

        for (size_t i = 0; i < nw || i < ng; i++) {
                json_object *w = i < nw ? json_object_array_get_idx(want, i) : NULL;
                json_object *g = i < ng ? json_object_array_get_idx(got, i) : NULL;

                if (w && g && json_object_equal(w, g))
                        continue;
                (void) snprintf(buf, size, "expression %zu: expected %.70s, found %.70s", i + 1,
                                w ? json_object_to_json_string_ext(w, JSON_C_TO_STRING_PLAIN)
                                  : "nothing",
                                g ? json_object_to_json_string_ext(g, JSON_C_TO_STRING_PLAIN)
                                  : "nothing");
                return;
        }
        (void) snprintf(buf, size, "no difference found");
}

static int check_chain(json_object *c, bool seen[], struct caisson_error *err) {
        static const char *const keys[] = { "family", "table", "name", "handle", "type",
                                            "hook",   "prio",  "policy", NULL };
        const char *name = jstr(c, "name"), *extra;
        json_object *prio;

        for (size_t i = 0; i < ELEMENTSOF(fence_chains); i++) {
                const struct fence_chain *want = &fence_chains[i];

                if (!name || !streq(name, want->name))
                        continue;
                if (seen[i])
                        return NFT_MISMATCH(err, "the fence read back differs: chain '%s' twice",
                                            name);
                seen[i] = true;
                extra = extra_key(c, keys);
                if (extra)
                        return NFT_MISMATCH(err, "the fence read back differs: chain '%s' has "
                                            "'%s'", name, extra);
                if (!jstr(c, "type") || !streq(jstr(c, "type"), want->type) ||
                    !jstr(c, "hook") || !streq(jstr(c, "hook"), "output") ||
                    !json_object_object_get_ex(c, "prio", &prio) ||
                    !json_object_is_type(prio, json_type_int) ||
                    json_object_get_int64(prio) != want->prio || !jstr(c, "policy") ||
                    !streq(jstr(c, "policy"), want->policy))
                        return NFT_MISMATCH(err, "the fence read back differs: chain '%s' is "
                                            "not 'type %s hook output priority %d; policy %s'",
                                            name, want->type, want->prio, want->policy);
                return 0;
        }
        return NFT_MISMATCH(err, "the fence read back differs: unexpected chain '%.64s'",
                            name ?: "?");
}

/* The next expected rule of chain after index *pos (advanced), or NULL when there is none. */
static const struct fence_rule *next_rule(const char *chain, const struct nft_fence *f,
                                          size_t *pos) {
        for (; *pos < ELEMENTSOF(fence_rules); (*pos)++) {
                const struct fence_rule *rule = &fence_rules[*pos];

                if (streq(rule->chain, chain) && rule_applies(rule, f)) {
                        (*pos)++;
                        return rule;
                }
        }
        return NULL;
}

static int check_rule(json_object *o, const struct nft_fence *f, size_t cursor[],
                      unsigned count[], struct caisson_error *err) {
        static const char *const keys[] = { "family", "table", "chain", "handle", "expr", NULL };
        _cleanup_(json_putp) json_object *want = NULL;
        const char *chain = jstr(o, "chain"), *extra;
        const struct fence_rule *rule = NULL;
        json_object *expr;
        char text[2048], diff[200];
        size_t len = 0;
        size_t c;

        for (c = 0; c < ELEMENTSOF(fence_chains); c++)
                if (chain && streq(chain, fence_chains[c].name))
                        break;
        if (c == ELEMENTSOF(fence_chains))
                return NFT_MISMATCH(err, "the fence read back differs: a rule in chain '%.64s'",
                                    chain ?: "?");
        count[c]++;
        extra = extra_key(o, keys);
        if (extra)
                return NFT_MISMATCH(err, "the fence read back differs: chain '%s' rule %u has "
                                    "'%s'", chain, count[c], extra);
        rule = next_rule(chain, f, &cursor[c]);
        if (!rule)
                return NFT_MISMATCH(err, "the fence read back differs: chain '%s' has an extra "
                                    "rule %u", chain, count[c]);
        if (append(text, sizeof text, &len, rule->json, rule_arg(rule, f)) < 0)
                return NFT_MISMATCH(err, "expected rule too long"); /* cannot happen */
        want = json_tokener_parse(text);
        if (!want)
                return NFT_MISMATCH(err, "expected rule %u of '%s' is not JSON", count[c], chain);
        if (!json_object_object_get_ex(o, "expr", &expr) ||
            !json_object_is_type(expr, json_type_array))
                return NFT_MISMATCH(err, "the fence read back differs: chain '%s' rule %u has no "
                                    "expressions", chain, count[c]);
        zero_counters(expr);
        if (!json_object_equal(want, expr)) {
                describe_diff(want, expr, diff, sizeof diff);
                return NFT_MISMATCH(err, "the fence read back differs: chain '%s' rule %u: %s",
                                    chain, count[c], diff);
        }
        return 0;
}

/* Compares the listing (`list ruleset`, JSON) with what f describes: one table, inet
 * caisson, without flags, its chains with their type/hook/priority/policy, every expected
 * rule in order with exactly its expressions, and nothing else (no other table of any
 * family, no other chain, rule, set or object). */
static int fence_compare(const char *listing, const struct nft_fence *f,
                         struct caisson_error *err) {
        _cleanup_(json_putp) json_object *root = NULL;
        json_object *items;
        bool seen_chain[ELEMENTSOF(fence_chains)] = { false };
        size_t cursor[ELEMENTSOF(fence_chains)] = { 0 };
        unsigned count[ELEMENTSOF(fence_chains)] = { 0 };
        unsigned tables = 0;
        size_t n;
        int r;

        root = json_tokener_parse(listing);
        if (!root || !json_object_object_get_ex(root, "nftables", &items) ||
            !json_object_is_type(items, json_type_array))
                return NFT_MISMATCH(err, "the fence read back is not the JSON libnftables writes");
        n = json_object_array_length(items);
        for (size_t i = 0; i < n; i++) {
                json_object *item = json_object_array_get_idx(items, i), *o = NULL;
                const char *kind = NULL;

                if (!json_object_is_type(item, json_type_object) ||
                    json_object_object_length(item) != 1)
                        return NFT_MISMATCH(err, "the fence read back has a malformed item");
                json_object_object_foreach(item, k, v) {
                        kind = k;
                        o = v;
                }
                if (streq(kind, "metainfo"))
                        continue;
                if (!json_object_is_type(o, json_type_object))
                        return NFT_MISMATCH(err, "the fence read back has a malformed '%.32s'",
                                            kind);
                /* The whole ruleset is listed: a table of any other name or family is part
                 * of what the sandbox's packets meet (a route chain rewriting loopback
                 * traffic, an earlier nat chain, a chain at another hook). The netns is the
                 * sandbox's own and new: anything but the fence is refused. */
                if (!streq(kind, "table") &&
                    (!jstr(o, "table") || !streq(jstr(o, "table"), NFT_FENCE_TABLE) ||
                     !jstr(o, "family") || !streq(jstr(o, "family"), "inet")))
                        return NFT_MISMATCH(err, "the fence read back differs: a '%.32s' of "
                                            "table '%.16s %.64s' in the sandbox netns", kind,
                                            jstr(o, "family") ?: "?", jstr(o, "table") ?: "?");
                if (streq(kind, "table")) {
                        static const char *const keys[] = { "family", "name", "handle", NULL };
                        const char *extra;

                        if (!jstr(o, "name") || !streq(jstr(o, "name"), NFT_FENCE_TABLE) ||
                            !jstr(o, "family") || !streq(jstr(o, "family"), "inet"))
                                return NFT_MISMATCH(err, "the fence read back differs: another "
                                                    "table in the sandbox netns, '%.16s %.64s'",
                                                    jstr(o, "family") ?: "?",
                                                    jstr(o, "name") ?: "?");
                        extra = extra_key(o, keys);
                        if (extra)
                                return NFT_MISMATCH(err, "the fence read back differs: the table "
                                                    "has '%s'", extra);
                        tables++;
                } else if (streq(kind, "chain")) {
                        r = check_chain(o, seen_chain, err);
                        if (r < 0)
                                return r;
                } else if (streq(kind, "rule")) {
                        r = check_rule(o, f, cursor, count, err);
                        if (r < 0)
                                return r;
                } else
                        return NFT_MISMATCH(err, "the fence read back differs: unexpected "
                                            "'%.32s' in the table", kind);
        }
        if (tables != 1)
                return NFT_MISMATCH(err, "the fence read back differs: %u tables", tables);
        for (size_t c = 0; c < ELEMENTSOF(fence_chains); c++) {
                if (!seen_chain[c])
                        return NFT_MISMATCH(err, "the fence read back differs: no chain '%s'",
                                            fence_chains[c].name);
                if (next_rule(fence_chains[c].name, f, &cursor[c]))
                        return NFT_MISMATCH(err, "the fence read back differs: chain '%s' has "
                                            "only %u rules, fewer than expected",
                                            fence_chains[c].name, count[c]);
        }
        return 0;
}

static int fence_check(const struct nft_fence *f, struct caisson_error *err) {
        if (f->dns_port == 0 || f->relay_port == 0 || f->dns_port == f->relay_port)
                return NFT_FAIL(err, EINVAL, "fence ports: dns %u, relay %u", f->dns_port,
                                f->relay_port);
        return 0;
}

/* ---- the read-back's fast path --------------------------------------------------------- */

/* The raw render (nft-raw.h) of the last fence that passed the structural check on this
 * kernel, one file per fence variant. A fence whose render equals it holds the same table,
 * chains, sets, elements and rules, attribute for attribute: it passed that check too. */
#define NFT_KNOWN_DIR "/run/caisson"

static __thread bool last_fast;

bool nft_fence_verified_by_render(void) {
        return last_fast;
}

static void known_path(const struct nft_fence *f, char *path, size_t size) {
        (void) snprintf(path, size, NFT_KNOWN_DIR "/.nft-fence-%s-g%u",
                        f->ipv6 ? "6" : "4", f->log_group);
}

/* The header binds the render to this kernel: the same attributes mean the same to it. */
static void known_header(char *buf, size_t size) {
        struct utsname u;

        if (uname(&u) < 0)
                (void) snprintf(u.release, sizeof u.release, "unknown");
        /* v2: only a ruleset holding nothing but the fence passes the structural check; a
         * v1 file may be the render of one with other tables in it. */
        (void) snprintf(buf, size, "caisson nft fence render v2 kernel %.100s\n", u.release);
}

static bool known_matches(const struct nft_fence *f, const char *text, size_t tl) {
        char path[128], head[160];
        _cleanup_close_ int fd = -1;
        struct stat st;
        size_t hl;
        char *buf;
        bool ok = false;

        known_path(f, path, sizeof path);
        known_header(head, sizeof head);
        hl = strlen(head);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        /* Only root's own file, writable by root alone, and of the size expected. */
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
            (st.st_mode & 022) || (size_t) st.st_size != hl + tl)
                return false;
        buf = malloc(hl + tl);
        if (buf && read(fd, buf, hl + tl) == (ssize_t) (hl + tl))
                ok = memcmp(buf, head, hl) == 0 && memcmp(buf + hl, text, tl) == 0;
        free(buf);
        return ok;
}

static void known_store(const struct nft_fence *f, const char *text, size_t tl) {
        char path[128], tmp[160], head[160];
        int fd;
        bool ok;

        known_path(f, path, sizeof path);
        known_header(head, sizeof head);
        (void) snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return;         /* no state directory (yet): the next run checks the long way */
        ok = write(fd, head, strlen(head)) == (ssize_t) strlen(head) &&
             write(fd, text, tl) == (ssize_t) tl;
        ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp, path) < 0)
                (void) unlink(tmp);
}

/* The render of what the kernel holds now, or -errno. *text is malloc'd. */
static int raw_render(int *raw_fd, const struct nft_fence *f, char **text) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len;
        int r;

        *text = NULL;
        if (*raw_fd < 0)
                *raw_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (*raw_fd < 0)
                return -errno;
        r = nft_raw_dump(*raw_fd, &buf, &len);
        if (r < 0)
                return r;
        *text = malloc(NFT_RAW_MAX_TEXT);
        if (!*text)
                return -ENOMEM;
        r = nft_raw_render(buf, len, f->relay_port, *text, NFT_RAW_MAX_TEXT);
        if (r <= 0) {
                free(*text);
                *text = NULL;
                return r < 0 ? r : -EBADMSG;
        }
        return r;
}

/* The read-back. Fast: the kernel's ruleset, read over raw nfnetlink, is byte for byte the
 * one that passed the structural check before (on this kernel). Else the structural check:
 * libnftables lists the whole ruleset as JSON, which must be the fence's table alone, and
 * every chain and rule is compared (and, passing, its render is remembered: so only a
 * ruleset holding the fence alone is ever remembered). *raw_fd is the raw socket, kept by
 * the caller: closing a netfilter socket may wait for nf_tables' cleanup, never on the way
 * to the agent's start. */
static int verify_with(struct nft_ctx *ctx, const struct nft_fence *f, int *raw_fd,
                       struct caisson_error *err) {
        _cleanup_free_ char *text = NULL;
        char line[160];
        const char *out;
        int tl, r;

        last_fast = false;
        tl = raw_render(raw_fd, f, &text);
        if (tl > 0 && known_matches(f, text, (size_t) tl)) {
                last_fast = true;
                return 0;
        }
        lib.output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
        if (lib.run_cmd_from_buffer(ctx, "list ruleset\n") != 0)
                return NFT_MISMATCH(err, "cannot list the fence back: %s",
                                    first_error_line(ctx, line, sizeof line));
        out = lib.get_output_buffer(ctx);
        r = fence_compare(out ?: "", f, err);
        if (r == 0 && tl > 0)
                known_store(f, text, (size_t) tl);
        return r;
}

int nft_fence_verify(const struct nft_fence *f, struct caisson_error *err) {
        _cleanup_(nft_ctx_freep) struct nft_ctx *ctx = NULL;
        _cleanup_close_ int raw_fd = -1;
        int r;

        r = fence_check(f, err);
        if (r < 0)
                return r;
        r = ctx_open(&ctx, err);
        if (r < 0)
                return r;
        return verify_with(ctx, f, &raw_fd, err);
}

int nft_fence_install(const struct nft_fence *f, struct caisson_error *err) {
        return nft_fence_install_keep(f, NULL, err);
}

/* What nft_fence_install_keep() hands back: the fence's libnftables context and the raw
 * socket of its read-back, both released at teardown. */
struct fence_kept {
        struct nft_ctx *ctx;
        int raw_fd;
};

void nft_ctx_release(void *kept) {
        struct fence_kept *k = kept;

        if (!k)
                return;
        nft_ctx_freep(&k->ctx);
        safe_close(k->raw_fd);
        free(k);
}

int nft_log_kind_from_string(const char *s) {
        static const char *const names[_NFT_LOG_KIND_MAX] = {
                [NFT_LOG_IPV6] = "ipv6", [NFT_LOG_TCP] = "tcp",     [NFT_LOG_UDP] = "udp",
                [NFT_LOG_ICMP] = "icmp", [NFT_LOG_OTHER] = "other",
        };

        for (int k = 0; s && k < _NFT_LOG_KIND_MAX; k++)
                if (streq(s, names[k]))
                        return k;
        return -1;
}

static void add_reject_count(const char *prefix, uint64_t packets, void *userdata) {
        uint64_t *counts = userdata;
        int kind;

        if (strncmp(prefix, "caisson-", STRLEN("caisson-")) != 0)
                return;
        kind = nft_log_kind_from_string(prefix + STRLEN("caisson-"));
        if (kind >= 0)
                counts[kind] += packets;
}

int nft_fence_reject_counts(void *kept, uint64_t ret[_NFT_LOG_KIND_MAX]) {
        struct fence_kept *k = kept;
        _cleanup_free_ uint8_t *buf = NULL;
        uint64_t counts[_NFT_LOG_KIND_MAX] = { 0 };
        size_t len;
        int r;

        /* Over the read-back's raw socket, not libnftables: a listing through libnftables
         * (its cache, then JSON) took 1-2 ms of every teardown; the rules alone, ~0.1. */
        if (!k || k->raw_fd < 0)
                return -EBADF;
        r = nft_raw_dump_rules(k->raw_fd, &buf, &len);
        if (r < 0)
                return r;
        r = nft_raw_rule_counters(buf, len, NFT_FENCE_TABLE, "filter_out", add_reject_count,
                                  counts);
        if (r < 0)
                return r;
        memcpy(ret, counts, sizeof counts);
        return 0;
}

int nft_fence_install_keep(const struct nft_fence *f, void **ret_ctx, struct caisson_error *err) {
        _cleanup_(nft_ctx_freep) struct nft_ctx *ctx = NULL;
        _cleanup_close_ int raw_fd = -1;
        char text[4096], line[160];
        int r;

        r = fence_check(f, err);
        if (r < 0)
                return r;
        if (fence_render(f, text, sizeof text) < 0)
                return NFT_FAIL(err, ENOBUFS, "the fence does not fit its buffer");
        r = ctx_open(&ctx, err);
        if (r < 0)
                return r;
        /* Text in, so no JSON flag here (with it, 1.0.6 first tries to parse input as JSON). */
        lib.output_set_flags(ctx, 0);
        if (lib.run_cmd_from_buffer(ctx, text) != 0)
                return NFT_FAIL(err, 0, "cannot load the fence: %s",
                                first_error_line(ctx, line, sizeof line));
        r = verify_with(ctx, f, &raw_fd, err);
        if (r >= 0 && ret_ctx) {
                struct fence_kept *k = malloc(sizeof *k);

                if (!k)
                        return NFT_FAIL(err, ENOMEM, "cannot keep the fence's context");
                *k = (struct fence_kept) { .ctx = TAKE_PTR(ctx), .raw_fd = TAKE_FD(raw_fd) };
                *ret_ctx = k;
        }
        return r;
}

/* ---- NFLOG ---------------------------------------------------------------------------- */

/* 128 bytes of each rejected packet: the IPv6 header, a few extension headers and the ports.
 * Nothing beyond the headers is wanted (the payload could be a secret being exfiltrated). */
#define NFLOG_COPY_RANGE 128
/* Every packet at once, not batched: a rejected packet that is the agent's last act must
 * still be in the socket when the supervisor drains it at exit (a batch waited up to
 * 100 ms in the kernel and was lost). */
#define NFLOG_QTHRESH 1
#define NFLOG_TIMEOUT_CS 10

int nft_log_open(uint16_t group) {
        _cleanup_close_ int fd = -1;
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
        uint8_t buf[256] __attribute__((aligned(4))) = { 0 };
        struct nlmsghdr *nlh = (struct nlmsghdr *) buf;
        struct nfgenmsg *g;
        struct nfulnl_msg_config_cmd cmd = { .command = NFULNL_CFG_CMD_BIND };
        struct nfulnl_msg_config_mode mode = { .copy_range = htonl(NFLOG_COPY_RANGE),
                                               .copy_mode = NFULNL_COPY_PACKET };
        uint32_t qthresh = htonl(NFLOG_QTHRESH), timeout = htonl(NFLOG_TIMEOUT_CS);
        size_t len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof *g);
        struct pollfd pfd;
        ssize_t n;

        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
        if (fd < 0)
                return -errno;
        /* Every rejected packet is a message here, and an agent can reject tens of thousands
         * a second: with the default buffer (~200 KiB) a burst overran it while the egress
         * thread was busy and the kernel dropped the rest (ENOBUFS), a quarter of 20,000
         * UDP datagrams. A few MiB absorb such bursts; the memory is only used while
         * messages wait. SO_RCVBUFFORCE passes net.core.rmem_max (CAP_NET_ADMIN); without
         * it, SO_RCVBUF gets as near as rmem_max allows. What is still lost is counted
         * (nft_log_read, nft_fence_reject_counts). */
        {
                int size = (int) NFT_LOG_RCVBUF;

                if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
                        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        }
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;

        /* One config message: the kernel binds first, then applies the mode, the queue
         * threshold and the flush timeout to the new instance. */
        nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = 1;
        g = (struct nfgenmsg *) (buf + NLMSG_HDRLEN);
        g->nfgen_family = AF_UNSPEC;
        g->version = NFNETLINK_V0;
        g->res_id = htons(group);
        nlattr_put(buf, &len, NFULA_CFG_CMD, &cmd, sizeof cmd);
        nlattr_put(buf, &len, NFULA_CFG_MODE, &mode, sizeof mode);
        nlattr_put(buf, &len, NFULA_CFG_QTHRESH, &qthresh, sizeof qthresh);
        nlattr_put(buf, &len, NFULA_CFG_TIMEOUT, &timeout, sizeof timeout);
        nlh->nlmsg_len = (uint32_t) len;
        if (send(fd, buf, len, 0) != (ssize_t) len)
                return -errno;

        /* The ack (or -EBUSY when another socket has the group). Packets cannot arrive before
         * it: the instance exists only once the command has been handled. */
        pfd = (struct pollfd) { .fd = fd, .events = POLLIN };
        for (;;) {
                n = poll(&pfd, 1, 2000);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -ETIMEDOUT;
                n = recv(fd, buf, sizeof buf, 0);
                if (n < 0)
                        return -errno;
                if ((size_t) n < NLMSG_HDRLEN + sizeof(struct nlmsgerr) ||
                    nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_seq != 1)
                        continue;
                {
                        const struct nlmsgerr *e = (const struct nlmsgerr *) NLMSG_DATA(nlh);

                        if (e->error != 0)
                                return e->error < 0 ? e->error : -EPROTO;
                }
                break;
        }
        return TAKE_FD(fd);
}

static uint16_t get_be16(const uint8_t *p) {
        return (uint16_t) (p[0] << 8 | p[1]);
}

/* The network header of a logged packet: addresses, protocol, ports. 0 or -EBADMSG. */
static int parse_ip(const uint8_t *pkt, size_t len, struct nft_log_packet *p) {
        size_t off;
        uint8_t next;

        if (len < 1)
                return -EBADMSG;
        if (pkt[0] >> 4 == 4) {
                size_t ihl;

                if (len < 20)
                        return -EBADMSG;
                ihl = (size_t) (pkt[0] & 0x0f) * 4;
                if (ihl < 20 || ihl > len)
                        return -EBADMSG;
                p->family = AF_INET;
                p->proto = pkt[9];
                memcpy(p->saddr, pkt + 12, 4);
                memcpy(p->daddr, pkt + 16, 4);
                /* A later fragment has no transport header. */
                if ((get_be16(pkt + 6) & 0x1fff) != 0)
                        return 0;
                off = ihl;
        } else if (pkt[0] >> 4 == 6) {
                if (len < 40)
                        return -EBADMSG;
                p->family = AF_INET6;
                memcpy(p->saddr, pkt + 8, 16);
                memcpy(p->daddr, pkt + 24, 16);
                next = pkt[6];
                off = 40;
                /* Walk the extension headers, a bounded number of them. */
                for (int i = 0; i < 8; i++) {
                        if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING ||
                            next == IPPROTO_DSTOPTS) {
                                if (len - off < 2)
                                        break;
                                next = pkt[off];
                                off += ((size_t) pkt[off + 1] + 1) * 8;
                        } else if (next == IPPROTO_FRAGMENT) {
                                if (len - off < 8)
                                        break;
                                if ((get_be16(pkt + off + 2) & 0xfff8) != 0) {
                                        p->proto = pkt[off];
                                        return 0;
                                }
                                next = pkt[off];
                                off += 8;
                        } else if (next == IPPROTO_AH) {
                                if (len - off < 2)
                                        break;
                                next = pkt[off];
                                off += ((size_t) pkt[off + 1] + 2) * 4;
                        } else
                                break;
                        if (off > len)
                                break;
                }
                p->proto = next;
                if (off > len)
                        return 0;
        } else
                return -EBADMSG;

        if ((p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP || p->proto == IPPROTO_SCTP ||
             p->proto == IPPROTO_UDPLITE || p->proto == IPPROTO_DCCP) &&
            len - off >= 4) {
                p->sport = get_be16(pkt + off);
                p->dport = get_be16(pkt + off + 2);
        }
        return 0;
}

int nft_log_parse(const uint8_t *buf, size_t len,
                  void (*fn)(const struct nft_log_packet *p, void *userdata), void *userdata) {
        int count = 0;

        while (len >= NLMSG_HDRLEN) {
                struct nlmsghdr h;
                size_t mlen, off, step;

                memcpy(&h, buf, sizeof h); /* buf need not be aligned */
                mlen = h.nlmsg_len;
                if (mlen < NLMSG_HDRLEN || mlen > len)
                        break;
                step = NLMSG_ALIGN(mlen) < len ? NLMSG_ALIGN(mlen) : len;
                if (h.nlmsg_type == ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET) &&
                    mlen >= NLMSG_HDRLEN + sizeof(struct nfgenmsg)) {
                        struct nft_log_packet p = { 0 };
                        const uint8_t *payload = NULL;
                        size_t payload_len = 0;

                        off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
                        while (off + NLA_HDRLEN <= mlen) {
                                struct nlattr a;
                                size_t alen;

                                memcpy(&a, buf + off, sizeof a);
                                alen = a.nla_len;
                                if (alen < NLA_HDRLEN || alen > mlen - off)
                                        break;
                                switch (a.nla_type & NLA_TYPE_MASK) {
                                case NFULA_PAYLOAD:
                                        payload = buf + off + NLA_HDRLEN;
                                        payload_len = alen - NLA_HDRLEN;
                                        break;
                                case NFULA_PREFIX: {
                                        const char *s = (const char *) buf + off + NLA_HDRLEN;
                                        size_t sl = strnlen(s, alen - NLA_HDRLEN);

                                        /* "caisson-<kind>": keep the kind if it is plain. */
                                        if (sl > STRLEN("caisson-") &&
                                            strncmp(s, "caisson-", STRLEN("caisson-")) == 0 &&
                                            sl - STRLEN("caisson-") < sizeof p.kind) {
                                                size_t k = sl - STRLEN("caisson-");
                                                bool plain = true;

                                                for (size_t j = 0; j < k; j++) {
                                                        char ch = s[STRLEN("caisson-") + j];

                                                        if (!(ch >= 'a' && ch <= 'z') &&
                                                            !(ch >= '0' && ch <= '9'))
                                                                plain = false;
                                                }
                                                if (plain) {
                                                        memcpy(p.kind, s + STRLEN("caisson-"), k);
                                                        p.kind[k] = 0;
                                                }
                                        }
                                        break;
                                }
                                default:
                                        break;
                                }
                                off += NLA_ALIGN(alen);
                        }
                        if (payload && parse_ip(payload, payload_len, &p) == 0) {
                                fn(&p, userdata);
                                count++;
                        }
                }
                buf += step;
                len -= step;
        }
        return count;
}

int nft_log_read(int fd, void (*fn)(const struct nft_log_packet *p, void *userdata),
                 void *userdata, unsigned *overruns) {
        uint8_t buf[16384] __attribute__((aligned(8)));

        /* A bounded number of datagrams per call: the caller's loop comes back while the
         * socket stays readable, and a flood cannot starve its other sockets. */
        for (int i = 0; i < 64; i++) {
                struct sockaddr_nl sa;
                socklen_t salen = sizeof sa;
                ssize_t n;

                n = recvfrom(fd, buf, sizeof buf, MSG_TRUNC, (struct sockaddr *) &sa, &salen);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        /* The kernel dropped messages (the buffer was full): the caller
                         * counts the loss, and the reject rules' counters say how many. */
                        if (errno == ENOBUFS) {
                                if (overruns)
                                        (*overruns)++;
                                continue;
                        }
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                /* Only the kernel (port 0) speaks nfnetlink_log; a truncated datagram is
                 * skipped rather than parsed in part. */
                if (salen < sizeof sa || sa.nl_family != AF_NETLINK || sa.nl_pid != 0 ||
                    (size_t) n > sizeof buf)
                        continue;
                (void) nft_log_parse(buf, (size_t) n, fn, userdata);
        }
        return 1;
}
