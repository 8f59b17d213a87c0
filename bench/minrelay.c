/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The reference floor for bench/egress.sh: the least a relay behind an nft redirect does —
 * accept, SO_ORIGINAL_DST, connect upstream from another netns, splice both ways, half-close
 * — with no identification, no policy, no name check and no events. What caisson's relay costs
 * beyond this is caisson's; what this costs is any such relay's on this machine.
 *
 * Usage: minrelay NETNS_PATH PORT — listens on 127.0.0.1:PORT inside NETNS_PATH (where the
 * bench's nft rule redirects every TCP connection), connects upstream from its own netns.
 * Prints "ready" once listening. Runs until killed. cc -O2. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
        int a, b;               /* client, upstream */
        int c2u[2], u2c[2];
        size_t fill[2];         /* bytes in c2u, u2c */
        int eof;                /* 1: client EOF read, 2: upstream EOF read */
        int done;               /* 1: client EOF passed on, 2: upstream EOF passed on; -1 closed */
        struct conn *next_dead;
};

static void conn_free(struct conn *c) {
        close(c->a), close(c->b);
        close(c->c2u[0]), close(c->c2u[1]), close(c->u2c[0]), close(c->u2c[1]);
        free(c);
}

/* One direction: src → pipe → dst. The EOF is passed on (shutdown) only once the pipe is
 * empty: a FIN sent ahead of bytes still in the pipe cut the stream short, and the next
 * splice into the shut socket raised SIGPIPE. */
static void move(int src, int p[2], size_t *fill, int dst, int *eof, int *done, int bit) {
        for (;;) {
                ssize_t in = 0, out = 0;

                if (!(*eof & bit)) {
                        in = splice(src, NULL, p[1], NULL, 65536, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
                        if (in > 0)
                                *fill += (size_t) in;
                        else if (in == 0)
                                *eof |= bit;
                }
                if (*fill > 0) {
                        out = splice(p[0], NULL, dst, NULL, *fill, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
                        if (out > 0)
                                *fill -= (size_t) out;
                }
                if ((*eof & bit) && *fill == 0 && !(*done & bit)) {
                        shutdown(dst, SHUT_WR);
                        *done |= bit;
                }
                if (in <= 0 && out <= 0)
                        return;
        }
}

int main(int argc, char **argv) {
        struct sockaddr_in la = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        int self, ns, l, ep, one = 1;

        if (argc != 3) {
                fprintf(stderr, "usage: minrelay NETNS_PATH PORT\n");
                return 2;
        }
        la.sin_port = htons((uint16_t) atoi(argv[2]));
        signal(SIGPIPE, SIG_IGN); /* a peer gone mid-stream is an error for that connection only */
        self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        ns = open(argv[1], O_RDONLY | O_CLOEXEC);
        if (self < 0 || ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
                perror("minrelay: netns");
                return 1;
        }
        l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (l < 0 || bind(l, (struct sockaddr *) &la, sizeof la) < 0 || listen(l, 4096) < 0 ||
            setns(self, CLONE_NEWNET) < 0) {
                perror("minrelay: listen");
                return 1;
        }
        ep = epoll_create1(EPOLL_CLOEXEC);
        epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
        printf("ready\n");
        fflush(stdout);
        for (;;) {
                struct epoll_event evs[64];
                struct conn *dead = NULL;
                int n = epoll_wait(ep, evs, 64, -1);

                for (int i = 0; i < n; i++) {
                        struct conn *c = evs[i].data.ptr;
                        int fd;

                        if (!c) {
                                while ((fd = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                                        struct sockaddr_in od;
                                        socklen_t ol = sizeof od;
                                        struct epoll_event e2 = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };

                                        c = calloc(1, sizeof *c);
                                        if (!c || getsockopt(fd, SOL_IP, 80 /* SO_ORIGINAL_DST */, &od, &ol) < 0) {
                                                close(fd);
                                                free(c);
                                                continue;
                                        }
                                        c->a = fd;
                                        c->b = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                                        connect(c->b, (struct sockaddr *) &od, sizeof od);
                                        pipe2(c->c2u, O_NONBLOCK | O_CLOEXEC);
                                        pipe2(c->u2c, O_NONBLOCK | O_CLOEXEC);
                                        e2.data.ptr = c;
                                        epoll_ctl(ep, EPOLL_CTL_ADD, c->a, &e2);
                                        epoll_ctl(ep, EPOLL_CTL_ADD, c->b, &e2);
                                }
                                continue;
                        }
                        if (c->done < 0)
                                continue;       /* closed earlier in this batch */
                        move(c->a, c->c2u, &c->fill[0], c->b, &c->eof, &c->done, 1);
                        move(c->b, c->u2c, &c->fill[1], c->a, &c->eof, &c->done, 2);
                        /* Both ends closed their side, or one broke: done, freed after the
                         * batch (a later event of the batch may name it). */
                        if (c->done == 3 || (evs[i].events & EPOLLERR)) {
                                epoll_ctl(ep, EPOLL_CTL_DEL, c->a, NULL);
                                epoll_ctl(ep, EPOLL_CTL_DEL, c->b, NULL);
                                c->done = -1;
                                c->next_dead = dead;
                                dead = c;
                        }
                }
                while (dead) {
                        struct conn *c = dead;

                        dead = c->next_dead;
                        conn_free(c);
                }
        }
}
