/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runtime state of a sandbox: /run/caisson/<id>/state.json. It names the supervisor by pid
 * and start time, since pids are reused and /run is not always a tmpfs; `caisson gc`
 * reclaims a sandbox whose supervisor is gone. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "macro.h"
#include "supervisor.h"
#include "util.h"

int state_create(const char *id, const char *name, char *ret_dir, size_t size,
                 struct caisson_error *err) {
        char path[512], tmp[256];
        unsigned long long st = 0;
        json_object *o;
        const char *s;
        int fd, r;

        r = mkdir_p(CAISSON_RUN_DIR, 0711);
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_STATE, CAISSON_REASON_STATE_FAILED, -r,
                               "create '%s'", CAISSON_RUN_DIR);
        (void) snprintf(ret_dir, size, "%s/%s", CAISSON_RUN_DIR, id);
        /* The directory appears under its id only once state.json is in it: `caisson gc`
         * reclaims an id directory whose state is missing, so a directory made in place
         * would be reclaimed by a concurrent gc while we fill it (and the sandbox's build
         * would fail). gc ignores this name (not an id). */
        (void) snprintf(tmp, sizeof tmp, "%s/.new-%s", CAISSON_RUN_DIR, id);
        if (mkdir(tmp, 0700) < 0)
                return cs_fail(err, CAISSON_LAYER_STATE, CAISSON_REASON_STATE_FAILED, errno,
                               "create '%s'", tmp);
        (void) pid_starttime(getpid(), &st);
        o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(id));
        json_object_object_add(o, "name", json_object_new_string(name ?: ""));
        json_object_object_add(o, "supervisor_pid", json_object_new_int64(getpid()));
        json_object_object_add(o, "supervisor_starttime", json_object_new_int64((int64_t) st));
        json_object_object_add(o, "backend", json_object_new_string("native"));
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        (void) snprintf(path, sizeof path, "%s/state.json", tmp);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t) strlen(s)) {
                r = errno;
                if (fd >= 0)
                        close(fd);
                json_object_put(o);
                (void) unlink(path);
                (void) rmdir(tmp);
                return cs_fail(err, CAISSON_LAYER_STATE, CAISSON_REASON_STATE_FAILED, r,
                               "write '%s'", path);
        }
        close(fd);
        json_object_put(o);
        if (rename(tmp, ret_dir) < 0) {
                r = errno;
                (void) unlink(path);
                (void) rmdir(tmp);
                return cs_fail(err, CAISSON_LAYER_STATE, CAISSON_REASON_STATE_FAILED, r,
                               "create '%s'", ret_dir);
        }
        return 0;
}

void state_remove(const char *id) {
        /* Every file a state directory may hold: a directory left with one in it would be
         * "reclaimed" by every gc and never go. */
        static const char *const files[] = { "state.json", "resolv.conf" };
        char path[512];

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                (void) snprintf(path, sizeof path, "%s/%s/%s", CAISSON_RUN_DIR, id, files[i]);
                (void) unlink(path);
        }
        (void) snprintf(path, sizeof path, "%s/%s", CAISSON_RUN_DIR, id);
        (void) rmdir(path);
}

int state_read(const char *id, struct sandbox_state *ret) {
        _cleanup_free_ char *buf = NULL;
        char path[512];
        json_object *o, *v;
        int r;

        (void) snprintf(path, sizeof path, "%s/%s/state.json", CAISSON_RUN_DIR, id);
        r = read_full_file(path, 65536, &buf, NULL);
        if (r < 0)
                return r;
        o = json_tokener_parse(buf);
        if (!o)
                return -EBADMSG;
        memset(ret, 0, sizeof *ret);
        (void) snprintf(ret->id, sizeof ret->id, "%s", id);
        if (json_object_object_get_ex(o, "name", &v))
                (void) snprintf(ret->name, sizeof ret->name, "%s", json_object_get_string(v));
        if (json_object_object_get_ex(o, "supervisor_pid", &v))
                ret->supervisor_pid = (pid_t) json_object_get_int64(v);
        if (json_object_object_get_ex(o, "supervisor_starttime", &v))
                ret->starttime = (unsigned long long) json_object_get_int64(v);
        json_object_put(o);
        return 0;
}

int state_alive(const struct sandbox_state *s) {
        unsigned long long st;

        if (s->supervisor_pid <= 0 || pid_starttime(s->supervisor_pid, &st) < 0)
                return 0;
        return st == s->starttime;
}
