/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Persistence paths: files inside read-write paths that the host later runs on the user's
 * behalf (git hooks and config, shell rc files, direnv, editor tasks, agent settings that
 * define commands). An agent that could write them would plant code that runs outside the
 * sandbox the next time the user runs git or opens a shell, so each one that exists at
 * launch is bind-mounted read-only over itself. A bind mount also pins the path: rename(2)
 * over a mount point or of a directory that is one fails with EBUSY. So every directory
 * between the read-write root and the protected file is pinned with a read-write self-bind,
 * and "mv .git .git.old && mkdir -p .git/hooks" fails too. A file that does not exist at
 * launch cannot be covered by a mount; the supervisor reports it at exit if it appeared. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "error.h"
#include "macro.h"
#include "native.h"
#include "util.h"


/* A ".git" that is a file (submodule, worktree) points git at another directory: protected
 * like .git/config. Checked separately since ".git" as a directory must stay writable. */
static const char git_file[] = ".git";

static bool under_rw(const struct native_config *cfg, const char *path, const char **ret_root) {
        const char *best = NULL;

        for (size_t i = 0; i < cfg->n_paths; i++) {
                const struct caisson_path_rule *p = &cfg->paths[i];

                if (p->access != CAISSON_ACCESS_RW || rootfs_is_virtual(p->path))
                        continue;
                if (path_startswith(path, p->path) && (!best || strlen(p->path) > strlen(best)))
                        best = p->path;
        }
        if (ret_root)
                *ret_root = best;
        return best != NULL;
}

/* Self-binds the sandbox-side path root+path; read-only unless pin_only. */
static int protect_one(const char *root, const char *path, bool pin_only,
                       struct caisson_error *err) {
        char dst[PATH_MAX];

        if (snprintf(dst, sizeof dst, "%s%s", root, path) >= (int) sizeof dst)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_MOUNT_FAILED,
                               ENAMETOOLONG, "protect '%s'", path);
        return rootfs_bind(dst, dst,
                           pin_only ? 0 : MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                           err);
}

/* Directories already pinned, so .git is bound once for .git/hooks and .git/config. */
struct pinned {
        char paths[32][PATH_MAX];
        size_t n;
};

static bool pinned_has(const struct pinned *pn, const char *path) {
        for (size_t i = 0; i < pn->n; i++)
                if (streq(pn->paths[i], path))
                        return true;
        return false;
}

static int protect_path(const struct native_config *cfg, struct pinned *pn, const char *path,
                        struct caisson_error *err) {
        const char *rw_root;
        char buf[PATH_MAX];
        struct stat st;
        size_t rl;
        int r;

        if (!under_rw(cfg, path, &rw_root) || streq(path, rw_root))
                return 0;
        /* lstat on the host path: symlinks are not followed (a mount on a link would land
         * on its target, resolved in the host's view). */
        if (lstat(path, &st) < 0 || S_ISLNK(st.st_mode))
                return 0;

        /* Pin each directory between the read-write root and the path. */
        rl = streq(rw_root, "/") ? 0 : strlen(rw_root);
        if (strlen(path) >= sizeof buf)
                return 0;
        strcpy(buf, path);
        for (char *p = buf + rl + 1; (p = strchr(p, '/')); p++) {
                struct stat ds;

                *p = 0;
                if (!pinned_has(pn, buf) && lstat(buf, &ds) == 0 && S_ISDIR(ds.st_mode)) {
                        r = protect_one(cfg->root, buf, true, err);
                        if (r < 0)
                                return r;
                        /* past the table's size a directory is pinned again: harmless */
                        if (pn->n < ELEMENTSOF(pn->paths))
                                strcpy(pn->paths[pn->n++], buf);
                }
                *p = '/';
        }
        return protect_one(cfg->root, path, false, err);
}

int persist_protect(const struct native_config *cfg, struct caisson_error *err) {
        _cleanup_free_ struct pinned *pn = NULL;
        char path[PATH_MAX];
        int r;

        if (!cfg->persist_protect)
                return 0;
        pn = calloc(1, sizeof *pn);
        if (!pn)
                return cs_fail(err, CAISSON_LAYER_MOUNT, CAISSON_REASON_NO_MEMORY, ENOMEM,
                               "persistence paths");
        for (size_t i = 0; i < cfg->n_paths; i++) {
                const struct caisson_path_rule *p = &cfg->paths[i];
                struct stat st;

                if (p->access != CAISSON_ACCESS_RW || rootfs_is_virtual(p->path))
                        continue;
                for (size_t j = 0; persist_default_names[j]; j++) {
                        if (snprintf(path, sizeof path, "%s/%s", streq(p->path, "/") ? "" : p->path,
                                     persist_default_names[j]) >= (int) sizeof path)
                                continue;
                        r = protect_path(cfg, pn, path, err);
                        if (r < 0)
                                return r;
                }
                if (snprintf(path, sizeof path, "%s/%s", p->path, git_file) < (int) sizeof path &&
                    lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                        r = protect_path(cfg, pn, path, err);
                        if (r < 0)
                                return r;
                }
        }
        for (size_t i = 0; i < cfg->n_persist_extra; i++) {
                r = protect_path(cfg, pn, cfg->persist_extra[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

