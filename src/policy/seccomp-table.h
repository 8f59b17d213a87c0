/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The seccomp denylist as data (DESIGN §3). No libseccomp here: syscall-filter.c turns the
 * table into BPF. */
#pragma once

#include <stddef.h>

#include "caisson/types.h"

/* The newest x86_64 syscall number reviewed for the denylist; anything above answers
 * ENOSYS, so a future kernel's new syscall is not allowed by default. */
#define SYSCALL_TABLE_MAX_REVIEWED_NR 467

/* Builds the table: the default denylist, plus `deny` names (EPERM + event), minus
 * `allow` names (every default rule for that syscall removed). Unknown names are not
 * resolved here (syscall-filter.c fails closed on them); a name that is not
 * [a-z0-9_]{1,63} is -EINVAL. *ret is one malloc'd array, rule names point to static
 * strings or into the same allocation; free(*ret) releases all. */
int syscall_table_build(const char *const *deny, size_t n_deny, const char *const *allow,
                        size_t n_allow, struct caisson_syscall_rule **ret, size_t *ret_n,
                        struct caisson_error *err);

/* The same, with flags: SYSCALL_TABLE_OBSERVE_CONNECT adds CAISSON_SYSCALL_OBSERVE rules
 * for connect() and for sendto/sendmsg/sendmmsg with MSG_FASTOPEN, each unless the table
 * already has a rule for that name. */
#define SYSCALL_TABLE_OBSERVE_CONNECT 0x1u
int syscall_table_build_ex(const char *const *deny, size_t n_deny, const char *const *allow,
                           size_t n_allow, unsigned flags, struct caisson_syscall_rule **ret,
                           size_t *ret_n, struct caisson_error *err);

/* True if name is a syntactically valid syscall name. */
int syscall_name_valid(const char *name);
