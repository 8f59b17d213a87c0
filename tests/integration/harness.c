/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "harness.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_REG 64
static pid_t reg_pids[MAX_REG];
static size_t n_reg_pids;
static char *reg_paths[MAX_REG];
static size_t n_reg_paths;

double h_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static const char *env_or_die(const char *k) {
        const char *v = getenv(k);

        cr_assert(v && *v, "%s is not set (run through meson test)", k);
        return v;
}

const char *h_caisson(void) {
        return env_or_die("CAISSON_BIN");
}
const char *h_probe(void) {
        return env_or_die("CAISSON_PROBE");
}
const char *h_nonetfilter(void) {
        return env_or_die("CAISSON_NONETFILTER");
}

const char *h_nolandlock(void) {
        return env_or_die("CAISSON_NOLANDLOCK");
}

void h_require_root(void) {
        if (geteuid() != 0 && !getenv("CAISSON_TEST_REQUIRE_ROOT"))
                cr_skip_test("needs root");
        cr_assert_eq(geteuid(), 0, "CAISSON_TEST_REQUIRE_ROOT is set but we are not root");
        /* Under sudo, caisson would run the agent as SUDO_UID; the tests expect nobody. */
        (void) unsetenv("SUDO_UID");
        (void) unsetenv("SUDO_GID");
        (void) unsetenv("SUDO_USER");
}

void h_register_pid(pid_t pid) {
        for (size_t i = 0; i < n_reg_pids; i++)
                if (reg_pids[i] == 0) {
                        reg_pids[i] = pid;
                        return;
                }
        if (n_reg_pids < MAX_REG)
                reg_pids[n_reg_pids++] = pid;
}

/* Once reaped, a pid may be reused by anyone: never kill it from .fini. */
static void unregister_pid(pid_t pid) {
        for (size_t i = 0; i < n_reg_pids; i++)
                if (reg_pids[i] == pid)
                        reg_pids[i] = 0;
}

void h_register_path(const char *path) {
        if (n_reg_paths < MAX_REG)
                reg_paths[n_reg_paths++] = strdup(path);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
        (void) st;
        (void) f;
        if (flag == FTW_DP || flag == FTW_D)
                (void) rmdir(p);
        else
                (void) unlink(p);
        return 0;
}

void h_cleanup(void) {
        for (size_t i = 0; i < n_reg_pids; i++)
                if (reg_pids[i] > 0) {
                        (void) kill(reg_pids[i], SIGKILL);
                        (void) waitpid(reg_pids[i], NULL, WNOHANG);
                }
        n_reg_pids = 0;
        for (size_t i = n_reg_paths; i-- > 0;) {
                (void) nftw(reg_paths[i], rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
                free(reg_paths[i]);
        }
        n_reg_paths = 0;
}

char *h_path(const char *dir, const char *name) {
        char *s;

        cr_assert(asprintf(&s, "%s/%s", dir, name) >= 0);
        return s;
}

void h_write_file(const char *path, const char *content, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        cr_assert(fd >= 0, "create %s: %s", path, strerror(errno));
        cr_assert_eq(write(fd, content, strlen(content)), (ssize_t) strlen(content));
        (void) fchmod(fd, mode);
        close(fd);
}

char *h_read_file(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t size = 0;
        FILE *m;
        char chunk[4096];
        size_t n;

        if (!f)
                return NULL;
        m = open_memstream(&buf, &size);
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
                fwrite(chunk, 1, n, m);
        fclose(f);
        fclose(m);
        return buf;
}

bool h_exists(const char *path) {
        struct stat st;

        return lstat(path, &st) == 0;
}

static void copy_file(const char *from, const char *to, mode_t mode) {
        char buf[65536];
        ssize_t n;
        int in = open(from, O_RDONLY | O_CLOEXEC);
        int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        cr_assert(in >= 0 && out >= 0, "copy %s -> %s: %s", from, to, strerror(errno));
        while ((n = read(in, buf, sizeof buf)) > 0)
                cr_assert_eq(write(out, buf, (size_t) n), n);
        (void) fchmod(out, mode);
        close(in);
        close(out);
}

char *h_workdir(const char *base) {
        char *t;
        char *probe;

        cr_assert(asprintf(&t, "%s/caisson-it-XXXXXX", base ?: "/var/tmp") >= 0);
        cr_assert(mkdtemp(t), "mkdtemp %s: %s", t, strerror(errno));
        h_register_path(t);
        cr_assert_eq(chmod(t, 0755), 0);
        probe = h_path(t, "probe");
        copy_file(h_probe(), probe, 0755);
        cr_assert_eq(chown(probe, H_NOBODY, H_NOBODY), 0);
        cr_assert_eq(chown(t, H_NOBODY, H_NOBODY), 0);
        free(probe);
        return t;
}

int h_spawn(const char *const *argv, const struct h_opts *o, struct h_proc *ret) {
        static const struct h_opts none = { 0 };
        int out[2], err[2];
        pid_t pid;

        if (!o)
                o = &none;
        cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
        ret->start = h_now();
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                int in = o->stdin_fd > 0 ? o->stdin_fd : -1;

                (void) signal(SIGPIPE, SIG_DFL);
                if (o->ctty) {
                        (void) setsid();
                        if (ioctl(o->ctty_fd, TIOCSCTTY, 0) < 0)
                                _exit(121);
                        if (in < 0)
                                in = o->ctty_fd;
                }
                if (in < 0)
                        in = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (dup2(in, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
                        _exit(122);
                for (size_t i = 0; i < o->n_keep; i++) {
                        int fl = fcntl(o->keep_fds[i], F_GETFD);

                        (void) fcntl(o->keep_fds[i], F_SETFD, fl & ~FD_CLOEXEC);
                }
                for (const char *const *e = o->setenv; e && *e; e++)
                        (void) putenv((char *) *e);
                for (const char *const *e = o->unsetenv; e && *e; e++)
                        (void) unsetenv(*e);
                if (o->as_user) {
                        if (setgroups(0, NULL) < 0 || setresgid(o->uid, o->uid, o->uid) < 0 ||
                            setresuid(o->uid, o->uid, o->uid) < 0)
                                _exit(123);
                }
                execve(argv[0], (char *const *) argv, environ);
                _exit(errno == ENOENT ? 127 : 126);
        }
        close(out[1]);
        close(err[1]);
        ret->pid = pid;
        ret->out_fd = out[0];
        ret->err_fd = err[0];
        return 0;
}

static void drain(int *fd, FILE *m) {
        char buf[8192];
        ssize_t n = read(*fd, buf, sizeof buf);

        if (n > 0)
                fwrite(buf, 1, (size_t) n, m);
        else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                close(*fd);
                *fd = -1;
        }
}

void h_wait(struct h_proc *p, int timeout_s, struct h_result *ret) {
        char *obuf = NULL, *ebuf = NULL;
        size_t osz = 0, esz = 0;
        FILE *om = open_memstream(&obuf, &osz), *em = open_memstream(&ebuf, &esz);
        double deadline = p->start + (timeout_s > 0 ? timeout_s : 120);
        bool exited = false;
        int st = 0;

        memset(ret, 0, sizeof *ret);
        /* Output until EOF on both pipes or the process is gone and the pipes are quiet (a
         * leaked grandchild holding the pipe must not hang the test). */
        while (p->out_fd >= 0 || p->err_fd >= 0) {
                struct pollfd pfd[2] = { { .fd = p->out_fd, .events = POLLIN },
                                         { .fd = p->err_fd, .events = POLLIN } };
                int r;

                if (!exited && waitpid(p->pid, &st, WNOHANG) == p->pid) {
                        exited = true;
                        deadline = h_now() + 2; /* drain what is left, not forever */
                }
                if (h_now() > deadline) {
                        if (!exited) {
                                (void) kill(p->pid, SIGKILL);
                                ret->timed_out = true;
                                (void) waitpid(p->pid, &st, 0);
                                exited = true;
                                deadline = h_now() + 2;
                                continue;
                        }
                        break;
                }
                r = poll(pfd, 2, 50);
                if (r <= 0)
                        continue;
                if (pfd[0].revents)
                        drain(&p->out_fd, om);
                if (pfd[1].revents)
                        drain(&p->err_fd, em);
        }
        if (p->out_fd >= 0)
                close(p->out_fd);
        if (p->err_fd >= 0)
                close(p->err_fd);
        p->out_fd = p->err_fd = -1;
        if (!exited) {
                double limit = p->start + (timeout_s > 0 ? timeout_s : 120);

                while (waitpid(p->pid, &st, WNOHANG) == 0) {
                        if (h_now() > limit) {
                                (void) kill(p->pid, SIGKILL);
                                ret->timed_out = true;
                                (void) waitpid(p->pid, &st, 0);
                                break;
                        }
                        usleep(5000);
                }
        }
        unregister_pid(p->pid);
        fclose(om);
        fclose(em);
        ret->status = st;
        ret->code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
        ret->out = obuf;
        ret->err = ebuf;
        ret->secs = h_now() - p->start;
}

void h_run(const char *const *argv, const struct h_opts *o, struct h_result *ret) {
        struct h_proc p;

        h_spawn(argv, o, &p);
        h_register_pid(p.pid); /* killed in .fini if the test aborts while it runs */
        h_wait(&p, o ? o->timeout_s : 0, ret);
}

void h_result_done(struct h_result *r) {
        free(r->out);
        free(r->err);
        r->out = r->err = NULL;
}

void h_caisson_run(const char *wd, const char *const *args, const char *const *cmd,
                   const struct h_opts *o, struct h_result *ret) {
        const char *argv[128];
        size_t n = 0;

        argv[n++] = h_caisson();
        argv[n++] = "run";
        if (wd) {
                argv[n++] = "--workdir";
                argv[n++] = wd;
        }
        for (const char *const *a = args; a && *a && n < 100; a++)
                argv[n++] = *a;
        argv[n++] = "--";
        for (const char *const *a = cmd; a && *a && n < 126; a++)
                argv[n++] = *a;
        argv[n] = NULL;
        h_run(argv, o, ret);
}

char *h_first_line(const char *s) {
        size_t n = strcspn(s, "\n");
        char *r = strndup(s, n);

        cr_assert(r);
        return r;
}

char *h_probe_in(const char *wd, const char *const *caisson_args, const char *const *probe_args) {
        const char *cmd[32];
        size_t n = 0;
        struct h_result r;
        char *line;

        cmd[n++] = h_path(wd, "probe");
        for (const char *const *a = probe_args; *a && n < 31; a++)
                cmd[n++] = *a;
        cmd[n] = NULL;
        h_caisson_run(wd, caisson_args, cmd, NULL, &r);
        cr_assert_eq(r.code, 0, "caisson run -- probe %s: exit %d\nstdout: %s\nstderr: %s",
                     probe_args[0], r.code, r.out, r.err);
        line = h_first_line(r.out);
        h_result_done(&r);
        return line;
}

char *h_probe_out(bool as_nobody, const char *const *probe_args) {
        const char *argv[32];
        size_t n = 0;
        struct h_opts o = { .as_user = as_nobody, .uid = H_NOBODY };
        struct h_result r;
        char *line;

        argv[n++] = h_probe();
        for (const char *const *a = probe_args; *a && n < 31; a++)
                argv[n++] = *a;
        argv[n] = NULL;
        h_run(argv, &o, &r);
        cr_assert_eq(r.code, 0, "probe %s (outside): exit %d: %s", probe_args[0], r.code, r.err);
        line = h_first_line(r.out);
        h_result_done(&r);
        return line;
}

bool h_wait_path(const char *path, int ms) {
        for (int i = 0; i < ms / 10; i++) {
                if (h_exists(path))
                        return true;
                usleep(10000);
        }
        return h_exists(path);
}

static bool streq_(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

int h_find_procs(const char *token, pid_t *ret, int max) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        int n = 0;

        cr_assert(d);
        while ((de = readdir(d))) {
                char path[300], buf[4096];
                pid_t pid = (pid_t) atoi(de->d_name);
                ssize_t len;
                int fd;

                if (pid <= 0 || pid == getpid())
                        continue;
                (void) snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                len = read(fd, buf, sizeof buf - 1);
                close(fd);
                if (len <= 0)
                        continue;
                buf[len] = 0;
                /* One argument equal to token (not a shell script that mentions it). */
                for (char *a = buf; a < buf + len; a += strlen(a) + 1)
                        if (streq_(a, token)) {
                                if (n < max)
                                        ret[n++] = pid;
                                break;
                        }
        }
        closedir(d);
        return n;
}

pid_t h_ppid(pid_t pid, char *comm, size_t size) {
        char path[64], buf[512], *lp, *rp;
        int ppid = 0;
        FILE *f;

        (void) snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        /* "PID (COMM) S PPID ...": comm may hold spaces and ')', so up to the last ')'. */
        if (fgets(buf, sizeof buf, f) && (lp = strchr(buf, '(')) && (rp = strrchr(buf, ')')) &&
            sscanf(rp + 1, " %*c %d", &ppid) == 1 && comm && size > 0)
                (void) snprintf(comm, size, "%.*s", (int) (rp - lp - 1), lp + 1);
        fclose(f);
        return (pid_t) ppid;
}

int h_sandbox_id_of(pid_t pid, char *ret, size_t size) {
        char path[64];
        char *buf;
        char *p;

        (void) snprintf(path, sizeof path, "/proc/%d/cgroup", pid);
        buf = h_read_file(path);
        if (!buf)
                return -ENOENT;
        p = strstr(buf, "/caisson/");
        if (!p) {
                free(buf);
                return -ENOENT;
        }
        p += strlen("/caisson/");
        (void) snprintf(ret, size, "%.*s", (int) strcspn(p, "/\n"), p);
        free(buf);
        return 0;
}

int h_cgroup_dirs_of(const char *id, char ret[][512], int max) {
        DIR *d = opendir("/sys/fs/cgroup");
        struct dirent *de;
        int n = 0;

        if (!d)
                return 0;
        while ((de = readdir(d))) {
                char path[512];

                if (de->d_name[0] == '.')
                        continue;
                (void) snprintf(path, sizeof path, "/sys/fs/cgroup/%s/caisson/%s", de->d_name, id);
                if (h_exists(path) && n < max)
                        (void) snprintf(ret[n++], 512, "%s", path);
        }
        closedir(d);
        return n;
}

char *h_policy(const char *dir, const char *name, const char *yaml) {
        char *p = h_path(dir, name);

        h_write_file(p, yaml, 0644);
        return p;
}

int h_count_lines(const char *s) {
        int n = 0;

        for (; *s; s++)
                n += *s == '\n';
        return n;
}
