/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/policy — pure: bytes in, structs out. Never opens a path or makes a kernel object.
 * struct policy is the validated model; no YAML-library type leaks out of this directory. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
};

struct policy_network_entry {
        char *key;
        char *name;             /* defaults to key */
        struct policy_endpoint *endpoints;
        size_t n_endpoints;
        char **binaries;        /* binaries[].path */
        size_t n_binaries;
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

        char **env;                  /* "KEY=VALUE" */
        size_t n_env;
        char *hostname;              /* NULL = "caisson" */
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
 * nothing: no binaries; add { path: \"/**\" } to allow any binary"). Calls fn per line. */
void policy_notices(const struct policy *p, void (*fn)(const char *line, void *userdata),
                    void *userdata);
