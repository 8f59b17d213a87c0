/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static enum log_level max_level = LOG_LEVEL_WARNING;

/* log_hold_begin()..log_hold_end(): see log.h. */
#define HELD_MAX (4u << 20)
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static int hold_fd = -1;
static char held_fixed[16384];
static char *held = held_fixed;
static size_t held_cap = sizeof held_fixed;
static bool held_grows;
static size_t n_held;
static unsigned long n_dropped;

/* Writes what is held, as far as the fd takes it now. Under hold_lock. 0, or -errno when
 * the fd takes nothing more ever (EPIPE: its reader is gone; EIO: a hung-up terminal). */
static int held_write(void) {
        size_t off = 0;
        int r = 0;

        while (off < n_held) {
                ssize_t n = write(hold_fd, held + off, n_held - off);

                if (n > 0)
                        off += (size_t) n;
                else if (n < 0 && errno == EINTR)
                        continue;
                else {
                        if (n < 0 && errno != EAGAIN)
                                r = -errno;
                        break;
                }
        }
        memmove(held, held + off, n_held - off);
        n_held -= off;
        return r;
}

void log_hold_begin(void) {
        pthread_mutex_lock(&hold_lock);
        if (hold_fd < 0)
                hold_fd = fd_reopen_nonblocking(STDERR_FILENO);
        pthread_mutex_unlock(&hold_lock);
}

int log_held_fd(void) {
        int fd;

        pthread_mutex_lock(&hold_lock);
        fd = n_held > 0 ? hold_fd : -1;
        pthread_mutex_unlock(&hold_lock);
        return fd;
}

void log_flush(void) {
        pthread_mutex_lock(&hold_lock);
        if (hold_fd >= 0 && n_held > 0)
                held_write();
        pthread_mutex_unlock(&hold_lock);
}

void log_hold_grow(void) {
        pthread_mutex_lock(&hold_lock);
        held_grows = true;
        pthread_mutex_unlock(&hold_lock);
}

void log_hold_end(bool (*wait)(int fd, void *userdata), void *userdata) {
        pthread_mutex_lock(&hold_lock);
        if (hold_fd >= 0) {
                int r;

                if (!wait)
                        (void) fcntl(hold_fd, F_SETFL, fcntl(hold_fd, F_GETFL) & ~O_NONBLOCK);
                /* Until all is written, the wait gives up, or the fd takes nothing ever. */
                for (r = held_write(); r == 0 && n_held > 0 && wait && wait(hold_fd, userdata);)
                        r = held_write();
                if (r == 0 && n_dropped > 0 && (!wait || wait(hold_fd, userdata)))
                        (void) dprintf(hold_fd, "caisson: %lu messages dropped: stderr took no "
                                       "more output\n", n_dropped);
                (void) close(hold_fd);
                hold_fd = -1;
                n_held = 0;
                n_dropped = 0;
                if (held != held_fixed)
                        free(held);
                held = held_fixed;
                held_cap = sizeof held_fixed;
        }
        held_grows = false;
        pthread_mutex_unlock(&hold_lock);
}

/* One whole line to stderr: through the held fd while there is one. */
static void emit(const char *line, size_t len) {
        pthread_mutex_lock(&hold_lock);
        if (hold_fd < 0) {
                pthread_mutex_unlock(&hold_lock);
                (void) fputs(line, stderr);
                return;
        }
        held_write();
        /* Grown at exit (log_hold_grow()), up to HELD_MAX: what is said then is not
         * dropped for a terminal that takes it later. */
        if (n_held + len > held_cap && held_grows && n_held + len <= HELD_MAX) {
                size_t cap = held_cap;
                char *b;

                while (cap < n_held + len)
                        cap *= 2;
                b = held == held_fixed ? malloc(cap) : realloc(held, cap);
                if (b) {
                        if (held == held_fixed)
                                memcpy(b, held_fixed, n_held);
                        held = b;
                        held_cap = cap;
                }
        }
        if (n_held + len > held_cap)
                n_dropped++;
        else {
                memcpy(held + n_held, line, len);
                n_held += len;
                held_write();
        }
        pthread_mutex_unlock(&hold_lock);
}

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
        {
                char line[sizeof buf + 256];
                int k = errnum != 0 ? snprintf(line, sizeof line, "caisson: %s: %s\n", buf,
                                               strerror(abs(errnum))) :
                                      snprintf(line, sizeof line, "caisson: %s\n", buf);

                if (k <= 0)
                        return;
                if ((size_t) k >= sizeof line) {
                        k = (int) sizeof line - 1;
                        line[k - 1] = '\n';
                }
                emit(line, (size_t) k);
        }
}
