/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caisson gc: reclaim what dead supervisors left. A sandbox's processes die with its
 * supervisor (init has a parent-death signal and exits when its socket closes), so what
 * can be left is state in /run/caisson and cgroup directories. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
