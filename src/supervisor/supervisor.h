/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "caisson/backend.h"
#include "caisson/types.h"

#define CAISSON_RUN_DIR "/run/caisson"
#define EXIT_CAISSON 125

/* events.c — stable event names live only here. */
enum event_type {
        EVENT_SANDBOX_CREATED,
        EVENT_BOUNDARY_READY,
        EVENT_AGENT_STARTED,
        EVENT_PROCESS_EXEC,
        EVENT_SYSCALL_DENIED,
        EVENT_FS_DENIED,
        EVENT_RESOURCE_LIMIT,
        EVENT_AGENT_EXITED,
        EVENT_SANDBOX_DESTROYED,
        EVENT_PERSISTENCE_CREATED,
        EVENT_LAYER_DEGRADED,
        EVENT_EGRESS_ALLOWED,
        EVENT_EGRESS_DENIED,
        EVENT_DNS_DENIED,
        _EVENT_TYPE_MAX
};
const char *event_type_to_string(enum event_type t);

struct event_line;
struct events {
        int fd;            /* --events file, or -1 */
        uint64_t seq;
        char sandbox[32];
        /* The egress thread emits too: seq and the write are taken under this lock. */
        pthread_mutex_t lock;
        /* A sink that can make a write wait (a pipe, a terminal) is written by a thread of
         * its own from this queue, so no emitter waits on it (events.c). */
        bool queued;
        bool writing;      /* the writer thread runs */
        bool closing;
        bool failed;       /* a write to the sink failed: the rest is dropped */
        int stop_fd;       /* eventfd: the writer stops waiting for the sink */
        int done_fd;       /* eventfd: the writer has finished */
        pthread_t writer;
        pthread_cond_t cond;
        struct event_line *head, *tail;
        size_t queued_bytes;
        uint64_t dropped;
        uint64_t dropped_stopped; /* of them, those after the writer was told to stop (a
                                   * signal at close); > 0 once it stopped */
};
int events_open(struct events *ev, const char *path, const char *sandbox);
/* Writes one record; takes ownership of details (may be NULL). Never blocks enforcement:
 * a regular file is written at once (such writes do not wait), any other sink through a
 * writer thread and a queue (64 MiB, then records are counted as dropped, and said so at
 * close). A failed write is reported and dropped. Safe from any thread. */
void events_emit(struct events *ev, enum event_type t, uint32_t reason, json_object *details);
/* Starts a queued sink's writer thread. Not before the sandbox's init is cloned: a thread
 * inside malloc or stdio at clone3() would leave their locks held in the child. Until then
 * records wait in the queue. */
void events_start(struct events *ev);
/* Writes what is queued, waiting as long as the sink takes it, then closes. With sigfd
 * (a signalfd, or -1): SIGINT, SIGTERM, SIGHUP or SIGQUIT read from it ends the wait (and
 * sets *quit), as does *quit already set; the records not taken are counted as dropped and
 * said so. */
void events_close(struct events *ev, int sigfd, bool *quit);
/* Whether records go anywhere: without a sink, callers need not build them. The sink is
 * fixed between events_open and events_close, so any thread may ask. */
bool events_wanted(const struct events *ev);

/* lifecycle.c — the contract, in order. */
enum lifecycle_state {
        LIFECYCLE_NONE,
        LIFECYCLE_BOUNDARY,  /* ensure_boundary + bind done */
        LIFECYCLE_READY,
        LIFECYCLE_RUNNING,
        LIFECYCLE_DESTROYED,
        _LIFECYCLE_STATE_MAX
};
struct lifecycle {
        const struct caisson_backend_v1 *backend;
        struct caisson_boundary *boundary;
        struct caisson_attachment att;
        enum lifecycle_state state;
};
int lifecycle_init(struct lifecycle *lc, const struct caisson_backend_v1 *be,
                   struct caisson_error *err);
int lifecycle_ensure(struct lifecycle *lc, const struct caisson_intent *intent,
                     struct caisson_error *err);
int lifecycle_ready(struct lifecycle *lc, struct caisson_error *err);
int lifecycle_start(struct lifecycle *lc, const struct caisson_spawn *spec, pid_t *ret_pid,
                    struct caisson_error *err);
void lifecycle_teardown(struct lifecycle *lc);
const char *lifecycle_state_to_string(enum lifecycle_state s);

/* The built-in backends. */
extern const struct caisson_backend_v1 caisson_backend_native;

/* user.c */
struct run_user {
        uid_t uid;
        gid_t gid;
        char name[64];
        char home[4096];
};
/* Resolves process.run_as_user/group (NULL = default: SUDO_UID unless 0, else 65534). */
int user_resolve(const char *user, const char *group, struct run_user *ret,
                 struct caisson_error *err);
/* Makes each of paths (absolute) that is missing, with its missing parents, as u (no
 * supplementary groups), mode 0700; created() is called for each one made. An error if
 * one cannot be made or is not a directory. */
int user_make_dirs(const struct run_user *u, char *const *paths, size_t n,
                   void (*created)(const char *path, void *userdata), void *userdata,
                   struct caisson_error *err);

/* state.c */
struct sandbox_state {
        char id[32];
        char name[128];
        pid_t supervisor_pid;
        unsigned long long starttime;
};
int state_create(const char *id, const char *name, char *ret_dir, size_t size,
                 struct caisson_error *err);
void state_remove(const char *id);
int state_read(const char *id, struct sandbox_state *ret);
/* 1 if the supervisor that wrote the state is alive (pid and start time both match). */
int state_alive(const struct sandbox_state *s);

/* terminal.c */
struct terminal {
        int in_fd;              /* caller's terminal (stdin) */
        int out_fd;             /* caller's stdout */
        int master;             /* pty master, or -1 */
        int slave;              /* pty slave for the agent (closed after start) */
        bool raw;               /* caller's terminal modes saved and set raw */
};
int terminal_open_pty(struct terminal *t, int pts_fd, struct caisson_error *err);
int terminal_make_raw(struct terminal *t);
void terminal_resize(struct terminal *t);
void terminal_restore(void);
/* The caller's input modes only (ISIG, ICANON, ECHO, the control characters); the raw
 * output modes stay until terminal_restore(). */
void terminal_restore_input(void);

/* cmd-run.c: reads and loads a policy file, or the built-in one when path is NULL. */
struct policy;
int policy_load_file(const char *path, struct policy **ret, struct caisson_error *err);

/* commands */
int cmd_run(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_gc(int argc, char **argv);
void print_error(const struct caisson_error *err);
