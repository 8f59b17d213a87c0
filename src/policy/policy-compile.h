/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy → struct caisson_intent: the fs lists, the seccomp table, resources. Pure. */
#pragma once

#include <sys/types.h>

#include "caisson/types.h"
#include "policy.h"

struct policy_compile_opts {
        const char *sandbox_id;
        const char *state_dir;
        const char *workdir;            /* absolute */
        const char *home;               /* the run user's home */
        uid_t uid;
        gid_t gid;
        const struct policy *fs_default; /* used when p has no filesystem_policy */
        char *const *cli_ro;            /* --ro paths (absolute) */
        size_t n_cli_ro;
        char *const *cli_rw;            /* --rw paths */
        size_t n_cli_rw;
};

/* Owns everything the intent points to. */
struct policy_compiled {
        struct caisson_intent intent;
        struct caisson_path_rule *paths;
        struct caisson_syscall_rule *syscalls;
        const char **persistence;
};

int policy_compile(const struct policy *p, const struct policy_compile_opts *o,
                   struct policy_compiled **ret, struct caisson_error *err);
struct policy_compiled *policy_compiled_free(struct policy_compiled *c);
static inline void policy_compiled_freep(struct policy_compiled **c) {
        if (*c)
                policy_compiled_free(*c);
}
