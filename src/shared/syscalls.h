/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Raw syscall wrappers: the only place that calls syscall(2) directly. */
#pragma once

#include <linux/sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"

#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

static inline long sys_clone3(struct clone_args *args, size_t size) {
        return syscall(__NR_clone3, args, size);
}
static inline int sys_pidfd_open(pid_t pid, unsigned flags) {
        return (int) syscall(__NR_pidfd_open, pid, flags);
}
static inline int sys_pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned flags) {
        return (int) syscall(__NR_pidfd_send_signal, pidfd, sig, info, flags);
}
static inline int sys_close_range(unsigned first, unsigned last, unsigned flags) {
        return (int) syscall(__NR_close_range, first, last, flags);
}
static inline int sys_landlock_create_ruleset(const struct cs_landlock_ruleset_attr *attr,
                                              size_t size, uint32_t flags) {
        return (int) syscall(__NR_landlock_create_ruleset, attr, size, flags);
}
static inline int sys_landlock_add_rule(int ruleset_fd, int rule_type, const void *rule_attr,
                                        uint32_t flags) {
        return (int) syscall(__NR_landlock_add_rule, ruleset_fd, rule_type, rule_attr, flags);
}
static inline int sys_landlock_restrict_self(int ruleset_fd, uint32_t flags) {
        return (int) syscall(__NR_landlock_restrict_self, ruleset_fd, flags);
}
struct __user_cap_header_struct;
struct __user_cap_data_struct;
static inline int sys_capset(struct __user_cap_header_struct *h, struct __user_cap_data_struct *d) {
        return (int) syscall(__NR_capset, h, d);
}
static inline int sys_capget(struct __user_cap_header_struct *h, struct __user_cap_data_struct *d) {
        return (int) syscall(__NR_capget, h, d);
}
static inline int sys_pivot_root(const char *new_root, const char *put_old) {
        return (int) syscall(__NR_pivot_root, new_root, put_old);
}
