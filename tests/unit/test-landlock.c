/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Landlock: the pure rights tables byte for byte, then the real thing in forked children
 * (Landlock needs no root). Every denial checked here has its positive control: the same
 * operation on a granted path, or before restrict_self, succeeds. */

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/native/landlock.h"
#include "caisson/reasons.h"
#include "compat.h"
#include "macro.h"

/* ---- the pure tables ---------------------------------------------------------------- */

Test(landlock_rights, handled_per_abi) {
        cr_assert_eq(landlock_fs_handled(0), 0);
        cr_assert_eq(landlock_fs_handled(-1), 0);
        cr_assert_eq(landlock_fs_handled(1), 0x1fffULL);
        cr_assert_eq(landlock_fs_handled(2), 0x3fffULL);
        cr_assert_eq(landlock_fs_handled(3), 0x7fffULL);
        cr_assert_eq(landlock_fs_handled(4), 0x7fffULL);
        cr_assert_eq(landlock_fs_handled(5), 0xffffULL);
        cr_assert_eq(landlock_fs_handled(6), 0xffffULL);
        cr_assert_eq(landlock_fs_handled(7), 0xffffULL);
        cr_assert_eq(landlock_fs_handled(8), 0xffffULL); /* a newer ABI: only what we know */
}

Test(landlock_rights, read_only) {
        for (int abi = 1; abi <= 8; abi++) {
                /* EXECUTE | READ_FILE | READ_DIR */
                cr_assert_eq(landlock_fs_rights(abi, false, true), 0xdULL, "abi %d", abi);
                /* EXECUTE | READ_FILE */
                cr_assert_eq(landlock_fs_rights(abi, false, false), 0x5ULL, "abi %d", abi);
        }
        cr_assert_eq(landlock_fs_rights(0, false, true), 0);
}

Test(landlock_rights, read_write_dir) {
        /* ABI 1: all of bits 0..12 but MAKE_CHAR (0x40) and MAKE_BLOCK (0x800). */
        cr_assert_eq(landlock_fs_rights(1, true, true), 0x17bfULL);
        cr_assert_eq(landlock_fs_rights(2, true, true), 0x37bfULL);  /* + REFER */
        cr_assert_eq(landlock_fs_rights(3, true, true), 0x77bfULL);  /* + TRUNCATE */
        cr_assert_eq(landlock_fs_rights(4, true, true), 0x77bfULL);
        cr_assert_eq(landlock_fs_rights(5, true, true), 0xf7bfULL);  /* + IOCTL_DEV */
        cr_assert_eq(landlock_fs_rights(6, true, true), 0xf7bfULL);
        cr_assert_eq(landlock_fs_rights(7, true, true), 0xf7bfULL);
        cr_assert_eq(landlock_fs_rights(7, true, true) &
                             (LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK),
                     0);
}

Test(landlock_rights, read_write_file) {
        /* EXECUTE | WRITE_FILE | READ_FILE, then TRUNCATE, IOCTL_DEV: never a dir-only right */
        cr_assert_eq(landlock_fs_rights(1, true, false), 0x7ULL);
        cr_assert_eq(landlock_fs_rights(2, true, false), 0x7ULL);
        cr_assert_eq(landlock_fs_rights(3, true, false), 0x4007ULL);
        cr_assert_eq(landlock_fs_rights(4, true, false), 0x4007ULL);
        cr_assert_eq(landlock_fs_rights(5, true, false), 0xc007ULL);
        cr_assert_eq(landlock_fs_rights(7, true, false), 0xc007ULL);
}

Test(landlock_rights, granted_within_handled) {
        const uint64_t file_ok = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |
                                 LANDLOCK_ACCESS_FS_IOCTL_DEV;

        for (int abi = 1; abi <= 8; abi++)
                for (int rw = 0; rw < 2; rw++)
                        for (int dir = 0; dir < 2; dir++) {
                                uint64_t m = landlock_fs_rights(abi, rw, dir);

                                cr_assert_eq(m & ~landlock_fs_handled(abi), 0, "abi %d", abi);
                                if (!dir)
                                        cr_assert_eq(m & ~file_ok, 0, "abi %d", abi);
                        }
}

Test(landlock_rights, scopes) {
        for (int abi = 0; abi <= 5; abi++)
                cr_assert_eq(landlock_scopes(abi), 0, "abi %d", abi);
        cr_assert_eq(landlock_scopes(6), 0x3ULL);
        cr_assert_eq(landlock_scopes(7), 0x3ULL);
}

/* ---- against the kernel ------------------------------------------------------------- */

static int kernel_abi;

static void require_landlock(void) {
        kernel_abi = landlock_abi();
        if (kernel_abi < 0) {
                cr_assert(kernel_abi == -ENOSYS || kernel_abi == -EOPNOTSUPP, "abi: %d",
                          kernel_abi);
                cr_skip_test("Landlock unavailable (%s)", strerror(-kernel_abi));
        }
}

static int rm_one(const char *p, const struct stat *st _unused_, int type _unused_,
                  struct FTW *f _unused_) {
        (void) remove(p);
        return 0;
}

static void rm_rf(const char *p) {
        if (p && p[0])
                (void) nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Shared with the forked child: its one-line verdict. */
static char *child_msg;

#define CHILD_CHECK(cond, ...)                                                                     \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        child_fail(__LINE__, __VA_ARGS__);                                         \
                }                                                                                  \
        } while (0)

static _noreturn_ void child_fail(int line, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void child_fail(int line, const char *fmt, ...) {
        va_list ap;
        int n;

        n = snprintf(child_msg, 4096, "line %d: ", line);
        va_start(ap, fmt);
        (void) vsnprintf(child_msg + n, 4096 - (size_t) n, fmt, ap);
        va_end(ap);
        _exit(1);
}

/* Runs fn in a forked child. Returns true if it returned normally, else false with its verdict
 * in msg: the caller cleans up first, then asserts. */
static bool run_child(void (*fn)(void *), void *arg, char *msg, size_t size) {
        pid_t pid;
        int status = 0;
        bool ok;

        child_msg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (child_msg == MAP_FAILED) {
                snprintf(msg, size, "mmap: %s", strerror(errno));
                return false;
        }
        child_msg[0] = 0;

        pid = fork();
        if (pid == 0) {
                fn(arg);
                _exit(0);
        }
        ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
             WEXITSTATUS(status) == 0;
        snprintf(msg, size, "child: %s (status 0x%x)", child_msg[0] ? child_msg : "died",
                 (unsigned) status);
        (void) munmap(child_msg, 4096);
        child_msg = NULL;
        return ok;
}

#define CHECK_CHILD(fn, arg)                                                                       \
        do {                                                                                       \
                char m_[4200];                                                                     \
                bool ok_ = run_child(fn, arg, m_, sizeof m_);                                      \
                cr_assert(ok_, "%s", m_);                                                          \
        } while (0)

static void enter_domain(int ruleset_fd) {
        struct caisson_error err = {};
        int r;

        CHILD_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "nnp: %m");
        r = landlock_apply(ruleset_fd, &err);
        CHILD_CHECK(r == 0, "apply: %d %s", r, err.msg);
}

#define EXPECT_ERRNO(expr, e)                                                                      \
        do {                                                                                       \
                errno = 0;                                                                         \
                long r_ = (long) (expr);                                                           \
                CHILD_CHECK(r_ < 0 && errno == (e), "%s: got %ld errno %d (%s), want %s", #expr,   \
                            r_, errno, strerror(errno), strerror(e));                              \
        } while (0)

static void write_file(const char *path, const char *s) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        CHILD_CHECK(fd >= 0, "create %s: %m", path);
        CHILD_CHECK(write(fd, s, strlen(s)) == (ssize_t) strlen(s), "write %s: %m", path);
        CHILD_CHECK(close(fd) == 0, "close %s: %m", path);
}

struct fs_case {
        int ruleset_fd;
        char rw[64];
        char other[64];
        char usr_probe[64];
};

static void fs_child(void *arg) {
        struct fs_case *c = arg;
        char p[128], q[128], buf[4];
        int fd, s, l;
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t len = sizeof sa;

        enter_domain(c->ruleset_fd);

        /* Positive control: a read-only path is readable. */
        fd = open("/usr/bin/true", O_RDONLY | O_CLOEXEC);
        CHILD_CHECK(fd >= 0, "open /usr/bin/true: %m");
        CHILD_CHECK(read(fd, buf, 4) == 4 && memcmp(buf, "\177ELF", 4) == 0, "read: %m");
        close(fd);

        /* The read-write dir is writable. */
        snprintf(p, sizeof p, "%s/f", c->rw);
        write_file(p, "hello");
        fd = open(p, O_RDONLY | O_CLOEXEC);
        CHILD_CHECK(fd >= 0 && read(fd, buf, 4) == 4 && memcmp(buf, "hell", 4) == 0, "reread");
        close(fd);
        snprintf(q, sizeof q, "%s/sub", c->rw);
        CHILD_CHECK(mkdir(q, 0755) == 0, "mkdir %s: %m", q);

        /* Unlisted: denied even to root (Landlock is not DAC). */
        EXPECT_ERRNO(open("/etc/passwd", O_RDONLY | O_CLOEXEC), EACCES);
        EXPECT_ERRNO(open(c->other, O_RDONLY | O_DIRECTORY | O_CLOEXEC), EACCES);

        /* Read-only: no write, no create. */
        EXPECT_ERRNO(open("/usr/bin/true", O_WRONLY | O_CLOEXEC), EACCES);
        EXPECT_ERRNO(mkdir(c->usr_probe, 0755), EACCES);

        /* Moving data out of the granted tree: refused (EXDEV when only REFER is missing,
         * EACCES when the destination grants nothing). Control: a rename inside works. */
        snprintf(q, sizeof q, "%s/g", c->other);
        errno = 0;
        CHILD_CHECK(rename(p, q) < 0 && (errno == EXDEV || errno == EACCES),
                    "rename out: errno %d", errno);
        errno = 0;
        CHILD_CHECK(link(p, q) < 0 && (errno == EXDEV || errno == EACCES), "link out: errno %d",
                    errno);
        snprintf(q, sizeof q, "%s/sub/f", c->rw);
        CHILD_CHECK(rename(p, q) == 0, "rename within: %m");
        CHILD_CHECK(unlink(q) == 0, "unlink: %m");

        /* Net rights are not handled: loopback TCP inside the domain keeps working. */
        l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHILD_CHECK(l >= 0 && bind(l, (struct sockaddr *) &sa, sizeof sa) == 0, "bind: %m");
        CHILD_CHECK(listen(l, 1) == 0 && getsockname(l, (struct sockaddr *) &sa, &len) == 0,
                    "listen: %m");
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHILD_CHECK(s >= 0 && connect(s, (struct sockaddr *) &sa, sizeof sa) == 0,
                    "tcp connect: %m");
}

Test(landlock_kernel, filesystem, .init = require_landlock) {
        struct landlock_path paths[2] = {};
        struct caisson_error err = {};
        struct fs_case c = { .ruleset_fd = -1 };
        char msg[4200] = "";
        bool ok = false;
        int r;

        strcpy(c.rw, "/tmp/caisson-ll-rw-XXXXXX");
        strcpy(c.other, "/tmp/caisson-ll-other-XXXXXX");
        cr_assert_not_null(mkdtemp(c.rw));
        if (!mkdtemp(c.other)) {
                rm_rf(c.rw);
                cr_assert_fail("mkdtemp: %m");
        }
        snprintf(c.usr_probe, sizeof c.usr_probe, "/usr/caisson-ll-probe-%d", (int) getpid());

        paths[0] = (struct landlock_path){ .path = "/usr", .read_write = false };
        paths[1] = (struct landlock_path){ .path = c.rw, .read_write = true };
        r = landlock_prepare(kernel_abi, paths, 2, &c.ruleset_fd, &err);
        if (r == 0)
                ok = run_child(fs_child, &c, msg, sizeof msg);

        /* Clean up before asserting, so a failure leaves nothing behind. */
        (void) rmdir(c.usr_probe);
        rm_rf(c.rw);
        rm_rf(c.other);
        safe_close(c.ruleset_fd);
        cr_assert_eq(r, 0, "prepare: %d %s", r, err.msg);
        cr_assert(ok, "%s", msg);
}

static void file_rule_child(void *arg) {
        int *fd = arg;
        int f;

        enter_domain(*fd);
        f = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
        CHILD_CHECK(f >= 0, "file rule: open /etc/passwd: %m");
        close(f);
        EXPECT_ERRNO(open("/etc/passwd", O_WRONLY | O_CLOEXEC), EACCES);
        EXPECT_ERRNO(open("/etc/group", O_RDONLY | O_CLOEXEC), EACCES);
}

/* A rule on a regular file carries only file rights (else add_rule is EINVAL). */
Test(landlock_kernel, file_rule, .init = require_landlock) {
        const struct landlock_path paths[] = {
                { .path = "/usr", .read_write = false },
                { .path = "/etc/passwd", .read_write = false },
        };
        struct caisson_error err = {};
        _cleanup_close_ int fd = -1;
        int r;

        r = landlock_prepare(kernel_abi, paths, ELEMENTSOF(paths), &fd, &err);
        cr_assert_eq(r, 0, "prepare: %d %s", r, err.msg);
        CHECK_CHILD(file_rule_child, &fd);
}

static void list_only_child(void *arg) {
        int *fd = arg;
        DIR *d;
        int f;

        enter_domain(*fd);
        d = opendir("/etc");
        CHILD_CHECK(d != NULL, "list_only: opendir /etc: %m");
        closedir(d);
        d = opendir("/");
        CHILD_CHECK(d != NULL, "list_only: opendir /: %m");
        closedir(d);
        /* Listing grants no file: /etc/passwd stays closed, /usr files stay readable. */
        EXPECT_ERRNO(open("/etc/passwd", O_RDONLY | O_CLOEXEC), EACCES);
        f = open("/usr/bin/true", O_RDONLY | O_CLOEXEC);
        CHILD_CHECK(f >= 0, "list_only: open /usr/bin/true: %m");
        close(f);
}

/* list_only on "/" is READ_DIR beneath it and nothing else. */
Test(landlock_kernel, list_only, .init = require_landlock) {
        const struct landlock_path paths[] = {
                { .path = "/usr", .read_write = false },
                { .path = "/", .list_only = true },
        };
        struct caisson_error err = {};
        _cleanup_close_ int fd = -1;
        int r;

        r = landlock_prepare(kernel_abi, paths, ELEMENTSOF(paths), &fd, &err);
        cr_assert_eq(r, 0, "prepare: %d %s", r, err.msg);
        CHECK_CHILD(list_only_child, &fd);
}

struct file_case {
        int fd;
        char path[96];
};

static void rw_file_child(void *arg) {
        struct file_case *c = arg;

        enter_domain(c->fd);
        write_file(c->path, "x");
}

Test(landlock_kernel, rw_file_rule, .init = require_landlock) {
        char dir[] = "/tmp/caisson-ll-file-XXXXXX";
        struct file_case c = { .fd = -1 };
        struct landlock_path paths[1] = {};
        struct caisson_error err = {};
        char msg[4200] = "";
        bool ok = false;
        int r, t;

        cr_assert_not_null(mkdtemp(dir));
        snprintf(c.path, sizeof c.path, "%s/f", dir);
        t = open(c.path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (t >= 0)
                close(t);
        paths[0] = (struct landlock_path){ .path = c.path, .read_write = true };
        r = landlock_prepare(kernel_abi, paths, 1, &c.fd, &err);
        if (r == 0)
                ok = run_child(rw_file_child, &c, msg, sizeof msg);
        safe_close(c.fd);
        rm_rf(dir);
        cr_assert_eq(r, 0, "prepare: %d %s", r, err.msg);
        cr_assert(ok, "%s", msg);
}

/* Every older ABI's ruleset is accepted by this kernel (the attr size per ABI). */
Test(landlock_kernel, every_abi_accepted, .init = require_landlock) {
        const struct landlock_path paths[] = { { .path = "/usr", .read_write = true } };

        for (int abi = 1; abi <= kernel_abi; abi++) {
                struct caisson_error err = {};
                _cleanup_close_ int fd = -1;
                int r;

                r = landlock_prepare(abi, paths, 1, &fd, &err);
                cr_assert_eq(r, 0, "abi %d: %d %s", abi, r, err.msg);
                cr_assert_geq(fd, 0);
        }
}

Test(landlock_kernel, abi_probe) {
        int abi = landlock_abi();

        if (abi < 0)
                cr_assert(abi == -ENOSYS || abi == -EOPNOTSUPP, "abi: %d", abi);
        else
                cr_assert_geq(abi, 1);
}

Test(landlock_prepare, missing_paths_skipped, .init = require_landlock) {
        const struct landlock_path paths[] = {
                { .path = "/usr", .read_write = false },
                { .path = "/nonexistent-caisson-ll", .read_write = true },
                { .path = "/nonexistent-caisson-ll/b", .read_write = false },
        };
        struct caisson_error err = {};
        _cleanup_close_ int fd = -1;

        cr_assert_eq(landlock_prepare(kernel_abi, paths, ELEMENTSOF(paths), &fd, &err), 2);
        cr_assert_geq(fd, 0);
}

Test(landlock_prepare, refuses_empty, .init = require_landlock) {
        const struct landlock_path paths[] = {
                { .path = "/nonexistent-caisson-ll", .read_write = true },
        };
        struct caisson_error err = {};
        int fd = -1;

        cr_assert_eq(landlock_prepare(kernel_abi, paths, 1, &fd, &err), -ENOENT);
        cr_assert_eq(fd, -1);
        cr_assert(strstr(err.msg, "no path could be granted"), "got: %s", err.msg);
        cr_assert_eq(err.layer, CAISSON_LAYER_LANDLOCK);
        cr_assert_eq(err.code, CAISSON_REASON_LANDLOCK_RULE);

        memset(&err, 0, sizeof err);
        cr_assert_eq(landlock_prepare(kernel_abi, NULL, 0, &fd, &err), -EINVAL);
        cr_assert(strstr(err.msg, "no path could be granted"), "got: %s", err.msg);
        cr_assert_eq(fd, -1);
}

Test(landlock_prepare, error_names_path, .init = require_landlock) {
        const struct landlock_path paths[] = {
                { .path = "/usr", .read_write = false },
                { .path = "/etc/passwd/x", .read_write = false },
        };
        const struct landlock_path rel[] = { { .path = "usr", .read_write = false } };
        struct caisson_error err = {};
        int fd = -1;

        cr_assert_eq(landlock_prepare(kernel_abi, paths, 2, &fd, &err), -ENOTDIR);
        cr_assert_str_eq(err.msg, "allow '/etc/passwd/x'");
        cr_assert_eq(err.errnum, ENOTDIR);
        cr_assert_eq(err.code, CAISSON_REASON_LANDLOCK_RULE);
        cr_assert_eq(fd, -1);

        cr_assert_eq(landlock_prepare(kernel_abi, rel, 1, &fd, &err), -EINVAL);
        cr_assert(strstr(err.msg, "'usr'"), "got: %s", err.msg);
        cr_assert_eq(landlock_prepare(0, rel, 1, &fd, &err), -EINVAL);
        cr_assert_eq(fd, -1);
}

struct symlink_case {
        int fd;
        char real[128];
};

static void symlink_child(void *arg) {
        struct symlink_case *c = arg;
        char p[160];

        enter_domain(c->fd);
        snprintf(p, sizeof p, "%s/f", c->real);
        write_file(p, "through the symlink's target");
}

/* A listed symlink grants its target. */
Test(landlock_prepare, symlink_followed, .init = require_landlock) {
        char dir[] = "/tmp/caisson-ll-link-XXXXXX";
        char link_path[128];
        struct symlink_case c = { .fd = -1 };
        struct landlock_path paths[1] = {};
        struct caisson_error err = {};
        char msg[4200] = "";
        bool ok = false;
        int r = -1;

        cr_assert_not_null(mkdtemp(dir));
        snprintf(c.real, sizeof c.real, "%s/real", dir);
        snprintf(link_path, sizeof link_path, "%s/link", dir);
        if (mkdir(c.real, 0755) == 0 && symlink("real", link_path) == 0) {
                paths[0] = (struct landlock_path){ .path = link_path, .read_write = true };
                r = landlock_prepare(kernel_abi, paths, 1, &c.fd, &err);
                if (r == 0)
                        ok = run_child(symlink_child, &c, msg, sizeof msg);
        }
        safe_close(c.fd);
        rm_rf(dir);
        cr_assert_eq(r, 0, "prepare: %d %s", r, err.msg);
        cr_assert(ok, "%s", msg);
}

static void no_nnp_child(void *arg) {
        struct caisson_error err = {};
        int r;

        /* Root has CAP_SYS_ADMIN, which also allows restrict_self: drop it first. */
        if (geteuid() == 0) {
                CHILD_CHECK(setresgid(65534, 65534, 65534) == 0, "setresgid: %m");
                CHILD_CHECK(setresuid(65534, 65534, 65534) == 0, "setresuid: %m");
        }
        CHILD_CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0, "nnp already set");
        r = landlock_apply(*(int *) arg, &err);
        CHILD_CHECK(r == -EPERM, "apply without nnp: %d", r);
        CHILD_CHECK(strstr(err.msg, "no_new_privs") != NULL, "msg: %s", err.msg);
        CHILD_CHECK(err.layer == CAISSON_LAYER_LANDLOCK, "layer %u", err.layer);
}

Test(landlock_apply, needs_no_new_privs, .init = require_landlock) {
        const struct landlock_path paths[] = { { .path = "/usr", .read_write = false } };
        struct caisson_error err = {};
        _cleanup_close_ int fd = -1;

        if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0)
                cr_skip_test("the test runner already set no_new_privs");
        cr_assert_eq(landlock_prepare(kernel_abi, paths, 1, &fd, &err), 0, "%s", err.msg);
        CHECK_CHILD(no_nnp_child, &fd);
}

/* ---- ABI 6 scopes ------------------------------------------------------------------- */

struct scope_case {
        int fd;
        struct sockaddr_un outside;
        socklen_t outside_len;
};

static int abstract_listener(struct sockaddr_un *sa, socklen_t *len, const char *tag) {
        int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (l < 0)
                return -1;
        memset(sa, 0, sizeof *sa);
        sa->sun_family = AF_UNIX;
        /* abstract: a leading NUL, no file */
        snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1, "caisson-ll-%s-%d-%ld", tag,
                 (int) getpid(), random());
        *len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 +
                            strlen(sa->sun_path + 1));
        if (bind(l, (struct sockaddr *) sa, *len) < 0 || listen(l, 4) < 0) {
                close(l);
                return -1;
        }
        return l;
}

static int unix_connect(const struct sockaddr_un *sa, socklen_t len) {
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int r;

        if (s < 0)
                return -1;
        r = connect(s, (const struct sockaddr *) sa, len);
        if (r < 0) {
                int e = errno;
                close(s);
                errno = e;
                return -1;
        }
        return s;
}

static void scope_child(void *arg) {
        struct scope_case *c = arg;
        struct sockaddr_un in;
        socklen_t in_len;
        pid_t outside = getppid(), kid;
        int s, l, status;

        /* Positive controls, before the domain: both reach their target. */
        s = unix_connect(&c->outside, c->outside_len);
        CHILD_CHECK(s >= 0, "connect before restrict: %m");
        close(s);
        CHILD_CHECK(kill(outside, 0) == 0, "kill(parent, 0) before restrict: %m");

        enter_domain(c->fd);

        /* Abstract socket bound outside the domain: scoped away. */
        EXPECT_ERRNO(unix_connect(&c->outside, c->outside_len), EPERM);
        /* One bound inside the same domain: reachable. */
        l = abstract_listener(&in, &in_len, "in");
        CHILD_CHECK(l >= 0, "listen inside: %m");
        s = unix_connect(&in, in_len);
        CHILD_CHECK(s >= 0, "connect inside the domain: %m");
        close(s);
        close(l);

        /* Signals: not to a process outside the domain (signal 0 is checked too), but to
         * one's own child, which inherits the domain. */
        EXPECT_ERRNO(kill(outside, 0), EPERM);
        EXPECT_ERRNO(kill(outside, SIGCONT), EPERM);
        kid = fork();
        CHILD_CHECK(kid >= 0, "fork: %m");
        if (kid == 0) {
                pause();
                _exit(0);
        }
        CHILD_CHECK(kill(kid, SIGKILL) == 0, "kill(own child): %m");
        CHILD_CHECK(waitpid(kid, &status, 0) == kid && WIFSIGNALED(status) &&
                            WTERMSIG(status) == SIGKILL,
                    "child not killed");
}

Test(landlock_scope, abstract_unix_and_signal, .init = require_landlock) {
        const struct landlock_path paths[] = { { .path = "/usr", .read_write = false } };
        struct caisson_error err = {};
        struct scope_case c = { .fd = -1 };
        _cleanup_close_ int l = -1;

        if (kernel_abi < 6)
                cr_skip_test("Landlock ABI %d has no scopes", kernel_abi);
        srandom((unsigned) getpid());
        l = abstract_listener(&c.outside, &c.outside_len, "out");
        cr_assert_geq(l, 0, "listen: %s", strerror(errno));
        cr_assert_eq(landlock_prepare(kernel_abi, paths, 1, &c.fd, &err), 0, "%s", err.msg);
        CHECK_CHILD(scope_child, &c);
        safe_close(c.fd);
}
