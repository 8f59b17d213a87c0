/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static enum log_level max_level = LOG_LEVEL_WARNING;

void log_set_level(enum log_level level) {
        max_level = level;
}

enum log_level log_get_level(void) {
        return max_level;
}

int log_set_level_from_string(const char *s) {
        static const char *const names[] = { "error", "warning", "info", "debug" };

        for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
                if (strcmp(s, names[i]) == 0) {
                        max_level = (enum log_level) i;
                        return 0;
                }
        return -1;
}

void log_full(enum log_level level, int errnum, const char *fmt, ...) {
        char buf[2048];
        va_list ap;
        int n;

        if (level > max_level)
                return;
        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if (errnum != 0)
                (void) fprintf(stderr, "caisson: %s: %s\n", buf, strerror(abs(errnum)));
        else
                (void) fprintf(stderr, "caisson: %s\n", buf);
}
