/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Landlock: ABI probe, ruleset from the intent, restrict_self.
 *
 * Every right the kernel knows at the negotiated ABI is *handled* (denied unless a rule grants
 * it), in one visible place (landlock_fs_handled); the rules then grant the read-only or
 * read-write set per listed path. Net rights are deliberately not handled: the network
 * namespace and the egress relay are the network boundary, and handling
 * LANDLOCK_ACCESS_NET_CONNECT_TCP would also block TCP to 127.0.0.1 inside the sandbox (the
 * agent's own dev servers, the DNS gateway over TCP). */

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>

#include "backends/native/landlock.h"
#include "error.h"
#include "macro.h"
#include "syscalls.h"

/* ABI 1: bits 0..12 (EXECUTE .. MAKE_SYM). */
#define LL_FS_ABI1 ((1ULL << 13) - 1)

/* The rights the kernel accepts on a rule whose object is not a directory (its
 * ACCESS_FILE): any other right there is EINVAL. */
#define LL_FS_FILE                                                                                 \
        (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                              \
         LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

int landlock_abi(void) {
        int r;

        r = sys_landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        if (r < 0)
                return -errno; /* ENOSYS: not built in; EOPNOTSUPP: disabled at boot */
        return r;
}

uint64_t landlock_fs_handled(int abi) {
        uint64_t m;

        if (abi < 1)
                return 0;
        m = LL_FS_ABI1;
        if (abi >= 2)
                m |= LANDLOCK_ACCESS_FS_REFER;
        if (abi >= 3)
                m |= LANDLOCK_ACCESS_FS_TRUNCATE;
        /* ABI 4 added only net rights, ABI 6 scopes, ABI 7 audit flags: no FS right. */
        if (abi >= 5)
                m |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
        return m;
}

uint64_t landlock_fs_rights(int abi, bool read_write, bool is_dir) {
        uint64_t m;

        if (abi < 1)
                return 0;

        /* Read-only: read and execute (the agent runs the host's binaries from /usr). */
        m = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;

        if (read_write) {
                /* MAKE_CHAR and MAKE_BLOCK are not granted: the agent has no CAP_MKNOD, so
                 * the only device node it could make is an overlayfs whiteout (char 0:0,
                 * allowed without CAP_MKNOD since 5.8), which no agent needs. Leaving them
                 * handled and ungranted keeps device-node creation closed even if a future
                 * ceiling bug left CAP_MKNOD behind. */
                m |= LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                     LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
                     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
                     LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_SYM;
                /* ABI 2: rename/link across directories, within the granted hierarchies
                 * only (Landlock checks that the destination grants at least what the
                 * source did, so this cannot widen anything). Without it, every
                 * cross-directory rename answers EXDEV (mv falls back to copy). */
                m |= LANDLOCK_ACCESS_FS_REFER;
                /* ABI 3: truncate(2) and O_TRUNC; a writable file is truncatable anyway. */
                m |= LANDLOCK_ACCESS_FS_TRUNCATE;
                /* ABI 5: ioctl on device files opened inside the domain (the sandbox's
                 * /dev: tty, pts). A read-only device needs none; stdio inherited from the
                 * supervisor is not affected (the check is at open). */
                m |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
        }

        /* The kernel refuses directory-only rights (READ_DIR, REMOVE_*, MAKE_*, REFER) on a
         * rule for a non-directory with EINVAL. */
        if (!is_dir)
                m &= LL_FS_FILE;

        /* Strip what the kernel does not know at this ABI: handled is the only source. */
        return m & landlock_fs_handled(abi);
}

uint64_t landlock_scopes(int abi) {
        if (abi < 6)
                return 0;
        return LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
}

static int add_path_rule(int abi, int ruleset_fd, const struct landlock_path *p,
                         struct caisson_error *err) {
        struct landlock_path_beneath_attr rule = {};
        _cleanup_close_ int fd = -1;
        struct stat st;

        /* Symlinks are followed: a listed path such as /lib (a symlink to usr/lib on merged-/usr
         * systems) means its target, and a rule on the symlink inode itself would grant
         * nothing beneath it. The list is the trusted policy and it is resolved here, in
         * the sandbox's own mount view before the agent runs, so the agent cannot race a
         * symlink into it. */
        fd = open(p->path, O_PATH | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0; /* skipped: the caller already warned */
                return cs_fail(err, CAISSON_LAYER_LANDLOCK, CAISSON_REASON_LANDLOCK_RULE, errno,
                               "allow '%s'", p->path);
        }
        if (fstat(fd, &st) < 0)
                return cs_fail(err, CAISSON_LAYER_LANDLOCK, CAISSON_REASON_LANDLOCK_RULE, errno,
                               "allow '%s'", p->path);

        rule.parent_fd = fd;
        rule.allowed_access = p->list_only ? LANDLOCK_ACCESS_FS_READ_DIR :
                                             landlock_fs_rights(abi, p->read_write, S_ISDIR(st.st_mode));
        if (sys_landlock_add_rule(ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) < 0)
                return cs_fail(err, CAISSON_LAYER_LANDLOCK, CAISSON_REASON_LANDLOCK_RULE, errno,
                               "allow '%s'", p->path);
        return 1;
}

int landlock_prepare(int abi, const struct landlock_path *paths, size_t n, int *ret_ruleset_fd,
                     struct caisson_error *err) {
        struct cs_landlock_ruleset_attr attr = {};
        _cleanup_close_ int ruleset_fd = -1;
        size_t size, added = 0, skipped = 0;

        if (abi < 1)
                return cs_fail(err, CAISSON_LAYER_LANDLOCK, CAISSON_REASON_LANDLOCK_UNAVAILABLE,
                               EINVAL, "invalid ABI %d", abi);
        if (n > 0 && !paths)
                return cs_fail(err, CAISSON_LAYER_LANDLOCK, CAISSON_REASON_INTERNAL, EINVAL,
                               "no path list");

        attr.handled_access_fs = landlock_fs_handled(abi);
        attr.handled_access_net = 0; /* see the top of this file */
        attr.scoped = landlock_scopes(abi);

        /* Pass only the part of the struct this ABI knows. (The kernel would also accept
         * trailing zeroes, but this way an old kernel never sees a field it cannot check.) */
        if (abi >= 6)
                size = sizeof attr;
        else if (abi >= 4)
                size = offsetof(struct cs_landlock_ruleset_attr, scoped);
        else
                size = offsetof(struct cs_landlock_ruleset_attr, handled_access_net);

        ruleset_fd = sys_landlock_create_ruleset(&attr, size, 0);
        if (ruleset_fd < 0)
                return cs_fail(err, CAISSON_LAYER_LANDLOCK,
                               errno == ENOSYS || errno == EOPNOTSUPP
                                       ? CAISSON_REASON_LANDLOCK_UNAVAILABLE
                                       : CAISSON_REASON_LANDLOCK_RULE,
                               errno, "create ruleset (ABI %d)", abi);

        for (size_t i = 0; i < n; i++) {
                int r;

                if (!paths[i].path || paths[i].path[0] != '/')
                        return cs_fail(err, CAISSON_LAYER_LANDLOCK, CAISSON_REASON_LANDLOCK_RULE,
                                       EINVAL, "allow '%s': not an absolute path",
                                       paths[i].path ?: "(null)");
                r = add_path_rule(abi, ruleset_fd, &paths[i], err);
                if (r < 0)
                        return r;
                if (r == 0)
                        skipped++;
                else
                        added++;
        }

        /* An empty ruleset would deny the whole filesystem, including the agent's own
         * binary: a run that cannot possibly work, reported here rather than as a
         * baffling EACCES from execve. */
        if (added == 0)
                return cs_fail(err, CAISSON_LAYER_LANDLOCK, CAISSON_REASON_LANDLOCK_RULE,
                               n > 0 ? ENOENT : EINVAL,
                               "no path could be granted (%zu listed, %zu missing)", n, skipped);

        *ret_ruleset_fd = TAKE_FD(ruleset_fd);
        return (int) (skipped > INT32_MAX ? INT32_MAX : skipped);
}

int landlock_apply(int ruleset_fd, struct caisson_error *err) {
        /* No flags (ABI 7 audit defaults): denials are logged for the caller until it
         * execs, not for the exec'd agent (that would need LOG_NEW_EXEC_ON). Left as is
         * until fs.denied events are built from audit records. */
        if (sys_landlock_restrict_self(ruleset_fd, 0) < 0)
                return cs_fail(err, CAISSON_LAYER_LANDLOCK, CAISSON_REASON_LANDLOCK_RULE, errno,
                               errno == EPERM ? "restrict_self (no_new_privs is not set)"
                                              : "restrict_self");
        return 0;
}
