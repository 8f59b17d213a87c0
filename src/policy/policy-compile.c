/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "macro.h"
#include "policy-compile.h"
#include "seccomp-table.h"

static void add_path(struct policy_compiled *c, const char *path, uint32_t access,
                     uint32_t flags) {
        c->paths[c->intent.n_paths++] =
                (struct caisson_path_rule) { .path = path, .access = access, .flags = flags };
}

int policy_compile(const struct policy *p, const struct policy_compile_opts *o,
                   struct policy_compiled **ret, struct caisson_error *err) {
        _cleanup_(policy_compiled_freep) struct policy_compiled *c = NULL;
        const struct policy *fs = p->has_filesystem_policy || !o->fs_default ? p : o->fs_default;
        size_t max;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_NO_MEMORY, ENOMEM, "intent");
        max = fs->n_read_only + fs->n_read_write + o->n_cli_ro + o->n_cli_rw + 1;
        c->paths = calloc(max, sizeof *c->paths);
        c->persistence = calloc(p->n_persistence_extra + 1, sizeof *c->persistence);
        if (!c->paths || !c->persistence)
                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_NO_MEMORY, ENOMEM, "intent");

        for (size_t i = 0; i < fs->n_read_only; i++)
                add_path(c, fs->read_only[i].path, CAISSON_ACCESS_RO, 0);
        for (size_t i = 0; i < fs->n_read_write; i++)
                add_path(c, fs->read_write[i].path, CAISSON_ACCESS_RW, 0);
        if (fs->include_workdir && o->workdir)
                add_path(c, o->workdir, CAISSON_ACCESS_RW, CAISSON_PATH_WORKDIR);
        for (size_t i = 0; i < o->n_cli_ro; i++)
                add_path(c, o->cli_ro[i], CAISSON_ACCESS_RO, CAISSON_PATH_CLI);
        for (size_t i = 0; i < o->n_cli_rw; i++)
                add_path(c, o->cli_rw[i], CAISSON_ACCESS_RW, CAISSON_PATH_CLI);
        /* "/" read-write is refused whatever its source (OpenShell's rule): it would hand
         * the agent the host's whole filesystem. */
        for (size_t i = 0; i < c->intent.n_paths; i++)
                if (c->paths[i].access == CAISSON_ACCESS_RW && streq(c->paths[i].path, "/"))
                        return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_POLICY_INVALID, 0,
                                       "'/' may not be read-write");

        /* With egress, every connect() is observed: the relay decides on who connected the
         * socket as well as on who holds it when it is accepted (egress/connectors.c). */
        r = syscall_table_build_ex((const char *const *) p->seccomp_deny, p->n_seccomp_deny,
                                   (const char *const *) p->seccomp_allow, p->n_seccomp_allow,
                                   p->n_network > 0 ? SYSCALL_TABLE_OBSERVE_CONNECT : 0,
                                   &c->syscalls, &c->intent.n_syscalls, err);
        if (r < 0)
                return r;

        for (size_t i = 0; i < p->n_persistence_extra; i++)
                c->persistence[i] = p->persistence_extra[i].path;

        c->intent.size = sizeof c->intent;
        c->intent.landlock_compat = p->landlock_compat;
        c->intent.sandbox_id = o->sandbox_id;
        c->intent.state_dir = o->state_dir;
        c->intent.hostname = p->hostname ?: "caisson";
        c->intent.workdir = o->workdir;
        c->intent.paths = c->paths;
        c->intent.persistence_protect = p->persistence_protect;
        c->intent.persistence_paths = c->persistence;
        c->intent.n_persistence_paths = p->n_persistence_extra;
        c->intent.syscalls = c->syscalls;
        c->intent.seccomp_on_violation = p->seccomp_on_violation;
        /* Egress through the supervisor's gateway and relay (DESIGN §4); 0 = loopback only. */
        c->intent.network = p->n_network > 0;
        c->intent.resources = p->resources;
        c->intent.uid = o->uid;
        c->intent.gid = o->gid;
        c->intent.home = o->home;
        *ret = TAKE_PTR(c);
        return 0;
}

struct policy_compiled *policy_compiled_free(struct policy_compiled *c) {
        if (!c)
                return NULL;
        free(c->paths);
        free(c->syscalls);
        free(c->persistence);
        free(c);
        return NULL;
}
