/* Shared by bench/netserver.c, bench/netload.c and bench/dnsload.c (benchmark tools, not
 * part of caisson). The bulk stream is the pattern below, repeated: byte i of a transfer is
 * pattern[i % NB_PAT_LEN]. NB_PAT_LEN is not a power of two, so a relay that dropped,
 * repeated or reordered a chunk cannot line up with it by chance; the client compares every
 * byte it receives. */
#ifndef NETBENCH_H
#define NETBENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#define NB_PAT_LEN ((1u << 20) + 4093u)

static inline void nb_pattern(unsigned char *p) {
        uint64_t x = 0x9e3779b97f4a7c15ull;

        for (uint32_t i = 0; i < NB_PAT_LEN; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                p[i] = (unsigned char) (x >> 32);
        }
}

static inline uint64_t nb_now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

/* As many descriptors as the hard limit allows: 1000 connections need more than 1024. */
static inline void nb_raise_nofile(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static inline int nb_cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

#endif
