/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* include/caisson/backend.h — the isolation-backend contract (DESIGN.md §2).
 *
 * A backend is a table of functions with an ABI version and a size, so the table can grow.
 * The supervisor calls it in this order and refuses calls out of order:
 *
 *   ensure_boundary → bind → boundary_ready → start_agent → (events, exec, port_forward,
 *   identity, kill, freeze)* → teardown
 *
 * Conventions: functions return 0 or a negative errno and fill *err on failure; no memory is
 * allocated by one side and freed by the other; fds handed out say who closes them. */
#ifndef CAISSON_BACKEND_H
#define CAISSON_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CAISSON_BACKEND_ABI_VERSION 1u

struct caisson_boundary; /* opaque, owned by the backend; released only by teardown() */

/* Capability bits: which policy features a backend can enforce (admission uses them). */
#define CAISSON_BACKEND_CAP_NAMESPACES (UINT64_C(1) << 0)
#define CAISSON_BACKEND_CAP_LANDLOCK (UINT64_C(1) << 1)
#define CAISSON_BACKEND_CAP_SECCOMP (UINT64_C(1) << 2)
#define CAISSON_BACKEND_CAP_SECCOMP_EVENTS (UINT64_C(1) << 3)
#define CAISSON_BACKEND_CAP_CGROUP (UINT64_C(1) << 4)
#define CAISSON_BACKEND_CAP_RESOURCES (UINT64_C(1) << 5)
#define CAISSON_BACKEND_CAP_NETNS (UINT64_C(1) << 6)
#define CAISSON_BACKEND_CAP_EGRESS (UINT64_C(1) << 7)
#define CAISSON_BACKEND_CAP_PTY (UINT64_C(1) << 8)
#define CAISSON_BACKEND_CAP_CONNECT_EVENTS (UINT64_C(1) << 9) /* CAISSON_SYSCALL_OBSERVE */

struct caisson_backend_metadata {
        uint32_t size;
        uint32_t identity_assurance; /* enum caisson_assurance the backend can give */
        const char *name;            /* static strings owned by the backend */
        const char *version;
        const char *placement;       /* e.g. "host-namespaces"; for audit only */
        uint64_t capabilities;       /* CAISSON_BACKEND_CAP_* */
};

/* What bind() hands the supervisor. Every fd stays owned by the boundary. */
struct caisson_attachment {
        uint32_t size;
        int32_t init_pid;  /* host pid of the sandbox's init, -1 if the backend has none */
        int netns_fd;      /* the sandbox's network namespace, or -1 */
        int cgroup_fd;     /* the sandbox's cgroup (v2) directory, or -1 */
        int events_fd;     /* pollable (POLLIN); drain with next_event(), or -1 */
        int pts_fd;        /* the sandbox's devpts root (O_PATH), or -1 when there is none */
        uint32_t degraded; /* CAISSON_DEGRADED_*: layers running below what was asked */
        uint32_t landlock_abi; /* the Landlock ABI in force, 0 if none */
};
#define CAISSON_DEGRADED_LANDLOCK 0x1u    /* best_effort and Landlock unavailable */
#define CAISSON_DEGRADED_MEMORY 0x2u      /* resources.on_unsupported: warn */
#define CAISSON_DEGRADED_PIDS 0x4u
#define CAISSON_DEGRADED_CPU 0x8u

enum caisson_event_kind {
        CAISSON_EVENT_NONE = 0,
        CAISSON_EVENT_PROCESS_EXITED = 1,  /* a process started by start_agent/exec ended */
        CAISSON_EVENT_SYSCALL_DENIED = 2,  /* answered EPERM */
        CAISSON_EVENT_SYSCALL_KILLED = 3,  /* on_violation: kill — the tree is being killed */
        CAISSON_EVENT_BOUNDARY_LOST = 4,   /* the init or the boundary died */
        CAISSON_EVENT_RESOURCE_LIMIT = 5,  /* a resources: limit was hit (OOM kill, pids) */
        /* A CAISSON_SYSCALL_OBSERVE call on a socket: pid, syscall, sock_ino. The caller is
         * held until the supervisor calls next_event() again (or teardown), so whatever the
         * supervisor records in between is in place before the call goes on. */
        CAISSON_EVENT_CONNECT = 6,
        /* The caller of the last CONNECT (same pid, sock_ino) was gone when the backend
         * let it go: what was recorded for it may describe what it became (an exec in
         * another of its threads), not what made the call; the supervisor must not trust
         * that record. */
        CAISSON_EVENT_CONNECT_ABANDONED = 7,
};

struct caisson_event {
        uint32_t kind;      /* enum caisson_event_kind */
        uint32_t reason;    /* enum caisson_reason */
        int32_t pid;        /* host pid (0 if unknown) */
        int32_t status;     /* PROCESS_EXITED: the wait status */
        int32_t syscall_nr; /* SYSCALL_*, CONNECT: native number */
        uint32_t sock_ino;  /* CONNECT: the socket's inode (sockfs numbers are 32-bit) */
        char syscall[64];   /* SYSCALL_*: name */
        char binary[4096];  /* SYSCALL_*: /proc/<pid>/exe of the caller, if readable */
};

struct caisson_backend_v1 {
        uint32_t abi_version; /* CAISSON_BACKEND_ABI_VERSION */
        uint32_t size;        /* sizeof(struct caisson_backend_v1) at build time */

        /* Any time. Fills *ret with static data. */
        void (*metadata)(struct caisson_backend_metadata *ret);

        /* Builds the boundary: namespaces, cgroup, filesystem view, deny-all egress first,
         * and the pre-exec ceiling up to (not including) starting any workload. It may
         * return once the deny-all network ceiling exists, with the rest still being built
         * (the supervisor places its egress gateway meanwhile); boundary_ready then waits
         * for it and reports its failures. On failure nothing is left behind and *err
         * names the layer. *intent is borrowed. */
        int (*ensure_boundary)(const struct caisson_intent *intent,
                               struct caisson_boundary **ret, struct caisson_error *err);

        /* After ensure_boundary, and again after boundary_ready: pts_fd may be -1 until
         * then. Fills *ret; fds stay owned by the boundary. */
        int (*bind)(struct caisson_boundary *b, struct caisson_attachment *ret,
                    struct caisson_error *err);

        /* Returns 0 only when the egress ceiling is verified (DESIGN §2). */
        int (*boundary_ready)(struct caisson_boundary *b, struct caisson_error *err);

        /* Starts the agent through the pre-exec ceiling; only after boundary_ready. Returns
         * once the agent has exec'd (*ret_pid, host pid) or failed (126/127 reasons in *err;
         * nothing else changed). spec->stdio fds are borrowed. */
        int (*start_agent)(struct caisson_boundary *b, const struct caisson_spawn *spec,
                           pid_t *ret_pid, struct caisson_error *err);

        /* Reads the next raw event when attachment.events_fd is readable. Returns 1 and fills
         * *ret, 0 when there is none now, or a negative errno. */
        int (*next_event)(struct caisson_boundary *b, struct caisson_event *ret,
                          struct caisson_error *err);

        /* Like start_agent, for another process in the running boundary; only after it. */
        int (*exec)(struct caisson_boundary *b, const struct caisson_spawn *spec,
                    pid_t *ret_pid, struct caisson_error *err);

        /* Returns in *ret_fd (caller closes) a socket connected to 127.0.0.1:port inside the
         * sandbox's network namespace; only after start_agent. May be NULL. */
        int (*port_forward)(struct caisson_boundary *b, uint16_t port, int *ret_fd,
                            struct caisson_error *err);

        /* Evidence about a host pid inside the boundary. */
        int (*identity)(struct caisson_boundary *b, pid_t pid, struct caisson_identity *ret,
                        struct caisson_error *err);

        /* Signals one process (pid > 0, host pid) or the whole tree (pid == 0). */
        int (*kill)(struct caisson_boundary *b, pid_t pid, int sig, struct caisson_error *err);

        /* Freezes (frozen = 1) or thaws the whole tree. May be NULL. */
        int (*freeze)(struct caisson_boundary *b, int frozen, struct caisson_error *err);

        /* Optional kernel fast path for egress; NULL when the backend has none. */
        int (*grant_egress)(struct caisson_boundary *b, const char *addr, uint16_t port,
                            struct caisson_error *err);
        int (*revoke_egress)(struct caisson_boundary *b, const char *addr, uint16_t port,
                             struct caisson_error *err);

        /* Kills the whole tree and removes every kernel object and the state. Idempotent;
         * accepts a half-built boundary and NULL; frees b. */
        void (*teardown)(struct caisson_boundary *b);
};

/* The symbol a plugin exports: const struct caisson_backend_v1 caisson_backend_v1; */
#define CAISSON_BACKEND_SYMBOL "caisson_backend_v1"

#ifdef __cplusplus
}
#endif
#endif
