/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_set_level(enum log_level level);
int log_set_level_from_string(const char *s);
enum log_level log_get_level(void);

/* Writes "caisson: <msg>\n" to stderr when level is enabled. Returns -errnum for the
 * _errno variants ("return log_error_errno(r, ...)"). */
void log_full(enum log_level level, int errnum, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* While the supervisor's loop runs, its messages must not stall it on a terminal (or pipe)
 * that takes no more output: log_hold_begin() writes them through a non-blocking file
 * description of stderr of our own, keeping what does not fit (16 KiB, then counted as
 * dropped) for log_flush(), which the loop calls each round (and when log_held_fd(), an fd
 * while anything is held, takes output), and log_hold_end(), which writes the rest out,
 * waiting for stderr with wait(fd, userdata) (blocking when wait is NULL); a wait that
 * returns false gives up, and what is left is dropped. Without a tty or pipe on stderr,
 * nothing changes. */
void log_hold_begin(void);
int log_held_fd(void);
void log_flush(void);
/* From now on what does not fit is kept (up to 4 MiB), not dropped: for the exit path,
 * whose messages are written once at log_hold_end(). */
void log_hold_grow(void);
void log_hold_end(bool (*wait)(int fd, void *userdata), void *userdata);

#define log_error(...) log_full(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_warning(...) log_full(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_info(...) log_full(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_full(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_error_errno(e, ...) (log_full(LOG_LEVEL_ERROR, (e), __VA_ARGS__), -abs(e))
#define log_warning_errno(e, ...) (log_full(LOG_LEVEL_WARNING, (e), __VA_ARGS__), -abs(e))
