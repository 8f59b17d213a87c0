/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Landlock: ABI probe, ruleset from the intent, restrict_self. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caisson/types.h"

/* Returns the kernel's Landlock ABI (>= 1), or a negative errno when unavailable
 * (-ENOSYS: not built in, -EOPNOTSUPP: disabled at boot). */
int landlock_abi(void);

/* Pure: the filesystem rights handled / granted at a given ABI. */
uint64_t landlock_fs_handled(int abi);
uint64_t landlock_fs_rights(int abi, bool read_write, bool is_dir);
uint64_t landlock_scopes(int abi);  /* ABI >= 6: abstract unix sockets and signals */

struct landlock_path {
        const char *path;  /* as seen by the caller (inside the new root) */
        bool read_write;
        bool list_only;    /* grant only READ_DIR: list directories, read no file */
};

/* Creates the ruleset for the given ABI (all its FS rights handled, plus the ABI 6 scopes; no
 * net rights) and adds one rule per path, each opened O_PATH, following symlinks (before
 * privileges drop). A path that does not exist is skipped: the return value is the number of
 * skipped paths (>= 0; the caller already warned). Refuses to return an empty ruleset.
 * On success *ret_ruleset_fd is a new O_CLOEXEC fd owned by the caller. */
int landlock_prepare(int abi, const struct landlock_path *paths, size_t n, int *ret_ruleset_fd,
                     struct caisson_error *err);

/* Child side: restrict_self (requires NO_NEW_PRIVS, or CAP_SYS_ADMIN). No allocation.
 * Borrows ruleset_fd (the caller closes it, or close_range does). */
int landlock_apply(int ruleset_fd, struct caisson_error *err);
