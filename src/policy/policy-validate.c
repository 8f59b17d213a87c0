/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rules a policy must satisfy beyond its shape (OPENSHELL-POLICY.md), the verdict of each
 * endpoint's L7 fields, and the notices `policy check` and `run` print.
 *
 * Pure: strings in, verdicts out. inet_pton is the one libc parser used; it touches no
 * kernel object. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "macro.h"
#include "policy.h"

/* --- Paths --- */

const char *policy_path_problem(const char *path, bool read_write) {
        bool only_root = true;
        const char *p = path;

        if (!*path)
                return "is empty";
        if (strlen(path) > POLICY_MAX_PATH_LEN)
                return "is longer than 4096 characters";
        for (const char *v = strstr(path, "${"); v; v = strstr(v + 2, "${"))
                if (strncmp(v, "${HOME}", 7) != 0 && strncmp(v, "${WORKDIR}", 10) != 0)
                        return "uses a variable other than ${HOME} and ${WORKDIR}";
        /* A path with ${HOME}/${WORKDIR} is checked for being absolute once expanded. */
        if (path[0] != '/' && !strstr(path, "${"))
                return "is not absolute";
        while (*p) {
                const char *e = strchrnul(p, '/');
                size_t n = (size_t) (e - p);

                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return "has a '..' component";
                if (n > 0 && !(n == 1 && p[0] == '.'))
                        only_root = false;
                p = *e ? e + 1 : e;
        }
        /* "/", "//", "/./": all of the host writable is never what a policy means. */
        if (read_write && only_root && path[0] == '/')
                return "may not be read-write ('/' is the whole host)";
        return NULL;
}

/* The next component of a path at *s ("" at its end), skipping "/" and "." ones. */
static size_t next_component(const char **s) {
        for (;;) {
                const char *e;

                while (**s == '/')
                        (*s)++;
                e = strchrnul(*s, '/');
                if (e - *s == 1 && **s == '.') {
                        *s = e;
                        continue;
                }
                return (size_t) (e - *s);
        }
}

bool policy_path_within(const char *path, const char *dir) {
        for (;;) {
                size_t nd = next_component(&dir), np = next_component(&path);

                if (nd == 0)
                        return true;
                if (np != nd || memcmp(path, dir, nd) != 0)
                        return false;
                path += np;
                dir += nd;
        }
}

/* --- Addresses --- */

int policy_parse_cidr(const char *s, struct policy_cidr *ret) {
        char addr[INET6_ADDRSTRLEN + 1];
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t) (slash - s) : strlen(s);
        struct policy_cidr c = {};
        unsigned max;

        if (n == 0 || n >= sizeof addr)
                return -EINVAL;
        memcpy(addr, s, n);
        addr[n] = 0;
        if (inet_pton(AF_INET, addr, c.addr) == 1) {
                c.family = AF_INET;
                max = 32;
        } else if (inet_pton(AF_INET6, addr, c.addr) == 1) {
                c.family = AF_INET6;
                max = 128;
        } else
                return -EINVAL;
        c.prefix = max;
        if (slash) {
                const char *d = slash + 1;
                unsigned v = 0;

                if (!*d || strlen(d) > 3)
                        return -EINVAL;
                for (; *d; d++) {
                        if (*d < '0' || *d > '9')
                                return -EINVAL;
                        v = v * 10 + (unsigned) (*d - '0');
                }
                if (v > max)
                        return -EINVAL;
                c.prefix = v;
        }
        /* Host bits past the prefix mean nothing: clear them so matching is plain. */
        for (unsigned bit = c.prefix; bit < max; bit++)
                c.addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
        *ret = c;
        return 0;
}

static bool cidr_overlap(const struct policy_cidr *a, const struct policy_cidr *b) {
        unsigned p = a->prefix < b->prefix ? a->prefix : b->prefix;

        if (a->family != b->family)
                return false;
        for (unsigned bit = 0; bit < p; bit++) {
                uint8_t m = (uint8_t) (0x80u >> (bit % 8));

                if ((a->addr[bit / 8] & m) != (b->addr[bit / 8] & m))
                        return false;
        }
        return true;
}

/* The relay connects from the host's network namespace: an allowed loopback or link-local
 * address would reach the host's own services (and cloud metadata at 169.254.169.254), so
 * these are refused however they are spelled — including as IPv4-mapped (::ffff:127.0.0.1)
 * and IPv4-compatible (::127.0.0.1) IPv6 addresses, which some stacks deliver to IPv4. */
static bool cidr_forbidden(const struct policy_cidr *c) {
        static const char *const forbidden[] = {
                "127.0.0.0/8",         "169.254.0.0/16",        "0.0.0.0/32",
                "::1/128",             "::/128",                "fe80::/10",
                "::ffff:127.0.0.0/104", "::ffff:169.254.0.0/112", "::ffff:0.0.0.0/128",
                "::127.0.0.0/104",     "::169.254.0.0/112",
        };

        for (size_t i = 0; i < ELEMENTSOF(forbidden); i++) {
                struct policy_cidr f;

                if (policy_parse_cidr(forbidden[i], &f) == 0 && cidr_overlap(c, &f))
                        return true;
        }
        return false;
}

const char *policy_allowed_ip_problem(const char *s) {
        struct policy_cidr c;

        if (policy_parse_cidr(s, &c) < 0)
                return "is not an IP address or CIDR";
        if (cidr_forbidden(&c))
                return "overlaps loopback, link-local or unspecified addresses (127.0.0.0/8, 169.254.0.0/16, 0.0.0.0, ::1, ::, fe80::/10)";
        return NULL;
}

/* --- Host names and patterns --- */

static bool host_char_ok(char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '-' || ch == '_' || ch == '*';
}

bool policy_host_is_wildcard(const char *host) {
        return host && strchr(host, '*');
}

const char *policy_host_problem(const char *host, bool tcp) {
        struct policy_cidr c;
        size_t len = strlen(host), n_labels = 0;
        const char *p = host;

        if (len == 0)
                return "is empty";
        if (policy_parse_cidr(host, &c) == 0 && !strchr(host, '/')) {
                if (tcp)
                        return "is an IP address; protocol tcp needs a DNS name";
                if (cidr_forbidden(&c))
                        return "is a loopback, link-local or unspecified address";
                return NULL;
        }
        if (host[len - 1] == '.') {
                if (tcp)
                        return "ends with '.'; omit the DNS root dot";
                len--;
        }
        if (len == 0 || len > 253)
                return "is not a valid DNS name (1 to 253 characters)";
        if (streq(host, "*") || streq(host, "**"))
                return "is a bare wildcard, which would allow every host";
        while (p < host + len) {
                const char *e = memchr(p, '.', (size_t) (host + len - p));
                size_t n;

                if (!e)
                        e = host + len;
                n = (size_t) (e - p);
                if (n == 0 || n > 63)
                        return "has an empty or over-long (more than 63) DNS label";
                for (size_t i = 0; i < n; i++)
                        if (!host_char_ok(p[i]))
                                return "has characters not allowed in a DNS name";
                if (n_labels == 0) {
                        /* '**' only as the whole first label; '*' anywhere in it. */
                        if (memmem(p, n, "**", 2) && !(n == 2))
                                return "has '**' inside a label; '**' must be the whole first label";
                } else if (memchr(p, '*', n) && !(n == 1))
                        return "has a partial wildcard after the first label; a later label may only be exactly '*'";
                n_labels++;
                p = e + 1;
        }
        if (strchr(host, '*')) {
                const char *last = memrchr(host, '.', len);

                /* "*.com", "**.co", "example.*": a wildcard over a whole top-level domain. */
                if (((host[0] == '*' && (host[1] == '.' || (host[1] == '*' && host[2] == '.'))) &&
                     n_labels <= 2) ||
                    (last && memchr(last, '*', (size_t) (host + len - last))))
                        return "is a top-level-domain wildcard";
        }
        return NULL;
}

const char *policy_host_pattern_problem(const char *pattern) {
        if (strchr(pattern, '{'))
                return "uses brace alternates, which are not supported";
        return policy_host_problem(pattern, false);
}

static char lower(char ch) {
        return (ch >= 'A' && ch <= 'Z') ? (char) (ch + 32) : ch;
}

/* Glob within one label: '*' matches any run of characters. Iterative, no backtracking
 * blow-up: the classic two-pointer wildcard match. */
static bool label_match(const char *pat, size_t np, const char *s, size_t ns) {
        size_t i = 0, j = 0, star = (size_t) -1, mark = 0;

        while (j < ns) {
                if (i < np && pat[i] != '*' && lower(pat[i]) == lower(s[j])) {
                        i++;
                        j++;
                } else if (i < np && pat[i] == '*') {
                        star = i++;
                        mark = j;
                } else if (star != (size_t) -1) {
                        i = star + 1;
                        j = ++mark;
                } else
                        return false;
        }
        while (i < np && pat[i] == '*')
                i++;
        return i == np;
}

/* The last label of s[0..*len): returns its start, shortens *len to what precedes it (without
 * the dot) and says whether it was the first label. */
static const char *last_label(const char *s, size_t *len, size_t *ret_n, bool *ret_first) {
        const char *dot = memrchr(s, '.', *len);
        const char *l = dot ? dot + 1 : s;

        *ret_n = (size_t) (s + *len - l);
        *len = dot ? (size_t) (dot - s) : 0;
        *ret_first = !dot;
        return l;
}

/* Right to left, label by label: names differ at their end far more often than at their start,
 * so a mismatch usually costs one label; never more than one pass over each string. */
bool policy_host_match(const char *pattern, const char *host) {
        size_t pl = strlen(pattern), hl = strlen(host);
        bool dstar = pattern[0] == '*' && pattern[1] == '*' && (pattern[2] == '.' || !pattern[2]);

        if (pl > 0 && pattern[pl - 1] == '.')
                pl--;
        if (hl > 0 && host[hl - 1] == '.')
                hl--;
        if (pl == 0 || hl == 0)
                return false;
        for (;;) {
                const char *a, *b;
                size_t na, nb;
                bool p_first, h_first;

                if (dstar && pl == 2)
                        return true; /* '**' takes the one or more labels left in host */
                a = last_label(pattern, &pl, &na, &p_first);
                b = last_label(host, &hl, &nb, &h_first);
                if (!label_match(a, na, b, nb))
                        return false;
                if (p_first || h_first)
                        return p_first && h_first;
        }
}

/* --- Identities, names --- */

const char *policy_identity_problem(const char *value) {
        const char *p = value;
        size_t n = strlen(value);

        if (n > 0 && strspn(value, "0123456789") == n) {
                unsigned long long v = 0;

                if (n > 10)
                        return "is out of range 1..4294967294";
                for (; *p; p++)
                        v = v * 10 + (unsigned) (*p - '0');
                if (v == 0)
                        return "is root; the agent never runs as uid or gid 0";
                if (v == 4294967295ULL)
                        return "is the invalid id 4294967295 ((uid_t) -1)";
                if (v > 4294967294ULL)
                        return "is out of range 1..4294967294";
                return NULL;
        }
        if (streq(value, "root"))
                return "is root; the agent never runs as uid or gid 0";
        /* POSIX-ish user names, as useradd accepts them (a trailing '$' for machine accounts). */
        if (n == 0 || n > 32 || !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'))
                return "is not a user or group name, or a number 1..4294967294";
        for (p = value + 1; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.' ||
                      (*p == '$' && !p[1])))
                        return "is not a user or group name, or a number 1..4294967294";
        return NULL;
}

const char *policy_hostname_problem(const char *hostname) {
        size_t len = strlen(hostname);
        const char *p = hostname;

        if (len == 0 || len > 64)
                return "must be 1 to 64 characters";
        while (*p) {
                const char *e = strchrnul(p, '.');
                size_t n = (size_t) (e - p);

                if (n == 0 || n > 63)
                        return "has an empty or over-long label (RFC 1123)";
                if (p[0] == '-' || p[n - 1] == '-')
                        return "has a label starting or ending with '-' (RFC 1123)";
                for (size_t i = 0; i < n; i++)
                        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
                              (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
                                return "may only hold letters, digits, '-' and '.' (RFC 1123)";
                p = *e ? e + 1 : e;
                if (*e && !*p)
                        return "ends with '.'";
        }
        return NULL;
}

bool policy_env_name_valid(const char *name) {
        if (!((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z') || *name == '_'))
                return false;
        for (const char *p = name + 1; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '_'))
                        return false;
        return true;
}

/* The syntax syscall_name_valid() (seccomp-table.c) checks; kept here so the parser links
 * only src/shared, and the seccomp table re-checks when it builds. */
bool policy_syscall_name_valid(const char *name) {
        size_t n = strlen(name);

        if (n == 0 || n > 63)
                return false;
        return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* --- Cross-field validation and verdicts --- */

int policy_fail_at(struct caisson_error *err, enum caisson_reason reason, const char *filename,
                   struct policy_pos pos, const char *fmt, va_list ap) {
        char what[256];

        (void) vsnprintf(what, sizeof what, fmt, ap);
        for (char *c = what; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = '?'; /* no terminal escapes or second lines from a policy */
        if (pos.line == 0)
                return cs_fail(err, CAISSON_LAYER_POLICY, reason, 0, "%s: %s",
                               filename ?: "<policy>", what);
        return cs_fail(err, CAISSON_LAYER_POLICY, reason, 0, "%s:%u:%u: %s",
                       filename ?: "<policy>", pos.line, pos.column, what);
}

static int vfail(const struct policy *p, struct caisson_error *err, struct policy_pos pos,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int vfail(const struct policy *p, struct caisson_error *err, struct policy_pos pos,
                 const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = policy_fail_at(err, CAISSON_REASON_POLICY_INVALID, p->filename, pos, fmt, ap);
        va_end(ap);
        return r;
}

struct fields {
        char buf[256];
        size_t n;
};

static void fields_add(struct fields *f, const char *name, const char *value) {
        int k;

        if (f->n >= sizeof f->buf - 1)
                return;
        k = snprintf(f->buf + f->n, sizeof f->buf - f->n, "%s%s%s%s", f->n ? ", " : "", name,
                     value ? ": " : "", value ?: "");
        if (k > 0)
                f->n += (size_t) k < sizeof f->buf - f->n ? (size_t) k : sizeof f->buf - f->n - 1;
}

static bool is_l7_protocol(const char *protocol) {
        return protocol && !streq(protocol, "tcp");
}

static int validate_endpoint(const struct policy *p, const struct policy_network_entry *e,
                             size_t idx, const struct policy_endpoint *ep,
                             struct caisson_error *err) {
        const struct policy_l7 *l7 = &ep->l7;
        const char *protocol = ep->protocol ?: "";
        bool tcp = streq(protocol, "tcp"), mcp = streq(protocol, "mcp"),
             jsonrpc = streq(protocol, "json-rpc");
        bool has_rules = l7->n_rules > 0, has_deny = l7->n_deny_rules > 0;
        char where[200];
        int r = 0;

        (void) snprintf(where, sizeof where, "network_policies.%s.endpoints[%zu]", e->key, idx);
#define BAD(...) vfail(p, err, ep->pos, __VA_ARGS__)
        if (!ep->host && ep->n_allowed_ips == 0)
                return BAD("%s: needs a host, or allowed_ips for a hostless endpoint", where);
        if (ep->n_ports == 0)
                return BAD("%s: needs port or ports (1..65535)", where);
        for (size_t i = 0; i < ep->n_ports; i++)
                if (ep->ports[i] == 0)
                        return BAD("%s: port 0 is not a port", where);

        if (tcp) {
                struct fields f = {};

                if (!ep->host)
                        return BAD("%s: protocol tcp needs a host (a DNS name); a hostless allowed_ips endpoint cannot be tcp",
                                   where);
                if (l7->path)
                        fields_add(&f, "path", NULL);
                if (l7->enforcement)
                        fields_add(&f, "enforcement", NULL);
                if (l7->access)
                        fields_add(&f, "access", NULL);
                if (has_rules)
                        fields_add(&f, "rules", NULL);
                if (has_deny)
                        fields_add(&f, "deny_rules", NULL);
                if (l7->allow_encoded_slash)
                        fields_add(&f, "allow_encoded_slash", NULL);
                if (l7->websocket_credential_rewrite)
                        fields_add(&f, "websocket_credential_rewrite", NULL);
                if (l7->request_body_credential_rewrite)
                        fields_add(&f, "request_body_credential_rewrite", NULL);
                if (l7->credential_signing)
                        fields_add(&f, "credential_signing", NULL);
                if (l7->persisted_queries)
                        fields_add(&f, "persisted_queries", NULL);
                if (l7->n_graphql_persisted_queries)
                        fields_add(&f, "graphql_persisted_queries", NULL);
                if (l7->graphql_max_body_bytes)
                        fields_add(&f, "graphql_max_body_bytes", NULL);
                if (l7->has_json_rpc)
                        fields_add(&f, "json_rpc", NULL);
                if (l7->has_mcp)
                        fields_add(&f, "mcp", NULL);
                if (f.n)
                        return BAD("%s: protocol tcp does not support L7 fields: %s", where, f.buf);
        }
        /* OpenShell's L7 combination rules (l7_validate.rs), in its order. */
        if (has_rules && l7->access)
                return BAD("%s: rules and access are mutually exclusive", where);
        if ((mcp || jsonrpc) && l7->access)
                return BAD("%s: protocol %s does not support access presets; use rules", where, protocol);
        if (jsonrpc && !has_rules)
                return BAD("%s: protocol json-rpc requires rules with allow.method", where);
        if (is_l7_protocol(ep->protocol) && !mcp && !jsonrpc && !has_rules && !l7->access)
                return BAD("%s: protocol %s requires rules or access", where, protocol);
        if (mcp && !has_rules && !l7->mcp_allow_all_known_methods)
                return BAD("%s: protocol mcp requires rules unless mcp.allow_all_known_mcp_methods is true",
                           where);
        if (has_rules && l7->rules_deny_all && !(mcp && l7->mcp_allow_all_known_methods))
                return BAD("%s: rules would deny all traffic (no rule has an allow clause); use access: full or add allow clauses",
                           where);
        if (has_deny && !is_l7_protocol(ep->protocol))
                return BAD("%s: deny_rules require an L7 protocol", where);
        if (has_deny && !mcp && !has_rules && !l7->access)
                return BAD("%s: deny_rules require rules or access for the base allow set", where);
        if (l7->credential_signing && !l7->signing_service)
                return BAD("%s: credential_signing needs signing_service", where);
        if (l7->credential_signing && l7->request_body_credential_rewrite)
                return BAD("%s: credential_signing and request_body_credential_rewrite are mutually exclusive",
                           where);
        if (streq(protocol, "sql") && l7->enforcement && streq(l7->enforcement, "enforce"))
                return BAD("%s: SQL enforcement requires full SQL parsing; use enforcement: audit", where);
        if (l7->has_mcp && !mcp)
                return BAD("%s: mcp options are only valid with protocol: mcp", where);
#undef BAD
        return r;
}

static bool entry_allows_nothing(const struct policy_network_entry *e) {
        for (size_t i = 0; i < e->n_binaries; i++)
                if (e->binaries[i][0] == '/')
                        return false;
        return true;
}

static bool middleware_selects(const struct policy_middleware *mw, const char *host) {
        bool in = false;

        /* A hostless endpoint can be reached under any name, so any middleware may apply:
         * treat it as selected rather than guess narrower. */
        if (!host)
                return true;
        for (size_t i = 0; i < mw->n_include && !in; i++)
                in = policy_host_match(mw->include[i], host) ||
                     (policy_host_is_wildcard(host) && policy_host_match(host, mw->include[i]));
        if (!in)
                return false;
        for (size_t i = 0; i < mw->n_exclude; i++)
                if (policy_host_match(mw->exclude[i], host))
                        return false;
        return true;
}

/* Each endpoint gets the strongest verdict that applies: refused (an enforced L7 restriction
 * or a middleware, which an L4 supervisor cannot honour), then degraded (L7 fields that
 * OpenShell only audits or that loosen), then plain L4. */
static int endpoint_verdict(const struct policy *p, struct policy_endpoint *ep) {
        const struct policy_l7 *l7 = &ep->l7;
        bool enforce = l7->enforcement && streq(l7->enforcement, "enforce");
        struct fields f = {};

        free(ep->l7_fields);
        ep->l7_fields = NULL;
        free(ep->refused_by);
        ep->refused_by = NULL;
        ep->l7_enforced = ep->l7_audit = false;

        for (size_t i = 0; i < p->n_middlewares && p->middlewares; i++)
                if (middleware_selects(&p->middlewares[i], ep->host)) {
                        if (asprintf(&ep->refused_by, "network_middlewares.%s", p->middlewares[i].key) < 0) {
                                ep->refused_by = NULL;
                                return -ENOMEM;
                        }
                        fields_add(&f, ep->refused_by, NULL);
                        break;
                }
        if (enforce && l7->access && !streq(l7->access, "full"))
                fields_add(&f, "enforcement: enforce, access", l7->access);
        if (enforce && l7->n_rules > 0)
                fields_add(&f, "enforcement: enforce, rules", NULL);
        if (enforce && ep->protocol && streq(ep->protocol, "mcp") && l7->n_rules == 0)
                fields_add(&f, "enforcement: enforce, mcp.allow_all_known_mcp_methods", NULL);
        if (l7->n_deny_rules > 0)
                fields_add(&f, "deny_rules", NULL);
        if (l7->websocket_credential_rewrite)
                fields_add(&f, "websocket_credential_rewrite", NULL);
        if (l7->request_body_credential_rewrite)
                fields_add(&f, "request_body_credential_rewrite", NULL);
        if (l7->credential_signing)
                fields_add(&f, "credential_signing", l7->credential_signing);
        if (f.n > 0)
                ep->l7_enforced = true;
        else {
                if (is_l7_protocol(ep->protocol))
                        fields_add(&f, "protocol", ep->protocol);
                if (l7->path)
                        fields_add(&f, "path", l7->path);
                if (l7->enforcement)
                        fields_add(&f, "enforcement", l7->enforcement);
                if (l7->access)
                        fields_add(&f, "access", l7->access);
                if (l7->n_rules > 0)
                        fields_add(&f, "rules", NULL);
                if (l7->allow_encoded_slash)
                        fields_add(&f, "allow_encoded_slash", NULL);
                if (l7->persisted_queries || l7->n_graphql_persisted_queries ||
                    l7->graphql_max_body_bytes)
                        fields_add(&f, "graphql options", NULL);
                if (l7->has_mcp)
                        fields_add(&f, "mcp", NULL);
                if (l7->has_json_rpc)
                        fields_add(&f, "json_rpc", NULL);
                if (l7->credential_binding)
                        fields_add(&f, "credential_binding", NULL);
                if (l7->allow_uninspected_credentials)
                        fields_add(&f, "allow_uninspected_credentials", NULL);
                if (l7->signing_service || l7->signing_region)
                        fields_add(&f, "signing_service/signing_region", NULL);
                ep->l7_audit = f.n > 0;
        }
        if (f.n > 0) {
                ep->l7_fields = strdup(f.buf);
                if (!ep->l7_fields)
                        return -ENOMEM;
        }
        return 0;
}

int policy_validate(struct policy *p, struct caisson_error *err) {
        int r;

        if (p->n_read_only + p->n_read_write > POLICY_MAX_PATHS)
                return vfail(p, err, (struct policy_pos) {}, "filesystem_policy: %zu paths, more than %d",
                             p->n_read_only + p->n_read_write, POLICY_MAX_PATHS);
        for (size_t i = 0; i < p->n_read_only + p->n_read_write; i++) {
                bool rw = i >= p->n_read_only;
                const struct policy_path *pp = rw ? &p->read_write[i - p->n_read_only] : &p->read_only[i];
                const char *why = policy_path_problem(pp->path, rw);

                if (why)
                        return vfail(p, err, pp->pos, "%s: '%s' %s", rw ? "read_write" : "read_only",
                                     pp->path, why);
        }
        /* A state directory caisson makes must be one the agent can write: else it would be
         * made on the host for nothing. Beneath a read_write path is enough. */
        for (size_t i = 0; i < p->n_state_dirs; i++) {
                const struct policy_path *sd = &p->state_dirs[i];
                const char *why = policy_path_problem(sd->path, true);
                bool listed = false;

                if (why)
                        return vfail(p, err, sd->pos, "state_directories: '%s' %s", sd->path, why);
                for (size_t j = 0; j < p->n_read_write && !listed; j++)
                        listed = policy_path_within(sd->path, p->read_write[j].path);
                if (!listed)
                        return vfail(p, err, sd->pos, "state_directories: '%s' is not in "
                                     "filesystem_policy.read_write (nor beneath a path there): "
                                     "the agent could not write it", sd->path);
        }

        if (p->n_middlewares > 0 && p->middlewares) {
                size_t n_patterns = 0, n_endpoints = 0;

                for (size_t i = 0; i < p->n_middlewares; i++)
                        n_patterns += p->middlewares[i].n_include + p->middlewares[i].n_exclude;
                for (size_t i = 0; i < p->n_network; i++)
                        n_endpoints += p->network[i].n_endpoints;
                if (n_patterns * n_endpoints > POLICY_MAX_MIDDLEWARE_PAIRS)
                        return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_POLICY_TOO_LARGE, 0,
                                       "%s:%u:%u: network_middlewares: %zu selector patterns × %zu endpoints is more than %d pairs to match",
                                       p->filename ?: "<policy>", p->middlewares[0].pos.line,
                                       p->middlewares[0].pos.column, n_patterns, n_endpoints,
                                       POLICY_MAX_MIDDLEWARE_PAIRS);
        }
        for (size_t i = 0; i < p->n_network; i++) {
                struct policy_network_entry *e = &p->network[i];

                for (size_t j = 0; j < e->n_endpoints; j++) {
                        r = validate_endpoint(p, e, j, &e->endpoints[j], err);
                        if (r < 0)
                                return r;
                }
                e->allows_nothing = entry_allows_nothing(e);
                for (size_t j = 0; j < e->n_endpoints; j++) {
                        struct policy_endpoint *ep = &e->endpoints[j];

                        r = endpoint_verdict(p, ep);
                        if (r < 0)
                                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_NO_MEMORY,
                                               ENOMEM, "%s: out of memory", p->filename ?: "<policy>");
                        /* An entry that allows nothing restricts nothing further: its L7
                         * fields never make `run` refuse, its one notice is that line. */
                        if (e->allows_nothing)
                                ep->l7_enforced = ep->l7_audit = false;
                }
        }
        return 0;
}

/* --- Notices --- */

static void emit(const struct policy *p, struct policy_pos pos,
                 void (*fn)(const char *line, void *userdata), void *userdata, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static void emit(const struct policy *p, struct policy_pos pos,
                 void (*fn)(const char *line, void *userdata), void *userdata, const char *fmt, ...) {
        char what[768], line[1024];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        if (pos.line > 0)
                (void) snprintf(line, sizeof line, "%s:%u:%u: %s", p->filename ?: "<policy>",
                                pos.line, pos.column, what);
        else
                (void) snprintf(line, sizeof line, "%s: %s", p->filename ?: "<policy>", what);
        for (char *c = line; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = '?'; /* no terminal escapes or second lines from a policy's keys */
        fn(line, userdata);
}

static const char *endpoint_label(const struct policy_endpoint *ep, char *buf, size_t size) {
        size_t n;

        (void) snprintf(buf, size, "%s", ep->host ?: (ep->n_allowed_ips ? ep->allowed_ips[0] : "?"));
        for (size_t i = 0; i < ep->n_ports && i < 8; i++) {
                n = strlen(buf);
                (void) snprintf(buf + n, size - n, "%c%u", i == 0 ? ':' : ',', ep->ports[i]);
        }
        if (ep->n_ports > 8) {
                n = strlen(buf);
                (void) snprintf(buf + n, size - n, ",...");
        }
        return buf;
}

enum policy_verdict policy_endpoint_verdict(const struct policy_network_entry *e,
                                            const struct policy_endpoint *ep) {
        if (e->allows_nothing)
                return POLICY_VERDICT_ALLOWS_NOTHING;
        if (ep->l7_enforced || ep->refused_by)
                return POLICY_VERDICT_REFUSED;
        if (ep->l7_audit)
                return POLICY_VERDICT_DEGRADED;
        return POLICY_VERDICT_ENFORCED;
}

const char *policy_verdict_to_string(enum policy_verdict v) {
        static const char *const names[_POLICY_VERDICT_MAX] = {
                [POLICY_VERDICT_ENFORCED] = "enforced",
                [POLICY_VERDICT_DEGRADED] = "degraded",
                [POLICY_VERDICT_REFUSED] = "refused",
                [POLICY_VERDICT_ALLOWS_NOTHING] = "allows nothing",
        };

        return (unsigned) v < _POLICY_VERDICT_MAX ? names[v] : NULL;
}

bool policy_entry_notices(const struct policy *p, const struct policy_network_entry *e,
                          void (*fn)(const char *line, void *userdata), void *userdata) {
        if (e->allows_nothing) {
                emit(p, e->pos, fn, userdata,
                     "network_policies.%s allows nothing: %s; add { path: \"/**\" } to allow any binary",
                     e->key, e->n_binaries == 0 ? "no binaries" : "no binary path starts with '/'");
                return true;
        }
        if (e->n_endpoints == 0) {
                emit(p, e->pos, fn, userdata, "network_policies.%s allows nothing: no endpoints", e->key);
                return true;
        }
        return false;
}

void policy_endpoint_notices(const struct policy *p, const struct policy_network_entry *e,
                             const struct policy_endpoint *ep,
                             void (*fn)(const char *line, void *userdata), void *userdata) {
        char label[300];

        (void) endpoint_label(ep, label, sizeof label);
        if (ep->port_and_ports)
                emit(p, ep->pos, fn, userdata,
                     "network_policies.%s: endpoint '%s' has both port and ports; ports is used",
                     e->key, label);
        if (ep->l7_enforced && ep->refused_by)
                emit(p, ep->pos, fn, userdata,
                     "network_policies.%s: endpoint '%s' refused: %s selects it and caisson runs no middleware; --widen-l7 allows it at host:port + binary",
                     e->key, label, ep->refused_by);
        else if (ep->l7_enforced)
                emit(p, ep->pos, fn, userdata,
                     "network_policies.%s: endpoint '%s' refused: L7 restriction (%s) cannot be enforced by caisson; --widen-l7 allows it at host:port + binary",
                     e->key, label, ep->l7_fields ?: "?");
        else if (ep->l7_audit)
                emit(p, ep->pos, fn, userdata,
                     "network_policies.%s: endpoint '%s' degraded: enforced at host:port + binary; L7 inspection (%s) is not performed%s",
                     e->key, label, ep->l7_fields ?: "?",
                     ep->l7.credential_binding || ep->l7.allow_uninspected_credentials ?
                             ", and caisson injects no credentials" : "");
        if (policy_host_is_wildcard(ep->host))
                emit(p, ep->pos, fn, userdata,
                     "network_policies.%s: host '%s' is a DNS channel to that domain's name servers: every name it matches is resolved upstream",
                     e->key, ep->host);
        if (!ep->host)
                emit(p, ep->pos, fn, userdata,
                     "network_policies.%s: endpoint '%s' has no host: it is reached by address in allowed_ips; the DNS gateway resolves no other names for it (stricter than OpenShell)",
                     e->key, label);
}

void policy_notices(const struct policy *p, void (*fn)(const char *line, void *userdata),
                    void *userdata) {
        if (!p || !fn)
                return;
        for (size_t i = 0; i < p->n_network; i++) {
                const struct policy_network_entry *e = &p->network[i];

                if (policy_entry_notices(p, e, fn, userdata))
                        continue;
                for (size_t j = 0; j < e->n_endpoints; j++)
                        policy_endpoint_notices(p, e, &e->endpoints[j], fn, userdata);
        }
}
