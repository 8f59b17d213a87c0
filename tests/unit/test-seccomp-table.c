/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The seccomp denylist (src/policy/seccomp-table.c) as data, and the filter built from it
 * (src/backends/native/syscall-filter.c) as behaviour: compiled to BPF, loaded in a forked
 * child after PR_SET_NO_NEW_PRIVS, probed with real syscalls. No root needed: seccomp with
 * no_new_privs and user notification work unprivileged.
 *
 * Every probe of a denied syscall carries its positive control (bubblewrap's try-syscall):
 * the same call outside the filter reaches the kernel and fails differently (EINVAL, EBADF,
 * ENOTTY, ...), and inside it fails with EPERM *and* the supervisor side gets an event — a
 * kernel EPERM would produce no event. */

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "error.h"
#include "macro.h"
#include "policy/seccomp-table.h"

/* tests/meson.build links this test with the policy library only; the filter code is
 * compiled in here. (If the native library gets linked too, nothing is pulled from it:
 * every syscall_filter_* symbol is already defined.) */
#include "backends/native/syscall-filter.c"

/* ---- helpers: evaluate the table as the kernel would see it ---------------------------- */

static bool arg_matches(const struct caisson_syscall_arg *a, const uint64_t args[6]) {
        uint64_t v = args[a->index];

        switch (a->op) {
        case CAISSON_CMP_EQ:
                return v == a->value;
        case CAISSON_CMP_NE:
                return v != a->value;
        case CAISSON_CMP_GE:
                return v >= a->value;
        case CAISSON_CMP_GT:
                return v > a->value;
        case CAISSON_CMP_LT:
                return v < a->value;
        case CAISSON_CMP_MASKED_EQ:
                return (v & a->mask) == a->value;
        default:
                cr_assert_fail("bad op %u", a->op);
        }
        return false;
}

static bool rule_matches(const struct caisson_syscall_rule *r, const uint64_t args[6]) {
        for (size_t i = 0; i < ELEMENTSOF(r->args) && r->args[i].op != CAISSON_CMP_NONE; i++)
                if (!arg_matches(&r->args[i], args))
                        return false;
        return true;
}

/* The action the table gives name(args): the strictest matching rule, else ALLOW. */
static uint32_t eval(const struct caisson_syscall_rule *rules, size_t n, const char *name,
                     uint64_t a0, uint64_t a1, uint64_t a2) {
        const uint64_t args[6] = { a0, a1, a2 };
        uint32_t action = CAISSON_SYSCALL_ALLOW;

        for (size_t i = 0; i < n; i++)
                if (streq(rules[i].name, name) && rule_matches(&rules[i], args)) {
                        if (rules[i].action == CAISSON_SYSCALL_ENOSYS)
                                action = CAISSON_SYSCALL_ENOSYS; /* ERRNO beats USER_NOTIF */
                        else if (action == CAISSON_SYSCALL_ALLOW)
                                action = rules[i].action;
                }
        return action;
}

static size_t count_rules(const struct caisson_syscall_rule *rules, size_t n, const char *name) {
        size_t c = 0;

        for (size_t i = 0; i < n; i++)
                if (streq(rules[i].name, name))
                        c++;
        return c;
}

static const struct caisson_syscall_rule *find_rule(const struct caisson_syscall_rule *rules,
                                                    size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(rules[i].name, name))
                        return &rules[i];
        return NULL;
}

struct table {
        struct caisson_syscall_rule *rules;
        size_t n;
};

static void table_done(struct table *t) {
        free(t->rules);
        *t = (struct table) {};
}

static void build(struct table *t, const char *const *deny, size_t n_deny,
                  const char *const *allow, size_t n_allow) {
        struct caisson_error err = {};
        int r = syscall_table_build(deny, n_deny, allow, n_allow, &t->rules, &t->n, &err);

        cr_assert_eq(r, 0, "syscall_table_build: %d %s", r, err.msg);
        cr_assert_gt(t->n, 0);
}

static void build_default(struct table *t) {
        build(t, NULL, 0, NULL, 0);
}

#define DENIES(t, name, a0, a1, a2)                                                                \
        (eval((t).rules, (t).n, (name), (a0), (a1), (a2)) == CAISSON_SYSCALL_DENY)

/* ---- the table -------------------------------------------------------------------------- */

/* DESIGN §3, unconditional EPERM + event. */
static const char *const design_deny[] = {
        "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
        "process_madvise", "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key",
        "request_key", "syslog", "mount", "umount2", "pivot_root", "chroot", "open_tree",
        "open_tree_attr", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
        "mount_setattr", "setns", "kexec_load", "kexec_file_load", "init_module",
        "finit_module", "delete_module", "open_by_handle_at", "iopl", "ioperm", "modify_ldt",
        "swapon", "swapoff", "reboot", "acct", "quotactl", "quotactl_fd", "lookup_dcookie",
        "fanotify_init", "migrate_pages", "move_pages", "settimeofday", "clock_settime",
        "clock_adjtime", "sethostname", "setdomainname", "vhangup",
};

static const char *const design_enosys[] = {
        "clone3", "io_uring_setup", "io_uring_enter", "io_uring_register",
};

Test(seccomp_table, design_denylist_present_unconditional) {
        _cleanup_(table_done) struct table t = {};

        build_default(&t);
        for (size_t i = 0; i < ELEMENTSOF(design_deny); i++) {
                const struct caisson_syscall_rule *r = find_rule(t.rules, t.n, design_deny[i]);

                cr_assert_not_null(r, "%s missing", design_deny[i]);
                cr_assert_eq(count_rules(t.rules, t.n, design_deny[i]), 1, "%s", design_deny[i]);
                cr_assert_eq(r->action, CAISSON_SYSCALL_DENY, "%s", design_deny[i]);
                cr_assert_eq(r->args[0].op, CAISSON_CMP_NONE, "%s is conditional", design_deny[i]);
                cr_assert(DENIES(t, design_deny[i], 0, 0, 0));
        }
}

Test(seccomp_table, enosys_rules) {
        _cleanup_(table_done) struct table t = {};

        build_default(&t);
        for (size_t i = 0; i < ELEMENTSOF(design_enosys); i++) {
                const struct caisson_syscall_rule *r = find_rule(t.rules, t.n, design_enosys[i]);

                cr_assert_not_null(r, "%s missing", design_enosys[i]);
                cr_assert_eq(count_rules(t.rules, t.n, design_enosys[i]), 1);
                cr_assert_eq(r->action, CAISSON_SYSCALL_ENOSYS, "%s", design_enosys[i]);
                cr_assert_eq(r->args[0].op, CAISSON_CMP_NONE);
        }
}

Test(seccomp_table, adjtimex_denied_with_clock_adjtime) {
        _cleanup_(table_done) struct table t = {};

        build_default(&t);
        cr_assert(DENIES(t, "adjtimex", 0, 0, 0));
}

Test(seccomp_table, newer_than_libseccomp_by_number) {
        _cleanup_(table_done) struct table t = {};
        const struct caisson_syscall_rule *r;

        build_default(&t);
        r = find_rule(t.rules, t.n, "open_tree_attr");
        cr_assert_not_null(r);
        cr_assert_eq(r->nr, 467);
        cr_assert_leq(r->nr, SYSCALL_TABLE_MAX_REVIEWED_NR);
        for (size_t i = 0; i < t.n; i++)
                cr_assert_leq(t.rules[i].nr, SYSCALL_TABLE_MAX_REVIEWED_NR);
}

Test(seccomp_table, runtimes_needs_stay_allowed) {
        static const char *const allowed[] = {
                "memfd_create", "read", "write", "openat", "execve", "execveat", "mmap",
                "mprotect", "futex", "epoll_wait", "prctl", "seccomp", "landlock_create_ruleset",
                "pidfd_open", "pidfd_send_signal", "name_to_handle_at", "clock_gettime",
                "getrandom", "close_range", "sendmsg", "recvmsg", "connect", "bind", "wait4",
        };
        _cleanup_(table_done) struct table t = {};

        build_default(&t);
        for (size_t i = 0; i < ELEMENTSOF(allowed); i++)
                cr_assert_eq(count_rules(t.rules, t.n, allowed[i]), 0, "%s is filtered",
                             allowed[i]);
}

Test(seccomp_table, unshare_and_clone_new_namespaces) {
        static const uint64_t ns[] = {
                CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                CLONE_NEWUSER, CLONE_NEWPID,   CLONE_NEWNET,
        };
        _cleanup_(table_done) struct table t = {};

        build_default(&t);
        for (size_t i = 0; i < ELEMENTSOF(ns); i++) {
                cr_assert(DENIES(t, "unshare", ns[i], 0, 0), "unshare %#lx", (unsigned long) ns[i]);
                cr_assert(DENIES(t, "unshare", ns[i] | CLONE_FILES | (UINT64_C(1) << 40), 0, 0));
                cr_assert(DENIES(t, "clone", ns[i] | SIGCHLD, 0, 0), "clone %#lx",
                          (unsigned long) ns[i]);
        }
        cr_assert(DENIES(t, "unshare", CLONE_NEWTIME, 0, 0));
        cr_assert(DENIES(t, "unshare", CLONE_NEWUSER | CLONE_NEWNET, 0, 0));

        /* What runtimes do: threads, fork, vfork, unshare of fs state. */
        cr_assert_not(DENIES(t, "unshare", 0, 0, 0));
        cr_assert_not(DENIES(t, "unshare", CLONE_FILES | CLONE_FS | CLONE_SYSVSEM, 0, 0));
        cr_assert_not(DENIES(t, "clone", SIGCHLD, 0, 0));
        cr_assert_not(DENIES(t, "clone", CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0));
        cr_assert_not(DENIES(t, "clone",
                             CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                                     CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
                                     CLONE_CHILD_CLEARTID,
                             0, 0));
        /* Bit 0x80 of clone's flags is the exit signal (CSIGNAL), not CLONE_NEWTIME. */
        cr_assert_not(DENIES(t, "clone", 0x80 | SIGCHLD, 0, 0));
}

static bool personality_should_deny(uint64_t v) {
        uint32_t low = (uint32_t) v; /* the kernel takes an unsigned int */

        return low != 0 && low != 0xffffffff;
}

Test(seccomp_table, personality_only_default_and_query) {
        static const uint64_t samples[] = {
                0, 0xffffffff, UINT64_C(0xffffffffffffffff), UINT64_C(0x100000000), 1, 8,
                ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, PER_LINUX32, 0xfffffffe, 0x7fffffff,
                0x80000000, UINT64_C(0x100000001), UINT64_C(0xffffffff00040000),
        };
        _cleanup_(table_done) struct table t = {};

        build_default(&t);
        cr_assert_not(DENIES(t, "personality", 0, 0, 0));
        cr_assert_not(DENIES(t, "personality", 0xffffffff, 0, 0));
        cr_assert(DENIES(t, "personality", ADDR_NO_RANDOMIZE, 0, 0));
        cr_assert(DENIES(t, "personality", READ_IMPLIES_EXEC, 0, 0));
        for (size_t i = 0; i < ELEMENTSOF(samples); i++)
                cr_assert_eq(DENIES(t, "personality", samples[i], 0, 0),
                             personality_should_deny(samples[i]), "%#llx",
                             (unsigned long long) samples[i]);
        for (uint64_t v = 0; v < 70000; v++)
                cr_assert_eq(DENIES(t, "personality", v, 0, 0), personality_should_deny(v));
        /* Every single bit and its complement, with and without high bits. */
        for (unsigned b = 0; b < 64; b++) {
                uint64_t v = UINT64_C(1) << b;

                cr_assert_eq(DENIES(t, "personality", v, 0, 0), personality_should_deny(v));
                cr_assert_eq(DENIES(t, "personality", ~v, 0, 0), personality_should_deny(~v));
        }
}

Test(seccomp_table, ioctl_tiocsti_tioclinux_low_32_bits) {
        _cleanup_(table_done) struct table t = {};

        build_default(&t);
        cr_assert(DENIES(t, "ioctl", 0, TIOCSTI, 0));
        cr_assert(DENIES(t, "ioctl", 0, TIOCLINUX, 0));
        /* CVE-2019-10063: the kernel truncates the request to 32 bits. */
        cr_assert(DENIES(t, "ioctl", 0, UINT64_C(0x100005412), 0));
        cr_assert(DENIES(t, "ioctl", 0, UINT64_C(0xffffffff00005412), 0));
        cr_assert(DENIES(t, "ioctl", 0, UINT64_C(0x800000000000541c), 0));
        cr_assert_not(DENIES(t, "ioctl", 0, TCGETS, 0));
        cr_assert_not(DENIES(t, "ioctl", 0, TIOCGWINSZ, 0));
        cr_assert_not(DENIES(t, "ioctl", 0, FIONREAD, 0));
        cr_assert_not(DENIES(t, "ioctl", 0, TIOCSTI | 0x10000, 0));
        /* The masks stay inside the low 32 bits. */
        for (size_t i = 0; i < t.n; i++)
                if (streq(t.rules[i].name, "ioctl")) {
                        cr_assert_eq(t.rules[i].args[0].op, CAISSON_CMP_MASKED_EQ);
                        cr_assert_eq(t.rules[i].args[0].index, 1);
                        cr_assert_eq(t.rules[i].args[0].mask, 0xffffffff);
                }
}

static bool family_should_deny(uint64_t family) {
        uint32_t f = (uint32_t) family; /* an int to the kernel */

        return !(f == AF_UNIX || f == AF_INET || f == AF_INET6 || f == AF_NETLINK);
}

Test(seccomp_table, socket_families) {
        static const char *const calls[] = { "socket", "socketpair" };
        _cleanup_(table_done) struct table t = {};

        build_default(&t);
        for (size_t c = 0; c < ELEMENTSOF(calls); c++) {
                const char *s = calls[c];

                cr_assert_not(DENIES(t, s, AF_UNIX, SOCK_STREAM, 0));
                cr_assert_not(DENIES(t, s, AF_INET, SOCK_STREAM, 0));
                cr_assert_not(DENIES(t, s, AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
                cr_assert_not(DENIES(t, s, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0));
                cr_assert_not(DENIES(t, s, AF_NETLINK, SOCK_DGRAM, 0));
                cr_assert(DENIES(t, s, AF_PACKET, SOCK_RAW, 0));
                cr_assert(DENIES(t, s, AF_UNSPEC, SOCK_STREAM, 0));
                cr_assert(DENIES(t, s, AF_VSOCK, SOCK_STREAM, 0));
                cr_assert(DENIES(t, s, AF_BLUETOOTH, SOCK_STREAM, 0));
                cr_assert(DENIES(t, s, AF_ALG, SOCK_SEQPACKET, 0));
                /* High bits neither bypass a deny nor turn an allowed family into a denied one. */
                cr_assert(DENIES(t, s, UINT64_C(0x100000000) | AF_PACKET, SOCK_RAW, 0));
                cr_assert(DENIES(t, s, UINT64_C(0xffffffff00000005), SOCK_RAW, 0));
                cr_assert_not(DENIES(t, s, UINT64_C(0x100000000) | AF_INET, SOCK_STREAM, 0));

                for (uint64_t f = 0; f < 4096; f++) {
                        cr_assert_eq(DENIES(t, s, f, SOCK_STREAM, 0), family_should_deny(f),
                                     "%s family %llu", s, (unsigned long long) f);
                        cr_assert_eq(DENIES(t, s, f | (f << 33), SOCK_STREAM, 0),
                                     family_should_deny(f), "%s family %llu+high", s,
                                     (unsigned long long) f);
                }
                for (unsigned b = 0; b < 64; b++) {
                        uint64_t f = UINT64_C(1) << b;

                        cr_assert_eq(DENIES(t, s, f, SOCK_DGRAM, 0), family_should_deny(f));
                        cr_assert_eq(DENIES(t, s, ~f, SOCK_DGRAM, 0), family_should_deny(~f));
                }
        }
}

Test(seccomp_table, netlink_route_only) {
        _cleanup_(table_done) struct table t = {};

        build_default(&t);
        for (uint64_t p = 0; p < 300; p++)
                cr_assert_eq(DENIES(t, "socket", AF_NETLINK, SOCK_RAW, p), p != 0, "proto %llu",
                             (unsigned long long) p);
        cr_assert(DENIES(t, "socket", AF_NETLINK, SOCK_DGRAM, 9 /* NETLINK_AUDIT */));
        cr_assert(DENIES(t, "socket", AF_NETLINK, SOCK_DGRAM, UINT64_C(0x100000004)));
        cr_assert_not(DENIES(t, "socket", AF_NETLINK, SOCK_DGRAM, UINT64_C(0x100000000)));
        cr_assert(DENIES(t, "socket", AF_NETLINK, SOCK_DGRAM, UINT64_C(0x80000000)));
        /* Other families' protocols are not affected. */
        cr_assert_not(DENIES(t, "socket", AF_INET, SOCK_STREAM, 6));
        cr_assert_not(DENIES(t, "socket", AF_INET6, SOCK_DGRAM, 17));
}

Test(seccomp_table, sock_raw_inet) {
        _cleanup_(table_done) struct table t = {};

        build_default(&t);
        cr_assert(DENIES(t, "socket", AF_INET, SOCK_RAW, 1));
        cr_assert(DENIES(t, "socket", AF_INET6, SOCK_RAW, 58));
        cr_assert(DENIES(t, "socket", AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 255));
        cr_assert(DENIES(t, "socket", UINT64_C(0x500000002), SOCK_RAW, 1));
        cr_assert_not(DENIES(t, "socket", AF_INET, SOCK_DGRAM, 1)); /* ping sockets */
        cr_assert_not(DENIES(t, "socket", AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        cr_assert_not(DENIES(t, "socket", AF_INET6, SOCK_SEQPACKET, 0));
        cr_assert_not(DENIES(t, "socket", AF_UNIX, SOCK_RAW, 0)); /* a datagram socket */
}

Test(seccomp_table, conditions_well_formed) {
        _cleanup_(table_done) struct table t = {};

        build_default(&t);
        cr_assert_lt(t.n, 512, "%zu rules", t.n);
        for (size_t i = 0; i < t.n; i++) {
                const struct caisson_syscall_rule *r = &t.rules[i];

                cr_assert(syscall_name_valid(r->name), "%s", r->name);
                cr_assert(r->action == CAISSON_SYSCALL_DENY || r->action == CAISSON_SYSCALL_ENOSYS);
                for (size_t k = 0; k < ELEMENTSOF(r->args); k++) {
                        const struct caisson_syscall_arg *a = &r->args[k];

                        if (a->op == CAISSON_CMP_NONE) {
                                for (size_t m = k; m < ELEMENTSOF(r->args); m++)
                                        cr_assert_eq(r->args[m].op, CAISSON_CMP_NONE);
                                break;
                        }
                        cr_assert_lt(a->index, 6);
                        /* 64-bit comparisons are bypassable on truncated arguments. */
                        cr_assert_eq(a->op, CAISSON_CMP_MASKED_EQ, "%s", r->name);
                        cr_assert_eq(a->value & ~a->mask, 0, "%s: value outside mask", r->name);
                        cr_assert_eq(a->mask >> 32, 0, "%s: mask above 32 bits", r->name);
                }
        }
}

Test(seccomp_table, deny_adds) {
        static const char *const deny[] = { "mincore", "clone3", "socket", "mincore" };
        _cleanup_(table_done) struct table t = {};
        const struct caisson_syscall_rule *r;

        build(&t, deny, ELEMENTSOF(deny), NULL, 0);
        r = find_rule(t.rules, t.n, "mincore");
        cr_assert_not_null(r);
        cr_assert_eq(count_rules(t.rules, t.n, "mincore"), 1);
        cr_assert_eq(r->action, CAISSON_SYSCALL_DENY);
        cr_assert_eq(r->nr, -1);
        cr_assert_eq(r->args[0].op, CAISSON_CMP_NONE);
        /* A deny replaces the default rules for the name: the whole syscall, EPERM + event. */
        r = find_rule(t.rules, t.n, "clone3");
        cr_assert_eq(count_rules(t.rules, t.n, "clone3"), 1);
        cr_assert_eq(r->action, CAISSON_SYSCALL_DENY);
        cr_assert_eq(count_rules(t.rules, t.n, "socket"), 1);
        cr_assert(DENIES(t, "socket", AF_INET, SOCK_STREAM, 0));
        cr_assert(count_rules(t.rules, t.n, "socketpair") > 1);
        /* open_tree_attr keeps its number when a policy names it. */
        {
                static const char *const d2[] = { "open_tree_attr" };
                _cleanup_(table_done) struct table t2 = {};

                build(&t2, d2, 1, NULL, 0);
                cr_assert_eq(find_rule(t2.rules, t2.n, "open_tree_attr")->nr, 467);
        }
}

Test(seccomp_table, allow_removes) {
        static const char *const allow[] = { "ptrace", "socket", "clone3" };
        _cleanup_(table_done) struct table t = {}, d = {};

        build_default(&d);
        build(&t, NULL, 0, allow, ELEMENTSOF(allow));
        cr_assert_eq(count_rules(t.rules, t.n, "ptrace"), 0);
        cr_assert_eq(count_rules(t.rules, t.n, "socket"), 0);
        cr_assert_eq(count_rules(t.rules, t.n, "clone3"), 0);
        cr_assert_eq(count_rules(t.rules, t.n, "socketpair"),
                     count_rules(d.rules, d.n, "socketpair"));
        cr_assert_eq(count_rules(t.rules, t.n, "process_vm_readv"), 1);
        cr_assert_eq(t.n, d.n - 1 - count_rules(d.rules, d.n, "socket") - 1);
        /* An allow also wins over a deny of the same name. */
        {
                static const char *const deny[] = { "ptrace", "mincore" };
                _cleanup_(table_done) struct table u = {};

                build(&u, deny, ELEMENTSOF(deny), allow, 1);
                cr_assert_eq(count_rules(u.rules, u.n, "ptrace"), 0);
                cr_assert_eq(count_rules(u.rules, u.n, "mincore"), 1);
        }
        /* Allowing a syscall the table does not filter changes nothing. */
        {
                static const char *const a2[] = { "read" };
                _cleanup_(table_done) struct table u = {};

                build(&u, NULL, 0, a2, 1);
                cr_assert_eq(u.n, d.n);
        }
}

Test(seccomp_table, bad_names_rejected) {
        static const char *const bad[] = {
                "", "Ptrace", "ptrace ", "a-b", "../x", "open\n", "sys/ptrace",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 */
        };
        struct caisson_syscall_rule *rules = NULL;
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct caisson_error err = {};
                const char *one[] = { bad[i] };

                cr_assert_not(syscall_name_valid(bad[i]), "'%s'", bad[i]);
                cr_assert_eq(syscall_table_build(one, 1, NULL, 0, &rules, &n, &err), -EINVAL);
                cr_assert_eq(err.layer, CAISSON_LAYER_POLICY);
                cr_assert_eq(err.code, CAISSON_REASON_POLICY_INVALID);
                cr_assert(strstr(err.msg, "seccomp.deny"), "%s", err.msg);
                cr_assert_null(strchr(err.msg, '\n'));
                cr_assert_eq(syscall_table_build(NULL, 0, one, 1, &rules, &n, &err), -EINVAL);
                cr_assert(strstr(err.msg, "seccomp.allow"), "%s", err.msg);
                cr_assert_null(rules);
        }
        {
                struct caisson_error err = {};
                const char *one[] = { NULL };

                cr_assert_eq(syscall_table_build(one, 1, NULL, 0, &rules, &n, &err), -EINVAL);
        }
        cr_assert(syscall_name_valid("ptrace"));
        cr_assert(syscall_name_valid("io_uring_setup"));
        cr_assert(syscall_name_valid("_llseek"));
        cr_assert(syscall_name_valid(
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 63 */
        cr_assert_not(syscall_name_valid(NULL));
}

/* ---- the filter: compile -------------------------------------------------------------- */

struct compiled {
        struct table t;
        struct syscall_filter f;
};

static void compiled_done(struct compiled *c) {
        table_done(&c->t);
        syscall_filter_done(&c->f);
}

static void compile_default(struct compiled *c) {
        struct caisson_error err = {};
        int r;

        build_default(&c->t);
        r = syscall_filter_compile(c->t.rules, c->t.n, &c->f, &err);
        cr_assert_eq(r, 0, "compile: %d %s", r, err.msg);
}

Test(syscall_filter, compiles_default_table) {
        _cleanup_(compiled_done) struct compiled c = {};

        compile_default(&c);
        cr_assert_not_null(c.f.main.filter);
        cr_assert_gt(c.f.main.len, 50);
        cr_assert_leq(c.f.main.len, BPF_MAXINSNS);
        cr_assert_not_null(c.f.ceiling.filter);
        cr_assert_gt(c.f.ceiling.len, 0);
        /* The program starts by checking the arch, as libseccomp's do. */
        cr_assert_eq(c.f.main.filter[0].code, BPF_LD | BPF_W | BPF_ABS);
        cr_assert_eq(c.f.main.filter[0].k, offsetof(struct seccomp_data, arch));
        cr_log_info("main filter: %u instructions for %zu rules", c.f.main.len, c.t.n);
}

Test(syscall_filter, unknown_name_fails_closed) {
        const struct caisson_syscall_rule rules[] = {
                { .name = "ptrace", .nr = -1, .action = CAISSON_SYSCALL_DENY },
                { .name = "nosuchsyscall", .nr = -1, .action = CAISSON_SYSCALL_DENY },
        };
        struct syscall_filter f = {};
        struct caisson_error err = {};

        cr_assert_eq(syscall_filter_compile(rules, ELEMENTSOF(rules), &f, &err), -EINVAL);
        cr_assert_eq(err.layer, CAISSON_LAYER_SECCOMP);
        cr_assert_eq(err.code, CAISSON_REASON_SYSCALL_UNKNOWN);
        cr_assert(strstr(err.msg, "'nosuchsyscall'"), "%s", err.msg);
        cr_assert_null(f.main.filter);
}

Test(syscall_filter, pseudo_syscall_of_other_arch_fails_closed) {
        /* socketcall exists on i386, not on x86_64: libseccomp answers a negative
         * pseudo-number, which must not become a silent no-op rule. */
        const struct caisson_syscall_rule rules[] = {
                { .name = "socketcall", .nr = -1, .action = CAISSON_SYSCALL_DENY },
        };
        struct syscall_filter f = {};
        struct caisson_error err = {};

        cr_assert_eq(syscall_filter_compile(rules, 1, &f, &err), -EINVAL);
        cr_assert(strstr(err.msg, "'socketcall'"), "%s", err.msg);
}

Test(syscall_filter, newer_names_resolve) {
        static const char *const deny[] = { "mseal", "cachestat", "listmount" };
        _cleanup_(table_done) struct table t = {};
        struct syscall_filter f = {};
        struct caisson_error err = {};
        char buf[64];

        build(&t, deny, ELEMENTSOF(deny), NULL, 0);
        cr_assert_eq(syscall_filter_compile(t.rules, t.n, &f, &err), 0, "%s", err.msg);
        syscall_filter_done(&f);
        cr_assert_null(f.main.filter);

        cr_assert_str_eq(syscall_filter_name(467, buf, sizeof buf), "open_tree_attr");
        cr_assert_str_eq(syscall_filter_name(SYS_getpid, buf, sizeof buf), "getpid");
        cr_assert_str_eq(syscall_filter_name(101, buf, sizeof buf), "ptrace");
        cr_assert_str_eq(syscall_filter_name(99999, buf, sizeof buf), "#99999");
}

Test(syscall_filter, above_ceiling_rule_refused) {
        const struct caisson_syscall_rule rules[] = {
                { .name = "future", .nr = SYSCALL_TABLE_MAX_REVIEWED_NR + 1,
                  .action = CAISSON_SYSCALL_DENY },
        };
        struct syscall_filter f = {};
        struct caisson_error err = {};

        cr_assert_eq(syscall_filter_compile(rules, 1, &f, &err), -EINVAL);
}

Test(syscall_filter, load_without_filter_refused) {
        struct syscall_filter f = {};
        struct caisson_error err = {};
        int fd = -1;

        cr_assert_eq(syscall_filter_load(&f, &fd, &err), -EINVAL);
        cr_assert_eq(fd, -1);
}

/* The exported main program, run in a small classic-BPF interpreter, must give exactly the
 * table's answer: this checks libseccomp's 64-bit argument code, not only our table. */
static uint32_t bpf_run(const struct sock_fprog *prog, const struct seccomp_data *d) {
        uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};

        for (unsigned pc = 0; pc < prog->len; pc++) {
                const struct sock_filter *f = &prog->filter[pc];
                uint32_t k = f->k, src = BPF_SRC(f->code) == BPF_X ? x : k;

                switch (BPF_CLASS(f->code)) {
                case BPF_LD:
                        if (f->code == (BPF_LD | BPF_W | BPF_ABS)) {
                                cr_assert_leq(k + 4, sizeof *d);
                                memcpy(&a, (const char *) d + k, 4);
                        } else if (f->code == (BPF_LD | BPF_MEM))
                                a = mem[k];
                        else if (f->code == (BPF_LD | BPF_IMM))
                                a = k;
                        else
                                cr_assert_fail("ld %#x", f->code);
                        break;
                case BPF_LDX:
                        if (f->code == (BPF_LDX | BPF_MEM))
                                x = mem[k];
                        else if (f->code == (BPF_LDX | BPF_IMM))
                                x = k;
                        else
                                cr_assert_fail("ldx %#x", f->code);
                        break;
                case BPF_ST:
                        mem[k] = a;
                        break;
                case BPF_STX:
                        mem[k] = x;
                        break;
                case BPF_ALU:
                        switch (BPF_OP(f->code)) {
                        case BPF_AND: a &= src; break;
                        case BPF_OR: a |= src; break;
                        case BPF_ADD: a += src; break;
                        case BPF_SUB: a -= src; break;
                        case BPF_RSH: a >>= src; break;
                        case BPF_LSH: a <<= src; break;
                        default: cr_assert_fail("alu %#x", f->code);
                        }
                        break;
                case BPF_JMP: {
                        bool t;

                        switch (BPF_OP(f->code)) {
                        case BPF_JA: pc += k; continue;
                        case BPF_JEQ: t = a == src; break;
                        case BPF_JGT: t = a > src; break;
                        case BPF_JGE: t = a >= src; break;
                        case BPF_JSET: t = (a & src) != 0; break;
                        default: cr_assert_fail("jmp %#x", f->code); t = false;
                        }
                        pc += t ? f->jt : f->jf;
                        break;
                }
                case BPF_RET:
                        return BPF_RVAL(f->code) == BPF_A ? a : k;
                case BPF_MISC:
                        if (BPF_MISCOP(f->code) == BPF_TAX)
                                x = a;
                        else
                                a = x;
                        break;
                default:
                        cr_assert_fail("op %#x", f->code);
                }
        }
        cr_assert_fail("fell off the program");
        return 0;
}

static uint32_t expected_ret(uint32_t action) {
        switch (action) {
        case CAISSON_SYSCALL_DENY:
                return SECCOMP_RET_USER_NOTIF;
        case CAISSON_SYSCALL_ENOSYS:
                return SECCOMP_RET_ERRNO | ENOSYS;
        default:
                return SECCOMP_RET_ALLOW;
        }
}

static uint64_t xorshift(uint64_t *s) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

Test(syscall_filter, bpf_agrees_with_table) {
        static const char *const calls[] = {
                "socket", "socketpair", "personality", "ioctl", "clone", "unshare", "ptrace",
                "clone3", "read", "memfd_create",
        };
        static const uint64_t interesting[] = {
                0, 1, 2, 3, 9, 10, 16, 17, 0x5412, 0x541c, 0x20000, 0x40000000, 0x80000000,
                0xfffffffe, 0xffffffff, UINT64_C(0x100000000), UINT64_C(0x100000002),
                UINT64_C(0x100005412), UINT64_C(0xffffffff00000010), UINT64_C(0xffffffffffffffff),
        };
        _cleanup_(compiled_done) struct compiled c = {};
        uint64_t seed = UINT64_C(0x9e3779b97f4a7c15);

        compile_default(&c);
        for (size_t i = 0; i < ELEMENTSOF(calls); i++) {
                int nr = seccomp_syscall_resolve_name(calls[i]);

                cr_assert_geq(nr, 0);
                for (unsigned round = 0; round < 20000; round++) {
                        struct seccomp_data d = { .nr = nr, .arch = AUDIT_ARCH_X86_64 };
                        uint32_t got, want;

                        for (unsigned k = 0; k < 3; k++) {
                                uint64_t r = xorshift(&seed);

                                /* Mix special values, small values and random ones. */
                                if (r % 4 == 0)
                                        d.args[k] = interesting[(r >> 8) % ELEMENTSOF(interesting)];
                                else if (r % 4 == 1)
                                        d.args[k] = (r >> 8) % 64;
                                else if (r % 4 == 2)
                                        d.args[k] = ((r >> 8) % 64) | (xorshift(&seed) << 32);
                                else
                                        d.args[k] = xorshift(&seed);
                        }
                        got = bpf_run(&c.f.main, &d);
                        want = expected_ret(eval(c.t.rules, c.t.n, calls[i], d.args[0], d.args[1],
                                                 d.args[2]));
                        cr_assert_eq(got, want, "%s(%#llx, %#llx, %#llx): %#x, table says %#x",
                                     calls[i], (unsigned long long) d.args[0],
                                     (unsigned long long) d.args[1],
                                     (unsigned long long) d.args[2], got, want);
                }
        }

        /* Foreign arch: killed; the ceiling: x32 killed, above the reviewed range ENOSYS. */
        {
                struct seccomp_data d = { .nr = 20, .arch = AUDIT_ARCH_I386 };

                cr_assert_eq(bpf_run(&c.f.main, &d), SECCOMP_RET_KILL_PROCESS);
                cr_assert_eq(bpf_run(&c.f.ceiling, &d), SECCOMP_RET_KILL_PROCESS);
                d = (struct seccomp_data) { .nr = 0x40000000 | 39, .arch = AUDIT_ARCH_X86_64 };
                cr_assert_eq(bpf_run(&c.f.ceiling, &d), SECCOMP_RET_KILL_PROCESS);
                d.nr = SYSCALL_TABLE_MAX_REVIEWED_NR + 1;
                cr_assert_eq(bpf_run(&c.f.ceiling, &d), SECCOMP_RET_ERRNO | ENOSYS);
                d.nr = SYSCALL_TABLE_MAX_REVIEWED_NR;
                cr_assert_eq(bpf_run(&c.f.ceiling, &d), SECCOMP_RET_ALLOW);
                d.nr = 0;
                cr_assert_eq(bpf_run(&c.f.ceiling, &d), SECCOMP_RET_ALLOW);
        }
}

/* ---- the filter: behaviour in a child ------------------------------------------------- */

/* A probe returns the errno of the call (0 on success). Run once outside any filter (the
 * positive control) and once in a filtered child. */
typedef int (*probe_fn)(void);

static int errno_of(long r) {
        return r < 0 ? errno : 0;
}

#define MAX_PROBES 32
#define MAX_EVENTS 32

struct run {
        int n_probes;
        int result[MAX_PROBES];
        int n_events;
        struct caisson_event events[MAX_EVENTS];
        int status;
        pid_t pid;
};

static int send_fd(int sock, int fd) {
        char data = 'L';
        struct iovec iov = { .iov_base = &data, .iov_len = 1 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } ctl = {};
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                              .msg_controllen = sizeof ctl.buf };
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
        return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

static int recv_fd(int sock) {
        char data;
        struct iovec iov = { .iov_base = &data, .iov_len = 1 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } ctl = {};
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                              .msg_controllen = sizeof ctl.buf };
        struct cmsghdr *c;
        int fd;

        if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
                return -1;
        c = CMSG_FIRSTHDR(&msg);
        if (!c || c->cmsg_type != SCM_RIGHTS)
                return -1;
        memcpy(&fd, CMSG_DATA(c), sizeof fd);
        return fd;
}

/* Child: no_new_privs, load, hand the listener to the parent, run the probes, report each
 * errno as an int. Only syscalls the filter allows are made after the load. */
static _noreturn_ void child_main(const struct syscall_filter *f, int sock, const probe_fn *probes,
                                  int n) {
        struct caisson_error err = {};
        int listener = -1;

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                _exit(120);
        if (syscall_filter_load(f, &listener, &err) < 0)
                _exit(121);
        if (send_fd(sock, listener) < 0)
                _exit(122);
        (void) close(listener);
        for (int i = 0; i < n; i++) {
                int e = probes[i]();

                if (write(sock, &e, sizeof e) != sizeof e)
                        _exit(123);
        }
        _exit(0);
}

static void run_filtered(const probe_fn *probes, int n, struct run *ret) {
        _cleanup_(compiled_done) struct compiled c = {};
        _cleanup_close_ int listener = -1;
        int sv[2];

        cr_assert_leq(n, MAX_PROBES);
        compile_default(&c);
        *ret = (struct run) {};
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);

        ret->pid = fork();
        cr_assert_geq(ret->pid, 0);
        if (ret->pid == 0) {
                (void) close(sv[0]);
                child_main(&c.f, sv[1], probes, n);
        }
        (void) close(sv[1]);

        listener = recv_fd(sv[0]);
        cr_assert_geq(listener, 0, "no listener from the child");

        /* Answer notifications until every probe result is in and the child closed. */
        for (;;) {
                struct pollfd p[2] = { { .fd = listener, .events = POLLIN },
                                       { .fd = sv[0], .events = POLLIN } };

                cr_assert_geq(poll(p, 2, 10000), 1, "child stuck");
                if (p[0].revents & POLLIN) {
                        struct caisson_event ev;
                        struct caisson_error err = {};
                        int r = syscall_filter_handle(listener, &ev, &err);

                        cr_assert_geq(r, 0, "handle: %s", err.msg);
                        if (r == 1 && ret->n_events < MAX_EVENTS)
                                ret->events[ret->n_events++] = ev;
                        continue;
                }
                if (p[1].revents & (POLLIN | POLLHUP)) {
                        int e;
                        ssize_t k = read(sv[0], &e, sizeof e);

                        if (k == 0)
                                break;
                        cr_assert_eq(k, sizeof e);
                        cr_assert_lt(ret->n_probes, MAX_PROBES);
                        ret->result[ret->n_probes++] = e;
                }
        }
        (void) close(sv[0]);
        cr_assert_eq(waitpid(ret->pid, &ret->status, 0), ret->pid);
}

static const struct caisson_event *find_event(const struct run *r, const char *name) {
        for (int i = 0; i < r->n_events; i++)
                if (streq(r->events[i].syscall, name))
                        return &r->events[i];
        return NULL;
}

static void assert_clean_exit(const struct run *r) {
        cr_assert(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0, "child status %#x",
                  r->status);
}

/* Runs probe outside (positive control, must reach the kernel: control_errno) and inside
 * (inside_errno), and checks whether an event named `event` was produced. */
struct expect {
        probe_fn fn;
        const char *what;
        int control_errno; /* -1: not checked (e.g. would need root) */
        int inside_errno;
        const char *event; /* NULL: no event expected */
};

static void check(const struct expect *ex, size_t n) {
        probe_fn fns[MAX_PROBES];
        struct run r;
        char self[4096] = "";

        cr_assert_leq(n, MAX_PROBES);
        for (size_t i = 0; i < n; i++) {
                fns[i] = ex[i].fn;
                if (ex[i].control_errno >= 0) {
                        int e = ex[i].fn();

                        cr_assert_eq(e, ex[i].control_errno, "%s outside: %s", ex[i].what,
                                     strerror(e));
                }
        }

        run_filtered(fns, (int) n, &r);
        assert_clean_exit(&r);
        cr_assert_eq(r.n_probes, (int) n);
        cr_assert_gt(readlink("/proc/self/exe", self, sizeof self - 1), 0);

        for (size_t i = 0; i < n; i++) {
                cr_assert_eq(r.result[i], ex[i].inside_errno, "%s inside: %s (want %s)",
                             ex[i].what, strerror(r.result[i]), strerror(ex[i].inside_errno));
                if (ex[i].event) {
                        const struct caisson_event *ev = find_event(&r, ex[i].event);

                        cr_assert_not_null(ev, "%s: no event '%s'", ex[i].what, ex[i].event);
                        cr_assert_eq(ev->kind, CAISSON_EVENT_SYSCALL_DENIED);
                        cr_assert_eq(ev->reason, CAISSON_REASON_SYSCALL_DENIED);
                        cr_assert_eq(ev->pid, r.pid);
                        cr_assert_str_eq(ev->binary, self);
                }
        }
        /* Exactly the expected events, no more. */
        {
                int want = 0;

                for (size_t i = 0; i < n; i++)
                        want += ex[i].event != NULL;
                cr_assert_eq(r.n_events, want, "%d events, want %d", r.n_events, want);
        }
}

static int pipe_fd(void) {
        static int fds[2] = { -1, -1 };

        if (fds[0] < 0)
                cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
        return fds[0];
}

static int p_ptrace(void) {
        /* pid 0 is never traceable: ESRCH from the kernel. */
        return errno_of(ptrace(PTRACE_PEEKDATA, 0, NULL, NULL));
}
static int p_keyctl(void) {
        return errno_of(syscall(SYS_keyctl, -1, 0, 0, 0, 0));
}
static int p_bpf(void) {
        return errno_of(syscall(SYS_bpf, -1, NULL, 0));
}
static int p_setns(void) {
        return errno_of(syscall(SYS_setns, -1, 0));
}
static int p_open_tree_attr(void) {
        return errno_of(syscall(467, -1, NULL, 0, NULL, 0));
}
static int p_tiocsti(void) {
        char c = 'x';

        return errno_of(ioctl(pipe_fd(), TIOCSTI, &c));
}
static int p_tiocsti_high(void) {
        char c = 'x';

        return errno_of(syscall(SYS_ioctl, pipe_fd(), UINT64_C(0x100005412), &c));
}
static int p_tioclinux(void) {
        char c = 0;

        return errno_of(ioctl(pipe_fd(), TIOCLINUX, &c));
}
static int p_fionread(void) {
        int n = 0;

        return errno_of(ioctl(pipe_fd(), FIONREAD, &n));
}
static int p_tcgets(void) {
        struct termios t;

        return errno_of(ioctl(pipe_fd(), TCGETS, &t));
}

Test(syscall_filter, denied_get_eperm_and_event) {
        const struct expect ex[] = {
                { p_ptrace, "ptrace", ESRCH, EPERM, "ptrace" },
                { p_keyctl, "keyctl", EOPNOTSUPP, EPERM, "keyctl" },
                { p_bpf, "bpf", -1 /* EINVAL or EPERM by sysctl */, EPERM, "bpf" },
                { p_setns, "setns", EBADF, EPERM, "setns" },
                { p_open_tree_attr, "open_tree_attr (by number)", -1, EPERM, "open_tree_attr" },
        };

        check(ex, ELEMENTSOF(ex));
}

Test(syscall_filter, open_tree_attr_reaches_kernel_outside) {
        /* 467 exists on this kernel (6.15+): outside, it fails on its arguments. */
        int e = p_open_tree_attr();

        if (e == ENOSYS)
                cr_skip_test("kernel without open_tree_attr");
        cr_assert(e == EBADF || e == EFAULT || e == EINVAL, "%s", strerror(e));
}

Test(syscall_filter, ioctl_tiocsti_low_32_bits) {
        const struct expect ex[] = {
                { p_tiocsti, "TIOCSTI", ENOTTY, EPERM, "ioctl" },
                { p_tiocsti_high, "TIOCSTI | 1 << 32", ENOTTY, EPERM, "ioctl" },
                { p_tioclinux, "TIOCLINUX", ENOTTY, EPERM, "ioctl" },
                { p_fionread, "FIONREAD", 0, 0, NULL },
                { p_tcgets, "TCGETS", ENOTTY, ENOTTY, NULL },
        };

        check(ex, ELEMENTSOF(ex));
}

static int p_clone3(void) {
        return errno_of(syscall(SYS_clone3, NULL, 0));
}
static int p_io_uring_setup(void) {
        return errno_of(syscall(SYS_io_uring_setup, 0, NULL));
}
static int p_above_ceiling(void) {
        /* file_getattr on 6.17+: beyond the reviewed range, ENOSYS even where it exists. */
        return errno_of(syscall(SYSCALL_TABLE_MAX_REVIEWED_NR + 1, -1, NULL, NULL, 0, 0));
}
static int p_500(void) {
        return errno_of(syscall(500, 0, 0, 0));
}
static int p_memfd(void) {
        int fd = memfd_create("probe", MFD_CLOEXEC);

        if (fd < 0)
                return errno;
        (void) close(fd);
        return 0;
}

Test(syscall_filter, enosys_and_ceiling) {
        const struct expect ex[] = {
                { p_clone3, "clone3(NULL, 0)", EINVAL, ENOSYS, NULL },
                { p_io_uring_setup, "io_uring_setup", -1, ENOSYS, NULL },
                { p_above_ceiling, "nr above reviewed", -1, ENOSYS, NULL },
                { p_500, "nr 500", ENOSYS, ENOSYS, NULL },
                { p_memfd, "memfd_create", 0, 0, NULL },
        };

        check(ex, ELEMENTSOF(ex));
        /* The ceiling, not the kernel, answered: outside, the next syscall number exists
         * on this kernel (file_getattr, 6.17) and fails on its arguments. */
        if (p_above_ceiling() == ENOSYS)
                cr_log_warn("kernel lacks syscall %d: ceiling test without positive control",
                            SYSCALL_TABLE_MAX_REVIEWED_NR + 1);
}

static int p_socket(int family, int type, int protocol) {
        int fd = socket(family, type | SOCK_CLOEXEC, protocol);

        if (fd < 0)
                return errno;
        (void) close(fd);
        return 0;
}
static int p_sock_packet_badtype(void) {
        /* An invalid type fails in __sock_create before any capability check: EINVAL. */
        return p_socket(AF_PACKET, 15, 0);
}
static int p_sock_packet_high(void) {
        return errno_of(syscall(SYS_socket, UINT64_C(0x100000000) | AF_PACKET, 15, 0));
}
static int p_sock_vsock_badtype(void) {
        return p_socket(AF_VSOCK, 15, 0);
}
static int p_sock_inet_stream(void) {
        return p_socket(AF_INET, SOCK_STREAM, 0);
}
static int p_sock_inet6_dgram(void) {
        return p_socket(AF_INET6, SOCK_DGRAM, 0);
}
static int p_sock_inet_raw(void) {
        return p_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
}
static int p_sock_netlink_route(void) {
        return p_socket(AF_NETLINK, SOCK_RAW, 0 /* NETLINK_ROUTE */);
}
static int p_sock_netlink_audit(void) {
        return p_socket(AF_NETLINK, SOCK_RAW, 9 /* NETLINK_AUDIT */);
}
static int p_socketpair_unix(void) {
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return errno;
        (void) close(sv[0]);
        (void) close(sv[1]);
        return 0;
}
static int p_socketpair_inet(void) {
        int sv[2];

        return errno_of(socketpair(AF_INET, SOCK_STREAM, 0, sv)); /* EOPNOTSUPP outside */
}
static int p_socketpair_packet(void) {
        int sv[2];

        return errno_of(socketpair(AF_PACKET, 15, 0, sv));
}

Test(syscall_filter, socket_families) {
        const struct expect ex[] = {
                { p_sock_packet_badtype, "AF_PACKET", EINVAL, EPERM, "socket" },
                { p_sock_packet_high, "AF_PACKET | 1 << 32", EINVAL, EPERM, "socket" },
                { p_sock_vsock_badtype, "AF_VSOCK", EINVAL, EPERM, "socket" },
                { p_sock_inet_raw, "AF_INET SOCK_RAW", -1 /* root: 0 */, EPERM, "socket" },
                { p_sock_netlink_audit, "NETLINK_AUDIT", -1, EPERM, "socket" },
                { p_sock_inet_stream, "AF_INET stream", 0, 0, NULL },
                { p_sock_inet6_dgram, "AF_INET6 dgram", -1 /* no ipv6 possible */, 0, NULL },
                { p_sock_netlink_route, "NETLINK_ROUTE", 0, 0, NULL },
                { p_socketpair_unix, "socketpair AF_UNIX", 0, 0, NULL },
                { p_socketpair_inet, "socketpair AF_INET", EOPNOTSUPP, EOPNOTSUPP, NULL },
                { p_socketpair_packet, "socketpair AF_PACKET", EINVAL, EPERM, "socketpair" },
        };

        if (p_sock_inet6_dgram() != 0)
                cr_skip_test("no IPv6 sockets on this host");
        check(ex, ELEMENTSOF(ex));
}

static int p_personality_query(void) {
        return errno_of(personality(0xffffffff));
}
static int p_personality_default(void) {
        return errno_of(personality(PER_LINUX));
}
static int p_personality_query_high(void) {
        return errno_of(syscall(SYS_personality, UINT64_C(0xffffffffffffffff)));
}
static int p_personality_no_aslr(void) {
        return errno_of(personality(ADDR_NO_RANDOMIZE));
}
static int p_unshare_none(void) {
        return errno_of(unshare(0));
}
static int p_unshare_user(void) {
        return errno_of(unshare(CLONE_NEWUSER));
}
static int p_unshare_net_high(void) {
        return errno_of(syscall(SYS_unshare, (UINT64_C(1) << 40) | CLONE_NEWNET));
}
static int p_clone_newpid(void) {
        long r = syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, 0);

        if (r == 0)
                _exit(0); /* the filter failed: the test fails on the result */
        if (r > 0) {
                (void) waitpid((pid_t) r, NULL, 0);
                return 0;
        }
        return errno;
}
static int p_fork(void) {
        pid_t pid = fork(); /* glibc: clone, no namespace flags */

        if (pid == 0)
                _exit(0);
        if (pid < 0)
                return errno;
        return waitpid(pid, NULL, 0) == pid ? 0 : errno;
}
static void *thread_fn(void *p) {
        return p;
}
static int p_pthread(void) {
        pthread_t t;
        int r = pthread_create(&t, NULL, thread_fn, NULL); /* clone3 → ENOSYS → clone */

        if (r != 0)
                return r;
        return pthread_join(t, NULL);
}

Test(syscall_filter, personality_unshare_clone) {
        const struct expect ex[] = {
                { p_personality_query, "personality(0xffffffff)", 0, 0, NULL },
                { p_personality_default, "personality(0)", 0, 0, NULL },
                { p_personality_query_high, "personality(-1)", 0, 0, NULL },
                { p_personality_no_aslr, "personality(ADDR_NO_RANDOMIZE)", -1, EPERM,
                  "personality" },
                { p_unshare_none, "unshare(0)", 0, 0, NULL },
                { p_unshare_user, "unshare(CLONE_NEWUSER)", -1, EPERM, "unshare" },
                { p_unshare_net_high, "unshare(CLONE_NEWNET | 1 << 40)", -1, EPERM, "unshare" },
                { p_clone_newpid, "clone(CLONE_NEWPID)", -1, EPERM, "clone" },
                { p_fork, "fork", 0, 0, NULL },
                { p_pthread, "pthread_create", 0, 0, NULL },
        };

        check(ex, ELEMENTSOF(ex));
}

/* Runs fn in a filtered child that is expected to be killed by SIGSYS. */
static void expect_killed(void (*fn)(void)) {
        _cleanup_(compiled_done) struct compiled c = {};
        int status;
        pid_t pid;

        compile_default(&c);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct caisson_error err = {};
                struct rlimit no_core = {};
                int listener = -1;

                (void) setrlimit(RLIMIT_CORE, &no_core);
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                    syscall_filter_load(&c.f, &listener, &err) < 0)
                        _exit(121);
                fn();
                _exit(0);
        }
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "status %#x", status);
}

static void x32_getpid(void) {
        (void) syscall(0x40000000 | 39);
}

static void i386_getpid(void) {
        long r = 20; /* __NR_getpid on i386 */

        __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
}

Test(syscall_filter, x32_killed) {
        expect_killed(x32_getpid);
}

Test(syscall_filter, i386_killed) {
        expect_killed(i386_getpid);
}

Test(syscall_filter, nested_listener_ebusy) {
        /* A second NEW_LISTENER in the same chain fails with EBUSY (DESIGN §3): an agent's own
         * seccomp filter without a listener still loads. */
        _cleanup_(compiled_done) struct compiled c = {};
        int status;
        pid_t pid;

        compile_default(&c);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct caisson_error err = {};
                int listener = -1;

                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                    syscall_filter_load(&c.f, &listener, &err) < 0)
                        _exit(121);
                if (syscall_filter_load(&c.f, &listener, &err) != -EBUSY)
                        _exit(122);
                if (filter_sys_seccomp(SECCOMP_SET_MODE_FILTER, 0, &c.f.ceiling) < 0)
                        _exit(123);
                _exit(0);
        }
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
}

Test(syscall_filter, handle_vanished_notification) {
        /* The caller is killed while its notification waits: RECV or SEND answers ENOENT,
         * which is 0 (no event), not an error. */
        _cleanup_(compiled_done) struct compiled c = {};
        _cleanup_close_ int listener = -1;
        struct caisson_event ev;
        struct caisson_error err = {};
        struct pollfd p;
        int sv[2], r;
        pid_t pid;

        compile_default(&c);
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                int l = -1;

                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                    syscall_filter_load(&c.f, &l, &err) < 0 || send_fd(sv[1], l) < 0)
                        _exit(121);
                (void) p_ptrace(); /* blocks until answered */
                _exit(0);
        }
        (void) close(sv[1]);
        listener = recv_fd(sv[0]);
        cr_assert_geq(listener, 0);
        p = (struct pollfd) { .fd = listener, .events = POLLIN };
        cr_assert_eq(poll(&p, 1, 10000), 1);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        cr_assert_eq(waitpid(pid, NULL, 0), pid);
        r = syscall_filter_handle(listener, &ev, &err);
        cr_assert_eq(r, 0, "%d %s", r, err.msg);
        (void) close(sv[0]);
}

/* The BPF generated at build time for the default table is exactly what libseccomp makes
 * of that table now; any other table (a policy deny) is compiled afresh. */
Test(syscall_filter, prebuilt_default_matches_fresh_compile) {
        struct caisson_error err = {};
        struct caisson_syscall_rule *rules = NULL, *more = NULL;
        size_t n = 0, n_more = 0;
        struct syscall_filter pre = {}, fresh = {}, other = {};
        const char *deny[] = { "io_setup" };

        cr_assert_eq(syscall_table_build(NULL, 0, NULL, 0, &rules, &n, &err), 0, "%s", err.msg);
        cr_assert_eq(n, default_filter_rules);
        cr_assert_eq(syscall_filter_fingerprint(rules, n), default_filter_fingerprint);
        cr_assert_eq(syscall_filter_compile(rules, n, &pre, &err), 0, "%s", err.msg);
        cr_assert_eq(syscall_filter_compile_fresh(rules, n, &fresh, &err), 0, "%s", err.msg);
        cr_assert_eq(pre.main.len, fresh.main.len);
        cr_assert_eq(pre.ceiling.len, fresh.ceiling.len);
        cr_assert(memcmp(pre.main.filter, fresh.main.filter,
                         fresh.main.len * sizeof(struct sock_filter)) == 0);
        cr_assert(memcmp(pre.ceiling.filter, fresh.ceiling.filter,
                         fresh.ceiling.len * sizeof(struct sock_filter)) == 0);

        cr_assert_eq(syscall_table_build(deny, 1, NULL, 0, &more, &n_more, &err), 0, "%s", err.msg);
        cr_assert_neq(syscall_filter_fingerprint(more, n_more), default_filter_fingerprint);
        cr_assert_eq(syscall_filter_compile(more, n_more, &other, &err), 0, "%s", err.msg);
        cr_assert(other.main.len != pre.main.len ||
                  memcmp(other.main.filter, pre.main.filter,
                         pre.main.len * sizeof(struct sock_filter)) != 0,
                  "a policy deny must change the filter");
        syscall_filter_done(&pre);
        syscall_filter_done(&fresh);
        syscall_filter_done(&other);
        free(rules);
        free(more);
}

/* ---- observed connect() (egress: who connected a socket) -------------------------------- */

static void build_observe(struct table *t, const char *const *deny, size_t n_deny,
                          const char *const *allow, size_t n_allow) {
        struct caisson_error err = {};
        int r = syscall_table_build_ex(deny, n_deny, allow, n_allow,
                                       SYSCALL_TABLE_OBSERVE_CONNECT, &t->rules, &t->n, &err);

        cr_assert_eq(r, 0, "syscall_table_build_ex: %d %s", r, err.msg);
}

/* connect() always, and the three sends only with MSG_FASTOPEN (their flags argument);
 * nothing without the flag. */
Test(seccomp_table, observe_connect_rules) {
        struct table t = {}, plain = {};
        const struct { const char *name; uint32_t index; } sends[] = {
                { "sendto", 3 }, { "sendmsg", 2 }, { "sendmmsg", 3 },
        };
        const struct caisson_syscall_rule *r;

        build_observe(&t, NULL, 0, NULL, 0);
        build_default(&plain);
        cr_assert_eq(t.n, plain.n + 4);
        r = find_rule(t.rules, t.n, "connect");
        cr_assert_not_null(r);
        cr_assert_eq(r->action, CAISSON_SYSCALL_OBSERVE);
        cr_assert_eq(r->args[0].op, CAISSON_CMP_NONE);
        for (size_t i = 0; i < ELEMENTSOF(sends); i++) {
                r = find_rule(t.rules, t.n, sends[i].name);
                cr_assert_not_null(r, "%s", sends[i].name);
                cr_assert_eq(r->action, CAISSON_SYSCALL_OBSERVE);
                cr_assert_eq(r->args[0].op, CAISSON_CMP_MASKED_EQ);
                cr_assert_eq(r->args[0].index, sends[i].index, "%s", sends[i].name);
                cr_assert_eq(r->args[0].mask, 0x20000000ULL);
                cr_assert_eq(r->args[0].value, 0x20000000ULL);
                cr_assert_eq(r->args[1].op, CAISSON_CMP_NONE);
                cr_assert_null(find_rule(plain.rules, plain.n, sends[i].name));
        }
        cr_assert_null(find_rule(plain.rules, plain.n, "connect"));
        table_done(&t);
        table_done(&plain);
}

/* A denied connect stays a denial (one rule); an allowed one is still observed: the allow
 * list lifts denials, it does not stop the record. */
Test(seccomp_table, observe_yields_to_deny_not_to_allow) {
        struct table t = {};
        const char *deny[] = { "connect" }, *allow[] = { "connect", "sendto" };

        build_observe(&t, deny, 1, NULL, 0);
        cr_assert_eq(count_rules(t.rules, t.n, "connect"), 1);
        cr_assert_eq(find_rule(t.rules, t.n, "connect")->action, CAISSON_SYSCALL_DENY);
        cr_assert_eq(find_rule(t.rules, t.n, "sendto")->action, CAISSON_SYSCALL_OBSERVE);
        table_done(&t);

        build_observe(&t, NULL, 0, allow, 2);
        cr_assert_eq(find_rule(t.rules, t.n, "connect")->action, CAISSON_SYSCALL_OBSERVE);
        cr_assert_eq(find_rule(t.rules, t.n, "sendto")->action, CAISSON_SYSCALL_OBSERVE);
        table_done(&t);
}

/* The build-time BPF of the observed table is what libseccomp makes of it now. */
Test(syscall_filter, prebuilt_observe_matches_fresh_compile) {
        struct caisson_error err = {};
        struct table t = {};
        struct syscall_filter pre = {}, fresh = {};

        build_observe(&t, NULL, 0, NULL, 0);
        cr_assert_eq(t.n, observe_filter_rules);
        cr_assert_eq(syscall_filter_fingerprint(t.rules, t.n), observe_filter_fingerprint);
        cr_assert_eq(prebuilt(t.rules, t.n, &pre), 1);
        cr_assert_eq(syscall_filter_compile_fresh(t.rules, t.n, &fresh, &err), 0, "%s", err.msg);
        cr_assert_eq(pre.main.len, fresh.main.len);
        cr_assert(memcmp(pre.main.filter, fresh.main.filter,
                         fresh.main.len * sizeof(struct sock_filter)) == 0);
        syscall_filter_done(&pre);
        syscall_filter_done(&fresh);
        table_done(&t);
}

/* Waits for the next notification on listener and handles it as the native backend does. */
static int observe_next(int listener, const int *nrs, size_t n_nrs, uint64_t *held,
                        struct caisson_event *ev) {
        struct caisson_error err = {};
        struct pollfd p = { .fd = listener, .events = POLLIN };
        int r;

        cr_assert_eq(poll(&p, 1, 10000), 1, "no notification");
        r = syscall_filter_handle_observe(listener, nrs, n_nrs, held, NULL, NULL, ev, &err);
        cr_assert_geq(r, 0, "%d %s", r, err.msg);
        return r;
}

/* Child side: a new TCP socket, its inode written to fd; -1 on failure. */
static int told_socket(int fd) {
        struct stat st;
        int s = socket(AF_INET, SOCK_STREAM, 0);

        if (s < 0 || fstat(s, &st) < 0 || write(fd, &(uint32_t) { (uint32_t) st.st_ino }, 4) != 4)
                return -1;
        return s;
}

/* The kernel path: a connect() on a TCP socket is reported with the socket's inode and
 * held until syscall_filter_continue() (the listener sees no connection meanwhile), then
 * goes on; a connect() on a pipe, and a send without MSG_FASTOPEN, are not held. */
Test(syscall_filter, observe_connect_holds_until_continue) {
        _cleanup_(compiled_done) struct compiled c = {};
        _cleanup_close_ int listener = -1, srv = -1;
        struct caisson_error err = {};
        struct caisson_event ev;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t al = sizeof a;
        int nrs[4], sv[2], info[2], status;
        size_t n_nrs;
        uint64_t held = 0;
        uint32_t ino = 0;
        struct pollfd p;
        pid_t pid;

        build_observe(&c.t, NULL, 0, NULL, 0);
        cr_assert_eq(syscall_filter_compile(c.t.rules, c.t.n, &c.f, &err), 0, "%s", err.msg);
        n_nrs = syscall_filter_observed(c.t.rules, c.t.n, nrs, ELEMENTSOF(nrs));
        cr_assert_eq(n_nrs, 4);
        srv = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(srv, 0);
        cr_assert_eq(bind(srv, (struct sockaddr *) &a, sizeof a), 0);
        cr_assert_eq(listen(srv, 4), 0);
        cr_assert_eq(getsockname(srv, (struct sockaddr *) &a, &al), 0);
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        cr_assert_eq(pipe2(info, O_CLOEXEC), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                int l = -1, s, u, pp[2];

                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                    syscall_filter_load(&c.f, &l, &err) < 0 || send_fd(sv[1], l) < 0)
                        _exit(121);
                if (pipe(pp) < 0 || connect(pp[0], (struct sockaddr *) &a, sizeof a) == 0 ||
                    errno != ENOTSOCK)
                        _exit(122);
                u = socket(AF_INET, SOCK_DGRAM, 0);
                if (u < 0 || sendto(u, "x", 1, 0, (struct sockaddr *) &a, sizeof a) != 1)
                        _exit(123);
                if ((s = told_socket(info[1])) < 0)
                        _exit(124);
                if (connect(s, (struct sockaddr *) &a, sizeof a) < 0)
                        _exit(125);
                if ((s = told_socket(info[1])) < 0)
                        _exit(126);
                if (sendto(s, "x", 1, MSG_FASTOPEN, (struct sockaddr *) &a, sizeof a) != 1)
                        _exit(127);
                _exit(0);
        }
        (void) close(sv[1]);
        (void) close(info[1]);
        listener = recv_fd(sv[0]);
        cr_assert_geq(listener, 0);
        /* The pipe's connect: answered at once, nothing held, no event. */
        cr_assert_eq(observe_next(listener, nrs, n_nrs, &held, &ev), 0);
        cr_assert_eq(read(info[0], &ino, 4), 4);
        /* The TCP connect: reported and held. */
        cr_assert_eq(observe_next(listener, nrs, n_nrs, &held, &ev), 1);
        cr_assert_eq(ev.kind, CAISSON_EVENT_CONNECT);
        cr_assert_eq(ev.pid, pid);
        cr_assert_eq(ev.sock_ino, ino);
        cr_assert_str_eq(ev.syscall, "connect");
        p = (struct pollfd) { .fd = srv, .events = POLLIN };
        cr_assert_eq(poll(&p, 1, 200), 0, "the connection was made while held");
        cr_assert_eq(syscall_filter_continue(listener, held), 0);
        cr_assert_eq(poll(&p, 1, 10000), 1, "the connection never came after the answer");
        /* The Fast Open send: reported as sendto, on its own socket. */
        cr_assert_eq(read(info[0], &ino, 4), 4);
        cr_assert_eq(observe_next(listener, nrs, n_nrs, &held, &ev), 1);
        cr_assert_eq(ev.sock_ino, ino);
        cr_assert_str_eq(ev.syscall, "sendto");
        cr_assert_eq(syscall_filter_continue(listener, held), 0);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
        (void) close(sv[0]);
        (void) close(info[0]);
}

/* A held caller that dies before it is let go: the answer says so (1), which the native
 * backend reports as CAISSON_EVENT_CONNECT_ABANDONED. */
Test(syscall_filter, observe_caller_gone_before_continue) {
        _cleanup_(compiled_done) struct compiled c = {};
        _cleanup_close_ int listener = -1;
        struct caisson_error err = {};
        struct caisson_event ev;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int nrs[4], sv[2];
        size_t n_nrs;
        uint64_t held = 0;
        pid_t pid;

        build_observe(&c.t, NULL, 0, NULL, 0);
        cr_assert_eq(syscall_filter_compile(c.t.rules, c.t.n, &c.f, &err), 0, "%s", err.msg);
        n_nrs = syscall_filter_observed(c.t.rules, c.t.n, nrs, ELEMENTSOF(nrs));
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                int l = -1, s;

                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                    syscall_filter_load(&c.f, &l, &err) < 0 || send_fd(sv[1], l) < 0)
                        _exit(121);
                s = socket(AF_INET, SOCK_STREAM, 0);
                (void) connect(s, (struct sockaddr *) &a, sizeof a);
                _exit(0);
        }
        (void) close(sv[1]);
        listener = recv_fd(sv[0]);
        cr_assert_geq(listener, 0);
        cr_assert_eq(observe_next(listener, nrs, n_nrs, &held, &ev), 1);
        cr_assert_eq(ev.kind, CAISSON_EVENT_CONNECT);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        cr_assert_eq(waitpid(pid, NULL, 0), pid);
        cr_assert_eq(syscall_filter_continue(listener, held), 1);
        (void) close(sv[0]);
}
