/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sandbox's init: pid 1 of the new pid namespace. It builds the filesystem view, puts
 * the sandbox-wide ceiling on itself (credentials, NO_NEW_PRIVS, Landlock, seccomp), hands
 * the seccomp listener to the supervisor, and then only starts processes on request and
 * reaps. Because every process of the sandbox is forked from here, all of them live in one
 * Landlock domain and under one seccomp filter (DESIGN §2). It stays non-dumpable, so a
 * process of the same uid cannot read its memory or take its fds through /proc.
 *
 * It talks to the supervisor over one SOCK_SEQPACKET socket; when that closes (the
 * supervisor died), it kills everything in the namespace and exits, which the kernel turns
 * into the end of the whole pid namespace. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
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

int init_send(int fd, const struct init_msg *m, const int *fds, size_t n_fds) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * 8)];
        } u;
        struct iovec iov = { .iov_base = (void *) m, .iov_len = sizeof *m };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (n_fds > 8)
                return -EINVAL;
        if (n_fds > 0) {
                struct cmsghdr *c;

                memset(&u, 0, sizeof u);
                mh.msg_control = u.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        }
        for (;;) {
                if (sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

ssize_t init_recv(int fd, struct init_msg *m, int *fds, size_t max_fds, size_t *ret_n_fds) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * 8)];
        } u;
        struct iovec iov = { .iov_base = m, .iov_len = sizeof *m };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                             .msg_controllen = sizeof u.buf };
        ssize_t n;
        size_t got = 0;

        do
                n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                size_t k;

                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        int f;

                        memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
                        if (got < max_fds)
                                fds[got++] = f;
                        else
                                close(f); /* more than asked for: never keep strays */
                }
        }
        if (ret_n_fds)
                *ret_n_fds = got;
        else
                for (size_t i = 0; i < got; i++)
                        close(fds[i]);
        if (n > 0 && ((size_t) n != sizeof *m || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))) {
                for (size_t i = 0; ret_n_fds && i < got; i++)
                        close(fds[i]);
                if (ret_n_fds)
                        *ret_n_fds = 0;
                return -EBADMSG;
        }
        return n;
}

_Noreturn static void init_fail(int ctl, const struct caisson_error *err) {
        struct init_msg m = { .type = INIT_MSG_ERROR, .err = *err };

        (void) init_send(ctl, &m, NULL, 0);
        _exit(125);
}

/* The request payload (a memfd): u32 argc, u32 envc, then argc + envc + 1 (cwd)
 * NUL-terminated strings. */
struct spawn_req {
        char *buf;
        char **argv;
        char **envp;
        const char *cwd;
};

static void spawn_req_done(struct spawn_req *r) {
        free(r->buf);
        free(r->argv);
        free(r->envp);
}

static int spawn_req_parse(int memfd, struct spawn_req *ret) {
        struct spawn_req r = { 0 };
        size_t size, off = 8;
        uint32_t argc, envc;
        int k;

        if (lseek(memfd, 0, SEEK_SET) < 0)
                return -errno;
        k = read_full_fd(memfd, 16 << 20, &r.buf, &size);
        if (k < 0)
                return k;
        if (size < 8)
                goto bad;
        memcpy(&argc, r.buf, 4);
        memcpy(&envc, r.buf + 4, 4);
        if (argc == 0 || argc > 1u << 20 || envc > 1u << 20)
                goto bad;
        r.argv = calloc(argc + 1, sizeof *r.argv);
        r.envp = calloc(envc + 1, sizeof *r.envp);
        if (!r.argv || !r.envp)
                goto bad;
        for (uint32_t i = 0; i < argc + envc + 1; i++) {
                char *s = r.buf + off;
                char *e = off < size ? memchr(s, 0, size - off) : NULL;

                if (!e)
                        goto bad;
                if (i < argc)
                        r.argv[i] = s;
                else if (i < argc + envc)
                        r.envp[i - argc] = s;
                else
                        r.cwd = s;
                off = (size_t) (e - r.buf) + 1;
        }
        *ret = r;
        return 0;
bad:
        spawn_req_done(&r);
        return -EBADMSG;
}

/* In the spawned child: the per-process part of the ceiling, then execve. It shares init's
 * memory (CLONE_VM, below) while init waits, so it writes nothing but its own stack: no
 * environ, no heap. */
_Noreturn static void spawn_child(const int stdio[3], int status_fd, bool tty,
                                  struct spawn_req *req) {
        struct caisson_error err = { 0 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(struct ucred))];
        } u;
        struct ucred cred = { .pid = getpid(), .uid = getuid(), .gid = getgid() };
        pid_t nspid = getpid();
        struct iovec iov = { .iov_base = &nspid, .iov_len = sizeof nspid };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                             .msg_controllen = sizeof u.buf };
        struct cmsghdr *c;
        int fd, saved;

        fd = ceiling_process(stdio, status_fd, tty, &err);
        if (fd < 0)
                goto fail;

        /* Tell the supervisor who we are: the kernel translates our pid into its pid
         * namespace, so it learns the host pid without trusting us. */
        memset(&u, 0, sizeof u);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_CREDENTIALS;
        c->cmsg_len = CMSG_LEN(sizeof cred);
        memcpy(CMSG_DATA(c), &cred, sizeof cred);
        if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0) {
                (void) cs_fail(&err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, errno,
                               "report pid");
                goto fail;
        }
        if (req->cwd[0] && chdir(req->cwd) < 0) {
                (void) cs_fail(&err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, errno,
                               "chdir '%s'", req->cwd);
                goto fail;
        }
        /* PATH search in the agent's environment, not init's. */
        execvpe(req->argv[0], req->argv, req->envp);
        saved = errno;
        if (saved == ENOENT || saved == ENOTDIR)
                (void) cs_fail(&err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_NOT_FOUND, saved,
                               "'%s'", req->argv[0]);
        else
                (void) cs_fail(&err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_NOT_EXECUTABLE,
                               saved, "'%s'", req->argv[0]);
fail:
        if (write(fd >= 0 ? fd : status_fd, &err, sizeof err) < 0) {
                /* nowhere left to report: the exit code says it */
        }
        _exit(err.code == CAISSON_REASON_EXEC_NOT_FOUND ? 127 :
              err.code == CAISSON_REASON_EXEC_NOT_EXECUTABLE ? 126 : 125);
}

struct spawn_args {
        int *fds;
        bool tty;
        struct spawn_req *req;
};

static int spawn_child_main(void *userdata) {
        struct spawn_args *a = userdata;

        spawn_child(a->fds, a->fds[3], a->tty, a->req);
}

/* The child's stack while it shares init's memory. Init is single-threaded and suspended
 * until the child has exec'd or exited (CLONE_VFORK), so one stack serves every spawn. */
static uint8_t spawn_stack[256 * 1024] __attribute__((aligned(16)));

static void handle_spawn(const struct init_msg *m, int *fds, size_t n_fds, pid_t *spawned,
                         size_t max_spawned, pid_t *agent) {
        struct spawn_req req = { 0 };
        pid_t pid = -1;

        /* fds: stdin, stdout, stderr, status, payload */
        if (n_fds == 5 && spawn_req_parse(fds[4], &req) == 0) {
                size_t slot = max_spawned;

                for (size_t i = 0; i < max_spawned; i++)
                        if (spawned[i] == 0) {
                                slot = i;
                                break;
                        }
                if (slot < max_spawned) {
                        struct spawn_args a = { .fds = fds, .tty = m->flags & INIT_SPAWN_TTY,
                                                .req = &req };

                        /* As posix_spawn does: no copy of init's page tables for a process
                         * that execs at once (a fork here cost a few hundred microseconds of
                         * every start). */
                        pid = clone(spawn_child_main, spawn_stack + sizeof spawn_stack,
                                    CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
                        if (pid > 0) {
                                spawned[slot] = pid;
                                if (m->flags & INIT_SPAWN_AGENT)
                                        *agent = pid;
                        }
                }
        }
        /* On any failure the status socket closes with nothing on it: the supervisor reads
         * that as "not started". */
        spawn_req_done(&req);
        for (size_t i = 0; i < n_fds; i++)
                close(fds[i]);
}

static void reap(int ctl, pid_t *spawned, size_t max_spawned, pid_t agent) {
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);

                if (pid <= 0)
                        return;
                for (size_t i = 0; i < max_spawned; i++)
                        if (spawned[i] == pid) {
                                struct init_msg m = { .type = INIT_MSG_EXITED, .pid = pid,
                                                      .status = status };

                                spawned[i] = 0;
                                (void) init_send(ctl, &m, NULL, 0);
                                /* The whole tree ends with the agent (DESIGN §3): leaving
                                 * now kills the rest of the pid namespace. */
                                if (pid == agent)
                                        _exit(0);
                        }
        }
}

static int build_landlock(const struct native_config *cfg, int *ret_fd,
                          struct caisson_error *err) {
        /* The sandbox's own mounts, read-write whatever the lists say (DESIGN §3). */
        static const char *const own[] = { "/tmp", "/var/tmp", "/dev", "/proc" };
        _cleanup_free_ struct landlock_path *lp = NULL;
        size_t n = 0;

        lp = calloc(cfg->n_paths + ELEMENTSOF(own) + 1, sizeof *lp);
        if (!lp)
                return cs_fail(err, CAISSON_LAYER_LANDLOCK, CAISSON_REASON_NO_MEMORY, ENOMEM,
                               "ruleset");
        for (size_t i = 0; i < cfg->n_paths; i++) {
                if (rootfs_is_virtual(cfg->paths[i].path))
                        continue;
                lp[n++] = (struct landlock_path) {
                        .path = cfg->paths[i].path,
                        .read_write = cfg->paths[i].access == CAISSON_ACCESS_RW,
                };
        }
        for (size_t i = 0; i < ELEMENTSOF(own); i++)
                lp[n++] = (struct landlock_path) { .path = own[i], .read_write = true };
        /* Listing directories, from "/" down, reads no file: the view holds only what the
         * policy granted, and tools that walk the tree (ls /, find, shells' completion)
         * keep working. File contents stay governed by the rules above. */
        lp[n++] = (struct landlock_path) { .path = "/", .list_only = true };
        return landlock_prepare(cfg->landlock_abi, lp, n, ret_fd, err);
}

int native_filter_unpack(int fd, struct syscall_filter *ret) {
        _cleanup_free_ char *buf = NULL;
        struct sock_filter *m = NULL, *c = NULL;
        uint32_t hdr[2];
        size_t size, lm, lc;
        int r;

        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        r = read_full_fd(fd, 1 << 20, &buf, &size);
        if (r < 0)
                return r;
        if (size < sizeof hdr)
                return -EBADMSG;
        memcpy(hdr, buf, sizeof hdr);
        lm = (size_t) hdr[0] * sizeof(struct sock_filter);
        lc = (size_t) hdr[1] * sizeof(struct sock_filter);
        if (hdr[0] == 0 || hdr[1] == 0 || hdr[0] > 65535 || hdr[1] > 65535 ||
            size != sizeof hdr + lm + lc)
                return -EBADMSG;
        m = malloc(lm);
        c = malloc(lc);
        if (!m || !c) {
                free(m);
                free(c);
                return -ENOMEM;
        }
        memcpy(m, buf + sizeof hdr, lm);
        memcpy(c, buf + sizeof hdr + lm, lc);
        ret->main = (struct sock_fprog) { .len = (unsigned short) hdr[0], .filter = m };
        ret->ceiling = (struct sock_fprog) { .len = (unsigned short) hdr[1], .filter = c };
        return 0;
}

/* init is a copy of the supervisor, so /proc/1/cmdline would show the caller's whole
 * command line (with --env K=V values) to the agent: overwrite our copy of it. The memory
 * is private to init since the clone; the supervisor's stays as it was. */
static void hide_cmdline(void) {
        _cleanup_free_ char *stat = NULL;
        unsigned long start = 0, end = 0;
        const char *p;
        int field;

        (void) prctl(PR_SET_NAME, "caisson-init");
        if (read_full_file("/proc/self/stat", 4096, &stat, NULL) < 0)
                return;
        p = strrchr(stat, ')');
        /* after ") " come fields 3..; arg_start and arg_end are fields 48 and 49 */
        for (field = 2; p && field < 48; field++)
                p = strchr(p + 1, ' ');
        if (!p || sscanf(p + 1, "%lu %lu", &start, &end) != 2 || end <= start ||
            end - start > (1UL << 24))
                return;
        memset((void *) start, 0, end - start);
        if (end - start > sizeof "caisson-init")
                memcpy((void *) start, "caisson-init", sizeof "caisson-init");
}

_Noreturn void init_main(struct native_config *cfg, int ctl) {
        struct caisson_error err = { 0 };
        struct init_msg m;
        pid_t spawned[NATIVE_MAX_PROCS] = { 0 }, agent = 0;
        _cleanup_close_ int ruleset = -1;
        int listener = -1, sfd, null, r;
        sigset_t mask;

        /* Nothing of the supervisor's may stay open in the sandbox: its other sockets, and
         * above all the caller's terminal, which is why 0..2 become /dev/null. */
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (ctl != 3 && (dup3(ctl, 3, O_CLOEXEC) < 0 || (close(ctl), false)))
                _exit(125);
        ctl = 3;
        if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
                _exit(125);
        (void) sys_close_range(4, ~0U, 0);
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        hide_cmdline();

        r = (int) init_recv(ctl, &m, NULL, 0, NULL);
        if (r <= 0 || m.type != INIT_MSG_GO)
                _exit(125);

        r = rootfs_build(cfg, &err);
        if (r >= 0)
                r = persist_protect(cfg, &err);
        if (r >= 0)
                r = rootfs_pivot(cfg->root, &err);
        if (r < 0)
                init_fail(ctl, &err);

        if (sethostname(cfg->hostname, strlen(cfg->hostname)) < 0) {
                (void) cs_fail(&err, CAISSON_LAYER_NAMESPACE, CAISSON_REASON_NAMESPACE_FAILED,
                               errno, "set hostname '%s'", cfg->hostname);
                init_fail(ctl, &err);
        }
        if (net_loopback_up(&err) < 0)
                init_fail(ctl, &err);

        /* Fileless exec: written from inside our pid namespace, vm.memfd_noexec applies to
         * this namespace only (from outside it would change the host's). At 2, a memfd can
         * never be executable, so exec through /proc/self/fd/N and execveat(AT_EMPTY_PATH)
         * of one fail with EACCES, while memfd_create itself keeps working (V8, CUDA). */
        r = write_string_file("/proc/sys/vm/memfd_noexec", "2");
        if (r < 0) {
                (void) cs_fail(&err, CAISSON_LAYER_NAMESPACE, CAISSON_REASON_NAMESPACE_FAILED, -r,
                               "set vm.memfd_noexec=2 (kernel >= 6.3 needed to stop fileless exec)");
                init_fail(ctl, &err);
        }

        /* The parent compiled the filter meanwhile; it arrives ready to load. */
        {
                int fds[1];
                size_t n_fds = 0;

                r = (int) init_recv(ctl, &m, fds, 1, &n_fds);
                if (r <= 0 || m.type != INIT_MSG_FILTER || n_fds != 1)
                        _exit(125);
                r = native_filter_unpack(fds[0], &cfg->filter);
                close(fds[0]);
                if (r < 0) {
                        (void) cs_fail(&err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED,
                                       -r, "read the filter");
                        init_fail(ctl, &err);
                }
        }

        /* Landlock path fds are opened now, as root, before privileges drop. */
        if (cfg->landlock_abi > 0 && build_landlock(cfg, &ruleset, &err) < 0)
                init_fail(ctl, &err);

        if (prctl(PR_SET_DUMPABLE, 0) < 0 || ceiling_drop_privileges(cfg->uid, cfg->gid, &err) < 0) {
                if (!err.layer)
                        (void) cs_fail(&err, CAISSON_LAYER_CAPS, CAISSON_REASON_CAPS_FAILED, errno,
                                       "set non-dumpable");
                init_fail(ctl, &err);
        }
        /* The credential change cleared the parent-death signal: set it again. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);

        if (ruleset >= 0) {
                if (landlock_apply(ruleset, &err) < 0)
                        init_fail(ctl, &err);
                ruleset = safe_close(ruleset);
        }
        if (syscall_filter_load(&cfg->filter, &listener, &err) < 0)
                init_fail(ctl, &err);

        m = (struct init_msg) { .type = INIT_MSG_READY };
        if (init_send(ctl, &m, &listener, 1) < 0)
                _exit(125);
        listener = safe_close(listener);

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
            (sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
                _exit(125);

        for (;;) {
                struct pollfd p[2] = { { .fd = ctl, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents) {
                        struct signalfd_siginfo si;

                        while (read(sfd, &si, sizeof si) == sizeof si)
                                ;
                        reap(ctl, spawned, ELEMENTSOF(spawned), agent);
                }
                if (p[0].revents) {
                        int fds[8];
                        size_t n_fds = 0;
                        ssize_t n = init_recv(ctl, &m, fds, ELEMENTSOF(fds), &n_fds);

                        if (n <= 0 && n != -EBADMSG)
                                break; /* the supervisor is gone */
                        if (n > 0 && m.type == INIT_MSG_SPAWN)
                                handle_spawn(&m, fds, n_fds, spawned, ELEMENTSOF(spawned), &agent);
                        else
                                for (size_t i = 0; i < n_fds; i++)
                                        close(fds[i]);
                }
        }
        /* Supervisor gone: end the sandbox. As pid 1, our exit kills the namespace. */
        (void) kill(-1, SIGKILL);
        _exit(0);
}
