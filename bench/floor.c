/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The floor of the primitives: clone() straight into the six namespaces a caisson sandbox
 * has (mount, pid, net, ipc, uts, cgroup), exec /bin/true there, wait. No mounts, no
 * Landlock, no seccomp, no cgroup, no privilege drop: what any namespace sandbox pays
 * before it does anything of its own. Needs root. Used by bench/start-latency.sh. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char stack[64 * 1024] __attribute__((aligned(16)));

static int child(void *arg) {
        char *const argv[] = { "/bin/true", NULL };
        char *const envp[] = { NULL };

        (void) arg;
        execve(argv[0], argv, envp);
        _exit(127);
}

int main(void) {
        int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                    CLONE_NEWCGROUP | SIGCHLD;
        int status;
        pid_t pid = clone(child, stack + sizeof stack, flags, NULL);

        if (pid < 0) {
                perror("clone");
                return 125;
        }
        if (waitpid(pid, &status, 0) < 0) {
                perror("waitpid");
                return 125;
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
