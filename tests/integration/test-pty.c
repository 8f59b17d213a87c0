/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An interactive agent driven through a terminal, as a person at a terminal would. The test
 * owns a pty pair and plays the person: caisson runs with the slave as its controlling
 * terminal and stdio (the caller's terminal), the test reads and types on the master.
 * Checks: the agent sees a terminal of the sandbox's own devpts (never the caller's), a
 * window-size change reaches it, ^C interrupts it, and the caller's terminal modes are
 * back as they were after the agent exits and after caisson is killed. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "harness.h"

#define A(...) ((const char *const[]) { __VA_ARGS__, NULL })

TestSuite(pty, .init = h_require_root, .fini = h_cleanup, .timeout = 90);

struct term {
        int master, slave;
        pid_t pid;            /* caisson */
        char out[65536];      /* everything read from the master (the first 64 KiB) */
        size_t len;
        char tail[4097];      /* and the last 4 KiB read past those */
        size_t tail_len;
        struct termios before;
};

static void term_open(struct term *t, unsigned rows, unsigned cols) {
        struct winsize ws = { .ws_row = (unsigned short) rows, .ws_col = (unsigned short) cols };

        memset(t, 0, sizeof *t);
        t->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        cr_assert(t->master >= 0 && grantpt(t->master) == 0 && unlockpt(t->master) == 0);
        t->slave = open(ptsname(t->master), O_RDWR | O_NOCTTY | O_CLOEXEC);
        cr_assert(t->slave >= 0);
        cr_assert_eq(ioctl(t->slave, TIOCSWINSZ, &ws), 0);
        /* A cooked terminal, as a shell leaves it. */
        cr_assert_eq(tcgetattr(t->slave, &t->before), 0);
        cr_assert(t->before.c_lflag & ICANON && t->before.c_lflag & ECHO);
        (void) fcntl(t->master, F_SETFL, fcntl(t->master, F_GETFL) | O_NONBLOCK);
}

/* caisson run ARGS -- CMD with the slave as controlling terminal and stdio. */
static void term_spawn(struct term *t, const char *wd, const char *const *args,
                       const char *const *cmd) {
        const char *argv[64];
        size_t n = 0;

        argv[n++] = h_caisson();
        argv[n++] = "run";
        argv[n++] = "--workdir";
        argv[n++] = wd;
        for (; args && *args; args++)
                argv[n++] = *args;
        argv[n++] = "--";
        for (; *cmd; cmd++)
                argv[n++] = *cmd;
        argv[n] = NULL;
        t->pid = fork();
        cr_assert(t->pid >= 0);
        if (t->pid == 0) {
                (void) setsid();
                if (ioctl(t->slave, TIOCSCTTY, 0) < 0)
                        _exit(121);
                if (dup2(t->slave, 0) < 0 || dup2(t->slave, 1) < 0 || dup2(t->slave, 2) < 0)
                        _exit(122);
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        h_register_pid(t->pid);
}

/* Reads what the terminal shows; beyond the first 64 KiB it is read and dropped. */
static void term_pump(struct term *t, int ms) {
        struct pollfd p = { .fd = t->master, .events = POLLIN };

        if (poll(&p, 1, ms) > 0) {
                char more[4096];
                bool full = t->len == sizeof t->out - 1;
                ssize_t r = full ? read(t->master, more, sizeof more) :
                                   read(t->master, t->out + t->len, sizeof t->out - 1 - t->len);

                if (r > 0 && !full) {
                        t->len += (size_t) r;
                        t->out[t->len] = 0;
                } else if (r > 0) {
                        size_t k = (size_t) r, keep = sizeof t->tail - 1 - k;

                        if (t->tail_len > keep) {
                                memmove(t->tail, t->tail + t->tail_len - keep, keep);
                                t->tail_len = keep;
                        }
                        memcpy(t->tail + t->tail_len, more, k);
                        t->tail_len += k;
                        t->tail[t->tail_len] = 0;
                }
        }
}

/* Reads until needle shows up in the output (true) or ms pass (false). */
static bool term_expect(struct term *t, const char *needle, int ms) {
        double end = h_now() + ms / 1000.0;

        while (!strstr(t->out, needle) && h_now() < end)
                term_pump(t, 20);
        return strstr(t->out, needle) != NULL;
}

/* Waits for caisson, draining the master; returns its exit code (128+N on a signal). */
static int term_wait(struct term *t, int secs) {
        double end = h_now() + secs;
        int st;

        for (;;) {
                pid_t r = waitpid(t->pid, &st, WNOHANG);

                if (r == t->pid)
                        break;
                if (h_now() > end) {
                        (void) kill(t->pid, SIGKILL);
                        (void) waitpid(t->pid, &st, 0);
                        cr_expect_fail("caisson did not exit in %d s; output: %s", secs, t->out);
                        break;
                }
                term_pump(t, 20);
        }
        for (int i = 0; i < 5; i++)
                term_pump(t, 10);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void expect_modes_restored(struct term *t, const char *when) {
        struct termios now;

        cr_assert_eq(tcgetattr(t->slave, &now), 0);
        cr_expect_eq(now.c_iflag, t->before.c_iflag, "%s: c_iflag %o != %o", when, now.c_iflag,
                     t->before.c_iflag);
        cr_expect_eq(now.c_oflag, t->before.c_oflag, "%s: c_oflag", when);
        cr_expect_eq(now.c_cflag, t->before.c_cflag, "%s: c_cflag", when);
        cr_expect_eq(now.c_lflag, t->before.c_lflag, "%s: c_lflag %o != %o", when, now.c_lflag,
                     t->before.c_lflag);
        cr_expect_eq(memcmp(now.c_cc, t->before.c_cc, sizeof now.c_cc), 0, "%s: c_cc", when);
}

static void expect_raw_now(struct term *t, const char *when) {
        struct termios now;

        cr_assert_eq(tcgetattr(t->slave, &now), 0);
        cr_expect(!(now.c_lflag & (ICANON | ECHO | ISIG)), "%s: the caller's terminal is not "
                  "raw while the agent runs (c_lflag %o)", when, now.c_lflag);
}

static void term_close(struct term *t) {
        close(t->master);
        close(t->slave);
}

Test(pty, agent_sees_a_terminal_of_its_own) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *script;
        struct term t;
        int code;

        term_open(&t, 33, 97);
        cr_assert(asprintf(&script, "%s tty; ls /dev/pts | tr '\\n' ' '; echo; stty size; "
                                    "echo END", probe) > 0);
        term_spawn(&t, wd, NULL, A("/bin/sh", "-c", script)); /* a terminal: pty by default */
        cr_expect(term_expect(&t, "END", 15000), "output: %s", t.out);
        code = term_wait(&t, 15);
        cr_expect_eq(code, 0, "output: %s", t.out);
        /* Its own pty: the sandbox's devpts has one pty, numbered from 0 whatever the
         * caller's is. */
        cr_expect(strstr(t.out, "isatty=1 ttyname=/dev/pts/0 rows=33 cols=97"), "%s", t.out);
        cr_expect(strstr(t.out, "0 ptmx \r\n") || strstr(t.out, "0 ptmx\r\n"),
                  "/dev/pts inside: %s", t.out);
        cr_expect(strstr(t.out, "33 97"), "stty size: %s", t.out);
        expect_modes_restored(&t, "after exit");
        term_close(&t);

        /* Control: -T gives pipes, so the same probe sees no terminal. */
        term_open(&t, 33, 97);
        term_spawn(&t, wd, A("-T"), A(probe, "tty"));
        cr_expect(term_expect(&t, "isatty=0", 15000), "-T: %s", t.out);
        cr_expect_eq(term_wait(&t, 15), 0);
        expect_modes_restored(&t, "after exit with -T");
        term_close(&t);
}

Test(pty, window_size_change_reaches_agent) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe");
        struct winsize ws = { .ws_row = 50, .ws_col = 120 };
        struct term t;

        term_open(&t, 24, 80);
        term_spawn(&t, wd, A("-t"), A(probe, "winsize-wait", "50", "120", "20"));
        cr_assert(term_expect(&t, "ready", 15000), "output: %s", t.out);
        expect_raw_now(&t, "running");
        /* The person resizes the window: the terminal gets the size and the foreground
         * process group (caisson) gets SIGWINCH. */
        cr_assert_eq(ioctl(t.slave, TIOCSWINSZ, &ws), 0);
        (void) kill(t.pid, SIGWINCH);
        cr_expect(term_expect(&t, "size=", 25000), "output: %s", t.out);
        cr_expect(strstr(t.out, "size=50x120 winch=1"), "the resize did not arrive: %s", t.out);
        cr_expect_eq(term_wait(&t, 15), 0);
        expect_modes_restored(&t, "after exit");
        term_close(&t);
}

Test(pty, ctrl_c_interrupts_agent) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *script;
        struct term t;
        int code;

        term_open(&t, 24, 80);
        cr_assert(asprintf(&script, "echo ready; exec %s sleep 60", probe) > 0);
        term_spawn(&t, wd, A("-t"), A("/bin/sh", "-c", script));
        cr_assert(term_expect(&t, "ready", 15000), "output: %s", t.out);
        usleep(100000); /* let sh exec the sleeper */
        expect_raw_now(&t, "running");
        /* ^C on the caller's (raw) terminal is a byte for the agent's pty, whose line
         * discipline turns it into SIGINT for the agent. */
        cr_assert_eq(write(t.master, "\x03", 1), 1);
        code = term_wait(&t, 15);
        cr_expect_eq(code, 128 + SIGINT, "exit %d, output: %s", code, t.out);
        expect_modes_restored(&t, "after ^C");
        term_close(&t);
}

Test(pty, modes_restored_when_killed) {
        char *wd = h_workdir(NULL), *probe = h_path(wd, "probe"), *script;
        struct term t;
        int code;

        cr_assert(asprintf(&script, "echo ready; exec %s sleep 60", probe) > 0);
        /* SIGTERM to caisson: forwarded, the agent dies of it, caisson restores and exits. */
        term_open(&t, 24, 80);
        term_spawn(&t, wd, A("-t"), A("/bin/sh", "-c", script));
        cr_assert(term_expect(&t, "ready", 15000), "output: %s", t.out);
        expect_raw_now(&t, "running");
        cr_assert_eq(kill(t.pid, SIGTERM), 0);
        code = term_wait(&t, 15);
        cr_expect_eq(code, 128 + SIGTERM, "exit %d, output: %s", code, t.out);
        expect_modes_restored(&t, "after SIGTERM");
        term_close(&t);

        /* --timeout ran out: the tree is killed, the terminal restored. */
        term_open(&t, 24, 80);
        term_spawn(&t, wd, A("-t", "--timeout", "1s"), A("/bin/sh", "-c", script));
        cr_assert(term_expect(&t, "ready", 15000), "output: %s", t.out);
        expect_raw_now(&t, "running");
        code = term_wait(&t, 15);
        cr_expect_eq(code, 124, "exit %d, output: %s", code, t.out);
        expect_modes_restored(&t, "after --timeout");
        term_close(&t);

        /* The agent killed from inside by SIGKILL. */
        term_open(&t, 24, 80);
        term_spawn(&t, wd, A("-t"), A("/bin/sh", "-c", "echo ready; kill -KILL $$"));
        code = term_wait(&t, 15);
        cr_expect_eq(code, 128 + SIGKILL, "exit %d, output: %s", code, t.out);
        expect_modes_restored(&t, "after the agent was SIGKILLed");
        term_close(&t);
}

/* Whether a process named comm runs below top (host pids, any depth). */
static bool tree_has(pid_t top, const char *comm) {
        bool found = false;
        struct dirent *de;
        DIR *d = opendir("/proc");

        cr_assert(d);
        while (!found && (de = readdir(d))) {
                pid_t q = (pid_t) atoi(de->d_name);
                char name[64] = "";
                int guard = 0;

                if (q <= 1 || !h_ppid(q, name, sizeof name) || strcmp(name, comm) != 0)
                        continue;
                /* Up its ancestors to top, or to 1. */
                while (q > 1 && q != top && guard++ < 64)
                        q = h_ppid(q, NULL, 0);
                found = q == top;
        }
        closedir(d);
        return found;
}

/* A terminal that takes no more output (^S, a stalled link) holds the agent's writes,
 * never the supervisor, which also answers the sandbox's held syscalls, signals and
 * --timeout: the timeout ends the agent while the terminal is still stopped, and what was
 * written arrives once it reads again. */
/* caisson MODE --timeout 3s [--events EVENTS] -- yes on a new terminal, which is stopped
 * (^S: every write to it waits, and nobody reads) once the agent runs; then the wait for
 * --timeout to end the agent. Whether it ended. */
static bool yes_on_stopped_terminal(struct term *t, const char *wd, const char *mode,
                                    const char *events) {
        bool gone = false;

        term_open(t, 24, 80);
        term_spawn(t, wd, A(mode, "--timeout", "3s", events ? "--events" : NULL, events),
                   A("/bin/sh", "-c", "echo ready; exec yes"));
        cr_assert(term_expect(t, "ready", 15000), "%s: output: %s", mode, t->out);
        /* Positive control: the agent runs (once sh has exec'd it). */
        for (int i = 0; i < 100 && !tree_has(t->pid, "yes"); i++)
                usleep(20000);
        cr_assert(tree_has(t->pid, "yes"), "%s: no agent below caisson", mode);
        cr_assert_eq(tcflow(t->slave, TCOOFF), 0);
        for (int i = 0; i < 100 && !gone; i++) {
                usleep(100000);
                gone = !tree_has(t->pid, "yes");
        }
        return gone;
}

Test(pty, stopped_terminal_does_not_stall_supervisor) {
        char *wd = h_workdir(NULL);
        /* Through the agent's own pty (-t), and through pipes (-T). */
        const char *modes[] = { "-t", "-T" };

        for (size_t m = 0; m < 2; m++) {
                struct term t;
                int code;
                /* --timeout (3 s from the start) must end the agent while the terminal is
                 * stopped; stuck, the supervisor never does. */
                bool gone = yes_on_stopped_terminal(&t, wd, modes[m], NULL);

                cr_expect(gone, "%s: the agent still runs 10 s after ^S, past --timeout: the "
                          "supervisor is stuck writing to the stopped terminal", modes[m]);
                cr_assert_eq(tcflow(t.slave, TCOON), 0);
                code = term_wait(&t, 15);
                cr_expect_eq(code, 124, "%s: exit %d", modes[m], code);
                cr_expect(t.len > 16384, "%s: the agent's output before the stop: %zu bytes",
                          modes[m], t.len);
                /* caisson's own message, held while the terminal was stopped, not lost. */
                cr_expect(strstr(t.tail, "--timeout ran out") || strstr(t.out, "--timeout ran out"),
                          "%s: no timeout message; the end: %s", modes[m], t.tail);
                expect_modes_restored(&t, "after --timeout on a stopped terminal");
                term_close(&t);
        }
}

/* At exit caisson writes the agent's last output to the caller's terminal, waiting as
 * long as the terminal takes; stopped (^S) it waits, as any program writing to it would,
 * and as such a program would die of it, ^C (here SIGTERM) ends the wait. Positive control:
 * a second after the agent is gone, caisson still waits. */
Test(pty, signal_ends_exit_wait_on_stopped_terminal) {
        char *wd = h_workdir(NULL), *fifo = h_path(wd, "ev.fifo");
        const char *modes[] = { "-t", "-T", "-T", "-t" };
        static char junk[1 << 16];
        int rd, wr;

        /* The third run also has an --events reader that takes nothing (its pipe is full
         * from the start): one signal ends both waits, and the message that records were
         * dropped does not wait on the stopped terminal either. In the fourth the person
         * types ^C: the caller's terminal is out of raw mode by then, so it is SIGINT. */
        cr_assert_eq(mkfifo(fifo, 0600), 0);
        rd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        wr = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        cr_assert(rd >= 0 && wr >= 0);
        while (write(wr, junk, sizeof junk) > 0)
                ;
        for (size_t m = 0; m < 4; m++) {
                struct term t;
                double start;
                int code;

                cr_assert(yes_on_stopped_terminal(&t, wd, modes[m], m == 2 ? fifo : NULL),
                          "%s: the agent still runs past --timeout", modes[m]);
                usleep(1000000);
                cr_assert_eq(waitpid(t.pid, NULL, WNOHANG), 0,
                             "%s: caisson exited with its output unwritten", modes[m]);
                if (m == 3)
                        cr_assert_eq(write(t.master, "\x03", 1), 1);
                else
                        cr_assert_eq(kill(t.pid, SIGTERM), 0);
                start = h_now();
                code = term_wait(&t, 10);
                cr_expect_lt(h_now() - start, 3.0, "%s, run %zu: %s did not end the wait",
                             modes[m], m, m == 3 ? "^C" : "SIGTERM");
                cr_expect_eq(code, 124, "%s, run %zu: exit %d", modes[m], m, code);
                cr_assert_eq(tcflow(t.slave, TCOON), 0);
                expect_modes_restored(&t, "after SIGTERM on a stopped terminal");
                term_close(&t);
        }
        close(wr);
        close(rd);
}

/* stdin a terminal (so the agent gets a pty) and stdout a file the caller appends to
 * (`caisson run -- cmd >> log`): the agent's output is appended after what the file held,
 * through the caller's own description, never written again from offset 0. */
Test(pty, stdout_file_keeps_callers_offset) {
        char *wd = h_workdir(NULL), *path = h_path(wd, "out.log"), got[4096] = "";
        struct term t;
        int out, st;
        ssize_t n;

        term_open(&t, 24, 80);
        out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
        cr_assert(out >= 0);
        cr_assert_eq(write(out, "header line\n", 12), 12);
        t.pid = fork();
        cr_assert(t.pid >= 0);
        if (t.pid == 0) {
                (void) setsid();
                if (ioctl(t.slave, TIOCSCTTY, 0) < 0 || dup2(t.slave, 0) < 0 ||
                    dup2(out, 1) < 0 || dup2(t.slave, 2) < 0)
                        _exit(122);
                execl(h_caisson(), "caisson", "run", "--workdir", wd, "--", "/bin/sh", "-c",
                      "echo agent-output", (char *) NULL);
                _exit(127);
        }
        h_register_pid(t.pid);
        close(out);
        cr_expect_eq(term_wait(&t, 15), 0, "output: %s", t.out);
        st = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert(st >= 0);
        n = read(st, got, sizeof got - 1);
        close(st);
        cr_assert_gt(n, 0);
        got[n] = 0;
        cr_expect(strncmp(got, "header line\n", 12) == 0, "the file's start was overwritten: %s",
                  got);
        cr_expect(strstr(got + 12, "agent-output"), "the agent's output is not after it: %s", got);
        expect_modes_restored(&t, "after exit");
        term_close(&t);
}
