/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The default seccomp denylist, as data (DESIGN §3).
 *
 * Compared with Docker's default profile, systemd's @mount/@privileged/@obsolete/@clock
 * groups, Flatpak's and OpenShell's denylists. Default allow: the filter stops escape
 * primitives, and the other layers (namespaces, Landlock, no capabilities) carry the rest.
 *
 * How arguments are matched, and why it matters:
 * - Conditions of one rule are ANDed; rules are ORed. A "not in {a, b}" test is therefore
 *   written as several rules that together cover every other value (cover_low32() below).
 * - Where the kernel takes an int or unsigned int, it ignores the upper 32 bits of the
 *   register, but seccomp sees all 64. A rule that compared 64 bits (EQ 0x5412, or a GE/LT
 *   range) would be bypassed by setting the high bits: Flatpak's CVE-2019-10063 (TIOCSTI as
 *   0x100005412). So every argument the kernel truncates is matched with MASKED_EQ and a mask
 *   inside the low 32 bits, never with EQ, NE, GE, GT or LT.
 *
 * No libseccomp here: syscall-filter.c turns the table into BPF, and fails closed on a
 * name it cannot resolve. Syscalls newer than libseccomp 2.5.4 (kernel 5.17) carry their
 * x86_64 number. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "macro.h"
#include "policy/seccomp-table.h"

#define LOW32 UINT64_C(0xffffffff)

/* <linux/sched.h> values, spelled here so this file needs no kernel header. */
#define CS_CLONE_NEWTIME UINT64_C(0x00000080)
#define CS_CLONE_NEWNS UINT64_C(0x00020000)
#define CS_CLONE_NEWCGROUP UINT64_C(0x02000000)
#define CS_CLONE_NEWUTS UINT64_C(0x04000000)
#define CS_CLONE_NEWIPC UINT64_C(0x08000000)
#define CS_CLONE_NEWUSER UINT64_C(0x10000000)
#define CS_CLONE_NEWPID UINT64_C(0x20000000)
#define CS_CLONE_NEWNET UINT64_C(0x40000000)

#define CS_AF_UNIX 1
#define CS_AF_INET 2
#define CS_AF_INET6 10
#define CS_AF_NETLINK 16
#define CS_SOCK_RAW 3
#define CS_SOCK_TYPE_MASK 0xf
#define CS_NETLINK_ROUTE 0

#define CS_TIOCSTI 0x5412
#define CS_TIOCLINUX 0x541C

/* x86_64 numbers of syscalls libseccomp 2.5.4 cannot name (syscall_64.tbl). */
#define NR_OPEN_TREE_ATTR 467 /* 6.15 */

#define DENY CAISSON_SYSCALL_DENY
#define ENOSYS_ CAISSON_SYSCALL_ENOSYS

#define ARG_MASKED(i, m, v) { .op = CAISSON_CMP_MASKED_EQ, .index = (i), .value = (v), .mask = (m) }

/* Unconditional rules. */
static const struct {
        const char *name;
        int32_t nr;
        uint32_t action;
} simple_rules[] = {
        /* Another process's memory, fds or state: ptrace by other names. pidfd_getfd takes a
         * copy of another process's fd; kcmp compares kernel pointers across processes. */
        { "ptrace", -1, DENY },
        { "process_vm_readv", -1, DENY },
        { "process_vm_writev", -1, DENY },
        { "pidfd_getfd", -1, DENY },
        { "kcmp", -1, DENY },
        { "process_madvise", -1, DENY },
        /* Kernel attack surface with a long CVE history and no use in an agent's tools. */
        { "bpf", -1, DENY },
        { "perf_event_open", -1, DENY },
        { "userfaultfd", -1, DENY }, /* stretches kernel race windows in exploits */
        /* The kernel keyring is not namespaced: keys leak between sandboxes and the host. */
        { "keyctl", -1, DENY },
        { "add_key", -1, DENY },
        { "request_key", -1, DENY },
        /* dmesg: kernel addresses leak when kernel.dmesg_restrict is 0. */
        { "syslog", -1, DENY },
        /* The whole mount family, old and new API: the filesystem view is caisson's. */
        { "mount", -1, DENY },
        { "umount2", -1, DENY },
        { "pivot_root", -1, DENY },
        { "chroot", -1, DENY },
        { "open_tree", -1, DENY },
        { "open_tree_attr", NR_OPEN_TREE_ATTR, DENY },
        { "move_mount", -1, DENY },
        { "fsopen", -1, DENY },
        { "fsconfig", -1, DENY },
        { "fsmount", -1, DENY },
        { "fspick", -1, DENY },
        { "mount_setattr", -1, DENY },
        /* Joining another namespace leaves the boundary; unshare/clone are filtered by flag
         * below. */
        { "setns", -1, DENY },
        /* Kernel code and the machine itself. */
        { "kexec_load", -1, DENY },
        { "kexec_file_load", -1, DENY },
        { "init_module", -1, DENY },
        { "finit_module", -1, DENY },
        { "delete_module", -1, DENY },
        /* Opens any inode by handle, past the mount view (the "shocker" container escape). */
        { "open_by_handle_at", -1, DENY },
        /* Raw I/O ports and the LDT (x86). */
        { "iopl", -1, DENY },
        { "ioperm", -1, DENY },
        { "modify_ldt", -1, DENY },
        { "swapon", -1, DENY },
        { "swapoff", -1, DENY },
        { "reboot", -1, DENY },
        { "acct", -1, DENY },
        { "quotactl", -1, DENY },
        { "quotactl_fd", -1, DENY },
        { "lookup_dcookie", -1, DENY },
        /* Watches the whole host filesystem (with FAN_MARK_FILESYSTEM). */
        { "fanotify_init", -1, DENY },
        /* Moves other processes' pages between NUMA nodes. */
        { "migrate_pages", -1, DENY },
        { "move_pages", -1, DENY },
        /* The host clock. The kernel refuses a set without CAP_SYS_TIME already; denying the
         * read-only use too costs little: glibc >= 2.31 implements adjtimex() and
         * ntp_gettime() with clock_adjtime, which DESIGN §3 denies, so allowing adjtimex
         * alone would only leave the same operation reachable by its other number. A
         * policy that needs it allows clock_adjtime and adjtimex. */
        { "settimeofday", -1, DENY },
        { "clock_settime", -1, DENY },
        { "clock_adjtime", -1, DENY },
        { "adjtimex", -1, DENY },
        /* The uts namespace is private, but a name change is still not the agent's call. */
        { "sethostname", -1, DENY },
        { "setdomainname", -1, DENY },
        { "vhangup", -1, DENY },
        /* ENOSYS, silent: runtimes fall back. clone3's flags live in memory that seccomp
         * cannot read, so it could create namespaces past the clone rules below; glibc falls
         * back to clone on ENOSYS (EPERM would break pthread_create). io_uring does most
         * syscalls' work without passing through this filter; libuv and others fall back to
         * epoll and threads on ENOSYS. */
        { "clone3", -1, ENOSYS_ },
        { "io_uring_setup", -1, ENOSYS_ },
        { "io_uring_enter", -1, ENOSYS_ },
        { "io_uring_register", -1, ENOSYS_ },
};

/* Unshare and clone with any CLONE_NEW* flag: one rule per bit, since conditions AND.
 * Single-bit masks lie in the low 32 bits, where the kernel reads these flags. clone() has
 * no CLONE_NEWTIME: bit 0x80 of its first argument is the exit signal (CSIGNAL). */
static const uint64_t unshare_bits[] = {
        CS_CLONE_NEWNS,   CS_CLONE_NEWCGROUP, CS_CLONE_NEWUTS, CS_CLONE_NEWIPC,
        CS_CLONE_NEWUSER, CS_CLONE_NEWPID,    CS_CLONE_NEWNET, CS_CLONE_NEWTIME,
};
static const uint64_t clone_bits[] = {
        CS_CLONE_NEWNS,   CS_CLONE_NEWCGROUP, CS_CLONE_NEWUTS, CS_CLONE_NEWIPC,
        CS_CLONE_NEWUSER, CS_CLONE_NEWPID,    CS_CLONE_NEWNET,
};

/* personality(2): the default (PER_LINUX, 0) and the 0xffffffff query; anything else can
 * turn on READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE (the kernel takes an unsigned int). */
static const uint64_t personality_allowed[] = { 0, 0xffffffff };

/* socket(2)/socketpair(2) families (an int to the kernel). AF_NETLINK is for
 * NETLINK_ROUTE only (glibc's getifaddrs); AF_PACKET and every other family are denied. */
static const uint64_t family_allowed[] = { CS_AF_UNIX, CS_AF_INET, CS_AF_INET6, CS_AF_NETLINK };
static const uint64_t netlink_protocol_allowed[] = { CS_NETLINK_ROUTE };

struct emitter {
        struct caisson_syscall_rule *rules; /* NULL: count only */
        size_t n;
};

static void emit(struct emitter *e, const char *name, int32_t nr, uint32_t action,
                 const struct caisson_syscall_arg *args, size_t n_args) {
        if (e->rules) {
                struct caisson_syscall_rule *r = &e->rules[e->n];

                *r = (struct caisson_syscall_rule) { .name = name, .nr = nr, .action = action };
                for (size_t i = 0; i < n_args && i < ELEMENTSOF(r->args); i++)
                        r->args[i] = args[i];
        }
        e->n++;
}

static bool block_holds_allowed(uint64_t prefix, unsigned bits, const uint64_t *allowed,
                                size_t n_allowed) {
        for (size_t i = 0; i < n_allowed; i++)
                if (bits == 0 || (allowed[i] >> (32 - bits)) == prefix)
                        return true;
        return false;
}

/* Emits rules that together match exactly the low-32-bit values of argument `index` that
 * are not in `allowed`, each as `base` (at most 2 conditions) AND one MASKED_EQ: the
 * aligned blocks of the binary trie over 32 bits that hold no allowed value. Masks stay in
 * the low 32 bits, so the high bits of the register neither match nor bypass a rule. */
static void cover_low32(struct emitter *e, const char *name, const struct caisson_syscall_arg *base,
                        size_t n_base, unsigned index, const uint64_t *allowed, size_t n_allowed,
                        uint64_t prefix, unsigned bits) {
        struct caisson_syscall_arg args[3] = {};

        if (block_holds_allowed(prefix, bits, allowed, n_allowed)) {
                if (bits == 32)
                        return; /* the allowed value itself */
                cover_low32(e, name, base, n_base, index, allowed, n_allowed, prefix << 1,
                            bits + 1);
                cover_low32(e, name, base, n_base, index, allowed, n_allowed, (prefix << 1) | 1,
                            bits + 1);
                return;
        }

        for (size_t i = 0; i < n_base; i++)
                args[i] = base[i];
        args[n_base] = (struct caisson_syscall_arg) ARG_MASKED(
                index, bits == 0 ? 0 : (LOW32 << (32 - bits)) & LOW32, prefix << (32 - bits));
        emit(e, name, -1, DENY, args, n_base + 1);
}

static void emit_socket_rules(struct emitter *e, const char *name) {
        /* Families other than unix, inet, inet6 and netlink (AF_PACKET among them). */
        cover_low32(e, name, NULL, 0, 0, family_allowed, ELEMENTSOF(family_allowed), 0, 0);

        /* AF_NETLINK with any protocol but NETLINK_ROUTE (audit, uevents, sock_diag, ...). */
        const struct caisson_syscall_arg netlink[] = { ARG_MASKED(0, LOW32, CS_AF_NETLINK) };
        cover_low32(e, name, netlink, ELEMENTSOF(netlink), 2, netlink_protocol_allowed,
                    ELEMENTSOF(netlink_protocol_allowed), 0, 0);

        /* SOCK_RAW for inet and inet6: crafted packets past the egress relay's view. The type
         * carries SOCK_NONBLOCK/SOCK_CLOEXEC above the low four bits. */
        const uint64_t inet[] = { CS_AF_INET, CS_AF_INET6 };
        for (size_t i = 0; i < ELEMENTSOF(inet); i++) {
                const struct caisson_syscall_arg raw[] = {
                        ARG_MASKED(0, LOW32, inet[i]),
                        ARG_MASKED(1, CS_SOCK_TYPE_MASK, CS_SOCK_RAW),
                };
                emit(e, name, -1, DENY, raw, ELEMENTSOF(raw));
        }
}

static size_t emit_defaults(struct caisson_syscall_rule *rules) {
        struct emitter e = { .rules = rules };

        for (size_t i = 0; i < ELEMENTSOF(simple_rules); i++)
                emit(&e, simple_rules[i].name, simple_rules[i].nr, simple_rules[i].action, NULL, 0);

        for (size_t i = 0; i < ELEMENTSOF(unshare_bits); i++) {
                const struct caisson_syscall_arg a[] = {
                        ARG_MASKED(0, unshare_bits[i], unshare_bits[i]),
                };
                emit(&e, "unshare", -1, DENY, a, 1);
        }
        for (size_t i = 0; i < ELEMENTSOF(clone_bits); i++) {
                const struct caisson_syscall_arg a[] = {
                        ARG_MASKED(0, clone_bits[i], clone_bits[i]),
                };
                emit(&e, "clone", -1, DENY, a, 1);
        }

        cover_low32(&e, "personality", NULL, 0, 0, personality_allowed,
                    ELEMENTSOF(personality_allowed), 0, 0);

        /* TIOCSTI pushes input into the terminal (commands typed into the caller's shell);
         * TIOCLINUX can do the same through the console's selection. The request is an
         * unsigned int to the kernel: matched on the low 32 bits (CVE-2019-10063). */
        const struct caisson_syscall_arg tiocsti[] = { ARG_MASKED(1, LOW32, CS_TIOCSTI) };
        const struct caisson_syscall_arg tioclinux[] = { ARG_MASKED(1, LOW32, CS_TIOCLINUX) };
        emit(&e, "ioctl", -1, DENY, tiocsti, 1);
        emit(&e, "ioctl", -1, DENY, tioclinux, 1);

        emit_socket_rules(&e, "socket");
        emit_socket_rules(&e, "socketpair");

        return e.n;
}

int syscall_name_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        if (n < 1 || n > 63)
                return false;
        return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static bool name_in(const char *name, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (streq(name, list[i]))
                        return true;
        return false;
}

static int32_t default_nr(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(simple_rules); i++)
                if (streq(simple_rules[i].name, name))
                        return simple_rules[i].nr;
        return -1;
}

/* The calls that connect a TCP socket: connect(), and a send with MSG_FASTOPEN (its SYN
 * carries the first data). The flags are a by-value argument, so the filter can test them.
 * io_uring's IORING_OP_CONNECT passes no filter: io_uring is ENOSYS by default, and a
 * policy that allows it gets no record for such a socket, which the relay refuses. */
#define CS_MSG_FASTOPEN 0x20000000ULL
static const struct caisson_syscall_rule observe_rules[] = {
        { .name = "connect", .nr = 42, .action = CAISSON_SYSCALL_OBSERVE },
        { .name = "sendto", .nr = 44, .action = CAISSON_SYSCALL_OBSERVE,
          .args = { { .index = 3, .op = CAISSON_CMP_MASKED_EQ, .mask = CS_MSG_FASTOPEN,
                      .value = CS_MSG_FASTOPEN } } },
        { .name = "sendmsg", .nr = 46, .action = CAISSON_SYSCALL_OBSERVE,
          .args = { { .index = 2, .op = CAISSON_CMP_MASKED_EQ, .mask = CS_MSG_FASTOPEN,
                      .value = CS_MSG_FASTOPEN } } },
        { .name = "sendmmsg", .nr = 307, .action = CAISSON_SYSCALL_OBSERVE,
          .args = { { .index = 3, .op = CAISSON_CMP_MASKED_EQ, .mask = CS_MSG_FASTOPEN,
                      .value = CS_MSG_FASTOPEN } } },
};

int syscall_table_build(const char *const *deny, size_t n_deny, const char *const *allow,
                        size_t n_allow, struct caisson_syscall_rule **ret, size_t *ret_n,
                        struct caisson_error *err) {
        return syscall_table_build_ex(deny, n_deny, allow, n_allow, 0, ret, ret_n, err);
}

int syscall_table_build_ex(const char *const *deny, size_t n_deny, const char *const *allow,
                           size_t n_allow, unsigned flags, struct caisson_syscall_rule **ret,
                           size_t *ret_n, struct caisson_error *err) {
        _cleanup_free_ struct caisson_syscall_rule *rules = NULL;
        size_t n_defaults, names_size = 0, n = 0;
        char *names;

        if ((n_deny > 0 && !deny) || (n_allow > 0 && !allow))
                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_INTERNAL, EINVAL,
                               "seccomp: name list missing");
        /* Bounded by the policy's own limits; this keeps the size arithmetic below safe. */
        if (n_deny > 4096 || n_allow > 4096)
                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_POLICY_TOO_LARGE, E2BIG,
                               "seccomp: too many syscall names");

        for (size_t i = 0; i < n_deny; i++) {
                if (!syscall_name_valid(deny[i]))
                        return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_POLICY_INVALID,
                                       EINVAL, "seccomp.deny: '%.64s' is not a syscall name",
                                       deny[i] ? deny[i] : "(null)");
                names_size += strlen(deny[i]) + 1;
        }
        for (size_t i = 0; i < n_allow; i++)
                if (!syscall_name_valid(allow[i]))
                        return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_POLICY_INVALID,
                                       EINVAL, "seccomp.allow: '%.64s' is not a syscall name",
                                       allow[i] ? allow[i] : "(null)");

        n_defaults = emit_defaults(NULL);

        /* One allocation: the rules, then the policy's deny names they point to. */
        rules = malloc((n_defaults + n_deny + 1 + ELEMENTSOF(observe_rules)) * sizeof(*rules) +
                       names_size);
        if (!rules)
                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_NO_MEMORY, ENOMEM,
                               "seccomp: table");
        names = (char *) (rules + n_defaults + n_deny + 1 + ELEMENTSOF(observe_rules));

        (void) emit_defaults(rules);
        n = n_defaults;

        /* A policy deny makes the whole syscall EPERM + event: it replaces the default rules
         * for that name (conditional ones become redundant; an ENOSYS one would conflict with
         * it in one filter). */
        for (size_t i = 0; i < n_deny; i++) {
                size_t j = 0, len = strlen(deny[i]) + 1;
                int32_t nr = default_nr(deny[i]);

                for (size_t k = 0; k < n; k++)
                        if (!streq(rules[k].name, deny[i]))
                                rules[j++] = rules[k];
                n = j;

                memcpy(names, deny[i], len);
                rules[n++] = (struct caisson_syscall_rule) {
                        .name = names, .nr = nr, .action = CAISSON_SYSCALL_DENY,
                };
                names += len;
        }

        /* An allow removes every rule for that name, default or denied: the policy's explicit
         * exception (gdb needs ptrace) wins. */
        if (n_allow > 0) {
                size_t j = 0;

                for (size_t k = 0; k < n; k++)
                        if (!name_in(rules[k].name, allow, n_allow))
                                rules[j++] = rules[k];
                n = j;
        }

        /* Observed after the allow list: allowing connect (an exception to a denial) must
         * not stop the record. A call the table denies or answers ENOSYS in any form is
         * left to that rule: it never connects, and one filter cannot hold both actions. */
        if (flags & SYSCALL_TABLE_OBSERVE_CONNECT)
                for (size_t i = 0; i < ELEMENTSOF(observe_rules); i++) {
                        bool taken = false;

                        for (size_t k = 0; k < n && !taken; k++)
                                taken = streq(rules[k].name, observe_rules[i].name);
                        if (!taken)
                                rules[n++] = observe_rules[i];
                }

        *ret = TAKE_PTR(rules);
        *ret_n = n;
        return 0;
}
