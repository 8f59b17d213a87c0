/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Escape attempts from inside a real sandbox (issue 3, "Tests"). Each test runs the probe
 * inside (`caisson run -- probe ATTACK`) and the same probe outside as its positive control:
 * outside, the attack reaches the kernel and works (or fails with an argument error that
 * proves it got past the permission check); inside it is refused. Without the layer under
 * test the two results would be the same, and the test fails. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "harness.h"

#define A(...) ((const char *const[]) { __VA_ARGS__, NULL })

TestSuite(escape, .init = h_require_root, .fini = h_cleanup, .timeout = 90);

/* A directory outside every policy list (and outside /tmp and /var/tmp, which are private
 * in the sandbox anyway), readable by nobody: DIR/secret holds "s3cret". */
static char *outside_dir(void) {
        char *d = strdup("/caisson-it-XXXXXX");
        char *f;

        cr_assert(mkdtemp(d));
        h_register_path(d);
        cr_assert_eq(chmod(d, 0755), 0);
        cr_assert_eq(chown(d, H_NOBODY, H_NOBODY), 0);
        f = h_path(d, "secret");
        h_write_file(f, "s3cret\n", 0644);
        cr_assert_eq(chown(f, H_NOBODY, H_NOBODY), 0);
        free(f);
        return d;
}

static pid_t host_sleeper(uid_t uid);

static void expect_refused(const char *what, const char *in, const char *out) {
        cr_expect_str_eq(out, "OK", "%s outside (positive control): %s", what, out);
        cr_expect_str_neq(in, "OK", "%s inside the sandbox succeeded", what);
}

Test(escape, read_outside_policy) {
        char *wd = h_workdir(NULL), *d = outside_dir(), *secret = h_path(d, "secret");
        char *ro;

        expect_refused("read a file outside the policy", h_probe_in(wd, NULL, A("read", secret)),
                       h_probe_out(true, A("read", secret)));
        expect_refused("list a directory outside the policy", h_probe_in(wd, NULL, A("read", d)),
                       h_probe_out(true, A("read", d)));
        /* The same path listed read-only is readable inside: the refusal above is the policy. */
        cr_assert(asprintf(&ro, "--ro=%s", d) > 0);
        cr_expect_str_eq(h_probe_in(wd, A(ro), A("read", secret)), "OK");
        /* The caller's own home and /root are not in the default view. */
        cr_expect_str_neq(h_probe_in(wd, NULL, A("read", "/root")), "OK");
        cr_expect_str_eq(h_probe_in(wd, NULL, A("read", "/etc/hostname")), "OK");
}

Test(escape, write_readonly_path) {
        char *wd = h_workdir(NULL), *d = outside_dir(), *f = h_path(d, "secret");
        char *n = h_path(d, "new"), *ro, *rw, *wf = h_path(wd, "mine");

        cr_assert(asprintf(&ro, "--ro=%s", d) > 0);
        cr_assert(asprintf(&rw, "--rw=%s", d) > 0);
        /* Listed read-only: neither an existing file nor a new one can be written. */
        cr_expect_str_neq(h_probe_in(wd, A(ro), A("write", f, "x")), "OK");
        cr_expect_str_neq(h_probe_in(wd, A(ro), A("write", n)), "OK");
        cr_expect_str_neq(h_probe_in(wd, A(ro), A("unlink", f)), "OK");
        cr_expect_str_neq(h_probe_in(wd, A(ro), A("chmod", f, "777")), "OK");
        cr_expect(!h_exists(n));
        cr_expect_str_eq(h_read_file(f), "s3cret\n");
        /* System paths of the default policy are read-only, even where nobody could write
         * on the host (/var/tmp is private, so use /etc and /usr). */
        cr_expect_str_neq(h_probe_in(wd, NULL, A("write", "/etc/caisson-it-probe")), "OK");
        cr_expect_str_neq(h_probe_in(wd, NULL, A("write", "/usr/caisson-it-probe")), "OK");
        cr_expect(!h_exists("/etc/caisson-it-probe") && !h_exists("/usr/caisson-it-probe"));
        /* Positive controls: nobody can write there on the host; listed read-write it can in
         * the sandbox; the workdir is read-write. */
        cr_expect_str_eq(h_probe_out(true, A("write", f)), "OK");
        cr_expect_str_eq(h_probe_in(wd, A(rw), A("write", n, "y")), "OK");
        cr_expect_str_eq(h_read_file(n), "y");
        cr_expect_str_eq(h_probe_in(wd, NULL, A("write", wf, "z")), "OK");
        cr_expect_str_eq(h_read_file(wf), "z");
}

Test(escape, hardlink_and_rename_across_boundary) {
        char *wd = h_workdir(NULL), *d = outside_dir(), *secret = h_path(d, "secret");
        char *in_wd = h_path(wd, "stolen"), *in_wd2 = h_path(wd, "stolen2");
        char *wfile = h_path(wd, "planted"), *into_ro = h_path(d, "planted");
        char *ro;

        cr_assert(asprintf(&ro, "--ro=%s", d) > 0);
        h_write_file(wfile, "plant\n", 0644);
        cr_assert_eq(chown(wfile, H_NOBODY, H_NOBODY), 0);

        /* A hard link from the read-only directory into the read-write workdir would make
         * the file writable through the new name; a rename would move it out (or in). */
        cr_expect_str_neq(h_probe_in(wd, A(ro), A("link", secret, in_wd)), "OK");
        cr_expect_str_neq(h_probe_in(wd, A(ro), A("rename", secret, in_wd2)), "OK");
        cr_expect_str_neq(h_probe_in(wd, A(ro), A("rename", wfile, into_ro)), "OK");
        cr_expect_str_neq(h_probe_in(wd, A(ro), A("link", wfile, into_ro)), "OK");
        cr_expect(!h_exists(in_wd) && !h_exists(in_wd2) && !h_exists(into_ro));
        cr_expect(h_exists(secret) && h_exists(wfile));
        /* Not listed at all: the same. */
        cr_expect_str_neq(h_probe_in(wd, NULL, A("link", secret, in_wd)), "OK");

        /* Positive control: on the host, nobody can do all four (same filesystem). */
        cr_expect_str_eq(h_probe_out(true, A("link", secret, in_wd)), "OK");
        cr_expect_str_eq(h_probe_out(true, A("rename", in_wd, in_wd2)), "OK");
        cr_expect_str_eq(h_probe_out(true, A("link", wfile, into_ro)), "OK");
        cr_expect_str_eq(h_probe_out(true, A("rename", into_ro, in_wd)), "OK");
        /* Inside, links and renames within the workdir work. */
        cr_expect_str_eq(h_probe_in(wd, NULL, A("link", wfile, h_path(wd, "l2"))), "OK");
        cr_expect_str_eq(h_probe_in(wd, NULL, A("rename", h_path(wd, "l2"), h_path(wd, "l3"))),
                         "OK");
}

Test(escape, symlinks_out_of_tmp) {
        char *wd = h_workdir(NULL), *d = outside_dir(), *secret = h_path(d, "secret");
        char *lnk = h_path(wd, "link-to-secret"), *script;
        struct h_result r;

        /* A symlink planted in the workdir on the host: followed inside, it resolves in the
         * sandbox's view, where the target does not exist. */
        cr_assert_eq(symlink(secret, lnk), 0);
        expect_refused("read through a workdir symlink", h_probe_in(wd, NULL, A("read", lnk)),
                       h_probe_out(true, A("read", lnk)));
        /* Symlinks made inside /tmp (private tmpfs) to the host's paths: to the secret, to
         * the host's /tmp, through /proc/self/root. */
        cr_assert(asprintf(&script,
                           "cd /tmp && ln -s %s s && ln -s /proc/1/root/%s p && "
                           "ln -s /proc/self/root%s q && "
                           "for f in s p q; do %s/probe read $f; done; "
                           "%s/probe read /proc/self/root/%s/probe",
                           secret, secret, secret, wd, wd, wd) > 0);
        h_caisson_run(wd, NULL, A("/bin/sh", "-c", script), NULL, &r);
        cr_assert_eq(r.code, 0, "%s", r.err);
        cr_expect_eq(h_count_lines(r.out), 4, "%s", r.out);
        cr_expect(strncmp(r.out, "ENOENT\n", 7) == 0 || strncmp(r.out, "EACCES\n", 7) == 0,
                  "symlink in /tmp to the secret: %s", r.out);
        cr_expect(strstr(r.out, "OK\n") && strstr(r.out, "OK\n") == r.out + strlen(r.out) - 3,
                  "only the last read (the probe itself, via /proc/self/root) may work: %s",
                  r.out);
        /* The host's /tmp is not the sandbox's /tmp. */
        h_write_file("/tmp/caisson-it-hosttmp", "x", 0644);
        h_register_path("/tmp/caisson-it-hosttmp");
        cr_expect_str_eq(h_probe_in(wd, NULL, A("read", "/tmp/caisson-it-hosttmp")), "ENOENT");
        cr_expect_str_eq(h_probe_out(true, A("read", "/tmp/caisson-it-hosttmp")), "OK");
}

Test(escape, proc_root_and_ppid_tricks) {
        char *wd = h_workdir(NULL), *d = outside_dir(), *secret = h_path(d, "secret");
        char *script;
        struct h_result r;
        char *via1;

        /* /proc/1 is the sandbox's init (root, non-dumpable): its root, cwd, fds and
         * environment are out of reach, and its root is the sandbox's anyway. /proc/$PPID is
         * the shell, same user: its root is the sandbox root, so the host path is absent. */
        cr_assert(asprintf(&script,
                           "P=%s/probe; "
                           "$P read /proc/1/root%s; $P read /proc/1/root/; $P read /proc/1/cwd/; "
                           "$P read /proc/1/environ; $P read /proc/1/mem; $P read /proc/1/fd/; "
                           "$P read /proc/$PPID/root%s; $P read /proc/$$/cwd/probe",
                           wd, secret, secret) > 0);
        h_caisson_run(wd, NULL, A("/bin/sh", "-c", script), NULL, &r);
        cr_assert_eq(r.code, 0, "%s", r.err);
        cr_expect_eq(h_count_lines(r.out), 8, "%s", r.out);
        {
                char *save = NULL, *line = strtok_r(r.out, "\n", &save);
                int i = 0;

                for (; line; line = strtok_r(NULL, "\n", &save), i++)
                        if (i < 7)
                                cr_expect_str_neq(line, "OK", "proc trick #%d worked", i);
                        else /* positive control: /proc/<pid>/cwd resolves for our own shell */
                                cr_expect_str_eq(line, "OK", "proc control: %s", line);
        }
        /* Positive control on the host: the root of another process of the same user leads
         * to the secret. */
        cr_assert(asprintf(&via1, "/proc/%d/root%s", (int) host_sleeper(H_NOBODY), secret) > 0);
        cr_expect_str_eq(h_probe_out(true, A("read", via1)), "OK");
        h_result_done(&r);
}

Test(escape, mount_pivot_root_chroot_mknod) {
        char *wd = h_workdir(NULL), *node = h_path(wd, "null2");
        static const char *const calls[] = { "mount", "pivot_root", "chroot", "unshare-mount" };

        for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
                char *in = h_probe_in(wd, NULL, A(calls[i]));
                char *out = h_probe_out(false, A(calls[i]));

                cr_expect_str_eq(in, "EPERM", "%s inside: %s", calls[i], in);
                cr_expect_str_neq(out, "EPERM", "%s outside (positive control): %s", calls[i], out);
        }
        /* mknod: no CAP_MKNOD inside (and nodev everywhere); root on the host makes it. */
        expect_refused("mknod", h_probe_in(wd, NULL, A("mknod", node)),
                       h_probe_out(false, A("mknod", node)));
        cr_expect(!h_exists(node));
}

static pid_t host_sleeper(uid_t uid) {
        struct h_proc p;
        struct h_opts o = { .as_user = true, .uid = uid };

        char comm[64];

        h_spawn(A("/bin/sleep", "300"), &o, &p);
        h_register_pid(p.pid);
        close(p.out_fd);
        close(p.err_fd);
        /* Until it has exec'd, it is still our root-owned fork. */
        (void) snprintf(comm, sizeof comm, "/proc/%d/comm", (int) p.pid);
        for (int i = 0; i < 500; i++) {
                char *c = h_read_file(comm);
                bool done = c && strcmp(c, "sleep\n") == 0;

                free(c);
                if (done)
                        break;
                usleep(2000);
        }
        return p.pid;
}

Test(escape, ptrace_and_kill_host_process) {
        char *wd = h_workdir(NULL), pid[16];
        /* A host process of the sandbox's own uid: the real target. */
        pid_t victim = host_sleeper(H_NOBODY);
        int st;

        (void) snprintf(pid, sizeof pid, "%d", victim);
        expect_refused("kill(host pid, 0)", h_probe_in(wd, NULL, A("kill", pid)),
                       h_probe_out(true, A("kill", pid)));
        expect_refused("ptrace(ATTACH, host pid)", h_probe_in(wd, NULL, A("ptrace", pid)),
                       h_probe_out(false, A("ptrace", pid)));
        /* ptrace itself is filtered, not just out of reach. */
        cr_expect_str_eq(h_probe_in(wd, NULL, A("ptrace-self")), "EPERM");
        cr_expect_str_eq(h_probe_out(true, A("ptrace-self")), "OK");
        /* The victim is alive and untraced. */
        cr_expect_eq(waitpid(victim, &st, WNOHANG), 0, "host process died");
        cr_expect_eq(kill(victim, 0), 0);
}

Test(escape, new_user_namespace) {
        char *wd = h_workdir(NULL);

        /* unshare and clone with CLONE_NEWUSER: EPERM from the filter; clone3: ENOSYS (its
         * flags are in memory the filter cannot read; glibc falls back to clone). */
        expect_refused("unshare(CLONE_NEWUSER)", h_probe_in(wd, NULL, A("unshare-user")),
                       h_probe_out(true, A("unshare-user")));
        expect_refused("clone(CLONE_NEWUSER)", h_probe_in(wd, NULL, A("clone-newuser")),
                       h_probe_out(true, A("clone-newuser")));
        cr_expect_str_eq(h_probe_in(wd, NULL, A("clone3")), "ENOSYS");
        cr_expect_str_eq(h_probe_out(true, A("clone3")), "OK");
}

Test(escape, denied_syscalls) {
        char *wd = h_workdir(NULL);
        static const struct {
                const char *probe, *inside;
        } t[] = {
                { "bpf", "EPERM" },       { "perf", "EPERM" },     { "userfaultfd", "EPERM" },
                { "io_uring", "ENOSYS" }, { "keyctl", "EPERM" },   { "add_key", "EPERM" },
                { "settime", "EPERM" },   { "sethostname", "EPERM" },
        };

        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
                char *in = h_probe_in(wd, NULL, A(t[i].probe));
                /* As root outside: the call gets past every permission check. */
                char *out = h_probe_out(false, A(t[i].probe));

                cr_expect_str_eq(in, t[i].inside, "%s inside: %s", t[i].probe, in);
                cr_expect_str_neq(out, t[i].inside, "%s outside (positive control): %s",
                                  t[i].probe, out);
                cr_expect_str_neq(out, "EPERM", "%s outside: %s", t[i].probe, out);
        }
        /* personality: the query works inside (glibc, Python call it), a change does not. */
        cr_expect_str_eq(h_probe_in(wd, NULL, A("personality")), "query=OK set=EPERM");
        cr_expect_str_eq(h_probe_out(true, A("personality")), "query=OK set=OK");
}

Test(escape, fileless_exec) {
        char *wd = h_workdir(NULL), *script;
        char *in = h_probe_in(wd, NULL, A("memfd-exec"));
        struct h_result r;

        /* memfd_create stays allowed (V8, CUDA); exec of one, by either route, does not. */
        cr_expect(strncmp(in, "memfd=OK ", 9) == 0, "memfd_create inside: %s", in);
        cr_expect(strstr(in, "proc=EACCES"), "exec via /proc/self/fd inside: %s", in);
        cr_expect(strstr(in, "empty_path=EACCES"), "execveat(AT_EMPTY_PATH) inside: %s", in);
        cr_expect_str_eq(h_probe_out(true, A("memfd-exec")), "memfd=OK proc=OK empty_path=OK");
        /* A file the agent writes can still be executed (agents build and run code). */
        cr_assert(asprintf(&script, "cp /bin/true %s/t && %s/t && cp /bin/true /tmp/t && /tmp/t "
                                    "&& echo ran", wd, wd) > 0);
        h_caisson_run(wd, NULL, A("/bin/sh", "-c", script), NULL, &r);
        cr_expect_eq(r.code, 0, "%s", r.err);
        cr_expect_str_eq(r.out, "ran\n");
        h_result_done(&r);
        /* The host's setting is untouched (it is set inside the sandbox's pid namespace). */
        cr_expect_str_eq(h_read_file("/proc/sys/vm/memfd_noexec"), "0\n");
}

/* TIOCSTI into the caller's terminal: caisson runs with a pty slave as its controlling
 * terminal and stdin. Inside, TIOCSTI (and its high-bits variant) is refused and nothing
 * reaches the caller's input queue; outside, the same probe injects. */
static void tiocsti_case(const char *mode) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe");
        int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave, queued = -1;
        struct h_opts o = { .ctty = true };
        struct h_result r;

        cr_assert(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
        slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
        cr_assert(slave >= 0);
        {
                /* Non-canonical, so FIONREAD counts an injected byte without a newline. */
                struct termios t;

                cr_assert_eq(tcgetattr(slave, &t), 0);
                cfmakeraw(&t);
                cr_assert_eq(tcsetattr(slave, TCSANOW, &t), 0);
        }
        o.ctty_fd = slave;

        h_caisson_run(wd, A(mode), A(probe, "tiocsti"), &o, &r);
        cr_assert_eq(r.code, 0, "%s", r.err);
        cr_expect(strstr(r.out, "fd0=EPERM") || strstr(r.out, "fd0=ENOTTY"), "%s: %s", mode, r.out);
        cr_expect(!strstr(r.out, "=OK"), "TIOCSTI worked inside (%s): %s", mode, r.out);
        cr_expect_eq(ioctl(slave, FIONREAD, &queued), 0);
        cr_expect_eq(queued, 0, "%d bytes were injected into the caller's terminal", queued);
        h_result_done(&r);

        /* Positive control: the probe on the host, same terminal, injects. */
        {
                const char *argv[] = { h_probe(), "tiocsti", NULL };

                h_run(argv, &o, &r);
                cr_expect(strstr(r.out, "fd0=OK fd0_hi=OK tty=OK"), "outside: %s", r.out);
                cr_expect_eq(ioctl(slave, FIONREAD, &queued), 0);
                cr_expect_gt(queued, 0, "control injected nothing");
                h_result_done(&r);
        }
        close(slave);
        close(master);
}

Test(escape, tiocsti_caller_terminal_pipes) {
        tiocsti_case("-T");
}

Test(escape, tiocsti_caller_terminal_pty) {
        tiocsti_case("-t");
}

Test(escape, setuid_binary_gains_nothing) {
        char *wd = h_workdir(NULL), *suid = h_path(wd, "suid-probe"), *in, *out;
        const char *cp[] = { "/bin/cp", h_probe(), suid, NULL };
        struct h_result r;

        h_run(cp, NULL, &r);
        cr_assert_eq(r.code, 0);
        cr_assert_eq(chown(suid, 0, 0), 0);
        cr_assert_eq(chmod(suid, 04755), 0);
        in = h_first_line(({
                h_caisson_run(wd, NULL, A(suid, "uid"), NULL, &r);
                cr_assert_eq(r.code, 0, "%s", r.err);
                r.out;
        }));
        cr_expect(strstr(in, "uid=65534 euid=65534 suid=65534"), "setuid root inside: %s", in);
        /* Positive control: on the host, nobody running it becomes euid 0. */
        {
                const char *argv[] = { suid, "uid", NULL };
                struct h_opts o = { .as_user = true, .uid = H_NOBODY };

                h_run(argv, &o, &r);
                out = h_first_line(r.out);
                cr_expect(strstr(out, "uid=65534 euid=0"), "setuid control outside: %s", out);
        }
}

Test(escape, file_capabilities_gain_nothing) {
        char *wd = h_workdir(NULL), *capf = h_path(wd, "cap-probe"), *in, *out;
        const char *cp[] = { "/bin/cp", h_probe(), capf, NULL };
        const char *setcap[] = { "/usr/sbin/setcap", "cap_net_raw,cap_sys_admin+ep", capf, NULL };
        struct h_result r;

        if (!h_exists("/usr/sbin/setcap"))
                cr_skip_test("setcap (libcap2-bin) is not installed");
        h_run(cp, NULL, &r);
        cr_assert_eq(r.code, 0);
        h_run(setcap, NULL, &r);
        cr_assert_eq(r.code, 0, "setcap: %s", r.err);
        h_caisson_run(wd, NULL, A(capf, "caps"), NULL, &r);
        cr_assert_eq(r.code, 0, "%s", r.err);
        in = h_first_line(r.out);
        cr_expect(strstr(in, "CapPrm=0000000000000000 CapEff=0000000000000000"),
                  "file capabilities inside: %s", in);
        {
                const char *argv[] = { capf, "caps", NULL };
                struct h_opts o = { .as_user = true, .uid = H_NOBODY };

                h_run(argv, &o, &r);
                out = h_first_line(r.out);
                /* cap_net_raw is bit 13, cap_sys_admin bit 21: 0x202000. */
                cr_expect(strstr(out, "CapEff=0000000000202000"), "file caps control: %s", out);
        }
}

Test(escape, capabilities_zero_and_no_new_privs) {
        char *wd = h_workdir(NULL);
        char *in = h_probe_in(wd, NULL, A("caps")), *out = h_probe_out(false, A("caps"));

        cr_expect_str_eq(in, "CapInh=0000000000000000 CapPrm=0000000000000000 "
                             "CapEff=0000000000000000 CapBnd=0000000000000000 "
                             "CapAmb=0000000000000000 NoNewPrivs=1 Seccomp=2 ");
        cr_expect(!strstr(out, "CapEff=0000000000000000"), "control: %s", out);
        cr_expect(strstr(out, "NoNewPrivs=0"), "control: %s", out);
}

Test(escape, not_uid_zero) {
        char *wd = h_workdir(NULL);
        char *in = h_probe_in(wd, NULL, A("uid"));

        cr_expect_str_eq(in, "uid=65534 euid=65534 suid=65534 gid=65534 egid=65534 sgid=65534 "
                             "groups=");
        cr_expect_str_eq(h_probe_in(wd, NULL, A("setuid0")), "EPERM");
        cr_expect(strncmp(h_probe_out(false, A("uid")), "uid=0 euid=0", 12) == 0);
        cr_expect_str_eq(h_probe_out(false, A("setuid0")), "OK");
}

Test(escape, no_inherited_fds) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe");
        int keep[4], p[2], s[2];
        struct h_opts o = { .keep_fds = keep, .n_keep = 4 };
        struct h_result r;

        keep[0] = open("/etc/hostname", O_RDONLY);
        cr_assert(pipe(p) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
        keep[1] = p[1];
        keep[2] = s[0];
        keep[3] = open("/", O_RDONLY | O_DIRECTORY); /* a host directory fd: openat() escape */
        h_caisson_run(wd, NULL, A(probe, "fds"), &o, &r);
        cr_assert_eq(r.code, 0, "%s", r.err);
        cr_expect(strncmp(r.out, "fds=0:", 6) == 0 && h_count_lines(r.out) == 1, "%s", r.out);
        {
                char *line = h_first_line(r.out);
                int n = 0;

                for (char *c = line; *c; c++)
                        n += *c == ',';
                cr_expect_eq(n, 2, "fds beyond 0-2 inside: %s", line);
        }
        h_result_done(&r);
        /* Positive control: the probe run directly with the same fds sees them. */
        {
                const char *argv[] = { h_probe(), "fds", NULL };
                char want[32], *at;

                h_run(argv, &o, &r);
                (void) snprintf(want, sizeof want, ",%d:/", keep[3]);
                at = strstr(r.out, want);
                cr_expect(at && (at[strlen(want)] == ',' || at[strlen(want)] == '\n'),
                          "control: %s", r.out);
                h_result_done(&r);
        }
}

Test(escape, caller_environment_not_visible) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe");
        const char *env[] = { "SECRET=hunter2-caisson-it", "AWS_SECRET_ACCESS_KEY=xyz-it", NULL };
        struct h_opts o = { .setenv = env };
        struct h_result r;
        char *script;

        h_caisson_run(wd, NULL, A(probe, "env"), &o, &r);
        cr_assert_eq(r.code, 0, "%s", r.err);
        cr_expect(!strstr(r.out, "hunter2") && !strstr(r.out, "xyz-it"), "%s", r.out);
        cr_expect(strstr(r.out, "PATH="), "%s", r.out);
        cr_expect(strstr(r.out, "HOME="), "%s", r.out);
        h_result_done(&r);
        /* Nor through /proc: init's environment, our own initial one. */
        cr_assert(asprintf(&script, "cat /proc/1/environ /proc/self/environ /proc/$$/environ "
                                    "2>/dev/null | tr '\\0' '\\n'; echo done") > 0);
        h_caisson_run(wd, NULL, A("/bin/sh", "-c", script), &o, &r);
        cr_expect(!strstr(r.out, "hunter2"), "SECRET visible through /proc: %s", r.out);
        cr_expect(strstr(r.out, "done"));
        h_result_done(&r);
        /* Positive control: --env SECRET passes the caller's value (not on the command line). */
        h_caisson_run(wd, A("--env", "SECRET"), A(probe, "env"), &o, &r);
        cr_assert_eq(r.code, 0, "%s", r.err);
        cr_expect(strstr(r.out, "SECRET=hunter2-caisson-it\n"), "%s", r.out);
        cr_expect(!strstr(r.out, "xyz-it"), "%s", r.out);
        h_result_done(&r);
}

Test(escape, host_pids_not_visible) {
        char *wd = h_workdir(NULL), *in, *out, pid[16], *script;
        pid_t victim = host_sleeper(H_NOBODY);
        struct h_result r;
        int n_in, n_out;

        (void) snprintf(pid, sizeof pid, "%d", victim);
        in = h_probe_in(wd, NULL, A("pids"));
        out = h_probe_out(true, A("pids"));
        cr_assert(sscanf(strstr(in, "count="), "count=%d", &n_in) == 1);
        cr_assert(sscanf(strstr(out, "count="), "count=%d", &n_out) == 1);
        /* init and the probe. */
        cr_expect_leq(n_in, 3, "pids inside: %s", in);
        cr_expect_gt(n_out, n_in + 2, "control: %s", out);
        cr_expect(strstr(in, "pids=1,"), "init is pid 1 inside: %s", in);
        cr_expect(!strstr(in, pid) || victim < 10, "host pid visible: %s", in);
        /* ps agrees. */
        cr_assert(asprintf(&script, "ps -e --no-headers | wc -l") > 0);
        h_caisson_run(wd, NULL, A("/bin/sh", "-c", script), NULL, &r);
        if (r.code == 0)
                cr_expect_leq(atoi(r.out), 5, "ps inside: %s", r.out);
        h_result_done(&r);
}

Test(escape, no_network) {
        char *wd = h_workdir(NULL), port[16], *in, *out;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sa;
        int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        /* A listener on the host's loopback: reachable from the host, not from the sandbox
         * (its lo is its own). */
        cr_assert(l >= 0 && bind(l, (struct sockaddr *) &sa, sizeof sa) == 0 && listen(l, 8) == 0);
        cr_assert_eq(getsockname(l, (struct sockaddr *) &sa, &len), 0);
        (void) snprintf(port, sizeof port, "%d", ntohs(sa.sin_port));
        in = h_probe_in(wd, NULL, A("net", port));
        out = h_probe_out(true, A("net", port));
        cr_expect(strncmp(in, "ifaces=lo ", 10) == 0, "interfaces inside: %s", in);
        cr_expect(strstr(in, "loopback_connect=ECONNREFUSED"), "inside: %s", in);
        cr_expect(strstr(in, "route_out=ENETUNREACH"), "inside: %s", in);
        cr_expect(strstr(in, "packet=EPERM") && strstr(in, "raw=EPERM"), "inside: %s", in);
        cr_expect(strstr(out, "loopback_connect=OK"), "control: %s", out);
        close(l);
}

static void git(const char *wd, const char *const *args) {
        const char *argv[16] = { "/usr/bin/git", "-C", wd };
        size_t n = 3;
        const char *env[] = { "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid",
                              "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid",
                              "GIT_CONFIG_NOSYSTEM=1", "HOME=/nonexistent", NULL };
        struct h_opts o = { .setenv = env, .as_user = true, .uid = H_NOBODY };
        struct h_result r;

        for (; *args && n < 15; args++)
                argv[n++] = *args;
        argv[n] = NULL;
        h_run(argv, &o, &r);
        cr_assert_eq(r.code, 0, "git %s: %s", argv[3], r.err);
        h_result_done(&r);
}

Test(escape, git_persistence_paths) {
        char *wd = h_workdir(NULL), *hook = h_path(wd, ".git/hooks/post-checkout");
        char *cfg = h_path(wd, ".git/config"), *cfg_before, *script;
        struct h_result r;

        if (!h_exists("/usr/bin/git"))
                cr_skip_test("git is not installed");
        git(wd, A("init", "-q"));
        h_write_file(h_path(wd, "a.txt"), "a\n", 0644);
        cr_assert_eq(chown(h_path(wd, "a.txt"), H_NOBODY, H_NOBODY), 0);
        git(wd, A("add", "a.txt"));
        git(wd, A("commit", "-q", "-m", "first"));
        cr_assert(h_exists(h_path(wd, ".git/hooks")), "git init made no hooks directory");
        cfg_before = h_read_file(cfg);

        cr_expect_str_neq(h_probe_in(wd, NULL, A("write", hook, "#!/bin/sh\necho pwned\n")), "OK");
        cr_expect_str_neq(h_probe_in(wd, NULL, A("write", cfg, "[core]\nfsmonitor=evil\n")), "OK");
        cr_expect_str_neq(h_probe_in(wd, NULL, A("rename", h_path(wd, ".git"), h_path(wd, ".git2"))),
                          "OK");
        cr_expect_str_neq(h_probe_in(wd, NULL, A("rename", h_path(wd, ".git/hooks"),
                                                 h_path(wd, ".git/hooks2"))), "OK");
        cr_expect(!h_exists(hook), "hook planted");
        cr_expect_str_eq(h_read_file(cfg), cfg_before);
        cr_expect(h_exists(h_path(wd, ".git/HEAD")) && !h_exists(h_path(wd, ".git2")));

        /* git keeps working: add and commit inside. */
        cr_assert(asprintf(&script, "echo b > b.txt && git add b.txt && git commit -q -m second "
                                    "&& git branch feature && git log --oneline | wc -l") > 0);
        h_caisson_run(wd, A("--env", "GIT_AUTHOR_NAME=t", "--env", "GIT_AUTHOR_EMAIL=t@e.invalid",
                            "--env", "GIT_COMMITTER_NAME=t", "--env",
                            "GIT_COMMITTER_EMAIL=t@e.invalid"),
                      A("/bin/sh", "-c", script), NULL, &r);
        cr_expect_eq(r.code, 0, "git commit inside: %s", r.err);
        cr_expect_str_eq(r.out, "2\n", "%s", r.err);
        h_result_done(&r);

        /* Positive control: on the host, nobody can write both (and move .git). */
        cr_expect_str_eq(h_probe_out(true, A("write", hook, "#!/bin/sh\n")), "OK");
        cr_expect_str_eq(h_probe_out(true, A("write", cfg)), "OK");
        cr_expect_str_eq(h_probe_out(true, A("rename", h_path(wd, ".git"), h_path(wd, ".git2"))), "OK");
}

Test(escape, other_persistence_paths) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *ev = h_path(wd, "ev.jsonl");
        static const char *const names[] = { ".envrc", ".mcp.json", ".bashrc", ".gitmodules",
                                             ".vscode/tasks.json", ".claude/settings.json" };
        char *script, *evarg;
        struct h_result r;

        cr_assert_eq(mkdir(h_path(wd, ".vscode"), 0755), 0);
        cr_assert_eq(mkdir(h_path(wd, ".claude"), 0755), 0);
        cr_assert_eq(chown(h_path(wd, ".vscode"), H_NOBODY, H_NOBODY), 0);
        cr_assert_eq(chown(h_path(wd, ".claude"), H_NOBODY, H_NOBODY), 0);
        /* A .git *file* (a worktree or submodule) points git at a directory: protected. */
        h_write_file(h_path(wd, ".git"), "gitdir: /nonexistent\n", 0644);
        cr_assert_eq(chown(h_path(wd, ".git"), H_NOBODY, H_NOBODY), 0);
        h_write_file(h_path(wd, "evil"), "echo pwned\n", 0644);
        cr_assert_eq(chown(h_path(wd, "evil"), H_NOBODY, H_NOBODY), 0);
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                char *f = h_path(wd, names[i]);

                h_write_file(f, "# original\n", 0644);
                cr_assert_eq(chown(f, H_NOBODY, H_NOBODY), 0);
        }
        /* Every route: write, truncate-by-rename over it, unlink, move its directory away. */
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                char *f = h_path(wd, names[i]);

                cr_expect_str_neq(h_probe_in(wd, NULL, A("write", f, "echo pwned\n")), "OK",
                                  "write %s", names[i]);
                cr_expect_str_neq(h_probe_in(wd, NULL, A("rename", h_path(wd, "evil"), f)), "OK",
                                  "rename over %s", names[i]);
                cr_expect_str_neq(h_probe_in(wd, NULL, A("unlink", f)), "OK", "unlink %s",
                                  names[i]);
                cr_expect_str_eq(h_read_file(f), "# original\n", "%s changed", names[i]);
        }
        cr_expect_str_neq(h_probe_in(wd, NULL, A("rename", h_path(wd, ".vscode"),
                                                 h_path(wd, "vs2"))), "OK");
        cr_expect_str_neq(h_probe_in(wd, NULL, A("write", h_path(wd, ".git"), "gitdir: /tmp\n")),
                          "OK");
        cr_expect_str_eq(h_read_file(h_path(wd, ".git")), "gitdir: /nonexistent\n");
        /* Positive control: nobody can write them on the host. */
        cr_expect_str_eq(h_probe_out(true, A("write", h_path(wd, ".envrc"))), "OK");
        cr_expect_str_eq(h_probe_out(true, A("write", h_path(wd, ".git"))), "OK");

        /* A persistence file that did not exist at launch cannot be covered: it is reported
         * at exit, on stderr and as an event. */
        cr_assert(asprintf(&evarg, "--events=%s", ev) > 0);
        cr_assert(asprintf(&script, "%s write %s/.zshrc 'echo pwned'", probe, wd) > 0);
        h_caisson_run(wd, A(evarg), A("/bin/sh", "-c", script), NULL, &r);
        cr_expect_eq(r.code, 0, "%s", r.err);
        cr_expect_str_eq(r.out, "OK\n");
        cr_expect(strstr(r.err, ".zshrc"), "not reported on stderr: %s", r.err);
        cr_expect(h_read_file(ev) && strstr(h_read_file(ev), ".zshrc"), "no event: %s",
                  h_read_file(ev));
        h_result_done(&r);
        /* Control: a run that creates none reports none. */
        h_caisson_run(wd, NULL, A(probe, "write", h_path(wd, "plain.txt")), NULL, &r);
        cr_expect_eq(r.code, 0);
        cr_expect_str_eq(r.err, "");
        h_result_done(&r);
}
