/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sandbox's network namespace without network_policies: loopback only (and tunnel
 * drivers' fallback devices, down and without addresses). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "macro.h"
#include "native.h"
#include "util.h"

/* Inside the new netns, as root: bring lo up (it starts down). */
int net_loopback_up(struct caisson_error *err) {
        int r = loopback_up();

        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, -r,
                               "bring lo up");
        return 0;
}

/* The fallback device each tunnel driver puts in every new netns while
 * net.core.fb_tunnels_only_for_init_net is 0, the default: with ipip, sit, ip_gre, ip_vti,
 * ip6_vti, ip6_tunnel or ip6_gre loaded (Calico's IPIP does, on Kubernetes nodes), a new
 * netns holds tunl0, sit0, ... besides lo, and refusing them refused every sandbox there.
 * Matched by name and kind (IFLA_INFO_KIND, set by the driver), never by name alone. */
static const struct {
        const char *name, *kind;
} fallback_tunnels[] = {
        { "tunl0", "ipip" },     { "sit0", "sit" },         { "gre0", "gre" },
        { "gretap0", "gretap" }, { "erspan0", "erspan" },   { "ip_vti0", "vti" },
        { "ip6_vti0", "vti6" },  { "ip6tnl0", "ip6tnl" },   { "ip6gre0", "ip6gre" },
};

enum net_link_verdict net_link_judge(const char *name, const char *kind, unsigned flags,
                                     bool has_addr) {
        if (name && streq(name, "lo") && (flags & IFF_LOOPBACK))
                return NET_LINK_LOOPBACK;
        for (size_t i = 0; name && kind && i < ELEMENTSOF(fallback_tunnels); i++) {
                if (!streq(name, fallback_tunnels[i].name) ||
                    !streq(kind, fallback_tunnels[i].kind))
                        continue;
                /* Down and without an address it carries nothing (and no route can use
                 * it: the route check refuses any that leaves lo); the agent, without
                 * CAP_NET_ADMIN, cannot bring it up or give it one. */
                if (flags & IFF_UP)
                        return NET_LINK_TUNNEL_UP;
                if (has_addr)
                        return NET_LINK_TUNNEL_ADDRESSED;
                return NET_LINK_FALLBACK_TUNNEL;
        }
        return NET_LINK_UNEXPECTED;
}

struct verify_ctx {
        int lo_index;
        int bad;
        char what[128];
        struct nl_cache *addrs;
};

static void has_addr_of(struct nl_object *obj, void *userdata) {
        struct rtnl_addr *a = (struct rtnl_addr *) obj;
        int *ifindex = userdata;

        if (rtnl_addr_get_ifindex(a) == *ifindex)
                *ifindex = -1;  /* found: -1 is no link's index */
}

static void check_link(struct nl_object *obj, void *userdata) {
        struct verify_ctx *c = userdata;
        struct rtnl_link *l = (struct rtnl_link *) obj;
        const char *name = rtnl_link_get_name(l);
        int ifindex = rtnl_link_get_ifindex(l);

        nl_cache_foreach(c->addrs, has_addr_of, &ifindex);
        switch (net_link_judge(name, rtnl_link_get_type(l), rtnl_link_get_flags(l),
                               ifindex == -1)) {
        case NET_LINK_LOOPBACK:
                c->lo_index = rtnl_link_get_ifindex(l);
                return;
        case NET_LINK_FALLBACK_TUNNEL:
                return;
        case NET_LINK_TUNNEL_UP:
                if (!c->bad)
                        (void) snprintf(c->what, sizeof c->what, "tunnel link '%s' is up", name);
                break;
        case NET_LINK_TUNNEL_ADDRESSED:
                if (!c->bad)
                        (void) snprintf(c->what, sizeof c->what, "tunnel link '%s' has an address",
                                        name);
                break;
        case NET_LINK_UNEXPECTED:
                if (!c->bad)
                        (void) snprintf(c->what, sizeof c->what, "unexpected link '%s'",
                                        name ?: "?");
                break;
        }
        c->bad = 1;
}

static void check_route(struct nl_object *obj, void *userdata) {
        struct verify_ctx *c = userdata;
        struct rtnl_route *r = (struct rtnl_route *) obj;
        int n = rtnl_route_get_nnexthops(r);

        /* Every route must stay on lo: a route through any other device, or one with a
         * gateway, would be a path out. */
        for (int i = 0; i < n; i++) {
                struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, i);

                if (rtnl_route_nh_get_ifindex(nh) != c->lo_index || rtnl_route_nh_get_gateway(nh)) {
                        if (!c->bad)
                                (void) snprintf(c->what, sizeof c->what,
                                                "a route leaves loopback (table %u)",
                                                rtnl_route_get_table(r));
                        c->bad = 1;
                }
        }
}

/* Checks over rtnetlink, in the sandbox's netns, that it holds only lo (and tunnel drivers'
 * fallback devices, down and without addresses) and no route out.
 * The supervisor enters the netns only long enough to open the socket: a netlink socket
 * stays bound to the namespace it was created in. */
int net_verify_isolated(int netns_fd, struct caisson_error *err) {
        _cleanup_close_ int self = -1;
        struct nl_sock *sk = NULL;
        struct nl_cache *links = NULL, *routes = NULL, *addrs = NULL;
        struct verify_ctx c = { .lo_index = -1 };
        int r = 0;

        self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, errno,
                               "open own netns");
        if (setns(netns_fd, CLONE_NEWNET) < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, errno,
                               "enter the sandbox netns");
        sk = nl_socket_alloc();
        if (sk && nl_connect(sk, NETLINK_ROUTE) < 0) {
                nl_socket_free(sk);
                sk = NULL;
        }
        if (setns(self, CLONE_NEWNET) < 0) {
                /* Stuck in the sandbox's netns: nothing below can be trusted. */
                if (sk)
                        nl_socket_free(sk);
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, errno,
                               "return to the host netns");
        }
        if (!sk)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, 0,
                               "rtnetlink socket in the sandbox netns");

        if (rtnl_link_alloc_cache(sk, AF_UNSPEC, &links) < 0 ||
            rtnl_addr_alloc_cache(sk, &addrs) < 0 ||
            rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &routes) < 0) {
                r = cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, 0,
                            "dump links, addresses and routes");
                goto out;
        }
        c.addrs = addrs;
        nl_cache_foreach(links, check_link, &c);
        if (!c.bad && c.lo_index < 0) {
                c.bad = 1;
                strcpy(c.what, "no loopback");
        }
        if (!c.bad)
                nl_cache_foreach(routes, check_route, &c);
        if (c.bad)
                r = cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_NOT_ISOLATED, 0,
                            "sandbox network not isolated: %s", c.what);
out:
        if (links)
                nl_cache_free(links);
        if (routes)
                nl_cache_free(routes);
        if (addrs)
                nl_cache_free(addrs);
        nl_socket_free(sk);
        return r;
}
