/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One cgroup per sandbox.
 *
 * The v2 cgroup "<v2>/caisson/<id>" tracks the whole tree (clone3 CLONE_INTO_CGROUP puts the
 * first process there before it runs a single instruction), kills it (cgroup.kill) and freezes
 * it (cgroup.freeze). Resource limits go through the v2 controllers where they are delegated,
 * else through the v1 hierarchies of a hybrid host ("<v1 mount>/caisson/<id>", only for the
 * limits asked for), else resources.on_unsupported decides: refuse, or run without that limit
 * and say so (->unsupported). A host without cgroup2 at all (v1 only) tracks the tree in the v1
 * pids hierarchy instead.
 *
 * Directories are made under a shared "caisson" parent that is never removed: other sandboxes
 * use it concurrently. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/native/cgroup.h"
#include "error.h"
#include "macro.h"
#include "util.h"

#define CGROUP_PARENT "caisson"
#define CPU_PERIOD_US 100000ULL
#define PROCS_MAX (4U << 20)  /* cgroup.procs read bound */
#define SMALL_MAX (64U << 10) /* cgroup.events & co */

/* Bounds on waiting for the kernel (10 ms steps). */
#define WAIT_STEP_NS (10 * 1000 * 1000L)
#define KILL_ROUNDS 300   /* SIGKILL sweeps over cgroup.procs: ~3 s */
#define EMPTY_ROUNDS 200  /* teardown: ~2 s for cgroup.kill to take effect */
#define FREEZE_ROUNDS 200 /* ~2 s for "frozen 1" */
#define RMDIR_ROUNDS 100  /* ~1 s of EBUSY */

static const struct {
        unsigned bit;
        const char *name;
} controllers[] = {
        { CGROUP_RES_MEMORY, "memory" },
        { CGROUP_RES_PIDS, "pids" },
        { CGROUP_RES_CPU, "cpu" },
};

static void sleep_step(void) {
        struct timespec ts = { .tv_nsec = WAIT_STEP_NS };

        (void) nanosleep(&ts, NULL);
}

static const char *res_name(unsigned bit) {
        for (size_t i = 0; i < ELEMENTSOF(controllers); i++)
                if (controllers[i].bit == bit)
                        return controllers[i].name;
        return "?";
}

/* ---- pure --------------------------------------------------------------------------- */

/* Does the comma-separated list contain word exactly ("cpu" is not "cpuset")? */
static bool list_has(const char *list, size_t len, const char *word) {
        size_t n = strlen(word);
        const char *p = list, *end = list + len;

        while (p < end) {
                const char *c = memchr(p, ',', (size_t) (end - p));
                size_t l = c ? (size_t) (c - p) : (size_t) (end - p);

                if (l == n && memcmp(p, word, n) == 0)
                        return true;
                if (!c)
                        break;
                p = c + 1;
        }
        return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static int unescape_into(const char *s, size_t len, char *buf, size_t size) {
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                char c = s[i];

                if (c == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' &&
                    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        c = (char) ((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
                                    (s[i + 3] - '0'));
                        i += 3;
                }
                if (o + 1 >= size)
                        return -ENAMETOOLONG;
                buf[o++] = c;
        }
        buf[o] = 0;
        return 0;
}

struct field {
        const char *p;
        size_t len;
};

int cgroup_layout_parse(const char *mountinfo, struct cgroup_layout *ret) {
        struct cgroup_layout l = {};
        const char *line = mountinfo;

        if (!mountinfo)
                return -EINVAL;

        while (*line) {
                const char *eol = strchrnul(line, '\n');
                struct field f[64];
                size_t nf = 0, sep = 0;
                const char *p = line;
                char mnt[sizeof l.v2];

                /* Split on spaces; mountinfo never has empty fields. */
                while (p < eol) {
                        const char *e = memchr(p, ' ', (size_t) (eol - p));

                        if (!e)
                                e = eol;
                        if (e > p) {
                                if (nf >= ELEMENTSOF(f))
                                        return -EINVAL;
                                f[nf++] = (struct field){ p, (size_t) (e - p) };
                        }
                        p = e + 1;
                }
                if (nf == 0) {
                        line = *eol ? eol + 1 : eol;
                        continue; /* blank line */
                }

                /* id parent maj:min root mount-point options [optional...] - type source super */
                for (size_t i = 6; i < nf; i++)
                        if (f[i].len == 1 && f[i].p[0] == '-') {
                                sep = i;
                                break;
                        }
                if (sep == 0 || nf < sep + 4 || f[4].p[0] != '/')
                        return -EINVAL;

                if (unescape_into(f[4].p, f[4].len, mnt, sizeof mnt) < 0)
                        goto next; /* too long for us: not a hierarchy we can use */

#define FIELD_IS(fl, s) ((fl).len == STRLEN(s) && memcmp((fl).p, s, STRLEN(s)) == 0)
                if (FIELD_IS(f[sep + 1], "cgroup2")) {
                        /* The first cgroup2 mount, unless the canonical one comes later. */
                        if (!l.v2[0] || streq(mnt, "/sys/fs/cgroup"))
                                strcpy(l.v2, mnt);
                } else if (FIELD_IS(f[sep + 1], "cgroup")) {
                        const struct field *super = &f[sep + 3];

                        if (!l.v1_memory[0] && list_has(super->p, super->len, "memory"))
                                strcpy(l.v1_memory, mnt);
                        if (!l.v1_pids[0] && list_has(super->p, super->len, "pids"))
                                strcpy(l.v1_pids, mnt);
                        if (!l.v1_cpu[0] && list_has(super->p, super->len, "cpu"))
                                strcpy(l.v1_cpu, mnt);
                }
#undef FIELD_IS
        next:
                line = *eol ? eol + 1 : eol;
        }

        *ret = l;
        return 0;
}

unsigned cgroup_controllers_parse(const char *text) {
        unsigned mask = 0;
        const char *p = text;

        while (p && *p) {
                size_t n;

                p += strspn(p, " \t\n");
                n = strcspn(p, " \t\n");
                for (size_t i = 0; i < ELEMENTSOF(controllers); i++)
                        if (n == strlen(controllers[i].name) &&
                            strncmp(p, controllers[i].name, n) == 0)
                                mask |= controllers[i].bit;
                p += n;
        }
        return mask;
}

int cgroup_keyed_get(const char *text, const char *key, unsigned long long *ret) {
        size_t n = strlen(key);
        const char *p = text;

        while (p && *p) {
                if (strncmp(p, key, n) == 0 && p[n] == ' ') {
                        char *end;
                        unsigned long long v;

                        errno = 0;
                        v = strtoull(p + n + 1, &end, 10);
                        if (errno || end == p + n + 1 || (*end && *end != '\n'))
                                return -EINVAL;
                        *ret = v;
                        return 0;
                }
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return -ENOENT;
}

int cgroup_limit_string(uint64_t value, char *buf, size_t size) {
        int n;

        if (value == 0)
                n = snprintf(buf, size, "max");
        else
                n = snprintf(buf, size, "%" PRIu64, value);
        return n < 0 || (size_t) n >= size ? -ENOBUFS : 0;
}

int cgroup_cpu_quota(uint32_t millis, uint64_t *ret_quota_us, uint64_t *ret_period_us) {
        if (millis == 0)
                return -EINVAL;
        if (millis < 10) {
                /* quota/period = millis/1000 with quota >= 1000 µs, the kernel's minimum */
                *ret_quota_us = (uint64_t) millis * 1000;
                *ret_period_us = 1000000;
        } else {
                *ret_quota_us = (uint64_t) millis * CPU_PERIOD_US / 1000;
                *ret_period_us = CPU_PERIOD_US;
        }
        return 0;
}

int cgroup_cpu_max_string(uint32_t millis, char *buf, size_t size) {
        uint64_t quota, period;
        int n;

        if (millis == 0)
                n = snprintf(buf, size, "max %llu", CPU_PERIOD_US);
        else {
                (void) cgroup_cpu_quota(millis, &quota, &period);
                n = snprintf(buf, size, "%" PRIu64 " %" PRIu64, quota, period);
        }
        return n < 0 || (size_t) n >= size ? -ENOBUFS : 0;
}

static bool id_valid(const char *id) {
        if (!id || !id[0] || streq(id, ".") || streq(id, ".."))
                return false;
        if (strlen(id) >= sizeof(((struct cgroup_set *) NULL)->id))
                return false;
        for (const char *p = id; *p; p++)
                if (*p == '/' || *p == '\n' || *p == ' ')
                        return false;
        return true;
}

int cgroup_path(const char *mount, const char *id, char *buf, size_t size) {
        int n;

        if (!mount || mount[0] != '/' || !id_valid(id))
                return -EINVAL;
        n = snprintf(buf, size, "%s/" CGROUP_PARENT "/%s", mount, id);
        if (n < 0 || (size_t) n >= size)
                return -ENAMETOOLONG;
        return 0;
}

/* ---- writing limits ----------------------------------------------------------------- */

static int write_limit(int dirfd, const char *where, const char *file, const char *value,
                       unsigned bit, bool optional, struct caisson_error *err) {
        int r = write_string_fileat(dirfd, file, value);

        if (r == -ENOENT && optional)
                return 0;
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED, -r,
                               "%s limit: write '%s' to '%s/%s'", res_name(bit), value, where,
                               file);
        return 0;
}

int cgroup_v2_apply_limits(int dirfd, const char *where, const struct caisson_resources *res,
                           unsigned which, struct caisson_error *err) {
        char v[64];
        int r;

        if (which & CGROUP_RES_MEMORY) {
                (void) cgroup_limit_string(res->memory_bytes, v, sizeof v);
                r = write_limit(dirfd, where, "memory.max", v, CGROUP_RES_MEMORY, false, err);
                if (r < 0)
                        return r;
                /* Without this the tree could push the rest of its working set to swap and
                 * grow past memory.max. Absent when swap accounting is off: then there is
                 * nothing to escape to through this cgroup. */
                r = write_limit(dirfd, where, "memory.swap.max", "0", CGROUP_RES_MEMORY, true,
                                err);
                if (r < 0)
                        return r;
        }
        if (which & CGROUP_RES_PIDS) {
                (void) cgroup_limit_string(res->pids, v, sizeof v);
                r = write_limit(dirfd, where, "pids.max", v, CGROUP_RES_PIDS, false, err);
                if (r < 0)
                        return r;
        }
        if (which & CGROUP_RES_CPU) {
                (void) cgroup_cpu_max_string(res->cpu_millis, v, sizeof v);
                r = write_limit(dirfd, where, "cpu.max", v, CGROUP_RES_CPU, false, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cgroup_v1_apply_limit(int dirfd, const char *where, const struct caisson_resources *res,
                          unsigned which, struct caisson_error *err) {
        char v[64];
        int r;

        switch (which) {
        case CGROUP_RES_MEMORY:
                if (res->memory_bytes == 0)
                        return 0;
                (void) snprintf(v, sizeof v, "%" PRIu64, res->memory_bytes);
                r = write_limit(dirfd, where, "memory.limit_in_bytes", v, which, false, err);
                if (r < 0)
                        return r;
                /* memory+swap: the same bound, so swap is no way around it. Must come after
                 * limit_in_bytes (the kernel wants memsw >= limit). Absent without swap
                 * accounting. */
                return write_limit(dirfd, where, "memory.memsw.limit_in_bytes", v, which, true,
                                   err);
        case CGROUP_RES_PIDS:
                if (res->pids == 0)
                        return 0;
                (void) snprintf(v, sizeof v, "%" PRIu64, res->pids);
                return write_limit(dirfd, where, "pids.max", v, which, false, err);
        case CGROUP_RES_CPU: {
                uint64_t quota, period;

                if (cgroup_cpu_quota(res->cpu_millis, &quota, &period) < 0)
                        return 0;
                (void) snprintf(v, sizeof v, "%" PRIu64, period);
                r = write_limit(dirfd, where, "cpu.cfs_period_us", v, which, false, err);
                if (r < 0)
                        return r;
                (void) snprintf(v, sizeof v, "%" PRIu64, quota);
                return write_limit(dirfd, where, "cpu.cfs_quota_us", v, which, false, err);
        }
        default:
                return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_INTERNAL, EINVAL,
                               "unknown limit 0x%x", which);
        }
}

/* ---- layout detection --------------------------------------------------------------- */

static unsigned read_controllers(const char *dir, const char *file) {
        _cleanup_free_ char *text = NULL;
        char path[PATH_MAX];

        if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int) sizeof path)
                return 0;
        if (read_full_file(path, SMALL_MAX, &text, NULL) < 0)
                return 0;
        return cgroup_controllers_parse(text);
}

/* Enables the wanted controllers for our subtree: first in the root's subtree_control (where
 * the host's manager has not already), then in "<v2>/caisson". Returns what is usable. */
static unsigned v2_delegate(const char *v2, unsigned want) {
        char parent[PATH_MAX], path[PATH_MAX + 32];
        unsigned root_on, ours_on;

        root_on = read_controllers(v2, "cgroup.subtree_control");
        (void) snprintf(path, sizeof path, "%s/cgroup.subtree_control", v2);
        for (size_t i = 0; i < ELEMENTSOF(controllers); i++) {
                char cmd[16];

                if (!(want & controllers[i].bit) || (root_on & controllers[i].bit))
                        continue;
                /* Fails with EBUSY in a container whose namespace root holds processes:
                 * not delegated to us, then. */
                (void) snprintf(cmd, sizeof cmd, "+%s", controllers[i].name);
                if (write_string_file(path, cmd) >= 0)
                        root_on |= controllers[i].bit;
        }
        want &= root_on;
        if (!want)
                return 0;

        if (snprintf(parent, sizeof parent, "%s/" CGROUP_PARENT, v2) >= (int) sizeof parent)
                return 0;
        if (mkdir(parent, 0755) < 0 && errno != EEXIST)
                return 0;
        ours_on = read_controllers(parent, "cgroup.subtree_control");
        (void) snprintf(path, sizeof path, "%s/cgroup.subtree_control", parent);
        for (size_t i = 0; i < ELEMENTSOF(controllers); i++) {
                char cmd[16];

                if (!(want & controllers[i].bit) || (ours_on & controllers[i].bit))
                        continue;
                (void) snprintf(cmd, sizeof cmd, "+%s", controllers[i].name);
                if (write_string_file(path, cmd) >= 0)
                        ours_on |= controllers[i].bit;
        }
        return want & ours_on;
}

int cgroup_layout_detect(struct cgroup_layout *ret, struct caisson_error *err) {
        _cleanup_free_ char *text = NULL;
        struct cgroup_layout l;
        int r;

        r = read_full_file("/proc/self/mountinfo", 16U << 20, &text, NULL);
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED, -r,
                               "read '/proc/self/mountinfo'");
        r = cgroup_layout_parse(text, &l);
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED, -r,
                               "parse '/proc/self/mountinfo'");

        if (l.v2[0]) {
                unsigned avail = read_controllers(l.v2, "cgroup.controllers");
                unsigned usable = avail ? v2_delegate(l.v2, avail) : 0;

                l.v2_memory = usable & CGROUP_RES_MEMORY;
                l.v2_pids = usable & CGROUP_RES_PIDS;
                l.v2_cpu = usable & CGROUP_RES_CPU;
        }

        *ret = l;
        return 0;
}

/* ---- the sandbox's cgroups ---------------------------------------------------------- */

/* The directories of a set that exist (made by us, or found by gc), in a fixed order. */
static size_t set_dirs(const struct cgroup_set *s, const char *ret[4]) {
        size_t n = 0;

        if (s->v2[0])
                ret[n++] = s->v2;
        if (s->v1_memory[0])
                ret[n++] = s->v1_memory;
        if (s->v1_pids[0])
                ret[n++] = s->v1_pids;
        if (s->v1_cpu[0])
                ret[n++] = s->v1_cpu;
        return n;
}

/* mkdir "<mount>/caisson" (shared, may exist) and "<mount>/caisson/<id>" (must not: an
 * existing one is not ours to adopt or to remove later). Records the path in out only once
 * made, so that teardown removes exactly what was made. */
static int make_dir(const char *mount, const char *id, char *out, size_t size,
                    struct caisson_error *err) {
        char path[512], parent[512];
        int r;

        r = cgroup_path(mount, id, path, sizeof path);
        if (r < 0 || path[0] == 0 || strlen(path) >= size)
                return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED,
                               r < 0 ? -r : ENAMETOOLONG, "cgroup path under '%s'", mount);
        (void) snprintf(parent, sizeof parent, "%s/" CGROUP_PARENT, mount);
        if (mkdir(parent, 0755) < 0 && errno != EEXIST)
                return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED, errno,
                               "mkdir '%s'", parent);
        if (mkdir(path, 0755) < 0)
                return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED, errno,
                               "mkdir '%s'", path);
        strcpy(out, path);
        return 0;
}

static int apply_v1(const char *dir, const struct caisson_resources *res, unsigned bit,
                    struct caisson_error *err) {
        _cleanup_close_ int fd = -1;

        fd = open(dir, O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED, errno,
                               "open '%s'", dir);
        return cgroup_v1_apply_limit(fd, dir, res, bit, err);
}

int cgroup_create(const struct cgroup_layout *l, const char *id,
                  const struct caisson_resources *res, struct cgroup_set **ret,
                  struct caisson_error *err) {
        _cleanup_(cgroup_teardownp) struct cgroup_set *s = NULL;
        static const struct caisson_resources none = {};
        unsigned want = 0, via_v2 = 0, via_v1 = 0, unsupported = 0;
        int r;

        if (!id_valid(id))
                return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED, EINVAL,
                               "invalid cgroup id '%s'", id ?: "(null)");
        if (!res)
                res = &none;

        if (res->memory_bytes > 0)
                want |= CGROUP_RES_MEMORY;
        if (res->pids > 0)
                want |= CGROUP_RES_PIDS;
        if (res->cpu_millis > 0)
                want |= CGROUP_RES_CPU;

        /* Plan first, so a refused limit leaves nothing behind to undo. */
        for (size_t i = 0; i < ELEMENTSOF(controllers); i++) {
                unsigned bit = controllers[i].bit;
                bool v2 = l->v2[0] && ((bit == CGROUP_RES_MEMORY && l->v2_memory) ||
                                       (bit == CGROUP_RES_PIDS && l->v2_pids) ||
                                       (bit == CGROUP_RES_CPU && l->v2_cpu));
                bool v1 = (bit == CGROUP_RES_MEMORY && l->v1_memory[0]) ||
                          (bit == CGROUP_RES_PIDS && l->v1_pids[0]) ||
                          (bit == CGROUP_RES_CPU && l->v1_cpu[0]);

                if (!(want & bit))
                        continue;
                if (v2)
                        via_v2 |= bit;
                else if (v1)
                        via_v1 |= bit;
                else if (res->on_unsupported == CAISSON_UNSUPPORTED_WARN)
                        unsupported |= bit;
                else
                        return cs_fail(err, CAISSON_LAYER_CGROUP,
                                       CAISSON_REASON_RESOURCE_UNSUPPORTED, EOPNOTSUPP,
                                       "%s limit: no cgroup v2 %s controller delegated and no v1 "
                                       "%s hierarchy (resources.on_unsupported: warn runs "
                                       "without it)",
                                       controllers[i].name, controllers[i].name,
                                       controllers[i].name);
        }
        /* Something must hold the tree, or it could not be killed as a whole. */
        if (!l->v2[0] && !l->v1_pids[0])
                return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED,
                               EOPNOTSUPP, "no cgroup2 mount and no v1 pids hierarchy");

        s = calloc(1, sizeof *s);
        if (!s)
                return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_NO_MEMORY, ENOMEM,
                               "cgroup set");
        s->v2_fd = -1;
        strcpy(s->id, id);

        if (l->v2[0]) {
                r = make_dir(l->v2, id, s->v2, sizeof s->v2, err);
                if (r < 0)
                        return r;
                s->v2_fd = open(s->v2, O_DIRECTORY | O_CLOEXEC);
                if (s->v2_fd < 0)
                        return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED,
                                       errno, "open '%s'", s->v2);
                r = cgroup_v2_apply_limits(s->v2_fd, s->v2, res, via_v2, err);
                if (r < 0)
                        return r;
        }

        if (via_v1 & CGROUP_RES_MEMORY) {
                r = make_dir(l->v1_memory, id, s->v1_memory, sizeof s->v1_memory, err);
                if (r < 0)
                        return r;
                r = apply_v1(s->v1_memory, res, CGROUP_RES_MEMORY, err);
                if (r < 0)
                        return r;
        }
        /* Without cgroup2, the v1 pids cgroup is what holds (and kills) the tree. */
        if ((via_v1 & CGROUP_RES_PIDS) || !l->v2[0]) {
                r = make_dir(l->v1_pids, id, s->v1_pids, sizeof s->v1_pids, err);
                if (r < 0)
                        return r;
                r = apply_v1(s->v1_pids, res, CGROUP_RES_PIDS, err);
                if (r < 0)
                        return r;
        }
        if (via_v1 & CGROUP_RES_CPU) {
                r = make_dir(l->v1_cpu, id, s->v1_cpu, sizeof s->v1_cpu, err);
                if (r < 0)
                        return r;
                r = apply_v1(s->v1_cpu, res, CGROUP_RES_CPU, err);
                if (r < 0)
                        return r;
        }

        s->via_v1 = via_v1;
        s->unsupported = unsupported;
        *ret = TAKE_PTR(s);
        return 0;
}

static int write_pid(const char *dir, pid_t pid, struct caisson_error *err) {
        char path[600], v[32];
        int r;

        (void) snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        (void) snprintf(v, sizeof v, "%d", (int) pid);
        r = write_string_file(path, v);
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED, -r,
                               "attach %d to '%s'", (int) pid, dir);
        return 0;
}

int cgroup_attach(const struct cgroup_set *s, pid_t pid, struct caisson_error *err) {
        const char *v1[3] = { s->v1_memory, s->v1_pids, s->v1_cpu };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(v1); i++) {
                if (!v1[i][0])
                        continue;
                r = write_pid(v1[i], pid, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cgroup_attach_v2(const struct cgroup_set *s, pid_t pid, struct caisson_error *err) {
        if (!s->v2[0])
                return 0;
        return write_pid(s->v2, pid, err);
}

/* Sends SIGKILL to every pid listed in dir/cgroup.procs. Returns how many were listed (0:
 * empty or gone), or a negative errno. */
static int kill_listed(const char *dir) {
        _cleanup_free_ char *text = NULL;
        char path[600];
        int n = 0, r;

        (void) snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        r = read_full_file(path, PROCS_MAX, &text, NULL);
        if (r == -ENOENT || r == -ENODEV)
                return 0; /* removed already */
        if (r < 0)
                return r;
        for (char *p = text, *end; *p; p = end) {
                long pid;

                errno = 0;
                pid = strtol(p, &end, 10);
                if (end == p)
                        break;
                if (errno == 0 && pid > 0 && pid <= INT_MAX) {
                        n++;
                        (void) kill((pid_t) pid, SIGKILL); /* ESRCH: raced with its exit */
                }
        }
        return n;
}

static int v2_populated(const struct cgroup_set *s) {
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -1;
        unsigned long long v;
        char path[600];
        int r;

        if (s->v2_fd >= 0)
                fd = openat(s->v2_fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
        else {
                (void) snprintf(path, sizeof path, "%s/cgroup.events", s->v2);
                fd = open(path, O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        r = read_full_fd(fd, SMALL_MAX, &text, NULL);
        if (r < 0)
                return r;
        r = cgroup_keyed_get(text, "populated", &v);
        if (r < 0)
                return r;
        return v > 0;
}

static int procs_nonempty(const char *dir) {
        _cleanup_free_ char *text = NULL;
        char path[600];
        int r;

        (void) snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        r = read_full_file(path, PROCS_MAX, &text, NULL);
        if (r == -ENOENT || r == -ENODEV)
                return 0;
        if (r < 0)
                return r;
        return text[strspn(text, " \n")] != 0;
}

int cgroup_populated(const struct cgroup_set *s) {
        const char *v1[3] = { s->v1_memory, s->v1_pids, s->v1_cpu };
        int r;

        if (s->v2[0]) {
                r = v2_populated(s);
                /* -ENOENT from keyed_get: a directory that is not a cgroup2 one */
                if (r != 0 && r != -ENOENT)
                        return r;
        }
        /* Also the v1 cgroups: a process attached there but not (yet) in v2 is still ours. */
        for (size_t i = 0; i < ELEMENTSOF(v1); i++) {
                if (!v1[i][0])
                        continue;
                r = procs_nonempty(v1[i]);
                if (r != 0)
                        return r;
        }
        return 0;
}

int cgroup_kill(const struct cgroup_set *s, struct caisson_error *err) {
        const char *dirs[4];
        size_t n = set_dirs(s, dirs);

        if (s->v2[0]) {
                /* cgroup.kill (5.14): the kernel kills the whole tree atomically, a forking
                 * loop included; no race with fork as in a procs sweep. */
                int r = s->v2_fd >= 0 ? write_string_fileat(s->v2_fd, "cgroup.kill", "1")
                                      : -ENOENT;

                if (r >= 0) {
                        /* and a process only in a v1 cgroup of ours (attach half done) */
                        for (size_t i = 1; i < n; i++)
                                (void) kill_listed(dirs[i]);
                        return 0;
                }
                if (r != -ENOENT)
                        return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED,
                                       -r, "write '%s/cgroup.kill'", s->v2);
        }

        /* No cgroup.kill: SIGKILL whatever is listed, until every list is empty. A fork
         * between our read and our kill lands in the next round; the pids limit, where set,
         * bounds how many there can be. */
        for (int round = 0; round < KILL_ROUNDS; round++) {
                int listed = 0;

                for (size_t i = 0; i < n; i++) {
                        int r = kill_listed(dirs[i]);

                        if (r < 0)
                                return cs_fail(err, CAISSON_LAYER_CGROUP,
                                               CAISSON_REASON_CGROUP_FAILED, -r,
                                               "read '%s/cgroup.procs'", dirs[i]);
                        listed += r;
                }
                if (listed == 0)
                        return 0;
                sleep_step();
        }
        return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED, EBUSY,
                       "cgroup '%s' still has processes after SIGKILL", s->id);
}

int cgroup_freeze(const struct cgroup_set *s, bool frozen, struct caisson_error *err) {
        int r;

        if (!s->v2[0] || s->v2_fd < 0)
                return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED,
                               EOPNOTSUPP, "freeze needs a cgroup v2 hierarchy");
        r = write_string_fileat(s->v2_fd, "cgroup.freeze", frozen ? "1" : "0");
        if (r < 0)
                return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED,
                               r == -ENOENT ? EOPNOTSUPP : -r, "write '%s/cgroup.freeze'",
                               s->v2);

        /* The write only starts it: each task stops at its next return to user space. */
        for (int round = 0; round < FREEZE_ROUNDS; round++) {
                _cleanup_free_ char *text = NULL;
                _cleanup_close_ int fd = -1;
                unsigned long long v;

                fd = openat(s->v2_fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED,
                                       errno, "open '%s/cgroup.events'", s->v2);
                r = read_full_fd(fd, SMALL_MAX, &text, NULL);
                if (r >= 0)
                        r = cgroup_keyed_get(text, "frozen", &v);
                if (r < 0)
                        return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED,
                                       -r, "read '%s/cgroup.events'", s->v2);
                if ((v != 0) == frozen)
                        return 0;
                sleep_step();
        }
        return cs_fail(err, CAISSON_LAYER_CGROUP, CAISSON_REASON_CGROUP_FAILED, ETIMEDOUT,
                       "cgroup '%s' did not %s", s->id, frozen ? "freeze" : "thaw");
}

int cgroup_oom_kills(const struct cgroup_set *s, unsigned long long *ret) {
        _cleanup_free_ char *text = NULL;
        char path[600];
        int r;

        if (s->v1_memory[0])
                (void) snprintf(path, sizeof path, "%s/memory.oom_control", s->v1_memory);
        else if (s->v2[0])
                (void) snprintf(path, sizeof path, "%s/memory.events", s->v2);
        else
                return -EOPNOTSUPP;
        r = read_full_file(path, SMALL_MAX, &text, NULL);
        if (r == -ENOENT)
                return -EOPNOTSUPP; /* v2 memory controller not enabled for us */
        if (r < 0)
                return r;
        r = cgroup_keyed_get(text, "oom_kill", ret);
        return r == -ENOENT ? -EOPNOTSUPP : r;
}

/* Kills, waits for the tree to be gone, removes the directories. 0 when all are gone. */
static int set_destroy(struct cgroup_set *s) {
        char *dirs[4] = { s->v2, s->v1_memory, s->v1_pids, s->v1_cpu };
        int r = 0, p = 0;

        (void) cgroup_kill(s, NULL);
        /* cgroup.kill is asynchronous: give the tree ~2 s to exit, then keep killing
         * (a procs sweep catches what a v1-only set or a lost race left). */
        for (int round = 0; round < EMPTY_ROUNDS + KILL_ROUNDS; round++) {
                p = cgroup_populated(s);
                if (p <= 0)
                        break;
                if (round >= EMPTY_ROUNDS)
                        (void) cgroup_kill(s, NULL);
                sleep_step();
        }

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                if (!dirs[i][0])
                        continue;
                for (int round = 0;; round++) {
                        if (rmdir(dirs[i]) >= 0 || errno == ENOENT) {
                                dirs[i][0] = 0;
                                break;
                        }
                        /* EBUSY: a task still exiting (or, v1, a zombie being reaped). */
                        if (errno != EBUSY || round >= RMDIR_ROUNDS) {
                                r = -errno;
                                break;
                        }
                        (void) kill_listed(dirs[i]);
                        sleep_step();
                }
        }
        s->v2_fd = safe_close(s->v2_fd);
        return r;
}

void cgroup_teardown(struct cgroup_set *s) {
        if (!s)
                return;
        (void) set_destroy(s); /* what could not be removed, `caisson gc` reclaims */
        free(s);
}

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static void layout_mounts(const struct cgroup_layout *l, const char *ret[4]) {
        ret[0] = l->v2;
        ret[1] = l->v1_memory;
        ret[2] = l->v1_pids;
        ret[3] = l->v1_cpu;
}

int cgroup_remove_id(const struct cgroup_layout *l, const char *id) {
        struct cgroup_set s = { .v2_fd = -1 };
        const char *mounts[4];
        char *dirs[4] = { s.v2, s.v1_memory, s.v1_pids, s.v1_cpu };
        bool found = false;
        struct stat st;

        if (!id_valid(id))
                return -EINVAL;
        strcpy(s.id, id);
        layout_mounts(l, mounts);
        for (size_t i = 0; i < ELEMENTSOF(mounts); i++) {
                if (!mounts[i][0])
                        continue;
                if (cgroup_path(mounts[i], id, dirs[i], sizeof s.v2) < 0)
                        return -EINVAL;
                if (lstat(dirs[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
                        dirs[i][0] = 0;
                        continue;
                }
                found = true;
        }
        if (!found)
                return -ENOENT;
        if (s.v2[0])
                s.v2_fd = open(s.v2, O_DIRECTORY | O_CLOEXEC);
        return set_destroy(&s);
}

char **cgroup_ids_free(char **ids) {
        if (ids)
                for (char **p = ids; *p; p++)
                        free(*p);
        free(ids);
        return NULL;
}

static void cgroup_ids_freep(char ***ids) {
        *ids = cgroup_ids_free(*ids);
}

int cgroup_list_ids(const struct cgroup_layout *l, char ***ret) {
        _cleanup_(cgroup_ids_freep) char **ids = NULL;
        const char *mounts[4];
        size_t n = 0, alloc = 0;

        layout_mounts(l, mounts);
        for (size_t i = 0; i < ELEMENTSOF(mounts); i++) {
                _cleanup_(closedirp) DIR *d = NULL;
                char path[512];
                struct dirent *de;

                if (!mounts[i][0])
                        continue;
                (void) snprintf(path, sizeof path, "%s/" CGROUP_PARENT, mounts[i]);
                d = opendir(path);
                if (!d) {
                        if (errno == ENOENT)
                                continue;
                        return -errno;
                }
                while ((de = readdir(d))) {
                        bool dup = false;

                        if (de->d_type != DT_DIR || !id_valid(de->d_name) ||
                            de->d_name[0] == '.')
                                continue;
                        for (size_t k = 0; k < n && !dup; k++)
                                dup = streq(ids[k], de->d_name);
                        if (dup)
                                continue;
                        if (n + 2 > alloc) {
                                size_t na = alloc ? alloc * 2 : 16;
                                char **nids = realloc(ids, na * sizeof *ids);

                                if (!nids)
                                        return -ENOMEM;
                                ids = nids;
                                alloc = na;
                        }
                        ids[n] = strdup(de->d_name);
                        if (!ids[n])
                                return -ENOMEM;
                        ids[++n] = NULL;
                }
        }
        if (!ids) {
                ids = calloc(1, sizeof *ids);
                if (!ids)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(ids);
        return (int) n;
}
