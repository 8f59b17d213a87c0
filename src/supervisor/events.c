/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Event records (DESIGN §7): one JSON object per line,
 * {"type":"event","seq":N,"time":RFC3339ns,"sandbox":ID,"event":NAME,"reason":CODE,...}. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "macro.h"
#include "supervisor.h"

static const char *const event_names[_EVENT_TYPE_MAX] = {
        [EVENT_SANDBOX_CREATED] = "sandbox.created",
        [EVENT_BOUNDARY_READY] = "boundary.ready",
        [EVENT_AGENT_STARTED] = "agent.started",
        [EVENT_PROCESS_EXEC] = "process.exec",
        [EVENT_SYSCALL_DENIED] = "syscall.denied",
        [EVENT_FS_DENIED] = "fs.denied",
        [EVENT_RESOURCE_LIMIT] = "resource.limit",
        [EVENT_AGENT_EXITED] = "agent.exited",
        [EVENT_SANDBOX_DESTROYED] = "sandbox.destroyed",
        [EVENT_PERSISTENCE_CREATED] = "persistence.created",
        [EVENT_LAYER_DEGRADED] = "layer.degraded",
        [EVENT_EGRESS_ALLOWED] = "egress.allowed",
        [EVENT_EGRESS_DENIED] = "egress.denied",
        [EVENT_DNS_DENIED] = "dns.denied",
};

const char *event_type_to_string(enum event_type t) {
        return t < _EVENT_TYPE_MAX ? event_names[t] : NULL;
}

#define EVENTS_QUEUE_MAX (64u << 20)

struct event_line {
        struct event_line *next;
        uint64_t seq;
        size_t len;
        char text[];                    /* the record and its "\n" */
};

/* Whole lines, waiting as long as the sink takes, unless told to stop (stop_fd readable):
 * -ECANCELED, after ending a line cut short with a newline if the sink takes one. The
 * sink's description is non-blocking (events_open), so the wait is a poll that the stop
 * can end. */
static int write_all(int fd, int stop_fd, const char *p, size_t len) {
        bool started = false;

        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        struct pollfd pfd[2] = { { .fd = fd, .events = POLLOUT },
                                                 { .fd = stop_fd, .events = POLLIN } };

                        if (poll(pfd, stop_fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
                                return -errno;
                        if (pfd[1].revents & POLLIN) {
                                if (started)
                                        (void) !write(fd, "\n", 1);
                                return -ECANCELED;
                        }
                        continue;
                }
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                started = true;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* The writer of a queued sink: lines in seq order, until closing and empty. A sink that
 * fails (its reader closed the pipe) is written no more: the rest is counted as dropped. */
static void *writer_main(void *userdata) {
        struct events *ev = userdata;

        (void) pthread_mutex_lock(&ev->lock);
        for (;;) {
                struct event_line *l;
                int r = 0;

                while (!ev->head && !ev->closing)
                        (void) pthread_cond_wait(&ev->cond, &ev->lock);
                if (!ev->head)
                        break;
                l = ev->head;
                ev->head = l->next;
                if (!ev->head)
                        ev->tail = NULL;
                ev->queued_bytes -= sizeof *l + l->len;
                if (ev->failed) {
                        ev->dropped++;
                        ev->dropped_stopped += ev->dropped_stopped > 0;
                        free(l);
                        continue;
                }
                (void) pthread_mutex_unlock(&ev->lock);
                r = write_all(ev->fd, ev->stop_fd, l->text, l->len);
                if (r < 0 && r != -ECANCELED)
                        log_warning("events: the sink failed (%s): record %llu and those after "
                                    "it are dropped", strerror(-r), (unsigned long long) l->seq);
                free(l);
                (void) pthread_mutex_lock(&ev->lock);
                if (r < 0) {
                        ev->failed = true;
                        ev->dropped++;
                        ev->dropped_stopped += r == -ECANCELED;
                }
        }
        (void) pthread_mutex_unlock(&ev->lock);
        if (ev->done_fd >= 0)
                (void) eventfd_write(ev->done_fd, 1);
        return NULL;
}

int events_open(struct events *ev, const char *path, const char *sandbox) {
        struct stat st;

        *ev = (struct events) { .fd = -1, .stop_fd = -1, .done_fd = -1,
                                .lock = PTHREAD_MUTEX_INITIALIZER };
        (void) snprintf(ev->sandbox, sizeof ev->sandbox, "%s", sandbox);
        if (!path)
                return 0;
        ev->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
        if (ev->fd < 0)
                return -errno;
        /* A pipe or a terminal can make a write wait for its reader: the supervisor's loop
         * (which answers the sandbox's held syscalls) and the relay must not. Records
         * queue until events_start() starts the writer. */
        if (fstat(ev->fd, &st) == 0 && !S_ISREG(st.st_mode)) {
                /* The description is caisson's own (opened here, by path): non-blocking,
                 * so the writer's wait can be ended (write_all). */
                (void) fcntl(ev->fd, F_SETFL, fcntl(ev->fd, F_GETFL) | O_NONBLOCK);
                ev->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                ev->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                (void) pthread_cond_init(&ev->cond, NULL);
                ev->queued = true;
        }
        return 0;
}

void events_emit(struct events *ev, enum event_type t, uint32_t reason, json_object *details) {
        json_object *o = details ?: json_object_new_object();
        struct timespec ts;
        struct tm tm;
        char when[64];
        const char *s, *rs = caisson_reason_to_string(reason);
        size_t len;

        uint64_t seq;

        (void) pthread_mutex_lock(&ev->lock);
        seq = ++ev->seq;
        if (ev->fd < 0 || !o) {
                (void) pthread_mutex_unlock(&ev->lock);
                json_object_put(o);
                return;
        }
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        (void) gmtime_r(&ts.tv_sec, &tm);
        (void) snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        tm.tm_sec, ts.tv_nsec);
        json_object_object_add(o, "type", json_object_new_string("event"));
        json_object_object_add(o, "seq", json_object_new_int64((int64_t) seq));
        json_object_object_add(o, "time", json_object_new_string(when));
        json_object_object_add(o, "sandbox", json_object_new_string(ev->sandbox));
        json_object_object_add(o, "event", json_object_new_string(event_type_to_string(t)));
        json_object_object_add(o, "reason", json_object_new_string(rs ?: "internal"));
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        len = strlen(s);
        if (ev->queued) {
                struct event_line *l = NULL;

                /* Queued in seq order under the lock; written by writer_main(). */
                if (!ev->failed && ev->queued_bytes + sizeof *l + len + 1 <= EVENTS_QUEUE_MAX)
                        l = malloc(sizeof *l + len + 1);
                if (l) {
                        *l = (struct event_line) { .seq = seq, .len = len + 1 };
                        memcpy(l->text, s, len);
                        l->text[len] = '\n';
                        if (ev->tail)
                                ev->tail->next = l;
                        else
                                ev->head = l;
                        ev->tail = l;
                        ev->queued_bytes += sizeof *l + l->len;
                        (void) pthread_cond_signal(&ev->cond);
                } else
                        ev->dropped++;
        } else {
                struct iovec iov[2] = { { (void *) s, len }, { (void *) "\n", 1 } };

                /* One writev per record, O_APPEND, under the lock: lines never interleave
                 * and seq stays in file order. */
                if (writev(ev->fd, iov, 2) != (ssize_t) (len + 1))
                        log_warning("events: write failed, record %llu dropped",
                                    (unsigned long long) seq);
        }
        (void) pthread_mutex_unlock(&ev->lock);
        json_object_put(o);
}

bool events_wanted(const struct events *ev) {
        return ev->fd >= 0;
}

void events_start(struct events *ev) {
        if (!ev->queued || ev->writing)
                return;
        ev->writing = pthread_create(&ev->writer, NULL, writer_main, ev) == 0;
        if (!ev->writing)
                log_warning("events: no writer thread: records wait in memory until caisson "
                            "exits");
}

/* Waits for the writer to finish; a quitting signal on sigfd tells it to stop waiting for
 * the sink. Other signals (SIGCHLD, SIGWINCH) are read and ignored. */
static void wait_writer(struct events *ev, int sigfd, bool *quit) {
        bool asked = *quit;

        if (asked)
                (void) eventfd_write(ev->stop_fd, 1);
        for (;;) {
                struct pollfd pfd[2] = { { .fd = ev->done_fd, .events = POLLIN },
                                         { .fd = sigfd, .events = POLLIN } };
                struct signalfd_siginfo si;

                if (ev->done_fd < 0 || poll(pfd, sigfd >= 0 ? 2 : 1, -1) < 0) {
                        if (ev->done_fd >= 0 && errno == EINTR)
                                continue;
                        break;
                }
                if (pfd[0].revents & POLLIN)
                        break;
                while (read(sigfd, &si, sizeof si) == sizeof si)
                        if (!asked && (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM ||
                                       si.ssi_signo == SIGHUP || si.ssi_signo == SIGQUIT)) {
                                asked = *quit = true;
                                (void) eventfd_write(ev->stop_fd, 1);
                        }
        }
        (void) pthread_join(ev->writer, NULL);
}

void events_close(struct events *ev, int sigfd, bool *quit) {
        if (ev->queued) {
                (void) pthread_mutex_lock(&ev->lock);
                ev->closing = true;
                (void) pthread_cond_signal(&ev->cond);
                (void) pthread_mutex_unlock(&ev->lock);
                /* A writer that never started (the sandbox failed before) starts now, so
                 * that this wait too is one a signal can end; without a thread at all,
                 * what is queued is written here. */
                events_start(ev);
                if (ev->writing)
                        wait_writer(ev, sigfd, quit);
                else
                        (void) writer_main(ev);
                (void) pthread_cond_destroy(&ev->cond);
                ev->queued = false;
                if (ev->dropped > ev->dropped_stopped)
                        log_warning("events: %llu records dropped: the events sink %s",
                                    (unsigned long long) (ev->dropped - ev->dropped_stopped),
                                    ev->failed && ev->dropped_stopped == 0 ? "failed" :
                                    "took no more (64 MiB were waiting for it)");
                if (ev->dropped_stopped > 0)
                        log_warning("events: %llu records dropped: the events sink did not "
                                    "take them before caisson was told to stop waiting",
                                    (unsigned long long) ev->dropped_stopped);
        }
        ev->fd = safe_close(ev->fd);
        ev->stop_fd = safe_close(ev->stop_fd);
        ev->done_fd = safe_close(ev->done_fd);
}
