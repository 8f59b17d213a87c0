/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes caisson's default seccomp denylist as compiled classic BPF, the form
 * `bwrap --add-seccomp-fd` takes, so bench/syscall-overhead.sh can run bubblewrap with
 * exactly the filter a caisson sandbox gets: the same table (src/policy/seccomp-table.c)
 * compiled by the same code (src/backends/native/syscall-filter.c). Two programs, as
 * caisson loads them: the denylist, then the ceiling on syscall numbers.
 * Usage: denylist-bpf MAIN.bpf CEILING.bpf. Linked against a caisson build directory. */
#include <stdio.h>
#include <stdlib.h>

#include "backends/native/syscall-filter.h"
#include "policy/seccomp-table.h"

static int write_prog(const char *path, const struct sock_fprog *prog) {
        FILE *f = fopen(path, "we");

        if (!f || fwrite(prog->filter, sizeof prog->filter[0], prog->len, f) != prog->len ||
            fclose(f) != 0) {
                perror(path);
                return -1;
        }
        return 0;
}

int main(int argc, char **argv) {
        struct caisson_syscall_rule *rules = NULL;
        struct syscall_filter f;
        struct caisson_error err = { 0 };
        size_t n = 0;

        if (argc != 3) {
                fprintf(stderr, "usage: denylist-bpf MAIN.bpf CEILING.bpf\n");
                return 2;
        }
        if (syscall_table_build(NULL, 0, NULL, 0, &rules, &n, &err) < 0 ||
            syscall_filter_compile(rules, n, &f, &err) < 0) {
                fprintf(stderr, "denylist-bpf: %s\n", err.msg);
                return 1;
        }
        if (write_prog(argv[1], &f.main) < 0 || write_prog(argv[2], &f.ceiling) < 0)
                return 1;
        fprintf(stderr, "denylist-bpf: %zu rules, %u + %u BPF instructions\n", n,
                (unsigned) f.main.len, (unsigned) f.ceiling.len);
        syscall_filter_done(&f);
        free(rules);
        return 0;
}
