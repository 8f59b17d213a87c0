/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caisson run's lifecycle with real sandboxes: exit codes, signal propagation, the tree
 * dying with the agent and with the supervisor, gc, resource limits, seccomp's kill mode
 * and denial events, Landlock fail-closed. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define A(...) ((const char *const[]) { __VA_ARGS__, NULL })

TestSuite(run, .init = h_require_root, .fini = h_cleanup, .timeout = 120);

static int run_code(const char *wd, const char *const *args, const char *const *cmd,
                    struct h_result *r) {
        h_caisson_run(wd, args, cmd, NULL, r);
        return r->code;
}

Test(run, exit_codes) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *noexec = h_path(wd, "noexec");
        struct h_result r;

        cr_expect_eq(run_code(wd, NULL, A(probe, "exit", "0"), &r), 0, "%s", r.err);
        cr_expect_eq(run_code(wd, NULL, A(probe, "exit", "3"), &r), 3, "%s", r.err);
        cr_expect_eq(run_code(wd, NULL, A(probe, "exit", "200"), &r), 200, "%s", r.err);
        /* Killed by a signal: 128+N, as a shell reports it. */
        cr_expect_eq(run_code(wd, NULL, A("/bin/sh", "-c", "kill -SEGV $$"), &r), 128 + SIGSEGV,
                     "%s", r.err);
        cr_expect_eq(run_code(wd, NULL, A("/bin/sh", "-c", "kill -KILL $$"), &r), 128 + SIGKILL,
                     "%s", r.err);
        /* Not found / not executable: 127 / 126, one line on stderr. */
        cr_expect_eq(run_code(wd, NULL, A("/nonexistent-caisson-it"), &r), 127, "%s", r.err);
        cr_expect_eq(h_count_lines(r.err), 1, "stderr: %s", r.err);
        cr_expect_eq(run_code(wd, NULL, A("no-such-command-caisson-it"), &r), 127, "%s", r.err);
        h_write_file(noexec, "#!/bin/sh\necho ran\n", 0644);
        cr_expect_eq(run_code(wd, NULL, A(noexec), &r), 126, "%s", r.err);
        cr_expect_str_eq(r.out, "");
        cr_expect_eq(run_code(wd, NULL, A(wd), &r), 126, "a directory: %s", r.err);
        /* Positive control: once executable, it runs. */
        cr_assert_eq(chmod(noexec, 0755), 0);
        cr_expect_eq(run_code(wd, NULL, A(noexec), &r), 0, "%s", r.err);
        cr_expect_str_eq(r.out, "ran\n");
}

Test(run, timeout) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe");
        struct h_result r;

        cr_expect_eq(run_code(wd, A("--timeout", "1s"), A(probe, "sleep", "60"), &r), 124,
                     "%s", r.err);
        cr_expect_lt(r.secs, 10, "took %.1f s", r.secs);
        cr_expect_geq(r.secs, 0.9, "took %.2f s", r.secs);
        /* Control: a timeout that does not run out changes nothing. */
        cr_expect_eq(run_code(wd, A("--timeout", "1m"), A(probe, "exit", "5"), &r), 5, "%s",
                     r.err);
}

Test(run, not_root_exits_125) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *marker = h_path(wd, "ran");
        const char *argv[] = { h_caisson(), "run", "--workdir", wd, "--", probe, "touch", marker,
                               NULL };
        struct h_opts o = { .as_user = true, .uid = H_NOBODY };
        struct h_result r;

        h_run(argv, &o, &r);
        cr_expect_eq(r.code, 125, "%s", r.err);
        cr_expect_eq(h_count_lines(r.err), 1, "stderr: %s", r.err);
        cr_expect(strstr(r.err, "root"), "stderr: %s", r.err);
        cr_expect(!h_exists(marker), "the agent ran without root");
        /* Control: as root it runs. */
        h_run(argv, NULL, &r);
        cr_expect_eq(r.code, 0, "%s", r.err);
        cr_expect(h_exists(marker));
}

Test(run, sigterm_reaches_agent) {
        static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };

        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
                char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *ready = h_path(wd, "ready");
                char sig[8];
                const char *argv[] = { h_caisson(), "run", "--workdir", wd, "--", probe, "trap",
                                       sig, "7", ready, NULL };
                struct h_proc p;
                struct h_result r;

                (void) snprintf(sig, sizeof sig, "%d", sigs[i]);
                h_spawn(argv, NULL, &p);
                h_register_pid(p.pid);
                cr_assert(h_wait_path(ready, 10000), "agent never started");
                cr_assert_eq(kill(p.pid, sigs[i]), 0);
                h_wait(&p, 30, &r);
                /* The agent traps it and exits 7: the signal reached it, and its code is ours. */
                cr_expect_eq(r.code, 7, "signal %d: exit %d: %s", sigs[i], r.code, r.err);
        }
}

Test(run, sigterm_default_action_is_128_plus_n) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *ready = h_path(wd, "ready");
        const char *argv[] = { h_caisson(), "run", "--workdir", wd, "--", probe, "sleep", "60",
                               ready, NULL };
        struct h_proc p;
        struct h_result r;

        h_spawn(argv, NULL, &p);
        h_register_pid(p.pid);
        cr_assert(h_wait_path(ready, 10000), "agent never started");
        cr_assert_eq(kill(p.pid, SIGTERM), 0);
        h_wait(&p, 30, &r);
        cr_expect_eq(r.code, 128 + SIGTERM, "%s", r.err);
        cr_expect_lt(r.secs, 20);
}

Test(run, daemonized_grandchild_does_not_survive) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *pidfile = h_path(wd, "pid");
        char *up = h_path(wd, "up"), token[64], *script;
        struct h_proc p;
        struct h_result r;
        pid_t found[8];

        (void) snprintf(token, sizeof token, "caisson-it-daemon-%d", getpid());
        cr_assert(asprintf(&script, "%s daemonize %s %s && %s touch %s && %s sleep 3", probe,
                           pidfile, token, probe, up, probe) > 0);
        {
                const char *argv[] = { h_caisson(), "run", "--workdir", wd, "--", "/bin/sh", "-c",
                                       script, NULL };

                h_spawn(argv, NULL, &p);
                h_register_pid(p.pid);
        }
        cr_assert(h_wait_path(up, 10000), "daemon never started");
        /* Positive control: while the agent runs, the daemon is there, on the host too. */
        cr_expect_eq(h_find_procs(token, found, 8), 1, "daemon not found on the host");
        h_wait(&p, 30, &r);
        cr_expect_eq(r.code, 0, "%s", r.err);
        /* The agent (sh) exited: caisson killed the rest of the tree before it returned. */
        cr_expect_eq(h_find_procs(token, found, 8), 0, "the daemon survived the sandbox");
        for (int n = h_find_procs(token, found, 8); n-- > 0;) {
                h_register_pid(found[n]);
                (void) kill(found[n], SIGKILL);
        }
}

static void read_state_ids(char ids[][64], int *n, int max) {
        FILE *f = popen("ls /run/caisson 2>/dev/null", "re");
        char line[128];

        *n = 0;
        while (f && fgets(line, sizeof line, f) && *n < max) {
                line[strcspn(line, "\n")] = 0;
                (void) snprintf(ids[(*n)++], 64, "%.63s", line);
        }
        if (f)
                pclose(f);
}

/* The supervisor SIGKILLed mid-run (extra: more `caisson run` options, NULL-terminated):
 * the sandbox dies with it, and gc reclaims its state directory and cgroups. */
static void sigkill_then_gc(const char *const *extra) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *ready = h_path(wd, "ready");
        char token[64], id[64], state[128], dirs[16][512];
        const char *argv[16] = { h_caisson(), "run", "--workdir", wd };
        size_t k = 4;
        char *script;
        struct h_proc p;
        struct h_result r;
        pid_t found[8];
        int n, ndirs;

        (void) snprintf(token, sizeof token, "caisson-it-orphan-%d", getpid());
        /* The agent and a background child of it, both long sleepers. */
        cr_assert(asprintf(&script, "%s sleep 300 %s.bg %s & %s sleep 300 %s %s", probe, ready,
                           token, probe, ready, token) > 0);
        for (; extra && *extra && k < 10; extra++)
                argv[k++] = *extra;
        argv[k++] = "--";
        argv[k++] = "/bin/sh";
        argv[k++] = "-c";
        argv[k++] = script;
        argv[k] = NULL;
        h_spawn(argv, NULL, &p);
        h_register_pid(p.pid);
        cr_assert(h_wait_path(ready, 10000), "agent never started");
        {
                char *bg = NULL;

                cr_assert(asprintf(&bg, "%s.bg", ready) > 0);
                cr_assert(h_wait_path(bg, 10000), "background child never started");
        }
        n = h_find_procs(token, found, 8);
        cr_assert_eq(n, 2, "positive control: both sandbox processes visible on the host");
        cr_assert_eq(h_sandbox_id_of(found[0], id, sizeof id), 0, "not in a caisson cgroup");
        (void) snprintf(state, sizeof state, "/run/caisson/%s", id);
        cr_expect(h_exists(state), "no state at %s", state);
        ndirs = h_cgroup_dirs_of(id, dirs, 16);
        cr_expect_gt(ndirs, 0, "no cgroup for %s", id);

        /* SIGKILL: the supervisor has no chance to clean up. */
        cr_assert_eq(kill(p.pid, SIGKILL), 0);
        h_wait(&p, 30, &r);
        cr_expect_eq(r.code, 128 + SIGKILL);
        /* The sandbox dies with it (init's parent-death signal). */
        for (int i = 0; i < 500 && h_find_procs(token, found, 8) > 0; i++)
                usleep(10000);
        n = h_find_procs(token, found, 8);
        for (int i = 0; i < n; i++)
                h_register_pid(found[i]);
        cr_expect_eq(n, 0, "%d sandbox processes survived the supervisor", n);

        /* gc reclaims the state and the cgroups. */
        {
                const char *gc[] = { h_caisson(), "gc", NULL };

                h_run(gc, NULL, &r);
                cr_expect_eq(r.code, 0, "gc: %s", r.err);
                cr_expect(strstr(r.out, id), "gc did not name %s: %s", id, r.out);
        }
        cr_expect(!h_exists(state), "%s left after gc", state);
        for (int i = 0; i < ndirs; i++)
                cr_expect(!h_exists(dirs[i]), "%s left after gc", dirs[i]);
        {
                char ids[64][64];
                int m;

                read_state_ids(ids, &m, 64);
                for (int i = 0; i < m; i++)
                        cr_expect_str_neq(ids[i], id);
        }
}

/* One test, not two: each runs gc, which would reclaim the other's sandbox too. With a
 * network policy the state directory also holds the sandbox's resolv.conf: gc removes it
 * too (before, it said "reclaimed" and left the directory, every time). No connection is
 * made: 192.0.2.1 is only a policy entry. */
Test(run, supervisor_sigkill_leaves_nothing_after_gc) {
        sigkill_then_gc(NULL);
        sigkill_then_gc((const char *const[]) { "--allow", "192.0.2.1:80", NULL });
}

Test(run, pids_limit_and_fork_bomb) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *pol, *polarg;
        struct h_result r;
        int forked = -1;
        pid_t found[8];

        pol = h_policy(wd, "pids.yaml", "version: 1\nresources:\n  pids: 64\n");
        cr_assert(asprintf(&polarg, "--policy=%s", pol) > 0);
        /* 200 waiting children: the limit stops them well before. */
        cr_assert_eq(run_code(wd, A(polarg), A(probe, "forkbomb", "200"), &r), 0, "%s", r.err);
        cr_assert(sscanf(r.out, "forked=%d", &forked) == 1, "%s", r.out);
        cr_expect_lt(forked, 64, "%s", r.out);
        cr_expect_gt(forked, 10, "%s", r.out);
        cr_expect(strstr(r.out, "error=EAGAIN"), "%s", r.out);
        /* Control: without the limit all 200 start. */
        cr_assert_eq(run_code(wd, NULL, A(probe, "forkbomb", "200"), &r), 0, "%s", r.err);
        cr_expect_str_eq(r.out, "forked=200 error=none\n");

        /* The real thing, only once the limit is known to hold: every process forks forever.
         * The supervisor survives it, --timeout ends it, nothing is left. */
        if (forked < 0 || forked >= 64)
                return;
        cr_expect_eq(run_code(wd, A(polarg, "--timeout", "2s"), A(probe, "forkbomb-real"), &r),
                     124, "%s", r.err);
        cr_expect_lt(r.secs, 30, "%.1f s", r.secs);
        cr_expect_eq(h_find_procs("forkbomb-real", found, 8), 0);
}

Test(run, memory_limit) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *pol, *polarg;
        struct h_result r;

        pol = h_policy(wd, "mem.yaml", "version: 1\nresources:\n  memory: 64M\n");
        cr_assert(asprintf(&polarg, "--policy=%s", pol) > 0);
        run_code(wd, A(polarg), A(probe, "alloc", "256"), &r);
        cr_expect_eq(r.code, 128 + SIGKILL, "exit %d: %s", r.code, r.err);
        cr_expect(!strstr(r.out, "done"), "256 MiB fit under a 64M limit: %s", r.out);
        /* Control: without the limit it completes; under it a small one does too. */
        cr_expect_eq(run_code(wd, NULL, A(probe, "alloc", "256"), &r), 0, "%s", r.err);
        cr_expect(strstr(r.out, "allocated=256 done"), "%s", r.out);
        cr_expect_eq(run_code(wd, A(polarg), A(probe, "alloc", "16"), &r), 0, "%s", r.err);
}

Test(run, seccomp_on_violation_kill) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *pol, *polarg, *script;
        char *ev = h_path(wd, "events.jsonl"), *evarg, token[64], *evs;
        struct h_result r;
        pid_t found[8];

        (void) snprintf(token, sizeof token, "caisson-it-victim-%d", getpid());
        pol = h_policy(wd, "kill.yaml", "version: 1\nseccomp:\n  on_violation: kill\n");
        cr_assert(asprintf(&polarg, "--policy=%s", pol) > 0);
        cr_assert(asprintf(&evarg, "--events=%s", ev) > 0);
        /* A bystander in the background, then a denied syscall: the whole tree dies. */
        cr_assert(asprintf(&script, "%s sleep 300 %s/bg %s & while [ ! -e %s/bg ]; do sleep 0.05; "
                                    "done; %s mount; echo survived", probe, wd, token, wd,
                           probe) > 0);
        run_code(wd, A(polarg, evarg), A("/bin/sh", "-c", script), &r);
        cr_expect_eq(r.code, 128 + SIGKILL, "exit %d: %s", r.code, r.err);
        /* The kill lands before the notification is answered: the violating process
         * never sees EPERM and never runs on. */
        cr_expect(!strstr(r.out, "survived") && !strstr(r.out, "EPERM"), "%s", r.out);
        cr_expect_eq(h_find_procs(token, found, 8), 0, "the bystander survived");
        evs = h_read_file(ev);
        cr_assert(evs);
        cr_expect(strstr(evs, "\"mount\""), "events: %s", evs);
        /* Control: the default errno mode lets the shell go on. */
        run_code(wd, NULL, A("/bin/sh", "-c", script), &r);
        cr_expect_eq(r.code, 0, "%s", r.err);
        cr_expect_str_eq(r.out, "EPERM\nsurvived\n");
}

Test(run, syscall_denied_events) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *ev = h_path(wd, "ev.jsonl");
        char *evarg, *evs, *line, *save = NULL;
        struct h_result r;
        bool mount_seen = false, ptrace_seen = false;

        cr_assert(asprintf(&evarg, "--events=%s", ev) > 0);
        cr_expect_eq(run_code(wd, A(evarg), A("/bin/sh", "-c", "./probe mount; ./probe ptrace-self"),
                              &r), 0, "%s", r.err);
        cr_expect_str_eq(r.out, "EPERM\nEPERM\n");
        evs = h_read_file(ev);
        cr_assert(evs, "no events file");
        for (line = strtok_r(evs, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                cr_expect(line[0] == '{' && line[strlen(line) - 1] == '}', "not JSON: %s", line);
                if (!strstr(line, "syscall.denied"))
                        continue;
                mount_seen |= strstr(line, "\"mount\"") != NULL;
                ptrace_seen |= strstr(line, "\"ptrace\"") != NULL;
                cr_expect(strstr(line, "probe"), "the binary is not named: %s", line);
                cr_expect(strstr(line, "\"pid\""), "no pid: %s", line);
        }
        cr_expect(mount_seen && ptrace_seen, "events lack a denial: %s", h_read_file(ev));
        (void) probe;
        /* Control: a run without denials has none. */
        cr_assert_eq(unlink(ev), 0);
        cr_expect_eq(run_code(wd, A(evarg), A(probe, "exit", "0"), &r), 0, "%s", r.err);
        evs = h_read_file(ev);
        cr_assert(evs);
        cr_expect(!strstr(evs, "syscall.denied"), "%s", evs);
        cr_expect(strstr(evs, "sandbox"), "no lifecycle events: %s", evs);
}

/* [wrapper] caisson run --policy pol --workdir wd -- probe touch marker: did the agent run? */
static void run_touch(const char *wrapper, const char *pol, const char *wd, const char *probe,
                      const char *marker, struct h_result *r) {
        const char *argv[16];
        size_t n = 0;

        if (wrapper)
                argv[n++] = wrapper;
        argv[n++] = h_caisson();
        argv[n++] = "run";
        argv[n++] = "--policy";
        argv[n++] = pol;
        argv[n++] = "--workdir";
        argv[n++] = wd;
        argv[n++] = "--";
        argv[n++] = probe;
        argv[n++] = "touch";
        argv[n++] = marker;
        argv[n] = NULL;
        h_run(argv, NULL, r);
}

static void landlock_case(const char *compat, bool nolandlock, int want, bool want_ran) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *marker = h_path(wd, "ran");
        char *yaml, *pol;
        struct h_result r;

        cr_assert(asprintf(&yaml, "version: 1\nlandlock:\n  compatibility: %s\n", compat) > 0);
        pol = h_policy(wd, "ll.yaml", yaml);
        run_touch(nolandlock ? h_nolandlock() : NULL, pol, wd, probe, marker, &r);
        cr_expect_eq(r.code, want, "%s%s: exit %d: %s", nolandlock ? "no landlock, " : "", compat,
                     r.code, r.err);
        cr_expect_eq(h_exists(marker), want_ran, "%s: the agent %s", compat,
                     want_ran ? "did not run" : "ran");
        if (nolandlock) {
                cr_expect(strcasestr(r.err, "landlock"), "stderr does not say so: %s", r.err);
                if (want == 125)
                        cr_expect_eq(h_count_lines(r.err), 1, "stderr: %s", r.err);
        } else
                cr_expect_str_eq(r.err, "", "stderr: %s", r.err);
        h_result_done(&r);
}

/* A policy with network entries, the agent touching a marker: under nonetfilter the fence
 * cannot be loaded, so caisson must exit 125 with one line naming nftables, and the agent
 * must never have run; without it (the control) the same run succeeds. */
static void netfilter_case(bool nonetfilter, int want, bool want_ran) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *marker = h_path(wd, "ran");
        char *pol = h_policy(wd, "net.yaml",
                             "version: 1\n"
                             "network_policies:\n"
                             "  web:\n"
                             "    endpoints:\n"
                             "      - { host: 198.51.100.1, port: 80 }\n"
                             "    binaries:\n"
                             "      - { path: /usr/bin/curl }\n");
        struct h_result r;

        run_touch(nonetfilter ? h_nonetfilter() : NULL, pol, wd, probe, marker, &r);
        cr_expect_eq(r.code, want, "%s: exit %d: %s", nonetfilter ? "no netfilter" : "control",
                     r.code, r.err);
        cr_expect_eq(h_exists(marker), want_ran, "the agent %s", want_ran ? "did not run" : "ran");
        if (nonetfilter) {
                cr_expect(strcasestr(r.err, "nftables") || strcasestr(r.err, "netfilter"),
                          "stderr does not name the layer: %s", r.err);
                cr_expect_eq(h_count_lines(r.err), 1, "stderr: %s", r.err);
        }
        h_result_done(&r);
}

Test(run, egress_without_nftables_fails_closed) {
        netfilter_case(true, 125, false);
        netfilter_case(false, 0, true); /* control: the same policy runs with nftables */
}

Test(run, landlock_hard_requirement_fails_closed) {
        landlock_case("hard_requirement", true, 125, false);
        landlock_case("hard_requirement", false, 0, true); /* control */
}

Test(run, landlock_best_effort_runs_and_says_so) {
        landlock_case("best_effort", true, 0, true);
        landlock_case("best_effort", false, 0, true);
}

Test(run, run_as_sudo_uid) {
        char *wd = h_workdir(NULL), *in;
        const char *env[] = { "SUDO_UID=4242", "SUDO_GID=4243", NULL };
        struct h_opts o = { .setenv = env };
        struct h_result r;

        h_caisson_run(wd, NULL, A(h_path(wd, "probe"), "uid"), &o, &r);
        cr_assert_eq(r.code, 0, "%s", r.err);
        in = h_first_line(r.out);
        cr_expect(strncmp(in, "uid=4242 euid=4242 suid=4242", 28) == 0, "%s", in);
        /* SUDO_UID=0 never means root. */
        {
                const char *env0[] = { "SUDO_UID=0", NULL };
                struct h_opts o0 = { .setenv = env0 };

                h_caisson_run(wd, NULL, A(h_path(wd, "probe"), "uid"), &o0, &r);
                cr_expect(r.code != 0 || strncmp(r.out, "uid=0", 5) != 0, "%s", r.out);
        }
}

/* How many processes have pid as their parent. */
static int children_of(pid_t pid) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        int n = 0;

        cr_assert(d);
        while ((de = readdir(d))) {
                pid_t q = (pid_t) atoi(de->d_name);

                if (q > 0 && h_ppid(q, NULL, 0) == pid)
                        n++;
        }
        closedir(d);
        return n;
}

/* An --events sink that stops reading (a pipe whose reader stalls, a stopped terminal)
 * must not stall the supervisor, which answers the sandbox's held syscalls and keeps
 * --timeout: its records wait in memory. Here every loop of the agent makes a
 * syscall.denied record; the reader reads nothing once the pipe is full, --timeout must
 * still end the sandbox, and then every record arrives, in order, none lost. */
/* caisson run --timeout TIMEOUT --events FIFO, its agent making a syscall.denied record
 * each loop, the FIFO's reader (*rd) open but not reading, in *p. Once the records have
 * filled the pipe (the positive control: the sink has stopped taking them, a few hundred
 * loops, well before the timeout), the wait for --timeout to end the sandbox (caisson's
 * children, its init, gone). Whether it ended. */
static bool stall_events_reader(const char *timeout, struct h_proc *p, int *rd) {
        char *wd = h_workdir(NULL), *fifo = h_path(wd, "ev.fifo"), *evarg;
        const char *argv[] = { h_caisson(), "run", "--workdir", wd, "-T", "--timeout", timeout,
                               NULL, "--", "/bin/sh", "-c",
                               "while :; do ./probe mount >/dev/null; done", NULL };
        bool gone = false;
        int queued = 0;

        cr_assert_eq(mkfifo(fifo, 0600), 0);
        /* The reader's end, open (so caisson's open does not wait) but not read. */
        *rd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        cr_assert(*rd >= 0);
        cr_assert(asprintf(&evarg, "--events=%s", fifo) > 0);
        argv[7] = evarg;
        cr_assert_eq(h_spawn(argv, NULL, p), 0);
        h_register_pid(p->pid);
        for (int i = 0; i < 250 && queued < 60000; i++) {
                usleep(20000);
                cr_assert_eq(ioctl(*rd, FIONREAD, &queued), 0);
        }
        cr_assert_geq(queued, 60000, "the records did not fill the pipe: %d bytes", queued);
        for (int i = 0; i < 100 && !gone; i++) {
                usleep(100000);
                gone = children_of(p->pid) == 0;
        }
        return gone;
}

Test(run, stalled_events_pipe_does_not_stall_supervisor) {
        char *all = NULL;
        size_t len = 0, cap = 0;
        unsigned long long want = 1;
        int rd, lines = 0;
        bool eof = false;
        struct h_proc p;
        struct h_result r;
        char *line, *save = NULL, *last = NULL;
        bool gone = stall_events_reader("5s", &p, &rd);

        cr_expect(gone, "the sandbox still runs 10 s after the events pipe filled, past "
                  "--timeout: the supervisor is stuck writing a record");
        /* Now read everything, until caisson closes its end. */
        for (double end = h_now() + 20; !eof && h_now() < end;) {
                struct pollfd pf = { .fd = rd, .events = POLLIN };
                ssize_t n;

                if (poll(&pf, 1, 100) <= 0)
                        continue;
                if (len + 65536 + 1 > cap) {
                        cap = 2 * cap + 65536 + 1;
                        all = realloc(all, cap);
                        cr_assert(all);
                }
                n = read(rd, all + len, 65536);
                if (n == 0 && !(pf.revents & POLLIN))
                        eof = true;
                else if (n > 0)
                        len += (size_t) n;
                else if (n == 0)
                        eof = true;
        }
        close(rd);
        h_wait(&p, 20, &r);
        cr_expect_eq(r.code, 124, "exit %d: %s", r.code, r.err);
        cr_assert(eof && all, "the events pipe was not closed");
        all[len] = 0;
        /* Every record, seq 1, 2, 3, ... with no gap, the last one sandbox.destroyed. */
        for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *s = strstr(line, "\"seq\":");

                cr_assert(s, "no seq: %s", line);
                cr_assert_eq(strtoull(s + 6, NULL, 10), want, "record %llu missing: %s", want, line);
                want++;
                lines++;
                last = line;
        }
        cr_expect_gt(lines, 300, "only %d records", lines);
        cr_expect(last && strstr(last, "sandbox.destroyed"), "the last record: %s", last ?: "");
        free(all);
}

/* At exit caisson waits for an --events reader to take every record (none lost), however
 * long: but ^C (or SIGTERM) ends that wait, with the records not taken counted as dropped
 * and said so. Positive control: without the signal, caisson is still waiting seconds
 * after its sandbox is gone. */
Test(run, signal_ends_wait_for_stalled_events_reader) {
        int rd;
        struct h_proc p;
        struct h_result r;
        double t;

        cr_assert(stall_events_reader("2s", &p, &rd), "the sandbox still runs past --timeout");
        /* Control: the sandbox is gone and caisson still waits for the reader. */
        usleep(1500000);
        cr_assert_eq(waitpid(p.pid, NULL, WNOHANG), 0, "caisson exited without its records");
        cr_assert_eq(kill(p.pid, SIGTERM), 0);
        t = h_now();
        h_wait(&p, 10, &r);
        cr_expect_lt(h_now() - t, 3.0, "SIGTERM did not end the wait");
        cr_expect_eq(r.code, 124, "exit %d: %s", r.code, r.err);
        cr_expect(strstr(r.err, "records dropped") && strstr(r.err, "told to stop waiting"),
                  "not said: %s", r.err);
        h_result_done(&r);
        close(rd);
}

/* Starts argv with stdin and stdout /dev/null and stderr fd. */
static pid_t spawn_stderr_to(int fd, const char *const *argv) {
        pid_t pid = fork();

        cr_assert_geq(pid, 0);
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR);

                if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(fd, 2) < 0)
                        _exit(122);
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        h_register_pid(pid);
        return pid;
}

/* stderr a pipe whose reader is gone (`caisson run ... 2>&1 | head` once head has quit):
 * caisson's held message (here --timeout's) can never be written, and its exit must not
 * wait for it, nor spin on a poll that reports the pipe's error each time. */
Test(run, exit_with_stderr_reader_gone) {
        char *wd = h_workdir(NULL);
        int pp[2], status = 0;
        double start = h_now();
        pid_t pid, w = 0;

        cr_assert_eq(pipe2(pp, O_CLOEXEC), 0);
        pid = spawn_stderr_to(pp[1], A(h_caisson(), "run", "--workdir", wd, "-T", "--timeout",
                                       "1s", "--", "/bin/sleep", "30"));
        close(pp[0]);
        close(pp[1]);
        while (h_now() - start < 10 && (w = waitpid(pid, &status, WNOHANG)) == 0)
                usleep(20000);
        cr_assert_eq(w, pid, "caisson still runs %.0f s after --timeout 1s", h_now() - start);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 124, "status %#x", status);
}

/* What caisson says at exit (here a persistence warning for each file the agent created,
 * more than its 16 KiB of held messages) waits for a stderr that takes nothing yet (a
 * pipe, full), and all of it arrives once it is read: none dropped without a signal. */
Test(run, exit_messages_wait_for_stalled_stderr) {
        static const char *const names[] = { ".gitmodules", ".envrc", ".mcp.json", ".bashrc",
                                             ".bash_profile", ".bash_login", ".bash_logout",
                                             ".profile", ".zshrc", ".zshenv", ".zprofile",
                                             ".zlogin", ".gitconfig", ".pre-commit-config.yaml" };
#define N_NAMES (sizeof names / sizeof names[0])
        char *wd = h_workdir(NULL), *dirs[3], *script = strdup("cd \"$1\"");
        static char junk[1 << 16];
        int pp[2], status = 0, made = 0;
        size_t len = 0, cap = 1 << 20;
        char *all = malloc(cap), long_name[201];
        pid_t pid;

        cr_assert(all && script);
        memset(long_name, 'd', 200);
        long_name[200] = 0;
        memset(junk, 'j', sizeof junk);
        for (int i = 0; i < 3; i++) {
                char *d;

                long_name[0] = (char) ('a' + i);
                d = h_path(wd, long_name);
                dirs[i] = h_path(d, long_name);
                cr_assert_eq(mkdir(d, 0755), 0);
                cr_assert_eq(mkdir(dirs[i], 0755), 0);
                cr_assert_eq(chown(d, H_NOBODY, H_NOBODY), 0);
                cr_assert_eq(chown(dirs[i], H_NOBODY, H_NOBODY), 0);
        }
        for (size_t k = 0; k < N_NAMES; k++) {
                char *t;

                cr_assert(asprintf(&t, "%s; for d in \"$2\" \"$3\" \"$4\"; do : > \"$d/%s\"; done",
                                   script, names[k]) > 0);
                free(script);
                script = t;
        }
        cr_assert_eq(pipe2(pp, O_CLOEXEC), 0);
        /* Full before caisson starts: every write to it waits for the reader. */
        (void) fcntl(pp[1], F_SETFL, O_NONBLOCK);
        while (write(pp[1], junk, sizeof junk) > 0)
                ;
        (void) fcntl(pp[1], F_SETFL, 0);
        pid = spawn_stderr_to(pp[1], A(h_caisson(), "run", "--workdir", wd, "-T", "--rw", dirs[0],
                                       "--rw", dirs[1], "--rw", dirs[2], "--", "/bin/sh", "-c",
                                       script, "sh", wd, dirs[0], dirs[1], dirs[2]));
        close(pp[1]);
        /* The sandbox is done within a second or two; caisson then waits for the reader. */
        sleep(3);
        cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "caisson did not wait for stderr");
        for (;;) {
                ssize_t n;

                if (len + 65536 > cap) {
                        cap *= 2;
                        all = realloc(all, cap);
                        cr_assert(all);
                }
                n = read(pp[0], all + len, 65536);
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        close(pp[0]);
        all[len] = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
        for (const char *q = all; (q = strstr(q, "persistence: the agent created")); q++)
                made++;
        cr_expect_eq(made, (int) (3 * N_NAMES), "warnings: %d", made);
        cr_expect(!strstr(all, "messages dropped"), "dropped: %s", strstr(all, "messages dropped"));
        free(all);
}

/* A policy for the nobody user with sd read-write, and with it a state directory when
 * state is true. */
static char *state_policy(const char *wd, const char *sd, bool state) {
        char *yaml;

        cr_assert(asprintf(&yaml, "version: 1\n"
                                  "filesystem_policy:\n"
                                  "  include_workdir: true\n"
                                  "  read_only: [/usr, /bin, /lib, /lib64, /etc]\n"
                                  "  read_write: [%s]\n"
                                  "process: { run_as_user: \"65534\" }\n"
                                  "%s%s%s", sd, state ? "state_directories: [" : "",
                           state ? sd : "", state ? "]\n" : "") > 0);
        return h_policy(wd, "state.yaml", yaml);
}

static void expect_dir(const char *path, uid_t uid, mode_t mode) {
        struct stat st;

        cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
        cr_expect(S_ISDIR(st.st_mode), "%s is not a directory", path);
        cr_expect_eq(st.st_uid, uid, "%s: owner %u", path, (unsigned) st.st_uid);
        cr_expect_eq(st.st_mode & 07777, mode, "%s: mode %o", path, st.st_mode & 07777);
}

/* state_directories: a missing one is made, with its parents, as the run user and 0700, so
 * the agent can keep its state there (the sandbox cannot make it: its parent is not
 * granted); an existing one is left as it is. The "home" is under /run: under /var/tmp the
 * sandbox's private tmpfs would take the agent's mkdir. */
Test(run, state_directories_made_as_the_run_user) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *base = h_workdir("/run");
        char *home = h_path(base, "home"), *tool = h_path(home, ".tool");
        char *sd = h_path(tool, "state"), *file = h_path(sd, "kept");
        struct h_result r;

        cr_assert_eq(mkdir(home, 0755), 0);
        cr_assert_eq(chown(home, H_NOBODY, H_NOBODY), 0);
        /* Control: a read_write path alone, missing, grants nothing; the agent cannot make
         * it from inside. */
        cr_expect_eq(run_code(wd, A("--policy", state_policy(wd, sd, false)),
                              A("/bin/sh", "-c", "mkdir -p \"$1\" || echo FAILED", "sh", sd), &r),
                     0, "%s", r.err);
        cr_expect(strstr(r.out, "FAILED"), "the agent made it: %s", r.out);
        cr_expect(strstr(r.err, "does not exist on this host"), "%s", r.err);
        cr_expect_not(h_exists(tool));
        h_result_done(&r);

        cr_expect_eq(run_code(wd, A("--policy", state_policy(wd, sd, true)),
                              A(probe, "touch", file), &r), 0, "%s", r.err);
        cr_expect_str_eq(r.out, "OK\n");
        cr_expect(strstr(r.err, "made the state directory"), "not reported: %s", r.err);
        cr_expect_not(strstr(r.err, "does not exist"), "%s", r.err);
        cr_expect(h_exists(file), "the agent could not keep its state");
        expect_dir(tool, H_NOBODY, 0700);
        expect_dir(sd, H_NOBODY, 0700);
        h_result_done(&r);

        /* Existing: left as it is, and not reported again. */
        cr_assert_eq(chmod(sd, 0750), 0);
        cr_expect_eq(run_code(wd, A("--policy", state_policy(wd, sd, true)),
                              A(probe, "exit", "0"), &r), 0, "%s", r.err);
        cr_expect_not(strstr(r.err, "made the state directory"), "%s", r.err);
        expect_dir(sd, H_NOBODY, 0750);
        h_result_done(&r);
}

/* Made as the run user, never as root: a link in the user's tree cannot make caisson
 * create a directory where the user may not. */
Test(run, state_directories_follow_no_link_as_root) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *base = h_workdir("/run");
        char *home = h_path(base, "home"), *rootonly = h_path(base, "rootonly");
        char *link = h_path(home, "link");
        char *sd = h_path(link, "state"), *target = h_path(rootonly, "state");
        char *marker = h_path(wd, "ran"), *file = h_path(home, "file");
        struct h_result r;

        cr_assert_eq(mkdir(home, 0755), 0);
        cr_assert_eq(chown(home, H_NOBODY, H_NOBODY), 0);
        cr_assert_eq(mkdir(rootonly, 0755), 0);
        cr_assert_eq(symlink(rootonly, link), 0);
        cr_assert_eq(lchown(link, H_NOBODY, H_NOBODY), 0);

        cr_expect_eq(run_code(wd, A("--policy", state_policy(wd, sd, true)),
                              A(probe, "touch", marker), &r), 125, "%s", r.err);
        cr_expect(strstr(r.err, "state_directories") && strstr(r.err, sd) &&
                  strstr(r.err, "Permission denied"), "%s", r.err);
        cr_expect_not(h_exists(target), "made through the link");
        cr_expect_not(h_exists(marker), "the agent ran");
        h_result_done(&r);

        /* Nor with root's capabilities kept across the uid change (a service manager may
         * set SECBIT_NO_SETUID_FIXUP), nor with root's supplementary groups, where the
         * directory is group 0 and group-writable. */
        cr_assert_eq(chmod(rootonly, 0775), 0);
        {
                const char *pol = state_policy(wd, sd, true);
                const char *const keep_caps[] = { "/usr/bin/setpriv", "--securebits", "+no_setuid_fixup",
                                                  h_caisson(), "run", "--policy", pol,
                                                  "--workdir", wd, "--", probe, "exit", "0",
                                                  NULL };
                const char *const groups[] = { "/usr/bin/setpriv", "--groups", "0", h_caisson(), "run",
                                               "--policy", pol, "--workdir", wd, "--", probe,
                                               "exit", "0", NULL };

                h_run(keep_caps, NULL, &r);
                cr_expect_eq(r.code, 125, "securebits: %s", r.err);
                cr_expect_not(h_exists(target), "made with root's capabilities kept");
                h_result_done(&r);
                h_run(groups, NULL, &r);
                cr_expect_eq(r.code, 125, "groups: %s", r.err);
                cr_expect_not(h_exists(target), "made with root's groups");
                h_result_done(&r);
        }

        /* Control: where the user may write, the same link is followed. */
        cr_assert_eq(chown(rootonly, H_NOBODY, H_NOBODY), 0);
        cr_expect_eq(run_code(wd, A("--policy", state_policy(wd, sd, true)),
                              A(probe, "touch", marker), &r), 0, "%s", r.err);
        expect_dir(target, H_NOBODY, 0700);
        h_result_done(&r);

        /* Something else at the path: not the directory the policy asks for. */
        h_write_file(file, "", 0644);
        cr_expect_eq(run_code(wd, A("--policy", state_policy(wd, file, true)),
                              A(probe, "exit", "0"), &r), 125, "%s", r.err);
        cr_expect(strstr(r.err, "Not a directory"), "%s", r.err);
        h_result_done(&r);
}
