/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Reads a whole file (at most max bytes; -EFBIG past it) into a NUL-terminated buffer. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);
/* Reads from an open fd likewise. */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);
/* Writes a string to a file (O_WRONLY|O_CLOEXEC|O_NOCTTY, no create). */
int write_string_file(const char *path, const char *s);
int write_string_fileat(int dirfd, const char *path, const char *s);

/* Creates the directory and its parents (mode 0755); existing is fine. */
int mkdir_p(const char *path, mode_t mode);

/* Brings "lo" of the calling thread's network namespace up (the kernel then gives it
 * 127.0.0.1/8 and ::1). Idempotent. Returns 0 or -errno. */
int loopback_up(void);

/* true if path is absolute with no ".", "..", empty component or trailing slash. */
bool path_is_normalized_absolute(const char *path);
/* true if path equals prefix or lies below it ("/a/b" under "/a", not "/ab"). */
bool path_startswith(const char *path, const char *prefix);

/* Parses "90s", "5m", "1h", "250ms", plain seconds; into nanoseconds. */
int parse_duration(const char *s, unsigned long long *ret_ns);
/* Parses "512M", "2G", "100k", plain bytes. */
int parse_size(const char *s, unsigned long long *ret);

/* Random lowercase hex, 2*n digits + NUL into buf (size >= 2n+1). */
int random_hex(char *buf, size_t n);

/* Start time of a process (field 22 of /proc/<pid>/stat), for pid-reuse-safe identity. */
int pid_starttime(pid_t pid, unsigned long long *ret);

/* A non-blocking file description of our own for writing to what fd is, where a write to
 * fd could wait (a terminal, a pipe): O_NONBLOCK on fd itself would change the description
 * it shares with whoever gave it to us. Opened again through /proc/self/fd and checked to be
 * the same file. -1 where that is not safe or not needed: a regular file (writes never wait,
 * and a new description would write from offset 0), a socket, a pty master or /dev/tty or
 * /dev/ptmx (opening those again gives another terminal). */
int fd_reopen_nonblocking(int fd);

/* A socket(domain, type, protocol) bound to sa: its fd, or -errno (nothing left open). */
int socket_bound(int domain, int type, int protocol, const struct sockaddr *sa, socklen_t len);
