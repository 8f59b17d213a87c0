/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Event records (DESIGN §7): one JSON object per line,
 * {"type":"event","seq":N,"time":RFC3339ns,"sandbox":ID,"event":NAME,"reason":CODE,...}. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
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

int events_open(struct events *ev, const char *path, const char *sandbox) {
        *ev = (struct events) { .fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };
        (void) snprintf(ev->sandbox, sizeof ev->sandbox, "%s", sandbox);
        if (!path)
                return 0;
        ev->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
        if (ev->fd < 0)
                return -errno;
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
        {
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

void events_close(struct events *ev) {
        ev->fd = safe_close(ev->fd);
}
