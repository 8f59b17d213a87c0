/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The connect() records the relay checks (src/egress/connectors.c): who is recorded, how
 * several callers of one socket combine, and that a record is taken once, expires, and
 * survives the table's deletions and evictions. Real processes, real /proc. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "egress/egress-internal.h"
#include "syscalls.h"

static struct connect_records t;

static void setup(void) {
        connectors_init(&t);
}

static void teardown(void) {
        connectors_free(&t);
}

TestSuite(connectors, .init = setup, .fini = teardown);

static const char *self_exe(void) {
        static char buf[4096];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);

        cr_assert_gt(n, 0);
        buf[n] = 0;
        return buf;
}

static pid_t gettid_(void) {
        return (pid_t) syscall(SYS_gettid);
}

/* The caller's executable, read at the call; below init_pid nothing of the host's. */
Test(connectors, records_the_caller) {
        struct connect_record r;

        cr_assert_eq(connectors_note(&t, getpid(), 5, getppid(), 100), 0);
        cr_assert(connectors_take(&t, 5, &r));
        cr_assert_eq(r.ino, 5);
        cr_assert_eq(r.n, 1);
        cr_assert(!r.unknown && !r.overflow);
        cr_assert_eq(r.who[0]->pid, getpid());
        cr_assert_eq(r.who[0]->n_chain, 1, "the init (here our parent) is no ancestor");
        cr_assert_str_eq(r.who[0]->chain[0], self_exe());
        connect_record_done(&r);
        cr_assert(!connectors_take(&t, 5, &r), "a record is taken once");
        /* Without a known init, only the caller: the host above it is not the sandbox's. */
        cr_assert_eq(connectors_note(&t, getpid(), 6, 0, 100), 0);
        cr_assert(connectors_take(&t, 6, &r));
        cr_assert_eq(r.who[0]->n_chain, 1);
        connect_record_done(&r);
}

static void *note_from_thread(void *arg) {
        pid_t *tid = arg;

        *tid = gettid_();
        return (void *) (intptr_t) connectors_note(&t, *tid, 9, getppid(), 100);
}

static pid_t thread_notes(void) {
        pthread_t th;
        pid_t tid = 0;
        void *rc;

        cr_assert_eq(pthread_create(&th, NULL, note_from_thread, &tid), 0);
        cr_assert_eq(pthread_join(th, &rc), 0);
        cr_assert_eq((intptr_t) rc, 0);
        return tid;
}

/* seccomp names the calling thread; the record names its process, as the holders' events
 * do: from pidfs, or from /proc/TID/status on kernels without PIDFD_GET_INFO. A thread and
 * its process are then one caller, not two of the four a record holds. */
Test(connectors, thread_recorded_as_its_process) {
        struct cs_pidfd_info info = { .mask = CS_PIDFD_INFO_PID };
        int self = sys_pidfd_open(getpid(), 0);
        bool pidfs = self >= 0 && ioctl(self, CS_PIDFD_GET_INFO, &info) == 0;
        struct connect_record r;
        pid_t tid;

        if (self >= 0)
                close(self);
        for (int by_stat = 0; by_stat < 2; by_stat++) {
                t.refs.pidfd_info = by_stat ? -1 : 0;
                tid = thread_notes();
                cr_assert_neq(tid, getpid());
                cr_assert_eq(connectors_note(&t, getpid(), 9, getppid(), 100), 0);
                cr_assert(connectors_take(&t, 9, &r));
                cr_assert_eq(r.who[0]->pid, getpid(), "pid %d (thread %d, pidfs %d, by_stat %d)",
                             r.who[0]->pid, tid, pidfs, by_stat);
                cr_assert_eq(r.n, 1, "by_stat %d", by_stat);
                cr_assert_str_eq(r.who[0]->chain[0], self_exe());
                connect_record_done(&r);
        }
}

/* A child's record carries its parent, and stops below the given init (here the test's
 * own parent). */
Test(connectors, records_ancestors_below_init) {
        size_t n_chain = 0;
        int pp[2], status;
        pid_t init = getppid(), pid;

        cr_assert_eq(pipe(pp), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct connect_record r;
                size_t n = 0;

                if (connectors_note(&t, getpid(), 7, init, 1) == 0 &&
                    connectors_take(&t, 7, &r) && r.n == 1 &&
                    strcmp(r.who[0]->chain[1], r.who[0]->chain[0]) == 0)
                        n = r.who[0]->n_chain;
                _exit(write(pp[1], &n, sizeof n) == sizeof n ? 0 : 1);
        }
        close(pp[1]);
        cr_assert_eq(read(pp[0], &n_chain, sizeof n_chain), sizeof n_chain);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        close(pp[0]);
        cr_assert_eq(n_chain, 2, "want the child's executable and its parent's (the same)");
}

static pid_t idle_child(void) {
        pid_t pid = fork();

        cr_assert_geq(pid, 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        return pid;
}

/* Several callers of connect() on one socket are all kept, the same caller once; more than
 * four, or one that cannot be read, spoil the record. */
Test(connectors, callers_accumulate) {
        struct connect_record r;
        pid_t kids[5], gone = fork();

        cr_assert_geq(gone, 0);
        if (gone == 0)
                _exit(0);
        cr_assert_eq(waitpid(gone, NULL, 0), gone);
        for (int i = 0; i < 5; i++)
                kids[i] = idle_child();

        for (int i = 0; i < 3; i++)
                cr_assert_eq(connectors_note(&t, kids[i], 9, getpid(), 100 + i), 0);
        cr_assert(connectors_take(&t, 9, &r));
        cr_assert_eq(r.n, 3);
        cr_assert(!r.overflow);
        cr_assert_eq(r.when, 102);
        cr_assert_eq(r.who[2]->pid, kids[2]);
        connect_record_done(&r);

        /* A non-blocking connect() polled five times: one caller. */
        for (int i = 0; i < 5; i++)
                cr_assert_eq(connectors_note(&t, getpid(), 12, getppid(), 100), 0);
        cr_assert(connectors_take(&t, 12, &r));
        cr_assert_eq(r.n, 1);
        cr_assert(!r.overflow && !r.unknown);
        connect_record_done(&r);

        for (int i = 0; i < 5; i++)
                cr_assert_eq(connectors_note(&t, kids[i], 10, getpid(), 100), 0);
        cr_assert(connectors_take(&t, 10, &r));
        cr_assert_eq(r.n, 4);
        cr_assert(r.overflow);
        connect_record_done(&r);

        cr_assert_eq(connectors_note(&t, getpid(), 11, getppid(), 100), 0);
        cr_assert_eq(connectors_note(&t, gone, 11, getppid(), 100), 0);
        cr_assert(connectors_take(&t, 11, &r));
        cr_assert(r.unknown, "a caller that exited must make the record unknown");
        cr_assert_eq(r.n, 1);
        connect_record_done(&r);
        cr_assert_eq(connectors_note(&t, getpid(), 0, getppid(), 100), -EINVAL);
        cr_assert_eq(t.bytes, 0, "taken records must leave the byte count");
        for (int i = 0; i < 5; i++) {
                kill(kids[i], SIGKILL);
                waitpid(kids[i], NULL, 0);
        }
}

/* A caller gone when it was to go on spoils its socket's record, existing or not. */
Test(connectors, abandoned_call_spoils_the_record) {
        struct connect_record r;

        cr_assert_eq(connectors_note(&t, getpid(), 30, getppid(), 100), 0);
        connectors_abandon(&t, 30, 101);
        cr_assert(connectors_take(&t, 30, &r));
        cr_assert(r.unknown);
        connect_record_done(&r);
        connectors_abandon(&t, 31, 101);
        cr_assert(connectors_take(&t, 31, &r));
        cr_assert(r.unknown && r.n == 0);
        connect_record_done(&r);
}

Test(connectors, records_expire) {
        struct connect_record r;

        cr_assert_eq(connectors_note(&t, getpid(), 20, getppid(), 1000), 0);
        cr_assert_eq(connectors_note(&t, getpid(), 21, getppid(), 1000 + CONNECT_RECORD_TTL_USEC), 0);
        /* Stamped by another thread just after this one read the clock. */
        cr_assert_eq(connectors_note(&t, getpid(), 22, getppid(), 1000 + CONNECT_RECORD_TTL_USEC + 5), 0);
        connectors_expire(&t, 1000 + CONNECT_RECORD_TTL_USEC + 1);
        cr_assert(!connectors_take(&t, 20, &r), "an old record must expire");
        cr_assert(connectors_take(&t, 22, &r), "a record newer than the clock reading must stay");
        connect_record_done(&r);
        cr_assert(connectors_take(&t, 21, &r), "a young one must stay");
        connect_record_done(&r);
}

/* A full table drops its oldest record; deletions in any order keep every other record
 * findable (open addressing with backward shift: inodes chosen to collide). */
Test(connectors, eviction_and_deletion_keep_the_rest) {
        struct connect_record r;
        const uint32_t n = CONNECT_RECORDS_MAX;

        for (uint32_t i = 0; i <= n; i++)
                cr_assert_eq(connectors_note(&t, getpid(), 1 + i * 8192, getppid(), 1000 + i), 0);
        cr_assert_eq(t.n, n);
        cr_assert(!connectors_take(&t, 1, &r), "the oldest record must have gone");
        /* Every other one, from the middle of each probe run, then the rest. */
        for (uint32_t i = 1; i <= n; i += 2) {
                cr_assert(connectors_take(&t, 1 + i * 8192, &r), "record %u lost", i);
                connect_record_done(&r);
        }
        for (uint32_t i = 2; i <= n; i += 2) {
                cr_assert(connectors_take(&t, 1 + i * 8192, &r), "record %u lost", i);
                connect_record_done(&r);
        }
        cr_assert_eq(t.n, 0);
}

/* The same with inodes spread over the table as sockfs hands them out: runs of every
 * length, entries that must move back and entries that must stay. */
Test(connectors, deletion_with_mixed_home_slots) {
        struct connect_record r;
        const uint32_t n = 3000;
        bool gone[3000] = { false };

        for (uint32_t i = 0; i < n; i++)
                cr_assert_eq(connectors_note(&t, getpid(), 100 + i * 3, getppid(), 1), 0);
        for (uint32_t k = 0; k < n; k += 1 + k % 7) {
                cr_assert(connectors_take(&t, 100 + k * 3, &r), "record %u lost", k);
                connect_record_done(&r);
                gone[k] = true;
                if (k % 5 == 0)
                        cr_assert_eq(connectors_note(&t, getpid(), 100 + k * 3 + 1, getppid(), 1), 0);
        }
        for (uint32_t k = 0; k < n; k++) {
                cr_assert_eq(connectors_take(&t, 100 + k * 3, &r), !gone[k], "record %u", k);
                if (!gone[k])
                        connect_record_done(&r);
                if (gone[k] && k % 5 == 0) {
                        cr_assert(connectors_take(&t, 100 + k * 3 + 1, &r), "record %u+1", k);
                        connect_record_done(&r);
                }
        }
        cr_assert_eq(t.n, 0);
}

/* --- the handles on callers kept between connect()s (struct proc_refs) --- */

struct thread_ids {
        struct proc_refs *c;
        pid_t tid, ppid, tgid;
};

static void *thread_ppid(void *arg) {
        struct thread_ids *ids = arg;

        ids->tid = gettid_();
        ids->ppid = proc_refs_ppid(ids->c, ids->tid, &ids->tgid);
        return NULL;
}

/* The parent of a process and of one of its threads (seccomp names the calling thread),
 * by pidfs where the kernel has it and by /proc/PID/stat where not: the same. */
Test(proc_refs, parent_of_process_and_thread) {
        struct proc_refs c = { 0 };
        struct cs_pidfd_info info = { .mask = CS_PIDFD_INFO_PID };
        int self = sys_pidfd_open(getpid(), 0);
        bool pidfs = self >= 0 && ioctl(self, CS_PIDFD_GET_INFO, &info) == 0;
        pthread_t th;

        if (self >= 0)
                close(self);
        for (int by_stat = 0; by_stat < 2; by_stat++) {
                struct thread_ids th_ids = { .c = &c };
                pid_t tgid = -1;

                c.pidfd_info = by_stat ? -1 : 0;
                cr_assert_eq(proc_refs_ppid(&c, getpid(), &tgid), getppid(), "by_stat=%d", by_stat);
                cr_assert_eq(tgid, getpid(), "by_stat=%d", by_stat);
                cr_assert_eq(pthread_create(&th, NULL, thread_ppid, &th_ids), 0);
                cr_assert_eq(pthread_join(th, NULL), 0);
                cr_assert_neq(th_ids.tid, getpid());
                cr_assert_eq(th_ids.ppid, getppid(), "a thread, by_stat=%d", by_stat);
                /* A thread's process: from pidfs, or from /proc/TID/status without it. */
                cr_assert_eq(th_ids.tgid, getpid(), "by_stat=%d", by_stat);
                /* Again from the cache. */
                cr_assert_eq(proc_refs_ppid(&c, getpid(), NULL), getppid());
                /* Where the kernel has pidfs' ioctl, it was the one that answered. */
                if (!by_stat)
                        cr_assert_eq(c.pidfd_info == 1, pidfs, "pidfs here: %d", pidfs);
                proc_refs_free(&c);
        }
}

/* A handle kept open reads the process as it is now: its new executable after an exec, and
 * nothing once it is gone (never what was read before). */
Test(proc_refs, cached_handle_follows_exec_and_exit) {
        struct proc_refs c = { 0 };
        char exe[4096];
        int go[2], status;
        pid_t pid;

        cr_assert_eq(pipe(go), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                char b;

                close(go[1]);
                if (read(go[0], &b, 1) == 1)
                        execl("/bin/sleep", "sleep", "30", (char *) NULL);
                _exit(1);
        }
        close(go[0]);
        cr_assert(proc_refs_exe(&c, pid, exe));
        cr_assert_str_eq(exe, self_exe());
        cr_assert_eq(proc_refs_ppid(&c, pid, NULL), getpid());
        cr_assert_eq(write(go[1], "x", 1), 1);
        close(go[1]);
        for (int i = 0; i < 500; i++) {
                cr_assert(proc_refs_exe(&c, pid, exe));
                if (strcmp(exe, self_exe()) != 0)
                        break;
                usleep(10000);
        }
        cr_assert(strstr(exe, "sleep"), "after the exec: %s", exe);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert_not(proc_refs_exe(&c, pid, exe), "gone, yet read: %s", exe);
        cr_assert_eq(proc_refs_ppid(&c, pid, NULL), 0);
        proc_refs_free(&c);
}
