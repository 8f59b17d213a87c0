/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caisson policy check FILE: validate, then say what each section enforces. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "macro.h"
#include "policy/policy.h"
#include "supervisor.h"

static void print_line(const char *line, void *userdata) {
        (void) userdata;
        printf("  note: %s\n", line);
}

static void print_paths(const char *what, const struct policy_path *v, size_t n) {
        printf("  %s:", what);
        if (n == 0)
                printf(" (none)");
        for (size_t i = 0; i < n; i++)
                printf(" %s", v[i].path);
        printf("\n");
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
        printf("  landlock: %s\n", p->landlock_compat == CAISSON_LANDLOCK_HARD_REQUIREMENT ?
                                           "hard_requirement (no Landlock = no run)" :
                                           "best_effort (runs without Landlock, and says so)");
        printf("  process: run_as_user=%s run_as_group=%s (never root)\n",
               p->run_as_user ?: "(default: SUDO_UID, else 65534)",
               p->run_as_group ?: "(the user's group)");
        if (p->has_network_policies && p->n_network > 0)
                printf("  network: %zu entr%s: REFUSED by 'run' in this version (egress boundary "
                       "not available yet)\n", p->n_network, p->n_network == 1 ? "y" : "ies");
        else
                printf("  network: none (loopback only)\n");
        printf("  seccomp: default denylist, %zu extra denied, %zu allowed, on_violation=%s\n",
               p->n_seccomp_deny, p->n_seccomp_allow,
               p->seccomp_on_violation == CAISSON_VIOLATION_KILL ? "kill" : "errno");
        printf("  persistence: %s\n", p->persistence_protect ? "protected" : "NOT protected");
        if (p->has_resources)
                printf("  resources: memory=%llu pids=%llu cpu=%u/1000 on_unsupported=%s\n",
                       (unsigned long long) p->resources.memory_bytes,
                       (unsigned long long) p->resources.pids, p->resources.cpu_millis,
                       p->resources.on_unsupported == CAISSON_UNSUPPORTED_WARN ? "warn" : "refuse");
        policy_notices(p, print_line, NULL);
        return 0;
}

int cmd_policy(int argc, char **argv) {
        if (argc == 3 && streq(argv[1], "check"))
                return check(argv[2]);
        if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                printf("Usage: caisson policy check FILE\n");
                return 0;
        }
        fprintf(stderr, "caisson: policy: usage: caisson policy check FILE\n");
        return EXIT_CAISSON;
}
