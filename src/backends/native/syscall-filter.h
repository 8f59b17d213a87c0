/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libseccomp: seccomp table → BPF (in the parent), load (in the child, no allocation),
 * and the user-notification listener (in the supervisor). */
#pragma once

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#include "caisson/backend.h"
#include "caisson/types.h"

struct syscall_filter {
        struct sock_fprog main;    /* denylist; DENY rules are SCMP_ACT_NOTIFY */
        struct sock_fprog ceiling; /* nr > SYSCALL_TABLE_MAX_REVIEWED_NR → ENOSYS */
};

/* Parent side: compiles the table for the native arch, foreign arches and x32 killed.
 * A name libseccomp cannot resolve fails closed (-EINVAL, naming it). */
int syscall_filter_compile(const struct caisson_syscall_rule *rules, size_t n,
                           struct syscall_filter *ret, struct caisson_error *err);
void syscall_filter_done(struct syscall_filter *f);
/* The same, always through libseccomp (syscall_filter_compile uses the build-time BPF of
 * the default table when the table is exactly that one). */
int syscall_filter_compile_fresh(const struct caisson_syscall_rule *rules, size_t n,
                                 struct syscall_filter *ret, struct caisson_error *err);
uint64_t syscall_filter_fingerprint(const struct caisson_syscall_rule *rules, size_t n);

/* Child side, after NO_NEW_PRIVS: loads both programs; *ret_listener is the notification
 * fd (CLOEXEC). Makes no allocation and no syscall the filter would notify. */
int syscall_filter_load(const struct syscall_filter *f, int *ret_listener,
                        struct caisson_error *err);

/* Supervisor side, when listener is readable: receives one notification, answers EPERM
 * (or, with kill = 1, leaves the answer to the caller's kill and answers EPERM after it),
 * and fills *ret (SYSCALL_DENIED: pid, nr, name, /proc/<pid>/exe). Returns 1 if an event
 * was filled, 0 if the notification vanished (the caller died), negative errno on error. */
int syscall_filter_handle(int listener, struct caisson_event *ret, struct caisson_error *err);

/* Like syscall_filter_handle, calling before_answer (if not NULL) after the notification
 * was received and before it is answered: on_violation: kill kills the tree there. */
int syscall_filter_handle_full(int listener, void (*before_answer)(void *userdata),
                               void *userdata, struct caisson_event *ret,
                               struct caisson_error *err);

/* The numbers of rules[]'s CAISSON_SYSCALL_OBSERVE calls, up to max, into nrs. */
size_t syscall_filter_observed(const struct caisson_syscall_rule *rules, size_t n, int *nrs,
                               size_t max);

/* Like syscall_filter_handle_full, with the observed calls (syscall_filter_observed): one
 * made on a socket fills *ret as CAISSON_EVENT_CONNECT and leaves the caller held, its
 * notification id in *ret_pending, for syscall_filter_continue(); one made on anything
 * else goes on at once and returns 0. */
int syscall_filter_handle_observe(int listener, const int *observed, size_t n_observed,
                                  uint64_t *ret_pending, void (*before_answer)(void *userdata),
                                  void *userdata, struct caisson_event *ret,
                                  struct caisson_error *err);

/* Asks for synchronous wakeups between callers and the supervisor (best effort). */
void syscall_filter_sync_wakeup(int listener);

/* Lets a held caller's call go on: 0, 1 if the caller was gone (killed, or its wait
 * broken off), or negative errno. */
int syscall_filter_continue(int listener, uint64_t id);

/* Resolves a native syscall number to its name ("#nr" if unknown) into buf. */
const char *syscall_filter_name(int nr, char *buf, size_t size);
