/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One cgroup per sandbox: v2 (unified) for tracking, kill and freeze; resource limits
 * through v2 controllers where delegated, else the v1 hierarchies (hybrid hosts). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "caisson/types.h"

/* Where the hierarchies are, read from /proc/self/mountinfo. */
struct cgroup_layout {
        char v2[256];         /* cgroup2 mount point ("" if none) */
        char v1_memory[256];  /* v1 hierarchy mount points ("" if none) */
        char v1_pids[256];
        char v1_cpu[256];
        bool v2_memory, v2_pids, v2_cpu; /* controller available in the v2 root's cgroup.controllers */
};

/* Pure: parses mountinfo text. */
int cgroup_layout_parse(const char *mountinfo, struct cgroup_layout *ret);
/* Reads /proc/self/mountinfo and the v2 root's cgroup.controllers. */
int cgroup_layout_detect(struct cgroup_layout *ret, struct caisson_error *err);

/* Pure: the sandbox's directory under a hierarchy mount: "<mount>/caisson/<id>". */
int cgroup_path(const char *mount, const char *id, char *buf, size_t size);

struct cgroup_set {
        char id[32];
        char v2[512];          /* "" if none */
        char v1_memory[512];   /* "" if not used */
        char v1_pids[512];
        char v1_cpu[512];
        int v2_fd;             /* O_DIRECTORY of v2, for CLONE_INTO_CGROUP; -1 if none */
        unsigned unsupported;  /* CGROUP_RES_* limits that could not be applied (warn mode) */
        unsigned via_v1;       /* CGROUP_RES_* limits applied through v1 */
};
#define CGROUP_RES_MEMORY 0x1u
#define CGROUP_RES_PIDS 0x2u
#define CGROUP_RES_CPU 0x4u

/* Creates the sandbox's cgroups and applies the limits. A limit that cannot be enforced
 * fails (-EOPNOTSUPP, CAISSON_REASON_RESOURCE_UNSUPPORTED) unless on_unsupported is warn,
 * then it is flagged in ->unsupported. On failure nothing is left behind. */
int cgroup_create(const struct cgroup_layout *l, const char *id,
                  const struct caisson_resources *res, struct cgroup_set **ret,
                  struct caisson_error *err);

/* Moves pid into every cgroup of the set (v1 ones; v2 too unless CLONE_INTO_CGROUP did). */
int cgroup_attach(const struct cgroup_set *s, pid_t pid, struct caisson_error *err);

/* Kills every process (cgroup.kill on v2; else SIGKILL over cgroup.procs until empty). */
int cgroup_kill(const struct cgroup_set *s, struct caisson_error *err);
int cgroup_freeze(const struct cgroup_set *s, bool frozen, struct caisson_error *err);
/* 1 if any process is left, 0 if empty. */
int cgroup_populated(const struct cgroup_set *s);

/* Kills, waits until empty (bounded), removes every directory. Idempotent; frees s. */
void cgroup_teardown(struct cgroup_set *s);

/* For `caisson gc`: kills and removes "<mount>/caisson/<id>" in every hierarchy. */
int cgroup_remove_id(const struct cgroup_layout *l, const char *id);
