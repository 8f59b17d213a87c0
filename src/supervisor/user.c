/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who the agent runs as: process.run_as_user, else SUDO_UID (unless 0), else 65534 —
 * never root. Its group: process.run_as_group, else that user's primary group. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "macro.h"
#include "supervisor.h"

#define NOBODY 65534

static int parse_id(const char *s, unsigned long *ret) {
        char *end;
        unsigned long v;

        if (!s[0] || s[0] == '-' || s[0] == '+')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v > 4294967294UL)
                return -EINVAL;
        *ret = v;
        return 0;
}

static void fill_from_pw(struct run_user *u, const struct passwd *pw) {
        u->uid = pw->pw_uid;
        u->gid = pw->pw_gid;
        (void) snprintf(u->name, sizeof u->name, "%s", pw->pw_name);
        (void) snprintf(u->home, sizeof u->home, "%s", pw->pw_dir && pw->pw_dir[0] == '/' ?
                                                         pw->pw_dir : "/");
}

static void fill_default(struct run_user *u) {
        const char *sudo = getenv("SUDO_UID");
        unsigned long v;
        struct passwd *pw;

        if (sudo && parse_id(sudo, &v) == 0 && v != 0 && (pw = getpwuid((uid_t) v))) {
                fill_from_pw(u, pw);
                return;
        }
        if (sudo && parse_id(sudo, &v) == 0 && v != 0) {
                *u = (struct run_user) { .uid = (uid_t) v, .gid = (gid_t) v };
                (void) snprintf(u->name, sizeof u->name, "%lu", v);
                strcpy(u->home, "/");
                return;
        }
        *u = (struct run_user) { .uid = NOBODY, .gid = NOBODY };
        pw = getpwuid(NOBODY);
        (void) snprintf(u->name, sizeof u->name, "%s", pw ? pw->pw_name : "nobody");
        strcpy(u->home, "/");
}

int user_resolve(const char *user, const char *group, struct run_user *ret,
                 struct caisson_error *err) {
        struct run_user u = { 0 };
        unsigned long v;

        if (!user)
                fill_default(&u);
        else if (parse_id(user, &v) == 0) {
                struct passwd *pw = getpwuid((uid_t) v);

                if (pw)
                        fill_from_pw(&u, pw);
                else {
                        u.uid = (uid_t) v;
                        u.gid = (gid_t) v;
                        (void) snprintf(u.name, sizeof u.name, "%lu", v);
                        strcpy(u.home, "/");
                }
        } else {
                struct passwd *pw = getpwnam(user);

                if (pw)
                        fill_from_pw(&u, pw);
                else if (streq(user, "sandbox")) {
                        /* OpenShell's conventional user: fall back, and say so. */
                        fill_default(&u);
                        log_warning("process.run_as_user: no user 'sandbox' on this host, "
                                    "running as %s (uid %u)", u.name, (unsigned) u.uid);
                } else
                        return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_USER_UNKNOWN, 0,
                                       "process.run_as_user: no user '%s' on this host", user);
        }

        if (group) {
                if (parse_id(group, &v) == 0)
                        u.gid = (gid_t) v;
                else {
                        struct group *gr = getgrnam(group);

                        if (gr)
                                u.gid = gr->gr_gid;
                        else if (streq(group, "sandbox")) {
                                struct run_user d;

                                fill_default(&d);
                                u.gid = d.gid;
                                log_warning("process.run_as_group: no group 'sandbox' on this "
                                            "host, running with gid %u", (unsigned) u.gid);
                        } else
                                return cs_fail(err, CAISSON_LAYER_POLICY,
                                               CAISSON_REASON_USER_UNKNOWN, 0,
                                               "process.run_as_group: no group '%s' on this host",
                                               group);
                }
        }
        if (u.uid == 0 || u.gid == 0)
                return cs_fail(err, CAISSON_LAYER_POLICY, CAISSON_REASON_USER_ROOT, 0,
                               "the agent never runs as root (uid %u, gid %u)", (unsigned) u.uid,
                               (unsigned) u.gid);
        *ret = u;
        return 0;
}
