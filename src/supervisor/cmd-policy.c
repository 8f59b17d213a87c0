/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caisson policy check FILE: validate, then say what each section enforces.
 * caisson policy explain FILE --connect HOST:PORT [--binary PATH]...: offline, the decision
 * the relay would make, by the same code (src/policy/policy-egress.c). */
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
#include "policy/policy.h"
#include "supervisor.h"

#define EXIT_DENY 1

/* Strings from a policy file reach the terminal: no escape sequences, no second lines. */
static const char *safe(const char *s, char *buf, size_t size) {
        (void) snprintf(buf, size, "%s", s ?: "");
        for (char *c = buf; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = '?';
        return buf;
}

static void print_note(const char *line, void *userdata) {
        const char *indent = userdata;

        printf("%snote: %s\n", indent ?: "  ", line);
}

static void print_paths(const char *what, const struct policy_path *v, size_t n) {
        char b[POLICY_MAX_PATH_LEN + 1];

        printf("  %s:", what);
        if (n == 0)
                printf(" (none)");
        for (size_t i = 0; i < n; i++)
                printf(" %s", safe(v[i].path, b, sizeof b));
        printf("\n");
}

static const char *pos_str(const struct policy *p, struct policy_pos pos, char *buf, size_t size) {
        char b[512];

        if (pos.line == 0)
                (void) snprintf(buf, size, "command line"); /* an --allow entry */
        else
                (void) snprintf(buf, size, "%s:%u:%u", safe(p->filename, b, sizeof b), pos.line,
                                pos.column);
        return buf;
}

static const char *endpoint_str(const struct policy_endpoint *ep, char *buf, size_t size) {
        char b[300];
        size_t n;

        if (ep->host)
                (void) snprintf(buf, size, "%s", safe(ep->host, b, sizeof b));
        else {
                buf[0] = 0;
                for (size_t i = 0; i < ep->n_allowed_ips; i++) {
                        n = strlen(buf);
                        (void) snprintf(buf + n, size - n, "%s%s", i ? "," : "(no host) allowed_ips ",
                                        safe(ep->allowed_ips[i], b, sizeof b));
                }
        }
        for (size_t i = 0; i < ep->n_ports; i++) {
                n = strlen(buf);
                (void) snprintf(buf + n, size - n, "%c%u", i == 0 ? ':' : ',', ep->ports[i]);
        }
        return buf;
}

static void print_binaries(const struct policy_network_entry *e) {
        char b[POLICY_MAX_PATH_LEN + 1];

        if (e->n_binaries == 0)
                printf("(none)");
        for (size_t i = 0; i < e->n_binaries; i++)
                printf("%s%s", i ? ", " : "", safe(e->binaries[i], b, sizeof b));
}

/* One line per endpoint: its verdict and the fields behind it, then the notices run gives
 * for it (the same lines, grouped under their endpoint). */
static void print_endpoint(const struct policy *p, const struct policy_network_entry *e,
                           const struct policy_endpoint *ep) {
        enum policy_verdict v = policy_endpoint_verdict(e, ep);
        char where[600], label[1024], f[300];

        printf("      %s [%s]: %s", endpoint_str(ep, label, sizeof label),
               pos_str(p, ep->pos, where, sizeof where), policy_verdict_to_string(v));
        switch (v) {
        case POLICY_VERDICT_ALLOWS_NOTHING:
                printf(" (binaries)\n");
                return; /* the entry's line says why and what to add */
        case POLICY_VERDICT_REFUSED:
                printf(" (needs --widen-l7: %s)\n", safe(ep->refused_by ?: ep->l7_fields ?: "L7", f, sizeof f));
                break;
        case POLICY_VERDICT_DEGRADED:
                printf(" (audit-only L7 not performed: %s)\n", safe(ep->l7_fields ?: "L7", f, sizeof f));
                break;
        case POLICY_VERDICT_ENFORCED:
        default:
                if (ep->host && strchr(ep->host, '*'))
                        printf(" (host pattern + port + binary; private addresses %s)\n",
                               ep->n_allowed_ips ? "only inside allowed_ips" : "refused");
                else if (ep->host)
                        printf(" (host + port + binary%s)\n",
                               ep->n_allowed_ips ? "; addresses only inside allowed_ips" : "");
                else
                        printf(" (address in allowed_ips + port + binary)\n");
                break;
        }
        policy_endpoint_notices(p, e, ep, print_note, (void *) "        ");
}

static void print_network(const struct policy *p) {
        if (!p->has_network_policies || p->n_network == 0) {
                printf("  network: none (loopback only)\n");
                return;
        }
        printf("  network: %zu entr%s; default deny: a connection needs one entry whose endpoint matches its host (or allowed_ips address) and port and whose binaries match the client's executable or an ancestor's\n",
               p->n_network, p->n_network == 1 ? "y" : "ies");
        printf("    names: decided by name, the relay also requires the TLS SNI or HTTP Host to be that name; loopback, link-local and the host's own addresses are never reachable\n");
        printf("    protocols: TCP through the relay and DNS through the gateway only; other UDP, ICMP and IPv6 to anything not listed are rejected by the fence (IPv6 UDP and ICMP even when an IPv6 endpoint is listed)\n");
        for (size_t i = 0; i < p->n_network; i++) {
                const struct policy_network_entry *e = &p->network[i];
                char where[600], b[300];

                printf("    entry '%s' [%s]: binaries ", safe(e->key, b, sizeof b),
                       pos_str(p, e->pos, where, sizeof where));
                print_binaries(e);
                printf("\n");
                /* Allows nothing / no endpoints: one line for the entry, as run says it. */
                (void) policy_entry_notices(p, e, print_note, (void *) "      ");
                for (size_t j = 0; j < e->n_endpoints; j++)
                        print_endpoint(p, e, &e->endpoints[j]);
        }
}

static int check(const char *file) {
        _cleanup_(policy_freep) struct policy *p = NULL;
        struct caisson_error err = { 0 };

        if (policy_load_file(file, &p, &err) < 0) {
                print_error(&err);
                return EXIT_CAISSON;
        }
        printf("%s: valid (version 1)\n", file);
        if (p->has_filesystem_policy) {
                printf("  filesystem: include_workdir=%s\n", p->include_workdir ? "true" : "false");
                print_paths("read_only", p->read_only, p->n_read_only);
                print_paths("read_write", p->read_write, p->n_read_write);
        } else
                printf("  filesystem: no filesystem_policy, the built-in default applies\n");
        if (p->n_state_dirs > 0)
                print_paths("state_directories (made by run as the run user, mode 0700, when "
                            "missing)", p->state_dirs, p->n_state_dirs);
        printf("  landlock: %s\n", p->landlock_compat == CAISSON_LANDLOCK_HARD_REQUIREMENT ?
                                           "hard_requirement (no Landlock = no run)" :
                                           "best_effort (runs without Landlock, and says so)");
        printf("  process: run_as_user=%s run_as_group=%s (never root)\n",
               p->run_as_user ?: "(default: SUDO_UID, else 65534)",
               p->run_as_group ?: "(the user's group)");
        /* Every line policy_notices() gives is printed here, under its entry and endpoint. */
        print_network(p);
        printf("  seccomp: default denylist, %zu extra denied, %zu allowed, on_violation=%s\n",
               p->n_seccomp_deny, p->n_seccomp_allow,
               p->seccomp_on_violation == CAISSON_VIOLATION_KILL ? "kill" : "errno");
        printf("  persistence: %s\n", p->persistence_protect ? "protected" : "NOT protected");
        if (p->has_resources)
                printf("  resources: memory=%llu pids=%llu cpu=%u/1000 on_unsupported=%s\n",
                       (unsigned long long) p->resources.memory_bytes,
                       (unsigned long long) p->resources.pids, p->resources.cpu_millis,
                       p->resources.on_unsupported == CAISSON_UNSUPPORTED_WARN ? "warn" : "refuse");
        return 0;
}

/* --- explain --- */

static const char *class_str(enum egress_addr_class c) {
        switch (c) {
        case EGRESS_ADDR_PUBLIC: return "public";
        case EGRESS_ADDR_PRIVATE: return "private";
        case EGRESS_ADDR_LOOPBACK: return "loopback";
        case EGRESS_ADDR_LINK_LOCAL: return "link-local";
        case EGRESS_ADDR_UNSPECIFIED: return "unspecified/multicast/reserved";
        }
        return "?";
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "caisson: policy explain: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (usage: caisson policy explain FILE --connect HOST:PORT [--binary PATH]... [--widen-l7])\n");
        return EXIT_CAISSON;
}

/* A hostless allowed_ips endpoint is decided on the address after resolution: with only a
 * name, say which ones could still admit it. */
static void hostless_hints(const struct policy *p, uint16_t port) {
        for (size_t i = 0; i < p->n_network; i++) {
                const struct policy_network_entry *e = &p->network[i];

                if (e->allows_nothing)
                        continue;
                for (size_t j = 0; j < e->n_endpoints; j++) {
                        const struct policy_endpoint *ep = &e->endpoints[j];
                        char label[1024], where[600], b[300];
                        bool has_port = false;

                        for (size_t k = 0; k < ep->n_ports; k++)
                                has_port = has_port || ep->ports[k] == port;
                        if (ep->host || !has_port)
                                continue;
                        printf("note: entry '%s' endpoint %s [%s] has no host: it admits this connection if the address is inside its allowed_ips; the gateway resolves a name for it only if another endpoint lists that name\n",
                               safe(e->key, b, sizeof b), endpoint_str(ep, label, sizeof label),
                               pos_str(p, ep->pos, where, sizeof where));
                }
        }
}

static int explain(int argc, char **argv) {
        _cleanup_(policy_freep) struct policy *p = NULL;
        _cleanup_free_ char *host = NULL;
        _cleanup_free_ const char **binaries = NULL;
        const char *file = NULL, *connect = NULL, *why = NULL;
        const struct policy_network_entry *dns_entry = NULL;
        struct caisson_error err = { 0 };
        struct egress_request req = {};
        struct egress_decision d;
        struct policy_cidr lit;
        size_t n_binaries = 0;
        char where[600], label[1024], b[600], b2[600];
        uint16_t port;
        bool dns;
        int r;

        binaries = calloc((size_t) argc + 1, sizeof *binaries);
        if (!binaries)
                return usage_error("out of memory");
        for (int i = 2; i < argc; i++) {
                const char *a = argv[i], *val = NULL;

                if (streq(a, "--widen-l7")) {
                        req.widen_l7 = true;
                        continue;
                }
                if (streq(a, "--connect") || streq(a, "--binary")) {
                        if (i + 1 >= argc)
                                return usage_error("%s needs a value", a);
                        val = argv[++i];
                } else if (strncmp(a, "--connect=", 10) == 0 || strncmp(a, "--binary=", 9) == 0)
                        val = strchr(a, '=') + 1;
                else if (a[0] == '-' && a[1])
                        return usage_error("unknown option '%s'", a);
                else if (!file) {
                        file = a;
                        continue;
                } else
                        return usage_error("unexpected argument '%s'", a);
                if (strncmp(a, "--connect", 9) == 0) {
                        if (connect)
                                return usage_error("--connect given twice");
                        connect = val;
                } else {
                        if (val[0] != '/')
                                return usage_error("--binary '%s' is not an absolute path", val);
                        binaries[n_binaries++] = val; /* the executable, then its ancestors */
                }
        }
        if (!file)
                return usage_error("no policy FILE");
        if (!connect)
                return usage_error("--connect HOST:PORT is required");
        r = policy_parse_host_port(connect, &host, &port, &why);
        if (r < 0) {
                fprintf(stderr, "caisson: policy explain: --connect '%s': %s\n",
                        safe(connect, b, sizeof b), why ?: "out of memory");
                return EXIT_CAISSON;
        }
        if (policy_parse_cidr(host, &lit) == 0 && !strchr(host, '/')) {
                req.family = lit.family;
                memcpy(req.addr, lit.addr, sizeof req.addr);
        } else if ((why = policy_host_problem(host, false)) || strchr(host, '*')) {
                fprintf(stderr, "caisson: policy explain: --connect '%s': host %s\n",
                        safe(connect, b, sizeof b), why ?: "must be a name, not a pattern");
                return EXIT_CAISSON;
        } else {
                for (char *c = host; *c; c++)
                        if (*c >= 'A' && *c <= 'Z')
                                *c = (char) (*c + 32); /* as the gateway lower-cases names */
                req.host = host;
        }
        req.port = port;
        req.binaries = binaries;
        req.n_binaries = n_binaries;
        req.any_binary = n_binaries == 0;

        if (policy_load_file(file, &p, &err) < 0) {
                print_error(&err);
                return EXIT_CAISSON;
        }

        (void) policy_egress_decide(p, &req, &d);

        printf("%s: connect %s", file, safe(connect, b, sizeof b));
        if (n_binaries > 0) {
                printf(" from %s", safe(binaries[0], b, sizeof b));
                for (size_t i = 1; i < n_binaries; i++)
                        printf(" <- %s", safe(binaries[i], b, sizeof b));
        }
        printf("%s\n", req.widen_l7 ? " (--widen-l7)" : "");
        printf("decision: %s (%s)\n", d.allow ? "allow" : "deny",
               caisson_reason_to_string(d.reason) ?: "?");
        printf("why: %s\n", d.detail);
        if (req.family)
                printf("address: %s is %s\n", safe(host, b, sizeof b),
                       class_str(egress_addr_classify(req.family, req.addr)));
        if (d.entry) {
                printf("%s: '%s' [%s]\n", d.allow ? "entry" : "closest entry",
                       safe(d.entry->key, b, sizeof b), pos_str(p, d.entry->pos, where, sizeof where));
                printf("endpoint: %s [%s], verdict %s\n", endpoint_str(d.endpoint, label, sizeof label),
                       pos_str(p, d.endpoint->pos, where, sizeof where),
                       policy_verdict_to_string(policy_endpoint_verdict(d.entry, d.endpoint)));
        }
        if (d.matched_binary)
                printf("binary: %s matches '%s'%s\n", safe(d.matched_path, b, sizeof b),
                       safe(d.matched_binary, b2, sizeof b2),
                       d.matched_depth > 0 ? " (an ancestor of the executable)" : "");
        else if (d.entry && n_binaries == 0 && !d.entry->allows_nothing) {
                printf("binaries: no --binary given; the entry admits a client whose executable or an ancestor's matches: ");
                print_binaries(d.entry);
                printf("\n");
        }
        if (d.widened)
                printf("widened: allowed only because of --widen-l7 (%s); every event of this entry says so\n",
                       safe(d.endpoint->refused_by ?: d.endpoint->l7_fields ?: "L7", b, sizeof b));
        if (d.l7_audit_skipped)
                printf("degraded: L7 inspection (%s) is not performed\n",
                       safe(d.endpoint->l7_fields ?: "L7", b, sizeof b));
        if (d.allow && d.by_name)
                printf("at run time: decided on the name; the address the DNS gateway resolves for %s is checked too (loopback, link-local and host addresses never; private only for an exact host or inside allowed_ips), and the relay requires the TLS SNI or HTTP Host to be %s\n",
                       d.by_name, d.by_name);
        else if (d.allow)
                printf("at run time: decided on the address; no name is required in TLS SNI or HTTP Host\n");
        if (req.host) {
                dns = policy_dns_allowed(p, req.host, req.widen_l7, &dns_entry);
                if (dns)
                        printf("dns: the gateway forwards '%s' (entry '%s')\n", req.host,
                               safe(dns_entry->key, b, sizeof b));
                else
                        printf("dns: the gateway refuses '%s' (no endpoint host of an entry that allows something matches it%s); it never reaches the upstream resolver\n",
                               req.host, req.widen_l7 ? "" : ", L7-refused endpoints not counted");
                if (!d.allow && d.reason == CAISSON_REASON_EGRESS_NO_MATCH)
                        hostless_hints(p, port);
        }
        return d.allow ? 0 : EXIT_DENY;
}

static void usage(FILE *f) {
        fprintf(f, "Usage: caisson policy check FILE\n"
                   "       caisson policy explain FILE --connect HOST:PORT [--binary PATH]... [--widen-l7]\n"
                   "\n"
                   "check    validate a policy; print what each section enforces and each network\n"
                   "         entry's and endpoint's verdict (enforced, degraded, refused, allows nothing)\n"
                   "explain  offline, the egress decision for one connection: allow or deny, the deciding\n"
                   "         entry and endpoint, the matched binary glob, the reason code, whether the DNS\n"
                   "         gateway forwards the name. HOST is a name or an IP address; --binary is the\n"
                   "         client's executable, repeated for its ancestors (nearest first). Exit 0 allow,\n"
                   "         1 deny, 125 bad policy or usage.\n");
}

int cmd_policy(int argc, char **argv) {
        if (argc == 3 && streq(argv[1], "check"))
                return check(argv[2]);
        if (argc >= 2 && streq(argv[1], "explain")) {
                for (int i = 2; i < argc; i++)
                        if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
                                usage(stdout);
                                return 0;
                        }
                return explain(argc, argv);
        }
        if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                usage(stdout);
                return 0;
        }
        fprintf(stderr, "caisson: policy: usage: caisson policy check FILE | caisson policy explain FILE --connect HOST:PORT [--binary PATH]... [--widen-l7]\n");
        return EXIT_CAISSON;
}
