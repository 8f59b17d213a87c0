/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Persistence names: files inside read-write paths that the host later runs on the user's
 * behalf. Shared by the backend (which covers the existing ones with read-only mounts) and
 * the supervisor (which reports the ones the agent created). Data plus one helper that
 * only stats. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"
#include "persist-names.h"
#include "util.h"

/* The device nodes every sandbox gets; a listed one is satisfied by these. */
static const char *const virtual_dev_nodes[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                         "/dev/urandom", "/dev/tty" };

/* Paths the sandbox always provides itself, whatever the lists say (DESIGN §5): binding the
 * host's /proc would show host processes, its /tmp holds the host's agent and X11 sockets. */
bool rootfs_is_virtual(const char *path) {
        if (path_startswith(path, "/proc") || streq(path, "/tmp") || streq(path, "/var/tmp") ||
            streq(path, "/dev") || streq(path, "/dev/shm") || path_startswith(path, "/dev/pts") ||
            streq(path, "/dev/ptmx"))
                return true;
        for (size_t i = 0; i < ELEMENTSOF(virtual_dev_nodes); i++)
                if (streq(path, virtual_dev_nodes[i]))
                        return true;
        return false;
}


const char *const persist_default_names[] = {
        ".git/hooks", ".git/config", ".gitmodules", ".envrc", ".mcp.json",
        ".vscode/tasks.json", ".vscode/launch.json", ".vscode/settings.json",
        ".idea/workspace.xml", ".pre-commit-config.yaml",
        ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",
        ".zshrc", ".zshenv", ".zprofile", ".zlogin", ".config/fish/config.fish",
        ".gitconfig", ".config/git/config",
        ".claude/settings.json", ".claude/settings.local.json", ".codex/config.toml",
        ".cursor/mcp.json",
        NULL,
};

static int strv_push(char ***v, size_t *n, const char *s) {
        char **nv = realloc(*v, (*n + 2) * sizeof *nv);

        if (!nv)
                return -ENOMEM;
        *v = nv;
        nv[*n] = strdup(s);
        if (!nv[*n])
                return -ENOMEM;
        (*n)++;
        nv[*n] = NULL;
        return 0;
}

int persist_missing(const struct caisson_path_rule *paths, size_t n, char *const *extra,
                    size_t n_extra, char ***ret, size_t *ret_n) {
        char **v = NULL;
        size_t nv = 0;
        char path[PATH_MAX];
        int r;

        for (size_t i = 0; i < n; i++) {
                if (paths[i].access != CAISSON_ACCESS_RW || rootfs_is_virtual(paths[i].path))
                        continue;
                for (size_t j = 0; persist_default_names[j]; j++) {
                        struct stat st;

                        if (snprintf(path, sizeof path, "%s/%s", paths[i].path,
                                     persist_default_names[j]) >= (int) sizeof path)
                                continue;
                        if (lstat(path, &st) == 0 || errno != ENOENT)
                                continue;
                        r = strv_push(&v, &nv, path);
                        if (r < 0)
                                goto fail;
                }
        }
        for (size_t i = 0; i < n_extra; i++) {
                struct stat st;

                if (lstat(extra[i], &st) == 0 || errno != ENOENT)
                        continue;
                r = strv_push(&v, &nv, extra[i]);
                if (r < 0)
                        goto fail;
        }
        *ret = v;
        *ret_n = nv;
        return 0;
fail:
        for (size_t i = 0; i < nv; i++)
                free(v[i]);
        free(v);
        return r;
}
