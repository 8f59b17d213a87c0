/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caisson doctor: each kernel feature, whether this machine has it, and what caisson does
 * without it. Probes only; changes nothing on the host. */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <dlfcn.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "backends/native/cgroup.h"
#include "backends/native/landlock.h"
#include "macro.h"
#include "supervisor.h"

static void line(bool ok, const char *what, const char *detail, const char *without) {
        printf("%-4s %-28s %s", ok ? "ok" : "no", what, detail);
        if (!ok && without)
                printf(" -> %s", without);
        printf("\n");
}

/* In a throwaway child, so nothing (namespace, filter) touches this process. */
static bool probe_in_child(int (*fn)(void)) {
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return false;
        if (pid == 0)
                _exit(fn() == 0 ? 0 : 1);
        if (waitpid(pid, &status, 0) < 0)
                return false;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int ns_flag;
static int probe_unshare(void) {
        return unshare(ns_flag);
}

/* libnftables is loaded only where it is used (a sandbox without network_policies never
 * maps it: it and its dependencies are most of a supervisor's resident size). */
static int probe_nft(void) {
        /* libnftables 1.0.6 exit()s in nft_ctx_new when netlink is unavailable: probe the
         * socket first, then make a context in this child only. */
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        void *lib, *ctx;
        void *(*ctx_new)(uint32_t);
        void (*ctx_free)(void *);
        int (*buffer_output)(void *);
        int (*run_cmd)(void *, const char *);

        if (fd < 0)
                return -1;
        close(fd);
        lib = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!lib)
                return -1;
        ctx_new = (void *(*)(uint32_t)) dlsym(lib, "nft_ctx_new");
        ctx_free = (void (*)(void *)) dlsym(lib, "nft_ctx_free");
        buffer_output = (int (*)(void *)) dlsym(lib, "nft_ctx_buffer_output");
        run_cmd = (int (*)(void *, const char *)) dlsym(lib, "nft_run_cmd_from_buffer");
        if (!ctx_new || !ctx_free || !buffer_output || !run_cmd)
                return -1;
        ctx = ctx_new(0 /* NFT_CTX_DEFAULT */);
        if (!ctx)
                return -1;
        (void) buffer_output(ctx);
        if (run_cmd(ctx, "list tables") != 0) {
                ctx_free(ctx);
                return -1;
        }
        ctx_free(ctx);
        return 0;
}

int cmd_doctor(int argc, char **argv) {
        static const struct { int flag; const char *name; } ns[] = {
                { CLONE_NEWNS, "mount" }, { CLONE_NEWPID, "pid" }, { CLONE_NEWNET, "net" },
                { CLONE_NEWIPC, "ipc" }, { CLONE_NEWUTS, "uts" }, { CLONE_NEWCGROUP, "cgroup" },
                { CLONE_NEWUSER, "user" },
        };
        struct cgroup_layout l;
        char buf[256];
        int abi, r;
        bool root = geteuid() == 0;

        (void) argc;
        (void) argv;
        printf("caisson doctor: what this kernel offers and what caisson does without it\n");
        if (!root)
                printf("(not root: namespace probes need root and show 'no')\n");

        abi = landlock_abi();
        if (abi > 0)
                (void) snprintf(buf, sizeof buf, "ABI %d%s", abi,
                                abi >= 6 ? " (scopes: signals, abstract sockets)" : "");
        else
                (void) snprintf(buf, sizeof buf, "unavailable (%s)", strerror(-abi));
        line(abi > 0, "landlock", buf,
             "best_effort policies run without it (and say so); hard_requirement ones exit 125");

        r = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
        line(r >= 0, "seccomp filter", r >= 0 ? "available" : strerror(errno),
             "caisson refuses to run (seccomp is never optional)");
        {
                long a = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0,
                                 &(unsigned) { SECCOMP_RET_USER_NOTIF });
                line(a == 0, "seccomp user notification", a == 0 ? "available" : strerror(errno),
                     "caisson refuses to run (denials could not be reported)");
        }
        for (size_t i = 0; i < ELEMENTSOF(ns); i++) {
                char what[64];
                bool ok;

                ns_flag = ns[i].flag;
                ok = probe_in_child(probe_unshare);
                (void) snprintf(what, sizeof what, "%s namespace", ns[i].name);
                line(ok, what, ok ? "available" : "unavailable",
                     ns[i].flag == CLONE_NEWUSER ? "not used by the native backend"
                                                 : "the native backend cannot run");
        }
        {
                struct stat st;
                bool ok = stat("/proc/sys/vm/memfd_noexec", &st) == 0;

                line(ok, "vm.memfd_noexec", ok ? "available (fileless exec stopped)" : "missing",
                     "kernel < 6.3: caisson refuses to run (fileless exec could not be stopped)");
        }
        if (cgroup_layout_detect(&l, NULL) == 0) {
                (void) snprintf(buf, sizeof buf, "%s", l.v2[0] ? l.v2 : "none");
                line(l.v2[0] != 0, "cgroup v2", buf, "no cgroup.kill/freeze; whole-tree kill by "
                                                    "signalling each process");
                line(l.v2_memory || l.v1_memory[0], "memory limit",
                     l.v2_memory ? "cgroup v2 controller" : l.v1_memory[0] ? "cgroup v1 hierarchy" : "none",
                     "resources.memory: refused (or warned with on_unsupported: warn)");
                line(l.v2_pids || l.v1_pids[0], "pids limit",
                     l.v2_pids ? "cgroup v2 controller" : l.v1_pids[0] ? "cgroup v1 hierarchy" : "none",
                     "resources.pids: refused (or warned with on_unsupported: warn)");
                line(l.v2_cpu || l.v1_cpu[0], "cpu limit",
                     l.v2_cpu ? "cgroup v2 controller" : l.v1_cpu[0] ? "cgroup v1 hierarchy" : "none",
                     "resources.cpu: refused (or warned with on_unsupported: warn)");
        } else
                line(false, "cgroups", "cannot read mountinfo", "caisson refuses to run");
        {
                bool ok = root && probe_in_child(probe_nft);

                line(ok, "nftables (libnftables)", ok ? "kernel answers" : "unavailable",
                     "network_policies cannot be enforced: such policies are refused");
        }
        return 0;
}
