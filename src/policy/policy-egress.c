/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/policy/policy-egress.c — which network_policies entry allows a TCP connection, and
 * which names the DNS gateway forwards. The relay, the DNS gateway and `caisson policy
 * explain` all call this file, so the answer offline is the answer at run time.
 *
 * Semantics are OpenShell's (OPENSHELL-POLICY.md; its sandbox-policy.rego and proxy.rs):
 * default deny; an entry allows when one of its endpoints matches host and port and one of
 * its binaries globs matches the client's executable or an ancestor's. The SSRF rules are
 * OpenShell's too: loopback, link-local and unspecified never; a private address only
 * through an exact host name, an IP-literal host, or an allowed_ips range that covers it; an
 * endpoint with allowed_ips admits only addresses inside them.
 *
 * Pure: no syscalls. inet_pton/inet_ntop are the only libc parsers used. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "error.h"
#include "macro.h"
#include "policy/policy-egress.h"

/* --- Addresses --- */

struct addr {
        int family; /* 0, AF_INET or AF_INET6 */
        uint8_t a[16];
};

static bool is_v4_mapped(const uint8_t *a) {
        static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

        return memcmp(a, prefix, sizeof prefix) == 0;
}

/* A dual-stack socket sends ::ffff:a.b.c.d as IPv4 on the wire: classify and match it as
 * the IPv4 address it is, so ::ffff:127.0.0.1 is loopback and 10.0.0.0/8 covers
 * ::ffff:10.1.2.3. */
static struct addr addr_make(int family, const uint8_t *a) {
        struct addr r = { .family = family };

        if (family == AF_INET)
                memcpy(r.a, a, 4);
        else if (family == AF_INET6 && is_v4_mapped(a)) {
                r.family = AF_INET;
                memcpy(r.a, a + 12, 4);
        } else if (family == AF_INET6)
                memcpy(r.a, a, 16);
        else
                r.family = 0;
        return r;
}

static bool prefix_eq(const uint8_t *x, const uint8_t *y, unsigned prefix) {
        unsigned bytes = prefix / 8, bits = prefix % 8;

        if (memcmp(x, y, bytes) != 0)
                return false;
        if (bits == 0)
                return true;
        return ((x[bytes] ^ y[bytes]) & (uint8_t) (0xff00u >> bits)) == 0;
}

/* The same normalisation for a CIDR: ::ffff:10.0.0.0/104 is 10.0.0.0/8. */
static struct policy_cidr cidr_normalize(struct policy_cidr c) {
        if (c.family == AF_INET6 && c.prefix >= 96 && is_v4_mapped(c.addr)) {
                struct policy_cidr v4 = { .family = AF_INET, .prefix = c.prefix - 96 };

                memcpy(v4.addr, c.addr + 12, 4);
                return v4;
        }
        return c;
}

static bool cidr_covers(const char *s, const struct addr *a) {
        struct policy_cidr c;

        if (policy_parse_cidr(s, &c) < 0)
                return false; /* validated at load; never reached */
        c = cidr_normalize(c);
        return c.family == a->family && prefix_eq(c.addr, a->a, c.prefix);
}

static bool allowed_ips_cover(const struct policy_endpoint *ep, const struct addr *a) {
        for (size_t i = 0; i < ep->n_allowed_ips; i++)
                if (cidr_covers(ep->allowed_ips[i], a))
                        return true;
        return false;
}

/* An endpoint host written as an IP address (not a CIDR): *ret is that address. */
static bool host_literal(const char *host, struct addr *ret) {
        struct policy_cidr c;

        if (!host || strchr(host, '/') || policy_parse_cidr(host, &c) < 0)
                return false;
        *ret = addr_make(c.family, c.addr);
        return true;
}

static enum egress_addr_class classify_v4(const uint8_t *a) {
        static const struct {
                uint8_t net[4];
                unsigned prefix;
                enum egress_addr_class cls;
        } table[] = {
                /* 0.0.0.0 reaches the host itself on Linux; the rest of 0/8 is "this network". */
                { { 0, 0, 0, 0 }, 8, EGRESS_ADDR_UNSPECIFIED },
                { { 127, 0, 0, 0 }, 8, EGRESS_ADDR_LOOPBACK },
                { { 169, 254, 0, 0 }, 16, EGRESS_ADDR_LINK_LOCAL }, /* cloud metadata */
                { { 224, 0, 0, 0 }, 4, EGRESS_ADDR_UNSPECIFIED },  /* multicast */
                { { 240, 0, 0, 0 }, 4, EGRESS_ADDR_UNSPECIFIED },  /* reserved, broadcast */
                /* OpenShell's internal ranges (openshell-core net.rs): */
                { { 10, 0, 0, 0 }, 8, EGRESS_ADDR_PRIVATE },
                { { 100, 64, 0, 0 }, 10, EGRESS_ADDR_PRIVATE },     /* CGNAT */
                { { 172, 16, 0, 0 }, 12, EGRESS_ADDR_PRIVATE },
                { { 192, 0, 0, 0 }, 24, EGRESS_ADDR_PRIVATE },      /* IETF protocol assignments */
                { { 192, 0, 2, 0 }, 24, EGRESS_ADDR_PRIVATE },      /* TEST-NET-1 */
                { { 192, 168, 0, 0 }, 16, EGRESS_ADDR_PRIVATE },
                { { 198, 18, 0, 0 }, 15, EGRESS_ADDR_PRIVATE },     /* benchmarking */
                { { 198, 51, 100, 0 }, 24, EGRESS_ADDR_PRIVATE },   /* TEST-NET-2 */
                { { 203, 0, 113, 0 }, 24, EGRESS_ADDR_PRIVATE },    /* TEST-NET-3 */
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (prefix_eq(table[i].net, a, table[i].prefix))
                        return table[i].cls;
        return EGRESS_ADDR_PUBLIC;
}

static enum egress_addr_class classify_v6(const uint8_t *a) {
        static const uint8_t zero[16] = { 0 }, nat64[12] = { 0, 0x64, 0xff, 0x9b };

        if (memcmp(a, zero, 15) == 0 && a[15] == 1)
                return EGRESS_ADDR_LOOPBACK;
        /* ::, and the deprecated IPv4-compatible ::a.b.c.d, which some stacks deliver to IPv4. */
        if (memcmp(a, zero, 12) == 0)
                return EGRESS_ADDR_UNSPECIFIED;
        /* NAT64 (64:ff9b::/96) carries an IPv4 address: never a way around the IPv4 rules. */
        if (memcmp(a, nat64, 12) == 0) {
                return classify_v4(a + 12);
        }
        if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && a[4] == 0 && a[5] == 1)
                return EGRESS_ADDR_PRIVATE; /* 64:ff9b:1::/48, local-use NAT64 */
        if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
                return EGRESS_ADDR_LINK_LOCAL;
        if (a[0] == 0xff)
                return EGRESS_ADDR_UNSPECIFIED; /* multicast */
        if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0))
                return EGRESS_ADDR_PRIVATE;     /* ULA fc00::/7, old site-local fec0::/10 */
        return EGRESS_ADDR_PUBLIC;
}

enum egress_addr_class egress_addr_classify(int family, const uint8_t *addr) {
        struct addr a = addr_make(family, addr);

        if (a.family == AF_INET)
                return classify_v4(a.a);
        if (a.family == AF_INET6)
                return classify_v6(a.a);
        return EGRESS_ADDR_UNSPECIFIED;
}

static const char *addr_str(const struct addr *a, char *buf, size_t size) {
        if (!a->family || !inet_ntop(a->family, a->a, buf, (socklen_t) size))
                (void) snprintf(buf, size, "?");
        return buf;
}

/* --- Binaries --- */

/* '*' any run within one component, '**' any run across components, '?' one character
 * that is not '/'. A dynamic-programming pass over the path per pattern character: linear
 * in each, no backtracking blow-up for a hostile pattern like "/ *a*a*a*...". */
bool policy_binary_match(const char *glob, const char *path) {
        bool row[POLICY_MAX_PATH_LEN + 2], next[POLICY_MAX_PATH_LEN + 2];
        size_t n;

        if (!glob || !path)
                return false;
        if (!strchr(glob, '*'))
                return streq(glob, path);
        n = strlen(path);
        if (n > POLICY_MAX_PATH_LEN || strlen(glob) > POLICY_MAX_PATH_LEN)
                return false;
        /* row[j]: the pattern so far matches path[0..j). */
        memset(row, 0, (n + 1) * sizeof *row);
        row[0] = true;
        for (const char *g = glob; *g;) {
                bool dstar = g[0] == '*' && g[1] == '*';

                next[0] = (g[0] == '*') && row[0];
                for (size_t j = 1; j <= n; j++) {
                        char ch = path[j - 1];

                        if (g[0] == '*')
                                next[j] = row[j] || (next[j - 1] && (dstar || ch != '/'));
                        else if (g[0] == '?')
                                next[j] = row[j - 1] && ch != '/';
                        else
                                next[j] = row[j - 1] && ch == g[0];
                }
                memcpy(row, next, (n + 1) * sizeof *row);
                g += dstar ? 2 : 1;
                while (dstar && *g == '*')
                        g++; /* "***" is "**" */
        }
        return row[n];
}

/* The first of the entry's binaries globs that matches the executable or an ancestor. */
static const char *entry_binary(const struct policy_network_entry *e,
                                const struct egress_request *req, const char **ret_path,
                                size_t *ret_depth) {
        for (size_t i = 0; i < e->n_binaries; i++) {
                if (e->binaries[i][0] != '/')
                        continue; /* matches nothing, as in OpenShell */
                for (size_t k = 0; k < req->n_binaries; k++)
                        if (req->binaries[k] && policy_binary_match(e->binaries[i], req->binaries[k])) {
                                *ret_path = req->binaries[k];
                                *ret_depth = k;
                                return e->binaries[i];
                        }
        }
        return NULL;
}

/* --- Endpoints --- */

static bool endpoint_has_port(const struct policy_endpoint *ep, uint16_t port) {
        for (size_t i = 0; i < ep->n_ports; i++)
                if (ep->ports[i] == port)
                        return true;
        return false;
}

static bool endpoint_refused(const struct policy_endpoint *ep) {
        return ep->l7_enforced || ep->refused_by;
}

static const char *endpoint_label(const struct policy_endpoint *ep, char *buf, size_t size) {
        size_t n;

        (void) snprintf(buf, size, "%s", ep->host ?: (ep->n_allowed_ips ? ep->allowed_ips[0] : "?"));
        if (!ep->host && ep->n_allowed_ips > 1) {
                n = strlen(buf);
                (void) snprintf(buf + n, size - n, ",...");
        }
        for (size_t i = 0; i < ep->n_ports && i < 4; i++) {
                n = strlen(buf);
                (void) snprintf(buf + n, size - n, "%c%u", i == 0 ? ':' : ',', ep->ports[i]);
        }
        if (ep->n_ports > 4) {
                n = strlen(buf);
                (void) snprintf(buf + n, size - n, ",...");
        }
        return buf;
}

enum ep_match {
        EP_NO,
        EP_ADDR_REFUSED, /* host and port match, the address is not admitted */
        EP_YES,
};

static enum ep_match endpoint_match(const struct policy_endpoint *ep, const char *host,
                                    const struct addr *a, enum egress_addr_class cls,
                                    bool *ret_by_name, const char **ret_why) {
        struct addr lit;

        *ret_by_name = false;
        *ret_why = NULL;
        if (ep->host && host_literal(ep->host, &lit)) {
                /* An IP written as the host: that address, private or not (the user named it). */
                if (!a->family || lit.family != a->family ||
                    memcmp(lit.a, a->a, a->family == AF_INET ? 4 : 16) != 0)
                        return EP_NO;
                if (ep->n_allowed_ips > 0 && !allowed_ips_cover(ep, a)) {
                        *ret_why = "is not in the endpoint's allowed_ips";
                        return EP_ADDR_REFUSED;
                }
                return EP_YES;
        }
        if (ep->host) {
                if (!host || !policy_host_match(ep->host, host))
                        return EP_NO;
                *ret_by_name = true;
                if (!a->family)
                        return EP_YES; /* explain by name: the address is checked at run time */
                if (ep->n_allowed_ips > 0) {
                        /* OpenShell: with allowed_ips, every resolved address must be inside. */
                        if (allowed_ips_cover(ep, a))
                                return EP_YES;
                        *ret_why = "is not in the endpoint's allowed_ips";
                        return EP_ADDR_REFUSED;
                }
                /* An exact name is the operator's trust in that name, private or not; a
                 * wildcard could be pointed at the LAN by whoever controls its zone. */
                if (cls == EGRESS_ADDR_PRIVATE && policy_host_is_wildcard(ep->host)) {
                        *ret_why = "is private; a wildcard host reaches private addresses only through allowed_ips";
                        return EP_ADDR_REFUSED;
                }
                return EP_YES;
        }
        /* Hostless: any name, decided on the address after resolution. */
        if (a->family && allowed_ips_cover(ep, a))
                return EP_YES;
        return EP_NO;
}

/* --- Decisions --- */

enum stage {
        STAGE_NONE,
        STAGE_ADDRESS, /* host and port matched, address refused */
        STAGE_BINARY,  /* endpoint matched, binary did not */
        STAGE_L7,      /* endpoint and binary matched, the endpoint needs --widen-l7 */
        STAGE_ALLOW,
};

struct candidate {
        enum stage stage;
        enum caisson_reason reason;
        const struct policy_network_entry *entry;
        const struct policy_endpoint *endpoint;
        const char *glob, *path, *why;
        size_t depth;
        bool by_name, widened;
};

/* Ranks two allowing candidates: no widening, then decided on the address, then key. */
static bool allow_better(const struct candidate *x, const struct candidate *best) {
        int c;

        if (best->stage != STAGE_ALLOW)
                return true;
        if (x->widened != best->widened)
                return !x->widened;
        if (x->by_name != best->by_name)
                return !x->by_name;
        c = strcmp(x->entry->key, best->entry->key);
        return c < 0;
}

static void set_detail(struct egress_decision *d, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void set_detail(struct egress_decision *d, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(d->detail, sizeof d->detail, fmt, ap);
        va_end(ap);
        for (char *c = d->detail; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = '?'; /* names come from the sandbox: no escapes into a terminal */
}

static bool deny(struct egress_decision *d, enum caisson_reason reason) {
        d->allow = false;
        d->reason = reason;
        return false;
}

bool policy_egress_decide(const struct policy *p, const struct egress_request *req,
                          struct egress_decision *d) {
        struct candidate best = {}, c;
        struct addr a = {};
        enum egress_addr_class cls = EGRESS_ADDR_PUBLIC;
        const char *host = req ? req->host : NULL;
        char as[INET6_ADDRSTRLEN], label[300];

        *d = (struct egress_decision) { .reason = CAISSON_REASON_EGRESS_NO_MATCH };
        if (!p || !req)
                return deny(d, CAISSON_REASON_EGRESS_NO_MATCH);
        if (host && !*host)
                host = NULL;
        a = addr_make(req->family, req->addr);
        /* A name that is an IP literal is that address (explain given "10.0.0.1"). */
        if (!a.family && host && host_literal(host, &a))
                host = NULL;
        if (a.family) {
                (void) addr_str(&a, as, sizeof as);
                cls = egress_addr_classify(a.family, a.a);
                /* The relay connects from a netns with a way out, often the host's: these would
                 * reach the host's own services or the cloud metadata endpoint. Never, whatever
                 * the policy says. */
                if (cls == EGRESS_ADDR_LOOPBACK) {
                        set_detail(d, "%s is a loopback address: never reachable", as);
                        return deny(d, CAISSON_REASON_EGRESS_LOOPBACK);
                }
                if (cls == EGRESS_ADDR_LINK_LOCAL) {
                        set_detail(d, "%s is link-local (cloud metadata lives there): never reachable", as);
                        return deny(d, CAISSON_REASON_EGRESS_LINK_LOCAL);
                }
                if (cls == EGRESS_ADDR_UNSPECIFIED) {
                        set_detail(d, "%s is an unspecified, multicast or reserved address: never reachable", as);
                        return deny(d, CAISSON_REASON_EGRESS_HOST_ADDRESS);
                }
                if (req->addr_is_host_own) {
                        set_detail(d, "%s is one of this host's own addresses: never reachable", as);
                        return deny(d, CAISSON_REASON_EGRESS_HOST_ADDRESS);
                }
        } else
                (void) snprintf(as, sizeof as, "%s", host ?: "?");

        for (size_t i = 0; i < p->n_network; i++) {
                const struct policy_network_entry *e = &p->network[i];

                for (size_t j = 0; j < e->n_endpoints; j++) {
                        const struct policy_endpoint *ep = &e->endpoints[j];
                        enum ep_match m;

                        if (!endpoint_has_port(ep, req->port))
                                continue;
                        c = (struct candidate) { .entry = e, .endpoint = ep };
                        m = endpoint_match(ep, host, &a, cls, &c.by_name, &c.why);
                        if (m == EP_NO)
                                continue;
                        if (m == EP_ADDR_REFUSED) {
                                c.stage = STAGE_ADDRESS;
                                c.reason = cls == EGRESS_ADDR_PRIVATE ? CAISSON_REASON_EGRESS_PRIVATE :
                                                                        CAISSON_REASON_EGRESS_NO_MATCH;
                        } else if (e->allows_nothing) {
                                c.stage = STAGE_BINARY;
                                c.reason = CAISSON_REASON_EGRESS_ALLOWS_NOTHING;
                        } else if (!req->any_binary &&
                                   !(c.glob = entry_binary(e, req, &c.path, &c.depth))) {
                                c.stage = STAGE_BINARY;
                                c.reason = req->n_binaries == 0 ? CAISSON_REASON_EGRESS_IDENTITY_UNKNOWN :
                                                                  CAISSON_REASON_EGRESS_BINARY_MISMATCH;
                        } else if (endpoint_refused(ep) && !req->widen_l7) {
                                c.stage = STAGE_L7;
                                c.reason = CAISSON_REASON_EGRESS_L7_REFUSED;
                        } else {
                                c.stage = STAGE_ALLOW;
                                c.reason = CAISSON_REASON_EGRESS_ALLOWED;
                                c.widened = endpoint_refused(ep);
                        }
                        if (c.stage == STAGE_ALLOW ? allow_better(&c, &best) : c.stage > best.stage)
                                best = c;
                }
        }

        d->entry = best.entry;
        d->endpoint = best.endpoint;
        d->reason = best.stage == STAGE_NONE ? CAISSON_REASON_EGRESS_NO_MATCH : best.reason;
        if (best.endpoint)
                (void) endpoint_label(best.endpoint, label, sizeof label);
        switch (best.stage) {
        case STAGE_NONE:
                set_detail(d, "no network_policies entry has an endpoint for %s:%u", as, req->port);
                return deny(d, d->reason);
        case STAGE_ADDRESS:
                set_detail(d, "entry '%s' endpoint %s: %s %s", best.entry->key, label, as,
                           best.why ?: "is not admitted");
                return deny(d, d->reason);
        case STAGE_BINARY:
                if (best.reason == CAISSON_REASON_EGRESS_ALLOWS_NOTHING)
                        set_detail(d, "entry '%s' endpoint %s matches, but the entry allows nothing (no binaries)",
                                   best.entry->key, label);
                else if (best.reason == CAISSON_REASON_EGRESS_IDENTITY_UNKNOWN)
                        set_detail(d, "entry '%s' endpoint %s matches, but the client's executable is unknown",
                                   best.entry->key, label);
                else
                        set_detail(d, "entry '%s' endpoint %s matches, but %s is not in its binaries",
                                   best.entry->key, label, req->binaries[0] ?: "?");
                return deny(d, d->reason);
        case STAGE_L7:
                d->matched_binary = best.glob;
                d->matched_path = best.path;
                d->matched_depth = best.depth;
                set_detail(d, "entry '%s' endpoint %s is refused: %s; --widen-l7 allows it at host:port + binary",
                           best.entry->key, label,
                           best.endpoint->refused_by ?: best.endpoint->l7_fields ?: "L7 restriction");
                return deny(d, d->reason);
        case STAGE_ALLOW:
                break;
        }
        d->allow = true;
        d->matched_binary = best.glob;
        d->matched_path = best.path;
        d->matched_depth = best.depth;
        d->by_name = best.by_name ? host : NULL;
        d->widened = best.widened;
        d->l7_audit_skipped = best.endpoint->l7_audit;
        if (best.glob)
                set_detail(d, "entry '%s' endpoint %s allows %s%s", best.entry->key, label,
                           best.path, best.depth > 0 ? " (an ancestor)" : "");
        else
                set_detail(d, "entry '%s' endpoint %s allows it", best.entry->key, label);
        return true;
}

bool policy_dns_allowed(const struct policy *p, const char *name, bool widen_l7,
                        const struct policy_network_entry **entry) {
        struct addr lit;

        if (entry)
                *entry = NULL;
        if (!p || !name || !*name)
                return false;
        for (size_t i = 0; i < p->n_network; i++) {
                const struct policy_network_entry *e = &p->network[i];

                /* An entry that allows nothing must not open a DNS channel either. */
                if (e->allows_nothing)
                        continue;
                for (size_t j = 0; j < e->n_endpoints; j++) {
                        const struct policy_endpoint *ep = &e->endpoints[j];

                        /* Hostless endpoints open no DNS (DESIGN §5); an IP host needs none. */
                        if (!ep->host || host_literal(ep->host, &lit))
                                continue;
                        if (endpoint_refused(ep) && !widen_l7)
                                continue;
                        if (policy_host_match(ep->host, name)) {
                                if (entry)
                                        *entry = e;
                                return true;
                        }
                }
        }
        return false;
}

/* --- --allow HOST:PORT --- */

int policy_parse_host_port(const char *s, char **ret_host, uint16_t *ret_port,
                           const char **ret_why) {
        const char *colon, *h = s;
        size_t hlen;
        unsigned long port = 0;
        char *host;

        *ret_why = NULL;
        if (!s || !*s) {
                *ret_why = "is empty; expected HOST:PORT";
                return -EINVAL;
        }
        if (s[0] == '[') {
                const char *close = strchr(s, ']');
                uint8_t buf[16];
                char tmp[INET6_ADDRSTRLEN + 1];

                if (!close) {
                        *ret_why = "has '[' without ']'; expected [IPV6]:PORT";
                        return -EINVAL;
                }
                h = s + 1;
                hlen = (size_t) (close - h);
                if (hlen == 0 || hlen >= sizeof tmp) {
                        *ret_why = "is not an IPv6 address in brackets";
                        return -EINVAL;
                }
                memcpy(tmp, h, hlen);
                tmp[hlen] = 0;
                if (inet_pton(AF_INET6, tmp, buf) != 1) {
                        *ret_why = "is not an IPv6 address in brackets";
                        return -EINVAL;
                }
                if (close[1] != ':') {
                        *ret_why = "needs :PORT after the ']'";
                        return -EINVAL;
                }
                colon = close + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon) {
                        *ret_why = "has no port; expected HOST:PORT";
                        return -EINVAL;
                }
                if (memchr(s, ':', (size_t) (colon - s))) {
                        *ret_why = "has several ':'; write an IPv6 address as [ADDR]:PORT";
                        return -EINVAL;
                }
                hlen = (size_t) (colon - s);
                if (hlen == 0) {
                        *ret_why = "has no host; expected HOST:PORT";
                        return -EINVAL;
                }
        }
        if (!colon[1] || strlen(colon + 1) > 5 || strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
                *ret_why = "port must be 1-65535";
                return -EINVAL;
        }
        for (const char *d = colon + 1; *d; d++)
                port = port * 10 + (unsigned long) (*d - '0');
        if (port < 1 || port > 65535) {
                *ret_why = "port must be 1-65535";
                return -EINVAL;
        }
        host = strndup(h, hlen);
        if (!host)
                return -ENOMEM;
        *ret_host = host;
        *ret_port = (uint16_t) port;
        return 0;
}

static void entry_done(struct policy_network_entry *e) {
        free(e->key);
        free(e->name);
        for (size_t j = 0; j < e->n_endpoints; j++) {
                free(e->endpoints[j].host);
                free(e->endpoints[j].ports);
                free(e->endpoints[j].l7_fields);
                free(e->endpoints[j].refused_by);
        }
        free(e->endpoints);
        for (size_t j = 0; j < e->n_binaries; j++)
                free(e->binaries[j]);
        free(e->binaries);
}

int policy_add_allow(struct policy *p, const char *host_port, struct caisson_error *err) {
        _cleanup_free_ char *host = NULL;
        struct policy_network_entry e = {}, *v;
        const char *why = NULL;
        size_t n_endpoints = 0;
        uint16_t port;
        unsigned k = 1;
        bool had_network;
        int r;

#define FAIL(errnum, fmt, ...)                                                                     \
        cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_USAGE, errnum, "--allow '%s': " fmt,     \
                host_port ?: "", __VA_ARGS__)
        if (!p)
                return -EINVAL;
        r = policy_parse_host_port(host_port, &host, &port, &why);
        if (r == -ENOMEM)
                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_NO_MEMORY, ENOMEM, "out of memory");
        if (r < 0)
                return FAIL(0, "%s", why);
        why = policy_host_problem(host, false);
        if (why)
                return FAIL(0, "host '%s' %s", host, why);
        for (size_t i = 0; i < p->n_network; i++)
                n_endpoints += p->network[i].n_endpoints;
        if (n_endpoints >= POLICY_MAX_ENDPOINTS || p->n_network >= POLICY_MAX_LIST)
                return FAIL(0, "the policy already has %zu endpoints, the limit", n_endpoints);

        /* The first free "cli-allow-N": unique even if a policy file used such a key. */
        for (size_t i = 0; i < p->n_network; i++) {
                char key[32];

                (void) snprintf(key, sizeof key, "cli-allow-%u", k);
                if (streq(p->network[i].key, key)) {
                        k++;
                        i = (size_t) -1; /* start over with the next number */
                }
        }
        if (asprintf(&e.key, "cli-allow-%u", k) < 0) {
                e.key = NULL;
                goto oom;
        }
        e.name = strdup(e.key);
        e.endpoints = calloc(1, sizeof *e.endpoints);
        e.binaries = calloc(1, sizeof *e.binaries);
        if (!e.name || !e.endpoints || !e.binaries)
                goto oom;
        e.n_endpoints = 1;
        e.endpoints[0].host = TAKE_PTR(host);
        e.endpoints[0].ports = calloc(1, sizeof *e.endpoints[0].ports);
        if (!e.endpoints[0].ports)
                goto oom;
        e.endpoints[0].ports[0] = port;
        e.endpoints[0].n_ports = 1;
        /* Any binary: --allow is the user's ad-hoc grant, and `run` says so at start. */
        e.binaries[0] = strdup("/**");
        if (!e.binaries[0])
                goto oom;
        e.n_binaries = 1;

        v = realloc(p->network, (p->n_network + 1) * sizeof *p->network);
        if (!v)
                goto oom;
        p->network = v;
        p->network[p->n_network++] = e;
        had_network = p->has_network_policies;
        p->has_network_policies = true;
        /* The same rules and verdicts as a loaded entry (a middleware may select it). */
        r = policy_validate(p, err);
        if (r < 0) {
                char msg[sizeof err->msg];

                p->n_network--;
                entry_done(&p->network[p->n_network]);
                p->has_network_policies = had_network;
                (void) policy_validate(p, NULL); /* restore the verdicts it had */
                if (err) {
                        (void) snprintf(msg, sizeof msg, "%s", err->msg);
                        return FAIL(0, "%s", msg);
                }
                return r;
        }
        return 0;
oom:
        entry_done(&e);
        return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_NO_MEMORY, ENOMEM, "out of memory");
#undef FAIL
}
