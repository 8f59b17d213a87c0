/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who opened a relayed connection: sock_diag in the sandbox's netns gives the client socket's
 * inode for the exact 4-tuple; the process holding "socket:[INODE]" among the sandbox's pids
 * (its cgroup's cgroup.procs, else every process in the sandbox's netns) owns it; its
 * /proc/PID/exe gives the path and, hashed on a thread of its own (hasher.c), the content; its
 * parents up to the sandbox's init give the ancestors the policy's binaries globs also see.
 * The evidence is "observed" (read by the supervisor), never "claimed" by the agent. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "egress/egress-internal.h"
#include "egress/nlattr.h"
#include "macro.h"
#include "syscalls.h"

#define IDENTITY_MAX_PIDS 65536
#define IDENTITY_MAX_ANCESTORS 15

/* The client socket's inode, by exact lookup of (client addr:port → dst:dport). */
static int diag_inode(struct egress *e, int family, const struct sockaddr *client,
                      const uint8_t *dst, uint16_t dport, ino_t *ret) {
        struct {
                struct nlmsghdr nlh;
                struct inet_diag_req_v2 r;
        } req = {
                .nlh = { .nlmsg_len = sizeof req, .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                         .nlmsg_flags = NLM_F_REQUEST },
                .r = { .sdiag_family = (uint8_t) family, .sdiag_protocol = IPPROTO_TCP,
                       .idiag_states = ~0U,
                       .id.idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } },
        };
        union {
                struct nlmsghdr h;
                uint8_t b[8192];
        } buf;
        ssize_t n;

        if (e->diag_fd < 0)
                return -ENOTCONN;
        if (family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) client;

                req.r.id.idiag_sport = in->sin_port;
                memcpy(req.r.id.idiag_src, &in->sin_addr, 4);
                memcpy(req.r.id.idiag_dst, dst, 4);
        } else {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) client;

                req.r.id.idiag_sport = in6->sin6_port;
                memcpy(req.r.id.idiag_src, &in6->sin6_addr, 16);
                memcpy(req.r.id.idiag_dst, dst, 16);
        }
        req.r.id.idiag_dport = htons(dport);
        /* Netlink answers within sendmsg(); an answer to an earlier request (whose reading
         * failed) has another sequence number and is skipped. */
        req.nlh.nlmsg_seq = ++e->diag_seq;
        if (send(e->diag_fd, &req, sizeof req, 0) < 0)
                return -errno;
again:
        n = recv(e->diag_fd, &buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0)
                return -errno;
        for (struct nlmsghdr *h = &buf.h; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                const struct inet_diag_msg *m;

                if (h->nlmsg_seq != e->diag_seq)
                        goto again;
                if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE)
                        return -ESRCH;
                if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof *m))
                        continue;
                m = NLMSG_DATA(h);
                if (m->idiag_inode == 0)
                        return -ESRCH;
                *ret = m->idiag_inode;
                return 0;
        }
        return -ESRCH;
}

/* The port the client's socket has, when NAT gave its connection another one. The redirect
 * keeps the client's source port unless another connection from the same address and port
 * (to another destination: the kernel lets connect() share a local port so) already holds
 * the reply tuple; then conntrack picks another source port, the relay sees that one, and
 * the sock_diag lookup by it finds nothing. conntrack's entry for the connection, looked up
 * by its reply tuple (the relay's address and port to the client's as the relay sees it),
 * has the port the client's socket really has. */
static int ct_orig_port(struct egress *e, const struct identity_query *q, uint16_t *ret) {
        uint8_t req[256] __attribute__((aligned(4))) = { 0 };
        union {
                struct nlmsghdr h;
                uint8_t b[4096];
        } buf;
        struct nlmsghdr *nlh = (struct nlmsghdr *) req;
        struct nfgenmsg *g = (struct nfgenmsg *) (req + NLMSG_HDRLEN);
        size_t len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof *g);
        struct nlattr *tuple, *ip, *proto;
        uint16_t sport = htons(e->relay_port), dport;
        uint8_t tcp = IPPROTO_TCP;
        ssize_t n;

        if (e->ct_fd < 0)
                return -ENOTCONN;
        nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
        nlh->nlmsg_flags = NLM_F_REQUEST;
        nlh->nlmsg_seq = ++e->diag_seq;
        g->nfgen_family = (uint8_t) q->family;
        g->version = NFNETLINK_V0;
        tuple = nlattr_nest_start(req, &len, CTA_TUPLE_REPLY);
        ip = nlattr_nest_start(req, &len, CTA_TUPLE_IP);
        if (q->family == AF_INET) {
                const struct sockaddr_in *c = (const struct sockaddr_in *) &q->client;
                struct in_addr lo = { htonl(INADDR_LOOPBACK) };

                nlattr_put(req, &len, CTA_IP_V4_SRC, &lo, 4);
                nlattr_put(req, &len, CTA_IP_V4_DST, &c->sin_addr, 4);
                dport = c->sin_port;
        } else {
                const struct sockaddr_in6 *c = (const struct sockaddr_in6 *) &q->client;

                nlattr_put(req, &len, CTA_IP_V6_SRC, &in6addr_loopback, 16);
                nlattr_put(req, &len, CTA_IP_V6_DST, &c->sin6_addr, 16);
                dport = c->sin6_port;
        }
        nlattr_nest_end(req, len, ip);
        proto = nlattr_nest_start(req, &len, CTA_TUPLE_PROTO);
        nlattr_put(req, &len, CTA_PROTO_NUM, &tcp, 1);
        nlattr_put(req, &len, CTA_PROTO_SRC_PORT, &sport, 2);
        nlattr_put(req, &len, CTA_PROTO_DST_PORT, &dport, 2);
        nlattr_nest_end(req, len, proto);
        nlattr_nest_end(req, len, tuple);
        nlh->nlmsg_len = (uint32_t) len;
        if (send(e->ct_fd, req, len, 0) < 0)
                return -errno;
again:
        n = recv(e->ct_fd, &buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0)
                return -errno;
        for (struct nlmsghdr *h = &buf.h; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                const uint8_t *p = (const uint8_t *) NLMSG_DATA(h) + NLMSG_ALIGN(sizeof *g),
                              *end = (const uint8_t *) h + h->nlmsg_len;
                const struct nlattr *a;

                if (h->nlmsg_seq != e->diag_seq)
                        goto again;
                if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_len < NLMSG_LENGTH(sizeof *g))
                        return -ESRCH;
                if ((a = nlattr_find(p, end, CTA_TUPLE_ORIG)) &&
                    (a = nlattr_find((const uint8_t *) a + NLA_HDRLEN,
                                   (const uint8_t *) a + a->nla_len, CTA_TUPLE_PROTO)) &&
                    (a = nlattr_find((const uint8_t *) a + NLA_HDRLEN,
                                   (const uint8_t *) a + a->nla_len, CTA_PROTO_SRC_PORT)) &&
                    a->nla_len >= NLA_HDRLEN + 2) {
                        memcpy(ret, (const uint8_t *) a + NLA_HDRLEN, 2);
                        return 0;
                }
                return -ESRCH;
        }
        return -ESRCH;
}

/* Appends the pids in text[0..len) to pids; a number cut at the end is left in *carry. */
static size_t parse_pids(const char *text, size_t len, long *carry, pid_t *pids, size_t n,
                         size_t max) {
        for (size_t i = 0; i < len && n < max; i++) {
                if (text[i] >= '0' && text[i] <= '9') {
                        *carry = *carry * 10 + (text[i] - '0');
                        continue;
                }
                if (*carry > 0 && *carry <= INT32_MAX)
                        pids[n++] = (pid_t) *carry;
                *carry = 0;
        }
        return n;
}

/* The sandbox's pids (host pid namespace). */
static size_t sandbox_pids(struct egress *e, pid_t *pids, size_t max) {
        size_t n = 0;

        if (e->cfg.cgroup_fd >= 0) {
                char buf[16384];
                long carry = 0;
                ssize_t k;

                /* Opened once: a read from offset 0 lists the cgroup's processes as they
                 * are now. */
                if (e->procs_fd < 0)
                        e->procs_fd = openat(e->cfg.cgroup_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
                if (e->procs_fd >= 0 && lseek(e->procs_fd, 0, SEEK_SET) == 0) {
                        while (n < max && (k = read(e->procs_fd, buf, sizeof buf)) > 0)
                                n = parse_pids(buf, (size_t) k, &carry, pids, n, max);
                        if (k == 0)
                                return parse_pids("\n", 1, &carry, pids, n, max);
                }
                /* Unreadable: no holder found, the caller denies. */
                return 0;
        }
        /* No cgroup: every process whose netns is the sandbox's. */
        {
                DIR *d = opendir("/proc");
                struct dirent *de;

                if (!d)
                        return 0;
                while (n < max && (de = readdir(d))) {
                        char p[64];
                        struct stat st;
                        long v = strtol(de->d_name, NULL, 10);

                        if (v <= 0)
                                continue;
                        (void) snprintf(p, sizeof p, "/proc/%ld/ns/net", v);
                        if (stat(p, &st) == 0 && st.st_ino == e->netns_ino)
                                pids[n++] = (pid_t) v;
                }
                closedir(d);
        }
        return n;
}

/* The /proc files the walk reads for each sandbox process stay open between connections
 * (while the sandbox has at most IDENTITY_PID_CACHE processes): an open /proc/PID file
 * belongs to that process, not to its number, so a read through it fails once the process
 * is gone, even if the number was reused; then it is opened again. */
static void pid_fds_clear(struct pid_fds *p) {
        p->fd_dir = safe_close(p->fd_dir);
        p->stat_fd = safe_close(p->stat_fd);
        p->pid = 0;
}

static struct pid_fds *pid_fds(struct egress *e, pid_t pid) {
        struct pid_fds *free_slot = NULL, *p;

        if (!e->pid_cache_on)
                return NULL;
        for (size_t i = 0; i < IDENTITY_PID_CACHE; i++) {
                if (e->pid_fds[i].pid == pid)
                        return &e->pid_fds[i];
                if (!free_slot && e->pid_fds[i].pid == 0)
                        free_slot = &e->pid_fds[i];
        }
        p = free_slot ?: &e->pid_fds[e->next_pid_fds++ % IDENTITY_PID_CACHE];
        pid_fds_clear(p);
        p->pid = pid;
        return p;
}

void identity_forget(struct egress *e) {
        for (size_t i = 0; i < IDENTITY_PID_CACHE; i++)
                pid_fds_clear(&e->pid_fds[i]);
}

/* Keeps the open files of the processes still in the sandbox, closes the others'. */
static void pid_fds_prune(struct egress *e) {
        e->pid_cache_on = e->n_id_pids <= IDENTITY_PID_CACHE;
        if (!e->pid_cache_on) {
                identity_forget(e);
                return;
        }
        for (size_t i = 0; i < IDENTITY_PID_CACHE; i++) {
                bool live = false;

                for (size_t k = 0; k < e->n_id_pids && !live && e->pid_fds[i].pid; k++)
                        live = e->id_pids[k] == e->pid_fds[i].pid;
                if (!live)
                        pid_fds_clear(&e->pid_fds[i]);
        }
}

/* An open /proc/PID/<name> (cached in *slot when slot is given), or -1. */
static int proc_open(pid_t pid, const char *name, int flags, int *slot) {
        char path[64];
        int fd;

        if (slot && *slot >= 0)
                return *slot;
        (void) snprintf(path, sizeof path, "/proc/%d/%s", (int) pid, name);
        fd = open(path, flags | O_RDONLY | O_CLOEXEC);
        if (slot)
                *slot = fd;
        return fd;
}

/* The fd dir's entry name: a socket in q[0..n)? Then pid holds it. */
static void match_fd(int dir, const char *name, pid_t pid, struct identity_query *q, size_t n) {
        char link[64], *end;
        unsigned long ino;
        ssize_t k = readlinkat(dir, name, link, sizeof link - 1);

        if (k <= 9)
                return;
        link[k] = 0;
        if (strncmp(link, "socket:[", 8) != 0)
                return;
        ino = strtoul(link + 8, &end, 10);
        if (*end != ']')
                return;
        for (size_t i = 0; i < n; i++) {
                struct identity_query *x = &q[i];

                if (x->r != 0 || x->ino != (ino_t) ino)
                        continue;
                /* One fd is enough: dup()s of the socket in the same process add nothing. */
                if (x->n_holders > 0 && x->holders[x->n_holders - 1] == pid)
                        break;
                if (x->n_holders == IDENTITY_MAX_HOLDERS)
                        x->r = -E2BIG;
                else
                        x->holders[x->n_holders++] = pid;
                break;
        }
}

union dents {
        struct dirent64 d;
        char b[32768];
};

/* Every fd listed in the fd dir (buf holds its first got bytes of entries): see match_fd().
 * Returns how many fds it lists. */
static size_t scan_fd_dir(int dir, union dents *buf, ssize_t got, pid_t pid,
                          struct identity_query *q, size_t n) {
        size_t listed = 0;

        while (got > 0) {
                for (ssize_t off = 0; off < got;) {
                        struct dirent64 *de = (struct dirent64 *) (buf->b + off);

                        off += de->d_reclen;
                        if (de->d_name[0] == '.')
                                continue;
                        listed++;
                        match_fd(dir, de->d_name, pid, q, n);
                }
                /* procfs fills the buffer while entries remain: room left for another
                 * entry means the listing ended. */
                if ((size_t) got + sizeof(struct dirent64) + 256 < sizeof buf->b)
                        break;
                got = getdents64(dir, buf->b, sizeof buf->b);
        }
        return listed;
}

/* A process whose main thread has exited (SYS_exit, pthread_exit) lists no fds and no exe
 * under /proc/PID, while its other threads still have them: each thread's fd table, read
 * through /proc/PID/task/TID (a thread that unshared its table has one of its own). */
static void task_sockets(pid_t pid, struct identity_query *q, size_t n, union dents *buf) {
        char path[64];
        DIR *d;
        struct dirent *de;

        (void) snprintf(path, sizeof path, "/proc/%d/task", (int) pid);
        d = opendir(path);
        if (!d)
                return;
        while ((de = readdir(d))) {
                long tid = strtol(de->d_name, NULL, 10);
                int fd;

                if (tid <= 0 || tid == pid)
                        continue;
                (void) snprintf(path, sizeof path, "/proc/%d/task/%ld/fd", (int) pid, tid);
                fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                (void) scan_fd_dir(fd, buf, getdents64(fd, buf->b, sizeof buf->b), pid, q, n);
                close(fd);
        }
        closedir(d);
}

/* Every fd of pid that is a socket in q[0..n): its holders get pid. */
static void pid_sockets(struct egress *e, pid_t pid, struct identity_query *q, size_t n) {
        struct pid_fds *c = pid_fds(e, pid);
        union dents buf;
        ssize_t got = -1;
        int fd = -1;

        /* A cached directory whose process is gone fails: opened again, once. */
        for (int attempt = 0; attempt < 2 && got < 0; attempt++) {
                if (c && attempt > 0)
                        c->fd_dir = safe_close(c->fd_dir);
                fd = proc_open(pid, "fd", O_DIRECTORY, c ? &c->fd_dir : NULL);
                if (fd < 0)
                        return;
                if (lseek(fd, 0, SEEK_SET) == 0)
                        got = getdents64(fd, buf.b, sizeof buf.b);
                if (!c)
                        break;
        }
        if (scan_fd_dir(fd, &buf, got, pid, q, n) == 0)
                task_sockets(pid, q, n, &buf);
        if (!c)
                safe_close(fd);
}

/* The ppid field of /proc/PID/stat's text, or 0. */
static pid_t stat_ppid(char *buf) {
        /* comm may hold spaces and ')': the fields start after the last ')'. */
        char *rp = strrchr(buf, ')');
        int ppid = 0;

        if (!rp || sscanf(rp + 1, " %*c %d", &ppid) != 1)
                return 0;
        return (pid_t) ppid;
}

/* The executable path at dir/path (a /proc "exe" link); false if unreadable or deleted. */
static bool read_exe_at(int dir, const char *path, char out[4096]) {
        ssize_t n = readlinkat(dir, path, out, 4095);

        if (n <= 0)
                return false;
        out[n] = 0;
        /* A deleted binary reads "PATH (deleted)": that is not the file at PATH, so it
         * must not match a glob for PATH. */
        return !(n > 10 && streq(out + n - 10, " (deleted)"));
}

/* --- processes read again and again: each connect() caller and its ancestors --- */

static void proc_ref_close(struct proc_ref *r) {
        if (r->pid == 0)
                return;
        r->dir = safe_close(r->dir);
        r->pidfd = safe_close(r->pidfd);
        r->stat_fd = safe_close(r->stat_fd);
        r->pid = 0;
}

/* pid's handles, opened now unless cached (fresh forces a new opening). A handle belongs to
 * the process, not to its number: a read through it fails once the process is gone,
 * whoever gets the number. The exe is read through the directory and the parent through
 * the pidfd, so both must be the same process's: the pidfd is opened first, and a pidfd
 * whose process is gone after the directory was opened is dropped (the parent then comes
 * from the directory's stat). */
static struct proc_ref *proc_ref(struct proc_refs *c, pid_t pid, bool fresh) {
        struct proc_ref *r = NULL;
        char path[32];

        if (pid <= 0)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(c->r) && !r; i++)
                if (c->r[i].pid == pid)
                        r = &c->r[i];
        if (r && !fresh)
                return r;
        if (!r)
                for (size_t i = 0; i < ELEMENTSOF(c->r) && !r; i++)
                        if (c->r[i].pid == 0)
                                r = &c->r[i];
        if (!r)
                r = &c->r[c->next++ % ELEMENTSOF(c->r)];
        proc_ref_close(r);
        (void) snprintf(path, sizeof path, "/proc/%d", (int) pid);
        /* A thread's own pidfd (6.9); before that, only a leader has one. */
        r->pidfd = sys_pidfd_open(pid, PIDFD_THREAD);
        if (r->pidfd < 0 && errno == EINVAL)
                r->pidfd = sys_pidfd_open(pid, 0);
        r->dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (r->dir < 0) {
                r->pidfd = safe_close(r->pidfd);
                return NULL;
        }
        /* Alive now, so it held the number when the directory was opened. */
        if (r->pidfd >= 0 && sys_pidfd_send_signal(r->pidfd, 0, NULL, 0) < 0 && errno == ESRCH)
                r->pidfd = safe_close(r->pidfd);
        r->stat_fd = -1;
        r->pid = pid;
        return r;
}


/* The Tgid line of /proc/PID/status: the process of a thread, on kernels without pidfs'
 * PIDFD_GET_INFO. Only for a connect() record's caller, not its ancestors (a parent is a
 * process already), so not worth an fd kept per slot. 0 if it cannot be read. */
static pid_t status_tgid(int dir) {
        char buf[1024], *t;
        int fd = openat(dir, "status", O_RDONLY | O_CLOEXEC);
        ssize_t n;
        long v;

        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        t = strstr(buf, "\nTgid:");
        if (!t)
                return 0;
        v = strtol(t + 6, NULL, 10);
        return v > 0 && v <= INT32_MAX ? (pid_t) v : 0;
}

/* The parent's pid, 0 if unknown; -1 when the process is gone. By pidfs' ioctl where the
 * kernel has it (one call, against ~6 µs for formatting /proc/PID/stat), which also gives
 * the thread group's id (*tgid when tgid is given; else /proc/PID/status). */
static pid_t ref_ppid(struct proc_refs *c, struct proc_ref *r, pid_t *tgid) {
        char buf[512];
        ssize_t n;
        pid_t p;

        if (tgid)
                *tgid = 0;
        if (r->pidfd >= 0 && c->pidfd_info >= 0) {
                struct cs_pidfd_info info = { .mask = CS_PIDFD_INFO_PID };

                if (ioctl(r->pidfd, CS_PIDFD_GET_INFO, &info) == 0) {
                        c->pidfd_info = 1;
                        if (tgid)
                                *tgid = (pid_t) info.tgid;
                        return (pid_t) info.ppid;
                }
                if (errno == ESRCH)
                        return -1;
                if (c->pidfd_info == 0 && (errno == ENOTTY || errno == EINVAL))
                        c->pidfd_info = -1;
        }
        if (r->stat_fd < 0)
                r->stat_fd = openat(r->dir, "stat", O_RDONLY | O_CLOEXEC);
        if (r->stat_fd < 0)
                return -1;
        n = pread(r->stat_fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
                return -1;
        buf[n] = 0;
        p = stat_ppid(buf);
        /* Read after the parent, through the same directory: a tgid of this process, or 0
         * once it is gone (then the record names the thread, as before). */
        if (tgid)
                *tgid = status_tgid(r->dir);
        return p;
}

bool proc_refs_exe(struct proc_refs *c, pid_t pid, char out[4096]) {
        for (int fresh = 0; fresh < 2; fresh++) {
                struct proc_ref *r = proc_ref(c, pid, fresh);

                if (!r)
                        return false;
                if (read_exe_at(r->dir, "exe", out))
                        return true;
                /* Cached and gone (the number may be another process's now): once more,
                 * opened anew. */
        }
        return false;
}

pid_t proc_refs_ppid(struct proc_refs *c, pid_t pid, pid_t *ret_tgid) {
        pid_t tgid = 0, p = 0;

        for (int fresh = 0; fresh < 2; fresh++) {
                struct proc_ref *r = proc_ref(c, pid, fresh);

                if (!r)
                        break;
                p = ref_ppid(c, r, ret_tgid ? &tgid : NULL);
                if (p >= 0)
                        break;
                p = tgid = 0;
        }
        if (ret_tgid)
                *ret_tgid = tgid;
        return p;
}

void proc_refs_free(struct proc_refs *c) {
        for (size_t i = 0; i < ELEMENTSOF(c->r); i++)
                proc_ref_close(&c->r[i]);
}

static pid_t parent_of(struct egress *e, pid_t pid) {
        struct pid_fds *c = pid_fds(e, pid);
        char buf[512];
        ssize_t n = -1;

        for (int attempt = 0; attempt < 2 && n < 0; attempt++) {
                int fd;

                if (c && attempt > 0)
                        c->stat_fd = safe_close(c->stat_fd);
                fd = proc_open(pid, "stat", 0, c ? &c->stat_fd : NULL);
                if (fd < 0)
                        return 0;
                n = pread(fd, buf, sizeof buf - 1, 0);
                if (!c) {
                        close(fd);
                        break;
                }
        }
        if (n <= 0)
                return 0;
        buf[n] = 0;
        return stat_ppid(buf);
}

static bool read_exe(pid_t pid, char out[4096]) {
        char path[64];
        bool ok;
        DIR *d;
        struct dirent *de;

        (void) snprintf(path, sizeof path, "/proc/%d/exe", (int) pid);
        if (read_exe_at(AT_FDCWD, path, out))
                return true;
        /* Its main thread has exited: another thread's view of the same executable. */
        (void) snprintf(path, sizeof path, "/proc/%d/task", (int) pid);
        d = opendir(path);
        if (!d)
                return false;
        ok = false;
        while (!ok && (de = readdir(d))) {
                long tid = strtol(de->d_name, NULL, 10);

                if (tid <= 0 || tid == pid)
                        continue;
                (void) snprintf(path, sizeof path, "/proc/%d/task/%ld/exe", (int) pid, tid);
                ok = read_exe_at(AT_FDCWD, path, out);
        }
        closedir(d);
        return ok;
}

void identity_holders(struct egress *e, struct identity_query *q, size_t n) {
        size_t live = 0;

        for (size_t i = 0; i < n; i++) {
                q[i].n_holders = 0;
                q[i].ino = 0;
                q[i].r = diag_inode(e, q[i].family, (const struct sockaddr *) &q[i].client,
                                    q[i].dst, q[i].dport, &q[i].ino);
                if (q[i].r == -ESRCH) {
                        struct sockaddr_storage orig = q[i].client;
                        uint16_t port;

                        /* Not found by the port the relay sees: NAT may have changed it. */
                        if (ct_orig_port(e, &q[i], &port) == 0) {
                                if (q[i].family == AF_INET)
                                        ((struct sockaddr_in *) &orig)->sin_port = port;
                                else
                                        ((struct sockaddr_in6 *) &orig)->sin6_port = port;
                                q[i].r = diag_inode(e, q[i].family, (const struct sockaddr *) &orig,
                                                    q[i].dst, q[i].dport, &q[i].ino);
                        }
                }
                live += q[i].r == 0;
        }
        if (live == 0)
                return;
        if (!e->id_pids) {
                e->id_pids = malloc(IDENTITY_MAX_PIDS * sizeof *e->id_pids);
                if (!e->id_pids) {
                        for (size_t i = 0; i < n; i++)
                                q[i].r = q[i].r ?: -ENOMEM;
                        return;
                }
        }
        e->n_id_pids = sandbox_pids(e, e->id_pids, IDENTITY_MAX_PIDS);
        pid_fds_prune(e);
        /* Every holder, not the first found: a socket fd is shared by fork (inherited fds)
         * and by SCM_RIGHTS, so an agent can make an allowed binary (curl) hold the very
         * socket its own python connects and sends on. Stopping at the first holder (or
         * trying the last owner first) let the lookup land on curl. The caller requires
         * every holder to be allowed. caisson's own init is left out: nothing of the
         * agent's can reach its fd table. It receives fds only from the supervisor, over
         * a socket the agent has no end of, and the ways to put one into another process
         * (ptrace, process_vm_writev, /proc/PID/mem) all need access to it, which a
         * non-dumpable init denies to an agent without capabilities even where a policy
         * allows those syscalls. Its five fds were 40 % of a walk's cost (32 -> 19.5 µs
         * for one client process). One walk serves every connection accepted in the same
         * batch: each was connected before the walk began. */
        for (size_t i = 0; i < e->n_id_pids; i++)
                if (e->id_pids[i] != e->cfg.init_pid)
                        pid_sockets(e, e->id_pids[i], q, n);
        /* No holder: the client exited (or hid the fd in flight) before the scan. Never
         * guess: the caller denies. */
        for (size_t i = 0; i < n; i++)
                if (q[i].r == 0 && q[i].n_holders == 0)
                        q[i].r = -ESRCH;
}

int identity_of(struct egress *e, pid_t owner, struct identity *ret) {
        ret->pid = owner;
        ret->n_chain = 0;
        ret->sha256[0] = 0;
        ret->hash_job = 0;
        if (!read_exe(owner, ret->paths[0]))
                return -ESRCH;
        ret->chain[ret->n_chain++] = ret->paths[0];
        hasher_lookup(e, owner, ret->sha256, &ret->hash_job);
        /* Ancestors inside the sandbox, nearest first, up to (not including) its init: the
         * init is caisson's own, not something the policy names. */
        for (pid_t p = parent_of(e, owner); p > 1 && ret->n_chain < IDENTITY_MAX_ANCESTORS;
             p = parent_of(e, p)) {
                bool inside = false;

                if (p == e->cfg.init_pid)
                        break;
                for (size_t i = 0; i < e->n_id_pids && !inside; i++)
                        inside = e->id_pids[i] == p;
                if (!inside)
                        break;
                if (read_exe(p, ret->paths[ret->n_chain]))
                        ret->chain[ret->n_chain] = ret->paths[ret->n_chain], ret->n_chain++;
        }
        return 0;
}
