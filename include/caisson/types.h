/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* include/caisson/types.h — types shared by the supervisor and every backend.
 * C11, self-contained: only fixed-width types, no allocation crosses this boundary. */
#ifndef CAISSON_TYPES_H
#define CAISSON_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

enum caisson_layer {
        CAISSON_LAYER_NONE = 0,
        CAISSON_LAYER_POLICY = 1,
        CAISSON_LAYER_NAMESPACE = 2,
        CAISSON_LAYER_MOUNT = 3,
        CAISSON_LAYER_CGROUP = 4,
        CAISSON_LAYER_LANDLOCK = 5,
        CAISSON_LAYER_SECCOMP = 6,
        CAISSON_LAYER_CAPS = 7,
        CAISSON_LAYER_CREDS = 8,
        CAISSON_LAYER_NET = 9,
        CAISSON_LAYER_NFT = 10,
        CAISSON_LAYER_EXEC = 11,
        CAISSON_LAYER_SUPERVISOR = 12,
        CAISSON_LAYER_BACKEND = 13,
        CAISSON_LAYER_TERMINAL = 14,
        CAISSON_LAYER_STATE = 15,
        _CAISSON_LAYER_MAX
};

/* One fixed-size error record: it needs no malloc, so the same bytes cross the child's
 * status pipe and the plugin ABI. */
struct caisson_error {
        uint32_t layer;  /* enum caisson_layer */
        uint32_t code;   /* enum caisson_reason (reasons.h) */
        int32_t errnum;  /* positive errno; 0 when no syscall is to blame */
        char msg[256];   /* one line, user strings in '...', no newline */
};

/* Filesystem access granted to one path. */
enum caisson_access {
        CAISSON_ACCESS_RO = 1,
        CAISSON_ACCESS_RW = 2,
};

struct caisson_path_rule {
        const char *path;  /* absolute, normalised */
        uint32_t access;   /* enum caisson_access */
        uint32_t flags;    /* CAISSON_PATH_* */
};
#define CAISSON_PATH_WORKDIR 0x1u  /* the workdir (include_workdir / --workdir) */
#define CAISSON_PATH_CLI 0x2u      /* added on the command line (--ro/--rw) */

enum caisson_landlock_compat {
        CAISSON_LANDLOCK_BEST_EFFORT = 0,
        CAISSON_LANDLOCK_HARD_REQUIREMENT = 1,
};

/* What a matching syscall gets. */
enum caisson_syscall_action {
        CAISSON_SYSCALL_ALLOW = 0,   /* an exception to the default deny (policy seccomp.allow) */
        CAISSON_SYSCALL_DENY = 1,    /* EPERM, reported as syscall.denied (or kill, per policy) */
        CAISSON_SYSCALL_ENOSYS = 2,  /* ENOSYS, silent: runtimes fall back (clone3, io_uring) */
        /* Not a denial: the caller is held while the backend reports it (CAISSON_EVENT_CONNECT,
         * backend.h) and the supervisor records who made the call, then the call goes on.
         * For connect() and TCP Fast Open sends, so the egress relay knows who connected a
         * socket as of connect() rather than who holds it by the time it accepts. */
        CAISSON_SYSCALL_OBSERVE = 3,
};

enum caisson_cmp_op {
        CAISSON_CMP_NONE = 0,
        CAISSON_CMP_EQ = 1,
        CAISSON_CMP_NE = 2,
        CAISSON_CMP_GE = 3,
        CAISSON_CMP_GT = 4,
        CAISSON_CMP_LT = 5,
        CAISSON_CMP_MASKED_EQ = 6,  /* (arg & mask) == value */
};

struct caisson_syscall_arg {
        uint32_t op;     /* enum caisson_cmp_op; NONE ends the list */
        uint32_t index;  /* argument 0..5 */
        uint64_t value;
        uint64_t mask;   /* for MASKED_EQ */
};

/* One row of the compiled seccomp table. All conditions must hold (AND). */
struct caisson_syscall_rule {
        const char *name;  /* for events and messages */
        int32_t nr;        /* native syscall number; -1: resolve by name, fail closed if unknown */
        uint32_t action;   /* enum caisson_syscall_action */
        struct caisson_syscall_arg args[3];
};

enum caisson_on_violation {
        CAISSON_VIOLATION_ERRNO = 0,  /* EPERM and an event */
        CAISSON_VIOLATION_KILL = 1,   /* the whole tree is killed */
};

enum caisson_on_unsupported {
        CAISSON_UNSUPPORTED_REFUSE = 0,
        CAISSON_UNSUPPORTED_WARN = 1,
};

struct caisson_resources {
        uint64_t memory_bytes;   /* 0 = unlimited */
        uint64_t pids;           /* 0 = unlimited */
        uint32_t cpu_millis;     /* CPU in thousandths of a core; 0 = unlimited */
        uint32_t on_unsupported; /* enum caisson_on_unsupported */
};

/* The compiled policy: everything a backend needs to build one boundary. Borrowed by the
 * backend for the duration of the call that receives it; copy what must outlive it. */
struct caisson_intent {
        uint32_t size;                 /* sizeof(struct caisson_intent) at build time */
        uint32_t landlock_compat;      /* enum caisson_landlock_compat */
        const char *sandbox_id;        /* 12 hex digits */
        const char *state_dir;         /* /run/caisson/<id> */
        const char *hostname;
        const char *workdir;           /* the agent's cwd inside; absolute */

        const struct caisson_path_rule *paths;  /* read_only, read_write, workdir, CLI */
        size_t n_paths;

        uint32_t persistence_protect;  /* bool */
        uint32_t _pad0;
        const char *const *persistence_paths;   /* absolute; extra protected paths */
        size_t n_persistence_paths;

        const struct caisson_syscall_rule *syscalls;
        size_t n_syscalls;
        uint32_t seccomp_on_violation;  /* enum caisson_on_violation */
        uint32_t network;               /* 0: loopback only (the only mode before egress) */

        struct caisson_resources resources;

        uint32_t uid, gid;              /* never 0 */
        const char *home;               /* the run user's home, inside */
};

/* How a process is started in a sandbox: agent or exec. */
struct caisson_spawn {
        uint32_t size;            /* sizeof(struct caisson_spawn) at build time */
        uint32_t flags;           /* CAISSON_SPAWN_* */
        const char *const *argv;  /* argv[0] is resolved through PATH inside the sandbox */
        const char *const *envp;  /* the complete environment */
        const char *cwd;          /* inside; NULL = the intent's workdir */
        int stdio[3];             /* borrowed: dup'ed into the process as 0,1,2 */
        int controlling_tty;      /* bool: make stdin the controlling terminal (pty) */
};

/* Evidence about a process inside a sandbox. */
enum caisson_assurance {
        CAISSON_ASSURANCE_NONE = 0,
        CAISSON_ASSURANCE_CLAIMED = 1,
        CAISSON_ASSURANCE_OBSERVED = 2,
        CAISSON_ASSURANCE_ATTESTED = 3,
};

struct caisson_identity {
        uint32_t assurance;  /* enum caisson_assurance */
        int32_t pid;         /* host pid */
        char binary[4096];
        char sha256[65];     /* hex, NUL-terminated; empty if not hashed */
};

#ifdef __cplusplus
}
#endif
#endif
