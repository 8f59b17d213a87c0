/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Syscall microbenchmark for bench/syscall-overhead.sh: the cost per call of syscalls an
 * agent makes all the time, each of which passes through the whole seccomp filter (and,
 * for open, Landlock's path check). Prints one JSON object: ns per call for
 *   getppid          the cheapest syscall: almost pure entry + filter cost
 *   open_close       openat(FILE, O_RDONLY) + close: path walk, Landlock
 *   ioctl_fionread   ioctl(pipe, FIONREAD): ioctl is argument-filtered (TIOCSTI, TIOCLINUX)
 * Usage: sysbench [N] [FILE]   (N calls each, default 1000000; FILE default /etc/passwd) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}

int main(int argc, char **argv) {
        long n = argc > 1 ? atol(argv[1]) : 1000000;
        const char *file = argc > 2 ? argv[2] : "/etc/passwd";
        double t0, t_getppid, t_open, t_ioctl;
        int p[2], avail;

        if (n <= 0 || pipe(p) < 0) {
                perror("sysbench: setup");
                return 1;
        }

        t0 = now_ns();
        for (long i = 0; i < n; i++)
                (void) syscall(SYS_getppid); /* raw: never a libc cache */
        t_getppid = now_ns() - t0;

        t0 = now_ns();
        for (long i = 0; i < n; i++) {
                int fd = open(file, O_RDONLY | O_CLOEXEC);

                if (fd < 0) {
                        perror("sysbench: open");
                        return 1;
                }
                close(fd);
        }
        t_open = now_ns() - t0;

        t0 = now_ns();
        for (long i = 0; i < n; i++)
                if (ioctl(p[0], FIONREAD, &avail) < 0) {
                        perror("sysbench: ioctl");
                        return 1;
                }
        t_ioctl = now_ns() - t0;

        printf("{\"n\": %ld, \"getppid\": %.1f, \"open_close\": %.1f, \"ioctl_fionread\": %.1f}\n",
               n, t_getppid / (double) n, t_open / (double) n, t_ioctl / (double) n);
        return 0;
}
