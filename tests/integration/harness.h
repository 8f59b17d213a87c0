/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared helpers of the root integration suites: run caisson (or the probe) as a
 * subprocess and capture its stdout, stderr, exit code and time; temporary workdirs that
 * the sandbox user owns; host processes and files the test made, removed in .fini also
 * when the test failed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define H_NOBODY 65534

struct h_result {
        int status;     /* raw wait status */
        int code;       /* exit code, or 128+N for signal N (shell convention) */
        char *out;      /* stdout, NUL-terminated, never NULL */
        char *err;      /* stderr, NUL-terminated, never NULL */
        double secs;    /* wall time from fork to exit */
        bool timed_out; /* the harness had to SIGKILL it */
};

struct h_opts {
        const char *const *setenv;  /* "K=V" added to the inherited environment */
        const char *const *unsetenv;
        const int *keep_fds;        /* fds (>= 3) to leave open, without CLOEXEC, in the child */
        size_t n_keep;
        uid_t uid;                  /* run as uid:gid (with no groups) when as_user */
        bool as_user;
        int stdin_fd;               /* -1 (or 0 if unset): /dev/null */
        int ctty_fd;                /* a tty: setsid + TIOCSCTTY + dup to stdin (if stdin_fd < 0) */
        bool ctty;
        int timeout_s;              /* SIGKILL after this long; 0 = 120 s */
};

struct h_proc {
        pid_t pid;
        int out_fd, err_fd;
        double start;
};

/* Environment the meson test() gives: CAISSON_BIN, CAISSON_PROBE, CAISSON_NOLANDLOCK. */
const char *h_caisson(void);
const char *h_probe(void);
const char *h_nolandlock(void);
const char *h_nonetfilter(void);
void h_require_root(void);

/* Suite .fini: kills the host processes and removes the paths registered below. */
void h_cleanup(void);
void h_register_pid(pid_t pid);
void h_register_path(const char *path);

/* A fresh directory (mkdtemp under base, "/var/tmp" when NULL) owned by nobody, with a copy
 * of the probe as DIR/probe. Registered for removal. Returns a static-lifetime string. */
char *h_workdir(const char *base);
/* DIR/name as a new string (caller frees; tests leak it, the process is short-lived). */
char *h_path(const char *dir, const char *name);
void h_write_file(const char *path, const char *content, mode_t mode);
char *h_read_file(const char *path); /* NULL if it cannot be read */
bool h_exists(const char *path);

/* Start argv (argv[0] a path) with the options; stdout/stderr go to pipes. */
int h_spawn(const char *const *argv, const struct h_opts *o, struct h_proc *ret);
/* Collect output until the process exits (SIGKILL after timeout_s). */
void h_wait(struct h_proc *p, int timeout_s, struct h_result *ret);
void h_run(const char *const *argv, const struct h_opts *o, struct h_result *ret);
void h_result_done(struct h_result *r);

/* caisson run --workdir WD ARGS... -- CMD...: args and cmd are NULL-terminated. */
void h_caisson_run(const char *wd, const char *const *args, const char *const *cmd,
                   const struct h_opts *o, struct h_result *ret);
/* The probe inside a sandbox with the default policy: "caisson run --workdir WD -- WD/probe
 * ARGS...". Returns stdout's first line (static buffer is not used: caller frees). */
char *h_probe_in(const char *wd, const char *const *caisson_args, const char *const *probe_args);
/* The same probe outside, as root (as_user false) or as nobody. */
char *h_probe_out(bool as_nobody, const char *const *probe_args);

/* Waits up to ms for path to exist. */
bool h_wait_path(const char *path, int ms);
/* Host pids with an argument equal to token (excluding ourselves); returns count. */
int h_find_procs(const char *token, pid_t *ret, int max);
/* pid's parent, from /proc/PID/stat, and its name into comm (size bytes) if comm is given;
 * 0 if it cannot be read (gone). */
pid_t h_ppid(pid_t pid, char *comm, size_t size);
/* The caisson sandbox id of a host pid, from its cgroup ("/caisson/<id>"); 0 on success. */
int h_sandbox_id_of(pid_t pid, char *ret, size_t size);
/* Every cgroup directory of sandbox id (in every hierarchy) that exists; returns count. */
int h_cgroup_dirs_of(const char *id, char ret[][512], int max);
char *h_first_line(const char *s);
/* A policy file in dir with the given YAML; returns its path. */
char *h_policy(const char *dir, const char *name, const char *yaml);
/* Count of '\n'-terminated lines in s. */
int h_count_lines(const char *s);
double h_now(void);
