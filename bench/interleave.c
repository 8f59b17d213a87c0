/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench/interleave.c — start-to-exit wall time of several commands, run one after the other
 * in turn rather than all runs of A, then all of B, as hyperfine does. On a shared machine
 * the load drifts over seconds: in blocks, one command can get a quiet stretch and the next
 * a busy one, and their ratio measures the drift. In turn, every command sees the same
 * moments. The order changes from round to round (rotated, and reversed every other lap of
 * n rounds: A B C, B C A, C A B, C B A, B A C, A C B, ...), so that each command follows
 * each other one equally often: what the kernel finishes after a command exits (a netns's
 * cleanup, RCU callbacks) lands on all of them alike, not always on the same next one.
 *
 *   interleave RUNS WARMUP OUT.json NAME CMD [ARG...] :: NAME CMD [ARG...] :: ...
 *
 * ("::", not "--", between commands: a command's own arguments may hold "--".)
 *
 * Each run: posix_spawn (vfork, no shell), waitpid, CLOCK_MONOTONIC around both; stdin,
 * stdout and stderr from /dev/null. WARMUP rounds are run and dropped. OUT.json has the
 * fields of hyperfine's --export-json that the bench scripts read: results[].command, median,
 * mean, stddev, min, max (seconds) and times[], the k-th time of every command from the
 * same round. A run that exits non-zero ends the benchmark (exit 1), after running that
 * command once more with its stderr shown: a failing command's time means nothing. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct cmd {
        const char *name;
        char **argv;
        double *times;
};

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

/* One run of c: its wall time in seconds, or -1 when it failed. fa NULL: stdio inherited. */
static double run_once(const struct cmd *c, const posix_spawn_file_actions_t *fa) {
        double t0 = now(), t1;
        pid_t pid;
        int st, r;

        r = posix_spawnp(&pid, c->argv[0], fa, NULL, c->argv, environ);
        if (r != 0) {
                fprintf(stderr, "interleave: %s: %s\n", c->argv[0], strerror(r));
                return -1;
        }
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return -1;
        t1 = now();
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "interleave: %s exited %d\n", c->name,
                        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
                return -1;
        }
        return t1 - t0;
}

static void write_result(FILE *f, const struct cmd *c, int runs, int last) {
        double *s = malloc(sizeof *s * (size_t) runs), sum = 0, var = 0, mean, median;

        if (!s)
                exit(1);
        memcpy(s, c->times, sizeof *s * (size_t) runs);
        qsort(s, (size_t) runs, sizeof *s, cmp_double);
        for (int i = 0; i < runs; i++)
                sum += s[i];
        mean = sum / runs;
        for (int i = 0; i < runs; i++)
                var += (s[i] - mean) * (s[i] - mean);
        median = runs % 2 ? s[runs / 2] : (s[runs / 2 - 1] + s[runs / 2]) / 2;
        fprintf(f, "{\"command\": \"%s\", \"median\": %.9f, \"mean\": %.9f, \"stddev\": %.9f, "
                   "\"min\": %.9f, \"max\": %.9f, \"times\": [",
                c->name, median, mean, runs > 1 ? sqrt(var / (runs - 1)) : 0.0, s[0],
                s[runs - 1]);
        for (int i = 0; i < runs; i++)
                fprintf(f, "%s%.9f", i ? ", " : "", c->times[i]);
        fprintf(f, "]}%s\n", last ? "" : ",");
        free(s);
}

int main(int argc, char **argv) {
        struct cmd cmds[16];
        int n = 0, runs, warmup;
        posix_spawn_file_actions_t fa;
        FILE *out;

        if (argc < 6) {
                fprintf(stderr, "usage: interleave RUNS WARMUP OUT.json NAME CMD [ARG...] "
                                "[:: NAME CMD [ARG...]]...\n");
                return 2;
        }
        runs = atoi(argv[1]);
        warmup = atoi(argv[2]);
        if (runs < 1 || warmup < 0) {
                fprintf(stderr, "interleave: RUNS >= 1 and WARMUP >= 0\n");
                return 2;
        }
        for (int i = 4; i < argc;) {
                int j = i + 1;

                while (j < argc && strcmp(argv[j], "::") != 0)
                        j++;
                /* A name and at least one word of command; names go into JSON unescaped. */
                if (n == (int) (sizeof cmds / sizeof cmds[0]) || j == i + 1 ||
                    strcmp(argv[i], "::") == 0 || strpbrk(argv[i], "\"\\") ||
                    strcmp(argv[i + 1], "::") == 0) {
                        fprintf(stderr, "interleave: NAME CMD expected at '%s'\n", argv[i]);
                        return 2;
                }
                cmds[n] = (struct cmd) { .name = argv[i], .argv = argv + i + 1,
                                         .times = calloc((size_t) runs, sizeof(double)) };
                if (!cmds[n].times)
                        return 1;
                n++;
                if (j < argc)
                        argv[j] = NULL; /* ends this command's argv */
                i = j + 1;
        }

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);

        for (int round = 0; round < warmup + runs; round++)
                for (int k = 0; k < n; k++) {
                        int rot = round % n, back = (round / n) % 2;
                        const struct cmd *c = &cmds[back ? (rot + n - k) % n : (rot + k) % n];
                        double t = run_once(c, &fa);

                        if (t < 0) {
                                fprintf(stderr, "interleave: %s failed; once more, with its "
                                                "stderr:\n", c->name);
                                (void) run_once(c, NULL);
                                return 1;
                        }
                        if (round >= warmup)
                                c->times[round - warmup] = t;
                }

        out = fopen(argv[3], "w");
        if (!out) {
                fprintf(stderr, "interleave: %s: %s\n", argv[3], strerror(errno));
                return 1;
        }
        fprintf(out, "{\"results\": [\n");
        for (int k = 0; k < n; k++)
                write_result(out, &cmds[k], runs, k == n - 1);
        fprintf(out, "]}\n");
        return fclose(out) == 0 ? 0 : 1;
}
