/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/policy — pure: bytes in, structs out. Never opens a path or makes a kernel object.
 * struct policy is the validated model; no YAML-library type leaks out of this directory. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caisson/reasons.h"
#include "caisson/types.h"

#define POLICY_MAX_BYTES (1024 * 1024) /* a policy file larger than this is refused */
#define POLICY_MAX_PATHS 256           /* read_only + read_write, as OpenShell */
#define POLICY_MAX_PATH_LEN 4096

struct policy_pos {
        unsigned line, column; /* 1-based; 0 = not from a file (built-in, CLI) */
};

struct policy_path {
        char *path; /* as written (may hold ${HOME}/${WORKDIR} until policy_expand) */
        struct policy_pos pos;
};

/* An endpoint's L7 and gateway fields (OPENSHELL-POLICY.md). caisson parses and validates
 * them all (a typo is still an error) but enforces none: policy-validate.c turns them into
 * the endpoint's verdict (l7_enforced / l7_audit). NULL / 0 / false = absent. */
struct policy_l7 {
        char *path;                      /* HTTP path glob selecting this endpoint */
        char *tls;                       /* terminate | passthrough | skip */
        char *enforcement;               /* enforce | audit (absent = audit) */
        char *access;                    /* read-only | read-write | full */
        size_t n_rules;                  /* rules[] (an empty list is rejected) */
        size_t n_deny_rules;             /* deny_rules[] (an empty list is rejected) */
        bool rules_deny_all;             /* no rule has an effective allow clause */
        bool allow_encoded_slash;
        bool websocket_credential_rewrite;
        bool request_body_credential_rewrite;
        bool allow_uninspected_credentials;
        char *credential_signing;        /* sigv4 | sigv4:body | sigv4:no_body */
        char *signing_service;
        char *signing_region;
        char *credential_binding;        /* credential_binding.provider */
        char *persisted_queries;         /* deny | allow_registered */
        size_t n_graphql_persisted_queries;
        uint32_t graphql_max_body_bytes;
        bool has_mcp;                    /* an mcp: stanza is present */
        bool mcp_allow_all_known_methods;
        bool has_json_rpc;               /* a json_rpc: stanza is present */
        uint32_t json_rpc_max_body_bytes; /* json_rpc.max_body_bytes or mcp.max_body_bytes */
};

struct policy_endpoint {
        char *host;              /* NULL for a hostless allowed_ips endpoint */
        uint16_t *ports;         /* port, or ports when given (ports wins, with a notice) */
        size_t n_ports;
        char **allowed_ips;      /* IPs/CIDRs as written, validated */
        size_t n_allowed_ips;
        char *protocol;          /* NULL, "tcp", or an L7 protocol name */
        bool port_and_ports;     /* both were given: ports used, say so */
        bool l7_enforced;        /* an L7 restriction L4 cannot honour (refuse unless widened) */
        bool l7_audit;           /* L7 fields that OpenShell only audits (degraded) */
        char *l7_fields;         /* the fields behind the verdict, for messages; may be NULL */
        struct policy_pos pos;
        struct policy_l7 l7;     /* the L7 fields as written (validated, not enforced) */
        char *refused_by;        /* "network_middlewares.KEY" that selects it, or NULL */
};

struct policy_network_entry {
        char *key;
        char *name;             /* defaults to key */
        struct policy_endpoint *endpoints;
        size_t n_endpoints;
        char **binaries;        /* binaries[].path */
        size_t n_binaries;
        struct policy_pos pos;
        bool allows_nothing;    /* no binaries, or none starting with '/': matches nothing, and
                                 * its L7 fields get no verdict (l7_enforced/l7_audit false) */
};

/* A network_middlewares entry. caisson runs no middleware: every endpoint an entry
 * selects is refused (policy_endpoint.refused_by) unless the user widens it. */
struct policy_middleware {
        char *key;
        char *name;             /* defaults to key */
        char *middleware;       /* implementation name, e.g. "openshell/regex" */
        int32_t order;
        char *on_error;         /* fail_closed | fail_open; NULL = fail_closed */
        char **include;         /* endpoints.include host patterns (non-empty) */
        size_t n_include;
        char **exclude;
        size_t n_exclude;
        struct policy_pos pos;
};

struct policy {
        char *filename;

        bool has_filesystem_policy;  /* false: the built-in default applies */
        bool include_workdir;
        struct policy_path *read_only;
        size_t n_read_only;
        struct policy_path *read_write;
        size_t n_read_write;

        uint32_t landlock_compat;    /* enum caisson_landlock_compat; best_effort if absent */

        char *run_as_user;           /* NULL = the runtime chooses */
        char *run_as_group;
        struct policy_pos run_as_user_pos, run_as_group_pos;

        bool has_network_policies;   /* the key was present (even {}) */
        struct policy_network_entry *network;
        size_t n_network;
        bool has_network_middlewares;
        char **middleware_names;     /* network_middlewares keys (each refuses its entries) */
        size_t n_middlewares;
        struct policy_middleware *middlewares; /* n_middlewares of them, same order */

        bool has_resources;
        struct caisson_resources resources;

        char **seccomp_deny;         /* syscall names */
        size_t n_seccomp_deny;
        char **seccomp_allow;
        size_t n_seccomp_allow;
        uint32_t seccomp_on_violation; /* enum caisson_on_violation */

        bool persistence_protect;    /* default true */
        struct policy_path *persistence_extra;
        size_t n_persistence_extra;

        struct policy_path *state_dirs; /* state_directories: made at run when missing */
        size_t n_state_dirs;

        char **env;                  /* "KEY=VALUE" */
        size_t n_env;
        char *hostname;              /* NULL = "caisson" */

        struct policy_pos hostname_pos, env_pos, seccomp_pos, resources_pos;
};

/* Parses and validates a policy document. filename is used in messages only. On error
 * returns -EINVAL (or -ENOMEM, -EFBIG) and err->msg is "file:line:col: what". */
int policy_load(const char *buf, size_t len, const char *filename, struct policy **ret,
                struct caisson_error *err);

/* Loads the built-in default policy (policies/default.yaml compiled in). */
int policy_load_default(struct policy **ret, struct caisson_error *err);

/* Expands ${HOME} and ${WORKDIR} in every path, then checks each is absolute, normalised
 * (no "..", no "//") and that "/" is not read-write. Pure: the values are given. */
int policy_expand(struct policy *p, const char *home, const char *workdir,
                  struct caisson_error *err);

struct policy *policy_free(struct policy *p);
static inline void policy_freep(struct policy **p) {
        if (*p)
                policy_free(*p);
}

/* Notices for `policy check` and `run`: one line each ("p.yaml:12:5: entry 'x' allows
 * nothing: no binaries; add { path: "/" "**" } ..." — written split here only because a
 * slash-star would end this comment). Calls fn per line. */
void policy_notices(const struct policy *p, void (*fn)(const char *line, void *userdata),
                    void *userdata);

/* The one verdict of an endpoint (OPENSHELL-POLICY.md), strongest first: its entry allows
 * nothing; refused (an L7 restriction or a middleware; --widen-l7 widens it); degraded
 * (audit-only L7 fields, not performed); enforced (host:port + binary). */
enum policy_verdict {
        POLICY_VERDICT_ENFORCED,
        POLICY_VERDICT_DEGRADED,
        POLICY_VERDICT_REFUSED,
        POLICY_VERDICT_ALLOWS_NOTHING,
        _POLICY_VERDICT_MAX
};
enum policy_verdict policy_endpoint_verdict(const struct policy_network_entry *e,
                                            const struct policy_endpoint *ep);
const char *policy_verdict_to_string(enum policy_verdict v);

/* The lines policy_notices() gives for one entry as a whole (allows nothing, no endpoints;
 * returns true if it gave one, and then its endpoints get none), and for one endpoint. */
bool policy_entry_notices(const struct policy *p, const struct policy_network_entry *e,
                          void (*fn)(const char *line, void *userdata), void *userdata);
void policy_endpoint_notices(const struct policy *p, const struct policy_network_entry *e,
                             const struct policy_endpoint *ep,
                             void (*fn)(const char *line, void *userdata), void *userdata);

/* --- Limits beyond OpenShell's, so parsing is bounded in time and memory --- */
#define POLICY_MAX_NODES 100000    /* YAML nodes after alias expansion */
#define POLICY_MAX_DEPTH 64        /* nested mappings/sequences */
#define POLICY_MAX_ANCHORS 256
#define POLICY_MAX_MIDDLEWARES 10  /* as OpenShell */
#define POLICY_MAX_MIDDLEWARE_PATTERNS 32 /* include + exclude of one middleware */
#define POLICY_MAX_LIST 4096       /* any other list or map (env, seccomp, endpoints, ...) */
#define POLICY_MAX_ENDPOINTS 4096  /* endpoints in all network_policies entries together */
/* Middleware selection matches every endpoint against every include/exclude pattern: bound
 * that product (a real policy has a few thousand pairs), so a valid but absurd policy cannot
 * cost seconds of matching. */
#define POLICY_MAX_MIDDLEWARE_PAIRS 65536

/* Checks the cross-field rules (ports, hosts, protocol tcp, the L7 combinations, path limits,
 * middlewares) and computes each endpoint's verdict. policy_load() calls it; exposed so a
 * policy built in code (tests, the CLI) can be checked the same way. */
int policy_validate(struct policy *p, struct caisson_error *err);

/* Pure checks shared by the loader, `policy explain` and the egress matcher. Each returns
 * NULL when the value is fine, else a static phrase saying what is wrong. */
const char *policy_path_problem(const char *path, bool read_write);
/* Whether path is dir or lies beneath it, component by component ("//", "/./" and a
 * trailing "/" ignored; "${HOME}" compared as written). */
bool policy_path_within(const char *path, const char *dir);
const char *policy_host_problem(const char *host, bool tcp);
const char *policy_host_pattern_problem(const char *pattern); /* middleware selectors */
const char *policy_allowed_ip_problem(const char *s);
const char *policy_identity_problem(const char *value);      /* run_as_user/run_as_group */
const char *policy_hostname_problem(const char *hostname);
bool policy_env_name_valid(const char *name);
bool policy_syscall_name_valid(const char *name);             /* [a-z0-9_]{1,63} */

/* True if host contains a '*' wildcard label. */
bool policy_host_is_wildcard(const char *host);
/* DNS glob match, case-insensitive: '*' is one label (or part of the first label), '**' one or
 * more labels; a pattern without '*' must equal host. */
bool policy_host_match(const char *pattern, const char *host);

/* An IP or CIDR from allowed_ips: family AF_INET or AF_INET6, address in network order. */
struct policy_cidr {
        int family;
        uint8_t addr[16];
        unsigned prefix;
};
int policy_parse_cidr(const char *s, struct policy_cidr *ret);

/* Fills *err with "FILE:LINE:COL: what" (or "FILE: what" when pos has no line): one line,
 * control characters from the policy replaced, so a key or value can forge no terminal
 * escape and no second message. Returns -EINVAL. Shared by every policy stage. */
int policy_fail_at(struct caisson_error *err, enum caisson_reason reason, const char *filename,
                   struct policy_pos pos, const char *fmt, va_list ap)
        __attribute__((format(printf, 5, 0)));
