/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sandbox's network namespace without network_policies: loopback only. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <net/if.h>
#include <netlink/netlink.h>
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

struct verify_ctx {
        int lo_index;
        int bad;
        char what[128];
};

static void check_link(struct nl_object *obj, void *userdata) {
        struct verify_ctx *c = userdata;
        struct rtnl_link *l = (struct rtnl_link *) obj;
        const char *name = rtnl_link_get_name(l);

        if (name && streq(name, "lo")) {
                c->lo_index = rtnl_link_get_ifindex(l);
                return;
        }
        if (!c->bad)
                (void) snprintf(c->what, sizeof c->what, "unexpected link '%s'", name ?: "?");
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

/* Checks over rtnetlink, in the sandbox's netns, that it holds only lo and no route out.
 * The supervisor enters the netns only long enough to open the socket: a netlink socket
 * stays bound to the namespace it was created in. */
int net_verify_isolated(int netns_fd, struct caisson_error *err) {
        _cleanup_close_ int self = -1;
        struct nl_sock *sk = NULL;
        struct nl_cache *links = NULL, *routes = NULL;
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
            rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &routes) < 0) {
                r = cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, 0,
                            "dump links and routes");
                goto out;
        }
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
        nl_socket_free(sk);
        return r;
}
