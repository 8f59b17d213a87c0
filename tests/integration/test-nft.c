/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The nft fence (src/egress/nft.c) in a network namespace of each test's own: criterion runs
 * every test in a process of its own, which unshares its netns, so the namespace goes away
 * with it and nothing on the host changes (checked: the host's `nft list tables` is the same
 * before and after).
 *
 * Each rule is proved with a real packet and carries its positive control: the test first
 * gives lo the documentation addresses it probes (192.0.2.1, 198.51.100.7, 2001:db8::1) with
 * a listener on each, shows the probe reaching that listener without the fence, then loads
 * the fence and shows the same probe redirected or rejected at once, and logged. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/native/native.h"
#include "caisson/reasons.h"
#include "egress/nft.h"
#include "harness.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80 /* <linux/netfilter_ipv4.h> */
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80 /* <linux/netfilter_ipv6/ip6_tables.h> */
#endif

#define DNS_PORT 53
#define RELAY_PORT 15001
#define LOG_GROUP 17

static int host_netns = -1;
static char *host_tables;

/* `nft list tables` of the netns this process is in; forking nft only to look. */
static char *list_tables(void) {
        struct h_result r;
        char *out;

        h_run((const char *const[]) { "/usr/sbin/nft", "list", "tables", NULL }, NULL, &r);
        cr_assert_eq(r.code, 0, "nft list tables: %s", r.err);
        out = strdup(r.out);
        h_result_done(&r);
        return out;
}

static void lo_up(void) {
        struct ifreq ifr = { 0 };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        cr_assert_geq(fd, 0);
        strcpy(ifr.ifr_name, "lo");
        cr_assert_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
        ifr.ifr_flags |= IFF_UP;
        cr_assert_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
        close(fd);
}

/* The test's own netns, holding only lo (up). */
static void enter_netns(void) {
        h_require_root();
        host_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        cr_assert_geq(host_netns, 0);
        host_tables = list_tables();
        cr_assert_null(strstr(host_tables, "table inet " NFT_FENCE_TABLE "\n"),
                       "the host already has a table inet caisson:\n%s", host_tables);
        cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
        lo_up();
}

/* The host's tables are what they were: everything happened in the test's netns. */
static void host_unchanged(void) {
        char *now;

        cr_assert_eq(setns(host_netns, CLONE_NEWNET), 0, "back to the host netns: %s",
                     strerror(errno));
        now = list_tables();
        cr_expect_str_eq(now, host_tables, "the host's nft tables changed");
        free(now);
}

TestSuite(nft, .init = enter_netns, .timeout = 60);

static socklen_t sockaddr_of(int family, const char *addr, uint16_t port,
                             struct sockaddr_storage *ss);
static bool readable(int fd, int ms);

/* A documentation address on lo, so a listener can stand for "a host out there" in the
 * positive controls. */
static void add_addr(int family, const char *addr) {
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_addr *a = rtnl_addr_alloc();
        struct nl_addr *local = NULL;
        int r;

        cr_assert(sk && a);
        cr_assert_eq(nl_connect(sk, NETLINK_ROUTE), 0);
        cr_assert_eq(nl_addr_parse(addr, family, &local), 0);
        nl_addr_set_prefixlen(local, family == AF_INET ? 32 : 128);
        rtnl_addr_set_ifindex(a, (int) if_nametoindex("lo"));
        rtnl_addr_set_local(a, local);
        rtnl_addr_set_flags(a, IFA_F_NODAD);
        r = rtnl_addr_add(sk, a, 0);
        cr_assert_eq(r, 0, "add %s to lo: %s", addr, nl_geterror(r));
        nl_addr_put(local);
        rtnl_addr_put(a);
        nl_socket_free(sk);

        /* IPv6 inserts the address's local route from a work queue, even without DAD (its
         * prefix route comes first, so a route lookup alone succeeds too early): wait until
         * a datagram to it is delivered locally. */
        for (int i = 0; i < 200; i++) {
                struct sockaddr_storage ss;
                socklen_t len = sockaddr_of(family, addr, 0, &ss);
                int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                bool ok;

                cr_assert_geq(fd, 0);
                ok = bind(fd, (struct sockaddr *) &ss, len) == 0 &&
                     getsockname(fd, (struct sockaddr *) &ss, &len) == 0 &&
                     connect(fd, (struct sockaddr *) &ss, len) == 0 &&
                     send(fd, "r", 1, 0) == 1 && readable(fd, 10);
                close(fd);
                if (ok)
                        return;
                (void) usleep(10 * 1000);
        }
        cr_assert_fail("%s on lo never became local", addr);
}

static socklen_t sockaddr_of(int family, const char *addr, uint16_t port,
                             struct sockaddr_storage *ss) {
        memset(ss, 0, sizeof *ss);
        if (family == AF_INET) {
                struct sockaddr_in *s = (struct sockaddr_in *) ss;

                s->sin_family = AF_INET;
                s->sin_port = htons(port);
                cr_assert_eq(inet_pton(AF_INET, addr, &s->sin_addr), 1);
                return sizeof *s;
        }
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        cr_assert_eq(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
        return sizeof *s6;
}

static int bound(int family, int type, const char *addr, uint16_t port) {
        struct sockaddr_storage ss;
        socklen_t len = sockaddr_of(family, addr, port, &ss);
        int fd = socket(family, type | SOCK_CLOEXEC, 0), one = 1;

        cr_assert_geq(fd, 0);
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        cr_assert_eq(bind(fd, (struct sockaddr *) &ss, len), 0, "bind %s:%u: %s", addr, port,
                     strerror(errno));
        if (type == SOCK_STREAM)
                cr_assert_eq(listen(fd, 8), 0);
        return fd;
}

/* A client socket connected (TCP: the connect()'s result is returned in *ret_errno). */
static int dial(int family, int type, const char *addr, uint16_t port, int *ret_errno) {
        struct sockaddr_storage ss;
        socklen_t len = sockaddr_of(family, addr, port, &ss);
        int fd = socket(family, type | SOCK_CLOEXEC, 0);
        struct timeval tv = { .tv_sec = 3 };

        cr_assert_geq(fd, 0);
        /* A hang would be a failure too: bound it, so the test says so instead of timing out. */
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        *ret_errno = connect(fd, (struct sockaddr *) &ss, len) < 0 ? errno : 0;
        return fd;
}

static bool readable(int fd, int ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        return poll(&p, 1, ms) == 1;
}

static void install(const struct nft_fence *f) {
        struct caisson_error err = { 0 };
        int r;

        r = nft_route_setup(f->ipv6, &err);
        cr_assert_eq(r, 0, "route: %s (%d)", err.msg, err.errnum);
        r = nft_fence_install(f, &err);
        cr_assert_eq(r, 0, "install: %s (%d)", err.msg, err.errnum);
}

static const struct nft_fence fence4 = { .dns_port = DNS_PORT, .relay_port = RELAY_PORT,
                                         .log_group = LOG_GROUP, .ipv6 = false };
static const struct nft_fence fence6 = { .dns_port = DNS_PORT, .relay_port = RELAY_PORT,
                                         .log_group = LOG_GROUP, .ipv6 = true };

/* ---- NFLOG ---------------------------------------------------------------------------- */

struct logged {
        struct nft_log_packet p[16];
        int n;
};

static void collect(const struct nft_log_packet *p, void *userdata) {
        struct logged *l = userdata;

        if (l->n < 16)
                l->p[l->n++] = *p;
}

/* Waits up to 3 s for a logged packet to daddr:dport with proto; returns it. */
static struct nft_log_packet expect_logged(int fd, int family, uint8_t proto, const char *daddr,
                                           uint16_t dport, const char *kind) {
        uint8_t want[16] = { 0 };
        struct logged l = { .n = 0 };
        double end = h_now() + 3;

        cr_assert_eq(inet_pton(family, daddr, want), 1);
        while (h_now() < end) {
                if (!readable(fd, 100))
                        continue;
                cr_assert_geq(nft_log_read(fd, collect, &l, NULL), 0);
                for (int i = 0; i < l.n; i++) {
                        const struct nft_log_packet *p = &l.p[i];

                        if (p->family == family && p->proto == proto &&
                            memcmp(p->daddr, want, family == AF_INET ? 4 : 16) == 0 &&
                            p->dport == dport) {
                                cr_expect_str_eq(p->kind, kind);
                                return *p;
                        }
                }
        }
        cr_assert_fail("no NFLOG record of proto %u to %s port %u (%d other records)", proto,
                       daddr, dport, l.n);
        return (struct nft_log_packet) { 0 };
}

/* ---- redirects ------------------------------------------------------------------------ */

Test(nft, tcp_to_any_address_lands_on_the_relay) {
        int out, relay, local, e, c, a;
        struct sockaddr_in od, peer;
        socklen_t len = sizeof od, plen = sizeof peer;

        /* Without the fence the address is reached: the listener standing for the host gets
         * the connection, the relay does not. */
        add_addr(AF_INET, "198.51.100.7");
        out = bound(AF_INET, SOCK_STREAM, "198.51.100.7", 443);
        relay = bound(AF_INET, SOCK_STREAM, "127.0.0.1", RELAY_PORT);
        local = bound(AF_INET, SOCK_STREAM, "127.0.0.1", 8080);
        c = dial(AF_INET, SOCK_STREAM, "198.51.100.7", 443, &e);
        cr_assert_eq(e, 0, "control connect: %s", strerror(e));
        cr_assert(readable(out, 1000) && !readable(relay, 0), "control: not the host's listener");
        close(c);
        close(accept4(out, NULL, NULL, SOCK_CLOEXEC));

        install(&fence4);
        c = dial(AF_INET, SOCK_STREAM, "198.51.100.7", 443, &e);
        cr_assert_eq(e, 0, "connect through the fence: %s", strerror(e));
        cr_assert(readable(relay, 1000), "the relay got nothing");
        cr_assert(!readable(out, 0), "the connection reached the address despite the fence");
        a = accept4(relay, NULL, NULL, SOCK_CLOEXEC);
        cr_assert_geq(a, 0);
        cr_assert_eq(getsockopt(a, SOL_IP, SO_ORIGINAL_DST, &od, &len), 0,
                     "SO_ORIGINAL_DST: %s", strerror(errno));
        cr_expect_str_eq(inet_ntoa(od.sin_addr), "198.51.100.7");
        cr_expect_eq(ntohs(od.sin_port), 443);
        /* The client still believes it talks to the address it dialled. */
        cr_assert_eq(getpeername(c, (struct sockaddr *) &peer, &plen), 0);
        cr_expect_str_eq(inet_ntoa(peer.sin_addr), "198.51.100.7");
        close(a);
        close(c);

        /* Loopback is the sandbox's own: not redirected, not rejected. */
        c = dial(AF_INET, SOCK_STREAM, "127.0.0.1", 8080, &e);
        cr_assert_eq(e, 0, "loopback connect: %s", strerror(e));
        cr_assert(readable(local, 1000) && !readable(relay, 0));
        close(c);
        host_unchanged();
}

Test(nft, ipv6_tcp_lands_on_the_relay_when_listed) {
        int relay = bound(AF_INET6, SOCK_STREAM, "::1", RELAY_PORT), e, c, a, gw, log;
        struct sockaddr_in6 od, from;
        socklen_t len = sizeof od, flen = sizeof from;
        char buf[INET6_ADDRSTRLEN];

        install(&fence6);
        c = dial(AF_INET6, SOCK_STREAM, "2001:db8::7", 443, &e);
        cr_assert_eq(e, 0, "connect through the fence: %s", strerror(e));
        cr_assert(readable(relay, 1000), "the relay got nothing");
        a = accept4(relay, NULL, NULL, SOCK_CLOEXEC);
        cr_assert_eq(getsockopt(a, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &od, &len), 0,
                     "IP6T_SO_ORIGINAL_DST: %s", strerror(errno));
        cr_expect_str_eq(inet_ntop(AF_INET6, &od.sin6_addr, buf, sizeof buf), "2001:db8::7");
        cr_expect_eq(ntohs(od.sin6_port), 443);
        close(a);
        close(c);

        /* DNS over IPv6 goes to the gateway's [::1] socket, and the answer comes back from
         * the address asked. */
        gw = bound(AF_INET6, SOCK_DGRAM, "::1", DNS_PORT);
        c = dial(AF_INET6, SOCK_DGRAM, "2001:db8::53", 53, &e);
        cr_assert_eq(send(c, "q", 1, 0), 1);
        cr_assert(readable(gw, 1000), "the gateway got no query");
        cr_assert_eq(recvfrom(gw, buf, sizeof buf, 0, (struct sockaddr *) &from, &flen), 1);
        cr_assert_eq(sendto(gw, "a", 1, 0, (struct sockaddr *) &from, flen), 1);
        flen = sizeof from;
        cr_assert_eq(recvfrom(c, buf, sizeof buf, 0, (struct sockaddr *) &from, &flen), 1,
                     "no answer for the client: %s", strerror(errno));
        cr_expect_str_eq(inet_ntop(AF_INET6, &from.sin6_addr, buf, sizeof buf), "2001:db8::53");
        cr_expect_eq(ntohs(from.sin6_port), 53);
        close(c);

        /* Listed IPv6 still means TCP only: UDP elsewhere is the UDP rule's. */
        log = nft_log_open(LOG_GROUP);
        cr_assert_geq(log, 0);
        c = dial(AF_INET6, SOCK_DGRAM, "2001:db8::1", 9999, &e);
        cr_assert_eq(send(c, "x", 1, 0), -1);
        cr_assert_eq(errno, EPERM, "send: %s", strerror(errno));
        (void) expect_logged(log, AF_INET6, IPPROTO_UDP, "2001:db8::1", 9999, "udp");
        close(c);
        close(log);
        host_unchanged();
}

Test(nft, dns_to_any_address_lands_on_the_gateway) {
        int out, e, c, gw, gwt, n;
        struct sockaddr_storage from;
        socklen_t flen = sizeof from;
        struct sockaddr_in src;
        socklen_t slen = sizeof src;
        char buf[64];

        add_addr(AF_INET, "192.0.2.1");
        out = bound(AF_INET, SOCK_DGRAM, "192.0.2.1", 53);
        /* Control: without the fence the query reaches the server at that address. */
        c = dial(AF_INET, SOCK_DGRAM, "192.0.2.1", 53, &e);
        cr_assert_eq(send(c, "q0", 2, 0), 2);
        cr_assert(readable(out, 1000), "control: the query did not reach 192.0.2.1");
        close(c);
        (void) recv(out, buf, sizeof buf, 0);

        gw = bound(AF_INET, SOCK_DGRAM, "127.0.0.1", DNS_PORT);
        gwt = bound(AF_INET, SOCK_STREAM, "127.0.0.1", DNS_PORT);
        install(&fence4);
        c = dial(AF_INET, SOCK_DGRAM, "192.0.2.1", 53, &e);
        cr_assert_eq(send(c, "q1", 2, 0), 2);
        cr_assert(readable(gw, 1000), "the gateway got no query");
        cr_assert(!readable(out, 0), "the query reached 192.0.2.1 despite the fence");
        n = (int) recvfrom(gw, buf, sizeof buf, 0, (struct sockaddr *) &from, &flen);
        cr_assert_eq(n, 2);
        /* The reply, un-NATed by conntrack, comes from the address the client asked. */
        cr_assert_eq(sendto(gw, "a1", 2, 0, (struct sockaddr *) &from, flen), 2);
        cr_assert_eq(recvfrom(c, buf, sizeof buf, 0, (struct sockaddr *) &src, &slen), 2,
                     "no answer for the client: %s", strerror(errno));
        cr_expect_str_eq(inet_ntoa(src.sin_addr), "192.0.2.1");
        cr_expect_eq(ntohs(src.sin_port), 53);
        close(c);

        /* DNS over TCP, to another address still. */
        c = dial(AF_INET, SOCK_STREAM, "203.0.113.9", 53, &e);
        cr_assert_eq(e, 0, "TCP DNS connect: %s", strerror(e));
        cr_assert(readable(gwt, 1000), "the gateway's TCP socket got nothing");
        close(c);
        host_unchanged();
}

/* ---- rejects -------------------------------------------------------------------------- */

Test(nft, udp_elsewhere_rejected_at_once_and_logged) {
        int out, e, c, log;
        struct nft_log_packet p;
        struct sockaddr_in me;
        socklen_t mlen = sizeof me;
        double t;
        ssize_t n;

        add_addr(AF_INET, "192.0.2.1");
        out = bound(AF_INET, SOCK_DGRAM, "192.0.2.1", 9999);
        c = dial(AF_INET, SOCK_DGRAM, "192.0.2.1", 9999, &e);
        cr_assert_eq(send(c, "x", 1, 0), 1);
        cr_assert(readable(out, 1000), "control: the datagram did not reach 192.0.2.1");
        cr_assert_eq(recv(out, &(char) { 0 }, 1, 0), 1);
        close(c);

        install(&fence4);
        log = nft_log_open(LOG_GROUP);
        cr_assert_geq(log, 0, "nft_log_open: %s", strerror(-log));
        c = dial(AF_INET, SOCK_DGRAM, "192.0.2.1", 9999, &e);
        cr_assert_eq(getsockname(c, (struct sockaddr *) &me, &mlen), 0);
        t = h_now();
        n = send(c, "x", 1, 0);
        if (n == 1) {
                /* Or the ICMP error arrives as ECONNREFUSED on the connected socket. */
                char b;

                n = recv(c, &b, 1, 0);
                cr_assert_eq(n, -1);
                cr_assert_eq(errno, ECONNREFUSED, "recv: %s", strerror(errno));
        } else
                cr_assert_eq(errno, EPERM, "send: %s", strerror(errno));
        cr_expect_lt(h_now() - t, 0.5, "rejected, but not at once");
        cr_assert(!readable(out, 200), "the datagram reached 192.0.2.1 despite the fence");
        p = expect_logged(log, AF_INET, IPPROTO_UDP, "192.0.2.1", 9999, "udp");
        cr_expect_eq(p.sport, ntohs(me.sin_port), "the client's port, for finding its socket");
        close(c);
        close(log);
        host_unchanged();
}

Test(nft, icmp_rejected_and_logged) {
        int fd, log;
        struct icmphdr echo = { .type = ICMP_ECHO, .un.echo.id = 0, .un.echo.sequence = 1 };
        char buf[128];
        bool ping;
        ssize_t n;

        /* Ping sockets, opened to root in this netns only (the sysctl is per netns). */
        {
                int s = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC);

                cr_assert_geq(s, 0);
                cr_assert_gt(write(s, "0 0", 3), 0);
                close(s);
        }
        add_addr(AF_INET, "192.0.2.1");
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
        ping = fd >= 0;
        if (!ping)
                fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
        cr_assert_geq(fd, 0, "no ICMP socket: %s", strerror(errno));
        {
                struct sockaddr_storage ss;
                socklen_t len = sockaddr_of(AF_INET, "192.0.2.1", 0, &ss);
                struct timeval tv = { .tv_sec = 1 };

                (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                cr_assert_eq(connect(fd, (struct sockaddr *) &ss, len), 0);
        }
        /* Control: the echo is answered without the fence. */
        cr_assert_eq(send(fd, &echo, sizeof echo, 0), (ssize_t) sizeof echo);
        n = recv(fd, buf, sizeof buf, 0);
        cr_assert_gt(n, 0, "control: no echo reply: %s", strerror(errno));

        install(&fence4);
        log = nft_log_open(LOG_GROUP);
        cr_assert_geq(log, 0);
        echo.un.echo.sequence = 2;
        n = send(fd, &echo, sizeof echo, 0);
        cr_assert_eq(n, -1, "the echo request left (%s socket)", ping ? "ping" : "raw");
        cr_assert_eq(errno, EPERM, "send: %s", strerror(errno));
        (void) expect_logged(log, AF_INET, IPPROTO_ICMP, "192.0.2.1", 0, "icmp");
        close(fd);
        close(log);
        host_unchanged();
}

Test(nft, ipv6_rejected_when_not_listed) {
        int out, relay, e, c, log;
        struct nft_log_packet p;
        double t;

        add_addr(AF_INET6, "2001:db8::1");
        out = bound(AF_INET6, SOCK_STREAM, "2001:db8::1", 443);
        relay = bound(AF_INET6, SOCK_STREAM, "::1", RELAY_PORT);
        c = dial(AF_INET6, SOCK_STREAM, "2001:db8::1", 443, &e);
        cr_assert_eq(e, 0, "control connect: %s", strerror(e));
        cr_assert(readable(out, 1000), "control: the listener got nothing");
        close(c);
        close(accept4(out, NULL, NULL, SOCK_CLOEXEC));
        /* An address not on lo has no route of its own: without the fence's default route
         * a connect fails with ENETUNREACH, unseen by the fence (no event). */
        c = dial(AF_INET6, SOCK_STREAM, "2001:db8:ffff::9", 443, &e);
        cr_assert_eq(e, ENETUNREACH, "control connect off lo: %s", strerror(e));
        close(c);

        install(&fence4);
        log = nft_log_open(LOG_GROUP);
        cr_assert_geq(log, 0);
        t = h_now();
        c = dial(AF_INET6, SOCK_STREAM, "2001:db8::1", 443, &e);
        cr_assert_eq(e, ECONNREFUSED, "connect: %s", strerror(e));
        cr_expect_lt(h_now() - t, 0.5, "refused, but not at once");
        cr_assert(!readable(out, 100) && !readable(relay, 0));
        p = expect_logged(log, AF_INET6, IPPROTO_TCP, "2001:db8::1", 443, "ipv6");
        cr_expect_neq(p.sport, 0);
        close(c);

        /* The same off lo: the default route brings it to the fence, which resets it (not
         * ENETUNREACH) and logs it. */
        c = dial(AF_INET6, SOCK_STREAM, "2001:db8:ffff::9", 443, &e);
        cr_assert_eq(e, ECONNREFUSED, "connect off lo: %s (ENETUNREACH: no IPv6 route to the "
                     "fence)", strerror(e));
        (void) expect_logged(log, AF_INET6, IPPROTO_TCP, "2001:db8:ffff::9", 443, "ipv6");
        close(c);

        /* UDP over IPv6 too, whatever the port (DNS included: no gateway on [::1]). */
        c = dial(AF_INET6, SOCK_DGRAM, "2001:db8::1", 53, &e);
        cr_assert_eq(send(c, "x", 1, 0), -1);
        cr_assert_eq(errno, EPERM, "send: %s", strerror(errno));
        (void) expect_logged(log, AF_INET6, IPPROTO_UDP, "2001:db8::1", 53, "ipv6");
        close(c);
        close(log);
        host_unchanged();
}

/* ---- fail closed ---------------------------------------------------------------------- */

/* In a child: NETLINK_NETFILTER sockets fail with EACCES (as a hostile or odd seccomp
 * profile, or a missing nf_tables, would make them). */
static void deny_netfilter_netlink(void) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

        if (!ctx ||
            seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 2,
                             SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
                             SCMP_A2(SCMP_CMP_EQ, NETLINK_NETFILTER)) < 0 ||
            seccomp_load(ctx) < 0)
                _exit(90);
        seccomp_release(ctx);
}

struct fail_report {
        int probe_r, install_r, verify_r;
        struct caisson_error probe_err, install_err;
};

Test(nft, fails_closed_when_netlink_is_refused) {
        int pipefd[2], status;
        struct fail_report rep = { 0 };
        pid_t pid;

        /* Control: without the probe, libnftables itself exit()s from nft_ctx_new() under the
         * same filter; that is the vanished supervisor the probe prevents. */
        cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                (void) dup2(pipefd[1], STDERR_FILENO);
                deny_netfilter_netlink();
                (void) nft_ctx_new(NFT_CTX_DEFAULT);
                _exit(0);
        }
        close(pipefd[1]);
        {
                char said[256] = { 0 };

                if (read(pipefd[0], said, sizeof said - 1) < 0)
                        said[0] = 0;
                close(pipefd[0]);
                cr_assert_eq(waitpid(pid, &status, 0), pid);
                cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
                          WEXITSTATUS(status) != 90,
                          "control: nft_ctx_new returned under the filter (status %#x)", status);
                cr_expect(strstr(said, "Unable to initialize Netlink socket"),
                          "control: libnftables said '%s'", said);
        }

        cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct caisson_error err = { 0 };

                close(pipefd[0]);
                if (nft_route_setup(false, &err) < 0)
                        _exit(91);
                deny_netfilter_netlink();
                rep.probe_r = nft_probe(&rep.probe_err);
                rep.install_r = nft_fence_install(&fence4, &rep.install_err);
                rep.verify_r = nft_fence_verify(&fence4, &err);
                /* Still here: no exit() inside libnftables. */
                if (write(pipefd[1], &rep, sizeof rep) != sizeof rep)
                        _exit(92);
                _exit(0);
        }
        close(pipefd[1]);
        cr_assert_eq(read(pipefd[0], &rep, sizeof rep), (ssize_t) sizeof rep,
                     "the child died before reporting");
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
        cr_expect_eq(rep.probe_r, -EACCES);
        cr_expect_eq(rep.install_r, -EACCES);
        cr_expect_eq(rep.verify_r, -EACCES);
        cr_expect_eq(rep.install_err.layer, CAISSON_LAYER_NFT);
        cr_expect_eq(rep.install_err.code, CAISSON_REASON_NFT_FAILED);
        cr_expect_eq(rep.install_err.errnum, EACCES);
        cr_expect(strstr(rep.install_err.msg,
                         "cannot open a netfilter netlink socket in the sandbox netns"),
                  "message: %s", rep.install_err.msg);
        host_unchanged();
}

/* ---- tampering ------------------------------------------------------------------------ */

static void nft_run(const char *cmd) {
        struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);

        cr_assert(ctx);
        (void) nft_ctx_buffer_error(ctx);
        cr_assert_eq(nft_run_cmd_from_buffer(ctx, cmd), 0, "%s: %s", cmd,
                     nft_ctx_get_error_buffer(ctx));
        nft_ctx_free(ctx);
}

Test(nft, verify_catches_tampering) {
        static const char *const tamper[] = {
                "insert rule inet caisson filter_out accept",
                "add rule inet caisson nat_out tcp dport 22 redirect to :22",
                "chain inet caisson filter_out { policy accept; }",
                "flush chain inet caisson nat_out",
                "add chain inet caisson extra",
                "add set inet caisson s { type ipv4_addr; }",
                "add table inet caisson { flags dormant; }",
                "add rule inet caisson filter_out udp dport 9999 accept",
                /* Another table, in another family: a route chain that sends the sandbox's
                 * loopback traffic elsewhere, before the fence's chains see it. */
                "add table ip other; "
                "add chain ip other r { type route hook output priority -150; }; "
                "add rule ip other r ip daddr 127.0.0.2 ip daddr set 192.0.2.1",
                /* Another table alone, even empty, is not the fence's netns either. */
                "add table netdev empty",
                /* Our rules reordered: the TCP reject above the loopback accept. */
                "flush chain inet caisson filter_out; "
                "add rule inet caisson filter_out meta l4proto 6 counter log prefix "
                "\"caisson-tcp\" group 17 reject with tcp reset; "
                "add rule inet caisson filter_out ct state established,related counter accept; "
                "add rule inet caisson filter_out oif lo ip daddr 127.0.0.0/8 counter accept; "
                "add rule inet caisson filter_out oif lo ip6 daddr ::1 counter accept; "
                "add rule inet caisson filter_out meta nfproto ipv6 meta l4proto 6 counter log "
                "prefix \"caisson-ipv6\" group 17 reject with tcp reset; "
                "add rule inet caisson filter_out meta nfproto ipv6 counter log prefix "
                "\"caisson-ipv6\" group 17 reject with icmpx admin-prohibited; "
                "add rule inet caisson filter_out meta l4proto 17 counter log prefix "
                "\"caisson-udp\" group 17 reject with icmpx port-unreachable; "
                "add rule inet caisson filter_out meta l4proto { 1, 58 } counter log prefix "
                "\"caisson-icmp\" group 17 reject with icmpx admin-prohibited; "
                "add rule inet caisson filter_out counter log prefix \"caisson-other\" group 17 "
                "reject with icmpx admin-prohibited",
                /* An object in our table: every rule reads back the same, but the check
                 * refuses it, and the fast path must not pass it (the table's use count,
                 * part of the render, shows it). */
                "add counter inet caisson c",
        };
        struct nft_fence other = fence4;
        struct caisson_error err = { 0 };
        int r;

        install(&fence4);
        cr_assert_eq(nft_fence_verify(&fence4, &err), 0, "fresh fence: %s", err.msg);
        /* A different port than the one loaded is a difference too. */
        other.relay_port = RELAY_PORT + 1;
        r = nft_fence_verify(&other, &err);
        cr_assert_eq(r, -EINVAL);
        cr_expect_eq(err.code, CAISSON_REASON_NFT_VERIFY_FAILED);
        cr_log_info("relay port: %s", err.msg);
        other = fence4;
        other.ipv6 = true;
        cr_assert_eq(nft_fence_verify(&other, &err), -EINVAL);
        cr_log_info("ipv6: %s", err.msg);

        for (size_t i = 0; i < sizeof tamper / sizeof *tamper; i++) {
                err = (struct caisson_error) { 0 };
                /* Reloaded each time, into a netns without any table, as in a sandbox. */
                nft_run("flush ruleset");
                cr_assert_eq(nft_fence_install(&fence4, &err), 0, "reinstall: %s", err.msg);
                nft_run(tamper[i]);
                r = nft_fence_verify(&fence4, &err);
                cr_expect_eq(r, -EINVAL, "'%s' was not noticed", tamper[i]);
                cr_expect(!nft_fence_verified_by_render(), "'%s' passed the fast path",
                          tamper[i]);
                cr_expect_eq(err.layer, CAISSON_LAYER_NFT);
                cr_expect_eq(err.code, CAISSON_REASON_NFT_VERIFY_FAILED, "'%s': %s", tamper[i],
                             err.msg);
                cr_log_info("%s -> %s", tamper[i], err.msg);
        }
        /* Installing over a table that is already there doubles its rules: refused. */
        nft_run("flush ruleset");
        err = (struct caisson_error) { 0 };
        cr_assert_eq(nft_fence_install(&fence4, &err), 0, "install: %s", err.msg);
        r = nft_fence_install(&fence4, &err);
        cr_expect_lt(r, 0, "a second install over the first was accepted");
        cr_expect_eq(err.layer, CAISSON_LAYER_NFT);
        cr_log_info("second install: %s", err.msg);
        host_unchanged();
}

/* The read-back's fast path (nft-raw.c): a fence whose raw render equals that of a fence that
 * passed the structural check passes without it; anything else takes the structural check.
 * A log group of this test's own gives it a known-render file no other test writes. */
#define KNOWN_GROUP 29
#define KNOWN_FILE "/run/caisson/.nft-fence-4-g29"

static void known_unlink(void) {
        (void) unlink(KNOWN_FILE);
}

Test(nft, readback_fast_only_for_a_known_fence, .fini = known_unlink) {
        struct nft_fence f = fence4, moved;
        struct caisson_error err = { 0 };
        struct stat st;

        f.log_group = KNOWN_GROUP;
        (void) mkdir("/run/caisson", 0711);
        known_unlink();
        /* Nothing known yet: the structural check, which then remembers the render. */
        install(&f);
        cr_expect(!nft_fence_verified_by_render(), "fast path without a known render");
        cr_assert_eq(stat(KNOWN_FILE, &st), 0, "no known render written");
        cr_expect_eq(st.st_uid, 0);
        cr_expect_eq(st.st_mode & 077, 0, "known render readable by others: %o", st.st_mode);
        cr_assert_eq(nft_fence_verify(&f, &err), 0, "%s", err.msg);
        cr_expect(nft_fence_verified_by_render(), "the same fence again: not the fast path");

        /* A change is a different render: structural check, which refuses it. */
        nft_run("add rule inet caisson filter_out udp dport 9999 accept");
        cr_expect_eq(nft_fence_verify(&f, &err), -EINVAL, "tampered fence accepted");
        cr_expect(!nft_fence_verified_by_render(), "tampered fence passed the fast path");

        /* A known render that is not root's alone is not trusted. */
        nft_run("delete table inet caisson");
        cr_assert_eq(nft_fence_install(&f, &err), 0, "%s", err.msg);
        cr_assert_eq(nft_fence_verify(&f, &err), 0, "%s", err.msg);
        cr_assert(nft_fence_verified_by_render());
        cr_assert_eq(chmod(KNOWN_FILE, 0620), 0);
        cr_assert_eq(nft_fence_verify(&f, &err), 0, "%s", err.msg);
        cr_expect(!nft_fence_verified_by_render(), "a group-writable known render was trusted");
        /* Rewritten by that structural check: trusted again. */
        cr_assert_eq(nft_fence_verify(&f, &err), 0, "%s", err.msg);
        cr_expect(nft_fence_verified_by_render());

        /* Another netns, another relay port: the port is the one part that may differ.
         * (A reinstalled table has another handle than a first one: a fresh netns first.) */
        cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
        lo_up();
        install(&f);
        cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
        lo_up();
        moved = f;
        moved.relay_port = RELAY_PORT + 7;
        install(&moved);
        cr_expect(nft_fence_verified_by_render(), "a fence on another relay port: not fast");
        /* ... but it must be the port the fence was asked for. */
        cr_expect_eq(nft_fence_verify(&f, &err), -EINVAL, "the relay port went unchecked");
        cr_expect(!nft_fence_verified_by_render());
        known_unlink();
        host_unchanged();
}

Test(nft, route_refuses_to_replace_a_default_route) {
        struct caisson_error err = { 0 };

        cr_assert_eq(nft_route_setup(false, &err), 0, "%s", err.msg);
        cr_assert_eq(nft_route_setup(false, &err), -EEXIST);
        cr_expect_eq(err.layer, CAISSON_LAYER_NET);
        host_unchanged();
}

/* "default dev lo" for IPv6 alone, as something other than nft_route_setup() would leave it. */
static void add_default6(void) {
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_route *rt = rtnl_route_alloc();
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        struct nl_addr *dst = NULL;
        int r;

        cr_assert(sk && rt && nh);
        cr_assert_eq(nl_connect(sk, NETLINK_ROUTE), 0);
        cr_assert_eq(nl_addr_parse("::/0", AF_INET6, &dst), 0);
        rtnl_route_set_family(rt, AF_INET6);
        rtnl_route_set_table(rt, RT_TABLE_MAIN);
        cr_assert_eq(rtnl_route_set_dst(rt, dst), 0);
        rtnl_route_nh_set_ifindex(nh, (int) if_nametoindex("lo"));
        rtnl_route_add_nexthop(rt, nh);
        r = rtnl_route_add(sk, rt, NLM_F_EXCL);
        cr_assert_eq(r, 0, "add the IPv6 default route: %s", nl_geterror(r));
        nl_addr_put(dst);
        rtnl_route_put(rt);
        nl_socket_free(sk);
}

/* The calling thread into a new netns whose lo is up with IPv6 disabled. */
static void netns_without_ipv6(void) {
        int fd;

        cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
        lo_up();
        fd = open("/proc/sys/net/ipv6/conf/lo/disable_ipv6", O_WRONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, "1", 1), 1);
        close(fd);
}

/* The IPv6 route is the fence's even when the policy lists no IPv6: its failure fails
 * closed, but for a netns that has no IPv6 at all, where there is nothing to fence. */
Test(nft, route_ipv6_fails_closed_unless_ipv6_is_off) {
        struct caisson_error err = { 0 };
        int e, c;

        /* An IPv6 default route already there: refused, as for IPv4, ipv6 listed or not. */
        add_default6();
        cr_expect_eq(nft_route_setup(false, &err), -EEXIST, "an IPv6 route failure was ignored");
        cr_expect_eq(err.layer, CAISSON_LAYER_NET);
        cr_expect(strstr(err.msg, "::1"), "message: %s", err.msg);
        cr_log_info("existing IPv6 default route: %s", err.msg);

        /* lo with IPv6 disabled: no ::1, no IPv6 packet at all. */
        netns_without_ipv6();
        err = (struct caisson_error) { 0 };
        cr_assert_eq(nft_route_setup(false, &err), 0, "IPv6 off, none listed: %s", err.msg);
        c = dial(AF_INET6, SOCK_STREAM, "2001:db8:ffff::9", 443, &e);
        cr_expect_neq(e, 0, "an IPv6 connect succeeded with IPv6 off");
        close(c);
        /* ... but a policy that lists IPv6 needs it. */
        netns_without_ipv6();
        cr_expect_lt(nft_route_setup(true, &err), 0, "IPv6 listed, but off: accepted");
        cr_expect_eq(err.layer, CAISSON_LAYER_NET);
        host_unchanged();
}

/* ---- a netns without network_policies (src/backends/native/net.c) -------------------- */

TestSuite(net, .init = enter_netns, .timeout = 60);

/* Tunnel drivers' fallback devices (tunl0, sit0, ...) are allowed only as what they are, by
 * kind: links that merely take their names are refused like any other. (The fallback
 * devices themselves appear only where a tunnel driver is built in or loaded; this kernel
 * has none, and the tests load no module: tests/unit/test-net.c checks that decision.) */
Test(net, isolation_check_refuses_a_link_named_like_a_fallback_tunnel) {
        struct caisson_error err = { 0 };
        struct nl_sock *sk;
        int self, r;

        self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        cr_assert_geq(self, 0);
        /* Control: lo alone passes. */
        r = net_verify_isolated(self, &err);
        cr_assert_eq(r, 0, "lo alone: %s", err.msg);

        sk = nl_socket_alloc();
        cr_assert(sk);
        cr_assert_eq(nl_connect(sk, NETLINK_ROUTE), 0);
        r = rtnl_link_veth_add(sk, "tunl0", "sit0", getpid());
        cr_assert_eq(r, 0, "veth tunl0/sit0: %s", nl_geterror(r));
        nl_socket_free(sk);
        r = net_verify_isolated(self, &err);
        cr_expect_lt(r, 0, "a veth called tunl0 passed");
        cr_expect_eq(err.layer, CAISSON_LAYER_NET);
        cr_expect_eq(err.code, CAISSON_REASON_NET_NOT_ISOLATED, "%s", err.msg);
        cr_expect(strstr(err.msg, "unexpected link 'tunl0'") ||
                          strstr(err.msg, "unexpected link 'sit0'"),
                  "message: %s", err.msg);
        close(self);
        host_unchanged();
}
