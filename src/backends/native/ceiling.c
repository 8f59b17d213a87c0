/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pre-exec ceiling (DESIGN §2), child side. No allocation, no logging: errors go back
 * through the caller's status channel as a struct caisson_error.
 *
 * The sandbox-wide part (bounding set, securebits, ids, capabilities, NO_NEW_PRIVS, then
 * Landlock and seccomp) runs once, in the sandbox's init, so every process the sandbox ever
 * starts is a descendant of one Landlock domain and one seccomp filter. The per-process
 * part (stdio, closing fds, session, cwd) runs in each child init forks, right before
 * execve. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"
#include "macro.h"
#include "native.h"
#include "syscalls.h"

static int last_cap(void) {
        int fd, n;
        char buf[16] = { 0 };

        /* /proc/sys/kernel/cap_last_cap knows caps newer than our headers. */
        fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return CAP_LAST_CAP;
        n = (int) read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
                return CAP_LAST_CAP;
        n = 0;
        for (const char *p = buf; *p >= '0' && *p <= '9'; p++)
                n = n * 10 + (*p - '0');
        return n > 0 && n < 64 ? n : CAP_LAST_CAP;
}

int ceiling_drop_privileges(uid_t uid, gid_t gid, struct caisson_error *err) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = { { 0 } };
        int last = last_cap();

        if (uid == 0 || gid == 0)
                return cs_fail(err, CAISSON_LAYER_CREDS, CAISSON_REASON_USER_ROOT, 0,
                               "refusing to run the agent as uid/gid 0");

        /* The bounding set and the securebits need CAP_SETPCAP: both before the uid
         * change, which drops it. Without the bounding set, a setuid-root or file-cap
         * binary could regain capabilities (NO_NEW_PRIVS stops that too; this is the
         * second lock). */
        for (int c = 0; c <= last; c++)
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                        return cs_fail(err, CAISSON_LAYER_CAPS, CAISSON_REASON_CAPS_FAILED, errno,
                                       "drop capability %d from the bounding set", c);
        /* NOROOT: uid 0 gains no capabilities on exec; NO_SETUID_FIXUP is left off so the
         * kernel clears the permitted/effective sets at the uid change; locked so nothing
         * below can undo them. */
        if (prctl(PR_SET_SECUREBITS,
                  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
                          SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                          SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
                  0, 0, 0) < 0)
                return cs_fail(err, CAISSON_LAYER_CAPS, CAISSON_REASON_CAPS_FAILED, errno,
                               "lock securebits");
        if (setgroups(0, NULL) < 0)
                return cs_fail(err, CAISSON_LAYER_CREDS, CAISSON_REASON_CREDS_FAILED, errno,
                               "drop supplementary groups");
        if (setresgid(gid, gid, gid) < 0)
                return cs_fail(err, CAISSON_LAYER_CREDS, CAISSON_REASON_CREDS_FAILED, errno,
                               "set gid %u", (unsigned) gid);
        if (setresuid(uid, uid, uid) < 0)
                return cs_fail(err, CAISSON_LAYER_CREDS, CAISSON_REASON_CREDS_FAILED, errno,
                               "set uid %u", (unsigned) uid);
        /* The uid change cleared permitted and effective; clear inheritable and ambient
         * explicitly, and check that nothing is left. */
        if (sys_capset(&hdr, data) < 0)
                return cs_fail(err, CAISSON_LAYER_CAPS, CAISSON_REASON_CAPS_FAILED, errno,
                               "clear capabilities");
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return cs_fail(err, CAISSON_LAYER_CAPS, CAISSON_REASON_CAPS_FAILED, errno,
                               "clear ambient capabilities");
        if (sys_capget(&hdr, data) < 0 || data[0].effective || data[0].permitted ||
            data[0].inheritable || data[1].effective || data[1].permitted || data[1].inheritable)
                return cs_fail(err, CAISSON_LAYER_CAPS, CAISSON_REASON_CAPS_FAILED, 0,
                               "capabilities remain after the uid change");
        if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
                return cs_fail(err, CAISSON_LAYER_CREDS, CAISSON_REASON_CREDS_FAILED, 0,
                               "uid/gid did not change");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return cs_fail(err, CAISSON_LAYER_CAPS, CAISSON_REASON_CAPS_FAILED, errno,
                               "set no_new_privs");
        return 0;
}

/* In the child, right before execve. status_fd is CLOEXEC and stays open for the error
 * record; stdio fds are placed at 0..2 and every other fd is closed. */
int ceiling_process(const int stdio[3], int status_fd, bool controlling_tty,
                    struct caisson_error *err) {
        struct rlimit core = { 0, 0 };
        sigset_t all;
        int fds[3];

        /* Move the fds we keep above the range we are about to fill, so dup2 cannot clobber
         * one of them. */
        for (int i = 0; i < 3; i++) {
                fds[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 10);
                if (fds[i] < 0)
                        return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, errno,
                                       "stdio");
        }
        for (int i = 0; i < 3; i++)
                if (dup2(fds[i], i) < 0)
                        return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, errno,
                                       "stdio");
        if (dup3(status_fd, 3, O_CLOEXEC) < 0)
                return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, errno,
                               "status fd");
        /* Nothing the supervisor or init held may leak into the agent. */
        if (sys_close_range(4, ~0U, 0) < 0)
                return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, errno,
                               "close inherited fds");
        /* A new session: the agent has no controlling terminal of the caller's, so TIOCSTI
         * (also filtered) and job-control signals cannot reach the caller's terminal. */
        if (setsid() < 0)
                return cs_fail(err, CAISSON_LAYER_EXEC, CAISSON_REASON_EXEC_FAILED, errno,
                               "setsid");
        if (controlling_tty && ioctl(0, TIOCSCTTY, 0) < 0)
                return cs_fail(err, CAISSON_LAYER_TERMINAL, CAISSON_REASON_TERMINAL_FAILED, errno,
                               "make the pty the controlling terminal");
        (void) setrlimit(RLIMIT_CORE, &core);

        sigemptyset(&all);
        for (int s = 1; s < _NSIG; s++)
                (void) signal(s, SIG_DFL);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);
        return 3;
}
