/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sandbox's filesystem view, built inside its new mount namespace (as root, before the
 * ceiling): a new tmpfs root; each listed path bind-mounted read-only or read-write; a fresh
 * /proc, a minimal /dev with a private devpts, private /tmp, /var/tmp and /dev/shm; then the
 * caller pivots into it. Everything is nosuid; everything but /dev is nodev. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "macro.h"
#include "native.h"
#include "syscalls.h"
#include "util.h"

enum mount_kind {
        MOUNT_BIND_RO,
        MOUNT_BIND_RW,
        MOUNT_DEV_NODE, /* a host device node, bound rw, without nodev */
        MOUNT_TMPFS,    /* private, mode 1777 */
        MOUNT_PROC,
        MOUNT_DEV,      /* tmpfs for the minimal /dev */
        MOUNT_DEVPTS,
};

struct mount_op {
        const char *path; /* inside the sandbox */
        enum mount_kind kind;
};

/* The device nodes every sandbox gets; a listed one is satisfied by these. */
static const char *const dev_nodes[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                         "/dev/urandom", "/dev/tty" };

static unsigned path_depth(const char *p) {
        unsigned n = 0;

        if (streq(p, "/"))
                return 0;
        for (; *p; p++)
                n += *p == '/';
        return n;
}

/* Parents before children, so a child mount lands on top of its parent and is not hidden. */
static int mount_op_cmp(const void *a, const void *b) {
        const struct mount_op *x = a, *y = b;
        unsigned dx = path_depth(x->path), dy = path_depth(y->path);

        if (dx != dy)
                return dx < dy ? -1 : 1;
        return strcmp(x->path, y->path);
}

static int join(char *buf, size_t size, const char *root, const char *path) {
        int n = snprintf(buf, size, "%s%s", root, path);

        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

static int make_parent(const char *dst) {
        char parent[PATH_MAX];
        char *slash;

        if (strlen(dst) >= sizeof parent)
                return -ENAMETOOLONG;
        strcpy(parent, dst);
        slash = strrchr(parent, '/');
        if (!slash || slash == parent)
                return 0;
        *slash = 0;
        return mkdir_p(parent, 0755);
}

/* Creates an empty mount point of the right type at dst (a directory or a file). */
static int make_mount_point(const char *dst, bool dir) {
        int fd, r;

        if (dir)
                return mkdir_p(dst, 0755);
        r = make_parent(dst);
        if (r < 0)
                return r;
        fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0644);
        if (fd < 0)
                return errno == EEXIST || errno == EISDIR ? 0 : -errno;
        close(fd);
        return 0;
}

/* Clones the tree at src (recursively: submounts come along), sets attrs on every mount of
 * the clone, and attaches it at dst. With the new mount API the read-only flag reaches the
 * submounts too, which MS_REMOUNT|MS_BIND does not do. */
int rootfs_bind(const char *src, const char *dst, uint64_t attr_set, struct caisson_error *err) {
        _cleanup_close_ int fd = -1;
        struct mount_attr attr = { .attr_set = attr_set };

        fd = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (fd < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, errno,
                               "clone '%s'", src);
        if (attr_set && mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, errno,
                               "set attributes of '%s'", src);
        if (move_mount(fd, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, errno,
                               "attach '%s'", src);
        return 0;
}

static int do_mount(const char *root, const struct mount_op *op, struct caisson_error *err) {
        char dst[PATH_MAX];
        struct stat st;
        int r;

        r = join(dst, sizeof dst, root, op->path);
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, -r,
                               "'%s'", op->path);

        switch (op->kind) {
        case MOUNT_BIND_RO:
        case MOUNT_BIND_RW:
        case MOUNT_DEV_NODE: {
                bool under_dev = path_startswith(op->path, "/dev");
                uint64_t attr = MOUNT_ATTR_NOSUID;

                if (lstat(op->path, &st) < 0) {
                        if (errno == ENOENT)
                                return 0; /* the supervisor warned already; grants nothing */
                        return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED,
                                       errno, "stat '%s'", op->path);
                }
                if (S_ISLNK(st.st_mode)) {
                        /* Recreate the link, not its target: /bin -> usr/bin stays a link,
                         * and a link that points outside the view grants nothing. */
                        char target[PATH_MAX];
                        ssize_t n = readlink(op->path, target, sizeof target - 1);

                        if (n < 0)
                                return cs_fail(err, CAISSON_LAYER_MOUNT,
                                               CAISSON_REASON_MOUNT_FAILED, errno,
                                               "readlink '%s'", op->path);
                        target[n] = 0;
                        r = make_parent(dst);
                        if (r < 0 || (symlink(target, dst) < 0 && errno != EEXIST))
                                return cs_fail(err, CAISSON_LAYER_MOUNT,
                                               CAISSON_REASON_MOUNT_FAILED,
                                               r < 0 ? -r : errno, "symlink '%s'", op->path);
                        return 0;
                }
                r = make_mount_point(dst, S_ISDIR(st.st_mode));
                if (r < 0)
                        return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, -r,
                                       "mount point for '%s'", op->path);
                if (op->kind == MOUNT_BIND_RO)
                        attr |= MOUNT_ATTR_RDONLY;
                if (op->kind == MOUNT_DEV_NODE)
                        attr |= MOUNT_ATTR_NOEXEC;
                else if (!under_dev)
                        attr |= MOUNT_ATTR_NODEV;
                return rootfs_bind(op->path, dst, attr, err);
        }
        case MOUNT_TMPFS:
        case MOUNT_DEV:
                r = mkdir_p(dst, 0755);
                if (r < 0)
                        return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, -r,
                                       "mount point for '%s'", op->path);
                if (mount("tmpfs", dst, "tmpfs",
                          MS_NOSUID | (op->kind == MOUNT_DEV ? MS_NOEXEC : MS_NODEV),
                          op->kind == MOUNT_DEV ? "mode=0755,size=64k" : "mode=1777") < 0)
                        return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED,
                                       errno, "tmpfs on '%s'", op->path);
                if (op->kind == MOUNT_DEV) {
                        static const char *const links[][2] = {
                                { "pts/ptmx", "ptmx" },      { "/proc/self/fd", "fd" },
                                { "/proc/self/fd/0", "stdin" }, { "/proc/self/fd/1", "stdout" },
                                { "/proc/self/fd/2", "stderr" },
                        };
                        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                                char l[PATH_MAX];

                                if (snprintf(l, sizeof l, "%s/%s", dst, links[i][1]) >=
                                            (int) sizeof l ||
                                    symlink(links[i][0], l) < 0)
                                        return cs_fail(err, CAISSON_LAYER_MOUNT,
                                                       CAISSON_REASON_MOUNT_FAILED, errno,
                                                       "symlink '/dev/%s'", links[i][1]);
                        }
                }
                return 0;
        case MOUNT_PROC:
                r = mkdir_p(dst, 0555);
                if (r < 0 || mount("proc", dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                        return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED,
                                       r < 0 ? -r : errno, "proc on '%s'", op->path);
                return 0;
        case MOUNT_DEVPTS:
                /* A new devpts instance: the sandbox sees only its own ptys, never the
                 * caller's terminal. */
                r = mkdir_p(dst, 0755);
                if (r < 0 || mount("devpts", dst, "devpts", MS_NOSUID | MS_NOEXEC,
                                   "newinstance,ptmxmode=0666,mode=0620") < 0)
                        return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED,
                                       r < 0 ? -r : errno, "devpts on '%s'", op->path);
                return 0;
        }
        return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_INTERNAL, 0, "bad mount kind");
}

/* With network_policies the supervisor writes <state_dir>/resolv.conf naming the DNS gateway
 * (127.0.0.1); it goes read-only over the view's /etc/resolv.conf. Without the file (no
 * egress) the view keeps what the policy binds. */
static int bind_resolv_conf(const struct native_config *cfg, struct caisson_error *err) {
        char src[PATH_MAX], dst[PATH_MAX];
        struct stat st;
        int r;

        if (snprintf(src, sizeof src, "%s/resolv.conf", cfg->state_dir) >= (int) sizeof src)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, ENAMETOOLONG,
                               "'%s/resolv.conf'", cfg->state_dir);
        if (lstat(src, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, errno,
                               "stat '%s'", src);
        }
        r = join(dst, sizeof dst, cfg->root, "/etc/resolv.conf");
        if (r >= 0 && lstat(dst, &st) < 0)
                r = make_mount_point(dst, false);
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, -r,
                               "mount point for '/etc/resolv.conf'");
        return rootfs_bind(src, dst, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                     MOUNT_ATTR_NOEXEC, err);
}

int rootfs_build(const struct native_config *cfg, struct caisson_error *err) {
        _cleanup_free_ struct mount_op *ops = NULL;
        size_t n = 0, max = cfg->n_paths + ELEMENTSOF(dev_nodes) + 8;
        int r;

        /* Nothing we mount may propagate back to the host. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, errno,
                               "make mounts private");
        if (mount("tmpfs", cfg->root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, errno,
                               "tmpfs root on '%s'", cfg->root);

        ops = calloc(max, sizeof *ops);
        if (!ops)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_NO_MEMORY, ENOMEM, "mounts");

        for (size_t i = 0; i < cfg->n_paths; i++) {
                const struct caisson_path_rule *p = &cfg->paths[i];
                bool dup = false;

                if (rootfs_is_virtual(p->path) || streq(p->path, "/"))
                        continue;
                /* The same path twice (workdir also listed, --rw over a read_only entry):
                 * read-write wins, as the later, more specific grant. */
                for (size_t j = 0; j < n; j++)
                        if (streq(ops[j].path, p->path)) {
                                if (p->access == CAISSON_ACCESS_RW)
                                        ops[j].kind = MOUNT_BIND_RW;
                                dup = true;
                        }
                if (dup)
                        continue;
                ops[n++] = (struct mount_op) {
                        .path = p->path,
                        .kind = p->access == CAISSON_ACCESS_RW ? MOUNT_BIND_RW : MOUNT_BIND_RO,
                };
        }
        ops[n++] = (struct mount_op) { "/proc", MOUNT_PROC };
        ops[n++] = (struct mount_op) { "/dev", MOUNT_DEV };
        ops[n++] = (struct mount_op) { "/dev/pts", MOUNT_DEVPTS };
        ops[n++] = (struct mount_op) { "/dev/shm", MOUNT_TMPFS };
        ops[n++] = (struct mount_op) { "/tmp", MOUNT_TMPFS };
        ops[n++] = (struct mount_op) { "/var/tmp", MOUNT_TMPFS };
        for (size_t i = 0; i < ELEMENTSOF(dev_nodes); i++)
                ops[n++] = (struct mount_op) { dev_nodes[i], MOUNT_DEV_NODE };

        qsort(ops, n, sizeof *ops, mount_op_cmp);
        for (size_t i = 0; i < n; i++) {
                r = do_mount(cfg->root, &ops[i], err);
                if (r < 0)
                        return r;
        }
        return bind_resolv_conf(cfg, err);
}

/* Switches the root to cfg->root and drops every host mount from this namespace. */
int rootfs_pivot(const char *root, struct caisson_error *err) {
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                               MOUNT_ATTR_NODEV };

        if (chdir(root) < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, errno,
                               "chdir '%s'", root);
        /* pivot_root(".", ".") stacks the old root on top of the new one; detaching "."
         * then removes the old root without needing a directory for it (see pivot_root(2)). */
        if (sys_pivot_root(".", ".") < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, errno,
                               "pivot_root");
        if (umount2(".", MNT_DETACH) < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, errno,
                               "detach the old root");
        if (chdir("/") < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, errno,
                               "chdir '/'");
        /* The root tmpfs holds only mount points: make it read-only, so the agent cannot
         * create top-level files or directories that look like system paths. */
        if (mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof attr) < 0)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED, errno,
                               "make the root read-only");
        return 0;
}
