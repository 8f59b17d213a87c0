/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/policy/policy-egress.h — egress decisions from network_policies. Pure: used by the relay
 * and the DNS gateway at run time and by `caisson policy explain` offline, so both give the
 * same answer for the same question. */
#ifndef CAISSON_POLICY_EGRESS_H
#define CAISSON_POLICY_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caisson/reasons.h"
#include "policy/policy.h"

/* A destination address's class, for the SSRF rules (OpenShell's: loopback and link-local
 * never; private ranges — RFC 1918, 100.64/10, fc00::/7, ... — only through an exact
 * hostname or an allowed_ips entry that covers them). */
enum egress_addr_class {
        EGRESS_ADDR_PUBLIC,
        EGRESS_ADDR_PRIVATE,
        EGRESS_ADDR_LOOPBACK,     /* 127/8, ::1, ::ffff:127/104 */
        EGRESS_ADDR_LINK_LOCAL,   /* 169.254/16 (metadata), fe80::/10 */
        EGRESS_ADDR_UNSPECIFIED,  /* 0.0.0.0/8, ::, multicast, broadcast, reserved */
};
enum egress_addr_class egress_addr_classify(int family, const uint8_t *addr);

struct egress_request {
        int family;               /* AF_INET/AF_INET6 destination, or 0 (explain by name) */
        uint8_t addr[16];
        uint16_t port;
        /* The hostname the DNS gateway resolved to addr for this sandbox (lower-cased), or
         * the name given to `explain`; NULL if none. */
        const char *host;
        /* The client's executable, then its ancestors' (nearest first), absolute paths. */
        const char *const *binaries;
        size_t n_binaries;
        bool addr_is_host_own;    /* addr is one of the host's own addresses */
        bool widen_l7;            /* --widen-l7 given */
        /* `policy explain` without --binary: skip the binary check (an entry that allows
         * nothing still allows nothing). Never set at run time. */
        bool any_binary;
};

struct egress_decision {
        bool allow;
        enum caisson_reason reason;   /* EGRESS_ALLOWED or why not */
        const struct policy_network_entry *entry;   /* deciding entry, or NULL */
        const struct policy_endpoint *endpoint;     /* deciding endpoint, or NULL */
        const char *matched_binary;   /* the glob that matched, or NULL */
        const char *by_name;          /* allowed for this hostname: the relay must see it in the
                                       * TLS SNI or HTTP Host; NULL = decided on the address */
        bool widened;                 /* allowed only because of --widen-l7 */
        bool l7_audit_skipped;        /* the endpoint has audit-only L7 fields (not audited) */
        char detail[512];             /* one human phrase: "entry 'github' endpoint
                                       * api.github.com:443 allows /usr/bin/curl" */
        const char *matched_path;     /* which of req->binaries the glob matched, or NULL */
        size_t matched_depth;         /* its index: 0 = the executable, 1 = its parent, ... */
};

/* Decides one TCP connection. Order: address class (loopback, link-local, unspecified and
 * the host's own addresses are refused whatever the policy says); then each entry's
 * endpoints for a match on (host pattern matching req->host, or an allowed_ips range
 * covering addr) and port; then that entry's binaries globs against the executable and
 * its ancestors. Private addresses are allowed only through an exact (non-wildcard) host
 * or an allowed_ips range covering them. Endpoints refused for L7 reasons count only when
 * widen_l7. Always fills *d; returns d->allow.
 * When several entries allow, the one that needs no widening wins, then one decided on the
 * address (it admits every name, so the relay must not demand a name another entry would),
 * then the smallest key (OpenShell's choice for its audit log). A denial names the entry
 * and endpoint that came closest (host and port matched; then address; then binary), if
 * any: the reason is then EGRESS_PRIVATE, EGRESS_ALLOWS_NOTHING, EGRESS_BINARY_MISMATCH
 * (EGRESS_IDENTITY_UNKNOWN with no binaries) or EGRESS_L7_REFUSED; else EGRESS_NO_MATCH.
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is classified and matched as IPv4. */
bool policy_egress_decide(const struct policy *p, const struct egress_request *req,
                          struct egress_decision *d);

/* Whether the DNS gateway forwards a query for name: some entry that does not allow
 * nothing has an endpoint whose host pattern matches name (hostless allowed_ips endpoints
 * open no DNS; L7-refused endpoints only when widen_l7). Sets *entry to the first such
 * entry. */
bool policy_dns_allowed(const struct policy *p, const char *name, bool widen_l7,
                        const struct policy_network_entry **entry);

/* A binaries glob: '*' matches within one path component, '**' across components, '?'
 * one character (OpenShell's semantics, see OPENSHELL-POLICY.md). As in OpenShell's Rego, a
 * path without '*' is compared exactly ('?' is then an ordinary character). */
bool policy_binary_match(const char *glob, const char *path);

/* Splits "HOST:PORT", "[V6]:PORT" or "V4:PORT". On success *ret_host is a malloc'd host
 * (without brackets) and *ret_port 1..65535; else -EINVAL with *ret_why a static phrase
 * ("port must be 1-65535"), or -ENOMEM. Checks only the shape, not the host's rules. */
int policy_parse_host_port(const char *s, char **ret_host, uint16_t *ret_port,
                           const char **ret_why);

/* Adds the `--allow HOST:PORT` endpoint (any binary: "/" "**") as an entry keyed
 * "cli-allow-N". HOST is a hostname, an IPv4 literal or [IPv6]. Returns 0 or -EINVAL with
 * *err naming the argument. */
int policy_add_allow(struct policy *p, const char *host_port, struct caisson_error *err);

#endif
