/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the policy parser: bytes → policy_load → notices → expand → free.
 * Besides memory errors it checks the promises of the error path: one line, naming the
 * file, no control characters a policy could smuggle into a terminal. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const char *line) {
        if (strncmp(line, "fuzz.yaml", 9) != 0)
                abort();
        for (const char *c = line; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        abort();
}

static void check_notice(const char *line, void *userdata) {
        (void) userdata;
        check_line(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct caisson_error err = {};
        struct policy *p = NULL;
        int r;

        /* Past the cap policy_load only says -EFBIG; no need to feed the fuzzer megabytes. */
        if (size > 64 * 1024)
                return 0;
        r = policy_load((const char *) data, size, "fuzz.yaml", &p, &err);
        if (r < 0) {
                if (p)
                        abort(); /* ret_ is written only on success */
                check_line(err.msg);
                return 0;
        }
        policy_notices(p, check_notice, NULL);
        if (policy_expand(p, "/home/fuzz", "/work/dir", &err) < 0)
                check_line(err.msg);
        policy_free(p);
        return 0;
}
