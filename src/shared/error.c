/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "macro.h"

static const char *const layer_table[_CAISSON_LAYER_MAX] = {
        [CAISSON_LAYER_NONE] = "caisson",       [CAISSON_LAYER_POLICY] = "policy",
        [CAISSON_LAYER_NAMESPACE] = "namespace", [CAISSON_LAYER_MOUNT] = "mount",
        [CAISSON_LAYER_CGROUP] = "cgroup",       [CAISSON_LAYER_LANDLOCK] = "landlock",
        [CAISSON_LAYER_SECCOMP] = "seccomp",     [CAISSON_LAYER_CAPS] = "capabilities",
        [CAISSON_LAYER_CREDS] = "credentials",   [CAISSON_LAYER_NET] = "network",
        [CAISSON_LAYER_NFT] = "nftables",        [CAISSON_LAYER_EXEC] = "exec",
        [CAISSON_LAYER_SUPERVISOR] = "supervisor", [CAISSON_LAYER_BACKEND] = "backend",
        [CAISSON_LAYER_TERMINAL] = "terminal",   [CAISSON_LAYER_STATE] = "state",
};

const char *caisson_layer_to_string(uint32_t layer) {
        if (layer >= _CAISSON_LAYER_MAX || !layer_table[layer])
                return "caisson";
        return layer_table[layer];
}

const char *caisson_reason_to_string(uint32_t code) {
        switch (code) {
#define CAISSON_REASON_CASE_(name, num, str)                                                       \
        case num:                                                                                  \
                return str;
                CAISSON_REASONS(CAISSON_REASON_CASE_)
#undef CAISSON_REASON_CASE_
        }
        return NULL;
}

int cs_fail(struct caisson_error *err, enum caisson_layer layer, enum caisson_reason code,
            int errnum, const char *fmt, ...) {
        if (errnum < 0)
                errnum = -errnum;
        if (err) {
                va_list ap;

                err->layer = layer;
                err->code = code;
                err->errnum = errnum;
                va_start(ap, fmt);
                (void) vsnprintf(err->msg, sizeof err->msg, fmt, ap);
                va_end(ap);
                /* One line, always: a path with a newline must not forge a second message. */
                for (char *p = err->msg; *p; p++)
                        if (*p == '\n' || *p == '\r')
                                *p = ' ';
        }
        return errnum > 0 ? -errnum : -EINVAL;
}

const char *cs_error_format(const struct caisson_error *err, char *buf, size_t size) {
        if (err->errnum > 0)
                (void) snprintf(buf, size, "%s: %s: %s", caisson_layer_to_string(err->layer),
                                err->msg, strerror(err->errnum));
        else
                (void) snprintf(buf, size, "%s: %s", caisson_layer_to_string(err->layer),
                                err->msg);
        return buf;
}
