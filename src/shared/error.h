/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>

#include "caisson/reasons.h"
#include "caisson/types.h"

/* Fills *err (if not NULL) and returns -errnum, or -EINVAL when errnum is 0. No allocation:
 * safe in a forked child. */
int cs_fail(struct caisson_error *err, enum caisson_layer layer, enum caisson_reason code,
            int errnum, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

const char *caisson_layer_to_string(uint32_t layer);

/* "layer: msg: strerror" — into buf, for the one line the supervisor prints. */
const char *cs_error_format(const struct caisson_error *err, char *buf, size_t size);
