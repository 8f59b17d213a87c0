/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who opened a relayed connection: sock_diag in the sandbox's netns gives the client socket's
 * inode for the exact 4-tuple; the process holding "socket:[INODE]" among the sandbox's pids
 * (its cgroup's cgroup.procs, else every process in the sandbox's netns) owns it; its
 * /proc/PID/exe gives the path and, hashed by the kernel's AF_ALG sha256, the content; its
 * parents up to the sandbox's init give the ancestors the policy's binaries globs also see.
 * The evidence is "observed" (read by the supervisor), never "claimed" by the agent. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "egress/egress-internal.h"
#include "macro.h"

#define IDENTITY_MAX_PIDS 65536
#define IDENTITY_MAX_ANCESTORS 15
#define IDENTITY_HASH_MAX_BYTES (512ULL << 20)

/* The client socket's inode, by exact lookup of (client addr:port → dst:dport). */
static int diag_inode(struct egress *e, int family, const struct sockaddr *client,
                      const uint8_t *dst, uint16_t dport, ino_t *ret) {
        struct {
                struct nlmsghdr nlh;
                struct inet_diag_req_v2 r;
        } req = {
                .nlh = { .nlmsg_len = sizeof req, .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                         .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
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
        /* Drain anything stale, then ask: netlink answers within sendmsg(). */
        while (recv(e->diag_fd, &buf, sizeof buf, MSG_DONTWAIT) > 0)
                ;
        if (send(e->diag_fd, &req, sizeof req, 0) < 0)
                return -errno;
        n = recv(e->diag_fd, &buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0)
                return -errno;
        for (struct nlmsghdr *h = &buf.h; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                const struct inet_diag_msg *m;

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

/* The sandbox's pids (host pid namespace). */
static size_t sandbox_pids(struct egress *e, pid_t *pids, size_t max) {
        size_t n = 0;

        if (e->cfg.cgroup_fd >= 0) {
                int fd = openat(e->cfg.cgroup_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
                FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
                long v;

                if (f) {
                        while (n < max && fscanf(f, "%ld", &v) == 1)
                                if (v > 0)
                                        pids[n++] = (pid_t) v;
                        fclose(f);
                        return n;
                }
                safe_close(fd);
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

static bool pid_has_socket(pid_t pid, const char *want) {
        char path[64], link[64];
        DIR *d;
        struct dirent *de;
        bool found = false;

        (void) snprintf(path, sizeof path, "/proc/%d/fd", (int) pid);
        d = opendir(path);
        if (!d)
                return false;
        while (!found && (de = readdir(d))) {
                ssize_t n;

                if (de->d_name[0] == '.')
                        continue;
                n = readlinkat(dirfd(d), de->d_name, link, sizeof link - 1);
                if (n <= 0)
                        continue;
                link[n] = 0;
                found = streq(link, want);
        }
        closedir(d);
        return found;
}

static pid_t parent_of(pid_t pid) {
        char path[64], buf[512];
        int fd;
        ssize_t n;
        char *rp;
        int ppid = 0;

        (void) snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        /* comm may hold spaces and ')': the fields start after the last ')'. */
        rp = strrchr(buf, ')');
        if (!rp || sscanf(rp + 1, " %*c %d", &ppid) != 1)
                return 0;
        return (pid_t) ppid;
}

static void hash_exe(struct egress *e, pid_t pid, char hex[65]) {
        char path[64];
        struct stat st;
        int fd;
        uint8_t md[32];
        struct exe_hash *h;

        hex[0] = 0;
        if (!sha256_engine_name(&e->sha))
                return;
        (void) snprintf(path, sizeof path, "/proc/%d/exe", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
            (unsigned long long) st.st_size > IDENTITY_HASH_MAX_BYTES)
                goto out;
        /* Cached by (dev, ino, mtime): a binary rewritten in place gets a new mtime. */
        for (size_t i = 0; i < ELEMENTSOF(e->hashes); i++) {
                h = &e->hashes[i];
                if (h->hex[0] && h->dev == st.st_dev && h->ino == st.st_ino &&
                    h->mtime_sec == st.st_mtim.tv_sec && h->mtime_nsec == st.st_mtim.tv_nsec) {
                        memcpy(hex, h->hex, 65);
                        goto out;
                }
        }
        if (sha256_fd(&e->sha, fd, (uint64_t) st.st_size, md) < 0)
                goto out;
        for (size_t i = 0; i < 32; i++)
                (void) snprintf(hex + 2 * i, 3, "%02x", md[i]);
        h = &e->hashes[e->next_hash++ % ELEMENTSOF(e->hashes)];
        *h = (struct exe_hash) { .dev = st.st_dev, .ino = st.st_ino,
                                 .mtime_sec = st.st_mtim.tv_sec,
                                 .mtime_nsec = st.st_mtim.tv_nsec };
        memcpy(h->hex, hex, 65);
out:
        safe_close(fd);
}

static bool read_exe(pid_t pid, char out[4096]) {
        char path[64];
        ssize_t n;

        (void) snprintf(path, sizeof path, "/proc/%d/exe", (int) pid);
        n = readlink(path, out, 4095);
        if (n <= 0)
                return false;
        out[n] = 0;
        /* A deleted binary reads "PATH (deleted)": that is not the file at PATH, so it
         * must not match a glob for PATH. */
        return !(n > 10 && streq(out + n - 10, " (deleted)"));
}

int identity_holders(struct egress *e, int family, const struct sockaddr *client,
                     const uint8_t *dst, uint16_t dport, pid_t *holders, size_t max,
                     size_t *n_ret) {
        char want[64];
        ino_t ino;
        size_t n = 0;
        int r;

        *n_ret = 0;
        r = diag_inode(e, family, client, dst, dport, &ino);
        if (r < 0)
                return r;
        (void) snprintf(want, sizeof want, "socket:[%lu]", (unsigned long) ino);
        if (!e->id_pids) {
                e->id_pids = malloc(IDENTITY_MAX_PIDS * sizeof *e->id_pids);
                if (!e->id_pids)
                        return -ENOMEM;
        }
        e->n_id_pids = sandbox_pids(e, e->id_pids, IDENTITY_MAX_PIDS);
        /* Every holder, not the first found: a socket fd is shared by fork (inherited fds)
         * and by SCM_RIGHTS, so an agent can make an allowed binary (curl) hold the very
         * socket its own python connects and sends on. Stopping at the first holder (or
         * trying the last owner first) let the lookup land on curl. The caller requires
         * every holder to be allowed. caisson's own init is a holder like any other: it
         * holds no relayed socket of its own. */
        for (size_t i = 0; i < e->n_id_pids; i++)
                if (pid_has_socket(e->id_pids[i], want)) {
                        if (n == max)
                                return -E2BIG;
                        holders[n++] = e->id_pids[i];
                }
        /* No holder: the client exited (or hid the fd in flight) before the scan. Never
         * guess: the caller denies. */
        if (n == 0)
                return -ESRCH;
        *n_ret = n;
        return 0;
}

int identity_of(struct egress *e, pid_t owner, struct identity *ret) {
        ret->pid = owner;
        ret->n_chain = 0;
        ret->sha256[0] = 0;
        if (!read_exe(owner, ret->paths[0]))
                return -ESRCH;
        ret->chain[ret->n_chain++] = ret->paths[0];
        hash_exe(e, owner, ret->sha256);
        /* Ancestors inside the sandbox, nearest first, up to (not including) its init: the
         * init is caisson's own, not something the policy names. */
        for (pid_t p = parent_of(owner); p > 1 && ret->n_chain < IDENTITY_MAX_ANCESTORS;
             p = parent_of(p)) {
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
