/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to the native backend: the boundary object and the init protocol. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "caisson/backend.h"
#include "cgroup.h"
#include "persist-names.h"
#include "syscall-filter.h"

#define NATIVE_MAX_PROCS 64 /* processes started by start_agent/exec tracked at once */
/* Beside the state directories: where each sandbox mounts its root tmpfs, in its own mount
 * namespace. Shared, never removed; `caisson gc` leaves it alone. */
#define NATIVE_ROOT_DIR ".root"

/* What init needs to build the view and the ceiling; a deep copy of the intent, taken
 * before clone so the child owns its memory. */
struct native_config {
        char id[32];
        char state_dir[256];
        char root[300];          /* <state_dir>/root: where the new root is assembled */
        char hostname[65];
        char workdir[4096];
        struct caisson_path_rule *paths; /* path strings owned by this struct */
        size_t n_paths;
        char **persist_extra;
        size_t n_persist_extra;
        bool persist_protect;
        uid_t uid;
        gid_t gid;
        int landlock_abi;        /* > 0: apply; <= 0: skip (best effort, already reported) */
        struct syscall_filter filter; /* compiled in the parent; init gets it as FILTER */
};

struct native_proc {
        pid_t ns_pid;   /* pid inside the sandbox (init's view) */
        pid_t host_pid;
};

struct caisson_boundary {
        struct native_config cfg;
        struct cgroup_layout layout;
        struct cgroup_set *cg;
        uint32_t on_violation;
        int observed[4];         /* CAISSON_SYSCALL_OBSERVE numbers (connect, TFO sends) */
        size_t n_observed;
        uint64_t held;           /* a CONNECT event's caller, let go at the next next_event */
        bool holding;
        int32_t held_pid;        /* its pid and socket, for CONNECT_ABANDONED */
        uint32_t held_ino;
        unsigned event_run;      /* events returned since next_event last said "none" */

        pid_t init_pid;          /* host pid; 0 until cloned */
        int init_pidfd;
        int ctl_fd;              /* SOCK_SEQPACKET to init */
        int listener_fd;         /* seccomp user notification */
        int netns_fd;
        int pts_fd;              /* O_PATH of the sandbox's /dev/pts */
        int epoll_fd;            /* events_fd: ctl_fd + listener_fd */

        bool cloned_into_cgroup; /* CLONE_INTO_CGROUP placed init in the v2 cgroup */
        bool built;              /* init reported READY: view, Landlock and filter in place */
        bool ready;              /* boundary_ready succeeded */
        bool started;            /* start_agent succeeded */
        bool init_lost;
        struct native_proc procs[NATIVE_MAX_PROCS];
};

/* Messages on ctl_fd (SOCK_SEQPACKET; fds ride along with SCM_RIGHTS). */
enum init_msg_type {
        INIT_MSG_GO = 1,       /* sup → init: cgroups attached, build the view */
        INIT_MSG_READY,        /* init → sup: ceiling in place; carries the seccomp listener */
        INIT_MSG_ERROR,        /* init → sup: struct caisson_error; init exits */
        INIT_MSG_SPAWN,        /* sup → init: fds stdin,stdout,stderr,status,payload(memfd) */
        INIT_MSG_EXITED,       /* init → sup: a spawned process ended */
        INIT_MSG_FILTER,       /* sup → init: the compiled seccomp programs (memfd) */
};

struct init_msg {
        uint32_t type;
        int32_t pid;           /* EXITED: ns pid */
        int32_t status;        /* EXITED: wait status */
        uint32_t flags;        /* SPAWN: CAISSON_SPAWN_* | INIT_SPAWN_TTY */
        struct caisson_error err;
};
#define INIT_SPAWN_TTY 0x80000000u
/* The agent (start_agent): when it ends, init reports it and exits at once, so the kernel
 * kills what is left of the pid namespace and tears the namespaces down while the supervisor
 * is still reading the report, not only after it has answered with a kill. */
#define INIT_SPAWN_AGENT 0x40000000u

/* init.c: runs as pid 1 of the new pid namespace; never returns. */
_Noreturn void init_main(struct native_config *cfg, int ctl_fd);

/* rootfs.c (inside the new mount namespace, as root) */
int rootfs_build(const struct native_config *cfg, struct caisson_error *err);
int rootfs_pivot(const char *root, struct caisson_error *err);
int rootfs_bind(const char *src, const char *dst, uint64_t attr_set, struct caisson_error *err);

/* persist.c */
/* Protects existing persistence files under the read-write paths of cfg (inside the new
 * root, before pivot_root: paths are prefixed with cfg->root). */
int persist_protect(const struct native_config *cfg, struct caisson_error *err);

/* ceiling.c (child side; no allocation) */
int ceiling_drop_privileges(uid_t uid, gid_t gid, struct caisson_error *err);
int ceiling_process(const int stdio[3], int status_fd, bool controlling_tty,
                    struct caisson_error *err);

/* net.c */
int net_loopback_up(struct caisson_error *err);
int net_verify_isolated(int netns_fd, struct caisson_error *err);
/* Pure: what a link of the sandbox's netns is, from its name, kind (IFLA_INFO_KIND, or
 * NULL), flags (IFF_*) and whether it has an address. Only LOOPBACK and FALLBACK_TUNNEL
 * (a tunnel driver's fallback device, by name and kind, down, no address) are allowed. */
enum net_link_verdict {
        NET_LINK_LOOPBACK,
        NET_LINK_FALLBACK_TUNNEL,
        NET_LINK_TUNNEL_UP,
        NET_LINK_TUNNEL_ADDRESSED,
        NET_LINK_UNEXPECTED,
};
enum net_link_verdict net_link_judge(const char *name, const char *kind, unsigned flags,
                                     bool has_addr);

/* The filter's two programs in one memfd: u32 main_len, u32 ceiling_len, then the
 * instructions. The parent compiles while init builds the view; init only loads. */
int native_filter_pack(const struct syscall_filter *f, int *ret_fd, struct caisson_error *err);
int native_filter_unpack(int fd, struct syscall_filter *ret);

/* init protocol helpers (init.c) */
int init_send(int fd, const struct init_msg *m, const int *fds, size_t n_fds);
ssize_t init_recv(int fd, struct init_msg *m, int *fds, size_t max_fds, size_t *ret_n_fds);
