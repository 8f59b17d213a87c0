/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "netlab.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PYTHON "/usr/bin/python3"
#define MAX_LABS 8

static struct netlab *lab_list[MAX_LABS];

static const char host_batch[] =
        "link set lo up\n"
        "link add nl-host type veth peer name nl-inet netns %s\n"
        "addr add " NETLAB_HOST_ADDR "/24 dev nl-host\n"
        "addr add 2001:db8:ff::2/64 dev nl-host nodad\n"
        "link set nl-host up\n"
        "route add default via " NETLAB_GW_ADDR "\n"
        "route add ::/0 via 2001:db8:ff::1\n";

static const char inet_batch[] =
        "link set lo up\n"
        "addr add " NETLAB_GW_ADDR "/24 dev nl-inet\n"
        "addr add " NETLAB_WEB "/32 dev nl-inet\n"
        "addr add " NETLAB_BLOCKED "/32 dev nl-inet\n"
        "addr add " NETLAB_TLS "/32 dev nl-inet\n"
        "addr add " NETLAB_DNS "/32 dev nl-inet\n"
        "addr add 2001:db8:ff::1/64 dev nl-inet nodad\n"
        "addr add " NETLAB_WEB6 "/128 dev nl-inet nodad\n"
        "link set nl-inet up\n";

void netlab_enter(struct netlab *lab, enum netlab_ns where) {
        cr_assert_eq(setns(lab->ns[where], CLONE_NEWNET), 0, "setns into the lab: %s",
                     strerror(errno));
}

void netlab_leave(struct netlab *lab) {
        cr_assert_eq(setns(lab->self_ns, CLONE_NEWNET), 0, "setns back: %s", strerror(errno));
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
        (void) st;
        (void) f;
        if (flag == FTW_DP || flag == FTW_D)
                (void) rmdir(p);
        else
                (void) unlink(p);
        return 0;
}

static void run_batch(struct netlab *lab, enum netlab_ns where, const char *name,
                      const char *content) {
        char *path = h_path(lab->dir, name);
        const char *argv[] = { "/usr/sbin/ip", "-batch", path, NULL };
        struct h_result r;

        h_write_file(path, content, 0600);
        netlab_run(lab, where, argv, NULL, &r);
        cr_assert_eq(r.code, 0, "ip -batch %s: exit %d: %s%s", name, r.code, r.out, r.err);
        h_result_done(&r);
        free(path);
}

static void start_servers(struct netlab *lab) {
        int ready[2];
        pid_t parent = getpid(), pid;
        char buf[16] = "";
        struct pollfd pfd;
        double deadline = h_now() + 20;
        ssize_t n = 0;

        cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                char fdstr[16], *out = h_path(lab->dir, "servers.out");
                int fd, log;

                /* Dies with the test, however the test ends. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(120);
                if (setns(lab->ns[NETLAB_INET], CLONE_NEWNET) < 0)
                        _exit(121);
                fd = dup(ready[1]); /* without CLOEXEC */
                log = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (fd < 0 || log < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
                        _exit(122);
                (void) close(0);
                (void) open("/dev/null", O_RDONLY);
                (void) signal(SIGPIPE, SIG_DFL);
                (void) snprintf(fdstr, sizeof fdstr, "%d", fd);
                execl(PYTHON, "python3", lab->script, "serve", lab->dir, fdstr, (char *) NULL);
                _exit(127);
        }
        lab->servers = pid;
        close(ready[1]);
        pfd = (struct pollfd) { .fd = ready[0], .events = POLLIN };
        while (h_now() < deadline && (size_t) n < sizeof buf - 1) {
                ssize_t k;

                if (poll(&pfd, 1, 100) <= 0)
                        continue;
                k = read(ready[0], buf + n, sizeof buf - 1 - (size_t) n);
                if (k <= 0)
                        break;
                n += k;
                if (strchr(buf, '\n'))
                        break;
        }
        close(ready[0]);
        if (!strstr(buf, "ready")) {
                char *out = h_path(lab->dir, "servers.out");
                char *s = h_read_file(out);

                cr_assert_fail("netlab servers did not start: %s", s ?: "(no output)");
        }
}

/* Lab directories of test processes that died without cleaning up (killed by a timeout):
 * /run/caisson-test-<pid>-XXXXXX whose pid is gone. */
static void sweep_stale(void) {
        DIR *d = opendir("/run");
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                char path[300];
                int pid;

                if (sscanf(de->d_name, "caisson-test-%d-", &pid) != 1 || pid <= 0)
                        continue;
                if (kill(pid, 0) == 0 || errno != ESRCH)
                        continue;
                (void) snprintf(path, sizeof path, "/run/%s", de->d_name);
                (void) nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        }
        closedir(d);
}

struct netlab *netlab_start(void) {
        struct netlab *lab = calloc(1, sizeof *lab);
        const char *script = getenv("CAISSON_NETLAB_SERVERS");
        char nspath[128], *batch;
        size_t i;

        cr_assert(lab);
        cr_assert(script && *script, "CAISSON_NETLAB_SERVERS is not set (run through meson test)");
        (void) snprintf(lab->script, sizeof lab->script, "%s", script);
        lab->ns[0] = lab->ns[1] = -1;
        for (i = 0; i < MAX_LABS && lab_list[i]; i++)
                ;
        cr_assert(i < MAX_LABS, "too many lab_list in one test");
        lab_list[i] = lab;
        sweep_stale();
        (void) snprintf(lab->dir, sizeof lab->dir, "/run/caisson-test-%d-XXXXXX", getpid());
        cr_assert(mkdtemp(lab->dir), "mkdtemp %s: %s", lab->dir, strerror(errno));
        h_register_path(lab->dir);
        cr_assert(chmod(lab->dir, 0755) == 0);

        lab->self_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        cr_assert(lab->self_ns >= 0);
        /* Two fresh network namespaces, held by these descriptors alone. */
        for (int k = 0; k < 2; k++) {
                cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare(CLONE_NEWNET): %s",
                             strerror(errno));
                lab->ns[k] = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
                cr_assert(lab->ns[k] >= 0);
        }
        netlab_leave(lab);

        /* ip(8) takes a netns by path when the argument has a '/'. */
        (void) snprintf(nspath, sizeof nspath, "/proc/%d/fd/%d", getpid(), lab->ns[NETLAB_INET]);
        cr_assert(asprintf(&batch, host_batch, nspath) > 0);
        run_batch(lab, NETLAB_HOST, "host.batch", batch);
        free(batch);
        run_batch(lab, NETLAB_INET, "inet.batch", inet_batch);
        start_servers(lab);
        return lab;
}

void netlab_stop(struct netlab *lab) {
        if (!lab)
                return;
        /* An assertion may have left this thread inside the lab. */
        if (lab->self_ns >= 0)
                (void) setns(lab->self_ns, CLONE_NEWNET);
        if (lab->servers > 0) {
                (void) kill(lab->servers, SIGKILL);
                (void) waitpid(lab->servers, NULL, 0);
                lab->servers = 0;
        }
        for (int k = 0; k < 2; k++)
                if (lab->ns[k] >= 0) {
                        close(lab->ns[k]);
                        lab->ns[k] = -1;
                }
        if (lab->self_ns >= 0) {
                close(lab->self_ns);
                lab->self_ns = -1;
        }
        if (lab->dir[0])
                (void) nftw(lab->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        for (size_t i = 0; i < MAX_LABS; i++)
                if (lab_list[i] == lab)
                        lab_list[i] = NULL;
        /* lab itself stays allocated: tests may still read its fields (inodes, dir). */
}

void netlab_cleanup(void) {
        for (size_t i = 0; i < MAX_LABS; i++)
                if (lab_list[i])
                        netlab_stop(lab_list[i]);
        h_cleanup();
}

void netlab_spawn(struct netlab *lab, enum netlab_ns where, const char *const *argv,
                  const struct h_opts *o, struct h_proc *ret) {
        netlab_enter(lab, where);
        h_spawn(argv, o, ret);
        netlab_leave(lab);
}

void netlab_run(struct netlab *lab, enum netlab_ns where, const char *const *argv,
                const struct h_opts *o, struct h_result *ret) {
        netlab_enter(lab, where);
        h_run(argv, o, ret);
        netlab_leave(lab);
}

void netlab_caisson(struct netlab *lab, const char *wd, const char *const *args,
                    const char *const *cmd, const struct h_opts *o, struct h_result *ret) {
        netlab_enter(lab, NETLAB_HOST);
        h_caisson_run(wd, args, cmd, o, ret);
        netlab_leave(lab);
}

char *netlab_probe_host(struct netlab *lab, const char *args) {
        const char *argv[32] = { PYTHON, lab->script, "probe" };
        char *copy = strdup(args), *save = NULL, *line;
        size_t n = 3;
        struct h_opts o = { .timeout_s = 60 };
        struct h_result r;

        cr_assert(copy);
        for (char *t = strtok_r(copy, " ", &save); t && n < 31; t = strtok_r(NULL, " ", &save))
                argv[n++] = t;
        argv[n] = NULL;
        netlab_run(lab, NETLAB_HOST, argv, &o, &r);
        cr_assert_eq(r.code, 0, "probe %s: exit %d: %s", args, r.code, r.err);
        line = h_first_line(r.out);
        h_result_done(&r);
        free(copy);
        return line;
}

char *netlab_log(struct netlab *lab, const char *name) {
        char path[256];
        char *s;

        (void) snprintf(path, sizeof path, "%s/%s.log", lab->dir, name);
        s = h_read_file(path);
        return s ?: strdup("");
}

bool netlab_log_has(struct netlab *lab, const char *name, const char *needle) {
        char *s = netlab_log(lab, name);
        bool has = strcasestr(s, needle) != NULL;

        free(s);
        return has;
}

long netlab_counter(struct netlab *lab, const char *proto, const char *field) {
        char path[64], *s, *line, *save = NULL;
        size_t plen = strlen(proto);
        bool v6 = proto[plen - 1] == '6';
        long val = -1;

        (void) snprintf(path, sizeof path, "/proc/%d/net/%s", lab->servers, v6 ? "snmp6" : "snmp");
        s = h_read_file(path);
        cr_assert(s, "read %s", path);
        if (v6) {
                char key[128];

                (void) snprintf(key, sizeof key, "%s%s", proto, field);
                for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                        size_t k = strcspn(line, " \t");

                        if (k == strlen(key) && strncmp(line, key, k) == 0)
                                val = atol(line + k + strspn(line + k, " \t"));
                }
        } else {
                /* "Proto: Name1 Name2 ...\nProto: 1 2 ...\n" */
                char *names = NULL;

                for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                        if (strncmp(line, proto, plen) != 0 || line[plen] != ':')
                                continue;
                        if (!names) {
                                names = line;
                                continue;
                        }
                        {
                                char *ns = NULL, *vs = NULL;
                                char *a = strtok_r(names + plen + 1, " ", &ns);
                                char *b = strtok_r(line + plen + 1, " ", &vs);

                                while (a && b) {
                                        if (strcmp(a, field) == 0)
                                                val = atol(b);
                                        a = strtok_r(NULL, " ", &ns);
                                        b = strtok_r(NULL, " ", &vs);
                                }
                        }
                        break;
                }
        }
        free(s);
        cr_assert_geq(val, 0, "no counter %s %s in %s", proto, field, path);
        return val;
}

int netlab_listen(struct netlab *lab, const char *addr, int port) {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        int one = 1, fd;

        cr_assert_eq(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
        netlab_enter(lab, NETLAB_HOST);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        netlab_leave(lab);
        cr_assert(fd >= 0);
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        cr_assert_eq(bind(fd, (struct sockaddr *) &sin, sizeof sin), 0, "bind %s:%d: %s", addr,
                     port, strerror(errno));
        cr_assert_eq(listen(fd, 16), 0);
        return fd;
}

int netlab_accepted(int listen_fd) {
        int n = 0, c;

        while ((c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                close(c);
                n++;
        }
        return n;
}

unsigned long netlab_ns_inode(struct netlab *lab, enum netlab_ns where) {
        struct stat st;

        cr_assert_eq(fstat(lab->ns[where], &st), 0);
        return (unsigned long) st.st_ino;
}

int netlab_procs_in_inode(unsigned long ino) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        int n = 0;

        cr_assert(d);
        while ((de = readdir(d))) {
                char path[300];
                struct stat st;

                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                (void) snprintf(path, sizeof path, "/proc/%s/ns/net", de->d_name);
                if (stat(path, &st) == 0 && (unsigned long) st.st_ino == ino)
                        n++;
        }
        closedir(d);
        return n;
}

int netlab_procs_in(struct netlab *lab, enum netlab_ns where) {
        return netlab_procs_in_inode(netlab_ns_inode(lab, where));
}

bool netlab_ok(const char *line) {
        return strncmp(line, "ok ", 3) == 0;
}

double netlab_secs(const char *line) {
        const char *p = strchr(line, ' ');

        return p ? atof(p + 1) : 1e9;
}
