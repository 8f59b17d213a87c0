/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* probe: one attack per subcommand, run inside a sandbox by the integration tests (the role
 * of bubblewrap's try-syscall.c and crun's init.c).
 *
 * Each subcommand prints one machine-readable line: "OK" when the attempt succeeded, else
 * the errno name ("EPERM", "ENOSYS", "EACCES", ...), or "key=value ..." pairs for probes
 * that report several things. The exit status is 0 whenever the probe could run at all, so
 * the test reads the verdict from stdout, not from the status.
 *
 * Every probe is written so that the same probe run OUTSIDE the sandbox (as root) is the
 * positive control: the call reaches the kernel and gets a result that is not the
 * sandbox's refusal (success, or EBADF/EFAULT/EINVAL/ENOENT from argument checks that run
 * after the permission check). A test asserts both sides; without the layer under test the
 * two results would be equal and the test fails.
 *
 * Needs only libc; linked statically when the toolchain allows, so it runs in any view. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ptrace.h>

#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef __NR_memfd_create
#define __NR_memfd_create 319
#endif
#ifndef __NR_execveat
#define __NR_execveat 322
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
/* linux/sched.h clashes with sched.h; the clone3 argument block, as of Linux 5.5. */
struct probe_clone_args {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
                set_tid, set_tid_size, cgroup;
};

extern char **environ;

static const char *ename(int e) {
        const char *s = strerrorname_np(e);

        return s ?: "E?";
}

/* The verdict of a call that returns -1/errno on failure. */
static int verdict(long r) {
        printf("%s\n", r < 0 ? ename(errno) : "OK");
        return 0;
}

static int usage(void) {
        fprintf(stderr, "usage: probe SUBCOMMAND [ARGS]\n");
        return 2;
}

/* --- filesystem --------------------------------------------------------------------- */

static int p_read(const char *path) {
        struct stat st;
        char c;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return verdict(-1);
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
                DIR *d = fdopendir(fd);

                if (!d)
                        return verdict(-1);
                errno = 0;
                if (!readdir(d) && errno != 0) {
                        closedir(d);
                        return verdict(-1);
                }
                closedir(d);
                return verdict(0);
        }
        if (read(fd, &c, 1) < 0) {
                close(fd);
                return verdict(-1);
        }
        close(fd);
        return verdict(0);
}

/* Opens PATH for writing (creating it) and appends DATA (nothing by default, so probing an
 * existing file that must stay intact does not change it). */
static int p_write(const char *path, const char *data) {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

        if (fd < 0)
                return verdict(-1);
        if (data && write(fd, data, strlen(data)) < 0) {
                close(fd);
                return verdict(-1);
        }
        close(fd);
        return verdict(0);
}

static int p_mknod(const char *path) {
        /* /dev/null's numbers: a device node anywhere is a way around nodev mounts. */
        int r = mknod(path, S_IFCHR | 0666, makedev(1, 3));

        if (r == 0)
                (void) unlink(path);
        return verdict(r);
}

/* --- privileged syscalls ------------------------------------------------------------ */

static int p_mount(void) {
        /* Outside (root): ENOENT, the target is looked up after the permission check. */
        return verdict(mount("none", "/nonexistent-caisson-probe", "tmpfs", 0, NULL));
}

static int p_pivot_root(void) {
        return verdict(syscall(SYS_pivot_root, "/nonexistent-caisson-a", "/nonexistent-caisson-b"));
}

static int p_chroot(void) {
        return verdict(chroot("/nonexistent-caisson-probe"));
}

static int p_unshare_user(void) {
        return verdict(unshare(CLONE_NEWUSER));
}

static int p_unshare_mount(void) {
        return verdict(unshare(CLONE_NEWNS));
}

static int wait_child(pid_t pid) {
        int st;

        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        return st;
}

static int p_clone_newuser(void) {
        long pid = syscall(SYS_clone, (unsigned long) (CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL,
                           NULL);

        if (pid == 0)
                _exit(0);
        if (pid > 0)
                (void) wait_child((pid_t) pid);
        return verdict(pid);
}

static int p_clone3(void) {
        struct probe_clone_args a = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
        long pid = syscall(__NR_clone3, &a, sizeof a);

        if (pid == 0)
                _exit(0);
        if (pid > 0)
                (void) wait_child((pid_t) pid);
        return verdict(pid);
}

static int p_bpf(void) {
        /* BPF_PROG_LOAD (5) with a NULL attr: outside, EFAULT from copying it in. */
        return verdict(syscall(SYS_bpf, 5, NULL, 128));
}

static int p_perf(void) {
        /* NULL attr: outside, EFAULT. */
        return verdict(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
}

static int p_userfaultfd(void) {
        long fd = syscall(SYS_userfaultfd, O_CLOEXEC);

        if (fd >= 0)
                close((int) fd);
        return verdict(fd);
}

static int p_io_uring(void) {
        /* NULL params: outside, EFAULT. */
        return verdict(syscall(__NR_io_uring_setup, 1, NULL));
}

static int p_keyctl(void) {
        /* An unknown keyctl operation: outside, EOPNOTSUPP. */
        return verdict(syscall(SYS_keyctl, 9999, 0, 0, 0, 0));
}

static int p_add_key(void) {
        /* NULL type: outside, EFAULT. */
        return verdict(syscall(SYS_add_key, NULL, NULL, NULL, 0, 0));
}

static int p_personality(void) {
        int query = personality(0xffffffff);
        int set = personality(PER_LINUX32);
        int set_errno = errno;

        if (set >= 0)
                (void) personality((unsigned long) query);
        printf("query=%s set=%s\n", query < 0 ? ename(errno) : "OK",
               set < 0 ? ename(set_errno) : "OK");
        return 0;
}

static int p_ptrace(pid_t pid) {
        long r = ptrace(PTRACE_ATTACH, pid, NULL, NULL);

        if (r == 0) {
                (void) waitpid(pid, NULL, __WALL);
                (void) ptrace(PTRACE_DETACH, pid, NULL, NULL);
        }
        return verdict(r);
}

static int p_ptrace_self(void) {
        /* PTRACE_TRACEME reaches the kernel and succeeds for anyone not already traced. */
        return verdict(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
}

static int p_kill(pid_t pid) {
        return verdict(kill(pid, 0));
}

static int p_settime(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                return verdict(-1);
        return verdict(clock_settime(CLOCK_REALTIME, &ts));
}

static int p_sethostname(void) {
        char buf[256];

        if (gethostname(buf, sizeof buf) < 0)
                return verdict(-1);
        return verdict(sethostname(buf, strlen(buf)));
}

static int p_setuid0(void) {
        return verdict(setuid(0));
}

/* --- fileless exec ------------------------------------------------------------------- */

/* Copies /bin/true into a memfd and tries both routes to exec it: execve of /proc/self/fd/N
 * and execveat(fd, "", AT_EMPTY_PATH). Each is tried in a child, which reports the exec's
 * errno through its exit status (0 means /bin/true ran). */
static const char *try_exec_child(int fd, int how) {
        static char buf[32];
        pid_t pid = fork();
        int st;

        if (pid < 0)
                return ename(errno);
        if (pid == 0) {
                char path[64];
                char *argv[] = { (char *) "true", NULL };

                if (how == 0) {
                        (void) snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
                        execve(path, argv, environ);
                } else
                        syscall(__NR_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
                _exit(100 + (errno & 0x7f));
        }
        st = wait_child(pid);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                return "OK";
        if (WIFEXITED(st) && WEXITSTATUS(st) >= 100) {
                (void) snprintf(buf, sizeof buf, "%s", ename(WEXITSTATUS(st) - 100));
                return buf;
        }
        return "EFAILED";
}

static int p_memfd_exec(void) {
        char buf[65536];
        ssize_t n;
        int src, fd;
        const char *a, *b;

        fd = (int) syscall(__NR_memfd_create, "probe", 0U);
        if (fd < 0) {
                printf("memfd=%s proc=SKIP empty_path=SKIP\n", ename(errno));
                return 0;
        }
        src = open("/bin/true", O_RDONLY | O_CLOEXEC);
        if (src < 0) {
                printf("memfd=OK copy=%s\n", ename(errno));
                return 0;
        }
        while ((n = read(src, buf, sizeof buf)) > 0)
                if (write(fd, buf, (size_t) n) != n) {
                        printf("memfd=OK copy=%s\n", ename(errno));
                        return 0;
                }
        close(src);
        a = try_exec_child(fd, 0);
        printf("memfd=OK proc=%s ", a);
        b = try_exec_child(fd, 1);
        printf("empty_path=%s\n", b);
        return 0;
}

/* --- terminal ------------------------------------------------------------------------ */

/* TIOCSTI on fd 0 and on /dev/tty, plus the same request with high bits set (the kernel
 * truncates the request to 32 bits; a filter matching all 64 would miss it: Flatpak's
 * CVE-2019-10063). A space is injected, harmless to whoever reads that terminal. */
static int p_tiocsti(void) {
        char c = ' ';
        int r0, r0hi, rt;
        int e0, e0hi, et;
        int fd;

        r0 = ioctl(0, TIOCSTI, &c);
        e0 = errno;
        r0hi = (int) syscall(SYS_ioctl, 0, (unsigned long) TIOCSTI | (1UL << 32), &c);
        e0hi = errno;
        fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
                rt = -1;
                et = errno;
        } else {
                rt = ioctl(fd, TIOCSTI, &c);
                et = errno;
                close(fd);
        }
        printf("fd0=%s fd0_hi=%s tty=%s\n", r0 < 0 ? ename(e0) : "OK",
               r0hi < 0 ? ename(e0hi) : "OK", rt < 0 ? ename(et) : "OK");
        return 0;
}

static int p_tty(void) {
        struct winsize ws = { 0 };
        const char *name = ttyname(0);

        (void) ioctl(0, TIOCGWINSZ, &ws);
        printf("isatty=%d ttyname=%s rows=%u cols=%u\n", isatty(0), name ?: "none",
               ws.ws_row, ws.ws_col);
        return 0;
}

/* Prints "ready", then waits until the terminal on fd 0 has ROWS x COLS (a SIGWINCH or a
 * poll every 10 ms) and prints the size it saw; gives up after SECS. */
static volatile sig_atomic_t got_winch;
static void on_winch(int sig) {
        (void) sig;
        got_winch = 1;
}

static int p_winsize_wait(unsigned rows, unsigned cols, int secs) {
        struct winsize ws = { 0 };

        (void) signal(SIGWINCH, on_winch);
        printf("ready\n");
        fflush(stdout);
        for (int i = 0; i < secs * 100; i++) {
                if (ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row == rows && ws.ws_col == cols)
                        break;
                usleep(10000);
        }
        printf("size=%ux%u winch=%d\n", ws.ws_row, ws.ws_col, (int) got_winch);
        return 0;
}

/* --- credentials, fds, env ------------------------------------------------------------ */

static int p_caps(void) {
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];

        if (!f)
                return verdict(-1);
        while (fgets(line, sizeof line, f)) {
                static const char *const keys[] = { "CapInh:", "CapPrm:", "CapEff:", "CapBnd:",
                                                    "CapAmb:", "NoNewPrivs:", "Seccomp:" };

                for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
                        if (strncmp(line, keys[i], strlen(keys[i])) == 0) {
                                char *v = line + strlen(keys[i]);

                                while (*v == ' ' || *v == '\t')
                                        v++;
                                v[strcspn(v, "\n")] = 0;
                                printf("%.*s=%s ", (int) strlen(keys[i]) - 1, keys[i], v);
                        }
        }
        fclose(f);
        printf("\n");
        return 0;
}

static int p_uid(void) {
        uid_t r, e, s;
        gid_t rg, eg, sg;
        gid_t groups[64];
        int n = getgroups(64, groups);

        (void) getresuid(&r, &e, &s);
        (void) getresgid(&rg, &eg, &sg);
        printf("uid=%u euid=%u suid=%u gid=%u egid=%u sgid=%u groups=", r, e, s, rg, eg, sg);
        for (int i = 0; i < n; i++)
                printf("%s%u", i ? "," : "", groups[i]);
        printf("\n");
        return 0;
}

static int p_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        int self;

        if (!d)
                return verdict(-1);
        self = dirfd(d);
        printf("fds=");
        {
                int first = 1;

                while ((de = readdir(d))) {
                        char target[256] = "";
                        char path[300];
                        ssize_t n;

                        if (de->d_name[0] == '.' || atoi(de->d_name) == self)
                                continue;
                        (void) snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
                        n = readlink(path, target, sizeof target - 1);
                        if (n > 0)
                                target[n] = 0;
                        printf("%s%s:%s", first ? "" : ",", de->d_name, target);
                        first = 0;
                }
        }
        printf("\n");
        closedir(d);
        return 0;
}

static int p_env(void) {
        for (char **e = environ; *e; e++)
                printf("%s\n", *e);
        return 0;
}

/* The numeric entries of /proc: which pids this process can see. */
static int p_pids(void) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        int n = 0;

        if (!d)
                return verdict(-1);
        printf("pids=");
        while ((de = readdir(d)))
                if (de->d_name[0] >= '1' && de->d_name[0] <= '9') {
                        printf("%s%s", n ? "," : "", de->d_name);
                        n++;
                }
        printf(" count=%d\n", n);
        closedir(d);
        return 0;
}

/* --- network -------------------------------------------------------------------------- */

/* Interfaces (getifaddrs, which also needs NETLINK_ROUTE), then a TCP connect to
 * 127.0.0.1:PORT (a listener the test made on the host's loopback), then a UDP connect to
 * a TEST-NET-1 address, which only needs a route and sends nothing. */
static int p_net(int port) {
        struct ifaddrs *ifa = NULL;
        struct sockaddr_in sa = { .sin_family = AF_INET };
        int fd, r;

        printf("ifaces=");
        if (getifaddrs(&ifa) < 0)
                printf("%s", ename(errno));
        else {
                char seen[1024] = ",";

                for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
                        char key[80];

                        (void) snprintf(key, sizeof key, "%s,", i->ifa_name);
                        if (strstr(seen, key) && strstr(seen, key)[-1] == ',')
                                continue;
                        if (strlen(seen) + strlen(key) < sizeof seen)
                                strcat(seen, key);
                        printf("%s%s", strlen(seen) == strlen(key) + 1 ? "" : ",", i->ifa_name);
                }
                freeifaddrs(ifa);
        }
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sa.sin_port = htons((uint16_t) port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        r = fd < 0 ? -1 : connect(fd, (struct sockaddr *) &sa, sizeof sa);
        printf(" loopback_connect=%s", r < 0 ? ename(errno) : "OK");
        if (fd >= 0)
                close(fd);
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sa.sin_port = htons(9);
        (void) inet_pton(AF_INET, "192.0.2.1", &sa.sin_addr);
        r = fd < 0 ? -1 : connect(fd, (struct sockaddr *) &sa, sizeof sa);
        printf(" route_out=%s", r < 0 ? ename(errno) : "OK");
        if (fd >= 0)
                close(fd);
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        printf(" packet=%s", fd < 0 ? ename(errno) : "OK");
        if (fd >= 0)
                close(fd);
        fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
        printf(" raw=%s\n", fd < 0 ? ename(errno) : "OK");
        if (fd >= 0)
                close(fd);
        return 0;
}

/* --- processes ------------------------------------------------------------------------ */

/* Writes "TOKEN PID\n" to FILE (atomically, by rename) and sleeps. Tests find the process
 * on the host by TOKEN in its command line. */
static int p_sleep(int secs, const char *file, const char *token) {
        if (file) {
                char tmp[4096];
                FILE *f;

                (void) snprintf(tmp, sizeof tmp, "%s.tmp", file);
                f = fopen(tmp, "we");
                if (!f)
                        return verdict(-1);
                fprintf(f, "%s %d\n", token ?: "-", (int) getpid());
                fclose(f);
                if (rename(tmp, file) < 0)
                        return verdict(-1);
        }
        sleep((unsigned) secs);
        return 0;
}

/* Double fork, setsid: the classic daemon. The grandchild becomes "probe sleep 600 FILE
 * TOKEN" and writes FILE once it runs; the probe returns at once. */
static int p_daemonize(const char *file, const char *token) {
        pid_t pid = fork();

        if (pid < 0)
                return verdict(-1);
        if (pid == 0) {
                if (setsid() < 0)
                        _exit(1);
                pid = fork();
                if (pid != 0)
                        _exit(pid < 0);
                {
                        char *argv[] = { (char *) "probe", (char *) "sleep", (char *) "600",
                                         (char *) file, (char *) token, NULL };
                        int nul = open("/dev/null", O_RDWR);

                        if (nul >= 0) {
                                dup2(nul, 0);
                                dup2(nul, 1);
                                dup2(nul, 2);
                        }
                        execv("/proc/self/exe", argv);
                        _exit(127);
                }
        }
        (void) wait_child(pid);
        for (int i = 0; i < 500 && access(file, F_OK) < 0; i++)
                usleep(10000);
        return verdict(access(file, F_OK));
}

/* Forks up to N children that wait in pause(); prints how many it got and the first error,
 * then kills them. */
static int p_forkbomb(int n) {
        pid_t *pids = calloc((size_t) n, sizeof *pids);
        int got = 0, err = 0;

        if (!pids)
                return verdict(-1);
        for (; got < n; got++) {
                pid_t pid = fork();

                if (pid < 0) {
                        err = errno;
                        break;
                }
                if (pid == 0) {
                        pause();
                        _exit(0);
                }
                pids[got] = pid;
        }
        printf("forked=%d error=%s\n", got, err ? ename(err) : "none");
        fflush(stdout);
        for (int i = 0; i < got; i++)
                kill(pids[i], SIGKILL);
        for (int i = 0; i < got; i++)
                (void) wait_child(pids[i]);
        free(pids);
        return 0;
}

/* The real thing: every process forks forever. Only the pids limit (and the test's
 * --timeout) stops it. */
static __attribute__((noreturn)) void p_forkbomb_real(void) {
        printf("started\n");
        fflush(stdout);
        for (;;) {
                (void) fork();
                usleep(1000);
        }
}

/* Allocates and touches MB mebibytes, printing progress every 16 MiB. */
static int p_alloc(long mb) {
        for (long i = 0; i < mb; i++) {
                char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                               -1, 0);

                if (p == MAP_FAILED)
                        return verdict(-1);
                memset(p, 0x5a, 1 << 20);
                if (i % 16 == 15) {
                        printf("allocated=%ld\n", i + 1);
                        fflush(stdout);
                }
        }
        printf("allocated=%ld done\n", mb);
        return 0;
}

/* Writes READYFILE, then exits with CODE when signal SIG arrives (waits at most 60 s). */
static volatile sig_atomic_t trapped;
static void on_trap(int sig) {
        (void) sig;
        trapped = 1;
}

static int p_trap(int sig, int code, const char *ready) {
        struct sigaction sa = { .sa_handler = on_trap };

        if (sigaction(sig, &sa, NULL) < 0)
                return verdict(-1);
        if (ready) {
                int fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

                if (fd >= 0)
                        close(fd);
        }
        for (int i = 0; i < 6000 && !trapped; i++)
                usleep(10000);
        return trapped ? code : 99;
}

int main(int argc, char **argv) {
        const char *cmd;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc < 2)
                return usage();
        cmd = argv[1];
#define IS(s) (strcmp(cmd, (s)) == 0)
#define NEED(n)                          \
        do {                             \
                if (argc < 2 + (n))      \
                        return usage();  \
        } while (0)
        if (IS("read")) { NEED(1); return p_read(argv[2]); }
        if (IS("write")) { NEED(1); return p_write(argv[2], argc > 3 ? argv[3] : NULL); }
        if (IS("link")) { NEED(2); return verdict(link(argv[2], argv[3])); }
        if (IS("rename")) { NEED(2); return verdict(rename(argv[2], argv[3])); }
        if (IS("symlink")) { NEED(2); return verdict(symlink(argv[2], argv[3])); }
        if (IS("mkdir")) { NEED(1); return verdict(mkdir(argv[2], 0755)); }
        if (IS("unlink")) { NEED(1); return verdict(unlink(argv[2])); }
        if (IS("rmdir")) { NEED(1); return verdict(rmdir(argv[2])); }
        if (IS("chmod")) { NEED(2); return verdict(chmod(argv[2], (mode_t) strtoul(argv[3], NULL, 8))); }
        if (IS("mknod")) { NEED(1); return p_mknod(argv[2]); }
        if (IS("mount")) return p_mount();
        if (IS("pivot_root")) return p_pivot_root();
        if (IS("chroot")) return p_chroot();
        if (IS("unshare-user")) return p_unshare_user();
        if (IS("unshare-mount")) return p_unshare_mount();
        if (IS("clone-newuser")) return p_clone_newuser();
        if (IS("clone3")) return p_clone3();
        if (IS("bpf")) return p_bpf();
        if (IS("perf")) return p_perf();
        if (IS("userfaultfd")) return p_userfaultfd();
        if (IS("io_uring")) return p_io_uring();
        if (IS("keyctl")) return p_keyctl();
        if (IS("add_key")) return p_add_key();
        if (IS("personality")) return p_personality();
        if (IS("ptrace")) { NEED(1); return p_ptrace((pid_t) atoi(argv[2])); }
        if (IS("ptrace-self")) return p_ptrace_self();
        if (IS("kill")) { NEED(1); return p_kill((pid_t) atoi(argv[2])); }
        if (IS("settime")) return p_settime();
        if (IS("sethostname")) return p_sethostname();
        if (IS("setuid0")) return p_setuid0();
        if (IS("memfd-exec")) return p_memfd_exec();
        if (IS("tiocsti")) return p_tiocsti();
        if (IS("tty")) return p_tty();
        if (IS("winsize-wait")) { NEED(3); return p_winsize_wait((unsigned) atoi(argv[2]), (unsigned) atoi(argv[3]), atoi(argv[4])); }
        if (IS("caps")) return p_caps();
        if (IS("uid")) return p_uid();
        if (IS("fds")) return p_fds();
        if (IS("env")) return p_env();
        if (IS("pids")) return p_pids();
        if (IS("net")) { NEED(1); return p_net(atoi(argv[2])); }
        if (IS("sleep")) { NEED(1); return p_sleep(atoi(argv[2]), argc > 3 ? argv[3] : NULL, argc > 4 ? argv[4] : NULL); }
        if (IS("daemonize")) { NEED(2); return p_daemonize(argv[2], argv[3]); }
        if (IS("forkbomb")) { NEED(1); return p_forkbomb(atoi(argv[2])); }
        if (IS("forkbomb-real")) p_forkbomb_real();
        if (IS("alloc")) { NEED(1); return p_alloc(atol(argv[2])); }
        if (IS("trap")) { NEED(2); return p_trap(atoi(argv[2]), atoi(argv[3]), argc > 4 ? argv[4] : NULL); }
        if (IS("exit")) { NEED(1); return atoi(argv[2]); }
        if (IS("touch")) { NEED(1); return p_write(argv[2], NULL); }
        return usage();
}
