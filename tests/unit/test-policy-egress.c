/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The egress decision engine (src/policy/policy-egress.c): address classes, host wildcards,
 * ports, allowed_ips, hostless endpoints, binaries globs and ancestors, the SSRF rules, L7
 * refusal and widening, entries that allow nothing, --allow, the DNS gateway's names, and
 * the shipped policies, each of whose endpoints is explained for its own binary and denied
 * for another. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "caisson/reasons.h"
#include "macro.h"
#include "policy/policy-egress.h"
#include "policy/policy.h"
#include "util.h"

static struct policy *load_ok(const char *y) {
        struct caisson_error err = {};
        struct policy *p = NULL;
        int r = policy_load(y, strlen(y), "t.yaml", &p, &err);

        cr_assert_eq(r, 0, "policy_load failed (%d): %s\n--- input:\n%s", r, err.msg, y);
        return p;
}

/* A request: host may be NULL; ip may be NULL (by name only); bins NULL-terminated. */
struct req {
        struct egress_request r;
        const char *bins[8];
};

static void mkreq(struct req *q, const char *host, const char *ip, uint16_t port, ...) {
        va_list ap;
        const char *b;

        memset(q, 0, sizeof *q);
        q->r.host = host;
        q->r.port = port;
        if (ip) {
                if (inet_pton(AF_INET, ip, q->r.addr) == 1)
                        q->r.family = AF_INET;
                else {
                        cr_assert_eq(inet_pton(AF_INET6, ip, q->r.addr), 1, "bad test address %s", ip);
                        q->r.family = AF_INET6;
                }
        }
        va_start(ap, port);
        while ((b = va_arg(ap, const char *)) && q->r.n_binaries < ELEMENTSOF(q->bins))
                q->bins[q->r.n_binaries++] = b;
        va_end(ap);
        q->r.binaries = q->bins;
}

static struct egress_decision decide(const struct policy *p, const char *host, const char *ip,
                                     uint16_t port, const char *bin) {
        struct egress_decision d;
        struct req q;

        mkreq(&q, host, ip, port, bin, NULL);
        cr_assert_eq(policy_egress_decide(p, &q.r, &d), d.allow);
        return d;
}

#define ASSERT_ALLOW(d)                                                                            \
        cr_assert((d).allow, "want allow, got %s: %s", caisson_reason_to_string((d).reason),        \
                  (d).detail)
#define ASSERT_DENY(d, why)                                                                        \
        do {                                                                                       \
                cr_assert_not((d).allow, "want deny, got allow: %s", (d).detail);                  \
                cr_assert_eq((d).reason, CAISSON_REASON_##why, "want %s, got %s: %s",               \
                             caisson_reason_to_string(CAISSON_REASON_##why),                        \
                             caisson_reason_to_string((d).reason), (d).detail);                    \
        } while (0)

#define V "version: 1\nnetwork_policies:\n"
#define ANY "    binaries: [{ path: \"/**\" }]\n"

/* ---------------------------------------------------------------- address classes */

static enum egress_addr_class cls(const char *ip) {
        uint8_t a[16] = {};

        if (inet_pton(AF_INET, ip, a) == 1)
                return egress_addr_classify(AF_INET, a);
        cr_assert_eq(inet_pton(AF_INET6, ip, a), 1, "%s", ip);
        return egress_addr_classify(AF_INET6, a);
}

Test(egress_addr, ipv4) {
        cr_assert_eq(cls("8.8.8.8"), EGRESS_ADDR_PUBLIC);
        cr_assert_eq(cls("93.184.216.34"), EGRESS_ADDR_PUBLIC);
        cr_assert_eq(cls("127.0.0.1"), EGRESS_ADDR_LOOPBACK);
        cr_assert_eq(cls("127.255.0.9"), EGRESS_ADDR_LOOPBACK);
        cr_assert_eq(cls("169.254.169.254"), EGRESS_ADDR_LINK_LOCAL);
        cr_assert_eq(cls("0.0.0.0"), EGRESS_ADDR_UNSPECIFIED);
        cr_assert_eq(cls("0.1.2.3"), EGRESS_ADDR_UNSPECIFIED);
        cr_assert_eq(cls("224.0.0.1"), EGRESS_ADDR_UNSPECIFIED);
        cr_assert_eq(cls("255.255.255.255"), EGRESS_ADDR_UNSPECIFIED);
        cr_assert_eq(cls("10.0.0.1"), EGRESS_ADDR_PRIVATE);
        cr_assert_eq(cls("172.16.0.1"), EGRESS_ADDR_PRIVATE);
        cr_assert_eq(cls("172.31.255.255"), EGRESS_ADDR_PRIVATE);
        cr_assert_eq(cls("172.32.0.1"), EGRESS_ADDR_PUBLIC);
        cr_assert_eq(cls("192.168.1.1"), EGRESS_ADDR_PRIVATE);
        cr_assert_eq(cls("100.64.0.1"), EGRESS_ADDR_PRIVATE);
        cr_assert_eq(cls("100.128.0.1"), EGRESS_ADDR_PUBLIC);
        cr_assert_eq(cls("198.18.0.7"), EGRESS_ADDR_PRIVATE);
        cr_assert_eq(cls("192.0.2.1"), EGRESS_ADDR_PRIVATE);
}

Test(egress_addr, ipv6) {
        cr_assert_eq(cls("::1"), EGRESS_ADDR_LOOPBACK);
        cr_assert_eq(cls("::"), EGRESS_ADDR_UNSPECIFIED);
        cr_assert_eq(cls("::127.0.0.1"), EGRESS_ADDR_UNSPECIFIED, "IPv4-compatible is never reachable");
        cr_assert_eq(cls("fe80::1"), EGRESS_ADDR_LINK_LOCAL);
        cr_assert_eq(cls("febf::1"), EGRESS_ADDR_LINK_LOCAL);
        cr_assert_eq(cls("fd00::1"), EGRESS_ADDR_PRIVATE);
        cr_assert_eq(cls("fc00::1"), EGRESS_ADDR_PRIVATE);
        cr_assert_eq(cls("ff02::1"), EGRESS_ADDR_UNSPECIFIED);
        cr_assert_eq(cls("2001:4860:4860::8888"), EGRESS_ADDR_PUBLIC);
        cr_assert_eq(cls("64:ff9b::7f00:1"), EGRESS_ADDR_LOOPBACK, "NAT64 of 127.0.0.1");
        cr_assert_eq(cls("64:ff9b::808:808"), EGRESS_ADDR_PUBLIC);
}

Test(egress_addr, ipv4_mapped) {
        cr_assert_eq(cls("::ffff:127.0.0.1"), EGRESS_ADDR_LOOPBACK);
        cr_assert_eq(cls("::ffff:169.254.169.254"), EGRESS_ADDR_LINK_LOCAL);
        cr_assert_eq(cls("::ffff:10.1.2.3"), EGRESS_ADDR_PRIVATE);
        cr_assert_eq(cls("::ffff:0.0.0.0"), EGRESS_ADDR_UNSPECIFIED);
        cr_assert_eq(cls("::ffff:8.8.8.8"), EGRESS_ADDR_PUBLIC);
}

/* ---------------------------------------------------------------- hosts and ports */

Test(egress_decide, exact_and_case) {
        _cleanup_(policy_freep) struct policy *p =
                load_ok(V "  e:\n    endpoints: [{ host: API.Example.com, port: 443 }]\n" ANY);
        struct egress_decision d;

        d = decide(p, "api.example.com", NULL, 443, "/usr/bin/curl");
        ASSERT_ALLOW(d);
        cr_assert_str_eq(d.by_name, "api.example.com", "decided by name: the relay checks SNI/Host");
        cr_assert_str_eq(d.entry->key, "e");
        cr_assert_str_eq(d.endpoint->host, "API.Example.com");
        cr_assert_str_eq(d.matched_binary, "/**");
        cr_assert(strstr(d.detail, "entry 'e'"), "%s", d.detail);
        ASSERT_ALLOW(decide(p, "API.EXAMPLE.COM.", NULL, 443, "/x"));
        ASSERT_DENY(decide(p, "example.com", NULL, 443, "/x"), EGRESS_NO_MATCH);
        ASSERT_DENY(decide(p, "api.example.com.evil.net", NULL, 443, "/x"), EGRESS_NO_MATCH);
        ASSERT_DENY(decide(p, "xapi.example.com", NULL, 443, "/x"), EGRESS_NO_MATCH);
        ASSERT_DENY(decide(p, NULL, "93.184.216.34", 443, "/x"), EGRESS_NO_MATCH);
        cr_assert_null(decide(p, "other.com", NULL, 443, "/x").entry);
}

Test(egress_decide, wildcard_hosts) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "  one:\n    endpoints: [{ host: \"*.one.com\", port: 443 }]\n" ANY
                  "  many:\n    endpoints: [{ host: \"**.many.com\", port: 443 }]\n" ANY
                  "  part:\n    endpoints: [{ host: \"api-*.part.com\", port: 443 }]\n" ANY);

        ASSERT_ALLOW(decide(p, "a.one.com", NULL, 443, "/x"));
        ASSERT_DENY(decide(p, "a.b.one.com", NULL, 443, "/x"), EGRESS_NO_MATCH);
        ASSERT_DENY(decide(p, "one.com", NULL, 443, "/x"), EGRESS_NO_MATCH);
        ASSERT_ALLOW(decide(p, "a.many.com", NULL, 443, "/x"));
        ASSERT_ALLOW(decide(p, "a.b.c.many.com", NULL, 443, "/x"));
        ASSERT_DENY(decide(p, "many.com", NULL, 443, "/x"), EGRESS_NO_MATCH);
        ASSERT_ALLOW(decide(p, "api-eu.part.com", NULL, 443, "/x"));
        ASSERT_DENY(decide(p, "web-eu.part.com", NULL, 443, "/x"), EGRESS_NO_MATCH);
        cr_assert_str_eq(decide(p, "x.y.many.com", NULL, 443, "/x").entry->key, "many");
}

Test(egress_decide, ports) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "  e:\n    endpoints:\n      - { host: a.com, ports: [80, 443] }\n"
                  "      - { host: b.com, port: 22, ports: [8443] }\n" ANY);

        ASSERT_ALLOW(decide(p, "a.com", NULL, 80, "/x"));
        ASSERT_ALLOW(decide(p, "a.com", NULL, 443, "/x"));
        ASSERT_DENY(decide(p, "a.com", NULL, 8443, "/x"), EGRESS_NO_MATCH);
        ASSERT_ALLOW(decide(p, "b.com", NULL, 8443, "/x"));
        ASSERT_DENY(decide(p, "b.com", NULL, 22, "/x"), EGRESS_NO_MATCH); /* ports wins */
}

/* ---------------------------------------------------------------- addresses */

Test(egress_decide, allowed_ips_ranges) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "  lan:\n    endpoints:\n"
                  "      - { allowed_ips: [\"10.1.0.0/16\", \"192.168.7.9\"], port: 8080 }\n"
                  "      - { allowed_ips: [\"fd00:1::/32\", \"::ffff:172.20.0.0/112\"], port: 8080 }\n" ANY);

        ASSERT_ALLOW(decide(p, NULL, "10.1.0.0", 8080, "/x"));
        ASSERT_ALLOW(decide(p, NULL, "10.1.255.255", 8080, "/x"));
        ASSERT_DENY(decide(p, NULL, "10.2.0.1", 8080, "/x"), EGRESS_NO_MATCH);
        ASSERT_DENY(decide(p, NULL, "10.1.0.1", 8081, "/x"), EGRESS_NO_MATCH);
        ASSERT_ALLOW(decide(p, NULL, "192.168.7.9", 8080, "/x"));
        ASSERT_DENY(decide(p, NULL, "192.168.7.10", 8080, "/x"), EGRESS_NO_MATCH);
        ASSERT_ALLOW(decide(p, NULL, "fd00:1:ffff::5", 8080, "/x"));
        ASSERT_DENY(decide(p, NULL, "fd00:2::5", 8080, "/x"), EGRESS_NO_MATCH);
        /* IPv4-mapped destinations and CIDRs are IPv4. */
        ASSERT_ALLOW(decide(p, NULL, "::ffff:10.1.2.3", 8080, "/x"));
        ASSERT_ALLOW(decide(p, NULL, "172.20.0.77", 8080, "/x"));
        ASSERT_DENY(decide(p, NULL, "172.21.0.77", 8080, "/x"), EGRESS_NO_MATCH);
}

Test(egress_decide, hostless_endpoint) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "  lan:\n    endpoints: [{ allowed_ips: [\"10.1.0.0/16\"], port: 8080 }]\n" ANY);
        const struct policy_network_entry *e = NULL;
        struct egress_decision d;

        /* Any name resolving into the range, decided on the address: no SNI/Host demand. */
        d = decide(p, "whatever.internal", "10.1.2.3", 8080, "/x");
        ASSERT_ALLOW(d);
        cr_assert_null(d.by_name);
        /* By name alone there is no address to check. */
        ASSERT_DENY(decide(p, "whatever.internal", NULL, 8080, "/x"), EGRESS_NO_MATCH);
        /* It opens no DNS. */
        cr_assert_not(policy_dns_allowed(p, "whatever.internal", true, &e));
        cr_assert_null(e);
}

Test(egress_decide, ip_literal_host) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "  e:\n    endpoints: [{ host: 10.9.8.7, port: 443 }, { host: \"2001:db8::5\", port: 443 }]\n" ANY);

        /* The user named this private address: allowed, on the address. */
        ASSERT_ALLOW(decide(p, NULL, "10.9.8.7", 443, "/x"));
        cr_assert_null(decide(p, NULL, "10.9.8.7", 443, "/x").by_name);
        ASSERT_ALLOW(decide(p, "10.9.8.7", NULL, 443, "/x")); /* a literal given as the name */
        ASSERT_ALLOW(decide(p, NULL, "::ffff:10.9.8.7", 443, "/x"));
        ASSERT_ALLOW(decide(p, NULL, "2001:db8::5", 443, "/x"));
        ASSERT_DENY(decide(p, NULL, "10.9.8.6", 443, "/x"), EGRESS_NO_MATCH);
        cr_assert_not(policy_dns_allowed(p, "10.9.8.7", true, NULL), "an IP host opens no DNS");
}

/* ---------------------------------------------------------------- SSRF */

Test(egress_ssrf, never_reachable) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "  e:\n    endpoints: [{ host: \"**.example.com\", port: 80 }, { host: exact.example.com, port: 80 }]\n" ANY);
        struct egress_decision d;
        struct req q;

        ASSERT_ALLOW(decide(p, "exact.example.com", "93.184.216.34", 80, "/x"));
        ASSERT_DENY(decide(p, "exact.example.com", "127.0.0.1", 80, "/x"), EGRESS_LOOPBACK);
        ASSERT_DENY(decide(p, "exact.example.com", "::1", 80, "/x"), EGRESS_LOOPBACK);
        ASSERT_DENY(decide(p, "exact.example.com", "::ffff:127.0.0.1", 80, "/x"), EGRESS_LOOPBACK);
        ASSERT_DENY(decide(p, "exact.example.com", "169.254.169.254", 80, "/x"), EGRESS_LINK_LOCAL);
        ASSERT_DENY(decide(p, "exact.example.com", "fe80::1", 80, "/x"), EGRESS_LINK_LOCAL);
        ASSERT_DENY(decide(p, "exact.example.com", "0.0.0.0", 80, "/x"), EGRESS_HOST_ADDRESS);
        cr_assert_null(decide(p, "exact.example.com", "127.0.0.1", 80, "/x").entry);

        mkreq(&q, "exact.example.com", "93.184.216.34", 80, "/x", NULL);
        q.r.addr_is_host_own = true;
        cr_assert_not(policy_egress_decide(p, &q.r, &d));
        ASSERT_DENY(d, EGRESS_HOST_ADDRESS);
}

Test(egress_ssrf, private_ranges) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "  wild:\n    endpoints: [{ host: \"*.corp.com\", port: 443 }]\n" ANY
                  "  wildips:\n    endpoints: [{ host: \"*.lab.com\", port: 443, allowed_ips: [\"10.5.0.0/16\"] }]\n" ANY
                  "  exact:\n    endpoints: [{ host: git.corp.net, port: 443 }]\n" ANY);

        /* A wildcard reaches public addresses, never private ones without allowed_ips. */
        ASSERT_ALLOW(decide(p, "a.corp.com", "93.184.216.34", 443, "/x"));
        ASSERT_DENY(decide(p, "a.corp.com", "10.0.0.5", 443, "/x"), EGRESS_PRIVATE);
        ASSERT_DENY(decide(p, "a.corp.com", "fd00::5", 443, "/x"), EGRESS_PRIVATE);
        ASSERT_DENY(decide(p, "a.corp.com", "::ffff:192.168.1.1", 443, "/x"), EGRESS_PRIVATE);
        cr_assert_str_eq(decide(p, "a.corp.com", "10.0.0.5", 443, "/x").entry->key, "wild");
        /* With allowed_ips: only inside them, public or private. */
        ASSERT_ALLOW(decide(p, "a.lab.com", "10.5.1.1", 443, "/x"));
        ASSERT_DENY(decide(p, "a.lab.com", "10.6.1.1", 443, "/x"), EGRESS_PRIVATE);
        ASSERT_DENY(decide(p, "a.lab.com", "93.184.216.34", 443, "/x"), EGRESS_NO_MATCH);
        /* An exact name is trusted with a private address. */
        ASSERT_ALLOW(decide(p, "git.corp.net", "10.0.0.5", 443, "/x"));
        ASSERT_ALLOW(decide(p, "git.corp.net", "fd00::5", 443, "/x"));
}

/* ---------------------------------------------------------------- binaries */

Test(egress_binary, globs) {
        cr_assert(policy_binary_match("/usr/bin/curl", "/usr/bin/curl"));
        cr_assert_not(policy_binary_match("/usr/bin/curl", "/usr/bin/curl2"));
        cr_assert(policy_binary_match("/usr/bin/*", "/usr/bin/curl"));
        cr_assert_not(policy_binary_match("/usr/bin/*", "/usr/bin/x/curl"), "'*' stays in one component");
        cr_assert_not(policy_binary_match("/usr/*", "/usr/bin/curl"));
        cr_assert(policy_binary_match("/usr/**", "/usr/bin/curl"));
        cr_assert(policy_binary_match("/usr/**", "/usr/lib/node_modules/x/bin/y"));
        cr_assert(policy_binary_match("/**", "/anything/at/all"));
        cr_assert(policy_binary_match("/usr/**/node", "/usr/local/bin/node"));
        cr_assert_not(policy_binary_match("/usr/**/node", "/usr/local/bin/nodejs"));
        cr_assert(policy_binary_match("/home/*/.local/bin/claude", "/home/ann/.local/bin/claude"));
        cr_assert_not(policy_binary_match("/home/*/.local/bin/claude", "/home/a/b/.local/bin/claude"));
        cr_assert(policy_binary_match("/usr/lib/git-core/git-remote-http*", "/usr/lib/git-core/git-remote-https"));
        cr_assert(policy_binary_match("/usr/bin/python3.*", "/usr/bin/python3.11"));
        cr_assert(policy_binary_match("/usr/bin/python?*", "/usr/bin/python3"));
        cr_assert_not(policy_binary_match("/usr/bin/?*", "/usr/bin/"));
        /* Without '*' the path is compared exactly, as in OpenShell's Rego. */
        cr_assert_not(policy_binary_match("/usr/bin/python?", "/usr/bin/python3"));
        cr_assert(policy_binary_match("/usr/bin/python?", "/usr/bin/python?"));
        cr_assert_not(policy_binary_match("/usr/bin/*", NULL));
}

Test(egress_binary, hostile_pattern_is_fast) {
        char path[4001], glob[200];
        struct timespec a, b;

        memset(path, 'a', sizeof path - 1);
        path[0] = '/';
        path[sizeof path - 1] = 0;
        (void) snprintf(glob, sizeof glob, "/*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b");
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < 20; i++)
                cr_assert_not(policy_binary_match(glob, path));
        clock_gettime(CLOCK_MONOTONIC, &b);
        cr_assert_lt((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000, 2000);
}

Test(egress_binary, executable_and_ancestors) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "  e:\n    endpoints: [{ host: a.com, port: 443 }]\n"
                  "    binaries: [{ path: /usr/bin/node }, { path: \"/opt/tool/**\" }]\n");
        struct egress_decision d;
        struct req q;

        mkreq(&q, "a.com", NULL, 443, "/usr/bin/curl", "/bin/bash", "/usr/bin/node", NULL);
        cr_assert(policy_egress_decide(p, &q.r, &d), "%s", d.detail);
        cr_assert_str_eq(d.matched_binary, "/usr/bin/node");
        cr_assert_str_eq(d.matched_path, "/usr/bin/node");
        cr_assert_eq(d.matched_depth, 2);

        mkreq(&q, "a.com", NULL, 443, "/opt/tool/v1/bin/tool", NULL);
        cr_assert(policy_egress_decide(p, &q.r, &d), "%s", d.detail);
        cr_assert_eq(d.matched_depth, 0);

        mkreq(&q, "a.com", NULL, 443, "/usr/bin/curl", "/bin/bash", NULL);
        cr_assert_not(policy_egress_decide(p, &q.r, &d));
        ASSERT_DENY(d, EGRESS_BINARY_MISMATCH);
        cr_assert_str_eq(d.entry->key, "e", "a denial names the entry that came closest");
        cr_assert(strstr(d.detail, "/usr/bin/curl is not in its binaries"), "%s", d.detail);

        mkreq(&q, "a.com", NULL, 443, NULL);
        cr_assert_not(policy_egress_decide(p, &q.r, &d));
        ASSERT_DENY(d, EGRESS_IDENTITY_UNKNOWN);

        /* explain without --binary: the endpoint decides, the entry's globs are listed. */
        q.r.any_binary = true;
        cr_assert(policy_egress_decide(p, &q.r, &d), "%s", d.detail);
        cr_assert_null(d.matched_binary);
}

Test(egress_binary, allows_nothing) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "  none:\n    endpoints: [{ host: a.com, port: 443 }]\n"
                  "  rel:\n    endpoints: [{ host: b.com, port: 443 }]\n    binaries: [{ path: bin/curl }]\n");
        struct egress_decision d;
        struct req q;

        ASSERT_DENY(decide(p, "a.com", NULL, 443, "/usr/bin/curl"), EGRESS_ALLOWS_NOTHING);
        ASSERT_DENY(decide(p, "b.com", NULL, 443, "bin/curl"), EGRESS_ALLOWS_NOTHING);
        cr_assert_str_eq(decide(p, "a.com", NULL, 443, "/x").entry->key, "none");
        mkreq(&q, "a.com", NULL, 443, NULL);
        q.r.any_binary = true;
        cr_assert_not(policy_egress_decide(p, &q.r, &d), "no binary makes an empty entry allow");
        ASSERT_DENY(d, EGRESS_ALLOWS_NOTHING);
        cr_assert_not(policy_dns_allowed(p, "a.com", true, NULL), "and it opens no DNS");
        cr_assert_not(policy_dns_allowed(p, "b.com", true, NULL));
        cr_assert_eq(policy_endpoint_verdict(&p->network[0], &p->network[0].endpoints[0]),
                     POLICY_VERDICT_ALLOWS_NOTHING);
}

/* ---------------------------------------------------------------- L7 */

#define L7_POLICY                                                                                  \
        V "  api:\n    endpoints:\n"                                                               \
          "      - { host: gh.com, port: 443, protocol: rest, enforcement: enforce, access: read-only }\n" \
          "      - { host: audit.com, port: 443, protocol: rest, access: read-only }\n" ANY              \
          "network_middlewares:\n  scrub:\n    middleware: openshell/regex\n    order: 1\n"           \
          "    endpoints: { include: [\"mw.com\"] }\n"

Test(egress_l7, refused_unless_widened) {
        _cleanup_(policy_freep) struct policy *p = NULL;
        struct egress_decision d;
        struct req q;
        struct caisson_error err = {};

        p = load_ok(L7_POLICY);
        cr_assert_eq(policy_add_allow(p, "mw.com:443", &err), 0, "%s", err.msg);

        d = decide(p, "gh.com", NULL, 443, "/x");
        ASSERT_DENY(d, EGRESS_L7_REFUSED);
        cr_assert(strstr(d.detail, "--widen-l7"), "%s", d.detail);
        cr_assert_eq(policy_endpoint_verdict(d.entry, d.endpoint), POLICY_VERDICT_REFUSED);

        mkreq(&q, "gh.com", NULL, 443, "/x", NULL);
        q.r.widen_l7 = true;
        cr_assert(policy_egress_decide(p, &q.r, &d), "%s", d.detail);
        cr_assert(d.widened);

        /* Audit-only: enforced at L4, the skipped audit said. */
        d = decide(p, "audit.com", NULL, 443, "/x");
        ASSERT_ALLOW(d);
        cr_assert_not(d.widened);
        cr_assert(d.l7_audit_skipped);
        cr_assert_eq(policy_endpoint_verdict(d.entry, d.endpoint), POLICY_VERDICT_DEGRADED);

        /* A middleware refuses what it selects, even an --allow entry. */
        ASSERT_DENY(decide(p, "mw.com", NULL, 443, "/x"), EGRESS_L7_REFUSED);
        mkreq(&q, "mw.com", NULL, 443, "/x", NULL);
        q.r.widen_l7 = true;
        cr_assert(policy_egress_decide(p, &q.r, &d), "%s", d.detail);
        cr_assert(d.widened);

        /* DNS follows the same rule. */
        cr_assert_not(policy_dns_allowed(p, "gh.com", false, NULL));
        cr_assert(policy_dns_allowed(p, "gh.com", true, NULL));
        cr_assert(policy_dns_allowed(p, "audit.com", false, NULL));
}

Test(egress_l7, plain_entry_preferred_over_widened) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "  a_l7:\n    endpoints: [{ host: x.com, port: 443, protocol: rest, enforcement: enforce, access: read-only }]\n" ANY
                  "  b_plain:\n    endpoints: [{ host: x.com, port: 443 }]\n" ANY);
        struct egress_decision d;
        struct req q;

        mkreq(&q, "x.com", NULL, 443, "/x", NULL);
        q.r.widen_l7 = true;
        cr_assert(policy_egress_decide(p, &q.r, &d));
        cr_assert_str_eq(d.entry->key, "b_plain");
        cr_assert_not(d.widened, "no widening when another entry allows it plainly");
}

Test(egress_decide, preference_and_key_order) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "  zz_name:\n    endpoints: [{ host: h.corp.net, port: 443 }]\n" ANY
                  "  yy_addr:\n    endpoints: [{ allowed_ips: [\"10.0.0.0/8\"], port: 443 }]\n" ANY
                  "  bb:\n    endpoints: [{ host: k.com, port: 443 }]\n" ANY
                  "  aa:\n    endpoints: [{ host: k.com, port: 443 }]\n" ANY);
        struct egress_decision d;

        /* Decided on the address wins: it admits any name, so the relay must demand none. */
        d = decide(p, "h.corp.net", "10.1.1.1", 443, "/x");
        ASSERT_ALLOW(d);
        cr_assert_str_eq(d.entry->key, "yy_addr");
        cr_assert_null(d.by_name);
        /* Otherwise the smallest key, as OpenShell logs. */
        cr_assert_str_eq(decide(p, "k.com", NULL, 443, "/x").entry->key, "aa");
}

/* ---------------------------------------------------------------- --allow */

Test(egress_allow, good) {
        _cleanup_(policy_freep) struct policy *p = load_ok("version: 1\n");
        struct caisson_error err = {};
        struct egress_decision d;

        cr_assert_not(p->has_network_policies);
        cr_assert_eq(policy_add_allow(p, "example.com:443", &err), 0, "%s", err.msg);
        cr_assert(p->has_network_policies);
        cr_assert_eq(policy_add_allow(p, "10.0.0.5:8080", &err), 0, "%s", err.msg);
        cr_assert_eq(policy_add_allow(p, "[2001:db8::1]:443", &err), 0, "%s", err.msg);
        cr_assert_eq(policy_add_allow(p, "*.example.org:443", &err), 0, "%s", err.msg);
        cr_assert_eq(p->n_network, 4);
        cr_assert_str_eq(p->network[0].key, "cli-allow-1");
        cr_assert_str_eq(p->network[3].key, "cli-allow-4");
        cr_assert_str_eq(p->network[2].endpoints[0].host, "2001:db8::1");
        cr_assert_str_eq(p->network[0].binaries[0], "/**");
        cr_assert_not(p->network[0].allows_nothing);

        d = decide(p, "example.com", "93.184.216.34", 443, "/any/binary");
        ASSERT_ALLOW(d);
        cr_assert_str_eq(d.entry->key, "cli-allow-1");
        cr_assert_str_eq(d.by_name, "example.com");
        ASSERT_DENY(decide(p, "example.com", NULL, 80, "/x"), EGRESS_NO_MATCH);
        ASSERT_ALLOW(decide(p, NULL, "10.0.0.5", 8080, "/x"));
        ASSERT_ALLOW(decide(p, NULL, "2001:db8::1", 443, "/x"));
        ASSERT_ALLOW(decide(p, "a.example.org", NULL, 443, "/x"));
        cr_assert(policy_dns_allowed(p, "example.com", false, NULL));
}

Test(egress_allow, key_unique) {
        _cleanup_(policy_freep) struct policy *p =
                load_ok(V "  cli-allow-1:\n    endpoints: [{ host: a.com, port: 1 }]\n" ANY);
        struct caisson_error err = {};

        cr_assert_eq(policy_add_allow(p, "b.com:2", &err), 0, "%s", err.msg);
        cr_assert_str_eq(p->network[1].key, "cli-allow-2");
}

static void expect_bad_allow(const char *arg, const char *what) {
        _cleanup_(policy_freep) struct policy *p =
                load_ok(V "  e:\n    endpoints: [{ host: a.com, port: 443 }]\n" ANY);
        struct caisson_error err = {};
        char want[300];

        cr_assert_lt(policy_add_allow(p, arg, &err), 0, "'%s' accepted", arg);
        (void) snprintf(want, sizeof want, "--allow '%s': ", arg);
        cr_assert(strncmp(err.msg, want, strlen(want)) == 0, "want '%s...', got: %s", want, err.msg);
        cr_assert(strstr(err.msg, what), "want '%s' in: %s", what, err.msg);
        cr_assert_eq(err.layer, CAISSON_LAYER_POLICY);
        cr_assert_eq(p->n_network, 1, "a failed --allow leaves the policy unchanged");
        ASSERT_ALLOW(decide(p, "a.com", NULL, 443, "/x"));
}

Test(egress_allow, bad) {
        expect_bad_allow("example.com", "has no port");
        expect_bad_allow("example.com:", "port must be 1-65535");
        expect_bad_allow("example.com:0", "port must be 1-65535");
        expect_bad_allow("example.com:65536", "port must be 1-65535");
        expect_bad_allow("example.com:99999999", "port must be 1-65535");
        expect_bad_allow("example.com:44x", "port must be 1-65535");
        expect_bad_allow("example.com:-1", "port must be 1-65535");
        expect_bad_allow(":443", "has no host");
        expect_bad_allow("", "is empty");
        expect_bad_allow("2001:db8::1:443", "write an IPv6 address as [ADDR]:PORT");
        expect_bad_allow("[2001:db8::1]443", "needs :PORT after the ']'");
        expect_bad_allow("[2001:db8::1:443", "without ']'");
        expect_bad_allow("[example.com]:443", "not an IPv6 address");
        expect_bad_allow("127.0.0.1:80", "loopback");
        expect_bad_allow("[::1]:80", "loopback");
        expect_bad_allow("169.254.169.254:80", "link-local");
        expect_bad_allow("*:443", "bare wildcard");
        expect_bad_allow("*.com:443", "top-level-domain wildcard");
        expect_bad_allow("exa mple.com:443", "characters not allowed");
}

/* ---------------------------------------------------------------- DNS */

Test(egress_dns, allowed_names) {
        _cleanup_(policy_freep) struct policy *p = load_ok(
                V "  exact:\n    endpoints: [{ host: api.example.com, port: 443 }]\n" ANY
                  "  wild:\n    endpoints: [{ host: \"*.cdn.example.net\", port: 443 }]\n" ANY
                  "  deep:\n    endpoints: [{ host: \"**.deep.org\", port: 443 }]\n" ANY);
        const struct policy_network_entry *e = NULL;

        cr_assert(policy_dns_allowed(p, "api.example.com", false, &e));
        cr_assert_str_eq(e->key, "exact");
        cr_assert(policy_dns_allowed(p, "API.EXAMPLE.COM.", false, &e));
        cr_assert_not(policy_dns_allowed(p, "example.com", false, &e));
        cr_assert_null(e);
        cr_assert_not(policy_dns_allowed(p, "x.api.example.com", false, NULL));
        cr_assert(policy_dns_allowed(p, "a.cdn.example.net", false, &e));
        cr_assert_str_eq(e->key, "wild");
        cr_assert_not(policy_dns_allowed(p, "a.b.cdn.example.net", false, NULL));
        cr_assert(policy_dns_allowed(p, "a.b.c.deep.org", false, NULL));
        cr_assert_not(policy_dns_allowed(p, "exfil-data-123.attacker.com", false, NULL));
        cr_assert_not(policy_dns_allowed(p, "", false, NULL));
        cr_assert_not(policy_dns_allowed(p, NULL, false, NULL));
}

/* ---------------------------------------------------------------- shipped policies */

/* A concrete path a glob matches: "**" -> "a/b", "*" -> "x". */
static void concrete(const char *glob, char *buf, size_t size) {
        size_t n = 0;

        for (const char *g = glob; *g && n + 4 < size;) {
                if (g[0] == '*' && g[1] == '*') {
                        memcpy(buf + n, "a/b", 3);
                        n += 3;
                        g += 2;
                } else if (g[0] == '*') {
                        buf[n++] = 'x';
                        g++;
                } else
                        buf[n++] = *g++;
        }
        buf[n] = 0;
}

static struct policy *load_shipped(const char *name) {
        const char *srcdir = getenv("CAISSON_SRCDIR");
        _cleanup_free_ char *buf = NULL;
        struct caisson_error err = {};
        struct policy *p = NULL;
        char path[4096];
        size_t size;

        cr_assert_not_null(srcdir, "CAISSON_SRCDIR is not set (run through meson test)");
        (void) snprintf(path, sizeof path, "%s/policies/%s", srcdir, name);
        cr_assert_eq(read_full_file(path, POLICY_MAX_BYTES, &buf, &size), 0, "%s", path);
        cr_assert_eq(policy_load(buf, size, name, &p, &err), 0, "%s", err.msg);
        cr_assert_eq(policy_expand(p, "/home/u", "/w", &err), 0, "%s", err.msg);
        return p;
}

static void explain_every_endpoint(const char *name) {
        _cleanup_(policy_freep) struct policy *p = load_shipped(name);
        size_t n_endpoints = 0;

        cr_assert(p->has_filesystem_policy, "%s: states its filesystem", name);
        cr_assert(p->include_workdir, "%s: the workdir is read-write", name);
        cr_assert_gt(p->n_network, 0, "%s: has network entries", name);
        for (size_t i = 0; i < p->n_network; i++) {
                const struct policy_network_entry *e = &p->network[i];

                cr_assert_not(e->allows_nothing, "%s: entry '%s' allows nothing", name, e->key);
                cr_assert_gt(e->n_endpoints, 0);
                for (size_t j = 0; j < e->n_endpoints; j++) {
                        const struct policy_endpoint *ep = &e->endpoints[j];
                        struct egress_decision d;
                        char bin[4096];

                        cr_assert_eq(policy_endpoint_verdict(e, ep), POLICY_VERDICT_ENFORCED,
                                     "%s: %s is not plainly enforced", name, ep->host);
                        cr_assert_not_null(ep->host, "%s: ready policies name their hosts", name);
                        cr_assert_not(policy_host_is_wildcard(ep->host),
                                      "%s: %s: a ready policy opens no DNS channel", name, ep->host);
                        /* Each of the entry's binaries, by name: allowed by this entry. */
                        for (size_t k = 0; k < e->n_binaries; k++) {
                                concrete(e->binaries[k], bin, sizeof bin);
                                for (size_t pi = 0; pi < ep->n_ports; pi++) {
                                        d = decide(p, ep->host, NULL, ep->ports[pi], bin);
                                        cr_assert(d.allow, "%s: %s:%u from %s: %s", name, ep->host,
                                                  ep->ports[pi], bin, d.detail);
                                        cr_assert_eq(d.entry, e, "%s: %s decided by '%s'", name,
                                                     ep->host, d.entry->key);
                                        cr_assert_str_eq(d.by_name, ep->host);
                                        cr_assert_not(d.widened);
                                }
                        }
                        /* Another binary, even one the agent itself runs: denied. */
                        d = decide(p, ep->host, NULL, ep->ports[0], "/usr/bin/python3");
                        cr_assert_not(d.allow, "%s: %s from python3 allowed", name, ep->host);
                        cr_assert_eq(d.reason, CAISSON_REASON_EGRESS_BINARY_MISMATCH);
                        /* At run time: a public address passes, loopback and metadata never. */
                        concrete(e->binaries[0], bin, sizeof bin);
                        ASSERT_ALLOW(decide(p, ep->host, "93.184.216.34", ep->ports[0], bin));
                        ASSERT_DENY(decide(p, ep->host, "127.0.0.1", ep->ports[0], bin), EGRESS_LOOPBACK);
                        ASSERT_DENY(decide(p, ep->host, "169.254.169.254", ep->ports[0], bin),
                                    EGRESS_LINK_LOCAL);
                        cr_assert(policy_dns_allowed(p, ep->host, false, NULL));
                        /* Another port of the same host: denied. */
                        ASSERT_DENY(decide(p, ep->host, NULL, 22, bin), EGRESS_NO_MATCH);
                        n_endpoints++;
                }
        }
        cr_assert_gt(n_endpoints, 0);
        /* Names nobody listed are refused by the gateway. */
        cr_assert_not(policy_dns_allowed(p, "example.invalid", true, NULL));
}

static bool has_path(const struct policy *p, const char *path, bool rw) {
        const struct policy_path *v = rw ? p->read_write : p->read_only;
        size_t n = rw ? p->n_read_write : p->n_read_only;

        for (size_t i = 0; i < n; i++)
                if (streq(v[i].path, path))
                        return true;
        return false;
}

/* A directory the agent keeps its state in: read-write, and made by run when missing. */
static bool has_state_dir(const struct policy *p, const char *path) {
        for (size_t i = 0; i < p->n_state_dirs; i++)
                if (streq(p->state_dirs[i].path, path))
                        return has_path(p, path, true);
        return false;
}

Test(ready_policies, claude_code) {
        _cleanup_(policy_freep) struct policy *p = load_shipped("claude-code.yaml");

        explain_every_endpoint("claude-code.yaml");
        cr_assert(has_state_dir(p, "/home/u/.claude"));
        /* Saved by rename beside it, which a file bind cannot take: read-only. */
        cr_assert(has_path(p, "/home/u/.claude.json", false));
        cr_assert_not(has_path(p, "/home/u/.claude.json", true));
        cr_assert(has_path(p, "/usr/lib/node_modules/@anthropic-ai/claude-code", false));
        cr_assert(has_path(p, "/home/u/.local/share/claude", false));
        cr_assert(has_path(p, "/home/u/.gitconfig", false));
        /* The npm package's native executable (/usr/bin/claude links to it), its
         * platform package's binary, and the native installer's. */
        ASSERT_ALLOW(decide(p, "api.anthropic.com", NULL, 443,
                            "/usr/lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe"));
        ASSERT_ALLOW(decide(p, "api.anthropic.com", NULL, 443,
                            "/usr/lib/node_modules/@anthropic-ai/claude-code/node_modules/"
                            "@anthropic-ai/claude-code-linux-x64/claude"));
        ASSERT_ALLOW(decide(p, "claude.ai", NULL, 443,
                            "/usr/local/lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe"));
        ASSERT_ALLOW(decide(p, "api.anthropic.com", NULL, 443,
                            "/home/ann/.local/share/claude/versions/2.0.1"));
        /* Claude Code no longer runs on node: a node script is not Claude Code. */
        ASSERT_DENY(decide(p, "api.anthropic.com", NULL, 443, "/usr/bin/node"),
                    EGRESS_BINARY_MISMATCH);
        ASSERT_DENY(decide(p, "api.openai.com", NULL, 443,
                           "/usr/lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe"),
                    EGRESS_NO_MATCH);
}

Test(ready_policies, codex) {
        _cleanup_(policy_freep) struct policy *p = load_shipped("codex.yaml");

        explain_every_endpoint("codex.yaml");
        cr_assert(has_state_dir(p, "/home/u/.codex"));
        cr_assert(has_path(p, "/usr/lib/node_modules/@openai/codex", false));
        /* bin/codex.js (node) starts the platform package's binary: that one connects. */
        ASSERT_ALLOW(decide(p, "chatgpt.com", NULL, 443,
                            "/usr/lib/node_modules/@openai/codex/node_modules/@openai/codex-linux-x64/"
                            "vendor/x86_64-unknown-linux-musl/bin/codex"));
        ASSERT_ALLOW(decide(p, "api.openai.com", NULL, 443,
                            "/usr/local/lib/node_modules/@openai/codex/node_modules/"
                            "@openai/codex-linux-arm64/vendor/aarch64-unknown-linux-musl/bin/codex"));
        ASSERT_ALLOW(decide(p, "api.openai.com", NULL, 443, "/usr/local/bin/codex"));
        ASSERT_DENY(decide(p, "api.openai.com", NULL, 443, "/usr/bin/node"), EGRESS_BINARY_MISMATCH);
        /* Its plugin sync (git from github.com) stays refused. */
        ASSERT_DENY(decide(p, "github.com", NULL, 443, "/usr/lib/git-core/git-remote-http"),
                    EGRESS_NO_MATCH);
}

Test(ready_policies, opencode) {
        _cleanup_(policy_freep) struct policy *p = load_shipped("opencode.yaml");

        explain_every_endpoint("opencode.yaml");
        cr_assert(has_state_dir(p, "/home/u/.config/opencode"));
        cr_assert(has_state_dir(p, "/home/u/.local/share/opencode"));
        cr_assert(has_state_dir(p, "/home/u/.local/state/opencode"));
        cr_assert(has_state_dir(p, "/home/u/.cache/opencode"));
        ASSERT_ALLOW(decide(p, "api.anthropic.com", NULL, 443, "/home/ann/.opencode/bin/opencode"));
        /* npm's package: the postinstall links the platform binary to bin/opencode.exe. */
        ASSERT_ALLOW(decide(p, "api.anthropic.com", NULL, 443,
                            "/usr/lib/node_modules/opencode-ai/bin/opencode.exe"));
        /* The model catalog, at its current address. */
        ASSERT_ALLOW(decide(p, "models.opencode.ai", NULL, 443,
                            "/usr/lib/node_modules/opencode-ai/bin/opencode.exe"));
        ASSERT_DENY(decide(p, "models.opencode.ai", NULL, 443, "/usr/bin/node"),
                    EGRESS_BINARY_MISMATCH);
}

Test(ready_policies, generic) {
        _cleanup_(policy_freep) struct policy *p = load_shipped("generic.yaml");
        struct egress_decision d;
        struct req q;

        explain_every_endpoint("generic.yaml");
        cr_assert_eq(p->n_network, 1, "git to one forge, nothing else");
        cr_assert_eq(p->network[0].n_endpoints, 1);
        /* git-remote-https (child of git) connects; curl run by the agent does not. */
        mkreq(&q, "github.com", NULL, 443, "/usr/lib/git-core/git-remote-https", "/usr/bin/git",
              "/bin/bash", NULL);
        cr_assert(policy_egress_decide(p, &q.r, &d), "%s", d.detail);
        /* Debian's git-remote-https links to git-remote-http, the name the kernel gives. */
        mkreq(&q, "github.com", NULL, 443, "/usr/lib/git-core/git-remote-http", "/usr/lib/git-core/git",
              "/usr/bin/git", NULL);
        cr_assert(policy_egress_decide(p, &q.r, &d), "%s", d.detail);
        ASSERT_DENY(decide(p, "github.com", NULL, 443, "/usr/bin/curl"), EGRESS_BINARY_MISMATCH);
        ASSERT_DENY(decide(p, "api.github.com", NULL, 443, "/usr/lib/git-core/git-remote-https"),
                    EGRESS_NO_MATCH);
}
