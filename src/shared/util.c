/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "macro.h"
#include "util.h"

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, alloc = 0;

        for (;;) {
                ssize_t n;

                if (alloc - size < 4096) {
                        size_t na = alloc ? alloc * 2 : 8192;
                        char *nb;

                        if (na > max + 4096)
                                na = max + 4096;
                        if (na <= size + 1)
                                return -EFBIG;
                        nb = realloc(buf, na);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        alloc = na;
                }
                n = read(fd, buf + size, alloc - size - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max)
                        return -EFBIG;
        }
        if (!buf) {
                buf = malloc(1);
                if (!buf)
                        return -ENOMEM;
        }
        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -1;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, max, ret, ret_size);
}

int write_string_fileat(int dirfd, const char *path, const char *s) {
        _cleanup_close_ int fd = -1;
        size_t len = strlen(s);
        ssize_t n;

        fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = write(fd, s, len);
        if (n < 0)
                return -errno;
        if ((size_t) n != len)
                return -EIO;
        return 0;
}

int write_string_file(const char *path, const char *s) {
        return write_string_fileat(AT_FDCWD, path, s);
}

int mkdir_p(const char *path, mode_t mode) {
        char buf[PATH_MAX];
        size_t len = strlen(path);
        char *slash;

        if (len == 0 || len >= sizeof buf)
                return -EINVAL;
        /* The leaf first: the parents almost always exist (a sandbox's view creates dozens
         * of mount points under one root), so one mkdir usually does it, instead of one
         * per component from "/". */
        if (mkdir(path, mode) >= 0 || errno == EEXIST)
                return 0;
        if (errno != ENOENT)
                return -errno;
        /* Walk up to the deepest ancestor that exists, then create downwards. */
        memcpy(buf, path, len + 1);
        for (;;) {
                slash = strrchr(buf, '/');
                if (!slash || slash == buf)
                        break;
                *slash = 0;
                if (mkdir(buf, mode) >= 0 || errno == EEXIST)
                        break;
                if (errno != ENOENT)
                        return -errno;
        }
        for (char *p = buf + strlen(buf); p < buf + len; p += strlen(p)) {
                *p = '/';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return -errno;
        }
        return 0;
}

bool path_is_normalized_absolute(const char *path) {
        const char *p = path;

        if (!path || path[0] != '/')
                return false;
        if (streq(path, "/"))
                return true;
        while (*p == '/') {
                const char *e = strchrnul(p + 1, '/');
                size_t n = (size_t) (e - (p + 1));

                if (n == 0)
                        return false; /* "//" or trailing "/" */
                if ((n == 1 && p[1] == '.') || (n == 2 && p[1] == '.' && p[2] == '.'))
                        return false;
                p = e;
        }
        return true;
}

bool path_startswith(const char *path, const char *prefix) {
        size_t n = strlen(prefix);

        if (streq(prefix, "/"))
                return path[0] == '/';
        return strncmp(path, prefix, n) == 0 && (path[n] == 0 || path[n] == '/');
}

int parse_duration(const char *s, unsigned long long *ret_ns) {
        char *end;
        double v;
        double mult = 1e9;

        if (!s || !*s || isspace((unsigned char) *s) || *s == '-')
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || v < 0)
                return -EINVAL;
        if (*end == 0 || streq(end, "s"))
                mult = 1e9;
        else if (streq(end, "ms"))
                mult = 1e6;
        else if (streq(end, "m") || streq(end, "min"))
                mult = 60e9;
        else if (streq(end, "h"))
                mult = 3600e9;
        else
                return -EINVAL;
        if (v * mult > 1e18)
                return -ERANGE;
        *ret_ns = (unsigned long long) (v * mult);
        return 0;
}

int parse_size(const char *s, unsigned long long *ret) {
        char *end;
        unsigned long long v, mult = 1;

        if (!s || !isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno)
                return -ERANGE;
        if (*end && end[1] && !(end[1] == 'i' && end[2] == 'B' && !end[3]) &&
            !(end[1] == 'B' && !end[2]))
                return -EINVAL;
        switch (*end) {
        case 0: break;
        case 'k': case 'K': mult = 1ULL << 10; break;
        case 'm': case 'M': mult = 1ULL << 20; break;
        case 'g': case 'G': mult = 1ULL << 30; break;
        case 't': case 'T': mult = 1ULL << 40; break;
        default: return -EINVAL;
        }
        if (v > ULLONG_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

int random_hex(char *buf, size_t n) {
        unsigned char raw[64];

        if (n > sizeof raw)
                return -EINVAL;
        if (getrandom(raw, n, 0) != (ssize_t) n)
                return -errno ?: -EIO;
        for (size_t i = 0; i < n; i++)
                (void) snprintf(buf + 2 * i, 3, "%02x", raw[i]);
        return 0;
}

int pid_starttime(pid_t pid, unsigned long long *ret) {
        _cleanup_free_ char *buf = NULL;
        char path[64];
        const char *p;
        int r;

        (void) snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        r = read_full_file(path, 4096, &buf, NULL);
        if (r < 0)
                return r;
        p = strrchr(buf, ')'); /* comm may hold spaces and ')' */
        if (!p)
                return -EIO;
        p++;
        /* A zombie is dead for our purposes: its supervisor role ended with it. */
        if (p[0] == ' ' && (p[1] == 'Z' || p[1] == 'X'))
                return -ESRCH;
        /* after ") " come fields 3..; starttime is field 22 */
        for (int field = 3; field < 22 && p; field++)
                p = strchr(p + 1, ' ');
        if (!p)
                return -EIO;
        *ret = strtoull(p + 1, NULL, 10);
        return 0;
}

int loopback_up(void) {
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = { 0 };

        if (fd < 0)
                return -errno;
        strcpy(ifr.ifr_name, "lo");
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return -errno;
        if (ifr.ifr_flags & IFF_UP)
                return 0;
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                return -errno;
        return 0;
}

int fd_reopen_nonblocking(int fd) {
        struct stat a, b;
        char path[32];
        int own, ptn;

        if (fstat(fd, &a) < 0)
                return -1;
        if (S_ISCHR(a.st_mode)) {
                /* /dev/tty (5,0), /dev/console (5,1), /dev/ptmx (5,2): aliases or a new pty. */
                if (!isatty(fd) || major(a.st_rdev) == 5 || ioctl(fd, TIOCGPTN, &ptn) == 0)
                        return -1;
        } else if (!S_ISFIFO(a.st_mode))
                return -1;
        (void) snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        own = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (own < 0)
                return -1;
        if (fstat(own, &b) < 0 || b.st_dev != a.st_dev || b.st_ino != a.st_ino ||
            b.st_rdev != a.st_rdev) {
                close(own);
                return -1;
        }
        return own;
}

int socket_bound(int domain, int type, int protocol, const struct sockaddr *sa, socklen_t len) {
        int fd = socket(domain, type, protocol);

        if (fd < 0)
                return -errno;
        if (bind(fd, sa, len) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
}
