/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "caisson/types.h"

/* NULL-terminated relative names protected inside each read-write path. */
extern const char *const persist_default_names[];

/* A path the sandbox provides itself (/proc, /tmp, /dev/...), never bound from the host. */
bool rootfs_is_virtual(const char *path);

/* Lists the candidate host paths (each read-write path joined with each name, and extra)
 * that do not exist now, so the caller can report at exit the ones that appeared. */
int persist_missing(const struct caisson_path_rule *paths, size_t n, char *const *extra,
                    size_t n_extra, char ***ret, size_t *ret_n);
