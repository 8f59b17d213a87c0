/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libseccomp: seccomp table → BPF (parent), load (child), user notifications (supervisor).
 *
 * Two programs are loaded, and the kernel runs both on every syscall, taking the strictest
 * answer (KILL_PROCESS > ERRNO > USER_NOTIF > ALLOW):
 *   ceiling  hand-written: foreign arch or x32 → KILL_PROCESS; nr above the newest reviewed
 *            (SYSCALL_TABLE_MAX_REVIEWED_NR) → ENOSYS, so a future kernel's new syscall is
 *            not allowed by default; else ALLOW.
 *   main     libseccomp: default ALLOW, the denylist's DENY rules → USER_NOTIF (the
 *            supervisor answers EPERM and reports), ENOSYS rules → ERRNO(ENOSYS).
 *
 * Compilation happens in the parent; the child only loads ready BPF with raw seccomp(2):
 * between loading and execve it must allocate nothing and make no syscall the filter sends
 * to the supervisor (DESIGN §2). */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backends/native/syscall-filter.h"
#include "error.h"
#include "macro.h"
#include "policy/seccomp-table.h"

#if !defined(__x86_64__)
#error "syscall-filter.c: the ceiling and the reviewed syscall numbers are x86_64 only"
#endif

#ifndef __NR_seccomp
#define __NR_seccomp 317
#endif
#define CS_X32_SYSCALL_BIT 0x40000000U
#define CS_WAIT_KILLABLE_RECV (1UL << 5) /* SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV */

/* TODO(syscalls.h): belongs beside the other raw wrappers as sys_seccomp(). Kept here
 * while that header is owned elsewhere; glibc 2.36 has no seccomp() wrapper. */
static inline int filter_sys_seccomp(unsigned op, unsigned flags, const void *args) {
        return (int) syscall(__NR_seccomp, op, flags, args);
}

/* x86_64 syscalls newer than libseccomp 2.5.4's tables (kernel 5.17), up to the newest
 * reviewed. Used to name them in events, and to resolve a policy name libseccomp lacks;
 * anything else unknown fails closed. Numbers from arch/x86/entry/syscalls/syscall_64.tbl. */
static const struct {
        int nr;
        const char *name;
} newer_syscalls[] = {
        { 447, "memfd_secret" },      { 448, "process_mrelease" },
        { 449, "futex_waitv" },       { 450, "set_mempolicy_home_node" },
        { 451, "cachestat" },         { 452, "fchmodat2" },
        { 453, "map_shadow_stack" },  { 454, "futex_wake" },
        { 455, "futex_wait" },        { 456, "futex_requeue" },
        { 457, "statmount" },         { 458, "listmount" },
        { 459, "lsm_get_self_attr" }, { 460, "lsm_set_self_attr" },
        { 461, "lsm_list_modules" },  { 462, "mseal" },
        { 463, "setxattrat" },        { 464, "getxattrat" },
        { 465, "listxattrat" },       { 466, "removexattrat" },
        { 467, "open_tree_attr" },
};

static void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

/* Returns the native number of name, or -1. libseccomp first; a negative answer other than
 * "unknown" is a pseudo-syscall (a name that does not exist on this arch), refused too. */
static int resolve_name(const char *name) {
        int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, name);

        if (nr >= 0)
                return nr;
        for (size_t i = 0; i < ELEMENTSOF(newer_syscalls); i++)
                if (streq(newer_syscalls[i].name, name))
                        return newer_syscalls[i].nr;
        return -1;
}

const char *syscall_filter_name(int nr, char *buf, size_t size) {
        _cleanup_free_ char *name = NULL;

        if (size == 0)
                return buf;
        name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (name) {
                (void) snprintf(buf, size, "%s", name);
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(newer_syscalls); i++)
                if (newer_syscalls[i].nr == nr) {
                        (void) snprintf(buf, size, "%s", newer_syscalls[i].name);
                        return buf;
                }
        (void) snprintf(buf, size, "#%d", nr);
        return buf;
}

static int to_scmp_cmp(const struct caisson_syscall_arg *a, struct scmp_arg_cmp *ret) {
        static const enum scmp_compare ops[] = {
                [CAISSON_CMP_EQ] = SCMP_CMP_EQ,
                [CAISSON_CMP_NE] = SCMP_CMP_NE,
                [CAISSON_CMP_GE] = SCMP_CMP_GE,
                [CAISSON_CMP_GT] = SCMP_CMP_GT,
                [CAISSON_CMP_LT] = SCMP_CMP_LT,
                [CAISSON_CMP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
        };

        if (a->op >= ELEMENTSOF(ops) || ops[a->op] == 0 || a->index > 5)
                return -EINVAL;
        if (a->op == CAISSON_CMP_MASKED_EQ)
                *ret = (struct scmp_arg_cmp) { .arg = a->index, .op = ops[a->op],
                                               .datum_a = a->mask, .datum_b = a->value };
        else
                *ret = (struct scmp_arg_cmp) { .arg = a->index, .op = ops[a->op],
                                               .datum_a = a->value };
        return 0;
}

static int add_rule(scmp_filter_ctx ctx, const struct caisson_syscall_rule *r,
                    struct caisson_error *err) {
        struct scmp_arg_cmp cmp[ELEMENTSOF(r->args)] = {};
        const char *name = r->name ? r->name : "(unnamed)";
        unsigned n_cmp = 0;
        uint32_t action;
        int nr, k;

        switch (r->action) {
        case CAISSON_SYSCALL_ALLOW:
                return 0; /* the default action already; libseccomp refuses a duplicate */
        case CAISSON_SYSCALL_DENY:
                action = SCMP_ACT_NOTIFY;
                break;
        case CAISSON_SYSCALL_ENOSYS:
                action = SCMP_ACT_ERRNO(ENOSYS);
                break;
        case CAISSON_SYSCALL_OBSERVE:
                action = SCMP_ACT_NOTIFY; /* told apart from a denial by its number */
                break;
        default:
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_INTERNAL, EINVAL,
                               "'%s': unknown action %u", name, r->action);
        }

        /* Fail closed: a rule we cannot place is a hole, so the agent does not start. */
        nr = r->nr >= 0 ? r->nr : (r->name ? resolve_name(r->name) : -1);
        if (nr < 0)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SYSCALL_UNKNOWN, EINVAL,
                               "syscall '%s' is unknown to libseccomp %u.%u.%u on this "
                               "architecture", name, SCMP_VER_MAJOR, SCMP_VER_MINOR,
                               SCMP_VER_MICRO);
        if (nr > SYSCALL_TABLE_MAX_REVIEWED_NR)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SYSCALL_UNKNOWN, EINVAL,
                               "syscall '%s' (%d) is above the ceiling (%d)", name, nr,
                               SYSCALL_TABLE_MAX_REVIEWED_NR);

        for (size_t i = 0; i < ELEMENTSOF(r->args) && r->args[i].op != CAISSON_CMP_NONE; i++) {
                if (to_scmp_cmp(&r->args[i], &cmp[n_cmp]) < 0)
                        return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_INTERNAL,
                                       EINVAL, "'%s': bad argument condition %zu", name, i);
                n_cmp++;
        }

        /* _exact: libseccomp may not rewrite the rule; on x86_64 nothing is multiplexed. */
        k = seccomp_rule_add_exact_array(ctx, action, nr, n_cmp, cmp);
        if (k < 0)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED, -k,
                               "add rule for '%s'", name);
        return 0;
}

/* Reads the exported program back from fd into one malloc'd array. */
static int read_program(int fd, struct sock_fprog *ret, struct caisson_error *err) {
        _cleanup_free_ struct sock_filter *insns = NULL;
        struct stat st;
        size_t size, done = 0;

        if (fstat(fd, &st) < 0)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED, errno,
                               "stat exported filter");
        size = (size_t) st.st_size;
        if (size == 0 || size % sizeof(struct sock_filter) != 0 ||
            size / sizeof(struct sock_filter) > BPF_MAXINSNS)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED, E2BIG,
                               "exported filter has a bad size (%zu bytes)", size);

        insns = malloc(size);
        if (!insns)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_NO_MEMORY, ENOMEM,
                               "filter");
        while (done < size) {
                ssize_t n = pread(fd, (char *) insns + done, size - done, (off_t) done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED,
                                       errno, "read exported filter");
                if (n == 0)
                        return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED,
                                       EIO, "exported filter truncated");
                done += (size_t) n;
        }

        *ret = (struct sock_fprog) { .len = (unsigned short) (size / sizeof(struct sock_filter)),
                                     .filter = TAKE_PTR(insns) };
        return 0;
}

static int compile_main(const struct caisson_syscall_rule *rules, size_t n,
                        struct sock_fprog *ret, struct caisson_error *err) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED, ENOMEM,
                               "seccomp_init");

        /* The context holds only the native arch: an i386 (int 0x80) or other foreign-arch
         * syscall would otherwise bypass every rule, as its numbers differ. Kill the whole
         * process, not just the thread. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED, -r,
                               "set bad-arch action");
        /* The child loads the program itself, after PR_SET_NO_NEW_PRIVS. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED, -r,
                               "clear no-new-privs attribute");

        /* A binary tree over the syscall numbers instead of one compare per rule in a row:
         * at load the kernel runs the program once per syscall number to find the ones it
         * may always allow without running it (the seccomp action cache), and with ~240
         * rules in a row that emulation took a measurable part of every start; syscalls
         * that do run the program (argument checks) take ~8 compares instead of up to 240. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED, -r,
                               "set binary-tree optimisation");

        for (size_t i = 0; i < n; i++) {
                r = add_rule(ctx, &rules[i], err);
                if (r < 0)
                        return r;
        }

        fd = memfd_create("caisson-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED, errno,
                               "memfd_create");
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED, -r,
                               "export filter");

        return read_program(fd, ret, err);
}

/* The ceiling, x86_64. x32 syscalls arrive with AUDIT_ARCH_X86_64 and the x32 bit set in
 * the number, so the arch check alone does not stop them; the x32 ABI has its own entry
 * points (and its own CVE history) and no agent tool needs it. */
static const struct sock_filter ceiling_insns[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CS_X32_SYSCALL_BIT, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, SYSCALL_TABLE_MAX_REVIEWED_NR, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static int compile_ceiling(struct sock_fprog *ret, struct caisson_error *err) {
        struct sock_filter *insns = malloc(sizeof ceiling_insns);

        if (!insns)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_NO_MEMORY, ENOMEM,
                               "ceiling filter");
        memcpy(insns, ceiling_insns, sizeof ceiling_insns);
        *ret = (struct sock_fprog) { .len = ELEMENTSOF(ceiling_insns), .filter = insns };
        return 0;
}

/* FNV-1a over everything that decides the BPF: names, numbers, actions, conditions. */
uint64_t syscall_filter_fingerprint(const struct caisson_syscall_rule *rules, size_t n) {
        uint64_t h = 0xcbf29ce484222325ULL;

#define FP_MIX(p, len)                                                                             \
        for (size_t k_ = 0; k_ < (len); k_++)                                                      \
                h = (h ^ ((const uint8_t *) (p))[k_]) * 0x100000001b3ULL
        for (size_t i = 0; i < n; i++) {
                const struct caisson_syscall_rule *r = &rules[i];

                FP_MIX(r->name, strlen(r->name) + 1);
                FP_MIX(&r->nr, sizeof r->nr);
                FP_MIX(&r->action, sizeof r->action);
                for (size_t a = 0; a < ELEMENTSOF(r->args); a++) {
                        FP_MIX(&r->args[a].op, sizeof r->args[a].op);
                        FP_MIX(&r->args[a].index, sizeof r->args[a].index);
                        FP_MIX(&r->args[a].value, sizeof r->args[a].value);
                        FP_MIX(&r->args[a].mask, sizeof r->args[a].mask);
                }
        }
#undef FP_MIX
        return h;
}

#ifndef CAISSON_GEN_FILTER
/* The default table compiled at build time by tools/gen-filter (same code, same
 * libseccomp), without and with the observed connect() calls: a policy without
 * seccomp.deny/allow skips the ~2 ms compile, with or without network_policies. */
#include "default-filter.h"

static int prebuilt_copy(const struct sock_filter *main_insns, size_t n_main,
                         const struct sock_filter *ceiling_insns_, size_t n_ceiling,
                         struct syscall_filter *ret) {
        struct sock_filter *m = malloc(n_main * sizeof *m), *c = malloc(n_ceiling * sizeof *c);

        if (!m || !c) {
                free(m);
                free(c);
                return -ENOMEM;
        }
        memcpy(m, main_insns, n_main * sizeof *m);
        memcpy(c, ceiling_insns_, n_ceiling * sizeof *c);
        ret->main = (struct sock_fprog) { .len = (unsigned short) n_main, .filter = m };
        ret->ceiling = (struct sock_fprog) { .len = (unsigned short) n_ceiling, .filter = c };
        return 1;
}

static int prebuilt(const struct caisson_syscall_rule *rules, size_t n, struct syscall_filter *ret) {
        uint64_t fp;

        if (n != default_filter_rules && n != observe_filter_rules)
                return 0;
        fp = syscall_filter_fingerprint(rules, n);
        if (n == default_filter_rules && fp == default_filter_fingerprint)
                return prebuilt_copy(default_filter_main, ELEMENTSOF(default_filter_main),
                                     default_filter_ceiling, ELEMENTSOF(default_filter_ceiling),
                                     ret);
        if (n == observe_filter_rules && fp == observe_filter_fingerprint)
                return prebuilt_copy(observe_filter_main, ELEMENTSOF(observe_filter_main),
                                     observe_filter_ceiling, ELEMENTSOF(observe_filter_ceiling),
                                     ret);
        return 0;
}
#endif

int syscall_filter_compile(const struct caisson_syscall_rule *rules, size_t n,
                           struct syscall_filter *ret, struct caisson_error *err) {
#ifndef CAISSON_GEN_FILTER
        int r = n > 0 && rules ? prebuilt(rules, n, ret) : 0;

        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_NO_MEMORY, -r, "filter");
        if (r > 0)
                return 0;
#endif
        return syscall_filter_compile_fresh(rules, n, ret, err);
}

int syscall_filter_compile_fresh(const struct caisson_syscall_rule *rules, size_t n,
                                 struct syscall_filter *ret, struct caisson_error *err) {
        _cleanup_(syscall_filter_done) struct syscall_filter f = {};
        int r;

        if (n > 0 && !rules)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_INTERNAL, EINVAL,
                               "no seccomp table");

        r = compile_main(rules, n, &f.main, err);
        if (r < 0)
                return r;
        r = compile_ceiling(&f.ceiling, err);
        if (r < 0)
                return r;

        *ret = f;
        f = (struct syscall_filter) {};
        return 0;
}

void syscall_filter_done(struct syscall_filter *f) {
        if (!f)
                return;
        free(f->main.filter);
        free(f->ceiling.filter);
        *f = (struct syscall_filter) {};
}

int syscall_filter_load(const struct syscall_filter *f, int *ret_listener,
                        struct caisson_error *err) {
        int fd;

        /* No allocation and no libseccomp from here: this runs in the forked child. */
        if (!f || !f->main.filter || f->main.len == 0 || !f->ceiling.filter ||
            f->ceiling.len == 0)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_INTERNAL, EINVAL,
                               "no compiled filter");

        if (filter_sys_seccomp(SECCOMP_SET_MODE_FILTER, 0, &f->ceiling) < 0)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED, errno,
                               "load ceiling filter");

        /* The listener fd is O_CLOEXEC from the kernel. EBUSY here means an ancestor's filter
         * already has a listener (a nested caisson): one per filter chain. */
        /* WAIT_KILLABLE_RECV (Linux 5.19): once the supervisor has received a notification,
         * only a fatal signal ends the caller's wait, so a held connect() cannot be broken
         * off by a signal and the process changed while its record is read. Older kernels
         * refuse the flag (EINVAL): loaded without it, and the supervisor still finds an
         * abandoned call when it answers (CAISSON_EVENT_CONNECT_ABANDONED). */
        fd = filter_sys_seccomp(SECCOMP_SET_MODE_FILTER,
                                SECCOMP_FILTER_FLAG_NEW_LISTENER | CS_WAIT_KILLABLE_RECV, &f->main);
        if (fd < 0 && errno == EINVAL)
                fd = filter_sys_seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                                        &f->main);
        if (fd < 0)
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED, errno,
                               "load filter");

        *ret_listener = fd;
        return 0;
}

/* Large enough for struct seccomp_notif / _resp of any kernel we know (64 / 24 bytes on
 * 6.x); a kernel reporting bigger structures is refused rather than overflowing. */
#define NOTIF_BUF_SIZE 512

static int notif_sizes(struct seccomp_notif_sizes *ret, struct caisson_error *err) {
        /* Asked once: the sizes are a property of the running kernel. The supervisor is
         * single-threaded (one epoll loop). */
        static struct seccomp_notif_sizes cached;

        if (cached.seccomp_notif == 0) {
                struct seccomp_notif_sizes s = {};

                if (filter_sys_seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &s) < 0)
                        return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED,
                                       errno, "get notification sizes");
                if (s.seccomp_notif > NOTIF_BUF_SIZE || s.seccomp_notif_resp > NOTIF_BUF_SIZE)
                        return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED,
                                       E2BIG, "notification sizes %u/%u too large",
                                       s.seccomp_notif, s.seccomp_notif_resp);
                cached = s;
        }
        *ret = cached;
        return 0;
}

static bool notif_id_valid(int listener, uint64_t id) {
        return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) >= 0;
}

int syscall_filter_handle(int listener, struct caisson_event *ret, struct caisson_error *err) {
        return syscall_filter_handle_full(listener, NULL, NULL, ret, err);
}

size_t syscall_filter_observed(const struct caisson_syscall_rule *rules, size_t n, int *nrs,
                               size_t max) {
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
                int nr;

                if (rules[i].action != CAISSON_SYSCALL_OBSERVE)
                        continue;
                nr = rules[i].nr >= 0 ? rules[i].nr : (rules[i].name ? resolve_name(rules[i].name) : -1);
                if (nr >= 0 && k < max)
                        nrs[k++] = nr;
        }
        return k;
}

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, uint64_t)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

void syscall_filter_sync_wakeup(int listener) {
        /* Linux 6.6: caller and supervisor wake each other on the waker's CPU, as a
         * synchronous call would. Older kernels: EINVAL, and the usual wakeups. */
        (void) ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
}

int syscall_filter_continue(int listener, uint64_t id) {
        union {
                struct seccomp_notif_resp r;
                uint8_t raw[NOTIF_BUF_SIZE];
        } resp;

        /* The sizes were asked when the notification was received. */
        memset(&resp, 0, sizeof resp);
        resp.r.id = id;
        resp.r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0)
                return errno == ENOENT ? 1 : -errno; /* ENOENT: the caller is gone */
        return 0;
}

/* An observed call: the socket it is made on, as "socket:[INODE]" among the caller's fds.
 * Anything else (a bad fd, not a socket) goes on at once, to the kernel's own error. */
static int observe(int listener, const struct seccomp_notif *n, struct caisson_event *ret,
                   uint64_t *ret_pending) {
        char path[64], link[64], *end;
        unsigned long ino;
        ssize_t k;

        (void) snprintf(path, sizeof path, "/proc/%u/fd/%d", n->pid, (int) n->data.args[0]);
        k = readlink(path, link, sizeof link - 1);
        if (k > 0)
                link[k] = 0;
        /* Checked after the read: a pid reused between receive and readlink is not the
         * caller's, and a caller killed meanwhile (an exec in another thread) made no call.
         * Another thread may still dup2() another socket onto the fd before the call goes
         * on: the call then connects a socket this record is not for, whose own record
         * (none, unless an earlier connect() on it left one) decides it. */
        if (!notif_id_valid(listener, n->id))
                return 0;
        if (k <= 8 || strncmp(link, "socket:[", 8) != 0 ||
            (ino = strtoul(link + 8, &end, 10), *end != ']') || ino == 0 || ino > UINT32_MAX) {
                (void) syscall_filter_continue(listener, n->id);
                return 0;
        }
        memset(ret, 0, sizeof *ret);
        ret->kind = CAISSON_EVENT_CONNECT;
        ret->pid = (int32_t) n->pid;
        ret->syscall_nr = n->data.nr;
        ret->sock_ino = (uint32_t) ino;
        (void) syscall_filter_name(n->data.nr, ret->syscall, sizeof ret->syscall);
        *ret_pending = n->id;
        return 1;
}

int syscall_filter_handle_full(int listener, void (*before_answer)(void *userdata),
                               void *userdata, struct caisson_event *ret,
                               struct caisson_error *err) {
        return syscall_filter_handle_observe(listener, NULL, 0, NULL, before_answer, userdata,
                                             ret, err);
}

int syscall_filter_handle_observe(int listener, const int *observed, size_t n_observed,
                                  uint64_t *ret_pending, void (*before_answer)(void *userdata),
                                  void *userdata, struct caisson_event *ret,
                                  struct caisson_error *err) {
        union {
                struct seccomp_notif n;
                uint8_t raw[NOTIF_BUF_SIZE];
        } req;
        union {
                struct seccomp_notif_resp r;
                uint8_t raw[NOTIF_BUF_SIZE];
        } resp;
        struct seccomp_notif_sizes sizes;
        struct caisson_event ev = {};
        char path[64];
        int r;

        r = notif_sizes(&sizes, err);
        if (r < 0)
                return r;

        /* The kernel refuses (EINVAL) a receive buffer that is not zeroed. */
        memset(&req, 0, sizeof req);
        for (;;) {
                if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) >= 0)
                        break;
                if (errno == EINTR)
                        continue;
                if (errno == ENOENT)
                        return 0; /* the caller was killed or interrupted meanwhile */
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED, errno,
                               "receive notification");
        }

        for (size_t i = 0; i < n_observed && ret_pending; i++)
                if (observed[i] == req.n.data.nr)
                        return observe(listener, &req.n, ret, ret_pending);

        ev.kind = CAISSON_EVENT_SYSCALL_DENIED;
        ev.reason = CAISSON_REASON_SYSCALL_DENIED;
        ev.pid = (int32_t) req.n.pid;
        ev.syscall_nr = req.n.data.nr;
        (void) syscall_filter_name(req.n.data.nr, ev.syscall, sizeof ev.syscall);

        /* The pid is only the caller's while the notification is pending: check before
         * reading /proc/<pid>/exe, and again after, so a pid reused by another process
         * between the two is never reported as the caller's binary. */
        if (notif_id_valid(listener, req.n.id)) {
                ssize_t k;

                (void) snprintf(path, sizeof path, "/proc/%u/exe", req.n.pid);
                k = readlink(path, ev.binary, sizeof ev.binary - 1);
                ev.binary[k > 0 ? k : 0] = '\0';
                if (!notif_id_valid(listener, req.n.id))
                        ev.binary[0] = '\0';
        }

        /* With on_violation: kill, the tree dies while the caller still waits here: the
         * answer must never let it run on, not even for the instant between EPERM and
         * the kill. */
        if (before_answer)
                before_answer(userdata);

        /* The agent gets EPERM, as from the kernel; the event is the report. */
        memset(&resp, 0, sizeof resp);
        resp.r.id = req.n.id;
        resp.r.error = -EPERM;
        resp.r.val = 0;
        resp.r.flags = 0;
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0) {
                if (errno == ENOENT && !before_answer)
                        return 0; /* the caller died before the answer */
                if (errno == ENOENT) {
                        /* before_answer killed it: that is the outcome to report */
                        *ret = ev;
                        return 1;
                }
                return cs_fail(err, CAISSON_LAYER_SECCOMP, CAISSON_REASON_SECCOMP_FAILED, errno,
                               "answer notification");
        }

        *ret = ev;
        return 1;
}
