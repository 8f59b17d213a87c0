/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* net: which links the sandbox's netns may hold (net_link_judge, pure). Hosts with tunnel
 * drivers loaded give every new netns their fallback devices; the integration suite cannot
 * make them where the drivers are not there (they are built in or loaded on the host, and
 * the tests load no module), so the decision is checked here, case by case. */
#include <criterion/criterion.h>
#include <net/if.h>
#include <stdbool.h>

#include "backends/native/native.h"
#include "macro.h"

static const char *const fallbacks[][2] = {
        { "tunl0", "ipip" },     { "sit0", "sit" },       { "gre0", "gre" },
        { "gretap0", "gretap" }, { "erspan0", "erspan" }, { "ip_vti0", "vti" },
        { "ip6_vti0", "vti6" },  { "ip6tnl0", "ip6tnl" }, { "ip6gre0", "ip6gre" },
};

Test(net, loopback_only_as_itself) {
        cr_expect_eq(net_link_judge("lo", NULL, IFF_LOOPBACK | IFF_UP, true), NET_LINK_LOOPBACK);
        cr_expect_eq(net_link_judge("lo", NULL, IFF_LOOPBACK, false), NET_LINK_LOOPBACK);
        /* A link called lo that is not the loopback device is not lo. */
        cr_expect_eq(net_link_judge("lo", "veth", IFF_BROADCAST, false), NET_LINK_UNEXPECTED);
        cr_expect_eq(net_link_judge(NULL, NULL, 0, false), NET_LINK_UNEXPECTED);
}

Test(net, fallback_tunnels_down_and_bare_are_allowed) {
        for (size_t i = 0; i < ELEMENTSOF(fallbacks); i++) {
                const char *name = fallbacks[i][0], *kind = fallbacks[i][1];

                cr_expect_eq(net_link_judge(name, kind, IFF_NOARP, false),
                             NET_LINK_FALLBACK_TUNNEL, "%s (%s), down, no address", name, kind);
                cr_expect_eq(net_link_judge(name, kind, IFF_UP | IFF_NOARP, false),
                             NET_LINK_TUNNEL_UP, "%s up", name);
                cr_expect_eq(net_link_judge(name, kind, IFF_NOARP, true),
                             NET_LINK_TUNNEL_ADDRESSED, "%s with an address", name);
                /* The name alone is not enough: another kind under it is refused ... */
                cr_expect_eq(net_link_judge(name, "veth", 0, false), NET_LINK_UNEXPECTED,
                             "a veth called %s", name);
                cr_expect_eq(net_link_judge(name, NULL, 0, false), NET_LINK_UNEXPECTED,
                             "%s of no kind", name);
                /* ... as is the kind under another name (a tunnel someone made). */
                cr_expect_eq(net_link_judge("t1", kind, 0, false), NET_LINK_UNEXPECTED,
                             "a %s called t1", kind);
        }
        /* Kinds are not interchangeable between the fallback names. */
        cr_expect_eq(net_link_judge("tunl0", "sit", 0, false), NET_LINK_UNEXPECTED);
        cr_expect_eq(net_link_judge("gre0", "gretap", 0, false), NET_LINK_UNEXPECTED);
        cr_expect_eq(net_link_judge("tunl1", "ipip", 0, false), NET_LINK_UNEXPECTED);
}

Test(net, everything_else_is_refused) {
        static const char *const others[][2] = {
                { "eth0", "veth" }, { "wg0", "wireguard" }, { "vxlan0", "vxlan" },
                { "dummy0", "dummy" }, { "br0", "bridge" }, { "macvlan0", "macvlan" },
        };

        for (size_t i = 0; i < ELEMENTSOF(others); i++)
                cr_expect_eq(net_link_judge(others[i][0], others[i][1], 0, false),
                             NET_LINK_UNEXPECTED, "%s", others[i][0]);
}
