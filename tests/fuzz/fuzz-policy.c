/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the policy parser: bytes → policy_load → notices → expand → free. */
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ignore_line(const char *line, void *userdata) {
        (void) line;
        (void) userdata;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct caisson_error err = {};
        struct policy *p = NULL;

        /* Past the cap policy_load only says -EFBIG; no need to feed the fuzzer megabytes. */
        if (size > 64 * 1024)
                return 0;
        if (policy_load((const char *) data, size, "fuzz.yaml", &p, &err) == 0) {
                policy_notices(p, ignore_line, NULL);
                (void) policy_expand(p, "/home/fuzz", "/work/dir", &err);
                policy_free(p);
        }
        return 0;
}
