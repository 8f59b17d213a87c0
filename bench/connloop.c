/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* connloop N: N connect() calls on one UDP socket to 127.0.0.1:9 (no packet is sent), and
 * what one cost. Inside `caisson run` with network_policies every connect() is held while
 * the supervisor records its caller (seccomp user notification); without, it is a plain
 * syscall. Prints "connloop n=N per_call_us=X". */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct timespec t0, t1;
        long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
        int s;

        if (argc != 2 || n <= 0) {
                fprintf(stderr, "usage: connloop N\n");
                return 2;
        }
        s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0) {
                perror("socket");
                return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < n; i++)
                if (connect(s, (struct sockaddr *) &a, sizeof a) < 0) {
                        perror("connect");
                        return 1;
                }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("connloop n=%ld per_call_us=%.2f\n", n,
               ((double) (t1.tv_sec - t0.tv_sec) * 1e9 + (double) (t1.tv_nsec - t0.tv_nsec)) /
                       (double) n / 1000.0);
        close(s);
        return 0;
}
