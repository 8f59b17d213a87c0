/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* nolandlock PROGRAM [ARG...]: runs PROGRAM on a "kernel without Landlock". Installs a
 * seccomp filter that answers ENOSYS to landlock_create_ruleset, landlock_add_rule and
 * landlock_restrict_self (444-446 on every architecture that has them) — what an old or
 * Landlock-less kernel says — then execs PROGRAM. The filter is inherited by everything
 * PROGRAM starts, so caisson and its sandbox both see no Landlock.
 *
 * The integration tests use it to check that caisson fails closed under
 * landlock.compatibility: hard_requirement, and says so under best_effort. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#if defined(__x86_64__)
#define PROBE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PROBE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "add this architecture's AUDIT_ARCH"
#endif

int main(int argc, char **argv) {
        struct sock_filter f[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROBE_AUDIT_ARCH, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 444, 0, 2),
                BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 446, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };

        if (argc < 2) {
                fprintf(stderr, "usage: nolandlock PROGRAM [ARG...]\n");
                return 2;
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
                fprintf(stderr, "nolandlock: seccomp: %s\n", strerror(errno));
                return 125;
        }
        execv(argv[1], argv + 1);
        fprintf(stderr, "nolandlock: exec '%s': %s\n", argv[1], strerror(errno));
        return 127;
}
