/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who the agent runs as: process.run_as_user, else SUDO_UID (unless 0), else 65534 —
 * never root. Its group: process.run_as_group, else that user's primary group. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "macro.h"
#include "supervisor.h"

#define NOBODY 65534

static int parse_id(const char *s, unsigned long *ret) {
        char *end;
        unsigned long v;

        if (!s[0] || s[0] == '-' || s[0] == '+')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v > 4294967294UL)
                return -EINVAL;
        *ret = v;
        return 0;
}

static void fill_from_pw(struct run_user *u, const struct passwd *pw) {
        u->uid = pw->pw_uid;
        u->gid = pw->pw_gid;
        (void) snprintf(u->name, sizeof u->name, "%s", pw->pw_name);
        (void) snprintf(u->home, sizeof u->home, "%s", pw->pw_dir && pw->pw_dir[0] == '/' ?
                                                         pw->pw_dir : "/");
}

static void fill_default(struct run_user *u) {
        const char *sudo = getenv("SUDO_UID");
        unsigned long v;
        struct passwd *pw;

        if (sudo && parse_id(sudo, &v) == 0 && v != 0 && (pw = getpwuid((uid_t) v))) {
                fill_from_pw(u, pw);
                return;
        }
        if (sudo && parse_id(sudo, &v) == 0 && v != 0) {
                *u = (struct run_user) { .uid = (uid_t) v, .gid = (gid_t) v };
                (void) snprintf(u->name, sizeof u->name, "%lu", v);
                strcpy(u->home, "/");
                return;
        }
        *u = (struct run_user) { .uid = NOBODY, .gid = NOBODY };
        pw = getpwuid(NOBODY);
        (void) snprintf(u->name, sizeof u->name, "%s", pw ? pw->pw_name : "nobody");
        strcpy(u->home, "/");
}

int user_resolve(const char *user, const char *group, struct run_user *ret,
                 struct caisson_error *err) {
        struct run_user u = { 0 };
        unsigned long v;

        if (!user)
                fill_default(&u);
        else if (parse_id(user, &v) == 0) {
                struct passwd *pw = getpwuid((uid_t) v);

                if (pw)
                        fill_from_pw(&u, pw);
                else {
                        u.uid = (uid_t) v;
                        u.gid = (gid_t) v;
                        (void) snprintf(u.name, sizeof u.name, "%lu", v);
                        strcpy(u.home, "/");
                }
        } else {
                struct passwd *pw = getpwnam(user);

                if (pw)
                        fill_from_pw(&u, pw);
                else if (streq(user, "sandbox")) {
                        /* OpenShell's conventional user: fall back, and say so. */
                        fill_default(&u);
                        log_warning("process.run_as_user: no user 'sandbox' on this host, "
                                    "running as %s (uid %u)", u.name, (unsigned) u.uid);
                } else
                        return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_USER_UNKNOWN, 0,
                                       "process.run_as_user: no user '%s' on this host", user);
        }

        if (group) {
                if (parse_id(group, &v) == 0)
                        u.gid = (gid_t) v;
                else {
                        struct group *gr = getgrnam(group);

                        if (gr)
                                u.gid = gr->gr_gid;
                        else if (streq(group, "sandbox")) {
                                struct run_user d;

                                fill_default(&d);
                                u.gid = d.gid;
                                log_warning("process.run_as_group: no group 'sandbox' on this "
                                            "host, running with gid %u", (unsigned) u.gid);
                        } else
                                return cs_fail(err, CAISSON_LAYER_POLICY,
                                               CAISSON_REASON_USER_UNKNOWN, 0,
                                               "process.run_as_group: no group '%s' on this host",
                                               group);
                }
        }
        if (u.uid == 0 || u.gid == 0)
                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_USER_ROOT, 0,
                               "the agent never runs as root (uid %u, gid %u)", (unsigned) u.uid,
                               (unsigned) u.gid);
        *ret = u;
        return 0;
}

#define MAKE_DIRS_TIMEOUT_MS 10000

/* What the child of user_make_dirs() reports for one directory. */
struct made {
        int err;        /* 0, or the errno that stopped it */
        int at;         /* with err: the length of the path prefix it was stopped at; -1:
                         * the child could not become the run user */
        int created;    /* the directory itself did not exist and was made */
};

/* In the child: the run user's credentials and nothing else. A uid change from 0 clears
 * the capabilities only without SECBIT_NO_SETUID_FIXUP (a service manager may set it), so
 * they are cleared, and checked, here. Raw capset: no allocation after fork. */
static int become(const struct run_user *u) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = { 0 };

        (void) prctl(PR_SET_SECUREBITS, 0, 0, 0, 0); /* fails if locked: cleared below */
        if (setgroups(0, NULL) < 0 || setresgid(u->gid, u->gid, u->gid) < 0 ||
            setresuid(u->uid, u->uid, u->uid) < 0)
                return -errno;
        if (syscall(SYS_capset, &hdr, data) < 0 ||
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
            prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (syscall(SYS_capget, &hdr, data) < 0)
                return -errno;
        for (size_t i = 0; i < 2; i++)
                if (data[i].effective || data[i].permitted || data[i].inheritable)
                        return -EPERM;
        return 0;
}

/* mkdir -p of path as the calling credentials, each new directory 0700. Runs in a forked
 * child: no allocation, nothing but system calls. */
static struct made make_one(char *path) {
        struct made m = { 0 };
        struct stat st;
        char *s = path;

        for (;;) {
                char c;

                while (*s == '/')
                        s++;
                if (!*s)
                        break;
                s = strchrnul(s, '/');
                c = *s;
                *s = 0;
                if (stat(path, &st) < 0) {
                        if (errno != ENOENT || (mkdir(path, 0700) < 0 && errno != EEXIST)) {
                                m = (struct made) { .err = errno, .at = (int) (s - path) };
                                *s = c;
                                return m;
                        }
                        m.created = !c;
                }
                *s = c;
        }
        /* A link to a directory is followed, as the agent's bind will be; anything else at
         * the path is not the directory the policy asks for. */
        if (stat(path, &st) < 0)
                return (struct made) { .err = errno, .at = (int) strlen(path) };
        if (!S_ISDIR(st.st_mode))
                return (struct made) { .err = ENOTDIR, .at = (int) strlen(path) };
        return m;
}

int user_make_dirs(const struct run_user *u, char *const *paths, size_t n,
                   void (*created)(const char *path, void *userdata), void *userdata,
                   struct caisson_error *err) {
        _cleanup_close_ int rd = -1, wr = -1;
        int fds[2];
        size_t got = 0;
        struct made m = { 0 };
        bool timed_out = false;
        pid_t pid;

        if (n == 0)
                return 0;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, errno,
                               "state_directories: pipe");
        rd = fds[0];
        wr = fds[1];
        /* Made by the run user, never by root: the path lies in a tree that user controls
         * (its home), so root following a link there could make a directory anywhere. As
         * the user, the kernel checks every step as it would for the user's own mkdir -p.
         * No supplementary groups, as the agent runs. */
        pid = fork();
        if (pid < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, errno,
                               "state_directories: fork");
        if (pid == 0) {
                char buf[4097];
                int r;

                safe_close(rd);
                r = become(u);
                if (r < 0) {
                        m = (struct made) { .err = -r, .at = -1 };
                        (void) !write(wr, &m, sizeof m);
                        _exit(2);
                }
                umask(077);
                for (size_t i = 0; i < n; i++) {
                        size_t len = strlen(paths[i]);

                        if (len >= sizeof buf) {
                                m = (struct made) { .err = ENAMETOOLONG, .at = 0 };
                        } else {
                                memcpy(buf, paths[i], len + 1);
                                m = make_one(buf);
                        }
                        if (write(wr, &m, sizeof m) != (ssize_t) sizeof m)
                                _exit(3);
                        if (m.err)
                                _exit(0);
                }
                _exit(0);
        }
        wr = safe_close(wr);
        /* One report per directory, until the first error or the child's end. */
        for (m = (struct made) { 0 }; got < n && !m.err;) {
                struct pollfd p = { .fd = rd, .events = POLLIN };
                ssize_t k;

                /* Bounded: the child runs as the run user, whom that user (or a FUSE mount
                 * in its home) can stop. */
                k = poll(&p, 1, MAKE_DIRS_TIMEOUT_MS);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k == 0) {
                        timed_out = true;
                        (void) kill(pid, SIGKILL);
                        break;
                }
                k = read(rd, &m, sizeof m);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k != (ssize_t) sizeof m) {
                        m = (struct made) { 0 };
                        break;
                }
                if (!m.err) {
                        if (m.created && created)
                                created(paths[got], userdata);
                        got++;
                }
        }
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        if (timed_out)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, 0,
                               "state_directories: making '%s' as user %s (uid %u) took "
                               "more than %d s", paths[got < n ? got : n - 1], u->name,
                               (unsigned) u->uid, MAKE_DIRS_TIMEOUT_MS / 1000);
        if (m.err && m.at < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, m.err,
                               "state_directories: cannot become user %s (uid %u) to make "
                               "them", u->name, (unsigned) u->uid);
        if (m.err) {
                int at = m.at > 0 && (size_t) m.at < strlen(paths[got]) ? m.at : 0;

                if (at)
                        return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED,
                                       m.err, "state_directories: cannot make '%s' as user %s "
                                       "(uid %u): at '%.*s'", paths[got], u->name,
                                       (unsigned) u->uid, at, paths[got]);
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, m.err,
                               "state_directories: cannot make '%s' as user %s (uid %u)",
                               paths[got], u->name, (unsigned) u->uid);
        }
        if (got < n)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, 0,
                               "state_directories: the helper that makes them as user %s "
                               "(uid %u) failed before '%s'", u->name, (unsigned) u->uid,
                               paths[got]);
        return 0;
}
