/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The native backend (root): namespaces, a tmpfs root with bind mounts, a cgroup per
 * sandbox, Landlock, seccomp with user notification, capabilities dropped. This file is
 * the caisson_backend_v1 table and the supervisor-side half of each call; init.c is the
 * half that runs inside the sandbox. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "landlock.h"
#include "macro.h"
#include "native.h"
#include "syscalls.h"
#include "util.h"

static void native_metadata(struct caisson_backend_metadata *ret) {
        *ret = (struct caisson_backend_metadata) {
                .size = sizeof *ret,
                .identity_assurance = CAISSON_ASSURANCE_OBSERVED,
                .name = "native",
                .version = "1",
                .placement = "host-namespaces",
                .capabilities = CAISSON_BACKEND_CAP_NAMESPACES | CAISSON_BACKEND_CAP_LANDLOCK |
                                CAISSON_BACKEND_CAP_SECCOMP | CAISSON_BACKEND_CAP_SECCOMP_EVENTS |
                                CAISSON_BACKEND_CAP_CGROUP | CAISSON_BACKEND_CAP_RESOURCES |
                                CAISSON_BACKEND_CAP_NETNS | CAISSON_BACKEND_CAP_PTY |
                                CAISSON_BACKEND_CAP_CONNECT_EVENTS,
        };
}

static void config_done(struct native_config *c) {
        for (size_t i = 0; i < c->n_paths; i++)
                free((char *) c->paths[i].path);
        free(c->paths);
        for (size_t i = 0; i < c->n_persist_extra; i++)
                free(c->persist_extra[i]);
        free(c->persist_extra);
        syscall_filter_done(&c->filter);
        memset(c, 0, sizeof *c);
}

static int config_copy(const struct caisson_intent *in, struct native_config *c,
                       struct caisson_error *err) {
#define COPY_STR(dst, src, what)                                                                   \
        do {                                                                                       \
                if (strlen(src) >= sizeof(dst))                                                    \
                        return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_INTERNAL,        \
                                       ENAMETOOLONG, "%s too long", what);                         \
                strcpy(dst, src);                                                                  \
        } while (0)
        COPY_STR(c->id, in->sandbox_id, "sandbox id");
        COPY_STR(c->state_dir, in->state_dir, "state directory");
        {
                /* The view is built on a tmpfs mounted, in the sandbox's own mount namespace,
                 * on one shared directory beside the state directories that is never removed.
                 * A directory made per sandbox would be a mount point of the dying namespace
                 * at teardown, and its rmdir then waits for that namespace's unmounts
                 * (milliseconds, on every run). */
                const char *slash = strrchr(in->state_dir, '/');
                int n = slash && slash != in->state_dir ? (int) (slash - in->state_dir) : 0;

                if (n == 0 || snprintf(c->root, sizeof c->root, "%.*s/%s", n, in->state_dir,
                                       NATIVE_ROOT_DIR) >= (int) sizeof c->root)
                        return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_INTERNAL, EINVAL,
                                       "state directory '%s' has no parent", in->state_dir);
        }
        COPY_STR(c->hostname, in->hostname ?: "caisson", "hostname");
        COPY_STR(c->workdir, in->workdir ?: "/", "workdir");
#undef COPY_STR
        c->paths = calloc(in->n_paths ?: 1, sizeof *c->paths);
        c->persist_extra = calloc(in->n_persistence_paths ?: 1, sizeof *c->persist_extra);
        if (!c->paths || !c->persist_extra)
                return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_NO_MEMORY, ENOMEM,
                               "intent");
        for (size_t i = 0; i < in->n_paths; i++) {
                c->paths[i] = in->paths[i];
                c->paths[i].path = strdup(in->paths[i].path);
                if (!c->paths[i].path)
                        return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_NO_MEMORY,
                                       ENOMEM, "intent");
                c->n_paths++;
        }
        for (size_t i = 0; i < in->n_persistence_paths; i++) {
                c->persist_extra[i] = strdup(in->persistence_paths[i]);
                if (!c->persist_extra[i])
                        return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_NO_MEMORY,
                                       ENOMEM, "intent");
                c->n_persist_extra++;
        }
        c->persist_protect = in->persistence_protect;
        c->uid = in->uid;
        c->gid = in->gid;
        return 0;
}

static void native_teardown(struct caisson_boundary *b) {
        if (!b)
                return;
        if (b->cg)
                (void) cgroup_kill(b->cg, NULL);
        if (b->init_pidfd >= 0)
                (void) sys_pidfd_send_signal(b->init_pidfd, SIGKILL, NULL, 0);
        if (b->init_pid > 0) {
                /* init is our child: reap it, so no zombie outlives the sandbox. */
                while (waitpid(b->init_pid, NULL, __WALL) < 0 && errno == EINTR)
                        ;
                b->init_pid = 0;
        }
        cgroup_teardown(b->cg);
        b->cg = NULL;
        b->ctl_fd = safe_close(b->ctl_fd);
        b->listener_fd = safe_close(b->listener_fd);
        b->netns_fd = safe_close(b->netns_fd);
        b->pts_fd = safe_close(b->pts_fd);
        b->epoll_fd = safe_close(b->epoll_fd);
        b->init_pidfd = safe_close(b->init_pidfd);
        config_done(&b->cfg);
        free(b);
}

static void native_teardownp(struct caisson_boundary **b) {
        native_teardown(*b);
}

static int clone_init(struct caisson_boundary *b, int child_ctl, struct caisson_error *err) {
        struct clone_args args = {
                .flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                         CLONE_NEWCGROUP | CLONE_PIDFD,
                .pidfd = (uint64_t) (uintptr_t) &b->init_pidfd,
                .exit_signal = SIGCHLD,
        };
        long pid;

        /* Straight into the sandbox's cgroup: nothing of the sandbox ever runs, even for an
         * instant, outside the cgroup that teardown kills. */
        if (b->cg && b->cg->v2_fd >= 0) {
                args.flags |= CLONE_INTO_CGROUP;
                args.cgroup = (uint64_t) b->cg->v2_fd;
        }
        pid = sys_clone3(&args, sizeof args);
        if (pid < 0 && errno == EINVAL && (args.flags & CLONE_INTO_CGROUP)) {
                /* Kernels before 5.7 lack CLONE_INTO_CGROUP: attach right after, before
                 * init gets GO, so nothing of the sandbox runs outside the cgroup. */
                args.flags &= ~CLONE_INTO_CGROUP;
                pid = sys_clone3(&args, sizeof args);
        }
        if (pid < 0)
                return cs_fail(err, CAISSON_LAYER_NAMESPACE, CAISSON_REASON_NAMESPACE_FAILED,
                               errno, "create namespaces (clone3)");
        if (pid == 0) {
                /* The supervisor is single-threaded, so this copy of it may allocate. */
                init_main(&b->cfg, child_ctl);
        }
        b->init_pid = (pid_t) pid;
        b->cloned_into_cgroup = args.flags & CLONE_INTO_CGROUP;
        return 0;
}

static int native_ensure_boundary(const struct caisson_intent *intent,
                                  struct caisson_boundary **ret, struct caisson_error *err) {
        _cleanup_(native_teardownp) struct caisson_boundary *b = NULL;
        _cleanup_close_ int child_ctl = -1;
        int sp[2], r, abi;
        struct init_msg m = { .type = INIT_MSG_GO };
        char path[64];

        if (intent->size < sizeof(struct caisson_intent))
                return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_BACKEND_ABI, 0,
                               "intent too small");
        b = calloc(1, sizeof *b);
        if (!b)
                return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_NO_MEMORY, ENOMEM,
                               "boundary");
        b->init_pidfd = b->ctl_fd = b->listener_fd = b->netns_fd = b->pts_fd = b->epoll_fd = -1;
        b->on_violation = intent->seccomp_on_violation;
        b->n_observed = syscall_filter_observed(intent->syscalls, intent->n_syscalls, b->observed,
                                                ELEMENTSOF(b->observed));

        r = config_copy(intent, &b->cfg, err);
        if (r < 0)
                return r;

        /* Landlock: negotiate the ABI now; a hard requirement the kernel cannot meet stops
         * here, before anything exists. */
        abi = landlock_abi();
        if (abi < 0 && intent->landlock_compat == CAISSON_LANDLOCK_HARD_REQUIREMENT)
                return cs_fail(err, CAISSON_LAYER_LANDLOCK, CAISSON_REASON_LANDLOCK_UNAVAILABLE,
                               -abi, "landlock.compatibility is hard_requirement and Landlock is "
                               "unavailable");
        b->cfg.landlock_abi = abi > 0 ? abi : 0;

        r = cgroup_layout_detect(&b->layout, err);
        if (r < 0)
                return r;
        r = cgroup_create(&b->layout, b->cfg.id, &intent->resources, &b->cg, err);
        if (r < 0)
                return r;

        if (mkdir(b->cfg.root, 0700) < 0 && errno != EEXIST)
                return cs_fail(err, CAISSON_LAYER_STATE, CAISSON_REASON_STATE_FAILED, errno,
                               "create '%s'", b->cfg.root);

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_INTERNAL, errno,
                               "socketpair");
        b->ctl_fd = sp[0];
        child_ctl = sp[1];

        r = clone_init(b, child_ctl, err);
        if (r < 0)
                return r;
        child_ctl = safe_close(child_ctl);

        /* v1 hierarchies (and v2 where CLONE_INTO_CGROUP was not possible) before init
         * builds anything: it waits for GO. */
        r = cgroup_attach(b->cg, b->init_pid, err);
        if (r >= 0 && !b->cloned_into_cgroup && b->cg->v2_fd >= 0)
                r = cgroup_attach_v2(b->cg, b->init_pid, err);
        if (r < 0)
                return r;
        if (init_send(b->ctl_fd, &m, NULL, 0) < 0)
                return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_INTERNAL, errno,
                               "start init");

        /* The filter is compiled here, in the parent, while init builds the view (the
         * two run on different cores); init only loads the ready BPF. */
        r = syscall_filter_compile(intent->syscalls, intent->n_syscalls, &b->cfg.filter, err);
        if (r < 0)
                return r;
        {
                _cleanup_close_ int memfd = -1;
                struct init_msg fm = { .type = INIT_MSG_FILTER };

                r = native_filter_pack(&b->cfg.filter, &memfd, err);
                if (r < 0)
                        return r;
                /* If init already failed, this send fails too: its ERROR is still queued
                 * and boundary_ready reports it. */
                (void) init_send(b->ctl_fd, &fm, &memfd, 1);
        }
        /* Meanwhile, on this core: the netns must hold only lo and no route out. Nothing
         * can change it before the agent starts but init (bringing lo up) and, with
         * network_policies, the supervisor's own egress setup, which checks what it adds. */
        (void) snprintf(path, sizeof path, "/proc/%d/ns/net", (int) b->init_pid);
        b->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (b->netns_fd < 0)
                return cs_fail(err, CAISSON_LAYER_NET, CAISSON_REASON_NET_FAILED, errno,
                               "open the sandbox netns");
        r = net_verify_isolated(b->netns_fd, err);
        if (r < 0)
                return r;

        /* The events fd now, so bind() can hand it out; the seccomp listener joins it
         * when init reports READY. */
        b->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (b->epoll_fd < 0)
                return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_INTERNAL, errno, "epoll");
        {
                struct epoll_event e1 = { .events = EPOLLIN, .data.fd = b->ctl_fd };

                if (epoll_ctl(b->epoll_fd, EPOLL_CTL_ADD, b->ctl_fd, &e1) < 0)
                        return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_INTERNAL, errno,
                                       "epoll");
        }
        /* Returns while init still builds the view: the netns already has its deny-all
         * ceiling (lo only, verified above), so the supervisor can place its egress
         * gateway there meanwhile, on the other core. boundary_ready waits for init. */
        *ret = TAKE_PTR(b);
        return 0;
}

static int native_bind(struct caisson_boundary *b, struct caisson_attachment *ret,
                       struct caisson_error *err) {
        (void) err;
        *ret = (struct caisson_attachment) {
                .size = sizeof *ret,
                .init_pid = b->init_pid,
                .netns_fd = b->netns_fd,
                .cgroup_fd = b->cg ? b->cg->v2_fd : -1,
                .events_fd = b->epoll_fd,
                .pts_fd = b->pts_fd,
                .landlock_abi = (uint32_t) b->cfg.landlock_abi,
        };
        if (b->cfg.landlock_abi == 0)
                ret->degraded |= CAISSON_DEGRADED_LANDLOCK;
        if (b->cg) {
                if (b->cg->unsupported & CGROUP_RES_MEMORY)
                        ret->degraded |= CAISSON_DEGRADED_MEMORY;
                if (b->cg->unsupported & CGROUP_RES_PIDS)
                        ret->degraded |= CAISSON_DEGRADED_PIDS;
                if (b->cg->unsupported & CGROUP_RES_CPU)
                        ret->degraded |= CAISSON_DEGRADED_CPU;
        }
        return 0;
}

/* Waits for init's READY: the view built, privileges dropped, Landlock and the filter in
 * place; then the seccomp listener joins the events fd and the view's devpts is opened. */
static int wait_built(struct caisson_boundary *b, struct caisson_error *err) {
        struct init_msg m;
        int r, fds[1];
        size_t n_fds = 0;
        char path[64];

        if (b->built)
                return 0;
        r = (int) init_recv(b->ctl_fd, &m, fds, 1, &n_fds);
        if (r <= 0)
                return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_INTERNAL,
                               r < 0 ? -r : 0, "the sandbox's init died while building");
        if (m.type == INIT_MSG_ERROR) {
                for (size_t i = 0; i < n_fds; i++)
                        close(fds[i]);
                *err = m.err;
                err->msg[sizeof err->msg - 1] = 0;
                return err->errnum ? -err->errnum : -EINVAL;
        }
        if (m.type != INIT_MSG_READY || n_fds != 1) {
                for (size_t i = 0; i < n_fds; i++)
                        close(fds[i]);
                return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_INTERNAL, 0,
                               "unexpected message from init");
        }
        b->listener_fd = fds[0];
        syscall_filter_sync_wakeup(b->listener_fd);

        {
                struct epoll_event e2 = { .events = EPOLLIN, .data.fd = b->listener_fd };

                if (epoll_ctl(b->epoll_fd, EPOLL_CTL_ADD, b->listener_fd, &e2) < 0)
                        return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_INTERNAL, errno,
                                       "epoll");
        }
        (void) snprintf(path, sizeof path, "/proc/%d/root/dev/pts", (int) b->init_pid);
        b->pts_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (b->pts_fd < 0)
                return cs_fail(err, CAISSON_LAYER_TERMINAL, CAISSON_REASON_TERMINAL_FAILED, errno,
                               "open the sandbox devpts");
        b->built = true;
        return 0;
}

static int native_boundary_ready(struct caisson_boundary *b, struct caisson_error *err) {
        int r = wait_built(b, err);

        if (r < 0)
                return r;
        if (b->init_lost || sys_pidfd_send_signal(b->init_pidfd, 0, NULL, 0) < 0)
                return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_INTERNAL, 0,
                               "the sandbox's init is gone");
        b->ready = true;
        return 0;
}

static int write_payload(const struct caisson_spawn *spec, int *ret_fd,
                         struct caisson_error *err) {
        _cleanup_close_ int fd = -1;
        uint32_t argc = 0, envc = 0;
        FILE *f;

        for (; spec->argv[argc]; argc++)
                ;
        for (; spec->envp && spec->envp[envc]; envc++)
                ;
        if (argc == 0)
                return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_USAGE, 0, "empty command");
        fd = memfd_create("caisson-spawn", MFD_CLOEXEC);
        if (fd < 0)
                return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, errno, "memfd");
        f = fdopen(dup(fd), "w");
        if (!f)
                return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, errno, "memfd");
        (void) fwrite(&argc, 4, 1, f);
        (void) fwrite(&envc, 4, 1, f);
        for (uint32_t i = 0; i < argc; i++)
                (void) fwrite(spec->argv[i], strlen(spec->argv[i]) + 1, 1, f);
        for (uint32_t i = 0; i < envc; i++)
                (void) fwrite(spec->envp[i], strlen(spec->envp[i]) + 1, 1, f);
        (void) fwrite(spec->cwd ?: "", strlen(spec->cwd ?: "") + 1, 1, f);
        if (ferror(f) | (fclose(f) != 0))
                return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, EIO, "memfd");
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int native_filter_pack(const struct syscall_filter *f, int *ret_fd, struct caisson_error *err) {
        _cleanup_close_ int fd = -1;
        uint32_t hdr[2] = { f->main.len, f->ceiling.len };
        size_t lm = f->main.len * sizeof(struct sock_filter);
        size_t lc = f->ceiling.len * sizeof(struct sock_filter);

        fd = memfd_create("caisson-filter", MFD_CLOEXEC);
        if (fd < 0)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED, errno,
                               "memfd for the filter");
        if (write(fd, hdr, sizeof hdr) != (ssize_t) sizeof hdr ||
            write(fd, f->main.filter, lm) != (ssize_t) lm ||
            write(fd, f->ceiling.filter, lc) != (ssize_t) lc)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED,
                               errno ?: EIO, "write the filter");
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int spawn(struct caisson_boundary *b, const struct caisson_spawn *spec, bool agent,
                 pid_t *ret_pid, struct caisson_error *err) {
        _cleanup_close_ int payload = -1, mine = -1, theirs = -1;
        struct init_msg m = { .type = INIT_MSG_SPAWN };
        struct caisson_error child_err;
        pid_t host_pid = 0, ns_pid = 0;
        int sp[2], one = 1, r;
        size_t slot = NATIVE_MAX_PROCS;

        for (size_t i = 0; i < NATIVE_MAX_PROCS; i++)
                if (b->procs[i].ns_pid == 0) {
                        slot = i;
                        break;
                }
        if (slot == NATIVE_MAX_PROCS)
                return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, EAGAIN,
                               "too many processes started in this sandbox");
        r = write_payload(spec, &payload, err);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, errno,
                               "socketpair");
        mine = sp[0];
        theirs = sp[1];
        if (setsockopt(mine, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, errno,
                               "SO_PASSCRED");
        if (spec->controlling_tty)
                m.flags |= INIT_SPAWN_TTY;
        if (agent)
                m.flags |= INIT_SPAWN_AGENT;
        {
                int fds[5] = { spec->stdio[0], spec->stdio[1], spec->stdio[2], theirs, payload };

                if (init_send(b->ctl_fd, &m, fds, 5) < 0)
                        return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, errno,
                                       "send the request to init");
        }
        theirs = safe_close(theirs);

        /* First the child's credentials (its pid, translated by the kernel), then either
         * an error record or EOF: the status socket is CLOEXEC, so EOF means execve
         * succeeded. */
        for (;;) {
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(struct ucred))];
                } u;
                union {
                        struct caisson_error e;
                        pid_t pid;
                } data;
                struct iovec iov = { .iov_base = &data, .iov_len = sizeof data };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                                     .msg_controllen = sizeof u.buf };
                ssize_t n = recvmsg(mine, &mh, MSG_CMSG_CLOEXEC);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, errno,
                                       "read the start status");
                if (n == 0)
                        break;
                if ((size_t) n == sizeof(struct caisson_error)) {
                        child_err = data.e;
                        child_err.msg[sizeof child_err.msg - 1] = 0;
                        *err = child_err;
                        return child_err.errnum ? -child_err.errnum : -EINVAL;
                }
                if ((size_t) n == sizeof(pid_t)) {
                        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

                        ns_pid = data.pid;
                        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                                struct ucred cred;

                                memcpy(&cred, CMSG_DATA(c), sizeof cred);
                                host_pid = cred.pid;
                        }
                }
        }
        if (host_pid <= 0 || ns_pid <= 0)
                return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, 0,
                               "init could not start the process");
        b->procs[slot] = (struct native_proc) { .ns_pid = ns_pid, .host_pid = host_pid };
        *ret_pid = host_pid;
        return 0;
}

static int native_start_agent(struct caisson_boundary *b, const struct caisson_spawn *spec,
                              pid_t *ret_pid, struct caisson_error *err) {
        int r;

        if (!b->ready || b->started)
                return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_LIFECYCLE_ORDER, 0,
                               "start_agent before boundary_ready, or twice");
        r = spawn(b, spec, true, ret_pid, err);
        if (r < 0)
                return r;
        b->started = true;
        return 0;
}

static int native_exec(struct caisson_boundary *b, const struct caisson_spawn *spec,
                       pid_t *ret_pid, struct caisson_error *err) {
        if (!b->started)
                return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_LIFECYCLE_ORDER, 0,
                               "exec before start_agent");
        return spawn(b, spec, false, ret_pid, err);
}

static void kill_tree(void *userdata) {
        struct caisson_boundary *b = userdata;

        (void) cgroup_kill(b->cg, NULL);
}

static int native_next_event(struct caisson_boundary *b, struct caisson_event *ret,
                             struct caisson_error *err) {
        struct epoll_event ev[2];
        int n;

        /* The caller of the last CONNECT event goes on now: the supervisor has recorded it.
         * If it was gone by then, the record may have been read from what it became. */
        if (b->holding) {
                b->holding = false;
                if (syscall_filter_continue(b->listener_fd, b->held) == 1) {
                        memset(ret, 0, offsetof(struct caisson_event, binary) + 1);
                        ret->kind = CAISSON_EVENT_CONNECT_ABANDONED;
                        ret->pid = b->held_pid;
                        ret->sock_ino = b->held_ino;
                        return 1;
                }
        }
        /* A sandbox that calls connect() without end would keep the supervisor here: after
         * a run of events, "none now", so its loop gets to init's messages, signals and
         * timers before it comes back (the listener is still readable). */
        if (++b->event_run > 64) {
                b->event_run = 0;
                return 0;
        }
        n = epoll_wait(b->epoll_fd, ev, 2, 0);
        if (n == 2 && ev[0].data.fd == b->listener_fd) {
                struct epoll_event t = ev[0];   /* init's messages first */

                ev[0] = ev[1];
                ev[1] = t;
        }
        if (n <= 0)
                b->event_run = 0;
        if (n < 0)
                return errno == EINTR ? 0 : cs_fail(err, CAISSON_LAYER_BACKEND,
                                                    CAISSON_REASON_INTERNAL, errno, "epoll");
        for (int i = 0; i < n; i++) {
                if (ev[i].data.fd == b->listener_fd) {
                        bool kill = b->on_violation == CAISSON_VIOLATION_KILL;
                        int r = syscall_filter_handle_observe(b->listener_fd, b->observed,
                                                              b->n_observed, &b->held,
                                                              kill ? kill_tree : NULL, b, ret,
                                                              err);

                        if (r < 0) {
                                /* The listener fails only when the filter has no users
                                 * left: every sandbox process is gone. */
                                (void) epoll_ctl(b->epoll_fd, EPOLL_CTL_DEL, b->listener_fd, NULL);
                                continue;
                        }
                        if (r == 0)
                                continue;
                        if (ret->kind == CAISSON_EVENT_CONNECT) {
                                b->holding = true;
                                b->held_pid = ret->pid;
                                b->held_ino = ret->sock_ino;
                                return 1;
                        }
                        if (kill) {
                                ret->kind = CAISSON_EVENT_SYSCALL_KILLED;
                                ret->reason = CAISSON_REASON_SYSCALL_KILLED;
                        }
                        return 1;
                }
                if (ev[i].data.fd == b->ctl_fd) {
                        struct init_msg m;
                        ssize_t k = init_recv(b->ctl_fd, &m, NULL, 0, NULL);

                        if (k <= 0 && k != -EBADMSG) {
                                (void) epoll_ctl(b->epoll_fd, EPOLL_CTL_DEL, b->ctl_fd, NULL);
                                b->init_lost = true;
                                memset(ret, 0, sizeof *ret);
                                ret->kind = CAISSON_EVENT_BOUNDARY_LOST;
                                ret->reason = CAISSON_REASON_INTERNAL;
                                return 1;
                        }
                        if (k > 0 && m.type == INIT_MSG_EXITED) {
                                memset(ret, 0, sizeof *ret);
                                ret->kind = CAISSON_EVENT_PROCESS_EXITED;
                                ret->status = m.status;
                                for (size_t j = 0; j < NATIVE_MAX_PROCS; j++)
                                        if (b->procs[j].ns_pid == m.pid) {
                                                ret->pid = b->procs[j].host_pid;
                                                b->procs[j] = (struct native_proc) { 0 };
                                        }
                                ret->reason = WIFSIGNALED(m.status) ? CAISSON_REASON_SIGNALED
                                                                     : CAISSON_REASON_EXITED;
                                return 1;
                        }
                }
        }
        return 0;
}

static int native_kill(struct caisson_boundary *b, pid_t pid, int sig, struct caisson_error *err) {
        if (pid == 0) {
                if (sig == SIGKILL)
                        return cgroup_kill(b->cg, err);
                /* Every started process and, through init, none of init itself. */
                for (size_t i = 0; i < NATIVE_MAX_PROCS; i++)
                        if (b->procs[i].host_pid > 0)
                                (void) kill(b->procs[i].host_pid, sig);
                return 0;
        }
        for (size_t i = 0; i < NATIVE_MAX_PROCS; i++)
                if (b->procs[i].host_pid == pid) {
                        if (kill(pid, sig) < 0)
                                return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_INTERNAL,
                                               errno, "signal %d to pid %d", sig, (int) pid);
                        return 0;
                }
        return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_USAGE, ESRCH,
                       "pid %d was not started in this sandbox", (int) pid);
}

static int native_freeze(struct caisson_boundary *b, int frozen, struct caisson_error *err) {
        return cgroup_freeze(b->cg, frozen, err);
}

static int native_identity(struct caisson_boundary *b, pid_t pid, struct caisson_identity *ret,
                           struct caisson_error *err) {
        char path[64];
        ssize_t n;

        (void) b;
        memset(ret, 0, sizeof *ret);
        (void) snprintf(path, sizeof path, "/proc/%d/exe", (int) pid);
        n = readlink(path, ret->binary, sizeof ret->binary - 1);
        if (n < 0)
                return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_INTERNAL, errno,
                               "read '%s'", path);
        ret->binary[n] = 0;
        ret->pid = pid;
        ret->assurance = CAISSON_ASSURANCE_OBSERVED;
        return 0;
}

const struct caisson_backend_v1 caisson_backend_native = {
        .abi_version = CAISSON_BACKEND_ABI_VERSION,
        .size = sizeof(struct caisson_backend_v1),
        .metadata = native_metadata,
        .ensure_boundary = native_ensure_boundary,
        .bind = native_bind,
        .boundary_ready = native_boundary_ready,
        .start_agent = native_start_agent,
        .next_event = native_next_event,
        .exec = native_exec,
        .port_forward = NULL,
        .identity = native_identity,
        .kill = native_kill,
        .freeze = native_freeze,
        .grant_egress = NULL,
        .revoke_egress = NULL,
        .teardown = native_teardown,
};
