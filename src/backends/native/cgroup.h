/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One cgroup per sandbox: v2 (unified) for tracking, kill and freeze; resource limits
 * through v2 controllers where delegated, else the v1 hierarchies (hybrid hosts). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "caisson/types.h"

/* Where the hierarchies are, read from /proc/self/mountinfo. */
struct cgroup_layout {
        char v2[256];         /* cgroup2 mount point ("" if none) */
        char v1_memory[256];  /* v1 hierarchy mount points ("" if none) */
        char v1_pids[256];
        char v1_cpu[256];
        /* Controller usable for "<v2>/caisson/<id>": listed in the v2 root's
         * cgroup.controllers and enabled in the subtree_control of the root and of
         * "<v2>/caisson" (cgroup_layout_detect enables it where it can). */
        bool v2_memory, v2_pids, v2_cpu;
};

/* Pure: parses mountinfo text (mount points only; the v2_* flags stay false). -EINVAL when a
 * line is not a mountinfo line. */
int cgroup_layout_parse(const char *mountinfo, struct cgroup_layout *ret);
/* Reads /proc/self/mountinfo and the v2 root's cgroup.controllers; for memory, pids and cpu
 * listed there, enables them in the root's and "<v2>/caisson"'s cgroup.subtree_control
 * (creating "<v2>/caisson", the parent shared by all sandboxes). A controller that cannot be
 * enabled is treated as not delegated (v2_* false), and the v1 hierarchy is used instead. */
int cgroup_layout_detect(struct cgroup_layout *ret, struct caisson_error *err);

/* Pure: the sandbox's directory under a hierarchy mount: "<mount>/caisson/<id>". */
int cgroup_path(const char *mount, const char *id, char *buf, size_t size);

/* Pure helpers, exposed for the tests. */
/* CGROUP_RES_* mask of the controllers named in a cgroup.controllers/subtree_control line. */
unsigned cgroup_controllers_parse(const char *text);
/* Value of "key N" in flat-keyed files (cgroup.events, memory.events, memory.oom_control);
 * -ENOENT if absent. */
int cgroup_keyed_get(const char *text, const char *key, unsigned long long *ret);
/* "max" for 0 (unlimited), else the number. */
int cgroup_limit_string(uint64_t value, char *buf, size_t size);
/* CPU in thousandths of a core → CFS quota and period (µs): period 100000, quota millis*100;
 * below 10 millicores (quota < the kernel's 1 ms minimum) period 1 s, quota millis*1000.
 * -EINVAL for 0. */
int cgroup_cpu_quota(uint32_t millis, uint64_t *ret_quota_us, uint64_t *ret_period_us);
/* v2 cpu.max: "quota period", "max 100000" for 0. */
int cgroup_cpu_max_string(uint32_t millis, char *buf, size_t size);

/* Writes the limits in which (CGROUP_RES_*) into a v2 cgroup directory: memory.max (and
 * memory.swap.max = 0 where present), pids.max, cpu.max. where names dirfd in messages. */
int cgroup_v2_apply_limits(int dirfd, const char *where, const struct caisson_resources *res,
                           unsigned which, struct caisson_error *err);
/* Writes one limit (a single CGROUP_RES_* bit) into a v1 hierarchy's directory:
 * memory.limit_in_bytes (+ memory.memsw.limit_in_bytes where present), pids.max,
 * cpu.cfs_period_us + cpu.cfs_quota_us. */
int cgroup_v1_apply_limit(int dirfd, const char *where, const struct caisson_resources *res,
                          unsigned which, struct caisson_error *err);

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

/* Moves pid into every v1 cgroup of the set. The v2 cgroup is joined at birth through
 * clone3(CLONE_INTO_CGROUP, .cgroup = s->v2_fd); cgroup_attach_v2 is for a process that was
 * not (a no-op when the set has no v2 cgroup). */
int cgroup_attach(const struct cgroup_set *s, pid_t pid, struct caisson_error *err);
int cgroup_attach_v2(const struct cgroup_set *s, pid_t pid, struct caisson_error *err);

/* Kills every process (cgroup.kill on v2; else SIGKILL over cgroup.procs until empty). */
int cgroup_kill(const struct cgroup_set *s, struct caisson_error *err);
int cgroup_freeze(const struct cgroup_set *s, bool frozen, struct caisson_error *err);
/* 1 if any process is left in any cgroup of the set, 0 if empty, or a negative errno. */
int cgroup_populated(const struct cgroup_set *s);
/* OOM kills so far: v1 memory.oom_control or v2 memory.events "oom_kill". -EOPNOTSUPP when
 * the set has no memory controller. */
int cgroup_oom_kills(const struct cgroup_set *s, unsigned long long *ret);

/* Kills, waits until empty (bounded), removes every directory it made (never the shared
 * "caisson" parents), closes v2_fd and frees s. NULL-safe; a half-built set is fine. */
void cgroup_teardown(struct cgroup_set *s);
static inline void cgroup_teardownp(struct cgroup_set **s) {
        if (*s)
                cgroup_teardown(*s);
        *s = NULL;
}

/* For `caisson gc`: kills and removes "<mount>/caisson/<id>" in every hierarchy. 0 when
 * removed, -ENOENT when no hierarchy has it, -EBUSY when a directory could not be removed. */
int cgroup_remove_id(const struct cgroup_layout *l, const char *id);
/* For `caisson gc`: the ids present under any "<mount>/caisson/", deduplicated, as a
 * NULL-terminated array owned by the caller (cgroup_ids_free). Returns the count. */
int cgroup_list_ids(const struct cgroup_layout *l, char ***ret);
char **cgroup_ids_free(char **ids);
