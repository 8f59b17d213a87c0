/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's terminal: a fresh pty from the sandbox's own devpts. The caller's terminal
 * never enters the sandbox; the supervisor relays between them, puts the caller's terminal
 * in raw mode and restores it on every exit path (atexit, and before any exit() here). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "error.h"
#include "macro.h"
#include "supervisor.h"
#include "syscalls.h"

static struct termios saved_modes;
static int saved_fd = -1;

void terminal_restore(void) {
        if (saved_fd >= 0) {
                /* TCSANOW: TCSAFLUSH would drop the caller's typeahead, meant for the
                 * shell, and wait for output a stopped terminal never sends. */
                (void) tcsetattr(saved_fd, TCSANOW, &saved_modes);
                saved_fd = -1;
        }
}

void terminal_restore_input(void) {
        struct termios now;

        if (saved_fd < 0 || tcgetattr(saved_fd, &now) < 0)
                return;
        /* The caller's input modes (ISIG: a typed ^C is SIGINT again), the raw output modes
         * kept: the agent's last bytes still go out as the pty made them, without a second
         * ONLCR. */
        now.c_iflag = saved_modes.c_iflag;
        now.c_lflag = saved_modes.c_lflag;
        memcpy(now.c_cc, saved_modes.c_cc, sizeof now.c_cc);
        (void) tcsetattr(saved_fd, TCSANOW, &now);
}

int terminal_open_pty(struct terminal *t, int pts_fd, struct caisson_error *err) {
        _cleanup_close_ int master = -1;
        int unlock = 0, slave;

        master = openat(pts_fd, "ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return cs_fail(err, CAISSON_LAYER_TERMINAL, CAISSON_REASON_TERMINAL_FAILED, errno,
                               "open the sandbox's ptmx");
        if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
                return cs_fail(err, CAISSON_LAYER_TERMINAL, CAISSON_REASON_TERMINAL_FAILED, errno,
                               "unlock pty");
        /* TIOCGPTPEER opens the peer through the master, never by a path the sandbox
         * could have swapped. */
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return cs_fail(err, CAISSON_LAYER_TERMINAL, CAISSON_REASON_TERMINAL_FAILED, errno,
                               "open pty peer");
        t->master = TAKE_FD(master);
        t->slave = slave;
        if (isatty(t->in_fd)) {
                struct termios tio;

                /* The pty starts with the caller's modes, so cooked/echo behave as before
                 * until the agent changes them. */
                if (tcgetattr(t->in_fd, &tio) == 0)
                        (void) tcsetattr(t->slave, TCSANOW, &tio);
        }
        terminal_resize(t);
        return 0;
}

int terminal_make_raw(struct terminal *t) {
        struct termios raw;

        if (!isatty(t->in_fd) || tcgetattr(t->in_fd, &saved_modes) < 0)
                return 0;
        saved_fd = t->in_fd;
        atexit(terminal_restore);
        raw = saved_modes;
        cfmakeraw(&raw);
        if (tcsetattr(t->in_fd, TCSANOW, &raw) < 0)
                return -errno;
        t->raw = true;
        return 0;
}

void terminal_resize(struct terminal *t) {
        struct winsize ws;

        if (t->master < 0)
                return;
        if (ioctl(t->in_fd, TIOCGWINSZ, &ws) == 0 || ioctl(t->out_fd, TIOCGWINSZ, &ws) == 0)
                (void) ioctl(t->master, TIOCSWINSZ, &ws);
}
