/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cgroup: layout parsing and limit rendering (pure), the limit writers against temp dirs that
 * mimic cgroup directories, then — as root — real cgroups on this machine. */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/native/cgroup.h"
#include "caisson/reasons.h"
#include "macro.h"
#include "util.h"

/* ---- mountinfo ---------------------------------------------------------------------- */

/* The development machine: hybrid, v1 controllers plus a controller-less cgroup2. */
static const char hybrid[] =
        "22 1 0:20 / / rw,relatime - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c\n"
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
        "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
        "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
        "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
        "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* Debian 12 / Fedora with systemd: pure v2, optional fields before the separator. */
static const char pure_v2[] =
        "24 29 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
        "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
        "rw,nsdelegate,memory_recursiveprot\n"
        "29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n";

/* CentOS 7: v1 only, cpu and cpuacct co-mounted, cpuset listed first. */
static const char v1_only[] =
        "25 19 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755\n"
        "26 25 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup "
        "cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd\n"
        "28 25 0:24 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:10 - cgroup "
        "cgroup rw,cpuset\n"
        "29 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - "
        "cgroup cgroup rw,cpuacct,cpu\n"
        "30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup "
        "cgroup rw,memory\n"
        "31 25 0:27 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:13 - cgroup "
        "cgroup rw,pids\n";

Test(cgroup_layout, hybrid) {
        struct cgroup_layout l;

        cr_assert_eq(cgroup_layout_parse(hybrid, &l), 0);
        cr_assert_str_eq(l.v2, "/sys/fs/cgroup/unified");
        cr_assert_str_eq(l.v1_memory, "/sys/fs/cgroup/memory");
        cr_assert_str_eq(l.v1_pids, "/sys/fs/cgroup/pids");
        cr_assert_str_eq(l.v1_cpu, "/sys/fs/cgroup/cpu"); /* not cpuset, not cpuacct */
        cr_assert(!l.v2_memory && !l.v2_pids && !l.v2_cpu);
}

Test(cgroup_layout, pure_v2) {
        struct cgroup_layout l;

        cr_assert_eq(cgroup_layout_parse(pure_v2, &l), 0);
        cr_assert_str_eq(l.v2, "/sys/fs/cgroup");
        cr_assert_str_eq(l.v1_memory, "");
        cr_assert_str_eq(l.v1_pids, "");
        cr_assert_str_eq(l.v1_cpu, "");
}

Test(cgroup_layout, v1_only) {
        struct cgroup_layout l;

        cr_assert_eq(cgroup_layout_parse(v1_only, &l), 0);
        cr_assert_str_eq(l.v2, "");
        cr_assert_str_eq(l.v1_memory, "/sys/fs/cgroup/memory");
        cr_assert_str_eq(l.v1_pids, "/sys/fs/cgroup/pids");
        cr_assert_str_eq(l.v1_cpu, "/sys/fs/cgroup/cpu,cpuacct");
}

Test(cgroup_layout, canonical_v2_preferred_and_escapes) {
        const char *t = "1 0 0:1 / /run/my\\040cg rw - cgroup2 cgroup2 rw\n"
                        "2 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
                        "3 0 0:2 / /mnt/x\\040y rw - cgroup none rw,pids\n";
        struct cgroup_layout l;

        cr_assert_eq(cgroup_layout_parse(t, &l), 0);
        cr_assert_str_eq(l.v2, "/sys/fs/cgroup");
        cr_assert_str_eq(l.v1_pids, "/mnt/x y");

        cr_assert_eq(cgroup_layout_parse("1 0 0:1 / /run/my\\040cg rw - cgroup2 x rw\n", &l), 0);
        cr_assert_str_eq(l.v2, "/run/my cg");
}

Test(cgroup_layout, garbage) {
        struct cgroup_layout l = { .v2 = "untouched" };

        cr_assert_eq(cgroup_layout_parse("hello world\n", &l), -EINVAL);
        cr_assert_eq(cgroup_layout_parse("1 2 3 4 5 6 7 8\n", &l), -EINVAL);       /* no " - " */
        cr_assert_eq(cgroup_layout_parse("1 2 3 / /x rw - cgroup2\n", &l), -EINVAL); /* short */
        cr_assert_eq(cgroup_layout_parse("1 2 3 / rel rw - cgroup2 c rw\n", &l), -EINVAL);
        cr_assert_eq(cgroup_layout_parse(NULL, &l), -EINVAL);
        cr_assert_str_eq(l.v2, "untouched"); /* ret written only on success */

        cr_assert_eq(cgroup_layout_parse("", &l), 0);
        cr_assert_str_eq(l.v2, "");
        cr_assert_eq(cgroup_layout_parse("\n\n", &l), 0);
}

Test(cgroup_pure, path) {
        char buf[64];

        cr_assert_eq(cgroup_path("/sys/fs/cgroup", "0123456789ab", buf, sizeof buf), 0);
        cr_assert_str_eq(buf, "/sys/fs/cgroup/caisson/0123456789ab");
        cr_assert_eq(cgroup_path("/sys/fs/cgroup", "a/b", buf, sizeof buf), -EINVAL);
        cr_assert_eq(cgroup_path("/sys/fs/cgroup", "..", buf, sizeof buf), -EINVAL);
        cr_assert_eq(cgroup_path("/sys/fs/cgroup", "", buf, sizeof buf), -EINVAL);
        cr_assert_eq(cgroup_path("relative", "x", buf, sizeof buf), -EINVAL);
        cr_assert_eq(cgroup_path("/sys/fs/cgroup", "x", buf, 10), -ENAMETOOLONG);
        cr_assert_eq(cgroup_path("/m", "0123456789abcdef0123456789abcdef", buf, sizeof buf),
                     -EINVAL); /* longer than cgroup_set.id */
}

Test(cgroup_pure, controllers) {
        cr_assert_eq(cgroup_controllers_parse("cpuset cpu io memory hugetlb pids rdma misc\n"),
                     CGROUP_RES_MEMORY | CGROUP_RES_PIDS | CGROUP_RES_CPU);
        cr_assert_eq(cgroup_controllers_parse("hugetlb\n"), 0);
        cr_assert_eq(cgroup_controllers_parse("cpuset cpuacct\n"), 0);
        cr_assert_eq(cgroup_controllers_parse("memory"), CGROUP_RES_MEMORY);
        cr_assert_eq(cgroup_controllers_parse(""), 0);
}

Test(cgroup_pure, keyed) {
        unsigned long long v = 99;

        cr_assert_eq(cgroup_keyed_get("populated 1\nfrozen 0\n", "populated", &v), 0);
        cr_assert_eq(v, 1);
        cr_assert_eq(cgroup_keyed_get("populated 1\nfrozen 0\n", "frozen", &v), 0);
        cr_assert_eq(v, 0);
        /* "oom" must not match "oom_kill", nor the other way round */
        cr_assert_eq(cgroup_keyed_get("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
                                      "oom_kill", &v),
                     0);
        cr_assert_eq(v, 3);
        cr_assert_eq(cgroup_keyed_get("low 0\noom 2\n", "oom_kill", &v), -ENOENT);
        cr_assert_eq(cgroup_keyed_get("oom_kill x\n", "oom_kill", &v), -EINVAL);
}

Test(cgroup_pure, limit_strings) {
        char buf[32];

        cr_assert_eq(cgroup_limit_string(0, buf, sizeof buf), 0);
        cr_assert_str_eq(buf, "max");
        cr_assert_eq(cgroup_limit_string(67108864, buf, sizeof buf), 0);
        cr_assert_str_eq(buf, "67108864");
        cr_assert_eq(cgroup_limit_string(67108864, buf, 4), -ENOBUFS);
}

Test(cgroup_pure, cpu_max) {
        static const struct {
                uint32_t millis;
                const char *s;
        } t[] = {
                { 0, "max 100000" },      { 500, "50000 100000" },  { 1000, "100000 100000" },
                { 2500, "250000 100000" }, { 10, "1000 100000" },   { 9, "9000 1000000" },
                { 1, "1000 1000000" },    { 64000, "6400000 100000" },
        };
        char buf[32];

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                cr_assert_eq(cgroup_cpu_max_string(t[i].millis, buf, sizeof buf), 0);
                cr_assert_str_eq(buf, t[i].s, "millis %u", t[i].millis);
        }
        cr_assert_eq(cgroup_cpu_max_string(500, buf, 5), -ENOBUFS);
}

/* ---- the writers, against directories that mimic cgroups ---------------------------- */

static int rm_one(const char *p, const struct stat *st _unused_, int type _unused_,
                  struct FTW *f _unused_) {
        (void) remove(p);
        return 0;
}

static void rm_rf(const char *p) {
        if (p && p[0])
                (void) nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char fake[64];

static void fake_setup(void) {
        strcpy(fake, "/tmp/caisson-cg-fake-XXXXXX");
        cr_assert_not_null(mkdtemp(fake));
}

static void fake_teardown(void) {
        rm_rf(fake);
}

static void touch(const char *dir, const char *file) {
        char p[256];
        int fd;

        snprintf(p, sizeof p, "%s/%s", dir, file);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        cr_assert_geq(fd, 0, "%s: %s", p, strerror(errno));
        close(fd);
}

static void expect_file(const char *dir, const char *file, const char *want) {
        _cleanup_free_ char *got = NULL;
        char p[256];

        snprintf(p, sizeof p, "%s/%s", dir, file);
        cr_assert_eq(read_full_file(p, 4096, &got, NULL), 0, "%s", p);
        /* real cgroup files end in a newline, our writes and the fakes do not */
        got[strcspn(got, "\n")] = 0;
        cr_assert_str_eq(got, want, "%s", p);
}

TestSuite(cgroup_fake, .init = fake_setup, .fini = fake_teardown);

Test(cgroup_fake, v2_limits) {
        const struct caisson_resources res = { .memory_bytes = 64 << 20, .pids = 10,
                                               .cpu_millis = 500 };
        struct caisson_error err = {};
        _cleanup_close_ int fd = -1;

        touch(fake, "cgroup.controllers");
        touch(fake, "memory.max");
        touch(fake, "memory.swap.max");
        touch(fake, "pids.max");
        touch(fake, "cpu.max");
        fd = open(fake, O_DIRECTORY | O_CLOEXEC);
        cr_assert_eq(cgroup_v2_apply_limits(fd, fake, &res,
                                            CGROUP_RES_MEMORY | CGROUP_RES_PIDS | CGROUP_RES_CPU,
                                            &err),
                     0, "%s", err.msg);
        expect_file(fake, "memory.max", "67108864");
        expect_file(fake, "memory.swap.max", "0");
        expect_file(fake, "pids.max", "10");
        expect_file(fake, "cpu.max", "50000 100000");
}

Test(cgroup_fake, v2_only_what_is_asked) {
        const struct caisson_resources res = { .memory_bytes = 1 << 20, .pids = 5 };
        struct caisson_error err = {};
        _cleanup_close_ int fd = -1;

        touch(fake, "memory.max"); /* no memory.swap.max: swap accounting off, fine */
        touch(fake, "pids.max");
        touch(fake, "cpu.max");
        fd = open(fake, O_DIRECTORY | O_CLOEXEC);
        cr_assert_eq(cgroup_v2_apply_limits(fd, fake, &res, CGROUP_RES_PIDS, &err), 0);
        expect_file(fake, "pids.max", "5");
        expect_file(fake, "memory.max", "");
        expect_file(fake, "cpu.max", "");
        cr_assert_eq(cgroup_v2_apply_limits(fd, fake, &res, CGROUP_RES_MEMORY, &err), 0);
        expect_file(fake, "memory.max", "1048576");
}

Test(cgroup_fake, v2_missing_controller_file) {
        const struct caisson_resources res = { .pids = 5 };
        struct caisson_error err = {};
        _cleanup_close_ int fd = -1;

        /* no pids.max: the controller is not enabled for this cgroup */
        fd = open(fake, O_DIRECTORY | O_CLOEXEC);
        cr_assert_eq(cgroup_v2_apply_limits(fd, fake, &res, CGROUP_RES_PIDS, &err), -ENOENT);
        cr_assert(strstr(err.msg, "pids limit") && strstr(err.msg, "pids.max"), "got %s",
                  err.msg);
        cr_assert_eq(err.layer, CAISSON_LAYER_CGROUP);
}

Test(cgroup_fake, v1_limits) {
        const struct caisson_resources res = { .memory_bytes = 32 << 20, .pids = 7,
                                               .cpu_millis = 1500 };
        struct caisson_error err = {};
        _cleanup_close_ int fd = -1;

        touch(fake, "memory.limit_in_bytes");
        touch(fake, "memory.memsw.limit_in_bytes");
        touch(fake, "pids.max");
        touch(fake, "cpu.cfs_period_us");
        touch(fake, "cpu.cfs_quota_us");
        fd = open(fake, O_DIRECTORY | O_CLOEXEC);
        cr_assert_eq(cgroup_v1_apply_limit(fd, fake, &res, CGROUP_RES_MEMORY, &err), 0);
        cr_assert_eq(cgroup_v1_apply_limit(fd, fake, &res, CGROUP_RES_PIDS, &err), 0);
        cr_assert_eq(cgroup_v1_apply_limit(fd, fake, &res, CGROUP_RES_CPU, &err), 0);
        expect_file(fake, "memory.limit_in_bytes", "33554432");
        expect_file(fake, "memory.memsw.limit_in_bytes", "33554432");
        expect_file(fake, "pids.max", "7");
        expect_file(fake, "cpu.cfs_period_us", "100000");
        expect_file(fake, "cpu.cfs_quota_us", "150000");
}

/* create/teardown against a fake "v2 mount" (a plain directory): no root needed. */
Test(cgroup_fake, create_warn_and_teardown) {
        const struct caisson_resources res = { .memory_bytes = 1 << 20, .cpu_millis = 100,
                                               .on_unsupported = CAISSON_UNSUPPORTED_WARN };
        struct cgroup_layout l = {};
        struct caisson_error err = {};
        struct cgroup_set *s = NULL;
        char path[256];
        struct stat st;

        strcpy(l.v2, fake);
        cr_assert_eq(cgroup_create(&l, "test-cg-fake", &res, &s, &err), 0, "%s", err.msg);
        cr_assert_eq(s->unsupported, CGROUP_RES_MEMORY | CGROUP_RES_CPU);
        cr_assert_eq(s->via_v1, 0);
        cr_assert_geq(s->v2_fd, 0);
        snprintf(path, sizeof path, "%s/caisson/test-cg-fake", fake);
        cr_assert_str_eq(s->v2, path);
        cr_assert_str_eq(s->v1_pids, "");
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(cgroup_populated(s), 0);

        /* an existing id is never adopted */
        cr_assert_eq(cgroup_create(&l, "test-cg-fake", NULL, &(struct cgroup_set *){ NULL }, &err),
                     -EEXIST);

        cgroup_teardown(s);
        cr_assert_eq(stat(path, &st), -1);
        snprintf(path, sizeof path, "%s/caisson", fake);
        cr_assert_eq(stat(path, &st), 0, "the shared parent stays");
}

Test(cgroup_fake, create_refuses_unsupported) {
        const struct caisson_resources res = { .pids = 5 };
        struct cgroup_layout l = {};
        struct caisson_error err = {};
        struct cgroup_set *s = NULL;
        char path[256];
        struct stat st;

        strcpy(l.v2, fake);
        cr_assert_eq(cgroup_create(&l, "test-cg-fake", &res, &s, &err), -EOPNOTSUPP);
        cr_assert_null(s);
        cr_assert_eq(err.code, CAISSON_REASON_RESOURCE_UNSUPPORTED);
        cr_assert(strstr(err.msg, "pids limit"), "got %s", err.msg);
        snprintf(path, sizeof path, "%s/caisson", fake);
        cr_assert_eq(stat(path, &st), -1, "nothing made before refusing");

        memset(&l, 0, sizeof l);
        cr_assert_eq(cgroup_create(&l, "test-cg-fake", NULL, &s, &err), -EOPNOTSUPP);
        cr_assert_eq(cgroup_create(&l, "bad/id", NULL, &s, &err), -EINVAL);
}

/* A limit that fails half-way removes everything that was made. */
Test(cgroup_fake, create_failure_leaves_nothing) {
        const struct caisson_resources res = { .pids = 5 };
        struct cgroup_layout l = { .v2_pids = true };
        struct caisson_error err = {};
        struct cgroup_set *s = NULL;
        char path[256];
        struct stat st;

        strcpy(l.v2, fake); /* claims a delegated pids controller, but has no pids.max */
        cr_assert_eq(cgroup_create(&l, "test-cg-fake", &res, &s, &err), -ENOENT);
        cr_assert_null(s);
        cr_assert(strstr(err.msg, "pids.max"), "got %s", err.msg);
        snprintf(path, sizeof path, "%s/caisson/test-cg-fake", fake);
        cr_assert_eq(stat(path, &st), -1);
}

/* Without cgroup2, the v1 pids hierarchy holds the tree even with no limit asked. */
Test(cgroup_fake, v1_only_tracks_in_pids) {
        struct cgroup_layout l = {};
        struct caisson_error err = {};
        struct cgroup_set *s = NULL;
        char path[256];

        strcpy(l.v1_pids, fake);
        cr_assert_eq(cgroup_create(&l, "test-cg-fake", NULL, &s, &err), 0, "%s", err.msg);
        snprintf(path, sizeof path, "%s/caisson/test-cg-fake", fake);
        cr_assert_str_eq(s->v1_pids, path);
        cr_assert_str_eq(s->v2, "");
        cr_assert_eq(s->v2_fd, -1);
        cr_assert_eq(cgroup_kill(s, &err), 0, "%s", err.msg);
        cr_assert_eq(cgroup_freeze(s, true, &err), -EOPNOTSUPP);
        cgroup_teardown(s);
        cr_assert_eq(access(path, F_OK), -1);
        cgroup_teardown(NULL);
}

Test(cgroup_fake, list_and_remove_ids) {
        struct cgroup_layout l = {};
        char **ids = NULL;
        char p[256], q[256];
        int n;

        strcpy(l.v2, fake);
        snprintf(p, sizeof p, "%s/v1", fake);
        cr_assert_eq(mkdir(p, 0755), 0);
        strcpy(l.v1_pids, p);
        snprintf(p, sizeof p, "%s/caisson/aaa", fake);
        cr_assert_eq(mkdir_p(p, 0755), 0);
        snprintf(p, sizeof p, "%s/v1/caisson/aaa", fake);
        cr_assert_eq(mkdir_p(p, 0755), 0);
        snprintf(q, sizeof q, "%s/v1/caisson/bbb", fake);
        cr_assert_eq(mkdir_p(q, 0755), 0);

        n = cgroup_list_ids(&l, &ids);
        cr_assert_eq(n, 2);
        cr_assert((streq(ids[0], "aaa") && streq(ids[1], "bbb")) ||
                  (streq(ids[0], "bbb") && streq(ids[1], "aaa")));
        cr_assert_null(ids[2]);
        ids = cgroup_ids_free(ids);

        cr_assert_eq(cgroup_remove_id(&l, "aaa"), 0);
        cr_assert_eq(access(p, F_OK), -1);
        cr_assert_eq(cgroup_remove_id(&l, "aaa"), -ENOENT);
        n = cgroup_list_ids(&l, &ids);
        cr_assert_eq(n, 1);
        cr_assert_str_eq(ids[0], "bbb");
        ids = cgroup_ids_free(ids);
        cr_assert_eq(cgroup_remove_id(&l, "bbb"), 0);
        cr_assert_eq(cgroup_list_ids(&l, &ids), 0);
        cr_assert_null(ids[0]);
        ids = cgroup_ids_free(ids);
}

/* ---- as root, on this machine ------------------------------------------------------- */

static struct cgroup_layout layout;
static struct cgroup_set *set;
static char test_id[32];

static void require_root(void) {
        struct caisson_error err = {};
        char hex[9];

        if (geteuid() != 0 && !getenv("CAISSON_TEST_REQUIRE_ROOT"))
                cr_skip_test("needs root");
        cr_assert_eq(geteuid(), 0, "CAISSON_TEST_REQUIRE_ROOT is set but we are not root");
        cr_assert_eq(cgroup_layout_detect(&layout, &err), 0, "%s", err.msg);
        cr_assert_eq(random_hex(hex, 4), 0);
        snprintf(test_id, sizeof test_id, "test-cg-%s", hex);
        /* The children's children are reparented to us when killed, and reaped here, not
         * left to pid 1. */
        cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
}

/* Runs even when a test failed: nothing is left behind. */
static void root_cleanup(void) {
        cgroup_teardown(set);
        set = NULL;
        if (test_id[0])
                (void) cgroup_remove_id(&layout, test_id);
        /* Everything in the cgroups is dead or dying now: reap what was ours (bounded: a
         * child never attached, after a failure, is left to exit on its pipe's EOF). */
        for (int i = 0; i < 100; i++) {
                pid_t p = waitpid(-1, NULL, WNOHANG);

                if (p < 0)
                        break; /* ECHILD: all reaped */
                if (p == 0)
                        usleep(10000);
        }
}

TestSuite(cgroup_root, .init = require_root, .fini = root_cleanup, .timeout = 60);

static bool dir_exists(const char *p) {
        struct stat st;

        return p[0] && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void expect_cg_file(const char *dir, const char *file, const char *want) {
        expect_file(dir, file, want);
}

/* A child that waits for "go" on a pipe (exits on EOF: if the test dies, so does it), then
 * forks up to 20 sleepers and reports through the pipe whether fork hit EAGAIN. */
struct child {
        pid_t pid;
        int go;     /* write end: parent → child */
        int report; /* read end: child → parent */
};

static void child_start(struct child *c) {
        int go[2], rep[2];

        cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(rep, O_CLOEXEC), 0);
        c->pid = fork();
        cr_assert_geq(c->pid, 0);
        if (c->pid == 0) {
                char b;
                int eagain = 0;

                close(go[1]);
                close(rep[0]);
                if (read(go[0], &b, 1) != 1)
                        _exit(0);
                for (int i = 0; i < 20; i++) {
                        pid_t k = fork();

                        if (k == 0) {
                                /* blocks until killed (or EOF: the test died) */
                                _exit(read(go[0], &b, 1) < 0);
                        }
                        if (k < 0) {
                                eagain = errno == EAGAIN;
                                break;
                        }
                }
                b = eagain ? 'E' : 'n';
                if (write(rep[1], &b, 1) != 1)
                        _exit(1);
                for (;;)
                        pause();
        }
        close(go[0]);
        close(rep[1]);
        c->go = go[1];
        c->report = rep[0];
}

static int wait_populated(const struct cgroup_set *s, int want) {
        for (int i = 0; i < 300; i++) {
                int r = cgroup_populated(s);

                if (r == want || r < 0)
                        return r;
                usleep(10000);
        }
        return cgroup_populated(s);
}

Test(cgroup_root, lifecycle_with_v1_limits) {
        const struct caisson_resources res = { .memory_bytes = 64 << 20, .pids = 8 };
        struct caisson_error err = {};
        struct child c;
        char dirs[4][512];
        int status;
        char b;

        if (!layout.v1_memory[0] && !layout.v2_memory)
                cr_skip_test("no memory controller on this host");
        cr_assert_eq(cgroup_create(&layout, test_id, &res, &set, &err), 0, "%s", err.msg);
        memcpy(dirs[0], set->v2, 512);
        memcpy(dirs[1], set->v1_memory, 512);
        memcpy(dirs[2], set->v1_pids, 512);
        memcpy(dirs[3], set->v1_cpu, 512);
        cr_assert_eq(set->unsupported, 0);

        if (!layout.v2_memory) {
                char p[600];

                cr_assert(set->via_v1 & CGROUP_RES_MEMORY);
                expect_cg_file(set->v1_memory, "memory.limit_in_bytes", "67108864");
                snprintf(p, sizeof p, "%s/memory.memsw.limit_in_bytes", set->v1_memory);
                if (access(p, F_OK) == 0)
                        expect_cg_file(set->v1_memory, "memory.memsw.limit_in_bytes",
                                       "67108864");
        } else
                expect_cg_file(set->v2, "memory.max", "67108864");
        if (!layout.v2_pids) {
                cr_assert(set->via_v1 & CGROUP_RES_PIDS);
                expect_cg_file(set->v1_pids, "pids.max", "8");
        } else
                expect_cg_file(set->v2, "pids.max", "8");
        cr_assert_str_eq(set->v1_cpu, "", "no cpu limit asked, no v1 cpu cgroup");
        cr_assert_eq(cgroup_populated(set), 0);

        child_start(&c);
        cr_assert_eq(cgroup_attach(set, c.pid, &err), 0, "%s", err.msg);
        cr_assert_eq(cgroup_attach_v2(set, c.pid, &err), 0, "%s", err.msg);
        cr_assert_eq(cgroup_populated(set), 1);

        cr_assert_eq(write(c.go, "g", 1), 1);
        cr_assert_eq(read(c.report, &b, 1), 1);
        cr_assert_eq(b, 'E', "fork past pids.max should fail with EAGAIN");

        cr_assert_eq(cgroup_kill(set, &err), 0, "%s", err.msg);
        cr_assert_eq(waitpid(c.pid, &status, 0), c.pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        cr_assert_eq(wait_populated(set, 0), 0);

        cgroup_teardown(set);
        set = NULL;
        for (size_t i = 0; i < 4; i++)
                cr_assert(!dir_exists(dirs[i]), "left behind: %s", dirs[i]);
        close(c.go);
        close(c.report);
}

Test(cgroup_root, cpu_limit) {
        const struct caisson_resources res = { .cpu_millis = 500 };
        struct caisson_error err = {};

        if (!layout.v1_cpu[0] && !layout.v2_cpu)
                cr_skip_test("no cpu controller on this host");
        cr_assert_eq(cgroup_create(&layout, test_id, &res, &set, &err), 0, "%s", err.msg);
        if (layout.v2_cpu)
                expect_cg_file(set->v2, "cpu.max", "50000 100000");
        else {
                expect_cg_file(set->v1_cpu, "cpu.cfs_quota_us", "50000");
                expect_cg_file(set->v1_cpu, "cpu.cfs_period_us", "100000");
        }
}

Test(cgroup_root, oom_kill_counted) {
        const struct caisson_resources res = { .memory_bytes = 16 << 20 };
        struct caisson_error err = {};
        unsigned long long n = 99;
        int status;
        pid_t pid;

        if (!layout.v1_memory[0] && !layout.v2_memory)
                cr_skip_test("no memory controller on this host");
        cr_assert_eq(cgroup_create(&layout, test_id, &res, &set, &err), 0, "%s", err.msg);
        cr_assert_eq(cgroup_oom_kills(set, &n), 0);
        cr_assert_eq(n, 0);

        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                /* wait until attached, then touch 64 MiB in a 16 MiB cgroup */
                for (int i = 0; i < 500; i++) {
                        _cleanup_free_ char *cg = NULL;

                        if (read_full_file("/proc/self/cgroup", 65536, &cg, NULL) == 0 &&
                            strstr(cg, "/caisson/test-cg-"))
                                break;
                        usleep(10000);
                }
                for (size_t i = 0; i < 64; i++) {
                        char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
                                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

                        if (p == MAP_FAILED)
                                _exit(3);
                        memset(p, 0x5a, 1 << 20);
                }
                _exit(0);
        }
        cr_assert_eq(cgroup_attach(set, pid, &err), 0, "%s", err.msg);
        cr_assert_eq(cgroup_attach_v2(set, pid, &err), 0, "%s", err.msg);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status 0x%x",
                  (unsigned) status);
        cr_assert_eq(cgroup_oom_kills(set, &n), 0);
        cr_assert_geq(n, 1);
}

Test(cgroup_root, freeze_thaw) {
        struct caisson_error err = {};
        _cleanup_free_ char *ev = NULL;
        char p[600];
        struct child c;
        int status;

        if (!layout.v2[0])
                cr_skip_test("no cgroup2 on this host");
        cr_assert_eq(cgroup_create(&layout, test_id, NULL, &set, &err), 0, "%s", err.msg);
        child_start(&c);
        cr_assert_eq(cgroup_attach_v2(set, c.pid, &err), 0, "%s", err.msg);

        cr_assert_eq(cgroup_freeze(set, true, &err), 0, "%s", err.msg);
        snprintf(p, sizeof p, "%s/cgroup.events", set->v2);
        cr_assert_eq(read_full_file(p, 4096, &ev, NULL), 0);
        cr_assert(strstr(ev, "frozen 1"), "%s", ev);
        cr_assert_eq(cgroup_freeze(set, false, &err), 0, "%s", err.msg);

        /* killable while frozen too: freeze again, then cgroup.kill */
        cr_assert_eq(cgroup_freeze(set, true, &err), 0, "%s", err.msg);
        cr_assert_eq(cgroup_kill(set, &err), 0, "%s", err.msg);
        cr_assert_eq(waitpid(c.pid, &status, 0), c.pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        close(c.go);
        close(c.report);
}

/* A host without cgroup2 (this machine's layout minus "unified"): tracked in v1 pids, killed
 * by SIGKILL sweeps over cgroup.procs. */
Test(cgroup_root, v1_only_kill_sweep) {
        const struct caisson_resources res = { .pids = 8 };
        struct cgroup_layout l = layout;
        struct caisson_error err = {};
        struct child c;
        char dir[512];
        int status;
        char b;

        if (!layout.v1_pids[0])
                cr_skip_test("no v1 pids hierarchy on this host");
        l.v2[0] = 0;
        l.v2_memory = l.v2_pids = l.v2_cpu = false;
        cr_assert_eq(cgroup_create(&l, test_id, &res, &set, &err), 0, "%s", err.msg);
        cr_assert_eq(set->v2_fd, -1);
        memcpy(dir, set->v1_pids, sizeof dir);
        child_start(&c);
        cr_assert_eq(cgroup_attach(set, c.pid, &err), 0, "%s", err.msg);
        cr_assert_eq(cgroup_populated(set), 1);
        cr_assert_eq(write(c.go, "g", 1), 1);
        cr_assert_eq(read(c.report, &b, 1), 1);
        cr_assert_eq(b, 'E');

        cr_assert_eq(cgroup_kill(set, &err), 0, "%s", err.msg);
        cr_assert_eq(cgroup_populated(set), 0);
        cr_assert_eq(waitpid(c.pid, &status, 0), c.pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        cgroup_teardown(set);
        set = NULL;
        cr_assert(!dir_exists(dir));
        close(c.go);
        close(c.report);
}

/* A dead supervisor's cgroup, with a process still in it: gc finds it, kills, removes. */
Test(cgroup_root, gc_list_and_remove) {
        const struct caisson_resources res = { .pids = 16 };
        struct caisson_error err = {};
        char **ids = NULL;
        bool found = false;
        struct child c;
        int n, status;

        cr_assert_eq(cgroup_create(&layout, test_id, &res, &set, &err), 0, "%s", err.msg);
        child_start(&c);
        cr_assert_eq(cgroup_attach(set, c.pid, &err), 0, "%s", err.msg);
        cr_assert_eq(cgroup_attach_v2(set, c.pid, &err), 0, "%s", err.msg);
        /* the supervisor "dies": its set is forgotten, not torn down */
        if (set->v2_fd >= 0)
                close(set->v2_fd);
        free(set);
        set = NULL;

        n = cgroup_list_ids(&layout, &ids);
        cr_assert_geq(n, 1);
        for (int i = 0; i < n; i++)
                found = found || streq(ids[i], test_id);
        ids = cgroup_ids_free(ids);
        cr_assert(found, "%s not listed", test_id);

        cr_assert_eq(cgroup_remove_id(&layout, test_id), 0);
        cr_assert_eq(waitpid(c.pid, &status, 0), c.pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        cr_assert_eq(cgroup_remove_id(&layout, test_id), -ENOENT);
        close(c.go);
        close(c.report);
}

/* After every test: remove the shared parents if this run made them and nobody else uses them
 * (rmdir fails while another sandbox's directory is below, which is what we want). */
ReportHook(POST_ALL)(struct criterion_global_stats *stats _unused_) {
        static const char *const parents[] = {
                "/sys/fs/cgroup/caisson",        "/sys/fs/cgroup/unified/caisson",
                "/sys/fs/cgroup/memory/caisson", "/sys/fs/cgroup/pids/caisson",
                "/sys/fs/cgroup/cpu/caisson",    "/sys/fs/cgroup/cpu,cpuacct/caisson",
        };

        if (geteuid() != 0)
                return;
        for (size_t i = 0; i < ELEMENTSOF(parents); i++)
                (void) rmdir(parents[i]);
}
