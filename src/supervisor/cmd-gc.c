/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caisson gc: reclaim what dead supervisors left. A sandbox's processes die with its
 * supervisor (init has a parent-death signal and exits when its socket closes), so what
 * can be left is state in /run/caisson and cgroup directories. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#include "backends/native/cgroup.h"
#include "macro.h"
#include "supervisor.h"

static bool id_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 31)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* A ".new-<id>" directory is a state directory being written (state_create). It is
 * left behind only when its supervisor died in between: reclaim it when its state names
 * a dead supervisor, or, without state, when it is older than a minute. */
static unsigned gc_new_dir(const char *name) {
        char dir[512], path[600];
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        json_object *o, *v;
        bool dead = false;

        (void) snprintf(dir, sizeof dir, "%s/%s", CAISSON_RUN_DIR, name);
        (void) snprintf(path, sizeof path, "%s/state.json", dir);
        if (read_full_file(path, 65536, &buf, NULL) == 0 && (o = json_tokener_parse(buf))) {
                struct sandbox_state s = { 0 };

                if (json_object_object_get_ex(o, "supervisor_pid", &v))
                        s.supervisor_pid = (pid_t) json_object_get_int64(v);
                if (json_object_object_get_ex(o, "supervisor_starttime", &v))
                        s.starttime = (unsigned long long) json_object_get_int64(v);
                json_object_put(o);
                dead = !state_alive(&s);
        } else if (stat(dir, &st) == 0)
                dead = time(NULL) - st.st_mtime > 60;
        if (!dead)
                return 0;
        (void) unlink(path);
        if (rmdir(dir) < 0)
                return 0;
        printf("reclaimed unfinished state %s\n", name);
        return 1;
}

int cmd_gc(int argc, char **argv) {
        struct cgroup_layout l;
        DIR *d;
        struct dirent *de;
        unsigned reclaimed = 0;
        char **ids = NULL;

        (void) argc;
        (void) argv;
        if (geteuid() != 0) {
                fprintf(stderr, "caisson: gc needs root\n");
                return EXIT_CAISSON;
        }
        if (cgroup_layout_detect(&l, NULL) < 0)
                memset(&l, 0, sizeof l);

        d = opendir(CAISSON_RUN_DIR);
        while (d && (de = readdir(d))) {
                struct sandbox_state s;

                if (strncmp(de->d_name, ".new-", 5) == 0 && id_valid(de->d_name + 5)) {
                        reclaimed += gc_new_dir(de->d_name);
                        continue;
                }
                if (!id_valid(de->d_name))
                        continue;
                if (state_read(de->d_name, &s) == 0 && state_alive(&s))
                        continue;
                (void) cgroup_remove_id(&l, de->d_name);
                state_remove(de->d_name);
                printf("reclaimed sandbox %s\n", de->d_name);
                reclaimed++;
        }
        if (d)
                closedir(d);

        /* cgroups whose state is gone (a supervisor killed between the two). */
        if (cgroup_list_ids(&l, &ids) >= 0 && ids) {
                for (char **i = ids; *i; i++) {
                        struct sandbox_state s;

                        if (id_valid(*i) && !(state_read(*i, &s) == 0 && state_alive(&s))) {
                                (void) cgroup_remove_id(&l, *i);
                                printf("reclaimed cgroup %s\n", *i);
                                reclaimed++;
                        }
                        free(*i);
                }
                free(ids);
        }
        printf("%u reclaimed\n", reclaimed);
        return 0;
}
